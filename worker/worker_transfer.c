/*  worker_transfer.c: artifacts out (uploads) and in (fetches).

    A finished job's outputs are uploaded several at a time (upload_t, in
    the job's slots): PUT without a hash, then CHUNKs within the credit the
    broker grants, each hashed as it is read, so a big file is read once
    and the final CHUNK names its sha256. An input the cache lacks is
    fetched with GET into the cache (verified before it is kept) and then
    laid out for every job waiting for it; a fetch that fails is tried
    again a few times before the jobs fail. Transfers belong to a session:
    after a reconnect they start over once WELCOME comes. An upload the
    broker refuses for its limit on transfers (ELIMIT) or for want of room
    on its disk (ENOSPC) waits and is sent again, the job meanwhile
    holding its files.
*/
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include "worker_daemon.h"

#define GET_CREDIT  8
#define FETCH_TRIES 3

/* ---- uploads ---- */

static void
s_slot_reset (upload_t *u)
{
    if (u->fd >= 0)
        close (u->fd);
    u->fd = -1;
    u->req = u->transfer = u->offset = 0;
    u->credit = 0;
}

void
segq__worker_upload_clear (job_t *job)
{
    for (size_t i = 0; i < UPLOAD_WINDOW; i++) {
        s_slot_reset (&job->uploads [i]);
        job->uploads [i].artifact = NULL;
        job->uploads [i].tried_again = false;
    }
}

void
segq__worker_upload_reset (job_t *job)
{
    for (size_t i = 0; i < UPLOAD_WINDOW; i++)
        s_slot_reset (&job->uploads [i]);
}

static void
s_upload_path (const job_t *job, const upload_t *u, char *path, size_t size)
{
    if (u->artifact == &job->ckpt)
        snprintf (path, size, "%s/checkpoint", job->dir);
    else
        snprintf (path, size, "%s/out/%s", job->dir, u->artifact->name);
}

/* An upload failed: the job fails, unless it was a checkpoint, which is
   best effort (the child goes on, the last recorded checkpoint stands). */
void
segq__worker_upload_fail (job_t *job, const char *format, ...)
{
    char reason [600];
    va_list args;
    va_start (args, format);
    vsnprintf (reason, sizeof reason, format, args);
    va_end (args);
    if (job->ckpt_uploading) {
        segq__worker_log_note (job, "checkpoint %s not kept: %s", job->ckpt.name, reason);
        segq__worker_ckpt_end (job);
        return;
    }
    segq__worker_upload_clear (job); /* its slots point into the outputs */
    segq__artifacts_free (&job->outputs, job->n_outputs);
    job->n_outputs = 0;
    segq__worker_log_note (job, "%s", reason);
    segq__worker_job_finish (job, false, job->exit_code, job->signal, reason);
}

/* The next wait of a back-off: twice the last, within min..max. */
static int
s_doubled (int last_ms, int min_ms, int max_ms)
{
    int wait = last_ms * 2;
    return wait < min_ms ? min_ms : wait > max_ms ? max_ms : wait;
}

/* A full disk is the broker admin's to clear, and nothing the job did:
   the job keeps its files and waits (said once) rather than fail at its
   last step, and the refusals of one round double the wait once. */
void
segq__worker_upload_wait_room (job_t *job, upload_t *u, const char *why)
{
    segq_worker_t *self = job->worker;
    int64_t now = segq__now_ms ();
    if (!job->room_since_ms) {
        job->room_since_ms = now;
        segq__worker_log (self, 0,
                          "%s: upload of %s waits for room on the broker's disk (%s); sent again "
                          "at doubling intervals up to %d s until it fits",
                          job->key, u->artifact->name, why, ROOM_BACKOFF_MAX_MS / 1000);
        segq__worker_log_note (job, "upload of %s waits for room on the broker's disk: %s",
                               u->artifact->name, why);
    }
    if (now >= job->room_until_ms) {
        job->room_backoff_ms =
            s_doubled (job->room_backoff_ms, ROOM_BACKOFF_MIN_MS, ROOM_BACKOFF_MAX_MS);
        job->room_until_ms = now + job->room_backoff_ms;
    }
    s_slot_reset (u); /* req 0: PUT again once the wait is over */
    self->deferred = true;
}

/* The broker stored one of the job's files: if it had no room before,
   it has now, and the next refusal starts the back-off over. */
