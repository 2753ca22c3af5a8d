/*  test_limits.c: per-user limits from segqd's configuration file and
    `segq priority`, with real processes (no keys: loopback, the user name
    the client sends). */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "harness.h"

static harness_t *h;

static void
setup (void)
{
    h = harness_new ("limits");
    cr_assert_not_null (h);
    char conf [700];
    snprintf (conf, sizeof conf, "%s/segqd.conf", h->dir);
    FILE *f = fopen (conf, "w");
    cr_assert_not_null (f);
    fputs ("# limits for the test\n"
           "[defaults]\n"
           "max_running = 1\n"
           "max_queued = 3\n"
           "[user bob]\n"
           "max_running = 2\n"
           "max_queued = unlimited\n",
           f);
    cr_assert_eq (fclose (f), 0);
    const char *extra [] = { "--config", conf, NULL };
    cr_assert_eq (harness_start_broker (h, extra), 0, "segqd did not start with --config");
}

static void
teardown (void)
{
    harness_destroy (&h);
}

static segq_client_t *
s_client (const char *user)
{
    segq_client_options_t options = { .broker = h->endpoint, .user = user, .timeout_ms = 5000 };
    segq_client_t *client = NULL;
    char err [512];
    H_ASSERT (h, segq_client_connect (&options, &client, err, sizeof err) == 0, "%s", err);
    return client;
}

static int
s_submit_sleep (segq_client_t *c, const char *seconds, char job [SEGQ_JOB_ID_MAX])
{
    segq_job_spec_t *spec = segq_job_spec_new ("sleep");
    char err [256];
    cr_assert_eq (segq_job_spec_param (spec, "seconds", seconds, err, sizeof err), 0, "%s", err);
    int rc = segq_client_submit (c, spec, job, SEGQ_JOB_ID_MAX);
    segq_job_spec_destroy (&spec);
    return rc;
}

/* Running jobs per owner right now. */
static void
s_running (segq_client_t *c, int *alice, int *bob)
{
    segq_job_list_t list = { 0 };
    segq_status_query_t query = { .state = SEGQ_JOB_RUNNING };
    H_ASSERT (h, segq_client_status (c, &query, NULL, &list) == 0, "%s", segq_client_error (c));
    *alice = *bob = 0;
    for (size_t i = 0; i < list.n_jobs; i++) {
        *alice += strcmp (list.jobs [i].owner, "alice") == 0;
        *bob += strcmp (list.jobs [i].owner, "bob") == 0;
    }
    segq_job_list_clear (&list);
}

Test (limits, queued_and_running_limits_per_user, .init = setup, .fini = teardown, .timeout = 120)
{
    segq_client_t *alice = s_client ("alice"), *bob = s_client ("bob");
    char a [3][SEGQ_JOB_ID_MAX], b [4][SEGQ_JOB_ID_MAX], extra [SEGQ_JOB_ID_MAX];
    /* queued limit: the 4th of alice's is refused whole, with the reason */
    for (int i = 0; i < 3; i++)
        H_ASSERT (h, s_submit_sleep (alice, "0.6", a [i]) == 0, "%s", segq_client_error (alice));
    cr_assert_eq (s_submit_sleep (alice, "0.6", extra), SEGQ_ELIMIT, "%s",
                  segq_client_error (alice));
    cr_assert (strstr (segq_client_error (alice), "max_queued"), "%s", segq_client_error (alice));
    segq_job_list_t list = { 0 };
    segq_status_query_t mine = { .user = "alice" };
    H_ASSERT (h, segq_client_status (alice, &mine, NULL, &list) == 0, "%s",
              segq_client_error (alice));
    cr_assert_eq (list.n_jobs, 3, "the refused submit stored nothing");
    segq_job_list_clear (&list);
    for (int i = 0; i < 4; i++)
        H_ASSERT (h, s_submit_sleep (bob, "0.6", b [i]) == 0, "%s", segq_client_error (bob));

    /* one worker with room for 6: alice runs 1 at a time, bob 2 */
    cr_assert_geq (harness_start_worker (h, "w1", 6, NULL), 0);
    int max_alice = 0, max_bob = 0, seen_any = 0;
    for (int round = 0; round < 400; round++) {
        int ra, rb;
        s_running (alice, &ra, &rb);
        max_alice = ra > max_alice ? ra : max_alice;
        max_bob = rb > max_bob ? rb : max_bob;
        seen_any += ra + rb > 0;
        struct timespec ts = { 0, 20 * 1000000L };
        nanosleep (&ts, NULL);
        segq_job_info_t info = { 0 };
        bool all_done = true;
        for (int i = 0; i < 3 && all_done; i++) {
            all_done = segq_client_job (alice, a [i], false, &info) == 0
                       && segq_job_state_final (info.state);
            segq_job_info_clear (&info);
        }
        for (int i = 0; i < 4 && all_done; i++) {
            all_done = segq_client_job (bob, b [i], false, &info) == 0
                       && segq_job_state_final (info.state);
            segq_job_info_clear (&info);
        }
        if (all_done)
            break;
    }
    cr_assert_gt (seen_any, 0);
    H_ASSERT (h, max_alice == 1, "alice ran %d at once (limit 1)", max_alice);
    H_ASSERT (h, max_bob == 2, "bob ran %d at once (limit 2, and room for more)", max_bob);
    for (int i = 0; i < 3; i++) {
        segq_job_info_t info = { 0 };
        H_ASSERT (h, harness_wait_final (alice, a [i], 30000, &info) == 0, "job did not end");
        cr_assert_eq (info.state, SEGQ_JOB_SUCCEEDED);
        segq_job_info_clear (&info);
    }
    /* room again: alice may queue */
    H_ASSERT (h, s_submit_sleep (alice, "0", extra) == 0, "%s", segq_client_error (alice));
    segq_client_destroy (&alice);
    segq_client_destroy (&bob);
    H_ASSERT_CLEAN_STOP (h);
}

