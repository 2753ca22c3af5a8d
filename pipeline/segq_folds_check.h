/* segq_folds_check: whether evaluate's k-fold gives every synthetic set
 * something to train on in every fold. evaluate trains a synthetic set, in
 * each fold, only on the pairs made from that fold's real training pairs
 * (nothing derived from an image the fold tests trains), and fails when a
 * fold has none, after training every fold before it. With evaluate's own
 * dealing (segq_folds.h) and its matching of a synthetic pair to the real
 * pair it came from (its source image's sha256, else its name), this
 * finds such a fold before anything trains: at segq-run evaluate's start,
 * and in `segq submit evaluate` and `segq submit pipeline` before anything
 * is sent (client/cli/cli_folds.h), with the same words. Plain C, no
 * libtorch. */
#ifndef SEGQ_FOLDS_CHECK_H
#define SEGQ_FOLDS_CHECK_H

#include "segq_sha256.h"

#include <stddef.h>
#include <stdint.h>

/* A pair as evaluate matches it: a real or test pair's image, or a
 * synthetic pair's source image (its manifest row). */
typedef struct {
    char *name;                      /* the image's file name without extension */
    char sha[SEGQ_HASH_HEX_LEN + 1]; /* "" when unknown */
} segq_pair_ref_t;

typedef struct {
    segq_pair_ref_t *pairs;
    size_t n, cap;
} segq_pair_list_t;

/* What evaluate is given: its real pairs, its test pairs (none: k folds
 * of the real ones), its parameters, and each synthetic set's sources
 * (NULL where they are unknown: a set by reference), with the words
 * messages use for them as the user gave them. */
typedef struct {
    segq_pair_list_t real, test;
    int64_t folds, seed, real_limit;
    size_t n_sets;
    const char **set_names;        /* "--synthetic gen" */
    const segq_pair_list_t **sets; /* each pair's source image */
    const char *real_flag;         /* "--real" */
    const char *seed_flag;         /* "--seed" */
    const char *advice;            /* what to do when no seed near helps; NULL: make the set
                                      from the real pairs' own images */
} segq_folds_plan_t;

/* 0, or SEGQ_EINVAL with err naming the set and the fold that would
 * have nothing to train on, why, and a seed that would deal the pairs
 * so that every fold trains when one near `seed` does; SEGQ_EINVAL too
 * when there are fewer real pairs than folds. */
int segq_folds_check(const segq_folds_plan_t *plan, char *err, size_t errlen);

/* Appends a pair (name and sha may be NULL: ""); SEGQ_ENOMEM. */
int segq_pair_list_add(segq_pair_list_t *list, const char *name, const char *sha);
void segq_pair_list_clear(segq_pair_list_t *list);

#endif
