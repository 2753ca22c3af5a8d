/*  broker_kinds.h: the answer to KINDS, the kind table for clients. */
#ifndef SEGQ_BROKER_KINDS_H
#define SEGQ_BROKER_KINDS_H

#include "segq_proto.h"

/* A KINDS_REPLY to req_id describing every kind of the compiled-in table
   (proto/segq_kinds.c), the one SUBMITs are validated against. On failure
   *out is NULL, err says why, and the code is returned. */
int segq__kinds_reply (uint64_t req_id, segq_msg_t **out, char *err, size_t errlen);

#endif
