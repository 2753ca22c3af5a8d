/*  broker.c: segqd's reactor. One ROUTER socket, one zloop, one thread.

    A loop turn: drain up to TURN_MAX messages from the socket, handle each
    (writes go into the turn's transaction, replies into the outbox), hand
    queued jobs to free capacity, commit, then send the outbox. The store
    runs with synchronous=FULL: the commit returns once the WAL is synced,
    so the durable replies (SUBMITTED, ASSIGN, RESULT_ACK, ...) sent after
    it promise only what is on disk, and one sync covers the whole turn
    (group commit). If the
    commit (or any write) fails, the turn is rolled back, the replies that
    promised durability become errors or are dropped (workers resend), and
    the in-memory state is rebuilt from the database, so memory never
    claims what the disk does not hold.
*/
#include "segq_broker.h"
#include "access.h"
#include "artifact_store.h"
#include "audit.h"
#include "auth.h"
#include "backup.h"
#include "broker_kinds.h"
#include "job_log.h"
#include "job_store.h"
#include "jobs.h"
#include "retention.h"
#include "scheduler.h"
#include "segq_proto.h"
#include "u64map.h"
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#define TURN_MAX        4096    /* messages handled per loop turn */
#define DISPATCH_MAX    8192    /* assignments per loop turn */
#define INPROC_WINDOW   1024    /* in-process jobs in flight per worker */
#define DEFAULT_CREDIT  8       /* chunks a sender may have in flight */
#define STATUS_PAGE     100
#define STATUS_PAGE_MAX SEGQ_STATUS_MAX
#define PEER_HEX        64
#define SWEEP_MAX       1024    /* jobs retention may purge per timer tick ... */
#define SWEEP_MS        5       /* ... and the time it may take */
#define BACKUP_PAGES    256     /* database pages copied per backup step ... */
#define BACKUP_TICK_MS  5       /* ... one step this often */
#define MAX_TRANSFERS   256     /* clients' transfers open at once, all together ... */
#define MAX_TRANSFERS_PER_PEER 16   /* ... and from one connection */
#define MAX_ARTIFACT_SIZE ((uint64_t) 64 << 30)

typedef struct worker {
    char *node;
    zframe_t *peer;             /* routing id, NULL once gone */
    char peer_hex [PEER_HEX];
    segq__sched_node_t *sched_node;     /* NULL once gone */
    segq_worker_state_t state;
    int64_t last_seen_mono;     /* ms */
    double last_seen;           /* unix seconds, for display */
    uint32_t cpu_slots;
    segq_gpu_t *gpus;           size_t n_gpus;
    char **kinds;               size_t n_kinds;
    uint64_t kinds_mask;
    char *instance;             /* REGISTER inst: the daemon behind the name, or NULL */
    char address [64];          /* where it connected from, "" unknown (no keys) */
} worker_t;

typedef enum { XFER_PUT, XFER_GET } xfer_kind_t;

typedef struct {
    uint64_t id;
    xfer_kind_t kind;
    char peer_hex [PEER_HEX];
    zframe_t *peer;
    uint64_t req_id;
    int64_t last_mono;
    char *name;
    char uploader [SEGQ_MAX_NAME + 1];  /* PUT: the user or worker node, recorded once stored */
    bool uploader_is_node;
    segq__upload_t *upload;     /* PUT */
    segq__download_t *download; /* GET */
    uint64_t offset;            /* GET: next byte to send */
    uint32_t credit;            /* GET: chunks the receiver accepts now */
    bool client;                /* not a registered worker's: counts against the limits */
} transfer_t;

typedef struct {
    zframe_t *peer;
    segq_msg_t *msg;
    bool durable;               /* only true if the turn's commit succeeds */
} outgoing_t;

struct segq_broker {
    segq_broker_config_t config;
    char *data_dir;
    char endpoint [256];
    zsock_t *router;
    zloop_t *loop;
    segq__job_store_t *store;
    segq__artifact_store_t *artifacts;
    segq__job_log_t *logs;
    segq__sched_t *sched;
    segq__jobs_t *jobs;
    zhashx_t *by_peer;          /* peer hex -> worker_t (not owned) */
    zhashx_t *by_node;          /* node -> worker_t (owned) */
    segq__u64map_t *transfers;  /* id -> transfer_t */
    uint64_t next_transfer;
    size_t client_transfers;    /* of them, those of clients (transfer_t.client) */
    /* uploads refused midway: the chunks their senders had in flight are
       dropped quietly (an ERROR with no request id would land on the
       sender's next request instead) */
    uint64_t refused_transfers [64];
    size_t n_refused;
    outgoing_t *outbox;
    size_t n_out, cap_out;
    uint64_t commit_no;         /* commits made (retention's queue counts them) */
    struct {                    /* totals since start, logged at stop */
        uint64_t turns, messages, commits;
        int64_t handle_us, dispatch_us, commit_us, send_us;
    } stats;
    bool broken;                /* a write failed this turn: roll back */
    int broken_code;
    segq__auth_t *auth;         /* NULL: no keys (loopback only) */
    char sender_key [64];       /* of the message being handled (CurveZMQ) */
    char sender_address [64];
    segq__retention_t *retention;
    segq__access_t *access;
    segq__audit_t *audit;
    struct {                    /* the backup in progress, if any */
        segq__backup_t *copy;
        zframe_t *peer;
        uint64_t req_id;
        int timer;
        json_t *event;          /* its audit event, written when it ends */
    } backup;
};

/* ---- time and logging ---- */

static double
s_now (void)
{
    struct timespec ts;
    clock_gettime (CLOCK_REALTIME, &ts);
    return (double) ts.tv_sec + ts.tv_nsec / 1e9;
}

static void
s_log (segq_broker_t *self, int level, const char *peer, const char *format, ...)
{
    if (level > self->config.verbose)
        return;
    struct timespec ts;
    clock_gettime (CLOCK_REALTIME, &ts);
    struct tm tm;
    gmtime_r (&ts.tv_sec, &tm);
    char when [32];
    strftime (when, sizeof when, "%Y-%m-%dT%H:%M:%S", &tm);
    char text [2048];
    va_list args;
    va_start (args, format);
    vsnprintf (text, sizeof text, format, args);
    va_end (args);
    fprintf (stderr, "%s.%03ldZ segqd: %s%s%s%s\n", when, ts.tv_nsec / 1000000,
             peer ? "peer " : "", peer ? peer : "", peer ? ": " : "", text);
}

static void
s_peer_hex (zframe_t *peer, char out [PEER_HEX])
{
    static const char hex [] = "0123456789abcdef";
    size_t size = zframe_size (peer);
    const uint8_t *data = zframe_data (peer);
    size_t n = 0;
    for (size_t i = 0; i < size && n + 2 < PEER_HEX; i++) {
        out [n++] = hex [data [i] >> 4];
        out [n++] = hex [data [i] & 15];
    }
    out [n] = 0;
}

/* ---- outbox ---- */

static void
s_send (segq_broker_t *self, zframe_t *peer, segq_msg_t *msg, bool durable)
{
    if (!msg)
        return;
    if (self->n_out == self->cap_out) {
        size_t capacity = self->cap_out ? self->cap_out * 2 : 256;
        outgoing_t *grown = realloc (self->outbox, capacity * sizeof *grown);
        if (!grown) {
            s_log (self, 0, NULL, "out of memory queueing a %s: dropped",
                   segq_msg_type_name (msg->type));
            segq_msg_destroy (&msg);
            return;
        }
        self->outbox = grown;
        self->cap_out = capacity;
    }
    outgoing_t *out = &self->outbox [self->n_out++];
    out->peer = zframe_dup (peer);
    out->msg = msg;
    out->durable = durable;
}

static void
s_error (segq_broker_t *self, zframe_t *peer, uint64_t req_id, int code, const char *format, ...)
{
    segq_msg_t *msg = segq_msg_new (SEGQ_MSG_ERROR);
    if (!msg)
        return;
    char text [1024];
    va_list args;
    va_start (args, format);
    vsnprintf (text, sizeof text, format, args);
    va_end (args);
    msg->u.error.req_id = req_id;
    msg->u.error.code = code;
    msg->u.error.message = strdup (text);
    if (code == SEGQ_EVERSION && (msg->u.error.versions = calloc (1, sizeof (uint32_t)))) {
        msg->u.error.versions [0] = SEGQ_PROTO_VERSION;
        msg->u.error.n_versions = 1;
    }
    s_send (self, peer, msg, false);
}

/* A write failed: the whole turn is rolled back at its end. */
static void
s_broken (segq_broker_t *self, int code, const char *what)
{
    if (!self->broken)
        s_log (self, 0, NULL, "%s failed (%s): rolling back this turn", what, segq_strerror (code));
    self->broken = true;
    if (!self->broken_code)
        self->broken_code = code;
}

static bool
s_store_error (int rc)
{
    return rc == SEGQ_EIO || rc == SEGQ_ENOSPC || rc == SEGQ_ENOMEM || rc == SEGQ_EINTERNAL
        || rc == SEGQ_ESTATE;
}

/* The request id of a reply, so a failed turn can answer ERROR instead. */
static uint64_t
s_reply_req_id (const segq_msg_t *msg)
{
    switch (msg->type) {
        case SEGQ_MSG_SUBMITTED:    return msg->u.submitted.req_id;
        case SEGQ_MSG_CANCEL_REPLY: return msg->u.cancel_reply.req_id;
        case SEGQ_MSG_DRAIN_REPLY:  return msg->u.drain_reply.req_id;
        case SEGQ_MSG_PURGE_REPLY:  return msg->u.purge_reply.req_id;
        case SEGQ_MSG_PRIORITY_REPLY: return msg->u.priority_reply.req_id;
        case SEGQ_MSG_ARRAY_REPLY:  return msg->u.array_reply.req_id;
        case SEGQ_MSG_PUT_DONE:     return msg->u.put_done.req_id;
        default:                    return 0;
    }
}

static void
s_send_now (segq_broker_t *self, outgoing_t *out)
{
    if (out->msg && segq_msg_send (&out->msg, self->router, out->peer) != 0)
        s_log (self, 2, NULL, "send failed");
    segq_msg_destroy (&out->msg);
    zframe_destroy (&out->peer);
}

/* Transfer traffic (CREDIT, GET_READY, GET's CHUNKs) promises nothing
   durable: it goes out at once rather than at the end of the turn, so the
   peer is not left waiting while the rest of the turn (up to heartbeat/2
   of other chunks) is handled. Holding it made transfers stop-and-go. */
static void
s_send_at_once (segq_broker_t *self, zframe_t *peer, segq_msg_t *msg)
{
    if (msg && segq_msg_send (&msg, self->router, peer) != 0)
        s_log (self, 2, NULL, "send failed");
    segq_msg_destroy (&msg);
}

/* The turn's outbox, sent after its commit (durable: synchronous=FULL);
   after a failed turn the replies that promised durability become errors
   or are dropped (workers resend). */
static void
s_flush (segq_broker_t *self, bool committed)
{
    for (size_t i = 0; i < self->n_out; i++) {
        outgoing_t *out = &self->outbox [i];
        if (out->durable && !committed) {
            uint64_t req_id = s_reply_req_id (out->msg);
            segq_msg_destroy (&out->msg);
            if (req_id) {
                out->msg = segq_msg_new (SEGQ_MSG_ERROR);
                if (out->msg) {
                    out->msg->u.error.req_id = req_id;
                    out->msg->u.error.code = self->broken_code ? self->broken_code : SEGQ_EIO;
                    out->msg->u.error.message = strdup (
                        "the broker could not store this request (see its log; "
                        "free disk space in its data directory) - nothing was done");
                }
            }
        }
        s_send_now (self, out);
    }
    self->n_out = 0;
}

/* ---- workers ---- */

static void
s_worker_destroy (void **item)
{
    worker_t *w = *item;
    if (!w)
        return;
    zframe_destroy (&w->peer);
    for (size_t i = 0; i < w->n_gpus; i++)
        segq_gpu_clear (&w->gpus [i]);
    free (w->gpus);
    for (size_t i = 0; i < w->n_kinds; i++)
        free (w->kinds [i]);
    free (w->kinds);
    free (w->instance);
    free (w->node);
    free (w);
    *item = NULL;
}

static segq__sched_node_t *
s_worker_sched_node (segq_broker_t *self, worker_t *w)
{
    segq__sched_gpu_t gpus [64];
    size_t n = w->n_gpus < 64 ? w->n_gpus : 64;
    for (size_t i = 0; i < n; i++) {
        gpus [i].index = w->gpus [i].index;
        gpus [i].mem_total = w->gpus [i].mem_total;
    }
    segq__sched_node_t *node = segq__sched_node_new (self->sched, w, w->cpu_slots, gpus, n,
                                                     w->kinds_mask, INPROC_WINDOW);
    if (node)
        segq__sched_node_set_accepting (node, w->state == SEGQ_WORKER_ACTIVE);
    return node;
}

/* The worker's running jobs go back to the queue (or fail after max
   attempts), and it gets no more work. */
static void
s_worker_gone (segq_broker_t *self, worker_t *w, const char *why, bool keep)
{
    double now = s_now ();
    if (w->sched_node) {
        segq__sched_job_t *sj;
        while ((sj = segq__sched_node_running (w->sched_node))) {
            int rc = segq__jobs_lost (self->jobs, (segq__job_t *) sj, why, now);
            if (rc) {
                s_broken (self, rc, "requeue of a lost worker's job");
                segq__sched_release (self->sched, sj);
            }
        }
        segq__sched_node_destroy (self->sched, &w->sched_node);
    }
    if (w->peer)
        zhashx_delete (self->by_peer, w->peer_hex);
    zframe_destroy (&w->peer);
    w->state = SEGQ_WORKER_LOST;
    if (!keep)
        zhashx_delete (self->by_node, w->node);
}

/* ---- artifacts and transfers ---- */

static void
s_transfer_destroy (segq_broker_t *self, transfer_t **transfer_p)
{
    transfer_t *transfer = *transfer_p;
    if (!transfer)
        return;
    segq__u64map_remove (self->transfers, transfer->id);
    self->client_transfers -= transfer->client;
    segq__upload_destroy (&transfer->upload);
    segq__download_destroy (&transfer->download);
    zframe_destroy (&transfer->peer);
    free (transfer->name);
    free (transfer);
    *transfer_p = NULL;
}

