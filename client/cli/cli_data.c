/*  cli_data.c: segq fetch, logs, workers. */
#include "cli.h"
#include "segq_sha256.h"

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

/* Whether a file at path holds exactly `out` (*present), or something
   else is there (*other). Nothing there, or a path that cannot be
   looked at: neither (the fetch says why it cannot write there). */
static void
s_look_at_target (const char *path, const segq_artifact_t *out, bool *present, bool *other)
{
    struct stat st;
    char hash [SEGQ_HASH_HEX_LEN + 1];
    *present = *other = false;
    if (stat (path, &st) != 0)
        return;
    *present = S_ISREG (st.st_mode) && (uint64_t) st.st_size == out->size
               && segq_sha256_file (path, hash) == 0 && strcmp (hash, out->hash) == 0;
    *other = !*present;
}

int
cli_fetch_output (cli_globals_t *g, const char *cmd, segq_client_t *client, const char *job,
                  const segq_artifact_t *out, const char *dir, char *path, size_t path_len)
{
    cli_path_join (path, path_len, dir, out->name);
    bool present, other;
    s_look_at_target (path, out, &present, &other);
    if (other)
        return cli_error (g, cmd, CLI_FAILED,
                          "'%s' exists already with other content: nothing was fetched there "
                          "(fetch into another folder)",
                          path);
    if (present)
        return CLI_OK;
    if (s_make_parents (path) != 0)
        return cli_error (g, cmd, CLI_FAILED, "cannot create the directories of '%s': %s", path,
                          strerror (errno));
    if (segq_client_fetch (client, job, out->name, path, NULL) < 0)
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

/* One job's part of a fetch: each wanted output of the job, where it goes,
   and whether that file holds its content already. Every job of a fetch is
   planned before any is fetched, so that a file it would overwrite stops
   the whole fetch before a byte is written. */
typedef struct {
    const char *job;
    segq_job_info_t info;
    const segq_artifact_t **wanted; /* into info */
    char **paths;
    bool *present; /* already there with that content: not fetched again */
    size_t n;
} fetch_plan_t;

static void
s_plan_clear (fetch_plan_t *plan)
{
    for (size_t i = 0; plan->paths && i < plan->n; i++)
        free (plan->paths [i]);
    free (plan->paths);
    free (plan->wanted);
    free (plan->present);
    segq_job_info_clear (&plan->info);
}

/* Where output `out` goes under dir: CLI_OK, or the error. The name
   becomes a path under the user's directory: nothing that could escape it. */
static int
s_output_path (cli_globals_t *g, const segq_artifact_t *out, const char *dir, char **path)
{
    if (!segq_name_valid (out->name))
        return cli_error (g, "fetch", CLI_FAILED,
                          "refusing output name '%s': not a plain relative path", out->name);
    size_t len = strlen (dir) + strlen (out->name) + 2;
    if (!(*path = malloc (len)))
        return cli_error (g, "fetch", CLI_FAILED, "out of memory");
    cli_path_join (*path, len, dir, out->name);
    return CLI_OK;
}

/* The plan of job's outputs (all, or names[0..n_names)) into dir: CLI_OK,
   or the error that says why they cannot be fetched. */
static int
s_plan_job (cli_globals_t *g, segq_client_t *client, const char *job, const char *dir, char **names,
            size_t n_names, fetch_plan_t *plan)
{
    plan->job = job;
    if (segq_client_job (client, job, false, &plan->info) < 0)
        return cli_error (g, "fetch", CLI_FAILED, "%s", segq_client_error (client));
    int rc = s_check_fetchable (g, client, job, &plan->info, names, n_names);
    size_t cap = plan->info.n_outputs + 1;
    if (rc == CLI_OK
        && (!(plan->wanted = calloc (cap, sizeof *plan->wanted))
            || !(plan->paths = calloc (cap, sizeof *plan->paths))
            || !(plan->present = calloc (cap, sizeof *plan->present))))
        rc = cli_error (g, "fetch", CLI_FAILED, "out of memory");
    for (size_t j = 0; j < plan->info.n_outputs && rc == CLI_OK; j++) {
        const segq_artifact_t *out = &plan->info.outputs [j];
        bool want = n_names == 0;
        for (size_t i = 0; i < n_names && !want; i++)
            want = strcmp (out->name, names [i]) == 0;
        if (want && (rc = s_output_path (g, out, dir, &plan->paths [plan->n])) == CLI_OK)
            plan->wanted [plan->n++] = out;
    }
    return rc;
}

/* Marks the planned outputs already there; CLI_OK unless files with other
   content are in the way and not to be overwritten (force): then the error
   naming them, before anything is fetched. */
static int
s_check_targets (cli_globals_t *g, fetch_plan_t *plans, size_t n_plans, bool force)
{
    enum { NAMED = 3 }; /* paths the error names; the rest are counted */
    char named [NAMED * 256] = "";
    size_t in_the_way = 0, len = 0;
    for (size_t k = 0; k < n_plans; k++)
        for (size_t i = 0; i < plans [k].n; i++) {
            bool other;
            s_look_at_target (plans [k].paths [i], plans [k].wanted [i], &plans [k].present [i],
                              &other);
            if (other && in_the_way++ < NAMED && len < sizeof named)
                len += (size_t) snprintf (named + len, sizeof named - len, "%s'%.200s'",
                                          len ? ", " : "", plans [k].paths [i]);
        }
    if (!in_the_way || force)
        return CLI_OK;
    char more [64] = "";
    if (in_the_way > NAMED)
        snprintf (more, sizeof more, " and %zu more", in_the_way - NAMED);
    return cli_error (g, "fetch", CLI_FAILED,
                      "%s%s exist%s already with other content: nothing was fetched (--force "
                      "overwrites %s, or fetch into another folder with -o DIR)",
                      named, more, in_the_way == 1 ? "s" : "", in_the_way == 1 ? "it" : "them");
}

/* The fetched output said on stdout or appended to json_out. */
static void
s_say_fetched (const char *job, const segq_artifact_t *out, const char *path, const char *hash,
               bool present, json_t *json_out)
{
    char size [32];
    segq_format_size (out->size, size, sizeof size);
    if (json_out)
        json_array_append_new (json_out, json_pack ("{s:s,s:s,s:s,s:s,s:I}", "job", job, "name",
                                                    out->name, "path", path, "hash", hash, "size",
                                                    (json_int_t) out->size));
    else
        printf ("%s (%s, sha256 %.12s%s)\n", path, size, hash, present ? ", already there" : "");
}

/* The planned outputs that are not there already, their folders made,
   fetched several at a time (segq_client_fetch_outputs); then every
   planned output said in order. */
static int
s_fetch_plan (cli_globals_t *g, segq_client_t *client, const fetch_plan_t *plan, json_t *json_out)
{
    const segq_artifact_t **todo = calloc (plan->n + 1, sizeof *todo);
    const char **paths = calloc (plan->n + 1, sizeof *paths);
    char (*hashes) [SEGQ_HASH_HEX_LEN + 1] = calloc (plan->n + 1, sizeof *hashes);
    size_t n = 0;
    int rc = todo && paths && hashes ? CLI_OK : cli_error (g, "fetch", CLI_FAILED, "out of memory");
    for (size_t i = 0; i < plan->n && rc == CLI_OK; i++) {
        if (plan->present [i])
            continue;
        if (s_make_parents (plan->paths [i]) != 0)
            rc = cli_error (g, "fetch", CLI_FAILED, "cannot create the directories of '%s': %s",
                            plan->paths [i], strerror (errno));
        else {
            todo [n] = plan->wanted [i];
            paths [n++] = plan->paths [i];
        }
    }
    if (rc == CLI_OK && segq_client_fetch_outputs (client, plan->job, todo, paths, n, hashes) < 0)
        rc = cli_error (g, "fetch", CLI_FAILED, "%s", segq_client_error (client));
    for (size_t i = 0, k = 0; i < plan->n && rc == CLI_OK; i++)
        s_say_fetched (plan->job, plan->wanted [i], plan->paths [i],
                       plan->present [i] ? plan->wanted [i]->hash : hashes [k++], plan->present [i],
                       json_out);
    free (todo);
    free (paths);
    free (hashes);
    return rc;
}

/* The outputs (all, or names[0..n_names)) of jobs[0..n_jobs) into dir
   (an array's into dir/JOB each): all planned and checked, then fetched. */
static int
s_fetch_jobs (cli_globals_t *g, segq_client_t *client, char *const *jobs, size_t n_jobs,
              const char *dir, bool array, char **names, size_t n_names, bool force,
              json_t *json_out)
{
    fetch_plan_t *plans = calloc (n_jobs + 1, sizeof *plans);
    int rc = plans ? CLI_OK : cli_error (g, "fetch", CLI_FAILED, "out of memory");
    for (size_t k = 0; k < n_jobs && rc == CLI_OK; k++) {
        /* an array's jobs each in a folder of their own: they write the
           same names */
        char sub [4096];
        cli_path_join (sub, sizeof sub, dir, jobs [k]);
        rc = s_plan_job (g, client, jobs [k], array ? sub : dir, names, n_names, &plans [k]);
    }
    if (rc == CLI_OK)
        rc = s_check_targets (g, plans, n_jobs, force);
    for (size_t k = 0; k < n_jobs && rc == CLI_OK; k++)
        rc = s_fetch_plan (g, client, &plans [k], json_out);
    for (size_t k = 0; plans && k < n_jobs; k++)
        s_plan_clear (&plans [k]);
    free (plans);
    return rc;
}

enum { OPT_FORCE = 2000 };

int
cli_fetch (cli_globals_t *g, int argc, char **argv)
{
    static const struct option options [] = { CLI_COMMON_OPTIONS,
                                              { "output", required_argument, NULL, 'o' },
                                              { "force", no_argument, NULL, OPT_FORCE },
                                              { 0 } };
    static const char help [] =
        "usage: segq fetch JOB|ARRAY [-o DIR] [--force] [NAME...] [--json]\n\n"
        "Download a job's outputs (all, or the NAMEs given) into DIR (default: the\n"
        "current directory), keeping their names; a job ARRAY's into DIR/JOB for each\n"
        "of its jobs. Each file is checked against its sha256 and only then put in place.\n"
        "A file already there with the same content is kept (not fetched again); one\n"
        "with other content stops the fetch before anything is written, unless --force:\n"
        "then it is overwritten.\n";
    const char *dir = ".";
    bool force = false;
    int opt;
    while ((opt = cli_next_option (g, "fetch", argc, argv, "ho:", options, help)) > 0)
        if (opt == OPT_FORCE)
            force = true;
        else
            dir = optarg; /* -o */
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
        segq_array_info_t info;
        if (segq_client_array (client, job, &info) < 0)
            rc = cli_error (g, "fetch", CLI_FAILED, "%s", segq_client_error (client));
        else
            rc = s_fetch_jobs (g, client, info.jobs, info.n_jobs, dir, true, names, n_names, force,
                               array);
        segq_array_info_clear (&info);
    } else
        rc = s_fetch_jobs (g, client, (char *const *) &job, 1, dir, false, names, n_names, force,
                           array);
    if (array)
        rc = cli_print_json_after (array, rc);
    segq_client_destroy (&client);
    return rc;
}

