/*  models.c: see models.h. */
#include "models.h"
#include "generate_check.h"
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define CHECKPOINT_NAME "model.safetensors"
#define NAME_MAX_LEN    SEGQ_MODEL_NAME_MAX

typedef enum {
    Q_GET,
    Q_BY_NAME,
    Q_NAME_TAKEN,
    Q_INSERT,
    Q_BACKFILL_DONE,
    Q_BACKFILL_JOBS,
    Q_BACKFILL_MARK,
    Q_SOURCES,
    Q_CHECKPOINT,
    Q_LIST,
    Q_TAGS,
    Q_SHARES,
    Q_SAMPLES,
    Q_OF_INPUT,
    Q_PINNED,
    Q_SET_NAME,
    Q_ADD_TAG,
    Q_DEL_TAG,
    Q_SET_NOTE,
    Q_ADD_SHARE,
    Q_DEL_SHARE,
    Q_SET_LAB,
    Q_SET_PIN,
    Q_REMOVE,
    Q_UNSHARED_JOBS,
    Q_TRAININGS_UNENDED,
    Q_COUNT
} query_t;

static const char *s_sql [Q_COUNT] = {
    [Q_GET] = "SELECT m.owner, m.name, m.created, m.scales, m.height, m.width, m.note, m.pinned,"
              " m.lab, j.purged IS NOT NULL,"
              " EXISTS (SELECT 1 FROM model_shares s WHERE s.job = m.job AND s.user = ?2),"
              " m.scales_total FROM models m JOIN jobs j ON j.id = m.job WHERE m.job = ?1 AND "
              "m.removed = 0",
    [Q_BY_NAME] = "SELECT job FROM models WHERE name = ?1 AND removed = 0"
                  " AND (?2 IS NULL OR owner = ?2) ORDER BY job",
    [Q_NAME_TAKEN] = "SELECT 1 FROM models WHERE owner = ?1 AND name = ?2 AND removed = 0",
    [Q_INSERT] = "INSERT OR IGNORE INTO models (job, owner, name, created, scales, height, width,"
                 " scales_total) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
    [Q_BACKFILL_DONE] = "SELECT value FROM meta WHERE key = 'models_backfilled'",
    [Q_BACKFILL_JOBS] = "SELECT id, finished FROM jobs j WHERE kind = 'train' AND state = 4"
                        " AND NOT EXISTS (SELECT 1 FROM models m WHERE m.job = j.id) ORDER BY id",
    [Q_BACKFILL_MARK] = "UPDATE meta SET value = 1 WHERE key = 'models_backfilled'",
    /* the training's inputs, a referenced job's output by its hash */
    [Q_SOURCES] = "SELECT i.name, COALESCE (i.hash, (SELECT o.hash FROM outputs o"
                  " WHERE o.job = i.ref_job AND o.name = i.ref_output)) FROM inputs i"
                  " WHERE i.job = ?1 ORDER BY i.n",
    [Q_CHECKPOINT] =
        "SELECT hash, size FROM outputs WHERE job = ?1 AND name = '" CHECKPOINT_NAME "'",
    [Q_LIST] = "SELECT m.job FROM models m WHERE m.removed = 0 AND m.job > ?1"
               " AND (?2 IS NULL OR m.owner = ?2) AND (?3 IS NULL OR EXISTS"
               " (SELECT 1 FROM model_tags t WHERE t.job = m.job AND t.tag = ?3)) ORDER BY m.job",
    [Q_TAGS] = "SELECT tag FROM model_tags WHERE job = ?1 ORDER BY tag",
    [Q_SHARES] = "SELECT user FROM model_shares WHERE job = ?1 ORDER BY user",
    /* the generations drawn from it, newest first */
    [Q_SAMPLES] = "SELECT j.id, j.owner FROM inputs i JOIN jobs j ON j.id = i.job"
                  " WHERE (i.model = ?1 OR i.ref_job = ?1) AND j.kind = 'generate' AND j.state = 4"
                  " AND j.purged IS NULL ORDER BY j.id DESC LIMIT 64",
    [Q_OF_INPUT] = "SELECT m.job, m.name FROM inputs i JOIN models m"
                   " ON m.job = COALESCE (i.model, i.ref_job) WHERE i.job = ?1 AND i.name = ?2",
    [Q_PINNED] = "SELECT 1 FROM models WHERE job = ?1 AND pinned = 1 AND removed = 0",
    [Q_SET_NAME] = "UPDATE models SET name = ?2 WHERE job = ?1",
    [Q_ADD_TAG] = "INSERT OR IGNORE INTO model_tags (job, tag) VALUES (?1, ?2)",
    [Q_DEL_TAG] = "DELETE FROM model_tags WHERE job = ?1 AND tag = ?2",
    [Q_SET_NOTE] = "UPDATE models SET note = NULLIF (?2, '') WHERE job = ?1",
    [Q_ADD_SHARE] = "INSERT OR IGNORE INTO model_shares (job, user) VALUES (?1, ?2)",
    [Q_DEL_SHARE] = "DELETE FROM model_shares WHERE job = ?1 AND user = ?2",
    [Q_SET_LAB] = "UPDATE models SET lab = ?2 WHERE job = ?1",
    [Q_SET_PIN] = "UPDATE models SET pinned = ?2 WHERE job = ?1",
    [Q_REMOVE] = "UPDATE models SET removed = 1, pinned = 0, lab = 0 WHERE job = ?1;",
    /* generations from it not started (waiting, queued, held) whose owner
       it is no longer shared with */
    [Q_UNSHARED_JOBS] =
        "SELECT i.job FROM inputs i JOIN jobs j ON j.id = i.job"
        " JOIN models m ON m.job = i.model WHERE i.model = ?1 AND j.state < 3"
        " AND j.owner != m.owner AND (m.removed = 1 OR (m.lab = 0 AND NOT EXISTS"
        " (SELECT 1 FROM model_shares s WHERE s.job = m.job AND s.user = j.owner)))",
    /* an owner's trainings not ended (waiting, queued, running) */
    [Q_TRAININGS_UNENDED] = "SELECT id FROM jobs WHERE owner = ?1 AND kind = 'train' AND state <= 3"
                            " ORDER BY id",
};

struct segq__models {
    segq__job_store_t *store;
    sqlite3 *db;
    segq__known_user_fn *known_user; /* NULL: no list of users (no keys) */
    void *known_arg;
    sqlite3_stmt *stmt [Q_COUNT];
};

/* A model's row, as one caller sees it. */
typedef struct {
    uint64_t job;
    char job_id [SEGQ__JOB_ID_MAX];
    char owner [256];
    char name [NAME_MAX_LEN + 1];
    double created;
    uint32_t scales, height, width;
    uint32_t scales_total; /* what its training meant to train; 0: not said */
    char note [SEGQ_MAX_STRING + 1];
    bool pinned, lab, purged;
    bool shared_with_caller;
} model_row_t;

