/*  The catalogue of trained models (models.c) on a real job store, and
    the access rule as a table of (caller, owner, share, form) -> verdict.

    Alice's training job 3 (image/polyp_01.png, mask/polyp_01.png; output
    model.safetensors = CKPT) is model m-0003; bob owns job 4, a generate
    that took it by name; root is an admin, carol a stranger. */
#include "access.h"
#include "broker_test_store.h"
#include "broker_test_util.h"
#include "job_store.h"
#include "models.h"
#include "retention.h"
#include "segq_proto.h"
#include "segq_sha256.h"
#include <sqlite3.h>
#include <string.h>

static char IMAGE [SEGQ_HASH_HEX_LEN + 1], CKPT [SEGQ_HASH_HEX_LEN + 1];
static char dir [256], path [300];
static segq__job_store_t *store;
static segq__artifact_store_t *artifacts;
static segq__access_t *access_rule;
static segq__models_t *models;

static void
s_job (uint64_t id, const char *owner, const char *kind, const char *name)
{
    segq__job_row_t row = { .id = id,
                            .owner = owner,
                            .kind = kind,
                            .state = SEGQ_JOB_SUCCEEDED,
                            .max_attempts = 1,
                            .created = 1700000000.0,
                            .gpu = -1 };
    segq_params_t params = { 0 };
    segq_value_t value = { .type = SEGQ_PARAM_STRING, .s = (char *) name };
    if (name)
        cr_assert_eq (segq_params_set (&params, "name", &value), 0);
    cr_assert_eq (segq__job_store_insert_job (store, &row, &params), 0);
    segq_params_clear (&params);
}

/* A succeeded training of alice's, registered as its broker would. */
static uint64_t
s_training (uint64_t id, const char *name)
{
    cr_assert_eq (segq__job_store_begin (store), 0);
    s_job (id, "alice", "train", name);
    segq__input_row_t image = { .name = "image/polyp_01.png", .hash = IMAGE, .size = 7 };
    cr_assert_eq (segq__job_store_insert_input (store, id, 0, &image), 0);
    segq_artifact_t output = { .name = "model.safetensors", .size = 12 };
    memcpy (output.hash, CKPT, sizeof output.hash);
    cr_assert_eq (segq__job_store_insert_output (store, id, &output), 0);
    segq__model_shape_t shape = { 9, 188, 250, 9 };
    cr_assert_eq (segq__models_register (models, id, &shape, 1700000100.0), 0);
    return id;
}

static void
s_open (void)
{
    char err [512] = "";
    store = segq__job_store_open (path, err, sizeof err);
    cr_assert_not_null (store, "%s", err);
    access_rule = segq__access_new (store, artifacts, err, sizeof err);
    cr_assert_not_null (access_rule, "%s", err);
    models = segq__models_new (store, err, sizeof err);
    cr_assert_not_null (models, "%s", err);
}

static void
s_close (void)
{
    segq__models_destroy (&models);
    segq__access_destroy (&access_rule);
    segq__job_store_destroy (&store);
}

static void
s_commit (void)
{
    char err [512] = "";
    cr_assert_eq (segq__job_store_commit (store, err, sizeof err), 0, "%s", err);
}

static void
setup (void)
{
    test_tmpdir (dir, sizeof dir);
    snprintf (path, sizeof path, "%s/segq.db", dir);
    char err [512] = "";
    artifacts = segq__artifact_store_new (dir, err, sizeof err);
    cr_assert_not_null (artifacts, "%s", err);
    test_store (artifacts, "a polyp", IMAGE);
    test_store (artifacts, "a checkpoint", CKPT);
    s_open ();
    s_training (3, NULL);
    s_commit ();
}

static void
teardown (void)
{
    s_close ();
    segq__artifact_store_destroy (&artifacts);
    test_rmdir (dir);
}

