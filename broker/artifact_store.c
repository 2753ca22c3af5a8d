/*  artifact_store.c: content-addressed artifact files with verified,
    atomic, durable uploads. */
#define _GNU_SOURCE /* preadv2, RWF_NOWAIT */
#include "artifact_store.h"
#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <sys/uio.h>
#include <unistd.h>
#include "segq_file_sink.h"
#include "segq_fs.h"

struct segq__artifact_store {
    char *root;       /* DATA/artifacts */
    char *tmp;        /* DATA/artifacts/tmp */
    uint64_t uploads; /* counter for temporary names */
    /* Guards what follows: an upload's finish may run on another thread
       (artifact_store.h), and a file's rename into place and its count
       must be one step, or a concurrent upload of the same content or the
       first count's walk would count it twice. */
    pthread_mutex_t lock;
    bool counted; /* files and bytes hold the totals (segq__artifact_store_totals) */
    uint64_t files, bytes;
};

struct segq__upload {
    segq__artifact_store_t *store;
    char hash [SEGQ_HASH_HEX_LEN + 1];
    uint64_t size;
    segq_file_sink_t sink; /* hashes what it writes */
    int fd;
    char *tmp_path;
};

struct segq__download {
    int fd;
    uint64_t size;
};

/* A new string from a format (asprintf is not POSIX). */
static char *
s_format (const char *format, ...)
{
    va_list args;
    va_start (args, format);
    int len = vsnprintf (NULL, 0, format, args);
    va_end (args);
    char *out = len < 0 ? NULL : malloc ((size_t) len + 1);
    if (out) {
        va_start (args, format);
        vsnprintf (out, (size_t) len + 1, format, args);
        va_end (args);
    }
    return out;
}

static int
s_errno_code (int err)
{
    return err == ENOSPC || err == EDQUOT ? SEGQ_ENOSPC : SEGQ_EIO;
}

static int
s_mkdir (const char *path, char *err, size_t errlen)
{
    if (mkdir (path, 0700) == 0 || errno == EEXIST)
        return 0;
    snprintf (err, errlen, "cannot create %s: %s", path, strerror (errno));
    return s_errno_code (errno);
}

segq__artifact_store_t *
segq__artifact_store_new (const char *data_dir, char *err, size_t errlen)
{
    segq__artifact_store_t *self = calloc (1, sizeof *self);
    if (self)
        pthread_mutex_init (&self->lock, NULL);
    if (!self || !(self->root = s_format ("%s/artifacts", data_dir))
        || !(self->tmp = s_format ("%s/artifacts/tmp", data_dir))) {
        snprintf (err, errlen, "out of memory opening the artifact store");
        segq__artifact_store_destroy (&self);
        return NULL;
    }
    if (s_mkdir (self->root, err, errlen) || s_mkdir (self->tmp, err, errlen)) {
        segq__artifact_store_destroy (&self);
        return NULL;
    }
    /* uploads cut short by a crash are never resumed: remove them */
    DIR *dir = opendir (self->tmp);
    if (dir) {
        struct dirent *entry;
        while ((entry = readdir (dir)))
            if (entry->d_name [0] != '.')
                unlinkat (dirfd (dir), entry->d_name, 0);
        closedir (dir);
    }
    return self;
}

void
segq__artifact_store_destroy (segq__artifact_store_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    pthread_mutex_destroy (&(*self_p)->lock);
    free ((*self_p)->root);
    free ((*self_p)->tmp);
    free (*self_p);
    *self_p = NULL;
}

static void
s_path (segq__artifact_store_t *self, const char *hash, char *out, size_t outlen, bool dir_only)
{
    if (dir_only)
        snprintf (out, outlen, "%s/%.2s", self->root, hash);
    else
        snprintf (out, outlen, "%s/%.2s/%s", self->root, hash, hash);
}

void
segq__artifact_store_path (segq__artifact_store_t *self, const char *hash, char *out, size_t outlen)
{
    s_path (self, hash, out, outlen, false);
}

bool
segq__artifact_store_has (segq__artifact_store_t *self, const char *hash, uint64_t *size)
{
    if (!segq_hash_valid (hash))
        return false;
    char path [4096];
    s_path (self, hash, path, sizeof path, false);
    struct stat st;
    if (stat (path, &st) != 0 || !S_ISREG (st.st_mode))
        return false;
    if (size)
        *size = (uint64_t) st.st_size;
    return true;
}

