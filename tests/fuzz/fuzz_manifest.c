/* libFuzzer target: the manifest.csv reader (stylize_manifest.h) on
 * arbitrary bytes. A generated set's manifest comes from a user's folder
 * (evaluate's --synthetic, stylize's --content), so it is outside input.
 * Beyond not crashing: a refusal says why in a terminated message naming
 * the file and leaves nothing behind; an accepted manifest answers for its
 * `name` column, and reading the same bytes again gives the same rows. */
#include "stylize_manifest.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* The manifest of data[0..size) into *m: 0, or the reader's error (err
 * filled); 1 when no stream could be made of the bytes. */
static int parse(const uint8_t *data, size_t size, segq_manifest_t **m, char *err, size_t len)
{
    FILE *f = fmemopen((void *)data, size, "rb");
    if (!f)
        return 1;
    int rc = segq_manifest_parse(f, "fuzz", m, err, len);
    fclose(f);
    return rc;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size == 0)
        return 0; /* fmemopen refuses an empty buffer */
    char err[1024];
    memset(err, 'x', sizeof err);
    segq_manifest_t *m = NULL, *again = NULL;
    int rc = parse(data, size, &m, err, sizeof err);
    if (rc == 1)
        return 0;
    if (rc != 0) {
        if (m || rc > 0 || !memchr(err, 0, sizeof err) || !strstr(err, "fuzz"))
            abort();
        return 0;
    }
    if (!m || parse(data, size, &again, err, sizeof err) != 0
        || segq_manifest_rows(again) != segq_manifest_rows(m))
        abort();
    segq_manifest_destroy(&again);
    segq_manifest_destroy(&m);
    if (m)
        abort();
    return 0;
}
