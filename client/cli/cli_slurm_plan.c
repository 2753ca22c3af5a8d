/*  cli_slurm_plan.c: what the autoscaler does in a round, and why.

    A queued job needs a new worker when a worker of the template could
    hold it (its kind, a GPU with its memory, its CPU slots), it is neither
    held nor waiting for its owner's limits, and either no
    connected worker could ever hold it or it has waited pending_grace
    while the workers that could were busy. Those jobs are packed, largest
    first, into the workers already on their way (Slurm jobs of its own
    whose worker has not connected yet) and then into new ones, as many as
    max_workers (counting every Slurm job of its own that has not ended)
    and submit_per_round allow. A worker of its own that runs nothing, and could run nothing of
    what is queued, for idle_grace is drained: it finishes what it was
    given meanwhile and leaves, and its Slurm job ends; a worker is never
    cancelled. A Slurm job still pending that nothing needs for idle_grace
    is cancelled, as is one that has run for start_timeout without its
    worker connecting. A worker job that ended, not cancelled, before its
    worker ever connected (a wrong command, an unreachable broker: squeue
    --states=all shows how it ended) pauses submissions,
    twice as long after each such failure (poll .. 10 min), so a broken
    template does not fill the cluster's queue.

    Time comes from the view: the plan reads no clock and does no I/O.
*/
#define _GNU_SOURCE
#include "cli_slurm.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MAX_NOTES      32
#define MAX_BACKOFF_MS 600000

typedef struct {
    char *id;
    int64_t since;
} waited_t;

typedef struct {
    char *node;
    int64_t since;
} idle_t;

typedef struct {
    uint64_t id;
    int64_t running_since;  /* 0: not running yet */
    int64_t unneeded_since; /* 0: needed */
    bool connected;         /* its worker has been seen */
    bool ended;             /* final in squeue: judged once */
} tracked_t;

struct cli_slurm_memory {
    waited_t *waited; /* queued jobs, sorted by id: since when */
    size_t n_waited;
    char **warned; /* sorted: jobs no worker of the template could hold, said once */
    size_t n_warned;
    idle_t *idle;
    size_t n_idle;
    tracked_t *tracked;
    size_t n_tracked;
    uint32_t failures;
    int64_t paused_until;
};

/* A round's working state. */
typedef struct {
    cli_slurm_memory_t *m;
    const cli_slurm_conf_t *conf;
    const cli_slurm_view_t *view;
    cli_slurm_plan_t *out;
    bool *need; /* per queued job */
    bool oom;
} round_t;

cli_slurm_memory_t *
cli_slurm_memory_new (void)
{
    return calloc (1, sizeof (cli_slurm_memory_t));
}

static void
s_waited_free (waited_t *w, size_t n)
{
    for (size_t i = 0; i < n; i++)
        free (w [i].id);
    free (w);
}

static void
s_strings_free (char **s, size_t n)
{
    for (size_t i = 0; i < n; i++)
        free (s [i]);
    free (s);
}

static void
s_idle_free (idle_t *idle, size_t n)
{
    for (size_t i = 0; i < n; i++)
        free (idle [i].node);
    free (idle);
}

void
cli_slurm_memory_destroy (cli_slurm_memory_t **self_p)
{
    cli_slurm_memory_t *self = *self_p;
    if (!self)
        return;
    s_waited_free (self->waited, self->n_waited);
    s_strings_free (self->warned, self->n_warned);
    s_idle_free (self->idle, self->n_idle);
    free (self->tracked);
    free (self);
    *self_p = NULL;
}

void
cli_slurm_plan_clear (cli_slurm_plan_t *self)
{
    s_strings_free (self->drain, self->n_drain);
    s_strings_free (self->notes, self->n_notes);
    free (self->cancel);
    memset (self, 0, sizeof *self);
}

static void s_note (round_t *r, const char *fmt, ...) __attribute__ ((format (printf, 2, 3)));

