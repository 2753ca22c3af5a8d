/*  test_transfer_limits.c: a real segqd bounds what clients' uploads can
    make it hold. PUTs that announce big files and send nothing are
    refused beyond the limits (per connection, per user, then all
    together) with ELIMIT; a size over the largest artifact or the free
    space is refused up front; the broker's threads, file descriptors and
    temporary files stay bounded; another client's upload still goes
    through, and once the idle transfers expire, even after the limit of
    all was reached: libsegq sends a refused PUT again until then. A
    registered worker's transfers are counted apart, against what its jobs
    need (SPEC 10.5): eight uploads for each job it runs and one job more,
    eight fetches. */
#include <criterion/criterion.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sys/statvfs.h>

#include "broker_test_util.h"
#include "raw_peer.h"
#include "segq_proto.h"

#define PER_PEER 5
#define ALL      12
/* over the sink's O_DIRECT threshold (SEGQ_SINK_DIRECT_MIN), and small
   enough that what they reserve of the free space (SPEC 10.5) fits */
#define ANNOUNCED ((uint64_t) 64 << 20)

static harness_t *h;

/* segqd with the limits as an admin writes them (docs/usage.md: broker
   configuration); idle transfers expire after expiry_ms. */
static void
s_start_with (const char *name, int expiry_ms, int max_transfers)
{
    h = harness_new (name);
    cr_assert_not_null (h);
    h->expiry_ms = expiry_ms;
    char config [600];
    snprintf (config, sizeof config, "%s/segqd.conf", h->dir);
    FILE *file = fopen (config, "w");
    cr_assert_not_null (file);
    fprintf (file, "max_transfers = %d\nmax_transfers_per_peer = %d\nmax_artifact_size = 1000T\n",
             max_transfers, PER_PEER);
    cr_assert_eq (fclose (file), 0);
    const char *extra [] = { "--config", config, NULL };
    cr_assert_eq (harness_start_broker (h, extra), 0, "segqd did not start");
}

static void
s_start (const char *name, int expiry_ms)
{
    s_start_with (name, expiry_ms, ALL);
}

static void
setup (void)
{
    s_start ("xfer-limits", 1500);
}

/* Transfers that outlast the worker test. */
static void
setup_slow_expiry (void)
{
    s_start ("xfer-worker", 30000);
}

static void
teardown (void)
{
    harness_destroy (&h);
}

/* Entries in the folder the format names. */
static int
s_entries (const char *format, ...)
{
    char path [600];
    va_list args;
    va_start (args, format);
    vsnprintf (path, sizeof path, format, args);
    va_end (args);
    return (int) test_count_entries (path);
}

static zsock_t *
s_peer (void)
{
    zsock_t *sock = zsock_new_dealer (h->endpoint);
    cr_assert_not_null (sock);
    zsock_set_rcvtimeo (sock, 5000);
    return sock;
}

/* A PUT of user's (NULL: a worker's) announcing `size` bytes (none
   follow): 0 for PUT_READY, else the ERROR's code, its message in why. */
static int
s_put (zsock_t *sock, const char *user, uint64_t req, uint64_t size, char *why, size_t len)
{
    segq_msg_t *msg = segq_msg_new (SEGQ_MSG_PUT);
    cr_assert_not_null (msg);
    msg->u.put.user = user ? strdup (user) : NULL;
    msg->u.put.req_id = req;
    msg->u.put.size = size;
    msg->u.put.name = strdup ("announced.bin");
    cr_assert_eq (segq_msg_send (&msg, sock, NULL), 0);
    segq_msg_t *reply = NULL;
    char err [256];
    do { /* a worker's connection also hears heartbeats */
        segq_msg_destroy (&reply);
        H_ASSERT (h, segq_msg_recv (sock, NULL, &reply, NULL, err, sizeof err) == 0,
                  "no answer: %s", err);
    } while (reply->type == SEGQ_MSG_HEARTBEAT);
    int code = 1;
    snprintf (why, len, "%s", "");
    if (reply->type == SEGQ_MSG_PUT_READY) {
        cr_assert_eq (reply->u.put_ready.req_id, req);
        code = 0;
    } else if (reply->type == SEGQ_MSG_ERROR) {
        cr_assert_eq (reply->u.error.req_id, req, "the refusal answers its PUT");
        code = reply->u.error.code;
        snprintf (why, len, "%s", reply->u.error.message ? reply->u.error.message : "");
    }
    segq_msg_destroy (&reply);
    return code;
}

/* PUTs of user's from one connection until n were taken; the rest (to
   `tries`) are refused with ELIMIT naming `limit`. */
