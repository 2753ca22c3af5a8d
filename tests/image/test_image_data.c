/* Every format in the real data set loads: Kvasir-SEG JPEG images with JPEG
 * masks (about 18 grey levels), grey chest X-ray JPEG with PNG masks, DSB
 * PNGs, CVC-ClinicDB, and the RGBA polyp whose alpha is its mask. */
#include "image_fixtures.h"
#include "segq_image.h"

#include <stdint.h>

static segq_image_t *load(const char *path)
{
    char err[SEGQ_IMAGE_ERRLEN];
    segq_image_t *img = NULL;
    int rc = segq_image_read_file(path, NULL, &img, err, sizeof err);
    cr_assert_eq(rc, 0, "%s", err);
    return img;
}

/* Loads every pair of a dataset folder: same sizes, binary masks neither
 * empty nor full. Returns the number of pairs. */
static size_t check_dataset(const char *rel, int image_channels, size_t min_pairs)
{
    char *dir = fx_path(fx_data_dir(), rel);
    char err[SEGQ_IMAGE_ERRLEN];
    segq_dataset_t *ds = NULL;
    cr_assert_eq(segq_dataset_open(dir, &ds, err, sizeof err), 0, "%s", err);
    size_t n = segq_dataset_count(ds);
    cr_assert_geq(n, min_pairs, "%s: %zu pairs", dir, n);
    for (size_t i = 0; i < n; i++) {
        const segq_dataset_pair_t *p = segq_dataset_pair(ds, i);
        segq_image_t *img = load(p->image_path), *raw = load(p->mask_path), *mask = NULL;
        fx_check(img->channels == image_channels, "%s: %d channels", p->image_path, img->channels);
        fx_check(segq_image_check_same_size(img, p->image_path, raw, p->mask_path, err, sizeof err)
                     == 0,
                 "%s", err);
        cr_assert_eq(segq_image_to_mask(raw, &mask, err, sizeof err), 0, "%s", err);
        const uint8_t *m = mask->data;
        for (size_t k = 0; k < (size_t)mask->width * mask->height; k++)
            fx_check(m[k] == 0 || m[k] == 255, "%s: mask value %u", p->mask_path, m[k]);
        double f = segq_image_mask_fraction(mask);
        fx_check(f > 0.0 && f < 1.0, "%s: foreground fraction %f", p->mask_path, f);
        segq_image_destroy(&img);
        segq_image_destroy(&raw);
        segq_image_destroy(&mask);
    }
    cr_assert_null(segq_dataset_pair(ds, n));
    segq_dataset_destroy(&ds);
    free(dir);
    return n;
}

Test(data, kvasir_orig_jpeg_pairs, .timeout = FX_TIMEOUT)
{
    cr_assert_eq(check_dataset("kvasir-seg-orig", 3, 20), 20);
    fx_no_leaks();
}

Test(data, kvasir_256_all_998_pairs, .timeout = FX_TIMEOUT)
{
    cr_assert_eq(check_dataset("kvasir-seg-256", 3, 998), 998);
    fx_no_leaks();
}

Test(data, cvc_clinicdb_pairs, .timeout = FX_TIMEOUT)
{
    check_dataset("other/cvc-clinicdb", 3, 5);
    fx_no_leaks();
}

Test(data, dsb2018_png_pairs, .timeout = FX_TIMEOUT)
{
    check_dataset("other/dsb2018-nuclei", 3, 6);
    fx_no_leaks();
}

Test(data, chest_xray_flat_layout_grey_jpeg_png_mask, .timeout = FX_TIMEOUT)
{
    cr_assert_eq(check_dataset("other/chest-xray-lungs", 1, 4), 4);
    char *dir = fx_path(fx_data_dir(), "other/chest-xray-lungs");
    char err[SEGQ_IMAGE_ERRLEN];
    segq_dataset_t *ds = NULL;
    cr_assert_eq(segq_dataset_open(dir, &ds, err, sizeof err), 0, "%s", err);
    const segq_dataset_pair_t *p = segq_dataset_pair(ds, 0);
    cr_assert_str_eq(p->name, "1");
    cr_assert(strstr(p->mask_path, "1-mask.png"), "%s", p->mask_path);
    /* Grey replicated into RGB for the 3-channel networks. */
    segq_image_t *img = load(p->image_path), *rgb = NULL;
    cr_assert_eq(img->width, 512);
    cr_assert_eq(segq_image_to_rgb(img, &rgb, err, sizeof err), 0, "%s", err);
    const uint8_t *g = img->data, *c = rgb->data;
    for (size_t i = 0; i < 512 * 512; i++)
        fx_check(c[3 * i] == g[i] && c[3 * i + 1] == g[i] && c[3 * i + 2] == g[i], "pixel %zu", i);
    segq_image_destroy(&img);
    segq_image_destroy(&rgb);
    segq_dataset_destroy(&ds);
    free(dir);
    fx_no_leaks();
}

