/*  worker_daemon.h: what the pieces of the segq-worker daemon share (not
    installed; the tests' view of the worker is worker_internal.h, which
    this includes).

    worker.c owns the daemon: construction, the loop, signals and time,
    and the dispatch of each message from the broker to its handler. The
    handlers live by concern:

        worker_session.c     the session with the broker (REGISTER, WELCOME,
                             heartbeats, reconnects, drain, BYE, ERROR) and
                             sending results until RESULT_ACK
        worker_assign.c      taking a job: ASSIGN, its inputs, noop batching
        worker_job.c         a job's life: the table, its log and progress,
                             the child (job_runner.c), finishing, ABORT
        worker_transfer.c    artifacts out (PUT/CHUNK/CREDIT) and in (GET,
                             into the cache)
        worker_checkpoint.c  checkpoints (SPEC 8.3), uploaded while the
                             child runs
        worker_stop.c        a stop that reaches the jobs' children too
                             (Slurm's scancel): their attempts are given back

    They share the job table and the daemon's state below; the functions
    one file offers the others are the segq__worker_* declared here. */
#ifndef SEGQ_WORKER_DAEMON_H
#define SEGQ_WORKER_DAEMON_H

#include "segq_worker.h"
#include "worker_internal.h"

/* How long to wait for WELCOME before trying again on a fresh socket:
   doubling from BACKOFF_MIN_MS up to BACKOFF_MAX_MS. */
#define BACKOFF_MIN_MS 500
#define BACKOFF_MAX_MS 2000
/* A transfer the broker refused as over our limit (ELIMIT) is asked again
   after a wait doubling from LIMIT_BACKOFF_MIN_MS (the tick) up to
   LIMIT_BACKOFF_MAX_MS while the broker keeps refusing. */
#define LIMIT_BACKOFF_MIN_MS 50
#define LIMIT_BACKOFF_MAX_MS 2000
/* An upload the broker has no room for on its disk (ENOSPC, at PUT or
   at PUT_DONE) is sent again after a wait doubling from
   ROOM_BACKOFF_MIN_MS up to ROOM_BACKOFF_MAX_MS, until the broker has
   room: a person makes room, in minutes, and the job's files wait in its
   directory meanwhile. */
#define ROOM_BACKOFF_MIN_MS 1000
#define ROOM_BACKOFF_MAX_MS 30000
/* A broker that does not answer is said at the default verbosity once
   UNANSWERED_SAY_MS have gone without a WELCOME, then every
   UNANSWERED_AGAIN_MS: the retries themselves are -v's. */
#define UNANSWERED_SAY_MS   10000
#define UNANSWERED_AGAIN_MS 60000

typedef enum { OFFLINE, REGISTERING, ONLINE } session_t;
/* JOB_STOPPED: the child died of a stop signal the worker did not send;
   held a moment to see whether the worker is being stopped too
   (worker_stop.c). */
typedef enum { JOB_FETCHING, JOB_RUNNING, JOB_STOPPED, JOB_UPLOADING, JOB_DONE } phase_t;

typedef struct job job_t;
/* A job's inputs by content while they are laid out (worker_assign.c). */
typedef struct input_layout input_layout_t;

/* One file on its way to the broker: PUT, then CHUNKs within the credit
   the broker grants, hashed as they are read, so a big file is read once
   and the final CHUNK names its sha256; PUT_DONE says it is stored. */
typedef struct {
    segq_artifact_t *artifact; /* an output, or the checkpoint; NULL: a free slot */
    uint64_t req;              /* the PUT's request id; 0: PUT to send (again) */
    uint64_t transfer;         /* 0 until PUT_READY */
    int fd;                    /* open while its chunks are sent */
    uint64_t offset;
    uint32_t credit, chunk;
    segq_sha256_t hash;
    bool tried_again; /* once, after the broker found it changed on the way */
} upload_t;

/* A job's files uploaded at once, within UPLOAD_BYTES_AT_ONCE of them
   (however large, one always goes). The broker syncs each file on its
   one thread and answers after its turn's commit: several in flight share
   a turn's commit and overlap each other's round trips, where one at a
   time paid both for every small file (docs/performance.md). As many as
   the broker lets a worker keep open for each of its jobs (SPEC 10.5). */
#define UPLOAD_WINDOW        SEGQ_WORKER_UPLOADS_PER_JOB
#define UPLOAD_BYTES_AT_ONCE ((uint64_t) 8 << 20) /* one PUT's credit of 1 MiB chunks */

