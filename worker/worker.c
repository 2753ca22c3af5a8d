/*  worker.c: the segq-worker daemon.

    One DEALER socket to the broker, one zloop reactor, no threads. The
    daemon's state is a table of the job attempts it holds, each in one
    phase:

        FETCHING   inputs being downloaded into the cache (GET/CHUNK/CREDIT)
        RUNNING    child process alive (job_runner.c); log and progress flow
        UPLOADING  outputs being uploaded (PUT/CHUNK, within credit), each
                   hashed as it is sent: the final CHUNK names the sha256
        DONE       result known; RESULT sent, kept until RESULT_ACK

    A job leaves the table on RESULT_ACK (accepted or fenced) or on ABORT
    when already DONE. Every held job is listed in REGISTER, so when the
    broker comes back after a restart it re-adopts them, and results that
    finished while it was away are sent again after WELCOME. A result left
    without an answer in a session (the broker's commit failed: it dropped
    the ack) is sent again after expiry_ms, then less and less often.

    Identity: the work directory is locked for the daemon's life, and a
    random id kept in it names the daemon beside its node name (REGISTER
    inst): the broker refuses a second live daemon with the same node name
    and lets a restarted one take its name back at once.

    Session: OFFLINE -> REGISTERING (REGISTER sent on a fresh socket,
    retried with backoff 100 ms .. 2 s) -> ONLINE (WELCOME received). ONLINE
    -> REGISTERING when the broker is silent for expiry_ms, or says it does
    not know us (after its restart).

    noop jobs complete in-process; they are batched: every ASSIGN read in
    one wakeup is journalled with one write and answered after it.

    This file holds the daemon itself: construction, the loop, signals and
    the tick, and the dispatch of each message from the broker to the file
    of its concern (worker_daemon.h lists them).
*/
#define _GNU_SOURCE
#include "segq_keys.h"
#include "segq_fs.h"
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <signal.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/signalfd.h>
#include <sys/stat.h>
#include <unistd.h>
#include "segq_hashx.h"
#include "worker_daemon.h"

#define TICK_MS       50
#define LOG_FLUSH_MS  100
#define RECV_BATCH    4096 /* messages read per wakeup, at most ... */
#define RECV_BATCH_MS 20   /* ... and for at most this long */

/* ---- small helpers ---- */

void
segq__worker_log (segq_worker_t *self, int level, const char *format, ...)
{
    if (level > self->verbose)
        return;
    va_list args;
    va_start (args, format);
    fprintf (stderr, "segq-worker[%s]: ", self->node);
    vfprintf (stderr, format, args);
    fputc ('\n', stderr);
    va_end (args);
}

char *
segq__worker_strdup_or_null (const char *s)
{
    return s ? strdup (s) : NULL;
}

int
segq__worker_send (segq_worker_t *self, segq_msg_t **msg_p)
{
    if (!*msg_p)
        return SEGQ_ENOMEM;
    if (!self->sock) {
        segq_msg_destroy (msg_p);
        return SEGQ_EUNAVAIL;
    }
    int rc = segq_msg_send (msg_p, self->sock, NULL);
    if (rc)
        segq__worker_log (self, 0, "cannot send to %s: %s", self->broker, segq_strerror (rc));
    else
        self->last_sent_ms = segq__now_ms ();
    return rc;
}

/* ---- messages from the broker ---- */

