/*  cache.c: the worker's artifact cache and the files of a job.

    The cache holds inputs by content: DIR/aa/<sha256>. A download is
    written to DIR/tmp/ and renamed into place only after its size and
    sha256 match, so a file under its hash is always the right content.
    A job sees its inputs as hard links to the cached files, under the
    names the job gave them. Where a link cannot be made (the job directory
    on another filesystem, or the file at its filesystem's most links) the
    name gets a copy and the names after it link to that copy: a job naming
    one content 100,000 times costs one copy per 65,000 links on ext4, not
    one per name, and a layout makes at most SEGQ__LAYOUT_MAX_COPIES. Names
    come from the wire, so they are checked before any path is built from
    them.
*/
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include "segq_file_sink.h"
#include "segq_fs.h"
#include "worker_internal.h"

int
segq__name_check (const char *name, char *err, size_t errlen)
{
    if (segq_name_valid (name))
        return 0;
    snprintf (err, errlen,
              "artifact name '%.200s' is not a safe relative path (1..%d bytes, "
              "no leading '/', no '..', '.' or empty components, no backslash or control "
              "characters)",
              name ? name : "", SEGQ_MAX_NAME);
    return SEGQ_EINVAL;
}

static int
s_remove_entry (const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
    if (flag == FTW_DP)
        rmdir (path);
    else
        unlink (path);
    return 0;
}

/* A job may leave directories it cannot be removed from (chmod 0500):
   open them up first. */
static int
s_open_dir (const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
    if (flag == FTW_D || flag == FTW_DNR)
        chmod (path, 0700);
    return 0;
}

int
segq__remove_tree (const char *path)
{
    struct stat st;
    if (lstat (path, &st) != 0)
        return errno == ENOENT ? 0 : SEGQ_EIO;
    if (!S_ISDIR (st.st_mode))
        return unlink (path) == 0 ? 0 : SEGQ_EIO;
    if (nftw (path, s_remove_entry, 16, FTW_DEPTH | FTW_PHYS) == 0 && access (path, F_OK) != 0)
        return 0;
    nftw (path, s_open_dir, 16, FTW_PHYS);
    nftw (path, s_remove_entry, 16, FTW_DEPTH | FTW_PHYS);
    return access (path, F_OK) == 0 ? SEGQ_EIO : 0;
}

struct segq__cache {
    char *dir;
    uint64_t tmp_counter;
    uint64_t max_bytes;                             /* 0 = no limit */
    uint64_t total;                                 /* bytes cached (kept only with a limit) */
    int (*link) (const char *from, const char *to); /* link(2), or a test's stand-in */
};

typedef struct {
    char hash [SEGQ_HASH_HEX_LEN + 1];
    struct timespec used; /* mtime: set on every use */
    uint64_t size;
} s_entry_t;

static int
s_entry_older (const void *a, const void *b)
{
    const s_entry_t *x = a, *y = b;
    if (x->used.tv_sec != y->used.tv_sec)
        return x->used.tv_sec < y->used.tv_sec ? -1 : 1;
    return x->used.tv_nsec < y->used.tv_nsec ? -1 : x->used.tv_nsec > y->used.tv_nsec;
}

/* Every cached file (DIR/aa/<hash>); total bytes in *total. */
static s_entry_t *
s_scan (segq__cache_t *self, size_t *n_out, uint64_t *total)
{
    s_entry_t *entries = NULL;
    size_t n = 0, cap = 0;
    *total = 0;
    DIR *top = opendir (self->dir);
    for (struct dirent *d; top && (d = readdir (top));) {
        if (strlen (d->d_name) != 2 || strcmp (d->d_name, "..") == 0)
            continue;
        char sub [4096];
        snprintf (sub, sizeof sub, "%s/%s", self->dir, d->d_name);
        DIR *dir = opendir (sub);
        for (struct dirent *f; dir && (f = readdir (dir));) {
            char path [8192];
            struct stat st;
            snprintf (path, sizeof path, "%s/%s", sub, f->d_name);
            if (!segq_hash_valid (f->d_name) || lstat (path, &st) != 0 || !S_ISREG (st.st_mode))
                continue;
            if (n == cap) {
                cap = cap ? cap * 2 : 256;
                s_entry_t *grown = realloc (entries, cap * sizeof *grown);
                if (!grown)
                    break;
                entries = grown;
            }
            memcpy (entries [n].hash, f->d_name, sizeof entries [n].hash);
            entries [n].used = st.st_mtim;
            entries [n].size = (uint64_t) st.st_size;
            *total += entries [n].size;
            n++;
        }
        if (dir)
            closedir (dir);
    }
    if (top)
        closedir (top);
    *n_out = n;
    return entries;
}

