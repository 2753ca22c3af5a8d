/*  test_gen_server.c: the lab's generation service through the queue, with
    real segqd, segq-worker (keeping a generation server: --model-cache)
    and segq-run. A tiny training registers model `tiny`; generating from
    it by name twice loads it once (the second job's log says so) and gives
    two manifests that name the model and their own seeds, and the
    accounting has what the server measured of them; a generation
    that fails in the server says why in its reason; a cancelled
    generation and one whose server is killed end alone (cancelled,
    killed), and the next request is served by a new server. */
#define _GNU_SOURCE
#include <criterion/criterion.h>
#include <dirent.h>
#include <jansson.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include "e2e_fixture.h"
#include "harness.h"

static harness_t *h;
static int worker;

static void
s_cli_ok (const char *const *argv, char *out, size_t len)
{
    char err [4096];
    int rc = harness_cli (h, out, len, err, sizeof err, argv);
    H_ASSERT (h, rc == 0, "segq %s %s: exit %d: %s", argv [0], argv [1] ? argv [1] : "", rc, err);
}

static void
s_submit (const char *const *argv, char *id, size_t len)
{
    char err [4096];
    H_ASSERT (h, harness_submit (h, argv, id, len, err, sizeof err) == 0, "segq submit: %s", err);
}

/* Waits for the job to end in `state`. */
static void
s_ends (const char *job, segq_job_state_t state)
{
    segq_client_t *c = harness_client (h, 0);
    segq_job_info_t info;
    H_ASSERT (h, harness_wait_final (c, job, 240000, &info) == 0, "%s never ended", job);
    H_ASSERT (h, info.state == state, "%s ended %s (%s), not %s", job,
              segq_job_state_name (info.state), info.reason ? info.reason : "",
              segq_job_state_name (state));
    segq_job_info_clear (&info);
    segq_client_destroy (&c);
}

/* A generation of `count` pairs from model `tiny`. */
static void
s_generate (const char *count, char *job, size_t len)
{
    const char *argv [] = { "submit", "generate", "--model", "tiny", "--count",
                            count,    "--cpu",    "1",       NULL };
    s_submit (argv, job, len);
}

/* A generation that runs for minutes (10,000 pairs 16 times the size),
   yet whose outputs' list would fit its RESULT: one to cancel or kill. */
static void
s_generate_long (char *job, size_t len)
{
    const char *argv [] = { "submit", "generate",  "--model", "tiny",      "--count",
                            "10000",  "--scale-h", "4",       "--scale-v", "4",
                            "--cpu",  "1",         NULL };
    s_submit (argv, job, len);
}

/* Whether the job's log says `text`. */
static bool
s_log_says (const char *job, const char *text)
{
    static char out [1 << 16];
    const char *argv [] = { "logs", job, NULL };
    s_cli_ok (argv, out, sizeof out);
    return strstr (out, text) != NULL;
}

/* The manifest's first data row of a generation, fetched. */
static void
s_manifest_row (const char *job, char *row, size_t len)
{
    char dir [700], path [800], out [4096];
    snprintf (dir, sizeof dir, "%s/fetched-%s", h->dir, job);
    const char *argv [] = { "fetch", job, "-o", dir, NULL };
    s_cli_ok (argv, out, sizeof out);
    snprintf (path, sizeof path, "%s/manifest.csv", dir);
    FILE *f = fopen (path, "r");
    cr_assert_not_null (f, "no %s", path);
    cr_assert_not_null (fgets (row, (int) len, f)); /* the header */
    cr_assert_not_null (fgets (row, (int) len, f), "%s has no pairs", path);
    fclose (f);
}

/* Files in dir/sub. */
static int
s_count_files (const char *dir, const char *sub)
{
    char path [800];
    snprintf (path, sizeof path, "%s/%s", dir, sub);
    DIR *d = opendir (path);
    int n = 0;
    for (struct dirent *e; d && (e = readdir (d));)
        n += e->d_name [0] != '.';
    if (d)
        closedir (d);
    return n;
}

/* The server that ran job; a job that ran as a process of its own fails. */
static pid_t
s_server (const char *job)
{
    pid_t pid = harness_gen_server_of (h, worker, job, 60000);
    cr_assert_gt (pid, 0, "%s did not run on the generation server", job);
    return pid;
}

/* A job of `kind` with input `name` from `from`: an artifact (its hash and
   size) or a job's output (from_job:output); its id into job. */
static void
s_submit_spec (segq_client_t *c, const char *kind, const char *name, const char *hash,
               uint64_t size, const char *from_job, const char *output, const char *start,
               char *job, size_t len)
{
    segq_job_spec_t *spec = segq_job_spec_new (kind);
    char err [512];
    int rc = from_job ? segq_job_spec_input_job (spec, name, from_job, output, err, sizeof err)
                      : segq_job_spec_input_hash (spec, name, hash, size, err, sizeof err);
    cr_assert_eq (rc, 0, "%s", err);
    if (start)
        cr_assert_eq (segq_job_spec_param (spec, "gen_start_scale", start, err, sizeof err), 0);
    rc = segq_client_submit (c, spec, job, len);
    segq_job_spec_destroy (&spec);
    if (rc != 0)
        snprintf (job, len, "refused: %s", segq_client_error (c));
}

