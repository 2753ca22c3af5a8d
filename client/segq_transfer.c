/*  segq_transfer.c: artifact upload (PUT) and download (GET), chunked,
    within the receiver's credit, sha256 checked at both ends. */
#include "client_internal.h"
#include "segq_file_sink.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define S_GET_CREDIT   8 /* chunks the broker may send ahead of our writes */
#define S_WINDOW       8 /* files moved at once (a fetch's, a submit's uploads) ... */
#define S_WINDOW_BYTES ((uint64_t) 8 << 20) /* ... within so many bytes of them */

/* The files in flight and their bytes: another may go while all stay
   within S_WINDOW and S_WINDOW_BYTES; the first goes however large. */
typedef struct {
    size_t files;
    uint64_t bytes;
} s_window_t;

static bool
s_window_admits (const s_window_t *w, uint64_t size)
{
    return w->files == 0 || (w->files < S_WINDOW && w->bytes + size <= S_WINDOW_BYTES);
}

static void
s_window_take (s_window_t *w, uint64_t size)
{
    w->files++;
    w->bytes += size;
}

static void
s_window_give (s_window_t *w, uint64_t size)
{
    w->files--;
    w->bytes -= size;
}

static int
s_read_full (int fd, uint8_t *buf, size_t size, off_t offset)
{
    size_t done = 0;
    while (done < size) {
        ssize_t n = pread (fd, buf + done, size - done, offset + (off_t) done);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            return -1;
        done += (size_t) n;
    }
    return 0;
}

/* sha: NULL when PUT named the hash; else hashes what is sent, and the
   final CHUNK names the result. */
static int
s_send_chunk (segq_client_t *self, int fd, uint64_t transfer, uint64_t offset, uint64_t size,
              uint32_t chunk_size, const char *path, segq_sha256_t *sha,
              char hash_out [SEGQ_HASH_HEX_LEN + 1])
{
    uint64_t left = size - offset;
    size_t n = left < chunk_size ? (size_t) left : chunk_size;
    zframe_t *frame = zframe_new (NULL, n);
    if (!frame)
        return segq__client_fail (self, SEGQ_ENOMEM, "out of memory reading %s", path);
    if (n && s_read_full (fd, zframe_data (frame), n, (off_t) offset) != 0) {
        zframe_destroy (&frame);
        return segq__client_fail (self, SEGQ_EIO,
                                  "cannot read %s at offset %llu: %s (did it change?)", path,
                                  (unsigned long long) offset, strerror (errno));
    }
    segq_msg_t *msg = segq_msg_new (SEGQ_MSG_CHUNK);
    if (!msg) {
        zframe_destroy (&frame);
        return segq__client_oom (self);
    }
    msg->u.chunk.transfer = transfer;
    msg->u.chunk.offset = offset;
    msg->u.chunk.last = offset + n == size;
    if (sha) {
        segq_sha256_update (sha, zframe_data (frame), n);
        if (msg->u.chunk.last) {
            segq_sha256_final (sha, hash_out);
            memcpy (msg->u.chunk.hash, hash_out, SEGQ_HASH_HEX_LEN + 1);
        }
    }
    msg->u.chunk.data = frame;
    return segq__client_send (self, &msg);
}

/* Opens path for reading; *st: what fstat says of it. */
static int
s_open (segq_client_t *self, const char *path, struct stat *st)
{
    int fd = open (path, O_RDONLY | O_CLOEXEC);
    if (fd < 0 || fstat (fd, st) != 0 || !S_ISREG (st->st_mode)) {
        int e = errno;
        if (fd >= 0)
            close (fd);
        return segq__client_fail (self, SEGQ_ENOENT, "cannot read '%s': %s", path,
                                  fd < 0 || e ? strerror (e) : "not a regular file");
    }
    return fd;
}

