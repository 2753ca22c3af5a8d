/*  make_fuzz_seeds.c: writes tests/fuzz/corpus/proto/: every message type,
    full and minimal, in the input layout of tests/fuzz/fuzz_proto.c. Built
    with the tests; test_proto_fuzz_seeds_current fails when the committed
    seeds differ from what it writes. After a change to the fixtures:

        build/<dir>/tests/make_fuzz_seeds tests/fuzz/corpus/proto          */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fixtures.h"

int
main (int argc, char **argv)
{
    if (argc != 2) {
        fprintf (stderr, "usage: make_fuzz_seeds DIR\n");
        return 2;
    }
    for (size_t t = 0; t < fixture_type_count; t++)
        for (int full = 0; full < 2; full++) {
            segq_msg_t *msg = fixture_msg (fixture_types [t], full);
            if (msg->type == SEGQ_MSG_LOG && msg->u.log.size > 100)
                msg->u.log.size = 100; /* a small seed is a better seed */
            fixture_frames_t f;
            if (fixture_encode (msg, &f) != SEGQ_OK)
                return 1;
            size_t body = f.body_size;
            size_t data = f.data_size > 4096 ? 4096 : f.data_size;
            if (body > 0xffff)
                return 1; /* the fuzzer's body length has 2 bytes */
            char path [4096];
            snprintf (path, sizeof path, "%s/%s-%s", argv [1], segq_msg_type_name (msg->type),
                      full ? "full" : "min");
            FILE *out = fopen (path, "wb");
            if (!out) {
                perror (path);
                return 1;
            }
            uint8_t flags = f.has_data ? 1 : 0;
            uint8_t len [2] = { (uint8_t) body, (uint8_t) (body >> 8) };
            fwrite (&flags, 1, 1, out);
            fwrite (f.header, 1, f.header_size, out);
            fwrite (len, 1, 2, out);
            fwrite (f.body, 1, body, out);
            if (data)
                fwrite (f.data, 1, data, out);
            if (fclose (out) != 0)
                return 1;
            fixture_frames_free (&f);
            segq_msg_destroy (&msg);
        }
    return 0;
}
