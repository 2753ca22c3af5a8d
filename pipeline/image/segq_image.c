/* segq_image: the image type, format detection, reading dispatch and the
 * conversions the pipeline needs (RGB, binary masks, alpha split, floats). */
#include "segq_image_internal.h"

#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <stdlib.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* A compressed file larger than this cannot hold an image within the
 * default limits at any sane ratio; refusing it bounds the read. */
#define MAX_FILE_BYTES ((size_t)1 << 30)

segq_image_t *segq_image_new(uint32_t width, uint32_t height, int channels, int depth)
{
    if (!width || !height || channels < 1 || channels > 4 || (depth != 8 && depth != 16))
        return NULL;
    size_t bytes = (size_t)(depth / 8) * (size_t)channels;
    if ((size_t)width > SIZE_MAX / bytes || (size_t)height > SIZE_MAX / (bytes * width))
        return NULL;
    segq_image_t *self = calloc(1, sizeof *self);
    if (!self)
        return NULL;
    *self = (segq_image_t){width, height, channels, depth, NULL};
    self->data = calloc((size_t)width * height, bytes);
    if (!self->data) {
        free(self);
        return NULL;
    }
    return self;
}

void segq_image_destroy(segq_image_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    free((*self_p)->data);
    free(*self_p);
    *self_p = NULL;
}

size_t segq_image_size(const segq_image_t *self)
{
    return (size_t)self->width * self->height * (size_t)self->channels * (size_t)(self->depth / 8);
}

static const unsigned char png_magic[8] = {0x89, 'P', 'N', 'G', '\r', '\n', 0x1a, '\n'};
static const unsigned char jpeg_magic[3] = {0xff, 0xd8, 0xff};

int segq_image_detect(const void *buf, size_t len)
{
    if (len >= sizeof png_magic && memcmp(buf, png_magic, sizeof png_magic) == 0)
        return SEGQ_IMAGE_PNG;
    if (len >= sizeof jpeg_magic && memcmp(buf, jpeg_magic, sizeof jpeg_magic) == 0)
        return SEGQ_IMAGE_JPEG;
    return 0;
}

int segq__image_check_size(const char *name, const segq__image_plan_t *plan,
                           const segq_image_limits_t *limits, char *err, size_t errlen)
{
    uint64_t side = limits && limits->max_side ? limits->max_side : SEGQ_IMAGE_MAX_SIDE;
    uint64_t pixels = limits && limits->max_pixels ? limits->max_pixels : SEGQ_IMAGE_MAX_PIXELS;
    uint64_t bytes = limits && limits->max_bytes ? limits->max_bytes : SEGQ_IMAGE_MAX_BYTES;
    uint32_t w = plan->width, h = plan->height;
    if (w == 0 || h == 0)
        return segq_fail(err, errlen, SEGQ_ECORRUPT, "%s: image is %ux%u pixels", name, w, h);
    if (w > side || h > side || (uint64_t)w * h > pixels)
        return segq_fail(err, errlen, SEGQ_ETOOBIG,
                         "%s: declared size %ux%u is above the limit (%llu per side, %llu "
                         "pixels): refused",
                         name, w, h, (unsigned long long)side, (unsigned long long)pixels);
    if (plan->bytes > bytes)
        return segq_fail(err, errlen, SEGQ_ETOOBIG,
                         "%s: declared size %ux%u takes %llu MiB to decode, above the limit "
                         "of %llu MiB: refused (make the image smaller)",
                         name, w, h, (unsigned long long)(plan->bytes >> 20),
                         (unsigned long long)(bytes >> 20));
    return 0;
}

