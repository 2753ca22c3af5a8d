/*  cli_slurm_conf.c: the autoscaler's configuration file.

    segqd.conf's lines, read by the same reader (segq_conf_lines.h): one
    "key = value" per line, '#' starts a comment line, keys take '-' or
    '_', the value is the rest of the line with blanks trimmed, never
    quoted; no sections. Keys marked repeatable (sbatch_option, setup) add
    a line each time; any other key given twice is a mistake. Every problem
    is reported as "FILE:LINE: what" with what to write instead, all of
    them at once, and the file is then refused as a whole: an autoscaler
    must not submit Slurm jobs from a template it half understood.
*/
#define _GNU_SOURCE
#include "cli_slurm.h"
#include "segq_conf_lines.h"
#include "segq_schema.h"

#include <ctype.h>
#include <errno.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MAX_FILE_BYTES (1u << 20)
#define MAX_REPEATS    64

typedef enum { K_TEXT, K_COUNT, K_DURATION, K_SIZE, K_BOOL, K_LINES, K_KINDS } key_type_t;

typedef struct {
    const char *name;
    key_type_t type;
    size_t at;         /* offsetof the member */
    uint64_t min, max; /* K_COUNT; K_DURATION in ms */
} key_spec_t;

#define AT(member) offsetof (cli_slurm_conf_t, member)
static const key_spec_t s_keys [] = {
    { "broker", K_TEXT, AT (broker), 0, 0 },
    { "cert", K_TEXT, AT (cert), 0, 0 },
    { "broker_key", K_TEXT, AT (broker_key), 0, 0 },
    { "max_workers", K_COUNT, AT (max_workers), 1, 10000 },
    { "submit_per_round", K_COUNT, AT (submit_per_round), 1, 1000 },
    { "poll", K_DURATION, AT (poll_ms), 100, 3600000 },
    { "idle_grace", K_DURATION, AT (idle_grace_ms), 0, 7 * 86400000ull },
    { "pending_grace", K_DURATION, AT (pending_grace_ms), 0, 7 * 86400000ull },
    { "start_timeout", K_DURATION, AT (start_timeout_ms), 1000, 7 * 86400000ull },
    { "job_name", K_TEXT, AT (job_name), 0, 0 },
    { "slurm_bin", K_TEXT, AT (slurm_bin), 0, 0 },
    { "partition", K_TEXT, AT (partition), 0, 0 },
    { "account", K_TEXT, AT (account), 0, 0 },
    { "qos", K_TEXT, AT (qos), 0, 0 },
    { "time_limit", K_TEXT, AT (time_limit), 0, 0 },
    { "mem", K_TEXT, AT (mem), 0, 0 },
    { "output", K_TEXT, AT (output), 0, 0 },
    { "gres", K_TEXT, AT (gres), 0, 0 },
    { "cpus_per_task", K_COUNT, AT (cpus_per_task), 1, 100000 },
    { "sbatch_option", K_LINES, AT (sbatch_options), 0, 0 },
    { "setup", K_LINES, AT (setup), 0, 0 },
    { "worker", K_TEXT, AT (worker), 0, 0 },
    { "worker_cert", K_TEXT, AT (worker_cert), 0, 0 },
    { "worker_broker_key", K_TEXT, AT (worker_broker_key), 0, 0 },
    { "work_dir", K_TEXT, AT (work_dir), 0, 0 },
    { "gpu_mem", K_SIZE, AT (gpu_mem), 0, 0 },
    { "declare_gpus", K_BOOL, AT (declare_gpus), 0, 0 },
    { "gpu_name", K_TEXT, AT (gpu_name), 0, 0 },
    { "cpu_slots", K_COUNT, AT (cpu_slots), 1, 65535 },
    { "kinds", K_KINDS, AT (kinds), 0, 0 },
};
#define N_KEYS (sizeof s_keys / sizeof s_keys [0])

static const char s_default_worker [] = "segq-worker --broker @BROKER@ --node @NODE@ --work-dir "
                                        "@WORKDIR@ --cpu-slots @CPUS@ @GPUS@ @KINDS@";

/* The placeholders the worker command and work_dir may hold. */
static const char *const s_placeholders [] = {
    "BROKER", "NODE", "WORKDIR", "CPUS", "GPUS", "KINDS"
};

