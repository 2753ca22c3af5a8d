/*  broker.c: segqd's reactor. One ROUTER socket, one zloop, one thread
    for all state; an upload's fsyncs and rename, and a download's reads
    from the disk, go to the offload's threads (offload.h), which hand the
    transfer back to a turn of its own.

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

    Each message is admitted first (broker_access.c: who sent it, and
    whether that sender may), then handled by the entry its type has in
    the dispatch table below; the handlers live by concern in files of
    their own (broker_internal.h lists them), and answer through
    broker_reply.c.
*/
#include "broker_internal.h"
#include "segq_hashx.h"
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define TURN_MAX               4096 /* messages handled per loop turn */
#define DISPATCH_MAX           8192 /* assignments per loop turn */
#define MAX_TRANSFERS          256  /* clients' transfers open at once, all together ... */
#define MAX_TRANSFERS_PER_PEER 16   /* ... and from one connection */
#define MAX_ARTIFACT_SIZE      ((uint64_t) 64 << 30)
/* Threads waiting on the disk for transfers (offload.h): not the CPU, and
   a disk takes concurrent fsyncs and reads together; as many as a client
   or a worker keeps transfers in flight (libsegq, segq-worker) */
#define DISK_THREADS 8

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

/* ---- jobs' transitions ---- */

/* Every transition of a job (jobs.h): counted for the metrics, and an end
   wakes the STATUS requests waiting for it once the turn has committed. */
static void
s_job_changed (void *arg, const segq__job_t *job, int from, int to, double now)
{
    segq_broker_t *self = arg;
    if (self->metrics)
        segq__metrics_job_changed (self->metrics, job, from, to, now);
    if (segq_job_state_final ((segq_job_state_t) to))
        self->job_ended = true;
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
    if (self->sched) {
        segq__sched_set_half_life (self->sched, segq__broker_half_life (self));
        segq__sched_set_now (self->sched, segq__broker_now ());
    }
    segq__jobs_config_t config = {
        .max_attempts = self->config.max_attempts,
        .time_limit_s = self->config.default_time_limit_s,
        .orphan_grace_s = self->config.expiry_ms / 1000.0,
        .limits = self->config.limits,
        .observe = s_job_changed,
        .observer = self,
    };
    self->jobs =
        self->sched ? segq__jobs_new (self->store, self->sched, self->artifacts, &config) : NULL;
    int rc = self->jobs ? 0 : SEGQ_ENOMEM;
    if (rc)
        snprintf (err, errlen, "out of memory");
    if (rc == 0
        && (rc = segq__accounting_charge_past (self->store, self->sched,
                                               segq__broker_half_life (self))))
        snprintf (err, errlen, "cannot read the accounting of past runs: %s", segq_strerror (rc));
    for (worker_t *w = zhashx_first (self->by_node); w && rc == 0; w = zhashx_next (self->by_node))
        if (w->peer && !(w->sched_node = segq__broker_worker_sched_node (self, w)))
            rc = SEGQ_ENOMEM;
    if (rc == 0)
        rc = segq__jobs_load (self->jobs, segq__broker_now (), err, errlen);
    if (rc == 0) {
        /* running jobs of workers still connected stay theirs */
        segq__job_t **orphans;
        size_t n = segq__jobs_orphans (self->jobs, &orphans);
        for (size_t i = n; i-- > 0;) {
            segq__job_t *job = orphans [i];
            worker_t *w = zhashx_lookup (self->by_node, job->orphan_node);
            if (w && w->sched_node) {
                segq__sched_adopt (self->sched, &job->sched, w->sched_node, job->sched.gpu);
                segq__jobs_adopt (self->jobs, job);
            }
        }
        rc = segq__job_store_commit (self->store, err, errlen);
    }
    /* what reached the disk, counted anew (metrics.h); a metric is no
       reason to stop the broker */
    char why [512];
    if (rc == 0 && segq__metrics_recount (self->metrics, self->store, why, sizeof why) != 0)
        segq__broker_log (self, 0, NULL, "%s: segq_jobs is off until segqd restarts", why);
    return rc;
}

/* ---- the end of a turn: dispatch, commit, send ---- */

