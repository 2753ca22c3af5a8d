/*  test_security.c: CurveZMQ authentication and ownership with real
    processes: the broker's keys, users, an admin and worker nodes, all
    with certificates made here. */
#include <criterion/criterion.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "harness.h"
#include "lab_keys.h"

static harness_t *h;
static char keys [600], certs [700], broker_key [700];

static void
setup (void)
{
    h = harness_new ("security");
    cr_assert_not_null (h);
    lab_keys_make (h->dir, keys, sizeof keys, certs, sizeof certs, broker_key, sizeof broker_key);
    /* known to nobody: never copied into certs/ */
    char outside [700];
    snprintf (outside, sizeof outside, "%s/outside", h->dir);
    lab_cert (outside, "mallory", "user");
    const char *extra [] = { "--keys", keys, NULL };
    cr_assert_eq (harness_start_broker (h, extra), 0, "segqd did not start with --keys");
}

static void
teardown (void)
{
    harness_destroy (&h);
}

/* A client holding NAME's certificate from dir (NULL: the broker's certs/). */
static segq_client_t *
s_client_in (const char *dir, const char *name, const char *key)
{
    char cert [900];
    snprintf (cert, sizeof cert, "%s/%s.cert", dir ? dir : certs, name);
    segq_client_options_t options = { .broker = h->endpoint,
                                      .user = "forged",
                                      .timeout_ms = 3000,
                                      .cert = cert,
                                      .broker_key = key ? key : broker_key };
    segq_client_t *client = NULL;
    char err [1024];
    H_ASSERT (h, segq_client_connect (&options, &client, err, sizeof err) == 0, "%s", err);
    return client;
}

static segq_client_t *
s_client (const char *name)
{
    return s_client_in (NULL, name, NULL);
}

static int
s_start_worker (const char *node, const char *cert_name)
{
    char cert [900];
    snprintf (cert, sizeof cert, "%s/%s.cert", certs, cert_name);
    const char *extra [] = { "--broker-key", broker_key, "--cert", cert, NULL };
    return harness_start_worker (h, node, 1, extra);
}

static void
s_submit_sleep (segq_client_t *c, const char *seconds, char job [SEGQ_JOB_ID_MAX])
{
    segq_job_spec_t *spec = segq_job_spec_new ("sleep");
    char err [256];
    cr_assert_eq (segq_job_spec_param (spec, "seconds", seconds, err, sizeof err), 0, "%s", err);
    H_ASSERT (h, segq_client_submit (c, spec, job, SEGQ_JOB_ID_MAX) == 0, "%s",
              segq_client_error (c));
    segq_job_spec_destroy (&spec);
}

static int
s_cancel (segq_client_t *c, const char *job, char *message, size_t len)
{
    const char *jobs [] = { job };
    segq_cancel_outcome_t *out = NULL;
    size_t n = 0;
    int rc = segq_client_cancel (c, jobs, 1, &out, &n);
    if (rc == 0 && n == 1) {
        rc = out [0].code;
        snprintf (message, len, "%s", out [0].message ? out [0].message : "");
    }
    segq_cancel_outcomes_free (&out, n);
    return rc;
}

