/*  generate_check: a generate whose model is an uploaded file is checked
    at submit from the file's header, as a catalogue model is from the
    catalogue: its pairs' names (after the training image the header
    names) must fit one RESULT, and it must be a finished model with the
    scale asked for. Refusals name the input and the artifact, never
    where the broker keeps it; other submits are not read. */
#include "broker_test_util.h"
#include "generate_check.h"
#include "test_files.h"

static char dir [256];
static segq__artifact_store_t *store;

static void
setup (void)
{
    test_tmpdir (dir, sizeof dir);
    char err [512] = "";
    store = segq__artifact_store_new (dir, err, sizeof err);
    cr_assert_not_null (store, "%s", err);
}

static void
teardown (void)
{
    segq__artifact_store_destroy (&store);
    test_rmdir (dir);
}

/* The file at path uploaded into the store; its hash into hash. */
static void
s_store_file (const char *path, char hash [SEGQ_HASH_HEX_LEN + 1])
{
    FILE *f = fopen (path, "rb");
    cr_assert_not_null (f, "%s", path);
    static char data [1 << 16];
    size_t size = fread (data, 1, sizeof data, f);
    cr_assert (feof (f), "%s is over %zu bytes", path, sizeof data);
    fclose (f);
    char err [512];
    segq__upload_t *up = segq__artifact_store_upload (store, NULL, size, err, sizeof err);
    cr_assert_not_null (up, "%s", err);
    cr_assert_eq (segq__upload_write (up, 0, data, size, err, sizeof err), 0, "%s", err);
    segq_sha256_t sha;
    segq_sha256_init (&sha);
    segq_sha256_update (&sha, data, size);
    segq_sha256_final (&sha, hash);
    cr_assert_eq (segq__upload_finish (up, hash, NULL, err, sizeof err), 0, "%s", err);
    segq__upload_destroy (&up);
}

/* A text file stored; its hash into hash. */
static void
s_store_text (const char *text, char hash [SEGQ_HASH_HEX_LEN + 1])
{
    char path [300];
    snprintf (path, sizeof path, "%s/notes.txt", dir);
    FILE *f = fopen (path, "w");
    cr_assert_not_null (f);
    fputs (text, f);
    fclose (f);
    s_store_file (path, hash);
}

/* A model of one scale trained on image (NULL: unnamed), `trained` of it
   finished, stored; its hash into hash. */
static void
s_model (const char *image, int trained, char hash [SEGQ_HASH_HEX_LEN + 1])
{
    char path [300];
    snprintf (path, sizeof path, "%s/model.safetensors", dir);
    cr_assert_eq (test_write_checkpoint_of (path, 24, 1, image, trained), 0);
    s_store_file (path, hash);
}

static void
s_set_int (segq_params_t *params, const char *name, int64_t v)
{
    segq_value_t value = { .type = SEGQ_PARAM_INT, .i = v };
    cr_assert_eq (segq_params_set (params, name, &value), 0);
}

/* `kind` with input `model` given as the artifact hash as the CLI lays a
   file out (model/FILE; or `name`, and with `model` set as the catalogue
   model it was resolved from), count pairs, seed (-1: the broker draws
   one), gen_start_scale; checked against a max_msg of 64 KiB. */
static int
s_check_input (const char *kind, const char *name, const char *model, const char *hash,
               int64_t count, int64_t seed, int64_t start, char *err, size_t errlen)
{
    segq_input_t input = { .name = (char *) name, .model = (char *) model };
    snprintf (input.hash, sizeof input.hash, "%s", hash);
    segq_submit_t submit = {
        .user = "alice", .kind = (char *) kind, .inputs = &input, .n_inputs = 1
    };
    s_set_int (&submit.params, "count", count);
    if (seed >= 0)
        s_set_int (&submit.params, "seed", seed);
    if (start)
        s_set_int (&submit.params, "gen_start_scale", start);
    err [0] = '\0';
    int rc = segq__generate_check_model_file (store, &submit, 65536, err, errlen);
    segq_params_clear (&submit.params);
    return rc;
}

static int
s_check (const char *kind, const char *hash, int64_t count, int64_t seed, int64_t start, char *err,
         size_t errlen)
{
    return s_check_input (kind, "model/polyp.safetensors", NULL, hash, count, seed, start, err,
                          errlen);
}

/* As the catalogue reckons a model of polyp_01.png (broker_models): with
   seed 7, 212 pairs fit a 64 KiB RESULT and 213 do not; with a seed still
   to draw, reckoned at its largest, 190. A file whose header names no
   image names its pairs "source_...": shorter, so 213 fit. */
