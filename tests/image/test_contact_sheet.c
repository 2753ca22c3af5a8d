/*  test_contact_sheet.c: the preview grid that generate and stylize write
    next to their pairs. No torch: runs under ASan+UBSan. */
#define _GNU_SOURCE
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include "contact_sheet.h"

#define W 40
#define H 30
/* the square mask: columns SX0..SX1, rows SY0..SY1 inclusive */
#define SX0 10
#define SX1 19
#define SY0 8
#define SY1 17

/* A gradient that differs per sample, so a tile in the wrong cell shows. */
static segq_image_t *s_image(int k)
{
    segq_image_t *img = segq_image_new(W, H, 3, 8);
    cr_assert_not_null(img);
    uint8_t *p = img->data;
    for (int y = 0; y < H; y++)
        for (int x = 0; x < W; x++) {
            p[(y * W + x) * 3 + 0] = (uint8_t)(x * 5 + k);
            p[(y * W + x) * 3 + 1] = (uint8_t)(y * 7);
            p[(y * W + x) * 3 + 2] = (uint8_t)(100 + k * 9);
        }
    return img;
}

static segq_image_t *s_square_mask(void)
{
    segq_image_t *m = segq_image_new(W, H, 1, 8);
    cr_assert_not_null(m);
    for (int y = SY0; y <= SY1; y++)
        memset((uint8_t *)m->data + y * W + SX0, 255, SX1 - SX0 + 1);
    return m;
}

static const uint8_t *s_px(const segq_image_t *sheet, uint32_t x, uint32_t y)
{
    return (const uint8_t *)sheet->data + ((size_t)y * sheet->width + x) * 3;
}

Test(contact_sheet, grid_dimensions, .timeout = 10)
{
    uint32_t c, r;
    segq_contact_sheet_grid(1, &c, &r);
    cr_expect(c == 1 && r == 1, "1 sample: %ux%u", c, r);
    segq_contact_sheet_grid(3, &c, &r);
    cr_expect(c == 2 && r == 2, "3 samples: %ux%u", c, r);
    segq_contact_sheet_grid(5, &c, &r);
    cr_expect(c == 3 && r == 2, "5 samples: %ux%u", c, r);
    segq_contact_sheet_grid(16, &c, &r);
    cr_expect(c == 4 && r == 4, "16 samples: %ux%u", c, r);
    segq_contact_sheet_grid(50, &c, &r);
    cr_expect(c == 4 && r == 4, "50 samples capped at 16: %ux%u", c, r);
    segq_contact_sheet_grid(0, &c, &r);
    cr_expect(c == 0 && r == 0);
}

/* Sheet of n samples: its size follows the grid, and in every tile the
   outline is exactly the square's boundary, everything else the image. */
