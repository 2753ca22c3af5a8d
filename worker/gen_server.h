/*  gen_server.h: a long-lived `segq-run serve` per device, for generate.

    A generate job started as its own segq-run pays for a process start,
    libtorch's and CUDA's initialisation and its checkpoint's load before
    its first pair; for a request of a few pairs that is most of its time.
    A worker started with a model cache keeps one generation server per
    device (the CPU, or a GPU as its jobs see it) that has paid for those
    once and keeps the models it loaded last, up to the cache's size.

    The server is a child process in a process group of its own, like a
    job's segq-run: a crash or a KILL ends only the job it was running (its
    exit is that job's), and the next generate on the device starts a new
    one. It runs one job at a time; a generate that finds it busy runs as a
    plain segq-run instead. It exits by itself when idle for its idle time,
    giving its memory (and a GPU's context) back.

    Protocol (private to segq-worker and segq-run serve, over a SEQPACKET
    socket that is the server's fd 3): a request is one message of
    NUL-terminated items "cwd=DIR", "env=NAME=VALUE"..., "arg=ARG"... (the
    argv of `segq-run generate` after the command), with the job's log and
    progress pipes' write ends as SCM_RIGHTS; the server runs the job with
    its stdout and stderr on the log pipe, the progress pipe as
    SEGQ_PROGRESS_FD, and its working directory and environment set, then
    closes both and answers "done=EXIT_CODE" and one "hot=SHA256" item per
    model it holds. */
#ifndef SEGQ_GEN_SERVER_H
#define SEGQ_GEN_SERVER_H

#include "segq_proto.h"
#include <czmq.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

typedef struct segq__gen_servers segq__gen_servers_t;
typedef struct segq__gen_server segq__gen_server_t;
typedef struct segq__job_exit segq__job_exit_t; /* how a job ended: worker_internal.h */

/* Servers of `segq_run` started with a cache of cache_bytes of checkpoints
   and an idle time of idle_s seconds; on_reply(arg) is called when a
   server answers (the owner then asks segq__gen_server_result). */
segq__gen_servers_t *segq__gen_servers_new (zloop_t *loop, const char *segq_run,
                                            uint64_t cache_bytes, uint32_t idle_s,
                                            void (*on_reply) (void *arg), void *arg);
/* Kills the servers still running and reaps them. */
void segq__gen_servers_destroy (segq__gen_servers_t **self_p);

/* The server for `device` ("cpu", or the GPU's CUDA_VISIBLE_DEVICES entry;
   gpu: the broker's index for it, or -1), if it is free for a job (started
   or not); NULL while it runs one. */
segq__gen_server_t *segq__gen_servers_get (segq__gen_servers_t *self, const char *device,
                                           int32_t gpu);

/* Sends a job: argv (of `segq-run generate` after the command, NULL
   ended), env (NAME=VALUE, NULL ended), cwd, and the write ends of its log
   and progress pipes (the server gets copies). Starts the server first if
   it is not running. *pid: the server's (its process group's) id, for
   signals. 0; SEGQ_ENOENT when segq-run could not be executed (as
   segq__job_runner_start says it); SEGQ_EIO; err says why (nothing is
   running then). */
int segq__gen_server_run (segq__gen_server_t *self, char *const *argv, char *const *env,
                          const char *cwd, int log_fd, int progress_fd, pid_t *pid, char *err,
                          size_t errlen);

/* The job the server runs has ended: true with its exit code (or, if the
   server died, -1 and the signal) and what it cost as the server measured
   it (nothing when it died) in *exit. False while it runs. A server found
   dead is reaped here. */
bool segq__gen_server_result (segq__gen_server_t *self, segq__job_exit_t *exit);

/* KILL a server whose job is being given up (the worker stops) and reap
   it. */
void segq__gen_server_kill (segq__gen_server_t *self);

/* The checkpoints the servers hold now, and where (at most max). */
size_t segq__gen_servers_hot (segq__gen_servers_t *self, segq_hot_model_t *out, size_t max);

#endif
