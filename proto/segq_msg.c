/*  segq_msg.c: message objects: the field tables, construction, freeing,
    copying, and the names of types and states. The codec itself is in
    segq_msg_codec.c. */
#include "segq_msg_fields.h"
#include "segq_memory.h"

#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

_Static_assert(sizeof (segq_job_state_t) == sizeof (int)
                   && sizeof (segq_worker_state_t) == sizeof (int)
                   && sizeof (segq_param_type_t) == sizeof (int)
                   && sizeof (segq_model_op_t) == sizeof (int),
               "ENUM fields are read and written as int");

#define R      SEGQ__FL_REQUIRED
#define KEY(k) .key = k, .key_len = sizeof (k) - 1
#define FIELD(st, m, k, t, fl)                                                                     \
    {                                                                                              \
        KEY (k), .type = SEGQ__F_##t, .flags = (fl), .offset = offsetof (st, m)                    \
    }
#define RANGED(st, m, k, t, fl, l, h, a)                                                           \
    {                                                                                              \
        KEY (k), .type = SEGQ__F_##t, .flags = (fl), .offset = offsetof (st, m), .lo = (l),        \
                 .hi = (h), .absent = (a)                                                          \
    }
#define I32(st, m, k, fl, a) RANGED (st, m, k, I32, fl, INT32_MIN, INT32_MAX, a)
#define COUNTED(st, m, n, k, t, fl)                                                                \
    {                                                                                              \
        KEY (k), .type = SEGQ__F_##t, .flags = (fl), .offset = offsetof (st, m),                   \
                 .count_offset = offsetof (st, n)                                                  \
    }
#define STRUCTS(st, m, n, k, fl, desc)                                                             \
    {                                                                                              \
        KEY (k), .type = SEGQ__F_STRUCTS, .flags = (fl), .offset = offsetof (st, m),               \
                 .count_offset = offsetof (st, n), .sub = &(desc)                                  \
    }
#define DESC(name, st, fields, check)                                                              \
    {                                                                                              \
        name, sizeof (st), fields, sizeof (fields) / sizeof (fields) [0], check                    \
    }
#define JOB_STATE(st, m, k, fl, lo) RANGED (st, m, k, ENUM, fl, lo, SEGQ_JOB_CANCELLED, 0)

/* ---- nested structs ---- */

static const segq__field_t s_artifact_fields [] = {
    FIELD (segq_artifact_t, name, "name", NAME, R),
    FIELD (segq_artifact_t, hash, "hash", HASH, R),
    FIELD (segq_artifact_t, size, "size", U64, R),
};
const segq__struct_desc_t segq__artifact_desc =
    DESC ("artifact", segq_artifact_t, s_artifact_fields, NULL);

static int
s_input_check (const void *object, char *err, size_t errlen)
{
    const segq_input_t *input = object;
    /* in a stored job's description a model input shows its checkpoint's
       hash beside the model's id */
    int forms = (input->hash [0] != '\0') + (input->job != NULL) + (input->model != NULL);
    if (forms != 1 && !(forms == 2 && input->model && input->hash [0])) {
        snprintf (err, errlen, "input '%.64s': give exactly one of 'hash', 'job' and 'model'",
                  input->name);
        return SEGQ_EPROTO;
    }
    if (input->output && !input->job) {
        snprintf (err, errlen, "input '%.64s': 'out' only goes with 'job'", input->name);
        return SEGQ_EPROTO;
    }
    return SEGQ_OK;
}

static const segq__field_t s_input_fields [] = {
    FIELD (segq_input_t, name, "name", NAME, R),
    FIELD (segq_input_t, hash, "hash", HASH, 0),
    FIELD (segq_input_t, size, "size", U64, 0),
    FIELD (segq_input_t, job, "job", STR, SEGQ__FL_SHORT),
    FIELD (segq_input_t, output, "out", STR, SEGQ__FL_SHORT),
    FIELD (segq_input_t, model, "model", STR, SEGQ__FL_SHORT),
};
const segq__struct_desc_t segq__input_desc =
    DESC ("input", segq_input_t, s_input_fields, s_input_check);

static const segq__field_t s_gpu_fields [] = {
    FIELD (segq_gpu_t, index, "idx", U32, R),
    FIELD (segq_gpu_t, name, "name", STR, R | SEGQ__FL_SHORT),
    FIELD (segq_gpu_t, mem_total, "mem", U64, R),
    FIELD (segq_gpu_t, mem_used, "used", U64, 0),
    FIELD (segq_gpu_t, device, "dev", STR, SEGQ__FL_SHORT),
};
static const segq__struct_desc_t s_gpu_desc = DESC ("gpu", segq_gpu_t, s_gpu_fields, NULL);

static const segq__field_t s_job_attempt_fields [] = {
    FIELD (segq_job_attempt_t, job, "job", STR, R | SEGQ__FL_SHORT),
    FIELD (segq_job_attempt_t, attempt, "att", U32, R),
};
static const segq__struct_desc_t s_job_attempt_desc =
    DESC ("held job", segq_job_attempt_t, s_job_attempt_fields, NULL);

static const segq__field_t s_transition_fields [] = {
    JOB_STATE (segq_transition_t, state, "state", R, SEGQ_JOB_WAITING),
    FIELD (segq_transition_t, time, "time", F64, R),
    FIELD (segq_transition_t, reason, "reason", STR, 0),
};
static const segq__struct_desc_t s_transition_desc =
    DESC ("transition", segq_transition_t, s_transition_fields, NULL);

static const segq__field_t s_job_info_fields [] = {
    FIELD (segq_job_info_t, id, "id", STR, R | SEGQ__FL_SHORT),
    FIELD (segq_job_info_t, owner, "owner", STR, R | SEGQ__FL_SHORT),
    FIELD (segq_job_info_t, kind, "kind", STR, R | SEGQ__FL_SHORT),
    JOB_STATE (segq_job_info_t, state, "state", R, SEGQ_JOB_WAITING),
    I32 (segq_job_info_t, priority, "prio", 0, 0),
    FIELD (segq_job_info_t, attempt, "att", U32, 0),
    FIELD (segq_job_info_t, max_attempts, "maxa", U32, 0),
    FIELD (segq_job_info_t, gpu_mem, "gmem", U64, 0),
    FIELD (segq_job_info_t, cpu_slots, "cpus", U32, 0),
    FIELD (segq_job_info_t, time_limit_s, "tlim", U32, 0),
    FIELD (segq_job_info_t, worker, "worker", STR, SEGQ__FL_SHORT),
    I32 (segq_job_info_t, gpu, "gpu", 0, -1),
    FIELD (segq_job_info_t, fraction, "frac", F64, SEGQ__FL_UNIT),
    FIELD (segq_job_info_t, phase, "phase", STR, 0),
    FIELD (segq_job_info_t, message, "msg", STR, 0),
    FIELD (segq_job_info_t, reason, "reason", STR, 0),
    I32 (segq_job_info_t, exit_code, "exit", 0, -1),
    I32 (segq_job_info_t, signal, "sig", 0, 0),
    FIELD (segq_job_info_t, created, "ctime", F64, 0),
    FIELD (segq_job_info_t, started, "stime", F64, 0),
    FIELD (segq_job_info_t, finished, "ftime", F64, 0),
    FIELD (segq_job_info_t, params, "params", PARAMS, 0),
    FIELD (segq_job_info_t, metrics, "metrics", METRICS, 0),
    STRUCTS (segq_job_info_t, inputs, n_inputs, "inputs", 0, segq__input_desc),
    COUNTED (segq_job_info_t, after, n_after, "after", STRS, 0),
    STRUCTS (segq_job_info_t, outputs, n_outputs, "outs", 0, segq__artifact_desc),
    STRUCTS (segq_job_info_t, history, n_history, "hist", 0, s_transition_desc),
    FIELD (segq_job_info_t, held, "held", BOOL, 0),
};
const segq__struct_desc_t segq__job_info_desc =
    DESC ("job", segq_job_info_t, s_job_info_fields, NULL);

