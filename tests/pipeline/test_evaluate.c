/* evaluate: UNet++ against an independent torch.nn reference, overfitting
 * real pairs, the exclusion of synthetic pairs derived from test images,
 * and a tiny evaluate on Kvasir-SEG end to end. */
#include <criterion/criterion.h>

#include <jansson.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "evaluate_internal.h"
#include "pipeline_test_util.h"
#include "segq_image.h"
#include "segq_safetensors.h"
#include "segq_sha256.h"
#include "singan_internal.h"

#define REFERENCE "/usr/bin/python3 " SEGQ_SOURCE_DIR "/tests/pipeline/unetpp_reference.py"

static void add(segq_st_writer_t *w, const char *name, segqt_tensor *t)
{
    char err[512];
    cr_assert(t, "%s: %s", name, segqt_last_error());
    cr_assert_eq(segq__st_add_tensor(w, name, t, err, sizeof err), 0, "%s", err);
}

static void check_against_python(int depth, int width, int64_t b, int64_t s)
{
    segqt_set_num_threads(1);
    segqt_manual_seed(5);
    segq_unetpp_t *net = segq_unetpp_new(depth, width, 3, SEGQT_CPU);
    cr_assert(net, "%s", segqt_last_error());
    segq_st_writer_t *w = segq_st_writer_new();
    cr_assert_geq(segqt_scope_begin(), 1);
    const char *names[SEGQ_UNETPP_MAX_TENSORS];
    segqt_tensor *t[SEGQ_UNETPP_MAX_TENSORS];
    int n = segq_unetpp_tensors(net, names, t, SEGQ_UNETPP_MAX_TENSORS, NULL);
    segqt_no_grad_begin();
    /* BN statistics and affine parameters away from their defaults, so
     * the eval-mode forward really uses them */
    for (int k = 0; k < n; k++)
        if (strstr(names[k], "bn")) {
            segqt_tensor *r = segqt_rand_like(t[k]);
            cr_assert_eq(segqt_copy_(t[k], segqt_add_scalar(segqt_mul_scalar(r, 0.5), 0.5)), 0);
        }
    for (int k = 0; k < n; k++) {
        char key[128];
        snprintf(key, sizeof key, "model.%s", names[k]);
        add(w, key, segqt_clone(t[k]));
    }
    int64_t shape[4] = {b, 3, s, s};
    segqt_tensor *x = segqt_rand(shape, 4, SEGQT_F32, SEGQT_CPU);
    add(w, "x", x);
    add(w, "out_eval", segq_unetpp_forward(net, x, 0));
    add(w, "out_train", segq_unetpp_forward(net, x, 1));
    segqt_no_grad_end();
    int64_t count = segq_unetpp_param_count(net), one[1] = {1};
    char err[512], num[16], dir[512], path[600];
    cr_assert_eq(segq_st_writer_add(w, "param_count", SEGQ_ST_I64, 1, one, &count, sizeof count,
                                    err, sizeof err),
                 0);
    snprintf(num, sizeof num, "%d", depth);
    segq_st_writer_set_meta(w, "depth", num, err, sizeof err);
    snprintf(num, sizeof num, "%d", width);
    segq_st_writer_set_meta(w, "width", num, err, sizeof err);
    pt_tempdir(dir, sizeof dir);
    snprintf(path, sizeof path, "%s/unetpp.safetensors", dir);
    cr_assert_eq(segq_st_writer_save(w, path, err, sizeof err), 0, "%s", err);
    segq_st_writer_destroy(&w);
    segqt_scope_end();
    segq_unetpp_destroy(&net);
    cr_expect_eq(segqt_live_tensors(), 0);
    cr_expect_eq(pt_sh(REFERENCE " check %s", path), 0, "C and Python disagree (see above)");
    pt_sh("rm -rf %s", dir);
}

Test(unetpp, depth2_width4_matches_python, .timeout = 300)
{
    check_against_python(2, 4, 2, 16);
}

Test(unetpp, depth4_width3_matches_python, .timeout = 300)
{
    check_against_python(4, 3, 3, 32);
}

