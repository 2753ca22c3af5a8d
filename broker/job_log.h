/*  job_log.h: each job's log, DATA/logs/<job>.log (private, append-only).

    A job's attempts share one file; the broker writes a line
    "=== attempt N on NODE ===" before each attempt's output.
*/
#ifndef SEGQ_JOB_LOG_H
#define SEGQ_JOB_LOG_H

#include <stddef.h>
#include <stdint.h>

typedef struct segq__job_log segq__job_log_t;

segq__job_log_t *segq__job_log_new (const char *data_dir, char *err, size_t errlen);
void segq__job_log_destroy (segq__job_log_t **self_p);

/* Appends to the job's log. SEGQ_ENOSPC, SEGQ_EIO. */
int segq__job_log_append (segq__job_log_t *self, const char *job, const void *data, size_t size);

/* Removes the job's log (purge, retention); 0 when it had none. SEGQ_EIO. */
int segq__job_log_remove (segq__job_log_t *self, const char *job);

/* Reads up to max bytes at offset into a new buffer (*data, owned by the
   caller; NULL when nothing). *total gets the log's size (0 when it has
   none yet). */
int segq__job_log_read (segq__job_log_t *self, const char *job, uint64_t offset, size_t max,
                        uint8_t **data, size_t *size, uint64_t *total);

#endif
