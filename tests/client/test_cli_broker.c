/*  test_cli_broker.c: the segq command against a real segqd (and worker):
    what a user is told where the broker has the answer. Keys onboarding
    (a keyless client and a keyed broker, and the other way round), the
    default resources said at submit, cancel and fetch of ended jobs (and
    fetch of what a job does not have), a fetch that would overwrite other
    content (and one into a folder typed with its '/'), `segq kinds`, logs of a job that has not
   started, a drain of several nodes, a wait that outlasts a broker's restart, a model's id where a
   job's is wanted, status listing the caller's own jobs, the newest with --limit, and an evaluate
   of jobs' pairs checked fold by fold with what the broker knows of their training images. */
#include <criterion/criterion.h>
#include <czmq.h>
#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "harness.h"
#include "segq_proto.h"
#include "test_files.h"
#include "lab_keys.h"

static harness_t *h;
static char s_out [16384], s_err [16384];

static void
setup (void)
{
    h = harness_new ("cli-broker");
    cr_assert_not_null (h);
    /* the CLI's config dir: none of the machine's keys or hash cache */
    char config [600];
    snprintf (config, sizeof config, "%s/config", h->dir);
    setenv ("XDG_CONFIG_HOME", config, 1);
    setenv ("SEGQ_HASH_CACHE", "off", 1);
    unsetenv ("SEGQ_BROKER_KEY");
    unsetenv ("SEGQ_CERT");
}

static void
teardown (void)
{
    harness_destroy (&h);
}

/* segq ARGS (with --broker): its exit status; stdout and stderr kept. */
static int
s_segq (const char *const *args)
{
    return harness_cli (h, s_out, sizeof s_out, s_err, sizeof s_err, args);
}

/* A broker whose user `limited` may have 2 jobs queued (conf: its file). */
static void
s_start_limited_broker (char *conf, size_t len)
{
    snprintf (conf, len, "%s/segqd.conf", h->dir);
    FILE *f = fopen (conf, "w");
    cr_assert (f && fputs ("[user limited]\nmax_queued = 2\n", f) >= 0 && fclose (f) == 0);
    const char *extra [] = { "--config", conf, NULL };
    cr_assert_eq (harness_start_broker (h, extra), 0);
}

/* The rows of the user's `segq status`: how many, and how many ended
   cancelled (or failed because a job they waited for was cancelled). */
static void
s_status_cancelled (size_t *jobs, size_t *cancelled)
{
    const char *mine [] = { "status", NULL };
    H_ASSERT (h, s_segq (mine) == 0, "%s", s_err);
    *jobs = *cancelled = 0;
    char *save = NULL;
    for (char *row = strtok_r (s_out, "\n", &save); row; row = strtok_r (NULL, "\n", &save))
        if (strncmp (row, "JOB ", 4) != 0) {
            (*jobs)++;
            *cancelled += strstr (row, " cancelled ") || strstr (row, "was cancelled");
        }
}

/* The CLI's config dir, made, in out. */
/* segq submit ARGS, which must succeed: the job or array id it printed. */
static void
s_submitted (const char *const *args, char *id, size_t len)
{
    H_ASSERT (h, s_segq (args) == 0, "%s", s_err);
    snprintf (id, len, "%.*s", (int) strcspn (s_out, "\n"), s_out);
    cr_assert (*id, "no id in '%s' (%s)", s_out, s_err);
}

/* A stand-in for VGG19 weights by reference, for jobs that never run
   here: an echo job's copy of a small file (the broker takes any test
   kind's output, where a train job's checkpoint is refused; a local file
   the CLI would check as VGG19's). Its JOB:OUTPUT into ref. */
static void
s_weights_ref (char *ref, size_t len)
{
    char path [700], job [32];
    snprintf (path, sizeof path, "%s/weights.safetensors", h->dir);
    FILE *f = fopen (path, "w");
    cr_assert (f && fputs ("stand-in", f) >= 0 && fclose (f) == 0, "%s", path);
    const char *echo [] = { "submit", "echo", "--files", path, NULL };
    s_submitted (echo, job, sizeof job);
    snprintf (ref, len, "%s:files/weights.safetensors", job);
}

static void
s_config_dir (char *out, size_t len)
{
    snprintf (out, len, "%s/config/segq", h->dir);
    char command [800];
    snprintf (command, sizeof command, "mkdir -p '%s'", out);
    cr_assert_eq (system (command), 0);
}

static void
s_copy (const char *from, const char *to)
{
    char command [2048];
    snprintf (command, sizeof command, "cp '%s' '%s'", from, to);
    cr_assert_eq (system (command), 0, "%s", command);
}

/* A user with no key against a broker with keys is told at once that it
   needs them, not "not reachable" after the timeout (with a certificate
   but not the broker's key, that the broker's key is missing); with the user's
   certificate (as `segq keygen` names it) and the broker's in the config
   dir, the CLI gets in as the certificate's name. */
Test (cli_broker, keyless_user_told_the_broker_needs_keys, .init = setup, .fini = teardown,
      .timeout = 120)
{
    char keys [600], certs [700], broker_key [700], config [700], path [900];
    lab_keys_make (h->dir, keys, sizeof keys, certs, sizeof certs, broker_key, sizeof broker_key);
    const char *extra [] = { "--keys", keys, NULL };
    cr_assert_eq (harness_start_broker (h, extra), 0, "segqd did not start with --keys");
    const char *status [] = { "--timeout", "10000", "status", NULL };
    int64_t started = zclock_mono ();
    H_ASSERT (h, s_segq (status) == 1, "a keyless status: %s", s_err);
    cr_assert_lt (zclock_mono () - started, 3000, "waited for the timeout: %s", s_err);
    cr_assert (strstr (s_err, "requires keys") && strstr (s_err, "segq keygen")
                   && !strstr (s_err, "not reachable"),
               "%s", s_err);

    s_config_dir (config, sizeof config);
    lab_cert (config, "carol", "user");
    snprintf (path, sizeof path, "%s/carol.cert", config);
    s_copy (path, certs);
    /* her certificate made, the broker's key not yet fetched: told that,
       not sent back to `segq keygen` */
    H_ASSERT (h, s_segq (status) == 1, "a status without the broker's key: %s", s_err);
    cr_assert (strstr (s_err, "your certificate") && strstr (s_err, "carol.cert")
                   && strstr (s_err, "broker.cert") && !strstr (s_err, "segq keygen"),
               "%s", s_err);
    snprintf (path, sizeof path, "%s/broker.cert", config);
    s_copy (broker_key, path);
    const char *submit [] = { "submit", "sleep", "--seconds", "0", NULL };
    char job [SEGQ_JOB_ID_MAX], err [4096];
    H_ASSERT (h, harness_submit (h, submit, job, sizeof job, err, sizeof err) == 0, "%s", err);
    /* its own jobs by default: the certificate's name, not the login's */
    H_ASSERT (h, s_segq (status) == 0, "%s", s_err);
    cr_assert (strstr (s_out, job) && strstr (s_out, "carol"), "%s", s_out);
    H_ASSERT_CLEAN_STOP (h);
}

