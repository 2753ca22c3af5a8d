/* UNet++ over the torch shim (structure in unetpp.h). */
#include "unetpp.h"

#include "segq_safetensors.h"
#include "segq_unetpp_file.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MAX_NODES ((SEGQ_UNETPP_MAX_DEPTH + 1) * (SEGQ_UNETPP_MAX_DEPTH + 2) / 2)
#define BN_EPS 1e-5
#define BN_MOMENTUM 0.1

typedef struct {
    int i, j, in, out;
    segqt_tensor *t[SEGQ_UNETPP_NODE_TENSORS];
    char names[SEGQ_UNETPP_NODE_TENSORS][48];
} node_t;

struct segq_unetpp_t {
    int depth, width, in_channels, n_nodes;
    node_t nodes[MAX_NODES];
    segqt_tensor *final_w, *final_b;
};

static int node_index(int depth, int i, int j)
{
    /* nodes ordered by j, then i: column j holds depth + 1 - j nodes */
    int idx = 0;
    for (int c = 0; c < j; c++)
        idx += depth + 1 - c;
    return idx + i;
}

void segq_unetpp_destroy(segq_unetpp_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    segq_unetpp_t *self = *self_p;
    for (int n = 0; n < self->n_nodes; n++)
        for (int k = 0; k < SEGQ_UNETPP_NODE_TENSORS; k++)
            segqt_tensor_destroy(&self->nodes[n].t[k]);
    segqt_tensor_destroy(&self->final_w);
    segqt_tensor_destroy(&self->final_b);
    free(self);
    *self_p = NULL;
}

/* U(-1/sqrt(fan_in), +1/sqrt(fan_in)): torch's Conv2d default for weight
 * (kaiming_uniform with a = sqrt(5)) and bias alike. */
static segqt_tensor *uniform(const int64_t *shape, int ndim, double fan_in, segqt_device dev)
{
    double bound = 1.0 / sqrt(fan_in);
    segqt_tensor *u = segqt_rand(shape, ndim, SEGQT_F32, dev);
    return segqt_persist(segqt_sub_scalar(segqt_mul_scalar(u, 2 * bound), bound));
}

segq_unetpp_t *segq_unetpp_new(int depth, int width, int in_channels, segqt_device dev)
{
    if (depth < 1 || depth > SEGQ_UNETPP_MAX_DEPTH || width < 1 || width > 4096
        || in_channels < 1) {
        segqt_clear_error();
        return NULL;
    }
    segq_unetpp_t *self = calloc(1, sizeof *self);
    if (!self || segqt_scope_begin() < 0) {
        free(self);
        return NULL;
    }
    self->depth = depth;
    self->width = width;
    self->in_channels = in_channels;
    int ok = 1;
    for (int j = 0; j <= depth; j++)
        for (int i = 0; i + j <= depth; i++) {
            node_t *nd = &self->nodes[node_index(depth, i, j)];
            self->n_nodes++;
            nd->i = i;
            nd->j = j;
            nd->out = width << i;
            nd->in = segq_unetpp_node_in(width, in_channels, i, j);
            int64_t w1[4], w2[4], c[1];
            for (int k = 0; k < SEGQ_UNETPP_NODE_TENSORS; k++)
                segq_unetpp_node_tensor(width, in_channels, i, j, k, nd->names[k],
                                        sizeof nd->names[k],
                                        k == SEGQ_UNETPP_CONV1_W   ? w1
                                        : k == SEGQ_UNETPP_CONV2_W ? w2
                                                                   : c);
            nd->t[SEGQ_UNETPP_CONV1_W] = uniform(w1, 4, nd->in * 9.0, dev);
            nd->t[SEGQ_UNETPP_CONV1_B] = uniform(c, 1, nd->in * 9.0, dev);
            nd->t[SEGQ_UNETPP_CONV2_W] = uniform(w2, 4, nd->out * 9.0, dev);
            nd->t[SEGQ_UNETPP_CONV2_B] = uniform(c, 1, nd->out * 9.0, dev);
            nd->t[SEGQ_UNETPP_BN1_W] = segqt_persist(segqt_ones(c, 1, SEGQT_F32, dev));
            nd->t[SEGQ_UNETPP_BN2_W] = segqt_persist(segqt_ones(c, 1, SEGQT_F32, dev));
            nd->t[SEGQ_UNETPP_BN1_B] = segqt_persist(segqt_zeros(c, 1, SEGQT_F32, dev));
            nd->t[SEGQ_UNETPP_BN2_B] = segqt_persist(segqt_zeros(c, 1, SEGQT_F32, dev));
            nd->t[SEGQ_UNETPP_BN1_M] = segqt_persist(segqt_zeros(c, 1, SEGQT_F32, dev));
            nd->t[SEGQ_UNETPP_BN2_M] = segqt_persist(segqt_zeros(c, 1, SEGQT_F32, dev));
            nd->t[SEGQ_UNETPP_BN1_V] = segqt_persist(segqt_ones(c, 1, SEGQT_F32, dev));
            nd->t[SEGQ_UNETPP_BN2_V] = segqt_persist(segqt_ones(c, 1, SEGQT_F32, dev));
            for (int k = 0; k < SEGQ_UNETPP_NODE_TENSORS; k++)
                ok = ok && nd->t[k];
        }
    int64_t fw[4] = {1, width, 1, 1}, fb[1] = {1};
    self->final_w = uniform(fw, 4, width, dev);
    self->final_b = uniform(fb, 1, width, dev);
    ok = ok && self->final_w && self->final_b;
    segqt_scope_end();
    const char *names[SEGQ_UNETPP_MAX_TENSORS];
    segqt_tensor *t[SEGQ_UNETPP_MAX_TENSORS];
    int nt = 0;
    if (ok)
        segq_unetpp_tensors(self, names, t, SEGQ_UNETPP_MAX_TENSORS, &nt);
    for (int k = 0; k < nt && ok; k++)
        ok = segqt_set_requires_grad(t[k], 1) == 0;
    if (!ok)
        segq_unetpp_destroy(&self);
    return self;
}

