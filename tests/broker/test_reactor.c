/*  The reactor in-process: malformed, wrong-version and oversize messages
    are dropped (answered where possible) while others keep being served;
    submit validation and durability across a restart; what only the
    broker sends; worker messages from an unknown peer; fencing of a stale
    result; a worker's outputs are bytes it sent. */
#include <pthread.h>
#include "broker_test_util.h"
#include "segq_broker.h"
#include "segq_proto.h"
#include "segq_sha256.h"

static char dir [256];
static segq_broker_t *broker;
static pthread_t thread;

static void *
s_run (void *arg)
{
    segq_broker_run (arg);
    return NULL;
}

static void
s_start (void)
{
    char err [512] = "";
    segq_broker_config_t config = {
        .bind = "tcp://127.0.0.1:*",
        .data_dir = dir,
        .heartbeat_ms = 100,
        .expiry_ms = 1000,
        .max_msg = 1 << 17,
        .chunk_size = 1 << 16,
    };
    zsys_interrupted = 0;
    broker = segq_broker_new (&config, err, sizeof err);
    cr_assert_not_null (broker, "%s", err);
    cr_assert_eq (pthread_create (&thread, NULL, s_run, broker), 0);
}

static void
s_stop (void)
{
    zsys_interrupted = 1; /* what SIGTERM does */
    pthread_join (thread, NULL);
    segq_broker_destroy (&broker);
}

static void
setup (void)
{
    zsys_init ();
    zsys_set_logstream (NULL);
    test_tmpdir (dir, sizeof dir);
    s_start ();
}

static void
teardown (void)
{
    if (broker)
        s_stop ();
    test_rmdir (dir);
}

static zsock_t *
s_dealer (void)
{
    zsock_t *sock = zsock_new_dealer (segq_broker_endpoint (broker));
    cr_assert_not_null (sock);
    zsock_set_rcvtimeo (sock, 5000);
    return sock;
}

/* Send a message and return the reply (or NULL on timeout). */
static segq_msg_t *
s_ask (zsock_t *sock, segq_msg_t *msg)
{
    cr_assert_eq (segq_msg_send (&msg, sock, NULL), 0);
    segq_msg_t *reply = NULL;
    char err [256];
    segq_msg_recv (sock, NULL, &reply, NULL, err, sizeof err);
    return reply;
}

static segq_msg_t *
s_submit (const char *kind)
{
    segq_msg_t *msg = segq_msg_new (SEGQ_MSG_SUBMIT);
    msg->u.submit.req_id = 42;
    msg->u.submit.user = strdup ("alice");
    msg->u.submit.kind = strdup (kind);
    return msg;
}

/* A STATUS of one job: its state and message. */
static int
s_status (zsock_t *sock, const char *job, char *message, size_t len)
{
    segq_msg_t *msg = segq_msg_new (SEGQ_MSG_STATUS);
    msg->u.status.req_id = 7;
    msg->u.status.jobs = calloc (1, sizeof (char *));
    msg->u.status.jobs [0] = strdup (job);
    msg->u.status.n_jobs = 1;
    segq_msg_t *reply = s_ask (sock, msg);
    cr_assert (reply && reply->type == SEGQ_MSG_STATUS_REPLY, "STATUS answered");
    cr_assert_eq (reply->u.status_reply.n_jobs, 1);
    int state = reply->u.status_reply.jobs [0].state;
    if (message)
        snprintf (message, len, "%s",
                  reply->u.status_reply.jobs [0].message ? reply->u.status_reply.jobs [0].message
                                                         : "");
    segq_msg_destroy (&reply);
    return state;
}

