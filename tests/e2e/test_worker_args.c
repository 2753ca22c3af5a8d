/*  test_worker_args.c: how segq-worker runs an ML kind, seen from the
    child. A stand-in segq-run (a shell script) records its argv and
    environment as its output; real segqd, segq-worker and segq processes
    run a `generate` job on a declared GPU and one on CPU slots, and jobs of
    a worker given its GPUs by a CUDA_VISIBLE_DEVICES list (as Slurm does)
    on the physical devices of that list. No libtorch and no GPU needed:
    this is the plumbing the real segq-run relies on. */
#define _GNU_SOURCE
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include "harness.h"
#include "test_files.h"

static const char s_fake_segq_run [] =
    "#!/bin/sh\n"
    "[ \"$1\" = devices ] && exec echo '{\"cpu\": {\"cores\": 4}, \"cuda_build\": true}'\n"
    "out=$SEGQ_OUTPUT_DIR/args.txt\n"
    "for a in \"$@\"; do\n"
    "  echo \"arg $a\" >> \"$out\"\n"
    "  case $a in --model=*) test -f \"${a#--model=}\" && echo 'model file ok' >> \"$out\";; esac\n"
    "done\n"
    "echo \"env CUDA_VISIBLE_DEVICES=$CUDA_VISIBLE_DEVICES\" >> \"$out\"\n"
    "echo \"env CUDA_DEVICE_ORDER=$CUDA_DEVICE_ORDER\" >> \"$out\"\n"
    "echo \"env SEGQ_RESULT_MAX_BYTES=$SEGQ_RESULT_MAX_BYTES\" >> \"$out\"\n";

static void
s_run_job (harness_t *h, const char *const *submit, char *args, size_t len)
{
    char out [1024], err [4096];
    int rc = harness_cli (h, out, sizeof out, err, sizeof err, submit);
    H_ASSERT (h, rc == 0, "submit: exit %d: %s", rc, err);
    char job [64];
    out [strcspn (out, "\r\n")] = 0;
    cr_assert (out [0] && strlen (out) < sizeof job, "no job id: %s", out);
    memcpy (job, out, strlen (out) + 1);
    segq_client_t *c = harness_client (h, 0);
    segq_job_info_t info;
    H_ASSERT (h, harness_wait_final (c, job, 30000, &info) == 0, "job %s never ended", job);
    H_ASSERT (h, info.state == SEGQ_JOB_SUCCEEDED, "job %s ended %s: %s", job,
              segq_job_state_name (info.state), info.reason ? info.reason : "");
    segq_job_info_clear (&info);
    segq_client_destroy (&c);
    char dir [600], path [700];
    snprintf (dir, sizeof dir, "%s/fetched-%s", h->dir, job);
    const char *fetch [] = { "fetch", job, "-o", dir, NULL };
    H_ASSERT (h, harness_cli (h, out, sizeof out, err, sizeof err, fetch) == 0, "fetch: %s", err);
    snprintf (path, sizeof path, "%s/args.txt", dir);
    FILE *f = fopen (path, "r");
    cr_assert_not_null (f, "no %s", path);
    size_t n = fread (args, 1, len - 1, f);
    args [n] = 0;
    fclose (f);
}

/* A broker, and in the harness's directory the stand-in segq-run (fake)
   and a model file (in_model: the --input for it). */
static harness_t *
s_start (const char *name, char fake [600], char in_model [700])
{
    harness_t *h = harness_new (name);
    cr_assert_not_null (h);
    cr_assert_eq (harness_start_broker (h, NULL), 0);
    char model [600];
    snprintf (fake, 600, "%s/segq-run", h->dir);
    snprintf (model, sizeof model, "%s/model.safetensors", h->dir);
    snprintf (in_model, 700, "model=%s", model);
    cr_assert_eq (harness_write_script (fake, s_fake_segq_run), 0);
    cr_assert_eq (test_write_checkpoint (model, 32, 5), 0);
    return h;
}

