/*  cli_folds.c: evaluate's k-fold checked at submit (cli_folds.h). */
#include "cli_folds.h"

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "cli_check.h"
#include "segq_error.h"
#include "segq_folds.h"

/* How far from the asked seed one that deals every fold something to
   train on is looked for. */
#define SEED_SEARCH 1000

int
cli_pair_list_add (cli_pair_list_t *list, const char *name, const char *sha)
{
    if (list->n == list->cap) {
        size_t cap = list->cap ? 2 * list->cap : 64;
        cli_pair_ref_t *grown = realloc (list->pairs, cap * sizeof *grown);
        if (!grown)
            return SEGQ_ENOMEM;
        list->pairs = grown;
        list->cap = cap;
    }
    cli_pair_ref_t *pair = &list->pairs [list->n];
    if (!(pair->name = strdup (name ? name : "")))
        return SEGQ_ENOMEM;
    snprintf (pair->sha, sizeof pair->sha, "%s", sha ? sha : "");
    list->n++;
    return SEGQ_OK;
}

/* Appends a pair of a set as evaluate matches it: a real pair by its
   image (hashed), a synthetic one (man given) by the source image its
   manifest row names. SEGQ_EIO, SEGQ_ENOMEM. */
static int
s_add_pair (cli_pair_list_t *list, const segq_dataset_pair_t *pair, const segq_manifest_t *man)
{
    char sha [SEGQ_HASH_HEX_LEN + 1] = "";
    if (!man)
        return segq_sha256_file (pair->image_path, sha) == 0
                   ? cli_pair_list_add (list, pair->name, sha)
                   : SEGQ_EIO;
    const char *src = segq_manifest_get (man, pair->name, "source_image");
    char *stem = segq_dataset_stem (src ? src : "");
    int rc = stem ? cli_pair_list_add (list, stem,
                                       segq_manifest_get (man, pair->name, "source_image_sha256"))
                  : SEGQ_ENOMEM;
    free (stem);
    return rc;
}

int
cli_pair_list_add_source (cli_pair_list_t *list, const char *path)
{
    char sha [SEGQ_HASH_HEX_LEN + 1] = "";
    char *stem = segq_dataset_stem (path);
    int rc = !stem                               ? SEGQ_ENOMEM
             : segq_sha256_file (path, sha) != 0 ? SEGQ_EIO
                                                 : cli_pair_list_add (list, stem, sha);
    free (stem);
    return rc;
}

/* One part of a set folder into list (see cli_pair_list_add_dir). */
static int
s_add_part (cli_pair_list_t *list, const char *dir, bool synthetic, char *err, size_t errlen)
{
    segq_dataset_t *ds = NULL;
    segq_manifest_t *man = NULL;
    int rc = segq_dataset_open (dir, &ds, err, errlen);
    if (rc == SEGQ_OK && synthetic)
        rc = segq_manifest_read_set (dir, "--synthetic", &man, err, errlen);
    for (size_t i = 0; rc == SEGQ_OK && i < segq_dataset_count (ds); i++) {
        const segq_dataset_pair_t *pair = segq_dataset_pair (ds, i);
        if ((rc = s_add_pair (list, pair, man)) != SEGQ_OK)
            snprintf (err, errlen, "%s: %s", pair->image_path, segq_strerror (rc));
    }
    segq_manifest_destroy (&man);
    segq_dataset_destroy (&ds);
    return rc;
}

