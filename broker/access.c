/*  access.c: see access.h. */
#include "access.h"
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>

struct segq__access {
    sqlite3 *db;
    sqlite3_stmt *input;
};

/* From the hash side (indexes inputs_hash, outputs_hash): few rows. An
   input naming a job without an output name takes all its outputs. */
static const char s_sql [] =
    "SELECT 1 FROM inputs i JOIN jobs j ON j.id = i.job"
    " WHERE i.hash = ?2 AND j.state = 3 AND j.worker = ?1"
    " UNION ALL SELECT 1 FROM outputs o JOIN inputs i ON i.ref_job = o.job"
    " JOIN jobs j ON j.id = i.job"
    " WHERE o.hash = ?2 AND j.state = 3 AND j.worker = ?1"
    " AND (i.ref_output IS NULL OR i.ref_output = '*' OR i.ref_output = o.name)"
    /* the checkpoint a requeued attempt resumes from */
    " UNION ALL SELECT 1 FROM checkpoints c JOIN jobs j ON j.id = c.job"
    " WHERE c.hash = ?2 AND j.state = 3 AND j.worker = ?1 LIMIT 1";

segq__access_t *
segq__access_new (segq__job_store_t *store, char *err, size_t errlen)
{
    segq__access_t *self = calloc (1, sizeof *self);
    if (!self) {
        snprintf (err, errlen, "out of memory");
        return NULL;
    }
    self->db = segq__job_store_db (store);
    if (sqlite3_prepare_v3 (self->db, s_sql, -1, SQLITE_PREPARE_PERSISTENT, &self->input,
                            NULL) != SQLITE_OK) {
        snprintf (err, errlen, "cannot prepare the artifact access check: %s",
                  sqlite3_errmsg (self->db));
        free (self);
        return NULL;
    }
    return self;
}

void
segq__access_destroy (segq__access_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    sqlite3_finalize ((*self_p)->input);
    free (*self_p);
    *self_p = NULL;
}

bool
segq__access_worker_input (segq__access_t *self, const char *node, const char *hash)
{
    sqlite3_reset (self->input);
    sqlite3_bind_text (self->input, 1, node, -1, SQLITE_STATIC);
    sqlite3_bind_text (self->input, 2, hash, -1, SQLITE_STATIC);
    bool found = sqlite3_step (self->input) == SQLITE_ROW;
    sqlite3_reset (self->input);
    return found;
}
