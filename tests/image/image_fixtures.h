/* Fixtures for the image tests: files written with libpng/libjpeg directly
 * (not through the code under test), temporary folders and the real data. */
#ifndef SEGQ_TEST_IMAGE_FIXTURES_H
#define SEGQ_TEST_IMAGE_FIXTURES_H

#define _XOPEN_SOURCE 700 /* nftw; this header comes first in each test */

#include <criterion/criterion.h>
#include <ftw.h>
#include <jpeglib.h>
#include <png.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* An assertion for loops: Criterion reports every passing cr_assert to the
 * runner, and thousands of those from parallel tests are slow (and leak in
 * Criterion 2.4's runner); this one only speaks on failure. */
#define fx_check(cond, ...)                                                                        \
    do {                                                                                           \
        if (!(cond))                                                                               \
            cr_assert(cond, __VA_ARGS__);                                                          \
    } while (0)

/* One timeout for every test of a binary: Criterion 2.4's runner leaks
 * when tests with different timeouts run in parallel (LSan then fails
 * the whole binary). */
#define FX_TIMEOUT 300

/* Criterion ignores a leak report that comes after a test has passed, so
 * each test ends with an explicit leak check that fails it. */
#if defined(__SANITIZE_ADDRESS__)
#define FX_LSAN 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define FX_LSAN 1
#endif
#endif
#ifdef FX_LSAN
#include <sanitizer/lsan_interface.h>
#define fx_no_leaks()                                                                              \
    cr_assert_eq(__lsan_do_recoverable_leak_check(), 0, "memory leaked: see the LSan report above")
#else
#define fx_no_leaks() ((void)0)
#endif

/* The shared data folder; tests that need it fail (never skip) without it. */
static inline const char *fx_data_dir(void)
{
    static char dir[4096];
    const char *env = getenv("SEGQ_DATA_DIR");
    snprintf(dir, sizeof dir, "%s", env && *env ? env : SEGQ_SOURCE_DIR "/../shared/data");
    struct stat st;
    cr_assert(stat(dir, &st) == 0 && S_ISDIR(st.st_mode),
              "real data folder %s is missing: set SEGQ_DATA_DIR", dir);
    return dir;
}

static inline char *fx_path(const char *dir, const char *name)
{
    size_t n = strlen(dir) + strlen(name) + 2;
    char *p = malloc(n);
    cr_assert(p);
    snprintf(p, n, "%s/%s", dir, name);
    return p;
}

/* A fresh temporary folder; removed by fx_rmtree. */
static inline char *fx_tmpdir(void)
{
    char tmpl[] = "/tmp/segq-image-test-XXXXXX";
    cr_assert(mkdtemp(tmpl));
    return strdup(tmpl);
}

static inline int fx_rm_one(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
    (void)st, (void)flag, (void)ftw;
    return remove(path);
}

static inline void fx_rmtree(char *dir)
{
    cr_assert(nftw(dir, fx_rm_one, 16, FTW_DEPTH | FTW_PHYS) == 0, "cannot remove %s", dir);
    free(dir);
}

static inline unsigned char *fx_read(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    cr_assert(f, "cannot open %s", path);
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    fseek(f, 0, SEEK_SET);
    unsigned char *buf = malloc(n > 0 ? (size_t)n : 1);
    cr_assert(buf);
    cr_assert(fread(buf, 1, (size_t)n, f) == (size_t)n);
    fclose(f);
    *len = (size_t)n;
    return buf;
}

static inline void fx_write(const char *path, const void *buf, size_t len)
{
    FILE *f = fopen(path, "wb");
    cr_assert(f, "cannot create %s", path);
    cr_assert(fwrite(buf, 1, len, f) == len);
    cr_assert(fclose(f) == 0);
}

/* Writes a PNG with libpng itself; fast (for large fixtures): no row
 * filters and zlib level 1. rows: packed rows as libpng expects (big-endian
 * 16-bit samples, sub-byte samples packed). */
static inline void fx_png_write(const char *path, png_uint_32 w, png_uint_32 h, int color,
                                int depth, int interlace, unsigned char **rows,
                                const png_color *palette, int npalette, const unsigned char *trns,
                                int ntrns, const png_color_16 *trns_color, int fast)
{
    FILE *f = fopen(path, "wb");
    cr_assert(f);
    png_structp png = png_create_write_struct(PNG_LIBPNG_VER_STRING, NULL, NULL, NULL);
    png_infop info = png_create_info_struct(png);
    cr_assert(png && info);
    cr_assert(setjmp(png_jmpbuf(png)) == 0, "libpng failed writing the fixture");
    png_init_io(png, f);
    if (fast) {
        png_set_compression_level(png, 1);
        png_set_filter(png, 0, PNG_FILTER_NONE);
    }
    png_set_IHDR(png, info, w, h, depth, color, interlace, PNG_COMPRESSION_TYPE_DEFAULT,
                 PNG_FILTER_TYPE_DEFAULT);
    if (palette)
        png_set_PLTE(png, info, palette, npalette);
    if (trns || trns_color)
        png_set_tRNS(png, info, trns, ntrns, trns_color);
    png_write_info(png, info);
    png_write_image(png, rows);
    png_write_end(png, NULL);
    png_destroy_write_struct(&png, &info);
    fclose(f);
}

static inline void fx_png(const char *path, png_uint_32 w, png_uint_32 h, int color, int depth,
                          int interlace, unsigned char **rows, const png_color *palette,
                          int npalette, const unsigned char *trns, int ntrns,
                          const png_color_16 *trns_color)
{
    fx_png_write(path, w, h, color, depth, interlace, rows, palette, npalette, trns, ntrns,
                 trns_color, 0);
}

/* A black RGB PNG of side x side: every row the same, compressed ~1000:1
 * (16384 x 16384 is about 1 MB on disk, 768 MiB decoded). */
static inline void fx_solid_png(const char *path, png_uint_32 side)
{
    unsigned char *row = calloc((size_t)side * 3, 1);
    unsigned char **rows = malloc(sizeof *rows * side);
    cr_assert(row && rows);
    for (png_uint_32 y = 0; y < side; y++)
        rows[y] = row;
    fx_png_write(path, side, side, PNG_COLOR_TYPE_RGB, 8, PNG_INTERLACE_NONE, rows, NULL, 0, NULL,
                 0, NULL, 1);
    free(rows);
    free(row);
}

/* Writes a JPEG with libjpeg: components 1 (grey), 3 (RGB) or 4 (CMYK);
 * progressive (libjpeg's own scans), the n_scans of `scans` (a script of
 * one's own), or else baseline. */
static inline void fx_jpeg_scans(const char *path, int w, int h, int components,
                                 const unsigned char *pixels, int quality, int progressive,
                                 const jpeg_scan_info *scans, int n_scans)
{
    FILE *f = fopen(path, "wb");
    cr_assert(f);
    struct jpeg_compress_struct c;
    struct jpeg_error_mgr jerr;
    c.err = jpeg_std_error(&jerr);
    jpeg_create_compress(&c);
    jpeg_stdio_dest(&c, f);
    c.image_width = (JDIMENSION)w;
    c.image_height = (JDIMENSION)h;
    c.input_components = components;
    c.in_color_space = components == 1 ? JCS_GRAYSCALE : components == 3 ? JCS_RGB : JCS_CMYK;
    jpeg_set_defaults(&c);
    jpeg_set_quality(&c, quality, TRUE);
    if (progressive)
        jpeg_simple_progression(&c);
    if (scans) {
        c.scan_info = scans;
        c.num_scans = n_scans;
    }
    jpeg_start_compress(&c, TRUE);
    while (c.next_scanline < c.image_height) {
        JSAMPROW row = (JSAMPROW)pixels + (size_t)c.next_scanline * w * components;
        jpeg_write_scanlines(&c, &row, 1);
    }
    jpeg_finish_compress(&c);
    jpeg_destroy_compress(&c);
    fclose(f);
}

static inline void fx_jpeg(const char *path, int w, int h, int components,
                           const unsigned char *pixels, int quality)
{
    fx_jpeg_scans(path, w, h, components, pixels, quality, 0, NULL, 0);
}

#endif
