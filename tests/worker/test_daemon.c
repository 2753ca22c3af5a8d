/*  segq-worker, the real binary, against a scripted broker: a ROUTER
    socket in the test that speaks the protocol through the codec and
    checks every message the worker sends. No segqd needed, so each step
    of the worker's side of the dialogue is pinned down exactly. */
#include <criterion/criterion.h>
#include <fcntl.h>
#include <inttypes.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>
#include "segq_fs.h"
#include "worker_internal.h"

typedef struct {
    char dir [256];
    char endpoint [128];
    char journal [300];
    char log [300];
    char ready [300];
    zsock_t *router;
    zframe_t *peer; /* the worker's routing id */
    pid_t pid;
    /* what arrived besides what a test waited for */
    char logdata [65536];
    size_t logdata_used;
    int n_progress;
    int n_heartbeats;
    double last_fraction;
    char last_phase [64];
} fake_t;

static fake_t *F;

/* Bind to `port`, or (0) to a random one below the kernel's ephemeral
   range: a worker reconnecting to a port in that range while nothing
   listens there can end up connected to itself and hold the port. */
static void
s_bind (fake_t *f, int port)
{
    f->router = zsock_new (ZMQ_ROUTER);
    cr_assert_not_null (f->router);
    zsock_set_linger (f->router, 0);
    zsock_set_rcvtimeo (f->router, 100);
    /* a ROUTER drops what passes its high-water mark: tests send 2,000
       ASSIGNs at once, which a loaded worker may not drain in time */
    zsock_set_sndhwm (f->router, 0);
    int bound = -1;
    for (int tries = 0; tries < 200 && bound < 0; tries++) {
        int p = port ? port
                     : 20000 + (int) (segq__now_ms () * 7919 + getpid () * 31 + tries * 97) % 12000;
        bound = zsock_bind (f->router, "tcp://127.0.0.1:%d", p);
        if (bound < 0 && port)
            usleep (50000);
    }
    cr_assert_gt (bound, 0, "cannot bind a port");
    snprintf (f->endpoint, sizeof f->endpoint, "tcp://127.0.0.1:%d", bound);
}

static void
s_start_worker (fake_t *f, const char *const *extra)
{
    const char *argv [40] = { SEGQ_WORKER_BIN,
                              "--broker",
                              f->endpoint,
                              "--node",
                              "w1",
                              "--cpu-slots",
                              "3",
                              "--gpus",
                              "0:TestGPU:8G,1:Other:512M",
                              "--work-dir",
                              NULL,
                              "--ready-file",
                              f->ready,
                              "--kill-grace-ms",
                              "300",
                              "--testkind",
                              SEGQ_TESTKIND };
    char work [400];
    snprintf (work, sizeof work, "%s/work", f->dir);
    argv [10] = work;
    size_t n = 17;
    for (size_t i = 0; extra && extra [i]; i++)
        argv [n++] = extra [i];
    f->pid = fork ();
    cr_assert_geq (f->pid, 0);
    if (f->pid == 0) {
        prctl (PR_SET_PDEATHSIG, SIGKILL);
        int fd = open (f->log, O_WRONLY | O_CREAT | O_APPEND, 0644);
        dup2 (fd, 1);
        dup2 (fd, 2);
        setenv ("SEGQ_TEST_JOURNAL", f->journal, 1);
        sigset_t none;
        sigemptyset (&none);
        sigprocmask (SIG_SETMASK, &none, NULL);
        execv (argv [0], (char *const *) argv);
        _exit (127);
    }
}

static void
s_setup (void)
{
    F = calloc (1, sizeof *F);
    snprintf (F->dir, sizeof F->dir, "/tmp/segq-worker-daemon-XXXXXX");
    cr_assert_not_null (mkdtemp (F->dir));
    snprintf (F->journal, sizeof F->journal, "%s/journal", F->dir);
    snprintf (F->log, sizeof F->log, "%s/worker.log", F->dir);
    snprintf (F->ready, sizeof F->ready, "%s/ready", F->dir);
    s_bind (F, 0);
}

static void
s_teardown (void)
{
    if (F->pid > 0) {
        kill (F->pid, SIGKILL);
        waitpid (F->pid, NULL, 0);
    }
    zframe_destroy (&F->peer);
    zsock_destroy (&F->router);
    if (!getenv ("SEGQ_KEEP_TMP"))
        segq__remove_tree (F->dir);
    free (F);
}

/* Wait for the worker to exit; its status. */
static int
s_wait_exit (fake_t *f, int timeout_ms)
{
    int64_t deadline = segq__now_ms () + timeout_ms;
    int status = 0;
    while (segq__now_ms () < deadline) {
        if (waitpid (f->pid, &status, WNOHANG) == f->pid) {
            f->pid = 0;
            return status;
        }
        usleep (10000);
    }
    cr_assert_fail ("worker did not exit in %d ms", timeout_ms);
    return -1;
}

static char *
s_slurp (const char *path)
{
    FILE *file = fopen (path, "r");
    static char buf [1 << 16];
    size_t n = file ? fread (buf, 1, sizeof buf - 1, file) : 0;
    buf [n] = 0;
    if (file)
        fclose (file);
    return buf;
}

/* The worker's log emptied, for a test that starts it again. */
static void
s_log_clear (void)
{
    FILE *file = fopen (F->log, "w");
    cr_assert (file && fclose (file) == 0, "%s", F->log);
}

/* Whether the worker's log says text within timeout_ms. */
static bool
s_log_says (const char *text, int timeout_ms)
{
    int64_t deadline = segq__now_ms () + timeout_ms;
    while (!strstr (s_slurp (F->log), text))
        if (segq__now_ms () > deadline)
            return false;
        else
            usleep (20000);
    return true;
}

/* An executable stand-in program at F->dir/NAME; its path into path. */
static void
s_script (const char *name, const char *text, char *path, size_t len)
{
    snprintf (path, len, "%s/%s", F->dir, name);
    FILE *file = fopen (path, "w");
    cr_assert_not_null (file);
    cr_assert_geq (fputs (text, file), 0);
    cr_assert_eq (fclose (file), 0);
    cr_assert_eq (chmod (path, 0755), 0);
}

static void
s_send (fake_t *f, segq_msg_t *msg)
{
    cr_assert_eq (segq_msg_send (&msg, f->router, f->peer), 0);
}

/* Whether a message comes from the worker this test started. Other tests'
   workers reconnect to the ports their brokers had, and one of those may be
   ours now: a REGISTER is ours only if it names the instance id our worker
   keeps in its work directory, anything else only if it comes from the
   connection that registered. */
static bool
s_from_ours (fake_t *f, zframe_t *peer, const segq_msg_t *msg)
{
    if (msg->type == SEGQ_MSG_REGISTER) {
        char path [400], id [33] = "";
        snprintf (path, sizeof path, "%s/work/worker.id", f->dir);
        FILE *file = fopen (path, "r");
        size_t n = file ? fread (id, 1, sizeof id - 1, file) : 0;
        if (file)
            fclose (file);
        id [n] = 0;
        return n && msg->u.reg.instance && strncmp (msg->u.reg.instance, id, n) == 0;
    }
    return !f->peer || zframe_eq (peer, f->peer);
}

/* The next message from the worker that a test handles: LOG and PROGRESS
   on the way are recorded, HEARTBEATs answered, CREDITs skipped; NULL
   after timeout_ms. */
static segq_msg_t *
s_next (fake_t *f, int timeout_ms)
{
    int64_t deadline = segq__now_ms () + timeout_ms;
    while (segq__now_ms () < deadline) {
        zframe_t *peer = NULL;
        segq_msg_t *msg = NULL;
        char err [256];
        int rc = segq_msg_recv (f->router, &peer, &msg, NULL, err, sizeof err);
        if (rc == 0 && msg && !s_from_ours (f, peer, msg)) {
            segq_msg_destroy (&msg);
            zframe_destroy (&peer);
            continue;
        }
        if (rc == 0 && msg) {
            zframe_destroy (&f->peer);
            f->peer = peer;
            if (msg->type == SEGQ_MSG_LOG) {
                size_t n = msg->u.log.size;
                if (f->logdata_used + n < sizeof f->logdata) {
                    memcpy (f->logdata + f->logdata_used, msg->u.log.data, n);
                    f->logdata_used += n;
                    f->logdata [f->logdata_used] = 0;
                }
            } else if (msg->type == SEGQ_MSG_PROGRESS) {
                f->n_progress++;
                f->last_fraction = msg->u.progress.fraction;
                snprintf (f->last_phase, sizeof f->last_phase, "%s",
                          msg->u.progress.phase ? msg->u.progress.phase : "");
            } else if (msg->type == SEGQ_MSG_HEARTBEAT) {
                f->n_heartbeats++;
                s_send (f, segq_msg_new (SEGQ_MSG_HEARTBEAT)); /* as a broker does */
            } else if (msg->type != SEGQ_MSG_CREDIT)
                return msg;
            segq_msg_destroy (&msg);
        } else
            zframe_destroy (&peer);
    }
    return NULL;
}

/* Next message of `type` from the worker (as s_next); anything else fails
   the test. */
static segq_msg_t *
s_expect (fake_t *f, segq_msg_type_t type, int timeout_ms)
{
    segq_msg_t *msg = s_next (f, timeout_ms);
    if (!msg)
        cr_assert_fail ("no %s from the worker in %d ms; its log:\n%s", segq_msg_type_name (type),
                        timeout_ms, s_slurp (f->log));
    if (msg->type != type)
        cr_assert_fail ("expected %s, got %s", segq_msg_type_name (type),
                        segq_msg_type_name (msg->type));
    return msg;
}

/* The next message of `type` from the worker, heartbeats answered and
   the rest dropped; *worst: the longest the worker was silent meanwhile. */
static segq_msg_t *
s_expect_talking (segq_msg_type_t type, int64_t *worst)
{
    int64_t last = segq__now_ms ();
    *worst = 0;
    segq_msg_t *found = NULL;
    while (!found) {
        zframe_t *peer = NULL;
        segq_msg_t *msg = NULL;
        char err [256];
        if (segq_msg_recv (F->router, &peer, &msg, NULL, err, sizeof err) == 0 && msg) {
            int64_t now = segq__now_ms ();
            *worst = now - last > *worst ? now - last : *worst;
            last = now;
            if (msg->type == type) {
                found = msg;
                zframe_destroy (&F->peer);
                F->peer = peer;
                peer = NULL;
            } else {
                if (msg->type == SEGQ_MSG_HEARTBEAT) {
                    segq_msg_t *beat = segq_msg_new (SEGQ_MSG_HEARTBEAT);
                    segq_msg_send (&beat, F->router, peer);
                }
                segq_msg_destroy (&msg);
            }
        }
        zframe_destroy (&peer);
        cr_assert (segq__now_ms () - last < 5000, "the worker went silent");
    }
    return found;
}

