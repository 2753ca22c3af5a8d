/* segq_ckpt.h: a checkpoint's header, read and checked without libtorch. */
#include "segq_ckpt.h"

#include "segq_error.h"
#include "segq_param_rules.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Our checkpoints say so in their metadata: anything else is refused
 * before a number is read. */
static int check_format(const segq_st_t *st, const char *path, char *err, size_t errlen)
{
    const char *fmt = segq_st_meta_get(st, "format");
    if (fmt && strcmp(fmt, SEGQ_CKPT_FORMAT) == 0)
        return 0;
    return segq_fail(err, errlen, SEGQ_EINVAL,
                     "%s: not a SinGAN-Seg checkpoint (metadata format is '%s', expected '%s')",
                     path, fmt ? fmt : "missing", SEGQ_CKPT_FORMAT);
}

static int meta_long(const segq_st_t *st, const char *path, const char *key, long lo, long hi,
                     long *out, char *err, size_t errlen)
{
    const char *v = segq_st_meta_get(st, key);
    char *end = NULL;
    errno = 0;
    long x = v ? strtol(v, &end, 10) : 0;
    if (!v || errno || end == v || *end || x < lo || x > hi)
        return segq_fail(err, errlen, SEGQ_EINVAL,
                         "%s: metadata '%s' is %s (expected an integer in %ld..%ld)", path, key,
                         v ? "malformed" : "missing", lo, hi);
    *out = x;
    return 0;
}

/* The numbers in the metadata, each within what a model can have. */
static int read_numbers(const segq_st_t *st, const char *path, segq_ckpt_header_t *h, char *err,
                        size_t errlen)
{
    long trained, layers, ker, pad, oh, ow, nfc, nfc_max;
    int rc =
        meta_long(st, path, "scales_trained", 0, SEGQ_PYRAMID_MAX_SCALES, &trained, err, errlen);
    if (!rc)
        rc = meta_long(st, path, "num_layer", 2, SEGQ_NET_MAX_LAYERS, &layers, err, errlen);
    if (!rc)
        rc = meta_long(st, path, "ker_size", 1, 15, &ker, err, errlen);
    if (!rc)
        rc = meta_long(st, path, "pad", 0, 1000, &pad, err, errlen);
    if (!rc)
        rc = meta_long(st, path, "height", 1, 1L << 20, &oh, err, errlen);
    if (!rc)
        rc = meta_long(st, path, "width", 1, 1L << 20, &ow, err, errlen);
    if (!rc)
        rc = meta_long(st, path, "nfc", 1, 65536, &nfc, err, errlen);
    if (!rc)
        rc = meta_long(st, path, "nfc_max", 1, 65536, &nfc_max, err, errlen);
    if (rc)
        return rc;
    h->trained = (int)trained;
    h->layers = (int)layers;
    h->ker = (int)ker;
    h->pad = (int)pad;
    h->orig_h = oh;
    h->orig_w = ow;
    h->nfc = nfc;
    h->nfc_max = nfc_max;
    return 0;
}

/* Whether the pyramid's tensors are there, in their dtype and rank, with
 * a noise amplitude for every trained scale. */
static int pyramid_tensors_ok(const segq_st_tensor_t *sizes, const segq_st_tensor_t *amps,
                              int trained)
{
    if (!sizes || sizes->dtype != SEGQ_ST_I64 || sizes->ndim != 2 || sizes->shape[1] != 2
        || sizes->shape[0] < 1 || sizes->shape[0] > SEGQ_PYRAMID_MAX_SCALES
        || sizes->shape[0] < trained)
        return 0;
    return trained == 0
           || (amps && amps->dtype == SEGQ_ST_F64 && amps->ndim == 1 && amps->shape[0] == trained);
}

/* The pyramid (sizes, r, scale1) and each trained scale's noise
 * amplitude, after the scales trained are known. */
static int read_pyramid(const segq_st_t *st, const char *path, segq_ckpt_header_t *h, char *err,
                        size_t errlen)
{
    const char *rs = segq_st_meta_get(st, "r"), *s1 = segq_st_meta_get(st, "scale1");
    const segq_st_tensor_t *sizes = segq_st_find(st, "pyramid_sizes");
    const segq_st_tensor_t *amps = segq_st_find(st, "noise_amp");
    if (!rs || !s1 || !pyramid_tensors_ok(sizes, amps, h->trained))
        return segq_fail(err, errlen, SEGQ_EINVAL,
                         "%s: r, scale1, pyramid_sizes or noise_amp missing or malformed", path);
    segq_pyramid_t *p = &h->pyr;
    p->stop_scale = (int)sizes->shape[0] - 1;
    p->r = strtod(rs, NULL);
    p->scale1 = strtod(s1, NULL);
    if (!(p->r > 0.0 && p->r < 1.0))
        return segq_fail(err, errlen, SEGQ_EINVAL, "%s: metadata r is not in (0, 1)", path);
    const int64_t *sz = sizes->data;
    if (!sz)
        return 0; /* a header read without its data: the scales are counted, not sized */
    for (int n = 0; n <= p->stop_scale; n++) {
        int64_t hn, wn;
        memcpy(&hn, sz + 2 * n, sizeof hn);
        memcpy(&wn, sz + 2 * n + 1, sizeof wn);
        if (hn < 1 || wn < 1 || hn > (1 << 20) || wn > (1 << 20))
            return segq_fail(err, errlen, SEGQ_EINVAL, "%s: pyramid_sizes holds an impossible size",
                             path);
        p->h[n] = (int)hn;
        p->w[n] = (int)wn;
    }
    p->height = p->h[p->stop_scale];
    p->width = p->w[p->stop_scale];
    if (h->trained > 0)
        memcpy(h->noise_amp, amps->data, sizeof(double) * (size_t)h->trained);
    return 0;
}

int segq_ckpt_header_read(const segq_st_t *st, const char *path, segq_ckpt_header_t *out, char *err,
                          size_t errlen)
{
    memset(out, 0, sizeof *out);
    int rc = check_format(st, path, err, errlen);
    if (!rc)
        rc = read_numbers(st, path, out, err, errlen);
    if (!rc)
        rc = read_pyramid(st, path, out, err, errlen);
    return rc;
}

int segq_ckpt_header_read_file(const char *path, segq_ckpt_header_t *out, char *err, size_t errlen)
{
    segq_st_t *st = NULL;
    int rc = segq_st_open(path, &st, err, errlen);
    if (!rc)
        rc = segq_ckpt_header_read(st, path, out, err, errlen);
    segq_st_destroy(&st);
    return rc;
}

int segq_ckpt_check_generate(const segq_ckpt_header_t *h, const char *what, int64_t gen_start_scale,
                             double scale_h, double scale_v, char *err, size_t errlen)
{
    int scales = h->pyr.stop_scale + 1;
    if (h->trained < scales)
        return segq_fail(err, errlen, SEGQ_EINVAL,
                         "%s: only %d of its %d scales are trained (an unfinished training, "
                         "or one stopped early with --stop-after-scale: train it to its last "
                         "scale; segq-run train --resume goes on from its checkpoint)",
                         what, h->trained, scales);
    if (gen_start_scale >= scales)
        return segq_fail(err, errlen, SEGQ_EINVAL,
                         "--gen-start-scale %lld: the model has scales 0..%d",
                         (long long)gen_start_scale, scales - 1);
    return segq_rule_generate_scales(gen_start_scale, scale_h, scale_v, err, errlen);
}
