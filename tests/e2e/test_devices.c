/*  test_devices.c: the worker's reading of `segq-run devices` (its JSON as
    pipeline/devices.c prints it), and discovery through a stand-in
    program: GPUs with names and memory, CPU cores, and clear errors. */
#define _GNU_SOURCE
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include "segq_worker.h"

/* What segq-run devices prints on a node with two GPUs. */
static const char s_two_gpus [] =
    "{\n  \"cpu\": {\"cores\": 16},\n  \"cuda\": [\n"
    "    {\"device\": \"cuda:0\", \"free_bytes\": 1, \"major\": 9, \"minor\": 0,"
    " \"name\": \"NVIDIA H100 80GB HBM3\", \"total_bytes\": 85028569088},\n"
    "    {\"device\": \"cuda:1\", \"free_bytes\": 1, \"major\": 8, \"minor\": 6,"
    " \"name\": \"NVIDIA RTX A4000\", \"total_bytes\": 17171480576}\n  ],\n"
    "  \"cuda_build\": true,\n  \"torch_version\": \"2.11.0\"\n}\n";

Test (devices, parses_gpus_and_cores, .timeout = 10)
{
    segq_worker_devices_t d;
    char err [256] = "";
    cr_assert_eq (segq_worker_devices_parse (s_two_gpus, &d, err, sizeof err), 0, "%s", err);
    cr_assert_eq (d.cpu_cores, 16);
    cr_assert_eq (d.n_gpus, 2);
    cr_assert_eq (d.gpus [0].index, 0);
    cr_assert_str_eq (d.gpus [0].name, "NVIDIA H100 80GB HBM3");
    cr_assert_eq (d.gpus [0].mem_total, 85028569088ull);
    cr_assert_eq (d.gpus [1].index, 1);
    cr_assert_eq (d.gpus [1].mem_total, 17171480576ull);
    segq_worker_devices_clear (&d);
    cr_assert_null (d.gpus);
}

Test (devices, cpu_only_machine, .timeout = 10)
{
    segq_worker_devices_t d;
    char err [256] = "";
    const char *cpu = "{\"cpu\": {\"cores\": 2}, \"cuda\": [], \"cuda_build\": false}";
    cr_assert_eq (segq_worker_devices_parse (cpu, &d, err, sizeof err), 0, "%s", err);
    cr_assert_eq (d.cpu_cores, 2);
    cr_assert_eq (d.n_gpus, 0);
    segq_worker_devices_clear (&d);
}

Test (devices, refuses_bad_reports, .timeout = 10)
{
    static const struct {
        const char *json, *says;
    } cases [] = {
        { "not json", "not JSON" },
        { "{\"cuda\": []}", "cpu.cores" },
        { "{\"cpu\": {\"cores\": 0}}", "cpu.cores" },
        { "{\"cpu\": {\"cores\": 2}, \"cuda\": {}}", "not a list" },
        { "{\"cpu\": {\"cores\": 2}, \"cuda\": [{\"device\": \"gpu0\", \"name\": \"x\","
          " \"total_bytes\": 5}]}",
          "CUDA device 0" },
        { "{\"cpu\": {\"cores\": 2}, \"cuda\": [{\"device\": \"cuda:0\", \"name\": \"x\","
          " \"total_bytes\": -5}]}",
          "total_bytes" },
        { "{\"cpu\": {\"cores\": 2}, \"cuda\": [{\"device\": \"cuda:0\","
          " \"total_bytes\": 5}]}",
          "name" },
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases [0]; i++) {
        segq_worker_devices_t d;
        char err [256] = "";
        cr_assert_lt (segq_worker_devices_parse (cases [i].json, &d, err, sizeof err), 0,
                      "accepted %s", cases [i].json);
        cr_assert (strstr (err, cases [i].says), "%s: error '%s' does not say '%s'", cases [i].json,
                   err, cases [i].says);
        cr_assert_eq (d.n_gpus, 0);
        cr_assert_null (d.gpus);
    }
}

/* A stand-in for segq-run: prints the report only if the worker set
   CUDA_DEVICE_ORDER=PCI_BUS_ID first (so indices match nvidia-smi). */
static void
s_fake_segq_run (char *path, size_t len, const char *body)
{
    char dir [] = "/tmp/segq-e2e-devices-XXXXXX";
    cr_assert_not_null (mkdtemp (dir));
    snprintf (path, len, "%s/segq-run", dir);
    FILE *f = fopen (path, "w");
    cr_assert_not_null (f);
    fprintf (f, "#!/bin/sh\n%s\n", body);
    cr_assert_eq (fclose (f), 0);
    cr_assert_eq (chmod (path, 0755), 0);
}

static void
s_remove_fake (const char *path)
{
    char dir [512];
    snprintf (dir, sizeof dir, "%s", path);
    unlink (path);
    *strrchr (dir, '/') = 0;
    rmdir (dir);
}

Test (devices, discovers_through_segq_run, .timeout = 30)
{
    char path [512];
    s_fake_segq_run (
        path, sizeof path,
        "[ \"$1\" = devices ] || exit 3\n"
        "[ \"$CUDA_DEVICE_ORDER\" = PCI_BUS_ID ] || { echo 'no PCI order' >&2; exit 4; }\n"
        "echo '{\"cpu\": {\"cores\": 12}, \"cuda\": [{\"device\": \"cuda:3\","
        " \"name\": \"TestGPU\", \"total_bytes\": 8589934592}]}'");
    unsetenv ("CUDA_DEVICE_ORDER");
    segq_worker_devices_t d;
    char err [512] = "";
    int rc = segq_worker_devices_discover (path, &d, err, sizeof err);
    s_remove_fake (path);
    cr_assert_eq (rc, 0, "%s", err);
    cr_assert_eq (d.cpu_cores, 12);
    cr_assert_eq (d.n_gpus, 1);
    cr_assert_eq (d.gpus [0].index, 3);
    cr_assert_str_eq (d.gpus [0].name, "TestGPU");
    cr_assert_eq (d.gpus [0].mem_total, 8ull << 30);
    cr_assert_str_eq (getenv ("CUDA_DEVICE_ORDER"), "PCI_BUS_ID");
    segq_worker_devices_clear (&d);
}

Test (devices, failing_segq_run_is_a_clear_error, .timeout = 30)
{
    char path [512];
    s_fake_segq_run (path, sizeof path, "echo 'libtorch: cannot load' >&2\nexit 1");
    segq_worker_devices_t d;
    char err [512] = "";
    int rc = segq_worker_devices_discover (path, &d, err, sizeof err);
    s_remove_fake (path);
    cr_assert_lt (rc, 0);
    cr_assert (strstr (err, "devices failed") && strstr (err, "exit status 1"), "%s", err);
    cr_assert_eq (d.n_gpus, 0);
    rc = segq_worker_devices_discover ("/nonexistent/segq-run", &d, err, sizeof err);
    cr_assert_lt (rc, 0);
    cr_assert (strstr (err, "/nonexistent/segq-run"), "%s", err);
}
