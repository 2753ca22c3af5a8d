/*  test_slurm_scale.c: `segq slurm-scale` against a real Slurm.

    tests/slurm/cluster.sh starts munge and a one-node Slurm (slurmctld,
    slurmd) with four fake GPUs as GRES; the harness starts segqd; the
    test starts the autoscaler with a template of two GPUs of 16 GiB per
    worker (declared from Slurm's CUDA_VISIBLE_DEVICES: there is no CUDA
    here). A job of someone else holds GPU 0 the whole time, so Slurm hands
    the workers other indices than their own 0 and 1.

    1. Two jobs of 10 GiB each, no worker anywhere: one worker job is
       submitted (both fit it), its worker runs them on its two GPUs, and
       each job's child saw as CUDA_VISIBLE_DEVICES the GRES index Slurm
       gave that GPU (`scontrol show job -d`). The figure: from submit to
       running, on the broker's clock.
    2. The queue empty, the worker is drained after idle_grace and its
       Slurm job completes with exit code 0 (ASan: no leak in the worker).
    3. A job running on a new worker whose Slurm job is scancel'ed: the
       attempt comes back to the queue, another worker job starts, the job
       succeeds as attempt 2, and the journal shows attempts 1 and 2, each
       once; it never failed.

    The broker has keys, as on a lab's network: the autoscaler holds an
    admin's certificate (it drains workers), the workers one pool
    certificate segq-test-* (each registers as segq-test-JOBID), the jobs
    are alice's.

    Runs as root with slurm-wlm and munge installed (deploy/deps.sh); fails
    saying so otherwise. */
#define _GNU_SOURCE
#include <criterion/criterion.h>
#include <errno.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "harness.h"
#include "lab_keys.h"

#define JOB_NAME "segq-test"

static harness_t *h;
static char s_keys [600], s_certs [700], s_broker_key [700]; /* the lab's, lab_keys.h */
static char s_cluster [600];                                 /* the cluster's folder */
static pid_t s_scaler;                                       /* the autoscaler */
static char s_scaler_log [600];

/* Runs a shell command; its stdout (cut to len) in out. The exit status. */
static int s_sh (char *out, size_t len, const char *fmt, ...)
    __attribute__ ((format (printf, 3, 4)));

static int
s_sh (char *out, size_t len, const char *fmt, ...)
{
    char cmd [2048];
    va_list ap;
    va_start (ap, fmt);
    vsnprintf (cmd, sizeof cmd, fmt, ap);
    va_end (ap);
    FILE *p = popen (cmd, "r");
    if (!p)
        return -1;
    size_t used = 0, n;
    char scratch [4096];
    while ((n = fread (used + 1 < len ? out + used : scratch, 1,
                       used + 1 < len ? len - 1 - used : sizeof scratch, p))
           > 0)
        used += used + 1 < len ? n : 0;
    if (len)
        out [used] = 0;
    int status = pclose (p);
    return WIFEXITED (status) ? WEXITSTATUS (status) : -1;
}

static double
s_now (void)
{
    struct timespec ts;
    clock_gettime (CLOCK_MONOTONIC, &ts);
    return (double) ts.tv_sec + (double) ts.tv_nsec / 1e9;
}

static void
s_dump (void)
{
    char out [16384];
    harness_dump_logs (h);
    s_sh (out, sizeof out,
          "tail -c 6000 %s; squeue -a; tail -n 30 %s/log/slurmctld.log; "
          "tail -c 3000 %s/worker-*.out 2>/dev/null",
          s_scaler_log, s_cluster, h->dir);
    fprintf (stderr, "---- autoscaler, squeue, slurmctld, worker jobs ----\n%s\n", out);
}

#define S_ASSERT(cond, ...)                                                                        \
    do {                                                                                           \
        if (!(cond)) {                                                                             \
            s_dump ();                                                                             \
            cr_assert_fail (__VA_ARGS__);                                                          \
        }                                                                                          \
    } while (0)

/* ---- Slurm, as the test sees it ---- */

