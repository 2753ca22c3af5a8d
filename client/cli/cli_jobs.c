/*  cli_jobs.c: segq submit, status, wait, cancel. */
#include "cli.h"

#include <getopt.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

/* ---- submit ---- */

static void
s_submit_help (const segq_kind_spec_t *kind)
{
    if (!kind) {
        printf ("usage: segq submit KIND [--param NAME=VALUE ...] [--input NAME=FILE|JOB[:OUTPUT] ...]\n"
                "                   [--priority N] [--gpu-mem SIZE | --cpu [N]] [--after JOB]\n"
                "                   [--time-limit SECONDS] [--max-attempts N] [--json]\n"
                "\n"
                "Submit a job and print its id. Parameters are checked before anything is sent;\n"
                "an input FILE is uploaded (skipped if the broker already has it); an input JOB or\n"
                "JOB:OUTPUT uses another job's output and waits for that job to succeed.\n"
                "\n"
                "  -p, --param NAME=VALUE   a parameter of the kind (see `segq submit KIND --help`)\n"
                "  -i, --input NAME=REF     an input: a local FILE, a JOB (its principal output)\n"
                "                           or JOB:OUTPUT\n"
                "      --priority N         order among your own jobs (higher first; default 0)\n"
                "      --gpu-mem SIZE       GPU memory the job needs (e.g. 8G, 512M)\n"
                "      --cpu [N]            a CPU-only job using N slots (default 1; the default)\n"
                "      --after JOB          start only after JOB succeeded\n"
                "      --time-limit SECONDS wall-time limit (default: the broker's)\n"
                "      --max-attempts N     runs allowed when workers are lost (default: the broker's)\n"
                "      --json               print {\"job\": ID}\n"
                "\n"
                "kinds:\n");
        size_t n;
        const segq_kind_spec_t *kinds = segq_kinds (&n);
        for (size_t i = 0; i < n; i++)
            printf ("  %-10s %s\n", kinds[i].name, kinds[i].help);
        return;
    }
    printf ("usage: segq submit %s [OPTIONS]   (options: `segq submit --help`)\n\n%s: %s\n",
            kind->name, kind->name, kind->help);
    printf ("\nparameters (--param NAME=VALUE):\n");
    if (!kind->n_params)
        printf ("  (none)\n");
    static const char *type_names[] = { "", "INT", "FLOAT", "BOOL", "STRING", "CHOICE" };
    for (size_t i = 0; i < kind->n_params; i++) {
        const segq_param_spec_t *p = &kind->params[i];
        char left[128], range[160] = "";
        const char *type = p->type == SEGQ_PARAM_CHOICE ? p->choices : type_names[p->type];
        snprintf (left, sizeof left, "%s=%s", p->name, type);
        if (p->type == SEGQ_PARAM_INT || p->type == SEGQ_PARAM_FLOAT)
            snprintf (range, sizeof range, "%g..%g, ", p->min, p->max);
        printf ("  %-24s %s (%s%s%s)\n", left, p->help, range,
                p->default_value ? "default " : "required", p->default_value ? p->default_value : "");
    }
    printf ("\ninputs (--input NAME=FILE|JOB[:OUTPUT]):\n");
    if (!kind->n_inputs)
        printf ("  (none)\n");
    for (size_t i = 0; i < kind->n_inputs; i++) {
        const segq_input_spec_t *in = &kind->inputs[i];
        printf ("  %-24s %s (%s%s)\n", in->name, in->help, in->required ? "required" : "optional",
                in->many ? "; repeat for several files" : "");
    }
    printf ("\nprincipal output: %s\n", strcmp (kind->principal_output, "*") == 0
                                            ? "all outputs" : kind->principal_output);
}

enum { OPT_PRIORITY = 2000, OPT_GPU_MEM, OPT_CPU, OPT_AFTER, OPT_TIME_LIMIT, OPT_MAX_ATTEMPTS,
       OPT_USER, OPT_STATE, OPT_LIMIT, OPT_INTERVAL };

