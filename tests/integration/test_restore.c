/*  test_restore.c: `segqd restore BACKUP` with real processes. After a
    broker killed with kill -9 (its write-ahead log left beside the
    database) the restored broker serves exactly the backup's jobs, and new
    jobs and job arrays get ids above every id given before the crash,
    across restarts too, and from the audit log when the database was lost
    with it; the restore (and a second broker) is refused while a broker
    runs on the folder, and the restore is refused for what is not a
    backup, leaving the database as it was. */
#include <criterion/criterion.h>
#include <jansson.h>
#include <signal.h>
#include <sqlite3.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "harness.h"

static harness_t *h;
static char backup [700];

static void
setup (void)
{
    h = harness_new ("restore");
    cr_assert_not_null (h);
    cr_assert_eq (harness_start_broker (h, NULL), 0);
    snprintf (backup, sizeof backup, "%s/backup.db", h->dir);
}

static void
teardown (void)
{
    harness_destroy (&h);
}

/* `segqd ARGS` (the harness's paths hold no blank): its exit status, and
   what it said on stdout and stderr into out. */
static int
s_segqd (const char *args, char *out, size_t outlen)
{
    char command [4096];
    snprintf (command, sizeof command, "%s %s 2>&1", harness_binary ("segqd"), args);
    FILE *pipe = popen (command, "r");
    cr_assert_not_null (pipe, "cannot run %s", command);
    size_t n = fread (out, 1, outlen - 1, pipe);
    out [n] = 0;
    int status = pclose (pipe);
    return WIFEXITED (status) ? WEXITSTATUS (status) : -1;
}

static int
s_restore (const char *args, char *out, size_t outlen)
{
    char command [2048];
    snprintf (command, sizeof command, "restore %s", args);
    return s_segqd (command, out, outlen);
}

/* A noop job submitted through the CLI; it stays queued (no worker). */
static void
s_submit (char id [SEGQ_JOB_ID_MAX])
{
    const char *argv [] = { "submit", "noop", NULL };
    char err [1024];
    H_ASSERT (h, harness_submit (h, argv, id, SEGQ_JOB_ID_MAX, err, sizeof err) == 0, "%s", err);
}

/* A job array of one job, its id into array. */
static void
s_array (const char *job, char array [32])
{
    segq_client_t *c = harness_client (h, 0);
    segq_array_info_t made = { 0 };
    H_ASSERT (h, segq_client_array_create (c, &job, 1, &made) == 0, "array: %s",
              segq_client_error (c));
    snprintf (array, 32, "%s", made.array);
    segq_array_info_clear (&made);
    segq_client_destroy (&c);
}

static void
s_backup (void)
{
    char out [1024], err [1024];
    const char *argv [] = { "backup", backup, NULL };
    H_ASSERT (h, harness_cli (h, out, sizeof out, err, sizeof err, argv) == 0, "backup: %s", err);
}

/* Every job the broker serves, as "id id ..." in id order. */
static void
s_jobs (char *ids, size_t len)
{
    static char out [1 << 18];
    char err [1024];
    const char *argv [] = { "--json", "status", "--all", NULL };
    H_ASSERT (h, harness_cli (h, out, sizeof out, err, sizeof err, argv) == 0, "status: %s", err);
    json_error_t jerr;
    json_t *jobs = json_loads (out, 0, &jerr);
    cr_assert (json_is_array (jobs), "not a JSON array (%s): %s", jerr.text, out);
    ids [0] = 0;
    size_t i;
    json_t *job;
    json_array_foreach (jobs, i, job)
    {
        size_t used = strlen (ids);
        snprintf (ids + used, len - used, "%s%s", used ? " " : "",
                  json_string_value (json_object_get (job, "id")));
    }
    json_decref (jobs);
}

/* Job ids order as numbers: a longer id is a larger one, and the digits
   (0-9, then letters) sort as ASCII does; array ids as their numbers. */
static bool
s_id_above (const char *id, const char *than)
{
    id += strncmp (id, "a-", 2) == 0 ? 2 : 0;
    than += strncmp (than, "a-", 2) == 0 ? 2 : 0;
    size_t a = strlen (id), b = strlen (than);
    return a != b ? a > b : strcmp (id, than) > 0;
}