static transfer_t *
s_transfer_new (segq_broker_t *self, xfer_kind_t kind, zframe_t *peer, const char *peer_hex,
                uint64_t req_id, const char *name)
{
    transfer_t *transfer = calloc (1, sizeof *transfer);
    if (!transfer)
        return NULL;
    transfer->id = ++self->next_transfer;
    transfer->kind = kind;
    transfer->peer = zframe_dup (peer);
    snprintf (transfer->peer_hex, sizeof transfer->peer_hex, "%s", peer_hex);
    transfer->req_id = req_id;
    transfer->last_mono = zclock_mono ();
    transfer->name = name ? strdup (name) : NULL;
    if (!transfer->peer || segq__u64map_put (self->transfers, transfer->id, transfer)) {
        zframe_destroy (&transfer->peer);
        free (transfer->name);
        free (transfer);
        return NULL;
    }
    transfer->client = !zhashx_lookup (self->by_peer, peer_hex);
    self->client_transfers += transfer->client;
    return transfer;
}

/* Whether the sender may open one more transfer: 0, or ELIMIT with why.
   Each holds a file open (an upload a temporary file too, and a buffer
   once data comes), so clients' are bounded, per connection and all
   together. A registered worker (w) is bounded by the jobs the broker
   gave it instead: it fetches their inputs and uploads their outputs. */
static int
s_transfer_admit (segq_broker_t *self, worker_t *w, const char *peer_hex, char *why, size_t len)
{
    if (w)
        return 0;
    if (self->client_transfers >= self->config.max_transfers) {
        snprintf (why, len, "the broker has %zu transfers open, its limit (max-transfers %u): "
                  "retry in a moment", self->client_transfers, self->config.max_transfers);
        return SEGQ_ELIMIT;
    }
    size_t mine = 0, cursor = 0;
    transfer_t *transfer;
    while ((transfer = segq__u64map_next (self->transfers, &cursor, NULL)))
        mine += transfer->client && strcmp (transfer->peer_hex, peer_hex) == 0;
    if (mine >= self->config.max_transfers_per_peer) {
        snprintf (why, len, "%zu transfers are open on this connection, the broker's limit "
                  "(max-transfers-per-peer %u): end one first (an idle one is dropped after "
                  "%u ms)", mine, self->config.max_transfers_per_peer, self->config.expiry_ms);
        return SEGQ_ELIMIT;
    }
    return 0;
}

/* Whether the broker takes an upload of put->size bytes: within its
   largest artifact and its disk's free space, and a transfer to spare.
   0, or ETOOBIG, ENOSPC or ELIMIT with why. */
static int
s_put_admit (segq_broker_t *self, worker_t *w, const char *peer_hex, const segq_put_t *put,
             char *why, size_t len)
{
    uint64_t free_bytes;
    if (put->size > self->config.max_artifact_size) {
        snprintf (why, len, "%" PRIu64 " bytes is over the broker's largest artifact "
                  "(max-artifact-size, %" PRIu64 " bytes)", put->size,
                  self->config.max_artifact_size);
        return SEGQ_ETOOBIG;
    }
    if (segq__artifact_store_free (self->artifacts, &free_bytes) == 0 && put->size > free_bytes) {
        snprintf (why, len, "%" PRIu64 " bytes do not fit in the %" PRIu64 " bytes free on the "
                  "broker's disk: ask its admin to make room", put->size, free_bytes);
        return SEGQ_ENOSPC;
    }
    return s_transfer_admit (self, w, peer_hex, why, len);
}

/* Send GET chunks while the receiver has credit. */
static void
s_pump (segq_broker_t *self, transfer_t *transfer)
{
    uint64_t size = segq__download_size (transfer->download);
    while (transfer->credit > 0) {
        uint64_t left = size - transfer->offset;
        size_t n = left < self->config.chunk_size ? (size_t) left : self->config.chunk_size;
        zframe_t *data = zframe_new (NULL, n);
        int64_t got = data ? segq__download_read (transfer->download, transfer->offset,
                                                  zframe_data (data), n) : SEGQ_ENOMEM;
        segq_msg_t *msg = got == (int64_t) n ? segq_msg_new (SEGQ_MSG_CHUNK) : NULL;
        if (!msg) {
            zframe_destroy (&data);
            s_log (self, 0, transfer->peer_hex, "cannot read artifact for transfer %" PRIu64
                   " at %" PRIu64 ": aborted", transfer->id, transfer->offset);
            s_error (self, transfer->peer, transfer->req_id, SEGQ_EIO,
                     "the broker could not read the artifact: transfer %" PRIu64 " aborted",
                     transfer->id);
            s_transfer_destroy (self, &transfer);
            return;
        }
        msg->u.chunk.transfer = transfer->id;
        msg->u.chunk.offset = transfer->offset;
        msg->u.chunk.last = transfer->offset + n >= size;
        msg->u.chunk.data = data;
        transfer->offset += n;
        transfer->credit--;
        bool last = msg->u.chunk.last;
        s_send_at_once (self, transfer->peer, msg);
        if (last) {
            s_transfer_destroy (self, &transfer);
            return;
        }
    }
}

static bool s_sender_is_worker (segq_broker_t *self, worker_t *w);
static segq__caller_t s_caller (segq_broker_t *self, const char *claimed);

/* May the sender skip sending content the store has? Only if it could
   read it anyway: else naming a hash would be a way to get its data. */
static bool
s_may_skip_upload (segq_broker_t *self, worker_t *w, const segq_put_t *put)
{
    if (s_sender_is_worker (self, w))
        return w && segq__access_worker_input (self->access, w->node, put->hash);
    segq__caller_t caller = s_caller (self, put->user);
    return segq__access_hash (self->access, &caller, put->hash);
}

static void
s_on_put (segq_broker_t *self, zframe_t *peer, const char *peer_hex, worker_t *w,
          const segq_put_t *put)
{
    char why [512];
    int code = s_put_admit (self, w, peer_hex, put, why, sizeof why);
    if (code) {
        /* a flood of PUTs over the limits does not flood the log */
        s_log (self, code == SEGQ_ELIMIT ? 1 : 0, peer_hex, "PUT %s refused: %s",
               put->name ? put->name : "", why);
        s_error (self, peer, put->req_id, code, "upload refused: %s", why);
        return;
    }
    segq_msg_t *reply = segq_msg_new (SEGQ_MSG_PUT_READY);
    if (!reply)
        return;
    reply->u.put_ready.req_id = put->req_id;
    reply->u.put_ready.chunk_size = self->config.chunk_size;
    uint64_t size;
    /* only a hash named up front can spare the transfer; without one the
       data comes, and a copy the store has already is dropped at the end */
    if (put->hash [0] && segq__artifact_store_has (self->artifacts, put->hash, &size)
    &&  size == put->size && s_may_skip_upload (self, w, put)) {
        reply->u.put_ready.have = true;
        s_send (self, peer, reply, false);
        return;
    }
    char err [512];
    transfer_t *transfer = s_transfer_new (self, XFER_PUT, peer, peer_hex, put->req_id, put->name);
    if (transfer)
        transfer->upload = segq__artifact_store_upload (self->artifacts, put->hash, put->size,
                                                        err, sizeof err);
    else
        snprintf (err, sizeof err, "out of memory");
    if (!transfer || !transfer->upload) {
        segq_msg_destroy (&reply);
        s_log (self, 0, peer_hex, "PUT %s refused: %s", put->hash [0] ? put->hash : "(hash at the end)", err);
        s_error (self, peer, put->req_id, SEGQ_EIO, "upload refused: %s", err);
        s_transfer_destroy (self, &transfer);
        return;
    }
    segq__caller_t caller = s_caller (self, put->user);
    transfer->uploader_is_node = s_sender_is_worker (self, w);
    const char *uploader = transfer->uploader_is_node ? w ? w->node : NULL : caller.user;
    snprintf (transfer->uploader, sizeof transfer->uploader, "%s", uploader ? uploader : "");
    reply->u.put_ready.transfer = transfer->id;
    reply->u.put_ready.credit = DEFAULT_CREDIT;
    s_send (self, peer, reply, false);
}

static void
s_put_done (segq_broker_t *self, transfer_t *transfer, int code, const char *message)
{
    segq_msg_t *msg = segq_msg_new (SEGQ_MSG_PUT_DONE);
    if (msg) {
        msg->u.put_done.req_id = transfer->req_id;
        msg->u.put_done.transfer = transfer->id;
        msg->u.put_done.code = code;
        msg->u.put_done.message = message ? strdup (message) : NULL;
        /* stored bytes are the uploader's to name once that record is committed */
        s_send (self, transfer->peer, msg, code == 0 && transfer->uploader [0]);
    }
    if (code < 0)
        self->refused_transfers [self->n_refused++ % 64] = transfer->id;
    s_transfer_destroy (self, &transfer);
}

static transfer_t *
s_peer_transfer (segq_broker_t *self, uint64_t id, const char *peer_hex, xfer_kind_t kind)
{
    transfer_t *transfer = segq__u64map_get (self->transfers, id);
    if (!transfer || transfer->kind != kind || strcmp (transfer->peer_hex, peer_hex) != 0)
        return NULL;
    transfer->last_mono = zclock_mono ();
    return transfer;
}

static void
s_on_chunk (segq_broker_t *self, zframe_t *peer, const char *peer_hex, segq_chunk_t *chunk)
{
    transfer_t *transfer = s_peer_transfer (self, chunk->transfer, peer_hex, XFER_PUT);
    if (!transfer) {
        bool refused = false;
        for (size_t i = 0; i < 64 && i < self->n_refused && !refused; i++)
            refused = self->refused_transfers [i] == chunk->transfer;
        s_log (self, 1, peer_hex, "CHUNK for %s transfer %" PRIu64 ": dropped",
               refused ? "refused" : "unknown", chunk->transfer);
        if (!refused)
            s_error (self, peer, 0, SEGQ_ENOENT, "unknown transfer %" PRIu64 " (expired or finished)",
                     chunk->transfer);
        return;
    }
    size_t size = chunk->data ? zframe_size (chunk->data) : 0;
    /* this chunk is in memory and written below: grant the next one now,
       so the sender reads and sends it while we write and hash this one */
    if (!chunk->last && size <= self->config.chunk_size) {
        segq_msg_t *credit = segq_msg_new (SEGQ_MSG_CREDIT);
        if (credit) {
            credit->u.credit.transfer = transfer->id;
            credit->u.credit.chunks = 1;
            s_send_at_once (self, peer, credit);
        }
    }
    char err [512];
    int rc = size > self->config.chunk_size ? SEGQ_ETOOBIG : 0;
    if (rc)
        snprintf (err, sizeof err, "chunk of %zu bytes is over the chunk size %u", size,
                  self->config.chunk_size);
    else
        rc = segq__upload_write (transfer->upload, chunk->offset,
                                 size ? zframe_data (chunk->data) : NULL, size, err, sizeof err);
    char stored [SEGQ_HASH_HEX_LEN + 1] = "";
    if (rc == 0 && chunk->last)
        rc = segq__upload_finish (transfer->upload, chunk->hash, stored, err, sizeof err);
    if (rc == 0 && chunk->last && transfer->uploader [0]
    &&  (rc = segq__access_uploaded (self->access,
                                     transfer->uploader_is_node ? NULL : transfer->uploader,
                                     transfer->uploader, stored))) {
        s_broken (self, rc, "recording an upload");
        snprintf (err, sizeof err, "the broker could not record the upload: %s",
                  segq_strerror (rc));
    }
    if (rc) {
        s_log (self, 0, peer_hex, "upload %" PRIu64 " failed: %s", transfer->id, err);
        s_put_done (self, transfer, rc, err);
        return;
    }
    if (chunk->last) {
        s_log (self, 2, peer_hex, "stored artifact %s (%.16s)", transfer->name ? transfer->name : "", stored);
        s_put_done (self, transfer, 0, NULL);
    }
}

/* ---- audit ---- */

/* An audit event about the message being handled: the sender as the
   connection proves it (with keys) or as it claims (loopback only). */
static json_t *
s_audit_event (segq_broker_t *self, const char *action, const char *claimed, const char *peer_hex)
{
    const segq__identity_t *id = self->auth ? segq__auth_identify (self->auth, self->sender_key)
                                            : NULL;
    char peer [160];
    if (self->auth && self->sender_address [0])
        snprintf (peer, sizeof peer, "%s", self->sender_address);
    else
        snprintf (peer, sizeof peer, "local:%s", peer_hex ? peer_hex : "?");
    return segq__audit_event (action, id ? id->name : claimed, id ? segq__role_name (id->role)
                                                                 : NULL,
                              peer, id ? self->sender_key : NULL);
}

static void
s_audit_set (json_t *event, const char *key, const char *value)
{
    if (event && value)
        json_object_set_new (event, key, json_string (value));
}

/* Outcome "ok" (reason NULL) or "refused" with the reason; written now, or
   held until the turn's commit. */
static void
s_audit_end (segq_broker_t *self, json_t **event_p, const char *reason, bool held)
{
    s_audit_set (*event_p, "outcome", reason ? "refused" : "ok");
    s_audit_set (*event_p, "reason", reason);
    segq__audit_write (self->audit, event_p, held);
}

/* Whether the sender acts as a worker: registered, or holding a worker
   certificate. */
static bool
s_sender_is_worker (segq_broker_t *self, worker_t *w)
{
    const segq__identity_t *id = self->auth ? segq__auth_identify (self->auth, self->sender_key)
                                            : NULL;
    return w || (id && id->role == SEGQ__ROLE_WORKER);
}

static segq__caller_t s_caller (segq_broker_t *self, const char *claimed);

/* A client's GET of a job's output, by the access rule. */
static int
s_may_get_job (segq_broker_t *self, const segq_get_t *get, uint64_t number, char *refusal,
               size_t len)
{
    segq__caller_t caller = s_caller (self, get->user);
    if (!caller.user) {
        snprintf (refusal, len, "GET of job %s names no user: say who is asking (`user`)",
                  get->job);
        return SEGQ_EINVAL;
    }
    return segq__access_job (self->access, &caller, number, get->job, refusal, len);
}

/* GET by job and output name: the output, if the job exists, a client
   may read it (a worker's right is checked on the hash), and its
   artifacts are still there. */
static int
s_get_job_output (segq_broker_t *self, const segq_get_t *get, bool worker,
                  segq_artifact_t *output, char *refusal, size_t len)
{
    uint64_t number = segq__job_id_parse (get->job);
    segq__job_brief_t brief;
    char purged [256];
    int rc = number ? segq__job_store_brief (self->store, number, &brief) : SEGQ_ENOENT;
    if (rc) {
        snprintf (refusal, len, "unknown job '%s'", get->job);
        return rc;
    }
    if (!worker && (rc = s_may_get_job (self, get, number, refusal, len)))
        return rc;
    if (segq__retention_purged (self->retention, number, purged, sizeof purged)) {
        snprintf (refusal, len, "the outputs of job %s were %s: they are gone (run the job "
                  "again to get them back)", get->job, purged);
        return SEGQ_ENOENT;
    }
    rc = get->name ? segq__job_store_output (self->store, number, get->name, output) : SEGQ_EINVAL;
    if (rc)
        snprintf (refusal, len, "job %s has no output '%s'", get->job, get->name ? get->name : "");
    return rc == SEGQ_EINVAL || rc == 0 ? rc : SEGQ_ENOENT;
}

