/*  gen_server.c: see gen_server.h. */
#define _GNU_SOURCE
#include "gen_server.h"
#include "segq_error.h"
#include "worker_internal.h"
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#define MAX_SERVERS 64    /* devices of one worker */
#define MAX_HOT     64    /* models one server reports */
#define MESSAGE_MAX 65536 /* a request or an answer */
#define CONTROL_FD  3     /* the server's end of the socket */

extern char **environ;

struct segq__gen_server {
    segq__gen_servers_t *owner;
    char device [64];
    int32_t gpu; /* the broker's index of that GPU, -1: the CPUs */
    pid_t pid;   /* 0: not running */
    int sock;    /* our end, -1 when not running */
    zmq_pollitem_t item;
    bool busy;     /* a job was sent and its result not yet taken */
    bool answered; /* ... and the server answered */
    int exit_code;
    double cpu_seconds; /* what the job cost, as the server measured it */
    uint64_t max_rss;
    char *hot [MAX_HOT];
    size_t n_hot;
};

struct segq__gen_servers {
    zloop_t *loop;
    char *segq_run;
    uint64_t cache_bytes;
    uint32_t idle_s;
    void (*on_reply) (void *arg);
    void *arg;
    segq__gen_server_t servers [MAX_SERVERS];
    size_t n_servers;
};

segq__gen_servers_t *
segq__gen_servers_new (zloop_t *loop, const char *segq_run, uint64_t cache_bytes, uint32_t idle_s,
                       void (*on_reply) (void *arg), void *arg)
{
    segq__gen_servers_t *self = calloc (1, sizeof *self);
    if (!self || !(self->segq_run = strdup (segq_run))) {
        free (self);
        return NULL;
    }
    self->loop = loop;
    self->cache_bytes = cache_bytes;
    self->idle_s = idle_s;
    self->on_reply = on_reply;
    self->arg = arg;
    return self;
}

static void
s_forget_hot (segq__gen_server_t *server)
{
    for (size_t i = 0; i < server->n_hot; i++)
        free (server->hot [i]);
    server->n_hot = 0;
}

/* The server's process is gone (reaped): back to not running. */
static void
s_gone (segq__gen_server_t *server)
{
    if (server->sock >= 0) {
        zloop_poller_end (server->owner->loop, &server->item);
        close (server->sock);
    }
    server->sock = -1;
    server->pid = 0;
    s_forget_hot (server);
}

void
segq__gen_server_kill (segq__gen_server_t *self)
{
    if (!self->pid)
        return;
    kill (-self->pid, SIGKILL);
    while (waitpid (self->pid, NULL, 0) < 0 && errno == EINTR)
        ;
    s_gone (self);
    self->busy = self->answered = false;
}

void
segq__gen_servers_destroy (segq__gen_servers_t **self_p)
{
    segq__gen_servers_t *self = *self_p;
    if (!self)
        return;
    for (size_t i = 0; i < self->n_servers; i++)
        segq__gen_server_kill (&self->servers [i]);
    free (self->segq_run);
    free (self);
    *self_p = NULL;
}

/* Reaps the server if its process has ended; *status gets how. */
static bool
s_ended (segq__gen_server_t *server, int *status)
{
    if (!server->pid)
        return true;
    pid_t pid = waitpid (server->pid, status, WNOHANG);
    if (pid != server->pid)
        return false;
    kill (-server->pid, SIGKILL); /* what it started goes with it */
    s_gone (server);
    return true;
}

segq__gen_server_t *
segq__gen_servers_get (segq__gen_servers_t *self, const char *device, int32_t gpu)
{
    segq__gen_server_t *server = NULL;
    for (size_t i = 0; i < self->n_servers && !server; i++)
        if (strcmp (self->servers [i].device, device) == 0)
            server = &self->servers [i];
    if (!server && self->n_servers < MAX_SERVERS && strlen (device) < sizeof server->device) {
        server = &self->servers [self->n_servers++];
        *server = (segq__gen_server_t){ .owner = self, .sock = -1, .gpu = gpu };
        snprintf (server->device, sizeof server->device, "%s", device);
    }
    int status;
    if (server && !server->busy)
        s_ended (server, &status); /* one that left when idle starts again */
    return server && !server->busy ? server : NULL;
}