/* With a broker.cert in the config dir, a broker without keys says so at
   once, and --no-keys (or SEGQ_BROKER_KEY set to nothing) reaches it. */
Test (cli_broker, keyed_user_reaches_a_keyless_broker_with_no_keys, .init = setup, .fini = teardown,
      .timeout = 120)
{
    char config [700];
    s_config_dir (config, sizeof config);
    lab_cert (config, "broker", "broker");
    lab_cert (config, "carol", "user");
    char secret [800];
    snprintf (secret, sizeof secret, "%s/broker.cert_secret", config);
    cr_assert_eq (unlink (secret), 0, "a user has only the broker's public certificate");
    cr_assert_eq (harness_start_broker (h, NULL), 0);
    const char *status [] = { "--timeout", "10000", "status", NULL };
    int64_t started = zclock_mono ();
    H_ASSERT (h, s_segq (status) == 1, "a keyed status to a keyless broker: %s", s_err);
    cr_assert_lt (zclock_mono () - started, 3000, "waited for the timeout: %s", s_err);
    cr_assert (strstr (s_err, "runs without keys") && strstr (s_err, "--no-keys")
                   && strstr (s_err, "config dir"),
               "%s", s_err);
    const char *no_keys [] = { "--no-keys", "status", NULL };
    H_ASSERT (h, s_segq (no_keys) == 0, "%s", s_err);
    setenv ("SEGQ_BROKER_KEY", "", 1);
    H_ASSERT (h, s_segq (status) == 0, "SEGQ_BROKER_KEY=: %s", s_err);
    H_ASSERT_CLEAN_STOP (h);
}

/* A submit that asks for no resources gets its kind's default from the
   broker's configuration, and the CLI says what it got. */
Test (cli_broker, default_resources_said_at_submit, .init = setup, .fini = teardown, .timeout = 120)
{
    char conf [600], image [600], mask [600];
    snprintf (conf, sizeof conf, "%s/segqd.conf", h->dir);
    snprintf (image, sizeof image, "%s/polyp.png", h->dir);
    snprintf (mask, sizeof mask, "%s/polyp-mask.png", h->dir);
    cr_assert_eq (test_write_png (image, 32, 1, 1), 0);
    cr_assert_eq (test_write_png (mask, 32, 1, 2), 0);
    FILE *f = fopen (conf, "w");
    cr_assert_not_null (f);
    fputs ("[kind train]\ngpu_mem = 6G\n[kind generate]\ncpu_slots = 2\n", f);
    fclose (f);
    const char *extra [] = { "--config", conf, NULL };
    cr_assert_eq (harness_start_broker (h, extra), 0);
    const char *train [] = { "submit", "train", "--image", image, "--mask", mask, NULL };
    H_ASSERT (h, s_segq (train) == 0, "%s", s_err);
    cr_assert (strstr (s_err, "train, 6.0 GiB of GPU memory: no --gpu-mem or --cpu given; the "
                              "broker's default for train"),
               "%s", s_err);
    char job [SEGQ_JOB_ID_MAX];
    snprintf (job, sizeof job, "%.*s", (int) strcspn (s_out, "\n"), s_out);
    const char *generate [] = { "submit", "generate", "--model", job, NULL };
    H_ASSERT (h, s_segq (generate) == 0, "%s", s_err);
    cr_assert (strstr (s_err, "generate, 2 CPU slots"), "%s", s_err);
    char gen [SEGQ_JOB_ID_MAX];
    snprintf (gen, sizeof gen, "%.*s", (int) strcspn (s_out, "\n"), s_out);
    char weights [64];
    s_weights_ref (weights, sizeof weights);
    const char *stylize [] = { "submit", "stylize", "--content", gen, "--vgg19", weights, NULL };
    H_ASSERT (h, s_segq (stylize) == 0, "%s", s_err);
    cr_assert (strstr (s_err, "stylize, 1 CPU slot:"), "%s", s_err);
    const char *asked [] = {
        "submit", "train", "--image", image, "--mask", mask, "--cpu", "2", NULL
    };
    H_ASSERT (h, s_segq (asked) == 0, "%s", s_err);
    cr_assert_eq (s_err [0], 0, "resources asked for: nothing to say: %s", s_err);
    H_ASSERT_CLEAN_STOP (h);
}

/* Cancelling a job that has ended says so and fails; fetching from a job
   that failed says it failed and why, not "wait for it". */
