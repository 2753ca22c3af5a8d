/*  segq_client.h: libsegq, the C API for talking to a segq broker.

    The `segq` CLI is built on it; any program can use it to submit jobs,
    watch them, move artifacts and manage workers.

        segq_client_t *c;
        char err[512];
        if (segq_client_connect (NULL, &c, err, sizeof err) < 0) { puts (err); ... }
        segq_job_spec_t *spec = segq_job_spec_new ("sleep");
        segq_job_spec_param (spec, "seconds", "2", err, sizeof err);
        char id[SEGQ_JOB_ID_MAX];
        if (segq_client_submit (c, spec, id, sizeof id) < 0)
            puts (segq_client_error (c));
        segq_job_spec_destroy (&spec);
        segq_client_destroy (&c);

    Errors: every function that can fail returns a negative segq_error_t
    (base/segq_error.h); segq_client_error() then says what failed and what
    to do. A client is not thread-safe: one thread uses it at a time.

    One client holds one DEALER socket. Every request carries a req_id the
    broker echoes, so synchronous calls and pipelined submits
    (segq_client_submit_send / _recv) can be mixed on one client.
*/
#ifndef SEGQ_CLIENT_H
#define SEGQ_CLIENT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include "segq_records.h"

#ifdef __cplusplus
extern "C" {
#endif

#define SEGQ_DEFAULT_BROKER     "tcp://127.0.0.1:5555"
#define SEGQ_DEFAULT_TIMEOUT_MS 10000
#define SEGQ_JOB_ID_MAX         64

typedef struct segq_client_t segq_client_t;
typedef struct segq_job_spec_t segq_job_spec_t;

typedef struct {
    const char *broker; /* URL; NULL: $SEGQ_BROKER, else SEGQ_DEFAULT_BROKER */
    const char *user;   /* NULL: $SEGQ_USER, else the OS user name (keys: the
                           certificate's name counts, whatever this says) */
    int timeout_ms;     /* per request; 0: SEGQ_DEFAULT_TIMEOUT_MS */
    /* CurveZMQ: the broker's public certificate (NULL: $SEGQ_BROKER_KEY, else
       broker.cert in the config dir if there; none, or "" given or in
       $SEGQ_BROKER_KEY: plain connection) and this user's own (NULL:
       $SEGQ_CERT, else the one certificate with its secret in the config
       dir, as `segq keygen` writes NAME.cert). With keys and user NULL the
       user is the certificate's name. */
    const char *broker_key;
    const char *cert;
    /* Where the sha256 of uploaded input files is remembered, so a re-submit
       of an unchanged file is not sent again when the broker has it
       (client/hash_cache.h). NULL: $SEGQ_HASH_CACHE ("off": none), else
       $XDG_CACHE_HOME/segq/hashes or ~/.cache/segq/hashes; "": none. */
    const char *hash_cache;
} segq_client_options_t;

/* ---- connection ---- */

/* Creates the socket and connects (ZeroMQ connects lazily: an absent
   broker shows up as SEGQ_EUNAVAIL on the first request). options may be
   NULL. On failure *out is NULL and err says why. */
int segq_client_connect (const segq_client_options_t *options, segq_client_t **out, char *err,
                         size_t errlen);
void segq_client_destroy (segq_client_t **self_p);

/* Message of the last failure on this client ("" if none). */
const char *segq_client_error (const segq_client_t *self);
const char *segq_client_broker (const segq_client_t *self);
const char *segq_client_user (const segq_client_t *self);

/* Makes this user's CurveZMQ certificate where clients look for it: in
   $XDG_CONFIG_HOME/segq (else ~/.config/segq), NAME.cert (public: for the
   broker's admin, who copies it into the broker's keys certs/ folder) and
   NAME.cert_secret (mode 0600: never share it). name NULL: the login name.
   Never overwrites a certificate (SEGQ_EEXIST). path_out (may be NULL)
   gets the public certificate's path. */
int segq_keygen (const char *name, char *path_out, size_t path_len, char *err, size_t errlen);

/* ---- job specifications ---- */

/* A job to submit. Kind and parameters are checked against the schema
   table as they are set, so mistakes are reported before anything is sent.
   NULL on out of memory. An unknown kind is reported by the first setter
   and by segq_job_spec_validate. */
segq_job_spec_t *segq_job_spec_new (const char *kind);
void segq_job_spec_destroy (segq_job_spec_t **self_p);

/* --param name=text, parsed as the kind's schema says. */
int segq_job_spec_param (segq_job_spec_t *self, const char *name, const char *text, char *err,
                         size_t errlen);
/* An input from a local file: uploaded at submit by segq_client_upload
   (hashed as it is sent; the broker keeps one copy per content). */
int segq_job_spec_input_file (segq_job_spec_t *self, const char *name, const char *path, char *err,
                              size_t errlen);
/* A folder for a `many` input: every file under it (hidden ones aside),
   laid out as name/PATH with its path relative to dir; name may be a set
   ("synthetic/stylized") of an input whose files come in named sets. */
int segq_job_spec_input_dir (segq_job_spec_t *self, const char *name, const char *dir, char *err,
                             size_t errlen);
/* An input that is an artifact already on the broker. */
int segq_job_spec_input_hash (segq_job_spec_t *self, const char *name, const char *hash,
                              uint64_t size, char *err, size_t errlen);
/* An input that is another job's output (output NULL: its principal
   output); the job waits for that one to succeed. */
int segq_job_spec_input_job (segq_job_spec_t *self, const char *name, const char *job,
                             const char *output, char *err, size_t errlen);
/* An input that is a model of the broker's catalogue: NAME (yours, or the
   one of that name shared with you), OWNER/NAME or m-ID. Only an input
   that takes one (generate's model); the broker resolves it at submit. */
int segq_job_spec_input_model (segq_job_spec_t *self, const char *name, const char *model,
                               char *err, size_t errlen);
/* A reference that is not a local file: JOB or JOB:OUTPUT, or where the
   input takes a model (generate's), a model (NAME, OWNER/NAME, m-ID; a
   value spelt like a job id is the job). A value with a '.' or a path was
   meant as a file: SEGQ_ENOENT, saying so. */
int segq_job_spec_input_ref (segq_job_spec_t *self, const char *name, const char *ref, char *err,
                             size_t errlen);
/* Parse the CLI form "name=FILE", "name=JOB" or "name=JOB:output". An
   existing local file wins over a job id of the same spelling. */
int segq_job_spec_input_arg (segq_job_spec_t *self, const char *arg, char *err, size_t errlen);
/* Run only after `job` has succeeded (no data passed). */
int segq_job_spec_after (segq_job_spec_t *self, const char *job);

void segq_job_spec_set_priority (segq_job_spec_t *self, int32_t priority);
void segq_job_spec_set_gpu_mem (segq_job_spec_t *self, uint64_t bytes); /* 0: CPU job */
void segq_job_spec_set_cpu_slots (segq_job_spec_t *self, uint32_t slots);
void segq_job_spec_set_time_limit (segq_job_spec_t *self, uint32_t seconds);
void segq_job_spec_set_max_attempts (segq_job_spec_t *self, uint32_t attempts);
/* Submit `job`, one of yours that failed or was cancelled, again: the
   spec's kind must be its kind, and the spec gives no parameters, inputs
   or after: the broker takes the job's, and its resources, time limit and
   attempts where the spec sets none; a training resumes from the job's
   newest checkpoint (SPEC: SUBMIT, retry). SEGQ_ENOMEM or SEGQ_OK. */
int segq_job_spec_set_retry (segq_job_spec_t *self, const char *job);

/* Kind known, parameters valid (defaults filled in), every input name
   one the kind declares, required inputs present, local files readable. */
int segq_job_spec_validate (segq_job_spec_t *self, char *err, size_t errlen);

/* ---- requests ---- */

/* Validate, upload the spec's local input files, submit, wait for the
   broker's acknowledgement (sent only once the job is durably stored). */
int segq_client_submit (segq_client_t *self, segq_job_spec_t *spec, char *job_out, size_t job_len);

/* Pipelined submit: send without waiting. Local input files are uploaded
   (synchronously) first. *req_id_out identifies the reply. */
int segq_client_submit_send (segq_client_t *self, segq_job_spec_t *spec, uint64_t *req_id_out);

typedef struct {
    uint64_t req_id;
    int code; /* 0: accepted, job set; else the broker's error */
    char job [SEGQ_JOB_ID_MAX];
    char message [512];
    uint64_t gpu_mem;   /* accepted: the resources the job got (the spec's, or */
    uint32_t cpu_slots; /* its kind's default on the broker when it set none) */
} segq_submit_reply_t;

/* One reply to an earlier segq_client_submit_send, in whatever order the
   broker answers. SEGQ_ETIMEOUT/EUNAVAIL if none comes within timeout_ms
   (<0: the client's timeout); SEGQ_ENOENT if none is outstanding. */
int segq_client_submit_recv (segq_client_t *self, int timeout_ms, segq_submit_reply_t *reply);
size_t segq_client_submits_pending (const segq_client_t *self);

typedef struct {
    const char *const *jobs;
    size_t n_jobs;          /* none: all jobs (filtered) */
    const char *user;       /* filter or NULL */
    segq_job_state_t state; /* filter or 0 */
    uint32_t limit;         /* page size; 0: broker default; at most SEGQ_STATUS_MAX */
    bool detail;            /* include the state history */
    bool newest;            /* all jobs from the newest down (cursor: the next older page) */
} segq_status_query_t;

typedef struct {
    segq_job_info_t *jobs;
    size_t n_jobs;
    char *cursor; /* pass to the next call for the next page; NULL: last page */
} segq_job_list_t;

/* One page of jobs. cursor: NULL for the first page. */
int segq_client_status (segq_client_t *self, const segq_status_query_t *query, const char *cursor,
                        segq_job_list_t *out);
/* The named jobs (query->jobs) once one of them has ended, or after
   wait_ms (0..SEGQ_STATUS_WAIT_MAX_MS) when none has: what a waiting
   client asks instead of asking again and again. A broker may answer
   sooner (one that holds many waiting requests already); the jobs are
   then as they are at that moment. Other filters of query are ignored. */
int segq_client_status_wait (segq_client_t *self, const segq_status_query_t *query, int wait_ms,
                             segq_job_list_t *out);
/* One job by id (SEGQ_ENOENT if the broker does not know it). */
int segq_client_job (segq_client_t *self, const char *job, bool detail, segq_job_info_t *out);
void segq_job_list_clear (segq_job_list_t *self);

typedef struct {
    char *job;
    int code;      /* 0: cancelled; SEGQ_ESTATE: it had already ended */
    char *message; /* or NULL */
} segq_cancel_outcome_t;

int segq_client_cancel (segq_client_t *self, const char *const *jobs, size_t n_jobs,
                        segq_cancel_outcome_t **out, size_t *n_out);
void segq_cancel_outcomes_free (segq_cancel_outcome_t **outcomes_p, size_t n);

/* Hold waiting or queued jobs (release false): they are not started until
   released (release true). Owner or admin. One outcome per job: code 0
   done (also when it already was), else why not (ESTATE: running or ended;
   EPERM; ENOENT). Free with segq_cancel_outcomes_free. */
int segq_client_hold (segq_client_t *self, const char *const *jobs, size_t n_jobs, bool release,
                      segq_cancel_outcome_t **out, size_t *n_out);

/* What finished runs used, grouped like Slurm's sreport (segq_records.h:
   segq_usage_row_t). of_user NULL: everyone's; since/until: Unix seconds,
   0 unbounded. *half_life_s gets fair share's half-life (0: none); may be
   NULL. Free with segq_usage_rows_free. */
typedef struct {
    const char *of_user;
    double since, until;
    segq_usage_by_t by;
} segq_usage_query_t;
int segq_client_usage (segq_client_t *self, const segq_usage_query_t *query,
                       segq_usage_row_t **rows, size_t *n_rows, double *half_life_s);
void segq_usage_rows_free (segq_usage_row_t **rows_p, size_t n);

typedef struct {
    uint64_t offset; /* of data[0] */
    uint8_t *data;
    size_t size;
    bool complete; /* job final and this is the end of its log */
} segq_log_chunk_t;

/* Remove jobs' artifacts (outputs, inputs no other job refers to, logs)
   now; owner or admin only. One result per job: code 0 purged (message
   set if it was purged before), else why not (EPERM, ESTATE, ENOENT).
   Free with segq_purge_results_free. */
int segq_client_purge (segq_client_t *self, const char *const *jobs, size_t n_jobs,
                       segq_purge_result_t **out, size_t *n_out);
void segq_purge_results_free (segq_purge_result_t **results_p, size_t n);

/* Have the broker copy its database to `path` (absolute, on the broker's
   machine, not existing) while it runs; admins only. Waits up to
   timeout_ms (<0: the client's timeout) for the copy to be complete. */
int segq_client_backup (segq_client_t *self, const char *path, int timeout_ms, uint64_t *size_out,
                        uint64_t *jobs_out);

int segq_client_logs (segq_client_t *self, const char *job, uint64_t offset, uint32_t max_bytes,
                      segq_log_chunk_t *out);
void segq_log_chunk_clear (segq_log_chunk_t *self);

int segq_client_workers (segq_client_t *self, segq_worker_info_t **out, size_t *n_out);
void segq_workers_free (segq_worker_info_t **workers_p, size_t n);

/* Ask the worker `node` to finish its running jobs and exit. */
int segq_client_drain (segq_client_t *self, const char *node);

/* The broker's table of job kinds (SPEC: KINDS), the one it checks
   submissions against: each kind's parameters with their types, ranges,
   choices and typed defaults, its inputs (one file or many, required or
   not) and its principal output. Free with segq_kinds_free (segq_records.h). */
int segq_client_kinds (segq_client_t *self, segq_kind_info_t **out, size_t *n_out);

/* Change a waiting or queued job's priority (SPEC: PRIORITY): within
   -1000000..1000000 it orders the owner's own jobs; above, it goes ahead
   of fair share (admins only). *previous (may be NULL): the old one. */
int segq_client_priority (segq_client_t *self, const char *job, int32_t priority,
                          int32_t *previous);

/* ---- the catalogue of trained models ---- */

/* A MODEL request (segq_records.h: segq_model_op_t says what each op does). */
typedef struct {
    segq_model_op_t op;
    const char *model; /* NAME, m-ID or OWNER/NAME: every op but LIST */
    const char *value; /* RENAME: new name; TAG, UNTAG: the tag; NOTE: the note */
    const char *const *users;
    size_t n_users;    /* SHARE, UNSHARE: these users ... */
    bool lab;          /* ... or the whole lab */
    const char *owner; /* LIST: only this user's models, or NULL */
    const char *tag;   /* LIST: only those with this tag, or NULL */
} segq_model_request_t;

/* LIST: every model the caller may use (their own, those shared with them;
   an admin: all), filtered, page after page. Any other op: the model as it
   now is (RM: as it was), one. Free with segq_models_free (segq_records.h). */
int segq_client_model (segq_client_t *self, const segq_model_request_t *request,
                       segq_model_info_t **out, size_t *n_out);

/* ---- job arrays ---- */

/* Jobs submitted together (one per image/mask pair, ...) under an id of
   their own, "a-0001": `segq status ARRAY` summarises them, and an input
   that takes many files may name an array for the outputs of all its jobs. */
typedef struct {
    char *array; /* its id */
    char *owner;
    double created; /* unix seconds */
    char **jobs;
    size_t n_jobs; /* in order */
} segq_array_info_t;

/* Whether `text` is spelled like an array id (not whether it exists). */
bool segq_array_id (const char *text);
/* Makes an array of these jobs (yours, each once), stored durably before
   the answer. */
int segq_client_array_create (segq_client_t *self, const char *const *jobs, size_t n_jobs,
                              segq_array_info_t *out);
/* An array's jobs (SEGQ_ENOENT if the broker does not know it). */
int segq_client_array (segq_client_t *self, const char *array, segq_array_info_t *out);
void segq_array_info_clear (segq_array_info_t *info);

/* ---- artifacts ---- */

/* Upload a local file as an artifact named `name` (NULL: the file's base
   name), hashing it while it is sent (one read of the file); the broker
   checks that hash and keeps one copy per hash, but the data is sent even
   when it has it already. hash_out and size_out may be NULL. */
int segq_client_upload (segq_client_t *self, const char *path, const char *name,
                        char hash_out [SEGQ_HASH_HEX_LEN + 1], uint64_t *size_out);
/* The same, hashing the whole file first so PUT can name the hash: nothing
   is sent when the broker has it already (for files it likely has: a
   re-submit of the same input). Costs one more read of the file. */
int segq_client_upload_hash_first (segq_client_t *self, const char *path, const char *name,
                                   char hash_out [SEGQ_HASH_HEX_LEN + 1], uint64_t *size_out);
/* The same for a file whose sha256 the caller knows already: no hashing
   here; skipped when the broker has it, refused (SEGQ_EHASH) if the data
   does not match. */
int segq_client_upload_known (segq_client_t *self, const char *path, const char *name,
                              const char *hash, uint64_t *size_out);
/* File bytes this client has sent in uploads (a skipped upload adds none). */
uint64_t segq_client_bytes_uploaded (const segq_client_t *self);

/* Download `job`'s output `name` to `path`: written to a temporary file
   beside it, sha256 checked, then renamed into place; nothing is left
   behind on failure. hash_out may be NULL. */
int segq_client_fetch (segq_client_t *self, const char *job, const char *name, const char *path,
                       char hash_out [SEGQ_HASH_HEX_LEN + 1]);
/* Download n of `job`'s outputs (by their name; their size, as
   segq_client_job gives it, or 0 when unknown), outputs[i] to paths[i], as
   segq_client_fetch does, several at a time: up to 8 files, within 8 MiB
   of them (a larger file goes alone), so that a generation's thousands of
   small files do not each wait for their own round trips. hashes (NULL, or
   n entries) gets their sha256. On a failure the files in flight are
   dropped and none of theirs is left behind; those already in place stay. */
int segq_client_fetch_outputs (segq_client_t *self, const char *job,
                               const segq_artifact_t *const *outputs, const char *const *paths,
                               size_t n, char (*hashes) [SEGQ_HASH_HEX_LEN + 1]);

#ifdef __cplusplus
}
#endif
#endif