static bool
s_exists (const char *dir, const char *name)
{
    char path [800];
    snprintf (path, sizeof path, "%s/%s", dir, name);
    return access (path, F_OK) == 0;
}

/* How many files in the data folder are kept databases. */
static int
s_kept_count (void)
{
    char command [900], out [64] = "";
    snprintf (command, sizeof command, "ls %s | grep -c '^segq.db.before-restore-'", h->data_dir);
    FILE *pipe = popen (command, "r");
    cr_assert_not_null (pipe);
    cr_assert_not_null (fgets (out, sizeof out, pipe));
    pclose (pipe);
    return atoi (out);
}

static bool
s_audit_has (const char *text)
{
    char path [800];
    snprintf (path, sizeof path, "%s/audit.log", h->data_dir);
    return harness_wait_text (path, text, 0) == 0;
}

Test (restore, after_a_crash_serves_the_backup_and_never_reuses_ids, .init = setup,
      .fini = teardown, .timeout = 240)
{
    char ids [3][SEGQ_JOB_ID_MAX], later [SEGQ_JOB_ID_MAX], expected [3 * SEGQ_JOB_ID_MAX];
    char lost_array [32], fresh_array [32];
    for (int i = 0; i < 3; i++)
        s_submit (ids [i]);
    snprintf (expected, sizeof expected, "%s %s %s", ids [0], ids [1], ids [2]);
    s_backup ();
    for (int i = 0; i < 5; i++)
        s_submit (later);
    s_array (ids [0], lost_array);
    /* the crash leaves its last commits in the log beside the database */
    harness_signal_broker (h, SIGKILL);
    cr_assert (s_exists (h->data_dir, "segq.db-wal"), "no write-ahead log after kill -9");

    char args [1600], out [8192];
    snprintf (args, sizeof args, "%s --data-dir %s", backup, h->data_dir);
    H_ASSERT (h, s_restore (args, out, sizeof out) == 0, "restore: %s", out);
    cr_assert (strstr (out, "3 jobs") && strstr (out, "start segqd"), "%s", out);
    cr_assert (!s_exists (h->data_dir, "segq.db-wal"), "the crashed log is still there");
    cr_assert_eq (s_kept_count (), 1, "the replaced database is kept: %s", out);
    cr_assert (s_audit_has ("\"action\":\"restore\""), "the restore is not in the audit log");

    /* exactly the backup's jobs, and ids from above the crashed state's,
       after a restart too: the floor is in the database */
    cr_assert_eq (harness_start_broker (h, NULL), 0);
    char served [4096];
    s_jobs (served, sizeof served);
    cr_assert_str_eq (served, expected, "the restored broker serves other jobs than the backup's");
    harness_signal_broker (h, SIGTERM);
    cr_assert_eq (harness_start_broker (h, NULL), 0);
    char fresh [SEGQ_JOB_ID_MAX];
    s_submit (fresh);
    cr_assert (s_id_above (fresh, later), "new job %s is not above %s, given before the crash",
               fresh, later);
    s_array (fresh, fresh_array);
    cr_assert (s_id_above (fresh_array, lost_array), "new array %s is not above %s, given before",
               fresh_array, lost_array);
    H_ASSERT_CLEAN_STOP (h);
}

/* The database lost with the crash (a disk replaced): the audit log's
   accepted submits and arrays tell which ids were given. */
Test (restore, with_the_database_lost_the_audit_log_keeps_ids_apart, .init = setup,
      .fini = teardown, .timeout = 240)
{
    char id [SEGQ_JOB_ID_MAX], later [SEGQ_JOB_ID_MAX], fresh [SEGQ_JOB_ID_MAX];
    char lost_array [32], fresh_array [32];
    s_submit (id);
    s_backup ();
    s_submit (later);
    s_array (later, lost_array);
    harness_signal_broker (h, SIGKILL);
    char command [1600];
    snprintf (command, sizeof command, "rm %s/segq.db %s/segq.db-wal", h->data_dir, h->data_dir);
    cr_assert_eq (system (command), 0);

    char args [1600], out [8192];
    snprintf (args, sizeof args, "%s --data-dir %s", backup, h->data_dir);
    H_ASSERT (h, s_restore (args, out, sizeof out) == 0, "restore: %s", out);
    cr_assert_eq (harness_start_broker (h, NULL), 0);
    s_submit (fresh);
    s_array (fresh, fresh_array);
    cr_assert (s_id_above (fresh, lost_array), "new job %s is not above array %s, given before",
               fresh, lost_array);
    cr_assert (s_id_above (fresh_array, lost_array), "new array %s is not above %s, given before",
               fresh_array, lost_array);
    H_ASSERT_CLEAN_STOP (h);
}

