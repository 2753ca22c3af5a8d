/*  cli_retry.c: `segq retry JOB|ARRAY...`: jobs that failed or were
    cancelled, submitted again as they were (SPEC: SUBMIT, retry). */
#include "cli_submit.h"

#include <stdlib.h>
#include <string.h>

static const char s_help [] =
    "usage: segq retry JOB|ARRAY... [--gpu-mem SIZE | --cpu [N]] [--time-limit SECONDS]\n"
    "                  [--max-attempts N] [--priority N] [--json]\n\n"
    "Submit jobs of yours that failed or were cancelled (an ARRAY: those of its jobs)\n"
    "again, with the parameters and inputs they had: a training that ran out of time,\n"
    "a generation out of the GPU memory it declared. Prints each new job's id. A train\n"
    "starts from the last scale the job finished (`segq logs NEW` says `resuming`).\n"
    "The resources, time limit and attempts are the job's unless given here. The\n"
    "new job is checked as a submit is: a model unshared since, or inputs purged,\n"
    "refuse it. Jobs named together are retried in the order they were submitted,\n"
    "and one that read the outputs of another retried reads its retry's: a failed\n"
    "pipeline runs again with `segq retry TRAINS GENERATIONS ...`.\n";

/* Parses argv into s (resources) and words[1..): the jobs named;
   words[0] is the command. CLI_OK, CLI_USAGE (said), or CLI_OPT_HELP. */
static int
s_parse (cli_globals_t *g, cli_submit_args_t *s, int argc, char **argv, char **words, int *n_words)
{
    words [0] = argv [0];
    *n_words = 1;
    for (int i = 1; i < argc; i++) {
        if (argv [i][0] != '-' || !argv [i][1]) {
            words [(*n_words)++] = argv [i];
            continue;
        }
        int rc = cli_submit_option (g, s, argc, argv, &i);
        char hint [96];
        if (rc < 0)
            return cli_usage_error (g, "retry", "unknown option '%s'%s", argv [i],
                                    cli_submit_near_option (argv [i], hint, sizeof hint));
        if (rc != CLI_OK)
            return rc;
    }
    if (s->help) {
        fputs (s_help, stdout);
        return CLI_OPT_HELP;
    }
    if (s->n_params || s->n_raw_inputs || s->n_after)
        return cli_usage_error (g, "retry",
                                "a retry takes the job's parameters, inputs and --after as they "
                                "were: submit a new job to change them");
    if (s->cpu && s->gpu_mem)
        return cli_usage_error (g, "retry", "--gpu-mem and --cpu exclude each other");
    return CLI_OK;
}

/* What s_retry_one returns when there is nothing to retry: apart from
   CLI_FAILED (a refusal, said), which is 1 too. */
#define S_NOTHING_TO_RETRY (CLI_USAGE + 100)

/* Job `id`, if it failed or was cancelled, submitted again: its new id
   into out. CLI_OK; CLI_FAILED (said) on a refusal; S_NOTHING_TO_RETRY
   when there is nothing to retry: it did not fail, or the broker says it is in no state
   to (said when `alone`, the only job named; else why into `why`, where
   it is empty). */
static int
s_retry_one (cli_globals_t *g, segq_client_t *client, const cli_submit_args_t *s, const char *id,
             bool alone, char out [SEGQ_JOB_ID_MAX], char *why, size_t whylen)
{
    segq_job_info_t info;
    if (segq_client_job (client, id, false, &info) < 0)
        return cli_error (g, "retry", CLI_FAILED, "%s", segq_client_error (client));
    bool ended = info.state == SEGQ_JOB_FAILED || info.state == SEGQ_JOB_CANCELLED;
    segq_job_spec_t *spec = ended ? segq_job_spec_new (info.kind) : NULL;
    char state [SEGQ_JOB_ID_MAX + 32]; /* "job 0001 is running", "job 0001 succeeded" */
    snprintf (state, sizeof state, "job %s %s%s", id, info.state == SEGQ_JOB_SUCCEEDED ? "" : "is ",
              segq_job_state_name (info.state));
    if (!ended && !*why)
        snprintf (why, whylen, "%s", state);
    if (!ended && alone)
        cli_error (g, "retry", CLI_FAILED,
                   "%s: only a job that failed or was cancelled is submitted again", state);
    segq_job_info_clear (&info);
    if (!ended)
        return S_NOTHING_TO_RETRY;
    if (!spec || segq_job_spec_set_retry (spec, id) < 0) {
        segq_job_spec_destroy (&spec);
        return cli_error (g, "retry", CLI_FAILED, "out of memory");
    }
    segq_job_spec_set_priority (spec, (int32_t) s->priority);
    segq_job_spec_set_gpu_mem (spec, s->gpu_mem);
    segq_job_spec_set_cpu_slots (spec, (uint32_t) s->cpu_slots);
    segq_job_spec_set_time_limit (spec, (uint32_t) s->time_limit);
    segq_job_spec_set_max_attempts (spec, (uint32_t) s->max_attempts);
    int rc = segq_client_submit (client, spec, out, SEGQ_JOB_ID_MAX);
    segq_job_spec_destroy (&spec);
    if (rc == SEGQ_ESTATE && !alone) {
        /* retried already, and that retry waits, runs or has succeeded */
        if (!*why)
            snprintf (why, whylen, "%s", segq_client_error (client));
        return S_NOTHING_TO_RETRY;
    }
    return rc < 0 ? cli_error (g, "retry", CLI_FAILED, "%s", segq_client_error (client)) : CLI_OK;
}

