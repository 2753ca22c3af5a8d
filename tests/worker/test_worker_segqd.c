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

/* A broker (`before` its start: what it is to load) and worker wk. */
static void
s_start (const char *name, void (*before) (void))
{
    h = harness_new (name);
    cr_assert_not_null (h);
    h->heartbeat_ms = 200;
    h->expiry_ms = 1500;
    if (before)
        before ();
    cr_assert_eq (harness_start_broker (h, NULL), 0, "segqd did not start");
    /* Jobs here ask for GPU memory that only this worker declares: the
       broker's ephemeral port may have belonged to another test's broker
       a moment ago, whose workers (CPU only) may still come knocking. */
    const char *extra [] = { "--gpus", "0:FakeGPU:1G", NULL };
    cr_assert_geq (harness_start_worker (h, "wk", 2, extra), 0, "segq-worker did not start");
}

static void
setup (void)
{
    s_start ("worker", NULL);
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

/* job cancelled, and it ends cancelled */
static void
s_cancel_and_expect_cancelled (segq_client_t *c, const char *job)
{
    const char *jobs [] = { job };
    segq_cancel_outcome_t *outcomes = NULL;
    size_t n_outcomes = 0;
    H_ASSERT (h, segq_client_cancel (c, jobs, 1, &outcomes, &n_outcomes) == 0, "%s",
              segq_client_error (c));
    segq_cancel_outcomes_free (&outcomes, n_outcomes);
    s_expect_final (c, job, SEGQ_JOB_CANCELLED, NULL);
}

Test (worker_segqd, cancel_running_job)
{
    segq_client_t *c = harness_client (h, 10000);
    char job [SEGQ_JOB_ID_MAX];
    const char *params [] = { "seconds", "60", NULL };
    s_submit (c, "sleep", params, 0, job);
    s_wait_started (job);
    s_cancel_and_expect_cancelled (c, job);
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

/* ---- the broker's disk full while a job's outputs upload ---- */

static char s_no_room [600], s_write_full [600], s_log_full [600];

/* The broker's disk full on cue (tests/worker/full_disk.c): no room at
   PUT while s_no_room exists, writes failing while s_write_full does, log
   writes while s_log_full does. */
static void
s_preload_full_disk (void)
{
    snprintf (s_no_room, sizeof s_no_room, "%s/no-room", h->dir);
    snprintf (s_write_full, sizeof s_write_full, "%s/write-full", h->dir);
    snprintf (s_log_full, sizeof s_log_full, "%s/log-full", h->dir);
    char vars [3][700];
    snprintf (vars [0], sizeof vars [0], "SEGQ_TEST_NO_ROOM=%s", s_no_room);
    snprintf (vars [1], sizeof vars [1], "SEGQ_TEST_WRITE_FULL=%s", s_write_full);
    snprintf (vars [2], sizeof vars [2], "SEGQ_TEST_LOG_FULL=%s", s_log_full);
    harness_preload (h, "segq_test_full_disk.so",
                     (const char *const []){ vars [0], vars [1], vars [2] });
}

static void
setup_full_disk (void)
{
    s_start ("worker-full", s_preload_full_disk);
}

static void
s_touch (const char *path)
{
    FILE *file = fopen (path, "w");
    cr_assert (file && fclose (file) == 0, "cannot create %s", path);
}

/* An echo job of a file uploaded before the disk fills (at `gate`, NULL:
   it never does): the input is on the broker already, only the output
   meets the full disk. */
static void
s_submit_echo_uploaded (segq_client_t *c, const char *text, const char *gate,
                        char job [SEGQ_JOB_ID_MAX])
{
    char path [700], hash [SEGQ_HASH_HEX_LEN + 1], err [256];
    snprintf (path, sizeof path, "%s/note.txt", h->dir);
    FILE *file = fopen (path, "w");
    cr_assert (file && fputs (text, file) >= 0 && fclose (file) == 0);
    H_ASSERT (h, segq_client_upload (c, path, "note.txt", hash, NULL) == 0, "%s",
              segq_client_error (c));
    if (gate)
        s_touch (gate);
    segq_job_spec_t *spec = segq_job_spec_new ("echo");
    cr_assert_eq (
        segq_job_spec_input_hash (spec, "files/note.txt", hash, strlen (text), err, sizeof err), 0,
        "%s", err);
    segq_job_spec_set_gpu_mem (spec, 1u << 20);
    H_ASSERT (h, segq_client_submit (c, spec, job, SEGQ_JOB_ID_MAX) == 0, "%s",
              segq_client_error (c));
    segq_job_spec_destroy (&spec);
}

/* The echo job succeeds, and its output note.txt holds text. */
static void
s_expect_echoed (segq_client_t *c, const char *job, const char *text)
{
    s_expect_final (c, job, SEGQ_JOB_SUCCEEDED, NULL);
    char fetched [700], got [128] = "";
    snprintf (fetched, sizeof fetched, "%s/fetched.txt", h->dir);
    H_ASSERT (h, segq_client_fetch (c, job, "note.txt", fetched, NULL) == 0, "%s",
              segq_client_error (c));
    FILE *file = fopen (fetched, "r");
    cr_assert (file && fgets (got, sizeof got, file));
    fclose (file);
    cr_assert_str_eq (got, text);
}

/* Waits until the worker says the job's upload waits for room; the job
   must not end meanwhile (a full disk is no fault of the job's). */
static void
s_wait_for_room (segq_client_t *c, const char *job)
{
    const char *said = "waits for room on the broker's disk";
    segq_job_info_t info = { 0 };
    for (int i = 0; i < 1000; i++, harness_sleep_ms (20)) {
        H_ASSERT (h, segq_client_job (c, job, false, &info) == 0, "%s", segq_client_error (c));
        H_ASSERT (h, info.state == SEGQ_JOB_QUEUED || info.state == SEGQ_JOB_RUNNING,
                  "job %s is %s (%s) while the broker's disk is full", job,
                  segq_job_state_name (info.state), info.reason ? info.reason : "");
        segq_job_info_clear (&info);
        if (harness_wait_text (h->workers [0].log, said, 0) == 0)
            return;
    }
    H_ASSERT (h, false, "the worker never said that the upload of %s %s", job, said);
}

/* The job waits (running, its output in the worker's job folder) until
   the disk has room, then succeeds with its output intact. */
static void
s_waits_for_room_then_succeeds (const char *gate)
{
    segq_client_t *c = harness_client (h, 10000);
    const char *text = "kept while the broker's disk was full\n";
    char job [SEGQ_JOB_ID_MAX];
    s_submit_echo_uploaded (c, text, gate, job);
    s_wait_for_room (c, job);
    char out [700];
    snprintf (out, sizeof out, "%s/jobs/%s.1/out/note.txt", h->workers [0].work_dir, job);
    H_ASSERT (h, access (out, F_OK) == 0, "the output is not in the job's folder (%s)", out);
    cr_assert_eq (unlink (gate), 0); /* room again */
    s_expect_echoed (c, job, text);
    H_ASSERT (h, harness_wait_text (h->workers [0].log, "the broker had room again", 5000) == 0,
              "the worker did not say the wait was over");
    segq_client_destroy (&c);
}

TestSuite (worker_full_disk, .init = setup_full_disk, .fini = teardown, .timeout = 120);

/* refused at PUT: "N bytes do not fit in the M bytes free" */
Test (worker_full_disk, output_refused_at_put_waits_for_room)
{
    s_waits_for_room_then_succeeds (s_no_room);
}

/* refused while written: PUT_DONE "no space left on the broker's disk" */
Test (worker_full_disk, output_failing_to_write_waits_for_room)
{
    s_waits_for_room_then_succeeds (s_write_full);
}

Test (worker_full_disk, cancel_ends_the_wait_for_room)
{
    segq_client_t *c = harness_client (h, 10000);
    char job [SEGQ_JOB_ID_MAX];
    s_submit_echo_uploaded (c, "never stored\n", s_no_room, job);
    s_wait_for_room (c, job);
    s_cancel_and_expect_cancelled (c, job);
    /* the worker let the job go: its folder is removed */
    char dir [700];
    snprintf (dir, sizeof dir, "%s/jobs/%s.1", h->workers [0].work_dir, job);
    for (int i = 0; i < 500 && access (dir, F_OK) == 0; i++)
        harness_sleep_ms (10);
    H_ASSERT (h, access (dir, F_OK) != 0, "the cancelled job's folder %s is still there", dir);
    cr_assert_eq (unlink (s_no_room), 0);
    segq_client_destroy (&c);
}

/* Log lines the broker cannot write are lost, and the log says so (how
   much, where) once it can be written again, at the job's end here. */
Test (worker_full_disk, log_lines_lost_to_a_full_disk_are_said)
{
    segq_client_t *c = harness_client (h, 10000);
    s_touch (s_log_full);
    char job [SEGQ_JOB_ID_MAX], err [256];
    segq_job_spec_t *spec = segq_job_spec_new ("sleep");
    cr_assert_eq (segq_job_spec_param (spec, "seconds", "5", err, sizeof err), 0, "%s", err);
    segq_job_spec_set_gpu_mem (spec, 1u << 20);
    H_ASSERT (h, segq_client_submit (c, spec, job, sizeof job) == 0, "%s", segq_client_error (c));
    segq_job_spec_destroy (&spec);
    H_ASSERT (h, harness_wait_text (h->broker_log, "cannot write the log of", 20000) == 0,
              "the broker never failed to write the log");
    cr_assert_eq (unlink (s_log_full), 0); /* room again, while the job sleeps */
    s_expect_final (c, job, SEGQ_JOB_SUCCEEDED, NULL);
    segq_log_chunk_t chunk = { 0 };
    H_ASSERT (h, segq_client_logs (c, job, 0, 1 << 16, &chunk) == 0, "%s", segq_client_error (c));
    char *text = strndup (chunk.data ? (const char *) chunk.data : "", chunk.size);
    cr_assert (text && strstr (text, "bytes of this log are lost here"),
               "no word of the lost lines in: %s", text);
    free (text);
    segq_log_chunk_clear (&chunk);
    segq_client_destroy (&c);
}

/* ---- relative paths ---- */

static void
setup_broker_only (void)
{
    h = harness_new ("worker-paths");
    cr_assert_not_null (h);
    cr_assert_eq (harness_start_broker (h, NULL), 0, "segqd did not start");
}

TestSuite (worker_paths, .init = setup_broker_only, .fini = teardown, .timeout = 60);

/* A worker started with relative --work-dir, --cache-dir and --testkind
   runs its jobs as with absolute ones: the job's child, which runs in
   the job's folder, gets paths that name something there too. */
Test (worker_paths, relative_paths_work_as_absolute_ones)
{
    cr_assert_eq (chdir (h->dir), 0); /* the worker's current directory */
    cr_assert_eq (symlink (harness_binary ("segq-testkind"), "testkind"), 0);
    const char *extra [] = { "--gpus", "0:FakeGPU:1G", "--work-dir", "work", "--cache-dir",
                             "cache",  "--testkind",   "testkind",   NULL };
    cr_assert_geq (harness_start_worker (h, "rel", 1, extra), 0, "segq-worker did not start");
    segq_client_t *c = harness_client (h, 10000);
    const char *text = "laid out under a relative work dir\n";
    char job [SEGQ_JOB_ID_MAX];
    s_submit_echo_uploaded (c, text, NULL, job);
    s_expect_echoed (c, job, text);
    /* where the folders were asked for: under the worker's directory */
    char path [700];
    snprintf (path, sizeof path, "%s/work/worker.id", h->dir);
    cr_assert_eq (access (path, F_OK), 0, "no %s", path);
    snprintf (path, sizeof path, "%s/cache/tmp", h->dir);
    cr_assert_eq (access (path, F_OK), 0, "no %s", path);
    segq_client_destroy (&c);
}
