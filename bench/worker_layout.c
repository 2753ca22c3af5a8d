/*  bench_worker_layout: how long segq-worker takes from an ASSIGN of N
    inputs to the job's start when every input's content is in its cache
    already, against a scripted broker (a ROUTER in this process).

        bench_worker_layout [N ...]      (default 1000 10000 40000)

    The worker lays a job's inputs out (hard links from the cache) in its
    one loop, where heartbeats and every other job wait meanwhile. Each N
    runs twice: N distinct contents, and one content under N names. The
    job is `sleep --seconds=0`; the time to its RESULT less that of the
    same job with no inputs is the layout's. The worker heartbeats every
    50 ms: the longest silence from ASSIGN to RESULT, less up to that, is
    the longest it held the loop. After its RESULT_ACK the worker removes
    the job's directory, in the loop too: the time from the ACK to a noop
    job's RESULT is that cleanup's. The names are a generate job's as an
    input: in/images/NNNNNN.png and in/masks/NNNNNN.png.
*/
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include "segq_fs.h"
#include "segq_sha256.h"
#include "worker_internal.h"

#define BASELINE_RUNS 3
#define HEARTBEAT_MS  50

typedef struct {
    char work [64];
    zsock_t *router;
    zframe_t *peer;
    pid_t pid;
    segq__cache_t *cache;                   /* the worker's, filled before it starts */
    char (*hashes) [SEGQ_HASH_HEX_LEN + 1]; /* content i's */
    size_t n_contents;
    unsigned jobs;
    double heard_ms, longest_silence_ms; /* since the last ASSIGN */
} bench_t;

static double
s_now_ms (void)
{
    struct timespec ts;
    clock_gettime (CLOCK_MONOTONIC, &ts);
    return (double) ts.tv_sec * 1e3 + (double) ts.tv_nsec / 1e6;
}

/* "input I\n" written straight at its place in the cache, as a finished
   download leaves it. */
static int
s_cache_fill (bench_t *b, size_t n)
{
    char err [256], dir [128], path [4096];
    snprintf (dir, sizeof dir, "%s/cache", b->work);
    b->cache = segq__cache_new (dir, 0, err, sizeof err);
    b->hashes = calloc (n, sizeof *b->hashes);
    if (!b->cache || !b->hashes) {
        fprintf (stderr, "bench_worker_layout: %s\n", b->cache ? "out of memory" : err);
        return -1;
    }
    for (size_t i = 0; i < n; i++) {
        char text [64];
        int len = snprintf (text, sizeof text, "input %zu\n", i);
        segq_sha256_t sha;
        segq_sha256_init (&sha);
        segq_sha256_update (&sha, text, (size_t) len);
        segq_sha256_final (&sha, b->hashes [i]);
        segq__cache_path (b->cache, b->hashes [i], path, sizeof path);
        *strrchr (path, '/') = 0;
        if (segq_mkdirs (path, err, sizeof err)) {
            fprintf (stderr, "bench_worker_layout: %s\n", err);
            return -1;
        }
        segq__cache_path (b->cache, b->hashes [i], path, sizeof path);
        FILE *f = fopen (path, "w");
        if (!f || fputs (text, f) < 0 || fclose (f) != 0) {
            fprintf (stderr, "bench_worker_layout: cannot write %s\n", path);
            return -1;
        }
    }
    b->n_contents = n;
    return 0;
}

static int
s_worker_start (bench_t *b, const char *bin_dir)
{
    char worker [1024], testkind [1024], endpoint [64];
    snprintf (worker, sizeof worker, "%s/worker/segq-worker", bin_dir);
    snprintf (testkind, sizeof testkind, "%s/worker/segq-testkind", bin_dir);
    if (access (worker, X_OK) != 0 || access (testkind, X_OK) != 0) {
        fprintf (stderr, "bench_worker_layout: need %s and %s (build them)\n", worker, testkind);
        return -1;
    }
    b->router = zsock_new (ZMQ_ROUTER);
    int port = b->router ? zsock_bind (b->router, "tcp://127.0.0.1:*") : -1;
    if (port < 0)
        return -1;
    snprintf (endpoint, sizeof endpoint, "tcp://127.0.0.1:%d", port);
    b->pid = fork ();
    if (b->pid == 0) {
        prctl (PR_SET_PDEATHSIG, SIGKILL);
        int null = open ("/dev/null", O_WRONLY);
        dup2 (null, 1);
        dup2 (null, 2);
        execl (worker, worker, "--broker", endpoint, "--node", "bench", "--work-dir", b->work,
               "--testkind", testkind, "--kinds", "sleep,noop", "--cpu-slots", "1", (char *) NULL);
        _exit (127);
    }
    return b->pid > 0 ? 0 : -1;
}

