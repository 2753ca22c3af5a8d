/* Conversions the pipeline relies on (RGB, binary masks, alpha split,
 * float planes), the size check, and dataset folder listing. */
#include "image_fixtures.h"
#include "segq_image.h"

#include <stdint.h>

Test(convert, grey_alpha_and_rgba_to_rgb, .timeout = FX_TIMEOUT)
{
    char err[SEGQ_IMAGE_ERRLEN];
    segq_image_t *ga = segq_image_new(3, 2, 2, 16), *rgb = NULL;
    uint16_t *d = ga->data;
    for (int i = 0; i < 6; i++) {
        d[2 * i] = (uint16_t)(i * 10000);
        d[2 * i + 1] = 7;
    }
    cr_assert_eq(segq_image_to_rgb(ga, &rgb, err, sizeof err), 0, "%s", err);
    cr_assert_eq(rgb->channels, 3);
    cr_assert_eq(rgb->depth, 16);
    const uint16_t *c = rgb->data;
    for (int i = 0; i < 6; i++)
        for (int k = 0; k < 3; k++)
            cr_assert_eq(c[3 * i + k], i * 10000);
    segq_image_destroy(&rgb);
    segq_image_t *rgba = segq_image_new(2, 1, 4, 8);
    memcpy(rgba->data, "\x01\x02\x03\x04\x05\x06\x07\x08", 8);
    cr_assert_eq(segq_image_to_rgb(rgba, &rgb, err, sizeof err), 0);
    cr_assert_eq(memcmp(rgb->data, "\x01\x02\x03\x05\x06\x07", 6), 0);
    segq_image_destroy(&rgb);
    segq_image_destroy(&rgba);
    segq_image_destroy(&ga);
    segq_image_t bad = {0};
    cr_assert_eq(segq_image_to_rgb(&bad, &rgb, err, sizeof err), SEGQ_EINVAL);
    cr_assert_null(segq_image_new(0, 5, 3, 8));
    cr_assert_null(segq_image_new(5, 5, 5, 8));
    cr_assert_null(segq_image_new(5, 5, 3, 12));
    segq_image_destroy(NULL);
    fx_no_leaks();
}

Test(mask, threshold_at_half_range_any_channels, .timeout = FX_TIMEOUT)
{
    char err[SEGQ_IMAGE_ERRLEN];
    segq_image_t *grey = segq_image_new(4, 1, 1, 8), *m = NULL;
    memcpy(grey->data, "\x00\x7f\x80\xff", 4);
    cr_assert_eq(segq_image_to_mask(grey, &m, err, sizeof err), 0, "%s", err);
    cr_assert_eq(m->channels, 1);
    cr_assert_eq(m->depth, 8);
    cr_assert_eq(memcmp(m->data, "\x00\x00\xff\xff", 4), 0);
    cr_assert_float_eq(segq_image_mask_fraction(m), 0.5, 1e-12);
    segq_image_destroy(&m);
    /* RGB: luminance, so pure blue 255 (29) is background, white is not. */
    segq_image_t *rgb = segq_image_new(3, 1, 3, 8);
    memcpy(rgb->data, "\x00\x00\xff\xff\xff\xff\x80\x80\x80", 9);
    cr_assert_eq(segq_image_to_mask(rgb, &m, err, sizeof err), 0);
    cr_assert_eq(memcmp(m->data, "\x00\xff\xff", 3), 0);
    segq_image_destroy(&m);
    /* 16-bit: the half range is 32767. */
    segq_image_t *g16 = segq_image_new(2, 1, 1, 16);
    ((uint16_t *)g16->data)[0] = 32767;
    ((uint16_t *)g16->data)[1] = 32768;
    cr_assert_eq(segq_image_to_mask(g16, &m, err, sizeof err), 0);
    cr_assert_eq(memcmp(m->data, "\x00\xff", 2), 0);
    segq_image_destroy(&m);
    /* Empty and full masks: the caller warns on these two fractions. */
    segq_image_t *z = segq_image_new(5, 5, 1, 8);
    cr_assert_float_eq(segq_image_mask_fraction(z), 0.0, 0);
    memset(z->data, 255, 25);
    cr_assert_float_eq(segq_image_mask_fraction(z), 1.0, 0);
    cr_assert_float_eq(segq_image_mask_fraction(NULL), 0.0, 0);
    segq_image_destroy(&z);
    segq_image_destroy(&g16);
    segq_image_destroy(&rgb);
    segq_image_destroy(&grey);
    fx_no_leaks();
}

