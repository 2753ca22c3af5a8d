/*  worker_assign.c: taking a job (ASSIGN).

    A job the broker assigns enters the table in FETCHING: its directory is
    made, each input is linked in from the cache, and what the cache lacks
    is fetched (worker_transfer.c), one download per content however many
    jobs wait for it. Once nothing is missing the child starts
    (worker_job.c). noop jobs complete in-process; they are batched: every
    ASSIGN read in one wakeup is journalled with one write and answered
    after it (segq__worker_flush_batch, once the wakeup's messages are read).

    A job may have tens of thousands of inputs (a generate job's images as
    one input), many of one content. They are indexed by content once
    (input_layout_t), so each content is looked at once, at its first
    input: laid out from the cache, or waited for. Its names are linked
    in a slice of LAYOUT_SLICE_MS at a time, the next slice on a 0 ms
    timer, so the loop's heartbeats and other jobs go on between slices
    (tens of thousands of links take seconds). A content is linked under
    its first name as soon as it is known in the cache (in the slice that
    looked, or when its fetch ends): from then on the job holds it whatever
    the cache evicts, and its other names link to that one.
*/
#define _GNU_SOURCE
#include "segq_fs.h"
#include <errno.h>
#include <inttypes.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include "worker_daemon.h"

#define PROGRESS_INTERVAL 100
/* The longest a job's layout holds the loop at a time. */
#define LAYOUT_SLICE_MS 20
/* No input (the end of a chain, an empty queue). */
#define NONE SIZE_MAX

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

/* ---- the layout of a job's inputs ---- */

struct input_layout {
    zhashx_t *first;      /* hash (the ASSIGN's own string) -> its first input, + 1 */
    size_t *same_next;    /* [i]: the next input with input i's content, or NONE */
    size_t *fetched_next; /* the contents fetched, pinned and waiting for their
                             other names: a queue through their first inputs */
    size_t fetched_head, fetched_tail;
    size_t gather_at;      /* the next input to look at the content of */
    size_t chain_at;       /* the next name of the content being laid out, or NONE */
    segq__layout_t layout; /* that content's */
    int timer;             /* the id of the next slice's timer, or -1 */
};

static size_t
s_first_with (input_layout_t *self, const char *hash)
{
    void *first = zhashx_lookup (self->first, hash);
    return first ? (size_t) (uintptr_t) first - 1 : NONE;
}

static void
s_layout_destroy (input_layout_t **self_p)
{
    input_layout_t *self = *self_p;
    if (!self)
        return;
    zhashx_destroy (&self->first);
    free (self->same_next);
    free (self->fetched_next);
    free (self);
    *self_p = NULL;
}

/* Each content's inputs chained in order, built from the last input back,
   so the index keeps each content's first. NULL when out of memory. */
static input_layout_t *
s_layout_new (const segq_assign_t *a)
{
    input_layout_t *self = calloc (1, sizeof *self);
    if (!self)
        return NULL;
    self->first = zhashx_new ();
    self->same_next = calloc (a->n_inputs + 1, sizeof *self->same_next);
    self->fetched_next = calloc (a->n_inputs + 1, sizeof *self->fetched_next);
    self->timer = -1;
    self->chain_at = self->fetched_head = self->fetched_tail = NONE;
    if (!self->first || !self->same_next || !self->fetched_next) {
        s_layout_destroy (&self);
        return NULL;
    }
    /* keys are the ASSIGN's, which the job keeps longer than its layout */
    zhashx_set_key_duplicator (self->first, NULL);
    zhashx_set_key_destructor (self->first, NULL);
    for (size_t i = a->n_inputs; i-- > 0;) {
        self->same_next [i] = s_first_with (self, a->inputs [i].hash);
        zhashx_update (self->first, a->inputs [i].hash, (void *) (uintptr_t) (i + 1));
    }
    return self;
}

void
segq__worker_layout_end (job_t *job)
{
    s_layout_destroy (&job->layout);
}

/* Input i under its name, from the layout's file. -1: the job failed. */
static int
s_name_lay (job_t *job, segq__layout_t *layout, size_t i)
{
    char err [1024];
    const char *name = job->assign->u.assign.inputs [i].name;
    if (segq__cache_layout (job->worker->cache, layout, job->dir, name, err, sizeof err) == 0)
        return 0;
    segq__worker_log_note (job, "%s", err);
    segq__worker_job_finish (job, false, -1, 0, err);
    return -1;
}

/* Does an input before inputs [i] have the same content? */
static bool
s_content_seen (input_layout_t *self, const segq_assign_t *a, size_t i)
{
    return s_first_with (self, a->inputs [i].hash) != i;
}

/* Input i's content, at its first input: laid out under its names if the
   cache has it, else the job waits for its fetch (one per content however
   many jobs wait). -1: the job failed. */
