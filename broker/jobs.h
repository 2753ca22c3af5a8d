/*  jobs.h: the job state machine over the store and the scheduler.

        waiting --> queued --> running --> succeeded | failed | cancelled
           |          |          |
           +----------+----------+--> failed (dependency), cancelled
                                 +--> queued (worker lost; failed after max attempts)

    Every transition is checked against this machine, stored with its time
    and reason in the current transaction, and reflected in memory: active
    jobs (waiting, queued, running) live in a map by number; queued ones
    also in the scheduler; finished ones only in the database.
*/
#ifndef SEGQ_JOBS_H
#define SEGQ_JOBS_H

#include "artifact_store.h"
#include "job_store.h"
#include "scheduler.h"
#include "segq_config.h"

typedef struct {
    double fraction;
    char *phase;
    char *message;
    segq_params_t metrics;
} segq__progress_t;

/* What a worker measured of a run (RESULT); 0 where it could not. */
typedef struct {
    double cpu_seconds;
    uint64_t max_rss;
    uint64_t gpu_peak;
} segq__measured_t;

typedef struct segq__job {
    segq__sched_job_t sched; /* first: the scheduler hands it back */
    uint8_t state;           /* segq_job_state_t */
    bool has_inputs;
    uint32_t attempt; /* attempts started so far */
    uint32_t max_attempts;
    uint32_t time_limit_s;
    uint32_t n_transitions;
    uint32_t n_pending; /* dependencies not yet succeeded */
    char *cancel;       /* cancel asked while running: the reason */
    char *orphan_node;  /* running, its worker not back since a restart */
    double orphan_deadline;
    segq__progress_t *progress; /* running only */
    uint64_t log_received;      /* bytes of this attempt's log stored */
    uint64_t log_lost;          /* ... received but not written (a full disk), not yet said */
    int32_t last_gpu;           /* GPU index of the latest attempt, -1 none */
    bool held;                  /* `segq hold`: kept out of the scheduler */
    char *lost_from;            /* queued: the node whose attempt it is, if it may take it back */
    double attempt_started;     /* when the latest attempt began running */
    segq__measured_t measured;  /* what the worker measured of the ending run */
} segq__job_t;

typedef struct segq__jobs segq__jobs_t;

/* Told of every state change once it is written in the turn's transaction
   (from 0: a new job), with its time: the broker's metrics (metrics.h)
   count jobs per state and time their waits and runs from it. */
typedef void (segq__job_observer_fn) (void *arg, const struct segq__job *job, int from, int to,
                                      double now);

typedef struct {
    uint32_t max_attempts;       /* default for a submit that gives 0 */
    uint32_t time_limit_s;       /* default for a submit that gives 0 (0 = none) */
    double orphan_grace_s;       /* how long a running job waits for its worker after a restart */
    const segq_config_t *limits; /* per-user limits and kinds' default resources; NULL: none */
    segq__job_observer_fn *observe; /* or NULL */
    void *observer;
} segq__jobs_config_t;

/* Whether the machine allows from -> to. */
bool segq__job_transition_allowed (int from, int to);

segq__jobs_t *segq__jobs_new (segq__job_store_t *store, segq__sched_t *sched,
                              segq__artifact_store_t *artifacts, const segq__jobs_config_t *config);
void segq__jobs_destroy (segq__jobs_t **self_p);

/* Rebuilds memory from the database: queued jobs back in the scheduler,
   waiting ones with their dependencies, running ones as orphans waiting
   for their worker until now + orphan_grace_s. */
int segq__jobs_load (segq__jobs_t *self, double now, char *err, size_t errlen);

/* Validates and stores a new job (inside the current transaction). On a
   refusal nothing is stored and err says why. */
int segq__jobs_submit (segq__jobs_t *self, const segq_submit_t *submit, double now,
                       char id_out [SEGQ__JOB_ID_MAX], char *err, size_t errlen);

segq__job_t *segq__jobs_find (segq__jobs_t *self, uint64_t number);
size_t segq__jobs_active (segq__jobs_t *self);
const char *segq__job_kind_name (const segq__job_t *job);

/* queued -> running on node `worker` (the scheduler has reserved it). */
int segq__jobs_start (segq__jobs_t *self, segq__job_t *job, const char *worker, int32_t gpu,
                      double now);
/* A running job found on a worker again (after a restart or reconnect). */
void segq__jobs_adopt (segq__jobs_t *self, segq__job_t *job);
/* queued -> running again, same attempt: the worker that ran the job's
   latest attempt came back with it before anyone else got it (it was only
   briefly silent). The caller reserves its place on that worker. */
int segq__jobs_reclaim (segq__jobs_t *self, segq__job_t *job, const char *worker, double now);
/* running -> succeeded / failed (or cancelled if a cancel was asked).
   Outputs must be stored artifacts. */
int segq__jobs_finish (segq__jobs_t *self, segq__job_t *job, bool success, const char *reason,
                       int32_t exit_code, int32_t signal, const segq_artifact_t *outputs,
                       size_t n_outputs, double now);
/* running -> queued (its worker is gone), or failed after max attempts, or
   cancelled if a cancel was asked. node: the worker that may take the
   attempt back if it returns with it before the job starts again (a
   worker gone quiet), NULL if none may. */
int segq__jobs_lost (segq__jobs_t *self, segq__job_t *job, const char *why, const char *node,
                     double now);
/* Cancel: waiting/queued at once (*abort false); running: remembered, and
   the caller sends the worker ABORT (*abort true). An ended job: ESTATE,
   another user's: EPERM, each with err. */
int segq__jobs_cancel (segq__jobs_t *self, uint64_t number, const char *user, double now,
                       bool *abort_out, char *err, size_t errlen);
/* A waiting or queued job cancelled for reason, not by its owner (the
   model it generates from was unshared); a running or ended one is left
   as it is. */
int segq__jobs_withdraw (segq__jobs_t *self, uint64_t number, const char *reason, double now);
/* A waiting or queued job's new priority (SPEC: PRIORITY). Only its owner
   changes it unless as_admin; a priority outside the user band needs
   may_raise. EPERM / ESTATE / ENOENT with err saying why. */
int segq__jobs_set_priority (segq__jobs_t *self, uint64_t number, int32_t priority,
                             const char *user, bool as_admin, bool may_raise, int32_t *previous,
                             char *err, size_t errlen);
/* The per-user limits and kinds' resources from now on (a reload): the
   scheduler asks again for every user. limits must outlive the jobs. */
void segq__jobs_set_limits (segq__jobs_t *self, const segq_config_t *limits);
/* Holds (release false) or releases a waiting or queued job: a held job
   stays out of the scheduler until released (SPEC: HOLD). Only its owner
   unless as_admin. EPERM / ESTATE / ENOENT with err saying why. */
int segq__jobs_hold (segq__jobs_t *self, uint64_t number, bool release, const char *user,
                     bool as_admin, char *err, size_t errlen);
/* Running jobs still waiting for their worker since a restart. */
size_t segq__jobs_orphans (segq__jobs_t *self, segq__job_t ***list_out);
/* The worker `node` registered again: its orphans it did not claim are
   requeued (or failed after max attempts). */
int segq__jobs_lose_orphans_of (segq__jobs_t *self, const char *node, double now);
/* Requeues orphans whose worker did not come back in time. */
int segq__jobs_expire_orphans (segq__jobs_t *self, double now);

#endif
