/*  worker_assign.c: taking a job (ASSIGN).

    A job the broker assigns enters the table in FETCHING: its directory is
    made, each input is linked in from the cache, and what the cache lacks
    is fetched (worker_transfer.c), one download per content however many
    jobs wait for it. Once nothing is missing the child starts
    (worker_job.c). noop jobs complete in-process; they are batched: every
    ASSIGN read in one wakeup is journalled with one write and answered
    after it (segq__worker_flush_batch, once the wakeup's messages are read).
*/
#define _GNU_SOURCE
#include "segq_fs.h"
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include "worker_daemon.h"

#define PROGRESS_INTERVAL 100

static void
s_write_all_fd (segq_worker_t *self, int fd, const char *data, size_t size, const char *what)
{
    while (size) {
        ssize_t n = write (fd, data, size);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0) {
            segq__worker_log (self, 0, "cannot write %s: %s", what, strerror (errno));
            return;
        }
        data += n;
        size -= (size_t) n;
    }
}

static const segq_kind_spec_t *
s_kind_runnable (segq_worker_t *self, const char *name)
{
    for (size_t i = 0; i < self->n_kinds; i++)
        if (strcmp (self->kinds [i], name) == 0)
            return segq_kind_find (name);
    return NULL;
}

/* Link every input of the job with this content into its directory, as
   soon as the content is in the cache: from then on the job holds it
   whatever the cache evicts. */
int
segq__worker_layout_inputs (job_t *job, const char *hash)
{
    const segq_assign_t *a = &job->assign->u.assign;
    char err [1024];
    segq__layout_t layout;
    segq__cache_layout_begin (job->worker->cache, hash, &layout);
    for (size_t i = 0; i < a->n_inputs; i++)
        if (strcmp (a->inputs [i].hash, hash) == 0
            && segq__cache_layout (job->worker->cache, &layout, job->dir, a->inputs [i].name, err,
                                   sizeof err)) {
            segq__worker_log_note (job, "%s", err);
            segq__worker_job_finish (job, false, -1, 0, err);
            return -1;
        }
    return 0;
}

static void
s_journal_add (segq_worker_t *self, const char *id, uint32_t attempt)
{
    if (self->journal_fd < 0)
        return;
    size_t need = strlen (id) + 16;
    if (self->journal_used + need > self->journal_cap) {
        size_t cap = self->journal_cap ? self->journal_cap * 2 : 65536;
        while (cap < self->journal_used + need)
            cap *= 2;
        char *buf = realloc (self->journal_buf, cap);
        if (!buf)
            return;
        self->journal_buf = buf;
        self->journal_cap = cap;
    }
    self->journal_used +=
        (size_t) sprintf (self->journal_buf + self->journal_used, "%s %" PRIu32 "\n", id, attempt);
}

/* An ASSIGN the worker does not take: while draining, or of a job held. */
static bool
s_assign_refused (segq_worker_t *self, const segq_assign_t *a)
{
    if (self->told_draining) {
        /* Sent before the broker read our draining REGISTER, which did not
           hold this job: the broker has put it back in the queue already. */
        segq__worker_log (self, 0,
                          "ASSIGN of %s attempt %" PRIu32 " while draining: not taken (the broker "
                          "requeued it)",
                          a->job, a->attempt);
        return true;
    }
    if (segq__worker_job_find (self, a->job, a->attempt)) {
        segq__worker_log (self, 1, "ASSIGN of %s attempt %" PRIu32 " again: already held", a->job,
                          a->attempt);
        return true;
    }
    return false;
}

/* The job, in FETCHING, in the table; it takes the message. NULL when out
   of memory (the message stays the caller's). */
static job_t *
s_job_new (segq_worker_t *self, segq_msg_t **msg_p)
{
    segq_assign_t *a = &(*msg_p)->u.assign;
    job_t *job = calloc (1, sizeof *job);
    if (!job || asprintf (&job->key, "%s#%" PRIu32, a->job, a->attempt) < 0) {
        free (job);
        segq__worker_log (
            self, 0, "out of memory: ASSIGN of %s dropped (the broker will requeue it)", a->job);
        return NULL;
    }
    job->worker = self;
    job->assign = *msg_p;
    *msg_p = NULL;
    job->id = a->job;
    job->attempt = a->attempt;
    for (size_t i = 0; i < UPLOAD_WINDOW; i++)
        job->uploads [i].fd = -1;
    job->phase = JOB_FETCHING;
    segq__progress_limiter_init (&job->progress, PROGRESS_INTERVAL);
    zhashx_insert (self->jobs, job->key, job);
    return job;
}

/* noop: done at once, answered after this batch's journal write */
static void
s_job_done_in_process (segq_worker_t *self, job_t *job)
{
    s_journal_add (self, job->id, job->attempt);
    job->success = true;
    job->phase = JOB_DONE;
    zlistx_add_end (self->results_to_send, job->key);
}