/* Said once on stderr of a job that has not started (waiting, queued,
   held): its log is empty until then, and an empty answer alone leaves
   the user guessing whether `logs` works. */
static int
s_say_not_started (cli_globals_t *g, segq_client_t *client, const char *job, bool follow)
{
    segq_job_info_t info;
    if (segq_client_job (client, job, false, &info) < 0)
        return cli_error (g, "logs", CLI_FAILED, "%s", segq_client_error (client));
    const char *then = follow ? "its log will follow when it starts"
                              : "it has not started and has no log yet (segq logs -f waits for it)";
    if (info.held && info.state <= SEGQ_JOB_QUEUED)
        fprintf (stderr, "%s logs: job %s is held (segq release %s lets it start); %s\n", g->prog,
                 job, job, then);
    else if (info.state <= SEGQ_JOB_QUEUED)
        fprintf (stderr, "%s logs: job %s is %s%s%s%s; %s\n", g->prog, job,
                 segq_job_state_name (info.state), info.message ? " (" : "",
                 info.message ? info.message : "", info.message ? ")" : "", then);
    segq_job_info_clear (&info);
    return CLI_OK;
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
        "\"=== attempt N on NODE ===\"). -f keeps printing as the job writes, until it ends.\n"
        "Of a job that has not started, stderr says what it waits for.\n";
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
    bool asked_state = false;
    while (rc == CLI_OK) {
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
        if (!complete && offset == 0 && !asked_state) {
            asked_state = true;
            rc = s_say_not_started (g, client, job, follow);
        }
        if (complete || (empty && !follow))
            break;
        if (empty)
            usleep (250 * 1000);
    }
    segq_client_destroy (&client);
    return rc;
}

