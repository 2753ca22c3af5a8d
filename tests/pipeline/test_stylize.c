/* stylize: the style/content losses and their gradient against an
 * independent torch.nn reference (stylize_reference.py), the VGG19 loader's
 * errors, and segq-run stylize end to end with a random-weight VGG19 made
 * by deploy/convert_vgg19.py. */
#include <criterion/criterion.h>

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "pipeline_test_util.h"
#include "contact_sheet.h"
#include "segq_image.h"
#include "segq_safetensors.h"
#include "segq_sha256.h"
#include "singan_internal.h"
#include "stylize.h"
#include "stylize_manifest.h"
#include "vgg19.h"

#define REFERENCE "/usr/bin/python3 " SEGQ_SOURCE_DIR "/tests/pipeline/stylize_reference.py"

static const int convs[][3] = {{0, 3, 64},     {2, 64, 64},    {5, 64, 128},   {7, 128, 128},
                               {10, 128, 256}, {12, 256, 256}, {14, 256, 256}, {16, 256, 256},
                               {19, 256, 512}, {21, 512, 512}, {23, 512, 512}, {25, 512, 512},
                               {28, 512, 512}};

static void add(segq_st_writer_t *w, const char *name, segqt_tensor *t)
{
    char err[512];
    cr_assert(t, "%s: %s", name, segqt_last_error());
    cr_assert_eq(segq__st_add_tensor(w, name, t, err, sizeof err), 0, "%s", err);
}

/* Random He-initialised VGG19 features up to conv5_1 written from C;
 * skip names one tensor to leave out, bad one to give a wrong shape. */
static void write_weights(const char *path, const char *skip, const char *bad)
{
    segq_st_writer_t *w = segq_st_writer_new();
    cr_assert(w);
    cr_assert_geq(segqt_scope_begin(), 1);
    for (size_t i = 0; i < sizeof convs / sizeof convs[0]; i++) {
        char key[64];
        int64_t ws[4] = {convs[i][2], convs[i][1], 3, 3}, bs[1] = {convs[i][2]};
        snprintf(key, sizeof key, "features.%d.weight", convs[i][0]);
        if (bad && strcmp(key, bad) == 0)
            ws[2] = ws[3] = 1;
        if (!skip || strcmp(key, skip) != 0)
            add(w, key,
                segqt_mul_scalar(segqt_randn(ws, 4, SEGQT_F32, SEGQT_CPU),
                                 sqrt(2.0 / (convs[i][1] * 9.0))));
        snprintf(key, sizeof key, "features.%d.bias", convs[i][0]);
        if (!skip || strcmp(key, skip) != 0)
            add(w, key, segqt_mul_scalar(segqt_randn(bs, 1, SEGQT_F32, SEGQT_CPU), 0.01));
    }
    int64_t cs[2] = {4, 8};
    add(w, "classifier.0.weight", segqt_randn(cs, 2, SEGQT_F32, SEGQT_CPU));
    char err[512];
    cr_assert_eq(segq_st_writer_save(w, path, err, sizeof err), 0, "%s", err);
    segq_st_writer_destroy(&w);
    segqt_scope_end();
}

