/*  test_libsegq.c: libsegq against a scripted fake broker (a ROUTER in a
    thread), so the client's own logic is checked apart from segqd:
    req_id matching under pipelining, error replies, credit flow on upload
    and download, sha256 checks, version and timeout messages. */
#include <criterion/criterion.h>
#include <dirent.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "no_leaks.h"
#include "segq_client.h"
#include "segq_proto.h"
#include "segq_keys.h"

/* The fake broker's script: answer one message. Runs in the actor thread. */
typedef void (*handler_fn) (zsock_t *router, zframe_t *rid, segq_msg_t *msg);

static handler_fn s_handler;
static char s_endpoint [128];
static zactor_t *s_broker;

static void
s_broker_actor (zsock_t *pipe, void *args)
{
    zsock_t *router = zsock_new (ZMQ_ROUTER);
    int port = zsock_bind (router, "tcp://127.0.0.1:*");
    snprintf (s_endpoint, sizeof s_endpoint, "tcp://127.0.0.1:%d", port);
    zsock_signal (pipe, 0);
    zpoller_t *poller = zpoller_new (pipe, router, NULL);
    for (;;) {
        void *which = zpoller_wait (poller, -1);
        if (which != router)
            break; /* $TERM or interrupted */
        zframe_t *rid = NULL;
        segq_msg_t *msg = NULL;
        char err [256];
        if (segq_msg_recv (router, &rid, &msg, NULL, err, sizeof err) == 0 && msg)
            s_handler (router, rid, msg);
        segq_msg_destroy (&msg);
        zframe_destroy (&rid);
    }
    zpoller_destroy (&poller);
    zsock_destroy (&router);
}

static segq_client_t *
s_start (handler_fn handler, int timeout_ms)
{
    s_handler = handler;
    s_broker = zactor_new (s_broker_actor, NULL);
    cr_assert_not_null (s_broker);
    segq_client_options_t o = { .broker = s_endpoint, .user = "tester", .timeout_ms = timeout_ms };
    segq_client_t *c;
    char err [256];
    cr_assert_eq (segq_client_connect (&o, &c, err, sizeof err), 0, "%s", err);
    return c;
}

static void
s_stop (segq_client_t **c)
{
    segq_client_destroy (c);
    zactor_destroy (&s_broker);
}

static void
s_reply (zsock_t *router, zframe_t *rid, segq_msg_t *msg)
{
    cr_assert_eq (segq_msg_send (&msg, router, rid), 0);
}

static segq_job_spec_t *
s_noop (void)
{
    segq_job_spec_t *spec = segq_job_spec_new ("noop");
    cr_assert_not_null (spec);
    return spec;
}

/* ---- pipelining: replies in any order, mixed with a sync request ---- */

static segq_msg_t *s_held [16];
static size_t s_n_held;

static void
s_reverse_handler (zsock_t *router, zframe_t *rid, segq_msg_t *msg)
{
    if (msg->type == SEGQ_MSG_SUBMIT) {
        segq_msg_t *reply = segq_msg_new (SEGQ_MSG_SUBMITTED);
        reply->u.submitted.req_id = msg->u.submit.req_id;
        char job [32];
        snprintf (job, sizeof job, "J%llu", (unsigned long long) msg->u.submit.req_id);
        reply->u.submitted.job = strdup (job);
        s_held [s_n_held++] = reply;
        if (s_n_held == 10)
            while (s_n_held)
                s_reply (router, rid, s_held [--s_n_held]);
    } else if (msg->type == SEGQ_MSG_STATUS) {
        segq_msg_t *reply = segq_msg_new (SEGQ_MSG_STATUS_REPLY);
        reply->u.status_reply.req_id = msg->u.status.req_id;
        s_reply (router, rid, reply);
    }
}

Test (libsegq, pipelined_submits_matched_by_req_id, .timeout = 20)
{
    segq_client_t *c = s_start (s_reverse_handler, 5000);
    segq_job_spec_t *spec = s_noop ();
    uint64_t req [10];
    for (int i = 0; i < 10; i++)
        cr_assert_eq (segq_client_submit_send (c, spec, &req [i]), 0, "%s", segq_client_error (c));
    cr_assert_eq (segq_client_submits_pending (c), 10);
    /* A synchronous request in between gets its own reply; the submits'
       replies that arrive first are kept for submit_recv. */
    segq_job_list_t list;
    cr_assert_eq (segq_client_status (c, NULL, NULL, &list), 0, "%s", segq_client_error (c));
    cr_assert_eq (list.n_jobs, 0);
    segq_job_list_clear (&list);
    bool seen [10] = { false };
    for (int i = 0; i < 10; i++) {
        segq_submit_reply_t r;
        cr_assert_eq (segq_client_submit_recv (c, 2000, &r), 0, "%s", segq_client_error (c));
        cr_assert_eq (r.code, 0);
        int k = -1;
        for (int j = 0; j < 10; j++)
            if (req [j] == r.req_id)
                k = j;
        cr_assert_geq (k, 0, "reply to unknown req_id %llu", (unsigned long long) r.req_id);
        cr_assert_not (seen [k], "req_id %llu answered twice", (unsigned long long) r.req_id);
        seen [k] = true;
        char want [32];
        snprintf (want, sizeof want, "J%llu", (unsigned long long) r.req_id);
        cr_assert_str_eq (r.job, want);
    }
    cr_assert_eq (segq_client_submits_pending (c), 0);
    segq_submit_reply_t r;
    cr_assert_eq (segq_client_submit_recv (c, 100, &r), SEGQ_ENOENT);
    segq_job_spec_destroy (&spec);
    s_stop (&c);
    fixture_assert_no_leaks ();
}

/* ---- error replies ---- */

static void
s_refuse_handler (zsock_t *router, zframe_t *rid, segq_msg_t *msg)
{
    segq_msg_t *reply = segq_msg_new (SEGQ_MSG_ERROR);
    reply->u.error.req_id = msg->type == SEGQ_MSG_SUBMIT ? msg->u.submit.req_id : 0;
    reply->u.error.code = SEGQ_EKIND;
    reply->u.error.message = strdup ("unknown job kind 'noop' on this broker");
    s_reply (router, rid, reply);
}

