/*  segq_generate_names: generate's file names and their cost in RESULT. */
#include "segq_generate_names.h"
#include "segq_error.h"

#include <inttypes.h>
#include <stdio.h>
#include <string.h>

void
segq_generate_stem (const char *image_name, char *out, size_t len)
{
    const char *dot = strrchr (image_name, '.');
    size_t n = dot && dot != image_name ? (size_t) (dot - image_name) : strlen (image_name);
    if (n > SEGQ_GENERATE_STEM_MAX)
        n = SEGQ_GENERATE_STEM_MAX;
    size_t i = 0;
    for (; i < n && i + 1 < len; i++) {
        char c = image_name [i];
        int ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9')
                 || c == '-' || c == '_' || c == '.';
        out [i] = ok ? c : '_';
    }
    out [i] = '\0';
    if (!out [0])
        snprintf (out, len, "source");
}

#define S_INDEX_DIGITS 5 /* pair indexes are written %05 */

void
segq_generate_pair_name (const char *stem, const char *model_hex, int64_t seed, int64_t i,
                         char *name, size_t len)
{
    snprintf (name, len, "%s_%.8s_s%" PRId64 "_%0*" PRId64, stem, model_hex, seed, S_INDEX_DIGITS,
              i);
}

static unsigned
s_digits (int64_t v)
{
    unsigned d = v < 0 ? 2 : 1;
    for (; v >= 10 || v <= -10; v /= 10)
        d++;
    return d;
}

/* The characters of the indexes 0..count-1 as pair names write them. */
static uint64_t
s_index_chars (int64_t count)
{
    uint64_t sum = 0;
    int64_t from = 0, below = 100000; /* indexes of S_INDEX_DIGITS digits */
    for (unsigned digits = S_INDEX_DIGITS; from < count; digits++) {
        int64_t to = count < below ? count : below;
        sum += (uint64_t) (to - from) * digits;
        from = to;
        below = below > INT64_MAX / 10 ? INT64_MAX : below * 10;
    }
    return sum;
}

uint64_t
segq_generate_list_bytes (size_t stem_len, int64_t seed, int64_t count)
{
    if (count <= 0)
        return 0;
    /* STEM _ HEX8 _s SEED _ (the index apart) */
    uint64_t fixed = stem_len + 1 + 8 + 2 + s_digits (seed) + 1;
    /* "images/" NAME ".png" and "masks/" NAME ".png" */
    uint64_t per_pair = SEGQ_RESULT_ENTRY_BYTES (fixed + 11) + SEGQ_RESULT_ENTRY_BYTES (fixed + 10);
    /* manifest.csv and contact_sheet.png, and room for a stylize of the
       generation, which lists the same pairs and five files of its own */
    uint64_t others = 8 * SEGQ_RESULT_ENTRY_BYTES (32);
    return (uint64_t) count * per_pair + 2 * s_index_chars (count) + others;
}

int
segq_generate_check_count (size_t stem_len, int64_t seed, int64_t count, uint64_t max_msg,
                           char *err, size_t errlen)
{
    uint64_t room = max_msg > SEGQ_RESULT_SLACK ? max_msg - SEGQ_RESULT_SLACK : 0;
    uint64_t bytes = segq_generate_list_bytes (stem_len, seed, count);
    if (bytes <= room)
        return SEGQ_OK;
    int64_t fits = 0, above = count; /* fits fits, above does not */
    while (above - fits > 1) {
        int64_t mid = fits + (above - fits) / 2;
        if (segq_generate_list_bytes (stem_len, seed, mid) <= room)
            fits = mid;
        else
            above = mid;
    }
    return segq_fail (err, errlen, SEGQ_ETOOBIG,
                      "count %" PRId64 ": the list of its %" PRId64 " outputs would take %" PRIu64
                      " bytes of the job's RESULT message, which may take %" PRIu64
                      " (the broker's max_msg): at most %" PRId64
                      " pairs per generate job of this model; submit several jobs (each draws "
                      "its own seed) or raise max_msg",
                      count, 2 * count + 2, bytes + SEGQ_RESULT_SLACK, max_msg, fits);
}
