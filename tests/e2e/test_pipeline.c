/*  test_pipeline.c: SinGAN-Seg through the queue, end to end, with real
    segqd, segq-worker and segq processes: a tiny `train` on a fixture the
    test draws (not patient data), then `generate` from that job's model
    (a dependency on its principal output), fetched and checked as a
    Kvasir-SEG layout dataset with its manifest, then a tiny `evaluate` of
    those pairs (real: the fixture and procedural samples from segq-run
    sample; test: other samples), its metrics and chart fetched and checked;
    the contact sheet fetched with generate's pairs; the same pair as a
    `submit pipeline --evaluate-against` that k-fold cannot evaluate is
    refused at submit. */
#define _GNU_SOURCE
#include <criterion/criterion.h>
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>
#include <jansson.h>
#include "contact_sheet.h"
#include "e2e_fixture.h"
#include "harness.h"
#include "sample.h"
#include "segq_image.h"
#include "segq_sha256.h"

/* Submits through the CLI; the job id is its output's first line. */
static void
s_submit (harness_t *h, const char *const *argv, char *id, size_t len)
{
    char err [4096];
    H_ASSERT (h, harness_submit (h, argv, id, len, err, sizeof err) == 0, "segq submit %s: %s",
              argv [1], err);
}

static size_t
s_count_png (const char *dir)
{
    DIR *d = opendir (dir);
    cr_assert_not_null (d, "no directory %s", dir);
    size_t n = 0;
    struct dirent *e;
    while ((e = readdir (d)))
        n += strlen (e->d_name) > 4 && strcmp (e->d_name + strlen (e->d_name) - 4, ".png") == 0;
    closedir (d);
    return n;
}

/* contact_sheet.png of a fetched generate output: a PNG file, the grid of
   contact_sheet.h for n samples of w x h, and the very sheet those fetched
   pairs make. */
static void
s_check_contact_sheet (const char *dir, size_t n, uint32_t w, uint32_t h)
{
    char path [900], again [900], err [512];
    snprintf (path, sizeof path, "%s/%s", dir, SEGQ_CONTACT_SHEET_FILE);
    FILE *f = fopen (path, "rb");
    cr_assert_not_null (f, "fetch of generate brought no %s", path);
    unsigned char sig [8] = { 0 };
    size_t got = fread (sig, 1, sizeof sig, f);
    fclose (f);
    cr_assert (got == 8 && memcmp (sig, "\x89PNG\r\n\x1a\n", 8) == 0, "%s is no PNG", path);
    segq_image_t *sheet = NULL, *expected = NULL;
    cr_assert_eq (segq_image_read_file (path, NULL, &sheet, err, sizeof err), 0, "%s", err);
    uint32_t cols, rows, gap = SEGQ_CONTACT_SHEET_GAP;
    segq_contact_sheet_grid (n, &cols, &rows);
    cr_assert (cols > 0 && sheet->width == cols * (w + gap) + gap
                   && sheet->height == rows * (h + gap) + gap && sheet->channels == 3,
               "%s is %ux%u (%u channels), not a %ux%u grid of %ux%u samples", path, sheet->width,
               sheet->height, sheet->channels, cols, rows, w, h);
    snprintf (again, sizeof again, "%s.again.png", dir);
    cr_assert_eq (segq_contact_sheet_write_dir (dir, again, err, sizeof err), 0, "%s", err);
    cr_assert_eq (segq_image_read_file (again, NULL, &expected, err, sizeof err), 0, "%s", err);
    cr_assert_eq (segq_image_size (sheet), segq_image_size (expected));
    cr_assert (memcmp (sheet->data, expected->data, segq_image_size (sheet)) == 0,
               "%s is not the sheet of the fetched pairs", path);
    segq_image_destroy (&sheet);
    segq_image_destroy (&expected);
    unlink (again);
}

/* count procedural samples in the Kvasir-SEG layout under dir. */
static void
s_write_samples (const char *dir, int64_t seed, int64_t count)
{
    segq_sample_opts_t o = { .out = (char *) dir, .size = "40x32", .seed = seed, .count = count };
    char err [512] = "";
    cr_assert_eq (segq_sample_run (&o, err, sizeof err), 0, "sample: %s", err);
}

