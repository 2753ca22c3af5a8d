/*  hash_cache.c: see hash_cache.h. */
#include "hash_cache.h"
#include "segq_fs.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

typedef struct {
    uint64_t dev, ino, size;
    int64_t mtime_s, mtime_ns, ctime_s, ctime_ns;
    char hash [SEGQ_HASH_HEX_LEN + 1];
} s_entry_t;

struct segq__hash_cache_t {
    char *path;
    s_entry_t *entries; /* oldest first: a lookup scans from the end */
    size_t n, cap;
};

int
segq__hash_cache_default_path (char *out, size_t outlen)
{
    const char *env = getenv ("SEGQ_HASH_CACHE");
    const char *xdg = getenv ("XDG_CACHE_HOME");
    const char *home = getenv ("HOME");
    int n;
    if (env && *env)
        n = snprintf (out, outlen, "%s", strcmp (env, "off") == 0 ? "" : env);
    else if (xdg && *xdg)
        n = snprintf (out, outlen, "%s/segq/hashes", xdg);
    else if (home && *home)
        n = snprintf (out, outlen, "%s/.cache/segq/hashes", home);
    else
        n = snprintf (out, outlen, "%s", "");
    return n < 0 || (size_t) n >= outlen ? -1 : 0;
}

static s_entry_t
s_key (const struct stat *st)
{
    s_entry_t e = {
        .dev = (uint64_t) st->st_dev,
        .ino = (uint64_t) st->st_ino,
        .size = (uint64_t) st->st_size,
        .mtime_s = st->st_mtim.tv_sec,
        .mtime_ns = st->st_mtim.tv_nsec,
        .ctime_s = st->st_ctim.tv_sec,
        .ctime_ns = st->st_ctim.tv_nsec,
    };
    return e;
}

static bool
s_same_file (const s_entry_t *a, const s_entry_t *b)
{
    return a->dev == b->dev && a->ino == b->ino && a->size == b->size && a->mtime_s == b->mtime_s
           && a->mtime_ns == b->mtime_ns && a->ctime_s == b->ctime_s && a->ctime_ns == b->ctime_ns;
}

static int
s_format (const s_entry_t *e, char *line, size_t len)
{
    return snprintf (
        line, len,
        "%" PRIu64 " %" PRIu64 " %" PRIu64 " %" PRId64 " %" PRId64 " %" PRId64 " %" PRId64 " %s\n",
        e->dev, e->ino, e->size, e->mtime_s, e->mtime_ns, e->ctime_s, e->ctime_ns, e->hash);
}

static bool
s_parse (const char *line, s_entry_t *e)
{
    char hash [SEGQ_HASH_HEX_LEN + 2];
    int end = 0;
    if (sscanf (line,
                "%" SCNu64 " %" SCNu64 " %" SCNu64 " %" SCNd64 " %" SCNd64 " %" SCNd64 " %" SCNd64
                " %65s%n",
                &e->dev, &e->ino, &e->size, &e->mtime_s, &e->mtime_ns, &e->ctime_s, &e->ctime_ns,
                hash, &end)
            != 8
        || (line [end] && line [end] != '\n') || !segq_hash_valid (hash))
        return false;
    memcpy (e->hash, hash, sizeof e->hash);
    return true;
}

static int
s_append (segq__hash_cache_t *self, const s_entry_t *e)
{
    if (self->n == self->cap) {
        size_t cap = self->cap ? 2 * self->cap : 64;
        s_entry_t *grown = realloc (self->entries, cap * sizeof *grown);
        if (!grown)
            return -1;
        self->entries = grown;
        self->cap = cap;
    }
    self->entries [self->n++] = *e;
    return 0;
}

/* mkdir -p of path's folder. */
static int
s_make_parent (const char *path)
{
    char dir [4096], err [256];
    int n = snprintf (dir, sizeof dir, "%s", path);
    char *slash = n > 0 && (size_t) n < sizeof dir ? strrchr (dir, '/') : NULL;
    if (!slash)
        return n > 0 && (size_t) n < sizeof dir ? 0 : -1;
    *slash = 0;
    return *dir ? segq_mkdirs (dir, err, sizeof err) : 0;
}

