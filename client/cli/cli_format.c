/*  cli_format.c: jobs and workers as text tables and as JSON. */
#include "cli.h"

#include <math.h>
#include <string.h>
#include <time.h>

void
cli_format_size (uint64_t bytes, char *buf, size_t len)
{
    static const char *units [] = { "B", "KiB", "MiB", "GiB", "TiB" };
    double v = (double) bytes;
    size_t u = 0;
    while (v >= 1024 && u + 1 < sizeof units / sizeof units [0]) {
        v /= 1024;
        u++;
    }
    if (u == 0)
        snprintf (buf, len, "%llu B", (unsigned long long) bytes);
    else
        snprintf (buf, len, "%.1f %s", v, units [u]);
}

static void
s_format_seconds (double s, char *buf, size_t len)
{
    if (s < 0)
        s = 0;
    long t = (long) s;
    if (t < 60)
        snprintf (buf, len, "%lds", t);
    else if (t < 3600)
        snprintf (buf, len, "%ldm%02lds", t / 60, t % 60);
    else if (t < 86400)
        snprintf (buf, len, "%ldh%02ldm", t / 3600, (t % 3600) / 60);
    else
        snprintf (buf, len, "%ldd%02ldh", t / 86400, (t % 86400) / 3600);
}

void
cli_format_age (double since, char *buf, size_t len)
{
    if (since <= 0) {
        snprintf (buf, len, "-");
        return;
    }
    struct timespec now;
    clock_gettime (CLOCK_REALTIME, &now);
    s_format_seconds ((double) now.tv_sec + now.tv_nsec / 1e9 - since, buf, len);
}

void
cli_format_bar (double fraction, int width, char *buf, size_t len)
{
    if (!(fraction >= 0))
        fraction = 0;
    if (fraction > 1)
        fraction = 1;
    if (width < 1 || (size_t) width + 3 > len) {
        if (len)
            buf [0] = 0;
        return;
    }
    int filled = (int) lround (fraction * width);
    size_t i = 0;
    buf [i++] = '[';
    for (int c = 0; c < width; c++)
        buf [i++] = c < filled ? '#' : '.';
    buf [i++] = ']';
    buf [i] = 0;
}

