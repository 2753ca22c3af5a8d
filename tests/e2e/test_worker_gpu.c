/*  test_worker_gpu.c: the worker's half of running ML jobs, with real
    segqd, segq-worker and segq processes and no libtorch or GPU:

    - a training requeued because its worker died resumes from the last
      checkpoint its first attempt uploaded (a stand-in segq-run, a shell
      script, writes a "checkpoint" per scale and announces it on the
      progress channel as the real one does);
    - segq-run's out-of-GPU-memory exit status becomes the job's failure
      reason, naming the memory declared;
    - GPU jobs pack by declared memory on capacities given by flags (two
      8 GB GPUs: 3 GB jobs run two per GPU, four at once, each child seeing
      the CUDA_VISIBLE_DEVICES the broker chose), and a 10 GB job, which no
      GPU of the worker can hold, waits without blocking them. */
#define _GNU_SOURCE
#include <criterion/criterion.h>
#include <dirent.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>
#include "e2e_queue.h"
#include "harness.h"
#include "test_files.h"
#include "segq_schema.h"
#include "segq_sha256.h"

/* Four "scales" of 0.7 s; after each, out/model.safetensors holds the
   number of scales done and is announced as a checkpoint. With --resume
   it starts after the scales the file says. It stops when its worker is
   gone, as segq-run does (PR_SET_PDEATHSIG). */
static const char s_fake_train [] =
    "#!/bin/sh\n"
    "parent=$PPID\n"
    "out=$SEGQ_OUTPUT_DIR\n"
    "n=0\n"
    "for a in \"$@\"; do\n"
    "  if [ \"$a\" = --resume ] && [ -f \"$out/model.safetensors\" ]; then\n"
    "    n=$(cat \"$out/model.safetensors\")\n"
    "  fi\n"
    "done\n"
    "echo \"resuming after $n finished scale(s)\"\n"
    "while [ \"$n\" -lt 4 ]; do\n"
    "  sleep 0.7\n"
    "  kill -0 \"$parent\" 2>/dev/null || exit 1\n"
    "  n=$((n + 1))\n"
    "  echo \"$n\" > \"$out/.model.tmp\" && mv \"$out/.model.tmp\" \"$out/model.safetensors\"\n"
    "  echo \"{\\\"checkpoint\\\":\\\"model.safetensors\\\",\\\"step\\\":$n}\" >&3\n"
    "  echo \"scale $n saved\"\n"
    "done\n";

/* What segq-run does when libtorch says "CUDA out of memory". */
static const char s_fake_oom [] =
    "#!/bin/sh\n"
    "echo 'segq-run train: train scale 2: CUDA out of memory. Tried to allocate 2.00 GiB' >&2\n"
    "exit 3\n";

