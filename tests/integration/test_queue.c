/*  test_queue.c: the queue end to end with real segqd and segq-worker
    processes on loopback: throughput with exactly-once, dependencies,
    cancel, a large artifact, refusal of bad input, version mismatch. */
#include <criterion/criterion.h>
#include <jansson.h>
#include <signal.h>
#include <sys/stat.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "harness.h"

static harness_t *h;

static void
setup (void)
{
    h = harness_new ("queue");
    cr_assert_not_null (h);
    cr_assert_eq (harness_start_broker (h, NULL), 0, "segqd did not start");
}

static void
teardown (void)
{
    harness_destroy (&h);
}

static void
s_start_workers (int n, int slots)
{
    for (int i = 0; i < n; i++) {
        char node [32];
        snprintf (node, sizeof node, "w%d", i + 1);
        H_ASSERT (h, harness_start_worker (h, node, slots, NULL) == i, "worker %s did not register",
                  node);
    }
}

static void
s_submit (segq_client_t *c, segq_job_spec_t *spec, char job [SEGQ_JOB_ID_MAX])
{
    H_ASSERT (h, segq_client_submit (c, spec, job, SEGQ_JOB_ID_MAX) == 0, "submit: %s",
              segq_client_error (c));
}

static segq_job_spec_t *
s_spec (const char *kind, const char *param, const char *value)
{
    segq_job_spec_t *spec = segq_job_spec_new (kind);
    char err [512];
    cr_assert_not_null (spec);
    if (param)
        cr_assert_eq (segq_job_spec_param (spec, param, value, err, sizeof err), 0, "%s", err);
    return spec;
}

/* 1000 `sleep 0` jobs through 2 workers, submitted pipelined: all succeed,
   each ran exactly once (journal), nothing else ran. */
/* Each `sleep` job is a process start: about 20 ms on an idle machine,
   but 0.5 s under ASan on two cores loaded by parallel builds, hence the
   generous bound. */
Test (queue, thousand_sleep_jobs_exactly_once, .init = setup, .fini = teardown, .timeout = 600)
{
    enum { N = 1000, WINDOW = 200 };
    s_start_workers (2, 2);
    segq_client_t *c = harness_client (h, 10000);
    segq_job_spec_t *spec = s_spec ("sleep", "seconds", "0");
    static char ids [N][SEGQ_JOB_ID_MAX];
    size_t sent = 0, acked = 0;
    while (acked < N) {
        while (sent < N && sent - acked < WINDOW) {
            uint64_t req;
            H_ASSERT (h, segq_client_submit_send (c, spec, &req) == 0, "%s", segq_client_error (c));
            sent++;
        }
        segq_submit_reply_t r;
        H_ASSERT (h, segq_client_submit_recv (c, -1, &r) == 0, "%s", segq_client_error (c));
        H_ASSERT (h, r.code == 0, "submit refused: %s", r.message);
        memcpy (ids [acked++], r.job, SEGQ_JOB_ID_MAX);
    }
    segq_job_spec_destroy (&spec);
    /* Every acknowledged id succeeds. */
    for (size_t i = 0; i < N; i++) {
        segq_job_info_t info;
        H_ASSERT (h, harness_wait_final (c, ids [i], 540000, &info) == 0, "job %s did not end",
                  ids [i]);
        H_ASSERT (h, info.state == SEGQ_JOB_SUCCEEDED, "job %s %s: %s", ids [i],
                  segq_job_state_name (info.state), info.reason ? info.reason : "");
        H_ASSERT (h, info.attempt == 1, "job %s took %u attempts with no fault", ids [i],
                  info.attempt);
        segq_job_info_clear (&info);
    }
    /* The journal: each exactly once, attempt 1, and no stranger. */
    size_t n;
    h_journal_entry_t *j = harness_journal (h, &n);
    H_ASSERT (h, n == N, "journal has %zu executions for %d jobs", n, N);
    for (size_t i = 0; i < N; i++) {
        size_t seen = 0;
        for (size_t k = 0; k < n; k++)
            if (strcmp (j [k].job, ids [i]) == 0) {
                seen++;
                cr_assert_eq (j [k].attempt, 1);
            }
        cr_assert_eq (seen, 1, "job %s ran %zu times", ids [i], seen);
    }
    free (j);
    segq_client_destroy (&c);
    H_ASSERT_CLEAN_STOP (h);
}

/* echo -> echo -> echo: each passes the first one's file on by name; the
   dependents wait, and a failed dependency fails its dependents. */