static void
s_note (round_t *r, const char *fmt, ...)
{
    cli_slurm_plan_t *out = r->out;
    if (out->n_notes >= MAX_NOTES)
        return;
    char **grown = realloc (out->notes, (out->n_notes + 1) * sizeof *grown);
    char *text = NULL;
    va_list ap;
    va_start (ap, fmt);
    int n = grown ? vasprintf (&text, fmt, ap) : -1;
    va_end (ap);
    if (grown)
        out->notes = grown;
    if (n < 0) {
        r->oom = true;
        return;
    }
    out->notes [out->n_notes++] = text;
}

static void
s_cancel (round_t *r, uint64_t id)
{
    uint64_t *grown = realloc (r->out->cancel, (r->out->n_cancel + 1) * sizeof *grown);
    if (!grown) {
        r->oom = true;
        return;
    }
    r->out->cancel = grown;
    r->out->cancel [r->out->n_cancel++] = id;
}

/* ---- names ---- */

/* Whether `state` begins with one of the names. */
static bool
s_state_in (const char *state, const char *const *names)
{
    for (size_t i = 0; names [i]; i++)
        if (strncmp (state, names [i], strlen (names [i])) == 0
            && (state [strlen (names [i])] == 0 || state [strlen (names [i])] == ' '))
            return true;
    return false;
}

bool
cli_slurm_job_parse (const char *line, cli_slurm_job_t *out)
{
    static const char *const pending [] = { "PENDING", "REQUEUED", "REQUEUE_HOLD", "REQUEUE_FED",
                                            NULL };
    static const char *const running [] = { "RUNNING", "CONFIGURING", "SUSPENDED",
                                            "STOPPED", "RESIZING",    NULL };
    static const char *const cancelled [] = { "CANCELLED", "PREEMPTED", "TIMEOUT", "DEADLINE",
                                              NULL };
    static const char *const ending [] = { "COMPLETING", "SIGNALING", "STAGE_OUT", NULL };
    char *end;
    if (*line < '0' || *line > '9')
        return false;
    unsigned long long id = strtoull (line, &end, 10);
    if (*end != '|' || id == 0)
        return false;
    const char *state = end + 1;
    out->id = id;
    out->state = s_state_in (state, pending)     ? CLI_SLURM_PENDING
                 : s_state_in (state, running)   ? CLI_SLURM_RUNNING
                 : s_state_in (state, ending)    ? CLI_SLURM_ENDING
                 : s_state_in (state, cancelled) ? CLI_SLURM_CANCELLED
                 : !strcmp (state, "COMPLETED")  ? CLI_SLURM_COMPLETED
                                                 : CLI_SLURM_FAILED;
    return true;
}

uint64_t
cli_slurm_node_job (const cli_slurm_conf_t *conf, const char *node)
{
    size_t len = strlen (conf->job_name);
    if (strncmp (node, conf->job_name, len) != 0 || node [len] != '-')
        return 0;
    const char *digits = node + len + 1;
    size_t n = strspn (digits, "0123456789");
    if (n == 0 || n > 19 || digits [n])
        return 0;
    return strtoull (digits, NULL, 10);
}

/* ---- who could hold a job ---- */

static bool
s_listed (char *const *names, size_t n, const char *name)
{
    for (size_t i = 0; i < n; i++)
        if (strcmp (names [i], name) == 0)
            return true;
    return false;
}

static bool
s_worker_fits (const segq_worker_info_t *w, const segq_job_info_t *job)
{
    if (!job->kind || !s_listed (w->kinds, w->n_kinds, job->kind) || job->cpu_slots > w->cpu_slots)
        return false;
    for (size_t g = 0; job->gpu_mem && g < w->n_gpus; g++)
        if (w->gpus [g].mem_total >= job->gpu_mem)
            return true;
    return job->gpu_mem == 0;
}

