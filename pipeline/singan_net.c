/* One SinGAN network (generator or patch critic) as plain tensors. */
#include "singan_internal.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>

static int fan_in_channels(segq_net_t *self, int layer)
{
    return layer == 0 ? SEGQ_NC : self->nfc;
}

static int out_channels(segq_net_t *self, int layer)
{
    if (layer < self->layers - 1)
        return self->nfc;
    return self->generator ? SEGQ_NC : 1;
}

/* Makes t a persistent trainable (or buffer) tensor owned by the net. */
static segqt_tensor *own(segqt_tensor *t, int trainable)
{
    if (!t)
        return NULL;
    if (trainable && segqt_set_requires_grad(t, 1) != 0)
        return NULL;
    return segqt_persist(t);
}

uint64_t segq__net_bytes(const segq_net_t *self)
{
    if (!self)
        return 0;
    segqt_tensor *const *sets[] = {self->conv_w,   self->conv_b,  self->bn_w,   self->bn_b,
                                   self->bn_mean,  self->bn_var,  self->eval_w, self->eval_b,
                                   self->eval_w16, self->eval_b16};
    uint64_t sum = 0;
    for (size_t k = 0; k < sizeof sets / sizeof sets[0]; k++)
        for (int l = 0; l < self->layers; l++)
            sum += segq__tensor_bytes(sets[k][l]);
    return sum;
}

segq_net_t *segq__net_new(int generator, int nfc, int layers, int ker, segqt_device dev)
{
    if (layers < 2 || layers > SEGQ_NET_MAX_LAYERS || nfc < 1 || ker < 1 || ker % 2 == 0)
        return NULL;
    segq_net_t *self = calloc(1, sizeof *self);
    if (!self)
        return NULL;
    self->generator = generator;
    self->layers = layers;
    self->ker = ker;
    self->nfc = nfc;
    if (segqt_scope_begin() < 0) {
        free(self);
        return NULL;
    }
    int ok = 1;
    for (int l = 0; l < layers && ok; l++) {
        int64_t cin = fan_in_channels(self, l), cout = out_channels(self, l);
        int64_t wshape[4] = {cout, cin, ker, ker}, bshape[1] = {cout};
        segqt_tensor *w = segqt_zeros(wshape, 4, SEGQT_F32, dev);
        ok = w && segqt_normal_(w, 0.0, 0.02) == 0;
        /* torch's default Conv2d bias init, which the authors keep:
         * U(-1/sqrt(fan_in), 1/sqrt(fan_in)) */
        double bound = 1.0 / sqrt((double)(cin * ker * ker));
        segqt_tensor *b = segqt_sub_scalar(
            segqt_mul_scalar(segqt_rand(bshape, 1, SEGQT_F32, dev), 2.0 * bound), bound);
        self->conv_w[l] = ok ? own(w, 1) : NULL;
        self->conv_b[l] = own(b, 1);
        ok = self->conv_w[l] && self->conv_b[l];
        if (ok && l < layers - 1) {
            segqt_tensor *bw = segqt_zeros(bshape, 1, SEGQT_F32, dev);
            ok = bw && segqt_normal_(bw, 1.0, 0.02) == 0;
            self->bn_w[l] = ok ? own(bw, 1) : NULL;
            self->bn_b[l] = own(segqt_zeros(bshape, 1, SEGQT_F32, dev), 1);
            self->bn_mean[l] = own(segqt_zeros(bshape, 1, SEGQT_F32, dev), 0);
            self->bn_var[l] = own(segqt_ones(bshape, 1, SEGQT_F32, dev), 0);
            ok = self->bn_w[l] && self->bn_b[l] && self->bn_mean[l] && self->bn_var[l];
        }
    }
    segqt_scope_end();
    if (!ok)
        segq__net_destroy(&self);
    return self;
}

void segq__net_destroy(segq_net_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    segq_net_t *self = *self_p;
    for (int l = 0; l < self->layers; l++) {
        segqt_tensor_destroy(&self->conv_w[l]);
        segqt_tensor_destroy(&self->conv_b[l]);
        segqt_tensor_destroy(&self->bn_w[l]);
        segqt_tensor_destroy(&self->bn_b[l]);
        segqt_tensor_destroy(&self->bn_mean[l]);
        segqt_tensor_destroy(&self->bn_var[l]);
        segqt_tensor_destroy(&self->eval_w[l]);
        segqt_tensor_destroy(&self->eval_b[l]);
        segqt_tensor_destroy(&self->eval_w16[l]);
        segqt_tensor_destroy(&self->eval_b16[l]);
    }
    free(self);
    *self_p = NULL;
}

