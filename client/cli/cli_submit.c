/*  cli_submit.c: segq submit.

    A kind's typed flags come from its row of the kind table (proto/
    segq_kinds.c): each parameter is --NAME VALUE (a bool: --NAME or
    --no-NAME), each input --NAME FILE|DIR|JOB[:OUTPUT]. They are the face
    of the generic --param NAME=VALUE and --input NAME=REF, which keep
    working and end in the same job spec, checked against the same table
    before anything is sent. */
#include "cli_check.h"
#include "cli_folds.h"
#include "cli_submit.h"
#include "segq_fs.h"
#include "segq_sha256.h"

#include <dirent.h>
#include <errno.h>
#include <inttypes.h>
#include <limits.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

/* ---- the command line ---- */

enum {
    OPT_PRIORITY = 2000,
    OPT_GPU_MEM,
    OPT_CPU,
    OPT_AFTER,
    OPT_TIME_LIMIT,
    OPT_MAX_ATTEMPTS,
    OPT_PARAM,
    OPT_INPUT
};

/* Options of every submit, whatever the kind. arg: 0 none, 1 a value,
   2 an optional number (--cpu [N]). */
static const struct {
    const char *name;
    char letter;
    int arg;
    int code;
} s_generic [] = {
    { "broker", 0, 1, OPT_BROKER },
    { "timeout", 0, 1, OPT_TIMEOUT },
    { "json", 0, 0, OPT_JSON },
    { "cert", 0, 1, OPT_CERT },
    { "broker-key", 0, 1, OPT_BROKER_KEY },
    { "no-keys", 0, 0, OPT_NO_KEYS },
    { "help", 'h', 0, 'h' },
    { "param", 'p', 1, OPT_PARAM },
    { "input", 'i', 1, OPT_INPUT },
    { "priority", 0, 1, OPT_PRIORITY },
    { "gpu-mem", 0, 1, OPT_GPU_MEM },
    { "cpu", 0, 2, OPT_CPU },
    { "after", 0, 1, OPT_AFTER },
    { "time-limit", 0, 1, OPT_TIME_LIMIT },
    { "max-attempts", 0, 1, OPT_MAX_ATTEMPTS },
};
#define N_GENERIC (sizeof s_generic / sizeof s_generic [0])

/* "--min-size" -> "min_size" (both spellings name the parameter). */
static void
s_flag_name (const char *arg, size_t len, char *out, size_t outlen)
{
    size_t i = 0;
    for (; i < len && i + 1 < outlen; i++)
        out [i] = arg [i] == '-' ? '_' : arg [i];
    out [i] = 0;
}

/* The flag of a one-file input that makes one job per file of a folder:
   "images" for image. A name already ending in 's' has none: its plural
   would read as a typo (--encoder-weightss). false then. */
static bool
s_plural_flag (const segq_input_spec_t *in, char *out, size_t outlen)
{
    size_t len = strlen (in->name);
    if (in->many || len == 0 || in->name [len - 1] == 's')
        return false;
    snprintf (out, outlen, "%ss", in->name);
    return true;
}

/* A typed input's flag as given, without its leading dashes: "image",
   "images", "encoder-weights". */
static void
s_input_flag (const cli_typed_input_t *in, char *out, size_t outlen)
{
    char name [64];
    if (!in->plural || !s_plural_flag (in->spec, name, sizeof name))
        snprintf (name, sizeof name, "%s", in->spec->name);
    segq_flag_name (name, out, outlen);
}

bool
cli_submit_cpu_value (const char *next)
{
    /* a number, right or wrong ("-1", "0", "1.5", "9999"): refused for
       what it is rather than read as an option or a kind */
    const char *digits = next [0] == '-' || next [0] == '+' ? next + 1 : next;
    return digits [0] >= '0' && digits [0] <= '9';
}

/* The long name of generic option `code`. */
static const char *
s_generic_name (int code)
{
    for (size_t j = 0; j < N_GENERIC; j++)
        if (s_generic [j].code == code)
            return s_generic [j].name;
    return "?";
}

/* The generic option argv[*i] is, or -1; its value (inline, or the next
   argument, consumed) in *value. */
static int
s_generic_option (const cli_globals_t *g, const char *cmd, int argc, char **argv, int *i,
                  const char **value, int *code)
{
    const char *a = argv [*i];
    *value = NULL;
    *code = 0;
    int k = -1;
    const char *inline_value = NULL;
    if (a [0] == '-' && a [1] != '-' && a [1] && !a [2]) {
        for (size_t j = 0; j < N_GENERIC && k < 0; j++)
            if (s_generic [j].letter == a [1])
                k = (int) j;
    } else if (a [0] == '-' && a [1] == '-') {
        const char *name = a + 2, *eq = strchr (name, '=');
        size_t len = eq ? (size_t) (eq - name) : strlen (name);
        for (size_t j = 0; j < N_GENERIC && k < 0; j++)
            if (strlen (s_generic [j].name) == len && strncmp (s_generic [j].name, name, len) == 0)
                k = (int) j;
        inline_value = eq ? eq + 1 : NULL;
    }
    if (k < 0)
        return -1;
    *code = s_generic [k].code;
    if (s_generic [k].arg == 0 && inline_value)
        return cli_usage_error (g, cmd, "%s takes no value", a);
    if (s_generic [k].arg == 1) {
        if (inline_value)
            *value = inline_value;
        else if (*i + 1 < argc)
            *value = argv [++*i];
        else
            return cli_usage_error (g, cmd, "%s needs a value", a);
    }
    if (s_generic [k].arg == 2) {
        /* "--cpu 4" as well as "--cpu=4" */
        if (inline_value)
            *value = inline_value;
        else if (*i + 1 < argc && cli_submit_cpu_value (argv [*i + 1]))
            *value = argv [++*i];
    }
    return CLI_OK;
}

