/*
 * serve.c: `segq-run serve`, a worker's generation server.
 *
 * worker/gen_server.h says why it exists and speaks the other end: on fd 3
 * (a SEQPACKET socket) come generate jobs, each one message of
 * "cwd=", "env=" and "arg=" items with the job's log and progress pipes;
 * each runs as `segq-run generate` would, with its models kept loaded
 * between jobs (segq_model_cache_t), and is answered "done=EXIT_CODE" with
 * what it cost ("cpu=SECONDS", "rss=PEAK_BYTES") and the models now held
 * ("hot=SHA256"). It exits when the worker closes the
 * socket or after --idle-s seconds without a job.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "segq_error.h"
#include "segq_progress.h"
#include "segq_schema.h"
#include "segq_torch.h"
#include "segq_run_flags.h"
#include "segq_singan.h"
#include "serve.h"
#include "stylize.h" /* segq__cpu_seconds */

#define CONTROL_FD 3
#define MESSAGE_MAX 65536
#define MAX_ARGS 256
#define MAX_ENV 32

typedef struct {
    char *cwd;
    char *args[MAX_ARGS]; /* the job's, after `generate` */
    int n_args;
    char *env[MAX_ENV];
    int n_env;
    int log_fd, progress_fd;
} request_t;

/* One message from the worker into req (pointing into buf); -1 at the end
 * of the socket, 0, or 1 for a malformed message (answered as a failure). */
static int receive(char *buf, request_t *req)
{
    int fds[2] = {-1, -1};
    char control[CMSG_SPACE(sizeof fds)];
    struct iovec iov = {.iov_base = buf, .iov_len = MESSAGE_MAX - 1};
    struct msghdr msg = {
        .msg_iov = &iov, .msg_iovlen = 1, .msg_control = control, .msg_controllen = sizeof control};
    ssize_t n;
    while ((n = recvmsg(CONTROL_FD, &msg, MSG_CMSG_CLOEXEC)) < 0 && errno == EINTR)
        ;
    if (n <= 0)
        return -1;
    struct cmsghdr *cmsg = CMSG_FIRSTHDR(&msg);
    if (cmsg && cmsg->cmsg_level == SOL_SOCKET && cmsg->cmsg_type == SCM_RIGHTS
        && cmsg->cmsg_len == CMSG_LEN(sizeof fds))
        memcpy(fds, CMSG_DATA(cmsg), sizeof fds);
    buf[n] = 0;
    *req = (request_t){.log_fd = fds[0], .progress_fd = fds[1]};
    for (size_t at = 0; at < (size_t)n; at += strlen(buf + at) + 1) {
        char *item = buf + at;
        if (strncmp(item, "cwd=", 4) == 0)
            req->cwd = item + 4;
        else if (strncmp(item, "env=", 4) == 0 && req->n_env < MAX_ENV)
            req->env[req->n_env++] = item + 4;
        else if (strncmp(item, "arg=", 4) == 0 && req->n_args < MAX_ARGS)
            req->args[req->n_args++] = item + 4;
    }
    return req->cwd && fds[0] >= 0 && fds[1] >= 0 ? 0 : 1;
}

/* The job's environment, less what belongs to the process: its GPU was
 * chosen when it started (CUDA reads it once). */
static void set_env(const request_t *req, int set)
{
    char name[256];
    for (int i = 0; i < req->n_env; i++) {
        const char *eq = strchr(req->env[i], '=');
        if (!eq || (size_t)(eq - req->env[i]) >= sizeof name)
            continue;
        snprintf(name, sizeof name, "%.*s", (int)(eq - req->env[i]), req->env[i]);
        if (strncmp(name, "CUDA_", 5) == 0)
            continue;
        if (set)
            setenv(name, eq + 1, 1);
        else
            unsetenv(name);
    }
    char fd[16];
    snprintf(fd, sizeof fd, "%d", req->progress_fd);
    if (set)
        setenv("SEGQ_PROGRESS_FD", fd, 1);
    else
        unsetenv("SEGQ_PROGRESS_FD");
}

/* Runs one job as `segq-run generate ARGS` would, its output on its log;
 * returns its exit status. */
static int run_job(request_t *req, segq_model_cache_t *cache)
{
    const segq_command_t *cmd = segq_run_command_find("generate");
    segq_generate_opts_t gen = {0};
    char err[2048] = "";
    int rc = chdir(req->cwd) == 0 ? 0 : SEGQ_EIO;
    if (rc)
        snprintf(err, sizeof err, "cannot enter %s: %s", req->cwd, strerror(errno));
    else {
        rc = segq_flags_parse(cmd, req->n_args, req->args, &gen, err, sizeof err);
        if (rc == 1)
            rc = SEGQ_EINVAL; /* --help: not what a worker sends */
        if (rc == 0)
            rc = segq_flags_check(cmd, &gen, err, sizeof err);
    }
    if (rc) {
        fprintf(stderr, "segq-run generate %s\n", err);
        segq_flags_free(cmd, &gen);
        return 2;
    }
    segq_progress_t *progress = segq_progress_new();
    segq_run_reset_gpu_peak();
    rc = segq_singan_generate_cached(&gen, cache, progress, err, sizeof err);
    segq_run_report_gpu_peak(progress);
    if (rc)
        segq_progress_report(progress, "failed", -1, NULL, 0, err, 1);
    segq_progress_destroy(&progress);
    if (rc)
        fprintf(stderr, "segq-run generate: %s\n", err);
    segq_flags_free(cmd, &gen);
    return segq_run_exit_status(rc);
}