static int
s_content_look (job_t *job, size_t i)
{
    segq_worker_t *self = job->worker;
    input_layout_t *layout = job->layout;
    const segq_artifact_t *in = &job->assign->u.assign.inputs [i];
    if (s_content_seen (layout, &job->assign->u.assign, i))
        return 0;
    fetch_t *fetch = zhashx_lookup (self->fetches, in->hash);
    if (!fetch && segq__cache_has (self->cache, in->hash, in->size)) {
        /* linked now, before the cache can evict it: its other names
           link to this one, on later turns if need be */
        segq__cache_layout_begin (self->cache, in->hash, &layout->layout);
        layout->chain_at = layout->same_next [i];
        return s_name_lay (job, &layout->layout, i);
    }
    if ((!fetch && !(fetch = s_fetch_start (self, in)))
        || !zlistx_add_end (fetch->waiters, job->key)) {
        segq__worker_job_finish (job, false, -1, 0, "out of memory fetching inputs");
        return -1;
    }
    job->inputs_missing++;
    return 0;
}

/* The next content fetched: its names after the first link to that one. */
static void
s_fetched_take (job_t *job)
{
    input_layout_t *self = job->layout;
    size_t first = self->fetched_head;
    self->fetched_head = self->fetched_next [first];
    if (self->fetched_head == NONE)
        self->fetched_tail = NONE;
    segq__cache_layout_resume (&self->layout, job->dir, job->assign->u.assign.inputs [first].name);
    self->chain_at = self->same_next [first];
}

/* Names of the content begun, then of those fetched, then the contents
   not looked at yet, until the slice's time is up. -1: the job failed
   (its layout is gone with it). */
static int
s_layout_slice (job_t *job)
{
    input_layout_t *self = job->layout;
    size_t n_inputs = job->assign->u.assign.n_inputs;
    int64_t until = segq__now_ms () + LAYOUT_SLICE_MS;
    while (segq__now_ms () < until) {
        if (self->chain_at != NONE) {
            if (s_name_lay (job, &self->layout, self->chain_at))
                return -1;
            self->chain_at = self->same_next [self->chain_at];
        } else if (self->fetched_head != NONE)
            s_fetched_take (job);
        else if (self->gather_at < n_inputs) {
            if (s_content_look (job, self->gather_at++))
                return -1;
        } else
            break;
    }
    return 0;
}

static bool
s_layout_pending (job_t *job)
{
    input_layout_t *self = job->layout;
    return self->chain_at != NONE || self->fetched_head != NONE
           || self->gather_at < job->assign->u.assign.n_inputs;
}

static int s_on_layout_timer (zloop_t *loop, int timer_id, void *arg);

/* A slice on the loop's next turn. Never at once: the ASSIGNs and fetches
   of one turn would each take a slice in it. */
static void
s_layout_later (job_t *job)
{
    segq_worker_t *self = job->worker;
    input_layout_t *layout = job->layout;
    if (layout->timer < 0
        && (layout->timer = zloop_timer (self->loop, 0, 1, s_on_layout_timer, self)) < 0)
        segq__worker_job_finish (job, false, -1, 0, "out of memory laying out inputs");
}

/* A slice; another on the next turn while names remain; the child once
   all are laid out and nothing is being fetched. */
static void
s_layout_pump (job_t *job)
{
    if (s_layout_slice (job))
        return;
    if (s_layout_pending (job))
        s_layout_later (job);
    else if (job->inputs_missing == 0) {
        segq__worker_layout_end (job);
        segq__worker_job_start (job);
    }
}

/* The timer names the job by its id, never by a pointer: a job may end, or
   go, while its timer waits, and zloop_timer_end can take effect only
   after the timer has fired once more (zloop skips its cancellations on a
   turn whose timers added a poller, as starting a child does). One shot,
   so zloop drops it as it fires. */
static int
s_on_layout_timer (zloop_t *loop, int timer_id, void *arg)
{
    segq_worker_t *self = arg;
    for (job_t *job = zhashx_first (self->jobs); job; job = zhashx_next (self->jobs))
        if (job->layout && job->layout->timer == timer_id) {
            job->layout->timer = -1;
            s_layout_pump (job); /* it may edit the table: look no further */
            break;
        }
    return 0;
}

void
segq__worker_input_fetched (job_t *job, const char *hash)
{
    input_layout_t *self = job->layout;
    size_t first = s_first_with (self, hash);
    segq__layout_t pin;
    job->inputs_missing--;
    segq__cache_layout_begin (job->worker->cache, hash, &pin);
    if (s_name_lay (job, &pin, first))
        return;
    if (self->same_next [first] != NONE) {
        self->fetched_next [first] = NONE;
        if (self->fetched_tail == NONE)
            self->fetched_head = first;
        else
            self->fetched_next [self->fetched_tail] = first;
        self->fetched_tail = first;
    }
    s_layout_later (job);
}

/* ---- ASSIGN ---- */

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
    if (s_job_dir_make (self, job) || s_inputs_check (job))
        return;
    if (!(job->layout = s_layout_new (a))) {
        segq__worker_job_finish (job, false, -1, 0, "out of memory indexing inputs");
        return;
    }
    s_layout_later (job);
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
