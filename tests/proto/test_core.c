/*  test_core.c: segq_core: the kind table and parameter validation,
    sha256, the file sink of transfers, sizes, error names. */
#include <criterion/criterion.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <signal.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

#include "no_leaks.h"
#include "segq_file_sink.h"
#include "segq_schema.h"
#include "segq_sha256.h"

/* ---- kinds and parameters ---- */

Test (schema, test_kinds_are_in_the_table, .timeout = 10)
{
    size_t count = 0;
    const segq_kind_spec_t *kinds = segq_kinds (&count);
    cr_assert_geq (count, 4);
    cr_assert_eq (segq_kind_find ("noop"), segq_kind_find ("noop"));
    const segq_kind_spec_t *noop = segq_kind_find ("noop");
    cr_assert (noop->in_process);
    cr_assert (noop->test_kind);
    cr_assert_eq (noop->n_params, 0);
    const segq_kind_spec_t *sleep = segq_kind_find ("sleep");
    cr_assert_not (sleep->in_process);
    const segq_param_spec_t *seconds = segq_kind_param (sleep, "seconds");
    cr_assert_eq (seconds->type, SEGQ_PARAM_FLOAT);
    cr_assert_eq (seconds->max, 86400);
    const segq_kind_spec_t *echo = segq_kind_find ("echo");
    cr_assert_eq (echo->n_inputs, 1);
    cr_assert_str_eq (echo->inputs [0].name, "files");
    cr_assert (echo->inputs [0].many);
    const segq_kind_spec_t *fail = segq_kind_find ("fail");
    cr_assert_str_eq (segq_kind_param (fail, "mode")->choices, "exit|signal|crash");
    cr_assert_null (segq_kind_find ("nope"));
    cr_assert_null (segq_kind_find (NULL));
    cr_assert_null (segq_kind_param (fail, "nope"));
    /* Every row's defaults must parse against the row's own rules. */
    for (size_t k = 0; k < count; k++) {
        cr_assert_not_null (kinds [k].principal_output, "%s", kinds [k].name);
        for (size_t p = 0; p < kinds [k].n_params; p++) {
            const segq_param_spec_t *spec = &kinds [k].params [p];
            if (!spec->default_value)
                continue;
            segq_value_t v;
            char err [256];
            cr_assert_eq (segq_param_parse (spec, spec->default_value, &v, err, sizeof err),
                          SEGQ_OK, "%s.%s: %s", kinds [k].name, spec->name, err);
            segq_value_clear (&v);
        }
    }
    fixture_assert_no_leaks ();
}

static void
s_parse_fails (const char *kind, const char *param, const char *text, const char *needle)
{
    const segq_param_spec_t *spec = segq_kind_param (segq_kind_find (kind), param);
    cr_assert_not_null (spec);
    segq_value_t v = { 0 };
    char err [256] = "";
    cr_assert_eq (segq_param_parse (spec, text, &v, err, sizeof err), SEGQ_EINVAL, "'%s'", text);
    cr_assert (strstr (err, needle), "'%s' should mention '%s'", err, needle);
    cr_assert_null (v.s);
}

Test (schema, param_parse, .timeout = 10)
{
    const segq_kind_spec_t *fail = segq_kind_find ("fail");
    segq_value_t v;
    char err [256];
    cr_assert_eq (segq_param_parse (segq_kind_param (fail, "code"), "255", &v, err, sizeof err),
                  SEGQ_OK);
    cr_assert_eq (v.type, SEGQ_PARAM_INT);
    cr_assert_eq (v.i, 255);
    cr_assert_eq (segq_param_parse (segq_kind_param (fail, "mode"), "signal", &v, err, sizeof err),
                  SEGQ_OK);
    cr_assert_eq (v.type, SEGQ_PARAM_CHOICE);
    cr_assert_str_eq (v.s, "signal");
    segq_value_clear (&v);
    cr_assert_null (v.s);
    cr_assert_eq (segq_param_parse (segq_kind_param (segq_kind_find ("sleep"), "seconds"), "0.25",
                                    &v, err, sizeof err),
                  SEGQ_OK);
    cr_assert_eq (v.f, 0.25);

    s_parse_fails ("fail", "code", "abc", "code: 'abc' is not an integer (expected 0..255)");
    s_parse_fails ("fail", "code", "12x", "not an integer");
    s_parse_fails ("fail", "code", "", "not an integer");
    s_parse_fails ("fail", "code", "256", "code: 256 is out of range (expected 0..255)");
    s_parse_fails ("fail", "code", "-1", "out of range");
    s_parse_fails ("fail", "code", "99999999999999999999", "not an integer");
    s_parse_fails ("fail", "mode", "explode", "mode: 'explode' is not one of exit|signal|crash");
    s_parse_fails ("fail", "mode", "exi", "not one of");
    s_parse_fails ("sleep", "seconds", "1e9", "out of range");
    s_parse_fails ("sleep", "seconds", "nan", "is not a number");
    s_parse_fails ("sleep", "seconds", "-0.5", "out of range");

    segq_param_spec_t flag = { "flip", SEGQ_PARAM_BOOL, "false", 0, 0, NULL, "" };
    const char *yes [] = { "true", "yes", "on", "1" }, *no [] = { "false", "no", "off", "0" };
    for (int i = 0; i < 4; i++) {
        cr_assert_eq (segq_param_parse (&flag, yes [i], &v, err, sizeof err), SEGQ_OK);
        cr_assert (v.b);
        cr_assert_eq (segq_param_parse (&flag, no [i], &v, err, sizeof err), SEGQ_OK);
        cr_assert_not (v.b);
    }
    cr_assert_eq (segq_param_parse (&flag, "maybe", &v, err, sizeof err), SEGQ_EINVAL);
    cr_assert (strstr (err, "flip: 'maybe' is not true or false"), "%s", err);
    fixture_assert_no_leaks ();
}