/* One MODEL request as caller; rc, the reply freed. */
static int
s_request (const char *user, bool admin, segq_model_op_t op, const char *model, const char *value,
           const char *with, bool lab, char *err, size_t errlen)
{
    segq__caller_t caller = { .user = user, .admin = admin };
    char *users [] = { (char *) with };
    segq_model_t request = { .op = op,
                             .model = (char *) model,
                             .value = (char *) value,
                             .users = with ? users : NULL,
                             .n_users = with ? 1 : 0,
                             .lab = lab };
    segq_model_reply_t reply = { 0 };
    cr_assert_eq (segq__job_store_begin (store), 0);
    int rc = segq__models_request (models, &caller, &request, &reply, err, errlen);
    s_commit ();
    segq_models_free (&reply.models, reply.n_models);
    free (reply.next);
    return rc;
}

/* ---- the rule itself ---- */

typedef struct {
    const char *caller;
    bool admin;
    const char *owner;
    segq__share_t share;
    segq__form_t form;
    bool verdict;
} rule_row_t;

static const rule_row_t s_rule [] = {
    /* the owner, every form, shared or not */
    { "alice", false, "alice", SEGQ__SHARE_NONE, SEGQ__FORM_MODEL, true },
    { "alice", false, "alice", SEGQ__SHARE_NONE, SEGQ__FORM_JOB, true },
    { "alice", false, "alice", SEGQ__SHARE_NONE, SEGQ__FORM_ARRAY, true },
    { "alice", false, "alice", SEGQ__SHARE_NONE, SEGQ__FORM_HASH, true },
    { "alice", false, "alice", SEGQ__SHARE_USER, SEGQ__FORM_CHANGE, true },
    /* another user, unshared: nothing */
    { "bob", false, "alice", SEGQ__SHARE_NONE, SEGQ__FORM_MODEL, false },
    { "bob", false, "alice", SEGQ__SHARE_NONE, SEGQ__FORM_JOB, false },
    { "bob", false, "alice", SEGQ__SHARE_NONE, SEGQ__FORM_HASH, false },
    /* shared with bob, or the lab: the model form only */
    { "bob", false, "alice", SEGQ__SHARE_USER, SEGQ__FORM_MODEL, true },
    { "bob", false, "alice", SEGQ__SHARE_LAB, SEGQ__FORM_MODEL, true },
    { "bob", false, "alice", SEGQ__SHARE_USER, SEGQ__FORM_JOB, false },
    { "bob", false, "alice", SEGQ__SHARE_USER, SEGQ__FORM_ARRAY, false },
    { "bob", false, "alice", SEGQ__SHARE_USER, SEGQ__FORM_HASH, false },
    { "bob", false, "alice", SEGQ__SHARE_LAB, SEGQ__FORM_HASH, false },
    { "bob", false, "alice", SEGQ__SHARE_USER, SEGQ__FORM_CHANGE, false },
    { "bob", false, "alice", SEGQ__SHARE_LAB, SEGQ__FORM_CHANGE, false },
    /* an admin: everything */
    { "root", true, "alice", SEGQ__SHARE_NONE, SEGQ__FORM_MODEL, true },
    { "root", true, "alice", SEGQ__SHARE_NONE, SEGQ__FORM_HASH, true },
    { "root", true, "alice", SEGQ__SHARE_NONE, SEGQ__FORM_CHANGE, true },
    /* nobody (no name) is no one, even where the lab may */
    { NULL, false, "alice", SEGQ__SHARE_LAB, SEGQ__FORM_MODEL, false },
    { NULL, false, "alice", SEGQ__SHARE_NONE, SEGQ__FORM_JOB, false },
};

Test (models, the_rule_as_a_table, .timeout = 10)
{
    for (size_t i = 0; i < sizeof s_rule / sizeof s_rule [0]; i++) {
        const rule_row_t *r = &s_rule [i];
        segq__caller_t caller = { .user = r->caller, .admin = r->admin };
        cr_expect_eq (segq__access_rule (&caller, r->owner, r->share, r->form), r->verdict,
                      "row %zu: %s, share %d, form %d", i, r->caller ? r->caller : "nobody",
                      r->share, r->form);
    }
}

/* ---- every way a submit can name the model, by whom, shared how ---- */

typedef struct {
    const char *caller;
    bool admin;
    const char *shared; /* NULL, "bob", or "lab" */
    const char *model;  /* a catalogue reference, or NULL ... */
    const char *job;    /* ... a job reference, or NULL ... */
    const char *output;
    bool by_hash; /* ... or the checkpoint's hash */
    int verdict;
} submit_row_t;

