/*  test_patient_data.c: what segq does with patient data, with real
    processes and certificates made here: purge, retention, fetch only by
    ownership, private file modes, the audit log, backups of the running
    broker's database, and each job's scratch directory wiped. */
#include <criterion/criterion.h>
#include <dirent.h>
#include <jansson.h>
#include <pthread.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "harness.h"
#include "lab_keys.h"
#include "segq_keys.h"

static harness_t *h;
static char keys [600], certs [700], broker_key [700];

/* retention: a --retention flag, or with from_config a line of segqd.conf */
static void
s_start (const char *retention, bool from_config)
{
    h = harness_new ("patient");
    cr_assert_not_null (h);
    lab_keys_make (h->dir, keys, sizeof keys, certs, sizeof certs, broker_key, sizeof broker_key);
    char config [700];
    snprintf (config, sizeof config, "%s/segqd.conf", h->dir);
    if (from_config) {
        FILE *file = fopen (config, "w");
        cr_assert_not_null (file);
        fprintf (file, "# patient data\nretention = %s\n", retention);
        fclose (file);
    }
    const char *extra [] = { "--keys", keys,
                             retention ? from_config ? "--config" : "--retention" : NULL,
                             from_config ? config : retention, NULL };
    cr_assert_eq (harness_start_broker (h, extra), 0, "segqd did not start");
}

static void
setup (void)
{
    s_start (NULL, false);
}

static void
setup_retention (void)
{
    s_start ("2s", true);
}

static void
teardown (void)
{
    harness_destroy (&h);
}

static segq_client_t *
s_client (const char *name)
{
    return lab_client (h->endpoint, certs, broker_key, name);
}

static int
s_start_worker (int slots, const char *const *more)
{
    char cert [900];
    snprintf (cert, sizeof cert, "%s/w1.cert", certs);
    const char *extra [16] = { "--broker-key", broker_key, "--cert", cert };
    size_t n = 4;
    for (size_t i = 0; more && more [i] && n < 15; i++)
        extra [n++] = more [i];
    return harness_start_worker (h, "w1", slots, extra);
}

static void
s_file (const char *name, size_t size, unsigned seed, char *path, size_t len)
{
    snprintf (path, len, "%s/%s", h->dir, name);
    cr_assert_eq (harness_write_random_file (path, size, seed), 0);
}

/* echo of the given files and/or another job's outputs; its id in job */
static void
s_echo (segq_client_t *c, const char *const *files, const char *from, const char *after,
        char job [SEGQ_JOB_ID_MAX])
{
    segq_job_spec_t *spec = segq_job_spec_new ("echo");
    char err [512];
    for (size_t i = 0; files && files [i]; i++)
        cr_assert_eq (segq_job_spec_input_file (spec, "files", files [i], err, sizeof err), 0, "%s",
                      err);
    if (from)
        cr_assert_eq (segq_job_spec_input_job (spec, "files", from, "*", err, sizeof err), 0, "%s",
                      err);
    if (after)
        cr_assert_eq (segq_job_spec_after (spec, after), 0);
    H_ASSERT (h, segq_client_submit (c, spec, job, SEGQ_JOB_ID_MAX) == 0, "%s",
              segq_client_error (c));
    segq_job_spec_destroy (&spec);
}

static void
s_sleep (segq_client_t *c, const char *seconds, uint32_t time_limit, char job [SEGQ_JOB_ID_MAX])
{
    segq_job_spec_t *spec = segq_job_spec_new ("sleep");
    char err [256];
    cr_assert_eq (segq_job_spec_param (spec, "seconds", seconds, err, sizeof err), 0, "%s", err);
    if (time_limit)
        segq_job_spec_set_time_limit (spec, time_limit);
    H_ASSERT (h, segq_client_submit (c, spec, job, SEGQ_JOB_ID_MAX) == 0, "%s",
              segq_client_error (c));
    segq_job_spec_destroy (&spec);
}

static segq_job_state_t
s_wait (segq_client_t *c, const char *job)
{
    segq_job_info_t info = { 0 };
    H_ASSERT (h, harness_wait_final (c, job, 60000, &info) == 0, "job %s did not end", job);
    segq_job_state_t state = info.state;
    segq_job_info_clear (&info);
    return state;
}

static int
s_purge (segq_client_t *c, const char *job, char *message, size_t len, uint32_t *files)
{
    const char *jobs [] = { job };
    segq_purge_result_t *out = NULL;
    size_t n = 0;
    int rc = segq_client_purge (c, jobs, 1, &out, &n);
    if (rc == 0 && n == 1) {
        rc = out [0].code;
        snprintf (message, len, "%s", out [0].message ? out [0].message : "");
        if (files)
            *files = out [0].artifacts;
    } else
        snprintf (message, len, "%s", segq_client_error (c));
    segq_purge_results_free (&out, n);
    return rc;
}