typedef struct {
    segq_conf_lines_t lines; /* the reader, and every problem said */
    bool oom;
    int line_of [N_KEYS]; /* where each key was set; 0: not set */
} parse_t;

void
cli_slurm_conf_clear (cli_slurm_conf_t *self)
{
    for (size_t k = 0; k < N_KEYS; k++) {
        char *member = (char *) self + s_keys [k].at;
        if (s_keys [k].type == K_TEXT)
            free (*(char **) member);
        else if (s_keys [k].type == K_LINES || s_keys [k].type == K_KINDS) {
            cli_slurm_list_t *list = (cli_slurm_list_t *) member;
            for (size_t i = 0; i < list->n; i++)
                free (list->items [i]);
            free (list->items);
        }
    }
    free (self->gpu_mem_text);
    free (self->path);
    memset (self, 0, sizeof *self);
}

static void
s_defaults (cli_slurm_conf_t *c)
{
    c->max_workers = 4;
    c->submit_per_round = 4;
    c->poll_ms = 10000;
    c->idle_grace_ms = 300000;
    c->pending_grace_ms = 120000;
    c->start_timeout_ms = 600000;
    c->cpus_per_task = 1;
}

/* A duration in ms: an age as proto reads one (segq_parse_age: 30s, 5m,
   2h, 1d, 1w; a bare number is seconds, as docs/slurm.md has always
   said), or a number of milliseconds: 500ms. */
static bool
s_duration (const char *text, uint64_t *ms)
{
    size_t len = strlen (text);
    char number [32];
    bool in_ms = len > 2 && len - 2 < sizeof number && strcmp (text + len - 2, "ms") == 0
                 && isdigit ((unsigned char) text [len - 3]);
    if (in_ms)
        snprintf (number, sizeof number, "%.*s", (int) (len - 2), text);
    double v;
    if (segq_parse_age (in_ms ? number : text, &v) != 0)
        return false;
    v = in_ms ? v : v * 1000; /* the number before "ms" is read as seconds: it is ms */
    if (!(v >= 0 && v < 1e15))
        return false;
    *ms = (uint64_t) (v + 0.5);
    return true;
}

/* The key a name spells ('-' or '_'), or -1. */
static int
s_key_index (const char *name)
{
    char spelled [SEGQ_CONF_KEY_MAX + 1];
    size_t len = strlen (name);
    if (len >= sizeof spelled)
        return -1;
    for (size_t i = 0; i <= len; i++)
        spelled [i] = name [i] == '-' ? '_' : name [i];
    for (size_t k = 0; k < N_KEYS; k++)
        if (strcmp (s_keys [k].name, spelled) == 0)
            return (int) k;
    return -1;
}

static void
s_unknown_key (parse_t *p, int line, const char *name)
{
    const char *names [N_KEYS];
    for (size_t k = 0; k < N_KEYS; k++)
        names [k] = s_keys [k].name;
    const char *near = segq_suggest (name, names, N_KEYS);
    if (near)
        segq_conf_lines_error (&p->lines, line, "unknown key '%s' (did you mean %s?)", name, near);
    else
        segq_conf_lines_error (
            &p->lines, line, "unknown key '%s' (keys: see docs/slurm.md, \"Configuration\")", name);
}

static bool
s_list_add (parse_t *p, cli_slurm_list_t *list, const char *text, size_t len)
{
    char **grown = realloc (list->items, (list->n + 1) * sizeof *grown);
    char *copy = grown ? strndup (text, len) : NULL;
    if (grown)
        list->items = grown;
    if (!copy) {
        p->oom = true;
        return false;
    }
    list->items [list->n++] = copy;
    return true;
}

/* kinds = a, b, c: each a kind segq knows. */
static void
s_set_kinds (parse_t *p, int line, cli_slurm_list_t *list, const char *value)
{
    for (const char *at = value; *at;) {
        at += strspn (at, ", \t");
        size_t len = strcspn (at, ", \t");
        if (!len)
            break;
        char kind [128];
        snprintf (kind, sizeof kind, "%.*s", (int) (len < 127 ? len : 127), at);
        const segq_kind_spec_t *spec = segq_kind_find (kind);
        if (!spec) {
            const char *near = segq_kind_name_suggest (kind);
            segq_conf_lines_error (&p->lines, line, "kinds: unknown job kind '%s'%s%s%s", kind,
                                   near ? " (did you mean " : " (see `segq kinds`)",
                                   near ? near : "", near ? "?)" : "");
        } else if (!s_list_add (p, list, kind, strlen (kind)))
            return;
        at += len;
    }
}

