/*  segq_hashx.c: hash tables whose keys each get a hash of their own
    (segq_hashx.h). */
#include "segq_hashx.h"

#include <stdint.h>

size_t
segq_hashx_hash (const void *key)
{
    /* FNV-1a over the bytes, then a 64-bit finalizer (Stafford's mix 13,
       as in splitmix64) so that nearby keys differ in every bit */
    uint64_t h = 0xcbf29ce484222325ULL;
    for (const unsigned char *p = key; *p; p++)
        h = (h ^ *p) * 0x100000001b3ULL;
    h ^= h >> 30;
    h *= 0xbf58476d1ce4e5b9ULL;
    h ^= h >> 27;
    h *= 0x94d049bb133111ebULL;
    h ^= h >> 31;
    return (size_t) h;
}

zhashx_t *
segq_hashx_new (void)
{
    zhashx_t *self = zhashx_new ();
    if (self)
        zhashx_set_key_hasher (self, segq_hashx_hash);
    return self;
}
