/*  cli_jobs.c: segq status, wait, cancel, hold, release (submit: cli_submit.c). */
#include "cli.h"

#include <getopt.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

enum { OPT_USER = 2000, OPT_STATE, OPT_LIMIT, OPT_INTERVAL, OPT_ALL };

/* ---- job arrays ---- */

typedef struct {
    const char *id;
    size_t at;
} s_ranked_t;

static int
s_by_id_then_place (const void *a, const void *b)
{
    const s_ranked_t *x = a, *y = b;
    int c = strcmp (x->id, y->id);
    return c ? c : x->at < y->at ? -1 : x->at > y->at;
}

/* Sorted, so that an array of 10,000 jobs named beside its jobs costs
   n log n, not n^2. */
size_t
cli_unique (char **ids, size_t n, bool owned)
{
    s_ranked_t *r = n > 1 ? malloc (n * sizeof *r) : NULL;
    bool *drop = n > 1 ? calloc (n, sizeof *drop) : NULL;
    if (!r || !drop) {
        /* too small to matter, or no memory: the quadratic way */
        free (r);
        free (drop);
        size_t kept = 0;
        for (size_t i = 0; i < n; i++) {
            bool seen = false;
            for (size_t j = 0; j < kept && !seen; j++)
                seen = strcmp (ids [i], ids [j]) == 0;
            if (seen && owned)
                free (ids [i]);
            else if (!seen)
                ids [kept++] = ids [i];
        }
        return kept;
    }
    for (size_t i = 0; i < n; i++)
        r [i] = (s_ranked_t){ ids [i], i };
    qsort (r, n, sizeof *r, s_by_id_then_place);
    for (size_t i = 1; i < n; i++)
        drop [r [i].at] = strcmp (r [i].id, r [i - 1].id) == 0;
    size_t kept = 0;
    for (size_t i = 0; i < n; i++) {
        if (drop [i] && owned)
            free (ids [i]);
        else if (!drop [i])
            ids [kept++] = ids [i];
    }
    free (r);
    free (drop);
    return kept;
}

void
cli_ids_free (char **ids, size_t n)
{
    for (size_t i = 0; ids && i < n; i++)
        free (ids [i]);
    free (ids);
}

/* ids with every job array id replaced by its jobs, each job once (a job
   named beside its array, or twice, is not counted again). */
static int
s_expand_arrays (cli_globals_t *g, const char *cmd, segq_client_t *client, const char *const *ids,
                 size_t n, char ***out, size_t *n_out)
{
    size_t count = 0, capacity = n + 1;
    char **all = calloc (capacity, sizeof *all);
    int rc = all ? CLI_OK : cli_error (g, cmd, CLI_FAILED, "out of memory");
    for (size_t i = 0; i < n && rc == CLI_OK; i++) {
        segq_array_info_t array = { 0 };
        bool is_array = segq_array_id (ids [i]);
        if (is_array && segq_client_array (client, ids [i], &array) < 0) {
            rc = cli_error (g, cmd, CLI_FAILED, "%s", segq_client_error (client));
            break;
        }
        size_t add = is_array ? array.n_jobs : 1;
        if (count + add >= capacity) {
            capacity = count + add + n + 1;
            char **grown = realloc (all, capacity * sizeof *grown);
            if (grown)
                all = grown;
            else
                rc = cli_error (g, cmd, CLI_FAILED, "out of memory");
        }
        for (size_t k = 0; k < add && rc == CLI_OK; k++)
            if (!(all [count++] = strdup (is_array ? array.jobs [k] : ids [i])))
                rc = cli_error (g, cmd, CLI_FAILED, "out of memory");
        segq_array_info_clear (&array);
    }
    if (rc != CLI_OK) {
        cli_ids_free (all, count);
        return rc;
    }
    *out = all;
    *n_out = cli_unique (all, count, true);
    return CLI_OK;
}

int
cli_connect_jobs (cli_globals_t *g, const char *cmd, int argc, char **argv, segq_client_t **client,
                  char ***ids, size_t *n_ids)
{
    size_t n = (size_t) (argc - optind);
    if (n == 0)
        return cli_usage_error (g, cmd, "which jobs? (segq %s JOB...)", cmd);
    for (int i = optind; i < argc; i++)
        if (strncmp (argv [i], "m-", 2) == 0)
            return cli_usage_error (g, cmd,
                                    "'%s' is a model's id, not a job's: its training is job %s "
                                    "(`segq models rm %s` removes the model)",
                                    argv [i], argv [i] + 2, argv [i]);
    int rc = cli_connect (g, client);
    if (rc != CLI_OK)
        return rc;
    rc = s_expand_arrays (g, cmd, *client, (const char *const *) argv + optind, n, ids, n_ids);
    if (rc != CLI_OK)
        segq_client_destroy (client);
    return rc;
}