int
cli_split_names (cli_globals_t *g, const char *cmd, const char *flag, char *const *values,
                 size_t n_values, char ***names, size_t *n_names)
{
    size_t cap = 0;
    *names = NULL;
    *n_names = 0;
    for (size_t i = 0; i < n_values; i++) {
        size_t len = strlen (values [i]);
        if (!len || values [i][0] == ',' || values [i][len - 1] == ',' || strstr (values [i], ",,"))
            return cli_usage_error (g, cmd, "%s '%s': an empty name", flag, values [i]);
        for (const char *p = values [i]; *p; p++)
            cap += *p == ',';
        cap++;
    }
    if (!(*names = calloc (cap + 1, sizeof **names)))
        return cli_error (g, cmd, CLI_FAILED, "out of memory");
    for (size_t i = 0; i < n_values; i++)
        for (const char *p = values [i]; *p;) {
            size_t len = strcspn (p, ",");
            if (!((*names) [(*n_names)++] = strndup (p, len))) {
                cli_ids_free (*names, *n_names);
                *names = NULL;
                *n_names = 0;
                return cli_error (g, cmd, CLI_FAILED, "out of memory");
            }
            p += len + (p [len] == ',');
        }
    *n_names = cli_unique (*names, *n_names, true);
    return CLI_OK;
}

