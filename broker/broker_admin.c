/*  broker_admin.c: the broker's care of its workers and its data.

    DRAIN stops a worker taking new jobs (an admin's act, with keys). The
    rest is patient data: PURGE removes a job's artifacts and log at its
    owner's or an admin's asking, retention does the same for jobs ended
    longer ago than it keeps them (a bounded batch per timer tick, so
    dispatch is never held up for long), and BACKUP copies the database
    between turns, a few pages per tick, while the broker keeps serving.
    Each is written to the audit trail. */
#include "broker_internal.h"
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define SWEEP_MAX      1024 /* jobs retention may purge per timer tick ... */
#define SWEEP_MS       5    /* ... and the time it may take */
#define BACKUP_PAGES   256  /* database pages copied per backup step ... */
#define BACKUP_TICK_MS 5    /* ... one step this often */

void
segq__broker_on_drain (segq_broker_t *self, segq__request_t *req)
{
    const segq_drain_t *drain = &req->msg->u.drain;
    zframe_t *peer = req->peer;
    worker_t *w = drain->node ? zhashx_lookup (self->by_node, drain->node) : NULL;
    if (!w || !w->peer) {
        segq__broker_error (self, peer, drain->req_id, SEGQ_ENOENT,
                            "no connected worker named "
                            "'%s'",
                            drain->node ? drain->node : "");
        return;
    }
    w->state = SEGQ_WORKER_DRAINING;
    segq__sched_node_set_accepting (w->sched_node, false);
    segq__broker_send (self, w->peer, segq_msg_new (SEGQ_MSG_DRAIN_WORKER), false);
    segq_msg_t *reply = segq_msg_new (SEGQ_MSG_DRAIN_REPLY);
    if (reply) {
        reply->u.drain_reply.req_id = drain->req_id;
        reply->u.drain_reply.node = strdup (w->node);
        segq__broker_send (self, peer, reply, false);
    }
    segq__broker_log (self, 0, req->peer_hex, "draining worker %s (asked by %s)", w->node,
                      drain->user ? drain->user : "?");
}

/* ---- patient data: purge, retention, backup ---- */

/* What a purge removed and what it kept, into err, when it kept files
   other jobs refer to: a user purging to erase an image must learn it is
   still there (which jobs keep it is not said: they may be others'). */
static void
s_purge_kept (const segq__purge_stats_t *stats, char *err, size_t errlen)
{
    char removed [32], kept [32];
    segq_format_size (stats->bytes, removed, sizeof removed);
    segq_format_size (stats->kept_bytes, kept, sizeof kept);
    snprintf (err, errlen,
              "purged: %u artifact file(s), %s, and its log removed; %u more, %s, kept: other "
              "jobs refer to the same content (an input, a style image, a model), which goes "
              "when the last of them is purged",
              stats->files, removed, stats->kept_files, kept);
}

