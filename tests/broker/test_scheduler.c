/*  Scheduler: fair share, priority within a user, fit, GPU sharing, no
    head-of-line blocking, kinds, in-process window, release and adoption. */
#include <criterion/criterion.h>
#include <stdlib.h>
#include <string.h>
#include "scheduler.h"

#define GB (1ULL << 30)

typedef struct {
    segq__sched_job_t *order [4096];
    segq__sched_node_t *nodes [4096];
    int32_t gpus [4096];
    size_t count;
} record_t;

static void
s_record (void *arg, segq__sched_job_t *job, segq__sched_node_t *node, int32_t gpu)
{
    record_t *record = arg;
    cr_assert_lt (record->count, 4096);
    record->order [record->count] = job;
    record->nodes [record->count] = node;
    record->gpus [record->count] = gpu;
    record->count++;
}

static segq__sched_job_t *
s_job (segq__sched_t *sched, const char *user, uint64_t seq, int32_t priority, uint64_t gpu_mem,
       uint32_t cpu_slots)
{
    segq__sched_job_t *job = calloc (1, sizeof *job);
    cr_assert (job);
    job->seq = seq;
    job->priority = priority;
    job->gpu_mem = gpu_mem;
    job->cpu_slots = cpu_slots;
    job->user = segq__sched_user (sched, user);
    cr_assert (job->user);
    cr_assert_eq (segq__sched_enqueue (sched, job), 0);
    return job;
}

Test (scheduler, fair_share_alternates_users_by_running_work, .timeout = 10)
{
    segq__sched_t *sched = segq__sched_new ();
    segq__sched_job_t *jobs [20];
    /* alice queues 10 jobs before bob queues his 10 */
    for (int i = 0; i < 10; i++)
        jobs [i] = s_job (sched, "alice", (uint64_t) i + 1, 0, 0, 1);
    for (int i = 10; i < 20; i++)
        jobs [i] = s_job (sched, "bob", (uint64_t) i + 1, 0, 0, 1);
    cr_assert_eq (segq__sched_queued (sched), 20);
    segq__sched_node_t *node = segq__sched_node_new (sched, NULL, 4, NULL, 0, 1, 0);
    record_t record = { .count = 0 };
    cr_assert_eq (segq__sched_dispatch (sched, 100, s_record, &record), 4);
    size_t alice = 0, bob = 0;
    for (size_t i = 0; i < record.count; i++) {
        if (strcmp (segq__sched_user_name (record.order [i]->user), "alice") == 0)
            alice++;
        else
            bob++;
    }
    cr_assert_eq (alice, 2, "4 slots, 2 users: 2 each, got alice %zu", alice);
    cr_assert_eq (bob, 2);
    /* alice's jobs run in FIFO order */
    cr_assert (record.order [0]->seq == 1 || record.order [1]->seq == 1);
    /* one of bob's ends: bob has less running work, so bob goes next */
    segq__sched_job_t *bob_job = strcmp (segq__sched_user_name (record.order [0]->user), "bob") == 0
                                     ? record.order [0]
                                     : record.order [1];
    segq__sched_release (sched, bob_job);
    record.count = 0;
    cr_assert_eq (segq__sched_dispatch (sched, 100, s_record, &record), 1);
    cr_assert_str_eq (segq__sched_user_name (record.order [0]->user), "bob");
    cr_assert_eq (segq__sched_node_cpu_used (node), 4);
    segq__sched_destroy (&sched);
    for (int i = 0; i < 20; i++)
        free (jobs [i]);
}

Test (scheduler, tie_goes_to_least_recently_served, .timeout = 10)
{
    segq__sched_t *sched = segq__sched_new ();
    segq__sched_job_t *jobs [6];
    for (int i = 0; i < 3; i++)
        jobs [i] = s_job (sched, "alice", (uint64_t) i + 1, 0, 0, 1);
    for (int i = 3; i < 6; i++)
        jobs [i] = s_job (sched, "bob", (uint64_t) i + 1, 0, 0, 1);
    segq__sched_node_new (sched, NULL, 1, NULL, 0, 1, 0);
    record_t record = { .count = 0 };
    /* one slot: each time it frees, both users have 0 running: turns alternate */
    const char *last = NULL;
    for (int round = 0; round < 6; round++) {
        record.count = 0;
        cr_assert_eq (segq__sched_dispatch (sched, 100, s_record, &record), 1);
        const char *who = segq__sched_user_name (record.order [0]->user);
        if (last)
            cr_assert_str_neq (who, last, "round %d: same user twice", round);
        last = who;
        segq__sched_release (sched, record.order [0]);
    }
    segq__sched_destroy (&sched);
    for (int i = 0; i < 6; i++)
        free (jobs [i]);
}

