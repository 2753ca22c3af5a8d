/*  test_reject.c: malformed input is refused with a message naming the
    problem, never a crash, and never an allocation of a size read from
    the wire. */
#include <criterion/criterion.h>
#include <msgpack.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>

#include "fixtures.h"

#ifdef SEGQ_TEST_ASAN
/* From sanitizer/allocator_interface.h, which GCC does not install. */
int __sanitizer_install_malloc_and_free_hooks (void (*malloc_hook) (const volatile void *, size_t),
                                               void (*free_hook) (const volatile void *));
static size_t s_largest;
static void
s_malloc_hook (const volatile void *ptr, size_t size)
{
    (void) ptr;
    if (size > s_largest)
        s_largest = size;
}
static void
s_free_hook (const volatile void *ptr)
{
    (void) ptr;
}
#endif

/* Makes any allocation over 64 MiB visible: under ASan a hook records the
   largest one; elsewhere the address space is capped so that one fails,
   and the decoder would answer ENOMEM instead of EPROTO. */
static void
s_watch_allocations (void)
{
#ifdef SEGQ_TEST_ASAN
    s_largest = 0;
    cr_assert_neq (__sanitizer_install_malloc_and_free_hooks (s_malloc_hook, s_free_hook), 0);
#else
    struct rlimit limit = { 1ull << 30, 1ull << 30 };
    cr_assert_eq (setrlimit (RLIMIT_AS, &limit), 0);
#endif
}

static void
s_assert_no_big_allocation (void)
{
#ifdef SEGQ_TEST_ASAN
    cr_assert_lt (s_largest, 64u << 20, "an allocation of %zu bytes", s_largest);
#endif
}

/* ---- building bodies by hand ---- */

typedef struct {
    msgpack_sbuffer sb;
    msgpack_packer pk;
} body_t;

static void
b_init (body_t *b)
{
    msgpack_sbuffer_init (&b->sb);
    msgpack_packer_init (&b->pk, &b->sb, msgpack_sbuffer_write);
}

static void
b_map (body_t *b, size_t n)
{
    msgpack_pack_map (&b->pk, n);
}
static void
b_arr (body_t *b, size_t n)
{
    msgpack_pack_array (&b->pk, n);
}
static void
b_uint (body_t *b, uint64_t v)
{
    msgpack_pack_uint64 (&b->pk, v);
}
static void
b_int (body_t *b, int64_t v)
{
    msgpack_pack_int64 (&b->pk, v);
}
static void
b_nil (body_t *b)
{
    msgpack_pack_nil (&b->pk);
}
static void
b_double (body_t *b, double v)
{
    msgpack_pack_double (&b->pk, v);
}
static void
b_raw (body_t *b, const void *p, size_t n)
{
    msgpack_sbuffer_write (&b->sb, p, n);
}

static void
b_strn (body_t *b, const char *s, size_t n)
{
    msgpack_pack_str (&b->pk, n);
    msgpack_pack_str_body (&b->pk, s, n);
}

static void
b_str (body_t *b, const char *s)
{
    b_strn (b, s, strlen (s));
}

/* Decodes the body as a message of `type`; frees the body. */
static int
b_decode (body_t *b, segq_msg_type_t type, segq_msg_t **out, char *err, size_t errlen)
{
    uint8_t header [4] = { 'S', 'Q', SEGQ_PROTO_VERSION, (uint8_t) type };
    uint8_t data [1] = { 0 };
    int rc = segq_msg_decode_bytes (header, 4, (const uint8_t *) b->sb.data, b->sb.size, data, 0,
                                    type == SEGQ_MSG_CHUNK, out, NULL, err, errlen);
    msgpack_sbuffer_destroy (&b->sb);
    return rc;
}

/* Expects decoding to fail with `code` and a message containing `needle`. */
static void
b_refused (body_t *b, segq_msg_type_t type, int code, const char *needle)
{
    segq_msg_t *msg = NULL;
    char err [512] = "";
    int rc = b_decode (b, type, &msg, err, sizeof err);
    cr_assert_eq (rc, code, "expected %s, got %s (%s)", segq_error_name (code),
                  segq_error_name (rc), err);
    cr_assert_null (msg);
    cr_assert (strstr (err, needle), "message '%s' should mention '%s'", err, needle);
}

static segq_msg_t *
b_accepted (body_t *b, segq_msg_type_t type)
{
    segq_msg_t *msg = NULL;
    char err [512] = "";
    cr_assert_eq (b_decode (b, type, &msg, err, sizeof err), SEGQ_OK, "%s", err);
    return msg;
}

/* A SUBMITTED body with req and job, plus whatever the caller adds. */
static void
b_submitted (body_t *b, size_t extra_keys)
{
    b_init (b);
    b_map (b, 2 + extra_keys);
    b_str (b, "req");
    b_uint (b, 1);
    b_str (b, "job");
    b_str (b, "j1");
}

/* A SUBMIT body with req, user and a kind, plus `extra_keys` the caller adds. */
static void
b_submit (body_t *b, const char *kind, size_t extra_keys)
{
    b_init (b);
    b_map (b, 3 + extra_keys);
    b_str (b, "req");
    b_uint (b, 1);
    b_str (b, "user");
    b_str (b, "u");
    b_str (b, "kind");
    b_str (b, kind);
}

/* A body that starts with job and att (PROGRESS, RESULT, LOG, ...). */
static void
b_job_attempt (body_t *b, size_t extra_keys)
{
    b_init (b);
    b_map (b, 2 + extra_keys);
    b_str (b, "job");
    b_str (b, "j");
    b_str (b, "att");
    b_uint (b, 1);
}

/* ---- header and frames ---- */

Test (reject, header, .timeout = 10)
{
    uint8_t body [1] = { 0x80 }; /* {} */
    segq_msg_t *msg = NULL;
    uint8_t version = 0;
    char err [256];
    uint8_t good [4] = { 'S', 'Q', SEGQ_PROTO_VERSION, SEGQ_MSG_HEARTBEAT };
    cr_assert_eq (segq_msg_decode_bytes (good, 4, body, 1, NULL, 0, false, &msg, NULL, err, 256),
                  SEGQ_OK);
    segq_msg_destroy (&msg);

    cr_assert_eq (segq_msg_decode_bytes (good, 3, body, 1, NULL, 0, false, &msg, NULL, err, 256),
                  SEGQ_EPROTO);
    cr_assert (strstr (err, "header frame is 3 bytes"), "%s", err);
    uint8_t five [5] = { 'S', 'Q', 1, 2, 0 };
    cr_assert_eq (segq_msg_decode_bytes (five, 5, body, 1, NULL, 0, false, &msg, NULL, err, 256),
                  SEGQ_EPROTO);

    uint8_t magic [4] = { 'M', 'D', SEGQ_PROTO_VERSION, SEGQ_MSG_HEARTBEAT };
    cr_assert_eq (segq_msg_decode_bytes (magic, 4, body, 1, NULL, 0, false, &msg, NULL, err, 256),
                  SEGQ_EPROTO);
    cr_assert (strstr (err, "not a segq message"), "%s", err);

    uint8_t future [4] = { 'S', 'Q', SEGQ_PROTO_VERSION + 1, SEGQ_MSG_HEARTBEAT };
    cr_assert_eq (
        segq_msg_decode_bytes (future, 4, body, 1, NULL, 0, false, &msg, &version, err, 256),
        SEGQ_EVERSION);
    cr_assert_eq (version, SEGQ_PROTO_VERSION + 1);
    cr_assert (strstr (err, "version 3"), "%s", err);
    /* A future version may have types we do not know: version comes first. */
    uint8_t future_type [4] = { 'S', 'Q', 200, 250 };
    cr_assert_eq (
        segq_msg_decode_bytes (future_type, 4, body, 1, NULL, 0, false, &msg, &version, err, 256),
        SEGQ_EVERSION);
    cr_assert_eq (version, 200);
    uint8_t zero [4] = { 'S', 'Q', 0, SEGQ_MSG_HEARTBEAT };
    cr_assert_eq (
        segq_msg_decode_bytes (zero, 4, body, 1, NULL, 0, false, &msg, &version, err, 256),
        SEGQ_EVERSION);
    cr_assert_eq (version, 0);

    for (int type = 0; type < 256; type++) {
        if (strcmp (segq_msg_type_name ((segq_msg_type_t) type), "?") != 0)
            continue;
        uint8_t unknown [4] = { 'S', 'Q', SEGQ_PROTO_VERSION, (uint8_t) type };
        cr_assert_eq (
            segq_msg_decode_bytes (unknown, 4, body, 1, NULL, 0, false, &msg, NULL, err, 256),
            SEGQ_EPROTO, "type %d", type);
        cr_assert (strstr (err, "unknown message type"), "%s", err);
    }
    cr_assert_null (msg);
    fixture_assert_no_leaks ();
}