Test (restore, refused_while_a_broker_runs, .init = setup, .fini = teardown, .timeout = 120)
{
    char id [SEGQ_JOB_ID_MAX], later [SEGQ_JOB_ID_MAX];
    s_submit (id);
    s_backup ();
    s_submit (later);
    char args [1600], out [8192];
    snprintf (args, sizeof args, "%s --data-dir %s", backup, h->data_dir);
    H_ASSERT (h, s_restore (args, out, sizeof out) == 1, "restore under a broker: %s", out);
    cr_assert (strstr (out, "a broker is running") && strstr (out, "systemctl stop segqd"), "%s",
               out);
    cr_assert_eq (s_kept_count (), 0, "%s", out);
    /* and so is a second broker, saying why */
    snprintf (args, sizeof args, "--bind tcp://127.0.0.1:* --data-dir %s", h->data_dir);
    cr_assert_eq (s_segqd (args, out, sizeof out), 1, "a second segqd: %s", out);
    cr_assert (strstr (out, "in use by another segqd") && strstr (out, "stop the other first"),
               "%s", out);
    /* the broker serves on, with both jobs */
    char served [4096], expected [2 * SEGQ_JOB_ID_MAX];
    snprintf (expected, sizeof expected, "%s %s", id, later);
    s_jobs (served, sizeof served);
    cr_assert_str_eq (served, expected);
    H_ASSERT_CLEAN_STOP (h);
}

/* A copy of the backup whose schema version is one above its own. */
static void
s_newer_copy (const char *path)
{
    char command [1600];
    snprintf (command, sizeof command, "cp %s %s", backup, path);
    cr_assert_eq (system (command), 0);
    sqlite3 *db = NULL;
    cr_assert_eq (sqlite3_open (path, &db), SQLITE_OK);
    cr_assert_eq (
        sqlite3_exec (db, "UPDATE schema_version SET version = version + 1", NULL, NULL, NULL),
        SQLITE_OK, "%s", sqlite3_errmsg (db));
    cr_assert_eq (sqlite3_close (db), SQLITE_OK);
}

Test (restore, refuses_what_is_not_a_backup, .init = setup, .fini = teardown, .timeout = 120)
{
    char id [SEGQ_JOB_ID_MAX];
    s_submit (id);
    s_backup ();
    harness_signal_broker (h, SIGTERM);

    char text [800], newer [800], db [800];
    snprintf (text, sizeof text, "%s/notes.txt", h->dir);
    FILE *file = fopen (text, "w");
    cr_assert_not_null (file);
    fputs ("not a database\n", file);
    cr_assert_eq (fclose (file), 0);
    snprintf (newer, sizeof newer, "%s/newer.db", h->dir);
    s_newer_copy (newer);
    snprintf (db, sizeof db, "%s/segq.db", h->data_dir);
    struct {
        const char *backup, *says;
    } cases [] = {
        { "/nonexistent/backup.db", "No such file" }, { h->dir, "is a folder" },
        { text, "is not an SQLite database" },        { db, "the database a restore replaces" },
        { newer, "newer than this segqd's" },
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases [0]; i++) {
        char args [1600], out [8192];
        snprintf (args, sizeof args, "%s --data-dir %s", cases [i].backup, h->data_dir);
        cr_assert_eq (s_restore (args, out, sizeof out), 1, "%s: %s", cases [i].backup, out);
        cr_assert (strstr (out, cases [i].says), "%s: %s", cases [i].backup, out);
    }
    char out [8192];
    cr_assert_eq (s_restore ("", out, sizeof out), 2, "no backup given: %s", out);
    /* the database was left as it was */
    cr_assert_eq (s_kept_count (), 0);
    cr_assert_eq (harness_start_broker (h, NULL), 0);
    char served [4096];
    s_jobs (served, sizeof served);
    cr_assert_str_eq (served, id);
    H_ASSERT_CLEAN_STOP (h);
}