/* Why a worker of the template could not hold the job, or NULL if it could. */
static const char *
s_template_refuses (const cli_slurm_conf_t *c, const segq_job_info_t *job, char *buf, size_t len)
{
    if (!job->kind || (c->kinds.n && !s_listed (c->kinds.items, c->kinds.n, job->kind)))
        snprintf (buf, len, "its workers do not take %s jobs (kinds)", job->kind ? job->kind : "?");
    else if (job->cpu_slots > c->cpu_slots)
        snprintf (buf, len, "it needs %u CPU slots, its workers have %u (cpu_slots)",
                  job->cpu_slots, c->cpu_slots);
    else if (job->gpu_mem && !c->gpus)
        snprintf (buf, len, "it needs a GPU, its workers have none (gres)");
    else if (job->gpu_mem > c->gpu_mem)
        snprintf (buf, len, "it needs a GPU with %.3g GiB, theirs have %.3g GiB (gpu_mem)",
                  job->gpu_mem / 1073741824.0, c->gpu_mem / 1073741824.0);
    else
        return NULL;
    return buf;
}

/* Whether a worker could get the job going at all: not when it is held, or
   its owner is at a limit (the broker's wait reason says so, docs/usage.md
   "Why a job waits"): more workers would idle beside it. */
static bool
s_demand (const segq_job_info_t *job)
{
    const char *why = job->message ? job->message : "";
    return !job->held && strncmp (why, "user limit", 10) != 0;
}

static bool
s_connected_fits (const cli_slurm_view_t *v, const segq_job_info_t *job)
{
    for (size_t i = 0; i < v->n_workers; i++)
        if (v->workers [i].state == SEGQ_WORKER_ACTIVE && s_worker_fits (&v->workers [i], job))
            return true;
    return false;
}

/* ---- its Slurm jobs ---- */

static const cli_slurm_job_t *
s_in_squeue (const cli_slurm_view_t *v, uint64_t id)
{
    for (size_t i = 0; i < v->n_slurm; i++)
        if (v->slurm [i].id == id)
            return &v->slurm [i];
    return NULL;
}

static void
s_failed (cli_slurm_memory_t *m, const cli_slurm_conf_t *conf, int64_t now)
{
    if (m->failures < 16)
        m->failures++;
    uint64_t delay = conf->poll_ms << (m->failures - 1);
    m->paused_until = now + (int64_t) (delay < MAX_BACKOFF_MS ? delay : MAX_BACKOFF_MS);
}

void
cli_slurm_memory_failed (cli_slurm_memory_t *self, const cli_slurm_conf_t *conf, int64_t now_ms)
{
    s_failed (self, conf, now_ms);
}

int
cli_slurm_memory_submitted (cli_slurm_memory_t *self, uint64_t id)
{
    tracked_t *grown = realloc (self->tracked, (self->n_tracked + 1) * sizeof *grown);
    if (!grown)
        return SEGQ_ENOMEM;
    self->tracked = grown;
    self->tracked [self->n_tracked++] = (tracked_t){ .id = id };
    return 0;
}

static bool
s_final (cli_slurm_state_t state)
{
    return state >= CLI_SLURM_CANCELLED;
}

/* A job of its own in squeue and not ended: a worker on its way or there. */
static const cli_slurm_job_t *
s_live (const cli_slurm_view_t *v, uint64_t id)
{
    const cli_slurm_job_t *s = s_in_squeue (v, id);
    return s && !s_final (s->state) ? s : NULL;
}

/* A job that ended without its worker ever connecting (and not stopped
   from outside) is a failed start: the worker command, its broker address
   or the node are wrong. Gone from squeue altogether (purged past
   MinJobAge), there is nothing left to judge by. */
static void
s_judge_end (round_t *r, tracked_t *t, const cli_slurm_job_t *s)
{
    cli_slurm_memory_t *m = r->m;
    t->ended = true;
    if (t->connected || s->state == CLI_SLURM_CANCELLED)
        return;
    s_failed (m, r->conf, r->view->now_ms);
    s_note (r,
            "Slurm job %llu %s before its worker %s-%llu connected (see the job's output%s%s): "
            "no new worker jobs for %lld s",
            (unsigned long long) t->id, s->state == CLI_SLURM_COMPLETED ? "ended" : "failed",
            r->conf->job_name, (unsigned long long) t->id, r->conf->output ? ", " : "",
            r->conf->output ? r->conf->output : "",
            (long long) (m->paused_until - r->view->now_ms) / 1000);
}

