/*  test_train_queue.c: the real `segq-run train` (libtorch) under real
    segqd, segq-worker and segq processes, in tiny settings:

    - its worker is killed (kill -9) after the broker recorded the
      checkpoint of scale k: the job is requeued, a second worker resumes
      it from scale k (its log says so and trains no scale twice), the
      first attempt's child dies with its worker, the final checkpoint is
      whole and `generate` works from it;
    - a running training that is cancelled: its child is gone within a few
      seconds and the job ends cancelled;
    - a training cancelled after a checkpoint, then `segq retry`: the new
      job resumes from that checkpoint, trains no finished scale again,
      and succeeds. */
#define _GNU_SOURCE
#include <criterion/criterion.h>
#include <dirent.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include "e2e_fixture.h"
#include "e2e_queue.h"
#include "harness.h"

static void
s_write_fixture (harness_t *h, char *image, char *mask, size_t len)
{
    snprintf (image, len, "%s/polyp.png", h->dir);
    snprintf (mask, len, "%s/polyp-mask.png", h->dir);
    e2e_write_polyp (image, mask);
}

static const char *
s_segq_run (void)
{
    static char path [1024];
    const char *bin = getenv ("SEGQ_BINARY_DIR");
    snprintf (path, sizeof path, "%s/pipeline/segq-run", bin && *bin ? bin : SEGQ_BINARY_DIR);
    cr_assert_eq (access (path, X_OK), 0, "%s not built", path);
    return path;
}

/* A broker and one worker that runs train jobs on a CPU slot, in a
   harness named `name`. */
static harness_t *
s_train_queue (const char *name)
{
    harness_t *h = harness_new (name);
    cr_assert_not_null (h);
    cr_assert_eq (harness_start_broker (h, NULL), 0);
    const char *extra [] = { "--segq-run", s_segq_run (), "--kinds", "train", "--gpus", "", NULL };
    H_ASSERT (h, harness_start_worker (h, "ml", 1, extra) >= 0, "worker did not register");
    return h;
}

/* The first checkpoint the broker recorded for `train`, waited for: its
   step (a finished scale count, at least 1). */
static int
s_first_checkpoint (harness_t *h, const char *train)
{
    static char log [262144];
    double start = e2e_now ();
    do {
        e2e_sleep_ms (100);
        e2e_logs (h, train, log, sizeof log);
    } while (e2e_last_recorded (log) == 0 && e2e_now () - start < 300);
    H_ASSERT (h, e2e_last_recorded (log) > 0, "no checkpoint recorded: %s", log);
    return e2e_last_recorded (log);
}

/* `log` (an attempt's part of a job's log) resumed after at least
   `recorded` of the 4 scales and trained none of those again: how many. */
static int
s_assert_resumed (const char *log, int recorded)
{
    const char *resumed = strstr (log, "model.safetensors after ");
    int done = resumed ? atoi (resumed + strlen ("model.safetensors after ")) : 0;
    cr_assert (done >= recorded && done < 4, "resumed after %d scale(s), %d recorded: %s", done,
               recorded, log);
    for (int n = 1; n <= done; n++) {
        char redone [32];
        snprintf (redone, sizeof redone, "scale %d/", n);
        cr_assert_null (strstr (log, redone), "scale %d trained again: %s", n, log);
    }
    return done;
}

