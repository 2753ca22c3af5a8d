/*  Fair share over time: past usage decays with a half-life, running work
    counts up front, the clock only moves forward, limits re-read. All on
    a fake clock (segq__sched_set_now). */
#include <criterion/criterion.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include "scheduler.h"

#define HOUR 3600.0
#define DAY  (24 * HOUR)

typedef struct {
    segq__sched_job_t *jobs [64];
    size_t count;
} record_t;

static void
s_record (void *arg, segq__sched_job_t *job, segq__sched_node_t *node, int32_t gpu)
{
    (void) node;
    (void) gpu;
    record_t *record = arg;
    cr_assert_lt (record->count, 64);
    record->jobs [record->count++] = job;
}

static segq__sched_job_t *
s_job (segq__sched_t *sched, const char *user, uint64_t seq, uint32_t cpu_slots)
{
    segq__sched_job_t *job = calloc (1, sizeof *job);
    cr_assert (job);
    job->seq = seq;
    job->cpu_slots = cpu_slots;
    job->user = segq__sched_user (sched, user);
    cr_assert (job->user);
    cr_assert_eq (segq__sched_enqueue (sched, job), 0);
    return job;
}

/* Who gets the single slot of a one-slot node. */
static const char *
s_next_user (segq__sched_t *sched)
{
    record_t record = { .count = 0 };
    cr_assert_eq (segq__sched_dispatch (sched, 1, s_record, &record), 1);
    return segq__sched_user_name (record.jobs [0]->user);
}

Test (fairshare, yesterdays_usage_puts_a_user_behind_one_without, .timeout = 10)
{
    segq__sched_t *sched = segq__sched_new ();
    segq__sched_set_half_life (sched, 7 * DAY);
    segq__sched_set_now (sched, 10 * DAY);
    /* alice ran 200 slot-hours that ended a day ago */
    segq__sched_user_charge (sched, segq__sched_user (sched, "alice"), 200 * HOUR, 9 * DAY);
    double expected = 200 * HOUR * exp2 (-1.0 / 7);
    cr_assert_float_eq (segq__sched_user_usage (sched, segq__sched_user (sched, "alice")), expected,
                        1e-6 * expected);
    segq__sched_job_t *a = s_job (sched, "alice", 1, 1);
    segq__sched_job_t *b = s_job (sched, "bob", 2, 1);
    segq__sched_node_new (sched, NULL, 1, NULL, 0, 1, 0);
    cr_assert_str_eq (s_next_user (sched), "bob", "alice asked first but used 200 h yesterday");
    segq__sched_destroy (&sched);
    free (a);
    free (b);
}

Test (fairshare, past_usage_fades_with_the_half_life, .timeout = 10)
{
    segq__sched_t *sched = segq__sched_new ();
    segq__sched_set_half_life (sched, 1 * DAY);
    segq__sched_set_now (sched, 1000.0);
    /* alice: 1000 weight-seconds of past; bob: two jobs running now (each
       counts SEGQ_SCHED_RUNNING_CHARGE_S = 300 up front: 600) */
    segq__sched_user_charge (sched, segq__sched_user (sched, "alice"), 1000, 1000.0);
    segq__sched_node_t *node = segq__sched_node_new (sched, NULL, 3, NULL, 0, 1, 0);
    segq__sched_job_t *bob [3] = { s_job (sched, "bob", 1, 1), s_job (sched, "bob", 2, 1),
                                   s_job (sched, "bob", 3, 1) };
    record_t record = { .count = 0 };
    cr_assert_eq (segq__sched_dispatch (sched, 2, s_record, &record), 2);
    segq__sched_job_t *alice = s_job (sched, "alice", 4, 1);
    cr_assert_str_eq (s_next_user (sched), "bob", "600 running beats 1000 of past");
    /* the third bob job took the slot: give it back, let a day pass
       (bob's two jobs ran it: 2 x 86400) ... */
    segq__sched_release (sched, bob [2]->running ? bob [2] : bob [0]);
    cr_assert_eq (segq__sched_node_cpu_used (node), 2);
    segq__sched_job_t *again = s_job (sched, "bob", 5, 1);
    segq__sched_set_now (sched, 1000.0 + DAY);
    cr_assert_float_eq (segq__sched_user_usage (sched, segq__sched_user (sched, "alice")), 500,
                        1e-9);
    cr_assert_str_eq (s_next_user (sched), "alice", "her 500 of past is less than bob's day");
    segq__sched_destroy (&sched);
    for (int i = 0; i < 3; i++)
        free (bob [i]);
    free (alice);
    free (again);
}