static void
s_welcome_max (fake_t *f, uint32_t expiry_ms, uint32_t max_msg)
{
    segq_msg_t *msg = segq_msg_new (SEGQ_MSG_WELCOME);
    msg->u.welcome.heartbeat_ms = 100;
    msg->u.welcome.expiry_ms = expiry_ms;
    msg->u.welcome.max_msg = max_msg;
    msg->u.welcome.chunk_size = 4096;
    s_send (f, msg);
}

static void
s_welcome (fake_t *f, uint32_t expiry_ms)
{
    s_welcome_max (f, expiry_ms, SEGQ_DEFAULT_MAX_MSG);
}

/* REGISTER + WELCOME; returns the REGISTER for checks. */
static segq_msg_t *
s_handshake (fake_t *f, uint32_t expiry_ms)
{
    segq_msg_t *reg = s_expect (f, SEGQ_MSG_REGISTER, 10000);
    s_welcome (f, expiry_ms);
    return reg;
}

/* params: "name=value" strings typed through the schema. */
static void
s_assign (fake_t *f, const char *job, uint32_t attempt, const char *kind, const char *const *params,
          const segq_artifact_t *inputs, size_t n_inputs, uint32_t time_limit_s)
{
    segq_msg_t *msg = segq_msg_new (SEGQ_MSG_ASSIGN);
    segq_assign_t *a = &msg->u.assign;
    a->job = strdup (job);
    a->attempt = attempt;
    a->kind = strdup (kind);
    a->gpu = -1;
    a->cpu_slots = 1;
    a->time_limit_s = time_limit_s;
    const segq_kind_spec_t *spec = segq_kind_find (kind);
    cr_assert_not_null (spec);
    for (size_t i = 0; params && params [i]; i++) {
        char name [64], err [256];
        const char *eq = strchr (params [i], '=');
        snprintf (name, sizeof name, "%.*s", (int) (eq - params [i]), params [i]);
        segq_value_t value;
        cr_assert_eq (
            segq_param_parse (segq_kind_param (spec, name), eq + 1, &value, err, sizeof err), 0,
            "%s", err);
        segq_params_set (&a->params, name, &value);
        segq_value_clear (&value);
    }
    if (n_inputs) {
        a->inputs = calloc (n_inputs, sizeof *a->inputs);
        for (size_t i = 0; i < n_inputs; i++)
            segq_artifact_copy (&a->inputs [i], &inputs [i]);
        a->n_inputs = n_inputs;
    }
    s_send (f, msg);
}

static void
s_ack (fake_t *f, const char *job, uint32_t attempt, int code)
{
    segq_msg_t *msg = segq_msg_new (SEGQ_MSG_RESULT_ACK);
    msg->u.result_ack.job = strdup (job);
    msg->u.result_ack.attempt = attempt;
    msg->u.result_ack.code = code;
    s_send (f, msg);
}

static int
s_count_lines (const char *path)
{
    char *text = s_slurp (path);
    int n = 0;
    for (char *p = text; *p; p++)
        n += *p == '\n';
    return n;
}

/* SIGTERM with nothing held: the worker announces the drain (REGISTER
   with draining) and says BYE, or, if it was still registering, just
   leaves; either way it exits 0. */
static void
s_drain_and_bye (fake_t *f)
{
    kill (f->pid, SIGTERM);
    int64_t deadline = segq__now_ms () + 10000;
    int status = 0;
    while (segq__now_ms () < deadline) {
        zframe_t *peer = NULL;
        segq_msg_t *msg = NULL;
        char err [256];
        if (segq_msg_recv (f->router, &peer, &msg, NULL, err, sizeof err) == 0 && msg) {
            cr_assert (msg->type == SEGQ_MSG_REGISTER || msg->type == SEGQ_MSG_BYE
                           || msg->type == SEGQ_MSG_HEARTBEAT,
                       "%s while draining", segq_msg_type_name (msg->type));
            if (msg->type == SEGQ_MSG_REGISTER)
                cr_assert (msg->u.reg.draining);
            segq_msg_destroy (&msg);
        }
        zframe_destroy (&peer);
        if (waitpid (f->pid, &status, WNOHANG) == f->pid) {
            f->pid = 0;
            break;
        }
    }
    cr_assert_eq (f->pid, 0, "the worker did not leave");
    cr_assert (WIFEXITED (status) && WEXITSTATUS (status) == 0, "status %d", status);
}

TestSuite (daemon, .init = s_setup, .fini = s_teardown, .timeout = 60);

Test (daemon, registers_capacity_and_runs_noops_in_process)
{
    s_start_worker (F, NULL);
    segq_msg_t *reg = s_handshake (F, 5000);
    segq_register_t *r = &reg->u.reg;
    cr_assert_str_eq (r->node, "w1");
    cr_assert_eq (r->cpu_slots, 3);
    cr_assert_eq (r->n_gpus, 2);
    cr_assert_eq (r->gpus [0].index, 0);
    cr_assert_str_eq (r->gpus [0].name, "TestGPU");
    cr_assert_eq (r->gpus [0].mem_total, 8ull << 30);
    cr_assert_eq (r->gpus [1].mem_total, 512ull << 20);
    bool noop = false, sleep = false, echo = false, fail = false;
    for (size_t i = 0; i < r->n_kinds; i++) {
        noop |= strcmp (r->kinds [i], "noop") == 0;
        sleep |= strcmp (r->kinds [i], "sleep") == 0;
        echo |= strcmp (r->kinds [i], "echo") == 0;
        fail |= strcmp (r->kinds [i], "fail") == 0;
    }
    cr_assert (noop && sleep && echo && fail);
    cr_assert_eq (r->n_held, 0);
    cr_assert_not (r->draining);
    segq_msg_destroy (&reg);

    /* the ready file appears once registered */
    for (int i = 0; i < 500 && access (F->ready, F_OK) != 0; i++)
        usleep (10000);
    cr_assert_str_eq (s_slurp (F->ready), "w1\n");

    enum { N = 2000 };
    for (int i = 0; i < N; i++) {
        char id [32];
        snprintf (id, sizeof id, "n%d", i);
        s_assign (F, id, 1, "noop", NULL, NULL, 0, 0);
    }
    bool seen [N] = { 0 };
    for (int i = 0; i < N; i++) {
        segq_msg_t *result = s_expect (F, SEGQ_MSG_RESULT, 10000);
        cr_assert (result->u.result.success);
        cr_assert_eq (result->u.result.n_outputs, 0);
        int k = atoi (result->u.result.job + 1);
        cr_assert_not (seen [k], "result of %s twice", result->u.result.job);
        seen [k] = true;
        s_ack (F, result->u.result.job, 1, 0);
        segq_msg_destroy (&result);
    }
    cr_assert_eq (s_count_lines (F->journal), N);
    char *journal = s_slurp (F->journal);
    cr_assert (strstr (journal, "n0 1\n") && strstr (journal, "n1999 1\n"));
    s_drain_and_bye (F);
}

Test (daemon, sleep_streams_log_and_rate_limited_progress)
{
    s_start_worker (F, NULL);
    segq_msg_t *reg = s_handshake (F, 5000);
    segq_msg_destroy (&reg);
    const char *params [] = { "seconds=0.8", NULL };
    int64_t start = segq__now_ms ();
    s_assign (F, "s1", 2, "sleep", params, NULL, 0, 0);
    segq_msg_t *result = s_expect (F, SEGQ_MSG_RESULT, 10000);
    int64_t took = segq__now_ms () - start;
    cr_assert (result->u.result.success, "%s", result->u.result.reason);
    cr_assert_eq (result->u.result.attempt, 2);
    cr_assert_eq (result->u.result.exit_code, 0);
    segq_msg_destroy (&result);
    /* the child wrote ~9 records; at most 10/s go out, the last always */
    cr_assert (F->n_progress >= 3 && F->n_progress <= (int) (took / 100) + 2,
               "%d progress messages in %lld ms", F->n_progress, (long long) took);
    cr_assert_float_eq (F->last_fraction, 1.0, 1e-9);
    cr_assert_str_eq (F->last_phase, "sleeping");
    cr_assert (strstr (F->logdata, "sleeping 0.8 s\n") && strstr (F->logdata, "slept 0.8 s\n"),
               "%s", F->logdata);
    cr_assert_str_eq (s_slurp (F->journal), "s1 2\n");
    /* scratch stays until the result is acknowledged, then goes */
    char scratch [600];
    snprintf (scratch, sizeof scratch, "%s/work/jobs/s1.2", F->dir);
    cr_assert_eq (access (scratch, F_OK), 0);
    s_ack (F, "s1", 2, 0);
    for (int i = 0; i < 200 && access (scratch, F_OK) == 0; i++)
        usleep (10000);
    cr_assert_neq (access (scratch, F_OK), 0);
    s_drain_and_bye (F);
}

/* Serve a GET from `data`, all chunks at once (the worker must cope). */
static void
s_serve_get_chunked (fake_t *f, const char *data, size_t size, const char *hash, uint64_t transfer,
                     size_t chunk_size)
{
    segq_msg_t *get = s_expect (f, SEGQ_MSG_GET, 10000);
    cr_assert_str_eq (get->u.get.hash, hash);
    cr_assert_gt (get->u.get.credit, 0);
    segq_msg_t *ready = segq_msg_new (SEGQ_MSG_GET_READY);
    ready->u.get_ready.req_id = get->u.get.req_id;
    ready->u.get_ready.transfer = transfer;
    memcpy (ready->u.get_ready.hash, hash, SEGQ_HASH_HEX_LEN + 1);
    ready->u.get_ready.size = size;
    ready->u.get_ready.chunk_size = (uint32_t) chunk_size;
    segq_msg_destroy (&get);
    s_send (f, ready);
    size_t offset = 0;
    do {
        size_t n = size - offset < chunk_size ? size - offset : chunk_size;
        segq_msg_t *chunk = segq_msg_new (SEGQ_MSG_CHUNK);
        chunk->u.chunk.transfer = transfer;
        chunk->u.chunk.offset = offset;
        chunk->u.chunk.last = offset + n == size;
        chunk->u.chunk.data = zframe_new (data + offset, n);
        s_send (f, chunk);
        offset += n;
    } while (offset < size);
}

