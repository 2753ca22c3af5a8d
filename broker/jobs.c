/*  jobs.c: the job state machine, submit validation, dependencies. */
#include "jobs.h"
#include "accounting.h"
#include "u64map.h"
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>

/* Jobs waiting on one job: the numbers of its dependents. */
typedef struct {
    size_t count, capacity;
    uint64_t ids [];
} dependents_t;

struct segq__jobs {
    segq__job_store_t *store;
    segq__sched_t *sched;
    segq__artifact_store_t *artifacts;
    segq__jobs_config_t config;
    segq__u64map_t *active;     /* number -> segq__job_t */
    segq__u64map_t *dependents; /* number -> dependents_t */
    segq__job_t **orphans;
    size_t n_orphans, cap_orphans;
};

/* ---- the machine ---- */

bool
segq__job_transition_allowed (int from, int to)
{
    switch (from) {
    case SEGQ_JOB_WAITING:
        return to == SEGQ_JOB_QUEUED || to == SEGQ_JOB_FAILED || to == SEGQ_JOB_CANCELLED;
    case SEGQ_JOB_QUEUED:
        return to == SEGQ_JOB_RUNNING || to == SEGQ_JOB_FAILED || to == SEGQ_JOB_CANCELLED;
    case SEGQ_JOB_RUNNING:
        return to == SEGQ_JOB_QUEUED || to == SEGQ_JOB_SUCCEEDED || to == SEGQ_JOB_FAILED
               || to == SEGQ_JOB_CANCELLED;
    default:
        return false; /* final states are final */
    }
}

/* The owner's count of jobs not yet running (the queued-jobs limit). */
static void
s_pending_count (segq__job_t *job, int64_t delta)
{
    if (job->state == SEGQ_JOB_WAITING || job->state == SEGQ_JOB_QUEUED)
        segq__sched_user_pending_add (job->sched.user, delta);
}

static int
s_transition (segq__jobs_t *self, segq__job_t *job, int to, const char *reason, double now)
{
    if (!segq__job_transition_allowed (job->state, to))
        return SEGQ_ESTATE;
    int rc = segq__job_store_begin (self->store);
    if (rc == 0)
        rc = segq__job_store_add_transition (self->store, job->sched.seq, ++job->n_transitions, to,
                                             now, reason);
    if (rc == 0) {
        int from = job->state;
        s_pending_count (job, -1);
        job->state = (uint8_t) to;
        s_pending_count (job, 1);
        if (self->config.observe)
            self->config.observe (self->config.observer, job, from, to, now);
    }
    return rc;
}

/* ---- memory ---- */

static void
s_progress_free (segq__job_t *job)
{
    if (!job->progress)
        return;
    free (job->progress->phase);
    free (job->progress->message);
    segq_params_clear (&job->progress->metrics);
    free (job->progress);
    job->progress = NULL;
}

static void
s_job_free (segq__job_t *job)
{
    s_progress_free (job);
    free (job->cancel);
    free (job->orphan_node);
    free (job->lost_from);
    free (job);
}

static void
s_orphan_remove (segq__jobs_t *self, segq__job_t *job)
{
    for (size_t i = 0; i < self->n_orphans; i++)
        if (self->orphans [i] == job) {
            self->orphans [i] = self->orphans [--self->n_orphans];
            break;
        }
    free (job->orphan_node);
    job->orphan_node = NULL;
    job->orphan_deadline = 0;
}

/* A job reached a final state: it leaves memory. */
static void
s_forget (segq__jobs_t *self, segq__job_t *job)
{
    segq__sched_dequeue (self->sched, &job->sched);
    segq__sched_release (self->sched, &job->sched);
    if (job->orphan_node)
        s_orphan_remove (self, job);
    segq__u64map_remove (self->active, job->sched.seq);
    s_job_free (job);
}

static segq__sched_limits_t
s_limits (void *arg, const char *user)
{
    segq_user_limits_t l = segq_config_limits (arg, user);
    return (segq__sched_limits_t){ l.max_running, l.max_gpu_mem };
}

segq__jobs_t *
segq__jobs_new (segq__job_store_t *store, segq__sched_t *sched, segq__artifact_store_t *artifacts,
                const segq__jobs_config_t *config)
{
    segq__jobs_t *self = calloc (1, sizeof *self);
    if (!self)
        return NULL;
    self->store = store;
    self->sched = sched;
    self->artifacts = artifacts;
    self->config = *config;
    if (self->config.max_attempts == 0)
        self->config.max_attempts = 3;
    if (config->limits)
        segq__sched_set_limits_fn (sched, s_limits, (void *) config->limits);
    self->active = segq__u64map_new ();
    self->dependents = segq__u64map_new ();
    if (!self->active || !self->dependents)
        segq__jobs_destroy (&self);
    return self;
}

void
segq__jobs_set_limits (segq__jobs_t *self, const segq_config_t *limits)
{
    self->config.limits = limits;
    segq__sched_set_limits_fn (self->sched, s_limits, (void *) limits);
    segq__sched_reload_limits (self->sched);
}

void
segq__jobs_destroy (segq__jobs_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    segq__jobs_t *self = *self_p;
    size_t cursor = 0;
    void *value;
    if (self->active)
        while ((value = segq__u64map_next (self->active, &cursor, NULL)))
            s_job_free (value);
    cursor = 0;
    if (self->dependents)
        while ((value = segq__u64map_next (self->dependents, &cursor, NULL)))
            free (value);
    segq__u64map_destroy (&self->active);
    segq__u64map_destroy (&self->dependents);
    free (self->orphans);
    free (self);
    *self_p = NULL;
}

segq__job_t *
segq__jobs_find (segq__jobs_t *self, uint64_t number)
{
    return segq__u64map_get (self->active, number);
}

size_t
segq__jobs_active (segq__jobs_t *self)
{
    return segq__u64map_size (self->active);
}

const char *
segq__job_kind_name (const segq__job_t *job)
{
    size_t count;
    const segq_kind_spec_t *kinds = segq_kinds (&count);
    return job->sched.kind < count ? kinds [job->sched.kind].name : "?";
}

static int
s_kind_index (const char *name, uint16_t *index)
{
    size_t count;
    const segq_kind_spec_t *kinds = segq_kinds (&count);
    for (size_t i = 0; i < count && i < SEGQ_SCHED_MAX_KINDS; i++)
        if (strcmp (kinds [i].name, name) == 0) {
            *index = (uint16_t) i;
            return 0;
        }
    return SEGQ_EKIND;
}

/* Queues the job; one taking a catalogue model (generate's) is keyed by
   its checkpoint, so it goes where that model is loaded (scheduler.h). */
static int
s_enqueue (segq__jobs_t *self, segq__job_t *job)
{
    if (job->held)
        return 0; /* released later (segq__jobs_hold) */
    const segq_kind_spec_t *kind = segq_kind_find (segq__job_kind_name (job));
    char hash [SEGQ_HASH_HEX_LEN + 1];
    job->sched.affinity = 0;
    for (size_t i = 0; kind && i < kind->n_inputs && !job->sched.affinity; i++)
        if (kind->inputs [i].catalogue
            && segq__job_store_input_hash (self->store, job->sched.seq, kind->inputs [i].name, hash)
                   == 0)
            job->sched.affinity = segq__sched_key (hash);
    return segq__sched_enqueue (self->sched, &job->sched);
}

static int
s_add_dependent (segq__jobs_t *self, uint64_t on_job, uint64_t job)
{
    dependents_t *list = segq__u64map_get (self->dependents, on_job);
    if (!list || list->count == list->capacity) {
        size_t capacity = list ? list->capacity * 2 : 2;
        dependents_t *grown = realloc (list, sizeof *grown + capacity * sizeof (uint64_t));
        if (!grown)
            return SEGQ_ENOMEM;
        if (!list)
            grown->count = 0;
        grown->capacity = capacity;
        list = grown;
        if (segq__u64map_put (self->dependents, on_job, list)) {
            free (list);
            return SEGQ_ENOMEM;
        }
    }
    list->ids [list->count++] = job;
    return 0;
}