Test (e2e, requeued_training_resumes_from_its_last_checkpoint, .timeout = 90)
{
    harness_t *h = harness_new ("e2e-resume");
    cr_assert_not_null (h);
    cr_assert_eq (harness_start_broker (h, NULL), 0);
    char fake [600], image [600];
    snprintf (fake, sizeof fake, "%s/segq-run", h->dir);
    snprintf (image, sizeof image, "%s/polyp.png", h->dir);
    cr_assert_eq (harness_write_script (fake, s_fake_train), 0);
    cr_assert_eq (test_write_png (image, 32, 1, 1), 0);
    const char *extra [] = { "--segq-run", fake, "--kinds", "train", "--gpus", "", NULL };
    int first = harness_start_worker (h, "ml-a", 1, extra);
    H_ASSERT (h, first >= 0, "worker did not register");

    char in_image [640], in_mask [640], job [64];
    snprintf (in_image, sizeof in_image, "image=%s", image);
    snprintf (in_mask, sizeof in_mask, "mask=%s", image);
    const char *submit [] = { "submit", "train", "--input", in_image, "--input",
                              in_mask,  "--cpu", "1",       NULL };
    e2e_submit (h, submit, job, sizeof job);

    /* Once the broker has a checkpoint, freeze the worker (its child
       goes on, unheard), so nothing more is recorded: the log then says
       exactly which checkpoint the broker holds. */
    static char log [65536];
    int64_t waited = 0;
    do {
        e2e_sleep_ms (50);
        waited += 50;
        e2e_logs (h, job, log, sizeof log);
    } while (e2e_last_recorded (log) == 0 && waited < 20000);
    H_ASSERT (h, e2e_last_recorded (log) > 0, "no checkpoint recorded in 20 s: %s", log);
    harness_signal_worker (h, first, SIGSTOP);
    e2e_sleep_ms (500);
    e2e_logs (h, job, log, sizeof log);
    int recorded = e2e_last_recorded (log);
    H_ASSERT (h, recorded >= 1 && recorded < 4, "checkpoint of step %d: %s", recorded, log);
    harness_signal_worker (h, first, SIGKILL);

    /* The broker declares ml-a lost and requeues; ml-b resumes. */
    H_ASSERT (h, harness_start_worker (h, "ml-b", 1, extra) >= 0, "second worker");
    segq_client_t *c = harness_client (h, 0);
    segq_job_info_t info;
    H_ASSERT (h, harness_wait_final (c, job, 40000, &info) == 0, "job %s never ended", job);
    H_ASSERT (h, info.state == SEGQ_JOB_SUCCEEDED, "job ended %s: %s",
              segq_job_state_name (info.state), info.reason ? info.reason : "");
    cr_assert_eq (info.attempt, 2, "attempt %u", info.attempt);
    segq_job_info_clear (&info);

    e2e_logs (h, job, log, sizeof log);
    const char *second = strstr (log, "=== attempt 2");
    cr_assert_not_null (second, "no second attempt in the log: %s", log);
    cr_assert (strstr (second, "resuming from out/model.safetensors"), "%s", second);
    char expected [64];
    snprintf (expected, sizeof expected, "resuming after %d finished scale(s)", recorded);
    cr_assert (strstr (second, expected), "expected '%s' in: %s", expected, second);
    for (int n = 1; n <= recorded; n++) {
        char redone [32];
        snprintf (redone, sizeof redone, "scale %d saved", n);
        cr_assert_null (strstr (second, redone), "scale %d was trained again: %s", n, second);
    }

    char dir [700], path [800], out [1024], err [4096];
    snprintf (dir, sizeof dir, "%s/fetched", h->dir);
    const char *fetch [] = { "fetch", job, "-o", dir, NULL };
    H_ASSERT (h, harness_cli (h, out, sizeof out, err, sizeof err, fetch) == 0, "fetch: %s", err);
    snprintf (path, sizeof path, "%s/model.safetensors", dir);
    FILE *f = fopen (path, "r");
    cr_assert_not_null (f, "no %s", path);
    int scales = 0;
    cr_assert_eq (fscanf (f, "%d", &scales), 1);
    fclose (f);
    cr_assert_eq (scales, 4);

    /* a checkpoint a newer one replaced is gone from the broker: it is
       patient-derived and nothing will read it again. The newest recorded
       one stays with the job (purge and retention take it) and the final
       model is the job's output. */
    int kept = 0;
    for (int n = 4; n >= 1; n--) {
        char text [8], hash [SEGQ_HASH_HEX_LEN + 1], stored [900];
        snprintf (text, sizeof text, "%d\n", n);
        segq_sha256_t sha;
        segq_sha256_init (&sha);
        segq_sha256_update (&sha, text, strlen (text));
        segq_sha256_final (&sha, hash);
        snprintf (stored, sizeof stored, "%s/artifacts/%.2s/%s", h->data_dir, hash, hash);
        bool present = access (stored, F_OK) == 0;
        if (n == 4)
            cr_assert (present, "the final model is not stored");
        else if (present)
            cr_assert_eq (kept++, 0, "replaced checkpoint of step %d kept", n);
    }
    segq_client_destroy (&c);
    H_ASSERT_CLEAN_STOP (h);
    harness_destroy (&h);
}

Test (e2e, out_of_gpu_memory_names_the_declared_memory, .timeout = 60)
{
    harness_t *h = harness_new ("e2e-oom");
    cr_assert_not_null (h);
    cr_assert_eq (harness_start_broker (h, NULL), 0);
    char fake [600], image [600];
    snprintf (fake, sizeof fake, "%s/segq-run", h->dir);
    snprintf (image, sizeof image, "%s/polyp.png", h->dir);
    cr_assert_eq (harness_write_script (fake, s_fake_oom), 0);
    cr_assert_eq (test_write_png (image, 32, 1, 1), 0);
    const char *extra [] = { "--segq-run", fake, "--gpus", "0:FakeGPU:8G", NULL };
    H_ASSERT (h, harness_start_worker (h, "gpu", 2, extra) >= 0, "worker did not register");
    char in_image [640], in_mask [640], train [64], fail [64];
    snprintf (in_image, sizeof in_image, "image=%s", image);
    snprintf (in_mask, sizeof in_mask, "mask=%s", image);
    const char *submit [] = { "submit", "train",     "--input", in_image, "--input",
                              in_mask,  "--gpu-mem", "3G",      NULL };
    e2e_submit (h, submit, train, sizeof train);
    /* the same status from a program that is not segq-run means nothing */
    const char *submit_fail [] = { "submit", "fail", "--param", "code=3", "--cpu", NULL };
    e2e_submit (h, submit_fail, fail, sizeof fail);

    segq_client_t *c = harness_client (h, 0);
    segq_job_info_t info;
    H_ASSERT (h, harness_wait_final (c, train, 20000, &info) == 0, "train never ended");
    H_ASSERT (h, info.state == SEGQ_JOB_FAILED, "train ended %s", segq_job_state_name (info.state));
    cr_assert_str_eq (info.reason, "out of GPU memory with 3 GiB declared: resubmit with a "
                                   "larger --gpu-mem");
    cr_assert_eq (info.exit_code, SEGQ_RUN_EXIT_GPU_OOM);
    segq_job_info_clear (&info);
    H_ASSERT (h, harness_wait_final (c, fail, 20000, &info) == 0, "fail never ended");
    cr_assert_str_eq (info.reason, "exited with code 3: segq-testkind: failing with exit code 3 "
                                   "as asked");
    segq_job_info_clear (&info);
    /* and the log has segq-run's own words */
    static char log [16384];
    e2e_logs (h, train, log, sizeof log);
    cr_assert (strstr (log, "CUDA out of memory"), "%s", log);
    segq_client_destroy (&c);
    H_ASSERT_CLEAN_STOP (h);
    harness_destroy (&h);
}

