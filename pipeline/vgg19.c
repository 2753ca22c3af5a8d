/* VGG19 features up to conv5_1 and the style transfer losses. */
#include "vgg19.h"

#include "segq_safetensors.h"
#include "segq_vgg19_file.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

const double segq_vgg19_style_weights[SEGQ_VGG19_TAPS] = {0.75, 0.5, 0.25, 0.25, 0.25};

struct segq_vgg19_t {
    segqt_tensor *w[SEGQ_VGG19_CONVS], *b[SEGQ_VGG19_CONVS];
    segqt_tensor *w16[SEGQ_VGG19_CONVS], *b16[SEGQ_VGG19_CONVS]; /* bf16, NHWC; NULL until used */
    segqt_tensor *mean, *std;                                    /* 1 x 3 x 1 x 1 */
};

void segq_vgg19_destroy(segq_vgg19_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    segq_vgg19_t *self = *self_p;
    for (int i = 0; i < SEGQ_VGG19_CONVS; i++) {
        segqt_tensor_destroy(&self->w[i]);
        segqt_tensor_destroy(&self->b[i]);
        segqt_tensor_destroy(&self->w16[i]);
        segqt_tensor_destroy(&self->b16[i]);
    }
    segqt_tensor_destroy(&self->mean);
    segqt_tensor_destroy(&self->std);
    free(self);
    *self_p = NULL;
}

/* Tensor `key` (checked by segq_vgg19_file_check) as a persistent float32
 * tensor on dev. */
static segqt_tensor *load_one(const segq_st_t *st, const char *path, const char *what,
                              const char *key, segqt_device dev, char *err, size_t errlen)
{
    const segq_st_tensor_t *t = segq_st_find(st, key);
    segqt_dtype dt;
    segqt_tensor *x = NULL;
    if (segqt_dtype_from_name(segq_st_dtype_name(t->dtype), &dt) == 0)
        x = segqt_from_bytes(t->data, t->nbytes, dt, t->shape, (int)t->ndim, SEGQT_CPU);
    x = segqt_contiguous(segqt_to_device(segqt_to_dtype(x, SEGQT_F32), dev));
    if (!x) {
        snprintf(err, errlen, "%s %s: tensor '%s': %s", what, path, key, segqt_last_error());
        return NULL;
    }
    return segqt_persist(x);
}

int segq_vgg19_load(const char *path, const char *what, segqt_device dev, segq_vgg19_t **out,
                    char *err, size_t errlen)
{
    *out = NULL;
    segq_st_t *st = NULL;
    char sterr[SEGQ_ST_ERRLEN];
    int rc = segq_st_open(path, &st, sterr, sizeof sterr);
    if (rc) {
        snprintf(err, errlen, "%s: cannot load the VGG19 weights: %s", what, sterr);
        return rc;
    }
    segq_vgg19_t *self = calloc(1, sizeof *self);
    if (!self || segqt_scope_begin() < 0) {
        free(self);
        segq_st_destroy(&st);
        snprintf(err, errlen, "%s: out of memory", what);
        return SEGQ_ENOMEM;
    }
    rc = segq_vgg19_file_check(st, path, what, err, errlen);
    for (int i = 0; i < SEGQ_VGG19_CONVS && !rc; i++) {
        char wkey[64], bkey[64];
        segq_vgg19_file_keys(i, wkey, bkey, sizeof wkey);
        self->w[i] = load_one(st, path, what, wkey, dev, err, errlen);
        if (self->w[i])
            self->b[i] = load_one(st, path, what, bkey, dev, err, errlen);
        if (!self->w[i] || !self->b[i])
            rc = SEGQ_ETORCH;
    }
    static const float mean[3] = {0.485f, 0.456f, 0.406f}, std[3] = {0.229f, 0.224f, 0.225f};
    const int64_t s[4] = {1, 3, 1, 1};
    if (!rc) {
        self->mean = segqt_persist(segqt_from_floats(mean, s, 4, dev));
        self->std = segqt_persist(segqt_from_floats(std, s, 4, dev));
        if (!self->mean || !self->std) {
            snprintf(err, errlen, "%s: %s", what, segqt_last_error());
            rc = SEGQ_ETORCH;
        }
    }
    segqt_scope_end();
    segq_st_destroy(&st);
    if (rc)
        segq_vgg19_destroy(&self);
    *out = self;
    return rc;
}

/* bf16 copies of the weights in NHWC, made once on first use: autocast
 * would cast all 20M weights again on every step, and NHWC is the layout
 * oneDNN's bf16 convolutions run in without reordering every tensor. */
