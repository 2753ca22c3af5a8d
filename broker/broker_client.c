/*  broker_client.c: users' requests about jobs.

    SUBMIT and ARRAY store what they make before the reply goes (the turn's
    commit), PRIORITY and CANCEL change stored jobs; STATUS, LOGS, WORKERS
    and KINDS only read. Everyone sees the queue, but a job's data (its
    inputs' and outputs' names, its log) only those the access rule lets
    read it (access.h); without keys the user a client names is taken as
    it is, with keys it is the certificate's (broker_access.c). */
#include "broker_internal.h"
#include "broker_kinds.h"
#include "retry.h"
#include "style_default.h"
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define STATUS_PAGE     100
#define STATUS_PAGE_MAX SEGQ_STATUS_MAX

void
segq__broker_on_priority (segq_broker_t *self, segq__request_t *req)
{
    const segq_priority_t *request = &req->msg->u.priority;
    zframe_t *peer = req->peer;
    char err [512] = "";
    int32_t previous = 0;
    bool admin = segq__broker_sender_is_admin (self);
    uint64_t number = segq__job_id_parse (request->job);
    int rc = number
                 ? segq__jobs_set_priority (self->jobs, number, request->priority, request->user,
                                            admin, admin || !self->auth, &previous, err, sizeof err)
                 : SEGQ_ENOENT;
    if (!number)
        segq__job_unknown (request->job, err, sizeof err);
    segq__broker_log (self, rc == SEGQ_EPERM ? 0 : 1, req->peer_hex, "PRIORITY %s %d by %s: %s",
                      request->job, (int) request->priority, request->user ? request->user : "?",
                      rc ? err : "changed");
    if (rc) {
        if (segq__broker_store_error (rc) && rc != SEGQ_ESTATE)
            segq__broker_broken (self, rc, "storing a priority");
        segq__broker_error (self, peer, request->req_id, rc, "%s", err);
        return;
    }
    segq_msg_t *reply = segq_msg_new (SEGQ_MSG_PRIORITY_REPLY);
    if (!reply)
        return;
    reply->u.priority_reply.req_id = request->req_id;
    reply->u.priority_reply.job = strdup (request->job);
    reply->u.priority_reply.priority = request->priority;
    reply->u.priority_reply.previous = previous;
    segq__broker_send (self, peer, reply, true);
}

/* A priority outside the user band orders other users' jobs: admins
 * only, where there are keys. False after refusing the submit. */
static bool
s_submit_priority_allowed (segq_broker_t *self, segq__request_t *req)
{
    const segq_submit_t *submit = &req->msg->u.submit;
    if ((submit->priority <= SEGQ_PRIORITY_USER_MAX && submit->priority >= -SEGQ_PRIORITY_USER_MAX)
        || !self->auth || segq__broker_sender_is_admin (self))
        return true;
    segq__broker_log (self, 0, req->peer_hex, "SUBMIT from %s refused: priority %d needs an admin",
                      submit->user ? submit->user : "?", (int) submit->priority);
    segq__broker_error (self, req->peer, submit->req_id, SEGQ_EPERM,
                        "priority %d is outside "
                        "-%d..%d, which orders only your own jobs: putting a job ahead of "
                        "other users' fair share needs an admin (`segq priority`)",
                        (int) submit->priority, SEGQ_PRIORITY_USER_MAX, SEGQ_PRIORITY_USER_MAX);
    return false;
}

/* The submitted job's inputs into its audit event, as named. */
static void
s_audit_inputs (json_t *event, const segq_submit_t *submit)
{
    json_t *inputs = submit->n_inputs && event ? json_array () : NULL;
    for (size_t i = 0; inputs && i < submit->n_inputs; i++) {
        const segq_input_t *input = &submit->inputs [i];
        json_t *item = json_object ();
        segq__broker_audit_set (item, "name", input->name);
        segq__broker_audit_set (item, "hash", input->hash [0] ? input->hash : NULL);
        segq__broker_audit_set (item, "job", input->job);
        segq__broker_audit_set (item, "out", input->output);
        segq__broker_audit_set (item, "model", input->model);
        json_array_append_new (inputs, item);
    }
    if (inputs)
        json_object_set_new (event, "inputs", inputs);
}

/* SUBMITTED with the job's id and the resources it got: the submit's, or
 * its kind's default. */