/* metrics.json of evaluate: every set, fold and metric present and in range. */
static void
s_check_metrics (const char *path)
{
    json_error_t jerr;
    json_t *root = json_load_file (path, 0, &jerr);
    cr_assert_not_null (root, "%s: %s (line %d)", path, jerr.text, jerr.line);
    /* with a test set: one "fold", every real pair trains */
    cr_assert_eq (json_integer_value (json_object_get (root, "folds")), 1);
    cr_assert_eq (json_integer_value (json_object_get (root, "real_pairs")), 3);
    cr_assert_eq (json_integer_value (json_object_get (root, "test_pairs")), 3);
    json_t *sets = json_object_get (root, "sets");
    const char *names [] = { "real", "generated", "real+generated" };
    const char *metrics [] = { "dice_loss", "iou", "f1", "accuracy", "recall", "precision" };
    json_int_t used = 0;
    for (size_t s = 0; s < 3; s++) {
        json_t *set = json_object_get (sets, names [s]);
        cr_assert_not_null (set, "metrics.json has no set '%s'", names [s]);
        json_t *folds = json_object_get (set, "folds");
        cr_assert_eq (json_array_size (folds), 1, "set %s", names [s]);
        json_t *fold = json_array_get (folds, 0);
        json_t *m = json_object_get (fold, "metrics");
        for (size_t k = 0; k < 6; k++) {
            json_t *v = json_object_get (m, metrics [k]);
            cr_assert (json_is_number (v), "%s: no %s", names [s], metrics [k]);
            double x = json_number_value (v);
            cr_assert (x >= 0 && x <= 1, "%s: %s = %g", names [s], metrics [k], x);
        }
        if (s == 1)
            used = json_integer_value (json_object_get (fold, "synthetic_pairs"));
    }
    /* the generated pairs came from the fixture, a real training pair
       (matched by the hash in their manifest): they all train */
    cr_assert_eq (used, 3, "%d generated pairs trained, not 3", (int) used);
    json_decref (root);
}

