/*  test_access.c: the one access rule with real processes, with keys and
    without (where it holds for the user name a client sends). Alice runs
    an echo job on a file; bob must not reach that file by any way a job
    can name data: the job, JOB:OUTPUT, a job array, the input's or the
    output's bare hash, an upload naming that hash; nor see its name in
    status; nor fetch it or read its log. An admin may; bob may name a
    hash whose bytes he sent himself. A worker certificate fetches only
    what a job assigned to it takes. */
#include <criterion/criterion.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "harness.h"
#include "lab_keys.h"

static harness_t *h;
static bool keyed;
static char keys [600], certs [700], broker_key [700];

static void
s_start (bool with_keys)
{
    keyed = with_keys;
    h = harness_new ("access");
    cr_assert_not_null (h);
    const char *extra [] = { "--keys", keys, NULL };
    if (keyed)
        lab_keys_make (h->dir, keys, sizeof keys, certs, sizeof certs, broker_key,
                       sizeof broker_key);
    cr_assert_eq (harness_start_broker (h, keyed ? extra : NULL), 0, "segqd did not start");
    char cert [900];
    snprintf (cert, sizeof cert, "%s/w1.cert", certs);
    const char *worker [] = { "--broker-key", broker_key, "--cert", cert, NULL };
    H_ASSERT (h, harness_start_worker (h, "w1", 2, keyed ? worker : NULL) >= 0, "no worker");
}

static void
setup_keys (void)
{
    s_start (true);
}

static void
setup_plain (void)
{
    s_start (false);
}

static void
teardown (void)
{
    harness_destroy (&h);
}

static segq_client_t *
s_client (const char *name)
{
    return lab_client (h->endpoint, keyed ? certs : NULL, broker_key, name);
}

/* Submits echo with one input (built by the caller on spec); rc as submit. */
static int
s_submit (segq_client_t *c, segq_job_spec_t *spec, char job [SEGQ_JOB_ID_MAX])
{
    int rc = segq_client_submit (c, spec, job, SEGQ_JOB_ID_MAX);
    segq_job_spec_destroy (&spec);
    return rc;
}

static segq_job_spec_t *
s_echo_of_job (const char *job, const char *output)
{
    segq_job_spec_t *spec = segq_job_spec_new ("echo");
    char err [512];
    cr_assert_eq (segq_job_spec_input_job (spec, "files", job, output, err, sizeof err), 0, "%s",
                  err);
    return spec;
}

static segq_job_spec_t *
s_echo_of_hash (const char *hash, uint64_t size)
{
    segq_job_spec_t *spec = segq_job_spec_new ("echo");
    char err [512];
    cr_assert_eq (segq_job_spec_input_hash (spec, "files", hash, size, err, sizeof err), 0, "%s",
                  err);
    return spec;
}

/* bob's submit is refused with EPERM, and the message names why. */
static void
s_refused (segq_client_t *bob, segq_job_spec_t *spec, const char *why, const char *form)
{
    char job [SEGQ_JOB_ID_MAX];
    int rc = s_submit (bob, spec, job);
    H_ASSERT (h, rc == SEGQ_EPERM, "bob's echo of alice's data by %s: %d (%s), job %s", form, rc,
              segq_client_error (bob), rc == 0 ? job : "-");
    cr_assert (strstr (segq_client_error (bob), why), "by %s: '%s' does not say '%s'", form,
               segq_client_error (bob), why);
}

typedef struct {
    char job [SEGQ_JOB_ID_MAX];
    char array [SEGQ_JOB_ID_MAX + 4];
    char file [600]; /* its input, on this machine */
    char in_hash [SEGQ_HASH_HEX_LEN + 1], out_hash [SEGQ_HASH_HEX_LEN + 1];
    char out_name [256]; /* its output's name */
    uint64_t size;
} alices_t;

