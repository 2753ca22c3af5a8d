/*  test_wait.c: STATUS with `wait` (segq_client_status_wait, `segq wait`)
    with real processes: the broker answers when one of the named jobs has
    ended, not before, or when the time is up; a job that has ended
    already is answered at once; one connection holds at most 8 waiting
    requests (the 9th is answered at once), and all together name at most
    2048 jobs; a broker that stops with requests still waiting stops
    clean. */
#include <criterion/criterion.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "harness.h"
#include "segq_proto.h"

static harness_t *h;

static void
setup (void)
{
    h = harness_new ("wait");
    cr_assert_not_null (h);
    cr_assert_eq (harness_start_broker (h, NULL), 0);
}

static void
teardown (void)
{
    harness_destroy (&h);
}

static double
s_now_ms (void)
{
    struct timespec ts;
    clock_gettime (CLOCK_MONOTONIC, &ts);
    return (double) ts.tv_sec * 1e3 + ts.tv_nsec / 1e6;
}

static void
s_submit (const char *seconds, char job [SEGQ_JOB_ID_MAX])
{
    char err [1024];
    const char *argv [] = { "submit", "sleep", "--seconds", seconds, "--cpu", "1", NULL };
    H_ASSERT (h, harness_submit (h, argv, job, SEGQ_JOB_ID_MAX, err, sizeof err) == 0, "%s", err);
}

/* Job `job` after a waiting STATUS of wait_ms; *took_ms: how long it took. */
static segq_job_state_t
s_wait (segq_client_t *c, const char *job, int wait_ms, double *took_ms)
{
    const char *jobs [] = { job };
    segq_status_query_t q = { .jobs = jobs, .n_jobs = 1 };
    segq_job_list_t list;
    double t0 = s_now_ms ();
    H_ASSERT (h, segq_client_status_wait (c, &q, wait_ms, &list) == 0, "%s", segq_client_error (c));
    *took_ms = s_now_ms () - t0;
    cr_assert_eq (list.n_jobs, 1);
    segq_job_state_t state = list.jobs [0].state;
    segq_job_list_clear (&list);
    return state;
}

Test (wait, the_answer_comes_when_the_job_ends, .init = setup, .fini = teardown, .timeout = 120)
{
    char job [SEGQ_JOB_ID_MAX];
    s_submit ("1.5", job);
    cr_assert_geq (harness_start_worker (h, "w1", 1, NULL), 0);
    segq_client_t *c = harness_client (h, 0);
    double took;
    /* the job takes 1.5 s: an answer at once would find it unfinished */
    cr_assert_eq (s_wait (c, job, 50000, &took), SEGQ_JOB_SUCCEEDED);
    cr_assert_lt (took, 40000, "answered at the end of the job, not of the wait: %.0f ms", took);
    /* ended already: at once */
    cr_assert_eq (s_wait (c, job, 50000, &took), SEGQ_JOB_SUCCEEDED);
    cr_assert_lt (took, 40000, "an ended job waited %.0f ms", took);
    segq_client_destroy (&c);
    H_ASSERT_CLEAN_STOP (h);
}

Test (wait, without_an_end_the_answer_comes_when_the_time_is_up, .init = setup, .fini = teardown,
      .timeout = 120)
{
    char job [SEGQ_JOB_ID_MAX];
    s_submit ("1", job); /* no worker: it stays queued */
    segq_client_t *c = harness_client (h, 0);
    double took;
    cr_assert_eq (s_wait (c, job, 400, &took), SEGQ_JOB_QUEUED);
    cr_assert_geq (took, 400, "answered after %.0f ms of a 400 ms wait", took);
    /* out of range: refused by the library, naming the range */
    const char *jobs [] = { job };
    segq_status_query_t q = { .jobs = jobs, .n_jobs = 1 };
    segq_job_list_t list;
    cr_assert_eq (segq_client_status_wait (c, &q, SEGQ_STATUS_WAIT_MAX_MS + 1, &list), SEGQ_EINVAL);
    cr_assert (strstr (segq_client_error (c), "0..60000"), "%s", segq_client_error (c));
    segq_client_destroy (&c);
    H_ASSERT_CLEAN_STOP (h);
}

