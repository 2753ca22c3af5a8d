/* Decoding of generated PNGs of every colour type and depth, JPEG grey/RGB/
 * CMYK, the PNG writer, and every bad-input case: each gives its code and
 * a message naming the file, never a crash (this runs under ASan+UBSan). */
#include "image_fixtures.h"
#include "segq_image.h"

#include <dirent.h>
#include <stdint.h>
#include <zlib.h>

#define W 7 /* odd sizes catch stride and packing mistakes */
#define H 5

/* Expected 8-bit value of channel k at (x, y) for the generated images. */
static unsigned pat8(int x, int y, int k)
{
    return (unsigned)(x * 31 + y * 57 + k * 83 + 11) & 0xff;
}

static unsigned pat16(int x, int y, int k)
{
    return (unsigned)(x * 7919 + y * 104729 + k * 15485863 + 1234) & 0xffff;
}

/* Builds rows for a colour type at depth 8 or 16 with `ch` channels. */
static unsigned char **make_rows(int ch, int depth)
{
    unsigned char **rows = calloc(H, sizeof *rows);
    for (int y = 0; y < H; y++) {
        rows[y] = calloc((size_t)W * ch * 2, 1);
        for (int x = 0; x < W; x++)
            for (int k = 0; k < ch; k++) {
                if (depth == 8) {
                    rows[y][x * ch + k] = (unsigned char)pat8(x, y, k);
                } else {
                    unsigned v = pat16(x, y, k);
                    rows[y][(x * ch + k) * 2] = (unsigned char)(v >> 8);
                    rows[y][(x * ch + k) * 2 + 1] = (unsigned char)v;
                }
            }
    }
    return rows;
}

static void free_rows(unsigned char **rows, int h)
{
    for (int y = 0; y < h; y++)
        free(rows[y]);
    free(rows);
}

static segq_image_t *read_ok(const char *path)
{
    char err[SEGQ_IMAGE_ERRLEN];
    segq_image_t *img = NULL;
    int rc = segq_image_read_file(path, NULL, &img, err, sizeof err);
    cr_assert_eq(rc, 0, "%s: %s", path, err);
    cr_assert(img);
    return img;
}

static void check_direct(int color, int ch, int depth, int interlace)
{
    char *dir = fx_tmpdir();
    char *path = fx_path(dir, "x.png");
    unsigned char **rows = make_rows(ch, depth);
    fx_png(path, W, H, color, depth, interlace, rows, NULL, 0, NULL, 0, NULL);
    segq_image_t *img = read_ok(path);
    cr_assert_eq(img->width, W);
    cr_assert_eq(img->height, H);
    cr_assert_eq(img->channels, ch);
    cr_assert_eq(img->depth, depth);
    for (int y = 0; y < H; y++)
        for (int x = 0; x < W; x++)
            for (int k = 0; k < ch; k++) {
                size_t i = ((size_t)y * W + x) * ch + k;
                unsigned got = depth == 8 ? ((uint8_t *)img->data)[i] : ((uint16_t *)img->data)[i];
                unsigned want = depth == 8 ? pat8(x, y, k) : pat16(x, y, k);
                fx_check(got == want, "color %d depth %d at (%d,%d,%d): %u != %u", color, depth, x,
                         y, k, got, want);
            }
    segq_image_destroy(&img);
    cr_assert_null(img);
    free_rows(rows, H);
    free(path);
    fx_rmtree(dir);
}

Test(png, every_direct_color_type_and_depth, .timeout = FX_TIMEOUT)
{
    static const struct {
        int color, ch;
    } types[] = {{PNG_COLOR_TYPE_GRAY, 1},
                 {PNG_COLOR_TYPE_GRAY_ALPHA, 2},
                 {PNG_COLOR_TYPE_RGB, 3},
                 {PNG_COLOR_TYPE_RGB_ALPHA, 4}};
    for (size_t t = 0; t < 4; t++)
        for (int depth = 8; depth <= 16; depth += 8)
            for (int il = 0; il < 2; il++)
                check_direct(types[t].color, types[t].ch, depth,
                             il ? PNG_INTERLACE_ADAM7 : PNG_INTERLACE_NONE);
    fx_no_leaks();
}

