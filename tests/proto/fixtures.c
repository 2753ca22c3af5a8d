/*  fixtures.c: see fixtures.h. */
#include "fixtures.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

const segq_msg_type_t fixture_types [] = {
    SEGQ_MSG_ERROR,
    SEGQ_MSG_HEARTBEAT,
    SEGQ_MSG_BYE,
    SEGQ_MSG_SUBMIT,
    SEGQ_MSG_SUBMITTED,
    SEGQ_MSG_STATUS,
    SEGQ_MSG_STATUS_REPLY,
    SEGQ_MSG_CANCEL,
    SEGQ_MSG_CANCEL_REPLY,
    SEGQ_MSG_LOGS,
    SEGQ_MSG_LOGS_REPLY,
    SEGQ_MSG_WORKERS,
    SEGQ_MSG_WORKERS_REPLY,
    SEGQ_MSG_DRAIN,
    SEGQ_MSG_DRAIN_REPLY,
    SEGQ_MSG_PURGE,
    SEGQ_MSG_PURGE_REPLY,
    SEGQ_MSG_BACKUP,
    SEGQ_MSG_BACKUP_REPLY,
    SEGQ_MSG_PRIORITY,
    SEGQ_MSG_PRIORITY_REPLY,
    SEGQ_MSG_ARRAY,
    SEGQ_MSG_ARRAY_REPLY,
    SEGQ_MSG_REGISTER,
    SEGQ_MSG_WELCOME,
    SEGQ_MSG_ASSIGN,
    SEGQ_MSG_PROGRESS,
    SEGQ_MSG_LOG,
    SEGQ_MSG_RESULT,
    SEGQ_MSG_RESULT_ACK,
    SEGQ_MSG_ABORT,
    SEGQ_MSG_DRAIN_WORKER,
    SEGQ_MSG_CHECKPOINT,
    SEGQ_MSG_CHECKPOINT_ACK,
    SEGQ_MSG_PUT,
    SEGQ_MSG_PUT_READY,
    SEGQ_MSG_PUT_DONE,
    SEGQ_MSG_GET,
    SEGQ_MSG_GET_READY,
    SEGQ_MSG_CHUNK,
    SEGQ_MSG_CREDIT,
    SEGQ_MSG_KINDS,
    SEGQ_MSG_KINDS_REPLY,
    SEGQ_MSG_MODEL,
    SEGQ_MSG_MODEL_REPLY,
    SEGQ_MSG_HOLD,
    SEGQ_MSG_HOLD_REPLY,
    SEGQ_MSG_USAGE,
    SEGQ_MSG_USAGE_REPLY,
};
const size_t fixture_type_count = sizeof fixture_types / sizeof fixture_types [0];

static void *
s_need (void *p)
{
    if (!p) {
        fprintf (stderr, "fixtures: out of memory\n");
        abort ();
    }
    return p;
}

static char *
s_str (const char *s)
{
    return s_need (strdup (s));
}

const char *
fixture_hash (int which)
{
    static const char *hashes [] = {
        "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
        "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad",
        "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0",
    };
    return hashes [which % 3];
}

static char **
s_strings (size_t n, const char *prefix)
{
    char **strings = s_need (calloc (n, sizeof *strings));
    for (size_t i = 0; i < n; i++) {
        char text [64];
        snprintf (text, sizeof text, "%s%zu", prefix, i);
        strings [i] = s_str (text);
    }
    return strings;
}

static void
s_param (segq_params_t *params, const char *name, segq_value_t value)
{
    if (segq_params_set (params, name, &value) != SEGQ_OK)
        abort ();
}

static void
s_params (segq_params_t *params)
{
    s_param (params, "niter", (segq_value_t){ .type = SEGQ_PARAM_INT, .i = -1234567890123LL });
    s_param (params, "lr", (segq_value_t){ .type = SEGQ_PARAM_FLOAT, .f = 0.0005 });
    s_param (params, "flip", (segq_value_t){ .type = SEGQ_PARAM_BOOL, .b = true });
    s_param (params, "dtype", (segq_value_t){ .type = SEGQ_PARAM_STRING, .s = "bf16" });
}

