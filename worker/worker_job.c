/*  worker_job.c: a job's life on the worker, once it is assigned.

    The table holds every attempt the daemon has not been told to forget.
    A job's child runs under job_runner.c, started here with its argv and
    environment; what it writes is kept as the job's log (sent in pieces,
    and held, up to a bound, while the broker is away) and its progress
    channel is forwarded at most once per interval. When the child ends,
    the job finishes: a success uploads its outputs first
    (worker_transfer.c), then the result goes to the broker
    (worker_session.c). An ABORT stops the child, or drops a result the
    broker no longer wants.
*/
#define _GNU_SOURCE
#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include "segq_generate_names.h"
#include "worker_daemon.h"

#define LOG_FLUSH_BYTES (64u << 10)
#define LOG_HOLD_MAX    (1u << 20) /* log held while the broker is away */

/* ---- the job's log ---- */

static void
s_log_append (job_t *job, const void *data, size_t size)
{
    if (job->log_used + size > LOG_HOLD_MAX) {
        /* The broker has been away for a while: keep the newest part. The
           offsets tell the broker where the gap is. */
        job->log_offset += job->log_used;
        job->log_used = 0;
        if (size > LOG_HOLD_MAX) {
            job->log_offset += size - LOG_HOLD_MAX;
            data = (const uint8_t *) data + (size - LOG_HOLD_MAX);
            size = LOG_HOLD_MAX;
        }
    }
    if (job->log_used + size > job->log_cap) {
        size_t cap = job->log_cap ? job->log_cap : 4096;
        while (cap < job->log_used + size)
            cap *= 2;
        uint8_t *log = realloc (job->log, cap);
        if (!log)
            return; /* out of memory: this piece of log is lost, the job is not */
        job->log = log;
        job->log_cap = cap;
    }
    memcpy (job->log + job->log_used, data, size);
    job->log_used += size;
}

void
segq__worker_log_note (job_t *job, const char *format, ...)
{
    char line [1024];
    va_list args;
    va_start (args, format);
    int len = snprintf (line, sizeof line, "segq-worker: ");
    len += vsnprintf (line + len, sizeof line - (size_t) len - 1, format, args);
    va_end (args);
    if (len > (int) sizeof line - 2)
        len = (int) sizeof line - 2;
    line [len++] = '\n';
    s_log_append (job, line, (size_t) len);
}

void
segq__worker_log_flush (job_t *job, int64_t now)
{
    segq_worker_t *self = job->worker;
    job->log_flushed_ms = now;
    if (job->log_used == 0 || self->session != ONLINE)
        return;
    size_t max = self->chunk_size ? self->chunk_size : SEGQ_DEFAULT_CHUNK;
    size_t sent = 0;
    while (sent < job->log_used) {
        size_t size = job->log_used - sent < max ? job->log_used - sent : max;
        segq_msg_t *msg = segq_msg_new (SEGQ_MSG_LOG);
        if (!msg || !(msg->u.log.job = strdup (job->id)) || !(msg->u.log.data = malloc (size))) {
            segq_msg_destroy (&msg);
            break;
        }
        msg->u.log.attempt = job->attempt;
        msg->u.log.offset = job->log_offset + sent;
        memcpy (msg->u.log.data, job->log + sent, size);
        msg->u.log.size = size;
        if (segq__worker_send (self, &msg))
            break;
        sent += size;
    }
    memmove (job->log, job->log + sent, job->log_used - sent);
    job->log_used -= sent;
    job->log_offset += sent;
}

/* ---- progress ---- */

void
segq__worker_progress_send (job_t *job, int64_t now, bool force)
{
    segq_worker_t *self = job->worker;
    if (self->session != ONLINE || !segq__progress_limiter_due (&job->progress, now, force))
        return;
    const segq__progress_t *state = &job->progress.state;
    segq_msg_t *msg = segq_msg_new (SEGQ_MSG_PROGRESS);
    if (!msg || !(msg->u.progress.job = strdup (job->id))
        || (state->phase && !(msg->u.progress.phase = strdup (state->phase)))
        || (state->message && !(msg->u.progress.message = strdup (state->message)))
        || segq_params_copy (&msg->u.progress.metrics, &state->metrics)) {
        segq_msg_destroy (&msg);
        return;
    }
    msg->u.progress.attempt = job->attempt;
    msg->u.progress.fraction = state->has_fraction ? state->fraction : 0;
    if (segq__worker_send (self, &msg) == 0)
        segq__progress_limiter_sent (&job->progress, now);
}

