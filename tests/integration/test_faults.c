/*  test_faults.c: exactly-once observed from outside while processes are
    killed for real. Each test-kind child appends "JOB ATTEMPT" to the
    journal when it starts its work; the broker's view is compared with it. */
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
    h = harness_new ("faults");
    cr_assert_not_null (h);
    /* A lost worker is noticed after 2 s. */
    h->heartbeat_ms = 300;
    h->expiry_ms = 2000;
    cr_assert_eq (harness_start_broker (h, NULL), 0, "segqd did not start");
}

static void
teardown (void)
{
    harness_destroy (&h);
}

static int
s_worker_index (const char *node)
{
    for (int i = 0; i < h->n_workers; i++)
        if (strcmp (h->workers [i].node, node) == 0)
            return i;
    return -1;
}

static void
s_submit_sleep (segq_client_t *c, const char *seconds, char job [SEGQ_JOB_ID_MAX])
{
    segq_job_spec_t *spec = segq_job_spec_new ("sleep");
    char err [256];
    cr_assert_eq (segq_job_spec_param (spec, "seconds", seconds, err, sizeof err), 0, "%s", err);
    H_ASSERT (h, segq_client_submit (c, spec, job, SEGQ_JOB_ID_MAX) == 0, "%s",
              segq_client_error (c));
    segq_job_spec_destroy (&spec);
}

/* Succeeded exactly once in the broker's view: one `succeeded` transition. */
static void
s_check_succeeded_once (segq_client_t *c, const char *job, uint32_t *attempt)
{
    segq_job_info_t info;
    H_ASSERT (h, harness_wait_final (c, job, 60000, &info) == 0, "job %s did not end", job);
    H_ASSERT (h, info.state == SEGQ_JOB_SUCCEEDED, "job %s is %s: %s", job,
              segq_job_state_name (info.state), info.reason ? info.reason : "");
    segq_job_info_clear (&info);
    cr_assert_eq (segq_client_job (c, job, true, &info), 0, "%s", segq_client_error (c));
    size_t succeeded = 0;
    for (size_t i = 0; i < info.n_history; i++)
        succeeded += info.history [i].state == SEGQ_JOB_SUCCEEDED;
    H_ASSERT (h, succeeded == 1, "job %s: %zu `succeeded` transitions in its history", job,
              succeeded);
    *attempt = info.attempt;
    segq_job_info_clear (&info);
}

/* kill -9 the worker running a job: it is requeued and succeeds on the
   other worker, as attempt 2. */
Test (faults, kill_worker_mid_job_requeues_on_the_other, .init = setup, .fini = teardown,
      .timeout = 60)
{
    cr_assert_eq (harness_start_worker (h, "w1", 1, NULL), 0);
    cr_assert_eq (harness_start_worker (h, "w2", 1, NULL), 1);
    segq_client_t *c = harness_client (h, 0);
    char job [SEGQ_JOB_ID_MAX];
    s_submit_sleep (c, "2", job);
    H_ASSERT (h, harness_wait_state (c, job, SEGQ_JOB_RUNNING, 15000) == 0, "job never ran");
    segq_job_info_t info;
    cr_assert_eq (segq_client_job (c, job, false, &info), 0);
    cr_assert_not_null (info.worker);
    int victim = s_worker_index (info.worker);
    cr_assert_geq (victim, 0, "running on unknown node %s", info.worker);
    segq_job_info_clear (&info);
    /* its journal line says the child runs: attempt 1 happened */
    H_ASSERT (h, harness_wait_journal (h, job, 1, 10000) == 0, "attempt 1 never started");
    harness_signal_worker (h, victim, SIGKILL);

    uint32_t attempt;
    s_check_succeeded_once (c, job, &attempt);
    cr_assert_eq (attempt, 2, "the job should have run twice, ran %u", attempt);
    cr_assert_eq (segq_client_job (c, job, false, &info), 0);
    cr_assert_str_eq (info.worker ? info.worker : "", h->workers [1 - victim].node,
                      "succeeded on %s, not on the surviving worker",
                      info.worker ? info.worker : "?");
    segq_job_info_clear (&info);
    size_t n;
    int dups = 0;
    h_journal_entry_t *j = harness_journal (h, &n);
    uint64_t set = harness_journal_attempts (j, n, job, &dups);
    free (j);
    cr_assert_eq (dups, 0);
    cr_assert_eq (set, (1ull << 1) | (1ull << 2), "journal attempts of %s: %#llx", job,
                  (unsigned long long) set);
    segq_client_destroy (&c);
    H_ASSERT_CLEAN_STOP (h);
}

/* SIGSTOP a worker mid-job: it is declared lost, the job reruns on the
   other one; SIGCONT: the stopped worker's late result is fenced and the
   broker's view does not change. */