static const submit_row_t s_submits [] = {
    /* alice owns it: every form */
    { "alice", false, NULL, "polyp_01", NULL, NULL, false, 0 },
    { "alice", false, NULL, "m-0003", NULL, NULL, false, 0 },
    { "alice", false, NULL, "alice/polyp_01", NULL, NULL, false, 0 },
    { "alice", false, NULL, NULL, "0003", "model.safetensors", false, 0 },
    { "alice", false, NULL, NULL, NULL, NULL, true, 0 },
    /* bob, unshared: no form */
    { "bob", false, NULL, "polyp_01", NULL, NULL, false, SEGQ_ENOENT },
    { "bob", false, NULL, "m-0003", NULL, NULL, false, SEGQ_ENOENT },
    { "bob", false, NULL, "alice/polyp_01", NULL, NULL, false, SEGQ_ENOENT },
    { "bob", false, NULL, NULL, "0003", "model.safetensors", false, SEGQ_EPERM },
    { "bob", false, NULL, NULL, NULL, NULL, true, SEGQ_EPERM },
    /* shared with bob: by name and id, never the job or the bytes */
    { "bob", false, "bob", "polyp_01", NULL, NULL, false, 0 },
    { "bob", false, "bob", "m-0003", NULL, NULL, false, 0 },
    { "bob", false, "bob", "alice/polyp_01", NULL, NULL, false, 0 },
    { "bob", false, "bob", NULL, "0003", "model.safetensors", false, SEGQ_EPERM },
    { "bob", false, "bob", NULL, "0003", NULL, false, SEGQ_EPERM },
    { "bob", false, "bob", NULL, NULL, NULL, true, SEGQ_EPERM },
    { "carol", false, "bob", "polyp_01", NULL, NULL, false, SEGQ_ENOENT },
    /* shared with the lab: anyone by name */
    { "carol", false, "lab", "polyp_01", NULL, NULL, false, 0 },
    { "carol", false, "lab", NULL, NULL, NULL, true, SEGQ_EPERM },
    /* an admin */
    { "root", true, NULL, "m-0003", NULL, NULL, false, 0 },
    { "root", true, NULL, NULL, "0003", NULL, false, 0 },
};

/* A generate submit naming the model as row says, as far as the broker
   checks before storing it: resolution, then the rule for the rest. */
static int
s_submit (const submit_row_t *row, char *err, size_t errlen)
{
    segq__caller_t caller = { .user = row->caller, .admin = row->admin };
    segq_input_t input = { .name = strdup ("model"),
                           .model = row->model ? strdup (row->model) : NULL,
                           .job = row->job ? strdup (row->job) : NULL,
                           .output = row->output ? strdup (row->output) : NULL };
    if (row->by_hash)
        memcpy (input.hash, CKPT, sizeof input.hash);
    segq_submit_t submit = {
        .user = (char *) row->caller, .kind = "generate", .inputs = &input, .n_inputs = 1
    };
    int rc =
        segq__models_resolve_submit (models, &caller, &submit, SEGQ_DEFAULT_MAX_MSG, err, errlen);
    if (rc == 0)
        rc = segq__access_submit (access_rule, &caller, &submit, err, errlen);
    if (rc == 0 && row->model)
        cr_expect (strcmp (input.hash, CKPT) == 0 && strcmp (input.model, "m-0003") == 0,
                   "a model resolves to its checkpoint and id: %s %s", input.hash, input.model);
    segq_input_clear (&input);
    return rc;
}

Test (models, every_form_by_every_caller, .init = setup, .fini = teardown, .timeout = 30)
{
    char err [600];
    for (size_t i = 0; i < sizeof s_submits / sizeof s_submits [0]; i++) {
        const submit_row_t *row = &s_submits [i];
        bool lab = row->shared && strcmp (row->shared, "lab") == 0;
        if (row->shared)
            cr_assert_eq (s_request ("alice", false, SEGQ_MODEL_SHARE, "m-0003", NULL,
                                     lab ? NULL : row->shared, lab, err, sizeof err),
                          0, "%s", err);
        err [0] = 0;
        int rc = s_submit (row, err, sizeof err);
        cr_expect_eq (rc, row->verdict, "row %zu (%s, shared %s, %s%s%s): %d, expected %d (%s)", i,
                      row->caller, row->shared ? row->shared : "-",
                      row->model ? row->model
                      : row->job ? row->job
                                 : "hash",
                      row->output ? ":" : "", row->output ? row->output : "", rc, row->verdict,
                      err);
        if (rc)
            cr_expect (strstr (err, "input 'model'"), "row %zu names no input: %s", i, err);
        if (row->shared)
            cr_assert_eq (s_request ("alice", false, SEGQ_MODEL_UNSHARE, "m-0003", NULL,
                                     lab ? NULL : row->shared, lab, err, sizeof err),
                          0, "%s", err);
    }
}