/* A number, duration, size or flag into its member; false if malformed. */
static bool
s_set_scalar (const key_spec_t *key, char *member, const char *v)
{
    uint64_t n = 0;
    char *end;
    switch (key->type) {
    case K_COUNT:
        errno = 0;
        n = isdigit ((unsigned char) *v) ? strtoull (v, &end, 10) : 0;
        if (!isdigit ((unsigned char) *v) || errno || *end || n < key->min || n > key->max)
            return false;
        *(uint32_t *) member = (uint32_t) n;
        return true;
    case K_DURATION:
        if (!s_duration (v, &n) || n < key->min || n > key->max)
            return false;
        *(uint64_t *) member = n;
        return true;
    case K_SIZE:
        if (segq_parse_size (v, &n) != 0 || n == 0)
            return false;
        *(uint64_t *) member = n;
        return true;
    default:
        return segq_parse_bool (v, (bool *) member) == 0;
    }
}

static void
s_bad_scalar (parse_t *p, int line, const key_spec_t *key, const char *v)
{
    if (key->type == K_COUNT)
        segq_conf_lines_error (&p->lines, line,
                               "%s = '%s': expected a whole number from %llu to %llu", key->name, v,
                               (unsigned long long) key->min, (unsigned long long) key->max);
    else if (key->type == K_DURATION)
        segq_conf_lines_error (&p->lines, line,
                               "%s = '%s': expected a duration like 30s, 500ms, 5m, 2h or 1d "
                               "(from %llu ms to %llu s)",
                               key->name, v, (unsigned long long) key->min,
                               (unsigned long long) key->max / 1000);
    else if (key->type == K_SIZE)
        segq_conf_lines_error (&p->lines, line, "%s = '%s': expected a size like 16G or 80GiB",
                               key->name, v);
    else
        segq_conf_lines_error (&p->lines, line, "%s = '%s': expected yes or no", key->name, v);
}

static void
s_set (parse_t *p, cli_slurm_conf_t *c, int k, int line, const char *v)
{
    const key_spec_t *key = &s_keys [k];
    char *member = (char *) c + key->at;
    bool repeatable = key->type == K_LINES;
    if (p->line_of [k] && !repeatable) {
        segq_conf_lines_error (&p->lines, line, "%s is set twice (first on line %d): keep one",
                               key->name, p->line_of [k]);
        return;
    }
    p->line_of [k] = line;
    if (key->type == K_TEXT) {
        if (!(*(char **) member = strdup (v)))
            p->oom = true;
    } else if (key->type == K_LINES) {
        cli_slurm_list_t *list = (cli_slurm_list_t *) member;
        if (list->n >= MAX_REPEATS)
            segq_conf_lines_error (&p->lines, line, "%s: more than %d lines", key->name,
                                   MAX_REPEATS);
        else
            s_list_add (p, list, v, strlen (v));
    } else if (key->type == K_KINDS)
        s_set_kinds (p, line, (cli_slurm_list_t *) member, v);
    else if (!s_set_scalar (key, member, v))
        s_bad_scalar (p, line, key, v);
    else if (key->type == K_SIZE && !(c->gpu_mem_text = strdup (v)))
        p->oom = true; /* gpu_mem, the only size: kept as written for --gpus */
}

/* One "key = value" line of the file. */
static void
s_line (parse_t *p, cli_slurm_conf_t *c, const segq_conf_line_t *l)
{
    int k = s_key_index (l->key);
    if (k < 0)
        s_unknown_key (p, l->line, l->key);
    else
        s_set (p, c, k, l->line, l->value);
}

/* ---- what the keys must say together ---- */

static int
s_line_of (const parse_t *p, const char *name)
{
    int k = s_key_index (name);
    return k >= 0 ? p->line_of [k] : 0;
}

/* How many GPUs a gres string asks for: "gpu:2", "gpu:a100:2", "gpu"
   (one), among others ("gpu:2,nic:1"); -1 if the count is not a number. */
