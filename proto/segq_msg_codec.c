/*  segq_msg_codec.c: encoding (msgpack-c's packer) and decoding (our own
    bounds-checked reader) of segq messages, driven by the field tables of
    segq_msg.c. Validation is symmetric: the encoder refuses what the
    decoder would refuse, so a bad message fails at its sender. */
#include "segq_msg_fields.h"
#include "segq_mp_reader.h"

#include <math.h>
#include <msgpack.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ================================================================ UTF-8 */

/* Bytes of the valid UTF-8 character at p (strict: no overlong forms, no
   surrogates, nothing past U+10FFFF), or 0 if there is none. */
static size_t
s_utf8_char (const uint8_t *p, size_t left)
{
    uint8_t c = p [0];
    if (c < 0x80)
        return 1;
    size_t n;
    uint32_t cp;
    if (c >= 0xc2 && c <= 0xdf)
        n = 2, cp = c & 0x1f;
    else if (c >= 0xe0 && c <= 0xef)
        n = 3, cp = c & 0x0f;
    else if (c >= 0xf0 && c <= 0xf4)
        n = 4, cp = c & 0x07;
    else
        return 0;
    if (left < n)
        return 0;
    for (size_t i = 1; i < n; i++) {
        if ((p [i] & 0xc0) != 0x80)
            return 0;
        cp = cp << 6 | (p [i] & 0x3f);
    }
    if ((n == 3 && (cp < 0x800 || (cp >= 0xd800 && cp <= 0xdfff)))
        || (n == 4 && (cp < 0x10000 || cp > 0x10ffff)))
        return 0;
    return n;
}

static bool
s_utf8_valid (const char *s, size_t len)
{
    const uint8_t *p = (const uint8_t *) s;
    for (size_t i = 0; i < len;) {
        size_t n = p [i] < 0x80 ? 1 : s_utf8_char (p + i, len - i);
        if (!n)
            return false;
        i += n;
    }
    return true;
}

/* Replaces every byte that is not part of a valid character with '?'. */
static void
s_utf8_repair (char *s, size_t len)
{
    uint8_t *p = (uint8_t *) s;
    for (size_t i = 0; i < len;) {
        size_t n = p [i] < 0x80 ? 1 : s_utf8_char (p + i, len - i);
        if (!n) {
            p [i] = '?';
            n = 1;
        }
        i += n;
    }
}

/* How a string field is checked. Identifiers (ids, names, parameters,
   array elements) become file names, keys and JSON, so invalid UTF-8 there
   is refused; free text (messages, reasons) is repaired instead, so that a
   message cut in the middle of a character never makes a reply unsendable. */
typedef enum { S_STR_ID, S_STR_NAME, S_STR_TEXT } s_str_kind_t;

/* ================================================================ encode */

/* Packer output: a stack buffer for the common small message, the heap
   only past it. */
typedef struct {
    uint8_t *data;
    size_t size;
    size_t capacity;
    bool failed;
    uint8_t local [2048];
} s_out_t;

static int
s_out_write (void *data, const char *buf, size_t len)
{
    s_out_t *out = data;
    if (out->size + len > out->capacity) {
        size_t capacity = out->capacity * 2;
        while (capacity < out->size + len)
            capacity *= 2;
        uint8_t *grown =
            out->data == out->local ? malloc (capacity) : realloc (out->data, capacity);
        if (!grown) {
            out->failed = true;
            return -1;
        }
        if (out->data == out->local)
            memcpy (grown, out->local, out->size);
        out->data = grown;
        out->capacity = capacity;
    }
    memcpy (out->data + out->size, buf, len);
    out->size += len;
    return 0;
}

typedef struct {
    msgpack_packer pk;
    const char *msg; /* message type name, for errors */
    char *err;
    size_t errlen;
} s_enc_t;

static int
s_enc_fail (s_enc_t *e, int code, const segq__field_t *f, const char *fmt, ...)
{
    char text [256];
    va_list args;
    va_start (args, fmt);
    vsnprintf (text, sizeof text, fmt, args);
    va_end (args);
    snprintf (e->err, e->errlen, "cannot encode %s: '%s' %s", e->msg, f ? f->key : "?", text);
    return code;
}

static size_t
s_count (const segq__field_t *f, const uint8_t *base)
{
    return *(const size_t *) (base + f->count_offset);
}

/* Whether the field goes on the wire: required ones always, optional ones
   when they differ from what an absent key means. */
static bool
s_present (const segq__field_t *f, const uint8_t *base)
{
    const void *at = base + f->offset;
    if (f->flags & SEGQ__FL_REQUIRED)
        return true;
    switch (f->type) {
    case SEGQ__F_U64:
        return *(const uint64_t *) at != 0;
    case SEGQ__F_U32:
        return *(const uint32_t *) at != 0;
    case SEGQ__F_I32:
        return *(const int32_t *) at != f->absent;
    case SEGQ__F_ENUM:
        return *(const int *) at != f->absent;
    case SEGQ__F_F64:
        return *(const double *) at != 0;
    case SEGQ__F_BOOL:
        return *(const bool *) at;
    case SEGQ__F_STR:
    case SEGQ__F_NAME:
        return *(char *const *) at != NULL;
    case SEGQ__F_HASH:
        return *(const char *) at != '\0';
    case SEGQ__F_BIN:
    case SEGQ__F_STRS:
    case SEGQ__F_U32S:
    case SEGQ__F_STRUCTS:
        return s_count (f, base) > 0;
    case SEGQ__F_PARAMS:
    case SEGQ__F_METRICS:
        return ((const segq_params_t *) at)->count > 0;
    }
    return false;
}

