/*  broker_transfer.c: artifacts in (PUT, CHUNK) and out (GET, CREDIT).

    An artifact moves in chunks under credit: the receiver says how many
    it takes at a time, so neither side buffers more than that. An upload
    goes to a temporary file and is kept (content-addressed) once its hash
    checks out; a download reads the stored file. Every transfer holds a
    file open, so clients' are bounded, per connection, per user and all
    together, and one idle for the expiry is dropped. What a sender may
    upload or fetch is the access rule's to say (access.h): knowing a hash
    is no right to its data.

    Credit is what a receiver says it has written, not proof that it
    reads: one that grants credit and never reads would have every chunk
    queued in ZeroMQ for it, in our memory. So a download's chunk is
    counted from its read until ZeroMQ has written it to the connection
    (or dropped it with the connection): its data goes to ZeroMQ as it is,
    and ZeroMQ hands it back to s_chunk_written from its I/O thread. A
    download sends only while its peer has less than PEER_QUEUED bytes
    counted, and a client's while its user has less than USER_QUEUED and
    all clients less than CLIENTS_QUEUED; otherwise it waits (stalls)
    until a chunk written makes room, which an eventfd tells the broker's
    loop. Nothing is dropped: a stalled download just goes on later. */
#include "broker_internal.h"
#include <errno.h>
#include <inttypes.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <unistd.h>

#define DEFAULT_CREDIT 8 /* chunks a sender may have in flight */
/* Bytes of downloads' chunks read and not yet written to the connection,
   beyond which no more are read: for one peer (libsegq keeps 8 chunks of
   1 MiB in flight, a worker up to 8 fetches; past a few MiB queued, more
   adds no speed, only memory) ... */
#define PEER_QUEUED ((size_t) 8 << 20)
/* ... and for all clients together (registered workers' are apart, so
   clients that do not read cannot hold up the workers' fetches) ... */
#define CLIENTS_QUEUED ((size_t) 512 << 20)
/* ... and for one user's connections, however many: a user who does not
   read holds up only their own downloads, never the lab's. */
#define USER_QUEUED (CLIENTS_QUEUED / 4)

/* The count shared with ZeroMQ's I/O threads, which may release a chunk
   after the broker has gone (its socket's linger): counted references. */
struct segq__sent {
    atomic_int refs;
    int fd;                /* eventfd: a stalled download may go on */
    atomic_size_t clients; /* bytes of clients' chunks held */
    atomic_bool stalled;   /* a client's download waits for `clients` to fall */
};

/* One peer's (or one user's) chunks held; in sent_by_peer (sent_by_user)
   while it has a download open or bytes held. */
typedef struct {
    atomic_int refs;
    atomic_size_t bytes;
    atomic_bool stalled; /* one of its downloads waits for `bytes` to fall */
    segq__sent_t *sent;  /* a reference */
} queue_t;

/* A chunk's data, from its read to its release (s_chunk_written). */
typedef struct {
    queue_t *queue; /* its peer's count, a reference */
    queue_t *user;  /* its user's, a reference; NULL for a worker's (not a client's) */
    size_t size;
    uint8_t data [];
} chunk_t;

typedef enum { STALL_NONE, STALL_PEER, STALL_USER, STALL_CLIENTS } stall_t;

typedef enum { XFER_PUT, XFER_GET } xfer_kind_t;

typedef struct {
    uint64_t id;
    xfer_kind_t kind;
    char peer_hex [PEER_HEX];
    zframe_t *peer;
    uint64_t req_id;
    int64_t last_mono;
    char *name;
    char who [SEGQ_MAX_NAME + 1]; /* the user, or a worker's node: whose share of the
                                     limits a client's takes; an upload's, once stored */
    bool uploader_is_node;
    segq__upload_t *upload;     /* PUT */
    segq__download_t *download; /* GET */
    uint64_t offset;            /* GET: next byte to send; PUT: bytes written */
    uint64_t size;              /* PUT: the size declared */
    uint32_t credit;            /* GET: chunks the receiver accepts now */
    queue_t *queue;             /* GET: its peer's chunks held, a reference */
    queue_t *user_queue;        /* GET: its user's, a reference; NULL for a worker's */
    stall_t stall;              /* GET: waiting for room, whose */
    bool client;                /* not a registered worker's: counts against the limits */
    /* The offload has the transfer's file: a PUT with all chunks in is
       finishing (s_finish_work), a GET reading a chunk from the disk
       (s_read_work). Expiry leaves it alone, and a stray CHUNK of a PUT
       finds no transfer. */
    bool offloaded;
    segq_broker_t *broker; /* its own, for the offload's callbacks */
    struct {
        char end_hash [SEGQ_HASH_HEX_LEN + 1]; /* the last CHUNK's */
        char stored [SEGQ_HASH_HEX_LEN + 1];
        int rc;
        char err [512];
    } finish;
    struct {
        chunk_t *data; /* the chunk being read */
        int64_t got;
    } read;
} transfer_t;

/* ---- chunks held, and room for more ---- */

