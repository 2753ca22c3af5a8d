/*  segq_folds.h: how evaluate deals real pairs into k folds, in one place,
    so that `segq submit pipeline` can tell at submit which fold each of
    its training pairs will be tested in (and refuse an evaluation that a
    fold could not train), with the very arithmetic segq-run evaluate uses.

    Part of segq_core (libc only).
*/
#ifndef SEGQ_FOLDS_H
#define SEGQ_FOLDS_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* splitmix64: evaluate's one random stream (folds, splits, data order,
   augmentation). */
uint64_t segq_splitmix64 (uint64_t *state);

/* perm[0..n): the pairs (indices into their sorted order) shuffled with
   seed by Fisher-Yates over segq_splitmix64; the pair at position k is
   dealt into fold k % folds. */
void segq_folds_shuffle (size_t n, uint64_t seed, size_t *perm);

#ifdef __cplusplus
}
#endif

#endif
