/*  cli_submit.h: what `segq submit` and `segq submit pipeline` share: the
    parsed command line of one kind and the job specs made from it. */
#ifndef SEGQ_CLI_SUBMIT_H
#define SEGQ_CLI_SUBMIT_H

#include "cli.h"

typedef struct {
    char name[64];              /* the parameter, as the table names it */
    const char *value;          /* as typed */
} cli_typed_param_t;

typedef struct {
    const segq_input_spec_t *spec;
    char set[64];               /* a named set's NAME (spec->sets), else "" */
    const char *ref;            /* FILE, DIR, JOB or JOB:OUTPUT */
    bool plural;                /* --images DIR: one job per file */
} cli_typed_input_t;

typedef struct {
    const char *kind_name;      /* as typed, or NULL */
    const segq_kind_spec_t *kind;   /* NULL: unknown */
    cli_typed_param_t *params;  size_t n_params;    /* typed flags and --param */
    cli_typed_input_t *inputs;  size_t n_inputs;    /* typed flags */
    const char **raw_inputs;    size_t n_raw_inputs;    /* --input NAME=REF */
    const char **after;         size_t n_after;
    int64_t priority;
    uint64_t gpu_mem, cpu_slots, time_limit, max_attempts;
    bool cpu, help;
} cli_submit_args_t;

/* Room for every argument of argv; -1 on out of memory (clear anyway). */
int cli_submit_args_init (cli_submit_args_t *s, int argc);
void cli_submit_args_clear (cli_submit_args_t *s);
/* argv[0] is "submit"; the kind is the first word. CLI_OK or CLI_USAGE
   (message printed). */
int cli_submit_parse (cli_globals_t *g, cli_submit_args_t *s, int argc, char **argv);
/* One job's spec, validated. files: NULL, or per typed input a path that
   replaces its value (one element of a job array). */
int cli_submit_spec (cli_globals_t *g, const cli_submit_args_t *s, const char *const *files,
                     segq_job_spec_t **out);

#endif
