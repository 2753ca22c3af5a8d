/*  worker_internal.h: the pieces of segq-worker, shared between its files
    and its tests (not installed, not for other libraries).

    job_runner.c  supervises one child process (pipes, process group, time
                  limit, abort, exit status)
    progress.c    parses the child's progress channel (JSON lines)
    cache.c       the artifact cache, job directories, input layout, outputs
    worker*.c     the daemon: protocol with the broker, jobs, transfers
                  (their shared state: worker_daemon.h)
*/
#ifndef SEGQ_WORKER_INTERNAL_H
#define SEGQ_WORKER_INTERNAL_H

#include <czmq.h>
#include <spawn.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>
#include "gen_server.h"
#include "segq_proto.h"

/* ---- progress.c ---- */

/* A progress line longer than this is dropped (it cannot be a sane record
   and must not grow the daemon's memory without bound). */
#define SEGQ__PROGRESS_MAX_LINE (64u << 10)

/* One progress record, or the merged state of a job's records. */
typedef struct {
    bool has_fraction;
    double fraction;       /* clamped to 0..1 */
    char *phase;           /* owned, or NULL */
    char *message;         /* owned, or NULL */
    segq_params_t metrics; /* FLOAT values */
    char *checkpoint;      /* owned, or NULL: an event, never merged into a
                              state: out/NAME is a finished checkpoint ... */
    uint32_t step;         /* ... holding this many units of work */
} segq__progress_t;

void segq__progress_clear (segq__progress_t *self);

/* Parse one line (without its newline). Returns 0, or SEGQ_EINVAL with err
   naming the problem; *out is untouched on error. */
int segq__progress_parse_line (const char *line, size_t size, segq__progress_t *out, char *err,
                               size_t errlen);

/* Fold `update` into `state`: fields present in the update replace the old
   ones, metrics are merged by name. */
int segq__progress_merge (segq__progress_t *state, const segq__progress_t *update);

typedef void (segq__progress_fn) (void *arg, const segq__progress_t *record);

/* Splits a byte stream into lines and parses them; partial lines wait for
   the rest, overlong and malformed lines are counted and dropped. */
typedef struct segq__progress_parser segq__progress_parser_t;

segq__progress_parser_t *segq__progress_parser_new (void);
void segq__progress_parser_destroy (segq__progress_parser_t **self_p);
int segq__progress_parser_feed (segq__progress_parser_t *self, const char *data, size_t size,
                                segq__progress_fn *fn, void *arg);
/* End of stream: a last line without its newline still counts. */
int segq__progress_parser_finish (segq__progress_parser_t *self, segq__progress_fn *fn, void *arg);
/* Lines rejected so far, and why the last one was. */
size_t segq__progress_parser_rejected (segq__progress_parser_t *self, const char **last_error);

/* Forwarding at most once per interval, the latest state winning. */
typedef struct {
    segq__progress_t state; /* everything reported so far, merged */
    bool pending;           /* changed since last sent */
    int64_t last_sent_ms;   /* 0 = never */
    int64_t interval_ms;
} segq__progress_limiter_t;

void segq__progress_limiter_init (segq__progress_limiter_t *self, int64_t interval_ms);
void segq__progress_limiter_clear (segq__progress_limiter_t *self);
/* Record an update; true when it should be sent now. */
bool segq__progress_limiter_update (segq__progress_limiter_t *self, const segq__progress_t *update,
                                    int64_t now_ms);
/* True when a held-back update is due at now_ms (or, with force, at all). */
bool segq__progress_limiter_due (segq__progress_limiter_t *self, int64_t now_ms, bool force);
/* Note that the state was sent at now_ms. */
void segq__progress_limiter_sent (segq__progress_limiter_t *self, int64_t now_ms);

/* ---- job_runner.c ---- */

#define SEGQ__PROGRESS_CHILD_FD 3 /* the fd number the child sees */