Test (scheduler, priority_orders_only_the_users_own_jobs, .timeout = 10)
{
    segq__sched_t *sched = segq__sched_new ();
    segq__sched_job_t *jobs [6] = {
        s_job (sched, "alice", 1, 0, 0, 1),
        s_job (sched, "alice", 2, 5, 0, 1),
        s_job (sched, "alice", 3, 1, 0, 1),
        s_job (sched, "alice", 4, 5, 0, 1),
        /* bob's huge priority does not put him ahead of alice's turn */
        s_job (sched, "bob", 5, 1000, 0, 1),
        s_job (sched, "bob", 6, 1000, 0, 1),
    };
    segq__sched_node_new (sched, NULL, 1, NULL, 0, 1, 0);
    record_t record = { .count = 0 };
    uint64_t alice_order [4], bob_order [2];
    size_t n_alice = 0, n_bob = 0;
    for (int round = 0; round < 6; round++) {
        record.count = 0;
        cr_assert_eq (segq__sched_dispatch (sched, 100, s_record, &record), 1);
        segq__sched_job_t *job = record.order [0];
        if (strcmp (segq__sched_user_name (job->user), "alice") == 0)
            alice_order [n_alice++] = job->seq;
        else
            bob_order [n_bob++] = job->seq;
        /* with one slot and both users at 0 running, turns alternate
           until bob has nothing left */
        if (round < 4)
            cr_assert_eq (n_alice, (size_t) (round / 2 + 1), "round %d", round);
        segq__sched_release (sched, job);
    }
    uint64_t want [4] = { 2, 4, 3, 1 }; /* priority desc, then FIFO */
    cr_assert_arr_eq (alice_order, want, sizeof want);
    cr_assert_eq (bob_order [0], 5);
    cr_assert_eq (bob_order [1], 6);
    segq__sched_destroy (&sched);
    for (int i = 0; i < 6; i++)
        free (jobs [i]);
}

Test (scheduler, jobs_share_a_gpu_while_memory_fits, .timeout = 10)
{
    segq__sched_t *sched = segq__sched_new ();
    segq__sched_gpu_t gpus [1] = { { 0, 16 * GB } };
    segq__sched_node_t *node = segq__sched_node_new (sched, NULL, 8, gpus, 1, 1, 0);
    segq__sched_job_t *jobs [3];
    for (int i = 0; i < 3; i++)
        jobs [i] = s_job (sched, "alice", (uint64_t) i + 1, 0, 8 * GB, 0);
    record_t record = { .count = 0 };
    cr_assert_eq (segq__sched_dispatch (sched, 100, s_record, &record), 2);
    cr_assert_eq (record.gpus [0], 0);
    cr_assert_eq (record.gpus [1], 0);
    cr_assert_eq (segq__sched_node_gpu_used (node, 0), 16 * GB);
    segq__sched_release (sched, record.order [0]);
    cr_assert_eq (segq__sched_node_gpu_used (node, 0), 8 * GB);
    record.count = 0;
    cr_assert_eq (segq__sched_dispatch (sched, 100, s_record, &record), 1);
    cr_assert_eq (record.order [0]->seq, 3);
    segq__sched_destroy (&sched);
    for (int i = 0; i < 3; i++)
        free (jobs [i]);
}

