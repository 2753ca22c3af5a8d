/*  cli_submit.h: what `segq submit` and `segq submit pipeline` share: the
    parsed command line of one kind and the job specs made from it. */
#ifndef SEGQ_CLI_SUBMIT_H
#define SEGQ_CLI_SUBMIT_H

#include "cli.h"

typedef struct {
    char name [64];    /* the parameter, as the table names it */
    const char *value; /* as typed */
} cli_typed_param_t;

typedef struct {
    const segq_input_spec_t *spec;
    char set [64];   /* a named set's NAME (spec->sets), else "" */
    const char *ref; /* FILE, DIR, JOB or JOB:OUTPUT */
    bool plural;     /* --images DIR: one job per file */
} cli_typed_input_t;

typedef struct {
    const char *kind_name;        /* as typed, or NULL */
    const segq_kind_spec_t *kind; /* NULL: unknown */
    cli_typed_param_t *params;
    size_t n_params; /* typed flags and --param */
    cli_typed_input_t *inputs;
    size_t n_inputs; /* typed flags */
    const char **raw_inputs;
    size_t n_raw_inputs; /* --input NAME=REF */
    const char **after;
    size_t n_after;
    int64_t priority;
    uint64_t gpu_mem, cpu_slots, time_limit, max_attempts;
    bool cpu, help;
    unsigned given;      /* bits of the one-value options given (--priority, ...) */
    bool files_checked;  /* its local files were read already (cli_check.h): not again */
    const char *command; /* in messages: "submit" (or "retry") */
} cli_submit_args_t;

/* Room for every argument of argv; -1 on out of memory (clear anyway). */
int cli_submit_args_init (cli_submit_args_t *s, int argc);
void cli_submit_args_clear (cli_submit_args_t *s);
/* argv[0] is "submit"; the kind is the first word. CLI_OK or CLI_USAGE
   (message printed). */
int cli_submit_parse (cli_globals_t *g, cli_submit_args_t *s, int argc, char **argv);
/* argv[*i], an option every submit takes (resources, --param, --after,
   the common ones), applied to s (*i past its value): CLI_OK; -1 when it
   is not one; CLI_USAGE (said) when its value is wrong. */
int cli_submit_option (cli_globals_t *g, cli_submit_args_t *s, int argc, char **argv, int *i);
/* cli_near_option over the options every submit takes (and a retry). */
const char *cli_submit_near_option (const char *arg, char *buf, size_t len);
/* One job's spec, validated. files: NULL, or per typed input a path that
   replaces its value (one element of a job array). */
int cli_submit_spec (cli_globals_t *g, const cli_submit_args_t *s, const char *const *files,
                     segq_job_spec_t **out);

/* A job array: one job per element. files[i][k] replaces typed input i's
   value in job k (NULL: input i is the same for every job). */
typedef struct {
    size_t n; /* jobs; 0: no array */
    size_t n_inputs;
    char ***files; /* [n_inputs][n] */
} cli_array_plan_t;

/* From folders for one-file inputs (--images DIR --masks DIR: files paired
   by name without extension; unmatched ones refused, named) or job array
   ids (members paired in order; asks the broker, connecting *client). */
int cli_array_plan (cli_globals_t *g, segq_client_t **client, const cli_submit_args_t *s,
                    cli_array_plan_t *plan);
void cli_array_plan_clear (cli_array_plan_t *plan);

/* Submits specs[0..n), made from s, pipelined; ids[k] gets job k's id
   (owned; calloc'd by the caller): on a refusal, those accepted, for the
   caller to cancel (cli_submit_cancel); when s asked for no resources,
   what the broker gave is said. */
int cli_submit_all (cli_globals_t *g, segq_client_t *client, const cli_submit_args_t *s,
                    segq_job_spec_t **specs, size_t n, char **ids);

/* The jobs sent[0..n) of a submission the broker refused in part,
   cancelled, so that nothing of the `whole` ("pipeline", "job array")
   runs; said on stderr as "segq CMD: ...", with every id when they could
   not be cancelled. */
void cli_submit_cancel (const cli_globals_t *g, segq_client_t *client, const char *cmd,
                        const char *whole, const char *const *sent, size_t n);
/* Whether `next`, the argument after a bare --cpu, is its value. */
bool cli_submit_cpu_value (const char *next);

/* segq submit pipeline ...; argv[0] is "pipeline". */
int cli_submit_pipeline (cli_globals_t *g, int argc, char **argv);

#endif