Test (fairshare, an_ended_run_moves_its_usage_into_the_past, .timeout = 10)
{
    segq__sched_t *sched = segq__sched_new ();
    segq__sched_set_half_life (sched, 7 * DAY);
    segq__sched_set_now (sched, 100.0);
    segq__sched_node_new (sched, NULL, 4, NULL, 0, 1, 0);
    segq__sched_job_t *job = s_job (sched, "alice", 1, 4); /* weight 4 */
    cr_assert_str_eq (s_next_user (sched), "alice");
    cr_assert_float_eq (job->started, 100.0, 1e-9);
    segq__sched_set_now (sched, 160.0);
    segq__sched_user_t *alice = job->user;
    cr_assert_float_eq (segq__sched_user_usage (sched, alice), 4 * 60.0, 1e-6);
    segq__sched_release (sched, job);
    cr_assert_float_eq (segq__sched_user_usage (sched, alice), 4 * 60.0, 1e-6,
                        "no usage is lost or counted twice when a run ends");
    segq__sched_set_now (sched, 160.0 + 7 * DAY);
    cr_assert_float_eq (segq__sched_user_usage (sched, alice), 2 * 60.0, 1e-6);
    segq__sched_destroy (&sched);
    free (job);
}

Test (fairshare, gpu_memory_weighs_per_gib, .timeout = 10)
{
    segq__sched_job_t job = { .gpu_mem = 8ULL << 30, .cpu_slots = 0 };
    cr_assert_float_eq (segq__sched_job_weight (&job), 8.0, 1e-12);
    job = (segq__sched_job_t){ .gpu_mem = 0, .cpu_slots = 2 };
    cr_assert_float_eq (segq__sched_job_weight (&job), 2.0, 1e-12);
    job = (segq__sched_job_t){ .gpu_mem = 0, .cpu_slots = 0 }; /* in-process kinds */
    cr_assert_float_eq (segq__sched_job_weight (&job), 1.0, 1e-12);
}

Test (fairshare, without_a_half_life_only_running_work_counts, .timeout = 10)
{
    segq__sched_t *sched = segq__sched_new ();
    segq__sched_set_half_life (sched, 0);
    segq__sched_set_now (sched, 50.0);
    segq__sched_user_charge (sched, segq__sched_user (sched, "alice"), 1e9, 40.0);
    cr_assert_float_eq (segq__sched_user_usage (sched, segq__sched_user (sched, "alice")), 0,
                        1e-12);
    segq__sched_destroy (&sched);
}

Test (fairshare, the_clock_never_goes_back, .timeout = 10)
{
    segq__sched_t *sched = segq__sched_new ();
    segq__sched_set_half_life (sched, HOUR);
    segq__sched_set_now (sched, 10 * HOUR);
    segq__sched_user_charge (sched, segq__sched_user (sched, "alice"), 100, 10 * HOUR);
    segq__sched_set_now (sched, 5 * HOUR);
    cr_assert_float_eq (segq__sched_now (sched), 10 * HOUR, 1e-9);
    cr_assert_float_eq (segq__sched_user_usage (sched, segq__sched_user (sched, "alice")), 100,
                        1e-9);
    segq__sched_destroy (&sched);
}

/* The reactor moves the clock every turn: a move below the resolution
   must not re-key anyone, and the moves it skipped are not lost. */
Test (fairshare, the_clock_moves_in_steps, .timeout = 10)
{
    segq__sched_t *sched = segq__sched_new ();
    segq__sched_set_half_life (sched, HOUR);
    segq__sched_set_now (sched, 100.0);
    segq__sched_set_now (sched, 100.0 + SEGQ_SCHED_CLOCK_STEP_S / 2);
    cr_assert_float_eq (segq__sched_now (sched), 100.0, 1e-12);
    segq__sched_set_now (sched, 100.0 + SEGQ_SCHED_CLOCK_STEP_S);
    cr_assert_float_eq (segq__sched_now (sched), 100.0 + SEGQ_SCHED_CLOCK_STEP_S, 1e-12);
    segq__sched_destroy (&sched);
}

static uint64_t s_max_running = 1;

static segq__sched_limits_t
s_limits (void *arg, const char *user)
{
    (void) arg;
    (void) user;
    return (segq__sched_limits_t){ s_max_running, SEGQ_SCHED_UNLIMITED };
}

Test (fairshare, reloaded_limits_take_effect_at_once, .timeout = 10)
{
    segq__sched_t *sched = segq__sched_new ();
    segq__sched_set_limits_fn (sched, s_limits, NULL);
    segq__sched_job_t *jobs [4];
    for (int i = 0; i < 4; i++)
        jobs [i] = s_job (sched, "alice", (uint64_t) i + 1, 1);
    segq__sched_node_new (sched, NULL, 4, NULL, 0, 1, 0);
    record_t record = { .count = 0 };
    cr_assert_eq (segq__sched_dispatch (sched, 10, s_record, &record), 1, "max_running = 1");
    s_max_running = 3;
    segq__sched_reload_limits (sched);
    cr_assert_eq (segq__sched_user_limits (jobs [0]->user).max_running, 3);
    cr_assert_eq (segq__sched_dispatch (sched, 10, s_record, &record), 2, "now 3 may run");
    s_max_running = 1;
    segq__sched_reload_limits (sched);
    segq__sched_release (sched, record.jobs [0]);
    cr_assert_eq (segq__sched_dispatch (sched, 10, s_record, &record), 0,
                  "2 still running: over the new limit, nothing starts");
    segq__sched_destroy (&sched);
    for (int i = 0; i < 4; i++)
        free (jobs [i]);
}