Test(unetpp, encoder_weights_load_and_errors_name_the_tensor, .timeout = 60)
{
    segqt_manual_seed(1);
    segq_unetpp_t *a = segq_unetpp_new(2, 4, 3, SEGQT_CPU);
    segq_unetpp_t *b = segq_unetpp_new(2, 4, 3, SEGQT_CPU);
    segq_unetpp_t *c = segq_unetpp_new(3, 4, 3, SEGQT_CPU);
    cr_assert(a && b && c);
    char dir[512], path[600], err[1024] = "";
    pt_tempdir(dir, sizeof dir);
    snprintf(path, sizeof path, "%s/a.safetensors", dir);
    cr_assert_eq(segq_unetpp_save(a, path, err, sizeof err), 0, "%s", err);
    cr_assert_eq(segq_unetpp_load_encoder(b, path, "--encoder-weights", err, sizeof err), 0, "%s",
                 err);
    const char *na[SEGQ_UNETPP_MAX_TENSORS], *nb[SEGQ_UNETPP_MAX_TENSORS];
    segqt_tensor *ta[SEGQ_UNETPP_MAX_TENSORS], *tb[SEGQ_UNETPP_MAX_TENSORS];
    int n = segq_unetpp_tensors(a, na, ta, SEGQ_UNETPP_MAX_TENSORS, NULL);
    segq_unetpp_tensors(b, nb, tb, SEGQ_UNETPP_MAX_TENSORS, NULL);
    cr_assert_geq(segqt_scope_begin(), 1);
    for (int k = 0; k < n; k++) {
        double d;
        cr_assert_eq(segqt_item(segqt_max(segqt_abs(segqt_sub(ta[k], tb[k]))), &d), 0);
        int encoder = strstr(na[k], "_0.") != NULL;
        if (!encoder && !strstr(na[k], "conv"))
            continue; /* BN starts at 1 and 0 in every net: nothing to tell apart */
        cr_expect(encoder ? d == 0 : d > 0, "%s: %s (diff %g)", na[k],
                  encoder ? "encoder not loaded" : "decoder should stay as initialised", d);
    }
    segqt_scope_end();
    /* a deeper net needs x3_0, which the file lacks */
    cr_expect_lt(segq_unetpp_load_encoder(c, path, "--encoder-weights", err, sizeof err), 0);
    cr_expect(strstr(err, "--encoder-weights") && strstr(err, "'x3_0.conv1.weight'"), "%s", err);
    segq_unetpp_destroy(&a);
    segq_unetpp_destroy(&b);
    segq_unetpp_destroy(&c);
    pt_sh("rm -rf %s", dir);
}

/* DIR/images + DIR/masks linking the first n Kvasir-SEG pairs from skip. */
static void kvasir_subset(const char *dir, int skip, int n)
{
    const char *data = pt_data_dir();
    cr_assert_eq(pt_sh("test -d %s/kvasir-seg-256/images", data), 0,
                 "shared data missing: %s (set SEGQ_DATA_DIR)", data);
    cr_assert_eq(pt_sh("mkdir -p %s/images %s/masks && cd %s/kvasir-seg-256/images && "
                       "for f in $(ls | sort | tail -n +%d | head -n %d); do "
                       "ln -s %s/kvasir-seg-256/images/$f %s/images/$f && "
                       "ln -s %s/kvasir-seg-256/masks/$f %s/masks/$f; done",
                       dir, dir, data, skip + 1, n, data, dir, data, dir),
                 0);
}

/* A horizontal bar, the same in image (all channels) and mask: flips and
 * shifts keep it horizontal, so a tilted bar proves the rotation; the
 * image must move with the mask, and the mask must stay 0/1. */