static void
s_on_get (segq_broker_t *self, zframe_t *peer, const char *peer_hex, worker_t *w,
          const segq_get_t *get)
{
    char hash [SEGQ_HASH_HEX_LEN + 1];
    snprintf (hash, sizeof hash, "%s", get->hash);
    const char *name = get->name;
    segq_artifact_t output = { 0 };
    json_t *event = s_audit_event (self, "fetch", w ? w->node : get->user, peer_hex);
    s_audit_set (event, "job", get->job);
    s_audit_set (event, "name", get->name);
    char refusal [600] = "";
    int code = 0;
    bool worker = s_sender_is_worker (self, w);
    if (worker && !w) {
        code = SEGQ_EPERM;
        snprintf (refusal, sizeof refusal, "a worker fetches only the inputs of jobs assigned to "
                  "it: register first");
    }
    else if (get->job) {
        code = s_get_job_output (self, get, worker, &output, refusal, sizeof refusal);
        snprintf (hash, sizeof hash, "%s", output.hash);
    }
    /* knowing a hash is no right to its data */
    if (code == 0 && !worker && !get->job) {
        code = SEGQ_EPERM;
        snprintf (refusal, sizeof refusal, "fetching an artifact by its hash is not allowed: "
                  "fetch a job's output by job and name (segq fetch JOB NAME)");
    }
    else if (code == 0 && worker && !segq__access_worker_input (self->access, w->node, hash)) {
        code = SEGQ_EPERM;
        snprintf (refusal, sizeof refusal, "%s %s is not an input of a job running on worker %s",
                  get->job ? "that output of job" : "artifact", get->job ? get->job : hash,
                  w->node);
    }
    if (code == 0)
        code = s_transfer_admit (self, w, peer_hex, refusal, sizeof refusal);
    if (code) {
        if (code == SEGQ_EPERM)
            s_log (self, 0, peer_hex, "refused GET: %s", refusal);
        s_error (self, peer, get->req_id, code, "%s", refusal);
        segq_artifact_clear (&output);
        s_audit_end (self, &event, refusal, false);
        return;
    }
    s_audit_set (event, "hash", hash);
    char err [512];
    segq__download_t *download = segq__artifact_store_download (self->artifacts, hash, err,
                                                                sizeof err);
    transfer_t *transfer = download ? s_transfer_new (self, XFER_GET, peer, peer_hex,
                                                      get->req_id, name) : NULL;
    segq_msg_t *reply = transfer ? segq_msg_new (SEGQ_MSG_GET_READY) : NULL;
    if (!reply) {
        s_error (self, peer, get->req_id, download ? SEGQ_ENOMEM : SEGQ_ENOENT, "%s",
                 download ? "out of memory" : err);
        if (transfer)
            s_transfer_destroy (self, &transfer);
        else
            segq__download_destroy (&download);
        segq_artifact_clear (&output);
        s_audit_end (self, &event, download ? "out of memory" : err, false);
        return;
    }
    if (event)
        json_object_set_new (event, "size", json_integer ((json_int_t) segq__download_size (download)));
    s_audit_end (self, &event, NULL, false);
    transfer->download = download;
    transfer->credit = get->credit ? get->credit : DEFAULT_CREDIT;
    reply->u.get_ready.req_id = get->req_id;
    reply->u.get_ready.transfer = transfer->id;
    snprintf (reply->u.get_ready.hash, sizeof reply->u.get_ready.hash, "%s", hash);
    reply->u.get_ready.size = segq__download_size (download);
    reply->u.get_ready.name = name ? strdup (name) : NULL;
    reply->u.get_ready.chunk_size = self->config.chunk_size;
    s_send_at_once (self, peer, reply);     /* ahead of its chunks */
    segq_artifact_clear (&output);
    s_pump (self, transfer);
}

static void
s_on_credit (segq_broker_t *self, const char *peer_hex, const segq_credit_t *credit)
{
    transfer_t *transfer = s_peer_transfer (self, credit->transfer, peer_hex, XFER_GET);
    if (!transfer)
        return;     /* a late credit after the last chunk: nothing to do */
    uint64_t sum = (uint64_t) transfer->credit + credit->chunks;
    transfer->credit = sum > 1024 ? 1024 : (uint32_t) sum;
    s_pump (self, transfer);
}

/* ---- assignment ---- */

typedef struct {
    segq_broker_t *self;
    segq_assign_t *assign;
    int rc;
    const char *input_name;
} resolve_t;

static int
s_add_input (segq_assign_t *assign, const char *name, const char *hash, uint64_t size)
{
    segq_artifact_t *grown = realloc (assign->inputs, (assign->n_inputs + 1) * sizeof *grown);
    if (!grown)
        return SEGQ_ENOMEM;
    assign->inputs = grown;
    segq_artifact_t *input = &grown [assign->n_inputs++];
    memset (input, 0, sizeof *input);
    input->name = strdup (name);
    snprintf (input->hash, sizeof input->hash, "%s", hash);
    input->size = size;
    return input->name ? 0 : SEGQ_ENOMEM;
}

/* All outputs of a referenced job laid out under the input's name. */
static int
s_resolve_output (void *arg, const segq_artifact_t *artifact)
{
    resolve_t *resolve = arg;
    char path [2 * SEGQ_MAX_NAME + 2];
    snprintf (path, sizeof path, "%s/%s", resolve->input_name, artifact->name);
    return s_add_input (resolve->assign, path, artifact->hash, artifact->size);
}

static int
s_resolve_input (void *arg, const segq__input_row_t *row)
{
    resolve_t *resolve = arg;
    if (!row->ref_job)
        return s_add_input (resolve->assign, row->name, row->hash ? row->hash : "", row->size);
    if (!row->ref_output || strcmp (row->ref_output, "*") == 0) {
        resolve->input_name = row->name;
        return segq__job_store_outputs (resolve->self->store, row->ref_job, s_resolve_output,
                                        resolve);
    }
    segq_artifact_t output = { 0 };
    int rc = segq__job_store_output (resolve->self->store, row->ref_job, row->ref_output, &output);
    if (rc == 0)
        rc = s_add_input (resolve->assign, row->name, output.hash, output.size);
    segq_artifact_clear (&output);
    return rc;
}

/* A job started again resumes from the newest checkpoint an earlier
   attempt recorded (SPEC 8.3): one more input, under out/, named in
   `resume`. Only attempts after the first can have one. */
static int
s_add_resume (segq_broker_t *self, uint64_t number, segq_assign_t *a)
{
    segq_artifact_t checkpoint = { 0 };
    uint32_t step = 0;
    int rc = segq__job_store_checkpoint (self->store, number, &checkpoint, &step);
    if (rc == SEGQ_ENOENT)
        return 0;
    char name [SEGQ_MAX_NAME + 8];
    if (rc == 0 && (size_t) snprintf (name, sizeof name, "out/%s", checkpoint.name) < sizeof name
    &&  (rc = s_add_input (a, name, checkpoint.hash, checkpoint.size)) == 0
    &&  !(a->resume = strdup (name)))
        rc = SEGQ_ENOMEM;
    segq_artifact_clear (&checkpoint);
    return rc;
}

static void
s_assign (void *arg, segq__sched_job_t *sj, segq__sched_node_t *node, int32_t gpu)
{
    segq_broker_t *self = arg;
    segq__job_t *job = (segq__job_t *) sj;
    worker_t *w = segq__sched_node_owner (node);
    if (self->broken)
        return;
    int rc = segq__jobs_start (self->jobs, job, w->node, gpu, s_now ());
    segq_msg_t *msg = rc == 0 ? segq_msg_new (SEGQ_MSG_ASSIGN) : NULL;
    if (!msg) {
        s_broken (self, rc ? rc : SEGQ_ENOMEM, "assignment");
        return;
    }
    segq_assign_t *a = &msg->u.assign;
    char id [SEGQ__JOB_ID_MAX];
    segq__job_id_format (sj->seq, id);
    a->job = strdup (id);
    a->attempt = job->attempt;
    a->kind = strdup (segq__job_kind_name (job));
    a->gpu = gpu;
    a->gpu_mem = sj->gpu_mem;
    a->cpu_slots = sj->cpu_slots;
    a->time_limit_s = job->time_limit_s;
    /* a kind without parameters (noop) has nothing stored to load */
    const segq_kind_spec_t *spec = segq_kind_find (a->kind);
    rc = !a->job || !a->kind ? SEGQ_ENOMEM
       : spec && spec->n_params == 0 ? 0
       : segq__job_store_params (self->store, sj->seq, &a->params);
    if (rc == 0 && job->has_inputs) {
        resolve_t resolve = { self, a, 0, NULL };
        rc = segq__job_store_inputs (self->store, sj->seq, s_resolve_input, &resolve);
    }
    if (rc == 0 && job->attempt > 1)
        rc = s_add_resume (self, sj->seq, a);
    if (rc) {
        segq_msg_destroy (&msg);
        s_broken (self, rc, "loading a job to assign");
        return;
    }
    s_log (self, 2, w->peer_hex, "assign %s attempt %u to %s", id, job->attempt, w->node);
    s_send (self, w->peer, msg, true);
}

/* ---- reload after a failed turn ---- */

static int
s_rebuild (segq_broker_t *self, char *err, size_t errlen)
{
    segq__jobs_destroy (&self->jobs);
    /* the scheduler goes with all its nodes */
    for (worker_t *w = zhashx_first (self->by_node); w; w = zhashx_next (self->by_node))
        w->sched_node = NULL;
    segq__sched_destroy (&self->sched);
    self->sched = segq__sched_new ();
    segq__jobs_config_t config = {
        .max_attempts = self->config.max_attempts,
        .time_limit_s = self->config.default_time_limit_s,
        .orphan_grace_s = self->config.expiry_ms / 1000.0,
        .limits = self->config.limits,
    };
    self->jobs = self->sched ? segq__jobs_new (self->store, self->sched, self->artifacts, &config)
                             : NULL;
    int rc = self->jobs ? 0 : SEGQ_ENOMEM;
    if (rc)
        snprintf (err, errlen, "out of memory");
    for (worker_t *w = zhashx_first (self->by_node); w && rc == 0; w = zhashx_next (self->by_node))
        if (w->peer && !(w->sched_node = s_worker_sched_node (self, w)))
            rc = SEGQ_ENOMEM;
    if (rc == 0)
        rc = segq__jobs_load (self->jobs, s_now (), err, errlen);
    if (rc == 0) {
        /* running jobs of workers still connected stay theirs */
        segq__job_t **orphans;
        size_t n = segq__jobs_orphans (self->jobs, &orphans);
        for (size_t i = n; i-- > 0; ) {
            segq__job_t *job = orphans [i];
            worker_t *w = zhashx_lookup (self->by_node, job->orphan_node);
            if (w && w->sched_node) {
                segq__sched_adopt (self->sched, &job->sched, w->sched_node, job->sched.gpu);
                segq__jobs_adopt (self->jobs, job);
            }
        }
        rc = segq__job_store_commit (self->store, err, errlen);
    }
    return rc;
}

/* ---- the end of a turn: dispatch, commit, send ---- */

static void s_sweep (segq_broker_t *self);
static void s_backup_end (segq_broker_t *self, int code, const char *message);

static void
s_turn_end (segq_broker_t *self)
{
    int64_t before = zclock_usecs ();
    if (!self->broken)
        segq__sched_dispatch (self->sched, DISPATCH_MAX, s_assign, self);
    char err [512] = "";
    bool writes = segq__job_store_in_transaction (self->store);
    int64_t dispatched = zclock_usecs ();
    int rc = self->broken ? self->broken_code : segq__job_store_commit (self->store, err, sizeof err);
    int64_t committed = zclock_usecs ();
    self->stats.turns++;
    self->stats.commits += writes;
    self->stats.dispatch_us += dispatched - before;
    self->stats.commit_us += committed - dispatched;
    if (rc) {
        if (*err)
            s_log (self, 0, NULL, "%s", err);
        if (!self->broken_code)
            self->broken_code = rc;
        segq__job_store_rollback (self->store);
        segq__retention_rolled_back (self->retention);
        segq__audit_drop (self->audit);
        s_flush (self, false);
        char rebuild_err [512] = "";
        int rebuilt = s_rebuild (self, rebuild_err, sizeof rebuild_err);
        if (rebuilt) {
            /* memory and disk may disagree now: stopping is the only safe move */
            s_log (self, 0, NULL, "cannot rebuild the state from the database: %s: stopping",
                   rebuild_err);
            zsys_interrupted = 1;
        }
        else
            s_log (self, 0, NULL, "state rebuilt from the database after a failed turn");
    }
    else {
        if (writes) {
            /* committed is durable: the purged files may go now */
            self->commit_no++;
            segq__retention_committed (self->retention, self->commit_no);
            segq__retention_synced (self->retention, self->commit_no);
        }
        segq__audit_flush (self->audit);
        s_flush (self, true);
    }
    self->stats.send_us += zclock_usecs () - committed;
    self->broken = false;
    self->broken_code = 0;
}

/* ---- client requests ---- */


/* Whether the sender is an admin (with keys); without keys there are no
   roles, and the admin priority band is open to every (loopback) client. */
static bool
s_sender_is_admin (segq_broker_t *self)
{
    const segq__identity_t *id = self->auth ? segq__auth_identify (self->auth, self->sender_key)
                                            : NULL;
    return id && id->role == SEGQ__ROLE_ADMIN;
}

/* Who the message being handled acts for, for the access rule: with keys
   the certificate says (s_authorize has already put its name in the
   message's user field), without keys the name the client sent. */
static segq__caller_t
s_caller (segq_broker_t *self, const char *claimed)
{
    segq__caller_t caller = { .user = claimed, .admin = s_sender_is_admin (self) };
    const segq__identity_t *id = self->auth ? segq__auth_identify (self->auth, self->sender_key)
                                            : NULL;
    if (id)
        caller.user = id->name;
    return caller;
}

