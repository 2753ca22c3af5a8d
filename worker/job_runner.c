/*  job_runner.c: one job's child process, supervised.

    The child runs in its own process group (so TERM/KILL reach whatever it
    started), with cwd = the job's directory, stdin from /dev/null, stdout
    and stderr into one pipe (the job's log), and the progress pipe as fd 3
    (SEGQ_PROGRESS_FD). Every other descriptor of the daemon is closed in
    the child. posix_spawn (glibc: clone+vfork) is used rather than fork:
    it is cheap in a large multithreaded daemon and reports exec failures
    as an error instead of a mysterious exit code.

    The last non-empty line of the child's output is kept (bounded,
    control characters dropped) and ends a failure's reason: "exited with
    code 1: cannot read mask.png" tells the user why without the log.

    Reaping: the daemon blocks SIGCHLD and reads it from a signalfd; on each
    it calls segq__job_runner_check for its runners. The child is looked at
    with WNOWAIT first so its process group can be killed before the pid
    (and so the group id) can be reused.

    A generate job may run on the device's generation server instead
    (gen_server.h): the same pipes, timers and signals, to the server's
    process group; it ends when the server answers, or dies.
*/
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/signalfd.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include "worker_internal.h"

extern char **environ;

struct segq__job_runner {
    zloop_t *loop;
    pid_t pid; /* the child's, or the generation server's */
    segq__gen_server_t *server;
    zmq_pollitem_t log_item; /* fd -1 once closed */
    zmq_pollitem_t progress_item;
    segq__progress_parser_t *parser;
    segq__job_callbacks_t callbacks;
    int limit_timer; /* -1 none */
    int grace_timer;
    uint32_t time_limit_s;
    uint32_t kill_grace_ms;
    bool reaped;
    bool timed_out;
    bool aborted;
    char abort_reason [400];
    /* the output line being read (its head, and a ring of its tail), and
       the last non-empty one */
    char head [SEGQ__LAST_LINE_HEAD];
    size_t head_used;
    char tail [SEGQ__LAST_LINE_TAIL];
    size_t tail_start, tail_used;
    bool tail_dropped; /* bytes between head and tail were dropped */
    char last_line [SEGQ__LAST_LINE_MAX + 1];
};