Test (reject, frames, .timeout = 10)
{
    uint8_t body [1] = { 0x80 };
    segq_msg_t *msg = NULL;
    char err [256];
    uint8_t heartbeat [4] = { 'S', 'Q', SEGQ_PROTO_VERSION, SEGQ_MSG_HEARTBEAT };
    cr_assert_eq (
        segq_msg_decode_bytes (heartbeat, 4, body, 1, body, 1, true, &msg, NULL, err, 256),
        SEGQ_EPROTO);
    cr_assert (strstr (err, "data frame"), "%s", err);
    uint8_t chunk_body [] = { 0x82, 0xa4, 'x', 'f', 'e', 'r', 0x01, 0xa3, 'o', 'f', 'f', 0x00 };
    uint8_t chunk [4] = { 'S', 'Q', SEGQ_PROTO_VERSION, SEGQ_MSG_CHUNK };
    cr_assert_eq (segq_msg_decode_bytes (chunk, 4, chunk_body, sizeof chunk_body, NULL, 0, false,
                                         &msg, NULL, err, 256),
                  SEGQ_EPROTO);
    cr_assert (strstr (err, "missing its data frame"), "%s", err);
    cr_assert_eq (segq_msg_decode_bytes (chunk, 4, chunk_body, sizeof chunk_body, body, 0, true,
                                         &msg, NULL, err, 256),
                  SEGQ_OK, "%s", err);
    cr_assert_eq (zframe_size (msg->u.chunk.data), 0);
    segq_msg_destroy (&msg);
    cr_assert_eq (
        segq_msg_decode_bytes (heartbeat, 4, NULL, 0, NULL, 0, false, &msg, NULL, err, 256),
        SEGQ_EPROTO);
    cr_assert_eq (
        segq_msg_decode_bytes (heartbeat, 4, body, 0, NULL, 0, false, &msg, NULL, err, 256),
        SEGQ_EPROTO);

    /* zmsg with too few and too many frames */
    zmsg_t *z = zmsg_new ();
    zmsg_addmem (z, heartbeat, 4);
    cr_assert_eq (segq_msg_decode (&z, &msg, NULL, err, 256), SEGQ_EPROTO);
    cr_assert_null (z);
    cr_assert (strstr (err, "1 frames"), "%s", err);
    z = zmsg_new ();
    for (int i = 0; i < 4; i++)
        zmsg_addmem (z, i ? body : heartbeat, i ? 1 : 4);
    cr_assert_eq (segq_msg_decode (&z, &msg, NULL, err, 256), SEGQ_EPROTO);
    cr_assert (strstr (err, "4 frames"), "%s", err);
    fixture_assert_no_leaks ();
}

Test (reject, body_shape, .timeout = 10)
{
    body_t b;
    b_init (&b);
    b_arr (&b, 0);
    b_refused (&b, SEGQ_MSG_HEARTBEAT, SEGQ_EPROTO, "an array, expected a map");

    b_submitted (&b, 0);
    b_uint (&b, 5);
    b_refused (&b, SEGQ_MSG_SUBMITTED, SEGQ_EPROTO, "1 bytes follow the body map");

    b_init (&b);
    b_map (&b, 1);
    b_uint (&b, 1);
    b_uint (&b, 1);
    b_refused (&b, SEGQ_MSG_SUBMITTED, SEGQ_EPROTO, "expected a string key");

    b_submitted (&b, 1);
    b_str (&b, "job");
    b_str (&b, "j2");
    b_refused (&b, SEGQ_MSG_SUBMITTED, SEGQ_EPROTO, "'job' appears twice");

    uint8_t never_used = 0xc1;
    b_submitted (&b, 1);
    b_str (&b, "zzz");
    b_raw (&b, &never_used, 1);
    b_refused (&b, SEGQ_MSG_SUBMITTED, SEGQ_EPROTO, "0xc1");
    fixture_assert_no_leaks ();
}

Test (reject, truncated_everywhere, .timeout = 60)
{
    /* Every strict prefix of every full message body is refused cleanly. */
    for (size_t t = 0; t < fixture_type_count; t++) {
        segq_msg_t *msg = fixture_msg (fixture_types [t], true);
        fixture_frames_t f;
        cr_assert_eq (fixture_encode (msg, &f), SEGQ_OK);
        size_t step = f.body_size > 5000 ? f.body_size / 997 : 1;
        for (size_t len = 0; len < f.body_size; len += step) {
            uint8_t *copy = malloc (len + 1); /* exact size, so ASan sees overreads */
            memcpy (copy, f.body, len);
            segq_msg_t *out = NULL;
            char err [256];
            int rc = segq_msg_decode_bytes (f.header, f.header_size, copy, len, f.data, f.data_size,
                                            f.has_data, &out, NULL, err, sizeof err);
            cr_assert_eq (rc, SEGQ_EPROTO, "%s cut at %zu of %zu: %s",
                          segq_msg_type_name (msg->type), len, f.body_size, err);
            cr_assert_null (out);
            free (copy);
        }
        fixture_frames_free (&f);
        segq_msg_destroy (&msg);
    }
    fixture_assert_no_leaks ();
}