Test(png, grey_below_8_bits_is_scaled_to_8, .timeout = FX_TIMEOUT)
{
    char *dir = fx_tmpdir();
    char *path = fx_path(dir, "g.png");
    for (int depth = 1; depth <= 4; depth *= 2) {
        int levels = 1 << depth;
        unsigned char **rows = calloc(H, sizeof *rows);
        for (int y = 0; y < H; y++) {
            rows[y] = calloc(W, 1);
            for (int x = 0; x < W; x++) {
                int v = (x + y) % levels, bit = x * depth;
                rows[y][bit / 8] |= (unsigned char)(v << (8 - depth - bit % 8));
            }
        }
        fx_png(path, W, H, PNG_COLOR_TYPE_GRAY, depth, PNG_INTERLACE_NONE, rows, NULL, 0, NULL, 0,
               NULL);
        segq_image_t *img = read_ok(path);
        cr_assert_eq(img->channels, 1);
        cr_assert_eq(img->depth, 8);
        for (int y = 0; y < H; y++)
            for (int x = 0; x < W; x++)
                fx_check(((uint8_t *)img->data)[y * W + x] == (x + y) % levels * 255 / (levels - 1),
                         "depth %d at (%d,%d)", depth, x, y);
        segq_image_destroy(&img);
        free_rows(rows, H);
    }
    free(path);
    fx_rmtree(dir);
    fx_no_leaks();
}

Test(png, palette_with_and_without_trns_interlaced, .timeout = FX_TIMEOUT)
{
    png_color pal[4] = {{255, 0, 0}, {0, 255, 0}, {0, 0, 255}, {10, 20, 30}};
    unsigned char alpha[2] = {0, 128};
    char *dir = fx_tmpdir();
    char *path = fx_path(dir, "p.png");
    for (int with_trns = 0; with_trns < 2; with_trns++) {
        unsigned char **rows = calloc(H, sizeof *rows);
        for (int y = 0; y < H; y++) {
            rows[y] = calloc(W, 1);
            for (int x = 0; x < W; x++)
                rows[y][x] = (unsigned char)((x + 2 * y) % 4);
        }
        fx_png(path, W, H, PNG_COLOR_TYPE_PALETTE, 8, PNG_INTERLACE_ADAM7, rows, pal, 4,
               with_trns ? alpha : NULL, with_trns ? 2 : 0, NULL);
        segq_image_t *img = read_ok(path);
        int ch = with_trns ? 4 : 3;
        cr_assert_eq(img->channels, ch);
        for (int y = 0; y < H; y++)
            for (int x = 0; x < W; x++) {
                int i = (x + 2 * y) % 4;
                uint8_t *px = (uint8_t *)img->data + ((size_t)y * W + x) * ch;
                fx_check(px[0] == pal[i].red && px[1] == pal[i].green && px[2] == pal[i].blue,
                         "palette colour at (%d,%d)", x, y);
                if (with_trns)
                    fx_check(px[3] == (i < 2 ? alpha[i] : 255), "tRNS alpha at (%d,%d)", x, y);
            }
        segq_image_destroy(&img);
        free_rows(rows, H);
    }
    free(path);
    fx_rmtree(dir);
    fx_no_leaks();
}

Test(png, grey_with_trns_color_gets_alpha, .timeout = FX_TIMEOUT)
{
    char *dir = fx_tmpdir();
    char *path = fx_path(dir, "t.png");
    unsigned char **rows = make_rows(1, 8);
    png_color_16 key = {.gray = (png_uint_16)pat8(3, 2, 0)};
    fx_png(path, W, H, PNG_COLOR_TYPE_GRAY, 8, PNG_INTERLACE_NONE, rows, NULL, 0, NULL, 0, &key);
    segq_image_t *img = read_ok(path);
    cr_assert_eq(img->channels, 2);
    uint8_t *px = img->data;
    cr_assert_eq(px[(2 * W + 3) * 2 + 1], 0, "the keyed grey is transparent");
    cr_assert_eq(px[(0 * W + 0) * 2 + 1], 255);
    segq_image_destroy(&img);
    free_rows(rows, H);
    free(path);
    fx_rmtree(dir);
    fx_no_leaks();
}

