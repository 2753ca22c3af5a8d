/*  The job supervisor: a real child per test, reaped through signalfd. */
#include <criterion/criterion.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include "worker_internal.h"

typedef struct {
    zloop_t *loop;
    int sigfd;
    zmq_pollitem_t sig_item;
    segq__job_runner_t *runner;
    bool exited;
    segq__job_exit_t exit;
    char log [65536];
    size_t log_used;
    int n_progress;
    segq__progress_t progress;
    int abort_after_ms;
} run_t;

static void
s_on_log (void *arg, const uint8_t *data, size_t size)
{
    run_t *r = arg;
    if (r->log_used + size >= sizeof r->log)
        size = sizeof r->log - r->log_used - 1;
    memcpy (r->log + r->log_used, data, size);
    r->log_used += size;
}

static void
s_on_progress (void *arg, const segq__progress_t *record)
{
    run_t *r = arg;
    r->n_progress++;
    segq__progress_merge (&r->progress, record);
}

static void
s_on_exit (void *arg, const segq__job_exit_t *status)
{
    run_t *r = arg;
    r->exited = true;
    r->exit = *status;
    segq__job_runner_destroy (&r->runner); /* allowed from inside */
}

static int
s_on_signal (zloop_t *loop, zmq_pollitem_t *item, void *arg)
{
    run_t *r = arg;
    struct signalfd_siginfo_s {
        char b [128];
    } info;
    while (read (r->sigfd, &info, sizeof info) > 0)
        ;
    if (r->runner)
        segq__job_runner_check (r->runner);
    return r->exited ? -1 : 0;
}

static int
s_on_abort (zloop_t *loop, int timer_id, void *arg)
{
    run_t *r = arg;
    if (r->runner)
        segq__job_runner_abort (r->runner, "aborted: cancelled by test");
    return 0;
}

static int
s_on_deadline (zloop_t *loop, int timer_id, void *arg)
{
    return -1;
}

static char s_dir [256];

static void
s_setup (void)
{
    snprintf (s_dir, sizeof s_dir, "/tmp/segq-worker-runner-XXXXXX");
    cr_assert_not_null (mkdtemp (s_dir));
}

static void
s_teardown (void)
{
    segq__remove_tree (s_dir);
}

TestSuite (job_runner, .init = s_setup, .fini = s_teardown, .timeout = 30);

/* Run argv to its end (or 20 s) and fill r. */
static void
s_run (run_t *r, char *const *argv, char *const *env, uint32_t time_limit_s, uint32_t grace_ms)
{
    memset (r, 0, sizeof *r);
    r->sigfd = segq__signals_open ();
    cr_assert_geq (r->sigfd, 0);
    r->loop = zloop_new ();
    zloop_set_nonstop (r->loop, true);
    r->sig_item.fd = r->sigfd;
    r->sig_item.events = ZMQ_POLLIN;
    zloop_poller (r->loop, &r->sig_item, s_on_signal, r);
    zloop_timer (r->loop, 20000, 1, s_on_deadline, r);
    segq__job_launch_t launch = { .path = argv [0],
                                  .argv = argv,
                                  .env = env,
                                  .cwd = s_dir,
                                  .time_limit_s = time_limit_s,
                                  .kill_grace_ms = grace_ms };
    segq__job_callbacks_t callbacks = { s_on_log, s_on_progress, s_on_exit, r };
    char err [512];
    int rc = segq__job_runner_start (r->loop, &launch, &callbacks, &r->runner, err, sizeof err);
    cr_assert_eq (rc, 0, "%s", err);
    zloop_start (r->loop);
    cr_assert (r->exited, "child did not end");
    zloop_destroy (&r->loop);
    close (r->sigfd);
    r->log [r->log_used] = 0;
}

static void
s_done (run_t *r)
{
    segq__progress_clear (&r->progress);
}