Test (generate_check, a_model_file_s_pairs_are_named_after_its_training_image, .init = setup,
      .fini = teardown, .timeout = 30)
{
    char hash [SEGQ_HASH_HEX_LEN + 1], unnamed [SEGQ_HASH_HEX_LEN + 1], err [600];
    s_model ("polyp_01.png", 1, hash);
    cr_expect_eq (s_check ("generate", hash, 212, 7, 0, err, sizeof err), 0, "%s", err);
    cr_expect_eq (s_check ("generate", hash, 213, 7, 0, err, sizeof err), SEGQ_ETOOBIG);
    cr_expect (strstr (err, "count 213: ") && strstr (err, "at most 212 pairs"), "%s", err);
    cr_expect_eq (s_check ("generate", hash, 190, -1, 0, err, sizeof err), 0, "%s", err);
    cr_expect_eq (s_check ("generate", hash, 191, -1, 0, err, sizeof err), SEGQ_ETOOBIG);
    cr_expect (strstr (err, "at most 190 pairs"), "%s", err);
    s_model (NULL, 1, unnamed);
    cr_expect_eq (s_check ("generate", unnamed, 213, 7, 0, err, sizeof err), 0, "%s", err);
}

/* err begins with the input and the artifact it read. */
static void
s_expect_names (const char *err, const char *hash)
{
    char named [80];
    snprintf (named, sizeof named, "input 'model' (artifact %.12s): ", hash);
    cr_expect (strncmp (err, named, strlen (named)) == 0, "%s", err);
}

Test (generate_check, a_file_that_is_no_finished_model_is_refused_naming_the_artifact,
      .init = setup, .fini = teardown, .timeout = 30)
{
    char hash [SEGQ_HASH_HEX_LEN + 1], err [600];
    s_store_text ("not a model at all, just some text\n", hash);
    cr_expect_eq (s_check ("generate", hash, 8, 7, 0, err, sizeof err), SEGQ_ECORRUPT);
    s_expect_names (err, hash);
    cr_expect_null (strstr (err, dir), "the broker's folder is its own: %s", err);

    /* a header longer than a checkpoint's is refused before it is read */
    char big [300];
    snprintf (big, sizeof big, "%s/big.safetensors", dir);
    FILE *f = fopen (big, "wb");
    cr_assert_not_null (f);
    const uint8_t length [8] = { 0, 0, 0x50 }; /* 5 MiB, little-endian */
    fwrite (length, 1, sizeof length, f);
    fputs ("{}", f);
    fclose (f);
    s_store_file (big, hash);
    cr_expect_eq (s_check ("generate", hash, 8, 7, 0, err, sizeof err), SEGQ_ECORRUPT);
    cr_expect (strstr (err, "header length 5242880 is above the 4194304-byte limit"), "%s", err);

    s_model ("a.png", 0, hash);
    cr_expect_eq (s_check ("generate", hash, 8, 7, 0, err, sizeof err), SEGQ_EINVAL);
    s_expect_names (err, hash);
    cr_expect (strstr (err, "only 0 of its 1 scales are trained"), "%s", err);
    s_model ("a.png", 1, hash);
    cr_expect_eq (s_check ("generate", hash, 8, 7, 1, err, sizeof err), SEGQ_EINVAL);
    cr_expect (strstr (err, "the model has scales 0..0"), "%s", err);
    cr_expect_eq (s_check ("generate", hash, 8, 7, 0, err, sizeof err), 0, "%s", err);
}

/* A catalogue model was checked by the catalogue, and any other kind or
   input is not a model file: nothing is read (the file here is no model,
   which a read refuses); nor is a hash of nothing stored, which the
   submit's check of its inputs refuses in its own words. */
Test (generate_check, other_submits_are_not_read, .init = setup, .fini = teardown, .timeout = 30)
{
    char err [600], hash [SEGQ_HASH_HEX_LEN + 1];
    s_store_text ("no model\n", hash);
    cr_expect_eq (s_check ("generate", hash, 8, 7, 0, err, sizeof err), SEGQ_ECORRUPT,
                  "a read it is: %s", err);
    cr_expect_eq (s_check_input ("generate", "model", NULL, hash, 8, 7, 0, err, sizeof err),
                  SEGQ_ECORRUPT, "so is one laid out as the input's own name: %s", err);
    cr_expect_eq (s_check_input ("generate", "model", "m-0003", hash, 8, 7, 0, err, sizeof err), 0,
                  "%s", err);
    cr_expect_eq (s_check_input ("generate", "model/a/b", NULL, hash, 8, 7, 0, err, sizeof err), 0,
                  "%s", err);
    cr_expect_eq (s_check ("echo", hash, 8, 7, 0, err, sizeof err), 0, "%s", err);
    cr_expect_eq (s_check ("generate", "", 8, 7, 0, err, sizeof err), 0, "%s", err);
    const char *absent = "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef";
    cr_expect_eq (s_check ("generate", absent, 8, 7, 0, err, sizeof err), 0, "%s", err);
}