Test (queue, dependency_chain_of_three_echo_jobs, .init = setup, .fini = teardown, .timeout = 60)
{
    s_start_workers (1, 2);
    segq_client_t *c = harness_client (h, 0);
    char path [600], err [512];
    snprintf (path, sizeof path, "%s/hello.txt", h->dir);
    FILE *f = fopen (path, "w");
    cr_assert_not_null (f);
    fputs ("hello, chain\n", f);
    fclose (f);
    char ids [3][SEGQ_JOB_ID_MAX];
    for (int i = 0; i < 3; i++) {
        segq_job_spec_t *spec = s_spec ("echo", NULL, NULL);
        int rc = i == 0
                     ? segq_job_spec_input_file (spec, "files", path, err, sizeof err)
                     : segq_job_spec_input_job (spec, "files", ids [i - 1], NULL, err, sizeof err);
        cr_assert_eq (rc, 0, "%s", err);
        s_submit (c, spec, ids [i]);
        segq_job_spec_destroy (&spec);
    }
    segq_job_info_t info [3];
    for (int i = 0; i < 3; i++) {
        H_ASSERT (h, harness_wait_final (c, ids [i], 30000, &info [i]) == 0, "%s did not end",
                  ids [i]);
        H_ASSERT (h, info [i].state == SEGQ_JOB_SUCCEEDED, "%s %s: %s", ids [i],
                  segq_job_state_name (info [i].state), info [i].reason ? info [i].reason : "");
        H_ASSERT (h, info [i].n_outputs == 1, "%s has %zu outputs", ids [i], info [i].n_outputs);
        if (i > 0) {
            cr_assert_geq (info [i].started, info [i - 1].finished - 0.001,
                           "%s started before its dependency %s ended", ids [i], ids [i - 1]);
            /* Names stay intact from job to job: they must not grow a
               directory level per hop. */
            cr_assert_str_eq (info [i].outputs [0].name, info [i - 1].outputs [0].name,
                              "output of %s is named '%s', its input (output of %s) was '%s'",
                              ids [i], info [i].outputs [0].name, ids [i - 1],
                              info [i - 1].outputs [0].name);
        }
    }
    /* The file arrives at the end of the chain intact, with its name. */
    char out [600];
    snprintf (out, sizeof out, "%s/fetched.txt", h->dir);
    H_ASSERT (h, segq_client_fetch (c, ids [2], info [2].outputs [0].name, out, NULL) == 0, "%s",
              segq_client_error (c));
    cr_assert (strstr (info [2].outputs [0].name, "hello.txt") != NULL, "output named '%s'",
               info [2].outputs [0].name);
    char text [64] = "";
    f = fopen (out, "r");
    cr_assert_not_null (f);
    cr_assert_not_null (fgets (text, sizeof text, f));
    fclose (f);
    cr_assert_str_eq (text, "hello, chain\n");
    for (int i = 0; i < 3; i++)
        segq_job_info_clear (&info [i]);

    /* A failed dependency fails the job that waits on it, saying why. */
    char failed [SEGQ_JOB_ID_MAX], dependent [SEGQ_JOB_ID_MAX];
    segq_job_spec_t *spec = s_spec ("fail", "code", "3");
    s_submit (c, spec, failed);
    segq_job_spec_destroy (&spec);
    spec = s_spec ("echo", NULL, NULL);
    cr_assert_eq (segq_job_spec_input_job (spec, "files", failed, NULL, err, sizeof err), 0);
    s_submit (c, spec, dependent);
    segq_job_spec_destroy (&spec);
    segq_job_info_t d;
    H_ASSERT (h, harness_wait_final (c, dependent, 30000, &d) == 0, "dependent did not end");
    H_ASSERT (h, d.state == SEGQ_JOB_FAILED, "dependent of a failed job is %s",
              segq_job_state_name (d.state));
    H_ASSERT (h, d.reason && strstr (d.reason, failed), "reason '%s' does not name %s",
              d.reason ? d.reason : "(none)", failed);
    segq_job_info_clear (&d);
    segq_client_destroy (&c);
    H_ASSERT_CLEAN_STOP (h);
}

Test (queue, cancel_queued_and_running_jobs, .init = setup, .fini = teardown, .timeout = 60)
{
    s_start_workers (1, 1);
    segq_client_t *c = harness_client (h, 0);
    char running [SEGQ_JOB_ID_MAX], queued [SEGQ_JOB_ID_MAX], after [SEGQ_JOB_ID_MAX];
    segq_job_spec_t *spec = s_spec ("sleep", "seconds", "60");
    s_submit (c, spec, running);
    s_submit (c, spec, queued);
    segq_job_spec_destroy (&spec);
    H_ASSERT (h, harness_wait_state (c, running, SEGQ_JOB_RUNNING, 15000) == 0, "%s never ran",
              running);
    segq_job_info_t info;
    cr_assert_eq (segq_client_job (c, queued, false, &info), 0);
    cr_assert_eq (info.state, SEGQ_JOB_QUEUED, "one slot: the second job should queue");
    segq_job_info_clear (&info);

    /* Queued: cancelled at once. */
    segq_cancel_outcome_t *out;
    size_t n;
    const char *q [] = { queued };
    H_ASSERT (h, segq_client_cancel (c, q, 1, &out, &n) == 0, "%s", segq_client_error (c));
    cr_assert_eq (n, 1);
    cr_assert_eq (out [0].code, 0, "cancel queued: %s", out [0].message ? out [0].message : "");
    segq_cancel_outcomes_free (&out, n);
    cr_assert_eq (segq_client_job (c, queued, false, &info), 0);
    cr_assert_eq (info.state, SEGQ_JOB_CANCELLED, "queued job is %s after cancel",
                  segq_job_state_name (info.state));
    segq_job_info_clear (&info);

    /* Running: the child is stopped and the job ends cancelled. */
    const char *r [] = { running };
    H_ASSERT (h, segq_client_cancel (c, r, 1, &out, &n) == 0, "%s", segq_client_error (c));
    cr_assert_eq (out [0].code, 0, "cancel running: %s", out [0].message ? out [0].message : "");
    segq_cancel_outcomes_free (&out, n);
    H_ASSERT (h, harness_wait_final (c, running, 15000, &info) == 0,
              "running job not ended after cancel");
    H_ASSERT (h, info.state == SEGQ_JOB_CANCELLED, "running job is %s after cancel",
              segq_job_state_name (info.state));
    segq_job_info_clear (&info);

    /* The worker survived and its slot is free again. */
    cr_assert (harness_worker_alive (h, 0));
    spec = s_spec ("sleep", "seconds", "0");
    s_submit (c, spec, after);
    segq_job_spec_destroy (&spec);
    H_ASSERT (h, harness_wait_final (c, after, 15000, &info) == 0,
              "job after the cancels did not end");
    H_ASSERT (h, info.state == SEGQ_JOB_SUCCEEDED, "job after the cancels: %s",
              segq_job_state_name (info.state));
    segq_job_info_clear (&info);
    segq_client_destroy (&c);
    H_ASSERT_CLEAN_STOP (h);
}

/* Submits an echo job of `path` and returns how many file bytes that sent. */
static uint64_t
s_submit_echo_of (segq_client_t *c, const char *path)
{
    char err [512], job [SEGQ_JOB_ID_MAX];
    segq_job_spec_t *spec = s_spec ("echo", NULL, NULL);
    cr_assert_eq (segq_job_spec_input_file (spec, "files", path, err, sizeof err), 0, "%s", err);
    uint64_t before = segq_client_bytes_uploaded (c);
    s_submit (c, spec, job);
    segq_job_spec_destroy (&spec);
    return segq_client_bytes_uploaded (c) - before;
}

/* The client's hash cache: a re-submit of an unchanged input names its
   hash and the broker skips the upload; a changed file, a wrong entry and
   a file still being written are sent. No worker: the jobs just queue. */