static void
s_sent_unref (segq__sent_t *sent)
{
    if (sent && atomic_fetch_sub (&sent->refs, 1) == 1) {
        if (sent->fd >= 0)
            close (sent->fd);
        free (sent);
    }
}

static void
s_queue_unref (queue_t **queue_p)
{
    queue_t *queue = *queue_p;
    if (queue && atomic_fetch_sub (&queue->refs, 1) == 1) {
        s_sent_unref (queue->sent);
        free (queue);
    }
    *queue_p = NULL;
}

/* sent_by_peer's destructor */
static void
s_queue_drop (void **item)
{
    s_queue_unref ((queue_t **) item);
}

/* Whether taking size bytes off the count brings it under limit while a
   download waits for that. */
static bool
s_release (atomic_size_t *bytes, size_t size, size_t limit, atomic_bool *stalled)
{
    return atomic_fetch_sub (bytes, size) - size < limit && atomic_exchange (stalled, false);
}

/* A chunk released (ZeroMQ's free function, on its I/O thread, or ours
   for a chunk that was not sent): its bytes no longer held, and the
   broker's loop woken if a download waits for that room. */
static void
s_chunk_written (void *data, void *hint)
{
    (void) data;
    chunk_t *chunk = hint;
    queue_t *queue = chunk->queue;
    segq__sent_t *sent = queue->sent;
    size_t size = chunk->size;
    bool wake = s_release (&queue->bytes, size, PEER_QUEUED, &queue->stalled);
    if (chunk->user && s_release (&chunk->user->bytes, size, USER_QUEUED, &chunk->user->stalled))
        wake = true;
    if (chunk->user && s_release (&sent->clients, size, CLIENTS_QUEUED, &sent->stalled))
        wake = true;
    uint64_t one = 1;
    /* an eventfd's write fails only when its count would overflow, and
       then it is readable anyway */
    if (wake && write (sent->fd, &one, sizeof one) != sizeof one && errno != EAGAIN)
        fprintf (stderr, "segqd: cannot wake the loop for stalled downloads: %s\n",
                 strerror (errno));
    s_queue_unref (&queue);
    s_queue_unref (&chunk->user);
    free (chunk);
}

/* size bytes for the transfer's next chunk, counted as held; NULL if
   out of memory. */
static chunk_t *
s_chunk_new (transfer_t *transfer, size_t size)
{
    chunk_t *chunk = malloc (sizeof *chunk + size);
    if (!chunk)
        return NULL;
    chunk->queue = transfer->queue;
    chunk->user = transfer->user_queue;
    chunk->size = size;
    atomic_fetch_add (&chunk->queue->refs, 1);
    atomic_fetch_add (&chunk->queue->bytes, size);
    if (chunk->user) {
        atomic_fetch_add (&chunk->user->refs, 1);
        atomic_fetch_add (&chunk->user->bytes, size);
        atomic_fetch_add (&chunk->queue->sent->clients, size);
    }
    return chunk;
}

/* Whether the bytes counted (a peer's or all clients') are under limit;
   if not, the flag asks the chunk written that brings them under to wake
   the loop. The count is read again after setting it: a chunk written in
   between saw no flag. */
static bool
s_under (atomic_size_t *bytes, size_t limit, atomic_bool *stalled)
{
    if (atomic_load (bytes) < limit)
        return true;
    atomic_store (stalled, true);
    return atomic_load (bytes) < limit;
}

/* Whether the download may read and send another chunk now; if not, it
   stalls until s_chunk_written makes room. */
static bool
s_room (transfer_t *transfer)
{
    queue_t *queue = transfer->queue;
    segq__sent_t *sent = queue->sent;
    transfer->stall = STALL_NONE;
    queue_t *user = transfer->user_queue;
    if (!s_under (&queue->bytes, PEER_QUEUED, &queue->stalled))
        transfer->stall = STALL_PEER;
    else if (user && !s_under (&user->bytes, USER_QUEUED, &user->stalled))
        transfer->stall = STALL_USER;
    else if (transfer->client && !s_under (&sent->clients, CLIENTS_QUEUED, &sent->stalled))
        transfer->stall = STALL_CLIENTS;
    return transfer->stall == STALL_NONE;
}

/* The count of a peer or user (key) in map (a reference), made on its
   first download. */
static queue_t *
s_queue_of (segq_broker_t *self, zhashx_t *map, const char *key)
{
    queue_t *queue = zhashx_lookup (map, key);
    if (!queue) {
        if (!(queue = calloc (1, sizeof *queue)))
            return NULL;
        atomic_init (&queue->refs, 1); /* the map's */
        queue->sent = self->sent;
        atomic_fetch_add (&self->sent->refs, 1);
        if (zhashx_insert (map, key, queue) != 0) {
            s_queue_unref (&queue);
            return NULL;
        }
    }
    atomic_fetch_add (&queue->refs, 1);
    return queue;
}