/* The ids of the autoscaler's Slurm jobs (pending, running, ending). */
static size_t
s_own_jobs (unsigned long ids [8])
{
    char out [1024];
    if (s_sh (out, sizeof out, "squeue --me -h -n %s -o %%i", JOB_NAME) != 0)
        return 0;
    size_t n = 0;
    for (char *line = strtok (out, "\n"); line && n < 8; line = strtok (NULL, "\n"))
        ids [n++] = strtoul (line, NULL, 10);
    return n;
}

/* Waits until the autoscaler has no Slurm job left. */
static bool
s_wait_no_own_jobs (int timeout_s)
{
    unsigned long ids [8];
    for (double end = s_now () + timeout_s; s_now () < end; harness_sleep_ms (200))
        if (s_own_jobs (ids) == 0)
            return true;
    return false;
}

/* A field of `scontrol show job -d ID` ("JobState", "ExitCode", "IDX"). */
static bool
s_job_field (unsigned long id, const char *key, char *value, size_t len)
{
    char out [8192], pattern [64];
    if (s_sh (out, sizeof out, "scontrol show job -d %lu", id) != 0)
        return false;
    snprintf (pattern, sizeof pattern, "%s%s", key, strcmp (key, "IDX") ? "=" : ":");
    const char *at = strstr (out, pattern);
    if (!at)
        return false;
    at += strlen (pattern);
    snprintf (value, len, "%.*s", (int) strcspn (at, " )\n"), at);
    return true;
}

/* The GRES indices of a Slurm job, in order ("1-2" or "1,3"). */
static size_t
s_gres_indices (unsigned long id, int out [4])
{
    char idx [64];
    if (!s_job_field (id, "IDX", idx, sizeof idx))
        return 0;
    size_t n = 0;
    for (char *part = strtok (idx, ","); part && n < 4; part = strtok (NULL, ",")) {
        int first = atoi (part), last = strchr (part, '-') ? atoi (strchr (part, '-') + 1) : first;
        for (int i = first; i <= last && n < 4; i++)
            out [n++] = i;
    }
    return n;
}

static unsigned long
s_slurm_job_of (const char *node)
{
    size_t len = strlen (JOB_NAME "-");
    return strncmp (node, JOB_NAME "-", len) == 0 ? strtoul (node + len, NULL, 10) : 0;
}

/* Waits for a Slurm job's state to start with `state`. */
static bool
s_wait_slurm_state (unsigned long id, const char *state, int timeout_s)
{
    char value [64];
    for (double end = s_now () + timeout_s; s_now () < end; harness_sleep_ms (200))
        if (s_job_field (id, "JobState", value, sizeof value) && !strcmp (value, state))
            return true;
    return false;
}

/* ---- the cluster, the autoscaler ---- */

static void
s_start_cluster (void)
{
    char out [1024], script [600];
    snprintf (s_cluster, sizeof s_cluster, "%s/slurm", h->dir);
    snprintf (script, sizeof script, "%s/tests/slurm/cluster.sh", SEGQ_SOURCE_DIR);
    int rc = s_sh (out, sizeof out, "bash %s start %s %d", script, s_cluster, (int) getpid ());
    cr_assert_eq (rc, 0,
                  "the test Slurm did not start (run as root with slurm-wlm and munge "
                  "installed: deploy/deps.sh): %s",
                  out);
    out [strcspn (out, "\n")] = 0;
    cr_assert_eq (setenv ("SLURM_CONF", out, 1), 0);
    /* someone else's job on GPU 0: the workers get other indices */
    unsigned long blocker = 0;
    cr_assert_eq (s_sh (out, sizeof out,
                        "sbatch --parsable --job-name=other --gres=gpu:1 "
                        "-o /dev/null --wrap 'sleep 600'"),
                  0, "sbatch: %s", out);
    blocker = strtoul (out, NULL, 10);
    cr_assert (s_wait_slurm_state (blocker, "RUNNING", 30), "the other job never ran");
    int idx [4];
    cr_assert (s_gres_indices (blocker, idx) == 1 && idx [0] == 0, "the other job is not on GPU 0");
}

