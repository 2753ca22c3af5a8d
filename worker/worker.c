/*  worker.c: the segq-worker daemon.

    One DEALER socket to the broker, one zloop reactor, no threads. The
    daemon's state is a table of the job attempts it holds, each in one
    phase:

        FETCHING   inputs being downloaded into the cache (GET/CHUNK/CREDIT)
        RUNNING    child process alive (job_runner.c); log and progress flow
        UPLOADING  outputs being uploaded (PUT/CHUNK, within credit), each
                   hashed as it is sent: the final CHUNK names the sha256
        DONE       result known; RESULT sent, kept until RESULT_ACK

    A job leaves the table on RESULT_ACK (accepted or fenced) or on ABORT
    when already DONE. Every held job is listed in REGISTER, so when the
    broker comes back after a restart it re-adopts them, and results that
    finished while it was away are sent again after WELCOME. A result left
    without an answer in a session (the broker's commit failed: it dropped
    the ack) is sent again after expiry_ms, then less and less often.

    Identity: the work directory is locked for the daemon's life, and a
    random id kept in it names the daemon beside its node name (REGISTER
    inst): the broker refuses a second live daemon with the same node name
    and lets a restarted one take its name back at once.

    Session: OFFLINE -> REGISTERING (REGISTER sent on a fresh socket,
    retried with backoff 100 ms .. 2 s) -> ONLINE (WELCOME received). ONLINE
    -> REGISTERING when the broker is silent for expiry_ms, or says it does
    not know us (after its restart).

    noop jobs complete in-process; they are batched: every ASSIGN read in
    one wakeup is journalled with one write and answered after it.
*/
#define _GNU_SOURCE
#include "segq_keys.h"
#include "segq_fs.h"
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <signal.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/signalfd.h>
#include <sys/stat.h>
#include <unistd.h>
#include "segq_worker.h"
#include "worker_internal.h"

#define TICK_MS             50
#define LOG_FLUSH_MS        100
#define LOG_FLUSH_BYTES     (64u << 10)
#define LOG_HOLD_MAX        (1u << 20)      /* log held while the broker is away */
#define PROGRESS_INTERVAL   100
/* How long to wait for WELCOME before trying again on a fresh socket:
   doubling from BACKOFF_MIN_MS up to BACKOFF_MAX_MS. */
#define BACKOFF_MIN_MS      500
#define BACKOFF_MAX_MS      2000
#define RECV_BATCH          4096        /* messages read per wakeup, at most ... */
#define RECV_BATCH_MS       20          /* ... and for at most this long */
#define GET_CREDIT          8
#define FETCH_TRIES         3
#define RESULT_RESEND_MAX_MS 30000      /* an unacknowledged result, at least this often */

typedef enum { OFFLINE, REGISTERING, ONLINE } session_t;
typedef enum { JOB_FETCHING, JOB_RUNNING, JOB_UPLOADING, JOB_DONE } phase_t;

typedef struct job job_t;

/* One artifact being downloaded, shared by every job waiting for it. */
typedef struct {
    char hash [SEGQ_HASH_HEX_LEN + 1];
    uint64_t size;
    char *name;                 /* the first job's name for it, for messages */
    uint64_t req_id;            /* 0: not requested in this session */
    uint64_t transfer;
    segq__cache_write_t *writer;
    int tries;
    zlistx_t *waiters;          /* job keys (strings) */
} fetch_t;

struct job {
    segq_worker_t *worker;
    char *key;                  /* "JOB#ATTEMPT" */
    segq_msg_t *assign;         /* the ASSIGN, owned */
    const char *id;             /* into assign */
    uint32_t attempt;
    phase_t phase;
    char *dir;                  /* scratch directory, or NULL (noop) */
    size_t inputs_missing;
    segq__job_runner_t *runner;
    void *child_handle;         /* in worker->children */
    /* log: bytes not yet sent, from log_offset on */
    uint8_t *log;
    size_t log_used, log_cap;
    uint64_t log_offset;
    int64_t log_flushed_ms;
    segq__progress_limiter_t progress;
    /* result */
    bool success;
    int32_t exit_code;
    int32_t signal;
    char *reason;
    segq_artifact_t *outputs;
    size_t n_outputs;
    int64_t result_sent_ms;     /* last sent, 0 never */
    int64_t result_wait_ms;     /* for its ack before sending it again; 0: expiry_ms */
    /* the output being uploaded, hashed as its chunks are read */
    segq_sha256_t hash_ctx;
    void *upload_handle;        /* in worker->uploads */
    size_t upload_index;
    uint64_t upload_req;
    uint64_t upload_transfer;   /* 0 until PUT_READY */
    int upload_fd;
    uint64_t upload_offset;
    uint32_t upload_credit;
    uint32_t upload_chunk;
    bool upload_tried_again;
    /* the newest checkpoint the child announced (SPEC 8.3), pinned at
       DIR/checkpoint while it uploads (through the upload fields above, the
       child still running); a newer one waits at DIR/checkpoint.next */
    bool ckpt_uploading;
    segq_artifact_t ckpt;       /* name: its path under out/ */
    uint32_t ckpt_step;
    char *ckpt_next;            /* name of the newer one waiting, or NULL */
    uint32_t ckpt_next_step;
};

struct segq_worker {
    /* options, owned copies */
    char *broker, *node, *work_dir, *cache_dir, *jobs_dir, *testkind, *segq_run, *ready_file;
    char *broker_key, *cert;    /* CurveZMQ, or NULL */
    char *instance;             /* REGISTER inst: RANDOM@HOST */
    int id_fd;                  /* WORK_DIR/worker.id, locked while we run */
    segq_gpu_t *gpus;           /* device: what its jobs get as CUDA_VISIBLE_DEVICES */
    size_t n_gpus;
    uint32_t cpu_slots;
    char **kinds;
    size_t n_kinds;
    uint32_t kill_grace_ms;
    int verbose;

    zloop_t *loop;
    zsock_t *sock;
    int sigfd;
    zmq_pollitem_t sig_item;
    segq__cache_t *cache;
    zhashx_t *jobs;             /* key -> job_t */
    zlistx_t *children;         /* job_t with a live runner */
    zlistx_t *uploads;          /* job_t in UPLOADING */
    zhashx_t *fetches;          /* hash -> fetch_t */
    uint64_t next_req_id;

    session_t session;
    int64_t last_heard_ms, last_sent_ms, register_deadline_ms;
    int backoff_ms;
    uint32_t heartbeat_ms, expiry_ms, chunk_size, max_msg;
    bool ready_written;

    bool draining;
    bool told_draining;         /* the last REGISTER said so */
    int interrupts;
    bool stop;
    int exit_code;

    /* noop batching */
    int journal_fd;
    char *journal_buf;
    size_t journal_used, journal_cap;
    zlistx_t *results_to_send;  /* job keys */
};

static void s_job_finish (job_t *job, bool success, int32_t exit_code, int32_t sig,
                          const char *reason);
static void s_job_remove (job_t *job);
static void s_upload_next (job_t *job);
static void s_fetch_request (segq_worker_t *self, fetch_t *fetch);
static void s_upload_fail (job_t *job, const char *format, ...);
static void s_ckpt_end (job_t *job);
static void s_ckpt_uploaded (job_t *job);

/* ---- small helpers ---- */

static void
s_log (segq_worker_t *self, int level, const char *format, ...)
{
    if (level > self->verbose)
        return;
    va_list args;
    va_start (args, format);
    fprintf (stderr, "segq-worker[%s]: ", self->node);
    vfprintf (stderr, format, args);
    fputc ('\n', stderr);
    va_end (args);
}

static char *
s_strdup_or_null (const char *s)
{
    return s ? strdup (s) : NULL;
}

static int
s_send (segq_worker_t *self, segq_msg_t **msg_p)
{
    if (!*msg_p)
        return SEGQ_ENOMEM;
    if (!self->sock) {
        segq_msg_destroy (msg_p);
        return SEGQ_EUNAVAIL;
    }
    int rc = segq_msg_send (msg_p, self->sock, NULL);
    if (rc)
        s_log (self, 0, "cannot send to %s: %s", self->broker, segq_strerror (rc));
    else
        self->last_sent_ms = segq__now_ms ();
    return rc;
}

static void
s_write_all_fd (segq_worker_t *self, int fd, const char *data, size_t size, const char *what)
{
    while (size) {
        ssize_t n = write (fd, data, size);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0) {
            s_log (self, 0, "cannot write %s: %s", what, strerror (errno));
            return;
        }
        data += n;
        size -= (size_t) n;
    }
}

/* ---- the job's log ---- */

static void
s_log_append (job_t *job, const void *data, size_t size)
{
    if (job->log_used + size > LOG_HOLD_MAX) {
        /* The broker has been away for a while: keep the newest part. The
           offsets tell the broker where the gap is. */
        job->log_offset += job->log_used;
        job->log_used = 0;
        if (size > LOG_HOLD_MAX) {
            job->log_offset += size - LOG_HOLD_MAX;
            data = (const uint8_t *) data + (size - LOG_HOLD_MAX);
            size = LOG_HOLD_MAX;
        }
    }
    if (job->log_used + size > job->log_cap) {
        size_t cap = job->log_cap ? job->log_cap : 4096;
        while (cap < job->log_used + size)
            cap *= 2;
        uint8_t *log = realloc (job->log, cap);
        if (!log)
            return;             /* out of memory: this piece of log is lost, the job is not */
        job->log = log;
        job->log_cap = cap;
    }
    memcpy (job->log + job->log_used, data, size);
    job->log_used += size;
}

static void
s_log_note (job_t *job, const char *format, ...)
{
    char line [1024];
    va_list args;
    va_start (args, format);
    int len = snprintf (line, sizeof line, "segq-worker: ");
    len += vsnprintf (line + len, sizeof line - (size_t) len - 1, format, args);
    va_end (args);
    if (len > (int) sizeof line - 2)
        len = (int) sizeof line - 2;
    line [len++] = '\n';
    s_log_append (job, line, (size_t) len);
}