static void
s_on_priority (segq_broker_t *self, zframe_t *peer, const char *peer_hex,
               const segq_priority_t *request)
{
    char err [512] = "";
    int32_t previous = 0;
    bool admin = s_sender_is_admin (self);
    uint64_t number = segq__job_id_parse (request->job);
    int rc = number ? segq__jobs_set_priority (self->jobs, number, request->priority, request->user,
                                               admin, admin || !self->auth, &previous, err,
                                               sizeof err)
                    : SEGQ_ENOENT;
    if (!number)
        snprintf (err, sizeof err, "unknown job '%s'", request->job);
    s_log (self, rc == SEGQ_EPERM ? 0 : 1, peer_hex, "PRIORITY %s %d by %s: %s", request->job,
           (int) request->priority, request->user ? request->user : "?", rc ? err : "changed");
    if (rc) {
        if (s_store_error (rc) && rc != SEGQ_ESTATE)
            s_broken (self, rc, "storing a priority");
        s_error (self, peer, request->req_id, rc, "%s", err);
        return;
    }
    segq_msg_t *reply = segq_msg_new (SEGQ_MSG_PRIORITY_REPLY);
    if (!reply)
        return;
    reply->u.priority_reply.req_id = request->req_id;
    reply->u.priority_reply.job = strdup (request->job);
    reply->u.priority_reply.priority = request->priority;
    reply->u.priority_reply.previous = previous;
    s_send (self, peer, reply, true);
}

static void
s_on_submit (segq_broker_t *self, zframe_t *peer, const char *peer_hex, const segq_submit_t *submit)
{
    char id [SEGQ__JOB_ID_MAX], err [1024] = "";
    if ((submit->priority > SEGQ_PRIORITY_USER_MAX || submit->priority < -SEGQ_PRIORITY_USER_MAX)
    &&  self->auth && !s_sender_is_admin (self)) {
        s_log (self, 0, peer_hex, "SUBMIT from %s refused: priority %d needs an admin",
               submit->user ? submit->user : "?", (int) submit->priority);
        s_error (self, peer, submit->req_id, SEGQ_EPERM, "priority %d is outside -%d..%d, which "
                 "orders only your own jobs: putting a job ahead of other users' fair share needs "
                 "an admin (`segq priority`)", (int) submit->priority, SEGQ_PRIORITY_USER_MAX,
                 SEGQ_PRIORITY_USER_MAX);
        return;
    }
    segq__caller_t caller = s_caller (self, submit->user);
    int rc = segq__access_submit (self->access, &caller, submit, err, sizeof err);
    if (rc == 0)
        rc = segq__jobs_submit (self->jobs, submit, s_now (), id, err, sizeof err);
    json_t *event = s_audit_event (self, "submit", submit->user, peer_hex);
    s_audit_set (event, "kind", submit->kind);
    if (rc) {
        if (s_store_error (rc))
            s_broken (self, rc, "storing a submit");
        s_log (self, 1, peer_hex, "SUBMIT %s from %s refused: %s", submit->kind ? submit->kind : "",
               submit->user ? submit->user : "", err);
        s_error (self, peer, submit->req_id, rc, "%s", err);
        s_audit_end (self, &event, err, false);
        return;
    }
    s_audit_set (event, "job", id);
    json_t *inputs = submit->n_inputs && event ? json_array () : NULL;
    for (size_t i = 0; inputs && i < submit->n_inputs; i++) {
        const segq_input_t *input = &submit->inputs [i];
        json_t *item = json_object ();
        s_audit_set (item, "name", input->name);
        s_audit_set (item, "hash", input->hash [0] ? input->hash : NULL);
        s_audit_set (item, "job", input->job);
        s_audit_set (item, "out", input->output);
        json_array_append_new (inputs, item);
    }
    if (inputs)
        json_object_set_new (event, "inputs", inputs);
    s_audit_end (self, &event, NULL, true);
    s_log (self, 2, peer_hex, "SUBMIT %s: job %s", submit->kind, id);
    segq_msg_t *reply = segq_msg_new (SEGQ_MSG_SUBMITTED);
    if (!reply)
        return;
    reply->u.submitted.req_id = submit->req_id;
    reply->u.submitted.job = strdup (id);
    /* the resources it got: the submit's, or its kind's default */
    segq__job_t *job = segq__jobs_find (self->jobs, segq__job_id_parse (id));
    if (job) {
        reply->u.submitted.gpu_mem = job->sched.gpu_mem;
        reply->u.submitted.cpu_slots = job->sched.cpu_slots;
    }
    s_send (self, peer, reply, true);
}

static int
s_u64_order (const void *a, const void *b)
{
    uint64_t x = *(const uint64_t *) a, y = *(const uint64_t *) b;
    return x < y ? -1 : x > y;
}

#define MAX_ARRAY_JOBS 100000

/* ARRAY: make a job array of the sender's jobs (stored before the reply,
   like a submit), or look one up. */
static void
s_on_array (segq_broker_t *self, zframe_t *peer, const char *peer_hex, const segq_array_t *array)
{
    char err [512] = "";
    int rc = 0;
    segq__array_row_t row = { 0 };
    uint64_t id = 0, *sorted = NULL;
    if (array->array) {
        id = segq__array_id_parse (array->array);
        rc = id ? segq__job_store_array (self->store, id, &row) : SEGQ_ENOENT;
        if (rc == SEGQ_ENOENT)
            snprintf (err, sizeof err, "unknown job array '%s'", array->array);
    }
    else if (!array->user || !*array->user) {
        snprintf (err, sizeof err, "ARRAY without a user name");
        rc = SEGQ_EINVAL;
    }
    else if (array->n_jobs > MAX_ARRAY_JOBS) {
        snprintf (err, sizeof err, "a job array holds at most %d jobs, not %zu", MAX_ARRAY_JOBS,
                  array->n_jobs);
        rc = SEGQ_ETOOBIG;
    }
    else {
        row.jobs = calloc (array->n_jobs, sizeof *row.jobs);
        sorted = calloc (array->n_jobs, sizeof *sorted);
        rc = row.jobs && sorted ? 0 : SEGQ_ENOMEM;
        for (size_t i = 0; i < array->n_jobs && rc == 0; i++) {
            segq__job_brief_t brief;
            uint64_t number = segq__job_id_parse (array->jobs [i]);
            rc = number ? segq__job_store_brief (self->store, number, &brief) : SEGQ_ENOENT;
            if (rc == SEGQ_ENOENT)
                snprintf (err, sizeof err, "unknown job '%s'", array->jobs [i]);
            else if (rc == 0 && strcmp (brief.owner, array->user) != 0) {
                snprintf (err, sizeof err, "job %s belongs to %s: an array holds only your own "
                          "jobs", array->jobs [i], brief.owner);
                rc = SEGQ_EPERM;
            }
            row.jobs [i] = sorted [i] = number;
        }
        if (rc == 0) {
            qsort (sorted, array->n_jobs, sizeof *sorted, s_u64_order);
            for (size_t i = 1; i < array->n_jobs && rc == 0; i++)
                if (sorted [i] == sorted [i - 1]) {
                    char job [SEGQ__JOB_ID_MAX];
                    segq__job_id_format (sorted [i], job);
                    snprintf (err, sizeof err, "job %s is named twice", job);
                    rc = SEGQ_EINVAL;
                }
        }
        row.n_jobs = array->n_jobs;
        row.created = s_now ();
        snprintf (row.owner, sizeof row.owner, "%s", array->user);
        if (rc == 0) {
            rc = segq__job_store_insert_array (self->store, array->user, row.created, row.jobs,
                                               row.n_jobs, &id);
            if (rc)
                s_broken (self, rc, "storing a job array");
        }
    }
    free (sorted);
    segq_msg_t *reply = rc == 0 ? segq_msg_new (SEGQ_MSG_ARRAY_REPLY) : NULL;
    if (rc == 0 && reply) {
        segq_array_reply_t *r = &reply->u.array_reply;
        char text [SEGQ__ARRAY_ID_MAX];
        segq__array_id_format (id, text);
        r->req_id = array->req_id;
        r->created = row.created;
        bool ok = (r->array = strdup (text)) && (r->owner = strdup (row.owner))
               && (!row.n_jobs || (r->jobs = calloc (row.n_jobs, sizeof *r->jobs)));
        for (size_t i = 0; ok && i < row.n_jobs; i++) {
            char job [SEGQ__JOB_ID_MAX];
            segq__job_id_format (row.jobs [i], job);
            ok = (r->jobs [i] = strdup (job)) != NULL;
            r->n_jobs = i + 1;
        }
        if (!ok) {
            segq_msg_destroy (&reply);
            rc = SEGQ_ENOMEM;
            snprintf (err, sizeof err, "out of memory");
        }
    }
    segq__array_row_clear (&row);
    if (rc) {
        s_log (self, 1, peer_hex, "ARRAY refused: %s", err);
        s_error (self, peer, array->req_id, rc, "%s", *err ? err : segq_strerror (rc));
        return;
    }
    if (!array->array)
        s_log (self, 2, peer_hex, "ARRAY: %s of %zu jobs", reply->u.array_reply.array,
               reply->u.array_reply.n_jobs);
    s_send (self, peer, reply, !array->array);
}

/* What a queued or waiting job waits for, in words. */
static void
s_overlay (segq_broker_t *self, segq_job_info_t *info)
{
    /* Progress is kept in memory while a job runs only; a job that
       succeeded has, by definition, done all of its work. */
    if (info->state == SEGQ_JOB_SUCCEEDED)
        info->fraction = 1.0;
    uint64_t number = segq__job_id_parse (info->id);
    segq__job_t *job = segq__jobs_find (self->jobs, number);
    char purged [256];
    /* an ended job's message says where its outputs went */
    if (!job && segq__retention_purged (self->retention, number, purged, sizeof purged)) {
        char text [300];
        snprintf (text, sizeof text, "artifacts %s", purged);
        free (info->message);
        info->message = strdup (text);
    }
    if (!job)
        return;
    char text [512] = "";
    if (job->state == SEGQ_JOB_QUEUED) {
        if (!segq__sched_runs_kind (self->sched, job->sched.kind))
            snprintf (text, sizeof text, "waiting for a worker that runs %s",
                      segq__job_kind_name (job));
        else if (!segq__sched_fits_total (self->sched, &job->sched)) {
            if (job->sched.gpu_mem)
                snprintf (text, sizeof text, "waiting for capacity: no worker has a GPU with "
                          "%" PRIu64 " bytes and %u CPU slots", job->sched.gpu_mem,
                          job->sched.cpu_slots);
            else
                snprintf (text, sizeof text, "waiting for capacity: no worker has %u CPU slots",
                          job->sched.cpu_slots);
        }
    }
    else if (job->state == SEGQ_JOB_WAITING)
        snprintf (text, sizeof text, "waiting for %u job(s) it depends on", job->n_pending);
    else if (job->state == SEGQ_JOB_RUNNING && job->orphan_node)
        snprintf (text, sizeof text, "waiting for worker %s to come back", job->orphan_node);
    else if (job->state == SEGQ_JOB_RUNNING && job->progress) {
        info->fraction = job->progress->fraction;
        info->phase = job->progress->phase ? strdup (job->progress->phase) : NULL;
        if (job->progress->message)
            snprintf (text, sizeof text, "%s", job->progress->message);
        segq_params_copy (&info->metrics, &job->progress->metrics);
    }
    if (*text)
        info->message = strdup (text);
}

/* Everyone sees the queue (who runs what, and how far), but a job's data
   (its inputs' and outputs' names and hashes) only those who may read it:
   a file name can be a patient's. */
static void
s_hide_data (const segq__caller_t *caller, segq_job_info_t *info)
{
    if (segq__access_owner (caller, info->owner))
        return;
    for (size_t i = 0; i < info->n_inputs; i++)
        segq_input_clear (&info->inputs [i]);
    for (size_t i = 0; i < info->n_outputs; i++)
        segq_artifact_clear (&info->outputs [i]);
    free (info->inputs);
    free (info->outputs);
    info->inputs = NULL;
    info->outputs = NULL;
    info->n_inputs = info->n_outputs = 0;
}

static void
s_on_status (segq_broker_t *self, zframe_t *peer, const segq_status_t *status)
{
    segq_msg_t *reply = segq_msg_new (SEGQ_MSG_STATUS_REPLY);
    if (!reply)
        return;
    segq_status_reply_t *r = &reply->u.status_reply;
    r->req_id = status->req_id;
    uint64_t ids [STATUS_PAGE_MAX + 1];
    size_t count = 0;
    int rc = 0;
    /* one rule for jobs named and a page asked for: more is refused, not cut */
    if (status->n_jobs > STATUS_PAGE_MAX || status->limit > STATUS_PAGE_MAX) {
        bool named = status->n_jobs > STATUS_PAGE_MAX;
        segq_msg_destroy (&reply);
        s_error (self, peer, status->req_id, SEGQ_ETOOBIG, "%s %zu jobs: a status request takes "
                 "at most %d (%s)", named ? "named" : "a page of",
                 named ? status->n_jobs : (size_t) status->limit, STATUS_PAGE_MAX,
                 named ? "name them in several requests" : "page on with the reply's cursor");
        return;
    }
    if (status->n_jobs) {
        for (size_t i = 0; i < status->n_jobs; i++) {
            ids [count] = segq__job_id_parse (status->jobs [i]);
            segq__job_brief_t brief;
            if (!ids [count] || segq__job_store_brief (self->store, ids [count], &brief)) {
                segq_msg_destroy (&reply);
                s_error (self, peer, status->req_id, SEGQ_ENOENT, "unknown job '%s'",
                         status->jobs [i]);
                return;
            }
            count++;
        }
    }
    else {
        uint32_t limit = status->limit ? status->limit : STATUS_PAGE;
        uint64_t after = 0;
        if (status->cursor && !(after = segq__job_id_parse (status->cursor))) {
            segq_msg_destroy (&reply);
            s_error (self, peer, status->req_id, SEGQ_EINVAL, "bad cursor '%s'", status->cursor);
            return;
        }
        rc = status->newest ? segq__job_store_list_newest (self->store, after, status->user,
                                                           status->state, limit + 1, ids, &count)
                            : segq__job_store_list (self->store, after, status->user,
                                                    status->state, limit + 1, ids, &count);
        if (rc == 0 && count > limit) {
            count = limit;
            char id [SEGQ__JOB_ID_MAX];
            segq__job_id_format (ids [count - 1], id);
            r->cursor = strdup (id);
        }
    }
    if (rc == 0 && count && !(r->jobs = calloc (count, sizeof *r->jobs)))
        rc = SEGQ_ENOMEM;
    segq__caller_t caller = s_caller (self, status->caller);
    for (size_t i = 0; i < count && rc == 0; i++) {
        rc = segq__job_store_info (self->store, ids [i], status->detail, &r->jobs [i]);
        r->n_jobs++;
        if (rc == 0)
            s_overlay (self, &r->jobs [i]);
        if (rc == 0)
            s_hide_data (&caller, &r->jobs [i]);
    }
    if (rc) {
        segq_msg_destroy (&reply);
        s_error (self, peer, status->req_id, rc, "cannot read the jobs: %s", segq_strerror (rc));
        return;
    }
    s_send (self, peer, reply, false);
}

