/*  test_jobs.c: what a job's life looks like from outside, with real
    processes: time limits, failure modes, progress and live logs, drain. */
#include <criterion/criterion.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "harness.h"

static harness_t *h;

static void
setup (void)
{
    h = harness_new ("jobs");
    cr_assert_not_null (h);
    cr_assert_eq (harness_start_broker (h, NULL), 0, "segqd did not start");
}

static void
teardown (void)
{
    harness_destroy (&h);
}

static void
s_submit (segq_client_t *c, const char *kind, const char *const *params, uint32_t time_limit,
          char job [SEGQ_JOB_ID_MAX])
{
    segq_job_spec_t *spec = segq_job_spec_new (kind);
    char err [256];
    for (size_t i = 0; params && params [i]; i += 2)
        cr_assert_eq (segq_job_spec_param (spec, params [i], params [i + 1], err, sizeof err), 0,
                      "%s", err);
    segq_job_spec_set_time_limit (spec, time_limit);
    H_ASSERT (h, segq_client_submit (c, spec, job, SEGQ_JOB_ID_MAX) == 0, "%s",
              segq_client_error (c));
    segq_job_spec_destroy (&spec);
}

static void
s_final (segq_client_t *c, const char *job, segq_job_info_t *info)
{
    H_ASSERT (h, harness_wait_final (c, job, 60000, info) == 0, "job %s did not end", job);
}

/* A job submitted (as s_submit) and waited for: the state it ended in. */
static segq_job_state_t
s_ended (segq_client_t *c, const char *kind, const char *const *params, uint32_t time_limit,
         char job [SEGQ_JOB_ID_MAX])
{
    s_submit (c, kind, params, time_limit, job);
    segq_job_info_t info;
    s_final (c, job, &info);
    segq_job_state_t state = info.state;
    segq_job_info_clear (&info);
    return state;
}

Test (jobs, time_limit_ends_the_job_with_that_reason, .init = setup, .fini = teardown,
      .timeout = 90)
{
    cr_assert_eq (harness_start_worker (h, "w1", 1, NULL), 0);
    segq_client_t *c = harness_client (h, 0);
    char job [SEGQ_JOB_ID_MAX];
    const char *params [] = { "seconds", "60", NULL };
    s_submit (c, "sleep", params, 1, job);
    segq_job_info_t info;
    s_final (c, job, &info);
    H_ASSERT (h, info.state == SEGQ_JOB_FAILED, "job over its limit is %s",
              segq_job_state_name (info.state));
    H_ASSERT (h, info.reason && strstr (info.reason, "time limit"), "reason: %s",
              info.reason ? info.reason : "(none)");
    cr_assert_lt (info.finished - info.started, 30, "the limit of 1 s took %.1f s to act",
                  info.finished - info.started);
    segq_job_info_clear (&info);
    segq_client_destroy (&c);
    H_ASSERT_CLEAN_STOP (h);
}

/* exit code, signal, crash: each fails the job with what happened; the
   worker survives all of them. */
Test (jobs, failure_modes_are_reported, .init = setup, .fini = teardown, .timeout = 90)
{
    cr_assert_eq (harness_start_worker (h, "w1", 2, NULL), 0);
    segq_client_t *c = harness_client (h, 0);
    char exit_job [SEGQ_JOB_ID_MAX], signal_job [SEGQ_JOB_ID_MAX], crash_job [SEGQ_JOB_ID_MAX];
    const char *exit_params [] = { "mode", "exit", "code", "42", NULL };
    const char *signal_params [] = { "mode", "signal", "signal", "15", NULL };
    const char *crash_params [] = { "mode", "crash", NULL };
    s_submit (c, "fail", exit_params, 0, exit_job);
    s_submit (c, "fail", signal_params, 0, signal_job);
    s_submit (c, "fail", crash_params, 0, crash_job);
    segq_job_info_t info;
    s_final (c, exit_job, &info);
    H_ASSERT (h, info.state == SEGQ_JOB_FAILED && info.exit_code == 42,
              "exit job: %s, exit code %d", segq_job_state_name (info.state), info.exit_code);
    cr_assert_eq (info.attempt, 1, "a job that fails by itself is not retried");
    segq_job_info_clear (&info);
    s_final (c, signal_job, &info);
    H_ASSERT (h, info.state == SEGQ_JOB_FAILED && info.signal == 15, "signal job: %s, signal %d",
              segq_job_state_name (info.state), info.signal);
    segq_job_info_clear (&info);
    s_final (c, crash_job, &info);
    H_ASSERT (h, info.state == SEGQ_JOB_FAILED && info.reason, "crash job: %s",
              segq_job_state_name (info.state));
    segq_job_info_clear (&info);
    cr_assert (harness_worker_alive (h, 0), "a crashing job took the worker down");
    segq_client_destroy (&c);
    H_ASSERT_CLEAN_STOP (h);
}

