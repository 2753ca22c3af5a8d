/* model.safetensors: the whole SinGAN-Seg model in one safetensors file
 * (key names in pipeline/CHECKPOINT.md). */
#include "segq_safetensors.h"
#include "singan_internal.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MAX_NET_TENSORS (6 * SEGQ_NET_MAX_LAYERS)

void segq__ckpt_meta_free(segq_ckpt_meta_t *meta)
{
    free(meta->params_json);
    free(meta->image_name);
    free(meta->image_sha256);
    free(meta->mask_name);
    free(meta->mask_sha256);
    free(meta->precision);
    memset(meta, 0, sizeof *meta);
}

int segq__st_add_tensor(segq_st_writer_t *w, const char *name, segqt_tensor *t, char *err,
                        size_t errlen)
{
    segqt_tensor *c = segqt_cpu_contiguous(t);
    const void *data = NULL;
    size_t nbytes = 0;
    int64_t shape[8];
    int ndim = c ? segqt_shape(c, shape, 8) : -1;
    segqt_dtype dt;
    if (ndim < 0 || segqt_data(c, &data, &nbytes) != 0 || segqt_dtype_of(c, &dt) != 0)
        return segq__torch_fail(err, errlen, name);
    segq_st_dtype_t sdt;
    if (segq_st_dtype_parse(segqt_dtype_name(dt), &sdt) != 0) {
        snprintf(err, errlen, "%s: dtype %s cannot be stored", name, segqt_dtype_name(dt));
        return SEGQ_EINVAL;
    }
    return segq_st_writer_add(w, name, sdt, (size_t)ndim, shape, data, nbytes, err, errlen);
}

static int add_net(segq_st_writer_t *w, const char *prefix, int n, segq_net_t *net, char *err,
                   size_t errlen)
{
    const char *names[MAX_NET_TENSORS];
    segqt_tensor *t[MAX_NET_TENSORS];
    int count = segq__net_tensors(net, names, t, MAX_NET_TENSORS, NULL);
    for (int i = 0; i < count; i++) {
        char key[96];
        snprintf(key, sizeof key, "%s.%d.%s", prefix, n, names[i]);
        int rc = segq__st_add_tensor(w, key, t[i], err, errlen);
        if (rc)
            return rc;
    }
    return 0;
}

static int meta_set(segq_st_writer_t *w, const char *key, const char *value, char *err,
                    size_t errlen)
{
    return segq_st_writer_set_meta(w, key, value ? value : "", err, errlen);
}

static int meta_num(segq_st_writer_t *w, const char *key, double v, char *err, size_t errlen)
{
    char buf[64];
    snprintf(buf, sizeof buf, "%.17g", v);
    return meta_set(w, key, buf, err, errlen);
}

