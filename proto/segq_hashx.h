/*  segq_hashx.h: CZMQ hash tables of string keys, with a hash that spreads
    the keys segq makes.

    zhashx hashes a string with Bernstein's 33 * h ^ c, under which keys
    built alike share their whole hash: the worker's job keys 0001#1,
    002s#1, 02ps#1 and 02r1#1 all do, and so do a third of the keys of
    12,000 jobs. zhashx grows its table whenever a lookup walks a chain
    longer than its limit, and a chain of keys with one hash never splits;
    a worker aborted asking zhashx for a 32 GiB table in a broker-restart
    test (and without the memory, a rehash that fails makes a lookup miss
    a key that is there). FNV-1a with a final mix gives such keys hashes
    of their own. */
#ifndef SEGQ_HASHX_H
#define SEGQ_HASHX_H

#include <czmq.h>
#include <stddef.h>

/* zhashx_new () with segq_hashx_hash as its key hasher (keys copied and
   compared as strings, as zhashx does); NULL when out of memory. */
zhashx_t *segq_hashx_new (void);

/* The hash of a NUL-terminated string key. */
size_t segq_hashx_hash (const void *key);

#endif