/* A shared user's generation holds the checkpoint as its input: the
   worker reads it, the user cannot name it (or skip uploading it). */
Test (models, a_job_made_from_a_shared_model_does_not_open_its_bytes, .init = setup,
      .fini = teardown, .timeout = 30)
{
    char err [600];
    cr_assert_eq (s_request ("alice", false, SEGQ_MODEL_SHARE, "polyp_01", NULL, "bob", false, err,
                             sizeof err),
                  0, "%s", err);
    cr_assert_eq (segq__job_store_begin (store), 0);
    s_job (4, "bob", "generate", NULL);
    segq__input_row_t input = { .name = "model", .hash = CKPT, .size = 12, .model = 3 };
    cr_assert_eq (segq__job_store_insert_input (store, 4, 0, &input), 0);
    s_commit ();
    segq__caller_t bob = { .user = "bob" }, alice = { .user = "alice" };
    cr_assert_not (segq__access_hash (access_rule, &bob, CKPT));
    cr_assert (segq__access_hash (access_rule, &alice, CKPT));
    char id [SEGQ__JOB_ID_MAX + 2], name [64];
    cr_assert_eq (segq__models_of_input (models, 4, "model", id, name, sizeof name), 0);
    cr_assert_str_eq (id, "m-0003");
    cr_assert_str_eq (name, "polyp_01");
}

Test (models, a_shared_model_generates_from_scale_0_only, .init = setup, .fini = teardown,
      .timeout = 30)
{
    char err [600];
    cr_assert_eq (
        s_request ("alice", false, SEGQ_MODEL_SHARE, "polyp_01", NULL, NULL, true, err, sizeof err),
        0, "%s", err);
    const char *callers [] = { "alice", "bob" };
    for (int i = 0; i < 2; i++) {
        segq__caller_t caller = { .user = callers [i] };
        segq_input_t input = { .name = strdup ("model"), .model = strdup ("alice/polyp_01") };
        segq_submit_t submit = {
            .user = (char *) callers [i], .kind = "generate", .inputs = &input, .n_inputs = 1
        };
        segq_value_t two = { .type = SEGQ_PARAM_INT, .i = 2 };
        cr_assert_eq (segq_params_set (&submit.params, "gen_start_scale", &two), 0);
        int rc = segq__models_resolve_submit (models, &caller, &submit, SEGQ_DEFAULT_MAX_MSG, err,
                                              sizeof err);
        cr_expect_eq (rc, i == 0 ? 0 : SEGQ_EPERM, "%s: %s", callers [i], err);
        if (rc)
            cr_expect (strstr (err, "gen_start_scale") && strstr (err, "reconstruction"), "%s",
                       err);
        segq_params_clear (&submit.params);
        segq_input_clear (&input);
    }
}