static int
s_apply_generic (cli_globals_t *g, cli_submit_args_t *s, int code, const char *value)
{
    uint64_t v;
    /* one value each: a second would silently replace the first */
    if (code >= OPT_PRIORITY && code <= OPT_MAX_ATTEMPTS && code != OPT_AFTER) {
        unsigned bit = 1u << (code - OPT_PRIORITY);
        if (s->given & bit)
            return cli_usage_error (g, s->command, "--%s given twice: give it once",
                                    s_generic_name (code));
        s->given |= bit;
    }
    switch (code) {
    case 'h':
        s->help = true;
        return CLI_OK;
    case OPT_PARAM: {
        const char *eq = strchr (value, '=');
        if (!eq || eq == value)
            return cli_usage_error (g, s->command, "--param '%s': expected NAME=VALUE", value);
        cli_typed_param_t *p = &s->params [s->n_params++];
        snprintf (p->name, sizeof p->name, "%.*s", (int) (eq - value), value);
        p->value = eq + 1;
        return CLI_OK;
    }
    case OPT_INPUT:
        s->raw_inputs [s->n_raw_inputs++] = value;
        return CLI_OK;
    case OPT_AFTER:
        s->after [s->n_after++] = value;
        return CLI_OK;
    case OPT_PRIORITY: {
        char *end;
        errno = 0;
        s->priority = strtoll (value, &end, 10);
        /* the band is the broker's to enforce: above it, an admin's job
           goes ahead of fair share (SPEC, SUBMIT) */
        if (!*value || *end || errno || s->priority < INT32_MIN || s->priority > INT32_MAX)
            return cli_usage_error (g, s->command,
                                    "--priority '%s': expected an integer (-1000000..1000000 "
                                    "orders your own jobs; above, an admin's go ahead of fair "
                                    "share)",
                                    value);
        return CLI_OK;
    }
    case OPT_GPU_MEM:
        if (segq_parse_size (value, &s->gpu_mem) < 0 || s->gpu_mem == 0)
            return cli_usage_error (g, s->command,
                                    "--gpu-mem '%s': expected a size such as 8G or 512M", value);
        return CLI_OK;
    case OPT_CPU:
        s->cpu = true;
        s->cpu_slots = 1;
        if (value && (!cli_parse_uint (value, 4096, &s->cpu_slots) || s->cpu_slots == 0))
            return cli_usage_error (g, s->command,
                                    "--cpu '%s': expected a whole number of CPU slots 1..4096 (or "
                                    "--cpu alone: 1)",
                                    value);
        return CLI_OK;
    case OPT_TIME_LIMIT:
        if (!cli_parse_uint (value, UINT32_MAX, &v) || v == 0)
            return cli_usage_error (g, s->command,
                                    "--time-limit '%s': expected whole seconds 1..%" PRIu32
                                    " (about 136 years)",
                                    value, UINT32_MAX);
        s->time_limit = v;
        return CLI_OK;
    case OPT_MAX_ATTEMPTS:
        if (!cli_parse_uint (value, 1000, &v) || v == 0)
            return cli_usage_error (g, s->command, "--max-attempts '%s': expected 1..1000", value);
        s->max_attempts = v;
        return CLI_OK;
    default:
        return cli_common_option (g, code, value) < 0 ? CLI_USAGE : CLI_OK;
    }
}

const char *
cli_submit_near_option (const char *arg, char *buf, size_t len)
{
    const char *generic [N_GENERIC];
    for (size_t j = 0; j < N_GENERIC; j++)
        generic [j] = s_generic [j].name;
    return cli_near_option (arg, generic, N_GENERIC, buf, len);
}

/* "did you mean --niter?" for a flag that is neither the kind's nor generic. */
static int
s_unknown_flag (const cli_globals_t *g, const segq_kind_spec_t *kind, const char *word)
{
    char name [64], dashed [64], hint [96];
    s_flag_name (word, strlen (word), name, sizeof name);
    const char *close = segq_kind_suggest (kind, name);
    if (close) {
        segq_flag_name (close, dashed, sizeof dashed);
        snprintf (hint, sizeof hint, " (did you mean --%s?)", dashed);
    } else
        cli_submit_near_option (word, hint, sizeof hint);
    return cli_usage_error (g, "submit", "%s has no flag --%s%s", kind->name, word, hint);
}

/* One flag of the kind's own: a parameter or an input. */
static int
s_typed_flag (const cli_globals_t *g, cli_submit_args_t *s, int argc, char **argv, int *i)
{
    const segq_kind_spec_t *kind = s->kind;
    const char *arg = argv [*i] + 2, *eq = strchr (arg, '=');
    size_t len = eq ? (size_t) (eq - arg) : strlen (arg);
    char word [64], name [64];
    snprintf (word, sizeof word, "%.*s", (int) len, arg);
    if (len >= sizeof name)
        return s_unknown_flag (g, kind, word);
    s_flag_name (arg, len, name, sizeof name);
    const segq_param_spec_t *param = segq_kind_param (kind, name);
    bool negated = false;
    if (!param && strncmp (name, "no_", 3) == 0) {
        param = segq_kind_param (kind, name + 3);
        negated = param && param->type == SEGQ_PARAM_BOOL && !eq;
        if (!negated)
            param = NULL;
    }
    const segq_input_spec_t *input = param ? NULL : segq_kind_input (kind, name);
    bool plural = false;
    for (size_t k = 0; !param && !input && k < kind->n_inputs; k++) {
        /* --images DIR: one job per file, a job array */
        char plural_name [64];
        plural = s_plural_flag (&kind->inputs [k], plural_name, sizeof plural_name)
                 && strcmp (plural_name, name) == 0;
        input = plural ? &kind->inputs [k] : NULL;
    }
    if (!param && !input)
        return s_unknown_flag (g, kind, word);
    const char *value = eq ? eq + 1 : NULL;
    if (param && param->type == SEGQ_PARAM_BOOL && !value)
        value = negated ? "false" : "true";
    if (!value) {
        if (*i + 1 >= argc)
            return cli_usage_error (g, "submit", "--%s needs a value", word);
        value = argv [++*i];
    }
    if (param) {
        cli_typed_param_t *p = &s->params [s->n_params++];
        snprintf (p->name, sizeof p->name, "%s", param->name);
        p->value = value;
        return CLI_OK;
    }
    cli_typed_input_t *in = &s->inputs [s->n_inputs++];
    memset (in, 0, sizeof *in);
    in->spec = input;
    in->ref = value;
    in->plural = plural;
    if (input->sets) {
        /* --synthetic NAME=REF: a named set */
        const char *set_eq = strchr (value, '=');
        size_t set_len = set_eq ? (size_t) (set_eq - value) : 0;
        bool ok = set_eq && set_len > 0 && set_len < sizeof in->set && set_eq [1];
        for (size_t k = 0; ok && k < set_len; k++)
            ok = (value [k] >= 'a' && value [k] <= 'z') || (value [k] >= 'A' && value [k] <= 'Z')
                 || (value [k] >= '0' && value [k] <= '9') || value [k] == '_' || value [k] == '-';
        if (!ok)
            return cli_usage_error (g, "submit",
                                    "--%s '%s': expected NAME=DIR or NAME=JOB, NAME of "
                                    "letters, digits, '-' or '_'",
                                    word, value);
        snprintf (in->set, sizeof in->set, "%.*s", (int) set_len, value);
        in->ref = set_eq + 1;
    }
    return CLI_OK;
}

int
cli_submit_args_init (cli_submit_args_t *s, int argc)
{
    memset (s, 0, sizeof *s);
    s->command = "submit";
    size_t n = (size_t) argc + 1;
    s->params = calloc (n, sizeof *s->params);
    s->inputs = calloc (n, sizeof *s->inputs);
    s->raw_inputs = calloc (n, sizeof *s->raw_inputs);
    s->after = calloc (n, sizeof *s->after);
    return s->params && s->inputs && s->raw_inputs && s->after ? 0 : -1;
}