static void
s_metrics (segq_params_t *metrics)
{
    s_param (metrics, "loss", (segq_value_t){ .type = SEGQ_PARAM_FLOAT, .f = 0.125 });
    s_param (metrics, "psnr", (segq_value_t){ .type = SEGQ_PARAM_FLOAT, .f = 31.5 });
}

static void
s_artifact (segq_artifact_t *a, int i)
{
    char name [64];
    snprintf (name, sizeof name, "out/images/%d.png", i);
    a->name = s_str (name);
    strcpy (a->hash, fixture_hash (i));
    a->size = 1000000000000ULL + (uint64_t) i;
}

static segq_artifact_t *
s_artifacts (size_t n)
{
    segq_artifact_t *a = s_need (calloc (n, sizeof *a));
    for (size_t i = 0; i < n; i++)
        s_artifact (&a [i], (int) i);
    return a;
}

/* Full: every form, the model one as a stored job shows it (the model's id
   beside its checkpoint's hash). */
static segq_input_t *
s_inputs (size_t *n, bool full)
{
    *n = full ? 4 : 1;
    segq_input_t *in = s_need (calloc (*n, sizeof *in));
    in [0].name = s_str ("image.png");
    strcpy (in [0].hash, fixture_hash (1));
    in [0].size = 4096;
    if (full) {
        in [1].name = s_str ("checkpoint");
        in [1].job = s_str ("j7k2");
        in [1].output = s_str ("model.safetensors");
        in [2].name = s_str ("all");
        in [2].job = s_str ("j7k3");
        in [3].name = s_str ("model");
        in [3].model = s_str ("m-j7k2");
        strcpy (in [3].hash, fixture_hash (2));
        in [3].size = 123456789;
    }
    return in;
}

static segq_gpu_t *
s_gpus (size_t n, bool used)
{
    segq_gpu_t *g = s_need (calloc (n, sizeof *g));
    for (size_t i = 0; i < n; i++) {
        g [i].index = (uint32_t) i;
        g [i].name = s_str ("NVIDIA H100 80GB HBM3");
        g [i].mem_total = 85899345920ULL;
        g [i].mem_used = used ? 1ULL << 33 : 0;
        if (i % 2) /* a worker under CUDA_VISIBLE_DEVICES: the physical device */
            g [i].device = s_str ("GPU-4a1b2c3d-0000-1111-2222-333344445555");
    }
    return g;
}

static void
s_job_info (segq_job_info_t *j, int i, bool full)
{
    char id [32];
    snprintf (id, sizeof id, "j%d", i);
    j->id = s_str (id);
    j->owner = s_str ("alice");
    j->kind = s_str ("train");
    j->state = SEGQ_JOB_RUNNING;
    j->gpu = -1;
    j->exit_code = -1;
    if (!full)
        return;
    j->priority = -7;
    j->attempt = 2;
    j->max_attempts = 3;
    j->gpu_mem = 8ULL << 30;
    j->cpu_slots = 4;
    j->time_limit_s = 7200;
    j->worker = s_str ("gpu-node-1");
    j->gpu = 3;
    j->fraction = 0.75;
    j->phase = s_str ("scale 5/8");
    j->message = s_str ("training");
    j->reason = s_str ("worker lost 1 times");
    j->exit_code = 2; /* not 0: a member the codec lost would read 0 */
    j->signal = 9;
    j->created = 1764000000.25;
    j->started = 1764000001.5;
    j->finished = 1764000002.75;
    s_params (&j->params);
    s_metrics (&j->metrics);
    j->inputs = s_inputs (&j->n_inputs, true);
    j->n_after = 2;
    j->after = s_strings (2, "dep");
    j->n_outputs = 2;
    j->outputs = s_artifacts (2);
    j->n_history = 2;
    j->history = s_need (calloc (2, sizeof *j->history));
    j->history [0] = (segq_transition_t){ SEGQ_JOB_QUEUED, 1764000000.25, NULL };
    j->history [1] = (segq_transition_t){ SEGQ_JOB_RUNNING, 1764000001.5, s_str ("assigned") };
    j->held = true;
}

/* A kind with a parameter of each type (typed defaults, one required)
   and inputs of each form. */
