/*  Job store: schema and migration, WAL + FULL, ids, group commit and
    rollback, durable rows across reopen, parameter round trip. */
#include <sqlite3.h>
#include "broker_test_util.h"
#include "job_store.h"

static char dir [256], path [300];

static void
setup (void)
{
    test_tmpdir (dir, sizeof dir);
    snprintf (path, sizeof path, "%s/segq.db", dir);
}

static void
teardown (void)
{
    test_rmdir (dir);
}

static segq__job_store_t *
s_open (void)
{
    char err [512] = "";
    segq__job_store_t *store = segq__job_store_open (path, err, sizeof err);
    cr_assert_not_null (store, "open: %s", err);
    return store;
}

static void
s_query (const char *sql, char *out, size_t outlen)
{
    sqlite3 *db;
    cr_assert_eq (sqlite3_open (path, &db), SQLITE_OK);
    sqlite3_stmt *stmt;
    cr_assert_eq (sqlite3_prepare_v2 (db, sql, -1, &stmt, NULL), SQLITE_OK, "%s",
                  sqlite3_errmsg (db));
    out [0] = 0;
    if (sqlite3_step (stmt) == SQLITE_ROW && sqlite3_column_text (stmt, 0))
        snprintf (out, outlen, "%s", sqlite3_column_text (stmt, 0));
    sqlite3_finalize (stmt);
    sqlite3_close (db);
}

static void
s_insert (segq__job_store_t *store, uint64_t id, int state, const segq_params_t *params)
{
    segq__job_row_t row = {
        .id = id,
        .owner = "alice",
        .kind = "sleep",
        .state = state,
        .priority = 3,
        .max_attempts = 3,
        .gpu_mem = 1ULL << 33,
        .cpu_slots = 2,
        .time_limit_s = 60,
        .created = 1700000000.5,
    };
    segq_params_t empty = { 0 };
    cr_assert_eq (segq__job_store_insert_job (store, &row, params ? params : &empty), 0);
    cr_assert_eq (segq__job_store_add_transition (store, id, 1, state, 1700000000.5, "submitted"),
                  0);
}

Test (job_store, creates_the_current_schema_version_in_wal_mode, .init = setup, .fini = teardown,
      .timeout = 10)
{
    segq__job_store_t *store = s_open ();
    cr_assert_eq (segq__job_store_schema_version (store), SEGQ_STORE_SCHEMA_VERSION);
    segq__job_store_destroy (&store);
    cr_assert_null (store);
    char value [64];
    s_query ("PRAGMA journal_mode", value, sizeof value);
    cr_assert_str_eq (value, "wal");
    s_query ("SELECT version FROM schema_version", value, sizeof value);
    char expected [16];
    snprintf (expected, sizeof expected, "%d", SEGQ_STORE_SCHEMA_VERSION);
    cr_assert_str_eq (value, expected);
    /* reopening does not migrate again */
    store = s_open ();
    cr_assert_eq (segq__job_store_schema_version (store), SEGQ_STORE_SCHEMA_VERSION);
    segq__job_store_destroy (&store);
}