static segq__job_t *
s_job_new (segq__jobs_t *self, const segq__job_row_t *row, uint16_t kind)
{
    segq__job_t *job = calloc (1, sizeof *job);
    if (!job)
        return NULL;
    const segq_kind_spec_t *spec = &segq_kinds (NULL) [kind];
    job->sched.seq = row->id;
    job->sched.priority = row->priority;
    job->sched.kind = kind;
    job->sched.in_process = spec->in_process;
    job->sched.gpu_mem = row->gpu_mem;
    job->sched.cpu_slots = row->cpu_slots;
    job->sched.gpu = -1;
    job->last_gpu = row->gpu;
    job->sched.user = segq__sched_user (self->sched, row->owner);
    job->state = (uint8_t) row->state;
    job->has_inputs = row->has_inputs;
    job->attempt = row->attempt;
    job->max_attempts = row->max_attempts;
    job->time_limit_s = row->time_limit_s;
    job->n_transitions = row->n_transitions;
    job->held = row->held;
    job->attempt_started = row->started;
    if (!job->sched.user || segq__u64map_put (self->active, row->id, job)) {
        free (job);
        return NULL;
    }
    s_pending_count (job, 1);
    return job;
}

/* ---- dependencies ---- */

/* Whether job `number` (`id` in messages) has the output that input
   `input` reads: ENOENT with err saying so when not. */
static int
s_check_output (segq__jobs_t *self, const char *input, uint64_t number, const char *id,
                const char *output, char *err, size_t errlen)
{
    segq_artifact_t found = { 0 };
    int rc = segq__job_store_output (self->store, number, output, &found);
    segq_artifact_clear (&found);
    if (rc == SEGQ_ENOENT)
        snprintf (err, errlen, "input '%s': job %s has no output '%s'", input, id, output);
    return rc;
}

/* Checks that every output a job's reference inputs name exists (the jobs
   they name have succeeded). */
typedef struct {
    segq__jobs_t *self;
    char *err;
    size_t errlen;
} check_refs_t;

static int
s_check_ref (void *arg, const segq__input_row_t *row)
{
    check_refs_t *check = arg;
    if (!row->ref_job || !row->ref_output || strcmp (row->ref_output, "*") == 0)
        return 0;
    char id [SEGQ__JOB_ID_MAX];
    segq__job_id_format (row->ref_job, id);
    return s_check_output (check->self, row->name, row->ref_job, id, row->ref_output, check->err,
                           check->errlen);
}

static int s_fail_dependents (segq__jobs_t *self, uint64_t number, const char *why, double now);

/* A waiting job whose last dependency succeeded: to the queue, or failed
   if an output it needs is missing. */
static int
s_release_waiting (segq__jobs_t *self, segq__job_t *job, double now)
{
    char reason [512] = "";
    check_refs_t check = { self, reason, sizeof reason };
    int rc = job->has_inputs
                 ? segq__job_store_inputs (self->store, job->sched.seq, s_check_ref, &check)
                 : 0;
    if (rc == SEGQ_ENOENT) {
        uint64_t number = job->sched.seq;
        rc = s_transition (self, job, SEGQ_JOB_FAILED, reason, now);
        if (rc == 0)
            rc = segq__job_store_set_final (self->store, number, SEGQ_JOB_FAILED, now, reason, -1,
                                            0);
        if (rc == 0) {
            s_forget (self, job);
            char id [SEGQ__JOB_ID_MAX], why [64];
            segq__job_id_format (number, id);
            snprintf (why, sizeof why, "dependency %s failed", id);
            rc = s_fail_dependents (self, number, why, now);
        }
        return rc;
    }
    if (rc)
        return rc;
    rc = s_transition (self, job, SEGQ_JOB_QUEUED, "dependencies succeeded", now);
    if (rc == 0)
        rc = segq__job_store_set_queued (self->store, job->sched.seq);
    if (rc == 0)
        rc = s_enqueue (self, job);
    return rc;
}

/* The job `number` succeeded: its dependents have one fewer to wait for. */
static int
s_satisfy_dependents (segq__jobs_t *self, uint64_t number, double now)
{
    dependents_t *list = segq__u64map_remove (self->dependents, number);
    if (!list)
        return 0;
    int rc = 0;
    for (size_t i = 0; i < list->count && rc == 0; i++) {
        segq__job_t *job = segq__u64map_get (self->active, list->ids [i]);
        if (!job || job->state != SEGQ_JOB_WAITING || job->n_pending == 0)
            continue; /* cancelled or failed meanwhile */
        if (--job->n_pending == 0)
            rc = s_release_waiting (self, job, now);
    }
    free (list);
    return rc;
}

/* The job `number` failed or was cancelled: everything waiting on it,
   directly or not, fails naming it. A worklist, not recursion: chains may
   be long. */
static int
s_fail_dependents (segq__jobs_t *self, uint64_t number, const char *why, double now)
{
    size_t count = 0, capacity = 16;
    uint64_t *todo = malloc (capacity * sizeof *todo);
    char (*whys) [96] = malloc (capacity * sizeof *whys);
    int rc = todo && whys ? 0 : SEGQ_ENOMEM;
    if (rc == 0) {
        todo [count] = number;
        snprintf (whys [count++], sizeof *whys, "%s", why);
    }
    while (rc == 0 && count > 0) {
        count--;
        uint64_t failed = todo [count];
        char reason [96];
        memcpy (reason, whys [count], sizeof reason);
        dependents_t *list = segq__u64map_remove (self->dependents, failed);
        if (!list)
            continue;
        for (size_t i = 0; i < list->count && rc == 0; i++) {
            segq__job_t *job = segq__u64map_get (self->active, list->ids [i]);
            if (!job || job->state != SEGQ_JOB_WAITING)
                continue;
            uint64_t dependent = job->sched.seq;
            rc = s_transition (self, job, SEGQ_JOB_FAILED, reason, now);
            if (rc == 0)
                rc = segq__job_store_set_final (self->store, dependent, SEGQ_JOB_FAILED, now,
                                                reason, -1, 0);
            if (rc)
                break;
            s_forget (self, job);
            if (count == capacity) {
                capacity *= 2;
                uint64_t *t = realloc (todo, capacity * sizeof *todo);
                if (t)
                    todo = t;
                char (*w) [96] = realloc (whys, capacity * sizeof *whys);
                if (w)
                    whys = w;
                if (!t || !w) {
                    rc = SEGQ_ENOMEM;
                    break;
                }
            }
            char id [SEGQ__JOB_ID_MAX];
            segq__job_id_format (dependent, id);
            todo [count] = dependent;
            snprintf (whys [count++], sizeof *whys, "dependency %s failed", id);
        }
        free (list);
    }
    free (todo);
    free (whys);
    return rc;
}

/* ---- load ---- */

typedef struct {
    segq__jobs_t *self;
    double now;
    int rc;
    char *err;
    size_t errlen;
} load_t;

static int
s_load_job (void *arg, const segq__job_row_t *row)
{
    load_t *load = arg;
    segq__jobs_t *self = load->self;
    uint16_t kind;
    if (s_kind_index (row->kind, &kind)) {
        /* a kind this segqd no longer knows: leave the row alone, say so */
        fprintf (stderr, "segqd: job %llu has kind '%s', unknown to this segqd: not loaded\n",
                 (unsigned long long) row->id, row->kind);
        return 0;
    }
    segq__job_t *job = s_job_new (self, row, kind);
    if (!job) {
        snprintf (load->err, load->errlen, "out of memory loading job %llu",
                  (unsigned long long) row->id);
        return SEGQ_ENOMEM;
    }
    int rc = 0;
    if (row->state == SEGQ_JOB_QUEUED)
        rc = s_enqueue (self, job);
    else if (row->state == SEGQ_JOB_RUNNING) {
        /* its worker may still be running it: wait for the worker to
           register with it before giving it to anyone else */
        job->sched.started = row->started;
        segq__sched_adopt (self->sched, &job->sched, NULL, -1);
        job->sched.gpu = row->gpu;
        job->orphan_node = strdup (row->worker ? row->worker : "");
        job->orphan_deadline = load->now + self->config.orphan_grace_s;
        if (row->cancel && !(job->cancel = strdup (row->cancel)))
            rc = SEGQ_ENOMEM;
        if (self->n_orphans == self->cap_orphans) {
            size_t capacity = self->cap_orphans ? self->cap_orphans * 2 : 64;
            segq__job_t **grown = realloc (self->orphans, capacity * sizeof *grown);
            if (!grown)
                return SEGQ_ENOMEM;
            self->orphans = grown;
            self->cap_orphans = capacity;
        }
        self->orphans [self->n_orphans++] = job;
        if (!job->orphan_node)
            rc = SEGQ_ENOMEM;
    }
    if (rc)
        snprintf (load->err, load->errlen, "out of memory loading job %llu",
                  (unsigned long long) row->id);
    return rc;
}