static const segq__field_t s_worker_info_fields [] = {
    FIELD (segq_worker_info_t, node, "node", STR, R | SEGQ__FL_SHORT),
    RANGED (segq_worker_info_t, state, "state", ENUM, R, SEGQ_WORKER_ACTIVE, SEGQ_WORKER_LOST, 0),
    STRUCTS (segq_worker_info_t, gpus, n_gpus, "gpus", 0, s_gpu_desc),
    FIELD (segq_worker_info_t, cpu_slots, "cpus", U32, 0),
    FIELD (segq_worker_info_t, cpu_used, "cused", U32, 0),
    COUNTED (segq_worker_info_t, kinds, n_kinds, "kinds", STRS, 0),
    COUNTED (segq_worker_info_t, running, n_running, "running", STRS, 0),
    FIELD (segq_worker_info_t, last_seen, "seen", F64, 0),
    FIELD (segq_worker_info_t, version, "ver", U32, 0),
};
const segq__struct_desc_t segq__worker_info_desc =
    DESC ("worker", segq_worker_info_t, s_worker_info_fields, NULL);

static const segq__field_t s_cancel_result_fields [] = {
    FIELD (segq_cancel_result_t, job, "job", STR, R | SEGQ__FL_SHORT),
    I32 (segq_cancel_result_t, code, "code", R, 0),
    FIELD (segq_cancel_result_t, message, "msg", STR, 0),
};
static const segq__struct_desc_t s_cancel_result_desc =
    DESC ("cancel result", segq_cancel_result_t, s_cancel_result_fields, NULL);

/* A row of the kind table (segq_schema.h): a parameter's default travels
   typed, in the kind's `defs`, rather than as text here. */
static const segq__field_t s_kind_param_fields [] = {
    FIELD (segq_kind_param_t, name, "name", STR, R | SEGQ__FL_SHORT),
    RANGED (segq_kind_param_t, type, "type", ENUM, R, SEGQ_PARAM_INT, SEGQ_PARAM_CHOICE, 0),
    FIELD (segq_kind_param_t, min, "min", F64, 0),
    FIELD (segq_kind_param_t, max, "max", F64, 0),
    COUNTED (segq_kind_param_t, choices, n_choices, "choices", STRS, 0),
    FIELD (segq_kind_param_t, help, "help", STR, 0),
};
static const segq__struct_desc_t s_kind_param_desc =
    DESC ("kind parameter", segq_kind_param_t, s_kind_param_fields, NULL);

static const segq__field_t s_kind_input_fields [] = {
    FIELD (segq_kind_input_t, name, "name", NAME, R),
    FIELD (segq_kind_input_t, required, "required", BOOL, 0),
    FIELD (segq_kind_input_t, unless, "unless", STR, SEGQ__FL_SHORT),
    FIELD (segq_kind_input_t, many, "many", BOOL, 0),
    FIELD (segq_kind_input_t, sets, "sets", BOOL, 0),
    FIELD (segq_kind_input_t, help, "help", STR, 0),
    FIELD (segq_kind_input_t, catalogue, "catalogue", BOOL, 0),
};
static const segq__struct_desc_t s_kind_input_desc =
    DESC ("kind input", segq_kind_input_t, s_kind_input_fields, NULL);

static const segq__field_t s_kind_info_fields [] = {
    FIELD (segq_kind_info_t, name, "name", STR, R | SEGQ__FL_SHORT),
    FIELD (segq_kind_info_t, help, "help", STR, 0),
    STRUCTS (segq_kind_info_t, params, n_params, "params", 0, s_kind_param_desc),
    FIELD (segq_kind_info_t, defaults, "defs", PARAMS, 0),
    STRUCTS (segq_kind_info_t, inputs, n_inputs, "inputs", 0, s_kind_input_desc),
    FIELD (segq_kind_info_t, principal, "out", STR, R | SEGQ__FL_SHORT),
    FIELD (segq_kind_info_t, test, "test", BOOL, 0),
};
static const segq__struct_desc_t s_kind_info_desc =
    DESC ("kind", segq_kind_info_t, s_kind_info_fields, NULL);

/* ---- message bodies ---- */

static const segq__field_t s_error_fields [] = {
    FIELD (segq_error_msg_t, req_id, "req", U64, 0),
    I32 (segq_error_msg_t, code, "code", R, 0),
    FIELD (segq_error_msg_t, message, "msg", STR, R),
    COUNTED (segq_error_msg_t, versions, n_versions, "vers", U32S, 0),
};

static const segq__field_t s_bye_fields [] = {
    FIELD (segq_bye_t, reason, "reason", STR, 0),
};

static const segq__field_t s_submit_fields [] = {
    FIELD (segq_submit_t, req_id, "req", U64, R),
    FIELD (segq_submit_t, user, "user", STR, R | SEGQ__FL_SHORT),
    FIELD (segq_submit_t, kind, "kind", STR, R | SEGQ__FL_SHORT),
    FIELD (segq_submit_t, params, "params", PARAMS, 0),
    STRUCTS (segq_submit_t, inputs, n_inputs, "inputs", 0, segq__input_desc),
    COUNTED (segq_submit_t, after, n_after, "after", STRS, 0),
    I32 (segq_submit_t, priority, "prio", 0, 0),
    FIELD (segq_submit_t, gpu_mem, "gmem", U64, 0),
    FIELD (segq_submit_t, cpu_slots, "cpus", U32, 0),
    FIELD (segq_submit_t, time_limit_s, "tlim", U32, 0),
    FIELD (segq_submit_t, max_attempts, "maxa", U32, 0),
    FIELD (segq_submit_t, retry, "retry", STR, SEGQ__FL_SHORT),
};

