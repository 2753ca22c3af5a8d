/*  job_store.h: the broker's durable state in SQLite.

    WAL mode, synchronous=FULL: segq__job_store_commit appends the batch
    to the WAL and returns once the WAL file is synced, so the batch is
    durable. The reactor opens one transaction per loop turn
    (segq__job_store_begin is idempotent), writes every submit and
    transition of that turn into it, commits, and only then sends the
    acknowledgements: that is the group commit.

    The schema carries its version in table schema_version; opening an older
    database migrates it in place, one migration function per version.
*/
#ifndef SEGQ_JOB_STORE_H
#define SEGQ_JOB_STORE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include "segq_proto.h"

#define SEGQ_STORE_SCHEMA_VERSION 9
#define SEGQ__JOB_ID_MAX          16 /* bytes of a printable job id, NUL included */
#define SEGQ__ARRAY_ID_MAX        18 /* "a-" and a job id */

typedef struct segq__job_store segq__job_store_t;

/* A job's row, as inserted at submit and as loaded at start. Strings are
   borrowed (insert) or valid during the callback (load). */
typedef struct {
    uint64_t id;
    const char *owner;
    const char *kind;
    int state; /* segq_job_state_t */
    int32_t priority;
    uint32_t attempt;
    uint32_t max_attempts;
    uint64_t gpu_mem;
    uint32_t cpu_slots;
    uint32_t time_limit_s;
    double created;
    const char *worker;     /* load: node of a running job, or NULL */
    int32_t gpu;            /* load: GPU index of a running job, -1 none */
    const char *cancel;     /* load: a cancel asked while running, or NULL */
    uint32_t n_transitions; /* load: transitions stored so far */
    bool has_inputs;        /* load: rows in inputs */
    bool held;              /* load: `segq hold` */
    double started;         /* load: when a running job's attempt began */
} segq__job_row_t;

/* One input row: an artifact (hash set, ref_job 0) or a reference to
   another job's output (ref_job set, ref_output NULL = principal). An
   artifact that is a catalogue model's checkpoint names the model too. */
typedef struct {
    const char *name;
    const char *hash; /* or NULL */
    uint64_t size;
    uint64_t ref_job;
    const char *ref_output;
    uint64_t model; /* the model's training job, or 0 */
} segq__input_row_t;

/* Job ids: lowercase Crockford base-32 of the job number, at least 4
   digits ("000k"), so they are short, unambiguous and never reused. */
void segq__job_id_format (uint64_t number, char out [SEGQ__JOB_ID_MAX]);
/* 0 if text is not a job id this broker could have made. */
uint64_t segq__job_id_parse (const char *text);
/* "unknown job 'TEXT'" into err; for a model's id (m-NNNN) given as a
   job's, says so and names the model's training job. */
void segq__job_unknown (const char *text, char *err, size_t errlen);

/* Opens (creating and migrating as needed) the database at path. */
segq__job_store_t *segq__job_store_open (const char *path, char *err, size_t errlen);
void segq__job_store_destroy (segq__job_store_t **self_p);
int segq__job_store_schema_version (segq__job_store_t *self);

/* The connection, for the broker's own modules that keep their statements
   beside this store's (retention, access checks, backup). Not for writes
   outside the current transaction. */
typedef struct sqlite3 sqlite3;
sqlite3 *segq__job_store_db (segq__job_store_t *self);

/* Of a database the caller opened, not a store (`segqd restore` looks at
   a backup and at the database it replaces): the schema version (0 when
   the file has none: not a segq database) and the next job number.
   SEGQ_EIO when it cannot be read. */
int segq__job_store_read_version (sqlite3 *db, int *version);
int segq__job_store_read_next_id (sqlite3 *db, uint64_t *next_id);

/* Transactions: begin is idempotent; commit makes the batch durable. On a
   commit failure the batch is rolled back and the error says why. */
int segq__job_store_begin (segq__job_store_t *self);
bool segq__job_store_in_transaction (segq__job_store_t *self);
int segq__job_store_commit (segq__job_store_t *self, char *err, size_t errlen);
void segq__job_store_rollback (segq__job_store_t *self);

/* A new job number (persisted with the transaction that uses it). */
uint64_t segq__job_store_next_id (segq__job_store_t *self);
/* Job numbers from now on are at least floor, committed at once (outside
   a turn): after a restore, no id the lost state gave is given again.
   Never lowers the counter. */
int segq__job_store_raise_next_id (segq__job_store_t *self, uint64_t floor, char *err,
                                   size_t errlen);

/* Writes; all inside the current transaction. */
int segq__job_store_insert_job (segq__job_store_t *self, const segq__job_row_t *row,
                                const segq_params_t *params);
int segq__job_store_insert_input (segq__job_store_t *self, uint64_t job, uint32_t n,
                                  const segq__input_row_t *input);
int segq__job_store_insert_dep (segq__job_store_t *self, uint64_t job, uint64_t on_job,
                                bool explicit_after);
int segq__job_store_add_transition (segq__job_store_t *self, uint64_t job, uint32_t n, int state,
                                    double time, const char *reason);
int segq__job_store_set_running (segq__job_store_t *self, uint64_t job, uint32_t attempt,
                                 const char *worker, int32_t gpu, double time);
int segq__job_store_set_queued (segq__job_store_t *self, uint64_t job);
int segq__job_store_set_priority (segq__job_store_t *self, uint64_t job, int32_t priority);
int segq__job_store_set_final (segq__job_store_t *self, uint64_t job, int state, double time,
                               const char *reason, int32_t exit_code, int32_t signal);