int64_t
segq__now_ms (void)
{
    struct timespec ts;
    clock_gettime (CLOCK_MONOTONIC, &ts);
    return (int64_t) ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

int
segq__signals_open (void)
{
    sigset_t set;
    sigemptyset (&set);
    sigaddset (&set, SIGCHLD);
    sigaddset (&set, SIGTERM);
    sigaddset (&set, SIGINT);
    sigaddset (&set, SIGHUP);
    if (pthread_sigmask (SIG_BLOCK, &set, NULL))
        return -1;
    return signalfd (-1, &set, SFD_CLOEXEC | SFD_NONBLOCK);
}

/* The daemon's environment minus the names `extra` sets, then `extra`. */
static char **
s_child_env (char *const *extra)
{
    size_t n_env = 0, n_extra = 0;
    while (environ && environ [n_env])
        n_env++;
    while (extra && extra [n_extra])
        n_extra++;
    char **env = calloc (n_env + n_extra + 1, sizeof *env);
    if (!env)
        return NULL;
    size_t n = 0;
    for (size_t i = 0; i < n_env; i++) {
        const char *eq = strchr (environ [i], '=');
        size_t len = eq ? (size_t) (eq - environ [i]) : strlen (environ [i]);
        bool overridden = false;
        for (size_t j = 0; j < n_extra && !overridden; j++)
            overridden = strncmp (extra [j], environ [i], len) == 0 && extra [j][len] == '=';
        if (!overridden)
            env [n++] = environ [i];
    }
    for (size_t j = 0; j < n_extra; j++)
        env [n++] = extra [j];
    return env;
}

static void
s_close_item (segq__job_runner_t *self, zmq_pollitem_t *item)
{
    if (item->fd >= 0) {
        zloop_poller_end (self->loop, item);
        close (item->fd);
        item->fd = -1;
    }
}

/* The line read so far is complete: keep it if it says something. */
static void
s_line_end (segq__job_runner_t *self)
{
    char *out = self->last_line;
    size_t n = self->head_used;
    if (n) {
        memcpy (out, self->head, n);
        if (self->tail_dropped) {
            memcpy (out + n, SEGQ__LAST_LINE_CUT, sizeof SEGQ__LAST_LINE_CUT - 1);
            n += sizeof SEGQ__LAST_LINE_CUT - 1;
        }
        for (size_t i = 0; i < self->tail_used; i++)
            out [n++] = self->tail [(self->tail_start + i) % SEGQ__LAST_LINE_TAIL];
        while (out [n - 1] == ' ')
            n--;
        out [n] = 0;
    }
    self->head_used = self->tail_start = self->tail_used = 0;
    self->tail_dropped = false;
}

/* One byte of the line being read: the head, then the tail's ring. */
static void
s_line_add (segq__job_runner_t *self, char c)
{
    if (self->head_used < SEGQ__LAST_LINE_HEAD)
        self->head [self->head_used++] = c;
    else if (self->tail_used < SEGQ__LAST_LINE_TAIL)
        self->tail [(self->tail_start + self->tail_used++) % SEGQ__LAST_LINE_TAIL] = c;
    else {
        self->tail [self->tail_start] = c;
        self->tail_start = (self->tail_start + 1) % SEGQ__LAST_LINE_TAIL;
        self->tail_dropped = true;
    }
}

/* Follows the log's lines: '\r' ends one too (progress bars); control
   characters are dropped, tabs become spaces, leading spaces are skipped,
   and a line longer than SEGQ__LAST_LINE_MAX keeps its head and tail. */
static void
s_line_feed (segq__job_runner_t *self, const uint8_t *data, size_t size)
{
    for (size_t i = 0; i < size; i++) {
        uint8_t c = data [i] == '\t' ? ' ' : data [i];
        if (c == '\n' || c == '\r')
            s_line_end (self);
        else if (c >= 0x20 && c != 0x7f && (c != ' ' || self->head_used))
            s_line_add (self, (char) c);
    }
}

static void
s_deliver (segq__job_runner_t *self, zmq_pollitem_t *item, const uint8_t *data, size_t size)
{
    if (item == &self->log_item) {
        s_line_feed (self, data, size);
        if (self->callbacks.on_log)
            self->callbacks.on_log (self->callbacks.arg, data, size);
    } else if (self->callbacks.on_progress)
        segq__progress_parser_feed (self->parser, (const char *) data, size,
                                    self->callbacks.on_progress, self->callbacks.arg);
}

/* Read what the pipe has now, a bounded amount so that one chatty child
   cannot starve the reactor; at EOF or on an error the pipe is closed.
   With `drain`, read until nothing is left and close it in any case. */
static void
s_read_pipe (segq__job_runner_t *self, zmq_pollitem_t *item, bool drain)
{
    uint8_t buf [65536];
    for (int rounds = 0; item->fd >= 0 && (drain || rounds < 16); rounds++) {
        ssize_t n = read (item->fd, buf, sizeof buf);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK) && !drain)
            return;
        if (n <= 0) {
            if (item == &self->log_item)
                s_line_end (self); /* a last line without its newline counts */
            if (item == &self->progress_item && self->callbacks.on_progress)
                segq__progress_parser_finish (self->parser, self->callbacks.on_progress,
                                              self->callbacks.arg);
            s_close_item (self, item);
            return;
        }
        s_deliver (self, item, buf, (size_t) n);
    }
}

static int
s_on_log (zloop_t *loop, zmq_pollitem_t *item, void *arg)
{
    segq__job_runner_t *self = arg;
    s_read_pipe (self, &self->log_item, false);
    return 0;
}

static int
s_on_progress (zloop_t *loop, zmq_pollitem_t *item, void *arg)
{
    segq__job_runner_t *self = arg;
    s_read_pipe (self, &self->progress_item, false);
    return 0;
}