Test (cli_broker, ended_jobs_said_as_ended, .init = setup, .fini = teardown, .timeout = 120)
{
    cr_assert_eq (harness_start_broker (h, NULL), 0);
    cr_assert_geq (harness_start_worker (h, "w1", 1, NULL), 0);
    char done [SEGQ_JOB_ID_MAX], failed [SEGQ_JOB_ID_MAX], err [4096];
    const char *sleep [] = { "submit", "sleep", "--seconds", "0", NULL };
    const char *fail [] = { "submit", "fail", "--code", "7", NULL };
    H_ASSERT (h, harness_submit (h, sleep, done, sizeof done, err, sizeof err) == 0, "%s", err);
    H_ASSERT (h, harness_submit (h, fail, failed, sizeof failed, err, sizeof err) == 0, "%s", err);
    const char *wait [] = { "wait", done, failed, NULL };
    H_ASSERT (h, s_segq (wait) == 3, "%s %s", s_out, s_err);

    const char *cancel [] = { "cancel", done, NULL };
    H_ASSERT (h, s_segq (cancel) == 1, "cancel of a succeeded job: %s", s_out);
    cr_assert (strstr (s_err, "already ended (succeeded)") && !strstr (s_out, "cancelled"), "%s %s",
               s_out, s_err);

    char dir [600];
    snprintf (dir, sizeof dir, "%s/fetched", h->dir);
    const char *fetch [] = { "fetch", failed, "-o", dir, NULL };
    H_ASSERT (h, s_segq (fetch) == 1, "%s", s_out);
    cr_assert (strstr (s_err, "failed: exited with code 7") && strstr (s_err, "segq logs")
                   && !strstr (s_err, "wait for it"),
               "%s", s_err);

    /* a name the job does not have; a job that made nothing; one still
       running: each said as it is */
    const char *named [] = { "fetch", done, "-o", dir, "nope.png", NULL };
    H_ASSERT (h, s_segq (named) == 1, "%s", s_out);
    cr_assert (strstr (s_err, "has no output 'nope.png' (it has 0"), "%s", s_err);
    const char *all [] = { "fetch", done, "-o", dir, NULL };
    H_ASSERT (h, s_segq (all) == 1, "%s", s_out);
    cr_assert (strstr (s_err, "(succeeded) has no outputs") && !strstr (s_err, "wait for it"), "%s",
               s_err);
    char running [SEGQ_JOB_ID_MAX];
    const char *slow [] = { "submit", "sleep", "--seconds", "60", NULL };
    H_ASSERT (h, harness_submit (h, slow, running, sizeof running, err, sizeof err) == 0, "%s",
              err);
    const char *early [] = { "fetch", running, "-o", dir, NULL };
    H_ASSERT (h, s_segq (early) == 1, "%s", s_out);
    cr_assert (strstr (s_err, "has no outputs yet: wait for it with `segq wait`"), "%s", s_err);
    const char *stop [] = { "cancel", running, NULL };
    H_ASSERT (h, s_segq (stop) == 0, "%s %s", s_out, s_err);
    const char *ended [] = { "wait", running, NULL };
    H_ASSERT (h, s_segq (ended) != 0, "a cancelled job: %s", s_out);
    H_ASSERT_CLEAN_STOP (h);
}

/* A text file at dir/name (dir made), for an echo job to copy. */
static void
s_write_text (const char *dir, const char *name, const char *text, char *path, size_t len)
{
    cr_assert (mkdir (dir, 0755) == 0 || errno == EEXIST, "%s", dir);
    snprintf (path, len, "%s/%s", dir, name);
    FILE *f = fopen (path, "w");
    cr_assert (f && fputs (text, f) >= 0 && fclose (f) == 0, "%s", path);
}

/* The start of the file at path into buf ("" if there is none). */
static char *
s_read_text (const char *path, char *buf, size_t len)
{
    FILE *f = fopen (path, "r");
    size_t n = f ? fread (buf, 1, len - 1, f) : 0;
    if (f)
        fclose (f);
    buf [n] = 0;
    return buf;
}

/* Whether the file at path holds exactly text. */
static bool
s_holds (const char *path, const char *text)
{
    char buf [256];
    return strcmp (s_read_text (path, buf, sizeof buf), text) == 0 && access (path, F_OK) == 0;
}

/* `segq fetch` into a folder that has a file of an output's name: with
   other content the whole fetch is refused before anything is written
   (an array's too), naming the file and the fix; with the same content
   the file is kept and not fetched again; --force overwrites. */
Test (cli_broker, fetch_refuses_to_overwrite_other_content, .init = setup, .fini = teardown,
      .timeout = 120)
{
    cr_assert_eq (harness_start_broker (h, NULL), 0);
    cr_assert_geq (harness_start_worker (h, "w1", 1, NULL), 0);
    char dir [700], file [800], first [32], second [32], out [600], path [800];
    snprintf (dir, sizeof dir, "%s/one", h->dir);
    s_write_text (dir, "x.txt", "first", file, sizeof file);
    const char *echo_first [] = { "submit", "echo", "--files", file, NULL };
    s_submitted (echo_first, first, sizeof first);
    snprintf (dir, sizeof dir, "%s/two", h->dir);
    s_write_text (dir, "x.txt", "second", file, sizeof file);
    const char *echo_second [] = { "submit", "echo", "--files", file, NULL };
    s_submitted (echo_second, second, sizeof second);
    const char *wait [] = { "wait", first, second, NULL };
    H_ASSERT (h, s_segq (wait) == 0, "%s %s", s_out, s_err);

    snprintf (out, sizeof out, "%s/out", h->dir);
    snprintf (path, sizeof path, "%s/x.txt", out);
    const char *fetch_first [] = { "fetch", first, "-o", out, NULL };
    H_ASSERT (h, s_segq (fetch_first) == 0, "%s", s_err);
    cr_assert (s_holds (path, "first"), "%s", s_out);
    H_ASSERT (h, s_segq (fetch_first) == 0, "the same job again: %s", s_err);
    cr_assert (strstr (s_out, "already there"), "%s", s_out);
    /* a folder typed with its '/' (or several): one between it and the name */
    char slashed [700];
    snprintf (slashed, sizeof slashed, "%s//", out);
    const char *fetch_slashed [] = { "fetch", first, "-o", slashed, NULL };
    H_ASSERT (h, s_segq (fetch_slashed) == 0, "%s", s_err);
    cr_assert (strncmp (s_out, path, strlen (path)) == 0, "not %s: %s", path, s_out);
    const char *fetch_second [] = { "fetch", second, "-o", out, NULL };
    H_ASSERT (h, s_segq (fetch_second) == 1, "%s", s_out);
    char said [900];
    snprintf (said, sizeof said, "'%s' exists already with other content: nothing was fetched",
              path);
    cr_assert (strstr (s_err, said) && strstr (s_err, "--force") && strstr (s_err, "-o DIR"), "%s",
               s_err);
    cr_assert (s_holds (path, "first"), "overwritten though refused");
    const char *force [] = { "fetch", second, "-o", out, "--force", NULL };
    H_ASSERT (h, s_segq (force) == 0, "%s", s_err);
    cr_assert (s_holds (path, "second"));

    /* an array: its second job's file in the way stops the first's too */
    segq_client_t *c = harness_client (h, 0);
    const char *jobs [] = { first, second };
    segq_array_info_t array;
    cr_assert_eq (segq_client_array_create (c, jobs, 2, &array), 0, "%s", segq_client_error (c));
    snprintf (out, sizeof out, "%s/array", h->dir);
    snprintf (dir, sizeof dir, "%s/%s", out, second);
    cr_assert_eq (mkdir (out, 0755), 0);
    s_write_text (dir, "x.txt", "first", file, sizeof file);
    const char *fetch_array [] = { "fetch", array.array, "-o", out, NULL };
    H_ASSERT (h, s_segq (fetch_array) == 1, "%s", s_out);
    cr_assert (strstr (s_err, file) && strstr (s_err, "nothing was fetched"), "%s", s_err);
    snprintf (path, sizeof path, "%s/%s", out, first);
    cr_assert_neq (access (path, F_OK), 0, "the array's first job was fetched: %s", path);
    snprintf (slashed, sizeof slashed, "%s/", out);
    const char *force_array [] = { "fetch", array.array, "-o", slashed, "--force", NULL };
    H_ASSERT (h, s_segq (force_array) == 0, "%s", s_err);
    snprintf (path, sizeof path, "%s/%s/x.txt", out, first);
    cr_assert (s_holds (path, "first") && s_holds (file, "second"));
    cr_assert (strstr (s_out, path) && strstr (s_out, file) && !strstr (s_out, "//"), "%s", s_out);
    segq_array_info_clear (&array);
    segq_client_destroy (&c);
    H_ASSERT_CLEAN_STOP (h);
}