static int
s_load_dep (void *arg, uint64_t number, uint64_t on_job)
{
    load_t *load = arg;
    segq__jobs_t *self = load->self;
    segq__job_t *job = segq__u64map_get (self->active, number);
    if (!job || job->state != SEGQ_JOB_WAITING)
        return 0;
    segq__job_t *dep = segq__u64map_get (self->active, on_job);
    if (dep) {
        job->n_pending++;
        return s_add_dependent (self, on_job, number);
    }
    segq__job_brief_t brief;
    int rc = segq__job_store_brief (self->store, on_job, &brief);
    if (rc == 0 && brief.state != SEGQ_JOB_SUCCEEDED) {
        /* finished unsuccessfully while this one waited: fail it below */
        job->n_pending++;
        rc = s_add_dependent (self, on_job, number);
    }
    return rc == SEGQ_ENOENT ? 0 : rc;
}

int
segq__jobs_load (segq__jobs_t *self, double now, char *err, size_t errlen)
{
    load_t load = { self, now, 0, err, errlen };
    int rc = segq__job_store_load_active (self->store, s_load_job, &load);
    if (rc == 0)
        rc = segq__job_store_load_waiting_deps (self->store, s_load_dep, &load);
    if (rc) {
        if (!*err)
            snprintf (err, errlen, "cannot load the jobs from the database (%s)",
                      segq_strerror (rc));
        return rc;
    }
    /* settle what a crash may have left between transactions: waiting jobs
       whose dependencies all finished */
    size_t cursor = 0;
    uint64_t number;
    segq__job_t *job;
    uint64_t *settle = NULL;
    size_t n_settle = 0;
    while ((job = segq__u64map_next (self->active, &cursor, &number)))
        if (job->state == SEGQ_JOB_WAITING) {
            uint64_t *grown = realloc (settle, (n_settle + 1) * sizeof *grown);
            if (!grown) {
                free (settle);
                return SEGQ_ENOMEM;
            }
            settle = grown;
            settle [n_settle++] = number;
        }
    for (size_t i = 0; i < n_settle && rc == 0; i++) {
        job = segq__u64map_get (self->active, settle [i]);
        if (job && job->state == SEGQ_JOB_WAITING && job->n_pending == 0)
            rc = s_release_waiting (self, job, now);
    }
    free (settle);
    /* dependencies that finished without succeeding */
    cursor = 0;
    uint64_t *failed = NULL;
    size_t n_failed = 0;
    dependents_t *list;
    while (rc == 0 && (list = segq__u64map_next (self->dependents, &cursor, &number)))
        if (!segq__u64map_get (self->active, number)) {
            uint64_t *grown = realloc (failed, (n_failed + 1) * sizeof *grown);
            if (!grown) {
                rc = SEGQ_ENOMEM;
                break;
            }
            failed = grown;
            failed [n_failed++] = number;
        }
    for (size_t i = 0; i < n_failed && rc == 0; i++) {
        char id [SEGQ__JOB_ID_MAX], why [64];
        segq__job_id_format (failed [i], id);
        snprintf (why, sizeof why, "dependency %s failed", id);
        rc = s_fail_dependents (self, failed [i], why, now);
    }
    free (failed);
    if (rc)
        snprintf (err, errlen, "cannot settle waiting jobs at start (%s)", segq_strerror (rc));
    return rc;
}

/* ---- submit ---- */

/* The kind's input spec that `name` falls under: "files/a.png" -> files;
   a one-file input as its name or as NAME/FILE ("image/polyp.jpg": the file
   keeps its own name in the job directory). */
static const segq_input_spec_t *
s_input_spec (const segq_kind_spec_t *kind, const char *name)
{
    size_t top = strcspn (name, "/");
    for (size_t i = 0; i < kind->n_inputs; i++) {
        const segq_input_spec_t *spec = &kind->inputs [i];
        if (strlen (spec->name) == top && strncmp (spec->name, name, top) == 0
            && (name [top] == 0 || spec->many || !strchr (name + top + 1, '/')))
            return spec;
    }
    return NULL;
}

/* A job that the new one depends on: must exist, and must not have
   failed or been cancelled; one whose outputs it reads must not have been
   purged either. Returns its state in *state. */
static int
s_check_dep (segq__jobs_t *self, const char *id, const char *what, bool reads_outputs, int *state,
             char *kind, size_t kind_len, char *err, size_t errlen)
{
    uint64_t number = segq__job_id_parse (id);
    segq__job_t *job = number ? segq__u64map_get (self->active, number) : NULL;
    if (job) {
        *state = job->state;
        snprintf (kind, kind_len, "%s", segq__job_kind_name (job));
        return 0;
    }
    segq__job_brief_t brief;
    int rc = number ? segq__job_store_brief (self->store, number, &brief) : SEGQ_ENOENT;
    if (rc == SEGQ_ENOENT) {
        char unknown [SEGQ_MAX_NAME + 128];
        segq__job_unknown (id, unknown, sizeof unknown);
        snprintf (err, errlen, "%s: %s", what, unknown);
        return SEGQ_ENOENT;
    }
    if (rc)
        return rc;
    if (brief.state != SEGQ_JOB_SUCCEEDED) {
        snprintf (err, errlen, "%s: job %s %s, so it will never produce anything", what, id,
                  segq_job_state_name ((segq_job_state_t) brief.state));
        return SEGQ_ESTATE;
    }
    /* refused here, not later on a worker that cannot find the files */
    if (brief.purged && reads_outputs) {
        snprintf (err, errlen,
                  "%s: the outputs of job %s were purged: they are gone (run that "
                  "job again, and use the new one)",
                  what, id);
        return SEGQ_ENOENT;
    }
    *state = brief.state;
    snprintf (kind, kind_len, "%s", brief.kind);
    return 0;
}

/* The owner's queued-jobs limit: a submit over it is refused whole. */
static int
s_check_queued_limit (segq__jobs_t *self, const char *owner, char *err, size_t errlen)
{
    if (!self->config.limits)
        return 0;
    uint64_t max = segq_config_limits (self->config.limits, owner).max_queued;
    segq__sched_user_t *user = max != SEGQ_UNLIMITED ? segq__sched_user (self->sched, owner) : NULL;
    if (max == SEGQ_UNLIMITED || (user && segq__sched_user_pending (user) < max))
        return user || max == SEGQ_UNLIMITED ? 0 : SEGQ_ENOMEM;
    snprintf (err, errlen,
              "user %s already has %llu job%s waiting or queued, the most the broker "
              "allows (max_queued in its configuration): wait for some to start, or cancel some",
              owner, (unsigned long long) max, max == 1 ? "" : "s");
    return SEGQ_ELIMIT;
}

/* A random seed in the schema's range (0 .. 2^53 - 1), for a kind whose
   repeated submits should not repeat themselves by accident. */
static int
s_fresh_seed (segq_params_t *params, char *err, size_t errlen)
{
    uint64_t bits;
    if (getrandom (&bits, sizeof bits, 0) != (ssize_t) sizeof bits) {
        snprintf (err, errlen, "cannot draw a random seed: %s", strerror (errno));
        return SEGQ_EIO;
    }
    segq_value_t seed = { .type = SEGQ_PARAM_INT, .i = (int64_t) (bits >> 11) };
    return segq_params_set (params, "seed", &seed);
}

