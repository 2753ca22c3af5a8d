/*  libFuzzer target: the segq message decoder on arbitrary frames.

    Input layout (the seeds in corpus/proto/ follow it; see
    tests/proto/make_fuzz_seeds.c):

        byte 0      flags: bit 0 = a data frame follows the body;
                    bit 1 = the header is (flags >> 2) & 7 bytes instead of 4
        header      4 bytes (or the odd size above)
        2 bytes     body length, little-endian (clamped to what remains)
        body        the msgpack body frame
        rest        the data frame, when bit 0 is set

    Whatever decodes must encode again, decode again, and encode to the
    same bytes: a message the codec accepts is one it can forward. The
    request id a server reads from a body that may not decode
    (segq_msg_peek_req) must be safe on any body, and agree with the
    decoder's whenever the body decodes. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "segq_msg_fields.h"

static zmsg_t *s_encode_or_die(segq_msg_t *msg)
{
    zmsg_t *zmsg = NULL;
    if (segq_msg_encode(msg, &zmsg) != SEGQ_OK)
        abort();
    return zmsg;
}

static void s_check_round_trip(segq_msg_t *msg)
{
    zmsg_t *first = s_encode_or_die(msg);
    zmsg_t *copy = zmsg_dup(first);
    segq_msg_t *again = NULL;
    char err[256];
    if (segq_msg_decode(&copy, &again, NULL, err, sizeof err) != SEGQ_OK)
        abort();
    zmsg_t *second = s_encode_or_die(again);
    if (zmsg_size(first) != zmsg_size(second))
        abort();
    for (zframe_t *a = zmsg_first(first), *b = zmsg_first(second); a;
         a = zmsg_next(first), b = zmsg_next(second))
        if (!zframe_eq(a, b))
            abort();
    /* deep copies of the shared pieces must hold up too */
    if (again->type == SEGQ_MSG_SUBMIT) {
        for (size_t i = 0; i < again->u.submit.n_inputs; i++) {
            segq_input_t input;
            if (segq_input_copy(&input, &again->u.submit.inputs[i]) != SEGQ_OK)
                abort();
            segq_input_clear(&input);
        }
    }
    segq_msg_destroy(&again);
    zmsg_destroy(&first);
    zmsg_destroy(&second);
}

/* Whether the message's type has a `req`, and its decoded value. */
static bool s_decoded_req(const segq_msg_t *msg, uint64_t *req)
{
    const segq__struct_desc_t *desc = segq__msg_desc(msg->type);
    for (size_t i = 0; desc && i < desc->n_fields; i++)
        if (strcmp(desc->fields[i].key, "req") == 0) {
            *req = *(const uint64_t *)((const uint8_t *)&msg->u + desc->fields[i].offset);
            return true;
        }
    return false;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1)
        return 0;
    uint8_t flags = data[0];
    size_t header_size = flags & 2 ? (size_t)(flags >> 2) & 7 : SEGQ_HEADER_SIZE;
    data++, size--;
    if (size < header_size + 2)
        return 0;
    const uint8_t *header = data;
    data += header_size, size -= header_size;
    size_t body_size = (size_t)data[0] | (size_t)data[1] << 8;
    data += 2, size -= 2;
    if (body_size > size)
        body_size = size;
    /* Own copies of exactly the frame sizes, so ASan sees any overread. */
    uint8_t *body = malloc(body_size + 1);
    uint8_t *rest = malloc(size - body_size + 1);
    if (!body || !rest)
        abort();
    memcpy(body, data, body_size);
    memcpy(rest, data + body_size, size - body_size);

    segq_msg_t *msg = NULL;
    uint8_t version = 0;
    char err[256];
    int rc = segq_msg_decode_bytes(header, header_size, body, body_size, rest, size - body_size,
                                   flags & 1, &msg, &version, err, sizeof err);
    uint64_t peeked = segq_msg_peek_req(body, body_size), req;
    if (rc == SEGQ_OK) {
        if (!msg || (s_decoded_req(msg, &req) && req != peeked))
            abort();
        s_check_round_trip(msg);
    } else if (msg || (rc != SEGQ_EPROTO && rc != SEGQ_EVERSION && rc != SEGQ_ETOOBIG)
               || !memchr(err, '\0', sizeof err) || !err[0])
        abort();
    segq_msg_destroy(&msg);
    free(body);
    free(rest);
    return 0;
}