static const segq__field_t s_submitted_fields [] = {
    FIELD (segq_submitted_t, req_id, "req", U64, R),
    FIELD (segq_submitted_t, job, "job", STR, R | SEGQ__FL_SHORT),
    FIELD (segq_submitted_t, gpu_mem, "gmem", U64, 0),
    FIELD (segq_submitted_t, cpu_slots, "cpus", U32, 0),
};

static const segq__field_t s_status_fields [] = {
    FIELD (segq_status_t, req_id, "req", U64, R),
    COUNTED (segq_status_t, jobs, n_jobs, "jobs", STRS, 0),
    FIELD (segq_status_t, user, "user", STR, SEGQ__FL_SHORT),
    RANGED (segq_status_t, state, "state", I32, 0, 0, SEGQ_JOB_CANCELLED, 0),
    FIELD (segq_status_t, cursor, "cursor", STR, SEGQ__FL_SHORT),
    FIELD (segq_status_t, limit, "limit", U32, 0),
    FIELD (segq_status_t, detail, "detail", BOOL, 0),
    FIELD (segq_status_t, caller, "caller", STR, SEGQ__FL_SHORT),
    FIELD (segq_status_t, newest, "newest", BOOL, 0),
    RANGED (segq_status_t, wait_ms, "wait", I32, 0, 0, SEGQ_STATUS_WAIT_MAX_MS, 0),
};

static const segq__field_t s_status_reply_fields [] = {
    FIELD (segq_status_reply_t, req_id, "req", U64, R),
    STRUCTS (segq_status_reply_t, jobs, n_jobs, "jobs", 0, segq__job_info_desc),
    FIELD (segq_status_reply_t, cursor, "cursor", STR, SEGQ__FL_SHORT),
};

static const segq__field_t s_cancel_fields [] = {
    FIELD (segq_cancel_t, req_id, "req", U64, R),
    FIELD (segq_cancel_t, user, "user", STR, R | SEGQ__FL_SHORT),
    COUNTED (segq_cancel_t, jobs, n_jobs, "jobs", STRS, R),
};

static const segq__field_t s_cancel_reply_fields [] = {
    FIELD (segq_cancel_reply_t, req_id, "req", U64, R),
    STRUCTS (segq_cancel_reply_t, results, n_results, "results", 0, s_cancel_result_desc),
};

static const segq__field_t s_logs_fields [] = {
    FIELD (segq_logs_t, req_id, "req", U64, R),
    FIELD (segq_logs_t, user, "user", STR, SEGQ__FL_SHORT),
    FIELD (segq_logs_t, job, "job", STR, R | SEGQ__FL_SHORT),
    FIELD (segq_logs_t, offset, "off", U64, 0),
    FIELD (segq_logs_t, max_bytes, "max", U32, 0),
};

static const segq__field_t s_logs_reply_fields [] = {
    FIELD (segq_logs_reply_t, req_id, "req", U64, R),
    FIELD (segq_logs_reply_t, job, "job", STR, R | SEGQ__FL_SHORT),
    FIELD (segq_logs_reply_t, offset, "off", U64, R),
    COUNTED (segq_logs_reply_t, data, size, "data", BIN, 0),
    FIELD (segq_logs_reply_t, complete, "done", BOOL, 0),
};

static const segq__field_t s_workers_fields [] = {
    FIELD (segq_workers_t, req_id, "req", U64, R),
};

static const segq__field_t s_workers_reply_fields [] = {
    FIELD (segq_workers_reply_t, req_id, "req", U64, R),
    STRUCTS (segq_workers_reply_t, workers, n_workers, "workers", 0, segq__worker_info_desc),
};

static const segq__field_t s_drain_fields [] = {
    FIELD (segq_drain_t, req_id, "req", U64, R),
    FIELD (segq_drain_t, user, "user", STR, SEGQ__FL_SHORT),
    FIELD (segq_drain_t, node, "node", STR, R | SEGQ__FL_SHORT),
};

static const segq__field_t s_priority_fields [] = {
    FIELD (segq_priority_t, req_id, "req", U64, R),
    FIELD (segq_priority_t, user, "user", STR, SEGQ__FL_SHORT),
    FIELD (segq_priority_t, job, "job", STR, R | SEGQ__FL_SHORT),
    I32 (segq_priority_t, priority, "prio", R, 0),
};

static const segq__field_t s_priority_reply_fields [] = {
    FIELD (segq_priority_reply_t, req_id, "req", U64, R),
    FIELD (segq_priority_reply_t, job, "job", STR, R | SEGQ__FL_SHORT),
    I32 (segq_priority_reply_t, priority, "prio", R, 0),
    I32 (segq_priority_reply_t, previous, "was", R, 0),
};

static const segq__field_t s_hold_fields [] = {
    FIELD (segq_hold_t, req_id, "req", U64, R),
    FIELD (segq_hold_t, user, "user", STR, R | SEGQ__FL_SHORT),
    COUNTED (segq_hold_t, jobs, n_jobs, "jobs", STRS, R),
    FIELD (segq_hold_t, release, "release", BOOL, 0),
};

static const segq__field_t s_hold_reply_fields [] = {
    FIELD (segq_hold_reply_t, req_id, "req", U64, R),
    STRUCTS (segq_hold_reply_t, results, n_results, "results", 0, s_cancel_result_desc),
};

static const segq__field_t s_usage_fields [] = {
    FIELD (segq_usage_t, req_id, "req", U64, R),
    FIELD (segq_usage_t, user, "user", STR, SEGQ__FL_SHORT),
    FIELD (segq_usage_t, of_user, "of", STR, SEGQ__FL_SHORT),
    FIELD (segq_usage_t, since, "since", F64, 0),
    FIELD (segq_usage_t, until, "until", F64, 0),
    RANGED (segq_usage_t, by, "by", ENUM, R, SEGQ_USAGE_BY_USER, SEGQ_USAGE_BY_DAY, 0),
};

static const segq__field_t s_usage_row_fields [] = {
    FIELD (segq_usage_row_t, key, "key", STR, R | SEGQ__FL_SHORT),
    FIELD (segq_usage_row_t, runs, "runs", U64, 0),
    FIELD (segq_usage_row_t, jobs, "jobs", U64, 0),
    FIELD (segq_usage_row_t, run_seconds, "run_s", F64, 0),
    FIELD (segq_usage_row_t, cpu_slot_seconds, "slot_s", F64, 0),
    FIELD (segq_usage_row_t, gpu_mem_seconds, "gmem_s", F64, 0),
    FIELD (segq_usage_row_t, cpu_seconds, "cpu_s", F64, 0),
    FIELD (segq_usage_row_t, max_rss, "rss", U64, 0),
    FIELD (segq_usage_row_t, gpu_peak, "gpeak", U64, 0),
    FIELD (segq_usage_row_t, fairshare, "fair", F64, 0),
};
static const segq__struct_desc_t s_usage_row_desc =
    DESC ("usage row", segq_usage_row_t, s_usage_row_fields, NULL);

