/*  segq_schema.h: the one table of job kinds.

    Each job kind declares its parameters (name, type, range, default,
    help), its inputs, and which of its outputs is the principal one (what
    a bare `JOB` reference means). This single table drives the CLI's
    parsing and --help, the broker's validation at submit, segq-run's
    flags, and the docs, so the three can never disagree.

    This library (segq_schema) depends on nothing but libc, so segq-run
    can use it without pulling in ZeroMQ.
*/
#ifndef SEGQ_SCHEMA_H
#define SEGQ_SCHEMA_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include "segq_error.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef enum {
    SEGQ_PARAM_INT = 1,   /* int64 */
    SEGQ_PARAM_FLOAT = 2, /* double */
    SEGQ_PARAM_BOOL = 3,
    SEGQ_PARAM_STRING = 4,
    SEGQ_PARAM_CHOICE = 5 /* a string from a fixed list; travels as a string */
} segq_param_type_t;

/* A typed value: a parameter's value, or a metric (FLOAT). */
typedef struct {
    segq_param_type_t type;
    int64_t i;
    double f;
    bool b;
    char *s; /* owned; STRING and CHOICE only */
} segq_value_t;

typedef struct {
    char *name; /* owned */
    segq_value_t value;
} segq_param_t;

/* An ordered name -> value map (parameters of a job, metrics of a run).
   Zero-initialise it; segq_params_clear frees what it owns. */
typedef struct {
    segq_param_t *items;
    size_t count;
    size_t capacity;
} segq_params_t;

typedef struct {
    const char *name; /* "seconds"; the CLI flag is --param seconds=N */
    segq_param_type_t type;
    const char *default_value; /* as the user would type it; NULL: required */
    double min, max;           /* inclusive range for INT and FLOAT */
    const char *choices;       /* "fp32|bf16" for CHOICE */
    const char *help;
} segq_param_spec_t;

/* What data an input takes, or a job's output is: what lets the broker
   refuse at submit a reference to another job's output that the new job
   could not read (a train job's losses.csv as a training image, a
   generation as a model), instead of a worker failing on it later. */
typedef enum {
    SEGQ_DATA_ANY = 0,    /* not declared (test kinds): not checked */
    SEGQ_DATA_IMAGE,      /* one PNG or JPEG file */
    SEGQ_DATA_CHECKPOINT, /* a SinGAN-Seg checkpoint (train's model.safetensors) */
    SEGQ_DATA_UNETPP,     /* UNet++ weights (evaluate's models/ with save_models) */
    SEGQ_DATA_VGG19,      /* VGG19 weights: a file; no kind makes them */
    SEGQ_DATA_PAIRS,      /* a folder of image/mask pairs: images/NAME + masks/NAME */
    SEGQ_DATA_GENERATION, /* pairs with their manifest.csv (generate, stylize); also PAIRS */
    SEGQ_DATA_REPORT      /* what no job reads (losses, metrics) */
} segq_data_t;

/* Outputs of a kind whose names match `pattern` (fnmatch(3), '*' within
   one folder) are `data`. */
typedef struct {
    const char *pattern;
    segq_data_t data;
} segq_output_spec_t;

typedef struct {
    const char *name; /* "image": laid out under this name in the job's directory */
    bool required;
    bool many; /* a set of files (a dataset), laid out under name/ */
    const char *help;
    bool sets;          /* many, as named sets: NAME=REF laid out under name/NAME/ */
    const char *unless; /* not required: needed unless this BOOL parameter is true
                           (train's mask unless mask_from_alpha); NULL: `required` says */
    bool catalogue;     /* may name a model of the broker's catalogue (generate's model) */
    bool per_member;    /* many files, but one job's (stylize's content: one generation's):
                           a job array given makes one job per member, not one of all */
    segq_data_t takes;  /* what a job's output given for it must be */
} segq_input_spec_t;

typedef struct {
    const char *name; /* "train", "sleep", ... */
    const char *help;
    const segq_param_spec_t *params;
    size_t n_params;
    const segq_input_spec_t *inputs;
    size_t n_inputs;
    const char *principal_output; /* output a bare `JOB` reference means; "*" = all outputs */
    bool in_process;              /* completed by the worker itself, no child (noop) */
    bool test_kind;               /* exercises the queue without ML */
    bool fresh_seed;              /* a submit without `seed` gets a random one, stored with
                                     the job: asking again gives new samples, not the same */
    /* the rules between parameters that ranges cannot state
       (segq_param_rules.h), on validated ones (each present); NULL: none */
    int (*check) (const segq_params_t *params, char *err, size_t errlen);
    segq_data_t all_outputs;           /* what its outputs are together (`JOB` of kind "*") */
    const segq_output_spec_t *outputs; /* what each output is, by name; NULL: not declared */
    size_t n_outputs;
} segq_kind_spec_t;

/* All kinds, in table order. */
const segq_kind_spec_t *segq_kinds (size_t *count);

/* The kind named `name`, or NULL. */
const segq_kind_spec_t *segq_kind_find (const char *name);

/* A parameter's or input's name as its command-line flag, without the
   leading dashes: '_' as '-' ("encoder_weights" -> "encoder-weights"),
   as segq, segq-run and libsegq's messages all show it. */
