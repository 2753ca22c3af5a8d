/*  fixtures.h: fully populated messages of every type, for the codec tests,
    the fuzz seed corpus and the benchmark. */
#ifndef SEGQ_TEST_FIXTURES_H
#define SEGQ_TEST_FIXTURES_H

#include "no_leaks.h"
#include "segq_proto.h"

/* Every message type the codec knows, in type order. */
extern const segq_msg_type_t fixture_types [];
extern const size_t fixture_type_count;

/* A message of `type` with every field set (optional ones included) when
   full, or only the required ones when not. Full, each member differs from
   what a decoder that lost it would read (0, NULL), except where the
   type's rules keep members apart: GET's hash and ARRAY's array are in the
   minimal message, MODEL's value and lab in test_codec.c. Aborts on
   allocation failure. */
segq_msg_t *fixture_msg (segq_msg_type_t type, bool full);

/* Encoded frames of a message, copied out of the zmsg. */
typedef struct {
    uint8_t *header;
    size_t header_size;
    uint8_t *body;
    size_t body_size;
    uint8_t *data;
    size_t data_size;
    bool has_data;
} fixture_frames_t;

int fixture_encode (segq_msg_t *msg, fixture_frames_t *out);
void fixture_frames_free (fixture_frames_t *frames);

/* Distinct hash-looking strings. */
const char *fixture_hash (int which);

#endif
