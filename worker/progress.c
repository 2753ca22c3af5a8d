/*  progress.c: the progress channel from a job's child to the worker.

    The child writes one JSON object per line to SEGQ_PROGRESS_FD:
        {"phase": str, "fraction": num, "metrics": {name: num}, "message": str,
         "checkpoint": str, "step": int}
    every field optional (checkpoint: SPEC 8.3). The child is untrusted code as far as the daemon
    is concerned: garbage, partial writes and endless lines must cost a
    bounded amount of memory and never stop the daemon.
*/
#include <jansson.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include "worker_internal.h"

void
segq__progress_clear (segq__progress_t *self)
{
    free (self->phase);
    free (self->message);
    free (self->checkpoint);
    segq_params_clear (&self->metrics);
    memset (self, 0, sizeof *self);
}

static int
s_string_field (json_t *root, const char *key, char **out, char *err, size_t errlen)
{
    json_t *value = json_object_get (root, key);
    if (!value || json_is_null (value))
        return 0;
    if (!json_is_string (value)) {
        snprintf (err, errlen, "\"%s\" must be a string", key);
        return SEGQ_EINVAL;
    }
    size_t len = json_string_length (value);
    if (len > SEGQ_MAX_STRING || memchr (json_string_value (value), 0, len)) {
        snprintf (err, errlen, "\"%s\" is longer than %d bytes or contains NUL", key,
                  SEGQ_MAX_STRING);
        return SEGQ_EINVAL;
    }
    if ((*out = strdup (json_string_value (value))))
        return 0;
    snprintf (err, errlen, "out of memory");
    return SEGQ_ENOMEM;
}

/* "fraction", clamped to 0..1; absent or null leaves it unset. */
static int
s_fraction_field (json_t *root, segq__progress_t *record, char *err, size_t errlen)
{
    json_t *fraction = json_object_get (root, "fraction");
    if (!fraction || json_is_null (fraction))
        return 0;
    if (!json_is_number (fraction) || !isfinite (json_number_value (fraction))) {
        snprintf (err, errlen, "\"fraction\" must be a finite number");
        return SEGQ_EINVAL;
    }
    double f = json_number_value (fraction);
    record->has_fraction = true;
    record->fraction = f < 0 ? 0 : f > 1 ? 1 : f;
    return 0;
}

/* "step": the units of work a checkpoint holds, as CHECKPOINT carries them (uint32_t). */
static int
s_step_field (json_t *root, uint32_t *out, char *err, size_t errlen)
{
    json_t *step = json_object_get (root, "step");
    if (!step || json_is_null (step))
        return 0;
    if (!json_is_integer (step) || json_integer_value (step) < 0
        || json_integer_value (step) > UINT32_MAX) {
        snprintf (err, errlen, "\"step\" must be an integer from 0 to %u", UINT32_MAX);
        return SEGQ_EINVAL;
    }
    *out = (uint32_t) json_integer_value (step);
    return 0;
}

/* One metric: a finite number under a name of 1..SEGQ_MAX_NAME bytes. */
static int
s_metric (const char *key, json_t *value, segq_params_t *metrics, char *err, size_t errlen)
{
    if (!json_is_number (value) || !isfinite (json_number_value (value))) {
        snprintf (err, errlen, "metric \"%.64s\" must be a finite number", key);
        return SEGQ_EINVAL;
    }
    if (strlen (key) == 0 || strlen (key) > SEGQ_MAX_NAME) {
        snprintf (err, errlen, "metric names must have 1..%d bytes", SEGQ_MAX_NAME);
        return SEGQ_EINVAL;
    }
    segq_value_t v = { .type = SEGQ_PARAM_FLOAT, .f = json_number_value (value) };
    int rc = segq_params_set (metrics, key, &v);
    if (rc)
        snprintf (err, errlen, "out of memory");
    return rc;
}

/* "metrics": at most SEGQ_MAX_PARAMS names, each with a finite number. */
static int
s_metrics_field (json_t *root, segq_params_t *out, char *err, size_t errlen)
{
    json_t *metrics = json_object_get (root, "metrics");
    if (!metrics || json_is_null (metrics))
        return 0;
    if (!json_is_object (metrics)) {
        snprintf (err, errlen, "\"metrics\" must be an object of numbers");
        return SEGQ_EINVAL;
    }
    if (json_object_size (metrics) > SEGQ_MAX_PARAMS) {
        snprintf (err, errlen, "more than %d metrics", SEGQ_MAX_PARAMS);
        return SEGQ_EINVAL;
    }
    const char *key;
    json_t *value;
    json_object_foreach (metrics, key, value)
    {
        int rc = s_metric (key, value, out, err, errlen);
        if (rc)
            return rc;
    }
    return 0;
}

/* The fields of a parsed line, checked in the order that decides which
   error a line with several wrong gets. */
static int
s_fields (json_t *root, segq__progress_t *record, char *err, size_t errlen)
{
    if (!json_is_object (root)) {
        snprintf (err, errlen, "not a JSON object");
        return SEGQ_EINVAL;
    }
    int rc;
    if ((rc = s_fraction_field (root, record, err, errlen))
        || (rc = s_string_field (root, "phase", &record->phase, err, errlen))
        || (rc = s_string_field (root, "message", &record->message, err, errlen))
        || (rc = s_string_field (root, "checkpoint", &record->checkpoint, err, errlen))
        || (rc = s_step_field (root, &record->step, err, errlen)))
        return rc;
    return s_metrics_field (root, &record->metrics, err, errlen);
}