static void
s_log_flush (job_t *job, int64_t now)
{
    segq_worker_t *self = job->worker;
    job->log_flushed_ms = now;
    if (job->log_used == 0 || self->session != ONLINE)
        return;
    size_t max = self->chunk_size ? self->chunk_size : SEGQ_DEFAULT_CHUNK;
    size_t sent = 0;
    while (sent < job->log_used) {
        size_t size = job->log_used - sent < max ? job->log_used - sent : max;
        segq_msg_t *msg = segq_msg_new (SEGQ_MSG_LOG);
        if (!msg || !(msg->u.log.job = strdup (job->id))
        ||  !(msg->u.log.data = malloc (size))) {
            segq_msg_destroy (&msg);
            break;
        }
        msg->u.log.attempt = job->attempt;
        msg->u.log.offset = job->log_offset + sent;
        memcpy (msg->u.log.data, job->log + sent, size);
        msg->u.log.size = size;
        if (s_send (self, &msg))
            break;
        sent += size;
    }
    memmove (job->log, job->log + sent, job->log_used - sent);
    job->log_used -= sent;
    job->log_offset += sent;
}

/* ---- progress ---- */

static void
s_progress_send (job_t *job, int64_t now, bool force)
{
    segq_worker_t *self = job->worker;
    if (self->session != ONLINE || !segq__progress_limiter_due (&job->progress, now, force))
        return;
    const segq__progress_t *state = &job->progress.state;
    segq_msg_t *msg = segq_msg_new (SEGQ_MSG_PROGRESS);
    if (!msg || !(msg->u.progress.job = strdup (job->id))
    ||  (state->phase && !(msg->u.progress.phase = strdup (state->phase)))
    ||  (state->message && !(msg->u.progress.message = strdup (state->message)))
    ||  segq_params_copy (&msg->u.progress.metrics, &state->metrics)) {
        segq_msg_destroy (&msg);
        return;
    }
    msg->u.progress.attempt = job->attempt;
    msg->u.progress.fraction = state->has_fraction ? state->fraction : 0;
    if (s_send (self, &msg) == 0)
        segq__progress_limiter_sent (&job->progress, now);
}

/* ---- job table ---- */

static job_t *
s_job_find (segq_worker_t *self, const char *id, uint32_t attempt)
{
    char key [SEGQ_MAX_STRING + 16];
    snprintf (key, sizeof key, "%s#%" PRIu32, id, attempt);
    return zhashx_lookup (self->jobs, key);
}

static void
s_job_free (job_t *job)
{
    segq_worker_t *self = job->worker;
    if (job->runner)
        segq__job_runner_destroy (&job->runner);
    if (job->child_handle)
        zlistx_delete (self->children, job->child_handle);
    if (job->upload_handle)
        zlistx_delete (self->uploads, job->upload_handle);
    if (job->upload_fd >= 0)
        close (job->upload_fd);
    if (job->dir) {
        segq__remove_tree (job->dir);
        free (job->dir);
    }
    segq__progress_limiter_clear (&job->progress);
    segq__artifacts_free (&job->outputs, job->n_outputs);
    segq_artifact_clear (&job->ckpt);
    free (job->ckpt_next);
    free (job->reason);
    free (job->log);
    segq_msg_destroy (&job->assign);
    free (job->key);
    free (job);
}

static void
s_job_remove (job_t *job)
{
    zhashx_delete (job->worker->jobs, job->key);
    s_job_free (job);
}

static void
s_result_send (job_t *job)
{
    segq_worker_t *self = job->worker;
    if (self->session != ONLINE)
        return;                 /* sent again after WELCOME */
    segq_msg_t *msg = segq_msg_new (SEGQ_MSG_RESULT);
    segq_result_t *r = msg ? &msg->u.result : NULL;
    if (!r || !(r->job = strdup (job->id)) || (job->reason && !(r->reason = strdup (job->reason)))
    ||  (job->n_outputs && !(r->outputs = calloc (job->n_outputs, sizeof *r->outputs)))) {
        segq_msg_destroy (&msg);
        s_log (self, 0, "out of memory sending the result of %s", job->key);
        return;
    }
    r->attempt = job->attempt;
    r->success = job->success;
    r->exit_code = job->exit_code;
    r->signal = job->signal;
    for (size_t i = 0; i < job->n_outputs; i++, r->n_outputs++)
        if (segq_artifact_copy (&r->outputs [i], &job->outputs [i])) {
            segq_msg_destroy (&msg);
            return;
        }
    if (s_send (self, &msg) == 0)
        job->result_sent_ms = self->last_sent_ms;
}

/* Results the broker has not answered within expiry_ms (a failed commit
   drops the acks of its turn, SPEC 8.7) are sent again, waiting twice as
   long each time up to RESULT_RESEND_MAX_MS: the broker acknowledges a
   repeated result it has recorded. */
static void
s_results_resend (segq_worker_t *self, int64_t now)
{
    if (self->session != ONLINE)
        return;
    for (job_t *job = zhashx_first (self->jobs); job; job = zhashx_next (self->jobs)) {
        int64_t wait = job->result_wait_ms ? job->result_wait_ms : self->expiry_ms;
        if (job->phase != JOB_DONE || !job->result_sent_ms || now - job->result_sent_ms < wait)
            continue;
        s_log (self, 0, "result of %s not acknowledged in %" PRId64 " ms: sending it again",
               job->key, wait);
        job->result_wait_ms = wait * 2 < RESULT_RESEND_MAX_MS ? wait * 2 : RESULT_RESEND_MAX_MS;
        s_result_send (job);
    }
}

/* The job's outcome is known (outputs uploaded if it succeeded). */
static void
s_job_done (job_t *job)
{
    int64_t now = segq__now_ms ();
    s_progress_send (job, now, true);
    s_log_flush (job, now);
    job->phase = JOB_DONE;
    s_log (job->worker, 1, "%s %s%s%s", job->key, job->success ? "succeeded" : "failed",
           job->reason ? ": " : "", job->reason ? job->reason : "");
    s_result_send (job);
}

/* ---- uploads ---- */

static void
s_upload_reset (job_t *job)
{
    if (job->upload_fd >= 0)
        close (job->upload_fd);
    job->upload_fd = -1;
    job->upload_req = job->upload_transfer = 0;
    job->upload_offset = 0;
    job->upload_credit = 0;
}

/* What is being uploaded: the job's checkpoint, or its current output. */
static segq_artifact_t *
s_upload_artifact (job_t *job)
{
    return job->ckpt_uploading ? &job->ckpt : &job->outputs [job->upload_index];
}

static void
s_upload_path (job_t *job, char *path, size_t size)
{
    if (job->ckpt_uploading)
        snprintf (path, size, "%s/checkpoint", job->dir);
    else
        snprintf (path, size, "%s/out/%s", job->dir, job->outputs [job->upload_index].name);
}

/* An upload failed: the job fails, unless it was a checkpoint, which is
   best effort (the child goes on, the last recorded checkpoint stands). */
static void
s_upload_fail (job_t *job, const char *format, ...)
{
    char reason [600];
    va_list args;
    va_start (args, format);
    vsnprintf (reason, sizeof reason, format, args);
    va_end (args);
    if (job->ckpt_uploading) {
        s_log_note (job, "checkpoint %s not kept: %s", job->ckpt.name, reason);
        s_ckpt_end (job);
        return;
    }
    s_upload_reset (job);
    segq__artifacts_free (&job->outputs, job->n_outputs);
    job->n_outputs = 0;
    s_log_note (job, "%s", reason);
    s_job_finish (job, false, job->exit_code, job->signal, reason);
}

/* Send chunks while there is credit. */
static void
s_upload_pump (job_t *job)
{
    segq_worker_t *self = job->worker;
    segq_artifact_t *a = s_upload_artifact (job);
    uint32_t chunk = job->upload_chunk;
    while (job->upload_credit > 0 && job->upload_fd >= 0) {
        uint64_t left = a->size - job->upload_offset;
        size_t size = left < chunk ? (size_t) left : chunk;
        zframe_t *frame = zframe_new (NULL, size);
        if (!frame) {
            s_upload_fail (job, "out of memory uploading %s", a->name);
            return;
        }
        size_t got = 0;
        while (got < size) {
            ssize_t n = pread (job->upload_fd, zframe_data (frame) + got, size - got,
                               (off_t) (job->upload_offset + got));
            if (n < 0 && errno == EINTR)
                continue;
            if (n <= 0)
                break;
            got += (size_t) n;
        }
        if (got < size) {
            zframe_destroy (&frame);
            s_upload_fail (job, "output %s shrank or could not be read while uploading", a->name);
            return;
        }
        segq_msg_t *msg = segq_msg_new (SEGQ_MSG_CHUNK);
        if (!msg) {
            zframe_destroy (&frame);
            s_upload_fail (job, "out of memory uploading %s", a->name);
            return;
        }
        msg->u.chunk.transfer = job->upload_transfer;
        msg->u.chunk.offset = job->upload_offset;
        msg->u.chunk.last = job->upload_offset + size == a->size;
        /* the hash of what is sent, named in the final CHUNK (SPEC 10.1) */
        if (size)
            segq_sha256_update (&job->hash_ctx, zframe_data (frame), size);
        if (msg->u.chunk.last) {
            segq_sha256_final (&job->hash_ctx, a->hash);
            memcpy (msg->u.chunk.hash, a->hash, sizeof msg->u.chunk.hash);
        }
        msg->u.chunk.data = frame;
        if (s_send (self, &msg))
            return;             /* the session is going; the upload restarts after WELCOME */
        job->upload_offset += size;
        job->upload_credit--;
        if (job->upload_offset == a->size) {
            close (job->upload_fd);     /* all sent: PUT_DONE says how it went */
            job->upload_fd = -1;
        }
    }
}

/* The size of what is to be uploaded, as it is now: what PUT declares and
   what is sent. 0, or the upload failed. */
static int
s_upload_size (job_t *job)
{
    char path [8192];
    s_upload_path (job, path, sizeof path);
    struct stat st;
    if (stat (path, &st) != 0) {
        s_upload_fail (job, "cannot read %s: %s", path, strerror (errno));
        return -1;
    }
    s_upload_artifact (job)->size = (uint64_t) st.st_size;
    return 0;
}