static void
s_kind_info (segq_kind_info_t *k)
{
    k->name = s_str ("train");
    k->help = s_str ("trains a SinGAN");
    k->principal = s_str ("model.safetensors");
    k->n_params = 4;
    k->params = s_need (calloc (4, sizeof *k->params));
    k->params [0] = (segq_kind_param_t){
        s_str ("niter"), SEGQ_PARAM_INT, 1, 1e9, NULL, 0, s_str ("iterations per scale")
    };
    k->params [1] = (segq_kind_param_t){ s_str ("lr"), SEGQ_PARAM_FLOAT, -0.5, 1, NULL, 0, NULL };
    k->params [2] =
        (segq_kind_param_t){ s_str ("precision"), SEGQ_PARAM_CHOICE, 0, 0, s_strings (2, "fp"), 2,
                             s_str ("arithmetic") };
    k->params [3] = (segq_kind_param_t){ s_str ("flip"), SEGQ_PARAM_BOOL, 0, 0, NULL, 0, NULL };
    s_param (&k->defaults, "niter", (segq_value_t){ .type = SEGQ_PARAM_INT, .i = 2000 });
    s_param (&k->defaults, "lr", (segq_value_t){ .type = SEGQ_PARAM_FLOAT, .f = 0.0005 });
    s_param (&k->defaults, "precision", (segq_value_t){ .type = SEGQ_PARAM_STRING, .s = "fp0" });
    k->n_inputs = 3;
    k->inputs = s_need (calloc (3, sizeof *k->inputs));
    k->inputs [0] = (segq_kind_input_t){ .name = s_str ("image"),
                                         .required = true,
                                         .help = s_str ("one image") };
    k->inputs [1] = (segq_kind_input_t){
        .name = s_str ("synthetic"), .unless = s_str ("from_alpha"), .many = true, .sets = true
    };
    k->inputs [2] = (segq_kind_input_t){ .name = s_str ("model"),
                                         .required = true,
                                         .help = s_str ("a catalogue model or a checkpoint"),
                                         .catalogue = true };
    k->test = true;
}

/* A model of the catalogue: every field when full (as SHOW answers its
   owner), the required ones when not. */
static void
s_model_info (segq_model_info_t *m, int i, bool full)
{
    char text [32];
    snprintf (text, sizeof text, "m-j%d", i);
    m->id = s_str (text);
    snprintf (text, sizeof text, "polyp-%d", i);
    m->name = s_str (text);
    m->owner = s_str ("alice");
    snprintf (text, sizeof text, "j%d", i);
    m->job = s_str (text);
    if (!full)
        return;
    m->created = 1764000002.75;
    m->image = s_str ("polyp 1.png");
    strcpy (m->image_hash, fixture_hash (0));
    m->mask = s_str ("polyp 1 mask.png");
    strcpy (m->mask_hash, fixture_hash (1));
    strcpy (m->checkpoint, fixture_hash (2));
    m->size = 123456789;
    m->scales = 9;
    m->height = 187;
    m->width = 250;
    s_params (&m->params);
    m->n_tags = 2;
    m->tags = s_strings (2, "tag");
    m->note = s_str ("trained on the 2025 set");
    m->n_shared = 2;
    m->shared = s_strings (2, "user");
    m->lab = true;
    m->pinned = true;
    m->purged = true;
    m->samples = s_str ("j00099");
}