static void
s_serve_get (fake_t *f, const char *data, size_t size, const char *hash, uint64_t transfer)
{
    s_serve_get_chunked (f, data, size, hash, transfer, 4096);
}

/* size bytes of a pattern that repeats only every 256 KiB or so; the
   caller frees them. */
static char *
s_pattern (size_t size, unsigned step)
{
    char *data = malloc (size);
    cr_assert_not_null (data);
    for (size_t i = 0; i < size; i++)
        data [i] = (char) (i * step + (i >> 10));
    return data;
}

static void
s_hash (const char *data, size_t size, char hex [SEGQ_HASH_HEX_LEN + 1])
{
    segq_sha256_t sha;
    segq_sha256_init (&sha);
    segq_sha256_update (&sha, data, size);
    segq_sha256_final (&sha, hex);
}

/* Plays the broker's side of an upload (SPEC 10.1): PUT names no hash, the
   CHUNKs come in order within credit (2, then one per CHUNK after the
   first two), only the final one names the sha256, which must be `hash`;
   data (if not NULL) must be what arrives. Answers PUT_DONE{0}. */
static void
s_take_upload (fake_t *f, segq_msg_t **put_p, uint64_t transfer, uint32_t chunk_size,
               const char *data, size_t size, const char *hash)
{
    segq_msg_t *put = *put_p;
    cr_assert_str_eq (put->u.put.hash, "", "the worker hashed before PUT");
    cr_assert_eq (put->u.put.size, size);
    segq_msg_t *ready = segq_msg_new (SEGQ_MSG_PUT_READY);
    ready->u.put_ready.req_id = put->u.put.req_id;
    ready->u.put_ready.transfer = transfer;
    ready->u.put_ready.credit = 2;
    ready->u.put_ready.chunk_size = chunk_size;
    segq_msg_destroy (put_p);
    s_send (f, ready);
    size_t received = 0;
    for (int chunks = 0;; chunks++) {
        segq_msg_t *chunk = s_expect (f, SEGQ_MSG_CHUNK, 5000);
        cr_assert_eq (chunk->u.chunk.transfer, transfer);
        cr_assert_eq (chunk->u.chunk.offset, received);
        size_t n = zframe_size (chunk->u.chunk.data);
        cr_assert_leq (n, chunk_size);
        if (data)
            cr_assert_eq (memcmp (data + received, zframe_data (chunk->u.chunk.data), n), 0);
        received += n;
        bool last = chunk->u.chunk.last;
        if (last)
            cr_assert_str_eq (chunk->u.chunk.hash, hash, "the final CHUNK names another hash");
        else
            cr_assert_str_eq (chunk->u.chunk.hash, "");
        segq_msg_destroy (&chunk);
        if (last)
            break;
        /* it never runs ahead of its credit */
        if (chunks >= 1) {
            segq_msg_t *credit = segq_msg_new (SEGQ_MSG_CREDIT);
            credit->u.credit.transfer = transfer;
            credit->u.credit.chunks = 1;
            s_send (f, credit);
        }
    }
    cr_assert_eq (received, size);
    segq_msg_t *done = segq_msg_new (SEGQ_MSG_PUT_DONE);
    done->u.put_done.transfer = transfer;
    s_send (f, done);
}

Test (daemon, echo_fetches_inputs_uploads_outputs_within_credit)
{
    s_start_worker (F, NULL);
    segq_msg_t *reg = s_handshake (F, 5000);
    segq_msg_destroy (&reg);
    size_t size = 20000; /* 5 chunks of 4096 */
    char *data = s_pattern (size, 7);
    segq_artifact_t input = { .name = "files/sub/a.bin", .size = size };
    s_hash (data, size, input.hash);
    s_assign (F, "e1", 1, "echo", NULL, &input, 1, 0);
    s_serve_get (F, data, size, input.hash, 77);

    /* the output keeps the input's artifact name: the path in the job
       dir less the directory of the many-file input "files" */
    segq_msg_t *put = s_expect (F, SEGQ_MSG_PUT, 10000);
    cr_assert_str_eq (put->u.put.name, "sub/a.bin");
    s_take_upload (F, &put, 99, 4096, data, size, input.hash);
    segq_msg_t *result = s_expect (F, SEGQ_MSG_RESULT, 10000);
    cr_assert (result->u.result.success, "%s", result->u.result.reason);
    cr_assert_eq (result->u.result.n_outputs, 1);
    cr_assert_str_eq (result->u.result.outputs [0].name, "sub/a.bin");
    cr_assert_str_eq (result->u.result.outputs [0].hash, input.hash);
    segq_msg_destroy (&result);
    s_ack (F, "e1", 1, 0);

    /* same input again: taken from the cache (no GET); the output is sent
       again (its hash is known only as it is sent) */
    s_assign (F, "e2", 1, "echo", NULL, &input, 1, 0);
    put = s_expect (F, SEGQ_MSG_PUT, 10000);
    s_take_upload (F, &put, 100, 8192, data, size, input.hash);
    result = s_expect (F, SEGQ_MSG_RESULT, 10000);
    cr_assert (result->u.result.success);
    cr_assert_eq (result->u.result.n_outputs, 1);
    cr_assert_str_eq (result->u.result.outputs [0].hash, input.hash);
    segq_msg_destroy (&result);
    s_ack (F, "e2", 1, 0);
    free (data);
    s_drain_and_bye (F);
}

/* Echo of n inputs of one content (one download), named files/oNN. */
static void
s_assign_echo_of (const char *job, const char *data, size_t size, size_t n)
{
    segq_artifact_t *inputs = calloc (n, sizeof *inputs);
    char (*names) [32] = calloc (n, sizeof *names);
    cr_assert (inputs && names);
    for (size_t i = 0; i < n; i++) {
        snprintf (names [i], sizeof names [i], "files/o%02zu", i);
        inputs [i] = (segq_artifact_t){ .name = names [i], .size = size };
        s_hash (data, size, inputs [i].hash);
    }
    s_assign (F, job, 1, "echo", NULL, inputs, n, 0);
    s_serve_get (F, data, size, inputs [0].hash, 3);
    free (inputs);
    free (names);
}

/* A job's small outputs go several at a time: 8 PUTs before the broker
   answers any, never more in flight, each answered in its own order (the
   last first); RESULT lists them all as the job wrote them. */
Test (daemon, small_outputs_upload_several_at_a_time)
{
    s_start_worker (F, NULL);
    segq_msg_t *reg = s_handshake (F, 5000);
    segq_msg_destroy (&reg);
    enum { N = 12, WINDOW = 8 };
    s_assign_echo_of ("w1", "x", 1, N);
    char hash [SEGQ_HASH_HEX_LEN + 1];
    s_hash ("x", 1, hash);
    segq_msg_t *pending [N];
    size_t n_pending = 0, in_flight = 0, most = 0, stored = 0;
    bool serving = false; /* a PUT_READY sent, its CHUNK not yet in */
    while (stored < N) {
        /* the worker has sent all it will before an answer: wait for it */
        if (!serving && n_pending && (in_flight == WINDOW || stored + in_flight == N)) {
            segq_msg_t *put = pending [--n_pending];
            segq_msg_t *ready = segq_msg_new (SEGQ_MSG_PUT_READY);
            ready->u.put_ready.req_id = put->u.put.req_id;
            ready->u.put_ready.transfer = 100 + put->u.put.req_id;
            ready->u.put_ready.credit = 2;
            segq_msg_destroy (&put);
            s_send (F, ready);
            serving = true;
        }
        segq_msg_t *msg = s_next (F, 10000);
        cr_assert_not_null (msg, "the worker went silent with %zu stored", stored);
        if (msg->type == SEGQ_MSG_PUT) {
            cr_assert_eq (msg->u.put.size, 1);
            pending [n_pending++] = msg;
            most = ++in_flight > most ? in_flight : most;
            cr_assert_leq (in_flight, WINDOW, "more than %d uploads in flight", WINDOW);
            continue;
        }
        cr_assert_eq (msg->type, SEGQ_MSG_CHUNK, "got %s", segq_msg_type_name (msg->type));
        cr_assert (msg->u.chunk.last);
        cr_assert_str_eq (msg->u.chunk.hash, hash);
        segq_msg_t *done = segq_msg_new (SEGQ_MSG_PUT_DONE);
        done->u.put_done.transfer = msg->u.chunk.transfer;
        segq_msg_destroy (&msg);
        s_send (F, done);
        serving = false;
        in_flight--;
        stored++;
    }
    cr_assert_eq (most, WINDOW);
    segq_msg_t *result = s_expect (F, SEGQ_MSG_RESULT, 10000);
    cr_assert (result->u.result.success, "%s", result->u.result.reason);
    cr_assert_eq (result->u.result.n_outputs, N);
    for (size_t i = 0; i < N; i++) {
        char name [16];
        snprintf (name, sizeof name, "o%02zu", i);
        cr_assert_str_eq (result->u.result.outputs [i].name, name);
        cr_assert_str_eq (result->u.result.outputs [i].hash, hash);
    }
    segq_msg_destroy (&result);
    s_ack (F, "w1", 1, 0);
    s_drain_and_bye (F);
}

static void
s_refuse_over_limit (fake_t *f, uint64_t req_id)
{
    segq_msg_t *error = segq_msg_new (SEGQ_MSG_ERROR);
    error->u.error.req_id = req_id;
    error->u.error.code = SEGQ_ELIMIT;
    error->u.error.message = strdup ("worker w has 16 transfers open");
    s_send (f, error);
}

/* Echo of n one-byte inputs of distinct contents (from `first` on), named
   files/oNN; their contents and hashes into data and inputs. */
static void
s_assign_distinct (const char *job, char first, size_t n, char *data, segq_artifact_t *inputs,
                   char (*names) [32])
{
    for (size_t i = 0; i < n; i++) {
        data [i] = (char) (first + i);
        snprintf (names [i], sizeof names [i], "files/o%02zu", i);
        inputs [i] = (segq_artifact_t){ .name = names [i], .size = 1 };
        s_hash (&data [i], 1, inputs [i].hash);
    }
    s_assign (F, job, 1, "echo", NULL, inputs, n, 0);
}