/* PUT without a hash: the final CHUNK names it (the file is read once). */
static void
s_put (job_t *job, const char *name, uint64_t size)
{
    segq_worker_t *self = job->worker;
    segq_msg_t *msg = segq_msg_new (SEGQ_MSG_PUT);
    if (!msg || !(msg->u.put.name = strdup (name))) {
        segq_msg_destroy (&msg);
        s_upload_fail (job, "out of memory uploading %s", name);
        return;
    }
    msg->u.put.req_id = job->upload_req = ++self->next_req_id;
    msg->u.put.size = size;
    s_send (self, &msg);
}

static void
s_upload_next (job_t *job)
{
    segq_worker_t *self = job->worker;
    s_upload_reset (job);
    if (job->upload_index >= job->n_outputs) {
        if (job->upload_handle) {
            zlistx_delete (self->uploads, job->upload_handle);
            job->upload_handle = NULL;
        }
        s_job_done (job);
        return;
    }
    if (self->session != ONLINE)
        return;                 /* resumed after WELCOME */
    segq_artifact_t *a = &job->outputs [job->upload_index];
    if (s_upload_size (job) == 0)
        s_put (job, a->name, a->size);
}

static job_t *
s_upload_by (segq_worker_t *self, uint64_t req_id, uint64_t transfer)
{
    for (job_t *job = zlistx_first (self->uploads); job; job = zlistx_next (self->uploads))
        if ((req_id && job->upload_req == req_id)
        ||  (transfer && job->upload_transfer == transfer))
            return job;
    return NULL;
}

static void
s_on_put_ready (segq_worker_t *self, const segq_put_ready_t *m)
{
    job_t *job = s_upload_by (self, m->req_id, 0);
    if (!job || job->upload_transfer)
        return;
    const segq_artifact_t *a = s_upload_artifact (job);
    if (m->have) {
        /* only a PUT that names a hash may be answered so, and ours do not */
        s_upload_fail (job, "the broker answered 'have' to the upload of %s, which named no hash",
                       a->name);
        return;
    }
    char path [8192];
    s_upload_path (job, path, sizeof path);
    job->upload_fd = open (path, O_RDONLY | O_CLOEXEC);
    if (job->upload_fd < 0) {
        s_upload_fail (job, "cannot open output %s: %s", path, strerror (errno));
        return;
    }
    segq_sha256_init (&job->hash_ctx);
    job->upload_transfer = m->transfer;
    job->upload_credit = m->credit;
    job->upload_chunk = m->chunk_size ? m->chunk_size
                      : self->chunk_size ? self->chunk_size : SEGQ_DEFAULT_CHUNK;
    s_upload_pump (job);
}

static void
s_on_put_done (segq_worker_t *self, const segq_put_done_t *m)
{
    job_t *job = s_upload_by (self, m->req_id, m->transfer);
    if (!job)
        return;
    const segq_artifact_t *a = s_upload_artifact (job);
    if (m->code == 0 && job->ckpt_uploading)
        s_ckpt_uploaded (job);
    else
    if (m->code == 0) {
        job->upload_index++;
        job->upload_tried_again = false;
        s_upload_next (job);
    }
    else
    if (m->code == SEGQ_EHASH && !job->upload_tried_again && !job->ckpt_uploading) {
        /* Changed on the way: send it once more, then give up. */
        job->upload_tried_again = true;
        s_log_note (job, "upload of %s failed (%s), trying again", a->name,
                    m->message ? m->message : segq_strerror (m->code));
        s_upload_next (job);
    }
    else
        s_upload_fail (job, "upload of output %s failed: %s", a->name,
                       m->message ? m->message : segq_strerror (m->code));
}

static void
s_on_upload_credit (segq_worker_t *self, const segq_credit_t *m)
{
    job_t *job = s_upload_by (self, 0, m->transfer);
    if (job) {
        job->upload_credit += m->chunks;
        s_upload_pump (job);
    }
}

static void
s_skipped_output (void *arg, const char *name, const char *why)
{
    s_log_note ((job_t *) arg, "output out/%s is %s: not uploaded", name, why);
}

/* ---- checkpoints (SPEC 8.3) ---- */

static void
s_ckpt_put (job_t *job)
{
    segq_worker_t *self = job->worker;
    s_upload_reset (job);
    if (self->session != ONLINE)
        return;                 /* sent again after WELCOME */
    s_put (job, job->ckpt.name, job->ckpt.size);
}

/* Upload the checkpoint pinned at DIR/checkpoint (hashed as it is sent). */
static void
s_ckpt_start (job_t *job, const char *name, uint32_t step)
{
    char *copy = strdup (name);
    job->ckpt_uploading = true;     /* from here on s_upload_fail ends it */
    free (job->ckpt.name);
    job->ckpt.name = copy;
    job->ckpt_step = step;
    job->upload_handle = zlistx_add_end (job->worker->uploads, job);
    if (!copy || !job->upload_handle) {
        s_upload_fail (job, "out of memory");
        return;
    }
    if (s_upload_size (job) == 0)
        s_ckpt_put (job);
}

/* The child said out/NAME is a finished checkpoint: pin this version (the
   child replaces the file by renaming a new one over it) and upload it, or
   keep it for when the one uploading now is done. */
static void
s_ckpt_announced (job_t *job, const char *name, uint32_t step)
{
    char err [600], src [8192], pin [8192];
    if (segq__name_check (name, err, sizeof err)) {
        s_log_note (job, "checkpoint ignored: %s", err);
        return;
    }
    snprintf (src, sizeof src, "%s/out/%s", job->dir, name);
    snprintf (pin, sizeof pin, "%s/%s", job->dir,
              job->ckpt_uploading ? "checkpoint.next" : "checkpoint");
    unlink (pin);
    if (link (src, pin) != 0) {
        s_log_note (job, "checkpoint out/%s not kept: %s", name, strerror (errno));
        return;
    }
    if (!job->ckpt_uploading) {
        s_ckpt_start (job, name, step);
        return;
    }
    free (job->ckpt_next);
    job->ckpt_next = strdup (name);
    job->ckpt_next_step = step;
    if (!job->ckpt_next)
        unlink (pin);
}

/* The upload of the checkpoint is over (done or not): the next one, if
   the child announced one meanwhile. */
static void
s_ckpt_end (job_t *job)
{
    segq_worker_t *self = job->worker;
    s_upload_reset (job);
    job->ckpt_uploading = false;
    if (job->upload_handle) {
        zlistx_delete (self->uploads, job->upload_handle);
        job->upload_handle = NULL;
    }
    char path [8192], next [8192];
    snprintf (path, sizeof path, "%s/checkpoint", job->dir);
    snprintf (next, sizeof next, "%s/checkpoint.next", job->dir);
    unlink (path);
    char *name = job->ckpt_next;
    job->ckpt_next = NULL;
    if (name && rename (next, path) == 0)
        s_ckpt_start (job, name, job->ckpt_next_step);
    free (name);
}

static void
s_ckpt_uploaded (job_t *job)
{
    segq_msg_t *msg = segq_msg_new (SEGQ_MSG_CHECKPOINT);
    segq_checkpoint_t *c = msg ? &msg->u.checkpoint : NULL;
    if (c && (c->job = strdup (job->id)) && (c->name = strdup (job->ckpt.name))) {
        c->attempt = job->attempt;
        memcpy (c->hash, job->ckpt.hash, sizeof c->hash);
        c->size = job->ckpt.size;
        c->step = job->ckpt_step;
        s_send (job->worker, &msg);
    }
    segq_msg_destroy (&msg);
    s_ckpt_end (job);
}

/* The child ended: a checkpoint still uploading is of no use any more
   (a requeue happens only if this worker dies, and then nothing goes on). */
static void
s_ckpt_abandon (job_t *job)
{
    if (job->ckpt_uploading) {
        free (job->ckpt_next);
        job->ckpt_next = NULL;
        s_ckpt_end (job);
    }
}

static void
s_on_checkpoint_ack (segq_worker_t *self, const segq_checkpoint_ack_t *m)
{
    job_t *job = s_job_find (self, m->job, m->attempt);
    if (!job)
        return;
    if (m->code == 0)
        s_log_note (job, "checkpoint of step %" PRIu32 " recorded by the broker: a requeued "
                    "attempt resumes from it", m->step);
    else
        s_log_note (job, "checkpoint of step %" PRIu32 " refused by the broker: %s", m->step,
                    m->message ? m->message : segq_strerror (m->code));
}

/* ---- finishing a job ---- */

static void
s_job_finish (job_t *job, bool success, int32_t exit_code, int32_t sig, const char *reason)
{
    segq_worker_t *self = job->worker;
    s_ckpt_abandon (job);
    job->success = success;
    job->exit_code = exit_code;
    job->signal = sig;
    free (job->reason);
    job->reason = reason && *reason ? strdup (reason) : NULL;
    if (job->upload_handle) {
        zlistx_delete (self->uploads, job->upload_handle);
        job->upload_handle = NULL;
    }
    if (!success || !job->dir) {
        s_job_done (job);
        return;
    }
    char out [8192], err [600];
    snprintf (out, sizeof out, "%s/out", job->dir);
    if (segq__collect_outputs (out, &job->outputs, &job->n_outputs, s_skipped_output, job,
                               err, sizeof err)) {
        s_log_note (job, "%s", err);
        job->success = false;
        free (job->reason);
        job->reason = strdup (err);
        s_job_done (job);
        return;
    }
    /* RESULT lists every output in one message: refuse what cannot fit
       rather than send a message the broker must drop. */
    size_t listed = 0;
    for (size_t i = 0; i < job->n_outputs; i++)
        listed += strlen (job->outputs [i].name) + SEGQ_HASH_HEX_LEN + 32;
    if (listed + 8192 > self->max_msg) {
        snprintf (err, sizeof err, "%zu outputs: their list (%zu bytes) does not fit one RESULT "
                  "message (at most %u bytes): write fewer files (e.g. one archive)",
                  job->n_outputs, listed, self->max_msg);
        s_upload_fail (job, "%s", err);
        return;
    }
    job->phase = JOB_UPLOADING;
    job->upload_index = 0;
    job->upload_handle = zlistx_add_end (self->uploads, job);
    if (!job->upload_handle) {
        s_upload_fail (job, "out of memory");
        return;
    }
    s_upload_next (job);
}

