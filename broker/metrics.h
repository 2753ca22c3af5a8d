/*  metrics.h: segqd's Prometheus metrics, GET /metrics on the HTTP
    listener (http.h), in the text exposition format 0.0.4.

    Two sources. Counters and histograms count things as they happen: the
    broker calls the small functions below where they happen (a submit
    accepted, a result, an error reply, a commit), and the job state
    machine tells segq__metrics_job_changed of every transition (jobs.h's
    observer), which keeps the jobs per state, kind and user and times each
    job's wait in the queue and its run. Gauges of what the broker holds in
    memory (workers, their GPUs and CPU slots, the artifact store's
    totals) are read at scrape time. No scrape reads SQLite.

    The jobs per state are seeded from the database when the broker starts
    and again after a failed turn's rebuild (segq__metrics_recount): the
    failed turn's transitions never reached the disk, so they are counted
    again from what did. Histograms and counters only grow: a turn rolled
    back may have observed a wait that is observed again when the job is
    dispatched anew. All of them start at 0 with segqd (Prometheus's
    rate() expects counters to reset with their process).

    Every function takes a NULL metrics as "none" and does nothing: the
    broker keeps metrics only when it serves HTTP. */
#ifndef SEGQ_METRICS_H
#define SEGQ_METRICS_H

#include "http.h"
#include "job_store.h"
#include "jobs.h"
#include <stdbool.h>
#include <stddef.h>

typedef struct segq__metrics segq__metrics_t;

/* What a worker's RESULT came to: segq_results_total{outcome}. */
typedef enum {
    SEGQ__RESULT_SUCCEEDED = 0, /* recorded: the job succeeded, ... */
    SEGQ__RESULT_FAILED,        /* ... failed, ... */
    SEGQ__RESULT_CANCELLED,     /* ... or ended as a cancel asked while it ran */
    SEGQ__RESULT_DUPLICATE,     /* the same result again (its ack was lost) */
    SEGQ__RESULT_STALE,         /* not the job's current attempt: fenced */
    SEGQ__RESULT_OUTCOMES
} segq__result_outcome_t;

segq__metrics_t *segq__metrics_new (void);
void segq__metrics_destroy (segq__metrics_t **self_p);

/* Jobs per state, kind and user, and when each active job entered its
   state, read again from the store: one pass over the jobs table, one
   look at each active job's last transition. 0, or SEGQ_EIO / SEGQ_ENOMEM
   with err saying what failed. */
int segq__metrics_recount (segq__metrics_t *self, segq__job_store_t *store, char *err,
                           size_t errlen);

/* segq__job_observer_fn (jobs.h); arg: the metrics. */
void segq__metrics_job_changed (void *arg, const segq__job_t *job, int from, int to, double now);

void segq__metrics_submit (segq__metrics_t *self);
void segq__metrics_result (segq__metrics_t *self, segq__result_outcome_t outcome);
/* An ERROR reply went out with this (negative) code. */
void segq__metrics_refusal (segq__metrics_t *self, int code);
/* A turn's commit that wrote something took this long. */
void segq__metrics_commit (segq__metrics_t *self, double seconds);

/* GET /metrics: the counters and histograms, and the gauges read from the
   broker now. */
segq__http_handler_fn segq__metrics_serve;

#endif