int segq_unetpp_tensors(segq_unetpp_t *self, const char **names, segqt_tensor **tensors, int max,
                        int *n_trainable)
{
    int n = 0;
    for (int pass = 0; pass < 2; pass++) {
        for (int m = 0; m < self->n_nodes; m++)
            for (int k = pass ? SEGQ_UNETPP_NODE_TRAINABLE : 0;
                 k < (pass ? SEGQ_UNETPP_NODE_TENSORS : SEGQ_UNETPP_NODE_TRAINABLE); k++)
                if (n < max) {
                    names[n] = self->nodes[m].names[k];
                    tensors[n++] = self->nodes[m].t[k];
                }
        if (pass == 0) {
            if (n + 2 <= max) {
                names[n] = "final.weight";
                tensors[n++] = self->final_w;
                names[n] = "final.bias";
                tensors[n++] = self->final_b;
            }
            if (n_trainable)
                *n_trainable = n;
        }
    }
    return n;
}

int64_t segq_unetpp_param_count(segq_unetpp_t *self)
{
    const char *names[SEGQ_UNETPP_MAX_TENSORS];
    segqt_tensor *t[SEGQ_UNETPP_MAX_TENSORS];
    int nt = 0;
    segq_unetpp_tensors(self, names, t, SEGQ_UNETPP_MAX_TENSORS, &nt);
    int64_t total = 0;
    for (int k = 0; k < nt; k++)
        total += segqt_numel(t[k]);
    return total;
}

int segq_unetpp_copy(segq_unetpp_t *self, segq_unetpp_t *src)
{
    const char *na[SEGQ_UNETPP_MAX_TENSORS], *nb[SEGQ_UNETPP_MAX_TENSORS];
    segqt_tensor *a[SEGQ_UNETPP_MAX_TENSORS], *b[SEGQ_UNETPP_MAX_TENSORS];
    int n = segq_unetpp_tensors(self, na, a, SEGQ_UNETPP_MAX_TENSORS, NULL);
    if (segq_unetpp_tensors(src, nb, b, SEGQ_UNETPP_MAX_TENSORS, NULL) != n)
        return SEGQ_EINVAL;
    segqt_no_grad_begin();
    int rc = 0;
    for (int k = 0; k < n && !rc; k++)
        rc = segqt_copy_(a[k], b[k]);
    segqt_no_grad_end();
    return rc;
}

static segqt_tensor *block(node_t *nd, segqt_tensor *x, int training)
{
    segqt_tensor **t = nd->t;
    x = segqt_conv2d(x, t[SEGQ_UNETPP_CONV1_W], t[SEGQ_UNETPP_CONV1_B], 1, 1, 1, 1);
    x = segqt_relu(segqt_batch_norm(x, t[SEGQ_UNETPP_BN1_W], t[SEGQ_UNETPP_BN1_B],
                                    t[SEGQ_UNETPP_BN1_M], t[SEGQ_UNETPP_BN1_V], training,
                                    BN_MOMENTUM, BN_EPS));
    x = segqt_conv2d(x, t[SEGQ_UNETPP_CONV2_W], t[SEGQ_UNETPP_CONV2_B], 1, 1, 1, 1);
    return segqt_relu(segqt_batch_norm(x, t[SEGQ_UNETPP_BN2_W], t[SEGQ_UNETPP_BN2_B],
                                       t[SEGQ_UNETPP_BN2_M], t[SEGQ_UNETPP_BN2_V], training,
                                       BN_MOMENTUM, BN_EPS));
}