static void
s_runner_log (void *arg, const uint8_t *data, size_t size)
{
    job_t *job = arg;
    s_log_append (job, data, size);
    if (job->log_used >= LOG_FLUSH_BYTES)
        s_log_flush (job, segq__now_ms ());
}

static void
s_runner_progress (void *arg, const segq__progress_t *record)
{
    job_t *job = arg;
    int64_t now = segq__now_ms ();
    if (record->checkpoint && job->phase == JOB_RUNNING)
        s_ckpt_announced (job, record->checkpoint, record->step);
    if (segq__progress_limiter_update (&job->progress, record, now))
        s_progress_send (job, now, false);
}

static void
s_runner_exit (void *arg, const segq__job_exit_t *status)
{
    job_t *job = arg;
    segq_worker_t *self = job->worker;
    segq__job_runner_destroy (&job->runner);
    zlistx_delete (self->children, job->child_handle);
    job->child_handle = NULL;
    const segq_assign_t *a = &job->assign->u.assign;
    const segq_kind_spec_t *kind = segq_kind_find (a->kind);
    char reason [sizeof status->reason];
    snprintf (reason, sizeof reason, "%s", status->reason);
    if (!status->success && !status->aborted && !status->timed_out && kind && !kind->test_kind
    &&  status->exit_code == SEGQ_RUN_EXIT_GPU_OOM) {
        /* segq-run's own status for it: say what to do about it */
        if (a->gpu >= 0)
            snprintf (reason, sizeof reason, "out of GPU memory with %.3g GiB declared: "
                      "resubmit with a larger --gpu-mem", a->gpu_mem / 1073741824.0);
        else
            snprintf (reason, sizeof reason, "out of GPU memory");
    }
    if (!status->success)
        s_log_note (job, "%s", reason);
    s_job_finish (job, status->success, status->exit_code, status->signal, reason);
}

/* ---- starting a job ---- */

static const segq_kind_spec_t *
s_kind_runnable (segq_worker_t *self, const char *name)
{
    for (size_t i = 0; i < self->n_kinds; i++)
        if (strcmp (self->kinds [i], name) == 0)
            return segq_kind_find (name);
    return NULL;
}

/* Appends one formatted argument to argv at *n; false when out of memory. */
static bool
s_add_arg (char **argv, size_t *n, const char *format, ...)
{
    va_list args;
    va_start (args, format);
    int rc = vasprintf (&argv [*n], format, args);
    va_end (args);
    if (rc < 0) {
        argv [*n] = NULL;
        return false;
    }
    (*n)++;
    return true;
}

/* The flags segq-run takes from the worker rather than from the job's
   parameters: each input as --NAME=PATH (its file, or its directory for a
   many-file input or a job's `*` outputs), --out, and the device and
   thread count of the job's placement. */
static bool
s_ml_args (job_t *job, const segq_kind_spec_t *kind, char **argv, size_t *n)
{
    const segq_assign_t *a = &job->assign->u.assign;
    bool ok = true;
    for (size_t k = 0; k < kind->n_inputs && ok; k++) {
        const char *name = kind->inputs [k].name;
        size_t len = strlen (name);
        const char *given = NULL;
        for (size_t i = 0; i < a->n_inputs && !given; i++)
            if (strncmp (a->inputs [i].name, name, len) == 0
            &&  (a->inputs [i].name [len] == 0 || a->inputs [i].name [len] == '/'))
                given = a->inputs [i].name;
        /* a one-file input laid out as NAME/FILE keeps the user's file name
           (segq-run records it as the source); a many-file one is NAME/ */
        if (given)
            ok = s_add_arg (argv, n, "--%s=%s/%s", name, job->dir,
                            kind->inputs [k].many ? name : given);
    }
    if (ok && a->resume) {
        s_log_note (job, "resuming from %s, the checkpoint of an earlier attempt", a->resume);
        ok = s_add_arg (argv, n, "--resume");
    }
    return ok
        && s_add_arg (argv, n, "--out=%s/out", job->dir)
        && s_add_arg (argv, n, "--device=%s", a->gpu >= 0 ? "cuda:0" : "cpu")
        && s_add_arg (argv, n, "--threads=%" PRIu32, a->cpu_slots ? a->cpu_slots : 1);
}

/* What a job on the GPU the broker calls `index` gets as
   CUDA_VISIBLE_DEVICES. */
static const char *
s_gpu_device (segq_worker_t *self, int32_t index, char *buf, size_t len)
{
    for (size_t i = 0; i < self->n_gpus; i++)
        if ((int32_t) self->gpus [i].index == index && self->gpus [i].device)
            return self->gpus [i].device;
    snprintf (buf, len, "%" PRId32, index);
    return buf;
}

static void
s_job_start (job_t *job)
{
    segq_worker_t *self = job->worker;
    const segq_assign_t *a = &job->assign->u.assign;
    const segq_kind_spec_t *kind = segq_kind_find (a->kind);
    char err [1024];
    /* argv: PROGRAM KIND --name=value ... [ML kinds: --INPUT=PATH ... --out=DIR
       --device=D --threads=N] */
    size_t n_params = a->params.count;
    size_t n_args = n_params + 2 + (kind->test_kind ? 0 : kind->n_inputs + 4);
    char **argv = calloc (n_args + 1, sizeof *argv);
    char env_buf [8][640];
    char *env [9] = { 0 };
    if (!argv) {
        s_job_finish (job, false, -1, 0, "out of memory starting the job");
        return;
    }
    const char *program = kind->test_kind ? self->testkind : self->segq_run;
    argv [0] = (char *) program;
    argv [1] = (char *) a->kind;
    size_t n = 2;
    bool ok = true;
    for (size_t i = 0; i < n_params && ok; i++) {
        const segq_param_t *p = &a->params.items [i];
        char value [SEGQ_MAX_STRING + 1];
        segq_value_format (&p->value, value, sizeof value);
        ok = s_add_arg (argv, &n, "--%s=%s", p->name, value);
    }
    if (!kind->test_kind && ok)
        ok = s_ml_args (job, kind, argv, &n);
    size_t n_env = 0;
    snprintf (env_buf [n_env], sizeof env_buf [0], "SEGQ_JOB_ID=%s", job->id);
    env [n_env] = env_buf [n_env]; n_env++;
    snprintf (env_buf [n_env], sizeof env_buf [0], "SEGQ_JOB_ATTEMPT=%" PRIu32, job->attempt);
    env [n_env] = env_buf [n_env]; n_env++;
    snprintf (env_buf [n_env], sizeof env_buf [0], "SEGQ_OUTPUT_DIR=%s/out", job->dir);
    env [n_env] = env_buf [n_env]; n_env++;
    snprintf (env_buf [n_env], sizeof env_buf [0], "SEGQ_PROGRESS_FD=%d", SEGQ__PROGRESS_CHILD_FD);
    env [n_env] = env_buf [n_env]; n_env++;
    snprintf (env_buf [n_env], sizeof env_buf [0], "SEGQ_CPU_SLOTS=%" PRIu32,
              a->cpu_slots ? a->cpu_slots : 1);
    env [n_env] = env_buf [n_env]; n_env++;
    if (a->gpu >= 0) {
        /* The job sees only its GPU, as device 0: the physical device the
           broker's index stands for (s_gpus_map), which CUDA must number in
           PCI bus order as nvidia-smi does. */
        char device [32];
        snprintf (env_buf [n_env], sizeof env_buf [0], "CUDA_VISIBLE_DEVICES=%s",
                  s_gpu_device (self, a->gpu, device, sizeof device));
        env [n_env] = env_buf [n_env]; n_env++;
        snprintf (env_buf [n_env], sizeof env_buf [0], "CUDA_DEVICE_ORDER=PCI_BUS_ID");
        env [n_env] = env_buf [n_env]; n_env++;
        snprintf (env_buf [n_env], sizeof env_buf [0], "SEGQ_GPU_MEM=%" PRIu64, a->gpu_mem);
        env [n_env] = env_buf [n_env]; n_env++;
    }
    segq__job_launch_t launch = {
        .path = program, .argv = argv, .env = env, .cwd = job->dir,
        .time_limit_s = a->time_limit_s, .kill_grace_ms = self->kill_grace_ms
    };
    segq__job_callbacks_t callbacks = {
        .on_log = s_runner_log, .on_progress = s_runner_progress,
        .on_exit = s_runner_exit, .arg = job
    };
    if (ok)
        job->runner = segq__job_runner_start (self->loop, &launch, &callbacks, err, sizeof err);
    else
        snprintf (err, sizeof err, "out of memory starting the job");
    for (size_t i = 2; i < n; i++)
        free (argv [i]);
    free (argv);
    if (!job->runner) {
        s_log_note (job, "%s", err);
        s_job_finish (job, false, -1, 0, err);
        return;
    }
    job->phase = JOB_RUNNING;
    job->child_handle = zlistx_add_end (self->children, job);
    s_log (self, 1, "%s: %s started (pid %d)", job->key, a->kind,
           (int) segq__job_runner_pid (job->runner));
}

/* ---- fetching inputs ---- */

/* Link every input of the job with this content into its directory, as
   soon as the content is in the cache: from then on the job holds it
   whatever the cache evicts. */
static int
s_layout_inputs (job_t *job, const char *hash)
{
    const segq_assign_t *a = &job->assign->u.assign;
    char err [1024];
    for (size_t i = 0; i < a->n_inputs; i++)
        if (strcmp (a->inputs [i].hash, hash) == 0
        &&  segq__cache_layout (job->worker->cache, hash, job->dir, a->inputs [i].name,
                                err, sizeof err)) {
            s_log_note (job, "%s", err);
            s_job_finish (job, false, -1, 0, err);
            return -1;
        }
    return 0;
}

static void
s_fetch_destroy (fetch_t **fetch_p)
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

