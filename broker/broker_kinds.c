/*  broker_kinds.c: see broker_kinds.h. The table is rebuilt for each
    request: it is small, and KINDS is rare (a client asks once). */
#include "broker_kinds.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Copies `from` (NULL stays NULL); false only when out of memory. */
static bool
s_dup (char **to, const char *from)
{
    return !from || (*to = strdup (from)) != NULL;
}

/* "fp32|bf16" -> ["fp32", "bf16"] */
static int
s_choices (segq_kind_param_t *param, const char *choices)
{
    size_t n = 1;
    for (const char *p = choices; *p; p++)
        n += *p == '|';
    if (!(param->choices = calloc (n, sizeof *param->choices)))
        return SEGQ_ENOMEM;
    for (const char *p = choices; param->n_choices < n; p += strcspn (p, "|") + 1)
        if (!(param->choices [param->n_choices++] = strndup (p, strcspn (p, "|"))))
            return SEGQ_ENOMEM;
    return SEGQ_OK;
}

/* The parameter's row, and its default typed into the kind's `defaults`
   by the parser SUBMITs go through, so the two cannot disagree. */
static int
s_param (segq_kind_info_t *kind, const segq_param_spec_t *spec, char *err, size_t errlen)
{
    segq_kind_param_t *param = &kind->params [kind->n_params++];
    param->type = spec->type;
    if (spec->type == SEGQ_PARAM_INT || spec->type == SEGQ_PARAM_FLOAT) {
        param->min = spec->min;
        param->max = spec->max;
    }
    if (!s_dup (&param->name, spec->name) || !s_dup (&param->help, spec->help))
        return SEGQ_ENOMEM;
    int rc = spec->type == SEGQ_PARAM_CHOICE && spec->choices ? s_choices (param, spec->choices)
                                                              : SEGQ_OK;
    if (rc || !spec->default_value)
        return rc;
    segq_value_t value;
    char why [256];
    if (segq_param_parse (spec, spec->default_value, &value, why, sizeof why) != SEGQ_OK) {
        snprintf (err, errlen,
                  "kind %s: a default in the kind table is invalid (%s): a bug, "
                  "please report it",
                  kind->name, why);
        return SEGQ_EINTERNAL;
    }
    rc = segq_params_set (&kind->defaults, spec->name, &value);
    segq_value_clear (&value);
    return rc;
}

static int
s_input (segq_kind_input_t *input, const segq_input_spec_t *spec)
{
    input->required = spec->required;
    input->many = spec->many;
    input->sets = spec->sets;
    input->catalogue = spec->catalogue;
    return s_dup (&input->name, spec->name) && s_dup (&input->help, spec->help)
                   && s_dup (&input->unless, spec->unless)
               ? SEGQ_OK
               : SEGQ_ENOMEM;
}

static int
s_kind (segq_kind_info_t *kind, const segq_kind_spec_t *spec, char *err, size_t errlen)
{
    kind->test = spec->test_kind;
    if (!s_dup (&kind->name, spec->name) || !s_dup (&kind->help, spec->help)
        || !s_dup (&kind->principal, spec->principal_output)
        || (spec->n_params && !(kind->params = calloc (spec->n_params, sizeof *kind->params)))
        || (spec->n_inputs && !(kind->inputs = calloc (spec->n_inputs, sizeof *kind->inputs))))
        return SEGQ_ENOMEM;
    int rc = SEGQ_OK;
    for (size_t i = 0; i < spec->n_params && rc == SEGQ_OK; i++)
        rc = s_param (kind, &spec->params [i], err, errlen);
    for (size_t i = 0; i < spec->n_inputs && rc == SEGQ_OK; i++)
        rc = s_input (&kind->inputs [kind->n_inputs++], &spec->inputs [i]);
    return rc;
}

int
segq__kinds_reply (uint64_t req_id, segq_msg_t **out, char *err, size_t errlen)
{
    size_t n;
    const segq_kind_spec_t *kinds = segq_kinds (&n);
    segq_msg_t *reply = segq_msg_new (SEGQ_MSG_KINDS_REPLY);
    segq_kinds_reply_t *r = reply ? &reply->u.kinds_reply : NULL;
    int rc = r && (r->kinds = calloc (n, sizeof *r->kinds)) ? SEGQ_OK : SEGQ_ENOMEM;
    for (size_t i = 0; i < n && rc == SEGQ_OK; i++)
        rc = s_kind (&r->kinds [r->n_kinds++], &kinds [i], err, errlen);
    if (rc == SEGQ_ENOMEM)
        snprintf (err, errlen, "out of memory describing the job kinds: retry");
    if (rc)
        segq_msg_destroy (&reply);
    else
        r->req_id = req_id;
    *out = reply;
    return rc;
}