static worker_t *
s_job_worker (segq__job_t *job)
{
    return job->sched.node ? segq__sched_node_owner (job->sched.node) : NULL;
}

static void
s_abort (segq_broker_t *self, worker_t *w, const char *job, uint32_t attempt, const char *reason)
{
    segq_msg_t *msg = w && w->peer ? segq_msg_new (SEGQ_MSG_ABORT) : NULL;
    if (!msg)
        return;
    msg->u.abort.job = strdup (job);
    msg->u.abort.attempt = attempt;
    msg->u.abort.reason = reason ? strdup (reason) : NULL;
    s_send (self, w->peer, msg, true);
}

static void
s_on_cancel (segq_broker_t *self, zframe_t *peer, const char *peer_hex, const segq_cancel_t *cancel)
{
    segq_msg_t *reply = segq_msg_new (SEGQ_MSG_CANCEL_REPLY);
    if (!reply)
        return;
    segq_cancel_reply_t *r = &reply->u.cancel_reply;
    r->req_id = cancel->req_id;
    if (cancel->n_jobs && !(r->results = calloc (cancel->n_jobs, sizeof *r->results))) {
        segq_msg_destroy (&reply);
        return;
    }
    double now = s_now ();
    for (size_t i = 0; i < cancel->n_jobs; i++) {
        segq_cancel_result_t *result = &r->results [r->n_results++];
        result->job = strdup (cancel->jobs [i]);
        uint64_t number = segq__job_id_parse (cancel->jobs [i]);
        char err [512] = "";
        bool abort = false;
        /* an admin cancels in the owner's stead */
        segq__job_brief_t brief;
        const char *as = cancel->user;
        const segq__identity_t *id = self->auth ? segq__auth_identify (self->auth, self->sender_key)
                                                : NULL;
        if (id && id->role == SEGQ__ROLE_ADMIN && number
        &&  segq__job_store_brief (self->store, number, &brief) == 0)
            as = brief.owner;
        int rc = number ? segq__jobs_cancel (self->jobs, number, as, now, &abort,
                                             err, sizeof err) : SEGQ_ENOENT;
        if (!number)
            snprintf (err, sizeof err, "unknown job '%s'", cancel->jobs [i]);
        if (s_store_error (rc) && rc != SEGQ_ESTATE)
            s_broken (self, rc, "storing a cancel");
        result->code = rc;
        result->message = *err ? strdup (err) : NULL;
        json_t *event = s_audit_event (self, "cancel", cancel->user, peer_hex);
        s_audit_set (event, "job", cancel->jobs [i]);
        s_audit_end (self, &event, rc ? err : NULL, rc == 0);
        if (abort) {
            segq__job_t *job = segq__jobs_find (self->jobs, number);
            if (job)
                s_abort (self, s_job_worker (job), cancel->jobs [i], job->attempt, job->cancel);
        }
        s_log (self, rc == SEGQ_EPERM ? 0 : 1, peer_hex, "CANCEL %s by %s: %s", cancel->jobs [i],
               cancel->user ? cancel->user : "?", rc ? err : abort ? "worker told" : "cancelled");
    }
    s_send (self, peer, reply, true);
}

static void
s_on_logs (segq_broker_t *self, zframe_t *peer, const segq_logs_t *logs)
{
    uint64_t number = segq__job_id_parse (logs->job);
    segq__job_brief_t brief;
    segq__caller_t caller = s_caller (self, logs->user);
    char why [512];
    int rc = segq__access_job (self->access, &caller, number, logs->job, why, sizeof why);
    if (rc == 0)
        rc = segq__job_store_brief (self->store, number, &brief);
    if (rc) {
        char peer_hex [PEER_HEX];
        s_peer_hex (peer, peer_hex);
        if (rc == SEGQ_EPERM)
            s_log (self, 0, peer_hex, "refused LOGS to %s: %s", caller.user ? caller.user : "?",
                   why);
        s_error (self, peer, logs->req_id, rc, "%s", why);
        return;
    }
    size_t cap = self->config.max_msg / 2;
    size_t max = logs->max_bytes && logs->max_bytes < cap ? logs->max_bytes : cap;
    segq_msg_t *reply = segq_msg_new (SEGQ_MSG_LOGS_REPLY);
    if (!reply)
        return;
    segq_logs_reply_t *r = &reply->u.logs_reply;
    uint64_t total;
    rc = segq__job_log_read (self->logs, logs->job, logs->offset, max, &r->data, &r->size, &total);
    if (rc) {
        segq_msg_destroy (&reply);
        s_error (self, peer, logs->req_id, rc, "cannot read the log of %s", logs->job);
        return;
    }
    r->req_id = logs->req_id;
    r->job = strdup (logs->job);
    r->offset = logs->offset;
    r->complete = !segq__jobs_find (self->jobs, number)
               && segq_job_state_final ((segq_job_state_t) brief.state)
               && logs->offset + r->size >= total;
    s_send (self, peer, reply, false);
}

static void
s_on_kinds (segq_broker_t *self, zframe_t *peer, const segq_kinds_t *kinds)
{
    segq_msg_t *reply;
    char err [512];
    int rc = segq__kinds_reply (kinds->req_id, &reply, err, sizeof err);
    if (rc)
        s_error (self, peer, kinds->req_id, rc, "%s", err);
    else
        s_send (self, peer, reply, false);
}

static void
s_on_workers (segq_broker_t *self, zframe_t *peer, const segq_workers_t *workers)
{
    segq_msg_t *reply = segq_msg_new (SEGQ_MSG_WORKERS_REPLY);
    if (!reply)
        return;
    segq_workers_reply_t *r = &reply->u.workers_reply;
    r->req_id = workers->req_id;
    size_t n = zhashx_size (self->by_node);
    r->workers = n ? calloc (n, sizeof *r->workers) : NULL;
    int rc = n && !r->workers ? SEGQ_ENOMEM : 0;
    for (worker_t *w = zhashx_first (self->by_node); w && rc == 0; w = zhashx_next (self->by_node)) {
        segq_worker_info_t *info = &r->workers [r->n_workers++];
        info->node = strdup (w->node);
        info->state = w->state;
        info->cpu_slots = w->cpu_slots;
        info->cpu_used = w->sched_node ? segq__sched_node_cpu_used (w->sched_node) : 0;
        info->last_seen = w->last_seen;
        info->version = SEGQ_PROTO_VERSION;
        if (w->n_gpus && !(info->gpus = calloc (w->n_gpus, sizeof *info->gpus)))
            rc = SEGQ_ENOMEM;
        for (size_t g = 0; g < w->n_gpus && rc == 0; g++) {
            segq_gpu_t *gpu = &info->gpus [info->n_gpus++];
            rc = segq_gpu_copy (gpu, &w->gpus [g]);
            gpu->mem_used = w->sched_node ? segq__sched_node_gpu_used (w->sched_node, gpu->index) : 0;
        }
        if (w->n_kinds && rc == 0 && !(info->kinds = calloc (w->n_kinds, sizeof *info->kinds)))
            rc = SEGQ_ENOMEM;
        for (size_t k = 0; k < w->n_kinds && rc == 0; k++)
            info->kinds [info->n_kinds++] = strdup (w->kinds [k]);
        size_t running = 0;
        segq__sched_job_t *sj = w->sched_node ? segq__sched_node_running (w->sched_node) : NULL;
        for (segq__sched_job_t *j = sj; j; j = j->next)
            running++;
        if (running && rc == 0 && !(info->running = calloc (running, sizeof *info->running)))
            rc = SEGQ_ENOMEM;
        for (segq__sched_job_t *j = sj; j && rc == 0; j = j->next) {
            char id [SEGQ__JOB_ID_MAX];
            segq__job_id_format (j->seq, id);
            info->running [info->n_running++] = strdup (id);
        }
    }
    if (rc) {
        segq_msg_destroy (&reply);
        s_error (self, peer, workers->req_id, rc, "out of memory listing workers");
        return;
    }
    s_send (self, peer, reply, false);
}

static void
s_on_drain (segq_broker_t *self, zframe_t *peer, const char *peer_hex, const segq_drain_t *drain)
{
    worker_t *w = drain->node ? zhashx_lookup (self->by_node, drain->node) : NULL;
    if (!w || !w->peer) {
        s_error (self, peer, drain->req_id, SEGQ_ENOENT, "no connected worker named '%s'",
                 drain->node ? drain->node : "");
        return;
    }
    w->state = SEGQ_WORKER_DRAINING;
    segq__sched_node_set_accepting (w->sched_node, false);
    s_send (self, w->peer, segq_msg_new (SEGQ_MSG_DRAIN_WORKER), false);
    segq_msg_t *reply = segq_msg_new (SEGQ_MSG_DRAIN_REPLY);
    if (reply) {
        reply->u.drain_reply.req_id = drain->req_id;
        reply->u.drain_reply.node = strdup (w->node);
        s_send (self, peer, reply, false);
    }
    s_log (self, 0, peer_hex, "draining worker %s (asked by %s)", w->node,
           drain->user ? drain->user : "?");
}

/* ---- patient data: purge, retention, backup ---- */

static void
s_on_purge (segq_broker_t *self, zframe_t *peer, const char *peer_hex, const segq_purge_t *purge)
{
    segq_msg_t *reply = segq_msg_new (SEGQ_MSG_PURGE_REPLY);
    if (!reply)
        return;
    segq_purge_reply_t *r = &reply->u.purge_reply;
    r->req_id = purge->req_id;
    if (purge->n_jobs && !(r->results = calloc (purge->n_jobs, sizeof *r->results))) {
        segq_msg_destroy (&reply);
        s_error (self, peer, purge->req_id, SEGQ_ENOMEM, "out of memory");
        return;
    }
    const segq__identity_t *id = self->auth ? segq__auth_identify (self->auth, self->sender_key)
                                            : NULL;
    bool admin = id && id->role == SEGQ__ROLE_ADMIN;
    const char *who = id ? id->name : purge->user ? purge->user : "?";
    double now = s_now ();
    for (size_t i = 0; i < purge->n_jobs; i++) {
        segq_purge_result_t *result = &r->results [r->n_results++];
        result->job = strdup (purge->jobs [i]);
        uint64_t number = segq__job_id_parse (purge->jobs [i]);
        segq__job_brief_t brief;
        char err [600] = "";
        int rc = 0;
        bool already = false;
        if (!number || segq__job_store_brief (self->store, number, &brief) != 0) {
            rc = SEGQ_ENOENT;
            snprintf (err, sizeof err, "unknown job '%s'", purge->jobs [i]);
        }
        else if (!admin && (!purge->user || strcmp (purge->user, brief.owner) != 0)) {
            rc = SEGQ_EPERM;
            snprintf (err, sizeof err, "permission denied: job %s belongs to %s; only its owner "
                      "or an admin may purge it", purge->jobs [i], brief.owner);
        }
        else {
            segq__purge_stats_t stats;
            rc = segq__retention_purge (self->retention, number, who, now, &already, &stats,
                                        err, sizeof err);
            result->artifacts = stats.files;
            result->bytes = stats.bytes;
            if (s_store_error (rc) && rc != SEGQ_ESTATE)
                s_broken (self, rc, "storing a purge");
        }
        result->code = rc;
        result->message = *err ? strdup (err) : NULL;
        s_log (self, rc == SEGQ_EPERM ? 0 : 1, peer_hex, "PURGE %s by %s: %s", purge->jobs [i],
               who, rc || already ? err : "purged");
        json_t *event = s_audit_event (self, "purge", purge->user, peer_hex);
        s_audit_set (event, "job", purge->jobs [i]);
        if (event && rc == 0 && !already) {
            json_object_set_new (event, "files", json_integer (result->artifacts));
            json_object_set_new (event, "bytes", json_integer ((json_int_t) result->bytes));
        }
        s_audit_set (event, "note", already ? err : NULL);
        s_audit_end (self, &event, rc ? err : NULL, rc == 0);
    }
    s_send (self, peer, reply, true);
}

static void
s_retention_purged (void *arg, uint64_t job, const segq__purge_stats_t *stats)
{
    segq_broker_t *self = arg;
    char id [SEGQ__JOB_ID_MAX];
    segq__job_id_format (job, id);
    json_t *event = segq__audit_event ("purge", "retention", NULL, NULL, NULL);
    s_audit_set (event, "job", id);
    if (event) {
        json_object_set_new (event, "files", json_integer (stats->files));
        json_object_set_new (event, "bytes", json_integer ((json_int_t) stats->bytes));
        json_object_set_new (event, "retention_s",
                             json_real (segq__retention_seconds (self->retention)));
    }
    s_audit_end (self, &event, NULL, true);
}

/* Retention: a bounded batch of expired jobs per timer tick, in the
   tick's transaction, so dispatch is never held up for long. */
static void
s_sweep (segq_broker_t *self)
{
    /* removes files only, and only of purges already durable: no transaction */
    if (!segq__job_store_in_transaction (self->store))
        segq__retention_recheck (self->retention, 64);
    if (self->broken || segq__retention_seconds (self->retention) <= 0)
        return;
    int64_t deadline = zclock_mono () + SWEEP_MS;
    size_t batch = 64;
    for (size_t done = 0; done < SWEEP_MAX && zclock_mono () < deadline; done += batch) {
        double now = s_now ();
        int n = segq__retention_sweep (self->retention, now, batch, s_retention_purged, self);
        if (n < 0) {
            s_broken (self, n, "retention sweep");
            return;
        }
        if (n > 0)
            s_log (self, 1, NULL, "retention: looked at %d job(s) that ended over %.0f s ago", n,
                   segq__retention_seconds (self->retention));
        if ((size_t) n < batch)
            break;
    }
}

/* The backup in progress ends: its requester gets BACKUP_REPLY or ERROR. */
static void
s_backup_end (segq_broker_t *self, int code, const char *message)
{
    if (!self->backup.copy)
        return;
    if (self->backup.timer >= 0 && self->loop)
        zloop_timer_end (self->loop, self->backup.timer);
    self->backup.timer = -1;
    segq_msg_t *reply = NULL;
    if (code == 0 && (reply = segq_msg_new (SEGQ_MSG_BACKUP_REPLY))) {
        reply->u.backup_reply.req_id = self->backup.req_id;
        reply->u.backup_reply.path = strdup (segq__backup_path (self->backup.copy));
        reply->u.backup_reply.size = segq__backup_size (self->backup.copy);
        reply->u.backup_reply.jobs = segq__backup_jobs (self->backup.copy);
        s_send_at_once (self, self->backup.peer, reply);
        s_log (self, 0, NULL, "backup of the database written to %s (%" PRIu64 " bytes, %" PRIu64
               " jobs)", segq__backup_path (self->backup.copy),
               segq__backup_size (self->backup.copy), segq__backup_jobs (self->backup.copy));
    }
    else {
        s_log (self, 0, NULL, "backup failed: %s", message);
        if (self->router)
            s_error (self, self->backup.peer, self->backup.req_id, code, "%s", message);
    }
    if (self->backup.event && code == 0)
        json_object_set_new (self->backup.event, "size",
                             json_integer ((json_int_t) segq__backup_size (self->backup.copy)));
    s_audit_end (self, &self->backup.event, code ? message : NULL, false);
    segq__backup_destroy (&self->backup.copy);
    zframe_destroy (&self->backup.peer);
}