Test (job_runner, log_merges_stdout_and_stderr_exit_code_reported)
{
    run_t r;
    char *argv [] = { "/bin/sh", "-c", "echo to-out; echo to-err >&2; exit 3", NULL };
    s_run (&r, argv, NULL, 0, 1000);
    cr_assert_not (r.exit.success);
    cr_assert_eq (r.exit.exit_code, 3);
    cr_assert_eq (r.exit.signal, 0);
    cr_assert_str_eq (r.exit.reason, "exited with code 3: to-err");
    cr_assert (strstr (r.log, "to-out\n") && strstr (r.log, "to-err\n"), "%s", r.log);
    s_done (&r);
}

Test (job_runner, failure_reason_ends_with_the_last_line_of_output)
{
    run_t r;
    /* the last line that says something, control characters dropped, a
       carriage return ending a line as a newline does */
    char *argv [] = { "/bin/sh", "-c",
                      "echo first; printf 'progress 10%%\\r\\tcannot read"
                      "\\001 mask.png \\r\\n\\n  \\n' >&2; exit 1",
                      NULL };
    s_run (&r, argv, NULL, 0, 1000);
    cr_assert_str_eq (r.exit.reason, "exited with code 1: cannot read mask.png");
    s_done (&r);
    /* an overlong last line without its newline: its head and its tail,
       where the cause is (after a long path) */
    char *long_line [] = { "/bin/sh", "-c",
                           "printf 'cannot read /'; printf 'd%.0s' $(seq 1000);"
                           "printf '/x.png: No such file or directory'; kill -TERM $$",
                           NULL };
    s_run (&r, long_line, NULL, 0, 1000);
    char want [1024], ds [SEGQ__LAST_LINE_TAIL + 1];
    memset (ds, 'd', sizeof ds - 1);
    ds [sizeof ds - 1] = 0;
    const char *start = "cannot read /", *cause = "/x.png: No such file or directory";
    snprintf (want, sizeof want, "killed by signal %d (%s): %s%.*s ... %.*s%s", SIGTERM,
              strsignal (SIGTERM), start, (int) (SEGQ__LAST_LINE_HEAD - strlen (start)), ds,
              (int) (SEGQ__LAST_LINE_TAIL - strlen (cause)), ds, cause);
    cr_assert_str_eq (r.exit.reason, want);
    s_done (&r);
    /* nothing written: the reason alone */
    char *silent [] = { "/bin/sh", "-c", "exit 5", NULL };
    s_run (&r, silent, NULL, 0, 1000);
    cr_assert_str_eq (r.exit.reason, "exited with code 5");
    s_done (&r);
}

Test (job_runner, env_cwd_and_only_fds_0_to_3)
{
    /* an fd the daemon forgot to mark CLOEXEC must not reach the child */
    int leaky = open ("/dev/null", O_RDONLY);
    cr_assert_geq (leaky, 0);
    run_t r;
    char *env [] = { "SEGQ_JOB_ID=J7", "SEGQ_JOB_ATTEMPT=2", "HOME=/nowhere", NULL };
    char *argv [] = { "/bin/sh", "-c",
                      "echo \"id=$SEGQ_JOB_ID attempt=$SEGQ_JOB_ATTEMPT home=$HOME pwd=$(pwd -P)\";"
                      "for n in $(seq 0 64); do [ -e /proc/$$/fd/$n ] && echo fd $n; done; true",
                      NULL };
    s_run (&r, argv, env, 0, 1000);
    cr_assert (r.exit.success, "%s", r.exit.reason);
    char real [512], want [700];
    cr_assert_not_null (realpath (s_dir, real));
    snprintf (want, sizeof want, "id=J7 attempt=2 home=/nowhere pwd=%s\n", real);
    cr_assert (strstr (r.log, want), "%s", r.log);
    cr_assert (strstr (r.log, "fd 0\nfd 1\nfd 2\nfd 3\n"), "%s", r.log);
    cr_assert_null (strstr (r.log, "fd 4"), "%s", r.log);
    cr_assert_gt (leaky, 3);
    close (leaky);
    s_done (&r);
}