static void
s_turn_end (segq_broker_t *self)
{
    int64_t before = zclock_usecs ();
    if (!self->broken)
        segq__sched_dispatch (self->sched, DISPATCH_MAX, segq__broker_assign, self);
    char err [512] = "";
    bool writes = segq__job_store_in_transaction (self->store);
    int64_t dispatched = zclock_usecs ();
    int rc =
        self->broken ? self->broken_code : segq__job_store_commit (self->store, err, sizeof err);
    int64_t committed = zclock_usecs ();
    self->stats.turns++;
    self->stats.commits += writes;
    self->stats.dispatch_us += dispatched - before;
    self->stats.commit_us += committed - dispatched;
    if (writes && rc == 0)
        segq__metrics_commit (self->metrics, (double) (committed - dispatched) / 1e6);
    if (rc) {
        if (*err)
            segq__broker_log (self, 0, NULL, "%s", err);
        if (!self->broken_code)
            self->broken_code = rc;
        segq__job_store_rollback (self->store);
        segq__retention_rolled_back (self->retention);
        segq__audit_drop (self->audit);
        segq__broker_flush (self, false);
        self->job_ended = false; /* rolled back: nothing ended */
        char rebuild_err [512] = "";
        int rebuilt = s_rebuild (self, rebuild_err, sizeof rebuild_err);
        if (rebuilt) {
            /* memory and disk may disagree now: stopping is the only safe move */
            segq__broker_log (self, 0, NULL,
                              "cannot rebuild the state from the database: %s: "
                              "stopping",
                              rebuild_err);
            zsys_interrupted = 1;
        } else
            segq__broker_log (self, 0, NULL, "state rebuilt from the database after a failed turn");
    } else {
        if (writes) {
            /* committed is durable: the purged files may go now */
            self->commit_no++;
            segq__retention_committed (self->retention, self->commit_no);
            segq__retention_synced (self->retention, self->commit_no);
        }
        segq__audit_flush (self->audit);
        segq__broker_flush (self, true);
        if (self->job_ended) {
            self->job_ended = false;
            segq__broker_waiters_wake (self);
        }
    }
    self->stats.send_us += zclock_usecs () - committed;
    self->broken = false;
    self->broken_code = 0;
}

/* ---- dispatch of one message ---- */

/* Every type a peer may send (the route table, segq_msg_route.c, says
   who) has its handler here, and no other type does: test_dispatch.c
   checks that the two tables agree. */
static const segq__dispatch_t s_dispatch [] = {
    [SEGQ_MSG_SUBMIT] = { .handle = segq__broker_on_submit },
    [SEGQ_MSG_STATUS] = { .handle = segq__broker_on_status },
    [SEGQ_MSG_CANCEL] = { .handle = segq__broker_on_cancel },
    [SEGQ_MSG_LOGS] = { .handle = segq__broker_on_logs },
    [SEGQ_MSG_WORKERS] = { .handle = segq__broker_on_workers },
    [SEGQ_MSG_KINDS] = { .handle = segq__broker_on_kinds },
    [SEGQ_MSG_MODEL] = { .handle = segq__broker_on_model },
    [SEGQ_MSG_PRIORITY] = { .handle = segq__broker_on_priority },
    [SEGQ_MSG_HOLD] = { .handle = segq__broker_on_hold },
    [SEGQ_MSG_USAGE] = { .handle = segq__broker_on_usage },
    [SEGQ_MSG_ARRAY] = { .handle = segq__broker_on_array },
    [SEGQ_MSG_DRAIN] = { .handle = segq__broker_on_drain, .act = "drain a worker" },
    [SEGQ_MSG_PURGE] = { .handle = segq__broker_on_purge },
    [SEGQ_MSG_BACKUP] = { .handle = segq__broker_on_backup,
                          .act = "back up the broker's database" },
    [SEGQ_MSG_REGISTER] = { .handle = segq__broker_on_register },
    [SEGQ_MSG_HEARTBEAT] = { .handle = segq__broker_on_heartbeat },
    [SEGQ_MSG_PROGRESS] = { .handle = segq__broker_on_progress },
    [SEGQ_MSG_LOG] = { .handle = segq__broker_on_log },
    [SEGQ_MSG_RESULT] = { .handle = segq__broker_on_result },
    [SEGQ_MSG_CHECKPOINT] = { .handle = segq__broker_on_checkpoint },
    [SEGQ_MSG_BYE] = { .handle = segq__broker_on_bye },
    [SEGQ_MSG_PUT] = { .handle = segq__broker_on_put },
    [SEGQ_MSG_CHUNK] = { .handle = segq__broker_on_chunk },
    [SEGQ_MSG_GET] = { .handle = segq__broker_on_get },
    [SEGQ_MSG_CREDIT] = { .handle = segq__broker_on_credit },
};

