/*  test_arrays.c: job arrays and `segq submit pipeline` through real segqd,
    segq-worker and segq processes, on 5 Kvasir-SEG pairs (SEGQ_DATA_DIR)
    with tiny settings: one pipeline per pair (train, generate and stylize
    arrays of 5 jobs each; stylize with no --style, so each job's style is
    its own pair's training image, which the broker takes at submit) and
    one evaluate over the whole generate and stylize arrays; `segq status
    ARRAY` figures along the way; the trained model names its source image
    by the user's file name. VGG19 weights: random, in the real layout
    (tests/pipeline/stylize_reference.py). */
#define _GNU_SOURCE
#include <criterion/criterion.h>
#include <dirent.h>
#include <fnmatch.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include "harness.h"

#define PAIRS 5

static const char *
s_data_dir (void)
{
    const char *env = getenv ("SEGQ_DATA_DIR");
    return env && *env ? env : SEGQ_SOURCE_DIR "/../shared/data";
}

static void
s_copy (const char *from, const char *to)
{
    char cmd [2200];
    snprintf (cmd, sizeof cmd, "cp '%s' '%s'", from, to);
    cr_assert_eq (system (cmd), 0, "%s", cmd);
}

/* The first PAIRS pairs of kvasir-seg-256 as ROOT/images + ROOT/masks;
   their image names into names. */
static void
s_pairs (const char *root, char names [PAIRS][256])
{
    char src [1024], images [900], masks [900];
    snprintf (src, sizeof src, "%s/kvasir-seg-256/images", s_data_dir ());
    struct dirent **entries = NULL;
    int n = scandir (src, &entries, NULL, alphasort);
    cr_assert (n > PAIRS, "shared data missing: %s (set SEGQ_DATA_DIR)", src);
    snprintf (images, sizeof images, "%s/images", root);
    snprintf (masks, sizeof masks, "%s/masks", root);
    cr_assert_eq (mkdir (root, 0700), 0);
    cr_assert_eq (mkdir (images, 0700), 0);
    cr_assert_eq (mkdir (masks, 0700), 0);
    int taken = 0;
    for (int i = 0; i < n; i++) {
        if (taken < PAIRS && entries [i]->d_name [0] != '.') {
            char from [1400], to [1400];
            snprintf (from, sizeof from, "%s/%s", src, entries [i]->d_name);
            snprintf (to, sizeof to, "%s/%s", images, entries [i]->d_name);
            s_copy (from, to);
            snprintf (from, sizeof from, "%s/kvasir-seg-256/masks/%s", s_data_dir (),
                      entries [i]->d_name);
            snprintf (to, sizeof to, "%s/%s", masks, entries [i]->d_name);
            s_copy (from, to);
            snprintf (names [taken++], 256, "%s", entries [i]->d_name);
        }
        free (entries [i]);
    }
    free (entries);
}

static json_t *
s_cli_json (harness_t *h, const char *const *argv)
{
    static char out [262144];
    char err [4096];
    int rc = harness_cli (h, out, sizeof out, err, sizeof err, argv);
    H_ASSERT (h, rc == 0, "segq %s: exit %d: %s", argv [0], rc, err);
    json_error_t jerr;
    json_t *doc = json_loads (out, 0, &jerr);
    cr_assert_not_null (doc, "segq %s --json printed no JSON (%s): %s", argv [0], jerr.text, out);
    return doc;
}

/* segq status ARRAY --json: the summary of the one array. */
static json_t *
s_array_status (harness_t *h, const char *array)
{
    const char *argv [] = { "status", array, "--json", NULL };
    json_t *doc = s_cli_json (h, argv);
    cr_assert (json_is_array (doc) && json_array_size (doc) == 1, "status of %s", array);
    json_t *summary = json_incref (json_array_get (doc, 0));
    json_decref (doc);
    return summary;
}

/* Stylize job i of the pipeline took pair i's image as its style: the one
   the broker resolved from its generate job's training, by name. */
static void
s_assert_styles (harness_t *h, json_t *stylize, char names [PAIRS][256])
{
    for (size_t i = 0; i < PAIRS; i++) {
        const char *argv [] = { "status", json_string_value (json_array_get (stylize, i)), "--json",
                                NULL };
        json_t *doc = s_cli_json (h, argv);
        char want [300];
        snprintf (want, sizeof want, "style/%s", names [i]);
        char *dump = json_dumps (doc, JSON_COMPACT);
        cr_assert (strstr (dump, want), "stylize %s has no input %s: %s", argv [1], want, dump);
        cr_assert (strstr (dump, "\"state\":\"succeeded\""), "%s", dump);
        free (dump);
        json_decref (doc);
    }
}

