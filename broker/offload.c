/*  offload.c: a few threads for the broker's blocking work. */
#include "offload.h"
#include <errno.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <unistd.h>
#include "segq_error.h"

typedef struct job {
    segq__offload_fn *work, *done;
    void *arg;
    struct job *next;
} job_t;

/* A first-in first-out list of jobs. */
typedef struct {
    job_t *head, *tail;
} jobs_t;

struct segq__offload {
    pthread_mutex_t lock; /* guards the lists and stopping */
    pthread_cond_t wake;  /* a job to do, or stopping */
    jobs_t todo, finished;
    bool stopping;
    int fd; /* eventfd, counting finished jobs not yet delivered */
    size_t n_threads;
    pthread_t *threads;
};

static void
s_push (jobs_t *list, job_t *job)
{
    job->next = NULL;
    if (list->tail)
        list->tail->next = job;
    else
        list->head = job;
    list->tail = job;
}

static job_t *
s_pop (jobs_t *list)
{
    job_t *job = list->head;
    if (job && !(list->head = job->next))
        list->tail = NULL;
    return job;
}

static void
s_free_all (jobs_t *list)
{
    job_t *job;
    while ((job = s_pop (list)))
        free (job);
}

static void *
s_thread (void *arg)
{
    segq__offload_t *self = arg;
    pthread_mutex_lock (&self->lock);
    for (;;) {
        job_t *job = s_pop (&self->todo);
        if (!job && self->stopping)
            break;
        if (!job) {
            pthread_cond_wait (&self->wake, &self->lock);
            continue;
        }
        pthread_mutex_unlock (&self->lock);
        job->work (job->arg);
        pthread_mutex_lock (&self->lock);
        s_push (&self->finished, job);
        /* cannot fail short of 2^64 - 1 undelivered jobs */
        uint64_t one = 1;
        ssize_t wrote = write (self->fd, &one, sizeof one);
        (void) wrote;
    }
    pthread_mutex_unlock (&self->lock);
    return NULL;
}

/* Stops and joins the first `started` threads. */
static void
s_stop (segq__offload_t *self, size_t started)
{
    pthread_mutex_lock (&self->lock);
    self->stopping = true;
    pthread_cond_broadcast (&self->wake);
    pthread_mutex_unlock (&self->lock);
    for (size_t i = 0; i < started; i++)
        pthread_join (self->threads [i], NULL);
}

segq__offload_t *
segq__offload_new (size_t threads, char *err, size_t errlen)
{
    segq__offload_t *self = threads ? calloc (1, sizeof *self) : NULL;
    if (self && !(self->threads = calloc (threads, sizeof *self->threads))) {
        free (self);
        self = NULL;
    }
    if (!self) {
        snprintf (err, errlen, threads ? "out of memory" : "an offload needs a thread");
        return NULL;
    }
    pthread_mutex_init (&self->lock, NULL);
    pthread_cond_init (&self->wake, NULL);
    self->fd = eventfd (0, EFD_NONBLOCK | EFD_CLOEXEC);
    if (self->fd < 0) {
        snprintf (err, errlen, "cannot make an eventfd: %s", strerror (errno));
        segq__offload_destroy (&self);
        return NULL;
    }
    for (; self->n_threads < threads; self->n_threads++) {
        int rc = pthread_create (&self->threads [self->n_threads], NULL, s_thread, self);
        if (rc) {
            snprintf (err, errlen, "cannot start a thread: %s", strerror (rc));
            segq__offload_destroy (&self);
            return NULL;
        }
    }
    return self;
}

void
segq__offload_destroy (segq__offload_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    segq__offload_t *self = *self_p;
    s_stop (self, self->n_threads);
    s_free_all (&self->todo);
    s_free_all (&self->finished);
    if (self->fd >= 0)
        close (self->fd);
    pthread_cond_destroy (&self->wake);
    pthread_mutex_destroy (&self->lock);
    free (self->threads);
    free (self);
    *self_p = NULL;
}

int
segq__offload_fd (segq__offload_t *self)
{
    return self->fd;
}

int
segq__offload_run (segq__offload_t *self, segq__offload_fn *work, segq__offload_fn *done, void *arg)
{
    job_t *job = calloc (1, sizeof *job);
    if (!job)
        return SEGQ_ENOMEM;
    *job = (job_t){ .work = work, .done = done, .arg = arg };
    pthread_mutex_lock (&self->lock);
    s_push (&self->todo, job);
    pthread_cond_signal (&self->wake);
    pthread_mutex_unlock (&self->lock);
    return 0;
}

size_t
segq__offload_deliver (segq__offload_t *self)
{
    uint64_t count;
    pthread_mutex_lock (&self->lock);
    /* reset with the list taken, under the lock that a thread holds to add
       a job and set it: the fd is readable exactly while jobs are left */
    ssize_t got = read (self->fd, &count, sizeof count);
    (void) got;
    jobs_t finished = self->finished;
    self->finished = (jobs_t){ 0 };
    pthread_mutex_unlock (&self->lock);
    size_t n = 0;
    job_t *job;
    while ((job = s_pop (&finished))) {
        job->done (job->arg);
        free (job);
        n++;
    }
    return n;
}
