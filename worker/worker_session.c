/*  worker_session.c: the daemon's session with the broker.

    OFFLINE -> REGISTERING (REGISTER sent on a fresh socket, retried with
    backoff) -> ONLINE (WELCOME). REGISTER lists every job the daemon holds,
    so a broker that restarted re-adopts them; WELCOME resumes what waited
    for the broker (fetches, uploads, results, log). A draining worker says
    so in REGISTER and leaves with BYE once its jobs are done; an ERROR the
    daemon cannot outlive (protocol version, refused key, node name taken)
    stops it.

    Results live here too: a RESULT is held until RESULT_ACK, and sent
    again, less and less often, while the broker does not answer it.
*/
#define _GNU_SOURCE
#include "segq_keys.h"
#include "segq_notify.h"
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "worker_daemon.h"

#define RESULT_RESEND_MAX_MS 30000 /* an unacknowledged result, at least this often */

/* ---- results ---- */

void
segq__worker_result_send (job_t *job)
{
    segq_worker_t *self = job->worker;
    if (self->session != ONLINE)
        return; /* sent again after WELCOME */
    segq_msg_t *msg = segq_msg_new (SEGQ_MSG_RESULT);
    segq_result_t *r = msg ? &msg->u.result : NULL;
    if (!r || !(r->job = strdup (job->id)) || (job->reason && !(r->reason = strdup (job->reason)))
        || (job->n_outputs && !(r->outputs = calloc (job->n_outputs, sizeof *r->outputs)))) {
        segq_msg_destroy (&msg);
        segq__worker_log (self, 0, "out of memory sending the result of %s", job->key);
        return;
    }
    r->attempt = job->attempt;
    r->success = job->success;
    r->exit_code = job->exit_code;
    r->signal = job->signal;
    r->cpu_seconds = job->cpu_seconds;
    r->max_rss = job->max_rss;
    r->gpu_peak = job->gpu_peak;
    for (size_t i = 0; i < job->n_outputs; i++, r->n_outputs++)
        if (segq_artifact_copy (&r->outputs [i], &job->outputs [i])) {
            segq_msg_destroy (&msg);
            return;
        }
    /* where generate jobs find their models loaded now (SPEC: RESULT hot) */
    segq_hot_model_t hot [64];
    size_t n_hot = self->gen_servers ? segq__gen_servers_hot (self->gen_servers, hot, 64) : 0;
    if (n_hot && (r->hot = calloc (n_hot, sizeof *r->hot))) {
        memcpy (r->hot, hot, n_hot * sizeof *hot);
        r->n_hot = n_hot;
    }
    if (segq__worker_send (self, &msg) == 0)
        job->result_sent_ms = self->last_sent_ms;
}

/* Results the broker has not answered within expiry_ms (a failed commit
   drops the acks of its turn, SPEC 8.7) are sent again, waiting twice as
   long each time up to RESULT_RESEND_MAX_MS: the broker acknowledges a
   repeated result it has recorded. */
void
segq__worker_results_resend (segq_worker_t *self, int64_t now)
{
    if (self->session != ONLINE)
        return;
    for (job_t *job = zhashx_first (self->jobs); job; job = zhashx_next (self->jobs)) {
        int64_t wait = job->result_wait_ms ? job->result_wait_ms : self->expiry_ms;
        if (job->phase != JOB_DONE || !job->result_sent_ms || now - job->result_sent_ms < wait)
            continue;
        segq__worker_log (self, 0,
                          "result of %s not acknowledged in %" PRId64 " ms: sending it again",
                          job->key, wait);
        job->result_wait_ms = wait * 2 < RESULT_RESEND_MAX_MS ? wait * 2 : RESULT_RESEND_MAX_MS;
        segq__worker_result_send (job);
    }
}

/* ---- session ---- */

static void
s_write_ready_file (segq_worker_t *self)
{
    if (self->ready_written || !self->ready_file)
        return;
    self->ready_written = true;
    char tmp [4096];
    snprintf (tmp, sizeof tmp, "%s.tmp", self->ready_file);
    FILE *file = fopen (tmp, "w");
    if (!file || fprintf (file, "%s\n", self->node) < 0 || fclose (file) != 0
        || rename (tmp, self->ready_file) != 0)
        segq__worker_log (self, 0, "cannot write ready file %s: %s", self->ready_file,
                          strerror (errno));
}

