/*  broker_models.c: MODEL, the catalogue of trained models (models.h).

    Listing and showing read; the other ops change a model in the turn's
    transaction and are written to the audit trail, like a purge: who
    shared which model with whom is a question a lab will be asked. */
#include "broker_internal.h"
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char *s_ops [] = {
    [SEGQ_MODEL_LIST] = "list",   [SEGQ_MODEL_SHOW] = "show",       [SEGQ_MODEL_RENAME] = "rename",
    [SEGQ_MODEL_TAG] = "tag",     [SEGQ_MODEL_UNTAG] = "untag",     [SEGQ_MODEL_NOTE] = "note",
    [SEGQ_MODEL_SHARE] = "share", [SEGQ_MODEL_UNSHARE] = "unshare", [SEGQ_MODEL_PIN] = "pin",
    [SEGQ_MODEL_UNPIN] = "unpin", [SEGQ_MODEL_RM] = "rm",
};

/* Whether the request only reads the catalogue. */
static bool
s_reads (const segq_model_t *request)
{
    return request->op == SEGQ_MODEL_LIST || request->op == SEGQ_MODEL_SHOW;
}

/* The audit event of a change (NULL for the reads). */
static json_t *
s_audit_event (segq_broker_t *self, const segq__request_t *req, const segq_model_t *request)
{
    if (s_reads (request))
        return NULL;
    json_t *event = segq__broker_audit_event (self, "model", request->user, req->peer_hex);
    segq__broker_audit_set (event, "op", s_ops [request->op]);
    segq__broker_audit_set (event, "model", request->model);
    segq__broker_audit_set (event, "value", request->value);
    json_t *users = event && request->n_users ? json_array () : NULL;
    for (size_t i = 0; users && i < request->n_users; i++)
        json_array_append_new (users, json_string (request->users [i]));
    if (users)
        json_object_set_new (event, "users", users);
    if (event && request->lab)
        json_object_set_new (event, "lab", json_true ());
    return event;
}

/* After an unshare or a removal: the generations from the model that have
   not started and whose owner may no longer use it are cancelled, saying
   why (running ones finish). */
static int
s_withdraw_generations (segq_broker_t *self, const segq_model_t *request,
                        const segq_model_info_t *model, const char *by)
{
    uint64_t training = segq__job_id_parse (model->id + 2), *jobs;
    size_t n;
    int rc = segq__models_unshared_jobs (self->models, training, &jobs, &n);
    char reason [SEGQ_MAX_NAME + 320];
    snprintf (reason, sizeof reason, "cancelled: %s %s model %s (%s) before this job started", by,
              request->op == SEGQ_MODEL_RM ? "removed" : "unshared", model->name, model->id);
    double now = segq__broker_now ();
    for (size_t i = 0; i < n && rc == 0; i++) {
        char id [SEGQ__JOB_ID_MAX];
        segq__job_id_format (jobs [i], id);
        if ((rc = segq__jobs_withdraw (self->jobs, jobs [i], reason, now)) == 0)
            segq__broker_log (self, 1, NULL, "%s %s", id, reason);
    }
    free (jobs);
    return rc;
}

void
segq__broker_on_model (segq_broker_t *self, segq__request_t *req)
{
    const segq_model_t *request = &req->msg->u.model;
    segq__caller_t caller = segq__broker_caller (self, request->user);
    if (!caller.user) {
        segq__broker_error (self, req->peer, request->req_id, SEGQ_EINVAL,
                            "MODEL names no user: say who is asking (`user`)");
        return;
    }
    json_t *event = s_audit_event (self, req, request);
    segq_msg_t *reply = segq_msg_new (SEGQ_MSG_MODEL_REPLY);
    char err [1024] = "";
    int rc = reply ? segq__models_request (self->models, &caller, request, &reply->u.model_reply,
                                           err, sizeof err)
                   : SEGQ_ENOMEM;
    if (rc == 0 && (request->op == SEGQ_MODEL_UNSHARE || request->op == SEGQ_MODEL_RM))
        rc = s_withdraw_generations (self, request, reply->u.model_reply.models, caller.user);
    if (rc) {
        if (segq__broker_store_error (rc))
            segq__broker_broken (
                self, rc, s_reads (request) ? "reading the model catalogue" : "changing a model");
        if (!*err)
            snprintf (err, sizeof err, "%s", segq_strerror (rc));
        segq__broker_log (self, 1, req->peer_hex, "MODEL %s %s by %s refused: %s",
                          s_ops [request->op], request->model ? request->model : "", caller.user,
                          err);
        segq__broker_error (self, req->peer, request->req_id, rc, "%s", err);
        segq_msg_destroy (&reply);
        if (event)
            segq__broker_audit_end (self, &event, err, false);
        return;
    }
    if (event)
        segq__broker_audit_end (self, &event, NULL, true);
    reply->u.model_reply.req_id = request->req_id;
    segq__broker_send (self, req->peer, reply, event != NULL);
}