/* ---- statements ---- */

static sqlite3_stmt *
s_stmt (segq__models_t *self, query_t q)
{
    sqlite3_reset (self->stmt [q]);
    sqlite3_clear_bindings (self->stmt [q]);
    return self->stmt [q];
}

static void
s_bind_text (sqlite3_stmt *stmt, int col, const char *text)
{
    if (text)
        sqlite3_bind_text (stmt, col, text, -1, SQLITE_STATIC);
}

static const char *
s_text (sqlite3_stmt *stmt, int col)
{
    return (const char *) sqlite3_column_text (stmt, col);
}

/* Resets stmt after its rows and says how they ended: rc, the caller's
   own failure, first; else 0 at their end (SQLITE_DONE) or where the
   caller stopped early on purpose (SQLITE_ROW); else SEGQ_EIO. A step
   that failed (SQLITE_IOERR, SQLITE_CORRUPT, ...) must not read as "no
   more rows": a name taken would read as free, a list as short. */
static int
s_rows_end (sqlite3_stmt *stmt, int step, int rc)
{
    sqlite3_reset (stmt);
    if (rc)
        return rc;
    return step == SQLITE_DONE || step == SQLITE_ROW ? 0 : SEGQ_EIO;
}

/* Whether the bound statement finds a row: 1, 0, or SEGQ_EIO. */
static int
s_found (sqlite3_stmt *stmt)
{
    int step = sqlite3_step (stmt);
    int rc = s_rows_end (stmt, step, 0);
    return rc ? rc : step == SQLITE_ROW;
}

/* What a failed read or write of the catalogue says: SQLite's own words
   for a store error (the code alone hides which), else the code's text
   (also for a record SQLite read but the store could not make sense of). */
static const char *
s_why (segq__models_t *self, int rc)
{
    bool sqlite_failed = rc == SEGQ_EIO && sqlite3_errcode (self->db) != SQLITE_OK;
    return sqlite_failed ? sqlite3_errmsg (self->db) : segq_strerror (rc);
}

/* A write of (job, text) or (job, number): 0 or SEGQ_EIO. */
static int
s_write (segq__models_t *self, query_t q, uint64_t job, const char *text, int number)
{
    int rc = segq__job_store_begin (self->store);
    if (rc)
        return rc;
    sqlite3_stmt *stmt = s_stmt (self, q);
    sqlite3_bind_int64 (stmt, 1, (sqlite3_int64) job);
    if (text)
        s_bind_text (stmt, 2, text);
    else if (sqlite3_bind_parameter_count (stmt) >= 2)
        sqlite3_bind_int (stmt, 2, number);
    rc = sqlite3_step (stmt) == SQLITE_DONE ? 0 : SEGQ_EIO;
    sqlite3_reset (stmt);
    return rc;
}

/* Whether query q with (text, text) finds a row: 1, 0, or SEGQ_EIO. */
static int
s_exists (segq__models_t *self, query_t q, const char *a, const char *b)
{
    sqlite3_stmt *stmt = s_stmt (self, q);
    s_bind_text (stmt, 1, a);
    s_bind_text (stmt, 2, b);
    return s_found (stmt);
}

static void
s_model_id (uint64_t job, char id [SEGQ__JOB_ID_MAX + 2])
{
    char text [SEGQ__JOB_ID_MAX];
    segq__job_id_format (job, text);
    snprintf (id, SEGQ__JOB_ID_MAX + 2, "m-%s", text);
}

/* A model's row as `user` sees it (shared_with_caller: with that user). */
static int
s_get (segq__models_t *self, uint64_t job, const char *user, model_row_t *row)
{
    sqlite3_stmt *stmt = s_stmt (self, Q_GET);
    sqlite3_bind_int64 (stmt, 1, (sqlite3_int64) job);
    s_bind_text (stmt, 2, user);
    int step = sqlite3_step (stmt);
    if (step != SQLITE_ROW) {
        sqlite3_reset (stmt);
        return step == SQLITE_DONE ? SEGQ_ENOENT : SEGQ_EIO;
    }
    *row = (model_row_t){
        .job = job,
        .created = sqlite3_column_double (stmt, 2),
        .scales = (uint32_t) sqlite3_column_int (stmt, 3),
        .height = (uint32_t) sqlite3_column_int (stmt, 4),
        .width = (uint32_t) sqlite3_column_int (stmt, 5),
        .pinned = sqlite3_column_int (stmt, 7),
        .lab = sqlite3_column_int (stmt, 8),
        .purged = sqlite3_column_int (stmt, 9),
        .shared_with_caller = sqlite3_column_int (stmt, 10),
        .scales_total = (uint32_t) sqlite3_column_int (stmt, 11),
    };
    segq__job_id_format (job, row->job_id);
    snprintf (row->owner, sizeof row->owner, "%s", s_text (stmt, 0) ? s_text (stmt, 0) : "");
    snprintf (row->name, sizeof row->name, "%s", s_text (stmt, 1) ? s_text (stmt, 1) : "");
    snprintf (row->note, sizeof row->note, "%s", s_text (stmt, 6) ? s_text (stmt, 6) : "");
    sqlite3_reset (stmt);
    return 0;
}

/* May caller reach the model in this form? The rule is access.c's. */
static bool
s_may (const segq__caller_t *caller, const model_row_t *row, segq__form_t form)
{
    segq__share_t share = row->lab                  ? SEGQ__SHARE_LAB
                          : row->shared_with_caller ? SEGQ__SHARE_USER
                                                    : SEGQ__SHARE_NONE;
    return segq__access_rule (caller, row->owner, share, form);
}

/* Whether caller may reach model `job` in this form (*row: as they see
   it): 1, 0 (no such model, or not theirs to reach), or a store error. */
static int
s_visible (segq__models_t *self, const segq__caller_t *caller, uint64_t job, segq__form_t form,
           model_row_t *row)
{
    int rc = s_get (self, job, caller->user, row);
    if (rc == SEGQ_ENOENT)
        return 0;
    return rc ? rc : s_may (caller, row, form);
}

/* ---- naming ---- */

/* The default name of a training: its source image's file name without
   extension ("image/polyp.jpg" -> "polyp"), in the characters names allow. */
static int
s_source_name (void *arg, const segq__input_row_t *input)
{
    char *name = arg;
    if (strncmp (input->name, "image/", 6) != 0)
        return 0;
    const char *base = input->name + 6;
    const char *dot = strrchr (base, '.');
    size_t len = dot && dot > base ? (size_t) (dot - base) : strlen (base);
    if (len > NAME_MAX_LEN - 8) /* room for "-NNNNNN" */
        len = NAME_MAX_LEN - 8;
    size_t n = 0;
    /* "m-..." and "-..." are not names: ids and flags begin so */
    if (base [0] == '-' || strncmp (base, "m-", 2) == 0)
        name [n++] = '_';
    for (size_t i = 0; i < len; i++) {
        char c = base [i];
        bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9')
                  || c == '-' || c == '_';
        name [n++] = ok ? c : '_';
    }
    name [n] = 0;
    return 1;
}

