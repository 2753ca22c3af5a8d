/*  cli_backup.c: `segq backup FILE`: an admin asks the running broker to
    copy its database. The broker holds the database exclusively, so it
    makes the copy itself, on its own machine; this only asks and waits. */
#include "cli.h"

#include <stdio.h>
#include <unistd.h>

/* The answer comes once the copy is complete: minutes for a large queue. */
#define BACKUP_TIMEOUT_MS (3600 * 1000)

/* FILE as the broker must read it: absolute, a relative one from here. */
static int
s_absolute (const char *file, char *path, size_t size)
{
    if (file [0] == '/')
        return snprintf (path, size, "%s", file) < (int) size ? 0 : -1;
    char cwd [3000];
    if (!getcwd (cwd, sizeof cwd))
        return -1;
    return cli_path_join (path, size, cwd, file) < (int) size ? 0 : -1;
}

int
cli_backup (cli_globals_t *g, int argc, char **argv)
{
    static const struct option options [] = { CLI_COMMON_OPTIONS, { 0 } };
    static const char help [] =
        "usage: segq backup FILE [--timeout MS]\n\n"
        "Copy the running broker's database to FILE while it keeps serving. FILE is on\n"
        "the broker's machine (a relative FILE is taken from this folder) and must not\n"
        "exist. Admins only (with keys; without keys, a user on the broker's loopback).\n"
        "The copy is private (0600); to restore it, stop the broker and run `segqd\n"
        "restore FILE --data-dir DIR` on its machine (never a plain copy over\n"
        "DIR/segq.db). Artifacts and logs are separate files: back up DIR/artifacts and\n"
        "DIR/logs with your usual tools.\n"
        "  --timeout MS   how long to wait for the copy (default one hour)\n";
    int opt = cli_next_option (g, "backup", argc, argv, "h", options, help);
    if (opt != CLI_OPT_END)
        return opt > 0 ? CLI_USAGE : CLI_OPT_RESULT (opt);
    if (argc - optind != 1 || !*argv [optind])
        return cli_usage_error (g, "backup", "where to? (segq backup FILE)");
    char path [4096];
    if (s_absolute (argv [optind], path, sizeof path) != 0)
        return cli_usage_error (g, "backup", "cannot tell this folder's path: give FILE absolute");
    segq_client_t *client;
    int rc = cli_connect (g, &client);
    if (rc != CLI_OK)
        return rc;
    uint64_t size = 0, jobs = 0;
    int timeout_ms = g->timeout_ms > 0 ? g->timeout_ms : BACKUP_TIMEOUT_MS;
    if (segq_client_backup (client, path, timeout_ms, &size, &jobs) < 0)
        rc = cli_error (g, "backup", CLI_FAILED, "%s", segq_client_error (client));
    else if (g->json)
        rc = cli_print_json (json_pack ("{s:s,s:I,s:I}", "path", path, "bytes", (json_int_t) size,
                                        "jobs", (json_int_t) jobs));
    else
        printf ("backup of the broker's database written to %s: %llu bytes, %llu jobs\n", path,
                (unsigned long long) size, (unsigned long long) jobs);
    segq_client_destroy (&client);
    return rc;
}
