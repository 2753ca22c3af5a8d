/* SEGQ_RECORD_DRAWS=FILE: a test and debug hook (off unless the variable
 * is set; then one branch per draw is all it costs). segq-run train and
 * segq-run generate write every random draw they make to FILE, a
 * safetensors file, so another implementation (the authors' code, run by
 * tests/pipeline/authors_train.py) can be fed exactly the same values:
 *
 *   draw.NNNNNN.KIND       one draw, NNNNNN counting from 0 in the order
 *                          drawn, KIND what it is for: z_opt, noise (an
 *                          iteration's, or generate's per scale),
 *                          prev_noise (a critic step's "rand" prev chain,
 *                          one per coarser scale), gp_alpha (the
 *                          gradient penalty's interpolation factor); the
 *                          raw draw, before it is repeated over channels
 *                          or padded: [b, 1 or 4, h, w], or [1, 1]
 *   draw.NNNNNN.init_G.T,  a freshly initialised network (a scale that
 *   draw.NNNNNN.init_D.T   does not start from the previous scale's
 *                          weights), every tensor T of it (conv0.weight,
 *                          ... as in the checkpoint)
 * and, not draws, what they were used with, so each piece can be
 * compared on its own:
 *   real.N                 (train) scale N of the real pyramid
 *   rec_prev.N             (train) scale N's reconstruction prev, unpadded
 *   rand_prev.N.IIIIII     (train) the critic steps' "rand" prevs of
 *                          scale N's iteration IIIIII, [d_steps, 4, h, w]
 *   sample.NNNNNN          (generate) the [-1, 1] samples of the batch
 *                          starting at sample NNNNNN, as made, before PNG
 *
 * The file is written when the command ends (even when it failed: what
 * was drawn up to then). Training records with CUDA graphs off (a replayed
 * graph draws nothing the host sees), and not the preview samples (they
 * change nothing). It holds every map of every iteration: for small runs. */
#ifndef SEGQ_SINGAN_DRAWS_H
#define SEGQ_SINGAN_DRAWS_H

#include "singan_internal.h"

#define SEGQ_DRAWS_ENV "SEGQ_RECORD_DRAWS"

/* Starts recording when SEGQ_RECORD_DRAWS is set (0 and nothing done when
 * it is not); what: "train" or "generate", kept in the file's metadata. */
int segq__draws_open(const char *what, char *err, size_t errlen);
/* 1 while recording (open and not paused). */
int segq__draws_recording(void);
/* Draws made while paused are not recorded. */
void segq__draws_pause(int paused);
/* Records t (any device) as the next draw of this kind and returns it,
 * so a draw can be wrapped where it is made: z = segq__draw("noise",
 * segqt_randn(...)). A failed recording fails segq__draws_close, never
 * the draw. */
segqt_tensor *segq__draw(const char *kind, segqt_tensor *t);
/* Records every tensor of a freshly initialised net as one draw. */
void segq__draw_net(const char *kind, segq_net_t *net);
/* Records t under a plain name (real.N, sample.NNNNNN): not a draw. */
void segq__draws_add(const char *name, segqt_tensor *t);
/* Writes the file (when recording) and stops. A write or recording
 * failure is an error only when ok (the command succeeded so far). */
int segq__draws_close(int ok, char *err, size_t errlen);

#endif
