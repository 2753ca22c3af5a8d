/*  resend.h: requests the broker turned away for a moment, sent again
    (part of libsegq, not installed).

    A PUT or GET opens a transfer, and the broker bounds those: per
    connection, per user and for all clients together (SPEC 10.5). One
    over a bound is refused with ELIMIT, to be retried in a moment: the
    transfers open end as they finish or go idle. So the client keeps a
    copy of each such request until its answer comes, and on ELIMIT sends
    the copy again after a pause that doubles from SEGQ__RESEND_FIRST_MS
    to SEGQ__RESEND_MOST_MS, for SEGQ__RESEND_FOR_MS at most; only then
    does the refusal reach the caller. The copy keeps its request id:
    whoever waits for the answer sees only the answer. At most
    SEGQ__RESEND_KEPT copies are kept, many more than the transfers a
    client starts at once; past that the oldest goes, and its request, if
    refused, is not sent again. */
#ifndef SEGQ_RESEND_H
#define SEGQ_RESEND_H

#include <czmq.h>
#include <stdbool.h>
#include <stdint.h>

#define SEGQ__RESEND_FIRST_MS 50
#define SEGQ__RESEND_MOST_MS  2000
#define SEGQ__RESEND_FOR_MS   120000
#define SEGQ__RESEND_KEPT     64

typedef struct segq__resend_t segq__resend_t;

segq__resend_t *segq__resend_new (void);
void segq__resend_destroy (segq__resend_t **self_p);
/* Keeps a copy of request req_id, encoded (not consumed). 0, or -1 when
   out of memory (then it is not sent again). */
int segq__resend_keep (segq__resend_t *self, uint64_t req_id, zmsg_t *request);
/* The request has its answer: its copy is dropped. */
void segq__resend_forget (segq__resend_t *self, uint64_t req_id);
/* Request req_id was refused with ELIMIT at now (zclock_mono): true when
   it will be sent again (see segq__resend_due), false when it was not kept
   or has been refused for SEGQ__RESEND_FOR_MS (its copy then dropped). */
bool segq__resend_refused (segq__resend_t *self, uint64_t req_id, int64_t now);
/* When the first copy is due again; INT64_MAX when none is. */
int64_t segq__resend_due (const segq__resend_t *self);
/* A copy of one due by now, for the caller to send (its own to destroy),
   or NULL when none is due. It stays kept until its answer. */
zmsg_t *segq__resend_next (segq__resend_t *self, int64_t now);

#endif
