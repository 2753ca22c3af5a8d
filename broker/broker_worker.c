/*  broker_worker.c: the workers, and the jobs the broker hands them.

    A worker registers (REGISTER, answered by WELCOME) with its capacity,
    the kinds it runs and the jobs it still holds; each registration is a
    new session, and the jobs a worker no longer holds are lost with the
    old one. The scheduler assigns queued jobs to free capacity (ASSIGN,
    with every input resolved to a stored artifact). A running attempt then
    reports PROGRESS, LOG, CHECKPOINT and RESULT; each is fenced: only the
    job's current attempt on that worker counts, and what it names as its
    outputs must be bytes it uploaded itself. A worker that leaves (BYE) or
    goes silent past the expiry loses its running jobs to the queue. */
#include "broker_internal.h"
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define INPROC_WINDOW 1024 /* in-process jobs in flight per worker */

void
segq__broker_worker_destroy (void **item)
{
    worker_t *w = *item;
    if (!w)
        return;
    zframe_destroy (&w->peer);
    for (size_t i = 0; i < w->n_gpus; i++)
        segq_gpu_clear (&w->gpus [i]);
    free (w->gpus);
    for (size_t i = 0; i < w->n_kinds; i++)
        free (w->kinds [i]);
    free (w->kinds);
    free (w->instance);
    free (w->node);
    free (w);
    *item = NULL;
}

segq__sched_node_t *
segq__broker_worker_sched_node (segq_broker_t *self, worker_t *w)
{
    segq__sched_gpu_t gpus [64];
    size_t n = w->n_gpus < 64 ? w->n_gpus : 64;
    for (size_t i = 0; i < n; i++) {
        gpus [i].index = w->gpus [i].index;
        gpus [i].mem_total = w->gpus [i].mem_total;
    }
    segq__sched_node_t *node =
        segq__sched_node_new (self->sched, w, w->cpu_slots, gpus, n, w->kinds_mask, INPROC_WINDOW);
    if (node)
        segq__sched_node_set_accepting (node, w->state == SEGQ_WORKER_ACTIVE);
    return node;
}

/* The worker's running jobs go back to the queue (or fail after max
   attempts), and it gets no more work. */
void
segq__broker_worker_gone (segq_broker_t *self, worker_t *w, const char *why, bool keep)
{
    double now = segq__broker_now ();
    if (w->sched_node) {
        segq__sched_job_t *sj;
        while ((sj = segq__sched_node_running (w->sched_node))) {
            int rc = segq__jobs_lost (self->jobs, (segq__job_t *) sj, why, w->node, now);
            if (rc) {
                segq__broker_broken (self, rc, "requeue of a lost worker's job");
                segq__sched_release (self->sched, sj);
            }
        }
        segq__sched_node_destroy (self->sched, &w->sched_node);
    }
    if (w->peer)
        zhashx_delete (self->by_peer, w->peer_hex);
    zframe_destroy (&w->peer);
    w->state = SEGQ_WORKER_LOST;
    if (!keep)
        zhashx_delete (self->by_node, w->node);
}

/* ---- assignment ---- */

typedef struct {
    segq_broker_t *self;
    segq_assign_t *assign;
    int rc;
    const char *input_name;
} resolve_t;

static int
s_add_input (segq_assign_t *assign, const char *name, const char *hash, uint64_t size)
{
    segq_artifact_t *grown = realloc (assign->inputs, (assign->n_inputs + 1) * sizeof *grown);
    if (!grown)
        return SEGQ_ENOMEM;
    assign->inputs = grown;
    segq_artifact_t *input = &grown [assign->n_inputs++];
    memset (input, 0, sizeof *input);
    input->name = strdup (name);
    snprintf (input->hash, sizeof input->hash, "%s", hash);
    input->size = size;
    return input->name ? 0 : SEGQ_ENOMEM;
}

/* All outputs of a referenced job laid out under the input's name. */
static int
s_resolve_output (void *arg, const segq_artifact_t *artifact)
{
    resolve_t *resolve = arg;
    char path [2 * SEGQ_MAX_NAME + 2];
    snprintf (path, sizeof path, "%s/%s", resolve->input_name, artifact->name);
    return s_add_input (resolve->assign, path, artifact->hash, artifact->size);
}

static int
s_resolve_input (void *arg, const segq__input_row_t *row)
{
    resolve_t *resolve = arg;
    if (!row->ref_job)
        return s_add_input (resolve->assign, row->name, row->hash ? row->hash : "", row->size);
    if (!row->ref_output || strcmp (row->ref_output, "*") == 0) {
        resolve->input_name = row->name;
        return segq__job_store_outputs (resolve->self->store, row->ref_job, s_resolve_output,
                                        resolve);
    }
    segq_artifact_t output = { 0 };
    int rc = segq__job_store_output (resolve->self->store, row->ref_job, row->ref_output, &output);
    if (rc == 0)
        rc = s_add_input (resolve->assign, row->name, output.hash, output.size);
    segq_artifact_clear (&output);
    return rc;
}

