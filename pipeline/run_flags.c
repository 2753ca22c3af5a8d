/* The flag table of segq-run and its parser. Defaults are SINGAN-SEG.md's
 * published ones; change them only with the spec. */
#include "segq_run_flags.h"
#include "segq_error.h"
#include "segq_singan.h"

#include <errno.h>
#include <jansson.h>
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#define T(f) offsetof(segq_train_opts_t, f)
#define G(f) offsetof(segq_generate_opts_t, f)
#define BIG 1e9

#define COMPUTE_FLAGS(OFF)                                                                 \
    {"device", SEGQ_FLAG_STRING, "cpu", 0, 0, NULL,                                        \
     "compute device: cpu, cuda or cuda:N", OFF(compute.device)},                          \
    {"threads", SEGQ_FLAG_INT, "0", 0, 4096, NULL,                                         \
     "CPU threads for libtorch (0 = $SEGQ_CPU_SLOTS if set, else all cores)",             \
     OFF(compute.threads)},                                                                \
    {"precision", SEGQ_FLAG_CHOICE, "fp32", 0, 0, "fp32|bf16",                             \
     "arithmetic of convolutions: fp32, or bf16 with fp32 weights and statistics",         \
     OFF(compute.precision)},                                                              \
    {"seed", SEGQ_FLAG_INT, "0", 0, 9007199254740991.0, NULL,                              \
     "random seed; the same seed gives the same result on CPU", OFF(compute.seed)}

static const segq_flag_t train_flags[] = {
    {"image", SEGQ_FLAG_STRING, NULL, 0, 0, NULL, "training image (PNG or JPEG)", T(image)},
    {"mask", SEGQ_FLAG_STRING, "", 0, 0, NULL,
     "its segmentation mask (PNG or JPEG, same size); required unless --mask-from-alpha",
     T(mask)},
    {"out", SEGQ_FLAG_STRING, NULL, 0, 0, NULL, "output directory", T(out)},
    {"mask_from_alpha", SEGQ_FLAG_BOOL, "false", 0, 0, NULL,
     "take the mask from the image's alpha channel (RGBA input)", T(mask_from_alpha)},
    {"resume", SEGQ_FLAG_BOOL, "false", 0, 0, NULL,
     "continue from OUT/model.safetensors after its last finished scale", T(resume)},
    {"min_size", SEGQ_FLAG_INT, "25", 3, 100000, NULL, "coarsest scale's shorter side",
     T(min_size)},
    {"max_size", SEGQ_FLAG_INT, "250", 3, 100000, NULL, "finest scale's longer side",
     T(max_size)},
    {"scale_factor", SEGQ_FLAG_FLOAT, "0.75", 0.05, 0.99, NULL,
     "nominal factor between scales (the working factor r is derived from it)",
     T(scale_factor)},
    {"niter", SEGQ_FLAG_INT, "2000", 1, BIG, NULL, "iterations per scale", T(niter)},
    {"lr_g", SEGQ_FLAG_FLOAT, "0.0005", 0, 1, NULL, "generator learning rate (Adam)", T(lr_g)},
    {"lr_d", SEGQ_FLAG_FLOAT, "0.0005", 0, 1, NULL, "discriminator learning rate (Adam)",
     T(lr_d)},
    {"beta1", SEGQ_FLAG_FLOAT, "0.5", 0, 0.999999, NULL, "Adam beta1", T(beta1)},
    {"beta2", SEGQ_FLAG_FLOAT, "0.999", 0, 0.999999, NULL, "Adam beta2", T(beta2)},
    {"lr_milestone", SEGQ_FLAG_INT, "1600", 0, BIG, NULL,
     "iteration from which the learning rates are multiplied by gamma", T(lr_milestone)},
    {"gamma", SEGQ_FLAG_FLOAT, "0.1", 0, 1, NULL, "learning-rate decay factor", T(gamma)},
    {"d_steps", SEGQ_FLAG_INT, "3", 1, 100, NULL, "discriminator steps per iteration",
     T(d_steps)},
    {"g_steps", SEGQ_FLAG_INT, "3", 1, 100, NULL,
     "the authors' generator passes per iteration: the update is computed once, the "
     "other passes only move BatchNorm statistics",
     T(g_steps)},
    {"lambda_grad", SEGQ_FLAG_FLOAT, "0.1", 0, BIG, NULL, "WGAN-GP gradient penalty weight",
     T(lambda_grad)},
    {"alpha", SEGQ_FLAG_FLOAT, "10", 0, BIG, NULL, "reconstruction loss weight", T(alpha)},
    {"noise_amp_init", SEGQ_FLAG_FLOAT, "0.1", 0, BIG, NULL,
     "noise amplitude = this x RMSE of the coarser reconstruction", T(noise_amp_init)},
    {"nfc", SEGQ_FLAG_INT, "32", 1, 4096, NULL,
     "width of scales 0-3, doubled every 4 scales", T(nfc)},
    {"nfc_max", SEGQ_FLAG_INT, "128", 1, 4096, NULL, "largest width", T(nfc_max)},
    {"num_layer", SEGQ_FLAG_INT, "5", 3, 64, NULL, "conv layers per network", T(num_layer)},
    {"ker_size", SEGQ_FLAG_INT, "3", 1, 15, NULL, "kernel size (odd)", T(ker_size)},
    {"previews", SEGQ_FLAG_INT, "3", 0, 100, NULL, "random preview samples per scale",
     T(previews)},
    {"stop_after_scale", SEGQ_FLAG_INT, "-1", -1, 63, NULL,
     "stop once this scale is saved (-1: train every scale)", T(stop_after_scale)},
    COMPUTE_FLAGS(T),
};