/* Over the limit: remove the least recently used files but `keep`. Jobs
   hold their inputs through hard links, so a running job never loses one. */
static void
s_trim (segq__cache_t *self, const char *keep)
{
    if (!self->max_bytes || self->total <= self->max_bytes)
        return;
    size_t n;
    s_entry_t *entries = s_scan (self, &n, &self->total);
    qsort (entries, n, sizeof *entries, s_entry_older);
    for (size_t i = 0; i < n && self->total > self->max_bytes; i++) {
        char path [4096];
        if (keep && strcmp (entries [i].hash, keep) == 0)
            continue;
        segq__cache_path (self, entries [i].hash, path, sizeof path);
        if (unlink (path) == 0)
            self->total -= entries [i].size;
    }
    free (entries);
}

segq__cache_t *
segq__cache_new (const char *dir, uint64_t max_bytes, char *err, size_t errlen)
{
    char tmp [4096];
    snprintf (tmp, sizeof tmp, "%s/tmp", dir);
    if (segq_mkdirs (tmp, err, errlen))
        return NULL;
    /* Partial downloads of an earlier run are worthless. */
    segq__remove_tree (tmp);
    if (segq_mkdirs (tmp, err, errlen))
        return NULL;
    segq__cache_t *self = calloc (1, sizeof *self);
    if (!self || !(self->dir = strdup (dir))) {
        free (self);
        snprintf (err, errlen, "out of memory");
        return NULL;
    }
    self->max_bytes = max_bytes;
    self->link = link;
    if (max_bytes) {
        size_t n;
        free (s_scan (self, &n, &self->total));
        s_trim (self, NULL);
    }
    return self;
}

void
segq__cache_destroy (segq__cache_t **self_p)
{
    if (*self_p) {
        free ((*self_p)->dir);
        free (*self_p);
        *self_p = NULL;
    }
}

void
segq__cache_path (segq__cache_t *self, const char *hash, char *buf, size_t buflen)
{
    snprintf (buf, buflen, "%s/%.2s/%s", self->dir, hash, hash);
}

bool
segq__cache_has (segq__cache_t *self, const char *hash, uint64_t size)
{
    char path [4096];
    struct stat st;
    segq__cache_path (self, hash, path, sizeof path);
    if (stat (path, &st) != 0 || !S_ISREG (st.st_mode) || (uint64_t) st.st_size != size)
        return false;
    utimensat (AT_FDCWD, path, NULL, 0); /* used now: last in line for eviction */
    return true;
}

struct segq__cache_write {
    segq__cache_t *cache;
    char hash [SEGQ_HASH_HEX_LEN + 1];
    uint64_t size;
    int fd;
    char tmp_path [4096];
    segq_file_sink_t sink; /* hashes what it writes */
};

