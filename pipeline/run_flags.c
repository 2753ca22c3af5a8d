/* The flag table of segq-run and its parser. The job parameters' rules
 * (defaults are SINGAN-SEG.md's published ones; change them only with the
 * spec) live in proto/segq_kinds.c. */
#include "segq_run_flags.h"
#include "segq_error.h"
#include "segq_schema.h"
#include "segq_singan.h"
#include "segq_torch.h"
#include "evaluate.h"
#include "stylize.h"

#include <jansson.h>
#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#define T(f) offsetof(segq_train_opts_t, f)
#define G(f) offsetof(segq_generate_opts_t, f)
#define S(f) offsetof(segq_stylize_opts_t, f)
#define E(f) offsetof(segq_evaluate_opts_t, f)

/* A job parameter: its type, default, range, choices and help come from the
 * kind's row in proto's schema table (proto/segq_kinds.c), the one table the
 * CLI, the broker and segq-run all read; only where the value lands is here. */
#define PARAM(name, field)                                                                         \
    {                                                                                              \
        name, 0, NULL, 0, 0, NULL, NULL, field                                                     \
    }

/* A job input: a path flag, required as the kind's input is, with its help
 * from the same row. */
#define INPUT(name, field)                                                                         \
    {                                                                                              \
        name, SEGQ_FLAG_STRING, NULL, 0, 0, NULL, NULL, field                                      \
    }

/* Every kind writes into the directory --out names. */
#define OUT_FLAG(field)                                                                            \
    {                                                                                              \
        "out", SEGQ_FLAG_STRING, NULL, 0, 0, NULL, "output directory", field                       \
    }

/* Flags the worker sets itself (inputs, output, placement) are not job
 * parameters, so they are described here in full. */
#define COMPUTE_FLAGS(OFF)                                                                         \
    {                                                                                              \
        "device",                                                                                  \
        SEGQ_FLAG_STRING,                                                                          \
        "cpu",                                                                                     \
        0,                                                                                         \
        0,                                                                                         \
        NULL,                                                                                      \
        "compute device: cpu, cuda or cuda:N",                                                     \
        OFF(compute.device)},                                                                      \
        {"threads",                                                                                \
         SEGQ_FLAG_INT,                                                                            \
         "0",                                                                                      \
         0,                                                                                        \
         4096,                                                                                     \
         NULL,                                                                                     \
         "CPU threads for libtorch (0 = $SEGQ_CPU_SLOTS if set, else all cores)",                  \
         OFF(compute.threads)},                                                                    \
        PARAM("precision", OFF(compute.precision)), PARAM("seed", OFF(compute.seed))

static segq_flag_t train_flags[] = {
    {"image", SEGQ_FLAG_STRING, NULL, 0, 0, NULL, "training image (PNG or JPEG)", T(image)},
    {"mask", SEGQ_FLAG_STRING, "", 0, 0, NULL,
     "its segmentation mask (PNG or JPEG, same size); required unless --mask-from-alpha", T(mask)},
    OUT_FLAG(T(out)),
    PARAM("name", T(name)),
    PARAM("mask_from_alpha", T(mask_from_alpha)),
    {"resume", SEGQ_FLAG_BOOL, "false", 0, 0, NULL,
     "continue from OUT/model.safetensors after its last finished scale", T(resume)},
    PARAM("min_size", T(min_size)),
    PARAM("max_size", T(max_size)),
    PARAM("scale_factor", T(scale_factor)),
    PARAM("niter", T(niter)),
    PARAM("lr_g", T(lr_g)),
    PARAM("lr_d", T(lr_d)),
    PARAM("beta1", T(beta1)),
    PARAM("beta2", T(beta2)),
    PARAM("lr_milestone", T(lr_milestone)),
    PARAM("gamma", T(gamma)),
    PARAM("d_steps", T(d_steps)),
    PARAM("g_steps", T(g_steps)),
    PARAM("lambda_grad", T(lambda_grad)),
    PARAM("alpha", T(alpha)),
    PARAM("noise_amp_init", T(noise_amp_init)),
    PARAM("nfc", T(nfc)),
    PARAM("nfc_max", T(nfc_max)),
    PARAM("num_layer", T(num_layer)),
    PARAM("ker_size", T(ker_size)),
    PARAM("previews", T(previews)),
    PARAM("stop_after_scale", T(stop_after_scale)),
    PARAM("cuda_graph", T(cuda_graph)),
    COMPUTE_FLAGS(T),
};

