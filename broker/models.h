/*  models.h: the catalogue of trained models.

    A training that succeeds registers a model: its training job is the
    model (its key; the id is "m-" and the job's id), its owner the job's,
    its name given at submit (train's `name`) or the source image's, unique
    among the owner's models. The catalogue keeps what the training job
    does not: the name, tags, a note, who it is shared with, the pin, and
    the shape the training reported. Everything else a user sees of a
    model (source image and mask with their sha256, the checkpoint's hash
    and size, the training's parameters) is read from the training job, so
    the two cannot disagree.

    Who may use or change a model is the access rule's (access.h: a model
    shared with a user lets them name it as a generate input, nothing
    more). Rows live in the broker's database, written in the turn's
    transaction like every other change: they survive restarts, crashes
    and backups with the jobs. */
#ifndef SEGQ_MODELS_H
#define SEGQ_MODELS_H

#include "access.h"
#include "job_store.h"
#include "segq_proto.h"
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef struct segq__models segq__models_t;

/* Opens the catalogue on the store's database and registers the models of
   trainings that succeeded before the catalogue existed (once). */
segq__models_t *segq__models_new (segq__job_store_t *store, char *err, size_t errlen);
void segq__models_destroy (segq__models_t **self_p);

/* With keys the broker knows its users: a share then names only users
   known(arg, USER) says exist (a mistyped name would wait, shared, for
   whoever gets it later). Without a check, any valid name is taken. */
typedef bool (segq__known_user_fn) (void *arg, const char *user);
void segq__models_set_users (segq__models_t *self, segq__known_user_fn *known, void *arg);

/* The shape a training reported (its last progress metrics); 0: unknown. */
typedef struct {
    uint32_t scales, height, width;
    uint32_t scales_total; /* the scales its training meant to train */
} segq__model_shape_t;

/* Registers the model of training `job`, which has just succeeded, in the
   open transaction. Its name: the job's `name` parameter, else its source
   image's file name without extension, made unique among the owner's
   models ("polyp-2"). 0, or a store error. */
int segq__models_register (segq__models_t *self, uint64_t job, const segq__model_shape_t *shape,
                           double now);

/* The model `ref` (NAME, m-ID or OWNER/NAME) names for caller, if they may
   use it (FORM_MODEL). A bare NAME is the caller's own model of that
   name, else the one model of that name shared with them. 0 with *job
   set; SEGQ_ENOENT (none they may use), SEGQ_EINVAL (ambiguous or not a
   name), SEGQ_EIO (the catalogue could not be read), with err saying
   which and what to do. */
int segq__models_find (segq__models_t *self, const segq__caller_t *caller, const char *ref,
                       uint64_t *job, char *err, size_t errlen);

/* Resolves every input of submit that names a model (input->model): to
   the model's checkpoint (hash and size) and its id, by the rule. Refused
   with err naming the input: a model the caller may not use (ENOENT, as
   for one that does not exist), one whose training was purged (ENOENT), an
   input that cannot take a model (EINVAL), a gen_start_scale above 0 from
   a model the caller does not own (EPERM: from scale k on the generator
   starts from the training image's own reconstruction). A reference that
   names no model but is a job id becomes that job reference (the JOB form
   of older clients). A generation from a model whose outputs' list could
   not fit one RESULT of max_msg bytes is refused (ETOOBIG), saying how many
   pairs do. A store that cannot be read fails it (EIO, err saying what). */
int segq__models_resolve_submit (segq__models_t *self, const segq__caller_t *caller,
                                 segq_submit_t *submit, uint32_t max_msg, char *err, size_t errlen);

/* The catalogue's id and name of the model job `job` takes as its input
   `input` (named as a model, or as a training job's output): for the
   manifest a generation writes. 0, SEGQ_ENOENT, or SEGQ_EIO. */
int segq__models_of_input (segq__models_t *self, uint64_t job, const char *input,
                           char id [SEGQ__JOB_ID_MAX + 2], char *name, size_t name_len);

/* Whether job `job` is the training of a pinned model (retention keeps it):
   1, 0, or SEGQ_EIO (a failed read is not "not pinned"). */
int segq__models_pinned (segq__models_t *self, uint64_t job);

/* The generations from the model of training `job` that have not started
   (waiting, queued or held) and whose owner may no longer use it (not
   shared with them or the lab, or removed), into *jobs (theirs to free):
   an unshare reaches them too, as a held job could wait for ever. 0,
   ENOMEM or EIO. */
int segq__models_unshared_jobs (segq__models_t *self, uint64_t job, uint64_t **jobs, size_t *n);

/* Carries out a MODEL request for caller, filling reply (models, next).
   0, or a code with err saying what was wrong: ENOENT (no model the caller
   may use), EPERM (not theirs to change), EINVAL (a bad name, tag or user),
   EEXIST (the name is taken), EIO. Changes are written in the open
   transaction. */
int segq__models_request (segq__models_t *self, const segq__caller_t *caller,
                          const segq_model_t *request, segq_model_reply_t *reply, char *err,
                          size_t errlen);

#endif