segqt_tensor *segq_unetpp_forward(segq_unetpp_t *self, segqt_tensor *x, int training)
{
    int L = self->depth;
    segqt_tensor *X[SEGQ_UNETPP_MAX_DEPTH + 1][SEGQ_UNETPP_MAX_DEPTH + 1] = {{NULL}};
    /* A size not divisible by 2^depth fails in segqt_cat (torch names the
     * sizes); evaluate checks --size up front. */
    for (int i = 0; i <= L; i++)
        X[i][0] = block(&self->nodes[node_index(L, i, 0)],
                        i ? segqt_max_pool2d(X[i - 1][0], 2, 2, 0) : x, training);
    for (int j = 1; j <= L; j++)
        for (int i = 0; i + j <= L; i++) {
            segqt_tensor *parts[SEGQ_UNETPP_MAX_DEPTH + 2];
            for (int c = 0; c < j; c++)
                parts[c] = X[i][c];
            segqt_tensor *below = X[i + 1][j - 1];
            parts[j] = segqt_interpolate(below, 2 * segqt_size(below, 2), 2 * segqt_size(below, 3),
                                         SEGQT_INTERP_BILINEAR, 1, 0);
            X[i][j] =
                block(&self->nodes[node_index(L, i, j)], segqt_cat(parts, j + 1, 1), training);
        }
    return segqt_conv2d(X[0][L], self->final_w, self->final_b, 1, 0, 1, 1);
}

int segq_unetpp_save(segq_unetpp_t *self, const char *path, char *err, size_t errlen)
{
    const char *names[SEGQ_UNETPP_MAX_TENSORS];
    segqt_tensor *t[SEGQ_UNETPP_MAX_TENSORS];
    int n = segq_unetpp_tensors(self, names, t, SEGQ_UNETPP_MAX_TENSORS, NULL);
    segq_st_writer_t *w = segq_st_writer_new();
    if (!w || segqt_scope_begin() < 0) {
        segq_st_writer_destroy(&w);
        snprintf(err, errlen, "%s: out of memory", path);
        return SEGQ_ENOMEM;
    }
    int rc = 0;
    for (int k = 0; k < n && !rc; k++) {
        segqt_tensor *c = segqt_cpu_contiguous(segqt_detach(t[k]));
        const void *data = NULL;
        size_t nbytes = 0;
        int64_t shape[8];
        int nd = c ? segqt_shape(c, shape, 8) : -1;
        if (nd < 0 || segqt_data(c, &data, &nbytes) != 0) {
            snprintf(err, errlen, "%s: %s: %s", path, names[k], segqt_last_error());
            rc = SEGQ_ETORCH;
        } else
            rc = segq_st_writer_add(w, names[k], SEGQ_ST_F32, (size_t)nd, shape, data, nbytes, err,
                                    errlen);
    }
    char num[32];
    snprintf(num, sizeof num, "%d", self->depth);
    if (!rc)
        rc = segq_st_writer_set_meta(w, "depth", num, err, errlen);
    snprintf(num, sizeof num, "%d", self->width);
    if (!rc)
        rc = segq_st_writer_set_meta(w, "width", num, err, errlen);
    if (!rc)
        rc = segq_st_writer_save(w, path, err, errlen);
    segqt_scope_end();
    segq_st_writer_destroy(&w);
    return rc;
}

int segq_unetpp_load_encoder(segq_unetpp_t *self, const char *path, const char *what, char *err,
                             size_t errlen)
{
    segq_st_t *st = NULL;
    char sterr[SEGQ_ST_ERRLEN];
    int rc = segq_st_open(path, &st, sterr, sizeof sterr);
    if (rc) {
        snprintf(err, errlen, "%s: %s", what, sterr);
        return rc;
    }
    rc = segq_unetpp_file_check_encoder(st, path, what, self->depth, self->width, self->in_channels,
                                        err, errlen);
    int scoped = !rc && segqt_scope_begin() > 0;
    if (!rc && !scoped)
        rc = SEGQ_EINTERNAL;
    segqt_no_grad_begin();
    for (int i = 0; i <= self->depth && !rc; i++) {
        node_t *nd = &self->nodes[node_index(self->depth, i, 0)];
        for (int k = 0; k < SEGQ_UNETPP_NODE_TENSORS && !rc; k++) {
            const segq_st_tensor_t *t = segq_st_find(st, nd->names[k]);
            segqt_tensor *v =
                segqt_from_bytes(t->data, t->nbytes, SEGQT_F32, t->shape, (int)t->ndim, SEGQT_CPU);
            if (!v || segqt_copy_(nd->t[k], v) != 0) {
                snprintf(err, errlen, "%s: %s: %s", what, nd->names[k], segqt_last_error());
                rc = SEGQ_ETORCH;
            }
        }
    }
    segqt_no_grad_end();
    if (scoped)
        segqt_scope_end();
    segq_st_destroy(&st);
    return rc;
}
