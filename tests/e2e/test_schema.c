/*  test_schema.c: proto's rows for the ML kinds against segq-run's flag
    table, linked side by side. segq-run takes each parameter's rules from
    proto's row (pipeline/run_flags.c); this checks the rest of the
    contract: every segq-run flag is either a parameter of the kind or one
    the worker sets itself (listed here, so a new segq-run flag fails this
    test until the kind's row has it too), every input is a path flag,
    and the values the worker formats are accepted by segq-run. */
#include <criterion/criterion.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include "segq_run_flags.h"
#include "segq_schema.h"
#include "segq_singan.h"
#include "evaluate.h"
#include "stylize.h"

/* Worker-set flags: inputs (--NAME=PATH), --out, and the placement. */
static const char *const s_worker_flags [] = { "out", "device", "threads", "resume" };

static bool
s_worker_flag (const segq_kind_spec_t *kind, const char *name)
{
    for (size_t i = 0; i < sizeof s_worker_flags / sizeof s_worker_flags [0]; i++)
        if (strcmp (s_worker_flags [i], name) == 0)
            return true;
    for (size_t i = 0; i < kind->n_inputs; i++)
        if (strcmp (kind->inputs [i].name, name) == 0)
            return true;
    return false;
}

static void
s_check_kind (const char *name)
{
    const segq_kind_spec_t *kind = segq_kind_find (name);
    const segq_command_t *cmd = segq_run_command_find (name);
    cr_assert_not_null (kind, "proto has no kind %s", name);
    cr_assert_not_null (cmd, "segq-run has no command %s", name);
    cr_assert_not (kind->test_kind || kind->in_process, "%s runs segq-run in a child", name);
    /* every segq-run flag: a parameter with the same rules, or worker-set */
    size_t params_seen = 0;
    for (size_t i = 0; i < cmd->n_flags; i++) {
        const segq_flag_t *f = &cmd->flags [i];
        const segq_param_spec_t *p = segq_kind_param (kind, f->name);
        if (s_worker_flag (kind, f->name)) {
            cr_assert_null (p, "%s: --%s is set by the worker, not a parameter", name, f->name);
            continue;
        }
        cr_assert_not_null (p, "%s: segq-run flag --%s has no parameter in proto/segq_kinds.c",
                            name, f->name);
        params_seen++;
        cr_assert_eq ((int) p->type, (int) f->type, "%s.%s: type %d in proto, %d in segq-run", name,
                      f->name, (int) p->type, (int) f->type);
        cr_assert ((p->default_value == NULL) == (f->default_value == NULL),
                   "%s.%s: required in one table only", name, f->name);
        if (p->default_value)
            cr_assert_str_eq (p->default_value, f->default_value, "%s.%s: default", name, f->name);
        if (p->type == SEGQ_PARAM_INT || p->type == SEGQ_PARAM_FLOAT) {
            cr_assert_eq (p->min, f->min, "%s.%s: min %g vs %g", name, f->name, p->min, f->min);
            cr_assert_eq (p->max, f->max, "%s.%s: max %g vs %g", name, f->name, p->max, f->max);
        }
        if (p->type == SEGQ_PARAM_CHOICE)
            cr_assert_str_eq (p->choices, f->choices, "%s.%s: choices", name, f->name);
        /* the default passes proto's own parser too */
        if (p->default_value) {
            segq_value_t v = { 0 };
            char err [256] = "";
            cr_assert_eq (segq_param_parse (p, p->default_value, &v, err, sizeof err), 0,
                          "%s.%s: %s", name, f->name, err);
            segq_value_clear (&v);
        }
    }
    cr_assert_eq (params_seen, kind->n_params,
                  "%s: proto has %zu parameters, segq-run %zu matching flags", name, kind->n_params,
                  params_seen);
    /* every input is a segq-run flag of the same name; required alike */
    for (size_t i = 0; i < kind->n_inputs; i++) {
        const segq_flag_t *f = NULL;
        for (size_t j = 0; j < cmd->n_flags && !f; j++)
            if (strcmp (cmd->flags [j].name, kind->inputs [i].name) == 0)
                f = &cmd->flags [j];
        cr_assert_not_null (f, "%s: input %s is no segq-run flag", name, kind->inputs [i].name);
        cr_assert_eq (f->type, SEGQ_FLAG_STRING, "%s: --%s takes a path", name, f->name);
        cr_assert_eq (kind->inputs [i].required, f->default_value == NULL,
                      "%s: input %s required in one table only", name, f->name);
    }
}