Test (security, owner_only_unless_admin, .init = setup, .fini = teardown, .timeout = 120)
{
    cr_assert_geq (s_start_worker ("w1", "w1"), 0, "a worker certificate must register");
    segq_client_t *alice = s_client ("alice"), *bob = s_client ("bob"), *root = s_client ("root");
    char done [SEGQ_JOB_ID_MAX], job [SEGQ_JOB_ID_MAX];
    s_submit_sleep (alice, "0.1", done);
    segq_job_info_t info = { 0 };
    H_ASSERT (h, harness_wait_final (alice, done, 30000, &info) == 0, "job did not end");
    H_ASSERT (h, info.state == SEGQ_JOB_SUCCEEDED, "alice's job on w1 is %s",
              segq_job_state_name (info.state));
    /* the owner is the certificate's name, not the user field the client wrote */
    H_ASSERT (h, info.owner && strcmp (info.owner, "alice") == 0, "owner %s", info.owner);
    segq_job_info_clear (&info);

    /* everyone may list */
    segq_job_list_t list = { 0 };
    segq_status_query_t all = { 0 };
    H_ASSERT (h, segq_client_status (bob, &all, NULL, &list) == 0, "%s", segq_client_error (bob));
    cr_assert_eq (list.n_jobs, 1);
    segq_job_list_clear (&list);

    /* bob may not read alice's logs nor fetch her outputs */
    segq_log_chunk_t chunk = { 0 };
    cr_assert_eq (segq_client_logs (bob, done, 0, 4096, &chunk), SEGQ_EPERM, "%s",
                  segq_client_error (bob));
    cr_assert (strstr (segq_client_error (bob), "belongs to alice"), "%s", segq_client_error (bob));
    char path [700];
    snprintf (path, sizeof path, "%s/fetched", h->dir);
    cr_assert_eq (segq_client_fetch (bob, done, "anything", path, NULL), SEGQ_EPERM, "%s",
                  segq_client_error (bob));
    cr_assert_neq (access (path, F_OK), 0, "nothing fetched");
    /* ... and the owner and an admin may */
    cr_assert_eq (segq_client_logs (alice, done, 0, 4096, &chunk), 0, "%s",
                  segq_client_error (alice));
    segq_log_chunk_clear (&chunk);
    cr_assert_eq (segq_client_logs (root, done, 0, 4096, &chunk), 0, "%s",
                  segq_client_error (root));
    cr_assert_gt (chunk.size, 0);
    segq_log_chunk_clear (&chunk);

    /* cancel: bob refused, the admin allowed */
    s_submit_sleep (alice, "60", job);
    char message [512];
    cr_assert_eq (s_cancel (bob, job, message, sizeof message), SEGQ_EPERM, "bob cancelled: %s",
                  message);
    cr_assert_eq (harness_wait_state (alice, job, SEGQ_JOB_RUNNING, 30000), 0);
    cr_assert_eq (s_cancel (root, job, message, sizeof message), 0, "admin refused: %s", message);
    H_ASSERT (h, harness_wait_final (alice, job, 30000, &info) == 0, "job did not end");
    cr_assert_eq (info.state, SEGQ_JOB_CANCELLED, "%s", segq_job_state_name (info.state));
    segq_job_info_clear (&info);

    segq_client_destroy (&alice);
    segq_client_destroy (&bob);
    segq_client_destroy (&root);
    H_ASSERT_CLEAN_STOP (h);
}

/* Priority with keys: the owner reorders its own jobs within the user band;
   another user may not touch them; above the band (ahead of fair share)
   only an admin, in PRIORITY and in SUBMIT alike. */
Test (security, priority_ahead_of_fair_share_is_admin_only, .init = setup, .fini = teardown,
      .timeout = 60)
{
    segq_client_t *alice = s_client ("alice"), *bob = s_client ("bob"), *root = s_client ("root");
    char job [SEGQ_JOB_ID_MAX];
    s_submit_sleep (alice, "0.1", job); /* no worker: it stays queued */
    int32_t was = 0;
    cr_assert_eq (segq_client_priority (alice, job, 5, &was), 0, "%s", segq_client_error (alice));
    cr_assert_eq (segq_client_priority (bob, job, 6, &was), SEGQ_EPERM,
                  "bob reordered alice's job");
    cr_assert_eq (segq_client_priority (alice, job, SEGQ_PRIORITY_USER_MAX + 1, &was), SEGQ_EPERM,
                  "a user raised a job ahead of fair share");
    cr_assert (strstr (segq_client_error (alice), "needs an admin"), "%s",
               segq_client_error (alice));
    cr_assert_eq (segq_client_priority (root, job, SEGQ_PRIORITY_USER_MAX + 1, &was), 0, "%s",
                  segq_client_error (root));
    cr_assert_eq (was, 5);
    /* the same band at submit */
    segq_job_spec_t *spec = segq_job_spec_new ("noop");
    segq_job_spec_set_priority (spec, SEGQ_PRIORITY_USER_MAX + 1);
    char other [SEGQ_JOB_ID_MAX];
    cr_assert_eq (segq_client_submit (bob, spec, other, sizeof other), SEGQ_EPERM, "%s",
                  segq_client_error (bob));
    cr_assert_eq (segq_client_submit (root, spec, other, sizeof other), 0, "%s",
                  segq_client_error (root));
    segq_job_spec_destroy (&spec);
    segq_client_destroy (&alice);
    segq_client_destroy (&bob);
    segq_client_destroy (&root);
    H_ASSERT_CLEAN_STOP (h);
}