/* Into *found the first of owner's trainings not ended that asked for
   `name`, 0 none (its model takes the name when it succeeds). 0, or a
   store error: a failed read is not "none". */
static int
s_training_asking (segq__models_t *self, const char *owner, const char *name, uint64_t *found)
{
    sqlite3_stmt *stmt = s_stmt (self, Q_TRAININGS_UNENDED);
    s_bind_text (stmt, 1, owner);
    *found = 0;
    int step = SQLITE_DONE, rc = 0;
    while (rc == 0 && !*found && (step = sqlite3_step (stmt)) == SQLITE_ROW) {
        uint64_t job = (uint64_t) sqlite3_column_int64 (stmt, 0);
        segq_params_t params = { 0 };
        rc = segq__job_store_params (self->store, job, &params);
        const segq_value_t *asked = rc == 0 ? segq_params_get (&params, "name") : NULL;
        if (asked && asked->type == SEGQ_PARAM_STRING && asked->s && strcmp (asked->s, name) == 0)
            *found = job;
        segq_params_clear (&params);
    }
    return s_rows_end (stmt, step, rc);
}

/* Whether owner has a model called `name` or (unless it was asked for at
   submit, checked free then) a training not ended asking for it: 1, 0,
   or a store error. */
static int
s_name_used (segq__models_t *self, const char *owner, const char *name, bool asked_for)
{
    uint64_t training = 0;
    int used = s_exists (self, Q_NAME_TAKEN, owner, name);
    if (used == 0 && !asked_for)
        used = s_training_asking (self, owner, name, &training);
    return used ? used : training != 0;
}

/* base, else "base-2", "base-3", ...: the first name not used. */
static int
s_unique_name (segq__models_t *self, const char *owner, const char *base, bool asked_for,
               char name [NAME_MAX_LEN + 1])
{
    snprintf (name, NAME_MAX_LEN + 1, "%s", base);
    for (unsigned n = 2; n < 1000000; n++) {
        int used = s_name_used (self, owner, name, asked_for);
        if (used <= 0)
            return used;
        snprintf (name, NAME_MAX_LEN + 1, "%.56s-%u", base, n);
    }
    return 0;
}

/* The name a new model of `job` gets: asked for at submit, or its image's;
   "-2", "-3", ... after it while the owner has a model of that name (or,
   for an image's name, a training not ended asked for it). */
static int
s_new_name (segq__models_t *self, uint64_t job, const char *owner, char name [NAME_MAX_LEN + 1])
{
    char base [NAME_MAX_LEN + 1] = "";
    segq_params_t params = { 0 };
    int rc = segq__job_store_params (self->store, job, &params);
    const segq_value_t *asked = rc == 0 ? segq_params_get (&params, "name") : NULL;
    if (asked && asked->s && segq_model_name_valid (asked->s))
        snprintf (base, sizeof base, "%.*s", NAME_MAX_LEN - 8, asked->s);
    segq_params_clear (&params);
    bool asked_for = *base;
    if (rc == 0 && !*base && segq__job_store_inputs (self->store, job, s_source_name, base) < 0)
        rc = SEGQ_EIO;
    if (rc == 0 && !*base)
        snprintf (base, sizeof base, "model");
    return rc ? rc : s_unique_name (self, owner, base, asked_for, name);
}

/* ---- life ---- */

int
segq__models_register (segq__models_t *self, uint64_t job, const segq__model_shape_t *shape,
                       double now)
{
    segq__job_brief_t brief;
    char name [NAME_MAX_LEN + 1];
    int rc = segq__job_store_brief (self->store, job, &brief);
    if (rc == 0)
        rc = s_new_name (self, job, brief.owner, name);
    if (rc == 0)
        rc = segq__job_store_begin (self->store);
    if (rc)
        return rc;
    sqlite3_stmt *stmt = s_stmt (self, Q_INSERT);
    sqlite3_bind_int64 (stmt, 1, (sqlite3_int64) job);
    s_bind_text (stmt, 2, brief.owner);
    s_bind_text (stmt, 3, name);
    sqlite3_bind_double (stmt, 4, now);
    sqlite3_bind_int (stmt, 5, (int) shape->scales);
    sqlite3_bind_int (stmt, 6, (int) shape->height);
    sqlite3_bind_int (stmt, 7, (int) shape->width);
    sqlite3_bind_int (stmt, 8, (int) shape->scales_total);
    rc = sqlite3_step (stmt) == SQLITE_DONE ? 0 : SEGQ_EIO;
    sqlite3_reset (stmt);
    return rc;
}

/* Whether the backfill below was done: 1, 0, or SEGQ_EIO (a read that
   failed must not run it twice). */
static int
s_backfilled (segq__models_t *self)
{
    sqlite3_stmt *stmt = s_stmt (self, Q_BACKFILL_DONE);
    int step = sqlite3_step (stmt);
    bool done = step == SQLITE_ROW && sqlite3_column_int (stmt, 0);
    int rc = s_rows_end (stmt, step, 0);
    return rc ? rc : done;
}

/* Registers, in the open transaction, every succeeded training without a
   model. */
static int
s_backfill_jobs (segq__models_t *self)
{
    sqlite3_stmt *stmt = s_stmt (self, Q_BACKFILL_JOBS);
    int step = SQLITE_DONE, rc = 0;
    /* registering reads other statements only: this one can step on */
    while (rc == 0 && (step = sqlite3_step (stmt)) == SQLITE_ROW) {
        segq__model_shape_t unknown = { 0 };
        rc = segq__models_register (self, (uint64_t) sqlite3_column_int64 (stmt, 0), &unknown,
                                    sqlite3_column_double (stmt, 1));
    }
    return s_rows_end (stmt, step, rc);
}

/* Trainings that succeeded before the catalogue existed get their models,
   once: a model removed since must not come back at the next start. */
static int
s_backfill (segq__models_t *self, char *err, size_t errlen)
{
    int rc = s_backfilled (self);
    if (rc == 1)
        return 0;
    if (rc == 0)
        rc = segq__job_store_begin (self->store);
    if (rc == 0)
        rc = s_backfill_jobs (self);
    if (rc == 0)
        rc = s_write (self, Q_BACKFILL_MARK, 0, NULL, 0);
    if (rc == 0)
        return segq__job_store_commit (self->store, err, errlen);
    segq__job_store_rollback (self->store);
    snprintf (err, errlen, "cannot register the models of earlier trainings: %s", s_why (self, rc));
    return rc;
}