/* ---- job table ---- */

job_t *
segq__worker_job_find (segq_worker_t *self, const char *id, uint32_t attempt)
{
    char key [SEGQ_MAX_STRING + 16];
    snprintf (key, sizeof key, "%s#%" PRIu32, id, attempt);
    return zhashx_lookup (self->jobs, key);
}

void
segq__worker_job_free (job_t *job)
{
    segq_worker_t *self = job->worker;
    segq__worker_layout_end (job);
    if (job->runner)
        segq__job_runner_destroy (&job->runner);
    if (job->child_handle)
        zlistx_delete (self->children, job->child_handle);
    if (job->upload_handle)
        zlistx_delete (self->uploads, job->upload_handle);
    segq__worker_upload_clear (job);
    if (job->dir) {
        segq__remove_tree (job->dir);
        free (job->dir);
    }
    segq__progress_limiter_clear (&job->progress);
    segq__artifacts_free (&job->outputs, job->n_outputs);
    segq_artifact_clear (&job->ckpt);
    free (job->ckpt_next);
    free (job->reason);
    free (job->log);
    segq_msg_destroy (&job->assign);
    free (job->key);
    free (job);
}

void
segq__worker_job_remove (job_t *job)
{
    zhashx_delete (job->worker->jobs, job->key);
    segq__worker_job_free (job);
}

/* The job's outcome is known (outputs uploaded if it succeeded). */
void
segq__worker_job_done (job_t *job)
{
    int64_t now = segq__now_ms ();
    segq__worker_progress_send (job, now, true);
    segq__worker_log_flush (job, now);
    job->phase = JOB_DONE;
    segq__worker_log (job->worker, 1, "%s %s%s%s", job->key, job->success ? "succeeded" : "failed",
                      job->reason ? ": " : "", job->reason ? job->reason : "");
    segq__worker_result_send (job);
}

/* ---- finishing a job ---- */

static void
s_skipped_output (void *arg, const char *name, const char *why)
{
    segq__worker_log_note ((job_t *) arg, "output out/%s is %s: not uploaded", name, why);
}

void
segq__worker_job_finish (job_t *job, bool success, int32_t exit_code, int32_t sig,
                         const char *reason)
{
    segq_worker_t *self = job->worker;
    segq__worker_layout_end (job);
    segq__worker_ckpt_abandon (job);
    job->success = success;
    job->exit_code = exit_code;
    job->signal = sig;
    free (job->reason);
    job->reason = reason && *reason ? strdup (reason) : NULL;
    if (job->upload_handle) {
        zlistx_delete (self->uploads, job->upload_handle);
        job->upload_handle = NULL;
    }
    if (!success || !job->dir) {
        segq__worker_job_done (job);
        return;
    }
    char out [8192], err [600];
    snprintf (out, sizeof out, "%s/out", job->dir);
    if (segq__collect_outputs (out, &job->outputs, &job->n_outputs, s_skipped_output, job, err,
                               sizeof err)) {
        segq__worker_log_note (job, "%s", err);
        job->success = false;
        free (job->reason);
        job->reason = strdup (err);
        segq__worker_job_done (job);
        return;
    }
    /* RESULT lists every output in one message: refuse what cannot fit
       rather than send a message the broker must drop. */
    size_t listed = 0;
    for (size_t i = 0; i < job->n_outputs; i++)
        listed += SEGQ_RESULT_ENTRY_BYTES (strlen (job->outputs [i].name));
    if (listed + SEGQ_RESULT_SLACK > self->max_msg) {
        snprintf (err, sizeof err,
                  "%zu outputs: their list (%zu bytes) does not fit one RESULT "
                  "message (at most %u bytes): write fewer files (e.g. one archive)",
                  job->n_outputs, listed, self->max_msg);
        segq__worker_upload_fail (job, "%s", err);
        return;
    }
    job->phase = JOB_UPLOADING;
    job->upload_next = job->n_uploaded = 0;
    job->upload_handle = zlistx_add_end (self->uploads, job);
    if (!job->upload_handle) {
        segq__worker_upload_fail (job, "out of memory");
        return;
    }
    segq__worker_upload_next (job);
}