/* A job array's jobs as counted so far, for its summary. */
typedef struct {
    size_t per_state [SEGQ_JOB_CANCELLED + 1];
    size_t seen;      /* jobs the broker listed */
    double progress;  /* the sum of their fractions done */
    char kinds [256]; /* their kinds, each once */
    bool detail;      /* -l: each job shown too */
    json_t *jobs;     /* --json: each job's JSON, with -l (owned) */
} array_tally_t;

/* One job of the array: counted, and shown with -l. */
static void
s_array_count (array_tally_t *t, const segq_job_info_t *job)
{
    if (job->state >= 1 && job->state <= SEGQ_JOB_CANCELLED)
        t->per_state [job->state]++;
    t->progress += segq_job_state_final (job->state) ? 1 : job->fraction; /* as segq wait */
    t->seen++;
    char *kinds = t->kinds;
    if (job->kind && !strstr (kinds, job->kind)
        && strlen (kinds) + strlen (job->kind) + 3 < sizeof t->kinds)
        snprintf (kinds + strlen (kinds), sizeof t->kinds - strlen (kinds), "%s%s",
                  *kinds ? ", " : "", job->kind);
    if (t->jobs && t->detail)
        json_array_append_new (t->jobs, segq_job_info_json (job));
    else if (t->detail)
        cli_print_job_table (stdout, job, 1, t->seen == 1);
}

/* The jobs q names, page by page, counted into t. */
static int
s_array_batch (cli_globals_t *g, segq_client_t *client, const segq_status_query_t *q,
               array_tally_t *t)
{
    int rc = CLI_OK;
    char *cursor = NULL;
    do {
        segq_job_list_t page;
        if (segq_client_status (client, q, cursor, &page) < 0) {
            rc = cli_error (g, "status", CLI_FAILED, "%s", segq_client_error (client));
            break;
        }
        free (cursor);
        cursor = page.cursor;
        page.cursor = NULL;
        for (size_t i = 0; i < page.n_jobs; i++)
            s_array_count (t, &page.jobs [i]);
        segq_job_list_clear (&page);
    } while (cursor);
    free (cursor);
    return rc;
}

/* All the array's jobs counted into t, in batches one STATUS may name. */
static int
s_array_tally (cli_globals_t *g, segq_client_t *client, const segq_array_info_t *array,
               array_tally_t *t)
{
    enum { BATCH = 500 }; /* STATUS names at most 500 jobs */
    int rc = CLI_OK;
    for (size_t start = 0; start < array->n_jobs && rc == CLI_OK; start += BATCH) {
        segq_status_query_t q = {
            .jobs = (const char *const *) array->jobs + start,
            .n_jobs = array->n_jobs - start < BATCH ? array->n_jobs - start : BATCH,
        };
        rc = s_array_batch (g, client, &q, t);
    }
    return rc;
}

/* The summary as one object of the --json document. */
static void
s_array_json (const segq_array_info_t *array, const array_tally_t *t, double fraction, size_t final,
              json_t *json_out)
{
    json_t *states = json_object ();
    for (int st = SEGQ_JOB_WAITING; states && st <= SEGQ_JOB_CANCELLED; st++)
        json_object_set_new (states, segq_job_state_name ((segq_job_state_t) st),
                             json_integer ((json_int_t) t->per_state [st]));
    json_t *o = json_pack ("{s:s,s:s,s:f,s:I,s:s,s:o*,s:f,s:I}", "array", array->array, "owner",
                           array->owner, "created", array->created, "jobs",
                           (json_int_t) array->n_jobs, "kinds", t->kinds, "states", states,
                           "progress", fraction, "final", (json_int_t) final);
    if (o && t->jobs)
        json_object_set (o, "detail", t->jobs);
    json_array_append_new (json_out, o);
}

/* The summary as text: a line, the count per state, a progress bar. */
static void
s_array_print (const segq_array_info_t *array, const array_tally_t *t, double fraction,
               size_t final)
{
    char bar [64];
    cli_format_bar (fraction, 30, bar, sizeof bar);
    printf ("array %s: %zu %s job%s of %s, %zu/%zu done\n", array->array, array->n_jobs, t->kinds,
            array->n_jobs == 1 ? "" : "s", array->owner, final, array->n_jobs);
    printf ("  ");
    for (int st = SEGQ_JOB_WAITING; st <= SEGQ_JOB_CANCELLED; st++)
        printf ("%s%s %zu", st > SEGQ_JOB_WAITING ? "  " : "",
                segq_job_state_name ((segq_job_state_t) st), t->per_state [st]);
    printf ("\n  %s %3.0f%%\n", bar, fraction * 100);
}