/* Forgets the jobs squeue no longer lists; judges those that ended. */
static void
s_forget_gone (round_t *r)
{
    cli_slurm_memory_t *m = r->m;
    size_t kept = 0;
    for (size_t i = 0; i < m->n_tracked; i++) {
        tracked_t *t = &m->tracked [i];
        const cli_slurm_job_t *s = s_in_squeue (r->view, t->id);
        if (s && s_final (s->state) && !t->ended)
            s_judge_end (r, t, s);
        if (s)
            m->tracked [kept++] = *t;
    }
    m->n_tracked = kept;
}

/* Tracks every Slurm job of its own squeue lists, and whether its worker
   has connected. */
static void
s_track_slurm (round_t *r)
{
    cli_slurm_memory_t *m = r->m;
    const cli_slurm_view_t *v = r->view;
    s_forget_gone (r);
    for (size_t i = 0; i < v->n_slurm; i++) {
        tracked_t *t = NULL;
        for (size_t k = 0; k < m->n_tracked && !t; k++)
            t = m->tracked [k].id == v->slurm [i].id ? &m->tracked [k] : NULL;
        if (!t) {
            tracked_t *grown = realloc (m->tracked, (m->n_tracked + 1) * sizeof *grown);
            if (!grown) {
                r->oom = true;
                return;
            }
            m->tracked = grown;
            /* first seen ended (a restart's view): nothing to judge it by */
            t = &m->tracked [m->n_tracked++];
            *t = (tracked_t){ .id = v->slurm [i].id, .ended = s_final (v->slurm [i].state) };
        }
        if (v->slurm [i].state == CLI_SLURM_RUNNING && !t->running_since)
            t->running_since = v->now_ms;
    }
    for (size_t i = 0; i < v->n_workers; i++) {
        uint64_t id = cli_slurm_node_job (r->conf, v->workers [i].node);
        for (size_t k = 0; id && k < m->n_tracked; k++)
            if (m->tracked [k].id == id && !m->tracked [k].connected) {
                m->tracked [k].connected = true;
                m->failures = 0;
            }
    }
}

/* ---- which queued jobs need a new worker ---- */

static int
s_waited_cmp (const void *a, const void *b)
{
    return strcmp (((const waited_t *) a)->id, ((const waited_t *) b)->id);
}

static int
s_string_cmp (const void *a, const void *b)
{
    return strcmp (*(char *const *) a, *(char *const *) b);
}

/* Since when each queued job has waited (first seen queued). */
static waited_t *
s_update_waited (round_t *r)
{
    const cli_slurm_view_t *v = r->view;
    waited_t *now = calloc (v->n_jobs + 1, sizeof *now);
    for (size_t i = 0; now && i < v->n_jobs; i++) {
        waited_t key = { .id = v->jobs [i].id };
        waited_t *old = r->m->n_waited
                            ? bsearch (&key, r->m->waited, r->m->n_waited, sizeof key, s_waited_cmp)
                            : NULL;
        now [i] = (waited_t){ strdup (v->jobs [i].id), old ? old->since : v->now_ms };
        if (!now [i].id) {
            s_waited_free (now, i);
            now = NULL;
        }
    }
    if (!now) {
        r->oom = true;
        return NULL;
    }
    s_waited_free (r->m->waited, r->m->n_waited);
    r->m->waited = now;
    r->m->n_waited = v->n_jobs;
    qsort (now, v->n_jobs, sizeof *now, s_waited_cmp);
    return now;
}

/* Says once per job that the template cannot help it; remembers only
   the jobs still queued. */
static void
s_warn_unfit (round_t *r, char **unfit, size_t n_unfit)
{
    cli_slurm_memory_t *m = r->m;
    qsort (unfit, n_unfit, sizeof *unfit, s_string_cmp);
    for (size_t i = 0; i < n_unfit; i++) {
        const char *id = unfit [i];
        if (m->n_warned && bsearch (&id, m->warned, m->n_warned, sizeof id, s_string_cmp))
            continue;
        for (size_t j = 0; j < r->view->n_jobs; j++) {
            char why [160];
            if (strcmp (r->view->jobs [j].id, id) == 0
                && s_template_refuses (r->conf, &r->view->jobs [j], why, sizeof why))
                s_note (r,
                        "job %s waits for what no connected worker has, and a worker job "
                        "would not have it either: %s",
                        id, why);
        }
    }
    s_strings_free (m->warned, m->n_warned);
    m->warned = unfit;
    m->n_warned = n_unfit;
}