Test (queue, unchanged_input_resubmitted_is_not_sent_again, .init = setup, .fini = teardown,
      .timeout = 60)
{
    char path [600], fresh [600], cache [600], err [512];
    snprintf (path, sizeof path, "%s/polyp.bin", h->dir);
    snprintf (fresh, sizeof fresh, "%s/fresh.bin", h->dir);
    snprintf (cache, sizeof cache, "%s/cache/segq/hashes", h->dir);
    cr_assert_eq (harness_write_random_file (path, 1 << 20, 3), 0);
    harness_sleep_ms (1100); /* only settled files are remembered */
    segq_client_options_t options = {
        .broker = h->endpoint, .user = "tester", .timeout_ms = 10000, .hash_cache = cache
    };
    segq_client_t *c = NULL;
    cr_assert_eq (segq_client_connect (&options, &c, err, sizeof err), 0, "%s", err);
    cr_assert_eq (s_submit_echo_of (c, path), 1 << 20, "first submit sends the file");
    cr_assert_eq (s_submit_echo_of (c, path), 0, "a re-submit of the unchanged file is sent again");
    segq_client_destroy (&c);
    /* another client (another segq command) reads what the first wrote */
    cr_assert_eq (segq_client_connect (&options, &c, err, sizeof err), 0, "%s", err);
    cr_assert_eq (s_submit_echo_of (c, path), 0, "the cache file was not read back");

    /* a wrong entry for this very stat: the broker's check catches it, and
       the file goes as new */
    FILE *f = fopen (cache, "r+");
    cr_assert_not_null (f);
    char line [512];
    cr_assert_not_null (fgets (line, sizeof line, f));
    size_t at = strlen (line) - 1 - SEGQ_HASH_HEX_LEN;
    cr_assert_eq (fseek (f, (long) at, SEEK_SET), 0);
    fputs ("0000000000000000000000000000000000000000000000000000000000000000", f);
    fclose (f);
    segq_client_destroy (&c);
    cr_assert_eq (segq_client_connect (&options, &c, err, sizeof err), 0, "%s", err);
    /* sent under the wrong hash (refused at its end), then as new */
    cr_assert_eq (s_submit_echo_of (c, path), 2u << 20, "a wrong entry must not stop the upload");

    /* changed: sent; written just now: sent, and sent again (not remembered) */
    cr_assert_eq (harness_write_random_file (path, 1 << 20, 4), 0);
    cr_assert_eq (s_submit_echo_of (c, path), 1 << 20, "a changed file must be sent");
    cr_assert_eq (harness_write_random_file (fresh, 4096, 5), 0);
    cr_assert_eq (s_submit_echo_of (c, fresh), 4096);
    cr_assert_eq (s_submit_echo_of (c, fresh), 4096, "a file under a second old was remembered");
    segq_client_destroy (&c);
    H_ASSERT_CLEAN_STOP (h);
}

/* 50 MB up through the client, through a worker and back, sha256 checked. */
Test (queue, artifact_round_trip_50mb, .init = setup, .fini = teardown, .timeout = 120)
{
    s_start_workers (1, 1);
    segq_client_t *c = harness_client (h, 30000);
    char path [600], back [600], err [512];
    snprintf (path, sizeof path, "%s/big.bin", h->dir);
    snprintf (back, sizeof back, "%s/big.back", h->dir);
    cr_assert_eq (harness_write_random_file (path, 50u << 20, 7), 0);
    char hash [SEGQ_HASH_HEX_LEN + 1];
    cr_assert_eq (segq_sha256_file (path, hash), 0);
    segq_job_spec_t *spec = s_spec ("echo", NULL, NULL);
    cr_assert_eq (segq_job_spec_input_file (spec, "files", path, err, sizeof err), 0, "%s", err);
    char job [SEGQ_JOB_ID_MAX];
    s_submit (c, spec, job);
    segq_job_spec_destroy (&spec);
    segq_job_info_t info;
    H_ASSERT (h, harness_wait_final (c, job, 90000, &info) == 0, "echo of 50 MB did not end");
    H_ASSERT (h, info.state == SEGQ_JOB_SUCCEEDED, "echo: %s", info.reason ? info.reason : "");
    cr_assert_eq (info.n_outputs, 1);
    cr_assert_eq (info.outputs [0].size, 50u << 20);
    cr_assert_str_eq (info.outputs [0].hash, hash);
    char got [SEGQ_HASH_HEX_LEN + 1];
    H_ASSERT (h, segq_client_fetch (c, job, info.outputs [0].name, back, got) == 0, "%s",
              segq_client_error (c));
    cr_assert_str_eq (got, hash);
    char again [SEGQ_HASH_HEX_LEN + 1];
    cr_assert_eq (segq_sha256_file (back, again), 0);
    cr_assert_str_eq (again, hash, "the file on disk is not what was sent");
    /* Uploading it again hashing first is skipped by hash; streaming it
       again sends it and the broker keeps its one copy. Both give the hash. */
    uint64_t size;
    cr_assert_eq (segq_client_upload_hash_first (c, path, NULL, again, &size), 0, "%s",
                  segq_client_error (c));
    cr_assert_str_eq (again, hash);
    memset (again, 0, sizeof again);
    cr_assert_eq (segq_client_upload (c, path, NULL, again, &size), 0, "%s", segq_client_error (c));
    cr_assert_str_eq (again, hash);
    cr_assert_eq (size, 50u << 20);
    segq_job_info_clear (&info);
    segq_client_destroy (&c);
    H_ASSERT_CLEAN_STOP (h);
}

/* ---- uploads against a real segqd, by hand (SPEC 10.1) ---- */

static segq_msg_t *
s_raw_recv (zsock_t *sock)
{
    segq_msg_t *msg = NULL;
    char err [256];
    int rc = segq_msg_recv (sock, NULL, &msg, NULL, err, sizeof err);
    H_ASSERT (h, rc == 0 && msg, "no answer from segqd: %s", err);
    return msg;
}

