/*  test_spec.c: proto/SPEC.md's field tables say what the codec does.

    Every message body and nested struct has a table in SPEC.md after a
    marker line `<!-- fields: NAME -->`; its rows (key, type, required,
    absent value) must be exactly those of the codec's field tables, in
    order, so the document cannot drift from the code. */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "segq_msg_fields.h"

static char *
s_read_spec (void)
{
    FILE *file = fopen (SEGQ_SOURCE_DIR "/proto/SPEC.md", "rb");
    cr_assert_not_null (file, "proto/SPEC.md is missing");
    static char text [1 << 20];
    size_t n = fread (text, 1, sizeof text - 1, file);
    fclose (file);
    text [n] = '\0';
    return text;
}

static void
s_type_name (const segq__field_t *f, char *buf, size_t len)
{
    switch (f->type) {
    case SEGQ__F_U64:
        snprintf (buf, len, "uint64");
        return;
    case SEGQ__F_U32:
        snprintf (buf, len, "uint32");
        return;
    case SEGQ__F_I32:
        if (f->lo == INT32_MIN && f->hi == INT32_MAX) {
            snprintf (buf, len, "int32");
            return;
        }
        /* fall through */
    case SEGQ__F_ENUM:
        snprintf (buf, len, "int %lld..%lld", (long long) f->lo, (long long) f->hi);
        return;
    case SEGQ__F_F64:
        snprintf (buf, len, f->flags & SEGQ__FL_UNIT ? "number 0..1" : "number");
        return;
    case SEGQ__F_BOOL:
        snprintf (buf, len, "bool");
        return;
    case SEGQ__F_STR:
        snprintf (buf, len, f->flags & SEGQ__FL_SHORT ? "id" : "text");
        return;
    case SEGQ__F_NAME:
        snprintf (buf, len, "name");
        return;
    case SEGQ__F_HASH:
        snprintf (buf, len, "hash");
        return;
    case SEGQ__F_BIN:
        snprintf (buf, len, "bin");
        return;
    case SEGQ__F_STRS:
        snprintf (buf, len, "array of text");
        return;
    case SEGQ__F_U32S:
        snprintf (buf, len, "array of uint32");
        return;
    case SEGQ__F_STRUCTS:
        snprintf (buf, len, "array of %s", f->sub->name);
        return;
    case SEGQ__F_PARAMS:
        snprintf (buf, len, "params");
        return;
    case SEGQ__F_METRICS:
        snprintf (buf, len, "metrics");
        return;
    }
    snprintf (buf, len, "?");
}

static void
s_absent (const segq__field_t *f, char *buf, size_t len)
{
    if (f->flags & SEGQ__FL_REQUIRED)
        buf [0] = '\0';
    else if (f->type == SEGQ__F_I32 || f->type == SEGQ__F_ENUM)
        snprintf (buf, len, "%lld", (long long) f->absent);
    else if (f->type == SEGQ__F_BOOL)
        snprintf (buf, len, "false");
    else if (f->type <= SEGQ__F_F64)
        snprintf (buf, len, "0");
    else if (f->type == SEGQ__F_STR || f->type == SEGQ__F_NAME || f->type == SEGQ__F_HASH)
        snprintf (buf, len, "none");
    else
        snprintf (buf, len, "empty");
}

/* Checks one struct's table, then those of the structs it contains. */
static void
s_check (const char *spec, const segq__struct_desc_t *desc, int depth)
{
    cr_assert_lt (depth, 5);
    cr_assert_leq (desc->n_fields, 64, "%s: the decoder tracks keys in a 64-bit mask", desc->name);
    char marker [128];
    snprintf (marker, sizeof marker, "<!-- fields: %s -->\n", desc->name);
    const char *at = strstr (spec, marker);
    cr_assert_not_null (at, "SPEC.md has no table for %s", desc->name);
    at += strlen (marker);
    if (desc->n_fields == 0) {
        cr_assert (strncmp (at, "| `", 3) != 0, "%s has no fields", desc->name);
        return;
    }
    /* the header and separator rows */
    for (int skip = 0; skip < 2; skip++) {
        at = strchr (at, '\n');
        cr_assert_not_null (at);
        at++;
    }
    for (size_t i = 0; i < desc->n_fields; i++) {
        const segq__field_t *f = &desc->fields [i];
        char type [64], absent [32], expected [256];
        s_type_name (f, type, sizeof type);
        s_absent (f, absent, sizeof absent);
        snprintf (expected, sizeof expected, "| `%s` | %s | %s | %s |", f->key, type,
                  f->flags & SEGQ__FL_REQUIRED ? "yes" : "no", absent);
        const char *end = strchr (at, '\n');
        cr_assert_not_null (end);
        cr_assert (strncmp (at, expected, strlen (expected)) == 0,
                   "SPEC.md, %s row %zu: expected '%s', found '%.*s'", desc->name, i + 1, expected,
                   (int) (end - at), at);
        at = end + 1;
        if (f->type == SEGQ__F_STRUCTS)
            s_check (spec, f->sub, depth + 1);
    }
    cr_assert (strncmp (at, "| `", 3) != 0, "SPEC.md's %s table has rows the codec lacks",
               desc->name);
}

