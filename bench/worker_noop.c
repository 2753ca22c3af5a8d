/*  bench_worker_noop: how many noop jobs one segq-worker completes per
    second on its own, against a scripted broker (a ROUTER in this process
    that only assigns and acknowledges), and the worker's CPU time per job.
    The end-to-end figure (segqd + workers + client) is bench_queue_throughput.

        bench_worker_noop [JOBS] [WINDOW]      (default 200000, 10000 in flight)
*/
#include <fcntl.h>
#include <inttypes.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include "segq_proto.h"

static double
s_now (void)
{
    struct timespec ts;
    clock_gettime (CLOCK_MONOTONIC, &ts);
    return (double) ts.tv_sec + (double) ts.tv_nsec / 1e9;
}

/* user+system CPU seconds of pid */
static double
s_cpu (pid_t pid)
{
    char path [64], line [1024];
    snprintf (path, sizeof path, "/proc/%d/stat", (int) pid);
    FILE *f = fopen (path, "r");
    if (!f || !fgets (line, sizeof line, f)) {
        if (f)
            fclose (f);
        return -1;
    }
    fclose (f);
    char *p = strrchr (line, ')');
    unsigned long utime = 0, stime = 0;
    if (!p
        || sscanf (p + 2, "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %lu %lu", &utime, &stime)
               != 2)
        return -1;
    return (double) (utime + stime) / (double) sysconf (_SC_CLK_TCK);
}

int
main (int argc, char **argv)
{
    long jobs = argc > 1 ? atol (argv [1]) : 200000;
    long window = argc > 2 ? atol (argv [2]) : 10000;
    const char *bin_dir = getenv ("SEGQ_BINARY_DIR") ? getenv ("SEGQ_BINARY_DIR") : SEGQ_BINARY_DIR;
    char worker_bin [1024], work [] = "/tmp/segq-bench-worker-XXXXXX";
    snprintf (worker_bin, sizeof worker_bin, "%s/worker/segq-worker", bin_dir);
    if (access (worker_bin, X_OK) != 0 || !mkdtemp (work)) {
        fprintf (stderr, "bench_worker_noop: need %s (build it) and a temp dir\n", worker_bin);
        return 1;
    }
    zsys_handler_set (NULL);
    zsock_t *router = zsock_new (ZMQ_ROUTER);
    zsock_set_sndhwm (router, 0);
    zsock_set_rcvhwm (router, 0);
    int port = zsock_bind (router, "tcp://127.0.0.1:*");
    char endpoint [64];
    snprintf (endpoint, sizeof endpoint, "tcp://127.0.0.1:%d", port);
    pid_t pid = fork ();
    if (pid == 0) {
        prctl (PR_SET_PDEATHSIG, SIGKILL);
        int null = open ("/dev/null", O_WRONLY);
        dup2 (null, 1);
        execl (worker_bin, worker_bin, "--broker", endpoint, "--node", "bench", "--work-dir", work,
               "--kinds", "noop", (char *) NULL);
        _exit (127);
    }
    zframe_t *peer = NULL;
    segq_msg_t *msg = NULL;
    char err [256];
    while (!msg || msg->type != SEGQ_MSG_REGISTER) {
        segq_msg_destroy (&msg);
        zframe_destroy (&peer);
        if (segq_msg_recv (router, &peer, &msg, NULL, err, sizeof err) != 0) {
            fprintf (stderr, "bench_worker_noop: %s\n", err);
            return 1;
        }
    }
    segq_msg_destroy (&msg);
    segq_msg_t *welcome = segq_msg_new (SEGQ_MSG_WELCOME);
    welcome->u.welcome.heartbeat_ms = 1000;
    welcome->u.welcome.expiry_ms = 60000;
    welcome->u.welcome.max_msg = SEGQ_DEFAULT_MAX_MSG;
    welcome->u.welcome.chunk_size = SEGQ_DEFAULT_CHUNK;
    segq_msg_send (&welcome, router, peer);

    double cpu0 = s_cpu (pid), t0 = s_now ();
    long sent = 0, done = 0;
    while (done < jobs) {
        while (sent < jobs && sent - done < window) {
            segq_msg_t *assign = segq_msg_new (SEGQ_MSG_ASSIGN);
            char id [32];
            snprintf (id, sizeof id, "J%ld", sent);
            assign->u.assign.job = strdup (id);
            assign->u.assign.attempt = 1;
            assign->u.assign.kind = strdup ("noop");
            assign->u.assign.gpu = -1;
            assign->u.assign.cpu_slots = 1;
            segq_msg_send (&assign, router, peer);
            sent++;
        }
        zframe_t *from = NULL;
        if (segq_msg_recv (router, &from, &msg, NULL, err, sizeof err) != 0) {
            fprintf (stderr, "bench_worker_noop: %s\n", err);
            return 1;
        }
        zframe_destroy (&from);
        if (msg->type == SEGQ_MSG_RESULT) {
            segq_msg_t *ack = segq_msg_new (SEGQ_MSG_RESULT_ACK);
            ack->u.result_ack.job = msg->u.result.job;
            msg->u.result.job = NULL;
            ack->u.result_ack.attempt = msg->u.result.attempt;
            segq_msg_send (&ack, router, peer);
            done++;
        }
        segq_msg_destroy (&msg);
    }
    double seconds = s_now () - t0, cpu = s_cpu (pid) - cpu0;
    printf ("segq-worker alone: %ld noop jobs in %.3f s: %.0f jobs/s; worker CPU %.2f s "
            "(%.1f us per job)\n",
            jobs, seconds, (double) jobs / seconds, cpu, cpu * 1e6 / (double) jobs);
    kill (pid, SIGKILL);
    waitpid (pid, NULL, 0);
    zframe_destroy (&peer);
    zsock_destroy (&router);
    char rm [128];
    snprintf (rm, sizeof rm, "rm -rf %s", work);
    if (system (rm) != 0)
        fprintf (stderr, "bench_worker_noop: could not remove %s\n", work);
    return 0;
}
