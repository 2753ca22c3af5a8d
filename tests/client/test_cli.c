/*  test_cli.c: the segq command without a real broker: --help everywhere,
    exit codes, and bad command lines refused before anything is sent (a
    ROUTER socket stands where the broker would be and must hear nothing). */
#include <arpa/inet.h>
#include <criterion/criterion.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "segq_client.h"
#include "segq_proto.h"
#include "segq_folds.h"
#include "segq_image.h"
#include "segq_safetensors.h"
#include "segq_sha256.h"
#include "test_files.h"

static char s_out [65536], s_err [16384];

static const char *
s_segq (void)
{
    static char path [1024];
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
    buf [used] = 0;
}

/* A segq started: its pid, and the files its stdout and stderr go to. */
typedef struct {
    pid_t pid;
    int out, err;
} cli_run_t;

/* segq with argv (NULL-terminated, without "segq") started; s_wait ends it. */
static cli_run_t
s_start (const char *const *args)
{
    const char *argv [48] = { s_segq () };
    size_t n = 1;
    for (size_t i = 0; args [i] && n < 47; i++)
        argv [n++] = args [i];
    char out_path [] = "/tmp/segq-cli-out-XXXXXX", err_path [] = "/tmp/segq-cli-err-XXXXXX";
    cli_run_t run = { .out = mkstemp (out_path), .err = mkstemp (err_path) };
    cr_assert (run.out >= 0 && run.err >= 0);
    unlink (out_path); /* open, they stay until closed */
    unlink (err_path);
    run.pid = fork ();
    if (run.pid == 0) {
        dup2 (run.out, STDOUT_FILENO);
        dup2 (run.err, STDERR_FILENO);
        execv (argv [0], (char *const *) argv);
        _exit (127);
    }
    return run;
}

/* The started segq's exit status, once it ends; its output in s_out, s_err. */
static int
s_wait (cli_run_t run)
{
    int status;
    while (waitpid (run.pid, &status, 0) < 0 && errno == EINTR)
        ;
    lseek (run.out, 0, SEEK_SET);
    lseek (run.err, 0, SEEK_SET);
    s_slurp (run.out, s_out, sizeof s_out);
    s_slurp (run.err, s_err, sizeof s_err);
    close (run.out);
    close (run.err);
    cr_assert (WIFEXITED (status), "segq died: %s", s_err);
    return WEXITSTATUS (status);
}

/* Run segq with argv (NULL-terminated, without "segq"); exit status. */
static int
s_run (const char *const *args)
{
    return s_wait (s_start (args));
}

Test (cli, help_on_every_command, .timeout = 30)
{
    static const char *commands [] = { "submit", "status", "wait",   "cancel",
                                       "fetch",  "logs",   "workers" };
    const char *top [] = { "--help", NULL };
    cr_assert_eq (s_run (top), 0);
    static char top_help [sizeof s_out];
    memcpy (top_help, s_out, sizeof s_out);
    for (size_t i = 0; i < sizeof commands / sizeof commands [0]; i++) {
        cr_assert (strstr (top_help, commands [i]), "segq --help does not list %s", commands [i]);
        const char *args [] = { commands [i], "--help", NULL };
        cr_assert_eq (s_run (args), 0, "segq %s --help: %s", commands [i], s_err);
        cr_assert (strstr (s_out, "usage: segq"), "segq %s --help printed: %s", commands [i],
                   s_out);
    }
    /* submit's help comes from the schema table: every kind and parameter. */
    const char *submit [] = { "submit", "--help", NULL };
    cr_assert_eq (s_run (submit), 0);
    memcpy (top_help, s_out, sizeof s_out);
    size_t n;
    const segq_kind_spec_t *kinds = segq_kinds (&n);
    for (size_t k = 0; k < n; k++) {
        cr_assert (strstr (top_help, kinds [k].name), "submit --help lacks kind %s",
                   kinds [k].name);
        const char *kind_help [] = { "submit", kinds [k].name, "--help", NULL };
        cr_assert_eq (s_run (kind_help), 0);
        /* each parameter and input as its typed flag, --min-size for min_size */
        for (size_t p = 0; p < kinds [k].n_params + kinds [k].n_inputs; p++) {
            const char *name = p < kinds [k].n_params
                                   ? kinds [k].params [p].name
                                   : kinds [k].inputs [p - kinds [k].n_params].name;
            char flag [80];
            size_t j = 0;
            for (; name [j] && j < 70; j++)
                flag [j] = name [j] == '_' ? '-' : name [j];
            flag [j] = 0;
            cr_assert (strstr (s_out, flag), "submit %s --help lacks --%s: %s", kinds [k].name,
                       flag, s_out);
        }
    }
}

Test (cli, usage_errors_exit_2, .timeout = 30)
{
    const char *none [] = { NULL };
    cr_assert_eq (s_run (none), 2);
    const char *unknown [] = { "frobnicate", NULL };
    cr_assert_eq (s_run (unknown), 2);
    cr_assert (strstr (s_err, "frobnicate"), "%s", s_err);
    const char *bad_opt [] = { "status", "--frob", NULL };
    cr_assert_eq (s_run (bad_opt), 2);
    cr_assert (strstr (s_err, "--frob"), "%s", s_err);
    const char *bad_state [] = { "status", "--state", "sleeping", NULL };
    cr_assert_eq (s_run (bad_state), 2);
    cr_assert (strstr (s_err, "sleeping"), "%s", s_err);
    const char *wait_nothing [] = { "wait", NULL };
    cr_assert_eq (s_run (wait_nothing), 2);
    const char *logs_two [] = { "logs", "A", "B", NULL };
    cr_assert_eq (s_run (logs_two), 2);
}

