/*  broker_reply.c: how segqd answers, logs and audits what it handles.

    Replies go into the turn's outbox and leave after its commit, so a
    durable one (SUBMITTED, RESULT_ACK, ...) promises only what is on
    disk; transfer traffic, which promises nothing, goes out at once. A
    write that fails marks the turn broken: broker.c rolls it back, and the
    outbox then turns the durable replies into errors (or drops those that
    carry no request id: workers resend). The audit trail records who did
    what as the connection proves it. */
#include "broker_internal.h"
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

/* ---- time and logging ---- */

double
segq__broker_now (void)
{
    struct timespec ts;
    clock_gettime (CLOCK_REALTIME, &ts);
    return (double) ts.tv_sec + ts.tv_nsec / 1e9;
}

void
segq__broker_log (segq_broker_t *self, int level, const char *peer, const char *format, ...)
{
    if (level > self->config.verbose)
        return;
    struct timespec ts;
    clock_gettime (CLOCK_REALTIME, &ts);
    struct tm tm;
    gmtime_r (&ts.tv_sec, &tm);
    char when [32];
    strftime (when, sizeof when, "%Y-%m-%dT%H:%M:%S", &tm);
    char text [2048];
    va_list args;
    va_start (args, format);
    vsnprintf (text, sizeof text, format, args);
    va_end (args);
    fprintf (stderr, "%s.%03ldZ segqd: %s%s%s%s\n", when, ts.tv_nsec / 1000000, peer ? "peer " : "",
             peer ? peer : "", peer ? ": " : "", text);
}

/* ---- outbox ---- */

void
segq__broker_send (segq_broker_t *self, zframe_t *peer, segq_msg_t *msg, bool durable)
{
    if (!msg)
        return;
    if (self->n_out == self->cap_out) {
        size_t capacity = self->cap_out ? self->cap_out * 2 : 256;
        outgoing_t *grown = realloc (self->outbox, capacity * sizeof *grown);
        if (!grown) {
            segq__broker_log (self, 0, NULL, "out of memory queueing a %s: dropped",
                              segq_msg_type_name (msg->type));
            segq_msg_destroy (&msg);
            return;
        }
        self->outbox = grown;
        self->cap_out = capacity;
    }
    outgoing_t *out = &self->outbox [self->n_out++];
    out->peer = zframe_dup (peer);
    out->msg = msg;
    out->durable = durable;
}

void
segq__broker_error (segq_broker_t *self, zframe_t *peer, uint64_t req_id, int code,
                    const char *format, ...)
{
    segq_msg_t *msg = segq_msg_new (SEGQ_MSG_ERROR);
    if (!msg)
        return;
    char text [1024];
    va_list args;
    va_start (args, format);
    vsnprintf (text, sizeof text, format, args);
    va_end (args);
    msg->u.error.req_id = req_id;
    msg->u.error.code = code;
    msg->u.error.message = strdup (text);
    if (code == SEGQ_EVERSION && (msg->u.error.versions = calloc (1, sizeof (uint32_t)))) {
        msg->u.error.versions [0] = SEGQ_PROTO_VERSION;
        msg->u.error.n_versions = 1;
    }
    segq__metrics_refusal (self->metrics, code);
    segq__broker_send (self, peer, msg, false);
}

static int
s_text_order (const void *a, const void *b)
{
    return strcmp (*(char *const *) a, *(char *const *) b);
}

bool
segq__broker_job_list_ok (segq_broker_t *self, zframe_t *peer, uint64_t req_id, const char *what,
                          char *const *jobs, size_t n)
{
    if (n > SEGQ_JOB_LIST_MAX) {
        segq__broker_error (self, peer, req_id, SEGQ_ETOOBIG,
                            "%s of %zu jobs: one request names at most %d (send the rest in "
                            "another)",
                            what, n, SEGQ_JOB_LIST_MAX);
        return false;
    }
    char **sorted = n ? malloc (n * sizeof *sorted) : NULL;
    if (n && !sorted) {
        segq__broker_error (self, peer, req_id, SEGQ_ENOMEM, "out of memory");
        return false;
    }
    if (n)
        memcpy (sorted, jobs, n * sizeof *sorted);
    qsort (sorted, n, sizeof *sorted, s_text_order);
    const char *twice = NULL;
    for (size_t i = 1; i < n && !twice; i++)
        if (strcmp (sorted [i], sorted [i - 1]) == 0)
            twice = sorted [i];
    if (twice)
        segq__broker_error (self, peer, req_id, SEGQ_EINVAL, "%s: job %s is named twice", what,
                            twice);
    free (sorted);
    return !twice;
}