static int
s_cancel (segq_client_t *c, const char *job)
{
    const char *jobs [] = { job };
    segq_cancel_outcome_t *out = NULL;
    size_t n = 0;
    int rc = segq_client_cancel (c, jobs, 1, &out, &n);
    if (rc == 0 && n == 1)
        rc = out [0].code;
    segq_cancel_outcomes_free (&out, n);
    return rc;
}

static bool
s_artifact_stored (const char *file)
{
    char hash [SEGQ_HASH_HEX_LEN + 1], path [1200];
    cr_assert_eq (segq_sha256_file (file, hash), 0);
    snprintf (path, sizeof path, "%s/artifacts/%.2s/%s", h->data_dir, hash, hash);
    return access (path, F_OK) == 0;
}

static int
s_fetch (segq_client_t *c, const char *job, const char *name)
{
    char path [700];
    snprintf (path, sizeof path, "%s/fetched-%s-%s", h->dir, job, name);
    unlink (path);
    return segq_client_fetch (c, job, name, path, NULL);
}

/* The audit log's events, parsed (every line must be a JSON object). */
static json_t *
s_audit (void)
{
    char path [700];
    snprintf (path, sizeof path, "%s/audit.log", h->data_dir);
    FILE *file = fopen (path, "r");
    cr_assert_not_null (file, "no audit log at %s", path);
    json_t *events = json_array ();
    char line [65536];
    while (fgets (line, sizeof line, file)) {
        json_error_t error;
        json_t *event = json_loads (line, 0, &error);
        cr_assert (json_is_object (event), "audit line is not a JSON object: %s", line);
        cr_assert (json_is_string (json_object_get (event, "time")), "%s", line);
        json_array_append_new (events, event);
    }
    fclose (file);
    return events;
}

/* An audit event with these string values (NULL: any), or NULL. */
static json_t *
s_find (json_t *events, const char *action, const char *user, const char *job, const char *outcome)
{
    size_t i;
    json_t *event;
    json_array_foreach (events, i, event)
    {
        const char *keys [] = { "action", "user", "job", "outcome" };
        const char *want [] = { action, user, job, outcome };
        bool match = true;
        for (int k = 0; k < 4 && match; k++) {
            const char *have = json_string_value (json_object_get (event, keys [k]));
            match = !want [k] || (have && strcmp (have, want [k]) == 0);
        }
        if (match)
            return event;
    }
    return NULL;
}