void
cli_submit_args_clear (cli_submit_args_t *s)
{
    free (s->params);
    free (s->inputs);
    free (s->raw_inputs);
    free (s->after);
    memset (s, 0, sizeof *s);
}

int
cli_submit_option (cli_globals_t *g, cli_submit_args_t *s, int argc, char **argv, int *i)
{
    const char *value;
    int code;
    int rc = s_generic_option (g, s->command, argc, argv, i, &value, &code);
    return rc == CLI_OK ? s_apply_generic (g, s, code, value) : rc;
}

int
cli_submit_parse (cli_globals_t *g, cli_submit_args_t *s, int argc, char **argv)
{
    bool kind_seen = false;
    for (int i = 1; i < argc; i++) {
        const char *a = argv [i];
        if (a [0] != '-' || !a [1]) {
            if (!kind_seen) {
                kind_seen = true;
                s->kind_name = a;
                s->kind = segq_kind_find (a);
                continue;
            }
            return cli_usage_error (g, "submit",
                                    "unexpected argument '%s' (a kind's parameters "
                                    "go as --NAME VALUE or --param NAME=VALUE)",
                                    a);
        }
        int rc = cli_submit_option (g, s, argc, argv, &i);
        if (rc > 0)
            return rc;
        if (rc == CLI_OK)
            continue;
        char hint [96];
        if (!s->kind && !s->help) {
            if (kind_seen)
                return CLI_OK; /* an unknown kind: said by the caller */
            return cli_usage_error (g, "submit",
                                    "unknown option '%s'%s (a kind's flags come after "
                                    "the kind: segq submit KIND --FLAG ...)",
                                    a, cli_submit_near_option (a, hint, sizeof hint));
        }
        if (!s->kind)
            continue; /* --help with an unknown kind */
        if (a [1] != '-')
            return cli_usage_error (g, "submit", "unknown option '%s'", a);
        if ((rc = s_typed_flag (g, s, argc, argv, &i)) != CLI_OK)
            return rc;
    }
    if (s->cpu && s->gpu_mem)
        return cli_usage_error (g, "submit", "--gpu-mem and --cpu exclude each other");
    return CLI_OK;
}

/* ---- building job specs ---- */

static const char *
s_basename (const char *path)
{
    const char *slash = strrchr (path, '/');
    return slash ? slash + 1 : path;
}

/* Whether input `in` takes a dataset folder (image/mask pairs, or a
   generation with its manifest): a plain file given for it would be laid
   out as the set's only member and fail on a worker as a pair without
   its mask. A test kind's many-file input takes files. */
static bool
s_takes_folder (const segq_input_spec_t *in)
{
    return in->many && (in->takes == SEGQ_DATA_PAIRS || in->takes == SEGQ_DATA_GENERATION);
}

/* SEGQ_EINVAL, said, when `path`, a local plain file, is given as `flag`
   (as typed: "--real", "--input real=") to an input that takes a folder. */
static int
s_refuse_file_for_folder (const segq_input_spec_t *in, const char *flag, const char *path,
                          char *err, size_t errlen)
{
    struct stat st;
    if (!s_takes_folder (in) || stat (path, &st) != 0 || S_ISDIR (st.st_mode))
        return SEGQ_OK;
    snprintf (err, errlen,
              "%s%s is a file, and %s takes a folder: %s (or the job that makes it: JOB)", flag,
              path, in->name,
              in->takes == SEGQ_DATA_PAIRS
                  ? "image/mask pairs as images/NAME + masks/NAME, or NAME + NAME-mask"
                  : "a generation, images/ + masks/ + manifest.csv, as generate or stylize "
                    "write it");
    return SEGQ_EINVAL;
}

/* A typed input's value into the spec: a local file or folder, or a job's
   output (JOB: its principal one; JOB:NAME). `file` overrides ref (one
   element of a job array). */
static int
s_add_typed_input (const cli_globals_t *g, segq_job_spec_t *spec, const cli_typed_input_t *in,
                   const char *file, char *err, size_t errlen)
{
    const char *ref = file ? file : in->ref;
    char name [SEGQ_MAX_NAME], flag [80], given [160];
    if (in->spec->sets)
        snprintf (name, sizeof name, "%s/%s", in->spec->name, in->set);
    else
        snprintf (name, sizeof name, "%s", in->spec->name);
    segq_flag_name (in->spec->name, flag, sizeof flag);
    if (in->spec->sets)
        snprintf (given, sizeof given, "--%s %s=", flag, in->set);
    else
        snprintf (given, sizeof given, "--%s ", flag);
    struct stat st;
    if (stat (ref, &st) == 0 && S_ISDIR (st.st_mode)) {
        if (!in->spec->many) {
            char plural [64], dashed [64]; /* the kind table's input names are short */
            bool array = s_plural_flag (in->spec, plural, sizeof plural);
            segq_flag_name (plural, dashed, sizeof dashed);
            snprintf (err, errlen, "--%s %s is a folder: --%s takes one file%s%s%s", flag, ref,
                      flag, array ? " (for one job per file, a job array, give --" : "",
                      array ? dashed : "", array ? " DIR)" : "");
            return SEGQ_EINVAL;
        }
        return segq_job_spec_input_dir (spec, name, ref, err, errlen);
    }
    if (stat (ref, &st) == 0) {
        int rc = s_refuse_file_for_folder (in->spec, given, ref, err, errlen);
        if (rc == SEGQ_OK && in->spec->many) {
            char laid [2 * SEGQ_MAX_NAME];
            snprintf (laid, sizeof laid, "%s/%s", name, s_basename (ref));
            return segq_job_spec_input_file (spec, laid, ref, err, errlen);
        }
        return rc == SEGQ_OK ? segq_job_spec_input_file (spec, name, ref, err, errlen) : rc;
    }
    /* not a local path: a job's output or a model */
    (void) g;
    return segq_job_spec_input_ref (spec, name, ref, err, errlen);
}

/* --input NAME=REF into the spec; a local plain file for an input that
   takes a folder refused as the typed flag's is. */
static int
s_add_raw_input (const cli_submit_args_t *s, segq_job_spec_t *spec, const char *arg, char *err,
                 size_t errlen)
{
    const char *eq = strchr (arg, '=');
    for (size_t k = 0; eq && k < s->kind->n_inputs; k++) {
        const segq_input_spec_t *in = &s->kind->inputs [k];
        size_t len = strlen (in->name);
        bool named = (size_t) (eq - arg) >= len && strncmp (arg, in->name, len) == 0
                     && (arg [len] == '=' || arg [len] == '/');
        char given [SEGQ_MAX_NAME + 16];
        snprintf (given, sizeof given, "--input %.*s=", (int) (eq - arg), arg);
        if (named && s_refuse_file_for_folder (in, given, eq + 1, err, errlen) < 0)
            return SEGQ_EINVAL;
    }
    return segq_job_spec_input_arg (spec, arg, err, errlen);
}