Test (scheduler, gpu_jobs_pack_onto_the_best_fitting_gpu, .timeout = 10)
{
    segq__sched_t *sched = segq__sched_new ();
    segq__sched_gpu_t big [1] = { { 0, 24 * GB } };
    segq__sched_gpu_t small [2] = { { 0, 8 * GB }, { 3, 12 * GB } };
    segq__sched_node_t *a = segq__sched_node_new (sched, "a", 4, big, 1, 1, 0);
    segq__sched_node_t *b = segq__sched_node_new (sched, "b", 4, small, 2, 1, 0);
    segq__sched_job_t *j1 = s_job (sched, "alice", 1, 0, 8 * GB, 0);
    record_t record = { .count = 0 };
    cr_assert_eq (segq__sched_dispatch (sched, 100, s_record, &record), 1);
    cr_assert_eq (record.nodes [0], b, "8 GB job goes to the 8 GB GPU, keeping 24 GB whole");
    cr_assert_eq (record.gpus [0], 0);
    segq__sched_job_t *j2 = s_job (sched, "alice", 2, 0, 10 * GB, 0);
    segq__sched_job_t *j3 = s_job (sched, "alice", 3, 0, 20 * GB, 0);
    record.count = 0;
    cr_assert_eq (segq__sched_dispatch (sched, 100, s_record, &record), 2);
    cr_assert_eq (record.order [0]->seq, 2);
    cr_assert_eq (record.nodes [0], b);
    cr_assert_eq (record.gpus [0], 3, "10 GB job goes to GPU index 3 (12 GB)");
    cr_assert_eq (record.nodes [1], a);
    cr_assert_eq (segq__sched_node_owner (a), (void *) "a");
    segq__sched_destroy (&sched);
    free (j1);
    free (j2);
    free (j3);
}

Test (scheduler, a_head_job_that_fits_nowhere_does_not_block, .timeout = 10)
{
    segq__sched_t *sched = segq__sched_new ();
    segq__sched_gpu_t gpus [1] = { { 0, 16 * GB } };
    segq__sched_node_new (sched, NULL, 2, gpus, 1, 1, 0);
    /* highest priority first, but it needs 80 GB */
    segq__sched_job_t *huge = s_job (sched, "alice", 1, 10, 80 * GB, 0);
    segq__sched_job_t *small = s_job (sched, "alice", 2, 0, 4 * GB, 0);
    segq__sched_job_t *cpu = s_job (sched, "alice", 3, 0, 0, 1);
    record_t record = { .count = 0 };
    cr_assert_eq (segq__sched_dispatch (sched, 100, s_record, &record), 2);
    cr_assert_eq (record.order [0]->seq, 2);
    cr_assert_eq (record.order [1]->seq, 3);
    cr_assert_not (segq__sched_fits_total (sched, huge), "80 GB fits no worker at all");
    cr_assert (segq__sched_fits_total (sched, small));
    cr_assert_eq (segq__sched_queued (sched), 1);
    /* a bigger worker comes: now it runs */
    segq__sched_gpu_t big [1] = { { 0, 80 * GB } };
    segq__sched_node_new (sched, NULL, 2, big, 1, 1, 0);
    cr_assert (segq__sched_fits_total (sched, huge));
    record.count = 0;
    cr_assert_eq (segq__sched_dispatch (sched, 100, s_record, &record), 1);
    cr_assert_eq (record.order [0], huge);
    segq__sched_destroy (&sched);
    free (huge);
    free (small);
    free (cpu);
}

Test (scheduler, jobs_go_only_to_nodes_running_their_kind, .timeout = 10)
{
    segq__sched_t *sched = segq__sched_new ();
    segq__sched_job_t *job = s_job (sched, "alice", 1, 0, 0, 1);
    job->kind = 0;
    segq__sched_dequeue (sched, job);
    job->kind = 3;
    cr_assert_eq (segq__sched_enqueue (sched, job), 0);
    segq__sched_node_t *node = segq__sched_node_new (sched, NULL, 4, NULL, 0, 1ULL << 2, 0);
    record_t record = { .count = 0 };
    cr_assert_eq (segq__sched_dispatch (sched, 100, s_record, &record), 0);
    cr_assert_not (segq__sched_runs_kind (sched, 3));
    segq__sched_node_destroy (sched, &node);
    cr_assert_null (node);
    segq__sched_node_new (sched, NULL, 4, NULL, 0, 1ULL << 3, 0);
    cr_assert (segq__sched_runs_kind (sched, 3));
    cr_assert_eq (segq__sched_dispatch (sched, 100, s_record, &record), 1);
    segq__sched_destroy (&sched);
    free (job);
}