Test (patient, purge_by_owner_or_admin_only_and_audited, .init = setup, .fini = teardown,
      .timeout = 180)
{
    cr_assert_geq (s_start_worker (1, NULL), 0, "worker did not register");
    segq_client_t *alice = s_client ("alice"), *bob = s_client ("bob"), *root = s_client ("root");
    char only [700], shared [700], other [700];
    s_file ("only.bin", 100000, 1, only, sizeof only);
    s_file ("shared.bin", 100000, 2, shared, sizeof shared);
    s_file ("other.bin", 50000, 3, other, sizeof other);
    /* a: only.bin + shared.bin; c: shared.bin too; d: other.bin */
    char a [SEGQ_JOB_ID_MAX], c [SEGQ_JOB_ID_MAX], d [SEGQ_JOB_ID_MAX];
    char s [SEGQ_JOB_ID_MAX], b [SEGQ_JOB_ID_MAX];
    const char *a_files [] = { only, shared, NULL }, *c_files [] = { shared, NULL };
    const char *d_files [] = { other, NULL };
    s_echo (alice, a_files, NULL, NULL, a);
    s_echo (alice, c_files, NULL, NULL, c);
    s_echo (alice, d_files, NULL, NULL, d);
    cr_assert_eq (s_wait (alice, a), SEGQ_JOB_SUCCEEDED);
    cr_assert_eq (s_wait (alice, c), SEGQ_JOB_SUCCEEDED);
    cr_assert_eq (s_wait (alice, d), SEGQ_JOB_SUCCEEDED);
    cr_assert_eq (s_fetch (alice, a, "only.bin"), 0, "%s", segq_client_error (alice));

    /* s runs; b takes a's outputs and waits for s */
    s_sleep (alice, "60", 0, s);
    cr_assert_eq (harness_wait_state (alice, s, SEGQ_JOB_RUNNING, 30000), 0);
    s_echo (alice, NULL, a, s, b);
    char message [1024];
    cr_assert_eq (s_purge (bob, a, message, sizeof message, NULL), SEGQ_EPERM, "bob purged: %s",
                  message);
    cr_assert (strstr (message, "belongs to alice"), "%s", message);
    cr_assert_eq (s_purge (alice, s, message, sizeof message, NULL), SEGQ_ESTATE, "%s", message);
    cr_assert (strstr (message, "running"), "%s", message);
    cr_assert_eq (s_purge (alice, a, message, sizeof message, NULL), SEGQ_ESTATE, "%s", message);
    cr_assert (strstr (message, b) && strstr (message, "waiting"), "%s", message);
    cr_assert (s_artifact_stored (only));
    cr_assert_eq (s_fetch (alice, a, "only.bin"), 0, "refused purges removed something: %s",
                  segq_client_error (alice));

    /* once b has ended (its dependency cancelled), a can go */
    cr_assert_eq (s_cancel (alice, s), 0);
    cr_assert_eq (s_wait (alice, b), SEGQ_JOB_FAILED);
    uint32_t files = 0;
    cr_assert_eq (s_purge (alice, a, message, sizeof message, &files), 0, "%s", message);
    /* only.bin (its input and, echoed, its output: one hash) went; shared.bin
       stays for c, and the purge says so (not which job: it may be another
       user's) */
    cr_assert_eq (files, 1, "%u files", files);
    cr_assert (strstr (message, "1 more") && strstr (message, "kept: other jobs refer to")
                   && !strstr (message, c),
               "%s", message);
    for (int i = 0; i < 50 && s_artifact_stored (only); i++)
        usleep (100 * 1000);
    cr_assert (!s_artifact_stored (only), "a's own artifact is still stored");
    cr_assert (s_artifact_stored (shared), "c's input went with a's purge");
    cr_assert_eq (s_fetch (alice, c, "shared.bin"), 0, "%s", segq_client_error (alice));
    cr_assert_eq (s_fetch (alice, a, "only.bin"), SEGQ_ENOENT);
    const char *said = segq_client_error (alice);
    cr_assert (strstr (said, "purged on") && strstr (said, "by alice"), "%s", said);
    segq_job_info_t info = { 0 };
    H_ASSERT (h, segq_client_job (bob, a, false, &info) == 0, "%s", segq_client_error (bob));
    cr_assert (info.message && strstr (info.message, "artifacts purged on"), "status: %s",
               info.message ? info.message : "(none)");
    segq_job_info_clear (&info);
    segq_log_chunk_t chunk = { 0 };
    cr_assert_eq (segq_client_logs (alice, a, 0, 4096, &chunk), SEGQ_ENOENT,
                  "a's log is still there, or read as empty");
    said = segq_client_error (alice);
    cr_assert (strstr (said, "the log of job") && strstr (said, "purged on"), "%s", said);
    segq_log_chunk_clear (&chunk);
    /* a purged job is refused as an input at submit, not later on a worker */
    segq_job_spec_t *spec = segq_job_spec_new ("echo");
    char reuse [SEGQ_JOB_ID_MAX], why [512];
    cr_assert_eq (segq_job_spec_input_job (spec, "files", a, "*", why, sizeof why), 0, "%s", why);
    cr_assert_eq (segq_client_submit (alice, spec, reuse, sizeof reuse), SEGQ_ENOENT,
                  "a purged job was accepted as an input");
    cr_assert (strstr (segq_client_error (alice), "were purged"), "%s", segq_client_error (alice));
    segq_job_spec_destroy (&spec);
    /* again: nothing to do, and says when */
    cr_assert_eq (s_purge (alice, a, message, sizeof message, NULL), 0, "%s", message);
    cr_assert (strstr (message, "already purged"), "%s", message);
    /* an admin purges anyone's job */
    cr_assert_eq (s_purge (root, d, message, sizeof message, &files), 0, "%s", message);
    cr_assert_eq (files, 1);
    cr_assert_eq (s_fetch (alice, d, "other.bin"), SEGQ_ENOENT);
    cr_assert (strstr (segq_client_error (alice), "by root"), "%s", segq_client_error (alice));
    cr_assert_eq (s_purge (bob, "zzzzzz", message, sizeof message, NULL), SEGQ_ENOENT, "%s",
                  message);
    /* bob may not fetch c's outputs, nor drain the node */
    cr_assert_eq (s_fetch (bob, c, "shared.bin"), SEGQ_EPERM);
    cr_assert_eq (segq_client_drain (bob, "w1"), SEGQ_EPERM, "%s", segq_client_error (bob));
    cr_assert (strstr (segq_client_error (bob), "only an admin"), "%s", segq_client_error (bob));

    /* the CLI */
    char out [4096], err [4096];
    char cert [900];
    snprintf (cert, sizeof cert, "%s/alice.cert", certs);
    const char *argv [] = { "--broker-key", broker_key, "--cert", cert, "purge", c, NULL };
    int status = harness_cli (h, out, sizeof out, err, sizeof err, argv);
    cr_assert_eq (status, 0, "segq purge: %s%s", out, err);
    cr_assert (strstr (out, "purged"), "%s", out);
    /* a and c purged: nothing refers to shared.bin now */
    for (int i = 0; i < 50 && s_artifact_stored (shared); i++)
        usleep (100 * 1000);
    cr_assert (!s_artifact_stored (shared), "shared.bin outlived every job that used it");

    segq_client_destroy (&alice);
    segq_client_destroy (&bob);
    segq_client_destroy (&root);
    H_ASSERT_CLEAN_STOP (h);

    /* the audit log: who did what, from where */
    json_t *events = s_audit ();
    json_t *e = s_find (events, "submit", "alice", a, "ok");
    cr_assert_not_null (e, "no audit of a's submit");
    cr_assert (json_is_string (json_object_get (e, "peer")) && json_object_get (e, "key"));
    cr_assert (json_array_size (json_object_get (e, "inputs")) == 2);
    cr_assert_not_null (s_find (events, "fetch", "alice", a, "ok"));
    cr_assert_not_null (s_find (events, "fetch", "alice", a, "refused"),
                        "purged fetch not audited");
    cr_assert_not_null (s_find (events, "fetch", "bob", c, "refused"));
    cr_assert_not_null (s_find (events, "fetch", "w1", NULL, "ok"), "worker fetches not audited");
    cr_assert_not_null (s_find (events, "cancel", "alice", s, "ok"));
    cr_assert_not_null (s_find (events, "purge", "bob", a, "refused"));
    cr_assert_not_null (s_find (events, "purge", "alice", s, "refused"));
    cr_assert_not_null (s_find (events, "purge", "alice", a, "ok"));
    cr_assert_not_null (s_find (events, "purge", "root", d, "ok"));
    cr_assert_not_null (s_find (events, "purge", "alice", c, "ok"));
    json_decref (events);
    char path [700];
    snprintf (path, sizeof path, "%s/audit.log", h->data_dir);
    struct stat st;
    cr_assert_eq (stat (path, &st), 0);
    cr_assert_eq (st.st_mode & 0777, 0600, "audit.log mode %o", st.st_mode & 0777);

    /* a crash between a purge's commit and its unlink leaves the file: the
       next start removes it (here: put back by hand while segqd was down) */
    char hash [SEGQ_HASH_HEX_LEN + 1], stored [1200], command [2600];
    cr_assert_eq (segq_sha256_file (only, hash), 0);
    snprintf (stored, sizeof stored, "%s/artifacts/%.2s/%s", h->data_dir, hash, hash);
    snprintf (command, sizeof command, "cp %s %s", only, stored);
    cr_assert_eq (system (command), 0);
    const char *extra [] = { "--keys", keys, NULL };
    cr_assert_eq (harness_start_broker (h, extra), 0);
    for (int i = 0; i < 100 && access (stored, F_OK) == 0; i++)
        usleep (100 * 1000);
    H_ASSERT (h, access (stored, F_OK) != 0, "a purged job's artifact survived a restart");
    H_ASSERT_CLEAN_STOP (h);
}

