/*  segq_main.c: the `segq` command: global options and dispatch. */
#include "cli.h"
#include "segq_memory.h"

#include <errno.h>
#include <getopt.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

static const char s_usage [] =
    "usage: segq [--broker URL] [--timeout MS] [--json] COMMAND [ARGS...]\n"
    "\n"
    "Submit and watch jobs on a segq broker (segqd).\n"
    "\n"
    "commands:\n"
    "  submit KIND [...]      submit a job; prints its id\n"
    "  status [JOB...]        list your jobs (--all: everyone's), or the ones named\n"
    "  wait JOB...            wait until the jobs end; progress bar on a terminal\n"
    "  cancel JOB...          cancel queued or running jobs\n"
    "  retry JOB...           submit failed or cancelled jobs again (a train resumes)\n"
    "  hold JOB... / release JOB...  keep queued jobs from starting / let them start\n"
    "  purge JOB...           remove ended jobs' artifacts and logs now\n"
    "  fetch JOB [NAME...]    download a job's outputs\n"
    "  logs [-f] JOB          print (and follow) a job's log\n"
    "  workers [--drain NODE] list workers; drain one for maintenance\n"
    "  priority JOB N         reorder a queued job (above 1000000: admins)\n"
    "  usage [--by user|kind|day]  what finished runs used (CPU, GPU memory), and fair share\n"
    "  models [CMD]           trained models: list, show, rename, tag, note, share, pin, rm\n"
    "  kinds [KIND...]        the job kinds the broker takes: inputs, parameters\n"
    "  keygen [--name NAME]   make your certificate (in ~/.config/segq/)\n"
    "  backup FILE            copy the broker's database (admins)\n"
    "  slurm-scale            run workers as Slurm jobs while jobs wait (admins)\n"
    "\n"
    "options (before or after the command):\n"
    "  --broker URL   broker endpoint (default $SEGQ_BROKER, else " SEGQ_DEFAULT_BROKER ")\n"
    "  --timeout MS   how long to wait for each answer (default 10000)\n"
    "  --json         machine-readable output on listings\n"
    "  --broker-key FILE  the broker's public certificate (default $SEGQ_BROKER_KEY,\n"
    "                 else ~/.config/segq/broker.cert if there): CurveZMQ\n"
    "  --no-keys      a plain connection, for a broker without keys, even where a\n"
    "                 broker.cert is found (same: SEGQ_BROKER_KEY set to nothing)\n"
    "  --cert FILE    your certificate (default $SEGQ_CERT, else the one certificate\n"
    "                 in ~/.config/segq/ that `segq keygen` wrote: NAME.cert)\n"
    "  -h, --help     help; `segq COMMAND --help` for a command\n"
    "\n"
    "exit status: 0 success; 1 a request failed (broker down, unknown job, refused);\n"
    "2 bad command line (nothing sent); 3 `wait`: a job failed or was cancelled.\n";

int
cli_error (const cli_globals_t *g, const char *cmd, int code, const char *fmt, ...)
{
    fprintf (stderr, "%s%s%s: ", g->prog, cmd ? " " : "", cmd ? cmd : "");
    va_list ap;
    va_start (ap, fmt);
    vfprintf (stderr, fmt, ap);
    va_end (ap);
    fputc ('\n', stderr);
    return code;
}

int
cli_usage_error (const cli_globals_t *g, const char *cmd, const char *fmt, ...)
{
    fprintf (stderr, "%s %s: ", g->prog, cmd);
    va_list ap;
    va_start (ap, fmt);
    vfprintf (stderr, fmt, ap);
    va_end (ap);
    fprintf (stderr, " (see `%s %s --help`)\n", g->prog, cmd);
    return CLI_USAGE;
}

bool
cli_parse_uint (const char *text, uint64_t max, uint64_t *out)
{
    if (!text || *text < '0' || *text > '9')
        return false;
    char *end;
    errno = 0;
    unsigned long long v = strtoull (text, &end, 10);
    if (errno || *end || v > max)
        return false;
    *out = v;
    return true;
}

int
cli_common_option (cli_globals_t *g, int opt, const char *arg)
{
    uint64_t ms;
    switch (opt) {
    case OPT_BROKER:
        g->broker = arg;
        return 1;
    case OPT_TIMEOUT:
        if (!cli_parse_uint (arg, 86400000, &ms) || ms == 0) {
            cli_error (g, NULL, CLI_USAGE, "--timeout '%s': expected milliseconds (1..86400000)",
                       arg);
            return -1;
        }
        g->timeout_ms = (int) ms;
        return 1;
    case OPT_JSON:
        g->json = true;
        return 1;
    case OPT_CERT:
        g->cert = arg;
        return 1;
    case OPT_BROKER_KEY:
        g->broker_key = arg;
        return 1;
    case OPT_NO_KEYS:
        g->broker_key = "";
        return 1;
    default:
        return 0;
    }
}

const char *
cli_near_option (const char *arg, const char *const *names, size_t n, char *buf, size_t len)
{
    const char *word = strncmp (arg, "--", 2) == 0 ? arg + 2 : arg;
    char name [64];
    snprintf (name, sizeof name, "%.*s", (int) strcspn (word, "="), word);
    const char *near = segq_suggest (name, names, n);
    snprintf (buf, len, "%s%s%s", near ? " (did you mean --" : "", near ? near : "",
              near ? "?)" : "");
    return buf;
}