Test (security, only_worker_certificates_act_as_workers, .init = setup, .fini = teardown,
      .timeout = 120)
{
    /* a user's certificate cannot register, under any node name */
    cr_assert_lt (s_start_worker ("alice", "alice"), 0, "a user certificate registered");
    /* a worker certificate registers only under its own name */
    cr_assert_lt (s_start_worker ("w2", "w1"), 0, "w1's certificate registered as w2");
    /* and cannot act as a client */
    segq_client_t *w = s_client ("w1");
    segq_job_spec_t *spec = segq_job_spec_new ("noop");
    char job [SEGQ_JOB_ID_MAX];
    cr_assert_eq (segq_client_submit (w, spec, job, sizeof job), SEGQ_EPERM, "%s",
                  segq_client_error (w));
    cr_assert (strstr (segq_client_error (w), "cannot send client requests"), "%s",
               segq_client_error (w));
    segq_job_spec_destroy (&spec);
    /* not even ask the kinds, which users and admins ask (SPEC 7, KINDS) */
    segq_kind_info_t *kinds = NULL;
    size_t n_kinds = 0;
    cr_assert_eq (segq_client_kinds (w, &kinds, &n_kinds), SEGQ_EPERM, "%s", segq_client_error (w));
    segq_client_destroy (&w);
    /* a plain (no CURVE) client gets nowhere */
    segq_client_t *plain = harness_client (h, 2000);
    segq_job_list_t list = { 0 };
    segq_status_query_t all = { 0 };
    cr_assert_lt (segq_client_status (plain, &all, NULL, &list), 0);
    segq_client_destroy (&plain);
    /* the refused workers gave up (exit status 1) rather than retrying */
    for (int i = 0; i < h->n_workers; i++)
        cr_assert (!harness_worker_alive (h, i), "refused worker %d still running", i);
}

Test (security, unknown_certificate_and_wrong_broker_key_refused, .init = setup, .fini = teardown,
      .timeout = 60)
{
    char outside [700];
    snprintf (outside, sizeof outside, "%s/outside", h->dir);
    /* an unknown certificate: ZAP refuses it, and the client says so at once
       (the socket monitor's HANDSHAKE_FAILED_AUTH), not after its timeout */
    segq_client_t *mallory = s_client_in (outside, "mallory", NULL);
    segq_job_list_t list = { 0 };
    segq_status_query_t all = { 0 };
    int64_t started = zclock_mono ();
    cr_assert_eq (segq_client_status (mallory, &all, NULL, &list), SEGQ_EAUTH, "%s",
                  segq_client_error (mallory));
    cr_assert_lt (zclock_mono () - started, 2500, "waited for the timeout");
    const char *said = segq_client_error (mallory);
    cr_assert (strstr (said, "refused your certificate") && strstr (said, "mallory.cert")
                   && strstr (said, "certs/") && !strstr (said, "broker key"),
               "%s", said);
    segq_client_destroy (&mallory);
    /* a known user with a wrong broker key: the handshake breaks off */
    char wrong [900];
    snprintf (wrong, sizeof wrong, "%s/mallory.cert", outside);
    segq_client_t *alice = s_client_in (NULL, "alice", wrong);
    started = zclock_mono ();
    cr_assert_eq (segq_client_status (alice, &all, NULL, &list), SEGQ_EAUTH, "%s",
                  segq_client_error (alice));
    cr_assert_lt (zclock_mono () - started, 2500, "waited for the timeout");
    said = segq_client_error (alice);
    cr_assert (strstr (said, "broker key") && strstr (said, "--broker-key")
                   && !strstr (said, "refused your certificate"),
               "%s", said);
    segq_client_destroy (&alice);
    /* no certificate at all: said before anything is sent */
    segq_client_options_t options = { .broker = h->endpoint,
                                      .cert = "/nonexistent/me.cert",
                                      .broker_key = broker_key };
    segq_client_t *none = NULL;
    char err [1024] = "";
    cr_assert_eq (segq_client_connect (&options, &none, err, sizeof err), SEGQ_EAUTH);
    cr_assert (strstr (err, "segq keygen"), "%s", err);
    H_ASSERT_CLEAN_STOP (h);
}

