/*  Accounting and hold over the job machine, on given times (a fake
    clock): every run that ends is recorded with its declared and measured
    use, grouped like sreport; fair share is charged the past again at
    start; held jobs stay out of the scheduler until released. */
#include <math.h>
#include "accounting.h"
#include "broker_test_jobs.h"

#define DAY 86400.0

static segq_usage_row_t *rows;
static size_t n_rows;

static void
s_query (segq_usage_by_t by, const char *of_user, double since)
{
    segq_usage_t request = { .by = by, .of_user = (char *) of_user, .since = since };
    char err [512] = "";
    for (size_t i = 0; i < n_rows; i++)
        free (rows [i].key);
    free (rows);
    cr_assert_eq (segq__accounting_query (store, &request, &rows, &n_rows, err, sizeof err), 0,
                  "%s", err);
}

static void
s_rows_teardown (void)
{
    for (size_t i = 0; i < n_rows; i++)
        free (rows [i].key);
    free (rows);
    rows = NULL;
    n_rows = 0;
    teardown ();
}

/* A sleep job of `user` with `cpu_slots`, started at `start`. */
static segq__job_t *
s_started (const char *user, uint32_t cpu_slots, uint64_t gpu_mem, double start)
{
    char id [SEGQ__JOB_ID_MAX], err [512] = "";
    segq_submit_t submit = {
        .user = (char *) user, .kind = "sleep", .cpu_slots = cpu_slots, .gpu_mem = gpu_mem
    };
    cr_assert_eq (segq__jobs_submit (jobs, &submit, start, id, err, sizeof err), 0, "%s", err);
    segq__job_t *job = s_job (id);
    segq__sched_adopt (sched, &job->sched, node, -1);
    cr_assert_eq (segq__jobs_start (jobs, job, "node", -1, start), 0);
    return job;
}

Test (accounting, every_ended_run_is_recorded_with_what_it_used, .init = setup,
      .fini = s_rows_teardown, .timeout = 20)
{
    segq__job_t *a = s_started ("alice", 2, 0, 1000.0);
    a->measured = (segq__measured_t){ .cpu_seconds = 150.5, .max_rss = 1 << 30, .gpu_peak = 0 };
    cr_assert_eq (segq__jobs_finish (jobs, a, true, NULL, 0, 0, NULL, 0, 1100.0), 0);
    /* bob's GPU job is lost once (recorded, no measurement), then fails */
    segq__job_t *b = s_started ("bob", 0, 4ULL << 30, 1000.0);
    cr_assert_eq (segq__jobs_lost (jobs, b, "worker node lost", "node", 1060.0), 0);
    segq__sched_adopt (sched, &b->sched, node, -1);
    cr_assert_eq (segq__jobs_start (jobs, b, "node", -1, 1070.0), 0);
    b->measured =
        (segq__measured_t){ .cpu_seconds = 10, .max_rss = 5 << 20, .gpu_peak = 3ULL << 30 };
    cr_assert_eq (segq__jobs_finish (jobs, b, false, "boom", 1, 0, NULL, 0, 1100.0), 0);
    s_commit ();
    s_query (SEGQ_USAGE_BY_USER, NULL, 0);
    cr_assert_eq (n_rows, 2);
    cr_assert_str_eq (rows [0].key, "alice");
    cr_assert_eq (rows [0].runs, 1);
    cr_assert_float_eq (rows [0].run_seconds, 100, 1e-9);
    cr_assert_float_eq (rows [0].cpu_slot_seconds, 200, 1e-9, "2 slots x 100 s");
    cr_assert_float_eq (rows [0].cpu_seconds, 150.5, 1e-9);
    cr_assert_eq (rows [0].max_rss, 1 << 30);
    cr_assert_str_eq (rows [1].key, "bob");
    cr_assert_eq (rows [1].runs, 2, "the lost attempt counts as a run");
    cr_assert_eq (rows [1].jobs, 1);
    cr_assert_float_eq (rows [1].run_seconds, 60 + 30, 1e-9);
    cr_assert_float_eq (rows [1].gpu_mem_seconds, 90.0 * (4ULL << 30), 1);
    cr_assert_float_eq (rows [1].cpu_seconds, 10, 1e-9, "only the measured run");
    cr_assert_eq (rows [1].gpu_peak, 3ULL << 30);
    s_query (SEGQ_USAGE_BY_KIND, "bob", 0);
    cr_assert_eq (n_rows, 1);
    cr_assert_str_eq (rows [0].key, "sleep");
    s_query (SEGQ_USAGE_BY_DAY, NULL, 0);
    cr_assert_eq (n_rows, 1);
    cr_assert_str_eq (rows [0].key, "1970-01-01");
    s_query (SEGQ_USAGE_BY_USER, NULL, 1070.0);
    cr_assert_eq (n_rows, 2, "runs that ended since then only");
    cr_assert_eq (rows [1].runs, 1);
}