static void
s_runner_log (void *arg, const uint8_t *data, size_t size)
{
    job_t *job = arg;
    s_log_append (job, data, size);
    if (job->log_used >= LOG_FLUSH_BYTES)
        segq__worker_log_flush (job, segq__now_ms ());
}

static void
s_runner_progress (void *arg, const segq__progress_t *record)
{
    job_t *job = arg;
    int64_t now = segq__now_ms ();
    if (record->checkpoint && job->phase == JOB_RUNNING)
        segq__worker_ckpt_announced (job, record->checkpoint, record->step);
    if (segq__progress_limiter_update (&job->progress, record, now))
        segq__worker_progress_send (job, now, false);
}

/* The GPU memory peak the child reported last (progress metric
   gpu_peak_bytes), or 0. */
static uint64_t
s_reported_gpu_peak (const job_t *job)
{
    const segq_params_t *metrics = &job->progress.state.metrics;
    for (size_t i = 0; i < metrics->count; i++)
        if (strcmp (metrics->items [i].name, "gpu_peak_bytes") == 0
            && metrics->items [i].value.type == SEGQ_PARAM_FLOAT && metrics->items [i].value.f > 0)
            return (uint64_t) metrics->items [i].value.f;
    return 0;
}

static void
s_runner_exit (void *arg, const segq__job_exit_t *status)
{
    job_t *job = arg;
    segq_worker_t *self = job->worker;
    job->cpu_seconds = status->cpu_seconds;
    job->max_rss = status->max_rss;
    job->gpu_peak = s_reported_gpu_peak (job);
    segq__job_runner_destroy (&job->runner);
    zlistx_delete (self->children, job->child_handle);
    job->child_handle = NULL;
    if (segq__worker_stop_reached (job, status) || segq__worker_exit_is_node_fault (job, status))
        return; /* given back: worker_stop.c */
    const segq_assign_t *a = &job->assign->u.assign;
    const segq_kind_spec_t *kind = segq_kind_find (a->kind);
    char reason [sizeof status->reason];
    snprintf (reason, sizeof reason, "%s", status->reason);
    if (!status->success && !status->aborted && !status->timed_out && kind && !kind->test_kind
        && status->exit_code == SEGQ_RUN_EXIT_GPU_OOM) {
        /* segq-run's own status for it: say what to do about it */
        if (a->gpu >= 0)
            snprintf (reason, sizeof reason,
                      "out of GPU memory with %.3g GiB declared: "
                      "resubmit with a larger --gpu-mem",
                      a->gpu_mem / 1073741824.0);
        else
            snprintf (reason, sizeof reason, "out of GPU memory");
    }
    if (!status->success)
        segq__worker_log_note (job, "%s", reason);
    segq__worker_job_finish (job, status->success, status->exit_code, status->signal, reason);
}

/* ---- starting a job ---- */

/* Appends one formatted string (an argument, a variable) to list at *n;
   false when out of memory. */
static bool
s_append (char **list, size_t *n, const char *format, ...)
{
    va_list args;
    va_start (args, format);
    int rc = vasprintf (&list [*n], format, args);
    va_end (args);
    if (rc < 0) {
        list [*n] = NULL;
        return false;
    }
    (*n)++;
    return true;
}

/* The flags segq-run takes from the worker rather than from the job's
   parameters: each input as --NAME=PATH (its file, or its directory for a
   many-file input or a job's `*` outputs), --out, and the device and
   thread count of the job's placement. Paths are relative to the job's
   directory, where segq-run runs: its messages then name a file as the
   job lays it out (image/polyp.png), never the worker's scratch. */
