/*  no_leaks.h: leak checks that fail the test that leaked. */
#ifndef SEGQ_TEST_NO_LEAKS_H
#define SEGQ_TEST_NO_LEAKS_H

/* SEGQ_TEST_ASAN: defined when built with AddressSanitizer (GCC or clang). */
#if defined(__SANITIZE_ADDRESS__)
#define SEGQ_TEST_ASAN 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define SEGQ_TEST_ASAN 1
#endif
#endif

/* Under LeakSanitizer, fails the calling test if anything allocated so far
   is unreachable; elsewhere does nothing. Criterion reports a test before
   its process exits, so the sanitizer's own check at exit prints leaks
   without failing anything: call this at the end of each test. */
void fixture_assert_no_leaks (void);

#endif
