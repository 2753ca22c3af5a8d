/*  public_header.c: libsegq's public header stands alone and shows no
    ZeroMQ, CZMQ, msgpack or wire codec, so a program on libsegq (or a
    binding to it) needs none of them. Compiled with the build: a header
    that starts to include them fails it. */
#include "segq_client.h"

#if defined(__CZMQ_H_INCLUDED__) || defined(__ZMQ_H_INCLUDED__)
#error "segq_client.h must not include CZMQ or ZeroMQ"
#endif
#if defined(MSGPACK_OBJECT_H) || defined(SEGQ_PROTO_H)
#error "segq_client.h must not include msgpack or the wire codec (segq_proto.h)"
#endif

/* What a program sees: the client and the plain records of its answers. */
size_t
public_header_record_size (void)
{
    return sizeof (segq_job_info_t) + sizeof (segq_model_info_t) + sizeof (segq_client_options_t);
}