static bool
s_ml_args (job_t *job, const segq_kind_spec_t *kind, char **argv, size_t *n)
{
    const segq_assign_t *a = &job->assign->u.assign;
    bool ok = true;
    for (size_t k = 0; k < kind->n_inputs && ok; k++) {
        const char *name = kind->inputs [k].name;
        const char *given = NULL;
        for (size_t i = 0; i < a->n_inputs && !given; i++)
            if (segq_input_under (a->inputs [i].name, name))
                given = a->inputs [i].name;
        /* a one-file input laid out as NAME/FILE keeps the user's file name
           (segq-run records it as the source); a many-file one is NAME/ */
        if (given)
            ok = s_append (argv, n, "--%s=%s", name, kind->inputs [k].many ? name : given);
    }
    if (ok && a->resume) {
        segq__worker_log_note (job, "resuming from %s, the checkpoint of an earlier attempt",
                               a->resume);
        ok = s_append (argv, n, "--resume");
    }
    return ok && s_append (argv, n, "--out=out")
           && s_append (argv, n, "--device=%s", a->gpu >= 0 ? "cuda:0" : "cpu")
           && s_append (argv, n, "--threads=%" PRIu32, a->cpu_slots ? a->cpu_slots : 1);
}

/* What a job on the GPU the broker calls `index` gets as
   CUDA_VISIBLE_DEVICES. */
static const char *
s_gpu_device (segq_worker_t *self, int32_t index, char *buf, size_t len)
{
    for (size_t i = 0; i < self->n_gpus; i++)
        if ((int32_t) self->gpus [i].index == index && self->gpus [i].device)
            return self->gpus [i].device;
    snprintf (buf, len, "%" PRId32, index);
    return buf;
}

/* The checkpoint a generate job takes (its `model` input's hash), or NULL. */
static const char *
s_model_hash (const segq_assign_t *a)
{
    if (strcmp (a->kind, "generate") != 0)
        return NULL;
    for (size_t i = 0; i < a->n_inputs; i++)
        if (strcmp (a->inputs [i].name, "model") == 0
            || strncmp (a->inputs [i].name, "model/", 6) == 0)
            return a->inputs [i].hash;
    return NULL;
}

/* The generation server of the job's device, if the worker keeps them and
   that one is free; NULL: a child of its own. */
static segq__gen_server_t *
s_gen_server (segq_worker_t *self, const segq_assign_t *a, const char *model)
{
    char device [32];
    if (!self->gen_servers || !model)
        return NULL;
    return segq__gen_servers_get (
        self->gen_servers, a->gpu >= 0 ? s_gpu_device (self, a->gpu, device, sizeof device) : "cpu",
        a->gpu);
}

/* The child's argv: PROGRAM KIND --name=value ... [ML kinds: --INPUT=PATH
   ... --out=DIR --device=D --threads=N], NULL-terminated in argv [0..*n);
   what it allocated is argv [2..*n), even when it fails. */
static bool
s_job_argv (job_t *job, const segq_kind_spec_t *kind, const char *program, char **argv, size_t *n)
{
    const segq_assign_t *a = &job->assign->u.assign;
    argv [0] = (char *) program;
    argv [1] = (char *) a->kind;
    *n = 2;
    bool ok = true;
    for (size_t i = 0; i < a->params.count && ok; i++) {
        const segq_param_t *p = &a->params.items [i];
        char value [SEGQ_MAX_STRING + 1];
        segq_value_format (&p->value, value, sizeof value);
        ok = s_append (argv, n, "--%s=%s", p->name, value);
    }
    return ok && (kind->test_kind || s_ml_args (job, kind, argv, n));
}

/* The variables the child gets on top of the daemon's environment; at most
   S_ENV_MAX, allocated in env [0..*n) even when it fails. */
#define S_ENV_MAX 10
static bool
s_job_env (job_t *job, const char *model, char **env, size_t *n)
{
    segq_worker_t *self = job->worker;
    const segq_assign_t *a = &job->assign->u.assign;
    bool ok = s_append (env, n, "SEGQ_JOB_ID=%s", job->id)
              && s_append (env, n, "SEGQ_JOB_ATTEMPT=%" PRIu32, job->attempt)
              && s_append (env, n, "SEGQ_OUTPUT_DIR=%s/out", job->dir)
              && s_append (env, n, "SEGQ_PROGRESS_FD=%d", SEGQ__PROGRESS_CHILD_FD)
              && s_append (env, n, "SEGQ_CPU_SLOTS=%" PRIu32, a->cpu_slots ? a->cpu_slots : 1)
              && s_append (env, n, SEGQ_RESULT_MAX_BYTES_ENV "=%" PRIu32, self->max_msg);
    if (ok && a->gpu >= 0) {
        /* The job sees only its GPU, as device 0: the physical device the
           broker's index stands for (s_gpus_map in worker.c), which CUDA
           must number in PCI bus order as nvidia-smi does. */
        char device [32];
        ok = s_append (env, n, "CUDA_VISIBLE_DEVICES=%s",
                       s_gpu_device (self, a->gpu, device, sizeof device))
             && s_append (env, n, "CUDA_DEVICE_ORDER=PCI_BUS_ID")
             && s_append (env, n, "SEGQ_GPU_MEM=%" PRIu64, a->gpu_mem);
    }
    /* the server's cache knows a checkpoint by it, without reading it */
    if (ok && model)
        ok = s_append (env, n, "SEGQ_MODEL_SHA256=%s", model);
    return ok;
}