segq__models_t *
segq__models_new (segq__job_store_t *store, char *err, size_t errlen)
{
    segq__models_t *self = calloc (1, sizeof *self);
    if (!self) {
        snprintf (err, errlen, "out of memory");
        return NULL;
    }
    self->store = store;
    self->db = segq__job_store_db (store);
    for (int q = 0; q < Q_COUNT; q++)
        if (sqlite3_prepare_v3 (self->db, s_sql [q], -1, SQLITE_PREPARE_PERSISTENT, &self->stmt [q],
                                NULL)
            != SQLITE_OK) {
            snprintf (err, errlen, "cannot prepare the catalogue's query %d: %s", q,
                      sqlite3_errmsg (self->db));
            segq__models_destroy (&self);
            return NULL;
        }
    if (s_backfill (self, err, errlen))
        segq__models_destroy (&self);
    return self;
}

void
segq__models_set_users (segq__models_t *self, segq__known_user_fn *known, void *arg)
{
    self->known_user = known;
    self->known_arg = arg;
}

void
segq__models_destroy (segq__models_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    for (int q = 0; q < Q_COUNT; q++)
        sqlite3_finalize ((*self_p)->stmt [q]);
    free (*self_p);
    *self_p = NULL;
}

/* ---- finding ---- */

static int
s_not_found (const char *ref, char *err, size_t errlen)
{
    snprintf (err, errlen,
              "no model '%s' that you may use (`segq models` lists yours and those shared "
              "with you)",
              ref);
    return SEGQ_ENOENT;
}

/* A read about model ref that failed, said in err: rc back. */
static int
s_cannot_read (segq__models_t *self, int rc, const char *ref, char *err, size_t errlen)
{
    return segq_fail (err, errlen, rc, "cannot read model '%s' from the catalogue: %s", ref,
                      s_why (self, rc));
}

/* The first 64 models called `ref` (of `owner`, if not NULL) into
   candidates. 0 or SEGQ_EIO. */
static int
s_named (segq__models_t *self, const char *ref, const char *owner, uint64_t candidates [64],
         size_t *n)
{
    sqlite3_stmt *stmt = s_stmt (self, Q_BY_NAME);
    s_bind_text (stmt, 1, ref);
    s_bind_text (stmt, 2, owner);
    int step = SQLITE_DONE;
    *n = 0;
    while (*n < 64 && (step = sqlite3_step (stmt)) == SQLITE_ROW)
        candidates [(*n)++] = (uint64_t) sqlite3_column_int64 (stmt, 0);
    return s_rows_end (stmt, step, 0);
}

/* A bare NAME: the caller's own, else the one shared with them. */
static int
s_find_name (segq__models_t *self, const segq__caller_t *caller, const char *ref, const char *owner,
             uint64_t *job, char *err, size_t errlen)
{
    uint64_t candidates [64];
    size_t n, usable = 0;
    int rc = s_named (self, ref, owner, candidates, &n);
    /* err only once refused: a caller's later failure must not read this */
    char several [1024];
    int len =
        snprintf (several, sizeof several, "several models named '%s' are shared with you (", ref);
    for (size_t i = 0; i < n && rc == 0; i++) {
        model_row_t row;
        int seen = s_visible (self, caller, candidates [i], SEGQ__FORM_MODEL, &row);
        if (seen <= 0) {
            rc = seen;
            continue;
        }
        *job = row.job;
        if (caller->user && strcmp (row.owner, caller->user) == 0)
            return 0;
        if (len > 0 && (size_t) len < sizeof several)
            len += snprintf (several + len, sizeof several - (size_t) len, "%s%s/%s",
                             usable ? ", " : "", row.owner, ref);
        usable++;
    }
    if (rc)
        return s_cannot_read (self, rc, ref, err, errlen);
    if (usable == 1)
        return 0;
    if (usable == 0)
        return s_not_found (ref, err, errlen);
    return segq_fail (err, errlen, SEGQ_EINVAL, "%s): name one as OWNER/NAME or by its id",
                      several);
}

int
segq__models_find (segq__models_t *self, const segq__caller_t *caller, const char *ref,
                   uint64_t *job, char *err, size_t errlen)
{
    const char *asked = ref;
    if (strncmp (ref, "m-", 2) == 0) {
        model_row_t row;
        uint64_t number = segq__job_id_parse (ref + 2);
        int seen = number ? s_visible (self, caller, number, SEGQ__FORM_MODEL, &row) : 0;
        if (seen < 0)
            return s_cannot_read (self, seen, ref, err, errlen);
        if (!seen)
            return s_not_found (ref, err, errlen);
        *job = number;
        return 0;
    }
    const char *slash = strchr (ref, '/');
    char owner [256] = "";
    if (slash) {
        snprintf (owner, sizeof owner, "%.*s", (int) (slash - ref), ref);
        ref = slash + 1;
    }
    if (!segq_model_name_valid (ref) || (slash && !*owner)) {
        snprintf (err, errlen,
                  "'%s' is not a model name or id (NAME, OWNER/NAME or m-ID; a name is 1 to 64 "
                  "letters, digits, '_' and '-')",
                  ref);
        return SEGQ_EINVAL;
    }
    int rc = s_find_name (self, caller, ref, slash ? owner : NULL, job, err, errlen);
    return rc == SEGQ_ENOENT ? s_not_found (asked, err, errlen) : rc;
}

/* ---- what a submit names ---- */

/* EEXIST, said in err, when `owner` has a model called `name`, or a
   training not ended that asked for it: a second model would quietly
   become NAME-2. A store error when that cannot be read. */
static int
s_name_free (segq__models_t *self, const char *owner, const char *name, char *err, size_t errlen)
{
    uint64_t training = 0;
    int taken = s_exists (self, Q_NAME_TAKEN, owner, name);
    if (taken == 0)
        taken = s_training_asking (self, owner, name, &training);
    if (taken < 0)
        return segq_fail (err, errlen, taken,
                          "name '%s': cannot read whether %s has a model or training of that "
                          "name: %s",
                          name, owner, s_why (self, taken));
    if (taken)
        return segq_fail (err, errlen, SEGQ_EEXIST,
                          "name '%s': %s already has a model of that name (choose another, or "
                          "`segq models rename %s NEW` first)",
                          name, owner, name);
    if (!training)
        return 0;
    char id [SEGQ__JOB_ID_MAX];
    segq__job_id_format (training, id);
    return segq_fail (err, errlen, SEGQ_EEXIST,
                      "name '%s': %s's training %s, not ended yet, asked for it first (choose "
                      "another, or `segq cancel %s`)",
                      name, owner, id, id);
}

/* A train submit's `name`: valid, and not one of the owner's models, nor
   asked for by one of their trainings not ended yet. */
static int
s_check_train_name (segq__models_t *self, const segq_submit_t *submit, char *err, size_t errlen)
{
    const segq_value_t *asked = segq_params_get (&submit->params, "name");
    if (!asked || asked->type != SEGQ_PARAM_STRING || !asked->s || !*asked->s)
        return 0;
    if (!segq_model_name_valid (asked->s)) {
        snprintf (err, errlen,
                  "name '%s': a model's name is 1 to 64 letters, digits, '_' and '-', not "
                  "beginning with '-' or 'm-'",
                  asked->s);
        return SEGQ_EINVAL;
    }
    return submit->user ? s_name_free (self, submit->user, asked->s, err, errlen) : 0;
}

