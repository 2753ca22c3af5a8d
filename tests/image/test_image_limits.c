/* Decoding bounded by the caller's limits: a PNG whose header declares
 * more than the limits is refused from its header (in milliseconds, with
 * no pixel memory), however small the file; a progressive JPEG's
 * coefficients count against the memory limit; an image and its mask
 * must declare one size. */
#include "image_fixtures.h"
#include "segq_image.h"

#include <sys/resource.h>
#include <time.h>

static long maxrss_kb(void)
{
    struct rusage ru;
    cr_assert_eq(getrusage(RUSAGE_SELF, &ru), 0);
    return ru.ru_maxrss;
}

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

/* Four solid quadrants: red, green, blue, grey (1 channel: four greys). */
static const unsigned char quadrant_rgb[4][3] = {
    {200, 30, 30}, {30, 200, 30}, {30, 30, 200}, {128, 128, 128}};

static unsigned char *quadrants(int w, int h, int ch)
{
    unsigned char *px = malloc((size_t)w * h * ch);
    cr_assert(px);
    for (int y = 0; y < h; y++)
        for (int x = 0; x < w; x++) {
            int q = (y >= h / 2) * 2 + (x >= w / 2);
            for (int k = 0; k < ch; k++)
                px[((size_t)y * w + x) * ch + k] =
                    ch == 1 ? (unsigned char)(40 + 50 * q) : quadrant_rgb[q][k];
        }
    return px;
}

static void write_quadrants_jpeg(const char *path, int w, int h, int progressive)
{
    unsigned char *px = quadrants(w, h, 3);
    fx_jpeg_scans(path, w, h, 3, px, 90, progressive, NULL, 0);
    free(px);
}

/* The case: a 1 MB PNG of 16384 x 16384 given to a training run.
 * Its pixel limit refuses it from its header; so does a memory limit
 * below what it decodes to. */
Test(limits, huge_png_refused_from_its_header, .timeout = FX_TIMEOUT)
{
    char *dir = fx_tmpdir();
    char *path = fx_path(dir, "huge.png");
    fx_solid_png(path, 16384);
    struct stat st;
    cr_assert_eq(stat(path, &st), 0);
    cr_assert_lt(st.st_size, 4 << 20, "a small file: %lld bytes", (long long)st.st_size);
    long rss = maxrss_kb();
    double started = now_s();
    char err[SEGQ_IMAGE_ERRLEN];
    segq_image_t *img = NULL, *mask = NULL;
    segq_image_limits_t train = {.max_pixels = 1u << 24};
    cr_assert_eq(segq_image_read_file(path, &train, &img, err, sizeof err), SEGQ_ETOOBIG);
    cr_assert_null(img);
    cr_assert(strstr(err, path) && strstr(err, "16384x16384") && strstr(err, "16777216"), "%s",
              err);
    cr_assert_eq(segq_image_read_pair(path, path, &train, &img, &mask, err, sizeof err),
                 SEGQ_ETOOBIG, "%s", err);
    cr_assert(!img && !mask);
    /* within the default pixel limits, over a memory limit: said with both */
    segq_image_limits_t memory = {.max_bytes = (uint64_t)512 << 20};
    cr_assert_eq(segq_image_read_file(path, &memory, &img, err, sizeof err), SEGQ_ETOOBIG);
    cr_assert(strstr(err, path) && strstr(err, "16384x16384") && strstr(err, "768 MiB")
                  && strstr(err, "512 MiB"),
              "%s", err);
    double took = now_s() - started;
    cr_assert_lt(took, 2.0, "refusing took %.2f s", took);
    long grown_mb = (maxrss_kb() - rss) / 1024;
    cr_assert_lt(grown_mb, 64, "refusing took %ld MB of memory", grown_mb);
    free(path);
    fx_rmtree(dir);
    fx_no_leaks();
}

/* A progressive file keeps every coefficient of the image while it
 * decodes: 12 MB of them for 2000 x 2000 (4:2:0), on top of the 12 MB of
 * pixels. That counts against the memory limit, while a baseline file of
 * the same size decodes under it. */
Test(limits, progressive_jpeg_counts_its_coefficients, .timeout = FX_TIMEOUT)
{
    char *dir = fx_tmpdir();
    char *progressive = fx_path(dir, "p.jpg"), *baseline = fx_path(dir, "b.jpg");
    write_quadrants_jpeg(progressive, 2000, 2000, 1);
    write_quadrants_jpeg(baseline, 2000, 2000, 0);
    segq_image_limits_t limits = {.max_bytes = 16 << 20};
    segq_image_t *img = NULL;
    char err[SEGQ_IMAGE_ERRLEN];
    cr_assert_eq(segq_image_read_file(progressive, &limits, &img, err, sizeof err), SEGQ_ETOOBIG,
                 "%s", err);
    cr_assert(strstr(err, progressive) && strstr(err, "2000x2000 takes 22 MiB")
                  && strstr(err, "16 MiB"),
              "%s", err);
    cr_assert_eq(segq_image_read_file(baseline, &limits, &img, err, sizeof err), 0, "%s", err);
    cr_assert(img->width == 2000 && img->height == 2000);
    segq_image_destroy(&img);
    limits.max_bytes = 0; /* the default: room for it */
    cr_assert_eq(segq_image_read_file(progressive, &limits, &img, err, sizeof err), 0, "%s", err);
    cr_assert(img->width == 2000 && img->height == 2000);
    segq_image_destroy(&img);
    free(progressive);
    free(baseline);
    fx_rmtree(dir);
    fx_no_leaks();
}