/* The fetch is over; tell every job that waited for it. */
static void
s_fetch_end (segq_worker_t *self, fetch_t *fetch, const char *error)
{
    zhashx_delete (self->fetches, fetch->hash);
    for (char *key = zlistx_first (fetch->waiters); key; key = zlistx_next (fetch->waiters)) {
        job_t *job = zhashx_lookup (self->jobs, key);
        if (!job || job->phase != JOB_FETCHING)
            continue;
        if (error) {
            s_log_note (job, "%s", error);
            s_job_finish (job, false, -1, 0, error);
        }
        else
        if (s_layout_inputs (job, fetch->hash) == 0 && --job->inputs_missing == 0)
            s_job_start (job);
    }
    s_fetch_destroy (&fetch);
}

static void
s_fetch_request (segq_worker_t *self, fetch_t *fetch)
{
    segq__cache_write_abort (&fetch->writer);
    fetch->transfer = 0;
    fetch->req_id = 0;
    if (self->session != ONLINE)
        return;                 /* requested after WELCOME */
    segq_msg_t *msg = segq_msg_new (SEGQ_MSG_GET);
    if (!msg)
        return;
    memcpy (msg->u.get.hash, fetch->hash, sizeof fetch->hash);
    msg->u.get.req_id = fetch->req_id = ++self->next_req_id;
    msg->u.get.credit = GET_CREDIT;
    msg->u.get.name = s_strdup_or_null (fetch->name);
    s_send (self, &msg);
}

static fetch_t *
s_fetch_by (segq_worker_t *self, uint64_t req_id, uint64_t transfer)
{
    for (fetch_t *f = zhashx_first (self->fetches); f; f = zhashx_next (self->fetches))
        if ((req_id && f->req_id == req_id) || (transfer && f->transfer == transfer))
            return f;
    return NULL;
}

/* A download went wrong: try again a few times, then fail the jobs. */
static void
s_fetch_failed (segq_worker_t *self, fetch_t *fetch, int code, const char *why)
{
    segq__cache_write_abort (&fetch->writer);
    char error [900];
    snprintf (error, sizeof error, "cannot fetch input %s (%.12s): %s", fetch->name,
              fetch->hash, why);
    bool retry = (code == SEGQ_EHASH || code == SEGQ_EPROTO) && ++fetch->tries < FETCH_TRIES;
    s_log (self, 0, "%s%s", error, retry ? "; trying again" : "");
    if (retry)
        s_fetch_request (self, fetch);
    else
        s_fetch_end (self, fetch, error);
}

static void
s_on_get_ready (segq_worker_t *self, const segq_get_ready_t *m)
{
    fetch_t *fetch = s_fetch_by (self, m->req_id, 0);
    if (!fetch || fetch->writer)
        return;
    if (m->size != fetch->size || strcmp (m->hash, fetch->hash) != 0) {
        s_fetch_failed (self, fetch, SEGQ_EINVAL, "the broker offered another artifact");
        return;
    }
    char err [600];
    fetch->transfer = m->transfer;
    fetch->writer = segq__cache_write_begin (self->cache, fetch->hash, fetch->size,
                                             err, sizeof err);
    if (!fetch->writer)
        s_fetch_failed (self, fetch, SEGQ_EIO, err);
}

static void
s_on_chunk (segq_worker_t *self, segq_chunk_t *m)
{
    fetch_t *fetch = s_fetch_by (self, 0, m->transfer);
    if (!fetch || !fetch->writer)
        return;
    char err [600];
    size_t size = m->data ? zframe_size (m->data) : 0;
    const uint8_t *data = m->data ? zframe_data (m->data) : NULL;
    int rc = segq__cache_write_data (fetch->writer, m->offset, data, size, err, sizeof err);
    if (rc) {
        s_fetch_failed (self, fetch, rc, err);
        return;
    }
    if (m->last) {
        rc = segq__cache_write_commit (&fetch->writer, err, sizeof err);
        if (rc)
            s_fetch_failed (self, fetch, rc, err);
        else
            s_fetch_end (self, fetch, NULL);
        return;
    }
    segq_msg_t *credit = segq_msg_new (SEGQ_MSG_CREDIT);
    if (credit) {
        credit->u.credit.transfer = m->transfer;
        credit->u.credit.chunks = 1;
        s_send (self, &credit);
    }
}

/* ---- ASSIGN ---- */

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
    self->journal_used += (size_t) sprintf (self->journal_buf + self->journal_used,
                                            "%s %" PRIu32 "\n", id, attempt);
}

static void
s_on_assign (segq_worker_t *self, segq_msg_t **msg_p)
{
    segq_assign_t *a = &(*msg_p)->u.assign;
    if (self->told_draining) {
        /* Sent before the broker read our draining REGISTER, which did not
           hold this job: the broker has put it back in the queue already. */
        s_log (self, 0, "ASSIGN of %s attempt %" PRIu32 " while draining: not taken (the broker "
               "requeued it)", a->job, a->attempt);
        return;
    }
    if (s_job_find (self, a->job, a->attempt)) {
        s_log (self, 1, "ASSIGN of %s attempt %" PRIu32 " again: already held", a->job, a->attempt);
        return;
    }
    job_t *job = calloc (1, sizeof *job);
    if (!job || asprintf (&job->key, "%s#%" PRIu32, a->job, a->attempt) < 0) {
        free (job);
        s_log (self, 0, "out of memory: ASSIGN of %s dropped (the broker will requeue it)", a->job);
        return;
    }
    job->worker = self;
    job->assign = *msg_p;
    *msg_p = NULL;
    job->id = a->job;
    job->attempt = a->attempt;
    job->upload_fd = -1;
    job->phase = JOB_FETCHING;
    segq__progress_limiter_init (&job->progress, PROGRESS_INTERVAL);
    zhashx_insert (self->jobs, job->key, job);

    const segq_kind_spec_t *kind = s_kind_runnable (self, a->kind);
    char err [1024];
    if (!kind) {
        snprintf (err, sizeof err, "job kind '%.100s' is not run by worker %s", a->kind, self->node);
        s_job_finish (job, false, -1, 0, err);
        return;
    }
    if (kind->in_process) {
        /* noop: done at once, answered after this batch's journal write */
        s_journal_add (self, job->id, job->attempt);
        job->success = true;
        job->phase = JOB_DONE;
        zlistx_add_end (self->results_to_send, job->key);
        return;
    }
    char leaf [SEGQ_MAX_STRING + 16];
    snprintf (leaf, sizeof leaf, "%s.%" PRIu32, a->job, a->attempt);
    if (strchr (leaf, '/') || segq__name_check (leaf, err, sizeof err)) {
        snprintf (err, sizeof err, "job id '%.100s' cannot name a directory", a->job);
        s_job_finish (job, false, -1, 0, err);
        return;
    }
    if (asprintf (&job->dir, "%s/%s", self->jobs_dir, leaf) < 0) {
        job->dir = NULL;
        s_job_finish (job, false, -1, 0, "out of memory");
        return;
    }
    char out [8192];
    snprintf (out, sizeof out, "%s/out", job->dir);
    segq__remove_tree (job->dir);
    if (segq_mkdirs (out, err, sizeof err)) {
        s_job_finish (job, false, -1, 0, err);
        return;
    }
    /* Check every name first: a bad one fails the job before any transfer. */
    for (size_t i = 0; i < a->n_inputs; i++)
        if (segq__name_check (a->inputs [i].name, err, sizeof err)
        ||  !segq_hash_valid (a->inputs [i].hash)) {
            if (segq_hash_valid (a->inputs [i].hash) == 0)
                snprintf (err, sizeof err, "input '%.200s' has no valid sha256", a->inputs [i].name);
            s_log_note (job, "%s", err);
            s_job_finish (job, false, -1, 0, err);
            return;
        }
    for (size_t i = 0; i < a->n_inputs; i++) {
        const segq_artifact_t *in = &a->inputs [i];
        fetch_t *fetch = zhashx_lookup (self->fetches, in->hash);
        if (!fetch && segq__cache_has (self->cache, in->hash, in->size)) {
            /* same content under two names: the first lays out both */
            bool done = false;
            for (size_t k = 0; k < i && !done; k++)
                done = strcmp (a->inputs [k].hash, in->hash) == 0;
            if (!done && s_layout_inputs (job, in->hash))
                return;
            continue;
        }
        if (!fetch) {
            fetch = calloc (1, sizeof *fetch);
            if (!fetch || !(fetch->waiters = zlistx_new ()) || !(fetch->name = strdup (in->name))) {
                s_fetch_destroy (&fetch);
                s_job_finish (job, false, -1, 0, "out of memory fetching inputs");
                return;
            }
            zlistx_set_destructor (fetch->waiters, (czmq_destructor *) zstr_free);
            zlistx_set_duplicator (fetch->waiters, (czmq_duplicator *) strdup);
            zlistx_set_comparator (fetch->waiters, (czmq_comparator *) strcmp);
            memcpy (fetch->hash, in->hash, sizeof fetch->hash);
            fetch->size = in->size;
            zhashx_insert (self->fetches, fetch->hash, fetch);
            s_fetch_request (self, fetch);
        }
        else
        if (zlistx_find (fetch->waiters, job->key))
            continue;           /* the same content twice under two names */
        zlistx_add_end (fetch->waiters, job->key);
        job->inputs_missing++;
    }
    if (job->inputs_missing == 0)
        s_job_start (job);
}

/* Write the batch's journal lines, then answer the noop jobs. */
static void
s_flush_batch (segq_worker_t *self)
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
            s_result_send (job);
    }
    zlistx_purge (self->results_to_send);
}

/* ---- session ---- */

static void
s_write_ready_file (segq_worker_t *self)
{
    if (self->ready_written || !self->ready_file)
        return;
    self->ready_written = true;
    char tmp [4096];
    snprintf (tmp, sizeof tmp, "%s.tmp", self->ready_file);
    FILE *file = fopen (tmp, "w");
    if (!file || fprintf (file, "%s\n", self->node) < 0 || fclose (file) != 0
    ||  rename (tmp, self->ready_file) != 0)
        s_log (self, 0, "cannot write ready file %s: %s", self->ready_file, strerror (errno));
}

