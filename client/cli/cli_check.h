/*  cli_check.h: a job's local files checked as segq-run will read them,
    before anything is sent. A training image that does not decode, a mask
    of another size, an image too small for the pyramid, a model file that
    is no finished SinGAN-Seg checkpoint: refused at submit, naming the
    file and the problem, instead of failing later on a worker. The checks
    are segq-run's own functions (segq_image_read_training, segq_ckpt.h),
    so the two cannot disagree. Inputs named by reference (a job's output,
    a catalogue model, a hash) are the broker's to check. */
#ifndef SEGQ_CLI_CHECK_H
#define SEGQ_CLI_CHECK_H

#include "cli_submit.h"

/* The job's parameters as segq-run gets them: as typed, defaults filled
   in, validated by the kind's table (ranges and rules between them). */
int cli_check_params (const cli_submit_args_t *s, segq_params_t *out, char *err, size_t errlen);
/* An integer parameter of such parameters; 0 when absent. */
int64_t cli_check_param_int (const segq_params_t *p, const char *name);

/* 0, or SEGQ_E* with err saying which file and what is wrong with it.
   files: as for cli_submit_spec (one job of an array), or NULL. */
int cli_check_files (const cli_submit_args_t *s, const char *const *files, char *err,
                     size_t errlen);

#endif
