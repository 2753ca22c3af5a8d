/*  The access rule as a table: (caller, what the reference names, its
    form) -> verdict, on a real job store. Alice owns job 1 (input hash
    IN, output OUT), array a-1 of it, and uploaded UP; bob owns job 2 and
    uploaded nothing; root is an admin. */
#include "access.h"
#include "segq_sha256.h"
#include "broker_test_store.h"
#include "broker_test_util.h"
#include "job_store.h"
#include <string.h>

/* the stored contents' hashes; NEW is stored nowhere */
static char IN [SEGQ_HASH_HEX_LEN + 1], OUT [SEGQ_HASH_HEX_LEN + 1], UP [SEGQ_HASH_HEX_LEN + 1];
#define NEW "4444444444444444444444444444444444444444444444444444444444444444"

static char dir [256], path [300];
static segq__job_store_t *store;
static segq__artifact_store_t *artifacts;
static segq__access_t *access_rule;

static void
s_job (uint64_t id, const char *owner)
{
    segq__job_row_t row = { .id = id,
                            .owner = owner,
                            .kind = "echo",
                            .state = SEGQ_JOB_SUCCEEDED,
                            .max_attempts = 1,
                            .created = 1700000000.0,
                            .gpu = -1 };
    segq_params_t none = { 0 };
    cr_assert_eq (segq__job_store_insert_job (store, &row, &none), 0);
}

static void
setup (void)
{
    test_tmpdir (dir, sizeof dir);
    snprintf (path, sizeof path, "%s/segq.db", dir);
    char err [512] = "";
    store = segq__job_store_open (path, err, sizeof err);
    cr_assert_not_null (store, "%s", err);
    artifacts = segq__artifact_store_new (dir, err, sizeof err);
    cr_assert_not_null (artifacts, "%s", err);
    test_store (artifacts, "a scan", IN);
    test_store (artifacts, "its echo", OUT);
    test_store (artifacts, "an upload", UP);
    access_rule = segq__access_new (store, artifacts, err, sizeof err);
    cr_assert_not_null (access_rule, "%s", err);
    cr_assert_eq (segq__job_store_begin (store), 0);
    s_job (1, "alice");
    s_job (2, "bob");
    segq__input_row_t input = { .name = "files/scan.png", .hash = IN, .size = 6 };
    cr_assert_eq (segq__job_store_insert_input (store, 1, 0, &input), 0);
    segq_artifact_t output = { .name = "scan.png", .size = 8 };
    memcpy (output.hash, OUT, sizeof output.hash);
    cr_assert_eq (segq__job_store_insert_output (store, 1, &output), 0);
    const uint64_t members [] = { 1 };
    uint64_t array = 0;
    cr_assert_eq (segq__job_store_insert_array (store, "alice", 1700000000.0, members, 1, &array),
                  0);
    cr_assert_eq (array, 1);
    cr_assert_eq (segq__access_uploaded (access_rule, "alice", NULL, UP), 0);
    cr_assert_eq (segq__job_store_commit (store, err, sizeof err), 0, "%s", err);
}

static void
teardown (void)
{
    segq__access_destroy (&access_rule);
    segq__artifact_store_destroy (&artifacts);
    segq__job_store_destroy (&store);
    test_rmdir (dir);
}

typedef struct {
    const char *caller;
    bool admin;
    const char *job; /* a job or array reference, or NULL ... */
    const char *output;
    const char *hash; /* ... a bare hash */
    int verdict;
} row_t;

static const row_t s_table [] = {
    /* the owner reads every form */
    { "alice", false, "0001", "*", NULL, 0 },
    { "alice", false, "0001", "scan.png", NULL, 0 },
    { "alice", false, "a-0001", "*", NULL, 0 },
    { "alice", false, NULL, NULL, IN, 0 },
    { "alice", false, NULL, NULL, OUT, 0 },
    { "alice", false, NULL, NULL, UP, 0 },
    /* another user, none */
    { "bob", false, "0001", "*", NULL, SEGQ_EPERM },
    { "bob", false, "0001", "scan.png", NULL, SEGQ_EPERM },
    { "bob", false, "a-0001", "*", NULL, SEGQ_EPERM },
    { "bob", false, NULL, NULL, IN, SEGQ_EPERM },
    { "bob", false, NULL, NULL, OUT, SEGQ_EPERM },
    { "bob", false, NULL, NULL, UP, SEGQ_EPERM },
    { "bob", false, "0002", "*", NULL, 0 },
    /* an admin, all */
    { "root", true, "0001", "*", NULL, 0 },
    { "root", true, "a-0001", "*", NULL, 0 },
    { "root", true, NULL, NULL, IN, 0 },
    { "root", true, NULL, NULL, UP, 0 },
    /* a nameless caller is nobody: no job, no hash */
    { NULL, false, "0002", "*", NULL, SEGQ_EPERM },
    { NULL, false, NULL, NULL, IN, SEGQ_EPERM },
    /* unknown references pass here: the submit's own checks name them */
    { "bob", false, "0077", "*", NULL, 0 },
    { "bob", false, "a-0077", "*", NULL, 0 },
    { "bob", false, NULL, NULL, NEW, 0 },
};