static void
s_set (segq_params_t *p, const char *name, segq_value_t v)
{
    cr_assert_eq (segq_params_set (p, name, &v), SEGQ_OK);
}

Test (schema, validate_fills_defaults_in_table_order, .timeout = 10)
{
    segq_params_t p = { 0 };
    char err [256];
    s_set (&p, "signal", (segq_value_t){ .type = SEGQ_PARAM_INT, .i = 15 });
    s_set (&p, "mode", (segq_value_t){ .type = SEGQ_PARAM_STRING, .s = "signal" });
    cr_assert_eq (segq_params_validate (segq_kind_find ("fail"), &p, err, sizeof err), SEGQ_OK,
                  "%s", err);
    cr_assert_eq (p.count, 3);
    cr_assert_str_eq (p.items [0].name, "mode");
    cr_assert_eq (p.items [0].value.type, SEGQ_PARAM_CHOICE,
                  "a string becomes the CHOICE it names");
    cr_assert_str_eq (p.items [0].value.s, "signal");
    cr_assert_str_eq (p.items [1].name, "code");
    cr_assert_eq (p.items [1].value.i, 1, "default");
    cr_assert_eq (p.items [2].value.i, 15);
    segq_params_clear (&p);

    /* an integer for a FLOAT parameter is that number */
    s_set (&p, "seconds", (segq_value_t){ .type = SEGQ_PARAM_INT, .i = 3 });
    cr_assert_eq (segq_params_validate (segq_kind_find ("sleep"), &p, err, sizeof err), SEGQ_OK);
    cr_assert_eq (p.items [0].value.type, SEGQ_PARAM_FLOAT);
    cr_assert_eq (p.items [0].value.f, 3.0);
    segq_params_clear (&p);

    /* an integral float for an INT parameter is accepted, a fraction is not */
    s_set (&p, "code", (segq_value_t){ .type = SEGQ_PARAM_FLOAT, .f = 4.0 });
    cr_assert_eq (segq_params_validate (segq_kind_find ("fail"), &p, err, sizeof err), SEGQ_OK);
    cr_assert_eq (segq_params_get (&p, "code")->type, SEGQ_PARAM_INT);
    cr_assert_eq (segq_params_get (&p, "code")->i, 4);
    segq_params_clear (&p);

    /* nothing given: every default */
    cr_assert_eq (segq_params_validate (segq_kind_find ("sleep"), &p, err, sizeof err), SEGQ_OK);
    cr_assert_eq (p.count, 2);
    cr_assert_eq (segq_params_get (&p, "seconds")->f, 1.0);
    cr_assert_eq (segq_params_get (&p, "busy")->b, false);
    segq_params_clear (&p);
    fixture_assert_no_leaks ();
}

static void
s_validate_fails (const char *kind, const char *name, segq_value_t v, const char *needle)
{
    segq_params_t p = { 0 };
    s_set (&p, name, v);
    char err [256] = "";
    cr_assert_eq (segq_params_validate (segq_kind_find (kind), &p, err, sizeof err), SEGQ_EINVAL);
    cr_assert (strstr (err, needle), "'%s' should mention '%s'", err, needle);
    cr_assert_eq (p.count, 1, "a refused map is left as it was");
    segq_params_clear (&p);
}