static int
s_on_backup_tick (zloop_t *loop, int timer_id, void *arg)
{
    segq_broker_t *self = arg;
    /* SQLite refuses to step while this connection writes: between turns only */
    if (segq__job_store_in_transaction (self->store))
        return 0;
    char err [1024] = "";
    int rc = segq__backup_step (self->backup.copy, BACKUP_PAGES, err, sizeof err);
    if (rc <= 0)
        s_backup_end (self, rc, err);
    /* the ERROR of a failed backup is in the outbox: send it */
    if (rc < 0)
        s_flush (self, true);
    return 0;
}

static void
s_on_backup (segq_broker_t *self, zframe_t *peer, const char *peer_hex, const segq_backup_t *backup)
{
    json_t *event = s_audit_event (self, "backup", backup->user, peer_hex);
    s_audit_set (event, "path", backup->path);
    if (self->backup.copy) {
        s_error (self, peer, backup->req_id, SEGQ_ESTATE, "a backup (to %s) is in progress: "
                 "try again when it is done", segq__backup_path (self->backup.copy));
        s_audit_end (self, &event, "a backup is in progress", false);
        return;
    }
    char err [1024] = "";
    int code = 0;
    self->backup.copy = segq__backup_start (self->store, backup->path, &code, err, sizeof err);
    if (self->backup.copy) {
        self->backup.peer = zframe_dup (peer);
        self->backup.req_id = backup->req_id;
        self->backup.timer = zloop_timer (self->loop, BACKUP_TICK_MS, 0, s_on_backup_tick, self);
        if (!self->backup.peer || self->backup.timer < 0) {
            code = SEGQ_ENOMEM;
            snprintf (err, sizeof err, "cannot schedule the backup");
            segq__backup_destroy (&self->backup.copy);
            zframe_destroy (&self->backup.peer);
        }
    }
    if (!self->backup.copy) {
        s_log (self, 0, peer_hex, "BACKUP to %s refused: %s", backup->path, err);
        s_error (self, peer, backup->req_id, code, "%s", err);
        s_audit_end (self, &event, err, false);
        return;
    }
    s_log (self, 0, peer_hex, "backup of the database to %s started", backup->path);
    self->backup.event = event;
}

/* ---- workers ---- */

static int
s_worker_describe (worker_t *w, const segq_register_t *reg)
{
    for (size_t i = 0; i < w->n_gpus; i++)
        segq_gpu_clear (&w->gpus [i]);
    free (w->gpus);
    for (size_t i = 0; i < w->n_kinds; i++)
        free (w->kinds [i]);
    free (w->kinds);
    free (w->instance);
    w->gpus = NULL;
    w->kinds = NULL;
    w->instance = NULL;
    w->n_gpus = w->n_kinds = 0;
    w->cpu_slots = reg->cpu_slots;
    w->kinds_mask = 0;
    if (reg->instance && !(w->instance = strdup (reg->instance)))
        return SEGQ_ENOMEM;
    if (reg->n_gpus && !(w->gpus = calloc (reg->n_gpus, sizeof *w->gpus)))
        return SEGQ_ENOMEM;
    for (size_t i = 0; i < reg->n_gpus; i++, w->n_gpus++)
        if (segq_gpu_copy (&w->gpus [i], &reg->gpus [i]))
            return SEGQ_ENOMEM;
    if (reg->n_kinds && !(w->kinds = calloc (reg->n_kinds, sizeof *w->kinds)))
        return SEGQ_ENOMEM;
    size_t count;
    const segq_kind_spec_t *kinds = segq_kinds (&count);
    for (size_t i = 0; i < reg->n_kinds; i++) {
        if (!(w->kinds [w->n_kinds] = strdup (reg->kinds [i])))
            return SEGQ_ENOMEM;
        w->n_kinds++;
        for (size_t k = 0; k < count && k < SEGQ_SCHED_MAX_KINDS; k++)
            if (strcmp (kinds [k].name, reg->kinds [i]) == 0)
                w->kinds_mask |= 1ULL << k;
    }
    return 0;
}

static bool
s_held (const segq_register_t *reg, uint64_t number, uint32_t attempt)
{
    for (size_t i = 0; i < reg->n_held; i++)
        if (reg->held [i].attempt == attempt && segq__job_id_parse (reg->held [i].job) == number)
            return true;
    return false;
}

/* Two daemons claim one node name: w, connected elsewhere and heard from
   within the expiry, is another daemon than the one registering (their
   `inst` differ). Taking the name over would make them re-register in
   turn, each losing the other's jobs; the newcomer is refused instead.
   A reconnect or a restart of the same daemon keeps its `inst`, and a
   name whose daemon left or expired is free. */
static bool
s_node_taken (segq_broker_t *self, zframe_t *peer, const char *peer_hex, const worker_t *w,
              const segq_register_t *reg)
{
    int64_t silent = zclock_mono () - w->last_seen_mono;
    if (!w->peer || strcmp (w->peer_hex, peer_hex) == 0 || !w->instance || !reg->instance
    ||  strcmp (w->instance, reg->instance) == 0 || silent > (int64_t) self->config.expiry_ms)
        return false;
    const char *from = w->address [0] ? " at " : "";
    s_log (self, 0, peer_hex, "refused REGISTER of node %s from daemon %s%s%s: the live daemon "
           "%s%s%s holds that name", reg->node, reg->instance,
           self->sender_address [0] ? " at " : "", self->sender_address, w->instance, from,
           w->address);
    s_error (self, peer, 0, SEGQ_EEXIST, "node name %s is taken by another live worker (daemon "
             "%s%s%s, heard from %.1f s ago): use --node NAME to give each worker on one host "
             "its own name", reg->node, w->instance, from, w->address, silent / 1000.0);
    return true;
}

static void
s_on_register (segq_broker_t *self, zframe_t *peer, const char *peer_hex, const segq_register_t *reg)
{
    if (!reg->node || !*reg->node) {
        s_error (self, peer, 0, SEGQ_EINVAL, "REGISTER without a node name");
        return;
    }
    double now = s_now ();
    worker_t *w = zhashx_lookup (self->by_node, reg->node);
    if (w && s_node_taken (self, peer, peer_hex, w, reg))
        return;
    worker_t *other = zhashx_lookup (self->by_peer, peer_hex);
    if (other && other != w) {
        /* this connection was another node before: that one is gone */
        s_worker_gone (self, other, "its worker re-registered under another name", false);
    }
    if (!w) {
        w = calloc (1, sizeof *w);
        if (!w || !(w->node = strdup (reg->node))) {
            free (w);
            s_error (self, peer, 0, SEGQ_ENOMEM, "out of memory registering");
            return;
        }
        zhashx_insert (self->by_node, w->node, w);
    }
    /* a new session of the same node: the jobs it still holds move over,
       the ones it no longer holds were lost with the old session */
    segq__sched_node_t *old = w->sched_node;
    w->sched_node = NULL;
    if (w->peer && strcmp (w->peer_hex, peer_hex) != 0)
        zhashx_delete (self->by_peer, w->peer_hex);
    zframe_destroy (&w->peer);
    w->peer = zframe_dup (peer);
    snprintf (w->peer_hex, sizeof w->peer_hex, "%s", peer_hex);
    snprintf (w->address, sizeof w->address, "%s", self->sender_address);
    zhashx_update (self->by_peer, w->peer_hex, w);
    w->state = reg->draining ? SEGQ_WORKER_DRAINING : SEGQ_WORKER_ACTIVE;
    w->last_seen_mono = zclock_mono ();
    w->last_seen = now;
    int rc = s_worker_describe (w, reg);
    if (rc == 0 && !(w->sched_node = s_worker_sched_node (self, w)))
        rc = SEGQ_ENOMEM;
    if (rc) {
        s_error (self, peer, 0, rc, "out of memory registering");
        if (old)
            segq__sched_node_destroy (self->sched, &old);
        s_worker_gone (self, w, "registration failed", false);
        return;
    }
    if (old) {
        segq__sched_job_t *sj = segq__sched_node_running (old);
        while (sj) {
            segq__sched_job_t *next = sj->next;
            segq__job_t *job = (segq__job_t *) sj;
            if (s_held (reg, sj->seq, job->attempt))
                segq__sched_adopt (self->sched, sj, w->sched_node, sj->gpu);
            else {
                rc = segq__jobs_lost (self->jobs, job, "its worker re-registered without it", now);
                if (rc)
                    s_broken (self, rc, "requeue on re-register");
            }
            sj = next;
        }
        segq__sched_node_destroy (self->sched, &old);
    }
    /* every held job: re-adopted if it is the job's current running
       attempt, otherwise the worker must drop it */
    size_t adopted = 0;
    for (size_t i = 0; i < reg->n_held; i++) {
        const segq_job_attempt_t *held = &reg->held [i];
        uint64_t number = segq__job_id_parse (held->job);
        segq__job_t *job = number ? segq__jobs_find (self->jobs, number) : NULL;
        bool current = job && job->state == SEGQ_JOB_RUNNING && job->attempt == held->attempt
                    && (job->sched.node == w->sched_node
                        || (job->orphan_node && strcmp (job->orphan_node, w->node) == 0));
        /* requeued because the worker went quiet, but nobody got it since:
           its attempt is still the latest one handed out, so take it back */
        if (job && job->state == SEGQ_JOB_QUEUED && job->attempt == held->attempt
        &&  job->attempt > 0) {
            rc = segq__jobs_reclaim (self->jobs, job, w->node, now);
            if (rc) {
                s_broken (self, rc, "taking back a job");
                continue;
            }
            segq__sched_adopt (self->sched, &job->sched, w->sched_node, job->last_gpu);
            current = true;
        }
        if (!current) {
            s_abort (self, w, held->job, held->attempt, "not the job's current attempt");
            continue;
        }
        if (job->sched.node != w->sched_node) {
            segq__sched_adopt (self->sched, &job->sched, w->sched_node, job->sched.gpu);
            segq__jobs_adopt (self->jobs, job);
        }
        if (job->cancel)
            s_abort (self, w, held->job, held->attempt, job->cancel);
        adopted++;
    }
    rc = segq__jobs_lose_orphans_of (self->jobs, w->node, now);
    if (rc)
        s_broken (self, rc, "requeue of jobs a worker no longer holds");
    char gpus [1024] = "", kinds [1024] = "";
    size_t len = 0;
    for (size_t i = 0; i < w->n_gpus && len < sizeof gpus; i++)
        len += (size_t) snprintf (gpus + len, sizeof gpus - len, "%s%u:%s:%" PRIu64,
                                  i ? "," : "", w->gpus [i].index, w->gpus [i].name,
                                  w->gpus [i].mem_total);
    len = 0;
    for (size_t i = 0; i < w->n_kinds && len < sizeof kinds; i++)
        len += (size_t) snprintf (kinds + len, sizeof kinds - len, "%s%s", i ? "," : "",
                                  w->kinds [i]);
    if (!self->broken && segq__job_store_begin (self->store) == 0) {
        rc = segq__job_store_worker_seen (self->store, w->node, now, w->cpu_slots, gpus, kinds);
        if (rc)
            s_broken (self, rc, "storing a worker");
    }
    segq_msg_t *welcome = segq_msg_new (SEGQ_MSG_WELCOME);
    if (welcome) {
        welcome->u.welcome.heartbeat_ms = self->config.heartbeat_ms;
        welcome->u.welcome.expiry_ms = self->config.expiry_ms;
        welcome->u.welcome.max_msg = self->config.max_msg;
        welcome->u.welcome.chunk_size = self->config.chunk_size;
        /* it promises nothing stored: it goes now, ahead of the heartbeats */
        s_send (self, peer, welcome, false);
    }
    s_log (self, 0, peer_hex, "worker %s registered: %u CPU slots, GPUs [%s], kinds [%s], "
           "%zu job(s) held, %zu re-adopted%s", w->node, w->cpu_slots, gpus, kinds, reg->n_held,
           adopted, reg->draining ? ", draining" : "");
}

/* The running job that a worker message is about, if the message is from
   its current attempt on this worker; NULL (fenced) otherwise. */
static segq__job_t *
s_fenced_job (segq_broker_t *self, worker_t *w, const char *id, uint32_t attempt)
{
    uint64_t number = segq__job_id_parse (id);
    segq__job_t *job = number ? segq__jobs_find (self->jobs, number) : NULL;
    if (!job || job->state != SEGQ_JOB_RUNNING || job->attempt != attempt
    ||  job->sched.node != w->sched_node)
        return NULL;
    return job;
}

static void
s_on_progress (segq_broker_t *self, worker_t *w, segq_progress_t *progress)
{
    segq__job_t *job = s_fenced_job (self, w, progress->job, progress->attempt);
    if (!job) {
        s_log (self, 2, w->peer_hex, "PROGRESS of %s attempt %u: stale, dropped", progress->job,
               progress->attempt);
        return;
    }
    if (!job->progress && !(job->progress = calloc (1, sizeof *job->progress)))
        return;
    segq__progress_t *p = job->progress;
    p->fraction = progress->fraction;
    if (progress->phase) {
        free (p->phase);
        p->phase = strdup (progress->phase);
    }
    if (progress->message) {
        free (p->message);
        p->message = strdup (progress->message);
    }
    for (size_t i = 0; i < progress->metrics.count; i++)
        segq_params_set (&p->metrics, progress->metrics.items [i].name,
                         &progress->metrics.items [i].value);
}

