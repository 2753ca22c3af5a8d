/* Quality of a small SinGAN-Seg (max size 64, a few hundred iterations
 * per scale) on a real Kvasir-SEG pair, in fp32 and in bf16:
 * reconstruction PSNR, 20 samples that differ from each other and from
 * the real image, binary masks with a plausible foreground fraction, and
 * bf16 generation from the fp32 checkpoint agreeing with fp32 (mask IoU).
 * Labelled `quality` besides `torch`: the slowest pipeline test. */
#include <criterion/criterion.h>

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "pipeline_test_util.h"
#include "segq_image.h"

#define NITER "200"
#define SAMPLES 20
/* Calibrated on this configuration (CPU, 1 thread, 200 iterations per
 * scale, seeds 1-3): reconstruction PSNR 21.7-23.9 dB in fp32 and
 * 23.7-24.5 dB in bf16; 19-20 of 20 masks plausible; samples at least
 * 16/255 apart (mean absolute difference) and 18/255 from the real image;
 * bf16 generation from the fp32 checkpoint: mask IoU 0.996-0.998 mean. */
#define MIN_REC_PSNR 20.0
#define MIN_SAMPLE_DIFF 5.0

static segq_image_t *load_path(const char *path)
{
    char err[SEGQ_IMAGE_ERRLEN];
    segq_image_t *img = NULL;
    cr_assert_eq(segq_image_read_file(path, NULL, &img, err, sizeof err), 0, "%s", err);
    cr_assert_eq(img->depth, 8);
    return img;
}

/* OUT/preview/scaleNN_WHAT.png */
static segq_image_t *load_preview(const char *out, int scale, const char *what)
{
    char path[1200];
    snprintf(path, sizeof path, "%s/preview/scale%02d_%s.png", out, scale, what);
    return load_path(path);
}

static double mean_abs_diff(const segq_image_t *a, const segq_image_t *b)
{
    cr_assert(a->width == b->width && a->height == b->height && a->channels == b->channels);
    size_t n = segq_image_size(a);
    const uint8_t *x = a->data, *y = b->data;
    double s = 0;
    for (size_t i = 0; i < n; i++)
        s += fabs((double)x[i] - y[i]);
    return s / (double)n;
}

static double psnr(const segq_image_t *a, const segq_image_t *b)
{
    size_t n = segq_image_size(a);
    const uint8_t *x = a->data, *y = b->data;
    double s = 0;
    for (size_t i = 0; i < n; i++)
        s += ((double)x[i] - y[i]) * ((double)x[i] - y[i]);
    double mse = s / (double)n / (255.0 * 255.0);
    return mse > 0 ? 10.0 * log10(1.0 / mse) : 99.0;
}

static double fraction(const segq_image_t *m)
{
    size_t n = (size_t)m->width * m->height, k = 0;
    const uint8_t *d = m->data;
    for (size_t i = 0; i < n; i++) {
        cr_assert(d[i] == 0 || d[i] == 255, "mask not binary: %d", d[i]);
        k += d[i] == 255;
    }
    return (double)k / (double)n;
}

static double iou(const segq_image_t *a, const segq_image_t *b)
{
    size_t n = (size_t)a->width * a->height, inter = 0, uni = 0;
    const uint8_t *x = a->data, *y = b->data;
    for (size_t i = 0; i < n; i++) {
        inter += x[i] && y[i];
        uni += x[i] || y[i];
    }
    return uni ? (double)inter / (double)uni : 1.0;
}

static void generate(const char *model, const char *out, const char *precision)
{
    cr_assert_eq(pt_sh("%s generate --model %s --out %s --count %d --batch 10 --seed 2 "
                       "--threads 1 --precision %s > %s.log 2>&1",
                       pt_segq_run(), model, out, SAMPLES, precision, out),
                 0, "generate failed: see %s.log", out);
}

