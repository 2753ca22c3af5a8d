/*  access.c: see access.h. */
#include "access.h"
#include "segq_sha256.h"
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef enum { Q_WORKER_INPUT, Q_WORKER_UPLOADED, Q_HASH, Q_UPLOADED, Q_COUNT } query_t;

/* All from the hash side (indexes inputs_hash, outputs_hash, the uploads
   key): few rows whatever the store's size. */
static const char *s_sql [Q_COUNT] = {
    /* An input naming a job without an output name takes all its outputs. */
    [Q_WORKER_INPUT] = "SELECT 1 FROM inputs i JOIN jobs j ON j.id = i.job"
                       " WHERE i.hash = ?2 AND j.state = 3 AND j.worker = ?1"
                       " UNION ALL SELECT 1 FROM outputs o JOIN inputs i ON i.ref_job = o.job"
                       " JOIN jobs j ON j.id = i.job"
                       " WHERE o.hash = ?2 AND j.state = 3 AND j.worker = ?1"
                       " AND (i.ref_output IS NULL OR i.ref_output = '*' OR i.ref_output = o.name)"
                       /* the checkpoint a requeued attempt resumes from */
                       " UNION ALL SELECT 1 FROM checkpoints c JOIN jobs j ON j.id = c.job"
                       " WHERE c.hash = ?2 AND j.state = 3 AND j.worker = ?1 LIMIT 1",
    [Q_WORKER_UPLOADED] = "SELECT 1 FROM uploads WHERE hash = ?2 AND worker = 1 AND by = ?1",
    /* Uploaded it, or owns a job that holds it: as an input only if it is
       not a model someone else owns and shared (the user's job reads it,
       the user does not). */
    [Q_HASH] = "SELECT 1 FROM uploads WHERE hash = ?1 AND worker = 0 AND by = ?2"
               " UNION ALL SELECT 1 FROM inputs i JOIN jobs j ON j.id = i.job"
               " WHERE i.hash = ?1 AND j.owner = ?2 AND (i.model IS NULL OR EXISTS"
               " (SELECT 1 FROM models m WHERE m.job = i.model AND m.owner = ?2))"
               " UNION ALL SELECT 1 FROM outputs o JOIN jobs j ON j.id = o.job"
               " WHERE o.hash = ?1 AND j.owner = ?2 LIMIT 1",
    [Q_UPLOADED] = "INSERT OR IGNORE INTO uploads (hash, by, worker) VALUES (?1, ?2, ?3)",
};

struct segq__access {
    segq__job_store_t *store;
    segq__artifact_store_t *artifacts;
    sqlite3 *db;
    sqlite3_stmt *stmt [Q_COUNT];
};

segq__access_t *
segq__access_new (segq__job_store_t *store, segq__artifact_store_t *artifacts, char *err,
                  size_t errlen)
{
    segq__access_t *self = calloc (1, sizeof *self);
    if (!self) {
        snprintf (err, errlen, "out of memory");
        return NULL;
    }
    self->store = store;
    self->artifacts = artifacts;
    self->db = segq__job_store_db (store);
    for (int q = 0; q < Q_COUNT; q++)
        if (sqlite3_prepare_v3 (self->db, s_sql [q], -1, SQLITE_PREPARE_PERSISTENT, &self->stmt [q],
                                NULL)
            != SQLITE_OK) {
            snprintf (err, errlen, "cannot prepare the access rule's query %d: %s", q,
                      sqlite3_errmsg (self->db));
            segq__access_destroy (&self);
            return NULL;
        }
    return self;
}

void
segq__access_destroy (segq__access_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    for (int q = 0; q < Q_COUNT; q++)
        sqlite3_finalize ((*self_p)->stmt [q]);
    free (*self_p);
    *self_p = NULL;
}

/* Runs query q with two text parameters (and a third, 0 or 1, where it
   takes one): true if it found a row (or, for a write, did it). */
static bool
s_run (segq__access_t *self, query_t q, const char *a, const char *b, int c)
{
    sqlite3_stmt *stmt = self->stmt [q];
    sqlite3_reset (stmt);
    sqlite3_bind_text (stmt, 1, a, -1, SQLITE_STATIC);
    sqlite3_bind_text (stmt, 2, b, -1, SQLITE_STATIC);
    if (sqlite3_bind_parameter_count (stmt) > 2)
        sqlite3_bind_int (stmt, 3, c);
    int rc = sqlite3_step (stmt);
    sqlite3_reset (stmt);
    return q == Q_UPLOADED ? rc == SQLITE_DONE : rc == SQLITE_ROW;
}

