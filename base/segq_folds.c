/*  segq_folds.c: evaluate's dealing of pairs into folds (segq_folds.h). */
#include "segq_folds.h"
#include "segq_mix.h"

uint64_t
segq_splitmix64 (uint64_t *state)
{
    return segq_mix64 (*state += 0x9e3779b97f4a7c15ull);
}

void
segq_folds_shuffle (size_t n, uint64_t seed, size_t *perm)
{
    for (size_t i = 0; i < n; i++)
        perm [i] = i;
    uint64_t state = seed;
    for (size_t i = n; i > 1; i--) {
        size_t j = (size_t) (segq_splitmix64 (&state) % i);
        size_t t = perm [i - 1];
        perm [i - 1] = perm [j];
        perm [j] = t;
    }
}

size_t
segq_folds_training (size_t n, const size_t *perm, size_t folds, size_t f, uint64_t limit,
                     bool *trains)
{
    size_t count = 0;
    for (size_t r = 0; r < n; r++)
        trains [r] = false;
    for (size_t k = 0; k < n && (limit == 0 || count < limit); k++)
        if (folds == 0 || k % folds != f) {
            trains [perm [k]] = true;
            count++;
        }
    return count;
}
