/*  retention.c: see retention.h. */
#include "retention.h"
#include "segq_proto.h"
#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

typedef enum {
    ST_JOB,
    ST_DEPENDENT,
    ST_MARK,
    ST_FILES,
    ST_REFERENCED,
    ST_EXPIRED,
    ST_PURGED,
    ST_COUNT
} stmt_t;

static const char *s_sql [ST_COUNT] = {
    [ST_JOB] = "SELECT state, purged, purged_by, EXISTS (SELECT 1 FROM models m WHERE m.job = ?1"
               " AND m.pinned = 1 AND m.removed = 0) FROM jobs WHERE id = ?1",
    /* a job that has not ended and takes this one's outputs as an input,
       or generates from the model it trained (resolved to its checkpoint
       at submit, so not a reference to the job) */
    [ST_DEPENDENT] = "SELECT i.job, j.state, 0 FROM inputs i JOIN jobs j ON j.id = i.job"
                     " WHERE i.ref_job = ?1 AND j.state <= 3"
                     " UNION ALL SELECT i.job, j.state, 1 FROM inputs i JOIN jobs j ON j.id = i.job"
                     " WHERE i.model = ?1 AND j.state <= 3 LIMIT 1",
    [ST_MARK] = "UPDATE jobs SET purged = ?2, purged_by = ?3 WHERE id = ?1",
    [ST_FILES] = "SELECT hash FROM inputs WHERE job = ?1 AND hash IS NOT NULL"
                 " UNION SELECT hash FROM outputs WHERE job = ?1"
                 " UNION SELECT hash FROM checkpoints WHERE job = ?1",
    /* does a job that is not purged still refer to the artifact? */
    [ST_REFERENCED] = "SELECT 1 FROM inputs i JOIN jobs j ON j.id = i.job"
                      " WHERE i.hash = ?1 AND j.purged IS NULL"
                      " UNION ALL SELECT 1 FROM outputs o JOIN jobs j ON j.id = o.job"
                      " WHERE o.hash = ?1 AND j.purged IS NULL"
                      " UNION ALL SELECT 1 FROM checkpoints c JOIN jobs j ON j.id = c.job"
                      " WHERE c.hash = ?1 AND j.purged IS NULL LIMIT 1",
    /* in the order they ended, after the sweep's cursor (index jobs_expired);
       never the training of a pinned model */
    [ST_EXPIRED] =
        "SELECT id, finished FROM jobs WHERE state >= 4 AND purged IS NULL AND finished < ?1"
        " AND (finished > ?2 OR (finished = ?2 AND id > ?3)) AND id NOT IN"
        " (SELECT job FROM models WHERE pinned = 1 AND removed = 0) ORDER BY finished, id"
        " LIMIT ?4",
    [ST_PURGED] = "SELECT id FROM jobs WHERE purged IS NOT NULL AND purged < ?3 AND id > ?1"
                  " ORDER BY id LIMIT ?2",
};

typedef struct {
    bool log; /* a job's log (text: job id), else an artifact (text: hash) */
    char text [SEGQ_HASH_HEX_LEN + 1];
    uint64_t commit; /* 0: the current turn's, not yet committed */
} removal_t;

struct segq__retention {
    segq__job_store_t *store;
    sqlite3 *db;
    sqlite3_stmt *stmt [ST_COUNT];
    segq__artifact_store_t *artifacts;
    segq__job_log_t *logs;
    double retention_s;
    double cursor_finished; /* the sweep goes on after this job next tick */
    int64_t cursor_id;
    /* once after start: files of purged jobs that a crash between the
       purge's commit and the unlink left behind; -1 when done */
    int64_t recheck_id;
    double started; /* purges since then remove their own files */
    removal_t *queue;
    size_t n_queue, cap_queue;
};

segq__retention_t *
segq__retention_new (segq__job_store_t *store, segq__artifact_store_t *artifacts,
                     segq__job_log_t *logs, double retention_s, double started, char *err,
                     size_t errlen)
{
    segq__retention_t *self = calloc (1, sizeof *self);
    if (!self) {
        snprintf (err, errlen, "out of memory");
        return NULL;
    }
    self->store = store;
    self->db = segq__job_store_db (store);
    self->artifacts = artifacts;
    self->logs = logs;
    self->retention_s = retention_s;
    self->started = started;
    for (int i = 0; i < ST_COUNT; i++)
        if (sqlite3_prepare_v3 (self->db, s_sql [i], -1, SQLITE_PREPARE_PERSISTENT, &self->stmt [i],
                                NULL)
            != SQLITE_OK) {
            snprintf (err, errlen, "retention: cannot prepare statement %d: %s", i,
                      sqlite3_errmsg (self->db));
            segq__retention_destroy (&self);
            return NULL;
        }
    return self;
}

