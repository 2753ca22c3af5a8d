/*  artifact_store.h: content-addressed files under DATA/artifacts.

    An artifact lives at artifacts/<first two hex digits>/<sha256>. Uploads
    go to a private temporary file in artifacts/tmp, are hashed as they
    arrive, and are renamed into place only after their size and sha256
    are verified and the data is fsynced: a file under its hash is always
    complete and correct. Modes are private (0700 folders, 0600 files):
    artifacts are patient data.
*/
#ifndef SEGQ_ARTIFACT_STORE_H
#define SEGQ_ARTIFACT_STORE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include "segq_sha256.h"

typedef struct segq__artifact_store segq__artifact_store_t;
typedef struct segq__upload segq__upload_t;
typedef struct segq__download segq__download_t;

/* Creates DATA/artifacts (and tmp/, emptied of uploads a crash left). */
segq__artifact_store_t *segq__artifact_store_new (const char *data_dir, char *err, size_t errlen);
void segq__artifact_store_destroy (segq__artifact_store_t **self_p);

/* Where the artifact `hash` (a valid one) is stored, whether it is or not:
   for a reader that opens it itself. */
void segq__artifact_store_path (segq__artifact_store_t *self, const char *hash, char *out,
                                size_t outlen);

/* True if the artifact is stored; its size in *size (if not NULL). */
bool segq__artifact_store_has (segq__artifact_store_t *self, const char *hash, uint64_t *size);

/* The bytes free for uploads on the store's file system (what an
   unprivileged writer may use). 0, or SEGQ_EIO when it cannot be asked. */
int segq__artifact_store_free (segq__artifact_store_t *self, uint64_t *bytes);

/* How many artifacts are stored and their bytes (segqd's metrics). Counted
   by one walk of the folder at the first call, then kept as files come
   and go: uploads and removals are the store's own. */
void segq__artifact_store_totals (segq__artifact_store_t *self, uint64_t *files, uint64_t *bytes);
/* Removes a stored artifact (a download in progress keeps reading its open
   file). *size gets the bytes freed (0 when it was not there). SEGQ_EIO. */
int segq__artifact_store_remove (segq__artifact_store_t *self, const char *hash, uint64_t *size);

/* Starts an upload of `size` bytes that must hash to `hash`, or to the hash
   given to segq__upload_finish when `hash` is NULL or "" (the sender hashes
   while it sends and names the hash at the end). */
segq__upload_t *segq__artifact_store_upload (segq__artifact_store_t *self, const char *hash,
                                             uint64_t size, char *err, size_t errlen);
/* Appends data at offset (which must be where the last write ended).
   SEGQ_EINVAL (wrong offset, beyond the size), SEGQ_ENOSPC, SEGQ_EIO. */
int segq__upload_write (segq__upload_t *self, uint64_t offset, const void *data, size_t size,
                        char *err, size_t errlen);
/* Verifies size and sha256 (against the hash given at the start and
   end_hash, either of which may be NULL or "", not both), fsyncs and moves
   the file under its hash; when the store has that artifact already, the
   copy is dropped instead (one copy per hash). *stored_hash (if not NULL)
   gets the hash. SEGQ_EHASH (nothing stored), SEGQ_EINVAL (short, or no hash
   named at all), SEGQ_ENOSPC, SEGQ_EIO. It waits on the disk, so it may
   run on a thread of its own while the store serves other calls on the
   store's thread (the broker's offload): it uses nothing but its upload
   and the store's files, and the totals under the store's lock. */
int segq__upload_finish (segq__upload_t *self, const char *end_hash,
                         char stored_hash [SEGQ_HASH_HEX_LEN + 1], char *err, size_t errlen);
uint64_t segq__upload_received (segq__upload_t *self);
/* Drops an unfinished upload (its temporary file is removed). */
void segq__upload_destroy (segq__upload_t **self_p);

/* Opens a stored artifact for reading; SEGQ_ENOENT via NULL + err. */
segq__download_t *segq__artifact_store_download (segq__artifact_store_t *self, const char *hash,
                                                 char *err, size_t errlen);
uint64_t segq__download_size (segq__download_t *self);
/* The open file, taken out of the download (which is destroyed): for a
   sender that reads it itself (the HTTP listener hands it to
   libmicrohttpd). The caller closes it. */
int segq__download_take_fd (segq__download_t **self_p);
/* Reads up to size bytes at offset; returns bytes read or a negative code.
   It may wait for the disk, and uses nothing but its download: it may run
   on a thread of its own (the broker's offload). */
int64_t segq__download_read (segq__download_t *self, uint64_t offset, void *buffer, size_t size);
/* The same, but only from memory (the page cache): when the bytes are not
   all there, *would_wait is set and 0 returned without waiting for the
   disk (nor on a file system that cannot say), and the caller reads them
   with segq__download_read where waiting stalls no one. */
int64_t segq__download_read_cached (segq__download_t *self, uint64_t offset, void *buffer,
                                    size_t size, bool *would_wait);
void segq__download_destroy (segq__download_t **self_p);

#endif
