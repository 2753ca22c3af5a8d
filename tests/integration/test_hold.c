/*  test_hold.c: `segq hold` / `segq release` with real processes: a held
    job (or a whole array) does not start while the jobs behind it do, and
    runs once released; only waiting and queued jobs can be held; only the
    owner (or an admin) may. */
#include <criterion/criterion.h>
#include <stdio.h>
#include <string.h>

#include "harness.h"

static harness_t *h;

static void
setup (void)
{
    h = harness_new ("hold");
    cr_assert_not_null (h);
    cr_assert_eq (harness_start_broker (h, NULL), 0);
}

static void
teardown (void)
{
    harness_destroy (&h);
}

static void
s_submit (const char *seconds, char job [SEGQ_JOB_ID_MAX])
{
    char err [1024];
    const char *argv [] = { "submit", "sleep", "--seconds", seconds, "--cpu", "1", NULL };
    H_ASSERT (h, harness_submit (h, argv, job, SEGQ_JOB_ID_MAX, err, sizeof err) == 0, "%s", err);
}

static int
s_cli (char *out, size_t outlen, char *err, size_t errlen, const char *a, const char *b,
       const char *c)
{
    const char *argv [] = { a, b, c, NULL };
    return harness_cli (h, out, outlen, err, errlen, argv);
}

Test (hold, a_held_job_waits_while_others_run, .init = setup, .fini = teardown, .timeout = 120)
{
    char held [SEGQ_JOB_ID_MAX], other [SEGQ_JOB_ID_MAX], out [4096], err [4096];
    s_submit ("0.2", held);
    s_submit ("0.2", other);
    cr_assert_eq (s_cli (out, sizeof out, err, sizeof err, "hold", held, NULL), 0, "%s", err);
    cr_assert (strstr (out, "held"), "%s", out);
    cr_assert_eq (s_cli (out, sizeof out, err, sizeof err, "status", held, NULL), 0, "%s", err);
    cr_assert (strstr (out, "held (segq release"), "the NOTE says why it waits: %s", out);
    cr_assert_geq (harness_start_worker (h, "w1", 2, NULL), 0);
    segq_client_t *c = harness_client (h, 0);
    segq_job_info_t info = { 0 };
    H_ASSERT (h, harness_wait_final (c, other, 30000, &info) == 0, "the other job ran");
    segq_job_info_clear (&info);
    H_ASSERT (h, segq_client_job (c, held, false, &info) == 0, "%s", segq_client_error (c));
    cr_assert_eq (info.state, SEGQ_JOB_QUEUED, "still queued while held");
    cr_assert (info.held);
    segq_job_info_clear (&info);
    /* held is in --json too */
    cr_assert_eq (s_cli (out, sizeof out, err, sizeof err, "--json", "status", held), 0, "%s", err);
    cr_assert (strstr (out, "\"held\": true"), "%s", out);
    cr_assert_eq (s_cli (out, sizeof out, err, sizeof err, "release", held, NULL), 0, "%s", err);
    H_ASSERT (h, harness_wait_final (c, held, 30000, &info) == 0, "released, it runs");
    cr_assert_eq (info.state, SEGQ_JOB_SUCCEEDED);
    cr_assert_not (info.held);
    segq_job_info_clear (&info);
    /* an ended job cannot be held: said, exit status 1 */
    cr_assert_eq (s_cli (out, sizeof out, err, sizeof err, "hold", held, NULL), 1);
    cr_assert (strstr (err, "succeeded") && strstr (err, "only waiting and queued"), "%s", err);
    segq_client_destroy (&c);
    H_ASSERT_CLEAN_STOP (h);
}