Test (models, names_default_to_the_image_and_stay_unique_per_owner, .init = setup, .fini = teardown,
      .timeout = 30)
{
    s_training (5, NULL);
    s_training (6, "first");
    s_commit ();
    char err [600] = "";
    segq__caller_t alice = { .user = "alice" };
    uint64_t job = 0;
    cr_assert_eq (segq__models_find (models, &alice, "polyp_01-2", &job, err, sizeof err), 0, "%s",
                  err);
    cr_assert_eq (job, 5);
    cr_assert_eq (segq__models_find (models, &alice, "first", &job, err, sizeof err), 0, "%s", err);
    cr_assert_eq (job, 6);
    cr_assert_eq (s_request ("alice", false, SEGQ_MODEL_RENAME, "first", "polyp_01", NULL, false,
                             err, sizeof err),
                  SEGQ_EEXIST);
    cr_assert_eq (s_request ("alice", false, SEGQ_MODEL_RENAME, "first", "m-sneaky", NULL, false,
                             err, sizeof err),
                  SEGQ_EINVAL);
    cr_assert_eq (s_request ("alice", false, SEGQ_MODEL_RENAME, "first", "polyp_day2", NULL, false,
                             err, sizeof err),
                  0, "%s", err);
    cr_assert_eq (
        s_request ("bob", false, SEGQ_MODEL_RENAME, "m-0006", "mine", NULL, false, err, sizeof err),
        SEGQ_ENOENT, "bob may not even see it");
    cr_assert_eq (
        s_request ("alice", false, SEGQ_MODEL_SHARE, "m-0006", NULL, "bob", false, err, sizeof err),
        0, "%s", err);
    cr_assert_eq (
        s_request ("bob", false, SEGQ_MODEL_RENAME, "m-0006", "mine", NULL, false, err, sizeof err),
        SEGQ_EPERM, "shared is not owned");
    cr_assert (strstr (err, "only its owner or an admin"), "%s", err);
    cr_assert_eq (
        s_request ("root", true, SEGQ_MODEL_TAG, "m-0006", "kvasir", NULL, false, err, sizeof err),
        0, "%s", err);
}

/* A name two users shared with bob is ambiguous; OWNER/NAME settles it. */
Test (models, an_ambiguous_name_asks_for_its_owner, .init = setup, .fini = teardown, .timeout = 30)
{
    cr_assert_eq (segq__job_store_begin (store), 0);
    s_job (7, "carol", "train", "polyp_01");
    segq_artifact_t output = { .name = "model.safetensors", .size = 12 };
    memcpy (output.hash, CKPT, sizeof output.hash);
    cr_assert_eq (segq__job_store_insert_output (store, 7, &output), 0);
    segq__model_shape_t shape = { 0 };
    cr_assert_eq (segq__models_register (models, 7, &shape, 1700000200.0), 0);
    s_commit ();
    char err [600];
    cr_assert_eq (
        s_request ("alice", false, SEGQ_MODEL_SHARE, "polyp_01", NULL, NULL, true, err, sizeof err),
        0, "%s", err);
    cr_assert_eq (s_request ("carol", false, SEGQ_MODEL_SHARE, "polyp_01", NULL, "bob", false, err,
                             sizeof err),
                  0, "%s", err);
    segq__caller_t bob = { .user = "bob" }, carol = { .user = "carol" };
    uint64_t job;
    cr_assert_eq (segq__models_find (models, &bob, "polyp_01", &job, err, sizeof err), SEGQ_EINVAL);
    cr_assert (strstr (err, "alice/polyp_01") && strstr (err, "carol/polyp_01"), "%s", err);
    cr_assert_eq (segq__models_find (models, &bob, "carol/polyp_01", &job, err, sizeof err), 0);
    cr_assert_eq (job, 7);
    cr_assert_eq (segq__models_find (models, &carol, "polyp_01", &job, err, sizeof err), 0,
                  "one's own comes first");
    cr_assert_eq (job, 7);
}

/* generate --model REF (a model, or JOB:OUTPUT) with these parameters as
   alice, against a broker whose messages take at most max_msg bytes: rc,
   the input as resolved into *resolved (the model's id, else the job's). */
static int
s_resolve_generate (const char *ref, segq_params_t *params, uint32_t max_msg, char *resolved,
                    size_t len, char *err, size_t errlen)
{
    segq__caller_t alice = { .user = "alice" };
    const char *colon = strchr (ref, ':');
    segq_input_t input = { .name = strdup ("model") };
    if (colon) {
        input.job = strndup (ref, (size_t) (colon - ref));
        input.output = strdup (colon + 1);
    } else
        input.model = strdup (ref);
    segq_submit_t submit = {
        .user = "alice", .kind = "generate", .inputs = &input, .n_inputs = 1, .params = *params
    };
    err [0] = 0;
    int rc = segq__models_resolve_submit (models, &alice, &submit, max_msg, err, errlen);
    *params = submit.params; /* the caller's to clear, whatever resolving did to them */
    snprintf (resolved, len, "%s", input.model ? input.model : input.job ? input.job : "");
    segq_input_clear (&input);
    return rc;
}

