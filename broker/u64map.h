/*  u64map.h: open-addressing hash map from uint64 keys to pointers.

    The broker indexes up to millions of active jobs by number; a map with
    one 16-byte slot per entry and no allocation per entry keeps that index
    small (CZMQ's zhashx allocates an item and a key per entry).
*/
#ifndef SEGQ_U64MAP_H
#define SEGQ_U64MAP_H

#include <stddef.h>
#include <stdint.h>

typedef struct segq__u64map segq__u64map_t;

segq__u64map_t *segq__u64map_new (void);
void segq__u64map_destroy (segq__u64map_t **self_p);

/* Insert or replace. Key 0 is reserved (empty slot). SEGQ_ENOMEM, SEGQ_EINVAL. */
int segq__u64map_put (segq__u64map_t *self, uint64_t key, void *value);
void *segq__u64map_get (const segq__u64map_t *self, uint64_t key);
/* Remove and return the value, or NULL if absent. */
void *segq__u64map_remove (segq__u64map_t *self, uint64_t key);
size_t segq__u64map_size (const segq__u64map_t *self);
/* Iterate: start with *cursor = 0; returns NULL at the end. The map must
   not change during the iteration. */
void *segq__u64map_next (const segq__u64map_t *self, size_t *cursor, uint64_t *key_out);

#endif