static const segq__field_t s_usage_reply_fields [] = {
    FIELD (segq_usage_reply_t, req_id, "req", U64, R),
    STRUCTS (segq_usage_reply_t, rows, n_rows, "rows", 0, s_usage_row_desc),
    FIELD (segq_usage_reply_t, half_life_s, "half_life", F64, 0),
};

static const segq__field_t s_drain_reply_fields [] = {
    FIELD (segq_drain_reply_t, req_id, "req", U64, R),
    FIELD (segq_drain_reply_t, node, "node", STR, R | SEGQ__FL_SHORT),
};

static const segq__field_t s_purge_fields [] = {
    FIELD (segq_purge_t, req_id, "req", U64, R),
    FIELD (segq_purge_t, user, "user", STR, SEGQ__FL_SHORT),
    COUNTED (segq_purge_t, jobs, n_jobs, "jobs", STRS, R),
};

static const segq__field_t s_purge_result_fields [] = {
    FIELD (segq_purge_result_t, job, "job", STR, R | SEGQ__FL_SHORT),
    I32 (segq_purge_result_t, code, "code", R, 0),
    FIELD (segq_purge_result_t, message, "msg", STR, 0),
    FIELD (segq_purge_result_t, artifacts, "files", U32, 0),
    FIELD (segq_purge_result_t, bytes, "bytes", U64, 0),
};
static const segq__struct_desc_t s_purge_result_desc =
    DESC ("purge result", segq_purge_result_t, s_purge_result_fields, NULL);

static const segq__field_t s_purge_reply_fields [] = {
    FIELD (segq_purge_reply_t, req_id, "req", U64, R),
    STRUCTS (segq_purge_reply_t, results, n_results, "results", 0, s_purge_result_desc),
};

static const segq__field_t s_backup_fields [] = {
    FIELD (segq_backup_t, req_id, "req", U64, R),
    FIELD (segq_backup_t, user, "user", STR, SEGQ__FL_SHORT),
    FIELD (segq_backup_t, path, "path", STR, R),
};

static const segq__field_t s_backup_reply_fields [] = {
    FIELD (segq_backup_reply_t, req_id, "req", U64, R),
    FIELD (segq_backup_reply_t, path, "path", STR, R),
    FIELD (segq_backup_reply_t, size, "size", U64, 0),
    FIELD (segq_backup_reply_t, jobs, "jobs", U64, 0),
};

static const segq__field_t s_array_fields [] = {
    FIELD (segq_array_t, req_id, "req", U64, R),
    FIELD (segq_array_t, user, "user", STR, SEGQ__FL_SHORT),
    COUNTED (segq_array_t, jobs, n_jobs, "jobs", STRS, 0),
    FIELD (segq_array_t, array, "array", STR, SEGQ__FL_SHORT),
};

static int
s_array_check (const void *object, char *err, size_t errlen)
{
    const segq_array_t *array = object;
    if ((array->n_jobs > 0) == (array->array != NULL)) {
        snprintf (err, errlen, "ARRAY: give exactly one of 'jobs' (to make one) and 'array'");
        return SEGQ_EPROTO;
    }
    return SEGQ_OK;
}

static const segq__field_t s_array_reply_fields [] = {
    FIELD (segq_array_reply_t, req_id, "req", U64, R),
    FIELD (segq_array_reply_t, array, "array", STR, R | SEGQ__FL_SHORT),
    FIELD (segq_array_reply_t, owner, "owner", STR, R | SEGQ__FL_SHORT),
    FIELD (segq_array_reply_t, created, "ctime", F64, 0),
    COUNTED (segq_array_reply_t, jobs, n_jobs, "jobs", STRS, 0),
};

static const segq__field_t s_kinds_fields [] = {
    FIELD (segq_kinds_t, req_id, "req", U64, R),
};

static const segq__field_t s_kinds_reply_fields [] = {
    FIELD (segq_kinds_reply_t, req_id, "req", U64, R),
    STRUCTS (segq_kinds_reply_t, kinds, n_kinds, "kinds", 0, s_kind_info_desc),
};

static const segq__field_t s_model_info_fields [] = {
    FIELD (segq_model_info_t, id, "id", STR, R | SEGQ__FL_SHORT),
    FIELD (segq_model_info_t, name, "name", STR, R | SEGQ__FL_SHORT),
    FIELD (segq_model_info_t, owner, "owner", STR, R | SEGQ__FL_SHORT),
    FIELD (segq_model_info_t, job, "job", STR, R | SEGQ__FL_SHORT),
    FIELD (segq_model_info_t, created, "ctime", F64, 0),
    FIELD (segq_model_info_t, image, "image", STR, 0),
    FIELD (segq_model_info_t, image_hash, "image_hash", HASH, 0),
    FIELD (segq_model_info_t, mask, "mask", STR, 0),
    FIELD (segq_model_info_t, mask_hash, "mask_hash", HASH, 0),
    FIELD (segq_model_info_t, checkpoint, "ckpt", HASH, 0),
    FIELD (segq_model_info_t, size, "size", U64, 0),
    FIELD (segq_model_info_t, scales, "scales", U32, 0),
    FIELD (segq_model_info_t, height, "h", U32, 0),
    FIELD (segq_model_info_t, width, "w", U32, 0),
    FIELD (segq_model_info_t, params, "params", PARAMS, 0),
    COUNTED (segq_model_info_t, tags, n_tags, "tags", STRS, 0),
    FIELD (segq_model_info_t, note, "note", STR, 0),
    COUNTED (segq_model_info_t, shared, n_shared, "shared", STRS, 0),
    FIELD (segq_model_info_t, lab, "lab", BOOL, 0),
    FIELD (segq_model_info_t, pinned, "pinned", BOOL, 0),
    FIELD (segq_model_info_t, purged, "purged", BOOL, 0),
    FIELD (segq_model_info_t, samples, "samples", STR, SEGQ__FL_SHORT),
};
static const segq__struct_desc_t s_model_info_desc =
    DESC ("model", segq_model_info_t, s_model_info_fields, NULL);

/* Each op names a model but LIST, and the ops that change something
   carry what they change it to. */