static void
s_pack_str (msgpack_packer *pk, const char *s, size_t len)
{
    msgpack_pack_str (pk, len);
    msgpack_pack_str_body (pk, s, len);
}

static void
s_pack_bool (msgpack_packer *pk, bool b)
{
    if (b)
        msgpack_pack_true (pk);
    else
        msgpack_pack_false (pk);
}

static int
s_enc_string (s_enc_t *e, const segq__field_t *f, const char *s, size_t limit, s_str_kind_t kind)
{
    if (!s)
        return s_enc_fail (e, SEGQ_EINVAL, f, "is required but NULL");
    size_t len = strnlen (s, limit + 1);
    if (len > limit)
        return s_enc_fail (e, SEGQ_ETOOBIG, f, "is over %zu bytes", limit);
    if (kind == S_STR_NAME && !segq_name_valid (s))
        return s_enc_fail (e, SEGQ_EINVAL, f, "'%.64s' is not a safe relative path", s);
    if (s_utf8_valid (s, len)) {
        s_pack_str (&e->pk, s, len);
        return SEGQ_OK;
    }
    if (kind != S_STR_TEXT)
        return s_enc_fail (e, SEGQ_EINVAL, f, "is not valid UTF-8");
    char *repaired = malloc (len + 1);
    if (!repaired)
        return s_enc_fail (e, SEGQ_ENOMEM, f, "could not be repaired: out of memory");
    memcpy (repaired, s, len);
    s_utf8_repair (repaired, len);
    s_pack_str (&e->pk, repaired, len);
    free (repaired);
    return SEGQ_OK;
}

/* The limit and check of a STR or NAME field. */
static s_str_kind_t
s_field_str_kind (const segq__field_t *f, size_t *limit)
{
    if (f->type == SEGQ__F_NAME || (f->flags & SEGQ__FL_SHORT)) {
        *limit = SEGQ_MAX_NAME;
        return f->type == SEGQ__F_NAME ? S_STR_NAME : S_STR_ID;
    }
    *limit = SEGQ_MAX_STRING;
    return S_STR_TEXT;
}

static int
s_enc_params (s_enc_t *e, const segq__field_t *f, const segq_params_t *params)
{
    if (params->count > SEGQ_MAX_PARAMS)
        return s_enc_fail (e, SEGQ_ETOOBIG, f, "has %zu entries, over %d", params->count,
                           SEGQ_MAX_PARAMS);
    msgpack_pack_map (&e->pk, params->count);
    for (size_t i = 0; i < params->count; i++) {
        const segq_param_t *item = &params->items [i];
        const segq_value_t *v = &item->value;
        if (!item->name || !*item->name)
            return s_enc_fail (e, SEGQ_EINVAL, f, "has an entry without a name");
        int rc = s_enc_string (e, f, item->name, SEGQ_MAX_NAME, S_STR_ID);
        if (rc)
            return rc;
        if (f->type == SEGQ__F_METRICS) {
            if (v->type != SEGQ_PARAM_FLOAT && v->type != SEGQ_PARAM_INT)
                return s_enc_fail (e, SEGQ_EINVAL, f, "'%s' is not a number", item->name);
            msgpack_pack_double (&e->pk, v->type == SEGQ_PARAM_FLOAT ? v->f : (double) v->i);
            continue;
        }
        switch (v->type) {
        case SEGQ_PARAM_INT:
            msgpack_pack_int64 (&e->pk, v->i);
            break;
        case SEGQ_PARAM_FLOAT:
            msgpack_pack_double (&e->pk, v->f);
            break;
        case SEGQ_PARAM_BOOL:
            s_pack_bool (&e->pk, v->b);
            break;
        case SEGQ_PARAM_STRING:
        case SEGQ_PARAM_CHOICE:
            rc = s_enc_string (e, f, v->s, SEGQ_MAX_STRING, S_STR_ID);
            if (rc)
                return rc;
            break;
        default:
            return s_enc_fail (e, SEGQ_EINVAL, f, "'%s' has unknown type %d", item->name, v->type);
        }
    }
    return SEGQ_OK;
}

static int s_enc_struct (s_enc_t *e, const segq__struct_desc_t *desc, const void *object);

/* I32 and ENUM: refused outside the field's range. */
static int
s_enc_ranged (s_enc_t *e, const segq__field_t *f, const void *at)
{
    int64_t v = f->type == SEGQ__F_I32 ? *(const int32_t *) at : *(const int *) at;
    if (v < f->lo || v > f->hi)
        return s_enc_fail (e, SEGQ_EINVAL, f, "is %lld, outside %lld..%lld", (long long) v,
                           (long long) f->lo, (long long) f->hi);
    msgpack_pack_int64 (&e->pk, v);
    return SEGQ_OK;
}

/* F64: finite, and within 0..1 for a UNIT field. */
static int
s_enc_double (s_enc_t *e, const segq__field_t *f, const void *at)
{
    double v = *(const double *) at;
    if (!isfinite (v) || ((f->flags & SEGQ__FL_UNIT) && (v < 0 || v > 1)))
        return s_enc_fail (e, SEGQ_EINVAL, f, "is %g, %s", v,
                           f->flags & SEGQ__FL_UNIT ? "outside 0..1" : "not finite");
    msgpack_pack_double (&e->pk, v);
    return SEGQ_OK;
}

/* The element count of a BIN or array field, checked against its data and
   the limits before anything of it is packed. */