/* segq ARGS (with --broker) started in the background, its stdout and
   stderr into out and err: its pid. */
static pid_t
s_segq_spawn (const char *const *args, const char *out, const char *err)
{
    const char *argv [16] = { harness_binary ("segq"), "--broker", h->endpoint };
    for (size_t i = 0; args [i] && i < 12; i++)
        argv [3 + i] = args [i];
    pid_t pid = fork ();
    cr_assert_geq (pid, 0);
    if (pid == 0) {
        int o = open (out, O_WRONLY | O_CREAT | O_TRUNC, 0644);
        int e = open (err, O_WRONLY | O_CREAT | O_TRUNC, 0644);
        if (o < 0 || e < 0 || dup2 (o, 1) < 0 || dup2 (e, 2) < 0)
            _exit (127);
        setenv ("SEGQ_USER", H_USER, 0);
        execv (argv [0], (char *const *) argv);
        _exit (127);
    }
    return pid;
}

/* `segq logs` of a job that has not started says so on stderr (what it
   waits for), once; -f then follows its log when it runs. */
Test (cli_broker, logs_of_a_job_not_started_say_so, .init = setup, .fini = teardown, .timeout = 120)
{
    cr_assert_eq (harness_start_broker (h, NULL), 0);
    char job [SEGQ_JOB_ID_MAX], said [200];
    const char *sleep [] = { "submit", "sleep", "--seconds", "0", NULL };
    s_submitted (sleep, job, sizeof job);
    const char *logs [] = { "logs", job, NULL };
    H_ASSERT (h, s_segq (logs) == 0, "%s", s_err);
    snprintf (said, sizeof said, "job %s is queued (", job);
    cr_assert (!*s_out && strstr (s_err, said) && strstr (s_err, "has no log yet"), "%s", s_err);
    const char *hold [] = { "hold", job, NULL };
    H_ASSERT (h, s_segq (hold) == 0, "%s", s_err);
    H_ASSERT (h, s_segq (logs) == 0, "%s", s_err);
    snprintf (said, sizeof said, "job %s is held (segq release %s lets it start)", job, job);
    cr_assert (strstr (s_err, said), "%s", s_err);

    char out [600], err [600];
    snprintf (out, sizeof out, "%s/logs.out", h->dir);
    snprintf (err, sizeof err, "%s/logs.err", h->dir);
    const char *follow [] = { "logs", "-f", job, NULL };
    pid_t pid = s_segq_spawn (follow, out, err);
    H_ASSERT (h, harness_wait_text (err, "its log will follow when it starts", 10000) == 0,
              "logs -f said nothing of a held job");
    const char *release [] = { "release", job, NULL };
    H_ASSERT (h, s_segq (release) == 0, "%s", s_err);
    cr_assert_geq (harness_start_worker (h, "w1", 1, NULL), 0);
    H_ASSERT (h, harness_wait_text (out, "=== attempt 1 on w1", 20000) == 0, "no log followed");
    int status;
    cr_assert_eq (waitpid (pid, &status, 0), pid);
    cr_assert (WIFEXITED (status) && WEXITSTATUS (status) == 0, "status %d", status);
    char text [4096];
    const char *note = strstr (s_read_text (err, text, sizeof text), "logs: job");
    cr_assert (note && !strstr (note + 1, "logs: job"), "said other than once: %s", text);
    H_ASSERT_CLEAN_STOP (h);
}

/* `segq workers --drain` given again and as a list drains every node
   named; one the broker does not know is said (exit 1), the others are
   drained still. */
Test (cli_broker, drain_of_several_nodes_drains_each, .init = setup, .fini = teardown,
      .timeout = 120)
{
    cr_assert_eq (harness_start_broker (h, NULL), 0);
    cr_assert_eq (harness_start_worker (h, "w1", 1, NULL), 0);
    cr_assert_eq (harness_start_worker (h, "w2", 1, NULL), 1);
    cr_assert_eq (harness_start_worker (h, "w3", 1, NULL), 2);
    const char *drain [] = { "workers", "--drain", "w1,nope", "--drain", "w2", NULL };
    H_ASSERT (h, s_segq (drain) == 1, "%s", s_out);
    cr_assert (strstr (s_out, "w1 draining") && strstr (s_out, "w2 draining"), "%s", s_out);
    cr_assert (strstr (s_err, "no connected worker named 'nope'"), "%s", s_err);
    const char *json [] = { "workers", "--drain", "w3", "--drain", "w3", "--json", NULL };
    H_ASSERT (h, s_segq (json) == 0, "%s", s_err);
    json_t *said = json_loads (s_out, 0, NULL);
    cr_assert (json_is_array (said) && json_array_size (said) == 1
                   && json_is_true (json_object_get (json_array_get (said, 0), "draining")),
               "%s", s_out);
    json_decref (said);
    for (int i = 0; i < 3; i++)
        for (int k = 0; k < 500 && harness_worker_alive (h, i); k++)
            harness_sleep_ms (20);
    H_ASSERT (h,
              !harness_worker_alive (h, 0) && !harness_worker_alive (h, 1)
                  && !harness_worker_alive (h, 2),
              "a drained worker did not exit");
    const char *empty [] = { "workers", "--drain", "w1,,w2", NULL };
    cr_assert_eq (s_segq (empty), 2, "%s", s_err);
    cr_assert (strstr (s_err, "--drain 'w1,,w2': an empty name"), "%s", s_err);
    H_ASSERT_CLEAN_STOP (h);
}

/* segq status lists the caller's own jobs (--all: everyone's) and with
   --limit N the newest N, oldest of them first. */
