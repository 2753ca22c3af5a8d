/*  test_protocol.c: what proto/SPEC.md promises a client written from it
    alone, against a real segqd: the ERROR about a malformed request echoes
    its req, KINDS returns the compiled-in kind table (libsegq and `segq
    kinds`), and STATUS refuses more than a page rather than cut it. */
#include <criterion/criterion.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "harness.h"

static harness_t *h;

static void
setup (void)
{
    h = harness_new ("protocol");
    cr_assert_not_null (h);
    cr_assert_eq (harness_start_broker (h, NULL), 0, "segqd did not start");
}

static void
teardown (void)
{
    harness_destroy (&h);
}

/* ---- ERROR echoes the req of what does not decode ---- */

/* Sends header + body frames on a fresh socket and returns the reply. */
static segq_msg_t *
s_raw_request (uint8_t version, segq_msg_type_t type, const char *body, size_t size)
{
    zsock_t *sock = zsock_new_dealer (h->endpoint);
    cr_assert_not_null (sock);
    zsock_set_rcvtimeo (sock, 5000);
    uint8_t header [4] = { 'S', 'Q', version, (uint8_t) type };
    cr_assert_eq (zsock_send (sock, "bb", header, sizeof header, body, size), 0);
    segq_msg_t *reply = NULL;
    char err [256] = "";
    int rc = segq_msg_recv (sock, NULL, &reply, NULL, err, sizeof err);
    zsock_destroy (&sock);
    H_ASSERT (h, rc == 0 && reply && reply->type == SEGQ_MSG_ERROR, "no ERROR came back: %s", err);
    return reply;
}

Test (protocol, an_error_about_a_malformed_request_echoes_its_req, .init = setup, .fini = teardown,
      .timeout = 60)
{
    /* {"req": 77, "user": "alice"}: a SUBMIT without its kind */
    static const char submit [] = "\x82\xa3req\x4d\xa4user\xa5"
                                  "alice";
    segq_msg_t *reply =
        s_raw_request (SEGQ_PROTO_VERSION, SEGQ_MSG_SUBMIT, submit, sizeof submit - 1);
    cr_assert_eq (reply->u.error.code, SEGQ_EPROTO);
    cr_assert_eq (reply->u.error.req_id, 77, "ERROR '%s' should echo req 77",
                  reply->u.error.message);
    cr_assert (strstr (reply->u.error.message, "'kind' is required"), "%s", reply->u.error.message);
    segq_msg_destroy (&reply);
    /* a version the broker does not speak: its req is read all the same */
    static const char status [] = "\x81\xa3req\x4e";
    reply = s_raw_request (99, SEGQ_MSG_STATUS, status, sizeof status - 1);
    cr_assert_eq (reply->u.error.code, SEGQ_EVERSION);
    cr_assert_eq (reply->u.error.req_id, 78);
    segq_msg_destroy (&reply);
    /* no readable req: 0 */
    reply = s_raw_request (SEGQ_PROTO_VERSION, SEGQ_MSG_STATUS, "\x91\x4d", 2);
    cr_assert_eq (reply->u.error.code, SEGQ_EPROTO);
    cr_assert_eq (reply->u.error.req_id, 0);
    segq_msg_destroy (&reply);
    H_ASSERT_CLEAN_STOP (h);
}

/* ---- KINDS ---- */

/* The parameter's default as the table's text says, typed. */
static void
s_default (const segq_param_spec_t *spec, segq_value_t *value)
{
    char err [256];
    cr_assert_eq (segq_param_parse (spec, spec->default_value, value, err, sizeof err), 0, "%s",
                  err);
}

static void
s_assert_same_value (const segq_value_t *got, const segq_value_t *want, const char *name)
{
    cr_assert_not_null (got, "%s: no default", name);
    cr_assert_eq (got->type == SEGQ_PARAM_CHOICE ? SEGQ_PARAM_STRING : got->type,
                  want->type == SEGQ_PARAM_CHOICE ? SEGQ_PARAM_STRING : want->type, "%s", name);
    cr_assert_eq (got->i, want->i, "%s", name);
    cr_assert_eq (got->f, want->f, "%s", name);
    cr_assert_eq (got->b, want->b, "%s", name);
    cr_assert_str_eq (got->s ? got->s : "", want->s ? want->s : "", "%s", name);
}