int
cli_submit (cli_globals_t *g, int argc, char **argv)
{
    static const struct option options[] = {
        CLI_COMMON_OPTIONS,
        { "param", required_argument, NULL, 'p' },
        { "input", required_argument, NULL, 'i' },
        { "priority", required_argument, NULL, OPT_PRIORITY },
        { "gpu-mem", required_argument, NULL, OPT_GPU_MEM },
        { "cpu", optional_argument, NULL, OPT_CPU },
        { "after", required_argument, NULL, OPT_AFTER },
        { "time-limit", required_argument, NULL, OPT_TIME_LIMIT },
        { "max-attempts", required_argument, NULL, OPT_MAX_ATTEMPTS },
        { 0 }
    };
    /* Collected first and applied once the kind is known. */
    const char **params = calloc ((size_t) argc, sizeof *params);
    const char **inputs = calloc ((size_t) argc, sizeof *inputs);
    const char **after = calloc ((size_t) argc, sizeof *after);
    size_t n_params = 0, n_inputs = 0, n_after = 0;
    bool help = false, cpu = false;
    int64_t priority = 0;
    uint64_t gpu_mem = 0, cpu_slots = 0, time_limit = 0, max_attempts = 0, v;
    int rc = CLI_OK, opt;
    segq_job_spec_t *spec = NULL;
    segq_client_t *client = NULL;
    if (!params || !inputs || !after) {
        rc = cli_error (g, "submit", CLI_FAILED, "out of memory");
        goto done;
    }
    while (rc == CLI_OK && (opt = cli_next_option (g, "submit", argc, argv, "hp:i:", options, NULL)) > 0) {
        if (opt == 'h')
            help = true;
        else if (opt == 'p')
            params[n_params++] = optarg;
        else if (opt == 'i')
            inputs[n_inputs++] = optarg;
        else if (opt == OPT_AFTER)
            after[n_after++] = optarg;
        else if (opt == OPT_PRIORITY) {
            char *end;
            priority = strtoll (optarg, &end, 10);
            if (!*optarg || *end || priority < -1000000 || priority > 1000000)
                rc = cli_usage_error (g, "submit", "--priority '%s': expected an integer -1000000..1000000", optarg);
        }
        else if (opt == OPT_GPU_MEM) {
            if (segq_parse_size (optarg, &gpu_mem) < 0 || gpu_mem == 0)
                rc = cli_usage_error (g, "submit", "--gpu-mem '%s': expected a size such as 8G or 512M", optarg);
        }
        else if (opt == OPT_CPU) {
            cpu = true;
            cpu_slots = 1;
            /* "--cpu 4" as well as "--cpu=4". */
            const char *arg = optarg;
            if (!arg && optind < argc && cli_parse_uint (argv[optind], 4096, &v))
                arg = argv[optind++];
            if (arg && (!cli_parse_uint (arg, 4096, &cpu_slots) || cpu_slots == 0))
                rc = cli_usage_error (g, "submit", "--cpu '%s': expected a number of CPU slots 1..4096", arg);
        }
        else if (opt == OPT_TIME_LIMIT) {
            if (!cli_parse_uint (optarg, UINT32_MAX, &time_limit) || time_limit == 0)
                rc = cli_usage_error (g, "submit", "--time-limit '%s': expected whole seconds (> 0)", optarg);
        }
        else if (opt == OPT_MAX_ATTEMPTS) {
            if (!cli_parse_uint (optarg, 1000, &max_attempts) || max_attempts == 0)
                rc = cli_usage_error (g, "submit", "--max-attempts '%s': expected 1..1000", optarg);
        }
    }
    if (rc == CLI_OK && opt < CLI_OPT_END)
        rc = CLI_OPT_RESULT (opt);
    if (rc != CLI_OK)
        goto done;
    const char *kind = optind < argc ? argv[optind] : NULL;
    if (help) {
        s_submit_help (kind ? segq_kind_find (kind) : NULL);
        if (kind && !segq_kind_find (kind))
            rc = cli_usage_error (g, "submit", "unknown job kind '%s'", kind);
        goto done;
    }
    if (!kind) {
        rc = cli_usage_error (g, "submit", "which kind of job? (e.g. `segq submit sleep --param seconds=2`)");
        goto done;
    }
    if (optind + 1 < argc) {
        rc = cli_usage_error (g, "submit", "unexpected argument '%s' (parameters go as --param NAME=VALUE)",
                              argv[optind + 1]);
        goto done;
    }
    if (cpu && gpu_mem) {
        rc = cli_usage_error (g, "submit", "--gpu-mem and --cpu exclude each other");
        goto done;
    }
    if (!(spec = segq_job_spec_new (kind))) {
        rc = cli_error (g, "submit", CLI_FAILED, "out of memory");
        goto done;
    }
    char err[512];
    if (!segq_kind_find (kind)) {
        segq_job_spec_validate (spec, err, sizeof err);
        rc = cli_usage_error (g, "submit", "%s", err);
        goto done;
    }
    for (size_t i = 0; i < n_params && rc == CLI_OK; i++) {
        const char *eq = strchr (params[i], '=');
        if (!eq || eq == params[i]) {
            rc = cli_usage_error (g, "submit", "--param '%s': expected NAME=VALUE", params[i]);
            break;
        }
        char name[256];
        snprintf (name, sizeof name, "%.*s", (int) (eq - params[i]), params[i]);
        if (segq_job_spec_param (spec, name, eq + 1, err, sizeof err) < 0)
            rc = cli_usage_error (g, "submit", "%s", err);
    }
    for (size_t i = 0; i < n_inputs && rc == CLI_OK; i++)
        if (segq_job_spec_input_arg (spec, inputs[i], err, sizeof err) < 0)
            rc = cli_usage_error (g, "submit", "%s", err);
    for (size_t i = 0; i < n_after && rc == CLI_OK; i++)
        if (segq_job_spec_after (spec, after[i]) < 0)
            rc = cli_error (g, "submit", CLI_FAILED, "out of memory");
    if (rc == CLI_OK && segq_job_spec_validate (spec, err, sizeof err) < 0)
        rc = cli_usage_error (g, "submit", "%s", err);
    if (rc != CLI_OK)
        goto done;
    segq_job_spec_set_priority (spec, (int32_t) priority);
    segq_job_spec_set_gpu_mem (spec, gpu_mem);
    segq_job_spec_set_cpu_slots (spec, (uint32_t) cpu_slots);
    segq_job_spec_set_time_limit (spec, (uint32_t) time_limit);
    segq_job_spec_set_max_attempts (spec, (uint32_t) max_attempts);
    if ((rc = cli_connect (g, &client)) != CLI_OK)
        goto done;
    char job[SEGQ_JOB_ID_MAX];
    if (segq_client_submit (client, spec, job, sizeof job) < 0) {
        rc = cli_error (g, "submit", CLI_FAILED, "%s", segq_client_error (client));
        goto done;
    }
    if (g->json)
        rc = cli_print_json (json_pack ("{s:s}", "job", job));
    else
        printf ("%s\n", job);
done:
    segq_client_destroy (&client);
    segq_job_spec_destroy (&spec);
    free (params);
    free (inputs);
    free (after);
    return rc;
}