Test(evaluate, augmentation_rotates_image_and_mask_together, .timeout = 60)
{
    enum { S = 64 };
    static float img[3 * S * S], msk[S * S], x[3 * S * S], t[S * S];
    for (int y = 0; y < S; y++)
        for (int xx = 0; xx < S; xx++) {
            float v = y >= 28 && y < 36 ? 1.0f : 0.0f;
            msk[y * S + xx] = v;
            for (int c = 0; c < 3; c++)
                img[(c * S + y) * S + xx] = v;
        }
    uint64_t rng = 7;
    int tilted = 0, level = 0;
    double max_deg = 0;
    for (int k = 0; k < 200; k++) {
        segq__eval_augment(img, msk, S, &rng, x, t);
        int agree = 0, inside = 0;
        double sx = 0, sy = 0, sxx = 0, sxy = 0;
        for (int i = 0; i < S * S; i++) {
            cr_assert(t[i] == 0.0f || t[i] == 1.0f, "mask value %g at %d", t[i], i);
            for (int c = 0; c < 3; c++)
                cr_assert(x[c * S * S + i] >= 0.0f && x[c * S * S + i] <= 1.0f);
            agree += (t[i] > 0.5f) == (x[i] > 0.5f);
            if (t[i] > 0.5f) {
                double px = i % S, py = i / S;
                inside++;
                sx += px, sy += py, sxx += px * px, sxy += px * py;
            }
        }
        cr_assert_gt(agree, S * S * 97 / 100,
                     "augmentation %d: image and mask disagree on "
                     "%d of %d pixels",
                     k, S * S - agree, S * S);
        cr_assert_gt(inside, 4 * S, "augmentation %d lost the bar", k);
        /* least-squares slope of the bar's pixels: its tilt */
        double slope = (sxy - sx * sy / inside) / (sxx - sx * sx / inside);
        double deg = fabs(atan(slope)) * 180.0 / M_PI;
        cr_assert_leq(deg, SEGQ_EVAL_MAX_ROTATION + 1.0, "augmentation %d tilted by %g deg", k,
                      deg);
        if (deg > max_deg)
            max_deg = deg;
        tilted += deg > 3.0;
        level += deg < 1.0;
    }
    cr_expect_gt(tilted, 100, "only %d of 200 augmentations rotate the bar by > 3 deg", tilted);
    cr_expect_gt(level, 0, "no augmentation leaves the bar (nearly) level");
    cr_expect_gt(max_deg, SEGQ_EVAL_MAX_ROTATION - 2.0, "largest tilt only %g deg", max_deg);
}

Test(evaluate, overfits_eight_real_pairs, .timeout = 600)
{
    segqt_set_num_threads(1);
    char dir[512], err[1024];
    pt_tempdir(dir, sizeof dir);
    kvasir_subset(dir, 0, 8);
    segq_eval_data_t d;
    cr_assert_eq(segq__eval_data_load(dir, "--real", 32, 0, &d, err, sizeof err), 0, "%s", err);
    cr_assert_eq(d.n, 8);
    segq_eval_item_t items[8];
    for (int i = 0; i < 8; i++)
        items[i] = (segq_eval_item_t){&d, i};
    segq_eval_train_cfg_t cfg = {.epochs = 150,
                                 .batch = 8,
                                 .lr_drop_epoch = 1000000,
                                 .lr = 3e-3,
                                 .augment = 0,
                                 .depth = 3,
                                 .width = 8,
                                 .seed = 1,
                                 .dev = SEGQT_CPU,
                                 .label = "overfit"};
    segq_eval_history_t h;
    segq_unetpp_t *net = segq__eval_train(&cfg, items, 8, NULL, 0, &h, err, sizeof err);
    cr_assert(net, "%s", err);
    segq_seg_metrics_t m;
    cr_assert_eq(segq__eval_measure(net, items, 8, 8, &m, NULL, err, sizeof err), 0, "%s", err);
    cr_expect_geq(m.iou, 0.9, "IoU %g on its own training pairs after %lld epochs (loss %g -> %g)",
                  m.iou, (long long)cfg.epochs, h.train_loss[0], h.train_loss[cfg.epochs - 1]);
    cr_expect_lt(h.train_loss[cfg.epochs - 1], 0.5 * h.train_loss[0]);
    segq__eval_history_free(&h);
    segq_unetpp_destroy(&net);
    segq__eval_data_free(&d);
    cr_expect_eq(segqt_live_tensors(), 0);
    pt_sh("rm -rf %s", dir);
}