int segq_image_read_mem(const void *buf, size_t len, const char *name,
                        const segq_image_limits_t *limits, segq_image_t **out, char *err,
                        size_t errlen)
{
    if (!out || (!buf && len))
        return segq_fail(err, errlen, SEGQ_EINVAL, "segq_image_read_mem: bad arguments");
    *out = NULL;
    name = name ? name : "(memory)";
    switch (segq_image_detect(buf, len)) {
    case SEGQ_IMAGE_PNG:
        return segq__image_read_png(buf, len, name, limits, out, err, errlen);
    case SEGQ_IMAGE_JPEG:
        return segq__image_read_jpeg(buf, len, name, limits, out, err, errlen);
    }
    /* An empty file, or one cut inside the signature, is a truncated image. */
    if (len == 0)
        return segq_fail(err, errlen, SEGQ_ECORRUPT, "%s: empty file, not an image", name);
    if ((len < sizeof png_magic && memcmp(buf, png_magic, len) == 0)
        || (len < sizeof jpeg_magic && memcmp(buf, jpeg_magic, len) == 0))
        return segq_fail(err, errlen, SEGQ_ECORRUPT,
                         "%s: file ends inside the image signature (%zu bytes)", name, len);
    /* the bytes it has, at most four: a short file shows no bytes it lacks */
    const unsigned char *p = buf;
    char first[16] = "";
    size_t used = 0;
    for (size_t i = 0; i < len && i < 4; i++)
        used += (size_t)snprintf(first + used, sizeof first - used, "%s%02x", i ? " " : "", p[i]);
    return segq_fail(err, errlen, SEGQ_EUNSUPPORTED,
                     "%s: not a PNG or JPEG image (starts with %s); convert it to PNG", name,
                     first);
}

int segq_image_read_file(const char *path, const segq_image_limits_t *limits, segq_image_t **out,
                         char *err, size_t errlen)
{
    if (!path || !out)
        return segq_fail(err, errlen, SEGQ_EINVAL, "segq_image_read_file: bad arguments");
    *out = NULL;
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return segq_fail(err, errlen, SEGQ_EIO, "%s: cannot open: %s", path, strerror(errno));
    struct stat st;
    if (fstat(fd, &st) || !S_ISREG(st.st_mode)) {
        close(fd);
        return segq_fail(err, errlen, SEGQ_EIO, "%s: not a regular file", path);
    }
    if ((uint64_t)st.st_size > MAX_FILE_BYTES) {
        close(fd);
        return segq_fail(err, errlen, SEGQ_ETOOBIG, "%s: file of %lld bytes is too large", path,
                         (long long)st.st_size);
    }
    size_t len = (size_t)st.st_size;
    unsigned char *buf = malloc(len ? len : 1);
    if (!buf) {
        close(fd);
        return segq_fail(err, errlen, SEGQ_ENOMEM, "%s: out of memory", path);
    }
    size_t got = 0;
    while (got < len) {
        ssize_t r = read(fd, buf + got, len - got);
        if (r < 0 && errno == EINTR)
            continue;
        if (r <= 0)
            break;
        got += (size_t)r;
    }
    close(fd);
    int rc = got == len ? segq_image_read_mem(buf, len, path, limits, out, err, errlen)
                        : segq_fail(err, errlen, SEGQ_EIO, "%s: read failed", path);
    free(buf);
    return rc;
}

static int mismatch(const char *name_a, uint32_t wa, uint32_t ha, const char *name_b, uint32_t wb,
                    uint32_t hb, char *err, size_t errlen)
{
    if (wa == wb && ha == hb)
        return 0;
    return segq_fail(err, errlen, SEGQ_EINVAL,
                     "%s is %ux%u but %s is %ux%u: image and mask must have the same size",
                     name_a ? name_a : "image", wa, ha, name_b ? name_b : "mask", wb, hb);
}

