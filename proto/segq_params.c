/*  segq_params.c: typed values, the params map, and their validation
    against the job-kind table (segq_schema.h). */
#include "segq_schema.h"
#include "segq_conf_lines.h"

#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- values ---- */

void
segq_value_clear (segq_value_t *value)
{
    if (!value)
        return;
    free (value->s);
    memset (value, 0, sizeof *value);
}

int
segq_value_copy (segq_value_t *dst, const segq_value_t *src)
{
    segq_value_t copy = *src;
    if (src->s) {
        copy.s = strdup (src->s);
        if (!copy.s)
            return SEGQ_ENOMEM;
    }
    *dst = copy;
    return SEGQ_OK;
}

int
segq_value_format (const segq_value_t *value, char *buf, size_t buflen)
{
    switch (value->type) {
    case SEGQ_PARAM_INT:
        return snprintf (buf, buflen, "%" PRId64, value->i);
    case SEGQ_PARAM_FLOAT:
        /* Whole numbers as people write them ("2000", not "2e+03"),
           others as the shortest text that reads back the same. */
        if (value->f == floor (value->f) && fabs (value->f) < 1e15)
            return snprintf (buf, buflen, "%.0f", value->f);
        for (int precision = 1; precision < 17; precision++) {
            char text [40];
            snprintf (text, sizeof text, "%.*g", precision, value->f);
            if (strtod (text, NULL) == value->f)
                return snprintf (buf, buflen, "%s", text);
        }
        return snprintf (buf, buflen, "%.17g", value->f);
    case SEGQ_PARAM_BOOL:
        return snprintf (buf, buflen, "%s", value->b ? "true" : "false");
    case SEGQ_PARAM_STRING:
    case SEGQ_PARAM_CHOICE:
        return snprintf (buf, buflen, "%s", value->s ? value->s : "");
    }
    return snprintf (buf, buflen, "?");
}

/* ---- the map ---- */

static segq_param_t *
s_params_find (const segq_params_t *self, const char *name)
{
    for (size_t i = 0; i < self->count; i++)
        if (strcmp (self->items [i].name, name) == 0)
            return &self->items [i];
    return NULL;
}

const segq_value_t *
segq_params_get (const segq_params_t *self, const char *name)
{
    segq_param_t *item = s_params_find (self, name);
    return item ? &item->value : NULL;
}

int
segq_params_set (segq_params_t *self, const char *name, const segq_value_t *value)
{
    segq_value_t copy;
    int rc = segq_value_copy (&copy, value);
    if (rc)
        return rc;
    segq_param_t *item = s_params_find (self, name);
    if (item) {
        segq_value_clear (&item->value);
        item->value = copy;
        return SEGQ_OK;
    }
    if (self->count == self->capacity) {
        size_t capacity = self->capacity ? self->capacity * 2 : 4;
        segq_param_t *items = realloc (self->items, capacity * sizeof *items);
        if (!items) {
            segq_value_clear (&copy);
            return SEGQ_ENOMEM;
        }
        self->items = items;
        self->capacity = capacity;
    }
    char *owned = strdup (name);
    if (!owned) {
        segq_value_clear (&copy);
        return SEGQ_ENOMEM;
    }
    self->items [self->count].name = owned;
    self->items [self->count].value = copy;
    self->count++;
    return SEGQ_OK;
}

int
segq_params_copy (segq_params_t *dst, const segq_params_t *src)
{
    segq_params_t copy = { 0 };
    for (size_t i = 0; i < src->count; i++) {
        int rc = segq_params_set (&copy, src->items [i].name, &src->items [i].value);
        if (rc) {
            segq_params_clear (&copy);
            return rc;
        }
    }
    *dst = copy;
    return SEGQ_OK;
}

void
segq_params_clear (segq_params_t *self)
{
    if (!self)
        return;
    for (size_t i = 0; i < self->count; i++) {
        free (self->items [i].name);
        segq_value_clear (&self->items [i].value);
    }
    free (self->items);
    memset (self, 0, sizeof *self);
}

/* ---- parsing and validation against the kind table ---- */

static bool
s_choice_ok (const char *choices, const char *text)
{
    size_t len = strlen (text);
    const char *p = choices ? choices : "";
    while (*p) {
        const char *bar = strchr (p, '|');
        size_t n = bar ? (size_t) (bar - p) : strlen (p);
        if (n == len && memcmp (p, text, n) == 0)
            return true;
        p += n + (bar ? 1 : 0);
    }
    return false;
}