static json_t *load_json(const char *path)
{
    json_error_t e;
    json_t *j = json_load_file(path, 0, &e);
    cr_assert(j, "%s: %s", path, e.text);
    return j;
}

static int64_t fold_int(json_t *root, const char *set, int fold, const char *key)
{
    json_t *f = json_array_get(
        json_object_get(json_object_get(json_object_get(root, "sets"), set), "folds"),
        (size_t)fold);
    cr_assert(f, "no fold %d of set %s", fold, set);
    json_t *v = json_object_get(f, key);
    cr_assert(json_is_integer(v), "%s fold %d: no %s", set, fold, key);
    return json_integer_value(v);
}

/* A synthetic set derived from the real pairs of dir/real: one pair per
 * real pair (source by file name without hash, except for the first,
 * which carries only the hash under another name), plus one pair of an
 * unknown source. */
static void make_synthetic(const char *dir)
{
    char path[1024];
    cr_assert_eq(pt_sh("mkdir -p %s/syn/images %s/syn/masks", dir, dir), 0);
    snprintf(path, sizeof path, "%s/syn/manifest.csv", dir);
    FILE *man = fopen(path, "w");
    cr_assert(man);
    fputs("name,image,mask,source_image,source_image_sha256\n", man);
    segq_dataset_t *ds = NULL;
    char err[512], real[600];
    snprintf(real, sizeof real, "%s/real", dir);
    cr_assert_eq(segq_dataset_open(real, &ds, err, sizeof err), 0, "%s", err);
    for (size_t i = 0; i < segq_dataset_count(ds); i++) {
        const segq_dataset_pair_t *p = segq_dataset_pair(ds, i);
        cr_assert_eq(pt_sh("cp %s %s/syn/images/syn_%s.jpg && cp %s %s/syn/masks/syn_%s.jpg",
                           p->image_path, dir, p->name, p->mask_path, dir, p->name),
                     0);
        char hex[SEGQ_HASH_HEX_LEN + 1];
        cr_assert_eq(segq_sha256_file(p->image_path, hex), 0);
        if (i == 0)
            fprintf(man, "syn_%s,x,y,\"renamed.jpg\",%s\n", p->name, hex);
        else
            fprintf(man, "syn_%s,x,y,\"%s.jpg\",\n", p->name, p->name);
    }
    const segq_dataset_pair_t *p = segq_dataset_pair(ds, 0);
    cr_assert_eq(pt_sh("cp %s %s/syn/images/stray.jpg && cp %s %s/syn/masks/stray.jpg",
                       p->image_path, dir, p->mask_path, dir),
                 0);
    fputs("stray,x,y,\"not-a-real-image.jpg\",\n", man);
    fclose(man);
    segq_dataset_destroy(&ds);
}