/* A job started again resumes from the newest checkpoint an earlier
   attempt recorded (SPEC 8.3), a retry from that of the job it retries:
   one more input, under out/, named in `resume`. */
static int
s_add_resume (segq_broker_t *self, uint64_t number, segq_assign_t *a)
{
    segq_artifact_t checkpoint = { 0 };
    uint32_t step = 0;
    int rc = segq__job_store_checkpoint (self->store, number, &checkpoint, &step);
    if (rc == SEGQ_ENOENT)
        return 0;
    char name [SEGQ_MAX_NAME + 8];
    if (rc == 0 && (size_t) snprintf (name, sizeof name, "out/%s", checkpoint.name) < sizeof name
        && (rc = s_add_input (a, name, checkpoint.hash, checkpoint.size)) == 0
        && !(a->resume = strdup (name)))
        rc = SEGQ_ENOMEM;
    segq_artifact_clear (&checkpoint);
    return rc;
}

/* A kind that takes a catalogue model records which in its outputs
   (generate's manifest): its id and name now, whichever way the job named
   it (by name or id, or as its training's output). */
static int
s_add_model_names (segq_broker_t *self, const segq_kind_spec_t *spec, uint64_t number,
                   segq_assign_t *a)
{
    int rc = 0;
    for (size_t i = 0; spec && i < spec->n_inputs && rc == 0; i++) {
        char id [SEGQ__JOB_ID_MAX + 2], name [SEGQ_MAX_NAME];
        if (!spec->inputs [i].catalogue || !segq_kind_param (spec, "model_id"))
            continue;
        /* no model behind the input (an uploaded checkpoint): nothing to
           record; a failed read is not that, and the assignment waits */
        rc = segq__models_of_input (self->models, number, spec->inputs [i].name, id, name,
                                    sizeof name);
        if (rc == SEGQ_ENOENT) {
            rc = 0;
            continue;
        }
        if (rc)
            break;
        segq_value_t value = { .type = SEGQ_PARAM_STRING, .s = id };
        rc = segq_params_set (&a->params, "model_id", &value);
        value.s = name;
        if (rc == 0)
            rc = segq_params_set (&a->params, "model_name", &value);
    }
    return rc;
}

void
segq__broker_assign (void *arg, segq__sched_job_t *sj, segq__sched_node_t *node, int32_t gpu)
{
    segq_broker_t *self = arg;
    segq__job_t *job = (segq__job_t *) sj;
    worker_t *w = segq__sched_node_owner (node);
    if (self->broken)
        return;
    int rc = segq__jobs_start (self->jobs, job, w->node, gpu, segq__broker_now ());
    segq_msg_t *msg = rc == 0 ? segq_msg_new (SEGQ_MSG_ASSIGN) : NULL;
    if (!msg) {
        segq__broker_broken (self, rc ? rc : SEGQ_ENOMEM, "assignment");
        return;
    }
    segq_assign_t *a = &msg->u.assign;
    char id [SEGQ__JOB_ID_MAX];
    segq__job_id_format (sj->seq, id);
    a->job = strdup (id);
    a->attempt = job->attempt;
    a->kind = strdup (segq__job_kind_name (job));
    a->gpu = gpu;
    a->gpu_mem = sj->gpu_mem;
    a->cpu_slots = sj->cpu_slots;
    a->time_limit_s = job->time_limit_s;
    /* a kind without parameters (noop) has nothing stored to load */
    const segq_kind_spec_t *spec = segq_kind_find (a->kind);
    rc = !a->job || !a->kind           ? SEGQ_ENOMEM
         : spec && spec->n_params == 0 ? 0
                                       : segq__job_store_params (self->store, sj->seq, &a->params);
    if (rc == 0 && job->has_inputs) {
        resolve_t resolve = { self, a, 0, NULL };
        rc = segq__job_store_inputs (self->store, sj->seq, s_resolve_input, &resolve);
    }
    if (rc == 0)
        rc = s_add_model_names (self, spec, sj->seq, a);
    /* the worker completes an in-process kind (noop) itself: none has one */
    if (rc == 0 && !(spec && spec->in_process))
        rc = s_add_resume (self, sj->seq, a);
    if (rc) {
        segq_msg_destroy (&msg);
        segq__broker_broken (self, rc, "loading a job to assign");
        return;
    }
    segq__broker_log (self, 2, w->peer_hex, "assign %s attempt %u to %s", id, job->attempt,
                      w->node);
    segq__broker_send (self, w->peer, msg, true);
}

void
segq__broker_abort (segq_broker_t *self, worker_t *w, const char *job, uint32_t attempt,
                    const char *reason)
{
    segq_msg_t *msg = w && w->peer ? segq_msg_new (SEGQ_MSG_ABORT) : NULL;
    if (!msg)
        return;
    msg->u.abort.job = strdup (job);
    msg->u.abort.attempt = attempt;
    msg->u.abort.reason = reason ? strdup (reason) : NULL;
    segq__broker_send (self, w->peer, msg, true);
}