int
cli_pair_list_add_dir (cli_pair_list_t *list, const char *dir, bool synthetic, char *err,
                       size_t errlen)
{
    char **parts = NULL;
    size_t n_parts = 0;
    int rc = segq_dataset_parts (dir, &parts, &n_parts, err, errlen);
    for (size_t k = 0; k < n_parts && rc == SEGQ_OK; k++)
        rc = s_add_part (list, parts [k], synthetic, err, errlen);
    segq_dataset_parts_free (&parts, n_parts);
    return rc;
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

/* A pair's source, as src_of holds it: the real pair it is (r < n_real),
   or none of them but a --test pair (TEST_IMAGE), or neither (NO_PAIR). */
#define NO_PAIR(p)    ((p)->real.n)
#define TEST_IMAGE(p) ((p)->real.n + 1)

/* Whether a pair made from source r is kept out of fold f as derived from
   an image f tests (or a --test image). */
static bool
s_tested (const cli_folds_plan_t *p, const deal_t *d, size_t r, size_t f)
{
    return r < p->real.n ? d->fold_of [r] == f : r == TEST_IMAGE (p);
}

/* How many pairs of set (their real sources in src_of) train in fold f. */
static size_t
s_trains (const cli_folds_plan_t *p, const cli_pair_list_t *set, const size_t *src_of, deal_t *d,
          size_t f)
{
    size_t trains = 0;
    segq_folds_training (p->real.n, d->perm, d->folds, f, (uint64_t) p->real_limit, d->allowed);
    for (size_t i = 0; i < set->n; i++)
        trains +=
            src_of [i] < p->real.n && d->allowed [src_of [i]] && !s_tested (p, d, src_of [i], f);
    return trains;
}

/* The first set and fold with no synthetic pair to train on when the
   real pairs are dealt with `seed`; false when every fold has some. */
static bool
s_empty_fold (const cli_folds_plan_t *p, size_t **src_of, uint64_t seed, deal_t *d, size_t *set,
              size_t *fold)
{
    s_deal (p, seed, d);
    for (size_t s = 0; s < p->n_sets; s++)
        for (size_t f = 0; p->sets [s] && f < (d->folds ? d->folds : 1); f++)
            if (s_trains (p, p->sets [s], src_of [s], d, f) == 0) {
                *set = s;
                *fold = f;
                return true;
            }
    return false;
}

/* The different images a set's pairs come from, in two kinds: those fold
   f tests and the others (no real pair, or one --real-limit leaves out),
   with the names of a few of the first kind. On the refusal's path
   only: quadratic in the set's pairs. */
typedef struct {
    size_t tested, other;
    char names [256];
} images_t;

static images_t
s_images (const cli_folds_plan_t *p, const deal_t *d, const cli_pair_list_t *set,
          const size_t *src_of, size_t f)
{
    images_t im = { 0 };
    for (size_t i = 0; i < set->n; i++) {
        size_t j = 0, r = src_of [i];
        while (j < i
               && (src_of [j] != r
                   || (r >= p->real.n && strcmp (set->pairs [j].name, set->pairs [i].name))))
            j++;
        if (j < i)
            continue; /* an image counted already */
        bool tested = s_tested (p, d, r, f);
        size_t used = strlen (im.names);
        if (tested && im.tested < 3)
            snprintf (im.names + used, sizeof im.names - used, "%s%s", used ? ", " : "",
                      set->pairs [i].name);
        im.tested += tested;
        im.other += !tested;
    }
    return im;
}

/* The refusal: which set, which fold, why, and what would do. */
static int
s_refuse (const cli_folds_plan_t *p, const deal_t *d, size_t set, size_t fold, const size_t *src_of,
          int64_t other_seed, char *err, size_t errlen)
{
    char where [160], limit [64] = "", offer [900], named [300] = "";
    if (d->folds)
        snprintf (where, sizeof where, "in fold %zu of %zu (%s %lld)", fold + 1, d->folds,
                  p->seed_flag, (long long) p->seed);
    else
        snprintf (where, sizeof where, "with --test");
    if (p->real_limit)
        snprintf (limit, sizeof limit, " (within --real-limit %lld)", (long long) p->real_limit);
    if (other_seed >= 0)
        snprintf (offer, sizeof offer, "%s %lld deals the pairs so that every fold trains",
                  p->seed_flag, (long long) other_seed);
    else if (p->advice)
        snprintf (offer, sizeof offer, "%s", p->advice);
    else
        snprintf (offer, sizeof offer,
                  "make the set from %s's own images, from two folds or more (manifest.csv "
                  "names each pair's source image)%s",
                  p->real_flag, d->folds ? ", or evaluate on a fixed --test set" : "");
    images_t im = s_images (p, d, p->sets [set], src_of, fold);
    if (im.tested)
        snprintf (named, sizeof named, " (%s%s)", im.names, im.tested > 3 ? ", ..." : "");
    return segq_fail (err, errlen, SEGQ_EINVAL,
                      "%s: %s no synthetic pair would train: they come from %zu image%s %s%s and "
                      "%zu not among %s's training pairs%s. evaluate would fail there, after "
                      "training what comes before it: %s",
                      p->set_names [set], where, im.tested, im.tested == 1 ? "" : "s",
                      d->folds ? "that fold tests" : "in --test", named, im.other, p->real_flag,
                      limit, offer);
}

/* A seed near the plan's that leaves no fold empty, or -1 (also where
   the seed changes nothing: a --test set and no --real-limit). */
static int64_t
s_other_seed (const cli_folds_plan_t *p, size_t **src_of, deal_t *d)
{
    size_t set, fold;
    for (int64_t s = p->seed + 1; (d->folds || p->real_limit) && s <= p->seed + SEED_SEARCH; s++)
        if (!s_empty_fold (p, src_of, (uint64_t) s, d, &set, &fold))
            return s;
    return -1;
}

static int
s_check_sets (const cli_folds_plan_t *p, size_t **src_of, deal_t *d, char *err, size_t errlen)
{
    size_t set, fold;
    if (!s_empty_fold (p, src_of, (uint64_t) p->seed, d, &set, &fold))
        return SEGQ_OK;
    int64_t other = s_other_seed (p, src_of, d);
    s_deal (p, (uint64_t) p->seed, d); /* the asked seed's fold, as said */
    return s_refuse (p, d, set, fold, src_of [set], other, err, errlen);
}

int
cli_folds_check (const cli_folds_plan_t *p, char *err, size_t errlen)
{
    if (!p->test.n && p->real.n < (size_t) p->folds)
        return segq_fail (err, errlen, SEGQ_EINVAL,
                          "%s: %zu real pair%s cannot make %lld folds (fewer folds, or more "
                          "pairs: images/NAME + masks/NAME)",
                          p->real_flag, p->real.n, p->real.n == 1 ? "" : "s", (long long) p->folds);
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
        for (size_t i = 0; set && src_of [s] && i < set->n; i++) {
            /* what a pair's source is does not change with the seed */
            size_t r = s_match (&p->real, &set->pairs [i]);
            bool test = r == NO_PAIR (p) && s_match (&p->test, &set->pairs [i]) < p->test.n;
            src_of [s][i] = test ? TEST_IMAGE (p) : r;
        }
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

/* ---- an evaluate job's sets ---- */

/* job's input `name` (or one laid out under name/), or NULL. */
static const segq_input_t *
s_input_named (const segq_job_info_t *job, const char *name)
{
    for (size_t i = 0; i < job->n_inputs; i++)
        if (segq_input_under (job->inputs [i].name, name))
            return &job->inputs [i];
    return NULL;
}

/* Training job `id`'s image, as the manifests of its model's pairs name
   it, appended to list. */
static int
s_training_image (segq_client_t *client, const char *id, cli_pair_list_t *list)
{
    segq_job_info_t train = { 0 };
    int rc = segq_client_job (client, id, false, &train);
    const segq_input_t *image =
        rc == 0 && strcmp (train.kind, "train") == 0 ? s_input_named (&train, "image") : NULL;
    const char *file = !image                      ? NULL
                       : strchr (image->name, '/') ? strchr (image->name, '/') + 1
                                                   : image->output;
    char *stem = file ? segq_dataset_stem (file) : NULL;
    rc = !image || !file ? SEGQ_ENOENT
         : !stem         ? SEGQ_ENOMEM
                         : cli_pair_list_add (list, stem, image->hash);
    free (stem);
    segq_job_info_clear (&train);
    return rc;
}

/* Catalogue model `id`'s training image, as the catalogue shows it to
   those the model is shared with too, appended to list. */
static int
s_model_image (segq_client_t *client, const char *id, cli_pair_list_t *list)
{
    segq_model_request_t request = { .op = SEGQ_MODEL_SHOW, .model = id };
    segq_model_info_t *models = NULL;
    size_t n = 0;
    int rc = segq_client_model (client, &request, &models, &n);
    char *stem =
        rc == 0 && n == 1 && models [0].image ? segq_dataset_stem (models [0].image) : NULL;
    if (rc == 0)
        rc = stem ? cli_pair_list_add (list, stem, models [0].image_hash) : SEGQ_ENOENT;
    free (stem);
    segq_models_free (&models, n);
    return rc;
}

static int s_ref_sources (segq_client_t *client, const char *ref, int depth, cli_pair_list_t *list);

/* The training images job `id`'s pairs come from, appended to list: a
   generate job's, its model's (as the catalogue shows it, or its
   training job's input); a stylize job's, its content's. 0, or
   SEGQ_ENOENT when they cannot be known (a model given as a checkpoint
   file, another kind, a job the caller is not shown). */
static int
s_job_sources (segq_client_t *client, const char *id, int depth, cli_pair_list_t *list)
{
    segq_job_info_t job = { 0 };
    int rc = segq_client_job (client, id, false, &job);
    const segq_input_t *in = NULL;
    if (rc == 0 && strcmp (job.kind, "generate") == 0 && (in = s_input_named (&job, "model")))
        rc = in->model ? s_model_image (client, in->model, list)
             : in->job ? s_training_image (client, in->job, list)
                       : SEGQ_ENOENT;
    else if (rc == 0 && strcmp (job.kind, "stylize") == 0 && depth == 0
             && (in = s_input_named (&job, "content")) && in->job)
        rc = s_ref_sources (client, in->job, depth + 1, list);
    else if (rc == 0)
        rc = SEGQ_ENOENT;
    segq_job_info_clear (&job);
    return rc;
}

/* A set given as JOB, JOB:OUTPUT or ARRAY: its training images. */
static int
s_ref_sources (segq_client_t *client, const char *ref, int depth, cli_pair_list_t *list)
{
    char id [64];
    snprintf (id, sizeof id, "%.*s", (int) strcspn (ref, ":"), ref);
    if (!segq_array_id (id))
        return s_job_sources (client, id, depth, list);
    segq_array_info_t array = { 0 };
    int rc = segq_client_array (client, id, &array);
    for (size_t k = 0; rc == 0 && k < array.n_jobs; k++)
        rc = s_job_sources (client, array.jobs [k], depth, list);
    segq_array_info_clear (&array);
    return rc;
}

static bool
s_is_dir (const char *path)
{
    struct stat st;
    return stat (path, &st) == 0 && S_ISDIR (st.st_mode);
}

/* An evaluate job's sets as cli_folds_check reads them. */
typedef struct {
    cli_pair_list_t real, test, *synthetic; /* synthetic: one per input at most */
    const cli_pair_list_t **known;          /* each synthetic set's, NULL: unknown */
    const char **names;                     /* "--synthetic NAME", in labels */
    char (*labels) [96];
    size_t n_synthetic;
} job_sets_t;

/* Input i of s into sets (a set of many files: local, or by reference). */
static int
s_add_input (segq_client_t *client, const cli_typed_input_t *in, job_sets_t *sets, char *err,
             size_t errlen)
{
    bool real = strcmp (in->spec->name, "real") == 0, test = strcmp (in->spec->name, "test") == 0;
    bool local = s_is_dir (in->ref);
    if (real || test)
        return cli_pair_list_add_dir (real ? &sets->real : &sets->test, in->ref, false, err,
                                      errlen);
    if (!in->spec->sets)
        return SEGQ_OK;
    size_t k = sets->n_synthetic++;
    snprintf (sets->labels [k], sizeof sets->labels [k], "--synthetic %s", in->set);
    sets->names [k] = sets->labels [k];
    cli_pair_list_t *list = &sets->synthetic [k];
    int rc = local ? cli_pair_list_add_dir (list, in->ref, true, err, errlen)
                   : s_ref_sources (client, in->ref, 0, list);
    if (!local && rc != SEGQ_OK) { /* its sources cannot be known here */
        cli_pair_list_clear (list);
        return SEGQ_OK;
    }
    sets->known [k] = list;
    return rc;
}

static void
s_job_sets_clear (job_sets_t *sets)
{
    cli_pair_list_clear (&sets->real);
    cli_pair_list_clear (&sets->test);
    for (size_t k = 0; sets->synthetic && k < sets->n_synthetic; k++)
        cli_pair_list_clear (&sets->synthetic [k]);
    free (sets->synthetic);
    free (sets->known);
    free (sets->names);
    free (sets->labels);
}

/* Whether the real pairs (and the test pairs, if any) are local folders:
   without them, nothing to deal, nothing to ask the broker. */
static bool
s_real_local (const cli_submit_args_t *s)
{
    bool real = false, remote = false;
    for (size_t i = 0; i < s->n_inputs; i++) {
        const char *name = s->inputs [i].spec->name;
        if (strcmp (name, "real") == 0 || strcmp (name, "test") == 0) {
            real |= strcmp (name, "real") == 0;
            remote |= !s_is_dir (s->inputs [i].ref);
        }
    }
    return real && !remote;
}

int
cli_folds_check_job (segq_client_t *client, const cli_submit_args_t *s, char *err, size_t errlen)
{
    if (!s_real_local (s))
        return SEGQ_OK;
    size_t n = s->n_inputs + 1;
    job_sets_t sets = { .synthetic = calloc (n, sizeof *sets.synthetic),
                        .known = calloc (n, sizeof *sets.known),
                        .names = calloc (n, sizeof *sets.names),
                        .labels = calloc (n, sizeof *sets.labels) };
    segq_params_t params = { 0 };
    int rc = sets.synthetic && sets.known && sets.names && sets.labels
                 ? cli_check_params (s, &params, err, errlen)
                 : segq_fail (err, errlen, SEGQ_ENOMEM, "out of memory");
    for (size_t i = 0; i < s->n_inputs && rc == SEGQ_OK; i++)
        rc = s_add_input (client, &s->inputs [i], &sets, err, errlen);
    cli_folds_plan_t plan = { .real = sets.real,
                              .test = sets.test,
                              .folds = cli_check_param_int (&params, "folds"),
                              .seed = cli_check_param_int (&params, "seed"),
                              .real_limit = cli_check_param_int (&params, "real_limit"),
                              .n_sets = sets.n_synthetic,
                              .set_names = sets.names,
                              .sets = sets.known,
                              .real_flag = "--real",
                              .seed_flag = "--seed" };
    if (rc == SEGQ_OK)
        rc = cli_folds_check (&plan, err, errlen);
    segq_params_clear (&params);
    s_job_sets_clear (&sets);
    return rc;
}