Test (job_store, migrates_a_version_1_database_keeping_its_jobs, .init = setup, .fini = teardown,
      .timeout = 10)
{
    segq__job_store_t *store = s_open ();
    cr_assert_eq (segq__job_store_begin (store), 0);
    s_insert (store, 1, SEGQ_JOB_RUNNING, NULL);
    char err [512] = "";
    cr_assert_eq (segq__job_store_commit (store, err, sizeof err), 0, "%s", err);
    segq__job_store_destroy (&store);
    /* what segqd of schema 1 left: no checkpoints table (2), no purge
       columns nor their indexes (3), no job arrays (4), no uploads (5),
       no catalogue of models (6), no hold nor accounting (7), no retries
       (8) */
    sqlite3 *db;
    cr_assert_eq (sqlite3_open (path, &db), SQLITE_OK);
    cr_assert_eq (sqlite3_exec (db,
                                "DROP TABLE checkpoints; DROP INDEX jobs_expired;"
                                "DROP INDEX inputs_hash; DROP INDEX inputs_ref;"
                                "DROP INDEX outputs_hash; ALTER TABLE jobs DROP COLUMN purged;"
                                "ALTER TABLE jobs DROP COLUMN purged_by;"
                                "DROP TABLE arrays; DROP TABLE array_jobs; DROP TABLE uploads;"
                                "DROP TABLE models; DROP TABLE model_tags; DROP TABLE model_shares;"
                                "DROP INDEX inputs_model; ALTER TABLE inputs DROP COLUMN model;"
                                "DELETE FROM meta WHERE key = 'models_backfilled';"
                                "ALTER TABLE jobs DROP COLUMN held; DROP TABLE usage;"
                                "DROP TABLE retries;"
                                "UPDATE schema_version SET version = 1",
                                NULL, NULL, NULL),
                  SQLITE_OK);
    sqlite3_close (db);
    store = s_open ();
    cr_assert_eq (segq__job_store_schema_version (store), SEGQ_STORE_SCHEMA_VERSION);
    segq__job_brief_t brief;
    cr_assert_eq (segq__job_store_brief (store, 1, &brief), 0);
    segq_artifact_t ckpt = { 0 };
    uint32_t step = 0;
    cr_assert_eq (segq__job_store_checkpoint (store, 1, &ckpt, &step), SEGQ_ENOENT);
    cr_assert_eq (segq__job_store_newest_retry (store, 1), 0);
    segq__job_store_destroy (&store);
}

/* A chain of retries (1 retried as 2, 2 as 3): the newest of any of its
   jobs is 3, found in one query however long the chain. */
Test (job_store, the_newest_retry_of_a_chain, .init = setup, .fini = teardown, .timeout = 10)
{
    segq__job_store_t *store = s_open ();
    cr_assert_eq (segq__job_store_begin (store), 0);
    cr_assert_eq (segq__job_store_insert_retry (store, 2, 1), 0);
    cr_assert_eq (segq__job_store_insert_retry (store, 3, 2), 0);
    cr_assert_eq (segq__job_store_insert_retry (store, 7, 5), 0);
    char err [512] = "";
    cr_assert_eq (segq__job_store_commit (store, err, sizeof err), 0, "%s", err);
    cr_assert_eq (segq__job_store_newest_retry (store, 1), 3);
    cr_assert_eq (segq__job_store_newest_retry (store, 2), 3);
    cr_assert_eq (segq__job_store_newest_retry (store, 3), 0);
    cr_assert_eq (segq__job_store_newest_retry (store, 5), 7);
    cr_assert_eq (segq__job_store_newest_retry (store, 4), 0);
    segq__job_store_destroy (&store);
}

Test (job_store, keeps_the_newest_checkpoint_of_a_job, .init = setup, .fini = teardown,
      .timeout = 10)
{
    segq__job_store_t *store = s_open ();
    cr_assert_eq (segq__job_store_begin (store), 0);
    s_insert (store, 1, SEGQ_JOB_RUNNING, NULL);
    char hash_a [65], hash_b [65];
    memset (hash_a, 'a', 64);
    hash_a [64] = 0;
    memset (hash_b, 'b', 64);
    hash_b [64] = 0;
    segq_artifact_t first = { .name = "model.safetensors", .size = 100 };
    segq_artifact_t second = { .name = "model.safetensors", .size = 200 };
    memcpy (first.hash, hash_a, 65);
    memcpy (second.hash, hash_b, 65);
    cr_assert_eq (segq__job_store_set_checkpoint (store, 1, 1, &first, 1, 1700000001.0), 0);
    cr_assert_eq (segq__job_store_set_checkpoint (store, 1, 1, &second, 2, 1700000002.0), 0);
    char err [512] = "";
    cr_assert_eq (segq__job_store_commit (store, err, sizeof err), 0, "%s", err);
    segq__job_store_destroy (&store);
    store = s_open ();
    segq_artifact_t got = { 0 };
    uint32_t step = 0;
    cr_assert_eq (segq__job_store_checkpoint (store, 1, &got, &step), 0);
    cr_assert_str_eq (got.name, "model.safetensors");
    cr_assert_str_eq (got.hash, hash_b);
    cr_assert_eq (got.size, 200);
    cr_assert_eq (step, 2);
    segq_artifact_clear (&got);
    cr_assert_eq (segq__job_store_checkpoint (store, 2, &got, &step), SEGQ_ENOENT);
    segq__job_store_destroy (&store);
}

