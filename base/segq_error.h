/*  segq_error.h: error codes shared by every segq library.

    Errors are negative integers (0 is success), as in libuv: a function
    that can fail returns one, and where a human needs more than the code
    it also fills a caller-provided message buffer saying what failed,
    where, and what to do about it. The same codes travel on the wire in
    ERROR replies, so their values are part of the protocol: never renumber.
*/
#ifndef SEGQ_ERROR_H
#define SEGQ_ERROR_H

#include <stddef.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef enum {
    SEGQ_OK = 0,
    SEGQ_EPROTO = -1,     /* malformed message or frame */
    SEGQ_EVERSION = -2,   /* protocol version not spoken by the peer */
    SEGQ_ETOOBIG = -3,    /* over a size limit (message, artifact, image) */
    SEGQ_ENOENT = -4,     /* unknown job, artifact, worker or file */
    SEGQ_EINVAL = -5,     /* bad argument or parameter */
    SEGQ_EKIND = -6,      /* unknown job kind */
    SEGQ_ESTATE = -7,     /* not allowed in the job's current state */
    SEGQ_ESTALE = -8,     /* from a stale attempt: fenced */
    SEGQ_EPERM = -9,      /* not allowed for this user or role */
    SEGQ_EIO = -10,       /* I/O error (disk, database) */
    SEGQ_ENOSPC = -11,    /* out of disk space */
    SEGQ_EHASH = -12,     /* sha256 of received data does not match */
    SEGQ_ENOMEM = -13,    /* out of memory */
    SEGQ_ETIMEOUT = -14,  /* no answer in time */
    SEGQ_EUNAVAIL = -15,  /* broker or peer not reachable */
    SEGQ_EEXIST = -16,    /* already exists */
    SEGQ_EAUTH = -17,     /* authentication failed or no credentials */
    SEGQ_EINTERNAL = -18, /* a bug: please report it */
    SEGQ_ELIMIT = -19,    /* over a per-user limit of the broker's configuration */
    /* the pipeline's libraries (images, safetensors, the torch shim, segq-run) */
    SEGQ_ECORRUPT = -20,     /* input file malformed or truncated: the decoder rejected it */
    SEGQ_EUNSUPPORTED = -21, /* input this build cannot handle (a dtype, an image format) */
    SEGQ_ENODEV = -22,       /* compute device absent, or CUDA not compiled in */
    SEGQ_ETORCH = -23,       /* libtorch raised: the message says why */
    SEGQ_EGPUMEM = -24       /* out of GPU memory (or of this process's share of it) */
} segq_error_t;

/* The most negative code: codes are dense from SEGQ_OK down to it. */
#define SEGQ_ELAST SEGQ_EGPUMEM

/* Short fixed text for a code ("malformed message", ...). Never NULL. */
const char *segq_strerror (int code);

/* The code's symbolic name without prefix ("EPROTO"), for logs and --json. */
const char *segq_error_name (int code);

/* Formats a message into err (when err and errlen are given) and returns
 * code: `return segq_fail (err, errlen, SEGQ_EINVAL, "%s: ...", path);`. */
int segq_fail (char *err, size_t errlen, int code, const char *fmt, ...)
    __attribute__ ((format (printf, 4, 5)));

#ifdef __cplusplus
}
#endif
#endif