/* `segq status ARRAY`: its jobs counted per state, and its progress. */
static int
s_array_summary (cli_globals_t *g, segq_client_t *client, const char *id, bool detail,
                 json_t *json_out)
{
    segq_array_info_t array;
    if (segq_client_array (client, id, &array) < 0)
        return cli_error (g, "status", CLI_FAILED, "%s", segq_client_error (client));
    array_tally_t t = { .detail = detail, .jobs = json_out ? json_array () : NULL };
    int rc = s_array_tally (g, client, &array, &t);
    double fraction = array.n_jobs ? t.progress / (double) array.n_jobs : 0;
    size_t final = t.per_state [SEGQ_JOB_SUCCEEDED] + t.per_state [SEGQ_JOB_FAILED]
                   + t.per_state [SEGQ_JOB_CANCELLED];
    if (rc == CLI_OK && json_out)
        s_array_json (&array, &t, fraction, final, json_out);
    else if (rc == CLI_OK)
        s_array_print (&array, &t, fraction, final);
    if (rc == CLI_OK && t.seen < array.n_jobs)
        rc = cli_error (g, "status", CLI_FAILED,
                        "%zu of the %zu jobs of array %s are unknown to "
                        "the broker",
                        array.n_jobs - t.seen, array.n_jobs, array.array);
    json_decref (t.jobs);
    segq_array_info_clear (&array);
    return rc;
}

/* ---- status ---- */

/* Jobs of a listing: into the --json array, as details (-l) or as table
   rows (header: the first rows). */
static void
s_show (json_t *array, bool detail, const segq_job_info_t *jobs, size_t n, bool header)
{
    if (array)
        for (size_t i = 0; i < n; i++)
            json_array_append_new (array, segq_job_info_json (&jobs [i]));
    else if (detail)
        for (size_t i = 0; i < n; i++)
            cli_print_job_detail (stdout, &jobs [i]);
    else
        cli_print_job_table (stdout, jobs, n, header);
}

/* Moves the first n jobs of page to the end of kept, which has room for
 *room jobs (grown as needed). */
static int
s_keep (const cli_globals_t *g, segq_job_list_t *kept, size_t *room, segq_job_list_t *page,
        size_t n)
{
    if (kept->n_jobs + n > *room) {
        size_t grown = (kept->n_jobs + n) * 2;
        segq_job_info_t *jobs = realloc (kept->jobs, grown * sizeof *jobs);
        if (!jobs)
            return cli_error (g, "status", CLI_FAILED, "out of memory");
        kept->jobs = jobs;
        *room = grown;
    }
    for (size_t i = 0; i < n; i++) {
        kept->jobs [kept->n_jobs++] = page->jobs [i];
        memset (&page->jobs [i], 0, sizeof page->jobs [i]);
    }
    return CLI_OK;
}

static const char s_status_help [] =
    "usage: segq status [JOB|ARRAY...] [--all | --user U] [--state STATE] [-l|--detail]\n"
    "                   [--limit N] [--json]\n"
    "\n"
    "List jobs: the ones named (whoever owns them), or your own, oldest first\n"
    "(filtered by --state; --all: everyone's, --user U: U's).\n"
    "A job ARRAY (a-NNNN, from `segq submit KIND --images DIR ...`) is summarised:\n"
    "its jobs counted per state and its overall progress (with -l, each job too).\n"
    "  --all           every user's jobs\n"
    "  --user U        only U's jobs\n"
    "  --state STATE   only jobs in STATE: waiting, queued, running, succeeded, failed, cancelled\n"
    "  -l, --detail    everything about each job, its history included\n"
    "  --limit N       only the newest N jobs (still shown oldest first)\n"
    "  --json          one JSON array: each ARRAY's summary (with \"array\"), then the\n"
    "                  jobs (with \"id\")\n";

/* What a `segq status` works with, shared by its steps. */
typedef struct {
    segq_status_query_t q;
    uint64_t limit; /* --limit N; 0: all */
    bool all;       /* --all */
    segq_client_t *client;
    json_t *json; /* --json: the one document */
    size_t shown; /* jobs listed so far */
} status_t;

/* One option of the command line (cli_next_option's code). */
static int
s_status_option (cli_globals_t *g, status_t *st, int opt)
{
    if (opt == 'l')
        st->q.detail = true;
    else if (opt == OPT_USER)
        st->q.user = optarg;
    else if (opt == OPT_STATE) {
        if (segq_job_state_parse (optarg, &st->q.state) < 0)
            return cli_usage_error (g, "status",
                                    "unknown state '%s' (waiting, queued, running, "
                                    "succeeded, failed, cancelled)",
                                    optarg);
    } else if (opt == OPT_LIMIT) {
        if (!cli_parse_uint (optarg, 100000000, &st->limit) || st->limit == 0)
            return cli_usage_error (g, "status", "--limit '%s': expected a positive number",
                                    optarg);
    } else if (opt == OPT_ALL)
        st->all = true;
    return CLI_OK;
}