/* What is wrong with `arg`, an option getopt refused, into buf: one of
   the table's without the value it needs, or with one it takes none of;
   else a name the table lacks, with the closest it has. */
static void
s_bad_option (const struct option *options, const char *arg, char *buf, size_t len)
{
    const char *names [64];
    size_t n = 0;
    bool long_name = strncmp (arg, "--", 2) == 0;
    size_t name_len = long_name ? strcspn (arg + 2, "=") : 0;
    for (; options [n].name && n < 64; n++) {
        names [n] = options [n].name;
        if (long_name && name_len == strlen (names [n])
            && strncmp (arg + 2, names [n], name_len) == 0) {
            snprintf (buf, len, "--%s %s", names [n],
                      options [n].has_arg == no_argument ? "takes no value" : "needs a value");
            return;
        }
    }
    char hint [96];
    snprintf (buf, len, "unknown or incomplete option '%s'%s", arg,
              cli_near_option (arg, names, n, hint, sizeof hint));
}

int
cli_next_option (cli_globals_t *g, const char *cmd, int argc, char **argv, const char *shortopts,
                 const struct option *options, const char *help)
{
    opterr = 0;
    for (;;) {
        int opt = getopt_long (argc, argv, shortopts, options, NULL);
        if (opt == -1)
            return CLI_OPT_END;
        int common = cli_common_option (g, opt, optarg);
        if (common < 0)
            return CLI_OPT_BAD;
        if (common)
            continue;
        if (opt == 'h' && help) {
            fputs (help, stdout);
            return CLI_OPT_HELP;
        }
        if (opt == '?' || opt == ':') {
            char problem [256];
            s_bad_option (options, argv [optind - 1], problem, sizeof problem);
            cli_usage_error (g, cmd, "%s", problem);
            return CLI_OPT_BAD;
        }
        return opt;
    }
}

int
cli_connect (const cli_globals_t *g, segq_client_t **client)
{
    segq_client_options_t options = { .broker = g->broker,
                                      .timeout_ms = g->timeout_ms,
                                      .cert = g->cert,
                                      .broker_key = g->broker_key };
    char err [512];
    if (segq_client_connect (&options, client, err, sizeof err) < 0) {
        fprintf (stderr, "%s: %s\n", g->prog, err);
        return CLI_FAILED;
    }
    return CLI_OK;
}

int
cli_print_json (json_t *value)
{
    if (!value) {
        fprintf (stderr, "segq: out of memory formatting JSON\n");
        return CLI_FAILED;
    }
    int rc = json_dumpf (value, stdout, JSON_INDENT (2) | JSON_PRESERVE_ORDER);
    json_decref (value);
    fputc ('\n', stdout);
    return rc == 0 ? CLI_OK : CLI_FAILED;
}

int
cli_print_json_after (json_t *value, int rc)
{
    int printed = cli_print_json (value);
    return rc == CLI_OK ? printed : rc;
}

typedef struct {
    const char *name;
    int (*run) (cli_globals_t *g, int argc, char **argv);
} command_t;

static const command_t s_commands [] = {
    { "submit", cli_submit },     { "status", cli_status }, { "wait", cli_wait },
    { "cancel", cli_cancel },     { "fetch", cli_fetch },   { "logs", cli_logs },
    { "workers", cli_workers },   { "keygen", cli_keygen }, { "purge", cli_purge },
    { "priority", cli_priority }, { "retry", cli_retry },   { "kinds", cli_kinds },
    { "models", cli_models },     { "backup", cli_backup }, { "hold", cli_hold },
    { "release", cli_release },   { "usage", cli_usage },   { "slurm-scale", cli_slurm_scale },
};

int
main (int argc, char **argv)
{
    segq_malloc_for_chunks ();
    cli_globals_t g = { .prog = "segq" };
    static const struct option options [] = { CLI_COMMON_OPTIONS, { 0 } };
    int opt;
    opterr = 0;
    /* "+": stop at the command name; the command parses the rest. */
    while ((opt = getopt_long (argc, argv, "+h", options, NULL)) != -1) {
        if (opt == 'h') {
            fputs (s_usage, stdout);
            return CLI_OK;
        }
        if (opt == '?') {
            char problem [256];
            s_bad_option (options, argv [optind - 1], problem, sizeof problem);
            return cli_error (&g, NULL, CLI_USAGE, "%s (see `segq --help`)", problem);
        }
        int rc = cli_common_option (&g, opt, optarg);
        if (rc < 0)
            return CLI_USAGE;
    }
    if (optind >= argc) {
        fputs (s_usage, stderr);
        return CLI_USAGE;
    }
    const char *name = argv [optind];
    for (size_t i = 0; i < sizeof s_commands / sizeof s_commands [0]; i++)
        if (strcmp (s_commands [i].name, name) == 0) {
            int sub_argc = argc - optind;
            char **sub_argv = argv + optind;
            optind = 0; /* restart getopt for the command's own options */
            return s_commands [i].run (&g, sub_argc, sub_argv);
        }
    return cli_error (
        &g, NULL, CLI_USAGE,
        "unknown command '%s' (commands: submit, status, wait, "
        "cancel, retry, hold, release, purge, fetch, logs, workers, keygen, priority, "
        "usage, kinds, models, "
        "backup, slurm-scale; see `segq "
        "--help`)",
        name);
}