Test (schema, validate_refusals, .timeout = 10)
{
    s_validate_fails ("sleep", "secs", (segq_value_t){ .type = SEGQ_PARAM_INT, .i = 1 },
                      "unknown parameter 'secs' for kind 'sleep' (known: seconds busy)");
    s_validate_fails ("noop", "x", (segq_value_t){ .type = SEGQ_PARAM_INT, .i = 1 },
                      "kind 'noop' takes no parameters");
    s_validate_fails ("sleep", "seconds", (segq_value_t){ .type = SEGQ_PARAM_FLOAT, .f = 86401 },
                      "seconds: 86401 is out of range (expected 0..86400)");
    s_validate_fails ("fail", "code", (segq_value_t){ .type = SEGQ_PARAM_INT, .i = -3 },
                      "code: -3 is out of range");
    s_validate_fails ("sleep", "seconds", (segq_value_t){ .type = SEGQ_PARAM_STRING, .s = "5" },
                      "seconds: expected a number, got a string '5'");
    s_validate_fails ("sleep", "seconds", (segq_value_t){ .type = SEGQ_PARAM_BOOL, .b = true },
                      "expected a number, got true or false");
    s_validate_fails ("fail", "code", (segq_value_t){ .type = SEGQ_PARAM_FLOAT, .f = 1.5 },
                      "code: expected an integer, got a number '1.5'");
    s_validate_fails ("fail", "mode", (segq_value_t){ .type = SEGQ_PARAM_STRING, .s = "boom" },
                      "mode: 'boom' is not one of exit|signal|crash");
    s_validate_fails ("fail", "mode", (segq_value_t){ .type = SEGQ_PARAM_INT, .i = 1 },
                      "mode: expected a choice");

    /* a required parameter (no default) that is missing */
    static const segq_param_spec_t params [] = {
        { "image_size", SEGQ_PARAM_INT, NULL, 1, 4096, NULL, "" },
    };
    segq_kind_spec_t kind = {
        .name = "custom", .help = "", .params = params, .n_params = 1, .principal_output = "*"
    };
    segq_params_t p = { 0 };
    char err [256];
    cr_assert_eq (segq_params_validate (&kind, &p, err, sizeof err), SEGQ_EINVAL);
    cr_assert_str_eq (err, "missing required parameter 'image_size' for kind 'custom'");
    fixture_assert_no_leaks ();
}

/* Rules between parameters, which no range states, are the kind's: at
   submit (CLI, broker) as in segq-run (segq_param_rules.h). */
static int
s_validate_text (const char *kind, const char *const *pairs, char *err, size_t errlen)
{
    segq_params_t p = { 0 };
    const segq_kind_spec_t *k = segq_kind_find (kind);
    for (size_t i = 0; pairs [i]; i += 2) {
        segq_value_t v = { 0 };
        cr_assert_eq (
            segq_param_parse (segq_kind_param (k, pairs [i]), pairs [i + 1], &v, err, errlen),
            SEGQ_OK, "%s", err);
        cr_assert_eq (segq_params_set (&p, pairs [i], &v), SEGQ_OK);
        segq_value_clear (&v);
    }
    int rc = segq_params_validate (k, &p, err, errlen);
    segq_params_clear (&p);
    return rc;
}

Test (schema, rules_between_parameters, .timeout = 10)
{
    char err [256];
    const char *scaled [] = { "gen_start_scale", "2", "scale_h", "1.5", NULL };
    cr_assert_eq (s_validate_text ("generate", scaled, err, sizeof err), SEGQ_EINVAL);
    cr_assert (strstr (err, "gen_start_scale 2 keeps the real image's layout"), "%s", err);
    const char *layout [] = { "gen_start_scale", "2", NULL };
    cr_assert_eq (s_validate_text ("generate", layout, err, sizeof err), SEGQ_OK, "%s", err);
    const char *random [] = { "scale_v", "2", NULL };
    cr_assert_eq (s_validate_text ("generate", random, err, sizeof err), SEGQ_OK, "%s", err);
    const char *odd [] = { "size", "100", "depth", "4", NULL };
    cr_assert_eq (s_validate_text ("evaluate", odd, err, sizeof err), SEGQ_EINVAL);
    cr_assert (strstr (err, "size 100: must be divisible by 2^depth = 16 (depth 4): try size 112"),
               "%s", err);
    const char *even [] = { "size", "96", "depth", "5", NULL };
    cr_assert_eq (s_validate_text ("evaluate", even, err, sizeof err), SEGQ_OK, "%s", err);
    const char *kernel [] = { "ker_size", "4", NULL };
    cr_assert_eq (s_validate_text ("train", kernel, err, sizeof err), SEGQ_EINVAL);
    cr_assert (strstr (err, "ker_size 4: must be odd"), "%s", err);
    const char *deep [] = { "num_layer", "13", NULL };
    cr_assert_eq (s_validate_text ("train", deep, err, sizeof err), SEGQ_EINVAL);
    cr_assert (strstr (err, "shrink an image by 26 pixels") && strstr (err, "min_size to 27"), "%s",
               err);
    const char *wide [] = { "num_layer", "13", "min_size", "27", NULL };
    cr_assert_eq (s_validate_text ("train", wide, err, sizeof err), SEGQ_OK, "%s", err);
    fixture_assert_no_leaks ();
}

