/*  cli.h: what the files of the `segq` command share. */
#ifndef SEGQ_CLI_H
#define SEGQ_CLI_H

#include <getopt.h>
#include <jansson.h>
#include <stdbool.h>
#include <stdio.h>
#include "segq_client.h"
#include "segq_records_json.h"

/* Exit codes, documented in `segq --help`. */
enum {
    CLI_OK = 0,
    CLI_FAILED = 1,    /* a request failed (broker down, unknown job, refused) */
    CLI_USAGE = 2,     /* bad command line: nothing was sent */
    CLI_JOB_FAILED = 3 /* wait: a job ended failed or cancelled */
};

typedef struct {
    const char *broker;     /* --broker, or NULL: $SEGQ_BROKER / default */
    int timeout_ms;         /* --timeout, or 0 */
    bool json;              /* --json */
    const char *prog;       /* "segq" */
    const char *cert;       /* --cert, or NULL: $SEGQ_CERT / config dir */
    const char *broker_key; /* --broker-key ("" by --no-keys), or NULL: $SEGQ_BROKER_KEY /
                               config dir */
} cli_globals_t;

/* Options every command accepts, for getopt_long tables. */
enum { OPT_BROKER = 1000, OPT_TIMEOUT, OPT_JSON, OPT_HELP, OPT_CERT, OPT_BROKER_KEY, OPT_NO_KEYS };
#define CLI_COMMON_OPTIONS                                                                         \
    { "broker", required_argument, NULL, OPT_BROKER },                                             \
        { "timeout", required_argument, NULL, OPT_TIMEOUT },                                       \
        { "json", no_argument, NULL, OPT_JSON }, { "cert", required_argument, NULL, OPT_CERT },    \
        { "broker-key", required_argument, NULL, OPT_BROKER_KEY },                                 \
        { "no-keys", no_argument, NULL, OPT_NO_KEYS },                                             \
    {                                                                                              \
        "help", no_argument, NULL, 'h'                                                             \
    }

/* Handles a common option; returns 1 if it was one, 0 if not, -1 on error. */
int cli_common_option (cli_globals_t *g, int opt, const char *arg);

/* The next option of a command, common ones handled on the way: returns the
   option's code, or CLI_OPT_END when there are no more, CLI_OPT_HELP after
   printing `help` (with help NULL, 'h' is returned instead), CLI_OPT_BAD
   after printing what was wrong. Call with the table of the command, whose
   first entries are CLI_COMMON_OPTIONS. */
enum { CLI_OPT_END = -1, CLI_OPT_HELP = -2, CLI_OPT_BAD = -3 };
int cli_next_option (cli_globals_t *g, const char *cmd, int argc, char **argv,
                     const char *shortopts, const struct option *options, const char *help);
/* " (did you mean --limit?)" for `arg` ("--limt", "--limt=3", or the bare
   name), an option not among names[0..n) (long names without "--"), when
   one of them is close; else "". Returns buf. */
const char *cli_near_option (const char *arg, const char *const *names, size_t n, char *buf,
                             size_t len);
/* What a command returns when cli_next_option ended with `opt`. */
#define CLI_OPT_RESULT(opt) ((opt) == CLI_OPT_HELP ? CLI_OK : CLI_USAGE)
int cli_connect (const cli_globals_t *g, segq_client_t **client);
/* Prints "segq CMD: message" to stderr; returns `code`. */
int cli_error (const cli_globals_t *g, const char *cmd, int code, const char *fmt, ...)
    __attribute__ ((format (printf, 4, 5)));
int cli_usage_error (const cli_globals_t *g, const char *cmd, const char *fmt, ...)
    __attribute__ ((format (printf, 3, 4)));
/* Print a JSON value to stdout followed by a newline; takes the reference. */
int cli_print_json (json_t *value);
/* cli_print_json at the end of a command whose outcome so far is rc: the
   first failure is the command's. */
int cli_print_json_after (json_t *value, int rc);
/* Parse a non-negative integer; false on anything else. */
bool cli_parse_uint (const char *text, uint64_t max, uint64_t *out);