static int
s_checked_count (s_enc_t *e, const segq__field_t *f, const uint8_t *base, size_t *count)
{
    *count = s_count (f, base);
    if (*count && !*(void *const *) (base + f->offset))
        return s_enc_fail (e, SEGQ_EINVAL, f, "has a count of %zu but no data", *count);
    if (f->type != SEGQ__F_BIN && *count > SEGQ_MAX_ARRAY)
        return s_enc_fail (e, SEGQ_ETOOBIG, f, "has %zu elements, over %d", *count, SEGQ_MAX_ARRAY);
    if (f->type == SEGQ__F_BIN && *count > UINT32_MAX)
        return s_enc_fail (e, SEGQ_ETOOBIG, f, "is over 4 GiB");
    return SEGQ_OK;
}

/* Element i of the STRS, U32S or STRUCTS array at data. */
static int
s_enc_element (s_enc_t *e, const segq__field_t *f, const void *data, size_t i)
{
    switch (f->type) {
    case SEGQ__F_STRS:
        return s_enc_string (e, f, ((char *const *) data) [i], SEGQ_MAX_STRING, S_STR_ID);
    case SEGQ__F_U32S:
        msgpack_pack_uint32 (&e->pk, ((const uint32_t *) data) [i]);
        return SEGQ_OK;
    default: /* SEGQ__F_STRUCTS */
        return s_enc_struct (e, f->sub, (const uint8_t *) data + i * f->sub->size);
    }
}

/* BIN, STRS, U32S, STRUCTS: a count and a pointer to that many items. */
static int
s_enc_counted (s_enc_t *e, const segq__field_t *f, const uint8_t *base)
{
    size_t count;
    int rc = s_checked_count (e, f, base, &count);
    if (rc)
        return rc;
    const void *data = *(const void *const *) (base + f->offset);
    if (f->type == SEGQ__F_BIN) {
        msgpack_pack_bin (&e->pk, count);
        msgpack_pack_bin_body (&e->pk, data, count);
        return SEGQ_OK;
    }
    msgpack_pack_array (&e->pk, count);
    for (size_t i = 0; i < count && rc == SEGQ_OK; i++)
        rc = s_enc_element (e, f, data, i);
    return rc;
}

/* One field's value, refused where the decoder would refuse it. */
static int
s_enc_field (s_enc_t *e, const segq__field_t *f, const uint8_t *base)
{
    const void *at = base + f->offset;
    switch (f->type) {
    case SEGQ__F_U64:
        msgpack_pack_uint64 (&e->pk, *(const uint64_t *) at);
        return SEGQ_OK;
    case SEGQ__F_U32:
        msgpack_pack_uint32 (&e->pk, *(const uint32_t *) at);
        return SEGQ_OK;
    case SEGQ__F_I32:
    case SEGQ__F_ENUM:
        return s_enc_ranged (e, f, at);
    case SEGQ__F_F64:
        return s_enc_double (e, f, at);
    case SEGQ__F_BOOL:
        s_pack_bool (&e->pk, *(const bool *) at);
        return SEGQ_OK;
    case SEGQ__F_STR:
    case SEGQ__F_NAME: {
        size_t limit;
        s_str_kind_t kind = s_field_str_kind (f, &limit);
        return s_enc_string (e, f, *(char *const *) at, limit, kind);
    }
    case SEGQ__F_HASH:
        if (!segq_hash_valid (at))
            return s_enc_fail (e, SEGQ_EINVAL, f, "is not 64 lowercase hex digits");
        s_pack_str (&e->pk, at, SEGQ_HASH_HEX_LEN);
        return SEGQ_OK;
    case SEGQ__F_BIN:
    case SEGQ__F_STRS:
    case SEGQ__F_U32S:
    case SEGQ__F_STRUCTS:
        return s_enc_counted (e, f, base);
    case SEGQ__F_PARAMS:
    case SEGQ__F_METRICS:
        return s_enc_params (e, f, at);
    }
    return s_enc_fail (e, SEGQ_EINTERNAL, f, "has an unknown field type");
}

static int
s_enc_struct (s_enc_t *e, const segq__struct_desc_t *desc, const void *object)
{
    const uint8_t *base = object;
    if (desc->check) {
        int rc = desc->check (object, e->err, e->errlen);
        if (rc)
            return SEGQ_EINVAL;
    }
    size_t present = 0;
    for (size_t i = 0; i < desc->n_fields; i++)
        present += s_present (&desc->fields [i], base);
    msgpack_pack_map (&e->pk, present);
    for (size_t i = 0; i < desc->n_fields; i++) {
        const segq__field_t *f = &desc->fields [i];
        if (!s_present (f, base))
            continue;
        s_pack_str (&e->pk, f->key, f->key_len);
        int rc = s_enc_field (e, f, base);
        if (rc)
            return rc;
    }
    return SEGQ_OK;
}

/* The frames of a message: header, body, and the data frame of a CHUNK
   (moved out of self). */