static void
s_free_args (char **args, size_t from, size_t to)
{
    for (size_t i = from; i < to; i++)
        free (args [i]);
}

void
segq__worker_job_start (job_t *job)
{
    segq_worker_t *self = job->worker;
    const segq_assign_t *a = &job->assign->u.assign;
    const segq_kind_spec_t *kind = segq_kind_find (a->kind);
    const char *program = kind->test_kind ? self->testkind : self->segq_run;
    const char *model = s_model_hash (a);
    char **argv =
        calloc (a->params.count + 2 + (kind->test_kind ? 0 : kind->n_inputs + 4) + 1, sizeof *argv);
    char *env [S_ENV_MAX + 1] = { 0 };
    size_t n_args = 0, n_env = 0;
    bool ok = argv && s_job_argv (job, kind, program, argv, &n_args)
              && s_job_env (job, model, env, &n_env);
    segq__job_launch_t launch = { .path = program,
                                  .argv = argv,
                                  .env = env,
                                  .cwd = job->dir,
                                  .time_limit_s = a->time_limit_s,
                                  .kill_grace_ms = self->kill_grace_ms,
                                  .server = s_gen_server (self, a, model) };
    segq__job_callbacks_t callbacks = { .on_log = s_runner_log,
                                        .on_progress = s_runner_progress,
                                        .on_exit = s_runner_exit,
                                        .arg = job };
    char err [1024] = "out of memory starting the job";
    int rc =
        ok ? segq__job_runner_start (self->loop, &launch, &callbacks, &job->runner, err, sizeof err)
           : SEGQ_ENOMEM;
    s_free_args (argv, 2, n_args);
    free (argv);
    s_free_args (env, 0, n_env);
    if (rc == SEGQ_ENOENT && !kind->test_kind) {
        segq__worker_node_fault (job, err); /* segq-run is not there, or not executable */
        return;
    }
    if (rc) {
        segq__worker_log_note (job, "%s", err);
        segq__worker_job_finish (job, false, -1, 0, err);
        return;
    }
    job->phase = JOB_RUNNING;
    job->child_handle = zlistx_add_end (self->children, job);
    segq__worker_log (self, 1, "%s: %s started (pid %d%s)", job->key, a->kind,
                      (int) segq__job_runner_pid (job->runner),
                      launch.server ? ", the device's generation server" : "");
}

/* ---- ABORT ---- */

void
segq__worker_on_abort (segq_worker_t *self, const segq_abort_t *m)
{
    job_t *job = segq__worker_job_find (self, m->job, m->attempt);
    if (!job)
        return;
    char reason [600];
    snprintf (reason, sizeof reason, "aborted: %s", m->reason ? m->reason : "by the broker");
    segq__worker_log (self, 1, "%s %s", job->key, reason);
    switch (job->phase) {
    case JOB_RUNNING:
        segq__job_runner_abort (job->runner, reason); /* RESULT once it is gone */
        break;
    case JOB_STOPPED:
        segq__worker_stop_abort (job, reason);
        break;
    case JOB_FETCHING:
    case JOB_UPLOADING:
        segq__worker_log_note (job, "%s", reason);
        segq__worker_upload_clear (job);
        segq__artifacts_free (&job->outputs, job->n_outputs);
        job->n_outputs = 0;
        segq__worker_job_finish (job, false, -1, 0, reason);
        break;
    case JOB_DONE:
        segq__worker_job_remove (job); /* not the broker's current attempt: drop it */
        break;
    }
}
