/* VGG19 features up to conv5_1 and the style transfer losses. */
#include "vgg19.h"

#include "segq_safetensors.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* torchvision vgg19().features: index of each conv up to conv5_1 and its
 * channels. A 2x2 max pool follows the convs marked pool_after; the tap
 * (post-ReLU activation used by the losses) is the ReLU of tap convs. */
static const struct {
    int index, in, out, pool_after, tap;
} layers[SEGQ_VGG19_CONVS] = {
    {0, 3, 64, 0, 1},     {2, 64, 64, 1, 0},                          /* block 1 */
    {5, 64, 128, 0, 1},   {7, 128, 128, 1, 0},                        /* block 2 */
    {10, 128, 256, 0, 1}, {12, 256, 256, 0, 0}, {14, 256, 256, 0, 0}, /* block 3 */
    {16, 256, 256, 1, 0},
    {19, 256, 512, 0, 1}, {21, 512, 512, 0, 0}, {23, 512, 512, 0, 0}, /* block 4 */
    {25, 512, 512, 1, 0},
    {28, 512, 512, 0, 1}, /* conv5_1: the deepest layer used, so the last run */
};

const double segq_vgg19_style_weights[SEGQ_VGG19_TAPS] = {0.75, 0.5, 0.25, 0.25, 0.25};

struct segq_vgg19_t {
    segq_tensor *w[SEGQ_VGG19_CONVS], *b[SEGQ_VGG19_CONVS];
    segq_tensor *mean, *std; /* 1 x 3 x 1 x 1 */
};

void segq_vgg19_destroy(segq_vgg19_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    segq_vgg19_t *self = *self_p;
    for (int i = 0; i < SEGQ_VGG19_CONVS; i++) {
        segq_tensor_destroy(&self->w[i]);
        segq_tensor_destroy(&self->b[i]);
    }
    segq_tensor_destroy(&self->mean);
    segq_tensor_destroy(&self->std);
    free(self);
    *self_p = NULL;
}

static void shape_text(const int64_t *s, size_t n, char *buf, size_t len)
{
    size_t at = 0;
    buf[0] = '\0';
    at += (size_t)snprintf(buf, len, "[");
    for (size_t i = 0; i < n && at < len; i++)
        at += (size_t)snprintf(buf + at, len - at, "%s%lld", i ? ", " : "", (long long)s[i]);
    if (at < len)
        snprintf(buf + at, len - at, "]");
}

/* One tensor of the file as a persistent float32 tensor on dev. */
static segq_tensor *load_one(const segq_st_t *st, const char *path, const char *what,
                             const char *key, const int64_t *want, size_t ndim, segq_device dev,
                             char *err, size_t errlen)
{
    const segq_st_tensor_t *t = segq_st_find(st, key);
    if (!t) {
        snprintf(err, errlen, "%s %s: missing tensor '%s' (expected torchvision's VGG19 "
                 "`features` weights, features.N.weight/bias; deploy/convert_vgg19.py makes "
                 "such a file from torchvision's .pth)", what, path, key);
        return NULL;
    }
    int ok = t->ndim == ndim;
    for (size_t i = 0; ok && i < ndim; i++)
        ok = t->shape[i] == want[i];
    if (!ok) {
        char got[128], exp[128];
        shape_text(t->shape, t->ndim, got, sizeof got);
        shape_text(want, ndim, exp, sizeof exp);
        snprintf(err, errlen, "%s %s: tensor '%s' has shape %s, VGG19 needs %s (is this a "
                 "VGG19 `features` file?)", what, path, key, got, exp);
        return NULL;
    }
    segq_dtype dt;
    const char *name = segq_st_dtype_name(t->dtype);
    if (!name || segq_dtype_from_name(name, &dt) != 0
        || (dt != SEGQ_F32 && dt != SEGQ_F16 && dt != SEGQ_BF16 && dt != SEGQ_F64)) {
        snprintf(err, errlen, "%s %s: tensor '%s' has dtype %s, expected a float type", what,
                 path, key, name ? name : "?");
        return NULL;
    }
    segq_tensor *x = segq_from_bytes(t->data, t->nbytes, dt, t->shape, (int)t->ndim, SEGQ_CPU);
    x = segq_contiguous(segq_to_device(segq_to_dtype(x, SEGQ_F32), dev));
    if (!x) {
        snprintf(err, errlen, "%s %s: tensor '%s': %s", what, path, key, segq_torch_last_error());
        return NULL;
    }
    return segq_persist(x);
}

int segq_vgg19_load(const char *path, const char *what, segq_device dev, segq_vgg19_t **out,
                    char *err, size_t errlen)
{
    *out = NULL;
    segq_st_t *st = NULL;
    char sterr[SEGQ_ST_ERRLEN];
    int rc = segq_st_open(path, &st, sterr, sizeof sterr);
    if (rc) {
        snprintf(err, errlen, "%s: cannot load the VGG19 weights: %s", what, sterr);
        return SEGQ_TORCH_EINVAL;
    }
    segq_vgg19_t *self = calloc(1, sizeof *self);
    if (!self || segq_scope_begin() < 0) {
        free(self);
        segq_st_destroy(&st);
        snprintf(err, errlen, "%s: out of memory", what);
        return SEGQ_TORCH_ENOMEM;
    }
    rc = 0;
    for (int i = 0; i < SEGQ_VGG19_CONVS && !rc; i++) {
        char key[64];
        int64_t ws[4] = {layers[i].out, layers[i].in, 3, 3}, bs[1] = {layers[i].out};
        snprintf(key, sizeof key, "features.%d.weight", layers[i].index);
        self->w[i] = load_one(st, path, what, key, ws, 4, dev, err, errlen);
        snprintf(key, sizeof key, "features.%d.bias", layers[i].index);
        if (self->w[i])
            self->b[i] = load_one(st, path, what, key, bs, 1, dev, err, errlen);
        if (!self->w[i] || !self->b[i])
            rc = SEGQ_TORCH_EINVAL;
    }
    static const float mean[3] = {0.485f, 0.456f, 0.406f}, std[3] = {0.229f, 0.224f, 0.225f};
    const int64_t s[4] = {1, 3, 1, 1};
    if (!rc) {
        self->mean = segq_persist(segq_from_floats(mean, s, 4, dev));
        self->std = segq_persist(segq_from_floats(std, s, 4, dev));
        if (!self->mean || !self->std) {
            snprintf(err, errlen, "%s: %s", what, segq_torch_last_error());
            rc = SEGQ_TORCH_ETORCH;
        }
    }
    segq_scope_end();
    segq_st_destroy(&st);
    if (rc)
        segq_vgg19_destroy(&self);
    *out = self;
    return rc;
}

