/*  broker_waiters.c: STATUS requests that wait for one of their jobs to end.

    A client waiting for jobs (segq wait) would otherwise ask again and
    again, and learn of an end only at its next question. A STATUS that
    names its jobs and a `wait` is kept here instead, and answered as soon
    as the end of one of them is committed (s_turn_end calls
    segq__broker_waiters_wake after each commit that ended a job), or by
    its own timer when the time is up. The answer is the one STATUS gives
    at that moment, through the same access rule.

    What a peer can make the broker hold is bounded: WAITERS_MAX requests
    and WAITING_JOBS_MAX jobs named in all (each commit that ended a job
    looks them all up), WAITERS_PER_PEER requests of one connection; past
    that a STATUS is answered at once, and its client asks again later as
    it would have. A client that went away is answered into the void when
    its time is up. */
#include "broker_internal.h"
#include <stdlib.h>
#include <string.h>

#define WAITERS_MAX      256
#define WAITERS_PER_PEER 8
#define WAITING_JOBS_MAX 2048

struct segq__waiter {
    segq_broker_t *broker;
    zframe_t *peer;
    uint64_t req_id;
    char *user; /* the caller as the request was admitted (access.h) */
    bool admin;
    bool detail;
    uint64_t *ids;
    size_t n_ids;
    int timer;
};

static void
s_waiter_destroy (segq__waiter_t **self_p)
{
    segq__waiter_t *self = *self_p;
    if (!self)
        return;
    if (self->timer >= 0 && self->broker->loop)
        zloop_timer_end (self->broker->loop, self->timer);
    zframe_destroy (&self->peer);
    free (self->user);
    free (self->ids);
    free (self);
    *self_p = NULL;
}

/* Answers waiter i and forgets it (the last one takes its place). */
static void
s_answer (segq_broker_t *self, size_t i)
{
    segq__waiter_t *w = self->waiters [i];
    segq__caller_t caller = { w->user, w->admin };
    segq__broker_status_answer (self, w->peer, w->req_id, &caller, w->ids, w->n_ids, w->detail,
                                NULL);
    self->waiters [i] = self->waiters [--self->n_waiters];
    s_waiter_destroy (&w);
}

static bool
s_any_ended (segq_broker_t *self, const segq__waiter_t *w)
{
    /* the jobs map holds every job that has not ended */
    for (size_t i = 0; i < w->n_ids; i++)
        if (!segq__jobs_find (self->jobs, w->ids [i]))
            return true;
    return false;
}

static int
s_on_time_up (zloop_t *loop, int timer, void *arg)
{
    (void) loop;
    segq__waiter_t *w = arg;
    segq_broker_t *self = w->broker;
    (void) timer;
    w->timer = -1; /* a one-shot timer: zloop ends it itself */
    for (size_t i = 0; i < self->n_waiters; i++)
        if (self->waiters [i] == w) {
            s_answer (self, i);
            break;
        }
    /* between turns: the outbox holds only this answer */
    segq__broker_flush (self, true);
    return 0;
}

/* Whether one more request of peer, naming n_ids jobs, may wait. */
static bool
s_room_for (const segq_broker_t *self, zframe_t *peer, size_t n_ids)
{
    size_t of_peer = 0, jobs = n_ids;
    for (size_t i = 0; i < self->n_waiters; i++) {
        of_peer += zframe_eq (self->waiters [i]->peer, peer);
        jobs += self->waiters [i]->n_ids;
    }
    return self->n_waiters < WAITERS_MAX && of_peer < WAITERS_PER_PEER && jobs <= WAITING_JOBS_MAX;
}

bool
segq__broker_waiters_park (segq_broker_t *self, zframe_t *peer, uint64_t req_id,
                           const segq__caller_t *caller, const uint64_t *ids, size_t n_ids,
                           bool detail, int wait_ms)
{
    if (wait_ms <= 0 || n_ids == 0 || !s_room_for (self, peer, n_ids))
        return false;
    for (size_t i = 0; i < n_ids; i++)
        if (!segq__jobs_find (self->jobs, ids [i]))
            return false; /* one has ended already: the answer is now */
    segq__waiter_t *w = calloc (1, sizeof *w);
    if (!w)
        return false;
    *w = (segq__waiter_t){ .broker = self,
                           .req_id = req_id,
                           .admin = caller->admin,
                           .detail = detail,
                           .n_ids = n_ids,
                           .timer = -1 };
    w->peer = zframe_dup (peer);
    w->user = caller->user ? strdup (caller->user) : NULL;
    w->ids = malloc (n_ids * sizeof *w->ids);
    if (w->ids)
        memcpy (w->ids, ids, n_ids * sizeof *ids);
    if (w->peer && w->ids && (w->user || !caller->user))
        w->timer = zloop_timer (self->loop, (size_t) wait_ms, 1, s_on_time_up, w);
    if (w->timer < 0) {
        s_waiter_destroy (&w);
        return false;
    }
    self->waiters [self->n_waiters++] = w;
    return true;
}

void
segq__broker_waiters_wake (segq_broker_t *self)
{
    for (size_t i = self->n_waiters; i-- > 0;)
        if (s_any_ended (self, self->waiters [i]))
            s_answer (self, i);
    segq__broker_flush (self, true);
}

/* The array is fixed: a peer cannot make it grow. */
int
segq__broker_waiters_init (segq_broker_t *self)
{
    self->waiters = calloc (WAITERS_MAX, sizeof *self->waiters);
    return self->waiters ? 0 : SEGQ_ENOMEM;
}

void
segq__broker_waiters_destroy (segq_broker_t *self)
{
    while (self->n_waiters)
        s_waiter_destroy (&self->waiters [--self->n_waiters]);
    free (self->waiters);
    self->waiters = NULL;
}
