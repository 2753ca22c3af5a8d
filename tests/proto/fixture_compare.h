/*  fixture_compare.h: a deep, member-by-member comparison of two messages
    for the codec tests.

    It is written by hand from the struct definitions, not from the codec's
    field tables (segq_msg.c): a member missing from a table is dropped by
    the encoder and never set by the decoder, so a decode -> encode round
    trip still gives the same bytes; comparing members shows it. */
#ifndef SEGQ_TEST_FIXTURE_COMPARE_H
#define SEGQ_TEST_FIXTURE_COMPARE_H

#include "segq_proto.h"

/* Fails the calling Criterion test at the first member that differs,
   naming it by type and path ("SUBMIT.inputs[1].hash"). A CHUNK's data
   frame is compared too: `expected` must still hold it (encoding moves it
   out of the message it encodes). */
void fixture_assert_msg_equal (const segq_msg_t *expected, const segq_msg_t *got);

#endif