int segq_image_read_pair(const char *image_path, const char *mask_path,
                         const segq_image_limits_t *limits, segq_image_t **image,
                         segq_image_t **mask, char *err, size_t errlen)
{
    if (!image_path || !mask_path || !image || !mask)
        return segq_fail(err, errlen, SEGQ_EINVAL, "segq_image_read_pair: bad arguments");
    *image = *mask = NULL;
    int rc = segq_image_read_file(image_path, limits, image, err, errlen);
    if (!rc)
        rc = segq_image_read_file(mask_path, limits, mask, err, errlen);
    if (!rc)
        rc = segq_image_check_same_size(*image, image_path, *mask, mask_path, err, errlen);
    if (rc) {
        segq_image_destroy(image);
        segq_image_destroy(mask);
    }
    return rc;
}

/* Sample i of an image of either depth, and the maximum sample value. */
static inline unsigned sample(const segq_image_t *img, size_t i)
{
    return img->depth == 16 ? ((const uint16_t *)img->data)[i] : ((const uint8_t *)img->data)[i];
}

static inline void set_sample(segq_image_t *img, size_t i, unsigned v)
{
    if (img->depth == 16)
        ((uint16_t *)img->data)[i] = (uint16_t)v;
    else
        ((uint8_t *)img->data)[i] = (uint8_t)v;
}

static int check_image(const segq_image_t *img, const char *what, char *err, size_t errlen)
{
    if (!img || !img->data || !img->width || !img->height || img->channels < 1 || img->channels > 4
        || (img->depth != 8 && img->depth != 16))
        return segq_fail(err, errlen, SEGQ_EINVAL, "%s: invalid image", what);
    return 0;
}

int segq_image_to_rgb(const segq_image_t *img, segq_image_t **out, char *err, size_t errlen)
{
    int rc = check_image(img, "segq_image_to_rgb", err, errlen);
    if (rc)
        return rc;
    segq_image_t *rgb = segq_image_new(img->width, img->height, 3, img->depth);
    if (!rgb)
        return segq_fail(err, errlen, SEGQ_ENOMEM, "out of memory");
    size_t n = (size_t)img->width * img->height;
    int c = img->channels;
    for (size_t p = 0; p < n; p++)
        for (int k = 0; k < 3; k++)
            /* 1 and 2 channels are grey (+alpha): replicate channel 0. */
            set_sample(rgb, p * 3 + k, sample(img, p * c + (c >= 3 ? k : 0)));
    *out = rgb;
    return 0;
}

/* Luminance of pixel p (grey channel for 1-2 channels), in sample units. */
static unsigned luminance(const segq_image_t *img, size_t p)
{
    int c = img->channels;
    if (c < 3)
        return sample(img, p * c);
    /* Integer weights (x1000) of Rec. 601, rounded. */
    unsigned long v = 299ul * sample(img, p * c) + 587ul * sample(img, p * c + 1)
                      + 114ul * sample(img, p * c + 2);
    return (unsigned)((v + 500) / 1000);
}

static unsigned half_range(int depth)
{
    return depth == 16 ? 32767u : 127u;
}

int segq_image_to_mask(const segq_image_t *img, segq_image_t **out, char *err, size_t errlen)
{
    int rc = check_image(img, "segq_image_to_mask", err, errlen);
    if (rc)
        return rc;
    segq_image_t *mask = segq_image_new(img->width, img->height, 1, 8);
    if (!mask)
        return segq_fail(err, errlen, SEGQ_ENOMEM, "out of memory");
    size_t n = (size_t)img->width * img->height;
    unsigned half = half_range(img->depth);
    uint8_t *m = mask->data;
    for (size_t p = 0; p < n; p++)
        m[p] = luminance(img, p) > half ? 255 : 0;
    *out = mask;
    return 0;
}

int segq_image_check_mask_levels(const segq_image_t *img, const char *path, char *err,
                                 size_t errlen)
{
    int rc = check_image(img, "segq_image_check_mask_levels", err, errlen);
    if (rc)
        return rc;
    size_t n = (size_t)img->width * img->height;
    unsigned largest = 0, half = half_range(img->depth);
    for (size_t p = 0; p < n && largest <= half; p++) {
        unsigned v = luminance(img, p);
        largest = v > largest ? v : largest;
    }
    if (largest == 0 || largest > half)
        return 0;
    /* a label mask (0/1, or a few classes): all background once binarised */
    unsigned full = 2 * half + 1;
    return segq_fail(err, errlen, SEGQ_EINVAL,
                     "%s: the mask's largest value is %u, so it would read as empty: masks are "
                     "binarised at > %u; scale it to 0/%u (a 0/1 mask times %u)",
                     path, largest, half, full, full);
}