static int
s_dispatch (segq_worker_t *self, segq_msg_t **msg_p)
{
    segq_msg_t *msg = *msg_p;
    if (self->session == REGISTERING && msg->type != SEGQ_MSG_WELCOME && msg->type != SEGQ_MSG_ERROR
        && msg->type != SEGQ_MSG_ABORT)
        segq__worker_log (self, 2, "%s before WELCOME", segq_msg_type_name (msg->type));
    switch (msg->type) {
    case SEGQ_MSG_WELCOME:
        segq__worker_on_welcome (self, &msg->u.welcome);
        break;
    case SEGQ_MSG_HEARTBEAT:
        break;
    case SEGQ_MSG_ASSIGN:
        segq__worker_on_assign (self, msg_p);
        break;
    case SEGQ_MSG_RESULT_ACK:
        segq__worker_on_result_ack (self, &msg->u.result_ack);
        break;
    case SEGQ_MSG_CHECKPOINT_ACK:
        segq__worker_on_checkpoint_ack (self, &msg->u.checkpoint_ack);
        break;
    case SEGQ_MSG_ABORT:
        segq__worker_on_abort (self, &msg->u.abort);
        break;
    case SEGQ_MSG_DRAIN_WORKER:
        segq__worker_start_drain (self, "asked by the broker", true);
        break;
    case SEGQ_MSG_ERROR:
        segq__worker_on_error (self, &msg->u.error);
        break;
    case SEGQ_MSG_PUT_READY:
        segq__worker_on_put_ready (self, &msg->u.put_ready);
        break;
    case SEGQ_MSG_PUT_DONE:
        segq__worker_on_put_done (self, &msg->u.put_done);
        break;
    case SEGQ_MSG_GET_READY:
        segq__worker_on_get_ready (self, &msg->u.get_ready);
        break;
    case SEGQ_MSG_CHUNK:
        segq__worker_on_chunk (self, &msg->u.chunk);
        break;
    case SEGQ_MSG_CREDIT:
        segq__worker_on_upload_credit (self, &msg->u.credit);
        break;
    default:
        segq__worker_log (self, 0, "unexpected %s from the broker: ignored",
                          segq_msg_type_name (msg->type));
    }
    return 0;
}

int
segq__worker_on_socket (zloop_t *loop, zsock_t *sock, void *arg)
{
    segq_worker_t *self = arg;
    int64_t until = segq__now_ms () + RECV_BATCH_MS;
    for (int i = 0; i < RECV_BATCH && !self->stop && self->sock == sock; i++) {
        if (i > 0 && !(zsock_events (sock) & ZMQ_POLLIN))
            break;
        if ((i & 63) == 63 && segq__now_ms () > until)
            break; /* the rest on the next turn: timers must run too */
        segq_msg_t *msg = NULL;
        uint8_t version = 0;
        char err [512];
        int rc = segq_msg_recv (sock, NULL, &msg, &version, err, sizeof err);
        self->last_heard_ms = segq__now_ms ();
        if (rc == SEGQ_EVERSION) {
            fprintf (stderr,
                     "segq-worker: the broker at %s speaks protocol version %u; this "
                     "segq-worker speaks %d..%d: install matching versions\n",
                     self->broker, version, SEGQ_PROTO_MIN_VERSION, SEGQ_PROTO_VERSION);
            segq__worker_stop_now (self, 2, "protocol version mismatch");
            break;
        }
        if (rc) {
            segq__worker_log (self, 0, "bad message from the broker dropped: %s", err);
            continue;
        }
        s_dispatch (self, &msg);
        segq_msg_destroy (&msg);
    }
    segq__worker_flush_batch (self);
    return self->stop ? -1 : 0;
}

/* ---- signals and time ---- */

static void
s_check_children (segq_worker_t *self)
{
    /* Copy first: on_exit edits the list. */
    size_t n = zlistx_size (self->children);
    if (n == 0)
        return;
    job_t **jobs = calloc (n, sizeof *jobs);
    if (!jobs)
        return;
    size_t i = 0;
    for (job_t *job = zlistx_first (self->children); job && i < n;
         job = zlistx_next (self->children))
        jobs [i++] = job;
    for (size_t j = 0; j < i; j++)
        segq__job_runner_check (jobs [j]->runner);
    free (jobs);
}

static void
s_check_children_cb (void *arg)
{
    s_check_children (arg);
}

static int
s_on_signal (zloop_t *loop, zmq_pollitem_t *item, void *arg)
{
    segq_worker_t *self = arg;
    struct signalfd_siginfo info;
    bool child = false;
    while (read (self->sigfd, &info, sizeof info) == (ssize_t) sizeof info) {
        if (info.ssi_signo == SIGCHLD)
            child = true;
        else if (info.ssi_signo == SIGINT && ++self->interrupts >= 2) {
            segq__worker_log (self, 0, "interrupted twice: stopping now, killing %zu child(ren)",
                              zlistx_size (self->children));
            segq__worker_stop_now (self, 130, "interrupted");
        } else {
            segq__worker_start_drain (self,
                                      info.ssi_signo == SIGINT ? "interrupted; interrupt again to "
                                                                 "stop at once"
                                                               : strsignal ((int) info.ssi_signo),
                                      false);
            segq__worker_stop_signalled (self);
        }
    }
    if (child)
        s_check_children (self);
    return self->stop ? -1 : 0;
}