Test (spec, field_tables_match_the_codec, .timeout = 10)
{
    const char *spec = s_read_spec ();
    int bodies = 0;
    for (int type = 0; type < 256; type++) {
        const segq__struct_desc_t *desc = segq__msg_desc ((segq_msg_type_t) type);
        if (!desc)
            continue;
        bodies++;
        s_check (spec, desc, 0);
        char row [64];
        snprintf (row, sizeof row, "| %d | %s |", type, desc->name);
        cr_assert (strstr (spec, row), "SPEC.md's type table lacks '%s'", row);
    }
    /* and the type table lists no type the codec lacks (rows "| N | NAME |") */
    int rows = 0;
    for (const char *line = spec; line; line = strchr (line, '\n'), line = line ? line + 1 : NULL) {
        int number, end = 0;
        char name [64];
        if (sscanf (line, "| %d | %63[A-Z_] |%n", &number, name, &end) == 2 && end > 0
            && number > 0)
            rows++;
    }
    cr_assert_eq (bodies, rows, "the codec has %d message types, SPEC.md's table %d", bodies, rows);
}

Test (spec, error_codes_match, .timeout = 10)
{
    const char *spec = s_read_spec ();
    for (int code = -1; code >= SEGQ_ELAST; code--) {
        char row [64];
        snprintf (row, sizeof row, "| %d | %s |", code, segq_error_name (code));
        cr_assert (strstr (spec, row), "SPEC.md's error table lacks '%s'", row);
    }
    for (int state = SEGQ_JOB_WAITING; state <= SEGQ_JOB_CANCELLED; state++) {
        char row [64];
        snprintf (row, sizeof row, "| %d | %s |", state, segq_job_state_name (state));
        cr_assert (strstr (spec, row), "SPEC.md's state table lacks '%s'", row);
    }
}

/* The worked examples in SPEC.md section 3 are what the codec writes. */
static void
s_example_in_spec (const char *spec_collapsed, segq_msg_t *msg)
{
    zmsg_t *zmsg;
    cr_assert_eq (segq_msg_encode (msg, &zmsg), SEGQ_OK);
    for (zframe_t *frame = zmsg_first (zmsg); frame; frame = zmsg_next (zmsg)) {
        char hex [600] = "";
        size_t used = 0;
        for (size_t i = 0; i < zframe_size (frame) && used + 4 < sizeof hex; i++)
            used += (size_t) snprintf (hex + used, sizeof hex - used, "%s%02x", i ? " " : "",
                                       zframe_data (frame) [i]);
        cr_assert (strstr (spec_collapsed, hex), "SPEC.md lacks the %s frame '%s'",
                   segq_msg_type_name (msg->type), hex);
    }
    zmsg_destroy (&zmsg);
    segq_msg_destroy (&msg);
}

Test (spec, worked_examples_match_the_codec, .timeout = 10)
{
    /* whitespace runs (line breaks inside a hex dump) read as one space */
    const char *spec = s_read_spec ();
    char *collapsed = malloc (strlen (spec) + 1);
    size_t n = 0;
    for (const char *p = spec; *p; p++)
        if (!(*p == ' ' || *p == '\n') || (n && collapsed [n - 1] != ' '))
            collapsed [n++] = *p == '\n' ? ' ' : *p;
    collapsed [n] = '\0';

    segq_msg_t *msg = segq_msg_new (SEGQ_MSG_SUBMIT);
    msg->u.submit.req_id = 1;
    msg->u.submit.user = strdup ("alice");
    msg->u.submit.kind = strdup ("sleep");
    segq_value_t half = { .type = SEGQ_PARAM_FLOAT, .f = 0.5 };
    cr_assert_eq (segq_params_set (&msg->u.submit.params, "seconds", &half), SEGQ_OK);
    s_example_in_spec (collapsed, msg);

    msg = segq_msg_new (SEGQ_MSG_SUBMITTED);
    msg->u.submitted.req_id = 1;
    msg->u.submitted.job = strdup ("1");
    s_example_in_spec (collapsed, msg);

    s_example_in_spec (collapsed, segq_msg_new (SEGQ_MSG_HEARTBEAT));

    msg = segq_msg_new (SEGQ_MSG_CHUNK);
    msg->u.chunk.transfer = 7;
    msg->u.chunk.last = true;
    msg->u.chunk.data = zframe_new ("abc", 3);
    s_example_in_spec (collapsed, msg);
    free (collapsed);
}
