/*  cli_priority.c: `segq priority JOB N`. */
#include "cli.h"

#include <errno.h>
#include <stdlib.h>

int
cli_priority (cli_globals_t *g, int argc, char **argv)
{
    static const struct option options[] = { CLI_COMMON_OPTIONS, { 0 } };
    static const char help[] =
        "usage: segq priority JOB N [--json]\n\n"
        "Change a waiting or queued job's priority (higher runs first). From -1000000\n"
        "to 1000000 it orders only the owner's own jobs: whose turn it is stays fair\n"
        "share among users. Above 1000000 the job goes ahead of fair share: only an\n"
        "admin may do that. Only the job's owner or an admin may change it.\n"
        "A negative N goes after --: segq priority JOB -- -5\n";
    int opt = cli_next_option (g, "priority", argc, argv, "h", options, help);
    if (opt != CLI_OPT_END)
        return opt > 0 ? CLI_USAGE : CLI_OPT_RESULT (opt);
    if (argc - optind != 2)
        return cli_usage_error (g, "priority", "expected a job and a priority (segq priority JOB N)");
    const char *job = argv[optind], *text = argv[optind + 1];
    if (segq_array_id (job))
        return cli_usage_error (g, "priority", "%s is a job array: set the priority of its jobs "
                                "(`segq status -l %s` lists them)", job, job);
    char *end = NULL;
    errno = 0;
    long long priority = strtoll (text, &end, 10);
    if (!*text || *end || errno || priority < INT32_MIN || priority > INT32_MAX)
        return cli_usage_error (g, "priority", "'%s' is not a priority: expected an integer "
                                "(-1000000..1000000 for your own jobs' order)", text);
    segq_client_t *client;
    int rc = cli_connect (g, &client);
    if (rc != CLI_OK)
        return rc;
    int32_t previous = 0;
    if (segq_client_priority (client, job, (int32_t) priority, &previous) < 0)
        rc = cli_error (g, "priority", CLI_FAILED, "%s", segq_client_error (client));
    else if (g->json)
        rc = cli_print_json (json_pack ("{s:s,s:i,s:i}", "job", job, "priority", (json_int_t) priority,
                                        "previous", (json_int_t) previous));
    else
        printf ("%s priority %d (was %d)%s\n", job, (int) priority, (int) previous,
                priority > SEGQ_PRIORITY_USER_MAX ? ": ahead of fair share" : "");
    segq_client_destroy (&client);
    return rc;
}
