/*  segqd: the segq broker daemon.

    Configuration: command-line flags over environment (SEGQ_BROKER_DIR)
    over a config file (--config FILE, else $SEGQ_BROKER_CONFIG, else
    ~/.config/segq/segqd.conf if it exists; format in segq_config.h).
*/
#include "segq_broker.h"
#include "segq_config.h"
#include "segq_memory.h"
#include "segq_notify.h"
#include "segq_proto.h"
#include "restore.h"
#include "retention.h"
#include "segqd_keygen.h"
#include <czmq.h>
#include <errno.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/signalfd.h>
#include <sys/stat.h>
#include <unistd.h>

static const char s_usage [] =
    "usage: segqd [options]\n"
    "  --bind URL              endpoint to listen on (default tcp://127.0.0.1:5555;\n"
    "                          tcp://127.0.0.1:* picks a free port)\n"
    "  --data-dir DIR          database, artifacts and logs (default $SEGQ_BROKER_DIR,\n"
    "                          else ~/.local/share/segq)\n"
    "  --ready-file FILE       write the bound endpoint there once serving\n"
    "  --heartbeat-ms N        heartbeat interval told to workers (default 1000)\n"
    "  --expiry-ms N           a worker silent this long is lost (default 5000)\n"
    "  --max-msg SIZE          largest message accepted, e.g. 4M (default 4M)\n"
    "  --chunk-size SIZE       artifact chunk size, e.g. 1M (default 1M)\n"
    "  --default-time-limit S  wall-time limit of jobs that give none (default none)\n"
    "  --max-attempts N        attempts before a job whose worker keeps getting lost\n"
    "                          fails (default 3)\n"
    "  --max-transfers N       artifact transfers open at once from clients, all\n"
    "                          together (default 256) ...\n"
    "  --max-transfers-per-peer N  ... and from one connection (default 16)\n"
    "  --max-artifact-size SIZE  largest upload accepted, e.g. 64G (default 64G)\n"
    "  --retention AGE         purge the artifacts and logs of jobs that ended longer\n"
    "                          ago than AGE (like 30d, 12h, 90m, 3600s; default none:\n"
    "                          kept until `segq purge`)\n"
    "  --fairshare-half-life AGE  past usage counts half as much after AGE in fair\n"
    "                          share (default 7d, like Slurm; none: only running work)\n"
    "  --keys DIR              CurveZMQ: DIR/broker.cert(+_secret) and the allowed\n"
    "                          certificates DIR/certs/*.cert (re-read while running);\n"
    "                          without keys only loopback may be bound\n"
    "  --http ADDR:PORT        Prometheus metrics (/metrics) and a live status page (/)\n"
    "                          over HTTP, e.g. 127.0.0.1:9464 (default: none); a\n"
    "                          non-loopback address needs all three below\n"
    "  --http-cert FILE, --http-key FILE  HTTPS: PEM certificate and key (mode 0600)\n"
    "  --http-tokens FILE      lines \"TOKEN USER\" (mode 0600): a request with\n"
    "                          Authorization: Bearer TOKEN (or ?token=) sees as USER\n"
    "  --config FILE           configuration file: these options and per-user limits\n"
    "                          (default $SEGQ_BROKER_CONFIG, else\n"
    "                          ~/.config/segq/segqd.conf when it exists)\n"
    "  -v                      log requests; -vv every message\n"
    "  -h, --help              this text\n"
    "       segqd keygen --broker | --worker NODE | --user NAME [--admin]  --out DIR\n"
    "                          make certificates (see docs/usage.md: lab setup with keys)\n"
    "       segqd restore BACKUP [--data-dir DIR] [--config FILE]\n"
    "                          put a backup in place of a stopped broker's database\n"
    "  A backup of the running broker's database: `segq backup FILE` (admins); to\n"
    "  restore it, `segqd restore FILE` (a plain copy is unsafe after a crash).\n"
    "  SIGHUP re-reads the configuration file's per-user limits and [kind] resources;\n"
    "  SIGTERM or SIGINT stops it after the turn in progress.\n";

static const char s_restore_usage [] =
    "usage: segqd restore BACKUP [--data-dir DIR] [--config FILE]\n"
    "  Put BACKUP, a file `segq backup FILE` wrote, in place as DIR/segq.db of a\n"
    "  stopped broker; the database there is kept as DIR/segq.db.before-restore-TIME.\n"
    "  Safe after a crash (the old write-ahead log is never replayed over the\n"
    "  backup), and new jobs get ids above every id given before. DIR as segqd\n"
    "  finds it: --data-dir, else $SEGQ_BROKER_DIR, else data_dir in the\n"
    "  configuration file, else ~/.local/share/segq. Then start segqd.\n";