void segq_flag_name (const char *name, char *out, size_t len);

/* The parameter `name` of `kind`, or NULL. */
const segq_param_spec_t *segq_kind_param (const segq_kind_spec_t *kind, const char *name);

/* The input `name` of `kind` (exactly that name, not a path under it), or NULL. */
const segq_input_spec_t *segq_kind_input (const segq_kind_spec_t *kind, const char *name);

/* What output `output` of a job of `kind` is ("*": all its outputs
   together); SEGQ_DATA_ANY where the kind declares none, SEGQ_DATA_REPORT
   for a name it does not declare. */
segq_data_t segq_kind_output_data (const segq_kind_spec_t *kind, const char *output);

/* Whether input `in` can read output `output` ("*": all) of job `job` of
   kind `from`: SEGQ_EINVAL with err saying what the input takes and what
   that output is, when not. */
int segq_kind_check_source (const segq_input_spec_t *in, const segq_kind_spec_t *from,
                            const char *job, const char *output, char *err, size_t errlen);

/* Whether a job input laid out as `name` is the kind's input `input`: the
   input itself, or a file under input/ ("content/images/a.png"). */
bool segq_input_under (const char *name, const char *input);

/* Whether a job of `kind` with these parameters (validated: defaults filled
   in) must have input `in`: required, or needed because its `unless`
   parameter is false. */
bool segq_kind_input_needed (const segq_input_spec_t *in, const segq_params_t *params);

/* Whether a job of `kind` with these parameters must not have input `in`:
   its `unless` parameter is true, so something else stands for it (train's
   mask with mask_from_alpha: the image's alpha is the mask). */
bool segq_kind_input_excluded (const segq_input_spec_t *in, const segq_params_t *params);

/* The parameter or input name of `kind` closest to `word` ("nitre" ->
   "niter"; '-' counts as '_'), for a did-you-mean; NULL when none is close. */
const char *segq_kind_suggest (const segq_kind_spec_t *kind, const char *word);

/* The closest of `n` candidates to `word` within an edit distance that
   grows with its length, or NULL. */
const char *segq_suggest (const char *word, const char *const *candidates, size_t n);

/* The kind closest to `word` ("trian" -> "train"), for a did-you-mean;
   NULL when none is close. */
const char *segq_kind_name_suggest (const char *word);

/* Parse user text ("2000", "0.5", "true", "bf16") as the parameter's type,
   checking range and choices. On error fills err ("niter: 'abc' is not an
   integer (expected 1..1000000)") and returns SEGQ_EINVAL. */
int segq_param_parse (const segq_param_spec_t *spec, const char *text, segq_value_t *out, char *err,
                      size_t errlen);

/* Validate a job's parameters against its kind: unknown names, wrong
   types, out-of-range values and missing required ones are refused with a
   message naming the parameter; absent optional ones are filled in with
   their defaults, so a stored job always carries every parameter; then
   the kind's rules between parameters (its `check`). */
int segq_params_validate (const segq_kind_spec_t *kind, segq_params_t *params, char *err,
                          size_t errlen);

/* Map operations. set copies name and value (strings duplicated) and
   replaces an existing entry of the same name. */
int segq_params_set (segq_params_t *self, const char *name, const segq_value_t *value);
const segq_value_t *segq_params_get (const segq_params_t *self, const char *name);
int segq_params_copy (segq_params_t *dst, const segq_params_t *src);
void segq_params_clear (segq_params_t *self);

/* Most entries a params or metrics map may hold (the decoder enforces it). */
#define SEGQ_MAX_PARAMS 256

/* segq-run's exit status when the job ran out of GPU memory (its share
   as declared with --gpu-mem, or the device's): the worker reports it as
   that, so the user resubmits with more memory declared. 1 is any other
   failure, 2 bad flags. */
#define SEGQ_RUN_EXIT_GPU_OOM 3

void segq_value_clear (segq_value_t *value);
int segq_value_copy (segq_value_t *dst, const segq_value_t *src);
/* Text form, as the user would type it; returns chars written like snprintf. */
int segq_value_format (const segq_value_t *value, char *buf, size_t buflen);

/* A size as people write it: "4096", "512M", "8G", "3GB", "1.5GiB", "64k".
   Suffixes K, M, G, T (optionally followed by B or iB, any case) are powers
   of 1024; a bare number or "B" is bytes. Fractions are allowed with a
   suffix. SEGQ_EINVAL on anything else, on a negative value or on overflow. */
int segq_parse_size (const char *text, uint64_t *out);
/* An age or duration: a number of seconds, or with a suffix s, m, h, d, w
   ("30d", "1.5h"). SEGQ_EINVAL on anything else or a negative value. */
int segq_parse_age (const char *text, double *seconds);
/* A period a lab sets (segqd's --retention, --fairshare-half-life): an
   age with its unit ("30d", "12h", "3600s"), or "none"/"off" (0). A bare
   number is refused: "30" meant as days would be read as 30 seconds. */
int segq_parse_period (const char *text, double *seconds);
/* A size for people: "512 B", "1.5 GiB" (powers of 1024, one decimal). */
void segq_format_size (uint64_t bytes, char *buf, size_t len);

#ifdef __cplusplus
}
#endif
#endif
