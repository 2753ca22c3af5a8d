/*  cli_kinds.c: `segq kinds [KIND...]`: the broker's table of job kinds,
    for people (what each kind takes) and, with --json, for programs that
    build their own submissions. */
#include "cli.h"

#include <stdlib.h>
#include <string.h>

static const char *s_type_names [] = {
    [SEGQ_PARAM_INT] = "int",       [SEGQ_PARAM_FLOAT] = "float",   [SEGQ_PARAM_BOOL] = "bool",
    [SEGQ_PARAM_STRING] = "string", [SEGQ_PARAM_CHOICE] = "choice",
};

/* A bound of a range typed as the parameter is: an int's as an integer. */
static json_t *
s_bound_json (const segq_kind_param_t *p, double bound)
{
    return p->type == SEGQ_PARAM_INT ? json_integer ((json_int_t) bound) : json_real (bound);
}

static json_t *
s_param_json (const segq_kind_info_t *kind, const segq_kind_param_t *p)
{
    json_t *o = json_pack ("{s:s,s:s}", "name", p->name, "type", s_type_names [p->type]);
    if (o && (p->type == SEGQ_PARAM_INT || p->type == SEGQ_PARAM_FLOAT)) {
        json_object_set_new (o, "min", s_bound_json (p, p->min));
        json_object_set_new (o, "max", s_bound_json (p, p->max));
    }
    if (o && p->type == SEGQ_PARAM_CHOICE) {
        json_t *choices = json_array ();
        for (size_t i = 0; choices && i < p->n_choices; i++)
            json_array_append_new (choices, json_string (p->choices [i]));
        json_object_set_new (o, "choices", choices);
    }
    const segq_value_t *value = segq_params_get (&kind->defaults, p->name);
    json_object_set_new (o, "required", json_boolean (!value));
    if (value)
        json_object_set_new (o, "default", segq_value_json (value));
    json_object_set_new (o, "help", json_string (p->help ? p->help : ""));
    return o;
}

static json_t *
s_kind_json (const segq_kind_info_t *kind)
{
    json_t *params = json_array (), *inputs = json_array ();
    for (size_t i = 0; params && i < kind->n_params; i++)
        json_array_append_new (params, s_param_json (kind, &kind->params [i]));
    for (size_t i = 0; inputs && i < kind->n_inputs; i++) {
        const segq_kind_input_t *in = &kind->inputs [i];
        json_array_append_new (inputs, json_pack ("{s:s,s:b,s:s*,s:b,s:b,s:s}", "name", in->name,
                                                  "required", in->required, "unless", in->unless,
                                                  "many", in->many, "sets", in->sets, "help",
                                                  in->help ? in->help : ""));
    }
    return json_pack ("{s:s,s:s,s:b,s:s,s:o*,s:o*}", "name", kind->name, "help",
                      kind->help ? kind->help : "", "test", kind->test, "principal_output",
                      kind->principal, "inputs", inputs, "params", params);
}