/* Which of the n inputs has the hash; -1 none. */
static int
s_input_index (const segq_artifact_t *inputs, size_t n, const char *hash)
{
    for (size_t i = 0; i < n; i++)
        if (strcmp (inputs [i].hash, hash) == 0)
            return (int) i;
    return -1;
}

/* The broker's side of a one-byte fetch: GET_READY, then the CHUNK. */
static void
s_serve_byte (segq_msg_t **get_p, uint64_t transfer, const char *byte)
{
    segq_msg_t *get = *get_p;
    segq_msg_t *ready = segq_msg_new (SEGQ_MSG_GET_READY);
    ready->u.get_ready.req_id = get->u.get.req_id;
    ready->u.get_ready.transfer = transfer;
    memcpy (ready->u.get_ready.hash, get->u.get.hash, SEGQ_HASH_HEX_LEN + 1);
    ready->u.get_ready.size = 1;
    s_send (F, ready);
    segq_msg_t *chunk = segq_msg_new (SEGQ_MSG_CHUNK);
    chunk->u.chunk.transfer = transfer;
    chunk->u.chunk.last = true;
    chunk->u.chunk.data = zframe_new (byte, 1);
    s_send (F, chunk);
    segq_msg_destroy (get_p);
}

/* Plays the broker's side of every small upload (PUT_READY, then PUT_DONE
   for the final CHUNK; the first PUT refused with ELIMIT if refuse_first)
   until a message of another kind comes; returns it. */
static segq_msg_t *
s_take_uploads (bool refuse_first)
{
    for (bool refused = !refuse_first;;) {
        segq_msg_t *msg = s_next (F, 10000);
        cr_assert_not_null (msg, "the worker went silent");
        if (msg->type == SEGQ_MSG_PUT && !refused) {
            refused = true;
            s_refuse_over_limit (F, msg->u.put.req_id);
        } else if (msg->type == SEGQ_MSG_PUT) {
            segq_msg_t *ready = segq_msg_new (SEGQ_MSG_PUT_READY);
            ready->u.put_ready.req_id = msg->u.put.req_id;
            ready->u.put_ready.transfer = 1000 + msg->u.put.req_id;
            ready->u.put_ready.credit = 2;
            s_send (F, ready);
        } else if (msg->type == SEGQ_MSG_CHUNK) {
            segq_msg_t *done = segq_msg_new (SEGQ_MSG_PUT_DONE);
            done->u.put_done.transfer = msg->u.chunk.transfer;
            s_send (F, done);
        } else
            return msg;
        segq_msg_destroy (&msg);
    }
}

/* What the broker lets a worker keep open (SPEC 10.5): at most
   SEGQ_WORKER_FETCHES inputs fetched at once, and a GET or PUT answered
   ELIMIT is sent again, not failed. Twelve inputs of distinct contents;
   the first GET and the first PUT are refused. */
Test (daemon, fetches_within_the_window_and_elimit_only_delays)
{
    s_start_worker (F, NULL);
    segq_msg_t *reg = s_handshake (F, 5000);
    segq_msg_destroy (&reg);
    enum { N = 12, WINDOW = SEGQ_WORKER_FETCHES };
    segq_artifact_t inputs [N];
    char names [N][32], data [N];
    s_assign_distinct ("f1", 'a', N, data, inputs, names);
    segq_msg_t *pending [N];
    size_t n_pending = 0, in_flight = 0, most = 0, served = 0;
    char refused [SEGQ_HASH_HEX_LEN + 1] = "";
    bool asked_again = false, window_checked = false;
    while (served < N) {
        if (in_flight == WINDOW && !window_checked) {
            /* the worker sends what it may in one go: anything beyond the
               window comes before its next heartbeat */
            window_checked = true;
            for (int beats = F->n_heartbeats; F->n_heartbeats == beats;) {
                segq_msg_t *more = s_next (F, 300);
                cr_assert_null (more, "a %s with %d fetches open",
                                more ? segq_msg_type_name (more->type) : "", WINDOW);
            }
        }
        if (n_pending && (in_flight == WINDOW || served + in_flight == N)) {
            segq_msg_t *get = pending [--n_pending];
            int i = s_input_index (inputs, N, get->u.get.hash);
            cr_assert_geq (i, 0, "a GET of no input");
            s_serve_byte (&get, 500 + (uint64_t) i, &data [i]);
            in_flight--;
            served++;
            continue;
        }
        segq_msg_t *get = s_expect (F, SEGQ_MSG_GET, 10000);
        most = ++in_flight > most ? in_flight : most;
        cr_assert_leq (in_flight, WINDOW, "more than %d fetches at once", WINDOW);
        asked_again = asked_again || strcmp (get->u.get.hash, refused) == 0;
        if (!refused [0]) {
            snprintf (refused, sizeof refused, "%s", get->u.get.hash);
            s_refuse_over_limit (F, get->u.get.req_id);
            segq_msg_destroy (&get);
            in_flight--;
        } else
            pending [n_pending++] = get;
    }
    cr_assert_eq (most, WINDOW);
    cr_assert (asked_again, "the GET refused as over the limit was not sent again");

    /* the outputs: the first PUT refused, then every one stored */
    segq_msg_t *result = s_take_uploads (true);
    cr_assert_eq (result->type, SEGQ_MSG_RESULT, "got %s", segq_msg_type_name (result->type));
    cr_assert (result->u.result.success, "%s", result->u.result.reason);
    cr_assert_eq (result->u.result.n_outputs, N);
    for (size_t i = 0; i < N; i++)
        cr_assert_str_eq (result->u.result.outputs [i].hash, inputs [i].hash);
    segq_msg_destroy (&result);
    s_ack (F, "f1", 1, 0);
    s_drain_and_bye (F);
}

/* A worker the broker keeps refusing waits longer each time before it
   asks again (50, 100, 200, 400 ms: no GET sooner than that after the
   refusal; an ELIMIT loop of 20 GETs a second would read 50 ms each),
   and then fetches as usual. */
Test (daemon, elimit_asks_again_later_each_time)
{
    s_start_worker (F, NULL);
    segq_msg_t *reg = s_handshake (F, 5000);
    segq_msg_destroy (&reg);
    segq_artifact_t input;
    char name [1][32], data;
    s_assign_distinct ("b1", 'a', 1, &data, &input, name);
    segq_msg_t *get = s_expect (F, SEGQ_MSG_GET, 10000);
    for (int64_t wait_ms = 50; wait_ms <= 400; wait_ms *= 2) {
        int64_t refused_ms = segq__now_ms (); /* the worker's wait starts after this */
        s_refuse_over_limit (F, get->u.get.req_id);
        segq_msg_destroy (&get);
        get = s_expect (F, SEGQ_MSG_GET, 10000);
        cr_assert_str_eq (get->u.get.hash, input.hash);
        int64_t waited_ms = segq__now_ms () - refused_ms;
        cr_assert_geq (waited_ms, wait_ms - 1, /* whole ms on both sides */
                       "asked again %" PRId64 " ms after the refusal, "
                       "not after %" PRId64,
                       waited_ms, wait_ms);
    }
    s_serve_byte (&get, 700, &data);
    segq_msg_t *result = s_take_uploads (false);
    cr_assert_eq (result->type, SEGQ_MSG_RESULT, "got %s", segq_msg_type_name (result->type));
    cr_assert (result->u.result.success, "%s", result->u.result.reason);
    segq_msg_destroy (&result);
    s_ack (F, "b1", 1, 0);
    s_drain_and_bye (F);
}

/* Fetches wait for the window in the order their jobs came: the first
   job's inputs all go before the second's, so it can start first. */
Test (daemon, fetches_wait_in_the_order_their_jobs_came)
{
    s_start_worker (F, NULL);
    segq_msg_t *reg = s_handshake (F, 5000);
    segq_msg_destroy (&reg);
    enum { N = 10 };
    segq_artifact_t inputs [2][N];
    char names [2][N][32], data [2][N];
    s_assign_distinct ("q1", 'a', N, data [0], inputs [0], names [0]);
    s_assign_distinct ("q2", 'A', N, data [1], inputs [1], names [1]);
    size_t seen [2] = { 0, 0 };
    for (size_t served = 0; served < 2 * N; served++) {
        segq_msg_t *get = s_expect (F, SEGQ_MSG_GET, 10000);
        int job = s_input_index (inputs [0], N, get->u.get.hash) >= 0 ? 0 : 1;
        int i = s_input_index (inputs [job], N, get->u.get.hash);
        cr_assert_geq (i, 0, "a GET of no input");
        cr_assert (job == 0 || seen [0] == N, "an input of q2 fetched before q1's %zu of %d",
                   seen [0], N);
        seen [job]++;
        s_serve_byte (&get, 900 + served, &data [job][i]);
    }
    for (int results = 0; results < 2; results++) {
        segq_msg_t *msg = s_take_uploads (false);
        cr_assert_eq (msg->type, SEGQ_MSG_RESULT, "got %s", segq_msg_type_name (msg->type));
        cr_assert (msg->u.result.success, "%s", msg->u.result.reason);
        cr_assert_eq (msg->u.result.n_outputs, N);
        s_ack (F, msg->u.result.job, 1, 0);
        segq_msg_destroy (&msg);
    }
    s_drain_and_bye (F);
}

/* Large outputs go one at a time: two of 5 MiB would be over the bytes in
   flight at once, so the second PUT comes only after the first is stored
   (s_take_upload fails on a PUT among the first one's CHUNKs). */
Test (daemon, large_outputs_upload_one_at_a_time)
{
    s_start_worker (F, NULL);
    segq_msg_t *reg = s_handshake (F, 5000);
    segq_msg_destroy (&reg);
    size_t size = 5u << 20;
    char *data = s_pattern (size, 11);
    char hash [SEGQ_HASH_HEX_LEN + 1];
    s_hash (data, size, hash);
    s_assign_echo_of ("l1", data, size, 3);
    for (uint64_t transfer = 40; transfer < 43; transfer++) {
        segq_msg_t *put = s_expect (F, SEGQ_MSG_PUT, 10000);
        s_take_upload (F, &put, transfer, 1u << 20, data, size, hash);
    }
    free (data);
    segq_msg_t *result = s_expect (F, SEGQ_MSG_RESULT, 10000);
    cr_assert (result->u.result.success, "%s", result->u.result.reason);
    cr_assert_eq (result->u.result.n_outputs, 3);
    segq_msg_destroy (&result);
    s_ack (F, "l1", 1, 0);
    s_drain_and_bye (F);
}