/* What a reference to another job's output may feed, by the kinds' tables:
   (kind, input, the referenced job's kind, its output) -> fits or not. */
Test (schema, what_a_job_reference_may_feed, .timeout = 10)
{
    static const struct {
        const char *kind, *input, *from, *output;
        bool fits;
    } rows [] = {
        { "generate", "model", "train", "model.safetensors", true },
        { "generate", "model", "train", "losses.csv", false },
        { "generate", "model", "generate", "*", false },
        { "generate", "model", "evaluate", "models/real_fold1.safetensors", false },
        { "train", "image", "train", "preview/scale00_real.png", true },
        { "train", "image", "train", "preview/deeper/x.png", false },
        { "train", "image", "train", "model.safetensors", false },
        { "train", "mask", "generate", "masks/a.png", true },
        { "train", "image", "generate", "*", false },
        { "train", "image", "echo", "*", true },
        { "stylize", "content", "generate", "*", true },
        { "stylize", "content", "stylize", "*", true },
        { "stylize", "content", "train", "model.safetensors", false },
        { "stylize", "style", "generate", "contact_sheet.png", true },
        { "stylize", "vgg19", "train", "model.safetensors", false },
        { "evaluate", "real", "generate", "*", true },
        { "evaluate", "real", "generate", "images/a.png", false },
        { "evaluate", "real", "evaluate", "*", false },
        { "evaluate", "synthetic", "stylize", "*", true },
        { "evaluate", "synthetic", "train", "model.safetensors", false },
        { "evaluate", "encoder_weights", "evaluate", "models/real_fold1.safetensors", true },
        { "evaluate", "encoder_weights", "train", "model.safetensors", false },
        { "echo", "files", "train", "losses.csv", true },
    };
    for (size_t i = 0; i < sizeof rows / sizeof rows [0]; i++) {
        const segq_input_spec_t *in =
            segq_kind_input (segq_kind_find (rows [i].kind), rows [i].input);
        const segq_kind_spec_t *from = segq_kind_find (rows [i].from);
        cr_assert (in && from, "row %zu", i);
        char err [512] = "";
        int rc = segq_kind_check_source (in, from, "000c", rows [i].output, err, sizeof err);
        cr_assert_eq (rc == SEGQ_OK, rows [i].fits, "%s %s <- %s %s: %s", rows [i].kind,
                      rows [i].input, rows [i].from, rows [i].output, err);
        if (!rows [i].fits)
            cr_assert (strstr (err, rows [i].input) && strstr (err, "000c"), "%s", err);
    }
}

Test (schema, params_map_and_values, .timeout = 10)
{
    segq_params_t p = { 0 };
    for (int i = 0; i < 100; i++) {
        char name [16];
        snprintf (name, sizeof name, "p%d", i);
        s_set (&p, name, (segq_value_t){ .type = SEGQ_PARAM_INT, .i = i });
    }
    s_set (&p, "p7", (segq_value_t){ .type = SEGQ_PARAM_STRING, .s = "replaced" });
    cr_assert_eq (p.count, 100);
    cr_assert_str_eq (segq_params_get (&p, "p7")->s, "replaced");
    cr_assert_null (segq_params_get (&p, "p100"));
    segq_params_t copy;
    cr_assert_eq (segq_params_copy (&copy, &p), SEGQ_OK);
    segq_params_clear (&p);
    cr_assert_eq (p.count, 0);
    cr_assert_null (p.items);
    cr_assert_eq (segq_params_get (&copy, "p99")->i, 99);
    cr_assert_str_eq (segq_params_get (&copy, "p7")->s, "replaced");
    segq_params_clear (&copy);

    char buf [64];
    segq_value_t v = { .type = SEGQ_PARAM_FLOAT, .f = 0.1 };
    segq_value_format (&v, buf, sizeof buf);
    cr_assert_str_eq (buf, "0.1");
    v.f = 1.0 / 3.0;
    segq_value_format (&v, buf, sizeof buf);
    cr_assert_eq (strtod (buf, NULL), 1.0 / 3.0, "%s reads back", buf);
    v.f = 2000;
    segq_value_format (&v, buf, sizeof buf);
    cr_assert_str_eq (buf, "2000");
    v = (segq_value_t){ .type = SEGQ_PARAM_INT, .i = INT64_MIN };
    segq_value_format (&v, buf, sizeof buf);
    cr_assert_str_eq (buf, "-9223372036854775808");
    v = (segq_value_t){ .type = SEGQ_PARAM_BOOL, .b = true };
    segq_value_format (&v, buf, sizeof buf);
    cr_assert_str_eq (buf, "true");
    v = (segq_value_t){ .type = SEGQ_PARAM_CHOICE, .s = "bf16" };
    cr_assert_eq (segq_value_format (&v, buf, 3), 4, "returns the length like snprintf");
    cr_assert_str_eq (buf, "bf");
    fixture_assert_no_leaks ();
}