/* Generating from scale k > 0 starts from the training image's own
   reconstruction (its checkpoint keeps that noise): only for the owner. */
static int
s_check_start_scale (const segq__caller_t *caller, const model_row_t *row,
                     const segq_submit_t *submit, char *err, size_t errlen)
{
    const segq_value_t *start = segq_params_get (&submit->params, "gen_start_scale");
    if (!start || start->type != SEGQ_PARAM_INT || start->i == 0
        || segq__access_owner (caller, row->owner))
        return 0;
    snprintf (err, errlen,
              "gen_start_scale %lld: from a scale above 0 a generation starts from the "
              "training image's own reconstruction, so a shared model generates with "
              "gen_start_scale 0 only (ask its owner, %s)",
              (long long) start->i, row->owner);
    return SEGQ_EPERM;
}

/* The model's every scale is trained, and gen_start_scale names one of
   them (a training reports how many it made; 0: it did not say, and
   segq-run checks). */
static int
s_check_scales (const model_row_t *row, const segq_submit_t *submit, char *err, size_t errlen)
{
    if (row->scales < row->scales_total) {
        snprintf (err, errlen,
                  "model %s: only %u of its %u scales are trained (its training was stopped "
                  "early, --stop-after-scale): it cannot generate; train the image to its "
                  "last scale",
                  row->name, row->scales, row->scales_total);
        return SEGQ_EINVAL;
    }
    const segq_value_t *start = segq_params_get (&submit->params, "gen_start_scale");
    if (!start || start->type != SEGQ_PARAM_INT || !row->scales || start->i < row->scales)
        return 0;
    snprintf (err, errlen, "gen_start_scale %lld: model %s has scales 0..%u", (long long) start->i,
              row->name, row->scales - 1);
    return SEGQ_EINVAL;
}

/* A name that is also the id of a job of the caller's, which is not the
   training of the model it names ("0001" for a model trained from
   0001.png, where `segq submit train` just printed 0001): refused rather
   than taken one way, naming both. */
static int
s_ambiguous (const segq__caller_t *caller, const char *ref, uint64_t model_job, uint64_t number,
             const segq__job_brief_t *brief, char *err, size_t errlen)
{
    if (!number || number == model_job || !segq__access_owner (caller, brief->owner))
        return 0;
    char id [SEGQ__JOB_ID_MAX + 2];
    s_model_id (model_job, id);
    snprintf (err, errlen,
              "'%s' names both job %s and model %s (%s): say %s for the model, or %s:"
              "model.safetensors for the job's",
              ref, ref, ref, id, id, ref);
    return SEGQ_EINVAL;
}

/* A job named as a model (JOB, JOB:model.safetensors): a training's, when
   it has one yet and the job is the caller's (the access rule refuses
   anyone else, saying nothing of the model), is checked as a catalogue
   model is; *training: the job, whose image names the pairs even before
   it has run. */
static int
s_check_training (segq__models_t *self, const segq__caller_t *caller, const segq_submit_t *submit,
                  uint64_t number, const segq__job_brief_t *brief, uint64_t *training, char *err,
                  size_t errlen)
{
    model_row_t row;
    if (!segq__access_owner (caller, brief->owner))
        return 0;
    if (strcmp (brief->kind, "train") == 0)
        *training = number;
    int rc = s_get (self, number, caller->user, &row);
    if (rc == SEGQ_ENOENT) /* no model (yet) */
        return 0;
    if (rc) {
        char id [SEGQ__JOB_ID_MAX];
        segq__job_id_format (number, id);
        return s_cannot_read (self, rc, id, err, errlen);
    }
    return s_check_scales (&row, submit, err, errlen);
}

/* An input naming a job's output, JOB:OUTPUT: a training's checkpoint
   (its principal output) is a model by another name. */
static int
s_check_job_output (segq__models_t *self, const segq__caller_t *caller, const segq_submit_t *submit,
                    const segq_input_t *input, uint64_t *training, char *err, size_t errlen)
{
    const segq_kind_spec_t *train = segq_kind_find ("train");
    uint64_t number = segq__job_id_parse (input->job);
    segq__job_brief_t brief;
    int rc = number ? segq__job_store_brief (self->store, number, &brief) : SEGQ_ENOENT;
    if (rc && rc != SEGQ_ENOENT)
        return segq_fail (err, errlen, rc, "cannot read job %s: %s", input->job, s_why (self, rc));
    if (rc || strcmp (brief.kind, "train") != 0
        || (input->output && strcmp (input->output, train->principal_output) != 0))
        return 0; /* not a model: the submit's other checks say what it is */
    return s_check_training (self, caller, submit, number, &brief, training, err, errlen);
}

/* The checkpoint of training `job` into hash and *size: 1, 0 when it has
   none, or SEGQ_EIO. */
static int
s_checkpoint (segq__models_t *self, uint64_t job, char hash [SEGQ_HASH_HEX_LEN + 1], uint64_t *size)
{
    sqlite3_stmt *stmt = s_stmt (self, Q_CHECKPOINT);
    sqlite3_bind_int64 (stmt, 1, (sqlite3_int64) job);
    int step = sqlite3_step (stmt);
    bool found = step == SQLITE_ROW && s_text (stmt, 0);
    if (found) {
        snprintf (hash, SEGQ_HASH_HEX_LEN + 1, "%s", s_text (stmt, 0));
        *size = (uint64_t) sqlite3_column_int64 (stmt, 1);
    }
    int rc = s_rows_end (stmt, step, 0);
    return rc ? rc : found;
}

/* Model `job`, which input names, generates for this submit: its files are
   there, the parameters fit it; the input gets its checkpoint. */
static int
s_check_model (segq__models_t *self, const segq__caller_t *caller, const segq_submit_t *submit,
               uint64_t job, segq_input_t *input, char *err, size_t errlen)
{
    model_row_t row;
    int rc = s_get (self, job, caller->user, &row);
    if (rc)
        return s_cannot_read (self, rc, input->model, err, errlen);
    if (row.purged)
        return segq_fail (err, errlen, SEGQ_ENOENT,
                          "model %s: the files of its training (job %s) were purged: it "
                          "generates no more",
                          input->model, row.job_id);
    rc = s_check_start_scale (caller, &row, submit, err, errlen);
    if (rc == 0)
        rc = s_check_scales (&row, submit, err, errlen);
    int found = rc == 0 ? s_checkpoint (self, job, input->hash, &input->size) : 1;
    if (found < 0)
        return s_cannot_read (self, found, input->model, err, errlen);
    if (found == 0) /* a model is a training that succeeded: it has one */
        return segq_fail (err, errlen, SEGQ_EIO,
                          "model %s: the catalogue has no checkpoint of its training (job %s)",
                          input->model, row.job_id);
    return rc;
}

