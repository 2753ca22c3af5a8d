/*  job_store.c: SQLite persistence of jobs, inputs, dependencies, outputs,
    transitions and the workers seen. Every statement is prepared once. */
#include "job_store.h"
#include <msgpack.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- schema and migrations ---- */

/* Migration 1: the initial schema. A later version adds s_migrate_2 and a
   row in s_migrations; databases of any older version are brought forward
   one migration at a time, each in its own transaction. */
static int
s_migrate_1 (sqlite3 *db, char **errmsg)
{
    return sqlite3_exec (
        db,
        "CREATE TABLE meta (key TEXT PRIMARY KEY, value INTEGER NOT NULL) WITHOUT ROWID;"
        "INSERT INTO meta VALUES ('next_job', 1);"
        "CREATE TABLE jobs ("
        "  id INTEGER PRIMARY KEY, owner TEXT NOT NULL, kind TEXT NOT NULL,"
        "  state INTEGER NOT NULL, priority INTEGER NOT NULL,"
        "  attempt INTEGER NOT NULL DEFAULT 0, max_attempts INTEGER NOT NULL,"
        "  gpu_mem INTEGER NOT NULL, cpu_slots INTEGER NOT NULL,"
        "  time_limit_s INTEGER NOT NULL, params BLOB NOT NULL,"
        "  created REAL NOT NULL, started REAL, finished REAL,"
        "  worker TEXT, gpu INTEGER NOT NULL DEFAULT -1, reason TEXT,"
        "  exit_code INTEGER NOT NULL DEFAULT -1, signal INTEGER NOT NULL DEFAULT 0,"
        "  cancel TEXT, has_inputs INTEGER NOT NULL DEFAULT 0);"
        /* start-up reloads only the unfinished jobs, however long the history */
        "CREATE INDEX jobs_active ON jobs (state) WHERE state <= 3;"
        "CREATE TABLE inputs (job INTEGER NOT NULL, n INTEGER NOT NULL,"
        "  name TEXT NOT NULL, hash TEXT, size INTEGER NOT NULL DEFAULT 0,"
        "  ref_job INTEGER, ref_output TEXT, PRIMARY KEY (job, n)) WITHOUT ROWID;"
        "CREATE TABLE deps (job INTEGER NOT NULL, on_job INTEGER NOT NULL,"
        "  explicit INTEGER NOT NULL, PRIMARY KEY (job, on_job)) WITHOUT ROWID;"
        "CREATE TABLE outputs (job INTEGER NOT NULL, name TEXT NOT NULL,"
        "  hash TEXT NOT NULL, size INTEGER NOT NULL,"
        "  PRIMARY KEY (job, name)) WITHOUT ROWID;"
        "CREATE TABLE transitions (job INTEGER NOT NULL, n INTEGER NOT NULL,"
        "  state INTEGER NOT NULL, time REAL NOT NULL, reason TEXT,"
        "  PRIMARY KEY (job, n)) WITHOUT ROWID;"
        "CREATE TABLE workers (node TEXT PRIMARY KEY, first_seen REAL NOT NULL,"
        "  last_seen REAL NOT NULL, cpu_slots INTEGER NOT NULL,"
        "  gpus TEXT NOT NULL, kinds TEXT NOT NULL) WITHOUT ROWID;",
        NULL, NULL, errmsg);
}

/* Migration 2: the newest checkpoint of each job (CHECKPOINT), so a
   requeued training resumes where its lost attempt left off. */
static int
s_migrate_2 (sqlite3 *db, char **errmsg)
{
    return sqlite3_exec (
        db,
        "CREATE TABLE checkpoints (job INTEGER PRIMARY KEY, attempt INTEGER NOT NULL,"
        "  name TEXT NOT NULL, hash TEXT NOT NULL, size INTEGER NOT NULL,"
        "  step INTEGER NOT NULL, time REAL NOT NULL);",
        NULL, NULL, errmsg);
}

/* Migration 3: patient data. A job's artifacts can be purged (by its
   owner, an admin, or retention): the row stays, saying when and by whom.
   The indexes let retention find expired jobs in order and tell whether
   any other job still refers to an artifact or needs a job's outputs. */
static int
s_migrate_3 (sqlite3 *db, char **errmsg)
{
    return sqlite3_exec (
        db,
        "ALTER TABLE jobs ADD COLUMN purged REAL;"
        "ALTER TABLE jobs ADD COLUMN purged_by TEXT;"
        "CREATE INDEX jobs_expired ON jobs (finished, id) WHERE state >= 4 AND purged IS NULL;"
        "CREATE INDEX inputs_hash ON inputs (hash) WHERE hash IS NOT NULL;"
        "CREATE INDEX inputs_ref ON inputs (ref_job) WHERE ref_job IS NOT NULL;"
        "CREATE INDEX outputs_hash ON outputs (hash);",
        NULL, NULL, errmsg);
}

/* Migration 4: job arrays (jobs submitted together under an id of their own). */
static int
s_migrate_4 (sqlite3 *db, char **errmsg)
{
    return sqlite3_exec (db,
                         "CREATE TABLE arrays (id INTEGER PRIMARY KEY, owner TEXT NOT NULL,"
                         "  created REAL NOT NULL);"
                         "CREATE TABLE array_jobs (array INTEGER NOT NULL, n INTEGER NOT NULL,"
                         "  job INTEGER NOT NULL, PRIMARY KEY (array, n)) WITHOUT ROWID;",
                         NULL, NULL, errmsg);
}

/* Migration 5: who uploaded which content (`by` a user, or with worker 1
   a worker node). Sending the bytes proves one has them: only that (or a
   job one may read that holds them) lets a submit name an artifact by its
   bare hash, or a worker name it as a job's output. */
static int
s_migrate_5 (sqlite3 *db, char **errmsg)
{
    return sqlite3_exec (
        db,
        "CREATE TABLE uploads (hash TEXT NOT NULL, worker INTEGER NOT NULL, by TEXT NOT NULL,"
        "  PRIMARY KEY (hash, worker, by)) WITHOUT ROWID;",
        NULL, NULL, errmsg);
}

/* Migration 6: the catalogue of trained models (models.c). A model is
   its training job's (job is its key; its id is "m-" and that job's id);
   `removed` keeps a removed model's row, so the backfill of trainings that
   succeeded before the catalogue existed never brings it back. A job's
   input that named a model keeps which (inputs.model), for the access
   rule: a model shared with a user lets their jobs read its checkpoint,
   never the user. */
static int
s_migrate_6 (sqlite3 *db, char **errmsg)
{
    return sqlite3_exec (
        db,
        "CREATE TABLE models (job INTEGER PRIMARY KEY, owner TEXT NOT NULL, name TEXT NOT NULL,"
        "  created REAL NOT NULL, scales INTEGER NOT NULL DEFAULT 0,"
        "  height INTEGER NOT NULL DEFAULT 0, width INTEGER NOT NULL DEFAULT 0, note TEXT,"
        "  pinned INTEGER NOT NULL DEFAULT 0, lab INTEGER NOT NULL DEFAULT 0,"
        "  removed INTEGER NOT NULL DEFAULT 0);"
        "CREATE UNIQUE INDEX models_owner_name ON models (owner, name) WHERE removed = 0;"
        "CREATE INDEX models_name ON models (name) WHERE removed = 0;"
        "CREATE TABLE model_tags (job INTEGER NOT NULL, tag TEXT NOT NULL,"
        "  PRIMARY KEY (job, tag)) WITHOUT ROWID;"
        "CREATE TABLE model_shares (job INTEGER NOT NULL, user TEXT NOT NULL,"
        "  PRIMARY KEY (job, user)) WITHOUT ROWID;"
        "CREATE INDEX model_shares_user ON model_shares (user, job);"
        "ALTER TABLE inputs ADD COLUMN model INTEGER;"
        "CREATE INDEX inputs_model ON inputs (model) WHERE model IS NOT NULL;"
        "INSERT INTO meta VALUES ('models_backfilled', 0);",
        NULL, NULL, errmsg);
}

/* Migration 7: hold (`segq hold`), and accounting: one row per run that
   ended (accounting.c). Rows outlive their job's files (purge, retention)
   and keep only what was used, never data names. */