Test (reject, wrong_field_types, .timeout = 10)
{
    body_t b;
    b_init (&b);
    b_map (&b, 2);
    b_str (&b, "req");
    b_str (&b, "1");
    b_str (&b, "job");
    b_str (&b, "j1");
    b_refused (&b, SEGQ_MSG_SUBMITTED, SEGQ_EPROTO,
               "'req' is a string, expected an unsigned integer");

    b_init (&b);
    b_map (&b, 2);
    b_str (&b, "req");
    b_uint (&b, 1);
    b_str (&b, "job");
    b_uint (&b, 7);
    b_refused (&b, SEGQ_MSG_SUBMITTED, SEGQ_EPROTO, "'job' is an integer, expected a string");

    b_submit (&b, "sleep", 1);
    b_str (&b, "params");
    b_arr (&b, 0);
    b_refused (&b, SEGQ_MSG_SUBMIT, SEGQ_EPROTO, "'params' is an array, expected a map");

    b_submit (&b, "sleep", 1);
    b_str (&b, "inputs");
    b_map (&b, 0);
    b_refused (&b, SEGQ_MSG_SUBMIT, SEGQ_EPROTO, "'inputs' is a map, expected an array");

    b_job_attempt (&b, 2);
    b_str (&b, "ok");
    b_uint (&b, 1);
    b_str (&b, "exit");
    b_int (&b, 0);
    b_refused (&b, SEGQ_MSG_RESULT, SEGQ_EPROTO, "'ok' is an integer, expected a boolean");

    b_init (&b);
    b_map (&b, 4);
    b_str (&b, "req");
    b_uint (&b, 1);
    b_str (&b, "hash");
    b_uint (&b, 1);
    b_str (&b, "size");
    b_uint (&b, 1);
    b_str (&b, "name");
    b_str (&b, "x");
    b_refused (&b, SEGQ_MSG_PUT, SEGQ_EPROTO, "'hash' is an integer, expected a sha256 string");

    b_job_attempt (&b, 2);
    b_str (&b, "off");
    b_uint (&b, 0);
    b_str (&b, "data");
    b_str (&b, "text, not bin");
    b_refused (&b, SEGQ_MSG_LOG, SEGQ_EPROTO, "'data' is a string, expected binary data");
    fixture_assert_no_leaks ();
}

Test (reject, integer_ranges, .timeout = 10)
{
    body_t b;
    b_init (&b);
    b_map (&b, 2);
    b_str (&b, "xfer");
    b_uint (&b, 1);
    b_str (&b, "n");
    b_uint (&b, 1ull << 32);
    b_refused (&b, SEGQ_MSG_CREDIT, SEGQ_EPROTO, "'n' is 4294967296, over 2^32-1");

    b_init (&b);
    b_map (&b, 2);
    b_str (&b, "xfer");
    b_int (&b, -1);
    b_str (&b, "n");
    b_uint (&b, 1);
    b_refused (&b, SEGQ_MSG_CREDIT, SEGQ_EPROTO, "'xfer' is an integer out of range");

    b_init (&b);
    b_map (&b, 3);
    b_str (&b, "req");
    b_uint (&b, 1);
    b_str (&b, "code");
    b_int (&b, 1ll << 31);
    b_str (&b, "msg");
    b_str (&b, "m");
    b_refused (&b, SEGQ_MSG_ERROR, SEGQ_EPROTO, "'code' is 2147483648, outside");

    b_init (&b);
    b_map (&b, 2);
    b_str (&b, "req");
    b_uint (&b, 1);
    b_str (&b, "state");
    b_int (&b, 7);
    b_refused (&b, SEGQ_MSG_STATUS, SEGQ_EPROTO, "'state' is 7, outside 0..6");

    b_job_attempt (&b, 1);
    b_str (&b, "frac");
    b_double (&b, 1.5);
    b_refused (&b, SEGQ_MSG_PROGRESS, SEGQ_EPROTO, "'frac' is 1.5, outside 0..1");

    b_job_attempt (&b, 1);
    b_str (&b, "frac");
    b_double (&b, NAN);
    b_refused (&b, SEGQ_MSG_PROGRESS, SEGQ_EPROTO, "'frac'");

    /* Integers where a float is expected are fine (JavaScript sends 1.0 as 1). */
    b_job_attempt (&b, 1);
    b_str (&b, "frac");
    b_uint (&b, 1);
    segq_msg_t *msg = b_accepted (&b, SEGQ_MSG_PROGRESS);
    cr_assert_eq (msg->u.progress.fraction, 1.0);
    segq_msg_destroy (&msg);

    /* Every msgpack integer width reads. */
    b_init (&b);
    b_map (&b, 2);
    b_str (&b, "xfer");
    uint8_t u64 [] = { 0xcf, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff };
    b_raw (&b, u64, sizeof u64);
    b_str (&b, "n");
    uint8_t i16 [] = { 0xd1, 0x00, 0x05 };
    b_raw (&b, i16, sizeof i16);
    msg = b_accepted (&b, SEGQ_MSG_CREDIT);
    cr_assert_eq (msg->u.credit.transfer, UINT64_MAX);
    cr_assert_eq (msg->u.credit.chunks, 5);
    segq_msg_destroy (&msg);
    fixture_assert_no_leaks ();
}

Test (reject, missing_required_fields, .timeout = 10)
{
    body_t b;
    b_init (&b);
    b_map (&b, 2);
    b_str (&b, "req");
    b_uint (&b, 1);
    b_str (&b, "kind");
    b_str (&b, "sleep");
    b_refused (&b, SEGQ_MSG_SUBMIT, SEGQ_EPROTO, "SUBMIT: 'user' is required but missing");

    /* nil reads as absent: fine for optional keys, missing for required ones */
    b_init (&b);
    b_map (&b, 3);
    b_str (&b, "req");
    b_uint (&b, 1);
    b_str (&b, "job");
    b_nil (&b);
    b_str (&b, "cursor");
    b_nil (&b);
    b_refused (&b, SEGQ_MSG_SUBMITTED, SEGQ_EPROTO, "'job' is required but missing");

    b_init (&b);
    b_map (&b, 2);
    b_str (&b, "req");
    b_uint (&b, 1);
    b_str (&b, "cursor");
    b_nil (&b);
    segq_msg_t *msg = b_accepted (&b, SEGQ_MSG_STATUS);
    cr_assert_null (msg->u.status.cursor);
    segq_msg_destroy (&msg);

    /* required key inside a nested struct, with its path */
    b_submit (&b, "echo", 1);
    b_str (&b, "inputs");
    b_arr (&b, 2);
    b_map (&b, 2);
    b_str (&b, "name");
    b_str (&b, "a");
    b_str (&b, "job");
    b_str (&b, "j1");
    b_map (&b, 1);
    b_str (&b, "hash");
    b_str (&b, fixture_hash (0));
    b_refused (&b, SEGQ_MSG_SUBMIT, SEGQ_EPROTO, "'inputs[1].name' is required but missing");
    fixture_assert_no_leaks ();
}

Test (reject, unknown_keys_are_skipped, .timeout = 10)
{
    body_t b;
    b_submitted (&b, 3);
    b_str (&b, "future");
    b_map (&b, 2);
    b_str (&b, "deep");
    b_arr (&b, 3);
    b_uint (&b, 1);
    b_map (&b, 0);
    b_str (&b, "x");
    b_str (&b, "bin");
    msgpack_pack_bin (&b.pk, 3);
    msgpack_pack_bin_body (&b.pk, "abc", 3);
    b_str (&b, "ext");
    uint8_t ext [] = { 0xd6, 0x01, 1, 2, 3, 4 }; /* fixext 4 */
    b_raw (&b, ext, sizeof ext);
    b_str (&b, "f32");
    uint8_t f32 [] = { 0xca, 0x3f, 0x80, 0x00, 0x00 };
    b_raw (&b, f32, sizeof f32);
    segq_msg_t *msg = b_accepted (&b, SEGQ_MSG_SUBMITTED);
    cr_assert_str_eq (msg->u.submitted.job, "j1");
    segq_msg_destroy (&msg);

    /* an unknown key's value that is truncated is still an error */
    b_submitted (&b, 1);
    b_str (&b, "future");
    uint8_t ext8 [] = { 0xc7, 0xff, 0x01, 0x00 };
    b_raw (&b, ext8, sizeof ext8);
    b_refused (&b, SEGQ_MSG_SUBMITTED, SEGQ_EPROTO, "truncated");
    fixture_assert_no_leaks ();
}