/* A running sleep reports progress; `segq logs -f` follows its log to the
   end and exits 0 when the job is over. */
Test (jobs, progress_and_live_log, .init = setup, .fini = teardown, .timeout = 90)
{
    cr_assert_eq (harness_start_worker (h, "w1", 1, NULL), 0);
    segq_client_t *c = harness_client (h, 0);
    char job [SEGQ_JOB_ID_MAX];
    const char *params [] = { "seconds", "3", NULL };
    s_submit (c, "sleep", params, 0, job);
    H_ASSERT (h, harness_wait_state (c, job, SEGQ_JOB_RUNNING, 15000) == 0, "job never ran");
    /* Progress arrives while it runs. */
    double seen = 0;
    char phase [64] = "";
    for (int i = 0; i < 100 && seen <= 0; i++) {
        segq_job_info_t info;
        cr_assert_eq (segq_client_job (c, job, false, &info), 0);
        if (info.state == SEGQ_JOB_RUNNING) {
            seen = info.fraction;
            snprintf (phase, sizeof phase, "%s", info.phase ? info.phase : "");
        }
        bool over = segq_job_state_final (info.state);
        segq_job_info_clear (&info);
        if (over)
            break;
        struct timespec ts = { 0, 20 * 1000000L };
        nanosleep (&ts, NULL);
    }
    H_ASSERT (h, seen > 0 && seen < 1, "no progress seen while the job ran (fraction %g)", seen);
    cr_assert (phase [0], "progress has no phase");
    char out [8192], err [4096];
    const char *follow [] = { "logs", "-f", job, NULL };
    H_ASSERT (h, harness_cli (h, out, sizeof out, err, sizeof err, follow) == 0, "logs -f: %s",
              err);
    cr_assert (strstr (out, "sleeping 3 s") && strstr (out, "slept 3 s"), "followed log: %s", out);
    segq_job_info_t info;
    cr_assert_eq (segq_client_job (c, job, false, &info), 0);
    cr_assert_eq (info.state, SEGQ_JOB_SUCCEEDED, "logs -f ended before the job did");
    cr_assert_float_eq (info.fraction, 1.0, 1e-9, "succeeded job shows progress %g", info.fraction);
    segq_job_info_clear (&info);
    segq_client_destroy (&c);
    H_ASSERT_CLEAN_STOP (h);
}

/* `segq workers --drain NODE`: the node finishes its running job, takes no
   new one, and its daemon exits; the other worker takes the rest. */
