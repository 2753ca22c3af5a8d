/*  test_sample.c: `segq-run sample`, the procedural endoscopy-like image
    and polyp mask that `make demo` and the e2e tests use instead of patient
    data. No torch: runs under ASan+UBSan. */
#define _GNU_SOURCE
#include <criterion/criterion.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include "sample.h"
#include "segq_error.h"

static char *
s_tempdir (void)
{
    char tmpl [] = "/tmp/segq-test-sample-XXXXXX";
    cr_assert_not_null (mkdtemp (tmpl));
    return strdup (tmpl);
}

static void
s_rmtree (const char *dir)
{
    char cmd [600];
    snprintf (cmd, sizeof cmd, "rm -rf '%s'", dir);
    cr_assert_eq (system (cmd), 0);
}

/* The whole file, malloc'd. */
static unsigned char *
s_slurp (const char *path, size_t *len)
{
    FILE *f = fopen (path, "rb");
    cr_assert_not_null (f, "cannot open %s", path);
    cr_assert_eq (fseek (f, 0, SEEK_END), 0);
    long n = ftell (f);
    cr_assert (n > 0, "%s is empty", path);
    rewind (f);
    unsigned char *buf = malloc ((size_t) n);
    cr_assert_not_null (buf);
    cr_assert_eq (fread (buf, 1, (size_t) n, f), (size_t) n);
    fclose (f);
    *len = (size_t) n;
    return buf;
}

static bool
s_same_file (const char *a, const char *b)
{
    size_t la, lb;
    unsigned char *x = s_slurp (a, &la), *y = s_slurp (b, &lb);
    bool same = la == lb && memcmp (x, y, la) == 0;
    free (x);
    free (y);
    return same;
}

static void
s_run (const char *out, int64_t seed, const char *size, int64_t count)
{
    segq_sample_opts_t o = {
        .out = (char *) out, .size = (char *) size, .seed = seed, .count = count
    };
    char err [512] = "";
    cr_assert_eq (segq_sample_run (&o, err, sizeof err), 0, "sample: %s", err);
}

/* sample.h's rule, written out again here: the mask must follow it to the pixel. */
static double
s_blob_radius (const segq_sample_blob_t *b, double x, double y)
{
    double theta = atan2 (y - b->cy, x - b->cx);
    double r = 1;
    for (int k = 0; k < SEGQ_SAMPLE_HARMONICS; k++)
        r += b->amp [k] * cos ((k + 2) * theta + b->phase [k]);
    return b->radius * r;
}

Test (sample, mask_is_binary_and_exactly_the_blob, .timeout = 60)
{
    const uint32_t sizes [][2] = { { 320, 256 }, { 64, 48 }, { 100, 300 } };
    for (size_t s = 0; s < 3; s++)
        for (uint64_t seed = 0; seed < 6; seed++) {
            uint32_t w = sizes [s][0], h = sizes [s][1];
            segq_image_t *img = NULL, *mask = NULL;
            segq_sample_blob_t b;
            char err [256];
            cr_assert_eq (segq_sample_draw (seed, w, h, &img, &mask, &b, err, sizeof err), 0, "%s",
                          err);
            cr_assert (img->width == w && img->height == h && img->channels == 3
                       && img->depth == 8);
            cr_assert (mask->width == w && mask->height == h && mask->channels == 1
                       && mask->depth == 8);
            const uint8_t *m = mask->data, *rgb = img->data;
            size_t fg = 0;
            double in_sum = 0, ring_sum = 0;
            size_t in_n = 0, ring_n = 0;
            for (uint32_t y = 0; y < h; y++)
                for (uint32_t x = 0; x < w; x++) {
                    size_t i = (size_t) y * w + x;
                    cr_assert (m [i] == 0 || m [i] == 255, "mask value %d at %u,%u", m [i], x, y);
                    double px = x + 0.5, py = y + 0.5;
                    double d = hypot (px - b.cx, py - b.cy), r = s_blob_radius (&b, px, py);
                    /* to the pixel, except where rounding could tip a point
                       lying on the outline itself */
                    if (fabs (d - r) > 1e-9 * b.radius)
                        cr_assert_eq (
                            m [i] == 255, d <= r, "seed %lu %ux%u: pixel %u,%u is %d, blob says %s",
                            (unsigned long) seed, w, h, x, y, m [i], d <= r ? "inside" : "outside");
                    fg += m [i] == 255;
                    double lum =
                        0.299 * rgb [3 * i] + 0.587 * rgb [3 * i + 1] + 0.114 * rgb [3 * i + 2];
                    if (d < 0.8 * r) {
                        in_sum += lum;
                        in_n++;
                    } else if (d > r + 0.75 && d < r + fmax (0.12 * r, 1.8)) {
                        ring_sum += lum;
                        ring_n++;
                    }
                }
            double frac = (double) fg / ((double) w * h);
            cr_assert (frac > 0.01 && frac < 0.3, "seed %lu: polyp covers %.3f of the image",
                       (unsigned long) seed, frac);
            /* the polyp shows in the picture where the mask says: brighter
               than the shadow around it */
            cr_assert (in_n > 0 && ring_n > 0);
            cr_assert (in_sum / in_n > ring_sum / ring_n + 15,
                       "seed %lu %ux%u: polyp mean %.1f, rim %.1f: not visible",
                       (unsigned long) seed, w, h, in_sum / in_n, ring_sum / ring_n);
            segq_image_destroy (&img);
            segq_image_destroy (&mask);
        }
}