const segq__dispatch_t *
segq__broker_dispatch (segq_msg_type_t type)
{
    size_t i = (size_t) type;
    return i < sizeof s_dispatch / sizeof s_dispatch [0] && s_dispatch [i].handle ? &s_dispatch [i]
                                                                                  : NULL;
}

static void
s_handle (segq_broker_t *self, zframe_t *peer, const char *peer_hex, segq_msg_t *msg)
{
    worker_t *w = zhashx_lookup (self->by_peer, peer_hex);
    if (w) {
        w->last_seen_mono = zclock_mono ();
        w->last_seen = segq__broker_now ();
    }
    segq__broker_log (self, 2, peer_hex, "%s", segq_msg_type_name (msg->type));
    segq__request_t req = { peer, peer_hex, w, msg };
    const segq__dispatch_t *entry = segq__broker_dispatch (msg->type);
    if (segq__broker_admit (self, &req, entry))
        entry->handle (self, &req);
}

static int
s_on_socket (zloop_t *loop, zsock_t *sock, void *arg)
{
    segq_broker_t *self = arg;
    int64_t started = zclock_mono (), started_us = zclock_usecs ();
    /* runs that end in this turn are charged to fair share as of now */
    segq__sched_set_now (self->sched, segq__broker_now ());
    int n = 0;
    for (; n < TURN_MAX; n++) {
        /* big chunks are slow to hash and write: end the turn in time for
           heartbeats and expiry to run between turns */
        if (n > 0 && zclock_mono () - started > (int64_t) self->config.heartbeat_ms / 2)
            break;
        zframe_t *peer = NULL;
        segq_msg_t *msg = NULL;
        uint8_t version = 0;
        uint64_t req_id = 0; /* of a request that does not decode: its ERROR echoes it */
        char err [512] = "";
        /* the socket does not block (receive timeout 0): asking it for
           events before each message would cost a system call each */
        if (n == 0 && self->auth)
            segq__auth_refresh (self->auth);
        int rc = segq__auth_recv (sock, &peer, &msg, &version, &req_id, self->sender_key,
                                  self->sender_address, err, sizeof err);
        if (!peer) {
            segq_msg_destroy (&msg);
            break; /* nothing more there, or interrupted */
        }
        char peer_hex [PEER_HEX];
        s_peer_hex (peer, peer_hex);
        if (rc) {
            segq__broker_log (self, 0, peer_hex, "dropped a bad message: %s", err);
            if (rc == SEGQ_EVERSION)
                segq__broker_error (self, peer, req_id, SEGQ_EVERSION,
                                    "protocol version %u is "
                                    "not spoken here: this broker speaks version %d",
                                    version, SEGQ_PROTO_VERSION);
            else
                segq__broker_error (self, peer, req_id, rc, "message dropped: %s", err);
        } else
            s_handle (self, peer, peer_hex, msg);
        segq_msg_destroy (&msg);
        zframe_destroy (&peer);
    }
    self->stats.messages += (uint64_t) n;
    self->stats.handle_us += zclock_usecs () - started_us;
    s_turn_end (self);
    int64_t took = zclock_mono () - started;
    if (took > (int64_t) self->config.heartbeat_ms)
        segq__broker_log (self, 0, NULL,
                          "slow turn: %" PRId64 " ms for %d message(s): workers "
                          "may see the broker as silent",
                          took, n);
    return 0;
}

/* A reload was asked (SIGHUP, through segqd's signalfd): drain the fd,
   then re-read the limits between turns. */
static int
s_on_reload (zloop_t *loop, zmq_pollitem_t *item, void *arg)
{
    (void) loop;
    char drain [512];
    while (read (item->fd, drain, sizeof drain) > 0)
        ;
    segq__broker_reload (arg);
    return 0;
}

/* Transfers back from the offload's threads (an upload finished, a chunk
   read): each goes on in a turn of its own, committed as a turn of
   messages is. */
static int
s_on_offloaded (zloop_t *loop, zmq_pollitem_t *item, void *arg)
{
    (void) loop;
    (void) item;
    segq_broker_t *self = arg;
    segq__sched_set_now (self->sched, segq__broker_now ());
    segq__offload_deliver (self->offload);
    s_turn_end (self);
    return 0;
}

/* Downloads that waited for ZeroMQ to write out their peer's chunks go on
   (broker_transfer.c), in a turn of their own. */