static void
s_write_config (char *path, size_t len)
{
    snprintf (path, len, "%s/slurm-scale.conf", h->dir);
    FILE *f = fopen (path, "w");
    cr_assert_not_null (f);
    fprintf (f,
             "# the test's template: two fake 16 GiB GPUs per worker\n"
             "max_workers = 2\nsubmit_per_round = 2\npoll = 300ms\nidle_grace = 4s\n"
             "pending_grace = 60s\nstart_timeout = 60s\njob_name = " JOB_NAME "\n"
             "gres = gpu:2\ngpu_mem = 16G\ndeclare_gpus = yes\ngpu_name = fake\n"
             "cpus_per_task = 1\ncpu_slots = 1\nkinds = sleep\noutput = %s/worker-%%j.out\n"
             "work_dir = %s/work-@NODE@\n"
             "worker = %s --broker @BROKER@ --node @NODE@ --work-dir @WORKDIR@ --cpu-slots @CPUS@ "
             "@GPUS@ @KINDS@ --kill-grace-ms 1000 --model-cache 0 -v\n"
             "# keys: the autoscaler is an admin (it drains), the workers share a pool "
             "certificate\ncert = %s/root.cert\nbroker_key = %s\n"
             "worker_cert = %s/" JOB_NAME "-*.cert\nworker_broker_key = %s\n",
             h->dir, h->dir, harness_binary ("segq-worker"), s_certs, s_broker_key, s_certs,
             s_broker_key);
    cr_assert_eq (fclose (f), 0);
}

/* The autoscaler, its output in its log; the workers it starts inherit
   its environment through sbatch: the journal, SLURM_CONF. */
static void
s_start_scaler (void)
{
    char config [600];
    s_write_config (config, sizeof config);
    snprintf (s_scaler_log, sizeof s_scaler_log, "%s/slurm-scale.log", h->dir);
    const char *segq = harness_binary ("segq");
    pid_t parent = getpid ();
    s_scaler = fork ();
    cr_assert_geq (s_scaler, 0);
    if (s_scaler == 0) {
        prctl (PR_SET_PDEATHSIG, SIGKILL);
        if (getppid () != parent)
            _exit (127);
        FILE *log = freopen (s_scaler_log, "a", stdout);
        if (!log || dup2 (STDOUT_FILENO, STDERR_FILENO) < 0)
            _exit (127);
        setenv ("SEGQ_TEST_JOURNAL", h->journal, 1);
        execl (segq, segq, "--broker", h->endpoint, "slurm-scale", "--config", config,
               (char *) NULL);
        _exit (127);
    }
}

/* SIGTERM: it must stop at once and cleanly (ASan checks it for leaks). */
static void
s_stop_scaler (void)
{
    int status = 0;
    kill (s_scaler, SIGTERM);
    double end = s_now () + 10;
    pid_t got = 0;
    while ((got = waitpid (s_scaler, &status, WNOHANG)) == 0 && s_now () < end)
        harness_sleep_ms (50);
    if (got != s_scaler)
        kill (s_scaler, SIGKILL);
    pid_t pid = s_scaler;
    s_scaler = 0;
    S_ASSERT (got == pid && WIFEXITED (status) && WEXITSTATUS (status) == 0,
              "segq slurm-scale did not exit 0 after SIGTERM (status %#x)", status);
}

static void
setup (void)
{
    h = harness_new ("slurm");
    cr_assert_not_null (h);
    h->heartbeat_ms = 300;
    h->expiry_ms = 3000;
    lab_keys_make (h->dir, s_keys, sizeof s_keys, s_certs, sizeof s_certs, s_broker_key,
                   sizeof s_broker_key);
    lab_cert (s_certs, JOB_NAME "-*", "worker");
    const char *extra [] = { "--keys", s_keys, NULL };
    cr_assert_eq (harness_start_broker (h, extra), 0, "segqd did not start with --keys");
    s_start_cluster ();
}

static void
teardown (void)
{
    char out [4096];
    if (s_scaler > 0) {
        kill (s_scaler, SIGKILL);
        waitpid (s_scaler, NULL, 0);
    }
    if (*s_cluster)
        s_sh (out, sizeof out, "bash %s/tests/slurm/cluster.sh stop %s", SEGQ_SOURCE_DIR,
              s_cluster);
    harness_destroy (&h);
}