Test (libsegq, error_reply_becomes_code_and_message, .timeout = 20)
{
    segq_client_t *c = s_start (s_refuse_handler, 5000);
    segq_job_spec_t *spec = s_noop ();
    char job [SEGQ_JOB_ID_MAX];
    cr_assert_eq (segq_client_submit (c, spec, job, sizeof job), SEGQ_EKIND);
    cr_assert_str_eq (segq_client_error (c), "unknown job kind 'noop' on this broker");
    uint64_t req;
    cr_assert_eq (segq_client_submit_send (c, spec, &req), 0);
    segq_submit_reply_t r;
    cr_assert_eq (segq_client_submit_recv (c, 2000, &r), 0);
    cr_assert_eq (r.req_id, req);
    cr_assert_eq (r.code, SEGQ_EKIND);
    cr_assert (strstr (r.message, "unknown job kind"), "%s", r.message);
    segq_job_spec_destroy (&spec);
    s_stop (&c);
    fixture_assert_no_leaks ();
}

static void
s_version_handler (zsock_t *router, zframe_t *rid, segq_msg_t *msg)
{
    segq_msg_t *reply = segq_msg_new (SEGQ_MSG_ERROR);
    reply->u.error.code = SEGQ_EVERSION;
    reply->u.error.message = strdup ("unsupported version");
    reply->u.error.versions = calloc (2, sizeof (uint32_t));
    reply->u.error.versions [0] = 3;
    reply->u.error.versions [1] = 4;
    reply->u.error.n_versions = 2;
    s_reply (router, rid, reply);
}

Test (libsegq, version_error_names_both_sides, .timeout = 20)
{
    segq_client_t *c = s_start (s_version_handler, 5000);
    segq_job_list_t list;
    cr_assert_eq (segq_client_status (c, NULL, NULL, &list), SEGQ_EVERSION);
    const char *e = segq_client_error (c);
    cr_assert (strstr (e, "3, 4") && strstr (e, "speaks 2"), "message: %s", e);
    s_stop (&c);
    fixture_assert_no_leaks ();
}

static void
s_silent_handler (zsock_t *router, zframe_t *rid, segq_msg_t *msg)
{
}

Test (libsegq, silent_broker_is_reported_unreachable, .timeout = 20)
{
    segq_client_t *c = s_start (s_silent_handler, 300);
    segq_job_list_t list;
    cr_assert_eq (segq_client_status (c, NULL, NULL, &list), SEGQ_EUNAVAIL);
    cr_assert (strstr (segq_client_error (c), "not reachable")
                   && strstr (segq_client_error (c), s_endpoint),
               "message: %s", segq_client_error (c));
    s_stop (&c);
    fixture_assert_no_leaks ();
}

/* Answers the first STATUS; at the second, drops its connections and
   listens again: a broker that restarted with the request unanswered. */
static int s_statuses;

static void
s_restarting_handler (zsock_t *router, zframe_t *rid, segq_msg_t *msg)
{
    if (msg->type != SEGQ_MSG_STATUS)
        return;
    if (s_statuses++ == 0) {
        segq_msg_t *reply = segq_msg_new (SEGQ_MSG_STATUS_REPLY);
        reply->u.status_reply.req_id = msg->u.status.req_id;
        s_reply (router, rid, reply);
        return;
    }
    /* the listener closes in libzmq's I/O thread: the port is free soon */
    zsock_unbind (router, "%s", s_endpoint);
    for (int tries = 0; tries < 200 && zsock_bind (router, "%s", s_endpoint) == -1; tries++)
        zclock_sleep (10);
}

/* A request lost with the connection is no slow broker: the message says
   to run the command again, not to wait longer. */
Test (libsegq, answer_lost_to_a_broken_connection_says_run_again, .timeout = 20)
{
    s_statuses = 0;
    segq_client_t *c = s_start (s_restarting_handler, 1500);
    segq_job_list_t list;
    cr_assert_eq (segq_client_status (c, NULL, NULL, &list), 0, "%s", segq_client_error (c));
    segq_job_list_clear (&list);
    cr_assert_eq (segq_client_status (c, NULL, NULL, &list), SEGQ_ETIMEOUT);
    cr_assert (strstr (segq_client_error (c), "connection to the broker")
                   && strstr (segq_client_error (c), "run the command again")
                   && !strstr (segq_client_error (c), "--timeout"),
               "message: %s", segq_client_error (c));
    s_stop (&c);
    fixture_assert_no_leaks ();
}

/* ---- upload: chunks never exceed the credit; hash checked ---- */

static struct {
    char hash [SEGQ_HASH_HEX_LEN + 1];
    uint64_t size, received;
    segq_sha256_t sha;
    int64_t credit; /* granted minus used */
    int violations; /* chunks beyond credit, or out of order */
    int chunks;
    bool have;
    bool put_named_hash; /* the PUT carried one, rather than the final CHUNK */
    bool corrupt;        /* the receiver flips a byte of the first chunk */
} s_up;

