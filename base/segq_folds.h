/*  segq_folds.h: how evaluate deals real pairs into k folds, in one place,
    so that `segq submit pipeline` can tell at submit which fold each of
    its training pairs will be tested in (and refuse an evaluation that a
    fold could not train), with the very arithmetic segq-run evaluate uses.

    Part of segq_core (libc only).
*/
#ifndef SEGQ_FOLDS_H
#define SEGQ_FOLDS_H

#include <stdbool.h>
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

/* The real pairs that train in fold f: those the order perm (of
   segq_folds_shuffle) does not deal into f, taken in that order, the
   first `limit` of them (0: all: evaluate's --real-limit). folds 0: a
   fixed test set, every pair may train. trains[r] says it of pair r;
   returns how many. */
size_t segq_folds_training (size_t n, const size_t *perm, size_t folds, size_t f, uint64_t limit,
                            bool *trains);

#ifdef __cplusplus
}
#endif

#endif
