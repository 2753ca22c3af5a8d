/*  broker_internal.h: what the pieces of segqd's reactor share (not installed).

    broker.c owns the loop: it reads a message, asks broker_access.c who
    sent it and whether that sender may, and hands it to the handler its
    type has in the dispatch table. The handlers live by concern:
      broker_client.c    SUBMIT STATUS CANCEL LOGS WORKERS KINDS PRIORITY ARRAY
      broker_usage.c     USAGE HOLD
      broker_models.c    MODEL
      broker_admin.c     DRAIN PURGE BACKUP
      broker_worker.c    REGISTER HEARTBEAT PROGRESS LOG RESULT CHECKPOINT BYE
      broker_transfer.c  PUT CHUNK GET CREDIT
    with broker_waiters.c (STATUS waits) and broker_kinds.c (the KINDS
    table) behind them. They answer, log and audit through
    broker_reply.c; none of them reaches into broker.c. */
#ifndef SEGQ_BROKER_INTERNAL_H
#define SEGQ_BROKER_INTERNAL_H

#include "segq_broker.h"
#include "access.h"
#include "accounting.h"
#include "artifact_store.h"
#include "audit.h"
#include "auth.h"
#include "backup.h"
#include "generate_check.h"
#include "http.h"
#include "job_log.h"
#include "job_store.h"
#include "jobs.h"
#include "metrics.h"
#include "models.h"
#include "offload.h"
#include "retention.h"
#include "scheduler.h"
#include "segq_proto.h"
#include "u64map.h"
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define PEER_HEX 64

typedef struct worker {
    char *node;
    zframe_t *peer; /* routing id, NULL once gone */
    char peer_hex [PEER_HEX];
    segq__sched_node_t *sched_node; /* NULL once gone */
    segq_worker_state_t state;
    int64_t last_seen_mono; /* ms */
    double last_seen;       /* unix seconds, for display */
    uint32_t cpu_slots;
    segq_gpu_t *gpus;
    size_t n_gpus;
    char **kinds;
    size_t n_kinds;
    uint64_t kinds_mask;
    char *instance;    /* REGISTER inst: the daemon behind the name, or NULL */
    char address [64]; /* where it connected from, "" unknown (no keys) */
} worker_t;

typedef struct {
    zframe_t *peer;
    segq_msg_t *msg;
    bool durable; /* only true if the turn's commit succeeds */
} outgoing_t;

typedef struct segq__waiter segq__waiter_t; /* broker_waiters.c */
typedef struct segq__sent segq__sent_t;     /* broker_transfer.c */

struct segq_broker {
    segq_broker_config_t config;
    char *data_dir;
    char endpoint [256];
    zsock_t *router;
    zloop_t *loop;
    segq__job_store_t *store;
    segq__artifact_store_t *artifacts;
    segq__offload_t *offload; /* transfers' waits on the disk (broker_transfer.c) */
    segq__job_log_t *logs;
    segq__sched_t *sched;
    segq__jobs_t *jobs;
    zhashx_t *by_peer;         /* peer hex -> worker_t (not owned) */
    zhashx_t *by_node;         /* node -> worker_t (owned) */
    segq__u64map_t *transfers; /* id -> transfer (broker_transfer.c) */
    uint64_t next_transfer;
    size_t client_transfers; /* of them, those of clients (not a registered worker's) */
    /* uploads refused midway: the chunks their senders had in flight are
       dropped quietly (an ERROR with no request id would land on the
       sender's next request instead) */
    uint64_t refused_transfers [64];
    size_t n_refused;
    /* downloads' chunks ZeroMQ holds unwritten, all together (shared with
       its threads), by peer hex and by user (segq__sent_t): what a peer
       or user that does not read can make us hold is bounded */
    segq__sent_t *sent;
    zhashx_t *sent_by_peer;
    zhashx_t *sent_by_user;
    outgoing_t *outbox;
    size_t n_out, cap_out;
    segq__waiter_t **waiters; /* STATUS requests waiting for a job's end */
    size_t n_waiters;
    bool job_ended;     /* in this turn: wake the waiters after its commit */
    uint64_t commit_no; /* commits made (retention's queue counts them) */
    struct {            /* totals since start, logged at stop */
        uint64_t turns, messages, commits;
        int64_t handle_us, dispatch_us, commit_us, send_us;
    } stats;
    bool broken; /* a write failed this turn: roll back */
    int broken_code;
    segq__auth_t *auth;   /* NULL: no keys (loopback only) */
    char sender_key [64]; /* of the message being handled (CurveZMQ) */
    char sender_address [64];
    segq__retention_t *retention;
    segq__access_t *access;
    segq__models_t *models;
    segq__audit_t *audit;
    segq__metrics_t *metrics; /* NULL without --http */
    segq__http_t *http;       /* NULL without --http */
    segq_config_t *reloaded;  /* the configuration re-read on SIGHUP (limits point here),
                                 or NULL: still the one given */
    const segq_config_t *given; /* the configuration segqd started with (NULL: none) */
    struct {                  /* the backup in progress, if any */
        segq__backup_t *copy;
        zframe_t *peer;
        uint64_t req_id;
        int timer;
        json_t *event; /* its audit event, written when it ends */
    } backup;
};