/* Rewrites the file with the newest half of the entries (temporary file,
   then rename): it is read whole by every segq command. */
static void
s_compact (segq__hash_cache_t *self)
{
    size_t keep = SEGQ__HASH_CACHE_MAX_LINES / 2;
    size_t first = self->n > keep ? self->n - keep : 0;
    memmove (self->entries, self->entries + first, (self->n - first) * sizeof *self->entries);
    self->n -= first;
    char tmp [4200];
    int n = snprintf (tmp, sizeof tmp, "%s.%ld.tmp", self->path, (long) getpid ());
    if (n < 0 || (size_t) n >= sizeof tmp)
        return;
    FILE *f = NULL;
    int fd = open (tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    if (fd >= 0 && !(f = fdopen (fd, "w")))
        close (fd);
    if (!f)
        return;
    bool ok = true;
    for (size_t i = 0; ok && i < self->n; i++) {
        char line [256];
        ok = s_format (&self->entries [i], line, sizeof line) > 0 && fputs (line, f) >= 0;
    }
    if (fclose (f) != 0 || !ok || rename (tmp, self->path) != 0)
        unlink (tmp);
}

segq__hash_cache_t *
segq__hash_cache_open (const char *path)
{
    if (!path || !*path)
        return NULL;
    segq__hash_cache_t *self = calloc (1, sizeof *self);
    if (!self || !(self->path = strdup (path))) {
        free (self);
        return NULL;
    }
    FILE *f = fopen (path, "re");
    if (f) {
        char line [512];
        size_t lines = 0;
        while (fgets (line, sizeof line, f)) {
            s_entry_t e;
            lines++;
            if (s_parse (line, &e) && s_append (self, &e) != 0)
                break;
        }
        fclose (f);
        if (lines > SEGQ__HASH_CACHE_MAX_LINES)
            s_compact (self);
    }
    return self;
}

void
segq__hash_cache_destroy (segq__hash_cache_t **self_p)
{
    segq__hash_cache_t *self = *self_p;
    if (!self)
        return;
    free (self->entries);
    free (self->path);
    free (self);
    *self_p = NULL;
}

bool
segq__hash_cache_lookup (const segq__hash_cache_t *self, const struct stat *st,
                         char hash [SEGQ_HASH_HEX_LEN + 1])
{
    if (!self)
        return false;
    s_entry_t key = s_key (st);
    for (size_t i = self->n; i-- > 0;)
        if (s_same_file (&self->entries [i], &key)) {
            memcpy (hash, self->entries [i].hash, SEGQ_HASH_HEX_LEN + 1);
            return true;
        }
    return false;
}

/* At least a second before now. */
static bool
s_settled (const struct timespec *t, const struct timespec *now)
{
    return (double) (now->tv_sec - t->tv_sec) + (now->tv_nsec - t->tv_nsec) * 1e-9 >= 1.0;
}

void
segq__hash_cache_remember (segq__hash_cache_t *self, const struct stat *st, const char *hash)
{
    struct timespec now;
    if (!self || !segq_hash_valid (hash) || clock_gettime (CLOCK_REALTIME, &now) != 0
        || !s_settled (&st->st_mtim, &now) || !s_settled (&st->st_ctim, &now))
        return;
    s_entry_t e = s_key (st);
    memcpy (e.hash, hash, sizeof e.hash);
    char line [256];
    int len = s_format (&e, line, sizeof line);
    if (len <= 0 || (size_t) len >= sizeof line || s_append (self, &e) != 0
        || s_make_parent (self->path) != 0)
        return;
    int fd = open (self->path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0600);
    if (fd < 0)
        return;
    /* One write per line: concurrent appenders do not interleave. A short
       write leaves a partial line, which readers skip. */
    ssize_t written = write (fd, line, (size_t) len);
    (void) written;
    close (fd);
}