static void s_check_sheet(size_t n)
{
    segq_image_t *imgs[20], *masks[20];
    for (size_t i = 0; i < n; i++) {
        imgs[i] = s_image((int)i);
        masks[i] = s_square_mask();
    }
    segq_image_t *sheet = NULL;
    char err[SEGQ_IMAGE_ERRLEN];
    int rc =
        segq_contact_sheet_make((const segq_image_t *const *)imgs,
                                (const segq_image_t *const *)masks, n, 0, &sheet, err, sizeof err);
    cr_assert_eq(rc, 0, "%s", err);
    uint32_t cols, rows, g = SEGQ_CONTACT_SHEET_GAP;
    segq_contact_sheet_grid(n, &cols, &rows);
    cr_assert_eq(sheet->channels, 3);
    cr_assert_eq(sheet->depth, 8);
    cr_assert_eq(sheet->width, cols * (W + g) + g);
    cr_assert_eq(sheet->height, rows * (H + g) + g);
    size_t shown = n < SEGQ_CONTACT_SHEET_MAX ? n : SEGQ_CONTACT_SHEET_MAX;
    for (size_t i = 0; i < shown; i++) {
        uint32_t x0 = g + (uint32_t)(i % cols) * (W + g), y0 = g + (uint32_t)(i / cols) * (H + g);
        for (uint32_t y = 0; y < H; y++)
            for (uint32_t x = 0; x < W; x++) {
                int in = x >= SX0 && x <= SX1 && y >= SY0 && y <= SY1;
                int edge = in && (x == SX0 || x == SX1 || y == SY0 || y == SY1);
                const uint8_t *p = s_px(sheet, x0 + x, y0 + y);
                const uint8_t *q = (const uint8_t *)imgs[i]->data + (y * W + x) * 3;
                if (edge)
                    cr_assert(p[0] == SEGQ_CONTACT_SHEET_OUTLINE_R
                                  && p[1] == SEGQ_CONTACT_SHEET_OUTLINE_G
                                  && p[2] == SEGQ_CONTACT_SHEET_OUTLINE_B,
                              "sample %zu (%u,%u): boundary not outlined", i, x, y);
                else
                    cr_assert(memcmp(p, q, 3) == 0, "sample %zu (%u,%u): %s pixel changed", i, x, y,
                              in ? "interior" : "outside");
            }
    }
    /* gaps and empty cells are background */
    cr_expect_eq(s_px(sheet, 0, 0)[0], SEGQ_CONTACT_SHEET_BACKGROUND);
    cr_expect_eq(s_px(sheet, sheet->width - 1, sheet->height - 1)[1],
                 SEGQ_CONTACT_SHEET_BACKGROUND);
    segq_image_destroy(&sheet);
    for (size_t i = 0; i < n; i++) {
        segq_image_destroy(&imgs[i]);
        segq_image_destroy(&masks[i]);
    }
}

Test(contact_sheet, one_sample, .timeout = 10)
{
    s_check_sheet(1);
}
Test(contact_sheet, three_samples, .timeout = 10)
{
    s_check_sheet(3);
}
Test(contact_sheet, sixteen_samples, .timeout = 20)
{
    s_check_sheet(16);
}
Test(contact_sheet, twenty_samples_show_sixteen, .timeout = 20)
{
    s_check_sheet(20);
}

Test(contact_sheet, large_tiles_scaled_down, .timeout = 20)
{
    segq_image_t *img = segq_image_new(1000, 500, 3, 8), *mask = segq_image_new(1000, 500, 1, 8);
    cr_assert(img && mask);
    memset(mask->data, 255, 1000 * 500); /* full mask: outline is the tile's frame */
    segq_image_t *sheet = NULL;
    char err[SEGQ_IMAGE_ERRLEN];
    cr_assert_eq(segq_contact_sheet_make((const segq_image_t *const *)&img,
                                         (const segq_image_t *const *)&mask, 1, 100, &sheet, err,
                                         sizeof err),
                 0, "%s", err);
    uint32_t g = SEGQ_CONTACT_SHEET_GAP;
    cr_assert_eq(sheet->width, 100 + 2 * g);
    cr_assert_eq(sheet->height, 50 + 2 * g);
    cr_expect_eq(s_px(sheet, g, g)[1], SEGQ_CONTACT_SHEET_OUTLINE_G);
    cr_expect_eq(s_px(sheet, g + 99, g + 49)[1], SEGQ_CONTACT_SHEET_OUTLINE_G);
    cr_expect_eq(s_px(sheet, g + 50, g + 25)[1], 0, "interior is the (black) image");
    segq_image_destroy(&sheet);
    segq_image_destroy(&img);
    segq_image_destroy(&mask);
}