Test(stylize, losses_and_gradient_match_python, .timeout = 300)
{
    segqt_set_num_threads(1);
    segqt_manual_seed(11);
    char dir[512], wpath[600], path[600], err[1024];
    pt_tempdir(dir, sizeof dir);
    snprintf(wpath, sizeof wpath, "%s/vgg19.safetensors", dir);
    write_weights(wpath, NULL, NULL);
    segq_vgg19_t *vgg = NULL;
    cr_assert_eq(segq_vgg19_load(wpath, "--vgg19", SEGQT_CPU, &vgg, err, sizeof err), 0, "%s", err);
    cr_assert_geq(segqt_scope_begin(), 1);
    int64_t shape[4] = {2, 3, 36, 44};
    segqt_tensor *content = segqt_rand(shape, 4, SEGQT_F32, SEGQT_CPU);
    segqt_tensor *style = segqt_rand(shape, 4, SEGQT_F32, SEGQT_CPU);
    segqt_tensor *noise = segqt_mul_scalar(segqt_randn_like(content), 0.1);
    segqt_tensor *x = segqt_clamp(segqt_add(content, noise), 0.0, 1.0);
    x = segqt_detach(x);
    cr_assert_eq(segqt_set_requires_grad(x, 1), 0);
    segq_style_targets_t tg;
    cr_assert_eq(segq_style_targets_new(vgg, content, style, &tg), 0, "%s", segqt_last_error());
    segqt_tensor *lc, *ls;
    const double cw = 1.0, sw = 1000.0;
    cr_assert_eq(segq_style_backward(vgg, x, &tg, cw, sw, 0, &lc, &ls), 0, "%s",
                 segqt_last_error());
    double v;
    cr_assert_eq(segqt_item(segqt_min(ls), &v), 0);
    cr_assert_gt(v, 0.0, "a zero style loss tests nothing");

    segq_st_writer_t *w = segq_st_writer_new();
    add(w, "x", segqt_detach(x));
    add(w, "content", content);
    add(w, "style", style);
    add(w, "content_loss", segqt_detach(lc));
    add(w, "style_loss", segqt_detach(ls));
    add(w, "grad", segqt_grad(x));
    double weights[2] = {cw, sw};
    int64_t two[1] = {2};
    cr_assert_eq(segq_st_writer_add(w, "weights", SEGQ_ST_F64, 1, two, weights, sizeof weights, err,
                                    sizeof err),
                 0);
    snprintf(path, sizeof path, "%s/losses.safetensors", dir);
    cr_assert_eq(segq_st_writer_save(w, path, err, sizeof err), 0, "%s", err);
    segq_st_writer_destroy(&w);
    segq_style_targets_free(&tg);
    segqt_scope_end();
    segq_vgg19_destroy(&vgg);
    cr_expect_eq(segqt_live_tensors(), 0, "%lld tensors outlive the test",
                 (long long)segqt_live_tensors());
    cr_expect_eq(pt_sh(REFERENCE " check %s %s", path, wpath), 0,
                 "C and Python disagree (see above)");
    pt_sh("rm -rf %s", dir);
}

static void expect_load_error(const char *path, const char *needle)
{
    char err[1024] = "";
    segq_vgg19_t *vgg = NULL;
    cr_expect_lt(segq_vgg19_load(path, "--vgg19", SEGQT_CPU, &vgg, err, sizeof err), 0);
    cr_expect_null(vgg);
    cr_expect(strstr(err, "--vgg19") != NULL, "message does not name the option: %s", err);
    cr_expect(strstr(err, needle) != NULL, "message does not say '%s': %s", needle, err);
}

Test(stylize, missing_or_wrong_weights_are_named, .timeout = 60)
{
    char dir[512], path[600];
    pt_tempdir(dir, sizeof dir);
    snprintf(path, sizeof path, "%s/absent.safetensors", dir);
    expect_load_error(path, "absent.safetensors");
    snprintf(path, sizeof path, "%s/nokey.safetensors", dir);
    write_weights(path, "features.28.bias", NULL);
    expect_load_error(path, "missing tensor 'features.28.bias'");
    snprintf(path, sizeof path, "%s/shape.safetensors", dir);
    write_weights(path, NULL, "features.5.weight");
    expect_load_error(path, "'features.5.weight' has shape [128, 64, 1, 1], VGG19 needs "
                            "[128, 64, 3, 3]");
    snprintf(path, sizeof path, "%s/junk.safetensors", dir);
    FILE *f = fopen(path, "w");
    fputs("not a safetensors file", f);
    fclose(f);
    expect_load_error(path, "junk.safetensors");
    cr_expect_eq(segqt_live_tensors(), 0);
    pt_sh("rm -rf %s", dir);
}

/* A w x h RGB PNG with a gradient and stripes (period sets the texture). */
static void write_rgb(const char *path, uint32_t w, uint32_t h, int period, int phase)
{
    segq_image_t *img = segq_image_new(w, h, 3, 8);
    cr_assert(img);
    uint8_t *p = img->data;
    for (uint32_t y = 0; y < h; y++)
        for (uint32_t x = 0; x < w; x++) {
            p[3 * (y * w + x)] = (uint8_t)(255 * x / w);
            p[3 * (y * w + x) + 1] =
                (uint8_t)((((x + y + (uint32_t)phase) / (uint32_t)period) % 2) * 200);
            p[3 * (y * w + x) + 2] = (uint8_t)(255 * y / h);
        }
    char err[512];
    cr_assert_eq(segq_image_write_png(img, path, err, sizeof err), 0, "%s", err);
    segq_image_destroy(&img);
}

static void write_mask(const char *path, uint32_t w, uint32_t h)
{
    segq_image_t *m = segq_image_new(w, h, 1, 8);
    cr_assert(m);
    uint8_t *p = m->data;
    for (uint32_t y = 0; y < h; y++)
        for (uint32_t x = 0; x < w; x++)
            p[y * w + x] =
                (x - w / 2) * (x - w / 2) + (y - h / 2) * (y - h / 2) < w * h / 8 ? 255 : 0;
    char err[512];
    cr_assert_eq(segq_image_write_png(m, path, err, sizeof err), 0, "%s", err);
    segq_image_destroy(&m);
}