/* A write failed: the whole turn is rolled back at its end. */
void
segq__broker_broken (segq_broker_t *self, int code, const char *what)
{
    if (!self->broken)
        segq__broker_log (self, 0, NULL, "%s failed (%s): rolling back this turn", what,
                          segq_strerror (code));
    self->broken = true;
    if (!self->broken_code)
        self->broken_code = code;
}

bool
segq__broker_store_error (int rc)
{
    return rc == SEGQ_EIO || rc == SEGQ_ENOSPC || rc == SEGQ_ENOMEM || rc == SEGQ_EINTERNAL
           || rc == SEGQ_ESTATE;
}

static void
s_send_now (segq_broker_t *self, outgoing_t *out)
{
    if (out->msg && segq_msg_send (&out->msg, self->router, out->peer) != 0)
        segq__broker_log (self, 2, NULL, "send failed");
    segq_msg_destroy (&out->msg);
    zframe_destroy (&out->peer);
}

/* Transfer traffic (CREDIT, GET_READY, GET's CHUNKs) promises nothing
   durable: it goes out at once rather than at the end of the turn, so the
   peer is not left waiting while the rest of the turn (up to heartbeat/2
   of other chunks) is handled. Holding it made transfers stop-and-go. */
void
segq__broker_send_at_once (segq_broker_t *self, zframe_t *peer, segq_msg_t *msg)
{
    if (msg && segq_msg_send (&msg, self->router, peer) != 0)
        segq__broker_log (self, 2, NULL, "send failed");
    segq_msg_destroy (&msg);
}

/* The turn's outbox, sent after its commit (durable: synchronous=FULL);
   after a failed turn the replies that promised durability become errors
   (to the request their request id names) or are dropped (workers resend). */
void
segq__broker_flush (segq_broker_t *self, bool committed)
{
    for (size_t i = 0; i < self->n_out; i++) {
        outgoing_t *out = &self->outbox [i];
        if (out->durable && !committed) {
            uint64_t req_id = segq_msg_req_id (out->msg);
            segq_msg_destroy (&out->msg);
            if (req_id) {
                out->msg = segq_msg_new (SEGQ_MSG_ERROR);
                if (out->msg) {
                    out->msg->u.error.req_id = req_id;
                    out->msg->u.error.code = self->broken_code ? self->broken_code : SEGQ_EIO;
                    out->msg->u.error.message =
                        strdup ("the broker could not store this request (see its log; "
                                "free disk space in its data directory) - nothing was done");
                }
            }
        }
        s_send_now (self, out);
    }
    self->n_out = 0;
}

/* ---- audit ---- */

/* An audit event about the message being handled: the sender as the
   connection proves it (with keys) or as it claims (loopback only). */
json_t *
segq__broker_audit_event (segq_broker_t *self, const char *action, const char *claimed,
                          const char *peer_hex)
{
    const segq__identity_t *id = segq__broker_sender (self);
    char peer [160];
    if (self->auth && self->sender_address [0])
        snprintf (peer, sizeof peer, "%s", self->sender_address);
    else
        snprintf (peer, sizeof peer, "local:%s", peer_hex ? peer_hex : "?");
    return segq__audit_event (action, id ? id->name : claimed,
                              id ? segq__role_name (id->role) : NULL, peer,
                              id ? self->sender_key : NULL);
}

void
segq__broker_audit_set (json_t *event, const char *key, const char *value)
{
    if (event && value)
        json_object_set_new (event, key, json_string (value));
}

/* Outcome "ok" (reason NULL) or "refused" with the reason; written now, or
   held until the turn's commit. */
void
segq__broker_audit_end (segq_broker_t *self, json_t **event_p, const char *reason, bool held)
{
    segq__broker_audit_set (*event_p, "outcome", reason ? "refused" : "ok");
    segq__broker_audit_set (*event_p, "reason", reason);
    segq__audit_write (self->audit, event_p, held);
}