Test (reactor, bad_frames_are_dropped_and_others_still_served, .init = setup, .fini = teardown,
      .timeout = 30)
{
    zsock_t *bad = s_dealer ();
    /* garbage header */
    zstr_sendm (bad, "XX");
    zstr_send (bad, "not msgpack");
    segq_msg_t *reply = NULL;
    char err [256];
    cr_assert_eq (segq_msg_recv (bad, NULL, &reply, NULL, err, sizeof err), 0, "%s", err);
    cr_assert_eq (reply->type, SEGQ_MSG_ERROR);
    cr_assert_eq (reply->u.error.code, SEGQ_EPROTO);
    segq_msg_destroy (&reply);
    /* a version this broker does not speak */
    uint8_t header [4] = { 'S', 'Q', 99, SEGQ_MSG_STATUS };
    zsock_send (bad, "bb", header, (size_t) 4, "\x80", (size_t) 1);
    cr_assert_eq (segq_msg_recv (bad, NULL, &reply, NULL, err, sizeof err), 0, "%s", err);
    cr_assert_eq (reply->type, SEGQ_MSG_ERROR);
    cr_assert_eq (reply->u.error.code, SEGQ_EVERSION);
    cr_assert_eq (reply->u.error.n_versions, 1);
    cr_assert_eq (reply->u.error.versions [0], SEGQ_PROTO_VERSION);
    segq_msg_destroy (&reply);
    /* over the 128 KiB limit: the connection is dropped, nothing answered */
    zsock_t *huge = s_dealer ();
    zsock_set_rcvtimeo (huge, 500);
    size_t size = 1 << 18;
    char *blob = calloc (1, size);
    zframe_t *frame = zframe_new (blob, size);
    free (blob);
    zframe_send (&frame, huge, 0);
    zmsg_t *nothing = zmsg_recv (huge);
    cr_assert_null (nothing, "an oversize message gets no answer");
    zsock_destroy (&huge);
    /* everyone else is still served */
    zsock_t *good = s_dealer ();
    reply = s_ask (good, s_submit ("noop"));
    cr_assert (reply && reply->type == SEGQ_MSG_SUBMITTED);
    cr_assert_eq (reply->u.submitted.req_id, 42);
    segq_msg_destroy (&reply);
    zsock_destroy (&bad);
    zsock_destroy (&good);
}

Test (reactor, submit_is_validated_and_survives_a_restart, .init = setup, .fini = teardown,
      .timeout = 30)
{
    zsock_t *sock = s_dealer ();
    segq_msg_t *reply = s_ask (sock, s_submit ("frobnicate"));
    cr_assert (reply && reply->type == SEGQ_MSG_ERROR);
    cr_assert_eq (reply->u.error.code, SEGQ_EKIND);
    cr_assert_eq (reply->u.error.req_id, 42);
    cr_assert (strstr (reply->u.error.message, "frobnicate"), "%s", reply->u.error.message);
    segq_msg_destroy (&reply);
    reply = s_ask (sock, s_submit ("sleep"));
    cr_assert (reply && reply->type == SEGQ_MSG_SUBMITTED);
    char job [64];
    snprintf (job, sizeof job, "%s", reply->u.submitted.job);
    segq_msg_destroy (&reply);
    char message [512];
    cr_assert_eq (s_status (sock, job, message, sizeof message), SEGQ_JOB_QUEUED);
    cr_assert (strstr (message, "no connected worker runs sleep"), "%s", message);
    zsock_destroy (&sock);
    /* stop and start again on the same data: the acknowledged job is there */
    s_stop ();
    s_start ();
    sock = s_dealer ();
    cr_assert_eq (s_status (sock, job, NULL, 0), SEGQ_JOB_QUEUED);
    segq_msg_t *msg = segq_msg_new (SEGQ_MSG_STATUS);
    msg->u.status.req_id = 8;
    msg->u.status.jobs = calloc (1, sizeof (char *));
    msg->u.status.jobs [0] = strdup ("zzzz");
    msg->u.status.n_jobs = 1;
    reply = s_ask (sock, msg);
    cr_assert (reply && reply->type == SEGQ_MSG_ERROR);
    cr_assert_eq (reply->u.error.code, SEGQ_ENOENT);
    segq_msg_destroy (&reply);
    zsock_destroy (&sock);
}

/* What only the broker sends is refused by name, and the connection is
   still served. */
