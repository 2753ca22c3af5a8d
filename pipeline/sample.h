/* sample: procedural endoscopy-like images with a polyp-like blob and its
 * mask, so demos and tests need no patient data (the repository ships
 * none). Plain C over segq_image: no libtorch.
 *
 * The picture: pink/red mucosa with a fractal texture and folds, dark
 * branching vessels, a dome-shaded polyp with a shadowed rim, specular
 * highlights, vignetting and a little sensor noise. The mask is exactly the
 * blob: pixel (x, y) is 255 when its centre (x + 0.5, y + 0.5) lies inside
 *
 *     d <= radius * (1 + sum_k amp[k] * cos((k + 2) * theta + phase[k]))
 *
 * with d and theta the polar coordinates of the centre around (cx, cy)
 * (theta = atan2(y - cy, x - cx)), and 0 elsewhere. The same seed and size
 * give the same bytes. */
#ifndef SEGQ_SAMPLE_H
#define SEGQ_SAMPLE_H

#include "segq_image.h"
#include "segq_run_flags.h"

#include <stddef.h>
#include <stdint.h>

#define SEGQ_SAMPLE_HARMONICS 4
#define SEGQ_SAMPLE_MIN_SIDE 32
#define SEGQ_SAMPLE_MAX_SIDE 4096

typedef struct {
    double cx, cy, radius;
    double amp[SEGQ_SAMPLE_HARMONICS], phase[SEGQ_SAMPLE_HARMONICS];
} segq_sample_blob_t;

/* 1 when the point lies inside the blob (the formula above). */
int segq_sample_blob_contains(const segq_sample_blob_t *blob, double x, double y);

/* Draws one sample: *image (RGB, 8-bit) and *mask (1 channel, 0/255), both
 * width x height, owned by the caller; *blob (may be NULL) gets the blob's
 * shape. Sides in [SEGQ_SAMPLE_MIN_SIDE, SEGQ_SAMPLE_MAX_SIDE]. */
int segq_sample_draw(uint64_t seed, uint32_t width, uint32_t height, segq_image_t **image,
                     segq_image_t **mask, segq_sample_blob_t *blob, char *err, size_t errlen);

/* "WxH" -> sides, with the limits above; a message naming the text. */
int segq_sample_parse_size(const char *text, uint32_t *width, uint32_t *height, char *err,
                           size_t errlen);

typedef struct {
    char *out, *size;
    int64_t seed, count;
} segq_sample_opts_t;

/* segq-run sample's flags (segq_run_flags.h parses them). */
extern const segq_command_t segq_sample_command;

/* count 1: OUT/image.png + OUT/mask.png from `seed`. count N > 1: a
 * Kvasir-SEG layout dataset, OUT/images/sample-I.png + OUT/masks/sample-I.png
 * for I = 0 .. N-1, sample I drawn from seed + I. */
int segq_sample_run(const segq_sample_opts_t *o, char *err, size_t errlen);

#endif