/* generate --model REF as alice, with the default parameters. */
static int
s_generate_from (const char *ref, char *resolved, size_t len, char *err, size_t errlen)
{
    segq_params_t none = { 0 };
    return s_resolve_generate (ref, &none, SEGQ_DEFAULT_MAX_MSG, resolved, len, err, errlen);
}

/* A model's name spelt like a job id of the caller's that did not train
   it (a model named 0005, job 0005 another training) is refused as
   --model, naming both; a name no job has, or the model's own training,
   is the model. */
Test (models, a_name_that_is_also_a_job_of_yours_is_refused, .init = setup, .fini = teardown,
      .timeout = 30)
{
    s_training (5, NULL);
    s_commit ();
    static const struct {
        const char *name, *ref; /* m-0003 renamed to name, then --model ref */
        int rc;
        const char *resolved;
    } rows [] = {
        { "0005", "0005", SEGQ_EINVAL, NULL }, /* job 0005 trained m-0005 */
        { "0003", "0003", 0, "m-0003" },       /* its own training */
        { "0009", "0009", 0, "m-0003" },       /* no such job */
        { "0009", "0005", 0, "0005" },         /* no such model: the job */
    };
    for (size_t i = 0; i < sizeof rows / sizeof rows [0]; i++) {
        char err [600] = "", resolved [64];
        cr_assert_eq (s_request ("alice", false, SEGQ_MODEL_RENAME, "m-0003", rows [i].name, NULL,
                                 false, err, sizeof err),
                      0, "%s", err);
        cr_assert_eq (s_generate_from (rows [i].ref, resolved, sizeof resolved, err, sizeof err),
                      rows [i].rc, "row %zu: %s", i, err);
        if (rows [i].resolved)
            cr_assert_str_eq (resolved, rows [i].resolved, "row %zu", i);
        else
            cr_assert (strstr (err, "names both job 0005 and model 0005 (m-0003)")
                           && strstr (err, "say m-0003") && strstr (err, "0005:model.safetensors"),
                       "%s", err);
    }
}

/* Alice purges job 3 in a new transaction, through a retention (and its
   logs, the caller's to destroy) of a broker started at `started`: rc,
   err saying why not. */
static int
s_purge_3 (double started, segq__job_log_t **logs, segq__retention_t **retention, char *err,
           size_t errlen)
{
    *logs = segq__job_log_new (dir, err, errlen);
    cr_assert_not_null (*logs, "%s", err);
    *retention = segq__retention_new (store, artifacts, *logs, 0, started, err, errlen);
    cr_assert_not_null (*retention, "%s", err);
    bool already;
    segq__purge_stats_t stats;
    cr_assert_eq (segq__job_store_begin (store), 0);
    return segq__retention_purge (*retention, 3, "alice", 1700000300.0, &already, &stats, err,
                                  errlen);
}

/* The catalogue is in the database: it survives a reopen (a restart), a
   removed model stays removed, and a pinned model's training cannot be
   purged. */
Test (models, the_catalogue_lasts_and_pins_hold, .init = setup, .fini = teardown, .timeout = 30)
{
    char err [600];
    cr_assert_eq (s_request ("alice", false, SEGQ_MODEL_TAG, "polyp_01", "kvasir", NULL, false, err,
                             sizeof err),
                  0, "%s", err);
    cr_assert_eq (
        s_request ("alice", false, SEGQ_MODEL_PIN, "polyp_01", NULL, NULL, false, err, sizeof err),
        0, "%s", err);
    s_training (5, "gone");
    s_commit ();
    cr_assert_eq (
        s_request ("alice", false, SEGQ_MODEL_RM, "gone", NULL, NULL, false, err, sizeof err), 0,
        "%s", err);
    s_close ();
    s_open ();
    segq__caller_t alice = { .user = "alice" };
    segq_model_t list = { .op = SEGQ_MODEL_LIST, .tag = "kvasir" };
    segq_model_reply_t reply = { 0 };
    cr_assert_eq (segq__models_request (models, &alice, &list, &reply, err, sizeof err), 0);
    cr_assert_eq (reply.n_models, 1);
    cr_assert_str_eq (reply.models [0].id, "m-0003");
    cr_assert (reply.models [0].pinned);
    cr_assert_eq (reply.models [0].scales, 9);
    cr_assert_str_eq (reply.models [0].image, "polyp_01.png");
    cr_assert_str_eq (reply.models [0].image_hash, IMAGE);
    cr_assert_str_eq (reply.models [0].checkpoint, CKPT);
    segq_models_free (&reply.models, reply.n_models);
    uint64_t job;
    cr_assert_eq (segq__models_find (models, &alice, "gone", &job, err, sizeof err), SEGQ_ENOENT);
    cr_assert_eq (segq__models_pinned (models, 3), 1);

    segq__job_log_t *logs;
    segq__retention_t *retention;
    cr_assert_eq (s_purge_3 (1700000000.0, &logs, &retention, err, sizeof err), SEGQ_ESTATE);
    cr_assert (strstr (err, "pinned"), "%s", err);
    segq__job_store_rollback (store);
    segq__retention_destroy (&retention);
    segq__job_log_destroy (&logs);
}

