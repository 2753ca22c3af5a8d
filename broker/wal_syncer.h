/*  wal_syncer.h: makes committed transactions durable off the reactor.

    The job store commits with synchronous=NORMAL: COMMIT appends to the
    WAL with write() and returns at once. This thread then fdatasyncs the
    WAL file; only when a sync that began after a commit has finished are
    that commit's acknowledgements sent. That is the same guarantee as
    synchronous=FULL (nothing acknowledged is lost in a power cut), but the
    reactor goes on handling the next batch while the disk syncs, so one
    slow fsync no longer stalls everyone, and one sync covers every commit
    made before it started.
*/
#ifndef SEGQ_WAL_SYNCER_H
#define SEGQ_WAL_SYNCER_H

#include <stddef.h>
#include <stdint.h>

typedef struct segq__wal_syncer segq__wal_syncer_t;

/* wal_path: the database's "-wal" file (opened once it exists); dir: the
   folder holding it (synced once, so the file's name is durable too). */
segq__wal_syncer_t *segq__wal_syncer_new (const char *wal_path, const char *dir,
                                          char *err, size_t errlen);
/* Waits for the sync in progress, then stops the thread. */
void segq__wal_syncer_destroy (segq__wal_syncer_t **self_p);

/* Ask for commit number `commit` (increasing) to be made durable. */
void segq__wal_syncer_request (segq__wal_syncer_t *self, uint64_t commit);

/* A file descriptor that becomes readable when a sync completes. */
int segq__wal_syncer_fd (segq__wal_syncer_t *self);

/* Drains the notifications; returns the highest commit number durable now.
   A failed sync is fatal (the kernel may have dropped the data): *error
   gets the errno, and nothing after it may be acknowledged. */
uint64_t segq__wal_syncer_synced (segq__wal_syncer_t *self, int *error);

/* Blocks until `commit` is durable (shutdown). Returns 0 or an errno. */
int segq__wal_syncer_wait (segq__wal_syncer_t *self, uint64_t commit);

#endif
