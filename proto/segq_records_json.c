/*  segq_records_json.c: see segq_records_json.h.

    jansson's setters take a NULL value as a failure and leave the object
    as it was, so a member that could not be made is left out rather than
    crashing; what the caller gets is still a valid document. */
#include "segq_records_json.h"

#include <math.h>

json_t *
segq_value_json (const segq_value_t *value)
{
    switch (value->type) {
    case SEGQ_PARAM_INT:
        return json_integer (value->i);
    case SEGQ_PARAM_FLOAT:
        return isfinite (value->f) ? json_real (value->f) : json_null ();
    case SEGQ_PARAM_BOOL:
        return json_boolean (value->b);
    case SEGQ_PARAM_STRING:
    case SEGQ_PARAM_CHOICE:
        return json_string (value->s ? value->s : "");
    }
    return json_null ();
}

json_t *
segq_params_json (const segq_params_t *params)
{
    json_t *obj = json_object ();
    for (size_t i = 0; obj && i < params->count; i++)
        json_object_set_new (obj, params->items [i].name,
                             segq_value_json (&params->items [i].value));
    return obj;
}

static json_t *
s_str_or_null (const char *s)
{
    return s ? json_string (s) : json_null ();
}

static json_t *
s_time_json (double t)
{
    return t > 0 ? json_real (t) : json_null ();
}

static json_t *
s_strings_json (char *const *items, size_t n)
{
    json_t *array = json_array ();
    for (size_t i = 0; array && i < n; i++)
        json_array_append_new (array, json_string (items [i]));
    return array;
}

/* ---- jobs ---- */

static json_t *
s_inputs_json (const segq_job_info_t *job)
{
    json_t *inputs = json_array ();
    for (size_t i = 0; inputs && i < job->n_inputs; i++) {
        const segq_input_t *in = &job->inputs [i];
        json_t *e = json_pack ("{s:s}", "name", in->name ? in->name : "");
        if (in->job) {
            json_object_set_new (e, "job", json_string (in->job));
            json_object_set_new (e, "output", s_str_or_null (in->output));
        } else {
            json_object_set_new (e, "hash", json_string (in->hash));
            json_object_set_new (e, "size", json_integer ((json_int_t) in->size));
        }
        if (in->model)
            json_object_set_new (e, "model", json_string (in->model));
        json_array_append_new (inputs, e);
    }
    return inputs;
}

static json_t *
s_outputs_json (const segq_job_info_t *job)
{
    json_t *outputs = json_array ();
    for (size_t i = 0; outputs && i < job->n_outputs; i++)
        json_array_append_new (
            outputs,
            json_pack ("{s:s,s:s,s:I}", "name", job->outputs [i].name ? job->outputs [i].name : "",
                       "hash", job->outputs [i].hash, "size", (json_int_t) job->outputs [i].size));
    return outputs;
}

static json_t *
s_history_json (const segq_job_info_t *job)
{
    json_t *h = json_array ();
    for (size_t i = 0; h && i < job->n_history; i++)
        json_array_append_new (h, json_pack ("{s:s,s:f,s:o}", "state",
                                             segq_job_state_name (job->history [i].state), "time",
                                             job->history [i].time, "reason",
                                             s_str_or_null (job->history [i].reason)));
    return h;
}

/* What the job is and where it stands. */
static void
s_job_state_json (json_t *o, const segq_job_info_t *job)
{
    json_object_set_new (o, "id", s_str_or_null (job->id));
    json_object_set_new (o, "owner", s_str_or_null (job->owner));
    json_object_set_new (o, "kind", s_str_or_null (job->kind));
    json_object_set_new (o, "state", json_string (segq_job_state_name (job->state)));
    json_object_set_new (o, "priority", json_integer (job->priority));
    json_object_set_new (o, "attempt", json_integer (job->attempt));
    json_object_set_new (o, "max_attempts", json_integer (job->max_attempts));
    json_object_set_new (o, "gpu_mem", json_integer ((json_int_t) job->gpu_mem));
    json_object_set_new (o, "cpu_slots", json_integer (job->cpu_slots));
    json_object_set_new (o, "time_limit_s", json_integer (job->time_limit_s));
    json_object_set_new (o, "worker", s_str_or_null (job->worker));
    json_object_set_new (o, "gpu", job->gpu >= 0 ? json_integer (job->gpu) : json_null ());
    json_object_set_new (o, "fraction", json_real (job->fraction));
    json_object_set_new (o, "phase", s_str_or_null (job->phase));
    json_object_set_new (o, "message", s_str_or_null (job->message));
    json_object_set_new (o, "reason", s_str_or_null (job->reason));
    json_object_set_new (o, "exit_code",
                         job->exit_code >= 0 ? json_integer (job->exit_code) : json_null ());
    json_object_set_new (o, "signal", job->signal ? json_integer (job->signal) : json_null ());
    json_object_set_new (o, "created", s_time_json (job->created));
    json_object_set_new (o, "started", s_time_json (job->started));
    json_object_set_new (o, "finished", s_time_json (job->finished));
    json_object_set_new (o, "held", json_boolean (job->held));
}