Test (scheduler, in_process_jobs_use_the_window_not_slots, .timeout = 10)
{
    segq__sched_t *sched = segq__sched_new ();
    segq__sched_job_t *jobs [10];
    for (int i = 0; i < 10; i++) {
        jobs [i] = calloc (1, sizeof (segq__sched_job_t));
        jobs [i]->seq = (uint64_t) i + 1;
        jobs [i]->in_process = true;
        jobs [i]->user = segq__sched_user (sched, "alice");
        cr_assert_eq (segq__sched_enqueue (sched, jobs [i]), 0);
    }
    segq__sched_node_t *a = segq__sched_node_new (sched, NULL, 0, NULL, 0, 1, 3);
    segq__sched_node_t *b = segq__sched_node_new (sched, NULL, 0, NULL, 0, 1, 3);
    record_t record = { .count = 0 };
    cr_assert_eq (segq__sched_dispatch (sched, 100, s_record, &record), 6);
    size_t on_a = 0;
    for (size_t i = 0; i < record.count; i++)
        on_a += record.nodes [i] == a;
    cr_assert_eq (on_a, 3, "in-process jobs spread over both nodes");
    /* the dispatch cap holds too */
    segq__sched_node_set_accepting (b, false);
    segq__sched_release (sched, record.order [0]);
    segq__sched_release (sched, record.order [1]);
    record.count = 0;
    cr_assert_leq (segq__sched_dispatch (sched, 1, s_record, &record), 1);
    for (size_t i = 0; i < record.count; i++)
        cr_assert_neq (record.nodes [i], b, "a draining node gets nothing");
    segq__sched_destroy (&sched);
    for (int i = 0; i < 10; i++)
        free (jobs [i]);
}

Test (scheduler, adopted_and_orphaned_jobs_count_as_running_work, .timeout = 10)
{
    segq__sched_t *sched = segq__sched_new ();
    segq__sched_gpu_t gpus [1] = { { 1, 16 * GB } };
    segq__sched_node_t *node = segq__sched_node_new (sched, NULL, 2, gpus, 1, 1, 0);
    segq__sched_job_t orphan = { .seq = 1, .gpu_mem = 4 * GB, .gpu = -1 };
    segq__sched_job_t adopted = { .seq = 2, .gpu_mem = 12 * GB, .gpu = -1 };
    orphan.user = adopted.user = segq__sched_user (sched, "alice");
    segq__sched_adopt (sched, &orphan, NULL, 1);
    segq__sched_adopt (sched, &adopted, node, 1);
    cr_assert_eq (segq__sched_user_running (orphan.user), 2);
    cr_assert_eq (segq__sched_node_gpu_used (node, 1), 12 * GB);
    cr_assert_eq (segq__sched_node_running (node), &adopted);
    /* a 5 GB job does not fit beside the adopted 12 GB one */
    segq__sched_job_t *job = s_job (sched, "alice", 3, 0, 5 * GB, 0);
    record_t record = { .count = 0 };
    cr_assert_eq (segq__sched_dispatch (sched, 100, s_record, &record), 0);
    /* the node goes away: its jobs are released with it */
    segq__sched_node_destroy (sched, &node);
    cr_assert_not (adopted.running);
    cr_assert_eq (segq__sched_user_running (orphan.user), 1);
    segq__sched_release (sched, &orphan);
    cr_assert_eq (segq__sched_user_running (orphan.user), 0);
    segq__sched_destroy (&sched);
    free (job);
}

Test (scheduler, dequeue_from_the_middle_keeps_order, .timeout = 10)
{
    segq__sched_t *sched = segq__sched_new ();
    enum { N = 200 };
    segq__sched_job_t *jobs [N];
    for (int i = 0; i < N; i++)
        jobs [i] = s_job (sched, i % 3 ? "alice" : "bob", (uint64_t) i + 1, (i * 7) % 5, 0, 1);
    for (int i = 0; i < N; i += 4)
        segq__sched_dequeue (sched, jobs [i]);
    cr_assert_eq (segq__sched_queued (sched), N - N / 4);
    segq__sched_node_new (sched, NULL, 1000, NULL, 0, 1, 0);
    record_t record = { .count = 0 };
    cr_assert_eq (segq__sched_dispatch (sched, 1000, s_record, &record), N - N / 4);
    /* within each user: priority desc then seq asc */
    for (size_t i = 0; i < record.count; i++)
        for (size_t j = i + 1; j < record.count; j++) {
            segq__sched_job_t *a = record.order [i], *b = record.order [j];
            if (a->user != b->user)
                continue;
            cr_assert (a->priority > b->priority || (a->priority == b->priority && a->seq < b->seq),
                       "job %llu dispatched before %llu", (unsigned long long) a->seq,
                       (unsigned long long) b->seq);
        }
    segq__sched_destroy (&sched);
    for (int i = 0; i < N; i++)
        free (jobs [i]);
}