Test (reject, string_limits_and_nul, .timeout = 10)
{
    char *big = malloc (SEGQ_MAX_STRING + 2);
    memset (big, 'x', SEGQ_MAX_STRING + 1);
    body_t b;

    /* exactly at the limit: fine */
    b_init (&b);
    b_map (&b, 2);
    b_str (&b, "code");
    b_int (&b, -1);
    b_str (&b, "msg");
    b_strn (&b, big, SEGQ_MAX_STRING);
    segq_msg_t *msg = b_accepted (&b, SEGQ_MSG_ERROR);
    cr_assert_eq (strlen (msg->u.error.message), SEGQ_MAX_STRING);
    segq_msg_destroy (&msg);

    b_init (&b);
    b_map (&b, 2);
    b_str (&b, "code");
    b_int (&b, -1);
    b_str (&b, "msg");
    b_strn (&b, big, SEGQ_MAX_STRING + 1);
    b_refused (&b, SEGQ_MSG_ERROR, SEGQ_ETOOBIG, "'msg' is 4097 bytes, over the limit of 4096");

    /* names and ids are held to the shorter limit */
    b_init (&b);
    b_map (&b, 2);
    b_str (&b, "req");
    b_uint (&b, 1);
    b_str (&b, "job");
    b_strn (&b, big, SEGQ_MAX_NAME + 1);
    b_refused (&b, SEGQ_MSG_SUBMITTED, SEGQ_ETOOBIG, "over the limit of 1024");

    b_init (&b);
    b_map (&b, 2);
    b_str (&b, "req");
    b_uint (&b, 1);
    b_str (&b, "job");
    b_strn (&b, "j1\0evil", 7);
    b_refused (&b, SEGQ_MSG_SUBMITTED, SEGQ_EPROTO, "'job' contains a NUL byte");

    /* strings in arrays and parameter values too */
    b_init (&b);
    b_map (&b, 2);
    b_str (&b, "req");
    b_uint (&b, 1);
    b_str (&b, "jobs");
    b_arr (&b, 2);
    b_str (&b, "ok");
    b_strn (&b, "a\0b", 3);
    b_refused (&b, SEGQ_MSG_STATUS, SEGQ_EPROTO, "'jobs[1]' contains a NUL byte");

    b_submit (&b, "sleep", 1);
    b_str (&b, "params");
    b_map (&b, 1);
    b_str (&b, "mode");
    b_strn (&b, big, SEGQ_MAX_STRING + 1);
    b_refused (&b, SEGQ_MSG_SUBMIT, SEGQ_ETOOBIG, "'params.mode' is 4097 bytes");
    free (big);
    fixture_assert_no_leaks ();
}

static void
s_submitted_job_id (const char *id, bool ok)
{
    body_t b;
    b_init (&b);
    b_map (&b, 2);
    b_str (&b, "req");
    b_uint (&b, 1);
    b_str (&b, "job");
    b_str (&b, id);
    if (!ok) {
        b_refused (&b, SEGQ_MSG_SUBMITTED, SEGQ_EPROTO, "'job' is not valid UTF-8");
        return;
    }
    segq_msg_t *msg = b_accepted (&b, SEGQ_MSG_SUBMITTED);
    cr_assert_str_eq (msg->u.submitted.job, id);
    segq_msg_destroy (&msg);
}

Test (reject, utf8, .timeout = 10)
{
    s_submitted_job_id ("plain", true);
    s_submitted_job_id ("na\xc3\xafve", true);             /* U+00EF */
    s_submitted_job_id ("\xe6\x97\xa5\xe6\x9c\xac", true); /* two CJK */
    s_submitted_job_id ("\xf0\x9f\x98\x80", true);         /* U+1F600 */
    s_submitted_job_id ("\xef\xbf\xbf", true);             /* U+FFFF */
    s_submitted_job_id ("\xff", false);
    s_submitted_job_id ("\x80", false);             /* lone continuation */
    s_submitted_job_id ("\xc0\xaf", false);         /* overlong '/' */
    s_submitted_job_id ("\xe0\x80\xaf", false);     /* overlong '/' */
    s_submitted_job_id ("\xed\xa0\x80", false);     /* surrogate */
    s_submitted_job_id ("\xf4\x90\x80\x80", false); /* past U+10FFFF */
    s_submitted_job_id ("ab\xe2\x82", false);       /* cut short */

    /* free text is repaired, not refused */
    body_t b;
    b_init (&b);
    b_map (&b, 2);
    b_str (&b, "code");
    b_int (&b, -1);
    b_str (&b, "msg");
    b_str (&b, "bad \xff\xfe text \xe2\x82");
    segq_msg_t *msg = b_accepted (&b, SEGQ_MSG_ERROR);
    cr_assert_str_eq (msg->u.error.message, "bad ?? text ??");

    /* ... by the encoder too; ids are refused */
    free (msg->u.error.message);
    msg->u.error.message = strdup ("cut \xc3");
    fixture_frames_t f;
    cr_assert_eq (fixture_encode (msg, &f), SEGQ_OK);
    segq_msg_destroy (&msg);
    char err [256];
    cr_assert_eq (segq_msg_decode_bytes (f.header, f.header_size, f.body, f.body_size, NULL, 0,
                                         false, &msg, NULL, err, sizeof err),
                  SEGQ_OK, "%s", err);
    cr_assert_str_eq (msg->u.error.message, "cut ?");
    fixture_frames_free (&f);
    segq_msg_destroy (&msg);
    msg = fixture_msg (SEGQ_MSG_SUBMITTED, false);
    free (msg->u.submitted.job);
    msg->u.submitted.job = strdup ("j\xc3");
    zmsg_t *z = NULL;
    cr_assert_eq (segq_msg_encode (msg, &z), SEGQ_EINVAL);
    segq_msg_destroy (&msg);

    /* parameter names and values are identifiers */
    b_submit (&b, "sleep", 1);
    b_str (&b, "params");
    b_map (&b, 1);
    b_str (&b, "mode");
    b_str (&b, "\xfe");
    b_refused (&b, SEGQ_MSG_SUBMIT, SEGQ_EPROTO, "'params.mode' is not valid UTF-8");
    fixture_assert_no_leaks ();
}

static void
s_put_with_hash (const char *hash, size_t len, int code)
{
    body_t b;
    b_init (&b);
    b_map (&b, 3);
    b_str (&b, "req");
    b_uint (&b, 1);
    b_str (&b, "hash");
    b_strn (&b, hash, len);
    b_str (&b, "size");
    b_uint (&b, 1);
    if (code) {
        b_refused (&b, SEGQ_MSG_PUT, code, "'hash' is not 64 lowercase hex digits");
        return;
    }
    segq_msg_t *msg = b_accepted (&b, SEGQ_MSG_PUT);
    cr_assert_str_eq (msg->u.put.hash, hash);
    segq_msg_destroy (&msg);
}