int segq__job_store_set_cancel (segq__job_store_t *self, uint64_t job, const char *reason);
int segq__job_store_set_held (segq__job_store_t *self, uint64_t job, bool held);
int segq__job_store_insert_output (segq__job_store_t *self, uint64_t job,
                                   const segq_artifact_t *output);
/* Job `job` was submitted as a retry of job `of` (schema 8). */
int segq__job_store_insert_retry (segq__job_store_t *self, uint64_t job, uint64_t of);
/* The newest job of the chain of retries job `of` is in (its retry, that
   one's, ...), or 0 when none is newer than `of`. */
uint64_t segq__job_store_newest_retry (segq__job_store_t *self, uint64_t of);
/* The newest checkpoint of a running job (replaces the one before). */
int segq__job_store_set_checkpoint (segq__job_store_t *self, uint64_t job, uint32_t attempt,
                                    const segq_artifact_t *checkpoint, uint32_t step, double time);
int segq__job_store_worker_seen (segq__job_store_t *self, const char *node, double time,
                                 uint32_t cpu_slots, const char *gpus, const char *kinds);

/* Reads. Callbacks return 0 to go on, non-zero to stop (returned). */
typedef int (segq__job_row_fn) (void *arg, const segq__job_row_t *row);
typedef int (segq__input_row_fn) (void *arg, const segq__input_row_t *row);
typedef int (segq__dep_row_fn) (void *arg, uint64_t job, uint64_t on_job);
typedef int (segq__artifact_fn) (void *arg, const segq_artifact_t *artifact);

/* Every waiting, queued and running job, in id order. */
int segq__job_store_load_active (segq__job_store_t *self, segq__job_row_fn *fn, void *arg);
/* The first (lowest) job this one waits for that has not succeeded, and
   how many it waits for; SEGQ_ENOENT when none. */
int segq__job_store_first_pending_dep (segq__job_store_t *self, uint64_t job, uint64_t *on_job,
                                       uint32_t *count);
/* Dependencies of every waiting job. */
int segq__job_store_load_waiting_deps (segq__job_store_t *self, segq__dep_row_fn *fn, void *arg);

/* The few facts about any job (final ones included) that the broker
   checks without loading it; SEGQ_ENOENT if unknown. */
typedef struct {
    int state;
    uint32_t attempt;
    char owner [256];
    char kind [64];
    bool purged; /* its artifacts are gone (purge or retention) */
} segq__job_brief_t;
int segq__job_store_brief (segq__job_store_t *self, uint64_t job, segq__job_brief_t *out);
int segq__job_store_params (segq__job_store_t *self, uint64_t job, segq_params_t *params);
int segq__job_store_inputs (segq__job_store_t *self, uint64_t job, segq__input_row_fn *fn,
                            void *arg);
/* The content (sha256) of the job's input `input` (NAME or NAME/...; a
   job it names: that job's output), once known; SEGQ_ENOENT before. */
int segq__job_store_input_hash (segq__job_store_t *self, uint64_t job, const char *input,
                                char hash [SEGQ_HASH_HEX_LEN + 1]);
int segq__job_store_outputs (segq__job_store_t *self, uint64_t job, segq__artifact_fn *fn,
                             void *arg);
/* One output by name; SEGQ_ENOENT if the job has none of that name. */
int segq__job_store_output (segq__job_store_t *self, uint64_t job, const char *name,
                            segq_artifact_t *out);

/* The job's newest checkpoint (name is its path under out/); SEGQ_ENOENT
   if it has none. */
int segq__job_store_checkpoint (segq__job_store_t *self, uint64_t job, segq_artifact_t *out,
                                uint32_t *step);

/* Fills info from the database (progress fields are left for the caller,
   which holds them in memory). history only when detail. */
int segq__job_store_info (segq__job_store_t *self, uint64_t job, bool detail,
                          segq_job_info_t *info);

/* Ids of jobs after `after` (0 = from the start), filtered by owner (or
   NULL) and state (or 0), at most limit, in id order. */
int segq__job_store_list (segq__job_store_t *self, uint64_t after, const char *owner, int state,
                          uint32_t limit, uint64_t *ids, size_t *count);
/* The same from the newest down: ids of jobs before `before` (0 = from the
   newest), in descending id order. */
int segq__job_store_list_newest (segq__job_store_t *self, uint64_t before, const char *owner,
                                 int state, uint32_t limit, uint64_t *ids, size_t *count);

/* ---- job arrays (schema 4) ---- */

/* Array ids: "a-" and the array number written like a job id ("a-0001"). */
void segq__array_id_format (uint64_t number, char out [SEGQ__ARRAY_ID_MAX]);
uint64_t segq__array_id_parse (const char *text); /* 0: not an array id */

/* Stores an array of `n` jobs (in the open transaction, or one it begins),
   numbered from the job counter, so no array id is ever given twice. */
int segq__job_store_insert_array (segq__job_store_t *self, const char *owner, double created,
                                  const uint64_t *jobs, size_t n, uint64_t *id_out);
typedef struct {
    char owner [256];
    double created;
    uint64_t *jobs;
    size_t n_jobs; /* owned; in order */
} segq__array_row_t;
/* SEGQ_ENOENT if unknown; clear the row after a success. */
int segq__job_store_array (segq__job_store_t *self, uint64_t id, segq__array_row_t *out);
void segq__array_row_clear (segq__array_row_t *row);

#endif
