/*  restore.c: see restore.h.

    A plain copy over DATA/segq.db is unsafe after a crash: the old
    database's write-ahead log (segq.db-wal) is still there, and the broker
    replays it over the copy at start, serving the crashed state again or a
    damaged database. And a restored broker would give again the job ids
    the lost state had given, which the audit log and users still hold for
    other jobs.

    So a restore
    1. takes the old database's lock as a running segqd holds it
       (locking_mode=EXCLUSIVE): a broker still running is refused, and
       none can start until the swap; reading the old database through its
       log tells how far the lost state counted job ids (arrays are
       numbered from them too), and so does the audit log's every accepted
       submit and array;
    2. checks BACKUP, read as an immutable file (SQLite makes no log or
       lock file beside it): a segq database, whole, of a schema this
       segqd knows;
    3. copies BACKUP to a file beside segq.db (SQLite's backup API) and
       stores there a job counter above every id given before (meta
       next_job, which the store counts from), synced;
    4. releases the old database, whose log SQLite folds into it on close,
       keeps it as segq.db.before-restore-TIME (a hard link first, so that
       segq.db never goes missing) and renames the copy over segq.db;
    5. records the restore in the audit log.
*/
#include "restore.h"
#include "audit.h"
#include "job_store.h"
#include "segq_error.h"
#include "segq_fs.h"
#include <errno.h>
#include <inttypes.h>
#include <jansson.h>
#include <limits.h>
#include <pwd.h>
#include <sqlite3.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#define DB_LEN      4200
#define SIDE_LEN    (DB_LEN + 96) /* a name beside segq.db */
#define MESSAGE_LEN (SIDE_LEN + 256)

typedef struct {
    char backup [PATH_MAX]; /* absolute */
    const char *data_dir;
    char db [DB_LEN];     /* DIR/segq.db */
    char temp [SIDE_LEN]; /* the copy being made beside it; "" once in place */
    char kept [SIDE_LEN]; /* where the replaced database went; "" if none */
    sqlite3 *source;      /* BACKUP, immutable */
    sqlite3 *old;         /* the database in place, locked; NULL if none */
    int version;          /* BACKUP's schema version */
    uint64_t jobs;        /* in BACKUP */
    uint64_t given;       /* the largest job (or array) number given before, 0 if none */
    uint64_t next_id;     /* the restored database's next job number */
} restore_t;

/* Says on stderr why the restore stops and what to do; the exit status. */
static int s_refuse (const char *format, ...) __attribute__ ((format (printf, 1, 2)));

static int
s_refuse (const char *format, ...)
{
    va_list args;
    va_start (args, format);
    fputs ("segqd restore: ", stderr);
    vfprintf (stderr, format, args);
    fputc ('\n', stderr);
    va_end (args);
    return 1;
}

/* The first column of the first row of sql as text into out; an SQLite
   result code (sqlite3_errmsg says why). */
static int
s_query (sqlite3 *db, const char *sql, char *out, size_t outlen)
{
    sqlite3_stmt *stmt;
    int rc = sqlite3_prepare_v2 (db, sql, -1, &stmt, NULL);
    if (rc != SQLITE_OK)
        return rc;
    rc = sqlite3_step (stmt);
    if (rc == SQLITE_ROW) {
        const char *text = (const char *) sqlite3_column_text (stmt, 0);
        snprintf (out, outlen, "%s", text ? text : "");
        rc = SQLITE_OK;
    }
    sqlite3_finalize (stmt);
    return rc;
}

/* A file, not a folder, not the database it would replace, and whole: a
   log beside it (BACKUP-wal) holds changes a copy of the file alone lacks. */
