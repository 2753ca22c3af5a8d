/*  test_notify.c: segqd and segq-worker tell systemd (sd_notify) when they
    serve and when they stop, checked without systemd: the test binds the
    AF_UNIX datagram socket systemd would, starts the daemon with
    NOTIFY_SOCKET naming it, and reads what arrives.

    segqd: READY=1 only once its endpoint takes connections and its
    database exists, STOPPING=1 on SIGTERM, then exit 0. segq-worker:
    nothing while its broker is down, READY=1 once registered, STOPPING=1
    when SIGTERM starts the drain. segqd reads deploy/segqd.conf.example, so
    the installed example is checked to parse too. */
#define _GNU_SOURCE
#include <criterion/criterion.h>
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

typedef struct {
    char dir [256];
    char socket_path [300];
    int sock;
} notify_t;

/* A temp dir with the notify socket bound in it, NOTIFY_SOCKET set to it
   for the children this test starts. */
static void
s_notify_open (notify_t *n)
{
    snprintf (n->dir, sizeof n->dir, "/tmp/segq-notify-XXXXXX");
    cr_assert_not_null (mkdtemp (n->dir));
    snprintf (n->socket_path, sizeof n->socket_path, "%s/notify", n->dir);
    n->sock = socket (AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    cr_assert_geq (n->sock, 0);
    struct sockaddr_un addr = { .sun_family = AF_UNIX };
    cr_assert_lt (strlen (n->socket_path), sizeof addr.sun_path);
    memcpy (addr.sun_path, n->socket_path, strlen (n->socket_path) + 1);
    cr_assert_eq (bind (n->sock, (struct sockaddr *) &addr, sizeof addr), 0, "bind: %s",
                  strerror (errno));
    setenv ("NOTIFY_SOCKET", n->socket_path, 1);
}

static void
s_notify_close (notify_t *n)
{
    unsetenv ("NOTIFY_SOCKET");
    close (n->sock);
    char cmd [300];
    snprintf (cmd, sizeof cmd, "rm -rf '%s'", n->dir);
    cr_assert_eq (system (cmd), 0);
}

/* The next datagram within timeout_ms into buf: 0, or -1 when none came. */
static int
s_notify_next (notify_t *n, char *buf, size_t len, int timeout_ms)
{
    struct pollfd p = { .fd = n->sock, .events = POLLIN };
    if (poll (&p, 1, timeout_ms) != 1)
        return -1;
    ssize_t got = recv (n->sock, buf, len - 1, 0);
    if (got < 0)
        return -1;
    buf [got] = 0;
    return 0;
}

/* Whether `message` has the line `line`. */
static bool
s_has_line (const char *message, const char *line)
{
    size_t len = strlen (line);
    for (const char *p = message; p; p = strchr (p, '\n'), p = p ? p + 1 : NULL)
        if (strncmp (p, line, len) == 0 && (p [len] == '\n' || p [len] == 0))
            return true;
    return false;
}

/* A daemon of the build tree, dying with the test; stdout and stderr to
   `log`. */
static pid_t
s_start (const char *log, const char *const *argv)
{
    pid_t pid = fork ();
    cr_assert_geq (pid, 0);
    if (pid == 0) {
        prctl (PR_SET_PDEATHSIG, SIGKILL);
        FILE *out = freopen (log, "a", stdout);
        if (!out || dup2 (fileno (stdout), 2) < 0)
            _exit (126);
        execv (argv [0], (char *const *) argv);
        _exit (127);
    }
    return pid;
}

/* Its exit status after SIGTERM, at most timeout_ms later (-1: it had to
   be killed). */
static int
s_stop (pid_t pid, int timeout_ms)
{
    kill (pid, SIGTERM);
    for (int waited = 0; waited < timeout_ms; waited += 10) {
        int status;
        if (waitpid (pid, &status, WNOHANG) == pid)
            return WIFEXITED (status) ? WEXITSTATUS (status) : -1;
        usleep (10000);
    }
    kill (pid, SIGKILL);
    waitpid (pid, NULL, 0);
    return -1;
}

/* Connects to tcp://127.0.0.1:PORT: whether it took the connection. */
static bool
s_connectable (int port)
{
    int fd = socket (AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    struct sockaddr_in addr = { .sin_family = AF_INET, .sin_port = htons ((uint16_t) port) };
    addr.sin_addr.s_addr = htonl (INADDR_LOOPBACK);
    bool ok = fd >= 0 && connect (fd, (struct sockaddr *) &addr, sizeof addr) == 0;
    if (fd >= 0)
        close (fd);
    return ok;
}

/* A loopback port nobody listens on now. */
static int
s_free_port (void)
{
    int fd = socket (AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    struct sockaddr_in addr = { .sin_family = AF_INET };
    addr.sin_addr.s_addr = htonl (INADDR_LOOPBACK);
    socklen_t len = sizeof addr;
    cr_assert_eq (bind (fd, (struct sockaddr *) &addr, sizeof addr), 0);
    cr_assert_eq (getsockname (fd, (struct sockaddr *) &addr, &len), 0);
    close (fd);
    return ntohs (addr.sin_port);
}

static void
s_path (char *out, size_t len, const char *root, const char *leaf)
{
    snprintf (out, len, "%s/%s", root, leaf);
}

/* Lines of the file at path that hold `text`. */
static int
s_count_lines (const char *path, const char *text)
{
    FILE *f = fopen (path, "r");
    cr_assert_not_null (f, "cannot read %s", path);
    char line [2048];
    int n = 0;
    while (fgets (line, sizeof line, f))
        n += strstr (line, text) != NULL;
    fclose (f);
    return n;
}

/* Under ASan a daemon's start takes seconds; generous bounds, never waited
   for in full when things work. */
#define START_MS 30000

Test (notify, segqd_ready_once_serving_and_stopping_on_sigterm)
{
    notify_t n;
    s_notify_open (&n);
    char segqd [512], config [512], data [512], log [512];
    s_path (segqd, sizeof segqd, SEGQ_BINARY_DIR, "broker/segqd");
    s_path (config, sizeof config, SEGQ_SOURCE_DIR, "deploy/segqd.conf.example");
    s_path (data, sizeof data, n.dir, "data");
    s_path (log, sizeof log, n.dir, "segqd.log");
    const char *argv [] = { segqd,  "--bind", "tcp://127.0.0.1:*", "--data-dir", data, "--config",
                            config, NULL };
    pid_t pid = s_start (log, argv);

    char message [1024];
    cr_assert_eq (s_notify_next (&n, message, sizeof message, START_MS), 0,
                  "segqd sent nothing (log: %s)", log);
    cr_assert (s_has_line (message, "READY=1"), "the first notice is not READY=1: '%s'", message);
    int port = 0;
    const char *status = strstr (message, "STATUS=serving on tcp://127.0.0.1:");
    cr_assert_not_null (status, "no endpoint in '%s'", message);
    port = atoi (status + strlen ("STATUS=serving on tcp://127.0.0.1:"));
    cr_assert_gt (port, 0);
    /* at READY, not a moment later: bound and the store open already */
    cr_assert (s_connectable (port), "READY=1 came before port %d took connections", port);
    char db [600];
    struct stat st;
    s_path (db, sizeof db, data, "segq.db");
    cr_assert_eq (stat (db, &st), 0, "READY=1 came before %s existed", db);

    kill (pid, SIGTERM);
    cr_assert_eq (s_notify_next (&n, message, sizeof message, START_MS), 0,
                  "nothing after SIGTERM");
    cr_assert (s_has_line (message, "STOPPING=1"), "not STOPPING=1: '%s'", message);
    cr_assert_eq (s_stop (pid, START_MS), 0, "segqd did not exit 0 (log: %s)", log);
    s_notify_close (&n);
}

Test (notify, worker_ready_once_registered_and_stopping_on_drain)
{
    notify_t n;
    s_notify_open (&n);
    char segqd [512], worker [512], testkind [512], data [512], work [512];
    char broker_log [512], worker_log [512], endpoint [64];
    s_path (segqd, sizeof segqd, SEGQ_BINARY_DIR, "broker/segqd");
    s_path (worker, sizeof worker, SEGQ_BINARY_DIR, "worker/segq-worker");
    s_path (testkind, sizeof testkind, SEGQ_BINARY_DIR, "worker/segq-testkind");
    s_path (data, sizeof data, n.dir, "data");
    s_path (work, sizeof work, n.dir, "work");
    s_path (broker_log, sizeof broker_log, n.dir, "segqd.log");
    s_path (worker_log, sizeof worker_log, n.dir, "worker.log");
    snprintf (endpoint, sizeof endpoint, "tcp://127.0.0.1:%d", s_free_port ());

    /* the worker first: its broker is not there yet */
    const char *wargv [] = { worker, "--broker",   endpoint, "--node",      "n1", "--work-dir",
                             work,   "--gpus",     "",       "--cpu-slots", "1",  "--kinds",
                             "noop", "--testkind", testkind, NULL };
    pid_t wpid = s_start (worker_log, wargv);
    char message [1024];
    cr_assert_neq (s_notify_next (&n, message, sizeof message, 1500), 0,
                   "the worker said '%s' with no broker to register with", message);

    /* the broker's own notices must not mix in: it gets no NOTIFY_SOCKET */
    unsetenv ("NOTIFY_SOCKET");
    const char *bargv [] = { segqd, "--bind", endpoint, "--data-dir", data, NULL };
    pid_t bpid = s_start (broker_log, bargv);
    setenv ("NOTIFY_SOCKET", n.socket_path, 1);

    cr_assert_eq (s_notify_next (&n, message, sizeof message, START_MS), 0,
                  "the worker sent nothing (log: %s, broker: %s)", worker_log, broker_log);
    cr_assert (s_has_line (message, "READY=1"), "not READY=1: '%s'", message);
    cr_assert_not_null (strstr (message, "STATUS=registered with"), "'%s'", message);

    kill (wpid, SIGTERM);
    cr_assert_eq (s_notify_next (&n, message, sizeof message, START_MS), 0,
                  "nothing after SIGTERM");
    cr_assert (s_has_line (message, "STOPPING=1"), "not STOPPING=1: '%s'", message);
    cr_assert_not_null (strstr (message, "STATUS=draining"), "'%s'", message);
    cr_assert_eq (s_stop (wpid, START_MS), 0, "the worker did not exit 0 (log: %s)", worker_log);
    cr_assert_eq (s_stop (bpid, START_MS), 0, "segqd did not exit 0 (log: %s)", broker_log);
    /* the drain's REGISTER is answered too: no second "registered" in the
       journal for it */
    cr_assert_eq (s_count_lines (worker_log, "registered with"), 1, "log: %s", worker_log);
    s_notify_close (&n);
}
