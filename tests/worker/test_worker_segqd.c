/*  segq-worker with a real segqd: the worker's own fault paths, end to end
    (child killed, time limit, cancel of a running job, a result finished
    while the broker was down). Uses the integration harness. */
#include <criterion/criterion.h>
#include <dirent.h>
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
    h = harness_new ("worker");
    cr_assert_not_null (h);
    h->heartbeat_ms = 200;
    h->expiry_ms = 1500;
    cr_assert_eq (harness_start_broker (h, NULL), 0, "segqd did not start");
    /* Jobs here ask for GPU memory that only this worker declares: the
       broker's ephemeral port may have belonged to another test's broker
       a moment ago, whose workers (CPU only) may still come knocking. */
    const char *extra [] = { "--gpus", "0:FakeGPU:1G", NULL };
    cr_assert_geq (harness_start_worker (h, "wk", 2, extra), 0, "segq-worker did not start");
}

static void
teardown (void)
{
    harness_destroy (&h);
}

TestSuite (worker_segqd, .init = setup, .fini = teardown, .timeout = 120);

static void
s_submit (segq_client_t *c, const char *kind, const char *const *params, uint32_t time_limit,
          char job [SEGQ_JOB_ID_MAX])
{
    segq_job_spec_t *spec = segq_job_spec_new (kind);
    char err [256];
    for (size_t i = 0; params && params [i]; i += 2)
        cr_assert_eq (segq_job_spec_param (spec, params [i], params [i + 1], err, sizeof err), 0,
                      "%s", err);
    if (time_limit)
        segq_job_spec_set_time_limit (spec, time_limit);
    segq_job_spec_set_gpu_mem (spec, 1u << 20);
    H_ASSERT (h, segq_client_submit (c, spec, job, SEGQ_JOB_ID_MAX) == 0, "%s",
              segq_client_error (c));
    segq_job_spec_destroy (&spec);
}

/* Wait until the journal shows `job` started. */
static void
s_wait_started (const char *job)
{
    H_ASSERT (h, harness_wait_journal (h, job, 0, 10000) == 0, "job %s never started", job);
}

/* pid of the worker's child running a test kind (its only child). */
static pid_t
s_child_of (pid_t parent)
{
    DIR *proc = opendir ("/proc");
    pid_t found = 0;
    for (struct dirent *e; proc && (e = readdir (proc));) {
        char path [300], line [512];
        snprintf (path, sizeof path, "/proc/%s/stat", e->d_name);
        FILE *f = fopen (path, "r");
        if (!f)
            continue;
        int pid = 0, ppid = 0;
        char comm [256];
        if (fgets (line, sizeof line, f)
            && sscanf (line, "%d (%255[^)]) %*c %d", &pid, comm, &ppid) == 3 && ppid == parent
            && strstr (comm, "segq-testkind"))
            found = pid;
        fclose (f);
    }
    if (proc)
        closedir (proc);
    return found;
}

/* Waits until the worker's child has come and gone: its job ended. */
static void
s_wait_child_ended (void)
{
    pid_t child = 0;
    for (int i = 0; i < 500 && !child; i++, harness_sleep_ms (10))
        child = s_child_of (h->workers [0].pid);
    H_ASSERT (h, child > 0, "no child of the worker found");
    for (int i = 0; i < 1000 && s_child_of (h->workers [0].pid) == child; i++)
        harness_sleep_ms (10);
    H_ASSERT (h, s_child_of (h->workers [0].pid) != child, "the job's child never ended");
}

static void
s_wait_worker_gone (void)
{
    for (int i = 0; i < 500 && harness_worker_alive (h, 0); i++)
        harness_sleep_ms (10);
    H_ASSERT (h, !harness_worker_alive (h, 0), "the drained worker did not exit");
}

static size_t
s_journal_count (void)
{
    size_t n;
    free (harness_journal (h, &n));
    return n;
}

static void
s_expect_final (segq_client_t *c, const char *job, segq_job_state_t state, const char *reason)
{
    segq_job_info_t info;
    H_ASSERT (h, harness_wait_final (c, job, 30000, &info) == 0, "job %s did not end", job);
    H_ASSERT (h, info.state == state, "job %s is %s (%s), not %s", job,
              segq_job_state_name (info.state), info.reason ? info.reason : "",
              segq_job_state_name (state));
    if (reason)
        H_ASSERT (h, info.reason && strstr (info.reason, reason), "job %s: reason '%s', not '%s'",
                  job, info.reason ? info.reason : "(none)", reason);
    segq_job_info_clear (&info);
}

