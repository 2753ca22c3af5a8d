/*  test_usage.c: accounting with real processes: runs of sleep jobs (one
    spinning on a CPU, one declaring GPU memory on a worker with a declared
    GPU) show in `segq --json usage` with their declared and measured use,
    and the figures survive a killed broker and travel with a backup. */
#include <criterion/criterion.h>
#include <jansson.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "harness.h"

static harness_t *h;

static void
setup (void)
{
    h = harness_new ("usage");
    cr_assert_not_null (h);
    cr_assert_eq (harness_start_broker (h, NULL), 0);
    const char *gpus [] = { "--gpus", "0:fake:8G", NULL };
    cr_assert_geq (harness_start_worker (h, "w1", 2, gpus), 0);
}

static void
teardown (void)
{
    harness_destroy (&h);
}

static void
s_run (const char *const *argv, char job [SEGQ_JOB_ID_MAX])
{
    char err [1024];
    H_ASSERT (h, harness_submit (h, argv, job, SEGQ_JOB_ID_MAX, err, sizeof err) == 0, "%s", err);
    segq_client_t *c = harness_client (h, 0);
    segq_job_info_t info = { 0 };
    H_ASSERT (h, harness_wait_final (c, job, 30000, &info) == 0, "%s did not end", job);
    H_ASSERT (h, info.state == SEGQ_JOB_SUCCEEDED, "%s: %s", job, info.reason ? info.reason : "");
    segq_job_info_clear (&info);
    segq_client_destroy (&c);
}

/* `segq --json usage ARGS...`: the object it printed (decref it). */
static json_t *
s_usage (const char *by)
{
    char out [16384], err [2048];
    const char *argv [] = { "--json", "usage", "--by", by, NULL };
    H_ASSERT (h, harness_cli (h, out, sizeof out, err, sizeof err, argv) == 0, "usage: %s", err);
    json_error_t jerr;
    json_t *root = json_loads (out, 0, &jerr);
    cr_assert_not_null (root, "not JSON (%s): %s", jerr.text, out);
    return root;
}

static double
s_number (json_t *row, const char *key)
{
    json_t *value = json_object_get (row, key);
    cr_assert (json_is_number (value), "no number '%s'", key);
    return json_number_value (value);
}

/* The figures as measured; checked again after a restart and a backup. */
static void
s_check_usage (void)
{
    json_t *root = s_usage ("kind");
    json_t *rows = json_object_get (root, "rows");
    cr_assert_eq (json_array_size (rows), 1, "one kind: sleep");
    json_t *sleep = json_array_get (rows, 0);
    cr_assert_str_eq (json_string_value (json_object_get (sleep, "kind")), "sleep");
    cr_assert_eq (s_number (sleep, "runs"), 2);
    /* the busy one spun for 1.5 s of wall time: on a loaded machine it
       gets less than all of a CPU, but measurably some, and never more
       than the runs' time */
    double run = s_number (sleep, "run_seconds");
    cr_assert (run >= 1.5 + 0.5 && run < 30, "run time %g s", run);
    double cpu = s_number (sleep, "cpu_seconds");
    cr_assert (cpu >= 0.1 && cpu <= run, "measured CPU time %g s of %g s", cpu, run);
    cr_assert_eq (s_number (sleep, "gpu_peak"), 1ULL << 30, "half of the 2G declared");
    cr_assert (s_number (sleep, "max_rss") > 100000, "a process has some resident memory");
    double gmem = s_number (sleep, "gpu_mem_seconds") / (double) (2ULL << 30);
    cr_assert (gmem >= 0.5 && gmem < 15, "GPU memory-seconds / 2 GiB = %g s of run", gmem);
    json_decref (root);
    root = s_usage ("user");
    json_t *user = json_array_get (json_object_get (root, "rows"), 0);
    cr_assert_str_eq (json_string_value (json_object_get (user, "user")), H_USER);
    cr_assert (s_number (user, "fairshare_usage") > 0, "fair share counts the runs");
    cr_assert_float_eq (s_number (root, "half_life_s"), 7 * 86400, 1e-6, "Slurm's default");
    json_decref (root);
}

Test (usage, runs_are_accounted_and_kept, .init = setup, .fini = teardown, .timeout = 180)
{
    char busy [SEGQ_JOB_ID_MAX], gpu [SEGQ_JOB_ID_MAX];
    const char *spin [] = { "submit", "sleep", "--seconds", "1.5", "--busy", "--cpu", "1", NULL };
    s_run (spin, busy);
    const char *on_gpu [] = { "submit", "sleep", "--seconds", "0.5", "--gpu-mem", "2G", NULL };
    s_run (on_gpu, gpu);
    s_check_usage ();

    /* a backup carries the accounting */
    char backup [700], out [4096], err [2048];
    snprintf (backup, sizeof backup, "%s/backup.db", h->dir);
    const char *argv [] = { "backup", backup, NULL };
    H_ASSERT (h, harness_cli (h, out, sizeof out, err, sizeof err, argv) == 0, "backup: %s", err);

    /* killed for real: what was committed is all there after a restart */
    harness_signal_broker (h, SIGKILL);
    cr_assert_eq (harness_start_broker (h, NULL), 0);
    s_check_usage ();

    /* a broker started on the backup alone */
    harness_signal_broker (h, SIGTERM);
    char db [700];
    snprintf (db, sizeof db, "%s/segq.db", h->data_dir);
    cr_assert_eq (rename (backup, db), 0, "restore the backup as the database");
    char wal [720];
    snprintf (wal, sizeof wal, "%s-wal", db);
    unlink (wal);
    cr_assert_eq (harness_start_broker (h, NULL), 0);
    s_check_usage ();
    H_ASSERT_CLEAN_STOP (h);
}

Test (usage, bad_arguments_are_refused_before_anything_is_sent, .init = setup, .fini = teardown,
      .timeout = 60)
{
    char out [1024], err [1024];
    const char *by [] = { "usage", "--by", "week", NULL };
    cr_assert_eq (harness_cli (h, out, sizeof out, err, sizeof err, by), 2);
    cr_assert (strstr (err, "--by 'week'") && strstr (err, "user, kind or day"), "%s", err);
    const char *since [] = { "usage", "--since", "yesterday", NULL };
    cr_assert_eq (harness_cli (h, out, sizeof out, err, sizeof err, since), 2);
    cr_assert (strstr (err, "--since 'yesterday'") && strstr (err, "7d"), "%s", err);
    H_ASSERT_CLEAN_STOP (h);
}
