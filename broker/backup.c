/*  backup.c: see backup.h. */
#include "backup.h"
#include "segq_error.h"
#include "segq_fs.h"
#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <sqlite3.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

struct segq__backup {
    char path [4096];
    char part [4200];
    sqlite3 *dest;
    sqlite3_backup *backup;
    uint64_t size;
    uint64_t jobs;
    bool done;
};

/* 0 when a backup may be written at path (absolute); else -1 with *code
   and err saying why: it exists, is a folder, or its folder is not one. */
static int
s_refuse_target (const char *path, int *code, char *err, size_t errlen)
{
    struct stat st;
    char folder [4096];
    snprintf (folder, sizeof folder, "%.*s", (int) (strrchr (path, '/') - path), path);
    bool exists = lstat (path, &st) == 0;
    *code = SEGQ_EEXIST;
    if (exists && S_ISDIR (st.st_mode))
        snprintf (err, errlen,
                  "%s is a folder on the broker's machine: give a file name in it "
                  "(%s/segq-backup.db)",
                  path, path);
    else if (exists)
        snprintf (err, errlen, "%s already exists: a backup never overwrites; give a new name",
                  path);
    else if (*folder && (stat (folder, &st) != 0 || !S_ISDIR (st.st_mode))) {
        *code = SEGQ_ENOENT;
        snprintf (err, errlen,
                  "cannot write %s: %s is not a folder on the broker's machine (make it first)",
                  path, folder);
    } else
        return 0;
    return -1;
}

segq__backup_t *
segq__backup_start (segq__job_store_t *store, const char *path, int *code, char *err, size_t errlen)
{
    *code = SEGQ_EINVAL;
    if (!path || path [0] != '/' || strlen (path) >= 4096) {
        snprintf (err, errlen,
                  "backup path '%s' must be an absolute path on the broker's "
                  "machine",
                  path ? path : "");
        return NULL;
    }
    if (s_refuse_target (path, code, err, errlen) != 0)
        return NULL;
    segq__backup_t *self = calloc (1, sizeof *self);
    if (!self) {
        *code = SEGQ_ENOMEM;
        snprintf (err, errlen, "out of memory");
        return NULL;
    }
    snprintf (self->path, sizeof self->path, "%s", path);
    snprintf (self->part, sizeof self->part, "%s.part", path);
    int fd = open (self->part, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
    if (fd < 0) {
        *code = errno == EEXIST ? SEGQ_EEXIST : SEGQ_EIO;
        snprintf (err, errlen, "cannot create %s: %s%s", self->part, strerror (errno),
                  errno == EEXIST ? " (another backup to that name in progress, or left by "
                                    "a crash: remove it)"
                                  : "");
        free (self);
        return NULL;
    }
    close (fd);
    *code = SEGQ_EIO;
    if (sqlite3_open_v2 (self->part, &self->dest, SQLITE_OPEN_READWRITE | SQLITE_OPEN_NOMUTEX, NULL)
            != SQLITE_OK
        || !(self->backup =
                 sqlite3_backup_init (self->dest, "main", segq__job_store_db (store), "main"))) {
        snprintf (err, errlen, "cannot start the backup to %s: %s", self->part,
                  self->dest ? sqlite3_errmsg (self->dest) : "out of memory");
        segq__backup_destroy (&self);
        return NULL;
    }
    return self;
}

/* The copy is a database of its own: its WAL folded in, so that it is one
   file (the WAL is removed after). 0, or the error, with why: the pages
   only the WAL holds must not be thrown away. */
static int
s_fold_wal (segq__backup_t *self, char *err, size_t errlen)
{
    sqlite3_stmt *stmt;
    int rc = sqlite3_prepare_v2 (self->dest, "PRAGMA wal_checkpoint(TRUNCATE)", -1, &stmt, NULL);
    bool folded = rc == SQLITE_OK && (rc = sqlite3_step (stmt)) == SQLITE_ROW
                  && sqlite3_column_int (stmt, 0) == 0
                  && sqlite3_column_int (stmt, 1) == sqlite3_column_int (stmt, 2);
    sqlite3_finalize (stmt);
    if (folded)
        return 0;
    snprintf (err, errlen,
              "backup to %s: cannot fold its write-ahead log in (%s): free space on that disk "
              "and run the backup again",
              self->path, rc == SQLITE_ROW ? "the log is busy" : sqlite3_errmsg (self->dest));
    return rc == SQLITE_FULL ? SEGQ_ENOSPC : SEGQ_EIO;
}

int
segq__backup_step (segq__backup_t *self, int pages, char *err, size_t errlen)
{
    if (self->done)
        return 0;
    int rc = sqlite3_backup_step (self->backup, pages);
    if (rc == SQLITE_OK || rc == SQLITE_BUSY || rc == SQLITE_LOCKED)
        return 1;
    sqlite3_backup_finish (self->backup);
    self->backup = NULL;
    if (rc != SQLITE_DONE) {
        snprintf (err, errlen, "backup to %s failed: %s", self->path, sqlite3_errstr (rc));
        return rc == SQLITE_FULL ? SEGQ_ENOSPC : SEGQ_EIO;
    }
    sqlite3_stmt *stmt;
    if (sqlite3_prepare_v2 (self->dest, "SELECT count(*) FROM jobs", -1, &stmt, NULL)
        == SQLITE_OK) {
        if (sqlite3_step (stmt) == SQLITE_ROW)
            self->jobs = (uint64_t) sqlite3_column_int64 (stmt, 0);
        sqlite3_finalize (stmt);
    }
    rc = s_fold_wal (self, err, errlen);
    if (rc)
        return rc;
    if (sqlite3_close (self->dest) != SQLITE_OK) {
        snprintf (err, errlen, "cannot close the backup %s", self->part);
        return SEGQ_EIO;
    }
    self->dest = NULL;
    char wal [4300];
    snprintf (wal, sizeof wal, "%s-wal", self->part);
    unlink (wal);
    snprintf (wal, sizeof wal, "%s-shm", self->part);
    unlink (wal);
    struct stat st;
    char dir [4096];
    snprintf (dir, sizeof dir, "%s", self->path);
    if (segq_fsync_path (self->part) != 0 || stat (self->part, &st) != 0
        || rename (self->part, self->path) != 0 || segq_fsync_path (dirname (dir)) != 0) {
        snprintf (err, errlen, "cannot put the backup in place at %s: %s", self->path,
                  strerror (errno));
        return errno == ENOSPC ? SEGQ_ENOSPC : SEGQ_EIO;
    }
    self->size = (uint64_t) st.st_size;
    self->done = true;
    return 0;
}

const char *
segq__backup_path (segq__backup_t *self)
{
    return self->path;
}

uint64_t
segq__backup_size (segq__backup_t *self)
{
    return self->size;
}

uint64_t
segq__backup_jobs (segq__backup_t *self)
{
    return self->jobs;
}

void
segq__backup_destroy (segq__backup_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    segq__backup_t *self = *self_p;
    if (self->backup)
        sqlite3_backup_finish (self->backup);
    if (self->dest)
        sqlite3_close (self->dest);
    if (!self->done) {
        unlink (self->part);
        char side [4300];
        snprintf (side, sizeof side, "%s-wal", self->part);
        unlink (side);
        snprintf (side, sizeof side, "%s-shm", self->part);
        unlink (side);
    }
    free (self);
    *self_p = NULL;
}