Test (cli, broker_down_is_a_clear_failure, .timeout = 30)
{
    /* A port nobody listens on: bound but not listening (connections are
       refused), and held for the test so a test running beside this one
       cannot take it, as it could a port probed and released. */
    int hold = socket (AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    struct sockaddr_in addr = { .sin_family = AF_INET, .sin_addr.s_addr = htonl (INADDR_LOOPBACK) };
    socklen_t addr_len = sizeof addr;
    cr_assert (hold >= 0 && bind (hold, (struct sockaddr *) &addr, sizeof addr) == 0
               && getsockname (hold, (struct sockaddr *) &addr, &addr_len) == 0);
    int port = ntohs (addr.sin_port);
    char url [64];
    snprintf (url, sizeof url, "tcp://127.0.0.1:%d", port);
    const char *args [] = { "--broker", url, "--timeout", "300", "status", NULL };
    cr_assert_eq (s_run (args), 1);
    cr_assert (strstr (s_err, "not reachable") && strstr (s_err, url), "%s", s_err);
    /* a wait outlasts a broker's restart, not a broker it never reached */
    const char *wait [] = { "--broker", url, "--timeout", "300", "wait", "0001", NULL };
    cr_assert_eq (s_run (wait), 1, "%s", s_err);
    cr_assert (strstr (s_err, url) && !strstr (s_err, "still waiting"), "%s", s_err);
    setenv ("SEGQ_BROKER", url, 1);
    const char *env [] = { "--timeout", "300", "workers", NULL };
    cr_assert_eq (s_run (env), 1);
    cr_assert (strstr (s_err, url), "SEGQ_BROKER not used: %s", s_err);
    const char *bad_url [] = { "--broker", "nonsense", "status", NULL };
    cr_assert_eq (s_run (bad_url), 1);
    cr_assert (strstr (s_err, "nonsense"), "%s", s_err);
    close (hold);
}

/* Every bad submit is refused by the CLI itself: the ROUTER hears nothing. */
Test (cli, bad_submits_refused_before_sending, .timeout = 30)
{
    zsock_t *router = zsock_new (ZMQ_ROUTER);
    int port = zsock_bind (router, "tcp://127.0.0.1:*");
    cr_assert_gt (port, 0);
    char url [64];
    snprintf (url, sizeof url, "tcp://127.0.0.1:%d", port);
    static const char *cases [][8] = {
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
    for (size_t i = 0; i < sizeof cases / sizeof cases [0]; i++) {
        const char *args [12] = { "--broker", url };
        size_t n = 2;
        for (size_t k = 0; cases [i][k]; k++)
            args [n++] = cases [i][k];
        args [n] = NULL;
        int rc = s_run (args);
        cr_assert_eq (rc, 2, "case %zu (%s %s %s): exit %d, stderr: %s", i, cases [i][1],
                      cases [i][2] ? cases [i][2] : "", cases [i][3] ? cases [i][3] : "", rc,
                      s_err);
        cr_assert (s_err [0], "case %zu: no message", i);
    }
    zpoller_t *poller = zpoller_new (router, NULL);
    cr_assert_null (zpoller_wait (poller, 300), "the CLI sent something for a refused submit");
    zpoller_destroy (&poller);
    zsock_destroy (&router);
}

/* ---- submit KIND with the kind's typed flags (from the kind table): mistakes
   refused (with a did-you-mean) before anything is sent, and the same SUBMIT
   on the wire as the generic --param/--input. A ROUTER stands where the
   broker would be; it never answers, so the CLI gives up after --timeout
   and the test reads what it sent. ---- */

static zsock_t *s_router;
static char s_url [64];

static void
s_listen (void)
{
    s_router = zsock_new (ZMQ_ROUTER);
    int port = zsock_bind (s_router, "tcp://127.0.0.1:*");
    cr_assert_gt (port, 0);
    snprintf (s_url, sizeof s_url, "tcp://127.0.0.1:%d", port);
}

/* The listening ROUTER closed and the test's files (under dir) removed. */
static void
s_finish (const char *dir)
{
    zsock_destroy (&s_router);
    char cmd [600];
    snprintf (cmd, sizeof cmd, "rm -rf %s", dir);
    cr_assert_eq (system (cmd), 0);
}

/* What the CLI sent: the next message, or NULL after ms; who sent it into
 *peer (the caller's) unless peer is NULL. */
static segq_msg_t *
s_heard_within (int ms, zframe_t **peer)
{
    zpoller_t *poller = zpoller_new (s_router, NULL);
    void *which = zpoller_wait (poller, ms);
    zpoller_destroy (&poller);
    if (!which)
        return NULL;
    zframe_t *rid = NULL;
    segq_msg_t *msg = NULL;
    char err [256];
    cr_assert_eq (segq_msg_recv (s_router, &rid, &msg, NULL, err, sizeof err), 0, "%s", err);
    if (peer)
        *peer = rid;
    else
        zframe_destroy (&rid);
    return msg;
}

/* What the CLI sent: the next message, or NULL after 500 ms. */
static segq_msg_t *
s_heard (void)
{
    return s_heard_within (500, NULL);
}

/* argv: --broker URL --timeout MS ARGS... */
static void
s_to_broker (const char *const *args, const char *timeout_ms, const char **argv, size_t size)
{
    size_t n = 0;
    argv [n++] = "--broker";
    argv [n++] = s_url;
    argv [n++] = "--timeout";
    argv [n++] = timeout_ms;
    for (size_t i = 0; args [i] && n + 1 < size; i++)
        argv [n++] = args [i];
    argv [n] = NULL;
}

/* segq --broker URL --timeout 300 ARGS...: the exit status. */
static int
s_submit (const char *const *args)
{
    const char *argv [40];
    s_to_broker (args, "300", argv, 40);
    return s_run (argv);
}

/* segq --broker URL ARGS..., whose one request the ROUTER answers with
   reply (given its request id; taken): the exit status. */
static int
s_answered (const char *const *args, segq_msg_t *reply)
{
    const char *argv [40];
    s_to_broker (args, "10000", argv, 40);
    cli_run_t run = s_start (argv);
    zframe_t *peer = NULL;
    segq_msg_t *request = s_heard_within (10000, &peer);
    cr_assert_not_null (request, "segq sent nothing");
    cr_assert_eq (segq_msg_set_req_id (reply, segq_msg_req_id (request)), 0);
    segq_msg_destroy (&request);
    cr_assert_eq (segq_msg_send (&reply, s_router, peer), 0);
    zframe_destroy (&peer);
    return s_wait (run);
}

Test (cli_submit, mistakes_refused_before_sending, .timeout = 60)
{
    s_listen ();
    static const struct {
        const char *args [10];
        const char *says; /* in the message */
    } cases [] = {
        { { "submit", "train", "--image", "/etc/hostname", "--nitre", "5", NULL },
          "did you mean --niter" },
        { { "submit", "train", "--image", "/etc/hostname", "--niter", "abc", NULL }, "niter" },
        { { "submit", "train", "--image", "/etc/hostname", "--niter", "0", NULL }, "out of range" },
        { { "submit", "train", "--image", "/etc/hostname", "--max-size", NULL }, "needs a value" },
        { { "submit", "train", "--image", "/etc/hostname", "--precision", "fp8", NULL },
          "fp32|bf16" },
        { { "submit", "train", "--mask", "/etc/hostname", NULL }, "image" },
        { { "submit", "train", "--image", "/no/such/file.jpg", NULL }, "/no/such/file.jpg" },
        { { "submit", "train", "--images", "/etc/hostname", NULL }, "not a folder" },
        { { "submit", "generate", "--model", "/tmp", NULL }, "--models DIR" },
        { { "submit", "train", "--image", "/etc/hostname", "--mask-from-alpah", NULL },
          "did you mean --mask-from-alpha" },
        { { "submit", "train", "--image", "/etc/hostname", "--gpu-men", "8G", NULL },
          "did you mean --gpu-mem" },
        { { "submit", "generate", "--count", "5", NULL }, "model" },
        { { "submit", "generate", "--model", "000k", "--count", "-1", NULL }, "count" },
        { { "submit", "evaluate", "--real", "/tmp", "--synthetic", "000k", NULL }, "NAME=" },
        { { "submit", "evaluate", "--real", "/tmp", "--synthetic", "a b=000k", NULL }, "NAME=" },
        { { "submit", "stylize", "--content", "000k", "--stlye", "x", NULL },
          "did you mean --style" },
        { { "submit", "--niter", "5", "train", NULL }, "after the kind" },
        { { "submit", "sleep", "--seconds", "2", "extra", NULL }, "extra" },
        { { "submit", "sleep", "--param", "secnds=2", NULL }, "did you mean seconds" },
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases [0]; i++) {
        int rc = s_submit (cases [i].args);
        cr_assert_eq (rc, 2, "case %zu: exit %d, stderr: %s", i, rc, s_err);
        cr_assert (strstr (s_err, cases [i].says), "case %zu: '%s' not in: %s", i, cases [i].says,
                   s_err);
    }
    cr_assert_null (s_heard (), "the CLI sent something for a refused submit");
    zsock_destroy (&s_router);
}

/* The SUBMIT that args make (the CLI times out waiting for the answer). */
static segq_msg_t *
s_sent (const char *const *args)
{
    int rc = s_submit (args);
    cr_assert_eq (rc, 1, "expected a timeout, got exit %d: %s", rc, s_err);
    segq_msg_t *msg = s_heard ();
    cr_assert_not_null (msg, "the CLI sent nothing: %s", s_err);
    cr_assert_eq (msg->type, SEGQ_MSG_SUBMIT);
    return msg;
}

static void
s_same_submit (const segq_submit_t *a, const segq_submit_t *b)
{
    cr_assert_str_eq (a->kind, b->kind);
    cr_assert_eq (a->params.count, b->params.count);
    for (size_t i = 0; i < a->params.count; i++) {
        const segq_value_t *other = segq_params_get (&b->params, a->params.items [i].name);
        cr_assert_not_null (other, "%s missing", a->params.items [i].name);
        char x [128], y [128];
        segq_value_format (&a->params.items [i].value, x, sizeof x);
        segq_value_format (other, y, sizeof y);
        cr_assert_str_eq (x, y, "%s", a->params.items [i].name);
    }
    cr_assert_eq (a->n_inputs, b->n_inputs);
    for (size_t i = 0; i < a->n_inputs; i++) {
        cr_assert_str_eq (a->inputs [i].name, b->inputs [i].name);
        cr_assert_str_eq (a->inputs [i].job ? a->inputs [i].job : "",
                          b->inputs [i].job ? b->inputs [i].job : "");
        cr_assert_str_eq (a->inputs [i].output ? a->inputs [i].output : "",
                          b->inputs [i].output ? b->inputs [i].output : "");
    }
    cr_assert_eq (a->gpu_mem, b->gpu_mem);
    cr_assert_eq (a->cpu_slots, b->cpu_slots);
    cr_assert_eq (a->priority, b->priority);
}

Test (cli_submit, typed_flags_are_the_generic_ones, .timeout = 60)
{
    s_listen ();
    const char *typed [] = {
        "submit",      "generate", "--model", "000k", "--count", "7", "--gen-start-scale=1",
        "--precision", "bf16",     "--cpu",   "2",    NULL
    };
    const char *generic [] = { "submit",  "generate",       "--input", "model=000k",
                               "--param", "count=7",        "--param", "gen_start_scale=1",
                               "--param", "precision=bf16", "--cpu=2", NULL };
    segq_msg_t *a = s_sent (typed), *b = s_sent (generic);
    s_same_submit (&a->u.submit, &b->u.submit);
    cr_assert_eq (segq_params_get (&a->u.submit.params, "count")->i, 7);
    cr_assert_str_eq (a->u.submit.inputs [0].name, "model");
    /* generate's model takes a catalogue model: the broker resolves the
       name, and one that names no model but a job is that job */
    cr_assert_str_eq (a->u.submit.inputs [0].model, "000k");
    cr_assert_null (a->u.submit.inputs [0].job);
    segq_msg_destroy (&a);
    segq_msg_destroy (&b);
    /* booleans: --flag, --no-flag and --flag=false; JOB:OUTPUT */
    const char *bools [] = { "submit",       "evaluate",      "--real",      "000k:real",
                             "--no-augment", "--save-models", "--synthetic", "stylized=000m",
                             "--synthetic",  "plain=000n",    NULL };
    const char *bools_generic [] = { "submit",  "evaluate",
                                     "--input", "real=000k:real",
                                     "--param", "augment=false",
                                     "--param", "save_models=true",
                                     "--input", "synthetic/stylized=000m",
                                     "--input", "synthetic/plain=000n",
                                     NULL };
    a = s_sent (bools);
    b = s_sent (bools_generic);
    s_same_submit (&a->u.submit, &b->u.submit);
    cr_assert_eq (segq_params_get (&a->u.submit.params, "augment")->b, false);
    cr_assert_eq (segq_params_get (&a->u.submit.params, "save_models")->b, true);
    cr_assert_str_eq (a->u.submit.inputs [1].name, "synthetic/stylized");
    cr_assert_str_eq (a->u.submit.inputs [0].output, "real");
    segq_msg_destroy (&a);
    segq_msg_destroy (&b);
    zsock_destroy (&s_router);
}

Test (cli_submit, kind_help_from_the_table, .timeout = 30)
{
    const char *args [] = { "submit", "stylize", "--help", NULL };
    cr_assert_eq (s_run (args), 0, "%s", s_err);
    cr_assert (strstr (s_out, "--content DIR|JOB"), "%s", s_out);
    cr_assert (strstr (s_out, "--vgg19 FILE|JOB"), "%s", s_out);
    cr_assert (strstr (s_out, "--style-weight NUM"), "%s", s_out);
    cr_assert (strstr (s_out, "default 1000"), "%s", s_out);
    const char *eval [] = { "submit", "evaluate", "--help", NULL };
    cr_assert_eq (s_run (eval), 0, "%s", s_err);
    cr_assert (strstr (s_out, "--synthetic SET=DIR|JOB"), "%s", s_out);
    cr_assert (strstr (s_out, "--[no-]augment"), "%s", s_out);
    /* a one-file input's plural flag only where it reads as one */
    cr_assert (strstr (s_out, "--encoder-weights FILE|JOB"), "%s", s_out);
    cr_assert_null (strstr (s_out, "weightss"), "%s", s_out);
    const char *train [] = { "submit", "train", "--help", NULL };
    cr_assert_eq (s_run (train), 0, "%s", s_err);
    cr_assert (strstr (s_out, "--images DIR"), "%s", s_out);
    /* an input another flag stands for, said once, as the flag is spelt */
    cr_assert (strstr (s_out, "same size) (required unless --mask-from-alpha)\n"), "%s", s_out);
    cr_assert_null (strstr (s_out, "mask_from_alpha"), "%s", s_out);
    /* an empty default is no default; integers' ranges as integers */
    cr_assert (strstr (s_out, "without extension)\n"), "%s", s_out);
    cr_assert_null (strstr (s_out, "(default )"), "%s", s_out);
    cr_assert (strstr (s_out, "(1..1000000000, default 2000)"), "%s", s_out);
    cr_assert (strstr (s_out, "(0..9007199254740991, default 0)"), "%s", s_out);
    cr_assert (strstr (s_out, "(0.05..0.99, default 0.75)"), "%s", s_out);
    cr_assert_null (strstr (s_out, "e+"), "%s", s_out);
    cr_assert (strstr (s_out, "principal output (what a bare JOB names): model.safetensors"), "%s",
               s_out);
}

static void
s_touch (const char *dir, const char *name)
{
    char path [512];
    snprintf (path, sizeof path, "%s/%s", dir, name);
    FILE *f = fopen (path, "w");
    cr_assert_not_null (f, "%s", path);
    fputs ("x", f);
    fclose (f);
}

/* --images DIR --masks DIR pair files by name without extension; what has
   no partner is refused by name before anything is sent. */
Test (cli_submit, unmatched_pairs_refused_by_name, .timeout = 60)
{
    s_listen ();
    char root [] = "/tmp/segq-pairs-XXXXXX", images [64], masks [64];
    cr_assert_not_null (mkdtemp (root));
    snprintf (images, sizeof images, "%s/images", root);
    snprintf (masks, sizeof masks, "%s/masks", root);
    cr_assert_eq (mkdir (images, 0700), 0);
    cr_assert_eq (mkdir (masks, 0700), 0);
    s_touch (images, "a.jpg");
    s_touch (images, "b.jpg");
    s_touch (images, "c.jpg");
    s_touch (masks, "a.png");
    s_touch (masks, "b.png");
    const char *args [] = { "submit", "train", "--images", images, "--masks", masks, NULL };
    cr_assert_eq (s_submit (args), 2, "%s", s_err);
    cr_assert (strstr (s_err, "1 file of --images") && strstr (s_err, "c.jpg")
                   && strstr (s_err, "no partner"),
               "%s", s_err);
    s_touch (masks, "c.png");
    s_touch (masks, "d.png");
    s_touch (masks, "e.png");
    cr_assert_eq (s_submit (args), 2, "%s", s_err);
    cr_assert (strstr (s_err, "2 files of --masks") && strstr (s_err, "d.png, e.png"), "%s", s_err);
    s_touch (images, "d.jpg");
    s_touch (images, "d.png");
    cr_assert_eq (s_submit (args), 2, "%s", s_err);
    cr_assert (strstr (s_err, "d.jpg and d.png have the same name"), "%s", s_err);
    /* the pipeline pairs the same way, and names its stages' parameters */
    const char *pipeline [] = { "submit", "pipeline", "--images", images, "--masks", masks, NULL };
    cr_assert_eq (s_submit (pipeline), 2, "%s", s_err);
    cr_assert (strstr (s_err, "same name"), "%s", s_err);
    const char *ambiguous [] = { "submit",  "pipeline", "--image", "/etc/hostname",
                                 "--batch", "4",        NULL };
    cr_assert_eq (s_submit (ambiguous), 2, "%s", s_err);
    cr_assert (strstr (s_err, "--generate.batch"), "%s", s_err);
    const char *no_stage [] = { "submit",   "pipeline", "--image", "/etc/hostname",
                                "--epochs", "4",        NULL };
    cr_assert_eq (s_submit (no_stage), 2, "%s", s_err);
    cr_assert (strstr (s_err, "--evaluate-against"), "%s", s_err);
    const char *no_vgg [] = { "submit", "pipeline", "--image", "/etc/hostname", "--stylize", NULL };
    cr_assert_eq (s_submit (no_vgg), 2, "%s", s_err);
    cr_assert (strstr (s_err, "--vgg19"), "%s", s_err);
    const char *typo [] = {
        "submit", "pipeline", "--image", "/etc/hostname", "--nitre", "4", NULL
    };
    cr_assert_eq (s_submit (typo), 2, "%s", s_err);
    cr_assert (strstr (s_err, "did you mean --niter"), "%s", s_err);
    const char *help [] = { "submit", "pipeline", "--help", NULL };
    cr_assert_eq (s_run (help), 0, "%s", s_err);
    cr_assert (strstr (s_out, "--evaluate-against DIR"), "%s", s_out);
    cr_assert_null (s_heard (), "the CLI sent something for a refused submit");
    s_finish (root);
}

static void
s_write (const char *dir, const char *name, const char *text)
{
    char path [512];
    snprintf (path, sizeof path, "%s/%s", dir, name);
    /* an image, since submit checks them: the same text, the same bytes */
    cr_assert_eq (test_write_png (path, 32, 1, (unsigned char) text [0]), 0, "%s", path);
}

/* dir/, dir/images/ and dir/masks/ (a Kvasir-SEG layout), their paths out. */
static void
s_make_pair_dirs (const char *dir, char *images, size_t images_len, char *masks, size_t masks_len)
{
    snprintf (images, images_len, "%s/images", dir);
    snprintf (masks, masks_len, "%s/masks", dir);
    cr_assert_eq (mkdir (dir, 0700), 0);
    cr_assert_eq (mkdir (images, 0700), 0);
    cr_assert_eq (mkdir (masks, 0700), 0);
}

/* A temporary folder made from the template root, with real/ (real[64])
   as a Kvasir-SEG layout (images[80], masks[80]). */
static void
s_real_dir (char *root, char *real, char *images, char *masks)
{
    cr_assert_not_null (mkdtemp (root));
    snprintf (real, 64, "%s/real", root);
    s_make_pair_dirs (real, images, 80, masks, 80);
}

/* `submit pipeline --evaluate-against DIR` that evaluate's k-fold would
   surely fail on, hours later after training, is refused at submit (with
   the check of `submit evaluate`, cli_folds.h, the pairs to be generated
   standing as their training images): the training image not among DIR's
   pairs (no fold has a synthetic pair to train on), only one of them there
   (the fold testing it has none; found by name or by content), too few
   pairs for the folds, training pairs all dealt into one fold by
   evaluate's seed. Pairs in two folds or more pass and are sent. */
Test (cli_submit, pipeline_evaluate_that_cannot_work_refused, .timeout = 60)
{
    s_listen ();
    char root [] = "/tmp/segq-evalcheck-XXXXXX", real [64], images [80], masks [80];
    s_real_dir (root, real, images, masks);
    const char *names [] = { "a.png", "b.png", "c.png" };
    for (int i = 0; i < 3; i++) {
        char text [8];
        snprintf (text, sizeof text, "%c", 'A' + i);
        s_write (images, names [i], text);
        s_write (masks, names [i], text);
    }
    s_write (root, "x.png", "X");
    s_write (root, "copy-of-b.png", "B");
    s_write (root, "mask.png", "M");
    char x [96], copy [96], mask [96], a [96], am [96];
    snprintf (x, sizeof x, "%s/x.png", root);
    snprintf (copy, sizeof copy, "%s/copy-of-b.png", root);
    snprintf (mask, sizeof mask, "%s/mask.png", root);
    snprintf (a, sizeof a, "%s/a.png", images);
    snprintf (am, sizeof am, "%s/a.png", masks);

    const char *outside [] = { "submit", "pipeline",           "--image", x,         "--mask",
                               mask,     "--evaluate-against", real,      "--niter", "2",
                               NULL };
    cr_assert_eq (s_submit (outside), 2, "%s", s_err);
    cr_assert (strstr (s_err, "come from 0 images that fold tests and 1 not among")
                   && strstr (s_err, "--evaluate-test TEST") && strstr (s_err, "at least 2 pairs"),
               "%s", s_err);
    const char *inside [] = { "submit", "pipeline",           "--image", a,   "--mask",
                              am,       "--evaluate-against", real,      NULL };
    cr_assert_eq (s_submit (inside), 2, "%s", s_err);
    cr_assert (strstr (s_err, "come from 1 image that fold tests (a) and 0 not among"), "%s",
               s_err);
    /* the same pair under another name: evaluate matches it by sha256 */
    const char *renamed [] = { "submit", "pipeline",           "--image", copy, "--mask",
                               mask,     "--evaluate-against", real,      NULL };
    cr_assert_eq (s_submit (renamed), 2, "%s", s_err);
    cr_assert (strstr (s_err, "1 image that fold tests (copy-of-b)"), "%s", s_err);
    const char *few [] = { "submit", "pipeline",           "--images", images,    "--masks",
                           masks,    "--evaluate-against", real,       "--folds", "4",
                           NULL };
    cr_assert_eq (s_submit (few), 2, "%s", s_err);
    cr_assert (strstr (s_err, "3 real pairs cannot make 4 folds"), "%s", s_err);
    /* two training pairs, but evaluate's dealing (segq_folds.h, seed 0)
       puts both into one of 2 folds: refused, naming a seed that works */
    s_write (images, "d.png", "D");
    s_write (masks, "d.png", "D");
    const char *all4 [] = { "a", "b", "c", "d" };
    size_t perm [4];
    segq_folds_shuffle (4, 0, perm);
    char train [96], train_images [128], train_masks [128], name [16];
    snprintf (train, sizeof train, "%s/train", root);
    s_make_pair_dirs (train, train_images, sizeof train_images, train_masks, sizeof train_masks);
    for (int k = 0; k < 4; k += 2) { /* positions 0 and 2: fold 1 of 2 */
        char text [8];
        snprintf (name, sizeof name, "%s.png", all4 [perm [k]]);
        snprintf (text, sizeof text, "%c", 'A' + (int) perm [k]);
        s_write (train_images, name, text);
        s_write (train_masks, name, text);
    }
    const char *same_fold [] = {
        "submit",    "pipeline",           "--images", train_images, "--masks",
        train_masks, "--evaluate-against", real,       "--folds",    "2",
        NULL
    };
    cr_assert_eq (s_submit (same_fold), 2, "%s", s_err);
    /* "(--evaluate.seed 0) ...: --evaluate.seed S deals the pairs ..." */
    const char *seed_hint = strstr (s_err, "before it: --evaluate.seed ");
    cr_assert (strstr (s_err, "in fold 1 of 2 (--evaluate.seed 0)")
                   && strstr (s_err, "come from 2 images that fold tests") && seed_hint
                   && strstr (seed_hint, " deals the pairs so that every fold trains"),
               "%s", s_err);
    char seed [32];
    snprintf (seed, sizeof seed, "%lld",
              strtoll (seed_hint + strlen ("before it: --evaluate.seed "), NULL, 10));
    cr_assert_null (s_heard (), "the CLI sent something for a refused pipeline");

    /* accepted, so the CLI goes on to send (the stand-in broker never
       answers: it fails after that): the seed it named, and every pair of
       the folder as a training pair */
    const char *reseeded [] = { "submit",  "pipeline",  "--images",           train_images,
                                "--masks", train_masks, "--evaluate-against", real,
                                "--folds", "2",         "--evaluate.seed",    seed,
                                NULL };
    cr_assert_neq (s_submit (reseeded), 2, "refused: %s", s_err);
    segq_msg_t *sent = s_heard ();
    cr_assert_not_null (sent, "nothing sent for an accepted pipeline: %s", s_err);
    segq_msg_destroy (&sent);
    zsock_destroy (&s_router);
    s_listen ();
    const char *ok [] = { "submit", "pipeline",           "--images", images, "--masks",
                          masks,    "--evaluate-against", real,       NULL };
    cr_assert_neq (s_submit (ok), 2, "refused: %s", s_err);
    sent = s_heard ();
    cr_assert_not_null (sent, "nothing sent for an accepted pipeline: %s", s_err);
    segq_msg_destroy (&sent);
    s_finish (root);
}

/* ---- issue 12: errors at submit, where the user is ---- */

/* A folder's links are followed only to files inside it: one leading out
   (here to /etc/hostname) is refused by name, for a dataset input and for
   --images DIR alike, before anything is sent. */
Test (cli_submit, folder_links_out_refused_before_sending, .timeout = 60)
{
    s_listen ();
    char root [] = "/tmp/segq-links-XXXXXX", dir [64], images [96], masks [96], link [128];
    cr_assert_not_null (mkdtemp (root));
    snprintf (dir, sizeof dir, "%s/kvasir", root);
    s_make_pair_dirs (dir, images, sizeof images, masks, sizeof masks);
    s_touch (images, "a.jpg");
    s_touch (masks, "a.png");
    snprintf (link, sizeof link, "%s/b.jpg", images);
    cr_assert_eq (symlink ("/etc/hostname", link), 0);
    const char *dataset [] = { "submit", "echo", "--files", images, NULL };
    cr_assert_eq (s_submit (dataset), 2, "%s", s_err);
    cr_assert (strstr (s_err, link) && strstr (s_err, "/etc/hostname")
                   && strstr (s_err, "outside the folder"),
               "%s", s_err);
    const char *array [] = { "submit", "train", "--images", images, "--masks", masks, NULL };
    cr_assert_eq (s_submit (array), 2, "%s", s_err);
    cr_assert (strstr (s_err, link) && strstr (s_err, "outside the folder"), "%s", s_err);
    cr_assert_null (s_heard (), "the CLI sent something for a refused submit");
    /* a link to a file inside is that file: the upload starts */
    cr_assert_eq (unlink (link), 0);
    cr_assert_eq (symlink ("a.jpg", link), 0);
    cr_assert_eq (s_submit (dataset), 1, "expected a timeout: %s", s_err);
    segq_msg_t *sent = s_heard ();
    cr_assert (sent && sent->type == SEGQ_MSG_PUT, "no upload: %s", s_err);
    segq_msg_destroy (&sent);
    s_finish (root);
}

/* train without --mask (nor --mask-from-alpha) is refused at submit, naming
   the mask, instead of failing on a worker. */
Test (cli_submit, train_without_mask_refused_before_sending, .timeout = 30)
{
    s_listen ();
    const char *lone [] = { "submit", "train", "--image", "/etc/hostname", NULL };
    cr_assert_eq (s_submit (lone), 2, "%s", s_err);
    cr_assert (strstr (s_err, "needs input 'mask'") && strstr (s_err, "mask_from_alpha"), "%s",
               s_err);
    const char *pipeline [] = { "submit", "pipeline", "--image", "/etc/hostname", NULL };
    cr_assert_eq (s_submit (pipeline), 2, "%s", s_err);
    cr_assert (strstr (s_err, "needs input 'mask'"), "%s", s_err);
    cr_assert_null (s_heard (), "the CLI sent something for a refused submit");
    char rgba [] = "/tmp/segq-alpha-XXXXXX.png";
    int fd = mkstemps (rgba, 4);
    cr_assert_geq (fd, 0);
    close (fd);
    cr_assert_eq (test_write_png (rgba, 32, 4, 1), 0);
    const char *from_alpha [] = { "submit", "train", "--image", rgba, "--mask-from-alpha", NULL };
    cr_assert_eq (s_submit (from_alpha), 1, "expected a timeout: %s", s_err);
    segq_msg_t *sent = s_heard ();
    cr_assert_not_null (sent, "nothing sent: %s", s_err);
    segq_msg_destroy (&sent);
    zsock_destroy (&s_router);
    unlink (rgba);
}

/* submit `argv` is refused before anything is sent, its message holding
   both `what` and `why`. */
static void
s_refused_locally (const char *const *argv, const char *what, const char *why)
{
    cr_assert_eq (s_submit (argv), 2, "%s", s_err);
    cr_assert (strstr (s_err, what) && strstr (s_err, why), "expected '%s' and '%s' in: %s", what,
               why, s_err);
    cr_assert_null (s_heard (), "the CLI sent something for a refused submit: %s", s_err);
}

/* submit `argv` passes the CLI's checks: it sends (and times out). */
static void
s_sends (const char *const *argv)
{
    cr_assert_eq (s_submit (argv), 1, "expected a timeout: %s", s_err);
    segq_msg_t *sent = s_heard ();
    cr_assert_not_null (sent, "nothing sent: %s", s_err);
    segq_msg_destroy (&sent);
    zsock_destroy (&s_router);
    s_listen ();
}

/* A synthetic set at dir whose pairs were made from the real images
   named in sources (one pair each), matched by name: manifest.csv. */
static void
s_synthetic_set (const char *dir, const char *const *sources)
{
    char images [96], masks [96], path [160];
    s_make_pair_dirs (dir, images, sizeof images, masks, sizeof masks);
    snprintf (path, sizeof path, "%s/manifest.csv", dir);
    FILE *m = fopen (path, "w");
    cr_assert (m && fputs ("name,source_image,source_image_sha256\n", m) >= 0);
    for (int i = 0; sources [i]; i++) {
        char name [16];
        snprintf (name, sizeof name, "s%d.png", i);
        s_write (images, name, "synthetic");
        s_write (masks, name, "mask");
        cr_assert (fprintf (m, "s%d,%s.jpg,\n", i, sources [i]) > 0);
    }
    cr_assert_eq (fclose (m), 0);
}

/* `segq submit evaluate` whose k-fold would fail hours in, after
   training the folds before it, is refused at submit, with evaluate's
   own dealing and matching (cli_folds.h): too few real pairs for the
   folds, a synthetic set that a fold has nothing of to train on (all
   made from the image it tests, or from no real pair, or only from test
   images with --test); the seed that deals them apart is named, and
   taken. */
Test (cli_submit, evaluate_that_cannot_train_refused, .timeout = 60)
{
    s_listen ();
    char root [] = "/tmp/segq-folds-XXXXXX", real [64], images [80], masks [80];
    s_real_dir (root, real, images, masks);
    const char *names [] = { "a", "b", "c", "d" };
    for (int i = 0; i < 2; i++) {
        char file [16];
        snprintf (file, sizeof file, "%s.png", names [i]);
        s_write (images, file, names [i]);
        s_write (masks, file, names [i]);
    }
    const char *two [] = { "submit", "evaluate", "--real", real, NULL };
    s_refused_locally (two, "--real: 2 real pairs", "cannot make 3 folds");
    for (int i = 2; i < 4; i++) {
        char file [16];
        snprintf (file, sizeof file, "%s.png", names [i]);
        s_write (images, file, names [i]);
        s_write (masks, file, names [i]);
    }
    /* made from one image only: the fold that tests it has nothing */
    char one [64], other [64], apart [64], set [80];
    snprintf (one, sizeof one, "%s/one", root);
    const char *from_a [] = { "a", "a", NULL };
    s_synthetic_set (one, from_a);
    snprintf (set, sizeof set, "gen=%s", one);
    const char *single [] = { "submit", "evaluate", "--real", real, "--synthetic",
                              set,      "--folds",  "2",      NULL };
    s_refused_locally (single, "--synthetic gen: in fold",
                       "they come from 1 image that fold tests (a) and 0 not among");
    /* made from images that are no real pair */
    snprintf (other, sizeof other, "%s/other", root);
    const char *from_x [] = { "x", "y", NULL };
    s_synthetic_set (other, from_x);
    snprintf (set, sizeof set, "gen=%s", other);
    s_refused_locally (single, "no synthetic pair would train",
                       "they come from 0 images that fold tests and 2 not among --real's training "
                       "pairs");
    /* two images that seed 0 deals into one fold of 2: the seed that deals
       them apart is offered, and with it the job is sent */
    size_t perm [4];
    segq_folds_shuffle (4, 0, perm);
    const char *same [] = { names [perm [0]], names [perm [2]], NULL };
    snprintf (apart, sizeof apart, "%s/apart", root);
    s_synthetic_set (apart, same);
    snprintf (set, sizeof set, "gen=%s", apart);
    s_refused_locally (single, "in fold 1 of 2 (--seed 0)", "deals the pairs so that every fold");
    const char *hint = strstr (s_err, "before it: --seed ");
    cr_assert_not_null (hint, "%s", s_err);
    char seed [32];
    snprintf (seed, sizeof seed, "%lld", strtoll (hint + strlen ("before it: --seed "), NULL, 10));
    const char *reseeded [] = { "submit",  "evaluate", "--real", real, "--synthetic", set,
                                "--folds", "2",        "--seed", seed, NULL };
    s_sends (reseeded);
    /* --test: a set made only from test images trains on nothing */
    char test [64], from_test [64];
    snprintf (test, sizeof test, "%s/test", root);
    s_make_pair_dirs (test, images, sizeof images, masks, sizeof masks);
    s_write (images, "t.png", "t");
    s_write (masks, "t.png", "t");
    snprintf (from_test, sizeof from_test, "%s/from-test", root);
    const char *from_t [] = { "t", NULL };
    s_synthetic_set (from_test, from_t);
    snprintf (set, sizeof set, "gen=%s", from_test);
    const char *tested [] = { "submit", "evaluate",    "--real", real, "--test",
                              test,     "--synthetic", set,      NULL };
    s_refused_locally (tested, "--synthetic gen: with --test", "1 image in --test (t) and 0 not");
    s_finish (root);
}

/* The header of an encoder of a UNet++ of this depth and width over RGB,
   as evaluate --save-models names and shapes it (its data zeros):
   node (i, 0) maps width << (i - 1) channels (3 at i = 0) to width << i. */
static void
s_write_encoder (const char *path, int depth, int width)
{
    static const char *const names [] = {
        "conv1.weight",     "conv1.bias",      "bn1.weight",       "bn1.bias",
        "conv2.weight",     "conv2.bias",      "bn2.weight",       "bn2.bias",
        "bn1.running_mean", "bn1.running_var", "bn2.running_mean", "bn2.running_var"
    };
    static float zeros [64 * 64 * 9];
    segq_st_writer_t *w = segq_st_writer_new ();
    char err [256];
    for (int i = 0; i <= depth; i++)
        for (size_t k = 0; k < sizeof names / sizeof names [0]; k++) {
            int64_t out = width << i, in = i ? width << (i - 1) : 3;
            int64_t shape [4] = { out, k == 0 ? in : out, 3, 3 };
            bool conv = k == 0 || k == 4;
            size_t n = (size_t) (conv ? shape [0] * shape [1] * 9 : out);
            char name [48];
            snprintf (name, sizeof name, "x%d_0.%s", i, names [k]);
            cr_assert_eq (segq_st_writer_add (w, name, SEGQ_ST_F32, conv ? 4 : 1, shape, zeros,
                                              n * sizeof (float), err, sizeof err),
                          0, "%s", err);
        }
    cr_assert_eq (segq_st_writer_save (w, path, err, sizeof err), 0, "%s", err);
    segq_st_writer_destroy (&w);
}

/* A job's local files are read as segq-run will read them, at submit:
   what would fail on a worker (an image that does not decode, a mask of
   another size, no alpha for --mask-from-alpha, too small for the
   pyramid, a model file that is no finished checkpoint or has too few
   scales for --gen-start-scale, a job array's broken member) is refused
   where the user is, naming the file and the problem. */
Test (cli_submit, local_files_checked_before_sending, .timeout = 60)
{
    s_listen ();
    char dir [] = "/tmp/segq-check-XXXXXX", p [8][96];
    cr_assert_not_null (mkdtemp (dir));
    const char *names [] = { "image.png", "mask.png",          "big-mask.png",      "tiny.png",
                             "text.png",  "model.safetensors", "other.safetensors", "grey.png" };
    for (int i = 0; i < 8; i++)
        snprintf (p [i], sizeof p [i], "%s/%s", dir, names [i]);
    cr_assert_eq (test_write_png (p [0], 32, 3, 1), 0);
    cr_assert_eq (test_write_png (p [1], 32, 1, 2), 0);
    cr_assert_eq (test_write_png (p [2], 40, 1, 3), 0);
    cr_assert_eq (test_write_png (p [3], 16, 3, 4), 0);
    FILE *f = fopen (p [4], "w");
    cr_assert (f && fputs ("not an image", f) >= 0 && fclose (f) == 0);
    cr_assert_eq (test_write_checkpoint (p [5], 32, 1), 0);
    segq_st_writer_t *w = segq_st_writer_new ();
    char err [256];
    cr_assert_eq (segq_st_writer_save (w, p [6], err, sizeof err), 0, "%s", err);
    segq_st_writer_destroy (&w);

    const char *text [] = { "submit", "train", "--image", p [4], "--mask", p [1], NULL };
    s_refused_locally (text, p [4], "not a PNG or JPEG image");
    const char *sizes [] = { "submit", "train", "--image", p [0], "--mask", p [2], NULL };
    s_refused_locally (sizes, p [2], "must have the same size");
    const char *alpha [] = { "submit", "train", "--image", p [0], "--mask-from-alpha", NULL };
    s_refused_locally (alpha, p [0], "needs an image with an alpha channel");
    const char *both [] = { "submit", "train", "--image",           p [0],
                            "--mask", p [1],   "--mask-from-alpha", NULL };
    s_refused_locally (both, "input 'mask' or parameter mask_from_alpha", "not both");
    const char *tiny [] = { "submit", "train", "--image", p [3], "--mask", p [3], NULL };
    s_refused_locally (tiny, p [3], "no scale to train");
    const char *junk [] = { "submit", "generate", "--model", p [4], NULL };
    s_refused_locally (junk, p [4], "not a safetensors file");
    const char *other [] = { "submit", "generate", "--model", p [6], NULL };
    s_refused_locally (other, p [6], "not a SinGAN-Seg checkpoint");
    const char *deep [] = {
        "submit", "generate", "--model", p [5], "--gen-start-scale", "3", NULL
    };
    s_refused_locally (deep, "--gen-start-scale 3", "the model has scales 0..0");
    /* content by reference (a generate job): the broker's to check */
    const char *style [] = { "submit", "stylize", "--content", "000a", "--style",
                             p [4],    "--vgg19", p [6],       NULL };
    s_refused_locally (style, p [4], "not a PNG or JPEG image");
    const char *vgg [] = { "submit", "stylize", "--content", "000a", "--vgg19", p [6], NULL };
    s_refused_locally (vgg, p [6], "missing tensor 'features.0.weight'");

    /* a job array: the broken member is named, nothing is sent */
    char set [64], images [80], masks [80];
    snprintf (set, sizeof set, "%s/set", dir);
    s_make_pair_dirs (set, images, sizeof images, masks, sizeof masks);
    for (int i = 0; i < 3; i++) {
        char name [16];
        snprintf (name, sizeof name, "p%d.png", i);
        s_write (images, name, "image");
        s_write (masks, name, "mask");
    }
    char broken [112];
    snprintf (broken, sizeof broken, "%s/p1.png", images);
    FILE *b = fopen (broken, "w");
    cr_assert (b && fputs ("\x89PNG\r\n\x1a\n but cut short", b) >= 0 && fclose (b) == 0);
    const char *array [] = { "submit", "train", "--images", images, "--masks", masks, NULL };
    s_refused_locally (array, broken, "p1.png");

    /* evaluate's sets, read as segq-run evaluate reads them: every pair of
       a folder or of each part of one (a job array's outputs, DIR/JOB/) */
    char good [64], parts [64], mismatched [64], path [160];
    snprintf (good, sizeof good, "%s/good", dir);
    snprintf (parts, sizeof parts, "%s/parts", dir);
    snprintf (mismatched, sizeof mismatched, "%s/mismatched", dir);
    s_make_pair_dirs (good, images, sizeof images, masks, sizeof masks);
    s_write (images, "a.png", "image");
    s_write (masks, "a.png", "mask");
    cr_assert_eq (mkdir (parts, 0700), 0);
    for (int k = 0; k < 2; k++) {
        char part [96];
        snprintf (part, sizeof part, "%s/000%d", parts, k);
        s_make_pair_dirs (part, images, sizeof images, masks, sizeof masks);
        s_write (images, "a.png", "image");
        s_write (masks, "a.png", "mask");
    }
    s_make_pair_dirs (mismatched, images, sizeof images, masks, sizeof masks);
    s_write (images, "b.png", "image");
    snprintf (path, sizeof path, "%s/b.png", masks);
    cr_assert_eq (test_write_png (path, 40, 1, 'm'), 0);
    const char *broken_set [] = { "submit", "evaluate", "--real", set, NULL };
    s_refused_locally (broken_set, broken, "p1.png");
    const char *sized [] = { "submit", "evaluate", "--real", mismatched, NULL };
    s_refused_locally (sized, "b.png", "must have the same size");
    const char *bare [] = { "submit", "evaluate", "--real", good, "--synthetic", "gen=", NULL };
    char synthetic [96];
    snprintf (synthetic, sizeof synthetic, "gen=%s", good);
    bare [5] = synthetic;
    s_refused_locally (bare, "--synthetic", "no manifest.csv");
    const char *encoder [] = { "submit", "evaluate", "--real", good, "--encoder-weights",
                               p [4],    NULL };
    s_refused_locally (encoder, p [4], "not a safetensors file");
    /* weights of the encoder of a UNet++ of the job's --depth and --width */
    const char *empty [] = { "submit", "evaluate",          "--real", good, "--test",
                             good,     "--encoder-weights", p [6],    NULL };
    s_refused_locally (empty, "no tensor 'x0_0.conv1.weight'", "UNet++ of depth 4, width 32");
    char encoder_path [96];
    snprintf (encoder_path, sizeof encoder_path, "%s/encoder.safetensors", dir);
    s_write_encoder (encoder_path, 1, 2);
    /* depth 2 needs node x2_0, which a depth-1 encoder lacks */
    const char *with_depth [] = { "submit",
                                  "evaluate",
                                  "--real",
                                  good,
                                  "--test",
                                  good,
                                  "--depth",
                                  "2",
                                  "--width",
                                  "2",
                                  "--size",
                                  "32",
                                  "--encoder-weights",
                                  encoder_path,
                                  NULL };
    s_refused_locally (with_depth, "no tensor 'x2_0.conv1.weight'", "depth 2, width 2");
    with_depth [7] = "1";
    s_sends (with_depth);
    snprintf (path, sizeof path, "%s/0001/masks/a.png", parts);
    cr_assert_eq (unlink (path), 0);
    const char *unpaired [] = { "submit", "evaluate", "--real", parts, NULL };
    s_refused_locally (unpaired, "0001", "has no mask");
    cr_assert_eq (test_write_png (path, 32, 1, 'm'), 0);
    const char *in_parts [] = { "submit", "evaluate", "--real", parts, "--folds", "2", NULL };
    s_sends (in_parts);

    /* stylize's local content: pairs that decode, a manifest that parses */
    const char *set_styled [] = { "submit", "stylize", "--content", set, "--vgg19",
                                  "000a",   "--style", p [0],       NULL };
    s_refused_locally (set_styled, broken, "p1.png");
    const char *content [] = { "submit", "stylize", "--content", good, "--vgg19", "000a", NULL };
    snprintf (path, sizeof path, "%s/manifest.csv", good);
    FILE *m = fopen (path, "w");
    cr_assert (m && fputs ("name,source_image\n\"a,never closed\n", m) >= 0 && fclose (m) == 0);
    s_refused_locally (content, path, "manifest");
    /* without --style, each pair's source image in the folder, as the
       manifest names it: the job holds nothing else of it */
    cr_assert_eq (unlink (path), 0);
    s_refused_locally (content, "pair 'a'", "no manifest.csv to name its source image");
    char source [SEGQ_HASH_HEX_LEN + 1], real [96];
    cr_assert_eq (segq_sha256_file (p [0], source), 0);
    m = fopen (path, "w");
    cr_assert (m
               && fprintf (m, "name,source_image,source_image_sha256\na,real.png,%s\n", source) > 0
               && fclose (m) == 0);
    s_refused_locally (content, "'real.png'", "is not in --content");
    snprintf (real, sizeof real, "%s/real.png", good);
    cr_assert_eq (test_write_png (real, 32, 3, 9), 0);
    s_refused_locally (content, real, "is not its source image");
    cr_assert_eq (test_write_png (real, 32, 3, 1), 0); /* p [0]'s bytes */
    s_sends (content);
    cr_assert_eq (unlink (path), 0);
    const char *styled [] = { "submit", "stylize", "--content", good, "--vgg19",
                              "000a",   "--style", p [0],       NULL };
    s_sends (styled);

    const char *train [] = { "submit", "train", "--image", p [0], "--mask", p [1], NULL };
    s_sends (train);
    const char *generate [] = { "submit", "generate", "--model", p [5], NULL };
    s_sends (generate);
    s_finish (dir);
}

/* A one-channel PNG of side x side whose every pixel is `value`, at path. */
static void
s_write_level_mask (const char *path, uint32_t side, uint8_t value)
{
    char err [SEGQ_IMAGE_ERRLEN];
    segq_image_t *mask = segq_image_new (side, side, 1, 8);
    cr_assert_not_null (mask);
    memset (mask->data, value, segq_image_size (mask));
    cr_assert_eq (segq_image_write_png (mask, path, err, sizeof err), 0, "%s", err);
    segq_image_destroy (&mask);
}

/* A 0/1 label mask, which segq-run binarises at > 127 into an empty one,
   is refused at submit (train, and each pair of an evaluate set), naming
   the mask and its largest value; an all-zero mask is sent (segq-run
   warns of it in the job's log). */
Test (cli_submit, label_masks_refused_before_sending, .timeout = 60)
{
    s_listen ();
    char dir [] = "/tmp/segq-label-XXXXXX", image [96], label [96], zero [96];
    cr_assert_not_null (mkdtemp (dir));
    snprintf (image, sizeof image, "%s/image.png", dir);
    snprintf (label, sizeof label, "%s/label.png", dir);
    snprintf (zero, sizeof zero, "%s/zero.png", dir);
    cr_assert_eq (test_write_png (image, 32, 3, 1), 0);
    s_write_level_mask (label, 32, 1);
    s_write_level_mask (zero, 32, 0);
    const char *train [] = { "submit", "train", "--image", image, "--mask", label, NULL };
    s_refused_locally (train, label, "the mask's largest value is 1");
    cr_assert (strstr (s_err, "binarised at > 127; scale it to 0/255"), "%s", s_err);
    char real [64], images [80], masks [80], path [112];
    snprintf (real, sizeof real, "%s/real", dir);
    s_make_pair_dirs (real, images, sizeof images, masks, sizeof masks);
    s_write (images, "a.png", "image");
    snprintf (path, sizeof path, "%s/a.png", masks);
    s_write_level_mask (path, 32, 1);
    const char *evaluate [] = { "submit", "evaluate", "--real", real, NULL };
    s_refused_locally (evaluate, path, "the mask's largest value is 1");
    const char *empty [] = { "submit", "train", "--image", image, "--mask", zero, NULL };
    s_sends (empty);
    s_finish (dir);
}

/* An input's plural flag (--images DIR: one job per file) exists only
   where it reads as a plural: evaluate's --encoder-weights has none (its
   help: kind_help_from_the_table). */
Test (cli_submit, plural_flags_only_where_they_read_as_one, .timeout = 30)
{
    char dir [] = "/tmp/segq-plural-XXXXXX";
    cr_assert_not_null (mkdtemp (dir));
    s_touch (dir, "a.png");
    const char *doubled [] = {
        "submit", "evaluate", "--real", dir, "--encoder-weightss", dir, NULL
    };
    cr_assert_eq (s_run (doubled), 2, "%s", s_err);
    cr_assert (strstr (s_err, "no flag --encoder-weightss (did you mean --encoder-weights?)"), "%s",
               s_err);
    const char *folder [] = { "submit", "evaluate", "--real", dir, "--encoder-weights", dir, NULL };
    cr_assert_eq (s_run (folder), 2, "%s", s_err);
    cr_assert (strstr (s_err, "takes one file") && !strstr (s_err, "weightss"), "%s", s_err);
    char cmd [128];
    snprintf (cmd, sizeof cmd, "rm -rf %s", dir);
    cr_assert_eq (system (cmd), 0);
}

/* An input that takes a dataset folder (evaluate's real, test and
   synthetic sets, stylize's content) refuses a plain file at submit,
   saying what it takes: laid out alone, it would fail on a worker as a
   pair without its mask. A folder for it is still read as before. */
Test (cli_submit, dataset_inputs_refuse_a_plain_file, .timeout = 60)
{
    s_listen ();
    char dir [] = "/tmp/segq-dataset-file-XXXXXX", good [64], images [80], masks [80];
    char member [96], text [64];
    cr_assert_not_null (mkdtemp (dir));
    snprintf (good, sizeof good, "%s/good", dir);
    s_make_pair_dirs (good, images, sizeof images, masks, sizeof masks);
    s_write (images, "a.png", "image");
    s_write (masks, "a.png", "mask");
    snprintf (member, sizeof member, "%s/a.png", images);
    snprintf (text, sizeof text, "%s/notimage.png", dir);
    FILE *f = fopen (text, "w");
    cr_assert (f && fputs ("not an image", f) >= 0 && fclose (f) == 0);
    char set [128];
    snprintf (set, sizeof set, "x=%s", text);
    const char *pairs = "real takes a folder: image/mask pairs";
    const char *real_file [] = { "submit", "evaluate", "--real", text, NULL };
    s_refused_locally (real_file, "--real ", pairs);
    const char *real_member [] = { "submit", "evaluate", "--real", member, NULL };
    s_refused_locally (real_member, member, pairs);
    const char *test [] = { "submit", "evaluate", "--real", good, "--test", text, NULL };
    s_refused_locally (test, "--test ", "test takes a folder: image/mask pairs");
    const char *synthetic [] = { "submit", "evaluate", "--real", good, "--synthetic", set, NULL };
    s_refused_locally (synthetic, "--synthetic x=", "synthetic takes a folder: a generation");
    char raw [128];
    snprintf (raw, sizeof raw, "real=%s", text);
    const char *generic [] = { "submit", "evaluate", "--input", raw, NULL };
    s_refused_locally (generic, "--input real=", pairs);
    const char *content [] = { "submit", "stylize", "--content", text, "--vgg19", "000a", NULL };
    s_refused_locally (content, "--content ", "content takes a folder: a generation");
    const char *folder [] = { "submit", "evaluate", "--real", good, "--test", good, NULL };
    s_sends (folder);
    s_finish (dir);
}

/* A flag given twice, or two that say the same thing, is refused rather
   than one of them dropped without a word; a wrong number after --cpu or
   --time-limit is refused with the rule it breaks; a flag is named as
   typed (--encoder-weights, not the table's encoder_weights). */
Test (cli_submit, repeated_and_conflicting_flags_refused, .timeout = 60)
{
    s_listen ();
    char dir [] = "/tmp/segq-repeat-XXXXXX", images [80], masks [80], set [64];
    char image [96], mask [96];
    cr_assert_not_null (mkdtemp (dir));
    snprintf (set, sizeof set, "%s/set", dir);
    s_make_pair_dirs (set, images, sizeof images, masks, sizeof masks);
    s_write (images, "a.png", "image");
    s_write (masks, "a.png", "mask");
    snprintf (image, sizeof image, "%s/a.png", images);
    snprintf (mask, sizeof mask, "%s/a.png", masks);
    static const struct {
        const char *args [14];
        const char *what, *why;
    } cases [] = {
        { { "submit", "train", "--image", "I", "--mask", "M", "--niter", "5", "--niter", "6",
            NULL },
          "--niter given twice (5 and 6)",
          "give it once" },
        { { "submit", "train", "--image", "I", "--mask", "M", "--niter", "5", "--param", "niter=6",
            NULL },
          "--niter given twice",
          "give it once" },
        { { "submit", "train", "--image", "I", "--image", "I", "--mask", "M", NULL },
          "--image given twice",
          "give it once" },
        { { "submit", "train", "--image", "I", "--mask", "M", "--priority", "1", "--priority", "2",
            NULL },
          "--priority given twice",
          "give it once" },
        { { "submit", "train", "--image", "I", "--mask", "M", "--cpu", "-1", NULL },
          "--cpu '-1'",
          "whole number of CPU slots 1..4096" },
        { { "submit", "train", "--image", "I", "--mask", "M", "--time-limit", "9999999999999",
            NULL },
          "--time-limit '9999999999999'",
          "1..4294967295" },
        { { "submit", "evaluate", "--real", "S", "--encoder-weights", "S", NULL },
          "--encoder-weights ",
          "--encoder-weights takes one file" },
        { { "submit", "pipeline", "--image", "I", "--mask", "M", "--images", "D", "--masks", "E",
            NULL },
          "--images",
          "give one training pair (--image FILE --mask FILE) or folders of pairs" },
        { { "submit", "pipeline", "--images", "D", "--masks", "E", "--image", "I", NULL },
          "--image",
          "not both" },
        { { "submit", "pipeline", "--image", "I", "--mask", "M", "--niter", "5", "--niter", "6",
            NULL },
          "--niter given twice",
          "give it once" },
        { { "submit", "pipeline", "--image", "I", "--mask", "M", "--stop-after-scale", "0", NULL },
          "--stop-after-scale 0 stops the training early",
          "a model trained in part cannot generate" },
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases [0]; i++) {
        const char *args [16];
        size_t n = 0;
        for (; cases [i].args [n]; n++) {
            const char *a = cases [i].args [n];
            args [n] = !strcmp (a, "I")   ? image
                       : !strcmp (a, "M") ? mask
                       : !strcmp (a, "S") ? set
                       : !strcmp (a, "D") ? images
                       : !strcmp (a, "E") ? masks
                                          : a;
        }
        args [n] = NULL;
        s_refused_locally (args, cases [i].what, cases [i].why);
        cr_assert_null (strstr (s_err, "encoder_weights"), "case %zu: %s", i, s_err);
    }
    s_finish (dir);
}

/* `segq models --help` prints its help and nothing more (no request);
   an unknown subcommand's message points to the help once. */
Test (cli, models_help_and_unknown_subcommand, .timeout = 30)
{
    s_listen ();
    const char *help [] = { "models", "--help", NULL };
    cr_assert_eq (s_submit (help), 0, "%s", s_err);
    cr_assert (strstr (s_out, "usage: segq models"), "%s", s_out);
    cr_assert_null (s_heard (), "models --help asked the broker: %s", s_err);
    const char *frob [] = { "models", "frob", NULL };
    cr_assert_eq (s_submit (frob), 2, "%s", s_err);
    const char *hint = strstr (s_err, "(see `segq models --help`)");
    cr_assert (strstr (s_err, "unknown subcommand 'frob'") && hint
                   && !strstr (hint + 1, "(see `segq models --help`)"),
               "%s", s_err);
    cr_assert_null (s_heard (), "%s", s_err);
    /* what the broker could not take is said before it is sent */
    char note [SEGQ_MAX_STRING + 2], with [257 * 6];
    memset (note, 'n', sizeof note - 1);
    note [sizeof note - 1] = 0;
    const char *long_note [] = { "models", "note", "polyp", note, NULL };
    cr_assert_eq (s_submit (long_note), 2, "%s", s_err);
    cr_assert (strstr (s_err, "note: 'nnnn") && strstr (s_err, "is 4097 bytes: at most 4096"), "%s",
               s_err);
    size_t used = 0;
    for (int i = 0; i < 257; i++)
        used += (size_t) snprintf (with + used, sizeof with - used, "%su%d", i ? "," : "", i);
    const char *many [] = { "models", "share", "polyp", "--with", with, NULL };
    cr_assert_eq (s_submit (many), 2, "%s", s_err);
    cr_assert (strstr (s_err, "--with: at most 256 users at once"), "%s", s_err);
    cr_assert_null (s_heard (), "%s", s_err);
    /* a list splits as --drain's does: an empty name is refused */
    const char *empty [] = { "models", "share", "polyp", "--with", "bob,,carol", NULL };
    cr_assert_eq (s_submit (empty), 2, "%s", s_err);
    cr_assert (strstr (s_err, "--with 'bob,,carol': an empty name"), "%s", s_err);
    cr_assert_null (s_heard (), "%s", s_err);
    zsock_destroy (&s_router);
}

/* A model as the broker shows it to bob, with whom alice shared it by
   name: 32 wide, 26 high, and a generation of it he may read. */
static segq_msg_t *
s_model_reply (void)
{
    segq_msg_t *reply = segq_msg_new (SEGQ_MSG_MODEL_REPLY);
    segq_model_info_t *m = calloc (1, sizeof *m);
    char **shared = calloc (1, sizeof *shared);
    cr_assert (reply && m && shared);
    *m = (segq_model_info_t){ .id = strdup ("m-0001"),
                              .name = strdup ("polyp-17"),
                              .owner = strdup ("alice"),
                              .job = strdup ("0001"),
                              .samples = strdup ("0004"),
                              .scales = 2,
                              .height = 26,
                              .width = 32,
                              .shared = shared,
                              .n_shared = 1 };
    shared [0] = strdup ("bob");
    reply->u.model_reply.models = m;
    reply->u.model_reply.n_models = 1;
    return reply;
}

/* `segq models` and `models show` give a size width first (WxH, as
   `segq-run sample --size` takes it), the caller as "you" among whom a
   model is shared with, and the fetch of its samples as `segq fetch
   --help` spells it. */
Test (cli, models_say_sizes_width_first_and_you, .timeout = 60)
{
    s_listen ();
    setenv ("SEGQ_USER", "bob", 1);
    const char *list [] = { "models", NULL };
    cr_assert_eq (s_answered (list, s_model_reply ()), 0, "%s", s_err);
    cr_assert (strstr (s_out, " 32x26 ") && !strstr (s_out, "26x32"), "%s", s_out);
    cr_assert (strstr (s_out, "  you "), "%s", s_out);
    const char *show [] = { "models", "show", "polyp-17", NULL };
    cr_assert_eq (s_answered (show, s_model_reply ()), 0, "%s", s_err);
    cr_assert (strstr (s_out, "scales      2, finest 32x26\n"), "%s", s_out);
    cr_assert (strstr (s_out, "shared      you\n"), "%s", s_out);
    cr_assert (strstr (s_out, "(see them: segq fetch 0004 -o DIR)"), "%s", s_out);
    unsetenv ("SEGQ_USER");
    zsock_destroy (&s_router);
}

/* A typo of a kind or of an option is answered with the closest there is,
   whatever the command; nothing is sent. */
Test (cli, typos_get_a_did_you_mean, .timeout = 60)
{
    s_listen ();
    static const struct {
        const char *args [6];
        const char *says;
    } cases [] = {
        { { "submit", "trian", NULL }, "unknown job kind 'trian' (did you mean 'train'?)" },
        { { "submit", "trian", "--help", NULL },
          "unknown job kind 'trian' (did you mean 'train'?)" },
        { { "status", "--limt", "3", NULL },
          "unknown or incomplete option '--limt' (did you mean --limit?)" },
        { { "status", "--limt=3", NULL }, "(did you mean --limit?)" },
        { { "fetch", "0001", "--froce", NULL }, "(did you mean --force?)" },
        { { "models", "--usr", "bob", NULL }, "(did you mean --user?)" },
        { { "--brokr", "tcp://127.0.0.1:1", "status", NULL }, "(did you mean --broker?)" },
        { { "retry", "0001", "--gpu-men", "8G", NULL }, "(did you mean --gpu-mem?)" },
        { { "submit", "--gpu-men", "8G", "sleep", NULL }, "(did you mean --gpu-mem?)" },
        /* a name the command has, but no value */
        { { "status", "--limit", NULL }, "--limit needs a value" },
        { { "status", "--json=yes", NULL }, "--json takes no value" },
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases [0]; i++) {
        int rc = s_submit (cases [i].args);
        cr_assert_eq (rc, 2, "case %zu: exit %d, stderr: %s", i, rc, s_err);
        cr_assert (strstr (s_err, cases [i].says), "case %zu: '%s' not in: %s", i, cases [i].says,
                   s_err);
    }
    cr_assert_null (s_heard (), "the CLI sent something for a typo: %s", s_err);
    zsock_destroy (&s_router);
}

/* A negative priority is a number, not an option: no `--` needed. */
Test (cli, negative_priority_needs_no_double_dash, .timeout = 30)
{
    s_listen ();
    const char *priority [] = { "priority", "000k", "-3", NULL };
    cr_assert_eq (s_submit (priority), 1, "expected a timeout: %s", s_err);
    segq_msg_t *sent = s_heard ();
    cr_assert (sent && sent->type == SEGQ_MSG_PRIORITY, "%s", s_err);
    cr_assert_str_eq (sent->u.priority.job, "000k");
    cr_assert_eq (sent->u.priority.priority, -3);
    segq_msg_destroy (&sent);
    const char *after [] = { "priority", "000k", "--", "-4", NULL };
    cr_assert_eq (s_submit (after), 1, "expected a timeout: %s", s_err);
    sent = s_heard ();
    cr_assert (sent && sent->type == SEGQ_MSG_PRIORITY && sent->u.priority.priority == -4);
    segq_msg_destroy (&sent);
    const char *submit [] = { "submit", "sleep", "--priority", "-3", NULL };
    sent = s_sent (submit);
    cr_assert_eq (sent->u.submit.priority, -3);
    segq_msg_destroy (&sent);
    const char *missing [] = { "priority", "000k", NULL };
    cr_assert_eq (s_submit (missing), 2, "%s", s_err);
    zsock_destroy (&s_router);
}

/* Above the user band an admin's job goes ahead of fair share: the
   broker says who may (test_security), the CLI sends it; past int32 is
   no priority at all. */
Test (cli, a_priority_above_the_user_band_is_the_brokers_to_refuse, .timeout = 30)
{
    s_listen ();
    const char *ahead [] = { "submit", "sleep", "--priority", "2000000", NULL };
    segq_msg_t *sent = s_sent (ahead);
    cr_assert_eq (sent->u.submit.priority, 2000000);
    segq_msg_destroy (&sent);
    const char *too_big [] = { "submit", "sleep", "--priority", "2147483648", NULL };
    cr_assert_eq (s_submit (too_big), 2, "%s", s_err);
    cr_assert (strstr (s_err, "--priority '2147483648': expected an integer"), "%s", s_err);
    cr_assert_null (s_heard (), "%s", s_err);
    zsock_destroy (&s_router);
}

/* The STATUS that args send. */
static segq_msg_t *
s_status_sent (const char *const *args)
{
    cr_assert_eq (s_submit (args), 1, "expected a timeout: %s", s_err);
    segq_msg_t *msg = s_heard ();
    cr_assert (msg && msg->type == SEGQ_MSG_STATUS, "%s", s_err);
    return msg;
}

/* segq status lists the caller's own jobs unless --all or --user; --limit N
   asks for the newest N. */
Test (cli, status_asks_for_own_jobs_and_the_newest, .timeout = 30)
{
    s_listen ();
    struct passwd *pw = getpwuid (geteuid ());
    const char *plain [] = { "status", NULL };
    segq_msg_t *sent = s_status_sent (plain);
    cr_assert (sent->u.status.user && strcmp (sent->u.status.user, pw->pw_name) == 0);
    cr_assert_not (sent->u.status.newest);
    segq_msg_destroy (&sent);
    const char *all [] = { "status", "--all", NULL };
    sent = s_status_sent (all);
    cr_assert_null (sent->u.status.user);
    segq_msg_destroy (&sent);
    const char *newest [] = { "status", "--limit", "3", "--user", "bob", NULL };
    sent = s_status_sent (newest);
    cr_assert (sent->u.status.newest && sent->u.status.limit == 3);
    cr_assert_str_eq (sent->u.status.user, "bob");
    segq_msg_destroy (&sent);
    const char *named [] = { "status", "--limit", "3", "000k", NULL };
    sent = s_status_sent (named);
    cr_assert (!sent->u.status.newest && !sent->u.status.user && sent->u.status.n_jobs == 1);
    segq_msg_destroy (&sent);
    const char *both [] = { "status", "--all", "--user", "bob", NULL };
    cr_assert_eq (s_submit (both), 2, "%s", s_err);
    zsock_destroy (&s_router);
}

/* Certificates are named after their user: `segq keygen --name NAME` and
   `segqd keygen --user NAME` both write NAME.cert and NAME.cert_secret. */
Test (cli, keygen_names_certificates_after_the_user, .timeout = 30)
{
    char root [] = "/tmp/segq-keygen-XXXXXX", path [256];
    cr_assert_not_null (mkdtemp (root));
    setenv ("XDG_CONFIG_HOME", root, 1);
    const char *user [] = { "keygen", "--name", "alice", NULL };
    cr_assert_eq (s_run (user), 0, "%s", s_err);
    snprintf (path, sizeof path, "%s/segq/alice.cert", root);
    cr_assert (strstr (s_out, path), "%s", s_out);
    cr_assert_eq (access (path, R_OK), 0);
    snprintf (path, sizeof path, "%s/segq/alice.cert_secret", root);
    cr_assert_eq (access (path, R_OK), 0);
    snprintf (path, sizeof path, "%s/segq/user.cert", root);
    cr_assert_neq (access (path, F_OK), 0, "user.cert is nobody's name");

    char segqd [1024], out_dir [160], command [2048];
    const char *bin = getenv ("SEGQ_BINARY_DIR");
    snprintf (segqd, sizeof segqd, "%s/broker/segqd", bin && *bin ? bin : SEGQ_BINARY_DIR);
    snprintf (out_dir, sizeof out_dir, "%s/admin", root);
    snprintf (command, sizeof command, "'%s' keygen --user bob --out '%s' > /dev/null", segqd,
              out_dir);
    cr_assert_eq (system (command), 0, "%s", command);
    snprintf (path, sizeof path, "%s/bob.cert", out_dir);
    cr_assert_eq (access (path, R_OK), 0);
    snprintf (path, sizeof path, "%s/bob.cert_secret", out_dir);
    cr_assert_eq (access (path, R_OK), 0);
    /* a name no user could be shared with (--with U,U), nor shown in a column */
    const char *odd [] = { "bad name", "x,y", "../x" };
    for (size_t i = 0; i < 3; i++) {
        const char *again [] = { "keygen", "--name", odd [i], NULL };
        cr_assert_eq (s_run (again), 2, "%s", s_err);
        cr_assert (strstr (s_err, "cannot name a certificate"), "%s", s_err);
        snprintf (command, sizeof command, "'%s' keygen --user '%s' --out '%s' 2> /dev/null", segqd,
                  odd [i], out_dir);
        cr_assert_neq (system (command), 0, "%s", command);
    }
    snprintf (command, sizeof command, "rm -rf %s", root);
    cr_assert_eq (system (command), 0);
}