Test (e2e, gpu_jobs_pack_by_declared_memory, .timeout = 90)
{
    harness_t *h = harness_new ("e2e-gpu-pack");
    cr_assert_not_null (h);
    cr_assert_eq (harness_start_broker (h, NULL), 0);
    /* Decision: a job no GPU of any connected worker can hold waits in
       the queue (a bigger worker may join); it never blocks the jobs
       behind it. It is submitted first, so it is at the head. */
    char big [64];
    const char *submit_big [] = { "submit",    "sleep", "--param", "seconds=0",
                                  "--gpu-mem", "10G",   NULL };
    e2e_submit (h, submit_big, big, sizeof big);
    enum { N = 6 };
    char jobs [N][64];
    const char *submit [] = { "submit", "sleep", "--param", "seconds=3", "--gpu-mem", "3G", NULL };
    for (int i = 0; i < N; i++)
        e2e_submit (h, submit, jobs [i], sizeof jobs [i]);
    /* The worker comes once all are queued, so how many run at once
       depends on the fit alone, not on how fast the CLI submits. */
    const char *extra [] = { "--gpus", "0:FakeA:8G,1:FakeB:8G", NULL };
    H_ASSERT (h, harness_start_worker (h, "two-gpus", 8, extra) >= 0, "worker did not register");

    segq_client_t *c = harness_client (h, 0);
    int most = 0, checked = 0;
    bool all_done = false;
    for (int round = 0; round < 400 && !all_done; round++) {
        /* one STATUS: a consistent picture of what runs where */
        segq_status_query_t running_query = { .state = SEGQ_JOB_RUNNING, .limit = 100 };
        segq_job_list_t list = { 0 };
        H_ASSERT (h, segq_client_status (c, &running_query, NULL, &list) == 0, "status");
        int per_gpu [2] = { 0, 0 };
        for (size_t i = 0; i < list.n_jobs; i++) {
            const segq_job_info_t *info = &list.jobs [i];
            H_ASSERT (h, info->gpu == 0 || info->gpu == 1, "job %s on GPU %d", info->id, info->gpu);
            per_gpu [info->gpu]++;
            /* the child sees the GPU the broker chose */
            int seen = -1;
            if (e2e_job_processes (h, info->id, 0, &seen) > 0) {
                cr_assert_eq (seen, info->gpu,
                              "job %s: CUDA_VISIBLE_DEVICES=%d, broker chose "
                              "GPU %d",
                              info->id, seen, info->gpu);
                checked++;
            }
        }
        H_ASSERT (h, per_gpu [0] <= 2 && per_gpu [1] <= 2,
                  "%d and %d jobs of 3 GB on two 8 GB GPUs", per_gpu [0], per_gpu [1]);
        if ((int) list.n_jobs > most)
            most = (int) list.n_jobs;
        segq_job_list_clear (&list);
        int done = 0;
        for (int i = 0; i < N; i++) {
            segq_job_info_t info;
            H_ASSERT (h, segq_client_job (c, jobs [i], false, &info) == 0, "status %s", jobs [i]);
            H_ASSERT (h, !segq_job_state_final (info.state) || info.state == SEGQ_JOB_SUCCEEDED,
                      "job %s ended %s", jobs [i], segq_job_state_name (info.state));
            done += info.state == SEGQ_JOB_SUCCEEDED;
            segq_job_info_clear (&info);
        }
        all_done = done == N;
        e2e_sleep_ms (50);
    }
    H_ASSERT (h, all_done, "the 3 GB jobs did not all succeed");
    cr_assert_eq (most, 4, "at most %d ran at once: 4 fit (2 per GPU)", most);
    cr_assert (checked >= 4, "only %d children's environments seen", checked);

    segq_job_info_t info;
    cr_assert_eq (segq_client_job (c, big, false, &info), 0);
    cr_assert_eq (info.state, SEGQ_JOB_QUEUED, "the 10 GB job is %s",
                  segq_job_state_name (info.state));
    segq_job_info_clear (&info);
    char out [1024], err [4096];
    const char *cancel [] = { "cancel", big, NULL };
    H_ASSERT (h, harness_cli (h, out, sizeof out, err, sizeof err, cancel) == 0, "cancel: %s", err);
    segq_client_destroy (&c);
    H_ASSERT_CLEAN_STOP (h);
    harness_destroy (&h);
}