/* An upload under way: the file, what PUT_READY granted, how far it is. */
typedef struct {
    int fd;
    const char *path; /* for messages */
    uint64_t size;
    segq_sha256_t *sha; /* NULL when PUT named the hash */
    char hash [SEGQ_HASH_HEX_LEN + 1];
    uint64_t req_id, transfer;
    uint32_t chunk_size;
    uint64_t credit; /* chunks the broker lets us send now */
    uint64_t offset;
    bool sent_last;
} upload_t;

/* Sends PUT and waits for its PUT_READY (*reply: the answer, the caller's
   to destroy whatever is returned). */
static int
s_put_request (segq_client_t *self, upload_t *put, const char *name, segq_msg_t **reply)
{
    segq_msg_t *msg = segq__client_new_request (self, SEGQ_MSG_PUT, &put->req_id);
    if (!msg || !(msg->u.put.name = strdup (name))) {
        segq_msg_destroy (&msg);
        return segq__client_oom (self);
    }
    memcpy (msg->u.put.hash, put->hash, sizeof put->hash); /* "" unless known */
    msg->u.put.size = put->size;
    return segq__client_request (self, &msg, reply);
}

/* As many chunks as the credit allows, from where the upload is. */
static int
s_put_credited (segq_client_t *self, upload_t *put)
{
    while (put->credit > 0 && !put->sent_last) {
        int rc = s_send_chunk (self, put->fd, put->transfer, put->offset, put->size,
                               put->chunk_size, put->path, put->sha, put->hash);
        if (rc < 0)
            return rc;
        put->credit--;
        uint64_t left = put->size - put->offset;
        uint64_t sent = left < put->chunk_size ? left : put->chunk_size;
        segq__client_count_upload (self, sent);
        put->offset += sent;
        put->sent_last = put->offset == put->size;
    }
    return SEGQ_OK;
}

/* The broker's verdict on the upload; a PUT_DONE before the last chunk
   was sent is a broken transfer. */
static int
s_put_done (segq_client_t *self, const upload_t *put, const segq_put_done_t *done)
{
    int rc = done->code;
    if (rc < 0)
        return segq__client_fail (self, rc, "upload of '%s' refused by the broker: %s", put->path,
                                  done->message ? done->message : segq_strerror (rc));
    if (!put->sent_last)
        return segq__client_fail (self, SEGQ_EPROTO, "the broker ended the upload of '%s' early",
                                  put->path);
    return rc;
}

/* Chunks within the broker's credit, topped up by its CREDITs, until its
   PUT_DONE. */
static int
s_put_chunks (segq_client_t *self, upload_t *put)
{
    for (;;) {
        int rc = s_put_credited (self, put);
        if (rc < 0)
            return rc;
        segq_msg_t *reply;
        rc = segq__client_wait (self, put->req_id, put->transfer, -1, &reply);
        if (rc < 0)
            return rc;
        if (reply->type == SEGQ_MSG_PUT_DONE) {
            rc = s_put_done (self, put, &reply->u.put_done);
            segq_msg_destroy (&reply);
            return rc;
        }
        if (reply->type == SEGQ_MSG_CREDIT)
            put->credit += reply->u.credit.chunks;
        segq_msg_destroy (&reply);
    }
}

/* Uploads the open file fd (path: for messages) of st's size. known: its
   sha256, which PUT names (the broker may have it); NULL: hash while
   sending, and name the hash in the final CHUNK. */