static void
s_send_register (segq_worker_t *self)
{
    segq_msg_t *msg = segq_msg_new (SEGQ_MSG_REGISTER);
    if (!msg)
        return;
    segq_register_t *r = &msg->u.reg;
    size_t n_held = zhashx_size (self->jobs);
    bool ok = (r->node = strdup (self->node)) != NULL
           && (r->instance = strdup (self->instance)) != NULL;
    if (ok && self->n_gpus)
        ok = (r->gpus = calloc (self->n_gpus, sizeof *r->gpus)) != NULL;
    for (size_t i = 0; ok && i < self->n_gpus; i++, r->n_gpus++)
        ok = segq_gpu_copy (&r->gpus [i], &self->gpus [i]) == 0;
    if (ok && self->n_kinds)
        ok = (r->kinds = calloc (self->n_kinds, sizeof *r->kinds)) != NULL;
    for (size_t i = 0; ok && i < self->n_kinds; i++, r->n_kinds++)
        ok = (r->kinds [i] = strdup (self->kinds [i])) != NULL;
    if (ok && n_held)
        ok = (r->held = calloc (n_held, sizeof *r->held)) != NULL;
    for (job_t *job = zhashx_first (self->jobs); ok && job; job = zhashx_next (self->jobs)) {
        r->held [r->n_held].attempt = job->attempt;
        ok = (r->held [r->n_held].job = strdup (job->id)) != NULL;
        r->n_held++;
    }
    r->cpu_slots = self->cpu_slots;
    r->draining = self->told_draining = self->draining;
    if (!ok) {
        segq_msg_destroy (&msg);
        s_log (self, 0, "out of memory registering");
        return;
    }
    s_log (self, 1, "registering with %s (%zu job(s) held%s)", self->broker, n_held,
           self->draining ? ", draining" : "");
    s_send (self, &msg);
}

static int s_on_socket (zloop_t *loop, zsock_t *sock, void *arg);

/* The broker forgot this session (it restarted, or we left it): transfers
   in flight are void and start again after the next WELCOME. */
static void
s_session_lost (segq_worker_t *self)
{
    for (fetch_t *f = zhashx_first (self->fetches); f; f = zhashx_next (self->fetches)) {
        segq__cache_write_abort (&f->writer);
        f->req_id = f->transfer = 0;
    }
    for (job_t *job = zlistx_first (self->uploads); job; job = zlistx_next (self->uploads))
        s_upload_reset (job);
    self->session = REGISTERING;
}

/* A fresh socket and REGISTER on it (the old one, if any, is dropped with
   whatever it still queued). */
static void
s_connect (segq_worker_t *self)
{
    if (self->sock) {
        zloop_reader_end (self->loop, self->sock);
        zsock_destroy (&self->sock);
    }
    s_session_lost (self);
    self->register_deadline_ms = segq__now_ms () + self->backoff_ms;
    self->sock = zsock_new (ZMQ_DEALER);
    if (!self->sock) {
        s_log (self, 0, "cannot create a socket: %s", zmq_strerror (zmq_errno ()));
        return;
    }
    /* No high-water mark: a burst of results must never block the reactor,
       and what is queued is bounded by the jobs we hold. */
    zsock_set_sndhwm (self->sock, 0);
    zsock_set_rcvhwm (self->sock, 0);
    zsock_set_linger (self->sock, 0);
    char kerr [1024];
    if (self->broker_key
    &&  segq_keys_apply_client (self->sock, self->cert, self->broker_key, kerr, sizeof kerr)) {
        s_log (self, 0, "%s", kerr);
        zsock_destroy (&self->sock);
        return;
    }
    if (zsock_connect (self->sock, "%s", self->broker) != 0) {
        s_log (self, 0, "cannot connect to %s: %s", self->broker, zmq_strerror (zmq_errno ()));
        zsock_destroy (&self->sock);
        return;
    }
    zloop_reader (self->loop, self->sock, s_on_socket, self);
    s_send_register (self);
}

static void
s_on_welcome (segq_worker_t *self, const segq_welcome_t *m)
{
    bool first = !self->ready_written;
    /* A WELCOME within the session (answer to a REGISTER that announced a
       drain) changes nothing else. */
    bool new_session = self->session != ONLINE;
    self->session = ONLINE;
    self->backoff_ms = BACKOFF_MIN_MS;
    self->heartbeat_ms = m->heartbeat_ms ? m->heartbeat_ms : 1000;
    self->expiry_ms = m->expiry_ms ? m->expiry_ms : 5000;
    self->chunk_size = m->chunk_size ? m->chunk_size : SEGQ_DEFAULT_CHUNK;
    self->max_msg = m->max_msg ? m->max_msg : SEGQ_DEFAULT_MAX_MSG;
    if (m->max_msg && self->chunk_size > m->max_msg / 2)
        self->chunk_size = m->max_msg / 2;
    s_log (self, first ? 0 : 1, "registered with %s (heartbeat %u ms, expiry %u ms)",
           self->broker, self->heartbeat_ms, self->expiry_ms);
    s_write_ready_file (self);
    if (self->draining && !self->told_draining)
        s_send_register (self);     /* drain began while that REGISTER was on its way */
    if (!new_session)
        return;
    /* Resume everything that needs the broker. */
    for (fetch_t *f = zhashx_first (self->fetches); f; f = zhashx_next (self->fetches))
        if (!f->req_id)
            s_fetch_request (self, f);
    zlistx_t *resume = zlistx_new ();
    for (job_t *job = zhashx_first (self->jobs); resume && job; job = zhashx_next (self->jobs))
        zlistx_add_end (resume, job);
    for (job_t *job = resume ? zlistx_first (resume) : NULL; job; job = zlistx_next (resume)) {
        s_log_flush (job, segq__now_ms ());    /* what was held while the broker was away */
        if (job->phase == JOB_DONE)
            s_result_send (job);
        else
        if (job->phase == JOB_UPLOADING)
            s_upload_next (job);
        else
        if (job->ckpt_uploading)
            s_ckpt_put (job);
    }
    zlistx_destroy (&resume);
}

/* broker_knows: DRAIN_WORKER came from the broker, which assigns us
   nothing more. Otherwise (a signal) tell it: REGISTER again, with our
   jobs, marked draining (SPEC 8.4). */
static void
s_start_drain (segq_worker_t *self, const char *why, bool broker_knows)
{
    if (self->draining)
        return;
    self->draining = true;
    s_log (self, 0, "draining (%s): finishing %zu job(s), taking no new ones", why,
           zhashx_size (self->jobs));
    if (broker_knows && self->session == ONLINE)
        self->told_draining = true;
    else
    if (self->session == ONLINE)
        s_send_register (self);
}

static void
s_stop_now (segq_worker_t *self, int exit_code, const char *reason)
{
    for (job_t *job = zlistx_first (self->children); job; job = zlistx_next (self->children)) {
        segq__job_runner_destroy (&job->runner);
        job->child_handle = NULL;
    }
    zlistx_purge (self->children);
    if (self->session == ONLINE) {
        segq_msg_t *bye = segq_msg_new (SEGQ_MSG_BYE);
        if (bye)
            bye->u.bye.reason = strdup (reason);
        s_send (self, &bye);
    }
    self->stop = true;
    self->exit_code = exit_code;
}

static void
s_on_error (segq_worker_t *self, const segq_error_msg_t *m)
{
    if (m->code == SEGQ_EVERSION) {
        char versions [256] = "";
        size_t len = 0;
        for (size_t i = 0; i < m->n_versions && len < sizeof versions - 16; i++)
            len += (size_t) snprintf (versions + len, sizeof versions - len, "%s%" PRIu32,
                                      i ? ", " : "", m->versions [i]);
        fprintf (stderr, "segq-worker: the broker at %s speaks protocol version%s %s; this "
                 "segq-worker speaks %d..%d: install matching versions of segqd and segq-worker\n",
                 self->broker, m->n_versions == 1 ? "" : "s", len ? versions : "(not said)",
                 SEGQ_PROTO_MIN_VERSION, SEGQ_PROTO_VERSION);
        s_stop_now (self, 2, "protocol version mismatch");
        return;
    }
    if (m->code == SEGQ_EAUTH || m->code == SEGQ_EPERM || (m->code == SEGQ_EEXIST && !m->req_id)) {
        /* retrying cannot help: the admin must allow this node's key, or
           (EEXIST) another live daemon holds this node name */
        fprintf (stderr, "segq-worker: the broker at %s refused node %s: %s\n", self->broker,
                 self->node, m->message ? m->message : segq_strerror (m->code));
        s_stop_now (self, 1, "refused by the broker");
        return;
    }
    if (m->req_id) {
        fetch_t *fetch = s_fetch_by (self, m->req_id, 0);
        if (fetch) {
            s_fetch_failed (self, fetch, m->code, m->message ? m->message : segq_strerror (m->code));
            return;
        }
        job_t *job = s_upload_by (self, m->req_id, 0);
        if (job) {
            s_upload_fail (job, "upload of %s refused: %s", s_upload_artifact (job)->name,
                           m->message ? m->message : segq_strerror (m->code));
            return;
        }
    }
    if (m->code == SEGQ_ENOENT && self->session == ONLINE) {
        /* The broker restarted and does not know this connection. */
        s_log (self, 0, "broker says: %s; registering again",
               m->message ? m->message : "unknown worker");
        s_session_lost (self);
        self->register_deadline_ms = segq__now_ms () + self->backoff_ms;
        s_send_register (self);
        return;
    }
    s_log (self, 0, "broker error %s: %s", segq_error_name (m->code),
           m->message ? m->message : segq_strerror (m->code));
}

static void
s_on_result_ack (segq_worker_t *self, const segq_result_ack_t *m)
{
    job_t *job = s_job_find (self, m->job, m->attempt);
    if (!job || job->phase != JOB_DONE)
        return;
    if (m->code == SEGQ_ESTALE)
        s_log (self, 1, "result of %s refused as stale (fenced): dropped", job->key);
    else
    if (m->code)
        s_log (self, 0, "result of %s refused: %s: dropped", job->key,
               m->message ? m->message : segq_strerror (m->code));
    s_job_remove (job);
}