static void
s_upload_handler (zsock_t *router, zframe_t *rid, segq_msg_t *msg)
{
    if (msg->type == SEGQ_MSG_PUT) {
        memcpy (s_up.hash, msg->u.put.hash, sizeof s_up.hash);
        s_up.put_named_hash = msg->u.put.hash [0] != '\0';
        s_up.size = msg->u.put.size;
        segq_sha256_init (&s_up.sha);
        segq_msg_t *reply = segq_msg_new (SEGQ_MSG_PUT_READY);
        reply->u.put_ready.req_id = msg->u.put.req_id;
        reply->u.put_ready.transfer = 77;
        reply->u.put_ready.have = s_up.have;
        reply->u.put_ready.credit = 2;
        reply->u.put_ready.chunk_size = 1000;
        s_up.credit = 2;
        s_reply (router, rid, reply);
        return;
    }
    cr_assert_eq (msg->type, SEGQ_MSG_CHUNK);
    segq_chunk_t *ch = &msg->u.chunk;
    s_up.chunks++;
    size_t n = zframe_size (ch->data);
    if (--s_up.credit < 0 || ch->transfer != 77 || ch->offset != s_up.received || n > 1000)
        s_up.violations++;
    if (s_up.corrupt && s_up.received == 0 && n)
        ((uint8_t *) zframe_data (ch->data)) [0] ^= 1;
    segq_sha256_update (&s_up.sha, zframe_data (ch->data), n);
    s_up.received += n;
    if (ch->hash [0] && !ch->last)
        s_up.violations++;
    if (ch->last && ch->hash [0]) {
        if (s_up.put_named_hash && strcmp (ch->hash, s_up.hash) != 0)
            s_up.violations++;
        memcpy (s_up.hash, ch->hash, sizeof s_up.hash);
    }
    if (!ch->last) {
        /* Slow receiver: one chunk of credit back per chunk written. */
        segq_msg_t *credit = segq_msg_new (SEGQ_MSG_CREDIT);
        credit->u.credit.transfer = 77;
        credit->u.credit.chunks = 1;
        s_up.credit++;
        s_reply (router, rid, credit);
        return;
    }
    char got [SEGQ_HASH_HEX_LEN + 1];
    segq_sha256_final (&s_up.sha, got);
    segq_msg_t *done = segq_msg_new (SEGQ_MSG_PUT_DONE);
    done->u.put_done.transfer = 77;
    done->u.put_done.code =
        strcmp (got, s_up.hash) == 0 && s_up.received == s_up.size ? 0 : SEGQ_EHASH;
    s_reply (router, rid, done);
}

static void
s_write_file (const char *path, size_t size)
{
    FILE *f = fopen (path, "wb");
    cr_assert_not_null (f);
    for (size_t i = 0; i < size; i++)
        fputc ((int) ((i * 7919) >> 3) & 0xff, f);
    fclose (f);
}

/* A temporary file of `size` bytes; path is a mkstemp template. */
static void
s_temp_file (char *path, size_t size)
{
    int fd = mkstemp (path);
    cr_assert_geq (fd, 0);
    close (fd);
    s_write_file (path, size);
}

Test (libsegq, upload_respects_credit_and_hash, .timeout = 20)
{
    char path [] = "/tmp/segq-up-XXXXXX";
    s_temp_file (path, 10500);
    segq_client_t *c = s_start (s_upload_handler, 5000);
    char hash [SEGQ_HASH_HEX_LEN + 1], want [SEGQ_HASH_HEX_LEN + 1];
    uint64_t size;
    int rc = segq_client_upload (c, path, "data.bin", hash, &size);
    s_stop (&c);
    cr_assert_eq (rc, 0, "upload failed");
    cr_assert_eq (segq_sha256_file (path, want), 0);
    unlink (path);
    cr_assert_str_eq (hash, want);
    cr_assert_not (s_up.put_named_hash, "the default upload hashed the file before PUT");
    cr_assert_str_eq (s_up.hash, want, "the final CHUNK named another hash");
    cr_assert_eq (size, 10500);
    cr_assert_eq (s_up.received, 10500);
    cr_assert_eq (s_up.chunks, 11);
    cr_assert_eq (s_up.violations, 0, "chunks sent beyond the credit or out of order");
    fixture_assert_no_leaks ();
}

Test (libsegq, upload_skipped_when_broker_has_hash, .timeout = 20)
{
    char path [] = "/tmp/segq-up-XXXXXX";
    s_temp_file (path, 5000);
    s_up.have = true;
    segq_client_t *c = s_start (s_upload_handler, 5000);
    char hash [SEGQ_HASH_HEX_LEN + 1], want [SEGQ_HASH_HEX_LEN + 1];
    int rc = segq_client_upload_hash_first (c, path, NULL, hash, NULL);
    s_stop (&c);
    cr_assert_eq (segq_sha256_file (path, want), 0);
    unlink (path);
    cr_assert_eq (rc, 0);
    cr_assert (s_up.put_named_hash);
    cr_assert_str_eq (hash, want);
    cr_assert_eq (s_up.chunks, 0, "sent %d chunks the broker already had", s_up.chunks);
    fixture_assert_no_leaks ();
}

/* A known hash goes in PUT; when the broker lacks the file, the data follows
   and the final CHUNK names no other hash. */
Test (libsegq, upload_known_hash_sends_when_broker_lacks_it, .timeout = 20)
{
    char path [] = "/tmp/segq-up-XXXXXX";
    s_temp_file (path, 2500);
    char want [SEGQ_HASH_HEX_LEN + 1];
    cr_assert_eq (segq_sha256_file (path, want), 0);
    segq_client_t *c = s_start (s_upload_handler, 5000);
    uint64_t size = 0;
    int rc = segq_client_upload_known (c, path, "k.bin", want, &size);
    cr_assert_eq (segq_client_upload_known (c, path, "k.bin", "not-a-hash", NULL), SEGQ_EINVAL);
    s_stop (&c);
    unlink (path);
    cr_assert_eq (rc, 0, "upload failed");
    cr_assert (s_up.put_named_hash);
    cr_assert_str_eq (s_up.hash, want);
    cr_assert_eq (size, 2500);
    cr_assert_eq (s_up.chunks, 3);
    cr_assert_eq (s_up.violations, 0);
    fixture_assert_no_leaks ();
}

/* The receiver's hash differs from the one the sender names at the end:
   PUT_DONE{EHASH} is the upload's failure. */
Test (libsegq, upload_hash_mismatch_at_end_fails, .timeout = 20)
{
    char path [] = "/tmp/segq-up-XXXXXX";
    s_temp_file (path, 3000);
    s_up.corrupt = true;
    segq_client_t *c = s_start (s_upload_handler, 5000);
    char hash [SEGQ_HASH_HEX_LEN + 1] = "";
    int rc = segq_client_upload (c, path, NULL, hash, NULL);
    char err [512];
    snprintf (err, sizeof err, "%s", segq_client_error (c));
    s_stop (&c);
    unlink (path);
    cr_assert_eq (rc, SEGQ_EHASH, "rc %d: %s", rc, err);
    cr_assert (strstr (err, "refused"), "%s", err);
    cr_assert_eq (hash [0], '\0', "a failed upload reported a hash");
    fixture_assert_no_leaks ();
}

