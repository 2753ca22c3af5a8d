/*  test_cli.c: the segq command without a real broker: --help everywhere,
    exit codes, and bad command lines refused before anything is sent (a
    ROUTER socket stands where the broker would be and must hear nothing). */
#include <criterion/criterion.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "segq_client.h"

static char s_out[16384], s_err[16384];

static const char *
s_segq (void)
{
    static char path[1024];
    const char *bin = getenv ("SEGQ_BINARY_DIR");
    snprintf (path, sizeof path, "%s/client/segq", bin && *bin ? bin : SEGQ_BINARY_DIR);
    cr_assert_eq (access (path, X_OK), 0, "segq not built at %s", path);
    return path;
}

static void
s_slurp (int fd, char *buf, size_t len)
{
    size_t used = 0;
    ssize_t n;
    while (used + 1 < len && (n = read (fd, buf + used, len - 1 - used)) > 0)
        used += (size_t) n;
    buf[used] = 0;
}

/* Run segq with argv (NULL-terminated, without "segq"); exit status. */
static int
s_run (const char *const *args)
{
    const char *argv[32] = { s_segq () };
    size_t n = 1;
    for (size_t i = 0; args[i]; i++)
        argv[n++] = args[i];
    char out_path[] = "/tmp/segq-cli-out-XXXXXX", err_path[] = "/tmp/segq-cli-err-XXXXXX";
    int o = mkstemp (out_path), e = mkstemp (err_path);
    cr_assert (o >= 0 && e >= 0);
    pid_t pid = fork ();
    if (pid == 0) {
        dup2 (o, STDOUT_FILENO);
        dup2 (e, STDERR_FILENO);
        execv (argv[0], (char *const *) argv);
        _exit (127);
    }
    int status;
    while (waitpid (pid, &status, 0) < 0 && errno == EINTR)
        ;
    lseek (o, 0, SEEK_SET);
    lseek (e, 0, SEEK_SET);
    s_slurp (o, s_out, sizeof s_out);
    s_slurp (e, s_err, sizeof s_err);
    close (o);
    close (e);
    unlink (out_path);
    unlink (err_path);
    cr_assert (WIFEXITED (status), "segq died: %s", s_err);
    return WEXITSTATUS (status);
}

Test (cli, help_on_every_command, .timeout = 30)
{
    static const char *commands[] = { "submit", "status", "wait", "cancel", "fetch", "logs", "workers" };
    const char *top[] = { "--help", NULL };
    cr_assert_eq (s_run (top), 0);
    static char top_help[sizeof s_out];
    memcpy (top_help, s_out, sizeof s_out);
    for (size_t i = 0; i < sizeof commands / sizeof commands[0]; i++) {
        cr_assert (strstr (top_help, commands[i]), "segq --help does not list %s", commands[i]);
        const char *args[] = { commands[i], "--help", NULL };
        cr_assert_eq (s_run (args), 0, "segq %s --help: %s", commands[i], s_err);
        cr_assert (strstr (s_out, "usage: segq"), "segq %s --help printed: %s", commands[i], s_out);
    }
    /* submit's help comes from the schema table: every kind and parameter. */
    const char *submit[] = { "submit", "--help", NULL };
    cr_assert_eq (s_run (submit), 0);
    memcpy (top_help, s_out, sizeof s_out);
    size_t n;
    const segq_kind_spec_t *kinds = segq_kinds (&n);
    for (size_t k = 0; k < n; k++) {
        cr_assert (strstr (top_help, kinds[k].name), "submit --help lacks kind %s", kinds[k].name);
        const char *kind_help[] = { "submit", kinds[k].name, "--help", NULL };
        cr_assert_eq (s_run (kind_help), 0);
        for (size_t p = 0; p < kinds[k].n_params; p++)
            cr_assert (strstr (s_out, kinds[k].params[p].name), "submit %s --help lacks %s",
                       kinds[k].name, kinds[k].params[p].name);
    }
}