segq__cache_write_t *
segq__cache_write_begin (segq__cache_t *self, const char *hash, uint64_t size, char *err,
                         size_t errlen)
{
    if (!segq_hash_valid (hash)) {
        snprintf (err, errlen, "'%.80s' is not a sha256 hash", hash);
        return NULL;
    }
    segq__cache_write_t *w = calloc (1, sizeof *w);
    if (!w) {
        snprintf (err, errlen, "out of memory");
        return NULL;
    }
    w->cache = self;
    memcpy (w->hash, hash, sizeof w->hash);
    w->size = size;
    snprintf (w->tmp_path, sizeof w->tmp_path, "%s/tmp/%s.%d.%llu", self->dir, hash,
              (int) getpid (), (unsigned long long) ++self->tmp_counter);
    w->fd = open (w->tmp_path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
    if (w->fd < 0) {
        snprintf (err, errlen, "cannot create %s: %s", w->tmp_path, strerror (errno));
        free (w);
        return NULL;
    }
    segq_file_sink_init (&w->sink, w->fd, size);
    return w;
}

/* A failed write of an input's data (-errno from the sink). */
static int
s_write_error (segq__cache_write_t *self, int neg_errno, char *err, size_t errlen)
{
    snprintf (err, errlen, "cannot write %s: %s", self->tmp_path, strerror (-neg_errno));
    return neg_errno == -ENOSPC ? SEGQ_ENOSPC : SEGQ_EIO;
}

int
segq__cache_write_data (segq__cache_write_t *self, uint64_t offset, const void *data, size_t size,
                        char *err, size_t errlen)
{
    uint64_t received = self->sink.written;
    if (offset != received || size > self->size - received) {
        snprintf (err, errlen,
                  "chunk at offset %llu (%zu bytes) does not follow %llu of %llu bytes",
                  (unsigned long long) offset, size, (unsigned long long) received,
                  (unsigned long long) self->size);
        return SEGQ_EPROTO;
    }
    int rc = size ? segq_file_sink_append (&self->sink, data, size) : 0;
    return rc ? s_write_error (self, rc, err, errlen) : 0;
}

void
segq__cache_write_abort (segq__cache_write_t **self_p)
{
    segq__cache_write_t *self = *self_p;
    if (self) {
        segq_file_sink_release (&self->sink);
        close (self->fd);
        unlink (self->tmp_path);
        free (self);
        *self_p = NULL;
    }
}

int
segq__cache_write_commit (segq__cache_write_t **self_p, char *err, size_t errlen)
{
    segq__cache_write_t *self = *self_p;
    char hash [SEGQ_HASH_HEX_LEN + 1];
    int rc = segq_file_sink_finish (&self->sink, hash);
    if (rc)
        rc = s_write_error (self, rc, err, errlen);
    else if (self->sink.written != self->size) {
        snprintf (err, errlen, "artifact %.12s: got %llu of %llu bytes", self->hash,
                  (unsigned long long) self->sink.written, (unsigned long long) self->size);
        rc = SEGQ_EPROTO;
    } else if (strcmp (hash, self->hash) != 0) {
        snprintf (err, errlen, "artifact %.12s: received data has sha256 %.12s", self->hash, hash);
        rc = SEGQ_EHASH;
    } else
        /* fsync before rename: after a power loss a name in the cache must
           never stand for a short file. Inputs are rare next to jobs. */
        if (fsync (self->fd) != 0) {
            snprintf (err, errlen, "cannot sync %s: %s", self->tmp_path, strerror (errno));
            rc = SEGQ_EIO;
        }
    if (!rc) {
        char path [4096], dir [4096];
        segq__cache_path (self->cache, self->hash, path, sizeof path);
        snprintf (dir, sizeof dir, "%s/%.2s", self->cache->dir, self->hash);
        fchmod (self->fd, 0400); /* jobs see these through hard links: keep them read-only */
        if (!(rc = segq_mkdirs (dir, err, errlen)) && rename (self->tmp_path, path) != 0) {
            snprintf (err, errlen, "cannot rename %s to %s: %s", self->tmp_path, path,
                      strerror (errno));
            rc = SEGQ_EIO;
        }
    }
    if (rc)
        segq__cache_write_abort (self_p);
    else {
        segq__cache_t *cache = self->cache;
        char hash_kept [SEGQ_HASH_HEX_LEN + 1];
        memcpy (hash_kept, self->hash, sizeof hash_kept);
        cache->total += self->size;
        close (self->fd);
        free (self);
        *self_p = NULL;
        s_trim (cache, hash_kept);
    }
    return rc;
}

static int
s_copy_file (const char *src, const char *dst, char *err, size_t errlen)
{
    int in = open (src, O_RDONLY | O_CLOEXEC);
    if (in < 0) {
        snprintf (err, errlen, "cannot open %s: %s", src, strerror (errno));
        return SEGQ_EIO;
    }
    int out = open (dst, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0400);
    if (out < 0) {
        snprintf (err, errlen, "cannot create %s: %s", dst, strerror (errno));
        close (in);
        return errno == EEXIST ? SEGQ_EEXIST : SEGQ_EIO;
    }
    int rc = 0;
    char buf [65536];
    for (;;) {
        ssize_t n = read (in, buf, sizeof buf);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0) {
            if (n < 0) {
                snprintf (err, errlen, "cannot read %s: %s", src, strerror (errno));
                rc = SEGQ_EIO;
            }
            break;
        }
        int wrc = segq_write_all (out, buf, (size_t) n);
        if (wrc) {
            snprintf (err, errlen, "cannot write %s: %s", dst, strerror (-wrc));
            rc = wrc == -ENOSPC ? SEGQ_ENOSPC : SEGQ_EIO;
            break;
        }
    }
    close (in);
    close (out);
    if (rc)
        unlink (dst);
    return rc;
}

