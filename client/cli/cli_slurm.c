/*  cli_slurm.c: `segq slurm-scale`, segq workers as Slurm jobs on demand.

    Each round it reads its own Slurm jobs (squeue), the broker's workers
    and its queued jobs (libsegq), lets the plan decide (cli_slurm_plan.c)
    and acts: scancel what will not be needed, drain workers that idled,
    sbatch new worker jobs. A round whose view is incomplete (squeue or the
    broker did not answer) decides nothing: acting on half a view could
    submit twice what is already on its way. Commands that fail are
    reported with what they printed, and the next round tries again.
*/
#define _GNU_SOURCE
#include "cli.h"
#include "cli_slurm.h"

#include <errno.h>
#include <signal.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define SLURM_TIMEOUT_MS 30000 /* one sbatch, squeue or scancel */
#define MAX_QUEUED       10000 /* queued jobs read in a round */
#define MAX_SLURM_JOBS   10000 /* its own jobs read from squeue */

static volatile sig_atomic_t s_stop;

static void
s_on_signal (int sig)
{
    s_stop = sig;
}

typedef struct {
    cli_globals_t *g;
    cli_slurm_conf_t conf;
    segq_client_t *client;
    cli_slurm_memory_t *memory;
    const char *broker; /* the URL its workers connect to */
    bool dry_run;
    char **said; /* the last round's notes, not repeated */
    size_t n_said;
} scaler_t;

static void s_log (FILE *out, const char *fmt, ...) __attribute__ ((format (printf, 2, 3)));

static void
s_log (FILE *out, const char *fmt, ...)
{
    char stamp [32];
    time_t now = time (NULL);
    struct tm tm;
    strftime (stamp, sizeof stamp, "%Y-%m-%d %H:%M:%S", localtime_r (&now, &tm));
    fprintf (out, "%s segq slurm-scale: ", stamp);
    va_list ap;
    va_start (ap, fmt);
    vfprintf (out, fmt, ap);
    va_end (ap);
    fputc ('\n', out);
    fflush (out);
}

/* A command's failure: what it said, trimmed to its last lines. */
static void
s_log_failure (const char *what, const cli_slurm_output_t *o)
{
    const char *said = *o->err ? o->err : o->out;
    size_t len = strlen (said);
    while (len && (said [len - 1] == '\n' || said [len - 1] == ' '))
        len--;
    s_log (stderr, "%s failed (%s %d): %.*s", what, o->status < 0 ? "status" : "exit status",
           o->status, (int) (len > 1000 ? 1000 : len), said + (len > 1000 ? len - 1000 : 0));
}

/* ---- the view ---- */

/* Its own Slurm jobs, from squeue. */
static int
s_read_squeue (scaler_t *s, cli_slurm_job_t **out, size_t *n_out)
{
    char name [128];
    snprintf (name, sizeof name, "--name=%s", s->conf.job_name);
    /* --states=all: the ended ones too (for MinJobAge), to tell a failed
       start from a cancelled job */
    const char *argv [] = { "squeue", "--me",           "--noheader", "--states=all",
                            name,     "--format=%i|%T", NULL };
    cli_slurm_output_t o;
    if (cli_slurm_command (&s->conf, argv, NULL, SLURM_TIMEOUT_MS, &o) != 0) {
        s_log_failure ("squeue", &o);
        return -1;
    }
    cli_slurm_job_t *jobs = calloc (MAX_SLURM_JOBS, sizeof *jobs);
    size_t n = 0;
    char *save = NULL;
    for (char *line = jobs ? strtok_r (o.out, "\n", &save) : NULL; line && n < MAX_SLURM_JOBS;
         line = strtok_r (NULL, "\n", &save))
        if (cli_slurm_job_parse (line, &jobs [n]))
            n++;
        else
            s_log (stderr, "squeue: cannot read the line '%.100s' (expected ID|STATE)", line);
    if (!jobs) {
        s_log (stderr, "out of memory reading squeue's answer");
        return -1;
    }
    *out = jobs;
    *n_out = n;
    return 0;
}