static segq_flag_t generate_flags[] = {
    {"model", SEGQ_FLAG_STRING, NULL, 0, 0, NULL, "checkpoint (model.safetensors)", G(model)},
    OUT_FLAG(G(out)),
    PARAM("count", G(count)),
    PARAM("gen_start_scale", G(gen_start_scale)),
    PARAM("scale_h", G(scale_h)),
    PARAM("scale_v", G(scale_v)),
    PARAM("batch", G(batch)),
    PARAM("model_id", G(model_id)),
    PARAM("model_name", G(model_name)),
    COMPUTE_FLAGS(G),
};

static segq_flag_t stylize_flags[] = {
    INPUT("content", S(content)),
    INPUT("style", S(style)),
    INPUT("vgg19", S(vgg19)),
    OUT_FLAG(S(out)),
    PARAM("content_weight", S(content_weight)),
    PARAM("style_weight", S(style_weight)),
    PARAM("steps", S(steps)),
    PARAM("lr", S(lr)),
    PARAM("batch", S(batch)),
    PARAM("log_every", S(log_every)),
    COMPUTE_FLAGS(S),
};

/* --synthetic repeats, so segq_evaluate_take_synthetic collects it before
 * this table is read; its row is here for --help and the schema check. */
static segq_flag_t evaluate_flags[] = {
    INPUT("real", E(real)),
    INPUT("synthetic", E(synthetic_flag)),
    INPUT("test", E(test)),
    OUT_FLAG(E(out)),
    PARAM("folds", E(folds)),
    PARAM("epochs", E(epochs)),
    PARAM("size", E(size)),
    PARAM("batch", E(batch)),
    PARAM("lr", E(lr)),
    PARAM("lr_after", E(lr_after)),
    PARAM("lr_drop_epoch", E(lr_drop_epoch)),
    PARAM("val_fraction", E(val_fraction)),
    PARAM("real_limit", E(real_limit)),
    PARAM("depth", E(depth)),
    PARAM("width", E(width)),
    INPUT("encoder_weights", E(encoder_weights)),
    PARAM("augment", E(augment)),
    PARAM("examples", E(examples)),
    PARAM("save_models", E(save_models)),
    COMPUTE_FLAGS(E),
};

static int check_train(const void *opts, char *err, size_t errlen)
{
    const segq_train_opts_t *o = opts;
    int from_alpha = o->mask_from_alpha, has_mask = o->mask && *o->mask;
    if (from_alpha && has_mask) {
        snprintf(err, errlen, "give either --mask or --mask-from-alpha, not both");
        return SEGQ_EINVAL;
    }
    if (!from_alpha && !has_mask) {
        snprintf(err, errlen,
                 "--mask is required (or --mask-from-alpha for an RGBA image whose alpha is "
                 "the mask)");
        return SEGQ_EINVAL;
    }
    return 0;
}

static const segq_command_t commands[] = {
    {"train", "segq-run train --image IMG --mask MASK --out DIR [flags]",
     "train a 4-channel SinGAN on one image + mask", train_flags,
     sizeof train_flags / sizeof train_flags[0], check_train},
    {"generate", "segq-run generate --model DIR/model.safetensors --out DIR [flags]",
     "sample image/mask pairs from a trained model", generate_flags,
     sizeof generate_flags / sizeof generate_flags[0], NULL},
    {"stylize",
     "segq-run stylize --content DATASET --vgg19 WEIGHTS.safetensors --out DIR [--style IMG|DIR] "
     "[flags]",
     "transfer a real image's style onto generated images (masks kept)", stylize_flags,
     sizeof stylize_flags / sizeof stylize_flags[0], NULL},
    {"evaluate",
     "segq-run evaluate --real DIR --out DIR [--folds 3] [--synthetic NAME=DIR ...] [--test DIR] "
     "[flags]",
     "train UNet++ on real and synthetic sets, measure on real data (k-fold)", evaluate_flags,
     sizeof evaluate_flags / sizeof evaluate_flags[0], NULL},
    {"devices", "segq-run devices", "print the compute devices as JSON", NULL, 0, NULL},
};