/* ---- jobs ---- */

static void
s_submit_gpu_sleep (segq_client_t *c, const char *seconds, char job [SEGQ_JOB_ID_MAX])
{
    segq_job_spec_t *spec = segq_job_spec_new ("sleep");
    char err [256];
    cr_assert_eq (segq_job_spec_param (spec, "seconds", seconds, err, sizeof err), 0, "%s", err);
    segq_job_spec_set_gpu_mem (spec, 10ull << 30);
    S_ASSERT (segq_client_submit (c, spec, job, SEGQ_JOB_ID_MAX) == 0, "%s", segq_client_error (c));
    segq_job_spec_destroy (&spec);
}

/* What the job's child said it was given, from its log. */
static bool
s_job_device (segq_client_t *c, const char *job, char *device, size_t len)
{
    static const char key [] = "gpu: CUDA_VISIBLE_DEVICES=";
    for (double end = s_now () + 15; s_now () < end; harness_sleep_ms (100)) {
        segq_log_chunk_t chunk;
        if (segq_client_logs (c, job, 0, 65536, &chunk) != 0)
            continue;
        char text [65537];
        if (chunk.size)
            memcpy (text, chunk.data, chunk.size);
        text [chunk.size] = 0;
        segq_log_chunk_clear (&chunk);
        const char *at = strstr (text, key);
        if (at) {
            at += strlen (key);
            snprintf (device, len, "%.*s", (int) strcspn (at, "\n"), at);
            return true;
        }
    }
    return false;
}

/* The job ran on a worker of the autoscaler: its GPU's device is the GRES
   index Slurm gave that GPU. The Slurm job's id. */
static unsigned long
s_check_placement (segq_client_t *c, const char *job)
{
    segq_job_info_t info;
    S_ASSERT (segq_client_job (c, job, false, &info) == 0, "%s", segq_client_error (c));
    unsigned long slurm = info.worker ? s_slurm_job_of (info.worker) : 0;
    S_ASSERT (slurm && info.gpu >= 0 && info.gpu < 2, "job %s runs on %s, GPU %d", job,
              info.worker ? info.worker : "(none)", info.gpu);
    int idx [4];
    size_t n = s_gres_indices (slurm, idx);
    S_ASSERT (n == 2 && idx [0] != 0 && idx [1] != 0,
              "Slurm job %lu: %zu GRES indices, expected 2 other than the other job's 0", slurm, n);
    char device [64], want [16];
    S_ASSERT (s_job_device (c, job, device, sizeof device), "job %s never said its device", job);
    snprintf (want, sizeof want, "%d", idx [info.gpu]);
    S_ASSERT (strcmp (device, want) == 0,
              "job %s on worker GPU %d saw CUDA_VISIBLE_DEVICES=%s; Slurm gave that GPU index %s",
              job, info.gpu, device, want);
    segq_job_info_clear (&info);
    return slurm;
}

static void
s_wait_succeeded (segq_client_t *c, const char *job, uint32_t attempt)
{
    segq_job_info_t info;
    S_ASSERT (harness_wait_final (c, job, 90000, &info) == 0, "job %s did not end", job);
    S_ASSERT (info.state == SEGQ_JOB_SUCCEEDED && info.attempt == attempt,
              "job %s is %s after attempt %u (expected succeeded, attempt %u): %s", job,
              segq_job_state_name (info.state), info.attempt, attempt,
              info.reason ? info.reason : "");
    segq_job_info_clear (&info);
}

/* The worker of Slurm job `slurm` was drained after idle_grace: its job
   completed, exit code 0. */
static void
s_check_drained (unsigned long slurm)
{
    S_ASSERT (s_wait_no_own_jobs (45), "the idle worker's Slurm job is still there");
    char state [64] = "", code [64] = "";
    s_job_field (slurm, "JobState", state, sizeof state);
    s_job_field (slurm, "ExitCode", code, sizeof code);
    S_ASSERT (!strcmp (state, "COMPLETED") && !strcmp (code, "0:0"),
              "Slurm job %lu of a drained worker ended %s, exit code %s", slurm, state, code);
    S_ASSERT (harness_wait_text (s_scaler_log, "draining it", 1000) == 0,
              "the autoscaler never said it drained a worker");
}

