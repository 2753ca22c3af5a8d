/*  hash_cache.h: the sha256 of local files the client has uploaded before,
    remembered by what stat says of them, so that a re-submit of an
    unchanged file names its hash in PUT and the broker can skip it (part of
    libsegq, not installed).

    A file is known by (device, inode, size, mtime, ctime), as git's index
    and rsync know theirs: writing a file changes its mtime and ctime, and
    ctime cannot be set back. A file whose mtime or ctime is under a second
    old is not remembered: it may still be written within the same
    timestamp tick (the kernel's clock for them is coarse). A wrong entry costs nothing but time:
    the broker verifies every upload's hash, and a mismatch is retried as a
    new file.

    The file holds one line per entry, appended with O_APPEND (a line is one
    write, so concurrent segq processes do not interleave), 0600 in a 0700
    folder; malformed lines are ignored; the newest entries are kept when it
    grows past SEGQ__HASH_CACHE_MAX_LINES. */
#ifndef SEGQ_HASH_CACHE_H
#define SEGQ_HASH_CACHE_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/stat.h>

#include "segq_sha256.h"

#define SEGQ__HASH_CACHE_MAX_LINES 20000

typedef struct segq__hash_cache_t segq__hash_cache_t;

/* The default file: $SEGQ_HASH_CACHE ("off": none), else
   $XDG_CACHE_HOME/segq/hashes, else $HOME/.cache/segq/hashes. Returns 0
   with out = "" when there is none. */
int segq__hash_cache_default_path (char *out, size_t outlen);

/* Opens (reads) path; a missing file is an empty cache. NULL on out of
   memory or an unusable path: the client then works without one. */
segq__hash_cache_t *segq__hash_cache_open (const char *path);
void segq__hash_cache_destroy (segq__hash_cache_t **self_p);

/* The remembered hash of the file st describes, if any. */
bool segq__hash_cache_lookup (const segq__hash_cache_t *self, const struct stat *st,
                              char hash [SEGQ_HASH_HEX_LEN + 1]);

/* Remembers hash for the file st describes (unless it is too fresh, see
   above). Errors are ignored: the cache only saves time. */
void segq__hash_cache_remember (segq__hash_cache_t *self, const struct stat *st, const char *hash);

#endif