json_t *
segq_job_info_json (const segq_job_info_t *job)
{
    json_t *o = json_object ();
    if (!o)
        return NULL;
    s_job_state_json (o, job);
    json_object_set_new (o, "params", segq_params_json (&job->params));
    json_object_set_new (o, "metrics", segq_params_json (&job->metrics));
    json_object_set_new (o, "inputs", s_inputs_json (job));
    json_object_set_new (o, "after", s_strings_json (job->after, job->n_after));
    json_object_set_new (o, "outputs", s_outputs_json (job));
    if (job->n_history)
        json_object_set_new (o, "history", s_history_json (job));
    return o;
}

/* ---- workers ---- */

static json_t *
s_gpus_json (const segq_worker_info_t *w)
{
    json_t *gpus = json_array ();
    for (size_t i = 0; gpus && i < w->n_gpus; i++)
        json_array_append_new (gpus,
                               json_pack ("{s:i,s:o,s:s,s:I,s:I}", "index", (int) w->gpus [i].index,
                                          "device", s_str_or_null (w->gpus [i].device), "name",
                                          w->gpus [i].name ? w->gpus [i].name : "", "mem_total",
                                          (json_int_t) w->gpus [i].mem_total, "mem_used",
                                          (json_int_t) w->gpus [i].mem_used));
    return gpus;
}

json_t *
segq_worker_info_json (const segq_worker_info_t *w)
{
    json_t *o = json_object ();
    if (!o)
        return NULL;
    json_object_set_new (o, "node", s_str_or_null (w->node));
    json_object_set_new (o, "state", json_string (segq_worker_state_name (w->state)));
    json_object_set_new (o, "gpus", s_gpus_json (w));
    json_object_set_new (o, "cpu_slots", json_integer (w->cpu_slots));
    json_object_set_new (o, "cpu_used", json_integer (w->cpu_used));
    json_object_set_new (o, "kinds", s_strings_json (w->kinds, w->n_kinds));
    json_object_set_new (o, "running", s_strings_json (w->running, w->n_running));
    json_object_set_new (o, "last_seen", s_time_json (w->last_seen));
    json_object_set_new (o, "version", json_integer (w->version));
    return o;
}

/* ---- models ---- */

json_t *
segq_model_info_json (const segq_model_info_t *m, bool detail)
{
    json_t *o = json_pack ("{s:s,s:s,s:s,s:s,s:f}", "id", m->id, "name", m->name, "owner", m->owner,
                           "job", m->job, "created", m->created);
    if (!o)
        return NULL;
    json_object_set_new (o, "image", s_str_or_null (m->image));
    json_object_set_new (o, "image_sha256", json_string (m->image_hash));
    json_object_set_new (o, "mask", s_str_or_null (m->mask));
    json_object_set_new (o, "mask_sha256", json_string (m->mask_hash));
    json_object_set_new (o, "checkpoint_sha256", json_string (m->checkpoint));
    json_object_set_new (o, "checkpoint_bytes", json_integer ((json_int_t) m->size));
    json_object_set_new (o, "scales", json_integer (m->scales));
    json_object_set_new (o, "height", json_integer (m->height));
    json_object_set_new (o, "width", json_integer (m->width));
    json_object_set_new (o, "tags", s_strings_json (m->tags, m->n_tags));
    json_object_set_new (o, "note", s_str_or_null (m->note));
    json_object_set_new (o, "shared_with", s_strings_json (m->shared, m->n_shared));
    json_object_set_new (o, "lab", json_boolean (m->lab));
    json_object_set_new (o, "pinned", json_boolean (m->pinned));
    json_object_set_new (o, "purged", json_boolean (m->purged));
    if (detail) {
        json_object_set_new (o, "params", segq_params_json (&m->params));
        json_object_set_new (o, "samples", s_str_or_null (m->samples));
    }
    return o;
}

json_t *
segq_usage_row_json (const segq_usage_row_t *row, segq_usage_by_t by)
{
    static const char *const names [] = {
        [SEGQ_USAGE_BY_USER] = "user", [SEGQ_USAGE_BY_KIND] = "kind", [SEGQ_USAGE_BY_DAY] = "day"
    };
    const char *key = by >= SEGQ_USAGE_BY_USER && by <= SEGQ_USAGE_BY_DAY ? names [by] : "key";
    json_t *o =
        json_pack ("{s:s?, s:I, s:I, s:f, s:f, s:f, s:f, s:I, s:I}", key, row->key, "runs",
                   (json_int_t) row->runs, "jobs", (json_int_t) row->jobs, "run_seconds",
                   row->run_seconds, "cpu_slot_seconds", row->cpu_slot_seconds, "gpu_mem_seconds",
                   row->gpu_mem_seconds, "cpu_seconds", row->cpu_seconds, "max_rss",
                   (json_int_t) row->max_rss, "gpu_peak", (json_int_t) row->gpu_peak);
    if (o && by == SEGQ_USAGE_BY_USER)
        json_object_set_new (o, "fairshare_usage", json_real (row->fairshare));
    return o;
}

json_t *
segq_usage_json (const segq_usage_row_t *rows, size_t n, segq_usage_by_t by, double half_life_s)
{
    json_t *array = json_array ();
    for (size_t i = 0; array && i < n; i++)
        if (json_array_append_new (array, segq_usage_row_json (&rows [i], by)) != 0) {
            json_decref (array);
            array = NULL;
        }
    return array ? json_pack ("{s:o, s:f}", "rows", array, "half_life_s", half_life_s) : NULL;
}