Test(evaluate, synthetic_pairs_of_test_images_never_train, .timeout = 600)
{
    char dir[512], real[600];
    pt_tempdir(dir, sizeof dir);
    snprintf(real, sizeof real, "%s/real", dir);
    kvasir_subset(real, 100, 6);
    make_synthetic(dir);
    cr_assert_eq(pt_sh("%s evaluate --real %s --synthetic syn=%s/syn --out %s/out --folds 2 "
                       "--epochs 1 --size 32 --depth 2 --width 4 --threads 1 --examples 2",
                       pt_segq_run(), real, dir, dir),
                 0);
    char path[700];
    snprintf(path, sizeof path, "%s/out/metrics.json", dir);
    json_t *j = load_json(path);
    for (int f = 0; f < 2; f++) {
        /* 3 real pairs per test fold: their 3 synthetic pairs are out */
        cr_expect_eq(fold_int(j, "syn", f, "synthetic_excluded_test"), 3);
        cr_expect_eq(fold_int(j, "syn", f, "synthetic_excluded_other"), 1, "the stray pair");
        cr_expect_eq(fold_int(j, "syn", f, "synthetic_pairs"), 3);
        cr_expect_eq(fold_int(j, "syn", f, "real_pairs"), 0);
        cr_expect_eq(fold_int(j, "syn", f, "train_pairs") + fold_int(j, "syn", f, "val_pairs"), 3);
        cr_expect_eq(fold_int(j, "real+syn", f, "real_pairs"), 3);
        cr_expect_eq(fold_int(j, "real+syn", f, "synthetic_pairs"), 3);
        cr_expect_eq(fold_int(j, "real", f, "synthetic_pairs"), 0);
    }
    json_decref(j);
    /* --real-limit 1: only the pairs derived from that one real image */
    cr_assert_eq(pt_sh("%s evaluate --real %s --synthetic syn=%s/syn --out %s/out1 --folds 2 "
                       "--epochs 1 --size 32 --depth 2 --width 4 --threads 1 --real-limit 1 "
                       "--examples 0",
                       pt_segq_run(), real, dir, dir),
                 0);
    snprintf(path, sizeof path, "%s/out1/metrics.json", dir);
    j = load_json(path);
    for (int f = 0; f < 2; f++) {
        cr_expect_eq(fold_int(j, "real", f, "real_pairs"), 1);
        cr_expect_eq(fold_int(j, "real", f, "val_pairs"), 0, "one pair leaves none to validate");
        cr_expect_eq(fold_int(j, "syn", f, "synthetic_pairs"), 1);
        cr_expect_eq(fold_int(j, "syn", f, "synthetic_excluded_test"), 3);
        cr_expect_eq(fold_int(j, "syn", f, "synthetic_excluded_other"), 3);
    }
    json_decref(j);
    pt_sh("rm -rf %s", dir);
}

Test(evaluate, bad_flags_are_named, .timeout = 120)
{
    char dir[512];
    pt_tempdir(dir, sizeof dir);
    kvasir_subset(dir, 0, 2);
    cr_expect_eq(pt_sh("%s evaluate --real %s --out %s/o --synthetic nodir 2> %s/err",
                       pt_segq_run(), dir, dir, dir),
                 2);
    char path[600];
    snprintf(path, sizeof path, "%s/err", dir);
    char *t = pt_read_file(path, NULL);
    cr_expect(t && strstr(t, "--synthetic 'nodir'"), "%s", t);
    free(t);
    cr_expect_eq(pt_sh("%s evaluate --real %s --out %s/o --size 100 --depth 4 2> %s/err",
                       pt_segq_run(), dir, dir, dir),
                 1);
    t = pt_read_file(path, NULL);
    cr_expect(t && strstr(t, "size 100: must be divisible by 2^depth"), "%s", t);
    free(t);
    /* a synthetic set without a manifest cannot be filtered by source */
    cr_expect_eq(pt_sh("%s evaluate --real %s --out %s/o --synthetic s=%s --size 32 2> %s/err",
                       pt_segq_run(), dir, dir, dir, dir),
                 1);
    t = pt_read_file(path, NULL);
    cr_expect(t && strstr(t, "no manifest.csv"), "%s", t);
    free(t);
    pt_sh("rm -rf %s", dir);
}

/* segq-run(1)'s example in small: a model of one image (demo/, the first
 * of real/), its pairs, evaluated. In k folds the fold that tests that
 * image has no synthetic pair to train on: refused before any fold trains,
 * in the words of `segq submit evaluate` (segq_folds_check.h); on a fixed
 * --test set every real pair trains, and so do the synthetic ones. */