int
segq__broker_transfers_init (segq_broker_t *self)
{
    if (!(self->sent = calloc (1, sizeof *self->sent)))
        return -1;
    atomic_init (&self->sent->refs, 1); /* the broker's */
    self->sent->fd = eventfd (0, EFD_NONBLOCK | EFD_CLOEXEC);
    if (!(self->sent_by_peer = zhashx_new ()) || !(self->sent_by_user = zhashx_new ()))
        return -1;
    zhashx_set_destructor (self->sent_by_peer, s_queue_drop);
    zhashx_set_destructor (self->sent_by_user, s_queue_drop);
    return self->sent->fd;
}

/* Peers (users) with nothing held and no download open (the map's
   reference the only one left) are forgotten. Only this thread adds
   references. */
static void
s_queues_sweep (zhashx_t *map)
{
    zlistx_t *idle = zlistx_new ();
    if (!idle)
        return; /* next time */
    zlistx_set_destructor (idle, (zlistx_destructor_fn *) zstr_free);
    for (queue_t *queue = zhashx_first (map); queue; queue = zhashx_next (map))
        if (atomic_load (&queue->refs) == 1) {
            char *key = strdup (zhashx_cursor (map));
            if (!key || !zlistx_add_end (idle, key)) {
                free (key);
                break;
            }
        }
    for (char *key = zlistx_first (idle); key; key = zlistx_next (idle))
        zhashx_delete (map, key);
    zlistx_destroy (&idle);
}

/* ---- transfers ---- */

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
    if (transfer->read.data)
        s_chunk_written (NULL, transfer->read.data);
    s_queue_unref (&transfer->queue);
    s_queue_unref (&transfer->user_queue);
    zframe_destroy (&transfer->peer);
    free (transfer->name);
    free (transfer);
    *transfer_p = NULL;
}

/* A transfer for the peer, who: the user or worker node it is for. */
static transfer_t *
s_transfer_new (segq_broker_t *self, xfer_kind_t kind, zframe_t *peer, const char *peer_hex,
                const char *who, uint64_t req_id, const char *name)
{
    transfer_t *transfer = calloc (1, sizeof *transfer);
    if (!transfer)
        return NULL;
    transfer->id = ++self->next_transfer;
    transfer->broker = self;
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
    snprintf (transfer->who, sizeof transfer->who, "%s", who ? who : "");
    self->client_transfers += transfer->client;
    return transfer;
}

void
segq__broker_transfers_expire (segq_broker_t *self, int64_t now)
{
    size_t cursor = 0;
    transfer_t *transfer;
    uint64_t *stale = NULL;
    size_t n_stale = 0;
    /* a download waiting for other users' chunks to be written waits
       on the broker, not on its peer or user: it is not idle */
    while ((transfer = segq__u64map_next (self->transfers, &cursor, NULL)))
        if (!transfer->offloaded && transfer->stall != STALL_CLIENTS
            && now - transfer->last_mono > (int64_t) self->config.expiry_ms) {
            uint64_t *grown = realloc (stale, (n_stale + 1) * sizeof *grown);
            if (!grown)
                break;
            stale = grown;
            stale [n_stale++] = transfer->id;
        }
    for (size_t i = 0; i < n_stale; i++) {
        transfer = segq__u64map_get (self->transfers, stale [i]);
        segq__broker_log (self, 1, transfer->peer_hex, "transfer %" PRIu64 " idle: dropped",
                          transfer->id);
        s_transfer_destroy (self, &transfer);
    }
    free (stale);
    s_queues_sweep (self->sent_by_peer);
    s_queues_sweep (self->sent_by_user);
}

void
segq__broker_transfers_close (segq_broker_t *self)
{
    size_t cursor = 0;
    transfer_t *transfer;
    while ((transfer = segq__u64map_next (self->transfers, &cursor, NULL))) {
        s_transfer_destroy (self, &transfer);
        cursor = 0; /* the map changed */
    }
    zhashx_destroy (&self->sent_by_peer);
    zhashx_destroy (&self->sent_by_user);
    s_sent_unref (self->sent); /* ZeroMQ may still hold chunks: they keep it */
    self->sent = NULL;
}

void
segq__broker_transfers_count (segq_broker_t *self, size_t open [2][2], size_t *disk_wait)
{
    memset (open, 0, 2 * sizeof open [0]);
    *disk_wait = 0;
    size_t cursor = 0;
    transfer_t *transfer;
    while ((transfer = segq__u64map_next (self->transfers, &cursor, NULL))) {
        open [!transfer->client][transfer->kind == XFER_GET]++;
        *disk_wait += transfer->offloaded;
    }
}

/* What registered worker w may hold open (SPEC 10.5): its uploads for
   each job it runs, and for one more (an attempt the broker has ended but
   the worker still uploads for until it hears so), and its fetches. */
static size_t
s_worker_transfer_limit (const worker_t *w)
{
    size_t jobs = 1;
    for (segq__sched_job_t *sj = w->sched_node ? segq__sched_node_running (w->sched_node) : NULL;
         sj; sj = sj->next)
        jobs++;
    return jobs * SEGQ_WORKER_UPLOADS_PER_JOB + SEGQ_WORKER_FETCHES;
}

/* The transfers one user's clients may hold open together, however many
   connections they use: a quarter of all clients', so one user cannot
   take them all, and never less than one connection's. */
