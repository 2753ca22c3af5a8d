/*  segq_generate_names: the file names a generate job writes, and what
    their list costs in the job's RESULT message. segq-run names its pairs
    with these; the worker, segq-run and the broker use the cost to refuse
    a generation whose outputs could not be reported (a RESULT lists every
    output in one message of at most max_msg bytes) before it runs, rather
    than after hours of work. */
#ifndef SEGQ_GENERATE_NAMES_H
#define SEGQ_GENERATE_NAMES_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* What one output takes in a RESULT's list: its name, its sha256 in hex
   and msgpack framing (generous); and what the rest of a RESULT may take. */
#define SEGQ_RESULT_ENTRY_BYTES(name_len) ((uint64_t) (name_len) + 64 + 32)
#define SEGQ_RESULT_SLACK                 8192

/* The worker tells segq-run the most a RESULT may take (the broker's
   max_msg) in this variable; segq-run run by hand has no limit. */
#define SEGQ_RESULT_MAX_BYTES_ENV "SEGQ_RESULT_MAX_BYTES"

/* A source image's name without its extension, made safe for a file
   name ("source" when nothing is left), and cut to SEGQ_GENERATE_STEM_MAX
   characters: a pair's name adds at most some 50 to it and must stay a
   file name (255 bytes; a longer image name made every pair unwritable). */
#define SEGQ_GENERATE_STEM_MAX 120
void segq_generate_stem (const char *image_name, char *out, size_t len);

/* Pair i's file name, without folder and extension:
   STEM_HEX8_sSEED_IIIII, HEX8 the model's sha256's first 8 digits. */
void segq_generate_pair_name (const char *stem, const char *model_hex, int64_t seed, int64_t i,
                              char *name, size_t len);

/* The bytes the outputs of a generation of count pairs (images/NAME.png,
   masks/NAME.png, the manifest and the contact sheet) take in a RESULT,
   reckoned so that a stylize of it (the same pairs and a few files of its
   own) fits too. */
uint64_t segq_generate_list_bytes (size_t stem_len, int64_t seed, int64_t count);

/* 0 when a generation of count pairs can report its outputs in a RESULT
   of at most max_msg bytes; else SEGQ_ETOOBIG with a message giving the
   most pairs that fit and what to do. */
int segq_generate_check_count (size_t stem_len, int64_t seed, int64_t count, uint64_t max_msg,
                               char *err, size_t errlen);

#ifdef __cplusplus
}
#endif
#endif