static void
s_send_register (segq_worker_t *self)
{
    segq_msg_t *msg = segq_msg_new (SEGQ_MSG_REGISTER);
    if (!msg)
        return;
    segq_register_t *r = &msg->u.reg;
    size_t n_held = zhashx_size (self->jobs);
    bool ok =
        (r->node = strdup (self->node)) != NULL && (r->instance = strdup (self->instance)) != NULL;
    if (ok && self->n_gpus)
        ok = (r->gpus = calloc (self->n_gpus, sizeof *r->gpus)) != NULL;
    for (size_t i = 0; ok && i < self->n_gpus; i++, r->n_gpus++)
        ok = segq_gpu_copy (&r->gpus [i], &self->gpus [i]) == 0;
    if (ok && self->n_kinds)
        ok = (r->kinds = calloc (self->n_kinds, sizeof *r->kinds)) != NULL;
    for (size_t i = 0; ok && i < self->n_kinds; i++, r->n_kinds++)
        ok = (r->kinds [i] = strdup (self->kinds [i])) != NULL;
    if (ok && n_held)
        ok = (r->held = calloc (n_held, sizeof *r->held)) != NULL;
    for (job_t *job = zhashx_first (self->jobs); ok && job; job = zhashx_next (self->jobs)) {
        r->held [r->n_held].attempt = job->attempt;
        ok = (r->held [r->n_held].job = strdup (job->id)) != NULL;
        r->n_held++;
    }
    r->cpu_slots = self->cpu_slots;
    r->draining = self->told_draining = self->draining;
    if (!ok) {
        segq_msg_destroy (&msg);
        segq__worker_log (self, 0, "out of memory registering");
        return;
    }
    segq__worker_log (self, 1, "registering with %s (%zu job(s) held%s)", self->broker, n_held,
                      self->draining ? ", draining" : "");
    segq__worker_send (self, &msg);
}

/* The broker forgot this session (it restarted, or we left it): transfers
   in flight are void and start again after the next WELCOME. */
static void
s_session_lost (segq_worker_t *self)
{
    segq__worker_fetches_void (self);
    for (job_t *job = zlistx_first (self->uploads); job; job = zlistx_next (self->uploads))
        segq__worker_upload_reset (job);
    self->deferred = true; /* sent again after WELCOME, at once: a new session counts afresh */
    self->deferred_until_ms = 0;
    self->limit_backoff_ms = 0;
    if (self->session != REGISTERING)
        self->registering_since_ms = segq__now_ms ();
    self->session = REGISTERING;
}

void
segq__worker_say_unanswered (segq_worker_t *self, int64_t now)
{
    if (self->session != REGISTERING || now - self->registering_since_ms < UNANSWERED_SAY_MS
        || (self->unanswered_said_ms && now - self->unanswered_said_ms < UNANSWERED_AGAIN_MS))
        return;
    self->unanswered_said_ms = now;
    segq__worker_log (self, 0, "no answer from broker %s yet (is segqd running there%s?); retrying",
                      self->broker, self->broker_key ? ", and are the keys right" : "");
}

/* A fresh socket and REGISTER on it (the old one, if any, is dropped with
   whatever it still queued). */
void
segq__worker_connect (segq_worker_t *self)
{
    if (self->sock) {
        zloop_reader_end (self->loop, self->sock);
        zsock_destroy (&self->sock);
    }
    s_session_lost (self);
    self->register_deadline_ms = segq__now_ms () + self->backoff_ms;
    self->sock = zsock_new (ZMQ_DEALER);
    if (!self->sock) {
        segq__worker_log (self, 0, "cannot create a socket: %s", zmq_strerror (zmq_errno ()));
        return;
    }
    /* No high-water mark: a burst of results must never block the reactor,
       and what is queued is bounded by the jobs we hold. */
    zsock_set_sndhwm (self->sock, 0);
    zsock_set_rcvhwm (self->sock, 0);
    zsock_set_linger (self->sock, 0);
    char kerr [1024];
    if (self->broker_key
        && segq_keys_apply_client (self->sock, self->cert, self->broker_key, kerr, sizeof kerr)) {
        segq__worker_log (self, 0, "%s", kerr);
        zsock_destroy (&self->sock);
        return;
    }
    if (zsock_connect (self->sock, "%s", self->broker) != 0) {
        segq__worker_log (self, 0, "cannot connect to %s: %s", self->broker,
                          zmq_strerror (zmq_errno ()));
        zsock_destroy (&self->sock);
        return;
    }
    zloop_reader (self->loop, self->sock, segq__worker_on_socket, self);
    s_send_register (self);
}