typedef struct {
    const char *path;       /* program to exec */
    char *const *argv;      /* NULL-terminated, argv[0] included */
    char *const *env;       /* NAME=VALUE added to (and overriding) the
                               daemon's environment; NULL-terminated or NULL */
    const char *cwd;        /* the job's directory */
    uint32_t time_limit_s;  /* 0 = none */
    uint32_t kill_grace_ms; /* TERM -> KILL */
    /* a generation server to run it (argv after the kind, env as given),
       instead of a child of its own; NULL: a child */
    segq__gen_server_t *server;
} segq__job_launch_t;

/* A failure's reason ends with the last non-empty line the child wrote:
   a longer one keeps its first HEAD bytes and its last TAIL, joined by
   " ... ", since its cause mostly comes last, after a long path. */
#define SEGQ__LAST_LINE_HEAD 120
#define SEGQ__LAST_LINE_TAIL 240
#define SEGQ__LAST_LINE_CUT  " ... "
#define SEGQ__LAST_LINE_MAX                                                                        \
    (SEGQ__LAST_LINE_HEAD + sizeof SEGQ__LAST_LINE_CUT - 1 + SEGQ__LAST_LINE_TAIL)

struct segq__job_exit {
    bool success;  /* exited with code 0, not aborted or timed out */
    int exit_code; /* -1 if killed by a signal */
    int signal;    /* 0 none */
    bool timed_out;
    bool aborted;
    char reason [512];  /* human text when !success, else "": for an exit
                           code or a signal, "...: LAST LINE OF OUTPUT" */
    double cpu_seconds; /* the child's user + system time (its own and its reaped
                           children's; a generation server's while it ran the
                           job); 0 unknown */
    uint64_t max_rss;   /* its largest resident memory, bytes; 0 unknown */
};                      /* segq__job_exit_t (gen_server.h) */

typedef struct {
    void (*on_log) (void *arg, const uint8_t *data, size_t size);
    segq__progress_fn *on_progress;
    /* Called once, last thing the runner does for this child; the owner may
       destroy the runner from inside it. */
    void (*on_exit) (void *arg, const segq__job_exit_t *status);
    void *arg;
} segq__job_callbacks_t;

typedef struct segq__job_runner segq__job_runner_t;

/* Start the child into *runner. Its pipes and timers live in `loop`.
   SIGCHLD must be blocked in the calling process (the owner reads it with
   signalfd and calls segq__job_runner_check). 0; SEGQ_ENOENT when the
   program could not be run in the job's directory (posix_spawn's chdir or
   exec failed: missing, not executable; the node's fault, not the job's);
   another error; err says why. */
int segq__job_runner_start (zloop_t *loop, const segq__job_launch_t *launch,
                            const segq__job_callbacks_t *callbacks, segq__job_runner_t **runner,
                            char *err, size_t errlen);
/* Ask the child to stop: TERM to its process group now, KILL after the
   grace period. `reason` becomes the exit's reason. Idempotent. */
void segq__job_runner_abort (segq__job_runner_t *self, const char *reason);
/* Reap the child if it has exited; then drains its pipes and calls on_exit.
   Returns true if it did (the runner may have been destroyed by then). */
bool segq__job_runner_check (segq__job_runner_t *self);
pid_t segq__job_runner_pid (segq__job_runner_t *self);
/* Kills the process group (KILL) if still alive and reaps it; no callback. */
void segq__job_runner_destroy (segq__job_runner_t **self_p);

/* Attributes for starting a job's process (or a generation server): a
   process group of its own, so TERM and KILL reach all it starts, every
   signal at its default and none blocked (the daemon blocks some). 0 or
   an errno; posix_spawnattr_destroy it after a 0. */
int segq__spawn_attr_init (posix_spawnattr_t *attr);

/* Block the signals the daemon reads through signalfd (SIGCHLD, SIGTERM,
   SIGINT, SIGHUP) in the calling thread, before any thread is created,
   and return the signalfd (CLOEXEC, non-blocking), or -1. */
