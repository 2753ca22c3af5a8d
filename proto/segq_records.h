/*  segq_records.h: what the protocol says about jobs, workers, job kinds
    and models, as plain C records: the answers libsegq's calls give
    (segq_client.h) and the pieces the wire's messages are made of
    (segq_proto.h). Nothing here is ZeroMQ or msgpack, so a program that
    only uses the client library sees neither.

    Ownership: a record owns every string and array it points to; the
    clear and free functions below free them all. Fields documented "or
    NULL" may be absent.
*/
#ifndef SEGQ_RECORDS_H
#define SEGQ_RECORDS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include "segq_error.h"
#include "segq_schema.h"
#include "segq_sha256.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Limits on what a record holds; the decoder refuses more. */
#define SEGQ_MAX_STRING 4096    /* any string field, bytes */
#define SEGQ_MAX_NAME   1024    /* artifact / input names, relative paths */
#define SEGQ_MAX_ARRAY  1000000 /* elements of any array */
#define SEGQ_USER_MAX       64      /* a user's or node's name, bytes (segq_user_valid) */
#define SEGQ_MODEL_NAME_MAX 64      /* a model's name (segq_model_name_valid) */

typedef enum {
    SEGQ_JOB_WAITING = 1, /* an input refers to a job not yet succeeded */
    SEGQ_JOB_QUEUED = 2,
    SEGQ_JOB_RUNNING = 3,
    SEGQ_JOB_SUCCEEDED = 4,
    SEGQ_JOB_FAILED = 5,
    SEGQ_JOB_CANCELLED = 6
} segq_job_state_t;

const char *segq_job_state_name (segq_job_state_t state); /* "queued" */
int segq_job_state_parse (const char *name, segq_job_state_t *out);
bool segq_job_state_final (segq_job_state_t state);

/* ---- pieces shared by several messages and the client's answers ---- */

typedef struct {
    char *name; /* relative path: "images/x.png" */
    char hash [SEGQ_HASH_HEX_LEN + 1];
    uint64_t size;
} segq_artifact_t;

/* A job input: an artifact already uploaded (hash set), a reference to
   another job's output (job set; output NULL means that job's principal
   output, "*" all of its outputs), which makes a dependency, or a model of
   the catalogue (model set: NAME, m-ID or OWNER/NAME; the broker stores its
   checkpoint's hash beside the model's id). */
typedef struct {
    char *name;                        /* where it is laid out in the job's directory */
    char hash [SEGQ_HASH_HEX_LEN + 1]; /* "" when job or model is set in a SUBMIT */
    uint64_t size;
    char *job;    /* or NULL */
    char *output; /* or NULL */
    char *model;  /* or NULL; in STATUS_REPLY, the model's id */
} segq_input_t;

typedef struct {
    uint32_t index; /* the worker's CUDA device number (PCI bus order):
                       nvidia-smi's, or a position in the worker's own
                       CUDA_VISIBLE_DEVICES list */
    char *name;
    uint64_t mem_total; /* bytes */
    uint64_t mem_used;  /* bytes reserved by running jobs (WORKERS_REPLY only) */
    char *device;       /* what its jobs get as CUDA_VISIBLE_DEVICES (that
                           list's entry: a number, GPU-UUID or MIG id), or
                           NULL: index */
} segq_gpu_t;

typedef struct {
    segq_job_state_t state;
    double time;  /* unix seconds */
    char *reason; /* or NULL */
} segq_transition_t;

typedef struct {
    char *id;
    char *owner;
    char *kind;
    segq_job_state_t state;
    int32_t priority;
    uint32_t attempt; /* attempts started so far */
    uint32_t max_attempts;
    uint64_t gpu_mem; /* bytes; 0 = CPU job */
    uint32_t cpu_slots;
    uint32_t time_limit_s;
    char *worker;                      /* node running it, or NULL */
    int32_t gpu;                       /* GPU index on that node, -1 none */
    double fraction;                   /* progress 0..1 */
    char *phase;                       /* or NULL */
    char *message;                     /* or NULL */
    char *reason;                      /* why it failed / was cancelled, or NULL */
    int32_t exit_code;                 /* -1 unknown */
    int32_t signal;                    /* 0 none */
    double created, started, finished; /* unix seconds; 0 = not yet */
    segq_params_t params;
    segq_params_t metrics; /* latest, FLOAT values */
    segq_input_t *inputs;
    size_t n_inputs;
    char **after;
    size_t n_after;
    segq_artifact_t *outputs;
    size_t n_outputs;
    segq_transition_t *history;
    size_t n_history; /* only when asked (detail) */
    bool held;        /* `segq hold`: not started until released */
} segq_job_info_t;