static int
s_encode_frames (segq_msg_t *self, zframe_t *frames [3], size_t *n_frames, char *err, size_t errlen)
{
    const segq__struct_desc_t *desc = segq__msg_desc (self->type);
    if (!desc) {
        snprintf (err, errlen, "cannot encode: unknown message type %d", (int) self->type);
        return SEGQ_EINVAL;
    }
    if (self->type == SEGQ_MSG_CHUNK && !self->u.chunk.data) {
        snprintf (err, errlen, "cannot encode CHUNK: no data frame");
        return SEGQ_EINVAL;
    }
    /* SPEC.md: an EVERSION error lists the versions its sender speaks. */
    segq_error_msg_t *error = &self->u.error;
    if (self->type == SEGQ_MSG_ERROR && error->code == SEGQ_EVERSION && !error->n_versions) {
        size_t n = SEGQ_PROTO_VERSION - SEGQ_PROTO_MIN_VERSION + 1;
        if (!(error->versions = calloc (n, sizeof *error->versions))) {
            snprintf (err, errlen, "cannot encode ERROR: out of memory");
            return SEGQ_ENOMEM;
        }
        for (size_t i = 0; i < n; i++)
            error->versions [i] = SEGQ_PROTO_MIN_VERSION + (uint32_t) i;
        error->n_versions = n;
    }
    s_out_t out = { .capacity = sizeof out.local };
    out.data = out.local;
    s_enc_t enc = { .msg = desc->name, .err = err, .errlen = errlen };
    msgpack_packer_init (&enc.pk, &out, s_out_write);
    int rc = desc->n_fields ? s_enc_struct (&enc, desc, &self->u)
                            : (msgpack_pack_map (&enc.pk, 0), SEGQ_OK);
    if (rc == SEGQ_OK && out.failed) {
        snprintf (err, errlen, "cannot encode %s: out of memory", desc->name);
        rc = SEGQ_ENOMEM;
    }
    if (rc == SEGQ_OK) {
        uint8_t header [SEGQ_HEADER_SIZE] = { 'S', 'Q',
                                              self->version ? self->version : SEGQ_PROTO_VERSION,
                                              (uint8_t) self->type };
        frames [0] = zframe_new (header, sizeof header);
        frames [1] = zframe_new (out.data, out.size);
        frames [2] = NULL;
        *n_frames = 2;
        if (!frames [0] || !frames [1]) {
            zframe_destroy (&frames [0]);
            zframe_destroy (&frames [1]);
            snprintf (err, errlen, "cannot encode %s: out of memory", desc->name);
            rc = SEGQ_ENOMEM;
        } else if (self->type == SEGQ_MSG_CHUNK) {
            frames [2] = self->u.chunk.data;
            self->u.chunk.data = NULL;
            *n_frames = 3;
        }
    }
    if (out.data != out.local)
        free (out.data);
    return rc;
}

int
segq_msg_encode (segq_msg_t *self, zmsg_t **out)
{
    char err [256];
    zframe_t *frames [3];
    size_t n = 0;
    *out = NULL;
    int rc = s_encode_frames (self, frames, &n, err, sizeof err);
    if (rc)
        return rc;
    zmsg_t *msg = zmsg_new ();
    for (size_t i = 0; i < n; i++)
        if (!msg || zmsg_append (msg, &frames [i]) != 0)
            zframe_destroy (&frames [i]);
    if (!msg || zmsg_size (msg) != n) {
        zmsg_destroy (&msg);
        return SEGQ_ENOMEM;
    }
    *out = msg;
    return SEGQ_OK;
}

/* ================================================================ decode */

#define S_MAX_DEPTH 8

typedef struct {
    segq__mp_t r;
    const char *msg; /* message type name */
    /* Where we are, for messages: "inputs[3].hash". Depth is fixed by the
       tables (unknown keys are skipped, not descended into). */
    struct {
        const char *key;
        long index;
    } path [S_MAX_DEPTH];
    int depth;
    char *err;
    size_t errlen;
} s_dec_t;

static int
s_dec_fail (s_dec_t *d, int code, const char *fmt, ...)
{
    char where [256] = "";
    size_t used = 0;
    int depth = d->depth < S_MAX_DEPTH ? d->depth : S_MAX_DEPTH;
    for (int i = 0; i < depth && used < sizeof where; i++) {
        int n = d->path [i].index >= 0 ? snprintf (where + used, sizeof where - used, "%s%s[%ld]",
                                                   i ? "." : "", d->path [i].key, d->path [i].index)
                                       : snprintf (where + used, sizeof where - used, "%s%s",
                                                   i ? "." : "", d->path [i].key);
        if (n < 0)
            break;
        used += (size_t) n;
    }
    char text [256];
    va_list args;
    va_start (args, fmt);
    vsnprintf (text, sizeof text, fmt, args);
    va_end (args);
    if (d->depth)
        snprintf (d->err, d->errlen, "%s: '%s' %s", d->msg, where, text);
    else
        snprintf (d->err, d->errlen, "%s: %s", d->msg, text);
    return code;
}

/* Turns a reader result into an error naming what was expected. */
static int
s_dec_reader_fail (s_dec_t *d, int mp_rc, const char *expected)
{
    if (mp_rc == SEGQ__MP_TRUNCATED)
        return s_dec_fail (d, SEGQ_EPROTO, "is truncated: declares more than the %zu bytes left",
                           segq__mp_left (&d->r));
    if (mp_rc == SEGQ__MP_RANGE)
        return s_dec_fail (d, SEGQ_EPROTO, "is an integer out of range (expected %s)", expected);
    return s_dec_fail (d, SEGQ_EPROTO, "is %s, expected %s", segq__mp_next_type_name (&d->r),
                       expected);
}

static void
s_set_index (s_dec_t *d, long index)
{
    if (d->depth > 0 && d->depth <= S_MAX_DEPTH)
        d->path [d->depth - 1].index = index;
}

static void
s_push (s_dec_t *d, const char *key, long index)
{
    if (d->depth < S_MAX_DEPTH) {
        d->path [d->depth].key = key;
        d->path [d->depth].index = index;
    }
    d->depth++;
}