/* ---- one message and its handler ---- */

/* The message being handled and who sent it. */
typedef struct {
    zframe_t *peer;
    const char *peer_hex;
    worker_t *worker; /* the registered worker on that connection, or NULL */
    segq_msg_t *msg;
} segq__request_t;

typedef void (segq__handler_fn) (segq_broker_t *self, segq__request_t *req);

/* A row of the dispatch table (broker.c), by message type. */
typedef struct {
    segq__handler_fn *handle;
    const char *act; /* an admin's act, in words: "only an admin may ACT" */
} segq__dispatch_t;

/* The row of a type the broker handles, or NULL. */
const segq__dispatch_t *segq__broker_dispatch (segq_msg_type_t type);

/* ---- broker_access.c: who sent the message being handled ---- */

/* Whether the message may be handled (entry: its dispatch row, NULL if
   the broker has no handler for it); a refusal is answered and logged. */
bool segq__broker_admit (segq_broker_t *self, segq__request_t *req, const segq__dispatch_t *entry);
/* The sender's certificate, or NULL without keys. */
const segq__identity_t *segq__broker_sender (segq_broker_t *self);
bool segq__broker_sender_is_admin (segq_broker_t *self);
bool segq__broker_sender_is_worker (segq_broker_t *self, worker_t *w);
/* Who the message acts for, for the access rule (access.h). */
segq__caller_t segq__broker_caller (segq_broker_t *self, const char *claimed);

/* ---- broker_reply.c: answers, the log and the audit trail ---- */

double segq__broker_now (void);
/* Fair share's half-life as configured (0: past usage does not count). */
double segq__broker_half_life (const segq_broker_t *self);
/* USAGE's rows (accounting.h), by user with fair share's figure beside
   each; free each key and the array. */
int segq__broker_usage (segq_broker_t *self, const segq_usage_t *request, segq_usage_row_t **rows,
                        size_t *n_rows, char *err, size_t errlen);
/* Re-reads the configuration file's per-user limits and kinds' default
   resources (SIGHUP); on a bad file keeps the old ones and says why. */
void segq__broker_reload (segq_broker_t *self);
/* To stderr if level <= verbose; peer: its hex id, or NULL. */
void segq__broker_log (segq_broker_t *self, int level, const char *peer, const char *format, ...)
    __attribute__ ((format (printf, 4, 5)));
/* Into the turn's outbox (takes msg); durable: promises what the commit stores. */
void segq__broker_send (segq_broker_t *self, zframe_t *peer, segq_msg_t *msg, bool durable);
/* Now, ahead of the outbox (takes msg): transfer traffic that promises nothing. */
void segq__broker_send_at_once (segq_broker_t *self, zframe_t *peer, segq_msg_t *msg);
void segq__broker_error (segq_broker_t *self, zframe_t *peer, uint64_t req_id, int code,
                         const char *format, ...) __attribute__ ((format (printf, 5, 6)));
/* Whether a CANCEL, HOLD or PURGE names at most SEGQ_JOB_LIST_MAX jobs,
   each once: a peer's one message must not cost the loop (and the audit
   log, a line per job) without bound; else the refusal is answered. */
bool segq__broker_job_list_ok (segq_broker_t *self, zframe_t *peer, uint64_t req_id,
                               const char *what, char *const *jobs, size_t n);
/* Sends the outbox; committed false: the turn failed. */
void segq__broker_flush (segq_broker_t *self, bool committed);
void segq__broker_broken (segq_broker_t *self, int code, const char *what);
/* Whether rc means the turn's writes cannot stand: the store failed, or
   ESTATE, a transition the job state machine refuses midway (memory out
   of step with the store). Where ESTATE is a refusal made before any
   write (cancel of an ended job, a reference to a failed one), the caller
   leaves it out. */
bool segq__broker_store_error (int rc);
json_t *segq__broker_audit_event (segq_broker_t *self, const char *action, const char *claimed,
                                  const char *peer_hex);
