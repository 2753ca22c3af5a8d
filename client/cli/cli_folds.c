/*  cli_folds.c: evaluate's k-fold checked at submit (cli_folds.h). */
#include "cli_folds.h"

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "segq_error.h"
#include "segq_folds.h"

/* How far from the asked seed one that deals every fold something to
   train on is looked for. */
#define SEED_SEARCH 1000

int
cli_pair_list_add (cli_pair_list_t *list, const char *name, const char *sha)
{
    cli_pair_ref_t *grown = realloc (list->pairs, (list->n + 1) * sizeof *grown);
    if (!grown)
        return SEGQ_ENOMEM;
    list->pairs = grown;
    cli_pair_ref_t *pair = &grown [list->n];
    if (!(pair->name = strdup (name ? name : "")))
        return SEGQ_ENOMEM;
    snprintf (pair->sha, sizeof pair->sha, "%s", sha ? sha : "");
    list->n++;
    return SEGQ_OK;
}

void
cli_pair_list_clear (cli_pair_list_t *list)
{
    for (size_t i = 0; i < list->n; i++)
        free (list->pairs [i].name);
    free (list->pairs);
    *list = (cli_pair_list_t){ 0 };
}

/* Where in `list` the pair a source image is: by sha256, else by name,
   as segq-run evaluate matches them; list->n when none. */
static size_t
s_match (const cli_pair_list_t *list, const cli_pair_ref_t *src)
{
    for (size_t r = 0; *src->sha && r < list->n; r++)
        if (strcmp (list->pairs [r].sha, src->sha) == 0)
            return r;
    for (size_t r = 0; r < list->n; r++)
        if (strcmp (list->pairs [r].name, src->name) == 0)
            return r;
    return list->n;
}

/* The fate of one synthetic set's pairs in one fold. */
typedef struct {
    size_t trains, tested, other;
} fold_count_t;

/* Scratch for one dealing of the real pairs. */
typedef struct {
    size_t *perm, *fold_of; /* fold_of[r]: the fold that tests real pair r */
    bool *allowed;          /* the real pairs that train in the fold at hand */
    size_t folds;           /* 0: a fixed --test set, no folds */
} deal_t;

static void
s_deal (const cli_folds_plan_t *p, uint64_t seed, deal_t *d)
{
    segq_folds_shuffle (p->real.n, seed, d->perm);
    for (size_t k = 0; k < p->real.n; k++)
        d->fold_of [d->perm [k]] = d->folds ? k % d->folds : SIZE_MAX;
}

/* Set `set` (its pairs' real sources in src_of, n_real for none) in fold f. */
static fold_count_t
s_count (const cli_folds_plan_t *p, const cli_pair_list_t *set, const size_t *src_of, deal_t *d,
         size_t f)
{
    fold_count_t c = { 0 };
    segq_folds_training (p->real.n, d->perm, d->folds, f, (uint64_t) p->real_limit, d->allowed);
    for (size_t i = 0; i < set->n; i++) {
        size_t r = src_of [i];
        bool tested =
            r < p->real.n ? d->fold_of [r] == f : s_match (&p->test, &set->pairs [i]) < p->test.n;
        if (tested)
            c.tested++;
        else if (r < p->real.n && d->allowed [r])
            c.trains++;
        else
            c.other++;
    }
    return c;
}

/* The first set and fold with no synthetic pair to train on when the
   real pairs are dealt with `seed`; false when every fold has some. */
static bool
s_empty_fold (const cli_folds_plan_t *p, size_t **src_of, uint64_t seed, deal_t *d, size_t *set,
              size_t *fold, fold_count_t *count)
{
    s_deal (p, seed, d);
    for (size_t s = 0; s < p->n_sets; s++)
        for (size_t f = 0; p->sets [s] && f < (d->folds ? d->folds : 1); f++) {
            *count = s_count (p, p->sets [s], src_of [s], d, f);
            if (count->trains == 0) {
                *set = s;
                *fold = f;
                return true;
            }
        }
    return false;
}