Test (security, removed_certificate_refused_on_next_request, .init = setup, .fini = teardown,
      .timeout = 60)
{
    segq_client_t *bob = s_client ("bob");
    segq_job_list_t list = { 0 };
    segq_status_query_t all = { 0 };
    H_ASSERT (h, segq_client_status (bob, &all, NULL, &list) == 0, "%s", segq_client_error (bob));
    segq_job_list_clear (&list);
    char path [900];
    snprintf (path, sizeof path, "%s/bob.cert", certs);
    cr_assert_eq (unlink (path), 0);
    /* the same connection, already authenticated by ZAP */
    cr_assert_eq (segq_client_status (bob, &all, NULL, &list), SEGQ_EAUTH, "%s",
                  segq_client_error (bob));
    segq_client_destroy (&bob);
    /* a certificate added while running is taken at once */
    lab_cert (certs, "carol", "user");
    segq_client_t *carol = s_client ("carol");
    H_ASSERT (h, segq_client_status (carol, &all, NULL, &list) == 0, "%s",
              segq_client_error (carol));
    segq_job_list_clear (&list);
    segq_client_destroy (&carol);
    H_ASSERT_CLEAN_STOP (h);
}

/* Rewrites the file at path in place (same inode, truncated and written
   again, as an editor that saves in place does), with `from` replaced by `to`. */
static void
s_edit_in_place (const char *path, const char *from, const char *to)
{
    char text [8192];
    FILE *in = fopen (path, "r");
    cr_assert_not_null (in, "%s", path);
    size_t n = fread (text, 1, sizeof text - 1, in);
    fclose (in);
    text [n] = 0;
    char *at = strstr (text, from);
    cr_assert_not_null (at, "%s has no '%s'", path, from);
    char edited [8192];
    snprintf (edited, sizeof edited, "%.*s%s%s", (int) (at - text), text, to, at + strlen (from));
    int fd = open (path, O_WRONLY | O_TRUNC);
    cr_assert_geq (fd, 0, "%s", path);
    cr_assert_eq (write (fd, edited, strlen (edited)), (ssize_t) strlen (edited));
    cr_assert_eq (close (fd), 0);
}

/* An admin demoted by editing its certificate in place (same key, no file
   added or removed: the folder itself does not change) loses the admin's
   rights at its next request, on the connection it already has. */
Test (security, certificate_edited_in_place_takes_effect, .init = setup, .fini = teardown,
      .timeout = 60)
{
    segq_client_t *root = s_client ("root"), *alice = s_client ("alice");
    char job [SEGQ_JOB_ID_MAX];
    s_submit_sleep (root, "0.1", job); /* no worker: it stays queued */
    /* the folder last changed long ago, and the broker has seen it so */
    struct timespec past [2] = { { .tv_sec = time (NULL) - 3600 },
                                 { .tv_sec = time (NULL) - 3600 } };
    cr_assert_eq (utimensat (AT_FDCWD, certs, past, 0), 0);
    int32_t was = 0;
    H_ASSERT (h, segq_client_priority (root, job, SEGQ_PRIORITY_USER_MAX + 1, &was) == 0, "%s",
              segq_client_error (root));

    struct stat before, after;
    cr_assert_eq (stat (certs, &before), 0);
    char path [900];
    snprintf (path, sizeof path, "%s/root.cert", certs);
    s_edit_in_place (path, "role = \"admin\"", "role = \"user\"");
    struct timespec kept [2] = { before.st_atim, before.st_mtim };
    cr_assert_eq (utimensat (AT_FDCWD, certs, kept, 0), 0);
    cr_assert_eq (stat (certs, &after), 0);
    cr_assert (after.st_mtim.tv_sec == before.st_mtim.tv_sec
                   && after.st_mtim.tv_nsec == before.st_mtim.tv_nsec,
               "the folder looks unchanged");

    cr_assert_eq (segq_client_priority (root, job, SEGQ_PRIORITY_USER_MAX + 2, &was), SEGQ_EPERM,
                  "a demoted admin still raised a job ahead of fair share");
    cr_assert (strstr (segq_client_error (root), "needs an admin"), "%s", segq_client_error (root));
    /* still known, now as a user: its own job within the user band */
    H_ASSERT (h, segq_client_priority (root, job, 3, &was) == 0, "%s", segq_client_error (root));
    /* the other certificates are as they were */
    segq_job_list_t list = { 0 };
    segq_status_query_t all = { 0 };
    H_ASSERT (h, segq_client_status (alice, &all, NULL, &list) == 0, "%s",
              segq_client_error (alice));
    segq_job_list_clear (&list);
    segq_client_destroy (&root);
    segq_client_destroy (&alice);
    H_ASSERT_CLEAN_STOP (h);
}