/* PUT{size} (hash: NULL for hash-at-the-end); returns the transfer id. */
static uint64_t
s_raw_put (zsock_t *sock, const char *hash, uint64_t size)
{
    segq_msg_t *put = segq_msg_new (SEGQ_MSG_PUT);
    put->u.put.req_id = 41;
    put->u.put.size = size;
    put->u.put.user = strdup ("tester"); /* the uploader: the hash is then theirs to name */
    if (hash)
        snprintf (put->u.put.hash, sizeof put->u.put.hash, "%s", hash);
    cr_assert_eq (segq_msg_send (&put, sock, NULL), 0);
    segq_msg_t *ready = s_raw_recv (sock);
    cr_assert_eq (ready->type, SEGQ_MSG_PUT_READY, "PUT answered %s",
                  segq_msg_type_name (ready->type));
    cr_assert_not (ready->u.put_ready.have);
    uint64_t xfer = ready->u.put_ready.transfer;
    segq_msg_destroy (&ready);
    return xfer;
}

static void
s_raw_chunk (zsock_t *sock, uint64_t xfer, uint64_t off, const void *data, size_t n, bool last,
             const char *hash)
{
    segq_msg_t *chunk = segq_msg_new (SEGQ_MSG_CHUNK);
    chunk->u.chunk.transfer = xfer;
    chunk->u.chunk.offset = off;
    chunk->u.chunk.last = last;
    if (hash)
        snprintf (chunk->u.chunk.hash, sizeof chunk->u.chunk.hash, "%s", hash);
    chunk->u.chunk.data = zframe_new (data, n);
    cr_assert_eq (segq_msg_send (&chunk, sock, NULL), 0);
}

/* PUT_DONE's code, skipping CREDITs. */
static int
s_raw_done (zsock_t *sock, char *message, size_t len)
{
    for (;;) {
        segq_msg_t *msg = s_raw_recv (sock);
        if (msg->type == SEGQ_MSG_CREDIT) {
            segq_msg_destroy (&msg);
            continue;
        }
        cr_assert_eq (msg->type, SEGQ_MSG_PUT_DONE, "got %s", segq_msg_type_name (msg->type));
        int code = msg->u.put_done.code;
        snprintf (message, len, "%s", msg->u.put_done.message ? msg->u.put_done.message : "");
        segq_msg_destroy (&msg);
        return code;
    }
}

/* Files under the broker's artifacts/ (tmp/ included), not counting folders. */
static size_t
s_artifact_files (void)
{
    char cmd [700];
    snprintf (cmd, sizeof cmd, "find '%s/artifacts' -type f | wc -l", h->data_dir);
    FILE *p = popen (cmd, "r");
    cr_assert_not_null (p);
    size_t n = 0;
    cr_assert_eq (fscanf (p, "%zu", &n), 1);
    pclose (p);
    return n;
}

Test (queue, upload_hash_at_the_end_is_verified_and_stored_once, .init = setup, .fini = teardown,
      .timeout = 60)
{
    zsock_t *sock = zsock_new_dealer (h->endpoint);
    cr_assert_not_null (sock);
    zsock_set_rcvtimeo (sock, 10000);
    static uint8_t data [3000];
    for (size_t i = 0; i < sizeof data; i++)
        data [i] = (uint8_t) (i * 131 + 7);
    char hash [SEGQ_HASH_HEX_LEN + 1], wrong [SEGQ_HASH_HEX_LEN + 1], msg [512];
    segq_sha256_t sha;
    segq_sha256_init (&sha);
    segq_sha256_update (&sha, data, sizeof data);
    segq_sha256_final (&sha, hash);
    segq_sha256_init (&sha);
    segq_sha256_update (&sha, "x", 1);
    segq_sha256_final (&sha, wrong);
    size_t before = s_artifact_files ();

    /* the hash named at the end is not the data's: EHASH, nothing stored */
    uint64_t xfer = s_raw_put (sock, NULL, sizeof data);
    s_raw_chunk (sock, xfer, 0, data, 2000, false, NULL);
    s_raw_chunk (sock, xfer, 2000, data + 2000, 1000, true, wrong);
    cr_assert_eq (s_raw_done (sock, msg, sizeof msg), SEGQ_EHASH, "%s", msg);
    cr_assert_eq (s_artifact_files (), before, "a refused upload left a file");

    /* no hash anywhere: refused */
    xfer = s_raw_put (sock, NULL, sizeof data);
    s_raw_chunk (sock, xfer, 0, data, sizeof data, true, NULL);
    cr_assert_eq (s_raw_done (sock, msg, sizeof msg), SEGQ_EINVAL, "%s", msg);
    cr_assert (strstr (msg, "no sha256"), "%s", msg);

    /* truncated: the final CHUNK comes before `size` bytes; the size PUT
       declared is not trusted for more than that */
    xfer = s_raw_put (sock, NULL, sizeof data);
    s_raw_chunk (sock, xfer, 0, data, 1000, true, hash);
    cr_assert_eq (s_raw_done (sock, msg, sizeof msg), SEGQ_EINVAL, "%s", msg);
    cr_assert_eq (s_artifact_files (), before);

    /* a good upload, then the same content again: both accepted, one copy */
    for (int round = 0; round < 2; round++) {
        xfer = s_raw_put (sock, NULL, sizeof data);
        s_raw_chunk (sock, xfer, 0, data, 2000, false, NULL);
        s_raw_chunk (sock, xfer, 2000, data + 2000, 1000, true, hash);
        cr_assert_eq (s_raw_done (sock, msg, sizeof msg), 0, "round %d: %s", round, msg);
        cr_assert_eq (s_artifact_files (), before + 1, "round %d: not one copy", round);
    }
    /* re-upload naming the hash first: skipped */
    segq_msg_t *put = segq_msg_new (SEGQ_MSG_PUT);
    put->u.put.req_id = 42;
    put->u.put.size = sizeof data;
    put->u.put.user = strdup ("tester");
    memcpy (put->u.put.hash, hash, sizeof hash);
    cr_assert_eq (segq_msg_send (&put, sock, NULL), 0);
    segq_msg_t *ready = s_raw_recv (sock);
    cr_assert_eq (ready->type, SEGQ_MSG_PUT_READY);
    cr_assert (ready->u.put_ready.have, "a known hash was not skipped");
    segq_msg_destroy (&ready);

    /* a stream cut short (the sender goes silent) leaves nothing once the
       transfer expires */
    static uint8_t other [3000];
    memset (other, 0x5a, sizeof other);
    xfer = s_raw_put (sock, NULL, sizeof other);
    s_raw_chunk (sock, xfer, 0, other, 1000, false, NULL);
    segq_msg_t *credit = s_raw_recv (sock);
    cr_assert_eq (credit->type, SEGQ_MSG_CREDIT);
    segq_msg_destroy (&credit);
    cr_assert_eq (s_artifact_files (), before + 2, "the temporary file is there while it lasts");
    int64_t until = zclock_mono () + 4 * h->expiry_ms + 5000;
    while (s_artifact_files () != before + 1 && zclock_mono () < until)
        zclock_sleep (200);
    cr_assert_eq (s_artifact_files (), before + 1, "a truncated upload left its temporary file");
    zsock_destroy (&sock);
    H_ASSERT_CLEAN_STOP (h);
}