Test (accounting, a_cancel_while_running_is_a_run_too, .init = setup, .fini = s_rows_teardown,
      .timeout = 20)
{
    segq__job_t *a = s_started ("alice", 1, 0, 1000.0);
    char id [SEGQ__JOB_ID_MAX], err [512] = "";
    segq__job_id_format (a->sched.seq, id);
    bool abort = false;
    cr_assert_eq (segq__jobs_cancel (jobs, a->sched.seq, "alice", 1010.0, &abort, err, sizeof err),
                  0, "%s", err);
    cr_assert (abort);
    cr_assert_eq (segq__jobs_finish (jobs, a, false, NULL, -1, 15, NULL, 0, 1020.0), 0);
    s_commit ();
    s_query (SEGQ_USAGE_BY_USER, NULL, 0);
    cr_assert_eq (n_rows, 1);
    cr_assert_float_eq (rows [0].run_seconds, 20, 1e-9);
}

Test (accounting, a_restart_charges_fair_share_with_the_decayed_past, .init = setup,
      .fini = s_rows_teardown, .timeout = 20)
{
    segq__job_t *a = s_started ("alice", 4, 0, 1000.0);
    cr_assert_eq (segq__jobs_finish (jobs, a, true, NULL, 0, 0, NULL, 0, 1000.0 + 3600), 0);
    s_commit ();
    /* a broker started a week (one half-life) later */
    segq__sched_t *later = segq__sched_new ();
    segq__sched_set_half_life (later, 7 * DAY);
    segq__sched_set_now (later, 1000.0 + 3600 + 7 * DAY);
    cr_assert_eq (segq__accounting_charge_past (store, later, 7 * DAY), 0);
    double usage = segq__sched_user_usage (later, segq__sched_user (later, "alice"));
    cr_assert_float_eq (usage, 4 * 3600 / 2.0, 1e-6, "4 slots x 1 h, halved: %g", usage);
    segq__sched_destroy (&later);
}

Test (hold, a_held_job_is_not_started_until_released, .init = setup, .fini = teardown,
      .timeout = 20)
{
    char id [SEGQ__JOB_ID_MAX], err [512] = "";
    cr_assert_eq (s_submit ("sleep", NULL, NULL, id, err, sizeof err), 0, "%s", err);
    uint64_t number = segq__job_id_parse (id);
    cr_assert_eq (segq__jobs_hold (jobs, number, false, "bob", false, err, sizeof err), SEGQ_EPERM);
    cr_assert (strstr (err, "alice"), "%s", err);
    cr_assert_eq (segq__jobs_hold (jobs, number, false, "alice", false, err, sizeof err), 0, "%s",
                  err);
    cr_assert_eq (segq__sched_queued (sched), 0, "out of the scheduler");
    cr_assert_eq (segq__sched_dispatch (sched, 10, s_start, NULL), 0);
    s_commit ();
    /* it stays held across a restart */
    s_close ();
    s_open ();
    cr_assert (s_job (id)->held);
    cr_assert_eq (segq__sched_queued (sched), 0);
    cr_assert_eq (segq__jobs_hold (jobs, number, true, "admin", true, err, sizeof err), 0, "%s",
                  err);
    cr_assert_eq (segq__sched_dispatch (sched, 10, s_start, NULL), 1);
    cr_assert_eq (segq__jobs_hold (jobs, number, false, "alice", false, err, sizeof err),
                  SEGQ_ESTATE);
    cr_assert (strstr (err, "running"), "%s", err);
    s_commit ();
}

Test (hold, a_held_waiting_job_is_queued_but_not_started, .init = setup, .fini = teardown,
      .timeout = 20)
{
    char first [SEGQ__JOB_ID_MAX], later [SEGQ__JOB_ID_MAX], err [512] = "";
    cr_assert_eq (s_submit ("sleep", NULL, NULL, first, err, sizeof err), 0, "%s", err);
    segq_submit_t submit = { .user = "alice", .kind = "sleep" };
    char *after [] = { first };
    submit.after = after;
    submit.n_after = 1;
    cr_assert_eq (segq__jobs_submit (jobs, &submit, 1000.0, later, err, sizeof err), 0, "%s", err);
    cr_assert_eq (s_job (later)->state, SEGQ_JOB_WAITING);
    cr_assert_eq (
        segq__jobs_hold (jobs, segq__job_id_parse (later), false, "alice", false, err, sizeof err),
        0, "%s", err);
    cr_assert_eq (segq__sched_dispatch (sched, 10, s_start, NULL), 1);
    cr_assert_eq (segq__jobs_finish (jobs, s_job (first), true, NULL, 0, 0, NULL, 0, 1005.0), 0);
    cr_assert_eq (s_job (later)->state, SEGQ_JOB_QUEUED);
    cr_assert_eq (segq__sched_queued (sched), 0, "queued, and still held");
    cr_assert_eq (
        segq__jobs_hold (jobs, segq__job_id_parse (later), true, "alice", false, err, sizeof err),
        0, "%s", err);
    cr_assert_eq (segq__sched_queued (sched), 1);
    s_commit ();
}
