/*  segq-testkind: the child program of the test job kinds.

        segq-testkind sleep --seconds=F
        segq-testkind echo
        segq-testkind fail [--mode=exit|signal|crash] [--code=N] [--signal=N]

    They exercise the queue without ML: `sleep` reports progress on
    SEGQ_PROGRESS_FD, `echo` copies every input (every file under the
    current directory but out/) to $SEGQ_OUTPUT_DIR under its artifact
    name: the path in the job's directory, less the directory of a
    many-file input ("files/a.txt" -> "a.txt"), so names stay intact from
    one job to the next; `fail` exits non-zero, dies by a signal, or
    crashes (abort).
    Parameters come as --name=value, checked against the schema table.
    If SEGQ_TEST_JOURNAL is set, "JOBID ATTEMPT\n" is appended to it (one
    O_APPEND write) when the work starts: tests count executions with it.
    A GPU job first prints the device it was given ("gpu:
    CUDA_VISIBLE_DEVICES=2"), which tests check against the allocation
    behind the worker's GPU (Slurm's GRES index).
*/
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>
#include "segq_schema.h"

static int
s_usage (const char *problem)
{
    fprintf (stderr,
             "segq-testkind: %s\n"
             "usage: segq-testkind sleep|echo|fail [--name=value ...]\n"
             "  (run by segq-worker for the test job kinds; see `segq submit --help`)\n",
             problem);
    return 2;
}

static int
s_journal (void)
{
    const char *path = getenv ("SEGQ_TEST_JOURNAL");
    if (!path || !*path)
        return 0;
    const char *job = getenv ("SEGQ_JOB_ID");
    const char *attempt = getenv ("SEGQ_JOB_ATTEMPT");
    char line [512];
    int len = snprintf (line, sizeof line, "%s %s\n", job ? job : "?", attempt ? attempt : "?");
    int fd = open (path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0644);
    if (fd < 0 || write (fd, line, (size_t) len) != len) {
        fprintf (stderr, "segq-testkind: cannot append to journal %s: %s\n", path,
                 strerror (errno));
        if (fd >= 0)
            close (fd);
        return 1;
    }
    close (fd);
    return 0;
}

static void
s_say_gpu (void)
{
    const char *visible = getenv ("CUDA_VISIBLE_DEVICES");
    if (getenv ("SEGQ_GPU_MEM") && visible)
        printf ("gpu: CUDA_VISIBLE_DEVICES=%s\n", visible);
}

static FILE *
s_progress_stream (void)
{
    const char *text = getenv ("SEGQ_PROGRESS_FD");
    if (!text)
        return NULL;
    char *end;
    long fd = strtol (text, &end, 10);
    if (*end || fd < 0 || fd > 1024)
        return NULL;
    return fdopen ((int) fd, "w");
}

/* A GPU job's memory peak as a real job reports it (metric
   gpu_peak_bytes): here half of what it declared, so tests can check it
   reaches the accounting. */
static double
s_gpu_peak (void)
{
    const char *declared = getenv ("SEGQ_GPU_MEM");
    return declared ? strtod (declared, NULL) / 2 : 0;
}

/* Waits `step` seconds: asleep, or spinning on the CPU. */
static void
s_pass (double step, bool busy)
{
    if (!busy) {
        struct timespec ts = { (time_t) step, (long) ((step - (double) (time_t) step) * 1e9) };
        nanosleep (&ts, NULL);
        return;
    }
    struct timespec start, now;
    clock_gettime (CLOCK_MONOTONIC, &start);
    do
        clock_gettime (CLOCK_MONOTONIC, &now);
    while ((double) (now.tv_sec - start.tv_sec) + (double) (now.tv_nsec - start.tv_nsec) / 1e9
           < step);
}

