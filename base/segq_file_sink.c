/*  segq_file_sink.c: append + hash in one pass; large files written with
    O_DIRECT by a writer thread, small ones with writeback started early. */
/* O_DIRECT, sync_file_range */
#define _GNU_SOURCE
#include "segq_file_sink.h"
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* A chunk is hashed and written a piece at a time: the write (or the copy
   into a staging buffer) then takes bytes the hash has just brought into
   this core's cache instead of fetching the whole chunk from memory twice
   (the network thread filled it, often on the other core). 256 KiB fits a
   512 KiB L2 cache. */
#define S_PIECE (256u << 10)
/* Buffered mode: writeback is started for each 8 MiB window as it
   completes, so the disk works while the transfer goes on and the fsync
   that declares the file durable waits for the last window only. Only the
   new window is passed, not 0..end, so no call walks the pages of earlier
   windows again. */
#define S_WINDOW (8u << 20)
/* Direct mode: one O_DIRECT write per staging buffer. On the dev VM's
   virtio disk 1 MiB writes ran at 0.8 GB/s, 2 and 4 MiB at 1.2 GB/s. */
#define S_STAGE (2u << 20)
/* A ring of staging buffers (16 MiB), so that the caller goes on
   receiving while the writer waits for the disk, even through a flush:
   with 4 buffers (8 MiB) the 256 MiB bench both ways dropped from 543-692
   to 442-518 MB/s on the dev VM, the receiver waiting for a free buffer. */
#define S_STAGES 8
/* The writer flushes the disk's cache every 16 MiB (fdatasync): the disk
   then persists the file while the transfer goes on, and the caller's
   fsync at the end waits for the last part only (on the dev VM a 256 MiB
   file's single fsync took 0.13 s, a quarter of the transfer). */
#define S_SYNC_EVERY ((uint64_t) 16 << 20)
/* O_DIRECT wants buffer, offset and length aligned to the logical block
   size; 4 KiB covers every common disk. */
#define S_ALIGN 4096u

struct segq__direct_writer {
    int fd;
    uint8_t *stage [S_STAGES]; /* the first at once, the others with the thread */
    int filling;               /* the buffer the caller fills ... */
    size_t fill;               /* ... how much of it ... */
    uint64_t fill_offset;      /* ... and where it goes in the file */
    pthread_t thread;
    bool running; /* the thread was started */
    bool alone;   /* it could not be: the caller writes each buffer */
    pthread_mutex_t lock;
    pthread_cond_t cond;
    /* under lock: the buffers handed to the writer thread, oldest first */
    int oldest;
    int queued;
    size_t size [S_STAGES];
    uint64_t offset [S_STAGES];
    int error; /* the first failed write's -errno, sticky */
    bool quit;
};

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

static int
s_set_direct (int fd, bool on)
{
    int flags = fcntl (fd, F_GETFL);
    if (flags < 0)
        return -errno;
    if (!!(flags & O_DIRECT) == on)
        return 0;
    return fcntl (fd, F_SETFL, on ? flags | O_DIRECT : flags & ~O_DIRECT) == 0 ? 0 : -errno;
}

/* A file system may take the O_DIRECT flag and still refuse a write with
   EINVAL (and a short direct write leaves the rest unaligned): the rest is
   then written through the page cache. */
static int
s_pwrite_all (int fd, const uint8_t *p, size_t size, uint64_t offset)
{
    while (size) {
        ssize_t n = pwrite (fd, p, size, (off_t) offset);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0 && errno == EINVAL && (fcntl (fd, F_GETFL) & O_DIRECT)
            && s_set_direct (fd, false) == 0)
            continue;
        if (n <= 0)
            return n < 0 ? -errno : -EIO;
        p += n;
        size -= (size_t) n;
        offset += (uint64_t) n;
    }
    return 0;
}

static void *
s_writer (void *arg)
{
    segq__direct_writer_t *w = arg;
    uint64_t unsynced = 0;
    pthread_mutex_lock (&w->lock);
    for (;;) {
        while (!w->queued && !w->quit)
            pthread_cond_wait (&w->cond, &w->lock);
        if (!w->queued)
            break;
        int i = w->oldest;
        bool failed = w->error != 0;
        pthread_mutex_unlock (&w->lock);
        int rc = failed ? 0 : s_pwrite_all (w->fd, w->stage [i], w->size [i], w->offset [i]);
        if (!rc && !failed && (unsynced += w->size [i]) >= S_SYNC_EVERY) {
            rc = fdatasync (w->fd) == 0 ? 0 : -errno;
            unsynced = 0;
        }
        pthread_mutex_lock (&w->lock);
        if (rc && !w->error)
            w->error = rc;
        w->oldest = (i + 1) % S_STAGES;
        w->queued--;
        pthread_cond_broadcast (&w->cond);
    }
    pthread_mutex_unlock (&w->lock);
    return NULL;
}

static void
s_writer_destroy (segq__direct_writer_t **self_p)
{
    segq__direct_writer_t *self = *self_p;
    if (!self)
        return;
    if (self->running) {
        pthread_mutex_lock (&self->lock);
        /* an abandoned transfer's buffers still queued are not written:
           the file goes anyway (finish drained the queue before this) */
        if (!self->error)
            self->error = -ECANCELED;
        self->quit = true;
        pthread_cond_broadcast (&self->cond);
        pthread_mutex_unlock (&self->lock);
        pthread_join (self->thread, NULL);
    }
    pthread_cond_destroy (&self->cond);
    pthread_mutex_destroy (&self->lock);
    for (int i = 0; i < S_STAGES; i++)
        free (self->stage [i]);
    free (self);
    *self_p = NULL;
}