Test (job_store, refuses_a_newer_database, .init = setup, .fini = teardown, .timeout = 10)
{
    segq__job_store_t *store = s_open ();
    segq__job_store_destroy (&store);
    sqlite3 *db;
    cr_assert_eq (sqlite3_open (path, &db), SQLITE_OK);
    cr_assert_eq (sqlite3_exec (db, "UPDATE schema_version SET version = 99", NULL, NULL, NULL),
                  SQLITE_OK);
    sqlite3_close (db);
    char err [512] = "";
    store = segq__job_store_open (path, err, sizeof err);
    cr_assert_null (store);
    cr_assert (strstr (err, "99") && strstr (err, "upgrade segqd"), "message: %s", err);
}

Test (job_store, refuses_a_file_that_is_not_a_database, .init = setup, .fini = teardown,
      .timeout = 10)
{
    FILE *file = fopen (path, "w");
    cr_assert (file);
    fputs ("this is not SQLite, but it is long enough to look like a header..........\n", file);
    fclose (file);
    char err [512] = "";
    segq__job_store_t *store = segq__job_store_open (path, err, sizeof err);
    cr_assert_null (store);
    cr_assert (strstr (err, path), "the message names the file: %s", err);
}

Test (job_store, job_ids_are_short_monotonic_and_parse_back, .timeout = 10)
{
    char id [SEGQ__JOB_ID_MAX], previous [SEGQ__JOB_ID_MAX] = "";
    uint64_t samples [] = { 1, 2, 31, 32, 1023, 1024, 1048575, 1048576, 123456789012ULL };
    for (size_t i = 0; i < sizeof samples / sizeof samples [0]; i++) {
        segq__job_id_format (samples [i], id);
        cr_assert_geq (strlen (id), 4);
        cr_assert_eq (segq__job_id_parse (id), samples [i], "%s", id);
        if (strlen (id) == strlen (previous))
            cr_assert_gt (strcmp (id, previous), 0);
        snprintf (previous, sizeof previous, "%s", id);
    }
    segq__job_id_format (1, id);
    cr_assert_str_eq (id, "0001");
    cr_assert_eq (segq__job_id_parse ("00001"), 0, "not canonical");
    cr_assert_eq (segq__job_id_parse ("00i1"), 0, "i is not a digit");
    cr_assert_eq (segq__job_id_parse ("ZZZZ"), 0);
    cr_assert_eq (segq__job_id_parse (""), 0);
    cr_assert_eq (segq__job_id_parse (NULL), 0);
    cr_assert_eq (segq__job_id_parse ("zzzzzzzzzzzzz"), 0, "overflow");
}

Test (job_store, rollback_discards_the_batch_and_its_ids, .init = setup, .fini = teardown,
      .timeout = 10)
{
    segq__job_store_t *store = s_open ();
    cr_assert_eq (segq__job_store_begin (store), 0);
    uint64_t id = segq__job_store_next_id (store);
    cr_assert_eq (id, 1);
    s_insert (store, id, SEGQ_JOB_QUEUED, NULL);
    segq__job_store_rollback (store);
    cr_assert_not (segq__job_store_in_transaction (store));
    segq__job_brief_t brief;
    cr_assert_eq (segq__job_store_brief (store, id, &brief), SEGQ_ENOENT);
    cr_assert_eq (segq__job_store_next_id (store), 1, "an unstored id is handed out again");
    segq__job_store_destroy (&store);
}