/* ---- fetch: credit honoured by the receiver, sha256 checked, atomic ---- */

static struct {
    uint8_t data [25000];
    char hash [SEGQ_HASH_HEX_LEN + 1];
    uint64_t sent;
    uint32_t credit;
    bool corrupt;
    bool credit_overflow;
    uint64_t req_id;
    bool fail_midway; /* ERROR{req_id, EIO} after 3 chunks */
} s_down;

static void
s_send_chunks (zsock_t *router, zframe_t *rid)
{
    while (s_down.credit > 0 && s_down.sent < sizeof s_down.data) {
        if (s_down.fail_midway && s_down.sent == 3000) {
            segq_msg_t *error = segq_msg_new (SEGQ_MSG_ERROR);
            error->u.error.req_id = s_down.req_id;
            error->u.error.code = SEGQ_EIO;
            error->u.error.message = strdup ("the broker could not read the artifact");
            s_down.sent = sizeof s_down.data;
            s_reply (router, rid, error);
            return;
        }
        size_t n =
            sizeof s_down.data - s_down.sent < 1000 ? sizeof s_down.data - s_down.sent : 1000;
        segq_msg_t *chunk = segq_msg_new (SEGQ_MSG_CHUNK);
        chunk->u.chunk.transfer = 5;
        chunk->u.chunk.offset = s_down.sent;
        chunk->u.chunk.data = zframe_new (s_down.data + s_down.sent, n);
        if (s_down.corrupt && s_down.sent == 3000)
            zframe_data (chunk->u.chunk.data) [10] ^= 1;
        s_down.sent += n;
        chunk->u.chunk.last = s_down.sent == sizeof s_down.data;
        s_down.credit--;
        s_reply (router, rid, chunk);
    }
}

static void
s_fetch_handler (zsock_t *router, zframe_t *rid, segq_msg_t *msg)
{
    if (msg->type == SEGQ_MSG_GET) {
        segq_msg_t *ready = segq_msg_new (SEGQ_MSG_GET_READY);
        ready->u.get_ready.req_id = msg->u.get.req_id;
        ready->u.get_ready.transfer = 5;
        memcpy (ready->u.get_ready.hash, s_down.hash, sizeof s_down.hash);
        ready->u.get_ready.size = sizeof s_down.data;
        ready->u.get_ready.name = strdup (msg->u.get.name);
        ready->u.get_ready.chunk_size = 1000;
        s_down.credit = msg->u.get.credit;
        s_down.req_id = msg->u.get.req_id;
        s_reply (router, rid, ready);
    } else if (msg->type == SEGQ_MSG_CREDIT) {
        s_down.credit += msg->u.credit.chunks;
        if (s_down.credit > 64)
            s_down.credit_overflow = true;
    }
    s_send_chunks (router, rid);
}

static void
s_fetch_setup (bool corrupt)
{
    for (size_t i = 0; i < sizeof s_down.data; i++)
        s_down.data [i] = (uint8_t) (i * 31 + 7);
    segq_sha256_t sha;
    segq_sha256_init (&sha);
    segq_sha256_update (&sha, s_down.data, sizeof s_down.data);
    segq_sha256_final (&sha, s_down.hash);
    s_down.corrupt = corrupt;
}

static size_t
s_count_files (const char *dir)
{
    DIR *d = opendir (dir);
    size_t n = 0;
    struct dirent *e;
    while (d && (e = readdir (d)))
        n += e->d_name [0] != '.';
    if (d)
        closedir (d);
    return n;
}

Test (libsegq, fetch_writes_verified_file, .timeout = 20)
{
    s_fetch_setup (false);
    char dir [] = "/tmp/segq-fetch-XXXXXX";
    cr_assert_not_null (mkdtemp (dir));
    char path [128];
    snprintf (path, sizeof path, "%s/out.bin", dir);
    segq_client_t *c = s_start (s_fetch_handler, 5000);
    char hash [SEGQ_HASH_HEX_LEN + 1];
    int rc = segq_client_fetch (c, "J1", "out.bin", path, hash);
    s_stop (&c);
    cr_assert_eq (rc, 0);
    cr_assert_str_eq (hash, s_down.hash);
    cr_assert_not (s_down.credit_overflow, "the receiver granted credit it did not use");
    FILE *f = fopen (path, "rb");
    cr_assert_not_null (f);
    static uint8_t back [sizeof s_down.data + 1];
    cr_assert_eq (fread (back, 1, sizeof back, f), sizeof s_down.data);
    fclose (f);
    cr_assert_arr_eq (back, s_down.data, sizeof s_down.data);
    cr_assert_eq (s_count_files (dir), 1, "temporary files left behind");
    unlink (path);
    rmdir (dir);
    fixture_assert_no_leaks ();
}

Test (libsegq, fetch_of_corrupt_data_leaves_nothing, .timeout = 20)
{
    s_fetch_setup (true);
    char dir [] = "/tmp/segq-fetch-XXXXXX";
    cr_assert_not_null (mkdtemp (dir));
    char path [128];
    snprintf (path, sizeof path, "%s/out.bin", dir);
    segq_client_t *c = s_start (s_fetch_handler, 5000);
    int rc = segq_client_fetch (c, "J1", "out.bin", path, NULL);
    char message [1024];
    snprintf (message, sizeof message, "%s", segq_client_error (c));
    s_stop (&c);
    cr_assert_eq (rc, SEGQ_EHASH, "corrupt data gave %d: %s", rc, message);
    cr_assert (strstr (message, "sha256"), "%s", message);
    cr_assert_eq (s_count_files (dir), 0, "a corrupt download left a file");
    rmdir (dir);
    fixture_assert_no_leaks ();
}

