/*  cli_slurm_run.c: running sbatch, squeue and scancel.

    Each runs as a child with its stdin fed from a string (the batch
    script) and its stdout and stderr read into fixed buffers (the rest is
    read and dropped, so a chatty command cannot block or grow the
    autoscaler), for a bounded time: a slurmctld that does not answer must
    not stop the rounds. Past the time the child is killed and reaped.
*/
#define _GNU_SOURCE
#include "cli_slurm.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

extern char **environ;

typedef struct {
    int fd;
    char *buf;
    size_t cap, used;
} sink_t;

int64_t
cli_slurm_now_ms (void)
{
    struct timespec ts;
    clock_gettime (CLOCK_MONOTONIC, &ts);
    return (int64_t) ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Reads what is there; false at the end of the stream. */
static bool
s_drain (sink_t *s)
{
    char scratch [4096];
    size_t room = s->cap - 1 - s->used;
    ssize_t n = read (s->fd, room ? s->buf + s->used : scratch, room ? room : sizeof scratch);
    if (n < 0 && (errno == EINTR || errno == EAGAIN))
        return true;
    if (n <= 0)
        return false;
    if (room)
        s->used += (size_t) n;
    s->buf [s->used] = 0;
    return true;
}

/* Writes what the pipe takes of input; the pipe is closed once all is in. */
static void
s_feed (int *fd, const char *input, size_t *fed)
{
    size_t len = strlen (input);
    ssize_t n = len > *fed ? write (*fd, input + *fed, len - *fed) : 0;
    if (n > 0)
        *fed += (size_t) n;
    if (*fed >= len || (n < 0 && errno != EAGAIN && errno != EINTR)) {
        close (*fd);
        *fd = -1;
    }
}

/* Pumps the pipes until both outputs end or the time is up. */
static bool
s_pump (int in_fd, const char *input, sink_t *out, sink_t *err, int timeout_ms)
{
    int64_t deadline = cli_slurm_now_ms () + timeout_ms;
    size_t fed = 0;
    bool out_open = true, err_open = true;
    if (in_fd >= 0 && !input) {
        close (in_fd);
        in_fd = -1;
    }
    while (out_open || err_open) {
        int64_t left = deadline - cli_slurm_now_ms ();
        if (left <= 0)
            break;
        struct pollfd fds [3] = { { out_open ? out->fd : -1, POLLIN, 0 },
                                  { err_open ? err->fd : -1, POLLIN, 0 },
                                  { in_fd, POLLOUT, 0 } };
        if (poll (fds, 3, (int) left) < 0 && errno != EINTR)
            break;
        if (fds [0].revents)
            out_open = s_drain (out);
        if (fds [1].revents)
            err_open = s_drain (err);
        if (in_fd >= 0 && fds [2].revents)
            s_feed (&in_fd, input, &fed);
    }
    if (in_fd >= 0)
        close (in_fd);
    return !out_open && !err_open;
}

static int
s_spawn (const cli_slurm_conf_t *conf, const char *const *argv, int pipes [3][2], pid_t *pid)
{
    posix_spawn_file_actions_t actions;
    if (posix_spawn_file_actions_init (&actions))
        return ENOMEM;
    int rc = posix_spawn_file_actions_adddup2 (&actions, pipes [0][0], 0);
    rc = rc ? rc : posix_spawn_file_actions_adddup2 (&actions, pipes [1][1], 1);
    rc = rc ? rc : posix_spawn_file_actions_adddup2 (&actions, pipes [2][1], 2);
    char path [4096];
    if (!rc && conf->slurm_bin) {
        snprintf (path, sizeof path, "%s/%s", conf->slurm_bin, argv [0]);
        rc = posix_spawn (pid, path, &actions, NULL, (char *const *) argv, environ);
    } else if (!rc)
        rc = posix_spawnp (pid, argv [0], &actions, NULL, (char *const *) argv, environ);
    posix_spawn_file_actions_destroy (&actions);
    return rc;
}

static void
s_close_pipes (int pipes [3][2])
{
    for (int i = 0; i < 3; i++)
        for (int j = 0; j < 2; j++)
            if (pipes [i][j] >= 0)
                close (pipes [i][j]);
}

/* Waits for the child (killed if it overran) and sets the status. */
static void
s_reap (pid_t pid, bool finished, const char *program, int timeout_ms, cli_slurm_output_t *o)
{
    int status = 0;
    if (!finished)
        kill (pid, SIGKILL);
    while (waitpid (pid, &status, 0) < 0 && errno == EINTR)
        ;
    if (!finished) {
        o->status = -1;
        snprintf (o->err, sizeof o->err, "%s did not finish within %d s: killed", program,
                  timeout_ms / 1000);
    } else
        o->status = WIFEXITED (status) ? WEXITSTATUS (status) : -1;
    if (finished && WIFSIGNALED (status))
        snprintf (o->err, sizeof o->err, "%s was killed by signal %d", program, WTERMSIG (status));
}

int
cli_slurm_command (const cli_slurm_conf_t *conf, const char *const *argv, const char *input,
                   int timeout_ms, cli_slurm_output_t *o)
{
    memset (o, 0, sizeof *o);
    int pipes [3][2] = { { -1, -1 }, { -1, -1 }, { -1, -1 } };
    for (int i = 0; i < 3; i++)
        if (pipe2 (pipes [i], O_CLOEXEC) != 0) {
            o->status = -1;
            snprintf (o->err, sizeof o->err, "cannot make a pipe: %s", strerror (errno));
            s_close_pipes (pipes);
            return -1;
        }
    pid_t pid;
    int rc = s_spawn (conf, argv, pipes, &pid);
    close (pipes [0][0]);
    close (pipes [1][1]);
    close (pipes [2][1]);
    pipes [0][0] = pipes [1][1] = pipes [2][1] = -1;
    if (rc) {
        o->status = -1;
        snprintf (o->err, sizeof o->err, "cannot run %s%s%s: %s",
                  conf->slurm_bin ? conf->slurm_bin : "", conf->slurm_bin ? "/" : "", argv [0],
                  strerror (rc));
        s_close_pipes (pipes);
        return -1;
    }
    fcntl (pipes [0][1], F_SETFL, O_NONBLOCK);
    sink_t out = { pipes [1][0], o->out, sizeof o->out, 0 },
           err = { pipes [2][0], o->err, sizeof o->err, 0 };
    bool finished = s_pump (pipes [0][1], input, &out, &err, timeout_ms);
    pipes [0][1] = -1; /* s_pump closed it */
    s_close_pipes (pipes);
    s_reap (pid, finished, argv [0], timeout_ms, o);
    return o->status == 0 ? 0 : -1;
}