/* What a submit works out before anything is stored, shared by its steps. */
typedef struct {
    segq__jobs_t *self;
    const segq_submit_t *submit;
    const segq_kind_spec_t *kind;
    uint16_t kind_index;
    segq_params_t params; /* the client's, validated, defaults filled in */
    uint64_t *deps;       /* the jobs it depends on, without repeats */
    bool *dep_explicit;   /* deps [d] named by --after */
    size_t n_deps;
    size_t n_pending;   /* deps not yet succeeded: it starts waiting */
    char **ref_outputs; /* per input read from a job: the output it reads */
    char *err;
    size_t errlen;
} submission_t;

/* The kind: one this broker knows, else EKIND with err listing them. */
static int
s_submit_check_kind (submission_t *sub)
{
    const char *name = sub->submit->kind;
    sub->kind = segq_kind_find (name);
    if (sub->kind && s_kind_index (name, &sub->kind_index) == 0)
        return 0;
    size_t count;
    const segq_kind_spec_t *kinds = segq_kinds (&count);
    char *err = sub->err;
    size_t errlen = sub->errlen;
    int len = snprintf (err, errlen, "unknown job kind '%s' (known:", name ? name : "");
    for (size_t i = 0; i < count && len > 0 && (size_t) len < errlen; i++)
        len += snprintf (err + len, errlen - (size_t) len, " %s", kinds [i].name);
    if (len > 0 && (size_t) len < errlen)
        snprintf (err + len, errlen - (size_t) len, ")");
    return SEGQ_EKIND;
}

static int
s_submit_check_user (submission_t *sub)
{
    if (sub->submit->user && *sub->submit->user)
        return 0;
    snprintf (sub->err, sub->errlen, "submit without a user name");
    return SEGQ_EINVAL;
}

/* The client's parameters checked against the kind, defaults filled in,
   and a fresh seed for a kind that wants one. */
static int
s_submit_params (submission_t *sub)
{
    int rc = segq_params_copy (&sub->params, &sub->submit->params);
    if (rc == 0)
        rc = segq_params_validate (sub->kind, &sub->params, sub->err, sub->errlen);
    /* asked of what the client sent: validation has filled in the default */
    if (rc == 0 && sub->kind->fresh_seed && !segq_params_get (&sub->submit->params, "seed"))
        rc = s_fresh_seed (&sub->params, sub->err, sub->errlen);
    return rc;
}

/* Room for the dependency set (each input and --after at most once) and
   for the output each input reads. */
static int
s_submission_alloc (submission_t *sub)
{
    size_t most_deps = sub->submit->n_inputs + sub->submit->n_after + 1;
    sub->deps = calloc (most_deps, sizeof *sub->deps);
    sub->dep_explicit = calloc (most_deps, sizeof *sub->dep_explicit);
    sub->ref_outputs = calloc (sub->submit->n_inputs + 1, sizeof *sub->ref_outputs);
    return sub->deps && sub->dep_explicit && sub->ref_outputs ? 0 : SEGQ_ENOMEM;
}

static void
s_submission_clear (submission_t *sub)
{
    for (size_t i = 0; sub->ref_outputs && i < sub->submit->n_inputs; i++)
        free (sub->ref_outputs [i]);
    free (sub->ref_outputs);
    free (sub->deps);
    free (sub->dep_explicit);
    segq_params_clear (&sub->params);
}

/* Adds job `number`, in `state`, to the dependency set unless it is there
   already. Returns its place in the set. */
static size_t
s_submission_add_dep (submission_t *sub, uint64_t number, int state)
{
    size_t d = 0;
    while (d < sub->n_deps && sub->deps [d] != number)
        d++;
    if (d == sub->n_deps) {
        sub->deps [sub->n_deps++] = number;
        sub->n_pending += state != SEGQ_JOB_SUCCEEDED;
    }
    return d;
}

/* Input i's name falls under one of the kind's inputs, an input that
   takes one file is not given twice, and one that takes one job's files
   (stylize's content) names that job alone. */
static int
s_submit_check_input_name (submission_t *sub, size_t i)
{
    const segq_kind_spec_t *kind = sub->kind;
    const segq_input_t *input = &sub->submit->inputs [i];
    const segq_input_spec_t *spec =
        segq_name_valid (input->name) ? s_input_spec (kind, input->name) : NULL;
    if (!spec) {
        snprintf (sub->err, sub->errlen, "input '%s': kind %s has no such input (it takes %s%s)",
                  input->name ? input->name : "", kind->name,
                  kind->n_inputs ? kind->inputs [0].name : "none",
                  kind->n_inputs > 1 ? ", ..." : "");
        return SEGQ_EINVAL;
    }
    /* against the first earlier input of the same kind only: one later one
       would have been refused with it already, and a folder of tens of
       thousands of files must not cost a pass over all of them each */
    if (spec->many && !spec->per_member)
        return 0;
    size_t j = 0;
    while (j < i && s_input_spec (kind, sub->submit->inputs [j].name) != spec)
        j++;
    const segq_input_t *other = &sub->submit->inputs [j];
    if (j < i && (!spec->many || input->job || other->job)) {
        if (spec->many)
            snprintf (sub->err, sub->errlen,
                      "input '%s' takes one job's outputs (or one folder), and is given %s "
                      "and %s: submit one %s per job",
                      spec->name, other->job ? other->job : "files",
                      input->job ? input->job : "files", kind->name);
        else
            snprintf (sub->err, sub->errlen, "input '%s' given twice", spec->name);
        return SEGQ_EINVAL;
    }
    return 0;
}

/* The output an input reads from job `number` (in `state`): a name, or "*"
   for all of them; one named must exist if that job has succeeded. */
static int
s_submit_check_ref_output (submission_t *sub, const segq_input_t *input, uint64_t number, int state,
                           const char *output)
{
    if (strcmp (output, "*") == 0)
        return 0;
    if (!segq_name_valid (output)) {
        snprintf (sub->err, sub->errlen, "input '%s': '%s' is not an output name", input->name,
                  output);
        return SEGQ_EINVAL;
    }
    if (state != SEGQ_JOB_SUCCEEDED)
        return 0;
    return s_check_output (sub->self, input->name, number, input->job, output, sub->err,
                           sub->errlen);
}

/* Input i read from another job's outputs (the one it names, else that
   job's kind's principal output, else all), which must be what the input
   takes: the job becomes a dependency. */
static int
s_submit_input_from_job (submission_t *sub, size_t i)
{
    const segq_input_t *input = &sub->submit->inputs [i];
    char what [SEGQ_MAX_NAME + 16], ref_kind [64];
    int state;
    snprintf (what, sizeof what, "input '%s'", input->name);
    int rc = s_check_dep (sub->self, input->job, what, true, &state, ref_kind, sizeof ref_kind,
                          sub->err, sub->errlen);
    if (rc)
        return rc;
    const segq_kind_spec_t *ref_spec = segq_kind_find (ref_kind);
    const char *output = input->output                            ? input->output
                         : ref_spec && ref_spec->principal_output ? ref_spec->principal_output
                                                                  : "*";
    uint64_t number = segq__job_id_parse (input->job);
    rc = s_submit_check_ref_output (sub, input, number, state, output);
    /* by the kinds' tables, so a job still waiting for it is checked too */
    if (rc == 0 && ref_spec)
        rc = segq_kind_check_source (s_input_spec (sub->kind, input->name), ref_spec, input->job,
                                     output, sub->err, sub->errlen);
    if (rc)
        return rc;
    if (!(sub->ref_outputs [i] = strdup (output)))
        return SEGQ_ENOMEM;
    s_submission_add_dep (sub, number, state);
    return 0;
}

/* An input given as an artifact: a well-formed hash, stored on the broker,
   of the size the client says (if it says one). */