static void
s_room_found (job_t *job, const char *name)
{
    if (!job->room_since_ms)
        return;
    int64_t waited = (segq__now_ms () - job->room_since_ms) / 1000;
    segq__worker_log (job->worker, 0,
                      "%s: the broker had room again: %s stored after %" PRId64 " s of waiting",
                      job->key, name, waited);
    segq__worker_log_note (job, "the broker had room again: %s stored after %" PRId64 " s", name,
                           waited);
    job->room_since_ms = job->room_until_ms = 0;
    job->room_backoff_ms = 0;
}

/* Reads the next chunk of slot u's file into a frame; NULL after the
   upload failed. */
static zframe_t *
s_read_chunk (job_t *job, upload_t *u, size_t size)
{
    zframe_t *frame = zframe_new (NULL, size);
    if (!frame) {
        segq__worker_upload_fail (job, "out of memory uploading %s", u->artifact->name);
        return NULL;
    }
    size_t got = 0;
    while (got < size) {
        ssize_t n = pread (u->fd, zframe_data (frame) + got, size - got, (off_t) (u->offset + got));
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            break;
        got += (size_t) n;
    }
    if (got == size)
        return frame;
    zframe_destroy (&frame);
    segq__worker_upload_fail (job, "output %s shrank or could not be read while uploading",
                              u->artifact->name);
    return NULL;
}

/* Send slot u's chunks while there is credit. */
static void
s_upload_pump (job_t *job, upload_t *u)
{
    segq_artifact_t *a = u->artifact;
    while (u->credit > 0 && u->fd >= 0) {
        uint64_t left = a->size - u->offset;
        size_t size = left < u->chunk ? (size_t) left : u->chunk;
        zframe_t *frame = s_read_chunk (job, u, size);
        if (!frame)
            return;
        segq_msg_t *msg = segq_msg_new (SEGQ_MSG_CHUNK);
        if (!msg) {
            zframe_destroy (&frame);
            segq__worker_upload_fail (job, "out of memory uploading %s", a->name);
            return;
        }
        msg->u.chunk.transfer = u->transfer;
        msg->u.chunk.offset = u->offset;
        msg->u.chunk.last = u->offset + size == a->size;
        /* the hash of what is sent, named in the final CHUNK (SPEC 10.1) */
        if (size)
            segq_sha256_update (&u->hash, zframe_data (frame), size);
        if (msg->u.chunk.last) {
            segq_sha256_final (&u->hash, a->hash);
            memcpy (msg->u.chunk.hash, a->hash, sizeof msg->u.chunk.hash);
        }
        msg->u.chunk.data = frame;
        if (segq__worker_send (job->worker, &msg))
            return; /* the session is going; the upload restarts after WELCOME */
        u->offset += size;
        u->credit--;
        if (u->offset == a->size) {
            close (u->fd); /* all sent: PUT_DONE says how it went */
            u->fd = -1;
        }
    }
}

/* PUT without a hash: the final CHUNK names it (the file is read once).
   The size is the file's as it is now: what PUT declares and what is sent. */
int
segq__worker_upload_send (job_t *job, upload_t *u)
{
    segq_worker_t *self = job->worker;
    char path [8192];
    s_upload_path (job, u, path, sizeof path);
    struct stat st;
    if (stat (path, &st) != 0) {
        segq__worker_upload_fail (job, "cannot read %s: %s", path, strerror (errno));
        return -1;
    }
    u->artifact->size = (uint64_t) st.st_size;
    segq_msg_t *msg = segq_msg_new (SEGQ_MSG_PUT);
    if (!msg || !(msg->u.put.name = strdup (u->artifact->name))) {
        segq_msg_destroy (&msg);
        segq__worker_upload_fail (job, "out of memory uploading %s", u->artifact->name);
        return -1;
    }
    msg->u.put.req_id = u->req = ++self->next_req_id;
    msg->u.put.size = u->artifact->size;
    segq__worker_send (self, &msg);
    return 0;
}

/* Whether the next output may go now: the slot is free and, but for the
   first in flight, the files in flight and it stay within the bytes at
   once. */
static bool
s_may_start (const job_t *job, const upload_t *slot)
{
    if (slot->artifact || job->upload_next >= job->n_outputs)
        return false;
    uint64_t bytes = job->outputs [job->upload_next].size;
    size_t busy = 0;
    for (size_t i = 0; i < UPLOAD_WINDOW; i++)
        if (job->uploads [i].artifact) {
            busy++;
            bytes += job->uploads [i].artifact->size;
        }
    return busy == 0 || bytes <= UPLOAD_BYTES_AT_ONCE;
}