static int
s_migrate_7 (sqlite3 *db, char **errmsg)
{
    return sqlite3_exec (
        db,
        "ALTER TABLE jobs ADD COLUMN held INTEGER NOT NULL DEFAULT 0;"
        "CREATE TABLE usage (job INTEGER NOT NULL, attempt INTEGER NOT NULL,"
        "  owner TEXT NOT NULL, kind TEXT NOT NULL, node TEXT, outcome INTEGER NOT NULL,"
        "  started REAL NOT NULL, ended REAL NOT NULL, cpu_slots INTEGER NOT NULL,"
        "  gpu_mem INTEGER NOT NULL, cpu_seconds REAL, max_rss INTEGER, gpu_peak INTEGER,"
        "  PRIMARY KEY (job, attempt)) WITHOUT ROWID;"
        "CREATE INDEX usage_ended ON usage (ended);",
        NULL, NULL, errmsg);
}

/* Migration 8: which job a retry (SUBMIT `retry`) submitted again, and
   the first job of its chain (root), so that the newest retry of any job
   of a chain is one indexed query however long the chain: a later retry
   of a job that read a failed one's outputs reads the newest retry's
   instead (retry.c). */
static int
s_migrate_8 (sqlite3 *db, char **errmsg)
{
    return sqlite3_exec (db,
                         "CREATE TABLE retries (job INTEGER PRIMARY KEY, of INTEGER NOT NULL,"
                         "  root INTEGER NOT NULL);"
                         "CREATE INDEX retries_root ON retries (root, job);",
                         NULL, NULL, errmsg);
}

/* Migration 9: how many scales a model's training meant to train, beside
   the scales it did (a training stopped early, --stop-after-scale, makes
   a model that cannot generate: refused at submit). 0: not reported. */
static int
s_migrate_9 (sqlite3 *db, char **errmsg)
{
    return sqlite3_exec (db,
                         "ALTER TABLE models ADD COLUMN scales_total INTEGER NOT NULL DEFAULT 0;",
                         NULL, NULL, errmsg);
}

typedef int (migration_fn) (sqlite3 *db, char **errmsg);
static migration_fn *s_migrations [SEGQ_STORE_SCHEMA_VERSION] = {
    s_migrate_1, s_migrate_2, s_migrate_3, s_migrate_4, s_migrate_5,
    s_migrate_6, s_migrate_7, s_migrate_8, s_migrate_9
};

/* ---- prepared statements ---- */

typedef enum {
    ST_BEGIN,
    ST_COMMIT,
    ST_ROLLBACK,
    ST_SET_NEXT,
    ST_INSERT_JOB,
    ST_INSERT_INPUT,
    ST_INSERT_DEP,
    ST_INSERT_TRANSITION,
    ST_SET_RUNNING,
    ST_SET_QUEUED,
    ST_SET_PRIORITY,
    ST_SET_FINAL,
    ST_SET_CANCEL,
    ST_SET_HELD,
    ST_FIRST_PENDING_DEP,
    ST_INSERT_OUTPUT,
    ST_WORKER_SEEN,
    ST_SET_CHECKPOINT,
    ST_CHECKPOINT,
    ST_LOAD_ACTIVE,
    ST_LOAD_DEPS,
    ST_JOB_STATE,
    ST_PARAMS,
    ST_INPUTS,
    ST_OUTPUTS,
    ST_OUTPUT,
    ST_INFO,
    ST_AFTER,
    ST_HISTORY,
    ST_LIST,
    ST_LIST_NEWEST,
    ST_NEXT_ARRAY,
    ST_INSERT_ARRAY,
    ST_INSERT_ARRAY_JOB,
    ST_ARRAY,
    ST_ARRAY_JOBS,
    ST_INPUT_HASH,
    ST_INSERT_RETRY,
    ST_NEWEST_RETRY,
    ST_COUNT
} stmt_t;

static const char *s_sql [ST_COUNT] = {
    [ST_BEGIN] = "BEGIN",
    [ST_COMMIT] = "COMMIT",
    [ST_ROLLBACK] = "ROLLBACK",
    [ST_SET_NEXT] = "UPDATE meta SET value = ?1 WHERE key = 'next_job'",
    [ST_INSERT_JOB] = "INSERT INTO jobs (id, owner, kind, state, priority, max_attempts, gpu_mem,"
                      " cpu_slots, time_limit_s, params, created, has_inputs)"
                      " VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12)",
    [ST_INSERT_INPUT] = "INSERT INTO inputs (job, n, name, hash, size, ref_job, ref_output, model)"
                        " VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
    [ST_INSERT_DEP] = "INSERT OR IGNORE INTO deps (job, on_job, explicit) VALUES (?1, ?2, ?3)",
    [ST_INSERT_TRANSITION] =
        "INSERT INTO transitions (job, n, state, time, reason) VALUES (?1, ?2, ?3, ?4, ?5)",
    [ST_SET_RUNNING] =
        "UPDATE jobs SET state = 3, attempt = ?2, worker = ?3, gpu = ?4, started = ?5"
        " WHERE id = ?1",
    [ST_SET_QUEUED] = "UPDATE jobs SET state = 2, worker = NULL, gpu = -1 WHERE id = ?1",
    [ST_SET_PRIORITY] = "UPDATE jobs SET priority = ?2 WHERE id = ?1",
    [ST_SET_FINAL] = "UPDATE jobs SET state = ?2, finished = ?3, reason = ?4, exit_code = ?5,"
                     " signal = ?6 WHERE id = ?1",
    [ST_SET_CANCEL] = "UPDATE jobs SET cancel = ?2 WHERE id = ?1",
    [ST_SET_HELD] = "UPDATE jobs SET held = ?2 WHERE id = ?1",
    [ST_FIRST_PENDING_DEP] = "SELECT d.on_job, count(*) OVER () FROM deps d JOIN jobs j"
                             " ON j.id = d.on_job WHERE d.job = ?1 AND j.state != 4"
                             " ORDER BY d.on_job LIMIT 1",
    [ST_INSERT_OUTPUT] =
        "INSERT OR REPLACE INTO outputs (job, name, hash, size) VALUES (?1, ?2, ?3, ?4)",
    [ST_WORKER_SEEN] = "INSERT INTO workers (node, first_seen, last_seen, cpu_slots, gpus, kinds)"
                       " VALUES (?1, ?2, ?2, ?3, ?4, ?5) ON CONFLICT (node) DO UPDATE SET"
                       " last_seen = ?2, cpu_slots = ?3, gpus = ?4, kinds = ?5",
    [ST_SET_CHECKPOINT] =
        "INSERT OR REPLACE INTO checkpoints (job, attempt, name, hash, size, step, time)"
        " VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
    [ST_CHECKPOINT] = "SELECT name, hash, size, step FROM checkpoints WHERE job = ?1",
    [ST_LOAD_ACTIVE] = "SELECT id, owner, kind, state, priority, attempt, max_attempts, gpu_mem,"
                       " cpu_slots, time_limit_s, created, worker, gpu, cancel, has_inputs,"
                       " (SELECT count(*) FROM transitions t WHERE t.job = jobs.id), held, started"
                       " FROM jobs WHERE state <= 3 ORDER BY id",
    [ST_LOAD_DEPS] = "SELECT d.job, d.on_job FROM jobs j JOIN deps d ON d.job = j.id"
                     " WHERE j.state = 1 ORDER BY d.job",
    [ST_JOB_STATE] =
        "SELECT state, attempt, owner, kind, purged IS NOT NULL FROM jobs WHERE id = ?1",
    [ST_PARAMS] = "SELECT params FROM jobs WHERE id = ?1",
    /* one input's content: its own, or the output of the job it names */
    [ST_INPUT_HASH] = "SELECT COALESCE (i.hash, (SELECT o.hash FROM outputs o WHERE o.job ="
                      " i.ref_job AND o.name = i.ref_output)) FROM inputs i WHERE i.job = ?1"
                      " AND (i.name = ?2 OR i.name LIKE ?2 || '/%') ORDER BY i.n LIMIT 1",
    [ST_INPUTS] =
        "SELECT name, hash, size, ref_job, ref_output, model FROM inputs WHERE job = ?1 ORDER BY n",
    [ST_OUTPUTS] = "SELECT name, hash, size FROM outputs WHERE job = ?1 ORDER BY name",
    [ST_OUTPUT] = "SELECT name, hash, size FROM outputs WHERE job = ?1 AND name = ?2",
    [ST_INFO] = "SELECT owner, kind, state, priority, attempt, max_attempts, gpu_mem, cpu_slots,"
                " time_limit_s, params, created, started, finished, worker, gpu, reason,"
                " exit_code, signal, held FROM jobs WHERE id = ?1",
    [ST_AFTER] = "SELECT on_job FROM deps WHERE job = ?1 AND explicit = 1 ORDER BY on_job",
    [ST_HISTORY] = "SELECT state, time, reason FROM transitions WHERE job = ?1 ORDER BY n",
    [ST_LIST] = "SELECT id FROM jobs WHERE id > ?1 AND (?2 IS NULL OR owner = ?2)"
                " AND (?3 = 0 OR state = ?3) ORDER BY id LIMIT ?4",
    [ST_LIST_NEWEST] =
        "SELECT id FROM jobs WHERE (?1 = 0 OR id < ?1) AND (?2 IS NULL OR owner = ?2)"
        " AND (?3 = 0 OR state = ?3) ORDER BY id DESC LIMIT ?4",
    [ST_NEXT_ARRAY] = "SELECT coalesce(max(id), 0) + 1 FROM arrays",
    [ST_INSERT_ARRAY] = "INSERT INTO arrays (id, owner, created) VALUES (?1, ?2, ?3)",
    [ST_INSERT_ARRAY_JOB] = "INSERT INTO array_jobs (array, n, job) VALUES (?1, ?2, ?3)",
    [ST_ARRAY] = "SELECT owner, created FROM arrays WHERE id = ?1",
    [ST_ARRAY_JOBS] = "SELECT job FROM array_jobs WHERE array = ?1 ORDER BY n",
    [ST_INSERT_RETRY] = "INSERT INTO retries (job, of, root) VALUES (?1, ?2,"
                        " COALESCE ((SELECT root FROM retries WHERE job = ?2), ?2))",
    [ST_NEWEST_RETRY] = "SELECT MAX(job) FROM retries WHERE job > ?1 AND root ="
                        " COALESCE ((SELECT root FROM retries WHERE job = ?1), ?1)",
};