static int
s_on_room (zloop_t *loop, zmq_pollitem_t *item, void *arg)
{
    (void) loop;
    (void) item;
    segq_broker_t *self = arg;
    segq__broker_transfers_resume (self);
    s_turn_end (self);
    return 0;
}

/* ---- timers ---- */

static int
s_on_heartbeat (zloop_t *loop, int timer_id, void *arg)
{
    segq_broker_t *self = arg;
    segq__sched_set_now (self->sched, segq__broker_now ());
    /* after a long turn (big chunks hashed and written) heartbeats may be waiting
       in the socket: read them before judging anyone silent */
    for (int turns = 0; turns < 8 && (zsock_events (self->router) & ZMQ_POLLIN); turns++)
        s_on_socket (loop, self->router, self);
    /* still behind: a worker's heartbeat may be among the unread messages,
       so short silence is no evidence now; only twice the expiry is */
    bool behind = (zsock_events (self->router) & ZMQ_POLLIN) != 0;
    if (behind)
        segq__broker_log (self, 1, NULL, "input backlog: workers get twice the expiry");
    int64_t now = zclock_mono ();
    /* segq__broker_worker_gone (keep) leaves by_node as it is: safe to iterate */
    for (worker_t *w = zhashx_first (self->by_node); w; w = zhashx_next (self->by_node)) {
        if (!w->peer)
            continue;
        int64_t silent = now - w->last_seen_mono;
        if (silent > (int64_t) self->config.expiry_ms * (behind ? 2 : 1)) {
            char why [300];
            snprintf (why, sizeof why, "worker %s lost (silent for %" PRId64 " ms)", w->node,
                      silent);
            segq__broker_log (self, 0, w->peer_hex, "%s", why);
            segq__broker_worker_gone (self, w, why, true);
            continue;
        }
        segq__broker_send (self, w->peer, segq_msg_new (SEGQ_MSG_HEARTBEAT), false);
    }
    int rc = segq__jobs_expire_orphans (self->jobs, segq__broker_now ());
    if (rc)
        segq__broker_broken (self, rc, "requeue of orphaned jobs");
    /* transfers whose peer went quiet */
    segq__broker_transfers_expire (self, now);
    segq__broker_sweep (self);
    s_turn_end (self);
    return 0;
}

/* ---- life cycle ---- */

static int
s_mkdirs (const char *path, char *err, size_t errlen)
{
    char buffer [4096];
    snprintf (buffer, sizeof buffer, "%s", path);
    for (char *p = buffer + 1;; p++) {
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
        || rename (tmp, path) != 0) {
        snprintf (err, errlen, "cannot write the ready file %s: %s", path, strerror (errno));
        return SEGQ_EIO;
    }
    return 0;
}

/* The configuration's defaults, and what no setting may be: 0, or
   SEGQ_EINVAL with why. */
static int
s_settle_config (segq_broker_config_t *c, char *err, size_t errlen)
{
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
        return SEGQ_EINVAL;
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
        snprintf (err, errlen,
                  "refusing to bind %s without keys: anyone who reaches it could "
                  "act as any user. Give --keys DIR (see `segqd keygen`) or bind a loopback "
                  "address (tcp://127.0.0.1:PORT)",
                  c->bind);
        return SEGQ_EINVAL;
    }
    return 0;
}

/* models.c's check of a share's users: the certificates name them. */
static bool
s_knows_user (void *auth, const char *user)
{
    return segq__auth_knows_user (auth, user);
}

/* The data folder and everything kept in it, then the in-memory state
   rebuilt from the database. */