static void
s_signal_group (segq__job_runner_t *self, int sig)
{
    if (!self->reaped)
        kill (-self->pid, sig);
}

static int
s_on_grace (zloop_t *loop, int timer_id, void *arg)
{
    segq__job_runner_t *self = arg;
    self->grace_timer = -1;
    s_signal_group (self, SIGKILL);
    return 0;
}

static void
s_stop (segq__job_runner_t *self)
{
    s_signal_group (self, SIGTERM);
    if (self->grace_timer < 0)
        self->grace_timer = zloop_timer (self->loop, self->kill_grace_ms ? self->kill_grace_ms : 1,
                                         1, s_on_grace, self);
}

static int
s_on_limit (zloop_t *loop, int timer_id, void *arg)
{
    segq__job_runner_t *self = arg;
    self->limit_timer = -1;
    if (!self->aborted)
        self->timed_out = true;
    s_stop (self);
    return 0;
}

static int
s_pipe (int fds [2], char *err, size_t errlen, const char *what)
{
    if (pipe2 (fds, O_CLOEXEC) == 0) {
        fcntl (fds [0], F_SETFL, O_NONBLOCK); /* our end only: the child's stays blocking */
        return 0;
    }
    snprintf (err, errlen, "cannot create the %s pipe: %s", what, strerror (errno));
    return SEGQ_EIO;
}

int
segq__spawn_attr_init (posix_spawnattr_t *attr)
{
    int rc = posix_spawnattr_init (attr);
    if (rc)
        return rc;
    sigset_t none, all;
    sigemptyset (&none);
    sigfillset (&all);
    rc = posix_spawnattr_setflags (attr, POSIX_SPAWN_SETPGROUP | POSIX_SPAWN_SETSIGMASK
                                             | POSIX_SPAWN_SETSIGDEF);
    if (!rc)
        rc = posix_spawnattr_setpgroup (attr, 0);
    if (!rc)
        rc = posix_spawnattr_setsigmask (attr, &none);
    if (!rc)
        rc = posix_spawnattr_setsigdefault (attr, &all);
    if (rc)
        posix_spawnattr_destroy (attr);
    return rc;
}

/* Starts the job's child with the write ends of its pipes as its output
   (1, 2) and progress (fd 3) descriptors. */
static int
s_spawn (segq__job_runner_t *self, const segq__job_launch_t *launch, int log_fd, int progress_fd,
         char *err, size_t errlen)
{
    char **env = s_child_env (launch->env);
    int null_fd = open ("/dev/null", O_RDONLY | O_CLOEXEC);
    if (!env || null_fd < 0) {
        snprintf (err, errlen, "cannot start %s: %s", launch->path,
                  env ? strerror (errno) : "out of memory");
        free (env);
        if (null_fd >= 0)
            close (null_fd);
        return SEGQ_EIO;
    }
    /* dup2 onto 0..3 in this order is safe: each source is a CLOEXEC fd the
       daemon opened, so none is 0..2, and fd 3 is written last. dup2 of an
       fd onto itself clears CLOEXEC (glibc >= 2.29, POSIX 2017). */
    posix_spawn_file_actions_t actions;
    posix_spawnattr_t attr;
    int rc = posix_spawn_file_actions_init (&actions);
    bool have_actions = rc == 0;
    if (!rc)
        rc = posix_spawn_file_actions_addchdir_np (&actions, launch->cwd);
    if (!rc)
        rc = posix_spawn_file_actions_adddup2 (&actions, null_fd, 0);
    if (!rc)
        rc = posix_spawn_file_actions_adddup2 (&actions, log_fd, 1);
    if (!rc)
        rc = posix_spawn_file_actions_adddup2 (&actions, log_fd, 2);
    if (!rc)
        rc = posix_spawn_file_actions_adddup2 (&actions, progress_fd, SEGQ__PROGRESS_CHILD_FD);
    if (!rc)
        rc = posix_spawn_file_actions_addclosefrom_np (&actions, SEGQ__PROGRESS_CHILD_FD + 1);
    if (!rc)
        rc = segq__spawn_attr_init (&attr);
    bool have_attr = have_actions && rc == 0;
    if (rc)
        snprintf (err, errlen, "cannot prepare to start %s: %s", launch->path, strerror (rc));
    bool prepared = rc == 0;
    if (prepared
        && (rc = posix_spawn (&self->pid, launch->path, &actions, &attr, launch->argv, env)))
        snprintf (err, errlen, "cannot start %s in %s: %s", launch->path, launch->cwd,
                  strerror (rc));
    if (have_actions)
        posix_spawn_file_actions_destroy (&actions);
    if (have_attr)
        posix_spawnattr_destroy (&attr);
    free (env);
    close (null_fd);
    return !rc ? 0 : prepared ? SEGQ_ENOENT : SEGQ_EIO;
}

