/*  Job state machine over a real store, scheduler and artifact store:
    validation at submit (nothing stored on refusal), transitions with
    reasons, lost workers and attempts, dependencies, cancel, and the
    rebuild of memory from the database. */

#include "broker_test_jobs.h"
#include <sqlite3.h>

Test (jobs, machine_allows_only_the_documented_transitions, .timeout = 10)
{
    int allowed [7][7] = { { 0 } };
    allowed [SEGQ_JOB_WAITING][SEGQ_JOB_QUEUED] = 1;
    allowed [SEGQ_JOB_WAITING][SEGQ_JOB_FAILED] = 1;
    allowed [SEGQ_JOB_WAITING][SEGQ_JOB_CANCELLED] = 1;
    allowed [SEGQ_JOB_QUEUED][SEGQ_JOB_RUNNING] = 1;
    allowed [SEGQ_JOB_QUEUED][SEGQ_JOB_FAILED] = 1;
    allowed [SEGQ_JOB_QUEUED][SEGQ_JOB_CANCELLED] = 1;
    allowed [SEGQ_JOB_RUNNING][SEGQ_JOB_QUEUED] = 1;
    allowed [SEGQ_JOB_RUNNING][SEGQ_JOB_SUCCEEDED] = 1;
    allowed [SEGQ_JOB_RUNNING][SEGQ_JOB_FAILED] = 1;
    allowed [SEGQ_JOB_RUNNING][SEGQ_JOB_CANCELLED] = 1;
    for (int from = 1; from <= 6; from++)
        for (int to = 1; to <= 6; to++)
            cr_assert_eq (segq__job_transition_allowed (from, to), allowed [from][to], "%d -> %d",
                          from, to);
}

Test (jobs, bad_submits_are_refused_and_nothing_is_stored, .init = setup, .fini = teardown,
      .timeout = 20)
{
    char id [SEGQ__JOB_ID_MAX], err [1024] = "";
    cr_assert_eq (s_submit ("nosuchkind", NULL, NULL, id, err, sizeof err), SEGQ_EKIND);
    cr_assert (strstr (err, "nosuchkind") && strstr (err, "sleep"), "%s", err);
    cr_assert_neq (s_submit ("sleep", "seconds", "soon", id, err, sizeof err), 0);
    cr_assert (strstr (err, "seconds"), "names the parameter: %s", err);
    cr_assert_neq (s_submit ("sleep", "speed", "1", id, err, sizeof err), 0);
    cr_assert (strstr (err, "speed"), "%s", err);
    /* an input that was never uploaded */
    segq_submit_t submit = { .user = "alice", .kind = "echo" };
    segq_input_t input = { .name = "files/a.txt" };
    memset (input.hash, 'b', SEGQ_HASH_HEX_LEN);
    submit.inputs = &input;
    submit.n_inputs = 1;
    cr_assert_eq (segq__jobs_submit (jobs, &submit, 1.0, id, err, sizeof err), SEGQ_ENOENT);
    cr_assert (strstr (err, "files/a.txt") && strstr (err, "upload"), "%s", err);
    /* a reference to a job that does not exist */
    input.hash [0] = 0;
    input.job = "zzzz";
    cr_assert_eq (segq__jobs_submit (jobs, &submit, 1.0, id, err, sizeof err), SEGQ_ENOENT);
    cr_assert (strstr (err, "zzzz"), "%s", err);
    /* an input the kind does not take, and an unsafe name */
    input.name = "../etc/passwd";
    cr_assert_eq (segq__jobs_submit (jobs, &submit, 1.0, id, err, sizeof err), SEGQ_EINVAL);
    submit.kind = "sleep";
    input.name = "files/a.txt";
    cr_assert_eq (segq__jobs_submit (jobs, &submit, 1.0, id, err, sizeof err), SEGQ_EINVAL);
    submit.n_inputs = 0;
    submit.user = "";
    cr_assert_eq (segq__jobs_submit (jobs, &submit, 1.0, id, err, sizeof err), SEGQ_EINVAL);
    cr_assert_not (segq__job_store_in_transaction (store), "nothing was written");
    cr_assert_eq (segq__jobs_active (jobs), 0);
    uint64_t ids [4];
    size_t count;
    cr_assert_eq (segq__job_store_list (store, 0, NULL, 0, 4, ids, &count), 0);
    cr_assert_eq (count, 0);
}