static void
s_on_log (segq_broker_t *self, worker_t *w, const segq_log_t *log)
{
    segq__job_t *job = s_fenced_job (self, w, log->job, log->attempt);
    if (!job) {
        s_log (self, 2, w->peer_hex, "LOG of %s attempt %u: stale, dropped", log->job, log->attempt);
        return;
    }
    /* a resend after a reconnect may overlap what is stored */
    uint64_t end = log->offset + log->size;
    if (end <= job->log_received)
        return;
    size_t skip = log->offset < job->log_received ? (size_t) (job->log_received - log->offset) : 0;
    int rc = 0;
    if (job->log_received == 0 && log->offset == 0) {
        char header [512];
        int len = snprintf (header, sizeof header, "=== attempt %u on %s ===\n", log->attempt,
                            w->node);
        rc = segq__job_log_append (self->logs, log->job, header, (size_t) len);
    }
    if (rc == 0)
        rc = segq__job_log_append (self->logs, log->job, log->data + skip, log->size - skip);
    if (rc)
        s_log (self, 0, w->peer_hex, "cannot write the log of %s: %s", log->job, segq_strerror (rc));
    job->log_received = end;
}

static void
s_result_ack (segq_broker_t *self, worker_t *w, const segq_result_t *result, int code,
              const char *message)
{
    segq_msg_t *ack = segq_msg_new (SEGQ_MSG_RESULT_ACK);
    if (!ack)
        return;
    ack->u.result_ack.job = strdup (result->job);
    ack->u.result_ack.attempt = result->attempt;
    ack->u.result_ack.code = code;
    ack->u.result_ack.message = message ? strdup (message) : NULL;
    s_send (self, w->peer, ack, true);
}

/* A job's outputs are bytes its worker sent (or inputs it echoes): a
   worker certificate is no way to pass other jobs' data off as a job's. */
static bool
s_outputs_sent_by (segq_broker_t *self, worker_t *w, const segq_result_t *result, char *refused,
                   size_t len)
{
    for (size_t i = 0; i < result->n_outputs; i++) {
        const segq_artifact_t *output = &result->outputs [i];
        if (!segq__access_worker_output (self->access, w->node, output->hash)) {
            s_log (self, 0, w->peer_hex, "RESULT %s: output '%s' (%s) was not uploaded by %s",
                   result->job, output->name ? output->name : "", output->hash, w->node);
            snprintf (refused, len, "output '%s' (%s) was never uploaded by worker %s",
                      output->name ? output->name : "", output->hash, w->node);
            return false;
        }
    }
    return true;
}

static void
s_on_result (segq_broker_t *self, worker_t *w, const segq_result_t *result)
{
    segq__job_t *job = s_fenced_job (self, w, result->job, result->attempt);
    if (!job) {
        uint64_t number = segq__job_id_parse (result->job);
        segq__job_brief_t brief;
        bool known = number && segq__job_store_brief (self->store, number, &brief) == 0;
        /* the same result again (its ack was lost): already recorded */
        if (known && segq_job_state_final ((segq_job_state_t) brief.state)
        &&  brief.attempt == result->attempt && !segq__jobs_find (self->jobs, number)) {
            s_result_ack (self, w, result, 0, "already recorded");
            return;
        }
        char text [256];
        snprintf (text, sizeof text, "attempt %u of %s is not its current attempt%s",
                  result->attempt, result->job, known ? "" : " (unknown job)");
        s_log (self, 1, w->peer_hex, "RESULT fenced: %s", text);
        s_result_ack (self, w, result, SEGQ_ESTALE, text);
        return;
    }
    char refused [SEGQ_MAX_NAME + 256] = "";
    bool success = result->success && s_outputs_sent_by (self, w, result, refused, sizeof refused);
    int rc = segq__jobs_finish (self->jobs, job, success, *refused ? refused : result->reason,
                                result->exit_code, result->signal, result->outputs,
                                result->n_outputs, s_now ());
    if (rc) {
        s_broken (self, rc, "storing a result");
        return;
    }
    s_log (self, 2, w->peer_hex, "RESULT %s attempt %u: %s", result->job, result->attempt,
           result->success ? "success" : "failure");
    s_result_ack (self, w, result, 0, NULL);
}

static void
s_checkpoint_ack (segq_broker_t *self, worker_t *w, const segq_checkpoint_t *checkpoint,
                  int code, const char *message)
{
    segq_msg_t *ack = segq_msg_new (SEGQ_MSG_CHECKPOINT_ACK);
    if (!ack)
        return;
    ack->u.checkpoint_ack.job = strdup (checkpoint->job);
    ack->u.checkpoint_ack.attempt = checkpoint->attempt;
    ack->u.checkpoint_ack.step = checkpoint->step;
    ack->u.checkpoint_ack.code = code;
    ack->u.checkpoint_ack.message = message ? strdup (message) : NULL;
    s_send (self, w->peer, ack, true);
}

/* The newest checkpoint of a running attempt: fenced like RESULT, its
   artifact already uploaded, kept durably (the ack goes after the commit). */
static void
s_on_checkpoint (segq_broker_t *self, worker_t *w, const segq_checkpoint_t *checkpoint)
{
    segq__job_t *job = s_fenced_job (self, w, checkpoint->job, checkpoint->attempt);
    char text [256];
    if (!job) {
        snprintf (text, sizeof text, "attempt %u of %s is not a running attempt of this worker",
                  checkpoint->attempt, checkpoint->job);
        s_log (self, 1, w->peer_hex, "CHECKPOINT fenced: %s", text);
        s_checkpoint_ack (self, w, checkpoint, SEGQ_ESTALE, text);
        return;
    }
    uint64_t size = 0;
    if (!segq__artifact_store_has (self->artifacts, checkpoint->hash, &size)
    ||  size != checkpoint->size
    ||  !segq__access_worker_output (self->access, w->node, checkpoint->hash)) {
        snprintf (text, sizeof text, "checkpoint %s of %s is not stored here as sent by %s: "
                  "upload it first", checkpoint->name, checkpoint->job, w->node);
        s_checkpoint_ack (self, w, checkpoint, SEGQ_ENOENT, text);
        return;
    }
    segq_artifact_t artifact = { .name = checkpoint->name, .size = checkpoint->size };
    memcpy (artifact.hash, checkpoint->hash, sizeof artifact.hash);
    segq_artifact_t previous = { 0 };
    int rc = segq__job_store_checkpoint (self->store, job->sched.seq, &previous, NULL);
    bool replaced = rc == 0 && strcmp (previous.hash, artifact.hash) != 0;
    if (rc == SEGQ_ENOENT)
        rc = 0;
    if (rc == 0)
        rc = segq__job_store_begin (self->store);
    if (rc == 0)
        rc = segq__job_store_set_checkpoint (self->store, job->sched.seq, checkpoint->attempt,
                                             &artifact, checkpoint->step, s_now ());
    if (rc == 0 && replaced)
        rc = segq__retention_forget (self->retention, previous.hash);
    segq_artifact_clear (&previous);
    if (rc) {
        s_broken (self, rc, "storing a checkpoint");
        return;
    }
    s_log (self, 2, w->peer_hex, "CHECKPOINT %s attempt %u: %s (step %u)", checkpoint->job,
           checkpoint->attempt, checkpoint->name, checkpoint->step);
    s_checkpoint_ack (self, w, checkpoint, 0, NULL);
}

static void
s_on_bye (segq_broker_t *self, worker_t *w, const segq_bye_t *bye)
{
    s_log (self, 0, w->peer_hex, "worker %s left%s%s", w->node, bye->reason ? ": " : "",
           bye->reason ? bye->reason : "");
    char why [300];
    snprintf (why, sizeof why, "worker %s left", w->node);
    s_worker_gone (self, w, why, false);
}

/* ---- dispatch of one message ---- */

static bool
s_is_worker_message (segq_msg_type_t type)
{
    return type == SEGQ_MSG_HEARTBEAT || type == SEGQ_MSG_PROGRESS || type == SEGQ_MSG_LOG
        || type == SEGQ_MSG_RESULT || type == SEGQ_MSG_CHECKPOINT || type == SEGQ_MSG_BYE;
}

static uint64_t
s_request_id (const segq_msg_t *msg)
{
    switch (msg->type) {
        case SEGQ_MSG_SUBMIT:  return msg->u.submit.req_id;
        case SEGQ_MSG_STATUS:  return msg->u.status.req_id;
        case SEGQ_MSG_CANCEL:  return msg->u.cancel.req_id;
        case SEGQ_MSG_LOGS:    return msg->u.logs.req_id;
        case SEGQ_MSG_WORKERS: return msg->u.workers.req_id;
        case SEGQ_MSG_DRAIN:   return msg->u.drain.req_id;
        case SEGQ_MSG_PURGE:   return msg->u.purge.req_id;
        case SEGQ_MSG_BACKUP:  return msg->u.backup.req_id;
        case SEGQ_MSG_PRIORITY: return msg->u.priority.req_id;
        case SEGQ_MSG_ARRAY:   return msg->u.array.req_id;
        case SEGQ_MSG_KINDS:   return msg->u.kinds.req_id;
        case SEGQ_MSG_PUT:     return msg->u.put.req_id;
        case SEGQ_MSG_GET:     return msg->u.get.req_id;
        default:               return 0;
    }
}

/* Who sent it (the connection's key, looked up in the certificates
   allowed now) and whether that role may send it. The user fields a
   client writes are replaced by the authenticated name. Refusals are
   answered and logged with the peer. */
static bool
s_authorize (segq_broker_t *self, zframe_t *peer, const char *peer_hex, segq_msg_t *msg)
{
    const segq__identity_t *id = segq__auth_identify (self->auth, self->sender_key);
    const char *address = self->sender_address [0] ? self->sender_address : NULL;
    if (!id) {
        const char *key = self->sender_key [0] ? self->sender_key : NULL;
        s_log (self, 0, peer_hex, "refused %s from %s: key %s is not (or no longer) allowed",
               segq_msg_type_name (msg->type), address ? address : "?", key ? key : "?");
        s_error (self, peer, s_request_id (msg), SEGQ_EAUTH, "your certificate (key %s) is not allowed on this "
                 "broker (unknown or revoked): ask the admin to add your .cert to the broker's "
                 "keys directory (certs/)", key ? key : "?");
        return false;
    }
    bool worker_msg = s_is_worker_message (msg->type) || msg->type == SEGQ_MSG_REGISTER;
    bool transfer = msg->type == SEGQ_MSG_PUT || msg->type == SEGQ_MSG_CHUNK
                 || msg->type == SEGQ_MSG_GET || msg->type == SEGQ_MSG_CREDIT;
    const char *why = NULL;
    if (worker_msg && id->role != SEGQ__ROLE_WORKER)
        why = "only worker certificates may act as workers (make one with `segqd keygen --worker "
              "NODE`)";
    else if (!worker_msg && !transfer && id->role == SEGQ__ROLE_WORKER)
        why = "a worker certificate cannot send client requests: use a user certificate "
              "(`segq keygen`)";
    else if (msg->type == SEGQ_MSG_REGISTER && msg->u.reg.node
         &&  strcmp (msg->u.reg.node, id->name) != 0)
        why = "a node registers under the name in its certificate (--node must match)";
    else if (msg->type == SEGQ_MSG_DRAIN && id->role != SEGQ__ROLE_ADMIN)
        why = "only an admin may drain a worker";
    else if (msg->type == SEGQ_MSG_BACKUP && id->role != SEGQ__ROLE_ADMIN)
        why = "only an admin may back up the broker's database";
    if (why) {
        s_log (self, 0, peer_hex, "refused %s from %s (%s %s): %s", segq_msg_type_name (msg->type),
               address ? address : "?", segq__role_name (id->role), id->name, why);
        s_error (self, peer, s_request_id (msg), SEGQ_EPERM, "permission denied for %s: %s",
                 id->name, why);
        return false;
    }
    char **user = msg->type == SEGQ_MSG_SUBMIT ? &msg->u.submit.user
                : msg->type == SEGQ_MSG_CANCEL ? &msg->u.cancel.user
                : msg->type == SEGQ_MSG_PURGE ? &msg->u.purge.user
                : msg->type == SEGQ_MSG_BACKUP ? &msg->u.backup.user
                : msg->type == SEGQ_MSG_PRIORITY ? &msg->u.priority.user
                : msg->type == SEGQ_MSG_ARRAY ? &msg->u.array.user
                : msg->type == SEGQ_MSG_GET ? &msg->u.get.user
                : msg->type == SEGQ_MSG_PUT ? &msg->u.put.user
                : msg->type == SEGQ_MSG_STATUS ? &msg->u.status.caller : NULL;
    if (user) {
        free (*user);
        *user = NULL;           /* a worker's transfers act for no user */
        if (id->role != SEGQ__ROLE_WORKER && !(*user = strdup (id->name)))
            return false;
    }
    return true;
}

static void
s_handle (segq_broker_t *self, zframe_t *peer, const char *peer_hex, segq_msg_t *msg)
{
    worker_t *w = zhashx_lookup (self->by_peer, peer_hex);
    if (w) {
        w->last_seen_mono = zclock_mono ();
        w->last_seen = s_now ();
    }
    s_log (self, 2, peer_hex, "%s", segq_msg_type_name (msg->type));
    if (self->auth && !s_authorize (self, peer, peer_hex, msg))
        return;
    if (s_is_worker_message (msg->type) && !w) {
        if (msg->type != SEGQ_MSG_BYE)
            s_error (self, peer, 0, SEGQ_ENOENT, "unknown worker: register");
        return;
    }
    switch (msg->type) {
        case SEGQ_MSG_SUBMIT:   s_on_submit (self, peer, peer_hex, &msg->u.submit); break;
        case SEGQ_MSG_STATUS:   s_on_status (self, peer, &msg->u.status); break;
        case SEGQ_MSG_CANCEL:   s_on_cancel (self, peer, peer_hex, &msg->u.cancel); break;
        case SEGQ_MSG_LOGS:     s_on_logs (self, peer, &msg->u.logs); break;
        case SEGQ_MSG_WORKERS:  s_on_workers (self, peer, &msg->u.workers); break;
        case SEGQ_MSG_KINDS:    s_on_kinds (self, peer, &msg->u.kinds); break;
        case SEGQ_MSG_DRAIN:    s_on_drain (self, peer, peer_hex, &msg->u.drain); break;
        case SEGQ_MSG_PURGE:    s_on_purge (self, peer, peer_hex, &msg->u.purge); break;
        case SEGQ_MSG_BACKUP:   s_on_backup (self, peer, peer_hex, &msg->u.backup); break;
        case SEGQ_MSG_PRIORITY: s_on_priority (self, peer, peer_hex, &msg->u.priority); break;
        case SEGQ_MSG_ARRAY:    s_on_array (self, peer, peer_hex, &msg->u.array); break;
        case SEGQ_MSG_REGISTER: s_on_register (self, peer, peer_hex, &msg->u.reg); break;
        case SEGQ_MSG_HEARTBEAT: break;
        case SEGQ_MSG_PROGRESS: s_on_progress (self, w, &msg->u.progress); break;
        case SEGQ_MSG_LOG:      s_on_log (self, w, &msg->u.log); break;
        case SEGQ_MSG_RESULT:   s_on_result (self, w, &msg->u.result); break;
        case SEGQ_MSG_CHECKPOINT: s_on_checkpoint (self, w, &msg->u.checkpoint); break;
        case SEGQ_MSG_BYE:      s_on_bye (self, w, &msg->u.bye); break;
        case SEGQ_MSG_PUT:      s_on_put (self, peer, peer_hex, w, &msg->u.put); break;
        case SEGQ_MSG_CHUNK:    s_on_chunk (self, peer, peer_hex, &msg->u.chunk); break;
        case SEGQ_MSG_GET:      s_on_get (self, peer, peer_hex, w, &msg->u.get); break;
        case SEGQ_MSG_CREDIT:   s_on_credit (self, peer_hex, &msg->u.credit); break;
        default:
            s_log (self, 0, peer_hex, "unexpected %s: dropped", segq_msg_type_name (msg->type));
            s_error (self, peer, 0, SEGQ_EPROTO, "the broker does not accept %s",
                     segq_msg_type_name (msg->type));
    }
}

