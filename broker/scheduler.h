/*  scheduler.h: which queued job runs next, and where.

    Order: fair share across users first: among users with queued jobs that
    fit somewhere now, the one with the least usage goes next (a tie goes to
    the user served least recently). Usage, in weight-seconds, is what the
    user's jobs used in the past, decayed with a half-life (Slurm's fair
    share: yesterday's 200 GPU-hours still count, last month's hardly),
    plus what its running jobs have used so far, plus a charge of
    SEGQ_SCHED_RUNNING_CHARGE_S seconds of each running job up front, so
    that among users without a past the one with less running work goes
    first. A job's weight per second is its CPU slots plus its GPU memory
    in GiB (at least 1), Slurm's billing weights CPU=1, GPU memory=1/GiB. Within a user, priority
   (higher first), then submission order. Fit: a job asks for GPU memory on one GPU (several jobs
   share a GPU while their memory fits) and/or CPU slots; in-process kinds (noop) use no slot but at
   most `inproc_window` of them run on a node at once. A job that fits no free node never blocks the
   jobs behind it that do.

    Admin priority: a job whose priority is above SEGQ_SCHED_USER_PRIORITY_MAX
    (only an admin sets one) goes ahead of fair share: users holding such
    jobs come first, the highest such priority first, and within the user
    that job is the next one. Ordinary priorities order a user's own jobs.
    Hot models: among the nodes where a job fits, one that holds the job's
    model loaded (its affinity key; a worker's generation server, on the
    GPU the job would get or on its CPUs) goes first, the best fit after.

    Per-user limits (segq__sched_limits_fn): a user at its running-job limit
    leaves the user heap until one of its jobs ends, so it costs dispatch
    nothing; a class whose GPU memory would take the user over its GPU
    limit is passed over like one that fits no node. Limits are hard: an
    admin priority does not lift them.

    Cost: queued jobs sit in one priority heap per (user, resource class),
    a class being (kind, gpu_mem, cpu_slots); users sit in a heap keyed by
    usage. Dispatch looks at the top of each class heap of the users
    it visits, never at the jobs behind them, so its cost depends on users,
    classes and nodes, not on how many jobs are queued.
*/
#ifndef SEGQ_SCHEDULER_H
#define SEGQ_SCHEDULER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define SEGQ_SCHED_MAX_KINDS         64      /* kinds are bits of a node's mask */
#define SEGQ_SCHED_USER_PRIORITY_MAX 1000000 /* above: ahead of fair share (admins) */
#define SEGQ_SCHED_UNLIMITED         UINT64_MAX
/* A running job counts as if it had run this long already (one of
   Slurm's decay periods): a burst of jobs from users without a past is
   shared out by running work, not by who asked first. */
#define SEGQ_SCHED_RUNNING_CHARGE_S 300.0
/* The clock's resolution: a smaller move is ignored (segq__sched_set_now). */
#define SEGQ_SCHED_CLOCK_STEP_S 0.01

typedef struct segq__sched segq__sched_t;
typedef struct segq__sched_user segq__sched_user_t;
typedef struct segq__sched_class segq__sched_class_t;
typedef struct segq__sched_node segq__sched_node_t;

/* The scheduler's part of a job; the owner embeds it. The caller sets the
   request fields before enqueueing; the rest belongs to the scheduler. */
typedef struct segq__sched_job {
    uint64_t seq; /* submission order (the job number) */
    int32_t priority;
    uint16_t kind; /* index in the kind table, < SEGQ_SCHED_MAX_KINDS */
    bool in_process;
    uint64_t gpu_mem; /* bytes on one GPU; 0 = no GPU */
    uint32_t cpu_slots;
    uint64_t affinity; /* the model it takes (a key of its checkpoint), 0 none */
    segq__sched_user_t *user;
    double started; /* when it began running; set by dispatch, by the caller before adopt */
    /* scheduler-owned */
    segq__sched_class_t *klass; /* while queued */
    size_t heap_pos;
    bool running;                        /* counted in its user's running work */
    segq__sched_node_t *node;            /* while running on a node */
    int32_t gpu;                         /* GPU index on that node, -1 none */
    struct segq__sched_job *prev, *next; /* the node's running list */
} segq__sched_job_t;

typedef struct {
    uint32_t index;
    uint64_t mem_total;
} segq__sched_gpu_t;

typedef struct {
    uint64_t max_running; /* jobs; SEGQ_SCHED_UNLIMITED = none */
    uint64_t max_gpu_mem; /* bytes requested by its running jobs */
} segq__sched_limits_t;

/* Asked once per user, when the scheduler first sees it. */
typedef segq__sched_limits_t (segq__sched_limits_fn) (void *arg, const char *user);

typedef void (segq__sched_assign_fn) (void *arg, segq__sched_job_t *job, segq__sched_node_t *node,
                                      int32_t gpu);

segq__sched_t *segq__sched_new (void);
void segq__sched_destroy (segq__sched_t **self_p);

/* Where per-user limits come from (set before the first user; without
   it users are unlimited). */
void segq__sched_set_limits_fn (segq__sched_t *self, segq__sched_limits_fn *fn, void *arg);
/* Asks the limits function again for every user (the configuration was
   re-read): a user now over its running limit leaves the queue's turn,
   one under it comes back. */
void segq__sched_reload_limits (segq__sched_t *self);
segq__sched_limits_t segq__sched_user_limits (const segq__sched_user_t *user);

