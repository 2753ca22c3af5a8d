/*  offload.h: blocking work run off the broker's one thread.

    The broker serves every peer from one thread, so whatever waits on the
    disk there (an upload's fsyncs and rename: a few tenths of a
    millisecond a file here, tens on a busy or network disk) makes every
    client and worker wait too. Such work is handed to a few threads: each
    job's `work` runs on one of them, and touches only what the job owns;
    its `done` runs later on the broker's thread, from segq__offload_deliver,
    which the broker calls when segq__offload_fd is readable (a zloop
    poller). Jobs start in the order given; several may run at once (the
    disk takes concurrent fsyncs together). */
#ifndef SEGQ_OFFLOAD_H
#define SEGQ_OFFLOAD_H

#include <stddef.h>

typedef struct segq__offload segq__offload_t;
typedef void (segq__offload_fn) (void *arg);

/* Starts `threads` threads (1 or more). NULL with err when it cannot. */
segq__offload_t *segq__offload_new (size_t threads, char *err, size_t errlen);

/* Lets the jobs already handed over finish their work, then stops the
   threads. The `done` of jobs not yet delivered is not called: what their
   arg points to stays its owner's to free. */
void segq__offload_destroy (segq__offload_t **self_p);

/* Readable while finished jobs wait for segq__offload_deliver. */
int segq__offload_fd (segq__offload_t *self);

/* Hands a job over: work (arg) on a thread, then done (arg) on the caller's.
   0, or SEGQ_ENOMEM (nothing was handed over). */
int segq__offload_run (segq__offload_t *self, segq__offload_fn *work, segq__offload_fn *done,
                       void *arg);

/* Calls done for each job whose work has finished, in the order they
   finished; returns how many. */
size_t segq__offload_deliver (segq__offload_t *self);

#endif