Test (patient, retention_collects_ended_jobs_not_needed_by_others, .init = setup_retention,
      .fini = teardown, .timeout = 180)
{
    cr_assert_geq (s_start_worker (1, NULL), 0, "worker did not register");
    segq_client_t *alice = s_client ("alice");
    char x [700], z [700];
    s_file ("x.bin", 30000, 7, x, sizeof x);
    s_file ("z.bin", 30000, 8, z, sizeof z);
    char a [SEGQ_JOB_ID_MAX], d [SEGQ_JOB_ID_MAX], s [SEGQ_JOB_ID_MAX], b [SEGQ_JOB_ID_MAX];
    const char *a_files [] = { x, NULL }, *d_files [] = { z, NULL };
    s_echo (alice, a_files, NULL, NULL, a);
    s_echo (alice, d_files, NULL, NULL, d);
    cr_assert_eq (s_wait (alice, a), SEGQ_JOB_SUCCEEDED);
    cr_assert_eq (s_wait (alice, d), SEGQ_JOB_SUCCEEDED);
    s_sleep (alice, "60", 0, s);
    cr_assert_eq (harness_wait_state (alice, s, SEGQ_JOB_RUNNING, 30000), 0);
    s_echo (alice, NULL, a, s, b);
    /* d goes after 2 s; a stays while b waits for it */
    int waited = 0;
    while (s_fetch (alice, d, "z.bin") == 0 && waited++ < 100)
        usleep (100 * 1000);
    cr_assert_eq (s_fetch (alice, d, "z.bin"), SEGQ_ENOENT, "d was never collected");
    const char *said = segq_client_error (alice);
    cr_assert (strstr (said, "purged on") && strstr (said, "by retention"), "%s", said);
    cr_assert (!s_artifact_stored (z), "d's artifact is still stored");
    cr_assert_eq (s_fetch (alice, a, "x.bin"), 0, "a was collected while b needs it: %s",
                  segq_client_error (alice));
    cr_assert (s_artifact_stored (x));
    /* b ends: a goes at a later sweep */
    cr_assert_eq (s_cancel (alice, s), 0);
    cr_assert_eq (s_wait (alice, b), SEGQ_JOB_FAILED);
    waited = 0;
    while (s_fetch (alice, a, "x.bin") == 0 && waited++ < 100)
        usleep (100 * 1000);
    cr_assert_eq (s_fetch (alice, a, "x.bin"), SEGQ_ENOENT, "a was never collected");
    for (int i = 0; i < 50 && s_artifact_stored (x); i++)
        usleep (100 * 1000);
    cr_assert (!s_artifact_stored (x));
    segq_client_destroy (&alice);
    H_ASSERT_CLEAN_STOP (h);
    json_t *events = s_audit ();
    cr_assert_not_null (s_find (events, "purge", "retention", d, "ok"));
    cr_assert_not_null (s_find (events, "purge", "retention", a, "ok"));
    json_decref (events);
}

