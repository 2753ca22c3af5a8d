/* The tensors of a UNet++ in a file (segq_unetpp_file.h). */
#include "segq_unetpp_file.h"

#include "segq_error.h"

#include <stdio.h>

static const char *const node_names[SEGQ_UNETPP_NODE_TENSORS] = {
    "conv1.weight",     "conv1.bias",      "bn1.weight",       "bn1.bias",
    "conv2.weight",     "conv2.bias",      "bn2.weight",       "bn2.bias",
    "bn1.running_mean", "bn1.running_var", "bn2.running_mean", "bn2.running_var"};

int segq_unetpp_node_in(int width, int in_channels, int i, int j)
{
    if (j == 0)
        return i == 0 ? in_channels : width << (i - 1);
    return j * (width << i) + (width << (i + 1));
}

int segq_unetpp_node_tensor(int width, int in_channels, int i, int j, int k, char *name, size_t len,
                            int64_t shape[4])
{
    int64_t out = (int64_t)width << i;
    snprintf(name, len, "x%d_%d.%s", i, j, node_names[k]);
    shape[0] = out;
    if (k != SEGQ_UNETPP_CONV1_W && k != SEGQ_UNETPP_CONV2_W)
        return 1;
    shape[1] = k == SEGQ_UNETPP_CONV1_W ? segq_unetpp_node_in(width, in_channels, i, j) : out;
    shape[2] = shape[3] = 3;
    return 4;
}

/* Whether t is a float32 tensor of this shape. */
static int same_shape(const segq_st_tensor_t *t, const int64_t *shape, int ndim)
{
    int ok = t && t->dtype == SEGQ_ST_F32 && (int)t->ndim == ndim;
    for (int d = 0; ok && d < ndim; d++)
        ok = t->shape[d] == shape[d];
    return ok;
}

int segq_unetpp_file_check_encoder(const segq_st_t *st, const char *path, const char *what,
                                   int depth, int width, int in_channels, char *err, size_t errlen)
{
    for (int i = 0; i <= depth; i++)
        for (int k = 0; k < SEGQ_UNETPP_NODE_TENSORS; k++) {
            char name[48];
            int64_t shape[4];
            int ndim =
                segq_unetpp_node_tensor(width, in_channels, i, 0, k, name, sizeof name, shape);
            const segq_st_tensor_t *t = segq_st_find(st, name);
            if (!same_shape(t, shape, ndim))
                return segq_fail(err, errlen, SEGQ_EINVAL,
                                 "%s %s: %s tensor '%s' (expected float32 of the encoder "
                                 "of a UNet++ of depth %d, width %d)",
                                 what, path, t ? "wrong dtype or shape of" : "no", name, depth,
                                 width);
        }
    return 0;
}
