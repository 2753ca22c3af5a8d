/* Between images on disk and [-1, 1] 4-channel tensors. */
#include "pair_writer.h"
#include "singan_internal.h"

#include <stdio.h>
#include <stdlib.h>

segqt_tensor *segq__pair_planes(segqt_tensor *x)
{
    /* [-1, 1] -> [0, 1]; the mask channel is thresholded at 0.5 there. */
    segqt_tensor *u = segqt_mul_scalar(segqt_add_scalar(x, 1.0), 0.5);
    segqt_tensor *parts[2] = {segqt_narrow(u, 1, 0, 3),
                              segqt_compare_scalar(segqt_narrow(u, 1, 3, 1), SEGQT_GT, 0.5)};
    return segqt_cat(parts, 2, 1);
}

int segq__write_pair(segqt_tensor *x, int64_t index, const char *image_path, const char *mask_path,
                     char *err, size_t errlen)
{
    if (segqt_scope_begin() < 0)
        return segq__torch_fail(err, errlen, "write pair");
    int64_t h = segqt_size(x, 2), w = segqt_size(x, 3);
    segqt_tensor *u = segq__pair_planes(segqt_narrow(x, 0, index, 1));
    size_t n = (size_t)h * (size_t)w;
    float *buf = malloc(sizeof(float) * 4 * n);
    int rc = 0;
    if (!buf) {
        snprintf(err, errlen, "%s: out of memory", image_path);
        rc = SEGQ_ENOMEM;
    } else if (segqt_to_floats(u, buf, 4 * n) != 0)
        rc = segq__torch_fail(err, errlen, image_path);
    segqt_scope_end();
    if (rc == 0)
        rc = segq_pair_write_png(buf, (uint32_t)w, (uint32_t)h, image_path, mask_path, err, errlen);
    free(buf);
    return rc;
}