/* Sets need[] for every queued job. */
static void
s_assess_jobs (round_t *r)
{
    const cli_slurm_view_t *v = r->view;
    waited_t *waited = s_update_waited (r);
    char **unfit = calloc (v->n_jobs + 1, sizeof *unfit);
    size_t n_unfit = 0;
    if (!waited || !unfit) {
        free (unfit);
        r->oom = true;
        return;
    }
    for (size_t i = 0; i < v->n_jobs; i++) {
        const segq_job_info_t *job = &v->jobs [i];
        waited_t key = { .id = job->id };
        const waited_t *w = bsearch (&key, waited, v->n_jobs, sizeof key, s_waited_cmp);
        char why [160];
        bool can = !s_template_refuses (r->conf, job, why, sizeof why);
        bool now = s_connected_fits (v, job);
        bool long_wait = w && v->now_ms - w->since >= (int64_t) r->conf->pending_grace_ms;
        r->need [i] = can && s_demand (job) && (!now || long_wait);
        if (!can && !now && !(unfit [n_unfit++] = strdup (job->id)))
            r->oom = true;
    }
    if (r->oom) {
        s_strings_free (unfit, n_unfit);
        return;
    }
    s_warn_unfit (r, unfit, n_unfit);
}

/* ---- packing the jobs into workers ---- */

/* A worker of the template, on its way or to submit, as the jobs placed
   in it leave it. */
typedef struct {
    uint64_t *gpu_free;
    uint32_t cpu_free;
    size_t used;
    tracked_t *tracked; /* NULL: a new one */
} bin_t;

static bool
s_place (bin_t *bin, uint32_t gpus, const segq_job_info_t *job)
{
    if (job->cpu_slots > bin->cpu_free)
        return false;
    int best = -1;
    for (uint32_t g = 0; job->gpu_mem && g < gpus; g++)
        if (bin->gpu_free [g] >= job->gpu_mem
            && (best < 0 || bin->gpu_free [g] < bin->gpu_free [best]))
            best = (int) g;
    if (job->gpu_mem && best < 0)
        return false;
    if (best >= 0)
        bin->gpu_free [best] -= job->gpu_mem;
    bin->cpu_free -= job->cpu_slots;
    bin->used++;
    return true;
}

static const segq_job_info_t *s_sort_jobs; /* qsort has no context argument */

static int
s_largest_first (const void *a, const void *b)
{
    const segq_job_info_t *x = &s_sort_jobs [*(const size_t *) a],
                          *y = &s_sort_jobs [*(const size_t *) b];
    if (x->gpu_mem != y->gpu_mem)
        return x->gpu_mem > y->gpu_mem ? -1 : 1;
    return x->cpu_slots > y->cpu_slots ? -1 : x->cpu_slots < y->cpu_slots;
}

/* The bins: one per worker on its way (a Slurm job of its own whose worker
   has not connected, not ending), room for `room` new ones. */
static bin_t *
s_make_bins (round_t *r, size_t room, size_t *n_starting)
{
    cli_slurm_memory_t *m = r->m;
    uint32_t gpus = r->conf->gpus;
    bin_t *bins = calloc (m->n_tracked + room + 1, sizeof *bins);
    uint64_t *mem = calloc ((m->n_tracked + room) * gpus + 1, sizeof *mem);
    if (!bins || !mem) {
        free (bins);
        free (mem);
        r->oom = true;
        return NULL;
    }
    size_t n = 0;
    for (size_t i = 0; i < m->n_tracked; i++) {
        const cli_slurm_job_t *s = s_in_squeue (r->view, m->tracked [i].id);
        if (!m->tracked [i].connected && s && s->state <= CLI_SLURM_RUNNING)
            bins [n++].tracked = &m->tracked [i];
    }
    *n_starting = n;
    for (size_t i = 0; i < n + room; i++) {
        bins [i].gpu_free = mem + i * gpus;
        bins [i].cpu_free = r->conf->cpu_slots;
        for (uint32_t g = 0; g < gpus; g++)
            bins [i].gpu_free [g] = r->conf->gpu_mem;
    }
    return bins;
}

