/*  e2e_queue.h: helpers of the end-to-end tests that drive real segqd,
    segq-worker and segq processes (through harness.h). A failure fails the
    test, after the processes' logs are shown. */
#ifndef E2E_QUEUE_H
#define E2E_QUEUE_H

#include <stddef.h>
#include "harness.h"

void e2e_sleep_ms (long ms);
double e2e_now (void); /* monotonic seconds */
/* `segq submit ...` (argv without "segq"); the job id into id. */
void e2e_submit (harness_t *h, const char *const *argv, char *id, size_t len);
/* `segq logs JOB` into out. */
void e2e_logs (harness_t *h, const char *job, char *out, size_t len);
/* The highest K of the worker's "checkpoint of step K recorded" notes in a
   job's log, 0 if none. */
int e2e_last_recorded (const char *log);
/* How many processes run job of this harness (SEGQ_JOB_ID=job and
   SEGQ_OUTPUT_DIR under h's directory in their environment: job ids of
   other tests' brokers are the same) and, if attempt > 0, that attempt:
   the job's children, seen from outside. *gpu (if not NULL) gets the last
   one's CUDA_VISIBLE_DEVICES, -1 if it has none. */
int e2e_job_processes (harness_t *h, const char *job, unsigned attempt, int *gpu);

#endif