/* Content dataset: pairs a_0, a_1 (40x36) and b_0 (32x32) from source
 * src.png (in DIR/real), with a generate-style manifest (the model by
 * its catalogue id and name). */
static void make_dataset(const char *dir)
{
    char p[1024];
    cr_assert_eq(pt_sh("mkdir -p %s/content/images %s/content/masks %s/real", dir, dir, dir), 0);
    snprintf(p, sizeof p, "%s/real/src.png", dir);
    write_rgb(p, 64, 64, 3, 0);
    char hex[SEGQ_HASH_HEX_LEN + 1];
    cr_assert_eq(segq_sha256_file(p, hex), 0);
    snprintf(p, sizeof p, "%s/content/manifest.csv", dir);
    FILE *man = fopen(p, "w");
    cr_assert(man);
    fputs("name,image,mask,source_image,source_image_sha256,model_id,model_name,seed\n", man);
    static const struct {
        const char *name;
        uint32_t w, h;
    } pairs[] = {{"a_0", 40, 36}, {"a_1", 40, 36}, {"b_0", 32, 32}};
    for (int i = 0; i < 3; i++) {
        snprintf(p, sizeof p, "%s/content/images/%s.png", dir, pairs[i].name);
        write_rgb(p, pairs[i].w, pairs[i].h, 9, i);
        snprintf(p, sizeof p, "%s/content/masks/%s.png", dir, pairs[i].name);
        write_mask(p, pairs[i].w, pairs[i].h);
        fprintf(man,
                "\"%s\",\"images/%s.png\",\"masks/%s.png\",\"src.png\",\"%s\",\"m-000c\","
                "\"polyp, \"\"one\"\"\",%d\n",
                pairs[i].name, pairs[i].name, pairs[i].name, hex, i);
    }
    fclose(man);
}

/* style_loss of `batch` at `step` in losses.csv, -1 if absent. */
static double style_loss_at(const char *csv, int batch, int step)
{
    char *text = pt_read_file(csv, NULL);
    cr_assert(text, "no %s", csv);
    double out = -1;
    for (char *line = strtok(text, "\n"); line; line = strtok(NULL, "\n")) {
        int b, s, n;
        double c, st;
        if (sscanf(line, "%d,%d,%d,%lf,%lf", &b, &s, &n, &c, &st) == 5 && b == batch && s == step)
            out = st;
    }
    free(text);
    return out;
}