/* A generation at a scale model `tiny` lacks is refused at submit, from
   its checkpoint by hash too (the broker reads the file's header). From a
   copy of it that another job made (an echo's output, which the broker
   does not read at submit), it passes, and fails in the server after the
   model came from the cache (one sha256): its reason is the error, not
   the cache's note. */
static void
s_failure_reason_is_the_error (const char *train)
{
    static char out [1 << 16];
    const char *status [] = { "--json", "status", train, NULL };
    s_cli_ok (status, out, sizeof out);
    json_t *jobs = json_loads (out, 0, NULL), *o;
    size_t i;
    const char *hash = NULL;
    json_int_t size = 0;
    json_array_foreach (json_object_get (json_array_get (jobs, 0), "outputs"), i, o)
    {
        if (strcmp (json_string_value (json_object_get (o, "name")), "model.safetensors") == 0) {
            hash = json_string_value (json_object_get (o, "hash"));
            size = json_integer_value (json_object_get (o, "size"));
        }
    }
    cr_assert_not_null (hash, "no checkpoint in %s", out);
    segq_client_t *c = harness_client (h, 0);
    char job [600], copy [64];
    s_submit_spec (c, "generate", "model", hash, (uint64_t) size, NULL, NULL, "7", job, sizeof job);
    cr_assert (strstr (job, "refused: ")
                   && strstr (job, "--gen-start-scale 7: the model has scales"),
               "%s", job);
    s_submit_spec (c, "echo", "files/model.safetensors", hash, (uint64_t) size, NULL, NULL, NULL,
                   copy, sizeof copy);
    s_ends (copy, SEGQ_JOB_SUCCEEDED);
    json_decref (jobs);
    s_submit_spec (c, "generate", "model", NULL, 0, copy, "model.safetensors", "7", job,
                   sizeof job);
    segq_job_info_t info;
    H_ASSERT (h, harness_wait_final (c, job, 60000, &info) == 0, "%s never ended", job);
    cr_assert (info.state == SEGQ_JOB_FAILED && info.reason
                   && strstr (info.reason, "--gen-start-scale 7: the model has scales"),
               "%s: %s", segq_job_state_name (info.state), info.reason ? info.reason : "");
    cr_assert (s_log_says (job, "loaded already"), "the model was not hot");
    segq_job_info_clear (&info);
    segq_client_destroy (&c);
}

/* The accounting has what the server measured of its generations: some
   CPU time, and a peak memory of a process that holds libtorch. */
static void
s_usage_is_measured (void)
{
    static char out [16384];
    const char *argv [] = { "--json", "usage", "--by", "kind", NULL };
    s_cli_ok (argv, out, sizeof out);
    json_error_t jerr;
    json_t *root = json_loads (out, 0, &jerr);
    cr_assert_not_null (root, "not JSON (%s): %s", jerr.text, out);
    json_t *rows = json_object_get (root, "rows"), *row = NULL;
    for (size_t i = 0; i < json_array_size (rows) && !row; i++)
        if (strcmp (json_string_value (json_object_get (json_array_get (rows, i), "kind")),
                    "generate")
            == 0)
            row = json_array_get (rows, i);
    cr_assert_not_null (row, "no generate row: %s", out);
    cr_assert_gt (json_number_value (json_object_get (row, "cpu_seconds")), 0.0, "%s", out);
    cr_assert_gt (json_integer_value (json_object_get (row, "max_rss")), 10 << 20, "%s", out);
    json_decref (root);
}

