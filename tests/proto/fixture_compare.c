/*  fixture_compare.c: see fixture_compare.h.

    One comparator per struct, each listing that struct's members as
    segq_proto.h, segq_records.h and segq_schema.h declare them. Do not
    generate these from the codec's tables: that would inherit their gaps. */
#include "fixture_compare.h"

#include <criterion/criterion.h>
#include <stdio.h>
#include <string.h>

/* Guards against a member nobody compares: a struct that grows fails to
   compile here until its comparator (just below the guard) and this size
   are updated. Sizes as on LP64 (x86_64, aarch64); a member added into
   existing padding does not change the size, so look at neighbours too. */
#if defined(__x86_64__) || defined(__aarch64__)
#define S_SIZE(type, size)                                                                         \
    _Static_assert(sizeof (type) == (size),                                                        \
                   #type " changed: compare its new members in fixture_compare.c")
#else
#define S_SIZE(type, size) _Static_assert(1, "sizes are checked on LP64 only")
#endif

/* A member's path: "SUBMIT.inputs[1]"; ".hash" is added by the check. */
#define S_PATH 512

/* ---------------------------------------------------------------- leaves */

static void
s_int (const char *at, const char *member, long long expected, long long got)
{
    cr_assert (expected == got, "%s.%s: expected %lld, got %lld", at, member, expected, got);
}

static void
s_uint (const char *at, const char *member, unsigned long long expected, unsigned long long got)
{
    cr_assert (expected == got, "%s.%s: expected %llu, got %llu", at, member, expected, got);
}

/* Exactly: msgpack carries a double's 64 bits, so nothing may round. */
static void
s_real (const char *at, const char *member, double expected, double got)
{
    cr_assert (expected == got, "%s.%s: expected %.17g, got %.17g", at, member, expected, got);
}

static void
s_bool (const char *at, const char *member, bool expected, bool got)
{
    cr_assert (expected == got, "%s.%s: expected %s, got %s", at, member,
               expected ? "true" : "false", got ? "true" : "false");
}

/* NULL (absent) and "" are different values. */
static void
s_str (const char *at, const char *member, const char *expected, const char *got)
{
    bool same = expected && got ? strcmp (expected, got) == 0 : expected == got;
    cr_assert (same, "%s.%s: expected %s%s%s, got %s%s%s", at, member, expected ? "'" : "",
               expected ? expected : "NULL", expected ? "'" : "", got ? "'" : "",
               got ? got : "NULL", got ? "'" : "");
}

static void
s_count (const char *at, const char *member, size_t expected, size_t got)
{
    cr_assert (expected == got, "%s.%s: expected %zu elements, got %zu", at, member, expected, got);
}

static void
s_bytes (const char *at, const char *member, const uint8_t *expected, size_t expected_size,
         const uint8_t *got, size_t got_size)
{
    cr_assert (expected_size == got_size, "%s.%s: expected %zu bytes, got %zu", at, member,
               expected_size, got_size);
    size_t i = 0;
    while (i < expected_size && expected [i] == got [i])
        i++;
    cr_assert (i == expected_size, "%s.%s: byte %zu is 0x%02x, expected 0x%02x", at, member, i,
               i < got_size ? got [i] : 0, i < expected_size ? expected [i] : 0);
}

/* The checks of one member of `e` against `g`, the two structs a
   comparator is given: S_INT (priority) is "at.priority". */
#define S_INT(m)  s_int (at, #m, e->m, g->m)
#define S_UINT(m) s_uint (at, #m, e->m, g->m)
#define S_REAL(m) s_real (at, #m, e->m, g->m)
#define S_BOOL(m) s_bool (at, #m, e->m, g->m)
#define S_STR(m)  s_str (at, #m, e->m, g->m)

/* ---------------------------------------------------------------- arrays */

typedef void s_compare_fn (const char *at, const void *expected, const void *got);

static void
s_structs (const char *at, const char *member, const void *expected, size_t n_expected,
           const void *got, size_t n_got, size_t size, s_compare_fn *compare)
{
    s_count (at, member, n_expected, n_got);
    for (size_t i = 0; i < n_expected; i++) {
        char path [S_PATH];
        snprintf (path, sizeof path, "%s.%s[%zu]", at, member, i);
        compare (path, (const char *) expected + i * size, (const char *) got + i * size);
    }
}

static void
s_strings (const char *at, const char *member, char *const *expected, size_t n_expected,
           char *const *got, size_t n_got)
{
    s_count (at, member, n_expected, n_got);
    for (size_t i = 0; i < n_expected; i++) {
        char element [S_PATH];
        snprintf (element, sizeof element, "%s[%zu]", member, i);
        s_str (at, element, expected [i], got [i]);
    }
}

static void
s_u32s (const char *at, const char *member, const uint32_t *expected, size_t n_expected,
        const uint32_t *got, size_t n_got)
{
    s_count (at, member, n_expected, n_got);
    for (size_t i = 0; i < n_expected; i++) {
        char element [S_PATH];
        snprintf (element, sizeof element, "%s[%zu]", member, i);
        s_uint (at, element, expected [i], got [i]);
    }
}

/* An array member m of n elements, compared element by element. */
#define S_STRUCTS(m, n, compare) s_structs (at, #m, e->m, e->n, g->m, g->n, sizeof *e->m, compare)
#define S_STRS(m, n)             s_strings (at, #m, e->m, e->n, g->m, g->n)

/* ---------------------------------------------------------------- params */

S_SIZE (segq_value_t, 40);
static void
s_value (const char *at, const void *expected, const void *got)
{
    const segq_value_t *e = expected, *g = got;
    S_INT (type);
    /* The wire carries only the member the type selects. */
    switch (e->type) {
    case SEGQ_PARAM_INT:
        S_INT (i);
        break;
    case SEGQ_PARAM_FLOAT:
        S_REAL (f);
        break;
    case SEGQ_PARAM_BOOL:
        S_BOOL (b);
        break;
    case SEGQ_PARAM_STRING:
    case SEGQ_PARAM_CHOICE:
        S_STR (s);
        break;
    default:
        cr_assert_fail ("%s.type: unknown value type %d", at, (int) e->type);
    }
}

S_SIZE (segq_param_t, 48);
static void
s_param (const char *at, const void *expected, const void *got)
{
    const segq_param_t *e = expected, *g = got;
    S_STR (name);
    char path [S_PATH];
    snprintf (path, sizeof path, "%s.value", at);
    s_value (path, &e->value, &g->value);
}

/* capacity is how much is allocated, not part of the map: not compared. */
S_SIZE (segq_params_t, 24);
static void
s_params (const char *at, const char *member, const segq_params_t *e, const segq_params_t *g)
{
    s_structs (at, member, e->items, e->count, g->items, g->count, sizeof *e->items, s_param);
}

#define S_PARAMS(m) s_params (at, #m, &e->m, &g->m)

/* ---------------------------------------------------------------- shared pieces */

S_SIZE (segq_artifact_t, 88);
static void
s_artifact (const char *at, const void *expected, const void *got)
{
    const segq_artifact_t *e = expected, *g = got;
    S_STR (name);
    S_STR (hash);
    S_UINT (size);
}

S_SIZE (segq_input_t, 112);
static void
s_input (const char *at, const void *expected, const void *got)
{
    const segq_input_t *e = expected, *g = got;
    S_STR (name);
    S_STR (hash);
    S_UINT (size);
    S_STR (job);
    S_STR (output);
    S_STR (model);
}

S_SIZE (segq_gpu_t, 40);
static void
s_gpu (const char *at, const void *expected, const void *got)
{
    const segq_gpu_t *e = expected, *g = got;
    S_UINT (index);
    S_STR (name);
    S_UINT (mem_total);
    S_UINT (mem_used);
    S_STR (device);
}

S_SIZE (segq_job_attempt_t, 16);
static void
s_job_attempt (const char *at, const void *expected, const void *got)
{
    const segq_job_attempt_t *e = expected, *g = got;
    S_STR (job);
    S_UINT (attempt);
}

S_SIZE (segq_transition_t, 24);
static void
s_transition (const char *at, const void *expected, const void *got)
{
    const segq_transition_t *e = expected, *g = got;
    S_INT (state);
    S_REAL (time);
    S_STR (reason);
}

/* What the job is and what it was given. */
static void
s_job_info_request (const char *at, const segq_job_info_t *e, const segq_job_info_t *g)
{
    S_STR (id);
    S_STR (owner);
    S_STR (kind);
    S_INT (priority);
    S_UINT (max_attempts);
    S_UINT (gpu_mem);
    S_UINT (cpu_slots);
    S_UINT (time_limit_s);
    S_PARAMS (params);
    S_STRUCTS (inputs, n_inputs, s_input);
    S_STRS (after, n_after);
}

/* Where the job is in its life. */
static void
s_job_info_progress (const char *at, const segq_job_info_t *e, const segq_job_info_t *g)
{
    S_INT (state);
    S_UINT (attempt);
    S_STR (worker);
    S_INT (gpu);
    S_REAL (fraction);
    S_STR (phase);
    S_STR (message);
    S_STR (reason);
    S_INT (exit_code);
    S_INT (signal);
    S_REAL (created);
    S_REAL (started);
    S_REAL (finished);
    S_PARAMS (metrics);
    S_STRUCTS (outputs, n_outputs, s_artifact);
    S_STRUCTS (history, n_history, s_transition);
    S_BOOL (held);
}

S_SIZE (segq_job_info_t, 256);
static void
s_job_info (const char *at, const void *expected, const void *got)
{
    s_job_info_request (at, expected, got);
    s_job_info_progress (at, expected, got);
}

S_SIZE (segq_worker_info_t, 88);
static void
s_worker_info (const char *at, const void *expected, const void *got)
{
    const segq_worker_info_t *e = expected, *g = got;
    S_STR (node);
    S_INT (state);
    S_STRUCTS (gpus, n_gpus, s_gpu);
    S_UINT (cpu_slots);
    S_UINT (cpu_used);
    S_STRS (kinds, n_kinds);
    S_STRS (running, n_running);
    S_REAL (last_seen);
    S_UINT (version);
}

S_SIZE (segq_cancel_result_t, 24);
static void
s_cancel_result (const char *at, const void *expected, const void *got)
{
    const segq_cancel_result_t *e = expected, *g = got;
    S_STR (job);
    S_INT (code);
    S_STR (message);
}

S_SIZE (segq_purge_result_t, 40);
static void
s_purge_result (const char *at, const void *expected, const void *got)
{
    const segq_purge_result_t *e = expected, *g = got;
    S_STR (job);
    S_INT (code);
    S_STR (message);
    S_UINT (artifacts);
    S_UINT (bytes);
}

S_SIZE (segq_kind_param_t, 56);
static void
s_kind_param (const char *at, const void *expected, const void *got)
{
    const segq_kind_param_t *e = expected, *g = got;
    S_STR (name);
    S_INT (type);
    S_REAL (min);
    S_REAL (max);
    S_STRS (choices, n_choices);
    S_STR (help);
}

S_SIZE (segq_kind_input_t, 48);
static void
s_kind_input (const char *at, const void *expected, const void *got)
{
    const segq_kind_input_t *e = expected, *g = got;
    S_STR (name);
    S_BOOL (required);
    S_STR (unless);
    S_BOOL (many);
    S_BOOL (sets);
    S_STR (help);
    S_BOOL (catalogue);
}

S_SIZE (segq_kind_info_t, 88);
static void
s_kind_info (const char *at, const void *expected, const void *got)
{
    const segq_kind_info_t *e = expected, *g = got;
    S_STR (name);
    S_STR (help);
    S_STRUCTS (params, n_params, s_kind_param);
    S_PARAMS (defaults);
    S_STRUCTS (inputs, n_inputs, s_kind_input);
    S_STR (principal);
    S_BOOL (test);
}

/* The model and where it came from. */
static void
s_model_info_source (const char *at, const segq_model_info_t *e, const segq_model_info_t *g)
{
    S_STR (id);
    S_STR (name);
    S_STR (owner);
    S_STR (job);
    S_REAL (created);
    S_STR (image);
    S_STR (image_hash);
    S_STR (mask);
    S_STR (mask_hash);
    S_STR (checkpoint);
    S_UINT (size);
    S_UINT (scales);
    S_UINT (height);
    S_UINT (width);
    S_PARAMS (params);
}

/* What the catalogue says about it. */
static void
s_model_info_catalogue (const char *at, const segq_model_info_t *e, const segq_model_info_t *g)
{
    S_STRS (tags, n_tags);
    S_STR (note);
    S_STRS (shared, n_shared);
    S_BOOL (lab);
    S_BOOL (pinned);
    S_BOOL (purged);
    S_STR (samples);
}

S_SIZE (segq_model_info_t, 368);
static void
s_model_info (const char *at, const void *expected, const void *got)
{
    s_model_info_source (at, expected, got);
    s_model_info_catalogue (at, expected, got);
}

S_SIZE (segq_hot_model_t, 72);
static void
s_hot_model (const char *at, const void *expected, const void *got)
{
    const segq_hot_model_t *e = expected, *g = got;
    S_INT (gpu);
    S_STR (hash);
}

/* ---------------------------------------------------------------- client requests */

S_SIZE (segq_error_msg_t, 40);
static void
s_error (const char *at, const void *expected, const void *got)
{
    const segq_error_msg_t *e = expected, *g = got;
    S_UINT (req_id);
    S_INT (code);
    S_STR (message);
    s_u32s (at, "versions", e->versions, e->n_versions, g->versions, g->n_versions);
}

S_SIZE (segq_bye_t, 8);
static void
s_bye (const char *at, const void *expected, const void *got)
{
    const segq_bye_t *e = expected, *g = got;
    S_STR (reason);
}

S_SIZE (segq_submit_t, 120);
static void
s_submit (const char *at, const void *expected, const void *got)
{
    const segq_submit_t *e = expected, *g = got;
    S_UINT (req_id);
    S_STR (user);
    S_STR (kind);
    S_PARAMS (params);
    S_STRUCTS (inputs, n_inputs, s_input);
    S_STRS (after, n_after);
    S_INT (priority);
    S_UINT (gpu_mem);
    S_UINT (cpu_slots);
    S_UINT (time_limit_s);
    S_UINT (max_attempts);
    S_STR (retry);
}

S_SIZE (segq_submitted_t, 32);
static void
s_submitted (const char *at, const void *expected, const void *got)
{
    const segq_submitted_t *e = expected, *g = got;
    S_UINT (req_id);
    S_STR (job);
    S_UINT (gpu_mem);
    S_UINT (cpu_slots);
}

S_SIZE (segq_status_t, 72);
static void
s_status (const char *at, const void *expected, const void *got)
{
    const segq_status_t *e = expected, *g = got;
    S_UINT (req_id);
    S_STRS (jobs, n_jobs);
    S_STR (user);
    S_INT (state);
    S_STR (cursor);
    S_UINT (limit);
    S_BOOL (detail);
    S_STR (caller);
    S_BOOL (newest);
    S_INT (wait_ms);
}

S_SIZE (segq_status_reply_t, 32);
static void
s_status_reply (const char *at, const void *expected, const void *got)
{
    const segq_status_reply_t *e = expected, *g = got;
    S_UINT (req_id);
    S_STRUCTS (jobs, n_jobs, s_job_info);
    S_STR (cursor);
}

S_SIZE (segq_cancel_t, 32);
static void
s_cancel (const char *at, const void *expected, const void *got)
{
    const segq_cancel_t *e = expected, *g = got;
    S_UINT (req_id);
    S_STR (user);
    S_STRS (jobs, n_jobs);
}

S_SIZE (segq_cancel_reply_t, 24);
static void
s_cancel_reply (const char *at, const void *expected, const void *got)
{
    const segq_cancel_reply_t *e = expected, *g = got;
    S_UINT (req_id);
    S_STRUCTS (results, n_results, s_cancel_result);
}

S_SIZE (segq_hold_t, 40);
static void
s_hold (const char *at, const void *expected, const void *got)
{
    const segq_hold_t *e = expected, *g = got;
    S_UINT (req_id);
    S_STR (user);
    S_STRS (jobs, n_jobs);
    S_BOOL (release);
}

S_SIZE (segq_hold_reply_t, 24);
static void
s_hold_reply (const char *at, const void *expected, const void *got)
{
    const segq_hold_reply_t *e = expected, *g = got;
    S_UINT (req_id);
    S_STRUCTS (results, n_results, s_cancel_result);
}

S_SIZE (segq_usage_t, 48);
static void
s_usage (const char *at, const void *expected, const void *got)
{
    const segq_usage_t *e = expected, *g = got;
    S_UINT (req_id);
    S_STR (user);
    S_STR (of_user);
    S_REAL (since);
    S_REAL (until);
    S_INT (by);
}

S_SIZE (segq_usage_row_t, 80);
static void
s_usage_row (const char *at, const void *expected, const void *got)
{
    const segq_usage_row_t *e = expected, *g = got;
    S_STR (key);
    S_UINT (runs);
    S_UINT (jobs);
    S_REAL (run_seconds);
    S_REAL (cpu_slot_seconds);
    S_REAL (gpu_mem_seconds);
    S_REAL (cpu_seconds);
    S_UINT (max_rss);
    S_UINT (gpu_peak);
    S_REAL (fairshare);
}

S_SIZE (segq_usage_reply_t, 32);
static void
s_usage_reply (const char *at, const void *expected, const void *got)
{
    const segq_usage_reply_t *e = expected, *g = got;
    S_UINT (req_id);
    S_STRUCTS (rows, n_rows, s_usage_row);
    S_REAL (half_life_s);
}

S_SIZE (segq_logs_t, 40);
static void
s_logs (const char *at, const void *expected, const void *got)
{
    const segq_logs_t *e = expected, *g = got;
    S_UINT (req_id);
    S_STR (user);
    S_STR (job);
    S_UINT (offset);
    S_UINT (max_bytes);
}

S_SIZE (segq_logs_reply_t, 48);
static void
s_logs_reply (const char *at, const void *expected, const void *got)
{
    const segq_logs_reply_t *e = expected, *g = got;
    S_UINT (req_id);
    S_STR (job);
    S_UINT (offset);
    s_bytes (at, "data", e->data, e->size, g->data, g->size);
    S_BOOL (complete);
}

S_SIZE (segq_workers_t, 8);
static void
s_workers (const char *at, const void *expected, const void *got)
{
    const segq_workers_t *e = expected, *g = got;
    S_UINT (req_id);
}

S_SIZE (segq_workers_reply_t, 24);
static void
s_workers_reply (const char *at, const void *expected, const void *got)
{
    const segq_workers_reply_t *e = expected, *g = got;
    S_UINT (req_id);
    S_STRUCTS (workers, n_workers, s_worker_info);
}

S_SIZE (segq_drain_t, 24);
static void
s_drain (const char *at, const void *expected, const void *got)
{
    const segq_drain_t *e = expected, *g = got;
    S_UINT (req_id);
    S_STR (user);
    S_STR (node);
}

S_SIZE (segq_drain_reply_t, 16);
static void
s_drain_reply (const char *at, const void *expected, const void *got)
{
    const segq_drain_reply_t *e = expected, *g = got;
    S_UINT (req_id);
    S_STR (node);
}

S_SIZE (segq_purge_t, 32);
static void
s_purge (const char *at, const void *expected, const void *got)
{
    const segq_purge_t *e = expected, *g = got;
    S_UINT (req_id);
    S_STR (user);
    S_STRS (jobs, n_jobs);
}

S_SIZE (segq_purge_reply_t, 24);
static void
s_purge_reply (const char *at, const void *expected, const void *got)
{
    const segq_purge_reply_t *e = expected, *g = got;
    S_UINT (req_id);
    S_STRUCTS (results, n_results, s_purge_result);
}

S_SIZE (segq_backup_t, 24);
static void
s_backup (const char *at, const void *expected, const void *got)
{
    const segq_backup_t *e = expected, *g = got;
    S_UINT (req_id);
    S_STR (user);
    S_STR (path);
}

S_SIZE (segq_backup_reply_t, 32);
static void
s_backup_reply (const char *at, const void *expected, const void *got)
{
    const segq_backup_reply_t *e = expected, *g = got;
    S_UINT (req_id);
    S_STR (path);
    S_UINT (size);
    S_UINT (jobs);
}

S_SIZE (segq_priority_t, 32);
static void
s_priority (const char *at, const void *expected, const void *got)
{
    const segq_priority_t *e = expected, *g = got;
    S_UINT (req_id);
    S_STR (user);
    S_STR (job);
    S_INT (priority);
}

S_SIZE (segq_priority_reply_t, 24);
static void
s_priority_reply (const char *at, const void *expected, const void *got)
{
    const segq_priority_reply_t *e = expected, *g = got;
    S_UINT (req_id);
    S_STR (job);
    S_INT (priority);
    S_INT (previous);
}

S_SIZE (segq_array_t, 40);
static void
s_array (const char *at, const void *expected, const void *got)
{
    const segq_array_t *e = expected, *g = got;
    S_UINT (req_id);
    S_STR (user);
    S_STRS (jobs, n_jobs);
    S_STR (array);
}

S_SIZE (segq_array_reply_t, 48);
static void
s_array_reply (const char *at, const void *expected, const void *got)
{
    const segq_array_reply_t *e = expected, *g = got;
    S_UINT (req_id);
    S_STR (array);
    S_STR (owner);
    S_REAL (created);
    S_STRS (jobs, n_jobs);
}

S_SIZE (segq_kinds_t, 8);
static void
s_kinds (const char *at, const void *expected, const void *got)
{
    const segq_kinds_t *e = expected, *g = got;
    S_UINT (req_id);
}

S_SIZE (segq_kinds_reply_t, 24);
static void
s_kinds_reply (const char *at, const void *expected, const void *got)
{
    const segq_kinds_reply_t *e = expected, *g = got;
    S_UINT (req_id);
    S_STRUCTS (kinds, n_kinds, s_kind_info);
}

S_SIZE (segq_model_t, 88);
static void
s_model (const char *at, const void *expected, const void *got)
{
    const segq_model_t *e = expected, *g = got;
    S_UINT (req_id);
    S_STR (user);
    S_INT (op);
    S_STR (model);
    S_STR (value);
    S_STRS (users, n_users);
    S_BOOL (lab);
    S_STR (owner);
    S_STR (tag);
    S_STR (cursor);
}

S_SIZE (segq_model_reply_t, 32);
static void
s_model_reply (const char *at, const void *expected, const void *got)
{
    const segq_model_reply_t *e = expected, *g = got;
    S_UINT (req_id);
    S_STRUCTS (models, n_models, s_model_info);
    S_STR (next);
}

/* ---------------------------------------------------------------- worker <-> broker */

S_SIZE (segq_register_t, 80);
static void
s_register (const char *at, const void *expected, const void *got)
{
    const segq_register_t *e = expected, *g = got;
    S_STR (node);
    S_STR (instance);
    S_STRUCTS (gpus, n_gpus, s_gpu);
    S_UINT (cpu_slots);
    S_STRS (kinds, n_kinds);
    S_STRUCTS (held, n_held, s_job_attempt);
    S_BOOL (draining);
}

S_SIZE (segq_welcome_t, 16);
static void
s_welcome (const char *at, const void *expected, const void *got)
{
    const segq_welcome_t *e = expected, *g = got;
    S_UINT (heartbeat_ms);
    S_UINT (expiry_ms);
    S_UINT (max_msg);
    S_UINT (chunk_size);
}

S_SIZE (segq_assign_t, 96);
static void
s_assign (const char *at, const void *expected, const void *got)
{
    const segq_assign_t *e = expected, *g = got;
    S_STR (job);
    S_UINT (attempt);
    S_STR (kind);
    S_PARAMS (params);
    S_STRUCTS (inputs, n_inputs, s_artifact);
    S_INT (gpu);
    S_UINT (gpu_mem);
    S_UINT (cpu_slots);
    S_UINT (time_limit_s);
    S_STR (resume);
}

S_SIZE (segq_progress_t, 64);
static void
s_progress (const char *at, const void *expected, const void *got)
{
    const segq_progress_t *e = expected, *g = got;
    S_STR (job);
    S_UINT (attempt);
    S_REAL (fraction);
    S_STR (phase);
    S_STR (message);
    S_PARAMS (metrics);
}

S_SIZE (segq_log_t, 40);
static void
s_log (const char *at, const void *expected, const void *got)
{
    const segq_log_t *e = expected, *g = got;
    S_STR (job);
    S_UINT (attempt);
    S_UINT (offset);
    s_bytes (at, "data", e->data, e->size, g->data, g->size);
}

S_SIZE (segq_result_t, 88);
static void
s_result (const char *at, const void *expected, const void *got)
{
    const segq_result_t *e = expected, *g = got;
    S_STR (job);
    S_UINT (attempt);
    S_BOOL (success);
    S_INT (exit_code);
    S_INT (signal);
    S_STR (reason);
    S_STRUCTS (outputs, n_outputs, s_artifact);
    S_STRUCTS (hot, n_hot, s_hot_model);
    S_REAL (cpu_seconds);
    S_UINT (max_rss);
    S_UINT (gpu_peak);
}

S_SIZE (segq_result_ack_t, 24);
static void
s_result_ack (const char *at, const void *expected, const void *got)
{
    const segq_result_ack_t *e = expected, *g = got;
    S_STR (job);
    S_UINT (attempt);
    S_INT (code);
    S_STR (message);
}

S_SIZE (segq_abort_t, 24);
static void
s_abort (const char *at, const void *expected, const void *got)
{
    const segq_abort_t *e = expected, *g = got;
    S_STR (job);
    S_UINT (attempt);
    S_STR (reason);
}

S_SIZE (segq_checkpoint_t, 112);
static void
s_checkpoint (const char *at, const void *expected, const void *got)
{
    const segq_checkpoint_t *e = expected, *g = got;
    S_STR (job);
    S_UINT (attempt);
    S_STR (name);
    S_STR (hash);
    S_UINT (size);
    S_UINT (step);
}

S_SIZE (segq_checkpoint_ack_t, 32);
static void
s_checkpoint_ack (const char *at, const void *expected, const void *got)
{
    const segq_checkpoint_ack_t *e = expected, *g = got;
    S_STR (job);
    S_UINT (attempt);
    S_UINT (step);
    S_INT (code);
    S_STR (message);
}

/* ---------------------------------------------------------------- transfers */

S_SIZE (segq_put_t, 104);
static void
s_put (const char *at, const void *expected, const void *got)
{
    const segq_put_t *e = expected, *g = got;
    S_UINT (req_id);
    S_STR (hash);
    S_UINT (size);
    S_STR (name);
    S_STR (user);
}

S_SIZE (segq_put_ready_t, 32);
static void
s_put_ready (const char *at, const void *expected, const void *got)
{
    const segq_put_ready_t *e = expected, *g = got;
    S_UINT (req_id);
    S_UINT (transfer);
    S_BOOL (have);
    S_UINT (credit);
    S_UINT (chunk_size);
}

S_SIZE (segq_put_done_t, 32);
static void
s_put_done (const char *at, const void *expected, const void *got)
{
    const segq_put_done_t *e = expected, *g = got;
    S_UINT (req_id);
    S_UINT (transfer);
    S_INT (code);
    S_STR (message);
}

S_SIZE (segq_get_t, 112);
static void
s_get (const char *at, const void *expected, const void *got)
{
    const segq_get_t *e = expected, *g = got;
    S_UINT (req_id);
    S_STR (hash);
    S_STR (job);
    S_STR (name);
    S_STR (user);
    S_UINT (credit);
}

S_SIZE (segq_get_ready_t, 112);
static void
s_get_ready (const char *at, const void *expected, const void *got)
{
    const segq_get_ready_t *e = expected, *g = got;
    S_UINT (req_id);
    S_UINT (transfer);
    S_STR (hash);
    S_UINT (size);
    S_STR (name);
    S_UINT (chunk_size);
}

/* The data travels in a frame of its own, after the body. */
static void
s_data_frame (const char *at, zframe_t *expected, zframe_t *got)
{
    cr_assert ((expected == NULL) == (got == NULL), "%s.data: expected %s, got %s", at,
               expected ? "a frame" : "none", got ? "a frame" : "none");
    if (expected)
        s_bytes (at, "data", zframe_data (expected), zframe_size (expected), zframe_data (got),
                 zframe_size (got));
}

S_SIZE (segq_chunk_t, 96);
static void
s_chunk (const char *at, const void *expected, const void *got)
{
    const segq_chunk_t *e = expected, *g = got;
    S_UINT (transfer);
    S_UINT (offset);
    S_BOOL (last);
    S_STR (hash);
    s_data_frame (at, e->data, g->data);
}

S_SIZE (segq_credit_t, 16);
static void
s_credit (const char *at, const void *expected, const void *got)
{
    const segq_credit_t *e = expected, *g = got;
    S_UINT (transfer);
    S_UINT (chunks);
}

/* ---------------------------------------------------------------- messages */

/* The body's comparator and its member of the union, by type. */
static s_compare_fn *
s_body (const segq_msg_t *msg, const void **body)
{
    static const struct {
        segq_msg_type_t type;
        s_compare_fn *compare;
        size_t offset;
    } bodies [] = {
#define S_BODY(TYPE, member, compare) { SEGQ_MSG_##TYPE, compare, offsetof (segq_msg_t, u.member) }
        S_BODY (ERROR, error, s_error),
        S_BODY (BYE, bye, s_bye),
        S_BODY (SUBMIT, submit, s_submit),
        S_BODY (SUBMITTED, submitted, s_submitted),
        S_BODY (STATUS, status, s_status),
        S_BODY (STATUS_REPLY, status_reply, s_status_reply),
        S_BODY (CANCEL, cancel, s_cancel),
        S_BODY (CANCEL_REPLY, cancel_reply, s_cancel_reply),
        S_BODY (LOGS, logs, s_logs),
        S_BODY (LOGS_REPLY, logs_reply, s_logs_reply),
        S_BODY (WORKERS, workers, s_workers),
        S_BODY (WORKERS_REPLY, workers_reply, s_workers_reply),
        S_BODY (DRAIN, drain, s_drain),
        S_BODY (DRAIN_REPLY, drain_reply, s_drain_reply),
        S_BODY (PURGE, purge, s_purge),
        S_BODY (PURGE_REPLY, purge_reply, s_purge_reply),
        S_BODY (BACKUP, backup, s_backup),
        S_BODY (BACKUP_REPLY, backup_reply, s_backup_reply),
        S_BODY (PRIORITY, priority, s_priority),
        S_BODY (PRIORITY_REPLY, priority_reply, s_priority_reply),
        S_BODY (ARRAY, array, s_array),
        S_BODY (ARRAY_REPLY, array_reply, s_array_reply),
        S_BODY (KINDS, kinds, s_kinds),
        S_BODY (KINDS_REPLY, kinds_reply, s_kinds_reply),
        S_BODY (MODEL, model, s_model),
        S_BODY (MODEL_REPLY, model_reply, s_model_reply),
        S_BODY (HOLD, hold, s_hold),
        S_BODY (HOLD_REPLY, hold_reply, s_hold_reply),
        S_BODY (USAGE, usage, s_usage),
        S_BODY (USAGE_REPLY, usage_reply, s_usage_reply),
        S_BODY (REGISTER, reg, s_register),
        S_BODY (WELCOME, welcome, s_welcome),
        S_BODY (ASSIGN, assign, s_assign),
        S_BODY (PROGRESS, progress, s_progress),
        S_BODY (LOG, log, s_log),
        S_BODY (RESULT, result, s_result),
        S_BODY (RESULT_ACK, result_ack, s_result_ack),
        S_BODY (ABORT, abort, s_abort),
        S_BODY (CHECKPOINT, checkpoint, s_checkpoint),
        S_BODY (CHECKPOINT_ACK, checkpoint_ack, s_checkpoint_ack),
        S_BODY (PUT, put, s_put),
        S_BODY (PUT_READY, put_ready, s_put_ready),
        S_BODY (PUT_DONE, put_done, s_put_done),
        S_BODY (GET, get, s_get),
        S_BODY (GET_READY, get_ready, s_get_ready),
        S_BODY (CHUNK, chunk, s_chunk),
        S_BODY (CREDIT, credit, s_credit),
#undef S_BODY
    };
    for (size_t i = 0; i < sizeof bodies / sizeof bodies [0]; i++)
        if (bodies [i].type == msg->type) {
            *body = (const char *) msg + bodies [i].offset;
            return bodies [i].compare;
        }
    return NULL;
}

S_SIZE (segq_msg_t, 128);
void
fixture_assert_msg_equal (const segq_msg_t *expected, const segq_msg_t *got)
{
    cr_assert_not_null (expected);
    cr_assert_not_null (got);
    const char *at = segq_msg_type_name (expected->type);
    s_int (at, "type", expected->type, got->type);
    s_uint (at, "version", expected->version, got->version);
    if (expected->type == SEGQ_MSG_HEARTBEAT || expected->type == SEGQ_MSG_DRAIN_WORKER)
        return; /* empty bodies */
    const void *e = NULL, *g = NULL;
    s_compare_fn *compare = s_body (expected, &e);
    cr_assert_not_null (compare, "%s: no comparator for message type %d", at, (int) expected->type);
    s_body (got, &g);
    compare (at, e, g);
}
