/*  test_transfers.c: what transfers and results a peer sends can make a
    real segqd hold or record. A client that asks for downloads with all
    the credit there is and never reads makes the broker hold a few MiB,
    not the files (SPEC 10.2), while another client's fetch goes through;
    a user whose many connections do not read holds up only their own
    downloads, not another user's;
    a worker's RESULT whose outputs do not match what it uploaded (size),
    repeat a name, or put a file where another makes a folder is refused,
    naming the output (SPEC 8.3); a worker certificate that has not
    registered may not upload (SPEC 15). */
#include <criterion/criterion.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "raw_peer.h"
#include "lab_keys.h"
#include "segq_keys.h"

#define BIG_FILE ((size_t) 32 << 20)
#define GREEDY   2  /* connections that never read ... */
#define GETS     16 /* ... each with this many downloads open (the broker's limit) */
/* What the greedy connections may make the broker hold: two peers' queue
   (8 MiB each) and slack for the allocator; without the bound it is all
   of their files (1 GiB) */
#define HELD_MAX ((long) 64 << 20)

static harness_t *h;

static void
setup (void)
{
    h = harness_new ("transfers");
    cr_assert_not_null (h);
    cr_assert_eq (harness_start_broker (h, NULL), 0, "segqd did not start");
}

static void
teardown (void)
{
    harness_destroy (&h);
}

/* The broker's resident memory, bytes (/proc/PID/status VmRSS). */
static long
s_broker_rss (void)
{
    char path [64], line [256];
    snprintf (path, sizeof path, "/proc/%d/status", (int) h->broker);
    FILE *file = fopen (path, "r");
    cr_assert_not_null (file, "%s", path);
    long kib = -1;
    while (kib < 0 && fgets (line, sizeof line, file))
        if (sscanf (line, "VmRSS: %ld kB", &kib) != 1)
            kib = -1;
    fclose (file);
    cr_assert_geq (kib, 0, "no VmRSS in %s", path);
    return kib * 1024;
}

/* The broker's memory watched a while (a chunk read from the disk goes on
   its own turn): never more than `most` bytes over `before` for what. */
static void
s_watch_held (long before, long most, const char *what)
{
    long peak = 0;
    for (int64_t until = zclock_mono () + 1500; zclock_mono () < until;) {
        long held = s_broker_rss () - before;
        peak = held > peak ? held : peak;
        H_ASSERT (h, held < most, "the broker holds %ld MiB more for %s (at most %ld MiB expected)",
                  held >> 20, what, most >> 20);
        harness_sleep_ms (50);
    }
    fprintf (stderr, "broker VmRSS %ld MiB, %ld MiB more for %s\n", before >> 20, peak >> 20, what);
}

/* An echo job of path, run to its end: its one output's name in name. */
static void
s_echo (segq_client_t *c, const char *path, char job [SEGQ_JOB_ID_MAX], char *name, size_t len)
{
    char err [512];
    segq_job_spec_t *spec = segq_job_spec_new ("echo");
    cr_assert_not_null (spec);
    cr_assert_eq (segq_job_spec_input_file (spec, "files", path, err, sizeof err), 0, "%s", err);
    H_ASSERT (h, segq_client_submit (c, spec, job, SEGQ_JOB_ID_MAX) == 0, "submit: %s",
              segq_client_error (c));
    segq_job_spec_destroy (&spec);
    segq_job_info_t info;
    H_ASSERT (h, harness_wait_final (c, job, 90000, &info) == 0, "echo of %s did not end", path);
    H_ASSERT (h, info.state == SEGQ_JOB_SUCCEEDED && info.n_outputs == 1, "echo: %s",
              info.reason ? info.reason : "");
    snprintf (name, len, "%s", info.outputs [0].name);
    segq_job_info_clear (&info);
}

/* A client's fetch of the job's output, compared with the file sent. */
static void
s_fetch_matches (segq_client_t *c, const char *job, const char *name, const char *sent)
{
    char back [600], got [SEGQ_HASH_HEX_LEN + 1], want [SEGQ_HASH_HEX_LEN + 1];
    snprintf (back, sizeof back, "%s/fetched.bin", h->dir);
    H_ASSERT (h, segq_client_fetch (c, job, name, back, got) == 0, "fetch: %s",
              segq_client_error (c));
    cr_assert_eq (segq_sha256_file (sent, want), 0);
    cr_assert_str_eq (got, want);
}

/* A connection of user's that asks for `gets` downloads of the output,
   each with all the credit there is, and reads nothing (as little as
   ZeroMQ lets it). */