Test (jobs, a_job_runs_and_every_transition_is_stored, .init = setup, .fini = teardown,
      .timeout = 20)
{
    char id [SEGQ__JOB_ID_MAX], err [1024] = "";
    cr_assert_eq (s_submit ("sleep", NULL, NULL, id, err, sizeof err), 0, "%s", err);
    segq__job_t *job = s_job (id);
    cr_assert_eq (job->state, SEGQ_JOB_QUEUED);
    cr_assert_eq (job->sched.cpu_slots, 1, "a CPU job takes one slot by default");
    s_commit ();
    cr_assert_eq (segq__sched_dispatch (sched, 10, s_start, NULL), 1);
    cr_assert_eq (job->state, SEGQ_JOB_RUNNING);
    cr_assert_eq (job->attempt, 1);
    cr_assert_eq (segq__jobs_finish (jobs, job, true, NULL, 0, 0, NULL, 0, 1002.0), 0);
    s_commit ();
    cr_assert_null (s_job (id), "a final job leaves memory");
    segq_job_info_t info = { 0 };
    cr_assert_eq (segq__job_store_info (store, segq__job_id_parse (id), true, &info), 0);
    cr_assert_eq (info.state, SEGQ_JOB_SUCCEEDED);
    cr_assert_eq (info.n_history, 3);
    cr_assert_eq (info.history [0].state, SEGQ_JOB_QUEUED);
    cr_assert_str_eq (info.history [0].reason, "submitted by alice");
    cr_assert_eq (info.history [1].state, SEGQ_JOB_RUNNING);
    cr_assert_str_eq (info.history [1].reason, "attempt 1 on node");
    cr_assert_eq (info.history [2].state, SEGQ_JOB_SUCCEEDED);
    cr_assert_eq (info.history [2].time, 1002.0);
    const segq_value_t *seconds = segq_params_get (&info.params, "seconds");
    cr_assert (seconds && seconds->f == 1.0, "defaults are filled in and stored");
    segq_job_info_clear (&info);
}

Test (jobs, lost_worker_requeues_then_fails_after_max_attempts, .init = setup, .fini = teardown,
      .timeout = 20)
{
    char id [SEGQ__JOB_ID_MAX], err [1024] = "";
    cr_assert_eq (s_submit ("sleep", NULL, NULL, id, err, sizeof err), 0, "%s", err);
    segq__job_t *job = s_job (id);
    cr_assert_eq (segq__sched_dispatch (sched, 10, s_start, NULL), 1);
    cr_assert_eq (segq__jobs_lost (jobs, job, "worker node lost", "node", 1003.0), 0);
    cr_assert_eq (job->state, SEGQ_JOB_QUEUED);
    cr_assert_eq (job->attempt, 1, "the attempt count is kept");
    cr_assert_eq (segq__sched_queued (sched), 1);
    cr_assert_eq (segq__sched_dispatch (sched, 10, s_start, NULL), 1);
    cr_assert_eq (job->attempt, 2);
    /* a fenced (stale) attempt cannot finish it: only the machine's state counts here */
    cr_assert_eq (segq__jobs_lost (jobs, job, "worker node lost", "node", 1004.0), 0);
    s_commit ();
    cr_assert_eq (s_state (id), SEGQ_JOB_FAILED);
    segq_job_info_t info = { 0 };
    cr_assert_eq (segq__job_store_info (store, segq__job_id_parse (id), false, &info), 0);
    cr_assert (strstr (info.reason, "worker lost 2 times"), "%s", info.reason);
    segq_job_info_clear (&info);
    cr_assert_eq (segq__sched_user_running (segq__sched_user (sched, "alice")), 0);
}

Test (jobs, dependency_failure_fails_the_chain_naming_it, .init = setup, .fini = teardown,
      .timeout = 20)
{
    char a [SEGQ__JOB_ID_MAX], b [SEGQ__JOB_ID_MAX], c [SEGQ__JOB_ID_MAX], err [1024] = "";
    cr_assert_eq (s_submit ("sleep", NULL, NULL, a, err, sizeof err), 0);
    segq_submit_t submit = { .user = "alice", .kind = "sleep" };
    char *after [1] = { a };
    submit.after = after;
    submit.n_after = 1;
    cr_assert_eq (segq__jobs_submit (jobs, &submit, 1.0, b, err, sizeof err), 0, "%s", err);
    after [0] = b;
    cr_assert_eq (segq__jobs_submit (jobs, &submit, 1.0, c, err, sizeof err), 0, "%s", err);
    cr_assert_eq (s_job (b)->state, SEGQ_JOB_WAITING);
    cr_assert_eq (s_job (c)->state, SEGQ_JOB_WAITING);
    cr_assert_eq (segq__sched_queued (sched), 1, "only the head is queued");
    cr_assert_eq (segq__sched_dispatch (sched, 10, s_start, NULL), 1);
    cr_assert_eq (segq__jobs_finish (jobs, s_job (a), false, NULL, 3, 0, NULL, 0, 5.0), 0);
    s_commit ();
    cr_assert_eq (s_state (b), SEGQ_JOB_FAILED);
    cr_assert_eq (s_state (c), SEGQ_JOB_FAILED);
    segq_job_info_t info = { 0 };
    cr_assert_eq (segq__job_store_info (store, segq__job_id_parse (c), false, &info), 0);
    cr_assert (strstr (info.reason, b), "c's reason names b: %s", info.reason);
    segq_job_info_clear (&info);
    memset (&info, 0, sizeof info);
    cr_assert_eq (segq__job_store_info (store, segq__job_id_parse (a), false, &info), 0);
    cr_assert_str_eq (info.reason, "exited with code 3");
    segq_job_info_clear (&info);
    /* depending on a failed job is refused at submit */
    after [0] = a;
    cr_assert_eq (segq__jobs_submit (jobs, &submit, 1.0, b, err, sizeof err), SEGQ_ESTATE);
    cr_assert (strstr (err, a) && strstr (err, "failed"), "%s", err);
}

