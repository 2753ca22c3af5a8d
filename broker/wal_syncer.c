/*  wal_syncer.c: a thread that fdatasyncs the WAL on request. */
#include "wal_syncer.h"
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

struct segq__wal_syncer {
    char *wal_path;
    char *dir;
    int fd;                     /* the WAL, once it exists */
    bool dir_synced;
    int pipe [2];               /* thread -> reactor: "a sync finished" */
    pthread_t thread;
    pthread_mutex_t lock;
    pthread_cond_t wake;        /* reactor -> thread: new request or stop */
    pthread_cond_t done;        /* thread -> waiters */
    uint64_t requested;         /* under lock */
    uint64_t synced;            /* under lock */
    int error;                  /* under lock: first failure, sticky */
    bool stop;                  /* under lock */
};

static int
s_sync (segq__wal_syncer_t *self)
{
    if (self->fd < 0) {
        self->fd = open (self->wal_path, O_RDWR | O_CLOEXEC);
        if (self->fd < 0)
            return errno == ENOENT ? 0 : errno;     /* nothing written yet */
    }
    if (fdatasync (self->fd) != 0)
        return errno;
    if (!self->dir_synced) {
        int dir = open (self->dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        if (dir < 0 || fsync (dir) != 0) {
            int err = errno;
            if (dir >= 0)
                close (dir);
            return err;
        }
        close (dir);
        self->dir_synced = true;
    }
    return 0;
}

static void *
s_run (void *arg)
{
    segq__wal_syncer_t *self = arg;
    pthread_mutex_lock (&self->lock);
    while (!self->stop || self->requested > self->synced) {
        if (self->requested <= self->synced) {
            pthread_cond_wait (&self->wake, &self->lock);
            continue;
        }
        /* everything committed before this point is covered by this sync */
        uint64_t target = self->requested;
        pthread_mutex_unlock (&self->lock);
        int err = s_sync (self);
        pthread_mutex_lock (&self->lock);
        if (err && !self->error)
            self->error = err;
        if (!self->error)
            self->synced = target;
        pthread_cond_broadcast (&self->done);
        ssize_t n = write (self->pipe [1], "s", 1);    /* a full pipe already wakes the reactor */
        (void) n;
        if (self->error)
            break;
    }
    pthread_mutex_unlock (&self->lock);
    return NULL;
}

segq__wal_syncer_t *
segq__wal_syncer_new (const char *wal_path, const char *dir, char *err, size_t errlen)
{
    segq__wal_syncer_t *self = calloc (1, sizeof *self);
    if (!self) {
        snprintf (err, errlen, "out of memory");
        return NULL;
    }
    self->fd = -1;
    self->pipe [0] = self->pipe [1] = -1;
    self->wal_path = strdup (wal_path);
    self->dir = strdup (dir);
    if (!self->wal_path || !self->dir || pipe (self->pipe) != 0) {
        snprintf (err, errlen, "cannot set up the WAL syncer: %s", strerror (errno));
        goto fail;
    }
    fcntl (self->pipe [0], F_SETFL, O_NONBLOCK);
    fcntl (self->pipe [1], F_SETFL, O_NONBLOCK);
    fcntl (self->pipe [0], F_SETFD, FD_CLOEXEC);
    fcntl (self->pipe [1], F_SETFD, FD_CLOEXEC);
    pthread_mutex_init (&self->lock, NULL);
    pthread_cond_init (&self->wake, NULL);
    pthread_cond_init (&self->done, NULL);
    if (pthread_create (&self->thread, NULL, s_run, self) != 0) {
        snprintf (err, errlen, "cannot start the WAL syncer thread");
        pthread_mutex_destroy (&self->lock);
        pthread_cond_destroy (&self->wake);
        pthread_cond_destroy (&self->done);
        goto fail;
    }
    return self;
fail:
    if (self->pipe [0] >= 0)
        close (self->pipe [0]);
    if (self->pipe [1] >= 0)
        close (self->pipe [1]);
    free (self->wal_path);
    free (self->dir);
    free (self);
    return NULL;
}

void
segq__wal_syncer_destroy (segq__wal_syncer_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    segq__wal_syncer_t *self = *self_p;
    pthread_mutex_lock (&self->lock);
    self->stop = true;
    pthread_cond_signal (&self->wake);
    pthread_mutex_unlock (&self->lock);
    pthread_join (self->thread, NULL);
    pthread_mutex_destroy (&self->lock);
    pthread_cond_destroy (&self->wake);
    pthread_cond_destroy (&self->done);
    if (self->fd >= 0)
        close (self->fd);
    close (self->pipe [0]);
    close (self->pipe [1]);
    free (self->wal_path);
    free (self->dir);
    free (self);
    *self_p = NULL;
}

void
segq__wal_syncer_request (segq__wal_syncer_t *self, uint64_t commit)
{
    pthread_mutex_lock (&self->lock);
    if (commit > self->requested) {
        self->requested = commit;
        pthread_cond_signal (&self->wake);
    }
    pthread_mutex_unlock (&self->lock);
}

int
segq__wal_syncer_fd (segq__wal_syncer_t *self)
{
    return self->pipe [0];
}

uint64_t
segq__wal_syncer_synced (segq__wal_syncer_t *self, int *error)
{
    char buffer [256];
    while (read (self->pipe [0], buffer, sizeof buffer) > 0)
        ;
    pthread_mutex_lock (&self->lock);
    uint64_t synced = self->synced;
    *error = self->error;
    pthread_mutex_unlock (&self->lock);
    return synced;
}

int
segq__wal_syncer_wait (segq__wal_syncer_t *self, uint64_t commit)
{
    pthread_mutex_lock (&self->lock);
    while (self->synced < commit && !self->error)
        pthread_cond_wait (&self->done, &self->lock);
    int error = self->error;
    pthread_mutex_unlock (&self->lock);
    return error;
}
