/*  metrics.c: see metrics.h.

    Names follow Prometheus's conventions: the segq_ prefix, base units
    (seconds, bytes) in the name, _total on counters, a HELP and a TYPE
    line per family, label values escaped (\\, \", \n). A series that
    existed keeps being written (at 0) so that a graph shows a drop to 0
    rather than a gap: every state of a (user, kind) once it had a job,
    every result outcome, a kind's histogram once it observed something. */
#include "broker_internal.h"
#include "metrics.h"
#include "segq_hashx.h"
#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define N_STATES    7  /* segq_job_state_t is 1..6; 0 unused */
#define MAX_BUCKETS 12 /* bounds of the longest histogram below */
#define N_CODES     (-SEGQ_ELAST + 1)

/* Queue waits: from a dispatch at once to a day behind a busy lab's queue. */
static const double s_wait_bounds [] = { 0.01, 0.1, 1, 10, 60, 300, 1800, 3600, 14400, 86400 };
/* Runs: test kinds in under a second, a default training in half an hour
   on a GPU, hours on a CPU. */
static const double s_run_bounds [] = { 0.1,  1,    10,   60,    300,   900,
                                        1800, 3600, 7200, 14400, 43200, 86400 };
/* Group commits: an fsync of the WAL, from NVMe to a slow network disk. */
static const double s_commit_bounds [] = { 0.0005, 0.001, 0.002, 0.005, 0.01,
                                           0.025,  0.05,  0.1,   0.25,  1 };
#define N_OF(a) (sizeof (a) / sizeof (a) [0])

static const char *s_outcomes [SEGQ__RESULT_OUTCOMES] = { "succeeded", "failed", "cancelled",
                                                          "duplicate", "stale" };

typedef struct {
    const double *bounds;
    size_t n_bounds;
    uint64_t buckets [MAX_BUCKETS + 1]; /* per bucket (the last: above every bound) */
    uint64_t count;
    double sum;
} histogram_t;

/* One user's jobs: [kind][state]. */
typedef struct {
    char *name;
    uint64_t jobs []; /* n_kinds x N_STATES */
} user_jobs_t;

struct segq__metrics {
    const segq_kind_spec_t *kinds; /* the kind table: a job's sched.kind indexes it */
    size_t n_kinds;
    zhashx_t *users;         /* name -> user_jobs_t (owned) */
    segq__u64map_t *since;   /* active job number -> unix ms it entered its state */
    histogram_t *wait, *run; /* per kind */
    histogram_t commit;
    uint64_t submits;
    uint64_t results [SEGQ__RESULT_OUTCOMES];
    uint64_t refusals [N_CODES]; /* by -code */
    double started;              /* Unix seconds */
};

/* ---- the registry ---- */

static void
s_user_destroy (void **item)
{
    user_jobs_t *user = *item;
    if (user)
        free (user->name);
    free (user);
    *item = NULL;
}

static void
s_histogram_init (histogram_t *h, const double *bounds, size_t n)
{
    memset (h, 0, sizeof *h);
    h->bounds = bounds;
    h->n_bounds = n;
}

static void
s_observe (histogram_t *h, double value)
{
    if (!(value >= 0))
        value = 0; /* a clock stepped back: not a negative duration */
    size_t i = 0;
    while (i < h->n_bounds && value > h->bounds [i])
        i++;
    h->buckets [i]++;
    h->count++;
    h->sum += value;
}

segq__metrics_t *
segq__metrics_new (void)
{
    segq__metrics_t *self = calloc (1, sizeof *self);
    if (!self)
        return NULL;
    self->kinds = segq_kinds (&self->n_kinds);
    self->started = segq__broker_now ();
    self->users = segq_hashx_new ();
    self->since = segq__u64map_new ();
    self->wait = calloc (self->n_kinds ? self->n_kinds : 1, sizeof *self->wait);
    self->run = calloc (self->n_kinds ? self->n_kinds : 1, sizeof *self->run);
    if (!self->users || !self->since || !self->wait || !self->run) {
        segq__metrics_destroy (&self);
        return NULL;
    }
    zhashx_set_destructor (self->users, s_user_destroy);
    for (size_t k = 0; k < self->n_kinds; k++) {
        s_histogram_init (&self->wait [k], s_wait_bounds, N_OF (s_wait_bounds));
        s_histogram_init (&self->run [k], s_run_bounds, N_OF (s_run_bounds));
    }
    s_histogram_init (&self->commit, s_commit_bounds, N_OF (s_commit_bounds));
    return self;
}