Test (cli_broker, status_lists_own_jobs_and_the_newest, .init = setup, .fini = teardown,
      .timeout = 120)
{
    cr_assert_eq (harness_start_broker (h, NULL), 0);
    char mine [5][SEGQ_JOB_ID_MAX], theirs [SEGQ_JOB_ID_MAX], err [4096];
    const char *noop [] = { "submit", "sleep", NULL };
    for (int i = 0; i < 5; i++)
        H_ASSERT (h, harness_submit (h, noop, mine [i], sizeof mine [i], err, sizeof err) == 0,
                  "%s", err);
    /* a name of more bytes than characters */
    segq_client_options_t as_carol = { .broker = h->endpoint, .user = "Jos\xc3\xa9" };
    segq_client_t *other = NULL;
    char why [512];
    H_ASSERT (h, segq_client_connect (&as_carol, &other, why, sizeof why) == 0, "%s", why);
    segq_job_spec_t *spec = segq_job_spec_new ("sleep");
    H_ASSERT (h, segq_client_submit (other, spec, theirs, sizeof theirs) == 0, "%s",
              segq_client_error (other));
    segq_job_spec_destroy (&spec);
    segq_client_destroy (&other);

    const char *status [] = { "status", NULL };
    H_ASSERT (h, s_segq (status) == 0, "%s", s_err);
    for (int i = 0; i < 5; i++)
        cr_assert (strstr (s_out, mine [i]), "%s missing: %s", mine [i], s_out);
    cr_assert_null (strstr (s_out, theirs), "another user's job listed: %s", s_out);
    const char *all [] = { "status", "--all", NULL };
    H_ASSERT (h, s_segq (all) == 0, "%s", s_err);
    cr_assert (strstr (s_out, theirs) && strstr (s_out, mine [0]), "%s", s_out);
    /* OWNER is 10 characters wide, not 10 bytes: the TRY column stays in line */
    cr_assert (strstr (s_out, "Jos\xc3\xa9         0"), "columns out of line: %s", s_out);
    const char *newest [] = { "status", "--limit", "3", NULL };
    H_ASSERT (h, s_segq (newest) == 0, "%s", s_err);
    cr_assert (!strstr (s_out, mine [0]) && !strstr (s_out, mine [1]), "older ones shown: %s",
               s_out);
    const char *at2 = strstr (s_out, mine [2]), *at3 = strstr (s_out, mine [3]);
    const char *at4 = strstr (s_out, mine [4]);
    cr_assert (at2 && at3 && at4 && at2 < at3 && at3 < at4, "not the newest 3 in order: %s", s_out);
    H_ASSERT_CLEAN_STOP (h);
}

/* dir/images/NAME.png + dir/masks/NAME.png for names a, b, c (each its
   own pixels). */
static void
s_real_pairs (const char *dir)
{
    char command [1400];
    snprintf (command, sizeof command, "mkdir -p '%s/images' '%s/masks'", dir, dir);
    cr_assert_eq (system (command), 0);
    for (unsigned i = 0; i < 3; i++) {
        char image [700], mask [700];
        snprintf (image, sizeof image, "%s/images/%c.png", dir, 'a' + i);
        snprintf (mask, sizeof mask, "%s/masks/%c.png", dir, 'a' + i);
        cr_assert (test_write_png (image, 32, 3, i + 1) == 0
                   && test_write_png (mask, 32, 1, i + 7) == 0);
    }
}

/* One training per pair of the real folder, and a generation from each:
   the two job arrays' ids (neither runs here: no worker). */
static void
s_train_generate_arrays (const char *real, char trains [32], char gens [32])
{
    char images [700], masks [700];
    snprintf (images, sizeof images, "%s/images", real);
    snprintf (masks, sizeof masks, "%s/masks", real);
    const char *all [] = { "submit", "train", "--images", images, "--masks", masks, "--cpu", NULL };
    s_submitted (all, trains, 32);
    const char *each [] = { "submit", "generate", "--model", trains, "--cpu", NULL };
    s_submitted (each, gens, 32);
    cr_assert (strncmp (gens, "a-", 2) == 0, "not an array: %s", s_out);
}

/* An evaluate whose synthetic sets are jobs (a generate job, a stylize of
   it, an array of generate jobs) is checked fold by fold at submit like
   one of local folders: the broker says which training images the
   pairs come from (the jobs need not have run: no worker here). One
   training image in --real leaves the fold that tests it nothing to
   train on; one generation per real pair trains in every fold. */
Test (cli_broker, evaluate_of_jobs_checked_fold_by_fold, .init = setup, .fini = teardown,
      .timeout = 120)
{
    cr_assert_eq (harness_start_broker (h, NULL), 0);
    char real [600], image [700], mask [700];
    snprintf (real, sizeof real, "%s/real", h->dir);
    s_real_pairs (real);
    snprintf (image, sizeof image, "%s/images/a.png", real);
    snprintf (mask, sizeof mask, "%s/masks/a.png", real);
    char train [32], gen [32], sty [32], set [64];
    const char *one [] = { "submit", "train", "--image", image, "--mask", mask, "--cpu", NULL };
    s_submitted (one, train, sizeof train);
    const char *generate [] = { "submit", "generate", "--model", train, "--cpu", NULL };
    s_submitted (generate, gen, sizeof gen);
    char weights [64];
    s_weights_ref (weights, sizeof weights);
    const char *stylize [] = { "submit", "stylize", "--content", gen, "--vgg19", weights, NULL };
    s_submitted (stylize, sty, sizeof sty);
    const char *evaluate [] = { "submit", "evaluate", "--real", real, "--synthetic", set, NULL };
    const char *sets [] = { gen, sty };
    for (int i = 0; i < 2; i++) {
        snprintf (set, sizeof set, "gen=%s", sets [i]);
        cr_assert_eq (s_segq (evaluate), 2, "%s: %s", set, s_out);
        cr_assert (strstr (s_err, "--synthetic gen: in fold")
                       && strstr (s_err, "they come from 1 image that fold tests (a)"),
                   "%s: %s", set, s_err);
    }

    /* one training per real pair: an array of generate jobs */
    char trains [32], gens [32];
    s_train_generate_arrays (real, trains, gens);
    snprintf (set, sizeof set, "gen=%s", gens);
    H_ASSERT (h, s_segq (evaluate) == 0, "%s", s_err);
    H_ASSERT_CLEAN_STOP (h);
}

/* A SUBMIT of stylize, built by hand, whose content names both jobs:
   refused, saying `why`. */