static int prepare_bf16(segq_vgg19_t *self)
{
    if (self->w16[0])
        return 0;
    if (segqt_scope_begin() < 0)
        return SEGQ_EINTERNAL;
    int rc = 0;
    for (int i = 0; i < SEGQ_VGG19_CONVS && !rc; i++) {
        self->w16[i] = segqt_persist(segqt_channels_last(segqt_to_dtype(self->w[i], SEGQT_BF16)));
        self->b16[i] = segqt_persist(segqt_to_dtype(self->b[i], SEGQT_BF16));
        if (!self->w16[i] || !self->b16[i])
            rc = segqt_last_code() < 0 ? segqt_last_code() : SEGQ_ETORCH;
    }
    segqt_scope_end();
    if (rc)
        for (int i = 0; i < SEGQ_VGG19_CONVS; i++) {
            segqt_tensor_destroy(&self->w16[i]);
            segqt_tensor_destroy(&self->b16[i]);
        }
    return rc;
}

segqt_tensor *segq_vgg19_normalise(segq_vgg19_t *self, segqt_tensor *x)
{
    return segqt_div(segqt_sub(x, self->mean), self->std);
}

segqt_tensor *segq_vgg19_denormalise(segq_vgg19_t *self, segqt_tensor *z)
{
    return segqt_add(segqt_mul(z, self->std), self->mean);
}

int segq_vgg19_features(segq_vgg19_t *self, segqt_tensor *x, int bf16,
                        segqt_tensor *taps[SEGQ_VGG19_TAPS])
{
    for (int t = 0; t < SEGQ_VGG19_TAPS; t++)
        taps[t] = NULL;
    int rc = bf16 ? prepare_bf16(self) : 0;
    if (rc)
        return rc;
    segqt_tensor *h = segq_vgg19_normalise(self, x);
    if (bf16)
        h = segqt_channels_last(segqt_to_dtype(h, SEGQT_BF16));
    int t = 0;
    for (int i = 0; i < SEGQ_VGG19_CONVS; i++) {
        h = bf16 ? segqt_conv2d(h, self->w16[i], self->b16[i], 1, 1, 1, 1)
                 : segqt_conv2d(h, self->w[i], self->b[i], 1, 1, 1, 1);
        /* max_pool(relu(h)) == relu(max_pool(h)) (relu is monotone), and
         * the gradients are the same too: pooling first runs the ReLU and
         * its backward on a quarter of the values. */
        if (segq_vgg19_layers[i].pool_after)
            h = segqt_max_pool2d(h, 2, 2, 0);
        /* ReLU as leaky_relu with slope 0: the same values (but -0 for
         * negatives, which sums and compares as 0), and libtorch 1.13's
         * leaky_relu_backward is ~30x faster than ReLU's threshold_backward
         * on bf16 (and faster on float32). */
        h = segqt_leaky_relu(h, 0.0);
        if (segq_vgg19_layers[i].tap)
            taps[t++] = h;
    }
    for (t = 0; t < SEGQ_VGG19_TAPS; t++)
        if (!taps[t])
            return segqt_last_code() < 0 ? segqt_last_code() : SEGQ_ETORCH;
    return 0;
}

segqt_tensor *segq_gram(segqt_tensor *f)
{
    int64_t b = segqt_size(f, 0), c = segqt_size(f, 1);
    int64_t s[3] = {b, c, -1};
    segqt_tensor *m = segqt_reshape(f, s, 3);
    return segqt_bmm(m, segqt_transpose(m, 1, 2));
}

void segq_style_targets_free(segq_style_targets_t *t)
{
    segqt_tensor_destroy(&t->content);
    for (int i = 0; i < SEGQ_VGG19_TAPS; i++)
        segqt_tensor_destroy(&t->gram[i]);
}

int segq_style_targets_new(segq_vgg19_t *vgg, segqt_tensor *content, segqt_tensor *style,
                           segq_style_targets_t *out)
{
    memset(out, 0, sizeof *out);
    if (segqt_scope_begin() < 0)
        return SEGQ_EINTERNAL;
    segqt_no_grad_begin();
    segqt_tensor *fc[SEGQ_VGG19_TAPS], *fs[SEGQ_VGG19_TAPS];
    int rc = segq_vgg19_features(vgg, content, 0, fc);
    if (!rc)
        rc = segq_vgg19_features(vgg, style, 0, fs);
    if (!rc) {
        out->content = segqt_persist(segqt_detach(fc[SEGQ_VGG19_TAPS - 1]));
        for (int i = 0; i < SEGQ_VGG19_TAPS; i++)
            out->gram[i] = segqt_persist(segqt_detach(segq_gram(fs[i])));
        rc = out->content ? 0 : SEGQ_ETORCH;
        for (int i = 0; i < SEGQ_VGG19_TAPS; i++)
            if (!out->gram[i])
                rc = SEGQ_ETORCH;
    }
    segqt_no_grad_end();
    segqt_scope_end();
    if (rc)
        segq_style_targets_free(out);
    return rc;
}

/* Per-image losses of the taps f (no graph) and, when grads is set, the
 * gradient of content_w * content + style_w * style with respect to each
 * tap, in closed form: with D = G - G_style (symmetric),
 *   d/dF [w mean(D^2) / (c h w)] = 4 w / (c h w c^2) * D F
 * so a layer costs one product for G and one for D F, where autograd
 * through the Gram matrix needs three and an addition. */
