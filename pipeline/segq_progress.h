/* segq_progress: the progress channel of a job (ARCHITECTURE.md).
 * With SEGQ_PROGRESS_FD=N in the environment, every report is one JSON
 * object on its own line written to fd N:
 *   {"phase": "...", "fraction": 0.25, "metrics": {"loss_d": -0.1}, "message": "..."}
 * Without it, and when stderr is a terminal, a human progress line is
 * redrawn on stderr (at most a few times a second). Otherwise silent. */
#ifndef SEGQ_PROGRESS_H
#define SEGQ_PROGRESS_H

#include <stddef.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef struct segq_progress_t segq_progress_t;

typedef struct {
    const char *name;
    double value;
} segq_metric_t;

/* Reads SEGQ_PROGRESS_FD. NULL only when out of memory; an unusable value
 * (not a number, closed fd) is reported on stderr and falls back to the
 * terminal line. */
segq_progress_t *segq_progress_new(void);
/* Ends the terminal line, if one was drawn. The fd is not closed (the
 * parent owns it). */
void segq_progress_destroy(segq_progress_t **self_p);

/* phase and message may be NULL; fraction < 0 leaves it out. Metrics that
 * are not finite are written as null (JSON has no NaN). Terminal lines are
 * throttled unless `force`. */
void segq_progress_report(segq_progress_t *self, const char *phase, double fraction,
                          const segq_metric_t *metrics, size_t n_metrics, const char *message,
                          int force);

/* Announces that OUT/name (a path under the output directory) is a
 * finished checkpoint holding `step` units of work, written atomically:
 * {"checkpoint": name, "step": step}. The worker uploads it, so a requeued
 * job resumes from it (proto/SPEC.md 8.3). Only on the channel. */
void segq_progress_checkpoint(segq_progress_t *self, const char *name, int step);

#ifdef __cplusplus
}
#endif
#endif