static void
s_reply_submitted (segq_broker_t *self, zframe_t *peer, uint64_t req_id, const char *id)
{
    segq_msg_t *reply = segq_msg_new (SEGQ_MSG_SUBMITTED);
    if (!reply)
        return;
    reply->u.submitted.req_id = req_id;
    reply->u.submitted.job = strdup (id);
    segq__job_t *job = segq__jobs_find (self->jobs, segq__job_id_parse (id));
    if (job) {
        reply->u.submitted.gpu_mem = job->sched.gpu_mem;
        reply->u.submitted.cpu_slots = job->sched.cpu_slots;
    }
    segq__broker_send (self, peer, reply, true);
}

void
segq__broker_on_submit (segq_broker_t *self, segq__request_t *req)
{
    segq_submit_t *submit = &req->msg->u.submit;
    const char *peer_hex = req->peer_hex;
    char id [SEGQ__JOB_ID_MAX], err [1024] = "";
    if (!s_submit_priority_allowed (self, req))
        return;
    segq__caller_t caller = segq__broker_caller (self, submit->user);
    /* a retry becomes the job it names, a model named by the rule its
       checkpoint, a stylize without a style gets its pairs' training
       image; then every reference is checked by the rule, and a model
       file the caller may use is read */
    int rc = segq__retry_fill (self->store, &caller, submit, err, sizeof err);
    if (rc == 0)
        rc = segq__models_resolve_submit (self->models, &caller, submit, self->config.max_msg, err,
                                          sizeof err);
    if (rc == 0)
        rc = segq__style_default_resolve (self->store, self->models, &caller, submit, err,
                                          sizeof err);
    if (rc == 0)
        rc = segq__access_submit (self->access, &caller, submit, err, sizeof err);
    if (rc == 0)
        rc = segq__generate_check_model_file (self->artifacts, submit, self->config.max_msg, err,
                                              sizeof err);
    if (rc == 0)
        rc = segq__jobs_submit (self->jobs, submit, segq__broker_now (), id, err, sizeof err);
    if (rc == 0)
        rc = segq__retry_record (self->store, submit, id, segq__broker_now ());
    json_t *event = segq__broker_audit_event (self, "submit", submit->user, peer_hex);
    segq__broker_audit_set (event, "kind", submit->kind);
    segq__broker_audit_set (event, "retry", submit->retry);
    if (rc) {
        /* ESTATE is a refusal here (a reference to a job that failed, a
           retry of one still running), not a store out of step: nothing
           was written, and the turn's other work stands */
        if (segq__broker_store_error (rc) && rc != SEGQ_ESTATE)
            segq__broker_broken (self, rc, "storing a submit");
        segq__broker_log (self, 1, peer_hex, "SUBMIT %s from %s refused: %s",
                          submit->kind ? submit->kind : "", submit->user ? submit->user : "", err);
        segq__broker_error (self, req->peer, submit->req_id, rc, "%s", err);
        segq__broker_audit_end (self, &event, err, false);
        return;
    }
    segq__broker_audit_set (event, "job", id);
    s_audit_inputs (event, submit);
    segq__broker_audit_end (self, &event, NULL, true);
    segq__broker_log (self, 2, peer_hex, "SUBMIT %s: job %s", submit->kind, id);
    segq__metrics_submit (self->metrics);
    s_reply_submitted (self, req->peer, submit->req_id, id);
}

static int
s_u64_order (const void *a, const void *b)
{
    uint64_t x = *(const uint64_t *) a, y = *(const uint64_t *) b;
    return x < y ? -1 : x > y;
}

#define MAX_ARRAY_JOBS 100000

/* The jobs an ARRAY names, into row->jobs: each the sender's own, none
   twice. */