/* ---- per-user limits and admin priority ---- */

static segq__sched_limits_t
s_limits (void *arg, const char *user)
{
    (void) arg;
    if (strcmp (user, "alice") == 0)
        return (segq__sched_limits_t){ 2, SEGQ_SCHED_UNLIMITED };
    if (strcmp (user, "gpu") == 0)
        return (segq__sched_limits_t){ SEGQ_SCHED_UNLIMITED, 10 * GB };
    return (segq__sched_limits_t){ SEGQ_SCHED_UNLIMITED, SEGQ_SCHED_UNLIMITED };
}

static size_t
s_count_user (const record_t *record, const char *user)
{
    size_t n = 0;
    for (size_t i = 0; i < record->count; i++)
        n += strcmp (segq__sched_user_name (record->order [i]->user), user) == 0;
    return n;
}

Test (scheduler, running_limit_holds_the_user_not_the_others, .timeout = 10)
{
    segq__sched_t *sched = segq__sched_new ();
    segq__sched_set_limits_fn (sched, s_limits, NULL);
    enum { N = 20 };
    segq__sched_job_t *jobs [N];
    for (int i = 0; i < 10; i++)
        jobs [i] = s_job (sched, "alice", (uint64_t) i + 1, 0, 0, 1);
    for (int i = 10; i < N; i++)
        jobs [i] = s_job (sched, "bob", (uint64_t) i + 1, 0, 0, 1);
    segq__sched_node_new (sched, NULL, 8, NULL, 0, 1, 0);
    record_t record = { .count = 0 };
    cr_assert_eq (segq__sched_dispatch (sched, 100, s_record, &record), 8);
    cr_assert_eq (s_count_user (&record, "alice"), 2, "alice is limited to 2 running");
    cr_assert_eq (s_count_user (&record, "bob"), 6, "bob takes the rest");
    /* a free slot while alice is at her limit goes to bob */
    segq__sched_job_t *bob_job = NULL;
    for (size_t i = 0; i < record.count; i++)
        if (strcmp (segq__sched_user_name (record.order [i]->user), "bob") == 0)
            bob_job = record.order [i];
    segq__sched_release (sched, bob_job);
    record.count = 0;
    cr_assert_eq (segq__sched_dispatch (sched, 100, s_record, &record), 1);
    cr_assert_str_eq (segq__sched_user_name (record.order [0]->user), "bob");
    /* one of alice's ends: she may run one more, and she has the least running work */
    segq__sched_job_t *alice_job = jobs [0]->running ? jobs [0] : jobs [1];
    cr_assert (alice_job->running);
    segq__sched_release (sched, alice_job);
    segq__sched_release (sched, record.order [0]);
    record.count = 0;
    cr_assert_eq (segq__sched_dispatch (sched, 100, s_record, &record), 2);
    cr_assert_eq (s_count_user (&record, "alice"), 1);
    cr_assert_eq (segq__sched_user_running (jobs [0]->user), 2);
    segq__sched_destroy (&sched);
    for (int i = 0; i < N; i++)
        free (jobs [i]);
}