/* A worker whose train job (a script standing in for segq-run) announces
   a checkpoint of `weights` at `step` and runs on: the checkpoint's PUT,
   and its hash into hash. */
static segq_msg_t *
s_checkpointing_train (const char *job, const char *weights, int step,
                       char hash [SEGQ_HASH_HEX_LEN + 1])
{
    char script [400], body [600];
    /* `devices`: the worker asks whether it can use the declared GPUs */
    snprintf (
        body, sizeof body,
        "#!/bin/bash\n"
        "[ \"$1\" = devices ] && exec echo '{\"cpu\": {\"cores\": 2}, \"cuda_build\": true}'\n"
        "printf '%s' > \"$SEGQ_OUTPUT_DIR/model.ckpt\"\n"
        "printf '{\"checkpoint\":\"model.ckpt\",\"step\":%d}\\n' >&\"$SEGQ_PROGRESS_FD\"\n"
        "sleep 30\n",
        weights, step);
    s_script ("fake-segq-run", body, script, sizeof script);
    const char *extra [] = { "--segq-run", script, NULL };
    s_start_worker (F, extra);
    segq_msg_t *reg = s_handshake (F, 5000);
    segq_msg_destroy (&reg);
    s_assign (F, job, 1, "train", NULL, NULL, 0, 0);
    s_hash (weights, strlen (weights), hash);
    segq_msg_t *put = s_expect (F, SEGQ_MSG_PUT, 10000);
    cr_assert_str_eq (put->u.put.name, "model.ckpt");
    return put;
}

/* The running job aborted, its failed result acknowledged, the worker gone. */
static void
s_abort_and_bye (const char *job)
{
    segq_msg_t *abort = segq_msg_new (SEGQ_MSG_ABORT);
    abort->u.abort.job = strdup (job);
    abort->u.abort.attempt = 1;
    abort->u.abort.reason = strdup ("test over");
    s_send (F, abort);
    segq_msg_t *result = s_expect (F, SEGQ_MSG_RESULT, 10000);
    cr_assert_not (result->u.result.success);
    segq_msg_destroy (&result);
    s_ack (F, job, 1, 0);
    s_drain_and_bye (F);
}

/* A checkpoint the child announces is uploaded while it runs, hashed as it
   is sent (PUT names no hash), and CHECKPOINT names the hash the final
   CHUNK carried. */
Test (daemon, checkpoint_uploaded_with_hash_at_the_end)
{
    const char *weights = "weights of step 3";
    char hash [SEGQ_HASH_HEX_LEN + 1];
    segq_msg_t *put = s_checkpointing_train ("c1", weights, 3, hash);
    s_take_upload (F, &put, 31, 4096, weights, strlen (weights), hash);
    segq_msg_t *ckpt = s_expect (F, SEGQ_MSG_CHECKPOINT, 10000);
    cr_assert_str_eq (ckpt->u.checkpoint.job, "c1");
    cr_assert_str_eq (ckpt->u.checkpoint.name, "model.ckpt");
    cr_assert_str_eq (ckpt->u.checkpoint.hash, hash);
    cr_assert_eq (ckpt->u.checkpoint.size, strlen (weights));
    cr_assert_eq (ckpt->u.checkpoint.step, 3);
    segq_msg_destroy (&ckpt);
    s_abort_and_bye ("c1");
}

/* A checkpoint the broker has no room for is not dropped: it waits and is
   sent again (after a second at first), the child running meanwhile. */
Test (daemon, checkpoint_the_broker_has_no_room_for_is_sent_again)
{
    const char *weights = "weights of step 5";
    char hash [SEGQ_HASH_HEX_LEN + 1];
    segq_msg_t *put = s_checkpointing_train ("c2", weights, 5, hash);
    segq_msg_t *error = segq_msg_new (SEGQ_MSG_ERROR);
    error->u.error.req_id = put->u.put.req_id;
    error->u.error.code = SEGQ_ENOSPC;
    error->u.error.message = strdup ("upload refused: 17 bytes do not fit in the 0 bytes free on "
                                     "the broker's disk: ask its admin to make room");
    segq_msg_destroy (&put);
    s_send (F, error);
    int64_t refused = segq__now_ms ();
    put = s_expect (F, SEGQ_MSG_PUT, 10000);
    cr_assert_geq (segq__now_ms () - refused, 500, "sent again at once, not after a wait");
    cr_assert_str_eq (put->u.put.name, "model.ckpt");
    s_take_upload (F, &put, 32, 4096, weights, strlen (weights), hash);
    segq_msg_t *ckpt = s_expect (F, SEGQ_MSG_CHECKPOINT, 10000);
    cr_assert_str_eq (ckpt->u.checkpoint.hash, hash);
    cr_assert_eq (ckpt->u.checkpoint.step, 5);
    segq_msg_destroy (&ckpt);
    cr_assert (s_log_says ("model.ckpt waits for room on the broker's disk", 1000), "%s",
               s_slurp (F->log));
    s_abort_and_bye ("c2");
}

Test (daemon, big_artifacts_never_stall_heartbeats)
{
    s_start_worker (F, NULL);
    segq_msg_t *reg = s_handshake (F, 5000);
    segq_msg_destroy (&reg);
    size_t size = 24u << 20;
    char *data = s_pattern (size, 13);
    segq_artifact_t input = { .name = "big.bin", .size = size };
    s_hash (data, size, input.hash);
    s_assign (F, "b1", 1, "echo", NULL, &input, 1, 0);
    s_serve_get_chunked (F, data, size, input.hash, 5, 1u << 20);
    free (data);
    /* from here on: download, hash, copy by the child, hash of the output;
       the worker must keep talking (heartbeat every 100 ms) all along */
    int64_t worst;
    segq_msg_t *put = s_expect_talking (SEGQ_MSG_PUT, &worst);
    cr_assert (worst < 700, "the worker was silent for %lld ms", (long long) worst);
    s_take_upload (F, &put, 6, 1u << 20, NULL, size, input.hash);
    segq_msg_t *result = s_expect (F, SEGQ_MSG_RESULT, 10000);
    cr_assert (result->u.result.success, "%s", result->u.result.reason);
    cr_assert_eq (result->u.result.outputs [0].size, size);
    segq_msg_destroy (&result);
    s_ack (F, "b1", 1, 0);
    s_drain_and_bye (F);
}

/* ---- jobs of many inputs ---- */

/* Content i: "content I\n", its hash into hash; its size. */
static size_t
s_content (size_t i, char hash [SEGQ_HASH_HEX_LEN + 1])
{
    char text [32];
    int len = snprintf (text, sizeof text, "content %zu\n", i);
    s_hash (text, (size_t) len, hash);
    return (size_t) len;
}

/* Contents 0 .. n-1 in the cache of the worker s_start_worker starts, as
   finished downloads leave them. */
static void
s_cache_fill (size_t n)
{
    char dir [400], err [256], path [4096], hash [SEGQ_HASH_HEX_LEN + 1];
    snprintf (dir, sizeof dir, "%s/work/cache", F->dir);
    segq__cache_t *cache = segq__cache_new (dir, 0, err, sizeof err);
    cr_assert_not_null (cache, "%s", err);
    for (size_t i = 0; i < n; i++) {
        s_content (i, hash);
        segq__cache_path (cache, hash, path, sizeof path);
        *strrchr (path, '/') = 0;
        cr_assert_eq (segq_mkdirs (path, err, sizeof err), 0, "%s", err);
        segq__cache_path (cache, hash, path, sizeof path);
        FILE *file = fopen (path, "w");
        cr_assert (file && fprintf (file, "content %zu\n", i) > 0 && fclose (file) == 0, "%s",
                   path);
    }
    segq__cache_destroy (&cache);
}

/* A job's inputs, built up: names (printf-style) of contents. */
typedef struct {
    segq_artifact_t *items;
    size_t count, cap;
} inputs_t;

static void s_input_add (inputs_t *inputs, size_t content, const char *format, ...)
    __attribute__ ((format (printf, 3, 4)));

static void
s_input_add (inputs_t *inputs, size_t content, const char *format, ...)
{
    if (inputs->count == inputs->cap) {
        inputs->cap = inputs->cap ? inputs->cap * 2 : 1024;
        inputs->items = realloc (inputs->items, inputs->cap * sizeof *inputs->items);
        cr_assert_not_null (inputs->items);
    }
    segq_artifact_t *in = &inputs->items [inputs->count++];
    char name [256];
    va_list args;
    va_start (args, format);
    vsnprintf (name, sizeof name, format, args);
    va_end (args);
    cr_assert_not_null (in->name = strdup (name));
    in->size = s_content (content, in->hash);
}

static void
s_inputs_clear (inputs_t *inputs)
{
    segq__artifacts_free (&inputs->items, inputs->count);
    inputs->count = inputs->cap = 0;
}

/* 30,000 inputs of 3,000 contents, all in the cache, a content's names
   far apart (files are slow to make here; links are not). */
static void
s_inputs_many (inputs_t *inputs)
{
    enum { N = 30000, CONTENTS = 3000 };
    s_cache_fill (CONTENTS);
    for (size_t i = 0; i < N; i++)
        s_input_add (inputs, i % CONTENTS, "images/%05zu.png", i);
}

/* Waits for the journal's line of the job's child, answering the worker. */
static void
s_wait_started (void)
{
    int64_t deadline = segq__now_ms () + 30000;
    while (s_count_lines (F->journal) == 0) {
        cr_assert_lt (segq__now_ms (), deadline, "the job did not start; log:\n%s",
                      s_slurp (F->log));
        segq_msg_t *msg = s_next (F, 100);
        cr_assert_null (msg, "%s before the job started",
                        msg ? segq_msg_type_name (msg->type) : "");
    }
}

/* Every input at its name in the job's directory, with its content; the
   names of one content are one file. */
static void
s_check_laid_out (const char *job, const inputs_t *inputs)
{
    for (size_t i = 0; i < inputs->count; i++) {
        const segq_artifact_t *in = &inputs->items [i];
        char path [1024], got [SEGQ_HASH_HEX_LEN + 1];
        snprintf (path, sizeof path, "%s/work/jobs/%s.1/%s", F->dir, job, in->name);
        cr_assert_eq (segq_sha256_file (path, got), 0, "%s is missing", in->name);
        cr_assert_str_eq (got, in->hash, "%s has another content", in->name);
    }
}

/* Thousands of inputs: contents of their own in subfolders, some under a
   second name further on, one cached content under thousands of names
   and one fetched content under as many, interleaved. */