int segq__ckpt_save(segq_model_t *m, const segq_ckpt_meta_t *meta, int with_d, const char *path,
                    char *err, size_t errlen)
{
    segq_st_writer_t *w = segq_st_writer_new();
    if (!w) {
        snprintf(err, errlen, "%s: out of memory", path);
        return SEGQ_ENOMEM;
    }
    int rc = segqt_scope_begin() < 0 ? SEGQ_EINTERNAL : 0;
    int scopes = rc == 0;
    int S = m->pyr.stop_scale + 1;
    for (int n = 0; n < m->trained && rc == 0; n++) {
        char key[64];
        rc = add_net(w, "G", n, m->G[n], err, errlen);
        if (rc == 0 && with_d && m->D[n])
            rc = add_net(w, "D", n, m->D[n], err, errlen);
        snprintf(key, sizeof key, "z_opt.%d", n);
        if (rc == 0)
            rc = segq__st_add_tensor(w, key, m->z_opt[n], err, errlen);
    }
    if (rc == 0 && m->trained > 0) {
        int64_t shape[1] = {m->trained};
        rc = segq_st_writer_add(w, "noise_amp", SEGQ_ST_F64, 1, shape, m->noise_amp,
                                sizeof(double) * (size_t)m->trained, err, errlen);
    }
    if (rc == 0) {
        int64_t sizes[2 * SEGQ_PYRAMID_MAX_SCALES], shape[2] = {S, 2};
        for (int n = 0; n < S; n++) {
            sizes[2 * n] = m->pyr.h[n];
            sizes[2 * n + 1] = m->pyr.w[n];
        }
        rc = segq_st_writer_add(w, "pyramid_sizes", SEGQ_ST_I64, 2, shape, sizes,
                                sizeof(int64_t) * 2 * (size_t)S, err, errlen);
    }
    if (scopes)
        segqt_scope_end();
    if (rc == 0
        && (meta_set(w, "format", SEGQ_CKPT_FORMAT, err, errlen)
            || meta_set(w, "format_version", SEGQ_CKPT_VERSION, err, errlen)
            || meta_num(w, "scales_trained", m->trained, err, errlen)
            || meta_num(w, "num_scales", S, err, errlen)
            || meta_num(w, "authors_num_scales", m->pyr.num_scales, err, errlen)
            || meta_num(w, "r", m->pyr.r, err, errlen)
            || meta_num(w, "scale1", m->pyr.scale1, err, errlen)
            || meta_num(w, "height", (double)meta->orig_h, err, errlen)
            || meta_num(w, "width", (double)meta->orig_w, err, errlen)
            || meta_num(w, "num_layer", m->layers, err, errlen)
            || meta_num(w, "ker_size", m->ker, err, errlen)
            || meta_num(w, "pad", m->pad, err, errlen)
            || meta_num(w, "nfc", (double)meta->nfc, err, errlen)
            || meta_num(w, "nfc_max", (double)meta->nfc_max, err, errlen)
            || meta_set(w, "precision", meta->precision, err, errlen)
            || meta_set(w, "params", meta->params_json, err, errlen)
            || meta_set(w, "source_image", meta->image_name, err, errlen)
            || meta_set(w, "source_image_sha256", meta->image_sha256, err, errlen)
            || meta_set(w, "source_mask", meta->mask_name, err, errlen)
            || meta_set(w, "source_mask_sha256", meta->mask_sha256, err, errlen)
            || meta_set(w, "torch_version", segqt_version(), err, errlen)))
        rc = SEGQ_EINVAL; /* the failing call wrote err */
    if (rc == 0)
        rc = segq_st_writer_save(w, path, err, errlen);
    segq_st_writer_destroy(&w);
    return rc;
}

/* ---- loading ----------------------------------------------------------- */

static char *meta_dup(segq_st_t *st, const char *key)
{
    const char *v = segq_st_meta_get(st, key);
    return strdup(v ? v : "");
}

/* A tensor of the expected F32 shape from the file, copied onto dev. */
static int load_into(segq_st_t *st, const char *path, const char *key, segqt_tensor *dst, char *err,
                     size_t errlen)
{
    const segq_st_tensor_t *t = segq_st_find(st, key);
    if (!t) {
        snprintf(err, errlen, "%s: tensor '%s' is missing", path, key);
        return SEGQ_EINVAL;
    }
    int64_t shape[8];
    int nd = segqt_shape(dst, shape, 8);
    int same = t->dtype == SEGQ_ST_F32 && (int)t->ndim == nd;
    for (int i = 0; same && i < nd; i++)
        same = t->shape[i] == shape[i];
    if (!same) {
        snprintf(err, errlen, "%s: tensor '%s' has the wrong dtype or shape for this model", path,
                 key);
        return SEGQ_EINVAL;
    }
    segqt_tensor *src =
        segqt_from_bytes(t->data, t->nbytes, SEGQT_F32, t->shape, (int)t->ndim, SEGQT_CPU);
    if (!src || segqt_copy_(dst, src) != 0)
        return segq__torch_fail(err, errlen, key);
    return 0;
}

static int load_net(segq_st_t *st, const char *path, const char *prefix, int n, int layers, int ker,
                    segqt_device dev, segq_net_t **out, char *err, size_t errlen)
{
    char key[96];
    snprintf(key, sizeof key, "%s.%d.conv0.weight", prefix, n);
    const segq_st_tensor_t *w0 = segq_st_find(st, key);
    if (!w0 || w0->ndim != 4 || w0->shape[0] < 1 || w0->shape[0] > 65536) {
        snprintf(err, errlen, "%s: tensor '%s' is missing or malformed", path, key);
        return SEGQ_EINVAL;
    }
    segq_net_t *net = segq__net_new(prefix[0] == 'G', (int)w0->shape[0], layers, ker, dev);
    if (!net)
        return segq__torch_fail(err, errlen, key);
    const char *names[MAX_NET_TENSORS];
    segqt_tensor *t[MAX_NET_TENSORS];
    int count = segq__net_tensors(net, names, t, MAX_NET_TENSORS, NULL);
    /* a flag, not the code: loading may fail with SEGQ_EINTERNAL too */
    int no_grad = segqt_no_grad_begin() == 0;
    int rc = no_grad ? 0 : SEGQ_EINTERNAL;
    for (int i = 0; i < count && rc == 0; i++) {
        snprintf(key, sizeof key, "%s.%d.%s", prefix, n, names[i]);
        rc = load_into(st, path, key, t[i], err, errlen);
    }
    if (no_grad)
        segqt_no_grad_end();
    if (rc == 0)
        rc = segq__net_freeze(net);
    if (rc)
        segq__net_destroy(&net);
    *out = net;
    return rc;
}