static zsock_t *
s_greedy (const char *user, int gets, const char *job, const char *name)
{
    zsock_t *sock = zsock_new (ZMQ_DEALER);
    cr_assert_not_null (sock);
    zsock_set_rcvhwm (sock, 1);
    zsock_set_rcvbuf (sock, 4096);
    cr_assert_eq (zsock_connect (sock, "%s", h->endpoint), 0);
    for (int i = 0; i < gets; i++) {
        segq_msg_t *get = segq_msg_new (SEGQ_MSG_GET);
        cr_assert_not_null (get);
        get->u.get.req_id = (uint64_t) i + 1;
        get->u.get.job = strdup (job);
        get->u.get.name = strdup (name);
        get->u.get.user = strdup (user);
        get->u.get.credit = UINT32_MAX;
        cr_assert_eq (segq_msg_send (&get, sock, NULL), 0);
    }
    return sock;
}

Test (transfers, a_download_that_is_not_read_holds_bounded_memory, .init = setup, .fini = teardown,
      .timeout = 180)
{
    H_ASSERT (h, harness_start_worker (h, "w1", 1, NULL) == 0, "worker w1 did not register");
    segq_client_t *c = harness_client (h, 60000);
    char path [600], job [SEGQ_JOB_ID_MAX], name [256];
    snprintf (path, sizeof path, "%s/big.bin", h->dir);
    cr_assert_eq (harness_write_random_file (path, BIG_FILE, 11), 0);
    s_echo (c, path, job, name, sizeof name);
    /* once fetched, so that what a download costs the broker anyway
       (buffers, the allocator's caches) is in the baseline */
    s_fetch_matches (c, job, name, path);
    long before = s_broker_rss ();

    zsock_t *greedy [GREEDY];
    for (int i = 0; i < GREEDY; i++)
        greedy [i] = s_greedy (H_USER, GETS, job, name);
    /* a round trip after them: the broker has taken their GETs and sent
       what it will send at once */
    segq_job_info_t info;
    H_ASSERT (h, segq_client_job (c, job, false, &info) == 0, "%s", segq_client_error (c));
    segq_job_info_clear (&info);
    s_watch_held (before, HELD_MAX, "the greedy connections' unread downloads");
    /* the greedy peers slow only themselves */
    s_fetch_matches (c, job, name, path);
    for (int i = 0; i < GREEDY; i++)
        zsock_destroy (&greedy [i]);
    s_fetch_matches (c, job, name, path);
    segq_client_destroy (&c);
    H_ASSERT_CLEAN_STOP (h);
}

/* The connections one user may have downloading at once: a quarter of
   the broker's default max-transfers (256). Each would have the broker
   hold 8 MiB of its chunks, 512 MiB in all: the most of all clients'. */
#define USER_GREEDY 64
/* What a user's connections may make it hold: 128 MiB, and slack for
   the allocator (without the bound: 512 MiB) */
#define USER_HELD_MAX ((long) 256 << 20)

/* A client of user's. */
static segq_client_t *
s_client_of (const char *user)
{
    segq_client_options_t options = {
        .broker = h->endpoint, .user = user, .timeout_ms = 30000, .hash_cache = ""
    };
    segq_client_t *client = NULL;
    char err [512];
    H_ASSERT (h, segq_client_connect (&options, &client, err, sizeof err) == 0, "%s", err);
    return client;
}

Test (transfers, a_user_who_does_not_read_holds_up_only_their_own_downloads, .init = setup,
      .fini = teardown, .timeout = 180)
{
    H_ASSERT (h, harness_start_worker (h, "w1", 1, NULL) == 0, "worker w1 did not register");
    segq_client_t *c = harness_client (h, 30000), *bob = s_client_of ("bob");
    char path [600], job [SEGQ_JOB_ID_MAX], name [256];
    char bobs [600], bobs_job [SEGQ_JOB_ID_MAX], bobs_name [256];
    snprintf (path, sizeof path, "%s/big.bin", h->dir);
    cr_assert_eq (harness_write_random_file (path, BIG_FILE, 12), 0);
    snprintf (bobs, sizeof bobs, "%s/bobs.bin", h->dir);
    cr_assert_eq (harness_write_random_file (bobs, 4u << 20, 13), 0);
    s_echo (c, path, job, name, sizeof name);
    s_echo (bob, bobs, bobs_job, bobs_name, sizeof bobs_name);
    s_fetch_matches (c, job, name, path);
    long before = s_broker_rss ();

    zsock_t *greedy [USER_GREEDY];
    for (int i = 0; i < USER_GREEDY; i++)
        greedy [i] = s_greedy (H_USER, 1, job, name);
    /* each under way (its first message read, no more) */
    for (int i = 0; i < USER_GREEDY; i++) {
        segq_msg_t *ready = raw_expect (greedy [i], SEGQ_MSG_GET_READY);
        segq_msg_destroy (&ready);
    }
    s_watch_held (before, USER_HELD_MAX, "one user's many connections' unread downloads");
    /* another user's fetch is not held up (without the user's bound, all
       clients' room is taken and it waits as long as they stay) */
    s_fetch_matches (bob, bobs_job, bobs_name, bobs);
    for (int i = 0; i < USER_GREEDY; i++)
        zsock_destroy (&greedy [i]);
    segq_client_destroy (&bob);
    segq_client_destroy (&c);
    H_ASSERT_CLEAN_STOP (h);
}