/* Send a hand-built SUBMIT, bypassing libsegq's own checks, and return the
   reply's error code (0 if accepted). */
static int
s_raw_submit (segq_msg_t *msg, char *message, size_t len)
{
    zsock_t *sock = zsock_new_dealer (h->endpoint);
    cr_assert_not_null (sock);
    zsock_set_rcvtimeo (sock, 5000);
    cr_assert_eq (segq_msg_send (&msg, sock, NULL), 0);
    segq_msg_t *reply = NULL;
    char err [256];
    int rc = segq_msg_recv (sock, NULL, &reply, NULL, err, sizeof err);
    H_ASSERT (h, rc == 0 && reply, "no reply to a raw SUBMIT: %s", err);
    int code = 0;
    if (reply->type == SEGQ_MSG_ERROR) {
        code = reply->u.error.code;
        snprintf (message, len, "%s", reply->u.error.message ? reply->u.error.message : "");
    } else
        cr_assert_eq (reply->type, SEGQ_MSG_SUBMITTED);
    segq_msg_destroy (&reply);
    zsock_destroy (&sock);
    return code;
}

static segq_msg_t *
s_raw_spec (const char *kind)
{
    segq_msg_t *msg = segq_msg_new (SEGQ_MSG_SUBMIT);
    msg->u.submit.req_id = 7;
    msg->u.submit.user = strdup ("tester");
    msg->u.submit.kind = strdup (kind);
    return msg;
}

Test (queue, bad_input_refused_and_nothing_stored, .init = setup, .fini = teardown, .timeout = 60)
{
    char message [512];
    /* Unknown kind. */
    int code = s_raw_submit (s_raw_spec ("no-such-kind"), message, sizeof message);
    cr_assert_eq (code, SEGQ_EKIND, "unknown kind: code %d (%s)", code, message);
    cr_assert (strstr (message, "no-such-kind"), "message '%s' does not name the kind", message);
    /* Parameter out of range. */
    segq_msg_t *msg = s_raw_spec ("sleep");
    segq_value_t v = { .type = SEGQ_PARAM_FLOAT, .f = -5 };
    cr_assert_eq (segq_params_set (&msg->u.submit.params, "seconds", &v), 0);
    code = s_raw_submit (msg, message, sizeof message);
    cr_assert_eq (code, SEGQ_EINVAL, "bad param: code %d (%s)", code, message);
    cr_assert (strstr (message, "seconds"), "message '%s' does not name the parameter", message);
    /* Unknown parameter. */
    msg = s_raw_spec ("sleep");
    cr_assert_eq (segq_params_set (&msg->u.submit.params, "bogus", &v), 0);
    code = s_raw_submit (msg, message, sizeof message);
    cr_assert_eq (code, SEGQ_EINVAL, "unknown param: code %d (%s)", code, message);
    /* An input artifact the broker does not have. */
    msg = s_raw_spec ("echo");
    msg->u.submit.inputs = calloc (1, sizeof *msg->u.submit.inputs);
    msg->u.submit.n_inputs = 1;
    msg->u.submit.inputs [0].name = strdup ("files/x.txt");
    memset (msg->u.submit.inputs [0].hash, 'a', SEGQ_HASH_HEX_LEN);
    msg->u.submit.inputs [0].size = 3;
    code = s_raw_submit (msg, message, sizeof message);
    cr_assert_eq (code, SEGQ_ENOENT, "missing artifact: code %d (%s)", code, message);
    /* A dependency on a job that does not exist. */
    msg = s_raw_spec ("echo");
    msg->u.submit.inputs = calloc (1, sizeof *msg->u.submit.inputs);
    msg->u.submit.n_inputs = 1;
    msg->u.submit.inputs [0].name = strdup ("files");
    msg->u.submit.inputs [0].job = strdup ("NOSUCHJOB");
    code = s_raw_submit (msg, message, sizeof message);
    cr_assert_eq (code, SEGQ_ENOENT, "unknown dependency: code %d (%s)", code, message);

    /* The CLI refuses before sending: bad parameter, missing file. */
    char out [4096], err [4096];
    const char *bad_param [] = { "submit", "sleep", "--param", "seconds=abc", NULL };
    cr_assert_eq (harness_cli (h, out, sizeof out, err, sizeof err, bad_param), 2, "stderr: %s",
                  err);
    cr_assert (strstr (err, "seconds"), "stderr: %s", err);
    const char *missing [] = { "submit", "echo", "--input", "files=/nonexistent/file.txt", NULL };
    cr_assert_eq (harness_cli (h, out, sizeof out, err, sizeof err, missing), 2, "stderr: %s", err);
    cr_assert (strstr (err, "/nonexistent/file.txt"), "stderr: %s", err);
    const char *unknown [] = { "submit", "frobnicate", NULL };
    cr_assert_eq (harness_cli (h, out, sizeof out, err, sizeof err, unknown), 2, "stderr: %s", err);
    cr_assert (strstr (err, "frobnicate") && strstr (err, "sleep"), "stderr: %s", err);

    /* Nothing was stored. */
    segq_client_t *c = harness_client (h, 0);
    segq_job_list_t list;
    H_ASSERT (h, segq_client_status (c, NULL, NULL, &list) == 0, "%s", segq_client_error (c));
    cr_assert_eq (list.n_jobs, 0, "%zu jobs stored after refused submits", list.n_jobs);
    segq_job_list_clear (&list);
    segq_client_destroy (&c);
    H_ASSERT_CLEAN_STOP (h);
}