typedef enum {
    SEGQ_WORKER_ACTIVE = 1,
    SEGQ_WORKER_DRAINING = 2,
    SEGQ_WORKER_LOST = 3
} segq_worker_state_t;

const char *segq_worker_state_name (segq_worker_state_t state);

typedef struct {
    char *node;
    segq_worker_state_t state;
    segq_gpu_t *gpus;
    size_t n_gpus;
    uint32_t cpu_slots;
    uint32_t cpu_used;
    char **kinds;
    size_t n_kinds;
    char **running;
    size_t n_running; /* job ids */
    double last_seen; /* unix seconds */
    uint32_t version;
} segq_worker_info_t;

/* Most jobs one STATUS may name, and its largest page (`limit`); more is
   refused with SEGQ_ETOOBIG. */
#define SEGQ_STATUS_MAX 500
/* Most jobs one CANCEL, HOLD or PURGE may name, each once; more is refused
   with SEGQ_ETOOBIG (libsegq sends a longer list in parts). */
#define SEGQ_JOB_LIST_MAX 1000
/* The longest a STATUS may wait for one of its jobs to end (`wait`). */
#define SEGQ_STATUS_WAIT_MAX_MS 60000

/* A priority above this orders a job ahead of fair share: admins only. */
#define SEGQ_PRIORITY_USER_MAX 1000000

typedef struct {
    char *job;
    int32_t code;       /* 0 purged (or already purged), else why not */
    char *message;      /* or NULL */
    uint32_t artifacts; /* files removed */
    uint64_t bytes;     /* their size */
} segq_purge_result_t;

/* ---- accounting: what finished runs used (`segq usage`) ---- */

typedef enum {
    SEGQ_USAGE_BY_USER = 1,
    SEGQ_USAGE_BY_KIND = 2,
    SEGQ_USAGE_BY_DAY = 3 /* UTC days */
} segq_usage_by_t;

/* One group of runs (attempts that ended: succeeded, failed, cancelled
   while running, or lost with their worker). Declared figures are the
   job's request x its run time; measured ones are what the worker read
   (0 where it could not). */
typedef struct {
    char *key;               /* the user, the kind, or the day "YYYY-MM-DD" */
    uint64_t runs;           /* attempts */
    uint64_t jobs;           /* distinct jobs among them */
    double run_seconds;      /* wall time of the runs together */
    double cpu_slot_seconds; /* declared CPU slots x run time */
    double gpu_mem_seconds;  /* declared GPU memory (bytes) x run time */
    double cpu_seconds;      /* measured user + system CPU time */
    uint64_t max_rss;        /* largest measured resident memory of one run, bytes */
    uint64_t gpu_peak;       /* largest measured GPU memory peak of one run, bytes */
    double fairshare;        /* by user: the usage fair share sees now (decayed,
                                weight-seconds: scheduler.h), 0 otherwise */
} segq_usage_row_t;

/* Most rows one USAGE_REPLY holds (a day per row: over 27 years). */
#define SEGQ_USAGE_MAX_ROWS 10000

/* The kind table (segq_schema.h) as the broker sends it in KINDS_REPLY,
   so that a client in any language can check and type a submission as
   `segq` does. */
typedef struct {
    char *name;
    segq_param_type_t type;
    double min, max; /* INT and FLOAT: the inclusive range */
    char **choices;
    size_t n_choices; /* CHOICE: the strings allowed */
    char *help;       /* or NULL */
} segq_kind_param_t;

typedef struct {
    char *name; /* laid out under this name in the job's directory */
    bool required;
    char *unless;   /* not required, but needed unless this bool parameter is
                       true; or NULL */
    bool many;      /* a set of files, laid out under name/ */
    bool sets;      /* many, in named sets: name/SET/ */
    char *help;     /* or NULL */
    bool catalogue; /* may name a model of the catalogue */
} segq_kind_input_t;

typedef struct {
    char *name;
    char *help; /* or NULL */
    segq_kind_param_t *params;
    size_t n_params;
    segq_params_t defaults; /* each optional parameter's default, typed as
                               SUBMIT carries it; one without is required */
    segq_kind_input_t *inputs;
    size_t n_inputs;
    char *principal; /* output a bare JOB reference means; "*" all */
    bool test;       /* exercises the queue without ML */
} segq_kind_info_t;