Test (jobs, drain_finishes_running_work_then_exits, .init = setup, .fini = teardown, .timeout = 90)
{
    cr_assert_eq (harness_start_worker (h, "w1", 1, NULL), 0);
    segq_client_t *c = harness_client (h, 0);
    char first [SEGQ_JOB_ID_MAX], later [SEGQ_JOB_ID_MAX];
    const char *params [] = { "seconds", "2", NULL };
    s_submit (c, "sleep", params, 0, first);
    H_ASSERT (h, harness_wait_state (c, first, SEGQ_JOB_RUNNING, 15000) == 0, "job never ran");
    char out [8192], err [4096];
    const char *drain [] = { "workers", "--drain", "w1", NULL };
    H_ASSERT (h, harness_cli (h, out, sizeof out, err, sizeof err, drain) == 0, "drain: %s", err);
    const char *list [] = { "workers", "--json", NULL };
    cr_assert_eq (harness_cli (h, out, sizeof out, err, sizeof err, list), 0, "workers: %s", err);
    cr_assert (strstr (out, "draining"), "w1 not shown draining: %s", out);
    /* A new job does not go to the draining node. */
    const char *quick [] = { "seconds", "0", NULL };
    s_submit (c, "sleep", quick, 0, later);
    segq_job_info_t info;
    s_final (c, first, &info);
    H_ASSERT (h, info.state == SEGQ_JOB_SUCCEEDED, "the draining node's job: %s",
              segq_job_state_name (info.state));
    segq_job_info_clear (&info);
    for (int i = 0; i < 500 && harness_worker_alive (h, 0); i++) {
        struct timespec ts = { 0, 20 * 1000000L };
        nanosleep (&ts, NULL);
    }
    H_ASSERT (h, !harness_worker_alive (h, 0), "the drained worker did not exit");
    cr_assert_eq (segq_client_job (c, later, false, &info), 0);
    cr_assert (info.state == SEGQ_JOB_QUEUED, "job submitted during the drain is %s (on %s)",
               segq_job_state_name (info.state), info.worker ? info.worker : "-");
    segq_job_info_clear (&info);
    cr_assert_eq (harness_start_worker (h, "w2", 1, NULL), 1);
    s_final (c, later, &info);
    H_ASSERT (h, info.state == SEGQ_JOB_SUCCEEDED && info.worker && strcmp (info.worker, "w2") == 0,
              "the later job: %s on %s", segq_job_state_name (info.state),
              info.worker ? info.worker : "-");
    segq_job_info_clear (&info);
    segq_client_destroy (&c);
    H_ASSERT_CLEAN_STOP (h);
}

/* `retry` of job as the client's user, with a new time limit: the new
   job's id, or "" with the broker's refusal code in *code. */
static void
s_retry (segq_client_t *c, const char *kind, const char *job, uint32_t time_limit, int *code,
         char out [SEGQ_JOB_ID_MAX])
{
    segq_job_spec_t *spec = segq_job_spec_new (kind);
    cr_assert_eq (segq_job_spec_set_retry (spec, job), 0);
    segq_job_spec_set_time_limit (spec, time_limit);
    out [0] = 0;
    *code = segq_client_submit (c, spec, out, SEGQ_JOB_ID_MAX);
    segq_job_spec_destroy (&spec);
}

/* A job that failed is submitted again as it was (its parameters, the
   new time limit given), by its owner only, once it has ended only. */
Test (jobs, a_failed_job_is_retried_as_it_was, .init = setup, .fini = teardown, .timeout = 90)
{
    cr_assert_eq (harness_start_worker (h, "w1", 1, NULL), 0);
    segq_client_t *c = harness_client (h, 0);
    char job [SEGQ_JOB_ID_MAX], again [SEGQ_JOB_ID_MAX], never [SEGQ_JOB_ID_MAX];
    const char *params [] = { "seconds", "2", NULL };
    segq_job_state_t state = s_ended (c, "sleep", params, 1, job);
    H_ASSERT (h, state == SEGQ_JOB_FAILED, "%s", segq_job_state_name (state));
    segq_job_info_t info;

    int code;
    s_retry (c, "sleep", job, 30, &code, again);
    H_ASSERT (h, code == 0, "%s", segq_client_error (c));
    s_final (c, again, &info);
    H_ASSERT (h, info.state == SEGQ_JOB_SUCCEEDED, "the retry %s: %s",
              segq_job_state_name (info.state), info.reason ? info.reason : "");
    const segq_value_t *seconds = segq_params_get (&info.params, "seconds");
    cr_assert (seconds && seconds->f == 2.0 && info.time_limit_s == 30, "params or limit lost");
    segq_job_info_clear (&info);
    cr_assert_eq (segq_client_job (c, again, true, &info), 0);
    cr_assert (info.n_history && strstr (info.history [0].reason, "as a retry of"), "%s",
               info.n_history ? info.history [0].reason : "(no history)");
    segq_job_info_clear (&info);
    cr_assert_eq (segq_client_job (c, job, false, &info), 0);
    char said [96];
    snprintf (said, sizeof said, "retried as %s", again);
    cr_assert (info.message && strcmp (info.message, said) == 0, "%s",
               info.message ? info.message : "(no message)");
    segq_job_info_clear (&info);
    char out [1024], err [4096];
    const char *listing [] = { "status", job, NULL };
    H_ASSERT (h, harness_cli (h, out, sizeof out, err, sizeof err, listing) == 0, "%s", err);
    cr_assert (strstr (out, "time limit of 1 s exceeded; retried as "), "%s", out);

    s_retry (c, "sleep", job, 0, &code, never);
    cr_assert_eq (code, SEGQ_ESTATE, "a job retried already was retried again");
    char words [128];
    snprintf (words, sizeof words, "it was retried already as %s, which succeeded", again);
    cr_assert (strstr (segq_client_error (c), words), "%s", segq_client_error (c));
    s_retry (c, "sleep", again, 0, &code, never);
    cr_assert_eq (code, SEGQ_ESTATE, "a job that succeeded was retried");
    cr_assert (strstr (segq_client_error (c), "the job succeeded: only a job that failed"), "%s",
               segq_client_error (c));
    char gone [SEGQ_JOB_ID_MAX];
    const char *fails [] = { "mode", "exit", NULL };
    s_ended (c, "fail", fails, 0, gone);
    s_retry (c, "echo", gone, 0, &code, never);
    cr_assert_eq (code, SEGQ_EINVAL);
    cr_assert (strstr (segq_client_error (c), "the job is a fail, not a echo"), "%s",
               segq_client_error (c));
    segq_client_options_t as_bob = { .broker = h->endpoint, .user = "bob", .hash_cache = "" };
    segq_client_t *bob = NULL;
    cr_assert_eq (segq_client_connect (&as_bob, &bob, err, sizeof err), 0, "%s", err);
    s_retry (bob, "sleep", job, 0, &code, never);
    cr_assert_eq (code, SEGQ_EPERM, "another user retried it");
    segq_client_destroy (&bob);
    const char *purge [] = { "purge", gone, NULL };
    H_ASSERT (h, harness_cli (h, out, sizeof out, err, sizeof err, purge) == 0, "purge: %s", err);
    s_retry (c, "fail", gone, 0, &code, never);
    cr_assert_eq (code, SEGQ_ENOENT, "a purged job was retried");
    cr_assert (strstr (segq_client_error (c), "purged"), "%s", segq_client_error (c));
    segq_client_destroy (&c);
    H_ASSERT_CLEAN_STOP (h);
}

