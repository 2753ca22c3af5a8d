/*  no_leaks.h: leak checks that fail the test that leaked. */
#ifndef SEGQ_TEST_NO_LEAKS_H
#define SEGQ_TEST_NO_LEAKS_H

/* Under LeakSanitizer, fails the calling test if anything allocated so far
   is unreachable; elsewhere does nothing. Criterion reports a test before
   its process exits, so the sanitizer's own check at exit prints leaks
   without failing anything: call this at the end of each test. */
void fixture_assert_no_leaks (void);

#endif