Test(evaluate, a_set_a_fold_cannot_train_on_is_refused_before_training, .timeout = 300)
{
    char dir[512];
    pt_tempdir(dir, sizeof dir);
    const char *tiny = "--epochs 1 --size 32 --depth 2 --width 4 --threads 1 --examples 0";
    cr_assert_eq(pt_sh("cd %s && R=%s && { $R sample --out demo --seed 1 && "
                       "$R sample --out real --seed 1 --count 4 && "
                       "$R sample --out test --seed 100 --count 3 && "
                       "$R train --image demo/image.png --mask demo/mask.png --out model "
                       "--max-size 32 --niter 1 --threads 1 --previews 0 && "
                       "$R generate --model model/model.safetensors --count 4 --out synth "
                       "--threads 1; } >setup.log 2>&1",
                       dir, pt_segq_run()),
                 0, "see %s/setup.log", dir);
    cr_expect_eq(pt_sh("cd %s && %s evaluate --real real --synthetic singan=synth --out kfold "
                       "--folds 2 %s >kfold.log 2>&1",
                       dir, pt_segq_run(), tiny),
                 1);
    char path[700];
    snprintf(path, sizeof path, "%s/kfold.log", dir);
    char *log = pt_read_file(path, NULL);
    cr_assert(log);
    cr_expect(strstr(log, "--synthetic singan: in fold ")
                  && strstr(log, "(--seed 0) no synthetic pair would train: they come from 1 "
                                 "image that fold tests (image)"),
              "%s", log);
    cr_expect(!strstr(log, "training pairs ("), "a fold trained before the refusal:\n%s", log);
    free(log);
    cr_expect_eq(pt_sh("cd %s && %s evaluate --real real --test test --synthetic singan=synth "
                       "--out fixed %s >fixed.log 2>&1",
                       dir, pt_segq_run(), tiny),
                 0, "see %s/fixed.log", dir);
    snprintf(path, sizeof path, "%s/fixed/metrics.json", dir);
    json_t *j = load_json(path);
    cr_expect_eq(fold_int(j, "singan", 0, "synthetic_pairs")
                     + fold_int(j, "singan", 0, "synthetic_excluded_test")
                     + fold_int(j, "singan", 0, "synthetic_excluded_other"),
                 4);
    cr_expect_eq(fold_int(j, "singan", 0, "synthetic_excluded_other"), 0);
    json_decref(j);
    pt_sh("rm -rf %s", dir);
}

static void expect_png(const char *path, uint32_t min_w, uint32_t min_h)
{
    segq_image_t *img = NULL;
    char err[512];
    cr_assert_eq(segq_image_read_file(path, NULL, &img, err, sizeof err), 0, "%s", err);
    cr_expect(img->width >= min_w && img->height >= min_h, "%s is %ux%u", path, img->width,
              img->height);
    segq_image_destroy(&img);
}

/* per_image.csv of a 2-fold run on 12 real pairs: each pair tested once,
 * in a fold whose dice loss and IoU are the means of its pairs', and the
 * pairs' own figures, not the fold's repeated (they are what a paired
 * comparison of sets reads). fold_m: [fold][0 dice loss, 1 IoU]. */
static void expect_per_image_rows(const char *dir, double fold_m[2][2])
{
    char path[700], line[1024], name[512], seen[12][512];
    snprintf(path, sizeof path, "%s/out/per_image.csv", dir);
    FILE *f = fopen(path, "r");
    cr_assert(f, "no %s", path);
    cr_assert(fgets(line, sizeof line, f));
    cr_expect_str_eq(line, "set,fold,image,dice_loss,iou,f1,accuracy,recall,precision\n");
    double sum[2][2] = {{0}}, lo[2] = {1, 1}, hi[2] = {0, 0};
    int n[2] = {0, 0}, rows = 0, fold;
    double v[2];
    while (fgets(line, sizeof line, f)) {
        cr_assert_eq(sscanf(line, "real,%d,\"%511[^\"]\",%lf,%lf", &fold, name, &v[0], &v[1]), 4,
                     "row %d: %s", rows + 1, line);
        cr_assert(fold == 1 || fold == 2, "%s", line);
        for (int k = 0; k < rows && k < 12; k++)
            cr_expect_str_neq(seen[k], name, "%s tested twice", name);
        if (rows < 12)
            snprintf(seen[rows], sizeof seen[rows], "%s", name);
        for (int m = 0; m < 2; m++)
            sum[fold - 1][m] += v[m];
        lo[fold - 1] = fmin(lo[fold - 1], v[0]);
        hi[fold - 1] = fmax(hi[fold - 1], v[0]);
        n[fold - 1]++;
        rows++;
    }
    fclose(f);
    cr_expect_eq(rows, 12, "one row per real pair: %d", rows);
    for (int k = 0; k < 2; k++) {
        cr_assert_gt(n[k], 0, "no rows of fold %d", k + 1);
        for (int m = 0; m < 2; m++)
            cr_expect(fabs(sum[k][m] / n[k] - fold_m[k][m]) < 1e-5,
                      "fold %d, %s: the mean of %d rows %g, metrics.json %g", k + 1,
                      m ? "IoU" : "dice loss", n[k], sum[k][m] / n[k], fold_m[k][m]);
        cr_expect_gt(hi[k], lo[k], "fold %d: every pair's dice loss is %g", k + 1, lo[k]);
    }
}