/* Commands: argc/argv start at the command name. */
int cli_submit (cli_globals_t *g, int argc, char **argv);
int cli_status (cli_globals_t *g, int argc, char **argv);
int cli_wait (cli_globals_t *g, int argc, char **argv);
int cli_cancel (cli_globals_t *g, int argc, char **argv);
int cli_hold (cli_globals_t *g, int argc, char **argv);
int cli_release (cli_globals_t *g, int argc, char **argv);
int cli_usage (cli_globals_t *g, int argc, char **argv);
int cli_fetch (cli_globals_t *g, int argc, char **argv);
int cli_logs (cli_globals_t *g, int argc, char **argv);
int cli_workers (cli_globals_t *g, int argc, char **argv);
int cli_keygen (cli_globals_t *g, int argc, char **argv);
int cli_purge (cli_globals_t *g, int argc, char **argv);
int cli_backup (cli_globals_t *g, int argc, char **argv);
int cli_priority (cli_globals_t *g, int argc, char **argv);
int cli_retry (cli_globals_t *g, int argc, char **argv);
int cli_kinds (cli_globals_t *g, int argc, char **argv);
int cli_models (cli_globals_t *g, int argc, char **argv);
int cli_slurm_scale (cli_globals_t *g, int argc, char **argv);

/* The jobs named in argv[optind..argc), each job array replaced by its
   jobs and each job once, and a connection to act on them: CLI_OK with
   *client and *ids (cli_ids_free) the caller's, or the error said as cmd
   (no job named is a usage error). */
int cli_connect_jobs (cli_globals_t *g, const char *cmd, int argc, char **argv,
                      segq_client_t **client, char ***ids, size_t *n_ids);
/* Frees ids[0..n) and ids. */
void cli_ids_free (char **ids, size_t n);
/* Keeps the first of equal strings in ids[0..n), order kept; returns the
   new count. owned: the dropped ones are freed. */
size_t cli_unique (char **ids, size_t n, bool owned);
/* The names of a flag given again or as a comma list (--drain a,b --drain
   c), each once, in order, into *names (the caller's, cli_ids_free):
   CLI_OK, or the usage error of an empty name, said as cmd. */
int cli_split_names (cli_globals_t *g, const char *cmd, const char *flag, char *const *values,
                     size_t n_values, char ***names, size_t *n_names);

/* Fetches job's output `out` to dir/NAME (its directories made as
   needed; path gets it), unless a file of its content is there already:
   CLI_OK; CLI_FAILED, said as `cmd`, also when a file with other content
   is in the way (nothing is overwritten). */
int cli_fetch_output (cli_globals_t *g, const char *cmd, segq_client_t *client, const char *job,
                      const segq_artifact_t *out, const char *dir, char *path, size_t path_len);

/* Formatting (cli_format.c); as JSON: segq_records_json.h, shared with segqd. */
void cli_format_age (double since, char *buf, size_t len); /* "3m12s" */
void cli_print_job_table (FILE *out, const segq_job_info_t *jobs, size_t n, bool header);
void cli_print_job_detail (FILE *out, const segq_job_info_t *job);
void cli_print_worker_table (FILE *out, const segq_worker_info_t *workers, size_t n);
/* "[#######.......]" of `width` cells for fraction 0..1. */
void cli_format_bar (double fraction, int width, char *buf, size_t len);
/* text (NULL: "?") and the blanks that fill `width` columns, counted in
   characters (UTF-8), not bytes as printf's %-10s does: a user or node
   named "José" keeps the table's columns in line. Returns buf. */
const char *cli_format_cell (const char *text, int width, char *buf, size_t len);
/* dir/name into buf, as snprintf (its length), with one '/' between them
   however many dir ends in ("synth/" and "a.png": "synth/a.png"): every
   path the CLI makes of a folder and a name, to print or to write. */
int cli_path_join (char *buf, size_t len, const char *dir, const char *name);
/* A parameter's range bound as a user types it: an INT's as an integer. */
void cli_format_bound (segq_param_type_t type, double bound, char *buf, size_t len);
/* Whether an input must be given: "required", "optional", or "required
   unless --FLAG" for one that its bool parameter `unless` stands for
   (train's mask unless --mask-from-alpha). Returns buf. */
const char *cli_format_need (bool required, const char *unless, char *buf, size_t len);

#endif