static int
s_array_jobs (segq_broker_t *self, const segq_array_t *array, segq__array_row_t *row, char *err,
              size_t errlen)
{
    row->jobs = calloc (array->n_jobs, sizeof *row->jobs);
    uint64_t *sorted = calloc (array->n_jobs, sizeof *sorted);
    int rc = row->jobs && sorted ? 0 : SEGQ_ENOMEM;
    for (size_t i = 0; i < array->n_jobs && rc == 0; i++) {
        segq__job_brief_t brief;
        uint64_t number = segq__job_id_parse (array->jobs [i]);
        rc = number ? segq__job_store_brief (self->store, number, &brief) : SEGQ_ENOENT;
        if (rc == SEGQ_ENOENT)
            segq__job_unknown (array->jobs [i], err, errlen);
        else if (rc == 0 && strcmp (brief.owner, array->user) != 0) {
            snprintf (err, errlen, "job %s belongs to %s: an array holds only your own jobs",
                      array->jobs [i], brief.owner);
            rc = SEGQ_EPERM;
        }
        row->jobs [i] = sorted [i] = number;
    }
    if (rc == 0) {
        qsort (sorted, array->n_jobs, sizeof *sorted, s_u64_order);
        for (size_t i = 1; i < array->n_jobs && rc == 0; i++)
            if (sorted [i] == sorted [i - 1]) {
                char job [SEGQ__JOB_ID_MAX];
                segq__job_id_format (sorted [i], job);
                snprintf (err, errlen, "job %s is named twice", job);
                rc = SEGQ_EINVAL;
            }
    }
    free (sorted);
    row->n_jobs = array->n_jobs;
    return rc;
}

/* A new job array of the sender's jobs, stored (before the reply, like a
   submit) as *id. */
static int
s_array_make (segq_broker_t *self, const segq_array_t *array, segq__array_row_t *row, uint64_t *id,
              char *err, size_t errlen)
{
    if (!array->user || !*array->user) {
        snprintf (err, errlen, "ARRAY without a user name");
        return SEGQ_EINVAL;
    }
    if (array->n_jobs > MAX_ARRAY_JOBS) {
        snprintf (err, errlen, "a job array holds at most %d jobs, not %zu", MAX_ARRAY_JOBS,
                  array->n_jobs);
        return SEGQ_ETOOBIG;
    }
    int rc = s_array_jobs (self, array, row, err, errlen);
    row->created = segq__broker_now ();
    snprintf (row->owner, sizeof row->owner, "%s", array->user);
    if (rc == 0) {
        rc = segq__job_store_insert_array (self->store, array->user, row->created, row->jobs,
                                           row->n_jobs, id);
        if (rc)
            segq__broker_broken (self, rc, "storing a job array");
    }
    return rc;
}

/* ARRAY_REPLY for array id and its row; NULL when out of memory. */
static segq_msg_t *
s_array_reply (uint64_t req_id, uint64_t id, const segq__array_row_t *row)
{
    segq_msg_t *reply = segq_msg_new (SEGQ_MSG_ARRAY_REPLY);
    if (!reply)
        return NULL;
    segq_array_reply_t *r = &reply->u.array_reply;
    char text [SEGQ__ARRAY_ID_MAX];
    segq__array_id_format (id, text);
    r->req_id = req_id;
    r->created = row->created;
    bool ok = (r->array = strdup (text)) && (r->owner = strdup (row->owner))
              && (!row->n_jobs || (r->jobs = calloc (row->n_jobs, sizeof *r->jobs)));
    for (size_t i = 0; ok && i < row->n_jobs; i++) {
        char job [SEGQ__JOB_ID_MAX];
        segq__job_id_format (row->jobs [i], job);
        ok = (r->jobs [i] = strdup (job)) != NULL;
        r->n_jobs = i + 1;
    }
    if (!ok)
        segq_msg_destroy (&reply);
    return reply;
}

/* s_array_make with its audit event: a restore reads the array ids given
   before from the audit log when the old database cannot tell. */
static int
s_array_make_audited (segq_broker_t *self, const segq__request_t *req, segq__array_row_t *row,
                      uint64_t *id, char *err, size_t errlen)
{
    const segq_array_t *array = &req->msg->u.array;
    json_t *event = segq__broker_audit_event (self, "array", array->user, req->peer_hex);
    int rc = s_array_make (self, array, row, id, err, errlen);
    char text [SEGQ__ARRAY_ID_MAX];
    segq__array_id_format (*id, text);
    segq__broker_audit_set (event, "job", rc == 0 ? text : NULL);
    segq__broker_audit_end (self, &event, rc ? err : NULL, rc == 0);
    return rc;
}