/* A string, copied and NUL-terminated, at most `limit` bytes. */
static int
s_dec_string (s_dec_t *d, size_t limit, s_str_kind_t kind, char **out)
{
    const char *s;
    uint32_t len;
    int rc = segq__mp_read_str (&d->r, &s, &len);
    if (rc)
        return s_dec_reader_fail (d, rc, "a string");
    if (len > limit)
        return s_dec_fail (d, SEGQ_ETOOBIG, "is %u bytes, over the limit of %zu", len, limit);
    if (memchr (s, '\0', len))
        return s_dec_fail (d, SEGQ_EPROTO, "contains a NUL byte");
    bool valid = s_utf8_valid (s, len);
    if (!valid && kind != S_STR_TEXT)
        return s_dec_fail (d, SEGQ_EPROTO, "is not valid UTF-8");
    char *copy = malloc (len + 1u);
    if (!copy)
        return s_dec_fail (d, SEGQ_ENOMEM, "could not be stored: out of memory");
    memcpy (copy, s, len);
    copy [len] = '\0';
    if (!valid)
        s_utf8_repair (copy, len);
    if (kind == S_STR_NAME && !segq_name_valid (copy)) {
        rc = s_dec_fail (d, SEGQ_EPROTO, "'%.64s' is not a safe relative path", copy);
        free (copy);
        return rc;
    }
    *out = copy;
    return SEGQ_OK;
}

/* Array header with its count checked: at most SEGQ_MAX_ARRAY, and at
   least min_bytes per element present, before anything is allocated. */
static int
s_dec_array (s_dec_t *d, size_t min_bytes, uint32_t *count)
{
    int rc = segq__mp_read_array (&d->r, count);
    if (rc)
        return s_dec_reader_fail (d, rc, "an array");
    if (*count > SEGQ_MAX_ARRAY)
        return s_dec_fail (d, SEGQ_ETOOBIG, "has %u elements, over the limit of %d", *count,
                           SEGQ_MAX_ARRAY);
    if ((uint64_t) *count * min_bytes > segq__mp_left (&d->r))
        return s_dec_fail (d, SEGQ_EPROTO, "declares %u elements but only %zu bytes remain", *count,
                           segq__mp_left (&d->r));
    return SEGQ_OK;
}

/* The fewest bytes an element of `desc` can take: its required keys with
   one-byte values. */
static size_t
s_min_bytes (const segq__struct_desc_t *desc)
{
    size_t bytes = 1;
    for (size_t i = 0; i < desc->n_fields; i++)
        if (desc->fields [i].flags & SEGQ__FL_REQUIRED)
            bytes += 2u + desc->fields [i].key_len;
    return bytes;
}

/* The value of the entry named name: any of the four types in a map of
   parameters, a number (stored as FLOAT) in a map of metrics. An error
   names the entry. */
static int
s_dec_value (s_dec_t *d, const segq__field_t *f, const char *name, segq_value_t *value)
{
    segq__mp_kind_t kind = segq__mp_next_kind (&d->r);
    int rc = SEGQ__MP_TYPE;
    s_push (d, name, -1);
    if (f->type == SEGQ__F_METRICS) {
        value->type = SEGQ_PARAM_FLOAT;
        if (kind == SEGQ__MP_INT || kind == SEGQ__MP_FLOAT)
            rc = segq__mp_read_double (&d->r, &value->f);
    } else if (kind == SEGQ__MP_INT) {
        value->type = SEGQ_PARAM_INT;
        rc = segq__mp_read_int (&d->r, &value->i);
    } else if (kind == SEGQ__MP_FLOAT) {
        value->type = SEGQ_PARAM_FLOAT;
        rc = segq__mp_read_double (&d->r, &value->f);
    } else if (kind == SEGQ__MP_BOOL) {
        value->type = SEGQ_PARAM_BOOL;
        rc = segq__mp_read_bool (&d->r, &value->b);
    } else if (kind == SEGQ__MP_STR) {
        value->type = SEGQ_PARAM_STRING;
        rc = s_dec_string (d, SEGQ_MAX_STRING, S_STR_ID, &value->s);
        d->depth--;
        return rc; /* s_dec_string has said what was wrong */
    }
    if (rc)
        rc = s_dec_reader_fail (
            d, rc,
            f->type == SEGQ__F_METRICS ? "a number" : "an integer, float, boolean or string");
    d->depth--;
    return rc;
}

static int
s_dec_params (s_dec_t *d, const segq__field_t *f, segq_params_t *params)
{
    uint32_t count;
    int rc = segq__mp_read_map (&d->r, &count);
    if (rc)
        return s_dec_reader_fail (d, rc, "a map");
    if (count > SEGQ_MAX_PARAMS)
        return s_dec_fail (d, SEGQ_ETOOBIG, "has %u entries, over the limit of %d", count,
                           SEGQ_MAX_PARAMS);
    if (count == 0)
        return SEGQ_OK;
    params->items = calloc (count, sizeof *params->items);
    if (!params->items)
        return s_dec_fail (d, SEGQ_ENOMEM, "could not be stored: out of memory");
    params->capacity = count;
    for (uint32_t i = 0; i < count; i++) {
        char *name = NULL;
        rc = s_dec_string (d, SEGQ_MAX_NAME, S_STR_ID, &name);
        if (rc)
            return rc;
        if (!*name || segq_params_get (params, name))
            rc = s_dec_fail (d, SEGQ_EPROTO, "has %s name '%.64s'",
                             *name ? "a duplicate" : "an empty", name);
        segq_value_t value = { 0 };
        if (rc == SEGQ_OK)
            rc = s_dec_value (d, f, name, &value);
        if (rc) {
            free (name);
            return rc;
        }
        params->items [i].name = name;
        params->items [i].value = value;
        params->count++;
    }
    return SEGQ_OK;
}

static int s_dec_struct (s_dec_t *d, const segq__struct_desc_t *desc, void *object);

