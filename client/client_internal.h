/*  client_internal.h: what the pieces of libsegq share (not installed). */
#ifndef SEGQ_CLIENT_INTERNAL_H
#define SEGQ_CLIENT_INTERNAL_H

#include "hash_cache.h"
#include "segq_client.h"
#include "segq_proto.h"

typedef struct {
    char *name;                        /* laid out under this name in the job's dir */
    char *path;                        /* local file to upload, or NULL */
    char hash [SEGQ_HASH_HEX_LEN + 1]; /* "" until known */
    uint64_t size;
    char *job;    /* another job's output, or NULL */
    char *output; /* that job's output name, or NULL (principal) */
    char *model;  /* a catalogue model (NAME, m-ID, OWNER/NAME), or NULL */
} segq__spec_input_t;

struct segq_job_spec_t {
    char *kind;
    const segq_kind_spec_t *kind_spec; /* NULL: unknown kind */
    segq_params_t params;
    segq__spec_input_t *inputs;
    size_t n_inputs;
    char **after;
    size_t n_after;
    int32_t priority;
    uint64_t gpu_mem;
    uint32_t cpu_slots;
    uint32_t time_limit_s;
    uint32_t max_attempts;
    char *retry; /* or NULL: the ended job this submits again */
};

/* Upload the spec's local files that have no hash yet; a file the hash
   cache knows is named by its hash, so the broker may skip it. */
int segq__spec_upload_inputs (segq_client_t *self, segq_job_spec_t *spec);
/* A SUBMIT message carrying a deep copy of the spec. */
int segq__spec_to_submit (const segq_job_spec_t *spec, const char *user, uint64_t req_id,
                          segq_msg_t **out);

/* Request plumbing (segq_client.c), used by the transfer code. */
uint64_t segq__client_next_req (segq_client_t *self);
/* A request of `type` with the next req_id (also in *req_id unless NULL),
   and this client's user where the message carries one (both where the route
   table puts them); NULL on out of memory, or for a type that carries no
   request id. */
segq_msg_t *segq__client_new_request (segq_client_t *self, segq_msg_type_t type, uint64_t *req_id);
int segq__client_oom (segq_client_t *self);
/* Send a request (consumed) and wait for the reply its route names; an
   ERROR fails it with the broker's code and message. */
int segq__client_request (segq_client_t *self, segq_msg_t **req_p, segq_msg_t **reply);
/* The same, waiting timeout_ms for the reply (<0: the client's timeout). */
int segq__client_request_within (segq_client_t *self, segq_msg_t **req_p, int timeout_ms,
                                 segq_msg_t **reply);
int segq__client_send (segq_client_t *self, segq_msg_t **msg_p);
/* Wait for the next message that answers req_id (ERROR or a reply with that
   req_id) or that belongs to `transfer` (CHUNK, CREDIT, PUT_DONE); others
   are kept for pipelined submits or dropped. timeout_ms < 0: client default.
   An ERROR reply is turned into its code (and message) and *out is NULL. */
int segq__client_wait (segq_client_t *self, uint64_t req_id, uint64_t transfer, int timeout_ms,
                       segq_msg_t **out);
/* Whether a message with this req_id and transfer (0 where it has none)
   is one the caller waits for. */
typedef bool (*segq__client_match_t) (void *arg, uint64_t req_id, uint64_t transfer);
/* The same for the messages match(arg, ...) accepts: several transfers at
   once. */
int segq__client_wait_for (segq_client_t *self, segq__client_match_t match, void *arg,
                           int timeout_ms, segq_msg_t **out);
/* The transfer a CHUNK, CREDIT or PUT_DONE belongs to; 0 for others. */
uint64_t segq__client_msg_transfer (const segq_msg_t *msg);
int segq__client_fail (segq_client_t *self, int code, const char *fmt, ...)
    __attribute__ ((format (printf, 3, 4)));
/* The client's hash cache, read at first use; NULL when it has none. */
segq__hash_cache_t *segq__client_hash_cache (segq_client_t *self);
void segq__client_count_upload (segq_client_t *self, uint64_t bytes);
/* n files uploaded through the hash cache (segq__spec_upload_inputs):
   paths[i] as names[i], a file the cache remembers named by its hash (so
   the broker may skip it), several at a time as segq_client_fetch_outputs
   takes them; hashes[i] and sizes[i] (sizes may be NULL) get what was
   stored. */
int segq__client_upload_cached (segq_client_t *self, const char *const *paths,
                                const char *const *names, size_t n,
                                char (*hashes) [SEGQ_HASH_HEX_LEN + 1], uint64_t *sizes);

#endif
