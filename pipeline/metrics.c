/* Segmentation metrics; the conventions for empty masks are in metrics.h. */
#include "metrics.h"

#include <math.h>

const char *const segq_metric_names[SEGQ_N_METRICS] = {"dice_loss", "iou",    "f1",
                                                       "accuracy",  "recall", "precision"};

double segq_metric_get(const segq_seg_metrics_t *m, int i)
{
    const double v[SEGQ_N_METRICS] = {m->dice_loss, m->iou,    m->f1,
                                      m->accuracy,  m->recall, m->precision};
    return i >= 0 && i < SEGQ_N_METRICS ? v[i] : NAN;
}

void segq_metric_set(segq_seg_metrics_t *m, int i, double v)
{
    double *f[SEGQ_N_METRICS] = {&m->dice_loss, &m->iou,    &m->f1,
                                 &m->accuracy,  &m->recall, &m->precision};
    if (i >= 0 && i < SEGQ_N_METRICS)
        *f[i] = v;
}

void segq_confusion_count(const float *prob, const float *truth, size_t n, double threshold,
                          segq_confusion_t *out)
{
    segq_confusion_t c = {0, 0, 0, 0};
    for (size_t i = 0; i < n; i++) {
        int p = prob[i] > threshold, t = truth[i] > 0.5f;
        c.tp += p && t;
        c.fp += p && !t;
        c.fn += !p && t;
        c.tn += !p && !t;
    }
    *out = c;
}

/* num / den, or `empty` when there is nothing to divide by. */
static double ratio(double num, double den, double empty)
{
    return den > 0 ? num / den : empty;
}

segq_seg_metrics_t segq_metrics_from_confusion(const segq_confusion_t *c)
{
    double tp = (double)c->tp, fp = (double)c->fp, fn = (double)c->fn, tn = (double)c->tn;
    segq_seg_metrics_t m = {0};
    m.iou = ratio(tp, tp + fp + fn, 1.0);
    m.f1 = ratio(2 * tp, 2 * tp + fp + fn, 1.0);
    m.accuracy = ratio(tp + tn, tp + fp + fn + tn, 1.0);
    m.recall = ratio(tp, tp + fn, 1.0);
    m.precision = ratio(tp, tp + fp, 1.0);
    return m;
}

double segq_soft_dice_loss(const float *prob, const float *truth, size_t n)
{
    double pt = 0, p = 0, t = 0;
    for (size_t i = 0; i < n; i++) {
        pt += (double)prob[i] * truth[i];
        p += prob[i];
        t += truth[i];
    }
    return 1.0 - (2 * pt + 1.0) / (p + t + 1.0);
}

segq_seg_metrics_t segq_image_metrics(const float *prob, const float *truth, size_t n,
                                      double threshold)
{
    segq_confusion_t c;
    segq_confusion_count(prob, truth, n, threshold, &c);
    segq_seg_metrics_t m = segq_metrics_from_confusion(&c);
    m.dice_loss = segq_soft_dice_loss(prob, truth, n);
    return m;
}

void segq_metrics_add_share(segq_seg_metrics_t *sum, const segq_seg_metrics_t *m, size_t count)
{
    for (int j = 0; j < SEGQ_N_METRICS; j++)
        segq_metric_set(sum, j, segq_metric_get(sum, j) + segq_metric_get(m, j) / (double)count);
}

void segq_mean_std(const double *v, size_t n, double *mean, double *std)
{
    double s = 0, q = 0;
    for (size_t i = 0; i < n; i++)
        s += v[i];
    double m = n ? s / (double)n : NAN;
    for (size_t i = 0; i < n; i++)
        q += (v[i] - m) * (v[i] - m);
    *mean = m;
    *std = n ? sqrt(q / (double)n) : NAN;
}
