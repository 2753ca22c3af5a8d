/*  segq_proto.h: the segq wire protocol, one codec for broker, worker and client.

    A message is a ZeroMQ multipart message:

        [routing id]   only on the broker's ROUTER side, added/removed by ZeroMQ
        header frame   4 bytes: 'S' 'Q' version type
        body frame     a msgpack map, the fields of `type` (see SPEC.md)
        data frame     only in CHUNK: the raw bytes of one artifact chunk

    Decoding validates everything (header, types, sizes, required fields,
    limits) and never trusts a length read from the wire. The codec owns no
    socket policy: sockets are CZMQ's zsock_t.

    Ownership: a segq_msg_t owns every string, array and frame it points to;
    segq_msg_destroy frees them all. Strings are NUL-terminated and never
    contain NUL. Fields documented "or NULL" are optional on the wire.
*/
#ifndef SEGQ_PROTO_H
#define SEGQ_PROTO_H

#include <czmq.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include "segq_records.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Versions this build speaks. A peer whose header carries another version
   is answered with ERROR(EVERSION) listing these. */
#define SEGQ_PROTO_VERSION     2
#define SEGQ_PROTO_MIN_VERSION 2

#define SEGQ_HEADER_SIZE 4

/* Limits the decoder enforces besides segq_records.h's (the broker also
   caps whole messages with ZMQ_MAXMSGSIZE). */
#define SEGQ_DEFAULT_MAX_MSG (4u << 20) /* bytes, whole message */
#define SEGQ_DEFAULT_CHUNK   (1u << 20) /* bytes of artifact data per CHUNK */

/* What a registered worker keeps open at once (SPEC 10.5): uploads of each
   job's outputs, and downloads of its jobs' inputs. The broker refuses a
   transfer beyond them with ELIMIT. */
#define SEGQ_WORKER_UPLOADS_PER_JOB 8
#define SEGQ_WORKER_FETCHES         8

typedef enum {
    /* any peer */
    SEGQ_MSG_ERROR = 1,     /* reply: a request failed */
    SEGQ_MSG_HEARTBEAT = 2, /* broker <-> worker liveness */
    SEGQ_MSG_BYE = 3,       /* worker -> broker: leaving */
    /* client -> broker requests, each answered by the type after it */
    SEGQ_MSG_SUBMIT = 10,
    SEGQ_MSG_SUBMITTED = 11,
    SEGQ_MSG_STATUS = 12,
    SEGQ_MSG_STATUS_REPLY = 13,
    SEGQ_MSG_CANCEL = 14,
    SEGQ_MSG_CANCEL_REPLY = 15,
    SEGQ_MSG_LOGS = 16,
    SEGQ_MSG_LOGS_REPLY = 17,
    SEGQ_MSG_WORKERS = 18,
    SEGQ_MSG_WORKERS_REPLY = 19,
    SEGQ_MSG_DRAIN = 20,
    SEGQ_MSG_DRAIN_REPLY = 21,
    SEGQ_MSG_PURGE = 22, /* remove jobs' artifacts now (owner or admin) */
    SEGQ_MSG_PURGE_REPLY = 23,
    SEGQ_MSG_BACKUP = 24, /* copy the database to a file on the broker's machine */
    SEGQ_MSG_BACKUP_REPLY = 25,
    SEGQ_MSG_PRIORITY = 26,
    SEGQ_MSG_PRIORITY_REPLY = 27,
    SEGQ_MSG_ARRAY = 28, /* make a job array of submitted jobs, or look one up */
    SEGQ_MSG_ARRAY_REPLY = 29,
    /* worker <-> broker */
    SEGQ_MSG_REGISTER = 30,     /* worker -> broker */
    SEGQ_MSG_WELCOME = 31,      /* broker -> worker */
    SEGQ_MSG_ASSIGN = 32,       /* broker -> worker */
    SEGQ_MSG_PROGRESS = 33,     /* worker -> broker */
    SEGQ_MSG_LOG = 34,          /* worker -> broker */
    SEGQ_MSG_RESULT = 35,       /* worker -> broker */
    SEGQ_MSG_RESULT_ACK = 36,   /* broker -> worker */
    SEGQ_MSG_ABORT = 37,        /* broker -> worker: stop this job */
    SEGQ_MSG_DRAIN_WORKER = 38, /* broker -> worker: finish running jobs, take no new ones, exit */
    SEGQ_MSG_CHECKPOINT = 39, /* worker -> broker: a running job's newest checkpoint is uploaded */
    SEGQ_MSG_CHECKPOINT_ACK = 40, /* broker -> worker: recorded durably (or refused) */
    /* artifact transfer, client or worker <-> broker */
    SEGQ_MSG_PUT = 50,       /* sender -> broker: I want to upload */
    SEGQ_MSG_PUT_READY = 51, /* broker -> sender */
    SEGQ_MSG_PUT_DONE = 52,  /* broker -> sender: stored and verified (or not) */
    SEGQ_MSG_GET = 53,       /* receiver -> broker: I want to download */
    SEGQ_MSG_GET_READY = 54, /* broker -> receiver */
    SEGQ_MSG_CHUNK = 55,     /* either way: one piece of data */
    SEGQ_MSG_CREDIT = 56,    /* either way: receiver grants more chunks */
    /* client -> broker requests added later (numbers are never reused) */
    SEGQ_MSG_KINDS = 57, /* the broker's table of job kinds */
    SEGQ_MSG_KINDS_REPLY = 58,
    SEGQ_MSG_MODEL = 59, /* the catalogue of trained models: list, show, change */
    SEGQ_MSG_MODEL_REPLY = 60,
    SEGQ_MSG_HOLD = 61, /* hold or release waiting/queued jobs (owner or admin) */
    SEGQ_MSG_HOLD_REPLY = 62,
    SEGQ_MSG_USAGE = 63, /* accounting of finished runs, grouped */
    SEGQ_MSG_USAGE_REPLY = 64
} segq_msg_type_t;