/* ARRAY: make a job array of the sender's jobs, or look one up. */
void
segq__broker_on_array (segq_broker_t *self, segq__request_t *req)
{
    const segq_array_t *array = &req->msg->u.array;
    char err [512] = "";
    int rc = 0;
    segq__array_row_t row = { 0 };
    uint64_t id = 0;
    if (array->array) {
        id = segq__array_id_parse (array->array);
        rc = id ? segq__job_store_array (self->store, id, &row) : SEGQ_ENOENT;
        if (rc == SEGQ_ENOENT)
            snprintf (err, sizeof err, "unknown job array '%s'", array->array);
    } else
        rc = s_array_make_audited (self, req, &row, &id, err, sizeof err);
    segq_msg_t *reply = rc == 0 ? s_array_reply (array->req_id, id, &row) : NULL;
    if (rc == 0 && !reply) {
        rc = SEGQ_ENOMEM;
        snprintf (err, sizeof err, "out of memory");
    }
    segq__array_row_clear (&row);
    if (rc) {
        segq__broker_log (self, 1, req->peer_hex, "ARRAY refused: %s", err);
        segq__broker_error (self, req->peer, array->req_id, rc, "%s",
                            *err ? err : segq_strerror (rc));
        return;
    }
    if (!array->array)
        segq__broker_log (self, 2, req->peer_hex, "ARRAY: %s of %zu jobs",
                          reply->u.array_reply.array, reply->u.array_reply.n_jobs);
    segq__broker_send (self, req->peer, reply, !array->array);
}

/* Why a queued job has not started, in words; "" when it only waits its
   turn for capacity that exists. The checks go from what only an admin
   can change (workers) to what frees up by itself. */
static void
s_queued_reason (segq_broker_t *self, const segq__job_t *job, char *text, size_t len)
{
    const segq__sched_job_t *sj = &job->sched;
    segq__sched_limits_t limits = segq__sched_user_limits (sj->user);
    char need [32], have [32];
    if (!segq__sched_runs_kind (self->sched, sj->kind))
        snprintf (text, len, "no connected worker runs %s", segq__job_kind_name (job));
    else if (sj->gpu_mem && !segq__sched_fits_total (self->sched, sj)) {
        uint64_t largest = segq__sched_largest_gpu (self->sched, sj->kind);
        segq_format_size (sj->gpu_mem, need, sizeof need);
        segq_format_size (largest, have, sizeof have);
        if (largest >= sj->gpu_mem)
            snprintf (text, len, "needs %s GPU memory and %u CPU slots: no worker has both", need,
                      sj->cpu_slots);
        else if (largest)
            snprintf (text, len, "needs %s GPU memory; the largest connected GPU has %s", need,
                      have);
        else
            snprintf (text, len, "needs %s GPU memory; no connected worker has a GPU", need);
    } else if (!segq__sched_fits_total (self->sched, sj)) {
        uint32_t largest = segq__sched_largest_cpu (self->sched, sj->kind);
        if (largest)
            snprintf (text, len, "needs %u CPU slots; the largest worker offers %u", sj->cpu_slots,
                      largest);
        else
            snprintf (text, len, "no worker offers CPU slots");
    } else if (!segq__sched_fits_accepting (self->sched, sj))
        snprintf (text, len,
                  "the workers that could run it are draining: it waits for one that takes "
                  "new jobs");
    else if (segq__sched_user_running (sj->user) >= limits.max_running)
        snprintf (text, len, "user limit max_running=%" PRIu64 " reached", limits.max_running);
    else if (sj->gpu_mem && limits.max_gpu_mem != SEGQ_SCHED_UNLIMITED
             && segq__sched_user_gpu_mem (sj->user) + sj->gpu_mem > limits.max_gpu_mem) {
        segq_format_size (limits.max_gpu_mem, need, sizeof need);
        segq_format_size (segq__sched_user_gpu_mem (sj->user), have, sizeof have);
        snprintf (text, len, "user limit max_gpu_mem=%s reached (running jobs hold %s)", need,
                  have);
    } else if (sj->gpu_mem) {
        segq_format_size (sj->gpu_mem, need, sizeof need);
        snprintf (text, len, "waiting for a GPU with %s free", need);
    } else
        snprintf (text, len, "waiting for %u free CPU slot%s", sj->cpu_slots,
                  sj->cpu_slots == 1 ? "" : "s");
}

/* A waiting job's first unfinished dependency, by id. */
static void
s_waiting_reason (segq_broker_t *self, const segq__job_t *job, char *text, size_t len)
{
    uint64_t on_job;
    uint32_t count;
    if (segq__job_store_first_pending_dep (self->store, job->sched.seq, &on_job, &count) != 0) {
        snprintf (text, len, "waiting for %u job(s) it depends on", job->n_pending);
        return;
    }
    char id [SEGQ__JOB_ID_MAX];
    segq__job_id_format (on_job, id);
    if (count > 1)
        snprintf (text, len, "waiting for %s and %u more", id, count - 1);
    else
        snprintf (text, len, "waiting for %s", id);
}

