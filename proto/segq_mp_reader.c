/*  segq_mp_reader.c: bounds-checked msgpack reading; see segq_mp_reader.h. */
#include "segq_mp_reader.h"

#include <string.h>

static uint64_t
s_be (const uint8_t *p, int bytes)
{
    uint64_t v = 0;
    for (int i = 0; i < bytes; i++)
        v = v << 8 | p [i];
    return v;
}

/* Takes the next byte and `bytes` bytes of big-endian payload. */
static int
s_take (segq__mp_t *r, int bytes, uint64_t *value)
{
    if (segq__mp_left (r) < (size_t) bytes + 1)
        return SEGQ__MP_TRUNCATED;
    *value = s_be (r->p + 1, bytes);
    r->p += bytes + 1;
    return SEGQ__MP_OK;
}

segq__mp_kind_t
segq__mp_next_kind (const segq__mp_t *r)
{
    if (r->p >= r->end)
        return SEGQ__MP_END;
    uint8_t b = *r->p;
    if (b <= 0x7f || b >= 0xe0 || (b >= 0xcc && b <= 0xd3))
        return SEGQ__MP_INT;
    if (b <= 0x8f || b == 0xde || b == 0xdf)
        return SEGQ__MP_MAP;
    if (b <= 0x9f || b == 0xdc || b == 0xdd)
        return SEGQ__MP_ARRAY;
    if (b <= 0xbf || (b >= 0xd9 && b <= 0xdb))
        return SEGQ__MP_STR;
    switch (b) {
    case 0xc0:
        return SEGQ__MP_NIL;
    case 0xc1:
        return SEGQ__MP_INVALID;
    case 0xc2:
    case 0xc3:
        return SEGQ__MP_BOOL;
    case 0xc4:
    case 0xc5:
    case 0xc6:
        return SEGQ__MP_BIN;
    case 0xca:
    case 0xcb:
        return SEGQ__MP_FLOAT;
    default:
        return SEGQ__MP_EXT;
    }
}

const char *
segq__mp_next_type_name (const segq__mp_t *r)
{
    static const char *names [] = {
        [SEGQ__MP_END] = "the end of the data",
        [SEGQ__MP_NIL] = "nil",
        [SEGQ__MP_BOOL] = "a boolean",
        [SEGQ__MP_INT] = "an integer",
        [SEGQ__MP_FLOAT] = "a float",
        [SEGQ__MP_STR] = "a string",
        [SEGQ__MP_BIN] = "binary data",
        [SEGQ__MP_ARRAY] = "an array",
        [SEGQ__MP_MAP] = "a map",
        [SEGQ__MP_EXT] = "an extension object",
        [SEGQ__MP_INVALID] = "the never-used byte 0xc1",
    };
    return names [segq__mp_next_kind (r)];
}

/* Reads any integer as a sign and a magnitude. */
static int
s_read_integer (segq__mp_t *r, bool *negative, uint64_t *magnitude)
{
    if (r->p >= r->end)
        return SEGQ__MP_TRUNCATED;
    uint8_t b = *r->p;
    uint64_t v;
    int rc;
    *negative = false;
    if (b <= 0x7f) {
        *magnitude = b;
        r->p++;
        return SEGQ__MP_OK;
    }
    if (b >= 0xe0) {
        *negative = true;
        *magnitude = (uint64_t) (-(int64_t) (int8_t) b);
        r->p++;
        return SEGQ__MP_OK;
    }
    if (b >= 0xcc && b <= 0xcf) { /* uint 8/16/32/64 */
        rc = s_take (r, 1 << (b - 0xcc), &v);
        if (rc == SEGQ__MP_OK)
            *magnitude = v;
        return rc;
    }
    if (b >= 0xd0 && b <= 0xd3) { /* int 8/16/32/64 */
        int bytes = 1 << (b - 0xd0);
        rc = s_take (r, bytes, &v);
        if (rc)
            return rc;
        int64_t s;
        if (bytes == 8)
            s = (int64_t) v;
        else {
            uint64_t sign = 1ull << (bytes * 8 - 1);
            s = (int64_t) (v ^ sign) - (int64_t) sign;
        }
        *negative = s < 0;
        *magnitude = s < 0 ? (uint64_t) 0 - (uint64_t) s : (uint64_t) s;
        return SEGQ__MP_OK;
    }
    return SEGQ__MP_TYPE;
}