/* Uploads text from the worker's connection (hash first), as its output
   would be: its hash into hash. */
static void
s_raw_upload (zsock_t *sock, const char *text, char hash [SEGQ_HASH_HEX_LEN + 1])
{
    static uint64_t req = 1000;
    char path [600];
    snprintf (path, sizeof path, "%s/upload.txt", h->dir);
    FILE *file = fopen (path, "w");
    cr_assert_not_null (file);
    cr_assert_eq (fputs (text, file) >= 0 && fclose (file) == 0, true);
    cr_assert_eq (segq_sha256_file (path, hash), 0);
    segq_msg_t *put = segq_msg_new (SEGQ_MSG_PUT);
    cr_assert_not_null (put);
    put->u.put.req_id = ++req;
    put->u.put.size = strlen (text);
    snprintf (put->u.put.hash, sizeof put->u.put.hash, "%s", hash);
    cr_assert_eq (segq_msg_send (&put, sock, NULL), 0);
    segq_msg_t *ready = raw_expect (sock, SEGQ_MSG_PUT_READY);
    cr_assert (!ready->u.put_ready.have);
    segq_msg_t *chunk = segq_msg_new (SEGQ_MSG_CHUNK);
    cr_assert_not_null (chunk);
    chunk->u.chunk.transfer = ready->u.put_ready.transfer;
    chunk->u.chunk.last = true;
    snprintf (chunk->u.chunk.hash, sizeof chunk->u.chunk.hash, "%s", hash);
    chunk->u.chunk.data = zframe_new (text, strlen (text));
    segq_msg_destroy (&ready);
    cr_assert_eq (segq_msg_send (&chunk, sock, NULL), 0);
    segq_msg_t *done = raw_expect (sock, SEGQ_MSG_PUT_DONE);
    cr_assert_eq (done->u.put_done.code, 0, "%s", done->u.put_done.message);
    segq_msg_destroy (&done);
}

typedef struct {
    const char *name;
    const char *text; /* uploaded */
    int64_t size;     /* as the RESULT says; -1: the text's */
} s_out_t;

/* An echo job the raw worker runs and reports done with outs: the
   RESULT_ACK's code is `code` (and then names `what`), and the job ends
   succeeded, or failed saying `what`. */
static void
s_result (segq_client_t *c, zsock_t *worker, const s_out_t *outs, size_t n, int code,
          const char *what)
{
    static int jobs = 0;
    char input [600], err [512], job [SEGQ_JOB_ID_MAX];
    snprintf (input, sizeof input, "%s/input-%d.bin", h->dir, ++jobs);
    cr_assert_eq (harness_write_random_file (input, 1000, (unsigned) jobs), 0);
    segq_job_spec_t *spec = segq_job_spec_new ("echo");
    cr_assert_not_null (spec);
    cr_assert_eq (segq_job_spec_input_file (spec, "files", input, err, sizeof err), 0, "%s", err);
    H_ASSERT (h, segq_client_submit (c, spec, job, sizeof job) == 0, "submit: %s",
              segq_client_error (c));
    segq_job_spec_destroy (&spec);
    segq_msg_t *assign = raw_expect (worker, SEGQ_MSG_ASSIGN);
    cr_assert_str_eq (assign->u.assign.job, job);
    segq_msg_t *result = segq_msg_new (SEGQ_MSG_RESULT);
    cr_assert_not_null (result);
    result->u.result.job = strdup (job);
    result->u.result.attempt = assign->u.assign.attempt;
    result->u.result.success = true;
    segq_msg_destroy (&assign);
    result->u.result.outputs = calloc (n, sizeof (segq_artifact_t));
    cr_assert_not_null (result->u.result.outputs);
    result->u.result.n_outputs = n;
    for (size_t i = 0; i < n; i++) {
        segq_artifact_t *out = &result->u.result.outputs [i];
        s_raw_upload (worker, outs [i].text, out->hash);
        out->name = strdup (outs [i].name);
        out->size = outs [i].size < 0 ? strlen (outs [i].text) : (uint64_t) outs [i].size;
    }
    cr_assert_eq (segq_msg_send (&result, worker, NULL), 0);
    segq_msg_t *ack = raw_expect (worker, SEGQ_MSG_RESULT_ACK);
    H_ASSERT (h, ack->u.result_ack.code == code, "RESULT of %s acknowledged with %d (%s), not %d",
              job, ack->u.result_ack.code, ack->u.result_ack.message, code);
    if (code)
        cr_assert (strstr (ack->u.result_ack.message, what), "%s", ack->u.result_ack.message);
    segq_msg_destroy (&ack);
    segq_job_info_t info;
    H_ASSERT (h, harness_wait_final (c, job, 10000, &info) == 0, "job %s did not end", job);
    cr_assert_eq (info.state, code ? SEGQ_JOB_FAILED : SEGQ_JOB_SUCCEEDED, "%s",
                  info.reason ? info.reason : "");
    if (code)
        cr_assert (info.reason && strstr (info.reason, what), "%s", info.reason);
    segq_job_info_clear (&info);
}

