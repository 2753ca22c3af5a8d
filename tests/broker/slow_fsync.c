/*  slow_fsync.c: an LD_PRELOAD shim that makes segqd's disk slow
    (harness_slow_disk sets it up).

    SEGQ_TEST_FSYNC_DELAY_US=N: every fsync and fdatasync waits N
    microseconds before it starts, as on a busy array or a network file
    system (the benchmarks' model of a slow disk: concurrent syncs wait
    side by side, as a journal commits them together).
    SEGQ_TEST_FSYNC_GATE=PATH: an fsync of an upload's temporary file
    (under artifacts/tmp/) creates PATH.waiting, then waits until PATH
    exists: a test holds the broker in the middle of finishing an upload
    for as long as it likes, and ends it by creating the gate. */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

typedef int (*sync_fn) (int);

static int
s_is_upload (int fd)
{
    char link [64], path [4096];
    snprintf (link, sizeof link, "/proc/self/fd/%d", fd);
    ssize_t n = readlink (link, path, sizeof path - 1);
    if (n <= 0)
        return 0;
    path [n] = '\0';
    return strstr (path, "/artifacts/tmp/") != NULL;
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
    const char *gate = getenv ("SEGQ_TEST_FSYNC_GATE");
    if (gate && *gate && s_is_upload (fd))
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
