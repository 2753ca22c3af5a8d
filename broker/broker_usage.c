/*  broker_usage.c: what users may use and have used. HOLD and release
    keep jobs out of the scheduler; USAGE reads the accounting (every run
    that ended, accounting.h) with fair share's view of each user beside
    it; a reload (SIGHUP) re-reads the per-user limits. */
#include "broker_internal.h"
#include "segq_notify.h"
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Slurm's default PriorityDecayHalfLife. */
#define DEFAULT_HALF_LIFE_S (7 * 24 * 3600.0)

double
segq__broker_half_life (const segq_broker_t *self)
{
    double configured = self->config.fairshare_half_life_s;
    return configured == 0 ? DEFAULT_HALF_LIFE_S : configured > 0 ? configured : 0;
}

/* One job's hold or release; an admin acts in the owner's stead. */
static void
s_hold_one (segq_broker_t *self, const char *peer_hex, const segq_hold_t *hold, size_t i,
            segq_cancel_result_t *result)
{
    char err [512] = "";
    uint64_t number = segq__job_id_parse (hold->jobs [i]);
    bool admin = segq__broker_sender_is_admin (self);
    int rc = number ? segq__jobs_hold (self->jobs, number, hold->release, hold->user, admin, err,
                                       sizeof err)
                    : SEGQ_ENOENT;
    if (!number)
        segq__job_unknown (hold->jobs [i], err, sizeof err);
    if (segq__broker_store_error (rc) && rc != SEGQ_ESTATE)
        segq__broker_broken (self, rc, "storing a hold");
    result->code = rc;
    result->message = *err ? strdup (err) : NULL;
    json_t *event =
        segq__broker_audit_event (self, hold->release ? "release" : "hold", hold->user, peer_hex);
    segq__broker_audit_set (event, "job", hold->jobs [i]);
    segq__broker_audit_end (self, &event, rc ? err : NULL, rc == 0);
    segq__broker_log (self, rc == SEGQ_EPERM ? 0 : 1, peer_hex, "%s %s by %s: %s",
                      hold->release ? "RELEASE" : "HOLD", hold->jobs [i],
                      hold->user ? hold->user : "?", rc ? err : "done");
}

void
segq__broker_on_hold (segq_broker_t *self, segq__request_t *req)
{
    const segq_hold_t *hold = &req->msg->u.hold;
    if (!segq__broker_job_list_ok (self, req->peer, hold->req_id,
                                   hold->release ? "release" : "hold", hold->jobs, hold->n_jobs))
        return;
    segq_msg_t *reply = segq_msg_new (SEGQ_MSG_HOLD_REPLY);
    if (!reply)
        return;
    segq_hold_reply_t *r = &reply->u.hold_reply;
    r->req_id = hold->req_id;
    if (hold->n_jobs && !(r->results = calloc (hold->n_jobs, sizeof *r->results))) {
        segq_msg_destroy (&reply);
        return;
    }
    for (size_t i = 0; i < hold->n_jobs; i++) {
        segq_cancel_result_t *result = &r->results [r->n_results++];
        result->job = strdup (hold->jobs [i]);
        s_hold_one (self, req->peer_hex, hold, i, result);
    }
    segq__broker_send (self, req->peer, reply, true);
}

int
segq__broker_usage (segq_broker_t *self, const segq_usage_t *request, segq_usage_row_t **rows,
                    size_t *n_rows, char *err, size_t errlen)
{
    int rc = segq__accounting_query (self->store, request, rows, n_rows, err, errlen);
    if (rc)
        return rc;
    /* beside what runs used: how fair share weighs each user now */
    segq__sched_set_now (self->sched, segq__broker_now ());
    for (size_t i = 0; request->by == SEGQ_USAGE_BY_USER && i < *n_rows; i++) {
        segq__sched_user_t *user = segq__sched_user (self->sched, (*rows) [i].key);
        (*rows) [i].fairshare = user ? segq__sched_user_usage (self->sched, user) : 0;
    }
    return 0;
}

void
segq__broker_on_usage (segq_broker_t *self, segq__request_t *req)
{
    const segq_usage_t *usage = &req->msg->u.usage;
    segq_msg_t *reply = segq_msg_new (SEGQ_MSG_USAGE_REPLY);
    if (!reply)
        return;
    segq_usage_reply_t *r = &reply->u.usage_reply;
    r->req_id = usage->req_id;
    r->half_life_s = segq__broker_half_life (self);
    char err [512] = "";
    int rc = segq__broker_usage (self, usage, &r->rows, &r->n_rows, err, sizeof err);
    if (rc) {
        segq_msg_destroy (&reply);
        segq__broker_error (self, req->peer, usage->req_id, rc, "%s", err);
        return;
    }
    segq__broker_send (self, req->peer, reply, false);
}

void
segq__broker_reload (segq_broker_t *self)
{
    const char *path = self->config.config_file;
    if (!path) {
        segq__broker_log (self, 0, NULL,
                          "reload asked, but segqd was started without a "
                          "configuration file: nothing to re-read");
        return;
    }
    (void) segq_notify (SEGQ_NOTIFY_RELOADING, "re-reading %s", path);
    char err [4096] = "";
    segq_config_t *fresh = segq_config_new ();
    int rc = fresh ? segq_config_load (fresh, path, err, sizeof err) : SEGQ_ENOMEM;
    if (rc) {
        segq__broker_log (self, 0, NULL, "reload of %s refused, the limits stay as they were: %s",
                          path, *err ? err : segq_strerror (rc));
        segq_config_destroy (&fresh);
        (void) segq_notify (SEGQ_NOTIFY_READY, "serving; the reload of %s was refused", path);
        return;
    }
    /* limits and kinds' resources follow at once; the broker settings in
       the file (bind, data_dir, ...) need a restart */
    segq__jobs_set_limits (self->jobs, fresh);
    self->config.limits = fresh;
    segq_config_destroy (&self->reloaded);
    self->reloaded = fresh;
    char changed [1024];
    size_t n = segq_config_settings_changed (self->given, fresh, changed, sizeof changed);
    segq__broker_log (self, 0, NULL,
                      "reloaded the per-user limits and kinds' resources from %s%s%s%s", path,
                      n ? "; changed there, but only a restart applies: " : "",
                      n ? changed : " (its other settings are as segqd started)",
                      n ? " (systemctl restart segqd)" : "");
    (void) segq_notify (SEGQ_NOTIFY_READY, "serving; limits reloaded from %s", path);
}