static void
s_print_kind (const segq_kind_info_t *kind)
{
    printf ("%s: %s\n\ninputs:\n", kind->name, kind->help ? kind->help : "");
    if (!kind->n_inputs)
        printf ("  (none)\n");
    for (size_t i = 0; i < kind->n_inputs; i++) {
        const segq_kind_input_t *in = &kind->inputs [i];
        char need [96];
        printf ("  %-18s %s, %-9s %s\n", in->name,
                in->sets   ? "named sets of files"
                : in->many ? "many files"
                           : "one file",
                cli_format_need (in->required, in->unless, need, sizeof need),
                in->help ? in->help : "");
    }
    printf ("\nparameters:\n");
    if (!kind->n_params)
        printf ("  (none)\n");
    for (size_t i = 0; i < kind->n_params; i++) {
        const segq_kind_param_t *p = &kind->params [i];
        char type [512] = "", lo [48], hi [48], shown [128] = "";
        if (p->type == SEGQ_PARAM_INT || p->type == SEGQ_PARAM_FLOAT) {
            cli_format_bound (p->type, p->min, lo, sizeof lo);
            cli_format_bound (p->type, p->max, hi, sizeof hi);
            snprintf (type, sizeof type, "%s %s..%s", s_type_names [p->type], lo, hi);
        } else if (p->type == SEGQ_PARAM_CHOICE)
            for (size_t c = 0, used = 0; c < p->n_choices && used < sizeof type; c++)
                used += (size_t) snprintf (type + used, sizeof type - used, "%s%s", c ? "|" : "",
                                           p->choices [c]);
        else
            snprintf (type, sizeof type, "%s", s_type_names [p->type]);
        const segq_value_t *value = segq_params_get (&kind->defaults, p->name);
        if (value)
            segq_value_format (value, shown, sizeof shown);
        char left [800];
        /* an empty default means "not given": the help says what stands for it */
        snprintf (left, sizeof left, "%s, %s%s", type,
                  !value   ? "required"
                  : *shown ? "default "
                           : "optional",
                  shown);
        printf ("  %-18s %-32s  %s\n", p->name, left, p->help ? p->help : "");
    }
    printf ("\nprincipal output (what a bare JOB names): %s\n",
            strcmp (kind->principal, "*") == 0 ? "all outputs" : kind->principal);
}

/* The kind named `name`, or NULL after saying so (with the likeliest one). */
static const segq_kind_info_t *
s_find (const cli_globals_t *g, const segq_kind_info_t *kinds, size_t n, const char *name)
{
    for (size_t i = 0; i < n; i++)
        if (strcmp (kinds [i].name, name) == 0)
            return &kinds [i];
    const char **names = calloc (n + 1, sizeof *names);
    for (size_t i = 0; names && i < n; i++)
        names [i] = kinds [i].name;
    const char *near = names ? segq_suggest (name, names, n) : NULL;
    cli_error (g, "kinds", CLI_FAILED,
               "the broker has no kind '%s'%s%s%s (`segq kinds` lists them)", name,
               near ? ": did you mean '" : "", near ? near : "", near ? "'?" : "");
    free (names);
    return NULL;
}

int
cli_kinds (cli_globals_t *g, int argc, char **argv)
{
    static const struct option options [] = { CLI_COMMON_OPTIONS, { 0 } };
    static const char help [] =
        "usage: segq kinds [KIND...] [--json]\n\n"
        "The job kinds the broker accepts: without KIND one line each; with KIND its\n"
        "inputs (one file or many, required or not), its parameters (type, range or\n"
        "choices, default) and its principal output. --json gives the whole table (or\n"
        "the kinds named) for programs that build their own submissions.\n";
    int opt = cli_next_option (g, "kinds", argc, argv, "h", options, help);
    if (opt != CLI_OPT_END)
        return opt > 0 ? CLI_USAGE : CLI_OPT_RESULT (opt);
    segq_client_t *client;
    int rc = cli_connect (g, &client);
    if (rc != CLI_OK)
        return rc;
    segq_kind_info_t *kinds;
    size_t n;
    if (segq_client_kinds (client, &kinds, &n) < 0) {
        rc = cli_error (g, "kinds", CLI_FAILED, "%s", segq_client_error (client));
        segq_client_destroy (&client);
        return rc;
    }
    segq_client_destroy (&client);
    json_t *array = g->json ? json_array () : NULL;
    bool named = optind < argc;
    for (size_t i = 0; rc == CLI_OK && i < (named ? (size_t) (argc - optind) : n); i++) {
        const segq_kind_info_t *kind =
            named ? s_find (g, kinds, n, argv [optind + (int) i]) : &kinds [i];
        if (!kind)
            rc = CLI_FAILED;
        else if (array)
            json_array_append_new (array, s_kind_json (kind));
        else if (named) {
            if (i)
                putchar ('\n');
            s_print_kind (kind);
        } else
            printf ("%-10s %s%s\n", kind->name, kind->help ? kind->help : "",
                    kind->test ? " (test kind)" : "");
    }
    if (array && rc == CLI_OK)
        rc = cli_print_json (array);
    else
        json_decref (array);
    segq_kinds_free (&kinds, n);
    return rc;
}