/* A transfer the broker aborts midway fails at once with its reason. */
Test (libsegq, fetch_aborted_by_broker_fails_with_its_reason, .timeout = 20)
{
    s_fetch_setup (false);
    s_down.fail_midway = true;
    char dir [] = "/tmp/segq-fetch-XXXXXX";
    cr_assert_not_null (mkdtemp (dir));
    char path [128];
    snprintf (path, sizeof path, "%s/out.bin", dir);
    segq_client_t *c = s_start (s_fetch_handler, 5000);
    int64_t t0 = zclock_mono ();
    int rc = segq_client_fetch (c, "J1", "out.bin", path, NULL);
    int64_t took = zclock_mono () - t0;
    char message [1024];
    snprintf (message, sizeof message, "%s", segq_client_error (c));
    s_stop (&c);
    cr_assert_eq (rc, SEGQ_EIO, "aborted transfer gave %d: %s", rc, message);
    cr_assert (strstr (message, "could not read"), "%s", message);
    cr_assert_lt (took, 2000, "the client waited %lld ms for a transfer already aborted",
                  (long long) took);
    cr_assert_eq (s_count_files (dir), 0, "an aborted download left a file");
    rmdir (dir);
    fixture_assert_no_leaks ();
}

/* ---- job specs: refused before anything is sent ---- */

Test (libsegq, job_spec_checks_against_schema, .timeout = 10)
{
    char err [512];
    segq_job_spec_t *spec = segq_job_spec_new ("no-such-kind");
    cr_assert_eq (segq_job_spec_param (spec, "x", "1", err, sizeof err), SEGQ_EKIND);
    cr_assert (strstr (err, "no-such-kind") && strstr (err, "sleep"), "%s", err);
    cr_assert_eq (segq_job_spec_validate (spec, err, sizeof err), SEGQ_EKIND);
    segq_job_spec_destroy (&spec);

    spec = segq_job_spec_new ("sleep");
    cr_assert_eq (segq_job_spec_param (spec, "seconds", "-1", err, sizeof err), SEGQ_EINVAL);
    cr_assert (strstr (err, "seconds"), "%s", err);
    cr_assert_eq (segq_job_spec_param (spec, "nope", "1", err, sizeof err), SEGQ_EINVAL);
    cr_assert (strstr (err, "nope") && strstr (err, "seconds"), "%s", err);
    cr_assert_eq (segq_job_spec_input_arg (spec, "files=x", err, sizeof err), SEGQ_EINVAL,
                  "sleep takes no inputs");
    cr_assert_eq (segq_job_spec_param (spec, "seconds", "2.5", err, sizeof err), 0, "%s", err);
    cr_assert_eq (segq_job_spec_validate (spec, err, sizeof err), 0, "%s", err);
    segq_job_spec_destroy (&spec);

    spec = segq_job_spec_new ("echo");
    cr_assert_eq (segq_job_spec_input_arg (spec, "files=/no/such/file.txt", err, sizeof err),
                  SEGQ_ENOENT);
    cr_assert (strstr (err, "/no/such/file.txt"), "%s", err);
    cr_assert_eq (segq_job_spec_input_arg (spec, "files", err, sizeof err), SEGQ_EINVAL);
    cr_assert_eq (segq_job_spec_input_arg (spec, "files=AB12:out.txt", err, sizeof err), 0, "%s",
                  err);
    /* an output in a folder is a job's output, not a missing file; in an
       input of many files each output goes beside the others, by its name */
    cr_assert_eq (segq_job_spec_input_ref (spec, "files", "AB13:images/1.png", err, sizeof err), 0,
                  "%s", err);
    cr_assert_eq (segq_job_spec_input_ref (spec, "files", "AB14:images/1.png", err, sizeof err), 0,
                  "%s", err);
    cr_assert_eq (segq_job_spec_validate (spec, err, sizeof err), SEGQ_EINVAL,
                  "two outputs laid out as files/1.png");
    cr_assert (strstr (err, "files/1.png"), "%s", err);
    segq_job_spec_destroy (&spec);
    spec = segq_job_spec_new ("echo");
    cr_assert_eq (segq_job_spec_input_arg (spec, "files=AB12:out.txt", err, sizeof err), 0, "%s",
                  err);
    cr_assert_eq (segq_job_spec_input_ref (spec, "files", "AB13:images/1.png", err, sizeof err), 0,
                  "%s", err);
    cr_assert_eq (segq_job_spec_input_ref (spec, "files", "no/such:x.png", err, sizeof err),
                  SEGQ_ENOENT);
    cr_assert_eq (segq_job_spec_input_hash (spec, "files/a", "xyz", 1, err, sizeof err),
                  SEGQ_EINVAL);
    cr_assert_eq (segq_job_spec_validate (spec, err, sizeof err), 0, "%s", err);
    segq_job_spec_destroy (&spec);
    fixture_assert_no_leaks ();
}

/* ---- job specs without a broker: folders, required inputs, keys ---- */

static char s_dir [64];

static void
s_make_dir (void)
{
    snprintf (s_dir, sizeof s_dir, "/tmp/segq-libsegq-XXXXXX");
    cr_assert_not_null (mkdtemp (s_dir));
}

static void
s_remove_dir (void)
{
    char command [128];
    snprintf (command, sizeof command, "rm -rf '%s'", s_dir);
    cr_assert_eq (system (command), 0);
}

/* A file under s_dir holding its own name. */
static void
s_file (const char *name)
{
    char path [256];
    snprintf (path, sizeof path, "%s/%s", s_dir, name);
    FILE *f = fopen (path, "w");
    cr_assert_not_null (f, "%s", path);
    fputs (name, f);
    fclose (f);
}

static void
s_link (const char *target, const char *name)
{
    char path [256];
    snprintf (path, sizeof path, "%s/%s", s_dir, name);
    cr_assert_eq (symlink (target, path), 0, "%s", path);
}