void
segq__metrics_destroy (segq__metrics_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    segq__metrics_t *self = *self_p;
    zhashx_destroy (&self->users);
    segq__u64map_destroy (&self->since);
    free (self->wait);
    free (self->run);
    free (self);
    *self_p = NULL;
}

/* The user's counts, made on first sight; NULL out of memory. */
static user_jobs_t *
s_user (segq__metrics_t *self, const char *name)
{
    user_jobs_t *user = zhashx_lookup (self->users, name);
    if (user)
        return user;
    user = calloc (1, sizeof *user + self->n_kinds * N_STATES * sizeof user->jobs [0]);
    if (!user || !(user->name = strdup (name)) || zhashx_insert (self->users, name, user) != 0) {
        void *item = user;
        s_user_destroy (&item);
        return NULL;
    }
    return user;
}

static void
s_count (segq__metrics_t *self, const char *name, size_t kind, int state, int64_t delta)
{
    user_jobs_t *user =
        name && kind < self->n_kinds && state > 0 && state < N_STATES ? s_user (self, name) : NULL;
    if (!user)
        return; /* out of memory: this job goes uncounted until the next recount */
    uint64_t *n = &user->jobs [kind * N_STATES + (size_t) state];
    *n = delta < 0 && *n < (uint64_t) -delta ? 0 : *n + (uint64_t) delta;
}

/* ---- what happens ---- */

void
segq__metrics_job_changed (void *arg, const segq__job_t *job, int from, int to, double now)
{
    segq__metrics_t *self = arg;
    if (!self)
        return;
    const char *user = segq__sched_user_name (job->sched.user);
    size_t kind = job->sched.kind;
    if (from)
        s_count (self, user, kind, from, -1);
    s_count (self, user, kind, to, 1);
    uint64_t number = job->sched.seq;
    uint64_t since_ms = (uint64_t) (uintptr_t) segq__u64map_remove (self->since, number);
    double took = now - (double) since_ms / 1000;
    if (since_ms && kind < self->n_kinds && from == SEGQ_JOB_QUEUED && to == SEGQ_JOB_RUNNING)
        s_observe (&self->wait [kind], took);
    if (since_ms && kind < self->n_kinds && from == SEGQ_JOB_RUNNING
        && segq_job_state_final ((segq_job_state_t) to))
        s_observe (&self->run [kind], took);
    /* the time rides in the pointer: no allocation per job. A put that
       fails (out of memory) only leaves this job's next wait or run untimed */
    if (!segq_job_state_final ((segq_job_state_t) to))
        (void) segq__u64map_put (self->since, number, (void *) (uintptr_t) llround (now * 1000));
}

void
segq__metrics_submit (segq__metrics_t *self)
{
    if (self)
        self->submits++;
}

void
segq__metrics_result (segq__metrics_t *self, segq__result_outcome_t outcome)
{
    if (self && outcome < SEGQ__RESULT_OUTCOMES)
        self->results [outcome]++;
}

void
segq__metrics_refusal (segq__metrics_t *self, int code)
{
    if (self && code < 0 && -code < N_CODES)
        self->refusals [-code]++;
}

void
segq__metrics_commit (segq__metrics_t *self, double seconds)
{
    if (self)
        s_observe (&self->commit, seconds);
}

/* ---- counted again from the store ---- */

/* Runs sql, handing each row to fn. 0, or SEGQ_EIO with err. */
static int
s_query (sqlite3 *db, const char *sql, void (*fn) (segq__metrics_t *, sqlite3_stmt *),
         segq__metrics_t *self, char *err, size_t errlen)
{
    sqlite3_stmt *stmt = NULL;
    int step = sqlite3_prepare_v2 (db, sql, -1, &stmt, NULL);
    while (step == SQLITE_OK || step == SQLITE_ROW) {
        step = sqlite3_step (stmt);
        if (step == SQLITE_ROW)
            fn (self, stmt);
    }
    if (step != SQLITE_DONE)
        snprintf (err, errlen, "metrics: cannot count the jobs in the database: %s",
                  sqlite3_errmsg (db));
    sqlite3_finalize (stmt);
    return step == SQLITE_DONE ? 0 : SEGQ_EIO;
}