Test (e2e, killed_worker_training_resumes_on_another, .timeout = 600)
{
    harness_t *h = harness_new ("e2e-train-resume");
    cr_assert_not_null (h);
    cr_assert_eq (harness_start_broker (h, NULL), 0);
    const char *extra [] = { "--segq-run", s_segq_run (), "--kinds", "train,generate", "--gpus",
                             "",           NULL };
    int first = harness_start_worker (h, "ml-a", 1, extra);
    H_ASSERT (h, first >= 0, "worker did not register");
    char image [600], mask [600], in_image [640], in_mask [640], train [64];
    s_write_fixture (h, image, mask, sizeof image);
    snprintf (in_image, sizeof in_image, "image=%s", image);
    snprintf (in_mask, sizeof in_mask, "mask=%s", mask);
    /* 4 scales (12..24) of 15 iterations: seconds each, even loaded */
    const char *submit [] = { "submit",  "train",    "--input",     in_image,     "--input",
                              in_mask,   "--param",  "max_size=24", "--param",    "min_size=12",
                              "--param", "niter=15", "--param",     "previews=0", "--param",
                              "nfc=8",   "--param",  "nfc_max=8",   "--param",    "seed=3",
                              "--cpu",   "1",        NULL };
    e2e_submit (h, submit, train, sizeof train);

    static char log [262144];
    s_first_checkpoint (h, train);
    /* freeze the worker: the broker hears of no further checkpoint */
    harness_signal_worker (h, first, SIGSTOP);
    e2e_sleep_ms (500);
    e2e_logs (h, train, log, sizeof log);
    int recorded = e2e_last_recorded (log);
    H_ASSERT (h, recorded >= 1, "checkpoint of step %d", recorded);
    cr_assert (recorded < 4, "the first attempt finished all 4 scales before it was stopped: "
                             "make the scales longer");
    harness_signal_worker (h, first, SIGKILL);
    /* its child dies with it (PR_SET_PDEATHSIG) rather than train on */
    double start = e2e_now ();
    while (e2e_job_processes (h, train, 1, NULL) > 0 && e2e_now () - start < 10)
        e2e_sleep_ms (100);
    cr_assert_eq (e2e_job_processes (h, train, 1, NULL), 0,
                  "attempt 1's segq-run outlived its worker");

    H_ASSERT (h, harness_start_worker (h, "ml-b", 1, extra) >= 0, "second worker");
    segq_client_t *c = harness_client (h, 0);
    segq_job_info_t info;
    H_ASSERT (h, harness_wait_final (c, train, 400000, &info) == 0, "train never ended");
    H_ASSERT (h, info.state == SEGQ_JOB_SUCCEEDED, "train ended %s: %s",
              segq_job_state_name (info.state), info.reason ? info.reason : "");
    cr_assert_eq (info.attempt, 2);
    segq_job_info_clear (&info);

    e2e_logs (h, train, log, sizeof log);
    const char *second = strstr (log, "=== attempt 2");
    cr_assert_not_null (second, "%s", log);
    cr_assert (strstr (second, "resuming from out/model.safetensors"), "%s", second);
    /* the worker uploads the checkpoint file as it finds it, and its child
       trains on meanwhile: the file may hold a later scale than the step
       the broker recorded, never an earlier one */
    s_assert_resumed (second, recorded);

    /* the final checkpoint is whole: generate works from it */
    char in_model [128], generate [64];
    snprintf (in_model, sizeof in_model, "model=%s", train);
    const char *gen [] = { "submit",  "generate", "--input", in_model,
                           "--param", "count=2",  "--cpu",   NULL };
    e2e_submit (h, gen, generate, sizeof generate);
    H_ASSERT (h, harness_wait_final (c, generate, 200000, &info) == 0, "generate never ended");
    H_ASSERT (h, info.state == SEGQ_JOB_SUCCEEDED, "generate ended %s: %s",
              segq_job_state_name (info.state), info.reason ? info.reason : "");
    size_t images = 0;
    for (size_t i = 0; i < info.n_outputs; i++)
        images += strncmp (info.outputs [i].name, "images/", 7) == 0;
    cr_assert_eq (images, 2);
    segq_job_info_clear (&info);
    segq_client_destroy (&c);
    H_ASSERT_CLEAN_STOP (h);
    harness_destroy (&h);
}

