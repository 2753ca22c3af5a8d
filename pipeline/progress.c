/* Progress records: JSON lines on SEGQ_PROGRESS_FD, else a terminal line. */
#include "segq_progress.h"

#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

struct segq_progress_t {
    int fd;           /* -1: no channel */
    int tty;          /* stderr is a terminal */
    int line_drawn;   /* a terminal line is on screen, not yet ended */
    double last_draw; /* seconds, monotonic */
};

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + ts.tv_nsec * 1e-9;
}

segq_progress_t *segq_progress_new(void)
{
    segq_progress_t *self = calloc(1, sizeof *self);
    if (!self)
        return NULL;
    self->fd = -1;
    self->tty = isatty(STDERR_FILENO);
    const char *env = getenv("SEGQ_PROGRESS_FD");
    if (env && *env) {
        char *end = NULL;
        errno = 0;
        long fd = strtol(env, &end, 10);
        if (errno || *end || fd < 0 || fd > 65535 || fcntl((int)fd, F_GETFD) < 0)
            fprintf(stderr,
                    "segq-run: SEGQ_PROGRESS_FD='%s' is not an open file descriptor; "
                    "progress goes to the terminal instead\n",
                    env);
        else
            self->fd = (int)fd;
    }
    return self;
}

void segq_progress_destroy(segq_progress_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    if ((*self_p)->line_drawn)
        fputc('\n', stderr);
    free(*self_p);
    *self_p = NULL;
}

/* Whole record or nothing visible to a reader that splits on newlines:
 * retry short writes, give up on errors (progress is advisory). */
static void write_all(int fd, const char *buf, size_t len)
{
    while (len > 0) {
        ssize_t n = write(fd, buf, len);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            return;
        buf += n;
        len -= (size_t)n;
    }
}

static void write_json_line(segq_progress_t *self, json_t *obj);

static void report_json(segq_progress_t *self, const char *phase, double fraction,
                        const segq_metric_t *metrics, size_t n_metrics, const char *message)
{
    json_t *obj = json_object();
    if (!obj)
        return;
    if (phase)
        json_object_set_new(obj, "phase", json_string(phase));
    if (fraction >= 0.0)
        json_object_set_new(obj, "fraction", json_real(fraction > 1.0 ? 1.0 : fraction));
    if (n_metrics > 0) {
        json_t *m = json_object();
        for (size_t i = 0; m && i < n_metrics; i++)
            json_object_set_new(m, metrics[i].name,
                                isfinite(metrics[i].value) ? json_real(metrics[i].value)
                                                           : json_null());
        if (m)
            json_object_set_new(obj, "metrics", m);
    }
    if (message)
        json_object_set_new(obj, "message", json_string(message));
    write_json_line(self, obj);
}

/* One record as one line; takes obj. */
static void write_json_line(segq_progress_t *self, json_t *obj)
{
    char *text = json_dumps(obj, JSON_COMPACT | JSON_REAL_PRECISION(9));
    json_decref(obj);
    if (!text)
        return;
    size_t len = strlen(text);
    char *line = realloc(text, len + 2);
    if (!line) {
        free(text);
        return;
    }
    line[len] = '\n';
    line[len + 1] = '\0';
    write_all(self->fd, line, len + 1);
    free(line);
}

static void report_tty(segq_progress_t *self, const char *phase, double fraction,
                       const segq_metric_t *metrics, size_t n_metrics, const char *message,
                       int force)
{
    double t = now_s();
    if (!force && t - self->last_draw < 0.2)
        return;
    self->last_draw = t;
    char line[256];
    int n = snprintf(line, sizeof line, "\r%-12s", phase ? phase : "");
    if (fraction >= 0.0 && n < (int)sizeof line)
        n += snprintf(line + n, sizeof line - n, " %5.1f%%", 100.0 * fraction);
    for (size_t i = 0; i < n_metrics && n < (int)sizeof line; i++)
        n += snprintf(line + n, sizeof line - n, " %s=%.4g", metrics[i].name, metrics[i].value);
    if (message && n < (int)sizeof line)
        n += snprintf(line + n, sizeof line - n, " %s", message);
    fputs(line, stderr);
    fputs("\033[K", stderr);
    fflush(stderr);
    self->line_drawn = 1;
}

void segq_progress_report(segq_progress_t *self, const char *phase, double fraction,
                          const segq_metric_t *metrics, size_t n_metrics, const char *message,
                          int force)
{
    if (!self)
        return;
    if (self->fd >= 0)
        report_json(self, phase, fraction, metrics, n_metrics, message);
    else if (self->tty)
        report_tty(self, phase, fraction, metrics, n_metrics, message, force);
}

void segq_progress_checkpoint(segq_progress_t *self, const char *name, int step)
{
    if (!self || self->fd < 0)
        return;
    json_t *obj = json_object();
    if (!obj)
        return;
    json_object_set_new(obj, "checkpoint", json_string(name));
    json_object_set_new(obj, "step", json_integer(step));
    write_json_line(self, obj);
}
