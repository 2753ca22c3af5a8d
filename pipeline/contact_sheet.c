/* contact_sheet: grid preview of image/mask pairs (see contact_sheet.h). */
#include "contact_sheet.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void segq_contact_sheet_grid(size_t n, uint32_t *cols, uint32_t *rows)
{
    if (n > SEGQ_CONTACT_SHEET_MAX)
        n = SEGQ_CONTACT_SHEET_MAX;
    uint32_t c = 0;
    while ((size_t)c * c < n)
        c++;
    *cols = c;
    *rows = c ? (uint32_t)((n + c - 1) / c) : 0;
}

/* Tile size of a w x h image: scaled so the longer side is at most max. */
static void tile_size(uint32_t w, uint32_t h, uint32_t max, uint32_t *tw, uint32_t *th)
{
    uint32_t side = w > h ? w : h;
    if (side <= max) {
        *tw = w;
        *th = h;
        return;
    }
    *tw = (uint32_t)((uint64_t)w * max / side);
    *th = (uint32_t)((uint64_t)h * max / side);
    if (*tw == 0)
        *tw = 1;
    if (*th == 0)
        *th = 1;
}

static int check_pair(const segq_image_t *img, const segq_image_t *mask, size_t i, char *err,
                      size_t errlen)
{
    if (!img || !mask) {
        snprintf(err, errlen, "contact sheet: sample %zu has no %s", i, img ? "mask" : "image");
        return SEGQ_EINVAL;
    }
    if (img->channels != 3 || img->depth != 8) {
        snprintf(err, errlen, "contact sheet: sample %zu is %d-channel %d-bit; 8-bit RGB expected",
                 i, img->channels, img->depth);
        return SEGQ_EINVAL;
    }
    if (mask->channels != 1 || mask->depth != 8) {
        snprintf(err, errlen,
                 "contact sheet: mask %zu is %d-channel %d-bit; an 8-bit 1-channel mask expected",
                 i, mask->channels, mask->depth);
        return SEGQ_EINVAL;
    }
    if (img->width != mask->width || img->height != mask->height) {
        snprintf(err, errlen, "contact sheet: sample %zu is %ux%u but its mask is %ux%u", i,
                 img->width, img->height, mask->width, mask->height);
        return SEGQ_EINVAL;
    }
    return 0;
}

/* Mask value at tile pixel (x, y), sampled nearest from the full mask. */
static int inside(const segq_image_t *mask, uint32_t tw, uint32_t th, int64_t x, int64_t y)
{
    if (x < 0 || y < 0 || x >= tw || y >= th)
        return 0;
    uint64_t sx = (uint64_t)x * mask->width / tw, sy = (uint64_t)y * mask->height / th;
    return ((const uint8_t *)mask->data)[sy * mask->width + sx] != 0;
}

static void draw_tile(segq_image_t *sheet, uint32_t x0, uint32_t y0, const segq_image_t *img,
                      const segq_image_t *mask, uint32_t tw, uint32_t th)
{
    uint8_t *dst = sheet->data;
    const uint8_t *src = img->data;
    for (uint32_t y = 0; y < th; y++) {
        uint64_t sy = (uint64_t)y * img->height / th;
        for (uint32_t x = 0; x < tw; x++) {
            uint64_t sx = (uint64_t)x * img->width / tw;
            uint8_t *d = dst + ((uint64_t)(y0 + y) * sheet->width + x0 + x) * 3;
            int edge = inside(mask, tw, th, x, y)
                       && (!inside(mask, tw, th, (int64_t)x - 1, y)
                           || !inside(mask, tw, th, (int64_t)x + 1, y)
                           || !inside(mask, tw, th, x, (int64_t)y - 1)
                           || !inside(mask, tw, th, x, (int64_t)y + 1));
            if (edge) {
                d[0] = SEGQ_CONTACT_SHEET_OUTLINE_R;
                d[1] = SEGQ_CONTACT_SHEET_OUTLINE_G;
                d[2] = SEGQ_CONTACT_SHEET_OUTLINE_B;
            } else
                memcpy(d, src + (sy * img->width + sx) * 3, 3);
        }
    }
}