static int
s_submit_input_artifact (submission_t *sub, const segq_input_t *input)
{
    uint64_t size;
    if (!segq_hash_valid (input->hash)) {
        snprintf (sub->err, sub->errlen,
                  "input '%s': '%s' is not a sha256 (64 lowercase hex digits)", input->name,
                  input->hash);
        return SEGQ_EINVAL;
    }
    if (!segq__artifact_store_has (sub->self->artifacts, input->hash, &size)) {
        snprintf (sub->err, sub->errlen,
                  "input '%s': artifact %s is not on the broker "
                  "(upload it first)",
                  input->name, input->hash);
        return SEGQ_ENOENT;
    }
    if (input->size && input->size != size) {
        snprintf (sub->err, sub->errlen, "input '%s': artifact %s has %llu bytes, not %llu",
                  input->name, input->hash, (unsigned long long) size,
                  (unsigned long long) input->size);
        return SEGQ_EINVAL;
    }
    return 0;
}

/* Whether input i is laid out as one file (not all of a job's outputs). */
static bool
s_submit_one_file (const submission_t *sub, size_t i)
{
    return !sub->ref_outputs [i] || strcmp (sub->ref_outputs [i], "*") != 0;
}

static int
s_compare_names (const void *a, const void *b)
{
    return strcmp (*(const char *const *) a, *(const char *const *) b);
}

static int
s_submit_misplaced (submission_t *sub, const char *name, const char *why)
{
    const segq_input_spec_t *spec = s_input_spec (sub->kind, name);
    snprintf (sub->err, sub->errlen, "input '%s': %s; name each file of input %s as %s/FILE", name,
              why, spec->name, spec->name);
    return SEGQ_EINVAL;
}

/* The files of an input of many must each have a place of their own: the
   same name twice, or one file named as the input itself beside others
   (a file where they make a folder), would fail on the worker. Sorted, not
   compared pairwise: one SUBMIT may carry tens of thousands of inputs. */
static int
s_submit_check_layout (submission_t *sub)
{
    const segq_submit_t *submit = sub->submit;
    size_t *per_input = calloc (sub->kind->n_inputs + 1, sizeof *per_input);
    const char **files = calloc (submit->n_inputs + 1, sizeof *files);
    if (!per_input || !files) {
        free (per_input);
        free (files);
        return SEGQ_ENOMEM;
    }
    size_t n_files = 0;
    for (size_t i = 0; i < submit->n_inputs; i++) {
        const segq_input_spec_t *spec = s_input_spec (sub->kind, submit->inputs [i].name);
        per_input [spec - sub->kind->inputs]++;
        if (spec->many && s_submit_one_file (sub, i))
            files [n_files++] = submit->inputs [i].name;
    }
    int rc = 0;
    for (size_t f = 0; f < n_files && !rc; f++) {
        const segq_input_spec_t *spec = s_input_spec (sub->kind, files [f]);
        if (strcmp (files [f], spec->name) == 0 && per_input [spec - sub->kind->inputs] > 1)
            rc = s_submit_misplaced (sub, files [f],
                                     "one file laid out as the input itself, beside others");
    }
    qsort (files, n_files, sizeof *files, s_compare_names);
    for (size_t f = 1; f < n_files && !rc; f++)
        if (strcmp (files [f - 1], files [f]) == 0)
            rc = s_submit_misplaced (sub, files [f], "given twice");
    free (per_input);
    free (files);
    return rc;
}

/* Inputs: names under the kind's declared inputs, artifacts stored,
   referenced jobs known, each file in a place of its own; the dependency
   set without repeats. */
static int
s_submit_resolve_inputs (submission_t *sub)
{
    int rc = 0;
    for (size_t i = 0; i < sub->submit->n_inputs && rc == 0; i++) {
        rc = s_submit_check_input_name (sub, i);
        if (rc == 0)
            rc = sub->submit->inputs [i].job
                     ? s_submit_input_from_job (sub, i)
                     : s_submit_input_artifact (sub, &sub->submit->inputs [i]);
    }
    return rc ? rc : s_submit_check_layout (sub);
}

/* Every input the kind needs with these parameters is given, and none
   that they exclude. */
static int
s_submit_check_needed_inputs (submission_t *sub)
{
    const segq_kind_spec_t *kind = sub->kind;
    for (size_t i = 0; i < kind->n_inputs; i++) {
        bool given = false;
        for (size_t j = 0; j < sub->submit->n_inputs && !given; j++)
            given = s_input_spec (kind, sub->submit->inputs [j].name) == &kind->inputs [i];
        if (given && segq_kind_input_excluded (&kind->inputs [i], &sub->params)) {
            snprintf (sub->err, sub->errlen, "kind %s takes input '%s' or parameter %s, not both",
                      kind->name, kind->inputs [i].name, kind->inputs [i].unless);
            return SEGQ_EINVAL;
        }
        if (!given && segq_kind_input_needed (&kind->inputs [i], &sub->params)) {
            const char *unless = kind->inputs [i].unless;
            snprintf (sub->err, sub->errlen, "kind %s needs input '%s' (%s)%s%s%s", kind->name,
                      kind->inputs [i].name, kind->inputs [i].help,
                      unless ? ", unless parameter " : "", unless ? unless : "",
                      unless ? " is true" : "");
            return SEGQ_EINVAL;
        }
    }
    return 0;
}

/* --after: jobs to wait for without reading their outputs. */
static int
s_submit_resolve_after (submission_t *sub)
{
    for (size_t i = 0; i < sub->submit->n_after; i++) {
        const char *id = sub->submit->after [i];
        int state;
        char ref_kind [64];
        int rc = s_check_dep (sub->self, id, "--after", false, &state, ref_kind, sizeof ref_kind,
                              sub->err, sub->errlen);
        if (rc)
            return rc;
        size_t d = s_submission_add_dep (sub, segq__job_id_parse (id), state);
        sub->dep_explicit [d] = true;
    }
    return 0;
}

/* Resources: a CPU job takes one slot unless it asks for more; a submit
   that asks for none gets its kind's default (segqd.conf [kind NAME], else
   one CPU slot); in-process kinds take none. */
static segq_kind_resources_t
s_submit_resources (const submission_t *sub)
{
    const segq_submit_t *submit = sub->submit;
    segq_kind_resources_t dflt =
        segq_config_kind_resources (sub->self->config.limits, sub->kind->name);
    bool asked = submit->gpu_mem || submit->cpu_slots;
    uint64_t gpu_mem = sub->kind->in_process ? 0 : asked ? submit->gpu_mem : dflt.gpu_mem;
    uint32_t cpu_slots = sub->kind->in_process ? 0
                         : !asked              ? dflt.cpu_slots
                         : submit->cpu_slots   ? submit->cpu_slots
                         : gpu_mem             ? 0
                                               : 1;
    return (segq_kind_resources_t){ gpu_mem, cpu_slots };
}

/* The job's row: waiting while a dependency has not succeeded, else queued. */
static segq__job_row_t
s_submit_row (const submission_t *sub, double now)
{
    const segq_submit_t *submit = sub->submit;
    segq__jobs_t *self = sub->self;
    segq_kind_resources_t resources = s_submit_resources (sub);
    return (segq__job_row_t){
        .id = segq__job_store_next_id (self->store),
        .owner = submit->user,
        .kind = sub->kind->name,
        .state = sub->n_pending ? SEGQ_JOB_WAITING : SEGQ_JOB_QUEUED,
        .priority = submit->priority,
        .max_attempts = submit->max_attempts ? submit->max_attempts : self->config.max_attempts,
        .gpu_mem = resources.gpu_mem,
        .cpu_slots = resources.cpu_slots,
        .time_limit_s = submit->time_limit_s ? submit->time_limit_s : self->config.time_limit_s,
        .created = now,
        .gpu = -1,
        .has_inputs = submit->n_inputs > 0,
    };
}