/* An integer that must fit uint64 (unsigned) or int64 (signed); on
   SEGQ__MP_RANGE the reader is left where it was. */
static int
s_read_fitting (segq__mp_t *r, bool is_signed, bool *negative, uint64_t *magnitude)
{
    const uint8_t *start = r->p;
    int rc = s_read_integer (r, negative, magnitude);
    if (rc)
        return rc;
    uint64_t max = !is_signed  ? (*negative ? 0 : UINT64_MAX)
                   : *negative ? (uint64_t) INT64_MAX + 1
                               : (uint64_t) INT64_MAX;
    if (*magnitude > max) {
        r->p = start;
        return SEGQ__MP_RANGE;
    }
    return SEGQ__MP_OK;
}

int
segq__mp_read_uint (segq__mp_t *r, uint64_t *out)
{
    bool negative;
    return s_read_fitting (r, false, &negative, out);
}

int
segq__mp_read_int (segq__mp_t *r, int64_t *out)
{
    bool negative;
    uint64_t magnitude;
    int rc = s_read_fitting (r, true, &negative, &magnitude);
    if (rc == SEGQ__MP_OK)
        *out = negative ? (int64_t) (0 - magnitude) : (int64_t) magnitude;
    return rc;
}

int
segq__mp_read_double (segq__mp_t *r, double *out)
{
    if (r->p >= r->end)
        return SEGQ__MP_TRUNCATED;
    uint8_t b = *r->p;
    uint64_t v;
    int rc;
    if (b == 0xca) {
        rc = s_take (r, 4, &v);
        if (rc)
            return rc;
        uint32_t bits = (uint32_t) v;
        float f;
        memcpy (&f, &bits, sizeof f);
        *out = f;
        return SEGQ__MP_OK;
    }
    if (b == 0xcb) {
        rc = s_take (r, 8, &v);
        if (rc)
            return rc;
        memcpy (out, &v, sizeof *out);
        return SEGQ__MP_OK;
    }
    /* Many msgpack writers (JavaScript's, for one) send 1.0 as 1. */
    bool negative;
    uint64_t magnitude;
    rc = s_read_integer (r, &negative, &magnitude);
    if (rc)
        return rc;
    *out = negative ? -(double) magnitude : (double) magnitude;
    return SEGQ__MP_OK;
}

int
segq__mp_read_bool (segq__mp_t *r, bool *out)
{
    if (r->p >= r->end)
        return SEGQ__MP_TRUNCATED;
    if (*r->p != 0xc2 && *r->p != 0xc3)
        return SEGQ__MP_TYPE;
    *out = *r->p == 0xc3;
    r->p++;
    return SEGQ__MP_OK;
}

/* A length-prefixed payload (str, bin): the length is checked against
   what remains before the caller sees the pointer. */
static int
s_read_payload (segq__mp_t *r, int prefix_bytes, const uint8_t **out, uint32_t *len)
{
    uint64_t n;
    const uint8_t *start = r->p;
    int rc = s_take (r, prefix_bytes, &n);
    if (rc)
        return rc;
    if (n > segq__mp_left (r)) {
        r->p = start;
        return SEGQ__MP_TRUNCATED;
    }
    *out = r->p;
    *len = (uint32_t) n;
    r->p += n;
    return SEGQ__MP_OK;
}

int
segq__mp_read_str (segq__mp_t *r, const char **out, uint32_t *len)
{
    if (r->p >= r->end)
        return SEGQ__MP_TRUNCATED;
    uint8_t b = *r->p;
    const uint8_t *data;
    int rc;
    if (b >= 0xa0 && b <= 0xbf) {
        uint32_t n = b & 0x1f;
        if (n + 1u > segq__mp_left (r))
            return SEGQ__MP_TRUNCATED;
        *out = (const char *) r->p + 1;
        *len = n;
        r->p += n + 1;
        return SEGQ__MP_OK;
    }
    if (b >= 0xd9 && b <= 0xdb)
        rc = s_read_payload (r, 1 << (b - 0xd9), &data, len);
    else
        return SEGQ__MP_TYPE;
    if (rc == SEGQ__MP_OK)
        *out = (const char *) data;
    return rc;
}