Test (security, no_keys_binds_only_loopback, .timeout = 30)
{
    harness_t *self = harness_new ("security-nokeys");
    cr_assert_not_null (self);
    char command [2048];
    snprintf (command, sizeof command, "%s --bind tcp://0.0.0.0:%d --data-dir %s/d 2>&1",
              harness_binary ("segqd"), H_PORT_MIN - 1, self->dir);
    FILE *out = popen (command, "r");
    cr_assert_not_null (out);
    char text [2048] = "";
    size_t n = fread (text, 1, sizeof text - 1, out);
    text [n] = 0;
    int status = pclose (out);
    cr_assert (WIFEXITED (status) && WEXITSTATUS (status) != 0, "segqd accepted 0.0.0.0: %s", text);
    cr_assert (strstr (text, "without keys") && strstr (text, "--keys"), "%s", text);
    harness_destroy (&self);
}

/* A pool certificate NAME-* (the worker jobs a batch system starts: `segq
   slurm-scale`, docs/slurm.md) registers NAME-N for a number N, nothing
   else, and its worker runs jobs as any other. */
Test (security, pool_certificate_registers_numbered_nodes, .init = setup, .fini = teardown,
      .timeout = 120)
{
    lab_cert (certs, "pool-*", "worker");
    /* read by the broker once its client requests are refused as a
       worker's (EPERM), not its connection as unknown (EAUTH) */
    segq_client_t *pool = s_client ("pool-*");
    int rc = SEGQ_EAUTH;
    for (int i = 0; i < 100 && rc != SEGQ_EPERM; i++, harness_sleep_ms (100)) {
        segq_kind_info_t *kinds = NULL;
        size_t n = 0;
        rc = segq_client_kinds (pool, &kinds, &n);
        segq_kinds_free (&kinds, n);
    }
    segq_client_destroy (&pool);
    cr_assert_eq (rc, SEGQ_EPERM, "the broker never took the pool certificate");
    static const char *const refused [] = { "pool-x", "pool-", "pool-1-2", "w1" };
    for (size_t i = 0; i < sizeof refused / sizeof *refused; i++)
        cr_assert_lt (s_start_worker (refused [i], "pool-*"), 0, "pool-* registered as %s",
                      refused [i]);
    cr_assert_lt (s_start_worker ("pool-7", "w1"), 0, "w1's certificate registered as pool-7");
    cr_assert_geq (s_start_worker ("pool-42", "pool-*"), 0, "pool-* did not register as pool-42");
    segq_client_t *alice = s_client ("alice");
    char job [SEGQ_JOB_ID_MAX];
    s_submit_sleep (alice, "0.1", job);
    segq_job_info_t info = { 0 };
    H_ASSERT (h, harness_wait_final (alice, job, 30000, &info) == 0, "job did not end");
    H_ASSERT (h, info.state == SEGQ_JOB_SUCCEEDED && !strcmp (info.worker, "pool-42"),
              "alice's job is %s on %s", segq_job_state_name (info.state), info.worker);
    segq_job_info_clear (&info);
    segq_client_destroy (&alice);
    H_ASSERT_CLEAN_STOP (h);
}
