/*  runner_lsan.c: no exit-time leak check in Criterion's runner process.

    Criterion 2.4's runner (the parent that schedules the test processes)
    now and then leaks a 48-byte block of its own; the
    sanitizer's check at its exit then aborts it after every test passed.
    LeakSanitizer asks this hook before checking: the runner (no current
    test) opts out, each test process (which checks itself at its end with
    __lsan_do_recoverable_leak_check) stays checked. */
#include <criterion/criterion.h>

int __lsan_is_turned_off (void);

int
__lsan_is_turned_off (void)
{
    return criterion_current_test == NULL;
}
