/*  u64map.c: linear probing with backward-shift deletion (no tombstones, so
    lookups stay short however many jobs come and go). */
#include "u64map.h"
#include "segq_error.h"
#include "segq_mix.h"
#include <stdlib.h>

typedef struct {
    uint64_t key; /* 0 = empty */
    void *value;
} slot_t;

struct segq__u64map {
    slot_t *slots;
    size_t mask; /* capacity - 1, capacity a power of two */
    size_t size;
};

/* job numbers are sequential: spread them */
static size_t
s_hash (uint64_t key)
{
    return (size_t) segq_mix64 (key);
}

segq__u64map_t *
segq__u64map_new (void)
{
    segq__u64map_t *self = calloc (1, sizeof *self);
    if (!self)
        return NULL;
    self->slots = calloc (16, sizeof (slot_t));
    if (!self->slots) {
        free (self);
        return NULL;
    }
    self->mask = 15;
    return self;
}

void
segq__u64map_destroy (segq__u64map_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    free ((*self_p)->slots);
    free (*self_p);
    *self_p = NULL;
}

static int
s_grow (segq__u64map_t *self)
{
    size_t capacity = (self->mask + 1) * 2;
    slot_t *slots = calloc (capacity, sizeof (slot_t));
    if (!slots)
        return SEGQ_ENOMEM;
    for (size_t i = 0; i <= self->mask; i++) {
        if (!self->slots [i].key)
            continue;
        size_t at = s_hash (self->slots [i].key) & (capacity - 1);
        while (slots [at].key)
            at = (at + 1) & (capacity - 1);
        slots [at] = self->slots [i];
    }
    free (self->slots);
    self->slots = slots;
    self->mask = capacity - 1;
    return 0;
}

int
segq__u64map_put (segq__u64map_t *self, uint64_t key, void *value)
{
    if (key == 0)
        return SEGQ_EINVAL;
    /* keep the load under 3/4 */
    if ((self->size + 1) * 4 > (self->mask + 1) * 3) {
        int rc = s_grow (self);
        if (rc)
            return rc;
    }
    size_t at = s_hash (key) & self->mask;
    while (self->slots [at].key && self->slots [at].key != key)
        at = (at + 1) & self->mask;
    if (!self->slots [at].key)
        self->size++;
    self->slots [at].key = key;
    self->slots [at].value = value;
    return 0;
}

void *
segq__u64map_get (const segq__u64map_t *self, uint64_t key)
{
    if (key == 0)
        return NULL;
    size_t at = s_hash (key) & self->mask;
    while (self->slots [at].key) {
        if (self->slots [at].key == key)
            return self->slots [at].value;
        at = (at + 1) & self->mask;
    }
    return NULL;
}

void *
segq__u64map_remove (segq__u64map_t *self, uint64_t key)
{
    if (key == 0)
        return NULL;
    size_t at = s_hash (key) & self->mask;
    while (self->slots [at].key && self->slots [at].key != key)
        at = (at + 1) & self->mask;
    if (!self->slots [at].key)
        return NULL;
    void *value = self->slots [at].value;
    /* shift back every following entry that may move closer to its home */
    size_t hole = at;
    size_t next = (at + 1) & self->mask;
    while (self->slots [next].key) {
        size_t home = s_hash (self->slots [next].key) & self->mask;
        /* the entry may fill the hole if its home is not in (hole, next] */
        if (((next - home) & self->mask) >= ((next - hole) & self->mask)) {
            self->slots [hole] = self->slots [next];
            hole = next;
        }
        next = (next + 1) & self->mask;
    }
    self->slots [hole].key = 0;
    self->slots [hole].value = NULL;
    self->size--;
    return value;
}

size_t
segq__u64map_size (const segq__u64map_t *self)
{
    return self->size;
}

void *
segq__u64map_next (const segq__u64map_t *self, size_t *cursor, uint64_t *key_out)
{
    while (*cursor <= self->mask) {
        const slot_t *slot = &self->slots [(*cursor)++];
        if (slot->key) {
            if (key_out)
                *key_out = slot->key;
            return slot->value;
        }
    }
    return NULL;
}