/* What a command line holds: segqd's, every option; a subcommand's
   (restore), its operand and the options it names. */
typedef struct {
    const char *command; /* for messages: "segqd", "segqd restore" */
    const char *usage;
    const char *const *options; /* NULL-terminated; NULL: every option */
    const char **operand;       /* gets the one non-option argument; NULL: none taken */
} grammar_t;

static const grammar_t s_daemon_grammar = { "segqd", s_usage, NULL, NULL };

typedef struct {
    char *bind, *data_dir, *ready_file, *keys;
    char *heartbeat_ms, *expiry_ms, *max_msg, *chunk_size, *default_time_limit, *max_attempts;
    char *retention, *fairshare_half_life;
    char *max_transfers, *max_transfers_per_peer, *max_artifact_size;
    char *http, *http_cert, *http_key, *http_tokens;
    char *config; /* --config: where the settings above may come from, not one of them */
    char *config_file; /* the file that was read, if any */
    int verbose;  /* -v, -vv: flags only */
} options_t;

static char **
s_option (options_t *o, const char *name)
{
    if (strcmp (name, "bind") == 0)
        return &o->bind;
    if (strcmp (name, "keys") == 0)
        return &o->keys;
    if (strcmp (name, "data-dir") == 0)
        return &o->data_dir;
    if (strcmp (name, "ready-file") == 0)
        return &o->ready_file;
    if (strcmp (name, "heartbeat-ms") == 0)
        return &o->heartbeat_ms;
    if (strcmp (name, "expiry-ms") == 0)
        return &o->expiry_ms;
    if (strcmp (name, "max-msg") == 0)
        return &o->max_msg;
    if (strcmp (name, "chunk-size") == 0)
        return &o->chunk_size;
    if (strcmp (name, "default-time-limit") == 0)
        return &o->default_time_limit;
    if (strcmp (name, "max-attempts") == 0)
        return &o->max_attempts;
    if (strcmp (name, "retention") == 0)
        return &o->retention;
    if (strcmp (name, "fairshare-half-life") == 0)
        return &o->fairshare_half_life;
    if (strcmp (name, "max-transfers") == 0)
        return &o->max_transfers;
    if (strcmp (name, "max-transfers-per-peer") == 0)
        return &o->max_transfers_per_peer;
    if (strcmp (name, "max-artifact-size") == 0)
        return &o->max_artifact_size;
    if (strcmp (name, "http") == 0)
        return &o->http;
    if (strcmp (name, "http-cert") == 0)
        return &o->http_cert;
    if (strcmp (name, "http-key") == 0)
        return &o->http_key;
    if (strcmp (name, "http-tokens") == 0)
        return &o->http_tokens;
    return NULL;
}

static void
s_set (char **slot, const char *value)
{
    free (*slot);
    *slot = strdup (value);
}

/* Config file values fill only what the flags and environment left unset. */
static void
s_apply_config (const segq_config_t *config, options_t *o)
{
    static const char *const names [] = { "bind",
                                          "keys",
                                          "data-dir",
                                          "ready-file",
                                          "heartbeat-ms",
                                          "expiry-ms",
                                          "max-msg",
                                          "chunk-size",
                                          "default-time-limit",
                                          "max-attempts",
                                          "retention",
                                          "fairshare-half-life",
                                          "max-transfers",
                                          "max-transfers-per-peer",
                                          "max-artifact-size",
                                          "http",
                                          "http-cert",
                                          "http-key",
                                          "http-tokens" };
    for (size_t i = 0; i < sizeof names / sizeof names [0]; i++) {
        char **slot = s_option (o, names [i]);
        const char *value = segq_config_setting (config, names [i]);
        if (slot && !*slot && value)
            s_set (slot, value);
    }
}

/* --config FILE, else $SEGQ_BROKER_CONFIG, else the default file if it
   exists ($XDG_CONFIG_HOME or ~/.config, then segq/segqd.conf). The file
   read goes to *loaded (for reloads); NULL when there was none. */