static void
s_row_count (segq__metrics_t *self, sqlite3_stmt *stmt)
{
    const char *owner = (const char *) sqlite3_column_text (stmt, 0);
    const segq_kind_spec_t *kind = segq_kind_find ((const char *) sqlite3_column_text (stmt, 1));
    if (kind)
        s_count (self, owner, (size_t) (kind - self->kinds), sqlite3_column_int (stmt, 2),
                 sqlite3_column_int64 (stmt, 3));
}

static void
s_row_since (segq__metrics_t *self, sqlite3_stmt *stmt)
{
    uint64_t number = (uint64_t) sqlite3_column_int64 (stmt, 0);
    double time = sqlite3_column_double (stmt, 1);
    if (time > 0)
        (void) segq__u64map_put (self->since, number, (void *) (uintptr_t) llround (time * 1000));
}

int
segq__metrics_recount (segq__metrics_t *self, segq__job_store_t *store, char *err, size_t errlen)
{
    if (!self)
        return 0;
    zhashx_purge (self->users);
    segq__u64map_destroy (&self->since);
    if (!(self->since = segq__u64map_new ()))
        return segq_fail (err, errlen, SEGQ_ENOMEM, "metrics: out of memory");
    sqlite3 *db = segq__job_store_db (store);
    int rc = s_query (db, "SELECT owner, kind, state, count(*) FROM jobs GROUP BY 1, 2, 3",
                      s_row_count, self, err, errlen);
    /* the active jobs only (the jobs_active index), each one's newest transition */
    if (rc == 0)
        rc = s_query (db,
                      "SELECT j.id, (SELECT t.time FROM transitions t WHERE t.job = j.id"
                      " ORDER BY t.n DESC LIMIT 1) FROM jobs j WHERE j.state <= 3",
                      s_row_since, self, err, errlen);
    return rc;
}

/* ---- the exposition ---- */

/* A label value or HELP text as the format escapes it. */
static void
s_escaped (FILE *out, const char *text, bool quotes)
{
    for (const char *c = text ? text : ""; *c; c++)
        if (*c == '\\')
            fputs ("\\\\", out);
        else if (*c == '\n')
            fputs ("\\n", out);
        else if (*c == '"' && quotes)
            fputs ("\\\"", out);
        else
            fputc (*c, out);
}

static void
s_family (FILE *out, const char *name, const char *type, const char *help)
{
    fprintf (out, "# HELP %s ", name);
    s_escaped (out, help, false);
    fprintf (out, "\n# TYPE %s %s\n", name, type);
}

/* The shortest of %.15g and %.17g that reads back as value. */
static void
s_number (FILE *out, double value)
{
    char text [40];
    snprintf (text, sizeof text, "%.15g", value);
    if (strtod (text, NULL) != value)
        snprintf (text, sizeof text, "%.17g", value);
    fputs (text, out);
}

/* name{k="v",...} value: labels holds n (key, value) pairs. */
static void
s_sample (FILE *out, const char *name, const char *const *labels, size_t n, double value)
{
    fputs (name, out);
    for (size_t i = 0; i < n; i++) {
        fprintf (out, "%s%s=\"", i ? "," : "{", labels [2 * i]);
        s_escaped (out, labels [2 * i + 1], true);
        fputc ('"', out);
    }
    fputs (n ? "} " : " ", out);
    s_number (out, value);
    fputc ('\n', out);
}

/* name_bucket (cumulative, le), name_sum, name_count; labels: n pairs
   before "le" (room for one more pair). */
static void
s_histogram (FILE *out, const char *name, const histogram_t *h, const char **labels, size_t n)
{
    char series [128], le [32];
    snprintf (series, sizeof series, "%s_bucket", name);
    uint64_t below = 0;
    for (size_t i = 0; i <= h->n_bounds; i++) {
        below += h->buckets [i];
        if (i < h->n_bounds)
            snprintf (le, sizeof le, "%g", h->bounds [i]);
        labels [2 * n] = "le";
        labels [2 * n + 1] = i < h->n_bounds ? le : "+Inf";
        s_sample (out, series, labels, n + 1, (double) below);
    }
    snprintf (series, sizeof series, "%s_sum", name);
    s_sample (out, series, labels, n, h->sum);
    snprintf (series, sizeof series, "%s_count", name);
    s_sample (out, series, labels, n, (double) h->count);
}

static int
s_user_order (const void *a, const void *b)
{
    return strcmp ((*(user_jobs_t *const *) a)->name, (*(user_jobs_t *const *) b)->name);
}