Test (reject, hashes, .timeout = 10)
{
    const char *good = fixture_hash (1);
    s_put_with_hash (good, 64, 0);
    s_put_with_hash (good, 63, SEGQ_EPROTO);
    char longer [66];
    snprintf (longer, sizeof longer, "%s0", good);
    s_put_with_hash (longer, 65, SEGQ_EPROTO);
    char upper [65];
    strcpy (upper, good);
    upper [0] = 'B';
    s_put_with_hash (upper, 64, SEGQ_EPROTO);
    upper [0] = 'g';
    s_put_with_hash (upper, 64, SEGQ_EPROTO);
    s_put_with_hash ("", 0, SEGQ_EPROTO);
    cr_assert (segq_hash_valid (good));
    cr_assert_not (segq_hash_valid (NULL));
    cr_assert_not (segq_hash_valid (longer));
    fixture_assert_no_leaks ();
}

static void
s_assign_input_named (const char *name, bool ok)
{
    body_t b;
    b_init (&b);
    b_map (&b, 4);
    b_str (&b, "job");
    b_str (&b, "j1");
    b_str (&b, "att");
    b_uint (&b, 1);
    b_str (&b, "kind");
    b_str (&b, "echo");
    b_str (&b, "inputs");
    b_arr (&b, 1);
    b_map (&b, 3);
    b_str (&b, "name");
    b_str (&b, name);
    b_str (&b, "hash");
    b_str (&b, fixture_hash (0));
    b_str (&b, "size");
    b_uint (&b, 0);
    if (!ok) {
        b_refused (&b, SEGQ_MSG_ASSIGN, SEGQ_EPROTO, "'inputs[0].name'");
        return;
    }
    segq_msg_t *msg = b_accepted (&b, SEGQ_MSG_ASSIGN);
    cr_assert_str_eq (msg->u.assign.inputs [0].name, name);
    segq_msg_destroy (&msg);
}

Test (reject, unsafe_artifact_names, .timeout = 10)
{
    s_assign_input_named ("image.png", true);
    s_assign_input_named ("files/a b/c.png", true);
    s_assign_input_named (".hidden", true);
    s_assign_input_named ("..x", true);
    s_assign_input_named ("", false);
    s_assign_input_named ("/etc/passwd", false);
    s_assign_input_named ("../x", false);
    s_assign_input_named ("a/../../x", false);
    s_assign_input_named ("a/./b", false);
    s_assign_input_named ("a//b", false);
    s_assign_input_named ("a/", false);
    s_assign_input_named (".", false);
    s_assign_input_named ("a\\b", false);
    s_assign_input_named ("a\nb", false);
    fixture_assert_no_leaks ();
}

/* A SUBMIT with one input "a" that has the keys given (NULL: left out). */
static void
b_submit_input (body_t *b, const char *hash, const char *job, const char *out, const char *model)
{
    b_submit (b, "generate", 1);
    b_str (b, "inputs");
    b_arr (b, 1);
    b_map (b, 1 + (hash != NULL) + (job != NULL) + (out != NULL) + (model != NULL));
    b_str (b, "name");
    b_str (b, "a");
    const char *keys [] = { "hash", "job", "out", "model" };
    const char *values [] = { hash, job, out, model };
    for (size_t i = 0; i < 4; i++)
        if (values [i]) {
            b_str (b, keys [i]);
            b_str (b, values [i]);
        }
}

Test (reject, input_and_get_rules, .timeout = 10)
{
    const char *one_form = "input 'a': give exactly one of 'hash', 'job' and 'model'";
    body_t b;
    b_submit_input (&b, fixture_hash (0), "j1", NULL, NULL);
    b_refused (&b, SEGQ_MSG_SUBMIT, SEGQ_EPROTO, one_form);
    b_submit_input (&b, NULL, NULL, NULL, NULL);
    b_refused (&b, SEGQ_MSG_SUBMIT, SEGQ_EPROTO, one_form);
    b_submit_input (&b, NULL, "j1", NULL, "polyp");
    b_refused (&b, SEGQ_MSG_SUBMIT, SEGQ_EPROTO, one_form);
    b_submit_input (&b, fixture_hash (0), "j1", NULL, "m-j1");
    b_refused (&b, SEGQ_MSG_SUBMIT, SEGQ_EPROTO, one_form);
    b_submit_input (&b, NULL, NULL, "model.safetensors", "polyp");
    b_refused (&b, SEGQ_MSG_SUBMIT, SEGQ_EPROTO, "'out' only goes with 'job'");

    /* a model as a client names it ... */
    b_submit_input (&b, NULL, NULL, NULL, "alice/polyp");
    segq_msg_t *msg = b_accepted (&b, SEGQ_MSG_SUBMIT);
    cr_assert_str_eq (msg->u.submit.inputs [0].model, "alice/polyp");
    cr_assert_str_eq (msg->u.submit.inputs [0].hash, "");
    segq_msg_destroy (&msg);
    /* ... and as a stored job shows it: its id beside its checkpoint */
    b_submit_input (&b, fixture_hash (2), NULL, NULL, "m-j1");
    msg = b_accepted (&b, SEGQ_MSG_SUBMIT);
    cr_assert_str_eq (msg->u.submit.inputs [0].model, "m-j1");
    cr_assert_str_eq (msg->u.submit.inputs [0].hash, fixture_hash (2));
    cr_assert_null (msg->u.submit.inputs [0].job);
    segq_msg_destroy (&msg);

    b_init (&b);
    b_map (&b, 1);
    b_str (&b, "req");
    b_uint (&b, 1);
    b_refused (&b, SEGQ_MSG_GET, SEGQ_EPROTO, "GET: give exactly one of 'hash' and 'job'");

    b_init (&b);
    b_map (&b, 2);
    b_str (&b, "req");
    b_uint (&b, 1);
    b_str (&b, "job");
    b_str (&b, "j1");
    b_refused (&b, SEGQ_MSG_GET, SEGQ_EPROTO, "'job' needs 'name'");

    /* an upload's hash is known only at its end: not on a CHUNK before it */
    b_init (&b);
    b_map (&b, 3);
    b_str (&b, "xfer");
    b_uint (&b, 1);
    b_str (&b, "off");
    b_uint (&b, 0);
    b_str (&b, "hash");
    b_str (&b, fixture_hash (0));
    b_refused (&b, SEGQ_MSG_CHUNK, SEGQ_EPROTO, "'hash' only goes with 'last'");
    b_init (&b);
    b_map (&b, 4);
    b_str (&b, "xfer");
    b_uint (&b, 1);
    b_str (&b, "off");
    b_uint (&b, 0);
    b_str (&b, "last");
    msgpack_pack_true (&b.pk);
    b_str (&b, "hash");
    b_str (&b, "abc");
    b_refused (&b, SEGQ_MSG_CHUNK, SEGQ_EPROTO, "hash");
    fixture_assert_no_leaks ();
}

/* A MODEL body with req, user, op and (unless NULL) model, plus
   `extra_keys` the caller adds. */
static void
b_model (body_t *b, segq_model_op_t op, const char *model, size_t extra_keys)
{
    b_init (b);
    b_map (b, 3 + (model != NULL) + extra_keys);
    b_str (b, "req");
    b_uint (b, 1);
    b_str (b, "user");
    b_str (b, "alice");
    b_str (b, "op");
    b_uint (b, op);
    if (model) {
        b_str (b, "model");
        b_str (b, model);
    }
}

static void
b_model_accepted (body_t *b)
{
    segq_msg_t *msg = b_accepted (b, SEGQ_MSG_MODEL);
    segq_msg_destroy (&msg);
}