Test (schema, train_matches_segq_run, .timeout = 20)
{
    s_check_kind ("train");
    cr_assert_str_eq (segq_kind_find ("train")->principal_output, "model.safetensors");
}

Test (schema, generate_matches_segq_run, .timeout = 20)
{
    s_check_kind ("generate");
    cr_assert_str_eq (segq_kind_find ("generate")->principal_output, "*");
}

Test (schema, stylize_matches_segq_run, .timeout = 20)
{
    s_check_kind ("stylize");
    cr_assert_str_eq (segq_kind_find ("stylize")->principal_output, "*");
    cr_assert (segq_kind_input (segq_kind_find ("stylize"), "content")->many);
}

Test (schema, evaluate_matches_segq_run, .timeout = 20)
{
    s_check_kind ("evaluate");
    const segq_input_spec_t *syn = segq_kind_input (segq_kind_find ("evaluate"), "synthetic");
    cr_assert (syn && syn->many && syn->sets, "evaluate's synthetic input is named sets");
}

/* The queue lays out a set input as synthetic/NAME/...: segq-run evaluate
   reads `--synthetic DIR` as a folder of such sets, in name order. */
Test (schema, evaluate_takes_a_folder_of_sets, .timeout = 20)
{
    char dir [] = "/tmp/segq-sets-XXXXXX";
    cr_assert_not_null (mkdtemp (dir));
    char path [256];
    snprintf (path, sizeof path, "%s/stylized", dir);
    cr_assert_eq (mkdir (path, 0700), 0);
    snprintf (path, sizeof path, "%s/plain", dir);
    cr_assert_eq (mkdir (path, 0700), 0);
    char arg [300];
    snprintf (arg, sizeof arg, "--synthetic=%s", dir);
    char *argv [] = { "--real", "r", arg, "--out", "o" };
    int argc = 5;
    segq_evaluate_opts_t o;
    memset (&o, 0, sizeof o);
    char err [512] = "";
    cr_assert_eq (segq_evaluate_take_synthetic (&argc, argv, &o, err, sizeof err), 0, "%s", err);
    cr_assert_eq (argc, 4);
    cr_assert_eq (o.n_synthetic, 2);
    cr_assert_str_eq (o.syn_name [0], "plain");
    cr_assert_str_eq (o.syn_name [1], "stylized");
    cr_assert (strstr (o.syn_dir [1], "/stylized"));
    segq_evaluate_opts_free (&o);
    /* an empty folder has no sets: said plainly */
    snprintf (path, sizeof path, "%s/stylized", dir);
    rmdir (path);
    snprintf (path, sizeof path, "%s/plain", dir);
    rmdir (path);
    char *again [] = { "--real", "r", arg, "--out", "o" };
    argc = 5;
    /* the first call took --synthetic out of argv */
    memcpy (argv, again, sizeof again);
    cr_assert_neq (segq_evaluate_take_synthetic (&argc, argv, &o, err, sizeof err), 0);
    cr_assert (strstr (err, "no set folders"), "%s", err);
    segq_evaluate_opts_free (&o);
    rmdir (dir);
}

/* A mistyped segq-run flag is refused with the flag it most likely meant. */
Test (schema, segq_run_suggests_a_flag, .timeout = 20)
{
    const segq_command_t *cmd = segq_run_command_find ("train");
    char *argv [] = { "--image=i.png", "--out=o", "--nitre=5" };
    segq_train_opts_t opts;
    memset (&opts, 0, sizeof opts);
    char err [512] = "";
    cr_assert_lt (segq_flags_parse (cmd, 3, argv, &opts, err, sizeof err), 0);
    cr_assert (strstr (err, "did you mean --niter"), "%s", err);
    segq_flags_free (cmd, &opts);
}

/* `segq-run KIND --help` gives each number's range and default, as
   `segq submit KIND --help` does, and marks what is required. */
