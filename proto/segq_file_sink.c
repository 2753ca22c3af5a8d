/*  segq_file_sink.c: append + hash in one pass, writeback started early. */
/* sync_file_range */
#define _GNU_SOURCE
#include "segq_file_sink.h"
#include <errno.h>
#include <fcntl.h>
#include <unistd.h>

/* A chunk is hashed and written a piece at a time: the write then copies
   bytes the hash has just brought into this core's cache instead of
   fetching the whole chunk from memory twice (the network thread filled
   it, often on the other core). 256 KiB fits a 512 KiB L2 cache. */
#define S_PIECE     (256u << 10)
/* Writeback is started for each 8 MiB window as it completes, so the disk
   works while the transfer goes on and the fsync that declares the file
   durable waits for the last window only. Only the new window is passed,
   not 0..end, so no call walks the pages of earlier windows again. */
#define S_WINDOW    (8u << 20)

void
segq_file_sink_init (segq_file_sink_t *self, int fd)
{
    self->fd = fd;
    self->written = 0;
    self->flushed = 0;
    segq_sha256_init (&self->sha);
}

int
segq_write_all (int fd, const void *data, size_t size)
{
    const uint8_t *p = data;
    while (size) {
        ssize_t n = write (fd, p, size);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            return n < 0 ? -errno : -EIO;
        p += n;
        size -= (size_t) n;
    }
    return 0;
}

int
segq_file_sink_append (segq_file_sink_t *self, const void *data, size_t size)
{
    const uint8_t *p = data;
    while (size) {
        size_t n = size < S_PIECE ? size : S_PIECE;
        segq_sha256_update (&self->sha, p, n);
        int rc = segq_write_all (self->fd, p, n);
        if (rc)
            return rc;
        self->written += n;
        p += n;
        size -= n;
    }
    uint64_t window_end = self->written / S_WINDOW * S_WINDOW;
    if (window_end > self->flushed) {
        /* only a hint: the fsync at the end is what guarantees durability */
        sync_file_range (self->fd, (off_t) self->flushed, (off_t) (window_end - self->flushed),
                         SYNC_FILE_RANGE_WRITE);
        self->flushed = window_end;
    }
    return 0;
}

void
segq_file_sink_hash (segq_file_sink_t *self, char hex_out[SEGQ_HASH_HEX_LEN + 1])
{
    segq_sha256_final (&self->sha, hex_out);
}