_Static_assert((int)SEGQ_FLAG_INT == (int)SEGQ_PARAM_INT
                   && (int)SEGQ_FLAG_FLOAT == (int)SEGQ_PARAM_FLOAT
                   && (int)SEGQ_FLAG_BOOL == (int)SEGQ_PARAM_BOOL
                   && (int)SEGQ_FLAG_STRING == (int)SEGQ_PARAM_STRING
                   && (int)SEGQ_FLAG_CHOICE == (int)SEGQ_PARAM_CHOICE,
               "segq-run flag types are proto's parameter types");

/* Fills every PARAM entry from the job kind's schema row, once. A
 * parameter missing from the row is a build mistake (tests/e2e/test_schema.c
 * catches it): segq-run refuses to run rather than guess. */
static pthread_once_t schema_once = PTHREAD_ONCE_INIT;

static void schema_resolve(void)
{
    for (size_t c = 0; c < sizeof commands / sizeof commands[0]; c++) {
        const segq_kind_spec_t *kind = segq_kind_find(commands[c].name);
        segq_flag_t *flags = (segq_flag_t *)commands[c].flags;
        for (size_t i = 0; i < commands[c].n_flags; i++) {
            if (flags[i].type == SEGQ_FLAG_STRING && !flags[i].help) {
                const segq_input_spec_t *in = segq_kind_input(kind, flags[i].name);
                if (!in) {
                    fprintf(stderr, "segq-run: %s --%s has no input in proto/segq_kinds.c\n",
                            commands[c].name, flags[i].name);
                    abort();
                }
                flags[i].default_value = in->required ? NULL : "";
                flags[i].help = in->help;
                continue;
            }
            if (flags[i].type != 0)
                continue;
            const segq_param_spec_t *p = kind ? segq_kind_param(kind, flags[i].name) : NULL;
            if (!p) {
                fprintf(stderr, "segq-run: %s --%s has no parameter in proto/segq_kinds.c\n",
                        commands[c].name, flags[i].name);
                abort();
            }
            flags[i].type = (segq_flag_type_t)p->type;
            flags[i].default_value = p->default_value;
            flags[i].min = p->min;
            flags[i].max = p->max;
            flags[i].choices = p->choices;
            flags[i].help = p->help;
        }
    }
}

const segq_command_t *segq_run_commands(size_t *count)
{
    pthread_once(&schema_once, schema_resolve);
    *count = sizeof commands / sizeof commands[0];
    return commands;
}

const segq_command_t *segq_run_command_find(const char *name)
{
    pthread_once(&schema_once, schema_resolve);
    for (size_t i = 0; i < sizeof commands / sizeof commands[0]; i++)
        if (strcmp(commands[i].name, name) == 0)
            return &commands[i];
    return NULL;
}

/* "min-size" and "min_size" both name min_size. */
static int name_matches(const char *table, const char *arg, size_t len)
{
    if (strlen(table) != len)
        return 0;
    for (size_t i = 0; i < len; i++) {
        char a = arg[i] == '-' ? '_' : arg[i];
        if (a != table[i])
            return 0;
    }
    return 1;
}

/* The text is read by proto's parser, as the broker reads a submitted
 * parameter, so segq-run takes what the queue accepted and words its
 * refusals alike ("train --niter: 'x' is not an integer ..."); only where
 * the value lands is segq-run's own. */
static int set_value(const segq_command_t *cmd, const segq_flag_t *f, const char *text, void *opts,
                     char *err, size_t errlen)
{
    char flag[64], name[96];
    segq_flag_name(f->name, flag, sizeof flag);
    snprintf(name, sizeof name, "%s --%s", cmd->name, flag);
    const segq_param_spec_t spec = {
        name, (segq_param_type_t)f->type, f->default_value, f->min, f->max, f->choices, f->help};
    segq_value_t value;
    int rc = segq_param_parse(&spec, text, &value, err, errlen);
    if (rc)
        return rc;
    char *field = (char *)opts + f->offset;
    switch (f->type) {
    case SEGQ_FLAG_INT:
        *(int64_t *)field = value.i;
        break;
    case SEGQ_FLAG_FLOAT:
        *(double *)field = value.f;
        break;
    case SEGQ_FLAG_BOOL:
        *(int *)field = value.b;
        break;
    case SEGQ_FLAG_STRING:
    case SEGQ_FLAG_CHOICE:
        free(*(char **)field);
        *(char **)field = value.s;
        break;
    }
    return 0;
}

