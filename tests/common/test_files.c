/*  test_files.c: small valid inputs for tests (test_files.h). */
#include "test_files.h"

#include <stdio.h>

#include "segq_ckpt.h"
#include "segq_image.h"

int
test_write_png (const char *path, uint32_t side, int channels, unsigned seed)
{
    char err [SEGQ_IMAGE_ERRLEN];
    segq_image_t *img = segq_image_new (side, side, channels, 8);
    if (!img)
        return -1;
    uint8_t *px = img->data;
    for (uint32_t i = 0; i < side * side * (uint32_t) channels; i++)
        px [i] = (uint8_t) ((i * 2654435761u + seed * 40503u) >> 24);
    int rc = segq_image_write_png (img, path, err, sizeof err);
    segq_image_destroy (&img);
    if (rc)
        fprintf (stderr, "test_write_png: %s\n", err);
    return rc ? -1 : 0;
}

int
test_write_checkpoint (const char *path, uint32_t side, unsigned seed)
{
    return test_write_checkpoint_of (path, side, seed, NULL, 1);
}

int
test_write_checkpoint_of (const char *path, uint32_t side, unsigned seed, const char *source_image,
                          int trained)
{
    static const char *const meta [][2] = {
        { "format", SEGQ_CKPT_FORMAT },
        { "format_version", SEGQ_CKPT_VERSION },
        { "num_scales", "1" },
        { "num_layer", "5" },
        { "ker_size", "3" },
        { "pad", "5" },
        { "nfc", "32" },
        { "nfc_max", "32" },
        { "r", "0.75" },
        { "scale1", "1" },
    };
    char err [SEGQ_ST_ERRLEN], size [16], salt [16], scales [16];
    snprintf (size, sizeof size, "%u", side);
    snprintf (salt, sizeof salt, "%u", seed);
    snprintf (scales, sizeof scales, "%d", trained);
    int64_t sizes [2] = { side, side }, sizes_shape [2] = { 1, 2 }, one = 1;
    double amp = 1.0;
    segq_st_writer_t *w = segq_st_writer_new ();
    if (!w)
        return -1;
    int rc = 0;
    for (size_t i = 0; i < sizeof meta / sizeof meta [0] && !rc; i++)
        rc = segq_st_writer_set_meta (w, meta [i][0], meta [i][1], err, sizeof err);
    if (!rc)
        rc = segq_st_writer_set_meta (w, "height", size, err, sizeof err)
             || segq_st_writer_set_meta (w, "width", size, err, sizeof err)
             || segq_st_writer_set_meta (w, "test_salt", salt, err, sizeof err)
             || segq_st_writer_set_meta (w, "scales_trained", scales, err, sizeof err)
             || (source_image
                 && segq_st_writer_set_meta (w, "source_image", source_image, err, sizeof err));
    if (!rc)
        rc = segq_st_writer_add (w, "pyramid_sizes", SEGQ_ST_I64, 2, sizes_shape, sizes,
                                 sizeof sizes, err, sizeof err)
             || segq_st_writer_add (w, "noise_amp", SEGQ_ST_F64, 1, &one, &amp, sizeof amp, err,
                                    sizeof err)
             || segq_st_writer_save (w, path, err, sizeof err);
    segq_st_writer_destroy (&w);
    if (rc)
        fprintf (stderr, "test_write_checkpoint: %s: %s\n", path, err);
    return rc ? -1 : 0;
}