/* One artifact being downloaded, shared by every job waiting for it. */
typedef struct {
    char hash [SEGQ_HASH_HEX_LEN + 1];
    uint64_t size;
    char *name;      /* the first job's name for it, for messages */
    uint64_t req_id; /* 0: not requested in this session (or waits its turn) */
    uint64_t transfer;
    segq__cache_write_t *writer;
    int tries;
    zlistx_t *waiters; /* job keys (strings) */
    uint64_t seq;      /* the order the fetches began in */
    void *queued;      /* in the worker's fetch_queue, or NULL */
} fetch_t;

struct job {
    segq_worker_t *worker;
    char *key;          /* "JOB#ATTEMPT" */
    segq_msg_t *assign; /* the ASSIGN, owned */
    const char *id;     /* into assign */
    uint32_t attempt;
    phase_t phase;
    char *dir;              /* scratch directory, or NULL (noop) */
    size_t inputs_missing;  /* contents it waits for the fetch of */
    input_layout_t *layout; /* until its inputs are all laid out, or NULL */
    segq__job_runner_t *runner;
    void *child_handle; /* in worker->children */
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
    double cpu_seconds; /* measured for the accounting (RESULT); 0 unknown */
    uint64_t max_rss;
    uint64_t gpu_peak; /* as the child reported it: metric gpu_peak_bytes */
    segq_artifact_t *outputs;
    size_t n_outputs;
    int64_t result_sent_ms; /* last sent, 0 never */
    int64_t result_wait_ms; /* for its ack before sending it again; 0: expiry_ms */
    /* the outputs (or the checkpoint) being uploaded */
    void *upload_handle; /* in worker->uploads */
    upload_t uploads [UPLOAD_WINDOW];
    size_t upload_next; /* the first output not yet in a slot */
    size_t n_uploaded;  /* outputs stored by the broker */
    /* the newest checkpoint the child announced (SPEC 8.3), pinned at
       DIR/checkpoint while it uploads (in the first upload slot, the child
       still running); a newer one waits at DIR/checkpoint.next */
    bool ckpt_uploading;
    segq_artifact_t ckpt; /* name: its path under out/ */
    uint32_t ckpt_step;
    char *ckpt_next; /* name of the newer one waiting, or NULL */
    uint32_t ckpt_next_step;
    int64_t stopped_until_ms; /* JOB_STOPPED: reported as failed from then on */
    /* the broker had no room for an upload of the job's (ENOSPC) */
    int64_t room_since_ms; /* since when (said once); 0: not waiting */
    int64_t room_until_ms; /* none of its uploads is sent again before then */
    int room_backoff_ms;   /* that wait's length */
};

struct segq_worker {
    /* options, owned copies */
    char *broker, *node, *work_dir, *cache_dir, *jobs_dir, *testkind, *segq_run, *ready_file;
    bool work_dir_default;   /* work_dir is node's default */
    char *broker_key, *cert; /* CurveZMQ, or NULL */
    char *instance;          /* REGISTER inst: RANDOM@HOST */
    int id_fd;               /* WORK_DIR/worker.id, locked while we run */
    segq_gpu_t *gpus;        /* device: what its jobs get as CUDA_VISIBLE_DEVICES */
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
    zhashx_t *jobs;                          /* key -> job_t */
    zlistx_t *children;                      /* job_t with a live runner */
    zlistx_t *uploads;                       /* job_t in UPLOADING */
    zhashx_t *fetches;                       /* hash -> fetch_t */
    fetch_t *fetching [SEGQ_WORKER_FETCHES]; /* those requested in this session, NULL free */
    zlistx_t *fetch_queue; /* the others, oldest first: a job's inputs before a later one's */
    uint64_t fetch_seq;
    bool deferred; /* transfers wait to be sent again: the session was lost, or ELIMIT */
    int64_t deferred_until_ms;        /* ELIMIT: none sent again before then */
    int limit_backoff_ms;             /* that wait's length; 0 once the broker takes a transfer */
    segq__gen_servers_t *gen_servers; /* generate's servers, or NULL (none) */
    uint64_t next_req_id;