int
segq__job_runner_start (zloop_t *loop, const segq__job_launch_t *launch,
                        const segq__job_callbacks_t *callbacks, segq__job_runner_t **runner,
                        char *err, size_t errlen)
{
    int log_fds [2] = { -1, -1 }, progress_fds [2] = { -1, -1 };
    int rc = SEGQ_ENOMEM;
    *runner = NULL;
    segq__job_runner_t *self = calloc (1, sizeof *self);
    if (!self || !(self->parser = segq__progress_parser_new ())) {
        snprintf (err, errlen, "out of memory starting %s", launch->path);
        goto fail;
    }
    self->loop = loop;
    self->callbacks = *callbacks;
    self->limit_timer = self->grace_timer = -1;
    self->time_limit_s = launch->time_limit_s;
    self->kill_grace_ms = launch->kill_grace_ms;
    self->log_item.fd = self->progress_item.fd = -1;
    if ((rc = s_pipe (log_fds, err, errlen, "log"))
        || (rc = s_pipe (progress_fds, err, errlen, "progress")))
        goto fail;
    /* a server is sent the job after the kind (it runs generate only) */
    rc = launch->server
             ? segq__gen_server_run (launch->server, launch->argv + 2, launch->env, launch->cwd,
                                     log_fds [1], progress_fds [1], &self->pid, err, errlen)
             : s_spawn (self, launch, log_fds [1], progress_fds [1], err, errlen);
    if (rc)
        goto fail;
    self->server = launch->server;
    close (log_fds [1]);
    close (progress_fds [1]);
    self->log_item.fd = log_fds [0];
    self->log_item.events = ZMQ_POLLIN;
    self->progress_item.fd = progress_fds [0];
    self->progress_item.events = ZMQ_POLLIN;
    zloop_poller (loop, &self->log_item, s_on_log, self);
    zloop_poller (loop, &self->progress_item, s_on_progress, self);
    if (launch->time_limit_s)
        self->limit_timer =
            zloop_timer (loop, (size_t) launch->time_limit_s * 1000, 1, s_on_limit, self);
    *runner = self;
    return 0;

fail:
    for (int i = 0; i < 2; i++) {
        if (log_fds [i] >= 0)
            close (log_fds [i]);
        if (progress_fds [i] >= 0)
            close (progress_fds [i]);
    }
    if (self)
        segq__progress_parser_destroy (&self->parser);
    free (self);
    return rc;
}

void
segq__job_runner_abort (segq__job_runner_t *self, const char *reason)
{
    if (self->reaped)
        return;
    if (!self->aborted && !self->timed_out) {
        self->aborted = true;
        snprintf (self->abort_reason, sizeof self->abort_reason, "%s", reason);
    }
    s_stop (self);
}

pid_t
segq__job_runner_pid (segq__job_runner_t *self)
{
    return self->pid;
}

static void
s_end_timers (segq__job_runner_t *self)
{
    if (self->limit_timer >= 0)
        zloop_timer_end (self->loop, self->limit_timer);
    if (self->grace_timer >= 0)
        zloop_timer_end (self->loop, self->grace_timer);
    self->limit_timer = self->grace_timer = -1;
}