static int
s_load_config (const char *given, segq_config_t *config, char **loaded)
{
    const char *env = getenv ("SEGQ_BROKER_CONFIG");
    char path [4096];
    bool must_exist = true;
    if (given)
        snprintf (path, sizeof path, "%s", given);
    else if (env && *env)
        snprintf (path, sizeof path, "%s", env);
    else {
        const char *xdg = getenv ("XDG_CONFIG_HOME"), *home = getenv ("HOME");
        if (xdg && *xdg)
            snprintf (path, sizeof path, "%s/segq/segqd.conf", xdg);
        else
            snprintf (path, sizeof path, "%s/.config/segq/segqd.conf", home && *home ? home : ".");
        must_exist = false;
    }
    char err [4096];
    int rc = segq_config_load (config, path, err, sizeof err);
    if (rc == SEGQ_ENOENT && !must_exist)
        return 0;
    if (rc == 0 && !(*loaded = strdup (path)))
        rc = SEGQ_ENOMEM;
    if (rc != 0) {
        fprintf (stderr, "segqd: %s\n", err);
        if (rc == SEGQ_EINVAL)
            fprintf (stderr,
                     "segqd: fix the configuration file (docs/usage.md: broker configuration)\n");
        return -1;
    }
    return 0;
}

static int
s_number (const char *name, const char *text, uint32_t *out, bool size)
{
    if (!text)
        return 0;
    uint64_t value = 0;
    char *end = NULL;
    if (size) {
        if (segq_parse_size (text, &value) != 0)
            end = (char *) text;
    } else {
        errno = 0;
        value = strtoull (text, &end, 10);
        if (errno || *end || text [0] == '-')
            end = (char *) text;
        else
            end = NULL;
    }
    if (end || value > UINT32_MAX) {
        fprintf (stderr, "segqd: --%s: '%s' is not a valid %s\n", name, text,
                 size ? "size (e.g. 4M)" : "number");
        return -1;
    }
    *out = (uint32_t) value;
    return 0;
}

static void
s_options_free (options_t *o)
{
    free (o->bind);
    free (o->data_dir);
    free (o->ready_file);
    free (o->keys);
    free (o->heartbeat_ms);
    free (o->expiry_ms);
    free (o->max_msg);
    free (o->chunk_size);
    free (o->default_time_limit);
    free (o->max_attempts);
    free (o->retention);
    free (o->fairshare_half_life);
    free (o->max_transfers);
    free (o->max_transfers_per_peer);
    free (o->max_artifact_size);
    free (o->http);
    free (o->http_cert);
    free (o->http_key);
    free (o->http_tokens);
    free (o->config);
    free (o->config_file);
}

/* Whether the grammar takes option `name`. */
static bool
s_takes (const grammar_t *grammar, const char *name)
{
    if (!grammar->options)
        return true;
    for (const char *const *option = grammar->options; *option; option++)
        if (strcmp (*option, name) == 0)
            return true;
    return false;
}

/* The command line into o (argv [0] is the command's name): -v/-vv,
   --NAME VALUE or --NAME=VALUE, and the grammar's operand. 0, with *help
   set when -h/--help printed the usage (nothing more to do); 2 on a bad
   argument, said on stderr. */
static int
s_parse_args (int argc, char *argv [], const grammar_t *grammar, options_t *o, bool *help)
{
    for (int i = 1; i < argc; i++) {
        const char *arg = argv [i];
        if (strcmp (arg, "-h") == 0 || strcmp (arg, "--help") == 0) {
            fputs (grammar->usage, stdout);
            *help = true;
            return 0;
        }
        if (!grammar->options && (strcmp (arg, "-v") == 0 || strcmp (arg, "-vv") == 0)) {
            o->verbose += arg [2] ? 2 : 1;
            continue;
        }
        if (arg [0] != '-' && grammar->operand && !*grammar->operand) {
            *grammar->operand = arg;
            continue;
        }
        if (strncmp (arg, "--", 2) != 0) {
            fprintf (stderr, "%s: unexpected argument '%s'\n%s", grammar->command, arg,
                     grammar->usage);
            return 2;
        }
        char name [64];
        const char *value = strchr (arg, '=');
        size_t len = value ? (size_t) (value - arg - 2) : strlen (arg + 2);
        snprintf (name, sizeof name, "%.*s", (int) len, arg + 2);
        if (value)
            value++;
        else if (i + 1 < argc)
            value = argv [++i];
        else {
            fprintf (stderr, "%s: %s needs a value\n", grammar->command, arg);
            return 2;
        }
        char **slot = !s_takes (grammar, name)       ? NULL
                      : strcmp (name, "config") == 0 ? &o->config
                                                     : s_option (o, name);
        if (!slot) {
            fprintf (stderr, "%s: unknown option '%s'\n%s", grammar->command, arg, grammar->usage);
            return 2;
        }
        s_set (slot, value);
    }
    return 0;
}