static int
s_open_stores (segq_broker_t *self, char *err, size_t errlen)
{
    segq_broker_config_t *c = &self->config;
    self->data_dir = strdup (c->data_dir ? c->data_dir : ".");
    c->data_dir = self->data_dir;
    c->ready_file = NULL; /* not kept: written once when serving */
    if (!self->data_dir || s_mkdirs (self->data_dir, err, errlen))
        return -1;
    /* patient data: a folder made by hand or an older segqd must not stay
       readable by others */
    if (chmod (self->data_dir, 0700) != 0) {
        snprintf (err, errlen,
                  "cannot make the data folder %s private (chmod 0700): %s; make it owned by "
                  "segqd's user",
                  self->data_dir, strerror (errno));
        return -1;
    }
    char db_path [4200];
    snprintf (db_path, sizeof db_path, "%s/segq.db", self->data_dir);
    umask (077);
    self->store = segq__job_store_open (db_path, err, errlen);
    if (!self->store || !(self->artifacts = segq__artifact_store_new (self->data_dir, err, errlen))
        || !(self->logs = segq__job_log_new (self->data_dir, err, errlen))
        || !(self->audit = segq__audit_new (self->data_dir, err, errlen))
        || !(self->access = segq__access_new (self->store, self->artifacts, err, errlen))
        || !(self->models = segq__models_new (self->store, err, errlen))
        || !(self->offload = segq__offload_new (DISK_THREADS, err, errlen))
        || !(self->retention =
                 segq__retention_new (self->store, self->artifacts, self->logs, c->retention_s,
                                      segq__broker_now (), err, errlen)))
        return -1;
    self->by_peer = segq_hashx_new ();
    self->by_node = segq_hashx_new ();
    self->transfers = segq__u64map_new ();
    if (!self->by_peer || !self->by_node || !self->transfers) {
        snprintf (err, errlen, "out of memory");
        return -1;
    }
    zhashx_set_destructor (self->by_node, segq__broker_worker_destroy);
    return s_rebuild (self, err, errlen) ? -1 : 0;
}

/* The ROUTER socket, with keys if configured, bound. */
static int
s_bind (segq_broker_t *self, char *err, size_t errlen)
{
    segq_broker_config_t *c = &self->config;
    self->router = zsock_new (ZMQ_ROUTER);
    if (!self->router) {
        snprintf (err, errlen, "cannot create the ZeroMQ socket");
        return -1;
    }
    zsock_set_maxmsgsize (self->router, (int) c->max_msg);
    /* replies and assignments are bounded by the protocol (credit, the
       in-process window); a full queue must never drop one silently */
    zsock_set_sndhwm (self->router, 0);
    zsock_set_rcvhwm (self->router, 0);
    zsock_set_linger (self->router, 1000);
    zsock_set_rcvtimeo (self->router, 0);
    if (c->keys_dir
        && !(self->auth = segq__auth_new (c->keys_dir, self->router, c->verbose, err, errlen)))
        return -1;
    if (self->auth)
        segq__models_set_users (self->models, s_knows_user, self->auth);
    if (zsock_bind (self->router, "%s", c->bind) < 0) {
        snprintf (err, errlen, "cannot bind %s: %s (is another segqd running there?)", c->bind,
                  zmq_strerror (zmq_errno ()));
        return -1;
    }
    char *endpoint = zsock_last_endpoint (self->router);
    snprintf (self->endpoint, sizeof self->endpoint, "%s", endpoint ? endpoint : c->bind);
    zstr_free (&endpoint);
    return 0;
}

/* The HTTP listener (http.h) in the loop; the artifact store counted now
   rather than at the first scrape, which would stall a turn. */
static int
s_serve_http (segq_broker_t *self, char *err, size_t errlen)
{
    segq_broker_config_t *c = &self->config;
    segq__http_config_t http = { .listen = c->http,
                                 .cert = c->http_cert,
                                 .key = c->http_key,
                                 .tokens = c->http_tokens,
                                 .keys = c->keys_dir != NULL };
    uint64_t files, bytes;
    segq__artifact_store_totals (self->artifacts, &files, &bytes);
    int rc = segq__http_new (self, self->loop, &http, &self->http, err, errlen);
    if (rc)
        return rc;
    segq__broker_log (self, 0, NULL, "HTTP on %s: status page /, metrics /metrics",
                      segq__http_url (self->http));
    return 0;
}