static void quality(const char *precision)
{
    char dir[512], out[600], model[700], gen[600], img[800], msk[800];
    pt_tempdir(dir, sizeof dir);
    snprintf(img, sizeof img, "%s/kvasir-seg-orig/images/cju0qkwl35piu0993l0dewei2.jpg",
             pt_data_dir());
    snprintf(msk, sizeof msk, "%s/kvasir-seg-orig/masks/cju0qkwl35piu0993l0dewei2.jpg",
             pt_data_dir());
    cr_assert_eq(access(img, R_OK), 0, "shared data missing: %s (set SEGQ_DATA_DIR)", img);
    snprintf(out, sizeof out, "%s/train", dir);
    cr_assert_eq(pt_sh("%s train --image %s --mask %s --out %s --max-size 64 --niter " NITER
                       " --threads 1 --seed 1 --previews 0 --precision %s > %s.log 2>&1",
                       pt_segq_run(), img, msk, out, precision, out),
                 0, "train failed: see %s.log", out);

    /* reconstruction at the finest scale (scale 4 of 5 at max size 64) */
    segq_image_t *real = load_preview(out, 4, "real");
    segq_image_t *rec = load_preview(out, 4, "rec");
    segq_image_t *real_mask = load_preview(out, 4, "real_mask");
    double p = psnr(real, rec), real_frac = fraction(real_mask);
    fprintf(stderr, "%s: reconstruction PSNR %.2f dB, real mask fraction %.3f\n", precision, p,
            real_frac);
    cr_expect_geq(p, MIN_REC_PSNR, "%s: reconstruction PSNR %.2f dB < %.1f", precision, p,
                  MIN_REC_PSNR);

    snprintf(model, sizeof model, "%s/model.safetensors", out);
    snprintf(gen, sizeof gen, "%s/gen", dir);
    generate(model, gen, precision);
    segq_dataset_t *ds = NULL;
    char err[SEGQ_IMAGE_ERRLEN];
    cr_assert_eq(segq_dataset_open(gen, &ds, err, sizeof err), 0, "%s", err);
    cr_assert_eq(segq_dataset_count(ds), SAMPLES);
    segq_image_t *im[SAMPLES], *mk[SAMPLES];
    int plausible = 0;
    double min_pair = 1e9, min_real = 1e9;
    for (int i = 0; i < SAMPLES; i++) {
        const segq_dataset_pair_t *pr = segq_dataset_pair(ds, i);
        im[i] = load_path(pr->image_path);
        mk[i] = load_path(pr->mask_path);
        double f = fraction(mk[i]);
        plausible += f >= real_frac / 4 && f <= real_frac * 4;
        double d = mean_abs_diff(im[i], real);
        min_real = d < min_real ? d : min_real;
        for (int j = 0; j < i; j++) {
            d = mean_abs_diff(im[i], im[j]);
            min_pair = d < min_pair ? d : min_pair;
        }
    }
    fprintf(stderr,
            "%s: %d/%d masks with a plausible fraction, min pairwise diff %.2f, min "
            "diff to the real %.2f (of 255)\n",
            precision, plausible, SAMPLES, min_pair, min_real);
    cr_expect_geq(plausible, SAMPLES * 3 / 4,
                  "%s: only %d/%d masks within 1/4..4x of the "
                  "real mask's foreground fraction %.3f",
                  precision, plausible, SAMPLES, real_frac);
    cr_expect_gt(min_pair, MIN_SAMPLE_DIFF, "%s: two samples are (nearly) the same", precision);
    cr_expect_gt(min_real, MIN_SAMPLE_DIFF, "%s: a sample is (nearly) the real image", precision);

    if (strcmp(precision, "fp32") == 0) {
        /* bf16 generation from the same fp32 checkpoint and seed */
        char gen16[700];
        snprintf(gen16, sizeof gen16, "%s/gen16", dir);
        generate(model, gen16, "bf16");
        segq_dataset_t *d16 = NULL;
        cr_assert_eq(segq_dataset_open(gen16, &d16, err, sizeof err), 0, "%s", err);
        double sum = 0, lo = 1;
        for (int i = 0; i < SAMPLES; i++) {
            segq_image_t *m16 = load_path(segq_dataset_pair(d16, i)->mask_path);
            double v = iou(mk[i], m16);
            sum += v;
            lo = v < lo ? v : lo;
            segq_image_destroy(&m16);
        }
        fprintf(stderr, "bf16 vs fp32 generation: mask IoU mean %.4f, min %.4f\n", sum / SAMPLES,
                lo);
        cr_expect_geq(sum / SAMPLES, 0.95, "bf16 masks: mean IoU %.4f against fp32", sum / SAMPLES);
        segq_dataset_destroy(&d16);
    }
    for (int i = 0; i < SAMPLES; i++) {
        segq_image_destroy(&im[i]);
        segq_image_destroy(&mk[i]);
    }
    segq_dataset_destroy(&ds);
    segq_image_destroy(&real);
    segq_image_destroy(&rec);
    segq_image_destroy(&real_mask);
    pt_sh("rm -rf %s", dir);
}

Test(quality, fp32_small_model, .timeout = 1200)
{
    quality("fp32");
}

Test(quality, bf16_trained_small_model, .timeout = 1200)
{
    quality("bf16");
}
