/*  access.h: which artifacts a worker may download.

    Knowing a hash is no right to its data: clients fetch outputs of jobs
    they own (or, admins, any job's) by job and name; a worker fetches by
    hash only what a job running on it takes as an input, directly or as
    another job's output.
*/
#ifndef SEGQ_ACCESS_H
#define SEGQ_ACCESS_H

#include "job_store.h"
#include <stdbool.h>
#include <stddef.h>

typedef struct segq__access segq__access_t;

segq__access_t *segq__access_new (segq__job_store_t *store, char *err, size_t errlen);
void segq__access_destroy (segq__access_t **self_p);

/* Is `hash` an input of a job running on worker `node`? */
bool segq__access_worker_input (segq__access_t *self, const char *node, const char *hash);

#endif
