/*  cli_data.c: segq fetch, logs, workers. */
#include "cli.h"

#include <errno.h>
#include <getopt.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* mkdir -p of the directories above `path`. */
static int
s_make_parents (char *path)
{
    for (char *p = strchr (path + 1, '/'); p; p = strchr (p + 1, '/')) {
        *p = 0;
        int rc = mkdir (path, 0755);
        int e = errno;
        *p = '/';
        if (rc != 0 && e != EEXIST)
            return -1;
    }
    return 0;
}

int
cli_fetch_output (cli_globals_t *g, const char *cmd, segq_client_t *client, const char *job,
                  const char *name, const char *dir, char *path, size_t path_len,
                  char hash [SEGQ_HASH_HEX_LEN + 1])
{
    snprintf (path, path_len, "%s/%s", dir, name);
    if (s_make_parents (path) != 0)
        return cli_error (g, cmd, CLI_FAILED, "cannot create the directories of '%s': %s", path,
                          strerror (errno));
    if (segq_client_fetch (client, job, name, path, hash) < 0)
        return cli_error (g, cmd, CLI_FAILED, "%s", segq_client_error (client));
    return CLI_OK;
}

/* CLI_OK when job's outputs (all, or names[0..n_names)) can be fetched;
 * otherwise the error that says why not: another user's job, a name it
 * does not have, no outputs because it ended badly or has not ended. */
static int
s_check_fetchable (cli_globals_t *g, segq_client_t *client, const char *job,
                   const segq_job_info_t *info, char **names, size_t n_names)
{
    /* another user's job comes without its data's names (admins see them) */
    const char *me = segq_client_user (client);
    if (info->n_outputs == 0 && me && info->owner && strcmp (me, info->owner) != 0)
        return cli_error (g, "fetch", CLI_FAILED,
                          "job %s belongs to %s and shows you no outputs: only its owner or an "
                          "admin may fetch them",
                          job, info->owner);
    /* a job that failed or was cancelled will not make what is missing:
       say why it ended instead of asking to wait */
    char ended [600] = "";
    if (info->state == SEGQ_JOB_FAILED || info->state == SEGQ_JOB_CANCELLED)
        snprintf (ended, sizeof ended, "%s%s%s",
                  info->state == SEGQ_JOB_FAILED ? "failed" : "was cancelled",
                  info->reason ? ": " : "", info->reason ? info->reason : "");
    for (size_t i = 0; i < n_names; i++) {
        bool found = false;
        for (size_t j = 0; j < info->n_outputs && !found; j++)
            found = strcmp (info->outputs [j].name, names [i]) == 0;
        if (!found)
            return cli_error (g, "fetch", CLI_FAILED,
                              "job %s has no output '%s' (it has %zu: see "
                              "`segq status -l %s`)%s%s",
                              job, names [i], info->n_outputs, job, *ended ? "; it " : "", ended);
    }
    if (info->n_outputs == 0 && *ended)
        return cli_error (g, "fetch", CLI_FAILED,
                          "job %s %s: it has no outputs (its log: `segq "
                          "logs %s`)",
                          job, ended, job);
    if (info->n_outputs == 0)
        return cli_error (g, "fetch", CLI_FAILED, "job %s (%s) has no outputs%s", job,
                          segq_job_state_name (info->state),
                          info->state == SEGQ_JOB_SUCCEEDED ? ""
                                                            : " yet: wait for it with `segq wait`");
    return CLI_OK;
}

/* The fetched output said on stdout or appended to json_out. */
static void
s_say_fetched (const char *job, const segq_artifact_t *out, const char *path, const char *hash,
               json_t *json_out)
{
    char size [32];
    segq_format_size (out->size, size, sizeof size);
    if (json_out)
        json_array_append_new (json_out, json_pack ("{s:s,s:s,s:s,s:s,s:I}", "job", job, "name",
                                                    out->name, "path", path, "hash", hash, "size",
                                                    (json_int_t) out->size));
    else
        printf ("%s (%s, sha256 %.12s)\n", path, size, hash);
}

/* Where output `out` goes under dir, its folders made: CLI_OK, or the
   error. The name becomes a path under the user's directory: nothing that
   could escape it. */
static int
s_output_path (cli_globals_t *g, const segq_artifact_t *out, const char *dir, char **path)
{
    if (!segq_name_valid (out->name))
        return cli_error (g, "fetch", CLI_FAILED,
                          "refusing output name '%s': not a plain relative path", out->name);
    size_t len = strlen (dir) + strlen (out->name) + 2;
    if (!(*path = malloc (len)))
        return cli_error (g, "fetch", CLI_FAILED, "out of memory");
    snprintf (*path, len, "%s/%s", dir, out->name);
    if (s_make_parents (*path) != 0)
        return cli_error (g, "fetch", CLI_FAILED, "cannot create the directories of '%s': %s",
                          *path, strerror (errno));
    return CLI_OK;
}