/* The refusal: which set, which fold, why, and what would do. */
static int
s_refuse (const cli_folds_plan_t *p, const deal_t *d, size_t set, size_t fold,
          const fold_count_t *c, int64_t other_seed, char *err, size_t errlen)
{
    char where [160], limit [64] = "", offer [200];
    if (d->folds)
        snprintf (where, sizeof where, "in fold %zu of %zu (--seed %lld)", fold + 1, d->folds,
                  (long long) p->seed);
    else
        snprintf (where, sizeof where, "with --test");
    if (p->real_limit)
        snprintf (limit, sizeof limit, " (within --real-limit %lld)", (long long) p->real_limit);
    if (other_seed >= 0)
        snprintf (offer, sizeof offer, "--seed %lld deals the pairs so that every fold trains",
                  (long long) other_seed);
    else if (c->other == 0 && d->folds)
        snprintf (offer, sizeof offer,
                  "make the set from real pairs that two folds or more test (a generation per "
                  "real image), or evaluate on a fixed --test set");
    else
        snprintf (offer, sizeof offer,
                  "make the set from --real's own images (manifest.csv names each pair's "
                  "source image)");
    return segq_fail (err, errlen, SEGQ_EINVAL,
                      "--synthetic %s: %s none of its %zu pairs would train: %zu were made "
                      "from images %s, %zu from images that are not among --real's training "
                      "pairs%s. evaluate would fail there, after training what comes before "
                      "it: %s",
                      p->set_names [set], where, p->sets [set]->n, c->tested,
                      d->folds ? "that fold tests" : "of --test", c->other, limit, offer);
}

/* A seed near the plan's that leaves no fold empty, or -1. */
static int64_t
s_other_seed (const cli_folds_plan_t *p, size_t **src_of, deal_t *d)
{
    size_t set, fold;
    fold_count_t c;
    for (int64_t s = p->seed + 1; s <= p->seed + SEED_SEARCH; s++)
        if (!s_empty_fold (p, src_of, (uint64_t) s, d, &set, &fold, &c))
            return s;
    return -1;
}

static int
s_check_sets (const cli_folds_plan_t *p, size_t **src_of, deal_t *d, char *err, size_t errlen)
{
    size_t set, fold;
    fold_count_t c;
    if (!s_empty_fold (p, src_of, (uint64_t) p->seed, d, &set, &fold, &c))
        return SEGQ_OK;
    int64_t other = s_other_seed (p, src_of, d);
    s_deal (p, (uint64_t) p->seed, d); /* the asked seed's fold, as said */
    return s_refuse (p, d, set, fold, &c, other, err, errlen);
}

int
cli_folds_check (const cli_folds_plan_t *p, char *err, size_t errlen)
{
    if (!p->test.n && p->real.n < (size_t) p->folds)
        return segq_fail (err, errlen, SEGQ_EINVAL,
                          "--real: %zu pair%s cannot make %lld folds (fewer --folds, or more "
                          "pairs: images/NAME + masks/NAME)",
                          p->real.n, p->real.n == 1 ? "" : "s", (long long) p->folds);
    size_t n = p->real.n + 1;
    deal_t d = { .perm = calloc (n, sizeof *d.perm),
                 .fold_of = calloc (n, sizeof *d.fold_of),
                 .allowed = calloc (n, sizeof *d.allowed),
                 .folds = p->test.n ? 0 : (size_t) p->folds };
    size_t **src_of = calloc (p->n_sets + 1, sizeof *src_of);
    int rc = d.perm && d.fold_of && d.allowed && src_of ? SEGQ_OK : SEGQ_ENOMEM;
    for (size_t s = 0; s < p->n_sets && rc == SEGQ_OK; s++) {
        const cli_pair_list_t *set = p->sets [s];
        if (set && !(src_of [s] = calloc (set->n + 1, sizeof **src_of)))
            rc = SEGQ_ENOMEM;
        for (size_t i = 0; set && src_of [s] && i < set->n; i++)
            src_of [s][i] = s_match (&p->real, &set->pairs [i]);
    }
    if (rc == SEGQ_OK)
        rc = s_check_sets (p, src_of, &d, err, errlen);
    else
        snprintf (err, errlen, "out of memory");
    for (size_t s = 0; src_of && s < p->n_sets; s++)
        free (src_of [s]);
    free (src_of);
    free (d.perm);
    free (d.fold_of);
    free (d.allowed);
    return rc;
}
