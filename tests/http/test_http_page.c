/*  test_http_page.c: segqd's status page in a real browser: Debian's
    chromium, headless, loads http://127.0.0.1:PORT/ from a real segqd with
    a real segq-worker, lets the page's JavaScript run and poll
    (--virtual-time-budget) and prints the DOM it built (--dump-dom). The
    page shows the jobs with their states and notes, the worker and its
    GPU, the model with its thumbnail; a job that ends shows its new state
    in the next dump; /api/usage answering 404 hides the usage section. A
    screenshot is kept in the build tree (tests/status-page.png). */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "http_test.h"

#define GIB ((uint64_t) 1 << 30)

static harness_t *h;
static char url [300];

static void
setup (void)
{
    h = harness_new ("http-page");
    cr_assert_not_null (h);
    /* without keys a tokenless viewer on loopback is the user segqd runs
       as: the harness's user, whose jobs the page then shows in full */
    setenv ("SEGQ_USER", H_USER, 1);
    /* -v: the log names every HTTP request, the thumbnail's among them */
    const char *http [] = { "--http", "127.0.0.1:0", "-v", NULL };
    cr_assert_eq (harness_start_broker (h, http), 0, "segqd did not start");
    H_ASSERT (h, http_url (h, url, sizeof url) == 0, "segqd logged no HTTP address");
    char segq_run [600];
    http_stand_in_segq_run (h, segq_run, sizeof segq_run);
    const char *worker [] = { "--gpus", "0:H100:80G", "--segq-run", segq_run, NULL };
    H_ASSERT (h, harness_start_worker (h, "w1", 4, worker) >= 0, "no worker");
}

static void
teardown (void)
{
    harness_destroy (&h);
}

/* chromium on the page, as `what` says (--dump-dom, --screenshot=...);
   the DOM it printed (malloc'ed) when dumping. */
static char *
s_chromium (const char *what, const char *tag)
{
    char profile [600], home [620], out [600], log [600], page [400];
    snprintf (profile, sizeof profile, "%s/chromium", h->dir);
    snprintf (home, sizeof home, "HOME=%s", h->dir);
    snprintf (out, sizeof out, "%s/dom-%s.html", h->dir, tag);
    snprintf (log, sizeof log, "%s/chromium.log", h->dir);
    snprintf (page, sizeof page, "%s/", url);
    char profile_arg [640];
    snprintf (profile_arg, sizeof profile_arg, "--user-data-dir=%s", profile);
    /* root in a container: no sandbox; 4 s of the page's own time is two
       polls after the first */
    const char *argv [] = { "chromium",
                            "--headless",
                            "--no-sandbox",
                            "--disable-gpu",
                            "--no-first-run",
                            "--disable-extensions",
                            "--hide-scrollbars",
                            "--window-size=1280,720",
                            profile_arg,
                            "--virtual-time-budget=4000",
                            what,
                            page,
                            NULL };
    const char *env [] = { home, NULL };
    int rc = http_run (argv, out, log, env);
    char *tail = rc ? http_slurp (log, NULL) : NULL;
    H_ASSERT (h, rc == 0, "chromium %s: exit %d: %s", what, rc, tail ? tail : "");
    return http_slurp (out, NULL);
}

/* The job's row in the DOM says it is in `state`. */
static void
s_shows (const char *dom, const char *job, const char *state)
{
    char row [200];
    snprintf (row, sizeof row, "<tr id=\"job-%s\" data-state=\"%s\">", job, state);
    H_ASSERT (h, strstr (dom, row), "the page does not show %s (%s)", row, dom);
}

static void
s_submit (segq_client_t *c, const char *seconds, uint64_t gpu_mem, uint32_t slots,
          char job [SEGQ_JOB_ID_MAX])
{
    segq_job_spec_t *spec = segq_job_spec_new (seconds ? "sleep" : "fail");
    char err [256];
    if (seconds)
        cr_assert_eq (segq_job_spec_param (spec, "seconds", seconds, err, sizeof err), 0, "%s",
                      err);
    segq_job_spec_set_gpu_mem (spec, gpu_mem);
    segq_job_spec_set_cpu_slots (spec, slots);
    H_ASSERT (h, segq_client_submit (c, spec, job, SEGQ_JOB_ID_MAX) == 0, "submit: %s",
              segq_client_error (c));
    segq_job_spec_destroy (&spec);
}

/* The job's NOTE, as the broker words it (its message, or why it ended),
   is on the page. */
static void
s_shows_note (segq_client_t *c, const char *dom, const char *job, bool reason)
{
    segq_job_info_t info = { 0 };
    cr_assert_eq (segq_client_job (c, job, false, &info), 0, "%s", segq_client_error (c));
    const char *note = reason ? info.reason : info.message;
    H_ASSERT (h, note && *note, "job %s has no %s to show", job, reason ? "reason" : "message");
    char cell [1200];
    snprintf (cell, sizeof cell, "<td class=\"note\">%s</td>", note);
    H_ASSERT (h, strstr (dom, cell), "the page does not show %s", cell);
    segq_job_info_clear (&info);
}

/* Waits for the job to be in state (0: to end). */
static void
s_wait (segq_client_t *c, const char *job, segq_job_state_t state)
{
    segq_job_info_t info = { 0 };
    int rc = state ? harness_wait_state (c, job, state, 30000)
                   : harness_wait_final (c, job, 30000, &info);
    segq_job_info_clear (&info);
    H_ASSERT (h, rc == 0, "job %s: %s", job, segq_strerror (rc));
}

