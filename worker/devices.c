/*  devices.c: the worker's capacity from `segq-run devices`.

    The worker links nothing of the pipeline (it must start on a machine
    whose libtorch is broken), so it asks segq-run, which prints JSON:
    {"cpu": {"cores": N}, "cuda": [{"device": "cuda:I", "name": S,
    "total_bytes": B, ...}], "cuda_build": true|false, ...}.
    CUDA_DEVICE_ORDER=PCI_BUS_ID is set first, in the worker's own
    environment, so the indices segq-run sees and the ones the broker hands
    out agree with nvidia-smi; under a CUDA_VISIBLE_DEVICES list of the
    worker's own they are positions in it, which the worker maps back to
    the list's entries for its children (worker.c).
*/
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include "segq_worker.h"

extern char **environ;

/* segq-run devices loads libtorch and initialises CUDA: seconds, not
   minutes. A program that takes longer is stuck. */
#define DISCOVER_TIMEOUT_MS 120000
#define DISCOVER_MAX_OUTPUT (1 << 20)

void
segq_worker_devices_clear (segq_worker_devices_t *self)
{
    for (size_t i = 0; i < self->n_gpus; i++)
        segq_gpu_clear (&self->gpus [i]);
    free (self->gpus);
    memset (self, 0, sizeof *self);
    self->cuda_build = -1;
}

int
segq_worker_devices_parse (const char *text, segq_worker_devices_t *out, char *err, size_t errlen)
{
    memset (out, 0, sizeof *out);
    out->cuda_build = -1;
    json_error_t jerr;
    json_t *root = json_loads (text, 0, &jerr);
    if (!root) {
        snprintf (err, errlen, "segq-run devices: not JSON (%s, line %d)", jerr.text, jerr.line);
        return SEGQ_EINVAL;
    }
    int rc = 0;
    json_t *cores = json_object_get (json_object_get (root, "cpu"), "cores");
    json_t *cuda = json_object_get (root, "cuda");
    json_t *cuda_build = json_object_get (root, "cuda_build");
    if (!json_is_integer (cores) || json_integer_value (cores) < 1
        || json_integer_value (cores) > 65535) {
        snprintf (err, errlen, "segq-run devices: cpu.cores is not a number from 1 to 65535");
        rc = SEGQ_EINVAL;
    } else if (cuda && !json_is_array (cuda)) {
        snprintf (err, errlen, "segq-run devices: cuda is not a list");
        rc = SEGQ_EINVAL;
    } else {
        out->cpu_cores = (uint32_t) json_integer_value (cores);
        out->cuda_build = json_is_boolean (cuda_build) ? json_is_true (cuda_build) : -1;
    }
    size_t n = rc == 0 && cuda ? json_array_size (cuda) : 0;
    if (n > 1024) {
        snprintf (err, errlen, "segq-run devices: %zu CUDA devices is not believable", n);
        rc = SEGQ_EINVAL;
    }
    if (rc == 0 && n && !(out->gpus = calloc (n, sizeof *out->gpus)))
        rc = SEGQ_ENOMEM;
    for (size_t i = 0; i < n && rc == 0; i++) {
        json_t *gpu = json_array_get (cuda, i);
        const char *device = json_string_value (json_object_get (gpu, "device"));
        const char *name = json_string_value (json_object_get (gpu, "name"));
        json_t *total = json_object_get (gpu, "total_bytes");
        unsigned index = 0;
        int used = 0;
        if (!device || sscanf (device, "cuda:%u%n", &index, &used) != 1 || device [used]
            || index > 1023 || !name || !json_is_integer (total)
            || json_integer_value (total) <= 0) {
            snprintf (err, errlen,
                      "segq-run devices: CUDA device %zu lacks a valid device "
                      "(\"cuda:N\"), name or total_bytes",
                      i);
            rc = SEGQ_EINVAL;
            break;
        }
        segq_gpu_t *g = &out->gpus [out->n_gpus];
        g->index = index;
        g->mem_total = (uint64_t) json_integer_value (total);
        if (!(g->name = strdup (name)))
            rc = SEGQ_ENOMEM;
        else
            out->n_gpus++;
    }
    if (rc == SEGQ_ENOMEM)
        snprintf (err, errlen, "segq-run devices: out of memory");
    json_decref (root);
    if (rc)
        segq_worker_devices_clear (out);
    return rc;
}