static int
s_model_check (const void *object, char *err, size_t errlen)
{
    const segq_model_t *m = object;
    bool needs_value = m->op == SEGQ_MODEL_RENAME || m->op == SEGQ_MODEL_TAG
                       || m->op == SEGQ_MODEL_UNTAG || m->op == SEGQ_MODEL_NOTE;
    bool shares = m->op == SEGQ_MODEL_SHARE || m->op == SEGQ_MODEL_UNSHARE;
    if ((m->op == SEGQ_MODEL_LIST) == (m->model != NULL))
        snprintf (err, errlen, "MODEL: 'model' goes with every op but LIST");
    else if (needs_value != (m->value != NULL))
        snprintf (err, errlen, "MODEL: 'value' goes with RENAME, TAG, UNTAG and NOTE only");
    else if (shares && (m->n_users > 0) == m->lab)
        snprintf (err, errlen, "MODEL: SHARE and UNSHARE take either 'users' or 'lab'");
    else if (!shares && (m->n_users || m->lab))
        snprintf (err, errlen, "MODEL: 'users' and 'lab' go with SHARE and UNSHARE only");
    else
        return SEGQ_OK;
    return SEGQ_EPROTO;
}

static const segq__field_t s_model_fields [] = {
    FIELD (segq_model_t, req_id, "req", U64, R),
    FIELD (segq_model_t, user, "user", STR, SEGQ__FL_SHORT),
    RANGED (segq_model_t, op, "op", ENUM, R, SEGQ_MODEL_LIST, SEGQ_MODEL_RM, 0),
    FIELD (segq_model_t, model, "model", STR, SEGQ__FL_SHORT),
    FIELD (segq_model_t, value, "value", STR, 0),
    COUNTED (segq_model_t, users, n_users, "users", STRS, 0),
    FIELD (segq_model_t, lab, "lab", BOOL, 0),
    FIELD (segq_model_t, owner, "owner", STR, SEGQ__FL_SHORT),
    FIELD (segq_model_t, tag, "tag", STR, SEGQ__FL_SHORT),
    FIELD (segq_model_t, cursor, "cursor", STR, SEGQ__FL_SHORT),
};

static const segq__field_t s_model_reply_fields [] = {
    FIELD (segq_model_reply_t, req_id, "req", U64, R),
    STRUCTS (segq_model_reply_t, models, n_models, "models", 0, s_model_info_desc),
    FIELD (segq_model_reply_t, next, "next", STR, SEGQ__FL_SHORT),
};

static const segq__field_t s_register_fields [] = {
    FIELD (segq_register_t, node, "node", STR, R | SEGQ__FL_SHORT),
    FIELD (segq_register_t, instance, "inst", STR, SEGQ__FL_SHORT),
    STRUCTS (segq_register_t, gpus, n_gpus, "gpus", 0, s_gpu_desc),
    FIELD (segq_register_t, cpu_slots, "cpus", U32, 0),
    COUNTED (segq_register_t, kinds, n_kinds, "kinds", STRS, 0),
    STRUCTS (segq_register_t, held, n_held, "held", 0, s_job_attempt_desc),
    FIELD (segq_register_t, draining, "drain", BOOL, 0),
};

static const segq__field_t s_welcome_fields [] = {
    FIELD (segq_welcome_t, heartbeat_ms, "hb", U32, R),
    FIELD (segq_welcome_t, expiry_ms, "exp", U32, R),
    FIELD (segq_welcome_t, max_msg, "maxmsg", U32, R),
    FIELD (segq_welcome_t, chunk_size, "chunk", U32, R),
};

static const segq__field_t s_assign_fields [] = {
    FIELD (segq_assign_t, job, "job", STR, R | SEGQ__FL_SHORT),
    FIELD (segq_assign_t, attempt, "att", U32, R),
    FIELD (segq_assign_t, kind, "kind", STR, R | SEGQ__FL_SHORT),
    FIELD (segq_assign_t, params, "params", PARAMS, 0),
    STRUCTS (segq_assign_t, inputs, n_inputs, "inputs", 0, segq__artifact_desc),
    I32 (segq_assign_t, gpu, "gpu", 0, -1),
    FIELD (segq_assign_t, gpu_mem, "gmem", U64, 0),
    FIELD (segq_assign_t, cpu_slots, "cpus", U32, 0),
    FIELD (segq_assign_t, time_limit_s, "tlim", U32, 0),
    FIELD (segq_assign_t, resume, "resume", NAME, 0),
};

static const segq__field_t s_progress_fields [] = {
    FIELD (segq_progress_t, job, "job", STR, R | SEGQ__FL_SHORT),
    FIELD (segq_progress_t, attempt, "att", U32, R),
    FIELD (segq_progress_t, fraction, "frac", F64, SEGQ__FL_UNIT),
    FIELD (segq_progress_t, phase, "phase", STR, 0),
    FIELD (segq_progress_t, message, "msg", STR, 0),
    FIELD (segq_progress_t, metrics, "metrics", METRICS, 0),
};

static const segq__field_t s_log_fields [] = {
    FIELD (segq_log_t, job, "job", STR, R | SEGQ__FL_SHORT),
    FIELD (segq_log_t, attempt, "att", U32, R),
    FIELD (segq_log_t, offset, "off", U64, R),
    COUNTED (segq_log_t, data, size, "data", BIN, 0),
};

static const segq__field_t s_hot_model_fields [] = {
    I32 (segq_hot_model_t, gpu, "gpu", R, 0),
    FIELD (segq_hot_model_t, hash, "hash", HASH, R),
};
static const segq__struct_desc_t s_hot_model_desc =
    DESC ("hot model", segq_hot_model_t, s_hot_model_fields, NULL);

static const segq__field_t s_result_fields [] = {
    FIELD (segq_result_t, job, "job", STR, R | SEGQ__FL_SHORT),
    FIELD (segq_result_t, attempt, "att", U32, R),
    FIELD (segq_result_t, success, "ok", BOOL, R),
    I32 (segq_result_t, exit_code, "exit", R, -1),
    I32 (segq_result_t, signal, "sig", 0, 0),
    FIELD (segq_result_t, reason, "reason", STR, 0),
    STRUCTS (segq_result_t, outputs, n_outputs, "outs", 0, segq__artifact_desc),
    STRUCTS (segq_result_t, hot, n_hot, "hot", 0, s_hot_model_desc),
    FIELD (segq_result_t, cpu_seconds, "cpu_s", F64, 0),
    FIELD (segq_result_t, max_rss, "rss", U64, 0),
    FIELD (segq_result_t, gpu_peak, "gpeak", U64, 0),
};

static const segq__field_t s_result_ack_fields [] = {
    FIELD (segq_result_ack_t, job, "job", STR, R | SEGQ__FL_SHORT),
    FIELD (segq_result_ack_t, attempt, "att", U32, R),
    I32 (segq_result_ack_t, code, "code", R, 0),
    FIELD (segq_result_ack_t, message, "msg", STR, 0),
};

static const segq__field_t s_abort_fields [] = {
    FIELD (segq_abort_t, job, "job", STR, R | SEGQ__FL_SHORT),
    FIELD (segq_abort_t, attempt, "att", U32, R),
    FIELD (segq_abort_t, reason, "reason", STR, 0),
};