static void
s_assert_param (const segq_kind_info_t *kind, const segq_kind_param_t *p,
                const segq_param_spec_t *spec)
{
    cr_assert_str_eq (p->name, spec->name);
    cr_assert_eq (p->type, spec->type, "%s", spec->name);
    bool ranged = spec->type == SEGQ_PARAM_INT || spec->type == SEGQ_PARAM_FLOAT;
    cr_assert_eq (p->min, ranged ? spec->min : 0, "%s", spec->name);
    cr_assert_eq (p->max, ranged ? spec->max : 0, "%s", spec->name);
    char choices [512] = "";
    for (size_t c = 0, used = 0; c < p->n_choices; c++)
        used += (size_t) snprintf (choices + used, sizeof choices - used, "%s%s", c ? "|" : "",
                                   p->choices [c]);
    cr_assert_str_eq (choices, spec->type == SEGQ_PARAM_CHOICE ? spec->choices : "", "%s",
                      spec->name);
    cr_assert_str_eq (p->help, spec->help);
    const segq_value_t *got = segq_params_get (&kind->defaults, spec->name);
    if (!spec->default_value) {
        cr_assert_null (got, "%s is required: it has no default", spec->name);
        return;
    }
    segq_value_t want;
    s_default (spec, &want);
    s_assert_same_value (got, &want, spec->name);
    segq_value_clear (&want);
}

Test (protocol, kinds_returns_the_compiled_in_table, .init = setup, .fini = teardown, .timeout = 60)
{
    segq_client_t *c = harness_client (h, 0);
    segq_kind_info_t *kinds;
    size_t n;
    H_ASSERT (h, segq_client_kinds (c, &kinds, &n) == 0, "%s", segq_client_error (c));
    size_t want_n;
    const segq_kind_spec_t *want = segq_kinds (&want_n);
    cr_assert_eq (n, want_n);
    for (size_t k = 0; k < n; k++) {
        const segq_kind_info_t *kind = &kinds [k];
        const segq_kind_spec_t *spec = &want [k];
        cr_assert_str_eq (kind->name, spec->name);
        cr_assert_str_eq (kind->help, spec->help);
        cr_assert_str_eq (kind->principal, spec->principal_output);
        cr_assert_eq (kind->test, spec->test_kind, "%s", spec->name);
        cr_assert_eq (kind->n_params, spec->n_params, "%s", spec->name);
        size_t defaults = 0;
        for (size_t i = 0; i < spec->n_params; i++) {
            s_assert_param (kind, &kind->params [i], &spec->params [i]);
            defaults += spec->params [i].default_value != NULL;
        }
        cr_assert_eq (kind->defaults.count, defaults, "%s: a default for no parameter", spec->name);
        cr_assert_eq (kind->n_inputs, spec->n_inputs, "%s", spec->name);
        for (size_t i = 0; i < spec->n_inputs; i++) {
            const segq_kind_input_t *in = &kind->inputs [i];
            cr_assert_str_eq (in->name, spec->inputs [i].name);
            cr_assert_eq (in->required, spec->inputs [i].required, "%s", in->name);
            cr_assert_eq (in->many, spec->inputs [i].many, "%s", in->name);
            cr_assert_eq (in->sets, spec->inputs [i].sets, "%s", in->name);
            cr_assert_str_eq (in->help, spec->inputs [i].help);
        }
    }
    segq_kinds_free (&kinds, n);
    cr_assert_null (kinds);
    segq_client_destroy (&c);
    H_ASSERT_CLEAN_STOP (h);
}

/* The JSON value `segq kinds --json` gives a default, against the table's. */
static void
s_assert_json_default (json_t *got, const segq_param_spec_t *spec)
{
    segq_value_t want;
    s_default (spec, &want);
    switch (want.type) {
    case SEGQ_PARAM_INT:
        cr_assert_eq (json_integer_value (got), want.i, "%s", spec->name);
        break;
    case SEGQ_PARAM_FLOAT:
        cr_assert_eq (json_number_value (got), want.f, "%s", spec->name);
        break;
    case SEGQ_PARAM_BOOL:
        cr_assert_eq (json_is_true (got), want.b, "%s", spec->name);
        break;
    default:
        cr_assert_str_eq (json_string_value (got), want.s, "%s", spec->name);
    }
    segq_value_clear (&want);
}