/* ---- status ---- */

static const char s_status_help[] =
    "usage: segq status [JOB...] [--user U] [--state STATE] [-l|--detail] [--limit N] [--json]\n"
    "\n"
    "List jobs: the ones named, or all of them (filtered by --user and --state).\n"
    "  --user U        only U's jobs\n"
    "  --state STATE   only jobs in STATE: waiting, queued, running, succeeded, failed, cancelled\n"
    "  -l, --detail    everything about each job, its history included\n"
    "  --limit N       at most N jobs\n"
    "  --json          a JSON array of jobs\n";

int
cli_status (cli_globals_t *g, int argc, char **argv)
{
    static const struct option options[] = {
        CLI_COMMON_OPTIONS,
        { "user", required_argument, NULL, OPT_USER },
        { "state", required_argument, NULL, OPT_STATE },
        { "detail", no_argument, NULL, 'l' },
        { "limit", required_argument, NULL, OPT_LIMIT },
        { 0 }
    };
    segq_status_query_t q = { 0 };
    uint64_t limit = 0;
    int opt, rc = CLI_OK;
    while ((opt = cli_next_option (g, "status", argc, argv, "hl", options, s_status_help)) > 0) {
        if (opt == 'l')
            q.detail = true;
        else if (opt == OPT_USER)
            q.user = optarg;
        else if (opt == OPT_STATE) {
            if (segq_job_state_parse (optarg, &q.state) < 0)
                return cli_usage_error (g, "status", "unknown state '%s' (waiting, queued, running, "
                                        "succeeded, failed, cancelled)", optarg);
        }
        else if (opt == OPT_LIMIT) {
            if (!cli_parse_uint (optarg, 100000000, &limit) || limit == 0)
                return cli_usage_error (g, "status", "--limit '%s': expected a positive number", optarg);
        }
    }
    if (opt != CLI_OPT_END)
        return CLI_OPT_RESULT (opt);
    q.jobs = (const char *const *) argv + optind;
    q.n_jobs = (size_t) (argc - optind);
    segq_client_t *client;
    if ((rc = cli_connect (g, &client)) != CLI_OK)
        return rc;
    json_t *array = g->json ? json_array () : NULL;
    char *cursor = NULL;
    size_t shown = 0;
    bool detail_view = q.detail;
    do {
        segq_job_list_t page;
        if (limit && limit - shown < 1000)
            q.limit = (uint32_t) (limit - shown);
        if (segq_client_status (client, &q, cursor, &page) < 0) {
            rc = cli_error (g, "status", CLI_FAILED, "%s", segq_client_error (client));
            break;
        }
        free (cursor);
        cursor = page.cursor;
        page.cursor = NULL;
        size_t n = limit && page.n_jobs > limit - shown ? (size_t) (limit - shown) : page.n_jobs;
        if (array)
            for (size_t i = 0; i < n; i++)
                json_array_append_new (array, cli_job_json (&page.jobs[i]));
        else if (detail_view)
            for (size_t i = 0; i < n; i++)
                cli_print_job_detail (stdout, &page.jobs[i]);
        else
            cli_print_job_table (stdout, page.jobs, n, shown == 0);
        shown += n;
        segq_job_list_clear (&page);
    } while (cursor && (!limit || shown < limit));
    free (cursor);
    /* Named jobs the broker did not list are unknown to it. */
    if (rc == CLI_OK && q.n_jobs && shown < q.n_jobs && !limit)
        rc = cli_error (g, "status", CLI_FAILED, "%zu of the %zu jobs named are unknown to the broker",
                        q.n_jobs - shown, q.n_jobs);
    if (array) {
        int jrc = cli_print_json (array);
        if (rc == CLI_OK)
            rc = jrc;
    }
    else if (rc == CLI_OK && shown == 0 && !q.n_jobs)
        printf ("(no jobs)\n");
    segq_client_destroy (&client);
    return rc;
}

