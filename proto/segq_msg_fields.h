/*  segq_msg_fields.h: the field tables that drive the codec (internal).

    Every message body, and every struct nested in one, is described once
    here as a list of fields: msgpack key, C type, offset, required or not,
    limits. Encoding, decoding, validation, freeing and copying all walk
    the same table, so they cannot disagree. SPEC.md's key tables are
    written from these. */
#ifndef SEGQ_MSG_FIELDS_H
#define SEGQ_MSG_FIELDS_H

#include <stddef.h>
#include <stdint.h>
#include "segq_proto.h"

typedef enum {
    SEGQ__F_U64 = 1, /* uint64_t */
    SEGQ__F_U32,     /* uint32_t */
    SEGQ__F_I32,     /* int32_t, range [lo, hi] */
    SEGQ__F_ENUM,    /* an enum stored as int, range [lo, hi] */
    SEGQ__F_F64,     /* double, finite; FL_UNIT: 0..1 */
    SEGQ__F_BOOL,    /* bool */
    SEGQ__F_STR,     /* char *, <= SEGQ_MAX_STRING bytes (FL_SHORT: SEGQ_MAX_NAME) */
    SEGQ__F_NAME,    /* char *, a relative artifact path (segq_name_valid) */
    SEGQ__F_HASH,    /* char[65], 64 lowercase hex digits ("" when absent) */
    SEGQ__F_BIN,     /* uint8_t * + size_t at count_offset */
    SEGQ__F_STRS,    /* char ** + size_t count */
    SEGQ__F_U32S,    /* uint32_t * + size_t count */
    SEGQ__F_STRUCTS, /* array of `sub` structs + size_t count */
    SEGQ__F_PARAMS,  /* segq_params_t: name -> int | float | bool | string */
    SEGQ__F_METRICS  /* segq_params_t: name -> number (stored FLOAT) */
} segq__field_type_t;

enum {
    SEGQ__FL_REQUIRED = 1,
    SEGQ__FL_SHORT = 2, /* string limit SEGQ_MAX_NAME instead of SEGQ_MAX_STRING */
    SEGQ__FL_UNIT = 4   /* F64 in 0..1 */
};

typedef struct segq__struct_desc segq__struct_desc_t;

typedef struct {
    const char *key;
    uint8_t key_len;
    uint8_t type;
    uint8_t flags;
    uint16_t offset;
    uint16_t count_offset;
    int64_t lo, hi; /* I32 / ENUM range */
    int64_t absent; /* I32 / ENUM value when the key is absent */
    const segq__struct_desc_t *sub;
} segq__field_t;

struct segq__struct_desc {
    const char *name; /* "SUBMIT", "input", ... for error messages */
    size_t size;
    const segq__field_t *fields;
    size_t n_fields;
    /* Rules across fields (input: hash or job); NULL if none. Returns
       SEGQ_OK or SEGQ_EPROTO with err filled. */
    int (*check) (const void *object, char *err, size_t errlen);
};

/* Body of each message type, or NULL for an unknown type. */
const segq__struct_desc_t *segq__msg_desc (segq_msg_type_t type);

void segq__struct_clear (const segq__struct_desc_t *desc, void *object);
int segq__struct_copy (const segq__struct_desc_t *desc, void *dst, const void *src);

extern const segq__struct_desc_t segq__artifact_desc;
extern const segq__struct_desc_t segq__input_desc;
extern const segq__struct_desc_t segq__job_info_desc;
extern const segq__struct_desc_t segq__worker_info_desc;

#endif