void segq__broker_audit_set (json_t *event, const char *key, const char *value);
void segq__broker_audit_end (segq_broker_t *self, json_t **event_p, const char *reason, bool held);

/* ---- broker_worker.c: workers and the jobs they run ---- */

void segq__broker_worker_destroy (void **item);
segq__sched_node_t *segq__broker_worker_sched_node (segq_broker_t *self, worker_t *w);
/* keep: stays in by_node (listed as lost) */
void segq__broker_worker_gone (segq_broker_t *self, worker_t *w, const char *why, bool keep);
/* The scheduler's callback: sends job sj to node's worker (ASSIGN). */
void segq__broker_assign (void *arg, segq__sched_job_t *sj, segq__sched_node_t *node, int32_t gpu);
void segq__broker_abort (segq_broker_t *self, worker_t *w, const char *job, uint32_t attempt,
                         const char *reason);
segq__handler_fn segq__broker_on_register, segq__broker_on_heartbeat, segq__broker_on_progress,
    segq__broker_on_log, segq__broker_on_result, segq__broker_on_checkpoint, segq__broker_on_bye;

/* ---- broker_transfer.c: artifacts in and out ---- */

/* Drops the transfers idle since before now - expiry (zclock_mono ms). */
void segq__broker_transfers_expire (segq_broker_t *self, int64_t now);
void segq__broker_transfers_close (segq_broker_t *self);
/* Sets up the count of downloads' chunks ZeroMQ holds: the fd (eventfd)
   that becomes readable when a download waiting for room may go on, or -1
   (out of memory, or no eventfd). */
int segq__broker_transfers_init (segq_broker_t *self);
/* The fd was readable: the downloads that waited for room go on. */
void segq__broker_transfers_resume (segq_broker_t *self);
/* Transfers open now, for the metrics: open [peer][direction], peer 0 a
   client's, 1 a registered worker's, direction 0 upload, 1 download; and
   how many of them wait for the disk on the offload (an upload's finish,
   a chunk's read). */
void segq__broker_transfers_count (segq_broker_t *self, size_t open [2][2], size_t *disk_wait);
segq__handler_fn segq__broker_on_put, segq__broker_on_chunk, segq__broker_on_get,
    segq__broker_on_credit;

/* ---- broker_client.c: users' requests about jobs ---- */

/* Job `number` as caller may see it (the access rule: STATUS and the
   HTTP API alike): stored fields, progress and wait reasons from memory,
   and none of its data unless caller may read it. 0, or a store error. */
int segq__broker_job_view (segq_broker_t *self, const segq__caller_t *caller, uint64_t number,
                           bool detail, segq_job_info_t *info);
/* STATUS_REPLY with jobs `ids` as caller may see them (or an ERROR), into
   the outbox; cursor: where the next page starts, or NULL. */
void segq__broker_status_answer (segq_broker_t *self, zframe_t *peer, uint64_t req_id,
                                 const segq__caller_t *caller, const uint64_t *ids, size_t count,
                                 bool detail, const char *cursor);
/* Worker w as WORKERS_REPLY shows it (info cleared by the caller). */
int segq__broker_worker_info (segq_broker_t *self, worker_t *w, segq_worker_info_t *info);

segq__handler_fn segq__broker_on_submit, segq__broker_on_array, segq__broker_on_status,
    segq__broker_on_cancel, segq__broker_on_logs, segq__broker_on_workers, segq__broker_on_priority,
    segq__broker_on_hold, segq__broker_on_usage, segq__broker_on_kinds;
/* broker_models.c */
segq__handler_fn segq__broker_on_model;

/* ---- broker_admin.c: the broker's care of its data ---- */

/* Retention's share of a timer tick. */
void segq__broker_sweep (segq_broker_t *self);
/* The backup in progress (if any) ends; its requester is told. */
void segq__broker_backup_end (segq_broker_t *self, int code, const char *message);
segq__handler_fn segq__broker_on_drain, segq__broker_on_purge, segq__broker_on_backup;

/* ---- broker_waiters.c: STATUS requests that wait for a job's end ---- */

int segq__broker_waiters_init (segq_broker_t *self);
void segq__broker_waiters_destroy (segq_broker_t *self);
/* Keeps the request (true) until one of jobs `ids` ends or wait_ms pass;
   false: answer it now (no wait asked, one has ended, or too many wait). */
bool segq__broker_waiters_park (segq_broker_t *self, zframe_t *peer, uint64_t req_id,
                                const segq__caller_t *caller, const uint64_t *ids, size_t n_ids,
                                bool detail, int wait_ms);
/* After a commit that ended jobs: answers those waiting for them. */
void segq__broker_waiters_wake (segq_broker_t *self);

#endif