Test (job_store, committed_batch_survives_reopen, .init = setup, .fini = teardown, .timeout = 10)
{
    segq__job_store_t *store = s_open ();
    cr_assert_eq (segq__job_store_begin (store), 0);
    cr_assert_eq (segq__job_store_begin (store), 0, "begin is idempotent");
    segq_params_t params = { 0 };
    segq_value_t f = { .type = SEGQ_PARAM_FLOAT, .f = 2.5 };
    segq_value_t i = { .type = SEGQ_PARAM_INT, .i = -7 };
    segq_value_t b = { .type = SEGQ_PARAM_BOOL, .b = true };
    segq_value_t s = { .type = SEGQ_PARAM_CHOICE, .s = "signal" };
    cr_assert_eq (segq_params_set (&params, "seconds", &f), 0);
    cr_assert_eq (segq_params_set (&params, "code", &i), 0);
    cr_assert_eq (segq_params_set (&params, "flag", &b), 0);
    cr_assert_eq (segq_params_set (&params, "mode", &s), 0);
    for (int n = 0; n < 5; n++)
        s_insert (store, segq__job_store_next_id (store),
                  n < 3 ? SEGQ_JOB_QUEUED : SEGQ_JOB_SUCCEEDED, &params);
    segq_params_clear (&params);
    cr_assert_eq (segq__job_store_set_running (store, 2, 1, "node-a", 0, 1700000001.0), 0);
    cr_assert_eq (
        segq__job_store_add_transition (store, 2, 2, SEGQ_JOB_RUNNING, 1700000001.0, "attempt 1"),
        0);
    segq_artifact_t out = { .name = "out/a.png", .size = 3 };
    memset (out.hash, 'a', SEGQ_HASH_HEX_LEN);
    cr_assert_eq (segq__job_store_insert_output (store, 4, &out), 0);
    cr_assert_eq (segq__job_store_insert_dep (store, 5, 4, true), 0);
    char err [256];
    cr_assert_eq (segq__job_store_commit (store, err, sizeof err), 0, "%s", err);
    segq__job_store_destroy (&store);

    store = s_open ();
    cr_assert_eq (segq__job_store_next_id (store), 6, "the counter is durable");
    segq_job_info_t info = { 0 };
    cr_assert_eq (segq__job_store_info (store, 2, true, &info), 0);
    cr_assert_str_eq (info.id, "0002");
    cr_assert_str_eq (info.owner, "alice");
    cr_assert_eq (info.state, SEGQ_JOB_RUNNING);
    cr_assert_eq (info.attempt, 1);
    cr_assert_str_eq (info.worker, "node-a");
    cr_assert_eq (info.gpu_mem, 1ULL << 33);
    cr_assert_eq (info.n_history, 2);
    cr_assert_str_eq (info.history [1].reason, "attempt 1");
    const segq_value_t *v = segq_params_get (&info.params, "seconds");
    cr_assert (v && v->type == SEGQ_PARAM_FLOAT && v->f == 2.5);
    v = segq_params_get (&info.params, "code");
    cr_assert (v && v->type == SEGQ_PARAM_INT && v->i == -7);
    v = segq_params_get (&info.params, "flag");
    cr_assert (v && v->type == SEGQ_PARAM_BOOL && v->b);
    v = segq_params_get (&info.params, "mode");
    cr_assert (v && v->type == SEGQ_PARAM_CHOICE && strcmp (v->s, "signal") == 0);
    segq_job_info_clear (&info);
    memset (&info, 0, sizeof info);
    cr_assert_eq (segq__job_store_info (store, 5, false, &info), 0);
    cr_assert_eq (info.n_after, 1);
    cr_assert_str_eq (info.after [0], "0004");
    segq_job_info_clear (&info);
    segq_artifact_t found = { 0 };
    cr_assert_eq (segq__job_store_output (store, 4, "out/a.png", &found), 0);
    cr_assert_eq (found.size, 3);
    segq_artifact_clear (&found);
    cr_assert_eq (segq__job_store_output (store, 4, "nope", &found), SEGQ_ENOENT);
    uint64_t ids [10];
    size_t count;
    cr_assert_eq (segq__job_store_list (store, 0, "alice", SEGQ_JOB_QUEUED, 10, ids, &count), 0);
    cr_assert_eq (count, 2, "jobs 1 and 3 are still queued");
    cr_assert_eq (segq__job_store_list (store, 1, NULL, 0, 2, ids, &count), 0);
    cr_assert_eq (count, 2);
    cr_assert_eq (ids [0], 2);
    /* from the newest down (segq status --limit N), and on below a cursor */
    cr_assert_eq (segq__job_store_list_newest (store, 0, NULL, 0, 2, ids, &count), 0);
    cr_assert (count == 2 && ids [0] == 5 && ids [1] == 4, "%zu: %llu %llu", count,
               (unsigned long long) ids [0], (unsigned long long) ids [1]);
    cr_assert_eq (segq__job_store_list_newest (store, 4, "alice", SEGQ_JOB_QUEUED, 10, ids, &count),
                  0);
    cr_assert (count == 2 && ids [0] == 3 && ids [1] == 1, "%zu", count);
    segq__job_store_destroy (&store);
}