static int64_t
s_now_ms (void)
{
    struct timespec ts;
    clock_gettime (CLOCK_MONOTONIC, &ts);
    return (int64_t) ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Starts `segq_run devices` with its stdout on a pipe; *from_child gets
   the pipe's end to read. */
static int
s_spawn (const char *segq_run, pid_t *pid, int *from_child, char *err, size_t errlen)
{
    int fds [2];
    if (pipe2 (fds, O_CLOEXEC) != 0) {
        snprintf (err, errlen, "segq-run devices: pipe: %s", strerror (errno));
        return SEGQ_EIO;
    }
    posix_spawn_file_actions_t actions;
    posix_spawn_file_actions_init (&actions);
    posix_spawn_file_actions_adddup2 (&actions, fds [1], STDOUT_FILENO);
    char *argv [] = { (char *) segq_run, "devices", NULL };
    int spawn_rc = posix_spawn (pid, segq_run, &actions, NULL, argv, environ);
    posix_spawn_file_actions_destroy (&actions);
    close (fds [1]);
    if (spawn_rc != 0) {
        close (fds [0]);
        snprintf (err, errlen, "cannot run %s devices: %s", segq_run, strerror (spawn_rc));
        return SEGQ_EIO;
    }
    *from_child = fds [0];
    return 0;
}

/* Reads the child's output into text up to its end (*len bytes), giving up
   after DISCOVER_TIMEOUT_MS or DISCOVER_MAX_OUTPUT bytes. */
static int
s_read_all (const char *segq_run, int fd, char *text, size_t *len, char *err, size_t errlen)
{
    int64_t deadline = s_now_ms () + DISCOVER_TIMEOUT_MS;
    while (true) {
        struct pollfd item = { .fd = fd, .events = POLLIN };
        int64_t left = deadline - s_now_ms ();
        int ready = left > 0 ? poll (&item, 1, (int) left) : 0;
        if (ready < 0 && errno == EINTR)
            continue;
        if (ready <= 0) {
            snprintf (err, errlen, "%s devices: no answer within %d s", segq_run,
                      DISCOVER_TIMEOUT_MS / 1000);
            return SEGQ_ETIMEOUT;
        }
        ssize_t got = read (fd, text + *len, DISCOVER_MAX_OUTPUT - *len);
        if (got < 0 && errno == EINTR)
            continue;
        if (got < 0) {
            snprintf (err, errlen, "%s devices: read: %s", segq_run, strerror (errno));
            return SEGQ_EIO;
        }
        if (got == 0)
            return 0;
        if ((*len += (size_t) got) == DISCOVER_MAX_OUTPUT) {
            snprintf (err, errlen, "%s devices: more than %d bytes of output", segq_run,
                      DISCOVER_MAX_OUTPUT);
            return SEGQ_EINVAL;
        }
    }
}

/* Waits for the child, killed first when its output was refused, and
   returns its wait status. */
static int
s_reap (pid_t pid, bool kill_first)
{
    if (kill_first)
        kill (pid, SIGKILL);
    int status = 0;
    while (waitpid (pid, &status, 0) < 0 && errno == EINTR)
        ;
    return status;
}

int
segq_worker_devices_discover (const char *segq_run, segq_worker_devices_t *out, char *err,
                              size_t errlen)
{
    memset (out, 0, sizeof *out);
    out->cuda_build = -1;
    if (setenv ("CUDA_DEVICE_ORDER", "PCI_BUS_ID", 1) != 0) {
        snprintf (err, errlen, "cannot set CUDA_DEVICE_ORDER: %s", strerror (errno));
        return SEGQ_EIO;
    }
    pid_t pid;
    int from_child;
    int rc = s_spawn (segq_run, &pid, &from_child, err, errlen);
    if (rc)
        return rc;
    char *text = malloc (DISCOVER_MAX_OUTPUT + 1);
    size_t len = 0;
    rc = text ? s_read_all (segq_run, from_child, text, &len, err, errlen) : SEGQ_ENOMEM;
    close (from_child);
    int status = s_reap (pid, rc != 0);
    if (rc == 0 && !(WIFEXITED (status) && WEXITSTATUS (status) == 0)) {
        snprintf (err, errlen, "%s devices failed (%s %d; its message is above)", segq_run,
                  WIFEXITED (status) ? "exit status" : "signal",
                  WIFEXITED (status) ? WEXITSTATUS (status) : WTERMSIG (status));
        rc = SEGQ_EIO;
    }
    if (rc == 0) {
        text [len] = 0;
        rc = segq_worker_devices_parse (text, out, err, errlen);
    } else if (rc == SEGQ_ENOMEM)
        snprintf (err, errlen, "out of memory");
    free (text);
    return rc;
}