static const segq__field_t s_checkpoint_fields [] = {
    FIELD (segq_checkpoint_t, job, "job", STR, R | SEGQ__FL_SHORT),
    FIELD (segq_checkpoint_t, attempt, "att", U32, R),
    FIELD (segq_checkpoint_t, name, "name", NAME, R),
    FIELD (segq_checkpoint_t, hash, "hash", HASH, R),
    FIELD (segq_checkpoint_t, size, "size", U64, R),
    FIELD (segq_checkpoint_t, step, "step", U32, 0),
};

static const segq__field_t s_checkpoint_ack_fields [] = {
    FIELD (segq_checkpoint_ack_t, job, "job", STR, R | SEGQ__FL_SHORT),
    FIELD (segq_checkpoint_ack_t, attempt, "att", U32, R),
    FIELD (segq_checkpoint_ack_t, step, "step", U32, 0),
    I32 (segq_checkpoint_ack_t, code, "code", R, 0),
    FIELD (segq_checkpoint_ack_t, message, "msg", STR, 0),
};

static const segq__field_t s_put_fields [] = {
    FIELD (segq_put_t, req_id, "req", U64, R),
    FIELD (segq_put_t, hash, "hash", HASH, 0), /* or named by the final CHUNK */
    FIELD (segq_put_t, size, "size", U64, R),
    FIELD (segq_put_t, name, "name", STR, 0), /* free text: only logged */
    FIELD (segq_put_t, user, "user", STR, SEGQ__FL_SHORT),
};

static const segq__field_t s_put_ready_fields [] = {
    FIELD (segq_put_ready_t, req_id, "req", U64, R),
    FIELD (segq_put_ready_t, transfer, "xfer", U64, 0),
    FIELD (segq_put_ready_t, have, "have", BOOL, 0),
    FIELD (segq_put_ready_t, credit, "credit", U32, 0),
    FIELD (segq_put_ready_t, chunk_size, "chunk", U32, 0),
};

static const segq__field_t s_put_done_fields [] = {
    FIELD (segq_put_done_t, req_id, "req", U64, R),
    FIELD (segq_put_done_t, transfer, "xfer", U64, 0),
    I32 (segq_put_done_t, code, "code", R, 0),
    FIELD (segq_put_done_t, message, "msg", STR, 0),
};

static int
s_get_check (const void *object, char *err, size_t errlen)
{
    const segq_get_t *get = object;
    if ((get->hash [0] != '\0') == (get->job != NULL)) {
        snprintf (err, errlen, "GET: give exactly one of 'hash' and 'job'");
        return SEGQ_EPROTO;
    }
    if (get->job && !get->name) {
        snprintf (err, errlen, "GET: 'job' needs 'name' (the output to fetch)");
        return SEGQ_EPROTO;
    }
    return SEGQ_OK;
}

static const segq__field_t s_get_fields [] = {
    FIELD (segq_get_t, req_id, "req", U64, R),
    FIELD (segq_get_t, hash, "hash", HASH, 0),
    FIELD (segq_get_t, job, "job", STR, SEGQ__FL_SHORT),
    FIELD (segq_get_t, name, "name", NAME, 0),
    FIELD (segq_get_t, user, "user", STR, SEGQ__FL_SHORT),
    FIELD (segq_get_t, credit, "credit", U32, 0),
};

static const segq__field_t s_get_ready_fields [] = {
    FIELD (segq_get_ready_t, req_id, "req", U64, R),
    FIELD (segq_get_ready_t, transfer, "xfer", U64, R),
    FIELD (segq_get_ready_t, hash, "hash", HASH, R),
    FIELD (segq_get_ready_t, size, "size", U64, R),
    FIELD (segq_get_ready_t, name, "name", NAME, 0),
    FIELD (segq_get_ready_t, chunk_size, "chunk", U32, R),
};

static int
s_chunk_check (const void *object, char *err, size_t errlen)
{
    const segq_chunk_t *chunk = object;
    if (chunk->hash [0] != '\0' && !chunk->last) {
        snprintf (err, errlen,
                  "CHUNK: 'hash' only goes with 'last' (the file's sha256 is known at its end)");
        return SEGQ_EPROTO;
    }
    return SEGQ_OK;
}

static const segq__field_t s_chunk_fields [] = {
    FIELD (segq_chunk_t, transfer, "xfer", U64, R),
    FIELD (segq_chunk_t, offset, "off", U64, R),
    FIELD (segq_chunk_t, last, "last", BOOL, 0),
    FIELD (segq_chunk_t, hash, "hash", HASH, 0),
};

static const segq__field_t s_credit_fields [] = {
    FIELD (segq_credit_t, transfer, "xfer", U64, R),
    FIELD (segq_credit_t, chunks, "n", U32, R),
};

#define BODY(TYPE, name, st, fields, check) [SEGQ_MSG_##TYPE] = DESC (name, st, fields, check)

