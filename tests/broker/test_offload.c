/*  offload: work runs on the offload's threads, done on the caller's once
    the fd says so, each exactly once; destroy lets work handed over end
    and calls no done. */
#include <criterion/criterion.h>
#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include "offload.h"

typedef struct {
    pthread_t caller;
    atomic_bool worked_elsewhere;
    atomic_int worked;
    int done;         /* the caller's thread only */
    atomic_int *gate; /* work waits while it is 0, if set */
} job_t;

static void
s_work (void *arg)
{
    job_t *job = arg;
    while (job->gate && atomic_load (job->gate) == 0)
        sched_yield ();
    job->worked_elsewhere = !pthread_equal (pthread_self (), job->caller);
    atomic_fetch_add (&job->worked, 1);
}

static void
s_done (void *arg)
{
    job_t *job = arg;
    cr_assert (pthread_equal (pthread_self (), job->caller), "done runs on the caller's thread");
    cr_assert_eq (atomic_load (&job->worked), 1, "done comes after the work");
    job->done++;
}

static segq__offload_t *
s_offload (size_t threads)
{
    char err [256] = "";
    segq__offload_t *offload = segq__offload_new (threads, err, sizeof err);
    cr_assert_not_null (offload, "%s", err);
    return offload;
}

/* Hands n jobs over from this thread. */
static void
s_run_all (segq__offload_t *offload, job_t *jobs, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        jobs [i].caller = pthread_self ();
        cr_assert_eq (segq__offload_run (offload, s_work, s_done, &jobs [i]), 0);
    }
}

/* Delivers until `want` dones have run, waiting on the fd (never a sleep). */
static void
s_deliver_all (segq__offload_t *offload, size_t want)
{
    size_t got = 0;
    while (got < want) {
        struct pollfd item = { .fd = segq__offload_fd (offload), .events = POLLIN };
        cr_assert_eq (poll (&item, 1, 10000), 1, "the fd says when work is done");
        got += segq__offload_deliver (offload);
    }
    cr_assert_eq (got, want);
}

Test (offload, work_on_a_thread_done_on_the_callers_each_once, .timeout = 30)
{
    enum { JOBS = 2000 };
    static job_t jobs [JOBS];
    segq__offload_t *offload = s_offload (4);
    s_run_all (offload, jobs, JOBS);
    s_deliver_all (offload, JOBS);
    for (size_t i = 0; i < JOBS; i++) {
        cr_assert (jobs [i].worked_elsewhere, "job %zu worked on an offload thread", i);
        cr_assert_eq (jobs [i].done, 1, "job %zu", i);
    }
    /* all delivered: the fd is quiet again */
    struct pollfd item = { .fd = segq__offload_fd (offload), .events = POLLIN };
    cr_assert_eq (poll (&item, 1, 0), 0);
    cr_assert_eq (segq__offload_deliver (offload), 0);
    segq__offload_destroy (&offload);
    cr_assert_null (offload);
}

Test (offload, one_slow_job_does_not_hold_up_the_others, .timeout = 30)
{
    atomic_int gate = 0;
    job_t slow = { .caller = pthread_self (), .gate = &gate };
    job_t quick [8] = { 0 };
    segq__offload_t *offload = s_offload (2);
    cr_assert_eq (segq__offload_run (offload, s_work, s_done, &slow), 0);
    for (size_t i = 0; i < 8; i++) {
        quick [i].caller = pthread_self ();
        cr_assert_eq (segq__offload_run (offload, s_work, s_done, &quick [i]), 0);
    }
    s_deliver_all (offload, 8);
    cr_assert_eq (slow.done, 0, "the slow one still works");
    atomic_store (&gate, 1);
    s_deliver_all (offload, 1);
    cr_assert_eq (slow.done, 1);
    segq__offload_destroy (&offload);
}

Test (offload, destroy_lets_work_end_and_calls_no_done, .timeout = 30)
{
    enum { JOBS = 64 };
    static job_t jobs [JOBS];
    segq__offload_t *offload = s_offload (3);
    s_run_all (offload, jobs, JOBS);
    segq__offload_destroy (&offload);
    for (size_t i = 0; i < JOBS; i++) {
        cr_assert_eq (atomic_load (&jobs [i].worked), 1, "job %zu's work ran", i);
        cr_assert_eq (jobs [i].done, 0, "job %zu's done did not", i);
    }
    segq__offload_destroy (&offload); /* twice: a no-op */
}

Test (offload, needs_a_thread, .timeout = 10)
{
    char err [256] = "";
    cr_assert_null (segq__offload_new (0, err, sizeof err));
    cr_assert (strstr (err, "needs a thread"), "%s", err);
}