static int
s_append_jobs (segq_job_list_t *all, segq_job_list_t *page)
{
    segq_job_info_t *grown = realloc (all->jobs, (all->n_jobs + page->n_jobs + 1) * sizeof *grown);
    if (!grown)
        return SEGQ_ENOMEM;
    all->jobs = grown;
    if (page->n_jobs)
        memcpy (all->jobs + all->n_jobs, page->jobs, page->n_jobs * sizeof *grown);
    all->n_jobs += page->n_jobs;
    free (page->jobs); /* the records moved into `all` */
    page->jobs = NULL;
    page->n_jobs = 0;
    return 0;
}

/* Every user's queued jobs, oldest first, at most MAX_QUEUED. */
static int
s_read_queued (scaler_t *s, segq_job_list_t *all)
{
    segq_status_query_t q = { .state = SEGQ_JOB_QUEUED, .limit = SEGQ_STATUS_MAX };
    char *cursor = NULL;
    int rc = 0;
    *all = (segq_job_list_t){ 0 };
    do {
        segq_job_list_t page;
        rc = segq_client_status (s->client, &q, cursor, &page);
        free (cursor);
        cursor = NULL;
        if (rc < 0)
            break;
        cursor = page.cursor;
        page.cursor = NULL;
        rc = s_append_jobs (all, &page);
        segq_job_list_clear (&page);
    } while (rc == 0 && cursor && all->n_jobs < MAX_QUEUED);
    free (cursor);
    if (rc < 0) {
        s_log (stderr, "cannot read the queue: %s",
               rc == SEGQ_ENOMEM ? "out of memory" : segq_client_error (s->client));
        segq_job_list_clear (all);
    }
    return rc;
}

/* ---- acting ---- */

/* Notes said last round are not said again while they hold. */
static void
s_say_notes (scaler_t *s, cli_slurm_plan_t *plan)
{
    for (size_t i = 0; i < plan->n_notes; i++) {
        bool said = false;
        for (size_t k = 0; k < s->n_said && !said; k++)
            said = strcmp (s->said [k], plan->notes [i]) == 0;
        if (!said)
            s_log (stdout, "%s", plan->notes [i]);
    }
    for (size_t k = 0; k < s->n_said; k++)
        free (s->said [k]);
    free (s->said);
    s->said = plan->notes; /* taken from the plan */
    s->n_said = plan->n_notes;
    plan->notes = NULL;
    plan->n_notes = 0;
}

/* 0, or -1 (reported). */
static int
s_cancel (scaler_t *s, uint64_t id)
{
    char text [32];
    snprintf (text, sizeof text, "%llu", (unsigned long long) id);
    const char *argv [] = { "scancel", text, NULL };
    cli_slurm_output_t o;
    if (s->dry_run)
        s_log (stdout, "dry run: would cancel Slurm job %s", text);
    else if (cli_slurm_command (&s->conf, argv, NULL, SLURM_TIMEOUT_MS, &o) != 0) {
        s_log_failure ("scancel", &o);
        return -1;
    }
    return 0;
}

/* 0, or -1 (reported). */
static int
s_drain (scaler_t *s, const char *node)
{
    if (s->dry_run)
        s_log (stdout, "dry run: would drain worker %s", node);
    else if (segq_client_drain (s->client, node) < 0) {
        s_log (stderr, "cannot drain worker %s: %s", node, segq_client_error (s->client));
        return -1;
    }
    return 0;
}

/* One sbatch: 0, or -1 (reported; submissions pause). */
static int
s_submit (scaler_t *s, const char *script)
{
    const char *argv [] = { "sbatch", "--parsable", NULL };
    cli_slurm_output_t o;
    if (s->dry_run) {
        s_log (stdout, "dry run: would submit a worker job (`segq slurm-scale --script` shows it)");
        return 0;
    }
    char *end = NULL;
    int rc = cli_slurm_command (&s->conf, argv, script, SLURM_TIMEOUT_MS, &o);
    unsigned long long id = rc == 0 ? strtoull (o.out, &end, 10) : 0;
    if (rc == 0 && (!id || (*end && *end != ';' && *end != '\n'))) {
        snprintf (o.err, sizeof o.err, "its answer '%.100s' is not a job id", o.out);
        rc = -1;
    }
    if (rc != 0) {
        s_log_failure ("sbatch", &o);
        cli_slurm_memory_failed (s->memory, &s->conf, cli_slurm_now_ms ());
        return -1;
    }
    s_log (stdout, "submitted Slurm job %llu: worker %s-%llu", id, s->conf.job_name, id);
    if (cli_slurm_memory_submitted (s->memory, id) != 0)
        s_log (stderr, "out of memory remembering Slurm job %llu", id);
    return 0;
}

