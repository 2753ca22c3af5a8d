/*  segq_sha256.h: streaming SHA-256, the content address of every artifact.

    Part of segq_core (libc only), so the broker, worker, client and the
    pipeline (checkpoint metadata names its source image by hash) share one
    implementation without a crypto library dependency.
*/
#ifndef SEGQ_SHA256_H
#define SEGQ_SHA256_H

#include <stddef.h>
#include <stdint.h>
#include "segq_error.h"

#ifdef __cplusplus
extern "C" {
#endif

#define SEGQ_HASH_HEX_LEN 64 /* lowercase hex digits */

typedef struct {
    uint32_t state [8];
    uint64_t bytes;
    uint8_t block [64];
    size_t used;
} segq_sha256_t;

void segq_sha256_init (segq_sha256_t *self);
void segq_sha256_update (segq_sha256_t *self, const void *data, size_t size);
void segq_sha256_final (segq_sha256_t *self, char hex_out [SEGQ_HASH_HEX_LEN + 1]);

/* Whole file. SEGQ_ENOENT if it cannot be opened, SEGQ_EIO on a read error. */
int segq_sha256_file (const char *path, char hex_out [SEGQ_HASH_HEX_LEN + 1]);

/* True if s is exactly 64 lowercase hex digits. */
int segq_hash_valid (const char *s);

#ifdef __cplusplus
}
#endif
#endif