static size_t
s_user_transfer_limit (const segq_broker_t *self)
{
    uint32_t quarter = self->config.max_transfers / 4;
    return quarter > self->config.max_transfers_per_peer ? quarter
                                                         : self->config.max_transfers_per_peer;
}

/* Whether the sender may open one more transfer: 0, or ELIMIT with why.
   Each holds a file open (an upload a temporary file too, and a buffer
   once data comes), so every peer's are bounded: a client's per
   connection, per user (who names it) and all clients' together; a
   registered worker's (w) by the jobs the broker gave it, apart from the
   clients', which cannot crowd out the workers' fetches and uploads. */
static int
s_transfer_admit (segq_broker_t *self, worker_t *w, const char *peer_hex, const char *user,
                  char *why, size_t len)
{
    if (!w && self->client_transfers >= self->config.max_transfers) {
        snprintf (why, len,
                  "the broker has %zu transfers open, its limit (max-transfers %u): "
                  "retry in a moment",
                  self->client_transfers, self->config.max_transfers);
        return SEGQ_ELIMIT;
    }
    size_t mine = 0, users = 0, cursor = 0;
    transfer_t *transfer;
    while ((transfer = segq__u64map_next (self->transfers, &cursor, NULL))) {
        mine += transfer->client == !w && strcmp (transfer->peer_hex, peer_hex) == 0;
        users += !w && transfer->client && strcmp (transfer->who, user ? user : "") == 0;
    }
    size_t limit = w ? s_worker_transfer_limit (w) : self->config.max_transfers_per_peer;
    if (w && mine >= limit)
        snprintf (why, len,
                  "worker %s has %zu transfers open, as many as the jobs it runs allow "
                  "(%d uploads a job, %d fetches): retry once one has ended",
                  w->node, mine, SEGQ_WORKER_UPLOADS_PER_JOB, SEGQ_WORKER_FETCHES);
    else if (mine >= limit)
        snprintf (why, len,
                  "%zu transfers are open on this connection, the broker's limit "
                  "(max-transfers-per-peer %u): end one first (an idle one is dropped after "
                  "%u ms)",
                  mine, self->config.max_transfers_per_peer, self->config.expiry_ms);
    else if (!w && users >= s_user_transfer_limit (self))
        snprintf (why, len,
                  "user %s has %zu transfers open, a user's share of the broker's (a quarter "
                  "of max-transfers %u): retry once one has ended",
                  user ? user : "", users, self->config.max_transfers);
    else
        return 0;
    return SEGQ_ELIMIT;
}

/* A worker certificate that has not registered gets nothing (SPEC 15):
   its transfers are for the jobs the broker gives it. EPERM with why. */
static int
s_register_first (const char *what, char *why, size_t len)
{
    snprintf (why, len, "a worker %s only for jobs assigned to it: register first", what);
    return SEGQ_EPERM;
}

/* Bytes the open uploads declared and have not written yet: the disk's
   free space is theirs already. */
static uint64_t
s_put_reserved (segq_broker_t *self)
{
    uint64_t reserved = 0;
    size_t cursor = 0;
    transfer_t *transfer;
    while ((transfer = segq__u64map_next (self->transfers, &cursor, NULL)))
        if (transfer->kind == XFER_PUT && transfer->size > transfer->offset)
            reserved += transfer->size - transfer->offset;
    return reserved;
}

/* Whether the broker takes an upload of put->size bytes: within its
   largest artifact and its disk's free space less what the open uploads
   are still to write, and a transfer to spare. 0, or ETOOBIG, ENOSPC or
   ELIMIT with why. */
static int
s_put_admit (segq_broker_t *self, worker_t *w, const char *peer_hex, const segq_put_t *put,
             char *why, size_t len)
{
    uint64_t free_bytes;
    if (put->size > self->config.max_artifact_size) {
        snprintf (why, len,
                  "%" PRIu64 " bytes is over the broker's largest artifact "
                  "(max-artifact-size, %" PRIu64 " bytes)",
                  put->size, self->config.max_artifact_size);
        return SEGQ_ETOOBIG;
    }
    uint64_t reserved = s_put_reserved (self);
    if (segq__artifact_store_free (self->artifacts, &free_bytes) == 0
        && (put->size > free_bytes || reserved > free_bytes - put->size)) {
        snprintf (why, len,
                  "%" PRIu64 " bytes do not fit in the %" PRIu64 " bytes free on the "
                  "broker's disk, %" PRIu64 " of them taken by uploads under way: retry "
                  "once they are done, or ask its admin to make room",
                  put->size, free_bytes, reserved);
        return SEGQ_ENOSPC;
    }
    return s_transfer_admit (self, w, peer_hex, put->user, why, len);
}

/* Sends the CHUNK message with the chunk as its data frame, handed to
   ZeroMQ as it is: ZeroMQ releases it (s_chunk_written) once written to
   the connection, or dropped with it. */