Test (reject, model_rules, .timeout = 10)
{
    const char *model_not_list = "MODEL: 'model' goes with every op but LIST";
    const char *value_ops = "MODEL: 'value' goes with RENAME, TAG, UNTAG and NOTE only";
    const char *users_or_lab = "MODEL: SHARE and UNSHARE take either 'users' or 'lab'";
    const char *share_ops = "MODEL: 'users' and 'lab' go with SHARE and UNSHARE only";
    body_t b;

    b_model (&b, SEGQ_MODEL_LIST, NULL, 0);
    b_model_accepted (&b);
    b_model (&b, SEGQ_MODEL_LIST, "polyp", 0);
    b_refused (&b, SEGQ_MSG_MODEL, SEGQ_EPROTO, model_not_list);
    b_model (&b, SEGQ_MODEL_SHOW, NULL, 0);
    b_refused (&b, SEGQ_MSG_MODEL, SEGQ_EPROTO, model_not_list);
    b_model (&b, SEGQ_MODEL_SHOW, "m-j1", 0);
    b_model_accepted (&b);

    b_model (&b, SEGQ_MODEL_RENAME, "polyp", 0);
    b_refused (&b, SEGQ_MSG_MODEL, SEGQ_EPROTO, value_ops);
    b_model (&b, SEGQ_MODEL_RENAME, "polyp", 1);
    b_str (&b, "value");
    b_str (&b, "polyp-small");
    b_model_accepted (&b);
    b_model (&b, SEGQ_MODEL_PIN, "polyp", 1);
    b_str (&b, "value");
    b_str (&b, "x");
    b_refused (&b, SEGQ_MSG_MODEL, SEGQ_EPROTO, value_ops);

    b_model (&b, SEGQ_MODEL_SHARE, "polyp", 0);
    b_refused (&b, SEGQ_MSG_MODEL, SEGQ_EPROTO, users_or_lab);
    b_model (&b, SEGQ_MODEL_SHARE, "polyp", 2);
    b_str (&b, "users");
    b_arr (&b, 1);
    b_str (&b, "bob");
    b_str (&b, "lab");
    msgpack_pack_true (&b.pk);
    b_refused (&b, SEGQ_MSG_MODEL, SEGQ_EPROTO, users_or_lab);
    b_model (&b, SEGQ_MODEL_SHARE, "polyp", 1);
    b_str (&b, "users");
    b_arr (&b, 2);
    b_str (&b, "bob");
    b_str (&b, "carol");
    b_model_accepted (&b);
    b_model (&b, SEGQ_MODEL_UNSHARE, "polyp", 1);
    b_str (&b, "lab");
    msgpack_pack_true (&b.pk);
    b_model_accepted (&b);

    b_model (&b, SEGQ_MODEL_PIN, "polyp", 1);
    b_str (&b, "users");
    b_arr (&b, 1);
    b_str (&b, "bob");
    b_refused (&b, SEGQ_MSG_MODEL, SEGQ_EPROTO, share_ops);
    b_model (&b, SEGQ_MODEL_LIST, NULL, 1);
    b_str (&b, "lab");
    msgpack_pack_true (&b.pk);
    b_refused (&b, SEGQ_MSG_MODEL, SEGQ_EPROTO, share_ops);

    /* ops outside LIST..RM */
    b_model (&b, (segq_model_op_t) 0, NULL, 0);
    b_refused (&b, SEGQ_MSG_MODEL, SEGQ_EPROTO, "'op'");
    b_model (&b, (segq_model_op_t) (SEGQ_MODEL_RM + 1), "polyp", 0);
    b_refused (&b, SEGQ_MSG_MODEL, SEGQ_EPROTO, "'op'");
    fixture_assert_no_leaks ();
}

Test (reject, declared_lengths_beyond_the_data, .timeout = 20)
{
    s_watch_allocations ();
    struct {
        segq_msg_type_t type;
        const char *key;
        uint8_t bytes [6];
        size_t n;
    } cases [] = {
        { SEGQ_MSG_STATUS, "jobs", { 0xdd, 0xff, 0xff, 0xff, 0xff }, 5 }, /* array32 */
        { SEGQ_MSG_STATUS, "jobs", { 0xdc, 0xff, 0xff }, 3 },             /* array16 */
        { SEGQ_MSG_ERROR, "vers", { 0xdd, 0x7f, 0xff, 0xff, 0xff }, 5 },
        { SEGQ_MSG_STATUS_REPLY, "jobs", { 0xdd, 0x00, 0x0f, 0x42, 0x40 }, 5 }, /* 10^6 structs */
        { SEGQ_MSG_SUBMIT, "params", { 0xdf, 0x00, 0x00, 0x00, 0xff }, 5 },     /* map32 */
        { SEGQ_MSG_STATUS, "user", { 0xdb, 0xff, 0xff, 0xff, 0xff }, 5 },       /* str32 */
        { SEGQ_MSG_LOG, "data", { 0xc6, 0xff, 0xff, 0xff, 0xf0 }, 5 },          /* bin32 */
        { SEGQ_MSG_STATUS, "user", { 0xd9, 0x20 }, 2 },                         /* str8 */
        { SEGQ_MSG_STATUS, "zzz", { 0xdf, 0xff, 0xff, 0xff, 0xff }, 5 },        /* skipped map */
        { SEGQ_MSG_STATUS, "zzz", { 0xc9, 0xff, 0xff, 0xff, 0xff, 0x01 }, 6 },  /* skipped ext32 */
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases [0]; i++) {
        body_t b;
        b_init (&b);
        b_map (&b, 2);
        b_str (&b, "req");
        b_uint (&b, 1);
        b_str (&b, cases [i].key);
        b_raw (&b, cases [i].bytes, cases [i].n);
        b_raw (&b, "\x01\x02\x03\x04\x05\x06\x07\x08", 8); /* a few bytes, far too few */
        segq_msg_t *msg = NULL;
        char err [256] = "";
        int rc = b_decode (&b, cases [i].type, &msg, err, sizeof err);
        cr_assert_eq (rc, SEGQ_EPROTO, "case %zu: %s (%s)", i, segq_error_name (rc), err);
        cr_assert (strstr (err, "truncated") || strstr (err, "remain"), "case %zu: %s", i, err);
    }
    s_assert_no_big_allocation ();
    fixture_assert_no_leaks ();
}

Test (reject, struct_arrays_need_their_minimum_bytes, .timeout = 10)
{
    /* 1000 results declared, 1000 bytes present: each result needs its
       required keys, so this is refused before allocating 1000 of them. */
    body_t b;
    b_init (&b);
    b_map (&b, 2);
    b_str (&b, "req");
    b_uint (&b, 1);
    b_str (&b, "results");
    b_arr (&b, 1000);
    for (int i = 0; i < 1000; i++)
        b_map (&b, 0);
    b_refused (&b, SEGQ_MSG_CANCEL_REPLY, SEGQ_EPROTO,
               "declares 1000 elements but only 1000 bytes remain");
    fixture_assert_no_leaks ();
}