Test (patient, retention_flag_checked, .timeout = 30)
{
    harness_t *self = harness_new ("patient-flag");
    cr_assert_not_null (self);
    char command [2048];
    snprintf (command, sizeof command, "%s --retention 30x --data-dir %s/d 2>&1",
              harness_binary ("segqd"), self->dir);
    FILE *out = popen (command, "r");
    char text [2048] = "";
    size_t n = fread (text, 1, sizeof text - 1, out);
    text [n] = 0;
    int status = pclose (out);
    cr_assert (WIFEXITED (status) && WEXITSTATUS (status) == 2, "segqd took --retention 30x: %s",
               text);
    cr_assert (strstr (text, "--retention") && strstr (text, "30d"), "%s", text);
    harness_destroy (&self);
}

/* A raw CURVE connection as `name`, to send what libsegq never would. */
static zsock_t *
s_raw (const char *name)
{
    return lab_raw (h->endpoint, certs, broker_key, name, 5000);
}

static segq_msg_t *
s_ask (zsock_t *sock, segq_msg_t *msg)
{
    cr_assert_eq (segq_msg_send (&msg, sock, NULL), 0);
    for (;;) {
        segq_msg_t *reply = NULL;
        char err [256];
        int rc = segq_msg_recv (sock, NULL, &reply, NULL, err, sizeof err);
        H_ASSERT (h, rc == 0 && reply, "no reply: %s", err);
        if (reply->type != SEGQ_MSG_HEARTBEAT)
            return reply;
        segq_msg_destroy (&reply);
    }
}

static void
s_get_by_hash_refused (zsock_t *sock, const char *hash, const char *expect)
{
    segq_msg_t *get = segq_msg_new (SEGQ_MSG_GET);
    get->u.get.req_id = 77;
    snprintf (get->u.get.hash, sizeof get->u.get.hash, "%s", hash);
    segq_msg_t *reply = s_ask (sock, get);
    cr_assert_eq (reply->type, SEGQ_MSG_ERROR, "got %s", segq_msg_type_name (reply->type));
    cr_assert_eq (reply->u.error.code, SEGQ_EPERM);
    cr_assert (strstr (reply->u.error.message, expect), "%s", reply->u.error.message);
    segq_msg_destroy (&reply);
}

Test (patient, fetch_by_hash_refused_to_clients_and_idle_workers, .init = setup, .fini = teardown,
      .timeout = 120)
{
    segq_client_t *alice = s_client ("alice");
    char x [700], hash [SEGQ_HASH_HEX_LEN + 1];
    s_file ("x.bin", 1000, 9, x, sizeof x);
    uint64_t size;
    H_ASSERT (h, segq_client_upload (alice, x, "x.bin", hash, &size) == 0, "%s",
              segq_client_error (alice));
    /* her own upload, by hash: still no */
    zsock_t *as_alice = s_raw ("alice"), *as_root = s_raw ("root"), *as_w1 = s_raw ("w1");
    s_get_by_hash_refused (as_alice, hash, "by its hash is not allowed");
    s_get_by_hash_refused (as_root, hash, "by its hash is not allowed");
    /* a worker, registered, but running nothing that takes it */
    segq_msg_t *reg = segq_msg_new (SEGQ_MSG_REGISTER);
    reg->u.reg.node = strdup ("w1");
    reg->u.reg.cpu_slots = 1;
    segq_msg_t *welcome = s_ask (as_w1, reg);
    cr_assert_eq (welcome->type, SEGQ_MSG_WELCOME, "got %s", segq_msg_type_name (welcome->type));
    segq_msg_destroy (&welcome);
    s_get_by_hash_refused (as_w1, hash, "not an input of a job running on worker w1");
    zsock_destroy (&as_alice);
    zsock_destroy (&as_root);
    zsock_destroy (&as_w1);
    segq_client_destroy (&alice);
    H_ASSERT_CLEAN_STOP (h);
}

/* Every file and folder under path is private to its owner. */
static void
s_assert_private (const char *path, int *count)
{
    struct stat st;
    cr_assert_eq (lstat (path, &st), 0, "%s", path);
    (*count)++;
    cr_assert_eq (st.st_mode & 077, 0, "%s is mode %o: readable by others", path,
                  st.st_mode & 0777);
    if (!S_ISDIR (st.st_mode))
        return;
    DIR *dir = opendir (path);
    cr_assert_not_null (dir, "%s", path);
    struct dirent *entry;
    while ((entry = readdir (dir))) {
        if (strcmp (entry->d_name, ".") == 0 || strcmp (entry->d_name, "..") == 0)
            continue;
        char child [2048];
        snprintf (child, sizeof child, "%s/%s", path, entry->d_name);
        s_assert_private (child, count);
    }
    closedir (dir);
}

/* The tests' processes run with a permissive umask, so what is private is
   so by segqd's and segq-worker's own doing. */