Test(png, writer_round_trip_every_layout, .timeout = FX_TIMEOUT)
{
    char *dir = fx_tmpdir();
    char *path = fx_path(dir, "out.png");
    char err[SEGQ_IMAGE_ERRLEN];
    for (int ch = 1; ch <= 4; ch++)
        for (int depth = 8; depth <= 16; depth += 8) {
            segq_image_t *img = segq_image_new(W, H, ch, depth);
            cr_assert(img);
            for (size_t i = 0; i < (size_t)W * H * ch; i++) {
                if (depth == 8)
                    ((uint8_t *)img->data)[i] = (uint8_t)(i * 37 + 5);
                else
                    ((uint16_t *)img->data)[i] = (uint16_t)(i * 4099 + 3);
            }
            cr_assert_eq(segq_image_write_png(img, path, err, sizeof err), 0, "%s", err);
            struct stat st;
            cr_assert_eq(stat(path, &st), 0);
            cr_assert_eq(st.st_mode & 0777, 0600, "outputs are private");
            segq_image_t *back = read_ok(path);
            cr_assert_eq(back->channels, ch);
            cr_assert_eq(back->depth, depth);
            cr_assert_eq(memcmp(back->data, img->data, segq_image_size(img)), 0);
            segq_image_destroy(&back);
            segq_image_destroy(&img);
        }
    /* A failed write leaves no temporary file behind. */
    char *sub = fx_path(dir, "sub");
    cr_assert_eq(mkdir(sub, 0700), 0);
    segq_image_t *one = segq_image_new(W, H, 1, 8);
    cr_assert_eq(segq_image_write_png(one, sub, err, sizeof err), SEGQ_EIO);
    cr_assert(strstr(err, sub), "%s", err);
    DIR *d = opendir(dir);
    int entries = 0;
    for (struct dirent *e; (e = readdir(d));)
        entries += e->d_name[0] != '.';
    closedir(d);
    cr_assert_eq(entries, 2, "out.png and sub/ only");
    segq_image_destroy(&one);
    free(sub);
    segq_image_t bad = {W, H, 5, 8, NULL};
    cr_assert_eq(segq_image_write_png(&bad, path, err, sizeof err), SEGQ_EINVAL);
    segq_image_t *img = segq_image_new(W, H, 3, 8);
    cr_assert_eq(segq_image_write_png(img, "/nonexistent-dir/x.png", err, sizeof err), SEGQ_EIO);
    cr_assert(strstr(err, "/nonexistent-dir/x.png"), "%s", err);
    segq_image_destroy(&img);
    free(path);
    fx_rmtree(dir);
    fx_no_leaks();
}

static unsigned char *rgb_pattern(int w, int h, int ch)
{
    unsigned char *px = malloc((size_t)w * h * ch);
    for (int y = 0; y < h; y++)
        for (int x = 0; x < w; x++)
            for (int k = 0; k < ch; k++)
                px[((size_t)y * w + x) * ch + k] =
                    (unsigned char)((40 + x * 3 + y * 2 + k * 30) & 0xff);
    return px;
}

Test(jpeg, grey_and_rgb_decode_close_to_source, .timeout = FX_TIMEOUT)
{
    char *dir = fx_tmpdir();
    char *path = fx_path(dir, "x.jpg");
    for (int ch = 1; ch <= 3; ch += 2) {
        unsigned char *px = rgb_pattern(33, 17, ch);
        fx_jpeg(path, 33, 17, ch, px, 98);
        segq_image_t *img = read_ok(path);
        cr_assert_eq(img->width, 33);
        cr_assert_eq(img->height, 17);
        cr_assert_eq(img->channels, ch);
        cr_assert_eq(img->depth, 8);
        double sum = 0;
        for (size_t i = 0; i < (size_t)33 * 17 * ch; i++)
            sum += abs((int)((uint8_t *)img->data)[i] - (int)px[i]);
        cr_assert_lt(sum / (33.0 * 17 * ch), 4.0, "lossy, but close at quality 98");
        segq_image_destroy(&img);
        free(px);
    }
    free(path);
    fx_rmtree(dir);
    fx_no_leaks();
}