/* Items "key=value" of a message: the value after `key`, from *at on. */
static const char *
s_item (const char *data, size_t size, size_t *at, const char *key)
{
    size_t len = strlen (key);
    while (*at < size) {
        const char *item = data + *at;
        size_t n = strnlen (item, size - *at);
        *at += n + 1;
        if (n > len && strncmp (item, key, len) == 0 && item [len] == '=')
            return item + len + 1;
    }
    return NULL;
}

/* The server answered (or closed its end: it is ending, SIGCHLD says how). */
static int
s_on_answer (zloop_t *loop, zmq_pollitem_t *item, void *arg)
{
    segq__gen_server_t *server = arg;
    static char data [MESSAGE_MAX];
    ssize_t n = recv (server->sock, data, sizeof data, MSG_DONTWAIT);
    if (n < 0 && (errno == EAGAIN || errno == EINTR))
        return 0;
    if (n <= 0) {
        zloop_poller_end (loop, &server->item);
        close (server->sock);
        server->sock = -1;
    } else if (server->busy) {
        size_t at = 0;
        const char *done = s_item (data, (size_t) n, &at, "done");
        server->answered = done != NULL;
        server->exit_code = done ? atoi (done) : -1;
        const char *cpu = s_item (data, (size_t) n, &at, "cpu");
        const char *rss = s_item (data, (size_t) n, &at, "rss");
        server->cpu_seconds = cpu ? strtod (cpu, NULL) : 0;
        server->max_rss = rss ? strtoull (rss, NULL, 10) : 0;
        s_forget_hot (server);
        at = 0;
        for (const char *hash;
             server->n_hot < MAX_HOT && (hash = s_item (data, (size_t) n, &at, "hot"));)
            if ((server->hot [server->n_hot] = strdup (hash)))
                server->n_hot++;
    }
    server->owner->on_reply (server->owner->arg);
    return 0;
}

/* Starts the server's process with its end of a new socket as fd 3: 0,
   SEGQ_ENOENT (segq-run not executable) or SEGQ_EIO. */
static int
s_start (segq__gen_server_t *server, char *err, size_t errlen)
{
    segq__gen_servers_t *owner = server->owner;
    int pair [2];
    if (socketpair (AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, pair) != 0) {
        snprintf (err, errlen, "cannot make the generation server's socket: %s", strerror (errno));
        return SEGQ_EIO;
    }
    char cache [64], idle [64], visible [128];
    snprintf (cache, sizeof cache, "--model-cache=%llu", (unsigned long long) owner->cache_bytes);
    snprintf (idle, sizeof idle, "--idle-s=%u", owner->idle_s);
    char *argv [] = { owner->segq_run, "serve", cache, idle, NULL };
    /* the daemon's environment, and the server's GPU as its jobs see theirs */
    size_t n_env = 0;
    while (environ [n_env])
        n_env++;
    char **env = calloc (n_env + 3, sizeof *env);
    int rc = env ? 0 : ENOMEM;
    size_t k = 0;
    for (size_t i = 0; env && i < n_env; i++)
        if (strncmp (environ [i], "CUDA_VISIBLE_DEVICES=", 21) != 0)
            env [k++] = environ [i];
    if (env && strcmp (server->device, "cpu") != 0) {
        snprintf (visible, sizeof visible, "CUDA_VISIBLE_DEVICES=%s", server->device);
        env [k++] = visible;
        env [k++] = "CUDA_DEVICE_ORDER=PCI_BUS_ID";
    }
    posix_spawn_file_actions_t actions;
    posix_spawnattr_t attr;
    bool exec_failed = false; /* segq-run missing or not executable: the node's fault */
    if (!rc && !(rc = posix_spawn_file_actions_init (&actions))) {
        rc = posix_spawn_file_actions_addopen (&actions, 0, "/dev/null", O_RDONLY, 0);
        if (!rc)
            rc = posix_spawn_file_actions_adddup2 (&actions, pair [1], CONTROL_FD);
        if (!rc)
            rc = posix_spawn_file_actions_addclosefrom_np (&actions, CONTROL_FD + 1);
        if (!rc && !(rc = segq__spawn_attr_init (&attr))) {
            rc = posix_spawn (&server->pid, owner->segq_run, &actions, &attr, argv, env);
            exec_failed = rc != 0;
            posix_spawnattr_destroy (&attr);
        }
        posix_spawn_file_actions_destroy (&actions);
    }
    free (env);
    close (pair [1]);
    if (rc) {
        close (pair [0]);
        server->pid = 0;
        snprintf (err, errlen, "cannot start %s serve: %s", owner->segq_run, strerror (rc));
        return exec_failed ? SEGQ_ENOENT : SEGQ_EIO;
    }
    server->sock = pair [0];
    server->item = (zmq_pollitem_t){ .fd = server->sock, .events = ZMQ_POLLIN };
    zloop_poller (owner->loop, &server->item, s_on_answer, server);
    return 0;
}