/* segq_jobs{state,kind,user}, users in name order (a stable page). */
static void
s_write_jobs (const segq__metrics_t *self, FILE *out)
{
    s_family (out, "segq_jobs", "gauge", "Jobs by state, kind and owner.");
    size_t n = zhashx_size (self->users), i = 0;
    user_jobs_t **users = n ? calloc (n, sizeof *users) : NULL;
    for (user_jobs_t *u = zhashx_first (self->users); u && users; u = zhashx_next (self->users))
        users [i++] = u;
    if (users)
        qsort (users, n, sizeof *users, s_user_order);
    for (i = 0; users && i < n; i++)
        for (size_t k = 0; k < self->n_kinds; k++) {
            const uint64_t *jobs = &users [i]->jobs [k * N_STATES];
            uint64_t any = 0;
            for (int s = 1; s < N_STATES; s++)
                any |= jobs [s];
            for (int s = 1; any && s < N_STATES; s++) {
                const char *labels [] = { "state", segq_job_state_name ((segq_job_state_t) s),
                                          "kind",  self->kinds [k].name,
                                          "user",  users [i]->name };
                s_sample (out, "segq_jobs", labels, 3, (double) jobs [s]);
            }
        }
    free (users);
}

static void
s_write_kind_histograms (FILE *out, const segq__metrics_t *self, const histogram_t *per_kind,
                         const char *name, const char *help)
{
    s_family (out, name, "histogram", help);
    for (size_t k = 0; k < self->n_kinds; k++) {
        const char *labels [4] = { "kind", self->kinds [k].name };
        if (per_kind [k].count)
            s_histogram (out, name, &per_kind [k], labels, 1);
    }
}

static void
s_write_counters (const segq__metrics_t *self, FILE *out)
{
    /* counters start at 0 with segqd: a restart shows here even where a
       counter grew past its old value between two scrapes */
    s_family (
        out, "segq_start_time_seconds", "gauge",
        "When this segqd started (Unix seconds); its counters and histograms count from then.");
    s_sample (out, "segq_start_time_seconds", NULL, 0, self->started);
    s_family (out, "segq_submits_total", "counter", "Jobs submitted and accepted.");
    s_sample (out, "segq_submits_total", NULL, 0, (double) self->submits);
    s_family (out, "segq_results_total", "counter",
              "Workers' results, by what came of them (stale: fenced, not the current attempt).");
    for (int i = 0; i < SEGQ__RESULT_OUTCOMES; i++) {
        const char *labels [] = { "outcome", s_outcomes [i] };
        s_sample (out, "segq_results_total", labels, 1, (double) self->results [i]);
    }
    s_family (out, "segq_refusals_total", "counter", "Error replies sent, by error code.");
    for (int code = 1; code < N_CODES; code++) {
        const char *labels [] = { "code", segq_error_name (-code) };
        if (self->refusals [code])
            s_sample (out, "segq_refusals_total", labels, 1, (double) self->refusals [code]);
    }
}

/* What the registry counted. */
static void
s_write_registry (const segq__metrics_t *self, FILE *out)
{
    s_write_jobs (self, out);
    s_write_kind_histograms (out, self, self->wait, "segq_job_wait_seconds",
                             "Time a job waited queued before it started running.");
    s_write_kind_histograms (out, self, self->run, "segq_job_run_seconds",
                             "Time a job ran, until it succeeded, failed or was cancelled.");
    s_write_counters (self, out);
    s_family (out, "segq_store_commit_seconds", "histogram",
              "Time a turn's group commit took (its fsync included).");
    const char *labels [2];
    s_histogram (out, "segq_store_commit_seconds", &self->commit, labels, 0);
}

/* ---- the broker's gauges, read now ---- */

static void
s_write_workers (segq_broker_t *broker, FILE *out)
{
    uint64_t states [4] = { 0 };
    for (worker_t *w = zhashx_first (broker->by_node); w; w = zhashx_next (broker->by_node))
        if (w->state >= SEGQ_WORKER_ACTIVE && w->state <= SEGQ_WORKER_LOST)
            states [w->state]++;
    s_family (out, "segq_workers", "gauge", "Worker daemons the broker knows, by state.");
    for (int s = SEGQ_WORKER_ACTIVE; s <= SEGQ_WORKER_LOST; s++) {
        const char *labels [] = { "state", segq_worker_state_name ((segq_worker_state_t) s) };
        s_sample (out, "segq_workers", labels, 1, (double) states [s]);
    }
}