Test(stylize, run_lowers_style_loss_and_keeps_masks, .timeout = 600)
{
    char dir[512], o[700];
    pt_tempdir(dir, sizeof dir);
    make_dataset(dir);
    /* the converter of real weights, fed a random torchvision-layout .pth */
    cr_assert_eq(pt_sh(REFERENCE " weights %s 3", dir), 0);
    snprintf(o, sizeof o, "%s/out", dir);
    cr_assert_eq(pt_sh("%s stylize --content %s/content --style %s/real --vgg19 "
                       "%s/vgg19.safetensors --out %s --steps 20 --threads 1 --log-every 10 "
                       ">%s.log",
                       pt_segq_run(), dir, dir, dir, o, o),
                 0);
    /* a batch per size, --batch 8 cut to the images of that size */
    cr_expect_eq(pt_sh("grep -q '^32x32 images: batch 8 -> 1: 1 image in all (up to ' %s.log", o),
                 0, "see %s.log", o);
    cr_expect_eq(pt_sh("grep -q '^40x36 images: batch 8 -> 2: 2 images in all (up to ' %s.log", o),
                 0, "see %s.log", o);
    char a[1200], b[1200];
    static const char *names[] = {"a_0", "a_1", "b_0"};
    for (int i = 0; i < 3; i++) {
        snprintf(a, sizeof a, "%s/content/masks/%s.png", dir, names[i]);
        snprintf(b, sizeof b, "%s/masks/%s.png", o, names[i]);
        cr_expect(pt_files_equal(a, b), "mask %s changed", names[i]);
        snprintf(a, sizeof a, "%s/content/images/%s.png", dir, names[i]);
        snprintf(b, sizeof b, "%s/images/%s.png", o, names[i]);
        segq_image_t *x = NULL, *y = NULL;
        char err[512];
        cr_assert_eq(segq_image_read_file(a, NULL, &x, err, sizeof err), 0, "%s", err);
        cr_assert_eq(segq_image_read_file(b, NULL, &y, err, sizeof err), 0, "%s", err);
        cr_expect(x->width == y->width && x->height == y->height && y->channels == 3);
        cr_expect(memcmp(x->data, y->data, segq_image_size(x)) != 0, "%s not restyled", names[i]);
        segq_image_destroy(&x);
        segq_image_destroy(&y);
    }
    snprintf(a, sizeof a, "%s/content/manifest.csv", dir);
    snprintf(b, sizeof b, "%s/manifest.csv", o);
    cr_expect(pt_files_equal(a, b), "manifest not carried over");
    segq_manifest_t *man = NULL;
    char merr[512];
    cr_assert_eq(segq_manifest_read(o, &man, merr, sizeof merr), 0, "%s", merr);
    const char *id = segq_manifest_get(man, "b_0", "model_id");
    const char *name = segq_manifest_get(man, "b_0", "model_name");
    cr_expect(id && strcmp(id, "m-000c") == 0, "model_id %s", id);
    cr_expect(name && strcmp(name, "polyp, \"one\"") == 0, "model_name %s", name);
    segq_manifest_destroy(&man);
    snprintf(b, sizeof b, "%s/losses.csv", o);
    /* two batches: the 32x32 image, then the two 40x36 ones */
    for (int batch = 0; batch < 2; batch++) {
        double first = style_loss_at(b, batch, 1), last = style_loss_at(b, batch, 20);
        cr_expect(first > 0 && last >= 0 && last < 0.7 * first,
                  "batch %d: style loss %g -> %g does not fall", batch, first, last);
    }
    cr_expect_lt(style_loss_at(b, 2, 1), 0, "only two batches expected");
    /* each image's final losses, its name a quoted CSV field */
    snprintf(b, sizeof b, "%s/final_losses.csv", o);
    char *final = pt_read_file(b, NULL);
    cr_assert(final, "no %s", b);
    cr_expect(strncmp(final, "name,content_loss,style_loss,loss\n", 34) == 0, "%s", final);
    for (int i = 0; i < 3; i++) {
        snprintf(a, sizeof a, "\n\"%s\",", names[i]);
        cr_expect(strstr(final, a), "no row of %s in\n%s", names[i], final);
    }
    free(final);
    /* the contact sheet: 3 samples in 2 x 2 cells of the largest, 40x36 */
    snprintf(b, sizeof b, "%s/" SEGQ_CONTACT_SHEET_FILE, o);
    segq_image_t *sheet = NULL;
    char err[SEGQ_IMAGE_ERRLEN];
    cr_assert_eq(segq_image_read_file(b, NULL, &sheet, err, sizeof err), 0, "%s", err);
    uint32_t g = SEGQ_CONTACT_SHEET_GAP;
    cr_expect(sheet->channels == 3 && sheet->width == 2 * (40 + g) + g
                  && sheet->height == 2 * (36 + g) + g,
              "sheet %ux%u", sheet->width, sheet->height);
    segq_image_destroy(&sheet);
    pt_sh("rm -rf %s", dir);
}

Test(stylize, without_style_or_manifest_source_is_an_error, .timeout = 120)
{
    char dir[512], o[700];
    pt_tempdir(dir, sizeof dir);
    make_dataset(dir);
    snprintf(o, sizeof o, "%s/vgg19.safetensors", dir);
    write_weights(o, NULL, NULL);
    /* no --style: src.png is neither in the working directory nor --content */
    cr_expect_eq(pt_sh("cd %s && %s stylize --content content --vgg19 vgg19.safetensors --out out "
                       "--steps 1 2> err.txt",
                       dir, pt_segq_run()),
                 1);
    snprintf(o, sizeof o, "%s/err.txt", dir);
    char *text = pt_read_file(o, NULL);
    cr_assert(text);
    cr_expect(strstr(text, "src.png") && strstr(text, "--style"), "%s", text);
    free(text);
    /* a --style folder holding another file under the source's name */
    cr_assert_eq(
        pt_sh("mkdir -p %s/other && cp %s/content/images/a_0.png %s/other/src.png", dir, dir, dir),
        0);
    cr_expect_eq(pt_sh("cd %s && %s stylize --content content --style other --vgg19 "
                       "vgg19.safetensors --out out --steps 1 2> err.txt",
                       dir, pt_segq_run()),
                 1);
    text = pt_read_file(o, NULL);
    cr_assert(text);
    cr_expect(strstr(text, "is not its source image"), "%s", text);
    free(text);
    /* the missing option is named */
    cr_expect_eq(
        pt_sh("cd %s && %s stylize --content content --out out 2> err.txt", dir, pt_segq_run()), 2);
    text = pt_read_file(o, NULL);
    cr_assert(text);
    cr_expect(strstr(text, "--vgg19 is required"), "%s", text);
    free(text);
    pt_sh("rm -rf %s", dir);
}
