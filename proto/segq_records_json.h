/*  segq_records_json.h: the records of segq_records.h as JSON (jansson).

    The one renderer of jobs, workers and models as JSON: `segq --json`
    prints these objects, and segqd's HTTP API (broker/status_page.c)
    serves the very same ones, so a script written against one reads the
    other. Keys are part of that interface: add, never rename.

    Ownership: each function returns a new reference (json_decref it), or
    NULL when out of memory; the record is only read.
*/
#ifndef SEGQ_RECORDS_JSON_H
#define SEGQ_RECORDS_JSON_H

#include <jansson.h>
#include <stdbool.h>
#include "segq_records.h"

#ifdef __cplusplus
extern "C" {
#endif

/* A parameter's value, typed (a non-finite float is null). */
json_t *segq_value_json (const segq_value_t *value);
/* {"name": value, ...} */
json_t *segq_params_json (const segq_params_t *params);
/* A job as `segq --json status` prints it. */
json_t *segq_job_info_json (const segq_job_info_t *job);
/* A worker as `segq --json workers` prints it. */
json_t *segq_worker_info_json (const segq_worker_info_t *worker);
/* A model as `segq --json models` prints it; detail (SHOW): with the
   training's parameters and the generation to look at (`samples`). */
json_t *segq_model_info_json (const segq_model_info_t *model, bool detail);
/* A row of `segq --json usage`: its key named for the grouping ("user",
   "kind", "day"), the figures in base units (seconds, bytes, byte-seconds);
   by user also fair share's decayed view (weight-seconds). */
json_t *segq_usage_row_json (const segq_usage_row_t *row, segq_usage_by_t by);
/* `segq --json usage` whole: {"rows": [...], "half_life_s": fair share's}. */
json_t *segq_usage_json (const segq_usage_row_t *rows, size_t n, segq_usage_by_t by,
                         double half_life_s);

#ifdef __cplusplus
}
#endif
#endif