/* ---- wait ---- */

static const char s_wait_help[] =
    "usage: segq wait JOB... [--interval MS] [--json]\n"
    "\n"
    "Wait until every JOB has ended. On a terminal a progress bar shows how far they\n"
    "are; otherwise one line is printed each time a job changes state.\n"
    "exit status: 0 all succeeded; 3 one or more failed or were cancelled; 1 the\n"
    "broker could not be asked (down, or a job unknown).\n"
    "  --interval MS   how often to ask the broker (default 200)\n"
    "  --json          print the jobs' final status as a JSON array\n";

static double
s_now (void)
{
    struct timespec ts;
    clock_gettime (CLOCK_MONOTONIC, &ts);
    return (double) ts.tv_sec + ts.tv_nsec / 1e9;
}

/* Ask for the jobs not yet final, a batch of ids per request, and update
   seen/last; with `lines`, print each change of state. */
static int
s_refresh (cli_globals_t *g, segq_client_t *client, const char *const *ids, size_t n,
           segq_job_state_t *seen, segq_job_info_t *last, bool lines)
{
    enum { BATCH = 256 };
    const char *batch[BATCH];
    size_t start = 0;
    while (start < n) {
        size_t k = 0, i = start;
        for (; i < n && k < BATCH; i++)
            if (!segq_job_state_final (seen[i]))
                batch[k++] = ids[i];
        size_t end = i;
        segq_status_query_t q = { .jobs = batch, .n_jobs = k };
        char *cursor = NULL;
        size_t found = 0;
        do {
            segq_job_list_t page;
            if (k == 0)
                break;
            if (segq_client_status (client, &q, cursor, &page) < 0) {
                free (cursor);
                if (isatty (STDOUT_FILENO) && !g->json)
                    printf ("\n");
                return cli_error (g, "wait", CLI_FAILED, "%s", segq_client_error (client));
            }
            free (cursor);
            cursor = page.cursor;
            page.cursor = NULL;
            for (size_t j = 0; j < page.n_jobs; j++)
                for (size_t m = start; m < end; m++) {
                    if (segq_job_state_final (seen[m]) || strcmp (ids[m], page.jobs[j].id) != 0)
                        continue;
                    const segq_job_info_t *info = &page.jobs[j];
                    if (lines && info->state != seen[m])
                        printf ("%s %s%s%s\n", ids[m], segq_job_state_name (info->state),
                                info->reason ? ": " : "", info->reason ? info->reason : "");
                    seen[m] = info->state;
                    segq_job_info_clear (&last[m]);
                    last[m] = *info;
                    memset (&page.jobs[j], 0, sizeof page.jobs[j]);
                    found++;
                    break;
                }
            segq_job_list_clear (&page);
        } while (cursor);
        if (found < k)
            for (size_t m = start; m < end; m++)
                if (seen[m] == 0)
                    return cli_error (g, "wait", CLI_FAILED, "unknown job '%s' (see `segq status`)", ids[m]);
        start = end;
    }
    return CLI_OK;
}

