/*  audit.c: see audit.h. */
#include "audit.h"
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

struct segq__audit {
    int fd;
    char path [4200];
    char *held; /* lines waiting for the turn's commit */
    size_t n_held, cap_held;
    bool failed;     /* a write failed: said once on stderr */
    uint64_t missed; /* events lost for want of memory: the first said, all counted at stop */
};

segq__audit_t *
segq__audit_new (const char *data_dir, char *err, size_t errlen)
{
    segq__audit_t *self = calloc (1, sizeof *self);
    if (!self) {
        snprintf (err, errlen, "out of memory");
        return NULL;
    }
    snprintf (self->path, sizeof self->path, "%s/audit.log", data_dir);
    self->fd = open (self->path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600);
    if (self->fd < 0) {
        snprintf (err, errlen, "cannot open the audit log %s: %s", self->path, strerror (errno));
        free (self);
        return NULL;
    }
    /* a file made by an older segqd or by hand must not stay readable */
    if (fchmod (self->fd, 0600) != 0) {
        snprintf (err, errlen, "cannot make the audit log %s private: %s", self->path,
                  strerror (errno));
        close (self->fd);
        free (self);
        return NULL;
    }
    return self;
}

void
segq__audit_destroy (segq__audit_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    segq__audit_t *self = *self_p;
    segq__audit_flush (self);
    if (self->fd >= 0 && fsync (self->fd) != 0)
        fprintf (stderr, "segqd: cannot sync the audit log %s: %s\n", self->path, strerror (errno));
    if (self->fd >= 0)
        close (self->fd);
    if (self->missed)
        fprintf (stderr, "segqd: %" PRIu64 " audit event(s) lost for want of memory\n",
                 self->missed);
    free (self->held);
    free (self);
    *self_p = NULL;
}

json_t *
segq__audit_event (const char *action, const char *user, const char *role, const char *peer,
                   const char *key)
{
    struct timespec ts;
    clock_gettime (CLOCK_REALTIME, &ts);
    struct tm tm;
    gmtime_r (&ts.tv_sec, &tm);
    char when [40], stamp [64];
    strftime (when, sizeof when, "%Y-%m-%dT%H:%M:%S", &tm);
    snprintf (stamp, sizeof stamp, "%s.%03ldZ", when, ts.tv_nsec / 1000000);
    json_t *event = json_object ();
    if (!event)
        return NULL;
    json_object_set_new (event, "time", json_string (stamp));
    json_object_set_new (event, "action", json_string (action));
    if (user)
        json_object_set_new (event, "user", json_string (user));
    if (role)
        json_object_set_new (event, "role", json_string (role));
    if (peer)
        json_object_set_new (event, "peer", json_string (peer));
    if (key && *key)
        json_object_set_new (event, "key", json_string (key));
    return event;
}

static void
s_write (segq__audit_t *self, const char *data, size_t size)
{
    while (size) {
        ssize_t n = write (self->fd, data, size);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0) {
            if (!self->failed)
                fprintf (stderr, "segqd: cannot write the audit log %s: %s\n", self->path,
                         n < 0 ? strerror (errno) : "short write");
            self->failed = true;
            return;
        }
        data += n;
        size -= (size_t) n;
    }
}

/* An event that could not be kept (out of memory): the trail has a gap,
   which the admin must learn of (a restore reads array ids from it). */
static void
s_missed (segq__audit_t *self)
{
    if (!self->missed++)
        fprintf (stderr, "segqd: out of memory: an event of the audit log %s is lost\n",
                 self->path);
}

void
segq__audit_write (segq__audit_t *self, json_t **event_p, bool held)
{
    json_t *event = *event_p;
    *event_p = NULL;
    if (!event)
        return;
    char *line = json_dumps (event, JSON_COMPACT | JSON_PRESERVE_ORDER);
    json_decref (event);
    if (!line) {
        s_missed (self);
        return;
    }
    size_t len = strlen (line);
    if (!held) {
        char *full = realloc (line, len + 2);
        if (full) {
            full [len] = '\n';
            s_write (self, full, len + 1);
            line = full;
        } else
            s_missed (self);
        free (line);
        return;
    }
    if (self->n_held + len + 1 > self->cap_held) {
        size_t capacity = self->cap_held ? self->cap_held * 2 : 4096;
        while (capacity < self->n_held + len + 1)
            capacity *= 2;
        char *grown = realloc (self->held, capacity);
        if (!grown) {
            s_missed (self);
            free (line);
            return;
        }
        self->held = grown;
        self->cap_held = capacity;
    }
    memcpy (self->held + self->n_held, line, len);
    self->held [self->n_held + len] = '\n';
    self->n_held += len + 1;
    free (line);
}

void
segq__audit_flush (segq__audit_t *self)
{
    if (self->n_held)
        s_write (self, self->held, self->n_held);
    self->n_held = 0;
}

void
segq__audit_drop (segq__audit_t *self)
{
    self->n_held = 0;
}