/* An image and its mask of one size, in either format, read whole;
 * a mask of another size refused, both sizes said. */
Test(limits, pair_of_image_and_mask_has_one_size, .timeout = FX_TIMEOUT)
{
    char *dir = fx_tmpdir();
    char *image = fx_path(dir, "i.jpg"), *pmask = fx_path(dir, "m.png"),
         *other = fx_path(dir, "o.jpg");
    write_quadrants_jpeg(image, 1000, 800, 0);
    write_quadrants_jpeg(other, 1000, 801, 0);
    unsigned char *grey = quadrants(1000, 800, 1);
    unsigned char **rows = malloc(sizeof *rows * 800);
    cr_assert(rows);
    for (int y = 0; y < 800; y++)
        rows[y] = grey + (size_t)y * 1000;
    fx_png(pmask, 1000, 800, PNG_COLOR_TYPE_GRAY, 8, PNG_INTERLACE_NONE, rows, NULL, 0, NULL, 0,
           NULL);
    free(rows);
    free(grey);
    segq_image_t *img = NULL, *mask = NULL;
    char err[SEGQ_IMAGE_ERRLEN];
    cr_assert_eq(segq_image_read_pair(image, pmask, NULL, &img, &mask, err, sizeof err), 0, "%s",
                 err);
    cr_assert(img->width == 1000 && img->height == 800 && mask->width == 1000
                  && mask->height == 800,
              "%ux%u and %ux%u", img->width, img->height, mask->width, mask->height);
    segq_image_destroy(&img);
    segq_image_destroy(&mask);
    cr_assert_eq(segq_image_read_pair(image, other, NULL, &img, &mask, err, sizeof err),
                 SEGQ_EINVAL);
    cr_assert(!img && !mask);
    cr_assert(strstr(err, "1000x800") && strstr(err, "1000x801") && strstr(err, other), "%s", err);
    free(image);
    free(pmask);
    free(other);
    fx_rmtree(dir);
    fx_no_leaks();
}

/* A training input as segq-run train reads it and `segq submit train`
 * checks it: the pixel limit is SEGQ_IMAGE_TRAIN_MAX_PIXELS, or the finest
 * scale when max_size asks for more; the mask from its own file (same
 * size) or from the image's alpha; every failure names the file. */
Test(limits, training_input_as_segq_run_reads_it, .timeout = FX_TIMEOUT)
{
    char *dir = fx_tmpdir();
    char *big = fx_path(dir, "big.png"), *small = fx_path(dir, "small.png");
    char *rgba = fx_path(dir, "rgba.png");
    fx_solid_png(big, 4100); /* 16.8M pixels: one row over 4096 x 4096 */
    fx_solid_png(small, 8);
    segq_image_t *img = segq_image_new(8, 8, 4, 8), *rgb = NULL, *mask = NULL;
    uint8_t *px = img->data;
    for (int i = 0; i < 64; i++)
        px[4 * i + 3] = i < 16 ? 255 : 0; /* two rows inside the mask */
    char err[SEGQ_IMAGE_ERRLEN];
    cr_assert_eq(segq_image_write_png(img, rgba, err, sizeof err), 0, "%s", err);
    segq_image_destroy(&img);

    cr_assert_eq(segq_image_read_training(big, big, 250, &rgb, &mask, err, sizeof err),
                 SEGQ_ETOOBIG);
    cr_assert(!rgb && !mask && strstr(err, big) && strstr(err, "16777216"), "%s", err);
    /* a finest scale of 4100 x 4100 needs the whole image */
    cr_assert_eq(segq_image_read_training(big, big, 4100, &rgb, &mask, err, sizeof err), 0, "%s",
                 err);
    cr_assert(rgb->width == 4100 && rgb->channels == 3 && mask->channels == 1);
    segq_image_destroy(&rgb);
    segq_image_destroy(&mask);

    cr_assert_eq(segq_image_read_training(small, big, 4100, &rgb, &mask, err, sizeof err),
                 SEGQ_EINVAL);
    cr_assert(!rgb && !mask && strstr(err, "same size"), "%s", err);
    cr_assert_eq(segq_image_read_training(small, NULL, 250, &rgb, &mask, err, sizeof err),
                 SEGQ_EINVAL);
    cr_assert(!rgb && !mask && strstr(err, small) && strstr(err, "alpha channel"), "%s", err);
    cr_assert_eq(segq_image_read_training(rgba, NULL, 250, &rgb, &mask, err, sizeof err), 0, "%s",
                 err);
    cr_assert_eq(segq_image_mask_fraction(mask), 0.25);
    segq_image_destroy(&rgb);
    segq_image_destroy(&mask);
    free(big);
    free(small);
    free(rgba);
    fx_rmtree(dir);
    fx_no_leaks();
}