    session_t session;
    int64_t last_heard_ms, last_sent_ms, register_deadline_ms;
    int64_t registering_since_ms; /* when the session was last lost (or first sought) */
    int64_t unanswered_said_ms;   /* when "no answer from broker" was last said; 0: not since */
    int backoff_ms;
    uint32_t heartbeat_ms, expiry_ms, chunk_size, max_msg;
    bool ready_written;

    bool draining;
    bool told_draining;  /* the last REGISTER said so */
    bool stop_signalled; /* a TERM, INT or HUP came: the stop may reach the jobs too */
    bool node_fault;     /* segq-run could not start: draining, then leaving with status 1 */
    size_t n_stopped;    /* jobs in JOB_STOPPED */
    int interrupts;
    bool stop;
    int exit_code;

    /* noop batching */
    int journal_fd;
    char *journal_buf;
    size_t journal_used, journal_cap;
    zlistx_t *results_to_send; /* job keys */
};

/* ---- worker.c: what every piece uses ---- */

void segq__worker_log (segq_worker_t *self, int level, const char *format, ...)
    __attribute__ ((format (printf, 3, 4)));
char *segq__worker_strdup_or_null (const char *s);
/* Sends (takes msg) on the session's socket; SEGQ_EUNAVAIL without one. */
int segq__worker_send (segq_worker_t *self, segq_msg_t **msg_p);
/* The socket's reader: reads a batch of messages and dispatches them. */
int segq__worker_on_socket (zloop_t *loop, zsock_t *sock, void *arg);

/* ---- worker_session.c: the broker session ---- */

void segq__worker_result_send (job_t *job);
void segq__worker_results_resend (segq_worker_t *self, int64_t now);
void segq__worker_connect (segq_worker_t *self);
/* Each tick: one line at the default verbosity while the broker has not
   answered for UNANSWERED_SAY_MS (again every UNANSWERED_AGAIN_MS). */
void segq__worker_say_unanswered (segq_worker_t *self, int64_t now);
void segq__worker_start_drain (segq_worker_t *self, const char *why, bool broker_knows);
void segq__worker_stop_now (segq_worker_t *self, int exit_code, const char *reason);
void segq__worker_on_welcome (segq_worker_t *self, const segq_welcome_t *m);
void segq__worker_on_error (segq_worker_t *self, const segq_error_msg_t *m);
void segq__worker_on_result_ack (segq_worker_t *self, const segq_result_ack_t *m);

/* ---- worker_assign.c: taking a job ---- */

void segq__worker_on_assign (segq_worker_t *self, segq_msg_t **msg_p);
/* The content the job waited for is in the cache: linked under its first
   name now, under the others on the loop's next turns; then the job
   starts if it waits for nothing else. It may fail instead. */
void segq__worker_input_fetched (job_t *job, const char *hash);
/* The job's inputs need no more laying out (it starts, ends or goes):
   their index goes (a slice's timer still waiting then finds nothing). */
void segq__worker_layout_end (job_t *job);
void segq__worker_flush_batch (segq_worker_t *self);

/* ---- worker_job.c: a job's life ---- */

job_t *segq__worker_job_find (segq_worker_t *self, const char *id, uint32_t attempt);
void segq__worker_job_start (job_t *job);
void segq__worker_job_finish (job_t *job, bool success, int32_t exit_code, int32_t sig,
                              const char *reason);
void segq__worker_job_done (job_t *job);
void segq__worker_job_remove (job_t *job);
void segq__worker_job_free (job_t *job);
/* A line of the worker's own in the job's log. */
void segq__worker_log_note (job_t *job, const char *format, ...)
    __attribute__ ((format (printf, 2, 3)));
void segq__worker_log_flush (job_t *job, int64_t now);
void segq__worker_progress_send (job_t *job, int64_t now, bool force);
void segq__worker_on_abort (segq_worker_t *self, const segq_abort_t *m);

/* ---- worker_transfer.c: uploads and fetches ---- */

/* Every slot empty, its file closed. */
void segq__worker_upload_clear (job_t *job);
/* Every slot's transfer void (the session was lost, or the checkpoint
   starts over): each PUTs again at the next segq__worker_upload_next or
   segq__worker_upload_send. */
void segq__worker_upload_reset (job_t *job);
/* Fills the free slots with the next outputs and PUTs those not yet sent
   (online, and not while the job waits for room on the broker's disk);
   once all are stored, the job is done. */
void segq__worker_upload_next (job_t *job);
/* PUTs the file in slot u as it is now (its size read again); -1: the
   upload failed (segq__worker_upload_fail). */