/* One of a connected worker's GPUs or CPU slots: its capacity and what
   the scheduler has reserved of it for running jobs. */
static void
s_write_capacity (segq_broker_t *broker, FILE *out, bool gpus, bool used)
{
    for (worker_t *w = zhashx_first (broker->by_node); w; w = zhashx_next (broker->by_node)) {
        if (!w->peer || !w->sched_node)
            continue; /* a lost worker's capacity is nobody's now */
        for (size_t g = 0; gpus && g < w->n_gpus; g++) {
            char index [16];
            snprintf (index, sizeof index, "%u", w->gpus [g].index);
            const char *labels [] = { "node", w->node, "gpu", index };
            uint64_t bytes = used ? segq__sched_node_gpu_used (w->sched_node, w->gpus [g].index)
                                  : w->gpus [g].mem_total;
            s_sample (out, used ? "segq_gpu_memory_used_bytes" : "segq_gpu_memory_bytes", labels, 2,
                      (double) bytes);
        }
        const char *labels [] = { "node", w->node };
        if (!gpus)
            s_sample (out, used ? "segq_cpu_slots_used" : "segq_cpu_slots", labels, 1,
                      (double) (used ? segq__sched_node_cpu_used (w->sched_node) : w->cpu_slots));
    }
}

static void
s_write_resources (segq_broker_t *broker, FILE *out)
{
    s_family (out, "segq_gpu_memory_bytes", "gauge", "GPU memory a connected worker declared.");
    s_write_capacity (broker, out, true, false);
    s_family (
        out, "segq_gpu_memory_used_bytes", "gauge",
        "GPU memory reserved by running jobs (what they declared), as the scheduler knows it.");
    s_write_capacity (broker, out, true, true);
    s_family (out, "segq_cpu_slots", "gauge", "CPU slots a connected worker declared.");
    s_write_capacity (broker, out, false, false);
    s_family (out, "segq_cpu_slots_used", "gauge", "CPU slots reserved by running jobs.");
    s_write_capacity (broker, out, false, true);
    uint64_t files = 0, bytes = 0;
    segq__artifact_store_totals (broker->artifacts, &files, &bytes);
    s_family (out, "segq_artifact_store_files", "gauge", "Artifacts stored.");
    s_sample (out, "segq_artifact_store_files", NULL, 0, (double) files);
    s_family (out, "segq_artifact_store_bytes", "gauge", "Bytes of the artifacts stored.");
    s_sample (out, "segq_artifact_store_bytes", NULL, 0, (double) bytes);
}

static void
s_write_transfers (segq_broker_t *broker, FILE *out)
{
    size_t open [2][2], disk_wait;
    segq__broker_transfers_count (broker, open, &disk_wait);
    s_family (out, "segq_transfers_open", "gauge",
              "Artifact transfers open, by peer (client, worker) and direction.");
    static const char *const peers [2] = { "client", "worker" };
    static const char *const directions [2] = { "upload", "download" };
    for (int p = 0; p < 2; p++)
        for (int d = 0; d < 2; d++) {
            const char *labels [] = { "peer", peers [p], "direction", directions [d] };
            s_sample (out, "segq_transfers_open", labels, 2, (double) open [p][d]);
        }
    s_family (out, "segq_transfers_disk_wait", "gauge",
              "Of them, those waiting for the broker's disk threads: an upload's sync and "
              "rename, a download's read.");
    s_sample (out, "segq_transfers_disk_wait", NULL, 0, (double) disk_wait);
}

void
segq__metrics_serve (segq_broker_t *broker, const segq__http_request_t *req,
                     segq__http_response_t *res)
{
    char *text = NULL;
    size_t size = 0;
    FILE *out = broker->metrics ? open_memstream (&text, &size) : NULL;
    if (!out) {
        free (text);
        segq__http_text (res, 500, "metrics: %s", broker->metrics ? strerror (errno) : "none kept");
        return;
    }
    s_write_registry (broker->metrics, out);
    s_write_workers (broker, out);
    s_write_resources (broker, out);
    s_write_transfers (broker, out);
    bool failed = ferror (out) != 0;
    if (fclose (out) != 0 || failed) {
        free (text);
        segq__http_text (res, 500, "metrics: out of memory writing the exposition");
        return;
    }
    res->status = 200;
    res->type = "text/plain; version=0.0.4; charset=utf-8";
    res->body = text;
    res->size = size;
}
