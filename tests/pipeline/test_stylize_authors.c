/* segq-run stylize against the authors' own style transfer
 * (authors_stylize.py runs transfer_style of
 * ../shared/reference/singan-seg/style_transfer.py on Debian's
 * python3-torch + python3-torchvision): one content image restyled by
 * both with the same random-weight VGG19, the images compared.
 *
 * The style image has the content's size, so the authors' Resize is an
 * identity and no resampler plays a part; what is left between the two is
 * float32 rounding (libtorch's convolutions against PyTorch's, the
 * authors' net run to its end) and the write: segq rounds to uint8, their
 * to_pil_image truncates (about 0.5/255 on average by itself).
 *
 * Tolerance, measured (this test's images and weights, 64x48, 40 steps,
 * 1 thread, mean / max |segq - authors| in levels of 255):
 *   pipeline/stylize.c as now (Adam on the ImageNet-normalised image,
 *   clamped only when written):                        0.636 / 39
 *   the parent commit's stylize.c (Adam on [0, 1] pixels, clamped every
 *   step: 4.4 times the step):                         33.3 / 136
 * The authors' image moved 19.5/255 on average from the content (the old
 * segq's 46.8/255). Of the 0.636, about 0.45 is their truncation (0.186
 * when their float image is rounded as segq does); the rest is float32
 * rounding that Adam amplifies where a gradient is near 0 (it steps by lr
 * whatever the gradient's size, so a sign flip moves a value by 2 lr):
 * the authors' own code in float64 against itself in float32 differs by
 * the same 0.193 mean, 40 max, so the max says nothing and only the mean
 * is checked. MEAN_TOL in authors_stylize.py is 1.0: room for that
 * float32 part to triple (another libtorch, BLAS), 33 times under the old
 * behaviour. Adam ignores the scale of the loss and the content loss is
 * still small after 40 steps, so the weights are checked only loosely:
 * --content-weight 0 gives 0.650, --content-weight 100 gives 1.04. */
#include <criterion/criterion.h>

#include <stdint.h>
#include <stdio.h>

#include "pipeline_test_util.h"
#include "segq_image.h"

#define AUTHORS "/usr/bin/python3 " SEGQ_SOURCE_DIR "/tests/pipeline/authors_stylize.py"
#define W 64
#define H 48
#define STEPS 40

static int in_disc(int x, int y)
{
    return (x - 40) * (x - 40) + (y - 20) * (y - 20) < 120;
}

/* RGB PNG: a smooth gradient with a bright disc (content) or diagonal
 * stripes of period `period` in other colours (style). */
static void write_rgb(const char *path, int style, int period)
{
    segq_image_t *img = segq_image_new(W, H, 3, 8);
    cr_assert(img);
    uint8_t *p = img->data;
    for (uint32_t y = 0; y < H; y++)
        for (uint32_t x = 0; x < W; x++) {
            uint8_t *q = p + 3 * (y * W + x);
            int disc = in_disc((int)x, (int)y);
            if (style) {
                int on = ((x + 2 * y) / (uint32_t)period) % 2;
                q[0] = (uint8_t)(on ? 220 : 40 + 2 * y);
                q[1] = (uint8_t)(on ? 60 + x : 180);
                q[2] = (uint8_t)(on ? 30 : 120 + x);
            } else {
                q[0] = (uint8_t)(disc ? 240 : 60 + 2 * x);
                q[1] = (uint8_t)(disc ? 200 : 40 + 3 * y);
                q[2] = (uint8_t)(disc ? 180 : 90);
            }
        }
    char err[512];
    cr_assert_eq(segq_image_write_png(img, path, err, sizeof err), 0, "%s", err);
    segq_image_destroy(&img);
}

static void write_mask(const char *path)
{
    segq_image_t *m = segq_image_new(W, H, 1, 8);
    cr_assert(m);
    uint8_t *p = m->data;
    for (int y = 0; y < H; y++)
        for (int x = 0; x < W; x++)
            p[y * W + x] = in_disc(x, y) ? 255 : 0;
    char err[512];
    cr_assert_eq(segq_image_write_png(m, path, err, sizeof err), 0, "%s", err);
    segq_image_destroy(&m);
}

Test(stylize_authors, matches_the_authors_transfer_style, .timeout = 300)
{
    char dir[512], p[1024];
    pt_tempdir(dir, sizeof dir);
    cr_assert(dir[0]);
    cr_assert_eq(pt_sh("mkdir -p %s/content/images %s/content/masks", dir, dir), 0);
    snprintf(p, sizeof p, "%s/content/images/a.png", dir);
    write_rgb(p, 0, 0);
    snprintf(p, sizeof p, "%s/content/masks/a.png", dir);
    write_mask(p);
    snprintf(p, sizeof p, "%s/style.png", dir);
    write_rgb(p, 1, 5);
    cr_assert_eq(pt_sh(AUTHORS " weights %s/vgg19.safetensors", dir), 0);
    cr_assert_eq(pt_sh("%s stylize --content %s/content --style %s/style.png --vgg19 "
                       "%s/vgg19.safetensors --steps %d --out %s/out --threads 1 > /dev/null",
                       pt_segq_run(), dir, dir, dir, STEPS, dir),
                 0);
    cr_expect_eq(pt_sh(AUTHORS " check %s/content/images/a.png %s/style.png %s/vgg19.safetensors "
                               "%d %s/out/images/a.png",
                       dir, dir, dir, STEPS, dir),
                 0, "segq-run stylize differs from the authors' transfer_style (see above)");
    pt_sh("rm -rf %s", dir);
}