void
segq__worker_upload_next (job_t *job)
{
    segq_worker_t *self = job->worker;
    if (job->n_uploaded == job->n_outputs) {
        if (job->upload_handle) {
            zlistx_delete (self->uploads, job->upload_handle);
            job->upload_handle = NULL;
        }
        segq__worker_job_done (job);
        return;
    }
    if (self->session != ONLINE || segq__now_ms () < job->room_until_ms)
        return; /* resumed after WELCOME, or once the wait for room is over */
    for (size_t i = 0; i < UPLOAD_WINDOW; i++) {
        upload_t *u = &job->uploads [i];
        if (s_may_start (job, u))
            u->artifact = &job->outputs [job->upload_next++];
        if (u->artifact && !u->req && segq__worker_upload_send (job, u) != 0)
            return; /* the job failed */
    }
}

upload_t *
segq__worker_upload_by (segq_worker_t *self, uint64_t req_id, uint64_t transfer, job_t **job_out)
{
    for (job_t *job = zlistx_first (self->uploads); job; job = zlistx_next (self->uploads))
        for (size_t i = 0; i < UPLOAD_WINDOW; i++) {
            upload_t *u = &job->uploads [i];
            if (u->artifact && segq_msg_is_for (req_id, transfer, u->req, u->transfer)) {
                *job_out = job;
                return u;
            }
        }
    return NULL;
}

void
segq__worker_on_put_ready (segq_worker_t *self, const segq_put_ready_t *m)
{
    job_t *job;
    upload_t *u = segq__worker_upload_by (self, m->req_id, 0, &job);
    if (!u || u->transfer)
        return;
    if (m->have) {
        /* only a PUT that names a hash may be answered so, and ours do not */
        segq__worker_upload_fail (
            job, "the broker answered 'have' to the upload of %s, which named no hash",
            u->artifact->name);
        return;
    }
    char path [8192];
    s_upload_path (job, u, path, sizeof path);
    u->fd = open (path, O_RDONLY | O_CLOEXEC);
    if (u->fd < 0) {
        segq__worker_upload_fail (job, "cannot open output %s: %s", path, strerror (errno));
        return;
    }
    segq_sha256_init (&u->hash);
    segq__worker_transfers_taken (self);
    u->transfer = m->transfer;
    u->credit = m->credit;
    u->chunk = m->chunk_size      ? m->chunk_size
               : self->chunk_size ? self->chunk_size
                                  : SEGQ_DEFAULT_CHUNK;
    s_upload_pump (job, u);
}

void
segq__worker_on_put_done (segq_worker_t *self, const segq_put_done_t *m)
{
    job_t *job;
    upload_t *u = segq__worker_upload_by (self, m->req_id, m->transfer, &job);
    if (!u)
        return;
    const char *name = u->artifact->name;
    if (m->code == 0)
        s_room_found (job, name);
    if (m->code == 0 && job->ckpt_uploading)
        segq__worker_ckpt_uploaded (job);
    else if (m->code == 0) {
        s_slot_reset (u);
        u->artifact = NULL;
        u->tried_again = false;
        job->n_uploaded++;
        segq__worker_upload_next (job);
    } else if (m->code == SEGQ_ENOSPC)
        segq__worker_upload_wait_room (job, u, m->message ? m->message : segq_strerror (m->code));
    else if (m->code == SEGQ_EHASH && !u->tried_again && !job->ckpt_uploading) {
        /* Changed on the way: send it once more, then give up. */
        u->tried_again = true;
        segq__worker_log_note (job, "upload of %s failed (%s), trying again", name,
                               m->message ? m->message : segq_strerror (m->code));
        s_slot_reset (u);
        segq__worker_upload_next (job);
    } else
        segq__worker_upload_fail (job, "upload of output %s failed: %s", name,
                                  m->message ? m->message : segq_strerror (m->code));
}

void
segq__worker_on_upload_credit (segq_worker_t *self, const segq_credit_t *m)
{
    job_t *job;
    upload_t *u = segq__worker_upload_by (self, 0, m->transfer, &job);
    if (u) {
        u->credit += m->chunks;
        s_upload_pump (job, u);
    }
}

/* ---- fetching inputs ---- */

void
segq__worker_fetch_destroy (fetch_t **fetch_p)
{
    fetch_t *fetch = *fetch_p;
    if (fetch) {
        segq__cache_write_abort (&fetch->writer);
        zlistx_destroy (&fetch->waiters);
        free (fetch->name);
        free (fetch);
        *fetch_p = NULL;
    }
}

int
segq__worker_fetch_order (const fetch_t *a, const fetch_t *b)
{
    return a->seq < b->seq ? -1 : a->seq > b->seq;
}

