/*  test_models.c: trained models as named, shared, access-controlled
    objects (issue 13), with real segqd, segq-worker and segq processes,
    with keys and without (where the rule holds for the user name a client
    sends). A stand-in segq-run (a shell script) trains in no time: its
    checkpoint is the image's bytes and a line, its progress the shape a
    real training reports; its `generate` records its argv as args.txt.

    Alice's private model is out of bob's reach by every way a submit can
    name it; shared, bob generates from it by name and id and no more
    (never the training job, its files, its log, its checkpoint's hash,
    gen_start_scale above 0, nor a change to it); unshared, no longer.
    Generations draw their own seeds; a purged model generates no more; a
    pinned model's training survives purge and retention; the catalogue
    survives kill -9; an admin sees every model; a stylize given no style
    takes its pairs' training image, for the training's owner only. Every user acts through
    the CLI as the user would, the library only where the CLI has no way
    to say it (a bare hash, a model on an input that takes none). */
#define _GNU_SOURCE
#include <criterion/criterion.h>
#include <jansson.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "harness.h"
#include "test_files.h"
#include "lab_keys.h"
#include "segq_keys.h"
#include "segq_proto.h"
#include "segq_sha256.h"

static const char s_fake_segq_run [] =
    "#!/bin/sh\n"
    "[ \"$1\" = devices ] && exec echo '{\"cpu\": {\"cores\": 2}, \"cuda_build\": false}'\n"
    "out=$SEGQ_OUTPUT_DIR\n"
    "case $1 in\n"
    "train)\n"
    "  scales=9\n"
    "  for a in \"$@\"; do case $a in --image=*) image=${a#--image=};;\n"
    "    --stop_after_scale=[0-7]) scales=$((${a#--stop_after_scale=} + 1));; esac; done\n"
    "  cat \"$image\" > \"$out/model.safetensors\" || exit 3\n"
    "  echo \"trained by $SEGQ_JOB_ID\" >> \"$out/model.safetensors\"\n"
    "  echo \"preview of $SEGQ_JOB_ID\" > \"$out/preview.png\"\n"
    "  echo \"scale,loss,$SEGQ_JOB_ID\" > \"$out/losses.csv\"\n"
    "  echo "
    "'{\"phase\":\"train\",\"fraction\":1,\"metrics\":{\"scales\":'$scales',\"scales_total\":9,"
    "\"height\":188,\"width\":250},\"message\":\"scale saved\"}' >&\"$SEGQ_PROGRESS_FD\"\n"
    "  ;;\n"
    "generate)\n"
    "  for a in \"$@\"; do echo \"$a\" >> \"$out/args.txt\"; done\n"
    "  mkdir -p \"$out/images\" && echo \"sample of $SEGQ_JOB_ID\" > \"$out/images/0.png\"\n"
    "  ;;\n"
    "stylize)\n"
    "  for a in \"$@\"; do echo \"$a\" >> \"$out/args.txt\"; case $a in\n"
    "    --style=*) cp \"${a#--style=}\" \"$out/style-used\" || exit 3;; esac; done\n"
    "  ;;\n"
    "*) echo \"stand-in segq-run: unexpected '$1'\" >&2; exit 2;;\n"
    "esac\n";

static harness_t *h;
static bool keyed;
static char keys [600], certs [700], broker_key [700], fake [700];
static unsigned n_images; /* each image's bytes differ */

/* What the last `segq` run (S_CLI) said. */
static char s_out [1 << 16], s_err [1 << 13];

/* Starts (or restarts) segqd: with keys if the test has them, and the
   retention given. */
static void
s_start_broker (const char *retention)
{
    const char *extra [6] = { NULL };
    size_t n = 0;
    if (keyed) {
        extra [n++] = "--keys";
        extra [n++] = keys;
    }
    if (retention) {
        extra [n++] = "--retention";
        extra [n++] = retention;
    }
    cr_assert_eq (harness_start_broker (h, extra), 0, "segqd did not start");
}

static void
s_start (bool with_keys)
{
    keyed = with_keys;
    n_images = 0;
    h = harness_new ("models");
    cr_assert_not_null (h);
    /* the CLI's settings are the test's: none of the machine's */
    unsetenv ("SEGQ_CERT");
    unsetenv ("SEGQ_BROKER_KEY");
    unsetenv ("SEGQ_BROKER");
    char cache [700];
    snprintf (cache, sizeof cache, "%s/hash-cache", h->dir);
    setenv ("SEGQ_HASH_CACHE", cache, 1);
    if (keyed)
        lab_keys_make (h->dir, keys, sizeof keys, certs, sizeof certs, broker_key,
                       sizeof broker_key);
    snprintf (fake, sizeof fake, "%s/segq-run", h->dir);
    cr_assert_eq (harness_write_script (fake, s_fake_segq_run), 0);
    s_start_broker (NULL);
    char cert [900];
    snprintf (cert, sizeof cert, "%s/w1.cert", certs);
    /* one stand-in process per job (the harness's workers keep no
       generation servers) */
    const char *argv [12] = { "--segq-run", fake };
    size_t n = 2;
    if (keyed) {
        argv [n++] = "--broker-key";
        argv [n++] = broker_key;
        argv [n++] = "--cert";
        argv [n++] = cert;
    }
    H_ASSERT (h, harness_start_worker (h, "w1", 2, argv) >= 0, "no worker");
}

/* A case run twice, each in its own process: with keys, and without
   (where the rule holds for the user name a client sends). */