static int
s_sleep (const segq_params_t *params)
{
    double seconds = segq_params_get (params, "seconds")->f;
    bool busy = segq_params_get (params, "busy")->b;
    double gpu_peak = s_gpu_peak ();
    FILE *progress = s_progress_stream ();
    printf ("sleeping %g s\n", seconds);
    fflush (stdout);
    struct timespec start;
    clock_gettime (CLOCK_MONOTONIC, &start);
    double elapsed = 0;
    for (;;) {
        if (progress) {
            char peak [64] = "";
            if (gpu_peak > 0)
                snprintf (peak, sizeof peak, ",\"gpu_peak_bytes\":%.0f", gpu_peak);
            fprintf (progress,
                     "{\"phase\":\"sleeping\",\"fraction\":%.4f,"
                     "\"metrics\":{\"elapsed_s\":%.3f%s},\"message\":\"%.1f of %g s\"}\n",
                     seconds > 0 ? elapsed / seconds : 1.0, elapsed, peak, elapsed, seconds);
            fflush (progress);
        }
        if (elapsed >= seconds)
            break;
        s_pass (seconds - elapsed < 0.1 ? seconds - elapsed : 0.1, busy);
        struct timespec now;
        clock_gettime (CLOCK_MONOTONIC, &now);
        elapsed =
            (double) (now.tv_sec - start.tv_sec) + (double) (now.tv_nsec - start.tv_nsec) / 1e9;
        if (elapsed > seconds)
            elapsed = seconds;
    }
    if (progress)
        fclose (progress);
    printf ("slept %g s\n", seconds);
    return 0;
}

static int
s_copy (const char *src, const char *dst)
{
    FILE *in = fopen (src, "rb");
    FILE *out = in ? fopen (dst, "wb") : NULL;
    int rc = 0;
    if (!in || !out) {
        fprintf (stderr, "segq-testkind: cannot copy %s to %s: %s\n", src, dst, strerror (errno));
        rc = 1;
    }
    char buf [65536];
    size_t n;
    while (!rc && (n = fread (buf, 1, sizeof buf, in)) > 0)
        if (fwrite (buf, 1, n, out) != n)
            rc = 1;
    if (in && ferror (in))
        rc = 1;
    if (in)
        fclose (in);
    if (out && fclose (out) != 0)
        rc = 1;
    if (rc)
        fprintf (stderr, "segq-testkind: copying %s to %s failed\n", src, dst);
    return rc;
}

/* mkdir -p of the directories above path */
static int
s_make_parents (const char *path)
{
    char buf [8192];
    snprintf (buf, sizeof buf, "%s", path);
    for (char *p = buf + 1; *p; p++)
        if (*p == '/') {
            *p = 0;
            if (mkdir (buf, 0700) != 0 && errno != EEXIST) {
                fprintf (stderr, "segq-testkind: cannot create %s: %s\n", buf, strerror (errno));
                return 1;
            }
            *p = '/';
        }
    return 0;
}

/* The artifact name of an input laid out at `path`. */
static const char *
s_artifact_name (const segq_kind_spec_t *kind, const char *path)
{
    for (size_t i = 0; i < kind->n_inputs; i++) {
        size_t len = strlen (kind->inputs [i].name);
        if (kind->inputs [i].many && strncmp (path, kind->inputs [i].name, len) == 0
            && path [len] == '/')
            return path + len + 1;
    }
    return path;
}

/* Copy every regular file under `rel` (relative to cwd) to outdir under
   its artifact name. */
static int
s_echo_dir (const segq_kind_spec_t *kind, const char *rel, const char *outdir, int *copied)
{
    DIR *dir = opendir (*rel ? rel : ".");
    if (!dir) {
        fprintf (stderr, "segq-testkind: cannot list %s: %s\n", *rel ? rel : ".", strerror (errno));
        return 1;
    }
    int rc = 0;
    struct dirent *entry;
    while (!rc && (entry = readdir (dir))) {
        const char *leaf = entry->d_name;
        if (strcmp (leaf, ".") == 0 || strcmp (leaf, "..") == 0
            || (!*rel && strcmp (leaf, "out") == 0))
            continue;
        char path [4096], dst [8192];
        snprintf (path, sizeof path, "%s%s%s", rel, *rel ? "/" : "", leaf);
        snprintf (dst, sizeof dst, "%s/%s", outdir, s_artifact_name (kind, path));
        struct stat st;
        if (lstat (path, &st) != 0)
            continue;
        if (S_ISDIR (st.st_mode))
            rc = s_echo_dir (kind, path, outdir, copied);
        else if (S_ISREG (st.st_mode)) {
            rc = s_make_parents (dst) || s_copy (path, dst);
            if (!rc) {
                printf ("copied %s to out/%s\n", path, s_artifact_name (kind, path));
                (*copied)++;
            }
        }
    }
    closedir (dir);
    return rc;
}

