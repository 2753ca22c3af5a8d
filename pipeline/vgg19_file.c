/* segq_vgg19_file.h: a VGG19 weights file's tensors, checked in plain C. */
#include "segq_vgg19_file.h"

#include "segq_error.h"
#include "vgg19_layers.h"

#include <stdio.h>

static void shape_text(const int64_t *s, size_t n, char *buf, size_t len)
{
    size_t at = (size_t)snprintf(buf, len, "[");
    for (size_t i = 0; i < n && at < len; i++)
        at += (size_t)snprintf(buf + at, len - at, "%s%lld", i ? ", " : "", (long long)s[i]);
    if (at < len)
        snprintf(buf + at, len - at, "]");
}

static int is_float(segq_st_dtype_t dt)
{
    return dt == SEGQ_ST_F32 || dt == SEGQ_ST_F16 || dt == SEGQ_ST_BF16 || dt == SEGQ_ST_F64;
}

/* Tensor `key`: present, of shape want[0..ndim) and a float dtype. */
static const segq_st_tensor_t *file_tensor(const segq_st_t *st, const char *path, const char *what,
                                           const char *key, const int64_t *want, size_t ndim,
                                           char *err, size_t errlen)
{
    const segq_st_tensor_t *t = segq_st_find(st, key);
    if (!t) {
        segq_fail(err, errlen, SEGQ_EINVAL,
                  "%s %s: missing tensor '%s' (expected torchvision's VGG19 `features` weights, "
                  "features.N.weight/bias; deploy/convert_vgg19.py makes such a file from "
                  "torchvision's .pth)",
                  what, path, key);
        return NULL;
    }
    int ok = t->ndim == ndim;
    for (size_t i = 0; ok && i < ndim; i++)
        ok = t->shape[i] == want[i];
    if (!ok) {
        char got[128], exp[128];
        shape_text(t->shape, t->ndim, got, sizeof got);
        shape_text(want, ndim, exp, sizeof exp);
        segq_fail(err, errlen, SEGQ_EINVAL,
                  "%s %s: tensor '%s' has shape %s, VGG19 needs %s (is this a VGG19 `features` "
                  "file?)",
                  what, path, key, got, exp);
        return NULL;
    }
    if (!is_float(t->dtype)) {
        const char *name = segq_st_dtype_name(t->dtype);
        segq_fail(err, errlen, SEGQ_EINVAL,
                  "%s %s: tensor '%s' has dtype %s, expected a float type", what, path, key,
                  name ? name : "?");
        return NULL;
    }
    return t;
}

void segq_vgg19_file_keys(int i, char *weight, char *bias, size_t len)
{
    snprintf(weight, len, "features.%d.weight", segq_vgg19_layers[i].index);
    snprintf(bias, len, "features.%d.bias", segq_vgg19_layers[i].index);
}

int segq_vgg19_file_check(const segq_st_t *st, const char *path, const char *what, char *err,
                          size_t errlen)
{
    for (int i = 0; i < SEGQ_VGG19_CONVS; i++) {
        const segq_vgg19_layer_t *l = &segq_vgg19_layers[i];
        int64_t ws[4] = {l->out, l->in, 3, 3}, bs[1] = {l->out};
        char wkey[64], bkey[64];
        segq_vgg19_file_keys(i, wkey, bkey, sizeof wkey);
        if (!file_tensor(st, path, what, wkey, ws, 4, err, errlen)
            || !file_tensor(st, path, what, bkey, bs, 1, err, errlen))
            return SEGQ_EINVAL;
    }
    return 0;
}