Test (access, the_rule_as_a_table, .init = setup, .fini = teardown, .timeout = 30)
{
    for (size_t i = 0; i < sizeof s_table / sizeof s_table [0]; i++) {
        const row_t *row = &s_table [i];
        segq__caller_t caller = { .user = row->caller, .admin = row->admin };
        segq_input_t input = { .name = "files",
                               .job = (char *) row->job,
                               .output = (char *) row->output };
        if (row->hash)
            memcpy (input.hash, row->hash, sizeof input.hash);
        segq_submit_t submit = {
            .user = (char *) row->caller, .kind = "echo", .inputs = &input, .n_inputs = 1
        };
        char err [600] = "";
        int rc = segq__access_submit (access_rule, &caller, &submit, err, sizeof err);
        cr_expect_eq (rc, row->verdict, "row %zu (%s -> %s%s): %d, expected %d (%s)", i,
                      row->caller ? row->caller : "nobody", row->job ? row->job : "hash ",
                      row->job ? "" : row->hash, rc, row->verdict, err);
        if (rc == SEGQ_EPERM)
            cr_expect (strstr (err, "input 'files'"), "row %zu: the refusal names no input: %s", i,
                       err);
    }
}

Test (access, a_refusal_names_the_reference_and_its_owner, .init = setup, .fini = teardown,
      .timeout = 30)
{
    segq__caller_t bob = { .user = "bob" };
    char err [600];
    cr_assert_eq (segq__access_job (access_rule, &bob, 1, "0001", err, sizeof err), SEGQ_EPERM);
    cr_assert (strstr (err, "job 0001 belongs to alice"), "%s", err);
    cr_assert_eq (segq__access_job (access_rule, &bob, 77, "0077", err, sizeof err), SEGQ_ENOENT);
    cr_assert (strstr (err, "unknown job '0077'"), "%s", err);
    segq_input_t input = { .name = "files", .job = "a-0001" };
    segq_submit_t submit = { .user = "bob", .kind = "echo", .inputs = &input, .n_inputs = 1 };
    cr_assert_eq (segq__access_submit (access_rule, &bob, &submit, err, sizeof err), SEGQ_EPERM);
    cr_assert (strstr (err, "job array a-0001 belongs to alice"), "%s", err);
    input.job = NULL;
    memcpy (input.hash, IN, sizeof input.hash);
    cr_assert_eq (segq__access_submit (access_rule, &bob, &submit, err, sizeof err), SEGQ_EPERM);
    cr_assert (strstr (err, IN) && strstr (err, "not uploaded by you"), "%s", err);
}

/* Sending the bytes proves possession: an upload makes the hash one's own,
   and the record lasts (it is in the store, like the jobs). */
Test (access, an_upload_is_proof_of_possession, .init = setup, .fini = teardown, .timeout = 30)
{
    segq__caller_t bob = { .user = "bob" };
    cr_assert_not (segq__access_hash (access_rule, &bob, IN));
    cr_assert_eq (segq__job_store_begin (store), 0);
    cr_assert_eq (segq__access_uploaded (access_rule, "bob", NULL, IN), 0);
    cr_assert_eq (segq__access_uploaded (access_rule, "bob", NULL, IN), 0,
                  "a second upload is no error");
    char err [512] = "";
    cr_assert_eq (segq__job_store_commit (store, err, sizeof err), 0, "%s", err);
    segq__access_destroy (&access_rule);
    segq__job_store_destroy (&store);
    store = segq__job_store_open (path, err, sizeof err);
    cr_assert_not_null (store, "%s", err);
    access_rule = segq__access_new (store, artifacts, err, sizeof err);
    cr_assert_not_null (access_rule, "%s", err);
    cr_assert (segq__access_hash (access_rule, &bob, IN));
    cr_assert_not (segq__access_hash (access_rule, &bob, OUT), "one upload opens one hash only");
}