static int
s_on_tick (zloop_t *loop, int timer_id, void *arg)
{
    segq_worker_t *self = arg;
    int64_t now = segq__now_ms ();
    /* SIGCHLD can go to a thread that does not block it (a library's):
       looking is cheap, so look every tick too. */
    s_check_children (self);
    segq__worker_say_unanswered (self, now);
    if (self->session == REGISTERING && now >= self->register_deadline_ms) {
        segq__worker_log (self, 1, "no WELCOME from %s in %d ms: trying again", self->broker,
                          self->backoff_ms);
        self->backoff_ms =
            self->backoff_ms * 2 > BACKOFF_MAX_MS ? BACKOFF_MAX_MS : self->backoff_ms * 2;
        segq__worker_connect (self);
    } else if (self->session == ONLINE && now - self->last_heard_ms > self->expiry_ms) {
        segq__worker_log (self, 0, "broker %s silent for %" PRId64 " ms: reconnecting",
                          self->broker, now - self->last_heard_ms);
        self->backoff_ms = BACKOFF_MIN_MS;
        segq__worker_connect (self);
    } else if (self->session == ONLINE && now - self->last_sent_ms >= self->heartbeat_ms) {
        segq_msg_t *beat = segq_msg_new (SEGQ_MSG_HEARTBEAT);
        segq__worker_send (self, &beat);
    }
    for (job_t *job = zlistx_first (self->children); job; job = zlistx_next (self->children)) {
        if (now - job->log_flushed_ms >= LOG_FLUSH_MS)
            segq__worker_log_flush (job, now);
        segq__worker_progress_send (job, now, false);
    }
    segq__worker_results_resend (self, now);
    segq__worker_transfers_resume (self);
    segq__worker_stop_tick (self, now);
    if (self->draining && zhashx_size (self->jobs) == 0 && !self->stop) {
        segq__worker_log (self, 0, "drained: leaving");
        segq__worker_stop_now (self, self->node_fault ? 1 : 0,
                               self->node_fault ? "segq-run cannot start" : "drained");
    }
    return self->stop ? -1 : 0;
}

/* ---- construction ---- */

static bool
s_executable (const char *path)
{
    return path && access (path, X_OK) == 0;
}

/* Each GPU's device for its jobs' CUDA_VISIBLE_DEVICES. Under a
   CUDA_VISIBLE_DEVICES list of the worker's own (Slurm's, a sysadmin's),
   CUDA numbers only the listed devices, from 0: the worker's GPU N is the
   list's entry N, passed on verbatim (a number, GPU-UUID or MIG id).
   Without the list, N is nvidia-smi's number (device stays NULL). */
static int
s_gpus_map (segq_worker_t *self, char *err, size_t errlen)
{
    const char *visible = getenv ("CUDA_VISIBLE_DEVICES");
    for (size_t i = 0; visible && i < self->n_gpus; i++) {
        const char *entry = visible;
        for (uint32_t k = 0; entry && k < self->gpus [i].index; k++)
            if ((entry = strchr (entry, ',')))
                entry++;
        entry += entry ? strspn (entry, " ") : 0;
        size_t len = entry ? strcspn (entry, ", ") : 0;
        if (!len) {
            snprintf (err, errlen,
                      "GPU %u is not in CUDA_VISIBLE_DEVICES=%.200s: under that "
                      "list the worker's GPU indices (--gpus) count its entries from 0",
                      self->gpus [i].index, visible);
            return SEGQ_EINVAL;
        }
        free (self->gpus [i].device);
        if (!(self->gpus [i].device = strndup (entry, len))) {
            snprintf (err, errlen, "out of memory");
            return SEGQ_ENOMEM;
        }
    }
    return 0;
}

/* Locks WORK_DIR/worker.id for the daemon's life (two daemons in one work
   directory would remove each other's job directories) and reads the
   daemon's id from it, made at the first start: a restart keeps it. */