/* JOBS_DIR/ID.ATTEMPT/out, made afresh. -1: the job failed. */
static int
s_job_dir_make (segq_worker_t *self, job_t *job)
{
    const segq_assign_t *a = &job->assign->u.assign;
    char err [1024];
    char leaf [SEGQ_MAX_STRING + 16];
    snprintf (leaf, sizeof leaf, "%s.%" PRIu32, a->job, a->attempt);
    if (strchr (leaf, '/') || segq__name_check (leaf, err, sizeof err)) {
        snprintf (err, sizeof err, "job id '%.100s' cannot name a directory", a->job);
        segq__worker_job_finish (job, false, -1, 0, err);
        return -1;
    }
    if (asprintf (&job->dir, "%s/%s", self->jobs_dir, leaf) < 0) {
        job->dir = NULL;
        segq__worker_job_finish (job, false, -1, 0, "out of memory");
        return -1;
    }
    char out [8192];
    snprintf (out, sizeof out, "%s/out", job->dir);
    segq__remove_tree (job->dir);
    if (segq_mkdirs (out, err, sizeof err)) {
        segq__worker_job_finish (job, false, -1, 0, err);
        return -1;
    }
    return 0;
}

/* Check every name first: a bad one fails the job before any transfer.
   -1: the job failed. */
static int
s_inputs_check (job_t *job)
{
    const segq_assign_t *a = &job->assign->u.assign;
    char err [1024];
    for (size_t i = 0; i < a->n_inputs; i++)
        if (segq__name_check (a->inputs [i].name, err, sizeof err)
            || !segq_hash_valid (a->inputs [i].hash)) {
            if (segq_hash_valid (a->inputs [i].hash) == 0)
                snprintf (err, sizeof err, "input '%.200s' has no valid sha256",
                          a->inputs [i].name);
            segq__worker_log_note (job, "%s", err);
            segq__worker_job_finish (job, false, -1, 0, err);
            return -1;
        }
    return 0;
}

/* A download of the input's content, requested; NULL when out of memory. */
static fetch_t *
s_fetch_start (segq_worker_t *self, const segq_artifact_t *in)
{
    fetch_t *fetch = calloc (1, sizeof *fetch);
    if (!fetch || !(fetch->waiters = zlistx_new ()) || !(fetch->name = strdup (in->name))) {
        segq__worker_fetch_destroy (&fetch);
        return NULL;
    }
    zlistx_set_destructor (fetch->waiters, (czmq_destructor *) zstr_free);
    zlistx_set_duplicator (fetch->waiters, (czmq_duplicator *) strdup);
    zlistx_set_comparator (fetch->waiters, (czmq_comparator *) strcmp);
    memcpy (fetch->hash, in->hash, sizeof fetch->hash);
    fetch->size = in->size;
    fetch->seq = ++self->fetch_seq;
    zhashx_insert (self->fetches, fetch->hash, fetch);
    segq__worker_fetch_request (self, fetch);
    return fetch;
}

/* Does an input before inputs [i] have the same content? */
static bool
s_content_seen (const segq_assign_t *a, size_t i)
{
    bool seen = false;
    for (size_t k = 0; k < i && !seen; k++)
        seen = strcmp (a->inputs [k].hash, a->inputs [i].hash) == 0;
    return seen;
}

/* Lays out each input the cache has and waits for the others, one fetch
   per content. -1: the job failed. */
static int
s_inputs_gather (segq_worker_t *self, job_t *job)
{
    const segq_assign_t *a = &job->assign->u.assign;
    for (size_t i = 0; i < a->n_inputs; i++) {
        const segq_artifact_t *in = &a->inputs [i];
        fetch_t *fetch = zhashx_lookup (self->fetches, in->hash);
        if (!fetch && segq__cache_has (self->cache, in->hash, in->size)) {
            /* same content under two names: the first lays out both */
            if (!s_content_seen (a, i) && segq__worker_layout_inputs (job, in->hash))
                return -1;
            continue;
        }
        if (!fetch) {
            if (!(fetch = s_fetch_start (self, in))) {
                segq__worker_job_finish (job, false, -1, 0, "out of memory fetching inputs");
                return -1;
            }
        } else if (zlistx_find (fetch->waiters, job->key))
            continue; /* the same content twice under two names */
        zlistx_add_end (fetch->waiters, job->key);
        job->inputs_missing++;
    }
    return 0;
}

void
segq__worker_on_assign (segq_worker_t *self, segq_msg_t **msg_p)
{
    segq_assign_t *a = &(*msg_p)->u.assign;
    if (s_assign_refused (self, a))
        return;
    job_t *job = s_job_new (self, msg_p);
    if (!job)
        return;
    const segq_kind_spec_t *kind = s_kind_runnable (self, a->kind);
    if (!kind) {
        char err [1024];
        snprintf (err, sizeof err, "job kind '%.100s' is not run by worker %s", a->kind,
                  self->node);
        segq__worker_job_finish (job, false, -1, 0, err);
        return;
    }
    if (kind->in_process) {
        s_job_done_in_process (self, job);
        return;
    }
    if (s_job_dir_make (self, job) || s_inputs_check (job) || s_inputs_gather (self, job))
        return;
    if (job->inputs_missing == 0)
        segq__worker_job_start (job);
}

/* Write the batch's journal lines, then answer the noop jobs. */
void
segq__worker_flush_batch (segq_worker_t *self)
{
    if (self->journal_used) {
        s_write_all_fd (self, self->journal_fd, self->journal_buf, self->journal_used,
                        "the test journal");
        self->journal_used = 0;
    }
    for (char *key = zlistx_first (self->results_to_send); key;
         key = zlistx_next (self->results_to_send)) {
        job_t *job = zhashx_lookup (self->jobs, key);
        if (job && job->phase == JOB_DONE)
            segq__worker_result_send (job);
    }
    zlistx_purge (self->results_to_send);
}