Test (e2e, worker_passes_inputs_device_and_threads, .timeout = 60)
{
    char fake [600], in_model [700];
    harness_t *h = s_start ("e2e-args", fake, in_model);
    const char *extra [] = { "--segq-run", fake,       "--gpus", "1:FakeGPU:8G",
                             "--kinds",    "generate", NULL };
    H_ASSERT (h, harness_start_worker (h, "gpu-node", 3, extra) >= 0, "worker did not register");

    char args [8192];
    const char *on_gpu [] = { "submit",  "generate",  "--input", in_model, "--param",
                              "count=2", "--gpu-mem", "1G",      NULL };
    s_run_job (h, on_gpu, args, sizeof args);
    cr_assert (strstr (args, "arg generate\n"), "%s", args);
    cr_assert (strstr (args, "arg --count=2\n"), "%s", args);
    cr_assert (strstr (args, "arg --precision=fp32\n"), "defaults are passed too: %s", args);
    /* no seed given: the broker drew one, and it is passed like any parameter */
    cr_assert (strstr (args, "arg --seed=") && !strstr (args, "arg --seed=0\n"), "%s", args);
    /* a one-file input keeps the user's file name, model/model.safetensors,
       relative to the job's directory (segq-run's cwd): no worker path in
       what segq-run says */
    cr_assert (strstr (args, "arg --model=model/model.safetensors\nmodel file ok\n"),
               "input not passed as a path under its own name: %s", args);
    cr_assert (strstr (args, "arg --out=out\n"), "%s", args);
    cr_assert (strstr (args, "arg --device=cuda:0\n"), "%s", args);
    cr_assert (strstr (args, "arg --threads="), "%s", args);
    /* the broker's index, numbered like nvidia-smi */
    cr_assert (strstr (args, "env CUDA_VISIBLE_DEVICES=1\n"), "%s", args);
    cr_assert (strstr (args, "env CUDA_DEVICE_ORDER=PCI_BUS_ID\n"), "%s", args);
    /* the broker's max_msg (the harness's broker keeps the default): what
       generate's list of outputs must fit */
    char max [96];
    snprintf (max, sizeof max, "env SEGQ_RESULT_MAX_BYTES=%u\n", SEGQ_DEFAULT_MAX_MSG);
    cr_assert (strstr (args, max), "%s", args);

    const char *on_cpu [] = { "submit", "generate", "--input", in_model, "--cpu", "2", NULL };
    s_run_job (h, on_cpu, args, sizeof args);
    cr_assert (strstr (args, "arg --device=cpu\n"), "%s", args);
    cr_assert (strstr (args, "arg --threads=2\n"), "%s", args);
    cr_assert (strstr (args, "arg --count=50\n"), "%s", args);
    H_ASSERT_CLEAN_STOP (h);
    harness_destroy (&h);
}

/* Slurm gives the worker physical GPUs 7 and one by UUID: CUDA numbers them
   0 and 1 for it, and its jobs must get the list's entries, not 0 and 1. */
Test (e2e, gpus_of_a_cuda_visible_devices_list_are_passed_on, .timeout = 60)
{
    char fake [600], in_model [700], args [8192];
    harness_t *h = s_start ("e2e-visible", fake, in_model);
    /* the worker's GPU 0 is too small for the jobs: they go to its GPU 1 */
    const char *extra [] = { "--segq-run", fake,       "--gpus", "0:FakeA:1G,1:FakeB:8G",
                             "--kinds",    "generate", NULL };
    const char *uuid = "GPU-4a1b2c3d-0000-1111-2222-333344445555";
    char visible [128];
    snprintf (visible, sizeof visible, "7,%s", uuid);
    setenv ("CUDA_VISIBLE_DEVICES", visible, 1);
    int worker = harness_start_worker (h, "slurm-node", 2, extra);
    unsetenv ("CUDA_VISIBLE_DEVICES");
    H_ASSERT (h, worker >= 0, "worker did not register");
    const char *on_gpu [] = { "submit", "generate", "--input", in_model, "--gpu-mem", "4G", NULL };
    s_run_job (h, on_gpu, args, sizeof args);
    char want [200];
    snprintf (want, sizeof want, "env CUDA_VISIBLE_DEVICES=%s\n", uuid);
    cr_assert (strstr (args, want), "%s", args);
    cr_assert (strstr (args, "arg --device=cuda:0\n"), "%s", args);
    /* `segq workers` shows the physical devices */
    char out [4096], err [4096];
    const char *workers [] = { "workers", NULL };
    H_ASSERT (h, harness_cli (h, out, sizeof out, err, sizeof err, workers) == 0, "%s", err);
    snprintf (want, sizeof want, "7:0 B/1.0 GiB %s:0 B/8.0 GiB", uuid);
    cr_assert (strstr (out, want), "no '%s' in:\n%s", want, out);
    const char *json [] = { "workers", "--json", NULL };
    H_ASSERT (h, harness_cli (h, out, sizeof out, err, sizeof err, json) == 0, "%s", err);
    cr_assert (strstr (out, "\"device\"") && strstr (out, "\"7\"") && strstr (out, uuid), "%s",
               out);
    H_ASSERT_CLEAN_STOP (h);
    harness_destroy (&h);
}
