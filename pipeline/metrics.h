/* metrics: segmentation metrics at a threshold, from a confusion matrix
 * (SINGAN-SEG.md section 4), and mean/std over folds.
 *
 * Empty masks. A ratio whose denominator is 0 is defined by whether the
 * prediction made any mistake of the kind it measures:
 *   IoU = tp / (tp + fp + fn), F1 = 2tp / (2tp + fp + fn): 1 when truth and
 *     prediction are both empty (nothing to find, nothing found: a perfect
 *     answer), so an empty prediction on an empty mask is not punished;
 *   recall = tp / (tp + fn): 1 when the truth is empty (nothing was missed);
 *   precision = tp / (tp + fp): 1 when the prediction is empty (nothing
 *     predicted wrongly);
 *   accuracy = (tp + tn) / all, defined for any non-empty image.
 * Metrics of a test set are the mean of the per-image values.
 *
 * These are segmentation_models_pytorch's (smp.utils.metrics, the training
 * utilities the paper names) as its ValidEpoch reports a test loader of
 * batch 1 (DataLoader's default, as in smp's examples): smp adds eps = 1e-7
 * above and below each ratio, which gives the same 1 on empty masks and
 * moves other values by under 1e-7 (test_metrics.c checks every metric
 * against a transcription of smp's definitions). With a larger test batch
 * smp pools each batch's pixels before dividing, so its figures would then
 * depend on the batch size and the order of the test images; the per-image
 * mean does not, which is why evaluate keeps it. */
#ifndef SEGQ_METRICS_H
#define SEGQ_METRICS_H

#include <stddef.h>
#include <stdint.h>

typedef struct {
    uint64_t tp, fp, fn, tn;
} segq_confusion_t;

typedef struct {
    double dice_loss, iou, f1, accuracy, recall, precision;
} segq_seg_metrics_t;

#define SEGQ_N_METRICS 6
/* "dice_loss", "iou", "f1", "accuracy", "recall", "precision" */
extern const char *const segq_metric_names[SEGQ_N_METRICS];
double segq_metric_get(const segq_seg_metrics_t *m, int i);
void segq_metric_set(segq_seg_metrics_t *m, int i, double v);

/* Counts n pixels: predicted foreground is prob > threshold, true
 * foreground is truth > 0.5. */
void segq_confusion_count(const float *prob, const float *truth, size_t n, double threshold,
                          segq_confusion_t *out);
/* IoU, F1, accuracy, recall, precision of c (dice_loss left 0). */
segq_seg_metrics_t segq_metrics_from_confusion(const segq_confusion_t *c);
/* All six metrics of one image (n pixels) at threshold. */
segq_seg_metrics_t segq_image_metrics(const float *prob, const float *truth, size_t n,
                                      double threshold);
/* Adds m / count to each metric of sum: count images make their mean. */
void segq_metrics_add_share(segq_seg_metrics_t *sum, const segq_seg_metrics_t *m, size_t count);
/* Soft Dice loss of one image as segmentation_models_pytorch's DiceLoss:
 * 1 - (2 sum(p t) + 1) / (sum(p) + sum(t) + 1). */
double segq_soft_dice_loss(const float *prob, const float *truth, size_t n);
/* Mean and population standard deviation (numpy's default) of v[0..n). */
void segq_mean_std(const double *v, size_t n, double *mean, double *std);

#endif