/* An unsigned integer; when there is none, the reader's error. */
static int
s_dec_uint (s_dec_t *d, uint64_t *u)
{
    int rc = segq__mp_read_uint (&d->r, u);
    return rc ? s_dec_reader_fail (d, rc, "an unsigned integer") : SEGQ_OK;
}

static int
s_dec_u64 (s_dec_t *d, uint64_t *at)
{
    uint64_t u;
    int rc = s_dec_uint (d, &u);
    if (rc)
        return rc;
    *at = u;
    return SEGQ_OK;
}

static int
s_dec_u32 (s_dec_t *d, uint32_t *at)
{
    uint64_t u;
    int rc = s_dec_uint (d, &u);
    if (rc)
        return rc;
    if (u > UINT32_MAX)
        return s_dec_fail (d, SEGQ_EPROTO, "is %llu, over 2^32-1", (unsigned long long) u);
    *at = (uint32_t) u;
    return SEGQ_OK;
}

/* I32 and ENUM: an integer within the field's lo..hi. */
static int
s_dec_ranged (s_dec_t *d, const segq__field_t *f, void *at)
{
    int64_t i;
    int rc = segq__mp_read_int (&d->r, &i);
    if (rc)
        return s_dec_reader_fail (d, rc, "an integer");
    if (i < f->lo || i > f->hi)
        return s_dec_fail (d, SEGQ_EPROTO, "is %lld, outside %lld..%lld", (long long) i,
                           (long long) f->lo, (long long) f->hi);
    if (f->type == SEGQ__F_I32)
        *(int32_t *) at = (int32_t) i;
    else
        *(int *) at = (int) i;
    return SEGQ_OK;
}

/* A finite number; within 0..1 for a SEGQ__FL_UNIT field. */
static int
s_dec_f64 (s_dec_t *d, const segq__field_t *f, double *at)
{
    double v;
    int rc = segq__mp_read_double (&d->r, &v);
    if (rc)
        return s_dec_reader_fail (d, rc, "a number");
    if (!isfinite (v) || ((f->flags & SEGQ__FL_UNIT) && (v < 0 || v > 1)))
        return s_dec_fail (d, SEGQ_EPROTO, "is %g, %s", v,
                           f->flags & SEGQ__FL_UNIT ? "outside 0..1" : "not finite");
    *at = v;
    return SEGQ_OK;
}

/* A sha256 as 64 lowercase hex digits, into the field's own buffer. */
static int
s_dec_hash (s_dec_t *d, char *hash)
{
    const char *s;
    uint32_t len;
    int rc = segq__mp_read_str (&d->r, &s, &len);
    if (rc)
        return s_dec_reader_fail (d, rc, "a sha256 string");
    if (len == SEGQ_HASH_HEX_LEN) {
        memcpy (hash, s, len);
        hash [len] = '\0';
    }
    if (len != SEGQ_HASH_HEX_LEN || !segq_hash_valid (hash)) {
        hash [0] = '\0';
        return s_dec_fail (d, SEGQ_EPROTO, "is not 64 lowercase hex digits");
    }
    return SEGQ_OK;
}

/* Binary data, copied; none stored when it is empty. */
static int
s_dec_bin (s_dec_t *d, uint8_t **at, size_t *count_at)
{
    const uint8_t *data;
    uint32_t len;
    int rc = segq__mp_read_bin (&d->r, &data, &len);
    if (rc)
        return s_dec_reader_fail (d, rc, "binary data");
    if (len) {
        uint8_t *copy = malloc (len);
        if (!copy)
            return s_dec_fail (d, SEGQ_ENOMEM, "could not be stored: out of memory");
        memcpy (copy, data, len);
        *at = copy;
        *count_at = len;
    }
    return SEGQ_OK;
}

/* One element of a STRS, U32S or STRUCTS field, at `item`. */
static int
s_dec_element (s_dec_t *d, const segq__field_t *f, uint8_t *item)
{
    if (f->type == SEGQ__F_STRS)
        return s_dec_string (d, SEGQ_MAX_STRING, S_STR_ID, (char **) item);
    if (f->type == SEGQ__F_STRUCTS)
        return s_dec_struct (d, f->sub, item);
    uint64_t u;
    int rc = s_dec_uint (d, &u);
    if (rc)
        return rc;
    if (u > UINT32_MAX)
        return s_dec_fail (d, SEGQ_EPROTO, "is over 2^32-1");
    *(uint32_t *) item = (uint32_t) u;
    return SEGQ_OK;
}

/* STRS, U32S and STRUCTS: an array, its count checked before anything is
   allocated, then its elements. */
static int
s_dec_list (s_dec_t *d, const segq__field_t *f, uint8_t **at, size_t *count_at)
{
    uint32_t count;
    size_t elem = f->type == SEGQ__F_STRS   ? sizeof (char *)
                  : f->type == SEGQ__F_U32S ? sizeof (uint32_t)
                                            : f->sub->size;
    int rc = s_dec_array (d, f->type == SEGQ__F_STRUCTS ? s_min_bytes (f->sub) : 1, &count);
    if (rc || count == 0)
        return rc;
    uint8_t *items = calloc (count, elem);
    if (!items)
        return s_dec_fail (d, SEGQ_ENOMEM, "could not be stored: out of memory");
    /* Owned by the message from here: a failure below frees it. */
    *at = items;
    *count_at = count;
    for (uint32_t j = 0; j < count; j++) {
        s_set_index (d, (long) j);
        rc = s_dec_element (d, f, items + j * elem);
        if (rc)
            return rc;
    }
    s_set_index (d, -1);
    return SEGQ_OK;
}

