/* chart: the evaluate report's pictures, drawn with cairo and written as
 * PNG through segq_image (mode 0600, atomic). */
#ifndef SEGQ_CHART_H
#define SEGQ_CHART_H

#include <stddef.h>

/* Grouped bar chart on a 0..1 axis: one group per `groups` entry (the
 * metrics), one bar per series (the training sets) with its mean and a
 * +-std error bar; mean and std are [series][group]. */
int segq_chart_bars(const char *path, const char *title, const char *const *groups, int ngroups,
                    const char *const *series, int nseries, const double *mean, const double *std,
                    char *err, size_t errlen);

/* Example predictions: one row per image, columns image | truth | the
 * prediction of each series. images: rows x 3 x s x s, truth: rows x s x s,
 * preds: [series][row] x s x s, all in [0, 1] (predictions thresholded at
 * 0.5 for display). */
int segq_chart_examples(const char *path, int rows, int size, const float *images,
                        const float *truth, const char *const *series, int nseries,
                        const float *preds, char *err, size_t errlen);

#endif