/* Appends "key=value\0" to buf at *used; false if it does not fit. */
static bool
s_put (char *buf, size_t *used, const char *key, const char *value)
{
    int n = snprintf (buf + *used, MESSAGE_MAX - *used, "%s=%s", key, value);
    if (n < 0 || (size_t) n + 1 > MESSAGE_MAX - *used)
        return false;
    *used += (size_t) n + 1;
    return true;
}

int
segq__gen_server_run (segq__gen_server_t *self, char *const *argv, char *const *env,
                      const char *cwd, int log_fd, int progress_fd, pid_t *pid, char *err,
                      size_t errlen)
{
    static char buf [MESSAGE_MAX];
    size_t used = 0;
    bool fits = s_put (buf, &used, "cwd", cwd);
    for (size_t i = 0; fits && env [i]; i++)
        fits = s_put (buf, &used, "env", env [i]);
    for (size_t i = 0; fits && argv [i]; i++)
        fits = s_put (buf, &used, "arg", argv [i]);
    if (!fits) {
        snprintf (err, errlen, "the job's command line is over %d bytes", MESSAGE_MAX);
        return SEGQ_EIO;
    }
    int rc = self->pid ? 0 : s_start (self, err, errlen);
    if (rc)
        return rc;
    int fds [2] = { log_fd, progress_fd };
    char control [CMSG_SPACE (sizeof fds)] = { 0 };
    struct iovec iov = { .iov_base = buf, .iov_len = used };
    struct msghdr msg = {
        .msg_iov = &iov, .msg_iovlen = 1, .msg_control = control, .msg_controllen = sizeof control
    };
    struct cmsghdr *cmsg = CMSG_FIRSTHDR (&msg);
    cmsg->cmsg_level = SOL_SOCKET;
    cmsg->cmsg_type = SCM_RIGHTS;
    cmsg->cmsg_len = CMSG_LEN (sizeof fds);
    memcpy (CMSG_DATA (cmsg), fds, sizeof fds);
    ssize_t sent;
    while ((sent = sendmsg (self->sock, &msg, MSG_NOSIGNAL)) < 0 && errno == EINTR)
        ;
    if (sent != (ssize_t) used) {
        /* a server that cannot take a job is of no use: start afresh next time */
        snprintf (err, errlen, "cannot send the job to the generation server: %s",
                  sent < 0 ? strerror (errno) : "short write");
        segq__gen_server_kill (self);
        return SEGQ_EIO;
    }
    self->busy = true;
    self->answered = false;
    *pid = self->pid;
    return 0;
}

bool
segq__gen_server_result (segq__gen_server_t *self, segq__job_exit_t *exit)
{
    if (!self->busy)
        return false;
    if (self->answered) {
        exit->exit_code = self->exit_code;
        exit->signal = 0;
        exit->cpu_seconds = self->cpu_seconds;
        exit->max_rss = self->max_rss;
    } else {
        int status = 0;
        if (!s_ended (self, &status))
            return false;
        exit->exit_code = WIFEXITED (status) ? WEXITSTATUS (status) : -1;
        exit->signal = WIFSIGNALED (status) ? WTERMSIG (status) : 0;
        /* a server that exits between jobs is no job's failure; during one it is */
        if (exit->exit_code == 0 && !exit->signal)
            exit->exit_code = -1;
    }
    self->busy = self->answered = false;
    return true;
}

size_t
segq__gen_servers_hot (segq__gen_servers_t *self, segq_hot_model_t *out, size_t max)
{
    size_t n = 0;
    for (size_t i = 0; i < self->n_servers; i++) {
        segq__gen_server_t *server = &self->servers [i];
        for (size_t k = 0; server->pid && k < server->n_hot && n < max; k++) {
            out [n].gpu = server->gpu;
            snprintf (out [n++].hash, sizeof out->hash, "%s", server->hot [k]);
        }
    }
    return n;
}