static int
s_claim_work_dir (segq_worker_t *self, char *err, size_t errlen)
{
    char path [4096], id [33] = "", host [256] = "";
    snprintf (path, sizeof path, "%s/worker.id", self->work_dir);
    self->id_fd = open (path, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
    struct flock lock = { .l_type = F_WRLCK, .l_whence = SEEK_SET };
    if (self->id_fd < 0 || (fcntl (self->id_fd, F_SETLK, &lock) != 0 && errno != ENOLCK)) {
        int error = errno;
        if (self->id_fd >= 0 && fcntl (self->id_fd, F_GETLK, &lock) == 0
            && lock.l_type != F_UNLCK) {
            /* a default work directory is its node name's: taken, it most
               likely means that name is too */
            if (self->work_dir_default)
                snprintf (err, errlen,
                          "work directory %s (node name %s's default) is in use by another "
                          "segq-worker (pid %d): give each worker on one host its own name with "
                          "--node NAME (the default work directory follows it), or this one its "
                          "own --work-dir DIR",
                          self->work_dir, self->node, (int) lock.l_pid);
            else
                snprintf (err, errlen,
                          "work directory %s is in use by another segq-worker (pid %d), and two "
                          "workers cannot share one: give this one its own --work-dir DIR",
                          self->work_dir, (int) lock.l_pid);
            return SEGQ_EEXIST;
        }
        snprintf (err, errlen, "cannot lock %s: %s", path, strerror (error));
        return SEGQ_EIO;
    }
    ssize_t got = pread (self->id_fd, id, sizeof id - 1, 0);
    bool valid = got == (ssize_t) sizeof id - 1;
    for (size_t i = 0; valid && i < sizeof id - 1; i++)
        valid = strchr ("0123456789abcdef", id [i]) != NULL;
    if (!valid) {
        uint8_t random [16];
        if (getrandom (random, sizeof random, 0) != (ssize_t) sizeof random) {
            snprintf (err, errlen, "cannot make the worker's id: %s", strerror (errno));
            return SEGQ_EIO;
        }
        for (size_t i = 0; i < sizeof random; i++)
            snprintf (id + 2 * i, 3, "%02x", random [i]);
        if (pwrite (self->id_fd, id, sizeof id - 1, 0) != (ssize_t) sizeof id - 1) {
            snprintf (err, errlen, "cannot write %s: %s", path, strerror (errno));
            return SEGQ_EIO;
        }
    }
    if (gethostname (host, sizeof host - 1) != 0)
        snprintf (host, sizeof host, "?");
    if (asprintf (&self->instance, "%s@%s", id, host) < 0) {
        self->instance = NULL;
        snprintf (err, errlen, "out of memory");
        return SEGQ_ENOMEM;
    }
    return 0;
}

static int
s_check_options (const segq_worker_options_t *o, char *err, size_t errlen)
{
    if (!o->broker || !*o->broker || !o->node || !*o->node || !o->work_dir || !*o->work_dir) {
        snprintf (err, errlen, "a broker endpoint, a node name and a work directory are needed");
        return SEGQ_EINVAL;
    }
    if (!segq_user_valid (o->node)) {
        snprintf (err, errlen,
                  "node name '%.100s': a node name is " SEGQ_USER_RULE " (--node NAME)", o->node);
        return SEGQ_EINVAL;
    }
    return 0;
}

/* Keeps the CurveZMQ keys, once a socket has taken them: a missing or bad
   certificate is said now, not at every reconnect. */
static int
s_take_keys (segq_worker_t *self, const segq_worker_options_t *o, char *err, size_t errlen)
{
    zsock_t *probe = zsock_new (ZMQ_DEALER);
    int krc =
        probe ? segq_keys_apply_client (probe, o->cert ? o->cert : "", o->broker_key, err, errlen)
              : SEGQ_ENOMEM;
    zsock_destroy (&probe);
    if (krc || !(self->broker_key = strdup (o->broker_key)) || !(self->cert = strdup (o->cert))) {
        if (!krc)
            snprintf (err, errlen, "out of memory");
        return krc ? krc : SEGQ_ENOMEM;
    }
    return 0;
}

/* The options' paths and settings, each copied or defaulted. */
static void
s_copy_settings (segq_worker_t *self, const segq_worker_options_t *o)
{
    self->node = strdup (o->node);
    self->work_dir = strdup (o->work_dir);
    self->work_dir_default = o->work_dir_default;
    if (o->cache_dir)
        self->cache_dir = strdup (o->cache_dir);
    else if (asprintf (&self->cache_dir, "%s/cache", o->work_dir) < 0)
        self->cache_dir = NULL;
    if (asprintf (&self->jobs_dir, "%s/jobs", o->work_dir) < 0)
        self->jobs_dir = NULL;
    self->testkind = segq__worker_strdup_or_null (o->testkind);
    self->segq_run = segq__worker_strdup_or_null (o->segq_run);
    self->ready_file = segq__worker_strdup_or_null (o->ready_file);
    self->cpu_slots = o->cpu_slots;
    self->kill_grace_ms = o->kill_grace_ms ? o->kill_grace_ms : 10000;
    self->verbose = o->verbose;
    self->backoff_ms = BACKOFF_MIN_MS;
    self->heartbeat_ms = 1000;
    self->expiry_ms = 5000;
    self->max_msg = SEGQ_DEFAULT_MAX_MSG;
}

/* The tables of jobs, transfers and children, each empty. */
static void
s_make_tables (segq_worker_t *self)
{
    self->jobs = segq_hashx_new ();
    self->fetches = segq_hashx_new ();
    self->fetch_queue = zlistx_new ();
    if (self->fetch_queue)
        zlistx_set_comparator (self->fetch_queue, (czmq_comparator *) segq__worker_fetch_order);
    self->children = zlistx_new ();
    self->uploads = zlistx_new ();
    self->results_to_send = zlistx_new ();
    if (self->results_to_send) {
        zlistx_set_destructor (self->results_to_send, (czmq_destructor *) zstr_free);
        zlistx_set_duplicator (self->results_to_send, (czmq_duplicator *) strdup);
    }
}

/* Whether every GPU was copied. n_gpus counts a GPU copied in part too,
   so that destroying clears it. */
static bool
s_copy_gpus (segq_worker_t *self, const segq_worker_options_t *o)
{
    if (o->n_gpus)
        self->gpus = calloc (o->n_gpus, sizeof *self->gpus);
    bool gpus_ok = true;
    for (size_t i = 0; self->gpus && gpus_ok && i < o->n_gpus; i++, self->n_gpus++)
        gpus_ok = segq_gpu_copy (&self->gpus [i], &o->gpus [i]) == 0
                  && (self->gpus [i].name || (self->gpus [i].name = strdup ("")));
    return gpus_ok;
}

/* Everything the options give, and the empty tables: all or an error. */
static int
s_take_options (segq_worker_t *self, const segq_worker_options_t *o, char *err, size_t errlen)
{
    s_copy_settings (self, o);
    s_make_tables (self);
    bool gpus_ok = s_copy_gpus (self, o);
    size_t n_all;
    segq_kinds (&n_all); /* room for each kind s_choose_kinds may take */
    self->kinds = calloc (n_all + 1, sizeof *self->kinds);
    if (!self->broker || !self->node || !self->work_dir || !self->cache_dir || !self->jobs_dir
        || !self->jobs || !self->fetches || !self->fetch_queue || !self->children || !self->uploads
        || !self->results_to_send || !self->kinds || (o->n_gpus && !self->gpus) || !gpus_ok) {
        snprintf (err, errlen, "out of memory");
        return SEGQ_ENOMEM;
    }
    return 0;
}

/* The paths a job's child is given or run from, made absolute: the child
   runs in its job's directory, where a path relative to the daemon's
   names nothing (every job of a `--work-dir w1` failed with "cannot
   create w1/jobs/0005.1/out"). Prefixed, not resolved: the folders may
   not exist yet, and a symbolic link the admin gave stays one. */
static int
s_paths_absolute (segq_worker_t *self, char *err, size_t errlen)
{
    char **paths [] = { &self->work_dir, &self->cache_dir, &self->jobs_dir, &self->testkind,
                        &self->segq_run };
    char *cwd = NULL;
    int rc = 0;
    for (size_t i = 0; !rc && i < sizeof paths / sizeof paths [0]; i++) {
        char *path = *paths [i], *full = NULL;
        if (!path || path [0] == '/')
            continue;
        if (!cwd && !(cwd = getcwd (NULL, 0))) {
            snprintf (err, errlen,
                      "cannot make %.300s an absolute path: the current directory: %s (give "
                      "absolute paths)",
                      path, strerror (errno));
            rc = SEGQ_EIO;
        } else if (asprintf (&full, "%s/%s", cwd, path) < 0) {
            snprintf (err, errlen, "out of memory");
            rc = SEGQ_ENOMEM;
        } else {
            free (path);
            *paths [i] = full;
        }
    }
    free (cwd);
    return rc;
}

/* A program named but not executable is refused at start: offering
   fewer kinds without a word would leave their jobs waiting unexplained. */
static int
s_check_programs (segq_worker_t *self, char *err, size_t errlen)
{
    const char *flags [] = { "--segq-run", "--testkind" };
    const char *paths [] = { self->segq_run, self->testkind };
    for (size_t i = 0; i < 2; i++)
        if (paths [i] && !s_executable (paths [i])) {
            snprintf (err, errlen, "%s %.300s: %s (the path of a program the worker runs)",
                      flags [i], paths [i], strerror (errno));
            return SEGQ_EINVAL;
        }
    if (!self->segq_run)
        segq__worker_log (self, 0,
                          "no segq-run beside segq-worker: it runs no train, generate, stylize "
                          "or evaluate (give --segq-run PATH)");
    return 0;
}

/* The kinds this worker can run: asked for (all by default), and with
   the program that runs them present. */
static int
s_choose_kinds (segq_worker_t *self, const segq_worker_options_t *o, char *err, size_t errlen)
{
    for (size_t i = 0; i < o->n_kinds; i++)
        if (!segq_kind_find (o->kinds [i])) {
            snprintf (err, errlen, "--kinds: unknown job kind '%.100s'", o->kinds [i]);
            return SEGQ_EINVAL;
        }
    int rc = s_check_programs (self, err, errlen);
    if (rc)
        return rc;
    size_t n_all;
    const segq_kind_spec_t *all = segq_kinds (&n_all);
    for (size_t i = 0; i < n_all; i++) {
        const segq_kind_spec_t *k = &all [i];
        bool wanted = o->n_kinds == 0;
        for (size_t j = 0; j < o->n_kinds && !wanted; j++)
            wanted = strcmp (o->kinds [j], k->name) == 0;
        bool runnable =
            k->in_process
            || (k->test_kind ? s_executable (self->testkind) : s_executable (self->segq_run));
        if (wanted && !runnable && o->n_kinds) {
            snprintf (err, errlen, "--kinds: cannot run '%s': %s not found or not executable",
                      k->name,
                      k->test_kind ? "segq-testkind (--testkind)" : "segq-run (--segq-run)");
            return SEGQ_EINVAL;
        }
        if (wanted && runnable && !(self->kinds [self->n_kinds++] = strdup (k->name))) {
            snprintf (err, errlen, "out of memory");
            return SEGQ_ENOMEM;
        }
    }
    return 0;
}

/* The work directory, claimed, with an empty jobs directory in it. */
static int
s_prepare_work_dir (segq_worker_t *self, char *err, size_t errlen)
{
    int rc = segq_mkdirs (self->work_dir, err, errlen);
    if (!rc)
        rc = s_claim_work_dir (self, err, errlen);
    if (rc)
        return rc;
    /* Job directories of an earlier run are orphans: the broker requeued
       or will requeue their jobs. */
    segq__remove_tree (self->jobs_dir);
    return segq_mkdirs (self->jobs_dir, err, errlen);
}

/* The journal the tests read, if they ask for one. */
static int
s_open_test_journal (segq_worker_t *self, char *err, size_t errlen)
{
    const char *journal = getenv ("SEGQ_TEST_JOURNAL");
    if (journal && *journal) {
        self->journal_fd = open (journal, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0644);
        if (self->journal_fd < 0) {
            snprintf (err, errlen, "cannot open SEGQ_TEST_JOURNAL %s: %s", journal,
                      strerror (errno));
            return SEGQ_EIO;
        }
    }
    return 0;
}

/* The signal descriptor, the loop, and the model servers on it. */
static int
s_make_loop (segq_worker_t *self, const segq_worker_options_t *o, char *err, size_t errlen)
{
    self->sigfd = segq__signals_open ();
    if (self->sigfd < 0) {
        snprintf (err, errlen, "cannot set up signal handling: %s", strerror (errno));
        return SEGQ_EIO;
    }
    /* Our signals, our way: CZMQ must not install its SIGINT handler. */
    zsys_handler_set (NULL);
    self->loop = zloop_new ();
    if (!self->loop) {
        snprintf (err, errlen, "out of memory");
        return SEGQ_ENOMEM;
    }
    zloop_set_nonstop (self->loop, true);
    /* a server answering is a job ending, as a child exiting is */
    if (o->model_cache && s_executable (self->segq_run)
        && !(self->gen_servers = segq__gen_servers_new (self->loop, self->segq_run, o->model_cache,
                                                        o->model_idle_s ? o->model_idle_s : 600,
                                                        s_check_children_cb, self))) {
        snprintf (err, errlen, "out of memory");
        return SEGQ_ENOMEM;
    }
    return 0;
}

segq_worker_t *
segq_worker_new (const segq_worker_options_t *o, char *err, size_t errlen)
{
    if (s_check_options (o, err, errlen))
        return NULL;
    segq_worker_t *self = calloc (1, sizeof *self);
    if (!self) {
        snprintf (err, errlen, "out of memory");
        return NULL;
    }
    self->sigfd = self->journal_fd = self->id_fd = -1;
    self->broker = strdup (o->broker);
    if (o->broker_key && s_take_keys (self, o, err, errlen))
        goto fail;
    if (s_take_options (self, o, err, errlen) || s_paths_absolute (self, err, errlen)
        || s_gpus_map (self, err, errlen) || s_choose_kinds (self, o, err, errlen)
        || s_prepare_work_dir (self, err, errlen))
        goto fail;
    if (!(self->cache = segq__cache_new (self->cache_dir, o->cache_max, err, errlen)))
        goto fail;
    if (s_open_test_journal (self, err, errlen) || s_make_loop (self, o, err, errlen))
        goto fail;
    return self;
fail:
    segq_worker_destroy (&self);
    return NULL;
}

int
segq_worker_run (segq_worker_t *self)
{
    self->sig_item.fd = self->sigfd;
    self->sig_item.events = ZMQ_POLLIN;
    zloop_poller (self->loop, &self->sig_item, s_on_signal, self);
    zloop_timer (self->loop, TICK_MS, 0, s_on_tick, self);
    segq__worker_log (self, 0,
                      "starting: broker %s, %" PRIu32 " CPU slot(s), %zu GPU(s), work dir %s",
                      self->broker, self->cpu_slots, self->n_gpus, self->work_dir);
    segq__worker_connect (self);
    zloop_start (self->loop);
    if (self->sock) {
        /* Give BYE and the last messages a moment to leave. */
        zsock_set_linger (self->sock, 1000);
        zloop_reader_end (self->loop, self->sock);
        zsock_destroy (&self->sock);
    }
    return self->exit_code;
}

void
segq_worker_destroy (segq_worker_t **self_p)
{
    segq_worker_t *self = *self_p;
    if (!self)
        return;
    if (self->jobs) {
        for (job_t *job = zhashx_first (self->jobs); job; job = zhashx_next (self->jobs))
            segq__worker_job_free (job);
        zhashx_destroy (&self->jobs);
    }
    zlistx_destroy (&self->fetch_queue); /* holds fetches, owns none */
    if (self->fetches) {
        for (fetch_t *f = zhashx_first (self->fetches); f; f = zhashx_next (self->fetches))
            segq__worker_fetch_destroy (&f);
        zhashx_destroy (&self->fetches);
    }
    zlistx_destroy (&self->children);
    segq__gen_servers_destroy (&self->gen_servers);
    zlistx_destroy (&self->uploads);
    zlistx_destroy (&self->results_to_send);
    zsock_destroy (&self->sock);
    zloop_destroy (&self->loop);
    segq__cache_destroy (&self->cache);
    if (self->sigfd >= 0)
        close (self->sigfd);
    if (self->journal_fd >= 0)
        close (self->journal_fd);
    if (self->id_fd >= 0)
        close (self->id_fd);
    for (size_t i = 0; i < self->n_gpus; i++)
        segq_gpu_clear (&self->gpus [i]);
    free (self->gpus);
    for (size_t i = 0; self->kinds && i < self->n_kinds; i++)
        free (self->kinds [i]);
    free (self->kinds);
    free (self->journal_buf);
    free (self->broker);
    free (self->broker_key);
    free (self->cert);
    free (self->instance);
    free (self->node);
    free (self->work_dir);
    free (self->cache_dir);
    free (self->jobs_dir);
    free (self->testkind);
    free (self->segq_run);
    free (self->ready_file);
    free (self);
    *self_p = NULL;
}