/* ---- the catalogue of trained models ---- */

/* What MODEL does. */
typedef enum {
    SEGQ_MODEL_LIST = 1, /* the models the caller may use (filters: owner, tag) */
    SEGQ_MODEL_SHOW,     /* one, with its training's parameters */
    SEGQ_MODEL_RENAME,   /* value: the new name */
    SEGQ_MODEL_TAG,      /* value: a tag to add */
    SEGQ_MODEL_UNTAG,    /* value: a tag to remove */
    SEGQ_MODEL_NOTE,     /* value: the one-line note ("" clears it) */
    SEGQ_MODEL_SHARE,    /* with users, or the lab */
    SEGQ_MODEL_UNSHARE,  /* from users, or the lab */
    SEGQ_MODEL_PIN,      /* retention never removes it */
    SEGQ_MODEL_UNPIN,
    SEGQ_MODEL_RM /* out of the catalogue (its training job stays) */
} segq_model_op_t;

/* Most models one MODEL_REPLY lists; `next` pages on. */
#define SEGQ_MODELS_PAGE 200

typedef struct {
    char *id;    /* "m-" and its training job's id */
    char *name;  /* unique among its owner's models */
    char *owner; /* who trained it */
    char *job;   /* the training job */
    double created;
    char *image; /* the source image's and mask's names and sha256 */
    char image_hash [SEGQ_HASH_HEX_LEN + 1];
    char *mask; /* or NULL (taken from the image's alpha) */
    char mask_hash [SEGQ_HASH_HEX_LEN + 1];
    char checkpoint [SEGQ_HASH_HEX_LEN + 1]; /* model.safetensors' sha256 */
    uint64_t size;                           /* and bytes */
    uint32_t scales, height, width;          /* 0: not reported */
    segq_params_t params;                    /* the training's (SHOW only) */
    char **tags;
    size_t n_tags;
    char *note; /* or NULL */
    char **shared;
    size_t n_shared; /* users it is shared with (its owner and admins see them) */
    bool lab;        /* shared with everyone on the broker */
    bool pinned;
    bool purged;   /* its training's files are gone: it generates no more */
    char *samples; /* SHOW: the newest generate job from it the caller may
                      read (a preview of what it draws), or NULL */
} segq_model_info_t;

/* A model's name: 1 to SEGQ_MODEL_NAME_MAX of [A-Za-z0-9_-], not beginning with '-' or "m-"
   (ids begin so). Returns true if valid. */
bool segq_model_name_valid (const char *name);

/* True if name is a safe relative artifact path: non-empty, at most
   SEGQ_MAX_NAME bytes, no leading '/', no empty, "." or ".." component, no
   backslash or control character. The decoder refuses every artifact and
   input name that is not, so a peer can never make a file outside a job's
   directory. */
int segq_name_valid (const char *name);

/* Whether `user` can be a user's (or a node's) name: 1 to SEGQ_USER_MAX bytes, no
   blank, control character, '/' or ','. It names a certificate file, a
   column of `segq status` and an entry of `--with U,U`. Messages say the
   rule in SEGQ_USER_RULE's words. */
int segq_user_valid (const char *user);
#define SEGQ__WORDS(x)  #x
#define SEGQ__NUMBER(x) SEGQ__WORDS (x)
#define SEGQ_USER_RULE                                                                             \
    "1 to " SEGQ__NUMBER (SEGQ_USER_MAX) " bytes with no blank, control character, '/' or ','"

/* Deep copies and clears of the shared pieces, for callers that keep them. */
void segq_artifact_clear (segq_artifact_t *self);
int segq_artifact_copy (segq_artifact_t *dst, const segq_artifact_t *src);
void segq_gpu_clear (segq_gpu_t *self);
int segq_gpu_copy (segq_gpu_t *dst, const segq_gpu_t *src);
void segq_input_clear (segq_input_t *self);
int segq_input_copy (segq_input_t *dst, const segq_input_t *src);
void segq_job_info_clear (segq_job_info_t *self);
void segq_worker_info_clear (segq_worker_info_t *self);
void segq_model_info_clear (segq_model_info_t *self);
/* Frees an array of n models; *models_p becomes NULL. */
void segq_models_free (segq_model_info_t **models_p, size_t n);
/* Frees an array of n kinds (segq_client_kinds' answer); *kinds_p becomes NULL. */
void segq_kinds_free (segq_kind_info_t **kinds_p, size_t n);

#ifdef __cplusplus
}
#endif
#endif
