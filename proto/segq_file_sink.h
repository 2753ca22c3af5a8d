/*  segq_file_sink.h: the receiving end of an artifact transfer.

    Appends the chunks of a transfer to a file and hashes them on the way,
    so the received data is checked without reading the file again. Used by
    the broker (uploads), the worker (inputs into its cache) and libsegq
    (fetch): each still checks offsets, compares the hash and fsyncs before
    it calls the file stored.
*/
#ifndef SEGQ_FILE_SINK_H
#define SEGQ_FILE_SINK_H

#include <stddef.h>
#include <stdint.h>
#include "segq_sha256.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct {
    int fd;
    uint64_t written;           /* bytes appended so far */
    uint64_t flushed;           /* writeback started up to here */
    segq_sha256_t sha;
} segq_file_sink_t;

/* Starts an empty sink on fd (opened for writing at offset 0; the caller
   keeps owning it). */
void segq_file_sink_init (segq_file_sink_t *self, int fd);

/* Hashes and appends size bytes. 0, or -errno of the failed write (the
   sink is then unusable: drop the file). */
int segq_file_sink_append (segq_file_sink_t *self, const void *data, size_t size);

/* Writes all size bytes to fd, through short writes and EINTR. 0 or -errno. */
int segq_write_all (int fd, const void *data, size_t size);

/* The sha256 of everything appended. */
void segq_file_sink_hash (segq_file_sink_t *self, char hex_out[SEGQ_HASH_HEX_LEN + 1]);

#ifdef __cplusplus
}
#endif
#endif
