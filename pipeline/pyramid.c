/* Pyramid sizes, line by line the authors' adjust_scales2image and
 * create_reals_pyramid (SinGAN functions.py), including numpy's
 * uint(ceil(shape * scale)) rounding. */
#include "segq_pyramid.h"
#include "segq_error.h"

#include <math.h>
#include <stdio.h>

static int imax(int a, int b)
{
    return a > b ? a : b;
}
static int imin(int a, int b)
{
    return a < b ? a : b;
}

int segq_pyramid_plan(int height, int width, int min_size, int max_size, double scale_factor,
                      segq_pyramid_t *out, char *err, size_t errlen)
{
    if (height <= 0 || width <= 0 || min_size <= 0 || max_size <= 0 || !(scale_factor > 0.0)
        || !(scale_factor < 1.0)) {
        snprintf(err, errlen,
                 "pyramid: need a positive image size, min_size > 0, max_size > 0 and "
                 "0 < scale_factor < 1 (got %dx%d, min_size %d, max_size %d, scale_factor %g)",
                 width, height, min_size, max_size, scale_factor);
        return SEGQ_EINVAL;
    }
    int big = imax(height, width), small = imin(height, width);
    out->num_scales = (int)ceil(log(pow((double)min_size / small, 1)) / log(scale_factor)) + 1;
    int scale2stop = (int)ceil(log((double)imin(max_size, big) / big) / log(scale_factor));
    out->stop_scale = out->num_scales - scale2stop;
    out->scale1 = fmin((double)max_size / big, 1.0);
    out->height = (int)ceil((double)height * out->scale1);
    out->width = (int)ceil((double)width * out->scale1);
    if ((imin(out->height, out->width) <= min_size || out->stop_scale < 1) && out->scale1 >= 1.0) {
        /* not resized: no --max-size helps, only a larger image */
        snprintf(err, errlen,
                 "pyramid: a %dx%d image is not larger than min_size %d, so there is no scale "
                 "to train; give a larger image, or a --min-size below its shorter side",
                 width, height, min_size);
        return SEGQ_EINVAL;
    }
    if (imin(out->height, out->width) <= min_size || out->stop_scale < 1) {
        snprintf(err, errlen,
                 "pyramid: a %dx%d image resized to %dx%d (max_size %d) is not larger than "
                 "min_size %d, so there is no scale to train; lower --min-size or raise "
                 "--max-size",
                 width, height, out->width, out->height, max_size, min_size);
        return SEGQ_EINVAL;
    }
    if (out->stop_scale + 1 > SEGQ_PYRAMID_MAX_SCALES) {
        snprintf(err, errlen, "pyramid: %d scales needed, at most %d supported; raise --min-size",
                 out->stop_scale + 1, SEGQ_PYRAMID_MAX_SCALES);
        return SEGQ_EINVAL;
    }
    out->r = pow((double)min_size / imin(out->height, out->width), 1.0 / out->stop_scale);
    for (int n = 0; n <= out->stop_scale; n++) {
        double s = pow(out->r, out->stop_scale - n);
        out->h[n] = (int)ceil((double)out->height * s);
        out->w[n] = (int)ceil((double)out->width * s);
    }
    return 0;
}

int segq_pyramid_upsized(int n, double r)
{
    return (int)ceil((double)n * (1.0 / r));
}