int segq_vgg19_features(segq_vgg19_t *self, segq_tensor *x, int bf16,
                        segq_tensor *taps[SEGQ_VGG19_TAPS])
{
    for (int t = 0; t < SEGQ_VGG19_TAPS; t++)
        taps[t] = NULL;
    if (bf16 && segq_autocast_begin(SEGQ_DEVICE_CPU, SEGQ_BF16) != 0)
        return segq_torch_last_code();
    segq_tensor *h = segq_div(segq_sub(x, self->mean), self->std);
    int t = 0;
    for (int i = 0; i < SEGQ_VGG19_CONVS; i++) {
        h = segq_relu(segq_conv2d(h, self->w[i], self->b[i], 1, 1, 1, 1));
        if (layers[i].tap)
            taps[t++] = h;
        if (layers[i].pool_after)
            h = segq_max_pool2d(h, 2, 2, 0);
    }
    if (bf16)
        segq_autocast_end();
    /* The losses are computed in float32 whatever the convolutions used. */
    for (t = 0; t < SEGQ_VGG19_TAPS; t++) {
        taps[t] = segq_to_dtype(taps[t], SEGQ_F32);
        if (!taps[t])
            return segq_torch_last_code() < 0 ? segq_torch_last_code() : SEGQ_TORCH_ETORCH;
    }
    return 0;
}

segq_tensor *segq_gram(segq_tensor *f)
{
    int64_t b = segq_size(f, 0), c = segq_size(f, 1);
    int64_t s[3] = {b, c, -1};
    segq_tensor *m = segq_reshape(f, s, 3);
    return segq_bmm(m, segq_transpose(m, 1, 2));
}

void segq_style_targets_free(segq_style_targets_t *t)
{
    segq_tensor_destroy(&t->content);
    for (int i = 0; i < SEGQ_VGG19_TAPS; i++)
        segq_tensor_destroy(&t->gram[i]);
}

int segq_style_targets_new(segq_vgg19_t *vgg, segq_tensor *content, segq_tensor *style, int bf16,
                           segq_style_targets_t *out)
{
    memset(out, 0, sizeof *out);
    if (segq_scope_begin() < 0)
        return SEGQ_TORCH_ESCOPE;
    segq_no_grad_begin();
    segq_tensor *fc[SEGQ_VGG19_TAPS], *fs[SEGQ_VGG19_TAPS];
    int rc = segq_vgg19_features(vgg, content, bf16, fc);
    if (!rc)
        rc = segq_vgg19_features(vgg, style, bf16, fs);
    if (!rc) {
        out->content = segq_persist(segq_detach(fc[SEGQ_VGG19_TAPS - 1]));
        for (int i = 0; i < SEGQ_VGG19_TAPS; i++)
            out->gram[i] = segq_persist(segq_detach(segq_gram(fs[i])));
        rc = out->content ? 0 : SEGQ_TORCH_ETORCH;
        for (int i = 0; i < SEGQ_VGG19_TAPS; i++)
            if (!out->gram[i])
                rc = SEGQ_TORCH_ETORCH;
    }
    segq_no_grad_end();
    segq_scope_end();
    if (rc)
        segq_style_targets_free(out);
    return rc;
}

int segq_style_losses(segq_vgg19_t *vgg, segq_tensor *x, const segq_style_targets_t *t, int bf16,
                      segq_tensor **content, segq_tensor **style)
{
    *content = *style = NULL;
    segq_tensor *f[SEGQ_VGG19_TAPS];
    int rc = segq_vgg19_features(vgg, x, bf16, f);
    if (rc)
        return rc;
    static const int64_t chw[3] = {1, 2, 3}, cc[2] = {1, 2};
    segq_tensor *d = segq_sub(f[SEGQ_VGG19_TAPS - 1], t->content);
    *content = segq_mean_dims(segq_mul(d, d), chw, 3, 0);
    segq_tensor *sum = NULL;
    for (int i = 0; i < SEGQ_VGG19_TAPS; i++) {
        double chw_n = (double)segq_size(f[i], 1) * (double)segq_size(f[i], 2)
                       * (double)segq_size(f[i], 3);
        segq_tensor *g = segq_sub(segq_gram(f[i]), t->gram[i]);
        segq_tensor *l = segq_mul_scalar(segq_mean_dims(segq_mul(g, g), cc, 2, 0),
                                         segq_vgg19_style_weights[i] / chw_n);
        sum = sum ? segq_add(sum, l) : l;
    }
    *style = sum;
    if (!*content || !*style)
        return segq_torch_last_code() < 0 ? segq_torch_last_code() : SEGQ_TORCH_ETORCH;
    return 0;
}
