/* libFuzzer target: the image decoders (PNG and JPEG, chosen by magic
 * bytes) on arbitrary bytes, then the conversions on whatever decodes.
 * Limits are small so a declared size cannot make the fuzzer run out of
 * memory; the checks against them are the same code as in production. */
#include "segq_image.h"

#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const segq_image_limits_t limits = {
        .max_side = 4096, .max_pixels = 1u << 20, .max_bytes = 64u << 20};
    char err[SEGQ_IMAGE_ERRLEN];
    segq_image_t *img = NULL;
    int rc = segq_image_read_mem(data, size, "fuzz", &limits, &img, err, sizeof err);
    if (rc != 0) {
        /* an error must leave no image behind, and be one that bad data
         * is documented to give (segq_image.h) */
        if (img
            || (rc != SEGQ_ECORRUPT && rc != SEGQ_EUNSUPPORTED && rc != SEGQ_ETOOBIG
                && rc != SEGQ_ENOMEM))
            abort();
        return 0;
    }
    if (!img || img->width == 0 || img->height == 0 || img->width > 4096
        || (uint64_t)img->width * img->height > (1u << 20))
        abort();
    segq_image_t *rgb = NULL, *mask = NULL, *alpha_rgb = NULL, *alpha_mask = NULL;
    if (segq_image_to_rgb(img, &rgb, err, sizeof err)
        || segq_image_to_mask(img, &mask, err, sizeof err))
        abort();
    double f = segq_image_mask_fraction(mask);
    if (f < 0.0 || f > 1.0)
        abort();
    if (img->channels == 2 || img->channels == 4) {
        if (segq_image_split_alpha(img, &alpha_rgb, &alpha_mask, err, sizeof err))
            abort();
    }
    segq_image_destroy(&alpha_rgb);
    segq_image_destroy(&alpha_mask);
    segq_image_destroy(&mask);
    segq_image_destroy(&rgb);
    segq_image_destroy(&img);
    return 0;
}
