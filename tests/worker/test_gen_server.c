/*  test_gen_server.c: the worker's generation servers (gen_server.h)
    under the sanitizers, with real segqd, segq-worker and segq and a
    stand-in `segq-run serve` (stand_in_serve.c): two generations share
    one server; a server that crashes or is cancelled ends only its job,
    and the next generation gets a new one; the worker stops cleanly (its
    leak check passes). The real server: tests/e2e/test_gen_server.c. */
#define _GNU_SOURCE
#include <criterion/criterion.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "harness.h"
#include "test_files.h"

static harness_t *h;
static int worker;
static char model [700];

static void
s_generate (const char *count, segq_job_state_t want, char *job, size_t len)
{
    char err [4096];
    const char *argv [] = { "submit", "generate", "--model", model, "--count", count, NULL };
    H_ASSERT (h, harness_submit (h, argv, job, len, err, sizeof err) == 0, "submit: %s", err);
    if (want == SEGQ_JOB_RUNNING) {
        segq_client_t *c = harness_client (h, 0);
        H_ASSERT (h, harness_wait_state (c, job, want, 30000) == 0, "%s never ran", job);
        segq_client_destroy (&c);
        return;
    }
    segq_client_t *c = harness_client (h, 0);
    segq_job_info_t info;
    H_ASSERT (h, harness_wait_final (c, job, 30000, &info) == 0, "%s never ended", job);
    H_ASSERT (h, info.state == want, "%s ended %s (%s)", job, segq_job_state_name (info.state),
              info.reason ? info.reason : "");
    segq_job_info_clear (&info);
    segq_client_destroy (&c);
}

/* The server that ran job; a job that ran as a process of its own fails. */
static pid_t
s_server (const char *job)
{
    pid_t pid = harness_gen_server_of (h, worker, job, 60000);
    cr_assert_gt (pid, 0, "%s did not run on the generation server", job);
    return pid;
}

/* What the server measured reaches the accounting: 0.25 s of CPU for
   each of the four jobs it answered (stand_in_serve.c), none for the
   crash and the cancel, and its peak memory. */
static void
s_check_usage (void)
{
    char out [16384], err [2048];
    const char *argv [] = { "--json", "usage", "--by", "kind", NULL };
    H_ASSERT (h, harness_cli (h, out, sizeof out, err, sizeof err, argv) == 0, "usage: %s", err);
    json_error_t jerr;
    json_t *root = json_loads (out, 0, &jerr);
    cr_assert_not_null (root, "not JSON (%s): %s", jerr.text, out);
    json_t *row = json_array_get (json_object_get (root, "rows"), 0);
    cr_assert_str_eq (json_string_value (json_object_get (row, "kind")), "generate", "%s", out);
    cr_assert_float_eq (json_number_value (json_object_get (row, "cpu_seconds")), 1.0, 1e-9, "%s",
                        out);
    cr_assert_eq (json_integer_value (json_object_get (row, "max_rss")), 123456789, "%s", out);
    json_decref (root);
}

/* A broker, and a model to generate from. */
static void
s_start (const char *name)
{
    h = harness_new (name);
    cr_assert_not_null (h);
    cr_assert_eq (harness_start_broker (h, NULL), 0);
    snprintf (model, sizeof model, "%s/model.safetensors", h->dir);
    cr_assert_eq (test_write_checkpoint (model, 32, 3), 0);
}

Test (worker, generation_servers_fail_alone_and_stop_cleanly, .timeout = 120)
{
    s_start ("gen-server");
    const char *extra [] = {
        "--segq-run", SEGQ_STAND_IN_SERVE, "--kinds", "generate", "--model-cache", "1M", "-v", NULL
    };
    worker = harness_start_worker (h, "w1", 2, extra);
    H_ASSERT (h, worker >= 0, "worker did not register");

    char a [64], b [64], crash [64], c [64], hang [64], d [64], out [1024], err [1024];
    s_generate ("2", SEGQ_JOB_SUCCEEDED, a, sizeof a);
    s_generate ("2", SEGQ_JOB_SUCCEEDED, b, sizeof b);
    pid_t server = s_server (a);
    cr_assert_eq (s_server (b), server, "a second server for one device");

    s_generate ("666", SEGQ_JOB_FAILED, crash, sizeof crash);
    s_generate ("2", SEGQ_JOB_SUCCEEDED, c, sizeof c);
    cr_assert_neq (s_server (c), server, "the crashed server served again");
    server = s_server (c);

    s_generate ("777", SEGQ_JOB_RUNNING, hang, sizeof hang);
    const char *cancel [] = { "cancel", hang, NULL };
    H_ASSERT (h, harness_cli (h, out, sizeof out, err, sizeof err, cancel) == 0, "%s", err);
    segq_client_t *cl = harness_client (h, 0);
    H_ASSERT (h, harness_wait_state (cl, hang, SEGQ_JOB_CANCELLED, 30000) == 0, "not cancelled");
    segq_client_destroy (&cl);
    s_generate ("2", SEGQ_JOB_SUCCEEDED, d, sizeof d);
    cr_assert_neq (s_server (d), server, "the cancelled job's server served again");
    H_ASSERT (h, harness_worker_alive (h, worker), "the worker died with a server");
    s_check_usage ();
    H_ASSERT_CLEAN_STOP (h);
    harness_destroy (&h);
}

/* A generation server that cannot start (segq-run lost its x bits after
   the worker started, as during an upgrade) is the node's fault, as a
   child of its own would be: the job goes back to the queue rather than
   failing, and the worker drains and leaves. */
Test (worker, a_server_that_cannot_start_gives_the_job_back, .timeout = 120)
{
    s_start ("gen-server-exec");
    char copy [700], command [1600], log [700], job [64], err [4096];
    snprintf (copy, sizeof copy, "%s/segq-run", h->dir);
    snprintf (command, sizeof command, "cp '%s' '%s'", SEGQ_STAND_IN_SERVE, copy);
    cr_assert_eq (system (command), 0);
    const char *extra [] = {
        "--segq-run", copy, "--kinds", "generate", "--model-cache", "1M", NULL
    };
    worker = harness_start_worker (h, "w1", 2, extra);
    H_ASSERT (h, worker >= 0, "worker did not register");
    cr_assert_eq (chmod (copy, 0644), 0);
    const char *argv [] = { "submit", "generate", "--model", model, "--count", "2", NULL };
    H_ASSERT (h, harness_submit (h, argv, job, sizeof job, err, sizeof err) == 0, "%s", err);
    snprintf (log, sizeof log, "%s/worker-w1.log", h->dir);
    H_ASSERT (h, harness_wait_text (log, "could not be started", 30000) == 0, "no node fault");
    segq_client_t *c = harness_client (h, 0);
    H_ASSERT (h, harness_wait_state (c, job, SEGQ_JOB_QUEUED, 30000) == 0, "%s not requeued", job);
    segq_client_destroy (&c);
    harness_destroy (&h);
}