segq_broker_t *
segq_broker_new (const segq_broker_config_t *config, char *err, size_t errlen)
{
    segq_broker_t *self = calloc (1, sizeof *self);
    if (!self) {
        snprintf (err, errlen, "out of memory");
        errno = ENOMEM;
        return NULL;
    }
    int rc = SEGQ_ENOMEM;
    self->config = *config;
    self->given = config->limits;
    self->backup.timer = -1;
    /* before the stores: the jobs they load are counted (s_rebuild) */
    if (config->http && !(self->metrics = segq__metrics_new ())) {
        snprintf (err, errlen, "out of memory");
        goto fail;
    }
    if ((rc = s_settle_config (&self->config, err, errlen)) != 0)
        goto fail;
    rc = SEGQ_EIO; /* from here on, what fails is no setting */
    if (s_open_stores (self, err, errlen) || s_bind (self, err, errlen))
        goto fail;
    self->loop = zloop_new ();
    int room_fd = -1;
    if (!self->loop || segq__broker_waiters_init (self) != 0
        || (room_fd = segq__broker_transfers_init (self)) < 0
        || zloop_poller (self->loop, &(zmq_pollitem_t){ .fd = room_fd, .events = ZMQ_POLLIN },
                         s_on_room, self)
               != 0
        || zloop_reader (self->loop, self->router, s_on_socket, self) != 0
        || zloop_timer (self->loop, self->config.heartbeat_ms, 0, s_on_heartbeat, self) < 0
        || zloop_poller (
               self->loop,
               &(zmq_pollitem_t){ .fd = segq__offload_fd (self->offload), .events = ZMQ_POLLIN },
               s_on_offloaded, self)
               != 0
        || (self->config.reload_fd > 0
            && zloop_poller (
                   self->loop,
                   &(zmq_pollitem_t){ .fd = self->config.reload_fd, .events = ZMQ_POLLIN },
                   s_on_reload, self)
                   != 0)) {
        snprintf (err, errlen, "cannot set up the event loop");
        goto fail;
    }
    if (config->http && (rc = s_serve_http (self, err, errlen)) != 0)
        goto fail;
    rc = SEGQ_EIO;
    if (config->ready_file && s_write_ready_file (config->ready_file, self->endpoint, err, errlen))
        goto fail;
    segq__broker_log (self, 0, NULL, "serving on %s, data in %s: %zu active job(s), %zu queued",
                      self->endpoint, self->data_dir, segq__jobs_active (self->jobs),
                      segq__sched_queued (self->sched));
    return self;
fail:
    segq_broker_destroy (&self);
    /* settings a restart cannot mend (segqd exits 2 for them), or not */
    errno = rc == SEGQ_EINVAL || rc == SEGQ_EUNSUPPORTED ? EINVAL
            : rc == SEGQ_ENOMEM                          ? ENOMEM
                                                         : EIO;
    return NULL;
}

void
segq_broker_destroy (segq_broker_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    segq_broker_t *self = *self_p;
    segq__broker_backup_end (self, SEGQ_EIO, "the broker stopped before the backup was complete");
    if (self->store && segq__job_store_in_transaction (self->store)) {
        char err [512];
        if (segq__job_store_commit (self->store, err, sizeof err))
            segq__broker_log (self, 0, NULL, "%s", err);
    }
    for (size_t i = 0; i < self->n_out; i++) {
        segq_msg_destroy (&self->outbox [i].msg);
        zframe_destroy (&self->outbox [i].peer);
    }
    free (self->outbox);
    segq__offload_destroy (&self->offload); /* before the transfers it finishes */
    if (self->transfers) {
        segq__broker_transfers_close (self);
        segq__u64map_destroy (&self->transfers);
    }
    segq__http_destroy (&self->http);    /* its poller and timer are the loop's */
    segq__broker_waiters_destroy (self); /* their timers too */
    zloop_destroy (&self->loop);
    zsock_destroy (&self->router);
    segq__auth_destroy (&self->auth);
    segq__jobs_destroy (&self->jobs);
    segq__metrics_destroy (&self->metrics);
    zhashx_destroy (&self->by_peer);
    zhashx_destroy (&self->by_node);
    segq__sched_destroy (&self->sched);
    segq__retention_destroy (&self->retention);
    segq__access_destroy (&self->access);
    segq__models_destroy (&self->models);
    segq__audit_destroy (&self->audit);
    segq__job_log_destroy (&self->logs);
    segq__artifact_store_destroy (&self->artifacts);
    segq__job_store_destroy (&self->store);
    segq_config_destroy (&self->reloaded);
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
    segq__broker_backup_end (self, SEGQ_EIO, "the broker stopped before the backup was complete");
    segq__broker_flush (self, true);
    segq__broker_log (self, 0, NULL,
                      "stopping after %" PRIu64 " turns, %" PRIu64 " messages, %" PRIu64
                      " commits (%.0f us each on average); time: %.3f s reading and "
                      "handling, %.3f s dispatching, %.3f s committing, %.3f s sending",
                      self->stats.turns, self->stats.messages, self->stats.commits,
                      self->stats.commits ? (double) self->stats.commit_us / self->stats.commits
                                          : 0.0,
                      self->stats.handle_us / 1e6, self->stats.dispatch_us / 1e6,
                      self->stats.commit_us / 1e6, self->stats.send_us / 1e6);
    return 0;
}