json_t *
cli_value_json (const segq_value_t *value)
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
cli_params_json (const segq_params_t *params)
{
    json_t *obj = json_object ();
    for (size_t i = 0; obj && i < params->count; i++)
        json_object_set_new (obj, params->items [i].name,
                             cli_value_json (&params->items [i].value));
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

json_t *
cli_job_json (const segq_job_info_t *job)
{
    json_t *o = json_object ();
    if (!o)
        return NULL;
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
    json_object_set_new (o, "params", cli_params_json (&job->params));
    json_object_set_new (o, "metrics", cli_params_json (&job->metrics));
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
    json_object_set_new (o, "inputs", inputs);
    json_t *after = json_array ();
    for (size_t i = 0; after && i < job->n_after; i++)
        json_array_append_new (after, json_string (job->after [i]));
    json_object_set_new (o, "after", after);
    json_t *outputs = json_array ();
    for (size_t i = 0; outputs && i < job->n_outputs; i++)
        json_array_append_new (
            outputs,
            json_pack ("{s:s,s:s,s:I}", "name", job->outputs [i].name ? job->outputs [i].name : "",
                       "hash", job->outputs [i].hash, "size", (json_int_t) job->outputs [i].size));
    json_object_set_new (o, "outputs", outputs);
    if (job->n_history) {
        json_t *h = json_array ();
        for (size_t i = 0; h && i < job->n_history; i++)
            json_array_append_new (h, json_pack ("{s:s,s:f,s:o}", "state",
                                                 segq_job_state_name (job->history [i].state),
                                                 "time", job->history [i].time, "reason",
                                                 s_str_or_null (job->history [i].reason)));
        json_object_set_new (o, "history", h);
    }
    return o;
}

json_t *
cli_worker_json (const segq_worker_info_t *w)
{
    json_t *o = json_object ();
    if (!o)
        return NULL;
    json_object_set_new (o, "node", s_str_or_null (w->node));
    json_object_set_new (o, "state", json_string (segq_worker_state_name (w->state)));
    json_t *gpus = json_array ();
    for (size_t i = 0; gpus && i < w->n_gpus; i++)
        json_array_append_new (gpus,
                               json_pack ("{s:i,s:o,s:s,s:I,s:I}", "index", (int) w->gpus [i].index,
                                          "device", s_str_or_null (w->gpus [i].device), "name",
                                          w->gpus [i].name ? w->gpus [i].name : "", "mem_total",
                                          (json_int_t) w->gpus [i].mem_total, "mem_used",
                                          (json_int_t) w->gpus [i].mem_used));
    json_object_set_new (o, "gpus", gpus);
    json_object_set_new (o, "cpu_slots", json_integer (w->cpu_slots));
    json_object_set_new (o, "cpu_used", json_integer (w->cpu_used));
    json_t *kinds = json_array ();
    for (size_t i = 0; kinds && i < w->n_kinds; i++)
        json_array_append_new (kinds, json_string (w->kinds [i]));
    json_object_set_new (o, "kinds", kinds);
    json_t *running = json_array ();
    for (size_t i = 0; running && i < w->n_running; i++)
        json_array_append_new (running, json_string (w->running [i]));
    json_object_set_new (o, "running", running);
    json_object_set_new (o, "last_seen", s_time_json (w->last_seen));
    json_object_set_new (o, "version", json_integer (w->version));
    return o;
}

/* What the last column says: progress while running, why it ended otherwise. */
static void
s_job_note (const segq_job_info_t *job, char *buf, size_t len)
{
    if (job->state == SEGQ_JOB_RUNNING) {
        char bar [24];
        cli_format_bar (job->fraction, 10, bar, sizeof bar);
        snprintf (buf, len, "%s %3.0f%% on %s%s%s", bar, job->fraction * 100,
                  job->worker ? job->worker : "?", job->phase ? " " : "",
                  job->phase ? job->phase : "");
    } else if (job->reason)
        snprintf (buf, len, "%s", job->reason);
    else if (job->state == SEGQ_JOB_WAITING && job->n_inputs + job->n_after)
        snprintf (buf, len, "waiting for its inputs");
    else
        buf [0] = 0;
}

void
cli_print_job_table (FILE *out, const segq_job_info_t *jobs, size_t n, bool header)
{
    if (header)
        fprintf (out, "%-10s %-9s %-10s %-10s %3s %8s  %s\n", "JOB", "KIND", "STATE", "OWNER",
                 "TRY", "AGE", "NOTE");
    for (size_t i = 0; i < n; i++) {
        const segq_job_info_t *j = &jobs [i];
        char age [32], note [512];
        cli_format_age (j->created, age, sizeof age);
        s_job_note (j, note, sizeof note);
        fprintf (out, "%-10s %-9s %-10s %-10s %3u %8s  %s\n", j->id ? j->id : "?",
                 j->kind ? j->kind : "?", segq_job_state_name (j->state), j->owner ? j->owner : "?",
                 j->attempt, age, note);
    }
}

static void
s_print_time (FILE *out, const char *label, double t)
{
    if (t <= 0)
        return;
    time_t secs = (time_t) t;
    struct tm tm;
    char text [64];
    localtime_r (&secs, &tm);
    strftime (text, sizeof text, "%Y-%m-%d %H:%M:%S", &tm);
    fprintf (out, "  %-10s %s\n", label, text);
}

void
cli_print_job_detail (FILE *out, const segq_job_info_t *j)
{
    fprintf (out, "%s  %s  %s  (owner %s, attempt %u of %u, priority %d)\n", j->id, j->kind,
             segq_job_state_name (j->state), j->owner ? j->owner : "?", j->attempt, j->max_attempts,
             j->priority);
    char size [32];
    if (j->gpu_mem) {
        cli_format_size (j->gpu_mem, size, sizeof size);
        fprintf (out, "  resources  GPU %s\n", size);
    } else
        fprintf (out, "  resources  %u CPU slot%s\n", j->cpu_slots ? j->cpu_slots : 1,
                 j->cpu_slots == 1 || j->cpu_slots == 0 ? "" : "s");
    if (j->time_limit_s)
        fprintf (out, "  time limit %u s\n", j->time_limit_s);
    if (j->worker)
        fprintf (out, "  worker     %s%s\n", j->worker, j->gpu >= 0 ? " (GPU)" : "");
    if (j->state == SEGQ_JOB_RUNNING || j->fraction > 0) {
        char bar [40];
        cli_format_bar (j->fraction, 20, bar, sizeof bar);
        fprintf (out, "  progress   %s %.0f%%%s%s%s%s\n", bar, j->fraction * 100,
                 j->phase ? "  " : "", j->phase ? j->phase : "", j->message ? "  " : "",
                 j->message ? j->message : "");
    }
    if (j->reason)
        fprintf (out, "  reason     %s\n", j->reason);
    if (j->exit_code >= 0 && segq_job_state_final (j->state))
        fprintf (out, "  exit code  %d\n", j->exit_code);
    if (j->signal)
        fprintf (out, "  signal     %d\n", j->signal);
    s_print_time (out, "created", j->created);
    s_print_time (out, "started", j->started);
    s_print_time (out, "finished", j->finished);
    for (size_t i = 0; i < j->params.count; i++) {
        char v [256];
        segq_value_format (&j->params.items [i].value, v, sizeof v);
        fprintf (out, "  %-10s %s=%s\n", i ? "" : "params", j->params.items [i].name, v);
    }
    for (size_t i = 0; i < j->metrics.count; i++) {
        char v [256];
        segq_value_format (&j->metrics.items [i].value, v, sizeof v);
        fprintf (out, "  %-10s %s=%s\n", i ? "" : "metrics", j->metrics.items [i].name, v);
    }
    for (size_t i = 0; i < j->n_inputs; i++) {
        const segq_input_t *in = &j->inputs [i];
        if (in->job)
            fprintf (out, "  %-10s %s <- job %s%s%s\n", i ? "" : "inputs", in->name, in->job,
                     in->output ? ":" : "", in->output ? in->output : "");
        else {
            cli_format_size (in->size, size, sizeof size);
            fprintf (out, "  %-10s %s%s%s (%s, %.12s)\n", i ? "" : "inputs", in->name,
                     in->model ? " <- model " : "", in->model ? in->model : "", size, in->hash);
        }
    }
    for (size_t i = 0; i < j->n_after; i++)
        fprintf (out, "  %-10s %s\n", i ? "" : "after", j->after [i]);
    for (size_t i = 0; i < j->n_outputs; i++) {
        cli_format_size (j->outputs [i].size, size, sizeof size);
        fprintf (out, "  %-10s %s (%s, %.12s)\n", i ? "" : "outputs", j->outputs [i].name, size,
                 j->outputs [i].hash);
    }
    for (size_t i = 0; i < j->n_history; i++) {
        char when [64];
        time_t secs = (time_t) j->history [i].time;
        struct tm tm;
        localtime_r (&secs, &tm);
        strftime (when, sizeof when, "%H:%M:%S", &tm);
        fprintf (out, "  %-10s %s %s%s%s\n", i ? "" : "history", when,
                 segq_job_state_name (j->history [i].state), j->history [i].reason ? ": " : "",
                 j->history [i].reason ? j->history [i].reason : "");
    }
}

void
cli_print_worker_table (FILE *out, const segq_worker_info_t *workers, size_t n)
{
    fprintf (out, "%-16s %-9s %-7s %-28s %s\n", "NODE", "STATE", "CPU", "GPUS", "RUNNING");
    for (size_t i = 0; i < n; i++) {
        const segq_worker_info_t *w = &workers [i];
        char cpu [32], gpus [256] = "-", running [256] = "-";
        snprintf (cpu, sizeof cpu, "%u/%u", w->cpu_used, w->cpu_slots);
        size_t used = 0;
        for (size_t g = 0; g < w->n_gpus && used < sizeof gpus; g++) {
            char total [32], busy [32];
            cli_format_size (w->gpus [g].mem_total, total, sizeof total);
            cli_format_size (w->gpus [g].mem_used, busy, sizeof busy);
            /* the physical GPU where the worker has a CUDA_VISIBLE_DEVICES of its own */
            char index [16];
            snprintf (index, sizeof index, "%u", w->gpus [g].index);
            used +=
                (size_t) snprintf (gpus + used, sizeof gpus - used, "%s%s:%s/%s", g ? " " : "",
                                   w->gpus [g].device ? w->gpus [g].device : index, busy, total);
        }
        used = 0;
        for (size_t r = 0; r < w->n_running && used < sizeof running; r++)
            used += (size_t) snprintf (running + used, sizeof running - used, "%s%s", r ? "," : "",
                                       w->running [r]);
        fprintf (out, "%-16s %-9s %-7s %-28s %s\n", w->node ? w->node : "?",
                 segq_worker_state_name (w->state), cpu, gpus, running);
    }
}
