/*  test_slow_disk.c: a real segqd whose disk stalls in an upload's fsync
    (the slow_fsync shim) keeps serving everyone else meanwhile, and the
    upload, idle on the wire for longer than the transfers' expiry while
    it is finished, is stored and answered once the disk goes on. */
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
    harness_slow_disk (h, gate, 0);
    cr_assert_eq (harness_start_broker (h, NULL), 0, "segqd did not start");
}

static void
teardown (void)
{
    harness_destroy (&h);
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
    upload_t up = { 0 };
    snprintf (up.path, sizeof up.path, "%s/one.bin", h->dir);
    cr_assert_eq (harness_write_random_file (up.path, 3000, 7), 0);
    pthread_t thread;
    cr_assert_eq (pthread_create (&thread, NULL, s_upload, &up), 0);
    char waiting [700];
    snprintf (waiting, sizeof waiting, "%s.waiting", gate);
    for (int64_t until = zclock_mono () + 30000; access (waiting, F_OK) != 0;) {
        H_ASSERT (h, zclock_mono () < until, "the upload never reached its fsync");
        harness_sleep_ms (5);
    }
    /* the upload is stuck in its fsync: another client is answered, again
       and again, past twice the expiry of an idle transfer */
    segq_client_t *other = harness_client (h, 5000);
    int answered = 0;
    for (int64_t until = zclock_mono () + 2 * h->expiry_ms + 500; zclock_mono () < until;) {
        segq_job_list_t list = { 0 };
        segq_status_query_t all = { 0 };
        H_ASSERT (h, segq_client_status (other, &all, NULL, &list) == 0,
                  "status while an upload waits on the disk: %s", segq_client_error (other));
        segq_job_list_clear (&list);
        answered++;
    }
    cr_assert_not (atomic_load (&up.ended), "the upload is still waiting: %s", up.err);
    /* the disk goes on: the upload is stored and answered */
    FILE *file = fopen (gate, "w");
    cr_assert_not_null (file);
    fclose (file);
    pthread_join (thread, NULL);
    H_ASSERT (h, up.rc == 0, "upload after the stall: %s", up.err);
    char stored [900];
    snprintf (stored, sizeof stored, "%s/artifacts/%.2s/%s", h->data_dir, up.hash, up.hash);
    cr_assert_eq (access (stored, F_OK), 0, "%s is stored", stored);
    cr_assert_gt (answered, 1);
    segq_client_destroy (&other);
    H_ASSERT_CLEAN_STOP (h);
}