void
segq__cache_layout_begin (segq__cache_t *self, const char *hash, segq__layout_t *layout)
{
    segq__cache_path (self, hash, layout->src, sizeof layout->src);
    layout->copies = 0;
}

void
segq__cache_layout_resume (segq__layout_t *layout, const char *dir, const char *name)
{
    snprintf (layout->src, sizeof layout->src, "%s/%s", dir, name);
    layout->copies = 1;
}

/* The directory dst goes in, made if missing. */
static int
s_parent_make (char *dst, char *err, size_t errlen)
{
    char *slash = strrchr (dst, '/');
    *slash = 0;
    int rc = segq_mkdirs (dst, err, errlen);
    *slash = '/';
    return rc;
}

/* The link to layout->src could not be made (errno): dst becomes a copy,
   the file the next names link to, unless the layout made its most
   copies already. */
static int
s_layout_copy (segq__layout_t *layout, char *dst, const char *name, char *err, size_t errlen)
{
    int error = errno;
    if (layout->copies == SEGQ__LAYOUT_MAX_COPIES) {
        snprintf (err, errlen,
                  "cannot lay out input '%.200s': its content is named more often than the %d "
                  "copies the worker makes of one file where a hard link fails (%s): give the "
                  "job each file once, or put the worker's --work-dir and --cache-dir on one "
                  "filesystem that takes hard links",
                  name, SEGQ__LAYOUT_MAX_COPIES, strerror (error));
        return SEGQ_ETOOBIG;
    }
    int rc = s_parent_make (dst, err, errlen);
    if (!rc)
        rc = s_copy_file (layout->src, dst, err, errlen);
    if (rc)
        return rc;
    layout->copies++;
    snprintf (layout->src, sizeof layout->src, "%s", dst);
    return 0;
}

int
segq__cache_layout (segq__cache_t *self, segq__layout_t *layout, const char *dir, const char *name,
                    char *err, size_t errlen)
{
    int rc = segq__name_check (name, err, errlen);
    if (rc)
        return rc;
    char dst [8192];
    snprintf (dst, sizeof dst, "%s/%s", dir, name);
    /* Most names go into a directory a name before made: it is made only
       when the link finds it missing (a job's many inputs, each path's
       mkdirs, were most of its layout's system calls). */
    int linked = self->link (layout->src, dst);
    if (linked != 0 && errno == ENOENT) {
        if ((rc = s_parent_make (dst, err, errlen)))
            return rc;
        linked = self->link (layout->src, dst);
    }
    if (linked == 0) {
        /* the names after it link to this one, the same file, which the
           cache cannot take away from the job */
        snprintf (layout->src, sizeof layout->src, "%s", dst);
        return 0;
    }
    if (errno == EEXIST) {
        snprintf (err, errlen, "two inputs are named '%.200s'", name);
        return SEGQ_EEXIST;
    }
    /* EMLINK: the file has all the links its filesystem takes (65,000 on
       ext4); EXDEV, EPERM: the job's directory is on another filesystem
       than the cache, or on one without hard links. */
    if (errno == EXDEV || errno == EPERM || errno == EMLINK)
        return s_layout_copy (layout, dst, name, err, errlen);
    snprintf (err, errlen, "cannot link %s to %s: %s", layout->src, dst, strerror (errno));
    return SEGQ_EIO;
}