static int
s_collect (void *arg, const segq__job_row_t *row)
{
    uint64_t *seen = arg;
    seen [seen [0] + 1] = row->id;
    seen [0]++;
    if (row->id == 2) {
        cr_assert_str_eq (row->worker, "node-b");
        cr_assert_eq (row->gpu, 1);
        cr_assert_eq (row->n_transitions, 2);
    }
    return 0;
}

/* A job's parameters stored as msgpack that s_params_pack did not write (a
   damaged database) read as an I/O error with nothing half-read, never a
   crash or a leak. */
Test (job_store, damaged_parameters_read_as_an_error, .init = setup, .fini = teardown,
      .timeout = 10)
{
    static const struct {
        const char *why, *hex;
    } damaged [] = {
        { "not an array", "00" },
        { "cut short", "9193a161" },
        { "an entry that is no triple", "9192a16101" },
        { "a string where INT is declared", "9193a16101a178" },
        { "an integer where FLOAT is declared", "9193a1610205" },
        { "an unknown type", "9193a1610900" },
        { "a good entry, then a bad one", "9293a16101059193a16209c3" },
    };
    segq__job_store_t *store = s_open ();
    cr_assert_eq (segq__job_store_begin (store), 0);
    for (size_t i = 0; i < sizeof damaged / sizeof damaged [0]; i++)
        s_insert (store, segq__job_store_next_id (store), SEGQ_JOB_QUEUED, NULL);
    char err [256];
    cr_assert_eq (segq__job_store_commit (store, err, sizeof err), 0, "%s", err);
    segq__job_store_destroy (&store);
    for (size_t i = 0; i < sizeof damaged / sizeof damaged [0]; i++) {
        char sql [256], ignored [8];
        snprintf (sql, sizeof sql, "UPDATE jobs SET params = X'%s' WHERE id = %zu", damaged [i].hex,
                  i + 1);
        s_query (sql, ignored, sizeof ignored);
    }
    store = s_open ();
    for (size_t i = 0; i < sizeof damaged / sizeof damaged [0]; i++) {
        segq_params_t params = { 0 };
        cr_expect_eq (segq__job_store_params (store, i + 1, &params), SEGQ_EIO, "%s",
                      damaged [i].why);
        cr_expect_eq (params.count, 0, "%s: half read", damaged [i].why);
        segq_params_clear (&params);
    }
    segq__job_store_destroy (&store);
}

Test (job_store, load_active_returns_only_unfinished_jobs, .init = setup, .fini = teardown,
      .timeout = 10)
{
    segq__job_store_t *store = s_open ();
    cr_assert_eq (segq__job_store_begin (store), 0);
    for (int n = 1; n <= 4; n++)
        s_insert (store, segq__job_store_next_id (store), SEGQ_JOB_QUEUED, NULL);
    cr_assert_eq (segq__job_store_set_running (store, 2, 1, "node-b", 1, 2.0), 0);
    cr_assert_eq (segq__job_store_add_transition (store, 2, 2, SEGQ_JOB_RUNNING, 2.0, NULL), 0);
    cr_assert_eq (segq__job_store_set_final (store, 3, SEGQ_JOB_FAILED, 3.0, "boom", 1, 0), 0);
    cr_assert_eq (segq__job_store_set_final (store, 4, SEGQ_JOB_CANCELLED, 3.0, "by alice", -1, 0),
                  0);
    char err [256];
    cr_assert_eq (segq__job_store_commit (store, err, sizeof err), 0);
    uint64_t seen [8] = { 0 };
    cr_assert_eq (segq__job_store_load_active (store, s_collect, seen), 0);
    cr_assert_eq (seen [0], 2);
    cr_assert_eq (seen [1], 1);
    cr_assert_eq (seen [2], 2);
    segq__job_brief_t brief;
    cr_assert_eq (segq__job_store_brief (store, 3, &brief), 0);
    cr_assert_eq (brief.state, SEGQ_JOB_FAILED);
    cr_assert_str_eq (brief.kind, "sleep");
    segq__job_store_destroy (&store);
}