Test (reject, arrays_over_the_limit, .timeout = 30)
{
    s_watch_allocations ();
    body_t b;
    b_init (&b);
    b_map (&b, 3);
    b_str (&b, "code");
    b_int (&b, -2);
    b_str (&b, "msg");
    b_str (&b, "m");
    b_str (&b, "vers");
    b_arr (&b, SEGQ_MAX_ARRAY + 1);
    for (int i = 0; i <= SEGQ_MAX_ARRAY; i++)
        b_uint (&b, 1);
    b_refused (&b, SEGQ_MSG_ERROR, SEGQ_ETOOBIG, "has 1000001 elements, over the limit of 1000000");
    s_assert_no_big_allocation ();

    /* exactly at the limit is accepted */
    b_init (&b);
    b_map (&b, 2);
    b_str (&b, "req");
    b_uint (&b, 1);
    b_str (&b, "jobs");
    b_arr (&b, SEGQ_MAX_ARRAY);
    for (int i = 0; i < SEGQ_MAX_ARRAY; i++)
        b_str (&b, "");
    segq_msg_t *msg = b_accepted (&b, SEGQ_MSG_STATUS);
    cr_assert_eq (msg->u.status.n_jobs, SEGQ_MAX_ARRAY);
    segq_msg_destroy (&msg);
    fixture_assert_no_leaks ();
}

Test (reject, params_maps, .timeout = 10)
{
    body_t b;
#define SUBMIT_WITH_PARAMS(n)                                                                      \
    b_submit (&b, "sleep", 1);                                                                     \
    b_str (&b, "params");                                                                          \
    b_map (&b, n)

    SUBMIT_WITH_PARAMS (SEGQ_MAX_PARAMS + 1);
    for (int i = 0; i <= SEGQ_MAX_PARAMS; i++) {
        char name [16];
        snprintf (name, sizeof name, "p%d", i);
        b_str (&b, name);
        b_uint (&b, 1);
    }
    b_refused (&b, SEGQ_MSG_SUBMIT, SEGQ_ETOOBIG, "has 257 entries, over the limit of 256");

    SUBMIT_WITH_PARAMS (2);
    b_str (&b, "a");
    b_uint (&b, 1);
    b_str (&b, "a");
    b_uint (&b, 2);
    b_refused (&b, SEGQ_MSG_SUBMIT, SEGQ_EPROTO, "duplicate name 'a'");

    SUBMIT_WITH_PARAMS (1);
    b_str (&b, "");
    b_uint (&b, 1);
    b_refused (&b, SEGQ_MSG_SUBMIT, SEGQ_EPROTO, "an empty name");

    SUBMIT_WITH_PARAMS (1);
    b_str (&b, "a");
    b_arr (&b, 0);
    b_refused (&b, SEGQ_MSG_SUBMIT, SEGQ_EPROTO,
               "'params.a' is an array, expected an integer, float");

    SUBMIT_WITH_PARAMS (1);
    b_str (&b, "a");
    b_uint (&b, UINT64_MAX);
    b_refused (&b, SEGQ_MSG_SUBMIT, SEGQ_EPROTO, "'params.a' is an integer out of range");

    /* metrics are numbers only, stored as FLOAT */
    b_job_attempt (&b, 1);
    b_str (&b, "metrics");
    b_map (&b, 2);
    b_str (&b, "epoch");
    b_uint (&b, 3);
    b_str (&b, "loss");
    b_double (&b, 0.25);
    segq_msg_t *msg = b_accepted (&b, SEGQ_MSG_PROGRESS);
    cr_assert_eq (segq_params_get (&msg->u.progress.metrics, "epoch")->type, SEGQ_PARAM_FLOAT);
    cr_assert_eq (segq_params_get (&msg->u.progress.metrics, "epoch")->f, 3.0);
    segq_msg_destroy (&msg);

    b_job_attempt (&b, 1);
    b_str (&b, "metrics");
    b_map (&b, 1);
    b_str (&b, "loss");
    b_str (&b, "low");
    b_refused (&b, SEGQ_MSG_PROGRESS, SEGQ_EPROTO, "'metrics.loss' is a string, expected a number");
#undef SUBMIT_WITH_PARAMS
    fixture_assert_no_leaks ();
}

Test (reject, mutated_bodies_never_crash, .timeout = 120)
{
    /* A small deterministic fuzz in the unit tests: flip, insert and cut
       bytes of every full message; any outcome but a crash, a leak or an
       unexpected error code is fine. */
    uint32_t seed = 12345;
    for (size_t t = 0; t < fixture_type_count; t++) {
        segq_msg_t *msg = fixture_msg (fixture_types [t], true);
        fixture_frames_t f;
        cr_assert_eq (fixture_encode (msg, &f), SEGQ_OK);
        for (int round = 0; round < 300; round++) {
            size_t len = f.body_size;
            uint8_t *copy = malloc (len + 1);
            memcpy (copy, f.body, len);
            for (int k = 0; k < 1 + round % 4 && len; k++) {
                seed = seed * 1103515245u + 12345u;
                size_t at = (seed >> 8) % len;
                static const uint8_t interesting [] = { 0x00, 0xff, 0xc1, 0xdd, 0xdf, 0xdb,
                                                        0xc6, 0x7f, 0x80, 0x90, 0xa0, 0xc0 };
                copy [at] = round & 1 ? (uint8_t) (seed >> 16)
                                      : interesting [(seed >> 20) % sizeof interesting];
            }
            if (round % 5 == 0)
                len = (seed >> 4) % (len + 1);
            segq_msg_t *out = NULL;
            char err [256];
            int rc = segq_msg_decode_bytes (f.header, f.header_size, copy, len, f.data, f.data_size,
                                            f.has_data, &out, NULL, err, sizeof err);
            cr_assert (rc == SEGQ_OK || rc == SEGQ_EPROTO || rc == SEGQ_ETOOBIG, "rc %d", rc);
            cr_assert ((rc == SEGQ_OK) == (out != NULL));
            if (out) {
                /* what decodes must encode again */
                zmsg_t *z = NULL;
                cr_assert_eq (segq_msg_encode (out, &z), SEGQ_OK);
                zmsg_destroy (&z);
            }
            segq_msg_destroy (&out);
            free (copy);
        }
        fixture_frames_free (&f);
        segq_msg_destroy (&msg);
    }
    fixture_assert_no_leaks ();
}

Test (reject, encoder_refuses_what_the_decoder_would, .timeout = 10)
{
    zmsg_t *z = NULL;
    segq_msg_t *msg = segq_msg_new (SEGQ_MSG_SUBMITTED);
    msg->u.submitted.req_id = 1;
    cr_assert_eq (segq_msg_encode (msg, &z), SEGQ_EINVAL, "job is required");
    cr_assert_null (z);
    segq_msg_destroy (&msg);

    msg = fixture_msg (SEGQ_MSG_PUT, true);
    msg->u.put.hash [3] = 'X';
    cr_assert_eq (segq_msg_encode (msg, &z), SEGQ_EINVAL);
    segq_msg_destroy (&msg);

    msg = fixture_msg (SEGQ_MSG_RESULT, true);
    free (msg->u.result.outputs [1].name);
    msg->u.result.outputs [1].name = strdup ("../../etc/cron.d/x");
    cr_assert_eq (segq_msg_encode (msg, &z), SEGQ_EINVAL);
    segq_msg_destroy (&msg);

    msg = fixture_msg (SEGQ_MSG_ERROR, false);
    free (msg->u.error.message);
    msg->u.error.message = calloc (1, SEGQ_MAX_STRING + 2);
    memset (msg->u.error.message, 'a', SEGQ_MAX_STRING + 1);
    cr_assert_eq (segq_msg_encode (msg, &z), SEGQ_ETOOBIG);
    segq_msg_destroy (&msg);

    msg = fixture_msg (SEGQ_MSG_PROGRESS, false);
    msg->u.progress.fraction = 2;
    cr_assert_eq (segq_msg_encode (msg, &z), SEGQ_EINVAL);
    segq_msg_destroy (&msg);

    msg = fixture_msg (SEGQ_MSG_SUBMIT, true);
    msg->u.submit.inputs [0].job = strdup ("j1"); /* both hash and job */
    cr_assert_eq (segq_msg_encode (msg, &z), SEGQ_EINVAL);
    segq_msg_destroy (&msg);

    msg = fixture_msg (SEGQ_MSG_SUBMIT, true);
    msg->u.submit.inputs [3].job = strdup ("j1"); /* a model and a job */
    cr_assert_eq (segq_msg_encode (msg, &z), SEGQ_EINVAL);
    segq_msg_destroy (&msg);

    msg = fixture_msg (SEGQ_MSG_MODEL, true);
    msg->u.model.lab = true; /* SHARE with both users and the lab */
    cr_assert_eq (segq_msg_encode (msg, &z), SEGQ_EINVAL);
    segq_msg_destroy (&msg);

    msg = fixture_msg (SEGQ_MSG_STATUS, true);
    msg->u.status.state = 9;
    cr_assert_eq (segq_msg_encode (msg, &z), SEGQ_EINVAL);
    segq_msg_destroy (&msg);

    msg = fixture_msg (SEGQ_MSG_CHUNK, false);
    zframe_destroy (&msg->u.chunk.data);
    cr_assert_eq (segq_msg_encode (msg, &z), SEGQ_EINVAL);
    segq_msg_destroy (&msg);
    cr_assert_null (z);
    fixture_assert_no_leaks ();
}