Test(jpeg, cmyk_is_refused_clearly, .timeout = FX_TIMEOUT)
{
    char *dir = fx_tmpdir();
    char *path = fx_path(dir, "cmyk.jpg");
    unsigned char *px = rgb_pattern(16, 16, 4);
    fx_jpeg(path, 16, 16, 4, px, 90);
    char err[SEGQ_IMAGE_ERRLEN];
    segq_image_t *img = NULL;
    cr_assert_eq(segq_image_read_file(path, NULL, &img, err, sizeof err), SEGQ_EUNSUPPORTED);
    cr_assert_null(img);
    cr_assert(strstr(err, "CMYK") && strstr(err, path), "%s", err);
    free(px);
    free(path);
    fx_rmtree(dir);
    fx_no_leaks();
}

/* A grey progressive JPEG of 1 + 63 * (al + 1) scans: its DC, then each AC
 * coefficient alone, first to bit al, then refined a bit at a time. */
static void write_jpeg_scans(const char *path, int al)
{
    static jpeg_scan_info scans[1 + 63 * 11];
    int n = 0;
    scans[n++] = (jpeg_scan_info){.comps_in_scan = 1, .Ss = 0, .Se = 0, .Ah = 0, .Al = 0};
    for (int k = 1; k <= 63; k++)
        for (int bit = al; bit >= 0; bit--)
            scans[n++] = (jpeg_scan_info){
                .comps_in_scan = 1, .Ss = k, .Se = k, .Ah = bit == al ? 0 : bit + 1, .Al = bit};
    unsigned char *px = rgb_pattern(16, 16, 1);
    fx_jpeg_scans(path, 16, 16, 1, px, 90, 0, scans, n);
    free(px);
}

/* Each scan is a pass over the whole image: a file may ask for a few
 * hundred at most (253 here) before it is refused, not for millions. */
Test(jpeg, too_many_progressive_scans_are_refused, .timeout = FX_TIMEOUT)
{
    char *dir = fx_tmpdir();
    char *many = fx_path(dir, "many.jpg"), *most = fx_path(dir, "most.jpg");
    write_jpeg_scans(many, 4);
    write_jpeg_scans(most, 3);
    char err[SEGQ_IMAGE_ERRLEN];
    segq_image_t *img = NULL;
    cr_assert_eq(segq_image_read_file(many, NULL, &img, err, sizeof err), SEGQ_ECORRUPT, "%s", err);
    cr_assert_null(img);
    cr_assert(strstr(err, many) && strstr(err, "more than 256 progressive scans"), "%s", err);
    cr_assert_eq(segq_image_read_file(most, NULL, &img, err, sizeof err), 0, "%s", err);
    cr_assert_eq(img->width, 16);
    segq_image_destroy(&img);
    free(many);
    free(most);
    fx_rmtree(dir);
    fx_no_leaks();
}

/* ---- Bad input ----------------------------------------------------------- */

static int read_mem(const void *buf, size_t len, const segq_image_limits_t *limits, char *err)
{
    segq_image_t *img = NULL;
    int rc = segq_image_read_mem(buf, len, "fixture", limits, &img, err, SEGQ_IMAGE_ERRLEN);
    if (rc)
        fx_check(img == NULL, "no image on error");
    else
        segq_image_destroy(&img);
    return rc;
}