#define S_BOTH_MODES(name, body)                                                                   \
    Test (models, keys_##name, .init = setup_keys, .fini = teardown, .timeout = 120)               \
    {                                                                                              \
        body ();                                                                                   \
    }                                                                                              \
    Test (models, plain_##name, .init = setup_plain, .fini = teardown, .timeout = 120)             \
    {                                                                                              \
        body ();                                                                                   \
    }

static void
setup_keys (void)
{
    s_start (true);
}

static void
setup_plain (void)
{
    s_start (false);
}

static void
teardown (void)
{
    harness_destroy (&h);
}

static segq_client_t *
s_client (const char *name)
{
    return lab_client (h->endpoint, keyed ? certs : NULL, broker_key, name);
}

/* `segq ARGS...` as user: with keys their certificate, without their name
   in SEGQ_USER. The exit status; what it said in s_out, s_err. */
static int
s_cli_argv (const char *user, const char *const *args)
{
    char cert [900];
    snprintf (cert, sizeof cert, "%s/%s.cert", certs, user);
    const char *argv [64];
    size_t n = 0;
    if (keyed) {
        argv [n++] = "--cert";
        argv [n++] = cert;
        argv [n++] = "--broker-key";
        argv [n++] = broker_key;
    } else
        argv [n++] = "--no-keys";
    for (size_t i = 0; args [i] && n < 63; i++)
        argv [n++] = args [i];
    argv [n] = NULL;
    setenv ("SEGQ_USER", user, 1);
    s_out [0] = s_err [0] = 0;
    return harness_cli (h, s_out, sizeof s_out, s_err, sizeof s_err, argv);
}

#define S_CLI(user, ...) s_cli_argv (user, (const char *const []){ __VA_ARGS__, NULL })

/* The command must succeed. */
#define S_OK(user, ...)                                                                            \
    do {                                                                                           \
        int rc_ = S_CLI (user, __VA_ARGS__);                                                       \
        H_ASSERT (h, rc_ == 0, "%s: `segq %s` exit %d: %s", user, #__VA_ARGS__, rc_, s_err);       \
    } while (0)

/* The command must fail with exit status `status` and say `why`. */
#define S_REFUSED(status, why, user, ...)                                                          \
    do {                                                                                           \
        int rc_ = S_CLI (user, __VA_ARGS__);                                                       \
        H_ASSERT (h, rc_ == (status), "%s: `segq %s` exit %d (want %d): out '%s' err '%s'", user,  \
                  #__VA_ARGS__, rc_, status, s_out, s_err);                                        \
        cr_assert (strstr (s_err, why), "%s: `segq %s`: '%s' does not say '%s'", user,             \
                   #__VA_ARGS__, s_err, why);                                                      \
    } while (0)

/* The first line of s_out (a job or array id) into id. */
static void
s_first_line (char *id, size_t len)
{
    size_t n = strcspn (s_out, "\r\n");
    cr_assert (n > 0 && n < len, "no id in '%s' (err '%s')", s_out, s_err);
    memcpy (id, s_out, n);
    id [n] = 0;
}

static json_t *
s_json_out (void)
{
    json_error_t jerr;
    json_t *root = json_loads (s_out, 0, &jerr);
    cr_assert_not_null (root, "not JSON (%s): %s", jerr.text, s_out);
    return root;
}

/* user's `segq status` lists no job. */
static void
s_no_jobs (const char *user)
{
    S_OK (user, "--json", "status");
    json_t *jobs = s_json_out ();
    cr_assert (json_is_array (jobs) && json_array_size (jobs) == 0, "%s has jobs: %s", user, s_out);
    json_decref (jobs);
}

/* dir/name holding a text of its own (each image differs). */
static void
s_image (const char *dir, const char *name, char *path, size_t len)
{
    mkdir (dir, 0700);
    snprintf (path, len, "%s/%s", dir, name);
    cr_assert_eq (test_write_png (path, 32, 1, ++n_images), 0, "%s", path);
}

static void
s_wait_succeeded (segq_client_t *c, const char *job)
{
    segq_job_info_t info = { 0 };
    H_ASSERT (h, harness_wait_final (c, job, 60000, &info) == 0, "job %s never ended", job);
    H_ASSERT (h, info.state == SEGQ_JOB_SUCCEEDED, "job %s ended %s: %s", job,
              segq_job_state_name (info.state), info.reason ? info.reason : "");
    segq_job_info_clear (&info);
}

/* user trains on IMAGE_NAME (a file of that name) and a mask, with
   --name if name is set; the training succeeds: its job id. */
static void
s_train (segq_client_t *c, const char *user, const char *image_name, const char *name,
         char job [SEGQ_JOB_ID_MAX])
{
    char dir [700], image [800], mask [800];
    snprintf (dir, sizeof dir, "%s/%s-%u", h->dir, user, n_images);
    s_image (dir, image_name, image, sizeof image);
    s_image (dir, "mask.png", mask, sizeof mask);
    if (name)
        S_OK (user, "submit", "train", "--image", image, "--mask", mask, "--cpu", "--name", name);
    else
        S_OK (user, "submit", "train", "--image", image, "--mask", mask, "--cpu");
    s_first_line (job, SEGQ_JOB_ID_MAX);
    s_wait_succeeded (c, job);
}

/* The model `id` in user's `segq models --json` (owned by the caller, to
   json_decref), or NULL if they do not see it. */
static json_t *
s_listed (const char *user, const char *id, size_t *n_listed)
{
    S_OK (user, "models", "--json");
    json_t *list = s_json_out ();
    cr_assert (json_is_array (list), "%s", s_out);
    if (n_listed)
        *n_listed = json_array_size (list);
    json_t *found = NULL;
    size_t i;
    json_t *m;
    json_array_foreach (list, i, m)
    {
        const char *mid = json_string_value (json_object_get (m, "id"));
        if (mid && strcmp (mid, id) == 0)
            found = json_incref (m);
    }
    json_decref (list);
    return found;
}

static const char *
s_str (json_t *o, const char *key)
{
    const char *s = json_string_value (json_object_get (o, key));
    cr_assert_not_null (s, "no string '%s' in the model", key);
    return s;
}

/* Does the JSON array o[key] hold the string s? */
static bool
s_has (json_t *o, const char *key, const char *s)
{
    size_t i;
    json_t *v;
    json_array_foreach (json_object_get (o, key), i, v)
    {
        if (json_is_string (v) && strcmp (json_string_value (v), s) == 0)
            return true;
    }
    return false;
}

/* user generates 2 from `model` (as typed after --model), with --seed if
   seed is set: the job, which succeeds. */
static void
s_generate (segq_client_t *c, const char *user, const char *model, const char *seed,
            char job [SEGQ_JOB_ID_MAX])
{
    if (seed)
        S_OK (user, "submit", "generate", "--model", model, "--count", "2", "--cpu", "--seed",
              seed);
    else
        S_OK (user, "submit", "generate", "--model", model, "--count", "2", "--cpu");
    s_first_line (job, SEGQ_JOB_ID_MAX);
    s_wait_succeeded (c, job);
}

/* The args.txt the stand-in wrote for job, fetched by user. */
static void
s_args (const char *user, const char *job, char *args, size_t len)
{
    char dir [700], path [800];
    snprintf (dir, sizeof dir, "%s/fetched-%s-%s", h->dir, user, job);
    S_OK (user, "fetch", job, "-o", dir);
    snprintf (path, sizeof path, "%s/args.txt", dir);
    FILE *f = fopen (path, "r");
    cr_assert_not_null (f, "no %s after `segq fetch %s`: %s", path, job, s_out);
    size_t n = fread (args, 1, len - 1, f);
    args [n] = 0;
    fclose (f);
}

/* args.txt carries "--NAME=VALUE" as one line of its own. */
static void
s_assert_arg (const char *args, const char *name, const char *value)
{
    char line [300];
    snprintf (line, sizeof line, "\n--%s=%s\n", name, value);
    cr_assert (strstr (args, line), "no '%s' in args.txt:\n%s", line + 1, args);
}

/* The model id of training job. */
static void
s_model_id (const char *job, char id [SEGQ_JOB_ID_MAX + 2])
{
    snprintf (id, SEGQ_JOB_ID_MAX + 2, "m-%s", job);
}

/* ---- 1: a private model, every form of reference ---- */

/* A submit through the library is refused with code, saying why. */
static void
s_lib_refused (segq_client_t *c, segq_job_spec_t *spec, int code, const char *why, const char *form)
{
    char job [SEGQ_JOB_ID_MAX];
    int rc = segq_client_submit (c, spec, job, sizeof job);
    segq_job_spec_destroy (&spec);
    H_ASSERT (h, rc == code, "%s: %d (%s), job %s", form, rc, segq_client_error (c),
              rc == 0 ? job : "-");
    cr_assert (strstr (segq_client_error (c), why), "%s: '%s' does not say '%s'", form,
               segq_client_error (c), why);
}

/* What libsegq and the CLI will not send, a client of its own may: a
   SUBMIT of echo naming model id as its input `files`, as user. The
   broker refuses it (EINVAL: the input takes no model). */
static void
s_raw_model_input_refused (const char *user, const char *id)
{
    zsock_t *sock = zsock_new (ZMQ_DEALER);
    cr_assert_not_null (sock);
    char cert [900], err [1024] = "";
    snprintf (cert, sizeof cert, "%s/%s.cert", certs, user);
    if (keyed)
        cr_assert_eq (segq_keys_apply_client (sock, cert, broker_key, err, sizeof err), 0, "%s",
                      err);
    cr_assert_eq (zsock_connect (sock, "%s", h->endpoint), 0);
    zsock_set_rcvtimeo (sock, 10000);
    segq_msg_t *msg = segq_msg_new (SEGQ_MSG_SUBMIT);
    cr_assert_not_null (msg);
    segq_submit_t *submit = &msg->u.submit;
    submit->req_id = 42;
    submit->user = strdup (user);
    submit->kind = strdup ("echo");
    submit->inputs = calloc (1, sizeof *submit->inputs);
    cr_assert (submit->user && submit->kind && submit->inputs);
    submit->n_inputs = 1;
    submit->inputs [0].name = strdup ("files");
    submit->inputs [0].model = strdup (id);
    cr_assert_eq (segq_msg_send (&msg, sock, NULL), 0);
    segq_msg_t *reply = NULL;
    int rc = segq_msg_recv (sock, NULL, &reply, NULL, err, sizeof err);
    zsock_destroy (&sock);
    H_ASSERT (h, rc == 0 && reply, "no answer to %s's SUBMIT: %s", user, err);
    bool refused = reply->type == SEGQ_MSG_ERROR && reply->u.error.code == SEGQ_EINVAL
                   && reply->u.error.message && strstr (reply->u.error.message, "not a model");
    char said [1024];
    snprintf (said, sizeof said, "%s: %s", segq_msg_type_name (reply->type),
              reply->type == SEGQ_MSG_ERROR && reply->u.error.message ? reply->u.error.message
                                                                      : "");
    segq_msg_destroy (&reply);
    cr_assert (refused, "%s's echo of %s: %s", user, id, said);
}

static void
s_private_model_unreachable (void)
{
    segq_client_t *alice = s_client ("alice"), *bob = s_client ("bob");
    /* trained as a job array of one (--images DIR): the array is a form too */
    char images [700], masks [700], path [800];
    snprintf (images, sizeof images, "%s/alice-images", h->dir);
    snprintf (masks, sizeof masks, "%s/alice-masks", h->dir);
    s_image (images, "polyp.png", path, sizeof path);
    s_image (masks, "polyp.png", path, sizeof path);
    S_OK ("alice", "submit", "train", "--images", images, "--masks", masks, "--cpu");
    char array [SEGQ_JOB_ID_MAX + 4], job [SEGQ_JOB_ID_MAX], id [SEGQ_JOB_ID_MAX + 2];
    s_first_line (array, sizeof array);
    segq_array_info_t info = { 0 };
    H_ASSERT (h, segq_client_array (alice, array, &info) == 0 && info.n_jobs == 1, "array %s: %s",
              array, segq_client_error (alice));
    snprintf (job, sizeof job, "%s", info.jobs [0]);
    segq_array_info_clear (&info);
    s_wait_succeeded (alice, job);
    s_model_id (job, id);
    json_t *model = s_listed ("alice", id, NULL);
    cr_assert_not_null (model, "alice's model %s is not in her list: %s", id, s_out);
    cr_assert_str_eq (s_str (model, "name"), "polyp", "named after the image");
    cr_assert_str_eq (s_str (model, "owner"), "alice");
    cr_assert_str_eq (s_str (model, "job"), job);
    cr_assert_eq (json_integer_value (json_object_get (model, "scales")), 9);
    cr_assert_eq (json_integer_value (json_object_get (model, "height")), 188);
    cr_assert_eq (json_integer_value (json_object_get (model, "width")), 250);
    char checkpoint [SEGQ_HASH_HEX_LEN + 1];
    snprintf (checkpoint, sizeof checkpoint, "%s", s_str (model, "checkpoint_sha256"));
    uint64_t size = (uint64_t) json_integer_value (json_object_get (model, "checkpoint_bytes"));
    json_decref (model);

    char job_output [SEGQ_JOB_ID_MAX + 32], owner_name [64];
    snprintf (job_output, sizeof job_output, "%s:model.safetensors", job);
    snprintf (owner_name, sizeof owner_name, "alice/polyp");
    const char *model_forms [] = { "polyp", owner_name, id };
    const char *job_forms [] = { job, job_output, array };
    /* a name, OWNER/NAME or id of a model bob may not use: as if there were none */
    S_REFUSED (1, "no model 'nosuch' that you may use", "bob", "submit", "generate", "--model",
               "nosuch", "--cpu");
    char none [1024];
    snprintf (none, sizeof none, "%s", strstr (s_err, "' that you may use"));
    for (size_t i = 0; i < 3; i++) {
        char want [128];
        snprintf (want, sizeof want, "no model '%s' that you may use", model_forms [i]);
        S_REFUSED (1, want, "bob", "submit", "generate", "--model", model_forms [i], "--cpu");
        cr_assert (strstr (s_err, none), "refused unlike a model that does not exist: '%s'", s_err);
    }
    /* the training job, its checkpoint, the array of it */
    for (size_t i = 0; i < 3; i++)
        S_REFUSED (1, "belongs to alice", "bob", "submit", "generate", "--model", job_forms [i],
                   "--cpu");
    for (size_t i = 0; i < 3; i++) {
        char input [128];
        snprintf (input, sizeof input, "files=%s", job_forms [i]);
        S_REFUSED (1, "belongs to alice", "bob", "submit", "echo", "--input", input);
    }
    /* the checkpoint's bare hash, from the CLI and the library: refused by
       possession */
    char by_hash [128];
    snprintf (by_hash, sizeof by_hash, "files=%s", checkpoint);
    S_REFUSED (1, "not uploaded by you", "bob", "submit", "echo", "--input", by_hash);
    segq_job_spec_t *spec = segq_job_spec_new ("echo");
    char err [512];
    cr_assert_eq (segq_job_spec_input_hash (spec, "files", checkpoint, size, err, sizeof err), 0);
    s_lib_refused (bob, spec, SEGQ_EPERM, "not uploaded by you", "checkpoint hash");
    /* an input that takes no model refuses an m-ID, even its owner's: the
       CLI before sending (exit 2), the broker for a client that sends it */
    S_REFUSED (2, "names a trained model", "bob", "submit", "echo", "--files", id);
    S_REFUSED (2, "names a trained model", "alice", "submit", "echo", "--files", id);
    char by_id [128];
    snprintf (by_id, sizeof by_id, "files=%s", id);
    S_REFUSED (2, "names a trained model", "bob", "submit", "echo", "--input", by_id);
    spec = segq_job_spec_new ("echo");
    cr_assert_eq (segq_job_spec_input_model (spec, "files", id, err, sizeof err), SEGQ_EINVAL);
    cr_assert (strstr (err, "not a model"), "%s", err);
    segq_job_spec_destroy (&spec);
    const char *users [] = { "bob", "alice" };
    for (size_t i = 0; i < 2; i++)
        s_raw_model_input_refused (users [i], id);
    /* not one of bob's tries made a job */
    s_no_jobs ("bob");
    size_t n_listed;
    cr_assert_null (s_listed ("bob", id, &n_listed), "bob lists alice's model");
    cr_assert_eq (n_listed, 0, "bob lists models: %s", s_out);
    /* every form names the model well: its owner may use each */
    for (size_t i = 0; i < 3; i++) {
        S_OK ("alice", "submit", "generate", "--model", model_forms [i], "--count", "1", "--cpu");
        S_OK ("alice", "submit", "generate", "--model", job_forms [i], "--count", "1", "--cpu");
    }
    segq_client_destroy (&alice);
    segq_client_destroy (&bob);
    H_ASSERT_CLEAN_STOP (h);
}

S_BOTH_MODES (private_model_unreachable_by_any_form, s_private_model_unreachable)

/* A model's name may be spelled like a job id ("scan": four letters of
   the ids' base 32): still a name, refused to bob like any other. */
static void
s_name_like_a_job_id (void)
{
    segq_client_t *alice = s_client ("alice"), *bob = s_client ("bob");
    char train [SEGQ_JOB_ID_MAX], gen [SEGQ_JOB_ID_MAX];
    s_train (alice, "alice", "scan.png", NULL, train);
    s_generate (alice, "alice", "scan", NULL, gen);
    S_OK ("alice", "models", "share", "scan", "--with", "bob");
    s_generate (bob, "bob", "scan", NULL, gen);
    S_OK ("alice", "models", "unshare", "scan", "--with", "bob");
    S_REFUSED (1, "no model 'alice/scan' that you may use", "bob", "submit", "generate", "--model",
               "alice/scan", "--cpu");
    /* refused either way; the message must be the one for a model */
    S_REFUSED (1, "no model 'scan' that you may use", "bob", "submit", "generate", "--model",
               "scan", "--cpu");
    S_REFUSED (1, "no model 'scab' that you may use", "alice", "submit", "generate", "--model",
               "scab", "--cpu");
    segq_client_destroy (&alice);
    segq_client_destroy (&bob);
    H_ASSERT_CLEAN_STOP (h);
}

S_BOTH_MODES (a_name_spelled_like_a_job_id_is_a_name, s_name_like_a_job_id)

/* ---- 2: shared with bob, and unshared ---- */

static void
s_shared_model (void)
{
    segq_client_t *alice = s_client ("alice"), *bob = s_client ("bob");
    char train [SEGQ_JOB_ID_MAX], id [SEGQ_JOB_ID_MAX + 2];
    s_train (alice, "alice", "polyp.png", NULL, train);
    s_model_id (train, id);
    S_OK ("alice", "models", "share", "polyp", "--with", "bob");
    json_t *m = s_listed ("alice", id, NULL);
    cr_assert (m && s_has (m, "shared_with", "bob"), "alice's view: %s", s_out);
    json_decref (m);
    m = s_listed ("bob", id, NULL);
    cr_assert_not_null (m, "bob does not list the model shared with him: %s", s_out);
    cr_assert_str_eq (s_str (m, "name"), "polyp");
    cr_assert_str_eq (s_str (m, "owner"), "alice");
    json_t *shared = json_object_get (m, "shared_with");
    cr_assert (json_array_size (shared) == 1 && s_has (m, "shared_with", "bob"),
               "bob learns it is shared with him, and whom else alice shares with is hers to "
               "know: %s",
               s_out);
    char checkpoint [SEGQ_HASH_HEX_LEN + 1];
    snprintf (checkpoint, sizeof checkpoint, "%s", s_str (m, "checkpoint_sha256"));
    uint64_t size = (uint64_t) json_integer_value (json_object_get (m, "checkpoint_bytes"));
    json_decref (m);

    /* bob generates by name, by id, by OWNER/NAME */
    const char *forms [] = { "polyp", id, "alice/polyp" };
    for (size_t i = 0; i < 3; i++) {
        char gen [SEGQ_JOB_ID_MAX], args [8192];
        s_generate (bob, "bob", forms [i], NULL, gen);
        s_args ("bob", gen, args, sizeof args);
        s_assert_arg (args, "model_id", id);
        s_assert_arg (args, "model_name", "polyp");
    }
    /* and no more: not the training job, its files, log, checkpoint */
    char dir [700], path [800];
    snprintf (dir, sizeof dir, "%s/bob-stole", h->dir);
    cr_assert_eq (S_CLI ("bob", "fetch", train, "-o", dir), 1, "bob fetched %s: %s", train, s_out);
    S_REFUSED (1, "", "bob", "fetch", train, "model.safetensors", "-o", dir);
    snprintf (path, sizeof path, "%s/model.safetensors", dir);
    cr_assert_neq (access (path, F_OK), 0, "bob fetched the checkpoint");
    S_REFUSED (1, "belongs to alice", "bob", "logs", train);
    S_OK ("bob", "--json", "status", train);
    json_t *jobs = s_json_out ();
    json_t *job = json_array_get (jobs, 0);
    cr_assert_eq (json_array_size (json_object_get (job, "inputs")), 0, "bob sees inputs: %s",
                  s_out);
    cr_assert_eq (json_array_size (json_object_get (job, "outputs")), 0, "bob sees outputs: %s",
                  s_out);
    cr_assert_null (strstr (s_out, "polyp.png"), "bob sees the image's name: %s", s_out);
    json_decref (jobs);
    char job_output [SEGQ_JOB_ID_MAX + 32];
    snprintf (job_output, sizeof job_output, "%s:model.safetensors", train);
    S_REFUSED (1, "belongs to alice", "bob", "submit", "generate", "--model", train, "--cpu");
    S_REFUSED (1, "belongs to alice", "bob", "submit", "generate", "--model", job_output, "--cpu");
    segq_job_spec_t *spec = segq_job_spec_new ("echo");
    char err [512];
    cr_assert_eq (segq_job_spec_input_hash (spec, "files", checkpoint, size, err, sizeof err), 0);
    s_lib_refused (bob, spec, SEGQ_EPERM, "not uploaded by you", "the checkpoint's hash");
    S_REFUSED (1, "gen_start_scale", "bob", "submit", "generate", "--model", "polyp",
               "--gen-start-scale", "2", "--cpu");
    /* nor change it */
    const char *change = "only its owner or an admin may change it";
    S_REFUSED (1, change, "bob", "models", "rename", "polyp", "mine");
    S_REFUSED (1, change, "bob", "models", "share", "polyp", "--with", "carol");
    S_REFUSED (1, change, "bob", "models", "share", "polyp", "--lab");
    S_REFUSED (1, change, "bob", "models", "unshare", "polyp", "--with", "bob");
    S_REFUSED (1, change, "bob", "models", "tag", "polyp", "bobs");
    S_REFUSED (1, change, "bob", "models", "note", "polyp", "bob was here");
    S_REFUSED (1, change, "bob", "models", "pin", "polyp");
    S_REFUSED (1, change, "bob", "models", "rm", "polyp");
    m = s_listed ("alice", id, NULL);
    cr_assert (m && strcmp (s_str (m, "name"), "polyp") == 0
                   && json_array_size (json_object_get (m, "tags")) == 0
                   && json_is_null (json_object_get (m, "note"))
                   && !json_is_true (json_object_get (m, "pinned"))
                   && !json_is_true (json_object_get (m, "lab"))
                   && !s_has (m, "shared_with", "carol"),
               "bob changed it: %s", s_out);
    json_decref (m);

    /* unshared: bob's next generate is refused; the lab share works alike */
    S_OK ("alice", "models", "unshare", "polyp", "--with", "bob");
    S_REFUSED (1, "model polyp is not shared with bob: nothing to take back", "alice", "models",
               "unshare", "polyp", "--with", "bob");
    S_REFUSED (1, "a share with its owner means nothing", "alice", "models", "share", "polyp",
               "--with", "bob,alice");
    if (keyed) /* without keys the broker knows no list of users */
        S_REFUSED (1, "no user 'nobody' on this broker", "alice", "models", "share", "polyp",
                   "--with", "nobody");
    json_t *none = s_listed ("alice", id, NULL);
    cr_assert (none && !s_has (none, "shared_with", "bob"), "a refused share wrote: %s", s_out);
    json_decref (none);
    S_REFUSED (1, "no model 'polyp' that you may use", "bob", "submit", "generate", "--model",
               "polyp", "--cpu");
    char want [128];
    snprintf (want, sizeof want, "no model '%s' that you may use", id);
    S_REFUSED (1, want, "bob", "submit", "generate", "--model", id, "--cpu");
    cr_assert_null (s_listed ("bob", id, NULL), "bob still lists it");
    S_OK ("alice", "models", "share", "polyp", "--lab");
    char gen [SEGQ_JOB_ID_MAX];
    s_generate (bob, "bob", "alice/polyp", NULL, gen);
    S_OK ("alice", "models", "share", "polyp", "--lab", "--unshare");
    S_REFUSED (1, "no model 'alice/polyp' that you may use", "bob", "submit", "generate", "--model",
               "alice/polyp", "--cpu");
    segq_client_destroy (&alice);
    segq_client_destroy (&bob);
    H_ASSERT_CLEAN_STOP (h);
}

S_BOTH_MODES (shared_model_generates_and_no_more, s_shared_model)

/* Job `job`'s state and reason as user sees them; the reason into
   reason (empty if none). */
static void
s_job_state (const char *user, const char *job, const char *state, const char *reason)
{
    S_OK (user, "--json", "status", job);
    json_t *jobs = s_json_out ();
    json_t *j = json_is_array (jobs) ? json_array_get (jobs, 0) : jobs;
    const char *have = json_string_value (json_object_get (j, "state"));
    const char *why = json_string_value (json_object_get (j, "reason"));
    cr_assert (have && strcmp (have, state) == 0, "%s is not %s: %s", job, state, s_out);
    cr_assert (!reason || (why && strstr (why, reason)), "%s: no \"%s\" in %s", job, reason, s_out);
    json_decref (jobs);
}

/* Alice's polyp trained and shared with bob, and a long job of bob's for
   generations to wait behind (they stay waiting: accepted, not started). */
static void
s_shared_and_a_blocker (segq_client_t *alice, char train [SEGQ_JOB_ID_MAX],
                        char blocker [SEGQ_JOB_ID_MAX])
{
    s_train (alice, "alice", "polyp.png", NULL, train);
    S_OK ("alice", "models", "share", "polyp", "--with", "bob");
    S_OK ("bob", "submit", "sleep", "--seconds", "600", "--cpu");
    s_first_line (blocker, SEGQ_JOB_ID_MAX);
}

/* A generate of model by user that waits for job `after`. */
static void
s_generate_after (const char *user, const char *model, const char *after,
                  char job [SEGQ_JOB_ID_MAX])
{
    S_OK (user, "submit", "generate", "--model", model, "--count", "2", "--cpu", "--after", after);
    s_first_line (job, SEGQ_JOB_ID_MAX);
}

/* A generation accepted but not started (behind another job, or held)
   does not outlive an unshare or a removal of its model: it is cancelled,
   saying why; the owner's own stay. */
static void
s_unshare_withdraws (void)
{
    segq_client_t *alice = s_client ("alice");
    char train [SEGQ_JOB_ID_MAX], sleep [SEGQ_JOB_ID_MAX], own [SEGQ_JOB_ID_MAX],
        gen [2][SEGQ_JOB_ID_MAX];
    s_shared_and_a_blocker (alice, train, sleep);
    s_generate_after ("alice", "polyp", sleep, own);
    for (int i = 0; i < 2; i++) {
        s_generate_after ("bob", "alice/polyp", sleep, gen [i]);
        if (i == 0) {
            S_OK ("alice", "models", "unshare", "polyp", "--with", "bob");
            s_job_state ("bob", gen [0], "cancelled", "alice unshared model polyp");
            S_OK ("alice", "models", "share", "polyp", "--lab");
        }
    }
    S_OK ("alice", "models", "rm", "polyp");
    s_job_state ("bob", gen [1], "cancelled", "alice removed model polyp");
    s_job_state ("alice", own, "waiting", NULL);
    s_job_state ("bob", sleep, "running", NULL);
    S_OK ("alice", "cancel", own);
    S_OK ("bob", "cancel", sleep);
    segq_client_destroy (&alice);
    H_ASSERT_CLEAN_STOP (h);
}

S_BOTH_MODES (unshare_cancels_generations_not_started, s_unshare_withdraws)

/* ---- 3: each generation its own seed ---- */

/* params.seed of job, as `segq --json status JOB` shows it. */
static json_int_t
s_seed (const char *user, const char *job)
{
    S_OK (user, "--json", "status", job);
    json_t *jobs = s_json_out ();
    json_t *seed = json_object_get (json_object_get (json_array_get (jobs, 0), "params"), "seed");
    cr_assert (json_is_integer (seed), "no integer params.seed: %s", s_out);
    json_int_t value = json_integer_value (seed);
    json_decref (jobs);
    return value;
}

static void
s_seeds (void)
{
    segq_client_t *alice = s_client ("alice");
    char train [SEGQ_JOB_ID_MAX], gen [3][SEGQ_JOB_ID_MAX];
    s_train (alice, "alice", "colon.png", NULL, train);
    s_generate (alice, "alice", "colon", NULL, gen [0]);
    s_generate (alice, "alice", "colon", NULL, gen [1]);
    s_generate (alice, "alice", "colon", "7", gen [2]);
    json_int_t seeds [3];
    for (int i = 0; i < 3; i++) {
        seeds [i] = s_seed ("alice", gen [i]);
        char args [8192], value [32];
        s_args ("alice", gen [i], args, sizeof args);
        snprintf (value, sizeof value, "%lld", (long long) seeds [i]);
        s_assert_arg (args, "seed", value);
    }
    cr_assert_neq (seeds [0], seeds [1], "two generations drew the same seed %lld",
                   (long long) seeds [0]);
    cr_assert (seeds [0] != 0 && seeds [1] != 0, "seed 0 drawn");
    cr_assert_eq (seeds [2], 7, "--seed 7 kept: %lld", (long long) seeds [2]);
    segq_client_destroy (&alice);
    H_ASSERT_CLEAN_STOP (h);
}

S_BOTH_MODES (generations_draw_their_own_seeds, s_seeds)

/* A generation asks for a scale its model has: the catalogue knows how
   many the training made (the stand-in reports 9), by name and as JOB. */
static void
s_scales_checked (void)
{
    segq_client_t *alice = s_client ("alice");
    char train [SEGQ_JOB_ID_MAX], gen [SEGQ_JOB_ID_MAX];
    s_train (alice, "alice", "colon.png", NULL, train);
    S_REFUSED (1, "gen_start_scale 9: model colon has scales 0..8", "alice", "submit", "generate",
               "--model", "colon", "--gen-start-scale", "9", "--cpu");
    S_REFUSED (1, "model colon has scales 0..8", "alice", "submit", "generate", "--model", train,
               "--gen-start-scale", "9", "--cpu");
    S_OK ("alice", "submit", "generate", "--model", "colon", "--gen-start-scale", "8", "--cpu");
    s_first_line (gen, sizeof gen);
    s_wait_succeeded (alice, gen);

    /* a training stopped early is a model that cannot generate, by any name */
    char dir [700], image [800], mask [800], partial [SEGQ_JOB_ID_MAX];
    snprintf (dir, sizeof dir, "%s/partial", h->dir);
    s_image (dir, "short.png", image, sizeof image);
    s_image (dir, "mask.png", mask, sizeof mask);
    S_OK ("alice", "submit", "train", "--image", image, "--mask", mask, "--cpu",
          "--stop-after-scale", "0");
    s_first_line (partial, sizeof partial);
    s_wait_succeeded (alice, partial);
    const char *unfinished = "model short: only 1 of its 9 scales are trained";
    S_REFUSED (1, unfinished, "alice", "submit", "generate", "--model", "short", "--cpu");
    S_REFUSED (1, unfinished, "alice", "submit", "generate", "--model", partial, "--cpu");
    segq_client_destroy (&alice);
    H_ASSERT_CLEAN_STOP (h);
}

S_BOTH_MODES (generation_asks_for_a_scale_its_model_has, s_scales_checked)

/* An evaluate of pairs bob generated from alice's shared model is checked
   fold by fold by the training image the catalogue shows him (he may not
   read her training job): his real pairs do not hold it, so no fold would
   train the set, and it is refused at submit. */
static void
s_shared_pairs_checked (void)
{
    segq_client_t *alice = s_client ("alice"), *bob = s_client ("bob");
    char train [SEGQ_JOB_ID_MAX], gen [SEGQ_JOB_ID_MAX], real [700], image [800], set [96];
    s_train (alice, "alice", "polyp.png", NULL, train);
    S_OK ("alice", "models", "share", "polyp", "--with", "bob");
    s_generate (bob, "bob", "alice/polyp", NULL, gen);
    snprintf (real, sizeof real, "%s/bob-real", h->dir);
    for (int i = 0; i < 3; i++) {
        char dir [760], name [16];
        snprintf (name, sizeof name, "b%d.png", i);
        snprintf (dir, sizeof dir, "%s/images", real);
        mkdir (real, 0700);
        s_image (dir, name, image, sizeof image);
        snprintf (dir, sizeof dir, "%s/masks", real);
        s_image (dir, name, image, sizeof image);
    }
    snprintf (set, sizeof set, "gen=%s", gen);
    S_REFUSED (2, "they come from 0 images that fold tests and 1 not among --real's", "bob",
               "submit", "evaluate", "--real", real, "--synthetic", set, "--cpu");
    segq_client_destroy (&alice);
    segq_client_destroy (&bob);
    H_ASSERT_CLEAN_STOP (h);
}

S_BOTH_MODES (shared_model_pairs_checked_by_the_catalogue, s_shared_pairs_checked)

/* ---- 4: a purged model generates no more ---- */

static void
s_purged (void)
{
    segq_client_t *alice = s_client ("alice");
    char train [SEGQ_JOB_ID_MAX], id [SEGQ_JOB_ID_MAX + 2], gen [SEGQ_JOB_ID_MAX];
    s_train (alice, "alice", "polyp.png", NULL, train);
    s_model_id (train, id);
    S_OK ("alice", "models", "share", "polyp", "--with", "bob");
    s_generate (alice, "alice", "polyp", NULL, gen);
    S_OK ("alice", "purge", train);
    S_REFUSED (1, "purged", "alice", "submit", "generate", "--model", "polyp", "--cpu");
    S_REFUSED (1, "purged", "alice", "submit", "generate", "--model", id, "--cpu");
    S_REFUSED (1, "purged", "bob", "submit", "generate", "--model", "alice/polyp", "--cpu");
    json_t *m = s_listed ("alice", id, NULL);
    cr_assert (m && json_is_true (json_object_get (m, "purged")), "not shown purged: %s", s_out);
    json_decref (m);
    S_OK ("alice", "models");
    cr_assert (strstr (s_out, "[purged]"), "%s", s_out);
    s_no_jobs ("bob");
    segq_client_destroy (&alice);
    H_ASSERT_CLEAN_STOP (h);
}

S_BOTH_MODES (purged_model_refused_at_submit, s_purged)

/* A model is not purged from under a generation accepted and not ended:
   its input is the checkpoint, resolved at submit, so only the catalogue
   links the two. */
static void
s_purge_waits_for_generations (void)
{
    segq_client_t *alice = s_client ("alice");
    char train [SEGQ_JOB_ID_MAX], sleep [SEGQ_JOB_ID_MAX], gen [SEGQ_JOB_ID_MAX], want [256];
    s_shared_and_a_blocker (alice, train, sleep);
    s_generate_after ("bob", "alice/polyp", sleep, gen);
    snprintf (want, sizeof want, "job %s (waiting) takes the model of %s as an input", gen, train);
    S_REFUSED (1, want, "alice", "purge", train);
    S_OK ("bob", "cancel", gen, sleep);
    S_OK ("alice", "purge", train);
    segq_client_destroy (&alice);
    H_ASSERT_CLEAN_STOP (h);
}

S_BOTH_MODES (purge_waits_for_the_generations_of_its_model, s_purge_waits_for_generations)

/* ---- 5: pinned: neither purge nor retention removes its training ---- */

/* Whether model id is purged, as alice sees it (SHOW through the library). */
static bool
s_is_purged (segq_client_t *alice, const char *id, bool *pinned)
{
    segq_model_request_t request = { .op = SEGQ_MODEL_SHOW, .model = id };
    segq_model_info_t *models = NULL;
    size_t n = 0;
    int rc = segq_client_model (alice, &request, &models, &n);
    H_ASSERT (h, rc == 0 && n == 1, "models show %s: %d (%s)", id, rc, segq_client_error (alice));
    bool purged = models [0].purged;
    *pinned = models [0].pinned;
    segq_models_free (&models, n);
    return purged;
}

static void
s_pinned (void)
{
    segq_client_t *alice = s_client ("alice");
    char train [SEGQ_JOB_ID_MAX], id [SEGQ_JOB_ID_MAX + 2];
    s_train (alice, "alice", "first.png", NULL, train);
    s_model_id (train, id);
    S_OK ("alice", "models", "pin", "first");
    json_t *m = s_listed ("alice", id, NULL);
    cr_assert (m && json_is_true (json_object_get (m, "pinned")), "%s", s_out);
    json_decref (m);
    S_REFUSED (1, "pinned", "alice", "purge", train);
    S_OK ("alice", "models", "unpin", id);
    S_OK ("alice", "purge", train);
    bool pinned;
    cr_assert (s_is_purged (alice, id, &pinned) && !pinned);

    /* retention: a pinned training stays, one that is not goes. Pinned
       before retention starts (a restart with it), so no race with the
       sweep; the unpinned one ended after the pinned one, so once it is
       gone the pinned one was old enough to go too */
    char keep [SEGQ_JOB_ID_MAX], drop [SEGQ_JOB_ID_MAX], keep_id [SEGQ_JOB_ID_MAX + 2],
        drop_id [SEGQ_JOB_ID_MAX + 2];
    s_train (alice, "alice", "keep.png", NULL, keep);
    s_train (alice, "alice", "drop.png", NULL, drop);
    s_model_id (keep, keep_id);
    s_model_id (drop, drop_id);
    S_OK ("alice", "models", "pin", "keep");
    segq_client_destroy (&alice);
    harness_signal_broker (h, SIGTERM);
    s_start_broker ("1s");
    alice = s_client ("alice");
    bool dropped = false;
    for (int i = 0; i < 300 && !(dropped = s_is_purged (alice, drop_id, &pinned)); i++)
        harness_sleep_ms (100);
    H_ASSERT (h, dropped, "retention never purged the unpinned model's training %s", drop);
    cr_assert (!s_is_purged (alice, keep_id, &pinned), "retention purged pinned %s", keep);
    cr_assert (pinned);
    S_REFUSED (1, "purged", "alice", "submit", "generate", "--model", "drop", "--cpu");
    char gen [SEGQ_JOB_ID_MAX];
    s_generate (alice, "alice", "keep", NULL, gen);
    segq_client_destroy (&alice);
    H_ASSERT_CLEAN_STOP (h);
}

S_BOTH_MODES (pinned_model_survives_purge_and_retention, s_pinned)

/* ---- 6: the catalogue survives kill -9 ---- */

static void
s_survives_kill (void)
{
    segq_client_t *alice = s_client ("alice"), *bob = s_client ("bob");
    char first [SEGQ_JOB_ID_MAX], second [SEGQ_JOB_ID_MAX], named [SEGQ_JOB_ID_MAX];
    s_train (alice, "alice", "scan.png", NULL, first);
    s_train (alice, "alice", "scan.png", NULL, second);
    s_train (alice, "alice", "scan.png", "liver", named);
    char ids [3][SEGQ_JOB_ID_MAX + 2];
    const char *jobs [] = { first, second, named }, *names [] = { "scan", "scan-2", "liver" };
    for (int i = 0; i < 3; i++) {
        s_model_id (jobs [i], ids [i]);
        json_t *m = s_listed ("alice", ids [i], NULL);
        cr_assert (m && strcmp (s_str (m, "name"), names [i]) == 0, "want %s named %s: %s", ids [i],
                   names [i], s_out);
        json_decref (m);
    }
    /* a name taken is refused at submit */
    char image [800];
    s_image (h->dir, "other.png", image, sizeof image);
    S_REFUSED (1, "alice already has a model of that name", "alice", "submit", "train", "--image",
               image, "--mask", image, "--cpu", "--name", "liver");
    /* and one a training not ended asked for (it would have become
       colon-2): this one waits for a GPU no worker has */
    S_OK ("alice", "submit", "train", "--image", image, "--mask", image, "--gpu-mem", "900G",
          "--name", "colon");
    S_REFUSED (1, "not ended yet, asked for it first", "alice", "submit", "train", "--image", image,
               "--mask", image, "--cpu", "--name", "colon");
    S_REFUSED (1, "not ended yet, asked for it first", "alice", "models", "rename", "scan-2",
               "colon");
    /* an image's name gives way to it too */
    char colon [SEGQ_JOB_ID_MAX], colon_id [SEGQ_JOB_ID_MAX + 2];
    s_train (alice, "alice", "colon.png", NULL, colon);
    s_model_id (colon, colon_id);
    json_t *given_way = s_listed ("alice", colon_id, NULL);
    cr_assert (given_way && strcmp (s_str (given_way, "name"), "colon-2") == 0, "%s", s_out);
    json_decref (given_way);
    S_OK ("alice", "models", "rename", "scan-2", "second");
    S_OK ("alice", "models", "tag", "second", "t1", "t2");
    S_OK ("alice", "models", "note", "second", "kept over a crash");
    S_OK ("alice", "models", "share", "liver", "--with", "bob");
    S_OK ("alice", "models", "pin", ids [0]);

    segq_client_destroy (&alice);
    segq_client_destroy (&bob);
    harness_signal_broker (h, SIGKILL);
    s_start_broker (NULL);
    alice = s_client ("alice");
    bob = s_client ("bob");

    json_t *m = s_listed ("alice", ids [1], NULL);
    cr_assert_not_null (m, "%s lost: %s", ids [1], s_out);
    cr_assert_str_eq (s_str (m, "name"), "second");
    cr_assert (s_has (m, "tags", "t1") && s_has (m, "tags", "t2"), "%s", s_out);
    cr_assert_str_eq (s_str (m, "note"), "kept over a crash");
    json_decref (m);
    m = s_listed ("alice", ids [0], NULL);
    cr_assert (m && strcmp (s_str (m, "name"), "scan") == 0
                   && json_is_true (json_object_get (m, "pinned")),
               "%s", s_out);
    json_decref (m);
    m = s_listed ("alice", ids [2], NULL);
    cr_assert (m && strcmp (s_str (m, "name"), "liver") == 0 && s_has (m, "shared_with", "bob"),
               "%s", s_out);
    json_decref (m);
    S_OK ("alice", "models", "--tag", "t1", "--json");
    cr_assert (strstr (s_out, ids [1]) && !strstr (s_out, ids [0]) && !strstr (s_out, ids [2]),
               "--tag t1: %s", s_out);
    size_t n_listed;
    m = s_listed ("bob", ids [2], &n_listed);
    cr_assert (m && n_listed == 1, "bob's list after the restart: %s", s_out);
    json_decref (m);
    /* and they still generate, by their names */
    char gen [SEGQ_JOB_ID_MAX], args [8192];
    s_generate (alice, "alice", "second", NULL, gen);
    s_args ("alice", gen, args, sizeof args);
    s_assert_arg (args, "model_id", ids [1]);
    s_assert_arg (args, "model_name", "second");
    s_generate (bob, "bob", "liver", NULL, gen);
    segq_client_destroy (&alice);
    segq_client_destroy (&bob);
    H_ASSERT_CLEAN_STOP (h);
}

S_BOTH_MODES (catalogue_survives_kill_9, s_survives_kill)

/* ---- 7: stylize's default style is the training image, its owner's only ---- */

/* user's stylize of generate job `gen` (all its outputs), with a local
   style image if style is set: 0 with *job, or the broker's code. Through
   the library: the CLI would read a local VGG19 file's tensors, and a
   test has no 80 MB of them; the broker's checks are the same. */
static int
s_stylize (segq_client_t *c, const char *user, const char *gen, const char *style,
           char job [SEGQ_JOB_ID_MAX])
{
    char weights [700], err [512];
    snprintf (weights, sizeof weights, "%s/%s-vgg19.safetensors", h->dir, user);
    FILE *f = fopen (weights, "w");
    cr_assert (f && fputs ("stand-in weights", f) >= 0 && fclose (f) == 0, "%s", weights);
    segq_job_spec_t *spec = segq_job_spec_new ("stylize");
    cr_assert_eq (segq_job_spec_input_job (spec, "content", gen, "*", err, sizeof err), 0, "%s",
                  err);
    cr_assert_eq (segq_job_spec_input_file (spec, "vgg19", weights, err, sizeof err), 0, "%s", err);
    if (style)
        cr_assert_eq (segq_job_spec_input_file (spec, "style", style, err, sizeof err), 0, "%s",
                      err);
    int rc = segq_client_submit (c, spec, job, SEGQ_JOB_ID_MAX);
    segq_job_spec_destroy (&spec);
    return rc;
}

/* The hash of job's input whose name starts with `prefix`, as user's
   `segq --json status` shows it, into hash (empty: none). */
static void
s_input_hash (const char *user, const char *job, const char *prefix, char *hash, size_t len)
{
    S_OK (user, "--json", "status", job);
    json_t *jobs = s_json_out ();
    size_t i;
    json_t *input;
    hash [0] = 0;
    json_array_foreach (json_object_get (json_array_get (jobs, 0), "inputs"), i, input)
    {
        const char *name = json_string_value (json_object_get (input, "name"));
        const char *value = json_string_value (json_object_get (input, "hash"));
        if (name && value && strncmp (name, prefix, strlen (prefix)) == 0)
            snprintf (hash, len, "%s", value);
    }
    json_decref (jobs);
}

/* A refused stylize: the broker's code, and err saying why. */
#define S_STYLIZE_REFUSED(c, user, gen, code, why)                                                 \
    do {                                                                                           \
        char job_ [SEGQ_JOB_ID_MAX];                                                               \
        int rc_ = s_stylize (c, user, gen, NULL, job_);                                            \
        H_ASSERT (h, rc_ == (code), "%s's stylize of %s: %d (%s)", user, gen, rc_,                 \
                  segq_client_error (c));                                                          \
        cr_assert (strstr (segq_client_error (c), why), "'%s' does not say '%s'",                  \
                   segq_client_error (c), why);                                                    \
    } while (0)

/* A training whose image is another job's output (`--image ECHO:scan.png`):
   its stylize's style is that same reference, and segq-run reads it. */
static void
s_default_style_by_reference (segq_client_t *alice)
{
    char dir [700], image [800], mask [800], echo [SEGQ_JOB_ID_MAX], ref [SEGQ_JOB_ID_MAX + 16];
    char train [SEGQ_JOB_ID_MAX], gen [SEGQ_JOB_ID_MAX], sty [SEGQ_JOB_ID_MAX], args [8192];
    snprintf (dir, sizeof dir, "%s/alice-ref", h->dir);
    s_image (dir, "scan.png", image, sizeof image);
    s_image (dir, "mask.png", mask, sizeof mask);
    S_OK ("alice", "submit", "echo", "--files", image);
    s_first_line (echo, sizeof echo);
    snprintf (ref, sizeof ref, "%s:scan.png", echo);
    S_OK ("alice", "submit", "train", "--image", ref, "--mask", mask, "--cpu", "--name", "scan");
    s_first_line (train, sizeof train);
    s_wait_succeeded (alice, train); /* the model `scan` is registered */
    s_generate (alice, "alice", "scan", NULL, gen);
    H_ASSERT (h, s_stylize (alice, "alice", gen, NULL, sty) == 0, "%s", segq_client_error (alice));
    s_wait_succeeded (alice, sty);
    S_OK ("alice", "--json", "status", sty);
    json_t *jobs = s_json_out (),
           *style = json_array_get (json_object_get (json_array_get (jobs, 0), "inputs"), 2);
    cr_assert (style && strcmp (s_str (style, "name"), "style") == 0
                   && strcmp (s_str (style, "job"), echo) == 0
                   && strcmp (s_str (style, "output"), "scan.png") == 0,
               "style is not %s: %s", ref, s_out);
    json_decref (jobs);
    char want [SEGQ_HASH_HEX_LEN + 1], used [SEGQ_HASH_HEX_LEN + 1], used_path [900];
    s_args ("alice", sty, args, sizeof args);
    snprintf (used_path, sizeof used_path, "%s/fetched-alice-%s/style-used", h->dir, sty);
    cr_assert (segq_sha256_file (image, want) == 0 && segq_sha256_file (used_path, used) == 0);
    cr_assert_str_eq (used, want, "segq-run read another style: %s", args);
}

static void
s_default_style (void)
{
    segq_client_t *alice = s_client ("alice"), *bob = s_client ("bob");
    char train [SEGQ_JOB_ID_MAX], gen [SEGQ_JOB_ID_MAX], sty [SEGQ_JOB_ID_MAX], args [8192];
    s_train (alice, "alice", "polyp.png", NULL, train);
    s_generate (alice, "alice", "polyp", NULL, gen);

    /* the owner's stylize gets the training image, and segq-run reads it */
    H_ASSERT (h, s_stylize (alice, "alice", gen, NULL, sty) == 0, "%s", segq_client_error (alice));
    s_wait_succeeded (alice, sty);
    char image_hash [SEGQ_HASH_HEX_LEN + 1], style_hash [SEGQ_HASH_HEX_LEN + 1],
        used [SEGQ_HASH_HEX_LEN + 1], used_path [900];
    s_input_hash ("alice", train, "image/", image_hash, sizeof image_hash);
    s_input_hash ("alice", sty, "style/polyp.png", style_hash, sizeof style_hash);
    cr_assert (*image_hash && strcmp (image_hash, style_hash) == 0, "style %s, image %s",
               style_hash, image_hash);
    s_args ("alice", sty, args, sizeof args);
    s_assert_arg (args, "style", "style/polyp.png");
    snprintf (used_path, sizeof used_path, "%s/fetched-alice-%s/style-used", h->dir, sty);
    cr_assert_eq (segq_sha256_file (used_path, used), 0, "%s", used_path);
    cr_assert_str_eq (used, image_hash, "segq-run read another style");
    /* pairs stylized once keep their generation's manifest: the same image */
    char again [SEGQ_JOB_ID_MAX];
    H_ASSERT (h, s_stylize (alice, "alice", sty, NULL, again) == 0, "%s",
              segq_client_error (alice));
    s_input_hash ("alice", again, "style/polyp.png", style_hash, sizeof style_hash);
    cr_assert_str_eq (style_hash, image_hash, "a restyle took another style");
    s_default_style_by_reference (alice);

    /* shared: bob's pairs, never alice's image, as a style or otherwise */
    S_OK ("alice", "models", "share", "polyp", "--with", "bob");
    char bobs_gen [SEGQ_JOB_ID_MAX], own [800];
    s_generate (bob, "bob", "alice/polyp", NULL, bobs_gen);
    S_STYLIZE_REFUSED (bob, "bob", bobs_gen, SEGQ_EPERM, "Pass --style IMAGE");
    S_STYLIZE_REFUSED (bob, "bob", gen, SEGQ_EPERM, "belongs to alice");
    char dir [700];
    snprintf (dir, sizeof dir, "%s/bob-style", h->dir);
    s_image (dir, "own.png", own, sizeof own);
    H_ASSERT (h, s_stylize (bob, "bob", bobs_gen, own, sty) == 0, "%s", segq_client_error (bob));
    s_wait_succeeded (bob, sty);
    s_args ("bob", sty, args, sizeof args);
    s_assert_arg (args, "style", "style/own.png");

    /* no training behind the pairs: refused at submit, saying what to pass */
    S_STYLIZE_REFUSED (alice, "alice", train, SEGQ_EINVAL, "is a train job");
    char checkpoint [800], from_file [SEGQ_JOB_ID_MAX];
    snprintf (checkpoint, sizeof checkpoint, "%s/model.safetensors", h->dir);
    cr_assert_eq (test_write_checkpoint (checkpoint, 32, 1), 0);
    S_OK ("alice", "submit", "generate", "--model", checkpoint, "--count", "2", "--cpu");
    s_first_line (from_file, sizeof from_file);
    S_STYLIZE_REFUSED (alice, "alice", from_file, SEGQ_EINVAL, "checkpoint file");
    S_OK ("alice", "purge", train);
    S_STYLIZE_REFUSED (alice, "alice", gen, SEGQ_ENOENT, "purged");
    segq_client_destroy (&alice);
    segq_client_destroy (&bob);
    H_ASSERT_CLEAN_STOP (h);
}

S_BOTH_MODES (default_style_is_the_owners_training_image, s_default_style)

/* ---- 8: an admin sees (and may change) every model; with keys only:
   without them there are no admins ---- */

Test (models, keys_admin_sees_every_model, .init = setup_keys, .fini = teardown, .timeout = 120)
{
    segq_client_t *alice = s_client ("alice"), *bob = s_client ("bob");
    char a [SEGQ_JOB_ID_MAX], b [SEGQ_JOB_ID_MAX], a_id [SEGQ_JOB_ID_MAX + 2],
        b_id [SEGQ_JOB_ID_MAX + 2];
    s_train (alice, "alice", "alices.png", NULL, a);
    s_train (bob, "bob", "bobs.png", NULL, b);
    s_model_id (a, a_id);
    s_model_id (b, b_id);
    size_t n;
    json_t *m = s_listed ("root", a_id, &n);
    cr_assert (m && n == 2, "root's list: %s", s_out);
    json_decref (m);
    m = s_listed ("root", b_id, NULL);
    cr_assert_not_null (m, "root's list: %s", s_out);
    json_decref (m);
    m = s_listed ("alice", a_id, &n);
    cr_assert (m && n == 1, "alice's list: %s", s_out);
    json_decref (m);
    m = s_listed ("bob", b_id, &n);
    cr_assert (m && n == 1, "bob's list: %s", s_out);
    json_decref (m);
    S_OK ("root", "models", "--user", "alice", "--json");
    cr_assert (strstr (s_out, a_id) && !strstr (s_out, b_id), "--user alice: %s", s_out);
    S_OK ("root", "models", "tag", "alice/alices", "reviewed");
    m = s_listed ("alice", a_id, NULL);
    cr_assert (m && s_has (m, "tags", "reviewed"), "%s", s_out);
    json_decref (m);
    segq_client_destroy (&alice);
    segq_client_destroy (&bob);
    H_ASSERT_CLEAN_STOP (h);
}