Test (e2e, train_generate_evaluate_through_the_queue, .timeout = 420)
{
    harness_t *h = harness_new ("e2e-pipeline");
    cr_assert_not_null (h);
    cr_assert_eq (harness_start_broker (h, NULL), 0);
    /* The worker runs segq-run of this build; with no --gpus it asks
       `segq-run devices` what the machine has. */
    const char *bin = getenv ("SEGQ_BINARY_DIR");
    char segq_run [1024];
    snprintf (segq_run, sizeof segq_run, "%s/pipeline/segq-run",
              bin && *bin ? bin : SEGQ_BINARY_DIR);
    cr_assert_eq (access (segq_run, X_OK), 0, "%s not built", segq_run);
    const char *extra [] = { "--segq-run", segq_run, "--kinds", "train,generate,evaluate", NULL };
    H_ASSERT (h, harness_start_worker (h, "ml", 2, extra) >= 0, "worker did not register");

    char image [600], mask [600];
    snprintf (image, sizeof image, "%s/polyp.png", h->dir);
    snprintf (mask, sizeof mask, "%s/polyp-mask.png", h->dir);
    e2e_write_polyp (image, mask);
    char in_image [640], in_mask [640];
    snprintf (in_image, sizeof in_image, "image=%s", image);
    snprintf (in_mask, sizeof in_mask, "mask=%s", mask);

    char train [64], generate [64];
    const char *train_argv [] = { "submit",  "train",    "--input",     in_image,     "--input",
                                  in_mask,   "--param",  "max_size=24", "--param",    "min_size=12",
                                  "--param", "niter=10", "--param",     "previews=0", "--param",
                                  "nfc=8",   "--param",  "nfc_max=8",   "--param",    "seed=3",
                                  "--cpu",   "2",        NULL };
    s_submit (h, train_argv, train, sizeof train);
    char in_model [128];
    snprintf (in_model, sizeof in_model, "model=%s", train);
    const char *gen_argv [] = { "submit",  "generate", "--input", in_model, "--param",
                                "count=3", "--param",  "seed=7",  "--cpu",  NULL };
    s_submit (h, gen_argv, generate, sizeof generate);
    /* evaluate waits for generate through its input; tiny UNet++ */
    char real [700], test [700], synthetic [128], evaluate [64];
    snprintf (real, sizeof real, "%s/real", h->dir);
    snprintf (test, sizeof test, "%s/test", h->dir);
    s_write_samples (real, 5, 2);
    char real_image [760], real_mask [760];
    snprintf (real_image, sizeof real_image, "%s/images/polyp.png", real);
    snprintf (real_mask, sizeof real_mask, "%s/masks/polyp.png", real);
    e2e_write_polyp (real_image, real_mask);
    s_write_samples (test, 20, 3);
    snprintf (synthetic, sizeof synthetic, "generated=%s", generate);
    const char *eval_argv [] = { "submit",      "evaluate", "--real",   real, "--test",  test,
                                 "--synthetic", synthetic,  "--epochs", "2",  "--size",  "16",
                                 "--depth",     "2",        "--width",  "4",  "--batch", "4",
                                 "--examples",  "2",        "--cpu",    "2",  NULL };
    s_submit (h, eval_argv, evaluate, sizeof evaluate);
    /* the same single pair as a pipeline evaluated against `real` (which
       holds it): evaluate's k-fold would have no synthetic pair to train
       on in the fold testing it, so it is refused at submit and nothing
       is queued */
    char lone_out [8192], lone_err [8192];
    const char *lone [] = { "submit", "pipeline",           "--image", image,     "--mask",
                            mask,     "--evaluate-against", real,      "--niter", "2",
                            NULL };
    cr_assert_eq (harness_cli (h, lone_out, sizeof lone_out, lone_err, sizeof lone_err, lone), 2,
                  "a single-pair pipeline with k-fold evaluate was not refused: %s %s", lone_out,
                  lone_err);
    cr_assert (strstr (lone_err, "1 image that fold tests (polyp)") && strstr (lone_err, "--evaluate-test TEST"),
               "%s", lone_err);
    const char *listing [] = { "status", "--json", NULL };
    H_ASSERT (h,
              harness_cli (h, lone_out, sizeof lone_out, lone_err, sizeof lone_err, listing) == 0,
              "status: %s", lone_err);
    json_t *queued = json_loads (lone_out, 0, NULL);
    cr_assert_eq (json_array_size (queued), 3, "jobs queued: %s", lone_out);
    json_decref (queued);

    segq_client_t *c = harness_client (h, 0);
    cr_assert_not_null (c);
    segq_job_info_t info;
    /* segq-run's progress channel becomes the job's progress while it runs */
    char phase [64] = "";
    double fraction = 0;
    for (bool over = false; !over;) {
        H_ASSERT (h, segq_client_job (c, train, false, &info) == 0, "status of %s", train);
        if (info.state == SEGQ_JOB_RUNNING && info.phase && info.fraction > fraction) {
            fraction = info.fraction;
            snprintf (phase, sizeof phase, "%s", info.phase);
        }
        over = segq_job_state_final (info.state);
        H_ASSERT (h, !over || info.state == SEGQ_JOB_SUCCEEDED, "train ended %s: %s",
                  segq_job_state_name (info.state), info.reason ? info.reason : "");
        segq_job_info_clear (&info);
        struct timespec ts = { 0, 10 * 1000000L };
        nanosleep (&ts, NULL);
    }
    cr_assert_str_eq (phase, "train", "no progress of the training seen (fraction %g)", fraction);
    cr_assert (fraction > 0 && fraction <= 1, "progress %g", fraction);
    H_ASSERT (h, harness_wait_final (c, generate, 240000, &info) == 0, "generate never ended");
    segq_job_state_t gen_state = info.state;
    segq_job_info_clear (&info);
    cr_assert_eq (segq_client_job (c, train, false, &info), 0);
    segq_job_state_t train_state = info.state;
    segq_job_info_clear (&info);
    H_ASSERT (h, train_state == SEGQ_JOB_SUCCEEDED, "train ended %s",
              segq_job_state_name (train_state));
    H_ASSERT (h, gen_state == SEGQ_JOB_SUCCEEDED, "generate ended %s",
              segq_job_state_name (gen_state));

    /* train's log is segq-run's, streamed through the worker */
    char out [16384], err [4096];
    const char *logs [] = { "logs", train, NULL };
    H_ASSERT (h, harness_cli (h, out, sizeof out, err, sizeof err, logs) == 0, "logs: %s", err);
    cr_assert (strstr (out, "scale"), "train log does not look like segq-run's: %s", out);

    /* the model, and the generated dataset */
    char dir [700];
    snprintf (dir, sizeof dir, "%s/fetched-train", h->dir);
    const char *fetch_train [] = { "fetch", train, "-o", dir, "model.safetensors", NULL };
    H_ASSERT (h, harness_cli (h, out, sizeof out, err, sizeof err, fetch_train) == 0,
              "fetch train: %s", err);
    char path [800];
    struct stat st;
    snprintf (path, sizeof path, "%s/model.safetensors", dir);
    cr_assert (stat (path, &st) == 0 && st.st_size > 1000, "no model at %s", path);

    snprintf (dir, sizeof dir, "%s/fetched-generate", h->dir);
    const char *fetch_gen [] = { "fetch", generate, "-o", dir, NULL };
    H_ASSERT (h, harness_cli (h, out, sizeof out, err, sizeof err, fetch_gen) == 0,
              "fetch generate: %s", err);
    char images [760], masks [760];
    snprintf (images, sizeof images, "%s/images", dir);
    snprintf (masks, sizeof masks, "%s/masks", dir);
    cr_assert_eq (s_count_png (images), 3);
    cr_assert_eq (s_count_png (masks), 3);
    segq_dataset_t *ds = NULL;
    cr_assert_eq (segq_dataset_open (dir, &ds, err, sizeof err), 0, "%s", err);
    cr_assert_eq (segq_dataset_count (ds), 3);
    uint32_t sample_w = 0, sample_h = 0;
    for (size_t i = 0; i < 3; i++) {
        const segq_dataset_pair_t *pair = segq_dataset_pair (ds, i);
        segq_image_t *img = NULL, *m = NULL;
        cr_assert_eq (segq_image_read_file (pair->image_path, NULL, &img, err, sizeof err), 0, "%s",
                      err);
        cr_assert_eq (segq_image_read_file (pair->mask_path, NULL, &m, err, sizeof err), 0, "%s",
                      err);
        cr_assert_eq (img->width, m->width);
        cr_assert_eq (img->height, m->height);
        sample_w = img->width;
        sample_h = img->height;
        /* a mask is 0/255 only */
        const uint8_t *px = m->data;
        for (size_t k = 0; k < (size_t) m->width * m->height * (size_t) m->channels; k++)
            cr_assert (px [k] == 0 || px [k] == 255, "mask %s has value %d", pair->mask_path,
                       px [k]);
        segq_image_destroy (&img);
        segq_image_destroy (&m);
    }
    segq_dataset_destroy (&ds);
    s_check_contact_sheet (dir, 3, sample_w, sample_h);
    /* the manifest names the real image each pair came from */
    snprintf (path, sizeof path, "%s/manifest.csv", dir);
    FILE *f = fopen (path, "r");
    cr_assert_not_null (f, "no %s", path);
    char sha [SEGQ_HASH_HEX_LEN + 1];
    cr_assert_eq (segq_sha256_file (image, sha), 0);
    char line [4096];
    size_t lines = 0;
    while (fgets (line, sizeof line, f))
        if (lines++ > 0)
            cr_assert (strstr (line, sha), "manifest line lacks the source's sha256 %s: %s", sha,
                       line);
    fclose (f);
    cr_assert_eq (lines, 4, "manifest: a header and 3 pairs, got %zu lines", lines);

    /* the evaluation: metrics and chart */
    H_ASSERT (h, harness_wait_final (c, evaluate, 240000, &info) == 0, "evaluate never ended");
    H_ASSERT (h, info.state == SEGQ_JOB_SUCCEEDED, "evaluate ended %s: %s",
              segq_job_state_name (info.state), info.reason ? info.reason : "");
    segq_job_info_clear (&info);
    snprintf (dir, sizeof dir, "%s/fetched-evaluate", h->dir);
    const char *fetch_eval [] = { "fetch", evaluate, "-o", dir, NULL };
    H_ASSERT (h, harness_cli (h, out, sizeof out, err, sizeof err, fetch_eval) == 0,
              "fetch evaluate: %s", err);
    snprintf (path, sizeof path, "%s/metrics.json", dir);
    s_check_metrics (path);
    const char *pictures [] = { "chart.png", "examples.png" };
    for (size_t i = 0; i < 2; i++) {
        segq_image_t *img = NULL;
        snprintf (path, sizeof path, "%s/%s", dir, pictures [i]);
        cr_assert_eq (segq_image_read_file (path, NULL, &img, err, sizeof err), 0, "%s", err);
        cr_assert (img->width >= 16 && img->height >= 16, "%s is %ux%u", path, img->width,
                   img->height);
        segq_image_destroy (&img);
    }

    segq_client_destroy (&c);
    H_ASSERT_CLEAN_STOP (h);
    harness_destroy (&h);
}
