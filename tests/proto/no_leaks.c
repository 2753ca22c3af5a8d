/*  no_leaks.c: see no_leaks.h. */
#include "no_leaks.h"

#include <criterion/criterion.h>

#ifdef SEGQ_TEST_ASAN
int __lsan_do_recoverable_leak_check (void);

void
fixture_assert_no_leaks (void)
{
    cr_assert_eq (__lsan_do_recoverable_leak_check (), 0, "memory leaked: see the report above");
}
#else
void
fixture_assert_no_leaks (void)
{
}
#endif