/* A parameter or a one-file input given twice: refused, where taking the
   last value would drop the other without a word. */
static int
s_refuse_repeats (const cli_globals_t *g, const cli_submit_args_t *s)
{
    char flag [80];
    for (size_t i = 0; i < s->n_params; i++)
        for (size_t j = i + 1; j < s->n_params; j++)
            if (strcmp (s->params [i].name, s->params [j].name) == 0) {
                segq_flag_name (s->params [i].name, flag, sizeof flag);
                return cli_usage_error (g, s->command, "--%s given twice (%s and %s): give it once",
                                        flag, s->params [i].value, s->params [j].value);
            }
    for (size_t i = 0; i < s->n_inputs; i++)
        for (size_t j = i + 1; j < s->n_inputs && !s->inputs [i].spec->many; j++)
            if (s->inputs [i].spec == s->inputs [j].spec) {
                char other [80];
                s_input_flag (&s->inputs [i], flag, sizeof flag);
                s_input_flag (&s->inputs [j], other, sizeof other);
                if (strcmp (flag, other) == 0)
                    return cli_usage_error (g, s->command,
                                            "--%s given twice (%s and %s): give it once", flag,
                                            s->inputs [i].ref, s->inputs [j].ref);
                return cli_usage_error (g, s->command, "--%s %s and --%s %s: give one of them",
                                        flag, s->inputs [i].ref, other, s->inputs [j].ref);
            }
    return CLI_OK;
}

int
cli_submit_spec (cli_globals_t *g, const cli_submit_args_t *s, const char *const *files,
                 segq_job_spec_t **out)
{
    *out = NULL;
    if (s_refuse_repeats (g, s) != CLI_OK)
        return CLI_USAGE;
    segq_job_spec_t *spec = segq_job_spec_new (s->kind->name);
    if (!spec)
        return cli_error (g, "submit", CLI_FAILED, "out of memory");
    char err [1024];
    int rc = CLI_OK;
    for (size_t i = 0; i < s->n_params && rc == CLI_OK; i++)
        if (segq_job_spec_param (spec, s->params [i].name, s->params [i].value, err, sizeof err)
            < 0) {
            const char *close = segq_kind_param (s->kind, s->params [i].name)
                                    ? NULL
                                    : segq_kind_suggest (s->kind, s->params [i].name);
            if (close)
                rc = cli_usage_error (g, "submit", "%s (did you mean %s?)", err, close);
            else
                rc = cli_usage_error (g, "submit", "%s", err);
        }
    for (size_t i = 0; i < s->n_inputs && rc == CLI_OK; i++)
        if (s_add_typed_input (g, spec, &s->inputs [i], files ? files [i] : NULL, err, sizeof err)
            < 0)
            rc = cli_usage_error (g, "submit", "%s", err);
    for (size_t i = 0; i < s->n_raw_inputs && rc == CLI_OK; i++)
        if (s_add_raw_input (s, spec, s->raw_inputs [i], err, sizeof err) < 0)
            rc = cli_usage_error (g, "submit", "%s", err);
    for (size_t i = 0; i < s->n_after && rc == CLI_OK; i++)
        if (segq_job_spec_after (spec, s->after [i]) < 0)
            rc = cli_error (g, "submit", CLI_FAILED, "out of memory");
    if (rc == CLI_OK && segq_job_spec_validate (spec, err, sizeof err) < 0)
        rc = cli_usage_error (g, "submit", "%s", err);
    if (rc == CLI_OK && !s->files_checked && cli_check_files (s, files, err, sizeof err) < 0)
        rc = cli_usage_error (g, "submit", "%s", err);
    if (rc != CLI_OK) {
        segq_job_spec_destroy (&spec);
        return rc;
    }
    segq_job_spec_set_priority (spec, (int32_t) s->priority);
    segq_job_spec_set_gpu_mem (spec, s->gpu_mem);
    segq_job_spec_set_cpu_slots (spec, (uint32_t) s->cpu_slots);
    segq_job_spec_set_time_limit (spec, (uint32_t) s->time_limit);
    segq_job_spec_set_max_attempts (spec, (uint32_t) s->max_attempts);
    *out = spec;
    return CLI_OK;
}

/* An evaluate job's k-fold, once the broker can say what its sets by
   reference hold (cli_folds.h): refused as a bad command line, nothing
   sent but the questions. */
static int
s_check_folds (cli_globals_t *g, segq_client_t *client, const cli_submit_args_t *s)
{
    char err [2048];
    if (strcmp (s->kind->name, "evaluate") != 0
        || cli_folds_check_job (client, s, err, sizeof err) == 0)
        return CLI_OK;
    return cli_usage_error (g, "submit", "%s", err);
}

/* ---- job arrays ---- */

static int
s_by_name (const struct dirent **a, const struct dirent **b)
{
    return strcmp ((*a)->d_name, (*b)->d_name);
}

/* "cju0qkwl35piu0993l0dewei2.jpg" -> its length without the extension. */
static size_t
s_stem_len (const char *file)
{
    const char *dot = strrchr (file, '.');
    return dot && dot != file ? (size_t) (dot - file) : strlen (file);
}

/* Whether two file names are the same without their extensions. */
static bool
s_same_stem (const char *a, const char *b)
{
    return s_stem_len (a) == s_stem_len (b) && strncmp (a, b, s_stem_len (a)) == 0;
}

static void
s_files_free (char **files, size_t n)
{
    for (size_t i = 0; files && i < n; i++)
        free (files [i]);
    free (files);
}

/* The regular files of dir (hidden ones aside), sorted, as paths; a
   symbolic link only to a file inside dir (segq_fs_walk_entry). */