/* What the plan says: 0, or -1 if a command failed (reported). */
static int
s_act (scaler_t *s, const cli_slurm_plan_t *plan)
{
    int rc = 0;
    for (size_t i = 0; i < plan->n_cancel; i++)
        rc |= s_cancel (s, plan->cancel [i]);
    for (size_t i = 0; i < plan->n_drain; i++)
        rc |= s_drain (s, plan->drain [i]);
    if (!plan->submit)
        return rc;
    char *script = cli_slurm_script (&s->conf, s->broker);
    if (!script) {
        s_log (stderr, "out of memory writing the batch script");
        return -1;
    }
    for (uint32_t i = 0; i < plan->submit && !s_stop && rc == 0; i++)
        rc = s_submit (s, script);
    free (script);
    return rc;
}

/* A round: the view, the plan, the acts. -1 if the view was incomplete
   or a command failed. */
static int
s_round (scaler_t *s)
{
    cli_slurm_job_t *slurm = NULL;
    size_t n_slurm = 0, n_workers = 0;
    segq_worker_info_t *workers = NULL;
    segq_job_list_t queued = { 0 };
    int rc = s_read_squeue (s, &slurm, &n_slurm);
    if (rc == 0 && segq_client_workers (s->client, &workers, &n_workers) < 0) {
        s_log (stderr, "cannot list the workers: %s", segq_client_error (s->client));
        rc = -1;
    }
    if (rc == 0)
        rc = s_read_queued (s, &queued) < 0 ? -1 : 0;
    cli_slurm_view_t view = { queued.jobs, queued.n_jobs,      workers, n_workers, slurm,
                              n_slurm,     cli_slurm_now_ms () };
    cli_slurm_plan_t plan;
    if (rc == 0 && cli_slurm_plan (s->memory, &s->conf, &view, &plan) != 0) {
        s_log (stderr, "out of memory deciding the round");
        rc = -1;
    }
    if (rc == 0) {
        s_say_notes (s, &plan);
        rc = s_act (s, &plan);
        cli_slurm_plan_clear (&plan);
    }
    segq_job_list_clear (&queued);
    segq_workers_free (&workers, n_workers);
    free (slurm);
    return rc;
}

/* ---- the command ---- */

static const char s_help [] =
    "usage: segq slurm-scale [--config FILE] [--once] [--dry-run] [--script]\n\n"
    "Runs segq workers as Slurm jobs: submits one (sbatch) while jobs wait for what no\n"
    "connected worker has, or wait long while the workers that could run them are busy,\n"
    "up to max_workers; drains its workers once they have had nothing to run for\n"
    "idle_grace. Each worker takes exactly the CPUs and GPUs Slurm gave its job. A\n"
    "restart adopts the worker jobs it submitted before (by their job name). Runs until\n"
    "SIGTERM or SIGINT; with keys, as an admin (it drains workers). docs/slurm.md.\n\n"
    "  --config FILE  its configuration (default " CLI_SLURM_CONF_DEFAULT ")\n"
    "  --once         one round, then exit (1 if squeue or the broker did not answer,\n"
    "                 or a command failed)\n"
    "  --dry-run      say what it would do; submit, cancel and drain nothing\n"
    "  --script       print the batch script of a worker job, and exit\n";

typedef struct {
    const char *config;
    bool once, dry_run, script;
} options_t;