int segq__net_tensors(segq_net_t *self, const char **names, segqt_tensor **tensors, int max,
                      int *n_trainable)
{
    /* Static names: at most SEGQ_NET_MAX_LAYERS layers, built once. */
    static char name_buf[SEGQ_NET_MAX_LAYERS][6][32];
    static int built;
    if (!built) {
        static const char *kinds[6] = {"conv%d.weight", "conv%d.bias",       "bn%d.weight",
                                       "bn%d.bias",     "bn%d.running_mean", "bn%d.running_var"};
        for (int l = 0; l < SEGQ_NET_MAX_LAYERS; l++)
            for (int k = 0; k < 6; k++)
                snprintf(name_buf[l][k], sizeof name_buf[l][k], kinds[k], l);
        built = 1;
    }
    int n = 0;
    for (int pass = 0; pass < 2; pass++) {
        for (int l = 0; l < self->layers; l++) {
            segqt_tensor *t[6] = {self->conv_w[l], self->conv_b[l],  self->bn_w[l],
                                  self->bn_b[l],   self->bn_mean[l], self->bn_var[l]};
            for (int k = pass ? 4 : 0; k < (pass ? 6 : 4); k++) {
                if (!t[k] || n >= max)
                    continue;
                names[n] = name_buf[l][k];
                tensors[n++] = t[k];
            }
        }
        if (pass == 0 && n_trainable)
            *n_trainable = n;
    }
    return n;
}

int segq__net_copy(segq_net_t *self, segq_net_t *src)
{
    const char *na[6 * SEGQ_NET_MAX_LAYERS], *nb[6 * SEGQ_NET_MAX_LAYERS];
    segqt_tensor *ta[6 * SEGQ_NET_MAX_LAYERS], *tb[6 * SEGQ_NET_MAX_LAYERS];
    int a = segq__net_tensors(self, na, ta, 6 * SEGQ_NET_MAX_LAYERS, NULL);
    int b = segq__net_tensors(src, nb, tb, 6 * SEGQ_NET_MAX_LAYERS, NULL);
    if (a != b)
        return SEGQ_EINVAL;
    int rc = 0;
    if (segqt_no_grad_begin() != 0)
        return SEGQ_EINTERNAL;
    for (int i = 0; i < a && rc == 0; i++)
        rc = segqt_copy_(ta[i], tb[i]);
    segqt_no_grad_end();
    return rc;
}

int segq__net_set_requires_grad(segq_net_t *self, int flag)
{
    const char *names[6 * SEGQ_NET_MAX_LAYERS];
    segqt_tensor *t[6 * SEGQ_NET_MAX_LAYERS];
    int trainable = 0;
    segq__net_tensors(self, names, t, 6 * SEGQ_NET_MAX_LAYERS, &trainable);
    for (int i = 0; i < trainable; i++)
        if (segqt_set_requires_grad(t[i], flag) != 0)
            return segqt_last_code();
    return 0;
}

int segq__net_freeze(segq_net_t *self)
{
    if (segq__net_set_requires_grad(self, 0) != 0)
        return segqt_last_code();
    if (segqt_scope_begin() < 0)
        return SEGQ_EINTERNAL;
    segqt_no_grad_begin();
    int rc = 0;
    for (int l = 0; l < self->layers && rc == 0; l++) {
        segqt_tensor *w = self->conv_w[l], *b = self->conv_b[l];
        if (l < self->layers - 1) {
            /* eval BatchNorm: y = (x - mean) * s + beta, s = gamma / sqrt(var + eps) */
            segqt_tensor *sd = segqt_sqrt(segqt_add_scalar(self->bn_var[l], SEGQ_BN_EPS));
            segqt_tensor *sc = segqt_div(self->bn_w[l], sd);
            int64_t col[4] = {-1, 1, 1, 1};
            w = segqt_mul(w, segqt_reshape(sc, col, 4));
            b = segqt_add(segqt_mul(segqt_sub(b, self->bn_mean[l]), sc), self->bn_b[l]);
        }
        segqt_tensor *w32 = segqt_persist(segqt_contiguous(segqt_clone(w)));
        segqt_tensor *b32 = segqt_persist(segqt_clone(b));
        segqt_tensor *w16 = segqt_persist(segqt_to_dtype(w32, SEGQT_BF16));
        segqt_tensor *b16 = segqt_persist(segqt_to_dtype(b32, SEGQT_BF16));
        segqt_tensor_destroy(&self->eval_w[l]);
        segqt_tensor_destroy(&self->eval_b[l]);
        segqt_tensor_destroy(&self->eval_w16[l]);
        segqt_tensor_destroy(&self->eval_b16[l]);
        self->eval_w[l] = w32;
        self->eval_b[l] = b32;
        self->eval_w16[l] = w16;
        self->eval_b16[l] = b16;
        if (!w32 || !b32 || !w16 || !b16)
            rc = segqt_last_code() ? segqt_last_code() : SEGQ_ETORCH;
    }
    segqt_no_grad_end();
    segqt_scope_end();
    return rc;
}

/* The frozen net's eval forward: folded convs, activations kept in
 * bfloat16 from the first conv to the last when bf16. */
static segqt_tensor *frozen_forward(segq_net_t *self, segqt_tensor *x, int bf16)
{
    segqt_tensor *const *w = bf16 ? self->eval_w16 : self->eval_w;
    segqt_tensor *const *b = bf16 ? self->eval_b16 : self->eval_b;
    segqt_tensor *h = bf16 ? segqt_to_dtype(x, SEGQT_BF16) : x;
    for (int l = 0; l < self->layers - 1; l++)
        h = segqt_leaky_relu(segqt_conv2d(h, w[l], b[l], 1, 0, 1, 1), SEGQ_LRELU_SLOPE);
    int last = self->layers - 1;
    h = segqt_conv2d(h, w[last], b[last], 1, 0, 1, 1);
    return bf16 ? segqt_to_dtype(h, SEGQT_F32) : h;
}