typedef struct {
    char *job;
    uint32_t attempt;
} segq_job_attempt_t;

/* ---- message bodies ---- */

typedef struct {
    uint64_t req_id; /* of the request that failed; 0 if none */
    int32_t code;    /* segq_error_t */
    char *message;
    uint32_t *versions;
    size_t n_versions; /* on EVERSION: what the broker speaks */
} segq_error_msg_t;

typedef struct {
    char *reason; /* or NULL */
} segq_bye_t;

typedef struct {
    uint64_t req_id; /* chosen by the client, echoed in the reply; lets it pipeline */
    char *user;
    char *kind;
    segq_params_t params;
    segq_input_t *inputs;
    size_t n_inputs;
    char **after;
    size_t n_after;        /* plain ordering dependencies */
    int32_t priority;      /* orders only this user's own jobs; higher first */
    uint64_t gpu_mem;      /* bytes; 0 = CPU job */
    uint32_t cpu_slots;    /* 0 = 1 for a CPU job, 0 for a GPU job */
    uint32_t time_limit_s; /* 0 = broker default */
    uint32_t max_attempts; /* 0 = broker default */
    char *retry;           /* or NULL: submit this ended job again (SPEC: SUBMIT) */
} segq_submit_t;

typedef struct {
    uint64_t req_id;
    char *job;
    uint64_t gpu_mem;   /* the resources the job was given: the SUBMIT's, */
    uint32_t cpu_slots; /* or its kind's default */
} segq_submitted_t;

typedef struct {
    uint64_t req_id;
    char **jobs;
    size_t n_jobs;  /* none: list all (filtered, paged) */
    char *user;     /* filter, or NULL */
    int32_t state;  /* filter segq_job_state_t, or 0 */
    char *cursor;   /* resume listing after this job id, or NULL */
    uint32_t limit; /* 0 = broker default page; at most SEGQ_STATUS_MAX */
    bool detail;    /* include history */
    char *caller;   /* the user asking (replaced by the certificate's name with
                       keys): other users' jobs come without their data's names */
    bool newest;    /* list from the newest job down; cursor: continue below it */
    int32_t wait_ms; /* with jobs: answer once one has ended, or after this long
                        (at most SEGQ_STATUS_WAIT_MAX_MS); 0: at once */
} segq_status_t;

typedef struct {
    uint64_t req_id;
    segq_job_info_t *jobs;
    size_t n_jobs;
    char *cursor; /* more to list: pass back in STATUS; NULL when done */
} segq_status_reply_t;

typedef struct {
    uint64_t req_id;
    char *user;
    char **jobs;
    size_t n_jobs;
} segq_cancel_t;