/* The job arrays named (ids: q's, writable) are summarised; the jobs named
   beside them stay in q, to be listed (*list: whether there is a listing
   to make). */
static int
s_status_arrays (cli_globals_t *g, status_t *st, char **ids, bool *list)
{
    segq_status_query_t *q = &st->q;
    size_t n_arrays = 0;
    for (size_t i = 0; i < q->n_jobs; i++)
        n_arrays += segq_array_id (q->jobs [i]);
    int rc = CLI_OK;
    /* arrays summarised; any jobs named beside them are listed below */
    for (size_t i = 0; i < q->n_jobs && rc == CLI_OK; i++)
        if (segq_array_id (q->jobs [i]))
            rc = s_array_summary (g, st->client, q->jobs [i], q->detail, st->json);
    *list = n_arrays == 0 || (rc == CLI_OK && n_arrays < q->n_jobs);
    if (*list && n_arrays) {
        /* argv's order is kept: only the array ids leave */
        size_t kept = 0;
        for (size_t i = 0; i < q->n_jobs; i++)
            if (!segq_array_id (ids [i]))
                ids [kept++] = ids [i];
        q->n_jobs = kept;
    }
    return rc;
}

/* One page of the listing after *cursor (moved on to the next): shown,
   or kept in newest (room: its capacity) when q asks for the newest
   first. */
static int
s_status_page (cli_globals_t *g, status_t *st, char **cursor, segq_job_list_t *newest, size_t *room)
{
    segq_status_query_t *q = &st->q;
    uint64_t limit = st->limit;
    segq_job_list_t page;
    if (limit && limit - st->shown <= SEGQ_STATUS_MAX)
        q->limit = (uint32_t) (limit - st->shown);
    if (segq_client_status (st->client, q, *cursor, &page) < 0)
        return cli_error (g, "status", CLI_FAILED, "%s", segq_client_error (st->client));
    free (*cursor);
    *cursor = page.cursor;
    page.cursor = NULL;
    size_t n =
        limit && page.n_jobs > limit - st->shown ? (size_t) (limit - st->shown) : page.n_jobs;
    int rc = CLI_OK;
    if (q->newest)
        rc = s_keep (g, newest, room, &page, n);
    else
        s_show (st->json, q->detail, page.jobs, n, st->shown == 0);
    st->shown += n;
    segq_job_list_clear (&page);
    return rc;
}

static void
s_reverse (segq_job_list_t *list)
{
    for (size_t i = 0; i < list->n_jobs / 2; i++) {
        segq_job_info_t swap = list->jobs [i];
        list->jobs [i] = list->jobs [list->n_jobs - 1 - i];
        list->jobs [list->n_jobs - 1 - i] = swap;
    }
}

/* The jobs of q, page by page, at most --limit of them. */
static int
s_status_list (cli_globals_t *g, status_t *st)
{
    segq_status_query_t *q = &st->q;
    char *cursor = NULL;
    /* --limit N of a listing: the newest N, asked for newest first and
       kept to be shown oldest first like any listing */
    q->newest = st->limit && !q->n_jobs;
    segq_job_list_t newest = { 0 };
    size_t room = 0;
    int rc;
    do {
        rc = s_status_page (g, st, &cursor, &newest, &room);
    } while (rc == CLI_OK && cursor && (!st->limit || st->shown < st->limit));
    free (cursor);
    s_reverse (&newest);
    if (rc == CLI_OK && q->newest)
        s_show (st->json, q->detail, newest.jobs, newest.n_jobs, true);
    segq_job_list_clear (&newest);
    /* Named jobs the broker did not list are unknown to it. */
    if (rc == CLI_OK && q->n_jobs && st->shown < q->n_jobs && !st->limit)
        rc = cli_error (g, "status", CLI_FAILED,
                        "%zu of the %zu jobs named are unknown to the broker",
                        q->n_jobs - st->shown, q->n_jobs);
    return rc;
}

/* The --json document, or "(no jobs)" for an empty listing; rc: the
   command's so far. */
static int
s_status_end (status_t *st, int rc)
{
    if (st->json)
        rc = cli_print_json_after (st->json, rc);
    else if (rc == CLI_OK && st->shown == 0 && !st->q.n_jobs)
        printf ("(no jobs)\n");
    return rc;
}

