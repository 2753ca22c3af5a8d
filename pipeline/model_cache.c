/*
 * model_cache.c: checkpoints kept loaded between generate jobs (serve.c).
 *
 * Keyed by the checkpoint's sha256 and the device it is loaded on; the
 * least recently used go once the files' sizes add up to more than the
 * cache's size (the last one loaded always stays: a cache smaller than one
 * model still saves reloading it for the next job).
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "segq_error.h"
#include "segq_sha256.h"
#include "segq_singan.h"
#include "singan_internal.h"

typedef struct {
    char hex[SEGQ_HASH_HEX_LEN + 1];
    segqt_device dev;
    segq_model_t m;
    segq_ckpt_meta_t meta;
    uint64_t bytes; /* the checkpoint file's */
    uint64_t used;  /* tick of its last job */
} cached_t;

#define CACHE_MAX_MODELS 64

struct segq_model_cache {
    cached_t items[CACHE_MAX_MODELS];
    size_t n;
    uint64_t max_bytes, total, tick;
};

segq_model_cache_t *segq_model_cache_new(uint64_t max_bytes)
{
    segq_model_cache_t *self = calloc(1, sizeof *self);
    if (self)
        self->max_bytes = max_bytes;
    return self;
}

static void drop(segq_model_cache_t *self, size_t i)
{
    segq__model_free(&self->items[i].m);
    segq__ckpt_meta_free(&self->items[i].meta);
    self->total -= self->items[i].bytes;
    self->items[i] = self->items[--self->n];
}

void segq_model_cache_destroy(segq_model_cache_t **self_p)
{
    segq_model_cache_t *self = *self_p;
    if (!self)
        return;
    while (self->n)
        drop(self, self->n - 1);
    free(self);
    *self_p = NULL;
}

/* Room for `bytes` more: the least recently used go first. */
static void make_room(segq_model_cache_t *self, uint64_t bytes)
{
    while (self->n && (self->total + bytes > self->max_bytes || self->n == CACHE_MAX_MODELS)) {
        size_t oldest = 0;
        for (size_t i = 1; i < self->n; i++)
            if (self->items[i].used < self->items[oldest].used)
                oldest = i;
        drop(self, oldest);
    }
}

int segq__model_cache_get(segq_model_cache_t *self, const char *path, const char *hex,
                          segqt_device dev, segq_model_t *m, segq_ckpt_meta_t *meta,
                          char hex_out[SEGQ_HASH_HEX_LEN + 1], int *hit, char *err, size_t errlen)
{
    char computed[SEGQ_HASH_HEX_LEN + 1];
    if (!hex || !segq_hash_valid(hex)) {
        if (segq_sha256_file(path, computed) != 0) {
            snprintf(err, errlen, "--model %s: cannot read the file (%s)", path, strerror(errno));
            return SEGQ_EINVAL;
        }
        hex = computed;
    }
    snprintf(hex_out, SEGQ_HASH_HEX_LEN + 1, "%s", hex);
    for (size_t i = 0; i < self->n; i++)
        if (strcmp(self->items[i].hex, hex) == 0 && self->items[i].dev.type == dev.type
            && self->items[i].dev.index == dev.index) {
            self->items[i].used = ++self->tick;
            *m = self->items[i].m;
            *meta = self->items[i].meta;
            *hit = 1;
            return 0;
        }
    struct stat st;
    if (stat(path, &st) != 0) {
        snprintf(err, errlen, "--model %s: cannot read the file (%s)", path, strerror(errno));
        return SEGQ_EINVAL;
    }
    make_room(self, (uint64_t)st.st_size);
    cached_t *c = &self->items[self->n];
    *c = (cached_t){.dev = dev, .bytes = (uint64_t)st.st_size, .used = ++self->tick};
    snprintf(c->hex, sizeof c->hex, "%s", hex);
    int rc = segq__ckpt_load(path, dev, 0, &c->m, &c->meta, err, errlen);
    if (rc)
        return rc;
    self->n++;
    self->total += c->bytes;
    *m = c->m;
    *meta = c->meta;
    *hit = 0;
    return 0;
}

size_t segq_model_cache_hot(segq_model_cache_t *self, const char **hashes, size_t max)
{
    size_t n = 0;
    for (size_t i = 0; i < self->n && n < max; i++)
        hashes[n++] = self->items[i].hex;
    return n;
}
