/*  test_wait_reasons.c: every waiting job says why, in the NOTE column, in
    --json and (through the same JSON) on the status page: its dependency,
    a hold, a user limit, a request no connected worker can hold, no worker
    of its kind or with CPU slots; and a reload (SIGHUP) of the limits
    changes the answer without a restart. */
#include <criterion/criterion.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>

#include "harness.h"

static harness_t *h;
static char conf [700];

static void
s_write_conf (const char *text)
{
    FILE *f = fopen (conf, "w");
    cr_assert_not_null (f);
    fputs (text, f);
    cr_assert_eq (fclose (f), 0);
}

static void
setup (void)
{
    h = harness_new ("wait-reasons");
    cr_assert_not_null (h);
    snprintf (conf, sizeof conf, "%s/segqd.conf", h->dir);
    s_write_conf ("[defaults]\nmax_running = 1\n[user " H_USER "]\nmax_gpu_mem = 12G\n");
    const char *extra [] = { "--config", conf, NULL };
    cr_assert_eq (harness_start_broker (h, extra), 0);
}

static void
teardown (void)
{
    harness_destroy (&h);
}

static void
s_submit (const char *const *argv, char job [SEGQ_JOB_ID_MAX])
{
    char err [1024];
    H_ASSERT (h, harness_submit (h, argv, job, SEGQ_JOB_ID_MAX, err, sizeof err) == 0, "%s", err);
}

/* Polls until the job's message (the NOTE) contains `text`. */
static void
s_wait_note (segq_client_t *c, const char *job, const char *text)
{
    char last [512] = "";
    for (int i = 0; i < 500; i++) {
        segq_job_info_t info = { 0 };
        H_ASSERT (h, segq_client_job (c, job, false, &info) == 0, "%s", segq_client_error (c));
        snprintf (last, sizeof last, "%s", info.message ? info.message : "");
        segq_job_info_clear (&info);
        if (strstr (last, text))
            return;
        harness_sleep_ms (20);
    }
    H_ASSERT (h, false, "job %s: note '%s', expected '%s'", job, last, text);
}

Test (wait_reasons, each_waiting_job_says_why, .init = setup, .fini = teardown, .timeout = 120)
{
    char running [SEGQ_JOB_ID_MAX], limited [SEGQ_JOB_ID_MAX], after [SEGQ_JOB_ID_MAX];
    char big [SEGQ_JOB_ID_MAX], slots [SEGQ_JOB_ID_MAX], gpu [SEGQ_JOB_ID_MAX];
    segq_client_t *c = harness_client (h, 0);
    const char *sleep_long [] = { "submit", "sleep", "--seconds", "30", "--cpu", "1", NULL };
    s_submit (sleep_long, running);
    /* no worker at all yet */
    s_wait_note (c, running, "no connected worker runs sleep");
    const char *gpus [] = { "--gpus", "0:fake:80G", NULL };
    cr_assert_geq (harness_start_worker (h, "w1", 2, gpus), 0);
    H_ASSERT (h, harness_wait_state (c, running, SEGQ_JOB_RUNNING, 20000) == 0, "it starts");
    s_submit (sleep_long, limited);
    s_wait_note (c, limited, "user limit max_running=1 reached");
    const char *dependent [] = { "submit", "sleep", "--after", running, "--cpu", "1", NULL };
    s_submit (dependent, after);
    s_wait_note (c, after, "waiting for ");
    s_wait_note (c, after, running);
    const char *too_big [] = { "submit", "sleep", "--gpu-mem", "100G", NULL };
    s_submit (too_big, big);
    s_wait_note (c, big, "needs 100.0 GiB GPU memory; the largest connected GPU has 80.0 GiB");
    const char *many [] = { "submit", "sleep", "--cpu", "4", NULL };
    s_submit (many, slots);
    s_wait_note (c, slots, "needs 4 CPU slots; the largest worker offers 2");
    const char *fits [] = { "submit", "sleep", "--gpu-mem", "8G", NULL };
    s_submit (fits, gpu);
    s_wait_note (c, gpu, "user limit max_running=1 reached");
    char out [8192], err [2048];
    const char *json [] = { "--json", "status", limited, NULL };
    cr_assert_eq (harness_cli (h, out, sizeof out, err, sizeof err, json), 0, "%s", err);
    cr_assert (strstr (out, "user limit max_running=1 reached"), "in --json: %s", out);
    const char *table [] = { "status", NULL };
    cr_assert_eq (harness_cli (h, out, sizeof out, err, sizeof err, table), 0, "%s", err);
    cr_assert (strstr (out, "needs 4 CPU slots"), "in the NOTE column: %s", out);

    /* a reload lifts the running limit, no restart: the limited job and
       one 8G job start; the GPU limit holds the next 8G job */
    s_write_conf ("[defaults]\nmax_running = 4\n[user " H_USER "]\nmax_gpu_mem = 12G\n");
    harness_signal_broker (h, SIGHUP);
    H_ASSERT (h, harness_wait_state (c, limited, SEGQ_JOB_RUNNING, 20000) == 0,
              "max_running=4 after SIGHUP");
    H_ASSERT (h, harness_wait_state (c, gpu, SEGQ_JOB_RUNNING, 20000) == 0, "8G of 12G");
    char second [SEGQ_JOB_ID_MAX];
    s_submit (fits, second);
    s_wait_note (c, second, "user limit max_gpu_mem=12.0 GiB reached (running jobs hold 8.0 GiB)");
    cr_assert_eq (harness_wait_text (h->broker_log, "reloaded the per-user limits", 5000), 0);
    /* a bad file keeps the limits it had, and says why */
    s_write_conf ("[defaults]\nmax_runing = 1\n");
    harness_signal_broker (h, SIGHUP);
    cr_assert_eq (harness_wait_text (h->broker_log, "max_runing", 5000), 0);
    cr_assert_eq (harness_wait_text (h->broker_log, "the limits stay as they were", 5000), 0);
    /* a setting that only a restart applies is named, not taken in silence */
    s_write_conf ("retention = 12h\n[defaults]\nmax_running = 4\n");
    harness_signal_broker (h, SIGHUP);
    cr_assert_eq (harness_wait_text (h->broker_log,
                                     "changed there, but only a restart applies: retention", 5000),
                  0);
    segq_client_destroy (&c);
    const char *cancel [] = { "cancel", running, limited, after, big, slots, gpu, second, NULL };
    harness_cli (h, out, sizeof out, err, sizeof err, cancel);
    H_ASSERT_CLEAN_STOP (h);
}

