/*  broker_sched: the broker's scheduler under a realistic mix.

    100 users submit through the real submit path (validation, SQLite in
    WAL + synchronous=FULL, group commit of 10,000 per transaction) a mix of
    CPU jobs and GPU jobs asking 2..40 GB, plus, at each user's highest
    priority, jobs asking 80 GB that fit no worker. 16 workers with 4 GPUs
    (24 or 48 GB) and 32 CPU slots each. Once full, each step ends one
    running job at random and times one dispatch. Prints, for 10^3, 10^5
    and 10^6 queued jobs: submit rate, dispatch p50/p99/max, and RSS.

    With "limits": every user also has the per-user limits of a config
    file (max_running 4, max_gpu_mem 48G), so at any time many users sit
    at their limit: dispatch must stay as flat.

    usage: broker_sched [MAX_QUEUED] [limits]   (default 1000000)
*/
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include "jobs.h"

#define GB    (1ULL << 30)
#define STEPS 20000

static double
s_mono (void)
{
    struct timespec ts;
    clock_gettime (CLOCK_MONOTONIC, &ts);
    return ts.tv_sec + ts.tv_nsec / 1e9;
}

static long
s_rss_kib (void)
{
    FILE *file = fopen ("/proc/self/status", "r");
    char line [256];
    long kib = -1;
    while (file && fgets (line, sizeof line, file))
        if (strncmp (line, "VmRSS:", 6) == 0)
            kib = atol (line + 6);
    if (file)
        fclose (file);
    return kib;
}

static int
s_cmp (const void *a, const void *b)
{
    double x = *(const double *) a, y = *(const double *) b;
    return x < y ? -1 : x > y;
}

typedef struct {
    segq__sched_job_t **running;
    size_t n_running, cap_running;
} state_t;

static void
s_assigned (void *arg, segq__sched_job_t *job, segq__sched_node_t *node, int32_t gpu)
{
    state_t *state = arg;
    if (state->n_running == state->cap_running) {
        state->cap_running = state->cap_running ? state->cap_running * 2 : 1024;
        state->running = realloc (state->running, state->cap_running * sizeof *state->running);
        if (!state->running)
            abort ();
    }
    state->running [state->n_running++] = job;
}