/* The wanted outputs of info (all, or names[0..n_names)) into dir, fetched
   several at a time (segq_client_fetch_outputs), then said in order. */
static int
s_fetch_wanted (cli_globals_t *g, segq_client_t *client, const char *job,
                const segq_job_info_t *info, const char *dir, char **names, size_t n_names,
                json_t *json_out)
{
    const segq_artifact_t **wanted = calloc (info->n_outputs + 1, sizeof *wanted);
    char **paths = calloc (info->n_outputs + 1, sizeof *paths);
    char (*hashes) [SEGQ_HASH_HEX_LEN + 1] = calloc (info->n_outputs + 1, sizeof *hashes);
    size_t n = 0;
    int rc =
        wanted && paths && hashes ? CLI_OK : cli_error (g, "fetch", CLI_FAILED, "out of memory");
    for (size_t j = 0; j < info->n_outputs && rc == CLI_OK; j++) {
        bool want = n_names == 0;
        for (size_t i = 0; i < n_names && !want; i++)
            want = strcmp (info->outputs [j].name, names [i]) == 0;
        if (want && (rc = s_output_path (g, &info->outputs [j], dir, &paths [n])) == CLI_OK)
            wanted [n++] = &info->outputs [j];
    }
    if (rc == CLI_OK
        && segq_client_fetch_outputs (client, job, wanted, (const char *const *) paths, n, hashes)
               < 0)
        rc = cli_error (g, "fetch", CLI_FAILED, "%s", segq_client_error (client));
    for (size_t i = 0; i < n && rc == CLI_OK; i++)
        s_say_fetched (job, wanted [i], paths [i], hashes [i], json_out);
    for (size_t i = 0; paths && i <= n; i++)
        free (paths [i]);
    free (paths);
    free (wanted);
    free (hashes);
    return rc;
}

/* The outputs of one job (all, or names[0..n_names)) into dir. */
static int
s_fetch_job (cli_globals_t *g, segq_client_t *client, const char *job, const char *dir,
             char **names, size_t n_names, json_t *json_out)
{
    segq_job_info_t info;
    if (segq_client_job (client, job, false, &info) < 0)
        return cli_error (g, "fetch", CLI_FAILED, "%s", segq_client_error (client));
    int rc = s_check_fetchable (g, client, job, &info, names, n_names);
    if (rc == CLI_OK)
        rc = s_fetch_wanted (g, client, job, &info, dir, names, n_names, json_out);
    segq_job_info_clear (&info);
    return rc;
}

int
cli_fetch (cli_globals_t *g, int argc, char **argv)
{
    static const struct option options [] = { CLI_COMMON_OPTIONS,
                                              { "output", required_argument, NULL, 'o' },
                                              { 0 } };
    static const char help [] =
        "usage: segq fetch JOB|ARRAY [-o DIR] [NAME...] [--json]\n\n"
        "Download a job's outputs (all, or the NAMEs given) into DIR (default: the\n"
        "current directory), keeping their names; a job ARRAY's into DIR/JOB for each\n"
        "of its jobs. Each file is checked against its sha256 and only then put in place.\n";
    const char *dir = ".";
    int opt;
    while ((opt = cli_next_option (g, "fetch", argc, argv, "ho:", options, help)) > 0)
        dir = optarg; /* -o, the only option of its own */
    if (opt != CLI_OPT_END)
        return CLI_OPT_RESULT (opt);
    if (optind >= argc)
        return cli_usage_error (g, "fetch", "which job? (segq fetch JOB [-o DIR] [NAME...])");
    const char *job = argv [optind];
    char **names = argv + optind + 1;
    /* a name given twice is fetched once */
    size_t n_names = cli_unique (names, (size_t) (argc - optind - 1), false);
    if (mkdir (dir, 0755) != 0 && errno != EEXIST)
        return cli_error (g, "fetch", CLI_FAILED, "cannot create directory '%s': %s", dir,
                          strerror (errno));
    segq_client_t *client;
    int rc = cli_connect (g, &client);
    if (rc != CLI_OK)
        return rc;
    json_t *array = g->json ? json_array () : NULL;
    if (segq_array_id (job)) {
        /* each job's outputs in a folder of its own: the jobs of an array
           write the same names */
        segq_array_info_t info;
        if (segq_client_array (client, job, &info) < 0)
            rc = cli_error (g, "fetch", CLI_FAILED, "%s", segq_client_error (client));
        for (size_t k = 0; rc == CLI_OK && k < info.n_jobs; k++) {
            char sub [4096];
            snprintf (sub, sizeof sub, "%s/%s", dir, info.jobs [k]);
            rc = s_fetch_job (g, client, info.jobs [k], sub, names, n_names, array);
        }
        segq_array_info_clear (&info);
    } else
        rc = s_fetch_job (g, client, job, dir, names, n_names, array);
    if (array)
        rc = cli_print_json_after (array, rc);
    segq_client_destroy (&client);
    return rc;
}