Test (transfers, a_result_must_match_what_the_worker_uploaded, .init = setup, .fini = teardown,
      .timeout = 120)
{
    segq_client_t *c = harness_client (h, 10000);
    zsock_t *worker = raw_worker (h, "raw", "echo");
    /* as uploaded: recorded */
    s_result (c, worker, (s_out_t []){ { "a.txt", "hello world", -1 } }, 1, 0, NULL);
    /* a size that is not the stored artifact's */
    s_result (c, worker, (s_out_t []){ { "a.txt", "hello there", 999999 } }, 1, SEGQ_EHASH,
              "output 'a.txt'");
    s_result (c, worker, (s_out_t []){ { "b.txt", "thirteen byte", 3 } }, 1, SEGQ_EHASH,
              "is 13 bytes on the broker, not the 3");
    /* one name twice: one of them would be dropped */
    s_result (c, worker, (s_out_t []){ { "a.txt", "one", -1 }, { "a.txt", "two", -1 } }, 2,
              SEGQ_EINVAL, "output 'a.txt' is named twice");
    /* a file where another's path makes a folder, whatever comes between */
    s_result (c, worker,
              (s_out_t []){ { "a.txt/b", "under", -1 },
                            { "a.txt-c", "beside", -1 },
                            { "a.txt", "file", -1 } },
              3, SEGQ_EINVAL, "output 'a.txt' is a file where output 'a.txt/b' makes a folder");
    /* files in folders side by side are fine */
    s_result (c, worker,
              (s_out_t []){
                  { "d/x.txt", "x in d", -1 }, { "d/y.txt", "y in d", -1 }, { "dx", "dx", -1 } },
              3, 0, NULL);
    zsock_destroy (&worker);
    segq_client_destroy (&c);
    H_ASSERT_CLEAN_STOP (h);
}

/* With keys: the lab's certificates (lab_keys.h). */
static char keys [600], certs [700], broker_key [700];

static void
setup_keys (void)
{
    h = harness_new ("transfers-keys");
    cr_assert_not_null (h);
    lab_keys_make (h->dir, keys, sizeof keys, certs, sizeof certs, broker_key, sizeof broker_key);
    const char *extra [] = { "--keys", keys, NULL };
    cr_assert_eq (harness_start_broker (h, extra), 0, "segqd did not start");
}

/* A raw CURVE connection as the lab's `name`. */
static zsock_t *
s_raw (const char *name)
{
    return lab_raw (h->endpoint, certs, broker_key, name, 1000);
}

Test (transfers, a_worker_certificate_uploads_only_once_registered, .init = setup_keys,
      .fini = teardown, .timeout = 120)
{
    zsock_t *w1 = s_raw ("w1");
    segq_msg_t *put = segq_msg_new (SEGQ_MSG_PUT);
    cr_assert_not_null (put);
    put->u.put.req_id = 5;
    put->u.put.size = 11;
    cr_assert_eq (segq_msg_send (&put, w1, NULL), 0);
    segq_msg_t *reply = raw_expect (w1, SEGQ_MSG_ERROR);
    cr_assert_eq (reply->u.error.req_id, 5);
    cr_assert_eq (reply->u.error.code, SEGQ_EPERM, "%s", reply->u.error.message);
    cr_assert (strstr (reply->u.error.message, "register first"), "%s", reply->u.error.message);
    segq_msg_destroy (&reply);
    /* registered, it may */
    segq_msg_t *reg = segq_msg_new (SEGQ_MSG_REGISTER);
    cr_assert_not_null (reg);
    reg->u.reg.node = strdup ("w1");
    reg->u.reg.cpu_slots = 1;
    cr_assert_eq (segq_msg_send (&reg, w1, NULL), 0);
    segq_msg_t *welcome = raw_expect (w1, SEGQ_MSG_WELCOME);
    segq_msg_destroy (&welcome);
    char hash [SEGQ_HASH_HEX_LEN + 1];
    s_raw_upload (w1, "hello world", hash);
    zsock_destroy (&w1);
    H_ASSERT_CLEAN_STOP (h);
}