/* ---- registration ---- */

static int
s_worker_describe (worker_t *w, const segq_register_t *reg)
{
    for (size_t i = 0; i < w->n_gpus; i++)
        segq_gpu_clear (&w->gpus [i]);
    free (w->gpus);
    for (size_t i = 0; i < w->n_kinds; i++)
        free (w->kinds [i]);
    free (w->kinds);
    free (w->instance);
    w->gpus = NULL;
    w->kinds = NULL;
    w->instance = NULL;
    w->n_gpus = w->n_kinds = 0;
    w->cpu_slots = reg->cpu_slots;
    w->kinds_mask = 0;
    if (reg->instance && !(w->instance = strdup (reg->instance)))
        return SEGQ_ENOMEM;
    if (reg->n_gpus && !(w->gpus = calloc (reg->n_gpus, sizeof *w->gpus)))
        return SEGQ_ENOMEM;
    for (size_t i = 0; i < reg->n_gpus; i++, w->n_gpus++)
        if (segq_gpu_copy (&w->gpus [i], &reg->gpus [i]))
            return SEGQ_ENOMEM;
    if (reg->n_kinds && !(w->kinds = calloc (reg->n_kinds, sizeof *w->kinds)))
        return SEGQ_ENOMEM;
    size_t count;
    const segq_kind_spec_t *kinds = segq_kinds (&count);
    for (size_t i = 0; i < reg->n_kinds; i++) {
        if (!(w->kinds [w->n_kinds] = strdup (reg->kinds [i])))
            return SEGQ_ENOMEM;
        w->n_kinds++;
        for (size_t k = 0; k < count && k < SEGQ_SCHED_MAX_KINDS; k++)
            if (strcmp (kinds [k].name, reg->kinds [i]) == 0)
                w->kinds_mask |= 1ULL << k;
    }
    return 0;
}

static bool
s_held (const segq_register_t *reg, uint64_t number, uint32_t attempt)
{
    for (size_t i = 0; i < reg->n_held; i++)
        if (reg->held [i].attempt == attempt && segq__job_id_parse (reg->held [i].job) == number)
            return true;
    return false;
}

/* Two daemons claim one node name: w, connected elsewhere and heard from
   within the expiry, is another daemon than the one registering (their
   `inst` differ). Taking the name over would make them re-register in
   turn, each losing the other's jobs; the newcomer is refused instead.
   A reconnect or a restart of the same daemon keeps its `inst`, and a
   name whose daemon left or expired is free. */
static bool
s_node_taken (segq_broker_t *self, zframe_t *peer, const char *peer_hex, const worker_t *w,
              const segq_register_t *reg)
{
    int64_t silent = zclock_mono () - w->last_seen_mono;
    if (!w->peer || strcmp (w->peer_hex, peer_hex) == 0 || !w->instance || !reg->instance
        || strcmp (w->instance, reg->instance) == 0 || silent > (int64_t) self->config.expiry_ms)
        return false;
    const char *from = w->address [0] ? " at " : "";
    segq__broker_log (self, 0, peer_hex,
                      "refused REGISTER of node %s from daemon %s%s%s: the "
                      "live daemon %s%s%s holds that name",
                      reg->node, reg->instance, self->sender_address [0] ? " at " : "",
                      self->sender_address, w->instance, from, w->address);
    segq__broker_error (self, peer, 0, SEGQ_EEXIST,
                        "node name %s is taken by another live "
                        "worker (daemon %s%s%s, heard from %.1f s ago): use --node NAME to give "
                        "each worker on one host its own name",
                        reg->node, w->instance, from, w->address, silent / 1000.0);
    return true;
}

/* Every job the worker holds: re-adopted if it is the job's current
   running attempt, otherwise the worker must drop it. Returns how many
   were re-adopted. */
static size_t
s_readopt (segq_broker_t *self, worker_t *w, const segq_register_t *reg, double now)
{
    size_t adopted = 0;
    for (size_t i = 0; i < reg->n_held; i++) {
        const segq_job_attempt_t *held = &reg->held [i];
        uint64_t number = segq__job_id_parse (held->job);
        segq__job_t *job = number ? segq__jobs_find (self->jobs, number) : NULL;
        bool current = job && job->state == SEGQ_JOB_RUNNING && job->attempt == held->attempt
                       && (job->sched.node == w->sched_node
                           || (job->orphan_node && strcmp (job->orphan_node, w->node) == 0));
        /* requeued because this worker went quiet, but nobody got it since:
           its attempt is still the latest one handed out, so take it back;
           not another node's (it would read the job's inputs), nor one its
           owner held meanwhile */
        if (job && job->state == SEGQ_JOB_QUEUED && job->attempt == held->attempt
            && job->attempt > 0 && job->lost_from && strcmp (job->lost_from, w->node) == 0
            && !job->held) {
            int rc = segq__jobs_reclaim (self->jobs, job, w->node, now);
            if (rc) {
                segq__broker_broken (self, rc, "taking back a job");
                continue;
            }
            segq__sched_adopt (self->sched, &job->sched, w->sched_node, job->last_gpu);
            current = true;
        }
        if (!current) {
            segq__broker_abort (self, w, held->job, held->attempt, "not the job's current attempt");
            continue;
        }
        if (job->sched.node != w->sched_node) {
            segq__sched_adopt (self->sched, &job->sched, w->sched_node, job->sched.gpu);
            segq__jobs_adopt (self->jobs, job);
        }
        if (job->cancel)
            segq__broker_abort (self, w, held->job, held->attempt, job->cancel);
        adopted++;
    }
    return adopted;
}