static void
s_raw_stylize_refused (const char *const contents [2], const char *vgg19, const char *why)
{
    zsock_t *sock = zsock_new (ZMQ_DEALER);
    cr_assert (sock && zsock_connect (sock, "%s", h->endpoint) == 0);
    zsock_set_rcvtimeo (sock, 10000);
    segq_msg_t *msg = segq_msg_new (SEGQ_MSG_SUBMIT);
    segq_submit_t *submit = &msg->u.submit;
    submit->req_id = 7;
    submit->user = strdup (H_USER); /* the harness CLI's user: the jobs are theirs */
    submit->kind = strdup ("stylize");
    submit->inputs = calloc (3, sizeof *submit->inputs);
    submit->n_inputs = 3;
    for (int i = 0; i < 3; i++) {
        submit->inputs [i].name = strdup (i < 2 ? "content" : "vgg19");
        submit->inputs [i].job = strdup (i < 2 ? contents [i] : vgg19);
        submit->inputs [i].output = i < 2 ? strdup ("*") : NULL;
    }
    cr_assert_eq (segq_msg_send (&msg, sock, NULL), 0);
    segq_msg_t *reply = NULL;
    char err [512] = "";
    int rc = segq_msg_recv (sock, NULL, &reply, NULL, err, sizeof err);
    zsock_destroy (&sock);
    H_ASSERT (h, rc == 0 && reply, "no answer: %s", err);
    bool refused = reply->type == SEGQ_MSG_ERROR && reply->u.error.code == SEGQ_EINVAL
                   && reply->u.error.message && strstr (reply->u.error.message, why);
    char said [1024];
    snprintf (said, sizeof said, "%s",
              reply->type == SEGQ_MSG_ERROR && reply->u.error.message
                  ? reply->u.error.message
                  : segq_msg_type_name (reply->type));
    segq_msg_destroy (&reply);
    cr_assert (refused, "stylize of %s and %s: %s", contents [0], contents [1], said);
}

/* stylize's content is one generation's pairs: given a job array of
   generate jobs, segq submit makes one stylize per member, each with its
   own member's training image as the default style; the broker refuses
   an array, or two jobs, as one stylize's content from any client. */
Test (cli_broker, stylize_of_an_array_is_one_job_per_member, .init = setup, .fini = teardown,
      .timeout = 120)
{
    cr_assert_eq (harness_start_broker (h, NULL), 0);
    char real [600];
    snprintf (real, sizeof real, "%s/real", h->dir);
    s_real_pairs (real);
    char trains [32], gens [32], stys [32];
    s_train_generate_arrays (real, trains, gens);
    char weights [64];
    s_weights_ref (weights, sizeof weights);
    const char *restyle [] = { "submit", "stylize", "--content", gens, "--vgg19", weights, NULL };
    s_submitted (restyle, stys, sizeof stys);
    cr_assert (strncmp (stys, "a-", 2) == 0, "not an array: %s", s_out);
    const char *listing [] = { "--json", "status", stys, "-l", NULL };
    H_ASSERT (h, s_segq (listing) == 0, "%s", s_err);
    for (unsigned i = 0; i < 3; i++) {
        char style [32];
        snprintf (style, sizeof style, "\"style/%c.png\"", 'a' + i);
        cr_assert (strstr (s_out, style), "no %s among the array's jobs: %s", style, s_out);
    }
    /* one stylize of them all, or of two of them: refused by the broker */
    segq_client_t *c = harness_client (h, 0);
    segq_job_spec_t *spec = segq_job_spec_new ("stylize");
    char err [512], job [32], gen [32], other [32];
    cr_assert_eq (segq_job_spec_input_job (spec, "content", gens, "*", err, sizeof err), 0);
    cr_assert_eq (segq_job_spec_input_job (spec, "vgg19", trains, NULL, err, sizeof err), 0);
    H_ASSERT (h, segq_client_submit (c, spec, job, sizeof job) == SEGQ_EINVAL, "%s", job);
    cr_assert (strstr (segq_client_error (c), "takes one job's outputs"), "%s",
               segq_client_error (c));
    segq_job_spec_destroy (&spec);
    segq_array_info_t array = { 0 };
    cr_assert_eq (segq_client_array (c, gens, &array), 0);
    snprintf (gen, sizeof gen, "%s", array.jobs [0]);
    snprintf (other, sizeof other, "%s", array.jobs [1]);
    segq_array_info_clear (&array);
    char train [32];
    cr_assert_eq (segq_client_array (c, trains, &array), 0);
    snprintf (train, sizeof train, "%s", array.jobs [0]);
    segq_array_info_clear (&array);
    segq_client_destroy (&c);
    /* two jobs: what libsegq will not send, a client of its own may */
    const char *contents [] = { gen, other };
    s_raw_stylize_refused (contents, train, "takes one job's outputs (or one folder)");
    H_ASSERT_CLEAN_STOP (h);
}

/* A pipeline with a fixed test set: its evaluate job reads it (no folds
   to check); one whose later stage the broker refuses (here the user's
   max_queued) cancels the jobs it had sent: no half pipeline runs. */
Test (cli_broker, pipeline_evaluate_test_and_a_refusal_midway, .init = setup, .fini = teardown,
      .timeout = 120)
{
    char conf [600], real [600], test [600], image [700], mask [700];
    s_start_limited_broker (conf, sizeof conf);
    snprintf (real, sizeof real, "%s/real", h->dir);
    snprintf (test, sizeof test, "%s/test", h->dir);
    s_real_pairs (real);
    s_real_pairs (test);
    snprintf (image, sizeof image, "%s/images/a.png", real);
    snprintf (mask, sizeof mask, "%s/masks/a.png", real);
    const char *pipeline [] = { "submit",
                                "pipeline",
                                "--image",
                                image,
                                "--mask",
                                mask,
                                "--niter",
                                "2",
                                "--evaluate-against",
                                real,
                                "--evaluate-test",
                                test,
                                "--cpu",
                                NULL };
    H_ASSERT (h, s_segq (pipeline) == 0, "%s", s_err);
    const char *line = strstr (s_out, "evaluate ");
    char evaluate [32] = "";
    cr_assert (line && sscanf (line, "evaluate %31s", evaluate) == 1, "%s", s_out);
    const char *detail [] = { "status", "-l", evaluate, NULL };
    H_ASSERT (h, s_segq (detail) == 0, "%s", s_err);
    cr_assert (strstr (s_out, "test/images/a.png"), "evaluate reads no test set: %s", s_out);

    setenv ("SEGQ_USER", "limited", 1);
    cr_assert_eq (s_segq (pipeline), 1, "a pipeline over max_queued: %s", s_out);
    cr_assert (strstr (s_err, "are cancelled: nothing of the pipeline runs"), "%s", s_err);
    /* the training cancelled, what waited for it failed with it */
    size_t jobs, ended;
    s_status_cancelled (&jobs, &ended);
    cr_assert (jobs == 2 && ended == 2, "%zu jobs, %zu ended by the cancel", jobs, ended);
    unsetenv ("SEGQ_USER");
    H_ASSERT_CLEAN_STOP (h);
}

