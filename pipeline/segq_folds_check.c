/* segq_folds_check.c: evaluate's k-fold checked before anything trains
 * (segq_folds_check.h). */
#include "segq_folds_check.h"

#include "segq_error.h"
#include "segq_folds.h"

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* How far from the asked seed one that deals every fold something to
 * train on is looked for. */
#define SEED_SEARCH 1000

int segq_pair_list_add(segq_pair_list_t *list, const char *name, const char *sha)
{
    if (list->n == list->cap) {
        size_t cap = list->cap ? 2 * list->cap : 64;
        segq_pair_ref_t *grown = realloc(list->pairs, cap * sizeof *grown);
        if (!grown)
            return SEGQ_ENOMEM;
        list->pairs = grown;
        list->cap = cap;
    }
    segq_pair_ref_t *pair = &list->pairs[list->n];
    if (!(pair->name = strdup(name ? name : "")))
        return SEGQ_ENOMEM;
    snprintf(pair->sha, sizeof pair->sha, "%s", sha ? sha : "");
    list->n++;
    return SEGQ_OK;
}

void segq_pair_list_clear(segq_pair_list_t *list)
{
    for (size_t i = 0; i < list->n; i++)
        free(list->pairs[i].name);
    free(list->pairs);
    *list = (segq_pair_list_t){0};
}

/* Where in `list` the pair a source image is: by sha256, else by name,
 * as segq-run evaluate matches them; list->n when none. */
static size_t find_pair(const segq_pair_list_t *list, const segq_pair_ref_t *src)
{
    for (size_t r = 0; *src->sha && r < list->n; r++)
        if (strcmp(list->pairs[r].sha, src->sha) == 0)
            return r;
    for (size_t r = 0; r < list->n; r++)
        if (strcmp(list->pairs[r].name, src->name) == 0)
            return r;
    return list->n;
}

/* Scratch for one dealing of the real pairs. */
typedef struct {
    size_t *perm, *fold_of; /* fold_of[r]: the fold that tests real pair r */
    bool *allowed;          /* the real pairs that train in the fold at hand */
    size_t folds;           /* 0: a fixed --test set, no folds */
} deal_t;

static void deal_pairs(const segq_folds_plan_t *p, uint64_t seed, deal_t *d)
{
    segq_folds_shuffle(p->real.n, seed, d->perm);
    for (size_t k = 0; k < p->real.n; k++)
        d->fold_of[d->perm[k]] = d->folds ? k % d->folds : SIZE_MAX;
}

/* A pair's source, as src_of holds it: the real pair it is (r < n_real),
 * or none of them but a --test pair (TEST_IMAGE), or neither (NO_PAIR). */
#define NO_PAIR(p) ((p)->real.n)
#define TEST_IMAGE(p) ((p)->real.n + 1)

/* Whether a pair made from source r is kept out of fold f as derived from
 * an image f tests (or a --test image). */
static bool kept_out(const segq_folds_plan_t *p, const deal_t *d, size_t r, size_t f)
{
    return r < p->real.n ? d->fold_of[r] == f : r == TEST_IMAGE(p);
}

/* How many pairs of set (their real sources in src_of) train in fold f. */
static size_t count_training(const segq_folds_plan_t *p, const segq_pair_list_t *set,
                             const size_t *src_of, deal_t *d, size_t f)
{
    size_t trains = 0;
    segq_folds_training(p->real.n, d->perm, d->folds, f, (uint64_t)p->real_limit, d->allowed);
    for (size_t i = 0; i < set->n; i++)
        trains += src_of[i] < p->real.n && d->allowed[src_of[i]] && !kept_out(p, d, src_of[i], f);
    return trains;
}

/* The first set and fold with no synthetic pair to train on when the
 * real pairs are dealt with `seed`; false when every fold has some. */
static bool find_empty_fold(const segq_folds_plan_t *p, size_t **src_of, uint64_t seed, deal_t *d,
                            size_t *set, size_t *fold)
{
    deal_pairs(p, seed, d);
    for (size_t s = 0; s < p->n_sets; s++)
        for (size_t f = 0; p->sets[s] && f < (d->folds ? d->folds : 1); f++)
            if (count_training(p, p->sets[s], src_of[s], d, f) == 0) {
                *set = s;
                *fold = f;
                return true;
            }
    return false;
}

/* The different images a set's pairs come from, in two kinds: those fold
 * f tests and the others (no real pair, or one --real-limit leaves out),
 * with the names of a few of the first kind. On the refusal's path
 * only: quadratic in the set's pairs. */
typedef struct {
    size_t tested, other;
    char names[256];
} images_t;

static images_t source_images(const segq_folds_plan_t *p, const deal_t *d,
                              const segq_pair_list_t *set, const size_t *src_of, size_t f)
{
    images_t im = {0};
    for (size_t i = 0; i < set->n; i++) {
        size_t j = 0, r = src_of[i];
        while (j < i
               && (src_of[j] != r
                   || (r >= p->real.n && strcmp(set->pairs[j].name, set->pairs[i].name))))
            j++;
        if (j < i)
            continue; /* an image counted already */
        bool tested = kept_out(p, d, r, f);
        size_t used = strlen(im.names);
        if (tested && im.tested < 3)
            snprintf(im.names + used, sizeof im.names - used, "%s%s", used ? ", " : "",
                     set->pairs[i].name);
        im.tested += tested;
        im.other += !tested;
    }
    return im;
}

