/*  style_default.h: the style a stylize job takes when its submitter
    names none.

    SinGAN-Seg restyles each generated pair with the real image its model
    was trained on. Through the queue that image is an input of the
    training job, not a file beside the pairs, so a stylize submitted
    without `style` whose `content` is a generate job's output (or a
    stylize of one) gets, at submit, the training image of that job's
    model as its style input:
    the same artifact (or the same reference to another job's output) the
    training read. Resolving it here, where the submit is accepted, means
    any client gets the paper's default, and a job that could not find its
    style is refused while its submitter is there, not failed on a worker.

    The training image is patient data: only the training's owner (or an
    admin) may take it as a style. A model shared with a caller gives them
    pairs, never its image, so their stylize needs a style of their own.
    The input this adds is then checked by the access rule like any
    other (access.h). */
#ifndef SEGQ_STYLE_DEFAULT_H
#define SEGQ_STYLE_DEFAULT_H

#include "access.h"
#include "job_store.h"
#include "models.h"
#include "segq_proto.h"
#include <stddef.h>

/* Adds the default style input to a stylize submit that has none and
   whose content is one job's output; leaves any other submit as it is.
   0; or, with err naming the input and what to pass instead: SEGQ_EINVAL
   (content is not a generate job's, or its model is a checkpoint file
   whose training the broker does not know), SEGQ_EPERM (the training
   image is another user's), SEGQ_ENOENT (it was purged), SEGQ_ENOMEM,
   SEGQ_EIO. A content job the caller may not read is left to the access
   rule, which refuses it without this saying anything about it. */
int segq__style_default_resolve (segq__job_store_t *store, segq__models_t *models,
                                 const segq__caller_t *caller, segq_submit_t *submit, char *err,
                                 size_t errlen);

#endif