Test(evaluate, tiny_kvasir_run_writes_a_valid_report, .timeout = 900)
{
    char dir[512], real[600];
    pt_tempdir(dir, sizeof dir);
    snprintf(real, sizeof real, "%s/real", dir);
    kvasir_subset(real, 0, 12);
    cr_assert_eq(pt_sh("%s evaluate --real %s --out %s/out --folds 2 --epochs 6 --size 64 "
                       "--depth 3 --width 8 --lr 0.003 --threads 1 --examples 3",
                       pt_segq_run(), real, dir),
                 0);
    char path[700];
    snprintf(path, sizeof path, "%s/out/metrics.json", dir);
    json_t *j = load_json(path);
    json_t *real_set = json_object_get(json_object_get(j, "sets"), "real");
    cr_assert(real_set);
    double fold_m[2][2];
    for (int f = 0; f < 2; f++) {
        json_t *fold = json_array_get(json_object_get(real_set, "folds"), (size_t)f);
        json_t *loss = json_object_get(fold, "train_loss");
        cr_assert_eq(json_array_size(loss), 6);
        double first = json_real_value(json_array_get(loss, 0));
        double last = json_real_value(json_array_get(loss, 5));
        cr_expect_lt(last, first, "fold %d: training loss %g -> %g does not fall", f, first, last);
        json_t *m = json_object_get(fold, "metrics");
        fold_m[f][0] = json_real_value(json_object_get(m, "dice_loss"));
        fold_m[f][1] = json_real_value(json_object_get(m, "iou"));
        for (int k = 0; k < SEGQ_N_METRICS; k++) {
            double v = json_real_value(json_object_get(m, segq_metric_names[k]));
            cr_expect(v >= 0 && v <= 1, "fold %d %s = %g", f, segq_metric_names[k], v);
        }
        cr_expect_eq(fold_int(j, "real", f, "train_pairs") + fold_int(j, "real", f, "val_pairs"),
                     6);
    }
    cr_expect(json_is_object(json_object_get(real_set, "mean")));
    cr_expect(json_is_object(json_object_get(real_set, "std")));
    json_decref(j);
    snprintf(path, sizeof path, "%s/out/metrics.csv", dir);
    char *csv = pt_read_file(path, NULL);
    cr_assert(csv);
    int lines = 0;
    for (char *c = csv; *c; c++)
        lines += *c == '\n';
    cr_expect_eq(lines, 1 + 2 + 2, "header, 2 folds, mean and std:\n%s", csv);
    cr_expect(strncmp(csv, "set,fold,train_pairs", 20) == 0);
    cr_expect(strstr(csv, "\nreal,mean,") && strstr(csv, "\nreal,std,"), "%s", csv);
    free(csv);
    expect_per_image_rows(dir, fold_m);
    snprintf(path, sizeof path, "%s/out/chart.png", dir);
    expect_png(path, 400, 300);
    snprintf(path, sizeof path, "%s/out/examples.png", dir);
    expect_png(path, 3 * 64, 3 * 64);
    pt_sh("rm -rf %s", dir);
}