Test (job_runner, progress_channel_parsed_garbage_ignored)
{
    run_t r;
    char *argv [] = { "/bin/sh", "-c",
                      "printf '{\"phase\":\"a\",\"fraction\":0.5}\\nnot "
                      "json\\n{\"metrics\":{\"loss\":2}}\\n' >&3;"
                      "printf '{\"fraction\":1}' >&3",
                      NULL };
    s_run (&r, argv, NULL, 0, 1000);
    cr_assert (r.exit.success, "%s", r.exit.reason);
    /* the last record has no newline: it counts at end of stream */
    cr_assert_eq (r.n_progress, 3);
    cr_assert_str_eq (r.progress.phase, "a");
    cr_assert_float_eq (r.progress.fraction, 1.0, 1e-12);
    cr_assert_float_eq (segq_params_get (&r.progress.metrics, "loss")->f, 2.0, 1e-12);
    s_done (&r);
}

Test (job_runner, killed_by_signal)
{
    run_t r;
    char *argv [] = { "/bin/sh", "-c", "echo before; kill -SEGV $$", NULL };
    s_run (&r, argv, NULL, 0, 1000);
    cr_assert_not (r.exit.success);
    cr_assert_eq (r.exit.signal, SIGSEGV);
    cr_assert_eq (r.exit.exit_code, -1);
    cr_assert (strstr (r.exit.reason, "killed by signal 11"), "%s", r.exit.reason);
    cr_assert (strstr (r.log, "before"), "%s", r.log);
    s_done (&r);
}

Test (job_runner, time_limit_term_then_kill_whole_group)
{
    run_t r;
    /* ignores TERM, and so does its own child: only KILL ends them */
    char pidfile [400];
    snprintf (pidfile, sizeof pidfile, "%s/grandchild.pid", s_dir);
    char script [800];
    snprintf (script, sizeof script, "trap '' TERM; sleep 30 & echo $! > %s; wait; wait", pidfile);
    char *argv [] = { "/bin/sh", "-c", script, NULL };
    int64_t start = segq__now_ms ();
    s_run (&r, argv, NULL, 1, 300);
    int64_t took = segq__now_ms () - start;
    cr_assert_not (r.exit.success);
    cr_assert (r.exit.timed_out);
    cr_assert_eq (r.exit.signal, SIGKILL);
    cr_assert_str_eq (r.exit.reason, "time limit of 1 s exceeded");
    cr_assert (took >= 1200 && took < 5000, "took %lld ms", (long long) took);
    FILE *f = fopen (pidfile, "r");
    cr_assert_not_null (f);
    int pid = 0;
    cr_assert_eq (fscanf (f, "%d", &pid), 1);
    fclose (f);
    /* the grandchild is gone (or a zombie waiting for init) */
    char stat_path [64], state = 'Z';
    snprintf (stat_path, sizeof stat_path, "/proc/%d/stat", pid);
    for (int i = 0; i < 50; i++) {
        FILE *s = fopen (stat_path, "r");
        if (!s) {
            state = 'X';
            break;
        }
        cr_assert_eq (fscanf (s, "%*d %*s %c", &state), 1);
        fclose (s);
        if (state == 'Z')
            break;
        usleep (20000);
    }
    cr_assert (state == 'Z' || state == 'X', "grandchild %d still in state %c", pid, state);
    s_done (&r);
}