/* Kill the rest of the process group, then reap (with what the child
   used, for the accounting); `wait` blocks. */
static bool
s_reap (segq__job_runner_t *self, int *status, struct rusage *usage, bool wait)
{
    siginfo_t info;
    memset (&info, 0, sizeof info);
    if (waitid (P_PID, (id_t) self->pid, &info, WEXITED | WNOWAIT | (wait ? 0 : WNOHANG)) != 0
        || info.si_pid == 0)
        return false;
    kill (-self->pid, SIGKILL); /* grandchildren left behind die with the job */
    while (wait4 (self->pid, status, 0, usage) < 0 && errno == EINTR)
        ;
    self->reaped = true;
    return true;
}

/* Whether the job has ended: its child reaped, or its server done with it
   (or dead); its exit code or signal then. */
static bool
s_ended (segq__job_runner_t *self, segq__job_exit_t *exit)
{
    int status = 0;
    if (self->reaped)
        return false;
    if (self->server) {
        if (!segq__gen_server_result (self->server, exit))
            return false;
        self->reaped = true;
        return true;
    }
    struct rusage usage = { 0 };
    if (!s_reap (self, &status, &usage, false))
        return false;
    exit->cpu_seconds = (double) (usage.ru_utime.tv_sec + usage.ru_stime.tv_sec)
                        + (usage.ru_utime.tv_usec + usage.ru_stime.tv_usec) / 1e6;
    exit->max_rss = (uint64_t) usage.ru_maxrss * 1024; /* Linux counts KiB */
    if (WIFEXITED (status))
        exit->exit_code = WEXITSTATUS (status);
    else if (WIFSIGNALED (status))
        exit->signal = WTERMSIG (status);
    return true;
}

bool
segq__job_runner_check (segq__job_runner_t *self)
{
    segq__job_exit_t exit = { .exit_code = -1 };
    if (!s_ended (self, &exit))
        return false;
    s_end_timers (self);
    /* What the child wrote before it died is still in the pipes (a server
       closes its copies before it answers). */
    s_read_pipe (self, &self->log_item, true);
    s_read_pipe (self, &self->progress_item, true);

    exit.timed_out = self->timed_out;
    exit.aborted = self->aborted;
    exit.success = exit.exit_code == 0 && !exit.timed_out && !exit.aborted;
    if (exit.timed_out)
        snprintf (exit.reason, sizeof exit.reason, "time limit of %u s exceeded",
                  self->time_limit_s);
    else if (exit.aborted)
        snprintf (exit.reason, sizeof exit.reason, "%s", self->abort_reason);
    else if (exit.signal)
        /* a SIGKILL nobody here sent is most often the kernel's OOM killer:
           the job's last line then says nothing of it */
        snprintf (exit.reason, sizeof exit.reason, "killed by signal %d (%s%s)%s%s", exit.signal,
                  strsignal (exit.signal),
                  exit.signal == SIGKILL
                      ? "; by a person, or by the kernel out of memory: see dmesg"
                      : "",
                  *self->last_line ? ": " : "", self->last_line);
    else if (exit.exit_code != 0)
        snprintf (exit.reason, sizeof exit.reason, "exited with code %d%s%s", exit.exit_code,
                  *self->last_line ? ": " : "", self->last_line);
    if (self->callbacks.on_exit)
        self->callbacks.on_exit (self->callbacks.arg, &exit);
    return true;
}

void
segq__job_runner_destroy (segq__job_runner_t **self_p)
{
    segq__job_runner_t *self = *self_p;
    if (!self)
        return;
    if (!self->reaped && self->server)
        segq__gen_server_kill (self->server);
    else if (!self->reaped) {
        kill (-self->pid, SIGKILL);
        int status;
        s_reap (self, &status, NULL, true);
    }
    s_end_timers (self);
    s_close_item (self, &self->log_item);
    s_close_item (self, &self->progress_item);
    segq__progress_parser_destroy (&self->parser);
    free (self);
    *self_p = NULL;
}
