/* Helpers shared inside segq_image; not installed. */
#ifndef SEGQ_IMAGE_INTERNAL_H
#define SEGQ_IMAGE_INTERNAL_H

#include "segq_image.h"

/* Formats the message into err (if any) and returns code. */
int segq__image_fail(char *err, size_t errlen, int code, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

/* Checks a declared size against the limits (NULL = defaults) before any
 * pixel buffer exists: EEMPTY for 0, ETOOBIG above a limit. */
int segq__image_check_size(const char *name, uint32_t width, uint32_t height,
                           const segq_image_limits_t *limits, char *err, size_t errlen);

int segq__image_read_png(const unsigned char *buf, size_t len, const char *name,
                         const segq_image_limits_t *limits, segq_image_t **out, char *err,
                         size_t errlen);
int segq__image_read_jpeg(const unsigned char *buf, size_t len, const char *name,
                          const segq_image_limits_t *limits, segq_image_t **out, char *err,
                          size_t errlen);

#endif