/* The node's worker record, new or from an earlier session, bound to the
   registering connection; NULL (answered) when out of memory. */
static worker_t *
s_worker_bind (segq_broker_t *self, worker_t *w, const segq__request_t *req, double now)
{
    const segq_register_t *reg = &req->msg->u.reg;
    worker_t *other = zhashx_lookup (self->by_peer, req->peer_hex);
    if (other && other != w) {
        /* this connection was another node before: that one is gone */
        segq__broker_worker_gone (self, other, "its worker re-registered under another name",
                                  false);
    }
    if (!w) {
        w = calloc (1, sizeof *w);
        if (!w || !(w->node = strdup (reg->node))) {
            free (w);
            segq__broker_error (self, req->peer, 0, SEGQ_ENOMEM, "out of memory registering");
            return NULL;
        }
        zhashx_insert (self->by_node, w->node, w);
    }
    if (w->peer && strcmp (w->peer_hex, req->peer_hex) != 0)
        zhashx_delete (self->by_peer, w->peer_hex);
    zframe_destroy (&w->peer);
    w->peer = zframe_dup (req->peer);
    snprintf (w->peer_hex, sizeof w->peer_hex, "%s", req->peer_hex);
    snprintf (w->address, sizeof w->address, "%s", self->sender_address);
    zhashx_update (self->by_peer, w->peer_hex, w);
    w->state = reg->draining ? SEGQ_WORKER_DRAINING : SEGQ_WORKER_ACTIVE;
    w->last_seen_mono = zclock_mono ();
    w->last_seen = now;
    return w;
}

/* A new session of the same node: the jobs it still holds move over from
   the old session's scheduler node, the ones it no longer holds were lost
   with the old session. */
static void
s_move_held (segq_broker_t *self, segq__sched_node_t **old, worker_t *w, const segq_register_t *reg,
             double now)
{
    segq__sched_job_t *sj = segq__sched_node_running (*old);
    while (sj) {
        segq__sched_job_t *next = sj->next;
        segq__job_t *job = (segq__job_t *) sj;
        if (s_held (reg, sj->seq, job->attempt))
            segq__sched_adopt (self->sched, sj, w->sched_node, sj->gpu);
        else {
            int rc =
                segq__jobs_lost (self->jobs, job, "its worker re-registered without it", NULL, now);
            if (rc)
                segq__broker_broken (self, rc, "requeue on re-register");
        }
        sj = next;
    }
    segq__sched_node_destroy (self->sched, old);
}

/* The worker's GPUs (INDEX:NAME:BYTES,...) and kinds (KIND,...) as the
   store and the log keep them. */
static void
s_worker_lists (const worker_t *w, char *gpus, size_t gpus_len, char *kinds, size_t kinds_len)
{
    size_t len = 0;
    *gpus = *kinds = '\0';
    for (size_t i = 0; i < w->n_gpus && len < gpus_len; i++)
        len += (size_t) snprintf (gpus + len, gpus_len - len, "%s%u:%s:%" PRIu64, i ? "," : "",
                                  w->gpus [i].index, w->gpus [i].name, w->gpus [i].mem_total);
    len = 0;
    for (size_t i = 0; i < w->n_kinds && len < kinds_len; i++)
        len += (size_t) snprintf (kinds + len, kinds_len - len, "%s%s", i ? "," : "", w->kinds [i]);
}

static void
s_welcome (segq_broker_t *self, zframe_t *peer)
{
    segq_msg_t *welcome = segq_msg_new (SEGQ_MSG_WELCOME);
    if (welcome) {
        welcome->u.welcome.heartbeat_ms = self->config.heartbeat_ms;
        welcome->u.welcome.expiry_ms = self->config.expiry_ms;
        welcome->u.welcome.max_msg = self->config.max_msg;
        welcome->u.welcome.chunk_size = self->config.chunk_size;
        /* it promises nothing stored: it goes now, ahead of the heartbeats */
        segq__broker_send (self, peer, welcome, false);
    }
}