struct segq__job_store {
    sqlite3 *db;
    sqlite3_stmt *stmt [ST_COUNT];
    bool in_txn;
    uint64_t next_id;        /* next job number to hand out */
    uint64_t stored_next_id; /* as of the last write of meta.next_job */
    msgpack_sbuffer pack;    /* reused for every job's parameters */
};

/* ---- job ids ---- */

static const char s_b32 [] = "0123456789abcdefghjkmnpqrstvwxyz";

void
segq__job_id_format (uint64_t number, char out [SEGQ__JOB_ID_MAX])
{
    char digits [SEGQ__JOB_ID_MAX];
    size_t n = 0;
    do {
        digits [n++] = s_b32 [number & 31];
        number >>= 5;
    } while (number);
    while (n < 4)
        digits [n++] = '0';
    for (size_t i = 0; i < n; i++)
        out [i] = digits [n - 1 - i];
    out [n] = 0;
}

uint64_t
segq__job_id_parse (const char *text)
{
    if (!text)
        return 0;
    size_t len = strlen (text);
    if (len < 4 || len > 13)
        return 0;
    uint64_t number = 0;
    for (size_t i = 0; i < len; i++) {
        const char *digit = memchr (s_b32, text [i], 32);
        if (!digit || !text [i])
            return 0;
        if (number >> 59)
            return 0; /* would overflow */
        number = (number << 5) | (uint64_t) (digit - s_b32);
    }
    /* a canonical id only: no extra leading zeros beyond the 4-digit pad */
    char again [SEGQ__JOB_ID_MAX];
    segq__job_id_format (number, again);
    return strcmp (again, text) == 0 ? number : 0;
}

/* ---- parameters blob: msgpack array of [name, type, value] ---- */

static int
s_params_pack (const segq_params_t *params, msgpack_sbuffer *buffer)
{
    msgpack_packer packer;
    msgpack_packer_init (&packer, buffer, msgpack_sbuffer_write);
    int rc = msgpack_pack_array (&packer, params->count);
    for (size_t i = 0; i < params->count && rc == 0; i++) {
        const segq_param_t *param = &params->items [i];
        size_t len = strlen (param->name);
        rc |= msgpack_pack_array (&packer, 3);
        rc |= msgpack_pack_str (&packer, len);
        rc |= msgpack_pack_str_body (&packer, param->name, len);
        rc |= msgpack_pack_int (&packer, param->value.type);
        switch (param->value.type) {
        case SEGQ_PARAM_INT:
            rc |= msgpack_pack_int64 (&packer, param->value.i);
            break;
        case SEGQ_PARAM_FLOAT:
            rc |= msgpack_pack_double (&packer, param->value.f);
            break;
        case SEGQ_PARAM_BOOL:
            rc |= param->value.b ? msgpack_pack_true (&packer) : msgpack_pack_false (&packer);
            break;
        default: {
            const char *s = param->value.s ? param->value.s : "";
            rc |= msgpack_pack_str (&packer, strlen (s));
            rc |= msgpack_pack_str_body (&packer, s, strlen (s));
        }
        }
    }
    return rc ? SEGQ_ENOMEM : 0;
}

static char *
s_strndup (const char *s, size_t len)
{
    char *copy = malloc (len + 1);
    if (copy) {
        memcpy (copy, s, len);
        copy [len] = 0;
    }
    return copy;
}

/* One stored value of the type its entry declares; false when the stored
   object is not of that type (or a string could not be copied). */
static bool
s_value_unpack (const msgpack_object *value, segq_value_t *v)
{
    switch (v->type) {
    case SEGQ_PARAM_INT:
        if (value->type == MSGPACK_OBJECT_POSITIVE_INTEGER)
            v->i = (int64_t) value->via.u64;
        else if (value->type == MSGPACK_OBJECT_NEGATIVE_INTEGER)
            v->i = value->via.i64;
        else
            return false;
        return true;
    case SEGQ_PARAM_FLOAT:
        v->f = value->via.f64;
        return value->type == MSGPACK_OBJECT_FLOAT64 || value->type == MSGPACK_OBJECT_FLOAT32;
    case SEGQ_PARAM_BOOL:
        v->b = value->via.boolean;
        return value->type == MSGPACK_OBJECT_BOOLEAN;
    case SEGQ_PARAM_STRING:
    case SEGQ_PARAM_CHOICE:
        if (value->type != MSGPACK_OBJECT_STR)
            return false;
        v->s = s_strndup (value->via.str.ptr, value->via.str.size);
        return v->s != NULL;
    }
    return false;
}

/* The blob was written by s_params_pack, but a damaged database must still
   give an error, not a crash: every type is checked. */
static int
s_params_unpack (const void *blob, size_t size, segq_params_t *params)
{
    msgpack_unpacked unpacked;
    msgpack_unpacked_init (&unpacked);
    int rc = SEGQ_EIO;
    if (msgpack_unpack_next (&unpacked, blob, size, NULL) != MSGPACK_UNPACK_SUCCESS
        || unpacked.data.type != MSGPACK_OBJECT_ARRAY)
        goto done;
    msgpack_object_array *array = &unpacked.data.via.array;
    for (uint32_t i = 0; i < array->size; i++) {
        msgpack_object *item = &array->ptr [i];
        if (item->type != MSGPACK_OBJECT_ARRAY || item->via.array.size != 3
            || item->via.array.ptr [0].type != MSGPACK_OBJECT_STR
            || item->via.array.ptr [1].type != MSGPACK_OBJECT_POSITIVE_INTEGER)
            goto done;
        msgpack_object *name = &item->via.array.ptr [0];
        segq_value_t v = { .type = (segq_param_type_t) item->via.array.ptr [1].via.u64 };
        char *owned_name = s_strndup (name->via.str.ptr, name->via.str.size);
        if (!owned_name) {
            rc = SEGQ_ENOMEM;
            goto done;
        }
        bool ok = s_value_unpack (&item->via.array.ptr [2], &v);
        int set_rc = ok ? segq_params_set (params, owned_name, &v) : SEGQ_EIO;
        free (owned_name);
        free (v.s);
        if (set_rc) {
            rc = set_rc;
            goto done;
        }
    }
    rc = 0;
done:
    msgpack_unpacked_destroy (&unpacked);
    if (rc)
        segq_params_clear (params);
    return rc;
}

/* ---- open, migrate, close ---- */

static int
s_exec (sqlite3 *db, const char *sql, char *err, size_t errlen, const char *what)
{
    char *message = NULL;
    if (sqlite3_exec (db, sql, NULL, NULL, &message) == SQLITE_OK)
        return 0;
    snprintf (err, errlen, "%s: %s", what, message ? message : sqlite3_errmsg (db));
    sqlite3_free (message);
    return SEGQ_EIO;
}