typedef struct {
    char *job;
    int32_t code;  /* 0 cancelled (or to be, once its worker stops it), else why not:
                      SEGQ_ESTATE it had already ended */
    char *message; /* or NULL */
} segq_cancel_result_t;

typedef struct {
    uint64_t req_id;
    segq_cancel_result_t *results;
    size_t n_results;
} segq_cancel_reply_t;

typedef struct {
    uint64_t req_id;
    char *user;
    char *job;
    uint64_t offset;    /* byte offset in the job's log */
    uint32_t max_bytes; /* 0 = as much as fits one message */
} segq_logs_t;

typedef struct {
    uint64_t req_id;
    char *job;
    uint64_t offset; /* of data[0] */
    uint8_t *data;
    size_t size;
    bool complete; /* the job is final and this is the end of its log */
} segq_logs_reply_t;

typedef struct {
    uint64_t req_id;
} segq_workers_t;

typedef struct {
    uint64_t req_id;
    segq_worker_info_t *workers;
    size_t n_workers;
} segq_workers_reply_t;

typedef struct {
    uint64_t req_id;
    char *user;
    char *node;
} segq_drain_t;

typedef struct {
    uint64_t req_id;
    char *node;
} segq_drain_reply_t;

typedef struct {
    uint64_t req_id;
    char *user;
    char *job;
    int32_t priority; /* the new one */
} segq_priority_t;

typedef struct {
    uint64_t req_id;
    char *job;
    int32_t priority; /* now in effect */
    int32_t previous;
} segq_priority_reply_t;

typedef struct {
    uint64_t req_id;
    char *user;
    char **jobs;
    size_t n_jobs;
    bool release; /* false: hold them; true: release them */
} segq_hold_t;

typedef struct {
    uint64_t req_id;
    segq_cancel_result_t *results; /* per job: 0 done (or already so), else why not */
    size_t n_results;
} segq_hold_reply_t;

typedef struct {
    uint64_t req_id;
    char *user;          /* the caller */
    char *of_user;       /* only this user's runs, or NULL: everyone's */
    double since, until; /* runs that ended in [since, until); 0: unbounded */
    segq_usage_by_t by;
} segq_usage_t;

typedef struct {
    uint64_t req_id;
    segq_usage_row_t *rows;
    size_t n_rows;      /* by key, ascending */
    double half_life_s; /* of fair share's decay; 0: none */
} segq_usage_reply_t;

/* A job array: jobs submitted together (one per image/mask pair...), with
   an id of its own ("a-0001") that status and input references take. */
typedef struct {
    uint64_t req_id;
    char *user;
    char **jobs;
    size_t n_jobs; /* make an array of these jobs, in order */
    char *array;   /* ... or look up this one (exactly one of the two) */
} segq_array_t;

typedef struct {
    uint64_t req_id;
    char *array; /* its id */
    char *owner;
    double created; /* unix seconds */
    char **jobs;
    size_t n_jobs; /* in order */
} segq_array_reply_t;

typedef struct {
    uint64_t req_id;
    char *user;
    char **jobs;
    size_t n_jobs;
} segq_purge_t;

typedef struct {
    uint64_t req_id;
    segq_purge_result_t *results;
    size_t n_results;
} segq_purge_reply_t;

typedef struct {
    uint64_t req_id;
    char *user; /* or NULL */
    char *path; /* absolute, on the broker's machine; must not exist */
} segq_backup_t;

typedef struct {
    uint64_t req_id;
    char *path;
    uint64_t size; /* bytes of the copy */
    uint64_t jobs; /* jobs in it */
} segq_backup_reply_t;

typedef struct {
    uint64_t req_id;
} segq_kinds_t;

typedef struct {
    uint64_t req_id;
    segq_kind_info_t *kinds;
    size_t n_kinds; /* in table order */
} segq_kinds_reply_t;

typedef struct {
    uint64_t req_id;
    char *user; /* the caller (the certificate's name with keys) */
    segq_model_op_t op;
    char *model; /* NAME, m-ID or OWNER/NAME: every op but LIST */
    char *value; /* RENAME, TAG, UNTAG, NOTE */
    char **users;
    size_t n_users; /* SHARE, UNSHARE */
    bool lab;       /* SHARE, UNSHARE: with the whole lab */
    char *owner;    /* LIST: only this user's models, or NULL */
    char *tag;      /* LIST: only those with this tag, or NULL */
    char *cursor;   /* LIST: go on after this model id, or NULL */
} segq_model_t;