/* A peer speaking protocol version 9 is told which versions the broker
   speaks, and the broker goes on serving everyone else. */
Test (queue, version_mismatch_is_answered_plainly, .init = setup, .fini = teardown, .timeout = 30)
{
    zsock_t *sock = zsock_new_dealer (h->endpoint);
    cr_assert_not_null (sock);
    zsock_set_rcvtimeo (sock, 5000);
    uint8_t header [SEGQ_HEADER_SIZE] = { 'S', 'Q', 9, SEGQ_MSG_STATUS };
    uint8_t body [] = { 0x81, 0xa6, 'r', 'e', 'q', '_', 'i', 'd', 0x05 }; /* {"req_id": 5} */
    zmsg_t *m = zmsg_new ();
    zmsg_addmem (m, header, sizeof header);
    zmsg_addmem (m, body, sizeof body);
    cr_assert_eq (zmsg_send (&m, sock), 0);
    zmsg_t *reply = zmsg_recv (sock);
    H_ASSERT (h, reply != NULL, "no answer to a version-9 message");
    /* The answer itself is in a version the broker speaks. */
    segq_msg_t *msg = NULL;
    char err [256];
    cr_assert_eq (segq_msg_decode (&reply, &msg, NULL, err, sizeof err), 0, "%s", err);
    cr_assert_eq (msg->type, SEGQ_MSG_ERROR);
    cr_assert_eq (msg->u.error.code, SEGQ_EVERSION);
    bool lists_ours = false;
    for (size_t i = 0; i < msg->u.error.n_versions; i++)
        lists_ours |= msg->u.error.versions [i] == SEGQ_PROTO_VERSION;
    cr_assert (lists_ours, "the versions listed do not include %d", SEGQ_PROTO_VERSION);
    segq_msg_destroy (&msg);
    zsock_destroy (&sock);

    /* libsegq shows it as a plain sentence naming both versions. */
    segq_client_t *c = harness_client (h, 0);
    segq_job_list_t list;
    H_ASSERT (h, segq_client_status (c, NULL, NULL, &list) == 0, "broker stopped serving: %s",
              segq_client_error (c));
    segq_job_list_clear (&list);
    segq_client_destroy (&c);
    H_ASSERT_CLEAN_STOP (h);
}

/* The CLI against a live broker: submit, wait (exit codes), status --json,
   logs, fetch, workers. */
Test (queue, cli_end_to_end, .init = setup, .fini = teardown, .timeout = 90)
{
    s_start_workers (2, 1);
    char out [16384], err [4096];
    const char *submit [] = { "submit", "sleep", "--param", "seconds=0.3", NULL };
    H_ASSERT (h, harness_cli (h, out, sizeof out, err, sizeof err, submit) == 0, "submit: %s", err);
    char job [SEGQ_JOB_ID_MAX];
    snprintf (job, sizeof job, "%.*s", (int) strcspn (out, "\n"), out);
    cr_assert (job [0], "submit printed no id");
    const char *wait [] = { "wait", job, NULL };
    H_ASSERT (h, harness_cli (h, out, sizeof out, err, sizeof err, wait) == 0, "wait: %s %s", out,
              err);
    cr_assert (strstr (out, "succeeded"), "wait printed: %s", out);
    const char *status [] = { "status", "--json", job, NULL };
    cr_assert_eq (harness_cli (h, out, sizeof out, err, sizeof err, status), 0, "status: %s", err);
    json_error_t jerr;
    json_t *array = json_loads (out, 0, &jerr);
    cr_assert_not_null (array, "status --json is not JSON: %s", jerr.text);
    cr_assert_eq (json_array_size (array), 1);
    cr_assert_str_eq (json_string_value (json_object_get (json_array_get (array, 0), "state")),
                      "succeeded");
    cr_assert_str_eq (json_string_value (json_object_get (json_array_get (array, 0), "id")), job);
    json_decref (array);
    const char *logs [] = { "logs", job, NULL };
    cr_assert_eq (harness_cli (h, out, sizeof out, err, sizeof err, logs), 0, "logs: %s", err);
    cr_assert (strstr (out, "=== attempt 1"), "log has no attempt header: %s", out);
    const char *workers [] = { "workers", "--json", NULL };
    cr_assert_eq (harness_cli (h, out, sizeof out, err, sizeof err, workers), 0, "workers: %s",
                  err);
    array = json_loads (out, 0, &jerr);
    cr_assert_not_null (array, "workers --json is not JSON: %s", jerr.text);
    cr_assert_eq (json_array_size (array), 2);
    json_decref (array);

    /* echo a file and fetch it back into a directory. */
    char in [600], dir [600];
    snprintf (in, sizeof in, "%s/note.txt", h->dir);
    snprintf (dir, sizeof dir, "%s/fetched", h->dir);
    FILE *f = fopen (in, "w");
    fputs ("note\n", f);
    fclose (f);
    char input [700];
    snprintf (input, sizeof input, "files=%s", in);
    const char *echo [] = { "submit", "echo", "--input", input, NULL };
    cr_assert_eq (harness_cli (h, out, sizeof out, err, sizeof err, echo), 0, "submit echo: %s",
                  err);
    snprintf (job, sizeof job, "%.*s", (int) strcspn (out, "\n"), out);
    const char *wait_echo [] = { "wait", job, NULL };
    H_ASSERT (h, harness_cli (h, out, sizeof out, err, sizeof err, wait_echo) == 0,
              "wait echo: %s %s", out, err);
    const char *fetch [] = { "fetch", job, "-o", dir, NULL };
    H_ASSERT (h, harness_cli (h, out, sizeof out, err, sizeof err, fetch) == 0, "fetch: %s", err);
    cr_assert (strstr (out, "note.txt"), "fetch printed: %s", out);

    /* That output beside a local file in the same input of many files: each
       laid out under files/, not the output as a file named files. */
    char output [700], other [700], local [720], both [700];
    snprintf (output, sizeof output, "files=%s:note.txt", job);
    snprintf (other, sizeof other, "%s/other.txt", h->dir);
    cr_assert_eq (harness_write_random_file (other, 100, 3), 0);
    snprintf (local, sizeof local, "files=%s", other);
    snprintf (both, sizeof both, "%s/both", h->dir);
    const char *echo_both [] = { "submit", "echo", "--input", output, "--input", local, NULL };
    cr_assert_eq (harness_cli (h, out, sizeof out, err, sizeof err, echo_both), 0,
                  "submit echo: %s", err);
    snprintf (job, sizeof job, "%.*s", (int) strcspn (out, "\n"), out);
    const char *wait_both [] = { "wait", job, NULL };
    H_ASSERT (h, harness_cli (h, out, sizeof out, err, sizeof err, wait_both) == 0,
              "wait echo of an output and a file: %s %s", out, err);
    const char *fetch_both [] = { "fetch", job, "-o", both, NULL };
    H_ASSERT (h, harness_cli (h, out, sizeof out, err, sizeof err, fetch_both) == 0, "fetch: %s",
              err);
    cr_assert (strstr (out, "note.txt") && strstr (out, "other.txt"), "fetch printed: %s", out);

    /* An empty file goes and comes back as one empty last CHUNK. */
    char empty [700], empty_input [720], empty_out [760];
    snprintf (empty, sizeof empty, "%s/empty.txt", h->dir);
    fclose (fopen (empty, "w"));
    snprintf (empty_input, sizeof empty_input, "files=%s", empty);
    const char *echo_empty [] = { "submit", "echo", "--input", empty_input, NULL };
    cr_assert_eq (harness_cli (h, out, sizeof out, err, sizeof err, echo_empty), 0,
                  "submit echo: %s", err);
    snprintf (job, sizeof job, "%.*s", (int) strcspn (out, "\n"), out);
    const char *wait_empty [] = { "wait", job, NULL };
    H_ASSERT (h, harness_cli (h, out, sizeof out, err, sizeof err, wait_empty) == 0,
              "wait echo of an empty file: %s %s", out, err);
    const char *fetch_empty [] = { "fetch", job, "-o", both, NULL };
    H_ASSERT (h, harness_cli (h, out, sizeof out, err, sizeof err, fetch_empty) == 0,
              "fetch an empty file: %s", err);
    snprintf (empty_out, sizeof empty_out, "%s/empty.txt", both);
    struct stat st;
    cr_assert (stat (empty_out, &st) == 0 && st.st_size == 0, "%s: fetched: %s", empty_out, out);

    /* A failing job: wait exits 3 and says why. */
    const char *fail [] = { "submit", "fail", "--param", "code=4", NULL };
    cr_assert_eq (harness_cli (h, out, sizeof out, err, sizeof err, fail), 0, "submit fail: %s",
                  err);
    snprintf (job, sizeof job, "%.*s", (int) strcspn (out, "\n"), out);
    const char *wait_fail [] = { "wait", job, NULL };
    cr_assert_eq (harness_cli (h, out, sizeof out, err, sizeof err, wait_fail), 3,
                  "wait on a failing job");
    cr_assert (strstr (out, "failed"), "wait printed: %s", out);

    /* Unknown job: exit 1 with a message. */
    const char *unknown [] = { "status", "ZZZZZZZZ", NULL };
    cr_assert_eq (harness_cli (h, out, sizeof out, err, sizeof err, unknown), 1);
    cr_assert (err [0], "no message for an unknown job");
    const char *wait_unknown [] = { "wait", job, "ZZZZZZZZ", NULL };
    cr_assert_eq (harness_cli (h, out, sizeof out, err, sizeof err, wait_unknown), 1,
                  "wait on an unknown job");
    cr_assert (strstr (err, "ZZZZZZZZ"), "stderr: %s", err);
    H_ASSERT_CLEAN_STOP (h);
}