/* The fetch waits for a place in the window, behind the older ones: a
   new one is placed from the queue's end, one sent before from its head. */
static void
s_fetch_enqueue (segq_worker_t *self, fetch_t *fetch)
{
    if (!fetch->queued)
        fetch->queued = zlistx_insert (self->fetch_queue, fetch, fetch->seq != self->fetch_seq);
}

/* A free place in the window (online), or NULL. */
static fetch_t **
s_window_place (segq_worker_t *self)
{
    for (size_t i = 0; self->session == ONLINE && i < SEGQ_WORKER_FETCHES; i++)
        if (!self->fetching [i])
            return &self->fetching [i];
    return NULL;
}

/* GET for the fetch, in the window's free place; false if it could not
   be made (it waits again, for the next tick). */
static bool
s_fetch_send (segq_worker_t *self, fetch_t *fetch, fetch_t **place)
{
    segq_msg_t *msg = segq_msg_new (SEGQ_MSG_GET);
    if (!msg) {
        s_fetch_enqueue (self, fetch);
        self->deferred = true;
        return false;
    }
    memcpy (msg->u.get.hash, fetch->hash, sizeof fetch->hash);
    msg->u.get.req_id = fetch->req_id = ++self->next_req_id;
    *place = fetch;
    msg->u.get.credit = GET_CREDIT;
    msg->u.get.name = segq__worker_strdup_or_null (fetch->name);
    segq__worker_send (self, &msg);
    return true;
}

/* GETs for the oldest fetches waiting, as many as the window has room. */
static void
s_fetches_resume (segq_worker_t *self)
{
    fetch_t **place, *f;
    bool sent = true;
    while (sent && (place = s_window_place (self)) && (f = zlistx_first (self->fetch_queue))) {
        zlistx_delete (self->fetch_queue, f->queued);
        f->queued = NULL;
        sent = s_fetch_send (self, f, place);
    }
}

/* The fetch's GET is void: it gives its place in the window back. */
static void
s_fetch_unrequest (segq_worker_t *self, fetch_t *fetch)
{
    segq__cache_write_abort (&fetch->writer);
    for (size_t i = 0; fetch->req_id && i < SEGQ_WORKER_FETCHES; i++)
        if (self->fetching [i] == fetch)
            self->fetching [i] = NULL;
    fetch->req_id = fetch->transfer = 0;
}

/* The fetch is over; tell every job that waited for it. */
static void
s_fetch_end (segq_worker_t *self, fetch_t *fetch, const char *error)
{
    zhashx_delete (self->fetches, fetch->hash);
    s_fetch_unrequest (self, fetch);
    for (char *key = zlistx_first (fetch->waiters); key; key = zlistx_next (fetch->waiters)) {
        job_t *job = zhashx_lookup (self->jobs, key);
        if (!job || job->phase != JOB_FETCHING)
            continue;
        if (error) {
            segq__worker_log_note (job, "%s", error);
            segq__worker_job_finish (job, false, -1, 0, error);
        } else
            segq__worker_input_fetched (job, fetch->hash);
    }
    segq__worker_fetch_destroy (&fetch);
    s_fetches_resume (self);
}

void
segq__worker_fetch_request (segq_worker_t *self, fetch_t *fetch)
{
    s_fetch_unrequest (self, fetch);
    fetch_t **place = s_window_place (self);
    if (place)
        s_fetch_send (self, fetch, place);
    else
        s_fetch_enqueue (self, fetch); /* sent after WELCOME, or once another fetch has ended */
}

void
segq__worker_fetches_void (segq_worker_t *self)
{
    for (fetch_t *f = zhashx_first (self->fetches); f; f = zhashx_next (self->fetches)) {
        s_fetch_unrequest (self, f);
        s_fetch_enqueue (self, f);
    }
}

fetch_t *
segq__worker_fetch_by (segq_worker_t *self, uint64_t req_id, uint64_t transfer)
{
    for (size_t i = 0; i < SEGQ_WORKER_FETCHES; i++) {
        fetch_t *f = self->fetching [i];
        if (f && segq_msg_is_for (req_id, transfer, f->req_id, f->transfer))
            return f;
    }
    return NULL;
}

