/*  test_files.h: small valid inputs for tests that submit through `segq`,
    which checks a job's local files at submit (client/cli/cli_check.h):
    a PNG that decodes, and a checkpoint whose header is that of a finished
    SinGAN-Seg model. Neither is meant to be trained on or generated from:
    the tests that use them run a stand-in segq-run. */
#ifndef SEGQ_TEST_FILES_H
#define SEGQ_TEST_FILES_H

#include <stdint.h>

/* A side x side 8-bit PNG of 1..4 channels (2 and 4: with alpha) at
   path; seed sets its pixels: the same seed, the same bytes. 0, or -1
   with a message on stderr. */
int test_write_png (const char *path, uint32_t side, int channels, unsigned seed);

/* The header of a one-scale model trained on a side x side image (every
   scale finished; no weights); seed changes its bytes. 0 or -1. */
int test_write_checkpoint (const char *path, uint32_t side, unsigned seed);
/* The same, trained on source_image (NULL: the metadata names none) with
   `trained` of its one scale finished (0: an unfinished training). */
int test_write_checkpoint_of (const char *path, uint32_t side, unsigned seed,
                              const char *source_image, int trained);

#endif