static void
s_send_zero_copy (segq_broker_t *self, transfer_t *transfer, segq_msg_t *msg, chunk_t *chunk)
{
    zmsg_t *frames = NULL;
    zmq_msg_t data;
    msg->u.chunk.data = zframe_new_empty (); /* its place: the chunk goes instead */
    int rc = msg->u.chunk.data ? segq_msg_encode (msg, &frames) : SEGQ_ENOMEM;
    segq_msg_destroy (&msg);
    if (rc == 0 && zmq_msg_init_data (&data, chunk->data, chunk->size, s_chunk_written, chunk)) {
        s_chunk_written (NULL, chunk);
        rc = SEGQ_ENOMEM;
    } else if (rc)
        s_chunk_written (NULL, chunk);
    zframe_t *header = frames ? zmsg_pop (frames) : NULL;
    zframe_t *body = frames ? zmsg_pop (frames) : NULL;
    void *router = zsock_resolve (self->router);
    if (rc == 0
        && (zframe_send (&transfer->peer, self->router, ZFRAME_REUSE | ZFRAME_MORE) != 0
            || zframe_send (&header, self->router, ZFRAME_MORE) != 0
            || zframe_send (&body, self->router, ZFRAME_MORE) != 0
            || zmq_msg_send (&data, router, 0) < 0))
        rc = SEGQ_EUNAVAIL;
    if (rc == SEGQ_EUNAVAIL)
        zmq_msg_close (&data); /* not sent: released now */
    if (rc)
        segq__broker_log (self, 2, transfer->peer_hex, "send of a chunk failed: %s",
                          segq_strerror (rc));
    zframe_destroy (&header);
    zframe_destroy (&body);
    zmsg_destroy (&frames);
}

/* Sends the chunk read at the transfer's offset (got of its size bytes
   read, or a negative code), or aborts the transfer if it could not be
   read. True while the transfer goes on. */
static bool
s_send_chunk (segq_broker_t *self, transfer_t *transfer, chunk_t *chunk, int64_t got)
{
    uint64_t size = segq__download_size (transfer->download);
    size_t n = chunk ? chunk->size : 0;
    segq_msg_t *msg = chunk && got == (int64_t) n ? segq_msg_new (SEGQ_MSG_CHUNK) : NULL;
    if (!msg) {
        if (chunk)
            s_chunk_written (NULL, chunk);
        segq__broker_log (self, 0, transfer->peer_hex,
                          "cannot read artifact for transfer %" PRIu64 " at %" PRIu64 ": aborted",
                          transfer->id, transfer->offset);
        segq__broker_error (self, transfer->peer, transfer->req_id, SEGQ_EIO,
                            "the broker could not read the artifact: transfer %" PRIu64 " aborted",
                            transfer->id);
        s_transfer_destroy (self, &transfer);
        return false;
    }
    msg->u.chunk.transfer = transfer->id;
    msg->u.chunk.offset = transfer->offset;
    msg->u.chunk.last = transfer->offset + n >= size;
    transfer->offset += n;
    transfer->credit--;
    bool last = msg->u.chunk.last;
    s_send_zero_copy (self, transfer, msg, chunk);
    if (last)
        s_transfer_destroy (self, &transfer);
    return !last;
}

static bool s_read_offloaded (segq_broker_t *self, transfer_t *transfer, chunk_t *chunk);

/* Sends GET chunks while the receiver has credit and ZeroMQ room for
   them: those in memory at once, one the disk must be waited for read on
   the offload first. */
static void
s_pump (segq_broker_t *self, transfer_t *transfer)
{
    uint64_t size = segq__download_size (transfer->download);
    bool more = true;
    while (more && transfer->credit > 0 && !transfer->offloaded && s_room (transfer)) {
        uint64_t left = size - transfer->offset;
        size_t n = left < self->config.chunk_size ? (size_t) left : self->config.chunk_size;
        chunk_t *chunk = s_chunk_new (transfer, n);
        bool would_wait = false;
        int64_t got = chunk ? segq__download_read_cached (transfer->download, transfer->offset,
                                                          chunk->data, n, &would_wait)
                            : SEGQ_ENOMEM;
        if (would_wait && s_read_offloaded (self, transfer, chunk))
            return;     /* s_read_done goes on */
        if (would_wait) /* the offload cannot take it: wait here */
            got = segq__download_read (transfer->download, transfer->offset, chunk->data, n);
        more = s_send_chunk (self, transfer, chunk, got);
    }
}

/* On an offload thread: a chunk read from the disk. */
static void
s_read_work (void *arg)
{
    transfer_t *transfer = arg;
    chunk_t *chunk = transfer->read.data;
    transfer->read.got =
        segq__download_read (transfer->download, transfer->offset, chunk->data, chunk->size);
}

/* On the broker's thread: the chunk is sent, and the credit left used. */
static void
s_read_done (void *arg)
{
    transfer_t *transfer = arg;
    segq_broker_t *self = transfer->broker;
    chunk_t *chunk = transfer->read.data;
    transfer->read.data = NULL;
    transfer->offloaded = false;
    transfer->last_mono = zclock_mono (); /* it was busy, not idle */
    if (s_send_chunk (self, transfer, chunk, transfer->read.got))
        s_pump (self, transfer);
}