typedef struct {
    uint64_t req_id;
    segq_model_info_t *models;
    size_t n_models; /* LIST: a page; others: the model as it now is (RM: as it was) */
    char *next;      /* LIST: the cursor of the next page, or NULL: the last */
} segq_model_reply_t;

typedef struct {
    char *node;     /* unique name of this worker daemon */
    char *instance; /* the daemon behind the name (kept across its
                       restarts), or NULL */
    segq_gpu_t *gpus;
    size_t n_gpus;
    uint32_t cpu_slots;
    char **kinds;
    size_t n_kinds; /* job kinds it runs */
    segq_job_attempt_t *held;
    size_t n_held; /* jobs it is running or has results for */
    bool draining;
} segq_register_t;

typedef struct {
    uint32_t heartbeat_ms; /* send one at least this often */
    uint32_t expiry_ms;    /* silent this long = dead */
    uint32_t max_msg;      /* bytes */
    uint32_t chunk_size;   /* bytes */
} segq_welcome_t;

typedef struct {
    char *job;
    uint32_t attempt; /* fencing token: everything about this run carries it */
    char *kind;
    segq_params_t params;
    segq_artifact_t *inputs;
    size_t n_inputs; /* resolved: names are paths in the job dir */
    int32_t gpu;     /* GPU index on this node, -1 for a CPU job */
    uint64_t gpu_mem;
    uint32_t cpu_slots;
    uint32_t time_limit_s; /* 0 = none */
    char *resume;          /* the input that is an earlier attempt's checkpoint
                              (laid out under out/): resume from it; or NULL */
} segq_assign_t;

typedef struct {
    char *job;
    uint32_t attempt;
    double fraction; /* 0..1 */
    char *phase;     /* or NULL */
    char *message;   /* or NULL */
    segq_params_t metrics;
} segq_progress_t;

typedef struct {
    char *job;
    uint32_t attempt;
    uint64_t offset; /* of data[0] in this attempt's log */
    uint8_t *data;
    size_t size;
} segq_log_t;

/* A model a worker holds loaded (its generation server's checkpoint). */
typedef struct {
    int32_t gpu; /* on the GPU of this index; -1: on the CPUs */
    char hash [SEGQ_HASH_HEX_LEN + 1];
} segq_hot_model_t;

typedef struct {
    char *job;
    uint32_t attempt;
    bool success;
    int32_t exit_code; /* -1 if killed by a signal or never started */
    int32_t signal;    /* 0 none */
    char *reason;      /* human text for a failure, or NULL */
    segq_artifact_t *outputs;
    size_t n_outputs; /* already uploaded */
    segq_hot_model_t *hot;
    size_t n_hot; /* the models the worker holds loaded now (it may go on
                     without saying: then the broker keeps what it knew) */
    double cpu_seconds; /* user + system time of the job's processes; 0 unknown */
    uint64_t max_rss;   /* their largest resident memory, bytes; 0 unknown */
    uint64_t gpu_peak;  /* the job's GPU memory peak as it reported it; 0 unknown */
} segq_result_t;

typedef struct {
    char *job;
    uint32_t attempt;
    int32_t code;  /* 0 accepted; SEGQ_ESTALE fenced; else refused */
    char *message; /* or NULL */
} segq_result_ack_t;

typedef struct {
    char *job;
    uint32_t attempt;
    char *reason; /* "cancelled by alice", ... */
} segq_abort_t;

typedef struct {
    char *job;
    uint32_t attempt;                  /* fenced like RESULT */
    char *name;                        /* path under out/ where the child wrote it */
    char hash [SEGQ_HASH_HEX_LEN + 1]; /* already uploaded (PUT) */
    uint64_t size;
    uint32_t step; /* units of work it holds (scales), for people */
} segq_checkpoint_t;

typedef struct {
    char *job;
    uint32_t attempt;
    uint32_t step; /* the CHECKPOINT's, echoed */
    int32_t code;  /* 0 recorded; SEGQ_ESTALE fenced; else refused */
    char *message; /* or NULL */
} segq_checkpoint_ack_t;