void
segq__retention_destroy (segq__retention_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    segq__retention_t *self = *self_p;
    for (int i = 0; i < ST_COUNT; i++)
        sqlite3_finalize (self->stmt [i]);
    free (self->queue);
    free (self);
    *self_p = NULL;
}

double
segq__retention_seconds (segq__retention_t *self)
{
    return self->retention_s;
}

static sqlite3_stmt *
s_stmt (segq__retention_t *self, stmt_t which)
{
    sqlite3_stmt *stmt = self->stmt [which];
    sqlite3_reset (stmt);
    sqlite3_clear_bindings (stmt);
    return stmt;
}

static int
s_db_error (segq__retention_t *self)
{
    return sqlite3_errcode (self->db) == SQLITE_FULL ? SEGQ_ENOSPC : SEGQ_EIO;
}

/* Resets stmt after its rows and says how they ended: 0 at their end
   (SQLITE_DONE) or where the caller stopped early on purpose
   (SQLITE_ROW); else the store's error. A step that failed must not read
   as "no more rows": purged jobs' files would be passed over for good. */
static int
s_rows_end (segq__retention_t *self, sqlite3_stmt *stmt, int step)
{
    sqlite3_reset (stmt);
    return step == SQLITE_DONE || step == SQLITE_ROW ? 0 : s_db_error (self);
}

static int
s_queue (segq__retention_t *self, bool log, const char *text)
{
    if (self->n_queue == self->cap_queue) {
        size_t capacity = self->cap_queue ? self->cap_queue * 2 : 64;
        removal_t *grown = realloc (self->queue, capacity * sizeof *grown);
        if (!grown)
            return SEGQ_ENOMEM;
        self->queue = grown;
        self->cap_queue = capacity;
    }
    removal_t *removal = &self->queue [self->n_queue++];
    removal->log = log;
    snprintf (removal->text, sizeof removal->text, "%s", text);
    removal->commit = 0;
    return 0;
}

static void
s_when (double time, char *out, size_t len)
{
    time_t seconds = (time_t) time;
    struct tm tm;
    gmtime_r (&seconds, &tm);
    strftime (out, len, "%Y-%m-%d %H:%M:%S UTC", &tm);
}

/* Whether a job not purged still refers to the artifact: 1, 0, or an
   error. Callers keep the file unless 0: removing data is the act to be
   sure of. */
static int
s_referenced (segq__retention_t *self, const char *hash)
{
    sqlite3_stmt *stmt = s_stmt (self, ST_REFERENCED);
    sqlite3_bind_text (stmt, 1, hash, -1, SQLITE_STATIC);
    int step = sqlite3_step (stmt);
    int rc = s_rows_end (self, stmt, step);
    return rc ? rc : step == SQLITE_ROW;
}

typedef char hash_hex_t [SEGQ_HASH_HEX_LEN + 1];

/* "PREFIXpurged on DATE by WHO" from a row of ST_JOB. */
static void
s_purge_text (sqlite3_stmt *stmt, const char *prefix, char *text, size_t len)
{
    char when [64];
    s_when (sqlite3_column_double (stmt, 1), when, sizeof when);
    const unsigned char *who = sqlite3_column_text (stmt, 2);
    snprintf (text, len, "%spurged on %s by %s", prefix, when, who ? (const char *) who : "?");
}

/* A job that has not ended, or trained a pinned model, keeps its files. */
static int
s_check_purgeable (const char *id, int state, bool pinned, char *err, size_t errlen)
{
    if (!segq_job_state_final ((segq_job_state_t) state)) {
        snprintf (err, errlen,
                  "job %s is %s: its artifacts are in use; cancel it or wait until "
                  "it ends, then purge",
                  id, segq_job_state_name ((segq_job_state_t) state));
        return SEGQ_ESTATE;
    }
    if (pinned) {
        snprintf (err, errlen,
                  "job %s trained model m-%s, which is pinned: `segq models unpin m-%s` first", id,
                  id, id);
        return SEGQ_ESTATE;
    }
    return 0;
}

