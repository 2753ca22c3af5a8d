/*  cli_slurm_script.c: the batch script of a worker job.

    The worker takes exactly what Slurm gave the job: its CPUs as CPU
    slots, and its GPUs as Slurm's CUDA_VISIBLE_DEVICES lists them. Under
    that list CUDA numbers the listed devices from 0, and so does the
    worker, whose jobs get the list's entries (worker.c maps them). A node
    the worker cannot ask (no CUDA in segq-run, fake GPUs in a test) gets
    them declared from the list instead (declare_gpus), gpu_mem each.

    The worker runs as the script's child, not in its place: a signal that
    reaches only the script (`scancel --batch`) is passed on, and once the
    worker has left the script removes its work directory, whose cache
    holds job inputs (patient data). scancel, preemption and the time
    limit signal every process of the job: the worker drains, gives back
    the attempts the signal cut short (the broker runs them again
    elsewhere), says BYE and exits.
*/
#define _GNU_SOURCE
#include "cli_slurm.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* "#SBATCH --NAME=VALUE" when the configuration gives a value. */
static void
s_option (FILE *f, const char *name, const char *value)
{
    if (value)
        fprintf (f, "#SBATCH --%s=%s\n", name, value);
}

static void
s_header (FILE *f, const cli_slurm_conf_t *c)
{
    fprintf (f, "#!/bin/sh\n");
    s_option (f, "job-name", c->job_name);
    fprintf (f, "#SBATCH --no-requeue\n#SBATCH --cpus-per-task=%u\n", c->cpus_per_task);
    s_option (f, "partition", c->partition);
    s_option (f, "account", c->account);
    s_option (f, "qos", c->qos);
    s_option (f, "time", c->time_limit);
    s_option (f, "mem", c->mem);
    s_option (f, "gres", c->gres);
    s_option (f, "output", c->output);
    for (size_t i = 0; i < c->sbatch_options.n; i++)
        fprintf (f, "#SBATCH %s\n", c->sbatch_options.items [i]);
    fprintf (f,
             "# A segq worker that takes what Slurm gave this job; written by\n"
             "# `segq slurm-scale` from %s (docs/slurm.md).\n"
             "set -u\n"
             "umask 077\n"
             "# the autoscaler's identity is not the worker's (sbatch passes its\n"
             "# environment on): with keys, the worker's is the pool certificate\n"
             "unset SEGQ_CERT SEGQ_BROKER_KEY SEGQ_USER\n",
             c->path ? c->path : "(no file)");
    if (c->worker_cert)
        fprintf (f, "export SEGQ_CERT='%s'\n", c->worker_cert);
    if (c->worker_broker_key)
        fprintf (f, "export SEGQ_BROKER_KEY='%s'\n", c->worker_broker_key);
}

/* $gpus: "0:NAME:MEM,1:NAME:MEM" for the entries of CUDA_VISIBLE_DEVICES,
   which must be as many as gres asks for. */
static void
s_declared_gpus (FILE *f, const cli_slurm_conf_t *c)
{
    fprintf (
        f,
        "gpus=\n"
        "i=0\n"
        "for device in $(echo \"${CUDA_VISIBLE_DEVICES:-}\" | tr ',' ' '); do\n"
        "    gpus=\"${gpus:+$gpus,}$i:%s:%s\"\n"
        "    i=$((i + 1))\n"
        "done\n"
        "if [ \"$i\" -ne %u ]; then\n"
        "    echo \"segq worker job: Slurm gave CUDA_VISIBLE_DEVICES='${CUDA_VISIBLE_DEVICES:-}'"
        " ($i GPUs), gres asked for %u: check gres.conf on $(hostname)\" >&2\n"
        "    exit 1\n"
        "fi\n",
        c->gpu_name, c->gpu_mem_text, c->gpus, c->gpus);
}

/* What @GPUS@ stands for. */
static const char *
s_gpus_flag (const cli_slurm_conf_t *c)
{
    if (!c->gpus)
        return "--gpus \"\"";                         /* no GPUs were given: take none */
    return c->declare_gpus ? "--gpus \"$gpus\"" : ""; /* else found under the list */
}