/* A download went wrong: try again a few times, then fail the jobs. */
void
segq__worker_fetch_failed (segq_worker_t *self, fetch_t *fetch, int code, const char *why)
{
    s_fetch_unrequest (self, fetch);
    if (code == SEGQ_ELIMIT) {
        /* the broker holds as many of our transfers as it takes: not a
           failed try; asked again after a wait (segq__worker_transfers_defer) */
        segq__worker_log (self, 1, "fetch of %s (%.12s) waits: %s", fetch->name, fetch->hash, why);
        s_fetch_enqueue (self, fetch);
        segq__worker_transfers_defer (self);
        return;
    }
    char error [900];
    snprintf (error, sizeof error, "cannot fetch input %s (%.12s): %s", fetch->name, fetch->hash,
              why);
    bool retry = (code == SEGQ_EHASH || code == SEGQ_EPROTO) && ++fetch->tries < FETCH_TRIES;
    segq__worker_log (self, 0, "%s%s", error, retry ? "; trying again" : "");
    if (retry)
        segq__worker_fetch_request (self, fetch);
    else
        s_fetch_end (self, fetch, error);
}

void
segq__worker_on_get_ready (segq_worker_t *self, const segq_get_ready_t *m)
{
    fetch_t *fetch = segq__worker_fetch_by (self, m->req_id, 0);
    if (!fetch || fetch->writer)
        return;
    if (m->size != fetch->size || strcmp (m->hash, fetch->hash) != 0) {
        segq__worker_fetch_failed (self, fetch, SEGQ_EINVAL, "the broker offered another artifact");
        return;
    }
    char err [600];
    segq__worker_transfers_taken (self);
    fetch->transfer = m->transfer;
    fetch->writer =
        segq__cache_write_begin (self->cache, fetch->hash, fetch->size, err, sizeof err);
    if (!fetch->writer)
        segq__worker_fetch_failed (self, fetch, SEGQ_EIO, err);
}

void
segq__worker_on_chunk (segq_worker_t *self, segq_chunk_t *m)
{
    fetch_t *fetch = segq__worker_fetch_by (self, 0, m->transfer);
    if (!fetch || !fetch->writer)
        return;
    char err [600];
    size_t size = m->data ? zframe_size (m->data) : 0;
    const uint8_t *data = m->data ? zframe_data (m->data) : NULL;
    int rc = segq__cache_write_data (fetch->writer, m->offset, data, size, err, sizeof err);
    if (rc) {
        segq__worker_fetch_failed (self, fetch, rc, err);
        return;
    }
    if (m->last) {
        rc = segq__cache_write_commit (&fetch->writer, err, sizeof err);
        if (rc)
            segq__worker_fetch_failed (self, fetch, rc, err);
        else
            s_fetch_end (self, fetch, NULL);
        return;
    }
    segq_msg_t *credit = segq_msg_new (SEGQ_MSG_CREDIT);
    if (credit) {
        credit->u.credit.transfer = m->transfer;
        credit->u.credit.chunks = 1;
        segq__worker_send (self, &credit);
    }
}

/* One round is the refusals of what one resume sent: the wait doubles
   once per round, not once per refused transfer. */
void
segq__worker_transfers_defer (segq_worker_t *self)
{
    int64_t now = segq__now_ms ();
    if (now >= self->deferred_until_ms) {
        self->limit_backoff_ms =
            s_doubled (self->limit_backoff_ms, LIMIT_BACKOFF_MIN_MS, LIMIT_BACKOFF_MAX_MS);
        self->deferred_until_ms = now + self->limit_backoff_ms;
    }
    self->deferred = true;
}

void
segq__worker_transfers_taken (segq_worker_t *self)
{
    self->limit_backoff_ms = 0;
}

/* The job's uploads refused or void are sent again, unless it waits for
   room on the broker's disk: then false, to be asked again. */
static bool
s_uploads_resume (job_t *job, int64_t now)
{
    if (now < job->room_until_ms)
        return false;
    if (job->phase == JOB_UPLOADING)
        segq__worker_upload_next (job); /* PUTs again the slots refused */
    else if (job->ckpt_uploading && !job->uploads [0].req)
        segq__worker_ckpt_resume (job);
    return true;
}

void
segq__worker_transfers_resume (segq_worker_t *self)
{
    int64_t now = segq__now_ms ();
    if (self->session != ONLINE || !self->deferred || now < self->deferred_until_ms)
        return;
    self->deferred = false;
    s_fetches_resume (self);
    /* a copy: a job whose upload fails leaves the list meanwhile */
    zlistx_t *jobs = zlistx_dup (self->uploads);
    for (job_t *job = jobs ? zlistx_first (jobs) : NULL; job; job = zlistx_next (jobs))
        if (!s_uploads_resume (job, now))
            self->deferred = true; /* its wait for room is not over: next tick */
    if (!jobs)
        self->deferred = true; /* out of memory: next tick */
    zlistx_destroy (&jobs);
}
