/* Segmentation metrics against hand-computed confusion matrices,
 * including the empty-mask conventions of metrics.h, and against
 * segmentation_models_pytorch's definitions (smp_metrics_reference.py). */
#include <criterion/criterion.h>

#include <math.h>
#include <stdio.h>
#include <stdlib.h>

#include "metrics.h"

#define SMP_REFERENCE "/usr/bin/python3 " SEGQ_SOURCE_DIR "/tests/pipeline/smp_metrics_reference.py"

#define NEAR(a, b) (fabs((a) - (b)) < 1e-12)

/* 4x4: truth has 4 foreground pixels, the prediction 5 (3 of them right). */
static const float truth16[16] = {1, 1, 0, 0, 1, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0};
static const float prob16[16] = {0.9f, 0.8f, 0.7f, 0.0f, 0.2f, 0.6f, 0.0f, 0.0f,
                                 0.0f, 0.0f, 0.0f, 0.0f, 0.0f, 0.0f, 0.0f, 0.51f};

Test(metrics, confusion_and_ratios_by_hand, .timeout = 10)
{
    segq_confusion_t c;
    segq_confusion_count(prob16, truth16, 16, 0.5, &c);
    cr_assert_eq(c.tp, 3);
    cr_assert_eq(c.fp, 2);
    cr_assert_eq(c.fn, 1);
    cr_assert_eq(c.tn, 10);
    segq_seg_metrics_t m = segq_metrics_from_confusion(&c);
    cr_expect(NEAR(m.iou, 3.0 / 6.0), "iou %g", m.iou);
    cr_expect(NEAR(m.f1, 6.0 / 9.0), "f1 %g", m.f1);
    cr_expect(NEAR(m.accuracy, 13.0 / 16.0), "accuracy %g", m.accuracy);
    cr_expect(NEAR(m.recall, 3.0 / 4.0), "recall %g", m.recall);
    cr_expect(NEAR(m.precision, 3.0 / 5.0), "precision %g", m.precision);
}

Test(metrics, threshold_is_strict, .timeout = 10)
{
    const float p[2] = {0.5f, 0.5000001f}, t[2] = {1, 1};
    segq_confusion_t c;
    segq_confusion_count(p, t, 2, 0.5, &c);
    cr_expect_eq(c.tp, 1);
    cr_expect_eq(c.fn, 1);
}

Test(metrics, both_empty_is_a_perfect_answer, .timeout = 10)
{
    const float p[4] = {0.1f, 0.2f, 0.3f, 0.4f}, t[4] = {0, 0, 0, 0};
    segq_confusion_t c;
    segq_confusion_count(p, t, 4, 0.5, &c);
    cr_assert_eq(c.tn, 4);
    segq_seg_metrics_t m = segq_metrics_from_confusion(&c);
    cr_expect(NEAR(m.iou, 1) && NEAR(m.f1, 1) && NEAR(m.recall, 1) && NEAR(m.precision, 1)
              && NEAR(m.accuracy, 1));
}

Test(metrics, empty_truth_with_false_positives, .timeout = 10)
{
    const float p[4] = {0.9f, 0.9f, 0.1f, 0.1f}, t[4] = {0, 0, 0, 0};
    segq_confusion_t c;
    segq_confusion_count(p, t, 4, 0.5, &c);
    segq_seg_metrics_t m = segq_metrics_from_confusion(&c);
    cr_expect(NEAR(m.iou, 0) && NEAR(m.f1, 0), "iou %g f1 %g", m.iou, m.f1);
    cr_expect(NEAR(m.recall, 1), "nothing to find, nothing missed: %g", m.recall);
    cr_expect(NEAR(m.precision, 0), "%g", m.precision);
    cr_expect(NEAR(m.accuracy, 0.5));
}