/* The job's own row: it exists, was not purged before (else *already),
   and may be purged. */
static int
s_check_job (segq__retention_t *self, uint64_t job, const char *id, bool *already, char *err,
             size_t errlen)
{
    sqlite3_stmt *stmt = s_stmt (self, ST_JOB);
    sqlite3_bind_int64 (stmt, 1, (sqlite3_int64) job);
    int rc = sqlite3_step (stmt);
    if (rc != SQLITE_ROW) {
        sqlite3_reset (stmt);
        if (rc != SQLITE_DONE) {
            snprintf (err, errlen, "cannot read job %s: %s", id, sqlite3_errmsg (self->db));
            return SEGQ_EIO;
        }
        segq__job_unknown (id, err, errlen);
        return SEGQ_ENOENT;
    }
    int state = sqlite3_column_int (stmt, 0);
    bool pinned = sqlite3_column_int (stmt, 3);
    if (sqlite3_column_type (stmt, 1) != SQLITE_NULL) {
        s_purge_text (stmt, "already ", err, errlen);
        sqlite3_reset (stmt);
        *already = true;
        return 0;
    }
    sqlite3_reset (stmt);
    return s_check_purgeable (id, state, pinned, err, errlen);
}

/* A job that has not ended and takes the job's outputs (or its model) as an input. */
static int
s_check_dependents (segq__retention_t *self, uint64_t job, const char *id, char *err, size_t errlen)
{
    sqlite3_stmt *stmt = s_stmt (self, ST_DEPENDENT);
    sqlite3_bind_int64 (stmt, 1, (sqlite3_int64) job);
    int rc = sqlite3_step (stmt);
    if (rc == SQLITE_ROW) {
        char other [SEGQ__JOB_ID_MAX];
        segq__job_id_format ((uint64_t) sqlite3_column_int64 (stmt, 0), other);
        int other_state = sqlite3_column_int (stmt, 1);
        bool model = sqlite3_column_int (stmt, 2);
        sqlite3_reset (stmt);
        snprintf (err, errlen,
                  "job %s (%s) %s of %s as an input: purge %s after %s has ended (or cancel %s)",
                  other, segq_job_state_name ((segq_job_state_t) other_state),
                  model ? "takes the model" : "takes the outputs", id, id, other, other);
        return SEGQ_ESTATE;
    }
    sqlite3_reset (stmt);
    if (rc != SQLITE_DONE) {
        snprintf (err, errlen, "cannot read the jobs that depend on %s: %s", id,
                  sqlite3_errmsg (self->db));
        return SEGQ_EIO;
    }
    return 0;
}

/* Opens the turn's transaction and marks the job purged in it. */
static int
s_mark_purged (segq__retention_t *self, uint64_t job, const char *id, const char *by, double now,
               char *err, size_t errlen)
{
    int rc = segq__job_store_begin (self->store);
    if (rc) {
        snprintf (err, errlen, "cannot start a transaction to purge %s", id);
        return rc;
    }
    sqlite3_stmt *stmt = s_stmt (self, ST_MARK);
    sqlite3_bind_int64 (stmt, 1, (sqlite3_int64) job);
    sqlite3_bind_double (stmt, 2, now);
    sqlite3_bind_text (stmt, 3, by, -1, SQLITE_STATIC);
    rc = sqlite3_step (stmt);
    sqlite3_reset (stmt);
    if (rc != SQLITE_DONE) {
        snprintf (err, errlen, "cannot record the purge of %s: %s", id, sqlite3_errmsg (self->db));
        return s_db_error (self);
    }
    return 0;
}

/* The hashes of the job's files, collected first: the reference check
   uses other statements. *hashes_p is the caller's, even on error. */
static int
s_list_files (segq__retention_t *self, uint64_t job, hash_hex_t **hashes_p, size_t *n_p)
{
    sqlite3_stmt *stmt = s_stmt (self, ST_FILES);
    sqlite3_bind_int64 (stmt, 1, (sqlite3_int64) job);
    int rc;
    while ((rc = sqlite3_step (stmt)) == SQLITE_ROW) {
        const unsigned char *hash = sqlite3_column_text (stmt, 0);
        if (!hash || strlen ((const char *) hash) != SEGQ_HASH_HEX_LEN)
            continue;
        hash_hex_t *grown = realloc (*hashes_p, (*n_p + 1) * sizeof *grown);
        if (!grown) {
            rc = SQLITE_NOMEM;
            break;
        }
        *hashes_p = grown;
        memcpy (grown [(*n_p)++], hash, SEGQ_HASH_HEX_LEN + 1);
    }
    sqlite3_reset (stmt);
    return rc == SQLITE_DONE ? 0 : rc == SQLITE_NOMEM ? SEGQ_ENOMEM : s_db_error (self);
}