/* One input naming a model: to its checkpoint, or (no such model, but a
   job id) to the JOB form; *training: the model's training job, if any. */
static int
s_resolve_input (segq__models_t *self, const segq__caller_t *caller, const segq_submit_t *submit,
                 segq_input_t *input, uint64_t *training, char *err, size_t errlen)
{
    uint64_t job;
    int rc = segq__models_find (self, caller, input->model, &job, err, errlen);
    segq__job_brief_t brief;
    uint64_t number = rc == 0 || rc == SEGQ_ENOENT ? segq__job_id_parse (input->model) : 0;
    int brief_rc = number ? segq__job_store_brief (self->store, number, &brief) : SEGQ_ENOENT;
    if (brief_rc && brief_rc != SEGQ_ENOENT)
        return s_cannot_read (self, brief_rc, input->model, err, errlen);
    number = brief_rc ? 0 : number;
    if (rc == 0)
        rc = s_ambiguous (caller, input->model, job, number, &brief, err, errlen);
    if (number && rc == SEGQ_ENOENT) {
        input->job = input->model;
        input->model = NULL;
        return s_check_training (self, caller, submit, number, &brief, training, err, errlen);
    }
    if (rc == 0)
        rc = s_check_model (self, caller, submit, job, input, err, errlen);
    char id [SEGQ__JOB_ID_MAX + 2];
    s_model_id (job, id);
    char *kept = rc == 0 ? strdup (id) : NULL;
    if (rc == 0 && !kept)
        rc = SEGQ_ENOMEM;
    if (kept) {
        free (input->model);
        input->model = kept;
        *training = job;
    }
    return rc;
}

static int s_sources (segq__models_t *self, uint64_t job, segq_model_info_t *info);

/* A generation's outputs are listed in one RESULT (generate_check.h): the
   training's image names the pairs, known before it has run. */
static int
s_check_outputs (segq__models_t *self, const segq_submit_t *submit, uint64_t training,
                 uint32_t max_msg, char *err, size_t errlen)
{
    segq_model_info_t info = { 0 };
    char id [SEGQ__JOB_ID_MAX];
    segq__job_id_format (training, id);
    int rc = s_sources (self, training, &info);
    if (rc)
        segq_fail (err, errlen, rc, "cannot read the inputs of training %s: %s", id,
                   s_why (self, rc));
    else if (info.image)
        rc = segq__generate_check_count (submit, info.image, max_msg, err, errlen);
    segq_model_info_clear (&info);
    return rc;
}

int
segq__models_resolve_submit (segq__models_t *self, const segq__caller_t *caller,
                             segq_submit_t *submit, uint32_t max_msg, char *err, size_t errlen)
{
    const segq_kind_spec_t *kind = segq_kind_find (submit->kind);
    uint64_t training = 0;
    int rc = kind && strcmp (kind->name, "train") == 0
                 ? s_check_train_name (self, submit, err, errlen)
                 : 0;
    for (size_t i = 0; i < submit->n_inputs && rc == 0; i++) {
        segq_input_t *input = &submit->inputs [i];
        const segq_input_spec_t *spec = kind ? segq_kind_input (kind, input->name) : NULL;
        char why [600] = "";
        if (!input->model && input->job && spec && spec->catalogue)
            rc = s_check_job_output (self, caller, submit, input, &training, why, sizeof why);
        else if (!input->model)
            continue;
        else if (!spec || !spec->catalogue) {
            snprintf (why, sizeof why, "takes a file or a job's output, not a model (%s)",
                      input->model);
            rc = SEGQ_EINVAL;
        } else
            rc = s_resolve_input (self, caller, submit, input, &training, why, sizeof why);
        if (rc)
            snprintf (err, errlen, "input '%s': %s", input->name, *why ? why : segq_strerror (rc));
    }
    if (rc == 0 && training && kind && strcmp (kind->name, "generate") == 0)
        rc = s_check_outputs (self, submit, training, max_msg, err, errlen);
    return rc;
}

int
segq__models_of_input (segq__models_t *self, uint64_t job, const char *input,
                       char id [SEGQ__JOB_ID_MAX + 2], char *name, size_t name_len)
{
    sqlite3_stmt *stmt = s_stmt (self, Q_OF_INPUT);
    sqlite3_bind_int64 (stmt, 1, (sqlite3_int64) job);
    s_bind_text (stmt, 2, input);
    int step = sqlite3_step (stmt);
    if (step == SQLITE_ROW) {
        s_model_id ((uint64_t) sqlite3_column_int64 (stmt, 0), id);
        snprintf (name, name_len, "%s", s_text (stmt, 1) ? s_text (stmt, 1) : "");
    }
    int rc = s_rows_end (stmt, step, 0);
    return rc ? rc : step == SQLITE_ROW ? 0 : SEGQ_ENOENT;
}

int
segq__models_pinned (segq__models_t *self, uint64_t job)
{
    sqlite3_stmt *stmt = s_stmt (self, Q_PINNED);
    sqlite3_bind_int64 (stmt, 1, (sqlite3_int64) job);
    return s_found (stmt);
}

/* ---- MODEL requests ---- */

/* Appends a copy of text to a counted list of strings. */
static int
s_push (char ***list, size_t *n, const char *text)
{
    char **grown = realloc (*list, (*n + 1) * sizeof *grown);
    if (!grown)
        return SEGQ_ENOMEM;
    *list = grown;
    return (grown [*n] = strdup (text ? text : "")) ? (++*n, 0) : SEGQ_ENOMEM;
}

/* The texts query q gives for a model, one a row, into a list. */
static int
s_texts (segq__models_t *self, query_t q, uint64_t job, char ***list, size_t *n)
{
    sqlite3_stmt *stmt = s_stmt (self, q);
    sqlite3_bind_int64 (stmt, 1, (sqlite3_int64) job);
    int step = SQLITE_DONE, rc = 0;
    while (rc == 0 && (step = sqlite3_step (stmt)) == SQLITE_ROW)
        rc = s_push (list, n, s_text (stmt, 0));
    return s_rows_end (stmt, step, rc);
}

/* The training's source image and mask: names under image/ and mask/. */
static int
s_sources (segq__models_t *self, uint64_t job, segq_model_info_t *info)
{
    sqlite3_stmt *stmt = s_stmt (self, Q_SOURCES);
    sqlite3_bind_int64 (stmt, 1, (sqlite3_int64) job);
    int step = SQLITE_DONE, rc = 0;
    while (rc == 0 && (step = sqlite3_step (stmt)) == SQLITE_ROW) {
        const char *name = s_text (stmt, 0), *hash = s_text (stmt, 1);
        bool image = name && strncmp (name, "image", 5) == 0;
        bool mask = name && strncmp (name, "mask", 4) == 0;
        if (!image && !mask)
            continue;
        const char *slash = strchr (name, '/');
        char **field = image ? &info->image : &info->mask;
        free (*field);
        if (!(*field = strdup (slash ? slash + 1 : name)))
            rc = SEGQ_ENOMEM;
        snprintf (image ? info->image_hash : info->mask_hash, SEGQ_HASH_HEX_LEN + 1, "%s",
                  hash ? hash : "");
    }
    return s_rows_end (stmt, step, rc);
}