int
segq__artifact_store_free (segq__artifact_store_t *self, uint64_t *bytes)
{
    struct statvfs st;
    if (statvfs (self->tmp, &st) != 0)
        return SEGQ_EIO;
    *bytes = (uint64_t) st.f_bavail * st.f_frsize;
    return 0;
}

segq__upload_t *
segq__artifact_store_upload (segq__artifact_store_t *self, const char *hash, uint64_t size,
                             char *err, size_t errlen)
{
    if (hash && hash [0] && !segq_hash_valid (hash)) {
        snprintf (err, errlen, "'%s' is not a sha256 (64 lowercase hex digits)", hash);
        return NULL;
    }
    if (!hash || !hash [0])
        hash = "";
    segq__upload_t *upload = calloc (1, sizeof *upload);
    if (!upload
        || !(upload->tmp_path = s_format ("%s/%.16s-%llu", self->tmp, hash [0] ? hash : "put",
                                          (unsigned long long) ++self->uploads))) {
        free (upload);
        snprintf (err, errlen, "out of memory starting an upload");
        return NULL;
    }
    upload->store = self;
    snprintf (upload->hash, sizeof upload->hash, "%s", hash);
    upload->size = size;
    upload->fd = open (upload->tmp_path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
    if (upload->fd < 0) {
        snprintf (err, errlen, "cannot create %s: %s", upload->tmp_path, strerror (errno));
        free (upload->tmp_path);
        free (upload);
        return NULL;
    }
    segq_file_sink_init (&upload->sink, upload->fd, size);
    return upload;
}

/* A failed write of the upload's data (-errno from the sink). */
static int
s_write_error (segq__upload_t *self, int neg_errno, char *err, size_t errlen)
{
    int code = s_errno_code (-neg_errno);
    snprintf (err, errlen, "cannot write artifact %.16s: %s",
              self->hash [0] ? self->hash : "upload",
              code == SEGQ_ENOSPC ? "no space left on the broker's disk" : strerror (-neg_errno));
    return code;
}

int
segq__upload_write (segq__upload_t *self, uint64_t offset, const void *data, size_t size, char *err,
                    size_t errlen)
{
    uint64_t received = self->sink.written;
    if (offset != received) {
        snprintf (err, errlen, "chunk at offset %llu, expected %llu", (unsigned long long) offset,
                  (unsigned long long) received);
        return SEGQ_EINVAL;
    }
    if (size > self->size - received) {
        snprintf (err, errlen, "data beyond the announced size of %llu bytes",
                  (unsigned long long) self->size);
        return SEGQ_EINVAL;
    }
    int rc = size ? segq_file_sink_append (&self->sink, data, size) : 0;
    return rc ? s_write_error (self, rc, err, errlen) : 0;
}

/* The upload's sha256 settled before its data is checked: every byte
 * arrived, and a hash was named, by PUT or the final CHUNK, the same if
 * both. */
static int
s_settle_hash (segq__upload_t *self, const char *end_hash, char *err, size_t errlen)
{
    if (self->sink.written != self->size) {
        snprintf (err, errlen, "upload ended after %llu of %llu bytes",
                  (unsigned long long) self->sink.written, (unsigned long long) self->size);
        return SEGQ_EINVAL;
    }
    if (end_hash && end_hash [0]) {
        if (!segq_hash_valid (end_hash)) {
            snprintf (err, errlen, "'%.70s' is not a sha256 (64 lowercase hex digits)", end_hash);
            return SEGQ_EINVAL;
        }
        if (self->hash [0] && strcmp (self->hash, end_hash) != 0) {
            snprintf (err, errlen, "the upload was announced as %s but ended as %s: not stored",
                      self->hash, end_hash);
            return SEGQ_EHASH;
        }
        memcpy (self->hash, end_hash, sizeof self->hash);
    }
    if (!self->hash [0]) {
        snprintf (err, errlen,
                  "no sha256 named (neither PUT nor the final CHUNK carries 'hash'): "
                  "not stored");
        return SEGQ_EINVAL;
    }
    return 0;
}

/* Moves the upload's file into place unless a copy got there first (it is
   then dropped with the upload), and counts what it added. */
static int
s_place_file (segq__upload_t *self, const char *path, char *err, size_t errlen)
{
    segq__artifact_store_t *store = self->store;
    int rc = 0;
    pthread_mutex_lock (&store->lock);
    if (!segq__artifact_store_has (store, self->hash, NULL)) {
        if (rename (self->tmp_path, path) == 0) {
            free (self->tmp_path);
            self->tmp_path = NULL;
            store->files++;
            store->bytes += self->size;
        } else {
            rc = s_errno_code (errno);
            snprintf (err, errlen, "cannot move artifact into %s: %s", path, strerror (errno));
        }
    }
    pthread_mutex_unlock (&store->lock);
    return rc;
}

/* Syncs the folder of artifact `hash`: a rename into it reaches the disk. */
static int
s_sync_folder (segq__artifact_store_t *store, const char *hash, char *err, size_t errlen)
{
    char dir [4096];
    s_path (store, hash, dir, sizeof dir, true);
    if (segq_fsync_path (dir) == 0)
        return 0;
    snprintf (err, errlen, "cannot sync folder %s", dir);
    return SEGQ_EIO;
}

/* The verified temporary file becomes the artifact, durably: synced,
 * renamed into its place, the rename synced too. */
static int
s_commit_file (segq__upload_t *self, char *err, size_t errlen)
{
    if (fsync (self->fd) != 0) {
        int code = s_errno_code (errno);
        snprintf (err, errlen, "cannot sync artifact %s: %s", self->hash, strerror (errno));
        return code;
    }
    close (self->fd);
    self->fd = -1;
    char dir [4096], path [4096];
    s_path (self->store, self->hash, dir, sizeof dir, true);
    s_path (self->store, self->hash, path, sizeof path, false);
    int rc = s_mkdir (dir, err, errlen);
    if (rc == 0)
        rc = s_place_file (self, path, err, errlen);
    /* the rename must reach the disk before PUT_DONE says stored: this
       one's, or that of a concurrent upload of the same content */
    return rc ? rc : s_sync_folder (self->store, self->hash, err, errlen);
}

int
segq__upload_finish (segq__upload_t *self, const char *end_hash,
                     char stored_hash [SEGQ_HASH_HEX_LEN + 1], char *err, size_t errlen)
{
    int rc = s_settle_hash (self, end_hash, err, errlen);
    if (rc)
        return rc;
    char actual [SEGQ_HASH_HEX_LEN + 1];
    int wrc = segq_file_sink_finish (&self->sink, actual);
    if (wrc)
        return s_write_error (self, wrc, err, errlen);
    if (strcmp (actual, self->hash) != 0) {
        snprintf (err, errlen, "sha256 of the data is %s, not %s: not stored", actual, self->hash);
        return SEGQ_EHASH;
    }
    if (stored_hash)
        memcpy (stored_hash, actual, sizeof actual);
    uint64_t have_size;
    if (segq__artifact_store_has (self->store, actual, &have_size) && have_size == self->size) {
        /* stored already (the copy goes with destroy), perhaps just now by
           a concurrent upload whose rename is not on disk yet; unless it
           was removed meanwhile (retention, on the store's thread), when
           this copy takes its place */
        rc = s_sync_folder (self->store, actual, err, errlen);
        if (rc || segq__artifact_store_has (self->store, actual, NULL))
            return rc;
    }
    return s_commit_file (self, err, errlen);
}

uint64_t
segq__upload_received (segq__upload_t *self)
{
    return self->sink.written;
}

void
segq__upload_destroy (segq__upload_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    segq__upload_t *self = *self_p;
    segq_file_sink_release (&self->sink);
    if (self->fd >= 0)
        close (self->fd);
    if (self->tmp_path) {
        unlink (self->tmp_path);
        free (self->tmp_path);
    }
    free (self);
    *self_p = NULL;
}

segq__download_t *
segq__artifact_store_download (segq__artifact_store_t *self, const char *hash, char *err,
                               size_t errlen)
{
    if (!segq_hash_valid (hash)) {
        snprintf (err, errlen, "'%s' is not a sha256 (64 lowercase hex digits)", hash);
        return NULL;
    }
    char path [4096];
    s_path (self, hash, path, sizeof path, false);
    int fd = open (path, O_RDONLY | O_CLOEXEC);
    struct stat st;
    if (fd < 0 || fstat (fd, &st) != 0) {
        snprintf (err, errlen, "artifact %s is not stored on the broker", hash);
        if (fd >= 0)
            close (fd);
        return NULL;
    }
    segq__download_t *download = calloc (1, sizeof *download);
    if (!download) {
        close (fd);
        snprintf (err, errlen, "out of memory opening artifact %s", hash);
        return NULL;
    }
    download->fd = fd;
    download->size = (uint64_t) st.st_size;
    return download;
}

uint64_t
segq__download_size (segq__download_t *self)
{
    return self->size;
}

int64_t
segq__download_read (segq__download_t *self, uint64_t offset, void *buffer, size_t size)
{
    size_t done = 0;
    while (done < size) {
        ssize_t n = pread (self->fd, (char *) buffer + done, size - done, (off_t) (offset + done));
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0)
            return SEGQ_EIO;
        if (n == 0)
            break;
        done += (size_t) n;
    }
    return (int64_t) done;
}

