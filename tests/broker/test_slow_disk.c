/*  test_slow_disk.c: a real segqd whose disk stalls (the slow_disk shim)
    keeps serving everyone else: while an upload waits in its fsync, and
    while a worker's GET waits for a read of an artifact not in memory,
    another client's status is answered again and again, for longer than
    the transfers' expiry; once the disk goes on, the upload is stored and
    answered, and the job whose input was read succeeds. */
#include <criterion/criterion.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "harness.h"

static harness_t *h;
static char gate [600];

static void
setup (void)
{
    h = harness_new ("slow-disk");
    cr_assert_not_null (h);
    h->expiry_ms = 1000;
    snprintf (gate, sizeof gate, "%s/gate", h->dir);
}

static void
teardown (void)
{
    harness_destroy (&h);
}

static void
s_start_broker (const char *fsync_gate, const char *read_gate)
{
    harness_slow_disk (h, fsync_gate, read_gate, 0);
    cr_assert_eq (harness_start_broker (h, NULL), 0, "segqd did not start");
}

/* Waits until the disk is held at the gate, asks another client for the
   status again and again past twice the transfers' expiry (each must be
   answered), then lets the disk go on. */
static void
s_others_served_while_held (void)
{
    char waiting [700];
    snprintf (waiting, sizeof waiting, "%s.waiting", gate);
    for (int64_t until = zclock_mono () + 30000; access (waiting, F_OK) != 0;) {
        H_ASSERT (h, zclock_mono () < until, "the disk was never held at the gate");
        harness_sleep_ms (5);
    }
    segq_client_t *other = harness_client (h, 5000);
    int answered = 0;
    for (int64_t until = zclock_mono () + 2 * h->expiry_ms + 500; zclock_mono () < until;) {
        segq_job_list_t list = { 0 };
        segq_status_query_t all = { 0 };
        H_ASSERT (h, segq_client_status (other, &all, NULL, &list) == 0,
                  "status while the broker's disk is held: %s", segq_client_error (other));
        segq_job_list_clear (&list);
        answered++;
    }
    cr_assert_gt (answered, 1);
    segq_client_destroy (&other);
    FILE *file = fopen (gate, "w");
    cr_assert_not_null (file);
    fclose (file);
}

typedef struct {
    char path [700];
    char hash [SEGQ_HASH_HEX_LEN + 1];
    int rc;
    char err [600];
    atomic_bool ended;
} upload_t;

static void *
s_upload (void *arg)
{
    upload_t *up = arg;
    segq_client_t *client = harness_client (h, 30000);
    up->rc = segq_client_upload (client, up->path, NULL, up->hash, NULL);
    snprintf (up->err, sizeof up->err, "%s", segq_client_error (client));
    segq_client_destroy (&client);
    atomic_store (&up->ended, true);
    return NULL;
}

Test (slow_disk, the_broker_serves_others_while_an_upload_waits_on_the_disk, .init = setup,
      .fini = teardown, .timeout = 120)
{
    s_start_broker (gate, NULL);
    upload_t up = { 0 };
    snprintf (up.path, sizeof up.path, "%s/one.bin", h->dir);
    cr_assert_eq (harness_write_random_file (up.path, 3000, 7), 0);
    pthread_t thread;
    cr_assert_eq (pthread_create (&thread, NULL, s_upload, &up), 0);
    s_others_served_while_held ();
    pthread_join (thread, NULL);
    H_ASSERT (h, up.rc == 0, "upload after the stall: %s", up.err);
    char stored [900];
    snprintf (stored, sizeof stored, "%s/artifacts/%.2s/%s", h->data_dir, up.hash, up.hash);
    cr_assert_eq (access (stored, F_OK), 0, "%s is stored", stored);
    H_ASSERT_CLEAN_STOP (h);
}

Test (slow_disk, the_broker_serves_others_while_a_read_waits_on_the_disk, .init = setup,
      .fini = teardown, .timeout = 120)
{
    s_start_broker (NULL, gate);
    cr_assert_eq (harness_start_worker (h, "w1", 1, NULL), 0);
    char input [700], err [1024], job [SEGQ_JOB_ID_MAX];
    snprintf (input, sizeof input, "%s/in.bin", h->dir);
    cr_assert_eq (harness_write_random_file (input, 3u << 20, 9), 0);
    segq_client_t *c = harness_client (h, 30000);
    segq_job_spec_t *spec = segq_job_spec_new ("echo");
    cr_assert_eq (segq_job_spec_input_file (spec, "files/in.bin", input, err, sizeof err), 0, "%s",
                  err);
    H_ASSERT (h, segq_client_submit (c, spec, job, sizeof job) == 0, "%s", segq_client_error (c));
    segq_job_spec_destroy (&spec);
    /* the worker's GET of the input waits for the disk */
    s_others_served_while_held ();
    segq_job_info_t info = { 0 };
    H_ASSERT (h, harness_wait_final (c, job, 60000, &info) == 0, "job %s never ended", job);
    H_ASSERT (h, info.state == SEGQ_JOB_SUCCEEDED, "job %s: %s %s", job,
              segq_job_state_name (info.state), info.reason ? info.reason : "");
    segq_job_info_clear (&info);
    segq_client_destroy (&c);
    H_ASSERT_CLEAN_STOP (h);
}