/* The refusal: which set, which fold, why, and what would do. */
static int refuse_fold(const segq_folds_plan_t *p, const deal_t *d, size_t set, size_t fold,
                       const size_t *src_of, int64_t other_seed, char *err, size_t errlen)
{
    char where[160], limit[64] = "", offer[900], named[300] = "";
    if (d->folds)
        snprintf(where, sizeof where, "in fold %zu of %zu (%s %lld)", fold + 1, d->folds,
                 p->seed_flag, (long long)p->seed);
    else
        snprintf(where, sizeof where, "with --test");
    if (p->real_limit)
        snprintf(limit, sizeof limit, " (within --real-limit %lld)", (long long)p->real_limit);
    if (other_seed >= 0)
        snprintf(offer, sizeof offer, "%s %lld deals the pairs so that every fold trains",
                 p->seed_flag, (long long)other_seed);
    else if (p->advice)
        snprintf(offer, sizeof offer, "%s", p->advice);
    else
        snprintf(offer, sizeof offer,
                 "make the set from %s's own images, from two folds or more (manifest.csv "
                 "names each pair's source image)%s",
                 p->real_flag, d->folds ? ", or evaluate on a fixed --test set" : "");
    images_t im = source_images(p, d, p->sets[set], src_of, fold);
    if (im.tested)
        snprintf(named, sizeof named, " (%s%s)", im.names, im.tested > 3 ? ", ..." : "");
    return segq_fail(err, errlen, SEGQ_EINVAL,
                     "%s: %s no synthetic pair would train: they come from %zu image%s %s%s and "
                     "%zu not among %s's training pairs%s. evaluate would fail there, after "
                     "training what comes before it: %s",
                     p->set_names[set], where, im.tested, im.tested == 1 ? "" : "s",
                     d->folds ? "that fold tests" : "in --test", named, im.other, p->real_flag,
                     limit, offer);
}

/* A seed near the plan's that leaves no fold empty, or -1 (also where
 * the seed changes nothing: a --test set and no --real-limit). */
static int64_t find_other_seed(const segq_folds_plan_t *p, size_t **src_of, deal_t *d)
{
    size_t set, fold;
    for (int64_t s = p->seed + 1; (d->folds || p->real_limit) && s <= p->seed + SEED_SEARCH; s++)
        if (!find_empty_fold(p, src_of, (uint64_t)s, d, &set, &fold))
            return s;
    return -1;
}

static int check_sets(const segq_folds_plan_t *p, size_t **src_of, deal_t *d, char *err,
                      size_t errlen)
{
    size_t set, fold;
    if (!find_empty_fold(p, src_of, (uint64_t)p->seed, d, &set, &fold))
        return SEGQ_OK;
    int64_t other = find_other_seed(p, src_of, d);
    deal_pairs(p, (uint64_t)p->seed, d); /* the asked seed's fold, as said */
    return refuse_fold(p, d, set, fold, src_of[set], other, err, errlen);
}

int segq_folds_check(const segq_folds_plan_t *p, char *err, size_t errlen)
{
    if (!p->test.n && p->real.n < (size_t)p->folds)
        return segq_fail(err, errlen, SEGQ_EINVAL,
                         "%s: %zu real pair%s cannot make %lld folds (fewer folds, or more "
                         "pairs: images/NAME + masks/NAME)",
                         p->real_flag, p->real.n, p->real.n == 1 ? "" : "s", (long long)p->folds);
    size_t n = p->real.n + 1;
    deal_t d = {.perm = calloc(n, sizeof *d.perm),
                .fold_of = calloc(n, sizeof *d.fold_of),
                .allowed = calloc(n, sizeof *d.allowed),
                .folds = p->test.n ? 0 : (size_t)p->folds};
    size_t **src_of = calloc(p->n_sets + 1, sizeof *src_of);
    int rc = d.perm && d.fold_of && d.allowed && src_of ? SEGQ_OK : SEGQ_ENOMEM;
    for (size_t s = 0; s < p->n_sets && rc == SEGQ_OK; s++) {
        const segq_pair_list_t *set = p->sets[s];
        if (set && !(src_of[s] = calloc(set->n + 1, sizeof **src_of)))
            rc = SEGQ_ENOMEM;
        for (size_t i = 0; set && src_of[s] && i < set->n; i++) {
            /* what a pair's source is does not change with the seed */
            size_t r = find_pair(&p->real, &set->pairs[i]);
            bool test = r == NO_PAIR(p) && find_pair(&p->test, &set->pairs[i]) < p->test.n;
            src_of[s][i] = test ? TEST_IMAGE(p) : r;
        }
    }
    if (rc == SEGQ_OK)
        rc = check_sets(p, src_of, &d, err, errlen);
    else
        snprintf(err, errlen, "out of memory");
    for (size_t s = 0; src_of && s < p->n_sets; s++)
        free(src_of[s]);
    free(src_of);
    free(d.perm);
    free(d.fold_of);
    free(d.allowed);
    return rc;
}
