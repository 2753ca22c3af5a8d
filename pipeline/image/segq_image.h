/* segq_image: decoding and encoding of the images the pipeline reads and
 * writes (PNG via libpng, JPEG via libjpeg-turbo), mask helpers and the
 * dataset lister. Never links libtorch, so it is sanitized and fuzzed.
 *
 * Conventions
 * - Every function that can fail returns 0 or a negative SEGQ_E* code of
 *   segq_error.h and, when `err` is not NULL, writes a message naming the
 *   file and the problem into err[0..errlen) (SEGQ_IMAGE_ERRLEN is always
 *   enough). The codes: SEGQ_EIO (cannot open, read or write the file),
 *   SEGQ_ECORRUPT (the decoder rejected the data, the file is empty or ends
 *   before the image does, or it declares 0 pixels wide or high), SEGQ_ETOOBIG
 *   (declared size above the limits), SEGQ_EUNSUPPORTED (not PNG or JPEG by
 *   its magic bytes: it may well be a valid image of another format, such
 *   as TIFF, so not ECORRUPT; or CMYK or 12-bit JPEG), SEGQ_EINVAL (bad
 *   argument; image and mask sizes differ; a dataset folder with an
 *   unpaired or ambiguous file: the message says which), SEGQ_ENOMEM.
 * - Objects are owned by the caller: segq_image_destroy(&img) frees and sets
 *   the pointer to NULL; destroying NULL is a no-op.
 * - Samples are kept at the file's depth: 8-bit (uint8_t) or 16-bit
 *   (uint16_t in host byte order), interleaved, rows top to bottom, no row
 *   padding. Palette images are expanded to RGB/RGBA; grey below 8 bits is
 *   scaled to 8 bits; a tRNS chunk becomes an alpha channel. JPEG is always
 *   8-bit grey or RGB.
 */
#ifndef SEGQ_IMAGE_H
#define SEGQ_IMAGE_H

#include <stddef.h>
#include <stdint.h>

#include "segq_dataset.h"
#include "segq_error.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Default limits, checked against the size to decode (from the file's
 * header) before any pixel buffer is allocated. Override at compile time
 * or per call (limits). */
#ifndef SEGQ_IMAGE_MAX_SIDE
#define SEGQ_IMAGE_MAX_SIDE 16384u
#endif
#ifndef SEGQ_IMAGE_MAX_PIXELS
#define SEGQ_IMAGE_MAX_PIXELS (1u << 28)
#endif
#ifndef SEGQ_IMAGE_MAX_BYTES
#define SEGQ_IMAGE_MAX_BYTES ((uint64_t)1 << 30)
#endif
#define SEGQ_IMAGE_ERRLEN 512

typedef enum { SEGQ_IMAGE_PNG = 1, SEGQ_IMAGE_JPEG = 2 } segq_image_format_t;

typedef struct {
    uint32_t width, height;
    int channels; /* 1 grey, 2 grey+alpha, 3 RGB, 4 RGBA */
    int depth;    /* bits per sample: 8 or 16 */
    void *data;   /* width*height*channels samples, owned */
} segq_image_t;

/* Images are decoded at the size their file declares. max_side and
 * max_pixels bound that size, max_bytes the memory decoding takes: the
 * pixel buffer and, for a progressive or multi-scan JPEG, the coefficients
 * of the whole image, which libjpeg holds while it decodes. */
typedef struct {
    uint32_t max_side;   /* 0 means SEGQ_IMAGE_MAX_SIDE */
    uint64_t max_pixels; /* 0 means SEGQ_IMAGE_MAX_PIXELS */
    uint64_t max_bytes;  /* 0 means SEGQ_IMAGE_MAX_BYTES */
} segq_image_limits_t;

/* A zeroed image; NULL if out of memory or arguments out of range. */
segq_image_t *segq_image_new(uint32_t width, uint32_t height, int channels, int depth);
void segq_image_destroy(segq_image_t **self_p);
/* Bytes of the pixel buffer: width*height*channels*(depth/8). */
size_t segq_image_size(const segq_image_t *self);

/* Format from the first bytes (PNG or JPEG magic), 0 if neither. */
int segq_image_detect(const void *buf, size_t len);

/* Decode a PNG or JPEG chosen by magic bytes, never by extension.
 * limits may be NULL (defaults). `name` names the buffer in messages. */
int segq_image_read_file(const char *path, const segq_image_limits_t *limits, segq_image_t **out,
                         char *err, size_t errlen);
