/*  segq_worker.h: the segq-worker daemon as a library (segq_worker).

    One worker per machine: registers with the broker, runs the jobs it is
    assigned in child processes, moves their artifacts, reports results.
    segq-worker's main() is flag parsing around these calls.
*/
#ifndef SEGQ_WORKER_H
#define SEGQ_WORKER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include "segq_proto.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct {
    const char *broker; /* endpoint, "tcp://127.0.0.1:5555" */
    const char *node;   /* unique name of this worker */
    const segq_gpu_t *gpus;
    size_t n_gpus; /* declared capacity */
    uint32_t cpu_slots;
    const char *work_dir;  /* job directories live in work_dir/jobs */
    bool work_dir_default; /* work_dir is the node's default (it follows node) */
    const char *cache_dir; /* NULL: work_dir/cache */
    const char *const *kinds;
    size_t n_kinds;         /* none: every kind it can run */
    uint32_t kill_grace_ms; /* TERM -> KILL; 0 = 10 s */
    const char *testkind;   /* path of segq-testkind; NULL = none (no test kinds
                               but noop) */
    const char *segq_run;   /* path of segq-run; NULL = no ML kinds */
    const char *ready_file; /* written (node name + newline) once registered, or NULL */
    int verbose;
    uint64_t cache_max;     /* bytes; above it the least recently used inputs
                               are removed from the cache; 0 = no limit */
    uint64_t model_cache;   /* checkpoint bytes each generation server keeps
                               loaded (gen_server.h); 0: no servers */
    uint32_t model_idle_s;  /* a server exits after this long idle */
    const char *broker_key; /* CurveZMQ: the broker's public certificate, or NULL */
    const char *cert;       /* this node's certificate (role worker); needed with
                               broker_key */
} segq_worker_options_t;

typedef struct segq_worker segq_worker_t;

/* What `segq-run devices` reports: the machine's capacity when --gpus or
   --cpu-slots are not given. */
typedef struct {
    uint32_t cpu_cores;
    segq_gpu_t *gpus;
    size_t n_gpus;  /* owned */
    int cuda_build; /* segq-run can use CUDA: 1, it cannot (a CPU-only
                       libtorch): 0, not said: -1 */
} segq_worker_devices_t;

/* Runs `SEGQ_RUN devices` (after setting CUDA_DEVICE_ORDER=PCI_BUS_ID in
   this process's environment, so the worker's children inherit it too)
   and parses its JSON. On error fills err and returns a negative code;
   out is then empty. */
int segq_worker_devices_discover (const char *segq_run, segq_worker_devices_t *out, char *err,
                                  size_t errlen);
/* The JSON part of discover, for tests. */
int segq_worker_devices_parse (const char *text, segq_worker_devices_t *out, char *err,
                               size_t errlen);
void segq_worker_devices_clear (segq_worker_devices_t *self);

/* Checks the options and prepares the directories. Blocks the signals the
   daemon handles (SIGCHLD, SIGTERM, SIGINT, SIGHUP) in the calling thread:
   call it before creating any other thread (CZMQ's included). On error
   returns NULL with a message in err. */
segq_worker_t *segq_worker_new (const segq_worker_options_t *options, char *err, size_t errlen);

/* Runs until drained (0), interrupted twice (130), or a fatal error such
   as a protocol version the broker does not speak (non-zero, after saying
   why on stderr). */
int segq_worker_run (segq_worker_t *self);

void segq_worker_destroy (segq_worker_t **self_p);

#ifdef __cplusplus
}
#endif
#endif
