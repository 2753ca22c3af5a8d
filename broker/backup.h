/*  backup.h: a consistent copy of the running broker's database.

    The broker holds its database with locking_mode=EXCLUSIVE, so no other
    process can read it; the copy is made by the broker itself with
    SQLite's online backup API over its own connection, a bounded number
    of pages per step, stepped between loop turns (never inside a turn's
    transaction) so dispatch never stalls. Writes the broker makes to the
    database meanwhile are carried into the copy by SQLite (same
    connection), so it is the state as of the last step. The copy goes to
    PATH.part (0600, created exclusively), is synced, and renamed to PATH.
*/
#ifndef SEGQ_BACKUP_H
#define SEGQ_BACKUP_H

#include "job_store.h"
#include <stddef.h>
#include <stdint.h>

typedef struct segq__backup segq__backup_t;

/* path: absolute, not existing, in an existing folder. NULL with err
   (and *code: SEGQ_EINVAL, SEGQ_EEXIST, SEGQ_EIO) on failure. */
segq__backup_t *segq__backup_start (segq__job_store_t *store, const char *path, int *code,
                                    char *err, size_t errlen);
/* Copies up to `pages` pages. 1: more to do; 0: the copy is complete and
   in place; negative: failed (err says why; nothing left at path). */
int segq__backup_step (segq__backup_t *self, int pages, char *err, size_t errlen);
const char *segq__backup_path (segq__backup_t *self);
uint64_t segq__backup_size (segq__backup_t *self); /* once complete */
uint64_t segq__backup_jobs (segq__backup_t *self); /* once complete */
/* Abandons an unfinished copy (its .part file is removed). */
void segq__backup_destroy (segq__backup_t **self_p);

#endif