int
segq__progress_parse_line (const char *line, size_t size, segq__progress_t *out, char *err,
                           size_t errlen)
{
    json_error_t jerr;
    json_t *root = json_loadb (line, size, JSON_REJECT_DUPLICATES, &jerr);
    if (!root) {
        snprintf (err, errlen, "not JSON: %s (column %d)", jerr.text, jerr.column);
        return SEGQ_EINVAL;
    }
    segq__progress_t record = { 0 };
    int rc = s_fields (root, &record, err, errlen);
    json_decref (root);
    if (rc)
        segq__progress_clear (&record);
    else
        *out = record;
    return rc;
}

static int
s_replace_string (char **dst, const char *src)
{
    if (!src)
        return 0;
    char *copy = strdup (src);
    if (!copy)
        return SEGQ_ENOMEM;
    free (*dst);
    *dst = copy;
    return 0;
}

int
segq__progress_merge (segq__progress_t *state, const segq__progress_t *update)
{
    if (update->has_fraction) {
        state->has_fraction = true;
        state->fraction = update->fraction;
    }
    int rc = s_replace_string (&state->phase, update->phase);
    if (!rc)
        rc = s_replace_string (&state->message, update->message);
    for (size_t i = 0; !rc && i < update->metrics.count; i++)
        if (state->metrics.count < SEGQ_MAX_PARAMS
            || segq_params_get (&state->metrics, update->metrics.items [i].name))
            rc = segq_params_set (&state->metrics, update->metrics.items [i].name,
                                  &update->metrics.items [i].value);
    return rc;
}

struct segq__progress_parser {
    char *line; /* SEGQ__PROGRESS_MAX_LINE bytes */
    size_t used;
    bool discarding; /* inside an overlong line: skip to its end */
    size_t rejected;
    char last_error [256];
};

segq__progress_parser_t *
segq__progress_parser_new (void)
{
    segq__progress_parser_t *self = calloc (1, sizeof *self);
    if (self && !(self->line = malloc (SEGQ__PROGRESS_MAX_LINE))) {
        free (self);
        self = NULL;
    }
    return self;
}

void
segq__progress_parser_destroy (segq__progress_parser_t **self_p)
{
    if (*self_p) {
        free ((*self_p)->line);
        free (*self_p);
        *self_p = NULL;
    }
}

static void
s_reject (segq__progress_parser_t *self, const char *why)
{
    self->rejected++;
    snprintf (self->last_error, sizeof self->last_error, "%s", why);
}

static int
s_line (segq__progress_parser_t *self, const char *line, size_t size, segq__progress_fn *fn,
        void *arg)
{
    while (size && (line [size - 1] == '\r' || line [size - 1] == ' '))
        size--;
    if (size == 0)
        return 0; /* blank lines are allowed and ignored */
    segq__progress_t record;
    char err [200];
    if (segq__progress_parse_line (line, size, &record, err, sizeof err)) {
        s_reject (self, err);
        return 0;
    }
    fn (arg, &record);
    segq__progress_clear (&record);
    return 1;
}

int
segq__progress_parser_feed (segq__progress_parser_t *self, const char *data, size_t size,
                            segq__progress_fn *fn, void *arg)
{
    int records = 0;
    while (size) {
        const char *newline = memchr (data, '\n', size);
        size_t take = newline ? (size_t) (newline - data) : size;
        if (self->discarding)
            ; /* the rest of an overlong line */
        else if (self->used + take >= SEGQ__PROGRESS_MAX_LINE) {
            s_reject (self, "line longer than 64 KiB");
            self->discarding = true;
            self->used = 0;
        } else if (newline && self->used == 0)
            records += s_line (self, data, take, fn, arg); /* whole line: no copy */
        else {
            memcpy (self->line + self->used, data, take);
            self->used += take;
            if (newline) {
                records += s_line (self, self->line, self->used, fn, arg);
                self->used = 0;
            }
        }
        if (newline)
            self->discarding = false;
        data += take + (newline ? 1 : 0);
        size -= take + (newline ? 1 : 0);
    }
    return records;
}

int
segq__progress_parser_finish (segq__progress_parser_t *self, segq__progress_fn *fn, void *arg)
{
    int records = 0;
    if (!self->discarding && self->used)
        records = s_line (self, self->line, self->used, fn, arg);
    self->used = 0;
    self->discarding = false;
    return records;
}

size_t
segq__progress_parser_rejected (segq__progress_parser_t *self, const char **last_error)
{
    if (last_error)
        *last_error = self->rejected ? self->last_error : NULL;
    return self->rejected;
}

void
segq__progress_limiter_init (segq__progress_limiter_t *self, int64_t interval_ms)
{
    memset (self, 0, sizeof *self);
    self->interval_ms = interval_ms;
}

void
segq__progress_limiter_clear (segq__progress_limiter_t *self)
{
    segq__progress_clear (&self->state);
    self->pending = false;
}

bool
segq__progress_limiter_update (segq__progress_limiter_t *self, const segq__progress_t *update,
                               int64_t now_ms)
{
    if (segq__progress_merge (&self->state, update))
        return false; /* out of memory: skip this update, keep the old state */
    self->pending = true;
    return segq__progress_limiter_due (self, now_ms, false);
}

bool
segq__progress_limiter_due (segq__progress_limiter_t *self, int64_t now_ms, bool force)
{
    if (!self->pending)
        return false;
    return force || self->last_sent_ms == 0 || now_ms - self->last_sent_ms >= self->interval_ms;
}

void
segq__progress_limiter_sent (segq__progress_limiter_t *self, int64_t now_ms)
{
    self->pending = false;
    self->last_sent_ms = now_ms ? now_ms : 1;
}