Test (scheduler, gpu_memory_limit_passes_over_only_what_would_exceed_it, .timeout = 10)
{
    segq__sched_t *sched = segq__sched_new ();
    segq__sched_set_limits_fn (sched, s_limits, NULL);
    segq__sched_gpu_t gpus [2] = { { 0, 80 * GB }, { 1, 80 * GB } };
    segq__sched_node_new (sched, NULL, 8, gpus, 2, 1, 0);
    /* "gpu" may hold 10 GB: 6 GB runs, a second 6 GB waits, a CPU job and
       a 4 GB job behind it still run; another user is not held at all */
    segq__sched_job_t *jobs [6] = {
        s_job (sched, "gpu", 1, 0, 6 * GB, 0),    s_job (sched, "gpu", 2, 0, 6 * GB, 0),
        s_job (sched, "gpu", 3, 0, 0, 1),         s_job (sched, "gpu", 4, 0, 4 * GB, 0),
        s_job (sched, "other", 5, 0, 30 * GB, 0), s_job (sched, "other", 6, 0, 30 * GB, 0),
    };
    record_t record = { .count = 0 };
    cr_assert_eq (segq__sched_dispatch (sched, 100, s_record, &record), 5);
    cr_assert_not (jobs [1]->running, "the second 6 GB job would take gpu over 10 GB");
    cr_assert_eq (segq__sched_user_gpu_mem (jobs [0]->user), 10 * GB);
    cr_assert (jobs [4]->running && jobs [5]->running);
    segq__sched_release (sched, jobs [0]);
    record.count = 0;
    cr_assert_eq (segq__sched_dispatch (sched, 100, s_record, &record), 1);
    cr_assert_eq (record.order [0], jobs [1]);
    segq__sched_destroy (&sched);
    for (int i = 0; i < 6; i++)
        free (jobs [i]);
}

Test (scheduler, admin_priority_goes_ahead_of_fair_share, .timeout = 10)
{
    segq__sched_t *sched = segq__sched_new ();
    segq__sched_job_t *jobs [6] = {
        s_job (sched, "alice", 1, 0, 0, 1), s_job (sched, "alice", 2, 0, 0, 1),
        s_job (sched, "alice", 3, 0, 0, 1), s_job (sched, "bob", 4, 0, 0, 1),
        s_job (sched, "bob", 5, 0, 0, 1),   s_job (sched, "carol", 6, 0, 0, 1),
    };
    segq__sched_node_new (sched, NULL, 1, NULL, 0, 1, 0);
    record_t record = { .count = 0 };
    /* alice runs first (least recently served tie) and then has more work
       than bob and carol; an admin raises her third job and bob's second */
    cr_assert_eq (segq__sched_dispatch (sched, 100, s_record, &record), 1);
    cr_assert_eq (record.order [0], jobs [0]);
    segq__sched_set_priority (sched, jobs [2], SEGQ_SCHED_USER_PRIORITY_MAX + 1);
    segq__sched_set_priority (sched, jobs [4], SEGQ_SCHED_USER_PRIORITY_MAX + 5);
    /* bob's raised job, alice's raised one, then fair share again: carol
       (never served), bob, alice */
    const int want [] = { 4, 2, 5, 3, 1 };
    for (int round = 0; round < 5; round++) {
        segq__sched_release (sched, record.order [record.count - 1]);
        cr_assert_eq (segq__sched_dispatch (sched, 100, s_record, &record), 1);
        cr_assert_eq (record.order [record.count - 1], jobs [want [round]],
                      "round %d: got job %llu, wanted %llu", round,
                      (unsigned long long) record.order [record.count - 1]->seq,
                      (unsigned long long) jobs [want [round]]->seq);
    }
    segq__sched_destroy (&sched);
    for (int i = 0; i < 6; i++)
        free (jobs [i]);
}

Test (scheduler, user_priority_change_reorders_own_jobs_only, .timeout = 10)
{
    segq__sched_t *sched = segq__sched_new ();
    segq__sched_job_t *jobs [4] = {
        s_job (sched, "alice", 1, 0, 0, 1),
        s_job (sched, "alice", 2, 0, 0, 1),
        s_job (sched, "bob", 3, 0, 0, 1),
        s_job (sched, "bob", 4, 0, 0, 1),
    };
    segq__sched_node_new (sched, NULL, 1, NULL, 0, 1, 0);
    segq__sched_set_priority (sched, jobs [1], SEGQ_SCHED_USER_PRIORITY_MAX);
    segq__sched_set_priority (sched, jobs [3], SEGQ_SCHED_USER_PRIORITY_MAX);
    segq__sched_set_priority (sched, jobs [3], -5); /* and back down */
    record_t record = { .count = 0 };
    /* users still alternate; within alice, job 2 now goes first */
    for (int round = 0; round < 4; round++) {
        cr_assert_eq (segq__sched_dispatch (sched, 100, s_record, &record), 1);
        segq__sched_release (sched, record.order [round]);
    }
    cr_assert_neq (record.order [0]->user, record.order [1]->user);
    cr_assert_neq (record.order [1]->user, record.order [2]->user);
    size_t first_alice = record.order [0]->user == jobs [0]->user ? 0 : 1;
    cr_assert_eq (record.order [first_alice], jobs [1]);
    cr_assert_eq (record.order [first_alice == 0 ? 1 : 0], jobs [2],
                  "bob's -5 job goes after his other");
    segq__sched_destroy (&sched);
    for (int i = 0; i < 4; i++)
        free (jobs [i]);
}