static int
s_echo (const segq_kind_spec_t *kind)
{
    const char *outdir = getenv ("SEGQ_OUTPUT_DIR");
    if (!outdir || !*outdir)
        outdir = "out";
    if (mkdir (outdir, 0700) != 0 && errno != EEXIST) {
        fprintf (stderr, "segq-testkind: cannot create %s: %s\n", outdir, strerror (errno));
        return 1;
    }
    int copied = 0;
    int rc = s_echo_dir (kind, "", outdir, &copied);
    printf ("echo: %d file(s)\n", copied);
    return rc;
}

static int
s_fail (const segq_params_t *params)
{
    const char *mode = segq_params_get (params, "mode")->s;
    int code = (int) segq_params_get (params, "code")->i;
    int sig = (int) segq_params_get (params, "signal")->i;
    fflush (stdout);
    if (strcmp (mode, "crash") == 0) {
        fprintf (stderr, "segq-testkind: crashing as asked (abort)\n");
        signal (SIGABRT, SIG_DFL);
        abort ();
    }
    if (strcmp (mode, "signal") == 0) {
        fprintf (stderr, "segq-testkind: dying by signal %d as asked\n", sig);
        signal (sig, SIG_DFL);
        sigset_t set;
        sigemptyset (&set);
        sigaddset (&set, sig);
        sigprocmask (SIG_UNBLOCK, &set, NULL);
        raise (sig);
        /* Signals whose default action is to ignore them land here. */
        fprintf (stderr, "segq-testkind: signal %d did not end the process; exiting %d\n", sig,
                 code);
        return code;
    }
    fprintf (stderr, "segq-testkind: failing with exit code %d as asked\n", code);
    return code;
}

int
main (int argc, char **argv)
{
    setvbuf (stdout, NULL, _IOLBF, 0);
    if (argc < 2)
        return s_usage ("which test kind?");
    const segq_kind_spec_t *kind = segq_kind_find (argv [1]);
    if (!kind || !kind->test_kind || kind->in_process) {
        char msg [300];
        snprintf (msg, sizeof msg,
                  "'%.200s' is not a test kind run by a child "
                  "(sleep, echo, fail)",
                  argv [1]);
        return s_usage (msg);
    }
    segq_params_t params = { 0 };
    char err [512];
    int rc = 0;
    for (int i = 2; i < argc && !rc; i++) {
        const char *arg = argv [i];
        const char *eq = strchr (arg, '=');
        if (strncmp (arg, "--", 2) != 0 || !eq) {
            snprintf (err, sizeof err, "argument '%.200s' is not --name=value", arg);
            rc = s_usage (err);
            break;
        }
        char name [256];
        snprintf (name, sizeof name, "%.*s", (int) (eq - arg - 2), arg + 2);
        const segq_param_spec_t *spec = segq_kind_param (kind, name);
        segq_value_t value;
        if (!spec) {
            snprintf (err, sizeof err, "%s has no parameter '%s'", kind->name, name);
            rc = s_usage (err);
        } else if (segq_param_parse (spec, eq + 1, &value, err, sizeof err) != 0)
            rc = s_usage (err);
        else {
            if (segq_params_set (&params, name, &value) != 0)
                rc = s_usage ("out of memory");
            segq_value_clear (&value);
        }
    }
    if (!rc && segq_params_validate (kind, &params, err, sizeof err) != 0)
        rc = s_usage (err);
    if (!rc)
        rc = s_journal ();
    if (!rc) {
        s_say_gpu ();
        if (strcmp (kind->name, "sleep") == 0)
            rc = s_sleep (&params);
        else if (strcmp (kind->name, "echo") == 0)
            rc = s_echo (kind);
        else if (strcmp (kind->name, "fail") == 0)
            rc = s_fail (&params);
        else {
            snprintf (err, sizeof err, "test kind '%s' is not known to this segq-testkind",
                      kind->name);
            rc = s_usage (err);
        }
    }
    segq_params_clear (&params);
    return rc;
}