static int
s_list_files (const cli_globals_t *g, const char *flag, const char *dir, char ***out, size_t *n_out)
{
    char root [PATH_MAX];
    struct dirent **entries = NULL;
    int n = realpath (dir, root) ? scandir (dir, &entries, NULL, s_by_name) : -1;
    if (n < 0)
        return cli_usage_error (g, "submit", "--%s %s: cannot read the folder (%s)", flag, dir,
                                strerror (errno));
    char **files = calloc ((size_t) n + 1, sizeof *files);
    size_t count = 0;
    int rc = files ? CLI_OK : cli_error (g, "submit", CLI_FAILED, "out of memory");
    for (int i = 0; i < n; i++) {
        char path [4096], why [1024];
        struct stat st;
        cli_path_join (path, sizeof path, dir, entries [i]->d_name);
        /* hidden files are no data; one gone while the folder is read neither */
        int walk = rc == CLI_OK && entries [i]->d_name [0] != '.'
                       ? segq_fs_walk_entry (root, path, &st, NULL, 0, why, sizeof why)
                       : SEGQ_ENOENT;
        if (walk != 0 && walk != SEGQ_ENOENT)
            rc = cli_usage_error (g, "submit", "--%s %s: %s", flag, dir, why);
        if (walk == 0 && S_ISREG (st.st_mode) && !(files [count++] = strdup (path)))
            rc = cli_error (g, "submit", CLI_FAILED, "out of memory");
        free (entries [i]);
    }
    free (entries);
    if (rc == CLI_OK && count == 0)
        rc = cli_usage_error (g, "submit", "--%s %s: no files in it", flag, dir);
    for (size_t i = 1; rc == CLI_OK && i < count; i++) {
        const char *a = strrchr (files [i - 1], '/') + 1, *b = strrchr (files [i], '/') + 1;
        if (s_same_stem (a, b))
            rc = cli_usage_error (g, "submit",
                                  "--%s %s: %s and %s have the same name without "
                                  "extension (pairs are matched by it)",
                                  flag, dir, a, b);
    }
    if (rc != CLI_OK) {
        s_files_free (files, count);
        return rc;
    }
    *out = files;
    *n_out = count;
    return CLI_OK;
}

static bool
s_is_dir (const char *path)
{
    struct stat st;
    return stat (path, &st) == 0 && S_ISDIR (st.st_mode);
}

/* Whether a typed input makes the submit a job array: a folder for a
   one-file input (--images DIR), or a job array id for one, or for an
   input of one job's files (stylize's content). */
static bool
s_array_input (const cli_typed_input_t *in)
{
    bool one_job = !in->spec->many || in->spec->per_member;
    return (!in->spec->many && in->plural)
           || (one_job && segq_array_id (in->ref) && !s_is_dir (in->ref));
}

void
cli_array_plan_clear (cli_array_plan_t *plan)
{
    for (size_t i = 0; plan->files && i < plan->n_inputs; i++)
        s_files_free (plan->files [i], plan->n_inputs ? plan->n : 0);
    free (plan->files);
    memset (plan, 0, sizeof *plan);
}

/* One input's elements: its folder's files or its job array's members. */
typedef struct {
    const cli_typed_input_t *in;
    char flag [80]; /* its flag, for messages */
    char **list;
    size_t n;
} elements_t;

/* An input's elements: the members of its job array (asking the broker,
 *client connected on first use), or the files of its folder. */
static int
s_elements (cli_globals_t *g, segq_client_t **client, bool arrays, elements_t *e)
{
    const cli_typed_input_t *in = e->in;
    s_input_flag (in, e->flag, sizeof e->flag);
    if (!arrays && !s_is_dir (in->ref))
        return cli_usage_error (g, "submit", "--%s %s: not a folder (--%s FILE gives one job)",
                                e->flag, in->ref, in->spec->name);
    if (!arrays)
        return s_list_files (g, e->flag, in->ref, &e->list, &e->n);
    int rc;
    if (!*client && (rc = cli_connect (g, client)) != CLI_OK)
        return rc;
    segq_array_info_t info;
    if (segq_client_array (*client, in->ref, &info) < 0)
        return cli_error (g, "submit", CLI_FAILED, "--%s %s: %s", e->flag, in->ref,
                          segq_client_error (*client));
    e->list = info.jobs; /* taken */
    e->n = info.n_jobs;
    info.jobs = NULL;
    info.n_jobs = 0;
    segq_array_info_clear (&info);
    return CLI_OK;
}

/* The file of list (n paths) whose name without extension is want's,
   taken out of it (NULL left there); NULL when there is none. */
static char *
s_take_partner (char **list, size_t n, const char *want)
{
    for (size_t j = 0; j < n; j++) {
        if (!list [j])
            continue; /* matched already */
        if (s_same_stem (strrchr (list [j], '/') + 1, want)) {
            char *found = list [j];
            list [j] = NULL;
            return found;
        }
    }
    return NULL;
}

/* The first five names of the files without a partner, and their count. */
typedef struct {
    size_t count;
    char names [512];
} unmatched_t;

static void
s_unmatched_add (unmatched_t *u, const char *name)
{
    if (u->count++ < 5)
        snprintf (u->names + strlen (u->names), sizeof u->names - strlen (u->names), "%s%s",
                  u->count > 1 ? ", " : "", name);
}

/* Refuses the files of `from` that have no partner in `to`. */
static int
s_unmatched_error (const cli_globals_t *g, const unmatched_t *u, const elements_t *from,
                   const elements_t *to)
{
    return cli_usage_error (g, "submit",
                            "%zu file%s of --%s %s %s no partner in --%s %s "
                            "(pairs are matched by file name without extension): %s%s",
                            u->count, u->count > 1 ? "s" : "", from->flag, from->in->ref,
                            u->count > 1 ? "have" : "has", to->flag, to->in->ref, u->names,
                            u->count > 5 ? ", ..." : "");
}

/* A folder's files put in the lead's order, by name: *out gets lead->n of
   them (owned; taken out of e->list), or the files without a partner are
   refused, named. */
static int
s_pair_by_name (const cli_globals_t *g, const elements_t *lead, elements_t *e, char ***out)
{
    char **ordered = calloc (lead->n + 1, sizeof *ordered);
    if (!ordered)
        return cli_error (g, "submit", CLI_FAILED, "out of memory");
    unmatched_t u = { 0 };
    for (size_t k = 0; k < lead->n; k++) {
        const char *want = strrchr (lead->list [k], '/') + 1;
        if (!(ordered [k] = s_take_partner (e->list, e->n, want)))
            s_unmatched_add (&u, want);
    }
    int rc = u.count ? s_unmatched_error (g, &u, lead, e) : CLI_OK;
    /* and the other way: this folder's files the lead has no partner for */
    for (size_t j = 0; rc == CLI_OK && j < e->n; j++)
        if (e->list [j])
            s_unmatched_add (&u, strrchr (e->list [j], '/') + 1);
    if (rc == CLI_OK && u.count)
        rc = s_unmatched_error (g, &u, e, lead);
    if (rc == CLI_OK)
        *out = ordered;
    else
        s_files_free (ordered, lead->n);
    return rc;
}

/* Input in's elements, paired with the lead's: a job array's in order, a
   folder's by name. *out gets lead->n of them (owned). */