/* A submit refused in the broker's turn (naming a job that failed) costs
   nothing else of that turn: a submit pipelined with it is stored, and
   nothing is rolled back. */
Test (jobs, a_refused_submit_rolls_back_nothing_else, .init = setup, .fini = teardown,
      .timeout = 90)
{
    cr_assert_eq (harness_start_worker (h, "w1", 1, NULL), 0);
    segq_client_t *c = harness_client (h, 0);
    char failed [SEGQ_JOB_ID_MAX];
    const char *params [] = { "mode", "exit", NULL };
    s_ended (c, "fail", params, 0, failed);
    segq_job_info_t info;
    char err [256];
    segq_job_spec_t *refused = segq_job_spec_new ("echo"), *fine = segq_job_spec_new ("noop");
    cr_assert_eq (segq_job_spec_input_job (refused, "files", failed, "*", err, sizeof err), 0);
    uint64_t req [2];
    H_ASSERT (h, segq_client_submit_send (c, refused, &req [0]) == 0, "%s", segq_client_error (c));
    H_ASSERT (h, segq_client_submit_send (c, fine, &req [1]) == 0, "%s", segq_client_error (c));
    segq_job_spec_destroy (&refused);
    segq_job_spec_destroy (&fine);
    segq_submit_reply_t replies [2];
    for (int i = 0; i < 2; i++)
        H_ASSERT (h, segq_client_submit_recv (c, -1, &replies [i]) == 0, "%s",
                  segq_client_error (c));
    for (int i = 0; i < 2; i++) {
        bool first = replies [i].req_id == req [0];
        if (first)
            cr_assert (replies [i].code == SEGQ_ESTATE && strstr (replies [i].message, "failed"),
                       "%d %s", replies [i].code, replies [i].message);
        else {
            H_ASSERT (h, replies [i].code == 0, "the good submit: %s", replies [i].message);
            H_ASSERT (h, segq_client_job (c, replies [i].job, false, &info) == 0,
                      "job %s was not kept", replies [i].job);
            segq_job_info_clear (&info);
        }
    }
    FILE *log = fopen (h->broker_log, "r");
    cr_assert_not_null (log);
    char line [2048];
    while (fgets (line, sizeof line, log))
        cr_assert_null (strstr (line, "rolling back"), "the broker rolled back: %s", line);
    fclose (log);
    segq_client_destroy (&c);
    H_ASSERT_CLEAN_STOP (h);
}