/* What a queued or waiting job waits for, in words. */
/* An ended job's message: the job that retried it, and where its outputs
   went. */
static void
s_ended_message (segq_broker_t *self, uint64_t number, segq_job_info_t *info)
{
    char text [400] = "", purged [256];
    uint64_t retry = info->state == SEGQ_JOB_FAILED || info->state == SEGQ_JOB_CANCELLED
                         ? segq__job_store_newest_retry (self->store, number)
                         : 0;
    if (retry) {
        char id [SEGQ__JOB_ID_MAX];
        segq__job_id_format (retry, id);
        snprintf (text, sizeof text, "retried as %s", id);
    }
    if (segq__retention_purged (self->retention, number, purged, sizeof purged))
        snprintf (text + strlen (text), sizeof text - strlen (text), "%sartifacts %s",
                  *text ? "; " : "", purged);
    if (*text) {
        free (info->message);
        info->message = strdup (text);
    }
}

static void
s_overlay (segq_broker_t *self, segq_job_info_t *info)
{
    /* Progress is kept in memory while a job runs only; a job that
       succeeded has, by definition, done all of its work. */
    if (info->state == SEGQ_JOB_SUCCEEDED)
        info->fraction = 1.0;
    uint64_t number = segq__job_id_parse (info->id);
    segq__job_t *job = segq__jobs_find (self->jobs, number);
    if (!job) {
        s_ended_message (self, number, info);
        return;
    }
    char text [512] = "";
    if (job->held && job->state <= SEGQ_JOB_QUEUED)
        snprintf (text, sizeof text, "held (segq release %s)", info->id);
    else if (job->state == SEGQ_JOB_QUEUED)
        s_queued_reason (self, job, text, sizeof text);
    else if (job->state == SEGQ_JOB_WAITING)
        s_waiting_reason (self, job, text, sizeof text);
    else if (job->state == SEGQ_JOB_RUNNING && job->orphan_node)
        snprintf (text, sizeof text, "waiting for worker %s to come back", job->orphan_node);
    else if (job->state == SEGQ_JOB_RUNNING && job->progress) {
        info->fraction = job->progress->fraction;
        info->phase = job->progress->phase ? strdup (job->progress->phase) : NULL;
        if (job->progress->message)
            snprintf (text, sizeof text, "%s", job->progress->message);
        segq_params_copy (&info->metrics, &job->progress->metrics);
    }
    if (*text)
        info->message = strdup (text);
}

/* Everyone sees the queue (who runs what, and how far), but a job's data
   (its inputs' and outputs' names and hashes, its parameters, its losses)
   only those who may read it: a file name can be a patient's, and so can
   a model's name, which defaults to its training image's. */
static void
s_hide_data (const segq__caller_t *caller, segq_job_info_t *info)
{
    if (segq__access_owner (caller, info->owner))
        return;
    segq_params_clear (&info->metrics);
    for (size_t i = 0; i < info->n_inputs; i++)
        segq_input_clear (&info->inputs [i]);
    for (size_t i = 0; i < info->n_outputs; i++)
        segq_artifact_clear (&info->outputs [i]);
    free (info->inputs);
    free (info->outputs);
    info->inputs = NULL;
    info->outputs = NULL;
    info->n_inputs = info->n_outputs = 0;
    segq_params_clear (&info->params);
    /* what the job itself said is part of its log: a failure's reason
       ends with its last line of output, a running job's message is its
       progress text; the state (and a waiting job's reason) stay */
    free (info->reason);
    info->reason = NULL;
    /* the history's reasons too: a failure's is the same text */
    for (size_t i = 0; i < info->n_history; i++) {
        free (info->history [i].reason);
        info->history [i].reason = NULL;
    }
    if (info->state == SEGQ_JOB_RUNNING) {
        free (info->message);
        info->message = NULL;
    }
}

int
segq__broker_job_view (segq_broker_t *self, const segq__caller_t *caller, uint64_t number,
                       bool detail, segq_job_info_t *info)
{
    int rc = segq__job_store_info (self->store, number, detail, info);
    if (rc == 0) {
        s_overlay (self, info);
        s_hide_data (caller, info);
    }
    return rc;
}

