/*  Helpers shared by the broker's unit tests: temporary data folders. */
#ifndef BROKER_TEST_UTIL_H
#define BROKER_TEST_UTIL_H

#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Criterion 2.4's parallel runner (--jobs 2, as ctest runs it) sometimes
   loses 48 bytes of its own. Only the runner is spared: it runs no test
   code (tests run in re-executed children, which BoxFort marks with
   BXFI_MAP), so every leak of ours is still reported. */
const char *__lsan_default_suppressions (void);
const char *
__lsan_default_suppressions (void)
{
    return getenv ("BXFI_MAP") ? "" : "leak:libcriterion.so\n";
}

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