int segq_contact_sheet_make(const segq_image_t *const *images, const segq_image_t *const *masks,
                            size_t n, uint32_t max_tile, segq_image_t **out, char *err,
                            size_t errlen)
{
    if (!out || (n && (!images || !masks))) {
        snprintf(err, errlen, "contact sheet: NULL argument");
        return SEGQ_EINVAL;
    }
    *out = NULL;
    if (n == 0) {
        snprintf(err, errlen, "contact sheet: no samples (nothing was generated?)");
        return SEGQ_EINVAL;
    }
    if (n > SEGQ_CONTACT_SHEET_MAX)
        n = SEGQ_CONTACT_SHEET_MAX;
    if (max_tile == 0)
        max_tile = SEGQ_CONTACT_SHEET_TILE;
    uint32_t cw = 0, ch = 0, tw, th;
    for (size_t i = 0; i < n; i++) {
        int rc = check_pair(images[i], masks[i], i, err, errlen);
        if (rc)
            return rc;
        tile_size(images[i]->width, images[i]->height, max_tile, &tw, &th);
        cw = tw > cw ? tw : cw;
        ch = th > ch ? th : ch;
    }
    uint32_t cols, rows, gap = SEGQ_CONTACT_SHEET_GAP;
    segq_contact_sheet_grid(n, &cols, &rows);
    /* at most 4 cells of max_tile plus gaps a side: cannot overflow */
    segq_image_t *sheet = segq_image_new(cols * (cw + gap) + gap, rows * (ch + gap) + gap, 3, 8);
    if (!sheet) {
        snprintf(err, errlen, "contact sheet: out of memory (%u x %u cells of %ux%u)", cols, rows,
                 cw, ch);
        return SEGQ_ENOMEM;
    }
    memset(sheet->data, SEGQ_CONTACT_SHEET_BACKGROUND, segq_image_size(sheet));
    for (size_t i = 0; i < n; i++) {
        tile_size(images[i]->width, images[i]->height, max_tile, &tw, &th);
        draw_tile(sheet, gap + (uint32_t)(i % cols) * (cw + gap),
                  gap + (uint32_t)(i / cols) * (ch + gap), images[i], masks[i], tw, th);
    }
    *out = sheet;
    return 0;
}

/* 8-bit copy of a 16-bit image (high byte), in place of *img. */
static int to_8bit(segq_image_t **img, char *err, size_t errlen)
{
    if ((*img)->depth == 8)
        return 0;
    segq_image_t *s = *img;
    segq_image_t *d = segq_image_new(s->width, s->height, s->channels, 8);
    if (!d) {
        snprintf(err, errlen, "contact sheet: out of memory");
        return SEGQ_ENOMEM;
    }
    size_t k = (size_t)s->width * s->height * (size_t)s->channels;
    for (size_t i = 0; i < k; i++)
        ((uint8_t *)d->data)[i] = (uint8_t)(((const uint16_t *)s->data)[i] >> 8);
    segq_image_destroy(img);
    *img = d;
    return 0;
}

static int load_pair(const segq_dataset_pair_t *p, segq_image_t **img, segq_image_t **mask,
                     char *err, size_t errlen)
{
    segq_image_t *raw = NULL;
    int rc = segq_image_read_file(p->image_path, NULL, &raw, err, errlen);
    if (!rc)
        rc = segq_image_to_rgb(raw, img, err, errlen);
    if (!rc)
        rc = to_8bit(img, err, errlen);
    segq_image_destroy(&raw);
    if (!rc)
        rc = segq_image_read_file(p->mask_path, NULL, &raw, err, errlen);
    if (!rc)
        rc = segq_image_to_mask(raw, mask, err, errlen);
    segq_image_destroy(&raw);
    if (!rc)
        rc = segq_image_check_same_size(*img, p->image_path, *mask, p->mask_path, err, errlen);
    return rc;
}

int segq_contact_sheet_write_dir(const char *dir, const char *path, char *err, size_t errlen)
{
    segq_dataset_t *ds = NULL;
    int rc = segq_dataset_open(dir, &ds, err, errlen);
    if (rc)
        return rc;
    size_t n = segq_dataset_count(ds);
    if (n > SEGQ_CONTACT_SHEET_MAX)
        n = SEGQ_CONTACT_SHEET_MAX;
    segq_image_t *imgs[SEGQ_CONTACT_SHEET_MAX] = {0}, *masks[SEGQ_CONTACT_SHEET_MAX] = {0};
    for (size_t i = 0; i < n && !rc; i++)
        rc = load_pair(segq_dataset_pair(ds, i), &imgs[i], &masks[i], err, errlen);
    segq_image_t *sheet = NULL;
    if (!rc && n == 0) {
        snprintf(err, errlen, "contact sheet: %s has no image/mask pairs", dir);
        rc = SEGQ_EINVAL;
    }
    if (!rc)
        rc = segq_contact_sheet_make((const segq_image_t *const *)imgs,
                                     (const segq_image_t *const *)masks, n, 0, &sheet, err, errlen);
    if (!rc)
        rc = segq_image_write_png(sheet, path, err, errlen);
    segq_image_destroy(&sheet);
    for (size_t i = 0; i < n; i++) {
        segq_image_destroy(&imgs[i]);
        segq_image_destroy(&masks[i]);
    }
    segq_dataset_destroy(&ds);
    return rc;
}