/* Queues every artifact of the job that no job left unpurged refers to. */
static int
s_queue_files (segq__retention_t *self, uint64_t job, segq__purge_stats_t *stats)
{
    hash_hex_t *hashes = NULL;
    size_t n = 0;
    int result = s_list_files (self, job, &hashes, &n);
    for (size_t i = 0; i < n && result == 0; i++) {
        uint64_t size;
        /* a failed read fails the purge: marked purged with its files
           kept, the job would never be looked at again */
        int referenced = s_referenced (self, hashes [i]);
        bool stored =
            referenced >= 0 && segq__artifact_store_has (self->artifacts, hashes [i], &size);
        if (referenced || !stored) {
            result = referenced < 0 ? referenced : 0;
            stats->kept_files += referenced > 0 && stored;
            stats->kept_bytes += referenced > 0 && stored ? size : 0;
            continue;
        }
        result = s_queue (self, false, hashes [i]);
        stats->files++;
        stats->bytes += size;
    }
    free (hashes);
    return result;
}

int
segq__retention_purge (segq__retention_t *self, uint64_t job, const char *by, double now,
                       bool *already, segq__purge_stats_t *stats, char *err, size_t errlen)
{
    char id [SEGQ__JOB_ID_MAX];
    segq__job_id_format (job, id);
    *already = false;
    memset (stats, 0, sizeof *stats);
    int rc = s_check_job (self, job, id, already, err, errlen);
    if (rc || *already)
        return rc;
    rc = s_check_dependents (self, job, id, err, errlen);
    if (!rc)
        rc = s_mark_purged (self, job, id, by, now, err, errlen);
    if (rc)
        return rc;
    int result = s_queue_files (self, job, stats);
    if (result == 0)
        result = s_queue (self, true, id);
    if (result)
        snprintf (err, errlen, "cannot list the artifacts of %s: %s", id, segq_strerror (result));
    return result;
}

/* Removes the files of purged job `job` that no job left unpurged refers
   to, and its log. 0, or the error of a read that failed (what is left
   stays for the next recheck). */
static int
s_recheck_job (segq__retention_t *self, uint64_t job)
{
    hash_hex_t *hashes = NULL;
    size_t n = 0;
    int rc = s_list_files (self, job, &hashes, &n);
    for (size_t i = 0; i < n && rc >= 0; i++) {
        uint64_t size;
        if (!segq__artifact_store_has (self->artifacts, hashes [i], NULL))
            continue;
        rc = s_referenced (self, hashes [i]);
        if (rc == 0)
            segq__artifact_store_remove (self->artifacts, hashes [i], &size);
    }
    free (hashes);
    if (rc < 0)
        return rc;
    char id [SEGQ__JOB_ID_MAX];
    segq__job_id_format (job, id);
    segq__job_log_remove (self->logs, id);
    return 0;
}

/* Removes what is left of up to max_jobs purged jobs, once after start.
   recheck_id moves past a job only once it is done, and to -1 only after
   a short page read to its end: a read that fails leaves it, so those
   jobs are looked at again next time. */
static int
s_recheck (segq__retention_t *self, size_t max_jobs)
{
    sqlite3_stmt *stmt = s_stmt (self, ST_PURGED);
    sqlite3_bind_int64 (stmt, 1, self->recheck_id);
    sqlite3_bind_int64 (stmt, 2, (sqlite3_int64) max_jobs);
    sqlite3_bind_double (stmt, 3, self->started);
    uint64_t ids [64];
    size_t n = 0;
    int step = SQLITE_DONE;
    while (n < max_jobs && n < 64 && (step = sqlite3_step (stmt)) == SQLITE_ROW)
        ids [n++] = (uint64_t) sqlite3_column_int64 (stmt, 0);
    int rc = s_rows_end (self, stmt, step);
    for (size_t i = 0; i < n && rc == 0; i++)
        if ((rc = s_recheck_job (self, ids [i])) == 0)
            self->recheck_id = (int64_t) ids [i];
    if (rc)
        return rc;
    if (n < max_jobs && n < 64)
        self->recheck_id = -1;
    return (int) n;
}

