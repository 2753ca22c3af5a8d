/*  test_resend.c: the requests libsegq sends again when the broker turns
    them away for a moment (resend.h): due after a pause that doubles up
    to its most, given up after SEGQ__RESEND_FOR_MS, dropped once
    answered, and never more than SEGQ__RESEND_KEPT kept. Times are given,
    so every case is exact. */
#include <criterion/criterion.h>
#include <string.h>

#include "resend.h"

static segq__resend_t *resend;

static void
setup (void)
{
    resend = segq__resend_new ();
    cr_assert_not_null (resend);
}

static void
teardown (void)
{
    segq__resend_destroy (&resend);
    cr_assert_null (resend);
}

TestSuite (resend, .init = setup, .fini = teardown, .timeout = 30);

/* Keeps a one-frame request saying text. */
static void
s_keep (uint64_t req_id, const char *text)
{
    zmsg_t *msg = zmsg_new ();
    cr_assert_not_null (msg);
    cr_assert_eq (zmsg_addstr (msg, text), 0);
    cr_assert_eq (segq__resend_keep (resend, req_id, msg), 0);
    zmsg_destroy (&msg); /* the kept one is a copy */
}

/* The copy due at now says text; nothing else is due. */
static void
s_next_is (int64_t now, const char *text)
{
    zmsg_t *msg = segq__resend_next (resend, now);
    cr_assert_not_null (msg, "nothing due at %lld", (long long) now);
    char *got = zmsg_popstr (msg);
    cr_assert_str_eq (got, text);
    zstr_free (&got);
    zmsg_destroy (&msg);
    cr_assert_null (segq__resend_next (resend, now), "one due, once");
}

Test (resend, nothing_is_due_until_refused)
{
    s_keep (1, "GET a");
    cr_assert_eq (segq__resend_due (resend), INT64_MAX);
    cr_assert_null (segq__resend_next (resend, 1000000));
}

Test (resend, a_refused_request_is_due_after_a_pause_that_doubles)
{
    s_keep (7, "PUT x");
    int64_t now = 1000, pause = SEGQ__RESEND_FIRST_MS;
    for (int i = 0; i < 8; i++) {
        cr_assert (segq__resend_refused (resend, 7, now));
        cr_assert_eq (segq__resend_due (resend), now + pause, "refusal %d", i);
        cr_assert_null (segq__resend_next (resend, now + pause - 1), "not before it is due");
        now += pause;
        s_next_is (now, "PUT x");
        cr_assert_eq (segq__resend_due (resend), INT64_MAX, "sent: waits for its answer");
        pause = pause * 2 < SEGQ__RESEND_MOST_MS ? pause * 2 : SEGQ__RESEND_MOST_MS;
    }
    cr_assert_eq (pause, SEGQ__RESEND_MOST_MS, "the pause has reached its most");
}

Test (resend, a_request_refused_too_long_is_given_up)
{
    s_keep (3, "GET b");
    cr_assert (segq__resend_refused (resend, 3, 5000));
    cr_assert (segq__resend_refused (resend, 3, 5000 + SEGQ__RESEND_FOR_MS - 1));
    cr_assert_not (segq__resend_refused (resend, 3, 5000 + SEGQ__RESEND_FOR_MS));
    cr_assert_eq (segq__resend_due (resend), INT64_MAX);
    cr_assert_not (segq__resend_refused (resend, 3, 5000), "its copy is gone");
}

Test (resend, an_answered_request_is_forgotten)
{
    s_keep (4, "GET c");
    s_keep (5, "GET d");
    segq__resend_forget (resend, 4);
    cr_assert_not (segq__resend_refused (resend, 4, 10), "not kept: the refusal is the caller's");
    cr_assert (segq__resend_refused (resend, 5, 10));
    s_next_is (10 + SEGQ__RESEND_FIRST_MS, "GET d");
    segq__resend_forget (resend, 99); /* never kept: nothing happens */
    cr_assert_not (segq__resend_refused (resend, 0, 10), "0 is no request");
}

Test (resend, no_more_than_the_most_are_kept_the_oldest_go)
{
    char text [32];
    for (uint64_t id = 1; id <= SEGQ__RESEND_KEPT + 3; id++) {
        snprintf (text, sizeof text, "GET %llu", (unsigned long long) id);
        s_keep (id, text);
    }
    for (uint64_t id = 1; id <= 3; id++)
        cr_assert_not (segq__resend_refused (resend, id, 10), "request %llu is still kept",
                       (unsigned long long) id);
    for (uint64_t id = 4; id <= SEGQ__RESEND_KEPT + 3; id++)
        cr_assert (segq__resend_refused (resend, id, 10), "request %llu was dropped",
                   (unsigned long long) id);
}