/* One staging buffer to start with: the thread and the rest of the ring
   come when the first buffer is full (s_hand_off), so a transfer that
   announces a large file and sends little (or nothing) holds no thread and
   one buffer of address space, not yet touched. */
static segq__direct_writer_t *
s_writer_new (int fd)
{
    segq__direct_writer_t *self = calloc (1, sizeof *self);
    if (!self)
        return NULL;
    self->fd = fd;
    pthread_mutex_init (&self->lock, NULL);
    pthread_cond_init (&self->cond, NULL);
    if (posix_memalign ((void **) &self->stage [0], S_ALIGN, S_STAGE) != 0)
        s_writer_destroy (&self);
    return self;
}

/* The rest of the ring and the thread. false if either cannot be had. */
static bool
s_writer_start (segq__direct_writer_t *w)
{
    for (int i = 1; i < S_STAGES; i++)
        if (!w->stage [i] && posix_memalign ((void **) &w->stage [i], S_ALIGN, S_STAGE) != 0)
            return false;
    w->running = pthread_create (&w->thread, NULL, s_writer, w) == 0;
    return w->running;
}

/* Without a thread: the filled buffer is written here, in the caller's
   time, and filled again (the file still goes direct, only slower). */
static int
s_write_alone (segq__direct_writer_t *w)
{
    if (!w->error && w->fill)
        w->error = s_pwrite_all (w->fd, w->stage [w->filling], w->fill, w->fill_offset);
    w->fill_offset += w->fill;
    w->fill = 0;
    return w->error;
}

/* Hands the filled buffer, if any, to the writer once a buffer is free to
   fill next; with drain, waits until the writer has written everything.
   The first full buffer starts the writer. The writer's error so far, or 0. */
static int
s_hand_off (segq__direct_writer_t *w, bool drain)
{
    if (!w->running && !w->alone && w->fill)
        w->alone = !s_writer_start (w);
    if (w->alone)
        return s_write_alone (w);
    pthread_mutex_lock (&w->lock);
    while (w->queued == S_STAGES - 1)
        pthread_cond_wait (&w->cond, &w->lock);
    if (!w->error && w->fill) {
        w->size [w->filling] = w->fill;
        w->offset [w->filling] = w->fill_offset;
        w->queued++;
        pthread_cond_broadcast (&w->cond);
        w->fill_offset += w->fill;
        w->filling = (w->filling + 1) % S_STAGES;
        w->fill = 0;
    }
    while (drain && w->queued)
        pthread_cond_wait (&w->cond, &w->lock);
    int rc = w->error;
    pthread_mutex_unlock (&w->lock);
    return rc;
}

void
segq_file_sink_init (segq_file_sink_t *self, int fd, uint64_t expected_size)
{
    self->fd = fd;
    self->written = 0;
    self->flushed = 0;
    self->direct = NULL;
    segq_sha256_init (&self->sha);
    if (expected_size < SEGQ_SINK_DIRECT_MIN || s_set_direct (fd, true) != 0)
        return;
    self->direct = s_writer_new (fd);
    if (!self->direct)
        s_set_direct (fd, false);
}

bool
segq_file_sink_is_direct (const segq_file_sink_t *self)
{
    return self->direct != NULL;
}

static int
s_append_direct (segq_file_sink_t *self, const uint8_t *p, size_t size)
{
    segq__direct_writer_t *w = self->direct;
    while (size) {
        size_t n = S_STAGE - w->fill;
        if (n > S_PIECE)
            n = S_PIECE;
        if (n > size)
            n = size;
        segq_sha256_update (&self->sha, p, n);
        memcpy (w->stage [w->filling] + w->fill, p, n);
        w->fill += n;
        self->written += n;
        p += n;
        size -= n;
        int rc = w->fill == S_STAGE ? s_hand_off (w, false) : 0;
        if (rc)
            return rc;
    }
    return 0;
}

static int
s_append_buffered (segq_file_sink_t *self, const uint8_t *p, size_t size)
{
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

int
segq_file_sink_append (segq_file_sink_t *self, const void *data, size_t size)
{
    return self->direct ? s_append_direct (self, data, size) : s_append_buffered (self, data, size);
}

int
segq_file_sink_finish (segq_file_sink_t *self, char hex_out [SEGQ_HASH_HEX_LEN + 1])
{
    int rc = 0;
    segq__direct_writer_t *w = self->direct;
    if (w) {
        /* the writer's last buffer first, then the rest from here: the
           whole blocks direct, the tail (not a whole block) through the
           page cache */
        uint64_t fill = w->fill;
        w->fill = 0;
        rc = s_hand_off (w, true);
        size_t whole = (size_t) fill / S_ALIGN * S_ALIGN;
        const uint8_t *staged = w->stage [w->filling];
        if (!rc && whole)
            rc = s_pwrite_all (self->fd, staged, whole, w->fill_offset);
        if (!rc && fill > whole && (rc = s_set_direct (self->fd, false)) == 0)
            rc = s_pwrite_all (self->fd, staged + whole, (size_t) fill - whole,
                               w->fill_offset + whole);
        segq_file_sink_release (self);
    }
    segq_sha256_final (&self->sha, hex_out);
    return rc;
}

void
segq_file_sink_release (segq_file_sink_t *self)
{
    s_writer_destroy (&self->direct);
}