typedef struct {
    uint64_t req_id;
    char hash [SEGQ_HASH_HEX_LEN + 1]; /* known up front (the broker may have it), or "":
                                          the final CHUNK names it */
    uint64_t size;
    char *name; /* for logs, or NULL */
    char *user; /* the uploader (replaced by the certificate's name with keys) */
} segq_put_t;

typedef struct {
    uint64_t req_id;
    uint64_t transfer; /* id for CHUNK/CREDIT; 0 when have */
    bool have;         /* broker already has this hash: nothing to send */
    uint32_t credit;   /* chunks the sender may send now */
    uint32_t chunk_size;
} segq_put_ready_t;

typedef struct {
    uint64_t req_id;
    uint64_t transfer;
    int32_t code;  /* 0 stored and verified; SEGQ_EHASH, SEGQ_ENOSPC, ... */
    char *message; /* or NULL */
} segq_put_done_t;

typedef struct {
    uint64_t req_id;
    char hash [SEGQ_HASH_HEX_LEN + 1]; /* by hash (workers), or "" ... */
    char *job;                         /* ... by job + output name (clients), or NULL */
    char *name;
    char *user;      /* or NULL */
    uint32_t credit; /* chunks the broker may send before the next CREDIT */
} segq_get_t;

typedef struct {
    uint64_t req_id;
    uint64_t transfer;
    char hash [SEGQ_HASH_HEX_LEN + 1];
    uint64_t size;
    char *name; /* or NULL */
    uint32_t chunk_size;
} segq_get_ready_t;

typedef struct {
    uint64_t transfer;
    uint64_t offset;
    bool last;
    char hash [SEGQ_HASH_HEX_LEN + 1]; /* upload's last CHUNK: sha256 of all sent, or "" */
    zframe_t *data;                    /* the data frame, owned */
} segq_chunk_t;

typedef struct {
    uint64_t transfer;
    uint32_t chunks;
} segq_credit_t;

typedef struct {
    segq_msg_type_t type;
    uint8_t version; /* as received; set to SEGQ_PROTO_VERSION by segq_msg_new */
    union {
        segq_error_msg_t error;
        segq_bye_t bye;
        segq_submit_t submit;
        segq_submitted_t submitted;
        segq_status_t status;
        segq_status_reply_t status_reply;
        segq_cancel_t cancel;
        segq_cancel_reply_t cancel_reply;
        segq_logs_t logs;
        segq_logs_reply_t logs_reply;
        segq_workers_t workers;
        segq_workers_reply_t workers_reply;
        segq_drain_t drain;
        segq_drain_reply_t drain_reply;
        segq_purge_t purge;
        segq_purge_reply_t purge_reply;
        segq_backup_t backup;
        segq_backup_reply_t backup_reply;
        segq_priority_t priority;
        segq_priority_reply_t priority_reply;
        segq_array_t array;
        segq_array_reply_t array_reply;
        segq_kinds_t kinds;
        segq_kinds_reply_t kinds_reply;
        segq_model_t model;
        segq_model_reply_t model_reply;
        segq_hold_t hold;
        segq_hold_reply_t hold_reply;
        segq_usage_t usage;
        segq_usage_reply_t usage_reply;
        segq_register_t reg;
        segq_welcome_t welcome;
        segq_assign_t assign;
        segq_progress_t progress;
        segq_log_t log;
        segq_result_t result;
        segq_result_ack_t result_ack;
        segq_abort_t abort;
        segq_checkpoint_t checkpoint;
        segq_checkpoint_ack_t checkpoint_ack;
        segq_put_t put;
        segq_put_ready_t put_ready;
        segq_put_done_t put_done;
        segq_get_t get;
        segq_get_ready_t get_ready;
        segq_chunk_t chunk;
        segq_credit_t credit;
    } u; /* HEARTBEAT and DRAIN_WORKER have empty bodies */
} segq_msg_t;

/* A zeroed message of `type`, except where 0 would mean something:
   ASSIGN gpu and RESULT exit_code start at -1 ("none"). */
segq_msg_t *segq_msg_new (segq_msg_type_t type);
void segq_msg_destroy (segq_msg_t **self_p);

const char *segq_msg_type_name (segq_msg_type_t type); /* "SUBMIT"; "?" if unknown */

/* What a message means to the peers (segq_msg_route.c): who may send it,
   where its request id and the user it acts for sit, what answers it. */
