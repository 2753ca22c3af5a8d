/*  cli_slurm.h: what the files of `segq slurm-scale` share.

    A lab that runs Slurm keeps it as the owner of the GPUs: segq workers
    run as Slurm jobs, each taking exactly what Slurm gave it, and the
    autoscaler submits such jobs while segq jobs wait for what no connected
    worker has, and drains its workers once they idle (docs/slurm.md).

        cli_slurm_conf.c    the configuration file (every problem as FILE:LINE)
        cli_slurm_script.c  the sbatch script a worker job runs
        cli_slurm_plan.c    a round's decisions from the queue, the workers
                            and Slurm's jobs, and what it remembers between
                            rounds (no I/O: tested on its own)
        cli_slurm_run.c     running sbatch, squeue and scancel, bounded in
                            time and output
        cli_slurm.c         the command: its loop, the broker's view, acting

    A worker's node name is JOB_NAME-JOBID (the Slurm job's id): that is
    how the autoscaler tells its workers from the others, and which Slurm
    job each one is. Its own Slurm jobs are those named JOB_NAME, so a
    restarted autoscaler adopts what it submitted before.
*/
#ifndef SEGQ_CLI_SLURM_H
#define SEGQ_CLI_SLURM_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include "segq_records.h"

/* ---- cli_slurm_conf.c ---- */

#define CLI_SLURM_CONF_DEFAULT "/etc/segq/slurm-scale.conf"

typedef struct {
    char **items; /* owned */
    size_t n;
} cli_slurm_list_t;

typedef struct {
    char *path; /* the file read, for messages */
    /* the autoscaler */
    char *broker, *cert, *broker_key; /* or NULL: the CLI's defaults */
    uint32_t max_workers;             /* Slurm jobs of its own, pending or running */
    uint32_t submit_per_round;        /* sbatch calls in one round */
    uint64_t poll_ms, idle_grace_ms, pending_grace_ms, start_timeout_ms;
    char *job_name;  /* its Slurm jobs' name; workers are JOB_NAME-JOBID */
    char *slurm_bin; /* where sbatch, squeue, scancel are; NULL: $PATH */
    /* the worker job's sbatch options (NULL: not given) */
    char *partition, *account, *qos, *time_limit, *mem, *output, *gres;
    uint32_t cpus_per_task;
    cli_slurm_list_t sbatch_options; /* more "#SBATCH ..." lines */
    cli_slurm_list_t setup;          /* shell lines run before the worker starts */
    /* the worker it runs, and what it offers (the plan's unit) */
    char *worker;                          /* its command, with @PLACEHOLDERS@ */
    char *worker_cert, *worker_broker_key; /* with keys: its pool certificate
                                              JOB_NAME-*, the broker's key */
    char *work_dir;                        /* with @NODE@; shell expansions allowed */
    uint32_t gpus;                         /* GPUs gres asks for */
    uint64_t gpu_mem;
    char *gpu_mem_text; /* as written */
    bool declare_gpus;  /* --gpus from CUDA_VISIBLE_DEVICES, gpu_mem each */
    char *gpu_name;
    uint32_t cpu_slots;
    cli_slurm_list_t kinds; /* the kinds its workers take; none: every kind */
} cli_slurm_conf_t;

/* Reads and checks a configuration file: 0, or SEGQ_EINVAL (SEGQ_ENOENT,
   SEGQ_ENOMEM) with every problem in err, one "FILE:LINE: what (fix)" per
   line. *out is cleared first and holds the defaults for what the file
   does not say. */
int cli_slurm_conf_load (const char *path, cli_slurm_conf_t *out, char *err, size_t errlen);
/* The same for text already read; path names it in messages. */
int cli_slurm_conf_parse (const char *path, const char *text, size_t len, cli_slurm_conf_t *out,
                          char *err, size_t errlen);
void cli_slurm_conf_clear (cli_slurm_conf_t *self);

/* ---- cli_slurm_script.c ---- */

/* The batch script of one worker job (malloc'ed; NULL when out of
   memory). broker: the URL its worker connects to. */
char *cli_slurm_script (const cli_slurm_conf_t *conf, const char *broker);

/* ---- cli_slurm_run.c ---- */