Test (jobs, outputs_flow_to_dependents_by_reference, .init = setup, .fini = teardown, .timeout = 20)
{
    /* an artifact to stand for a's output */
    char err [1024] = "", hash [SEGQ_HASH_HEX_LEN + 1];
    segq_sha256_t sha;
    segq_sha256_init (&sha);
    segq_sha256_update (&sha, "hi", 2);
    segq_sha256_final (&sha, hash);
    segq__upload_t *up = segq__artifact_store_upload (artifacts, hash, 2, err, sizeof err);
    cr_assert_not_null (up, "%s", err);
    cr_assert_eq (segq__upload_write (up, 0, "hi", 2, err, sizeof err), 0);
    cr_assert_eq (segq__upload_finish (up, NULL, NULL, err, sizeof err), 0, "%s", err);
    segq__upload_destroy (&up);

    char a [SEGQ__JOB_ID_MAX], b [SEGQ__JOB_ID_MAX], bad [SEGQ__JOB_ID_MAX];
    cr_assert_eq (s_submit ("echo", NULL, NULL, a, err, sizeof err), 0, "%s", err);
    segq_submit_t submit = { .user = "alice", .kind = "echo" };
    segq_input_t input = { .name = "files/x", .job = a, .output = "files/x.txt" };
    submit.inputs = &input;
    submit.n_inputs = 1;
    cr_assert_eq (segq__jobs_submit (jobs, &submit, 1.0, b, err, sizeof err), 0, "%s", err);
    input.output = "files/missing.txt";
    cr_assert_eq (segq__jobs_submit (jobs, &submit, 1.0, bad, err, sizeof err), 0, "%s", err);
    cr_assert_eq (segq__sched_dispatch (sched, 10, s_start, NULL), 1);
    segq_artifact_t out = { .name = "files/x.txt", .size = 2 };
    memcpy (out.hash, hash, sizeof out.hash);
    cr_assert_eq (segq__jobs_finish (jobs, s_job (a), true, NULL, 0, 0, &out, 1, 6.0), 0);
    s_commit ();
    cr_assert_eq (s_job (b)->state, SEGQ_JOB_QUEUED, "its input exists: queued");
    cr_assert_eq (s_state (bad), SEGQ_JOB_FAILED, "its input does not exist: failed");
    segq_job_info_t info = { 0 };
    cr_assert_eq (segq__job_store_info (store, segq__job_id_parse (bad), false, &info), 0);
    cr_assert (strstr (info.reason, "files/missing.txt"), "%s", info.reason);
    segq_job_info_clear (&info);
    /* an output that was never uploaded makes the job fail */
    cr_assert_eq (segq__sched_dispatch (sched, 10, s_start, NULL), 1);
    out.hash [0] = out.hash [0] == 'a' ? 'b' : 'a';
    cr_assert_eq (segq__jobs_finish (jobs, s_job (b), true, NULL, 0, 0, &out, 1, 7.0), 0);
    cr_assert_eq (s_state (b), SEGQ_JOB_FAILED);
}

Test (jobs, cancel_queued_at_once_and_running_through_its_worker, .init = setup, .fini = teardown,
      .timeout = 20)
{
    char q [SEGQ__JOB_ID_MAX], r [SEGQ__JOB_ID_MAX], err [1024] = "";
    cr_assert_eq (s_submit ("sleep", NULL, NULL, r, err, sizeof err), 0);
    cr_assert_eq (segq__sched_dispatch (sched, 10, s_start, NULL), 1);
    cr_assert_eq (s_submit ("sleep", NULL, NULL, q, err, sizeof err), 0);
    segq__sched_node_set_accepting (node, false);
    bool abort = true;
    cr_assert_eq (
        segq__jobs_cancel (jobs, segq__job_id_parse (q), "mallory", 8.0, &abort, err, sizeof err),
        SEGQ_EPERM);
    cr_assert (strstr (err, "alice"), "%s", err);
    cr_assert_eq (
        segq__jobs_cancel (jobs, segq__job_id_parse (q), "alice", 8.0, &abort, err, sizeof err), 0);
    cr_assert_not (abort);
    cr_assert_eq (segq__sched_queued (sched), 0);
    cr_assert_eq (s_state (q), SEGQ_JOB_CANCELLED);
    cr_assert_eq (
        segq__jobs_cancel (jobs, segq__job_id_parse (r), "alice", 8.0, &abort, err, sizeof err), 0);
    cr_assert (abort, "a running job is stopped by its worker");
    cr_assert_eq (s_state (r), SEGQ_JOB_RUNNING);
    /* the worker reports success anyway: the cancel wins */
    cr_assert_eq (segq__jobs_finish (jobs, s_job (r), true, NULL, 0, 0, NULL, 0, 9.0), 0);
    cr_assert_eq (s_state (r), SEGQ_JOB_CANCELLED);
    /* cancelling a final job changes nothing and is refused, saying so */
    cr_assert_eq (
        segq__jobs_cancel (jobs, segq__job_id_parse (r), "alice", 8.0, &abort, err, sizeof err),
        SEGQ_ESTATE);
    cr_assert (strstr (err, "already ended (cancelled)"), "%s", err);
    cr_assert_eq (s_state (r), SEGQ_JOB_CANCELLED);
    cr_assert_eq (segq__jobs_cancel (jobs, 999, "alice", 8.0, &abort, err, sizeof err),
                  SEGQ_ENOENT);
}