int segq_image_read_mem(const void *buf, size_t len, const char *name,
                        const segq_image_limits_t *limits, segq_image_t **out, char *err,
                        size_t errlen);

/* An image and its mask: EINVAL (with both sizes) unless the files
 * declare the same size. On error neither image is left. */
int segq_image_read_pair(const char *image_path, const char *mask_path,
                         const segq_image_limits_t *limits, segq_image_t **image,
                         segq_image_t **mask, char *err, size_t errlen);

/* PNG of 1..4 channels at 8 or 16 bits. Written to a temporary file next
 * to PATH, fsynced, then renamed, so a reader never sees half a file; the
 * file is 0600 (outputs derive from patient data). */
int segq_image_write_png(const segq_image_t *img, const char *path, char *err, size_t errlen);

/* 3-channel copy at the same depth: grey replicated, alpha dropped. */
int segq_image_to_rgb(const segq_image_t *img, segq_image_t **out, char *err, size_t errlen);

/* Binary mask (1 channel, 8-bit, values 0 or 255) from a mask image of any
 * channel count: grey (and grey+alpha) use the grey channel, RGB/RGBA the
 * luminance 0.299R+0.587G+0.114B; a pixel is foreground when that value is
 * above half the range (> 127 at 8 bits, > 32767 at 16 bits), which turns
 * JPEG-compressed masks back into two levels. */
int segq_image_to_mask(const segq_image_t *img, segq_image_t **out, char *err, size_t errlen);

/* EINVAL, naming `path`, its largest value and the fix, when a mask image
 * has values above 0 but none above half the range (a 0/1 label mask):
 * segq_image_to_mask would make it all background. An all-zero mask
 * passes (callers warn on it). */
int segq_image_check_mask_levels(const segq_image_t *img, const char *path, char *err,
                                 size_t errlen);

/* Fraction of non-zero pixels of a 1-channel mask, in [0, 1]. Callers
 * warn on 0 (empty mask) and 1 (full mask). */
double segq_image_mask_fraction(const segq_image_t *mask);

/* --mask-from-alpha: split an image with alpha (2 or 4 channels) into its
 * RGB part (grey replicated) and a binary mask thresholded from alpha as in
 * segq_image_to_mask. EINVAL if the image has no alpha channel. */
int segq_image_split_alpha(const segq_image_t *img, segq_image_t **rgb, segq_image_t **mask,
                           char *err, size_t errlen);

/* A SinGAN-Seg training input as `segq-run train` reads it, and as
 * `segq submit train` checks it before anything is uploaded (one function,
 * so the two cannot disagree): the image as RGB and its mask as a binary
 * mask, the mask from its own file of the same size or, when mask_path is
 * NULL, from the image's alpha channel. Decoded at full size (the authors'
 * pyramid starts from it; so width and height are the size the file
 * declares), and refused from the header when larger than
 * SEGQ_IMAGE_TRAIN_MAX_PIXELS or max_size x max_size pixels, whichever is
 * more. Messages name the file. On error neither image is left. */
#define SEGQ_IMAGE_TRAIN_MAX_PIXELS ((uint64_t)1 << 24)
/* An image and its mask of the same size read within limits (NULL: the
 * defaults) as RGB and a binary mask: a training input's, and each pair of
 * an evaluate set's (segq-run evaluate, `segq submit evaluate`). A mask
 * that segq_image_check_mask_levels refuses is EINVAL. */
int segq_image_read_labelled(const char *image_path, const char *mask_path,
                             const segq_image_limits_t *limits, segq_image_t **rgb,
                             segq_image_t **mask, char *err, size_t errlen);
int segq_image_read_training(const char *image_path, const char *mask_path, uint32_t max_size,
                             segq_image_t **rgb, segq_image_t **mask, char *err, size_t errlen);
/* EINVAL with both names and sizes in the message when a and b differ
 * in width or height. */
int segq_image_check_same_size(const segq_image_t *a, const char *name_a, const segq_image_t *b,
                               const char *name_b, char *err, size_t errlen);

/* Float planes for tensors: dst gets channels*height*width floats, channel
 * planes one after the other (CHW), each sample scaled to [0, 1]. */
void segq_image_to_float_chw(const segq_image_t *img, float *dst);
/* 8-bit image from CHW floats in [0, 1] (clamped, rounded). */
int segq_image_from_float_chw(const float *src, uint32_t width, uint32_t height, int channels,
                              segq_image_t **out, char *err, size_t errlen);

#ifdef __cplusplus
}
#endif
#endif