/* The next message from the worker; heartbeats answered. NULL: broken. */
static segq_msg_t *
s_recv (bench_t *b)
{
    char err [256];
    segq_msg_t *msg = NULL;
    zframe_t *from = NULL;
    if (segq_msg_recv (b->router, &from, &msg, NULL, err, sizeof err) != 0) {
        fprintf (stderr, "bench_worker_layout: %s\n", err);
        return NULL;
    }
    zframe_destroy (&b->peer);
    b->peer = from;
    double now = s_now_ms ();
    if (now - b->heard_ms > b->longest_silence_ms)
        b->longest_silence_ms = now - b->heard_ms;
    b->heard_ms = now;
    if (msg->type == SEGQ_MSG_HEARTBEAT) {
        segq_msg_t *beat = segq_msg_new (SEGQ_MSG_HEARTBEAT);
        segq_msg_send (&beat, b->router, b->peer);
    }
    return msg;
}

/* REGISTER, answered with a WELCOME whose max message takes 40,000
   inputs' ASSIGN, and an expiry no layout outlasts. */
static int
s_welcome (bench_t *b)
{
    segq_msg_t *msg = NULL;
    while (!msg || msg->type != SEGQ_MSG_REGISTER) {
        segq_msg_destroy (&msg);
        if (!(msg = s_recv (b)))
            return -1;
    }
    segq_msg_destroy (&msg);
    segq_msg_t *welcome = segq_msg_new (SEGQ_MSG_WELCOME);
    welcome->u.welcome.heartbeat_ms = HEARTBEAT_MS;
    welcome->u.welcome.expiry_ms = 600000;
    welcome->u.welcome.max_msg = 64u << 20;
    welcome->u.welcome.chunk_size = SEGQ_DEFAULT_CHUNK;
    return segq_msg_send (&welcome, b->router, b->peer);
}

/* Input i: a generate job's image or mask, of content i (distinct) or 0. */
static void
s_input_set (bench_t *b, segq_artifact_t *in, size_t i, bool distinct)
{
    char name [64];
    snprintf (name, sizeof name, "in/%s/%06zu.png", i % 2 ? "masks" : "images", i / 2);
    in->name = strdup (name);
    memcpy (in->hash, b->hashes [distinct ? i : 0], sizeof in->hash);
    in->size = strlen ("input \n") + (size_t) snprintf (NULL, 0, "%zu", distinct ? i : 0);
}

/* ASSIGN of a new job of the kind; its id into id. */
static int
s_assign (bench_t *b, const char *kind, size_t n, bool distinct, char *id, size_t idlen)
{
    snprintf (id, idlen, "J%u", ++b->jobs);
    segq_msg_t *msg = segq_msg_new (SEGQ_MSG_ASSIGN);
    segq_assign_t *a = &msg->u.assign;
    a->job = strdup (id);
    a->attempt = 1;
    a->kind = strdup (kind);
    a->gpu = -1;
    a->cpu_slots = 1;
    segq_value_t zero = { .type = SEGQ_PARAM_FLOAT, .f = 0 };
    if (strcmp (kind, "sleep") == 0 && segq_params_set (&a->params, "seconds", &zero))
        return -1;
    a->inputs = calloc (n ? n : 1, sizeof *a->inputs);
    a->n_inputs = n;
    for (size_t i = 0; i < n; i++)
        s_input_set (b, &a->inputs [i], i, distinct);
    b->heard_ms = s_now_ms ();
    b->longest_silence_ms = 0;
    return segq_msg_send (&msg, b->router, b->peer);
}

/* Waits for the job's RESULT; -1 broken or the job failed. */
static int
s_result (bench_t *b, const char *id)
{
    for (;;) {
        segq_msg_t *msg = s_recv (b);
        if (!msg)
            return -1;
        bool mine = msg->type == SEGQ_MSG_RESULT && strcmp (msg->u.result.job, id) == 0;
        bool ok = mine && msg->u.result.success;
        if (mine && !ok)
            fprintf (stderr, "bench_worker_layout: %s failed: %s\n", id,
                     msg->u.result.reason ? msg->u.result.reason : "?");
        segq_msg_destroy (&msg);
        if (mine)
            return ok ? 0 : -1;
    }
}