void
segq__broker_on_purge (segq_broker_t *self, segq__request_t *req)
{
    const segq_purge_t *purge = &req->msg->u.purge;
    zframe_t *peer = req->peer;
    const char *peer_hex = req->peer_hex;
    if (!segq__broker_job_list_ok (self, peer, purge->req_id, "purge", purge->jobs, purge->n_jobs))
        return;
    segq_msg_t *reply = segq_msg_new (SEGQ_MSG_PURGE_REPLY);
    if (!reply)
        return;
    segq_purge_reply_t *r = &reply->u.purge_reply;
    r->req_id = purge->req_id;
    if (purge->n_jobs && !(r->results = calloc (purge->n_jobs, sizeof *r->results))) {
        segq_msg_destroy (&reply);
        segq__broker_error (self, peer, purge->req_id, SEGQ_ENOMEM, "out of memory");
        return;
    }
    const segq__identity_t *id = segq__broker_sender (self);
    bool admin = id && id->role == SEGQ__ROLE_ADMIN;
    const char *who = id ? id->name : purge->user ? purge->user : "?";
    double now = segq__broker_now ();
    for (size_t i = 0; i < purge->n_jobs; i++) {
        segq_purge_result_t *result = &r->results [r->n_results++];
        result->job = strdup (purge->jobs [i]);
        uint64_t number = segq__job_id_parse (purge->jobs [i]);
        segq__job_brief_t brief;
        char err [600] = "";
        int rc = 0;
        bool already = false;
        if (!number || segq__job_store_brief (self->store, number, &brief) != 0) {
            rc = SEGQ_ENOENT;
            segq__job_unknown (purge->jobs [i], err, sizeof err);
        } else if (!admin && (!purge->user || strcmp (purge->user, brief.owner) != 0)) {
            rc = SEGQ_EPERM;
            snprintf (err, sizeof err,
                      "permission denied: job %s belongs to %s; only its owner "
                      "or an admin may purge it",
                      purge->jobs [i], brief.owner);
        } else {
            segq__purge_stats_t stats;
            rc = segq__retention_purge (self->retention, number, who, now, &already, &stats, err,
                                        sizeof err);
            result->artifacts = stats.files;
            result->bytes = stats.bytes;
            if (segq__broker_store_error (rc) && rc != SEGQ_ESTATE)
                segq__broker_broken (self, rc, "storing a purge");
            if (rc == 0 && !already && stats.kept_files)
                s_purge_kept (&stats, err, sizeof err);
        }
        result->code = rc;
        result->message = *err ? strdup (err) : NULL;
        segq__broker_log (self, rc == SEGQ_EPERM ? 0 : 1, peer_hex, "PURGE %s by %s: %s",
                          purge->jobs [i], who, rc || already ? err : "purged");
        json_t *event = segq__broker_audit_event (self, "purge", purge->user, peer_hex);
        segq__broker_audit_set (event, "job", purge->jobs [i]);
        if (event && rc == 0 && !already) {
            json_object_set_new (event, "files", json_integer (result->artifacts));
            json_object_set_new (event, "bytes", json_integer ((json_int_t) result->bytes));
        }
        segq__broker_audit_set (event, "note", already ? err : NULL);
        segq__broker_audit_end (self, &event, rc ? err : NULL, rc == 0);
    }
    segq__broker_send (self, peer, reply, true);
}

static void
s_retention_purged (void *arg, uint64_t job, const segq__purge_stats_t *stats)
{
    segq_broker_t *self = arg;
    char id [SEGQ__JOB_ID_MAX];
    segq__job_id_format (job, id);
    json_t *event = segq__audit_event ("purge", "retention", NULL, NULL, NULL);
    segq__broker_audit_set (event, "job", id);
    if (event) {
        json_object_set_new (event, "files", json_integer (stats->files));
        json_object_set_new (event, "bytes", json_integer ((json_int_t) stats->bytes));
        json_object_set_new (event, "retention_s",
                             json_real (segq__retention_seconds (self->retention)));
    }
    segq__broker_audit_end (self, &event, NULL, true);
}

/* Retention: a bounded batch of expired jobs per timer tick, in the
   tick's transaction, so dispatch is never held up for long. */
void
segq__broker_sweep (segq_broker_t *self)
{
    /* removes files only, and only of purges already durable: no
       transaction; one that cannot read tries again at the next tick */
    if (!segq__job_store_in_transaction (self->store)
        && segq__retention_recheck (self->retention, 64) < 0)
        segq__broker_log (self, 0, NULL,
                          "cannot read which purged jobs still have files: retried later");
    if (self->broken || segq__retention_seconds (self->retention) <= 0)
        return;
    int64_t deadline = zclock_mono () + SWEEP_MS;
    size_t batch = 64;
    for (size_t done = 0; done < SWEEP_MAX && zclock_mono () < deadline; done += batch) {
        double now = segq__broker_now ();
        int n = segq__retention_sweep (self->retention, now, batch, s_retention_purged, self);
        if (n < 0) {
            segq__broker_broken (self, n, "retention sweep");
            return;
        }
        if (n > 0)
            segq__broker_log (self, 1, NULL,
                              "retention: looked at %d job(s) that ended over "
                              "%.0f s ago",
                              n, segq__retention_seconds (self->retention));
        if ((size_t) n < batch)
            break;
    }
}