static int
s_check_backup_file (restore_t *r, const char *given)
{
    struct stat st;
    if (stat (given, &st) != 0)
        return s_refuse ("cannot read the backup %s: %s (give the file `segq backup FILE` wrote)",
                         given, strerror (errno));
    if (S_ISDIR (st.st_mode))
        return s_refuse ("%s is a folder: give the backup file that `segq backup FILE` wrote",
                         given);
    if (!S_ISREG (st.st_mode) || !realpath (given, r->backup))
        return s_refuse ("%s is not a regular file: give the file `segq backup FILE` wrote", given);
    struct stat db;
    if (stat (r->db, &db) == 0 && db.st_dev == st.st_dev && db.st_ino == st.st_ino)
        return s_refuse ("%s is %s itself, the database a restore replaces: give a backup made "
                         "by `segq backup FILE`",
                         given, r->db);
    char wal [PATH_MAX + 8];
    snprintf (wal, sizeof wal, "%s-wal", r->backup);
    if (stat (wal, &st) == 0 && st.st_size > 0)
        return s_refuse ("%s has a write-ahead log beside it, %s, with changes the file alone "
                         "lacks: restore a backup made by `segq backup FILE` (a single file)",
                         r->backup, wal);
    return 0;
}

/* BACKUP opened as immutable: SQLite then takes no lock and makes no
   -wal or -shm file beside it, wherever it lies. */
static int
s_open_backup (restore_t *r)
{
    char uri [3 * PATH_MAX + 32] = "file:";
    size_t n = strlen (uri);
    /* a path is a URI's but for these */
    for (const char *c = r->backup; *c; c++)
        n += (size_t) (strchr ("%?#", *c) ? sprintf (uri + n, "%%%02X", (unsigned char) *c)
                                          : sprintf (uri + n, "%c", *c));
    snprintf (uri + n, sizeof uri - n, "?immutable=1");
    if (sqlite3_open_v2 (uri, &r->source, SQLITE_OPEN_READONLY | SQLITE_OPEN_URI, NULL)
        != SQLITE_OK)
        return s_refuse ("cannot open the backup %s: %s", r->backup,
                         r->source ? sqlite3_errmsg (r->source) : "out of memory");
    return 0;
}

/* A segq database, whole (quick_check), of a schema version this segqd
   knows: an older one is migrated as the broker migrates at start. */
static int
s_check_backup_content (restore_t *r)
{
    char answer [512] = "";
    if (segq__job_store_read_version (r->source, &r->version) != 0) {
        if (sqlite3_errcode (r->source) == SQLITE_NOTADB)
            return s_refuse ("%s is not an SQLite database: give the file `segq backup FILE` wrote",
                             r->backup);
        return s_refuse ("cannot read the backup %s: %s", r->backup, sqlite3_errmsg (r->source));
    }
    if (r->version == 0 || s_query (r->source, "SELECT count(*) FROM jobs", answer, sizeof answer))
        return s_refuse ("%s is an SQLite database but not segq's (it has no schema version or "
                         "no jobs): give the file `segq backup FILE` wrote",
                         r->backup);
    r->jobs = strtoull (answer, NULL, 10);
    if (r->version > SEGQ_STORE_SCHEMA_VERSION)
        return s_refuse ("%s has schema version %d, newer than this segqd's (%d): restore it with "
                         "the segqd that made it, or upgrade segqd first",
                         r->backup, r->version, SEGQ_STORE_SCHEMA_VERSION);
    if (s_query (r->source, "PRAGMA quick_check", answer, sizeof answer) != SQLITE_OK
        || strcmp (answer, "ok") != 0)
        return s_refuse ("%s is damaged (%s): restore an older backup", r->backup,
                         *answer ? answer : sqlite3_errmsg (r->source));
    return 0;
}

/* DIR is made if missing (a restore onto a new machine), and must be
   this user's: segqd, which runs as its owner, could not open a database
   another user wrote. */
static int
s_check_data_dir (restore_t *r)
{
    char err [MESSAGE_LEN] = "";
    struct stat dir;
    if (segq_mkdirs (r->data_dir, err, sizeof err) != 0 || stat (r->data_dir, &dir) != 0)
        return s_refuse ("%s", *err ? err : strerror (errno));
    if (dir.st_uid != geteuid ())
        return s_refuse ("%s belongs to another user (uid %u): run the restore as the user segqd "
                         "runs as (under systemd: sudo -u segq segqd restore ...)",
                         r->data_dir, (unsigned) dir.st_uid);
    return 0;
}

