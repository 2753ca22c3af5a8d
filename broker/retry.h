/*  retry.h: a SUBMIT with `retry` (SPEC: SUBMIT) submits an ended job
    again.

    A training that ran out of its time limit, a generation that ran out
    of the GPU memory it declared: the user asks for the same job with more
    time or memory, without typing it again, and a training keeps the
    scales it finished. The job's kind, parameters, inputs and ordering
    are copied into the submission here, before any check, so the copy
    then goes through every check a SUBMIT does: the access rule included
    (a model unshared since refuses it), against the inputs as they are
    now. A job the copy names (an input's, an --after's) that failed and
    was retried since is replaced by its retry, so a chain (a training,
    then the generation that read it) retried in order runs again as a
    chain. Once stored, the new job gets the old one's newest checkpoint,
    which its first ASSIGN carries to resume from. */
#ifndef SEGQ_RETRY_H
#define SEGQ_RETRY_H

#include "access.h"
#include "job_store.h"
#include "segq_proto.h"
#include <stddef.h>

/* Fills a submit that names `retry` from that job (one retried already:
   from its newest retry, which it then names, ESTATE unless that failed
   or was cancelled too); leaves any other as it is. The job must be the
   caller's (EPERM), have ended failed or
   cancelled (ESTATE), not be purged (ENOENT), be of the submit's kind and
   the submit give no params, inputs or after of its own (EINVAL); the
   submit's resources, time limit and attempts where it gives them, else
   the job's. 0, or SEGQ_E* with err naming the job. */
int segq__retry_fill (segq__job_store_t *store, const segq__caller_t *caller, segq_submit_t *submit,
                      char *err, size_t errlen);

/* After a submit with `retry` is stored as job `id`: it is recorded as
   that job's retry (a later retry of a job that read the old one's
   outputs reads its outputs instead), and starts from the newest
   checkpoint of the one retried, if it recorded one. */
int segq__retry_record (segq__job_store_t *store, const segq_submit_t *submit, const char *id,
                        double now);

#endif