void
segq__broker_status_answer (segq_broker_t *self, zframe_t *peer, uint64_t req_id,
                            const segq__caller_t *caller, const uint64_t *ids, size_t count,
                            bool detail, const char *cursor)
{
    segq_msg_t *reply = segq_msg_new (SEGQ_MSG_STATUS_REPLY);
    if (!reply)
        return;
    segq_status_reply_t *r = &reply->u.status_reply;
    r->req_id = req_id;
    int rc = 0;
    if (cursor && !(r->cursor = strdup (cursor)))
        rc = SEGQ_ENOMEM;
    if (rc == 0 && count && !(r->jobs = calloc (count, sizeof *r->jobs)))
        rc = SEGQ_ENOMEM;
    for (size_t i = 0; i < count && rc == 0; i++) {
        rc = segq__broker_job_view (self, caller, ids [i], detail, &r->jobs [i]);
        r->n_jobs++;
    }
    if (rc) {
        segq_msg_destroy (&reply);
        segq__broker_error (self, peer, req_id, rc, "cannot read the jobs: %s", segq_strerror (rc));
        return;
    }
    segq__broker_send (self, peer, reply, false);
}

/* The jobs a STATUS names, or a page of the listing it asks for, into
   ids; cursor: where the next page starts, "" if none. An error is
   answered here (false). */
static bool
s_status_ids (segq_broker_t *self, zframe_t *peer, const segq_status_t *status, uint64_t *ids,
              size_t *count, char cursor [SEGQ__JOB_ID_MAX])
{
    *count = 0;
    *cursor = 0;
    /* one rule for jobs named and a page asked for: more is refused, not cut */
    if (status->n_jobs > STATUS_PAGE_MAX || status->limit > STATUS_PAGE_MAX) {
        bool named = status->n_jobs > STATUS_PAGE_MAX;
        segq__broker_error (self, peer, status->req_id, SEGQ_ETOOBIG,
                            "%s %zu jobs: a status "
                            "request takes at most %d (%s)",
                            named ? "named" : "a page of",
                            named ? status->n_jobs : (size_t) status->limit, STATUS_PAGE_MAX,
                            named ? "name them in several requests"
                                  : "page on with the reply's cursor");
        return false;
    }
    for (size_t i = 0; i < status->n_jobs; i++) {
        ids [i] = segq__job_id_parse (status->jobs [i]);
        segq__job_brief_t brief;
        if (!ids [i] || segq__job_store_brief (self->store, ids [i], &brief)) {
            char unknown [SEGQ_MAX_NAME + 128];
            segq__job_unknown (status->jobs [i], unknown, sizeof unknown);
            segq__broker_error (self, peer, status->req_id, SEGQ_ENOENT, "%s", unknown);
            return false;
        }
        *count = i + 1;
    }
    if (status->n_jobs)
        return true;
    uint32_t limit = status->limit ? status->limit : STATUS_PAGE;
    uint64_t after = 0;
    if (status->cursor && !(after = segq__job_id_parse (status->cursor))) {
        segq__broker_error (self, peer, status->req_id, SEGQ_EINVAL, "bad cursor '%s'",
                            status->cursor);
        return false;
    }
    int rc = status->newest ? segq__job_store_list_newest (self->store, after, status->user,
                                                           status->state, limit + 1, ids, count)
                            : segq__job_store_list (self->store, after, status->user, status->state,
                                                    limit + 1, ids, count);
    if (rc) {
        segq__broker_error (self, peer, status->req_id, rc, "cannot read the jobs: %s",
                            segq_strerror (rc));
        return false;
    }
    if (*count > limit) {
        *count = limit;
        segq__job_id_format (ids [*count - 1], cursor);
    }
    return true;
}

void
segq__broker_on_status (segq_broker_t *self, segq__request_t *req)
{
    const segq_status_t *status = &req->msg->u.status;
    uint64_t ids [STATUS_PAGE_MAX + 1];
    size_t count;
    char cursor [SEGQ__JOB_ID_MAX];
    if (!s_status_ids (self, req->peer, status, ids, &count, cursor))
        return;
    segq__caller_t caller = segq__broker_caller (self, status->caller);
    if (status->n_jobs
        && segq__broker_waiters_park (self, req->peer, status->req_id, &caller, ids, count,
                                      status->detail, status->wait_ms))
        return;
    segq__broker_status_answer (self, req->peer, status->req_id, &caller, ids, count,
                                status->detail, *cursor ? cursor : NULL);
}