static int
s_gres_gpus (const char *gres)
{
    int gpus = 0;
    for (const char *at = gres; *at;) {
        size_t len = strcspn (at, ",");
        if (strncmp (at, "gpu", 3) == 0 && (len == 3 || at [3] == ':')) {
            const char *colon = len > 3 ? memrchr (at, ':', len) : NULL;
            char *end;
            long n = colon ? strtol (colon + 1, &end, 10) : 1;
            if (colon && (end != at + len || n < 0 || n > 1024)) {
                if (colon == at + 3 || !isdigit ((unsigned char) colon [1]))
                    n = 1; /* gpu:TYPE */
                else
                    return -1;
            }
            gpus += (int) n;
        }
        at += len + (at [len] == ',');
    }
    return gpus;
}

/* Characters a value goes into the script without: it is quoted there,
   or an #SBATCH word. */
static void
s_check_chars (parse_t *p, const char *key, const char *value, const char *forbidden,
               const char *why)
{
    if (value && value [strcspn (value, forbidden)])
        segq_conf_lines_error (&p->lines, s_line_of (p, key), "%s = '%s': %s", key, value, why);
}

/* @WORD@ in text: each one known, and (where `allowed` is given) allowed. */
static void
s_check_placeholders (parse_t *p, const char *key, const char *text, const char *allowed)
{
    for (const char *at = strchr (text, '@'); at; at = strchr (at + 1, '@')) {
        const char *close = strchr (at + 1, '@');
        size_t len = close ? (size_t) (close - at - 1) : 0;
        if (!close || len == 0 || len > 16
            || at [1 + strspn (at + 1, "ABCDEFGHIJKLMNOPQRSTUVWXYZ")] != '@')
            continue;
        bool known = false;
        for (size_t i = 0; i < sizeof s_placeholders / sizeof *s_placeholders; i++)
            known |=
                strlen (s_placeholders [i]) == len && !strncmp (s_placeholders [i], at + 1, len);
        if (!known || (allowed && strncmp (allowed, at + 1, len) != 0))
            segq_conf_lines_error (
                &p->lines, s_line_of (p, key), "%s: @%.*s@ is not a placeholder it takes (%s)", key,
                (int) len, at + 1,
                allowed ? "only @NODE@" : "@BROKER@ @NODE@ @WORKDIR@ @CPUS@ @GPUS@ @KINDS@");
        at = close;
    }
}

static void
s_check_gpus (parse_t *p, cli_slurm_conf_t *c)
{
    int gpus = c->gres ? s_gres_gpus (c->gres) : 0;
    if (gpus < 0)
        segq_conf_lines_error (&p->lines, s_line_of (p, "gres"),
                               "gres = '%s': the GPU count is not a number (gpu:2 or "
                               "gpu:a100:2)",
                               c->gres);
    c->gpus = gpus > 0 ? (uint32_t) gpus : 0;
    if (c->gpus && !c->gpu_mem)
        segq_conf_lines_error (
            &p->lines, s_line_of (p, "gres"),
            "gres = %s asks for GPUs: say how much memory each has with gpu_mem = 80G "
            "(the autoscaler starts workers for the jobs that fit it)",
            c->gres);
    if (!c->gpus && c->gpu_mem)
        segq_conf_lines_error (
            &p->lines, s_line_of (p, "gpu_mem"),
            "gpu_mem without GPUs: ask Slurm for them with gres = gpu:1, or leave gpu_mem out");
    if (!c->gpus && c->declare_gpus)
        segq_conf_lines_error (&p->lines, s_line_of (p, "declare_gpus"),
                               "declare_gpus without GPUs: ask Slurm for them with gres = gpu:1");
    if (!c->gpu_name && !(c->gpu_name = strdup ("gpu")))
        p->oom = true;
    s_check_chars (p, "gpu_name", c->gpu_name, ":, \t'\"`$\\",
                   "a GPU's name is one word without ':' or ','");
}