int
segq__mp_read_bin (segq__mp_t *r, const uint8_t **out, uint32_t *len)
{
    if (r->p >= r->end)
        return SEGQ__MP_TRUNCATED;
    uint8_t b = *r->p;
    if (b < 0xc4 || b > 0xc6)
        return SEGQ__MP_TYPE;
    return s_read_payload (r, 1 << (b - 0xc4), out, len);
}

/* Array or map header: fix form in [fix_lo, fix_lo+15], then 16- and 32-bit
   forms. `per_item` objects follow per counted item. */
static int
s_read_container (segq__mp_t *r, uint8_t fix_lo, uint8_t b16, uint32_t *count, int per_item)
{
    if (r->p >= r->end)
        return SEGQ__MP_TRUNCATED;
    const uint8_t *start = r->p;
    uint8_t b = *r->p;
    uint64_t n;
    if (b >= fix_lo && b <= fix_lo + 15) {
        n = b & 0x0f;
        r->p++;
    } else if (b == b16 || b == b16 + 1) {
        int rc = s_take (r, b == b16 ? 2 : 4, &n);
        if (rc)
            return rc;
    } else
        return SEGQ__MP_TYPE;
    if (n * (uint64_t) per_item > segq__mp_left (r)) {
        r->p = start;
        return SEGQ__MP_TRUNCATED;
    }
    *count = (uint32_t) n;
    return SEGQ__MP_OK;
}

int
segq__mp_read_array (segq__mp_t *r, uint32_t *count)
{
    return s_read_container (r, 0x90, 0xdc, count, 1);
}

int
segq__mp_read_map (segq__mp_t *r, uint32_t *count)
{
    return s_read_container (r, 0x80, 0xde, count, 2);
}

int
segq__mp_skip (segq__mp_t *r)
{
    /* Objects still to skip; bounded by the bytes left, since every
       container's count was checked against them. */
    uint64_t pending = 1;
    while (pending--) {
        if (r->p >= r->end)
            return SEGQ__MP_TRUNCATED;
        uint8_t b = *r->p;
        uint64_t v;
        int rc = SEGQ__MP_OK;
        uint32_t count;
        const uint8_t *data;
        uint32_t len;
        if (b <= 0x7f || b >= 0xe0 || b == 0xc0 || b == 0xc2 || b == 0xc3)
            r->p++;
        else if ((b >= 0x80 && b <= 0x8f) || b == 0xde || b == 0xdf) {
            rc = segq__mp_read_map (r, &count);
            pending += 2 * (uint64_t) count;
        } else if ((b >= 0x90 && b <= 0x9f) || b == 0xdc || b == 0xdd) {
            rc = segq__mp_read_array (r, &count);
            pending += count;
        } else if ((b >= 0xa0 && b <= 0xbf) || (b >= 0xd9 && b <= 0xdb)) {
            const char *s;
            rc = segq__mp_read_str (r, &s, &len);
        } else if (b >= 0xc4 && b <= 0xc6)
            rc = segq__mp_read_bin (r, &data, &len);
        else if (b == 0xca || b == 0xcb)
            rc = s_take (r, b == 0xca ? 4 : 8, &v);
        else if (b >= 0xcc && b <= 0xd3)
            rc = s_take (r, 1 << ((b - 0xcc) & 3), &v);
        else if (b >= 0xd4 && b <= 0xd8) { /* fixext 1/2/4/8/16: type byte + data */
            if (segq__mp_left (r) < 2u + (1u << (b - 0xd4)))
                return SEGQ__MP_TRUNCATED;
            r->p += 2 + (1 << (b - 0xd4));
        } else if (b >= 0xc7 && b <= 0xc9) { /* ext 8/16/32: length, type byte, data */
            const uint8_t *start = r->p;
            rc = s_take (r, 1 << (b - 0xc7), &v);
            if (rc == SEGQ__MP_OK && (segq__mp_left (r) < 1 || v > segq__mp_left (r) - 1)) {
                r->p = start;
                rc = SEGQ__MP_TRUNCATED;
            }
            if (rc == SEGQ__MP_OK)
                r->p += 1 + v;
        } else
            return SEGQ__MP_TYPE; /* 0xc1 */
        if (rc)
            return rc;
    }
    return SEGQ__MP_OK;
}