static int
s_upload_fd (segq_client_t *self, int fd, const struct stat *st, const char *path, const char *name,
             const char *known, char hash_out [SEGQ_HASH_HEX_LEN + 1], uint64_t *size_out)
{
    segq_sha256_t sha;
    segq_sha256_init (&sha);
    upload_t put = {
        .fd = fd, .path = path, .size = (uint64_t) st->st_size, .sha = known ? NULL : &sha
    };
    if (known)
        memcpy (put.hash, known, sizeof put.hash);
    if (!name) {
        const char *slash = strrchr (path, '/');
        name = slash ? slash + 1 : path;
    }
    segq_msg_t *reply = NULL;
    int rc = s_put_request (self, &put, name, &reply);
    if (rc >= 0 && !reply->u.put_ready.have) {
        const segq_put_ready_t *ready = &reply->u.put_ready;
        put.transfer = ready->transfer;
        put.chunk_size = ready->chunk_size ? ready->chunk_size : SEGQ_DEFAULT_CHUNK;
        put.credit = ready->credit;
        segq_msg_destroy (&reply);
        rc = s_put_chunks (self, &put);
    }
    segq_msg_destroy (&reply);
    if (rc >= 0) {
        if (hash_out)
            memcpy (hash_out, put.hash, sizeof put.hash);
        if (size_out)
            *size_out = put.size;
    }
    return rc < 0 ? rc : SEGQ_OK;
}

static int
s_upload (segq_client_t *self, const char *path, const char *name, const char *known,
          char hash_out [SEGQ_HASH_HEX_LEN + 1], uint64_t *size_out)
{
    struct stat st;
    int fd = s_open (self, path, &st);
    if (fd < 0)
        return fd;
    int rc = s_upload_fd (self, fd, &st, path, name, known, hash_out, size_out);
    close (fd);
    return rc;
}

int
segq_client_upload (segq_client_t *self, const char *path, const char *name,
                    char hash_out [SEGQ_HASH_HEX_LEN + 1], uint64_t *size_out)
{
    return s_upload (self, path, name, NULL, hash_out, size_out);
}

static bool
s_unchanged (const struct stat *a, const struct stat *b)
{
    return a->st_dev == b->st_dev && a->st_ino == b->st_ino && a->st_size == b->st_size
           && a->st_mtim.tv_sec == b->st_mtim.tv_sec && a->st_mtim.tv_nsec == b->st_mtim.tv_nsec
           && a->st_ctim.tv_sec == b->st_ctim.tv_sec && a->st_ctim.tv_nsec == b->st_ctim.tv_nsec;
}

/* ---- uploads through the hash cache: several files at once ---- */

/* One file of segq__client_upload_cached's on its way to the broker. */
typedef struct {
    upload_t put; /* put.path NULL: a free slot */
    size_t index; /* in the caller's arrays */
    struct stat st;
    segq_sha256_t sha;
    bool known; /* PUT named the hash the cache remembered */
} s_put_t;

typedef struct {
    segq_client_t *self;
    const char *const *paths;
    const char *const *names;
    char (*hashes) [SEGQ_HASH_HEX_LEN + 1];
    uint64_t *sizes;
    size_t n, next, done;
    int next_fd; /* the next file, opened while it waits for room; -1: none */
    struct stat next_st;
    s_window_t window;
    s_put_t slots [S_WINDOW];
} s_puts_t;

/* PUT of the slot's file: naming the hash the cache remembers, unless
   known is false (not remembered, or remembered wrong: sent as new). */
static int
s_puts_send (s_puts_t *u, s_put_t *p, bool known)
{
    p->known =
        known && segq__hash_cache_lookup (segq__client_hash_cache (u->self), &p->st, p->put.hash);
    if (!p->known)
        p->put.hash [0] = '\0';
    segq_sha256_init (&p->sha);
    p->put.sha = p->known ? NULL : &p->sha;
    p->put.transfer = p->put.offset = p->put.credit = 0;
    p->put.sent_last = false;
    segq_msg_t *msg = segq__client_new_request (u->self, SEGQ_MSG_PUT, &p->put.req_id);
    if (!msg || !(msg->u.put.name = strdup (u->names [p->index]))) {
        segq_msg_destroy (&msg);
        return segq__client_oom (u->self);
    }
    memcpy (msg->u.put.hash, p->put.hash, sizeof p->put.hash);
    msg->u.put.size = p->put.size;
    return segq__client_send (u->self, &msg);
}