/* Hands the read of the chunk to the offload; false (the chunk still the
   caller's) if it cannot take it. */
static bool
s_read_offloaded (segq_broker_t *self, transfer_t *transfer, chunk_t *chunk)
{
    transfer->read.data = chunk;
    transfer->offloaded = true;
    if (segq__offload_run (self->offload, s_read_work, s_read_done, transfer) == 0)
        return true;
    transfer->read.data = NULL;
    transfer->offloaded = false;
    return false;
}

void
segq__broker_transfers_resume (segq_broker_t *self)
{
    uint64_t count;
    if (read (self->sent->fd, &count, sizeof count) != sizeof count && errno != EAGAIN)
        segq__broker_log (self, 0, NULL, "cannot read the stalled downloads' eventfd: %s",
                          strerror (errno));
    size_t cursor = 0, n = 0;
    transfer_t *transfer;
    uint64_t *stalled = NULL;
    while ((transfer = segq__u64map_next (self->transfers, &cursor, NULL)))
        if (transfer->stall != STALL_NONE) {
            uint64_t *grown = realloc (stalled, (n + 1) * sizeof *grown);
            if (!grown)
                break; /* those left are woken by the next chunk written */
            stalled = grown;
            stalled [n++] = transfer->id;
        }
    /* each pump may end its own transfer, and only its own */
    for (size_t i = 0; i < n; i++) {
        transfer = segq__u64map_get (self->transfers, stalled [i]);
        if (!s_room (transfer))
            continue; /* its peer still reads nothing: still idle */
        transfer->last_mono = zclock_mono ();
        s_pump (self, transfer);
    }
    free (stalled);
}

/* May the sender skip sending content the store has? Only if it could
   read it anyway: else naming a hash would be a way to get its data. */
static bool
s_may_skip_upload (segq_broker_t *self, worker_t *w, bool by_worker, const segq_put_t *put)
{
    if (by_worker)
        return w && segq__access_worker_input (self->access, w->node, put->hash);
    segq__caller_t caller = segq__broker_caller (self, put->user);
    return segq__access_hash (self->access, &caller, put->hash);
}

void
segq__broker_on_put (segq_broker_t *self, segq__request_t *req)
{
    const segq_put_t *put = &req->msg->u.put;
    zframe_t *peer = req->peer;
    const char *peer_hex = req->peer_hex;
    worker_t *w = req->worker;
    bool by_worker = segq__broker_sender_is_worker (self, w);
    char why [512];
    int code = by_worker && !w ? s_register_first ("uploads", why, sizeof why)
                               : s_put_admit (self, w, peer_hex, put, why, sizeof why);
    if (code) {
        /* a flood of PUTs over the limits does not flood the log */
        segq__broker_log (self, code == SEGQ_ELIMIT ? 1 : 0, peer_hex, "PUT %s refused: %s",
                          put->name ? put->name : "", why);
        segq__broker_error (self, peer, put->req_id, code, "upload refused: %s", why);
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
        && size == put->size && s_may_skip_upload (self, w, by_worker, put)) {
        reply->u.put_ready.have = true;
        segq__broker_send (self, peer, reply, false);
        return;
    }
    char err [512];
    /* the admission step has put the certificate's name in `user` (keys) */
    const char *who = by_worker ? w ? w->node : NULL : put->user;
    transfer_t *transfer =
        s_transfer_new (self, XFER_PUT, peer, peer_hex, who, put->req_id, put->name);
    if (transfer)
        transfer->upload =
            segq__artifact_store_upload (self->artifacts, put->hash, put->size, err, sizeof err);
    else
        snprintf (err, sizeof err, "out of memory");
    if (!transfer || !transfer->upload) {
        segq_msg_destroy (&reply);
        segq__broker_log (self, 0, peer_hex, "PUT %s refused: %s",
                          put->hash [0] ? put->hash : "(hash at the end)", err);
        segq__broker_error (self, peer, put->req_id, SEGQ_EIO, "upload refused: %s", err);
        s_transfer_destroy (self, &transfer);
        return;
    }
    transfer->uploader_is_node = by_worker;
    transfer->size = put->size;
    reply->u.put_ready.transfer = transfer->id;
    reply->u.put_ready.credit = DEFAULT_CREDIT;
    segq__broker_send (self, peer, reply, false);
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
        segq__broker_send (self, transfer->peer, msg, code == 0 && transfer->who [0]);
    }
    if (code < 0)
        self->refused_transfers [self->n_refused++ % 64] = transfer->id;
    s_transfer_destroy (self, &transfer);
}

static transfer_t *
s_peer_transfer (segq_broker_t *self, uint64_t id, const char *peer_hex, xfer_kind_t kind)
{
    transfer_t *transfer = segq__u64map_get (self->transfers, id);
    if (!transfer || transfer->kind != kind || strcmp (transfer->peer_hex, peer_hex) != 0
        || (kind == XFER_PUT && transfer->offloaded))
        return NULL;
    transfer->last_mono = zclock_mono ();
    return transfer;
}