/* The job, its inputs and its dependencies into the current transaction. */
static int
s_submit_insert (const submission_t *sub, const segq__job_row_t *row)
{
    segq__jobs_t *self = sub->self;
    int rc = segq__job_store_begin (self->store);
    if (rc == 0)
        rc = segq__job_store_insert_job (self->store, row, &sub->params);
    for (size_t i = 0; i < sub->submit->n_inputs && rc == 0; i++) {
        const segq_input_t *input = &sub->submit->inputs [i];
        segq__input_row_t input_row = {
            .name = input->name,
            .hash = input->job ? NULL : input->hash,
            .size = input->size,
            .ref_job = input->job ? segq__job_id_parse (input->job) : 0,
            .ref_output = sub->ref_outputs [i],
            /* "m-" and the training's job id: models.c resolved it */
            .model = input->model ? segq__job_id_parse (input->model + 2) : 0,
        };
        if (!input->job)
            segq__artifact_store_has (self->artifacts, input->hash, &input_row.size);
        rc = segq__job_store_insert_input (self->store, row->id, (uint32_t) i, &input_row);
    }
    for (size_t d = 0; d < sub->n_deps && rc == 0; d++)
        rc =
            segq__job_store_insert_dep (self->store, row->id, sub->deps [d], sub->dep_explicit [d]);
    return rc;
}

/* The stored job in memory: waiting on its active dependencies, or in the
   scheduler's queue. */
static int
s_submit_activate (const submission_t *sub, const segq__job_row_t *row, double now)
{
    segq__jobs_t *self = sub->self;
    segq__job_t *job = s_job_new (self, row, sub->kind_index);
    if (!job)
        return SEGQ_ENOMEM;
    char reason [320];
    snprintf (reason, sizeof reason, "submitted by %s%s%s", sub->submit->user,
              sub->submit->retry ? " as a retry of " : "",
              sub->submit->retry ? sub->submit->retry : "");
    /* the first transition: from nothing to waiting or queued */
    int rc = segq__job_store_add_transition (self->store, row->id, ++job->n_transitions, row->state,
                                             now, reason);
    for (size_t d = 0; d < sub->n_deps && rc == 0; d++) {
        if (segq__u64map_get (self->active, sub->deps [d]) && sub->deps [d] != row->id) {
            job->n_pending++;
            rc = s_add_dependent (self, sub->deps [d], row->id);
        }
    }
    if (rc == 0 && job->state == SEGQ_JOB_QUEUED)
        rc = s_enqueue (self, job);
    if (rc == 0 && self->config.observe)
        self->config.observe (self->config.observer, job, 0, job->state, now);
    return rc;
}

/* Stores the job and sets it going; its id into id_out. */
static int
s_submit_store (const submission_t *sub, double now, char id_out [SEGQ__JOB_ID_MAX])
{
    segq__job_row_t row = s_submit_row (sub, now);
    int rc = s_submit_insert (sub, &row);
    if (rc == 0)
        rc = s_submit_activate (sub, &row, now);
    if (rc == 0)
        segq__job_id_format (row.id, id_out);
    else if (!*sub->err)
        snprintf (sub->err, sub->errlen, "cannot store the job: %s", segq_strerror (rc));
    return rc;
}

static int
s_submit (segq__jobs_t *self, const segq_submit_t *submit, double now,
          char id_out [SEGQ__JOB_ID_MAX], char *err, size_t errlen)
{
    submission_t sub = { .self = self, .submit = submit, .err = err, .errlen = errlen };
    int rc = s_submit_check_kind (&sub);
    if (rc == 0)
        rc = s_submit_check_user (&sub);
    if (rc == 0)
        rc = s_submit_params (&sub);
    if (rc == 0)
        rc = s_submission_alloc (&sub);
    if (rc == 0)
        rc = s_submit_resolve_inputs (&sub);
    if (rc == 0)
        rc = s_submit_check_needed_inputs (&sub);
    if (rc == 0)
        rc = s_submit_resolve_after (&sub);
    if (rc == 0)
        rc = s_check_queued_limit (self, submit->user, err, errlen);
    if (rc == 0)
        rc = s_submit_store (&sub, now, id_out);
    s_submission_clear (&sub);
    return rc;
}

static void s_inputs_free (segq_input_t *inputs, size_t n);

/* The job array `array` that input names, into *row: a known one, named
   by an input that takes many files of many jobs (not one job's, as
   stylize's content: its pairs are one generation's). */
static int
s_input_array (segq__jobs_t *self, const segq_kind_spec_t *kind, const segq_input_t *input,
               uint64_t array, segq__array_row_t *row, char *err, size_t errlen)
{
    const segq_input_spec_t *spec =
        segq_name_valid (input->name) ? s_input_spec (kind, input->name) : NULL;
    int rc = segq__job_store_array (self->store, array, row);
    if (rc == SEGQ_ENOENT)
        snprintf (err, errlen, "input '%s': unknown job array '%s'", input->name, input->job);
    else if (rc == 0 && spec && (!spec->many || spec->per_member)) {
        snprintf (err, errlen,
                  "input '%s' takes %s, and job array %s stands for "
                  "%zu jobs' outputs (`segq submit %s --%s ARRAY` makes one job per "
                  "member)",
                  input->name, spec->many ? "one job's outputs" : "one file", input->job,
                  row->n_jobs, kind->name, spec->name);
        rc = SEGQ_EINVAL;
    }
    return rc;
}

/* Array references: an input naming a job array stands for each of its
   jobs, laid out under NAME/JOB/ (only an input that takes many files may
   name one). *out is a copy of submit's inputs with those expanded, or NULL
   when there are none (submit's own inputs serve). */
static int
s_expand_arrays (segq__jobs_t *self, const segq_kind_spec_t *kind, const segq_submit_t *submit,
                 segq_input_t **out, size_t *n_out, char *err, size_t errlen)
{
    *out = NULL;
    *n_out = 0;
    bool any = false;
    for (size_t i = 0; i < submit->n_inputs && !any; i++)
        any = submit->inputs [i].job && segq__array_id_parse (submit->inputs [i].job);
    if (!any)
        return 0;
    size_t n = 0, capacity = submit->n_inputs;
    segq_input_t *inputs = calloc (capacity, sizeof *inputs);
    int rc = inputs ? 0 : SEGQ_ENOMEM;
    for (size_t i = 0; i < submit->n_inputs && rc == 0; i++) {
        const segq_input_t *input = &submit->inputs [i];
        uint64_t array = input->job ? segq__array_id_parse (input->job) : 0;
        segq__array_row_t row = { 0 };
        size_t members = 1;
        if (array) {
            rc = s_input_array (self, kind, input, array, &row, err, errlen);
            members = row.n_jobs;
        }
        if (rc == 0 && n + members > capacity) {
            capacity = n + members + submit->n_inputs;
            segq_input_t *grown = realloc (inputs, capacity * sizeof *grown);
            if (grown)
                inputs = grown;
            else
                rc = SEGQ_ENOMEM;
        }
        for (size_t m = 0; m < members && rc == 0; m++) {
            segq_input_t *dst = &inputs [n++];
            memset (dst, 0, sizeof *dst);
            memcpy (dst->hash, input->hash, sizeof dst->hash);
            dst->size = input->size;
            char job [SEGQ__JOB_ID_MAX], name [2 * SEGQ_MAX_NAME];
            if (array) {
                segq__job_id_format (row.jobs [m], job);
                snprintf (name, sizeof name, "%s/%s", input->name, job);
            }
            if (!(dst->name = strdup (array ? name : input->name))
                || (input->job && !(dst->job = strdup (array ? job : input->job)))
                || (input->output && !(dst->output = strdup (input->output))))
                rc = SEGQ_ENOMEM;
        }
        segq__array_row_clear (&row);
    }
    if (rc == SEGQ_ENOMEM)
        snprintf (err, errlen, "out of memory expanding job arrays");
    if (rc) {
        s_inputs_free (inputs, n);
        return rc;
    }
    *out = inputs;
    *n_out = n;
    return 0;
}

static void
s_inputs_free (segq_input_t *inputs, size_t n)
{
    for (size_t i = 0; inputs && i < n; i++) {
        free (inputs [i].name);
        free (inputs [i].job);
        free (inputs [i].output);
    }
    free (inputs);
}