enum {
    SEGQ_FROM_BROKER = 1,
    SEGQ_FROM_USER = 2, /* a client with a user's certificate (or none: no keys) */
    SEGQ_FROM_ADMIN = 4,
    SEGQ_FROM_WORKER = 8,  /* a worker daemon (a worker certificate) */
    SEGQ_FROM_SESSION = 16 /* ... and only once it has registered */
};

typedef struct {
    unsigned senders;      /* SEGQ_FROM_* bits */
    segq_msg_type_t reply; /* the answer when it succeeds (ERROR when not); 0: none */
    ptrdiff_t req_offset;  /* of its uint64_t request id in the body, or -1 */
    ptrdiff_t user_offset; /* of its char * acting user in the body, or -1 */
} segq_msg_route_t;

/* 0, or SEGQ_EPROTO for a type that is not part of the protocol. */
int segq_msg_route (segq_msg_type_t type, segq_msg_route_t *route);
/* The message's request id (0: it has none, or it was not set). */
uint64_t segq_msg_req_id (const segq_msg_t *msg);
int segq_msg_set_req_id (segq_msg_t *msg, uint64_t req); /* SEGQ_EINVAL: it has none */
/* Whether a message of request id req_id and transfer `transfer` answers
   the request mine_req or belongs to the transfer mine_transfer (how a
   client or worker finds which of its transfers a reply is for); 0 in
   either of mine stands for none. */
bool segq_msg_is_for (uint64_t req_id, uint64_t transfer, uint64_t mine_req,
                      uint64_t mine_transfer);
/* Where the user it acts for is kept (NULL: it names none). */
char **segq_msg_user (segq_msg_t *msg);

/* Encode into a new zmsg (header, body[, data]). For CHUNK the data frame
   is moved into the zmsg (self->u.chunk.data becomes NULL). An ERROR with
   code SEGQ_EVERSION and no versions gets this build's versions filled in.
   The encoder refuses (SEGQ_EINVAL, SEGQ_ETOOBIG) what a decoder would. */
int segq_msg_encode (segq_msg_t *self, zmsg_t **out);

/* Decode the frames of a message (without routing id). Validates
   everything; on failure returns SEGQ_EPROTO, SEGQ_EVERSION or
   SEGQ_ETOOBIG with a message naming the problem, and *out is NULL.
   On EVERSION, *version_out (if not NULL) gets the peer's version. */
int segq_msg_decode_bytes (const uint8_t *header, size_t header_size, const uint8_t *body,
                           size_t body_size, const uint8_t *data, size_t data_size, bool has_data,
                           segq_msg_t **out, uint8_t *version_out, char *err, size_t errlen);

/* Decode a zmsg (consumed: *zmsg_p becomes NULL). */
int segq_msg_decode (zmsg_t **zmsg_p, segq_msg_t **out, uint8_t *version_out, char *err,
                     size_t errlen);

/* segq_msg_decode for a server, which answers what it cannot decode: on
   failure *req_out gets the request id the body frame still shows
   (segq_msg_peek_req), so that its ERROR can echo it. */
int segq_msg_decode_request (zmsg_t **zmsg_p, segq_msg_t **out, uint8_t *version_out,
                             uint64_t *req_out, char *err, size_t errlen);

/* The request id in a body frame, even one that does not decode: the
   unsigned integer under the key "req" of the msgpack map the body begins
   with, or 0 when there is none (not a map, no such key, another type, or
   something unreadable before it). Reads only the top-level map and never
   past size: safe on any bytes. */
uint64_t segq_msg_peek_req (const uint8_t *body, size_t size);

/* Send on a socket and destroy the message. routing_id is the ROUTER
   envelope (broker side) or NULL (DEALER side); it is not consumed. */
int segq_msg_send (segq_msg_t **self_p, zsock_t *sock, zframe_t *routing_id);

/* Receive one message. On a ROUTER socket pass routing_id_out to receive
   the sender's routing id (owned by the caller). On a decode failure the
   frames are consumed, *out is NULL, and the code says why; the routing id
   is still returned so the caller can answer ERROR. */
int segq_msg_recv (zsock_t *sock, zframe_t **routing_id_out, segq_msg_t **out, uint8_t *version_out,
                   char *err, size_t errlen);

#ifdef __cplusplus
}
#endif
#endif