int
segq__job_store_read_version (sqlite3 *db, int *version)
{
    sqlite3_stmt *stmt;
    *version = 0;
    if (sqlite3_prepare_v2 (db, "SELECT count(*) FROM sqlite_master WHERE name = 'schema_version'",
                            -1, &stmt, NULL)
        != SQLITE_OK)
        return SEGQ_EIO;
    bool exists = sqlite3_step (stmt) == SQLITE_ROW && sqlite3_column_int (stmt, 0) > 0;
    sqlite3_finalize (stmt);
    if (!exists)
        return 0;
    if (sqlite3_prepare_v2 (db, "SELECT version FROM schema_version", -1, &stmt, NULL) != SQLITE_OK)
        return SEGQ_EIO;
    if (sqlite3_step (stmt) == SQLITE_ROW)
        *version = sqlite3_column_int (stmt, 0);
    sqlite3_finalize (stmt);
    return 0;
}

int
segq__job_store_read_next_id (sqlite3 *db, uint64_t *next_id)
{
    sqlite3_stmt *stmt;
    *next_id = 0;
    if (sqlite3_prepare_v2 (db, "SELECT value FROM meta WHERE key = 'next_job'", -1, &stmt, NULL)
        != SQLITE_OK)
        return SEGQ_EIO;
    if (sqlite3_step (stmt) == SQLITE_ROW)
        *next_id = (uint64_t) sqlite3_column_int64 (stmt, 0);
    sqlite3_finalize (stmt);
    return *next_id ? 0 : SEGQ_EIO;
}

static int
s_migrate (sqlite3 *db, const char *path, char *err, size_t errlen)
{
    int version;
    if (segq__job_store_read_version (db, &version)) {
        snprintf (err, errlen, "%s: cannot read the schema version: %s", path, sqlite3_errmsg (db));
        return SEGQ_EIO;
    }
    if (version > SEGQ_STORE_SCHEMA_VERSION) {
        snprintf (err, errlen,
                  "%s: database schema version %d is newer than this segqd "
                  "(%d): upgrade segqd",
                  path, version, SEGQ_STORE_SCHEMA_VERSION);
        return SEGQ_EINVAL;
    }
    for (int next = version + 1; next <= SEGQ_STORE_SCHEMA_VERSION; next++) {
        char *message = NULL;
        int rc = s_exec (db, "BEGIN IMMEDIATE", err, errlen, path);
        if (rc)
            return rc;
        if (next == 1)
            rc = sqlite3_exec (db,
                               "CREATE TABLE schema_version (version INTEGER NOT NULL);"
                               "INSERT INTO schema_version VALUES (0);",
                               NULL, NULL, &message);
        if (rc == SQLITE_OK)
            rc = s_migrations [next - 1](db, &message);
        if (rc == SQLITE_OK) {
            char sql [64];
            snprintf (sql, sizeof sql, "UPDATE schema_version SET version = %d", next);
            rc = sqlite3_exec (db, sql, NULL, NULL, &message);
        }
        if (rc != SQLITE_OK) {
            snprintf (err, errlen, "%s: migration to schema version %d failed: %s", path, next,
                      message ? message : sqlite3_errmsg (db));
            sqlite3_free (message);
            sqlite3_exec (db, "ROLLBACK", NULL, NULL, NULL);
            return SEGQ_EIO;
        }
        if ((rc = s_exec (db, "COMMIT", err, errlen, path)))
            return rc;
    }
    return 0;
}

segq__job_store_t *
segq__job_store_open (const char *path, char *err, size_t errlen)
{
    segq__job_store_t *self = calloc (1, sizeof *self);
    if (!self) {
        snprintf (err, errlen, "out of memory opening %s", path);
        return NULL;
    }
    msgpack_sbuffer_init (&self->pack);
    if (sqlite3_open_v2 (path, &self->db,
                         SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX, NULL)
        != SQLITE_OK) {
        snprintf (err, errlen, "cannot open database %s: %s", path,
                  self->db ? sqlite3_errmsg (self->db) : "out of memory");
        goto fail;
    }
    /* WAL: each commit is one sequential append. synchronous=FULL: the
       commit returns once the WAL is synced, so a commit the broker
       acknowledges survives a power cut; one commit per reactor turn keeps
       that to one fsync per turn (group commit) */
    if (s_exec (self->db, "PRAGMA journal_mode = WAL", err, errlen, path)
        || s_exec (self->db, "PRAGMA synchronous = FULL", err, errlen, path)
        /* segqd is the database's only user: holding its locks for good spares
           every transaction its fcntl lock calls and the shared-memory index
           (about a tenth of the broker's CPU at 12,000 jobs/s) */
        || s_exec (self->db, "PRAGMA locking_mode = EXCLUSIVE", err, errlen, path)
        /* a big page cache keeps a large batch from spilling mid-transaction;
           rarer checkpoints keep their fsyncs off most commits */
        || s_exec (self->db, "PRAGMA cache_size = -65536", err, errlen, path)
        || s_exec (self->db, "PRAGMA wal_autocheckpoint = 16384", err, errlen, path)
        || s_exec (self->db, "PRAGMA foreign_keys = OFF", err, errlen, path)
        || s_migrate (self->db, path, err, errlen))
        goto fail;
    for (int i = 0; i < ST_COUNT; i++)
        if (sqlite3_prepare_v3 (self->db, s_sql [i], -1, SQLITE_PREPARE_PERSISTENT, &self->stmt [i],
                                NULL)
            != SQLITE_OK) {
            snprintf (err, errlen, "%s: cannot prepare statement %d: %s", path, i,
                      sqlite3_errmsg (self->db));
            goto fail;
        }
    if (segq__job_store_read_next_id (self->db, &self->next_id) != 0) {
        snprintf (err, errlen, "%s: the job counter is missing: the database is damaged", path);
        goto fail;
    }
    self->stored_next_id = self->next_id;
    return self;
fail:
    /* the lock a running segqd holds for good (locking_mode above) */
    if (self->db && sqlite3_errcode (self->db) == SQLITE_BUSY)
        snprintf (err, errlen,
                  "%s is in use by another segqd (or a segqd restore) on that data directory: "
                  "one broker per data directory; stop the other first",
                  path);
    segq__job_store_destroy (&self);
    return NULL;
}

void
segq__job_store_destroy (segq__job_store_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    segq__job_store_t *self = *self_p;
    if (self->in_txn)
        segq__job_store_rollback (self);
    for (int i = 0; i < ST_COUNT; i++)
        sqlite3_finalize (self->stmt [i]);
    sqlite3_close (self->db);
    msgpack_sbuffer_destroy (&self->pack);
    free (self);
    *self_p = NULL;
}

sqlite3 *
segq__job_store_db (segq__job_store_t *self)
{
    return self->db;
}

int
segq__job_store_schema_version (segq__job_store_t *self)
{
    int version;
    return segq__job_store_read_version (self->db, &version) ? -1 : version;
}

/* ---- statement helpers ---- */

static sqlite3_stmt *
s_stmt (segq__job_store_t *self, stmt_t which)
{
    sqlite3_stmt *stmt = self->stmt [which];
    sqlite3_reset (stmt);
    sqlite3_clear_bindings (stmt);
    return stmt;
}

static void
s_bind_text (sqlite3_stmt *stmt, int col, const char *text)
{
    if (text)
        sqlite3_bind_text (stmt, col, text, -1, SQLITE_STATIC);
    else
        sqlite3_bind_null (stmt, col);
}

static int
s_done (segq__job_store_t *self, sqlite3_stmt *stmt)
{
    int rc = sqlite3_step (stmt);
    sqlite3_reset (stmt);
    if (rc == SQLITE_DONE)
        return 0;
    rc = sqlite3_errcode (self->db);
    return rc == SQLITE_FULL ? SEGQ_ENOSPC : SEGQ_EIO;
}

static const char *
s_text (sqlite3_stmt *stmt, int col)
{
    return (const char *) sqlite3_column_text (stmt, col);
}

static char *
s_dup_text (sqlite3_stmt *stmt, int col)
{
    const char *text = s_text (stmt, col);
    return text ? strdup (text) : NULL;
}

/* Whether s_dup_text of column col ran out of memory: the column holds
   text and its copy is NULL. Before the statement is reset. */
static bool
s_dup_lost (sqlite3_stmt *stmt, int col, const char *copy)
{
    return !copy && s_text (stmt, col);
}

/* ---- transactions ---- */