Test (e2e, cancelled_training_stops_its_child_promptly, .timeout = 300)
{
    harness_t *h = s_train_queue ("e2e-train-cancel");
    char image [600], mask [600], in_image [640], in_mask [640], train [64];
    s_write_fixture (h, image, mask, sizeof image);
    snprintf (in_image, sizeof in_image, "image=%s", image);
    snprintf (in_mask, sizeof in_mask, "mask=%s", mask);
    /* hours of work at this size: it only ends by being cancelled */
    const char *submit [] = { "submit",  "train",        "--input",     in_image,     "--input",
                              in_mask,   "--param",      "max_size=24", "--param",    "min_size=12",
                              "--param", "niter=100000", "--param",     "previews=0", "--param",
                              "nfc=8",   "--param",      "nfc_max=8",   "--cpu",      "1",
                              NULL };
    e2e_submit (h, submit, train, sizeof train);
    segq_client_t *c = harness_client (h, 0);
    /* training for real: its progress channel says so */
    segq_job_info_t info;
    double start = e2e_now ();
    bool training = false;
    while (!training && e2e_now () - start < 120) {
        H_ASSERT (h, segq_client_job (c, train, false, &info) == 0, "status");
        training =
            info.state == SEGQ_JOB_RUNNING && info.phase && strcmp (info.phase, "train") == 0;
        segq_job_info_clear (&info);
        e2e_sleep_ms (100);
    }
    H_ASSERT (h, training, "the training never reported progress");
    cr_assert_eq (e2e_job_processes (h, train, 0, NULL), 1, "one segq-run child expected");

    char out [1024], err [4096];
    const char *cancel [] = { "cancel", train, NULL };
    double asked = e2e_now ();
    H_ASSERT (h, harness_cli (h, out, sizeof out, err, sizeof err, cancel) == 0, "cancel: %s", err);
    while (e2e_job_processes (h, train, 0, NULL) > 0 && e2e_now () - asked < 30)
        e2e_sleep_ms (50);
    double gone = e2e_now () - asked;
    cr_assert_eq (e2e_job_processes (h, train, 0, NULL), 0,
                  "segq-run still running 30 s after cancel");
    cr_assert (gone < 5, "segq-run took %.1f s to stop after cancel", gone);
    H_ASSERT (h, harness_wait_final (c, train, 20000, &info) == 0, "job never ended");
    cr_assert_eq (info.state, SEGQ_JOB_CANCELLED, "ended %s", segq_job_state_name (info.state));
    segq_job_info_clear (&info);
    segq_client_destroy (&c);
    H_ASSERT_CLEAN_STOP (h);
    harness_destroy (&h);
}

Test (e2e, a_retried_training_resumes_from_its_checkpoint, .timeout = 600)
{
    harness_t *h = s_train_queue ("e2e-train-retry");
    char image [600], mask [600], train [64], retry [64];
    s_write_fixture (h, image, mask, sizeof image);
    /* 4 scales (12..24) of 40 iterations: cancelled while still training */
    const char *submit [] = { "submit",  "train",      "--image",    image,        "--mask",
                              mask,      "--max-size", "24",         "--min-size", "12",
                              "--niter", "40",         "--previews", "0",          "--nfc",
                              "8",       "--nfc-max",  "8",          "--cpu",      NULL };
    e2e_submit (h, submit, train, sizeof train);
    int recorded = s_first_checkpoint (h, train);
    char out [1024], err [4096];
    const char *cancel [] = { "cancel", train, NULL };
    H_ASSERT (h, harness_cli (h, out, sizeof out, err, sizeof err, cancel) == 0, "cancel: %s", err);
    segq_client_t *c = harness_client (h, 0);
    segq_job_info_t info;
    H_ASSERT (h, harness_wait_final (c, train, 30000, &info) == 0, "job never ended");
    segq_job_state_t ended = info.state;
    segq_job_info_clear (&info);
    cr_assert (ended == SEGQ_JOB_CANCELLED, "ended %s (make the scales longer)",
               segq_job_state_name (ended));

    const char *again [] = { "retry", train, "--time-limit", "3000", NULL };
    e2e_submit (h, again, retry, sizeof retry);
    H_ASSERT (h, harness_wait_final (c, retry, 400000, &info) == 0, "retry never ended");
    H_ASSERT (h, info.state == SEGQ_JOB_SUCCEEDED, "retry ended %s: %s",
              segq_job_state_name (info.state), info.reason ? info.reason : "");
    cr_assert_eq (info.time_limit_s, 3000);
    segq_job_info_clear (&info);
    static char log [262144];
    e2e_logs (h, retry, log, sizeof log);
    s_assert_resumed (log, recorded);
    /* a job that succeeded is not submitted again */
    const char *twice [] = { "retry", retry, NULL };
    cr_assert_eq (harness_cli (h, out, sizeof out, err, sizeof err, twice), 1, "%s", out);
    cr_assert (strstr (err, "succeeded: only a job that failed or was cancelled"), "%s", err);
    segq_client_destroy (&c);
    H_ASSERT_CLEAN_STOP (h);
    harness_destroy (&h);
}