static int set_defaults(const segq_command_t *cmd, void *opts, char *err, size_t errlen)
{
    for (size_t i = 0; i < cmd->n_flags; i++) {
        const segq_flag_t *f = &cmd->flags[i];
        if (f->default_value) {
            int rc = set_value(cmd, f, f->default_value, opts, err, errlen);
            if (rc)
                return rc;
        }
    }
    return 0;
}

/* The flag named by the len bytes at name, or a boolean's --no- form
 * (*negate set); its index into *idx. NULL if none. */
static const segq_flag_t *find_flag(const segq_command_t *cmd, const char *name, size_t len,
                                    size_t *idx, int *negate)
{
    *negate = 0;
    for (*idx = 0; *idx < cmd->n_flags; (*idx)++)
        if (name_matches(cmd->flags[*idx].name, name, len))
            return &cmd->flags[*idx];
    if (len <= 3 || strncmp(name, "no-", 3) != 0)
        return NULL;
    for (*idx = 0; *idx < cmd->n_flags; (*idx)++)
        if (cmd->flags[*idx].type == SEGQ_FLAG_BOOL
            && name_matches(cmd->flags[*idx].name, name + 3, len - 3)) {
            *negate = 1;
            return &cmd->flags[*idx];
        }
    return NULL;
}

/* The error for an unknown flag, with the closest known one as a hint. */
static int unknown_flag(const segq_command_t *cmd, const char *name, size_t len, char *err,
                        size_t errlen)
{
    char word[64], hint[96] = "";
    snprintf(word, sizeof word, "%.*s", (int)len, name);
    const char *names[128];
    size_t n = 0;
    for (size_t i = 0; i < cmd->n_flags && n < 128; i++)
        names[n++] = cmd->flags[i].name;
    const char *close = segq_suggest(word, names, n);
    if (close) {
        char d[64];
        segq_flag_name(close, d, sizeof d);
        snprintf(hint, sizeof hint, "did you mean --%s? ", d);
    }
    snprintf(err, errlen, "%s: unknown flag '--%s' (%ssee segq-run %s --help)", cmd->name, word,
             hint, cmd->name);
    return SEGQ_EINVAL;
}

/* The argument at argv[*a] (and its value, the next one unless given as
 * --flag=value or a boolean), set in opts and marked seen. 1 after --help. */
static int parse_arg(const segq_command_t *cmd, int argc, char **argv, int *a, void *opts,
                     char *seen, char *err, size_t errlen)
{
    const char *arg = argv[*a];
    if (strcmp(arg, "--help") == 0 || strcmp(arg, "-h") == 0) {
        segq_flags_help(cmd, stdout);
        return 1;
    }
    if (strncmp(arg, "--", 2) != 0) {
        snprintf(err, errlen,
                 "%s: unexpected argument '%s' (flags start with --; see "
                 "segq-run %s --help)",
                 cmd->name, arg, cmd->name);
        return SEGQ_EINVAL;
    }
    const char *name = arg + 2, *eq = strchr(name, '=');
    size_t len = eq ? (size_t)(eq - name) : strlen(name), idx;
    int negate;
    const segq_flag_t *f = find_flag(cmd, name, len, &idx, &negate);
    if (!f)
        return unknown_flag(cmd, name, len, err, errlen);
    const char *value;
    if (eq)
        value = eq + 1;
    else if (f->type == SEGQ_FLAG_BOOL)
        value = negate ? "false" : "true";
    else if (*a + 1 < argc)
        value = argv[++*a];
    else {
        snprintf(err, errlen, "%s: flag '--%.*s' needs a value", cmd->name, (int)len, name);
        return SEGQ_EINVAL;
    }
    seen[idx] = 1;
    return set_value(cmd, f, value, opts, err, errlen);
}

static int check_required(const segq_command_t *cmd, const char *seen, char *err, size_t errlen)
{
    for (size_t i = 0; i < cmd->n_flags; i++)
        if (!cmd->flags[i].default_value && !seen[i]) {
            char flag[64];
            segq_flag_name(cmd->flags[i].name, flag, sizeof flag);
            snprintf(err, errlen, "%s: --%s is required (%s)", cmd->name, flag, cmd->flags[i].help);
            return SEGQ_EINVAL;
        }
    return 0;
}

/* The --device of a command that computes, as spelt: `--device tpu` is a
 * bad command line; whether this machine has the device is the run's to
 * say (segq__compute_setup). */
