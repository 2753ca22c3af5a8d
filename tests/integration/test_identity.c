/*  test_identity.c: a node name belongs to one live segq-worker, with real
    segqd and segq-worker processes.

    - a second daemon started with the node name of a live one is refused
      (by the broker when it has its own work directory, at start when it
      shares the first one's) and exits with a message that says what to
      do; the first keeps its jobs and registers once: no flapping, no job
      lost;
    - a daemon restarted after a kill -9 takes its name back at once (it
      keeps its id in its work directory); another daemon takes the name
      once the old one has expired or said BYE. */
#define _GNU_SOURCE
#include <criterion/criterion.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "harness.h"

static harness_t *h;

static void
setup (void)
{
    h = harness_new ("identity");
    cr_assert_not_null (h);
    h->heartbeat_ms = 300;
    h->expiry_ms = 2000;
    cr_assert_eq (harness_start_broker (h, NULL), 0, "segqd did not start");
}

static void
teardown (void)
{
    harness_destroy (&h);
}

static void
s_submit_sleep (const char *seconds, char job [SEGQ_JOB_ID_MAX])
{
    char err [1024];
    const char *argv [] = { "submit", "sleep", "--seconds", seconds, NULL };
    H_ASSERT (h, harness_submit (h, argv, job, SEGQ_JOB_ID_MAX, err, sizeof err) == 0, "%s", err);
}

static void
s_wait_succeeded (segq_client_t *c, const char *job)
{
    segq_job_info_t info;
    H_ASSERT (h, harness_wait_final (c, job, 60000, &info) == 0, "job %s did not end", job);
    H_ASSERT (h, info.state == SEGQ_JOB_SUCCEEDED, "job %s is %s: %s", job,
              segq_job_state_name (info.state), info.reason ? info.reason : "");
    segq_job_info_clear (&info);
}

/* Runs `segq-worker --node w1 --work-dir WORK ...` to its exit (at most
   15 s: a refused worker must leave by itself); its output goes to log.
   Returns its wait status. */
static int
s_run_worker (const char *work, const char *log)
{
    char cache [700];
    snprintf (cache, sizeof cache, "%s/cache", work);
    const char *argv [] = { harness_binary ("segq-worker"),
                            "--broker",
                            h->endpoint,
                            "--node",
                            "w1",
                            "--cpu-slots",
                            "1",
                            "--work-dir",
                            work,
                            "--cache-dir",
                            cache,
                            NULL };
    pid_t pid = fork ();
    cr_assert_geq (pid, 0);
    if (pid == 0) {
        prctl (PR_SET_PDEATHSIG, SIGKILL);
        int fd = open (log, O_WRONLY | O_CREAT | O_TRUNC, 0644);
        dup2 (fd, 1);
        dup2 (fd, 2);
        execv (argv [0], (char *const *) argv);
        _exit (127);
    }
    int status = 0;
    for (int i = 0; i < 1500; i++) {
        if (waitpid (pid, &status, WNOHANG) == pid)
            return status;
        harness_sleep_ms (10);
    }
    kill (pid, SIGKILL);
    waitpid (pid, &status, 0);
    harness_dump_logs (h);
    cr_assert_fail ("the second worker w1 did not leave within 15 s");
    return -1;
}

static char *
s_slurp (const char *path, char *buf, size_t len)
{
    FILE *file = fopen (path, "r");
    size_t n = file ? fread (buf, 1, len - 1, file) : 0;
    buf [n] = 0;
    if (file)
        fclose (file);
    return buf;
}

static int
s_count (const char *text, const char *what)
{
    int n = 0;
    for (const char *p = strstr (text, what); p; p = strstr (p + 1, what))
        n++;
    return n;
}