static int
s_dec_field (s_dec_t *d, const segq__field_t *f, uint8_t *base)
{
    void *at = base + f->offset;
    size_t *count_at = (size_t *) (base + f->count_offset);
    switch (f->type) {
    case SEGQ__F_U64:
        return s_dec_u64 (d, at);
    case SEGQ__F_U32:
        return s_dec_u32 (d, at);
    case SEGQ__F_I32:
    case SEGQ__F_ENUM:
        return s_dec_ranged (d, f, at);
    case SEGQ__F_F64:
        return s_dec_f64 (d, f, at);
    case SEGQ__F_BOOL: {
        int rc = segq__mp_read_bool (&d->r, at);
        return rc ? s_dec_reader_fail (d, rc, "a boolean") : SEGQ_OK;
    }
    case SEGQ__F_STR:
    case SEGQ__F_NAME: {
        size_t limit;
        s_str_kind_t kind = s_field_str_kind (f, &limit);
        return s_dec_string (d, limit, kind, at);
    }
    case SEGQ__F_HASH:
        return s_dec_hash (d, at);
    case SEGQ__F_BIN:
        return s_dec_bin (d, at, count_at);
    case SEGQ__F_STRS:
    case SEGQ__F_U32S:
    case SEGQ__F_STRUCTS:
        return s_dec_list (d, f, at, count_at);
    case SEGQ__F_PARAMS:
    case SEGQ__F_METRICS:
        return s_dec_params (d, f, at);
    }
    return s_dec_fail (d, SEGQ_EINTERNAL, "has an unknown field type");
}

static int
s_dec_struct (s_dec_t *d, const segq__struct_desc_t *desc, void *object)
{
    uint8_t *base = object;
    uint32_t count;
    int rc = segq__mp_read_map (&d->r, &count);
    if (rc)
        return s_dec_reader_fail (d, rc, "a map");
    uint64_t seen = 0;
    for (uint32_t k = 0; k < count; k++) {
        const char *key;
        uint32_t key_len;
        rc = segq__mp_read_str (&d->r, &key, &key_len);
        if (rc)
            return s_dec_reader_fail (d, rc, "a string key");
        size_t index = desc->n_fields;
        for (size_t i = 0; i < desc->n_fields; i++)
            if (desc->fields [i].key_len == key_len
                && memcmp (desc->fields [i].key, key, key_len) == 0) {
                index = i;
                break;
            }
        /* Unknown keys are skipped, so newer peers may add fields; nil
           reads as absent. */
        if (index == desc->n_fields || segq__mp_next_kind (&d->r) == SEGQ__MP_NIL) {
            rc = segq__mp_skip (&d->r);
            if (rc)
                return s_dec_reader_fail (d, rc, "a value");
            continue;
        }
        const segq__field_t *f = &desc->fields [index];
        s_push (d, f->key, -1);
        if (seen & (1ull << index))
            return s_dec_fail (d, SEGQ_EPROTO, "appears twice");
        seen |= 1ull << index;
        rc = s_dec_field (d, f, base);
        if (rc)
            return rc;
        d->depth--;
    }
    for (size_t i = 0; i < desc->n_fields; i++) {
        const segq__field_t *f = &desc->fields [i];
        if (seen & (1ull << i))
            continue;
        if (f->flags & SEGQ__FL_REQUIRED) {
            s_push (d, f->key, -1);
            return s_dec_fail (d, SEGQ_EPROTO, "is required but missing");
        }
        if (f->type == SEGQ__F_I32)
            *(int32_t *) (base + f->offset) = (int32_t) f->absent;
        else if (f->type == SEGQ__F_ENUM)
            *(int *) (base + f->offset) = (int) f->absent;
    }
    if (desc->check && desc->check (object, d->err, d->errlen) != SEGQ_OK)
        return SEGQ_EPROTO;
    return SEGQ_OK;
}

/* Shared by both decode entry points. `data_frame`, when not NULL, is the
   CHUNK data frame to adopt (set to NULL when taken). */
static int
s_decode (const uint8_t *header, size_t header_size, const uint8_t *body, size_t body_size,
          const uint8_t *data, size_t data_size, bool has_data, zframe_t **data_frame,
          segq_msg_t **out, uint8_t *version_out, char *err, size_t errlen)
{
    *out = NULL;
    if (!header || header_size != SEGQ_HEADER_SIZE) {
        snprintf (err, errlen, "header frame is %zu bytes, expected %d", header_size,
                  SEGQ_HEADER_SIZE);
        return SEGQ_EPROTO;
    }
    if (header [0] != 'S' || header [1] != 'Q') {
        snprintf (err, errlen, "not a segq message: header starts 0x%02x 0x%02x, expected 'SQ'",
                  header [0], header [1]);
        return SEGQ_EPROTO;
    }
    uint8_t version = header [2];
    if (version_out)
        *version_out = version;
    if (version < SEGQ_PROTO_MIN_VERSION || version > SEGQ_PROTO_VERSION) {
        snprintf (err, errlen, "peer speaks protocol version %u; this side speaks %d to %d",
                  version, SEGQ_PROTO_MIN_VERSION, SEGQ_PROTO_VERSION);
        return SEGQ_EVERSION;
    }
    segq_msg_type_t type = (segq_msg_type_t) header [3];
    const segq__struct_desc_t *desc = segq__msg_desc (type);
    if (!desc) {
        snprintf (err, errlen, "unknown message type %u", header [3]);
        return SEGQ_EPROTO;
    }
    if (has_data != (type == SEGQ_MSG_CHUNK)) {
        snprintf (err, errlen, "%s: %s", desc->name,
                  has_data ? "has a data frame it should not have" : "is missing its data frame");
        return SEGQ_EPROTO;
    }
    if (!body) {
        snprintf (err, errlen, "%s: no body frame", desc->name);
        return SEGQ_EPROTO;
    }
    segq_msg_t *self = segq_msg_new (type);
    if (!self) {
        snprintf (err, errlen, "%s: out of memory", desc->name);
        return SEGQ_ENOMEM;
    }
    self->version = version;
    s_dec_t dec = {
        .r = { body, body + body_size }, .msg = desc->name, .err = err, .errlen = errlen
    };
    int rc = s_dec_struct (&dec, desc, &self->u);
    if (rc == SEGQ_OK && dec.r.p != dec.r.end)
        rc =
            s_dec_fail (&dec, SEGQ_EPROTO, "%zu bytes follow the body map", segq__mp_left (&dec.r));
    if (rc == SEGQ_OK && has_data) {
        if (data_frame) {
            self->u.chunk.data = *data_frame;
            *data_frame = NULL;
        } else if (!(self->u.chunk.data = zframe_new (data, data_size)))
            rc = s_dec_fail (&dec, SEGQ_ENOMEM, "out of memory for the data frame");
    }
    if (rc) {
        segq_msg_destroy (&self);
        return rc;
    }
    *out = self;
    return SEGQ_OK;
}