/* The next file into a free slot, opened and PUT; 1 when it must wait for
   room, 0 when sent, or the error. */
static int
s_puts_start (s_puts_t *u, s_put_t *p)
{
    const char *path = u->paths [u->next];
    if (u->next_fd < 0 && (u->next_fd = s_open (u->self, path, &u->next_st)) < 0)
        return u->next_fd;
    const struct stat st = u->next_st;
    if (!s_window_admits (&u->window, (uint64_t) st.st_size))
        return 1; /* kept open: asked again at the next message */
    s_window_take (&u->window, (uint64_t) st.st_size);
    *p = (s_put_t){ .put = { .fd = u->next_fd, .path = path, .size = (uint64_t) st.st_size },
                    .index = u->next++,
                    .st = st };
    u->next_fd = -1;
    return s_puts_send (u, p, true);
}

/* The slot a message with this req_id and transfer is for, or NULL. */
static s_put_t *
s_puts_slot (s_puts_t *u, uint64_t req_id, uint64_t transfer)
{
    for (size_t i = 0; i < S_WINDOW; i++) {
        s_put_t *p = &u->slots [i];
        if (p->put.path && segq_msg_is_for (req_id, transfer, p->put.req_id, p->put.transfer))
            return p;
    }
    return NULL;
}

static bool
s_puts_awaits (void *arg, uint64_t req_id, uint64_t transfer)
{
    return s_puts_slot (arg, req_id, transfer) != NULL;
}

/* The slot's file is stored: its hash and size given, remembered in the
   cache if it was sent as new and has not changed meanwhile. */
static void
s_puts_stored (s_puts_t *u, s_put_t *p)
{
    struct stat after;
    if (!p->known && fstat (p->put.fd, &after) == 0 && s_unchanged (&p->st, &after))
        segq__hash_cache_remember (segq__client_hash_cache (u->self), &after, p->put.hash);
    memcpy (u->hashes [p->index], p->put.hash, sizeof p->put.hash);
    if (u->sizes)
        u->sizes [p->index] = p->put.size;
    close (p->put.fd);
    p->put.path = NULL;
    s_window_give (&u->window, p->put.size);
    u->done++;
}

/* A message for the slot: PUT_READY, CREDIT or PUT_DONE. */
static int
s_puts_message (s_puts_t *u, s_put_t *p, const segq_msg_t *msg)
{
    if (msg->type == SEGQ_MSG_PUT_READY && msg->u.put_ready.have) {
        if (!p->known)
            return segq__client_fail (u->self, SEGQ_EPROTO,
                                      "the broker says it has '%s', whose hash it was not told",
                                      p->put.path);
        s_puts_stored (u, p);
        return SEGQ_OK;
    }
    if (msg->type == SEGQ_MSG_PUT_READY) {
        p->put.transfer = msg->u.put_ready.transfer;
        p->put.chunk_size =
            msg->u.put_ready.chunk_size ? msg->u.put_ready.chunk_size : SEGQ_DEFAULT_CHUNK;
        p->put.credit = msg->u.put_ready.credit;
    } else if (msg->type == SEGQ_MSG_CREDIT)
        p->put.credit += msg->u.credit.chunks;
    else if (msg->type == SEGQ_MSG_PUT_DONE) {
        /* remembered wrong (the file changed in a way stat did not show,
           and the broker's check caught it): sent as new */
        if (msg->u.put_done.code == SEGQ_EHASH && p->known)
            return s_puts_send (u, p, false);
        int rc = s_put_done (u->self, &p->put, &msg->u.put_done);
        if (rc == SEGQ_OK)
            s_puts_stored (u, p);
        return rc;
    }
    return s_put_credited (u->self, &p->put);
}