static int
s_options (cli_globals_t *g, int argc, char **argv, options_t *o)
{
    enum { O_CONFIG = 2000, O_ONCE, O_DRY, O_SCRIPT };
    static const struct option options [] = { CLI_COMMON_OPTIONS,
                                              { "config", required_argument, NULL, O_CONFIG },
                                              { "once", no_argument, NULL, O_ONCE },
                                              { "dry-run", no_argument, NULL, O_DRY },
                                              { "script", no_argument, NULL, O_SCRIPT },
                                              { 0 } };
    *o = (options_t){ .config = CLI_SLURM_CONF_DEFAULT };
    int opt;
    while ((opt = cli_next_option (g, "slurm-scale", argc, argv, "h", options, s_help)) > 0) {
        if (opt == O_CONFIG)
            o->config = optarg;
        o->once |= opt == O_ONCE;
        o->dry_run |= opt == O_DRY;
        o->script |= opt == O_SCRIPT;
    }
    if (opt != CLI_OPT_END)
        return CLI_OPT_RESULT (opt);
    if (optind != argc)
        return cli_usage_error (g, "slurm-scale", "unexpected argument '%s'", argv [optind]);
    return -1;
}

/* Waits `ms`, or less if a signal asks it to stop. */
static void
s_pause (uint64_t ms)
{
    struct timespec ts = { (time_t) (ms / 1000), (long) (ms % 1000) * 1000000L };
    while (!s_stop && nanosleep (&ts, &ts) != 0 && errno == EINTR)
        ;
}

static int
s_run (scaler_t *s, bool once)
{
    struct sigaction sa = { .sa_handler = s_on_signal }; /* no SA_RESTART: the pause ends */
    sigaction (SIGTERM, &sa, NULL);
    sigaction (SIGINT, &sa, NULL);
    signal (SIGPIPE, SIG_IGN); /* a Slurm command that exits before reading its script */
    s_log (stdout, "%s: workers %s-JOBID for %s, at most %u; a round every %.3g s", s->conf.path,
           s->conf.job_name, s->broker, s->conf.max_workers, s->conf.poll_ms / 1000.0);
    int rc = CLI_OK;
    while (!s_stop) {
        if (s_round (s) != 0 && once)
            rc = CLI_FAILED;
        if (once)
            break;
        s_pause (s->conf.poll_ms);
    }
    if (s_stop)
        s_log (stdout, "stopping (signal %d); its workers keep running", (int) s_stop);
    return rc;
}

int
cli_slurm_scale (cli_globals_t *g, int argc, char **argv)
{
    options_t o;
    int rc = s_options (g, argc, argv, &o);
    if (rc >= 0)
        return rc;
    scaler_t s = { .g = g, .dry_run = o.dry_run };
    char err [4096];
    if (cli_slurm_conf_load (o.config, &s.conf, err, sizeof err) != 0)
        return cli_error (g, "slurm-scale", CLI_FAILED, "%s", err);
    g->broker = g->broker ? g->broker : s.conf.broker;
    g->cert = g->cert ? g->cert : s.conf.cert;
    g->broker_key = g->broker_key ? g->broker_key : s.conf.broker_key;
    if (o.script) {
        const char *env = getenv ("SEGQ_BROKER");
        char *script = cli_slurm_script (&s.conf, g->broker     ? g->broker
                                                  : env && *env ? env
                                                                : SEGQ_DEFAULT_BROKER);
        rc = script && fputs (script, stdout) >= 0 ? CLI_OK : CLI_FAILED;
        free (script);
    } else if ((rc = cli_connect (g, &s.client)) == CLI_OK) {
        /* its workers connect where it does */
        s.broker = segq_client_broker (s.client);
        s.memory = cli_slurm_memory_new ();
        rc = s.memory ? s_run (&s, o.once)
                      : cli_error (g, "slurm-scale", CLI_FAILED, "out of memory");
    }
    for (size_t k = 0; k < s.n_said; k++)
        free (s.said [k]);
    free (s.said);
    cli_slurm_memory_destroy (&s.memory);
    segq_client_destroy (&s.client);
    cli_slurm_conf_clear (&s.conf);
    return rc;
}