int segq__signals_open (void);

/* ---- cache.c ---- */

/* segq_name_valid with a message saying what a name must be. */
int segq__name_check (const char *name, char *err, size_t errlen);

/* rm -rf (does not follow links). Missing path is fine. */
int segq__remove_tree (const char *path);

typedef struct segq__cache segq__cache_t;

/* max_bytes: above it, least recently used files are removed (0 = keep
   everything). */
segq__cache_t *segq__cache_new (const char *dir, uint64_t max_bytes, char *err, size_t errlen);
void segq__cache_destroy (segq__cache_t **self_p);
/* Path of the cached file for hash (it may not exist). */
void segq__cache_path (segq__cache_t *self, const char *hash, char *buf, size_t buflen);
/* Present with that size (and then marked as just used). */
bool segq__cache_has (segq__cache_t *self, const char *hash, uint64_t size);

/* A download into the cache: written to a temp file, hashed as it goes,
   renamed into place only when size and sha256 match. */
typedef struct segq__cache_write segq__cache_write_t;

segq__cache_write_t *segq__cache_write_begin (segq__cache_t *self, const char *hash, uint64_t size,
                                              char *err, size_t errlen);
int segq__cache_write_data (segq__cache_write_t *self, uint64_t offset, const void *data,
                            size_t size, char *err, size_t errlen);
/* Verify and rename; destroys the writer whatever the outcome. */
int segq__cache_write_commit (segq__cache_write_t **self_p, char *err, size_t errlen);
/* Throw away a partial download. */
void segq__cache_write_abort (segq__cache_write_t **self_p);

/* Laying out one content under a job's names for it: the first a hard
   link to the cached file, each name after it a link to the one before
   (the same file, which the cache can no longer take from the job) or,
   where a link cannot be made (EMLINK, EXDEV, EPERM), a copy that the
   names after it link to. More copies than
   SEGQ__LAYOUT_MAX_COPIES (a filesystem without hard links, and one
   content named that often) are refused: a peer naming one artifact many
   times must not make the worker fill its disk with copies. */
#define SEGQ__LAYOUT_MAX_COPIES 16

typedef struct {
    char src [8192]; /* what the next name links to: the cached file, then the name before */
    unsigned copies; /* made so far */
} segq__layout_t;

void segq__cache_layout_begin (segq__cache_t *self, const char *hash, segq__layout_t *layout);
/* The names after dir/name, one laid out already: they link to it. It
   counts as a copy, whether it was one or not, so the bound holds. */
void segq__cache_layout_resume (segq__layout_t *layout, const char *dir, const char *name);
/* Put the content at dir/name, creating parent directories. 0;
   SEGQ_EEXIST (a name given twice), SEGQ_EINVAL (a name that is not a
   safe relative path), SEGQ_ETOOBIG (a copy past the most), SEGQ_EIO or
   SEGQ_ENOSPC; err says why. */
int segq__cache_layout (segq__cache_t *self, segq__layout_t *layout, const char *dir,
                        const char *name, char *err, size_t errlen);
/* Tests only: a stand-in for link(2) in layouts (NULL: link(2) again). */
void segq__cache_set_link (segq__cache_t *self, int (*link_fn) (const char *from, const char *to));

/* Every regular file under dir, recursively, in name order, as artifacts
   (name = path relative to dir, size; hash left empty: the caller hashes
   them a slice at a time, so big outputs never stall the reactor).
   Anything else (links, fifos, ...) is reported through `skipped` (one call
   per entry) and left out. */
int segq__collect_outputs (const char *dir, segq_artifact_t **out, size_t *n_out,
                           void (*skipped) (void *arg, const char *name, const char *why),
                           void *arg, char *err, size_t errlen);
void segq__artifacts_free (segq_artifact_t **artifacts, size_t n);

/* Monotonic milliseconds. */
int64_t segq__now_ms (void);

#endif