/* Drains each node: a line for each (stdout when it drains, stderr when
   not), or one JSON array of {node, draining, message}. A node the broker
   does not know is said and the others drained still; another refusal
   (not an admin, no broker) would be every node's, so it ends the
   command. CLI_FAILED if one was not drained. */
static int
s_drain (cli_globals_t *g, segq_client_t *client, char *const *nodes, size_t n)
{
    int rc = CLI_OK, code = SEGQ_OK;
    json_t *array = g->json ? json_array () : NULL;
    for (size_t i = 0; i < n && (code == SEGQ_OK || code == SEGQ_ENOENT); i++) {
        code = segq_client_drain (client, nodes [i]);
        const char *why = code ? segq_client_error (client) : NULL;
        if (array)
            json_array_append_new (
                array,
                code ? json_pack ("{s:s,s:b,s:s}", "node", nodes [i], "draining", 0, "message", why)
                     : json_pack ("{s:s,s:b}", "node", nodes [i], "draining", 1));
        else if (code)
            cli_error (g, "workers", CLI_FAILED, "%s", why);
        else
            printf ("%s draining: it takes no new jobs and exits when its running ones end\n",
                    nodes [i]);
        if (code)
            rc = CLI_FAILED;
    }
    return array ? cli_print_json_after (array, rc) : rc;
}

/* The workers the broker knows: a table, or JSON. */
static int
s_list_workers (cli_globals_t *g, segq_client_t *client)
{
    segq_worker_info_t *workers;
    size_t n;
    if (segq_client_workers (client, &workers, &n) < 0)
        return cli_error (g, "workers", CLI_FAILED, "%s", segq_client_error (client));
    int rc = CLI_OK;
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
    return rc;
}

int
cli_workers (cli_globals_t *g, int argc, char **argv)
{
    static const struct option options [] = { CLI_COMMON_OPTIONS,
                                              { "drain", required_argument, NULL, 'd' },
                                              { 0 } };
    static const char help [] =
        "usage: segq workers [--drain NODE[,NODE...]]... [--json]\n\n"
        "List the workers the broker knows: state, CPU slots used/total, GPU memory\n"
        "used/total per GPU, running jobs. --drain NODE tells that worker to take no new\n"
        "jobs, finish its running ones and exit (for maintenance); give it again, or a\n"
        "comma list, to drain several. One the broker does not know is said (exit 1),\n"
        "and the others are drained still.\n";
    char **drains = calloc ((size_t) argc + 1, sizeof *drains); /* --drain's values, in argv */
    size_t n_drains = 0;
    if (!drains)
        return cli_error (g, "workers", CLI_FAILED, "out of memory");
    int opt;
    while ((opt = cli_next_option (g, "workers", argc, argv, "h", options, help)) > 0)
        drains [n_drains++] = optarg; /* --drain, the only option of its own */
    if (opt != CLI_OPT_END || optind != argc) {
        free (drains);
        return opt != CLI_OPT_END
                   ? CLI_OPT_RESULT (opt)
                   : cli_usage_error (g, "workers", "unexpected argument '%s'", argv [optind]);
    }
    char **nodes = NULL;
    size_t n_nodes = 0;
    int rc = cli_split_names (g, "workers", "--drain", drains, n_drains, &nodes, &n_nodes);
    free (drains);
    segq_client_t *client = NULL;
    if (rc == CLI_OK)
        rc = cli_connect (g, &client);
    if (rc == CLI_OK)
        rc = n_nodes ? s_drain (g, client, nodes, n_nodes) : s_list_workers (g, client);
    cli_ids_free (nodes, n_nodes);
    segq_client_destroy (&client);
    return rc;
}