/* Alice echoes scan.png (patient data) and makes an array of that job. */
static void
s_alices_job (segq_client_t *alice, alices_t *a)
{
    snprintf (a->file, sizeof a->file, "%s/scan.png", h->dir);
    a->size = 3000;
    cr_assert_eq (harness_write_random_file (a->file, a->size, 7), 0);
    segq_job_spec_t *spec = segq_job_spec_new ("echo");
    char err [512];
    cr_assert_eq (segq_job_spec_input_file (spec, "files", a->file, err, sizeof err), 0, "%s", err);
    H_ASSERT (h, s_submit (alice, spec, a->job) == 0, "%s", segq_client_error (alice));
    segq_job_info_t info = { 0 };
    H_ASSERT (h, harness_wait_final (alice, a->job, 60000, &info) == 0, "echo did not end");
    H_ASSERT (h, info.state == SEGQ_JOB_SUCCEEDED && info.n_inputs == 1 && info.n_outputs == 1,
              "echo %s with %zu inputs, %zu outputs", segq_job_state_name (info.state),
              info.n_inputs, info.n_outputs);
    snprintf (a->in_hash, sizeof a->in_hash, "%s", info.inputs [0].hash);
    snprintf (a->out_hash, sizeof a->out_hash, "%s", info.outputs [0].hash);
    snprintf (a->out_name, sizeof a->out_name, "%s", info.outputs [0].name);
    segq_job_info_clear (&info);
    const char *jobs [] = { a->job };
    segq_array_info_t array = { 0 };
    H_ASSERT (h, segq_client_array_create (alice, jobs, 1, &array) == 0, "%s",
              segq_client_error (alice));
    snprintf (a->array, sizeof a->array, "%s", array.array);
    segq_array_info_clear (&array);
}

static void
s_every_form_refused (segq_client_t *bob, const alices_t *a)
{
    s_refused (bob, s_echo_of_job (a->job, "*"), "belongs to alice", "JOB");
    s_refused (bob, s_echo_of_job (a->job, a->out_name), "belongs to alice", "JOB:OUTPUT");
    s_refused (bob, s_echo_of_job (a->array, "*"), "belongs to alice", "ARRAY");
    s_refused (bob, s_echo_of_hash (a->in_hash, a->size), "not uploaded by you", "input hash");
    s_refused (bob, s_echo_of_hash (a->out_hash, a->size), "not uploaded by you", "output hash");
}

/* What bob's status shows of alice's job: the job, not its data. */
static void
s_status_hides_data (segq_client_t *bob, segq_client_t *alice, const alices_t *a)
{
    segq_job_info_t info = { 0 };
    H_ASSERT (h, segq_client_job (bob, a->job, false, &info) == 0, "%s", segq_client_error (bob));
    cr_assert_str_eq (info.owner, "alice");
    cr_assert_eq (info.state, SEGQ_JOB_SUCCEEDED, "bob still sees the job and its state");
    cr_assert_eq (info.n_inputs, 0, "bob sees alice's input %s", info.inputs [0].name);
    cr_assert_eq (info.n_outputs, 0, "bob sees alice's output %s", info.outputs [0].name);
    segq_job_info_clear (&info);
    H_ASSERT (h, segq_client_job (alice, a->job, false, &info) == 0, "%s",
              segq_client_error (alice));
    cr_assert_eq (info.n_inputs, 1);
    cr_assert_str_eq (info.inputs [0].hash, a->in_hash);
    segq_job_info_clear (&info);
}

/* Whether a job's history holds a transition reason containing text. */
static bool
s_history_says (const segq_job_info_t *info, const char *text)
{
    for (size_t i = 0; i < info->n_history; i++)
        if (info->history [i].reason && strstr (info->history [i].reason, text))
            return true;
    return false;
}

/* A running job's metrics (a training's losses) and progress text are
   its owner's: bob sees that it runs, and its phase. */