/* Every output of the jobs listed in `ids` (a JSON array, or one id) is
   one its kind's table declares: the broker's check of what a reference
   to it may feed (segq_kind_check_source) rests on those tables. */
static void
s_assert_outputs_declared (segq_client_t *c, json_t *ids)
{
    for (size_t j = 0; j < (json_is_array (ids) ? json_array_size (ids) : 1); j++) {
        const char *id = json_string_value (json_is_array (ids) ? json_array_get (ids, j) : ids);
        segq_job_info_t info;
        cr_assert_eq (segq_client_job (c, id, true, &info), 0, "status of %s", id);
        const segq_kind_spec_t *kind = segq_kind_find (info.kind);
        cr_assert (kind && kind->outputs && info.n_outputs > 0, "job %s (%s)", id, info.kind);
        for (size_t o = 0; o < info.n_outputs; o++) {
            const char *name = info.outputs [o].name;
            size_t p = 0;
            while (p < kind->n_outputs && fnmatch (kind->outputs [p].pattern, name, FNM_PATHNAME))
                p++;
            cr_assert (p < kind->n_outputs,
                       "job %s (%s) wrote '%s', which its kind does not declare", id, kind->name,
                       name);
        }
        segq_job_info_clear (&info);
    }
}

Test (e2e_arrays, pipeline_per_pair_through_the_queue, .timeout = 900)
{
    harness_t *h = harness_new ("e2e-arrays");
    cr_assert_not_null (h);
    char root [700], images [760], masks [760], names [PAIRS][256];
    snprintf (root, sizeof root, "%s/kvasir5", h->dir);
    s_pairs (root, names);
    snprintf (images, sizeof images, "%s/images", root);
    snprintf (masks, sizeof masks, "%s/masks", root);
    cr_assert_eq (harness_start_broker (h, NULL), 0);
    const char *bin = getenv ("SEGQ_BINARY_DIR");
    char segq_run [1024];
    snprintf (segq_run, sizeof segq_run, "%s/pipeline/segq-run",
              bin && *bin ? bin : SEGQ_BINARY_DIR);
    cr_assert_eq (access (segq_run, X_OK), 0, "%s not built", segq_run);
    /* capacity declared, so no `segq-run devices` (seconds of libtorch start) */
    const char *extra [] = { "--segq-run", segq_run, "--gpus", "", NULL };
    H_ASSERT (h, harness_start_worker (h, "ml", 2, extra) >= 0, "worker did not register");

    char weights [760], make [2000];
    snprintf (make, sizeof make,
              "/usr/bin/python3 %s/tests/pipeline/stylize_reference.py weights '%s' 1",
              SEGQ_SOURCE_DIR, h->dir);
    cr_assert_eq (system (make), 0, "%s", make);
    snprintf (weights, sizeof weights, "%s/vgg19.safetensors", h->dir);

    /* one pipeline per pair: train, generate and stylize arrays, evaluate
       over all */
    const char *submit [] = { "submit",    "pipeline",   "--images",
                              images,      "--masks",    masks,
                              "--count",   "2",          "--max-size",
                              "20",        "--min-size", "12",
                              "--niter",   "4",          "--previews",
                              "0",         "--nfc",      "8",
                              "--nfc-max", "8",          "--evaluate-against",
                              root,        "--folds",    "2",
                              "--epochs",  "1",          "--size",
                              "32",        "--depth",    "2",
                              "--width",   "4",          "--evaluate.batch",
                              "4",         "--examples", "0",
                              "--stylize", "--vgg19",    weights,
                              "--steps",   "2",          "--cpu",
                              "--json",    NULL };
    json_t *ids = s_cli_json (h, submit);
    const char *train =
        json_string_value (json_object_get (json_object_get (ids, "train"), "array"));
    const char *generate =
        json_string_value (json_object_get (json_object_get (ids, "generate"), "array"));
    json_t *stylize = json_object_get (json_object_get (ids, "stylize"), "jobs");
    const char *evaluate = json_string_value (json_object_get (ids, "evaluate"));
    cr_assert (train && generate && json_array_size (stylize) == PAIRS && evaluate,
               "pipeline ids: %s", json_dumps (ids, 0));
    cr_assert_eq (json_array_size (json_object_get (json_object_get (ids, "train"), "jobs")),
                  PAIRS);
    cr_assert_neq (strcmp (train, generate), 0);

    /* at once: every job counted in one state or another */
    json_t *s = s_array_status (h, train);
    cr_assert_eq (json_integer_value (json_object_get (s, "jobs")), PAIRS);
    json_t *states = json_object_get (s, "states");
    json_int_t total = 0;
    const char *key;
    json_t *value;
    json_object_foreach (states, key, value) total += json_integer_value (value);
    cr_assert_eq (total, PAIRS, "states: %s", json_dumps (states, 0));
    double progress = json_real_value (json_object_get (s, "progress"));
    cr_assert (progress >= 0 && progress <= 1, "progress %g", progress);
    cr_assert_str_eq (json_string_value (json_object_get (s, "kinds")), "train");
    json_decref (s);

    /* segq wait ARRAY waits for all of its jobs */
    char out [16384], err [4096];
    const char *wait_train [] = { "wait", train, NULL };
    int rc = harness_cli (h, out, sizeof out, err, sizeof err, wait_train);
    H_ASSERT (h, rc == 0, "wait %s: exit %d: %s %s", train, rc, out, err);
    s = s_array_status (h, train);
    cr_assert_eq (json_integer_value (json_object_get (json_object_get (s, "states"), "succeeded")),
                  PAIRS);
    cr_assert_eq (json_integer_value (json_object_get (s, "final")), PAIRS);
    cr_assert_float_eq (json_real_value (json_object_get (s, "progress")), 1.0, 1e-9);
    json_decref (s);
    const char *text [] = { "status", train, NULL };
    H_ASSERT (h, harness_cli (h, out, sizeof out, err, sizeof err, text) == 0, "%s", err);
    cr_assert (strstr (out, "5 train jobs") && strstr (out, "succeeded 5") && strstr (out, "100%"),
               "%s", out);

    /* the model records the user's file name of its source image */
    const char *first = json_string_value (
        json_array_get (json_object_get (json_object_get (ids, "train"), "jobs"), 0));
    char dir [900], path [1000];
    snprintf (dir, sizeof dir, "%s/model0", h->dir);
    const char *fetch [] = { "fetch", first, "-o", dir, "model.safetensors", NULL };
    H_ASSERT (h, harness_cli (h, out, sizeof out, err, sizeof err, fetch) == 0, "%s", err);
    snprintf (path, sizeof path, "%s/model.safetensors", dir);
    FILE *f = fopen (path, "rb");
    cr_assert_not_null (f, "%s", path);
    static char header [65536];
    size_t got = fread (header, 1, sizeof header - 1, f);
    fclose (f);
    header [got] = 0;
    char want [300];
    snprintf (want, sizeof want, "\"%s\"", names [0]);
    cr_assert (memmem (header, got, want, strlen (want)),
               "the checkpoint's metadata does not name %s", names [0]);

    /* evaluate took all five generate jobs' outputs as one synthetic set */
    segq_client_t *c = harness_client (h, 0);
    segq_job_info_t info;
    H_ASSERT (h, harness_wait_final (c, evaluate, 600000, &info) == 0, "evaluate never ended");
    H_ASSERT (h, info.state == SEGQ_JOB_SUCCEEDED, "evaluate ended %s: %s",
              segq_job_state_name (info.state), info.reason ? info.reason : "");
    segq_job_info_clear (&info);
    snprintf (dir, sizeof dir, "%s/evaluate", h->dir);
    const char *fetch_ev [] = { "fetch", evaluate, "-o", dir, "metrics.json", NULL };
    H_ASSERT (h, harness_cli (h, out, sizeof out, err, sizeof err, fetch_ev) == 0, "%s", err);
    snprintf (path, sizeof path, "%s/metrics.json", dir);
    json_error_t jerr;
    json_t *metrics = json_load_file (path, 0, &jerr);
    cr_assert_not_null (metrics, "%s: %s", path, jerr.text);
    char *dump = json_dumps (metrics, JSON_COMPACT);
    cr_assert (strstr (dump, "singan") && strstr (dump, "stylized"),
               "no synthetic set 'singan' or 'stylized' in %s", dump);
    free (dump);
    json_decref (metrics);
    s = s_array_status (h, generate);
    cr_assert_eq (json_integer_value (json_object_get (json_object_get (s, "states"), "succeeded")),
                  PAIRS);
    json_decref (s);

    s_assert_styles (h, stylize, names);
    const char *kinds [] = { "train", "generate" };
    for (size_t k = 0; k < 2; k++)
        s_assert_outputs_declared (c, json_object_get (json_object_get (ids, kinds [k]), "jobs"));
    s_assert_outputs_declared (c, stylize);
    s_assert_outputs_declared (c, json_object_get (ids, "evaluate"));
    json_decref (ids);
    segq_client_destroy (&c);
    H_ASSERT_CLEAN_STOP (h);
    harness_destroy (&h);
}