static int tap_losses(segqt_tensor *f[SEGQ_VGG19_TAPS], const segq_style_targets_t *t,
                      double content_w, double style_w, int bf16, segqt_tensor **content,
                      segqt_tensor **style, segqt_tensor *grads[SEGQ_VGG19_TAPS])
{
    static const int64_t chw[3] = {1, 2, 3}, cc[2] = {1, 2}, to_nchw[4] = {0, 3, 1, 2};
    segqt_tensor *sum = NULL;
    for (int i = 0; i < SEGQ_VGG19_TAPS; i++) {
        int64_t b = segqt_size(f[i], 0), c = segqt_size(f[i], 1), h = segqt_size(f[i], 2),
                w = segqt_size(f[i], 3);
        double n = (double)c * (double)h * (double)w;
        int64_t s3[3] = {b, c, h * w}, nhwc[4] = {b, h, w, c}, nchw[4] = {b, c, h, w};
        segqt_tensor *m = segqt_reshape(f[i], s3, 3);
        /* bf16: the products run in bf16 (oneDNN, float32 accumulation,
         * ~5x faster than OpenBLAS's float32 here); D, the losses and the
         * scaling are float32. */
        segqt_tensor *g = segqt_bmm(m, segqt_transpose(m, 1, 2));
        segqt_tensor *d = segqt_sub(segqt_to_dtype(g, SEGQT_F32), t->gram[i]);
        segqt_tensor *l = segqt_mul_scalar(segqt_mean_dims(segqt_mul(d, d), cc, 2, 0),
                                           segq_vgg19_style_weights[i] / n);
        sum = sum ? segqt_add(sum, l) : l;
        if (!grads)
            continue;
        double k = style_w * 4.0 * segq_vgg19_style_weights[i] / (n * (double)c * (double)c);
        /* The gradient in the tap's own layout, so the backward pass does
         * not reorder it: (F^T D)^T is D F laid out NHWC. */
        /* k scales the small c x c D, not the tap-sized product. */
        segqt_tensor *dk = segqt_mul_scalar(d, k);
        if (bf16)
            dk = segqt_to_dtype(dk, SEGQT_BF16);
        grads[i] =
            segqt_is_contiguous(f[i]) == 1
                ? segqt_reshape(segqt_bmm(dk, m), nchw, 4)
                : segqt_permute(segqt_reshape(segqt_bmm(segqt_transpose(m, 1, 2), dk), nhwc, 4),
                                to_nchw, 4);
    }
    segqt_tensor *f5 = f[SEGQ_VGG19_TAPS - 1];
    segqt_tensor *d = segqt_sub(segqt_to_dtype(f5, SEGQT_F32), t->content);
    *content = segqt_mean_dims(segqt_mul(d, d), chw, 3, 0);
    *style = sum;
    if (grads) {
        double n = (double)segqt_numel(f5) / (double)segqt_size(f5, 0);
        grads[SEGQ_VGG19_TAPS - 1] = segqt_add_scaled(
            segqt_to_dtype(grads[SEGQ_VGG19_TAPS - 1], SEGQT_F32), d, 2.0 * content_w / n);
        if (bf16)
            grads[SEGQ_VGG19_TAPS - 1] = segqt_to_dtype(grads[SEGQ_VGG19_TAPS - 1], SEGQT_BF16);
    }
    if (!*content || !*style || (grads && !grads[SEGQ_VGG19_TAPS - 1]))
        return segqt_last_code() < 0 ? segqt_last_code() : SEGQ_ETORCH;
    return 0;
}

int segq_style_losses(segq_vgg19_t *vgg, segqt_tensor *x, const segq_style_targets_t *t, int bf16,
                      segqt_tensor **content, segqt_tensor **style)
{
    *content = *style = NULL;
    segqt_tensor *f[SEGQ_VGG19_TAPS];
    segqt_no_grad_begin();
    int rc = segq_vgg19_features(vgg, x, bf16, f);
    if (!rc)
        rc = tap_losses(f, t, 0, 0, bf16, content, style, NULL);
    segqt_no_grad_end();
    return rc;
}

int segq_style_backward(segq_vgg19_t *vgg, segqt_tensor *x, const segq_style_targets_t *t,
                        double content_w, double style_w, int bf16, segqt_tensor **content,
                        segqt_tensor **style)
{
    *content = *style = NULL;
    segqt_tensor *f[SEGQ_VGG19_TAPS], *g[SEGQ_VGG19_TAPS];
    int rc = segq_vgg19_features(vgg, x, bf16, f);
    if (rc)
        return rc;
    segqt_no_grad_begin();
    rc = tap_losses(f, t, content_w, style_w, bf16, content, style, g);
    segqt_no_grad_end();
    if (!rc && segqt_backward_from(f, g, SEGQ_VGG19_TAPS) != 0)
        rc = segqt_last_code();
    if (rc)
        *content = *style = NULL;
    return rc;
}