int
cli_wait (cli_globals_t *g, int argc, char **argv)
{
    static const struct option options[] = {
        CLI_COMMON_OPTIONS, { "interval", required_argument, NULL, OPT_INTERVAL }, { 0 }
    };
    uint64_t interval_ms = 200;
    int opt;
    while ((opt = cli_next_option (g, "wait", argc, argv, "h", options, s_wait_help)) > 0)
        if (opt == OPT_INTERVAL && (!cli_parse_uint (optarg, 600000, &interval_ms) || interval_ms < 10))
            return cli_usage_error (g, "wait", "--interval '%s': expected 10..600000 ms", optarg);
    if (opt != CLI_OPT_END)
        return CLI_OPT_RESULT (opt);
    size_t n = (size_t) (argc - optind);
    if (n == 0)
        return cli_usage_error (g, "wait", "which jobs? (segq wait JOB...)");
    const char *const *ids = (const char *const *) argv + optind;
    for (size_t i = 1; i < n; i++)
        for (size_t j = 0; j < i; j++)
            if (strcmp (ids[i], ids[j]) == 0)
                return cli_usage_error (g, "wait", "job %s is named twice", ids[i]);
    segq_client_t *client;
    int rc = cli_connect (g, &client);
    if (rc != CLI_OK)
        return rc;
    bool tty = !g->json && isatty (STDOUT_FILENO);
    segq_job_state_t *seen = calloc (n, sizeof *seen);
    segq_job_info_t *last = calloc (n, sizeof *last);
    if (!seen || !last) {
        rc = cli_error (g, "wait", CLI_FAILED, "out of memory");
        goto done;
    }
    double start = s_now ();
    for (;;) {
        size_t final = 0, bad = 0;
        double fraction = 0;
        if (s_refresh (g, client, ids, n, seen, last, !tty && !g->json) != CLI_OK) {
            rc = CLI_FAILED;
            goto done;
        }
        for (size_t i = 0; i < n; i++) {
            final += segq_job_state_final (seen[i]);
            bad += seen[i] == SEGQ_JOB_FAILED || seen[i] == SEGQ_JOB_CANCELLED;
            fraction += seen[i] == SEGQ_JOB_SUCCEEDED ? 1 : last[i].fraction;
        }
        fflush (stdout);
        if (tty) {
            char bar[64], elapsed[32];
            cli_format_bar (fraction / (double) n, 30, bar, sizeof bar);
            snprintf (elapsed, sizeof elapsed, "%.0fs", s_now () - start);
            if (n == 1)
                printf ("\r\033[K%s %s %3.0f%% %s%s%s %s", ids[0], bar, fraction * 100,
                        segq_job_state_name (seen[0]), last[0].phase ? " " : "",
                        last[0].phase ? last[0].phase : "", elapsed);
            else {
                char failed[48] = "";
                if (bad)
                    snprintf (failed, sizeof failed, ", %zu failed", bad);
                printf ("\r\033[K%s %3.0f%%  %zu/%zu done%s %s", bar, fraction / (double) n * 100,
                        final, n, failed, elapsed);
            }
            fflush (stdout);
        }
        if (final == n) {
            if (tty) {
                printf ("\n");
                for (size_t i = 0; i < n; i++)
                    printf ("%s %s%s%s\n", ids[i], segq_job_state_name (seen[i]),
                            last[i].reason ? ": " : "", last[i].reason ? last[i].reason : "");
            }
            rc = bad ? CLI_JOB_FAILED : CLI_OK;
            break;
        }
        usleep ((useconds_t) interval_ms * 1000);
    }
    if (g->json) {
        json_t *array = json_array ();
        for (size_t i = 0; array && i < n; i++)
            json_array_append_new (array, cli_job_json (&last[i]));
        int jrc = cli_print_json (array);
        if (rc == CLI_OK)
            rc = jrc;
    }
done:
    for (size_t i = 0; last && i < n; i++)
        segq_job_info_clear (&last[i]);
    free (last);
    free (seen);
    segq_client_destroy (&client);
    return rc;
}