/* Without keys: the owner (by the name sent) reorders its own queued jobs;
   another name is refused; a running job is not reordered. */
Test (limits, priority_command_without_keys, .init = setup, .fini = teardown, .timeout = 60)
{
    /* the harness's CLI runs act as H_USER, so that user owns the jobs here */
    segq_client_t *alice = s_client (H_USER), *bob = s_client ("bob");
    char a1 [SEGQ_JOB_ID_MAX], a2 [SEGQ_JOB_ID_MAX];
    H_ASSERT (h, s_submit_sleep (alice, "0.3", a1) == 0, "%s", segq_client_error (alice));
    H_ASSERT (h, s_submit_sleep (alice, "0.3", a2) == 0, "%s", segq_client_error (alice));
    int32_t was = 99;
    cr_assert_eq (segq_client_priority (bob, a2, 5, &was), SEGQ_EPERM, "%s",
                  segq_client_error (bob));
    cr_assert (strstr (segq_client_error (bob), "only its owner or an admin"), "%s",
               segq_client_error (bob));
    /* the CLI, as a user runs it: segq priority JOB N */
    char out [1024], err [1024];
    const char *argv [] = { "priority", a2, "7", NULL };
    int rc = harness_cli (h, out, sizeof out, err, sizeof err, argv);
    H_ASSERT (h, rc == 0, "segq priority exited %d: %s", rc, err);
    cr_assert (strstr (out, "priority 7 (was 0)"), "%s", out);
    const char *bad [] = { "priority", a2, "soon", NULL };
    cr_assert_eq (harness_cli (h, out, sizeof out, err, sizeof err, bad), 2, "%s", err);
    cr_assert (strstr (err, "'soon' is not a priority"), "%s", err);
    segq_job_info_t info = { 0 };
    cr_assert_eq (segq_client_job (alice, a2, false, &info), 0);
    cr_assert_eq (info.priority, 7);
    segq_job_info_clear (&info);
    /* a2 now runs first */
    cr_assert_geq (harness_start_worker (h, "w1", 1, NULL), 0);
    H_ASSERT (h, harness_wait_state (alice, a2, SEGQ_JOB_RUNNING, 15000) == 0, "a2 never ran");
    cr_assert_eq (segq_client_job (alice, a1, false, &info), 0);
    cr_assert_eq (info.state, SEGQ_JOB_QUEUED, "a1 went first: %s",
                  segq_job_state_name (info.state));
    segq_job_info_clear (&info);
    cr_assert_eq (segq_client_priority (alice, a2, 1, &was), SEGQ_ESTATE, "%s",
                  segq_client_error (alice));
    cr_assert (strstr (segq_client_error (alice), "running"), "%s", segq_client_error (alice));
    H_ASSERT (h, harness_wait_final (alice, a1, 30000, &info) == 0, "a1 did not end");
    segq_job_info_clear (&info);
    segq_client_destroy (&alice);
    segq_client_destroy (&bob);
    H_ASSERT_CLEAN_STOP (h);
}