static worker_t *
s_job_worker (segq__job_t *job)
{
    return job->sched.node ? segq__sched_node_owner (job->sched.node) : NULL;
}

void
segq__broker_on_cancel (segq_broker_t *self, segq__request_t *req)
{
    const segq_cancel_t *cancel = &req->msg->u.cancel;
    const char *peer_hex = req->peer_hex;
    if (!segq__broker_job_list_ok (self, req->peer, cancel->req_id, "cancel", cancel->jobs,
                                   cancel->n_jobs))
        return;
    segq_msg_t *reply = segq_msg_new (SEGQ_MSG_CANCEL_REPLY);
    if (!reply)
        return;
    segq_cancel_reply_t *r = &reply->u.cancel_reply;
    r->req_id = cancel->req_id;
    if (cancel->n_jobs && !(r->results = calloc (cancel->n_jobs, sizeof *r->results))) {
        segq_msg_destroy (&reply);
        return;
    }
    double now = segq__broker_now ();
    for (size_t i = 0; i < cancel->n_jobs; i++) {
        segq_cancel_result_t *result = &r->results [r->n_results++];
        result->job = strdup (cancel->jobs [i]);
        uint64_t number = segq__job_id_parse (cancel->jobs [i]);
        char err [512] = "";
        bool abort = false;
        /* an admin cancels in the owner's stead */
        segq__job_brief_t brief;
        const char *as = cancel->user;
        if (segq__broker_sender_is_admin (self) && number
            && segq__job_store_brief (self->store, number, &brief) == 0)
            as = brief.owner;
        int rc = number ? segq__jobs_cancel (self->jobs, number, as, now, &abort, err, sizeof err)
                        : SEGQ_ENOENT;
        if (!number)
            segq__job_unknown (cancel->jobs [i], err, sizeof err);
        if (segq__broker_store_error (rc) && rc != SEGQ_ESTATE)
            segq__broker_broken (self, rc, "storing a cancel");
        result->code = rc;
        result->message = *err ? strdup (err) : NULL;
        json_t *event = segq__broker_audit_event (self, "cancel", cancel->user, peer_hex);
        segq__broker_audit_set (event, "job", cancel->jobs [i]);
        segq__broker_audit_end (self, &event, rc ? err : NULL, rc == 0);
        if (abort) {
            segq__job_t *job = segq__jobs_find (self->jobs, number);
            if (job)
                segq__broker_abort (self, s_job_worker (job), cancel->jobs [i], job->attempt,
                                    job->cancel);
        }
        segq__broker_log (self, rc == SEGQ_EPERM ? 0 : 1, peer_hex, "CANCEL %s by %s: %s",
                          cancel->jobs [i], cancel->user ? cancel->user : "?",
                          rc      ? err
                          : abort ? "worker told"
                                  : "cancelled");
    }
    segq__broker_send (self, req->peer, reply, true);
}

void
segq__broker_on_logs (segq_broker_t *self, segq__request_t *req)
{
    const segq_logs_t *logs = &req->msg->u.logs;
    zframe_t *peer = req->peer;
    uint64_t number = segq__job_id_parse (logs->job);
    segq__job_brief_t brief;
    segq__caller_t caller = segq__broker_caller (self, logs->user);
    char why [512], purged [256];
    int rc = segq__access_job (self->access, &caller, number, logs->job, why, sizeof why);
    if (rc == 0)
        rc = segq__job_store_brief (self->store, number, &brief);
    /* a purge takes the log with the outputs: said, not an empty log */
    if (rc == 0 && segq__retention_purged (self->retention, number, purged, sizeof purged)) {
        snprintf (why, sizeof why, "the log of job %s was %s with its outputs: it is gone",
                  logs->job, purged);
        rc = SEGQ_ENOENT;
    }
    if (rc) {
        if (rc == SEGQ_EPERM)
            segq__broker_log (self, 0, req->peer_hex, "refused LOGS to %s: %s",
                              caller.user ? caller.user : "?", why);
        segq__broker_error (self, peer, logs->req_id, rc, "%s", why);
        return;
    }
    size_t cap = self->config.max_msg / 2;
    size_t max = logs->max_bytes && logs->max_bytes < cap ? logs->max_bytes : cap;
    segq_msg_t *reply = segq_msg_new (SEGQ_MSG_LOGS_REPLY);
    if (!reply)
        return;
    segq_logs_reply_t *r = &reply->u.logs_reply;
    uint64_t total;
    rc = segq__job_log_read (self->logs, logs->job, logs->offset, max, &r->data, &r->size, &total);
    if (rc) {
        segq_msg_destroy (&reply);
        segq__broker_error (self, peer, logs->req_id, rc, "cannot read the log of %s", logs->job);
        return;
    }
    r->req_id = logs->req_id;
    r->job = strdup (logs->job);
    r->offset = logs->offset;
    r->complete = !segq__jobs_find (self->jobs, number)
                  && segq_job_state_final ((segq_job_state_t) brief.state)
                  && logs->offset + r->size >= total;
    segq__broker_send (self, peer, reply, false);
}