static void
s_fill (zsock_t *sock, const char *user, int tries, int taken, const char *limit)
{
    int ready = 0;
    char why [600];
    for (int i = 0; i < tries; i++) {
        int code = s_put (sock, user, (uint64_t) i + 1, ANNOUNCED, why, sizeof why);
        if (code == 0) {
            ready++;
            continue;
        }
        H_ASSERT (h, code == SEGQ_ELIMIT, "PUT %d: %s (%d)", i, why, code);
        cr_assert (strstr (why, limit), "%s", why);
    }
    H_ASSERT (h, ready == taken, "%d of %d PUTs taken, expected %d", ready, tries, taken);
}

static int
s_upload (segq_client_t *client, const char *path)
{
    return segq_client_upload (client, path, NULL, NULL, NULL);
}

Test (transfer_limits, announced_uploads_are_bounded, .init = setup, .fini = teardown,
      .timeout = 120)
{
    char file [600];
    snprintf (file, sizeof file, "%s/normal.bin", h->dir);
    cr_assert_eq (harness_write_random_file (file, 9u << 20, 3), 0);
    segq_client_t *client = harness_client (h, 10000);
    segq_job_list_t list = { 0 };
    segq_status_query_t all = { 0 };
    H_ASSERT (h, segq_client_status (client, &all, NULL, &list) == 0, "%s",
              segq_client_error (client));
    segq_job_list_clear (&list);
    int threads = s_entries ("/proc/%d/task", (int) h->broker);
    int fds = s_entries ("/proc/%d/fd", (int) h->broker);

    /* one connection: its own limit, and the others go on */
    zsock_t *a = s_peer ();
    s_fill (a, "alice", 40, PER_PEER, "max-transfers-per-peer 5");
    H_ASSERT (h, s_upload (client, file) == 0, "%s", segq_client_error (client));
    /* more connections: the limit of all */
    zsock_t *b = s_peer (), *c = s_peer ();
    s_fill (b, "bob", 10, PER_PEER, "max-transfers-per-peer 5");
    s_fill (c, "carol", 10, ALL - 2 * PER_PEER, "max-transfers 12");
    char tmp [600];
    snprintf (tmp, sizeof tmp, "%s/artifacts/tmp", h->data_dir);
    cr_assert_eq (s_entries ("%s", tmp), ALL, "one temporary file per transfer taken");
    int more_threads = s_entries ("/proc/%d/task", (int) h->broker) - threads;
    int more_fds = s_entries ("/proc/%d/fd", (int) h->broker) - fds;
    H_ASSERT (h, more_threads <= 0, "%d more threads for transfers that sent nothing",
              more_threads);
    /* a temporary file each, a connection each, and a little slack */
    H_ASSERT (h, more_fds <= ALL + 3 + 2, "%d more file descriptors", more_fds);

    /* sizes are refused before any limit */
    zsock_t *d = s_peer ();
    char why [600];
    cr_assert_eq (s_put (d, "dave", 1, (uint64_t) 1 << 62, why, sizeof why), SEGQ_ETOOBIG, "%s",
                  why);
    cr_assert (strstr (why, "max-artifact-size"), "%s", why);
    struct statvfs fs;
    cr_assert_eq (statvfs (tmp, &fs), 0);
    uint64_t too_much = (uint64_t) fs.f_bavail * fs.f_frsize + ((uint64_t) 1 << 30);
    cr_assert_eq (s_put (d, "dave", 2, too_much, why, sizeof why), SEGQ_ENOSPC, "%s", why);
    cr_assert (strstr (why, "free"), "%s", why);
    /* all taken: another client is told to retry ... */
    cr_assert_eq (s_put (d, "dave", 3, ANNOUNCED, why, sizeof why), SEGQ_ELIMIT, "%s", why);
    cr_assert (strstr (why, "max-transfers 12"), "%s", why);
    /* ... and libsegq's upload gets through once the idle transfers have
       expired, sending its PUT again meanwhile */
    zsock_destroy (&a);
    zsock_destroy (&b);
    zsock_destroy (&c);
    zsock_destroy (&d);
    int64_t start = zclock_mono ();
    H_ASSERT (h, s_upload (client, file) == 0, "%s", segq_client_error (client));
    H_ASSERT (h, zclock_mono () - start >= 500,
              "the upload did not wait for the transfers to expire");
    /* the last of them expire a heartbeat or two later */
    for (int64_t until = zclock_mono () + 15000; s_entries ("%s", tmp) && zclock_mono () < until;)
        harness_sleep_ms (100);
    cr_assert_eq (s_entries ("%s", tmp), 0, "the expired transfers' files are gone");
    segq_client_destroy (&client);
    H_ASSERT_CLEAN_STOP (h);
}

