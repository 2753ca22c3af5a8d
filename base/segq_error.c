/*  segq_error.c: text for the error codes of segq_error.h. */
#include "segq_error.h"

#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>

typedef struct {
    int code;
    const char *name;
    const char *text;
} error_row_t;

/* Indexed by -code: the codes are dense from 0 to SEGQ_ELAST. */
static const error_row_t s_errors [] = {
    { SEGQ_OK, "OK", "success" },
    { SEGQ_EPROTO, "EPROTO", "malformed message" },
    { SEGQ_EVERSION, "EVERSION", "protocol version not supported" },
    { SEGQ_ETOOBIG, "ETOOBIG", "over a size limit" },
    { SEGQ_ENOENT, "ENOENT", "not found" },
    { SEGQ_EINVAL, "EINVAL", "invalid argument" },
    { SEGQ_EKIND, "EKIND", "unknown job kind" },
    { SEGQ_ESTATE, "ESTATE", "not allowed in the job's current state" },
    { SEGQ_ESTALE, "ESTALE", "stale attempt (fenced)" },
    { SEGQ_EPERM, "EPERM", "permission denied" },
    { SEGQ_EIO, "EIO", "input/output error" },
    { SEGQ_ENOSPC, "ENOSPC", "no space left on device" },
    { SEGQ_EHASH, "EHASH", "sha256 mismatch" },
    { SEGQ_ENOMEM, "ENOMEM", "out of memory" },
    { SEGQ_ETIMEOUT, "ETIMEOUT", "timed out" },
    { SEGQ_EUNAVAIL, "EUNAVAIL", "broker or peer not reachable" },
    { SEGQ_EEXIST, "EEXIST", "already exists" },
    { SEGQ_EAUTH, "EAUTH", "authentication failed" },
    { SEGQ_EINTERNAL, "EINTERNAL", "internal error (a bug: please report it)" },
    { SEGQ_ELIMIT, "ELIMIT", "over a per-user limit" },
    { SEGQ_ECORRUPT, "ECORRUPT", "malformed or truncated data" },
    { SEGQ_EUNSUPPORTED, "EUNSUPPORTED", "not supported by this build" },
    { SEGQ_ENODEV, "ENODEV", "no such device" },
    { SEGQ_ETORCH, "ETORCH", "libtorch error" },
    { SEGQ_EGPUMEM, "EGPUMEM", "out of GPU memory" },
};
_Static_assert(sizeof s_errors / sizeof s_errors [0] == 1 - SEGQ_ELAST,
               "s_errors has one row per code, from SEGQ_OK to SEGQ_ELAST");

static const error_row_t *
s_row (int code)
{
    size_t index = code <= 0 ? (size_t) - (long) code : (size_t) -1;
    if (index < sizeof s_errors / sizeof s_errors [0])
        return &s_errors [index];
    return NULL;
}

const char *
segq_strerror (int code)
{
    const error_row_t *row = s_row (code);
    return row ? row->text : "unknown error code";
}

const char *
segq_error_name (int code)
{
    const error_row_t *row = s_row (code);
    return row ? row->name : "EUNKNOWN";
}

int
segq_fail (char *err, size_t errlen, int code, const char *fmt, ...)
{
    if (err && errlen) {
        va_list ap;
        va_start (ap, fmt);
        vsnprintf (err, errlen, fmt, ap);
        va_end (ap);
    }
    return code;
}