Test (jobs, restart_rebuilds_queue_waits_and_orphans, .init = setup, .fini = teardown,
      .timeout = 20)
{
    char q [SEGQ__JOB_ID_MAX], r [SEGQ__JOB_ID_MAX], w [SEGQ__JOB_ID_MAX], err [1024] = "";
    cr_assert_eq (s_submit ("sleep", NULL, NULL, r, err, sizeof err), 0);
    cr_assert_eq (segq__sched_dispatch (sched, 10, s_start, NULL), 1);
    cr_assert_eq (s_submit ("sleep", NULL, NULL, q, err, sizeof err), 0);
    segq_submit_t submit = { .user = "alice", .kind = "sleep" };
    char *after [1] = { r };
    submit.after = after;
    submit.n_after = 1;
    cr_assert_eq (segq__jobs_submit (jobs, &submit, 1.0, w, err, sizeof err), 0, "%s", err);
    s_commit ();
    /* a crash: everything in memory is gone */
    s_close ();
    s_open ();
    cr_assert_eq (segq__jobs_active (jobs), 3);
    cr_assert_eq (s_job (q)->state, SEGQ_JOB_QUEUED);
    cr_assert_eq (s_job (w)->state, SEGQ_JOB_WAITING);
    cr_assert_eq (s_job (w)->n_pending, 1);
    segq__job_t *orphan = s_job (r);
    cr_assert_eq (orphan->state, SEGQ_JOB_RUNNING, "kept running, waiting for its worker");
    cr_assert_str_eq (orphan->orphan_node, "node");
    cr_assert_eq (segq__sched_user_running (orphan->sched.user), 1, "it counts as running work");
    cr_assert_eq (segq__sched_queued (sched), 1);
    /* its worker does not come back in time: requeued, attempt kept */
    cr_assert_eq (segq__jobs_expire_orphans (jobs, 1004.0), 0);
    cr_assert_eq (orphan->state, SEGQ_JOB_RUNNING, "not before the grace period");
    cr_assert_eq (segq__jobs_expire_orphans (jobs, 1006.0), 0);
    cr_assert_eq (orphan->state, SEGQ_JOB_QUEUED);
    cr_assert_eq (orphan->attempt, 1);
    cr_assert_eq (segq__sched_queued (sched), 2);
    /* it runs again and succeeds: its dependent is released */
    segq__sched_node_set_accepting (node, true);
    cr_assert_eq (segq__sched_dispatch (sched, 10, s_start, NULL), 2);
    cr_assert_eq (orphan->attempt, 2);
    cr_assert_eq (segq__jobs_finish (jobs, orphan, true, NULL, 0, 0, NULL, 0, 1007.0), 0);
    cr_assert_eq (s_job (w)->state, SEGQ_JOB_QUEUED);
    s_commit ();
}

Test (jobs, in_process_kinds_take_no_slot, .init = setup, .fini = teardown, .timeout = 20)
{
    char id [SEGQ__JOB_ID_MAX], err [1024] = "";
    segq_submit_t submit = { .user = "alice", .kind = "noop", .cpu_slots = 4, .gpu_mem = 1 << 30 };
    cr_assert_eq (segq__jobs_submit (jobs, &submit, 1.0, id, err, sizeof err), 0, "%s", err);
    cr_assert (s_job (id)->sched.in_process);
    cr_assert_eq (s_job (id)->sched.cpu_slots, 0);
    cr_assert_eq (s_job (id)->sched.gpu_mem, 0);
    submit.kind = "sleep";
    submit.cpu_slots = 0;
    cr_assert_eq (segq__jobs_submit (jobs, &submit, 1.0, id, err, sizeof err), 0, "%s", err);
    cr_assert_eq (s_job (id)->sched.cpu_slots, 0, "a GPU job takes no CPU slot unless it asks");
    cr_assert_eq (s_job (id)->sched.gpu_mem, 1 << 30);
    s_commit ();
}

Test (jobs, a_briefly_lost_worker_takes_its_attempt_back, .init = setup, .fini = teardown,
      .timeout = 20)
{
    char id [SEGQ__JOB_ID_MAX], err [1024] = "";
    cr_assert_eq (s_submit ("sleep", NULL, NULL, id, err, sizeof err), 0, "%s", err);
    segq__job_t *job = s_job (id);
    cr_assert_eq (segq__sched_dispatch (sched, 10, s_start, NULL), 1);
    segq__sched_node_set_accepting (node, false);
    cr_assert_eq (segq__jobs_lost (jobs, job, "worker node lost", "node", 1003.0), 0);
    cr_assert_eq (job->state, SEGQ_JOB_QUEUED);
    /* it comes back with attempt 1 before anyone else got the job */
    cr_assert_eq (segq__jobs_reclaim (jobs, job, "node", 1004.0), 0);
    segq__sched_adopt (sched, &job->sched, node, job->last_gpu);
    cr_assert_eq (job->state, SEGQ_JOB_RUNNING);
    cr_assert_eq (job->attempt, 1, "the same attempt: nobody else ran it");
    cr_assert_eq (segq__sched_queued (sched), 0);
    cr_assert_eq (segq__jobs_finish (jobs, job, true, NULL, 0, 0, NULL, 0, 1005.0), 0);
    cr_assert_eq (s_state (id), SEGQ_JOB_SUCCEEDED);
    /* a job that is not queued cannot be taken back */
    cr_assert_eq (s_submit ("sleep", NULL, NULL, id, err, sizeof err), 0, "%s", err);
    cr_assert_eq (segq__jobs_reclaim (jobs, s_job (id), "node", 1006.0), SEGQ_ESTATE,
                  "attempt 0 was never handed out");
}

