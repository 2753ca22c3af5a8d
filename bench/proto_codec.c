/*  proto_codec.c: messages per second through the segq codec.

    The broker's budget is > 20,000 jobs/s on 2 cores, and each job costs
    at least five messages (SUBMIT, SUBMITTED, ASSIGN, RESULT, RESULT_ACK),
    each encoded by one side and decoded by the other. This measures
    encode + decode of SUBMIT and ASSIGN as the queue sends them (zmsg in,
    zmsg out), and the codec alone (bytes in, bytes out).

    usage: bench_proto_codec [MESSAGES]   (default 1000000) */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "segq_proto.h"

static double
s_now (void)
{
    struct timespec ts;
    clock_gettime (CLOCK_MONOTONIC, &ts);
    return (double) ts.tv_sec + (double) ts.tv_nsec * 1e-9;
}

static void
s_check (int rc, const char *what)
{
    if (rc != SEGQ_OK) {
        fprintf (stderr, "bench_proto_codec: %s failed: %s\n", what, segq_strerror (rc));
        exit (1);
    }
}

/* A SUBMIT as `segq submit sleep --param seconds=0` sends it. */
static segq_msg_t *
s_submit (uint64_t req_id)
{
    segq_msg_t *msg = segq_msg_new (SEGQ_MSG_SUBMIT);
    msg->u.submit.req_id = req_id;
    msg->u.submit.user = strdup ("alice");
    msg->u.submit.kind = strdup ("sleep");
    segq_value_t zero = { .type = SEGQ_PARAM_FLOAT, .f = 0 };
    s_check (segq_params_set (&msg->u.submit.params, "seconds", &zero), "params_set");
    msg->u.submit.cpu_slots = 1;
    return msg;
}

/* An ASSIGN of an `echo` job with two inputs on a GPU. */
static segq_msg_t *
s_assign (uint32_t attempt)
{
    segq_msg_t *msg = segq_msg_new (SEGQ_MSG_ASSIGN);
    segq_assign_t *a = &msg->u.assign;
    a->job = strdup ("0000a7k2");
    a->attempt = attempt;
    a->kind = strdup ("echo");
    a->n_inputs = 2;
    a->inputs = calloc (2, sizeof *a->inputs);
    a->inputs [0].name = strdup ("files/image.png");
    a->inputs [1].name = strdup ("files/mask.png");
    strcpy (a->inputs [0].hash, "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
    strcpy (a->inputs [1].hash, "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0");
    a->inputs [0].size = 524288;
    a->inputs [1].size = 16384;
    a->gpu = 0;
    a->gpu_mem = 8ull << 30;
    a->cpu_slots = 1;
    a->time_limit_s = 3600;
    return msg;
}

/* encode to a zmsg and decode it again, `n` times; messages/s */
static double
s_zmsg_round_trips (segq_msg_t *(*make) (uint32_t), size_t n, size_t *body_bytes)
{
    char err [256];
    double start = s_now ();
    for (size_t i = 0; i < n; i++) {
        segq_msg_t *msg = make ((uint32_t) i);
        zmsg_t *zmsg;
        s_check (segq_msg_encode (msg, &zmsg), "encode");
        segq_msg_destroy (&msg);
        if (i == 0) {
            zmsg_first (zmsg);
            *body_bytes = zframe_size (zmsg_next (zmsg));
        }
        s_check (segq_msg_decode (&zmsg, &msg, NULL, err, sizeof err), err);
        segq_msg_destroy (&msg);
    }
    return (double) n / (s_now () - start);
}

/* the codec alone: decode the same bytes `n` times; messages/s */
static double
s_decodes (segq_msg_t *msg, size_t n)
{
    zmsg_t *zmsg;
    s_check (segq_msg_encode (msg, &zmsg), "encode");
    zframe_t *header = zmsg_first (zmsg), *body = zmsg_next (zmsg);
    char err [256];
    double start = s_now ();
    for (size_t i = 0; i < n; i++) {
        segq_msg_t *out;
        s_check (segq_msg_decode_bytes (zframe_data (header), zframe_size (header),
                                        zframe_data (body), zframe_size (body), NULL, 0, false,
                                        &out, NULL, err, sizeof err),
                 err);
        segq_msg_destroy (&out);
    }
    double rate = (double) n / (s_now () - start);
    zmsg_destroy (&zmsg);
    return rate;
}

static double
s_encodes (segq_msg_t *msg, size_t n)
{
    double start = s_now ();
    for (size_t i = 0; i < n; i++) {
        zmsg_t *zmsg;
        s_check (segq_msg_encode (msg, &zmsg), "encode");
        zmsg_destroy (&zmsg);
    }
    return (double) n / (s_now () - start);
}

static segq_msg_t *
s_submit32 (uint32_t i)
{
    return s_submit (i);
}

int
main (int argc, char **argv)
{
    size_t n = argc > 1 ? strtoull (argv [1], NULL, 10) : 1000000;
    if (n == 0) {
        fprintf (stderr, "usage: bench_proto_codec [MESSAGES]\n");
        return 2;
    }
    struct {
        const char *name;
        segq_msg_t *(*make) (uint32_t);
    } kinds [] = {
        { "SUBMIT", s_submit32 },
        { "ASSIGN", s_assign },
    };
    printf ("segq codec, %zu messages each, one core\n", n);
    for (size_t k = 0; k < 2; k++) {
        size_t bytes = 0;
        double round_trip = s_zmsg_round_trips (kinds [k].make, n, &bytes);
        segq_msg_t *msg = kinds [k].make (1);
        double encode = s_encodes (msg, n);
        double decode = s_decodes (msg, n);
        segq_msg_destroy (&msg);
        printf ("%-7s body %3zu bytes: build+encode+decode (zmsg) %9.0f msg/s | encode %9.0f msg/s"
                " | decode %9.0f msg/s\n",
                kinds [k].name, bytes, round_trip, encode, decode);
    }
    return 0;
}