int
cli_status (cli_globals_t *g, int argc, char **argv)
{
    static const struct option options [] = { CLI_COMMON_OPTIONS,
                                              { "user", required_argument, NULL, OPT_USER },
                                              { "state", required_argument, NULL, OPT_STATE },
                                              { "detail", no_argument, NULL, 'l' },
                                              { "limit", required_argument, NULL, OPT_LIMIT },
                                              { "all", no_argument, NULL, OPT_ALL },
                                              { 0 } };
    status_t st;
    memset (&st, 0, sizeof st);
    int opt = CLI_OPT_END, rc = CLI_OK;
    while (rc == CLI_OK
           && (opt = cli_next_option (g, "status", argc, argv, "hl", options, s_status_help)) > 0)
        rc = s_status_option (g, &st, opt);
    if (rc != CLI_OK)
        return rc;
    if (opt != CLI_OPT_END)
        return CLI_OPT_RESULT (opt);
    if (st.all && st.q.user)
        return cli_usage_error (g, "status", "--all and --user exclude each other");
    /* a job named twice is listed once (else the broker's one answer for
       it would read as a job it does not know) */
    char **ids = argv + optind;
    st.q.jobs = (const char *const *) ids;
    st.q.n_jobs = cli_unique (ids, (size_t) (argc - optind), false);
    if ((rc = cli_connect (g, &st.client)) != CLI_OK)
        return rc;
    /* a listing is of the caller's own jobs unless told otherwise (with
       keys the client's user is its certificate's name) */
    if (!st.q.n_jobs && !st.q.user && !st.all)
        st.q.user = segq_client_user (st.client);
    /* --json: one document, the arrays' summaries then the jobs named */
    st.json = g->json ? json_array () : NULL;
    bool list;
    rc = s_status_arrays (g, &st, ids, &list);
    if (rc == CLI_OK && list)
        rc = s_status_list (g, &st);
    rc = s_status_end (&st, rc);
    segq_client_destroy (&st.client);
    return rc;
}

/* ---- wait ---- */

static const char s_wait_help [] =
    "usage: segq wait JOB|ARRAY... [--interval MS] [--json]\n"
    "\n"
    "Wait until every JOB (and every job of each job ARRAY) has ended. On a terminal a progress "
    "bar shows how far they\n"
    "are; otherwise one line is printed each time a job changes state.\n"
    "A broker that stops answering (a restart, an upgrade) is waited for, up to 5\n"
    "minutes, saying so on stderr.\n"
    "exit status: 0 all succeeded; 3 one or more failed or were cancelled; 1 the\n"
    "broker could not be asked (down over 5 minutes, or a job unknown).\n"
    "  --interval MS   how often the progress is shown (default 200); an end is seen at once\n"
    "  --json          print the jobs' final status as a JSON array\n";

static double
s_now (void)
{
    struct timespec ts;
    clock_gettime (CLOCK_MONOTONIC, &ts);
    return (double) ts.tv_sec + ts.tv_nsec / 1e9;
}

/* How long `wait` waits for a broker that does not answer: a restart or
   an upgrade takes seconds, and a script's wait should outlast it. */
#define WAIT_BROKER_SILENT_MAX_S 300
enum { CLI_SILENT = -1 }; /* s_refresh: no answer (not an exit code) */

/* Ask for the jobs not yet final, a batch of ids per request, and update
   seen/last; with `lines`, print each change of state. wait_ms: when all
   fit one request, the broker answers once one of them has ended or
   after this long (segq_client_status_wait), instead of at once.
   CLI_SILENT, said nowhere, when the broker did not answer. */