/* Opens the broker's state again with the configuration `text`. */
static void
s_reopen_with (const char *text)
{
    char err [1024] = "";
    s_close ();
    limits = segq_config_new ();
    cr_assert_eq (segq_config_parse (limits, "t", text, strlen (text), err, sizeof err), 0, "%s",
                  err);
    s_open ();
}

/* max_queued: a submit over it is refused whole, with ELIMIT and a reason;
   a job that starts makes room; the count survives a restart. */
Test (jobs, queued_limit_refuses_submits_and_stores_nothing, .init = setup, .fini = teardown,
      .timeout = 20)
{
    s_reopen_with ("[defaults]\nmax_queued = 2\n[user bob]\nmax_queued = unlimited\n");
    char id [SEGQ__JOB_ID_MAX], err [1024] = "";
    segq__sched_node_set_accepting (node, false);
    cr_assert_eq (s_submit ("noop", NULL, NULL, id, err, sizeof err), 0, "%s", err);
    char first [SEGQ__JOB_ID_MAX];
    strcpy (first, id);
    /* a waiting job counts too */
    segq_submit_t waiting = { .user = "alice", .kind = "noop" };
    char *after [1] = { first };
    waiting.after = after;
    waiting.n_after = 1;
    cr_assert_eq (segq__jobs_submit (jobs, &waiting, 1000.0, id, err, sizeof err), 0, "%s", err);
    cr_assert_eq (s_state (id), SEGQ_JOB_WAITING);
    s_commit ();
    size_t active = segq__jobs_active (jobs);
    cr_assert_eq (s_submit ("noop", NULL, NULL, id, err, sizeof err), SEGQ_ELIMIT);
    cr_assert (strstr (err, "alice") && strstr (err, "max_queued") && strstr (err, "2"), "%s", err);
    cr_assert_eq (segq__jobs_active (jobs), active, "nothing stored");
    /* another user is not affected */
    segq_submit_t bob = { .user = "bob", .kind = "noop" };
    for (int i = 0; i < 5; i++)
        cr_assert_eq (segq__jobs_submit (jobs, &bob, 1000.0, id, err, sizeof err), 0, "%s", err);
    s_commit ();
    /* the limit holds after a restart */
    s_close ();
    s_open ();
    cr_assert_eq (s_submit ("noop", NULL, NULL, id, err, sizeof err), SEGQ_ELIMIT, "%s", err);
    /* alice's first job starts: room for one more */
    segq__sched_dispatch (sched, 100, s_start, NULL);
    s_commit ();
    cr_assert_eq (s_state (first), SEGQ_JOB_RUNNING);
    cr_assert_eq (s_submit ("noop", NULL, NULL, id, err, sizeof err), 0, "%s", err);
    cr_assert_eq (s_submit ("noop", NULL, NULL, id, err, sizeof err), SEGQ_ELIMIT);
    s_commit ();
}

/* An input naming a job array stands for each of its jobs: every one a
   dependency, each laid out under NAME/JOB/; a one-file input refuses an
   array; the array survives a restart. */
Test (jobs, array_references_become_dependencies, .init = setup, .fini = teardown, .timeout = 20)
{
    char err [1024] = "", ids [3][SEGQ__JOB_ID_MAX], c [SEGQ__JOB_ID_MAX];
    for (int i = 0; i < 3; i++)
        cr_assert_eq (s_submit ("echo", NULL, NULL, ids [i], err, sizeof err), 0, "%s", err);
    uint64_t numbers [3] = { segq__job_id_parse (ids [0]), segq__job_id_parse (ids [1]),
                             segq__job_id_parse (ids [2]) };
    uint64_t array = 0;
    cr_assert_eq (segq__job_store_insert_array (store, "alice", 1000.0, numbers, 3, &array), 0);
    s_commit ();
    char array_id [SEGQ__ARRAY_ID_MAX];
    segq__array_id_format (array, array_id);
    cr_assert_eq (array, numbers [2] + 1, "numbered from the job counter");
    cr_assert_eq (segq__array_id_parse (array_id), array);
    cr_assert_eq (segq__array_id_parse (ids [0]), 0, "a job id is no array id");
    segq_submit_t submit = { .user = "alice", .kind = "echo" };
    segq_input_t input = { .name = "files/all", .job = array_id };
    submit.inputs = &input;
    submit.n_inputs = 1;
    cr_assert_eq (segq__jobs_submit (jobs, &submit, 1.0, c, err, sizeof err), 0, "%s", err);
    s_commit ();
    cr_assert_eq (s_job (c)->state, SEGQ_JOB_WAITING);
    cr_assert_eq (s_job (c)->n_pending, 3, "each job of the array is a dependency");
    segq_job_info_t info = { 0 };
    cr_assert_eq (segq__job_store_info (store, segq__job_id_parse (c), false, &info), 0);
    cr_assert_eq (info.n_inputs, 3);
    for (int i = 0; i < 3; i++) {
        char want [64];
        snprintf (want, sizeof want, "files/all/%s", ids [i]);
        cr_assert_str_eq (info.inputs [i].name, want);
        cr_assert_str_eq (info.inputs [i].job, ids [i]);
    }
    segq_job_info_clear (&info);
    /* two of three done: still waiting; the third: queued */
    for (int i = 0; i < 3; i++) {
        cr_assert_eq (segq__sched_dispatch (sched, 10, s_start, NULL), i == 0 ? 3 : 0);
        cr_assert_eq (segq__jobs_finish (jobs, s_job (ids [i]), true, NULL, 0, 0, NULL, 0, 6.0), 0);
        s_commit ();
        cr_assert_eq (s_job (c)->state, i < 2 ? SEGQ_JOB_WAITING : SEGQ_JOB_QUEUED, "after %d", i);
    }
    /* train's image takes one file: an array is refused, naming it */
    segq_submit_t one = { .user = "alice", .kind = "generate" };
    segq_input_t model = { .name = "model", .job = array_id };
    one.inputs = &model;
    one.n_inputs = 1;
    cr_assert_eq (segq__jobs_submit (jobs, &one, 1.0, c, err, sizeof err), SEGQ_EINVAL);
    cr_assert (strstr (err, array_id) && strstr (err, "3 jobs"), "%s", err);
    model.job = "a-0777";
    submit.inputs [0].job = "a-0777";
    cr_assert_eq (segq__jobs_submit (jobs, &submit, 1.0, c, err, sizeof err), SEGQ_ENOENT);
    cr_assert (strstr (err, "unknown job array 'a-0777'"), "%s", err);
    /* durable: read back after a restart */
    s_close ();
    s_open ();
    segq__array_row_t row;
    cr_assert_eq (segq__job_store_array (store, array, &row), 0);
    cr_assert_str_eq (row.owner, "alice");
    cr_assert_eq (row.n_jobs, 3);
    cr_assert_eq (row.jobs [2], numbers [2]);
    segq__array_row_clear (&row);
    cr_assert_eq (segq__job_store_array (store, 99, &row), SEGQ_ENOENT);
}

