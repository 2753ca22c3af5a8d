/*  segq_mp_reader.h: a bounds-checked msgpack reader (internal to segq_proto).

    msgpack-c's unpacker allocates an array or map of the size declared on
    the wire before it looks at the bytes; a 5-byte message could ask for
    gigabytes. This reader checks every declared length against the bytes
    that remain (each element takes at least one byte) before anyone
    allocates, and never reads past the end. */
#ifndef SEGQ_MP_READER_H
#define SEGQ_MP_READER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef struct {
    const uint8_t *p;
    const uint8_t *end;
} segq__mp_t;

/* Reader results: 0 or one of these (never a segq_error_t). */
enum {
    SEGQ__MP_OK = 0,
    SEGQ__MP_TRUNCATED = 1, /* ends early, or declares more than remains */
    SEGQ__MP_TYPE = 2,      /* another msgpack type than asked for */
    SEGQ__MP_RANGE = 3      /* an integer that does not fit */
};

static inline size_t
segq__mp_left (const segq__mp_t *r)
{
    return (size_t) (r->end - r->p);
}

/* What kind of object comes next (SEGQ__MP_END at the end of the data). */
typedef enum {
    SEGQ__MP_END,
    SEGQ__MP_NIL,
    SEGQ__MP_BOOL,
    SEGQ__MP_INT,
    SEGQ__MP_FLOAT,
    SEGQ__MP_STR,
    SEGQ__MP_BIN,
    SEGQ__MP_ARRAY,
    SEGQ__MP_MAP,
    SEGQ__MP_EXT,
    SEGQ__MP_INVALID
} segq__mp_kind_t;

segq__mp_kind_t segq__mp_next_kind (const segq__mp_t *r);

/* What the next object is, in words ("a string", "an array", ...), for messages. */
const char *segq__mp_next_type_name (const segq__mp_t *r);

int segq__mp_read_uint (segq__mp_t *r, uint64_t *out); /* any non-negative integer */
int segq__mp_read_int (segq__mp_t *r, int64_t *out);   /* any integer in int64 */
int segq__mp_read_double (segq__mp_t *r, double *out); /* float32/64 or integer */
int segq__mp_read_bool (segq__mp_t *r, bool *out);
int segq__mp_read_str (segq__mp_t *r, const char **out, uint32_t *len);
int segq__mp_read_bin (segq__mp_t *r, const uint8_t **out, uint32_t *len);
/* Element counts are checked: count <= bytes left (array), 2*count (map). */
int segq__mp_read_array (segq__mp_t *r, uint32_t *count);
int segq__mp_read_map (segq__mp_t *r, uint32_t *count);
/* Skips one whole object (any nesting, without recursion). */
int segq__mp_skip (segq__mp_t *r);

#endif