/* A JSON document from a command's stdout: exactly one (jansson refuses
   anything after the first). */
static json_t *
s_json (const char *out, const char *what)
{
    json_error_t jerr;
    json_t *doc = json_loads (out, 0, &jerr);
    cr_assert_not_null (doc, "%s: not one JSON document (%s, line %d): %s", what, jerr.text,
                        jerr.line, out);
    cr_assert (json_is_array (doc), "%s: not a JSON array: %s", what, out);
    return doc;
}

/* status / wait / cancel / fetch / purge given a job array beside jobs of
   its own, other jobs, and ids named twice: one JSON document, each job
   once, an array's outputs fetched per job; logs of an array refused. */
Test (queue, cli_arrays_beside_jobs_and_repeated_ids, .init = setup, .fini = teardown,
      .timeout = 90)
{
    s_start_workers (1, 2);
    /* as the harness's CLI runs act: fetch is for the jobs' owner only */
    segq_client_options_t options = { .broker = h->endpoint, .user = H_USER };
    segq_client_t *c = NULL;
    char err [4096], out [16384], member [2][SEGQ_JOB_ID_MAX], other [SEGQ_JOB_ID_MAX];
    cr_assert_eq (segq_client_connect (&options, &c, err, sizeof err), 0, "%s", err);
    for (int k = 0; k < 2; k++) {
        char in [600], e [512];
        snprintf (in, sizeof in, "%s/part%d.txt", h->dir, k);
        FILE *f = fopen (in, "w");
        cr_assert_not_null (f);
        fprintf (f, "part %d\n", k);
        fclose (f);
        segq_job_spec_t *spec = s_spec ("echo", NULL, NULL);
        cr_assert_eq (segq_job_spec_input_file (spec, "files/part.txt", in, e, sizeof e), 0, "%s",
                      e);
        s_submit (c, spec, member [k]);
        segq_job_spec_destroy (&spec);
    }
    segq_job_spec_t *spec = s_spec ("sleep", "seconds", "0");
    s_submit (c, spec, other);
    segq_job_spec_destroy (&spec);
    segq_array_info_t array;
    const char *ids [] = { member [0], member [1] };
    H_ASSERT (h, segq_client_array_create (c, ids, 2, &array) == 0, "array: %s",
              segq_client_error (c));
    const char *a = array.array;

    /* wait: the array's job named beside it, the other job twice: 3 jobs */
    const char *wait [] = { "wait", "--json", a, member [1], other, other, NULL };
    H_ASSERT (h, harness_cli (h, out, sizeof out, err, sizeof err, wait) == 0, "wait: %s", err);
    json_t *doc = s_json (out, "wait --json");
    cr_assert_eq (json_array_size (doc), 3, "wait counted %zu jobs: %s", json_array_size (doc),
                  out);
    json_decref (doc);

    /* status: one document, the array's summary first, then each job
       named once */
    const char *status [] = { "status", "--json", a, other, member [0], other, a, NULL };
    H_ASSERT (h, harness_cli (h, out, sizeof out, err, sizeof err, status) == 0, "status: %s", err);
    doc = s_json (out, "status --json");
    cr_assert_eq (json_array_size (doc), 3, "status listed %zu: %s", json_array_size (doc), out);
    cr_assert_str_eq (json_string_value (json_object_get (json_array_get (doc, 0), "array")), a);
    cr_assert_eq (json_integer_value (json_object_get (json_array_get (doc, 0), "final")), 2);
    cr_assert_str_eq (json_string_value (json_object_get (json_array_get (doc, 1), "id")), other);
    cr_assert_str_eq (json_string_value (json_object_get (json_array_get (doc, 2), "id")),
                      member [0]);
    json_decref (doc);
    const char *twice [] = { "status", other, other, NULL };
    H_ASSERT (h, harness_cli (h, out, sizeof out, err, sizeof err, twice) == 0,
              "status of a job named twice: %s", err);

    /* fetch ARRAY: each job's outputs under DIR/JOB */
    char dir [600], path [900];
    snprintf (dir, sizeof dir, "%s/fetched-array", h->dir);
    const char *fetch [] = { "fetch", a, "-o", dir, "--json", NULL };
    H_ASSERT (h, harness_cli (h, out, sizeof out, err, sizeof err, fetch) == 0, "fetch: %s", err);
    doc = s_json (out, "fetch --json");
    cr_assert_eq (json_array_size (doc), 2, "fetch: %s", out);
    for (int k = 0; k < 2; k++) {
        json_t *got = json_array_get (doc, (size_t) k);
        const char *file = json_string_value (json_object_get (got, "path"));
        cr_assert_str_eq (json_string_value (json_object_get (got, "job")), member [k]);
        snprintf (path, sizeof path, "%s/%s/", dir, member [k]);
        cr_assert (file && strncmp (file, path, strlen (path)) == 0, "%s is not under %s", file,
                   path);
        FILE *f = fopen (file, "r");
        cr_assert_not_null (f, "fetch of the array wrote no %s", file);
        char line [64] = "", want [64];
        cr_assert_not_null (fgets (line, sizeof line, f));
        fclose (f);
        snprintf (want, sizeof want, "part %d\n", k);
        cr_assert_str_eq (line, want);
    }
    json_decref (doc);

    /* cancel: each job once (all have ended: nothing changes, and that is
       said with exit status 1) */
    const char *cancel [] = { "cancel", "--json", a, member [0], member [0], NULL };
    H_ASSERT (h, harness_cli (h, out, sizeof out, err, sizeof err, cancel) == 1, "cancel: %s", err);
    doc = s_json (out, "cancel --json");
    cr_assert_eq (json_array_size (doc), 2, "cancel: %s", out);
    for (size_t k = 0; k < 2; k++) {
        json_t *result = json_array_get (doc, k);
        cr_assert (json_is_false (json_object_get (result, "ok")), "cancel: %s", out);
        cr_assert (strstr (json_string_value (json_object_get (result, "message")),
                           "already ended (succeeded)"),
                   "cancel: %s", out);
    }
    json_decref (doc);

    /* logs are per job: an array is refused plainly; purge takes an
       array's jobs, each once */
    const char *logs [] = { "logs", a, NULL };
    cr_assert_eq (harness_cli (h, out, sizeof out, err, sizeof err, logs), 2, "logs ARRAY: %s",
                  err);
    cr_assert (strstr (err, "job array"), "%s", err);
    const char *purge [] = { "purge", "--json", member [1], a, NULL };
    H_ASSERT (h, harness_cli (h, out, sizeof out, err, sizeof err, purge) == 0, "purge: %s", err);
    doc = s_json (out, "purge --json");
    cr_assert_eq (json_array_size (doc), 2, "purge: %s", out);
    json_decref (doc);

    segq_array_info_clear (&array);
    segq_client_destroy (&c);
    H_ASSERT_CLEAN_STOP (h);
}