/* A job goes to a node that holds its model (a worker's generation server),
   on the GPU that holds it, before the best fit; no model, or one held
   nowhere where the job would run, leaves the best fit. */
Test (scheduler, a_job_goes_where_its_model_is_hot, .timeout = 10)
{
    segq__sched_t *sched = segq__sched_new ();
    segq__sched_gpu_t small [1] = { { 0, 8 * GB } }, two [2] = { { 0, 80 * GB }, { 1, 80 * GB } };
    segq__sched_node_t *tight = segq__sched_node_new (sched, NULL, 4, small, 1, 1, 0);
    segq__sched_node_t *roomy = segq__sched_node_new (sched, NULL, 4, two, 2, 1, 0);
    const uint64_t model = 0x1234, other = 0x5678;
    segq__sched_hot_t hot [] = { { 1, model }, { -1, other } };
    segq__sched_node_set_hot (roomy, hot, 2);
    /* GPU packing alone would pick the small GPU of `tight` */
    struct {
        uint64_t affinity, gpu_mem;
        segq__sched_node_t *node;
        int32_t gpu;
    } cases [] = {
        { model, 2 * GB, roomy, 1 }, /* hot on GPU 1 */
        { 0, 2 * GB, tight, 0 },     /* no model: best fit */
        { other, 2 * GB, tight, 0 }, /* hot on CPUs only: not for a GPU job */
        { other, 0, roomy, -1 },     /* ... but for a CPU job */
        { 0x9999, 0, tight, -1 },    /* hot nowhere: most free slots, a tie: the first */
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases [0]; i++) {
        segq__sched_job_t job = { .seq = i + 1,
                                  .gpu_mem = cases [i].gpu_mem,
                                  .cpu_slots = cases [i].gpu_mem ? 0 : 1,
                                  .affinity = cases [i].affinity,
                                  .user = segq__sched_user (sched, "alice") };
        cr_assert_eq (segq__sched_enqueue (sched, &job), 0);
        record_t record = { .count = 0 };
        cr_assert_eq (segq__sched_dispatch (sched, 1, s_record, &record), 1);
        cr_expect_eq (record.nodes [0], cases [i].node, "case %zu: wrong node", i);
        cr_expect_eq (record.gpus [0], cases [i].gpu, "case %zu: GPU %d", i, record.gpus [0]);
        segq__sched_release (sched, &job);
    }
    /* a hot GPU without room for the job is passed over */
    segq__sched_job_t filler = {
        .seq = 9, .gpu_mem = 2 * GB, .affinity = model, .user = segq__sched_user (sched, "bob")
    };
    segq__sched_job_t big = {
        .seq = 10, .gpu_mem = 79 * GB, .affinity = model, .user = filler.user
    };
    record_t record = { .count = 0 };
    cr_assert_eq (segq__sched_enqueue (sched, &filler), 0);
    cr_assert_eq (segq__sched_dispatch (sched, 1, s_record, &record), 1);
    cr_assert (record.nodes [0] == roomy && record.gpus [0] == 1, "the filler on the hot GPU");
    cr_assert_eq (segq__sched_enqueue (sched, &big), 0);
    record.count = 0;
    cr_assert_eq (segq__sched_dispatch (sched, 1, s_record, &record), 1);
    cr_expect (record.nodes [0] == roomy && record.gpus [0] == 0, "79G beside the filler: GPU %d",
               record.gpus [0]);
    segq__sched_release (sched, &big);
    segq__sched_release (sched, &filler);
    segq__sched_destroy (&sched);
}