/* The error an echo job's folder input s_dir/data gets ("" if accepted). */
static int
s_folder (char *err, size_t errlen)
{
    char path [128];
    snprintf (path, sizeof path, "%s/data", s_dir);
    segq_job_spec_t *spec = segq_job_spec_new ("echo");
    err [0] = 0;
    int rc = segq_job_spec_input_dir (spec, "files", path, err, errlen);
    if (rc == 0)
        rc = segq_job_spec_validate (spec, err, errlen);
    segq_job_spec_destroy (&spec);
    return rc;
}

/* A folder is walked without leaving it: a link to a file inside counts as
   that file; a link out of it, to a folder (up: a loop), in a circle or to
   nothing is refused, naming the link and where it points. */
Test (libsegq, folder_links_followed_only_to_files_inside, .init = s_make_dir, .fini = s_remove_dir,
      .timeout = 20)
{
    char err [1024], path [128];
    snprintf (path, sizeof path, "%s/data", s_dir);
    cr_assert_eq (mkdir (path, 0700), 0);
    snprintf (path, sizeof path, "%s/data/sub", s_dir);
    cr_assert_eq (mkdir (path, 0700), 0);
    s_file ("outside.txt");
    s_file ("data/a.txt");
    s_file ("data/sub/b.txt");
    s_link ("a.txt", "data/alias.txt");
    s_link ("../a.txt", "data/sub/up.txt");
    cr_assert_eq (s_folder (err, sizeof err), 0, "links to files inside: %s", err);
    static const struct {
        const char *target, *name, *says;
    } refused [] = {
        { "../outside.txt", "data/out.txt", "outside the folder" },
        { "/etc/hostname", "data/sub/etc", "outside the folder" },
        { "..", "data/sub/parent", "loops" },
        { ".", "data/self", "loops" },
        { "sub", "data/folder", "not a regular file" },
        { "nowhere", "data/dangling", "leads nowhere" },
    };
    for (size_t i = 0; i < sizeof refused / sizeof refused [0]; i++) {
        s_link (refused [i].target, refused [i].name);
        cr_assert_eq (s_folder (err, sizeof err), SEGQ_EINVAL, "%s -> %s accepted",
                      refused [i].name, refused [i].target);
        cr_assert (strstr (err, refused [i].name) && strstr (err, refused [i].target)
                       && strstr (err, refused [i].says),
                   "%s -> %s: %s", refused [i].name, refused [i].target, err);
        snprintf (path, sizeof path, "%s/%s", s_dir, refused [i].name);
        cr_assert_eq (unlink (path), 0);
    }
    /* two links naming each other */
    s_link ("loop2", "data/loop1");
    s_link ("loop1", "data/loop2");
    cr_assert_eq (s_folder (err, sizeof err), SEGQ_EINVAL);
    cr_assert (strstr (err, "data/loop1") && strstr (err, "loops"), "%s", err);
    fixture_assert_no_leaks ();
}

/* train's mask is needed unless mask_from_alpha: refused before anything
   is sent, naming what is missing. */
Test (libsegq, train_without_mask_refused_naming_it, .init = s_make_dir, .fini = s_remove_dir,
      .timeout = 10)
{
    char err [512], image [128];
    s_file ("polyp.png");
    snprintf (image, sizeof image, "%s/polyp.png", s_dir);
    segq_job_spec_t *spec = segq_job_spec_new ("train");
    cr_assert_eq (segq_job_spec_input_file (spec, "image", image, err, sizeof err), 0, "%s", err);
    cr_assert_eq (segq_job_spec_validate (spec, err, sizeof err), SEGQ_EINVAL);
    cr_assert (strstr (err, "needs input 'mask'") && strstr (err, "--mask")
                   && strstr (err, "mask_from_alpha"),
               "%s", err);
    cr_assert_eq (segq_job_spec_param (spec, "mask_from_alpha", "true", err, sizeof err), 0);
    cr_assert_eq (segq_job_spec_validate (spec, err, sizeof err), 0, "%s", err);
    segq_job_spec_destroy (&spec);
    fixture_assert_no_leaks ();
}

/* The client's own certificate by default: the one `segq keygen` wrote in
   the config dir, NAME.cert (the broker's public one aside); with several,
   it must be named. */
Test (libsegq, default_certificate_is_the_one_keygen_wrote, .init = s_make_dir,
      .fini = s_remove_dir, .timeout = 10)
{
    char out [512], err [512] = "", dir [128];
    setenv ("XDG_CONFIG_HOME", s_dir, 1);
    unsetenv ("SEGQ_CERT");
    snprintf (dir, sizeof dir, "%s/segq", s_dir);
    cr_assert_eq (mkdir (dir, 0700), 0);
    struct passwd *pw = getpwuid (geteuid ());
    cr_assert_eq (segq_keys_default_cert (out, sizeof out, err, sizeof err), 0, "%s", err);
    char want [256];
    snprintf (want, sizeof want, "%s/%s.cert", dir, pw->pw_name);
    cr_assert_str_eq (out, want, "none yet: where `segq keygen` writes it");
    s_file ("segq/broker.cert");
    s_file ("segq/broker.cert_secret");
    s_file ("segq/alice.cert");
    s_file ("segq/alice.cert_secret");
    cr_assert_eq (segq_keys_default_cert (out, sizeof out, err, sizeof err), 0, "%s", err);
    snprintf (want, sizeof want, "%s/alice.cert", dir);
    cr_assert_str_eq (out, want);
    s_file ("segq/bob.cert_secret");
    cr_assert_eq (segq_keys_default_cert (out, sizeof out, err, sizeof err), SEGQ_EINVAL);
    cr_assert (strstr (err, "alice.cert, bob.cert") && strstr (err, "--cert"), "%s", err);
    setenv ("SEGQ_CERT", "/somewhere/mine.cert", 1);
    cr_assert_eq (segq_keys_default_cert (out, sizeof out, err, sizeof err), 0, "%s", err);
    cr_assert_str_eq (out, "/somewhere/mine.cert");
}

/* ---- fetch of many outputs: several GETs in flight, never more than 8 ---- */

static struct {
    uint64_t req_ids [16];
    char names [16][32];
    size_t n_held, most, served, total;
} s_many;