/* The worker command, its directory, and the defaults for them. */
static void
s_check_worker (parse_t *p, cli_slurm_conf_t *c)
{
    if (!c->worker && !(c->worker = strdup (s_default_worker)))
        p->oom = true;
    if (!c->work_dir && !(c->work_dir = strdup ("${TMPDIR:-/tmp}/@NODE@")))
        p->oom = true;
    if (p->oom)
        return;
    s_check_placeholders (p, "worker", c->worker, NULL);
    s_check_placeholders (p, "work_dir", c->work_dir, "NODE");
    if (!strstr (c->worker, "@NODE@"))
        segq_conf_lines_error (
            &p->lines, s_line_of (p, "worker"),
            "worker: name the node with --node @NODE@ (the autoscaler knows its workers, "
            "and their Slurm jobs, by it)");
    s_check_chars (p, "work_dir", c->work_dir, "\"`\\",
                   "no '\"', '`' or '\\' (it is written between double quotes)");
    if (!c->cpu_slots)
        c->cpu_slots = c->cpus_per_task;
}

static void
s_check_words (parse_t *p, cli_slurm_conf_t *c)
{
    static const char blanks [] = " \t'\"`\\";
    const char *why = "one word: no blanks, quotes or backslashes";
    s_check_chars (p, "broker", c->broker, blanks, why);
    s_check_chars (p, "partition", c->partition, blanks, why);
    s_check_chars (p, "account", c->account, blanks, why);
    s_check_chars (p, "qos", c->qos, blanks, why);
    s_check_chars (p, "time_limit", c->time_limit, blanks, why);
    s_check_chars (p, "mem", c->mem, blanks, why);
    s_check_chars (p, "output", c->output, blanks, why);
    s_check_chars (p, "gres", c->gres, blanks, why);
    s_check_chars (p, "slurm_bin", c->slurm_bin, "\t'\"`\\", "no quotes or backslashes");
    s_check_chars (p, "worker_cert", c->worker_cert, "'", "no single quotes");
    s_check_chars (p, "worker_broker_key", c->worker_broker_key, "'", "no single quotes");
    if (!c->job_name && !(c->job_name = strdup ("segq-worker")))
        p->oom = true;
    size_t ok = c->job_name
                    ? strspn (c->job_name, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUV"
                                           "WXYZ0123456789._-")
                    : 0;
    if (c->job_name && (c->job_name [ok] || ok > 64))
        segq_conf_lines_error (&p->lines, s_line_of (p, "job_name"),
                               "job_name = '%s': at most 64 of letters, digits, '.', '_' and '-'",
                               c->job_name);
    for (size_t i = 0; i < c->sbatch_options.n; i++)
        if (c->sbatch_options.items [i][0] != '-')
            segq_conf_lines_error (&p->lines, s_line_of (p, "sbatch_option"),
                                   "sbatch_option = '%s': an option of sbatch, like --qos=long",
                                   c->sbatch_options.items [i]);
}

/* ---- reading ---- */

int
cli_slurm_conf_parse (const char *path, const char *text, size_t len, cli_slurm_conf_t *out,
                      char *err, size_t errlen)
{
    memset (out, 0, sizeof *out);
    s_defaults (out);
    parse_t p = { .oom = false };
    segq_conf_lines_init (&p.lines, path, text, len, NULL, err, errlen);
    segq_conf_line_t l;
    while (!p.oom && segq_conf_lines_next (&p.lines, &l))
        s_line (&p, out, &l);
    s_check_words (&p, out);
    s_check_gpus (&p, out);
    s_check_worker (&p, out);
    size_t problems = segq_conf_lines_end (&p.lines);
    if (!p.oom && !problems && (out->path = strdup (path)))
        return 0;
    int rc = p.oom || !problems ? SEGQ_ENOMEM : SEGQ_EINVAL;
    if (rc == SEGQ_ENOMEM)
        snprintf (err, errlen, "%s: out of memory reading it", path);
    cli_slurm_conf_clear (out);
    return rc;
}

int
cli_slurm_conf_load (const char *path, cli_slurm_conf_t *out, char *err, size_t errlen)
{
    memset (out, 0, sizeof *out);
    char *text;
    size_t len;
    int rc = segq_conf_read_file (path, MAX_FILE_BYTES, &text, &len, err, errlen);
    size_t used = rc == SEGQ_ENOENT && err && errlen ? strlen (err) : errlen;
    if (used < errlen)
        snprintf (err + used, errlen - used,
                  " (write it: docs/slurm.md has an example, or name another with --config FILE)");
    if (rc == 0)
        rc = cli_slurm_conf_parse (path, text, len, out, err, errlen);
    free (text);
    return rc;
}