/* A generation whose outputs' list could not fit one RESULT message (4 MiB
   by default: 14,893 pairs of a.png with a seed still to draw) is refused
   at submit from its training job before that has run, and a pipeline
   asking for one cancels what it had sent. So is one from a model file
   trained on a.png. */
Test (cli_broker, a_generation_too_big_to_report_is_refused_at_submit, .init = setup,
      .fini = teardown, .timeout = 60)
{
    cr_assert_eq (harness_start_broker (h, NULL), 0);
    char real [600], image [700], mask [700], train [32], gen [32];
    snprintf (real, sizeof real, "%s/real", h->dir);
    s_real_pairs (real);
    snprintf (image, sizeof image, "%s/images/a.png", real);
    snprintf (mask, sizeof mask, "%s/masks/a.png", real);
    const char *submit_train [] = { "submit", "train", "--image", image,
                                    "--mask", mask,    "--cpu",   NULL };
    s_submitted (submit_train, train, sizeof train);
    const char *too_many [] = { "submit",  "generate", "--model", train,
                                "--count", "14894",    "--cpu",   NULL };
    cr_assert_neq (s_segq (too_many), 0, "%s", s_out);
    cr_assert (strstr (s_err, "count 14894: the list of its 29790 outputs would take")
                   && strstr (s_err, "at most 14893 pairs per generate job"),
               "%s", s_err);
    const char *most [] = { "submit",  "generate", "--model", train,
                            "--count", "14893",    "--cpu",   NULL };
    s_submitted (most, gen, sizeof gen);
    const char *pipeline [] = { "submit", "pipeline", "--image", image,   "--mask",
                                mask,     "--count",  "20000",   "--cpu", NULL };
    cr_assert_eq (s_segq (pipeline), 1, "%s", s_out);
    cr_assert (strstr (s_err, "count 20000: ")
                   && strstr (s_err, "are cancelled: nothing of the pipeline runs"),
               "%s", s_err);
    /* a model given as a file: the broker reads the image it names from
       its header (the CLI, which reads it too, does not know max_msg) */
    char model [700];
    snprintf (model, sizeof model, "%s/model.safetensors", h->dir);
    cr_assert_eq (test_write_checkpoint_of (model, 24, 1, "a.png", 1), 0);
    const char *from_file [] = { "submit",  "generate", "--model", model,
                                 "--count", "14894",    "--cpu",   NULL };
    cr_assert_neq (s_segq (from_file), 0, "%s", s_out);
    cr_assert (strstr (s_err, "at most 14893 pairs per generate job"), "%s", s_err);
    from_file [5] = "14893";
    s_submitted (from_file, gen, sizeof gen);
    H_ASSERT_CLEAN_STOP (h);
}

/* A job array the broker refuses in part (here the user's max_queued: 2
   of 3 trainings) is submitted whole or not at all, as a pipeline is: the
   jobs it accepted are cancelled, and said so; no id is printed. */
Test (cli_broker, a_job_array_refused_in_part_is_cancelled_whole, .init = setup, .fini = teardown,
      .timeout = 120)
{
    char conf [600], real [600], images [700], masks [700];
    s_start_limited_broker (conf, sizeof conf);
    snprintf (real, sizeof real, "%s/real", h->dir);
    s_real_pairs (real);
    snprintf (images, sizeof images, "%s/images", real);
    snprintf (masks, sizeof masks, "%s/masks", real);
    setenv ("SEGQ_USER", "limited", 1);
    const char *all [] = { "submit", "train", "--images", images, "--masks", masks, "--cpu", NULL };
    cr_assert_eq (s_segq (all), 1, "%s", s_out);
    cr_assert_str_eq (s_out, "", "an id printed for a refused array");
    cr_assert (strstr (s_err, "job 3 of 3 refused")
                   && strstr (s_err, "the 2 job(s) it had submitted")
                   && strstr (s_err, "are cancelled: nothing of the job array runs"),
               "%s", s_err);
    size_t jobs, cancelled;
    s_status_cancelled (&jobs, &cancelled);
    cr_assert (jobs == 2 && cancelled == 2, "%zu jobs, %zu cancelled", jobs, cancelled);
    unsetenv ("SEGQ_USER");
    H_ASSERT_CLEAN_STOP (h);
}

/* A word that is neither a file nor a job the broker knows is said the
   same way for every input: "no such file or folder, and not a job id",
   as one with a dot is, and not "unknown job" for some. */
Test (cli_broker, a_missing_file_or_job_said_alike, .init = setup, .fini = teardown, .timeout = 120)
{
    cr_assert_eq (harness_start_broker (h, NULL), 0);
    char real [600], mask [700];
    snprintf (real, sizeof real, "%s/real", h->dir);
    s_real_pairs (real);
    snprintf (mask, sizeof mask, "%s/masks/a.png", real);
    const char *evaluate [] = { "submit", "evaluate", "--real", "nope", "--cpu", NULL };
    const char *train [] = { "submit", "train", "--image", "nope", "--mask", mask, "--cpu", NULL };
    const char *dotted [] = { "submit", "train", "--image", "nope.png",
                              "--mask", mask,    "--cpu",   NULL };
    const char *const *cases [] = { evaluate, train, dotted };
    for (size_t i = 0; i < 3; i++) {
        cr_assert_eq (s_segq (cases [i]), 2, "case %zu: %s", i, s_err);
        cr_assert (strstr (s_err, "no such file or folder, and not a job id")
                       && !strstr (s_err, "unknown job"),
                   "case %zu: %s", i, s_err);
    }
    H_ASSERT_CLEAN_STOP (h);
}

/* `segq retry` of several jobs: one the broker refuses (what it reads was
   cancelled) is said as refused, not counted among those with nothing to
   retry; those with nothing to retry are counted, with the first one's
   reason, in a sentence that ends. */