static int
s_run (size_t queued, const segq_config_t *limits)
{
    char dir [] = "/tmp/segq-bench-sched-XXXXXX", path [64], err [1024] = "";
    if (!mkdtemp (dir))
        return 1;
    snprintf (path, sizeof path, "%s/segq.db", dir);
    segq__job_store_t *store = segq__job_store_open (path, err, sizeof err);
    segq__artifact_store_t *artifacts =
        store ? segq__artifact_store_new (dir, err, sizeof err) : NULL;
    segq__sched_t *sched = segq__sched_new ();
    segq__jobs_config_t config = { .max_attempts = 3, .orphan_grace_s = 5, .limits = limits };
    segq__jobs_t *jobs = artifacts ? segq__jobs_new (store, sched, artifacts, &config) : NULL;
    if (!jobs) {
        fprintf (stderr, "broker_sched: %s\n", err);
        return 1;
    }
    long rss_before = s_rss_kib ();
    static const uint64_t sizes [] = { 0,       0,       2 * GB,  4 * GB, 8 * GB,
                                       12 * GB, 16 * GB, 24 * GB, 40 * GB };
    srand (42);
    char user [32], id [SEGQ__JOB_ID_MAX];
    double t0 = s_mono ();
    for (size_t i = 0; i < queued; i++) {
        segq_submit_t submit = { .kind = "sleep" };
        snprintf (user, sizeof user, "user%02d", rand () % 100);
        submit.user = user;
        if (i % 97 == 0) {
            submit.gpu_mem = 80 * GB; /* fits no worker, at the head */
            submit.priority = 10;
        } else {
            submit.gpu_mem = sizes [rand () % (sizeof sizes / sizeof sizes [0])];
            submit.priority = rand () % 4;
            submit.cpu_slots = submit.gpu_mem ? 0 : 1 + rand () % 4;
        }
        if (segq__jobs_submit (jobs, &submit, 1.0, id, err, sizeof err)) {
            fprintf (stderr, "broker_sched: submit: %s\n", err);
            return 1;
        }
        if ((i + 1) % 10000 == 0 && segq__job_store_commit (store, err, sizeof err)) {
            fprintf (stderr, "broker_sched: commit: %s\n", err);
            return 1;
        }
    }
    if (segq__job_store_commit (store, err, sizeof err))
        return 1;
    double submit_s = s_mono () - t0;
    long rss_queued = s_rss_kib ();
    /* the workers */
    for (int n = 0; n < 16; n++) {
        segq__sched_gpu_t gpus [4];
        for (int g = 0; g < 4; g++) {
            gpus [g].index = (uint32_t) g;
            gpus [g].mem_total = (n % 2 ? 48 : 24) * GB;
        }
        segq__sched_node_new (sched, NULL, 32, gpus, 4, ~0ULL, 1024);
    }
    /* fair share over time as segqd runs it: a week's half-life, and the
       clock moving before every dispatch (which reorders the users) */
    double now = 1000.0;
    segq__sched_set_half_life (sched, 7 * 86400.0);
    segq__sched_set_now (sched, now);
    state_t state = { 0 };
    segq__sched_dispatch (sched, 1 << 20, s_assigned, &state);
    size_t filled = state.n_running;
    static double lat [STEPS];
    size_t steps = 0;
    for (; steps < STEPS && state.n_running; steps++) {
        size_t k = (size_t) rand () % state.n_running;
        segq__sched_release (sched, state.running [k]);
        state.running [k] = state.running [--state.n_running];
        double start = s_mono ();
        segq__sched_set_now (sched, now += 0.25);
        segq__sched_dispatch (sched, 64, s_assigned, &state);
        lat [steps] = (s_mono () - start) * 1e6;
    }
    qsort (lat, steps, sizeof lat [0], s_cmp);
    printf ("queued %8zu: submit %7.0f jobs/s | dispatch p50 %6.2f us  p99 %6.2f us  max %7.2f us "
            "(%zu steps, %zu running) | RSS %6.1f MiB (+%.1f MiB for the queue)\n",
            queued, queued / submit_s, lat [steps / 2], lat [steps * 99 / 100], lat [steps - 1],
            steps, filled, rss_queued / 1024.0, (rss_queued - rss_before) / 1024.0);
    fflush (stdout);
    free (state.running);
    segq__jobs_destroy (&jobs);
    segq__sched_destroy (&sched);
    segq__artifact_store_destroy (&artifacts);
    segq__job_store_destroy (&store);
    char command [128];
    snprintf (command, sizeof command, "rm -rf '%s'", dir);
    return system (command);
}

int
main (int argc, char *argv [])
{
    size_t max = argc > 1 ? strtoull (argv [1], NULL, 10) : 1000000;
    segq_config_t *limits = NULL;
    if (argc > 2 && strcmp (argv [2], "limits") == 0) {
        static const char text [] = "[defaults]\nmax_running = 4\nmax_gpu_mem = 48G\n";
        char err [256];
        limits = segq_config_new ();
        if (!limits || segq_config_parse (limits, "limits", text, sizeof text - 1, err, sizeof err))
            return 1;
    }
    printf ("broker_sched: 100 users, 16 workers x (4 GPUs of 24/48 GB, 32 CPU slots), "
            "1 job in 97 fits no worker%s\n",
            limits ? "; per user: max_running 4, max_gpu_mem 48G" : "");
    static const size_t sizes [] = { 1000, 100000, 1000000 };
    int rc = 0;
    for (size_t i = 0; i < 3 && sizes [i] <= max && rc == 0; i++)
        rc = s_run (sizes [i], limits);
    segq_config_destroy (&limits);
    return rc;
}