int
segq__job_store_begin (segq__job_store_t *self)
{
    if (self->in_txn)
        return 0;
    int rc = s_done (self, s_stmt (self, ST_BEGIN));
    if (rc == 0)
        self->in_txn = true;
    return rc;
}

bool
segq__job_store_in_transaction (segq__job_store_t *self)
{
    return self->in_txn;
}

int
segq__job_store_commit (segq__job_store_t *self, char *err, size_t errlen)
{
    if (!self->in_txn)
        return 0;
    int rc = 0;
    if (self->next_id != self->stored_next_id) {
        sqlite3_stmt *stmt = s_stmt (self, ST_SET_NEXT);
        sqlite3_bind_int64 (stmt, 1, (sqlite3_int64) self->next_id);
        rc = s_done (self, stmt);
    }
    if (rc == 0)
        rc = s_done (self, s_stmt (self, ST_COMMIT));
    if (rc) {
        snprintf (err, errlen, "cannot commit to the job database: %s%s", sqlite3_errmsg (self->db),
                  rc == SEGQ_ENOSPC ? " (free disk space in the data directory)" : "");
        segq__job_store_rollback (self);
        return rc;
    }
    self->in_txn = false;
    self->stored_next_id = self->next_id;
    return 0;
}

void
segq__job_store_rollback (segq__job_store_t *self)
{
    if (!self->in_txn)
        return;
    /* a failed COMMIT may already have ended the transaction */
    if (!sqlite3_get_autocommit (self->db))
        s_done (self, s_stmt (self, ST_ROLLBACK));
    self->in_txn = false;
    self->next_id = self->stored_next_id;
}

uint64_t
segq__job_store_next_id (segq__job_store_t *self)
{
    return self->next_id++;
}

int
segq__job_store_raise_next_id (segq__job_store_t *self, uint64_t floor, char *err, size_t errlen)
{
    if (self->next_id >= floor)
        return 0;
    int rc = segq__job_store_begin (self);
    if (rc) {
        snprintf (err, errlen, "cannot write to the job database: %s", sqlite3_errmsg (self->db));
        return rc;
    }
    /* the commit stores a counter that moved: meta.next_job */
    self->next_id = floor;
    return segq__job_store_commit (self, err, errlen);
}

/* ---- writes ---- */

int
segq__job_store_insert_job (segq__job_store_t *self, const segq__job_row_t *row,
                            const segq_params_t *params)
{
    msgpack_sbuffer_clear (&self->pack);
    msgpack_sbuffer *buffer = &self->pack;
    int rc = s_params_pack (params, buffer);
    if (rc == 0) {
        sqlite3_stmt *stmt = s_stmt (self, ST_INSERT_JOB);
        sqlite3_bind_int64 (stmt, 1, (sqlite3_int64) row->id);
        s_bind_text (stmt, 2, row->owner);
        s_bind_text (stmt, 3, row->kind);
        sqlite3_bind_int (stmt, 4, row->state);
        sqlite3_bind_int (stmt, 5, row->priority);
        sqlite3_bind_int64 (stmt, 6, row->max_attempts);
        sqlite3_bind_int64 (stmt, 7, (sqlite3_int64) row->gpu_mem);
        sqlite3_bind_int64 (stmt, 8, row->cpu_slots);
        sqlite3_bind_int64 (stmt, 9, row->time_limit_s);
        sqlite3_bind_blob (stmt, 10, buffer->data ? buffer->data : "", (int) buffer->size,
                           SQLITE_STATIC);
        sqlite3_bind_double (stmt, 11, row->created);
        sqlite3_bind_int (stmt, 12, row->has_inputs);
        rc = s_done (self, stmt);
    }
    return rc;
}

int
segq__job_store_insert_input (segq__job_store_t *self, uint64_t job, uint32_t n,
                              const segq__input_row_t *input)
{
    sqlite3_stmt *stmt = s_stmt (self, ST_INSERT_INPUT);
    sqlite3_bind_int64 (stmt, 1, (sqlite3_int64) job);
    sqlite3_bind_int64 (stmt, 2, n);
    s_bind_text (stmt, 3, input->name);
    s_bind_text (stmt, 4, input->hash);
    sqlite3_bind_int64 (stmt, 5, (sqlite3_int64) input->size);
    if (input->ref_job)
        sqlite3_bind_int64 (stmt, 6, (sqlite3_int64) input->ref_job);
    s_bind_text (stmt, 7, input->ref_output);
    if (input->model)
        sqlite3_bind_int64 (stmt, 8, (sqlite3_int64) input->model);
    return s_done (self, stmt);
}

int
segq__job_store_insert_dep (segq__job_store_t *self, uint64_t job, uint64_t on_job,
                            bool explicit_after)
{
    sqlite3_stmt *stmt = s_stmt (self, ST_INSERT_DEP);
    sqlite3_bind_int64 (stmt, 1, (sqlite3_int64) job);
    sqlite3_bind_int64 (stmt, 2, (sqlite3_int64) on_job);
    sqlite3_bind_int (stmt, 3, explicit_after);
    return s_done (self, stmt);
}

int
segq__job_store_add_transition (segq__job_store_t *self, uint64_t job, uint32_t n, int state,
                                double time, const char *reason)
{
    sqlite3_stmt *stmt = s_stmt (self, ST_INSERT_TRANSITION);
    sqlite3_bind_int64 (stmt, 1, (sqlite3_int64) job);
    sqlite3_bind_int64 (stmt, 2, n);
    sqlite3_bind_int (stmt, 3, state);
    sqlite3_bind_double (stmt, 4, time);
    s_bind_text (stmt, 5, reason);
    return s_done (self, stmt);
}

int
segq__job_store_set_running (segq__job_store_t *self, uint64_t job, uint32_t attempt,
                             const char *worker, int32_t gpu, double time)
{
    sqlite3_stmt *stmt = s_stmt (self, ST_SET_RUNNING);
    sqlite3_bind_int64 (stmt, 1, (sqlite3_int64) job);
    sqlite3_bind_int64 (stmt, 2, attempt);
    s_bind_text (stmt, 3, worker);
    sqlite3_bind_int (stmt, 4, gpu);
    sqlite3_bind_double (stmt, 5, time);
    return s_done (self, stmt);
}

int
segq__job_store_set_queued (segq__job_store_t *self, uint64_t job)
{
    sqlite3_stmt *stmt = s_stmt (self, ST_SET_QUEUED);
    sqlite3_bind_int64 (stmt, 1, (sqlite3_int64) job);
    return s_done (self, stmt);
}

int
segq__job_store_set_priority (segq__job_store_t *self, uint64_t job, int32_t priority)
{
    sqlite3_stmt *stmt = s_stmt (self, ST_SET_PRIORITY);
    sqlite3_bind_int64 (stmt, 1, (sqlite3_int64) job);
    sqlite3_bind_int (stmt, 2, priority);
    return s_done (self, stmt);
}

int
segq__job_store_set_held (segq__job_store_t *self, uint64_t job, bool held)
{
    sqlite3_stmt *stmt = s_stmt (self, ST_SET_HELD);
    sqlite3_bind_int64 (stmt, 1, (sqlite3_int64) job);
    sqlite3_bind_int (stmt, 2, held);
    return s_done (self, stmt);
}

int
segq__job_store_first_pending_dep (segq__job_store_t *self, uint64_t job, uint64_t *on_job,
                                   uint32_t *count)
{
    sqlite3_stmt *stmt = s_stmt (self, ST_FIRST_PENDING_DEP);
    sqlite3_bind_int64 (stmt, 1, (sqlite3_int64) job);
    int step = sqlite3_step (stmt);
    if (step == SQLITE_ROW) {
        *on_job = (uint64_t) sqlite3_column_int64 (stmt, 0);
        *count = (uint32_t) sqlite3_column_int64 (stmt, 1);
    }
    sqlite3_reset (stmt);
    return step == SQLITE_ROW ? 0 : step == SQLITE_DONE ? SEGQ_ENOENT : SEGQ_EIO;
}

int
segq__job_store_set_final (segq__job_store_t *self, uint64_t job, int state, double time,
                           const char *reason, int32_t exit_code, int32_t signal)
{
    sqlite3_stmt *stmt = s_stmt (self, ST_SET_FINAL);
    sqlite3_bind_int64 (stmt, 1, (sqlite3_int64) job);
    sqlite3_bind_int (stmt, 2, state);
    sqlite3_bind_double (stmt, 3, time);
    s_bind_text (stmt, 4, reason);
    sqlite3_bind_int (stmt, 5, exit_code);
    sqlite3_bind_int (stmt, 6, signal);
    return s_done (self, stmt);
}

