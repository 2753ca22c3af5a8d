/*  cli_format.c: jobs and workers as text tables (as JSON: proto/segq_records_json.c),
    and the small pieces of text every command shares: ages, bars, cells,
    paths, a kind's ranges. */
#include "cli.h"

#include <math.h>
#include <string.h>
#include <time.h>

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

const char *
cli_format_cell (const char *text, int width, char *buf, size_t len)
{
    text = text ? text : "?";
    int chars = 0;
    for (const char *p = text; *p; p++)
        chars += ((unsigned char) *p & 0xC0) != 0x80; /* not a continuation byte */
    snprintf (buf, len, "%s%*s", text, chars < width ? width - chars : 0, "");
    return buf;
}

int
cli_path_join (char *buf, size_t len, const char *dir, const char *name)
{
    /* "synth/" as the user typed it: one '/' before the name, not two */
    size_t keep = strlen (dir);
    while (keep > 1 && dir [keep - 1] == '/')
        keep--;
    const char *sep = keep == 0 || dir [keep - 1] == '/' ? "" : "/";
    return snprintf (buf, len, "%.*s%s%s", (int) keep, dir, sep, name);
}

void
cli_format_bound (segq_param_type_t type, double bound, char *buf, size_t len)
{
    /* an INT's bound as an integer ("1000000000"), not "1e+09" */
    segq_value_t value = { .type = type, .i = (int64_t) bound, .f = bound };
    segq_value_format (&value, buf, len);
}

const char *
cli_format_need (bool required, const char *unless, char *buf, size_t len)
{
    char flag [64];
    if (unless)
        segq_flag_name (unless, flag, sizeof flag);
    snprintf (buf, len, "%s%s",
              unless     ? "required unless --"
              : required ? "required"
                         : "optional",
              unless ? flag : "");
    return buf;
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
        snprintf (buf, len, "%s%s%s", job->reason, job->message ? "; " : "",
                  job->message ? job->message : ""); /* retried as, purged */
    else if (job->message && !segq_job_state_final (job->state))
        snprintf (buf, len, "%s", job->message); /* why it waits */
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
        char age [32], note [512], owner [SEGQ_USER_MAX + 32];
        cli_format_age (j->created, age, sizeof age);
        s_job_note (j, note, sizeof note);
        fprintf (out, "%-10s %-9s %-10s %s %3u %8s  %s\n", j->id ? j->id : "?",
                 j->kind ? j->kind : "?", segq_job_state_name (j->state),
                 cli_format_cell (j->owner, 10, owner, sizeof owner), j->attempt, age, note);
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

static void
s_print_values (FILE *out, const char *label, const segq_params_t *values)
{
    for (size_t i = 0; i < values->count; i++) {
        char v [256];
        segq_value_format (&values->items [i].value, v, sizeof v);
        fprintf (out, "  %-10s %s=%s\n", i ? "" : label, values->items [i].name, v);
    }
}

/* The job's line, its resources, where and how far it runs, how it ended
 * and when. */
static void
s_print_job_state (FILE *out, const segq_job_info_t *j)
{
    fprintf (out, "%s  %s  %s  (owner %s, attempt %u of %u, priority %d)\n", j->id, j->kind,
             segq_job_state_name (j->state), j->owner ? j->owner : "?", j->attempt, j->max_attempts,
             j->priority);
    char size [32];
    if (j->gpu_mem) {
        segq_format_size (j->gpu_mem, size, sizeof size);
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
}

/* What the job takes (inputs, jobs it runs after) and what it made. */
static void
s_print_job_data (FILE *out, const segq_job_info_t *j)
{
    char size [32];
    for (size_t i = 0; i < j->n_inputs; i++) {
        const segq_input_t *in = &j->inputs [i];
        if (in->job)
            fprintf (out, "  %-10s %s <- job %s%s%s\n", i ? "" : "inputs", in->name, in->job,
                     in->output ? ":" : "", in->output ? in->output : "");
        else {
            segq_format_size (in->size, size, sizeof size);
            fprintf (out, "  %-10s %s%s%s (%s, %.12s)\n", i ? "" : "inputs", in->name,
                     in->model ? " <- model " : "", in->model ? in->model : "", size, in->hash);
        }
    }
    for (size_t i = 0; i < j->n_after; i++)
        fprintf (out, "  %-10s %s\n", i ? "" : "after", j->after [i]);
    for (size_t i = 0; i < j->n_outputs; i++) {
        segq_format_size (j->outputs [i].size, size, sizeof size);
        fprintf (out, "  %-10s %s (%s, %.12s)\n", i ? "" : "outputs", j->outputs [i].name, size,
                 j->outputs [i].hash);
    }
}

void
cli_print_job_detail (FILE *out, const segq_job_info_t *j)
{
    s_print_job_state (out, j);
    s_print_values (out, "params", &j->params);
    s_print_values (out, "metrics", &j->metrics);
    s_print_job_data (out, j);
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
            segq_format_size (w->gpus [g].mem_total, total, sizeof total);
            segq_format_size (w->gpus [g].mem_used, busy, sizeof busy);
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
        char node [SEGQ_USER_MAX + 32];
        fprintf (out, "%s %-9s %-7s %-28s %s\n", cli_format_cell (w->node, 16, node, sizeof node),
                 segq_worker_state_name (w->state), cpu, gpus, running);
    }
}
