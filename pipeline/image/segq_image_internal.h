/* Helpers shared inside segq_image; not installed. */
#ifndef SEGQ_IMAGE_INTERNAL_H
#define SEGQ_IMAGE_INTERNAL_H

#include "segq_image.h"

/* What a header says decoding will take. */
typedef struct {
    uint32_t width, height; /* declared, and decoded */
    uint64_t bytes;         /* memory decoding takes; 0: not known yet */
} segq__image_plan_t;

/* Checks a plan against the limits (NULL = defaults) before any pixel
 * buffer exists: ECORRUPT for 0, ETOOBIG above a limit, with a message that
 * names the file, its size and the limit. */
int segq__image_check_size(const char *name, const segq__image_plan_t *plan,
                           const segq_image_limits_t *limits, char *err, size_t errlen);

int segq__image_read_png(const unsigned char *buf, size_t len, const char *name,
                         const segq_image_limits_t *limits, segq_image_t **out, char *err,
                         size_t errlen);
int segq__image_read_jpeg(const unsigned char *buf, size_t len, const char *name,
                          const segq_image_limits_t *limits, segq_image_t **out, char *err,
                          size_t errlen);

#endif