Test(bad, not_an_image_and_empty, .timeout = FX_TIMEOUT)
{
    char err[SEGQ_IMAGE_ERRLEN];
    const char text[] = "hello, this is text";
    /* another format (or none): not ours to call corrupt */
    cr_assert_eq(read_mem(text, sizeof text, NULL, err), SEGQ_EUNSUPPORTED);
    cr_assert(strstr(err, "fixture") && strstr(err, "not a PNG or JPEG"), "%s", err);
    cr_assert(strstr(err, "(starts with 68 65 6c 6c)"), "%s", err);
    /* a short file shows only the bytes it has (ASan: none read past them) */
    char *two = malloc(2);
    memcpy(two, "x\n", 2);
    cr_assert_eq(read_mem(two, 2, NULL, err), SEGQ_EUNSUPPORTED);
    free(two);
    cr_assert(strstr(err, "(starts with 78 0a)"), "%s", err);
    /* nothing, or part of a signature: a truncated image */
    cr_assert_eq(read_mem("", 0, NULL, err), SEGQ_ECORRUPT);
    cr_assert(strstr(err, "empty"), "%s", err);
    cr_assert_eq(read_mem("\x89PN", 3, NULL, err), SEGQ_ECORRUPT);
    cr_assert(strstr(err, "ends inside the image signature"), "%s", err);
    segq_image_t *img = NULL;
    cr_assert_eq(segq_image_read_file("/nonexistent.png", NULL, &img, err, sizeof err), SEGQ_EIO);
    cr_assert(strstr(err, "/nonexistent.png"), "%s", err);
    /* The extension does not matter: a PNG named .jpg is a PNG. */
    char *dir = fx_tmpdir();
    char *path = fx_path(dir, "really-a-png.jpg");
    unsigned char **rows = make_rows(3, 8);
    fx_png(path, W, H, PNG_COLOR_TYPE_RGB, 8, 0, rows, NULL, 0, NULL, 0, NULL);
    img = read_ok(path);
    cr_assert_eq(img->channels, 3);
    segq_image_destroy(&img);
    free_rows(rows, H);
    free(path);
    fx_rmtree(dir);
    fx_no_leaks();
}

/* Every prefix of a valid file is an error (truncated or corrupt), never a
 * crash, never a silently partial image. */
static void every_prefix_fails(const char *path, int expect_truncated_from)
{
    size_t len;
    unsigned char *buf = fx_read(path, &len);
    char err[SEGQ_IMAGE_ERRLEN];
    cr_assert_eq(read_mem(buf, len, NULL, err), 0, "%s", err);
    size_t step = len > 4000 ? len / 997 : 1;
    for (size_t cut = 0; cut < len; cut += step) {
        unsigned char *copy = malloc(cut ? cut : 1); /* exact size: ASan sees overreads */
        memcpy(copy, buf, cut);
        int rc = read_mem(copy, cut, NULL, err);
        fx_check(rc < 0, "%s cut at %zu of %zu bytes decoded", path, cut, len);
        if ((int)cut >= expect_truncated_from)
            fx_check(rc == SEGQ_ECORRUPT && strstr(err, "truncated"), "%s cut at %zu: %s", path,
                     cut, err);
        free(copy);
    }
    free(buf);
}

Test(bad, truncated_png_and_jpeg_at_every_length, .timeout = FX_TIMEOUT)
{
    char *dir = fx_tmpdir();
    char *png = fx_path(dir, "t.png"), *jpg = fx_path(dir, "t.jpg");
    unsigned char **rows = make_rows(4, 16);
    fx_png(png, W, H, PNG_COLOR_TYPE_RGB_ALPHA, 16, PNG_INTERLACE_ADAM7, rows, NULL, 0, NULL, 0,
           NULL);
    unsigned char *px = rgb_pattern(40, 30, 3);
    fx_jpeg(jpg, 40, 30, 3, px, 90);
    every_prefix_fails(png, 24);
    /* The signature (3 bytes) read, any cut is the end of the data. */
    every_prefix_fails(jpg, 3);
    size_t len;
    unsigned char *buf = fx_read(jpg, &len);
    char err[SEGQ_IMAGE_ERRLEN];
    cr_assert_eq(read_mem(buf, len - 40, NULL, err), SEGQ_ECORRUPT, "%s", err);
    cr_assert(strstr(err, "truncated"), "%s", err);
    free(buf);
    free(px);
    free_rows(rows, H);
    free(png);
    free(jpg);
    fx_rmtree(dir);
    fx_no_leaks();
}

Test(bad, truncated_real_files, .timeout = FX_TIMEOUT)
{
    const char *data = fx_data_dir();
    char *p1 = fx_path(data, "other/dsb2018-nuclei/masks/00071198d059.png");
    char *p2 = fx_path(data, "other/chest-xray-lungs/1.jpg");
    every_prefix_fails(p1, 24);
    every_prefix_fails(p2, 3);
    free(p1);
    free(p2);
    fx_no_leaks();
}