static const segq__struct_desc_t s_bodies [] = {
    BODY (ERROR, "ERROR", segq_error_msg_t, s_error_fields, NULL),
    [SEGQ_MSG_HEARTBEAT] = { "HEARTBEAT", 0, NULL, 0, NULL },
    BODY (BYE, "BYE", segq_bye_t, s_bye_fields, NULL),
    BODY (SUBMIT, "SUBMIT", segq_submit_t, s_submit_fields, NULL),
    BODY (SUBMITTED, "SUBMITTED", segq_submitted_t, s_submitted_fields, NULL),
    BODY (STATUS, "STATUS", segq_status_t, s_status_fields, NULL),
    BODY (STATUS_REPLY, "STATUS_REPLY", segq_status_reply_t, s_status_reply_fields, NULL),
    BODY (CANCEL, "CANCEL", segq_cancel_t, s_cancel_fields, NULL),
    BODY (CANCEL_REPLY, "CANCEL_REPLY", segq_cancel_reply_t, s_cancel_reply_fields, NULL),
    BODY (LOGS, "LOGS", segq_logs_t, s_logs_fields, NULL),
    BODY (LOGS_REPLY, "LOGS_REPLY", segq_logs_reply_t, s_logs_reply_fields, NULL),
    BODY (WORKERS, "WORKERS", segq_workers_t, s_workers_fields, NULL),
    BODY (WORKERS_REPLY, "WORKERS_REPLY", segq_workers_reply_t, s_workers_reply_fields, NULL),
    BODY (DRAIN, "DRAIN", segq_drain_t, s_drain_fields, NULL),
    BODY (DRAIN_REPLY, "DRAIN_REPLY", segq_drain_reply_t, s_drain_reply_fields, NULL),
    BODY (PURGE, "PURGE", segq_purge_t, s_purge_fields, NULL),
    BODY (PURGE_REPLY, "PURGE_REPLY", segq_purge_reply_t, s_purge_reply_fields, NULL),
    BODY (BACKUP, "BACKUP", segq_backup_t, s_backup_fields, NULL),
    BODY (BACKUP_REPLY, "BACKUP_REPLY", segq_backup_reply_t, s_backup_reply_fields, NULL),
    BODY (PRIORITY, "PRIORITY", segq_priority_t, s_priority_fields, NULL),
    BODY (PRIORITY_REPLY, "PRIORITY_REPLY", segq_priority_reply_t, s_priority_reply_fields, NULL),
    BODY (ARRAY, "ARRAY", segq_array_t, s_array_fields, s_array_check),
    BODY (ARRAY_REPLY, "ARRAY_REPLY", segq_array_reply_t, s_array_reply_fields, NULL),
    BODY (REGISTER, "REGISTER", segq_register_t, s_register_fields, NULL),
    BODY (WELCOME, "WELCOME", segq_welcome_t, s_welcome_fields, NULL),
    BODY (ASSIGN, "ASSIGN", segq_assign_t, s_assign_fields, NULL),
    BODY (PROGRESS, "PROGRESS", segq_progress_t, s_progress_fields, NULL),
    BODY (LOG, "LOG", segq_log_t, s_log_fields, NULL),
    BODY (RESULT, "RESULT", segq_result_t, s_result_fields, NULL),
    BODY (RESULT_ACK, "RESULT_ACK", segq_result_ack_t, s_result_ack_fields, NULL),
    BODY (ABORT, "ABORT", segq_abort_t, s_abort_fields, NULL),
    [SEGQ_MSG_DRAIN_WORKER] = { "DRAIN_WORKER", 0, NULL, 0, NULL },
    BODY (CHECKPOINT, "CHECKPOINT", segq_checkpoint_t, s_checkpoint_fields, NULL),
    BODY (CHECKPOINT_ACK, "CHECKPOINT_ACK", segq_checkpoint_ack_t, s_checkpoint_ack_fields, NULL),
    BODY (PUT, "PUT", segq_put_t, s_put_fields, NULL),
    BODY (PUT_READY, "PUT_READY", segq_put_ready_t, s_put_ready_fields, NULL),
    BODY (PUT_DONE, "PUT_DONE", segq_put_done_t, s_put_done_fields, NULL),
    BODY (GET, "GET", segq_get_t, s_get_fields, s_get_check),
    BODY (GET_READY, "GET_READY", segq_get_ready_t, s_get_ready_fields, NULL),
    BODY (CHUNK, "CHUNK", segq_chunk_t, s_chunk_fields, s_chunk_check),
    BODY (CREDIT, "CREDIT", segq_credit_t, s_credit_fields, NULL),
    BODY (KINDS, "KINDS", segq_kinds_t, s_kinds_fields, NULL),
    BODY (KINDS_REPLY, "KINDS_REPLY", segq_kinds_reply_t, s_kinds_reply_fields, NULL),
    BODY (MODEL, "MODEL", segq_model_t, s_model_fields, s_model_check),
    BODY (MODEL_REPLY, "MODEL_REPLY", segq_model_reply_t, s_model_reply_fields, NULL),
    BODY (HOLD, "HOLD", segq_hold_t, s_hold_fields, NULL),
    BODY (HOLD_REPLY, "HOLD_REPLY", segq_hold_reply_t, s_hold_reply_fields, NULL),
    BODY (USAGE, "USAGE", segq_usage_t, s_usage_fields, NULL),
    BODY (USAGE_REPLY, "USAGE_REPLY", segq_usage_reply_t, s_usage_reply_fields, NULL),
};

const segq__struct_desc_t *
segq__msg_desc (segq_msg_type_t type)
{
    if ((unsigned) type >= sizeof s_bodies / sizeof s_bodies [0] || !s_bodies [type].name)
        return NULL;
    return &s_bodies [type];
}

const char *
segq_msg_type_name (segq_msg_type_t type)
{
    const segq__struct_desc_t *desc = segq__msg_desc (type);
    return desc ? desc->name : "?";
}

/* ---- construction and freeing ---- */

segq_msg_t *
segq_msg_new (segq_msg_type_t type)
{
    if (!segq__msg_desc (type))
        return NULL;
    segq_msg_t *self = calloc (1, sizeof *self);
    if (!self)
        return NULL;
    self->type = type;
    self->version = SEGQ_PROTO_VERSION;
    if (type == SEGQ_MSG_ASSIGN)
        self->u.assign.gpu = -1;
    else if (type == SEGQ_MSG_RESULT)
        self->u.result.exit_code = -1;
    return self;
}

/* Clears each of the n structs of `desc` at items, then frees the array. */
static void
s_structs_free (const segq__struct_desc_t *desc, uint8_t *items, size_t n)
{
    for (size_t j = 0; items && j < n; j++)
        segq__struct_clear (desc, items + j * desc->size);
    free (items);
}

void
segq__struct_clear (const segq__struct_desc_t *desc, void *object)
{
    uint8_t *base = object;
    for (size_t i = 0; i < desc->n_fields; i++) {
        const segq__field_t *f = &desc->fields [i];
        void *at = base + f->offset;
        size_t *count = (size_t *) (base + f->count_offset);
        switch (f->type) {
        case SEGQ__F_STR:
        case SEGQ__F_NAME:
        case SEGQ__F_BIN:
        case SEGQ__F_U32S:
            free (*(void **) at);
            break;
        case SEGQ__F_STRS: {
            char **strings = *(char ***) at;
            for (size_t j = 0; strings && j < *count; j++)
                free (strings [j]);
            free (strings);
            break;
        }
        case SEGQ__F_STRUCTS:
            s_structs_free (f->sub, *(uint8_t **) at, *count);
            break;
        case SEGQ__F_PARAMS:
        case SEGQ__F_METRICS:
            segq_params_clear (at);
            break;
        default:
            break;
        }
    }
    memset (object, 0, desc->size);
}

void
segq_msg_destroy (segq_msg_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    segq_msg_t *self = *self_p;
    /* The data frame before the table-driven clear, which zeroes the body. */
    if (self->type == SEGQ_MSG_CHUNK)
        zframe_destroy (&self->u.chunk.data);
    const segq__struct_desc_t *desc = segq__msg_desc (self->type);
    if (desc)
        segq__struct_clear (desc, &self->u);
    free (self);
    *self_p = NULL;
}

/* Nulls every owned pointer of a bitwise copy, so a failure half way can
   clear it without freeing what the source owns. */
static void
s_disown (const segq__struct_desc_t *desc, uint8_t *copy)
{
    for (size_t i = 0; i < desc->n_fields; i++) {
        const segq__field_t *f = &desc->fields [i];
        if (f->type == SEGQ__F_PARAMS || f->type == SEGQ__F_METRICS)
            memset (copy + f->offset, 0, sizeof (segq_params_t));
        else if (f->type >= SEGQ__F_STR && f->type != SEGQ__F_HASH)
            *(void **) (copy + f->offset) = NULL;
    }
}