/* The worker command with its placeholders replaced. */
static void
s_command (FILE *f, const cli_slurm_conf_t *c)
{
    for (const char *at = c->worker; *at;) {
        static const struct {
            const char *word, *shell;
        } subs [] = { { "@BROKER@", "\"$broker\"" },
                      { "@NODE@", "\"$node\"" },
                      { "@WORKDIR@", "\"$workdir\"" },
                      { "@CPUS@", NULL },
                      { "@GPUS@", NULL },
                      { "@KINDS@", NULL } };
        size_t i = 0, n = sizeof subs / sizeof subs [0];
        while (i < n && strncmp (at, subs [i].word, strlen (subs [i].word)) != 0)
            i++;
        if (i == n) {
            fputc (*at++, f);
            continue;
        }
        at += strlen (subs [i].word);
        if (subs [i].shell)
            fputs (subs [i].shell, f);
        else if (!strcmp (subs [i].word, "@CPUS@"))
            fprintf (f, "%u", c->cpu_slots);
        else if (!strcmp (subs [i].word, "@GPUS@"))
            fputs (s_gpus_flag (c), f);
        else
            for (size_t k = 0; k < c->kinds.n; k++)
                fprintf (f, "%s%s", k ? "," : "--kinds ", c->kinds.items [k]);
    }
}

/* Removes the work folders of this pool's earlier workers whose Slurm job
   has ended: the rm after the worker never runs in a job Slurm killed
   (SIGKILL after KillWait), and the folder holds its input cache, patient
   data. Only where each worker's folder is its own (@NODE@ in work_dir),
   and only if squeue answers for this job: a job squeue does not list has
   ended. */
static void
s_sweep_left_folders (FILE *f, const cli_slurm_conf_t *c)
{
    const char *node = strstr (c->work_dir, "@NODE@");
    if (!node)
        return;
    fprintf (f, "left_prefix=\"%.*s%s-\"\nleft_suffix=\"%s\"\n", (int) (node - c->work_dir),
             c->work_dir, c->job_name, node + 6);
    fputs ("if squeue -h -j \"$SLURM_JOB_ID\" -o %i >/dev/null 2>&1; then\n"
           "    for left in \"$left_prefix\"*\"$left_suffix\"; do\n"
           "        id=${left#\"$left_prefix\"}\n"
           "        id=${id%\"$left_suffix\"}\n"
           "        case $id in '' | *[!0-9]*) continue ;; esac\n"
           "        [ \"$id\" != \"$SLURM_JOB_ID\" ] && [ -d \"$left\" ] || continue\n"
           "        [ -z \"$(squeue -h -j \"$id\" -o %i 2>/dev/null)\" ] && rm -rf \"$left\"\n"
           "    done\n"
           "fi\n",
           f);
}

/* The variables the command uses, the setup lines, the worker, the wait. */
static void
s_body (FILE *f, const cli_slurm_conf_t *c, const char *broker)
{
    fprintf (f, "node=\"%s-$SLURM_JOB_ID\"\nbroker='%s'\nworkdir=\"", c->job_name, broker);
    for (const char *at = c->work_dir; *at;)
        if (strncmp (at, "@NODE@", 6) == 0) {
            fputs ("$node", f);
            at += 6;
        } else
            fputc (*at++, f);
    fputs ("\"\n", f);
    if (c->declare_gpus)
        s_declared_gpus (f, c);
    for (size_t i = 0; i < c->setup.n; i++)
        fprintf (f, "%s\n", c->setup.items [i]);
    s_sweep_left_folders (f, c);
    fputs ("mkdir -p \"$workdir\" || exit 1\n", f);
    s_command (f, c);
    fputs (" &\n"
           "worker=$!\n"
           "trap 'kill -TERM \"$worker\" 2>/dev/null' TERM INT HUP\n"
           "status=0\n"
           "wait \"$worker\" || status=$?\n"
           "while kill -0 \"$worker\" 2>/dev/null; do wait \"$worker\" || status=$?; done\n"
           "rm -rf \"$workdir\"\n"
           "exit \"$status\"\n",
           f);
}

char *
cli_slurm_script (const cli_slurm_conf_t *conf, const char *broker)
{
    char *text = NULL;
    size_t len = 0;
    FILE *f = open_memstream (&text, &len);
    if (!f)
        return NULL;
    s_header (f, conf);
    s_body (f, conf, broker);
    bool failed = ferror (f) != 0;
    if (fclose (f) != 0 || failed) {
        free (text);
        return NULL;
    }
    return text;
}