/* Flips bytes all over a valid file: any result is fine except a crash, a
 * leak, or success with an image of another size. */
Test(bad, corrupted_bytes, .timeout = FX_TIMEOUT)
{
    char *dir = fx_tmpdir();
    char *png = fx_path(dir, "c.png"), *jpg = fx_path(dir, "c.jpg");
    unsigned char **rows = make_rows(3, 8);
    fx_png(png, W, H, PNG_COLOR_TYPE_RGB, 8, 0, rows, NULL, 0, NULL, 0, NULL);
    unsigned char *px = rgb_pattern(40, 30, 3);
    fx_jpeg(jpg, 40, 30, 3, px, 90);
    const char *files[2] = {png, jpg};
    int failures = 0;
    for (int f = 0; f < 2; f++) {
        size_t len;
        unsigned char *buf = fx_read(files[f], &len);
        for (size_t i = 0; i < len; i++) {
            unsigned char *copy = malloc(len);
            memcpy(copy, buf, len);
            copy[i] ^= 0x5a;
            segq_image_t *img = NULL;
            char err[SEGQ_IMAGE_ERRLEN];
            int rc = segq_image_read_mem(copy, len, files[f], NULL, &img, err, sizeof err);
            if (rc) {
                failures++;
                fx_check(strstr(err, files[f]), "%s", err);
                /* the documented codes for bad data, nothing else */
                fx_check(rc == SEGQ_ECORRUPT || rc == SEGQ_EUNSUPPORTED || rc == SEGQ_ETOOBIG,
                         "%s: %s", segq_error_name(rc), err);
            }
            segq_image_destroy(&img);
            free(copy);
        }
        free(buf);
    }
    cr_assert_gt(failures, 0, "PNG checksums catch flipped bytes");
    free(px);
    free_rows(rows, H);
    free(png);
    free(jpg);
    fx_rmtree(dir);
    fx_no_leaks();
}

/* A PNG signature + IHDR declaring w x h, followed by nothing. */
static void fake_png(unsigned char out[33], uint32_t w, uint32_t h)
{
    static const unsigned char head[16] = {0x89, 'P', 'N', 'G', '\r', '\n', 0x1a, '\n',
                                           0,    0,   0,   13,  'I',  'H',  'D',  'R'};
    memcpy(out, head, 16);
    for (int i = 0; i < 4; i++) {
        out[16 + i] = (unsigned char)(w >> (24 - 8 * i));
        out[20 + i] = (unsigned char)(h >> (24 - 8 * i));
    }
    memcpy(out + 24, "\x08\x02\x00\x00\x00", 5); /* 8-bit RGB */
    uLong crc = crc32(0, out + 12, 17);
    for (int i = 0; i < 4; i++)
        out[29 + i] = (unsigned char)(crc >> (24 - 8 * i));
}

Test(bad, zero_and_absurd_png_sizes, .timeout = FX_TIMEOUT)
{
    unsigned char buf[33];
    char err[SEGQ_IMAGE_ERRLEN];
    fake_png(buf, 0, 0);
    cr_assert_eq(read_mem(buf, sizeof buf, NULL, err), SEGQ_ECORRUPT);
    cr_assert(strstr(err, "0x0"), "%s", err);
    fake_png(buf, 100, 0);
    cr_assert_eq(read_mem(buf, sizeof buf, NULL, err), SEGQ_ECORRUPT);
    cr_assert(strstr(err, "100x0"), "%s", err);
    fake_png(buf, 0x7fffffff, 0x7fffffff);
    cr_assert_eq(read_mem(buf, sizeof buf, NULL, err), SEGQ_ETOOBIG);
    cr_assert(strstr(err, "2147483647x2147483647"), "%s", err);
    fake_png(buf, SEGQ_IMAGE_MAX_SIDE + 1, 10);
    cr_assert_eq(read_mem(buf, sizeof buf, NULL, err), SEGQ_ETOOBIG);
    /* Both sides allowed but the pixel count is not. */
    fake_png(buf, 16384, 16383);
    cr_assert_eq(read_mem(buf, sizeof buf, NULL, err), SEGQ_ECORRUPT,
                 "within default limits: only then does the missing data matter: %s", err);
    cr_assert(strstr(err, "truncated"), "%s", err);
    segq_image_limits_t small = {.max_side = 100, .max_pixels = 50 * 50};
    fake_png(buf, 60, 60);
    cr_assert_eq(read_mem(buf, sizeof buf, &small, err), SEGQ_ETOOBIG);
    fake_png(buf, 101, 1);
    cr_assert_eq(read_mem(buf, sizeof buf, &small, err), SEGQ_ETOOBIG);
    fx_no_leaks();
}