int
segq__jobs_submit (segq__jobs_t *self, const segq_submit_t *submit, double now,
                   char id_out [SEGQ__JOB_ID_MAX], char *err, size_t errlen)
{
    const segq_kind_spec_t *kind = segq_kind_find (submit->kind);
    segq_input_t *expanded = NULL;
    size_t n_expanded = 0;
    int rc = kind ? s_expand_arrays (self, kind, submit, &expanded, &n_expanded, err, errlen) : 0;
    if (rc || !expanded)
        return rc ? rc : s_submit (self, submit, now, id_out, err, errlen);
    segq_submit_t copy = *submit;
    copy.inputs = expanded;
    copy.n_inputs = n_expanded;
    rc = s_submit (self, &copy, now, id_out, err, errlen);
    s_inputs_free (expanded, n_expanded);
    return rc;
}

/* ---- running ---- */

int
segq__jobs_start (segq__jobs_t *self, segq__job_t *job, const char *worker, int32_t gpu, double now)
{
    char reason [320];
    snprintf (reason, sizeof reason, "attempt %u on %s", job->attempt + 1, worker);
    int rc = s_transition (self, job, SEGQ_JOB_RUNNING, reason, now);
    if (rc == 0)
        rc = segq__job_store_set_running (self->store, job->sched.seq, job->attempt + 1, worker,
                                          gpu, now);
    if (rc == 0) {
        job->attempt++;
        free (job->lost_from);
        job->lost_from = NULL;
        job->log_received = 0;
        job->log_lost = 0;
        job->last_gpu = gpu;
        job->attempt_started = now;
        job->measured = (segq__measured_t){ 0 };
        s_progress_free (job);
    }
    return rc;
}

int
segq__jobs_reclaim (segq__jobs_t *self, segq__job_t *job, const char *worker, double now)
{
    if (job->state != SEGQ_JOB_QUEUED || job->attempt == 0)
        return SEGQ_ESTATE;
    char reason [320];
    snprintf (reason, sizeof reason, "attempt %u taken back: %s came back with it", job->attempt,
              worker);
    int rc = s_transition (self, job, SEGQ_JOB_RUNNING, reason, now);
    if (rc == 0)
        rc = segq__job_store_set_running (self->store, job->sched.seq, job->attempt, worker,
                                          job->last_gpu, now);
    if (rc == 0) {
        free (job->lost_from);
        job->lost_from = NULL;
    }
    return rc;
}

void
segq__jobs_adopt (segq__jobs_t *self, segq__job_t *job)
{
    if (job->orphan_node)
        s_orphan_remove (self, job);
}

/* A run ended (the job leaves RUNNING for `outcome`): what it used goes
   into the accounting, in the transaction of its end. */
static int
s_account (segq__jobs_t *self, segq__job_t *job, int outcome, double now)
{
    if (job->state != SEGQ_JOB_RUNNING)
        return 0;
    segq__run_usage_t run = {
        .job = job->sched.seq,
        .attempt = job->attempt,
        .owner = segq__sched_user_name (job->sched.user),
        .kind = segq__job_kind_name (job),
        .outcome = outcome,
        .started = job->attempt_started > 0 ? job->attempt_started : now,
        .ended = now,
        .cpu_slots = job->sched.cpu_slots,
        .gpu_mem = job->sched.gpu_mem,
        .cpu_seconds = job->measured.cpu_seconds,
        .max_rss = job->measured.max_rss,
        .gpu_peak = job->measured.gpu_peak,
    };
    int rc = segq__job_store_begin (self->store);
    return rc ? rc : segq__accounting_record (self->store, &run);
}

static int
s_final (segq__jobs_t *self, segq__job_t *job, int state, const char *reason, int32_t exit_code,
         int32_t signal, double now)
{
    uint64_t number = job->sched.seq;
    int rc = s_account (self, job, state, now);
    if (rc == 0)
        rc = s_transition (self, job, state, reason, now);
    if (rc == 0)
        rc = segq__job_store_set_final (self->store, number, state, now, reason, exit_code, signal);
    if (rc)
        return rc;
    s_forget (self, job);
    if (state == SEGQ_JOB_SUCCEEDED)
        return s_satisfy_dependents (self, number, now);
    char id [SEGQ__JOB_ID_MAX], why [80];
    segq__job_id_format (number, id);
    snprintf (why, sizeof why, "dependency %s %s", id,
              state == SEGQ_JOB_CANCELLED ? "was cancelled" : "failed");
    return s_fail_dependents (self, number, why, now);
}

/* A running job whose cancel was asked, ended (its worker done with it or
   gone): cancelled, for the reason the cancel gave. */
static int
s_end_cancelled (segq__jobs_t *self, segq__job_t *job, int32_t exit_code, int32_t signal,
                 double now)
{
    char *why = job->cancel;
    job->cancel = NULL;
    int rc = s_final (self, job, SEGQ_JOB_CANCELLED, why, exit_code, signal, now);
    free (why);
    return rc;
}

int
segq__jobs_finish (segq__jobs_t *self, segq__job_t *job, bool success, const char *reason,
                   int32_t exit_code, int32_t signal, const segq_artifact_t *outputs,
                   size_t n_outputs, double now)
{
    if (job->state != SEGQ_JOB_RUNNING)
        return SEGQ_ESTATE;
    if (job->cancel)
        return s_end_cancelled (self, job, exit_code, signal, now);
    char text [512];
    if (success) {
        for (size_t i = 0; i < n_outputs; i++)
            if (!segq_name_valid (outputs [i].name)
                || !segq__artifact_store_has (self->artifacts, outputs [i].hash, NULL)) {
                snprintf (text, sizeof text, "output '%s' (%s) was never uploaded to the broker",
                          outputs [i].name ? outputs [i].name : "", outputs [i].hash);
                return s_final (self, job, SEGQ_JOB_FAILED, text, exit_code, signal, now);
            }
        int rc = segq__job_store_begin (self->store);
        for (size_t i = 0; i < n_outputs && rc == 0; i++)
            rc = segq__job_store_insert_output (self->store, job->sched.seq, &outputs [i]);
        if (rc)
            return rc;
        return s_final (self, job, SEGQ_JOB_SUCCEEDED, NULL, exit_code, signal, now);
    }
    if (!reason || !*reason) {
        if (signal)
            snprintf (text, sizeof text, "killed by signal %d", signal);
        else
            snprintf (text, sizeof text, "exited with code %d", exit_code);
        reason = text;
    }
    return s_final (self, job, SEGQ_JOB_FAILED, reason, exit_code, signal, now);
}

int
segq__jobs_lost (segq__jobs_t *self, segq__job_t *job, const char *why, const char *node,
                 double now)
{
    if (job->state != SEGQ_JOB_RUNNING)
        return SEGQ_ESTATE;
    if (job->cancel)
        return s_end_cancelled (self, job, -1, 0, now);
    char reason [512];
    if (job->attempt >= job->max_attempts) {
        snprintf (reason, sizeof reason, "%s: worker lost %u times (max attempts %u)", why,
                  job->attempt, job->max_attempts);
        return s_final (self, job, SEGQ_JOB_FAILED, reason, -1, 0, now);
    }
    snprintf (reason, sizeof reason, "%s: requeued after attempt %u", why, job->attempt);
    int rc = s_account (self, job, SEGQ_JOB_QUEUED, now);
    if (rc == 0)
        rc = s_transition (self, job, SEGQ_JOB_QUEUED, reason, now);
    if (rc == 0)
        rc = segq__job_store_set_queued (self->store, job->sched.seq);
    if (rc)
        return rc;
    if (job->orphan_node)
        s_orphan_remove (self, job);
    s_progress_free (job);
    free (job->lost_from);
    job->lost_from = node ? strdup (node) : NULL; /* none if out of memory: it runs again */
    segq__sched_release (self->sched, &job->sched);
    return s_enqueue (self, job);
}

/* A job by number: active (in memory) or from the store (brief); its
   owner either way. ENOENT with err for an unknown one. */