void
segq__broker_on_register (segq_broker_t *self, segq__request_t *req)
{
    const segq_register_t *reg = &req->msg->u.reg;
    if (!segq_user_valid (reg->node)) {
        segq__broker_error (self, req->peer, 0, SEGQ_EINVAL,
                            "REGISTER of node '%s': a node name is " SEGQ_USER_RULE,
                            reg->node ? reg->node : "");
        return;
    }
    double now = segq__broker_now ();
    worker_t *w = zhashx_lookup (self->by_node, reg->node);
    if (w && s_node_taken (self, req->peer, req->peer_hex, w, reg))
        return;
    if (!(w = s_worker_bind (self, w, req, now)))
        return;
    segq__sched_node_t *old = w->sched_node;
    w->sched_node = NULL;
    int rc = s_worker_describe (w, reg);
    if (rc == 0 && !(w->sched_node = segq__broker_worker_sched_node (self, w)))
        rc = SEGQ_ENOMEM;
    if (rc) {
        segq__broker_error (self, req->peer, 0, rc, "out of memory registering");
        if (old)
            segq__sched_node_destroy (self->sched, &old);
        segq__broker_worker_gone (self, w, "registration failed", false);
        return;
    }
    if (old)
        s_move_held (self, &old, w, reg, now);
    size_t adopted = s_readopt (self, w, reg, now);
    rc = segq__jobs_lose_orphans_of (self->jobs, w->node, now);
    if (rc)
        segq__broker_broken (self, rc, "requeue of jobs a worker no longer holds");
    char gpus [1024], kinds [1024];
    s_worker_lists (w, gpus, sizeof gpus, kinds, sizeof kinds);
    if (!self->broken && segq__job_store_begin (self->store) == 0) {
        rc = segq__job_store_worker_seen (self->store, w->node, now, w->cpu_slots, gpus, kinds);
        if (rc)
            segq__broker_broken (self, rc, "storing a worker");
    }
    s_welcome (self, req->peer);
    segq__broker_log (self, 0, req->peer_hex,
                      "worker %s registered: %u CPU slots, GPUs [%s], kinds "
                      "[%s], %zu job(s) held, %zu re-adopted%s",
                      w->node, w->cpu_slots, gpus, kinds, reg->n_held, adopted,
                      reg->draining ? ", draining" : "");
}

/* ---- a registered worker's session ---- */

/* The worker's last_seen is set as any of its messages arrives (broker.c):
   a heartbeat says nothing more. */
void
segq__broker_on_heartbeat (segq_broker_t *self, segq__request_t *req)
{
}

/* The running job that a worker message is about, if the message is from
   its current attempt on this worker; NULL (fenced) otherwise. */
static segq__job_t *
s_fenced_job (segq_broker_t *self, worker_t *w, const char *id, uint32_t attempt)
{
    uint64_t number = segq__job_id_parse (id);
    segq__job_t *job = number ? segq__jobs_find (self->jobs, number) : NULL;
    if (!job || job->state != SEGQ_JOB_RUNNING || job->attempt != attempt
        || job->sched.node != w->sched_node)
        return NULL;
    return job;
}

void
segq__broker_on_progress (segq_broker_t *self, segq__request_t *req)
{
    const segq_progress_t *progress = &req->msg->u.progress;
    worker_t *w = req->worker;
    segq__job_t *job = s_fenced_job (self, w, progress->job, progress->attempt);
    if (!job) {
        segq__broker_log (self, 2, w->peer_hex, "PROGRESS of %s attempt %u: stale, dropped",
                          progress->job, progress->attempt);
        return;
    }
    if (!job->progress && !(job->progress = calloc (1, sizeof *job->progress)))
        return;
    segq__progress_t *p = job->progress;
    p->fraction = progress->fraction;
    if (progress->phase) {
        free (p->phase);
        p->phase = strdup (progress->phase);
    }
    if (progress->message) {
        free (p->message);
        p->message = strdup (progress->message);
    }
    for (size_t i = 0; i < progress->metrics.count; i++)
        segq_params_set (&p->metrics, progress->metrics.items [i].name,
                         &progress->metrics.items [i].value);
}

/* Log lines the broker could not write (a full disk) are lost: the log
   says how much, where they were, as soon as it can be written again. */
static int
s_log_note_lost (segq_broker_t *self, segq__job_t *job, const char *id)
{
    if (!job->log_lost)
        return 0;
    char note [200];
    int len = snprintf (note, sizeof note,
                        "[segqd: %" PRIu64 " bytes of this log are lost here: the broker could not "
                        "write them (its disk was full)]\n",
                        job->log_lost);
    int rc = segq__job_log_append (self->logs, id, note, (size_t) len);
    if (rc == 0)
        job->log_lost = 0;
    return rc;
}

/* Appends to the job's log, after the note of what was lost before. */
static int
s_log_write (segq_broker_t *self, segq__job_t *job, const char *id, const void *data, size_t size)
{
    int rc = s_log_note_lost (self, job, id);
    if (rc == 0)
        rc = segq__job_log_append (self->logs, id, data, size);
    if (rc)
        job->log_lost += size;
    return rc;
}