Test(metrics, empty_prediction_of_a_polyp, .timeout = 10)
{
    const float p[4] = {0.1f, 0.1f, 0.1f, 0.1f}, t[4] = {1, 0, 0, 0};
    segq_confusion_t c;
    segq_confusion_count(p, t, 4, 0.5, &c);
    segq_seg_metrics_t m = segq_metrics_from_confusion(&c);
    cr_expect(NEAR(m.iou, 0) && NEAR(m.f1, 0) && NEAR(m.recall, 0));
    cr_expect(NEAR(m.precision, 1), "nothing predicted wrongly: %g", m.precision);
    cr_expect(NEAR(m.accuracy, 0.75));
}

Test(metrics, soft_dice_loss_and_fold_statistics, .timeout = 10)
{
    const float p[2] = {1.0f, 0.5f}, t[2] = {1, 0};
    /* 1 - (2*1 + 1) / (1.5 + 1 + 1) */
    cr_expect(NEAR(segq_soft_dice_loss(p, t, 2), 1.0 - 3.0 / 3.5));
    const float z[2] = {0, 0};
    cr_expect(NEAR(segq_soft_dice_loss(z, z, 2), 0.0), "empty vs empty is no loss");
    const double v[4] = {1, 2, 3, 4};
    double mean, std;
    segq_mean_std(v, 4, &mean, &std);
    cr_expect(NEAR(mean, 2.5));
    cr_expect(NEAR(std, sqrt(1.25)), "population std %g", std);
    segq_seg_metrics_t m = {0};
    for (int k = 0; k < SEGQ_N_METRICS; k++)
        segq_metric_set(&m, k, k + 0.5);
    cr_expect(NEAR(m.iou, 1.5) && NEAR(m.precision, 5.5));
    cr_expect_str_eq(segq_metric_names[1], "iou");
}

/* Runs the smp transcription into dir; returns its case count and pixels. */
static void run_smp_reference(const char *dir, int *cases, int *pixels)
{
    char command[1024];
    snprintf(command, sizeof command, SMP_REFERENCE " %s", dir);
    FILE *out = popen(command, "r");
    cr_assert(out, "cannot run %s", command);
    int n = fscanf(out, "%d %d", cases, pixels);
    cr_assert_eq(pclose(out), 0, "%s failed (needs Debian's python3-numpy)", command);
    cr_assert_eq(n, 2);
}

/* Every case's six values and their mean as smp reports them, within its
 * eps: a convention for empty masks, a <= threshold or a pooled mean that
 * differed from smp's would be off by far more. */
Test(metrics, match_segmentation_models_pytorch, .timeout = 60)
{
    char dir[] = "/tmp/segq-smp-XXXXXX", path[256];
    cr_assert(mkdtemp(dir));
    int cases, pixels;
    run_smp_reference(dir, &cases, &pixels);
    snprintf(path, sizeof path, "%s/cases.f32", dir);
    FILE *data = fopen(path, "rb");
    snprintf(path, sizeof path, "%s/metrics.txt", dir);
    FILE *want = fopen(path, "r");
    cr_assert(data && want);
    float *prob = malloc(2 * (size_t)pixels * sizeof *prob), *truth = prob + pixels;
    segq_seg_metrics_t mean = {0};
    for (int c = 0; c <= cases; c++) {
        segq_seg_metrics_t got = mean;
        if (c < cases) {
            cr_assert_eq(fread(prob, sizeof *prob, 2 * (size_t)pixels, data), 2 * (size_t)pixels);
            got = segq_image_metrics(prob, truth, (size_t)pixels, 0.5);
            segq_metrics_add_share(&mean, &got, (size_t)cases);
        }
        for (int k = 0; k < SEGQ_N_METRICS; k++) {
            double v;
            cr_assert_eq(fscanf(want, "%lf", &v), 1);
            cr_expect(fabs(segq_metric_get(&got, k) - v) < 1e-6, "%s %s: segq %.9f, smp %.9f",
                      c < cases ? "case" : "mean", segq_metric_names[k], segq_metric_get(&got, k),
                      v);
        }
    }
    free(prob);
    fclose(data);
    fclose(want);
    snprintf(path, sizeof path, "rm -rf '%s'", dir);
    cr_assert_eq(system(path), 0);
}
