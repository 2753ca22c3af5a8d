/*  segq_hashx.c: hash tables whose keys each get a hash of their own
    (segq_hashx.h). */
#include "segq_hashx.h"
#include "segq_mix.h"

size_t
segq_hashx_hash (const void *key)
{
    /* FNV-1a over the bytes, then mixed so that keys alike differ in
       every bit */
    uint64_t h = 0xcbf29ce484222325ULL;
    for (const unsigned char *p = key; *p; p++)
        h = (h ^ *p) * 0x100000001b3ULL;
    return (size_t) segq_mix64 (h);
}

zhashx_t *
segq_hashx_new (void)
{
    zhashx_t *self = zhashx_new ();
    if (self)
        zhashx_set_key_hasher (self, segq_hashx_hash);
    return self;
}