Test (transfer_limits, a_workers_transfers_are_bounded_by_its_jobs, .init = setup_slow_expiry,
      .fini = teardown, .timeout = 120)
{
    char file [600];
    snprintf (file, sizeof file, "%s/normal.bin", h->dir);
    cr_assert_eq (harness_write_random_file (file, 1u << 20, 4), 0);
    zsock_t *worker = raw_worker (h, "raw-worker", "sleep");
    const int idle = SEGQ_WORKER_UPLOADS_PER_JOB + SEGQ_WORKER_FETCHES; /* one job's slack */
    char limit [128];
    snprintf (limit, sizeof limit, "worker raw-worker has %d transfers open", idle);
    s_fill (worker, NULL, idle + 10, idle, limit);
    /* more than max-transfers (12) of the worker's are open: clients have their own */
    segq_client_t *client = harness_client (h, 10000);
    H_ASSERT (h, s_upload (client, file) == 0, "%s", segq_client_error (client));

    /* a job the broker gives it: eight uploads more */
    char job [SEGQ_JOB_ID_MAX], err [1024];
    const char *argv [] = { "submit", "sleep", "--seconds", "60", "--cpu", "1", NULL };
    H_ASSERT (h, harness_submit (h, argv, job, sizeof job, err, sizeof err) == 0, "%s", err);
    segq_msg_t *assign = raw_expect (worker, SEGQ_MSG_ASSIGN);
    cr_assert_str_eq (assign->u.assign.job, job);
    segq_msg_destroy (&assign);
    char why [600];
    for (int i = 0; i < SEGQ_WORKER_UPLOADS_PER_JOB; i++)
        H_ASSERT (h, s_put (worker, NULL, 100 + (uint64_t) i, ANNOUNCED, why, sizeof why) == 0,
                  "PUT %d for the job refused: %s", i, why);
    cr_assert_eq (s_put (worker, NULL, 200, ANNOUNCED, why, sizeof why), SEGQ_ELIMIT, "%s", why);
    snprintf (limit, sizeof limit, "has %d transfers open", idle + SEGQ_WORKER_UPLOADS_PER_JOB);
    cr_assert (strstr (why, limit), "%s", why);
    zsock_destroy (&worker);
    segq_client_destroy (&client);
    H_ASSERT_CLEAN_STOP (h);
}

/* Uploads under way have the free space they declared: another that
   would not fit beside them is refused up front, not midway. */
Test (transfer_limits, declared_sizes_are_reserved, .init = setup, .fini = teardown, .timeout = 60)
{
    char tmp [600], why [600];
    snprintf (tmp, sizeof tmp, "%s/artifacts/tmp", h->data_dir);
    struct statvfs fs;
    cr_assert_eq (statvfs (tmp, &fs), 0);
    uint64_t most = (uint64_t) fs.f_bavail * fs.f_frsize / 5 * 3; /* of the free space */
    zsock_t *a = s_peer (), *b = s_peer ();
    H_ASSERT (h, s_put (a, "alice", 1, most, why, sizeof why) == 0, "%s", why);
    cr_assert_eq (s_put (b, "bob", 1, most, why, sizeof why), SEGQ_ENOSPC, "%s", why);
    cr_assert (strstr (why, "taken by uploads under way"), "%s", why);
    zsock_destroy (&a);
    zsock_destroy (&b);
    H_ASSERT_CLEAN_STOP (h);
}

/* A broker with room for 4 * USER_SHARE transfers: a user's share. */
#define USER_SHARE (2 * PER_PEER)

static void
setup_shares (void)
{
    s_start_with ("xfer-users", 1500, 4 * USER_SHARE);
}

/* One user's connections, however many, hold a quarter of the transfers
   at most: the others' go on; and libsegq, refused its user's share,
   sends its PUT again until one of them has ended. */
Test (transfer_limits, a_user_holds_a_share_of_the_transfers, .init = setup_shares,
      .fini = teardown, .timeout = 60)
{
    zsock_t *a1 = s_peer (), *a2 = s_peer (), *a3 = s_peer (), *b = s_peer ();
    s_fill (a1, H_USER, PER_PEER, PER_PEER, "");
    s_fill (a2, H_USER, PER_PEER, PER_PEER, "");
    char limit [128];
    snprintf (limit, sizeof limit, "user %s has %d transfers open", H_USER, USER_SHARE);
    s_fill (a3, H_USER, 3, 0, limit);
    s_fill (b, "bob", PER_PEER + 1, PER_PEER, "max-transfers-per-peer 5");

    char file [600];
    snprintf (file, sizeof file, "%s/mine.bin", h->dir);
    cr_assert_eq (harness_write_random_file (file, 1u << 20, 5), 0);
    segq_client_t *client = harness_client (h, 10000);
    zsock_destroy (&a1); /* its transfers expire: the client's PUT gets one */
    int64_t start = zclock_mono ();
    H_ASSERT (h, s_upload (client, file) == 0, "%s", segq_client_error (client));
    H_ASSERT (h, zclock_mono () - start >= 500, "the upload did not wait for its user's share");
    zsock_destroy (&a2);
    zsock_destroy (&a3);
    zsock_destroy (&b);
    segq_client_destroy (&client);
    H_ASSERT_CLEAN_STOP (h);
}