int
segq__retention_recheck (segq__retention_t *self, size_t max_jobs)
{
    if (self->recheck_id < 0 || max_jobs == 0)
        return 0;
    return s_recheck (self, max_jobs);
}

int
segq__retention_sweep (segq__retention_t *self, double now, size_t max_jobs, segq__purged_fn *fn,
                       void *arg)
{
    if (self->retention_s <= 0 || max_jobs == 0)
        return 0;
    uint64_t *ids = malloc (max_jobs * sizeof *ids);
    double *finished = malloc (max_jobs * sizeof *finished);
    if (!ids || !finished) {
        free (ids);
        free (finished);
        return SEGQ_ENOMEM;
    }
    sqlite3_stmt *stmt = s_stmt (self, ST_EXPIRED);
    sqlite3_bind_double (stmt, 1, now - self->retention_s);
    sqlite3_bind_double (stmt, 2, self->cursor_finished);
    sqlite3_bind_int64 (stmt, 3, self->cursor_id);
    sqlite3_bind_int64 (stmt, 4, (sqlite3_int64) max_jobs);
    size_t n = 0;
    int step = SQLITE_DONE;
    while (n < max_jobs && (step = sqlite3_step (stmt)) == SQLITE_ROW) {
        ids [n] = (uint64_t) sqlite3_column_int64 (stmt, 0);
        finished [n++] = sqlite3_column_double (stmt, 1);
    }
    int result = s_rows_end (self, stmt, step);
    for (size_t i = 0; i < n && result == 0; i++) {
        bool already;
        segq__purge_stats_t stats;
        char err [512];
        int prc = segq__retention_purge (self, ids [i], "retention", now, &already, &stats, err,
                                         sizeof err);
        /* ESTATE: a job that has not ended needs it; it stays for a later sweep */
        if (prc == 0 && !already && fn)
            fn (arg, ids [i], &stats);
        else if (prc && prc != SEGQ_ESTATE)
            result = prc;
        self->cursor_finished = finished [i];
        self->cursor_id = (int64_t) ids [i];
    }
    /* a short page: every expired job has been looked at; start over next time */
    if (result == 0 && n < max_jobs) {
        self->cursor_finished = 0;
        self->cursor_id = 0;
    }
    free (ids);
    free (finished);
    return result ? result : (int) n;
}

int
segq__retention_forget (segq__retention_t *self, const char *hash)
{
    return s_queue (self, false, hash);
}

void
segq__retention_committed (segq__retention_t *self, uint64_t commit)
{
    for (size_t i = self->n_queue; i-- > 0 && self->queue [i].commit == 0;)
        self->queue [i].commit = commit;
}

void
segq__retention_rolled_back (segq__retention_t *self)
{
    while (self->n_queue && self->queue [self->n_queue - 1].commit == 0)
        self->n_queue--;
    /* the purges are undone: the sweep may meet those jobs again */
    self->cursor_finished = 0;
    self->cursor_id = 0;
}

void
segq__retention_synced (segq__retention_t *self, uint64_t commit)
{
    size_t done = 0;
    while (done < self->n_queue && self->queue [done].commit
           && self->queue [done].commit <= commit) {
        removal_t *removal = &self->queue [done];
        /* a job submitted since the purge may refer to it again; a read
           that fails keeps this and the rest queued for the next sync */
        int referenced = removal->log ? 0 : s_referenced (self, removal->text);
        if (referenced < 0)
            break;
        uint64_t size;
        if (removal->log)
            segq__job_log_remove (self->logs, removal->text);
        else if (!referenced)
            segq__artifact_store_remove (self->artifacts, removal->text, &size);
        done++;
    }
    if (done == 0)
        return;
    memmove (self->queue, self->queue + done, (self->n_queue - done) * sizeof *self->queue);
    self->n_queue -= done;
}

bool
segq__retention_purged (segq__retention_t *self, uint64_t job, char *text, size_t len)
{
    sqlite3_stmt *stmt = s_stmt (self, ST_JOB);
    sqlite3_bind_int64 (stmt, 1, (sqlite3_int64) job);
    bool purged = sqlite3_step (stmt) == SQLITE_ROW && sqlite3_column_type (stmt, 1) != SQLITE_NULL;
    if (purged)
        s_purge_text (stmt, "", text, len);
    sqlite3_reset (stmt);
    return purged;
}
