/*  cli_priority.c: `segq priority JOB N`. */
#include "cli.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

/* "-5": a number, not an option. */
static bool
s_negative (const char *arg)
{
    if (arg [0] != '-' || !arg [1])
        return false;
    for (const char *p = arg + 1; *p; p++)
        if (*p < '0' || *p > '9')
            return false;
    return true;
}

/* Whether arg is a long option of `options` whose value is the next word. */
static bool
s_takes_value (const char *arg, const struct option *options)
{
    if (strncmp (arg, "--", 2) != 0 || strchr (arg, '='))
        return false;
    for (const struct option *o = options; o->name; o++)
        if (strcmp (arg + 2, o->name) == 0)
            return o->has_arg == required_argument;
    return false;
}

/* argv (n of them) laid out for getopt with each negative number behind
   "--", so `segq priority JOB -5` reads -5 as the priority it is; a value
   of an option (--timeout 5) and what follows a "--" stay as they are.
   NULL on out of memory; free the array only. */
static char **
s_numbers_last (int argc, char **argv, const struct option *options, int *argc_out)
{
    char **args = calloc ((size_t) argc + 2, sizeof *args);
    if (!args)
        return NULL;
    int n = 0, end = 0;
    while (end < argc && strcmp (argv [end], "--") != 0)
        end++;
    for (int i = 0; i < end; i++)
        if (i == 0 || !s_negative (argv [i]) || s_takes_value (argv [i - 1], options))
            args [n++] = argv [i];
    args [n++] = "--";
    for (int i = 1; i < end; i++)
        if (s_negative (argv [i]) && !s_takes_value (argv [i - 1], options))
            args [n++] = argv [i];
    for (int i = end + 1; i < argc; i++)
        args [n++] = argv [i];
    *argc_out = n;
    return args;
}

int
cli_priority (cli_globals_t *g, int argc, char **argv)
{
    static const struct option options [] = { CLI_COMMON_OPTIONS, { 0 } };
    static const char help [] =
        "usage: segq priority JOB N [--json]\n\n"
        "Change a waiting or queued job's priority (higher runs first). From -1000000\n"
        "to 1000000 it orders only the owner's own jobs: whose turn it is stays fair\n"
        "share among users. Above 1000000 the job goes ahead of fair share: only an\n"
        "admin may do that. Only the job's owner or an admin may change it.\n"
        "N may be negative: segq priority JOB -5\n";
    int n_args;
    char **args = s_numbers_last (argc, argv, options, &n_args);
    if (!args)
        return cli_error (g, "priority", CLI_FAILED, "out of memory");
    int opt = cli_next_option (g, "priority", n_args, args, "h", options, help);
    const char *job = n_args - optind == 2 ? args [optind] : NULL;
    const char *text = job ? args [optind + 1] : NULL;
    free (args);
    if (opt != CLI_OPT_END)
        return opt > 0 ? CLI_USAGE : CLI_OPT_RESULT (opt);
    if (!job)
        return cli_usage_error (g, "priority",
                                "expected a job and a priority (segq priority JOB N)");
    if (segq_array_id (job))
        return cli_usage_error (g, "priority",
                                "%s is a job array: set the priority of its jobs "
                                "(`segq status -l %s` lists them)",
                                job, job);
    char *end = NULL;
    errno = 0;
    long long priority = strtoll (text, &end, 10);
    if (!*text || *end || errno || priority < INT32_MIN || priority > INT32_MAX)
        return cli_usage_error (g, "priority",
                                "'%s' is not a priority: expected an integer "
                                "(-1000000..1000000 for your own jobs' order)",
                                text);
    segq_client_t *client;
    int rc = cli_connect (g, &client);
    if (rc != CLI_OK)
        return rc;
    int32_t previous = 0;
    if (segq_client_priority (client, job, (int32_t) priority, &previous) < 0)
        rc = cli_error (g, "priority", CLI_FAILED, "%s", segq_client_error (client));
    else if (g->json)
        rc = cli_print_json (json_pack ("{s:s,s:i,s:i}", "job", job, "priority",
                                        (json_int_t) priority, "previous", (json_int_t) previous));
    else
        printf ("%s priority %d (was %d)%s\n", job, (int) priority, (int) previous,
                priority > SEGQ_PRIORITY_USER_MAX ? ": ahead of fair share" : "");
    segq_client_destroy (&client);
    return rc;
}