/* What the flags left unset: from the environment, then the config file
   (kept in *file: it holds the per-user limits too), then the default data
   directory. 2 when the file cannot be used, said on stderr. */
static int
s_settle_options (options_t *o, segq_config_t **file)
{
    const char *env_dir = getenv ("SEGQ_BROKER_DIR");
    if (!o->data_dir && env_dir && *env_dir)
        s_set (&o->data_dir, env_dir);
    *file = segq_config_new ();
    if (!*file || s_load_config (o->config, *file, &o->config_file) != 0)
        return 2;
    s_apply_config (*file, o);
    if (!o->data_dir) {
        const char *home = getenv ("HOME");
        char path [4096];
        snprintf (path, sizeof path, "%s/.local/share/segq", home && *home ? home : ".");
        s_set (&o->data_dir, path);
    }
    return 0;
}

/* The numbers, sizes and ages among the options into cfg. Every bad one
   is said on stderr; 2 if there was one. */
static int
s_parse_numbers (const options_t *o, segq_broker_config_t *cfg)
{
    int rc = 0;
    if (s_number ("heartbeat-ms", o->heartbeat_ms, &cfg->heartbeat_ms, false)
        || s_number ("expiry-ms", o->expiry_ms, &cfg->expiry_ms, false)
        || s_number ("max-msg", o->max_msg, &cfg->max_msg, true)
        || s_number ("chunk-size", o->chunk_size, &cfg->chunk_size, true)
        || s_number ("default-time-limit", o->default_time_limit, &cfg->default_time_limit_s, false)
        || s_number ("max-attempts", o->max_attempts, &cfg->max_attempts, false)
        || s_number ("max-transfers", o->max_transfers, &cfg->max_transfers, false)
        || s_number ("max-transfers-per-peer", o->max_transfers_per_peer,
                     &cfg->max_transfers_per_peer, false))
        rc = 2;
    if (o->max_artifact_size
        && segq_parse_size (o->max_artifact_size, &cfg->max_artifact_size) != 0) {
        fprintf (stderr, "segqd: --max-artifact-size: '%s' is not a size (like 64G)\n",
                 o->max_artifact_size);
        rc = 2;
    }
    if (o->retention && segq_parse_period (o->retention, &cfg->retention_s) != 0) {
        fprintf (stderr,
                 "segqd: --retention: '%s' is not an age with its unit (like 30d, 12h, 90m, "
                 "3600s, or none)\n",
                 o->retention);
        rc = 2;
    }
    double half_life = 0;
    if (o->fairshare_half_life && segq_parse_period (o->fairshare_half_life, &half_life) != 0) {
        fprintf (stderr,
                 "segqd: --fairshare-half-life: '%s' is not an age with its unit (like 7d, 12h, "
                 "or none)\n",
                 o->fairshare_half_life);
        rc = 2;
    }
    /* "none" parses as 0, which the broker takes for its default */
    if (o->fairshare_half_life && rc == 0)
        cfg->fairshare_half_life_s = half_life > 0 ? half_life : -1;
    return rc;
}

/* 2, said on stderr, when an HTTP setting is given without --http: it
   would do nothing, and whoever set it expects a page (or its TLS) there. */
static int
s_check_http (const options_t *o)
{
    const char *lone = o->http          ? NULL
                       : o->http_tokens ? "http-tokens"
                       : o->http_cert   ? "http-cert"
                       : o->http_key    ? "http-key"
                                        : NULL;
    if (!lone)
        return 0;
    fprintf (stderr,
             "segqd: --%s is set (flag or config) but --http is not, so there is no HTTP "
             "listener for it: add --http ADDRESS:PORT (like 127.0.0.1:9464), or drop --%s\n",
             lone, lone);
    return 2;
}

/* Runs the broker until SIGINT/SIGTERM; SIGHUP re-reads the per-user
   limits. The exit status. */