/* The database in place, locked as a running segqd holds it, until the
   swap. Its job counter, read through its log (where a crash leaves the
   last commits), bounds the ids the lost state gave. One that cannot be
   read does not stop the restore: that may be why it is done. */
static int
s_lock_old (restore_t *r)
{
    if (access (r->db, F_OK) != 0)
        return 0;
    int rc = sqlite3_open_v2 (r->db, &r->old, SQLITE_OPEN_READWRITE, NULL);
    if (rc == SQLITE_OK)
        rc = sqlite3_exec (r->old, "PRAGMA locking_mode = EXCLUSIVE; BEGIN IMMEDIATE", NULL, NULL,
                           NULL);
    if (rc == SQLITE_BUSY)
        return s_refuse ("a broker is running on %s (its database %s is locked): stop it first "
                         "(systemctl stop segqd, or SIGTERM to segqd), then restore",
                         r->data_dir, r->db);
    uint64_t next_id = 0;
    if (rc != SQLITE_OK || segq__job_store_read_next_id (r->old, &next_id) != 0) {
        fprintf (stderr,
                 "segqd restore: the database in place, %s, cannot be read (%s): new job ids "
                 "go on above the audit log's\n",
                 r->db, r->old ? sqlite3_errmsg (r->old) : "out of memory");
        return 0;
    }
    r->given = next_id - 1;
    /* in exclusive locking mode the lock outlives the transaction */
    if (sqlite3_exec (r->old, "COMMIT", NULL, NULL, NULL) != SQLITE_OK)
        return s_refuse ("cannot read %s: %s", r->db, sqlite3_errmsg (r->old));
    return 0;
}

/* The number an audit event's accepted submit or array got, else 0. Only
   accepted ones count: a refused request's job is whatever its sender
   typed (up to 13 base-32 digits), which must not push the ids to their
   end. Arrays are numbered from the job counter too. */
static uint64_t
s_audit_number (const char *line)
{
    json_t *event = json_loads (line, 0, NULL);
    const char *action = json_string_value (json_object_get (event, "action"));
    const char *outcome = json_string_value (json_object_get (event, "outcome"));
    const char *job = json_string_value (json_object_get (event, "job"));
    uint64_t number = 0;
    if (action && outcome && strcmp (outcome, "ok") == 0)
        number = strcmp (action, "submit") == 0  ? segq__job_id_parse (job)
                 : strcmp (action, "array") == 0 ? segq__array_id_parse (job)
                                                 : 0;
    json_decref (event);
    return number;
}

/* The largest number the audit log's accepted submits and arrays got. */
static int
s_audit_given (restore_t *r)
{
    char path [SIDE_LEN];
    snprintf (path, sizeof path, "%s/audit.log", r->data_dir);
    FILE *file = fopen (path, "re");
    if (!file && errno == ENOENT)
        return 0;
    if (!file)
        return s_refuse ("cannot read the audit log %s: %s (it holds the job ids given before)",
                         path, strerror (errno));
    char *line = NULL;
    size_t capacity = 0;
    while (getline (&line, &capacity, file) > 0) {
        /* spares most lines the parse */
        if (!strstr (line, "\"submit\"") && !strstr (line, "\"array\""))
            continue;
        uint64_t number = s_audit_number (line);
        r->given = number > r->given ? number : r->given;
    }
    bool failed = ferror (file);
    free (line);
    fclose (file);
    if (failed)
        return s_refuse ("cannot read the audit log %s: %s", path, strerror (errno));
    return 0;
}

/* BACKUP copied beside segq.db (a rename stays on one file system). */
static int
s_copy (restore_t *r)
{
    snprintf (r->temp, sizeof r->temp, "%s.restore-%ld", r->db, (long) getpid ());
    unlink (r->temp); /* left by a restore killed under the same pid */
    sqlite3 *copy = NULL;
    sqlite3_backup *backup = NULL;
    int rc = sqlite3_open_v2 (r->temp, &copy, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE, NULL);
    if (rc == SQLITE_OK && !(backup = sqlite3_backup_init (copy, "main", r->source, "main")))
        rc = sqlite3_errcode (copy);
    if (backup && (rc = sqlite3_backup_step (backup, -1)) == SQLITE_DONE)
        rc = SQLITE_OK;
    if (backup && sqlite3_backup_finish (backup) != SQLITE_OK && rc == SQLITE_OK)
        rc = sqlite3_errcode (copy);
    char why [512];
    snprintf (why, sizeof why, "%s", copy ? sqlite3_errmsg (copy) : "out of memory");
    if (sqlite3_close (copy) != SQLITE_OK && rc == SQLITE_OK)
        rc = SQLITE_IOERR;
    if (rc != SQLITE_OK)
        return s_refuse ("cannot copy %s to %s: %s%s", r->backup, r->temp, why,
                         rc == SQLITE_FULL ? " (free some space there)" : "");
    return 0;
}

