/*  cli_folds.c: evaluate's k-fold checked at submit (cli_folds.h). */
#include "cli_folds.h"

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "cli_check.h"
#include "segq_error.h"

/* Appends a pair of a set as evaluate matches it: a real pair by its
   image (hashed), a synthetic one (man given) by the source image its
   manifest row names. SEGQ_EIO, SEGQ_ENOMEM. */
static int
s_add_pair (segq_pair_list_t *list, const segq_dataset_pair_t *pair, const segq_manifest_t *man)
{
    char sha [SEGQ_HASH_HEX_LEN + 1] = "";
    if (!man)
        return segq_sha256_file (pair->image_path, sha) == 0
                   ? segq_pair_list_add (list, pair->name, sha)
                   : SEGQ_EIO;
    const char *src = segq_manifest_get (man, pair->name, "source_image");
    char *stem = segq_dataset_stem (src ? src : "");
    int rc = stem ? segq_pair_list_add (list, stem,
                                        segq_manifest_get (man, pair->name, "source_image_sha256"))
                  : SEGQ_ENOMEM;
    free (stem);
    return rc;
}

int
cli_pair_list_add_source (segq_pair_list_t *list, const char *path)
{
    char sha [SEGQ_HASH_HEX_LEN + 1] = "";
    char *stem = segq_dataset_stem (path);
    int rc = !stem                               ? SEGQ_ENOMEM
             : segq_sha256_file (path, sha) != 0 ? SEGQ_EIO
                                                 : segq_pair_list_add (list, stem, sha);
    free (stem);
    return rc;
}

/* One part of a set folder into list (see cli_pair_list_add_dir). */
static int
s_add_part (segq_pair_list_t *list, const char *dir, bool synthetic, char *err, size_t errlen)
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
cli_pair_list_add_dir (segq_pair_list_t *list, const char *dir, bool synthetic, char *err,
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
s_training_image (segq_client_t *client, const char *id, segq_pair_list_t *list)
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
                         : segq_pair_list_add (list, stem, image->hash);
    free (stem);
    segq_job_info_clear (&train);
    return rc;
}

/* Catalogue model `id`'s training image, as the catalogue shows it to
   those the model is shared with too, appended to list. */
static int
s_model_image (segq_client_t *client, const char *id, segq_pair_list_t *list)
{
    segq_model_request_t request = { .op = SEGQ_MODEL_SHOW, .model = id };
    segq_model_info_t *models = NULL;
    size_t n = 0;
    int rc = segq_client_model (client, &request, &models, &n);
    char *stem =
        rc == 0 && n == 1 && models [0].image ? segq_dataset_stem (models [0].image) : NULL;
    if (rc == 0)
        rc = stem ? segq_pair_list_add (list, stem, models [0].image_hash) : SEGQ_ENOENT;
    free (stem);
    segq_models_free (&models, n);
    return rc;
}

static int s_ref_sources (segq_client_t *client, const char *ref, int depth,
                          segq_pair_list_t *list);

/* The training images job `id`'s pairs come from, appended to list: a
   generate job's, its model's (as the catalogue shows it, or its
   training job's input); a stylize job's, its content's. 0, or
   SEGQ_ENOENT when they cannot be known (a model given as a checkpoint
   file, another kind, a job the caller is not shown). */
static int
s_job_sources (segq_client_t *client, const char *id, int depth, segq_pair_list_t *list)
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
s_ref_sources (segq_client_t *client, const char *ref, int depth, segq_pair_list_t *list)
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

/* An evaluate job's sets as segq_folds_check reads them. */
typedef struct {
    segq_pair_list_t real, test, *synthetic; /* synthetic: one per input at most */
    const segq_pair_list_t **known;          /* each synthetic set's, NULL: unknown */
    const char **names;                      /* "--synthetic NAME", in labels */
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
    segq_pair_list_t *list = &sets->synthetic [k];
    int rc = local ? cli_pair_list_add_dir (list, in->ref, true, err, errlen)
                   : s_ref_sources (client, in->ref, 0, list);
    if (!local && rc != SEGQ_OK) { /* its sources cannot be known here */
        segq_pair_list_clear (list);
        return SEGQ_OK;
    }
    sets->known [k] = list;
    return rc;
}

static void
s_job_sets_clear (job_sets_t *sets)
{
    segq_pair_list_clear (&sets->real);
    segq_pair_list_clear (&sets->test);
    for (size_t k = 0; sets->synthetic && k < sets->n_synthetic; k++)
        segq_pair_list_clear (&sets->synthetic [k]);
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
    segq_folds_plan_t plan = { .real = sets.real,
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
        rc = segq_folds_check (&plan, err, errlen);
    segq_params_clear (&params);
    s_job_sets_clear (&sets);
    return rc;
}
