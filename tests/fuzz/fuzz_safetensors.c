/* libFuzzer target: the safetensors reader on arbitrary bytes. Whatever it
 * accepts must be self-consistent, must survive a write/read round trip
 * through the writer unchanged, and has its SinGAN-Seg checkpoint header
 * read (segq_ckpt.h: what `segq submit --model FILE` checks). */
#include "segq_ckpt.h"
#include "segq_safetensors.h"

#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

static void roundtrip(const segq_st_t *st)
{
    char err[SEGQ_ST_ERRLEN];
    segq_st_writer_t *w = segq_st_writer_new();
    if (!w)
        abort();
    for (size_t i = 0; i < segq_st_count(st); i++) {
        const segq_st_tensor_t *t = segq_st_at(st, i);
        if (segq_st_find(st, t->name) != t || t->nbytes != t->numel * segq_st_dtype_size(t->dtype))
            abort();
        /* Names that are not valid for the writer are the only refusal. */
        if (segq_st_writer_add(w, t->name, t->dtype, t->ndim, t->shape, t->data, t->nbytes, err,
                               sizeof err))
            abort();
    }
    for (size_t i = 0; i < segq_st_meta_count(st); i++) {
        const char *k, *v;
        if (segq_st_meta_at(st, i, &k, &v) || segq_st_meta_get(st, k) != v
            || segq_st_writer_set_meta(w, k, v, err, sizeof err))
            abort();
    }
    uint8_t *buf;
    size_t len;
    if (segq_st_writer_to_mem(w, &buf, &len, err, sizeof err))
        abort();
    segq_st_t *back = NULL;
    if (segq_st_open_mem(buf, len, "roundtrip", &back, err, sizeof err))
        abort();
    if (segq_st_count(back) != segq_st_count(st)
        || segq_st_meta_count(back) != segq_st_meta_count(st))
        abort();
    for (size_t i = 0; i < segq_st_count(st); i++) {
        const segq_st_tensor_t *a = segq_st_at(st, i), *b = segq_st_at(back, i);
        if (strcmp(a->name, b->name) || a->dtype != b->dtype || a->ndim != b->ndim
            || a->nbytes != b->nbytes || memcmp(a->shape, b->shape, a->ndim * sizeof(int64_t))
            || (a->nbytes && memcmp(a->data, b->data, a->nbytes)))
            abort();
    }
    segq_st_destroy(&back);
    free(buf);
    segq_st_writer_destroy(&w);
}

/* What segq-run and `segq submit` read of a checkpoint before any tensor:
 * accepted, it holds only what a model can have. */
static void checkpoint_header(const segq_st_t *st)
{
    char err[SEGQ_ST_ERRLEN];
    segq_ckpt_header_t h;
    if (segq_ckpt_header_read(st, "fuzz", &h, err, sizeof err) != 0) {
        if (!memchr(err, 0, sizeof err) || !strstr(err, "fuzz"))
            abort();
        return;
    }
    const segq_pyramid_t *p = &h.pyr;
    if (h.trained < 0 || h.trained > p->stop_scale + 1 || p->stop_scale < 0
        || p->stop_scale >= SEGQ_PYRAMID_MAX_SCALES || !(p->r > 0 && p->r < 1) || h.layers < 2
        || h.layers > SEGQ_NET_MAX_LAYERS)
        abort();
    for (int n = 0; n <= p->stop_scale; n++)
        if (p->h[n] < 1 || p->w[n] < 1)
            abort();
    segq_ckpt_check_generate(&h, "fuzz", 0, 1, 1, err, sizeof err);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char err[SEGQ_ST_ERRLEN];
    segq_st_t *st = NULL;
    if (segq_st_open_mem(data, size, "fuzz", &st, err, sizeof err) != 0) {
        if (st)
            abort();
        return 0;
    }
    roundtrip(st);
    checkpoint_header(st);
    segq_st_destroy(&st);
    return 0;
}