int
segq__job_store_set_cancel (segq__job_store_t *self, uint64_t job, const char *reason)
{
    sqlite3_stmt *stmt = s_stmt (self, ST_SET_CANCEL);
    sqlite3_bind_int64 (stmt, 1, (sqlite3_int64) job);
    s_bind_text (stmt, 2, reason);
    return s_done (self, stmt);
}

int
segq__job_store_insert_output (segq__job_store_t *self, uint64_t job, const segq_artifact_t *output)
{
    sqlite3_stmt *stmt = s_stmt (self, ST_INSERT_OUTPUT);
    sqlite3_bind_int64 (stmt, 1, (sqlite3_int64) job);
    s_bind_text (stmt, 2, output->name);
    s_bind_text (stmt, 3, output->hash);
    sqlite3_bind_int64 (stmt, 4, (sqlite3_int64) output->size);
    return s_done (self, stmt);
}

int
segq__job_store_worker_seen (segq__job_store_t *self, const char *node, double time,
                             uint32_t cpu_slots, const char *gpus, const char *kinds)
{
    sqlite3_stmt *stmt = s_stmt (self, ST_WORKER_SEEN);
    s_bind_text (stmt, 1, node);
    sqlite3_bind_double (stmt, 2, time);
    sqlite3_bind_int64 (stmt, 3, cpu_slots);
    s_bind_text (stmt, 4, gpus);
    s_bind_text (stmt, 5, kinds);
    return s_done (self, stmt);
}

int
segq__job_store_set_checkpoint (segq__job_store_t *self, uint64_t job, uint32_t attempt,
                                const segq_artifact_t *checkpoint, uint32_t step, double time)
{
    sqlite3_stmt *stmt = s_stmt (self, ST_SET_CHECKPOINT);
    sqlite3_bind_int64 (stmt, 1, (sqlite3_int64) job);
    sqlite3_bind_int64 (stmt, 2, attempt);
    s_bind_text (stmt, 3, checkpoint->name);
    s_bind_text (stmt, 4, checkpoint->hash);
    sqlite3_bind_int64 (stmt, 5, (sqlite3_int64) checkpoint->size);
    sqlite3_bind_int64 (stmt, 6, step);
    sqlite3_bind_double (stmt, 7, time);
    return s_done (self, stmt);
}

int
segq__job_store_insert_retry (segq__job_store_t *self, uint64_t job, uint64_t of)
{
    sqlite3_stmt *stmt = s_stmt (self, ST_INSERT_RETRY);
    sqlite3_bind_int64 (stmt, 1, (sqlite3_int64) job);
    sqlite3_bind_int64 (stmt, 2, (sqlite3_int64) of);
    return s_done (self, stmt);
}

/* ---- reads ---- */

/* Step a query to its end, mapping a failure to an error code. */
static int
s_step_error (segq__job_store_t *self, sqlite3_stmt *stmt, int step_rc)
{
    sqlite3_reset (stmt);
    return step_rc == SQLITE_DONE ? 0 : SEGQ_EIO;
}

int
segq__job_store_load_active (segq__job_store_t *self, segq__job_row_fn *fn, void *arg)
{
    sqlite3_stmt *stmt = s_stmt (self, ST_LOAD_ACTIVE);
    int step;
    while ((step = sqlite3_step (stmt)) == SQLITE_ROW) {
        segq__job_row_t row = {
            .id = (uint64_t) sqlite3_column_int64 (stmt, 0),
            .owner = s_text (stmt, 1),
            .kind = s_text (stmt, 2),
            .state = sqlite3_column_int (stmt, 3),
            .priority = sqlite3_column_int (stmt, 4),
            .attempt = (uint32_t) sqlite3_column_int64 (stmt, 5),
            .max_attempts = (uint32_t) sqlite3_column_int64 (stmt, 6),
            .gpu_mem = (uint64_t) sqlite3_column_int64 (stmt, 7),
            .cpu_slots = (uint32_t) sqlite3_column_int64 (stmt, 8),
            .time_limit_s = (uint32_t) sqlite3_column_int64 (stmt, 9),
            .created = sqlite3_column_double (stmt, 10),
            .worker = s_text (stmt, 11),
            .gpu = sqlite3_column_int (stmt, 12),
            .cancel = s_text (stmt, 13),
            .has_inputs = sqlite3_column_int (stmt, 14) != 0,
            .n_transitions = (uint32_t) sqlite3_column_int64 (stmt, 15),
            .held = sqlite3_column_int (stmt, 16) != 0,
            .started = sqlite3_column_double (stmt, 17),
        };
        if (!row.owner || !row.kind) {
            sqlite3_reset (stmt);
            return SEGQ_EIO;
        }
        int rc = fn (arg, &row);
        if (rc) {
            sqlite3_reset (stmt);
            return rc;
        }
    }
    return s_step_error (self, stmt, step);
}

int
segq__job_store_load_waiting_deps (segq__job_store_t *self, segq__dep_row_fn *fn, void *arg)
{
    sqlite3_stmt *stmt = s_stmt (self, ST_LOAD_DEPS);
    int step;
    while ((step = sqlite3_step (stmt)) == SQLITE_ROW) {
        int rc = fn (arg, (uint64_t) sqlite3_column_int64 (stmt, 0),
                     (uint64_t) sqlite3_column_int64 (stmt, 1));
        if (rc) {
            sqlite3_reset (stmt);
            return rc;
        }
    }
    return s_step_error (self, stmt, step);
}

int
segq__job_store_brief (segq__job_store_t *self, uint64_t job, segq__job_brief_t *out)
{
    sqlite3_stmt *stmt = s_stmt (self, ST_JOB_STATE);
    sqlite3_bind_int64 (stmt, 1, (sqlite3_int64) job);
    int step = sqlite3_step (stmt);
    if (step != SQLITE_ROW) {
        sqlite3_reset (stmt);
        return step == SQLITE_DONE ? SEGQ_ENOENT : SEGQ_EIO;
    }
    out->state = sqlite3_column_int (stmt, 0);
    out->attempt = (uint32_t) sqlite3_column_int64 (stmt, 1);
    snprintf (out->owner, sizeof out->owner, "%s", s_text (stmt, 2) ? s_text (stmt, 2) : "");
    snprintf (out->kind, sizeof out->kind, "%s", s_text (stmt, 3) ? s_text (stmt, 3) : "");
    out->purged = sqlite3_column_int (stmt, 4) != 0;
    sqlite3_reset (stmt);
    return 0;
}

int
segq__job_store_params (segq__job_store_t *self, uint64_t job, segq_params_t *params)
{
    sqlite3_stmt *stmt = s_stmt (self, ST_PARAMS);
    sqlite3_bind_int64 (stmt, 1, (sqlite3_int64) job);
    int step = sqlite3_step (stmt);
    int rc = step == SQLITE_ROW    ? s_params_unpack (sqlite3_column_blob (stmt, 0),
                                                      (size_t) sqlite3_column_bytes (stmt, 0), params)
             : step == SQLITE_DONE ? SEGQ_ENOENT
                                   : SEGQ_EIO;
    sqlite3_reset (stmt);
    return rc;
}

int
segq__job_store_input_hash (segq__job_store_t *self, uint64_t job, const char *input,
                            char hash [SEGQ_HASH_HEX_LEN + 1])
{
    sqlite3_stmt *stmt = s_stmt (self, ST_INPUT_HASH);
    sqlite3_bind_int64 (stmt, 1, (sqlite3_int64) job);
    s_bind_text (stmt, 2, input);
    int step = sqlite3_step (stmt);
    const char *text = step == SQLITE_ROW ? s_text (stmt, 0) : NULL;
    int rc = text ? 0 : step == SQLITE_ROW || step == SQLITE_DONE ? SEGQ_ENOENT : SEGQ_EIO;
    if (text)
        snprintf (hash, SEGQ_HASH_HEX_LEN + 1, "%s", text);
    sqlite3_reset (stmt);
    return rc;
}