Test (reactor, a_message_only_the_broker_sends_is_refused, .init = setup, .fini = teardown,
      .timeout = 30)
{
    zsock_t *sock = s_dealer ();
    segq_msg_t *reply = s_ask (sock, segq_msg_new (SEGQ_MSG_WELCOME));
    cr_assert (reply && reply->type == SEGQ_MSG_ERROR);
    cr_assert_eq (reply->u.error.code, SEGQ_EPROTO);
    cr_assert (strstr (reply->u.error.message, "does not accept WELCOME"), "%s",
               reply->u.error.message);
    segq_msg_destroy (&reply);
    segq_msg_t *kinds = segq_msg_new (SEGQ_MSG_KINDS);
    kinds->u.kinds.req_id = 3;
    reply = s_ask (sock, kinds);
    cr_assert (reply && reply->type == SEGQ_MSG_KINDS_REPLY);
    cr_assert_eq (reply->u.kinds_reply.req_id, 3);
    segq_msg_destroy (&reply);
    zsock_destroy (&sock);
}

/* Registers worker `node` (CPU, one kind) on sock, holding attempt 1 of
   job (or nothing: NULL); whether it was told to abort it (an ABORT comes
   before the WELCOME). */
static bool
s_register_holding (zsock_t *worker, const char *node, const char *kind, const char *job)
{
    segq_msg_t *reg = segq_msg_new (SEGQ_MSG_REGISTER);
    reg->u.reg.node = strdup (node);
    reg->u.reg.cpu_slots = 1;
    reg->u.reg.kinds = calloc (1, sizeof (char *));
    reg->u.reg.kinds [0] = strdup (kind);
    reg->u.reg.n_kinds = 1;
    if (job) {
        reg->u.reg.held = calloc (1, sizeof *reg->u.reg.held);
        reg->u.reg.held [0] = (segq_job_attempt_t){ .job = strdup (job), .attempt = 1 };
        reg->u.reg.n_held = 1;
    }
    segq_msg_t *reply = s_ask (worker, reg);
    bool aborted = false;
    while (reply && reply->type == SEGQ_MSG_ABORT) {
        aborted = aborted || (job && strcmp (reply->u.abort.job, job) == 0);
        segq_msg_destroy (&reply);
        char err [256];
        segq_msg_recv (worker, NULL, &reply, NULL, err, sizeof err);
    }
    cr_assert (reply && reply->type == SEGQ_MSG_WELCOME);
    cr_assert_eq (reply->u.welcome.heartbeat_ms, 100);
    cr_assert_eq (reply->u.welcome.max_msg, 1 << 17);
    segq_msg_destroy (&reply);
    return aborted;
}

/* Registers worker w1 (CPU, kind sleep) on sock. */
static void
s_register (zsock_t *worker)
{
    s_register_holding (worker, "w1", "sleep", NULL);
}

/* The next message of `type` on sock, heartbeats and others skipped. */
static segq_msg_t *
s_next (zsock_t *sock, segq_msg_type_t type)
{
    segq_msg_t *msg = NULL;
    char err [256];
    while (!msg) {
        cr_assert_eq (segq_msg_recv (sock, NULL, &msg, NULL, err, sizeof err), 0, "%s", err);
        if (msg->type != type)
            segq_msg_destroy (&msg);
    }
    return msg;
}

/* Submits sleep as alice, waits for its ASSIGN to w1: the job's id. */
static void
s_submit_assigned (zsock_t *client, zsock_t *worker, char job [64])
{
    segq_msg_t *reply = s_ask (client, s_submit ("sleep"));
    cr_assert (reply && reply->type == SEGQ_MSG_SUBMITTED);
    snprintf (job, 64, "%s", reply->u.submitted.job);
    segq_msg_destroy (&reply);
    /* the queued job comes as an ASSIGN, with its defaults filled in */
    segq_msg_t *assign = s_next (worker, SEGQ_MSG_ASSIGN);
    cr_assert_str_eq (assign->u.assign.job, job);
    cr_assert_eq (assign->u.assign.attempt, 1);
    cr_assert_eq (assign->u.assign.gpu, -1);
    cr_assert_not_null (segq_params_get (&assign->u.assign.params, "seconds"));
    segq_msg_destroy (&assign);
}