Test (job_runner, abort_terms_the_child)
{
    run_t r;
    memset (&r, 0, sizeof r);
    char *argv [] = { "/bin/sh", "-c", "echo started; exec sleep 30", NULL };
    /* s_run with an abort 200 ms in: set up by hand */
    r.sigfd = segq__signals_open ();
    r.loop = zloop_new ();
    zloop_set_nonstop (r.loop, true);
    r.sig_item.fd = r.sigfd;
    r.sig_item.events = ZMQ_POLLIN;
    zloop_poller (r.loop, &r.sig_item, s_on_signal, &r);
    zloop_timer (r.loop, 200, 1, s_on_abort, &r);
    zloop_timer (r.loop, 20000, 1, s_on_deadline, &r);
    segq__job_launch_t launch = {
        .path = argv [0], .argv = argv, .cwd = s_dir, .kill_grace_ms = 5000
    };
    segq__job_callbacks_t callbacks = { s_on_log, s_on_progress, s_on_exit, &r };
    char err [512];
    int rc = segq__job_runner_start (r.loop, &launch, &callbacks, &r.runner, err, sizeof err);
    cr_assert_eq (rc, 0, "%s", err);
    int64_t start = segq__now_ms ();
    zloop_start (r.loop);
    cr_assert (r.exited);
    cr_assert (segq__now_ms () - start < 3000);
    cr_assert (r.exit.aborted);
    cr_assert_eq (r.exit.signal, SIGTERM);
    cr_assert_str_eq (r.exit.reason, "aborted: cancelled by test");
    zloop_destroy (&r.loop);
    close (r.sigfd);
    s_done (&r);
}

Test (job_runner, program_that_cannot_start_is_an_error)
{
    int sigfd = segq__signals_open ();
    zloop_t *loop = zloop_new ();
    char *argv [] = { "/nonexistent/segq-run", NULL };
    segq__job_launch_t launch = { .path = argv [0], .argv = argv, .cwd = s_dir };
    segq__job_callbacks_t callbacks = { 0 };
    char err [512] = "";
    segq__job_runner_t *runner = NULL;
    /* SEGQ_ENOENT: the worker takes it as its node's fault, not the job's */
    cr_assert_eq (segq__job_runner_start (loop, &launch, &callbacks, &runner, err, sizeof err),
                  SEGQ_ENOENT);
    cr_assert_null (runner);
    cr_assert (strstr (err, "/nonexistent/segq-run") && strstr (err, "No such file"), "%s", err);
    launch.path = "/bin/true";
    launch.cwd = "/nonexistent-dir";
    cr_assert_eq (segq__job_runner_start (loop, &launch, &callbacks, &runner, err, sizeof err),
                  SEGQ_ENOENT);
    cr_assert (strstr (err, "/nonexistent-dir"), "%s", err);
    char not_executable [4096]; /* as a segq-run whose mode lost its x bits */
    snprintf (not_executable, sizeof not_executable, "%s/segq-run", s_dir);
    FILE *f = fopen (not_executable, "w");
    cr_assert (f && fputs ("#!/bin/sh\n", f) >= 0 && fclose (f) == 0);
    launch.path = argv [0] = not_executable;
    launch.cwd = s_dir;
    cr_assert_eq (segq__job_runner_start (loop, &launch, &callbacks, &runner, err, sizeof err),
                  SEGQ_ENOENT);
    cr_assert (strstr (err, "Permission denied"), "%s", err);
    zloop_destroy (&loop);
    close (sigfd);
}

Test (job_runner, testkind_crash_is_reported_not_fatal)
{
    run_t r;
    char *argv [] = { SEGQ_TESTKIND, "fail", "--mode=crash", NULL };
    s_run (&r, argv, NULL, 0, 1000);
    cr_assert_eq (r.exit.signal, SIGABRT, "%s", r.exit.reason);
    cr_assert (strstr (r.log, "crashing as asked"), "%s", r.log);
    s_done (&r);
}

Test (job_runner, testkind_sleep_reports_progress)
{
    run_t r;
    char *env [] = { "SEGQ_PROGRESS_FD=3", NULL };
    char *argv [] = { SEGQ_TESTKIND, "sleep", "--seconds=0.35", NULL };
    s_run (&r, argv, env, 0, 1000);
    cr_assert (r.exit.success, "%s %s", r.exit.reason, r.log);
    cr_assert_geq (r.n_progress, 4);
    cr_assert_str_eq (r.progress.phase, "sleeping");
    cr_assert_float_eq (r.progress.fraction, 1.0, 1e-9);
    s_done (&r);
}