static int
s_refresh (cli_globals_t *g, segq_client_t *client, const char *const *ids, size_t n,
           segq_job_state_t *seen, segq_job_info_t *last, bool lines, int wait_ms)
{
    enum { BATCH = 256 };
    const char *batch [BATCH];
    size_t start = 0;
    while (start < n) {
        size_t k = 0, i = start;
        for (; i < n && k < BATCH; i++)
            if (!segq_job_state_final (seen [i]))
                batch [k++] = ids [i];
        size_t end = i;
        segq_status_query_t q = { .jobs = batch, .n_jobs = k };
        char *cursor = NULL;
        size_t found = 0;
        do {
            segq_job_list_t page;
            if (k == 0)
                break;
            bool one_request = start == 0 && end == n;
            int rc = wait_ms > 0 && one_request
                         ? segq_client_status_wait (client, &q, wait_ms, &page)
                         : segq_client_status (client, &q, cursor, &page);
            if (rc < 0) {
                free (cursor);
                if (rc == SEGQ_ETIMEOUT || rc == SEGQ_EUNAVAIL)
                    return CLI_SILENT;
                if (isatty (STDOUT_FILENO) && !g->json)
                    printf ("\n");
                return cli_error (g, "wait", CLI_FAILED, "%s", segq_client_error (client));
            }
            free (cursor);
            cursor = page.cursor;
            page.cursor = NULL;
            for (size_t j = 0; j < page.n_jobs; j++)
                for (size_t m = start; m < end; m++) {
                    if (segq_job_state_final (seen [m]) || strcmp (ids [m], page.jobs [j].id) != 0)
                        continue;
                    const segq_job_info_t *info = &page.jobs [j];
                    if (lines && info->state != seen [m])
                        printf ("%s %s%s%s\n", ids [m], segq_job_state_name (info->state),
                                info->reason ? ": " : "", info->reason ? info->reason : "");
                    seen [m] = info->state;
                    segq_job_info_clear (&last [m]);
                    last [m] = *info;
                    memset (&page.jobs [j], 0, sizeof page.jobs [j]);
                    found++;
                    break;
                }
            segq_job_list_clear (&page);
        } while (cursor);
        if (found < k)
            for (size_t m = start; m < end; m++)
                if (seen [m] == 0)
                    return cli_error (g, "wait", CLI_FAILED, "unknown job '%s' (see `segq status`)",
                                      ids [m]);
        start = end;
    }
    return CLI_OK;
}

/* How far the jobs waited for are: ended, ended badly, and the sum of
   their fractions done. */
typedef struct {
    size_t final, bad;
    double fraction;
} wait_tally_t;

static wait_tally_t
s_wait_tally (const segq_job_state_t *seen, const segq_job_info_t *last, size_t n)
{
    wait_tally_t t = { 0 };
    for (size_t i = 0; i < n; i++) {
        t.final += segq_job_state_final (seen [i]);
        t.bad += seen [i] == SEGQ_JOB_FAILED || seen [i] == SEGQ_JOB_CANCELLED;
        /* an ended job is as far as it will go: a failed one counts whole
           too, or "2/2 done" would show at 50% */
        t.fraction += segq_job_state_final (seen [i]) ? 1 : last [i].fraction;
    }
    return t;
}

/* The terminal's progress line, redrawn in place: one job's bar, state
   and phase, or several jobs' bar and count. */
static void
s_wait_show (const char *const *ids, size_t n, const segq_job_state_t *seen,
             const segq_job_info_t *last, const wait_tally_t *t, double elapsed_s)
{
    char bar [64], elapsed [32];
    /* one job: how far it got, also when it failed */
    double fraction =
        n == 1 && seen [0] != SEGQ_JOB_SUCCEEDED ? last [0].fraction : t->fraction / (double) n;
    cli_format_bar (fraction, 30, bar, sizeof bar);
    snprintf (elapsed, sizeof elapsed, "%.0fs", elapsed_s);
    if (n == 1)
        printf ("\r\033[K%s %s %3.0f%% %s%s%s %s", ids [0], bar, fraction * 100,
                segq_job_state_name (seen [0]), last [0].phase ? " " : "",
                last [0].phase ? last [0].phase : "", elapsed);
    else {
        char failed [48] = "";
        if (t->bad)
            snprintf (failed, sizeof failed, ", %zu failed", t->bad);
        printf ("\r\033[K%s %3.0f%%  %zu/%zu done%s %s", bar, fraction * 100, t->final, n, failed,
                elapsed);
    }
    fflush (stdout);
}

/* After the progress line, each job's end and its reason. */
static void
s_wait_summary (const char *const *ids, size_t n, const segq_job_state_t *seen,
                const segq_job_info_t *last)
{
    printf ("\n");
    for (size_t i = 0; i < n; i++)
        printf ("%s %s%s%s\n", ids [i], segq_job_state_name (seen [i]), last [i].reason ? ": " : "",
                last [i].reason ? last [i].reason : "");
}

/* What a `segq wait` works with, shared by its steps. */
typedef struct {
    segq_client_t *client;
    char **ids; /* the jobs, arrays expanded, each once (owned) */
    size_t n;
    segq_job_state_t *seen; /* each job's state as last seen */
    segq_job_info_t *last;  /* each job's last status (owned) */
    uint64_t interval_ms;   /* --interval */
    bool tty;               /* a progress line, not a line per change */
} wait_t;

/* The broker did not answer: CLI_SILENT to ask again (said on stderr
   the first time), or the error once it has been silent too long, or at
   once if it never answered this wait (a wrong --broker is no restart). */