Test (faults, stopped_worker_stale_result_is_refused, .init = setup, .fini = teardown,
      .timeout = 60)
{
    const char *verbose [] = { "-v", NULL }; /* it logs a fenced attempt */
    cr_assert_eq (harness_start_worker (h, "w1", 1, verbose), 0);
    cr_assert_eq (harness_start_worker (h, "w2", 1, verbose), 1);
    segq_client_t *c = harness_client (h, 0);
    char job [SEGQ_JOB_ID_MAX];
    s_submit_sleep (c, "1.5", job);
    H_ASSERT (h, harness_wait_state (c, job, SEGQ_JOB_RUNNING, 15000) == 0, "job never ran");
    segq_job_info_t info;
    cr_assert_eq (segq_client_job (c, job, false, &info), 0);
    int victim = s_worker_index (info.worker);
    cr_assert_geq (victim, 0);
    segq_job_info_clear (&info);
    H_ASSERT (h, harness_wait_journal (h, job, 1, 10000) == 0, "attempt 1 never started");
    /* Only the daemon stops: its child finishes its sleep meanwhile. */
    harness_signal_worker (h, victim, SIGSTOP);
    uint32_t attempt;
    s_check_succeeded_once (c, job, &attempt);
    cr_assert_eq (attempt, 2);
    cr_assert_eq (segq_client_job (c, job, true, &info), 0);
    size_t transitions = info.n_history;
    double finished = info.finished;
    segq_job_info_clear (&info);

    harness_signal_worker (h, victim, SIGCONT);
    /* it re-registers holding its result, and the broker fences it */
    H_ASSERT (
        h, harness_wait_text (h->workers [victim].log, "not the job's current attempt", 30000) == 0,
        "the resumed worker's stale attempt was never fenced");
    cr_assert (harness_worker_alive (h, victim), "the resumed worker died");
    cr_assert_eq (segq_client_job (c, job, true, &info), 0);
    cr_assert_eq (info.state, SEGQ_JOB_SUCCEEDED);
    cr_assert_eq (info.attempt, 2, "the stale attempt changed the job");
    cr_assert_eq (info.n_history, transitions, "the stale result added %zu transitions",
                  info.n_history - transitions);
    cr_assert_float_eq (info.finished, finished, 1e-6);
    cr_assert_str_eq (info.worker ? info.worker : "", h->workers [1 - victim].node);
    segq_job_info_clear (&info);

    /* Both workers still take work. */
    char more [4][SEGQ_JOB_ID_MAX];
    for (int i = 0; i < 4; i++)
        s_submit_sleep (c, "0.3", more [i]);
    for (int i = 0; i < 4; i++)
        s_check_succeeded_once (c, more [i], &attempt);
    size_t n;
    h_journal_entry_t *j = harness_journal (h, &n);
    int dups = 0;
    uint64_t set = harness_journal_attempts (j, n, job, &dups);
    free (j);
    cr_assert_eq (dups, 0);
    cr_assert_eq (set, (1ull << 1) | (1ull << 2));
    segq_client_destroy (&c);
    H_ASSERT_CLEAN_STOP (h);
}

/* kill -9 the broker while jobs are being submitted and run; restart it
   on the same data dir and port. Every acknowledged id ends succeeded
   exactly once in the broker's view, and every other execution of it in
   the journal is of another (fenced) attempt. */
Test (faults, kill_broker_mid_flight_exactly_once, .init = setup, .fini = teardown, .timeout = 180)
{
    enum { N = 240, KILL_AT = 120, WINDOW = 40 };
    cr_assert_eq (harness_start_worker (h, "w1", 2, NULL), 0);
    cr_assert_eq (harness_start_worker (h, "w2", 2, NULL), 1);
    segq_client_t *c = harness_client (h, 3000);
    segq_job_spec_t *spec = segq_job_spec_new ("sleep");
    char err [256];
    cr_assert_eq (segq_job_spec_param (spec, "seconds", "0.05", err, sizeof err), 0);
    static char acked [N][SEGQ_JOB_ID_MAX];
    size_t n_acked = 0, sent = 0;
    while (n_acked < KILL_AT) {
        while (sent - n_acked < WINDOW) {
            uint64_t req;
            H_ASSERT (h, segq_client_submit_send (c, spec, &req) == 0, "%s", segq_client_error (c));
            sent++;
        }
        segq_submit_reply_t r;
        H_ASSERT (h, segq_client_submit_recv (c, -1, &r) == 0, "%s", segq_client_error (c));
        H_ASSERT (h, r.code == 0, "%s", r.message);
        memcpy (acked [n_acked++], r.job, SEGQ_JOB_ID_MAX);
    }
    /* WINDOW submits are in flight, jobs are running: kill. */
    harness_signal_broker (h, SIGKILL);
    segq_client_destroy (&c);
    cr_assert_eq (harness_start_broker (h, NULL), 0, "segqd did not restart on %s", h->endpoint);

    /* Submit the rest to the restarted broker. */
    c = harness_client (h, 10000);
    while (n_acked < N) {
        H_ASSERT (h, segq_client_submit (c, spec, acked [n_acked], SEGQ_JOB_ID_MAX) == 0, "%s",
                  segq_client_error (c));
        for (size_t k = 0; k < n_acked; k++)
            cr_assert_str_neq (acked [k], acked [n_acked], "job id %s reused after restart",
                               acked [k]);
        n_acked++;
    }
    segq_job_spec_destroy (&spec);

    static uint32_t attempts [N];
    for (size_t i = 0; i < N; i++)
        s_check_succeeded_once (c, acked [i], &attempts [i]);
    size_t n;
    h_journal_entry_t *j = harness_journal (h, &n);
    for (size_t i = 0; i < N; i++) {
        int dups = 0;
        uint64_t set = harness_journal_attempts (j, n, acked [i], &dups);
        H_ASSERT (h, dups == 0, "job %s: an attempt ran twice (journal attempts %#llx, final %u)",
                  acked [i], (unsigned long long) set, attempts [i]);
        H_ASSERT (h, set & (1ull << attempts [i]),
                  "job %s succeeded as attempt %u, which never ran", acked [i], attempts [i]);
        /* The others were earlier attempts, which the broker fenced. */
        H_ASSERT (h, (set >> (attempts [i] + 1)) == 0, "job %s: an attempt after the final one ran",
                  acked [i]);
    }
    free (j);
    segq_client_destroy (&c);
    H_ASSERT_CLEAN_STOP (h);
}