int
segq__client_upload_cached (segq_client_t *self, const char *const *paths, const char *const *names,
                            size_t n, char (*hashes) [SEGQ_HASH_HEX_LEN + 1], uint64_t *sizes)
{
    s_puts_t u = { .self = self,
                   .paths = paths,
                   .names = names,
                   .n = n,
                   .hashes = hashes,
                   .sizes = sizes,
                   .next_fd = -1 };
    int rc = SEGQ_OK;
    while (rc == SEGQ_OK && u.done < n) {
        for (size_t i = 0; i < S_WINDOW && rc == SEGQ_OK && u.next < n; i++)
            if (!u.slots [i].put.path)
                rc = s_puts_start (&u, &u.slots [i]);
        if (rc == 1)
            rc = SEGQ_OK; /* the next file waits for room */
        segq_msg_t *msg = NULL;
        if (rc == SEGQ_OK)
            rc = segq__client_wait_for (self, s_puts_awaits, &u, -1, &msg);
        s_put_t *p = rc == SEGQ_OK ? s_puts_slot (&u, segq_msg_req_id (msg),
                                                  segq__client_msg_transfer (msg))
                                   : NULL;
        if (p)
            rc = s_puts_message (&u, p, msg);
        segq_msg_destroy (&msg);
    }
    for (size_t i = 0; i < S_WINDOW; i++)
        if (u.slots [i].put.path)
            close (u.slots [i].put.fd);
    if (u.next_fd >= 0)
        close (u.next_fd);
    return rc;
}

int
segq_client_upload_hash_first (segq_client_t *self, const char *path, const char *name,
                               char hash_out [SEGQ_HASH_HEX_LEN + 1], uint64_t *size_out)
{
    char hash [SEGQ_HASH_HEX_LEN + 1];
    int rc = segq_sha256_file (path, hash);
    if (rc < 0)
        return segq__client_fail (self, rc, "cannot hash '%s': %s", path, segq_strerror (rc));
    return s_upload (self, path, name, hash, hash_out, size_out);
}

int
segq_client_upload_known (segq_client_t *self, const char *path, const char *name, const char *hash,
                          uint64_t *size_out)
{
    if (!segq_hash_valid (hash))
        return segq__client_fail (self, SEGQ_EINVAL,
                                  "'%s' is not a sha256 (64 lowercase hex digits)",
                                  hash ? hash : "(null)");
    return s_upload (self, path, name, hash, NULL, size_out);
}

static int
s_send_credit (segq_client_t *self, uint64_t transfer, uint32_t chunks)
{
    segq_msg_t *msg = segq_msg_new (SEGQ_MSG_CREDIT);
    if (!msg)
        return segq__client_oom (self);
    msg->u.credit.transfer = transfer;
    msg->u.credit.chunks = chunks;
    return segq__client_send (self, &msg);
}

static int
s_write_failed (segq_client_t *self, const char *what, int neg_errno)
{
    return segq__client_fail (self, neg_errno == -ENOSPC ? SEGQ_ENOSPC : SEGQ_EIO,
                              "%s: cannot write: %s", what, strerror (-neg_errno));
}

/* ---- downloads: several files at once ---- */

/* One output on its way here: GET, GET_READY, then CHUNKs into a
   temporary file beside its path, hashed as they land. */
typedef struct {
    const segq_artifact_t *output; /* NULL: a free slot */
    size_t index;                  /* in the caller's arrays */
    uint64_t req_id, transfer;     /* transfer 0 until GET_READY */
    uint64_t size, offset;
    char hash [SEGQ_HASH_HEX_LEN + 1]; /* the artifact's, from GET_READY */
    char tmp [4096];
    int fd;
    segq_file_sink_t sink;
    char what [SEGQ_MAX_NAME + SEGQ_JOB_ID_MAX + 2]; /* JOB:NAME, for messages */
} s_get_t;

