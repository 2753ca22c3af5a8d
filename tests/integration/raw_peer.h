/*  raw_peer.h: a test's own connection to a real segqd (harness.h),
    speaking the wire directly, for what libsegq and segq-worker never
    send. Fails the test (Criterion) when the broker does not answer. */
#ifndef SEGQ_TEST_RAW_PEER_H
#define SEGQ_TEST_RAW_PEER_H

#include "harness.h"

/* The next message of `type` on a raw connection to the broker, those
   before it dropped; fails the test after 10 s (naming an ERROR seen). */
segq_msg_t *raw_expect (zsock_t *sock, segq_msg_type_t type);
/* A worker as the protocol has it, on a raw connection of its own:
   registered as `node` (one CPU slot) for jobs of `kind`. */
zsock_t *raw_worker (harness_t *self, const char *node, const char *kind);

#endif