Test (patient, every_file_the_broker_and_worker_make_is_private, .init = setup, .fini = teardown,
      .timeout = 180)
{
    umask (022);
    cr_assert_geq (s_start_worker (1, NULL), 0, "worker did not register");
    segq_client_t *alice = s_client ("alice"), *root = s_client ("root");
    char x [700], a [SEGQ_JOB_ID_MAX], s [SEGQ_JOB_ID_MAX];
    s_file ("x.bin", 70000, 11, x, sizeof x);
    const char *files [] = { x, NULL };
    s_echo (alice, files, NULL, NULL, a);
    cr_assert_eq (s_wait (alice, a), SEGQ_JOB_SUCCEEDED);
    cr_assert_eq (s_fetch (alice, a, "x.bin"), 0);
    /* a job killed mid-run leaves its scratch behind until the worker restarts:
       look at it while it runs */
    s_sleep (alice, "30", 0, s);
    cr_assert_eq (harness_wait_state (alice, s, SEGQ_JOB_RUNNING, 30000), 0);
    usleep (300 * 1000);
    char backup [700];
    snprintf (backup, sizeof backup, "%s/backup.db", h->dir);
    H_ASSERT (h, segq_client_backup (root, backup, 30000, NULL, NULL) == 0, "%s",
              segq_client_error (root));
    /* what the daemons' jobs write follows their umask (inherited) */
    pid_t pids [] = { h->broker, h->workers [0].pid };
    for (int i = 0; i < 2; i++) {
        char path [64], line [256];
        snprintf (path, sizeof path, "/proc/%d/status", (int) pids [i]);
        FILE *file = fopen (path, "r");
        cr_assert_not_null (file, "%s", path);
        bool found = false;
        while (fgets (line, sizeof line, file))
            if (strncmp (line, "Umask:", 6) == 0) {
                found = true;
                cr_assert (strstr (line, "0077"), "%s: %s", i ? "segq-worker" : "segqd", line);
            }
        fclose (file);
        cr_assert (found, "no Umask line in %s", path);
    }
    int count = 0;
    s_assert_private (h->data_dir, &count);
    s_assert_private (h->workers [0].work_dir, &count);
    s_assert_private (h->workers [0].cache_dir, &count);
    s_assert_private (keys, &count);
    s_assert_private (backup, &count);
    /* data dir, db, artifacts, logs, audit, work and cache dirs, job dir... */
    cr_assert_gt (count, 15, "only %d entries looked at", count);
    cr_assert_eq (s_cancel (alice, s), 0);
    segq_client_destroy (&alice);
    segq_client_destroy (&root);
    H_ASSERT_CLEAN_STOP (h);
}

/* ---- backup while the broker runs ---- */

typedef struct {
    segq_client_t *client;
    int submitted;
    volatile int stop;
} load_t;

static void *
s_load (void *arg)
{
    load_t *load = arg;
    segq_job_spec_t *spec = segq_job_spec_new ("noop");
    while (!load->stop && load->submitted < 20000) {
        uint64_t req;
        for (int i = 0; i < 200; i++)
            if (segq_client_submit_send (load->client, spec, &req) == 0)
                load->submitted++;
        segq_submit_reply_t reply;
        while (segq_client_submits_pending (load->client)
               && segq_client_submit_recv (load->client, 5000, &reply) == 0)
            ;
    }
    segq_job_spec_destroy (&spec);
    return NULL;
}

static long long
s_sql_int (sqlite3 *db, const char *sql)
{
    sqlite3_stmt *stmt;
    cr_assert_eq (sqlite3_prepare_v2 (db, sql, -1, &stmt, NULL), SQLITE_OK, "%s",
                  sqlite3_errmsg (db));
    cr_assert_eq (sqlite3_step (stmt), SQLITE_ROW);
    long long value = sqlite3_column_int64 (stmt, 0);
    sqlite3_finalize (stmt);
    return value;
}

/* `segq backup PATH` as the admin: its exit status, what it said in text. */
static int
s_admin_backup (const char *path, char *text, size_t len)
{
    char command [4096], cert [900];
    snprintf (cert, sizeof cert, "%s/root.cert", certs);
    snprintf (command, sizeof command, "%s backup %s --broker %s --broker-key %s --cert %s 2>&1",
              harness_binary ("segq"), path, h->endpoint, broker_key, cert);
    FILE *out = popen (command, "r");
    cr_assert_not_null (out);
    size_t n = fread (text, 1, len - 1, out);
    text [n] = 0;
    int status = pclose (out);
    return WIFEXITED (status) ? WEXITSTATUS (status) : -1;
}