void
segq__broker_on_log (segq_broker_t *self, segq__request_t *req)
{
    const segq_log_t *log = &req->msg->u.log;
    worker_t *w = req->worker;
    segq__job_t *job = s_fenced_job (self, w, log->job, log->attempt);
    if (!job) {
        segq__broker_log (self, 2, w->peer_hex, "LOG of %s attempt %u: stale, dropped", log->job,
                          log->attempt);
        return;
    }
    /* a resend after a reconnect may overlap what is stored */
    uint64_t end = log->offset + log->size;
    if (end <= job->log_received)
        return;
    size_t skip = log->offset < job->log_received ? (size_t) (job->log_received - log->offset) : 0;
    int rc = 0;
    if (job->log_received == 0 && log->offset == 0) {
        char header [512];
        int len =
            snprintf (header, sizeof header, "=== attempt %u on %s ===\n", log->attempt, w->node);
        rc = s_log_write (self, job, log->job, header, (size_t) len);
    }
    int data_rc = s_log_write (self, job, log->job, log->data + skip, log->size - skip);
    rc = rc ? rc : data_rc;
    if (rc)
        segq__broker_log (self, 0, w->peer_hex, "cannot write the log of %s: %s", log->job,
                          segq_strerror (rc));
    job->log_received = end;
}

static void
s_result_ack (segq_broker_t *self, worker_t *w, const segq_result_t *result, int code,
              const char *message)
{
    segq_msg_t *ack = segq_msg_new (SEGQ_MSG_RESULT_ACK);
    if (!ack)
        return;
    ack->u.result_ack.job = strdup (result->job);
    ack->u.result_ack.attempt = result->attempt;
    ack->u.result_ack.code = code;
    ack->u.result_ack.message = message ? strdup (message) : NULL;
    segq__broker_send (self, w->peer, ack, true);
}

/* A job's outputs are bytes its worker sent (or inputs it echoes): a
   worker certificate is no way to pass other jobs' data off as a job's.
   0, or EPERM with why. */
static int
s_outputs_sent_by (segq_broker_t *self, worker_t *w, const segq_result_t *result, char *refused,
                   size_t len)
{
    for (size_t i = 0; i < result->n_outputs; i++) {
        const segq_artifact_t *output = &result->outputs [i];
        if (!segq__access_worker_output (self->access, w->node, output->hash)) {
            snprintf (refused, len, "output '%s' (%s) was never uploaded by worker %s",
                      output->name ? output->name : "", output->hash, w->node);
            return SEGQ_EPERM;
        }
    }
    return 0;
}

/* An output's size is the stored artifact's: a downstream job's ASSIGN
   and every STATUS repeat it. 0, or EHASH with why. */
static int
s_outputs_sized (segq_broker_t *self, const segq_result_t *result, char *refused, size_t len)
{
    for (size_t i = 0; i < result->n_outputs; i++) {
        const segq_artifact_t *output = &result->outputs [i];
        uint64_t stored;
        if (segq__artifact_store_has (self->artifacts, output->hash, &stored)
            && stored != output->size) {
            snprintf (refused, len,
                      "output '%s' (%s) is %" PRIu64 " bytes on the broker, not the %" PRIu64
                      " the result says",
                      output->name ? output->name : "", output->hash, stored, output->size);
            return SEGQ_EHASH;
        }
    }
    return 0;
}

/* Byte order, except that '/' comes right after the end of a name: the
   paths under a name (NAME/...) sort right behind it. */
static int
s_path_rank (unsigned char c)
{
    return c == '/' ? 1 : c ? c + 1 : 0;
}

static int
s_compare_paths (const void *a, const void *b)
{
    const unsigned char *x = *(const unsigned char *const *) a;
    const unsigned char *y = *(const unsigned char *const *) b;
    while (*x && *x == *y)
        x++, y++;
    return s_path_rank (*x) - s_path_rank (*y);
}

/* Each output at a path of its own: a name twice (one would be dropped)
   or a file where another's path makes a folder (`a` and `a/b`) cannot be
   laid out by any client or job. Sorted, not compared pairwise: a
   generate job has thousands. 0, or EINVAL (ENOMEM) with why. */
static int
s_outputs_placed (const segq_result_t *result, char *refused, size_t len)
{
    if (result->n_outputs < 2)
        return 0;
    const char **names = malloc (result->n_outputs * sizeof *names);
    if (!names) {
        snprintf (refused, len, "out of memory checking the outputs' names");
        return SEGQ_ENOMEM;
    }
    for (size_t i = 0; i < result->n_outputs; i++)
        names [i] = result->outputs [i].name ? result->outputs [i].name : "";
    qsort (names, result->n_outputs, sizeof *names, s_compare_paths);
    int rc = 0;
    for (size_t i = 1; i < result->n_outputs && !rc; i++) {
        size_t n = strlen (names [i - 1]);
        if (strcmp (names [i - 1], names [i]) == 0)
            snprintf (refused, len, "output '%s' is named twice", names [i]);
        else if (strncmp (names [i - 1], names [i], n) == 0 && names [i][n] == '/')
            snprintf (refused, len, "output '%s' is a file where output '%s' makes a folder",
                      names [i - 1], names [i]);
        else
            continue;
        rc = SEGQ_EINVAL;
    }
    free (names);
    return rc;
}

