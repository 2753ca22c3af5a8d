/*  worker_checkpoint.c: checkpoints (SPEC 8.3).

    A child announces on its progress channel that out/NAME is a finished
    checkpoint. The daemon pins that version (a hard link at
    DIR/checkpoint, as the child may rename a newer one over it) and
    uploads it while the child runs, in the job's first upload slot
    (worker_transfer.c); once stored, CHECKPOINT tells the broker, which
    hands it to a requeued attempt to resume from. One uploads at a time;
    the newest announced meanwhile waits at DIR/checkpoint.next. It is
    best effort: a failed upload leaves the last recorded checkpoint
    standing and the job running; one the broker has no room for waits
    for room, as outputs do (worker_transfer.c).
*/
#define _GNU_SOURCE
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include "worker_daemon.h"

void
segq__worker_ckpt_put (job_t *job)
{
    segq__worker_upload_reset (job);
    if (job->worker->session == ONLINE) /* else sent again after WELCOME */
        segq__worker_upload_send (job, &job->uploads [0]);
}

/* The checkpoint's PUT was void (a new session) or refused for want of
   room: sent again, or, if the child announced a newer one meanwhile,
   that one instead: the older is of no use once it is there. */
void
segq__worker_ckpt_resume (job_t *job)
{
    if (job->ckpt_next)
        segq__worker_ckpt_end (job);
    else
        segq__worker_ckpt_put (job);
}

/* Upload the checkpoint pinned at DIR/checkpoint (hashed as it is sent). */
static void
s_ckpt_start (job_t *job, const char *name, uint32_t step)
{
    char *copy = strdup (name);
    job->ckpt_uploading = true; /* from here on segq__worker_upload_fail ends it */
    free (job->ckpt.name);
    job->ckpt.name = copy;
    job->ckpt_step = step;
    job->uploads [0].artifact = &job->ckpt;
    job->upload_handle = zlistx_add_end (job->worker->uploads, job);
    if (!copy || !job->upload_handle) {
        segq__worker_upload_fail (job, "out of memory");
        return;
    }
    segq__worker_ckpt_put (job);
}

/* The child said out/NAME is a finished checkpoint: pin this version (the
   child replaces the file by renaming a new one over it) and upload it, or
   keep it for when the one uploading now is done. */
void
segq__worker_ckpt_announced (job_t *job, const char *name, uint32_t step)
{
    char err [600], src [8192], pin [8192];
    if (segq__name_check (name, err, sizeof err)) {
        segq__worker_log_note (job, "checkpoint ignored: %s", err);
        return;
    }
    snprintf (src, sizeof src, "%s/out/%s", job->dir, name);
    snprintf (pin, sizeof pin, "%s/%s", job->dir,
              job->ckpt_uploading ? "checkpoint.next" : "checkpoint");
    unlink (pin);
    if (link (src, pin) != 0) {
        segq__worker_log_note (job, "checkpoint out/%s not kept: %s", name, strerror (errno));
        return;
    }
    if (!job->ckpt_uploading) {
        s_ckpt_start (job, name, step);
        return;
    }
    free (job->ckpt_next);
    job->ckpt_next = strdup (name);
    job->ckpt_next_step = step;
    if (!job->ckpt_next)
        unlink (pin);
}

/* The upload of the checkpoint is over (done or not): the next one, if
   the child announced one meanwhile. */
void
segq__worker_ckpt_end (job_t *job)
{
    segq_worker_t *self = job->worker;
    segq__worker_upload_clear (job);
    job->ckpt_uploading = false;
    if (job->upload_handle) {
        zlistx_delete (self->uploads, job->upload_handle);
        job->upload_handle = NULL;
    }
    char path [8192], next [8192];
    snprintf (path, sizeof path, "%s/checkpoint", job->dir);
    snprintf (next, sizeof next, "%s/checkpoint.next", job->dir);
    unlink (path);
    char *name = job->ckpt_next;
    job->ckpt_next = NULL;
    if (name && rename (next, path) == 0)
        s_ckpt_start (job, name, job->ckpt_next_step);
    free (name);
}

void
segq__worker_ckpt_uploaded (job_t *job)
{
    segq_msg_t *msg = segq_msg_new (SEGQ_MSG_CHECKPOINT);
    segq_checkpoint_t *c = msg ? &msg->u.checkpoint : NULL;
    if (c && (c->job = strdup (job->id)) && (c->name = strdup (job->ckpt.name))) {
        c->attempt = job->attempt;
        memcpy (c->hash, job->ckpt.hash, sizeof c->hash);
        c->size = job->ckpt.size;
        c->step = job->ckpt_step;
        segq__worker_send (job->worker, &msg);
    }
    segq_msg_destroy (&msg);
    segq__worker_ckpt_end (job);
}

/* The child ended: a checkpoint still uploading is of no use any more
   (a requeue happens only if this worker dies, and then nothing goes on). */
void
segq__worker_ckpt_abandon (job_t *job)
{
    if (job->ckpt_uploading) {
        free (job->ckpt_next);
        job->ckpt_next = NULL;
        segq__worker_ckpt_end (job);
    }
}

void
segq__worker_on_checkpoint_ack (segq_worker_t *self, const segq_checkpoint_ack_t *m)
{
    job_t *job = segq__worker_job_find (self, m->job, m->attempt);
    if (!job)
        return;
    if (m->code == 0)
        segq__worker_log_note (job,
                               "checkpoint of step %" PRIu32 " recorded by the broker: a requeued "
                               "attempt resumes from it",
                               m->step);
    else
        segq__worker_log_note (job, "checkpoint of step %" PRIu32 " refused by the broker: %s",
                               m->step, m->message ? m->message : segq_strerror (m->code));
}