int
segq__job_store_inputs (segq__job_store_t *self, uint64_t job, segq__input_row_fn *fn, void *arg)
{
    sqlite3_stmt *stmt = s_stmt (self, ST_INPUTS);
    sqlite3_bind_int64 (stmt, 1, (sqlite3_int64) job);
    int step;
    while ((step = sqlite3_step (stmt)) == SQLITE_ROW) {
        segq__input_row_t row = {
            .name = s_text (stmt, 0),
            .hash = s_text (stmt, 1),
            .size = (uint64_t) sqlite3_column_int64 (stmt, 2),
            .ref_job = (uint64_t) sqlite3_column_int64 (stmt, 3),
            .ref_output = s_text (stmt, 4),
            .model = (uint64_t) sqlite3_column_int64 (stmt, 5),
        };
        int rc = row.name ? fn (arg, &row) : SEGQ_EIO;
        if (rc) {
            sqlite3_reset (stmt);
            return rc;
        }
    }
    return s_step_error (self, stmt, step);
}

static int
s_artifact_row (sqlite3_stmt *stmt, segq_artifact_t *artifact)
{
    const char *name = s_text (stmt, 0), *hash = s_text (stmt, 1);
    if (!name || !hash || !segq_hash_valid (hash))
        return SEGQ_EIO;
    artifact->name = (char *) name;
    memcpy (artifact->hash, hash, SEGQ_HASH_HEX_LEN + 1);
    artifact->size = (uint64_t) sqlite3_column_int64 (stmt, 2);
    return 0;
}

int
segq__job_store_outputs (segq__job_store_t *self, uint64_t job, segq__artifact_fn *fn, void *arg)
{
    sqlite3_stmt *stmt = s_stmt (self, ST_OUTPUTS);
    sqlite3_bind_int64 (stmt, 1, (sqlite3_int64) job);
    int step;
    while ((step = sqlite3_step (stmt)) == SQLITE_ROW) {
        segq_artifact_t artifact;
        int rc = s_artifact_row (stmt, &artifact);
        if (rc == 0)
            rc = fn (arg, &artifact);
        if (rc) {
            sqlite3_reset (stmt);
            return rc;
        }
    }
    return s_step_error (self, stmt, step);
}

/* The first row of a bound query as an artifact (copied into out), and
   its fourth column into *extra if asked; SEGQ_ENOENT if no row. */
static int
s_one_artifact (sqlite3_stmt *stmt, segq_artifact_t *out, uint32_t *extra)
{
    int step = sqlite3_step (stmt);
    int rc = step == SQLITE_DONE ? SEGQ_ENOENT : step != SQLITE_ROW ? SEGQ_EIO : 0;
    segq_artifact_t found;
    if (rc == 0)
        rc = s_artifact_row (stmt, &found);
    if (rc == 0 && extra)
        *extra = (uint32_t) sqlite3_column_int64 (stmt, 3);
    if (rc == 0)
        rc = segq_artifact_copy (out, &found);
    sqlite3_reset (stmt);
    return rc;
}

int
segq__job_store_output (segq__job_store_t *self, uint64_t job, const char *name,
                        segq_artifact_t *out)
{
    sqlite3_stmt *stmt = s_stmt (self, ST_OUTPUT);
    sqlite3_bind_int64 (stmt, 1, (sqlite3_int64) job);
    s_bind_text (stmt, 2, name);
    return s_one_artifact (stmt, out, NULL);
}

int
segq__job_store_checkpoint (segq__job_store_t *self, uint64_t job, segq_artifact_t *out,
                            uint32_t *step)
{
    sqlite3_stmt *stmt = s_stmt (self, ST_CHECKPOINT);
    sqlite3_bind_int64 (stmt, 1, (sqlite3_int64) job);
    return s_one_artifact (stmt, out, step);
}

/* Grow-by-one append for the small arrays of a job info. */
static void *
s_append (void *array, size_t *count, size_t item_size)
{
    char *grown = realloc (array, (*count + 1) * item_size);
    if (!grown)
        return NULL;
    memset (grown + *count * item_size, 0, item_size);
    (*count)++;
    return grown;
}

static int
s_info_output (void *arg, const segq_artifact_t *artifact)
{
    segq_job_info_t *info = arg;
    segq_artifact_t *grown = s_append (info->outputs, &info->n_outputs, sizeof *grown);
    if (!grown)
        return SEGQ_ENOMEM;
    info->outputs = grown;
    return segq_artifact_copy (&grown [info->n_outputs - 1], artifact);
}

/* "m-" and the training job's id. */
static char *
s_model_id (const char *job)
{
    char *id = malloc (strlen (job) + 3);
    if (id)
        sprintf (id, "m-%s", job);
    return id;
}

static int
s_info_input (void *arg, const segq__input_row_t *row)
{
    segq_job_info_t *info = arg;
    segq_input_t *grown = s_append (info->inputs, &info->n_inputs, sizeof *grown);
    if (!grown)
        return SEGQ_ENOMEM;
    info->inputs = grown;
    segq_input_t *input = &grown [info->n_inputs - 1];
    input->name = strdup (row->name);
    if (row->hash)
        snprintf (input->hash, sizeof input->hash, "%s", row->hash);
    input->size = row->size;
    if (row->ref_job) {
        char id [SEGQ__JOB_ID_MAX];
        segq__job_id_format (row->ref_job, id);
        input->job = strdup (id);
        if (!input->job)
            return SEGQ_ENOMEM;
    }
    if (row->ref_output && !(input->output = strdup (row->ref_output)))
        return SEGQ_ENOMEM;
    if (row->model) {
        char id [SEGQ__JOB_ID_MAX];
        segq__job_id_format (row->model, id);
        if (!(input->model = s_model_id (id)))
            return SEGQ_ENOMEM;
    }
    return input->name ? 0 : SEGQ_ENOMEM;
}

/* The job's own row, read into info; SEGQ_ENOENT when there is none. */
static int
s_info_job (segq__job_store_t *self, uint64_t job, segq_job_info_t *info)
{
    sqlite3_stmt *stmt = s_stmt (self, ST_INFO);
    sqlite3_bind_int64 (stmt, 1, (sqlite3_int64) job);
    int step = sqlite3_step (stmt);
    if (step != SQLITE_ROW) {
        sqlite3_reset (stmt);
        return step == SQLITE_DONE ? SEGQ_ENOENT : SEGQ_EIO;
    }
    char id [SEGQ__JOB_ID_MAX];
    segq__job_id_format (job, id);
    info->id = strdup (id);
    info->owner = s_dup_text (stmt, 0);
    info->kind = s_dup_text (stmt, 1);
    info->state = (segq_job_state_t) sqlite3_column_int (stmt, 2);
    info->priority = sqlite3_column_int (stmt, 3);
    info->attempt = (uint32_t) sqlite3_column_int64 (stmt, 4);
    info->max_attempts = (uint32_t) sqlite3_column_int64 (stmt, 5);
    info->gpu_mem = (uint64_t) sqlite3_column_int64 (stmt, 6);
    info->cpu_slots = (uint32_t) sqlite3_column_int64 (stmt, 7);
    info->time_limit_s = (uint32_t) sqlite3_column_int64 (stmt, 8);
    int rc = s_params_unpack (sqlite3_column_blob (stmt, 9),
                              (size_t) sqlite3_column_bytes (stmt, 9), &info->params);
    info->created = sqlite3_column_double (stmt, 10);
    info->started = sqlite3_column_double (stmt, 11);
    info->finished = sqlite3_column_double (stmt, 12);
    info->worker = s_dup_text (stmt, 13);
    info->gpu = sqlite3_column_int (stmt, 14);
    info->reason = s_dup_text (stmt, 15);
    info->exit_code = sqlite3_column_int (stmt, 16);
    info->signal = sqlite3_column_int (stmt, 17);
    info->held = sqlite3_column_int (stmt, 18) != 0;
    if (!info->id || !info->owner || !info->kind || s_dup_lost (stmt, 13, info->worker)
        || s_dup_lost (stmt, 15, info->reason))
        rc = SEGQ_ENOMEM;
    sqlite3_reset (stmt);
    return rc;
}

/* A row of ST_AFTER: a job this one was told to wait for (not one its inputs imply). */
static int
s_info_after (sqlite3_stmt *stmt, segq_job_info_t *info)
{
    char **grown = s_append (info->after, &info->n_after, sizeof *grown);
    if (!grown)
        return SEGQ_ENOMEM;
    info->after = grown;
    char id [SEGQ__JOB_ID_MAX];
    segq__job_id_format ((uint64_t) sqlite3_column_int64 (stmt, 0), id);
    grown [info->n_after - 1] = strdup (id);
    return grown [info->n_after - 1] ? 0 : SEGQ_ENOMEM;
}