static void
s_on_abort (segq_worker_t *self, const segq_abort_t *m)
{
    job_t *job = s_job_find (self, m->job, m->attempt);
    if (!job)
        return;
    char reason [600];
    snprintf (reason, sizeof reason, "aborted: %s", m->reason ? m->reason : "by the broker");
    s_log (self, 1, "%s %s", job->key, reason);
    switch (job->phase) {
        case JOB_RUNNING:
            segq__job_runner_abort (job->runner, reason);   /* RESULT once it is gone */
            break;
        case JOB_FETCHING:
        case JOB_UPLOADING:
            s_log_note (job, "%s", reason);
            s_upload_reset (job);
            segq__artifacts_free (&job->outputs, job->n_outputs);
            job->n_outputs = 0;
            s_job_finish (job, false, -1, 0, reason);
            break;
        case JOB_DONE:
            s_job_remove (job);     /* not the broker's current attempt: drop it */
            break;
    }
}

static int
s_dispatch (segq_worker_t *self, segq_msg_t **msg_p)
{
    segq_msg_t *msg = *msg_p;
    if (self->session == REGISTERING && msg->type != SEGQ_MSG_WELCOME
    &&  msg->type != SEGQ_MSG_ERROR && msg->type != SEGQ_MSG_ABORT)
        s_log (self, 2, "%s before WELCOME", segq_msg_type_name (msg->type));
    switch (msg->type) {
        case SEGQ_MSG_WELCOME:      s_on_welcome (self, &msg->u.welcome); break;
        case SEGQ_MSG_HEARTBEAT:    break;
        case SEGQ_MSG_ASSIGN:       s_on_assign (self, msg_p); break;
        case SEGQ_MSG_RESULT_ACK:   s_on_result_ack (self, &msg->u.result_ack); break;
        case SEGQ_MSG_CHECKPOINT_ACK: s_on_checkpoint_ack (self, &msg->u.checkpoint_ack); break;
        case SEGQ_MSG_ABORT:        s_on_abort (self, &msg->u.abort); break;
        case SEGQ_MSG_DRAIN_WORKER: s_start_drain (self, "asked by the broker", true); break;
        case SEGQ_MSG_ERROR:        s_on_error (self, &msg->u.error); break;
        case SEGQ_MSG_PUT_READY:    s_on_put_ready (self, &msg->u.put_ready); break;
        case SEGQ_MSG_PUT_DONE:     s_on_put_done (self, &msg->u.put_done); break;
        case SEGQ_MSG_GET_READY:    s_on_get_ready (self, &msg->u.get_ready); break;
        case SEGQ_MSG_CHUNK:        s_on_chunk (self, &msg->u.chunk); break;
        case SEGQ_MSG_CREDIT:       s_on_upload_credit (self, &msg->u.credit); break;
        default:
            s_log (self, 0, "unexpected %s from the broker: ignored",
                   segq_msg_type_name (msg->type));
    }
    return 0;
}

static int
s_on_socket (zloop_t *loop, zsock_t *sock, void *arg)
{
    segq_worker_t *self = arg;
    int64_t until = segq__now_ms () + RECV_BATCH_MS;
    for (int i = 0; i < RECV_BATCH && !self->stop && self->sock == sock; i++) {
        if (i > 0 && !(zsock_events (sock) & ZMQ_POLLIN))
            break;
        if ((i & 63) == 63 && segq__now_ms () > until)
            break;              /* the rest on the next turn: timers must run too */
        segq_msg_t *msg = NULL;
        uint8_t version = 0;
        char err [512];
        int rc = segq_msg_recv (sock, NULL, &msg, &version, err, sizeof err);
        self->last_heard_ms = segq__now_ms ();
        if (rc == SEGQ_EVERSION) {
            fprintf (stderr, "segq-worker: the broker at %s speaks protocol version %u; this "
                     "segq-worker speaks %d..%d: install matching versions\n", self->broker,
                     version, SEGQ_PROTO_MIN_VERSION, SEGQ_PROTO_VERSION);
            s_stop_now (self, 2, "protocol version mismatch");
            break;
        }
        if (rc) {
            s_log (self, 0, "bad message from the broker dropped: %s", err);
            continue;
        }
        s_dispatch (self, &msg);
        segq_msg_destroy (&msg);
    }
    s_flush_batch (self);
    return self->stop ? -1 : 0;
}

/* ---- signals and time ---- */

static void
s_check_children (segq_worker_t *self)
{
    /* Copy first: on_exit edits the list. */
    size_t n = zlistx_size (self->children);
    if (n == 0)
        return;
    job_t **jobs = calloc (n, sizeof *jobs);
    if (!jobs)
        return;
    size_t i = 0;
    for (job_t *job = zlistx_first (self->children); job && i < n; job = zlistx_next (self->children))
        jobs [i++] = job;
    for (size_t j = 0; j < i; j++)
        segq__job_runner_check (jobs [j]->runner);
    free (jobs);
}

static int
s_on_signal (zloop_t *loop, zmq_pollitem_t *item, void *arg)
{
    segq_worker_t *self = arg;
    struct signalfd_siginfo info;
    bool child = false;
    while (read (self->sigfd, &info, sizeof info) == (ssize_t) sizeof info) {
        if (info.ssi_signo == SIGCHLD)
            child = true;
        else
        if (info.ssi_signo == SIGINT && ++self->interrupts >= 2) {
            s_log (self, 0, "interrupted twice: stopping now, killing %zu child(ren)",
                   zlistx_size (self->children));
            s_stop_now (self, 130, "interrupted");
        }
        else {
            s_start_drain (self, info.ssi_signo == SIGINT ? "interrupted; interrupt again to "
                           "stop at once" : strsignal ((int) info.ssi_signo), false);
        }
    }
    if (child)
        s_check_children (self);
    return self->stop ? -1 : 0;
}

static int
s_on_tick (zloop_t *loop, int timer_id, void *arg)
{
    segq_worker_t *self = arg;
    int64_t now = segq__now_ms ();
    /* SIGCHLD can go to a thread that does not block it (a library's):
       looking is cheap, so look every tick too. */
    s_check_children (self);
    if (self->session == REGISTERING && now >= self->register_deadline_ms) {
        s_log (self, 1, "no WELCOME from %s in %d ms: trying again", self->broker,
               self->backoff_ms);
        self->backoff_ms = self->backoff_ms * 2 > BACKOFF_MAX_MS ? BACKOFF_MAX_MS
                                                                 : self->backoff_ms * 2;
        s_connect (self);
    }
    else
    if (self->session == ONLINE && now - self->last_heard_ms > self->expiry_ms) {
        s_log (self, 0, "broker %s silent for %" PRId64 " ms: reconnecting", self->broker,
               now - self->last_heard_ms);
        self->backoff_ms = BACKOFF_MIN_MS;
        s_connect (self);
    }
    else
    if (self->session == ONLINE && now - self->last_sent_ms >= self->heartbeat_ms) {
        segq_msg_t *beat = segq_msg_new (SEGQ_MSG_HEARTBEAT);
        s_send (self, &beat);
    }
    for (job_t *job = zlistx_first (self->children); job; job = zlistx_next (self->children)) {
        if (now - job->log_flushed_ms >= LOG_FLUSH_MS)
            s_log_flush (job, now);
        s_progress_send (job, now, false);
    }
    s_results_resend (self, now);
    if (self->draining && zhashx_size (self->jobs) == 0 && !self->stop) {
        s_log (self, 0, "drained: leaving");
        s_stop_now (self, 0, "drained");
    }
    return self->stop ? -1 : 0;
}

/* ---- construction ---- */

static bool
s_executable (const char *path)
{
    return path && access (path, X_OK) == 0;
}

/* Each GPU's device for its jobs' CUDA_VISIBLE_DEVICES. Under a
   CUDA_VISIBLE_DEVICES list of the worker's own (Slurm's, a sysadmin's),
   CUDA numbers only the listed devices, from 0: the worker's GPU N is the
   list's entry N, passed on verbatim (a number, GPU-UUID or MIG id).
   Without the list, N is nvidia-smi's number (device stays NULL). */
static int
s_gpus_map (segq_worker_t *self, char *err, size_t errlen)
{
    const char *visible = getenv ("CUDA_VISIBLE_DEVICES");
    for (size_t i = 0; visible && i < self->n_gpus; i++) {
        const char *entry = visible;
        for (uint32_t k = 0; entry && k < self->gpus [i].index; k++)
            if ((entry = strchr (entry, ',')))
                entry++;
        entry += entry ? strspn (entry, " ") : 0;
        size_t len = entry ? strcspn (entry, ", ") : 0;
        if (!len) {
            snprintf (err, errlen, "GPU %u is not in CUDA_VISIBLE_DEVICES=%.200s: under that "
                      "list the worker's GPU indices (--gpus) count its entries from 0",
                      self->gpus [i].index, visible);
            return SEGQ_EINVAL;
        }
        free (self->gpus [i].device);
        if (!(self->gpus [i].device = strndup (entry, len))) {
            snprintf (err, errlen, "out of memory");
            return SEGQ_ENOMEM;
        }
    }
    return 0;
}

/* Locks WORK_DIR/worker.id for the daemon's life (two daemons in one work
   directory would remove each other's job directories) and reads the
   daemon's id from it, made at the first start: a restart keeps it. */