Test(contact_sheet, bad_input, .timeout = 10)
{
    char err[SEGQ_IMAGE_ERRLEN];
    segq_image_t *sheet = NULL;
    segq_image_t *img = s_image(0), *mask = s_square_mask();
    segq_image_t *small = segq_image_new(W - 1, H, 1, 8);
    segq_image_t *grey = segq_image_new(W, H, 1, 8);
    cr_assert(img && mask && small && grey);
    const segq_image_t *imgs[] = {img}, *masks[] = {mask};
    cr_expect_eq(segq_contact_sheet_make(imgs, masks, 0, 0, &sheet, err, sizeof err), SEGQ_EINVAL);
    cr_expect(strstr(err, "no samples"), "%s", err);
    const segq_image_t *bad_masks[] = {small};
    cr_expect_eq(segq_contact_sheet_make(imgs, bad_masks, 1, 0, &sheet, err, sizeof err),
                 SEGQ_EINVAL);
    cr_expect(strstr(err, "40x30") && strstr(err, "39x30"), "%s", err);
    const segq_image_t *grey_imgs[] = {grey};
    cr_expect_eq(segq_contact_sheet_make(grey_imgs, masks, 1, 0, &sheet, err, sizeof err),
                 SEGQ_EINVAL);
    cr_expect(strstr(err, "8-bit RGB"), "%s", err);
    cr_expect_null(sheet);
    segq_image_destroy(&img);
    segq_image_destroy(&mask);
    segq_image_destroy(&small);
    segq_image_destroy(&grey);
}

/* From a folder laid out as generate writes it, to a PNG that reads back. */
Test(contact_sheet, write_dir, .timeout = 20)
{
    char dir[] = "/tmp/segq-test-sheet-XXXXXX", path[256];
    cr_assert_not_null(mkdtemp(dir));
    char err[SEGQ_IMAGE_ERRLEN];
    snprintf(path, sizeof path, "%s/images", dir);
    cr_assert_eq(mkdir(path, 0700), 0);
    snprintf(path, sizeof path, "%s/masks", dir);
    cr_assert_eq(mkdir(path, 0700), 0);
    for (int i = 0; i < 3; i++) {
        segq_image_t *img = s_image(i), *mask = s_square_mask();
        snprintf(path, sizeof path, "%s/images/s%d.png", dir, i);
        cr_assert_eq(segq_image_write_png(img, path, err, sizeof err), 0, "%s", err);
        snprintf(path, sizeof path, "%s/masks/s%d.png", dir, i);
        cr_assert_eq(segq_image_write_png(mask, path, err, sizeof err), 0, "%s", err);
        segq_image_destroy(&img);
        segq_image_destroy(&mask);
    }
    snprintf(path, sizeof path, "%s/" SEGQ_CONTACT_SHEET_FILE, dir);
    cr_assert_eq(segq_contact_sheet_write_dir(dir, path, err, sizeof err), 0, "%s", err);
    segq_image_t *sheet = NULL;
    cr_assert_eq(segq_image_read_file(path, NULL, &sheet, err, sizeof err), 0, "%s", err);
    uint32_t g = SEGQ_CONTACT_SHEET_GAP;
    cr_expect_eq(sheet->width, 2 * (W + g) + g);
    cr_expect_eq(sheet->height, 2 * (H + g) + g);
    /* sample 2 (third by name) at column 0, row 1: its outline's corner */
    cr_expect_eq(s_px(sheet, g + SX0, 2 * g + H + SY0)[1], SEGQ_CONTACT_SHEET_OUTLINE_G);
    cr_expect_eq(s_px(sheet, g, 2 * g + H)[2], 100 + 2 * 9);
    segq_image_destroy(&sheet);
    /* the sheet at the top level does not disturb the folder as a dataset */
    cr_assert_eq(segq_contact_sheet_write_dir(dir, path, err, sizeof err), 0, "%s", err);
    char cmd[300];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    cr_assert_eq(system(cmd), 0);
}

Test(contact_sheet, write_dir_without_pairs, .timeout = 10)
{
    char dir[] = "/tmp/segq-test-sheet-XXXXXX", path[256];
    cr_assert_not_null(mkdtemp(dir));
    char err[SEGQ_IMAGE_ERRLEN];
    snprintf(path, sizeof path, "%s/" SEGQ_CONTACT_SHEET_FILE, dir);
    cr_expect_neq(segq_contact_sheet_write_dir(dir, path, err, sizeof err), 0);
    cr_expect(strstr(err, dir), "names the folder: %s", err);
    cr_assert_eq(rmdir(dir), 0);
}