Test (sample, looks_like_mucosa, .timeout = 30)
{
    segq_image_t *img = NULL, *mask = NULL;
    char err [256];
    cr_assert_eq (segq_sample_draw (11, 320, 256, &img, &mask, NULL, err, sizeof err), 0, "%s",
                  err);
    const uint8_t *rgb = img->data;
    size_t n = 320 * 256;
    double mean [3] = { 0 };
    size_t bright = 0;
    for (size_t i = 0; i < n; i++) {
        for (int k = 0; k < 3; k++)
            mean [k] += rgb [3 * i + (size_t) k];
        bright += rgb [3 * i] > 235 && rgb [3 * i + 1] > 220 && rgb [3 * i + 2] > 220;
    }
    /* pink/red: red dominates */
    cr_assert (mean [0] / n > mean [1] / n + 40 && mean [0] / n > mean [2] / n + 40,
               "mean colour %.0f %.0f %.0f is not reddish", mean [0] / n, mean [1] / n,
               mean [2] / n);
    /* specular highlights: some near-white pixels, but only a few */
    cr_assert (bright > 10 && bright < n / 20, "%zu near-white pixels", bright);
    /* vignetting: the corners are darker than the middle */
    double centre = 0, corner = 0;
    for (uint32_t y = 0; y < 16; y++)
        for (uint32_t x = 0; x < 16; x++) {
            corner += rgb [3 * ((size_t) y * 320 + x)];
            centre += rgb [3 * ((size_t) (120 + y) * 320 + 152 + x)];
        }
    cr_assert (corner < 0.75 * centre, "corner %.0f, centre %.0f", corner / 256, centre / 256);
    segq_image_destroy (&img);
    segq_image_destroy (&mask);
}