/* The usage section is hidden exactly when /api/usage is not there. */
static void
s_check_usage (const char *dom)
{
    http_answer_t answer;
    H_ASSERT (h, http_get (url, "/api/usage", NULL, NULL, &answer) == 0, "no connection");
    bool hidden = strstr (dom, "<section id=\"usage-section\" hidden") != NULL;
    cr_assert_eq (hidden, answer.status == 404, "usage section %s, /api/usage answered %d",
                  hidden ? "hidden" : "shown", answer.status);
    /* the runs that ended so far are the viewer's own */
    char row [200];
    snprintf (row, sizeof row, "<tbody id=\"usage\"><tr><td>%s</td>", H_USER);
    cr_assert (hidden || strstr (dom, row), "no usage row of %s", H_USER);
    http_answer_clear (&answer);
}

/* The jobs the page is shown: done, failed, gpu (running), cpu
   (running), big (queued: no GPU has that much), in that order. */
typedef struct {
    char done [SEGQ_JOB_ID_MAX], failed [SEGQ_JOB_ID_MAX], gpu [SEGQ_JOB_ID_MAX],
        cpu [SEGQ_JOB_ID_MAX], big [SEGQ_JOB_ID_MAX];
} jobs_t;

static void
s_workload (segq_client_t *c, jobs_t *j)
{
    s_submit (c, "0.2", 0, 1, j->done);
    s_submit (c, NULL, 0, 1, j->failed);
    s_submit (c, "600", 20 * GIB, 0, j->gpu);
    s_submit (c, "600", 0, 3, j->cpu);
    s_submit (c, "600", 200 * GIB, 0, j->big);
    s_wait (c, j->done, 0);
    s_wait (c, j->failed, 0);
    s_wait (c, j->gpu, SEGQ_JOB_RUNNING);
    s_wait (c, j->cpu, SEGQ_JOB_RUNNING);
}

/* The first load: every job in its state with its note, the worker's GPU
   with what the running job reserves, the model with its image. */
static void
s_check_first (segq_client_t *c, const jobs_t *j, const char *model)
{
    char *dom = s_chromium ("--dump-dom", "first");
    cr_assert_not_null (dom);
    s_shows (dom, j->done, "succeeded");
    s_shows (dom, j->failed, "failed");
    s_shows (dom, j->gpu, "running");
    s_shows (dom, j->cpu, "running");
    s_shows (dom, j->big, "queued");
    s_shows_note (c, dom, j->big, false);   /* why it waits */
    s_shows_note (c, dom, j->failed, true); /* why it failed: the viewer's own job */
    cr_assert (strstr (dom, "<tr id=\"worker-w1-gpu0\">"), "no GPU row");
    cr_assert (strstr (dom, "20.0 GiB / 80.0 GiB"), "the GPU's memory in use is not shown");
    char card [200];
    snprintf (card, sizeof card, "<div class=\"model\" id=\"model-%s\"><img", model);
    cr_assert (strstr (dom, card), "no model card with its image: %s", card);
    cr_assert (strstr (dom, "updated "), "the page never heard from the broker");
    s_check_usage (dom);
    free (dom);
    char thumbnail [200];
    snprintf (thumbnail, sizeof thumbnail, "GET /api/models/%s/thumbnail.png from ", model);
    H_ASSERT (h, harness_wait_text (h->broker_log, thumbnail, 5000) == 0, "no %s", thumbnail);
}

/* A screenshot of the page as it stands, kept in the build tree. */
static void
s_screenshot (void)
{
    char shot [700], arg [720];
    snprintf (shot, sizeof shot, "%s/tests/status-page.png", SEGQ_BINARY_DIR);
    snprintf (arg, sizeof arg, "--screenshot=%s", shot);
    free (s_chromium (arg, "screenshot"));
    size_t size = 0;
    char *png = http_slurp (shot, &size);
    cr_assert (png && size > 10000 && memcmp (png, "\x89PNG", 4) == 0, "%s: %zu bytes", shot, size);
    free (png);
}

static void
s_cancel (segq_client_t *c, const char *job)
{
    segq_cancel_outcome_t *outcomes = NULL;
    size_t n = 0;
    cr_assert_eq (segq_client_cancel (c, &job, 1, &outcomes, &n), 0, "%s", segq_client_error (c));
    segq_cancel_outcomes_free (&outcomes, n);
}

Test (http_page, shows_the_queue_workers_and_models_and_follows_them, .init = setup,
      .fini = teardown, .timeout = 240)
{
    segq_client_t *c = harness_client (h, 0);
    cr_assert_not_null (c);
    char model [SEGQ_JOB_ID_MAX + 2], generated [SEGQ_JOB_ID_MAX];
    http_model (h, c, "polyp-17", model, sizeof model, generated);
    jobs_t j;
    s_workload (c, &j);
    s_check_first (c, &j, model);
    s_screenshot ();
    /* the GPU job ends: the next load shows it so */
    s_cancel (c, j.gpu);
    s_wait (c, j.gpu, 0);
    char *dom = s_chromium ("--dump-dom", "second");
    s_shows (dom, j.gpu, "cancelled");
    s_shows (dom, j.cpu, "running");
    cr_assert (strstr (dom, "0 B / 80.0 GiB"), "the GPU's memory is still shown in use");
    free (dom);
    /* nothing left running: the worker stops at once */
    s_cancel (c, j.cpu);
    s_cancel (c, j.big);
    s_wait (c, j.cpu, 0);
    segq_client_destroy (&c);
    H_ASSERT_CLEAN_STOP (h);
}