static void
s_progress_hidden (segq_client_t *bob, segq_client_t *alice)
{
    char job [SEGQ_JOB_ID_MAX], err [256];
    segq_job_spec_t *spec = segq_job_spec_new ("sleep");
    cr_assert_eq (segq_job_spec_param (spec, "seconds", "30", err, sizeof err), 0, "%s", err);
    H_ASSERT (h, s_submit (alice, spec, job) == 0, "%s", segq_client_error (alice));
    segq_job_info_t info = { 0 };
    /* its first progress report follows the start: asked for until seen */
    for (int tries = 0;; tries++) {
        H_ASSERT (h, segq_client_job (alice, job, false, &info) == 0, "%s",
                  segq_client_error (alice));
        if (info.metrics.count > 0)
            break;
        cr_assert_lt (tries, 3000, "no progress from the sleep job after 60 s");
        segq_job_info_clear (&info);
        usleep (20000);
    }
    cr_assert_not_null (info.message, "the owner sees the progress text");
    segq_job_info_clear (&info);
    H_ASSERT (h, segq_client_job (bob, job, false, &info) == 0, "%s", segq_client_error (bob));
    cr_assert_eq (info.state, SEGQ_JOB_RUNNING);
    cr_assert_str_eq (info.phase ? info.phase : "", "sleeping", "bob sees how far it is");
    cr_assert_eq (info.metrics.count, 0, "bob sees alice's job's metrics (%s)",
                  info.metrics.items [0].name);
    cr_assert_null (info.message, "bob sees alice's job's progress text: %s", info.message);
    segq_job_info_clear (&info);
    const char *jobs [] = { job };
    segq_cancel_outcome_t *outcomes = NULL;
    size_t n = 0;
    cr_assert_eq (segq_client_cancel (alice, jobs, 1, &outcomes, &n), 0);
    segq_cancel_outcomes_free (&outcomes, n);
}

/* A failed job's reason ends with the last line of its log: bob sees that
   it failed, not what it said, in its history neither. */
static void
s_reason_hidden (segq_client_t *bob, segq_client_t *alice)
{
    char job [SEGQ_JOB_ID_MAX];
    H_ASSERT (h, s_submit (alice, segq_job_spec_new ("fail"), job) == 0, "%s",
              segq_client_error (alice));
    segq_job_info_t info = { 0 };
    H_ASSERT (h, harness_wait_final (alice, job, 60000, &info) == 0, "fail did not end");
    cr_assert_eq (info.state, SEGQ_JOB_FAILED);
    cr_assert (info.reason && strstr (info.reason, "as asked"), "the owner sees why: %s",
               info.reason ? info.reason : "(none)");
    segq_job_info_clear (&info);
    H_ASSERT (h, segq_client_job (bob, job, false, &info) == 0, "%s", segq_client_error (bob));
    cr_assert_eq (info.state, SEGQ_JOB_FAILED);
    cr_assert_null (info.reason, "bob sees alice's job's output: %s", info.reason);
    segq_job_info_clear (&info);
    H_ASSERT (h, segq_client_job (alice, job, true, &info) == 0, "%s", segq_client_error (alice));
    cr_assert (s_history_says (&info, "as asked"), "the owner sees why in the history");
    segq_job_info_clear (&info);
    H_ASSERT (h, segq_client_job (bob, job, true, &info) == 0, "%s", segq_client_error (bob));
    cr_assert_gt (info.n_history, 0, "bob sees the job's history");
    cr_assert (!s_history_says (&info, "as asked"), "bob sees alice's job's output in its history");
    segq_job_info_clear (&info);
}

/* bob may not fetch alice's output nor read her log. */
static void
s_reads_refused (segq_client_t *bob, const alices_t *a)
{
    char path [700];
    snprintf (path, sizeof path, "%s/stolen", h->dir);
    cr_assert_eq (segq_client_fetch (bob, a->job, a->out_name, path, NULL), SEGQ_EPERM, "%s",
                  segq_client_error (bob));
    cr_assert_neq (access (path, F_OK), 0, "nothing fetched");
    segq_log_chunk_t chunk = { 0 };
    cr_assert_eq (segq_client_logs (bob, a->job, 0, 4096, &chunk), SEGQ_EPERM, "%s",
                  segq_client_error (bob));
}

/* Bob sends the very bytes himself: the hash-first upload is not skipped
   (naming a hash the broker has proves nothing), and from then on the
   hash is his to name. */