/* An upload's end: recorded as its uploader's and answered. */
static void
s_upload_end (segq_broker_t *self, transfer_t *transfer, int rc, const char *err)
{
    const char *stored = transfer->finish.stored;
    if (rc == 0 && transfer->who [0]
        && (rc = segq__access_uploaded (self->access,
                                        transfer->uploader_is_node ? NULL : transfer->who,
                                        transfer->who, stored))) {
        segq__broker_broken (self, rc, "recording an upload");
        snprintf (transfer->finish.err, sizeof transfer->finish.err,
                  "the broker could not record the upload: %s", segq_strerror (rc));
        err = transfer->finish.err;
    }
    if (rc)
        segq__broker_log (self, 0, transfer->peer_hex, "upload %" PRIu64 " failed: %s",
                          transfer->id, err);
    else
        segq__broker_log (self, 2, transfer->peer_hex, "stored artifact %s (%.16s)",
                          transfer->name ? transfer->name : "", stored);
    s_put_done (self, transfer, rc, rc ? err : NULL);
}

/* On an offload thread: the upload's checks, fsyncs and rename. */
static void
s_finish_work (void *arg)
{
    transfer_t *transfer = arg;
    transfer->finish.rc =
        segq__upload_finish (transfer->upload, transfer->finish.end_hash, transfer->finish.stored,
                             transfer->finish.err, sizeof transfer->finish.err);
}

/* On the broker's thread, from the offload (broker.c): the upload is ours again. */
static void
s_finish_done (void *arg)
{
    transfer_t *transfer = arg;
    transfer->offloaded = false;
    segq_broker_t *self = transfer->broker;
    s_upload_end (self, transfer, transfer->finish.rc, transfer->finish.err);
}

/* Every chunk is in: the upload's last steps wait on the disk, so they
   run on the offload and the broker serves others meanwhile (here, if it
   cannot hand them over). */
static void
s_finish (segq_broker_t *self, transfer_t *transfer, const char *end_hash)
{
    snprintf (transfer->finish.end_hash, sizeof transfer->finish.end_hash, "%s",
              end_hash ? end_hash : "");
    transfer->offloaded = true;
    if (segq__offload_run (self->offload, s_finish_work, s_finish_done, transfer) != 0) {
        s_finish_work (transfer);
        s_finish_done (transfer);
    }
}

