/*  job_log.c: per-job log files. Logs are not fsynced: losing the last
    lines of a log in a power cut is acceptable, slowing every job is not. */
#include "job_log.h"
#include "segq_error.h"
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

struct segq__job_log {
    char dir [4096];
};

segq__job_log_t *
segq__job_log_new (const char *data_dir, char *err, size_t errlen)
{
    segq__job_log_t *self = calloc (1, sizeof *self);
    if (!self) {
        snprintf (err, errlen, "out of memory");
        return NULL;
    }
    snprintf (self->dir, sizeof self->dir, "%s/logs", data_dir);
    if (mkdir (self->dir, 0700) != 0 && errno != EEXIST) {
        snprintf (err, errlen, "cannot create %s: %s", self->dir, strerror (errno));
        free (self);
        return NULL;
    }
    return self;
}

void
segq__job_log_destroy (segq__job_log_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    free (*self_p);
    *self_p = NULL;
}

int
segq__job_log_append (segq__job_log_t *self, const char *job, const void *data, size_t size)
{
    char path [4200];
    snprintf (path, sizeof path, "%s/%s.log", self->dir, job);
    int fd = open (path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600);
    if (fd < 0)
        return errno == ENOSPC ? SEGQ_ENOSPC : SEGQ_EIO;
    int rc = 0;
    off_t start = lseek (fd, 0, SEEK_END);
    const char *p = data;
    while (size) {
        ssize_t n = write (fd, p, size);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0) {
            rc = n < 0 && errno == ENOSPC ? SEGQ_ENOSPC : SEGQ_EIO;
            break;
        }
        p += n;
        size -= (size_t) n;
    }
    /* all or nothing: the caller counts what is lost, and no line is cut */
    if (rc && start >= 0 && ftruncate (fd, start) != 0)
        rc = SEGQ_EIO;
    close (fd);
    return rc;
}

int
segq__job_log_read (segq__job_log_t *self, const char *job, uint64_t offset, size_t max,
                    uint8_t **data, size_t *size, uint64_t *total)
{
    *data = NULL;
    *size = 0;
    *total = 0;
    char path [4200];
    snprintf (path, sizeof path, "%s/%s.log", self->dir, job);
    int fd = open (path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return errno == ENOENT ? 0 : SEGQ_EIO;
    struct stat st;
    int rc = fstat (fd, &st) == 0 ? 0 : SEGQ_EIO;
    if (rc == 0) {
        *total = (uint64_t) st.st_size;
        size_t want =
            offset < *total ? (size_t) (*total - offset < max ? *total - offset : max) : 0;
        if (want) {
            *data = malloc (want);
            ssize_t n = *data ? pread (fd, *data, want, (off_t) offset) : -1;
            if (n < 0) {
                rc = *data ? SEGQ_EIO : SEGQ_ENOMEM;
                free (*data);
                *data = NULL;
            } else
                *size = (size_t) n;
        }
    }
    close (fd);
    return rc;
}

int
segq__job_log_remove (segq__job_log_t *self, const char *job)
{
    char path [4200];
    snprintf (path, sizeof path, "%s/%s.log", self->dir, job);
    return unlink (path) == 0 || errno == ENOENT ? 0 : SEGQ_EIO;
}
