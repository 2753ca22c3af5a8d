/*  test_http_metrics.c: GET /metrics of a real segqd, read by the
    Prometheus client's own parser (Debian's python3-prometheus-client,
    tests/http/parse_metrics.py), after a scripted workload of test kinds
    on a real segq-worker whose values are known exactly: jobs per state,
    kind and user; submits, results and refusals; the wait and run
    histograms' counts; the worker's GPU and CPU capacity and what its
    running job reserves; the artifact store; the transfers open (one
    upload a client announced and left waiting). Then the broker restarts: the
    jobs per state are counted again from the database, the counters and
    histograms start over (Prometheus's reset). */
#include <criterion/criterion.h>
#include <time.h>
#include <jansson.h>
#include <math.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "http_test.h"

#define GIB ((uint64_t) 1 << 30)

static harness_t *h;
static char url [300];

static void
setup (void)
{
    h = harness_new ("http-metrics");
    cr_assert_not_null (h);
    const char *http [] = { "--http", "127.0.0.1:0", NULL };
    cr_assert_eq (harness_start_broker (h, http), 0, "segqd did not start");
    H_ASSERT (h, http_url (h, url, sizeof url) == 0, "segqd logged no HTTP address");
    const char *gpus [] = { "--gpus", "0:TestGPU:8G", NULL };
    H_ASSERT (h, harness_start_worker (h, "w1", 2, gpus) >= 0, "no worker");
}

static void
teardown (void)
{
    harness_destroy (&h);
}

/* /metrics through the parser: {"families": {...}, "samples": [...]}. */
static json_t *
s_scrape (const char *tag)
{
    http_answer_t answer;
    H_ASSERT (h, http_get (url, "/metrics", NULL, NULL, &answer) == 0, "no connection to %s", url);
    H_ASSERT (h, answer.status == 200, "GET /metrics: %d %s", answer.status, answer.body);
    cr_assert (strstr (answer.head, "Content-Type: text/plain; version=0.0.4"), "%s", answer.head);
    char text [600], parsed [600], log [600], script [600];
    snprintf (text, sizeof text, "%s/metrics-%s.txt", h->dir, tag);
    snprintf (parsed, sizeof parsed, "%s/metrics-%s.json", h->dir, tag);
    snprintf (log, sizeof log, "%s/parse_metrics.log", h->dir);
    snprintf (script, sizeof script, "%s/tests/http/parse_metrics.py", SEGQ_SOURCE_DIR);
    FILE *f = fopen (text, "w");
    cr_assert (f && fwrite (answer.body, 1, answer.size, f) == answer.size && fclose (f) == 0);
    http_answer_clear (&answer);
    /* Debian's interpreter, where deploy/deps.sh put the parser */
    const char *argv [] = { "/usr/bin/python3", script, text, NULL };
    int rc = http_run (argv, parsed, log, NULL);
    char *why = http_slurp (log, NULL);
    cr_assert_eq (rc, 0, "the Prometheus parser refused %s: %s", text, why ? why : "?");
    free (why);
    json_error_t error;
    json_t *out = json_load_file (parsed, 0, &error);
    cr_assert_not_null (out, "%s: %s", parsed, error.text);
    return out;
}

/* The value of sample `name` whose labels are exactly the n (key, value)
   pairs given; NAN if there is none. */
static double
s_value (json_t *scrape, const char *name, size_t n, ...)
{
    size_t i;
    json_t *sample;
    json_array_foreach (json_object_get (scrape, "samples"), i, sample)
    {
        json_t *labels = json_object_get (sample, "labels");
        if (strcmp (json_string_value (json_object_get (sample, "name")), name) != 0
            || json_object_size (labels) != n)
            continue;
        bool match = true;
        va_list args;
        va_start (args, n);
        for (size_t k = 0; k < n; k++) {
            const char *key = va_arg (args, const char *), *value = va_arg (args, const char *);
            const char *has = json_string_value (json_object_get (labels, key));
            match = match && has && strcmp (has, value) == 0;
        }
        va_end (args);
        if (match)
            return json_number_value (json_object_get (sample, "value"));
    }
    return NAN;
}