/* ---- sizes ---- */

/* A lab's periods take their unit: "30" alone is refused, where it would
   read as 30 seconds of retention. */
Test (size, periods_need_their_unit, .timeout = 10)
{
    double s = -1;
    cr_assert_eq (segq_parse_period ("30d", &s), SEGQ_OK);
    cr_assert_float_eq (s, 30 * 86400.0, 1e-9);
    cr_assert_eq (segq_parse_period ("none", &s), SEGQ_OK);
    cr_assert_float_eq (s, 0, 1e-9);
    cr_assert_eq (segq_parse_period ("0s", &s), SEGQ_OK);
    const char *bad [] = { "30", "0", "", "d", "30x", "-1d", "'30d'" };
    for (size_t i = 0; i < sizeof bad / sizeof bad [0]; i++)
        cr_assert_eq (segq_parse_period (bad [i], &s), SEGQ_EINVAL, "'%s'", bad [i]);
    cr_assert_eq (segq_parse_period (NULL, &s), SEGQ_EINVAL);
}

Test (size, parse, .timeout = 10)
{
    struct {
        const char *text;
        uint64_t bytes;
    } good [] = {
        { "0", 0 },
        { "4096", 4096 },
        { "512M", 512ull << 20 },
        { "8G", 8ull << 30 },
        { "3GB", 3ull << 30 },
        { "1.5GiB", 3ull << 29 },
        { "64k", 64ull << 10 },
        { "2T", 2ull << 40 },
        { "100B", 100 },
        { "7mb", 7ull << 20 },
        { "18446744073709551615", UINT64_MAX },
        { "16383P", 0 },
    };
    for (size_t i = 0; i + 1 < sizeof good / sizeof good [0]; i++) {
        uint64_t bytes = 1;
        cr_assert_eq (segq_parse_size (good [i].text, &bytes), SEGQ_OK, "%s", good [i].text);
        cr_assert_eq (bytes, good [i].bytes, "%s", good [i].text);
    }
    const char *bad [] = { "",
                           "G",
                           "-1G",
                           "1.5",
                           "1.G",
                           "8X",
                           "8GG",
                           "8Gi",
                           "8 G",
                           " 8G",
                           "18446744073709551616",
                           "16777216T",
                           "1e3",
                           "0x10",
                           "1.5e30G",
                           NULL };
    for (int i = 0; bad [i]; i++) {
        uint64_t bytes = 77;
        cr_assert_eq (segq_parse_size (bad [i], &bytes), SEGQ_EINVAL, "'%s'", bad [i]);
        cr_assert_eq (bytes, 77, "'%s' left the output alone", bad [i]);
    }
    uint64_t bytes;
    cr_assert_eq (segq_parse_size (NULL, &bytes), SEGQ_EINVAL);
    fixture_assert_no_leaks ();
}

/* ---- sha256 ---- */

static void
s_hash (const void *data, size_t size, char hex [SEGQ_HASH_HEX_LEN + 1])
{
    segq_sha256_t sha;
    segq_sha256_init (&sha);
    segq_sha256_update (&sha, data, size);
    segq_sha256_final (&sha, hex);
}