int
cli_logs (cli_globals_t *g, int argc, char **argv)
{
    static const struct option options [] = { CLI_COMMON_OPTIONS,
                                              { "follow", no_argument, NULL, 'f' },
                                              { 0 } };
    static const char help [] =
        "usage: segq logs [-f|--follow] JOB\n\n"
        "Print a job's log (its stdout and stderr; each attempt starts with a line\n"
        "\"=== attempt N on NODE ===\"). -f keeps printing as the job writes, until it ends.\n";
    bool follow = false;
    int opt;
    while ((opt = cli_next_option (g, "logs", argc, argv, "hf", options, help)) > 0)
        follow = true; /* -f, the only option of its own */
    if (opt != CLI_OPT_END)
        return CLI_OPT_RESULT (opt);
    if (optind + 1 != argc)
        return cli_usage_error (g, "logs", "expected exactly one JOB");
    const char *job = argv [optind];
    if (segq_array_id (job))
        return cli_usage_error (g, "logs",
                                "%s is a job array: logs are per job (`segq status -l "
                                "%s` lists its jobs)",
                                job, job);
    segq_client_t *client;
    int rc = cli_connect (g, &client);
    if (rc != CLI_OK)
        return rc;
    uint64_t offset = 0;
    for (;;) {
        segq_log_chunk_t chunk;
        if (segq_client_logs (client, job, offset, 0, &chunk) < 0) {
            rc = cli_error (g, "logs", CLI_FAILED, "%s", segq_client_error (client));
            break;
        }
        if (chunk.size && fwrite (chunk.data, 1, chunk.size, stdout) != chunk.size) {
            segq_log_chunk_clear (&chunk);
            rc = cli_error (g, "logs", CLI_FAILED, "cannot write to stdout: %s", strerror (errno));
            break;
        }
        fflush (stdout);
        offset = chunk.offset + chunk.size;
        bool complete = chunk.complete, empty = chunk.size == 0;
        segq_log_chunk_clear (&chunk);
        if (complete || (empty && !follow))
            break;
        if (empty)
            usleep (250 * 1000);
    }
    segq_client_destroy (&client);
    return rc;
}

int
cli_workers (cli_globals_t *g, int argc, char **argv)
{
    static const struct option options [] = { CLI_COMMON_OPTIONS,
                                              { "drain", required_argument, NULL, 'd' },
                                              { 0 } };
    static const char help [] =
        "usage: segq workers [--drain NODE] [--json]\n\n"
        "List the workers the broker knows: state, CPU slots used/total, GPU memory\n"
        "used/total per GPU, running jobs. --drain NODE tells that worker to take no new\n"
        "jobs, finish its running ones and exit (for maintenance).\n";
    const char *drain = NULL;
    int opt;
    while ((opt = cli_next_option (g, "workers", argc, argv, "h", options, help)) > 0)
        drain = optarg; /* --drain, the only option of its own */
    if (opt != CLI_OPT_END)
        return CLI_OPT_RESULT (opt);
    if (optind != argc)
        return cli_usage_error (g, "workers", "unexpected argument '%s'", argv [optind]);
    segq_client_t *client;
    int rc = cli_connect (g, &client);
    if (rc != CLI_OK)
        return rc;
    if (drain) {
        if (segq_client_drain (client, drain) < 0)
            rc = cli_error (g, "workers", CLI_FAILED, "%s", segq_client_error (client));
        else if (g->json)
            rc = cli_print_json (json_pack ("{s:s,s:b}", "node", drain, "draining", 1));
        else
            printf ("%s draining: it takes no new jobs and exits when its running ones end\n",
                    drain);
        segq_client_destroy (&client);
        return rc;
    }
    segq_worker_info_t *workers;
    size_t n;
    if (segq_client_workers (client, &workers, &n) < 0) {
        rc = cli_error (g, "workers", CLI_FAILED, "%s", segq_client_error (client));
        segq_client_destroy (&client);
        return rc;
    }
    if (g->json) {
        json_t *array = json_array ();
        for (size_t i = 0; array && i < n; i++)
            json_array_append_new (array, segq_worker_info_json (&workers [i]));
        rc = cli_print_json (array);
    } else if (n == 0)
        printf ("(no workers)\n");
    else
        cli_print_worker_table (stdout, workers, n);
    segq_workers_free (&workers, n);
    segq_client_destroy (&client);
    return rc;
}