/* ---- the test ---- */

/* Phase 1: the figure, from submit to running on a worker Slurm started. */
static unsigned long
s_phase_start (segq_client_t *c)
{
    char a [SEGQ_JOB_ID_MAX], b [SEGQ_JOB_ID_MAX];
    s_submit_gpu_sleep (c, "3", a);
    s_submit_gpu_sleep (c, "3", b);
    S_ASSERT (harness_wait_state (c, a, SEGQ_JOB_RUNNING, 60000) == 0, "job %s never ran", a);
    S_ASSERT (harness_wait_state (c, b, SEGQ_JOB_RUNNING, 60000) == 0, "job %s never ran", b);
    unsigned long slurm = s_check_placement (c, a);
    S_ASSERT (s_check_placement (c, b) == slurm, "two worker jobs for jobs one worker holds");
    unsigned long ids [8];
    S_ASSERT (s_own_jobs (ids) == 1, "more than one worker job was submitted");
    for (int i = 0; i < 2; i++) {
        segq_job_info_t info;
        S_ASSERT (segq_client_job (c, i ? b : a, false, &info) == 0, "%s", segq_client_error (c));
        printf ("slurm-scale figure: job %s waiting -> running on Slurm-launched worker %s: "
                "%.2f s\n",
                info.id, info.worker, info.started - info.created);
        segq_job_info_clear (&info);
    }
    fflush (stdout);
    s_wait_succeeded (c, a, 1);
    s_wait_succeeded (c, b, 1);
    return slurm;
}

/* Phase 3: scancel of a worker mid-job loses nothing. */
static void
s_phase_scancel (segq_client_t *c)
{
    char job [SEGQ_JOB_ID_MAX];
    s_submit_gpu_sleep (c, "8", job);
    S_ASSERT (harness_wait_journal (h, job, 1, 60000) == 0, "attempt 1 never started");
    unsigned long first = s_check_placement (c, job);
    char out [1024];
    S_ASSERT (s_sh (out, sizeof out, "scancel %lu 2>&1", first) == 0, "scancel: %s", out);
    S_ASSERT (harness_wait_journal (h, job, 2, 60000) == 0, "attempt 2 never started");
    unsigned long second = s_check_placement (c, job);
    S_ASSERT (second != first, "attempt 2 ran on the cancelled worker job %lu", first);
    s_wait_succeeded (c, job, 2);
    segq_job_info_t info;
    S_ASSERT (segq_client_job (c, job, true, &info) == 0, "%s", segq_client_error (c));
    for (size_t i = 0; i < info.n_history; i++)
        S_ASSERT (info.history [i].state != SEGQ_JOB_FAILED, "job %s failed on the way: %s", job,
                  info.history [i].reason ? info.history [i].reason : "");
    segq_job_info_clear (&info);
    size_t n;
    int dups = 0;
    h_journal_entry_t *j = harness_journal (h, &n);
    uint64_t set = harness_journal_attempts (j, n, job, &dups);
    free (j);
    S_ASSERT (dups == 0 && set == ((1ull << 1) | (1ull << 2)),
              "journal of %s: attempts %#llx, %d run twice", job, (unsigned long long) set, dups);
    s_check_drained (second);
}

Test (slurm, workers_come_and_go_with_the_queue, .init = setup, .fini = teardown, .timeout = 240)
{
    double t0 = s_now ();
    s_start_scaler ();
    segq_client_t *c = lab_client (h->endpoint, s_certs, s_broker_key, "alice");
    unsigned long first = s_phase_start (c);
    s_check_drained (first);
    s_phase_scancel (c);
    segq_client_destroy (&c);
    s_stop_scaler ();
    printf ("slurm-scale test: %.1f s with the cluster up\n", s_now () - t0);
    H_ASSERT_CLEAN_STOP (h);
}