/* Why the first job placed needs a new worker, for the note. */
static void
s_why_needed (round_t *r, const segq_job_info_t *job, char *buf, size_t len)
{
    if (s_connected_fits (r->view, job))
        snprintf (buf, len,
                  "%s waited over pending_grace while the workers that could run it "
                  "are busy",
                  job->id);
    else
        snprintf (buf, len, "%s: %s", job->id,
                  job->message ? job->message : "no connected worker could run it");
}

/* Places the needed jobs, largest first: how many new bins they opened;
 *left: jobs that fit none. */
static size_t
s_fill (round_t *r, bin_t *bins, size_t n_starting, size_t cap, size_t *left, char *why,
        size_t why_len)
{
    const cli_slurm_view_t *v = r->view;
    size_t *order = calloc (v->n_jobs + 1, sizeof *order), n = 0, open = n_starting;
    if (!order) {
        r->oom = true;
        return 0;
    }
    for (size_t i = 0; i < v->n_jobs; i++)
        if (r->need [i])
            order [n++] = i;
    s_sort_jobs = v->jobs;
    qsort (order, n, sizeof *order, s_largest_first);
    *left = 0;
    for (size_t k = 0; k < n; k++) {
        const segq_job_info_t *job = &v->jobs [order [k]];
        size_t b = 0;
        while (b < open && !s_place (&bins [b], r->conf->gpus, job))
            b++;
        if (b == open && open < cap && s_place (&bins [open], r->conf->gpus, job))
            open++;
        else if (b == open) {
            (*left)++;
            continue;
        }
        if (!*why)
            s_why_needed (r, job, why, why_len);
    }
    free (order);
    return open - n_starting;
}

/* Workers on their way that got no job: cancelled once pending and
   unneeded for idle_grace. Ones running without their worker past
   start_timeout: cancelled as failed starts. */
static void
s_settle_starting (round_t *r, const bin_t *bins, size_t n_starting)
{
    int64_t now = r->view->now_ms;
    for (size_t i = 0; i < n_starting; i++) {
        tracked_t *t = bins [i].tracked;
        const cli_slurm_job_t *s = s_in_squeue (r->view, t->id);
        if (bins [i].used)
            t->unneeded_since = 0;
        else if (!t->unneeded_since)
            t->unneeded_since = now;
        if (s->state == CLI_SLURM_PENDING && t->unneeded_since
            && now - t->unneeded_since >= (int64_t) r->conf->idle_grace_ms) {
            s_note (r, "Slurm job %llu is still pending and no job needs it: cancelling it",
                    (unsigned long long) t->id);
            s_cancel (r, t->id);
        } else if (s->state == CLI_SLURM_RUNNING && t->running_since
                   && now - t->running_since >= (int64_t) r->conf->start_timeout_ms) {
            s_failed (r->m, r->conf, now);
            s_note (r,
                    "Slurm job %llu has run for %lld s and its worker %s-%llu never connected "
                    "(see the job's output): cancelling it; no new worker jobs for %lld s",
                    (unsigned long long) t->id, (long long) (now - t->running_since) / 1000,
                    r->conf->job_name, (unsigned long long) t->id,
                    (long long) (r->m->paused_until - now) / 1000);
            s_cancel (r, t->id);
        }
    }
}