/* ---- cancel ---- */

int
cli_cancel (cli_globals_t *g, int argc, char **argv)
{
    static const struct option options[] = { CLI_COMMON_OPTIONS, { 0 } };
    static const char help[] =
        "usage: segq cancel JOB... [--json]\n\n"
        "Cancel jobs: a queued or waiting one at once, a running one by stopping its\n"
        "process (TERM, then KILL after a grace period). Cancelling a job that has\n"
        "already ended changes nothing.\n";
    int opt = cli_next_option (g, "cancel", argc, argv, "h", options, help);
    if (opt != CLI_OPT_END)
        return opt > 0 ? CLI_USAGE : CLI_OPT_RESULT (opt);
    size_t n = (size_t) (argc - optind);
    if (n == 0)
        return cli_usage_error (g, "cancel", "which jobs? (segq cancel JOB...)");
    segq_client_t *client;
    int rc = cli_connect (g, &client);
    if (rc != CLI_OK)
        return rc;
    segq_cancel_outcome_t *out;
    size_t n_out;
    if (segq_client_cancel (client, (const char *const *) argv + optind, n, &out, &n_out) < 0) {
        rc = cli_error (g, "cancel", CLI_FAILED, "%s", segq_client_error (client));
        segq_client_destroy (&client);
        return rc;
    }
    json_t *array = g->json ? json_array () : NULL;
    for (size_t i = 0; i < n_out; i++) {
        if (array)
            json_array_append_new (array, json_pack ("{s:s,s:b,s:s}", "job", out[i].job ? out[i].job : "",
                                                     "ok", out[i].code == 0, "message",
                                                     out[i].message ? out[i].message
                                                                    : segq_strerror (out[i].code)));
        else if (out[i].code == 0)
            printf ("%s cancelled%s%s\n", out[i].job, out[i].message ? ": " : "",
                    out[i].message ? out[i].message : "");
        else
            fprintf (stderr, "segq cancel: %s: %s\n", out[i].job,
                     out[i].message ? out[i].message : segq_strerror (out[i].code));
        if (out[i].code != 0)
            rc = CLI_FAILED;
    }
    if (array) {
        int jrc = cli_print_json (array);
        if (rc == CLI_OK)
            rc = jrc;
    }
    segq_cancel_outcomes_free (&out, n_out);
    segq_client_destroy (&client);
    return rc;
}
