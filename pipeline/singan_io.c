/* Between images on disk and [-1, 1] 4-channel tensors. */
#include "segq_image.h"
#include "singan_internal.h"

#include <stdio.h>
#include <stdlib.h>

int segq__write_pair(segqt_tensor *x, int64_t index, const char *image_path,
                     const char *mask_path, char *err, size_t errlen)
{
    if (segqt_scope_begin() < 0)
        return segq__torch_fail(err, errlen, "write pair");
    int64_t h = segqt_size(x, 2), w = segqt_size(x, 3);
    /* [-1, 1] -> [0, 1]; the mask channel is thresholded at 0.5 there. */
    segqt_tensor *one = segqt_narrow(x, 0, index, 1);
    segqt_tensor *u = segqt_mul_scalar(segqt_add_scalar(one, 1.0), 0.5);
    segqt_tensor *rgb = segqt_narrow(u, 1, 0, 3);
    segqt_tensor *mask = segqt_compare_scalar(segqt_narrow(u, 1, 3, 1), SEGQT_GT, 0.5);
    size_t n = (size_t)h * (size_t)w;
    float *buf = malloc(sizeof(float) * 4 * n);
    int rc = 0;
    if (!buf) {
        snprintf(err, errlen, "%s: out of memory", image_path);
        rc = SEGQ_ENOMEM;
    } else if (segqt_to_floats(rgb, buf, 3 * n) != 0 || segqt_to_floats(mask, buf + 3 * n, n) != 0)
        rc = segq__torch_fail(err, errlen, image_path);
    segqt_scope_end();
    segq_image_t *img = NULL, *m = NULL;
    if (rc == 0)
        rc = segq_image_from_float_chw(buf, (uint32_t)w, (uint32_t)h, 3, &img, err, errlen);
    if (rc == 0)
        rc = segq_image_write_png(img, image_path, err, errlen);
    if (rc == 0)
        rc = segq_image_from_float_chw(buf + 3 * n, (uint32_t)w, (uint32_t)h, 1, &m, err, errlen);
    if (rc == 0)
        rc = segq_image_write_png(m, mask_path, err, errlen);
    segq_image_destroy(&img);
    segq_image_destroy(&m);
    free(buf);
    return rc;
}