/* The copy counts job ids from above every one given before, stored in it
   (meta next_job, which the store counts from: it survives restarts).
   Opening it as the broker does migrates an older schema; closing folds
   its log in, so the copy is one file, then synced. */
static int
s_raise_ids (restore_t *r)
{
    char err [MESSAGE_LEN] = "";
    segq__job_store_t *store = segq__job_store_open (r->temp, err, sizeof err);
    int rc =
        store ? segq__job_store_raise_next_id (store, r->given + 1, err, sizeof err) : SEGQ_EIO;
    if (rc == 0 && segq__job_store_read_next_id (segq__job_store_db (store), &r->next_id) != 0) {
        snprintf (err, sizeof err, "%s: cannot read the job counter back", r->temp);
        rc = SEGQ_EIO;
    }
    segq__job_store_destroy (&store);
    char wal [SIDE_LEN + 8];
    snprintf (wal, sizeof wal, "%s-wal", r->temp);
    if (rc == 0 && access (wal, F_OK) == 0)
        snprintf (err, sizeof err, "%s stayed after closing the copy", wal);
    else if (rc == 0 && segq_fsync_path (r->temp) != 0)
        snprintf (err, sizeof err, "cannot sync %s: %s", r->temp, strerror (errno));
    if (rc || *err)
        return s_refuse ("%s (nothing was replaced)", err);
    return 0;
}

/* A name for the replaced database that nothing has: TIME, then TIME-2... */
static void
s_kept_name (restore_t *r)
{
    char stamp [32], wal [SIDE_LEN + 8];
    time_t now = time (NULL);
    struct tm tm;
    strftime (stamp, sizeof stamp, "%Y%m%dT%H%M%SZ", gmtime_r (&now, &tm));
    for (int n = 1;; n++) {
        int len = snprintf (r->kept, sizeof r->kept, "%s.before-restore-%s", r->db, stamp);
        if (n > 1)
            snprintf (r->kept + len, sizeof r->kept - (size_t) len, "-%d", n);
        snprintf (wal, sizeof wal, "%s-wal", r->kept);
        if (access (r->kept, F_OK) != 0 && access (wal, F_OK) != 0)
            return;
    }
}

/* The replaced database, and a log of it SQLite could not fold in (it was
   unreadable), under the kept name: linked first, so segq.db is never
   missing, and the log never replayed over the copy. */
static int
s_keep_old (restore_t *r)
{
    char wal [SIDE_LEN], kept_wal [SIDE_LEN + 8];
    snprintf (wal, sizeof wal, "%s-wal", r->db);
    bool has_db = access (r->db, F_OK) == 0, has_wal = access (wal, F_OK) == 0;
    if (!has_db && !has_wal)
        return 0;
    s_kept_name (r);
    snprintf (kept_wal, sizeof kept_wal, "%s-wal", r->kept);
    if ((has_db && link (r->db, r->kept) != 0)
        || (has_wal && (link (wal, kept_wal) != 0 || unlink (wal) != 0)))
        return s_refuse ("cannot keep the database in place as %s: %s (nothing was replaced)",
                         r->kept, strerror (errno));
    return 0;
}