Test (protocol, segq_kinds_shows_the_table, .init = setup, .fini = teardown, .timeout = 60)
{
    static char out [1 << 18], err [4096];
    const char *argv [] = { "kinds", "--json", NULL };
    H_ASSERT (h, harness_cli (h, out, sizeof out, err, sizeof err, argv) == 0, "%s", err);
    json_error_t jerr;
    json_t *doc = json_loads (out, 0, &jerr);
    cr_assert_not_null (doc, "segq kinds --json: %s", jerr.text);
    size_t n;
    const segq_kind_spec_t *want = segq_kinds (&n);
    cr_assert_eq (json_array_size (doc), n);
    static const char *types [] = { "", "int", "float", "bool", "string", "choice" };
    for (size_t k = 0; k < n; k++) {
        json_t *kind = json_array_get (doc, k);
        cr_assert_str_eq (json_string_value (json_object_get (kind, "name")), want [k].name);
        cr_assert_str_eq (json_string_value (json_object_get (kind, "principal_output")),
                          want [k].principal_output);
        json_t *params = json_object_get (kind, "params");
        cr_assert_eq (json_array_size (params), want [k].n_params);
        for (size_t i = 0; i < want [k].n_params; i++) {
            const segq_param_spec_t *spec = &want [k].params [i];
            json_t *p = json_array_get (params, i);
            cr_assert_str_eq (json_string_value (json_object_get (p, "name")), spec->name);
            cr_assert_str_eq (json_string_value (json_object_get (p, "type")), types [spec->type]);
            cr_assert_eq (json_is_true (json_object_get (p, "required")), !spec->default_value);
            if (spec->default_value)
                s_assert_json_default (json_object_get (p, "default"), spec);
            if (spec->type == SEGQ_PARAM_INT)
                cr_assert_eq (json_integer_value (json_object_get (p, "max")),
                              (json_int_t) spec->max);
        }
        cr_assert_eq (json_array_size (json_object_get (kind, "inputs")), want [k].n_inputs);
    }
    json_decref (doc);
    /* for people: one kind's inputs, parameters and principal output */
    const char *train [] = { "kinds", "train", NULL };
    H_ASSERT (h, harness_cli (h, out, sizeof out, err, sizeof err, train) == 0, "%s", err);
    cr_assert (strstr (out, "image              one file, required"), "%s", out);
    cr_assert (strstr (out, "niter              int 1..1000000000, default 2000"), "%s", out);
    cr_assert (strstr (out, "precision          fp32|bf16, default fp32"), "%s", out);
    cr_assert (strstr (out, "principal output (what a bare JOB names): model.safetensors"), "%s",
               out);
    /* a kind misspelt: named, with the likely one */
    const char *wrong [] = { "kinds", "trian", NULL };
    cr_assert_eq (harness_cli (h, out, sizeof out, err, sizeof err, wrong), 1);
    cr_assert (strstr (err, "did you mean 'train'"), "%s", err);
    H_ASSERT_CLEAN_STOP (h);
}

/* ---- STATUS: more than a page is refused, not cut ---- */

Test (protocol, status_refuses_more_than_a_page, .init = setup, .fini = teardown, .timeout = 60)
{
    segq_client_t *c = harness_client (h, 0);
    segq_job_list_t list;
    segq_status_query_t query = { .limit = SEGQ_STATUS_MAX };
    H_ASSERT (h, segq_client_status (c, &query, NULL, &list) == 0, "%s", segq_client_error (c));
    segq_job_list_clear (&list);
    query.limit = SEGQ_STATUS_MAX + 1;
    cr_assert_eq (segq_client_status (c, &query, NULL, &list), SEGQ_ETOOBIG);
    cr_assert (strstr (segq_client_error (c), "at most 500"), "%s", segq_client_error (c));
    const char *jobs [SEGQ_STATUS_MAX + 1];
    for (size_t i = 0; i <= SEGQ_STATUS_MAX; i++)
        jobs [i] = "0001";
    query = (segq_status_query_t){ .jobs = jobs, .n_jobs = SEGQ_STATUS_MAX + 1 };
    cr_assert_eq (segq_client_status (c, &query, NULL, &list), SEGQ_ETOOBIG);
    segq_client_destroy (&c);
    /* the CLI asks for at most a page at a time, whatever --limit says */
    char out [4096], err [4096];
    const char *argv [] = { "status", "--limit", "700", NULL };
    H_ASSERT (h, harness_cli (h, out, sizeof out, err, sizeof err, argv) == 0, "%s", err);
    H_ASSERT_CLEAN_STOP (h);
}