int
segq_msg_decode_bytes (const uint8_t *header, size_t header_size, const uint8_t *body,
                       size_t body_size, const uint8_t *data, size_t data_size, bool has_data,
                       segq_msg_t **out, uint8_t *version_out, char *err, size_t errlen)
{
    return s_decode (header, header_size, body, body_size, data, data_size, has_data, NULL, out,
                     version_out, err, errlen);
}

int
segq_msg_decode (zmsg_t **zmsg_p, segq_msg_t **out, uint8_t *version_out, char *err, size_t errlen)
{
    return segq_msg_decode_request (zmsg_p, out, version_out, NULL, err, errlen);
}

int
segq_msg_decode_request (zmsg_t **zmsg_p, segq_msg_t **out, uint8_t *version_out, uint64_t *req_out,
                         char *err, size_t errlen)
{
    *out = NULL;
    if (req_out)
        *req_out = 0;
    zmsg_t *msg = *zmsg_p;
    *zmsg_p = NULL;
    if (!msg) {
        snprintf (err, errlen, "no message");
        return SEGQ_EPROTO;
    }
    size_t frames = zmsg_size (msg);
    zframe_t *header = zmsg_first (msg);
    zframe_t *body = zmsg_next (msg);
    int rc;
    if (frames < 2 || frames > 3) {
        snprintf (err, errlen, "message has %zu frames, expected 2 (3 for CHUNK)", frames);
        rc = SEGQ_EPROTO;
    } else {
        zframe_t *data = frames == 3 ? zmsg_next (msg) : NULL;
        if (data)
            zmsg_remove (msg, data);
        rc = s_decode (zframe_data (header), zframe_size (header), zframe_data (body),
                       zframe_size (body), NULL, 0, data != NULL, data ? &data : NULL, out,
                       version_out, err, errlen);
        zframe_destroy (&data);
    }
    if (rc && req_out && body)
        *req_out = segq_msg_peek_req (zframe_data (body), zframe_size (body));
    zmsg_destroy (&msg);
    return rc;
}

uint64_t
segq_msg_peek_req (const uint8_t *body, size_t size)
{
    if (!body)
        return 0;
    segq__mp_t r = { body, body + size };
    uint32_t count;
    if (segq__mp_read_map (&r, &count))
        return 0;
    for (uint32_t k = 0; k < count; k++) {
        const char *key;
        uint32_t len;
        if (segq__mp_read_str (&r, &key, &len))
            return 0;
        if (len == 3 && memcmp (key, "req", 3) == 0) {
            uint64_t req;
            return segq__mp_read_uint (&r, &req) ? 0 : req;
        }
        if (segq__mp_skip (&r))
            return 0;
    }
    return 0;
}

/* ================================================================ sockets */

int
segq_msg_send (segq_msg_t **self_p, zsock_t *sock, zframe_t *routing_id)
{
    if (!self_p || !*self_p)
        return SEGQ_EINVAL;
    char err [256];
    zframe_t *frames [3] = { NULL, NULL, NULL };
    size_t n = 0;
    int rc = s_encode_frames (*self_p, frames, &n, err, sizeof err);
    segq_msg_destroy (self_p);
    if (rc)
        return rc;
    /* Frame by frame, without building a zmsg: this is the hot path. */
    if (routing_id && zframe_send (&routing_id, sock, ZFRAME_REUSE | ZFRAME_MORE) != 0)
        rc = SEGQ_EUNAVAIL;
    for (size_t i = 0; i < n; i++) {
        if (rc == SEGQ_OK && zframe_send (&frames [i], sock, i + 1 < n ? ZFRAME_MORE : 0) != 0)
            rc = SEGQ_EUNAVAIL;
        zframe_destroy (&frames [i]);
    }
    return rc;
}

int
segq_msg_recv (zsock_t *sock, zframe_t **routing_id_out, segq_msg_t **out, uint8_t *version_out,
               char *err, size_t errlen)
{
    *out = NULL;
    if (routing_id_out)
        *routing_id_out = NULL;
    zmsg_t *msg = zmsg_recv (sock);
    if (!msg) {
        int error = zmq_errno ();
        snprintf (err, errlen, "receive failed: %s", zmq_strerror (error));
        return error == EAGAIN ? SEGQ_ETIMEOUT : SEGQ_EUNAVAIL;
    }
    if (routing_id_out)
        *routing_id_out = zmsg_pop (msg);
    return segq_msg_decode (&msg, out, version_out, err, errlen);
}
