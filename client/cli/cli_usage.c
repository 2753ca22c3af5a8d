/*  cli_usage.c: `segq usage`: what finished runs used, like Slurm's sreport. */
#define _GNU_SOURCE /* strptime, timegm */
#include "cli.h"

#include <stdlib.h>
#include <string.h>
#include <time.h>

enum { OPT_USER = 1, OPT_SINCE, OPT_UNTIL, OPT_BY };

/* "2026-12-01" or "2026-12-01T08:30" (UTC), or an age ("7d": that long
   ago). 0 on success. */
static int
s_parse_when (const char *text, double *out)
{
    double age;
    struct tm tm = { 0 };
    const char *end = strptime (text, "%Y-%m-%d", &tm);
    if (end && *end == 'T')
        end = strptime (end + 1, "%H:%M", &tm);
    if (end && *end == '\0') {
        *out = (double) timegm (&tm);
        return 0;
    }
    if (segq_parse_age (text, &age) == 0) {
        *out = (double) time (NULL) - age;
        return 0;
    }
    return -1;
}

static int
s_parse_by (const char *text, segq_usage_by_t *by)
{
    static const char *const names [] = {
        [SEGQ_USAGE_BY_USER] = "user", [SEGQ_USAGE_BY_KIND] = "kind", [SEGQ_USAGE_BY_DAY] = "day"
    };
    for (int i = SEGQ_USAGE_BY_USER; i <= SEGQ_USAGE_BY_DAY; i++)
        if (strcmp (text, names [i]) == 0) {
            *by = (segq_usage_by_t) i;
            return 0;
        }
    return -1;
}

/* A duration (or a resource x duration) for people: "12.3s", "4.5m",
   "1.25h", "3.1d". */
static const char *
s_duration (double seconds, char *buf, size_t len)
{
    if (seconds < 60)
        snprintf (buf, len, "%.1fs", seconds);
    else if (seconds < 3600)
        snprintf (buf, len, "%.1fm", seconds / 60);
    else if (seconds < 86400 * 10)
        snprintf (buf, len, "%.2fh", seconds / 3600);
    else
        snprintf (buf, len, "%.1fd", seconds / 86400);
    return buf;
}

static void
s_print_row (const segq_usage_row_t *row)
{
    char run [16], slots [16], gpu [16], cpu [16], rss [32] = "-", peak [32] = "-";
    if (row->max_rss)
        segq_format_size (row->max_rss, rss, sizeof rss);
    if (row->gpu_peak)
        segq_format_size (row->gpu_peak, peak, sizeof peak);
    char key [SEGQ_USER_MAX + 32];
    printf ("%s %6llu %6llu %9s %10s %11s %9s %10s %10s\n",
            cli_format_cell (row->key, 20, key, sizeof key), (unsigned long long) row->jobs,
            (unsigned long long) row->runs, s_duration (row->run_seconds, run, sizeof run),
            s_duration (row->cpu_slot_seconds, slots, sizeof slots),
            s_duration (row->gpu_mem_seconds / (double) (1ULL << 30), gpu, sizeof gpu),
            s_duration (row->cpu_seconds, cpu, sizeof cpu), rss, peak);
}

static void
s_print_table (const segq_usage_row_t *rows, size_t n, segq_usage_by_t by, double half_life)
{
    printf ("%-20s %6s %6s %9s %10s %11s %9s %10s %10s\n",
            by == SEGQ_USAGE_BY_KIND  ? "KIND"
            : by == SEGQ_USAGE_BY_DAY ? "DAY"
                                      : "USER",
            "JOBS", "RUNS", "RUN", "SLOTxT", "GPU-GiBxT", "CPU", "MAX-RSS", "GPU-PEAK");
    for (size_t i = 0; i < n; i++)
        s_print_row (&rows [i]);
    if (by == SEGQ_USAGE_BY_USER && half_life > 0) {
        printf ("\nfair share: usage decayed with a %.1f-day half-life (weight x time):\n",
                half_life / 86400);
        for (size_t i = 0; i < n; i++) {
            char usage [16], key [SEGQ_USER_MAX + 32];
            printf ("  %s %s\n", cli_format_cell (rows [i].key, 20, key, sizeof key),
                    s_duration (rows [i].fairshare, usage, sizeof usage));
        }
    }
}

static const char s_help [] =
    "usage: segq usage [--user U] [--since WHEN] [--until WHEN] [--by user|kind|day] [--json]\n\n"
    "What finished runs used (each attempt that ended: succeeded, failed, cancelled\n"
    "while running, or lost with its worker), grouped by user (default), job kind, or\n"
    "UTC day: wall time, declared CPU slots x time and GPU memory (GiB) x time, and\n"
    "what the worker measured (CPU time, largest resident memory, largest GPU memory\n"
    "peak); times as 12.3s, 4.5m, 1.25h, 3.1d. By user it also shows the usage fair share orders\n"
    "users by: past runs decayed with the broker's half-life, plus what runs now.\n"
    "WHEN: 2026-12-01 or 2026-12-01T08:30 (UTC), or an age: 7d, 12h (that long ago).\n"
    "Every user sees everyone's usage, as everyone sees the queue.\n";

int
cli_usage (cli_globals_t *g, int argc, char **argv)
{
    static const struct option options [] = { CLI_COMMON_OPTIONS,
                                              { "user", required_argument, NULL, OPT_USER },
                                              { "since", required_argument, NULL, OPT_SINCE },
                                              { "until", required_argument, NULL, OPT_UNTIL },
                                              { "by", required_argument, NULL, OPT_BY },
                                              { 0 } };
    segq_usage_query_t query = { .by = SEGQ_USAGE_BY_USER };
    int opt;
    while ((opt = cli_next_option (g, "usage", argc, argv, "h", options, s_help)) > 0) {
        if (opt == OPT_USER)
            query.of_user = optarg;
        else if ((opt == OPT_SINCE || opt == OPT_UNTIL)
                 && s_parse_when (optarg, opt == OPT_SINCE ? &query.since : &query.until))
            return cli_usage_error (g, "usage",
                                    "--%s '%s': not a date (2026-12-01, 2026-12-01T08:30) "
                                    "or an age (7d, 12h)",
                                    opt == OPT_SINCE ? "since" : "until", optarg);
        else if (opt == OPT_BY && s_parse_by (optarg, &query.by))
            return cli_usage_error (g, "usage", "--by '%s': give user, kind or day", optarg);
    }
    if (opt != CLI_OPT_END)
        return CLI_OPT_RESULT (opt);
    if (optind < argc)
        return cli_usage_error (g, "usage", "unexpected argument '%s'", argv [optind]);
    segq_client_t *client;
    int rc = cli_connect (g, &client);
    if (rc != CLI_OK)
        return rc;
    segq_usage_row_t *rows;
    size_t n;
    double half_life = 0;
    if (segq_client_usage (client, &query, &rows, &n, &half_life) < 0)
        rc = cli_error (g, "usage", CLI_FAILED, "%s", segq_client_error (client));
    else {
        if (g->json)
            rc = cli_print_json (segq_usage_json (rows, n, query.by, half_life));
        else
            s_print_table (rows, n, query.by, half_life);
        segq_usage_rows_free (&rows, n);
    }
    segq_client_destroy (&client);
    return rc;
}
