/*  cli_purge.c: `segq purge JOB...`: remove jobs' artifacts now. */
#include "cli.h"

#include <stdlib.h>
#include <string.h>

static const char s_purge_help [] =
    "usage: segq purge JOB|ARRAY... [--json]\n\n"
    "Remove jobs' artifacts (an ARRAY: all its jobs') from the broker now: their outputs, the "
    "inputs no\n"
    "other job still refers to, and their logs. Only a job's owner or an admin\n"
    "may; a job must have ended, and no job that has not ended may take its\n"
    "outputs as an input. The jobs stay listed; fetching their outputs then says\n"
    "when and by whom they were purged. This cannot be undone.\n";

/* One job's outcome: into the --json array, or a line (stdout when
   purged, stderr when not). Whether it was purged. */
static bool
s_purge_report (json_t *array, const segq_purge_result_t *r)
{
    const char *message = r->message ? r->message : r->code ? segq_strerror (r->code) : "";
    char size [32];
    segq_format_size (r->bytes, size, sizeof size);
    if (array)
        json_array_append_new (array, json_pack ("{s:s,s:b,s:s,s:I,s:I}", "job", r->job, "ok",
                                                 r->code == 0, "message", message, "files",
                                                 (json_int_t) r->artifacts, "bytes",
                                                 (json_int_t) r->bytes));
    else if (r->code == 0 && *message)
        printf ("%s: %s\n", r->job, message);
    else if (r->code == 0)
        printf ("%s purged: %u artifact file(s), %s, and its log removed\n", r->job, r->artifacts,
                size);
    else
        fprintf (stderr, "segq purge: %s: %s\n", r->job, message);
    return r->code == 0;
}

/* Each job's outcome, or one JSON array of them. CLI_FAILED if one was
   not purged. */
static int
s_purge_print (cli_globals_t *g, const segq_purge_result_t *out, size_t n_out)
{
    int rc = CLI_OK;
    json_t *array = g->json ? json_array () : NULL;
    for (size_t i = 0; i < n_out; i++)
        if (!s_purge_report (array, &out [i]))
            rc = CLI_FAILED;
    return array ? cli_print_json_after (array, rc) : rc;
}

int
cli_purge (cli_globals_t *g, int argc, char **argv)
{
    static const struct option options [] = { CLI_COMMON_OPTIONS, { 0 } };
    int opt = cli_next_option (g, "purge", argc, argv, "h", options, s_purge_help);
    if (opt != CLI_OPT_END)
        return opt > 0 ? CLI_USAGE : CLI_OPT_RESULT (opt);
    segq_client_t *client;
    char **ids;
    size_t n_ids;
    int rc = cli_connect_jobs (g, "purge", argc, argv, &client, &ids, &n_ids);
    if (rc != CLI_OK)
        return rc;
    segq_purge_result_t *out;
    size_t n_out;
    int prc = segq_client_purge (client, (const char *const *) ids, n_ids, &out, &n_out);
    cli_ids_free (ids, n_ids);
    if (prc < 0)
        rc = cli_error (g, "purge", CLI_FAILED, "%s", segq_client_error (client));
    else {
        rc = s_purge_print (g, out, n_out);
        segq_purge_results_free (&out, n_out);
    }
    segq_client_destroy (&client);
    return rc;
}