static int
s_claim_work_dir (segq_worker_t *self, char *err, size_t errlen)
{
    char path [4096], id [33] = "", host [256] = "";
    snprintf (path, sizeof path, "%s/worker.id", self->work_dir);
    self->id_fd = open (path, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
    struct flock lock = { .l_type = F_WRLCK, .l_whence = SEEK_SET };
    if (self->id_fd < 0 || (fcntl (self->id_fd, F_SETLK, &lock) != 0 && errno != ENOLCK)) {
        int error = errno;
        if (self->id_fd >= 0 && fcntl (self->id_fd, F_GETLK, &lock) == 0 && lock.l_type != F_UNLCK) {
            snprintf (err, errlen, "work directory %s is in use by another segq-worker (pid %d): "
                      "give each worker on one host its own name with --node NAME (its work "
                      "directory follows it)", self->work_dir, (int) lock.l_pid);
            return SEGQ_EEXIST;
        }
        snprintf (err, errlen, "cannot lock %s: %s", path, strerror (error));
        return SEGQ_EIO;
    }
    ssize_t got = pread (self->id_fd, id, sizeof id - 1, 0);
    bool valid = got == (ssize_t) sizeof id - 1;
    for (size_t i = 0; valid && i < sizeof id - 1; i++)
        valid = strchr ("0123456789abcdef", id [i]) != NULL;
    if (!valid) {
        uint8_t random [16];
        if (getrandom (random, sizeof random, 0) != (ssize_t) sizeof random) {
            snprintf (err, errlen, "cannot make the worker's id: %s", strerror (errno));
            return SEGQ_EIO;
        }
        for (size_t i = 0; i < sizeof random; i++)
            snprintf (id + 2 * i, 3, "%02x", random [i]);
        if (pwrite (self->id_fd, id, sizeof id - 1, 0) != (ssize_t) sizeof id - 1) {
            snprintf (err, errlen, "cannot write %s: %s", path, strerror (errno));
            return SEGQ_EIO;
        }
    }
    if (gethostname (host, sizeof host - 1) != 0)
        snprintf (host, sizeof host, "?");
    if (asprintf (&self->instance, "%s@%s", id, host) < 0) {
        self->instance = NULL;
        snprintf (err, errlen, "out of memory");
        return SEGQ_ENOMEM;
    }
    return 0;
}

segq_worker_t *
segq_worker_new (const segq_worker_options_t *o, char *err, size_t errlen)
{
    if (!o->broker || !*o->broker || !o->node || !*o->node || !o->work_dir || !*o->work_dir) {
        snprintf (err, errlen, "a broker endpoint, a node name and a work directory are needed");
        return NULL;
    }
    if (strchr (o->node, '/') || strlen (o->node) > 255) {
        snprintf (err, errlen, "node name '%.100s' must be at most 255 bytes without '/'", o->node);
        return NULL;
    }
    segq_worker_t *self = calloc (1, sizeof *self);
    if (!self) {
        snprintf (err, errlen, "out of memory");
        return NULL;
    }
    self->sigfd = self->journal_fd = self->id_fd = -1;
    self->broker = strdup (o->broker);
    if (o->broker_key) {
        /* a missing or bad certificate is said now, not at every reconnect */
        zsock_t *probe = zsock_new (ZMQ_DEALER);
        int krc = probe ? segq_keys_apply_client (probe, o->cert ? o->cert : "", o->broker_key,
                                                  err, errlen) : SEGQ_ENOMEM;
        zsock_destroy (&probe);
        if (krc || !(self->broker_key = strdup (o->broker_key))
        ||  !(self->cert = strdup (o->cert))) {
            if (!krc)
                snprintf (err, errlen, "out of memory");
            goto fail;
        }
    }
    self->node = strdup (o->node);
    self->work_dir = strdup (o->work_dir);
    if (o->cache_dir)
        self->cache_dir = strdup (o->cache_dir);
    else
    if (asprintf (&self->cache_dir, "%s/cache", o->work_dir) < 0)
        self->cache_dir = NULL;
    if (asprintf (&self->jobs_dir, "%s/jobs", o->work_dir) < 0)
        self->jobs_dir = NULL;
    self->testkind = s_strdup_or_null (o->testkind);
    self->segq_run = s_strdup_or_null (o->segq_run);
    self->ready_file = s_strdup_or_null (o->ready_file);
    self->cpu_slots = o->cpu_slots;
    self->kill_grace_ms = o->kill_grace_ms ? o->kill_grace_ms : 10000;
    self->verbose = o->verbose;
    self->backoff_ms = BACKOFF_MIN_MS;
    self->heartbeat_ms = 1000;
    self->expiry_ms = 5000;
    self->max_msg = SEGQ_DEFAULT_MAX_MSG;
    self->jobs = zhashx_new ();
    self->fetches = zhashx_new ();
    self->children = zlistx_new ();
    self->uploads = zlistx_new ();
    self->results_to_send = zlistx_new ();
    if (self->results_to_send) {
        zlistx_set_destructor (self->results_to_send, (czmq_destructor *) zstr_free);
        zlistx_set_duplicator (self->results_to_send, (czmq_duplicator *) strdup);
    }
    if (o->n_gpus)
        self->gpus = calloc (o->n_gpus, sizeof *self->gpus);
    bool gpus_ok = true;
    for (size_t i = 0; self->gpus && gpus_ok && i < o->n_gpus; i++, self->n_gpus++)
        gpus_ok = segq_gpu_copy (&self->gpus [i], &o->gpus [i]) == 0
               && (self->gpus [i].name || (self->gpus [i].name = strdup ("")));
    size_t n_all;
    const segq_kind_spec_t *all = segq_kinds (&n_all);
    self->kinds = calloc (n_all + 1, sizeof *self->kinds);
    if (!self->broker || !self->node || !self->work_dir || !self->cache_dir || !self->jobs_dir
    ||  !self->jobs || !self->fetches || !self->children || !self->uploads
    ||  !self->results_to_send || !self->kinds || (o->n_gpus && !self->gpus) || !gpus_ok) {
        snprintf (err, errlen, "out of memory");
        goto fail;
    }
    if (s_gpus_map (self, err, errlen))
        goto fail;
    /* The kinds this worker can run: asked for (all by default), and with
       the program that runs them present. */
    for (size_t i = 0; i < o->n_kinds; i++)
        if (!segq_kind_find (o->kinds [i])) {
            snprintf (err, errlen, "--kinds: unknown job kind '%.100s'", o->kinds [i]);
            goto fail;
        }
    for (size_t i = 0; i < n_all; i++) {
        const segq_kind_spec_t *k = &all [i];
        bool wanted = o->n_kinds == 0;
        for (size_t j = 0; j < o->n_kinds && !wanted; j++)
            wanted = strcmp (o->kinds [j], k->name) == 0;
        bool runnable = k->in_process || (k->test_kind ? s_executable (self->testkind)
                                                       : s_executable (self->segq_run));
        if (wanted && !runnable && o->n_kinds) {
            snprintf (err, errlen, "--kinds: cannot run '%s': %s not found or not executable",
                      k->name, k->test_kind ? "segq-testkind (--testkind)" : "segq-run (--segq-run)");
            goto fail;
        }
        if (wanted && runnable && !(self->kinds [self->n_kinds++] = strdup (k->name))) {
            snprintf (err, errlen, "out of memory");
            goto fail;
        }
    }
    if (segq_mkdirs (self->work_dir, err, errlen) || s_claim_work_dir (self, err, errlen))
        goto fail;
    /* Job directories of an earlier run are orphans: the broker requeued
       or will requeue their jobs. */
    segq__remove_tree (self->jobs_dir);
    if (segq_mkdirs (self->jobs_dir, err, errlen))
        goto fail;
    if (!(self->cache = segq__cache_new (self->cache_dir, o->cache_max, err, errlen)))
        goto fail;
    const char *journal = getenv ("SEGQ_TEST_JOURNAL");
    if (journal && *journal) {
        self->journal_fd = open (journal, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0644);
        if (self->journal_fd < 0) {
            snprintf (err, errlen, "cannot open SEGQ_TEST_JOURNAL %s: %s", journal, strerror (errno));
            goto fail;
        }
    }
    self->sigfd = segq__signals_open ();
    if (self->sigfd < 0) {
        snprintf (err, errlen, "cannot set up signal handling: %s", strerror (errno));
        goto fail;
    }
    /* Our signals, our way: CZMQ must not install its SIGINT handler. */
    zsys_handler_set (NULL);
    self->loop = zloop_new ();
    if (!self->loop) {
        snprintf (err, errlen, "out of memory");
        goto fail;
    }
    zloop_set_nonstop (self->loop, true);
    return self;
fail:
    segq_worker_destroy (&self);
    return NULL;
}

int
segq_worker_run (segq_worker_t *self)
{
    self->sig_item.fd = self->sigfd;
    self->sig_item.events = ZMQ_POLLIN;
    zloop_poller (self->loop, &self->sig_item, s_on_signal, self);
    zloop_timer (self->loop, TICK_MS, 0, s_on_tick, self);
    s_log (self, 0, "starting: broker %s, %" PRIu32 " CPU slot(s), %zu GPU(s), work dir %s",
           self->broker, self->cpu_slots, self->n_gpus, self->work_dir);
    s_connect (self);
    zloop_start (self->loop);
    if (self->sock) {
        /* Give BYE and the last messages a moment to leave. */
        zsock_set_linger (self->sock, 1000);
        zloop_reader_end (self->loop, self->sock);
        zsock_destroy (&self->sock);
    }
    return self->exit_code;
}

void
segq_worker_destroy (segq_worker_t **self_p)
{
    segq_worker_t *self = *self_p;
    if (!self)
        return;
    if (self->jobs) {
        for (job_t *job = zhashx_first (self->jobs); job; job = zhashx_next (self->jobs))
            s_job_free (job);
        zhashx_destroy (&self->jobs);
    }
    if (self->fetches) {
        for (fetch_t *f = zhashx_first (self->fetches); f; f = zhashx_next (self->fetches))
            s_fetch_destroy (&f);
        zhashx_destroy (&self->fetches);
    }
    zlistx_destroy (&self->children);
    zlistx_destroy (&self->uploads);
    zlistx_destroy (&self->results_to_send);
    zsock_destroy (&self->sock);
    zloop_destroy (&self->loop);
    segq__cache_destroy (&self->cache);
    if (self->sigfd >= 0)
        close (self->sigfd);
    if (self->journal_fd >= 0)
        close (self->journal_fd);
    if (self->id_fd >= 0)
        close (self->id_fd);
    for (size_t i = 0; i < self->n_gpus; i++)
        segq_gpu_clear (&self->gpus [i]);
    free (self->gpus);
    for (size_t i = 0; self->kinds && i < self->n_kinds; i++)
        free (self->kinds [i]);
    free (self->kinds);
    free (self->journal_buf);
    free (self->broker);
    free (self->broker_key);
    free (self->cert);
    free (self->instance);
    free (self->node);
    free (self->work_dir);
    free (self->cache_dir);
    free (self->jobs_dir);
    free (self->testkind);
    free (self->segq_run);
    free (self->ready_file);
    free (self);
    *self_p = NULL;
}