/* A range as the user types its ends: 1..1000000000, not 1..1e+09. */
#define S_RANGE "%.15g..%.15g"

static int
s_range_error (const segq_param_spec_t *spec, const char *shown, char *err, size_t errlen)
{
    snprintf (err, errlen, "%s: %s is out of range (expected " S_RANGE ")", spec->name, shown,
              spec->min, spec->max);
    return SEGQ_EINVAL;
}

/* Range and choice checks of an already typed value. */
static int
s_check_value (const segq_param_spec_t *spec, const segq_value_t *value, char *err, size_t errlen)
{
    char shown [64];
    switch (spec->type) {
    case SEGQ_PARAM_INT:
        if ((double) value->i < spec->min || (double) value->i > spec->max) {
            snprintf (shown, sizeof shown, "%" PRId64, value->i);
            return s_range_error (spec, shown, err, errlen);
        }
        break;
    case SEGQ_PARAM_FLOAT:
        if (!isfinite (value->f) || value->f < spec->min || value->f > spec->max) {
            segq_value_format (value, shown, sizeof shown);
            return s_range_error (spec, shown, err, errlen);
        }
        break;
    case SEGQ_PARAM_CHOICE:
        if (!s_choice_ok (spec->choices, value->s)) {
            snprintf (err, errlen, "%s: '%.64s' is not one of %s", spec->name, value->s,
                      spec->choices ? spec->choices : "(none)");
            return SEGQ_EINVAL;
        }
        break;
    case SEGQ_PARAM_BOOL:
    case SEGQ_PARAM_STRING:
        break;
    }
    return SEGQ_OK;
}

static const char *
s_type_name (segq_param_type_t type)
{
    switch (type) {
    case SEGQ_PARAM_INT:
        return "an integer";
    case SEGQ_PARAM_FLOAT:
        return "a number";
    case SEGQ_PARAM_BOOL:
        return "true or false";
    case SEGQ_PARAM_STRING:
        return "a string";
    case SEGQ_PARAM_CHOICE:
        return "a choice";
    }
    return "a value";
}

static int
s_expected (const segq_param_spec_t *spec, const char *text, char *err, size_t errlen)
{
    if (spec->type == SEGQ_PARAM_INT || spec->type == SEGQ_PARAM_FLOAT)
        snprintf (err, errlen, "%s: '%.64s' is not %s (expected " S_RANGE ")", spec->name, text,
                  s_type_name (spec->type), spec->min, spec->max);
    else if (spec->type == SEGQ_PARAM_CHOICE)
        snprintf (err, errlen, "%s: '%.64s' is not one of %s", spec->name, text,
                  spec->choices ? spec->choices : "(none)");
    else
        snprintf (err, errlen, "%s: '%.64s' is not %s", spec->name, text, s_type_name (spec->type));
    return SEGQ_EINVAL;
}

int
segq_param_parse (const segq_param_spec_t *spec, const char *text, segq_value_t *out, char *err,
                  size_t errlen)
{
    segq_value_t value = { .type = spec->type };
    char *end = NULL;
    errno = 0;
    switch (spec->type) {
    case SEGQ_PARAM_INT:
        value.i = strtoll (text, &end, 10);
        if (end == text || *end || errno == ERANGE)
            return s_expected (spec, text, err, errlen);
        break;
    case SEGQ_PARAM_FLOAT:
        value.f = strtod (text, &end);
        if (end == text || *end || errno == ERANGE || !isfinite (value.f))
            return s_expected (spec, text, err, errlen);
        break;
    case SEGQ_PARAM_BOOL:
        if (segq_parse_bool (text, &value.b) != 0)
            return s_expected (spec, text, err, errlen);
        break;
    case SEGQ_PARAM_STRING:
    case SEGQ_PARAM_CHOICE:
        value.s = (char *) text; /* checked below, duplicated once valid */
        break;
    default:
        snprintf (err, errlen, "%s: the schema gives it an unknown type", spec->name);
        return SEGQ_EINTERNAL;
    }
    int rc = s_check_value (spec, &value, err, errlen);
    if (rc)
        return rc;
    if (value.s && !(value.s = strdup (text))) {
        snprintf (err, errlen, "%s: out of memory", spec->name);
        return SEGQ_ENOMEM;
    }
    *out = value;
    return SEGQ_OK;
}