Test (patient, backup_during_submits_is_consistent_and_serves, .init = setup, .fini = teardown,
      .timeout = 240)
{
    load_t load = { .client = s_client ("alice") };
    pthread_t thread;
    cr_assert_eq (pthread_create (&thread, NULL, s_load, &load), 0);
    while (load.submitted < 1000)
        usleep (20 * 1000);
    /* alice may not; the admin may, with the segq backup command */
    segq_client_t *alice = s_client ("alice");
    char backup [700];
    snprintf (backup, sizeof backup, "%s/copy.db", h->dir);
    cr_assert_eq (segq_client_backup (alice, backup, 10000, NULL, NULL), SEGQ_EPERM, "%s",
                  segq_client_error (alice));
    cr_assert (strstr (segq_client_error (alice), "only an admin"), "%s",
               segq_client_error (alice));
    segq_client_destroy (&alice);
    char text [4096] = "";
    int status = s_admin_backup (backup, text, sizeof text);
    int during = load.submitted;
    load.stop = 1;
    pthread_join (thread, NULL);
    segq_client_destroy (&load.client);
    H_ASSERT (h, status == 0, "segq backup: %s", text);
    cr_assert (strstr (text, "jobs"), "%s", text);
    /* never over an existing file; a folder or a missing folder said as such */
    cr_assert (s_admin_backup (backup, text, sizeof text) == 1 && strstr (text, "already exists"),
               "%s", text);
    cr_assert (s_admin_backup (h->dir, text, sizeof text) == 1
                   && strstr (text, "is a folder on the broker's machine: give a file name in it"),
               "%s", text);
    char lost [800];
    snprintf (lost, sizeof lost, "%s/no-such-folder/copy.db", h->dir);
    cr_assert (s_admin_backup (lost, text, sizeof text) == 1
                   && strstr (text, "no-such-folder is not a folder on the broker's machine"),
               "%s", text);
    cr_assert (s_admin_backup ("''", text, sizeof text) == 2 && strstr (text, "where to?"), "%s",
               text);
    H_ASSERT_CLEAN_STOP (h);

    sqlite3 *db;
    cr_assert_eq (sqlite3_open_v2 (backup, &db, SQLITE_OPEN_READONLY, NULL), SQLITE_OK);
    sqlite3_stmt *stmt;
    cr_assert_eq (sqlite3_prepare_v2 (db, "PRAGMA integrity_check", -1, &stmt, NULL), SQLITE_OK);
    cr_assert_eq (sqlite3_step (stmt), SQLITE_ROW);
    cr_assert_str_eq ((const char *) sqlite3_column_text (stmt, 0), "ok");
    sqlite3_finalize (stmt);
    long long jobs = s_sql_int (db, "SELECT count(*) FROM jobs");
    long long max_id = s_sql_int (db, "SELECT max(id) FROM jobs");
    long long next = s_sql_int (db, "SELECT value FROM meta WHERE key = 'next_job'");
    /* whole transactions only: every job with its submit transition */
    long long torn = s_sql_int (db, "SELECT count(*) FROM jobs j WHERE NOT EXISTS"
                                    " (SELECT 1 FROM transitions t WHERE t.job = j.id)");
    sqlite3_close (db);
    cr_assert_geq (jobs, 1000, "%lld jobs in the copy", jobs);
    cr_assert_eq (torn, 0, "%lld jobs without their transitions", torn);
    cr_assert_gt (next, max_id);
    fprintf (stderr, "backup: %lld jobs in the copy, %d submitted by then\n", jobs, during);

    /* a broker started on the copy serves its jobs */
    harness_t *again = harness_new ("patient-restore");
    cr_assert_not_null (again);
    char db_path [800];
    snprintf (db_path, sizeof db_path, "%s/segq.db", again->data_dir);
    mkdir (again->data_dir, 0700);
    char command [2000];
    snprintf (command, sizeof command, "cp %s %s", backup, db_path);
    cr_assert_eq (system (command), 0);
    cr_assert_eq (harness_start_broker (again, NULL), 0, "segqd did not start on the copy");
    segq_client_t *client = harness_client (again, 10000);
    segq_job_info_t info = { 0 };
    char last [SEGQ_JOB_ID_MAX];
    /* job ids are base-32 of the number */
    static const char b32 [] = "0123456789abcdefghjkmnpqrstvwxyz";
    char digits [16];
    size_t nd = 0;
    for (long long v = max_id; v; v >>= 5)
        digits [nd++] = b32 [v & 31];
    while (nd < 4)
        digits [nd++] = '0';
    for (size_t i = 0; i < nd; i++)
        last [i] = digits [nd - 1 - i];
    last [nd] = 0;
    H_ASSERT (again, segq_client_job (client, last, false, &info) == 0, "job %s: %s", last,
              segq_client_error (client));
    cr_assert_str_eq (info.owner, "alice");
    segq_job_info_clear (&info);
    cr_assert_geq (harness_start_worker (again, "w9", 2, NULL), 0);
    H_ASSERT (again, harness_wait_final (client, last, 120000, &info) == 0, "job %s never ran",
              last);
    cr_assert_eq (info.state, SEGQ_JOB_SUCCEEDED);
    segq_job_info_clear (&info);
    segq_client_destroy (&client);
    H_ASSERT_CLEAN_STOP (again);
    harness_destroy (&again);
}

/* ---- the worker's scratch and cache ---- */

static size_t
s_entries (const char *path)
{
    DIR *dir = opendir (path);
    if (!dir)
        return 0;
    size_t n = 0;
    struct dirent *entry;
    while ((entry = readdir (dir)))
        n += strcmp (entry->d_name, ".") != 0 && strcmp (entry->d_name, "..") != 0;
    closedir (dir);
    return n;
}

