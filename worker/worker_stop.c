/*  worker_stop.c: a stop that reaches the jobs' children, not only the
    worker.

    Slurm (scancel, preemption, the time limit), systemd with
    KillMode=control-group and container runtimes stop a worker by sending
    SIGTERM to every process it has, its jobs' children included. Such a
    child dies of a signal the worker never sent: its job did not fail, the
    machine under it went away. The worker then gives the attempt back
    instead of reporting it: it drops it from its table without a RESULT
    and, drained, leaves with BYE, on which the broker requeues it (SPEC
    8.4) to run again elsewhere, from its last checkpoint.

    The signals come in no set order: Slurm's process tracking may signal
    the child a moment before the worker. A child that dies of TERM, INT,
    HUP or KILL that the worker did not send (no ABORT, no time limit)
    while the worker has had no stop signal is held in JOB_STOPPED for
    STOP_SETTLE_MS: if the worker's own signal comes within it, the attempt
    is given back; if not, somebody stopped that one process (or the OOM
    killer did), and it failed as before, a moment later.
*/
#define _GNU_SOURCE
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "worker_daemon.h"

#define STOP_SETTLE_MS 1500

/* A signal that stops a whole process tree, not one the worker sent. */
static bool
s_stop_signal (const segq__job_exit_t *status)
{
    int sig = status->signal;
    return !status->success && !status->aborted && !status->timed_out
           && (sig == SIGTERM || sig == SIGINT || sig == SIGHUP || sig == SIGKILL);
}

/* A stop signal read already, or still waiting in the signalfd (the
   child's death can be seen first). */
static bool
s_worker_stopping (segq_worker_t *self)
{
    sigset_t pending;
    if (self->stop_signalled)
        return true;
    if (sigpending (&pending) != 0)
        return false;
    return sigismember (&pending, SIGTERM) == 1 || sigismember (&pending, SIGINT) == 1
           || sigismember (&pending, SIGHUP) == 1;
}

/* The attempt leaves the table unreported: the broker requeues it when
   the worker says BYE (or when it stops hearing from it). */
static void
s_give_back (job_t *job)
{
    segq_worker_t *self = job->worker;
    segq__worker_ckpt_abandon (job);
    segq__worker_log_note (job,
                           "stopped with the worker (signal %d to all its processes: "
                           "Slurm's scancel or time limit, a service stop): given back to "
                           "the broker to run again",
                           job->signal);
    segq__worker_log_flush (job, segq__now_ms ());
    segq__worker_log (self, 0, "%s: its child was stopped with the worker (signal %d): given back",
                      job->key, job->signal);
    segq__worker_job_remove (job);
}

bool
segq__worker_exit_is_node_fault (job_t *job, const segq__job_exit_t *status)
{
    const segq_kind_spec_t *kind = segq_kind_find (job->assign->u.assign.kind);
    if (status->success || status->aborted || status->timed_out || status->signal || !kind
        || kind->test_kind || (status->exit_code != 126 && status->exit_code != 127))
        return false;
    segq__worker_node_fault (job, status->reason);
    return true;
}

void
segq__worker_node_fault (job_t *job, const char *why)
{
    segq_worker_t *self = job->worker;
    segq__worker_log (self, 0,
                      "%s: %s could not be started (%s): this node would fail every job it "
                      "took; fix the installation and start the worker again",
                      job->key, self->segq_run, why);
    self->node_fault = true;
    segq__worker_ckpt_abandon (job);
    segq__worker_log_note (job,
                           "%s could not be started on node %s (%s): given back to the broker "
                           "to run on another node",
                           self->segq_run, self->node, why);
    segq__worker_log_flush (job, segq__now_ms ());
    segq__worker_job_remove (job);
    segq__worker_start_drain (self, "segq-run cannot start", false);
}

/* A held job ends as a failure after all, with what its child's end said
   (or, aborted meanwhile, with the abort's reason). */
static void
s_fail (job_t *job, const char *reason)
{
    job->worker->n_stopped--;
    char *why = strdup (reason ? reason : job->reason ? job->reason : "");
    segq__worker_log_note (job, "%s", why ? why : "stopped by a signal");
    segq__worker_job_finish (job, false, job->exit_code, job->signal, why);
    free (why);
}

bool
segq__worker_stop_reached (job_t *job, const segq__job_exit_t *status)
{
    segq_worker_t *self = job->worker;
    if (!s_stop_signal (status))
        return false;
    job->success = false;
    job->exit_code = status->exit_code;
    job->signal = status->signal;
    free (job->reason);
    job->reason = strdup (status->reason);
    if (s_worker_stopping (self)) {
        s_give_back (job);
        return true;
    }
    job->phase = JOB_STOPPED;
    job->stopped_until_ms = segq__now_ms () + STOP_SETTLE_MS;
    self->n_stopped++;
    segq__worker_log (self, 1,
                      "%s: child killed by signal %d: waiting %d ms to see whether "
                      "the worker is being stopped too",
                      job->key, status->signal, STOP_SETTLE_MS);
    return true;
}

/* The jobs in JOB_STOPPED (copied: giving one back edits the table). */
static size_t
s_stopped_jobs (segq_worker_t *self, job_t **out, size_t max)
{
    size_t n = 0;
    for (job_t *job = zhashx_first (self->jobs); job && n < max; job = zhashx_next (self->jobs))
        if (job->phase == JOB_STOPPED)
            out [n++] = job;
    return n;
}

void
segq__worker_stop_signalled (segq_worker_t *self)
{
    self->stop_signalled = true;
    while (self->n_stopped) {
        job_t *jobs [64];
        size_t n = s_stopped_jobs (self, jobs, 64);
        if (n == 0)
            break; /* cannot happen: n_stopped counts them */
        for (size_t i = 0; i < n; i++) {
            self->n_stopped--;
            s_give_back (jobs [i]);
        }
    }
}

void
segq__worker_stop_tick (segq_worker_t *self, int64_t now)
{
    if (!self->n_stopped)
        return;
    if (s_worker_stopping (self))
        return; /* the signal is in the signalfd: its handler gives them back */
    job_t *jobs [64];
    size_t n = s_stopped_jobs (self, jobs, 64);
    for (size_t i = 0; i < n; i++)
        if (now >= jobs [i]->stopped_until_ms)
            s_fail (jobs [i], NULL);
}

void
segq__worker_stop_abort (job_t *job, const char *reason)
{
    s_fail (job, reason);
}
