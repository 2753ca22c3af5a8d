/*  Helpers shared by the broker's unit tests: temporary data folders. */
#ifndef BROKER_TEST_UTIL_H
#define BROKER_TEST_UTIL_H

#include <criterion/criterion.h>
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* A fresh private folder under /tmp; removed by rm -rf at the end. */
static inline void
test_tmpdir (char *out, size_t outlen)
{
    snprintf (out, outlen, "/tmp/segq-broker-test-XXXXXX");
    cr_assert_not_null (mkdtemp (out), "mkdtemp");
}

/* Entries in a folder, "." and ".." (and hidden files) aside. */
static inline size_t
test_count_entries (const char *path)
{
    DIR *d = opendir (path);
    cr_assert_not_null (d, "cannot read %s", path);
    size_t n = 0;
    struct dirent *e;
    while ((e = readdir (d)))
        n += e->d_name [0] != '.';
    closedir (d);
    return n;
}

static inline void
test_rmdir (const char *dir)
{
    char command [512];
    snprintf (command, sizeof command, "rm -rf '%s'", dir);
    cr_assert_eq (system (command), 0);
}

#endif