/* Job ids in the order they were submitted: the shorter first (ids are
   written without extra leading zeros), then by their digits, whose
   alphabet sorts as their values. */
static int
s_submitted_order (const void *a, const void *b)
{
    const char *x = *(char *const *) a, *y = *(char *const *) b;
    size_t lx = strlen (x), ly = strlen (y);
    return lx != ly ? (lx < ly ? -1 : 1) : strcmp (x, y);
}

/* Several retries grouped as one job array, to follow with `segq wait`
   and `segq status`: said on stderr (stdout keeps one id per line). */
static void
s_group (cli_globals_t *g, segq_client_t *client, const char *const *retries, size_t n)
{
    segq_array_info_t array = { 0 };
    if (segq_client_array_create (client, retries, n, &array) == 0)
        cli_error (g, "retry", CLI_OK, "the %zu retries are job array %s (segq wait %s)", n,
                   array.array, array.array);
    else
        cli_error (g, "retry", CLI_OK,
                   "the retries were submitted, but grouping them as an array "
                   "failed: %s",
                   segq_client_error (client));
    segq_array_info_clear (&array);
}

/* Retries each of ids[0..n) that failed or was cancelled (or whose newest
   retry did), in the order they were submitted (a job before those that
   read it, so that they read its retry); prints the new ids (JSON: {job,
   retry} each), and groups several as an array. A refusal is said and
   the others go on. */
static int
s_retry_all (cli_globals_t *g, segq_client_t *client, const cli_submit_args_t *s, char **ids,
             size_t n)
{
    qsort (ids, n, sizeof *ids, s_submitted_order);
    json_t *list = g->json ? json_array () : NULL;
    char **retries = calloc (n, sizeof *retries);
    if (!retries)
        return cli_error (g, "retry", CLI_FAILED, "out of memory");
    size_t retried = 0, skipped = 0;
    int rc = CLI_OK;
    char why [1024] = ""; /* the first skipped job's reason */
    for (size_t i = 0; i < n; i++) {
        char id [SEGQ_JOB_ID_MAX];
        int one = s_retry_one (g, client, s, ids [i], n == 1, id, why, sizeof why);
        skipped += one == S_NOTHING_TO_RETRY;
        if (one != CLI_OK) {
            rc = one == S_NOTHING_TO_RETRY ? rc : one;
            continue;
        }
        if (!(retries [retried++] = strdup (id)))
            rc = cli_error (g, "retry", CLI_FAILED, "out of memory");
        if (list)
            json_array_append_new (list, json_pack ("{s:s, s:s}", "job", ids [i], "retry", id));
        else
            printf ("%s\n", id);
    }
    if (skipped && n > 1)
        cli_error (g, "retry", CLI_OK,
                   "%zu of the %zu jobs named had nothing to retry: a job is retried once it "
                   "failed or was cancelled, and not while a retry of it waits, runs or has "
                   "succeeded (%s: %s)",
                   skipped, n, skipped > 1 ? "the first" : "that one", why);
    if (rc == CLI_OK && retried > 1)
        s_group (g, client, (const char *const *) retries, retried);
    if (rc == CLI_OK && !retried)
        rc = CLI_FAILED;
    cli_ids_free (retries, n);
    return list ? cli_print_json_after (list, rc) : rc;
}

int
cli_retry (cli_globals_t *g, int argc, char **argv)
{
    cli_submit_args_t s;
    char **words = calloc ((size_t) argc + 1, sizeof *words);
    if (cli_submit_args_init (&s, argc) < 0 || !words) {
        cli_submit_args_clear (&s);
        free (words);
        return cli_error (g, "retry", CLI_FAILED, "out of memory");
    }
    s.command = "retry";
    int n_words;
    int rc = s_parse (g, &s, argc, argv, words, &n_words);
    segq_client_t *client = NULL;
    char **ids = NULL;
    size_t n_ids = 0;
    if (rc == CLI_OK) {
        optind = 1; /* the jobs are words[1..) */
        rc = cli_connect_jobs (g, "retry", n_words, words, &client, &ids, &n_ids);
    }
    if (rc == CLI_OK)
        rc = s_retry_all (g, client, &s, ids, n_ids);
    cli_ids_free (ids, n_ids);
    segq_client_destroy (&client);
    cli_submit_args_clear (&s);
    free (words);
    return rc == CLI_OPT_HELP ? CLI_OK : rc;
}