static int
s_plan_partner (cli_globals_t *g, segq_client_t **client, bool arrays, const elements_t *lead,
                const cli_typed_input_t *in, char ***out)
{
    elements_t e = { .in = in };
    int rc = s_elements (g, client, arrays, &e);
    if (rc != CLI_OK)
        return rc;
    if (!arrays)
        rc = s_pair_by_name (g, lead, &e, out);
    else if (e.n != lead->n)
        rc = cli_usage_error (g, "submit",
                              "--%s %s has %zu jobs, --%s %s %zu: job arrays pair "
                              "their jobs in order",
                              in->spec->name, in->ref, e.n, lead->in->spec->name, lead->in->ref,
                              lead->n);
    else {
        *out = e.list; /* taken */
        return CLI_OK;
    }
    s_files_free (e.list, e.n);
    return rc;
}

/* Folders matched by file name without extension; unmatched files are
   named. Job arrays pair their members by position. */
int
cli_array_plan (cli_globals_t *g, segq_client_t **client, const cli_submit_args_t *s,
                cli_array_plan_t *plan)
{
    memset (plan, 0, sizeof *plan);
    plan->n_inputs = s->n_inputs;
    bool folders = false, arrays = false;
    for (size_t i = 0; i < s->n_inputs; i++)
        if (s_array_input (&s->inputs [i])) {
            folders |= s->inputs [i].plural;
            arrays |= !s->inputs [i].plural;
        }
    if (!folders && !arrays)
        return CLI_OK;
    if (folders && arrays)
        return cli_usage_error (g, "submit",
                                "a job array comes either from folders (--images DIR) "
                                "or from another job array, not both");
    if (!(plan->files = calloc (s->n_inputs, sizeof *plan->files)))
        return cli_error (g, "submit", CLI_FAILED, "out of memory");
    /* the first input that makes the array leads: the others pair with it */
    size_t first = 0;
    while (!s_array_input (&s->inputs [first]))
        first++;
    elements_t lead = { .in = &s->inputs [first] };
    int rc = s_elements (g, client, arrays, &lead);
    plan->files [first] = lead.list; /* the plan's; lead still reads it */
    plan->n = lead.n;
    for (size_t i = first + 1; i < s->n_inputs && rc == CLI_OK; i++)
        if (s_array_input (&s->inputs [i]))
            rc = s_plan_partner (g, client, arrays, &lead, &s->inputs [i], &plan->files [i]);
    if (rc != CLI_OK)
        cli_array_plan_clear (plan);
    return rc;
}

/* ---- help ---- */

/* `segq submit --help`: the options every kind has, and the kinds. */
static void
s_submit_usage (void)
{
    printf ("usage: segq submit KIND [--FLAG VALUE ...] [--param NAME=VALUE ...]\n"
            "                   [--input NAME=FILE|JOB[:OUTPUT] ...] [--priority N]\n"
            "                   [--gpu-mem SIZE | --cpu [N]] [--after JOB]\n"
            "                   [--time-limit SECONDS] [--max-attempts N] [--json]\n"
            "       segq submit KIND --images DIR [--masks DIR] ...   one job per file: a job "
            "array\n"
            "       segq submit pipeline --image X --mask M [--count N] ...   (see its --help)\n"
            "\n"
            "Submit a job and print its id. Each kind has typed flags, one per parameter\n"
            "and input (`segq submit KIND --help`), checked before anything is sent; an input\n"
            "FILE is uploaded (hashed as it is sent; a file unchanged since an earlier submit\n"
            "is named by its hash and not sent again if the broker has it), a FOLDER too;\n"
            "an input JOB (its principal output) or JOB:OUTPUT uses another job's output and\n"
            "waits for that job to succeed.\n"
            "\n"
            "  -p, --param NAME=VALUE   a parameter of the kind (same as --NAME VALUE)\n"
            "  -i, --input NAME=REF     an input: a local FILE, a JOB (its principal output)\n"
            "                           or JOB:OUTPUT (same as --NAME REF)\n"
            "      --priority N         order among your own jobs (higher first; default 0);\n"
            "                           above 1000000 ahead of fair share (admins only)\n"
            "      --gpu-mem SIZE       GPU memory the job needs (e.g. 8G, 512M)\n"
            "      --cpu [N]            a CPU-only job using N slots (default 1; the default)\n"
            "      --after JOB          start only after JOB succeeded\n"
            "      --time-limit SECONDS wall-time limit (default: the broker's)\n"
            "      --max-attempts N     runs allowed when workers are lost (default: the "
            "broker's)\n"
            "      --json               print {\"job\": ID}\n"
            "\n"
            "kinds:\n");
    size_t n;
    const segq_kind_spec_t *kinds = segq_kinds (&n);
    for (size_t i = 0; i < n; i++)
        printf ("  %-10s %s\n", kinds [i].name, kinds [i].help);
    printf ("  %-10s %s\n", "pipeline",
            "train -> generate [-> stylize] [-> evaluate] in one command");
}

/* One input's line, and its plural flag's for a job array. */
static void
s_input_help (const segq_input_spec_t *in)
{
    char left [128], dashed [64];
    segq_flag_name (in->name, dashed, sizeof dashed);
    snprintf (left, sizeof left, "--%s %s", dashed,
              in->sets   ? "SET=DIR|JOB"
              : in->many ? "DIR|JOB"
                         : "FILE|JOB");
    char need [96];
    printf ("  %-28s %s (%s%s)\n", left, in->help,
            cli_format_need (in->required, in->unless, need, sizeof need),
            in->many ? "; repeat for several" : "");
    char plural [64];
    if (s_plural_flag (in, plural, sizeof plural)) {
        segq_flag_name (plural, dashed, sizeof dashed);
        snprintf (left, sizeof left, "--%s DIR", dashed);
        printf ("  %-28s one job per file of DIR, as a job array (files of several such\n"
                "  %-28s folders are paired by name without extension)\n",
                left, "");
    }
}

/* One parameter's line: its flag, help, range and default. */
static void
s_param_help (const segq_param_spec_t *p)
{
    static const char *type_names [] = { "", "INT", "NUM", "", "TEXT", "" };
    char left [128], range [160] = "", lo [48], hi [48], dashed [64];
    segq_flag_name (p->name, dashed, sizeof dashed);
    const char *type = p->type == SEGQ_PARAM_CHOICE ? p->choices : type_names [p->type];
    if (p->type == SEGQ_PARAM_BOOL)
        snprintf (left, sizeof left, "--[no-]%s", dashed);
    else
        snprintf (left, sizeof left, "--%s %s", dashed, type);
    if (p->type == SEGQ_PARAM_INT || p->type == SEGQ_PARAM_FLOAT) {
        cli_format_bound (p->type, p->min, lo, sizeof lo);
        cli_format_bound (p->type, p->max, hi, sizeof hi);
        snprintf (range, sizeof range, "%s..%s", lo, hi);
    }
    /* an empty default means "not given": the help says what stands for it */
    const char *given = !p->default_value ? "required" : *p->default_value ? "default " : "";
    const char *value = p->default_value ? p->default_value : "";
    char note [256];
    snprintf (note, sizeof note, "%s%s%s%s", range, *range && *given ? ", " : "", given, value);
    printf ("  %-28s %s%s%s%s\n", left, p->help, *note ? " (" : "", note, *note ? ")" : "");
}