/* How many worker jobs to submit. */
static void
s_pack (round_t *r)
{
    const cli_slurm_conf_t *c = r->conf;
    const cli_slurm_view_t *v = r->view;
    size_t live = 0;
    for (size_t i = 0; i < v->n_slurm; i++)
        live += !s_final (v->slurm [i].state);
    size_t room = c->max_workers > live ? c->max_workers - live : 0;
    if (room > c->submit_per_round)
        room = c->submit_per_round;
    size_t n_starting, left = 0;
    bin_t *bins = s_make_bins (r, room, &n_starting);
    if (!bins)
        return;
    char why [600] = "";
    size_t wanted = s_fill (r, bins, n_starting, n_starting + room, &left, why, sizeof why);
    s_settle_starting (r, bins, n_starting);
    free (bins [0].gpu_free);
    free (bins);
    if (wanted && v->now_ms < r->m->paused_until) {
        s_note (r, "%zu worker job(s) wanted, but submissions are paused after a failed start",
                wanted);
        wanted = 0;
    }
    r->out->submit = (uint32_t) wanted;
    if (wanted)
        s_note (r, "jobs wait for a worker (%s): submitting %zu worker job(s)", why, wanted);
    if (left && live + wanted >= c->max_workers)
        s_note (r,
                "%zu job(s) still wait for a worker: max_workers (%u) Slurm jobs are the "
                "autoscaler's",
                left, c->max_workers);
}

/* ---- idle workers ---- */

static bool
s_worker_idle (const cli_slurm_view_t *v, const segq_worker_info_t *w)
{
    if (w->n_running)
        return false;
    for (size_t j = 0; j < v->n_jobs; j++)
        if (s_demand (&v->jobs [j]) && s_worker_fits (w, &v->jobs [j]))
            return false;
    return true;
}

static int64_t
s_idle_since (const cli_slurm_memory_t *m, const char *node, int64_t now)
{
    for (size_t i = 0; i < m->n_idle; i++)
        if (strcmp (m->idle [i].node, node) == 0)
            return m->idle [i].since;
    return now;
}

static bool
s_drain (round_t *r, const segq_worker_info_t *w, int64_t idled)
{
    char **grown = realloc (r->out->drain, (r->out->n_drain + 1) * sizeof *grown);
    if (grown)
        r->out->drain = grown;
    if (!grown || !(r->out->drain [r->out->n_drain] = strdup (w->node)))
        return false;
    r->out->n_drain++;
    s_note (r,
            "worker %s has had nothing to run for %lld s: draining it (its Slurm job %llu "
            "ends when it leaves)",
            w->node, (long long) idled / 1000,
            (unsigned long long) cli_slurm_node_job (r->conf, w->node));
    return true;
}

/* Its workers that idled idle_grace are drained; the others' idle time
   is remembered. */
static void
s_idle (round_t *r)
{
    const cli_slurm_view_t *v = r->view;
    idle_t *idle = calloc (v->n_workers + 1, sizeof *idle);
    size_t n = 0;
    for (size_t i = 0; idle && i < v->n_workers && !r->oom; i++) {
        const segq_worker_info_t *w = &v->workers [i];
        uint64_t id = cli_slurm_node_job (r->conf, w->node);
        if (!id || !s_live (v, id) || w->state != SEGQ_WORKER_ACTIVE || !s_worker_idle (v, w))
            continue;
        int64_t since = s_idle_since (r->m, w->node, v->now_ms);
        if (v->now_ms - since >= (int64_t) r->conf->idle_grace_ms)
            r->oom = !s_drain (r, w, v->now_ms - since);
        else if ((idle [n].node = strdup (w->node)))
            idle [n++].since = since;
        else
            r->oom = true;
    }
    if (!idle || r->oom) {
        s_idle_free (idle, n);
        r->oom = true;
        return;
    }
    s_idle_free (r->m->idle, r->m->n_idle);
    r->m->idle = idle;
    r->m->n_idle = n;
}

int
cli_slurm_plan (cli_slurm_memory_t *memory, const cli_slurm_conf_t *conf,
                const cli_slurm_view_t *view, cli_slurm_plan_t *out)
{
    memset (out, 0, sizeof *out);
    round_t r = { memory, conf, view, out, calloc (view->n_jobs + 1, sizeof (bool)), false };
    if (!r.need) {
        r.oom = true;
    } else {
        s_track_slurm (&r);
        if (!r.oom)
            s_assess_jobs (&r);
        if (!r.oom)
            s_pack (&r);
        if (!r.oom)
            s_idle (&r);
    }
    free (r.need);
    if (!r.oom)
        return 0;
    cli_slurm_plan_clear (out);
    return SEGQ_ENOMEM;
}
