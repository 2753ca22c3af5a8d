/*  e2e_fixture.c: see e2e_fixture.h. */
#include "e2e_fixture.h"
#include <criterion/criterion.h>
#include <stdbool.h>
#include "segq_image.h"

/* An endoscopy-like RGB picture with a darker round "polyp", and its mask. */
void
e2e_write_polyp (const char *image_path, const char *mask_path)
{
    const uint32_t w = 32, h = 28;
    segq_image_t *img = segq_image_new (w, h, 3, 8);
    segq_image_t *mask = segq_image_new (w, h, 1, 8);
    cr_assert (img && mask);
    uint8_t *rgb = img->data, *m = mask->data;
    for (uint32_t y = 0; y < h; y++)
        for (uint32_t x = 0; x < w; x++) {
            int dx = (int) x - 19, dy = (int) y - 12;
            bool inside = dx * dx + dy * dy <= 36;
            uint8_t *p = rgb + 3 * (y * w + x);
            p [0] = (uint8_t) (inside ? 120 : 200 - 2 * y);
            p [1] = (uint8_t) (inside ? 60 : 90 + 3 * x);
            p [2] = (uint8_t) (inside ? 50 : 80 + ((x * y) % 23));
            m [y * w + x] = inside ? 255 : 0;
        }
    char err [256];
    cr_assert_eq (segq_image_write_png (img, image_path, err, sizeof err), 0, "%s", err);
    cr_assert_eq (segq_image_write_png (mask, mask_path, err, sizeof err), 0, "%s", err);
    segq_image_destroy (&img);
    segq_image_destroy (&mask);
}