Test (identity, second_live_worker_with_the_same_name_is_refused, .init = setup, .fini = teardown,
      .timeout = 120)
{
    cr_assert_eq (harness_start_worker (h, "w1", 1, NULL), 0);
    segq_client_t *c = harness_client (h, 10000);
    enum { N = 8 };
    char jobs [N][SEGQ_JOB_ID_MAX];
    for (int i = 0; i < N; i++)
        s_submit_sleep ("0.4", jobs [i]);

    /* its own work directory: the broker refuses it */
    static char log [1 << 16];
    char work [600], out [600];
    snprintf (work, sizeof work, "%s/work-w1-again", h->dir);
    snprintf (out, sizeof out, "%s/worker-w1-again.log", h->dir);
    int status = s_run_worker (work, out);
    s_slurp (out, log, sizeof log);
    H_ASSERT (h, WIFEXITED (status) && WEXITSTATUS (status) == 1, "status %d: %s", status, log);
    H_ASSERT (h,
              strstr (log, "refused node w1: node name w1 is taken by another live worker")
                  && strstr (log, "use --node NAME to give each worker on one host its own name"),
              "%s", log);

    /* the first one's work directory, given: refused at start, naming its
       pid and the cause (another --node would not help) */
    status = s_run_worker (h->workers [0].work_dir, out);
    s_slurp (out, log, sizeof log);
    char pid [64];
    snprintf (pid, sizeof pid, "(pid %d)", (int) h->workers [0].pid);
    H_ASSERT (h, WIFEXITED (status) && WEXITSTATUS (status) == 1, "status %d: %s", status, log);
    H_ASSERT (h,
              strstr (log, "is in use by another segq-worker") && strstr (log, pid)
                  && strstr (log, "its own --work-dir DIR") && !strstr (log, "--node"),
              "%s", log);

    for (int i = 0; i < N; i++)
        s_wait_succeeded (c, jobs [i]);
    segq_client_destroy (&c);
    /* no flapping: the first registered once and kept its jobs */
    s_slurp (h->broker_log, log, sizeof log);
    H_ASSERT (h, s_count (log, "worker w1 registered") == 1, "w1 registered %d times",
              s_count (log, "worker w1 registered"));
    H_ASSERT (h, s_count (log, "refused REGISTER of node w1") == 1, "%s", log);
    H_ASSERT_CLEAN_STOP (h);
}

Test (identity, restarted_worker_takes_its_name_back, .init = setup, .fini = teardown,
      .timeout = 120)
{
    cr_assert_eq (harness_start_worker (h, "w1", 1, NULL), 0);
    segq_client_t *c = harness_client (h, 10000);
    char job [SEGQ_JOB_ID_MAX];
    s_submit_sleep ("1", job);
    H_ASSERT (h, harness_wait_state (c, job, SEGQ_JOB_RUNNING, 10000) == 0, "job never ran");

    /* kill -9 and start again on its work directory: the same daemon to
       the broker, at once (well within the expiry); the job it no longer
       holds is requeued and runs again */
    harness_signal_worker (h, 0, SIGKILL);
    H_ASSERT (h, harness_start_worker (h, "w1", 1, NULL) == 1, "restarted w1 was refused");
    s_wait_succeeded (c, job);

    /* kill -9, and another daemon (its own work directory) once the
       broker has declared w1 lost */
    harness_signal_worker (h, 1, SIGKILL);
    static char log [1 << 16];
    for (int i = 0; i < 500 && !strstr (s_slurp (h->broker_log, log, sizeof log), "worker w1 lost");
         i++)
        harness_sleep_ms (20);
    H_ASSERT (h, strstr (log, "worker w1 lost"), "the broker never declared w1 lost");
    char work [600], cache [600];
    snprintf (work, sizeof work, "%s/work-w1-other", h->dir);
    snprintf (cache, sizeof cache, "%s/cache-w1-other", h->dir);
    const char *other [] = { "--work-dir", work, "--cache-dir", cache, NULL };
    H_ASSERT (h, harness_start_worker (h, "w1", 1, other) == 2, "w1 after expiry was refused");
    s_submit_sleep ("0.2", job);
    s_wait_succeeded (c, job);

    /* it leaves (BYE), and yet another daemon takes the name at once */
    harness_signal_worker (h, 2, SIGTERM);
    for (int i = 0; i < 500 && harness_worker_alive (h, 2); i++)
        harness_sleep_ms (20);
    H_ASSERT (h, !harness_worker_alive (h, 2), "w1 did not leave on SIGTERM");
    snprintf (work, sizeof work, "%s/work-w1-third", h->dir);
    snprintf (cache, sizeof cache, "%s/cache-w1-third", h->dir);
    H_ASSERT (h, harness_start_worker (h, "w1", 1, other) == 3, "w1 after BYE was refused");
    s_submit_sleep ("0.2", job);
    s_wait_succeeded (c, job);
    segq_client_destroy (&c);
    s_slurp (h->broker_log, log, sizeof log);
    H_ASSERT (h, !strstr (log, "refused REGISTER"), "%s", log);
    H_ASSERT_CLEAN_STOP (h);
}