/* The newest generation from the model that caller may read, if any. */
static int
s_samples (segq__models_t *self, const segq__caller_t *caller, uint64_t job,
           segq_model_info_t *info)
{
    sqlite3_stmt *stmt = s_stmt (self, Q_SAMPLES);
    sqlite3_bind_int64 (stmt, 1, (sqlite3_int64) job);
    int step = SQLITE_DONE, rc = 0;
    while (rc == 0 && !info->samples && (step = sqlite3_step (stmt)) == SQLITE_ROW)
        if (segq__access_owner (caller, s_text (stmt, 1) ? s_text (stmt, 1) : "")) {
            char id [SEGQ__JOB_ID_MAX];
            segq__job_id_format ((uint64_t) sqlite3_column_int64 (stmt, 0), id);
            if (!(info->samples = strdup (id)))
                rc = SEGQ_ENOMEM;
        }
    return s_rows_end (stmt, step, rc);
}

/* What caller sees of the model in row: all of it but whom its owner
   shared it with (the owner's and admins' business); with detail, the
   training's parameters and a generation to look at. */
static int
s_info (segq__models_t *self, const segq__caller_t *caller, const model_row_t *row, bool detail,
        segq_model_info_t *info)
{
    char id [SEGQ__JOB_ID_MAX + 2];
    s_model_id (row->job, id);
    *info = (segq_model_info_t){ .created = row->created,
                                 .scales = row->scales,
                                 .height = row->height,
                                 .width = row->width,
                                 .lab = row->lab,
                                 .pinned = row->pinned,
                                 .purged = row->purged };
    info->id = strdup (id);
    info->name = strdup (row->name);
    info->owner = strdup (row->owner);
    info->job = strdup (row->job_id);
    info->note = *row->note ? strdup (row->note) : NULL;
    int rc = info->id && info->name && info->owner && info->job && (info->note || !*row->note)
                 ? s_sources (self, row->job, info)
                 : SEGQ_ENOMEM;
    /* none: a model without one is shown without one */
    int found = rc == 0 ? s_checkpoint (self, row->job, info->checkpoint, &info->size) : 0;
    if (found < 0)
        rc = found;
    if (rc == 0)
        rc = s_texts (self, Q_TAGS, row->job, &info->tags, &info->n_tags);
    if (rc == 0 && segq__access_owner (caller, row->owner))
        rc = s_texts (self, Q_SHARES, row->job, &info->shared, &info->n_shared);
    /* whom else the owner shared it with is the owner's business; that it
       is shared with the caller, the caller may know */
    else if (rc == 0 && row->shared_with_caller)
        rc = s_push (&info->shared, &info->n_shared, caller->user);
    if (rc == 0 && detail)
        rc = segq__job_store_params (self->store, row->job, &info->params);
    if (rc == 0 && detail)
        rc = s_samples (self, caller, row->job, info);
    return rc;
}

/* A page of the models caller may see, as request asks: their ids into
 *ids (the caller's to free, also on error), *more when more follow. */
static int
s_list_ids (segq__models_t *self, const segq__caller_t *caller, const segq_model_t *request,
            uint64_t **ids, size_t *n, bool *more)
{
    uint64_t after = 0;
    if (request->cursor && strncmp (request->cursor, "m-", 2) == 0)
        after = segq__job_id_parse (request->cursor + 2);
    sqlite3_stmt *stmt = s_stmt (self, Q_LIST);
    sqlite3_bind_int64 (stmt, 1, (sqlite3_int64) after);
    s_bind_text (stmt, 2, request->owner);
    s_bind_text (stmt, 3, request->tag);
    size_t cap = 0;
    int step = SQLITE_DONE, rc = 0;
    while (rc == 0 && (step = sqlite3_step (stmt)) == SQLITE_ROW) {
        model_row_t row;
        uint64_t job = (uint64_t) sqlite3_column_int64 (stmt, 0);
        int seen = s_visible (self, caller, job, SEGQ__FORM_MODEL, &row);
        if (seen <= 0) {
            rc = seen;
            continue;
        }
        if (*n == SEGQ_MODELS_PAGE) {
            *more = true;
            break;
        }
        if (*n == cap) {
            uint64_t *grown = realloc (*ids, (cap = cap ? 2 * cap : 16) * sizeof *grown);
            if (!grown)
                rc = SEGQ_ENOMEM;
            else
                *ids = grown;
        }
        if (rc == 0)
            (*ids) [(*n)++] = job;
    }
    return s_rows_end (stmt, step, rc);
}

static int
s_list (segq__models_t *self, const segq__caller_t *caller, const segq_model_t *request,
        segq_model_reply_t *reply)
{
    /* ids first: filling a model steps other statements */
    uint64_t *ids = NULL;
    size_t n = 0;
    bool more = false;
    int rc = s_list_ids (self, caller, request, &ids, &n, &more);
    if (rc == 0 && n && !(reply->models = calloc (n, sizeof *reply->models)))
        rc = SEGQ_ENOMEM;
    for (size_t i = 0; i < n && rc == 0; i++) {
        model_row_t row;
        rc = s_get (self, ids [i], caller->user, &row);
        if (rc == 0)
            rc = s_info (self, caller, &row, false, &reply->models [reply->n_models++]);
    }
    char id [SEGQ__JOB_ID_MAX + 2];
    if (rc == 0 && more) {
        s_model_id (ids [n - 1], id);
        if (!(reply->next = strdup (id)))
            rc = SEGQ_ENOMEM;
    }
    free (ids);
    return rc;
}

/* Whether the model of training `job` is shared with user by name (the
   row as they see it says so): 1, 0, or a store error. */
static int
s_shared_with (segq__models_t *self, uint64_t job, const char *user)
{
    model_row_t seen;
    int rc = s_get (self, job, user, &seen);
    return rc ? rc : seen.shared_with_caller;
}

/* A user a share (or unshare) of the model in row names: 0, or why not
   in err. */