int segq__worker_upload_send (job_t *job, upload_t *u);
void segq__worker_upload_fail (job_t *job, const char *format, ...)
    __attribute__ ((format (printf, 2, 3)));
/* The broker has no room on its disk for slot u's file (why: its
   message): PUT again after a wait, longer each round the broker
   refuses, until it has room. */
void segq__worker_upload_wait_room (job_t *job, upload_t *u, const char *why);
/* The slot whose PUT had req_id, or whose transfer this is; NULL if none. */
upload_t *segq__worker_upload_by (segq_worker_t *self, uint64_t req_id, uint64_t transfer,
                                  job_t **job);
/* GET for the fetch, at once if fewer than SEGQ_WORKER_FETCHES are
   requested (and online), else once one has ended. */
void segq__worker_fetch_request (segq_worker_t *self, fetch_t *fetch);
/* Once deferred (a new session, or the broker answered ELIMIT or
   ENOSPC): GETs and PUTs void or refused are sent again, the fetches
   within the window, a job's uploads once its wait for room is over. */
void segq__worker_transfers_resume (segq_worker_t *self);
/* The broker answered a GET or PUT with ELIMIT: it waits, longer each
   time the broker refuses again. */
void segq__worker_transfers_defer (segq_worker_t *self);
/* The broker took a transfer: the next ELIMIT waits the shortest time again. */
void segq__worker_transfers_taken (segq_worker_t *self);
/* The requested fetch whose GET had req_id, or whose transfer this is; NULL if none. */
fetch_t *segq__worker_fetch_by (segq_worker_t *self, uint64_t req_id, uint64_t transfer);
/* Every GET void (the session ended): each fetch waits in the queue. */
void segq__worker_fetches_void (segq_worker_t *self);
/* The fetch queue's comparator: the older fetch first. */
int segq__worker_fetch_order (const fetch_t *a, const fetch_t *b);
void segq__worker_fetch_failed (segq_worker_t *self, fetch_t *fetch, int code, const char *why);
void segq__worker_fetch_destroy (fetch_t **fetch_p);
void segq__worker_on_put_ready (segq_worker_t *self, const segq_put_ready_t *m);
void segq__worker_on_put_done (segq_worker_t *self, const segq_put_done_t *m);
void segq__worker_on_upload_credit (segq_worker_t *self, const segq_credit_t *m);
void segq__worker_on_get_ready (segq_worker_t *self, const segq_get_ready_t *m);
void segq__worker_on_chunk (segq_worker_t *self, segq_chunk_t *m);

/* ---- worker_checkpoint.c: checkpoints (SPEC 8.3) ---- */

void segq__worker_ckpt_announced (job_t *job, const char *name, uint32_t step);
void segq__worker_ckpt_put (job_t *job);
/* Its PUT again (void, or refused for want of room), or the newer one the
   child announced meanwhile. */
void segq__worker_ckpt_resume (job_t *job);
void segq__worker_ckpt_end (job_t *job);
void segq__worker_ckpt_uploaded (job_t *job);
void segq__worker_ckpt_abandon (job_t *job);
void segq__worker_on_checkpoint_ack (segq_worker_t *self, const segq_checkpoint_ack_t *m);

/* ---- worker_stop.c: a stop that reaches the jobs too ---- */

/* The child ended: true if the worker took the job over (its attempt
   given back, or held in JOB_STOPPED), false if it finishes as usual. */
bool segq__worker_stop_reached (job_t *job, const segq__job_exit_t *status);
/* The worker got a stop signal: every job held in JOB_STOPPED is given back. */
void segq__worker_stop_signalled (segq_worker_t *self);
/* The child of an ML job could not be started at all (exit 126 or 127:
   exec failed, or the loader found no libtorch): true, as
   segq__worker_node_fault; false otherwise. */
bool segq__worker_exit_is_node_fault (job_t *job, const segq__job_exit_t *status);
/* segq-run cannot run on this node (why): the job's attempt is given back
   and the worker drains, as it would fail every job it took. */
void segq__worker_node_fault (job_t *job, const char *why);
/* Each tick: jobs held in JOB_STOPPED past their moment failed. */
void segq__worker_stop_tick (segq_worker_t *self, int64_t now);
/* ABORT of a job in JOB_STOPPED: it ends as the abort says. */
void segq__worker_stop_abort (job_t *job, const char *reason);

#endif