void
segq__worker_on_welcome (segq_worker_t *self, const segq_welcome_t *m)
{
    /* A WELCOME within the session (answer to a REGISTER that announced a
       drain) changes nothing else, and is no news for the log. */
    bool new_session = self->session != ONLINE;
    self->session = ONLINE;
    self->backoff_ms = BACKOFF_MIN_MS;
    self->heartbeat_ms = m->heartbeat_ms ? m->heartbeat_ms : 1000;
    self->expiry_ms = m->expiry_ms ? m->expiry_ms : 5000;
    self->chunk_size = m->chunk_size ? m->chunk_size : SEGQ_DEFAULT_CHUNK;
    self->max_msg = m->max_msg ? m->max_msg : SEGQ_DEFAULT_MAX_MSG;
    if (m->max_msg && self->chunk_size > m->max_msg / 2)
        self->chunk_size = m->max_msg / 2;
    char after [64] = "";
    if (new_session && self->unanswered_said_ms)
        snprintf (after, sizeof after, ", after %" PRId64 " s without an answer",
                  (segq__now_ms () - self->registering_since_ms) / 1000);
    self->unanswered_said_ms = 0;
    segq__worker_log (self, new_session ? 0 : 1,
                      "registered with %s (heartbeat %u ms, expiry %u ms%s)", self->broker,
                      self->heartbeat_ms, self->expiry_ms, after);
    s_write_ready_file (self);
    /* registered: a Type=notify unit is active (again: STATUS only) */
    if (new_session
        && segq_notify (SEGQ_NOTIFY_READY, "registered with %s as %s%s", self->broker, self->node,
                        self->draining ? ", draining" : ""))
        segq__worker_log (self, 0, "cannot tell systemd it is ready (NOTIFY_SOCKET)");
    if (self->draining && !self->told_draining)
        s_send_register (self); /* drain began while that REGISTER was on its way */
    if (!new_session)
        return;
    /* Resume everything that needs the broker. */
    segq__worker_transfers_resume (self);
    zlistx_t *resume = zlistx_new ();
    for (job_t *job = zhashx_first (self->jobs); resume && job; job = zhashx_next (self->jobs))
        zlistx_add_end (resume, job);
    for (job_t *job = resume ? zlistx_first (resume) : NULL; job; job = zlistx_next (resume)) {
        segq__worker_log_flush (job, segq__now_ms ()); /* what was held while the broker was away */
        if (job->phase == JOB_DONE)
            segq__worker_result_send (job); /* uploads and checkpoints: transfers_resume */
    }
    zlistx_destroy (&resume);
}

/* broker_knows: DRAIN_WORKER came from the broker, which assigns us
   nothing more. Otherwise (a signal) tell it: REGISTER again, with our
   jobs, marked draining (SPEC 8.4). */
void
segq__worker_start_drain (segq_worker_t *self, const char *why, bool broker_knows)
{
    if (self->draining)
        return;
    self->draining = true;
    segq__worker_log (self, 0, "draining (%s): finishing %zu job(s), taking no new ones", why,
                      zhashx_size (self->jobs));
    /* the unit is stopping from now on; it leaves once its jobs have ended */
    (void) segq_notify (SEGQ_NOTIFY_STOPPING, "draining (%s): finishing %zu job(s)", why,
                        zhashx_size (self->jobs));
    if (broker_knows && self->session == ONLINE)
        self->told_draining = true;
    else if (self->session == ONLINE)
        s_send_register (self);
}

void
segq__worker_stop_now (segq_worker_t *self, int exit_code, const char *reason)
{
    for (job_t *job = zlistx_first (self->children); job; job = zlistx_next (self->children)) {
        segq__job_runner_destroy (&job->runner);
        job->child_handle = NULL;
    }
    zlistx_purge (self->children);
    if (self->session == ONLINE) {
        segq_msg_t *bye = segq_msg_new (SEGQ_MSG_BYE);
        if (bye)
            bye->u.bye.reason = strdup (reason);
        segq__worker_send (self, &bye);
    }
    self->stop = true;
    self->exit_code = exit_code;
}