/* A successful RESULT of job's attempt with at most one output; the ack's code. */
static int
s_result (zsock_t *worker, const char *job, uint32_t attempt, const segq_artifact_t *output)
{
    segq_msg_t *result = segq_msg_new (SEGQ_MSG_RESULT);
    result->u.result.job = strdup (job);
    result->u.result.attempt = attempt;
    result->u.result.success = true;
    if (output) {
        result->u.result.outputs = calloc (1, sizeof *output);
        result->u.result.n_outputs = 1;
        result->u.result.outputs [0] = *output;
        result->u.result.outputs [0].name = strdup (output->name);
    }
    cr_assert_eq (segq_msg_send (&result, worker, NULL), 0);
    segq_msg_t *ack = s_next (worker, SEGQ_MSG_RESULT_ACK);
    int code = ack->u.result_ack.code;
    segq_msg_destroy (&ack);
    return code;
}

Test (reactor, workers_register_get_work_and_stale_results_are_fenced, .init = setup,
      .fini = teardown, .timeout = 30)
{
    zsock_t *client = s_dealer ();
    zsock_t *worker = s_dealer ();
    /* a worker message before REGISTER */
    segq_msg_t *reply = s_ask (worker, segq_msg_new (SEGQ_MSG_HEARTBEAT));
    cr_assert (reply && reply->type == SEGQ_MSG_ERROR);
    cr_assert_eq (reply->u.error.code, SEGQ_ENOENT);
    cr_assert (strstr (reply->u.error.message, "register"), "%s", reply->u.error.message);
    segq_msg_destroy (&reply);
    /* registering first: its commit has no reply to hold back */
    s_register (worker);
    char job [64];
    s_submit_assigned (client, worker, job);
    cr_assert_eq (s_status (client, job, NULL, 0), SEGQ_JOB_RUNNING);
    /* a result of another attempt is fenced */
    cr_assert_eq (s_result (worker, job, 2, NULL), SEGQ_ESTALE);
    /* the current attempt's result is accepted */
    cr_assert_eq (s_result (worker, job, 1, NULL), 0);
    cr_assert_eq (s_status (client, job, NULL, 0), SEGQ_JOB_SUCCEEDED);
    zsock_destroy (&client);
    zsock_destroy (&worker);
}

/* Uploads data from sock (user NULL: as a worker); the PUT_DONE code and
   the hash in hash. have: whether the broker answered that it has it. */
static int
s_put (zsock_t *sock, const char *user, const char *data, char hash [SEGQ_HASH_HEX_LEN + 1],
       bool *have)
{
    segq_sha256_t sha;
    segq_sha256_init (&sha);
    segq_sha256_update (&sha, data, strlen (data));
    segq_sha256_final (&sha, hash);
    segq_msg_t *put = segq_msg_new (SEGQ_MSG_PUT);
    put->u.put.req_id = 5;
    put->u.put.size = strlen (data);
    put->u.put.user = user ? strdup (user) : NULL;
    memcpy (put->u.put.hash, hash, SEGQ_HASH_HEX_LEN + 1);
    segq_msg_t *ready = s_ask (sock, put);
    cr_assert (ready && ready->type == SEGQ_MSG_PUT_READY);
    *have = ready->u.put_ready.have;
    uint64_t transfer = ready->u.put_ready.transfer;
    segq_msg_destroy (&ready);
    if (*have)
        return 0;
    segq_msg_t *chunk = segq_msg_new (SEGQ_MSG_CHUNK);
    chunk->u.chunk.transfer = transfer;
    chunk->u.chunk.last = true;
    chunk->u.chunk.data = zframe_new (data, strlen (data));
    cr_assert_eq (segq_msg_send (&chunk, sock, NULL), 0);
    segq_msg_t *done = s_next (sock, SEGQ_MSG_PUT_DONE);
    int code = done->u.put_done.code;
    segq_msg_destroy (&done);
    return code;
}