static int
s_broker_silent (cli_globals_t *g, wait_t *w, bool heard, double *silent_since)
{
    double now = s_now ();
    if (!heard)
        return cli_error (g, "wait", CLI_FAILED, "%s", segq_client_error (w->client));
    if (*silent_since == 0) {
        *silent_since = now;
        if (w->tty)
            printf ("\n");
        fprintf (stderr,
                 "%s wait: no answer from the broker at %s (restarting?): still waiting, for "
                 "up to %d s\n",
                 g->prog, segq_client_broker (w->client), WAIT_BROKER_SILENT_MAX_S);
        return CLI_SILENT;
    }
    if (now - *silent_since < WAIT_BROKER_SILENT_MAX_S)
        return CLI_SILENT;
    return cli_error (g, "wait", CLI_FAILED, "%s (silent for %d s)", segq_client_error (w->client),
                      WAIT_BROKER_SILENT_MAX_S);
}

/* Asks until every job has ended: CLI_OK when all succeeded,
   CLI_JOB_FAILED when one did not, CLI_FAILED when the broker could not
   be asked. */
static int
s_wait_until_ended (cli_globals_t *g, wait_t *w)
{
    const char *const *ids = (const char *const *) w->ids;
    double start = s_now ();
    int wait_ms = 0; /* the first answer at once: the states as they are */
    size_t ended = 0;
    double silent_since = 0; /* when the broker stopped answering; 0: it answers */
    bool heard = false;      /* it answered this wait once */
    for (;;) {
        double asked = s_now ();
        int rc =
            s_refresh (g, w->client, ids, w->n, w->seen, w->last, !w->tty && !g->json, wait_ms);
        if (rc == CLI_SILENT) {
            rc = s_broker_silent (g, w, heard, &silent_since);
            if (rc == CLI_SILENT)
                continue;
        } else if (rc == CLI_OK && silent_since > 0) {
            fprintf (stderr, "%s wait: the broker answers again\n", g->prog);
            silent_since = 0;
        }
        heard = heard || rc == CLI_OK;
        if (rc != CLI_OK)
            return CLI_FAILED;
        wait_tally_t t = s_wait_tally (w->seen, w->last, w->n);
        fflush (stdout);
        if (w->tty)
            s_wait_show (ids, w->n, w->seen, w->last, &t, s_now () - start);
        if (t.final == w->n) {
            if (w->tty)
                s_wait_summary (ids, w->n, w->seen, w->last);
            return t.bad ? CLI_JOB_FAILED : CLI_OK;
        }
        /* a waiting request answered before the interval without a new
           end (a broker that does not wait, or holds too many waiting
           requests): ask again only when the interval is up */
        double left = (double) w->interval_ms / 1e3 - (s_now () - asked);
        if (wait_ms > 0 && t.final == ended && left > 0)
            usleep ((useconds_t) (left * 1e6));
        ended = t.final;
        wait_ms = (int) (w->interval_ms < SEGQ_STATUS_WAIT_MAX_MS ? w->interval_ms
                                                                  : SEGQ_STATUS_WAIT_MAX_MS);
    }
}

/* --json: every job's final status; rc: the command's so far. */
static int
s_wait_json (const wait_t *w, int rc)
{
    json_t *array = json_array ();
    for (size_t i = 0; array && i < w->n; i++)
        json_array_append_new (array, segq_job_info_json (&w->last [i]));
    return cli_print_json_after (array, rc);
}

static void
s_wait_clear (wait_t *w)
{
    for (size_t i = 0; w->last && i < w->n; i++)
        segq_job_info_clear (&w->last [i]);
    free (w->last);
    free (w->seen);
    for (size_t i = 0; i < w->n; i++)
        free (w->ids [i]);
    free (w->ids);
    segq_client_destroy (&w->client);
}

int
cli_wait (cli_globals_t *g, int argc, char **argv)
{
    static const struct option options [] = { CLI_COMMON_OPTIONS,
                                              { "interval", required_argument, NULL, OPT_INTERVAL },
                                              { 0 } };
    wait_t w = { .interval_ms = 200 };
    int opt;
    while ((opt = cli_next_option (g, "wait", argc, argv, "h", options, s_wait_help)) > 0)
        if (opt == OPT_INTERVAL
            && (!cli_parse_uint (optarg, 600000, &w.interval_ms) || w.interval_ms < 10))
            return cli_usage_error (g, "wait", "--interval '%s': expected 10..600000 ms", optarg);
    if (opt != CLI_OPT_END)
        return CLI_OPT_RESULT (opt);
    int rc = cli_connect_jobs (g, "wait", argc, argv, &w.client, &w.ids, &w.n);
    if (rc != CLI_OK)
        return rc;
    w.tty = !g->json && isatty (STDOUT_FILENO);
    w.seen = calloc (w.n, sizeof *w.seen);
    w.last = calloc (w.n, sizeof *w.last);
    if (!w.seen || !w.last)
        rc = cli_error (g, "wait", CLI_FAILED, "out of memory");
    else
        rc = s_wait_until_ended (g, &w);
    /* the final states, once every job has ended */
    if (g->json && (rc == CLI_OK || rc == CLI_JOB_FAILED))
        rc = s_wait_json (&w, rc);
    s_wait_clear (&w);
    return rc;
}