/* `segq submit KIND --help`: the kind's typed flags; without a kind, the usage. */
static void
s_submit_help (const segq_kind_spec_t *kind)
{
    if (!kind) {
        s_submit_usage ();
        return;
    }
    printf ("usage: segq submit %s [FLAGS] [OPTIONS]   (OPTIONS: `segq submit --help`)\n\n%s: %s\n",
            kind->name, kind->name, kind->help);
    printf ("\ninputs (a local FILE, a FOLDER for a dataset, JOB for its principal output, or\n"
            "JOB:OUTPUT; also as --input NAME=...):\n");
    if (!kind->n_inputs)
        printf ("  (none)\n");
    for (size_t i = 0; i < kind->n_inputs; i++)
        s_input_help (&kind->inputs [i]);
    printf ("\nparameters (also as --param NAME=VALUE):\n");
    if (!kind->n_params)
        printf ("  (none)\n");
    for (size_t i = 0; i < kind->n_params; i++)
        s_param_help (&kind->params [i]);
    printf ("\nprincipal output (what a bare JOB names): %s\n",
            strcmp (kind->principal_output, "*") == 0 ? "all outputs" : kind->principal_output);
}

/* ---- the command ---- */

/* Says on stderr (stdout holds only ids) what jobs whose submit asked for
   no resources got: their kind's default on the broker, which may be one
   CPU slot where a GPU was meant. Test kinds are left quiet. */
static void
s_say_resources (const cli_globals_t *g, const cli_submit_args_t *s,
                 const segq_submit_reply_t *reply, size_t n)
{
    if (s->gpu_mem || s->cpu || s->kind->test_kind || s->kind->in_process)
        return;
    char what [96], size [32], slots [32] = "";
    segq_format_size (reply->gpu_mem, size, sizeof size);
    if (reply->cpu_slots)
        snprintf (slots, sizeof slots, "%u CPU slot%s", reply->cpu_slots,
                  reply->cpu_slots == 1 ? "" : "s");
    if (reply->gpu_mem)
        snprintf (what, sizeof what, "%s of GPU memory%s%s", size, *slots ? " and " : "", slots);
    else
        snprintf (what, sizeof what, "%s", slots);
    if (n == 1)
        fprintf (stderr,
                 "%s: submitted %s (%s, %s: no --gpu-mem or --cpu given; the broker's "
                 "default for %s)\n",
                 g->prog, reply->job, s->kind->name, what, s->kind->name);
    else
        fprintf (stderr,
                 "%s: submitted %zu %s jobs, %s each (no --gpu-mem or --cpu given; the "
                 "broker's default for %s)\n",
                 g->prog, n, s->kind->name, what, s->kind->name);
}

/* Whether a typed input's value names a job (JOB or JOB:OUTPUT) as
   segq_job_spec_input_ref reads it: no local path, model, hash or array. */
static bool
s_names_job (const cli_typed_input_t *in)
{
    struct stat st;
    const char *ref = in->ref;
    size_t len = strcspn (ref, ":");
    return !in->plural && !in->spec->catalogue && stat (ref, &st) != 0 && len > 0
           && len < SEGQ_JOB_ID_MAX && !memchr (ref, '/', len) && !memchr (ref, '.', len)
           && !segq_hash_valid (ref) && !segq_array_id (ref) && strncmp (ref, "m-", 2) != 0;
}

/* One job refused by the broker, said. An input naming a job it does not
   know is said in the words of a missing file, as segq_job_spec_input_ref
   says one with a dot or a slash: the user may have meant either, and
   "unknown job" alone hides the file they mistyped. */
static int
s_refused (const cli_globals_t *g, segq_client_t *client, const cli_submit_args_t *s,
           const char *which, const segq_submit_reply_t *reply)
{
    for (size_t i = 0; !*which && reply->code == SEGQ_ENOENT && i < s->n_inputs; i++) {
        const cli_typed_input_t *in = &s->inputs [i];
        char job [SEGQ_JOB_ID_MAX];
        segq_job_info_t info;
        if (!s_names_job (in))
            continue;
        snprintf (job, sizeof job, "%.*s", (int) strcspn (in->ref, ":"), in->ref);
        int rc = segq_client_job (client, job, false, &info);
        if (rc == 0)
            segq_job_info_clear (&info);
        if (rc == SEGQ_ENOENT)
            return cli_usage_error (g, s->command,
                                    "input %s: cannot read '%s' (no such file or folder, and not "
                                    "a job id)",
                                    in->spec->name, in->ref);
    }
    return cli_error (g, s->command, CLI_FAILED, "%s%s", which, reply->message);
}

/* Submits the jobs of specs[0..n) (made from s) pipelined; their ids into
   ids (owned). */
int
cli_submit_all (cli_globals_t *g, segq_client_t *client, const cli_submit_args_t *s,
                segq_job_spec_t **specs, size_t n, char **ids)
{
    uint64_t *req = calloc (n + 1, sizeof *req);
    if (!req)
        return cli_error (g, "submit", CLI_FAILED, "out of memory");
    int rc = CLI_OK;
    size_t sent = 0;
    char which [64] = ""; /* "job 3 of 10: ", nothing for one job */
    for (; sent < n; sent++)
        if (segq_client_submit_send (client, specs [sent], &req [sent]) < 0) {
            if (n > 1)
                snprintf (which, sizeof which, "job %zu of %zu: ", sent + 1, n);
            rc = cli_error (g, "submit", CLI_FAILED, "%s%s", which, segq_client_error (client));
            break;
        }
    segq_submit_reply_t first = { 0 };
    for (size_t got = 0; got < sent; got++) {
        segq_submit_reply_t reply;
        if (segq_client_submit_recv (client, -1, &reply) < 0) {
            rc = cli_error (g, "submit", CLI_FAILED, "%s", segq_client_error (client));
            break;
        }
        size_t k = 0;
        while (k < sent && req [k] != reply.req_id)
            k++;
        if (k == sent)
            continue;
        if (n > 1)
            snprintf (which, sizeof which, "job %zu of %zu refused: ", k + 1, n);
        if (reply.code != 0)
            rc = s_refused (g, client, s, which, &reply);
        else if (!(ids [k] = strdup (reply.job)))
            rc = cli_error (g, "submit", CLI_FAILED, "out of memory");
        else if (k == 0)
            first = reply;
    }
    if (rc == CLI_OK)
        s_say_resources (g, s, &first, n);
    free (req);
    return rc;
}

