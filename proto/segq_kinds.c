/*  segq_kinds.c: THE table of job kinds (see segq_schema.h).

    To add a kind, add its parameter and input arrays and one row to
    s_kinds. Every other part of segq (CLI parsing and help, the broker's
    validation, segq-run's flags, the docs) reads it from here. */
#include "segq_schema.h"

#include <string.h>

#define COUNT(a) (sizeof (a) / sizeof (a)[0])

/* ---- test kinds: exercise the queue without ML ---- */

static const segq_param_spec_t s_sleep_params[] = {
    { "seconds", SEGQ_PARAM_FLOAT, "1", 0, 86400, NULL,
      "how long to sleep, reporting progress as it goes" },
};

static const segq_input_spec_t s_echo_inputs[] = {
    { "files", false, true, "files copied unchanged to outputs of the same name" },
};

static const segq_param_spec_t s_fail_params[] = {
    { "mode", SEGQ_PARAM_CHOICE, "exit", 0, 0, "exit|signal|crash",
      "exit: exit with `code`; signal: kill itself with `signal`; crash: a segfault" },
    { "code", SEGQ_PARAM_INT, "1", 0, 255, NULL, "exit status for mode=exit" },
    { "signal", SEGQ_PARAM_INT, "9", 1, 64, NULL, "signal number for mode=signal" },
};

static const segq_kind_spec_t s_kinds[] = {
    { "noop", "completed at once by the worker itself: measures the queue alone",
      NULL, 0, NULL, 0, "*", true, true },
    { "sleep", "sleeps, reporting progress",
      s_sleep_params, COUNT (s_sleep_params), NULL, 0, "*", false, true },
    { "echo", "copies each input to an output of the same name",
      NULL, 0, s_echo_inputs, COUNT (s_echo_inputs), "*", false, true },
    { "fail", "fails: exits non-zero, dies by a signal, or crashes",
      s_fail_params, COUNT (s_fail_params), NULL, 0, "*", false, true },
};

const segq_kind_spec_t *
segq_kinds (size_t *count)
{
    if (count)
        *count = COUNT (s_kinds);
    return s_kinds;
}

const segq_kind_spec_t *
segq_kind_find (const char *name)
{
    if (!name)
        return NULL;
    for (size_t i = 0; i < COUNT (s_kinds); i++)
        if (strcmp (s_kinds[i].name, name) == 0)
            return &s_kinds[i];
    return NULL;
}

const segq_param_spec_t *
segq_kind_param (const segq_kind_spec_t *kind, const char *name)
{
    if (!kind || !name)
        return NULL;
    for (size_t i = 0; i < kind->n_params; i++)
        if (strcmp (kind->params[i].name, name) == 0)
            return &kind->params[i];
    return NULL;
}