Test (cli, usage_errors_exit_2, .timeout = 30)
{
    const char *none[] = { NULL };
    cr_assert_eq (s_run (none), 2);
    const char *unknown[] = { "frobnicate", NULL };
    cr_assert_eq (s_run (unknown), 2);
    cr_assert (strstr (s_err, "frobnicate"), "%s", s_err);
    const char *bad_opt[] = { "status", "--frob", NULL };
    cr_assert_eq (s_run (bad_opt), 2);
    cr_assert (strstr (s_err, "--frob"), "%s", s_err);
    const char *bad_state[] = { "status", "--state", "sleeping", NULL };
    cr_assert_eq (s_run (bad_state), 2);
    cr_assert (strstr (s_err, "sleeping"), "%s", s_err);
    const char *wait_nothing[] = { "wait", NULL };
    cr_assert_eq (s_run (wait_nothing), 2);
    const char *logs_two[] = { "logs", "A", "B", NULL };
    cr_assert_eq (s_run (logs_two), 2);
}

Test (cli, broker_down_is_a_clear_failure, .timeout = 30)
{
    /* A port nobody listens on. */
    zsock_t *probe = zsock_new (ZMQ_ROUTER);
    int port = zsock_bind (probe, "tcp://127.0.0.1:*");
    zsock_destroy (&probe);
    char url[64];
    snprintf (url, sizeof url, "tcp://127.0.0.1:%d", port);
    const char *args[] = { "--broker", url, "--timeout", "300", "status", NULL };
    cr_assert_eq (s_run (args), 1);
    cr_assert (strstr (s_err, "not reachable") && strstr (s_err, url), "%s", s_err);
    setenv ("SEGQ_BROKER", url, 1);
    const char *env[] = { "--timeout", "300", "workers", NULL };
    cr_assert_eq (s_run (env), 1);
    cr_assert (strstr (s_err, url), "SEGQ_BROKER not used: %s", s_err);
    const char *bad_url[] = { "--broker", "nonsense", "status", NULL };
    cr_assert_eq (s_run (bad_url), 1);
    cr_assert (strstr (s_err, "nonsense"), "%s", s_err);
}

/* Every bad submit is refused by the CLI itself: the ROUTER hears nothing. */
Test (cli, bad_submits_refused_before_sending, .timeout = 30)
{
    zsock_t *router = zsock_new (ZMQ_ROUTER);
    int port = zsock_bind (router, "tcp://127.0.0.1:*");
    cr_assert_gt (port, 0);
    char url[64];
    snprintf (url, sizeof url, "tcp://127.0.0.1:%d", port);
    static const char *cases[][8] = {
        { "submit", "nosuchkind", NULL },
        { "submit", "sleep", "--param", "seconds=abc", NULL },
        { "submit", "sleep", "--param", "seconds=-1", NULL },
        { "submit", "sleep", "--param", "seconds=1e9", NULL },
        { "submit", "sleep", "--param", "nosuch=1", NULL },
        { "submit", "sleep", "--param", "seconds", NULL },
        { "submit", "fail", "--param", "mode=explode", NULL },
        { "submit", "fail", "--param", "code=1.5", NULL },
        { "submit", "echo", "--input", "files=/definitely/missing.txt", NULL },
        { "submit", "echo", "--input", "nosuch=AB12", NULL },
        { "submit", "sleep", "--gpu-mem", "lots", NULL },
        { "submit", "sleep", "--gpu-mem", "8G", "--cpu", NULL },
        { "submit", "sleep", "--cpu", "0", NULL },
        { "submit", "sleep", "--time-limit", "soon", NULL },
        { "submit", "sleep", "--priority", "high", NULL },
        { "submit", "sleep", "extra", NULL },
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        const char *args[12] = { "--broker", url };
        size_t n = 2;
        for (size_t k = 0; cases[i][k]; k++)
            args[n++] = cases[i][k];
        args[n] = NULL;
        int rc = s_run (args);
        cr_assert_eq (rc, 2, "case %zu (%s %s %s): exit %d, stderr: %s", i, cases[i][1],
                      cases[i][2] ? cases[i][2] : "", cases[i][3] ? cases[i][3] : "", rc, s_err);
        cr_assert (s_err[0], "case %zu: no message", i);
    }
    zpoller_t *poller = zpoller_new (router, NULL);
    cr_assert_null (zpoller_wait (poller, 300), "the CLI sent something for a refused submit");
    zpoller_destroy (&poller);
    zsock_destroy (&router);
}