static void
s_possession_proved_by_upload (segq_client_t *bob, const alices_t *a)
{
    char hash [SEGQ_HASH_HEX_LEN + 1];
    uint64_t before = segq_client_bytes_uploaded (bob);
    H_ASSERT (h, segq_client_upload_hash_first (bob, a->file, "mine.png", hash, NULL) == 0, "%s",
              segq_client_error (bob));
    cr_assert_str_eq (hash, a->in_hash);
    cr_assert_eq (segq_client_bytes_uploaded (bob) - before, a->size,
                  "the broker skipped bob's upload of a hash only alice had sent");
    char job [SEGQ_JOB_ID_MAX];
    H_ASSERT (h, s_submit (bob, s_echo_of_hash (a->in_hash, a->size), job) == 0, "%s",
              segq_client_error (bob));
    /* a second time, it is skipped: he has sent it */
    before = segq_client_bytes_uploaded (bob);
    H_ASSERT (h, segq_client_upload_hash_first (bob, a->file, "mine.png", hash, NULL) == 0, "%s",
              segq_client_error (bob));
    cr_assert_eq (segq_client_bytes_uploaded (bob), before);
}

Test (access, keys_no_form_of_reference_reaches_anothers_data, .init = setup_keys, .fini = teardown,
      .timeout = 120)
{
    segq_client_t *alice = s_client ("alice"), *bob = s_client ("bob"), *root = s_client ("root");
    alices_t a;
    s_alices_job (alice, &a);
    s_every_form_refused (bob, &a);
    s_status_hides_data (bob, alice, &a);
    s_reason_hidden (bob, alice);
    s_progress_hidden (bob, alice);
    s_reads_refused (bob, &a);
    /* the owner and an admin may use every form */
    char job [SEGQ_JOB_ID_MAX];
    H_ASSERT (h, s_submit (alice, s_echo_of_hash (a.in_hash, a.size), job) == 0, "%s",
              segq_client_error (alice));
    H_ASSERT (h, s_submit (root, s_echo_of_job (a.array, "*"), job) == 0, "%s",
              segq_client_error (root));
    H_ASSERT (h, s_submit (root, s_echo_of_hash (a.out_hash, a.size), job) == 0, "%s",
              segq_client_error (root));
    segq_job_info_t info = { 0 };
    H_ASSERT (h, segq_client_job (root, a.job, false, &info) == 0, "%s", segq_client_error (root));
    cr_assert_eq (info.n_inputs, 1, "an admin sees every job's data");
    segq_job_info_clear (&info);
    s_possession_proved_by_upload (bob, &a);
    segq_client_destroy (&alice);
    segq_client_destroy (&bob);
    segq_client_destroy (&root);
    H_ASSERT_CLEAN_STOP (h);
}

Test (access, without_keys_the_rule_holds_for_the_name_sent, .init = setup_plain, .fini = teardown,
      .timeout = 120)
{
    segq_client_t *alice = s_client ("alice"), *bob = s_client ("bob");
    alices_t a;
    s_alices_job (alice, &a);
    s_every_form_refused (bob, &a);
    s_status_hides_data (bob, alice, &a);
    s_reason_hidden (bob, alice);
    s_progress_hidden (bob, alice);
    s_reads_refused (bob, &a);
    s_possession_proved_by_upload (bob, &a);
    segq_client_destroy (&alice);
    segq_client_destroy (&bob);
    H_ASSERT_CLEAN_STOP (h);
}

/* A worker certificate is no key to the store: one that is not the
   registered worker (here a second node's, and w1's own used from a plain
   connection) gets no job's output by job and name. */
Test (access, a_worker_certificate_fetches_only_its_jobs_inputs, .init = setup_keys,
      .fini = teardown, .timeout = 120)
{
    segq_client_t *alice = s_client ("alice");
    alices_t a;
    s_alices_job (alice, &a);
    lab_cert (certs, "w2", "worker");
    const char *nodes [] = { "w2", "w1" };
    for (size_t i = 0; i < 2; i++) {
        segq_client_t *node = s_client (nodes [i]);
        char path [700];
        snprintf (path, sizeof path, "%s/by-%s", h->dir, nodes [i]);
        int rc = segq_client_fetch (node, a.job, a.out_name, path, NULL);
        H_ASSERT (h, rc == SEGQ_EPERM, "worker certificate %s fetched alice's output: %d (%s)",
                  nodes [i], rc, segq_client_error (node));
        cr_assert (strstr (segq_client_error (node), "register"), "%s", segq_client_error (node));
        cr_assert_neq (access (path, F_OK), 0, "nothing fetched");
        segq_client_destroy (&node);
    }
    segq_client_destroy (&alice);
    H_ASSERT_CLEAN_STOP (h);
}