/* generate --model REF --count COUNT [--seed SEED] as alice, against a
   broker whose messages take at most max_msg bytes; the count sent as an
   integer, or (as_number) as a client without integers sends it: 213.0. */
static int
s_generate_count (const char *ref, int64_t count, bool as_number, int64_t seed, uint32_t max_msg,
                  char *err, size_t errlen)
{
    segq_params_t params = { 0 };
    segq_value_t value = { .type = as_number ? SEGQ_PARAM_FLOAT : SEGQ_PARAM_INT,
                           .i = count,
                           .f = (double) count };
    cr_assert_eq (segq_params_set (&params, "count", &value), 0);
    value = (segq_value_t){ .type = SEGQ_PARAM_INT, .i = seed };
    if (seed >= 0)
        cr_assert_eq (segq_params_set (&params, "seed", &value), 0);
    char resolved [64];
    int rc = s_resolve_generate (ref, &params, max_msg, resolved, sizeof resolved, err, errlen);
    segq_params_clear (&params);
    return rc;
}

/* A generation whose outputs' list would not fit one RESULT is refused at
   submit, saying how many pairs do: of polyp_01 (stem 8 characters) with
   seed 7, 212 pairs are reckoned at 57,204 of the 57,344 bytes a 64 KiB
   message leaves; with a seed still to draw, reckoned at its largest, 190. The
   same of a training that has not run yet: its image names the pairs; and
   of a training's checkpoint named as its output (JOB:model.safetensors). */
Test (models, a_generation_too_big_for_one_result_is_refused, .init = setup, .fini = teardown,
      .timeout = 30)
{
    char err [600];
    cr_assert_eq (segq__job_store_begin (store), 0);
    s_job (9, "alice", "train", NULL);
    segq__input_row_t image = { .name = "image/polyp_01.png", .hash = IMAGE, .size = 7 };
    cr_assert_eq (segq__job_store_insert_input (store, 9, 0, &image), 0);
    s_commit ();
    for (int i = 0; i < 5; i++) {
        const char *ref = (const char *[]){ "m-0003", "0003", "0009", "0003:model.safetensors",
                                            "0009:model.safetensors" } [i];
        cr_expect_eq (s_generate_count (ref, 212, false, 7, 65536, err, sizeof err), 0, "%s", err);
        cr_expect_eq (s_generate_count (ref, 213, false, 7, 65536, err, sizeof err), SEGQ_ETOOBIG,
                      "%s", ref);
        cr_expect_eq (s_generate_count (ref, 213, true, 7, 65536, err, sizeof err), SEGQ_ETOOBIG,
                      "%s as a number", ref);
        cr_expect (strstr (err, "count 213: ") && strstr (err, "at most 212 pairs"), "%s: %s", ref,
                   err);
        cr_expect_eq (s_generate_count (ref, 190, false, -1, 65536, err, sizeof err), 0, "%s", err);
        cr_expect_eq (s_generate_count (ref, 191, false, -1, 65536, err, sizeof err), SEGQ_ETOOBIG);
        cr_expect (strstr (err, "at most 190 pairs"), "%s: %s", ref, err);
    }
    cr_expect_eq (
        s_generate_count ("m-0003", 10000, false, -1, SEGQ_DEFAULT_MAX_MSG, err, sizeof err), 0,
        "%s", err);
    /* another output of a training is no model: the submit's other checks
       say what it is */
    cr_expect_eq (s_generate_count ("0009:loss.csv", 213, false, 7, 65536, err, sizeof err), 0,
                  "%s", err);
}