void
segq__broker_on_kinds (segq_broker_t *self, segq__request_t *req)
{
    const segq_kinds_t *kinds = &req->msg->u.kinds;
    zframe_t *peer = req->peer;
    segq_msg_t *reply;
    char err [512];
    int rc = segq__kinds_reply (kinds->req_id, &reply, err, sizeof err);
    if (rc)
        segq__broker_error (self, peer, kinds->req_id, rc, "%s", err);
    else
        segq__broker_send (self, peer, reply, false);
}

void
segq__broker_on_workers (segq_broker_t *self, segq__request_t *req)
{
    const segq_workers_t *workers = &req->msg->u.workers;
    zframe_t *peer = req->peer;
    segq_msg_t *reply = segq_msg_new (SEGQ_MSG_WORKERS_REPLY);
    if (!reply)
        return;
    segq_workers_reply_t *r = &reply->u.workers_reply;
    r->req_id = workers->req_id;
    size_t n = zhashx_size (self->by_node);
    r->workers = n ? calloc (n, sizeof *r->workers) : NULL;
    int rc = n && !r->workers ? SEGQ_ENOMEM : 0;
    for (worker_t *w = zhashx_first (self->by_node); w && rc == 0; w = zhashx_next (self->by_node))
        rc = segq__broker_worker_info (self, w, &r->workers [r->n_workers++]);
    if (rc) {
        segq_msg_destroy (&reply);
        segq__broker_error (self, peer, workers->req_id, rc, "out of memory listing workers");
        return;
    }
    segq__broker_send (self, peer, reply, false);
}

int
segq__broker_worker_info (segq_broker_t *self, worker_t *w, segq_worker_info_t *info)
{
    int rc = (info->node = strdup (w->node)) ? 0 : SEGQ_ENOMEM;
    info->state = w->state;
    info->cpu_slots = w->cpu_slots;
    info->cpu_used = w->sched_node ? segq__sched_node_cpu_used (w->sched_node) : 0;
    info->last_seen = w->last_seen;
    info->version = SEGQ_PROTO_VERSION;
    if (w->n_gpus && !(info->gpus = calloc (w->n_gpus, sizeof *info->gpus)))
        rc = SEGQ_ENOMEM;
    for (size_t g = 0; g < w->n_gpus && rc == 0; g++) {
        segq_gpu_t *gpu = &info->gpus [info->n_gpus++];
        rc = segq_gpu_copy (gpu, &w->gpus [g]);
        gpu->mem_used = w->sched_node ? segq__sched_node_gpu_used (w->sched_node, gpu->index) : 0;
    }
    if (w->n_kinds && rc == 0 && !(info->kinds = calloc (w->n_kinds, sizeof *info->kinds)))
        rc = SEGQ_ENOMEM;
    for (size_t k = 0; k < w->n_kinds && rc == 0; k++)
        info->kinds [info->n_kinds++] = strdup (w->kinds [k]);
    size_t running = 0;
    segq__sched_job_t *sj = w->sched_node ? segq__sched_node_running (w->sched_node) : NULL;
    for (segq__sched_job_t *j = sj; j; j = j->next)
        running++;
    if (running && rc == 0 && !(info->running = calloc (running, sizeof *info->running)))
        rc = SEGQ_ENOMEM;
    for (segq__sched_job_t *j = sj; j && rc == 0; j = j->next) {
        char id [SEGQ__JOB_ID_MAX];
        segq__job_id_format (j->seq, id);
        info->running [info->n_running++] = strdup (id);
    }
    return rc;
}
