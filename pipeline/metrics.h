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
 * Metrics of a test set are the mean of the per-image values. */
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
/* Soft Dice loss of one image as segmentation_models_pytorch's DiceLoss:
 * 1 - (2 sum(p t) + 1) / (sum(p) + sum(t) + 1). */
double segq_soft_dice_loss(const float *prob, const float *truth, size_t n);
/* Mean and population standard deviation (numpy's default) of v[0..n). */
void segq_mean_std(const double *v, size_t n, double *mean, double *std);

#endif