/* Brings a value from the wire (INT, FLOAT, BOOL or STRING) to the type the
   spec declares, where that loses nothing: an integer for a FLOAT, an
   integral number for an INT, a string for a CHOICE. */
static int
s_coerce (const segq_param_spec_t *spec, const segq_value_t *in, segq_value_t *out, char *err,
          size_t errlen)
{
    segq_value_t value = { .type = spec->type };
    bool ok = false;
    switch (spec->type) {
    case SEGQ_PARAM_INT:
        if (in->type == SEGQ_PARAM_INT) {
            value.i = in->i;
            ok = true;
        } else if (in->type == SEGQ_PARAM_FLOAT && in->f == floor (in->f) && in->f >= -9.2e18
                   && in->f <= 9.2e18) {
            value.i = (int64_t) in->f;
            ok = true;
        }
        break;
    case SEGQ_PARAM_FLOAT:
        if (in->type == SEGQ_PARAM_FLOAT || in->type == SEGQ_PARAM_INT) {
            value.f = in->type == SEGQ_PARAM_FLOAT ? in->f : (double) in->i;
            ok = true;
        }
        break;
    case SEGQ_PARAM_BOOL:
        if (in->type == SEGQ_PARAM_BOOL) {
            value.b = in->b;
            ok = true;
        }
        break;
    case SEGQ_PARAM_STRING:
    case SEGQ_PARAM_CHOICE:
        if ((in->type == SEGQ_PARAM_STRING || in->type == SEGQ_PARAM_CHOICE) && in->s) {
            value.s = in->s;
            ok = true;
        }
        break;
    }
    if (!ok) {
        char shown [80];
        segq_value_format (in, shown, sizeof shown);
        snprintf (err, errlen, "%s: expected %s, got %s '%.64s'", spec->name,
                  s_type_name (spec->type), s_type_name (in->type), shown);
        return SEGQ_EINVAL;
    }
    int rc = s_check_value (spec, &value, err, errlen);
    if (rc)
        return rc;
    return segq_value_copy (out, &value);
}

static void
s_unknown_param (const segq_kind_spec_t *kind, const char *name, char *err, size_t errlen)
{
    if (kind->n_params == 0) {
        snprintf (err, errlen, "unknown parameter '%.64s': kind '%s' takes no parameters", name,
                  kind->name);
        return;
    }
    int used =
        snprintf (err, errlen, "unknown parameter '%.64s' for kind '%s' (known:", name, kind->name);
    for (size_t i = 0; i < kind->n_params && used >= 0 && (size_t) used < errlen; i++)
        used += snprintf (err + used, errlen - (size_t) used, " %s", kind->params [i].name);
    if (used >= 0 && (size_t) used < errlen)
        snprintf (err + used, errlen - (size_t) used, ")");
}

int
segq_params_validate (const segq_kind_spec_t *kind, segq_params_t *params, char *err, size_t errlen)
{
    for (size_t i = 0; i < params->count; i++)
        if (!segq_kind_param (kind, params->items [i].name)) {
            s_unknown_param (kind, params->items [i].name, err, errlen);
            return SEGQ_EINVAL;
        }
    /* Rebuilt in table order, so a stored job's parameters read the same
       whatever order the client sent them in. */
    segq_params_t result = { 0 };
    int rc = SEGQ_OK;
    for (size_t i = 0; i < kind->n_params && rc == SEGQ_OK; i++) {
        const segq_param_spec_t *spec = &kind->params [i];
        const segq_value_t *given = segq_params_get (params, spec->name);
        segq_value_t value = { 0 };
        if (given)
            rc = s_coerce (spec, given, &value, err, errlen);
        else if (spec->default_value)
            rc = segq_param_parse (spec, spec->default_value, &value, err, errlen);
        else {
            snprintf (err, errlen, "missing required parameter '%s' for kind '%s'", spec->name,
                      kind->name);
            rc = SEGQ_EINVAL;
        }
        if (rc == SEGQ_OK) {
            rc = segq_params_set (&result, spec->name, &value);
            if (rc)
                snprintf (err, errlen, "%s: out of memory", spec->name);
        }
        segq_value_clear (&value);
    }
    if (rc == SEGQ_OK && kind->check)
        rc = kind->check (&result, err, errlen);
    if (rc) {
        segq_params_clear (&result);
        return rc;
    }
    segq_params_clear (params);
    *params = result;
    return SEGQ_OK;
}