int64_t
segq__download_read_cached (segq__download_t *self, uint64_t offset, void *buffer, size_t size,
                            bool *would_wait)
{
    struct iovec iov = { buffer, size };
    ssize_t n;
    do
        n = preadv2 (self->fd, &iov, 1, (off_t) offset, RWF_NOWAIT);
    while (n < 0 && errno == EINTR);
    /* EAGAIN: not in memory; EOPNOTSUPP: a file system that cannot tell */
    *would_wait = n < 0 ? errno == EAGAIN || errno == EOPNOTSUPP : (size_t) n < size && n > 0;
    if (*would_wait)
        return 0;
    return n < 0 ? SEGQ_EIO : (int64_t) n;
}

int
segq__download_take_fd (segq__download_t **self_p)
{
    int fd = (*self_p)->fd;
    free (*self_p);
    *self_p = NULL;
    return fd;
}

void
segq__download_destroy (segq__download_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    close ((*self_p)->fd);
    free (*self_p);
    *self_p = NULL;
}

int
segq__artifact_store_remove (segq__artifact_store_t *self, const char *hash, uint64_t *size)
{
    char path [4200];
    s_path (self, hash, path, sizeof path, false);
    struct stat st;
    *size = 0;
    pthread_mutex_lock (&self->lock);
    int rc = 0;
    if (stat (path, &st) == 0 && unlink (path) == 0) {
        *size = (uint64_t) st.st_size;
        self->files -= self->files > 0;
        self->bytes -= self->bytes > *size ? *size : self->bytes;
    } else if (errno != ENOENT)
        rc = SEGQ_EIO;
    pthread_mutex_unlock (&self->lock);
    return rc;
}