static void
s_known_vectors (void)
{
    char hex [SEGQ_HASH_HEX_LEN + 1];
    s_hash ("", 0, hex);
    cr_assert_str_eq (hex, "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
    s_hash ("abc", 3, hex);
    cr_assert_str_eq (hex, "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
    const char *two_blocks = "abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq";
    s_hash (two_blocks, strlen (two_blocks), hex);
    cr_assert_str_eq (hex, "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1");
    const char *long_one = "abcdefghbcdefghicdefghijdefghijkefghijklfghijklmghijklmn"
                           "hijklmnoijklmnopjklmnopqklmnopqrlmnopqrsmnopqrstnopqrstu";
    s_hash (long_one, strlen (long_one), hex);
    cr_assert_str_eq (hex, "cf5b16a778af8380036ce59e7b0492370b249b11e8f07a51afac45037afee9d1");

    /* one million 'a', fed in odd chunk sizes */
    char *million = malloc (1000000);
    memset (million, 'a', 1000000);
    s_hash (million, 1000000, hex);
    cr_assert_str_eq (hex, "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0");
    static const size_t steps [] = { 1, 3, 63, 64, 65, 127, 1000, 4097 };
    for (size_t s = 0; s < sizeof steps / sizeof steps [0]; s++) {
        segq_sha256_t sha;
        segq_sha256_init (&sha);
        size_t done = 0;
        for (size_t k = 0; done < 1000000; k++) {
            size_t n = steps [(s + k) % (sizeof steps / sizeof steps [0])];
            if (n > 1000000 - done)
                n = 1000000 - done;
            segq_sha256_update (&sha, million + done, n);
            done += n;
        }
        segq_sha256_final (&sha, hex);
        cr_assert_str_eq (hex, "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0",
                          "chunks starting at %zu", steps [s]);
    }
    free (million);

    /* lengths around the padding boundaries (from Python's hashlib) */
    static const struct {
        size_t n;
        const char *hex;
    } edges [] = {
        { 55, "d5e285683cd4efc02d021a5c62014694958901005d6f71e89e0989fac77e4072" },
        { 56, "04c26261370ee7541549d16dee320c723e3fd14671e66a099afe0a377c16888e" },
        { 63, "75220b47218278e656f2013bb8f0c455a25eaf01e86c64924e9d48d89776d6f2" },
        { 64, "7ce100971f64e7001e8fe5a51973ecdfe1ced42befe7ee8d5fd6219506b5393c" },
        { 119, "000b48d4edf0fa7bee3c6236ecd2785baa5db4eeb8bb54341b029e0d9fa5fb0c" },
        { 120, "13f05a0b594787f5ecd315edc96141bd3243203d1b7d4f0836f37308b276ba98" },
    };
    char xs [120];
    memset (xs, 'x', sizeof xs);
    for (size_t i = 0; i < sizeof edges / sizeof edges [0]; i++) {
        s_hash (xs, edges [i].n, hex);
        cr_assert_str_eq (hex, edges [i].hex, "%zu bytes of 'x'", edges [i].n);
    }
}

Test (sha256, known_vectors, .timeout = 30)
{
    s_known_vectors ();
    fixture_assert_no_leaks ();
}

/* The portable code, which the SHA-NI path is chosen over on most CPUs. */
Test (sha256, known_vectors_portable, .timeout = 60)
{
    /* The code is chosen at load time from SEGQ_SHA256_GENERIC, so the
       vectors run again in a fresh process of this binary with it set. */
    char self [4096];
    ssize_t n = readlink ("/proc/self/exe", self, sizeof self - 1);
    cr_assert_gt (n, 0);
    self [n] = '\0';
    char command [4200];
    /* env -i: a Criterion test process must not look like a Criterion worker to its child. */
    snprintf (command, sizeof command,
              "env -i SEGQ_SHA256_GENERIC=1 '%s' --filter 'sha256/known_vectors' --jobs 1 "
              ">/dev/null 2>&1",
              self);
    cr_assert_eq (system (command), 0, "the vectors fail with the portable code");
    fixture_assert_no_leaks ();
}

Test (sha256, agrees_with_sha256sum, .timeout = 30)
{
    /* Pseudo-random data hashed by us (SHA-NI where the CPU has it) and by
       coreutils' sha256sum. */
    char path [] = "/tmp/segq-sha-XXXXXX";
    int fd = mkstemp (path);
    cr_assert_geq (fd, 0);
    FILE *file = fdopen (fd, "wb");
    uint32_t seed = 99;
    for (int i = 0; i < 300000; i++) {
        seed = seed * 1664525u + 1013904223u;
        fputc ((int) (seed >> 24), file);
    }
    fclose (file);
    char here [SEGQ_HASH_HEX_LEN + 1];
    cr_assert_eq (segq_sha256_file (path, here), SEGQ_OK);
    char command [256];
    snprintf (command, sizeof command, "sha256sum '%s'", path);
    FILE *pipe = popen (command, "r");
    char there [SEGQ_HASH_HEX_LEN + 1] = "";
    cr_assert_eq (fscanf (pipe, "%64s", there), 1);
    pclose (pipe);
    cr_assert_str_eq (here, there, "sha256sum agrees");
    unlink (path);

    cr_assert_eq (segq_sha256_file ("/nonexistent/segq", here), SEGQ_ENOENT);
    cr_assert_eq (segq_sha256_file ("/", here), SEGQ_EIO);
    fixture_assert_no_leaks ();
}

/* ---- the file sink of transfers ---- */

static uint8_t *
s_sink_data (size_t total)
{
    uint8_t *data = malloc (total);
    cr_assert_not_null (data);
    uint32_t seed = 7;
    for (size_t i = 0; i < total; i++) {
        seed = seed * 1664525u + 1013904223u;
        data [i] = (uint8_t) (seed >> 24);
    }
    return data;
}

/* Feeds data to a sink in chunks of odd sizes (across the 256 KiB pieces,
   4 KiB blocks, 2 MiB staging buffers and 8 MiB writeback windows), then
   checks that the file holds exactly those bytes and that the sink's hash
   is theirs, so a receiver that compares it refuses any other data. The
   file is made in the test's working directory (the build tree): /tmp may
   be a file system that takes no O_DIRECT. */
static void
s_sink_round_trip (size_t total, uint64_t expected_size, bool direct)
{
    uint8_t *data = s_sink_data (total);
    char path [] = "segq-sink-XXXXXX";
    int fd = mkstemp (path);
    cr_assert_geq (fd, 0);
    segq_file_sink_t sink;
    segq_file_sink_init (&sink, fd, expected_size);
    cr_assert_eq (segq_file_sink_is_direct (&sink), direct,
                  "%zu bytes expected: O_DIRECT %s (does this file system take O_DIRECT?)",
                  (size_t) expected_size, direct ? "expected" : "not expected");
    static const size_t steps [] = { 1, 4095, 262144, 262145, 1u << 20, 3000001 };
    size_t done = 0;
    for (size_t k = 0; done < total; k++) {
        size_t n = steps [k % (sizeof steps / sizeof steps [0])];
        if (n > total - done)
            n = total - done;
        cr_assert_eq (segq_file_sink_append (&sink, data + done, n), 0);
        done += n;
        cr_assert_eq (sink.written, done);
    }
    if (!direct)
        cr_assert_eq (sink.flushed, (uint64_t) total / (8u << 20) * (8u << 20),
                      "writeback started for whole windows only");
    char got [SEGQ_HASH_HEX_LEN + 1], want [SEGQ_HASH_HEX_LEN + 1];
    cr_assert_eq (segq_file_sink_finish (&sink, got), 0);
    cr_assert_null (sink.direct, "finish releases the writer");
    s_hash (data, total, want);
    cr_assert_str_eq (got, want);
    struct stat st;
    cr_assert_eq (fstat (fd, &st), 0);
    cr_assert_eq ((size_t) st.st_size, total, "the file is exactly as long as the data");
    close (fd);
    char on_disk [SEGQ_HASH_HEX_LEN + 1];
    cr_assert_eq (segq_sha256_file (path, on_disk), SEGQ_OK);
    cr_assert_str_eq (on_disk, want, "the file holds the bytes appended");

    /* one byte changed in transit: the hash tells */
    int fd2 = open (path, O_WRONLY | O_TRUNC);
    cr_assert_geq (fd2, 0);
    segq_file_sink_init (&sink, fd2, expected_size);
    data [total / 2] ^= 1;
    cr_assert_eq (segq_file_sink_append (&sink, data, total), 0);
    cr_assert_eq (segq_file_sink_finish (&sink, got), 0);
    cr_assert_str_neq (got, want);
    close (fd2);
    unlink (path);
    free (data);
}

Test (file_sink, small_file_is_written_through_the_page_cache_in_windows, .timeout = 30)
{
    s_sink_round_trip ((17u << 20) + 12345, 0, false);
    fixture_assert_no_leaks ();
}

Test (file_sink, large_file_is_written_direct_with_its_tail, .timeout = 30)
{
    s_sink_round_trip ((17u << 20) + 12345, (17u << 20) + 12345, true);
    fixture_assert_no_leaks ();
}

/* Whole staging buffers and no tail; a tail alone; nothing at all. */
Test (file_sink, direct_file_of_whole_buffers_or_a_tail_only, .timeout = 30)
{
    s_sink_round_trip (4u << 20, SEGQ_SINK_DIRECT_MIN, true);
    s_sink_round_trip (3, SEGQ_SINK_DIRECT_MIN, true);
    s_sink_round_trip (4096, SEGQ_SINK_DIRECT_MIN, true);
    fixture_assert_no_leaks ();
}

Test (file_sink, failed_write_is_reported, .timeout = 10)
{
    char path [] = "segq-sink-XXXXXX";
    int fd = mkstemp (path);
    cr_assert_geq (fd, 0);
    close (fd);
    int ro = open (path, O_RDONLY);
    cr_assert_geq (ro, 0);
    segq_file_sink_t sink;
    segq_file_sink_init (&sink, ro, 0);
    cr_assert_eq (segq_file_sink_append (&sink, "abc", 3), -EBADF);
    segq_file_sink_release (&sink);
    close (ro);
    unlink (path);
    fixture_assert_no_leaks ();
}

/* Direct: the writer thread's failure (here the file size limit, as a
   full disk would do mid-file) comes back at a later append or at finish
   at the latest, never lost. */
Test (file_sink, failed_direct_write_is_reported, .timeout = 10)
{
    signal (SIGXFSZ, SIG_IGN); /* EFBIG instead of the signal */
    struct rlimit limit = { 3u << 20, 3u << 20 };
    cr_assert_eq (setrlimit (RLIMIT_FSIZE, &limit), 0);
    char path [] = "segq-sink-XXXXXX";
    int fd = mkstemp (path);
    cr_assert_geq (fd, 0);
    uint8_t *data = s_sink_data (5u << 20);
    segq_file_sink_t sink;
    char hash [SEGQ_HASH_HEX_LEN + 1];
    segq_file_sink_init (&sink, fd, 64u << 20);
    cr_assert (segq_file_sink_is_direct (&sink));
    int rc = segq_file_sink_append (&sink, data, 5u << 20);
    cr_assert (rc == 0 || rc == -EFBIG, "append: %d", rc);
    cr_assert_eq (segq_file_sink_finish (&sink, hash), -EFBIG);
    free (data);
    close (fd);
    unlink (path);
    fixture_assert_no_leaks ();
}

static int
s_threads (void)
{
    FILE *f = fopen ("/proc/self/status", "r");
    cr_assert_not_null (f);
    char line [256];
    int n = -1;
    while (fgets (line, sizeof line, f))
        if (sscanf (line, "Threads: %d", &n) == 1)
            break;
    fclose (f);
    return n;
}

/* A transfer abandoned half-way (broker gone, client cancelled): release
   stops the writer thread and frees its buffers (ASan and the thread
   count tell). */
Test (file_sink, abandoned_direct_sink_is_released, .timeout = 10)
{
    char path [] = "segq-sink-XXXXXX";
    int fd = mkstemp (path);
    cr_assert_geq (fd, 0);
    uint8_t *data = s_sink_data (5u << 20);
    segq_file_sink_t sink;
    int threads = s_threads ();
    segq_file_sink_init (&sink, fd, 64u << 20);
    cr_assert (segq_file_sink_is_direct (&sink));
    cr_assert_eq (segq_file_sink_append (&sink, data, 5u << 20), 0);
    cr_assert_eq (s_threads (), threads + 1, "one writer thread");
    segq_file_sink_release (&sink);
    segq_file_sink_release (&sink);
    cr_assert_null (sink.direct);
    cr_assert_eq (s_threads (), threads, "the writer thread is gone");
    free (data);
    close (fd);
    unlink (path);
    fixture_assert_no_leaks ();
}

/* A sender may announce a large file and send little: until a whole
   staging buffer (2 MiB) has come, the sink holds no thread, so many such
   transfers cost a receiver no threads (and finishing one still works). */
Test (file_sink, announced_large_file_starts_no_thread_until_data_comes, .timeout = 10)
{
    char path [] = "segq-sink-XXXXXX";
    int fd = mkstemp (path);
    cr_assert_geq (fd, 0);
    uint8_t *data = s_sink_data (3u << 20);
    int threads = s_threads ();
    segq_file_sink_t sinks [32];
    for (int i = 0; i < 32; i++)
        segq_file_sink_init (&sinks [i], fd, (uint64_t) 1 << 40);
    cr_assert (segq_file_sink_is_direct (&sinks [0]));
    cr_assert_eq (segq_file_sink_append (&sinks [0], data, (2u << 20) - 1), 0);
    cr_assert_eq (s_threads (), threads, "no thread before a whole buffer has come");
    cr_assert_eq (segq_file_sink_append (&sinks [0], data + (2u << 20) - 1, (1u << 20) + 1), 0);
    cr_assert_eq (s_threads (), threads + 1, "the writer starts with the second buffer");
    char got [SEGQ_HASH_HEX_LEN + 1], want [SEGQ_HASH_HEX_LEN + 1];
    cr_assert_eq (segq_file_sink_finish (&sinks [0], got), 0);
    s_hash (data, 3u << 20, want);
    cr_assert_str_eq (got, want);
    for (int i = 1; i < 32; i++)
        segq_file_sink_release (&sinks [i]);
    cr_assert_eq (s_threads (), threads);
    free (data);
    close (fd);
    unlink (path);
    fixture_assert_no_leaks ();
}