typedef struct {
    segq_client_t *self;
    const char *job;
    const segq_artifact_t *const *outputs;
    const char *const *paths;
    char (*hashes) [SEGQ_HASH_HEX_LEN + 1];
    size_t n, next, done; /* outputs asked for, and in place */
    s_window_t window;
    s_get_t slots [S_WINDOW];
} s_fetch_t;

/* The slot's temporary file removed (a failed fetch leaves nothing). */
static void
s_get_drop (s_get_t *get)
{
    if (get->fd >= 0) {
        segq_file_sink_release (&get->sink);
        close (get->fd);
        unlink (get->tmp);
    }
    get->fd = -1;
    get->output = NULL;
}

/* GET of the next output into the free slot, its temporary file made. */
static int
s_fetch_start (s_fetch_t *f, s_get_t *get)
{
    segq_client_t *self = f->self;
    get->index = f->next++;
    get->output = f->outputs [get->index];
    get->transfer = get->offset = 0;
    snprintf (get->what, sizeof get->what, "%s:%s", f->job, get->output->name);
    snprintf (get->tmp, sizeof get->tmp, "%s.segq-XXXXXX", f->paths [get->index]);
    get->fd = mkstemp (get->tmp); /* mkstemp's 0600 stays: artifacts may be patient data */
    if (get->fd < 0) {
        get->output = NULL;
        return segq__client_fail (self, SEGQ_EIO, "cannot create a file beside '%s': %s",
                                  f->paths [get->index], strerror (errno));
    }
    s_window_take (&f->window, get->output->size);
    segq_msg_t *msg = segq__client_new_request (self, SEGQ_MSG_GET, &get->req_id);
    if (!msg || !(msg->u.get.job = strdup (f->job))
        || !(msg->u.get.name = strdup (get->output->name))) {
        segq_msg_destroy (&msg);
        return segq__client_oom (self);
    }
    msg->u.get.credit = S_GET_CREDIT;
    return segq__client_send (self, &msg);
}

static bool
s_fetch_awaits (void *arg, uint64_t req_id, uint64_t transfer)
{
    const s_fetch_t *f = arg;
    for (size_t i = 0; i < S_WINDOW; i++) {
        const s_get_t *get = &f->slots [i];
        if (get->output && segq_msg_is_for (req_id, transfer, get->req_id, get->transfer))
            return true;
    }
    return false;
}

/* The file complete: its hash checked, synced, renamed into place. */
static int
s_get_finish (s_fetch_t *f, s_get_t *get)
{
    segq_client_t *self = f->self;
    char hash [SEGQ_HASH_HEX_LEN + 1];
    int wrc = segq_file_sink_finish (&get->sink, hash);
    if (wrc)
        return s_write_failed (self, get->what, wrc);
    if (strcmp (hash, get->hash) != 0)
        return segq__client_fail (self, SEGQ_EHASH,
                                  "%s: sha256 %s of the received data is not the artifact's %s",
                                  get->what, hash, get->hash);
    int e = fsync (get->fd) == 0 ? 0 : errno;
    if (close (get->fd) != 0 && !e)
        e = errno;
    get->fd = -1;
    const char *path = f->paths [get->index];
    if (e) {
        unlink (get->tmp);
        return segq__client_fail (self, SEGQ_EIO, "cannot write '%s': %s", get->tmp, strerror (e));
    }
    if (rename (get->tmp, path) != 0) {
        e = errno;
        unlink (get->tmp);
        return segq__client_fail (self, SEGQ_EIO, "cannot rename '%s' to '%s': %s", get->tmp, path,
                                  strerror (e));
    }
    if (f->hashes)
        memcpy (f->hashes [get->index], hash, sizeof hash);
    s_window_give (&f->window, get->output->size);
    get->output = NULL;
    f->done++;
    return SEGQ_OK;
}

