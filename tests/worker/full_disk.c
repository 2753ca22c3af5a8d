/*  full_disk.c: an LD_PRELOAD shim that makes segqd's disk full on cue,
    for the worker's tests of an upload the broker has no room for.

    SEGQ_TEST_NO_ROOM=PATH: while PATH exists, statvfs and fstatvfs say
    the filesystem has no block free, so the broker refuses every PUT of
    one byte or more up front ("N bytes do not fit in the 0 bytes free").
    SEGQ_TEST_WRITE_FULL=PATH: while PATH exists, a write into an upload's
    temporary file (under artifacts/tmp/) fails with ENOSPC, so the broker
    takes the PUT and answers PUT_DONE with ENOSPC ("no space left on the
    broker's disk").
    SEGQ_TEST_LOG_FULL=PATH: while PATH exists, a write into a job's log
    (under logs/) fails with ENOSPC.
    A test fills the disk by creating the path and frees it by removing
    it: nothing is mounted, and the tests need no root. */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/statvfs.h>
#include <sys/types.h>
#include <unistd.h>
#include "../common/fd_path.h"

typedef int (*statvfs_fn) (const char *, struct statvfs *);
typedef int (*fstatvfs_fn) (int, struct statvfs *);
typedef ssize_t (*write_fn) (int, const void *, size_t);
typedef ssize_t (*pwrite_fn) (int, const void *, size_t, off_t);

/* Whether the file named by env exists (the cue is given). */
static int
s_cued (const char *env)
{
    const char *path = getenv (env);
    return path && *path && access (path, F_OK) == 0;
}

/* What statvfs says, and no block free on cue (the 64-bit variants' struct
   has the same fields). */
#define S_NO_ROOM(rc, st)                                                                          \
    do {                                                                                           \
        if ((rc) == 0 && s_cued ("SEGQ_TEST_NO_ROOM"))                                             \
            (st)->f_bavail = (st)->f_bfree = 0;                                                    \
    } while (0)

typedef int (*statvfs64_fn) (const char *, struct statvfs64 *);
typedef int (*fstatvfs64_fn) (int, struct statvfs64 *);

int
statvfs (const char *path, struct statvfs *st)
{
    int rc = ((statvfs_fn) dlsym (RTLD_NEXT, "statvfs")) (path, st);
    S_NO_ROOM (rc, st);
    return rc;
}

int
statvfs64 (const char *path, struct statvfs64 *st)
{
    int rc = ((statvfs64_fn) dlsym (RTLD_NEXT, "statvfs64")) (path, st);
    S_NO_ROOM (rc, st);
    return rc;
}

int
fstatvfs (int fd, struct statvfs *st)
{
    int rc = ((fstatvfs_fn) dlsym (RTLD_NEXT, "fstatvfs")) (fd, st);
    S_NO_ROOM (rc, st);
    return rc;
}

int
fstatvfs64 (int fd, struct statvfs64 *st)
{
    int rc = ((fstatvfs64_fn) dlsym (RTLD_NEXT, "fstatvfs64")) (fd, st);
    S_NO_ROOM (rc, st);
    return rc;
}

/* Whether a write to fd fails now, as on a full disk. */
static int
s_full (int fd)
{
    return fd > 2
           && ((s_cued ("SEGQ_TEST_WRITE_FULL") && fd_path_holds (fd, "/artifacts/tmp/"))
               || (s_cued ("SEGQ_TEST_LOG_FULL") && fd_path_holds (fd, "/logs/")));
}

ssize_t
write (int fd, const void *data, size_t size)
{
    write_fn real = (write_fn) dlsym (RTLD_NEXT, "write");
    if (s_full (fd)) {
        errno = ENOSPC;
        return -1;
    }
    return real (fd, data, size);
}

static ssize_t
s_pwrite (const char *name, int fd, const void *data, size_t size, off_t offset)
{
    pwrite_fn real = (pwrite_fn) dlsym (RTLD_NEXT, name);
    if (s_full (fd)) {
        errno = ENOSPC;
        return -1;
    }
    return real (fd, data, size, offset);
}

ssize_t
pwrite (int fd, const void *data, size_t size, off_t offset)
{
    return s_pwrite ("pwrite", fd, data, size, offset);
}

ssize_t
pwrite64 (int fd, const void *data, size_t size, off_t offset)
{
    return s_pwrite ("pwrite64", fd, data, size, offset);
}
