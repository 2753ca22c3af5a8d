/*  Helpers shared by the broker's unit tests: temporary data folders. */
#ifndef BROKER_TEST_UTIL_H
#define BROKER_TEST_UTIL_H

#include <criterion/criterion.h>
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

static inline void
test_rmdir (const char *dir)
{
    char command [512];
    snprintf (command, sizeof command, "rm -rf '%s'", dir);
    cr_assert_eq (system (command), 0);
}

#endif