Test (worker_segqd, child_killed_then_next_job_runs)
{
    segq_client_t *c = harness_client (h, 10000);
    char job [SEGQ_JOB_ID_MAX], next [SEGQ_JOB_ID_MAX];
    const char *params [] = { "seconds", "60", NULL };
    s_submit (c, "sleep", params, 0, job);
    s_wait_started (job);
    pid_t child = 0;
    for (int i = 0; i < 200 && !child; i++, harness_sleep_ms (10))
        child = s_child_of (h->workers [0].pid);
    H_ASSERT (h, child > 0, "no child of the worker found");
    kill (child, SIGKILL);
    s_expect_final (c, job, SEGQ_JOB_FAILED,
                    "killed by signal 9 (Killed; by a person, or by the kernel out of memory: "
                    "see dmesg)");
    H_ASSERT (h, harness_worker_alive (h, 0), "the worker died with its child");
    const char *quick [] = { "seconds", "0", NULL };
    s_submit (c, "sleep", quick, 0, next);
    s_expect_final (c, next, SEGQ_JOB_SUCCEEDED, NULL);
    segq_client_destroy (&c);
}

Test (worker_segqd, time_limit_fails_the_job)
{
    segq_client_t *c = harness_client (h, 10000);
    char job [SEGQ_JOB_ID_MAX];
    const char *params [] = { "seconds", "60", NULL };
    s_submit (c, "sleep", params, 1, job);
    s_expect_final (c, job, SEGQ_JOB_FAILED, "time limit of 1 s exceeded");
    segq_client_destroy (&c);
}

Test (worker_segqd, cancel_running_job)
{
    segq_client_t *c = harness_client (h, 10000);
    char job [SEGQ_JOB_ID_MAX];
    const char *params [] = { "seconds", "60", NULL };
    s_submit (c, "sleep", params, 0, job);
    s_wait_started (job);
    const char *jobs [] = { job };
    segq_cancel_outcome_t *outcomes = NULL;
    size_t n_outcomes = 0;
    H_ASSERT (h, segq_client_cancel (c, jobs, 1, &outcomes, &n_outcomes) == 0, "%s",
              segq_client_error (c));
    segq_cancel_outcomes_free (&outcomes, n_outcomes);
    s_expect_final (c, job, SEGQ_JOB_CANCELLED, NULL);
    /* the child is gone */
    for (int i = 0; i < 200 && s_child_of (h->workers [0].pid); i++)
        harness_sleep_ms (10);
    H_ASSERT (h, s_child_of (h->workers [0].pid) == 0, "the cancelled job's child still runs");
    segq_client_destroy (&c);
}

Test (worker_segqd, result_finished_while_broker_down_is_kept)
{
    segq_client_t *c = harness_client (h, 10000);
    char job [SEGQ_JOB_ID_MAX];
    const char *params [] = { "seconds", "1", NULL };
    s_submit (c, "sleep", params, 0, job);
    s_wait_started (job);
    segq_client_destroy (&c);
    harness_signal_broker (h, SIGKILL);
    s_wait_child_ended (); /* the job ends while nobody listens */
    H_ASSERT (h, harness_start_broker (h, NULL) == 0, "segqd did not restart");
    c = harness_client (h, 10000);
    s_expect_final (c, job, SEGQ_JOB_SUCCEEDED, NULL);
    segq_job_info_t info;
    H_ASSERT (h, segq_client_job (c, job, false, &info) == 0, "%s", segq_client_error (c));
    H_ASSERT (h, info.attempt == 1, "job took %u attempts", info.attempt);
    segq_job_info_clear (&info);
    H_ASSERT (h, s_journal_count () == 1, "the job ran %zu times", s_journal_count ());
    segq_client_destroy (&c);
}

Test (worker_segqd, sigterm_finishes_running_job_then_exits)
{
    segq_client_t *c = harness_client (h, 10000);
    char job [SEGQ_JOB_ID_MAX];
    const char *params [] = { "seconds", "1", NULL };
    s_submit (c, "sleep", params, 0, job);
    s_wait_started (job);
    harness_signal_worker (h, 0, SIGTERM);
    s_expect_final (c, job, SEGQ_JOB_SUCCEEDED, NULL);
    s_wait_worker_gone ();
    /* the broker saw it leave: nothing is assigned to it any more */
    char next [SEGQ_JOB_ID_MAX];
    s_submit (c, "sleep", params, 0, next);
    /* SUBMITTED leaves after the turn's dispatch: had the broker still
       counted the worker, the job would be running already */
    segq_job_info_t info;
    H_ASSERT (h, segq_client_job (c, next, false, &info) == 0, "%s", segq_client_error (c));
    H_ASSERT (h, info.state == SEGQ_JOB_QUEUED, "job %s is %s with no worker", next,
              segq_job_state_name (info.state));
    segq_job_info_clear (&info);
    segq_client_destroy (&c);
}

Test (worker_segqd, drain_from_the_broker)
{
    segq_client_t *c = harness_client (h, 10000);
    char job [SEGQ_JOB_ID_MAX];
    const char *params [] = { "seconds", "1", NULL };
    s_submit (c, "sleep", params, 0, job);
    s_wait_started (job);
    H_ASSERT (h, segq_client_drain (c, "wk") == 0, "%s", segq_client_error (c));
    s_expect_final (c, job, SEGQ_JOB_SUCCEEDED, NULL);
    s_wait_worker_gone ();
    H_ASSERT (h, s_journal_count () == 1, "the job ran %zu times", s_journal_count ());
    segq_client_destroy (&c);
}