/* Array numbers come from the job counter, so none is given twice; arrays
   numbered from 1, as a database of an older segqd holds them, can
   outnumber the jobs: the counter then jumps above them, jobs too. */
Test (jobs, array_numbers_share_the_job_counter, .init = setup, .fini = teardown, .timeout = 20)
{
    char err [1024] = "", id [SEGQ__JOB_ID_MAX];
    cr_assert_eq (s_submit ("echo", NULL, NULL, id, err, sizeof err), 0, "%s", err);
    uint64_t job = segq__job_id_parse (id), first = 0, second = 0;
    cr_assert_eq (segq__job_store_insert_array (store, "alice", 1.0, &job, 1, &first), 0);
    cr_assert_eq (segq__job_store_insert_array (store, "alice", 2.0, &job, 1, &second), 0);
    s_commit ();
    cr_assert_eq (first, job + 1);
    cr_assert_eq (second, job + 2, "one job in two arrays: each array its own number");
    cr_assert_eq (s_submit ("echo", NULL, NULL, id, err, sizeof err), 0, "%s", err);
    s_commit ();
    cr_assert_eq (segq__job_id_parse (id), job + 3, "a job after the arrays");
    /* an older segqd's arrays 1..40 over these few jobs */
    cr_assert_eq (sqlite3_exec (segq__job_store_db (store),
                                "INSERT INTO arrays (id, owner, created) VALUES (40, 'alice', 3)",
                                NULL, NULL, NULL),
                  SQLITE_OK);
    uint64_t third = 0;
    cr_assert_eq (segq__job_store_insert_array (store, "alice", 4.0, &job, 1, &third), 0);
    s_commit ();
    cr_assert_eq (third, 41);
    cr_assert_eq (s_submit ("echo", NULL, NULL, id, err, sizeof err), 0, "%s", err);
    s_commit ();
    cr_assert_eq (segq__job_id_parse (id), 42, "jobs go on above the arrays");
    s_close ();
    s_open ();
    cr_assert_eq (s_submit ("echo", NULL, NULL, id, err, sizeof err), 0, "%s", err);
    s_commit ();
    cr_assert_eq (segq__job_id_parse (id), 43, "the counter is stored");
}

/* A train submit of inputs[0..2), named first and second, both one stored
   artifact; n_inputs 1. */
static segq_submit_t
s_train (segq_input_t inputs [2], const char *first, const char *second)
{
    char hash [SEGQ_HASH_HEX_LEN + 1];
    test_store (artifacts, "px", hash);
    inputs [0] = (segq_input_t){ .name = (char *) first };
    inputs [1] = (segq_input_t){ .name = (char *) second };
    memcpy (inputs [0].hash, hash, sizeof hash);
    memcpy (inputs [1].hash, hash, sizeof hash);
    return (segq_submit_t){ .user = "alice", .kind = "train", .inputs = inputs, .n_inputs = 1 };
}

/* generate without a seed gets a fresh one, stored with the job: asking a
   model twice gives new pairs; a seed given is kept. */