Test (daemon, many_inputs_each_laid_out_with_its_content)
{
    enum { N = 2000, MANY = N, FETCHED = N + 1 };
    s_cache_fill (FETCHED);
    inputs_t inputs = { 0 };
    for (size_t i = 0; i < N; i++) {
        s_input_add (&inputs, i, "images/%zu/%05zu.png", i % 10, i);
        if (i % 4 == 3)
            s_input_add (&inputs, i - 2, "again/%05zu.png", i - 2);
        s_input_add (&inputs, MANY, "many/%05zu", i);
        s_input_add (&inputs, FETCHED, "fetched/%zu/deeper/%05zu", i % 7, i);
    }
    s_start_worker (F, NULL);
    segq_msg_t *reg = s_handshake (F, 5000);
    segq_msg_destroy (&reg);
    const char *params [] = { "seconds=30", NULL };
    s_assign (F, "m1", 1, "sleep", params, inputs.items, inputs.count, 0);
    char text [32], hash [SEGQ_HASH_HEX_LEN + 1];
    size_t size = s_content (FETCHED, hash);
    snprintf (text, sizeof text, "content %d\n", FETCHED);
    s_serve_get (F, text, size, hash, 41);
    s_wait_started ();
    s_check_laid_out ("m1", &inputs);
    s_inputs_clear (&inputs);
    s_abort_and_bye ("m1");
}

/* A worker given a sleep job of s_inputs_many's inputs, "seconds=S". */
static void
s_assign_many (inputs_t *inputs, const char *job, const char *seconds)
{
    s_inputs_many (inputs);
    s_start_worker (F, NULL);
    segq_msg_t *reg = s_handshake (F, 5000);
    segq_msg_destroy (&reg);
    const char *params [] = { seconds, NULL };
    s_assign (F, job, 1, "sleep", params, inputs->items, inputs->count, 0);
}

/* Tens of thousands of links take seconds: the worker lays them out a
   slice at a time and keeps talking to the broker meanwhile. */
Test (daemon, many_inputs_never_stall_heartbeats)
{
    inputs_t inputs = { 0 };
    s_assign_many (&inputs, "h1", "seconds=0");
    int64_t worst;
    segq_msg_t *result = s_expect_talking (SEGQ_MSG_RESULT, &worst);
    cr_assert (result->u.result.success, "%s", result->u.result.reason);
    cr_assert (worst < 700, "the worker was silent for %lld ms", (long long) worst);
    segq_msg_destroy (&result);
    s_ack (F, "h1", 1, 0);
    s_inputs_clear (&inputs);
    s_drain_and_bye (F);
}

/* A job aborted in the middle of its layout ends there, its directory
   gone once its result is acknowledged; a worker stopped in the middle of
   one leaves at once (without a leak, under ASan). */
Test (daemon, many_inputs_aborted_or_stopped_in_their_layout)
{
    inputs_t inputs = { 0 };
    s_assign_many (&inputs, "a1", "seconds=30");
    segq_msg_t *abort = segq_msg_new (SEGQ_MSG_ABORT);
    abort->u.abort.job = strdup ("a1");
    abort->u.abort.attempt = 1;
    abort->u.abort.reason = strdup ("cancelled");
    s_send (F, abort);
    segq_msg_t *result = s_expect (F, SEGQ_MSG_RESULT, 10000);
    cr_assert_str_eq (result->u.result.reason, "aborted: cancelled");
    segq_msg_destroy (&result);
    s_ack (F, "a1", 1, 0);
    char dir [400];
    snprintf (dir, sizeof dir, "%s/work/jobs/a1.1", F->dir);
    for (int i = 0; i < 500 && access (dir, F_OK) == 0; i++)
        usleep (10000);
    cr_assert_neq (access (dir, F_OK), 0, "the aborted job's directory stayed");

    const char *params [] = { "seconds=30", NULL };
    s_assign (F, "a2", 1, "sleep", params, inputs.items, inputs.count, 0);
    snprintf (dir, sizeof dir, "%s/work/jobs/a2.1", F->dir);
    for (int i = 0; i < 500 && access (dir, F_OK) != 0; i++)
        usleep (1000); /* taken: a stop signal first would refuse it */
    kill (F->pid, SIGINT);
    segq_msg_t *reg = s_expect (F, SEGQ_MSG_REGISTER, 5000); /* draining */
    segq_msg_destroy (&reg);
    kill (F->pid, SIGINT);
    segq_msg_t *bye = s_expect (F, SEGQ_MSG_BYE, 5000);
    segq_msg_destroy (&bye);
    int status = s_wait_exit (F, 10000);
    cr_assert (WIFEXITED (status) && WEXITSTATUS (status) == 130, "status %d", status);
    cr_assert_eq (s_count_lines (F->journal), 0, "a child started: the layouts were not cut short");
    s_inputs_clear (&inputs);
}

Test (daemon, outputs_that_cannot_fit_one_result_fail_clearly)
{
    s_start_worker (F, NULL);
    segq_msg_t *reg = s_expect (F, SEGQ_MSG_REGISTER, 10000);
    segq_msg_destroy (&reg);
    s_welcome_max (F, 5000, 9000);
    enum { N = 12 };
    segq_artifact_t inputs [N];
    char names [N][128];
    for (int i = 0; i < N; i++) {
        snprintf (names [i], sizeof names [i], "files/%0100d", i);
        inputs [i] = (segq_artifact_t){ .name = names [i], .size = 1 };
        s_hash ("x", 1, inputs [i].hash);
    }
    s_assign (F, "m1", 1, "echo", NULL, inputs, N, 0);
    s_serve_get (F, "x", 1, inputs [0].hash, 3); /* one content, one download */
    segq_msg_t *result = s_expect (F, SEGQ_MSG_RESULT, 10000);
    cr_assert_not (result->u.result.success);
    cr_assert (strstr (result->u.result.reason, "12 outputs")
                   && strstr (result->u.result.reason, "does not fit one RESULT"),
               "%s", result->u.result.reason);
    segq_msg_destroy (&result);
    s_ack (F, "m1", 1, 0);
    s_drain_and_bye (F);
}

Test (daemon, corrupt_input_retried_then_job_fails_clearly)
{
    s_start_worker (F, NULL);
    segq_msg_t *reg = s_handshake (F, 5000);
    segq_msg_destroy (&reg);
    const char *real = "the real bytes", *fake = "the fake bytes";
    segq_artifact_t input = { .name = "in.txt", .size = strlen (real) };
    s_hash (real, strlen (real), input.hash);
    s_assign (F, "c1", 1, "echo", NULL, &input, 1, 0);
    for (int i = 0; i < 3; i++)
        s_serve_get (F, fake, strlen (fake), input.hash, 10 + (uint64_t) i);
    segq_msg_t *result = s_expect (F, SEGQ_MSG_RESULT, 10000);
    cr_assert_not (result->u.result.success);
    cr_assert (strstr (result->u.result.reason, "in.txt")
                   && strstr (result->u.result.reason, "sha256"),
               "%s", result->u.result.reason);
    segq_msg_destroy (&result);
    s_ack (F, "c1", 1, 0);
    /* nothing ran */
    cr_assert_str_eq (s_slurp (F->journal), "");
    s_drain_and_bye (F);
}

Test (daemon, failures_reported_daemon_survives)
{
    s_start_worker (F, NULL);
    segq_msg_t *reg = s_handshake (F, 5000);
    segq_msg_destroy (&reg);
    const char *exit3 [] = { "mode=exit", "code=3", NULL };
    const char *sig [] = { "mode=signal", "signal=9", NULL };
    const char *crash [] = { "mode=crash", NULL };
    s_assign (F, "f1", 1, "fail", exit3, NULL, 0, 0);
    s_assign (F, "f2", 1, "fail", sig, NULL, 0, 0);
    s_assign (F, "f3", 1, "fail", crash, NULL, 0, 0);
    int seen = 0;
    for (int i = 0; i < 3; i++) {
        segq_msg_t *m = s_expect (F, SEGQ_MSG_RESULT, 10000);
        segq_result_t *r = &m->u.result;
        cr_assert_not (r->success);
        if (strcmp (r->job, "f1") == 0) {
            cr_assert_eq (r->exit_code, 3);
            /* with the last line the child wrote */
            cr_assert_str_eq (r->reason, "exited with code 3: segq-testkind: failing with exit "
                                         "code 3 as asked");
        } else if (strcmp (r->job, "f2") == 0) {
            cr_assert_eq (r->signal, 9);
            cr_assert_eq (r->exit_code, -1);
        } else {
            cr_assert_str_eq (r->job, "f3");
            cr_assert_eq (r->signal, SIGABRT, "%s", r->reason);
        }
        seen++;
        s_ack (F, r->job, 1, 0);
        segq_msg_destroy (&m);
    }
    cr_assert_eq (seen, 3);
    cr_assert_eq (kill (F->pid, 0), 0);
    s_drain_and_bye (F);
}

Test (daemon, kinds_flag_limits_what_it_takes)
{
    const char *extra [] = { "--kinds", "noop,sleep", NULL };
    s_start_worker (F, extra);
    segq_msg_t *reg = s_handshake (F, 5000);
    cr_assert_eq (reg->u.reg.n_kinds, 2);
    cr_assert_str_eq (reg->u.reg.kinds [0], "noop");
    cr_assert_str_eq (reg->u.reg.kinds [1], "sleep");
    segq_msg_destroy (&reg);
    s_assign (F, "k1", 1, "echo", NULL, NULL, 0, 0);
    segq_msg_t *m = s_expect (F, SEGQ_MSG_RESULT, 10000);
    cr_assert_not (m->u.result.success);
    cr_assert (strstr (m->u.result.reason, "'echo' is not run by worker w1"), "%s",
               m->u.result.reason);
    segq_msg_destroy (&m);
    s_ack (F, "k1", 1, 0);
    s_drain_and_bye (F);
}