static const segq_flag_t generate_flags[] = {
    {"model", SEGQ_FLAG_STRING, NULL, 0, 0, NULL, "checkpoint (model.safetensors)", G(model)},
    {"out", SEGQ_FLAG_STRING, NULL, 0, 0, NULL, "output directory", G(out)},
    {"count", SEGQ_FLAG_INT, "50", 1, 10000000, NULL, "image/mask pairs to generate",
     G(count)},
    {"gen_start_scale", SEGQ_FLAG_INT, "0", 0, 63, NULL,
     "first scale with fresh noise (0 = fully random layout)", G(gen_start_scale)},
    {"scale_h", SEGQ_FLAG_FLOAT, "1", 0.1, 20, NULL, "output width factor", G(scale_h)},
    {"scale_v", SEGQ_FLAG_FLOAT, "1", 0.1, 20, NULL, "output height factor", G(scale_v)},
    {"batch", SEGQ_FLAG_INT, "16", 1, 4096, NULL, "samples per forward pass", G(batch)},
    COMPUTE_FLAGS(G),
};

static const segq_command_t commands[] = {
    {"train", "segq-run train --image IMG --mask MASK --out DIR [flags]",
     "train a 4-channel SinGAN on one image + mask", train_flags,
     sizeof train_flags / sizeof train_flags[0]},
    {"generate", "segq-run generate --model DIR/model.safetensors --out DIR [flags]",
     "sample image/mask pairs from a trained model", generate_flags,
     sizeof generate_flags / sizeof generate_flags[0]},
    {"devices", "segq-run devices", "print the compute devices as JSON", NULL, 0},
};

const segq_command_t *segq_run_commands(size_t *count)
{
    *count = sizeof commands / sizeof commands[0];
    return commands;
}

