/*  accounting.h: what every run used, kept for `segq usage` and for fair
    share over time.

    One row per run that ended (an attempt that succeeded, failed, was
    cancelled while running, or went back to the queue with a lost worker),
    in the table `usage` of the job store (schema 7), written in the same
    transaction as the run's end. Rows keep no data names and outlive their
    job's files; a backup carries them.
*/
#ifndef SEGQ_ACCOUNTING_H
#define SEGQ_ACCOUNTING_H

#include "job_store.h"
#include "scheduler.h"

typedef struct {
    uint64_t job;
    uint32_t attempt;
    const char *owner;
    const char *kind;
    int outcome; /* the job's state after the run: final, or queued (lost) */
    double started, ended;
    uint32_t cpu_slots;
    uint64_t gpu_mem;
    double cpu_seconds; /* measured by the worker; 0 unknown */
    uint64_t max_rss;
    uint64_t gpu_peak;
} segq__run_usage_t;

/* Stores the run (inside the current transaction). */
int segq__accounting_record (segq__job_store_t *store, const segq__run_usage_t *run);

/* The runs that ended in [request->since, request->until), of
   request->of_user or everyone, grouped by request->by, ascending. More
   than SEGQ_USAGE_MAX_ROWS groups: SEGQ_ETOOBIG. The caller frees the
   rows (segq_usage_row_t's key) and the array. */
int segq__accounting_query (segq__job_store_t *store, const segq_usage_t *request,
                            segq_usage_row_t **rows, size_t *n_rows, char *err, size_t errlen);

/* Charges every user's past runs to the scheduler (at start, after its
   clock and half-life are set): runs that ended more than 32 half-lives
   ago count for less than a billionth and are skipped. */
int segq__accounting_charge_past (segq__job_store_t *store, segq__sched_t *sched,
                                  double half_life_s);

#endif