static int
s_serve (segq_broker_config_t *cfg)
{
    /* SIGHUP arrives on an fd the loop polls: a handler would interrupt
       the poll, which ends CZMQ's loop */
    sigset_t hup;
    sigemptyset (&hup);
    sigaddset (&hup, SIGHUP);
    cfg->reload_fd = sigprocmask (SIG_BLOCK, &hup, NULL) == 0
                         ? signalfd (-1, &hup, SFD_NONBLOCK | SFD_CLOEXEC)
                         : -1;
    if (cfg->reload_fd < 0) {
        fprintf (stderr, "segqd: cannot catch SIGHUP (%s): reloads need a restart\n",
                 strerror (errno));
        cfg->reload_fd = 0;
    }
    /* CZMQ's handler turns SIGINT/SIGTERM into zsys_interrupted, which
       ends the loop between turns: every turn's commit is complete */
    zsys_init ();
    zsys_set_logstream (NULL);
    char err [1024] = "";
    segq_broker_t *broker = segq_broker_new (cfg, err, sizeof err);
    if (!broker) {
        /* settings a restart cannot mend: 2, which systemd does not restart */
        int status = errno == EINVAL ? 2 : 1;
        fprintf (stderr, "segqd: %s\n", err);
        if (cfg->reload_fd > 0)
            close (cfg->reload_fd);
        return status;
    }
    /* bound and the store open: a Type=notify unit is active only now */
    if (segq_notify (SEGQ_NOTIFY_READY, "serving on %s", segq_broker_endpoint (broker)))
        fprintf (stderr, "segqd: cannot tell systemd it is ready (NOTIFY_SOCKET)\n");
    int rc = segq_broker_run (broker);
    (void) segq_notify (SEGQ_NOTIFY_STOPPING, "stopping"); /* it stops all the same */
    segq_broker_destroy (&broker);
    if (cfg->reload_fd > 0)
        close (cfg->reload_fd);
    return rc;
}

/* The broker as the options say, once they are settled and valid. */
static int
s_run (options_t *o)
{
    segq_config_t *file = NULL;
    int rc = s_settle_options (o, &file);
    segq_broker_config_t cfg = {
        .bind = o->bind,
        .data_dir = o->data_dir,
        .ready_file = o->ready_file,
        .verbose = o->verbose,
        .keys_dir = o->keys,
        .http = o->http,
        .http_cert = o->http_cert,
        .http_key = o->http_key,
        .http_tokens = o->http_tokens,
        .limits = file, /* outlives the broker: destroyed below, after it */
        .config_file = o->config_file,
    };
    if (rc == 0)
        rc = s_parse_numbers (o, &cfg);
    if (rc == 0)
        rc = s_check_http (o);
    if (rc == 0)
        rc = s_serve (&cfg);
    segq_config_destroy (&file);
    return rc;
}

/* segqd restore BACKUP: into the data folder the broker would use, found
   as the broker finds it. */
static int
s_restore (int argc, char *argv [])
{
    static const char *const options [] = { "data-dir", "config", NULL };
    const char *backup = NULL;
    const grammar_t grammar = { "segqd restore", s_restore_usage, options, &backup };
    options_t o = { 0 };
    segq_config_t *file = NULL;
    bool help = false;
    int rc = s_parse_args (argc, argv, &grammar, &o, &help);
    if (rc == 0 && !help && !backup) {
        fprintf (stderr, "segqd restore: which backup? give its file\n%s", s_restore_usage);
        rc = 2;
    }
    if (rc == 0 && !help)
        rc = s_settle_options (&o, &file);
    if (rc == 0 && !help)
        rc = segqd_restore (backup, o.data_dir);
    segq_config_destroy (&file);
    s_options_free (&o);
    return rc;
}

int
main (int argc, char *argv [])
{
    segq_malloc_for_chunks ();
    /* everything segqd writes (database, artifacts, logs, keys, backups)
       is patient data or guards it: private to its user */
    umask (077);
    if (argc > 1 && strcmp (argv [1], "keygen") == 0)
        return segqd_keygen (argc - 1, argv + 1);
    if (argc > 1 && strcmp (argv [1], "restore") == 0)
        return s_restore (argc - 1, argv + 1);
    if (argc > 1 && strcmp (argv [1], "backup") == 0) {
        /* It asks the broker over its socket, a client's job: it moved. */
        fputs ("segqd backup: a backup is now made with `segq backup FILE` (as an admin; "
               "--broker, --broker-key and --cert as before)\n",
               stderr);
        return 2;
    }
    options_t o = { 0 };
    bool help = false;
    int rc = s_parse_args (argc, argv, &s_daemon_grammar, &o, &help);
    if (rc == 0 && !help)
        rc = s_run (&o);
    s_options_free (&o);
    return rc;
}
