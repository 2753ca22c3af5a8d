/*  segq_file_sink.h: the receiving end of an artifact transfer.

    Appends the chunks of a transfer to a file and hashes them on the way,
    so the received data is checked without reading the file again. Used by
    the broker (uploads), the worker (inputs into its cache) and libsegq
    (fetch): each still checks offsets, compares the hash and fsyncs before
    it calls the file stored.

    A large file (SEGQ_SINK_DIRECT_MIN or more) is written with O_DIRECT
    from a ring of aligned staging buffers (8 x 2 MiB): the caller fills
    one while a writer thread puts the others on disk and flushes the
    disk's cache every 16 MiB, so receiving, hashing, writing and
    persisting overlap, and no page cache is allocated for data that is
    fsynced and rarely read back by the same process (on the dev VM, whose
    host takes freed memory back, filling fresh page cache cost more CPU
    than the whole transfer). The thread and the ring beyond its first
    buffer start only once that buffer is full: a sender that announces a
    large file and sends little makes the receiver hold neither. Small
    files, and file systems that refuse O_DIRECT, get ordinary writes with
    writeback started early (a hint; the caller's fsync is what makes the
    file durable).
*/
#ifndef SEGQ_FILE_SINK_H
#define SEGQ_FILE_SINK_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include "segq_sha256.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct segq__direct_writer segq__direct_writer_t;

typedef struct {
    int fd;
    uint64_t written; /* bytes appended (hashed) so far */
    uint64_t flushed; /* buffered mode: writeback started up to here */
    segq_sha256_t sha;
    segq__direct_writer_t *direct; /* NULL in buffered mode */
} segq_file_sink_t;

#define SEGQ_SINK_DIRECT_MIN ((uint64_t) 8 << 20)

/* Starts an empty sink on fd (opened for writing at offset 0; the caller
   keeps owning it) for a file of about expected_size bytes. Never fails:
   where O_DIRECT or the first buffer cannot be had, it writes through the
   page cache; where the thread cannot be had, the appends write each
   buffer themselves. */
void segq_file_sink_init (segq_file_sink_t *self, int fd, uint64_t expected_size);

/* True if the sink writes with O_DIRECT. */
bool segq_file_sink_is_direct (const segq_file_sink_t *self);

/* Hashes and appends size bytes. 0, or -errno of a failed write (the sink
   is then unusable: release it and drop the file). In direct mode the
   bytes may still be in flight: finish says whether they all landed. */
int segq_file_sink_append (segq_file_sink_t *self, const void *data, size_t size);

/* Writes what is still staged, waits for the writer and gives the sha256 of
   everything appended. 0, or -errno of a failed write. The sink is released
   either way. */
int segq_file_sink_finish (segq_file_sink_t *self, char hex_out [SEGQ_HASH_HEX_LEN + 1]);

/* Stops the writer and frees the buffers without finishing (a transfer
   abandoned); safe to call again and after finish. */
void segq_file_sink_release (segq_file_sink_t *self);

/* Writes all size bytes to fd, through short writes and EINTR. 0 or -errno. */
int segq_write_all (int fd, const void *data, size_t size);

#ifdef __cplusplus
}
#endif
#endif