void
cli_submit_cancel (const cli_globals_t *g, segq_client_t *client, const char *cmd,
                   const char *whole, const char *const *sent, size_t n)
{
    if (!n)
        return;
    segq_cancel_outcome_t *out = NULL;
    size_t n_out = 0;
    if (segq_client_cancel (client, sent, n, &out, &n_out) == 0)
        cli_error (g, cmd, CLI_FAILED,
                   "the %zu job(s) it had submitted (%s ...) are cancelled: nothing of the %s runs",
                   n, sent [0], whole);
    else {
        /* they will run: every id, for the user to cancel them */
        fprintf (stderr,
                 "%s %s: %zu job(s) it had submitted could not be cancelled (%s): cancel "
                 "them (segq cancel",
                 g->prog, cmd, n, segq_client_error (client));
        for (size_t k = 0; k < n; k++)
            fprintf (stderr, " %s", sent [k]);
        fprintf (stderr, ")\n");
    }
    segq_cancel_outcomes_free (&out, n_out);
}

/* A job array refused in part (the broker saw what the CLI could not: a
   job it reads failed, a limit reached) is submitted whole or not at
   all, as a pipeline is: the jobs it accepted, ids[k] where not NULL, are
   cancelled. */
static void
s_cancel_accepted (const cli_globals_t *g, segq_client_t *client, char **ids, size_t n)
{
    const char **accepted = calloc (n + 1, sizeof *accepted);
    size_t n_accepted = 0;
    for (size_t k = 0; accepted && k < n; k++)
        if (ids [k])
            accepted [n_accepted++] = ids [k];
    if (accepted)
        cli_submit_cancel (g, client, "submit", "job array", accepted, n_accepted);
    else
        cli_error (g, "submit", CLI_FAILED, "out of memory: cancel the jobs it had submitted");
    free (accepted);
}

/* One job per element of the plan, grouped as a job array. */
static int
s_submit_array (cli_globals_t *g, segq_client_t **client, const cli_submit_args_t *s,
                const cli_array_plan_t *plan)
{
    segq_job_spec_t **specs = calloc (plan->n, sizeof *specs);
    char **ids = calloc (plan->n, sizeof *ids);
    const char **files = calloc (s->n_inputs + 1, sizeof *files);
    int rc = specs && ids && files ? CLI_OK : cli_error (g, "submit", CLI_FAILED, "out of memory");
    for (size_t k = 0; k < plan->n && rc == CLI_OK; k++) {
        for (size_t i = 0; i < s->n_inputs; i++)
            files [i] = plan->files [i] ? plan->files [i][k] : NULL;
        rc = cli_submit_spec (g, s, files, &specs [k]);
    }
    if (rc == CLI_OK && !*client)
        rc = cli_connect (g, client);
    bool sent = rc == CLI_OK;
    if (sent)
        rc = cli_submit_all (g, *client, s, specs, plan->n, ids);
    segq_array_info_t array = { 0 };
    if (rc == CLI_OK
        && segq_client_array_create (*client, (const char *const *) ids, plan->n, &array) < 0)
        rc = cli_error (g, "submit", CLI_FAILED, "grouping the %zu jobs as an array failed: %s",
                        plan->n, segq_client_error (*client));
    if (rc != CLI_OK && sent)
        s_cancel_accepted (g, *client, ids, plan->n);
    if (rc == CLI_OK && g->json) {
        json_t *jobs = json_array ();
        for (size_t k = 0; jobs && k < plan->n; k++)
            json_array_append_new (jobs, json_string (ids [k]));
        rc = cli_print_json (json_pack ("{s:s,s:o*}", "array", array.array, "jobs", jobs));
    } else if (rc == CLI_OK)
        printf ("%s\n", array.array);
    segq_array_info_clear (&array);
    for (size_t k = 0; specs && k < plan->n; k++)
        segq_job_spec_destroy (&specs [k]);
    free (specs);
    cli_ids_free (ids, plan->n);
    free (files);
    return rc;
}

/* A kind the table lacks, said with the closest one it has (as the Python
   client and segqd.conf do), else as libsegq says it: with every kind. */
static int
s_unknown_kind (const cli_globals_t *g, const char *name)
{
    const char *near = segq_kind_name_suggest (name);
    if (near)
        return cli_usage_error (g, "submit", "unknown job kind '%s' (did you mean '%s'?)", name,
                                near);
    char err [512];
    segq_job_spec_t *unknown = segq_job_spec_new (name);
    if (unknown)
        segq_job_spec_validate (unknown, err, sizeof err);
    else
        snprintf (err, sizeof err, "unknown job kind '%s'", name);
    segq_job_spec_destroy (&unknown);
    return cli_usage_error (g, "submit", "%s", err);
}

int
cli_submit (cli_globals_t *g, int argc, char **argv)
{
    if (argc > 1 && strcmp (argv [1], "pipeline") == 0)
        return cli_submit_pipeline (g, argc - 1, argv + 1);
    cli_submit_args_t s;
    segq_job_spec_t *spec = NULL;
    segq_client_t *client = NULL;
    if (cli_submit_args_init (&s, argc) < 0) {
        cli_submit_args_clear (&s);
        return cli_error (g, "submit", CLI_FAILED, "out of memory");
    }
    int rc = cli_submit_parse (g, &s, argc, argv);
    if (rc != CLI_OK)
        goto done;
    if (s.help) {
        s_submit_help (s.kind);
        if (s.kind_name && !s.kind)
            rc = s_unknown_kind (g, s.kind_name);
        goto done;
    }
    if (!s.kind_name) {
        rc = cli_usage_error (g, "submit",
                              "which kind of job? (e.g. `segq submit sleep --seconds 2`)");
        goto done;
    }
    if (!s.kind) {
        rc = s_unknown_kind (g, s.kind_name);
        goto done;
    }
    cli_array_plan_t plan;
    if ((rc = cli_array_plan (g, &client, &s, &plan)) != CLI_OK)
        goto done;
    if (plan.n) {
        rc = s_submit_array (g, &client, &s, &plan);
        cli_array_plan_clear (&plan);
        goto done;
    }
    if ((rc = cli_submit_spec (g, &s, NULL, &spec)) != CLI_OK)
        goto done;
    if (!client && (rc = cli_connect (g, &client)) != CLI_OK)
        goto done;
    if ((rc = s_check_folds (g, client, &s)) != CLI_OK)
        goto done;
    char *job = NULL;
    rc = cli_submit_all (g, client, &s, &spec, 1, &job);
    if (rc == CLI_OK && g->json)
        rc = cli_print_json (json_pack ("{s:s}", "job", job));
    else if (rc == CLI_OK)
        printf ("%s\n", job);
    free (job);
done:
    segq_client_destroy (&client);
    segq_job_spec_destroy (&spec);
    cli_submit_args_clear (&s);
    return rc;
}