/* ---- cancel, hold, release: an act on jobs named or arrays ---- */

typedef int (s_jobs_act_fn) (segq_client_t *client, const char *const *ids, size_t n,
                             segq_cancel_outcome_t **out, size_t *n_out);

/* Each job's outcome: a line (stdout when done, stderr when not), or one
   JSON array of {job, ok, message}. CLI_FAILED if one was not done. */
static int
s_print_outcomes (cli_globals_t *g, const char *command, const char *done,
                  const segq_cancel_outcome_t *out, size_t n_out)
{
    int rc = CLI_OK;
    json_t *array = g->json ? json_array () : NULL;
    for (size_t i = 0; i < n_out; i++) {
        const char *message = out [i].message ? out [i].message : segq_strerror (out [i].code);
        if (array)
            json_array_append_new (array, json_pack ("{s:s,s:b,s:s}", "job",
                                                     out [i].job ? out [i].job : "", "ok",
                                                     out [i].code == 0, "message", message));
        else if (out [i].code == 0)
            printf ("%s %s%s%s\n", out [i].job, done, out [i].message ? ": " : "",
                    out [i].message ? out [i].message : "");
        else
            fprintf (stderr, "segq %s: %s: %s\n", command, out [i].job, message);
        if (out [i].code != 0)
            rc = CLI_FAILED;
    }
    return array ? cli_print_json_after (array, rc) : rc;
}

static int
s_jobs_act (cli_globals_t *g, const char *command, const char *done, const char *help, int argc,
            char **argv, s_jobs_act_fn *act)
{
    static const struct option options [] = { CLI_COMMON_OPTIONS, { 0 } };
    int opt = cli_next_option (g, command, argc, argv, "h", options, help);
    if (opt != CLI_OPT_END)
        return opt > 0 ? CLI_USAGE : CLI_OPT_RESULT (opt);
    segq_client_t *client;
    char **ids;
    size_t n_ids;
    int rc = cli_connect_jobs (g, command, argc, argv, &client, &ids, &n_ids);
    if (rc != CLI_OK)
        return rc;
    segq_cancel_outcome_t *out;
    size_t n_out;
    rc = act (client, (const char *const *) ids, n_ids, &out, &n_out);
    cli_ids_free (ids, n_ids);
    if (rc < 0)
        rc = cli_error (g, command, CLI_FAILED, "%s", segq_client_error (client));
    else {
        rc = s_print_outcomes (g, command, done, out, n_out);
        segq_cancel_outcomes_free (&out, n_out);
    }
    segq_client_destroy (&client);
    return rc;
}

int
cli_cancel (cli_globals_t *g, int argc, char **argv)
{
    static const char help [] =
        "usage: segq cancel JOB|ARRAY... [--json]\n\n"
        "Cancel jobs (an ARRAY: all its jobs): a queued or waiting one at once, a running one by "
        "stopping its\n"
        "process (TERM, then KILL after a grace period). A job that has already ended\n"
        "is left as it is, said on stderr, and the exit status is 1.\n";
    return s_jobs_act (g, "cancel", "cancelled", help, argc, argv, segq_client_cancel);
}

static int
s_hold (segq_client_t *client, const char *const *ids, size_t n, segq_cancel_outcome_t **out,
        size_t *n_out)
{
    return segq_client_hold (client, ids, n, false, out, n_out);
}

static int
s_release (segq_client_t *client, const char *const *ids, size_t n, segq_cancel_outcome_t **out,
           size_t *n_out)
{
    return segq_client_hold (client, ids, n, true, out, n_out);
}

int
cli_hold (cli_globals_t *g, int argc, char **argv)
{
    static const char help [] =
        "usage: segq hold JOB|ARRAY... [--json]\n\n"
        "Keep waiting or queued jobs (an ARRAY: all its jobs) from starting until\n"
        "`segq release`; they keep their place among your jobs. The owner or an admin.\n"
        "A running or ended job cannot be held: said on stderr, exit status 1.\n";
    return s_jobs_act (g, "hold", "held", help, argc, argv, s_hold);
}

int
cli_release (cli_globals_t *g, int argc, char **argv)
{
    static const char help [] =
        "usage: segq release JOB|ARRAY... [--json]\n\n"
        "Let held jobs (an ARRAY: all its jobs) start again. The owner or an admin.\n";
    return s_jobs_act (g, "release", "released", help, argc, argv, s_release);
}
