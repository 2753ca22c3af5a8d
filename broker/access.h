/*  access.h: the one access rule for data held by the broker.

    A job, a job array and a stored artifact are patient data until shown
    otherwise. Every way a request can name them goes through here:

    - a user (or a job a user submits) reads a job's inputs, outputs and
      log only if that user owns the job, or is an admin;
    - a job array, only if the user may read every job in it;
    - a bare artifact hash, only if the user uploaded that very content,
      or may read a job that holds it as an input or an output: knowing a
      hash is no right to its data;
    - a catalogue model (models.h), by name or id, as the input of a job
      that takes a model, if the user owns it, it is shared with them (or
      with the lab), or they are an admin. Sharing grants that form only:
      never the training job, its outputs (image, mask, previews, losses)
      or the checkpoint's bytes by hash, even to the jobs the user made
      from it, whose model input only their worker reads;
    - a worker reads by hash only what a job running on it takes as an
      input (directly or as another job's output), or the checkpoint that
      job resumes from; and names as a job's output only bytes it sent.

    Without keys there are no roles: the rule holds for the user name the
    client sends, and nobody is an admin. */
#ifndef SEGQ_ACCESS_H
#define SEGQ_ACCESS_H

#include "artifact_store.h"
#include "job_store.h"
#include "segq_proto.h"
#include <stdbool.h>
#include <stddef.h>

typedef struct segq__access segq__access_t;

/* Who a request acts for. */
typedef struct {
    const char *user; /* the certificate's name with keys, the client's claim without */
    bool admin;
} segq__caller_t;

segq__access_t *segq__access_new (segq__job_store_t *store, segq__artifact_store_t *artifacts,
                                  char *err, size_t errlen);
void segq__access_destroy (segq__access_t **self_p);

/* How a request names data. */
typedef enum {
    SEGQ__FORM_MODEL = 1, /* a catalogue model by name or id, as a job's input */
    SEGQ__FORM_JOB,       /* a job, or JOB:OUTPUT: its inputs, outputs, log */
    SEGQ__FORM_ARRAY,     /* a job array */
    SEGQ__FORM_HASH,      /* an artifact by its bare hash */
    SEGQ__FORM_CHANGE     /* changing or removing what is named (a model's name, shares) */
} segq__form_t;

/* What its owner shared it with (models only). */
typedef enum {
    SEGQ__SHARE_NONE = 0,
    SEGQ__SHARE_USER, /* with this caller by name */
    SEGQ__SHARE_LAB   /* with everyone on the broker */
} segq__share_t;

/* The rule's core, the same for every form: may caller reach, in this
   form, data `owner` owns and shared so? (A hash's other proof, having
   sent its bytes, is segq__access_hash's.) */
bool segq__access_rule (const segq__caller_t *caller, const char *owner, segq__share_t share,
                        segq__form_t form);

/* segq__access_rule of unshared data: may caller read what `owner` owns? */
bool segq__access_owner (const segq__caller_t *caller, const char *owner);

/* May caller read job `number`? 0 yes; SEGQ_EPERM no; SEGQ_ENOENT no
   such job. err says which, naming `job` as the caller wrote it. */
int segq__access_job (segq__access_t *self, const segq__caller_t *caller, uint64_t number,
                      const char *job, char *err, size_t errlen);

/* May caller read the artifact with this hash (see above)? */
bool segq__access_hash (segq__access_t *self, const segq__caller_t *caller, const char *hash);

/* Every data reference of a submit (job, JOB:OUTPUT, array, hash) checked
   against the rule, before anything is stored. 0, or SEGQ_EPERM with err
   naming the input and what it refers to. Unknown references pass: the
   submit's own checks name them. */
int segq__access_submit (segq__access_t *self, const segq__caller_t *caller,
                         const segq_submit_t *submit, char *err, size_t errlen);

/* Remembers that `user` (or, with user NULL, worker `node`) uploaded the
   content `hash`: proof of possession. Written in the store's open
   transaction, like the rest of a turn. */
int segq__access_uploaded (segq__access_t *self, const char *user, const char *node,
                           const char *hash);

/* Is `hash` an input of a job running on worker `node`? */
bool segq__access_worker_input (segq__access_t *self, const char *node, const char *hash);

/* May worker `node` name `hash` as an output or checkpoint of a job it
   runs? Only if it uploaded those bytes, or they are an input of a job
   running on it (an echo): a worker certificate is no way to move other
   jobs' data into a job it runs. */
bool segq__access_worker_output (segq__access_t *self, const char *node, const char *hash);

#endif