/* The clock of fair share over time. Usage decays by half every
   half_life seconds (0: the past counts for nothing, only running work).
   Time only moves forward, by at least SEGQ_SCHED_CLOCK_STEP_S: an
   earlier or a nearer `now` is ignored. Moving it
   reorders the users (O(users), never O(jobs)). */
void segq__sched_set_half_life (segq__sched_t *self, double half_life_s);
void segq__sched_set_now (segq__sched_t *self, double now);
double segq__sched_now (const segq__sched_t *self);
/* Past usage (weight-seconds) that ended at `at`, e.g. from the
   accounting table at start. Counted decayed from `at` to now. */
void segq__sched_user_charge (segq__sched_t *self, segq__sched_user_t *user, double usage,
                              double at);
/* The user's usage now as the order sees it, without the up-front
   charge: decayed past plus what its running jobs used so far. */
double segq__sched_user_usage (const segq__sched_t *self, const segq__sched_user_t *user);
/* A job's weight per second of running. */
double segq__sched_job_weight (const segq__sched_job_t *job);

/* The user of that name (created on first use; users are few and kept). */
segq__sched_user_t *segq__sched_user (segq__sched_t *self, const char *name);
const char *segq__sched_user_name (const segq__sched_user_t *user);
uint32_t segq__sched_user_running (const segq__sched_user_t *user);
uint64_t segq__sched_user_gpu_mem (const segq__sched_user_t *user);
/* Jobs of the user not yet running (waiting or queued): the job owner
   keeps this count (the scheduler sees only queued ones) for the
   queued-jobs limit. */
void segq__sched_user_pending_add (segq__sched_user_t *user, int64_t delta);
uint64_t segq__sched_user_pending (const segq__sched_user_t *user);

/* Queue a job (not queued, not running). SEGQ_ENOMEM, SEGQ_EINVAL. */
int segq__sched_enqueue (segq__sched_t *self, segq__sched_job_t *job);
/* Take a queued job out of the queue (cancel). */
void segq__sched_dequeue (segq__sched_t *self, segq__sched_job_t *job);
size_t segq__sched_queued (const segq__sched_t *self);
/* A queued job's priority changed: it takes its new place (O(log n)). */
void segq__sched_set_priority (segq__sched_t *self, segq__sched_job_t *job, int32_t priority);

/* Nodes (workers). gpus is copied. */
segq__sched_node_t *segq__sched_node_new (segq__sched_t *self, void *owner, uint32_t cpu_slots,
                                          const segq__sched_gpu_t *gpus, size_t n_gpus,
                                          uint64_t kinds_mask, uint32_t inproc_window);
/* Remove a node; its running jobs must have been released first. */
void segq__sched_node_destroy (segq__sched_t *self, segq__sched_node_t **node_p);
void *segq__sched_node_owner (const segq__sched_node_t *node);
/* The models a node holds loaded now (the last its worker reported),
   each on a GPU (its index) or on its CPUs (-1); at most
   SEGQ_SCHED_MAX_HOT are kept. Replaces what it held before. */
#define SEGQ_SCHED_MAX_HOT 64
typedef struct {
    int32_t gpu;
    uint64_t key; /* as segq__sched_job_t affinity */
} segq__sched_hot_t;
void segq__sched_node_set_hot (segq__sched_node_t *node, const segq__sched_hot_t *hot, size_t n);
/* The key of a model: the first 64 bits of its checkpoint's sha256 (hex);
   never 0, which means none. */
uint64_t segq__sched_key (const char *sha256);
void segq__sched_node_set_accepting (segq__sched_node_t *node, bool accepting);
/* First running job on the node (follow ->next), or NULL. */
segq__sched_job_t *segq__sched_node_running (const segq__sched_node_t *node);
uint32_t segq__sched_node_cpu_used (const segq__sched_node_t *node);
/* Memory reserved on the node's GPU `index`. */
uint64_t segq__sched_node_gpu_used (const segq__sched_node_t *node, uint32_t index);

/* A running job found again: on `node` (reserving its request there, on
   GPU `gpu` if the node has it), or on no node yet (node NULL: it counts
   as its user's running work while the broker waits for its worker). */
void segq__sched_adopt (segq__sched_t *self, segq__sched_job_t *job, segq__sched_node_t *node,
                        int32_t gpu);
/* A running job ended (or goes back to the queue): its reservation and
   its place in its user's running work are freed. */
void segq__sched_release (segq__sched_t *self, segq__sched_job_t *job);

/* Assign up to max queued jobs to nodes with free capacity, calling fn for
   each (the job is then running on that node). Returns how many. */
size_t segq__sched_dispatch (segq__sched_t *self, size_t max, segq__sched_assign_fn *fn, void *arg);

/* Whether any node that runs the job's kind could hold it when idle. */
bool segq__sched_fits_total (const segq__sched_t *self, const segq__sched_job_t *job);
/* ... one that takes new jobs (not draining). */
bool segq__sched_fits_accepting (const segq__sched_t *self, const segq__sched_job_t *job);
/* Whether any node runs the kind at all. */
bool segq__sched_runs_kind (const segq__sched_t *self, uint16_t kind);
/* The largest GPU memory, and the most CPU slots, of one node that runs
   the kind (0 when none): what a waiting job is told it is up against. */
uint64_t segq__sched_largest_gpu (const segq__sched_t *self, uint16_t kind);
uint32_t segq__sched_largest_cpu (const segq__sched_t *self, uint16_t kind);

#endif