static int check_device(const segq_command_t *cmd, const void *opts, char *err, size_t errlen)
{
    for (size_t i = 0; i < cmd->n_flags; i++) {
        if (strcmp(cmd->flags[i].name, "device") != 0)
            continue;
        const char *device = *(char *const *)((const char *)opts + cmd->flags[i].offset);
        segqt_device dev;
        if (segqt_device_parse(device, &dev) == 0)
            return 0;
        snprintf(err, errlen, "--device %s: %s", device, segqt_last_error());
        return SEGQ_EINVAL;
    }
    return 0;
}

int segq_flags_check(const segq_command_t *cmd, const void *opts, char *err, size_t errlen)
{
    char why[1024] = "";
    int rc = check_device(cmd, opts, why, sizeof why);
    if (rc == 0 && cmd->check)
        rc = cmd->check(opts, why, sizeof why);
    if (rc)
        snprintf(err, errlen, "%s: %s", cmd->name, why);
    return rc;
}

int segq_flags_parse(const segq_command_t *cmd, int argc, char **argv, void *opts, char *err,
                     size_t errlen)
{
    int rc = set_defaults(cmd, opts, err, errlen);
    if (rc)
        return rc;
    char *seen = calloc(cmd->n_flags + 1, 1);
    if (!seen) {
        snprintf(err, errlen, "out of memory");
        return SEGQ_ENOMEM;
    }
    for (int a = 0; a < argc && rc == 0; a++)
        rc = parse_arg(cmd, argc, argv, &a, opts, seen, err, errlen);
    if (rc == 0)
        rc = check_required(cmd, seen, err, errlen);
    free(seen);
    return rc;
}

void segq_flags_free(const segq_command_t *cmd, void *opts)
{
    for (size_t i = 0; i < cmd->n_flags; i++) {
        const segq_flag_t *f = &cmd->flags[i];
        if (f->type == SEGQ_FLAG_STRING || f->type == SEGQ_FLAG_CHOICE) {
            char **field = (char **)((char *)opts + f->offset);
            free(*field);
            *field = NULL;
        }
    }
}

void segq_flags_help(const segq_command_t *cmd, FILE *out)
{
    fprintf(out, "usage: %s\n%s\n\nflags:\n", cmd->usage, cmd->help);
    for (size_t i = 0; i < cmd->n_flags; i++) {
        const segq_flag_t *f = &cmd->flags[i];
        char flag[64];
        segq_flag_name(f->name, flag, sizeof flag);
        static const char *types[] = {"", "INT", "NUM", "", "TEXT", ""};
        const char *type = f->type == SEGQ_FLAG_CHOICE ? f->choices : types[f->type];
        char range[80] = ""; /* as `segq submit KIND --help` shows it */
        if (f->type == SEGQ_FLAG_INT || f->type == SEGQ_FLAG_FLOAT)
            snprintf(range, sizeof range, "%g..%g, ", f->min, f->max);
        fprintf(out, "  --%s%s%s\n      %s", flag, *type ? " " : "", type, f->help);
        if (!f->default_value)
            fprintf(out, " (%srequired)\n", range);
        else if (f->type == SEGQ_FLAG_BOOL)
            fprintf(out, "\n");
        else
            fprintf(out, " (%sdefault %s)\n", range, *f->default_value ? f->default_value : "none");
    }
}

char *segq_flags_to_json(const segq_command_t *cmd, const void *opts)
{
    json_t *obj = json_object();
    if (!obj)
        return NULL;
    for (size_t i = 0; i < cmd->n_flags; i++) {
        const segq_flag_t *f = &cmd->flags[i];
        const char *field = (const char *)opts + f->offset;
        json_t *v = NULL;
        switch (f->type) {
        case SEGQ_FLAG_INT:
            v = json_integer(*(const int64_t *)field);
            break;
        case SEGQ_FLAG_FLOAT:
            v = json_real(*(const double *)field);
            break;
        case SEGQ_FLAG_BOOL:
            v = json_boolean(*(const int *)field);
            break;
        case SEGQ_FLAG_STRING:
        case SEGQ_FLAG_CHOICE: {
            const char *s = *(char *const *)field;
            v = s ? json_string(s) : json_null();
            break;
        }
        }
        if (!v || json_object_set_new(obj, f->name, v)) {
            json_decref(obj);
            return NULL;
        }
    }
    char *text = json_dumps(obj, JSON_COMPACT | JSON_SORT_KEYS | JSON_REAL_PRECISION(17));
    json_decref(obj);
    return text;
}
