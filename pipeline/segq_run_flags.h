/* segq_run_flags: the one table of segq-run's commands and their flags
 * (name, type, default, range, help, and where the value lands in the
 * options struct). Shaped like proto's segq_param_spec_t so it can be
 * generated from the job-kind schema later. Flags are written
 * --name-with-dashes or --name_with_underscores. */
#ifndef SEGQ_RUN_FLAGS_H
#define SEGQ_RUN_FLAGS_H

#include <stddef.h>
#include <stdio.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef enum {
    SEGQ_FLAG_INT = 1,    /* int64_t */
    SEGQ_FLAG_FLOAT = 2,  /* double */
    SEGQ_FLAG_BOOL = 3,   /* int, takes no value on the command line */
    SEGQ_FLAG_STRING = 4, /* char *, owned by the options struct */
    SEGQ_FLAG_CHOICE = 5  /* char *, one of `choices` ("a|b") */
} segq_flag_type_t;

typedef struct {
    const char *name; /* "min_size" */
    segq_flag_type_t type;
    const char *default_value; /* as typed; NULL: required */
    double min, max;           /* inclusive, INT and FLOAT */
    const char *choices;
    const char *help;
    size_t offset; /* of the field in the options struct */
} segq_flag_t;

typedef struct {
    const char *name; /* "train" */
    const char *usage;
    const char *help;
    const segq_flag_t *flags;
    size_t n_flags;
    /* Rules between flags, after each parsed alone (NULL: none): a
     * negative code with a message, so a conflict is a bad command line. */
    int (*check)(const void *opts, char *err, size_t errlen);
} segq_command_t;

/* "train", "generate", "devices"; NULL if unknown. */
const segq_command_t *segq_run_command_find(const char *name);
const segq_command_t *segq_run_commands(size_t *count);

/* Fills opts with every default, then the flags in argv[0..argc). Returns
 * 0, 1 when --help was given (help printed to stdout), or a negative code
 * with a message naming the flag. opts must be zeroed before; release with
 * segq_flags_free even on error. */
int segq_flags_parse(const segq_command_t *cmd, int argc, char **argv, void *opts, char *err,
                     size_t errlen);
/* On opts that segq_flags_parse filled: a --device spelt as a device, and
 * the command's rules between flags (segq_command_t.check). 0, or a
 * negative code with a message under the command's name, as a bad
 * flag's. */
int segq_flags_check(const segq_command_t *cmd, const void *opts, char *err, size_t errlen);
void segq_flags_free(const segq_command_t *cmd, void *opts);
void segq_flags_help(const segq_command_t *cmd, FILE *out);
/* "name=value" pairs of every flag, comma-free JSON object text, for
 * checkpoint metadata and manifests; malloc'd or NULL. */
char *segq_flags_to_json(const segq_command_t *cmd, const void *opts);

#ifdef __cplusplus
}
#endif
#endif