/* A job that only draining workers could run does not wait for their free
   slots: they take no new job. */
Test (wait_reasons, only_draining_workers_fit, .init = setup, .fini = teardown, .timeout = 60)
{
    char running [SEGQ_JOB_ID_MAX], queued [SEGQ_JOB_ID_MAX], out [2048], err [2048];
    segq_client_t *c = harness_client (h, 0);
    cr_assert_geq (harness_start_worker (h, "w1", 1, NULL), 0);
    const char *sleep_long [] = { "submit", "sleep", "--seconds", "30", "--cpu", "1", NULL };
    s_submit (sleep_long, running);
    H_ASSERT (h, harness_wait_state (c, running, SEGQ_JOB_RUNNING, 20000) == 0, "it starts");
    s_write_conf ("[defaults]\nmax_running = 4\n");
    harness_signal_broker (h, SIGHUP);
    s_submit (sleep_long, queued);
    s_wait_note (c, queued, "waiting for 1 free CPU slot");
    const char *drain [] = { "workers", "--drain", "w1", NULL };
    cr_assert_eq (harness_cli (h, out, sizeof out, err, sizeof err, drain), 0, "%s", err);
    s_wait_note (c, queued, "the workers that could run it are draining");
    const char *cancel [] = { "cancel", running, queued, NULL };
    harness_cli (h, out, sizeof out, err, sizeof err, cancel);
    segq_client_destroy (&c);
    H_ASSERT_CLEAN_STOP (h);
}

Test (wait_reasons, no_worker_offers_cpu_slots, .init = setup, .fini = teardown, .timeout = 60)
{
    char job [SEGQ_JOB_ID_MAX];
    segq_client_t *c = harness_client (h, 0);
    cr_assert_geq (
        harness_start_worker (h, "gpu-only", 0, (const char *[]){ "--gpus", "0:fake:8G", NULL }),
        0);
    const char *cpu [] = { "submit", "sleep", "--cpu", "1", NULL };
    s_submit (cpu, job);
    s_wait_note (c, job, "no worker offers CPU slots");
    segq_client_destroy (&c);
    H_ASSERT_CLEAN_STOP (h);
}