/* Files and bytes under one two-hex-digit folder. */
static void
s_count_folder (segq__artifact_store_t *self, const char *name)
{
    char path [4200];
    snprintf (path, sizeof path, "%s/%s", self->root, name);
    DIR *dir = opendir (path);
    struct dirent *entry;
    struct stat st;
    while (dir && (entry = readdir (dir)))
        if (segq_hash_valid (entry->d_name) && fstatat (dirfd (dir), entry->d_name, &st, 0) == 0
            && S_ISREG (st.st_mode)) {
            self->files++;
            self->bytes += (uint64_t) st.st_size;
        }
    if (dir)
        closedir (dir);
}

void
segq__artifact_store_totals (segq__artifact_store_t *self, uint64_t *files, uint64_t *bytes)
{
    pthread_mutex_lock (&self->lock);
    if (!self->counted) {
        /* what uploads and removals counted before this walk is in it */
        self->files = self->bytes = 0;
        DIR *dir = opendir (self->root);
        struct dirent *entry;
        while (dir && (entry = readdir (dir)))
            if (strlen (entry->d_name) == 2 && isxdigit ((unsigned char) entry->d_name [0])
                && isxdigit ((unsigned char) entry->d_name [1]))
                s_count_folder (self, entry->d_name);
        if (dir)
            closedir (dir);
        self->counted = true;
    }
    *files = self->files;
    *bytes = self->bytes;
    pthread_mutex_unlock (&self->lock);
}