bool
segq__access_rule (const segq__caller_t *caller, const char *owner, segq__share_t share,
                   segq__form_t form)
{
    if (caller->admin || (caller->user && owner && strcmp (caller->user, owner) == 0))
        return true;
    return form == SEGQ__FORM_MODEL && share != SEGQ__SHARE_NONE && caller->user;
}

bool
segq__access_owner (const segq__caller_t *caller, const char *owner)
{
    return segq__access_rule (caller, owner, SEGQ__SHARE_NONE, SEGQ__FORM_JOB);
}

int
segq__access_job (segq__access_t *self, const segq__caller_t *caller, uint64_t number,
                  const char *job, char *err, size_t errlen)
{
    segq__job_brief_t brief;
    int rc = number ? segq__job_store_brief (self->store, number, &brief) : SEGQ_ENOENT;
    if (rc == SEGQ_ENOENT)
        segq__job_unknown (job, err, errlen);
    else if (rc)
        snprintf (err, errlen, "cannot read job %s: %s", job, segq_strerror (rc));
    else if (!segq__access_owner (caller, brief.owner)) {
        snprintf (err, errlen,
                  "job %s belongs to %s: only its owner or an admin may read its "
                  "inputs, outputs and log",
                  job, brief.owner);
        rc = SEGQ_EPERM;
    }
    return rc;
}

bool
segq__access_hash (segq__access_t *self, const segq__caller_t *caller, const char *hash)
{
    return caller->admin || (caller->user && s_run (self, Q_HASH, hash, caller->user, 0));
}

/* A job array: readable if its owner's jobs are. ARRAY makes arrays of
   the sender's own jobs only (admins too), so the owner stands for every
   member: one row read, not one per member on the submit path. */
static int
s_access_array (segq__access_t *self, const segq__caller_t *caller, uint64_t array,
                const char *name, char *err, size_t errlen)
{
    segq__array_row_t row = { 0 };
    int rc = segq__job_store_array (self->store, array, &row);
    if (rc == SEGQ_ENOENT)
        rc = 0; /* the submit names it unknown */
    else if (rc == 0 && !segq__access_owner (caller, row.owner)) {
        snprintf (err, errlen,
                  "job array %s belongs to %s: only its owner or an admin may use "
                  "its outputs",
                  name, row.owner);
        rc = SEGQ_EPERM;
    }
    segq__array_row_clear (&row);
    return rc;
}

/* One input's reference, by the rule; err names the input. */
static int
s_access_input (segq__access_t *self, const segq__caller_t *caller, const segq_input_t *input,
                char *err, size_t errlen)
{
    char why [512] = "";
    int rc = 0;
    if (input->model) {
        /* models.c resolved it by the rule (segq__access_rule, FORM_MODEL)
           before this check; its hash is the checkpoint's */
    } else if (!input->job) {
        /* one the store lacks is the submit's to name: "upload it first" */
        if (segq_hash_valid (input->hash)
            && segq__artifact_store_has (self->artifacts, input->hash, NULL)
            && !segq__access_hash (self, caller, input->hash)) {
            snprintf (why, sizeof why,
                      "artifact %s was not uploaded by you and is in no job you "
                      "may read: upload the file itself",
                      input->hash);
            rc = SEGQ_EPERM;
        }
    } else if (segq__array_id_parse (input->job))
        rc = s_access_array (self, caller, segq__array_id_parse (input->job), input->job, why,
                             sizeof why);
    else {
        rc = segq__access_job (self, caller, segq__job_id_parse (input->job), input->job, why,
                               sizeof why);
        if (rc == SEGQ_ENOENT)
            rc = 0;
    }
    if (rc)
        snprintf (err, errlen, "input '%s': %s", input->name ? input->name : "", why);
    return rc;
}

int
segq__access_submit (segq__access_t *self, const segq__caller_t *caller,
                     const segq_submit_t *submit, char *err, size_t errlen)
{
    int rc = 0;
    for (size_t i = 0; i < submit->n_inputs && rc == 0; i++)
        rc = s_access_input (self, caller, &submit->inputs [i], err, errlen);
    return rc;
}

int
segq__access_uploaded (segq__access_t *self, const char *user, const char *node, const char *hash)
{
    int rc = segq__job_store_begin (self->store);
    if (rc == 0 && !s_run (self, Q_UPLOADED, hash, user ? user : node, !user))
        rc = SEGQ_EIO;
    return rc;
}

bool
segq__access_worker_input (segq__access_t *self, const char *node, const char *hash)
{
    return s_run (self, Q_WORKER_INPUT, node, hash, 0);
}

bool
segq__access_worker_output (segq__access_t *self, const char *node, const char *hash)
{
    return s_run (self, Q_WORKER_UPLOADED, node, hash, 1)
           || segq__access_worker_input (self, node, hash);
}
