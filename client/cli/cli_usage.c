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

static void
s_print_table (const segq_usage_row_t *rows, size_t n, segq_usage_by_t by, double half_life)
{
    printf ("%-20s %6s %6s %10s %12s %14s %10s %10s %10s\n",
            by == SEGQ_USAGE_BY_KIND  ? "KIND"
            : by == SEGQ_USAGE_BY_DAY ? "DAY"
                                      : "USER",
            "JOBS", "RUNS", "RUN-H", "SLOT-H", "GPU-GIB-H", "CPU-H", "MAX-RSS", "GPU-PEAK");
    for (size_t i = 0; i < n; i++) {
        char rss [32] = "-", peak [32] = "-";
        if (rows [i].max_rss)
            segq_format_size (rows [i].max_rss, rss, sizeof rss);
        if (rows [i].gpu_peak)
            segq_format_size (rows [i].gpu_peak, peak, sizeof peak);
        printf ("%-20s %6llu %6llu %10.2f %12.2f %14.2f %10.2f %10s %10s\n", rows [i].key,
                (unsigned long long) rows [i].jobs, (unsigned long long) rows [i].runs,
                rows [i].run_seconds / 3600, rows [i].cpu_slot_seconds / 3600,
                rows [i].gpu_mem_seconds / 3600 / (double) (1ULL << 30),
                rows [i].cpu_seconds / 3600, rss, peak);
    }
    if (by == SEGQ_USAGE_BY_USER && half_life > 0) {
        printf ("\nfair share (usage decayed with a %.1f-day half-life, weight-hours):\n",
                half_life / 86400);
        for (size_t i = 0; i < n; i++)
            printf ("  %-20s %.2f\n", rows [i].key, rows [i].fairshare / 3600);
    }
}

static const char s_help [] =
    "usage: segq usage [--user U] [--since WHEN] [--until WHEN] [--by user|kind|day] [--json]\n\n"
    "What finished runs used (each attempt that ended: succeeded, failed, cancelled\n"
    "while running, or lost with its worker), grouped by user (default), job kind, or\n"
    "UTC day: wall hours, declared CPU slot-hours and GPU-memory GiB-hours (request x\n"
    "run time), and what the worker measured (CPU hours, largest resident memory,\n"
    "largest GPU memory peak). By user it also shows the usage fair share orders\n"
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
