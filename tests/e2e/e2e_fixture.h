/*  e2e_fixture.h: a training pair the end-to-end tests draw themselves
    (no patient data): 32x28 RGB with a darker round "polyp", and its mask. */
#ifndef E2E_FIXTURE_H
#define E2E_FIXTURE_H

/* Writes both PNGs; a failure fails the test. */
void e2e_write_polyp (const char *image_path, const char *mask_path);

#endif