/* An array whose jobs have all ended is whole however they ended: a failed
   job that never reported progress counts as far along as a succeeded one
   (status said "2/2 done" at 50% before). */
Test (queue, an_ended_array_is_whole_with_a_failed_job, .init = setup, .fini = teardown,
      .timeout = 60)
{
    s_start_workers (1, 2);
    segq_client_options_t options = { .broker = h->endpoint, .user = H_USER };
    segq_client_t *c = NULL;
    char err [4096], out [16384], ok [SEGQ_JOB_ID_MAX], failed [SEGQ_JOB_ID_MAX];
    cr_assert_eq (segq_client_connect (&options, &c, err, sizeof err), 0, "%s", err);
    segq_job_spec_t *spec = s_spec ("sleep", "seconds", "0");
    s_submit (c, spec, ok);
    segq_job_spec_destroy (&spec);
    spec = s_spec ("fail", "code", "1");
    s_submit (c, spec, failed);
    segq_job_spec_destroy (&spec);
    segq_array_info_t array;
    const char *ids [] = { ok, failed };
    H_ASSERT (h, segq_client_array_create (c, ids, 2, &array) == 0, "array: %s",
              segq_client_error (c));

    /* exit status 3: one of them failed */
    const char *wait [] = { "wait", array.array, NULL };
    H_ASSERT (h, harness_cli (h, out, sizeof out, err, sizeof err, wait) == 3, "wait: %s", err);
    const char *status [] = { "status", "--json", array.array, NULL };
    H_ASSERT (h, harness_cli (h, out, sizeof out, err, sizeof err, status) == 0, "status: %s", err);
    json_t *doc = s_json (out, "status --json");
    json_t *summary = json_array_get (doc, 0);
    cr_assert_eq (json_integer_value (json_object_get (summary, "final")), 2, "%s", out);
    cr_assert_float_eq (json_real_value (json_object_get (summary, "progress")), 1.0, 1e-9, "%s",
                        out);
    json_decref (doc);

    segq_array_info_clear (&array);
    segq_client_destroy (&c);
    H_ASSERT_CLEAN_STOP (h);
}