Test (jobs, generate_draws_a_fresh_seed_unless_given, .init = setup, .fini = teardown,
      .timeout = 20)
{
    char hash [SEGQ_HASH_HEX_LEN + 1], err [1024] = "", ids [3][SEGQ__JOB_ID_MAX];
    test_store (artifacts, "a model", hash);
    segq_input_t model = { .name = "model" };
    memcpy (model.hash, hash, sizeof hash);
    segq_submit_t submit = { .user = "alice", .kind = "generate", .inputs = &model, .n_inputs = 1 };
    int64_t seeds [3];
    for (int i = 0; i < 3; i++) {
        if (i == 2) {
            segq_value_t given = { .type = SEGQ_PARAM_INT, .i = 7 };
            cr_assert_eq (segq_params_set (&submit.params, "seed", &given), 0);
        }
        cr_assert_eq (segq__jobs_submit (jobs, &submit, 1.0, ids [i], err, sizeof err), 0, "%s",
                      err);
        segq_params_t stored = { 0 };
        cr_assert_eq (segq__job_store_params (store, segq__job_id_parse (ids [i]), &stored), 0);
        const segq_value_t *seed = segq_params_get (&stored, "seed");
        cr_assert (seed && seed->type == SEGQ_PARAM_INT, "job %s has no seed", ids [i]);
        seeds [i] = seed->i;
        cr_assert (seeds [i] >= 0 && seeds [i] < (1ll << 53), "seed %lld", (long long) seeds [i]);
        segq_params_clear (&stored);
    }
    cr_assert_neq (seeds [0], seeds [1], "two requests drew the same seed");
    cr_assert_eq (seeds [2], 7);
    segq_params_clear (&submit.params);
}

/* A one-file input may keep its file's name (image/polyp.jpg), once. */
Test (jobs, one_file_input_keeps_its_file_name, .init = setup, .fini = teardown, .timeout = 20)
{
    char err [1024] = "", id [SEGQ__JOB_ID_MAX];
    segq_input_t inputs [2];
    segq_submit_t submit = s_train (inputs, "image/polyp.jpg", "image/other.jpg");
    /* the mask from the image's alpha: no mask input */
    segq_value_t from_alpha = { .type = SEGQ_PARAM_BOOL, .b = true };
    cr_assert_eq (segq_params_set (&submit.params, "mask_from_alpha", &from_alpha), 0);
    cr_assert_eq (segq__jobs_submit (jobs, &submit, 1.0, id, err, sizeof err), 0, "%s", err);
    submit.n_inputs = 2;
    cr_assert_eq (segq__jobs_submit (jobs, &submit, 1.0, id, err, sizeof err), SEGQ_EINVAL);
    cr_assert (strstr (err, "'image' given twice"), "%s", err);
    inputs [0].name = "image/deeper/polyp.jpg";
    submit.n_inputs = 1;
    cr_assert_eq (segq__jobs_submit (jobs, &submit, 1.0, id, err, sizeof err), SEGQ_EINVAL);
    segq_params_clear (&submit.params);
}

/* train's mask is required unless mask_from_alpha, and refused with it:
   the kind table says so and the broker refuses at submit, naming it,
   instead of the job failing on its worker. */
Test (jobs, train_needs_its_mask_unless_from_alpha, .init = setup, .fini = teardown, .timeout = 20)
{
    char err [1024] = "", id [SEGQ__JOB_ID_MAX];
    segq_input_t inputs [2];
    segq_submit_t submit = s_train (inputs, "image/polyp.jpg", "mask/polyp.png");
    size_t active = segq__jobs_active (jobs);
    cr_assert_eq (segq__jobs_submit (jobs, &submit, 1.0, id, err, sizeof err), SEGQ_EINVAL);
    cr_assert (strstr (err, "needs input 'mask'") && strstr (err, "mask_from_alpha"), "%s", err);
    cr_assert_eq (segq__jobs_active (jobs), active, "nothing stored");
    segq_value_t from_alpha = { .type = SEGQ_PARAM_BOOL, .b = false };
    cr_assert_eq (segq_params_set (&submit.params, "mask_from_alpha", &from_alpha), 0);
    cr_assert_eq (segq__jobs_submit (jobs, &submit, 1.0, id, err, sizeof err), SEGQ_EINVAL);
    submit.n_inputs = 2;
    cr_assert_eq (segq__jobs_submit (jobs, &submit, 1.0, id, err, sizeof err), 0, "%s", err);
    from_alpha.b = true;
    cr_assert_eq (segq_params_set (&submit.params, "mask_from_alpha", &from_alpha), 0);
    active = segq__jobs_active (jobs);
    cr_assert_eq (segq__jobs_submit (jobs, &submit, 1.0, id, err, sizeof err), SEGQ_EINVAL);
    cr_assert (strstr (err, "takes input 'mask' or parameter mask_from_alpha, not both"), "%s",
               err);
    cr_assert_eq (segq__jobs_active (jobs), active, "nothing stored");
    submit.n_inputs = 1;
    cr_assert_eq (segq__jobs_submit (jobs, &submit, 1.0, id, err, sizeof err), 0, "%s", err);
    segq_params_clear (&submit.params);
}

/* A submit that asks for no resources gets its kind's default: segqd.conf
   [kind NAME], else one CPU slot; one that asks keeps what it asked. */