Test (hold, only_the_owner_holds_and_an_array_is_held_whole, .init = setup, .fini = teardown,
      .timeout = 120)
{
    char a [SEGQ_JOB_ID_MAX], b [SEGQ_JOB_ID_MAX], out [4096], err [4096];
    s_submit ("0.1", a);
    s_submit ("0.1", b);
    segq_client_t *c = harness_client (h, 0);
    const char *jobs [] = { a, b };
    segq_array_info_t made = { 0 };
    H_ASSERT (h, segq_client_array_create (c, jobs, 2, &made) == 0, "%s", segq_client_error (c));
    char array [32];
    snprintf (array, sizeof array, "%s", made.array);
    segq_array_info_clear (&made);
    cr_assert_eq (s_cli (out, sizeof out, err, sizeof err, "hold", array, NULL), 0, "%s", err);
    cr_assert (strstr (out, a) && strstr (out, b), "both jobs of the array: %s", out);
    /* another user may not release them */
    segq_client_options_t options = { .broker = h->endpoint,
                                      .user = "mallory",
                                      .timeout_ms = 5000 };
    segq_client_t *other = NULL;
    cr_assert_eq (segq_client_connect (&options, &other, err, sizeof err), 0, "%s", err);
    segq_cancel_outcome_t *outcomes;
    size_t n;
    cr_assert_eq (segq_client_hold (other, jobs, 2, true, &outcomes, &n), 0);
    cr_assert_eq (n, 2);
    cr_assert_eq (outcomes [0].code, SEGQ_EPERM);
    cr_assert (strstr (outcomes [0].message, "only its owner"), "%s", outcomes [0].message);
    segq_cancel_outcomes_free (&outcomes, n);
    segq_client_destroy (&other);
    cr_assert_geq (harness_start_worker (h, "w1", 2, NULL), 0);
    cr_assert_eq (s_cli (out, sizeof out, err, sizeof err, "release", array, NULL), 0, "%s", err);
    segq_job_info_t info = { 0 };
    for (int i = 0; i < 2; i++) {
        H_ASSERT (h, harness_wait_final (c, jobs [i], 30000, &info) == 0, "%s ran", jobs [i]);
        cr_assert_eq (info.state, SEGQ_JOB_SUCCEEDED);
        segq_job_info_clear (&info);
    }
    segq_client_destroy (&c);
    H_ASSERT_CLEAN_STOP (h);
}

/* A broker takes at most SEGQ_JOB_LIST_MAX jobs a request, so a peer's one
   message costs its loop and audit log a bounded amount; libsegq sends a
   longer list (a job array's) in parts: one outcome each, in order. */
Test (hold, long_lists_go_in_parts, .init = setup, .fini = teardown, .timeout = 120)
{
    enum { N = 2 * SEGQ_JOB_LIST_MAX + 5 };
    static char names [N][16];
    const char *jobs [N];
    for (int i = 0; i < N; i++) {
        snprintf (names [i], sizeof names [i], "z%05d", i); /* unknown jobs */
        jobs [i] = names [i];
    }
    segq_client_t *c = harness_client (h, 0);
    segq_cancel_outcome_t *outcomes = NULL;
    size_t n = 0;
    H_ASSERT (h, segq_client_cancel (c, jobs, N, &outcomes, &n) == 0, "%s", segq_client_error (c));
    cr_assert_eq (n, N);
    for (size_t i = 0; i < n; i++) {
        cr_assert_str_eq (outcomes [i].job, jobs [i]);
        cr_assert_eq (outcomes [i].code, SEGQ_ENOENT);
    }
    segq_cancel_outcomes_free (&outcomes, n);
    H_ASSERT (h, segq_client_hold (c, jobs, N, false, &outcomes, &n) == 0, "%s",
              segq_client_error (c));
    cr_assert_eq (n, N);
    cr_assert_str_eq (outcomes [N - 1].job, jobs [N - 1]);
    segq_cancel_outcomes_free (&outcomes, n);
    segq_purge_result_t *purged = NULL;
    H_ASSERT (h, segq_client_purge (c, jobs, N, &purged, &n) == 0, "%s", segq_client_error (c));
    cr_assert_eq (n, N);
    cr_assert_str_eq (purged [N - 1].job, jobs [N - 1]);
    segq_purge_results_free (&purged, n);
    segq_client_destroy (&c);
    H_ASSERT_CLEAN_STOP (h);
}
