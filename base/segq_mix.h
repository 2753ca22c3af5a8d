/*  segq_mix.h: a 64-bit mix (the finaliser of splitmix64, Stafford's
    mix 13) that makes nearby inputs differ in every bit of the output: the
    step of segq_splitmix64, the hash of sequential job numbers and of
    string keys built alike, the seed of each scale of a training. */
#ifndef SEGQ_MIX_H
#define SEGQ_MIX_H

#include <stdint.h>

static inline uint64_t
segq_mix64 (uint64_t z)
{
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
}

#endif