/* The copy in place of segq.db, the folder synced. */
static int
s_swap (restore_t *r)
{
    /* closing the last connection folds the log in and removes it */
    if (r->old && sqlite3_close (r->old) != SQLITE_OK)
        return s_refuse ("cannot release %s: %s", r->db, sqlite3_errmsg (r->old));
    r->old = NULL;
    int rc = s_keep_old (r);
    if (rc)
        return rc;
    char shm [SIDE_LEN];
    snprintf (shm, sizeof shm, "%s-shm", r->db);
    if ((unlink (shm) != 0 && errno != ENOENT) || rename (r->temp, r->db) != 0
        || segq_fsync_path (r->data_dir) != 0)
        return s_refuse ("cannot put the copy %s in place as %s: %s", r->temp, r->db,
                         strerror (errno));
    r->temp [0] = 0;
    return 0;
}

/* The restore in the audit log, with who (the account that ran it). A
   failure to write it is said; the restore stands. */
static int
s_record (const restore_t *r)
{
    char err [MESSAGE_LEN];
    segq__audit_t *audit = segq__audit_new (r->data_dir, err, sizeof err);
    if (!audit)
        return s_refuse ("the restore is done but not in the audit log: %s", err);
    struct passwd *account = getpwuid (geteuid ());
    json_t *event =
        segq__audit_event ("restore", account ? account->pw_name : NULL, NULL, NULL, NULL);
    char next [SEGQ__JOB_ID_MAX];
    segq__job_id_format (r->next_id, next);
    json_object_set_new (event, "path", json_string (r->backup));
    json_object_set_new (event, "jobs", json_integer ((json_int_t) r->jobs));
    json_object_set_new (event, "next_job", json_string (next));
    if (*r->kept)
        json_object_set_new (event, "kept", json_string (r->kept));
    json_object_set_new (event, "outcome", json_string ("ok"));
    segq__audit_write (audit, &event, false);
    segq__audit_destroy (&audit);
    return 0;
}

static void
s_report (const restore_t *r)
{
    char next [SEGQ__JOB_ID_MAX], given [SEGQ__JOB_ID_MAX];
    segq__job_id_format (r->next_id, next);
    segq__job_id_format (r->given, given);
    printf ("restored %s as %s: %" PRIu64 " jobs, schema version %d", r->backup, r->db, r->jobs,
            r->version);
    if (r->version < SEGQ_STORE_SCHEMA_VERSION)
        printf (" (migrated to %d)", SEGQ_STORE_SCHEMA_VERSION);
    printf ("\nnew jobs get ids from %s on, above every id given before (%s)\n", next,
            r->given ? given : "none");
    if (*r->kept)
        printf ("the database it replaced is kept as %s (to undo: segqd restore %s)\n", r->kept,
                r->kept);
    printf (
        "next: start segqd (systemctl start segqd); %s/artifacts and %s/logs are as they were\n",
        r->data_dir, r->data_dir);
}

/* The connections closed; a copy not put in place (the restore stopped)
   removed. */
static void
s_close (restore_t *r)
{
    sqlite3_close (r->source);
    sqlite3_close (r->old);
    if (!*r->temp)
        return;
    char side [SIDE_LEN + 8];
    unlink (r->temp);
    snprintf (side, sizeof side, "%s-wal", r->temp);
    unlink (side);
    snprintf (side, sizeof side, "%s-shm", r->temp);
    unlink (side);
}

int
segqd_restore (const char *backup, const char *data_dir)
{
    restore_t r = { .data_dir = data_dir };
    if (snprintf (r.db, sizeof r.db, "%s/segq.db", data_dir) >= (int) sizeof r.db)
        return s_refuse ("the data folder's path is too long: %.200s...", data_dir);
    int rc = s_check_backup_file (&r, backup);
    if (rc == 0)
        rc = s_check_data_dir (&r);
    if (rc == 0)
        rc = s_lock_old (&r);
    if (rc == 0)
        rc = s_open_backup (&r);
    if (rc == 0)
        rc = s_check_backup_content (&r);
    if (rc == 0)
        rc = s_audit_given (&r);
    if (rc == 0)
        rc = s_copy (&r);
    if (rc == 0)
        rc = s_raise_ids (&r);
    if (rc == 0)
        rc = s_swap (&r);
    s_close (&r);
    if (rc == 0)
        s_report (&r);
    if (rc == 0)
        rc = s_record (&r);
    return rc;
}