const segq_command_t *segq_run_command_find(const char *name)
{
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

static void dashed(const char *name, char *buf, size_t len)
{
    size_t i = 0;
    for (; name[i] && i + 1 < len; i++)
        buf[i] = name[i] == '_' ? '-' : name[i];
    buf[i] = '\0';
}

static int set_value(const segq_flag_t *f, const char *text, void *opts, char *err,
                     size_t errlen)
{
    char *field = (char *)opts + f->offset;
    char flag[64];
    dashed(f->name, flag, sizeof flag);
    switch (f->type) {
    case SEGQ_FLAG_INT: {
        char *end = NULL;
        errno = 0;
        long long v = strtoll(text, &end, 10);
        if (errno || end == text || *end || (double)v < f->min || (double)v > f->max) {
            snprintf(err, errlen, "--%s: '%s' is not an integer in %.0f..%.0f", flag, text,
                     f->min, f->max);
            return SEGQ_EINVAL;
        }
        *(int64_t *)field = v;
        return 0;
    }
    case SEGQ_FLAG_FLOAT: {
        char *end = NULL;
        errno = 0;
        double v = strtod(text, &end);
        if (errno || end == text || *end || !isfinite(v) || v < f->min || v > f->max) {
            snprintf(err, errlen, "--%s: '%s' is not a number in %g..%g", flag, text, f->min,
                     f->max);
            return SEGQ_EINVAL;
        }
        *(double *)field = v;
        return 0;
    }
    case SEGQ_FLAG_BOOL:
        if (strcmp(text, "true") == 0 || strcmp(text, "1") == 0)
            *(int *)field = 1;
        else if (strcmp(text, "false") == 0 || strcmp(text, "0") == 0)
            *(int *)field = 0;
        else {
            snprintf(err, errlen, "--%s: '%s' is not true or false", flag, text);
            return SEGQ_EINVAL;
        }
        return 0;
    case SEGQ_FLAG_CHOICE: {
        size_t n = strlen(text);
        const char *c = f->choices;
        int ok = 0;
        while (c && *c && !ok) {
            const char *bar = strchr(c, '|');
            size_t len = bar ? (size_t)(bar - c) : strlen(c);
            ok = len == n && n > 0 && strncmp(c, text, n) == 0;
            c = bar ? bar + 1 : NULL;
        }
        if (!ok) {
            snprintf(err, errlen, "--%s: '%s' is not one of %s", flag, text, f->choices);
            return SEGQ_EINVAL;
        }
    } /* fall through: stored like a string */
    /* FALLTHROUGH */
    case SEGQ_FLAG_STRING: {
        char *copy = strdup(text);
        if (!copy) {
            snprintf(err, errlen, "--%s: out of memory", flag);
            return SEGQ_ENOMEM;
        }
        free(*(char **)field);
        *(char **)field = copy;
        return 0;
    }
    }
    snprintf(err, errlen, "--%s: flag table entry has an unknown type", flag);
    return SEGQ_EINTERNAL;
}

int segq_flags_parse(const segq_command_t *cmd, int argc, char **argv, void *opts, char *err,
                     size_t errlen)
{
    for (size_t i = 0; i < cmd->n_flags; i++) {
        const segq_flag_t *f = &cmd->flags[i];
        if (f->default_value) {
            int rc = set_value(f, f->default_value, opts, err, errlen);
            if (rc)
                return rc;
        }
    }
    char *seen = calloc(cmd->n_flags + 1, 1);
    if (!seen) {
        snprintf(err, errlen, "out of memory");
        return SEGQ_ENOMEM;
    }
    int rc = 0;
    for (int a = 0; a < argc && rc == 0; a++) {
        const char *arg = argv[a];
        if (strcmp(arg, "--help") == 0 || strcmp(arg, "-h") == 0) {
            segq_flags_help(cmd, stdout);
            rc = 1;
            break;
        }
        if (strncmp(arg, "--", 2) != 0) {
            snprintf(err, errlen, "%s: unexpected argument '%s' (flags start with --; see "
                     "segq-run %s --help)", cmd->name, arg, cmd->name);
            rc = SEGQ_EINVAL;
            break;
        }
        const char *name = arg + 2, *eq = strchr(name, '=');
        size_t len = eq ? (size_t)(eq - name) : strlen(name);
        const segq_flag_t *f = NULL;
        size_t idx = 0;
        for (; idx < cmd->n_flags; idx++)
            if (name_matches(cmd->flags[idx].name, name, len)) {
                f = &cmd->flags[idx];
                break;
            }
        /* --no-resume style negation of booleans */
        int negate = 0;
        if (!f && len > 3 && strncmp(name, "no-", 3) == 0)
            for (idx = 0; idx < cmd->n_flags; idx++)
                if (cmd->flags[idx].type == SEGQ_FLAG_BOOL
                    && name_matches(cmd->flags[idx].name, name + 3, len - 3)) {
                    f = &cmd->flags[idx];
                    negate = 1;
                    break;
                }
        if (!f) {
            snprintf(err, errlen, "%s: unknown flag '--%.*s' (see segq-run %s --help)",
                     cmd->name, (int)len, name, cmd->name);
            rc = SEGQ_EINVAL;
            break;
        }
        const char *value;
        if (eq)
            value = eq + 1;
        else if (f->type == SEGQ_FLAG_BOOL)
            value = negate ? "false" : "true";
        else if (a + 1 < argc)
            value = argv[++a];
        else {
            snprintf(err, errlen, "%s: flag '--%.*s' needs a value", cmd->name, (int)len, name);
            rc = SEGQ_EINVAL;
            break;
        }
        rc = set_value(f, value, opts, err, errlen);
        seen[idx] = 1;
    }
    for (size_t i = 0; rc == 0 && i < cmd->n_flags; i++)
        if (!cmd->flags[i].default_value && !seen[i]) {
            char flag[64];
            dashed(cmd->flags[i].name, flag, sizeof flag);
            snprintf(err, errlen, "%s: --%s is required (%s)", cmd->name, flag,
                     cmd->flags[i].help);
            rc = SEGQ_EINVAL;
        }
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
        dashed(f->name, flag, sizeof flag);
        static const char *types[] = {"", "INT", "NUM", "", "TEXT", ""};
        const char *type = f->type == SEGQ_FLAG_CHOICE ? f->choices : types[f->type];
        fprintf(out, "  --%s%s%s\n      %s", flag, *type ? " " : "", type, f->help);
        if (!f->default_value)
            fprintf(out, " (required)\n");
        else if (f->type == SEGQ_FLAG_BOOL)
            fprintf(out, "\n");
        else
            fprintf(out, " (default %s)\n", *f->default_value ? f->default_value : "none");
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
        case SEGQ_FLAG_INT: v = json_integer(*(const int64_t *)field); break;
        case SEGQ_FLAG_FLOAT: v = json_real(*(const double *)field); break;
        case SEGQ_FLAG_BOOL: v = json_boolean(*(const int *)field); break;
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