static segqt_tensor *conv(segqt_tensor *x, segqt_tensor *w, segqt_tensor *b, int bf16)
{
    if (!bf16)
        return segqt_conv2d(x, w, b, 1, 0, 1, 1);
    /* Explicit casts rather than autocast: BatchNorm, tanh, the losses and
     * the weights' master copies stay fp32, only the convolutions (the
     * cost) run in bfloat16. */
    segqt_tensor *y = segqt_conv2d(segqt_to_dtype(x, SEGQT_BF16), segqt_to_dtype(w, SEGQT_BF16),
                                   segqt_to_dtype(b, SEGQT_BF16), 1, 0, 1, 1);
    return segqt_to_dtype(y, SEGQT_F32);
}

segqt_tensor *segq__net_forward(segq_net_t *self, segqt_tensor *x, segqt_tensor *prev, int training,
                                int bf16)
{
    return segq__net_forward_bn(self, x, prev, training, SEGQ_BN_MOMENTUM, bf16);
}

/* The critic in training mode, bf16: every layer (conv, BatchNorm,
 * LeakyReLU) runs in bfloat16, so the gradient penalty's double backward
 * through BatchNorm (its most expensive non-conv part, a chain of
 * full-size elementwise ops) moves half the bytes and no casts run
 * between layers. Parameters stay fp32 masters (cast per call; autograd
 * casts their gradients back). libtorch 1.13 wants the running
 * statistics in the input's dtype: they are updated on bf16 copies and
 * copied back, so D's (which nothing uses: D always runs in training
 * mode) carry bf16 rounding. */
static segqt_tensor *critic_forward_bf16(segq_net_t *self, segqt_tensor *x, double momentum)
{
    segqt_tensor *h = segqt_to_dtype(x, SEGQT_BF16);
    for (int l = 0; l < self->layers - 1; l++) {
        h = segqt_conv2d(h, segqt_to_dtype(self->conv_w[l], SEGQT_BF16),
                         segqt_to_dtype(self->conv_b[l], SEGQT_BF16), 1, 0, 1, 1);
        segqt_tensor *rm = segqt_to_dtype(self->bn_mean[l], SEGQT_BF16);
        segqt_tensor *rv = segqt_to_dtype(self->bn_var[l], SEGQT_BF16);
        h = segqt_batch_norm(h, segqt_to_dtype(self->bn_w[l], SEGQT_BF16),
                             segqt_to_dtype(self->bn_b[l], SEGQT_BF16), rm, rv, 1, momentum,
                             SEGQ_BN_EPS);
        h = segqt_leaky_relu(h, SEGQ_LRELU_SLOPE);
        if (!h || segqt_no_grad_begin() != 0)
            return NULL;
        int rc = segqt_copy_(self->bn_mean[l], rm) | segqt_copy_(self->bn_var[l], rv);
        segqt_no_grad_end();
        if (rc)
            return NULL;
    }
    int last = self->layers - 1;
    h = segqt_conv2d(h, segqt_to_dtype(self->conv_w[last], SEGQT_BF16),
                     segqt_to_dtype(self->conv_b[last], SEGQT_BF16), 1, 0, 1, 1);
    return segqt_to_dtype(h, SEGQT_F32);
}

segqt_tensor *segq__net_forward_bn(segq_net_t *self, segqt_tensor *x, segqt_tensor *prev,
                                   int training, double momentum, int bf16)
{
    if (!self || !x)
        return NULL;
    segqt_tensor *h = x;
    if (!training && self->eval_w[0]) {
        h = frozen_forward(self, x, bf16);
    } else if (training && bf16 && !self->generator) {
        h = critic_forward_bf16(self, x, momentum);
    } else {
        for (int l = 0; l < self->layers - 1; l++) {
            h = conv(h, self->conv_w[l], self->conv_b[l], bf16);
            h = segqt_batch_norm(h, self->bn_w[l], self->bn_b[l], self->bn_mean[l], self->bn_var[l],
                                 training, momentum, SEGQ_BN_EPS);
            h = segqt_leaky_relu(h, SEGQ_LRELU_SLOPE);
        }
        int last = self->layers - 1;
        h = conv(h, self->conv_w[last], self->conv_b[last], bf16);
    }
    if (!self->generator)
        return h;
    h = segqt_tanh(h);
    if (!h || !prev)
        return NULL;
    /* residual: the centre crop of prev (the authors crop both sides by
     * the same margin, taken from the height) */
    int64_t ph = segqt_size(prev, 2), pw = segqt_size(prev, 3), oh = segqt_size(h, 2);
    int64_t ind = (ph - oh) / 2;
    segqt_tensor *c = segqt_slice(segqt_slice(prev, 2, ind, ph - ind, 1), 3, ind, pw - ind, 1);
    return segqt_add(h, c);
}
