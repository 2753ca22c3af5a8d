/*  fd_path.h: the path a file descriptor names, for the LD_PRELOAD shims
    that act on some of segqd's files only (tests/broker/slow_disk.c,
    tests/worker/full_disk.c). Header only: each shim is a module of its
    own. */
#ifndef SEGQ_TEST_FD_PATH_H
#define SEGQ_TEST_FD_PATH_H

#include <stdio.h>
#include <string.h>
#include <unistd.h>

/* Whether the path fd names holds `part` ("/artifacts/tmp/"). */
static inline int
fd_path_holds (int fd, const char *part)
{
    char link [64], path [4096];
    snprintf (link, sizeof link, "/proc/self/fd/%d", fd);
    ssize_t n = readlink (link, path, sizeof path - 1);
    if (n <= 0)
        return 0;
    path [n] = '\0';
    return strstr (path, part) != NULL;
}

#endif