static int
s_lookup (segq__jobs_t *self, uint64_t number, char id [SEGQ__JOB_ID_MAX], segq__job_t **job,
          segq__job_brief_t *brief, const char **owner, char *err, size_t errlen)
{
    segq__job_id_format (number, id);
    *job = segq__u64map_get (self->active, number);
    if (*job) {
        *owner = segq__sched_user_name ((*job)->sched.user);
        return 0;
    }
    int rc = segq__job_store_brief (self->store, number, brief);
    if (rc == SEGQ_ENOENT)
        segq__job_unknown (id, err, errlen);
    *owner = rc ? NULL : brief->owner;
    return rc;
}

/* A job by number that `user` may act on (`act`: "hold it"): its owner,
   or anyone as_admin. *state is its state, *job NULL unless active. */
static int
s_lookup_for (segq__jobs_t *self, uint64_t number, const char *user, bool as_admin, const char *act,
              char id [SEGQ__JOB_ID_MAX], segq__job_t **job, int *state, char *err, size_t errlen)
{
    segq__job_brief_t brief;
    const char *owner;
    int rc = s_lookup (self, number, id, job, &brief, &owner, err, errlen);
    if (rc)
        return rc;
    if (!as_admin && (!user || strcmp (user, owner) != 0)) {
        snprintf (err, errlen, "job %s belongs to %s: only its owner or an admin may %s", id, owner,
                  act);
        return SEGQ_EPERM;
    }
    *state = *job ? (*job)->state : brief.state;
    return 0;
}

int
segq__jobs_cancel (segq__jobs_t *self, uint64_t number, const char *user, double now,
                   bool *abort_out, char *err, size_t errlen)
{
    *abort_out = false;
    char id [SEGQ__JOB_ID_MAX];
    segq__job_t *job;
    segq__job_brief_t brief;
    const char *owner;
    int rc = s_lookup (self, number, id, &job, &brief, &owner, err, errlen);
    if (rc)
        return rc;
    if (!user || strcmp (user, owner) != 0) {
        snprintf (err, errlen, "job %s belongs to %s: only its owner or an admin may cancel it", id,
                  owner);
        return SEGQ_EPERM;
    }
    if (!job) {
        snprintf (err, errlen, "job %s has already ended (%s): nothing to cancel", id,
                  segq_job_state_name ((segq_job_state_t) brief.state));
        return SEGQ_ESTATE;
    }
    char reason [320];
    snprintf (reason, sizeof reason, "cancelled by %s", user);
    /* not running, or running but its worker is not here to be told:
       cancelled now (a worker that comes back with it is told to drop it) */
    if (job->state != SEGQ_JOB_RUNNING || !job->sched.node)
        return s_final (self, job, SEGQ_JOB_CANCELLED, reason, -1, 0, now);
    if (!job->cancel) {
        rc = segq__job_store_begin (self->store);
        if (rc == 0)
            rc = segq__job_store_set_cancel (self->store, number, reason);
        if (rc)
            return rc;
        if (!(job->cancel = strdup (reason)))
            return SEGQ_ENOMEM;
    }
    *abort_out = true;
    return 0;
}

int
segq__jobs_withdraw (segq__jobs_t *self, uint64_t number, const char *reason, double now)
{
    segq__job_t *job = segq__jobs_find (self, number);
    if (!job || job->state == SEGQ_JOB_RUNNING)
        return 0;
    return s_final (self, job, SEGQ_JOB_CANCELLED, reason, -1, 0, now);
}

_Static_assert(SEGQ_SCHED_USER_PRIORITY_MAX == SEGQ_PRIORITY_USER_MAX,
               "the scheduler's admin band starts where the protocol's does");

/* A job's state as a refusal says it: "is running", "has succeeded". */
static const char *
s_state_said (int state)
{
    switch (state) {
    case SEGQ_JOB_SUCCEEDED:
        return "has succeeded";
    case SEGQ_JOB_FAILED:
        return "has failed";
    case SEGQ_JOB_CANCELLED:
        return "was cancelled";
    case SEGQ_JOB_RUNNING:
        return "is running";
    default:
        return "is not waiting or queued";
    }
}

int
segq__jobs_set_priority (segq__jobs_t *self, uint64_t number, int32_t priority, const char *user,
                         bool as_admin, bool may_raise, int32_t *previous, char *err, size_t errlen)
{
    char id [SEGQ__JOB_ID_MAX];
    segq__job_t *job;
    int state;
    int rc = s_lookup_for (self, number, user, as_admin, "change its priority", id, &job, &state,
                           err, errlen);
    if (rc)
        return rc;
    if (!may_raise && (priority > SEGQ_PRIORITY_USER_MAX || priority < -SEGQ_PRIORITY_USER_MAX)) {
        snprintf (err, errlen,
                  "priority %d is outside -%d..%d, which orders only your own jobs: "
                  "putting a job ahead of other users' fair share needs an admin",
                  (int) priority, SEGQ_PRIORITY_USER_MAX, SEGQ_PRIORITY_USER_MAX);
        return SEGQ_EPERM;
    }
    if (state != SEGQ_JOB_WAITING && state != SEGQ_JOB_QUEUED) {
        snprintf (err, errlen, "job %s %s: a priority orders only waiting and queued jobs", id,
                  s_state_said (state));
        return SEGQ_ESTATE;
    }
    *previous = job->sched.priority;
    rc = segq__job_store_begin (self->store);
    if (rc == 0)
        rc = segq__job_store_set_priority (self->store, number, priority);
    if (rc == 0)
        segq__sched_set_priority (self->sched, &job->sched, priority);
    return rc;
}

int
segq__jobs_hold (segq__jobs_t *self, uint64_t number, bool release, const char *user, bool as_admin,
                 char *err, size_t errlen)
{
    char id [SEGQ__JOB_ID_MAX];
    segq__job_t *job;
    int state;
    int rc = s_lookup_for (self, number, user, as_admin, release ? "release it" : "hold it", id,
                           &job, &state, err, errlen);
    if (rc)
        return rc;
    if (!job || (state != SEGQ_JOB_WAITING && state != SEGQ_JOB_QUEUED)) {
        snprintf (err, errlen, "job %s %s: only waiting and queued jobs can be %s", id,
                  s_state_said (state), release ? "released" : "held");
        return SEGQ_ESTATE;
    }
    if (job->held == !release)
        return 0;
    rc = segq__job_store_begin (self->store);
    if (rc == 0)
        rc = segq__job_store_set_held (self->store, number, !release);
    if (rc)
        return rc;
    job->held = !release;
    if (job->state != SEGQ_JOB_QUEUED)
        return 0; /* a waiting job keeps the flag until it is queued */
    if (!release) {
        segq__sched_dequeue (self->sched, &job->sched);
        return 0;
    }
    return s_enqueue (self, job);
}

size_t
segq__jobs_orphans (segq__jobs_t *self, segq__job_t ***list_out)
{
    *list_out = self->orphans;
    return self->n_orphans;
}

int
segq__jobs_lose_orphans_of (segq__jobs_t *self, const char *node, double now)
{
    int rc = 0;
    for (size_t i = 0; i < self->n_orphans && rc == 0;) {
        segq__job_t *job = self->orphans [i];
        if (strcmp (job->orphan_node, node) != 0) {
            i++;
            continue;
        }
        char why [300];
        snprintf (why, sizeof why, "worker %s came back without it", node);
        rc = segq__jobs_lost (self, job, why, NULL, now); /* removes it from the list */
    }
    return rc;
}

int
segq__jobs_expire_orphans (segq__jobs_t *self, double now)
{
    int rc = 0;
    for (size_t i = 0; i < self->n_orphans && rc == 0;) {
        segq__job_t *job = self->orphans [i];
        if (job->orphan_deadline > now) {
            i++;
            continue;
        }
        char why [300];
        snprintf (why, sizeof why, "worker %s did not come back after a broker restart",
                  job->orphan_node);
        char *node = job->orphan_node ? strdup (job->orphan_node) : NULL;
        rc = segq__jobs_lost (self, job, why, node, now); /* removes it from the list */
        free (node);
    }
    return rc;
}