static int
s_ack (bench_t *b, const char *id)
{
    segq_msg_t *ack = segq_msg_new (SEGQ_MSG_RESULT_ACK);
    ack->u.result_ack.job = strdup (id);
    ack->u.result_ack.attempt = 1;
    return segq_msg_send (&ack, b->router, b->peer);
}

/* Milliseconds from a sleep job's ASSIGN to its RESULT, the longest
   silence meanwhile (*silence_ms), and from its ACK to the RESULT of a
   noop assigned with it (*cleanup_ms); -1 on failure. */
static double
s_job_time (bench_t *b, size_t n, bool distinct, double *silence_ms, double *cleanup_ms)
{
    char id [32], noop [32];
    double t0 = s_now_ms ();
    if (s_assign (b, "sleep", n, distinct, id, sizeof id) || s_result (b, id))
        return -1;
    double t1 = s_now_ms ();
    *silence_ms = b->longest_silence_ms;
    if (s_ack (b, id) || s_assign (b, "noop", 0, false, noop, sizeof noop) || s_result (b, noop)
        || s_ack (b, noop))
        return -1;
    *cleanup_ms = s_now_ms () - t1;
    return t1 - t0;
}

static int
s_report (bench_t *b, size_t n, double baseline_ms)
{
    for (int distinct = 1; distinct >= 0; distinct--) {
        double silence_ms, cleanup_ms;
        double ms = s_job_time (b, n, distinct, &silence_ms, &cleanup_ms);
        if (ms < 0)
            return -1;
        printf ("%6zu inputs, %-22s layout %8.1f ms (%5.2f us/input), longest silence "
                "%7.1f ms; cleanup %6.1f ms\n",
                n, distinct ? "distinct contents:" : "one content, N names:", ms - baseline_ms,
                (ms - baseline_ms) * 1e3 / (double) n, silence_ms, cleanup_ms);
        fflush (stdout);
    }
    return 0;
}

static int
s_run (bench_t *b, int argc, char **argv)
{
    double baseline_ms = 1e9, silence_ms, cleanup_ms;
    for (int r = 0; r < BASELINE_RUNS; r++) {
        double ms = s_job_time (b, 0, true, &silence_ms, &cleanup_ms);
        if (ms < 0)
            return -1;
        baseline_ms = ms < baseline_ms ? ms : baseline_ms;
    }
    printf ("a job with no inputs: assign->result %.1f ms (the baseline); heartbeat %d ms\n",
            baseline_ms, HEARTBEAT_MS);
    static char *defaults [] = { "1000", "10000", "40000" };
    char **sizes = argc > 1 ? argv + 1 : defaults;
    int n_sizes = argc > 1 ? argc - 1 : 3;
    for (int i = 0; i < n_sizes; i++) {
        size_t n = strtoul (sizes [i], NULL, 10);
        if (n > b->n_contents) {
            fprintf (stderr, "bench_worker_layout: at most %zu inputs\n", b->n_contents);
            return -1;
        }
        if (s_report (b, n, baseline_ms))
            return -1;
    }
    return 0;
}

static size_t
s_most (int argc, char **argv)
{
    size_t most = 40000;
    for (int i = 1; i < argc; i++)
        if (strtoul (argv [i], NULL, 10) > most)
            most = strtoul (argv [i], NULL, 10);
    return most;
}

int
main (int argc, char **argv)
{
    const char *bin_dir = getenv ("SEGQ_BINARY_DIR") ? getenv ("SEGQ_BINARY_DIR") : SEGQ_BINARY_DIR;
    bench_t b = { .work = "/tmp/segq-bench-layout-XXXXXX" };
    zsys_handler_set (NULL);
    if (!mkdtemp (b.work))
        return 1;
    int rc = s_cache_fill (&b, s_most (argc, argv)) || s_worker_start (&b, bin_dir)
             || s_welcome (&b) || s_run (&b, argc, argv);
    if (b.pid > 0) {
        kill (b.pid, SIGKILL);
        waitpid (b.pid, NULL, 0);
    }
    zframe_destroy (&b.peer);
    zsock_destroy (&b.router);
    segq__cache_destroy (&b.cache);
    free (b.hashes);
    segq__remove_tree (b.work);
    return rc ? 1 : 0;
}