Test (daemon, time_limit_and_abort)
{
    s_start_worker (F, NULL);
    segq_msg_t *reg = s_handshake (F, 5000);
    segq_msg_destroy (&reg);
    const char *long_sleep [] = { "seconds=30", NULL };
    int64_t start = segq__now_ms ();
    s_assign (F, "t1", 1, "sleep", long_sleep, NULL, 0, 1);
    s_assign (F, "a1", 4, "sleep", long_sleep, NULL, 0, 0);
    usleep (300000);
    segq_msg_t *abort = segq_msg_new (SEGQ_MSG_ABORT);
    abort->u.abort.job = strdup ("a1");
    abort->u.abort.attempt = 4;
    abort->u.abort.reason = strdup ("cancelled by alice");
    s_send (F, abort);
    for (int i = 0; i < 2; i++) {
        segq_msg_t *m = s_expect (F, SEGQ_MSG_RESULT, 10000);
        segq_result_t *r = &m->u.result;
        cr_assert_not (r->success);
        if (strcmp (r->job, "t1") == 0) {
            cr_assert_str_eq (r->reason, "time limit of 1 s exceeded");
            int64_t took = segq__now_ms () - start;
            cr_assert (took >= 1000 && took < 4000, "took %lld ms", (long long) took);
        } else {
            cr_assert_str_eq (r->job, "a1");
            cr_assert_eq (r->attempt, 4);
            cr_assert_str_eq (r->reason, "aborted: cancelled by alice");
        }
        s_ack (F, r->job, r->attempt, 0);
        segq_msg_destroy (&m);
    }
    s_drain_and_bye (F);
}

Test (daemon, result_survives_broker_restart_and_is_fenced)
{
    s_start_worker (F, NULL);
    segq_msg_t *reg = s_handshake (F, 400);
    segq_msg_destroy (&reg);
    const char *params [] = { "seconds=0.3", NULL };
    s_assign (F, "r1", 1, "sleep", params, NULL, 0, 0);
    /* the broker goes away while the job runs */
    usleep (50000);
    int port = atoi (strrchr (F->endpoint, ':') + 1);
    zframe_destroy (&F->peer);
    zsock_destroy (&F->router);
    usleep (1200000); /* job finishes while nobody listens */
    s_bind (F, port);
    reg = s_expect (F, SEGQ_MSG_REGISTER, 10000);
    cr_assert_eq (reg->u.reg.n_held, 1);
    cr_assert_str_eq (reg->u.reg.held [0].job, "r1");
    cr_assert_eq (reg->u.reg.held [0].attempt, 1);
    segq_msg_destroy (&reg);
    s_welcome (F, 5000);
    segq_msg_t *result = s_expect (F, SEGQ_MSG_RESULT, 10000);
    cr_assert_str_eq (result->u.result.job, "r1");
    cr_assert (result->u.result.success, "%s", result->u.result.reason);
    segq_msg_destroy (&result);
    /* fenced: the worker drops it and holds nothing */
    s_ack (F, "r1", 1, SEGQ_ESTALE);
    usleep (200000);
    segq_msg_t *error = segq_msg_new (SEGQ_MSG_ERROR);
    error->u.error.code = SEGQ_ENOENT;
    error->u.error.message = strdup ("unknown worker: register");
    s_send (F, error);
    reg = s_expect (F, SEGQ_MSG_REGISTER, 5000);
    cr_assert_eq (reg->u.reg.n_held, 0);
    segq_msg_destroy (&reg);
    s_welcome (F, 5000);
    cr_assert_eq (s_count_lines (F->journal), 1);
    s_drain_and_bye (F);
}

Test (daemon, drain_finishes_running_jobs_first)
{
    s_start_worker (F, NULL);
    segq_msg_t *reg = s_handshake (F, 5000);
    segq_msg_destroy (&reg);
    const char *params [] = { "seconds=0.5", NULL };
    s_assign (F, "d1", 1, "sleep", params, NULL, 0, 0);
    usleep (100000);
    s_send (F, segq_msg_new (SEGQ_MSG_DRAIN_WORKER));
    /* the broker assigns a draining worker nothing; one that it did anyway
       is not taken (it is requeued when the worker leaves) */
    usleep (100000);
    s_assign (F, "late", 1, "noop", NULL, NULL, 0, 0);
    segq_msg_t *result = s_expect (F, SEGQ_MSG_RESULT, 10000);
    cr_assert_str_eq (result->u.result.job, "d1");
    cr_assert (result->u.result.success);
    segq_msg_destroy (&result);
    s_ack (F, "d1", 1, 0);
    segq_msg_t *bye = s_expect (F, SEGQ_MSG_BYE, 5000);
    segq_msg_destroy (&bye);
    int status = s_wait_exit (F, 5000);
    cr_assert (WIFEXITED (status) && WEXITSTATUS (status) == 0);
    cr_assert_str_eq (s_slurp (F->journal), "d1 1\n");
}

/* What follows an ML job's segq-run that cannot start: no RESULT for the
   job, the worker's draining, then leaving with status 1, its log saying
   why. */
static void
s_expect_node_fault (const char *why)
{
    segq_msg_t *drain = s_expect (F, SEGQ_MSG_REGISTER, 10000);
    cr_assert (drain->u.reg.draining, "REGISTER does not say draining");
    segq_msg_destroy (&drain);
    segq_msg_t *bye = s_expect (F, SEGQ_MSG_BYE, 10000);
    cr_assert (bye->u.bye.reason && strstr (bye->u.bye.reason, "segq-run cannot start"), "%s",
               bye->u.bye.reason ? bye->u.bye.reason : "");
    segq_msg_destroy (&bye);
    int status = s_wait_exit (F, 5000);
    cr_assert (WIFEXITED (status) && WEXITSTATUS (status) == 1, "status %d", status);
    cr_assert (strstr (s_slurp (F->log), "could not be started") && strstr (s_slurp (F->log), why),
               "%s", s_slurp (F->log));
}

/* A segq-run that cannot start at all (127: the loader found no libtorch)
   says nothing of the job: its attempt is given back unreported, the
   worker takes no new job and leaves with status 1, saying why, instead
   of failing every job of the queue in turn. A fail job's own 127 is the
   job's. */
Test (daemon, segq_run_that_cannot_start_gives_back_and_drains)
{
    char script [400];
    s_script ("broken-segq-run",
              "#!/bin/sh\n"
              "[ \"$1\" = devices ] && exec echo '{\"cpu\": {\"cores\": 2}}'\n"
              "echo 'segq-run: error while loading shared libraries: libtorch_cpu.so' >&2\n"
              "exit 127\n",
              script, sizeof script);
    const char *extra [] = { "--segq-run", script, NULL };
    s_start_worker (F, extra);
    segq_msg_t *reg = s_handshake (F, 5000);
    segq_msg_destroy (&reg);
    const char *code [] = { "mode=exit", "code=127", NULL };
    s_assign (F, "own", 1, "fail", code, NULL, 0, 0);
    segq_msg_t *result = s_expect (F, SEGQ_MSG_RESULT, 10000);
    cr_assert (strcmp (result->u.result.job, "own") == 0 && result->u.result.exit_code == 127);
    segq_msg_destroy (&result);
    s_ack (F, "own", 1, 0);
    s_assign (F, "t1", 1, "train", NULL, NULL, 0, 0);
    s_expect_node_fault ("libtorch_cpu.so");
}

/* The same when segq-run cannot even be executed (its x bits gone, as
   for a moment during a rebuild or an upgrade): the job is given back,
   not failed, and the worker drains. */
Test (daemon, segq_run_not_executable_gives_back_and_drains)
{
    char script [400];
    s_script ("segq-run",
              "#!/bin/sh\n[ \"$1\" = devices ] && exec echo '{\"cpu\": {\"cores\": 2}}'\n", script,
              sizeof script);
    const char *extra [] = { "--segq-run", script, NULL };
    s_start_worker (F, extra);
    segq_msg_t *reg = s_handshake (F, 5000);
    segq_msg_destroy (&reg);
    cr_assert_eq (chmod (script, 0644), 0);
    s_assign (F, "t1", 1, "train", NULL, NULL, 0, 0);
    s_expect_node_fault ("Permission denied");
}

Test (daemon, sigint_twice_stops_at_once)
{
    s_start_worker (F, NULL);
    segq_msg_t *reg = s_handshake (F, 5000);
    segq_msg_destroy (&reg);
    const char *params [] = { "seconds=60", NULL };
    s_assign (F, "i1", 1, "sleep", params, NULL, 0, 0);
    for (int i = 0; i < 500 && s_count_lines (F->journal) == 0; i++)
        usleep (10000);
    kill (F->pid, SIGINT);
    reg = s_expect (F, SEGQ_MSG_REGISTER, 5000); /* draining */
    segq_msg_destroy (&reg);
    kill (F->pid, SIGINT);
    segq_msg_t *bye = s_expect (F, SEGQ_MSG_BYE, 5000);
    cr_assert_str_eq (bye->u.bye.reason, "interrupted");
    segq_msg_destroy (&bye);
    int status = s_wait_exit (F, 5000);
    cr_assert (WIFEXITED (status) && WEXITSTATUS (status) == 130, "status %d", status);
    cr_assert (strstr (s_slurp (F->log), "interrupted twice"));
}

Test (daemon, version_mismatch_said_plainly)
{
    s_start_worker (F, NULL);
    segq_msg_t *reg = s_expect (F, SEGQ_MSG_REGISTER, 10000);
    segq_msg_destroy (&reg);
    segq_msg_t *error = segq_msg_new (SEGQ_MSG_ERROR);
    error->u.error.code = SEGQ_EVERSION;
    error->u.error.message = strdup ("unsupported protocol version");
    error->u.error.versions = calloc (2, sizeof (uint32_t));
    error->u.error.versions [0] = 7;
    error->u.error.versions [1] = 8;
    error->u.error.n_versions = 2;
    s_send (F, error);
    int status = s_wait_exit (F, 5000);
    cr_assert (WIFEXITED (status) && WEXITSTATUS (status) != 0);
    char *log = s_slurp (F->log);
    cr_assert (strstr (log, "speaks protocol versions 7, 8; this segq-worker speaks 2..2"), "%s",
               log);
}

Test (daemon, bad_flags_refused_with_a_message)
{
    static const char *const cases [][2] = {
        { "zero:big", "--gpus: 'zero:big' is not INDEX:NAME:MEM" },
        /* one device twice would take two jobs' memory on it */
        { "0:A100:8G,0:A100:8G", "--gpus: GPU 0 is given twice" },
        { "0:A100:80G,", "has an empty entry" },
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases [0]; i++) {
        const char *extra [] = { "--gpus", cases [i][0], NULL };
        s_start_worker (F, extra);
        int status = s_wait_exit (F, 5000);
        cr_assert (WIFEXITED (status) && WEXITSTATUS (status) == 2, "%s: status %d", cases [i][0],
                   status);
        cr_assert (strstr (s_slurp (F->log), cases [i][1]), "%s", s_slurp (F->log));
    }
}