/* A CHUNK of the slot's transfer, in order, into its file, credited. */
static int
s_get_chunk (s_fetch_t *f, s_get_t *get, const segq_chunk_t *c)
{
    segq_client_t *self = f->self;
    size_t n = c->data ? zframe_size (c->data) : 0;
    if (c->offset != get->offset || get->offset + n > get->size
        || (c->last && get->offset + n != get->size))
        return segq__client_fail (
            self, SEGQ_EPROTO,
            "%s: chunk at offset %llu does not follow %llu of %llu bytes (transfer broken)",
            get->what, (unsigned long long) c->offset, (unsigned long long) get->offset,
            (unsigned long long) get->size);
    /* the sink writes as it goes (a 256 MiB fetch on this disk spent
       more time in one fsync at the end than in the transfer) */
    int wrc = n ? segq_file_sink_append (&get->sink, zframe_data (c->data), n) : 0;
    if (wrc)
        return s_write_failed (self, get->what, wrc);
    get->offset += n;
    /* an empty file too ends with its one, empty, last CHUNK */
    return c->last ? s_get_finish (f, get) : s_send_credit (self, get->transfer, 1);
}

/* A message for one of the slots: its GET_READY or a CHUNK. */
static int
s_fetch_handle (s_fetch_t *f, const segq_msg_t *msg)
{
    for (size_t i = 0; i < S_WINDOW; i++) {
        s_get_t *get = &f->slots [i];
        if (!get->output)
            continue;
        if (msg->type == SEGQ_MSG_GET_READY && msg->u.get_ready.req_id == get->req_id
            && !get->transfer) {
            get->transfer = msg->u.get_ready.transfer;
            get->size = msg->u.get_ready.size;
            snprintf (get->hash, sizeof get->hash, "%s", msg->u.get_ready.hash);
            segq_file_sink_init (&get->sink, get->fd, get->size);
            return SEGQ_OK;
        }
        if (msg->type == SEGQ_MSG_CHUNK && get->transfer && msg->u.chunk.transfer == get->transfer)
            return s_get_chunk (f, get, &msg->u.chunk);
    }
    return SEGQ_OK; /* a CREDIT or the like: nothing to do */
}

int
segq_client_fetch_outputs (segq_client_t *self, const char *job,
                           const segq_artifact_t *const *outputs, const char *const *paths,
                           size_t n, char (*hashes) [SEGQ_HASH_HEX_LEN + 1])
{
    s_fetch_t f = {
        .self = self, .job = job, .outputs = outputs, .paths = paths, .n = n, .hashes = hashes
    };
    for (size_t i = 0; i < S_WINDOW; i++)
        f.slots [i].fd = -1;
    int rc = SEGQ_OK;
    while (rc == SEGQ_OK && f.done < n) {
        for (size_t i = 0; i < S_WINDOW && rc == SEGQ_OK; i++)
            if (!f.slots [i].output && f.next < n
                && s_window_admits (&f.window, f.outputs [f.next]->size))
                rc = s_fetch_start (&f, &f.slots [i]);
        segq_msg_t *msg = NULL;
        if (rc == SEGQ_OK)
            rc = segq__client_wait_for (self, s_fetch_awaits, &f, -1, &msg);
        if (rc == SEGQ_OK)
            rc = s_fetch_handle (&f, msg);
        segq_msg_destroy (&msg);
    }
    for (size_t i = 0; i < S_WINDOW; i++)
        s_get_drop (&f.slots [i]);
    return rc;
}

int
segq_client_fetch (segq_client_t *self, const char *job, const char *name, const char *path,
                   char hash_out [SEGQ_HASH_HEX_LEN + 1])
{
    segq_artifact_t output = { .name = (char *) name };
    const segq_artifact_t *outputs [] = { &output };
    char hashes [1][SEGQ_HASH_HEX_LEN + 1];
    int rc = segq_client_fetch_outputs (self, job, outputs, &path, 1, hashes);
    if (rc == SEGQ_OK && hash_out)
        memcpy (hash_out, hashes [0], sizeof hashes [0]);
    return rc;
}