static int
s_on_socket (zloop_t *loop, zsock_t *sock, void *arg)
{
    segq_broker_t *self = arg;
    int64_t started = zclock_mono (), started_us = zclock_usecs ();
    int n = 0;
    for (; n < TURN_MAX; n++) {
        /* big chunks are slow to hash and write: end the turn in time for
           heartbeats and expiry to run between turns */
        if (n > 0 && zclock_mono () - started > (int64_t) self->config.heartbeat_ms / 2)
            break;
        zframe_t *peer = NULL;
        segq_msg_t *msg = NULL;
        uint8_t version = 0;
        uint64_t req_id = 0;    /* of a request that does not decode: its ERROR echoes it */
        char err [512] = "";
        /* the socket does not block (receive timeout 0): asking it for
           events before each message would cost a system call each */
        if (n == 0 && self->auth)
            segq__auth_refresh (self->auth);
        int rc = segq__auth_recv (sock, &peer, &msg, &version, &req_id, self->sender_key,
                                  self->sender_address, err, sizeof err);
        if (!peer) {
            segq_msg_destroy (&msg);
            break;              /* nothing more there, or interrupted */
        }
        char peer_hex [PEER_HEX];
        s_peer_hex (peer, peer_hex);
        if (rc) {
            s_log (self, 0, peer_hex, "dropped a bad message: %s", err);
            if (rc == SEGQ_EVERSION)
                s_error (self, peer, req_id, SEGQ_EVERSION, "protocol version %u is not spoken "
                         "here: this broker speaks version %d", version, SEGQ_PROTO_VERSION);
            else
                s_error (self, peer, req_id, rc, "message dropped: %s", err);
        }
        else
            s_handle (self, peer, peer_hex, msg);
        segq_msg_destroy (&msg);
        zframe_destroy (&peer);
    }
    self->stats.messages += (uint64_t) n;
    self->stats.handle_us += zclock_usecs () - started_us;
    s_turn_end (self);
    int64_t took = zclock_mono () - started;
    if (took > (int64_t) self->config.heartbeat_ms)
        s_log (self, 0, NULL, "slow turn: %" PRId64 " ms for %d message(s): workers may "
               "see the broker as silent", took, n);
    return 0;
}

/* ---- timers ---- */

static int
s_on_heartbeat (zloop_t *loop, int timer_id, void *arg)
{
    segq_broker_t *self = arg;
    /* after a long turn (a big artifact's fsync) heartbeats may be waiting
       in the socket: read them before judging anyone silent */
    for (int turns = 0; turns < 8 && (zsock_events (self->router) & ZMQ_POLLIN); turns++)
        s_on_socket (loop, self->router, self);
    /* still behind: a worker's heartbeat may be among the unread messages,
       so short silence is no evidence now; only twice the expiry is */
    bool behind = (zsock_events (self->router) & ZMQ_POLLIN) != 0;
    if (behind)
        s_log (self, 1, NULL, "input backlog: workers get twice the expiry");
    int64_t now = zclock_mono ();
    /* s_worker_gone (keep) leaves by_node as it is: safe to iterate */
    for (worker_t *w = zhashx_first (self->by_node); w; w = zhashx_next (self->by_node)) {
        if (!w->peer)
            continue;
        int64_t silent = now - w->last_seen_mono;
        if (silent > (int64_t) self->config.expiry_ms * (behind ? 2 : 1)) {
            char why [300];
            snprintf (why, sizeof why, "worker %s lost (silent for %" PRId64 " ms)", w->node,
                      silent);
            s_log (self, 0, w->peer_hex, "%s", why);
            s_worker_gone (self, w, why, true);
            continue;
        }
        s_send (self, w->peer, segq_msg_new (SEGQ_MSG_HEARTBEAT), false);
    }
    int rc = segq__jobs_expire_orphans (self->jobs, s_now ());
    if (rc)
        s_broken (self, rc, "requeue of orphaned jobs");
    /* transfers whose peer went quiet */
    size_t cursor = 0;
    transfer_t *transfer;
    uint64_t *stale = NULL;
    size_t n_stale = 0;
    while ((transfer = segq__u64map_next (self->transfers, &cursor, NULL)))
        if (now - transfer->last_mono > (int64_t) self->config.expiry_ms) {
            uint64_t *grown = realloc (stale, (n_stale + 1) * sizeof *grown);
            if (!grown)
                break;
            stale = grown;
            stale [n_stale++] = transfer->id;
        }
    for (size_t i = 0; i < n_stale; i++) {
        transfer = segq__u64map_get (self->transfers, stale [i]);
        s_log (self, 1, transfer->peer_hex, "transfer %" PRIu64 " idle: dropped", transfer->id);
        s_transfer_destroy (self, &transfer);
    }
    free (stale);
    s_sweep (self);
    s_turn_end (self);
    return 0;
}

/* ---- life cycle ---- */

static int
s_mkdirs (const char *path, char *err, size_t errlen)
{
    char buffer [4096];
    snprintf (buffer, sizeof buffer, "%s", path);
    for (char *p = buffer + 1; ; p++) {
        if (*p == '/' || *p == 0) {
            char c = *p;
            *p = 0;
            if (mkdir (buffer, 0700) != 0 && errno != EEXIST) {
                snprintf (err, errlen, "cannot create %s: %s", buffer, strerror (errno));
                return SEGQ_EIO;
            }
            *p = c;
            if (!c)
                break;
        }
    }
    return 0;
}

static int
s_write_ready_file (const char *path, const char *endpoint, char *err, size_t errlen)
{
    char tmp [4200];
    snprintf (tmp, sizeof tmp, "%s.tmp", path);
    FILE *file = fopen (tmp, "w");
    if (!file || fprintf (file, "%s\n", endpoint) < 0 || fclose (file) != 0
    ||  rename (tmp, path) != 0) {
        snprintf (err, errlen, "cannot write the ready file %s: %s", path, strerror (errno));
        return SEGQ_EIO;
    }
    return 0;
}

segq_broker_t *
segq_broker_new (const segq_broker_config_t *config, char *err, size_t errlen)
{
    segq_broker_t *self = calloc (1, sizeof *self);
    if (!self) {
        snprintf (err, errlen, "out of memory");
        return NULL;
    }
    self->config = *config;
    self->backup.timer = -1;
    segq_broker_config_t *c = &self->config;
    if (!c->bind)
        c->bind = "tcp://127.0.0.1:5555";
    if (!c->heartbeat_ms)
        c->heartbeat_ms = 1000;
    if (!c->expiry_ms)
        c->expiry_ms = 5000;
    if (!c->max_msg)
        c->max_msg = SEGQ_DEFAULT_MAX_MSG;
    if (!c->chunk_size)
        c->chunk_size = SEGQ_DEFAULT_CHUNK;
    if (c->max_msg < 64 * 1024) {
        snprintf (err, errlen, "--max-msg %u is too small (at least 65536)", c->max_msg);
        goto fail;
    }
    /* a CHUNK's data frame plus its small header must stay under max_msg */
    if (c->chunk_size > c->max_msg - 4096)
        c->chunk_size = c->max_msg - 4096;
    if (!c->max_attempts)
        c->max_attempts = 3;
    if (!c->max_transfers)
        c->max_transfers = MAX_TRANSFERS;
    if (!c->max_transfers_per_peer)
        c->max_transfers_per_peer = MAX_TRANSFERS_PER_PEER;
    if (!c->max_artifact_size)
        c->max_artifact_size = MAX_ARTIFACT_SIZE;
    if (!c->keys_dir && !segq__auth_endpoint_local (c->bind)) {
        snprintf (err, errlen, "refusing to bind %s without keys: anyone who reaches it could "
                  "act as any user. Give --keys DIR (see `segqd keygen`) or bind a loopback "
                  "address (tcp://127.0.0.1:PORT)", c->bind);
        goto fail;
    }
    self->data_dir = strdup (c->data_dir ? c->data_dir : ".");
    c->data_dir = self->data_dir;
    c->ready_file = NULL;       /* not kept: written once below */
    if (!self->data_dir || s_mkdirs (self->data_dir, err, errlen))
        goto fail;
    chmod (self->data_dir, 0700);
    char db_path [4200];
    snprintf (db_path, sizeof db_path, "%s/segq.db", self->data_dir);
    umask (077);
    self->store = segq__job_store_open (db_path, err, errlen);
    if (!self->store
    ||  !(self->artifacts = segq__artifact_store_new (self->data_dir, err, errlen))
    ||  !(self->logs = segq__job_log_new (self->data_dir, err, errlen))
    ||  !(self->audit = segq__audit_new (self->data_dir, err, errlen))
    ||  !(self->access = segq__access_new (self->store, self->artifacts, err, errlen))
    ||  !(self->retention = segq__retention_new (self->store, self->artifacts, self->logs,
                                                 c->retention_s, s_now (), err, errlen)))
        goto fail;
    self->by_peer = zhashx_new ();
    self->by_node = zhashx_new ();
    self->transfers = segq__u64map_new ();
    if (!self->by_peer || !self->by_node || !self->transfers) {
        snprintf (err, errlen, "out of memory");
        goto fail;
    }
    zhashx_set_destructor (self->by_node, s_worker_destroy);
    if (s_rebuild (self, err, errlen))
        goto fail;
    self->router = zsock_new (ZMQ_ROUTER);
    if (!self->router) {
        snprintf (err, errlen, "cannot create the ZeroMQ socket");
        goto fail;
    }
    zsock_set_maxmsgsize (self->router, (int) c->max_msg);
    /* replies and assignments are bounded by the protocol (credit, the
       in-process window); a full queue must never drop one silently */
    zsock_set_sndhwm (self->router, 0);
    zsock_set_rcvhwm (self->router, 0);
    zsock_set_linger (self->router, 1000);
    zsock_set_rcvtimeo (self->router, 0);
    if (c->keys_dir
    &&  !(self->auth = segq__auth_new (c->keys_dir, self->router, c->verbose, err, errlen)))
        goto fail;
    if (zsock_bind (self->router, "%s", c->bind) < 0) {
        snprintf (err, errlen, "cannot bind %s: %s (is another segqd running there?)", c->bind,
                  zmq_strerror (zmq_errno ()));
        goto fail;
    }
    char *endpoint = zsock_last_endpoint (self->router);
    snprintf (self->endpoint, sizeof self->endpoint, "%s", endpoint ? endpoint : c->bind);
    zstr_free (&endpoint);
    self->loop = zloop_new ();
    if (!self->loop
    ||  zloop_reader (self->loop, self->router, s_on_socket, self) != 0
    ||  zloop_timer (self->loop, c->heartbeat_ms, 0, s_on_heartbeat, self) < 0) {
        snprintf (err, errlen, "cannot set up the event loop");
        goto fail;
    }
    if (config->ready_file && s_write_ready_file (config->ready_file, self->endpoint, err, errlen))
        goto fail;
    s_log (self, 0, NULL, "serving on %s, data in %s: %zu active job(s), %zu queued",
           self->endpoint, self->data_dir, segq__jobs_active (self->jobs),
           segq__sched_queued (self->sched));
    return self;
fail:
    segq_broker_destroy (&self);
    return NULL;
}

void
segq_broker_destroy (segq_broker_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    segq_broker_t *self = *self_p;
    s_backup_end (self, SEGQ_EIO, "the broker stopped before the backup was complete");
    if (self->store && segq__job_store_in_transaction (self->store)) {
        char err [512];
        if (segq__job_store_commit (self->store, err, sizeof err))
            s_log (self, 0, NULL, "%s", err);
    }
    for (size_t i = 0; i < self->n_out; i++) {
        segq_msg_destroy (&self->outbox [i].msg);
        zframe_destroy (&self->outbox [i].peer);
    }
    free (self->outbox);
    if (self->transfers) {
        size_t cursor = 0;
        transfer_t *transfer;
        while ((transfer = segq__u64map_next (self->transfers, &cursor, NULL))) {
            s_transfer_destroy (self, &transfer);
            cursor = 0;     /* the map changed */
        }
        segq__u64map_destroy (&self->transfers);
    }
    zloop_destroy (&self->loop);
    zsock_destroy (&self->router);
    segq__auth_destroy (&self->auth);
    segq__jobs_destroy (&self->jobs);
    zhashx_destroy (&self->by_peer);
    zhashx_destroy (&self->by_node);
    segq__sched_destroy (&self->sched);
    segq__retention_destroy (&self->retention);
    segq__access_destroy (&self->access);
    segq__audit_destroy (&self->audit);
    segq__job_log_destroy (&self->logs);
    segq__artifact_store_destroy (&self->artifacts);
    segq__job_store_destroy (&self->store);
    free (self->data_dir);
    free (self);
    *self_p = NULL;
}

const char *
segq_broker_endpoint (segq_broker_t *self)
{
    return self->endpoint;
}

int
segq_broker_run (segq_broker_t *self)
{
    zloop_start (self->loop);
    s_backup_end (self, SEGQ_EIO, "the broker stopped before the backup was complete");
    s_flush (self, true);
    s_log (self, 0, NULL, "stopping after %" PRIu64 " turns, %" PRIu64 " messages, %" PRIu64
           " commits (%.0f us each on average); time: %.3f s reading and handling, %.3f s "
           "dispatching, %.3f s committing, %.3f s sending", self->stats.turns,
           self->stats.messages, self->stats.commits,
           self->stats.commits ? (double) self->stats.commit_us / self->stats.commits : 0.0,
           self->stats.handle_us / 1e6, self->stats.dispatch_us / 1e6,
           self->stats.commit_us / 1e6, self->stats.send_us / 1e6);
    return 0;
}