/* A broker URL libzmq cannot connect to, or a tcp one without a usable
   port, is refused at start (exit 2) with the form expected, instead of
   being retried for ever; a host name that does not resolve (yet) is
   not: a node may boot before its DNS. */
Test (daemon, an_unusable_broker_url_refused_at_start)
{
    static const char *const urls [] = { "localhost:5555", "tcp://localhost",
                                         "tcp://localhost:65536", "nope://localhost:5555",
                                         "inproc://segqd" };
    for (size_t i = 0; i < sizeof urls / sizeof urls [0]; i++) {
        s_log_clear ();
        const char *extra [] = { "--broker", urls [i], NULL };
        s_start_worker (F, extra);
        int status = s_wait_exit (F, 5000);
        cr_assert (WIFEXITED (status) && WEXITSTATUS (status) == 2, "%s: status %d", urls [i],
                   status);
        char said [200];
        snprintf (said, sizeof said, "--broker '%s' is no broker endpoint", urls [i]);
        cr_assert (strstr (s_slurp (F->log), said) && strstr (s_slurp (F->log), "tcp://HOST:PORT"),
                   "%s", s_slurp (F->log));
    }
    const char *unresolved [] = { "--broker", "tcp://no-such-host.invalid:5555", NULL };
    s_start_worker (F, unresolved);
    cr_assert (s_log_says ("starting: broker tcp://no-such-host.invalid:5555", 10000), "%s",
               s_slurp (F->log));
    s_drain_and_bye (F);
}

/* Without -v, a broker that does not answer is said once about 10 s in
   (then at most once a minute), and so is the registration that ends it. */
Test (daemon, an_unanswered_broker_is_said_and_so_is_its_answer)
{
    int64_t started = segq__now_ms ();
    s_start_worker (F, NULL);
    cr_assert (s_log_says ("no answer from broker", 20000), "%s", s_slurp (F->log));
    int64_t said = segq__now_ms () - started;
    cr_assert_geq (said, 10000, "said after %lld ms", (long long) said);
    char expected [300];
    snprintf (expected, sizeof expected,
              "no answer from broker %s yet (is segqd running there?); retrying", F->endpoint);
    cr_assert (strstr (s_slurp (F->log), expected), "%s", s_slurp (F->log));
    /* the REGISTERs that waited came on sockets since dropped: welcome
       each until the worker's current one gets its answer */
    int64_t deadline = segq__now_ms () + 10000;
    while (!strstr (s_slurp (F->log), "registered with") && segq__now_ms () < deadline) {
        segq_msg_t *msg = s_next (F, 200);
        if (msg && msg->type == SEGQ_MSG_REGISTER)
            s_welcome (F, 5000);
        segq_msg_destroy (&msg);
    }
    cr_assert (s_log_says ("without an answer)", 1000), "%s", s_slurp (F->log));
    const char *log = s_slurp (F->log);
    const char *first = strstr (log, "no answer from broker");
    cr_assert (!strstr (first + 1, "no answer from broker"), "said twice: %s", log);
    s_drain_and_bye (F);
}

Test (daemon, unacknowledged_result_sent_again_and_drain_waits_for_its_ack)
{
    s_start_worker (F, NULL);
    segq_msg_t *reg = s_handshake (F, 500);
    segq_msg_destroy (&reg);
    s_assign (F, "u1", 1, "noop", NULL, NULL, 0, 0);
    segq_msg_t *result = s_expect (F, SEGQ_MSG_RESULT, 5000);
    segq_msg_destroy (&result);
    /* No ack (a broker whose commit failed drops it): the result comes
       again after the expiry, with no new REGISTER, and then less often. */
    int64_t sent = segq__now_ms ();
    result = s_expect (F, SEGQ_MSG_RESULT, 5000);
    cr_assert_str_eq (result->u.result.job, "u1");
    cr_assert (result->u.result.success);
    segq_msg_destroy (&result);
    int64_t first_gap = segq__now_ms () - sent;
    cr_assert (first_gap >= 400, "sent again after %lld ms", (long long) first_gap);
    /* draining: the worker stays while the result is unacknowledged */
    kill (F->pid, SIGTERM);
    reg = s_expect (F, SEGQ_MSG_REGISTER, 5000);
    cr_assert (reg->u.reg.draining);
    cr_assert_eq (reg->u.reg.n_held, 1);
    segq_msg_destroy (&reg);
    s_welcome (F, 500);
    sent = segq__now_ms ();
    result = s_expect (F, SEGQ_MSG_RESULT, 5000);
    segq_msg_destroy (&result);
    int64_t second_gap = segq__now_ms () - sent;
    cr_assert (second_gap >= 600, "sent again after %lld ms: no backoff", (long long) second_gap);
    cr_assert_eq (kill (F->pid, 0), 0, "a draining worker left with a result unacknowledged");
    /* acknowledged: it leaves */
    s_ack (F, "u1", 1, 0);
    segq_msg_t *bye = s_expect (F, SEGQ_MSG_BYE, 5000);
    segq_msg_destroy (&bye);
    int status = s_wait_exit (F, 5000);
    cr_assert (WIFEXITED (status) && WEXITSTATUS (status) == 0, "status %d", status);
}

Test (daemon, node_name_refused_exits_and_restart_keeps_the_daemons_id)
{
    s_start_worker (F, NULL);
    segq_msg_t *reg = s_expect (F, SEGQ_MSG_REGISTER, 10000);
    /* RANDOM@HOST, RANDOM 32 hex digits kept in the work directory */
    const char *inst = reg->u.reg.instance;
    cr_assert (inst && strlen (inst) > 33 && inst [32] == '@'
                   && strspn (inst, "0123456789abcdef") == 32,
               "inst %s", inst ? inst : "none");
    char instance [300];
    snprintf (instance, sizeof instance, "%s", inst);
    segq_msg_destroy (&reg);
    segq_msg_t *error = segq_msg_new (SEGQ_MSG_ERROR);
    error->u.error.code = SEGQ_EEXIST;
    error->u.error.message = strdup ("node name w1 is taken by another live worker: use --node "
                                     "NAME to give each worker on one host its own name");
    s_send (F, error);
    int status = s_wait_exit (F, 5000);
    cr_assert (WIFEXITED (status) && WEXITSTATUS (status) == 1, "status %d", status);
    cr_assert (strstr (s_slurp (F->log), "refused node w1: node name w1 is taken by another "
                                         "live worker: use --node NAME"),
               "%s", s_slurp (F->log));
    /* started again on its work directory: the same daemon to the broker */
    s_start_worker (F, NULL);
    reg = s_handshake (F, 5000);
    cr_assert_str_eq (reg->u.reg.instance, instance);
    segq_msg_destroy (&reg);
    s_drain_and_bye (F);
}

Test (daemon, gpus_need_a_segq_run_with_cuda)
{
    char fake [400];
    s_script ("segq-run",
              "#!/bin/sh\n[ \"$1\" = devices ] || exit 9\n"
              "echo '{\"cpu\": {\"cores\": 2}, \"cuda\": [], \"cuda_build\": false}'\n",
              fake, sizeof fake);
    /* GPUs declared (s_start_worker's --gpus) for ML kinds: refused */
    const char *ml [] = { "--segq-run", fake, NULL };
    s_start_worker (F, ml);
    int status = s_wait_exit (F, 10000);
    cr_assert (WIFEXITED (status) && WEXITSTATUS (status) == 2, "status %d", status);
    cr_assert (strstr (s_slurp (F->log), "is a CPU-only build")
                   && strstr (s_slurp (F->log), "--gpus \"\""),
               "%s", s_slurp (F->log));
    /* a --gpus that does not parse is said first, not the build: the
       user would fix the build and still have the typo */
    s_log_clear ();
    const char *typo [] = { "--segq-run", fake, "--gpus", "0:A:8G,,1:B:8G", NULL };
    s_start_worker (F, typo);
    status = s_wait_exit (F, 10000);
    cr_assert (WIFEXITED (status) && WEXITSTATUS (status) == 2, "status %d", status);
    cr_assert (strstr (s_slurp (F->log), "has an empty entry")
                   && !strstr (s_slurp (F->log), "CPU-only build"),
               "%s", s_slurp (F->log));
    /* test kinds only: its GPUs are usable */
    const char *tests [] = { "--segq-run", fake, "--kinds", "sleep", NULL };
    s_start_worker (F, tests);
    segq_msg_t *reg = s_handshake (F, 5000);
    cr_assert_eq (reg->u.reg.n_gpus, 2);
    segq_msg_destroy (&reg);
    s_drain_and_bye (F);
}

/* A segq-run named but not executable is refused at start, rather than
   leaving train and the rest out of the kinds the worker offers. */
Test (daemon, segq_run_not_executable_at_start_refused)
{
    char fake [400];
    s_script ("segq-run", "#!/bin/sh\n", fake, sizeof fake);
    cr_assert_eq (chmod (fake, 0644), 0);
    const char *ml [] = { "--segq-run", fake, NULL };
    s_start_worker (F, ml);
    int status = s_wait_exit (F, 10000);
    cr_assert (WIFEXITED (status) && WEXITSTATUS (status) == 1, "status %d", status);
    cr_assert (strstr (s_slurp (F->log), "--segq-run")
                   && strstr (s_slurp (F->log), "Permission denied"),
               "%s", s_slurp (F->log));
}

/* A node name follows the rule of users' names (segq_user_valid). */
Test (daemon, a_node_name_that_cannot_be_one_refused)
{
    const char *odd [] = { "--node", "gpu 01", NULL };
    s_start_worker (F, odd);
    int status = s_wait_exit (F, 10000);
    cr_assert (WIFEXITED (status) && WEXITSTATUS (status) == 1, "status %d", status);
    cr_assert (strstr (s_slurp (F->log), "node name 'gpu 01'"), "%s", s_slurp (F->log));
}

Test (daemon, gpus_outside_its_cuda_visible_devices_refused)
{
    /* two GPUs declared, one visible */
    setenv ("CUDA_VISIBLE_DEVICES", "GPU-4a1b", 1);
    s_start_worker (F, NULL);
    unsetenv ("CUDA_VISIBLE_DEVICES");
    int status = s_wait_exit (F, 10000);
    cr_assert (WIFEXITED (status) && WEXITSTATUS (status) != 0, "status %d", status);
    cr_assert (strstr (s_slurp (F->log), "GPU 1 is not in CUDA_VISIBLE_DEVICES=GPU-4a1b"), "%s",
               s_slurp (F->log));
}