/* What a Slurm command said: its exit status (-1: it could not run or was
   killed at its time limit, `out` then says why) and its output, cut to a
   bound. */
typedef struct {
    int status;
    char out [16384];
    char err [4096];
} cli_slurm_output_t;

/* Runs `program` (from conf->slurm_bin, else $PATH) with argv (argv[0]
   included, NULL-terminated), `input` on its stdin (or nothing), for at
   most timeout_ms. Returns 0 when it exited 0. */
int cli_slurm_command (const cli_slurm_conf_t *conf, const char *const *argv, const char *input,
                       int timeout_ms, cli_slurm_output_t *output);

/* Monotonic milliseconds: the plan's clock. */
int64_t cli_slurm_now_ms (void);

/* ---- cli_slurm_plan.c ---- */

/* A Slurm job's state, as far as the autoscaler cares. The first three
   count towards max_workers; the last three are final (squeue --states=all
   lists them for MinJobAge after the end). */
typedef enum {
    CLI_SLURM_PENDING,   /* PENDING, REQUEUED ... */
    CLI_SLURM_RUNNING,   /* RUNNING, CONFIGURING, SUSPENDED ... */
    CLI_SLURM_ENDING,    /* COMPLETING, SIGNALING, STAGE_OUT ... */
    CLI_SLURM_CANCELLED, /* CANCELLED, PREEMPTED, TIMEOUT, DEADLINE: stopped from outside */
    CLI_SLURM_COMPLETED, /* its script exited 0 */
    CLI_SLURM_FAILED     /* FAILED, NODE_FAIL, BOOT_FAIL, OUT_OF_MEMORY ... */
} cli_slurm_state_t;

/* One of its own jobs as squeue lists it. */
typedef struct {
    uint64_t id;
    cli_slurm_state_t state;
} cli_slurm_job_t;

/* A squeue line "ID|STATE" as a job: false if it is not one. The
   squeue that makes them: squeue --me --noheader --states=all
   --name=JOB_NAME --format=%i|%T */
bool cli_slurm_job_parse (const char *line, cli_slurm_job_t *out);

/* The Slurm job id a worker's node name stands for, or 0 if it is not one
   of this autoscaler's workers. */
uint64_t cli_slurm_node_job (const cli_slurm_conf_t *conf, const char *node);

/* What the autoscaler sees in a round. */
typedef struct {
    const segq_job_info_t *jobs; /* queued */
    size_t n_jobs;
    const segq_worker_info_t *workers;
    size_t n_workers;
    const cli_slurm_job_t *slurm; /* its own, from squeue */
    size_t n_slurm;
    int64_t now_ms;
} cli_slurm_view_t;

/* What it decided; free with cli_slurm_plan_clear. */
typedef struct {
    uint32_t submit; /* new worker jobs to sbatch */
    char **drain;    /* worker nodes that idled long enough */
    size_t n_drain;
    uint64_t *cancel; /* Slurm jobs of its own that will not be needed */
    size_t n_cancel;
    char **notes; /* why, in sentences, for its log */
    size_t n_notes;
} cli_slurm_plan_t;

/* What it remembers from one round to the next: since when each job has
   waited, each worker idled, each Slurm job was seen, and failed starts. */
typedef struct cli_slurm_memory cli_slurm_memory_t;

cli_slurm_memory_t *cli_slurm_memory_new (void);
void cli_slurm_memory_destroy (cli_slurm_memory_t **self_p);

/* Decides a round. 0, or SEGQ_ENOMEM. */
int cli_slurm_plan (cli_slurm_memory_t *memory, const cli_slurm_conf_t *conf,
                    const cli_slurm_view_t *view, cli_slurm_plan_t *out);
void cli_slurm_plan_clear (cli_slurm_plan_t *self);

/* A worker job was submitted: it counts from now on, even if it ends
   before squeue ever lists it. 0, or SEGQ_ENOMEM. */
int cli_slurm_memory_submitted (cli_slurm_memory_t *self, uint64_t id);
/* An sbatch failed: submissions pause as for a worker that never came. */
void cli_slurm_memory_failed (cli_slurm_memory_t *self, const cli_slurm_conf_t *conf,
                              int64_t now_ms);

#endif