double segq_image_mask_fraction(const segq_image_t *mask)
{
    if (!mask || !mask->data || !mask->width || !mask->height)
        return 0.0;
    size_t n = (size_t)mask->width * mask->height, on = 0;
    for (size_t p = 0; p < n; p++)
        on += sample(mask, p * mask->channels) != 0;
    return (double)on / (double)n;
}

int segq_image_split_alpha(const segq_image_t *img, segq_image_t **rgb, segq_image_t **mask,
                           char *err, size_t errlen)
{
    int rc = check_image(img, "segq_image_split_alpha", err, errlen);
    if (rc)
        return rc;
    if (img->channels != 2 && img->channels != 4)
        return segq_fail(err, errlen, SEGQ_EINVAL,
                         "--mask-from-alpha needs an image with an alpha channel, this one "
                         "has %d channel%s",
                         img->channels, img->channels == 1 ? "" : "s");
    segq_image_t *color = NULL, *m = segq_image_new(img->width, img->height, 1, 8);
    if (!m)
        return segq_fail(err, errlen, SEGQ_ENOMEM, "out of memory");
    if ((rc = segq_image_to_rgb(img, &color, err, errlen))) {
        segq_image_destroy(&m);
        return rc;
    }
    size_t n = (size_t)img->width * img->height;
    unsigned half = half_range(img->depth);
    uint8_t *md = m->data;
    for (size_t p = 0; p < n; p++)
        md[p] = sample(img, p * img->channels + img->channels - 1) > half ? 255 : 0;
    *rgb = color;
    *mask = m;
    return 0;
}

int segq_image_check_same_size(const segq_image_t *a, const char *name_a, const segq_image_t *b,
                               const char *name_b, char *err, size_t errlen)
{
    if (!a || !b)
        return segq_fail(err, errlen, SEGQ_EINVAL, "segq_image_check_same_size: NULL image");
    return mismatch(name_a, a->width, a->height, name_b, b->width, b->height, err, errlen);
}

void segq_image_to_float_chw(const segq_image_t *img, float *dst)
{
    size_t n = (size_t)img->width * img->height;
    int c = img->channels;
    float scale = img->depth == 16 ? 1.0f / 65535.0f : 1.0f / 255.0f;
    for (int k = 0; k < c; k++)
        for (size_t p = 0; p < n; p++)
            dst[(size_t)k * n + p] = (float)sample(img, p * c + k) * scale;
}

int segq_image_from_float_chw(const float *src, uint32_t width, uint32_t height, int channels,
                              segq_image_t **out, char *err, size_t errlen)
{
    if (!src || !out || channels < 1 || channels > 4)
        return segq_fail(err, errlen, SEGQ_EINVAL, "segq_image_from_float_chw: bad arguments");
    segq_image_t *img = segq_image_new(width, height, channels, 8);
    if (!img)
        return segq_fail(err, errlen, width && height ? SEGQ_ENOMEM : SEGQ_EINVAL,
                         "cannot make a %ux%u image", width, height);
    size_t n = (size_t)width * height;
    uint8_t *d = img->data;
    for (int k = 0; k < channels; k++)
        for (size_t p = 0; p < n; p++) {
            float v = src[(size_t)k * n + p];
            /* NaN goes to 0 like a negative value. */
            v = v > 0.0f ? (v < 1.0f ? v : 1.0f) : 0.0f;
            d[p * channels + k] = (uint8_t)lrintf(v * 255.0f);
        }
    *out = img;
    return 0;
}