/* Jobs that failed as a chain (an echo reading a sleep over its time
   limit, a noop after the echo), retried together in any order, run again
   as a chain: each retry reads, or waits for, the retry of the job the
   old one named. */
Test (jobs, a_failed_chain_retried_runs_again_as_a_chain, .init = setup, .fini = teardown,
      .timeout = 90)
{
    cr_assert_eq (harness_start_worker (h, "w1", 1, NULL), 0);
    segq_client_t *c = harness_client (h, 0);
    char first [SEGQ_JOB_ID_MAX], reader [SEGQ_JOB_ID_MAX], last [SEGQ_JOB_ID_MAX];
    const char *params [] = { "seconds", "1.5", NULL };
    s_submit (c, "sleep", params, 1, first);
    char err [4096];
    segq_job_spec_t *spec = segq_job_spec_new ("echo");
    cr_assert_eq (segq_job_spec_input_job (spec, "files", first, "*", err, sizeof err), 0);
    H_ASSERT (h, segq_client_submit (c, spec, reader, sizeof reader) == 0, "%s",
              segq_client_error (c));
    segq_job_spec_destroy (&spec);
    spec = segq_job_spec_new ("noop");
    cr_assert_eq (segq_job_spec_after (spec, reader), 0);
    H_ASSERT (h, segq_client_submit (c, spec, last, sizeof last) == 0, "%s", segq_client_error (c));
    segq_job_spec_destroy (&spec);
    segq_job_info_t info;
    s_final (c, last, &info);
    H_ASSERT (h, info.state == SEGQ_JOB_FAILED, "the chain's end: %s",
              segq_job_state_name (info.state));
    segq_job_info_clear (&info);

    char out [1024];
    const char *alone [] = { "retry", reader, NULL };
    cr_assert_eq (harness_cli (h, out, sizeof out, err, sizeof err, alone), 1);
    char words [256];
    snprintf (words, sizeof words, "it needs job %s, which failed: retry the two together", first);
    cr_assert (strstr (err, words), "%s", err);
    const char *retry [] = { "retry", last, first, reader, "--time-limit", "30", NULL };
    H_ASSERT (h, harness_cli (h, out, sizeof out, err, sizeof err, retry) == 0, "retry: %s", err);
    char again [3][SEGQ_JOB_ID_MAX];
    cr_assert_eq (sscanf (out, "%15s %15s %15s", again [0], again [1], again [2]), 3, "%s", out);
    const char *grouped = strstr (err, "the 3 retries are job array ");
    char array [32] = "";
    cr_assert (grouped && sscanf (grouped, "the 3 retries are job array %31s", array) == 1, "%s",
               err);
    const char *wait_all [] = { "wait", array, NULL };
    H_ASSERT (h, harness_cli (h, out, sizeof out, err, sizeof err, wait_all) == 0,
              "the retries' array did not all succeed: %s %s", out, err);
    s_final (c, again [2], &info);
    H_ASSERT (h, info.state == SEGQ_JOB_SUCCEEDED, "the retried chain's end: %s %s",
              segq_job_state_name (info.state), info.reason ? info.reason : "");
    cr_assert (info.n_after == 1 && strcmp (info.after [0], again [1]) == 0,
               "the noop's retry waits for %s, not the echo's retry %s",
               info.n_after ? info.after [0] : "nothing", again [1]);
    segq_job_info_clear (&info);
    cr_assert_eq (segq_client_job (c, again [1], false, &info), 0);
    cr_assert (info.n_inputs == 1 && info.inputs [0].job
                   && strcmp (info.inputs [0].job, again [0]) == 0,
               "the echo's retry reads %s, not the sleep's retry %s",
               info.n_inputs && info.inputs [0].job ? info.inputs [0].job : "nothing", again [0]);
    segq_job_info_clear (&info);
    /* asked again: their retries succeeded, so nothing is retried */
    cr_assert_eq (harness_cli (h, out, sizeof out, err, sizeof err, retry), 1, "%s", out);
    cr_assert (strstr (err, "3 of the 3 jobs named had nothing to retry"), "%s", err);
    segq_client_destroy (&c);
    H_ASSERT_CLEAN_STOP (h);
}
