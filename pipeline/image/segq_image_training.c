/* segq_image_read_training (segq_image.h): a training input's image and
 * mask, for segq-run train and for segq's check at submit alike. */
#include "segq_image.h"

#include <stdio.h>
#include <string.h>

/* The file's name in front of a message that lacks it (split_alpha's
 * speaks of the image without naming it). */
static int name_file(const char *path, int rc, char *err, size_t errlen)
{
    if (rc && err && errlen && !strstr(err, path)) {
        char why[SEGQ_IMAGE_ERRLEN];
        snprintf(why, sizeof why, "%s", err);
        snprintf(err, errlen, "%s: %s", path, why);
    }
    return rc;
}

int segq_image_read_labelled(const char *image_path, const char *mask_path,
                             const segq_image_limits_t *limits, segq_image_t **rgb,
                             segq_image_t **mask, char *err, size_t errlen)
{
    if (!image_path || !mask_path || !rgb || !mask)
        return segq_fail(err, errlen, SEGQ_EINVAL, "segq_image_read_labelled: bad arguments");
    *rgb = *mask = NULL;
    segq_image_t *img = NULL, *mimg = NULL;
    int rc = segq_image_read_pair(image_path, mask_path, limits, &img, &mimg, err, errlen);
    if (!rc)
        rc = segq_image_check_mask_levels(mimg, mask_path, err, errlen);
    if (!rc)
        rc = segq_image_to_rgb(img, rgb, err, errlen);
    if (!rc)
        rc = segq_image_to_mask(mimg, mask, err, errlen);
    segq_image_destroy(&img);
    segq_image_destroy(&mimg);
    if (rc) {
        segq_image_destroy(rgb);
        segq_image_destroy(mask);
    }
    return rc;
}

int segq_image_read_training(const char *image_path, const char *mask_path, uint32_t max_size,
                             segq_image_t **rgb, segq_image_t **mask, char *err, size_t errlen)
{
    if (!image_path || !rgb || !mask)
        return segq_fail(err, errlen, SEGQ_EINVAL, "segq_image_read_training: bad arguments");
    *rgb = *mask = NULL;
    /* training holds the image as floats several times over (about 80
     * bytes a pixel): 16M pixels at most, or the finest scale if more */
    uint64_t finest = (uint64_t)max_size * max_size;
    segq_image_limits_t limits = {
        .max_pixels = finest > SEGQ_IMAGE_TRAIN_MAX_PIXELS ? finest : SEGQ_IMAGE_TRAIN_MAX_PIXELS};
    if (mask_path)
        return segq_image_read_labelled(image_path, mask_path, &limits, rgb, mask, err, errlen);
    segq_image_t *img = NULL;
    int rc = segq_image_read_file(image_path, &limits, &img, err, errlen);
    if (!rc)
        rc =
            name_file(image_path, segq_image_split_alpha(img, rgb, mask, err, errlen), err, errlen);
    segq_image_destroy(&img);
    return rc;
}