/* STATUS{req, jobs, wait} on a raw connection: many may wait at once. */
static void
s_send_status (zsock_t *sock, uint64_t req, char (*jobs) [SEGQ_JOB_ID_MAX], size_t n,
               int32_t wait_ms)
{
    segq_msg_t *msg = segq_msg_new (SEGQ_MSG_STATUS);
    cr_assert_not_null (msg);
    msg->u.status.req_id = req;
    msg->u.status.jobs = calloc (n, sizeof (char *));
    for (size_t i = 0; i < n; i++)
        msg->u.status.jobs [i] = strdup (jobs [i]);
    msg->u.status.n_jobs = n;
    msg->u.status.wait_ms = wait_ms;
    cr_assert_eq (segq_msg_send (&msg, sock, NULL), 0);
}

/* The first reply on sock: a STATUS_REPLY to request `req`. */
static void
s_expect_reply (zsock_t *sock, uint64_t req)
{
    segq_msg_t *reply = NULL;
    char err [256] = "";
    H_ASSERT (h, segq_msg_recv (sock, NULL, &reply, NULL, err, sizeof err) == 0, "%s", err);
    cr_assert_eq (reply->type, SEGQ_MSG_STATUS_REPLY);
    cr_assert_eq (reply->u.status_reply.req_id, req, "the reply came to request %" PRIu64,
                  reply->u.status_reply.req_id);
    cr_assert_eq (reply->u.status_reply.jobs [0].state, SEGQ_JOB_QUEUED);
    segq_msg_destroy (&reply);
}

/* n queued jobs (no worker), submitted pipelined. */
static void
s_submit_many (char (*ids) [SEGQ_JOB_ID_MAX], size_t n)
{
    segq_client_t *c = harness_client (h, 10000);
    segq_job_spec_t *spec = segq_job_spec_new ("sleep");
    for (size_t i = 0; i < n; i++) {
        uint64_t req;
        H_ASSERT (h, segq_client_submit_send (c, spec, &req) == 0, "%s", segq_client_error (c));
    }
    for (size_t i = 0; i < n; i++) {
        segq_submit_reply_t r;
        H_ASSERT (h, segq_client_submit_recv (c, -1, &r) == 0, "%s", segq_client_error (c));
        H_ASSERT (h, r.code == 0, "submit refused: %s", r.message);
        memcpy (ids [i], r.job, SEGQ_JOB_ID_MAX);
    }
    segq_job_spec_destroy (&spec);
    segq_client_destroy (&c);
}

Test (wait, waiting_requests_are_bounded, .init = setup, .fini = teardown, .timeout = 120)
{
    static char jobs [500][SEGQ_JOB_ID_MAX];
    s_submit_many (jobs, 500); /* queued: nothing ends */
    zsock_t *sock = zsock_new_dealer (h->endpoint);
    cr_assert_not_null (sock);
    zsock_set_rcvtimeo (sock, 20000);
    for (uint64_t req = 1; req <= 9; req++)
        s_send_status (sock, req, jobs, 1, 50000);
    s_expect_reply (sock, 9); /* the ninth, at once */
    /* another connection: four requests of 500 jobs wait (8 + 2000 in
       all); a fifth would make 2508 > 2048, and is answered at once */
    zsock_t *other = zsock_new_dealer (h->endpoint);
    cr_assert_not_null (other);
    zsock_set_rcvtimeo (other, 20000);
    for (uint64_t req = 11; req <= 15; req++)
        s_send_status (other, req, jobs, 500, 50000);
    s_expect_reply (other, 15);
    zsock_destroy (&other);
    zsock_destroy (&sock);
    /* the others still wait: the broker stops clean all the same */
    H_ASSERT_CLEAN_STOP (h);
}

Test (wait, segq_wait_sees_an_end_before_its_interval, .init = setup, .fini = teardown,
      .timeout = 120)
{
    char job [SEGQ_JOB_ID_MAX], out [4096], err [4096];
    s_submit ("0.5", job);
    cr_assert_geq (harness_start_worker (h, "w1", 1, NULL), 0);
    /* progress every 50 s: the job's end still comes at once */
    const char *argv [] = { "wait", "--interval", "50000", job, NULL };
    double t0 = s_now_ms ();
    cr_assert_eq (harness_cli (h, out, sizeof out, err, sizeof err, argv), 0, "%s", err);
    double took = s_now_ms () - t0;
    cr_assert (strstr (out, "succeeded"), "%s", out);
    cr_assert_lt (took, 40000, "segq wait took %.0f ms", took);
    H_ASSERT_CLEAN_STOP (h);
}