/* The job with its log on stdout and stderr; both back after it. */
static int serve_one(request_t *req, segq_model_cache_t *cache, int saved_out, int saved_err)
{
    fflush(stdout);
    fflush(stderr);
    dup2(req->log_fd, STDOUT_FILENO);
    dup2(req->log_fd, STDERR_FILENO);
    set_env(req, 1);
    int status = run_job(req, cache);
    set_env(req, 0);
    fflush(stdout);
    fflush(stderr);
    dup2(saved_out, STDOUT_FILENO);
    dup2(saved_err, STDERR_FILENO);
    return status;
}

/* What one job cost the server, for the broker's accounting. */
typedef struct {
    double cpu_seconds;
    uint64_t max_rss; /* bytes; 0 unknown */
} job_usage_t;

/* Linux keeps the process's peak resident memory (VmHWM); writing 5 to
 * clear_refs starts it again from the present, so after a job it is that
 * job's peak, the models it used from the cache included. */
static void reset_peak_rss(void)
{
    int fd = open("/proc/self/clear_refs", O_WRONLY | O_CLOEXEC);
    ssize_t written = fd >= 0 ? write(fd, "5", 1) : -1;
    (void)written; /* refused (an old kernel): the peak is the server's, an upper bound */
    if (fd >= 0)
        close(fd);
}

static uint64_t peak_rss(void)
{
    FILE *f = fopen("/proc/self/status", "re");
    char line[256];
    unsigned long long kib = 0;
    while (f && fgets(line, sizeof line, f) && sscanf(line, "VmHWM: %llu kB", &kib) != 1)
        ;
    if (f)
        fclose(f);
    return (uint64_t)kib * 1024;
}

/* "done=STATUS", the job's usage and the models held. */
static int answer(int status, const job_usage_t *usage, segq_model_cache_t *cache)
{
    static char buf[MESSAGE_MAX];
    int n = snprintf(buf, sizeof buf, "done=%d", status) + 1;
    n += snprintf(buf + n, sizeof buf - (size_t)n, "cpu=%.3f", usage->cpu_seconds) + 1;
    n += snprintf(buf + n, sizeof buf - (size_t)n, "rss=%" PRIu64, usage->max_rss) + 1;
    const char *hot[64];
    size_t n_hot = segq_model_cache_hot(cache, hot, 64);
    for (size_t i = 0; i < n_hot && n + 70 < (int)sizeof buf; i++)
        n += snprintf(buf + n, sizeof buf - (size_t)n, "hot=%s", hot[i]) + 1;
    ssize_t sent;
    while ((sent = send(CONTROL_FD, buf, (size_t)n, MSG_NOSIGNAL)) < 0 && errno == EINTR)
        ;
    return sent == n ? 0 : -1;
}

void segq_run_reset_gpu_peak(void)
{
    int n = segqt_cuda_device_count();
    for (int d = 0; d < n; d++)
        segqt_cuda_reset_peak(d);
}

void segq_run_report_gpu_peak(segq_progress_t *progress)
{
    uint64_t peak = 0, one;
    int n = segqt_cuda_device_count();
    for (int d = 0; d < n; d++)
        if (segqt_cuda_peak_reserved(d, &one) == 0 && one > peak)
            peak = one;
    if (peak) {
        segq_metric_t metric = {"gpu_peak_bytes", (double)peak};
        segq_progress_report(progress, NULL, -1, &metric, 1, NULL, 1);
    }
}

/* Running out of GPU memory has its own status (segq-worker turns it into
 * "resubmit with a larger --gpu-mem"), every other failure is 1. The error
 * code may have been replaced on the way up; the shim's last recorded one
 * still says what happened first. */
int segq_run_exit_status(int rc)
{
    if (rc == 0)
        return 0;
    return rc == SEGQ_EGPUMEM || segqt_last_code() == SEGQ_EGPUMEM ? SEGQ_RUN_EXIT_GPU_OOM : 1;
}

int segq_run_serve(uint64_t cache_bytes, uint32_t idle_s)
{
    static char buf[MESSAGE_MAX];
    segq_model_cache_t *cache = segq_model_cache_new(cache_bytes);
    int saved_out = dup(STDOUT_FILENO), saved_err = dup(STDERR_FILENO);
    if (!cache || saved_out < 0 || saved_err < 0) {
        fprintf(stderr, "segq-run serve: cannot start: out of memory or descriptors\n");
        return 1;
    }
    for (;;) {
        struct pollfd pfd = {.fd = CONTROL_FD, .events = POLLIN};
        int ready = poll(&pfd, 1, idle_s ? (int)(idle_s * 1000) : -1);
        if (ready < 0 && errno == EINTR)
            continue;
        if (ready <= 0)
            break; /* idle long enough: give the memory back */
        request_t req;
        int got = receive(buf, &req);
        if (got < 0)
            break; /* the worker is gone */
        reset_peak_rss();
        double cpu0 = segq__cpu_seconds();
        int status = got ? 2 : serve_one(&req, cache, saved_out, saved_err);
        job_usage_t usage = {segq__cpu_seconds() - cpu0, peak_rss()};
        if (got)
            dprintf(req.log_fd >= 0 ? req.log_fd : STDERR_FILENO,
                    "segq-run serve: a malformed job from the worker\n");
        if (req.log_fd >= 0)
            close(req.log_fd);
        if (req.progress_fd >= 0)
            close(req.progress_fd);
        if (answer(status, &usage, cache))
            break;
    }
    segq_model_cache_destroy(&cache);
    close(saved_out);
    close(saved_err);
    return 0;
}