void
segq__broker_on_chunk (segq_broker_t *self, segq__request_t *req)
{
    segq_chunk_t *chunk = &req->msg->u.chunk;
    zframe_t *peer = req->peer;
    const char *peer_hex = req->peer_hex;
    transfer_t *transfer = s_peer_transfer (self, chunk->transfer, peer_hex, XFER_PUT);
    if (!transfer) {
        bool refused = false;
        for (size_t i = 0; i < 64 && i < self->n_refused && !refused; i++)
            refused = self->refused_transfers [i] == chunk->transfer;
        segq__broker_log (self, 1, peer_hex, "CHUNK for %s transfer %" PRIu64 ": dropped",
                          refused ? "refused" : "unknown", chunk->transfer);
        if (!refused)
            segq__broker_error (self, peer, 0, SEGQ_ENOENT,
                                "unknown transfer %" PRIu64 " (expired or finished)",
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
            segq__broker_send_at_once (self, peer, credit);
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
    if (rc) {
        s_upload_end (self, transfer, rc, err);
        return;
    }
    transfer->offset += size;
    if (chunk->last)
        s_finish (self, transfer, chunk->hash);
}

/* A client's GET of a job's output, by the access rule. */
static int
s_may_get_job (segq_broker_t *self, const segq_get_t *get, uint64_t number, char *refusal,
               size_t len)
{
    segq__caller_t caller = segq__broker_caller (self, get->user);
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
s_get_job_output (segq_broker_t *self, const segq_get_t *get, bool worker, segq_artifact_t *output,
                  char *refusal, size_t len)
{
    uint64_t number = segq__job_id_parse (get->job);
    segq__job_brief_t brief;
    char purged [256];
    int rc = number ? segq__job_store_brief (self->store, number, &brief) : SEGQ_ENOENT;
    if (rc) {
        segq__job_unknown (get->job, refusal, len);
        return rc;
    }
    if (!worker && (rc = s_may_get_job (self, get, number, refusal, len)))
        return rc;
    if (segq__retention_purged (self->retention, number, purged, sizeof purged)) {
        snprintf (refusal, len,
                  "the outputs of job %s were %s: they are gone (run the job "
                  "again to get them back)",
                  get->job, purged);
        return SEGQ_ENOENT;
    }
    rc = get->name ? segq__job_store_output (self->store, number, get->name, output) : SEGQ_EINVAL;
    if (rc)
        snprintf (refusal, len, "job %s has no output '%s'", get->job, get->name ? get->name : "");
    return rc == SEGQ_EINVAL || rc == 0 ? rc : SEGQ_ENOENT;
}

/* What a GET may fetch: a client, a job's output it may read (never a bare
   hash); a worker, an input of a job assigned to it. Its hash into hash
   (SEGQ_HASH_HEX_LEN + 1), or a refusal. */
static int
s_get_allowed (segq_broker_t *self, const segq__request_t *req, segq_artifact_t *output, char *hash,
               char *refusal, size_t len)
{
    const segq_get_t *get = &req->msg->u.get;
    worker_t *w = req->worker;
    bool worker = segq__broker_sender_is_worker (self, w);
    snprintf (hash, SEGQ_HASH_HEX_LEN + 1, "%s", get->hash);
    if (worker && !w)
        return s_register_first ("fetches inputs", refusal, len);
    if (get->job) {
        int rc = s_get_job_output (self, get, worker, output, refusal, len);
        snprintf (hash, SEGQ_HASH_HEX_LEN + 1, "%s", output->hash);
        if (rc)
            return rc;
    } else if (!worker) {
        /* knowing a hash is no right to its data */
        snprintf (refusal, len,
                  "fetching an artifact by its hash is not allowed: "
                  "fetch a job's output by job and name (segq fetch JOB NAME)");
        return SEGQ_EPERM;
    }
    if (worker && !segq__access_worker_input (self->access, w->node, hash)) {
        snprintf (refusal, len, "%s %s is not an input of a job running on worker %s",
                  get->job ? "that output of job" : "artifact", get->job ? get->job : hash,
                  w->node);
        return SEGQ_EPERM;
    }
    return s_transfer_admit (self, w, req->peer_hex, get->user, refusal, len);
}

/* The download of an allowed GET: its transfer opened and GET_READY sent
   ahead of its chunks; the reason on failure. */
static int
s_get_start (segq_broker_t *self, const segq__request_t *req, const char *hash, json_t *event,
             char *err, size_t errlen)
{
    const segq_get_t *get = &req->msg->u.get;
    segq__download_t *download = segq__artifact_store_download (self->artifacts, hash, err, errlen);
    transfer_t *transfer = download ? s_transfer_new (self, XFER_GET, req->peer, req->peer_hex,
                                                      req->worker ? req->worker->node : get->user,
                                                      get->req_id, get->name)
                                    : NULL;
    if (transfer)
        transfer->queue = s_queue_of (self, self->sent_by_peer, req->peer_hex);
    if (transfer && transfer->client)
        transfer->user_queue = s_queue_of (self, self->sent_by_user, transfer->who);
    bool counted = transfer && transfer->queue && (!transfer->client || transfer->user_queue);
    segq_msg_t *reply = counted ? segq_msg_new (SEGQ_MSG_GET_READY) : NULL;
    if (!reply) {
        if (download)
            snprintf (err, errlen, "out of memory");
        if (transfer)
            s_transfer_destroy (self, &transfer);
        else
            segq__download_destroy (&download);
        return download ? SEGQ_ENOMEM : SEGQ_ENOENT;
    }
    if (event)
        json_object_set_new (event, "size",
                             json_integer ((json_int_t) segq__download_size (download)));
    transfer->download = download;
    transfer->credit = get->credit ? get->credit : DEFAULT_CREDIT;
    reply->u.get_ready.req_id = get->req_id;
    reply->u.get_ready.transfer = transfer->id;
    snprintf (reply->u.get_ready.hash, sizeof reply->u.get_ready.hash, "%s", hash);
    reply->u.get_ready.size = segq__download_size (download);
    reply->u.get_ready.name = get->name ? strdup (get->name) : NULL;
    reply->u.get_ready.chunk_size = self->config.chunk_size;
    segq__broker_send_at_once (self, req->peer, reply); /* ahead of its chunks */
    s_pump (self, transfer);
    return 0;
}

void
segq__broker_on_get (segq_broker_t *self, segq__request_t *req)
{
    const segq_get_t *get = &req->msg->u.get;
    json_t *event = segq__broker_audit_event (
        self, "fetch", req->worker ? req->worker->node : get->user, req->peer_hex);
    segq__broker_audit_set (event, "job", get->job);
    segq__broker_audit_set (event, "name", get->name);
    segq_artifact_t output = { 0 };
    char hash [SEGQ_HASH_HEX_LEN + 1], why [600] = "";
    int code = s_get_allowed (self, req, &output, hash, why, sizeof why);
    segq_artifact_clear (&output);
    if (code == SEGQ_EPERM)
        segq__broker_log (self, 0, req->peer_hex, "refused GET: %s", why);
    if (code == 0) {
        segq__broker_audit_set (event, "hash", hash);
        code = s_get_start (self, req, hash, event, why, sizeof why);
    }
    if (code)
        segq__broker_error (self, req->peer, get->req_id, code, "%s", why);
    segq__broker_audit_end (self, &event, code ? why : NULL, false);
}

void
segq__broker_on_credit (segq_broker_t *self, segq__request_t *req)
{
    const segq_credit_t *credit = &req->msg->u.credit;
    transfer_t *transfer = s_peer_transfer (self, credit->transfer, req->peer_hex, XFER_GET);
    if (!transfer)
        return; /* a late credit after the last chunk: nothing to do */
    uint64_t sum = (uint64_t) transfer->credit + credit->chunks;
    transfer->credit = sum > 1024 ? 1024 : (uint32_t) sum;
    s_pump (self, transfer);
}