/* The 4-channel input of the SinGAN-Seg authors: its alpha, thresholded,
 * is the same mask as Kvasir's JPEG mask of that image (up to the JPEG
 * artefacts at the border), and its colour is the same image. */
Test(data, rgba_polyp_mask_from_alpha, .timeout = FX_TIMEOUT)
{
    const char *data = fx_data_dir();
    char *rgba_path = fx_path(data, "kvasir-seg-orig/polyp_with_4_channels.png");
    char *mask_path = fx_path(data, "kvasir-seg-orig/masks/cju0qkwl35piu0993l0dewei2.jpg");
    char *img_path = fx_path(data, "kvasir-seg-orig/images/cju0qkwl35piu0993l0dewei2.jpg");
    char err[SEGQ_IMAGE_ERRLEN];
    segq_image_t *rgba = load(rgba_path), *jmask = load(mask_path), *jimg = load(img_path);
    segq_image_t *rgb = NULL, *amask = NULL, *bmask = NULL;
    cr_assert_eq(rgba->channels, 4);
    cr_assert_eq(rgba->width, 622);
    cr_assert_eq(rgba->height, 529);
    cr_assert_eq(segq_image_split_alpha(rgba, &rgb, &amask, err, sizeof err), 0, "%s", err);
    cr_assert_eq(rgb->channels, 3);
    cr_assert_eq(amask->channels, 1);
    cr_assert_eq(segq_image_to_mask(jmask, &bmask, err, sizeof err), 0, "%s", err);
    cr_assert_eq(segq_image_check_same_size(amask, rgba_path, bmask, mask_path, err, sizeof err),
                 0);
    size_t n = (size_t)622 * 529, inter = 0, uni = 0;
    const uint8_t *a = amask->data, *b = bmask->data;
    for (size_t i = 0; i < n; i++) {
        inter += a[i] && b[i];
        uni += a[i] || b[i];
    }
    double f = segq_image_mask_fraction(amask);
    cr_assert(f > 0.01 && f < 0.9, "alpha mask fraction %f", f);
    cr_assert_gt((double)inter / (double)uni, 0.95, "IoU of alpha mask and JPEG mask");
    double diff = 0;
    const uint8_t *x = rgb->data, *y = jimg->data;
    for (size_t i = 0; i < n * 3; i++)
        diff += abs((int)x[i] - (int)y[i]);
    cr_assert_lt(diff / (double)(n * 3), 8.0, "colour of the RGBA file is the JPEG image");
    /* An ordinary RGB image has no alpha to take a mask from. */
    segq_image_t *r2 = NULL, *m2 = NULL;
    cr_assert_eq(segq_image_split_alpha(jimg, &r2, &m2, err, sizeof err), SEGQ_EINVAL);
    cr_assert(strstr(err, "alpha"), "%s", err);
    cr_assert_null(r2);
    segq_image_destroy(&rgba);
    segq_image_destroy(&jmask);
    segq_image_destroy(&jimg);
    segq_image_destroy(&rgb);
    segq_image_destroy(&amask);
    segq_image_destroy(&bmask);
    free(rgba_path);
    free(mask_path);
    free(img_path);
    fx_no_leaks();
}

/* Kvasir masks are JPEG: many grey levels go in, two come out. */
Test(data, kvasir_jpeg_mask_has_many_levels_before_threshold, .timeout = FX_TIMEOUT)
{
    char *path = fx_path(fx_data_dir(), "kvasir-seg-orig/masks/cju0qkwl35piu0993l0dewei2.jpg");
    segq_image_t *raw = load(path);
    int seen[256] = {0}, levels = 0;
    const uint8_t *p = raw->data;
    for (size_t i = 0; i < (size_t)raw->width * raw->height * raw->channels; i++)
        seen[p[i]] = 1;
    for (int v = 0; v < 256; v++)
        levels += seen[v];
    cr_assert_gt(levels, 2, "fixture is a real JPEG mask with artefacts");
    segq_image_destroy(&raw);
    free(path);
    fx_no_leaks();
}