/* A row of ST_HISTORY: one of the job's state changes. */
static int
s_info_transition (sqlite3_stmt *stmt, segq_job_info_t *info)
{
    segq_transition_t *grown = s_append (info->history, &info->n_history, sizeof *grown);
    if (!grown)
        return SEGQ_ENOMEM;
    info->history = grown;
    segq_transition_t *t = &grown [info->n_history - 1];
    t->state = (segq_job_state_t) sqlite3_column_int (stmt, 0);
    t->time = sqlite3_column_double (stmt, 1);
    t->reason = s_dup_text (stmt, 2);
    return s_dup_lost (stmt, 2, t->reason) ? SEGQ_ENOMEM : 0;
}

typedef int (info_row_fn) (sqlite3_stmt *stmt, segq_job_info_t *info);

/* Hands each row of statement `which` about the job to fn, until fn fails
   or the rows end (a failed step is an error, not an end). */
static int
s_info_rows (segq__job_store_t *self, stmt_t which, uint64_t job, info_row_fn *fn,
             segq_job_info_t *info)
{
    sqlite3_stmt *stmt = s_stmt (self, which);
    sqlite3_bind_int64 (stmt, 1, (sqlite3_int64) job);
    int step = SQLITE_DONE, rc = 0;
    while (rc == 0 && (step = sqlite3_step (stmt)) == SQLITE_ROW)
        rc = fn (stmt, info);
    if (rc) {
        sqlite3_reset (stmt);
        return rc;
    }
    return s_step_error (self, stmt, step);
}

int
segq__job_store_info (segq__job_store_t *self, uint64_t job, bool detail, segq_job_info_t *info)
{
    int rc = s_info_job (self, job, info);
    if (rc == 0)
        rc = segq__job_store_inputs (self, job, s_info_input, info);
    if (rc == 0)
        rc = segq__job_store_outputs (self, job, s_info_output, info);
    if (rc == 0)
        rc = s_info_rows (self, ST_AFTER, job, s_info_after, info);
    if (rc == 0 && detail)
        rc = s_info_rows (self, ST_HISTORY, job, s_info_transition, info);
    return rc;
}

/* A page of job ids by statement `which` (ST_LIST or ST_LIST_NEWEST). */
static int
s_list (segq__job_store_t *self, stmt_t which, uint64_t from, const char *owner, int state,
        uint32_t limit, uint64_t *ids, size_t *count)
{
    sqlite3_stmt *stmt = s_stmt (self, which);
    sqlite3_bind_int64 (stmt, 1, (sqlite3_int64) from);
    s_bind_text (stmt, 2, owner);
    sqlite3_bind_int (stmt, 3, state);
    sqlite3_bind_int64 (stmt, 4, limit);
    *count = 0;
    int step;
    while ((step = sqlite3_step (stmt)) == SQLITE_ROW && *count < limit)
        ids [(*count)++] = (uint64_t) sqlite3_column_int64 (stmt, 0);
    if (step == SQLITE_ROW)
        step = SQLITE_DONE;
    return s_step_error (self, stmt, step);
}

int
segq__job_store_list (segq__job_store_t *self, uint64_t after, const char *owner, int state,
                      uint32_t limit, uint64_t *ids, size_t *count)
{
    return s_list (self, ST_LIST, after, owner, state, limit, ids, count);
}

int
segq__job_store_list_newest (segq__job_store_t *self, uint64_t before, const char *owner, int state,
                             uint32_t limit, uint64_t *ids, size_t *count)
{
    return s_list (self, ST_LIST_NEWEST, before, owner, state, limit, ids, count);
}

/* ---- job arrays ---- */

void
segq__job_unknown (const char *text, char *err, size_t errlen)
{
    if (text && strncmp (text, "m-", 2) == 0 && segq__job_id_parse (text + 2))
        snprintf (err, errlen,
                  "'%s' is a model's id, not a job's: its training is job %s (segq models show "
                  "%s)",
                  text, text + 2, text);
    else
        snprintf (err, errlen, "unknown job '%s'", text ? text : "");
}

void
segq__array_id_format (uint64_t number, char out [SEGQ__ARRAY_ID_MAX])
{
    char id [SEGQ__JOB_ID_MAX];
    segq__job_id_format (number, id);
    snprintf (out, SEGQ__ARRAY_ID_MAX, "a-%s", id);
}

uint64_t
segq__array_id_parse (const char *text)
{
    return text && strncmp (text, "a-", 2) == 0 ? segq__job_id_parse (text + 2) : 0;
}

uint64_t
segq__job_store_newest_retry (segq__job_store_t *self, uint64_t of)
{
    sqlite3_stmt *stmt = s_stmt (self, ST_NEWEST_RETRY);
    sqlite3_bind_int64 (stmt, 1, (sqlite3_int64) of);
    uint64_t job =
        sqlite3_step (stmt) == SQLITE_ROW ? (uint64_t) sqlite3_column_int64 (stmt, 0) : 0;
    sqlite3_reset (stmt);
    return job;
}

int
segq__job_store_insert_array (segq__job_store_t *self, const char *owner, double created,
                              const uint64_t *jobs, size_t n, uint64_t *id_out)
{
    int rc = segq__job_store_begin (self);
    if (rc)
        return rc;
    sqlite3_stmt *stmt = s_stmt (self, ST_NEXT_ARRAY);
    if (sqlite3_step (stmt) != SQLITE_ROW) {
        sqlite3_reset (stmt);
        return SEGQ_EIO;
    }
    uint64_t above_arrays = (uint64_t) sqlite3_column_int64 (stmt, 0);
    sqlite3_reset (stmt);
    /* The number comes from the job counter, which never goes back (a
       restore raises it above every id given before): an array id is
       never given twice. Arrays numbered from 1, as they once were, can
       outnumber the jobs; then the counter jumps above them. */
    uint64_t id = segq__job_store_next_id (self);
    if (id < above_arrays) {
        id = above_arrays;
        self->next_id = id + 1;
    }
    stmt = s_stmt (self, ST_INSERT_ARRAY);
    sqlite3_bind_int64 (stmt, 1, (sqlite3_int64) id);
    s_bind_text (stmt, 2, owner);
    sqlite3_bind_double (stmt, 3, created);
    rc = s_done (self, stmt);
    for (size_t i = 0; i < n && rc == 0; i++) {
        stmt = s_stmt (self, ST_INSERT_ARRAY_JOB);
        sqlite3_bind_int64 (stmt, 1, (sqlite3_int64) id);
        sqlite3_bind_int64 (stmt, 2, (sqlite3_int64) i);
        sqlite3_bind_int64 (stmt, 3, (sqlite3_int64) jobs [i]);
        rc = s_done (self, stmt);
    }
    if (rc == 0)
        *id_out = id;
    return rc;
}

int
segq__job_store_array (segq__job_store_t *self, uint64_t id, segq__array_row_t *out)
{
    memset (out, 0, sizeof *out);
    sqlite3_stmt *stmt = s_stmt (self, ST_ARRAY);
    sqlite3_bind_int64 (stmt, 1, (sqlite3_int64) id);
    int step = sqlite3_step (stmt);
    if (step != SQLITE_ROW) {
        sqlite3_reset (stmt);
        return step == SQLITE_DONE ? SEGQ_ENOENT : SEGQ_EIO;
    }
    snprintf (out->owner, sizeof out->owner, "%s", s_text (stmt, 0) ? s_text (stmt, 0) : "");
    out->created = sqlite3_column_double (stmt, 1);
    sqlite3_reset (stmt);
    stmt = s_stmt (self, ST_ARRAY_JOBS);
    sqlite3_bind_int64 (stmt, 1, (sqlite3_int64) id);
    size_t capacity = 0;
    int rc = 0;
    while (rc == 0 && (step = sqlite3_step (stmt)) == SQLITE_ROW) {
        if (out->n_jobs == capacity) {
            capacity = capacity ? capacity * 2 : 16;
            uint64_t *grown = realloc (out->jobs, capacity * sizeof *grown);
            if (!grown) {
                rc = SEGQ_ENOMEM;
                break;
            }
            out->jobs = grown;
        }
        out->jobs [out->n_jobs++] = (uint64_t) sqlite3_column_int64 (stmt, 0);
    }
    if (rc == 0 && step != SQLITE_DONE)
        rc = SEGQ_EIO;
    sqlite3_reset (stmt);
    if (rc)
        segq__array_row_clear (out);
    return rc;
}

void
segq__array_row_clear (segq__array_row_t *row)
{
    free (row->jobs);
    row->jobs = NULL;
    row->n_jobs = 0;
}
