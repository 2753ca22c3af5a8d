/* evaluate: is the synthetic data useful? (SINGAN-SEG.md section 4)
 * UNet++ trained from scratch on each training set, k-fold over the real
 * pairs, metrics on real test data.
 *
 * Protocol. The real pairs (sorted by name) are shuffled with --seed and
 * dealt into --folds folds. For each fold in turn (the test set), every
 * training set is built from the other folds only:
 *   real       the real pairs of the other folds (with --real-limit N, the
 *              first N of them in the shuffled order);
 *   NAME       the pairs of --synthetic NAME=DIR whose source image (the
 *              manifest's source_image, matched to a real pair by file
 *              hash or by name) is one of those real training pairs; pairs
 *              whose source is in the test fold are counted as
 *              `excluded_test`, pairs whose source is no real training
 *              pair (not in --real, or left out by --real-limit) as
 *              `excluded_other`: nothing derived from a test image trains;
 *   real+NAME  both.
 * With --test DIR the test set is that folder and the real pairs all train
 * (one "fold"). A validation split (--val-fraction, at least one pair) of
 * each training set picks the best-IoU epoch; the test fold is never seen
 * before the final measurement.
 *
 * Training: Dice loss (segmentation_models_pytorch's, eps 1), Adam (lr
 * --lr, --lr-after from epoch --lr-drop-epoch), batch --batch, light
 * augmentation (flips, rotations up to +-15 degrees, shifts up to 1/16 of
 * the side, brightness and contrast +-10%). Images are padded to a square (zeros, centred) and
 * resized to --size (bilinear, antialiased; masks thresholded at 0.5).
 * Metrics: per test image at threshold 0.5 (metrics.h), averaged. */
#ifndef SEGQ_EVALUATE_H
#define SEGQ_EVALUATE_H

#include "segq_progress.h"
#include "segq_run_flags.h"
#include "segq_singan.h"

#include <stddef.h>
#include <stdint.h>

#define SEGQ_EVAL_MAX_SYNTHETIC 16

typedef struct {
    char *real, *test, *out, *encoder_weights;
    char *synthetic_flag; /* its flag row; the values are collected below */
    int64_t folds, epochs, size, batch, real_limit, depth, width, examples, lr_drop_epoch;
    double lr, lr_after, val_fraction;
    int augment, save_models;
    segq_compute_opts_t compute;
    /* every --synthetic NAME=DIR, in order */
    int n_synthetic;
    char *syn_name[SEGQ_EVAL_MAX_SYNTHETIC], *syn_dir[SEGQ_EVAL_MAX_SYNTHETIC];
} segq_evaluate_opts_t;

/* Takes every --synthetic NAME=DIR (or --synthetic=NAME=DIR) out of argv
 * (compacting it, *argc updated) into o. 0 or a negative code naming the
 * bad value (no '=', empty or reserved name, a name twice, too many). */
int segq_evaluate_take_synthetic(int *argc, char **argv, segq_evaluate_opts_t *o, char *err,
                                 size_t errlen);
void segq_evaluate_opts_free(segq_evaluate_opts_t *o);

/* Writes OUT/metrics.csv, OUT/metrics.json, OUT/per_image.csv,
 * OUT/chart.png and OUT/examples.png (and OUT/models/SET_foldK.safetensors
 * with --save-models). */
int segq_evaluate(const segq_evaluate_opts_t *o, segq_progress_t *progress, char *err,
                  size_t errlen);

#endif