Test (cli_broker, retry_of_several_says_why_each_was_not, .init = setup, .fini = teardown,
      .timeout = 120)
{
    cr_assert_eq (harness_start_broker (h, NULL), 0);
    char real [600], image [700], mask [700], train [32], gens [2][32];
    snprintf (real, sizeof real, "%s/real", h->dir);
    s_real_pairs (real);
    snprintf (image, sizeof image, "%s/images/a.png", real);
    snprintf (mask, sizeof mask, "%s/masks/a.png", real);
    const char *one [] = { "submit", "train", "--image", image, "--mask", mask, "--cpu", NULL };
    s_submitted (one, train, sizeof train);
    const char *generate [] = { "submit", "generate", "--model", train, "--cpu", NULL };
    s_submitted (generate, gens [0], sizeof gens [0]);
    s_submitted (generate, gens [1], sizeof gens [1]);
    const char *cancel [] = { "cancel", train, NULL };
    H_ASSERT (h, s_segq (cancel) == 0, "%s", s_err);
    const char *gens_only [] = { "retry", gens [0], gens [1], NULL };
    cr_assert_eq (s_segq (gens_only), 1, "%s", s_out);
    cr_assert (strstr (s_err, "retry the two together") && !strstr (s_err, "nothing to retry"),
               "%s", s_err);
    const char *all [] = { "retry", train, gens [0], gens [1], NULL };
    H_ASSERT (h, s_segq (all) == 0, "%s", s_err);
    cr_assert_eq (s_segq (all), 1, "%s", s_out);
    char first [96];
    snprintf (first, sizeof first, "(the first: retry %s: it was retried already as", train);
    cr_assert (strstr (s_err, "3 of the 3 jobs named had nothing to retry")
                   && strstr (s_err, first),
               "%s", s_err);
    H_ASSERT_CLEAN_STOP (h);
}

/* Without keys the user's name is the client's word: one that could not
   be a user's (a certificate's, a status column's, an entry of --with) is
   refused, saying where it came from. */
Test (cli_broker, a_user_name_that_cannot_be_one_is_refused, .init = setup, .fini = teardown,
      .timeout = 60)
{
    cr_assert_eq (harness_start_broker (h, NULL), 0);
    setenv ("SEGQ_USER", "bad name", 1);
    const char *status [] = { "status", NULL };
    int rc = s_segq (status);
    unsetenv ("SEGQ_USER");
    cr_assert_neq (rc, 0, "%s", s_out);
    cr_assert (strstr (s_err, "user name 'bad name'") && strstr (s_err, "SEGQ_USER"), "%s", s_err);
    H_ASSERT_CLEAN_STOP (h);
}

/* A small file's text (to free), or NULL. */
static char *
s_file_text (const char *path)
{
    FILE *f = fopen (path, "r");
    char *text = f ? calloc (1, 65536) : NULL;
    if (text && fread (text, 1, 65535, f) == 0 && ferror (f)) {
        free (text);
        text = NULL;
    }
    if (f)
        fclose (f);
    return text;
}

/* `segq wait` through a broker killed and started again: it says that
   the broker does not answer, waits on, and sees the job end. */
Test (cli_broker, wait_outlasts_a_broker_restart, .init = setup, .fini = teardown, .timeout = 120)
{
    cr_assert_eq (harness_start_broker (h, NULL), 0);
    cr_assert (harness_start_worker (h, "w1", 1, NULL) >= 0);
    char job [64], out [600], err [600];
    const char *sleep [] = { "submit", "sleep", "--seconds", "6", NULL };
    s_submitted (sleep, job, sizeof job);
    snprintf (out, sizeof out, "%s/wait.out", h->dir);
    snprintf (err, sizeof err, "%s/wait.err", h->dir);
    pid_t waiter = fork ();
    cr_assert (waiter >= 0);
    if (waiter == 0) {
        int o = open (out, O_WRONLY | O_CREAT | O_TRUNC, 0600),
            e = open (err, O_WRONLY | O_CREAT | O_TRUNC, 0600);
        if (o < 0 || e < 0 || dup2 (o, 1) < 0 || dup2 (e, 2) < 0)
            _exit (99);
        execl (harness_binary ("segq"), "segq", "--broker", h->endpoint, "--timeout", "1000",
               "wait", job, (char *) NULL);
        _exit (98);
    }
    H_ASSERT (h, harness_wait_text (out, " running", 20000) == 0, "the job did not start");
    harness_signal_broker (h, SIGKILL);
    H_ASSERT (h, harness_wait_text (err, "no answer from the broker", 20000) == 0,
              "the wait did not say the broker is silent");
    cr_assert_eq (harness_start_broker (h, NULL), 0);
    int status = 0;
    cr_assert_eq (waitpid (waiter, &status, 0), waiter);
    char *said = s_file_text (err), *printed = s_file_text (out);
    cr_assert (WIFEXITED (status) && WEXITSTATUS (status) == 0, "wait: status %d, said '%s'",
               status, said ? said : "");
    cr_assert (said && strstr (said, "the broker answers again"), "%s", said ? said : "");
    cr_assert (printed && strstr (printed, " succeeded"), "%s", printed ? printed : "");
    free (said);
    free (printed);
    H_ASSERT_CLEAN_STOP (h);
}

/* A model's id where a job's is wanted is said as such, before asking. */
/* `segq kinds KIND` says an input another flag stands for as the flag
   is spelt, and an empty default as none. */
Test (cli_broker, kinds_say_flags_as_the_cli_spells_them, .init = setup, .fini = teardown,
      .timeout = 60)
{
    cr_assert_eq (harness_start_broker (h, NULL), 0);
    const char *kinds [] = { "kinds", "train", NULL };
    H_ASSERT (h, s_segq (kinds) == 0, "%s", s_err);
    cr_assert (strstr (s_out, "required unless --mask-from-alpha its segmentation mask"), "%s",
               s_out);
    cr_assert_null (strstr (s_out, "unless mask_from_alpha"), "%s", s_out);
    cr_assert (strstr (s_out, "string, optional "), "%s", s_out);
    cr_assert (strstr (s_out, "int 1..1000000000, default 2000"), "%s", s_out);
    H_ASSERT_CLEAN_STOP (h);
}

Test (cli_broker, a_model_id_is_not_a_job_id, .init = setup, .fini = teardown, .timeout = 30)
{
    const char *commands [] = { "purge", "cancel", "wait", "hold" };
    for (size_t i = 0; i < sizeof commands / sizeof commands [0]; i++) {
        const char *argv [] = { commands [i], "m-0003", NULL };
        cr_assert_eq (s_segq (argv), 2, "%s: %s", commands [i], s_err);
        cr_assert (
            strstr (s_err, "'m-0003' is a model's id, not a job's: its training is job 0003"),
            "%s: %s", commands [i], s_err);
    }
}