void
segq__cache_set_link (segq__cache_t *self, int (*link_fn) (const char *from, const char *to))
{
    self->link = link_fn ? link_fn : link;
}

void
segq__artifacts_free (segq_artifact_t **artifacts, size_t n)
{
    if (*artifacts) {
        for (size_t i = 0; i < n; i++)
            segq_artifact_clear (&(*artifacts) [i]);
        free (*artifacts);
        *artifacts = NULL;
    }
}

typedef struct {
    segq_artifact_t *items;
    size_t count, capacity;
    void (*skipped) (void *arg, const char *name, const char *why);
    void *arg;
    char *err;
    size_t errlen;
} s_collect_t;

/* Walk `rel` (relative to root, "" for root itself) in name order, so a
   job's outputs always come out in the same order. */
static int
s_collect (s_collect_t *c, const char *root, const char *rel)
{
    char path [8192];
    snprintf (path, sizeof path, "%s%s%s", root, *rel ? "/" : "", rel);
    struct dirent **entries = NULL;
    int n = scandir (path, &entries, NULL, alphasort);
    if (n < 0) {
        snprintf (c->err, c->errlen, "cannot list %s: %s", path, strerror (errno));
        return SEGQ_EIO;
    }
    int rc = 0;
    for (int i = 0; i < n; i++) {
        const char *leaf = entries [i]->d_name;
        if (rc || strcmp (leaf, ".") == 0 || strcmp (leaf, "..") == 0)
            continue;
        char name [8192], full [8192];
        struct stat st;
        if (snprintf (name, sizeof name, "%s%s%s", rel, *rel ? "/" : "", leaf) >= (int) sizeof name
            || snprintf (full, sizeof full, "%s/%s", root, name) >= (int) sizeof full) {
            snprintf (c->err, c->errlen, "output path too long under %.200s", root);
            rc = SEGQ_EINVAL;
        } else if (lstat (full, &st) != 0) {
            snprintf (c->err, c->errlen, "cannot stat %s: %s", full, strerror (errno));
            rc = SEGQ_EIO;
        } else if (S_ISDIR (st.st_mode))
            rc = s_collect (c, root, name);
        else if (!S_ISREG (st.st_mode)) {
            if (c->skipped)
                c->skipped (c->arg, name,
                            S_ISLNK (st.st_mode) ? "a symbolic link" : "not a regular file");
        } else if ((rc = segq__name_check (name, c->err, c->errlen)) == 0) {
            if (c->count == c->capacity) {
                size_t cap = c->capacity ? c->capacity * 2 : 8;
                segq_artifact_t *items = realloc (c->items, cap * sizeof *items);
                if (!items) {
                    snprintf (c->err, c->errlen, "out of memory");
                    rc = SEGQ_ENOMEM;
                    continue;
                }
                c->items = items;
                c->capacity = cap;
            }
            segq_artifact_t *a = &c->items [c->count];
            memset (a, 0, sizeof *a);
            a->size = (uint64_t) st.st_size;
            if (!(a->name = strdup (name))) {
                snprintf (c->err, c->errlen, "out of memory");
                rc = SEGQ_ENOMEM;
            } else
                c->count++;
        }
    }
    for (int i = 0; i < n; i++)
        free (entries [i]);
    free (entries);
    return rc;
}

int
segq__collect_outputs (const char *dir, segq_artifact_t **out, size_t *n_out,
                       void (*skipped) (void *arg, const char *name, const char *why), void *arg,
                       char *err, size_t errlen)
{
    s_collect_t c = { .skipped = skipped, .arg = arg, .err = err, .errlen = errlen };
    struct stat st;
    int rc = 0;
    if (stat (dir, &st) == 0) /* no out/ at all: no outputs */
        rc = s_collect (&c, dir, "");
    if (rc) {
        segq__artifacts_free (&c.items, c.count);
        return rc;
    }
    *out = c.items;
    *n_out = c.count;
    return 0;
}