Test(mask, split_alpha_grey_alpha_and_rgba, .timeout = FX_TIMEOUT)
{
    char err[SEGQ_IMAGE_ERRLEN];
    segq_image_t *ga = segq_image_new(2, 1, 2, 8), *rgb = NULL, *m = NULL;
    memcpy(ga->data, "\x10\x7f\x20\x80", 4);
    cr_assert_eq(segq_image_split_alpha(ga, &rgb, &m, err, sizeof err), 0, "%s", err);
    cr_assert_eq(memcmp(rgb->data, "\x10\x10\x10\x20\x20\x20", 6), 0);
    cr_assert_eq(memcmp(m->data, "\x00\xff", 2), 0);
    segq_image_destroy(&rgb);
    segq_image_destroy(&m);
    segq_image_t *grey = segq_image_new(2, 1, 1, 8);
    cr_assert_eq(segq_image_split_alpha(grey, &rgb, &m, err, sizeof err), SEGQ_EINVAL);
    cr_assert(strstr(err, "--mask-from-alpha"), "%s", err);
    segq_image_destroy(&grey);
    segq_image_destroy(&ga);
    fx_no_leaks();
}

Test(convert, size_mismatch_names_both, .timeout = FX_TIMEOUT)
{
    char err[SEGQ_IMAGE_ERRLEN];
    segq_image_t *a = segq_image_new(10, 20, 3, 8), *b = segq_image_new(10, 21, 1, 8);
    cr_assert_eq(segq_image_check_same_size(a, "img.jpg", b, "mask.png", err, sizeof err),
                 SEGQ_EINVAL);
    cr_assert(strstr(err, "img.jpg is 10x20") && strstr(err, "mask.png is 10x21"), "%s", err);
    cr_assert_eq(segq_image_check_same_size(a, "a", a, "a", err, sizeof err), 0);
    segq_image_destroy(&a);
    segq_image_destroy(&b);
    fx_no_leaks();
}

Test(convert, float_planes_round_trip, .timeout = FX_TIMEOUT)
{
    char err[SEGQ_IMAGE_ERRLEN];
    segq_image_t *img = segq_image_new(5, 3, 3, 8), *back = NULL;
    uint8_t *d = img->data;
    for (int i = 0; i < 45; i++)
        d[i] = (uint8_t)(i * 17);
    float f[45];
    segq_image_to_float_chw(img, f);
    /* Channel planes: plane k holds sample k of every pixel. */
    cr_assert_float_eq(f[1 * 15 + 2], d[2 * 3 + 1] / 255.0f, 1e-7);
    cr_assert_eq(segq_image_from_float_chw(f, 5, 3, 3, &back, err, sizeof err), 0, "%s", err);
    cr_assert_eq(memcmp(back->data, img->data, 45), 0);
    segq_image_destroy(&back);
    float odd[3] = {-1.0f, 2.0f, 0.5f};
    odd[0] = odd[0] * 0.0f / 0.0f; /* NaN */
    cr_assert_eq(segq_image_from_float_chw(odd, 3, 1, 1, &back, err, sizeof err), 0);
    cr_assert_eq(memcmp(back->data, "\x00\xff\x80", 3), 0);
    segq_image_destroy(&back);
    cr_assert_eq(segq_image_from_float_chw(odd, 0, 1, 1, &back, err, sizeof err), SEGQ_EINVAL);
    cr_assert(strstr(err, "0x1"), "%s", err);
    segq_image_t *g16 = segq_image_new(1, 1, 1, 16);
    ((uint16_t *)g16->data)[0] = 65535;
    segq_image_to_float_chw(g16, f);
    cr_assert_float_eq(f[0], 1.0f, 0);
    segq_image_destroy(&g16);
    segq_image_destroy(&img);
    fx_no_leaks();
}

/* ---- Dataset folders ------------------------------------------------------ */

static void touch_png(const char *dir, const char *name)
{
    char *path = fx_path(dir, name);
    segq_image_t *img = segq_image_new(2, 2, 1, 8);
    char err[SEGQ_IMAGE_ERRLEN];
    cr_assert_eq(segq_image_write_png(img, path, err, sizeof err), 0, "%s", err);
    segq_image_destroy(&img);
    free(path);
}

static char *subdir(const char *dir, const char *name)
{
    char *p = fx_path(dir, name);
    cr_assert_eq(mkdir(p, 0700), 0);
    return p;
}

static int open_ds(const char *dir, segq_dataset_t **ds, char *err)
{
    *ds = NULL;
    int rc = segq_dataset_open(dir, ds, err, SEGQ_IMAGE_ERRLEN);
    if (rc)
        cr_assert_null(*ds);
    return rc;
}