/* What a successful RESULT says of its outputs holds: 0, or the code
   (EPERM, EHASH, EINVAL) with why, naming the output. */
static int
s_outputs_check (segq_broker_t *self, worker_t *w, const segq_result_t *result, char *refused,
                 size_t len)
{
    int rc = s_outputs_sent_by (self, w, result, refused, len);
    if (rc == 0)
        rc = s_outputs_sized (self, result, refused, len);
    if (rc == 0)
        rc = s_outputs_placed (result, refused, len);
    if (rc)
        segq__broker_log (self, 0, w->peer_hex, "RESULT %s refused: %s", result->job, refused);
    return rc;
}

/* The models the worker holds loaded now, for placing generate jobs. */
static void
s_note_hot (segq_broker_t *self, worker_t *w, const segq_result_t *result)
{
    segq__sched_node_t *node = w->sched_node;
    if (!node || !result->n_hot)
        return;
    segq__sched_hot_t hot [SEGQ_SCHED_MAX_HOT];
    size_t n = 0;
    for (size_t i = 0; i < result->n_hot && n < SEGQ_SCHED_MAX_HOT; i++)
        hot [n++] =
            (segq__sched_hot_t){ result->hot [i].gpu, segq__sched_key (result->hot [i].hash) };
    segq__sched_node_set_hot (node, hot, n);
}

/* What a training reported of the model it made (its last progress). */
static segq__model_shape_t
s_model_shape (const segq__job_t *job)
{
    segq__model_shape_t shape = { 0 };
    const segq_params_t *metrics = job->progress ? &job->progress->metrics : NULL;
    const char *names [] = { "scales", "height", "width", "scales_total" };
    uint32_t *fields [] = { &shape.scales, &shape.height, &shape.width, &shape.scales_total };
    for (size_t i = 0; metrics && i < 4; i++) {
        const segq_value_t *v = segq_params_get (metrics, names [i]);
        if (v && v->type == SEGQ_PARAM_FLOAT && v->f >= 0 && v->f <= UINT32_MAX)
            *fields [i] = (uint32_t) v->f;
    }
    return shape;
}

/* Whether job `number` is stored as succeeded (a cancel asked for while it
   ran ends it cancelled, whatever it reports). */
static bool
s_succeeded (segq_broker_t *self, uint64_t number)
{
    segq__job_brief_t brief;
    return segq__job_store_brief (self->store, number, &brief) == 0
           && brief.state == SEGQ_JOB_SUCCEEDED;
}

void
segq__broker_on_result (segq_broker_t *self, segq__request_t *req)
{
    const segq_result_t *result = &req->msg->u.result;
    worker_t *w = req->worker;
    segq__job_t *job = s_fenced_job (self, w, result->job, result->attempt);
    if (!job) {
        uint64_t number = segq__job_id_parse (result->job);
        segq__job_brief_t brief;
        bool known = number && segq__job_store_brief (self->store, number, &brief) == 0;
        /* the same result again (its ack was lost): already recorded */
        if (known && segq_job_state_final ((segq_job_state_t) brief.state)
            && brief.attempt == result->attempt && !segq__jobs_find (self->jobs, number)) {
            segq__metrics_result (self->metrics, SEGQ__RESULT_DUPLICATE);
            s_result_ack (self, w, result, 0, "already recorded");
            return;
        }
        char text [256];
        snprintf (text, sizeof text, "attempt %u of %s is not its current attempt%s",
                  result->attempt, result->job, known ? "" : " (unknown job)");
        segq__broker_log (self, 1, w->peer_hex, "RESULT fenced: %s", text);
        segq__metrics_result (self->metrics, SEGQ__RESULT_STALE);
        s_result_ack (self, w, result, SEGQ_ESTALE, text);
        return;
    }
    if (s_log_note_lost (self, job, result->job))
        segq__broker_log (self, 0, w->peer_hex, "the log of %s lacks lines it could not write",
                          result->job);
    /* outputs refused: the job fails with why, and the ack says so */
    char refused [2 * SEGQ_MAX_NAME + 256] = "";
    int refusal = result->success ? s_outputs_check (self, w, result, refused, sizeof refused) : 0;
    bool success = result->success && !refusal;
    /* read before finishing, which lets go of the job */
    uint64_t number = job->sched.seq;
    bool training = strcmp (segq__job_kind_name (job), "train") == 0;
    segq__model_shape_t shape = s_model_shape (job);
    segq__result_outcome_t outcome = job->cancel ? SEGQ__RESULT_CANCELLED
                                     : success   ? SEGQ__RESULT_SUCCEEDED
                                                 : SEGQ__RESULT_FAILED;
    job->measured = (segq__measured_t){ result->cpu_seconds, result->max_rss, result->gpu_peak };
    int rc = segq__jobs_finish (self->jobs, job, success, *refused ? refused : result->reason,
                                result->exit_code, result->signal, result->outputs,
                                result->n_outputs, segq__broker_now ());
    if (rc == 0 && success && training && s_succeeded (self, number))
        rc = segq__models_register (self->models, number, &shape, segq__broker_now ());
    if (rc) {
        segq__broker_broken (self, rc, "storing a result");
        return;
    }
    segq__broker_log (self, 2, w->peer_hex, "RESULT %s attempt %u: %s", result->job,
                      result->attempt, result->success ? "success" : "failure");
    s_note_hot (self, w, result);
    segq__metrics_result (self->metrics, outcome);
    s_result_ack (self, w, result, refusal, refusal ? refused : NULL);
}