/* ---- the request id of what does not decode ---- */

/* segq_msg_peek_req of the body built; frees it. */
static uint64_t
b_peek (body_t *b)
{
    uint64_t req = segq_msg_peek_req ((const uint8_t *) b->sb.data, b->sb.size);
    msgpack_sbuffer_destroy (&b->sb);
    return req;
}

/* A new body: a map of n entries, its first key written (the value comes next). */
static void
b_begin (body_t *b, size_t n, const char *key)
{
    b_init (b);
    b_map (b, n);
    b_str (b, key);
}

Test (reject, request_id_read_from_a_body_that_does_not_decode, .timeout = 10)
{
    body_t b;
    /* a SUBMIT refused for a wrong type after its req */
    b_begin (&b, 3, "user");
    b_str (&b, "alice");
    b_str (&b, "req");
    b_uint (&b, 77);
    b_str (&b, "kind");
    b_uint (&b, 5);
    cr_assert_eq (b_peek (&b), 77);
    /* cut short after it; a uint64 of any size */
    b_begin (&b, 3, "req");
    b_uint (&b, UINT64_MAX);
    b_str (&b, "kind");
    b_str (&b, "sleep");
    cr_assert_eq (b_peek (&b), UINT64_MAX);
    /* no req to give: the key absent, nil, negative, not a number, nested */
    b_begin (&b, 1, "user");
    b_str (&b, "alice");
    cr_assert_eq (b_peek (&b), 0);
    b_begin (&b, 1, "req");
    b_nil (&b);
    cr_assert_eq (b_peek (&b), 0);
    b_begin (&b, 1, "req");
    b_int (&b, -3);
    cr_assert_eq (b_peek (&b), 0);
    b_begin (&b, 1, "req");
    b_str (&b, "77");
    cr_assert_eq (b_peek (&b), 0);
    b_begin (&b, 1, "params");
    b_map (&b, 1);
    b_str (&b, "req");
    b_uint (&b, 77);
    cr_assert_eq (b_peek (&b), 0);
    /* something unreadable before it: a byte msgpack never uses, a non-string key */
    uint8_t never_used = 0xc1;
    b_begin (&b, 2, "x");
    b_raw (&b, &never_used, 1);
    b_str (&b, "req");
    b_uint (&b, 77);
    cr_assert_eq (b_peek (&b), 0);
    b_init (&b);
    b_map (&b, 2);
    b_uint (&b, 1);
    b_uint (&b, 1);
    b_str (&b, "req");
    b_uint (&b, 77);
    cr_assert_eq (b_peek (&b), 0);
    /* not a map at all, or nothing */
    b_init (&b);
    b_arr (&b, 2);
    b_str (&b, "req");
    b_uint (&b, 77);
    cr_assert_eq (b_peek (&b), 0);
    cr_assert_eq (segq_msg_peek_req (NULL, 0), 0);
    cr_assert_eq (segq_msg_peek_req ((const uint8_t *) "", 0), 0);
    /* a map declaring more entries than the bytes could hold */
    uint8_t huge [] = { 0xdf, 0x7f, 0xff, 0xff, 0xff, 0xa3, 'r', 'e', 'q', 0x4d };
    cr_assert_eq (segq_msg_peek_req (huge, sizeof huge), 0);
    fixture_assert_no_leaks ();
}

/* A zmsg of a header for `type` and the body built (freed), plus `extra`
   empty frames. */
static zmsg_t *
b_zmsg (body_t *b, segq_msg_type_t type, int extra)
{
    uint8_t header [4] = { 'S', 'Q', SEGQ_PROTO_VERSION, (uint8_t) type };
    zmsg_t *z = zmsg_new ();
    cr_assert_eq (zmsg_addmem (z, header, sizeof header), 0);
    cr_assert_eq (zmsg_addmem (z, b->sb.data, b->sb.size), 0);
    for (int i = 0; i < extra; i++)
        cr_assert_eq (zmsg_addmem (z, NULL, 0), 0);
    msgpack_sbuffer_destroy (&b->sb);
    return z;
}

Test (reject, a_server_learns_the_request_id_of_what_it_refuses, .timeout = 10)
{
    body_t b;
    segq_msg_t *msg = NULL;
    uint64_t req = 1;
    char err [256];
    /* a SUBMIT without its required kind */
    b_begin (&b, 2, "req");
    b_uint (&b, 77);
    b_str (&b, "user");
    b_str (&b, "alice");
    zmsg_t *z = b_zmsg (&b, SEGQ_MSG_SUBMIT, 0);
    cr_assert_eq (segq_msg_decode_request (&z, &msg, NULL, &req, err, sizeof err), SEGQ_EPROTO);
    cr_assert_null (z);
    cr_assert_null (msg);
    cr_assert_eq (req, 77, "%s", err);
    /* frames it should not have: the body is still the second */
    b_begin (&b, 1, "req");
    b_uint (&b, 78);
    z = b_zmsg (&b, SEGQ_MSG_STATUS, 2);
    cr_assert_eq (segq_msg_decode_request (&z, &msg, NULL, &req, err, sizeof err), SEGQ_EPROTO);
    cr_assert_eq (req, 78, "%s", err);
    /* a header alone has no body to read */
    z = zmsg_new ();
    cr_assert_eq (zmsg_addstr (z, "SQ"), 0);
    cr_assert_eq (segq_msg_decode_request (&z, &msg, NULL, &req, err, sizeof err), SEGQ_EPROTO);
    cr_assert_eq (req, 0);
    /* decoded: nothing to recover */
    b_begin (&b, 1, "req");
    b_uint (&b, 79);
    z = b_zmsg (&b, SEGQ_MSG_WORKERS, 0);
    cr_assert_eq (segq_msg_decode_request (&z, &msg, NULL, &req, err, sizeof err), SEGQ_OK, "%s",
                  err);
    cr_assert_eq (msg->u.workers.req_id, 79);
    cr_assert_eq (req, 0);
    segq_msg_destroy (&msg);
    fixture_assert_no_leaks ();
}
