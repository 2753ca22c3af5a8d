/*  test_stop.c: a stop signal that reaches a worker's jobs too.

    Slurm's scancel (and its time limit, and systemd's control-group stop)
    sends SIGTERM to every process of the worker, its jobs' children
    included, in no set order. The job did not fail: the worker gives the
    attempt back and the broker runs it again elsewhere (worker_stop.c).
    A child stopped alone, with its worker left running, still failed. */
#include <criterion/criterion.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "harness.h"

static harness_t *h;

static void
setup (void)
{
    h = harness_new ("stop");
    cr_assert_not_null (h);
    cr_assert_eq (harness_start_broker (h, NULL), 0, "segqd did not start");
}

static void
teardown (void)
{
    harness_destroy (&h);
}

/* A 5 s sleep job running on w1 (w2 not yet started): its id, and its
   child's pid from w1's log. */
static pid_t
s_running_on_w1 (segq_client_t *c, char job [SEGQ_JOB_ID_MAX])
{
    const char *verbose [] = { "-v", NULL }; /* it logs its children's pids */
    cr_assert_eq (harness_start_worker (h, "w1", 1, verbose), 0);
    segq_job_spec_t *spec = segq_job_spec_new ("sleep");
    char err [256], key [128];
    cr_assert_eq (segq_job_spec_param (spec, "seconds", "5", err, sizeof err), 0, "%s", err);
    H_ASSERT (h, segq_client_submit (c, spec, job, SEGQ_JOB_ID_MAX) == 0, "%s",
              segq_client_error (c));
    segq_job_spec_destroy (&spec);
    H_ASSERT (h, harness_wait_journal (h, job, 1, 15000) == 0, "attempt 1 never started");
    snprintf (key, sizeof key, "%s#1: sleep started (pid ", job);
    pid_t child = (pid_t) harness_worker_log_number (h, 0, key, NULL, 10000);
    H_ASSERT (h, child > 0, "no pid of %s's child in w1's log", job);
    return child;
}

/* The job ran twice, the second time on w2, where it succeeded, and never
   failed; w1 left cleanly (checked by the clean stop at the end). */
static void
s_check_given_back (segq_client_t *c, const char *job)
{
    cr_assert_eq (harness_start_worker (h, "w2", 1, NULL), 1);
    segq_job_info_t info;
    H_ASSERT (h, harness_wait_final (c, job, 30000, &info) == 0, "job %s did not end", job);
    segq_job_info_clear (&info);
    H_ASSERT (h, segq_client_job (c, job, true, &info) == 0, "%s", segq_client_error (c));
    H_ASSERT (h, info.state == SEGQ_JOB_SUCCEEDED && info.attempt == 2,
              "job %s is %s, attempt %u: %s", job, segq_job_state_name (info.state), info.attempt,
              info.reason ? info.reason : "");
    H_ASSERT (h, strcmp (info.worker ? info.worker : "", "w2") == 0, "attempt 2 on %s",
              info.worker ? info.worker : "?");
    bool failed = false;
    for (size_t i = 0; i < info.n_history; i++)
        failed |= info.history [i].state == SEGQ_JOB_FAILED;
    H_ASSERT (h, !failed, "job %s failed on the way", job);
    segq_job_info_clear (&info);
    size_t n;
    int dups = 0;
    h_journal_entry_t *j = harness_journal (h, &n);
    uint64_t set = harness_journal_attempts (j, n, job, &dups);
    free (j);
    cr_assert_eq (dups, 0);
    cr_assert_eq (set, (1ull << 1) | (1ull << 2), "journal attempts of %s: %#llx", job,
                  (unsigned long long) set);
    H_ASSERT (h, harness_wait_text (h->workers [0].log, "given back", 5000) == 0,
              "w1 never said it gave the attempt back");
}

Test (stop, worker_then_child_gives_the_attempt_back, .init = setup, .fini = teardown,
      .timeout = 90)
{
    segq_client_t *c = harness_client (h, 0);
    char job [SEGQ_JOB_ID_MAX];
    pid_t child = s_running_on_w1 (c, job);
    harness_signal_worker (h, 0, SIGTERM);
    kill (child, SIGTERM);
    s_check_given_back (c, job);
    segq_client_destroy (&c);
    H_ASSERT_CLEAN_STOP (h);
}

/* Slurm's process tracking may reach the child first. */
Test (stop, child_then_worker_gives_the_attempt_back, .init = setup, .fini = teardown,
      .timeout = 90)
{
    segq_client_t *c = harness_client (h, 0);
    char job [SEGQ_JOB_ID_MAX];
    pid_t child = s_running_on_w1 (c, job);
    kill (child, SIGTERM);
    harness_sleep_ms (300); /* the order under test, not a wait for a condition */
    harness_signal_worker (h, 0, SIGTERM);
    s_check_given_back (c, job);
    segq_client_destroy (&c);
    H_ASSERT_CLEAN_STOP (h);
}

/* Nobody stops the worker: the job's child was killed, and the job failed. */
Test (stop, child_killed_alone_fails, .init = setup, .fini = teardown, .timeout = 60)
{
    segq_client_t *c = harness_client (h, 0);
    char job [SEGQ_JOB_ID_MAX];
    pid_t child = s_running_on_w1 (c, job);
    kill (child, SIGTERM);
    segq_job_info_t info;
    H_ASSERT (h, harness_wait_final (c, job, 20000, &info) == 0, "job %s did not end", job);
    H_ASSERT (h, info.state == SEGQ_JOB_FAILED && info.attempt == 1, "job %s is %s, attempt %u",
              job, segq_job_state_name (info.state), info.attempt);
    H_ASSERT (h, info.reason && strstr (info.reason, "signal 15"), "reason: %s",
              info.reason ? info.reason : "(none)");
    segq_job_info_clear (&info);
    cr_assert (harness_worker_alive (h, 0), "w1 stopped");
    segq_client_destroy (&c);
    H_ASSERT_CLEAN_STOP (h);
}
