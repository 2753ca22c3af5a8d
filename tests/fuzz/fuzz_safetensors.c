/* libFuzzer target: the safetensors reader on arbitrary bytes. Whatever it
 * accepts must be self-consistent, and must survive a write/read round
 * trip through the writer unchanged. */
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
    segq_st_destroy(&st);
    return 0;
}