static uint64_t
s_tree_bytes (const char *path)
{
    struct stat st;
    if (lstat (path, &st) != 0)
        return 0;
    if (!S_ISDIR (st.st_mode))
        return S_ISREG (st.st_mode) ? (uint64_t) st.st_size : 0;
    uint64_t total = 0;
    DIR *dir = opendir (path);
    struct dirent *entry;
    while (dir && (entry = readdir (dir))) {
        if (strcmp (entry->d_name, ".") == 0 || strcmp (entry->d_name, "..") == 0)
            continue;
        char child [2048];
        snprintf (child, sizeof child, "%s/%s", path, entry->d_name);
        total += s_tree_bytes (child);
    }
    if (dir)
        closedir (dir);
    return total;
}

static void
s_wait_empty (const char *path, const char *after)
{
    for (int i = 0; i < 100 && s_entries (path); i++)
        usleep (50 * 1000);
    H_ASSERT (h, s_entries (path) == 0, "%s: %zu entries left in %s", after, s_entries (path),
              path);
}

Test (patient, scratch_wiped_at_every_end_and_cache_capped, .init = setup, .fini = teardown,
      .timeout = 240)
{
    const char *cap [] = { "--cache-max", "256K", NULL };
    cr_assert_geq (s_start_worker (1, cap), 0, "worker did not register");
    char jobs_dir [700];
    snprintf (jobs_dir, sizeof jobs_dir, "%s/jobs", h->workers [0].work_dir);
    segq_client_t *alice = s_client ("alice");
    char job [SEGQ_JOB_ID_MAX];
    /* success, with inputs and outputs; three 100 KB inputs through a 256 KB cache */
    for (unsigned i = 0; i < 3; i++) {
        char name [32], path [700];
        snprintf (name, sizeof name, "in%u.bin", i);
        s_file (name, 100 * 1024, 20 + i, path, sizeof path);
        const char *files [] = { path, NULL };
        s_echo (alice, files, NULL, NULL, job);
        cr_assert_eq (s_wait (alice, job), SEGQ_JOB_SUCCEEDED);
        s_wait_empty (jobs_dir, "success");
        uint64_t cached = s_tree_bytes (h->workers [0].cache_dir);
        H_ASSERT (h, cached <= 256 * 1024, "cache holds %llu bytes over its 256K cap",
                  (unsigned long long) cached);
    }
    /* failure: exit status, and killed by a signal */
    segq_job_spec_t *spec = segq_job_spec_new ("fail");
    H_ASSERT (h, segq_client_submit (alice, spec, job, sizeof job) == 0, "%s",
              segq_client_error (alice));
    cr_assert_eq (s_wait (alice, job), SEGQ_JOB_FAILED);
    s_wait_empty (jobs_dir, "failure");
    char err [256];
    cr_assert_eq (segq_job_spec_param (spec, "mode", "signal", err, sizeof err), 0, "%s", err);
    H_ASSERT (h, segq_client_submit (alice, spec, job, sizeof job) == 0, "%s",
              segq_client_error (alice));
    cr_assert_eq (s_wait (alice, job), SEGQ_JOB_FAILED);
    s_wait_empty (jobs_dir, "killed by a signal");
    segq_job_spec_destroy (&spec);
    /* killed at its time limit */
    s_sleep (alice, "30", 1, job);
    cr_assert_eq (s_wait (alice, job), SEGQ_JOB_FAILED);
    s_wait_empty (jobs_dir, "time limit");
    /* cancelled while running */
    s_sleep (alice, "30", 0, job);
    cr_assert_eq (harness_wait_state (alice, job, SEGQ_JOB_RUNNING, 30000), 0);
    usleep (300 * 1000);
    cr_assert_gt (s_entries (jobs_dir), 0, "no scratch while running?");
    cr_assert_eq (s_cancel (alice, job), 0);
    cr_assert_eq (s_wait (alice, job), SEGQ_JOB_CANCELLED);
    s_wait_empty (jobs_dir, "cancel");
    /* the worker killed hard mid-job: its next start wipes what was left */
    s_sleep (alice, "30", 0, job);
    cr_assert_eq (harness_wait_state (alice, job, SEGQ_JOB_RUNNING, 30000), 0);
    usleep (300 * 1000);
    cr_assert_gt (s_entries (jobs_dir), 0);
    harness_signal_worker (h, 0, SIGKILL);
    /* cancelled meanwhile, so the worker back does not get it again */
    cr_assert_eq (s_cancel (alice, job), 0);
    cr_assert_eq (s_wait (alice, job), SEGQ_JOB_CANCELLED);
    cr_assert_gt (s_entries (jobs_dir), 0, "nothing left behind by kill -9?");
    cr_assert_geq (s_start_worker (1, cap), 0, "worker did not come back");
    s_wait_empty (jobs_dir, "kill -9 and restart");
    segq_client_destroy (&alice);
    H_ASSERT_CLEAN_STOP (h);
}