static int
s_check_user (segq__models_t *self, bool share, const model_row_t *row, const char *user, char *err,
              size_t errlen)
{
    if (!segq_user_valid (user)) {
        snprintf (err, errlen, "'%s' is not a user name", user);
        return SEGQ_EINVAL;
    }
    if (strcmp (user, row->owner) == 0) {
        snprintf (err, errlen, "model %s is %s's own: a share with its owner means nothing",
                  row->name, user);
        return SEGQ_EINVAL;
    }
    if (share && self->known_user && !self->known_user (self->known_arg, user)) {
        snprintf (err, errlen,
                  "no user '%s' on this broker: no certificate in its certs/ names them "
                  "(check the name)",
                  user);
        return SEGQ_ENOENT;
    }
    int shared = share ? 1 : s_shared_with (self, row->job, user);
    if (shared < 0)
        return s_cannot_read (self, shared, row->name, err, errlen);
    if (!shared) {
        snprintf (err, errlen, "model %s is not shared with %s: nothing to take back", row->name,
                  user);
        return SEGQ_ENOENT;
    }
    return 0;
}

static int
s_share (segq__models_t *self, const segq_model_t *request, const model_row_t *row, char *err,
         size_t errlen)
{
    bool share = request->op == SEGQ_MODEL_SHARE;
    if (request->lab)
        return s_write (self, Q_SET_LAB, row->job, NULL, share);
    /* every name checked before any is written: a refusal changes nothing */
    int rc = 0;
    for (size_t i = 0; i < request->n_users && rc == 0; i++)
        rc = s_check_user (self, share, row, request->users [i], err, errlen);
    for (size_t i = 0; i < request->n_users && rc == 0; i++)
        rc = s_write (self, share ? Q_ADD_SHARE : Q_DEL_SHARE, row->job, request->users [i], 0);
    return rc;
}

static int
s_rename (segq__models_t *self, const model_row_t *row, const char *name, char *err, size_t errlen)
{
    if (!segq_model_name_valid (name)) {
        snprintf (err, errlen,
                  "'%s' is not a model name: 1 to 64 letters, digits, '_' and '-', not "
                  "beginning with '-' or 'm-'",
                  name);
        return SEGQ_EINVAL;
    }
    if (strcmp (name, row->name) == 0)
        return 0;
    int rc = s_name_free (self, row->owner, name, err, errlen);
    return rc ? rc : s_write (self, Q_SET_NAME, row->job, name, 0);
}

/* One change to a model its owner (or an admin) asked for. */
static int
s_change (segq__models_t *self, const segq_model_t *request, const model_row_t *row, char *err,
          size_t errlen)
{
    switch (request->op) {
    case SEGQ_MODEL_RENAME:
        return s_rename (self, row, request->value, err, errlen);
    case SEGQ_MODEL_TAG:
    case SEGQ_MODEL_UNTAG:
        if (!segq_model_name_valid (request->value)) {
            snprintf (err, errlen, "'%s' is not a tag (the characters of a name)", request->value);
            return SEGQ_EINVAL;
        }
        return s_write (self, request->op == SEGQ_MODEL_TAG ? Q_ADD_TAG : Q_DEL_TAG, row->job,
                        request->value, 0);
    case SEGQ_MODEL_NOTE:
        if (strchr (request->value, '\n')) {
            snprintf (err, errlen, "a note is one line");
            return SEGQ_EINVAL;
        }
        return s_write (self, Q_SET_NOTE, row->job, request->value, 0);
    case SEGQ_MODEL_SHARE:
    case SEGQ_MODEL_UNSHARE:
        return s_share (self, request, row, err, errlen);
    case SEGQ_MODEL_PIN:
    case SEGQ_MODEL_UNPIN:
        return s_write (self, Q_SET_PIN, row->job, NULL, request->op == SEGQ_MODEL_PIN);
    case SEGQ_MODEL_RM:
        return s_write (self, Q_REMOVE, row->job, NULL, 0);
    default:
        return SEGQ_EINVAL;
    }
}

int
segq__models_unshared_jobs (segq__models_t *self, uint64_t job, uint64_t **jobs, size_t *n)
{
    *jobs = NULL;
    *n = 0;
    sqlite3_stmt *stmt = s_stmt (self, Q_UNSHARED_JOBS);
    sqlite3_bind_int64 (stmt, 1, (sqlite3_int64) job);
    size_t capacity = 0;
    int rc;
    while ((rc = sqlite3_step (stmt)) == SQLITE_ROW) {
        if (*n == capacity) {
            capacity = capacity ? capacity * 2 : 16;
            uint64_t *grown = realloc (*jobs, capacity * sizeof *grown);
            if (!grown) {
                rc = SQLITE_NOMEM;
                break;
            }
            *jobs = grown;
        }
        (*jobs) [(*n)++] = (uint64_t) sqlite3_column_int64 (stmt, 0);
    }
    sqlite3_reset (stmt);
    if (rc == SQLITE_DONE)
        return 0;
    free (*jobs);
    *jobs = NULL;
    *n = 0;
    return rc == SQLITE_NOMEM ? SEGQ_ENOMEM : SEGQ_EIO;
}

/* A MODEL request about one model. */
static int
s_one (segq__models_t *self, const segq__caller_t *caller, const segq_model_t *request,
       segq_model_reply_t *reply, char *err, size_t errlen)
{
    uint64_t job;
    model_row_t row;
    int rc = segq__models_find (self, caller, request->model, &job, err, errlen);
    if (rc == 0)
        rc = s_get (self, job, caller->user, &row);
    if (rc == 0 && request->op != SEGQ_MODEL_SHOW && !s_may (caller, &row, SEGQ__FORM_CHANGE)) {
        snprintf (err, errlen, "model %s belongs to %s: only its owner or an admin may change it",
                  request->model, row.owner);
        return SEGQ_EPERM;
    }
    if (rc == 0 && request->op != SEGQ_MODEL_SHOW && request->op != SEGQ_MODEL_RM)
        rc = s_change (self, request, &row, err, errlen);
    /* the model as it now is (RM: as it was) */
    if (rc == 0 && request->op != SEGQ_MODEL_RM)
        rc = s_get (self, job, caller->user, &row);
    if (rc == 0 && !(reply->models = calloc (1, sizeof *reply->models)))
        rc = SEGQ_ENOMEM;
    if (rc == 0) {
        reply->n_models = 1;
        rc = s_info (self, caller, &row, request->op == SEGQ_MODEL_SHOW, reply->models);
    }
    if (rc == 0 && request->op == SEGQ_MODEL_RM)
        rc = s_change (self, request, &row, err, errlen);
    return rc;
}

int
segq__models_request (segq__models_t *self, const segq__caller_t *caller,
                      const segq_model_t *request, segq_model_reply_t *reply, char *err,
                      size_t errlen)
{
    if (errlen)
        err [0] = 0;
    int rc = request->op == SEGQ_MODEL_LIST ? s_list (self, caller, request, reply)
                                            : s_one (self, caller, request, reply, err, errlen);
    /* a store error deep in a read or write says nothing itself */
    if (rc && errlen && !err [0])
        segq_fail (err, errlen, rc, "cannot %s model %s: %s",
                   request->op == SEGQ_MODEL_LIST || request->op == SEGQ_MODEL_SHOW ? "read"
                                                                                    : "change",
                   request->model ? request->model : "list", s_why (self, rc));
    return rc;
}