/* Scale n's G, its D when wanted and stored, and its reconstruction noise,
 * on m's device. Scoped. */
static int load_scale(segq_st_t *st, const char *path, int n, int want_d, segq_model_t *m,
                      char *err, size_t errlen)
{
    int rc = load_net(st, path, "G", n, m->layers, m->ker, m->dev, &m->G[n], err, errlen);
    char key[96];
    snprintf(key, sizeof key, "D.%d.conv0.weight", n);
    if (rc == 0 && want_d && segq_st_find(st, key))
        rc = load_net(st, path, "D", n, m->layers, m->ker, m->dev, &m->D[n], err, errlen);
    snprintf(key, sizeof key, "z_opt.%d", n);
    if (rc == 0) {
        int64_t zs[4] = {1, SEGQ_NC, m->pyr.h[n] + 2 * m->pad, m->pyr.w[n] + 2 * m->pad};
        segqt_tensor *z = segqt_zeros(zs, 4, SEGQT_F32, m->dev);
        rc = z ? load_into(st, path, key, z, err, errlen) : segq__torch_fail(err, errlen, key);
        if (rc == 0)
            m->z_opt[n] = segqt_persist(z);
    }
    return rc;
}

/* Every trained scale, in one scope: what the loads leave behind is freed
 * at its end, the nets and z_opt are kept. */
static int load_scales(segq_st_t *st, const char *path, int want_d, segq_model_t *m, char *err,
                       size_t errlen)
{
    if (segqt_scope_begin() < 0)
        return SEGQ_EINTERNAL;
    int rc = 0;
    for (int n = 0; n < m->trained && rc == 0; n++)
        rc = load_scale(st, path, n, want_d, m, err, errlen);
    segqt_scope_end();
    return rc;
}

/* The source's provenance, the training's parameters and its precision,
 * as they were saved. */
static int read_provenance(segq_st_t *st, const char *path, segq_ckpt_meta_t *meta, char *err,
                           size_t errlen)
{
    meta->params_json = meta_dup(st, "params");
    meta->image_name = meta_dup(st, "source_image");
    meta->image_sha256 = meta_dup(st, "source_image_sha256");
    meta->mask_name = meta_dup(st, "source_mask");
    meta->mask_sha256 = meta_dup(st, "source_mask_sha256");
    meta->precision = meta_dup(st, "precision");
    if (meta->params_json && meta->image_name && meta->image_sha256 && meta->mask_name
        && meta->mask_sha256 && meta->precision)
        return 0;
    snprintf(err, errlen, "%s: out of memory", path);
    return SEGQ_ENOMEM;
}

/* The header's numbers into the model and its metadata. */
static void take_header(const segq_ckpt_header_t *h, segq_model_t *m, segq_ckpt_meta_t *meta)
{
    m->trained = h->trained;
    m->layers = h->layers;
    m->ker = h->ker;
    m->pad = h->pad;
    m->pyr = h->pyr;
    memcpy(m->noise_amp, h->noise_amp, sizeof m->noise_amp);
    meta->orig_h = h->orig_h;
    meta->orig_w = h->orig_w;
    meta->nfc = h->nfc;
    meta->nfc_max = h->nfc_max;
}

int segq__ckpt_load(const char *path, segqt_device dev, int want_d, segq_model_t *m,
                    segq_ckpt_meta_t *meta, char *err, size_t errlen)
{
    /* cleared first: whatever fails, the caller may free both */
    memset(m, 0, sizeof *m);
    memset(meta, 0, sizeof *meta);
    segq_st_t *st = NULL;
    int rc = segq_st_open(path, &st, err, errlen);
    if (rc)
        return rc;
    m->dev = dev;
    segq_ckpt_header_t h;
    rc = segq_ckpt_header_read(st, path, &h, err, errlen);
    if (!rc)
        take_header(&h, m, meta);
    if (!rc)
        rc = load_scales(st, path, want_d, m, err, errlen);
    if (!rc)
        rc = read_provenance(st, path, meta, err, errlen);
    segq_st_destroy(&st);
    if (rc) {
        segq__model_free(m);
        segq__ckpt_meta_free(meta);
    }
    return rc;
}
