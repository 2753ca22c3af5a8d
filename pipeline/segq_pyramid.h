/* segq_pyramid: the SinGAN image pyramid's sizes (SINGAN-SEG.md section 1),
 * computed with the same double arithmetic as the authors' Python so the
 * sizes agree to the pixel (their ceil of 25.000000001 gives 26, and so
 * does ours). Pure C, no libtorch. */
#ifndef SEGQ_PYRAMID_H
#define SEGQ_PYRAMID_H

#include <stddef.h>

#ifdef __cplusplus
extern "C" {
#endif

#define SEGQ_PYRAMID_MAX_SCALES 64

typedef struct {
    int num_scales;    /* the authors' num_scales (on the original size) */
    int stop_scale;    /* finest scale index; scales are 0..stop_scale */
    double scale1;     /* first resize factor, min(max_size / max(H, W), 1) */
    int height, width; /* image after the first resize (= finest scale) */
    double r;          /* working factor between scales */
    int h[SEGQ_PYRAMID_MAX_SCALES], w[SEGQ_PYRAMID_MAX_SCALES]; /* per scale */
} segq_pyramid_t;

/* 0, or -EINVAL-like negative code with a message in err when the input
 * is too small for min_size (no scale to train), the parameters are out of
 * range, or the pyramid would need more than SEGQ_PYRAMID_MAX_SCALES. */
int segq_pyramid_plan(int height, int width, int min_size, int max_size, double scale_factor,
                      segq_pyramid_t *out, char *err, size_t errlen);

/* Size of the upsampled `prev` before its top-left crop: ceil(n / r), as
 * the authors' imresize(x, 1 / r) computes it. */
int segq_pyramid_upsized(int n, double r);

#ifdef __cplusplus
}
#endif
#endif
