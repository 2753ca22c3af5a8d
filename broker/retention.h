/*  retention.h: purging jobs' artifacts, at once (PURGE) or after the
    retention period (a bounded sweep on the broker's timer).

    Purging a job marks it in the database (jobs.purged, purged_by) inside
    the current transaction and queues its files for removal: its outputs,
    the inputs no job that is not purged refers to, and its log. The files
    go only once that transaction is durable (the WAL synced past its
    commit), and each artifact is checked again just before: a job
    submitted since may refer to it. A job whose outputs a job that has not
    ended (waiting, queued, running) takes as an input is never purged.
*/
#ifndef SEGQ_RETENTION_H
#define SEGQ_RETENTION_H

#include "artifact_store.h"
#include "job_log.h"
#include "job_store.h"
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef struct segq__retention segq__retention_t;

/* retention_s 0: keep artifacts until purged by hand. */
/* started: the broker's start, on the clock purge times are stored with;
   purges before it that a crash left half done are finished by recheck. */
segq__retention_t *segq__retention_new (segq__job_store_t *store, segq__artifact_store_t *artifacts,
                                        segq__job_log_t *logs, double retention_s, double started,
                                        char *err, size_t errlen);
void segq__retention_destroy (segq__retention_t **self_p);

typedef struct {
    uint32_t files;      /* artifacts queued for removal */
    uint64_t bytes;      /* their size */
    uint32_t kept_files; /* the job's artifacts other jobs still refer to: kept */
    uint64_t kept_bytes; /* their size */
} segq__purge_stats_t;

/* Purges one job in the current transaction. `by` is the user's name or
   "retention". ENOENT (unknown), ESTATE (not ended, or needed by a job that
   has not ended: err says which), EIO. A job purged before: 0, and
   *already set with err saying when and by whom. */
int segq__retention_purge (segq__retention_t *self, uint64_t job, const char *by, double now,
                           bool *already, segq__purge_stats_t *stats, char *err, size_t errlen);

/* Purges at most max_jobs jobs that ended more than the retention ago
   (none if retention is off), calling fn (if not NULL) for each. Returns
   how many it looked at, or a negative code. */
typedef void (segq__purged_fn) (void *arg, uint64_t job, const segq__purge_stats_t *stats);
int segq__retention_sweep (segq__retention_t *self, double now, size_t max_jobs,
                           segq__purged_fn *fn, void *arg);

/* Once after start, a batch per call until done: removes the files of
   purged jobs that a crash between a purge's commit and its unlinks left
   (still checking that no unpurged job refers to them). Returns how many
   jobs it looked at (0 once done), or a negative code when a read failed:
   the jobs not done then are looked at again at the next call. Outside
   transactions only. */
int segq__retention_recheck (segq__retention_t *self, size_t max_jobs);

/* Removes a stored artifact once the open transaction is durable, unless
   something refers to it then: a training's checkpoint that a newer one
   replaced is patient-derived data nothing will ever read again. */
int segq__retention_forget (segq__retention_t *self, const char *hash);

/* The turn's transaction: committed as commit number `commit`, or rolled
   back (its queued removals are forgotten). */
void segq__retention_committed (segq__retention_t *self, uint64_t commit);
void segq__retention_rolled_back (segq__retention_t *self);
/* The WAL is synced past `commit`: remove the files queued up to it. */
void segq__retention_synced (segq__retention_t *self, uint64_t commit);

/* If the job's artifacts were purged: true, with "purged on DATE by WHO"
   in text. */
bool segq__retention_purged (segq__retention_t *self, uint64_t job, char *text, size_t len);

double segq__retention_seconds (segq__retention_t *self);

#endif
