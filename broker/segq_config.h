/*  segq_config.h: segqd's configuration file (library segq_config, libc and
    segq_core only, so it can be fuzzed on its own).

    Format (docs/usage.md, "Broker configuration"):

        # comment (own line)
        bind = tcp://0.0.0.0:5555           broker settings: before any section,
        data_dir = /var/lib/segq            the long flag names ('-' or '_')

        [defaults]                          limits of every user
        max_running = 8
        max_queued = 10000
        max_gpu_mem = 40G

        [user alice]                        one user's limits; what it does not
        max_running = 2                     set comes from [defaults]

        [kind train]                        what a job of this kind gets when its
        gpu_mem = 8G                        submit asks for no resources (else
                                            one CPU slot); or cpu_slots = 4

    A value is everything after '=' up to the end of the line, blanks
    trimmed, never quoted (the lines' syntax: segq_conf_lines.h). Limits
    take a number (a size for max_gpu_mem) or "unlimited".
    Every problem is reported as "FILE:LINE: what" (all of them, not only
    the first), and the file is then refused as a whole.
*/
#ifndef SEGQ_CONFIG_H
#define SEGQ_CONFIG_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#define SEGQ_UNLIMITED        UINT64_MAX
#define SEGQ_CONFIG_MAX_BYTES (1u << 20) /* a larger file is refused */

typedef struct {
    uint64_t max_running; /* running jobs; SEGQ_UNLIMITED = no limit */
    uint64_t max_queued;  /* waiting + queued jobs */
    uint64_t max_gpu_mem; /* bytes of GPU memory requested by its running jobs */
} segq_user_limits_t;

typedef struct segq_config segq_config_t;

segq_config_t *segq_config_new (void);
void segq_config_destroy (segq_config_t **self_p);

/* Parses `len` bytes of text; `name` names it in messages. On errors
   returns SEGQ_EINVAL (SEGQ_ENOMEM when out of memory) with every problem
   in err, one per line, and leaves the configuration as it was. */
int segq_config_parse (segq_config_t *self, const char *name, const char *text, size_t len,
                       char *err, size_t errlen);
/* Reads and parses a file. */
int segq_config_load (segq_config_t *self, const char *path, char *err, size_t errlen);

/* A broker setting as written (already checked for its type), or NULL
   when the file does not set it. `key` is the flag name ("data-dir"). */
const char *segq_config_setting (const segq_config_t *self, const char *key);

/* The limits of `user`: its [user] section, then [defaults], then none. */
segq_user_limits_t segq_config_limits (const segq_config_t *self, const char *user);

typedef struct {
    uint64_t gpu_mem; /* bytes; 0: a CPU job */
    uint32_t cpu_slots;
} segq_kind_resources_t;

/* What a job of `kind` gets when its submit asks for no resources: its
   [kind NAME] section, else one CPU slot. self may be NULL (no file). */
segq_kind_resources_t segq_config_kind_resources (const segq_config_t *self, const char *kind);

/* The broker settings `now` sets otherwise than `before` (either may be
   NULL: no file), as "key, key" into out ("" if none); how many. */
size_t segq_config_settings_changed (const segq_config_t *before, const segq_config_t *now,
                                     char *out, size_t len);

#ifdef __cplusplus
}
#endif
#endif