segq_msg_t *
fixture_msg (segq_msg_type_t type, bool full)
{
    segq_msg_t *m = s_need (segq_msg_new (type));
    switch (type) {
    case SEGQ_MSG_ERROR:
        m->u.error.req_id = full ? 18446744073709551615ULL : 0;
        m->u.error.code = SEGQ_EVERSION;
        m->u.error.message = s_str ("peer speaks protocol version 9");
        if (full) {
            m->u.error.n_versions = 2;
            m->u.error.versions = s_need (calloc (2, sizeof (uint32_t)));
            m->u.error.versions [0] = 1;
            m->u.error.versions [1] = 2;
        }
        break;
    case SEGQ_MSG_HEARTBEAT:
    case SEGQ_MSG_DRAIN_WORKER:
        break;
    case SEGQ_MSG_BYE:
        if (full)
            m->u.bye.reason = s_str ("drained");
        break;
    case SEGQ_MSG_SUBMIT: {
        segq_submit_t *s = &m->u.submit;
        s->req_id = 42;
        s->user = s_str ("alice");
        s->kind = s_str ("sleep");
        if (!full)
            break;
        s_params (&s->params);
        s->inputs = s_inputs (&s->n_inputs, true);
        s->n_after = 3;
        s->after = s_strings (3, "a");
        s->priority = -5;
        s->gpu_mem = 3ULL << 30;
        s->cpu_slots = 2;
        s->time_limit_s = 600;
        s->max_attempts = 5;
        s->retry = s_str ("j00041");
        break;
    }
    case SEGQ_MSG_SUBMITTED:
        m->u.submitted.req_id = 42;
        m->u.submitted.job = s_str ("j00042");
        if (full) {
            m->u.submitted.gpu_mem = 6ULL << 30;
            m->u.submitted.cpu_slots = 3;
        }
        break;
    case SEGQ_MSG_STATUS:
        m->u.status.req_id = 7;
        if (!full)
            break;
        m->u.status.n_jobs = 2;
        m->u.status.jobs = s_strings (2, "j");
        m->u.status.user = s_str ("bob");
        m->u.status.state = SEGQ_JOB_FAILED;
        m->u.status.cursor = s_str ("j99");
        m->u.status.limit = 500;
        m->u.status.detail = true;
        m->u.status.caller = s_str ("carol");
        m->u.status.newest = true;
        m->u.status.wait_ms = 1500;
        break;
    case SEGQ_MSG_STATUS_REPLY:
        m->u.status_reply.req_id = 7;
        if (!full)
            break;
        m->u.status_reply.n_jobs = 2;
        m->u.status_reply.jobs = s_need (calloc (2, sizeof (segq_job_info_t)));
        s_job_info (&m->u.status_reply.jobs [0], 0, true);
        s_job_info (&m->u.status_reply.jobs [1], 1, false);
        m->u.status_reply.cursor = s_str ("j1");
        break;
    case SEGQ_MSG_CANCEL:
        m->u.cancel.req_id = 8;
        m->u.cancel.user = s_str ("alice");
        m->u.cancel.n_jobs = full ? 3 : 0;
        m->u.cancel.jobs = full ? s_strings (3, "j") : NULL;
        break;
    case SEGQ_MSG_CANCEL_REPLY:
        m->u.cancel_reply.req_id = 8;
        if (!full)
            break;
        m->u.cancel_reply.n_results = 2;
        m->u.cancel_reply.results = s_need (calloc (2, sizeof (segq_cancel_result_t)));
        m->u.cancel_reply.results [0].job = s_str ("j0");
        m->u.cancel_reply.results [1].job = s_str ("j1");
        m->u.cancel_reply.results [1].code = SEGQ_EPERM;
        m->u.cancel_reply.results [1].message = s_str ("j1 belongs to bob");
        break;
    case SEGQ_MSG_LOGS:
        m->u.logs.req_id = 9;
        m->u.logs.job = s_str ("j5");
        if (full) {
            m->u.logs.user = s_str ("alice");
            m->u.logs.offset = 5000000000ULL;
            m->u.logs.max_bytes = 65536;
        }
        break;
    case SEGQ_MSG_LOGS_REPLY:
        m->u.logs_reply.req_id = 9;
        m->u.logs_reply.job = s_str ("j5");
        m->u.logs_reply.offset = full ? 5000000000ULL : 0;
        if (full) {
            m->u.logs_reply.size = 300;
            m->u.logs_reply.data = s_need (malloc (300));
            for (int i = 0; i < 300; i++)
                m->u.logs_reply.data [i] = (uint8_t) (i * 7); /* NULs and high bytes */
            m->u.logs_reply.complete = true;
        }
        break;
    case SEGQ_MSG_WORKERS:
        m->u.workers.req_id = 10;
        break;
    case SEGQ_MSG_WORKERS_REPLY:
        m->u.workers_reply.req_id = 10;
        if (!full)
            break;
        m->u.workers_reply.n_workers = 1;
        m->u.workers_reply.workers = s_need (calloc (1, sizeof (segq_worker_info_t)));
        {
            segq_worker_info_t *w = m->u.workers_reply.workers;
            w->node = s_str ("gpu-node-1");
            w->state = SEGQ_WORKER_DRAINING;
            w->n_gpus = 2;
            w->gpus = s_gpus (2, true);
            w->cpu_slots = 64;
            w->cpu_used = 3;
            w->n_kinds = 2;
            w->kinds = s_strings (2, "kind");
            w->n_running = 2;
            w->running = s_strings (2, "j");
            w->last_seen = 1764000000.5;
            w->version = 1;
        }
        break;
    case SEGQ_MSG_DRAIN:
        m->u.drain.req_id = 11;
        m->u.drain.node = s_str ("gpu-node-1");
        if (full)
            m->u.drain.user = s_str ("root");
        break;
    case SEGQ_MSG_DRAIN_REPLY:
        m->u.drain_reply.req_id = 11;
        m->u.drain_reply.node = s_str ("gpu-node-1");
        break;
    case SEGQ_MSG_PURGE:
        m->u.purge.req_id = 12;
        m->u.purge.n_jobs = full ? 2 : 0;
        m->u.purge.jobs = full ? s_strings (2, "j") : NULL;
        if (full)
            m->u.purge.user = s_str ("alice");
        break;
    case SEGQ_MSG_PURGE_REPLY:
        m->u.purge_reply.req_id = 12;
        if (!full)
            break;
        m->u.purge_reply.n_results = 2;
        m->u.purge_reply.results = s_need (calloc (2, sizeof (segq_purge_result_t)));
        m->u.purge_reply.results [0].job = s_str ("j0");
        m->u.purge_reply.results [0].artifacts = 3;
        m->u.purge_reply.results [0].bytes = 5000000000ULL;
        m->u.purge_reply.results [1].job = s_str ("j1");
        m->u.purge_reply.results [1].code = SEGQ_ESTATE;
        m->u.purge_reply.results [1].message = s_str ("j1 is running");
        break;
    case SEGQ_MSG_BACKUP:
        m->u.backup.req_id = 13;
        m->u.backup.path = s_str ("/var/backups/segq.db");
        if (full)
            m->u.backup.user = s_str ("root");
        break;
    case SEGQ_MSG_BACKUP_REPLY:
        m->u.backup_reply.req_id = 13;
        m->u.backup_reply.path = s_str ("/var/backups/segq.db");
        if (full) {
            m->u.backup_reply.size = 1 << 20;
            m->u.backup_reply.jobs = 10000;
        }
        break;
    case SEGQ_MSG_PRIORITY:
        m->u.priority.req_id = 13;
        m->u.priority.job = s_str ("j00042");
        m->u.priority.priority = full ? SEGQ_PRIORITY_USER_MAX + 1 : -7;
        if (full)
            m->u.priority.user = s_str ("root");
        break;
    case SEGQ_MSG_PRIORITY_REPLY:
        m->u.priority_reply.req_id = 13;
        m->u.priority_reply.job = s_str ("j00042");
        m->u.priority_reply.priority = full ? SEGQ_PRIORITY_USER_MAX + 1 : -7;
        m->u.priority_reply.previous = full ? 5 : 0;
        break;
    case SEGQ_MSG_ARRAY:
        m->u.array.req_id = 12;
        if (full) {
            m->u.array.user = s_str ("alice");
            m->u.array.n_jobs = 3;
            m->u.array.jobs = s_strings (3, "j");
        } else
            m->u.array.array = s_str ("a-0001");
        break;
    case SEGQ_MSG_ARRAY_REPLY:
        m->u.array_reply.req_id = 12;
        m->u.array_reply.array = s_str ("a-0001");
        m->u.array_reply.owner = s_str ("alice");
        if (full) {
            m->u.array_reply.created = 1764000000.25;
            m->u.array_reply.n_jobs = 5;
            m->u.array_reply.jobs = s_strings (5, "j");
        }
        break;
    case SEGQ_MSG_REGISTER:
        m->u.reg.node = s_str ("gpu-node-1");
        if (!full)
            break;
        m->u.reg.instance = s_str ("0123456789abcdef0123456789abcdef@gpu-node-1");
        m->u.reg.n_gpus = 4;
        m->u.reg.gpus = s_gpus (4, false);
        m->u.reg.cpu_slots = 32;
        m->u.reg.n_kinds = 4;
        m->u.reg.kinds = s_strings (4, "kind");
        m->u.reg.n_held = 2;
        m->u.reg.held = s_need (calloc (2, sizeof (segq_job_attempt_t)));
        m->u.reg.held [0] = (segq_job_attempt_t){ s_str ("j1"), 1 };
        m->u.reg.held [1] = (segq_job_attempt_t){ s_str ("j2"), 4000000000u };
        m->u.reg.draining = true;
        break;
    case SEGQ_MSG_WELCOME:
        m->u.welcome = (segq_welcome_t){ 1000, 5000, SEGQ_DEFAULT_MAX_MSG, SEGQ_DEFAULT_CHUNK };
        break;
    case SEGQ_MSG_ASSIGN: {
        segq_assign_t *a = &m->u.assign;
        a->job = s_str ("j00042");
        a->attempt = 2;
        a->kind = s_str ("echo");
        if (!full)
            break;
        s_params (&a->params);
        a->n_inputs = 3;
        a->inputs = s_artifacts (3);
        a->gpu = 1;
        a->gpu_mem = 8ULL << 30;
        a->cpu_slots = 2;
        a->time_limit_s = 3600;
        a->resume = s_str ("out/model.safetensors");
        break;
    }
    case SEGQ_MSG_PROGRESS:
        m->u.progress.job = s_str ("j00042");
        m->u.progress.attempt = 2;
        if (full) {
            m->u.progress.fraction = 0.5;
            m->u.progress.phase = s_str ("train");
            m->u.progress.message = s_str ("scale 3 of 8");
            s_metrics (&m->u.progress.metrics);
        }
        break;
    case SEGQ_MSG_LOG:
        m->u.log.job = s_str ("j00042");
        m->u.log.attempt = 2;
        m->u.log.offset = full ? 123456 : 0;
        if (full) {
            m->u.log.size = 70000; /* bin16 would not do: bin32 */
            m->u.log.data = s_need (malloc (70000));
            for (size_t i = 0; i < 70000; i++)
                m->u.log.data [i] = (uint8_t) (i % 251);
        }
        break;
    case SEGQ_MSG_RESULT:
        m->u.result.job = s_str ("j00042");
        m->u.result.attempt = 2;
        m->u.result.exit_code = full ? -1 : 0;
        m->u.result.success = !full;
        if (full) {
            m->u.result.signal = 11;
            m->u.result.reason = s_str ("killed by signal 11 (Segmentation fault)");
            m->u.result.n_outputs = 2;
            m->u.result.outputs = s_artifacts (2);
            m->u.result.n_hot = 2;
            m->u.result.hot = s_need (calloc (2, sizeof (segq_hot_model_t)));
            m->u.result.hot [0].gpu = -1;
            strcpy (m->u.result.hot [0].hash, fixture_hash (3));
            m->u.result.hot [1].gpu = 7;
            strcpy (m->u.result.hot [1].hash, fixture_hash (4));
            m->u.result.cpu_seconds = 1234.5;
            m->u.result.max_rss = 3000000000ULL;
            m->u.result.gpu_peak = 17179869184ULL;
        }
        break;
    case SEGQ_MSG_RESULT_ACK:
        m->u.result_ack.job = s_str ("j00042");
        m->u.result_ack.attempt = 2;
        m->u.result_ack.code = full ? SEGQ_ESTALE : 0;
        if (full)
            m->u.result_ack.message = s_str ("attempt 2 is stale: job runs attempt 3");
        break;
    case SEGQ_MSG_ABORT:
        m->u.abort.job = s_str ("j00042");
        m->u.abort.attempt = 2;
        if (full)
            m->u.abort.reason = s_str ("cancelled by alice");
        break;
    case SEGQ_MSG_CHECKPOINT:
        m->u.checkpoint.job = s_str ("j00042");
        m->u.checkpoint.attempt = 2;
        m->u.checkpoint.name = s_str ("model.safetensors");
        strcpy (m->u.checkpoint.hash, fixture_hash (1));
        m->u.checkpoint.size = full ? 123456789 : 0;
        m->u.checkpoint.step = full ? 3 : 0;
        break;
    case SEGQ_MSG_CHECKPOINT_ACK:
        m->u.checkpoint_ack.job = s_str ("j00042");
        m->u.checkpoint_ack.attempt = 2;
        m->u.checkpoint_ack.code = full ? SEGQ_ESTALE : 0;
        m->u.checkpoint_ack.step = full ? 3 : 0;
        if (full)
            m->u.checkpoint_ack.message = s_str ("attempt 2 is stale: job runs attempt 3");
        break;
    case SEGQ_MSG_PUT:
        m->u.put.req_id = 12;
        m->u.put.size = full ? 52428800 : 0;
        if (full) { /* minimal: the hash comes with the final CHUNK */
            strcpy (m->u.put.hash, fixture_hash (0));
            m->u.put.name = s_str ("/home/alice/data/image 1.png");
            m->u.put.user = s_str ("alice");
        }
        break;
    case SEGQ_MSG_PUT_READY:
        m->u.put_ready.req_id = 12;
        if (full)
            m->u.put_ready = (segq_put_ready_t){ 12, 99, true, 8, SEGQ_DEFAULT_CHUNK };
        break;
    case SEGQ_MSG_PUT_DONE:
        m->u.put_done.req_id = 12;
        m->u.put_done.code = full ? SEGQ_EHASH : 0;
        if (full) {
            m->u.put_done.transfer = 99;
            m->u.put_done.message = s_str ("sha256 mismatch");
        }
        break;
    case SEGQ_MSG_GET:
        m->u.get.req_id = 13;
        if (full) {
            m->u.get.job = s_str ("j00042");
            m->u.get.name = s_str ("out/mask.png");
            m->u.get.user = s_str ("alice");
            m->u.get.credit = 8;
        } else
            strcpy (m->u.get.hash, fixture_hash (2));
        break;
    case SEGQ_MSG_GET_READY:
        m->u.get_ready.req_id = 13;
        m->u.get_ready.transfer = 100;
        strcpy (m->u.get_ready.hash, fixture_hash (2));
        m->u.get_ready.size = 3;
        m->u.get_ready.chunk_size = SEGQ_DEFAULT_CHUNK;
        if (full)
            m->u.get_ready.name = s_str ("out/mask.png");
        break;
    case SEGQ_MSG_CHUNK: {
        m->u.chunk.transfer = 100;
        m->u.chunk.offset = full ? 1ULL << 40 : 0;
        m->u.chunk.last = full;
        if (full)
            strcpy (m->u.chunk.hash, fixture_hash (1));
        size_t size = full ? 100000 : 0;
        uint8_t *bytes = s_need (malloc (size + 1));
        for (size_t i = 0; i < size; i++)
            bytes [i] = (uint8_t) (i * 13);
        m->u.chunk.data = s_need (zframe_new (bytes, size));
        free (bytes);
        break;
    }
    case SEGQ_MSG_CREDIT:
        m->u.credit.transfer = 100;
        m->u.credit.chunks = full ? 4000000000u : 0;
        break;
    case SEGQ_MSG_KINDS:
        m->u.kinds.req_id = 14;
        break;
    case SEGQ_MSG_KINDS_REPLY:
        m->u.kinds_reply.req_id = 14;
        if (!full)
            break;
        m->u.kinds_reply.n_kinds = 2;
        m->u.kinds_reply.kinds = s_need (calloc (2, sizeof (segq_kind_info_t)));
        s_kind_info (&m->u.kinds_reply.kinds [0]);
        m->u.kinds_reply.kinds [1].name = s_str ("noop");
        m->u.kinds_reply.kinds [1].principal = s_str ("*");
        break;
    case SEGQ_MSG_MODEL: {
        segq_model_t *q = &m->u.model;
        q->req_id = 15;
        q->op = full ? SEGQ_MODEL_SHARE : SEGQ_MODEL_LIST;
        if (!full)
            break;
        q->user = s_str ("alice");
        q->model = s_str ("alice/polyp-2");
        q->n_users = 2;
        q->users = s_strings (2, "user");
        /* LIST's filters: the codec carries them with any op */
        q->owner = s_str ("alice");
        q->tag = s_str ("colon");
        q->cursor = s_str ("m-j7k2");
        break;
    }
    case SEGQ_MSG_MODEL_REPLY:
        m->u.model_reply.req_id = 15;
        if (!full)
            break;
        m->u.model_reply.n_models = 2;
        m->u.model_reply.models = s_need (calloc (2, sizeof (segq_model_info_t)));
        s_model_info (&m->u.model_reply.models [0], 0, true);
        s_model_info (&m->u.model_reply.models [1], 1, false);
        m->u.model_reply.next = s_str ("m-j1");
        break;
    case SEGQ_MSG_HOLD:
        m->u.hold.req_id = 16;
        m->u.hold.user = s_str ("alice");
        m->u.hold.n_jobs = full ? 2 : 0;
        m->u.hold.jobs = full ? s_strings (2, "j") : NULL;
        m->u.hold.release = full;
        break;
    case SEGQ_MSG_HOLD_REPLY:
        m->u.hold_reply.req_id = 16;
        if (!full)
            break;
        m->u.hold_reply.n_results = 2;
        m->u.hold_reply.results = s_need (calloc (2, sizeof (segq_cancel_result_t)));
        m->u.hold_reply.results [0].job = s_str ("j0");
        m->u.hold_reply.results [1].job = s_str ("j1");
        m->u.hold_reply.results [1].code = SEGQ_ESTATE;
        m->u.hold_reply.results [1].message = s_str ("j1 is running: too late to hold");
        break;
    case SEGQ_MSG_USAGE:
        m->u.usage.req_id = 17;
        m->u.usage.by = full ? SEGQ_USAGE_BY_DAY : SEGQ_USAGE_BY_USER;
        if (full) {
            m->u.usage.user = s_str ("alice");
            m->u.usage.of_user = s_str ("bob");
            m->u.usage.since = 1764000000.5;
            m->u.usage.until = 1765000000.25;
        }
        break;
    case SEGQ_MSG_USAGE_REPLY:
        m->u.usage_reply.req_id = 17;
        if (!full)
            break;
        m->u.usage_reply.half_life_s = 604800;
        m->u.usage_reply.n_rows = 2;
        m->u.usage_reply.rows = s_need (calloc (2, sizeof (segq_usage_row_t)));
        m->u.usage_reply.rows [0] =
            (segq_usage_row_t){ s_str ("alice"), 7,       5,       3600.5,
                                7201.0,          4.5e13,  6000.25, 2000000000ULL,
                                8589934592ULL,   12345.75 };
        m->u.usage_reply.rows [1].key = s_str ("bob");
        break;
    }
    return m;
}

static uint8_t *
s_copy_frame (zframe_t *frame, size_t *size)
{
    *size = zframe_size (frame);
    uint8_t *copy = s_need (malloc (*size + 1));
    memcpy (copy, zframe_data (frame), *size);
    return copy;
}

int
fixture_encode (segq_msg_t *msg, fixture_frames_t *out)
{
    memset (out, 0, sizeof *out);
    zmsg_t *zmsg;
    int rc = segq_msg_encode (msg, &zmsg);
    if (rc)
        return rc;
    zframe_t *frame = zmsg_first (zmsg);
    out->header = s_copy_frame (frame, &out->header_size);
    out->body = s_copy_frame (zmsg_next (zmsg), &out->body_size);
    if ((frame = zmsg_next (zmsg))) {
        out->data = s_copy_frame (frame, &out->data_size);
        out->has_data = true;
    }
    zmsg_destroy (&zmsg);
    return SEGQ_OK;
}

void
fixture_frames_free (fixture_frames_t *frames)
{
    free (frames->header);
    free (frames->body);
    free (frames->data);
    memset (frames, 0, sizeof *frames);
}