Test (e2e, generation_server_keeps_models_and_fails_alone, .timeout = 600)
{
    h = harness_new ("e2e-gen-server");
    cr_assert_not_null (h);
    cr_assert_eq (harness_start_broker (h, NULL), 0);
    const char *bin = getenv ("SEGQ_BINARY_DIR");
    char segq_run [1024];
    snprintf (segq_run, sizeof segq_run, "%s/pipeline/segq-run",
              bin && *bin ? bin : SEGQ_BINARY_DIR);
    const char *extra [] = { "--segq-run",    segq_run, "--kinds", "train,generate,echo",
                             "--model-cache", "64M",    "-v",      NULL };
    worker = harness_start_worker (h, "ml", 2, extra);
    H_ASSERT (h, worker >= 0, "worker did not register");

    char image [600], mask [600], train [64];
    static char out [1 << 16];
    snprintf (image, sizeof image, "%s/polyp.png", h->dir);
    snprintf (mask, sizeof mask, "%s/polyp-mask.png", h->dir);
    e2e_write_polyp (image, mask);
    const char *train_argv [] = { "submit",    "train", "--image",    image, "--mask",     mask,
                                  "--name",    "tiny",  "--max-size", "24",  "--min-size", "12",
                                  "--niter",   "5",     "--previews", "0",   "--nfc",      "8",
                                  "--nfc-max", "8",     "--cpu",      "2",   NULL };
    s_submit (train_argv, train, sizeof train);
    s_ends (train, SEGQ_JOB_SUCCEEDED);

    /* loaded once, then kept */
    char first [64], second [64], row1 [4096], row2 [4096];
    s_generate ("3", first, sizeof first);
    s_ends (first, SEGQ_JOB_SUCCEEDED);
    s_generate ("3", second, sizeof second);
    s_ends (second, SEGQ_JOB_SUCCEEDED);
    cr_assert (s_log_says (first, "loaded, and kept"), "the first job did not load the model");
    cr_assert (s_log_says (second, "loaded already"), "the second job loaded the model again");
    cr_assert_eq (s_server (first), s_server (second), "two servers for one device");
    s_manifest_row (first, row1, sizeof row1);
    s_manifest_row (second, row2, sizeof row2);
    char model_id [128];
    snprintf (model_id, sizeof model_id, "\"m-%s\",\"tiny\"", train);
    cr_assert (strstr (row1, model_id) && strstr (row2, model_id), "no model in: %s", row1);
    cr_assert (!strstr (row1, h->dir) && !strstr (row1, "/jobs/"), "a path in: %s", row1);
    cr_assert_str_neq (row1, row2, "two requests gave the same pairs");
    s_usage_is_measured ();
    /* `models show --preview`: a few pairs of the newest generation */
    char preview [700];
    snprintf (preview, sizeof preview, "%s/preview", h->dir);
    const char *show [] = { "models", "show", "tiny", "--preview", preview, NULL };
    s_cli_ok (show, out, sizeof out);
    char samples [128];
    snprintf (samples, sizeof samples, "samples     job %s", second);
    cr_assert (strstr (out, samples), "the newest generation is not the preview: %s", out);
    cr_assert_eq (s_count_files (preview, "images"), 3, "%s", out);
    cr_assert_eq (s_count_files (preview, "masks"), 3, "%s", out);
    /* again: the same pairs are kept; a file with other content stops it */
    s_cli_ok (show, out, sizeof out);
    char mine [900], err [4096];
    snprintf (mine, sizeof mine, "%s/masks", preview);
    DIR *masks = opendir (mine);
    struct dirent *e = NULL;
    while (masks && (e = readdir (masks)) && e->d_name [0] == '.')
        ;
    cr_assert (e, "no mask in %s", mine);
    snprintf (mine + strlen (mine), sizeof mine - strlen (mine), "/%s", e->d_name);
    closedir (masks);
    FILE *file = fopen (mine, "w");
    cr_assert (file && fputs ("my own notes\n", file) >= 0 && fclose (file) == 0);
    cr_assert_eq (harness_cli (h, out, sizeof out, err, sizeof err, show), 1, "%s", out);
    cr_assert (strstr (err, "exists already with other content"), "%s", err);
    char kept [64] = "";
    file = fopen (mine, "r");
    cr_assert (file && fgets (kept, sizeof kept, file) && fclose (file) == 0);
    cr_assert_str_eq (kept, "my own notes\n", "the preview overwrote a file");
    s_failure_reason_is_the_error (train);

    /* a cancel ends the job the server ran, and only it */
    char long_job [64];
    s_generate_long (long_job, sizeof long_job);
    pid_t server = s_server (long_job);
    segq_client_t *c = harness_client (h, 0);
    H_ASSERT (h, harness_wait_state (c, long_job, SEGQ_JOB_RUNNING, 60000) == 0, "never ran");
    const char *cancel [] = { "cancel", long_job, NULL };
    s_cli_ok (cancel, out, sizeof out);
    s_ends (long_job, SEGQ_JOB_CANCELLED);
    char after [64];
    s_generate ("2", after, sizeof after);
    s_ends (after, SEGQ_JOB_SUCCEEDED);
    cr_assert_neq (s_server (after), server, "the cancelled job's server served again");
    cr_assert (s_log_says (after, "loaded, and kept"), "a new server had the model already");

    /* a server that dies takes its job, not the worker */
    char killed [64];
    s_generate_long (killed, sizeof killed);
    server = s_server (killed);
    H_ASSERT (h, harness_wait_state (c, killed, SEGQ_JOB_RUNNING, 60000) == 0, "never ran");
    cr_assert_eq (kill (server, SIGKILL), 0);
    segq_job_info_t info;
    H_ASSERT (h, harness_wait_final (c, killed, 60000, &info) == 0, "never ended");
    cr_assert (info.state == SEGQ_JOB_FAILED || info.state == SEGQ_JOB_QUEUED, "%s",
               segq_job_state_name (info.state));
    cr_assert (info.reason && strstr (info.reason, "signal 9"), "reason: %s",
               info.reason ? info.reason : "");
    segq_job_info_clear (&info);
    segq_client_destroy (&c);
    H_ASSERT (h, harness_worker_alive (h, worker), "the worker died with its server");
    s_generate ("2", after, sizeof after);
    s_ends (after, SEGQ_JOB_SUCCEEDED);
    char why [512];
    H_ASSERT (h, harness_stop (h, why, sizeof why) == 0, "%s", why);
    harness_destroy (&h);
}