/* Patches the SOF0 size of a small real JPEG. */
Test(bad, zero_and_absurd_jpeg_sizes, .timeout = FX_TIMEOUT)
{
    char *dir = fx_tmpdir();
    char *jpg = fx_path(dir, "s.jpg");
    unsigned char *px = rgb_pattern(16, 16, 3);
    fx_jpeg(jpg, 16, 16, 3, px, 90);
    size_t len;
    unsigned char *buf = fx_read(jpg, &len);
    size_t sof = 0;
    for (size_t i = 2; i + 9 < len; i++)
        if (buf[i] == 0xff && buf[i + 1] == 0xc0) {
            sof = i;
            break;
        }
    cr_assert(sof, "fixture has a baseline frame header");
    char err[SEGQ_IMAGE_ERRLEN];
    /* SOF0: FF C0, length(2), precision(1), height(2), width(2). */
    buf[sof + 5] = 0, buf[sof + 6] = 0;
    cr_assert_eq(read_mem(buf, len, NULL, err), SEGQ_ECORRUPT, "%s", err);
    cr_assert(strstr(err, "empty JPEG"), "%s", err);
    buf[sof + 5] = 0xff, buf[sof + 6] = 0xff, buf[sof + 7] = 0xff, buf[sof + 8] = 0xff;
    cr_assert_eq(read_mem(buf, len, NULL, err), SEGQ_ETOOBIG, "%s", err);
    /* 20000 x 20000: within libjpeg's own limit, above ours. */
    buf[sof + 5] = 0x4e, buf[sof + 6] = 0x20, buf[sof + 7] = 0x4e, buf[sof + 8] = 0x20;
    cr_assert_eq(read_mem(buf, len, NULL, err), SEGQ_ETOOBIG, "%s", err);
    cr_assert(strstr(err, "20000x20000"), "%s", err);
    buf[sof + 4] = 12; /* 12-bit precision */
    buf[sof + 5] = 0, buf[sof + 6] = 16, buf[sof + 7] = 0, buf[sof + 8] = 16;
    cr_assert_eq(read_mem(buf, len, NULL, err), SEGQ_EUNSUPPORTED, "%s", err);
    free(buf);
    free(px);
    free(jpg);
    fx_rmtree(dir);
    fx_no_leaks();
}

/* The fuzz corpus replays here under the sanitizers on every test run: the
 * generated seeds (*.png, *.jpg) decode, CMYK aside; the inputs libFuzzer
 * found (named by hash) fail or decode, never crash or leak. */
Test(bad, fuzz_corpus_replays, .timeout = FX_TIMEOUT)
{
    const char *dir = SEGQ_SOURCE_DIR "/tests/fuzz/corpus/image";
    DIR *d = opendir(dir);
    cr_assert(d, "%s missing", dir);
    struct dirent *e;
    int decoded = 0;
    while ((e = readdir(d))) {
        if (e->d_name[0] == '.')
            continue;
        char *path = fx_path(dir, e->d_name);
        size_t len;
        unsigned char *buf = fx_read(path, &len);
        char err[SEGQ_IMAGE_ERRLEN];
        int rc = read_mem(buf, len, NULL, err);
        int seed = strchr(e->d_name, '.') != NULL;
        fx_check(rc == 0 || !seed || strstr(e->d_name, "cmyk"), "%s: %s", path, err);
        decoded += rc == 0;
        free(buf);
        free(path);
    }
    closedir(d);
    cr_assert_geq(decoded, 15);
    fx_no_leaks();
}