#define S_EQ(scrape, expected, name, n, ...)                                                       \
    do {                                                                                           \
        double got_ = s_value (scrape, name, n, ##__VA_ARGS__);                                    \
        cr_assert (got_ == (double) (expected), "%s%s: %g, expected %g", name, #__VA_ARGS__, got_, \
                   (double) (expected));                                                           \
    } while (0)

#define JOBS(scrape, expected, state, kind)                                                        \
    S_EQ (scrape, expected, "segq_jobs", 3, "state", state, "kind", kind, "user", H_USER)

static void
s_submit (segq_client_t *c, segq_job_spec_t *spec, char job [SEGQ_JOB_ID_MAX])
{
    int rc = segq_client_submit (c, spec, job, SEGQ_JOB_ID_MAX);
    H_ASSERT (h, rc == 0, "submit: %s", segq_client_error (c));
    segq_job_spec_destroy (&spec);
}

static segq_job_spec_t *
s_sleep (const char *seconds, uint64_t gpu_mem)
{
    segq_job_spec_t *spec = segq_job_spec_new ("sleep");
    char err [256];
    cr_assert_eq (segq_job_spec_param (spec, "seconds", seconds, err, sizeof err), 0, "%s", err);
    segq_job_spec_set_gpu_mem (spec, gpu_mem);
    return spec;
}

static void
s_wait_final (segq_client_t *c, const char *job, segq_job_state_t state)
{
    segq_job_info_t info = { 0 };
    int rc = harness_wait_final (c, job, 60000, &info);
    H_ASSERT (h, rc == 0 && info.state == state, "job %s: %s, expected %s", job,
              rc ? segq_strerror (rc) : segq_job_state_name (info.state),
              segq_job_state_name (state));
    segq_job_info_clear (&info);
}

/* What the workload left: every value exact. long_running: the long
   GPU job still runs (else it was cancelled). */
static void
s_check_jobs (json_t *m, bool long_running)
{
    JOBS (m, 4, "succeeded", "sleep");
    JOBS (m, long_running, "running", "sleep");
    JOBS (m, !long_running, "cancelled", "sleep");
    JOBS (m, 0, "queued", "sleep");
    JOBS (m, 0, "waiting", "sleep");
    JOBS (m, 1, "failed", "fail");
    JOBS (m, 0, "succeeded", "fail");
    JOBS (m, 1, "succeeded", "echo");
    /* no job of a kind nobody ran is written */
    cr_assert (
        isnan (s_value (m, "segq_jobs", 3, "state", "succeeded", "kind", "train", "user", H_USER)));
}

static void
s_check_families (json_t *m)
{
    json_t *families = json_object_get (m, "families");
    static const char *const types [][2] = {
        { "segq_start_time_seconds", "gauge" },
        { "segq_jobs", "gauge" },
        { "segq_job_wait_seconds", "histogram" },
        { "segq_job_run_seconds", "histogram" },
        { "segq_submits", "counter" },
        { "segq_results", "counter" },
        { "segq_refusals", "counter" },
        { "segq_store_commit_seconds", "histogram" },
        { "segq_workers", "gauge" },
        { "segq_gpu_memory_bytes", "gauge" },
        { "segq_gpu_memory_used_bytes", "gauge" },
        { "segq_cpu_slots", "gauge" },
        { "segq_cpu_slots_used", "gauge" },
        { "segq_artifact_store_bytes", "gauge" },
        { "segq_artifact_store_files", "gauge" },
        { "segq_transfers_open", "gauge" },
        { "segq_transfers_disk_wait", "gauge" },
    };
    for (size_t i = 0; i < sizeof types / sizeof types [0]; i++) {
        const char *type = json_string_value (json_object_get (families, types [i][0]));
        cr_assert (type && strcmp (type, types [i][1]) == 0, "family %s: %s, expected %s",
                   types [i][0], type ? type : "absent", types [i][1]);
    }
}

/* The counters and histograms of the workload, before the long job ended. */
static void
s_check_counters (json_t *m, const char *refused_code)
{
    S_EQ (m, 7, "segq_submits_total", 0);
    S_EQ (m, 1, "segq_refusals_total", 1, "code", refused_code);
    S_EQ (m, 5, "segq_results_total", 1, "outcome", "succeeded");
    S_EQ (m, 1, "segq_results_total", 1, "outcome", "failed");
    S_EQ (m, 0, "segq_results_total", 1, "outcome", "cancelled");
    S_EQ (m, 0, "segq_results_total", 1, "outcome", "stale");
    S_EQ (m, 5, "segq_job_wait_seconds_count", 1, "kind", "sleep");
    S_EQ (m, 5, "segq_job_wait_seconds_bucket", 2, "kind", "sleep", "le", "+Inf");
    S_EQ (m, 1, "segq_job_wait_seconds_count", 1, "kind", "fail");
    S_EQ (m, 1, "segq_job_wait_seconds_count", 1, "kind", "echo");
    S_EQ (m, 4, "segq_job_run_seconds_count", 1, "kind", "sleep");
    S_EQ (m, 1, "segq_job_run_seconds_count", 1, "kind", "fail");
    S_EQ (m, 1, "segq_job_run_seconds_count", 1, "kind", "echo");
    /* four sleeps of 0.2 s ran at least that long, none of them a minute */
    double run = s_value (m, "segq_job_run_seconds_sum", 1, "kind", "sleep");
    cr_assert (run >= 0.8 && run < 60, "sleep's run time %g s", run);
    S_EQ (m, 0, "segq_job_run_seconds_bucket", 2, "kind", "sleep", "le", "0.1");
    S_EQ (m, 4, "segq_job_run_seconds_bucket", 2, "kind", "sleep", "le", "60");
    cr_assert (s_value (m, "segq_store_commit_seconds_count", 0) >= 1);
}

/* The worker's capacity, and what the scheduler reserved for the long
   GPU job: what `segq workers` says, and what the job declared. */
static void
s_check_resources (json_t *m, segq_client_t *c, uint64_t file_size)
{
    segq_worker_info_t *workers = NULL;
    size_t n = 0;
    cr_assert_eq (segq_client_workers (c, &workers, &n), 0, "%s", segq_client_error (c));
    cr_assert_eq (n, 1);
    S_EQ (m, 1, "segq_workers", 1, "state", "active");
    S_EQ (m, 0, "segq_workers", 1, "state", "lost");
    S_EQ (m, 8 * GIB, "segq_gpu_memory_bytes", 2, "node", "w1", "gpu", "0");
    S_EQ (m, 3 * GIB, "segq_gpu_memory_used_bytes", 2, "node", "w1", "gpu", "0");
    S_EQ (m, workers [0].gpus [0].mem_used, "segq_gpu_memory_used_bytes", 2, "node", "w1", "gpu",
          "0");
    S_EQ (m, 2, "segq_cpu_slots", 1, "node", "w1");
    S_EQ (m, workers [0].cpu_used, "segq_cpu_slots_used", 1, "node", "w1");
    segq_workers_free (&workers, n);
    /* the echo's input, and its output: the same bytes, one file */
    S_EQ (m, 1, "segq_artifact_store_files", 0);
    S_EQ (m, file_size, "segq_artifact_store_bytes", 0);
}

/* An upload a client announces and leaves open (the socket keeps it):
   PUT, PUT_READY, no CHUNK. */
static zsock_t *
s_open_upload (void)
{
    zsock_t *sock = zsock_new_dealer (h->endpoint);
    cr_assert_not_null (sock);
    zsock_set_rcvtimeo (sock, 10000);
    segq_msg_t *put = segq_msg_new (SEGQ_MSG_PUT);
    cr_assert_not_null (put);
    put->u.put.req_id = 1;
    put->u.put.size = 1u << 20;
    put->u.put.name = strdup ("left-open.bin");
    cr_assert_eq (segq_msg_send (&put, sock, NULL), 0);
    segq_msg_t *reply = NULL;
    char err [256];
    cr_assert_eq (segq_msg_recv (sock, NULL, &reply, NULL, err, sizeof err), 0, "%s", err);
    cr_assert_eq (reply->type, SEGQ_MSG_PUT_READY, "%s", segq_msg_type_name (reply->type));
    segq_msg_destroy (&reply);
    return sock;
}

/* Transfers open: the one upload s_open_upload left, nothing else. */
static void
s_check_transfers (json_t *m)
{
    S_EQ (m, 1, "segq_transfers_open", 2, "direction", "upload", "peer", "client");
    S_EQ (m, 0, "segq_transfers_open", 2, "direction", "download", "peer", "client");
    S_EQ (m, 0, "segq_transfers_open", 2, "direction", "upload", "peer", "worker");
    S_EQ (m, 0, "segq_transfers_open", 2, "direction", "download", "peer", "worker");
    S_EQ (m, 0, "segq_transfers_disk_wait", 0);
}

/* A submit the broker itself refuses (an input naming no job): the
   refusal's code name, for segq_refusals_total. */
static const char *
s_refused_submit (segq_client_t *c)
{
    segq_job_spec_t *spec = segq_job_spec_new ("echo");
    char err [256], job [SEGQ_JOB_ID_MAX];
    cr_assert_eq (segq_job_spec_input_job (spec, "files", "fff0", NULL, err, sizeof err), 0, "%s",
                  err);
    int rc = segq_client_submit (c, spec, job, sizeof job);
    segq_job_spec_destroy (&spec);
    H_ASSERT (h, rc < 0, "a submit naming unknown job fff0 was accepted as %s", job);
    return segq_error_name (rc);
}

Test (http_metrics, exact_values_after_a_workload_and_a_restart, .init = setup, .fini = teardown,
      .timeout = 240)
{
    segq_client_t *c = harness_client (h, 0);
    cr_assert_not_null (c);
    char jobs [7][SEGQ_JOB_ID_MAX], err [256];
    for (int i = 0; i < 3; i++)
        s_submit (c, s_sleep ("0.2", 0), jobs [i]);
    s_submit (c, s_sleep ("0.2", 2 * GIB), jobs [3]);
    s_submit (c, segq_job_spec_new ("fail"), jobs [4]);
    char file [600];
    snprintf (file, sizeof file, "%s/input.bin", h->dir);
    cr_assert_eq (harness_write_random_file (file, 1000, 3), 0);
    segq_job_spec_t *echo = segq_job_spec_new ("echo");
    cr_assert_eq (segq_job_spec_input_file (echo, "files", file, err, sizeof err), 0, "%s", err);
    s_submit (c, echo, jobs [5]);
    const char *refused = s_refused_submit (c);
    s_submit (c, s_sleep ("300", 3 * GIB), jobs [6]);
    for (int i = 0; i < 6; i++)
        s_wait_final (c, jobs [i], i == 4 ? SEGQ_JOB_FAILED : SEGQ_JOB_SUCCEEDED);
    H_ASSERT (h, harness_wait_state (c, jobs [6], SEGQ_JOB_RUNNING, 30000) == 0, "not running");

    zsock_t *uploader = s_open_upload ();
    json_t *m = s_scrape ("workload");
    double started = s_value (m, "segq_start_time_seconds", 0);
    cr_assert (started > 1.7e9 && started <= (double) time (NULL) + 1, "started %f", started);
    s_check_families (m);
    s_check_jobs (m, true);
    s_check_counters (m, refused);
    s_check_resources (m, c, 1000);
    s_check_transfers (m);
    json_decref (m);
    zsock_destroy (&uploader);

    /* the long job cancelled while it runs: its worker's result ends it */
    const char *cancel [] = { jobs [6] };
    segq_cancel_outcome_t *outcomes = NULL;
    size_t n_outcomes = 0;
    cr_assert_eq (segq_client_cancel (c, cancel, 1, &outcomes, &n_outcomes), 0, "%s",
                  segq_client_error (c));
    segq_cancel_outcomes_free (&outcomes, n_outcomes);
    s_wait_final (c, jobs [6], SEGQ_JOB_CANCELLED);
    m = s_scrape ("cancelled");
    s_check_jobs (m, false);
    S_EQ (m, 1, "segq_results_total", 1, "outcome", "cancelled");
    S_EQ (m, 5, "segq_job_run_seconds_count", 1, "kind", "sleep");
    S_EQ (m, 0, "segq_gpu_memory_used_bytes", 2, "node", "w1", "gpu", "0");
    json_decref (m);
    segq_client_destroy (&c);

    /* a new segqd: the same jobs counted from the database, counters anew */
    harness_signal_broker (h, SIGTERM);
    cr_assert_eq (harness_start_broker (h, (const char *[]){ "--http", "127.0.0.1:0", NULL }), 0);
    H_ASSERT (h, http_url (h, url, sizeof url) == 0, "segqd logged no HTTP address");
    m = s_scrape ("restarted");
    s_check_jobs (m, false);
    S_EQ (m, 0, "segq_submits_total", 0);
    cr_assert_gt (s_value (m, "segq_start_time_seconds", 0), started, "the restart's time");
    cr_assert (isnan (s_value (m, "segq_job_wait_seconds_count", 1, "kind", "sleep")));
    json_decref (m);
    H_ASSERT_CLEAN_STOP (h);
}