static void
s_checkpoint_ack (segq_broker_t *self, worker_t *w, const segq_checkpoint_t *checkpoint, int code,
                  const char *message)
{
    segq_msg_t *ack = segq_msg_new (SEGQ_MSG_CHECKPOINT_ACK);
    if (!ack)
        return;
    ack->u.checkpoint_ack.job = strdup (checkpoint->job);
    ack->u.checkpoint_ack.attempt = checkpoint->attempt;
    ack->u.checkpoint_ack.step = checkpoint->step;
    ack->u.checkpoint_ack.code = code;
    ack->u.checkpoint_ack.message = message ? strdup (message) : NULL;
    segq__broker_send (self, w->peer, ack, true);
}

/* The newest checkpoint of a running attempt: fenced like RESULT, its
   artifact already uploaded, kept durably (the ack goes after the commit). */
void
segq__broker_on_checkpoint (segq_broker_t *self, segq__request_t *req)
{
    const segq_checkpoint_t *checkpoint = &req->msg->u.checkpoint;
    worker_t *w = req->worker;
    segq__job_t *job = s_fenced_job (self, w, checkpoint->job, checkpoint->attempt);
    char text [256];
    if (!job) {
        snprintf (text, sizeof text, "attempt %u of %s is not a running attempt of this worker",
                  checkpoint->attempt, checkpoint->job);
        segq__broker_log (self, 1, w->peer_hex, "CHECKPOINT fenced: %s", text);
        s_checkpoint_ack (self, w, checkpoint, SEGQ_ESTALE, text);
        return;
    }
    uint64_t size = 0;
    if (!segq__artifact_store_has (self->artifacts, checkpoint->hash, &size)
        || size != checkpoint->size
        || !segq__access_worker_output (self->access, w->node, checkpoint->hash)) {
        snprintf (text, sizeof text,
                  "checkpoint %s of %s is not stored here as sent by %s: "
                  "upload it first",
                  checkpoint->name, checkpoint->job, w->node);
        s_checkpoint_ack (self, w, checkpoint, SEGQ_ENOENT, text);
        return;
    }
    segq_artifact_t artifact = { .name = checkpoint->name, .size = checkpoint->size };
    memcpy (artifact.hash, checkpoint->hash, sizeof artifact.hash);
    segq_artifact_t previous = { 0 };
    int rc = segq__job_store_checkpoint (self->store, job->sched.seq, &previous, NULL);
    bool replaced = rc == 0 && strcmp (previous.hash, artifact.hash) != 0;
    if (rc == SEGQ_ENOENT)
        rc = 0;
    if (rc == 0)
        rc = segq__job_store_begin (self->store);
    if (rc == 0)
        rc = segq__job_store_set_checkpoint (self->store, job->sched.seq, checkpoint->attempt,
                                             &artifact, checkpoint->step, segq__broker_now ());
    if (rc == 0 && replaced)
        rc = segq__retention_forget (self->retention, previous.hash);
    segq_artifact_clear (&previous);
    if (rc) {
        segq__broker_broken (self, rc, "storing a checkpoint");
        return;
    }
    segq__broker_log (self, 2, w->peer_hex, "CHECKPOINT %s attempt %u: %s (step %u)",
                      checkpoint->job, checkpoint->attempt, checkpoint->name, checkpoint->step);
    s_checkpoint_ack (self, w, checkpoint, 0, NULL);
}

void
segq__broker_on_bye (segq_broker_t *self, segq__request_t *req)
{
    const segq_bye_t *bye = &req->msg->u.bye;
    worker_t *w = req->worker;
    segq__broker_log (self, 0, w->peer_hex, "worker %s left%s%s", w->node, bye->reason ? ": " : "",
                      bye->reason ? bye->reason : "");
    char why [300];
    snprintf (why, sizeof why, "worker %s left", w->node);
    segq__broker_worker_gone (self, w, why, false);
}