/* Output fNN holds 1000 + 150 * NN bytes of a pattern of its own. */
static size_t
s_many_content (const char *name, uint8_t *data)
{
    int k = atoi (name + 1);
    size_t size = 1000 + 150 * (size_t) k;
    for (size_t i = 0; i < size; i++)
        data [i] = (uint8_t) (i * 7 + (size_t) k);
    return size;
}

/* One held GET answered: its GET_READY and every chunk (within the 8 of
   credit a GET gives), or ENOENT for an output named "missing". */
static void
s_many_serve (zsock_t *router, zframe_t *rid, uint64_t req_id, const char *name)
{
    if (strcmp (name, "missing") == 0) {
        segq_msg_t *error = segq_msg_new (SEGQ_MSG_ERROR);
        error->u.error.req_id = req_id;
        error->u.error.code = SEGQ_ENOENT;
        error->u.error.message = strdup ("job J1 has no output 'missing'");
        s_reply (router, rid, error);
        return;
    }
    static uint8_t data [8000];
    size_t size = s_many_content (name, data);
    segq_msg_t *ready = segq_msg_new (SEGQ_MSG_GET_READY);
    ready->u.get_ready.req_id = req_id;
    ready->u.get_ready.transfer = 100 + req_id;
    segq_sha256_t sha;
    segq_sha256_init (&sha);
    segq_sha256_update (&sha, data, size);
    segq_sha256_final (&sha, ready->u.get_ready.hash);
    ready->u.get_ready.size = size;
    ready->u.get_ready.chunk_size = 1000;
    s_reply (router, rid, ready);
    for (size_t off = 0; off < size; off += 1000) {
        segq_msg_t *chunk = segq_msg_new (SEGQ_MSG_CHUNK);
        chunk->u.chunk.transfer = 100 + req_id;
        chunk->u.chunk.offset = off;
        chunk->u.chunk.data = zframe_new (data + off, size - off < 1000 ? size - off : 1000);
        chunk->u.chunk.last = off + 1000 >= size;
        s_reply (router, rid, chunk);
    }
}

/* GETs are held until 8 are, or the last ones, then answered last first. */
static void
s_many_handler (zsock_t *router, zframe_t *rid, segq_msg_t *msg)
{
    if (msg->type != SEGQ_MSG_GET)
        return;
    s_many.req_ids [s_many.n_held] = msg->u.get.req_id;
    snprintf (s_many.names [s_many.n_held], sizeof s_many.names [0], "%s", msg->u.get.name);
    s_many.n_held++;
    s_many.most = s_many.n_held > s_many.most ? s_many.n_held : s_many.most;
    if (s_many.n_held < 8 && s_many.served + s_many.n_held < s_many.total)
        return;
    s_many.served += s_many.n_held;
    while (s_many.n_held--)
        s_many_serve (router, rid, s_many.req_ids [s_many.n_held], s_many.names [s_many.n_held]);
    s_many.n_held = 0;
}

/* outputs f00.. (or "missing" at index `missing`), fetched into dir. */
static int
s_fetch_many (const char *dir, size_t n, size_t missing, char (*hashes) [SEGQ_HASH_HEX_LEN + 1],
              char *message, size_t len)
{
    s_many = (__typeof__ (s_many)){ .total = n };
    segq_artifact_t outputs [20];
    const segq_artifact_t *wanted [20];
    char names [20][16], paths [20][128];
    const char *path_of [20];
    for (size_t i = 0; i < n; i++) {
        snprintf (names [i], sizeof names [i], i == missing ? "missing" : "f%02zu", i);
        snprintf (paths [i], sizeof paths [i], "%s/%s", dir, names [i]);
        outputs [i] = (segq_artifact_t){ .name = names [i], .size = 2000 };
        wanted [i] = &outputs [i];
        path_of [i] = paths [i];
    }
    segq_client_t *c = s_start (s_many_handler, 5000);
    int rc = segq_client_fetch_outputs (c, "J1", wanted, path_of, n, hashes);
    snprintf (message, len, "%s", segq_client_error (c));
    s_stop (&c);
    return rc;
}

Test (libsegq, many_outputs_fetched_several_at_a_time, .timeout = 20)
{
    char dir [] = "/tmp/segq-fetch-XXXXXX";
    cr_assert_not_null (mkdtemp (dir));
    char hashes [20][SEGQ_HASH_HEX_LEN + 1], message [1024];
    cr_assert_eq (s_fetch_many (dir, 20, 20, hashes, message, sizeof message), 0, "%s", message);
    cr_assert_eq (s_many.most, 8, "%zu GETs in flight at most", s_many.most);
    static uint8_t want [8000], back [8001];
    for (size_t i = 0; i < 20; i++) {
        char name [16], path [160];
        snprintf (name, sizeof name, "f%02zu", i);
        snprintf (path, sizeof path, "%s/%s", dir, name);
        size_t size = s_many_content (name, want);
        FILE *f = fopen (path, "rb");
        cr_assert_not_null (f, "%s", path);
        cr_assert_eq (fread (back, 1, sizeof back, f), size, "%s", path);
        fclose (f);
        cr_assert_arr_eq (back, want, size, "%s", path);
        segq_sha256_t sha;
        char hash [SEGQ_HASH_HEX_LEN + 1];
        segq_sha256_init (&sha);
        segq_sha256_update (&sha, want, size);
        segq_sha256_final (&sha, hash);
        cr_assert_str_eq (hashes [i], hash, "%s", path);
        unlink (path);
    }
    cr_assert_eq (s_count_files (dir), 0, "temporary files left behind");
    rmdir (dir);
    fixture_assert_no_leaks ();
}

/* A refused GET fails the fetch with the broker's words. The second eight
   GETs are answered last first: f15..f11 are in place before the refusal
   of "missing" comes and stay, as f00..f07 do; f08 and f09, still on their
   way, leave nothing behind. */