Test (jobs, kind_default_resources_from_the_configuration, .init = setup, .fini = teardown,
      .timeout = 20)
{
    s_reopen_with ("[kind sleep]\ngpu_mem = 6G\n[kind echo]\ncpu_slots = 3\n");
    char id [SEGQ__JOB_ID_MAX], err [1024] = "";
    cr_assert_eq (s_submit ("sleep", NULL, NULL, id, err, sizeof err), 0, "%s", err);
    cr_assert_eq (s_job (id)->sched.gpu_mem, 6ull << 30);
    cr_assert_eq (s_job (id)->sched.cpu_slots, 0);
    cr_assert_eq (s_submit ("echo", NULL, NULL, id, err, sizeof err), 0, "%s", err);
    cr_assert_eq (s_job (id)->sched.gpu_mem, 0);
    cr_assert_eq (s_job (id)->sched.cpu_slots, 3);
    cr_assert_eq (s_submit ("fail", NULL, NULL, id, err, sizeof err), 0, "%s", err);
    cr_assert_eq (s_job (id)->sched.cpu_slots, 1, "no section: one CPU slot");
    segq_submit_t asked = { .user = "alice", .kind = "sleep", .cpu_slots = 2 };
    cr_assert_eq (segq__jobs_submit (jobs, &asked, 1000.0, id, err, sizeof err), 0, "%s", err);
    cr_assert_eq (s_job (id)->sched.gpu_mem, 0);
    cr_assert_eq (s_job (id)->sched.cpu_slots, 2);
    s_commit ();
}

/* The files of an input of many each need a place of their own: one laid
   out as the input itself beside others, or one name twice, is refused at
   submit instead of failing on the worker. */
Test (jobs, many_files_each_get_a_place, .init = setup, .fini = teardown, .timeout = 20)
{
    char hash [SEGQ_HASH_HEX_LEN + 1], err [1024] = "", id [SEGQ__JOB_ID_MAX];
    test_store (artifacts, "some text", hash);
    segq_input_t inputs [2] = { { .name = "files" }, { .name = "files/b.txt" } };
    memcpy (inputs [0].hash, hash, sizeof hash);
    memcpy (inputs [1].hash, hash, sizeof hash);
    segq_submit_t submit = { .user = "alice", .kind = "echo", .inputs = inputs, .n_inputs = 2 };
    cr_assert_eq (segq__jobs_submit (jobs, &submit, 1.0, id, err, sizeof err), SEGQ_EINVAL);
    cr_assert (strstr (err, "laid out as the input itself") && strstr (err, "files/FILE"), "%s",
               err);
    inputs [0].name = "files/b.txt";
    cr_assert_eq (segq__jobs_submit (jobs, &submit, 1.0, id, err, sizeof err), SEGQ_EINVAL);
    cr_assert (strstr (err, "'files/b.txt': given twice"), "%s", err);
    inputs [0].name = "files/a.txt";
    cr_assert_eq (segq__jobs_submit (jobs, &submit, 1.0, id, err, sizeof err), 0, "%s", err);
    inputs [0].name = "files";
    submit.n_inputs = 1; /* alone, a file under the input's name has its place */
    cr_assert_eq (segq__jobs_submit (jobs, &submit, 1.0, id, err, sizeof err), 0, "%s", err);
}

/* A reference to another job's output must be what the input takes, by
   the kinds' tables: refused at submit (nothing stored), while that job
   still waits too, instead of failing later on a worker. */
Test (jobs, references_must_be_what_the_input_takes, .init = setup, .fini = teardown, .timeout = 20)
{
    char err [1024] = "", train [SEGQ__JOB_ID_MAX], gen [SEGQ__JOB_ID_MAX], id [SEGQ__JOB_ID_MAX];
    segq_input_t inputs [2];
    segq_submit_t submit = s_train (inputs, "image", "mask");
    submit.n_inputs = 2;
    cr_assert_eq (segq__jobs_submit (jobs, &submit, 1.0, train, err, sizeof err), 0, "%s", err);
    /* generate from the (queued) training: its principal output */
    segq_input_t model = { .name = "model", .job = train };
    segq_submit_t generate = {
        .user = "alice", .kind = "generate", .inputs = &model, .n_inputs = 1
    };
    cr_assert_eq (segq__jobs_submit (jobs, &generate, 1.0, gen, err, sizeof err), 0, "%s", err);
    size_t active = segq__jobs_active (jobs);
    /* a generation as a model, and the training's loss log as an image */
    model.job = gen;
    cr_assert_eq (segq__jobs_submit (jobs, &generate, 1.0, id, err, sizeof err), SEGQ_EINVAL);
    cr_assert (strstr (err, "input 'model' takes a SinGAN-Seg checkpoint") && strstr (err, "job ")
                   && strstr (err, "(generate) gives a generation"),
               "%s", err);
    inputs [0] = (segq_input_t){ .name = "image", .job = train, .output = "losses.csv" };
    cr_assert_eq (segq__jobs_submit (jobs, &submit, 1.0, id, err, sizeof err), SEGQ_EINVAL);
    cr_assert (strstr (err, "output 'losses.csv'") && strstr (err, "a report that no job reads"),
               "%s", err);
    cr_assert_eq (segq__jobs_active (jobs), active, "nothing stored");
    /* what fits: a preview as an image, a generation's mask as a mask */
    inputs [0].output = "preview/scale00_real.png";
    inputs [1] = (segq_input_t){ .name = "mask", .job = gen, .output = "masks/a.png" };
    cr_assert_eq (segq__jobs_submit (jobs, &submit, 1.0, id, err, sizeof err), 0, "%s", err);
}
