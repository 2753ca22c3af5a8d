/*  generate_check.h: what a generate job's submit can be refused for
    before it waits in the queue, from what its model says of itself.

    A generation's outputs are listed in one RESULT of at most max_msg
    bytes (segq_generate_names.h), and its pairs are named after the
    model's training image: a count whose list would not fit is refused
    at submit, not after hours of work on a worker. The catalogue knows
    the training image of a model or a training job (models.c); a model
    given as a file says it in its header, which is read here from the
    artifact store, as `segq submit` reads a local file and segq-run its
    model. So a client in any language also learns at submit that the
    file is no finished SinGAN-Seg model, or has no scale gen_start_scale
    names. Only the header is read (a bounded read, however large the
    file), and only once the access rule has let the caller use it. */
#ifndef SEGQ_GENERATE_CHECK_H
#define SEGQ_GENERATE_CHECK_H

#include "artifact_store.h"
#include "segq_proto.h"
#include <stddef.h>
#include <stdint.h>

/* 0 when the outputs of submit's generation of pairs of a model trained
   on image_name (NULL: one that does not say) fit a RESULT of max_msg
   bytes; else SEGQ_ETOOBIG, with err giving the most pairs that fit. A
   seed the broker will draw is reckoned at its largest. */
int segq__generate_check_count (const segq_submit_t *submit, const char *image_name,
                                uint32_t max_msg, char *err, size_t errlen);

/* A generate submit whose model is an uploaded file: its header read from
   the store and checked as above; any other submit: 0 without a read.
   SEGQ_EINVAL or SEGQ_ECORRUPT (no finished SinGAN-Seg checkpoint, or no
   such scale), SEGQ_ETOOBIG, SEGQ_EIO; err names the input and the
   artifact, never the broker's path. */
int segq__generate_check_model_file (segq__artifact_store_t *artifacts, const segq_submit_t *submit,
                                     uint32_t max_msg, char *err, size_t errlen);

#endif