Test (libsegq, a_refused_output_drops_what_is_in_flight, .timeout = 20)
{
    char dir [] = "/tmp/segq-fetch-XXXXXX";
    cr_assert_not_null (mkdtemp (dir));
    char hashes [20][SEGQ_HASH_HEX_LEN + 1], message [1024];
    cr_assert_eq (s_fetch_many (dir, 20, 10, hashes, message, sizeof message), SEGQ_ENOENT);
    cr_assert (strstr (message, "no output 'missing'"), "%s", message);
    DIR *d = opendir (dir);
    struct dirent *e;
    size_t kept = 0;
    while ((e = readdir (d)))
        if (e->d_name [0] != '.') {
            int k = atoi (e->d_name + 1);
            cr_assert_null (strstr (e->d_name, ".segq-"), "left behind: %s", e->d_name);
            cr_assert (e->d_name [0] == 'f' && (k < 8 || (k > 10 && k < 16)), "%s", e->d_name);
            char path [300];
            snprintf (path, sizeof path, "%s/%s", dir, e->d_name);
            unlink (path);
            kept++;
        }
    closedir (d);
    cr_assert_eq (kept, 13);
    rmdir (dir);
    fixture_assert_no_leaks ();
}

/* ---- a submit's files: several PUTs in flight, never more than 8 ---- */

static struct {
    uint64_t req_ids [16];
    size_t n_held, in_flight, most, total, answered;
    segq_sha256_t sha [64]; /* by transfer - 200 */
    char submitted [16][SEGQ_HASH_HEX_LEN + 1];
    size_t n_submitted;
} s_puts;

/* PUTs are held until 8 are, or the last ones, then answered last first;
   each file (one chunk) is stored at its last CHUNK; SUBMIT's inputs are
   kept. */
static void
s_puts_handler (zsock_t *router, zframe_t *rid, segq_msg_t *msg)
{
    if (msg->type == SEGQ_MSG_PUT) {
        s_puts.req_ids [s_puts.n_held++] = msg->u.put.req_id;
        s_puts.in_flight++;
        s_puts.most = s_puts.in_flight > s_puts.most ? s_puts.in_flight : s_puts.most;
        if (s_puts.n_held < 8 && s_puts.answered + s_puts.n_held < s_puts.total)
            return;
        while (s_puts.n_held) {
            uint64_t req = s_puts.req_ids [--s_puts.n_held];
            segq_msg_t *ready = segq_msg_new (SEGQ_MSG_PUT_READY);
            ready->u.put_ready.req_id = req;
            ready->u.put_ready.transfer = 200 + req;
            ready->u.put_ready.credit = 8;
            ready->u.put_ready.chunk_size = 1000;
            segq_sha256_init (&s_puts.sha [req]);
            s_puts.answered++;
            s_reply (router, rid, ready);
        }
    } else if (msg->type == SEGQ_MSG_CHUNK) {
        uint64_t req = msg->u.chunk.transfer - 200;
        size_t n = msg->u.chunk.data ? zframe_size (msg->u.chunk.data) : 0;
        segq_sha256_update (&s_puts.sha [req], n ? zframe_data (msg->u.chunk.data) : NULL, n);
        cr_assert (msg->u.chunk.last, "a file of one chunk");
        char got [SEGQ_HASH_HEX_LEN + 1];
        segq_sha256_final (&s_puts.sha [req], got);
        segq_msg_t *done = segq_msg_new (SEGQ_MSG_PUT_DONE);
        done->u.put_done.transfer = msg->u.chunk.transfer;
        done->u.put_done.code = strcmp (got, msg->u.chunk.hash) == 0 ? 0 : SEGQ_EHASH;
        s_puts.in_flight--;
        s_reply (router, rid, done);
    } else if (msg->type == SEGQ_MSG_SUBMIT) {
        for (size_t i = 0; i < msg->u.submit.n_inputs && i < 16; i++)
            memcpy (s_puts.submitted [i], msg->u.submit.inputs [i].hash, SEGQ_HASH_HEX_LEN + 1);
        s_puts.n_submitted = msg->u.submit.n_inputs;
        segq_msg_t *reply = segq_msg_new (SEGQ_MSG_SUBMITTED);
        reply->u.submitted.req_id = msg->u.submit.req_id;
        reply->u.submitted.job = strdup ("J1");
        s_reply (router, rid, reply);
    }
}

Test (libsegq, a_submit_uploads_its_files_several_at_a_time, .timeout = 20)
{
    char dir [] = "/tmp/segq-up-XXXXXX";
    cr_assert_not_null (mkdtemp (dir));
    s_puts = (__typeof__ (s_puts)){ .total = 12 };
    segq_job_spec_t *spec = segq_job_spec_new ("echo");
    char paths [12][64], err [256];
    for (size_t i = 0; i < 12; i++) {
        snprintf (paths [i], sizeof paths [i], "%s/f%02zu", dir, i);
        s_write_file (paths [i], 100 + 50 * i);
        char name [32];
        snprintf (name, sizeof name, "files/f%02zu", i);
        cr_assert_eq (segq_job_spec_input_file (spec, name, paths [i], err, sizeof err), 0, "%s",
                      err);
    }
    setenv ("SEGQ_HASH_CACHE", "off", 1); /* the user's cache is not the test's */
    segq_client_t *c = s_start (s_puts_handler, 5000);
    char job [SEGQ_JOB_ID_MAX];
    int rc = segq_client_submit (c, spec, job, sizeof job);
    char message [512];
    snprintf (message, sizeof message, "%s", segq_client_error (c));
    s_stop (&c);
    segq_job_spec_destroy (&spec);
    cr_assert_eq (rc, 0, "%s", message);
    cr_assert_eq (s_puts.most, 8, "%zu PUTs in flight at most", s_puts.most);
    cr_assert_eq (s_puts.n_submitted, 12);
    for (size_t i = 0; i < 12; i++) {
        char want [SEGQ_HASH_HEX_LEN + 1];
        cr_assert_eq (segq_sha256_file (paths [i], want), 0);
        cr_assert_str_eq (s_puts.submitted [i], want, "%s", paths [i]);
        unlink (paths [i]);
    }
    rmdir (dir);
    fixture_assert_no_leaks ();
}