Test (schema, segq_run_help_shows_ranges, .timeout = 20)
{
    char *text = NULL;
    size_t size = 0;
    FILE *out = open_memstream (&text, &size);
    cr_assert_not_null (out);
    segq_flags_help (segq_run_command_find ("train"), out);
    fclose (out);
    const char *want [] = { "iterations per scale (1..1e+09, default 2000)",
                            "(0.05..0.99, default 0.75)",
                            "training image (PNG or JPEG) (required)" };
    for (size_t i = 0; i < sizeof want / sizeof want [0]; i++)
        cr_assert_not_null (strstr (text, want [i]), "no \"%s\" in:\n%s", want [i], text);
    free (text);
}

/* segq-run reads a value as the broker does (proto's parser): the same
   words are taken, and a refusal names the flag and its range in full. */
Test (schema, segq_run_reads_values_as_the_broker_does, .timeout = 20)
{
    const segq_command_t *cmd = segq_run_command_find ("train");
    struct {
        const char *arg, *error; /* NULL: accepted */
    } cases [] = {
        { "--niter=0", "train --niter: 0 is out of range (expected 1..1000000000)" },
        { "--niter=abc", "train --niter: 'abc' is not an integer (expected 1..1000000000)" },
        { "--lr-g=nan", "train --lr-g: 'nan' is not a number" },
        { "--cuda-graph=maybe", "train --cuda-graph: 'maybe' is not one of auto|on|off" },
        { "--mask-from-alpha=perhaps", "train --mask-from-alpha: 'perhaps' is not true or false" },
        { "--mask-from-alpha=yes", NULL },
        { "--niter=1000000000", NULL },
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases [0]; i++) {
        char *argv [] = { "--image=i.png", "--out=o", (char *) cases [i].arg };
        segq_train_opts_t opts;
        memset (&opts, 0, sizeof opts);
        char err [512] = "";
        int rc = segq_flags_parse (cmd, 3, argv, &opts, err, sizeof err);
        if (cases [i].error) {
            cr_expect_lt (rc, 0, "%s accepted", cases [i].arg);
            cr_expect (strstr (err, cases [i].error), "%s: %s", cases [i].arg, err);
        } else
            cr_expect_eq (rc, 0, "%s: %s", cases [i].arg, err);
        segq_flags_free (cmd, &opts);
    }
}

/* Values the worker passes (--name=value, as segq_value_format writes the
   parameter) are accepted by segq-run's parser. */
Test (schema, formatted_values_parse_in_segq_run, .timeout = 20)
{
    const char *kinds [] = { "train", "generate", "stylize", "evaluate" };
    /* each command's required flags, as stand-in paths */
    const char *required [][3] = { { "--image=i.png", "--out=o", NULL },
                                   { "--model=m", "--out=o", NULL },
                                   { "--content=c", "--vgg19=v", "--out=o" },
                                   { "--real=r", "--out=o", NULL } };
    for (size_t k = 0; k < 4; k++) {
        const segq_kind_spec_t *kind = segq_kind_find (kinds [k]);
        const segq_command_t *cmd = segq_run_command_find (kinds [k]);
        for (size_t i = 0; i < kind->n_params; i++) {
            const segq_param_spec_t *p = &kind->params [i];
            segq_value_t v = { 0 };
            char err [256] = "", text [128], arg [200];
            cr_assert_eq (segq_param_parse (p, p->default_value, &v, err, sizeof err), 0);
            segq_value_format (&v, text, sizeof text);
            segq_value_clear (&v);
            snprintf (arg, sizeof arg, "--%s=%s", p->name, text);
            char *argv [4] = { arg };
            int argc = 1;
            for (int r = 0; r < 3 && required [k][r]; r++)
                argv [argc++] = (char *) required [k][r];
            union {
                segq_train_opts_t train;
                segq_generate_opts_t generate;
                segq_stylize_opts_t stylize;
                segq_evaluate_opts_t evaluate;
            } opts;
            memset (&opts, 0, sizeof opts);
            int rc = segq_flags_parse (cmd, argc, argv, &opts, err, sizeof err);
            cr_assert_eq (rc, 0, "%s: segq-run refuses %s: %s", kinds [k], arg, err);
            segq_flags_free (cmd, &opts);
        }
    }
}