static int
s_copy_string (char **out, const char *in)
{
    if (in && !(*out = strdup (in)))
        return SEGQ_ENOMEM;
    return SEGQ_OK;
}

/* BIN and U32S: `bytes` of plain data; none when empty. */
static int
s_copy_bytes (void **out, const void *in, size_t bytes)
{
    if (!bytes || !in)
        return SEGQ_OK;
    void *copy = malloc (bytes);
    if (copy)
        memcpy (copy, in, bytes);
    *out = copy;
    return copy ? SEGQ_OK : SEGQ_ENOMEM;
}

/* Strings not reached stay NULL, which clears safely. */
static int
s_copy_strings (char ***out, char *const *strings, size_t count)
{
    if (!strings || !count)
        return SEGQ_OK;
    char **copy = calloc (count, sizeof *copy);
    *out = copy;
    if (!copy)
        return SEGQ_ENOMEM;
    for (size_t j = 0; j < count; j++)
        if (!(copy [j] = strdup (strings [j])))
            return SEGQ_ENOMEM;
    return SEGQ_OK;
}

/* Elements not reached stay zero, which clears safely. */
static int
s_copy_structs (const segq__struct_desc_t *sub, uint8_t **out, const uint8_t *items, size_t count)
{
    if (!items || !count)
        return SEGQ_OK;
    uint8_t *copy = calloc (count, sub->size);
    *out = copy;
    if (!copy)
        return SEGQ_ENOMEM;
    int rc = SEGQ_OK;
    for (size_t j = 0; j < count && rc == SEGQ_OK; j++)
        rc = segq__struct_copy (sub, copy + j * sub->size, items + j * sub->size);
    return rc;
}

/* Deep-copies one field of `from` into `to`, whose pointers are NULL. */
static int
s_copy_field (const segq__field_t *f, const uint8_t *from, uint8_t *to)
{
    const void *in = from + f->offset;
    void *out = to + f->offset;
    size_t count = *(const size_t *) (from + f->count_offset);
    switch (f->type) {
    case SEGQ__F_STR:
    case SEGQ__F_NAME:
        return s_copy_string (out, *(char *const *) in);
    case SEGQ__F_BIN:
        return s_copy_bytes (out, *(void *const *) in, count);
    case SEGQ__F_U32S:
        return s_copy_bytes (out, *(void *const *) in, count * sizeof (uint32_t));
    case SEGQ__F_STRS:
        return s_copy_strings (out, *(char **const *) in, count);
    case SEGQ__F_STRUCTS:
        return s_copy_structs (f->sub, out, *(uint8_t *const *) in, count);
    case SEGQ__F_PARAMS:
    case SEGQ__F_METRICS:
        return segq_params_copy (out, in);
    default:
        return SEGQ_OK;
    }
}

int
segq__struct_copy (const segq__struct_desc_t *desc, void *dst, const void *src)
{
    memcpy (dst, src, desc->size);
    s_disown (desc, dst);
    int rc = SEGQ_OK;
    for (size_t i = 0; i < desc->n_fields && rc == SEGQ_OK; i++)
        rc = s_copy_field (&desc->fields [i], src, dst);
    if (rc)
        segq__struct_clear (desc, dst);
    return rc;
}

/* ---- shared pieces, for callers that keep them ---- */

void
segq_artifact_clear (segq_artifact_t *self)
{
    if (self)
        segq__struct_clear (&segq__artifact_desc, self);
}

int
segq_artifact_copy (segq_artifact_t *dst, const segq_artifact_t *src)
{
    return segq__struct_copy (&segq__artifact_desc, dst, src);
}

void
segq_gpu_clear (segq_gpu_t *self)
{
    if (self)
        segq__struct_clear (&s_gpu_desc, self);
}

int
segq_gpu_copy (segq_gpu_t *dst, const segq_gpu_t *src)
{
    return segq__struct_copy (&s_gpu_desc, dst, src);
}

void
segq_input_clear (segq_input_t *self)
{
    if (self)
        segq__struct_clear (&segq__input_desc, self);
}

int
segq_input_copy (segq_input_t *dst, const segq_input_t *src)
{
    return segq__struct_copy (&segq__input_desc, dst, src);
}

void
segq_job_info_clear (segq_job_info_t *self)
{
    if (self)
        segq__struct_clear (&segq__job_info_desc, self);
}

void
segq_worker_info_clear (segq_worker_info_t *self)
{
    if (self)
        segq__struct_clear (&segq__worker_info_desc, self);
}

void
segq_model_info_clear (segq_model_info_t *self)
{
    if (self)
        segq__struct_clear (&s_model_info_desc, self);
}

void
segq_models_free (segq_model_info_t **models_p, size_t n)
{
    s_structs_free (&s_model_info_desc, (uint8_t *) *models_p, n);
    *models_p = NULL;
}

void
segq_kinds_free (segq_kind_info_t **kinds_p, size_t n)
{
    s_structs_free (&s_kind_info_desc, (uint8_t *) *kinds_p, n);
    *kinds_p = NULL;
}

/* ---- names ---- */

static const char *s_job_states [] = {
    [SEGQ_JOB_WAITING] = "waiting", [SEGQ_JOB_QUEUED] = "queued",
    [SEGQ_JOB_RUNNING] = "running", [SEGQ_JOB_SUCCEEDED] = "succeeded",
    [SEGQ_JOB_FAILED] = "failed",   [SEGQ_JOB_CANCELLED] = "cancelled",
};

const char *
segq_job_state_name (segq_job_state_t state)
{
    if (state >= SEGQ_JOB_WAITING && state <= SEGQ_JOB_CANCELLED)
        return s_job_states [state];
    return "?";
}

int
segq_job_state_parse (const char *name, segq_job_state_t *out)
{
    for (int state = SEGQ_JOB_WAITING; name && state <= SEGQ_JOB_CANCELLED; state++)
        if (strcmp (s_job_states [state], name) == 0) {
            *out = (segq_job_state_t) state;
            return SEGQ_OK;
        }
    return SEGQ_EINVAL;
}

bool
segq_job_state_final (segq_job_state_t state)
{
    return state == SEGQ_JOB_SUCCEEDED || state == SEGQ_JOB_FAILED || state == SEGQ_JOB_CANCELLED;
}

const char *
segq_worker_state_name (segq_worker_state_t state)
{
    switch (state) {
    case SEGQ_WORKER_ACTIVE:
        return "active";
    case SEGQ_WORKER_DRAINING:
        return "draining";
    case SEGQ_WORKER_LOST:
        return "lost";
    }
    return "?";
}

/* Programs that move chunks keep this many bytes' blocks in the heap. */
_Static_assert(SEGQ_MALLOC_KEEP_BELOW >= 4 * SEGQ_DEFAULT_MAX_MSG,
               "segq_memory.h: keep four whole messages' blocks in the heap");
