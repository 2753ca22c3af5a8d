/*  harness.c: start, signal and clean up real segq processes for tests. */
#define _XOPEN_SOURCE 700 /* nftw */
#include "harness.h"

#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#ifndef SEGQ_BINARY_DIR
#define SEGQ_BINARY_DIR "."
#endif

static int64_t
s_now_ms (void)
{
    struct timespec ts;
    clock_gettime (CLOCK_MONOTONIC, &ts);
    return (int64_t) ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

void
harness_sleep_ms (int ms)
{
    struct timespec ts = { ms / 1000, (long) (ms % 1000) * 1000000L };
    while (nanosleep (&ts, &ts) != 0 && errno == EINTR)
        ;
}

const char *
harness_binary (const char *name)
{
    static char paths [4][1024];
    static int next;
    const char *bin = getenv ("SEGQ_BINARY_DIR");
    if (!bin || !*bin)
        bin = SEGQ_BINARY_DIR;
    static const char *subdirs [] = { "broker", "worker", "client", "tests", "bin", "." };
    char *path = paths [next++ % 4];
    for (size_t i = 0; i < sizeof subdirs / sizeof subdirs [0]; i++) {
        snprintf (path, sizeof paths [0], "%s/%s/%s", bin, subdirs [i], name);
        if (access (path, X_OK) == 0)
            return path;
    }
    fprintf (stderr, "harness: binary '%s' not found under %s (build it, or set SEGQ_BINARY_DIR)\n",
             name, bin);
    abort ();
}

harness_t *
harness_new (const char *name)
{
    harness_t *self = calloc (1, sizeof *self);
    if (!self)
        return NULL;
    const char *tmp = getenv ("TMPDIR");
    snprintf (self->dir, sizeof self->dir, "%s/segq-%s-XXXXXX", tmp && *tmp ? tmp : "/tmp", name);
    if (!mkdtemp (self->dir)) {
        fprintf (stderr, "harness: cannot create %s: %s\n", self->dir, strerror (errno));
        free (self);
        return NULL;
    }
    snprintf (self->data_dir, sizeof self->data_dir, "%s/broker", self->dir);
    snprintf (self->journal, sizeof self->journal, "%s/journal", self->dir);
    snprintf (self->broker_log, sizeof self->broker_log, "%s/segqd.log", self->dir);
    /* Near the production defaults (1000/5000): on two loaded cores under
       ASan, a broker turn that fsyncs can take a few hundred ms. Fault
       tests lower them to see a lost worker sooner. */
    self->port_lock = -1;
    self->heartbeat_ms = 500;
    self->expiry_ms = 4000;
    if (getenv ("SEGQ_KEEP_TMP"))
        fprintf (stderr, "harness: %s\n", self->dir);
    return self;
}

static void
s_reap (pid_t *pid)
{
    if (*pid <= 0)
        return;
    kill (*pid, SIGKILL);
    while (waitpid (*pid, NULL, 0) < 0 && errno == EINTR)
        ;
    *pid = 0;
}

static int
s_rm (const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
    remove (path); /* best effort: keep removing the rest */
    return 0;
}

void
harness_destroy (harness_t **self_p)
{
    harness_t *self = *self_p;
    if (!self)
        return;
    for (int i = 0; i < self->n_workers; i++)
        s_reap (&self->workers [i].pid);
    s_reap (&self->broker);
    if (self->port_lock >= 0)
        close (self->port_lock);
    if (!getenv ("SEGQ_KEEP_TMP"))
        nftw (self->dir, s_rm, 16, FTW_DEPTH | FTW_PHYS);
    free (self);
    *self_p = NULL;
}

/* fork + exec with stdout/stderr appended to `log` and extra environment
   "NAME=VALUE" entries (NULL-terminated, or NULL). */
static pid_t
s_spawn (const char *const *argv, const char *log, const char *const *env)
{
    pid_t parent = getpid ();
    pid_t pid = fork ();
    if (pid != 0)
        return pid;
    /* Die with the test, even when it is killed for its timeout. */
    prctl (PR_SET_PDEATHSIG, SIGKILL);
    if (getppid () != parent)
        _exit (127);
    setpgid (0, 0); /* the test's own signals (Ctrl-C) are not ours */
    int fd = open (log, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
    if (fd >= 0) {
        dup2 (fd, STDOUT_FILENO);
        dup2 (fd, STDERR_FILENO);
    }
    int null = open ("/dev/null", O_RDONLY);
    if (null >= 0)
        dup2 (null, STDIN_FILENO);
    for (size_t i = 0; env && env [i]; i++)
        putenv ((char *) env [i]);
    execv (argv [0], (char *const *) argv);
    fprintf (stderr, "harness: cannot exec %s: %s\n", argv [0], strerror (errno));
    _exit (127);
}

/* Wait for `path` to hold a complete line; copy it (without newline) to
   out. Fails early if `pid` exits. */
static int
s_wait_ready (const char *path, pid_t *pid, int timeout_ms, char *out, size_t outlen)
{
    int64_t deadline = s_now_ms () + timeout_ms;
    while (s_now_ms () < deadline) {
        FILE *f = fopen (path, "r");
        if (f) {
            char line [512];
            bool ok = fgets (line, sizeof line, f) && strchr (line, '\n');
            fclose (f);
            if (ok) {
                line [strcspn (line, "\n")] = 0;
                if (out)
                    snprintf (out, outlen, "%.*s", (int) outlen - 1, line);
                return 0;
            }
        }
        int status;
        if (waitpid (*pid, &status, WNOHANG) == *pid) {
            *pid = 0;
            return -1;
        }
        harness_sleep_ms (10);
    }
    return -1;
}

/* A port of our own for this harness's whole life. A killed broker's port
   must not be taken by anyone before it restarts there (else its workers
   would reconnect to another test's broker): the ports come from below the
   kernel's ephemeral range, so no `tcp://...:*` bind can get them, and a
   lock file per port keeps the harnesses of parallel tests apart. */
static int
s_claim_port (harness_t *self, int avoid)
{
    const char *tmp = getenv ("TMPDIR");
    char dir [256], path [300];
    snprintf (dir, sizeof dir, "%s/segq-harness-ports", tmp && *tmp ? tmp : "/tmp");
    mkdir (dir, 0777);
    unsigned seed = (unsigned) getpid () ^ (unsigned) s_now_ms ();
    for (int tries = 0; tries < 1000; tries++) {
        int port = H_PORT_MIN + (int) (rand_r (&seed) % (H_PORT_MAX - H_PORT_MIN));
        if (port == avoid)
            continue;
        snprintf (path, sizeof path, "%s/%d", dir, port);
        int fd = open (path, O_RDWR | O_CREAT | O_CLOEXEC, 0666);
        if (fd < 0)
            return -1;
        if (flock (fd, LOCK_EX | LOCK_NB) == 0) {
            if (self->port_lock >= 0)
                close (self->port_lock);
            self->port_lock = fd;
            return port;
        }
        close (fd);
    }
    return -1;
}

int
harness_start_broker (harness_t *self, const char *const *extra)
{
    char ready [600], hb [16], exp [16];
    snprintf (ready, sizeof ready, "%s/segqd.ready", self->dir);
    snprintf (hb, sizeof hb, "%d", self->heartbeat_ms);
    snprintf (exp, sizeof exp, "%d", self->expiry_ms);
    mkdir (self->data_dir, 0700);
    bool restart = self->endpoint [0] != 0;
    /* A restart comes back on the same port so that workers find it; the
       port may still be held for a moment by the killed process. A first
       start moves to another port if something outside the harness has it. */
    int port = 0;
    for (int tries = 0; tries < 50; tries++) {
        if (!restart) {
            if ((port = s_claim_port (self, port)) < 0)
                break;
            snprintf (self->endpoint, sizeof self->endpoint, "tcp://127.0.0.1:%d", port);
        }
        unlink (ready);
        const char *argv [48] = { harness_binary ("segqd"),
                                  "--bind",
                                  self->endpoint,
                                  "--data-dir",
                                  self->data_dir,
                                  "--ready-file",
                                  ready,
                                  "--heartbeat-ms",
                                  hb,
                                  "--expiry-ms",
                                  exp };
        size_t n = 11;
        for (size_t i = 0; extra && extra [i] && n < 47; i++)
            argv [n++] = extra [i];
        self->broker = s_spawn (argv, self->broker_log, self->broker_env);
        if (self->broker < 0)
            return -1;
        if (s_wait_ready (ready, &self->broker, 15000, NULL, 0) == 0)
            return 0;
        s_reap (&self->broker);
        harness_sleep_ms (100);
    }
    fprintf (stderr, "harness: segqd did not become ready on %s (log: %s)\n", self->endpoint,
             self->broker_log);
    harness_dump_logs (self);
    return -1;
}

void
harness_preload (harness_t *self, const char *shim, const char *const vars [3])
{
    char (*text) [sizeof self->broker_env_text [0]] = self->broker_env_text;
    const char *asan = getenv ("ASAN_OPTIONS");
    snprintf (text [0], sizeof text [0], "LD_PRELOAD=%s", harness_binary (shim));
    /* the shim comes first in the library list, ahead of ASan's runtime */
    snprintf (text [1], sizeof text [0], "ASAN_OPTIONS=%s%sverify_asan_link_order=0",
              asan ? asan : "", asan && *asan ? ":" : "");
    size_t n = 2;
    for (size_t i = 0; i < 3 && vars [i]; i++)
        snprintf (text [n++], sizeof text [0], "%s", vars [i]);
    for (size_t i = 0; i < n; i++)
        self->broker_env [i] = text [i];
    self->broker_env [n] = NULL;
}

void
harness_slow_disk (harness_t *self, const char *fsync_gate, const char *read_gate,
                   unsigned delay_us)
{
    char vars [3][1200];
    snprintf (vars [0], sizeof vars [0], "SEGQ_TEST_FSYNC_DELAY_US=%u", delay_us);
    snprintf (vars [1], sizeof vars [1], "SEGQ_TEST_FSYNC_GATE=%s", fsync_gate ? fsync_gate : "");
    snprintf (vars [2], sizeof vars [2], "SEGQ_TEST_READ_GATE=%s", read_gate ? read_gate : "");
    harness_preload (self, "segq_test_slow_disk.so",
                     (const char *const []){ vars [0], vars [1], vars [2] });
}

/* SIGTERM and wait up to timeout_ms; describes a bad end in why. */
static int
s_stop_one (pid_t *pid, const char *what, const char *log, int timeout_ms, char *why, size_t len)
{
    if (*pid <= 0)
        return 0;
    kill (*pid, SIGTERM);
    int64_t deadline = s_now_ms () + timeout_ms;
    int status = 0;
    pid_t got;
    while ((got = waitpid (*pid, &status, WNOHANG)) == 0 && s_now_ms () < deadline)
        harness_sleep_ms (10);
    if (got != *pid) {
        s_reap (pid);
        snprintf (why, len, "%s did not exit within %d ms of SIGTERM (log: %s)", what, timeout_ms,
                  log);
        return -1;
    }
    *pid = 0;
    if (WIFEXITED (status) && WEXITSTATUS (status) == 0)
        return 0;
    if (WIFEXITED (status))
        snprintf (why, len, "%s exited with status %d after SIGTERM (log: %s)", what,
                  WEXITSTATUS (status), log);
    else
        snprintf (why, len, "%s died of signal %d after SIGTERM (log: %s)", what, WTERMSIG (status),
                  log);
    return -1;
}

int
harness_stop (harness_t *self, char *why, size_t len)
{
    int rc = 0;
    why [0] = 0;
    for (int i = 0; i < self->n_workers; i++) {
        h_worker_t *w = &self->workers [i];
        char what [128];
        snprintf (what, sizeof what, "segq-worker %s", w->node);
        if (s_stop_one (&w->pid, what, w->log, 15000, why, len) != 0)
            rc = -1;
    }
    if (s_stop_one (&self->broker, "segqd", self->broker_log, 15000, rc ? why + strlen (why) : why,
                    rc ? len - strlen (why) : len)
        != 0)
        rc = -1;
    return rc;
}

void
harness_signal_broker (harness_t *self, int sig)
{
    if (self->broker <= 0)
        return;
    kill (self->broker, sig);
    if (sig == SIGKILL)
        s_reap (&self->broker);
    else if (sig == SIGTERM || sig == SIGINT) {
        int64_t deadline = s_now_ms () + 10000;
        while (s_now_ms () < deadline && waitpid (self->broker, NULL, WNOHANG) == 0)
            harness_sleep_ms (10);
        s_reap (&self->broker);
    }
}

int
harness_start_worker (harness_t *self, const char *node, int cpu_slots, const char *const *extra)
{
    if (self->n_workers >= H_MAX_WORKERS)
        return -1;
    int index = self->n_workers++;
    h_worker_t *w = &self->workers [index];
    snprintf (w->node, sizeof w->node, "%s", node);
    char dir [sizeof self->dir];
    memcpy (dir, self->dir, sizeof dir); /* not a field of *self: no overlap for snprintf */
    snprintf (w->log, sizeof w->log, "%s/worker-%s.log", dir, node);
    snprintf (w->ready, sizeof w->ready, "%s/worker-%s.ready", dir, node);
    snprintf (w->work_dir, sizeof w->work_dir, "%s/work-%s", dir, node);
    snprintf (w->cache_dir, sizeof w->cache_dir, "%s/cache-%s", dir, node);
    mkdir (w->work_dir, 0700);
    mkdir (w->cache_dir, 0700);
    unlink (w->ready);
    char slots [16];
    snprintf (slots, sizeof slots, "%d", cpu_slots);
    const char *argv [48] = { harness_binary ("segq-worker"), "--broker", self->endpoint, "--node",
                              node, "--cpu-slots", slots, "--work-dir", w->work_dir, "--cache-dir",
                              w->cache_dir, "--ready-file", w->ready, "--kill-grace-ms", "1000",
                              /* generate as a child of its own, as stand-in
                                 segq-run scripts expect; a test may give
                                 another --model-cache in extra */
                              "--model-cache", "0" };
    size_t n = 17;
    for (size_t i = 0; extra && extra [i] && n < 47; i++)
        argv [n++] = extra [i];
    /* putenv keeps the pointer: static storage per worker slot. */
    static char journal_env [H_MAX_WORKERS][600];
    snprintf (journal_env [index], sizeof journal_env [0], "SEGQ_TEST_JOURNAL=%s", self->journal);
    const char *env [] = { journal_env [index], NULL };
    w->pid = s_spawn (argv, w->log, env);
    if (w->pid < 0 || s_wait_ready (w->ready, &w->pid, 15000, NULL, 0) != 0) {
        fprintf (stderr, "harness: worker %s did not register (log: %s)\n", node, w->log);
        harness_dump_logs (self);
        return -1;
    }
    return index;
}

void
harness_signal_worker (harness_t *self, int index, int sig)
{
    h_worker_t *w = &self->workers [index];
    if (w->pid <= 0)
        return;
    kill (w->pid, sig);
    if (sig == SIGKILL)
        s_reap (&w->pid);
}

bool
harness_worker_alive (harness_t *self, int index)
{
    h_worker_t *w = &self->workers [index];
    if (w->pid <= 0)
        return false;
    if (waitpid (w->pid, NULL, WNOHANG) == w->pid) {
        w->pid = 0;
        return false;
    }
    return true;
}

segq_client_t *
harness_client (harness_t *self, int timeout_ms)
{
    /* no hash cache: tests do not write to the user's home */
    segq_client_options_t options = { .broker = self->endpoint,
                                      .user = H_USER,
                                      .timeout_ms = timeout_ms ? timeout_ms : 5000,
                                      .hash_cache = "" };
    segq_client_t *client = NULL;
    char err [512];
    if (segq_client_connect (&options, &client, err, sizeof err) < 0)
        fprintf (stderr, "harness: %s\n", err);
    return client;
}

static void
s_read_all (int fd, char *buf, size_t len)
{
    size_t used = 0;
    char scratch [4096];
    for (;;) {
        char *dst = used + 1 < len ? buf + used : scratch;
        size_t room = used + 1 < len ? len - 1 - used : sizeof scratch;
        ssize_t n = read (fd, dst, room);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            break;
        if (dst != scratch)
            used += (size_t) n;
    }
    if (len)
        buf [used < len ? used : len - 1] = 0;
}

int
harness_cli (harness_t *self, char *out, size_t outlen, char *err, size_t errlen,
             const char *const *args)
{
    char out_path [600], err_path [600];
    snprintf (out_path, sizeof out_path, "%s/cli.out", self->dir);
    snprintf (err_path, sizeof err_path, "%s/cli.err", self->dir);
    const char *argv [64] = { harness_binary ("segq"), "--broker", self->endpoint };
    size_t n = 3;
    for (size_t i = 0; args [i] && n < 63; i++)
        argv [n++] = args [i];
    pid_t pid = fork ();
    if (pid < 0)
        return -1;
    if (pid == 0) {
        prctl (PR_SET_PDEATHSIG, SIGKILL);
        int o = open (out_path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
        int e = open (err_path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
        if (o < 0 || e < 0)
            _exit (127);
        dup2 (o, STDOUT_FILENO);
        dup2 (e, STDERR_FILENO);
        /* the CLI acts as the harness's clients do (without keys), so what
           one submits the other may read; a test may say otherwise */
        setenv ("SEGQ_USER", H_USER, 0);
        execv (argv [0], (char *const *) argv);
        _exit (127);
    }
    int status;
    while (waitpid (pid, &status, 0) < 0 && errno == EINTR)
        ;
    int fd = open (out_path, O_RDONLY);
    if (fd >= 0) {
        s_read_all (fd, out, outlen);
        close (fd);
    }
    fd = open (err_path, O_RDONLY);
    if (fd >= 0) {
        s_read_all (fd, err, errlen);
        close (fd);
    }
    return WIFEXITED (status) ? WEXITSTATUS (status) : -1;
}

int
harness_wait_state (segq_client_t *client, const char *job, segq_job_state_t state, int timeout_ms)
{
    int64_t deadline = s_now_ms () + timeout_ms;
    do {
        segq_job_info_t info;
        int rc = segq_client_job (client, job, false, &info);
        if (rc < 0 && rc != SEGQ_ETIMEOUT && rc != SEGQ_EUNAVAIL)
            return rc;
        segq_job_state_t now = rc == 0 ? info.state : 0;
        if (rc == 0)
            segq_job_info_clear (&info);
        if (now == state)
            return 0;
        harness_sleep_ms (20);
    } while (s_now_ms () < deadline);
    return SEGQ_ETIMEOUT;
}

int
harness_wait_final (segq_client_t *client, const char *job, int timeout_ms, segq_job_info_t *info)
{
    int64_t deadline = s_now_ms () + timeout_ms;
    memset (info, 0, sizeof *info);
    do {
        int rc = segq_client_job (client, job, false, info);
        if (rc < 0 && rc != SEGQ_ETIMEOUT && rc != SEGQ_EUNAVAIL)
            return rc;
        if (rc == 0 && segq_job_state_final (info->state))
            return 0;
        if (rc == 0)
            segq_job_info_clear (info);
        harness_sleep_ms (20);
    } while (s_now_ms () < deadline);
    return SEGQ_ETIMEOUT;
}

static int
s_entry_cmp (const void *a, const void *b)
{
    const h_journal_entry_t *x = a, *y = b;
    int c = strcmp (x->job, y->job);
    return c ? c : (x->attempt > y->attempt) - (x->attempt < y->attempt);
}

h_journal_entry_t *
harness_journal (harness_t *self, size_t *n)
{
    *n = 0;
    FILE *f = fopen (self->journal, "r");
    if (!f)
        return NULL;
    size_t cap = 0;
    h_journal_entry_t *entries = NULL;
    char line [256];
    while (fgets (line, sizeof line, f)) {
        h_journal_entry_t e;
        char fmt [32];
        snprintf (fmt, sizeof fmt, "%%%ds %%u", SEGQ_JOB_ID_MAX - 1);
        if (sscanf (line, fmt, e.job, &e.attempt) != 2)
            continue;
        if (*n == cap) {
            cap = cap ? cap * 2 : 256;
            h_journal_entry_t *grown = realloc (entries, cap * sizeof *entries);
            if (!grown)
                break;
            entries = grown;
        }
        entries [(*n)++] = e;
    }
    fclose (f);
    if (entries)
        qsort (entries, *n, sizeof *entries, s_entry_cmp);
    return entries;
}

uint64_t
harness_journal_attempts (const h_journal_entry_t *j, size_t n, const char *job, int *dups)
{
    size_t lo = 0, hi = n;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (strcmp (j [mid].job, job) < 0)
            lo = mid + 1;
        else
            hi = mid;
    }
    uint64_t set = 0;
    for (size_t k = lo; k < n && strcmp (j [k].job, job) == 0; k++) {
        uint64_t bit = j [k].attempt < 64 ? 1ull << j [k].attempt : 0;
        if (set & bit)
            (*dups)++;
        set |= bit;
    }
    return set;
}

int
harness_wait_journal (harness_t *self, const char *job, unsigned attempt, int timeout_ms)
{
    for (int waited = 0; waited <= timeout_ms; waited += 10) {
        size_t n;
        int dups = 0;
        h_journal_entry_t *j = harness_journal (self, &n);
        uint64_t set = harness_journal_attempts (j, n, job, &dups);
        free (j);
        if (attempt ? set & (1ull << attempt) : set)
            return 0;
        harness_sleep_ms (10);
    }
    return SEGQ_ETIMEOUT;
}

int
harness_wait_text (const char *path, const char *text, int timeout_ms)
{
    static char content [1 << 20];
    for (int waited = 0; waited <= timeout_ms; waited += 20) {
        int fd = open (path, O_RDONLY);
        if (fd >= 0) {
            s_read_all (fd, content, sizeof content);
            close (fd);
            if (strstr (content, text))
                return 0;
        }
        harness_sleep_ms (20);
    }
    return SEGQ_ETIMEOUT;
}

static void
s_tail (const char *path, size_t bytes)
{
    FILE *f = fopen (path, "r");
    if (!f)
        return;
    fseek (f, 0, SEEK_END);
    long size = ftell (f);
    fseek (f, size > (long) bytes ? size - (long) bytes : 0, SEEK_SET);
    fprintf (stderr, "---- %s (last %zu bytes) ----\n", path, bytes);
    char buf [4096];
    size_t n;
    while ((n = fread (buf, 1, sizeof buf, f)) > 0)
        fwrite (buf, 1, n, stderr);
    fclose (f);
}

long
harness_worker_log_number (harness_t *self, int index, const char *key, const char *also,
                           int timeout_ms)
{
    const char *path = self->workers [index].log;
    if (harness_wait_text (path, key, timeout_ms) != 0)
        return 0;
    FILE *f = fopen (path, "r");
    char line [1024];
    long number = 0;
    while (f && fgets (line, sizeof line, f))
        if (strstr (line, key) && (!also || strstr (line, also)))
            number = atol (strstr (line, key) + strlen (key));
    if (f)
        fclose (f);
    return number;
}

pid_t
harness_gen_server_of (harness_t *self, int index, const char *job, int timeout_ms)
{
    char key [64];
    snprintf (key, sizeof key, "%s#1: generate started (pid ", job);
    return (pid_t) harness_worker_log_number (self, index, key, "generation server", timeout_ms);
}

void
harness_dump_logs (harness_t *self)
{
    s_tail (self->broker_log, 3000);
    for (int i = 0; i < self->n_workers; i++)
        s_tail (self->workers [i].log, 2000);
}

int
harness_write_random_file (const char *path, size_t size, unsigned seed)
{
    FILE *f = fopen (path, "wb");
    if (!f)
        return -1;
    uint64_t x = seed * 0x9E3779B97F4A7C15ULL + 1;
    uint64_t buf [8192];
    size_t left = size;
    while (left > 0) {
        for (size_t i = 0; i < 8192; i++) {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            buf [i] = x;
        }
        size_t n = left < sizeof buf ? left : sizeof buf;
        if (fwrite (buf, 1, n, f) != n) {
            fclose (f);
            return -1;
        }
        left -= n;
    }
    return fclose (f) == 0 ? 0 : -1;
}

int
harness_submit (harness_t *self, const char *const *argv, char *id, size_t idlen, char *err,
                size_t errlen)
{
    char out [1024];
    int rc = harness_cli (self, out, sizeof out, err, errlen, argv);
    out [strcspn (out, "\r\n")] = 0;
    if (rc != 0 || !out [0] || strlen (out) >= idlen) {
        if (rc == 0)
            snprintf (err, errlen, "segq submit printed no job id: '%s'", out);
        return -1;
    }
    memcpy (id, out, strlen (out) + 1);
    return 0;
}

int
harness_write_script (const char *path, const char *text)
{
    FILE *f = fopen (path, "w");
    if (!f)
        return -1;
    bool ok = fputs (text, f) >= 0;
    ok = fclose (f) == 0 && ok;
    return ok && chmod (path, 0755) == 0 ? 0 : -1;
}
