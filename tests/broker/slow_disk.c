/*  slow_disk.c: an LD_PRELOAD shim that makes segqd's disk slow
    (harness_slow_disk sets it up).

    SEGQ_TEST_FSYNC_DELAY_US=N: every fsync and fdatasync waits N
    microseconds before it starts, as on a busy array or a network file
    system (the benchmarks' model of a slow disk: concurrent syncs wait
    side by side, as a journal commits them together).
    SEGQ_TEST_FSYNC_GATE=PATH: an fsync of an upload's temporary file
    (under artifacts/tmp/) creates PATH.waiting, then waits until PATH
    exists: a test holds the broker in the middle of finishing an upload
    for as long as it likes, and ends it by creating the gate.
    SEGQ_TEST_READ_GATE=PATH: a stored artifact is never in memory (a read
    asked not to wait, RWF_NOWAIT, fails with EAGAIN), and a read that
    waits creates PATH.waiting and waits for PATH likewise. */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/uio.h>
#include <time.h>
#include <unistd.h>
#include "../common/fd_path.h"

typedef int (*sync_fn) (int);
typedef ssize_t (*pread_fn) (int, void *, size_t, off_t);
typedef ssize_t (*preadv2_fn) (int, const struct iovec *, int, off_t, int);

/* Whether fd is a file under artifacts/: an upload's (under tmp/) or a
   stored one's. */
static int
s_is_under (int fd, int upload)
{
    int tmp = fd_path_holds (fd, "/artifacts/tmp/");
    return upload ? tmp : fd_path_holds (fd, "/artifacts/") && !tmp;
}

/* The gate named by env, if it is set and fd is what it holds. */
static const char *
s_gate (const char *env, int fd, int upload)
{
    const char *gate = getenv (env);
    return gate && *gate && s_is_under (fd, upload) ? gate : NULL;
}

static void
s_wait_for_gate (const char *gate)
{
    char waiting [4200];
    snprintf (waiting, sizeof waiting, "%s.waiting", gate);
    int fd = open (waiting, O_WRONLY | O_CREAT | O_CLOEXEC, 0600);
    if (fd >= 0)
        close (fd);
    const struct timespec tick = { 0, 1000000 };
    while (access (gate, F_OK) != 0)
        nanosleep (&tick, NULL);
}

static int
s_slow (const char *name, int fd)
{
    sync_fn real = (sync_fn) dlsym (RTLD_NEXT, name);
    const char *delay = getenv ("SEGQ_TEST_FSYNC_DELAY_US");
    long us = delay ? strtol (delay, NULL, 10) : 0;
    if (us > 0) {
        struct timespec wait = { us / 1000000, (us % 1000000) * 1000 };
        nanosleep (&wait, NULL);
    }
    const char *gate = s_gate ("SEGQ_TEST_FSYNC_GATE", fd, 1);
    if (gate)
        s_wait_for_gate (gate);
    return real (fd);
}

int
fsync (int fd)
{
    return s_slow ("fsync", fd);
}

int
fdatasync (int fd)
{
    return s_slow ("fdatasync", fd);
}

static ssize_t
s_pread (const char *name, int fd, void *buffer, size_t size, off_t offset)
{
    pread_fn real = (pread_fn) dlsym (RTLD_NEXT, name);
    const char *gate = s_gate ("SEGQ_TEST_READ_GATE", fd, 0);
    if (gate)
        s_wait_for_gate (gate);
    return real (fd, buffer, size, offset);
}

ssize_t
pread (int fd, void *buffer, size_t size, off_t offset)
{
    return s_pread ("pread", fd, buffer, size, offset);
}

ssize_t
pread64 (int fd, void *buffer, size_t size, off_t offset)
{
    return s_pread ("pread64", fd, buffer, size, offset);
}

static ssize_t
s_preadv2 (const char *name, int fd, const struct iovec *iov, int n, off_t offset, int flags)
{
    preadv2_fn real = (preadv2_fn) dlsym (RTLD_NEXT, name);
    if ((flags & RWF_NOWAIT) && s_gate ("SEGQ_TEST_READ_GATE", fd, 0)) {
        errno = EAGAIN;
        return -1;
    }
    return real (fd, iov, n, offset, flags);
}

ssize_t
preadv2 (int fd, const struct iovec *iov, int n, off_t offset, int flags)
{
    return s_preadv2 ("preadv2", fd, iov, n, offset, flags);
}

ssize_t
preadv64v2 (int fd, const struct iovec *iov, int n, off_t offset, int flags)
{
    return s_preadv2 ("preadv64v2", fd, iov, n, offset, flags);
}