/* Polls job's state until it is `state` (the broker's expiry is 1 s). */
static void
s_wait_state (zsock_t *client, const char *job, int state)
{
    for (int tries = 0; s_status (client, job, NULL, 0) != state; tries++) {
        cr_assert_lt (tries, 500, "job %s never reached state %d", job, state);
        zclock_sleep (20);
    }
}

static void
s_hold (zsock_t *client, const char *job)
{
    segq_msg_t *msg = segq_msg_new (SEGQ_MSG_HOLD);
    msg->u.hold.req_id = 9;
    msg->u.hold.user = strdup ("alice");
    msg->u.hold.jobs = calloc (1, sizeof (char *));
    msg->u.hold.jobs [0] = strdup (job);
    msg->u.hold.n_jobs = 1;
    segq_msg_t *reply = s_ask (client, msg);
    cr_assert (reply && reply->type == SEGQ_MSG_HOLD_REPLY);
    segq_msg_destroy (&reply);
}

/* A job requeued because its worker went quiet is taken back by that
   worker only, as it comes back with the attempt: another node claiming
   it (which would then read the job's inputs) is told to abort, and so is
   the worker itself once the job's owner held it. */
Test (reactor, only_the_worker_that_went_quiet_takes_its_attempt_back, .init = setup,
      .fini = teardown, .timeout = 60)
{
    zsock_t *client = s_dealer ();
    zsock_t *w1 = s_dealer ();
    s_register (w1);
    char job [64];
    s_submit_assigned (client, w1, job);
    zsock_destroy (&w1); /* silent: lost after the expiry */
    s_wait_state (client, job, SEGQ_JOB_QUEUED);
    zsock_t *w2 = s_dealer ();
    cr_assert (s_register_holding (w2, "w2", "echo", job), "w2 was not told to abort");
    cr_assert_eq (s_status (client, job, NULL, 0), SEGQ_JOB_QUEUED, "w2 took w1's attempt");
    w1 = s_dealer ();
    cr_assert (!s_register_holding (w1, "w1", "sleep", job), "w1 was told to abort");
    cr_assert_eq (s_status (client, job, NULL, 0), SEGQ_JOB_RUNNING, "w1 did not take it back");
    /* lost again, then held by alice: not taken back */
    zsock_destroy (&w1);
    s_wait_state (client, job, SEGQ_JOB_QUEUED);
    s_hold (client, job);
    w1 = s_dealer ();
    cr_assert (s_register_holding (w1, "w1", "sleep", job), "w1 was not told to abort");
    cr_assert_eq (s_status (client, job, NULL, 0), SEGQ_JOB_QUEUED, "a held job was taken back");
    zsock_destroy (&w1);
    zsock_destroy (&w2);
    zsock_destroy (&client);
}

/* A CANCEL, HOLD or PURGE naming n jobs (one job n times if repeat):
   the ERROR's code, 0 if answered otherwise. */
static int
s_list_request (zsock_t *client, segq_msg_type_t type, size_t n, bool repeat)
{
    segq_msg_t *msg = segq_msg_new (type);
    char **jobs = calloc (n, sizeof *jobs);
    for (size_t i = 0; i < n; i++) {
        char id [32];
        snprintf (id, sizeof id, "z%05zu", repeat ? (size_t) 0 : i);
        jobs [i] = strdup (id);
    }
    if (type == SEGQ_MSG_CANCEL)
        msg->u.cancel =
            (segq_cancel_t){ .req_id = 3, .user = strdup ("bob"), .jobs = jobs, .n_jobs = n };
    else if (type == SEGQ_MSG_HOLD)
        msg->u.hold =
            (segq_hold_t){ .req_id = 3, .user = strdup ("bob"), .jobs = jobs, .n_jobs = n };
    else
        msg->u.purge =
            (segq_purge_t){ .req_id = 3, .user = strdup ("bob"), .jobs = jobs, .n_jobs = n };
    segq_msg_t *reply = s_ask (client, msg);
    cr_assert_not_null (reply, "no answer");
    int code = reply->type == SEGQ_MSG_ERROR ? reply->u.error.code : 0;
    segq_msg_destroy (&reply);
    return code;
}

/* A model's id where a job's is asked for is said as that, naming its
   training job, in every request that names jobs. */