/* ---- reads that fail ---- */

/* Interrupts every statement the store's database runs: each step then
   fails (SQLITE_INTERRUPT), as one does with SQLITE_IOERR on a failing
   disk. */
static int
s_interrupt (void *arg)
{
    (void) arg;
    return 1;
}

static void
s_reads_fail (bool fail)
{
    sqlite3_progress_handler (segq__job_store_db (store), 1, fail ? s_interrupt : NULL, NULL);
}

/* A read that fails is an error, never an answer: not a free name, a model
   not pinned, none of that name, or an empty list. */
Test (models, a_failed_read_is_an_error_not_an_empty_answer, .init = setup, .fini = teardown,
      .timeout = 30)
{
    char err [600] = "";
    segq__caller_t alice = { .user = "alice" };
    segq_value_t name = { .type = SEGQ_PARAM_STRING, .s = "polyp_01" };
    segq_submit_t train = { .user = "alice", .kind = "train" };
    cr_assert_eq (segq_params_set (&train.params, "name", &name), 0);
    segq_model_t show = { .op = SEGQ_MODEL_SHOW, .model = "polyp_01" };
    segq_model_t list = { .op = SEGQ_MODEL_LIST };
    segq_model_reply_t reply = { 0 };
    s_reads_fail (true);
    cr_expect_eq (
        segq__models_resolve_submit (models, &alice, &train, SEGQ_DEFAULT_MAX_MSG, err, sizeof err),
        SEGQ_EIO, "%s", err);
    cr_expect (strstr (err, "name 'polyp_01': cannot read"), "%s", err);
    cr_expect_eq (segq__models_pinned (models, 3), SEGQ_EIO);
    cr_expect_eq (segq__models_request (models, &alice, &show, &reply, err, sizeof err), SEGQ_EIO,
                  "%s", err);
    cr_expect (strstr (err, "cannot read model 'polyp_01'") && strstr (err, "interrupt"), "%s",
               err);
    segq_models_free (&reply.models, reply.n_models);
    reply = (segq_model_reply_t){ 0 };
    cr_expect_eq (segq__models_request (models, &alice, &list, &reply, err, sizeof err), SEGQ_EIO);
    cr_expect (strstr (err, "cannot read model list"), "%s", err);
    segq_models_free (&reply.models, reply.n_models);
    free (reply.next);
    s_reads_fail (false);
    cr_expect_eq (
        segq__models_resolve_submit (models, &alice, &train, SEGQ_DEFAULT_MAX_MSG, err, sizeof err),
        SEGQ_EEXIST, "%s", err);
    cr_expect_eq (segq__models_pinned (models, 3), 0);
    segq_params_clear (&train.params);
}

/* A purge committed but not yet unlinked (a crash between the two): a
   recheck that cannot read says so and keeps its place, so the files are
   looked at again next time rather than left for ever. */
Test (models, a_recheck_that_cannot_read_tries_again, .init = setup, .fini = teardown,
      .timeout = 30)
{
    char err [600] = "";
    segq__job_log_t *logs;
    segq__retention_t *retention;
    cr_assert_eq (s_purge_3 (1700000400.0, &logs, &retention, err, sizeof err), 0, "%s", err);
    s_commit ();
    cr_assert (segq__artifact_store_has (artifacts, CKPT, NULL));
    s_reads_fail (true);
    cr_expect_eq (segq__retention_recheck (retention, 64), SEGQ_EIO);
    s_reads_fail (false);
    cr_expect_eq (segq__retention_recheck (retention, 64), 1);
    cr_expect (!segq__artifact_store_has (artifacts, CKPT, NULL), "the checkpoint is still there");
    cr_expect_eq (segq__retention_recheck (retention, 64), 0);
    segq__retention_destroy (&retention);
    segq__job_log_destroy (&logs);
}