/* The backup in progress ends: its requester gets BACKUP_REPLY or ERROR. */
void
segq__broker_backup_end (segq_broker_t *self, int code, const char *message)
{
    if (!self->backup.copy)
        return;
    if (self->backup.timer >= 0 && self->loop)
        zloop_timer_end (self->loop, self->backup.timer);
    self->backup.timer = -1;
    segq_msg_t *reply = NULL;
    if (code == 0 && (reply = segq_msg_new (SEGQ_MSG_BACKUP_REPLY))) {
        reply->u.backup_reply.req_id = self->backup.req_id;
        reply->u.backup_reply.path = strdup (segq__backup_path (self->backup.copy));
        reply->u.backup_reply.size = segq__backup_size (self->backup.copy);
        reply->u.backup_reply.jobs = segq__backup_jobs (self->backup.copy);
        segq__broker_send_at_once (self, self->backup.peer, reply);
        segq__broker_log (
            self, 0, NULL,
            "backup of the database written to %s (%" PRIu64 " bytes, %" PRIu64 " jobs)",
            segq__backup_path (self->backup.copy), segq__backup_size (self->backup.copy),
            segq__backup_jobs (self->backup.copy));
    } else {
        segq__broker_log (self, 0, NULL, "backup failed: %s", message);
        if (self->router)
            segq__broker_error (self, self->backup.peer, self->backup.req_id, code, "%s", message);
    }
    if (self->backup.event && code == 0)
        json_object_set_new (self->backup.event, "size",
                             json_integer ((json_int_t) segq__backup_size (self->backup.copy)));
    segq__broker_audit_end (self, &self->backup.event, code ? message : NULL, false);
    segq__backup_destroy (&self->backup.copy);
    zframe_destroy (&self->backup.peer);
}

static int
s_on_backup_tick (zloop_t *loop, int timer_id, void *arg)
{
    segq_broker_t *self = arg;
    /* SQLite refuses to step while this connection writes: between turns only */
    if (segq__job_store_in_transaction (self->store))
        return 0;
    char err [1024] = "";
    int rc = segq__backup_step (self->backup.copy, BACKUP_PAGES, err, sizeof err);
    if (rc <= 0)
        segq__broker_backup_end (self, rc, err);
    /* the ERROR of a failed backup is in the outbox: send it */
    if (rc < 0)
        segq__broker_flush (self, true);
    return 0;
}

void
segq__broker_on_backup (segq_broker_t *self, segq__request_t *req)
{
    const segq_backup_t *backup = &req->msg->u.backup;
    zframe_t *peer = req->peer;
    const char *peer_hex = req->peer_hex;
    json_t *event = segq__broker_audit_event (self, "backup", backup->user, peer_hex);
    segq__broker_audit_set (event, "path", backup->path);
    if (self->backup.copy) {
        segq__broker_error (self, peer, backup->req_id, SEGQ_ESTATE,
                            "a backup (to %s) is in "
                            "progress: try again when it is done",
                            segq__backup_path (self->backup.copy));
        segq__broker_audit_end (self, &event, "a backup is in progress", false);
        return;
    }
    char err [1024] = "";
    int code = 0;
    self->backup.copy = segq__backup_start (self->store, backup->path, &code, err, sizeof err);
    if (self->backup.copy) {
        self->backup.peer = zframe_dup (peer);
        self->backup.req_id = backup->req_id;
        self->backup.timer = zloop_timer (self->loop, BACKUP_TICK_MS, 0, s_on_backup_tick, self);
        if (!self->backup.peer || self->backup.timer < 0) {
            code = SEGQ_ENOMEM;
            snprintf (err, sizeof err, "cannot schedule the backup");
            segq__backup_destroy (&self->backup.copy);
            zframe_destroy (&self->backup.peer);
        }
    }
    if (!self->backup.copy) {
        segq__broker_log (self, 0, peer_hex, "BACKUP to %s refused: %s", backup->path, err);
        segq__broker_error (self, peer, backup->req_id, code, "%s", err);
        segq__broker_audit_end (self, &event, err, false);
        return;
    }
    segq__broker_log (self, 0, peer_hex, "backup of the database to %s started", backup->path);
    self->backup.event = event;
}