Test (reactor, a_model_id_for_a_job_says_so, .init = setup, .fini = teardown, .timeout = 30)
{
    zsock_t *client = s_dealer ();
    segq_msg_t *msg = segq_msg_new (SEGQ_MSG_STATUS);
    msg->u.status.req_id = 7;
    msg->u.status.jobs = calloc (1, sizeof (char *));
    msg->u.status.jobs [0] = strdup ("m-000k");
    msg->u.status.n_jobs = 1;
    segq_msg_t *reply = s_ask (client, msg);
    cr_assert (reply && reply->type == SEGQ_MSG_ERROR);
    cr_assert_eq (reply->u.error.code, SEGQ_ENOENT);
    cr_assert (strstr (reply->u.error.message, "'m-000k' is a model's id, not a job's")
                   && strstr (reply->u.error.message, "its training is job 000k"),
               "%s", reply->u.error.message);
    segq_msg_destroy (&reply);
    msg = segq_msg_new (SEGQ_MSG_LOGS);
    msg->u.logs.req_id = 8;
    msg->u.logs.user = strdup ("alice");
    msg->u.logs.job = strdup ("m-000k");
    reply = s_ask (client, msg);
    cr_assert (reply && reply->type == SEGQ_MSG_ERROR);
    cr_assert (strstr (reply->u.error.message, "is a model's id"), "%s", reply->u.error.message);
    segq_msg_destroy (&reply);
    zsock_destroy (&client);
}

/* One request names at most SEGQ_JOB_LIST_MAX jobs, each once: more (or a
   job again) would cost the loop and the audit log a line each, without
   bound. */
Test (reactor, job_lists_are_bounded_and_name_each_job_once, .init = setup, .fini = teardown,
      .timeout = 60)
{
    zsock_t *client = s_dealer ();
    segq_msg_type_t types [] = { SEGQ_MSG_CANCEL, SEGQ_MSG_HOLD, SEGQ_MSG_PURGE };
    for (size_t t = 0; t < 3; t++) {
        cr_assert_eq (s_list_request (client, types [t], SEGQ_JOB_LIST_MAX, false), 0);
        cr_assert_eq (s_list_request (client, types [t], SEGQ_JOB_LIST_MAX + 1, false),
                      SEGQ_ETOOBIG);
        cr_assert_eq (s_list_request (client, types [t], 2, true), SEGQ_EINVAL);
    }
    zsock_destroy (&client);
}

/* A worker names as a job's output only bytes it sent itself: naming a
   hash another user uploaded fails the job, and the worker is told to
   send the bytes (no `have`) even though the broker has them. */
Test (reactor, a_worker_names_as_outputs_only_bytes_it_sent, .init = setup, .fini = teardown,
      .timeout = 30)
{
    zsock_t *client = s_dealer ();
    zsock_t *worker = s_dealer ();
    s_register (worker);
    char hash [SEGQ_HASH_HEX_LEN + 1], job [64], message [512];
    bool have;
    cr_assert_eq (s_put (client, "bob", "bob's scan", hash, &have), 0);
    s_submit_assigned (client, worker, job);
    segq_artifact_t output = { .name = "out.png", .size = strlen ("bob's scan") };
    memcpy (output.hash, hash, sizeof output.hash);
    cr_assert_eq (s_result (worker, job, 1, &output), SEGQ_EPERM, "the ack says it was refused");
    cr_assert_eq (s_status (client, job, message, sizeof message), SEGQ_JOB_FAILED,
                  "a job succeeded with another user's bytes as its output");
    s_submit_assigned (client, worker, job);
    cr_assert_eq (s_put (worker, NULL, "bob's scan", hash, &have), 0);
    cr_assert_not (have, "the broker spared a worker the bytes of a hash it may not read");
    cr_assert_eq (s_result (worker, job, 1, &output), 0);
    cr_assert_eq (s_status (client, job, message, sizeof message), SEGQ_JOB_SUCCEEDED, "%s",
                  message);
    zsock_destroy (&client);
    zsock_destroy (&worker);
}