Test (sample, same_seed_same_bytes_other_seeds_differ, .timeout = 60)
{
    char *dir = s_tempdir ();
    char a [600], b [600], c [600], p [700], q [700];
    snprintf (a, sizeof a, "%s/a", dir);
    snprintf (b, sizeof b, "%s/b", dir);
    snprintf (c, sizeof c, "%s/c", dir);
    s_run (a, 42, "160x128", 1);
    s_run (b, 42, "160x128", 1);
    s_run (c, 43, "160x128", 1);
    const char *files [] = { "image.png", "mask.png" };
    for (int i = 0; i < 2; i++) {
        snprintf (p, sizeof p, "%s/%s", a, files [i]);
        snprintf (q, sizeof q, "%s/%s", b, files [i]);
        cr_assert (s_same_file (p, q), "seed 42 twice: %s differs", files [i]);
        snprintf (q, sizeof q, "%s/%s", c, files [i]);
        cr_assert (!s_same_file (p, q), "seeds 42 and 43 gave the same %s", files [i]);
    }
    /* and the PNGs decode to what segq_sample_draw makes */
    segq_image_t *img = NULL, *mask = NULL, *file = NULL;
    char err [512];
    cr_assert_eq (segq_sample_draw (42, 160, 128, &img, &mask, NULL, err, sizeof err), 0);
    snprintf (p, sizeof p, "%s/image.png", a);
    cr_assert_eq (segq_image_read_file (p, NULL, &file, err, sizeof err), 0, "%s", err);
    cr_assert (file->width == 160 && file->height == 128 && file->channels == 3);
    cr_assert_eq (memcmp (file->data, img->data, segq_image_size (img)), 0);
    segq_image_destroy (&file);
    snprintf (p, sizeof p, "%s/mask.png", a);
    cr_assert_eq (segq_image_read_file (p, NULL, &file, err, sizeof err), 0, "%s", err);
    cr_assert (file->channels == 1);
    cr_assert_eq (memcmp (file->data, mask->data, segq_image_size (mask)), 0);
    segq_image_destroy (&file);
    segq_image_destroy (&img);
    segq_image_destroy (&mask);
    s_rmtree (dir);
    free (dir);
}

Test (sample, count_writes_a_kvasir_layout_dataset, .timeout = 60)
{
    char *dir = s_tempdir ();
    char set [600], one [600], p [700], q [700];
    /* parent folders are made as needed */
    snprintf (set, sizeof set, "%s/deeper/still/set", dir);
    snprintf (one, sizeof one, "%s/one", dir);
    s_run (set, 100, "64x64", 4);
    s_run (one, 102, "64x64", 1);
    segq_dataset_t *ds = NULL;
    char err [512];
    cr_assert_eq (segq_dataset_open (set, &ds, err, sizeof err), 0, "%s", err);
    cr_assert_eq (segq_dataset_count (ds), 4);
    cr_assert_str_eq (segq_dataset_pair (ds, 0)->name, "sample-000");
    cr_assert_str_eq (segq_dataset_pair (ds, 3)->name, "sample-003");
    /* sample I is drawn from seed + I */
    snprintf (q, sizeof q, "%s/image.png", one);
    cr_assert (s_same_file (segq_dataset_pair (ds, 2)->image_path, q));
    snprintf (p, sizeof p, "%s/mask.png", one);
    cr_assert (s_same_file (segq_dataset_pair (ds, 2)->mask_path, p));
    cr_assert (!s_same_file (segq_dataset_pair (ds, 1)->image_path, q));
    segq_dataset_destroy (&ds);
    s_rmtree (dir);
    free (dir);
}

Test (sample, bad_sizes_are_refused_by_name, .timeout = 30)
{
    const char *bad [] = { "abc",      "320",      "320x",     "x256",     "320x256x",
                           "320x256 ", "-320x256", "320x+256", " 320x256", "31x256",
                           "320x4097", "0x0",      "" };
    for (size_t i = 0; i < sizeof bad / sizeof bad [0]; i++) {
        uint32_t w = 0, h = 0;
        char err [256] = "";
        cr_assert_eq (segq_sample_parse_size (bad [i], &w, &h, err, sizeof err), SEGQ_EINVAL,
                      "'%s' accepted", bad [i]);
        cr_assert (strstr (err, "--size"), "message for '%s' does not name --size: %s", bad [i],
                   err);
    }
    uint32_t w = 0, h = 0;
    char err [256];
    cr_assert_eq (segq_sample_parse_size ("640x480", &w, &h, err, sizeof err), 0);
    cr_assert (w == 640 && h == 480);
    /* an output path that is a file */
    char *dir = s_tempdir ();
    char file [600];
    snprintf (file, sizeof file, "%s/file", dir);
    FILE *f = fopen (file, "w");
    cr_assert_not_null (f);
    fclose (f);
    segq_sample_opts_t o = { .out = file, .size = "64x64", .seed = 0, .count = 1 };
    cr_assert_neq (segq_sample_run (&o, err, sizeof err), 0);
    cr_assert (strstr (err, file), "message does not name %s: %s", file, err);
    s_rmtree (dir);
    free (dir);
}