Test(dataset, kvasir_layout_with_mixed_extensions, .timeout = FX_TIMEOUT)
{
    char *root = fx_tmpdir();
    char *im = subdir(root, "images"), *ma = subdir(root, "masks");
    touch_png(im, "b.jpg"); /* a PNG named .jpg: names matter, not contents */
    touch_png(ma, "b.png");
    touch_png(im, "a.PNG");
    touch_png(ma, "a.jpeg");
    touch_png(im, ".hidden.png");
    char *notes = fx_path(im, "README.txt");
    fx_write(notes, "x", 1);
    char err[SEGQ_IMAGE_ERRLEN];
    segq_dataset_t *ds;
    cr_assert_eq(open_ds(root, &ds, err), 0, "%s", err);
    cr_assert_eq(segq_dataset_count(ds), 2);
    const segq_dataset_pair_t *p = segq_dataset_pair(ds, 0);
    cr_assert_str_eq(p->name, "a");
    cr_assert(strstr(p->image_path, "/images/a.PNG"), "%s", p->image_path);
    cr_assert(strstr(p->mask_path, "/masks/a.jpeg"), "%s", p->mask_path);
    cr_assert_str_eq(segq_dataset_pair(ds, 1)->name, "b");
    segq_dataset_destroy(&ds);
    cr_assert_null(ds);

    /* An image without its mask is named. */
    touch_png(im, "c.png");
    cr_assert_eq(open_ds(root, &ds, err), SEGQ_EINVAL);
    cr_assert(strstr(err, "images/c.png has no mask"), "%s", err);
    char *c = fx_path(im, "c.png");
    cr_assert_eq(remove(c), 0);
    /* A mask without its image too. */
    touch_png(ma, "d.png");
    cr_assert_eq(open_ds(root, &ds, err), SEGQ_EINVAL);
    cr_assert(strstr(err, "masks/d.png has no image"), "%s", err);
    char *d = fx_path(ma, "d.png");
    cr_assert_eq(remove(d), 0);
    /* Two images for one name are ambiguous. */
    touch_png(im, "a.jpg");
    cr_assert_eq(open_ds(root, &ds, err), SEGQ_EINVAL);
    cr_assert(strstr(err, "same name"), "%s", err);
    free(c);
    free(d);
    free(notes);
    free(im);
    free(ma);
    fx_rmtree(root);
    fx_no_leaks();
}

Test(dataset, flat_layout_and_empty_folder, .timeout = FX_TIMEOUT)
{
    char *root = fx_tmpdir();
    char err[SEGQ_IMAGE_ERRLEN];
    segq_dataset_t *ds;
    cr_assert_eq(open_ds(root, &ds, err), SEGQ_EINVAL);
    cr_assert(strstr(err, "no image/mask pairs"), "%s", err);
    touch_png(root, "10.jpg");
    touch_png(root, "10-mask.png");
    touch_png(root, "9.jpg");
    touch_png(root, "9-mask.png");
    cr_assert_eq(open_ds(root, &ds, err), 0, "%s", err);
    cr_assert_eq(segq_dataset_count(ds), 2);
    cr_assert_str_eq(segq_dataset_pair(ds, 0)->name, "10");
    cr_assert_str_eq(segq_dataset_pair(ds, 1)->name, "9");
    segq_dataset_destroy(&ds);
    touch_png(root, "11.jpg");
    cr_assert_eq(open_ds(root, &ds, err), SEGQ_EINVAL);
    cr_assert(strstr(err, "11.jpg has no mask") && strstr(err, "11-mask.png"), "%s", err);
    cr_assert_eq(open_ds("/nonexistent-folder", &ds, err), SEGQ_EIO);
    cr_assert(strstr(err, "/nonexistent-folder"), "%s", err);
    fx_rmtree(root);
    fx_no_leaks();
}

/* An evaluate set's folders: the folder itself when it has images/ (or
 * has no part: its own layout, flat or none, is segq_dataset_open's to
 * judge), else each visible subfolder with images/, in name order. */
Test(dataset, parts_of_an_evaluate_set, .timeout = FX_TIMEOUT)
{
    char *root = fx_tmpdir();
    char err[SEGQ_IMAGE_ERRLEN], **parts = NULL;
    size_t n = 0;
    cr_assert_eq(segq_dataset_parts(root, &parts, &n, err, sizeof err), 0, "%s", err);
    cr_assert(n == 1 && strcmp(parts[0], root) == 0);
    segq_dataset_parts_free(&parts, n);
    char *b = subdir(root, "b"), *a = subdir(root, "a"), *hidden = subdir(root, ".c");
    char *plain = subdir(root, "plain"), *bi = subdir(b, "images"), *ai = subdir(a, "images");
    char *ci = subdir(hidden, "images");
    cr_assert_eq(segq_dataset_parts(root, &parts, &n, err, sizeof err), 0, "%s", err);
    cr_assert_eq(n, 2);
    cr_assert(strcmp(parts[0], a) == 0 && strcmp(parts[1], b) == 0, "%s %s", parts[0], parts[1]);
    segq_dataset_parts_free(&parts, n);
    cr_assert_null(parts);
    /* a folder with images/ of its own is one set, its subfolders data */
    char *own = subdir(root, "images");
    cr_assert_eq(segq_dataset_parts(root, &parts, &n, err, sizeof err), 0, "%s", err);
    cr_assert(n == 1 && strcmp(parts[0], root) == 0);
    segq_dataset_parts_free(&parts, n);
    cr_assert_eq(segq_dataset_parts("/nonexistent-folder", &parts, &n, err, sizeof err), 0);
    cr_assert(n == 1 && strcmp(parts[0], "/nonexistent-folder") == 0);
    segq_dataset_parts_free(&parts, n);
    char *all[] = {b, a, hidden, plain, bi, ai, ci, own};
    for (size_t i = 0; i < sizeof all / sizeof all[0]; i++)
        free(all[i]);
    fx_rmtree(root);
    fx_no_leaks();
}