void
segq__worker_on_error (segq_worker_t *self, const segq_error_msg_t *m)
{
    if (m->code == SEGQ_EVERSION) {
        char versions [256] = "";
        size_t len = 0;
        for (size_t i = 0; i < m->n_versions && len < sizeof versions - 16; i++)
            len += (size_t) snprintf (versions + len, sizeof versions - len, "%s%" PRIu32,
                                      i ? ", " : "", m->versions [i]);
        fprintf (stderr,
                 "segq-worker: the broker at %s speaks protocol version%s %s; this "
                 "segq-worker speaks %d..%d: install matching versions of segqd and segq-worker\n",
                 self->broker, m->n_versions == 1 ? "" : "s", len ? versions : "(not said)",
                 SEGQ_PROTO_MIN_VERSION, SEGQ_PROTO_VERSION);
        segq__worker_stop_now (self, 2, "protocol version mismatch");
        return;
    }
    if (m->code == SEGQ_EAUTH || m->code == SEGQ_EPERM || (m->code == SEGQ_EEXIST && !m->req_id)) {
        /* retrying cannot help: the admin must allow this node's key, or
           (EEXIST) another live daemon holds this node name */
        fprintf (stderr, "segq-worker: the broker at %s refused node %s: %s\n", self->broker,
                 self->node, m->message ? m->message : segq_strerror (m->code));
        segq__worker_stop_now (self, 1, "refused by the broker");
        return;
    }
    if (m->req_id) {
        fetch_t *fetch = segq__worker_fetch_by (self, m->req_id, 0);
        if (fetch) {
            segq__worker_fetch_failed (self, fetch, m->code,
                                       m->message ? m->message : segq_strerror (m->code));
            return;
        }
        job_t *job;
        upload_t *u = segq__worker_upload_by (self, m->req_id, 0, &job);
        if (u && m->code == SEGQ_ENOSPC) {
            segq__worker_upload_wait_room (job, u,
                                           m->message ? m->message : segq_strerror (m->code));
            return;
        }
        if (u && m->code == SEGQ_ELIMIT && !job->ckpt_uploading) {
            segq__worker_log (self, 1, "%s: upload of %s waits: %s", job->key, u->artifact->name,
                              m->message ? m->message : segq_strerror (m->code));
            u->req = 0; /* over the broker's limit: PUT again later */
            segq__worker_transfers_defer (self);
            return;
        }
        if (u) {
            segq__worker_upload_fail (job, "upload of %s refused: %s", u->artifact->name,
                                      m->message ? m->message : segq_strerror (m->code));
            return;
        }
    }
    if (m->code == SEGQ_ENOENT && self->session == ONLINE) {
        /* The broker restarted and does not know this connection. */
        segq__worker_log (self, 0, "broker says: %s; registering again",
                          m->message ? m->message : "unknown worker");
        s_session_lost (self);
        self->register_deadline_ms = segq__now_ms () + self->backoff_ms;
        s_send_register (self);
        return;
    }
    if (m->code == SEGQ_ENOENT) {
        /* what was sent before the broker read our REGISTER (after its
           restart): that REGISTER is under way, nothing is wrong */
        segq__worker_log (self, 1, "broker says: %s (our REGISTER is under way)",
                          m->message ? m->message : "unknown worker");
        return;
    }
    segq__worker_log (self, 0, "broker error %s: %s", segq_error_name (m->code),
                      m->message ? m->message : segq_strerror (m->code));
}

void
segq__worker_on_result_ack (segq_worker_t *self, const segq_result_ack_t *m)
{
    job_t *job = segq__worker_job_find (self, m->job, m->attempt);
    if (!job || job->phase != JOB_DONE)
        return;
    if (m->code == SEGQ_ESTALE)
        segq__worker_log (self, 1, "result of %s refused as stale (fenced): dropped", job->key);
    else if (m->code)
        segq__worker_log (self, 0, "result of %s refused: %s: dropped", job->key,
                          m->message ? m->message : segq_strerror (m->code));
    segq__worker_job_remove (job);
}
