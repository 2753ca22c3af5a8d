/*  test_fault_load.c: the fault suite under load, with real processes.

    - the broker is killed (-9) at random points while 10,000 jobs are
      submitted and run, restarted each time: every acknowledged job ends
      succeeded exactly once (SEGQ_TEST_JOURNAL: every execution, seen from
      outside the broker), and every other execution was fenced;
    - workers are killed (-9) and stopped/continued during a load: the
      requeued work finishes, the stopped worker's late results are refused;
    - a hostile peer sends random bytes, truncated msgpack, huge declared
      lengths and oversize frames while an honest client is served;
    - the data directory fills up (a small tmpfs): uploads are refused with
      ENOSPC and a clear message, the broker keeps serving, and the
      database passes integrity_check.

    Each test bounds its time; the harness kills every process it started.
    The random kill points come from a seed printed on stderr
    (SEGQ_FAULT_SEED=N replays one). */
#include <criterion/criterion.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "harness.h"
#include "segq_proto.h"

static harness_t *h;

static void
setup (void)
{
    h = harness_new ("fault-load");
    cr_assert_not_null (h);
    h->heartbeat_ms = 300;
    h->expiry_ms = 2000;
}

static void
teardown (void)
{
    harness_destroy (&h);
}

static unsigned
s_seed (void)
{
    const char *env = getenv ("SEGQ_FAULT_SEED");
    unsigned seed = env && *env ? (unsigned) strtoul (env, NULL, 10)
                                : (unsigned) time (NULL) ^ (unsigned) getpid ();
    fprintf (stderr, "fault seed %u (SEGQ_FAULT_SEED=%u replays it)\n", seed, seed);
    return seed;
}

typedef struct {
    size_t lost;       /* acknowledged, not succeeded */
    size_t duplicated; /* succeeded more than once, or an attempt ran twice */
    size_t fenced;     /* executions other than the final one (their results refused) */
} tally_t;

/* Waits until every acknowledged job is final, then checks each: state
   succeeded with one `succeeded` transition, its final attempt in the
   journal, no attempt twice, none after the final one. */
static tally_t
s_check_exactly_once (segq_client_t *c, char (*acked) [SEGQ_JOB_ID_MAX], size_t n_acked,
                      int timeout_ms)
{
    enum { BATCH = 500 };
    const char *ids [BATCH];
    tally_t t = { 0, 0, 0 };
    /* wait: all final */
    int64_t deadline = zclock_mono () + timeout_ms;
    size_t done_until = 0;
    while (done_until < n_acked && zclock_mono () < deadline) {
        size_t n = n_acked - done_until < BATCH ? n_acked - done_until : BATCH;
        for (size_t i = 0; i < n; i++)
            ids [i] = acked [done_until + i];
        segq_status_query_t query = { .jobs = ids, .n_jobs = n };
        segq_job_list_t list = { 0 };
        H_ASSERT (h, segq_client_status (c, &query, NULL, &list) == 0, "%s", segq_client_error (c));
        size_t final = 0;
        while (final < list.n_jobs && segq_job_state_final (list.jobs [final].state))
            final++;
        segq_job_list_clear (&list);
        done_until += final;
        if (final < n)
            harness_sleep_ms (200);
    }
    H_ASSERT (h, done_until == n_acked, "%zu of %zu acknowledged jobs still not final after %d ms",
              n_acked - done_until, n_acked, timeout_ms);
    size_t n_journal = 0;
    h_journal_entry_t *j = harness_journal (h, &n_journal); /* sorted */
    for (size_t at = 0; at < n_acked; at += BATCH) {
        size_t n = n_acked - at < BATCH ? n_acked - at : BATCH;
        for (size_t i = 0; i < n; i++)
            ids [i] = acked [at + i];
        segq_status_query_t query = { .jobs = ids, .n_jobs = n, .detail = true };
        segq_job_list_t list = { 0 };
        H_ASSERT (h, segq_client_status (c, &query, NULL, &list) == 0, "%s", segq_client_error (c));
        cr_assert_eq (list.n_jobs, n);
        for (size_t i = 0; i < n; i++) {
            const segq_job_info_t *info = &list.jobs [i];
            size_t succeeded = 0;
            for (size_t k = 0; k < info->n_history; k++)
                succeeded += info->history [k].state == SEGQ_JOB_SUCCEEDED;
            int dups = 0;
            uint64_t set = harness_journal_attempts (j, n_journal, info->id, &dups);
            if (info->state != SEGQ_JOB_SUCCEEDED || !(set & (1ull << info->attempt))) {
                fprintf (stderr, "job %s: %s, attempt %u, journal %#llx: %s\n", info->id,
                         segq_job_state_name (info->state), info->attempt, (unsigned long long) set,
                         info->reason ? info->reason : "");
                t.lost++;
            }
            if (succeeded > 1 || dups || (info->attempt < 63 && (set >> (info->attempt + 1)))) {
                fprintf (stderr,
                         "job %s: %zu succeeded transitions, %d repeated attempts, "
                         "journal %#llx, final attempt %u\n",
                         info->id, succeeded, dups, (unsigned long long) set, info->attempt);
                t.duplicated++;
            }
            t.fenced += (size_t) __builtin_popcountll (set) - ((set >> info->attempt) & 1);
        }
        segq_job_list_clear (&list);
    }
    free (j);
    return t;
}

static segq_job_spec_t *
s_spec (const char *kind, const char *seconds)
{
    segq_job_spec_t *spec = segq_job_spec_new (kind);
    char err [256];
    if (seconds)
        cr_assert_eq (segq_job_spec_param (spec, "seconds", seconds, err, sizeof err), 0, "%s",
                      err);
    return spec;
}

/* Pipelined submits until n_acked reaches `until`; the replies that come
   are recorded. Returns false if the broker stopped answering. */
static bool
s_submit_until (segq_client_t *c, segq_job_spec_t *spec, char (*acked) [SEGQ_JOB_ID_MAX],
                size_t *n_acked, size_t until, size_t window)
{
    while (*n_acked < until) {
        while (segq_client_submits_pending (c) < window
               && *n_acked + segq_client_submits_pending (c) < until) {
            uint64_t req;
            if (segq_client_submit_send (c, spec, &req) != 0)
                return false;
        }
        segq_submit_reply_t r;
        if (segq_client_submit_recv (c, -1, &r) != 0)
            return false;
        H_ASSERT (h, r.code == 0, "submit refused: %s", r.message);
        memcpy (acked [(*n_acked)++], r.job, SEGQ_JOB_ID_MAX);
    }
    return true;
}

/* ---- kill -9 the broker during 10,000 jobs ---- */

Test (fault_load, broker_killed_during_10000_jobs_each_ends_once, .init = setup, .fini = teardown,
      .timeout = 600)
{
    enum { N = 10000, KILLS = 4, WINDOW = 200 };
    unsigned seed = s_seed ();
    srand (seed);
    cr_assert_eq (harness_start_broker (h, NULL), 0, "segqd did not start");
    cr_assert_eq (harness_start_worker (h, "w1", 2, NULL), 0);
    cr_assert_eq (harness_start_worker (h, "w2", 2, NULL), 1);
    /* kill points: three while submitting (random acknowledged counts),
       one after the last submit while jobs still run */
    size_t kill_at [KILLS - 1];
    for (int k = 0; k < KILLS - 1; k++)
        kill_at [k] = (size_t) (N / 10 + (size_t) rand () % (N * 8 / 10));
    for (int a = 0; a < KILLS - 1; a++)
        for (int b = a + 1; b < KILLS - 1; b++)
            if (kill_at [b] < kill_at [a]) {
                size_t t = kill_at [a];
                kill_at [a] = kill_at [b];
                kill_at [b] = t;
            }
    static char acked [N][SEGQ_JOB_ID_MAX];
    size_t n_acked = 0;
    segq_job_spec_t *spec = s_spec ("noop", NULL);
    segq_client_t *c = harness_client (h, 10000);
    for (int k = 0; k < KILLS; k++) {
        if (k < KILLS - 1)
            H_ASSERT (h, s_submit_until (c, spec, acked, &n_acked, kill_at [k], WINDOW), "%s",
                      segq_client_error (c));
        else {
            H_ASSERT (h, s_submit_until (c, spec, acked, &n_acked, N, WINDOW), "%s",
                      segq_client_error (c));
            harness_sleep_ms (rand () % 300);
        }
        /* submits in flight and jobs running: kill, restart, go on */
        fprintf (stderr, "kill %d of the broker after %zu acknowledged\n", k + 1, n_acked);
        harness_signal_broker (h, SIGKILL);
        segq_client_destroy (&c);
        harness_sleep_ms (rand () % 200);
        H_ASSERT (h, harness_start_broker (h, NULL) == 0, "segqd did not restart (kill %d)", k + 1);
        c = harness_client (h, 10000);
    }
    cr_assert_eq (n_acked, N);
    segq_job_spec_destroy (&spec);
    tally_t t = s_check_exactly_once (c, acked, n_acked, 240000);
    fprintf (stderr,
             "broker killed %d times during %d jobs: lost %zu, duplicated %zu, "
             "fenced executions %zu\n",
             KILLS, N, t.lost, t.duplicated, t.fenced);
    H_ASSERT (h, t.lost == 0 && t.duplicated == 0, "lost %zu, duplicated %zu (seed %u)", t.lost,
              t.duplicated, seed);
    segq_client_destroy (&c);
    H_ASSERT_CLEAN_STOP (h);
}

/* ---- workers killed and stopped during a load ---- */

Test (fault_load, workers_killed_and_stopped_during_a_load, .init = setup, .fini = teardown,
      .timeout = 300)
{
    enum { N = 600, WINDOW = 100 };
    unsigned seed = s_seed ();
    srand (seed);
    cr_assert_eq (harness_start_broker (h, NULL), 0, "segqd did not start");
    for (int i = 0; i < 3; i++) {
        char node [8];
        snprintf (node, sizeof node, "w%d", i + 1);
        cr_assert_eq (harness_start_worker (h, node, 3, NULL), i);
    }
    static char acked [N][SEGQ_JOB_ID_MAX];
    size_t n_acked = 0;
    /* short child processes, so a kill lands mid-job */
    segq_job_spec_t *spec = s_spec ("sleep", "0.05");
    segq_client_t *c = harness_client (h, 10000);
    H_ASSERT (h, s_submit_until (c, spec, acked, &n_acked, N / 3, WINDOW), "%s",
              segq_client_error (c));
    harness_sleep_ms (300 + rand () % 500);
    harness_signal_worker (h, 0, SIGKILL);
    H_ASSERT (h, s_submit_until (c, spec, acked, &n_acked, 2 * N / 3, WINDOW), "%s",
              segq_client_error (c));
    /* stopped past the expiry: its jobs go elsewhere; when it continues,
       what it finished in the meantime is stale */
    harness_signal_worker (h, 1, SIGSTOP);
    H_ASSERT (h, s_submit_until (c, spec, acked, &n_acked, N, WINDOW), "%s", segq_client_error (c));
    harness_sleep_ms (h->expiry_ms + 1500);
    harness_signal_worker (h, 1, SIGCONT);
    segq_job_spec_destroy (&spec);
    tally_t t = s_check_exactly_once (c, acked, n_acked, 200000);
    fprintf (stderr,
             "workers killed/stopped during %d jobs: lost %zu, duplicated %zu, fenced "
             "executions %zu\n",
             N, t.lost, t.duplicated, t.fenced);
    H_ASSERT (h, t.lost == 0 && t.duplicated == 0, "lost %zu, duplicated %zu (seed %u)", t.lost,
              t.duplicated, seed);
    H_ASSERT (h, t.fenced > 0, "no execution was fenced: the faults hit nothing (seed %u)", seed);
    segq_client_destroy (&c);
    H_ASSERT_CLEAN_STOP (h);
}

/* ---- a hostile peer while others are served ---- */

static void
s_send_frames (zsock_t *sock, const void *a, size_t na, const void *b, size_t nb, const void *c,
               size_t nc)
{
    zmsg_t *msg = zmsg_new ();
    zmsg_addmem (msg, a, na);
    if (b)
        zmsg_addmem (msg, b, nb);
    if (c)
        zmsg_addmem (msg, c, nc);
    cr_assert_eq (zmsg_send (&msg, sock), 0);
}

Test (fault_load, hostile_peer_does_not_stop_the_others, .init = setup, .fini = teardown,
      .timeout = 180)
{
    enum { N = 1000, WINDOW = 100 };
    unsigned seed = s_seed ();
    srand (seed);
    const char *extra [] = { "--max-msg", "1M", NULL };
    cr_assert_eq (harness_start_broker (h, extra), 0, "segqd did not start");
    cr_assert_eq (harness_start_worker (h, "w1", 2, NULL), 0);
    zsock_t *bad = zsock_new_dealer (h->endpoint);
    cr_assert_not_null (bad);
    zsock_set_sndtimeo (bad, 2000);
    /* a valid SUBMIT body to cut short */
    segq_msg_t *good = segq_msg_new (SEGQ_MSG_SUBMIT);
    good->u.submit.req_id = 1;
    good->u.submit.user = strdup ("mallory");
    good->u.submit.kind = strdup ("noop");
    zmsg_t *encoded = NULL;
    cr_assert_eq (segq_msg_encode (good, &encoded), 0);
    segq_msg_destroy (&good);
    zframe_t *hdr = zmsg_first (encoded), *body = zmsg_next (encoded);
    size_t body_len = zframe_size (body);
    uint8_t header [4];
    memcpy (header, zframe_data (hdr), 4);
    static uint8_t big [(1 << 20) + 4096];
    for (size_t i = 0; i < sizeof big; i++)
        big [i] = (uint8_t) rand ();

    segq_client_t *c = harness_client (h, 10000);
    segq_job_spec_t *spec = s_spec ("noop", NULL);
    static char acked [N][SEGQ_JOB_ID_MAX];
    size_t n_acked = 0, rounds = 0;
    while (n_acked < N) {
        /* one volley of each kind of garbage per honest batch */
        uint8_t junk [64];
        for (size_t i = 0; i < sizeof junk; i++)
            junk [i] = (uint8_t) rand ();
        size_t jn = 1 + (size_t) rand () % sizeof junk;
        s_send_frames (bad, junk, jn, NULL, 0, NULL, 0);   /* random bytes */
        s_send_frames (bad, header, 4, junk, jn, NULL, 0); /* random body */
        s_send_frames (bad, header, 4, zframe_data (body), 1 + (size_t) rand () % (body_len - 1),
                       NULL, 0);                                             /* truncated msgpack */
        static const uint8_t huge_map [] = { 0xdf, 0xff, 0xff, 0xff, 0xff }; /* map32 of 2^32-1 */
        static const uint8_t huge_str [] = { 0x81, 0xa3, 'r',  'e',  'q', 0xdb,
                                             0xff, 0xff, 0xff, 0xf0, 'x' }; /* str32 of ~4 GB */
        static const uint8_t huge_arr [] = {
            0x82, 0xa3, 'r', 'e', 'q', 0x01, 0xa4, 'j', 'o', 'b', 's', 0xdd, 0x7f, 0xff, 0xff, 0xff
        }; /* array32 */
        s_send_frames (bad, header, 4, huge_map, sizeof huge_map, NULL, 0);
        s_send_frames (bad, header, 4, huge_str, sizeof huge_str, NULL, 0);
        uint8_t cancel_header [4] = { 'S', 'Q', 1, SEGQ_MSG_CANCEL };
        s_send_frames (bad, cancel_header, 4, huge_arr, sizeof huge_arr, NULL, 0);
        if (rounds % 4 == 0)
            s_send_frames (bad, header, 4, big, sizeof big, NULL, 0);           /* over --max-msg */
        s_send_frames (bad, header, 4, zframe_data (body), body_len, junk, jn); /* extra frame */
        rounds++;
        H_ASSERT (h,
                  s_submit_until (c, spec, acked, &n_acked, n_acked + 100 < N ? n_acked + 100 : N,
                                  WINDOW),
                  "honest client not served after %zu hostile volleys: %s", rounds,
                  segq_client_error (c));
    }
    zmsg_destroy (&encoded);
    /* the hostile peer was answered (with errors), not ignored into a hang.
       An oversize message makes ZeroMQ drop its connection, and the
       replies to it with it: the answers to the volleys after the last one
       come once it has reconnected, which a loaded machine may take a
       while to do */
    zsock_set_rcvtimeo (bad, 20000);
    size_t errors = 0;
    for (;;) {
        zmsg_t *reply = zmsg_recv (bad);
        if (!reply)
            break;
        errors++;
        zmsg_destroy (&reply);
        zsock_set_rcvtimeo (bad, 2000);
    }
    zsock_destroy (&bad);
    segq_job_spec_destroy (&spec);
    tally_t t = s_check_exactly_once (c, acked, n_acked, 120000);
    H_ASSERT (h, t.lost == 0 && t.duplicated == 0, "lost %zu, duplicated %zu", t.lost,
              t.duplicated);
    fprintf (stderr, "hostile peer: %zu volleys, %zu error replies; %d honest jobs served\n",
             rounds, errors, N);
    cr_assert_gt (errors, 0, "the hostile peer got no error at all");
    segq_client_destroy (&c);
    H_ASSERT_CLEAN_STOP (h);
}

/* ---- disk full in the data directory ---- */

/* Fills the file system of `dir` with a file; returns its path. */
static void
s_fill (const char *dir, char *path, size_t len)
{
    snprintf (path, len, "%s/filler", dir);
    int fd = open (path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
    cr_assert_geq (fd, 0, "%s: %s", path, strerror (errno));
    static char block [65536];
    while (write (fd, block, sizeof block) > 0)
        ;
    /* the last partial block */
    while (write (fd, block, 512) > 0)
        ;
    close (fd);
}

static int
s_integrity (const char *db_path, char *result, size_t len)
{
    sqlite3 *db = NULL;
    int rc = sqlite3_open_v2 (db_path, &db, SQLITE_OPEN_READONLY, NULL);
    sqlite3_stmt *stmt = NULL;
    if (rc == SQLITE_OK)
        rc = sqlite3_prepare_v2 (db, "PRAGMA integrity_check", -1, &stmt, NULL);
    if (rc == SQLITE_OK && sqlite3_step (stmt) == SQLITE_ROW)
        snprintf (result, len, "%s", (const char *) sqlite3_column_text (stmt, 0));
    else
        snprintf (result, len, "cannot check: %s", db ? sqlite3_errmsg (db) : "no memory");
    sqlite3_finalize (stmt);
    sqlite3_close (db);
    return strcmp (result, "ok") == 0 ? 0 : -1;
}

static char s_mounted [512];

static void
s_unmount (void)
{
    if (h && h->broker > 0)
        harness_signal_broker (h, SIGKILL);
    if (*s_mounted)
        umount2 (s_mounted, MNT_DETACH);
    *s_mounted = 0;
    teardown ();
}

/* The broker's data directory on an 8 MiB tmpfs, and the broker on it:
   the database and its WAL fit, a 16 MiB upload does not. */
static void
s_start_broker_on_small_disk (void)
{
    cr_assert_eq (mkdir (h->data_dir, 0700) == 0 || errno == EEXIST, 1);
    if (mount ("segq-test", h->data_dir, "tmpfs", MS_NOSUID | MS_NODEV, "size=8m,mode=0700") != 0)
        cr_assert_fail ("cannot mount a tmpfs on %s: %s. The disk-full test needs it: run the "
                        "tests as root (as CI does) or in a container with CAP_SYS_ADMIN",
                        h->data_dir, strerror (errno));
    snprintf (s_mounted, sizeof s_mounted, "%s", h->data_dir);
    cr_assert_eq (harness_start_broker (h, NULL), 0, "segqd did not start on the tmpfs");
}

static void
s_assert_database_intact (void)
{
    char db [700], result [256];
    snprintf (db, sizeof db, "%s/segq.db", h->data_dir);
    cr_assert_eq (s_integrity (db, result, sizeof result), 0, "integrity_check: %s", result);
}

Test (fault_load, disk_full_refuses_uploads_and_keeps_serving, .init = setup, .fini = s_unmount,
      .timeout = 180)
{
    s_start_broker_on_small_disk ();
    cr_assert_eq (harness_start_worker (h, "w1", 1, NULL), 0);
    segq_client_t *c = harness_client (h, 20000);
    char big [700], hash [SEGQ_HASH_HEX_LEN + 1];
    snprintf (big, sizeof big, "%s/big.bin", h->dir);
    cr_assert_eq (harness_write_random_file (big, 16u << 20, 7), 0);
    int rc = segq_client_upload (c, big, "big.bin", hash, NULL);
    H_ASSERT (h, rc == SEGQ_ENOSPC, "a 16 MiB upload into 8 MiB: %d (%s)", rc,
              segq_client_error (c));
    /* refused up front, from the size PUT declares, before a byte is written */
    H_ASSERT (h, strstr (segq_client_error (c), "free on the broker's disk"), "%s",
              segq_client_error (c));

    /* still serving: a job runs */
    segq_job_spec_t *spec = s_spec ("noop", NULL);
    char job [SEGQ_JOB_ID_MAX];
    H_ASSERT (h, segq_client_submit (c, spec, job, sizeof job) == 0, "%s", segq_client_error (c));
    segq_job_info_t info = { 0 };
    H_ASSERT (h, harness_wait_final (c, job, 30000, &info) == 0, "job did not end");
    cr_assert_eq (info.state, SEGQ_JOB_SUCCEEDED);
    segq_job_info_clear (&info);

    /* completely full: a submit is either stored or refused with ENOSPC,
       never half-stored; a small upload is refused plainly */
    char filler [700];
    s_fill (h->data_dir, filler, sizeof filler);
    size_t refused = 0, stored = 0;
    for (int i = 0; i < 50; i++) {
        rc = segq_client_submit (c, spec, job, sizeof job);
        H_ASSERT (h, rc == 0 || rc == SEGQ_ENOSPC, "submit on a full disk: %d (%s)", rc,
                  segq_client_error (c));
        if (rc)
            H_ASSERT (h, strstr (segq_client_error (c), "space"), "%s", segq_client_error (c));
        refused += rc != 0;
        stored += rc == 0;
    }
    char small [700];
    snprintf (small, sizeof small, "%s/small.bin", h->dir);
    cr_assert_eq (harness_write_random_file (small, 256u << 10, 8), 0);
    rc = segq_client_upload (c, small, "small.bin", hash, NULL);
    H_ASSERT (h, rc == SEGQ_ENOSPC, "upload on a full disk: %d (%s)", rc, segq_client_error (c));
    fprintf (stderr, "full disk: %zu submits stored, %zu refused with ENOSPC\n", stored, refused);

    /* space again: everything works */
    cr_assert_eq (unlink (filler), 0);
    H_ASSERT (h, segq_client_upload (c, small, "small.bin", hash, NULL) == 0, "%s",
              segq_client_error (c));
    H_ASSERT (h, segq_client_submit (c, spec, job, sizeof job) == 0, "%s", segq_client_error (c));
    H_ASSERT (h, harness_wait_final (c, job, 30000, &info) == 0, "job did not end");
    cr_assert_eq (info.state, SEGQ_JOB_SUCCEEDED);
    segq_job_info_clear (&info);
    segq_job_spec_destroy (&spec);
    segq_client_destroy (&c);
    H_ASSERT_CLEAN_STOP (h);
    s_assert_database_intact ();
}

/* How many times the log at `path` says `what`. */
static int
s_said (const char *path, const char *what)
{
    static char log [1 << 20];
    FILE *file = fopen (path, "r");
    size_t n = file ? fread (log, 1, sizeof log - 1, file) : 0;
    log [n] = 0;
    if (file)
        fclose (file);
    int count = 0;
    for (const char *p = strstr (log, what); p; p = strstr (p + 1, what))
        count++;
    return count;
}

/* A result that comes while the disk is full cannot be stored: the turn
   is rolled back and its RESULT_ACK dropped. The worker sends the result
   again, unasked, until it is acknowledged; a draining worker waits for
   that; and once there is room the job ends. */
Test (fault_load, result_on_a_full_disk_is_stored_once_there_is_room, .init = setup,
      .fini = s_unmount, .timeout = 180)
{
    s_start_broker_on_small_disk ();
    cr_assert_eq (harness_start_worker (h, "w1", 1, NULL), 0);
    segq_client_t *c = harness_client (h, 20000);
    segq_job_spec_t *spec = s_spec ("sleep", "1.5");
    char job [SEGQ_JOB_ID_MAX];
    H_ASSERT (h, segq_client_submit (c, spec, job, sizeof job) == 0, "%s", segq_client_error (c));
    segq_job_spec_destroy (&spec);
    H_ASSERT (h, harness_wait_state (c, job, SEGQ_JOB_RUNNING, 20000) == 0, "job never ran");
    char filler [700];
    s_fill (h->data_dir, filler, sizeof filler);
    /* the result's commit fails, and the worker sends it again (it had no
       new session: its only REGISTER was the first) */
    const char *failed = "cannot commit to the job database", *again = "sending it again";
    const char *worker_log = h->workers [0].log;
    for (int i = 0; i < 1500 && (s_said (h->broker_log, failed) < 2 || !s_said (worker_log, again));
         i++)
        harness_sleep_ms (20);
    H_ASSERT (h, s_said (h->broker_log, failed) >= 2 && s_said (worker_log, again) == 1,
              "the result was stored, or not sent again");
    H_ASSERT (h, s_said (h->broker_log, "worker w1 registered") == 1, "the worker re-registered");
    segq_job_info_t info = { 0 };
    H_ASSERT (h, segq_client_job (c, job, false, &info) == 0, "%s", segq_client_error (c));
    H_ASSERT (h, info.state == SEGQ_JOB_RUNNING, "job %s on a full disk",
              segq_job_state_name (info.state));
    segq_job_info_clear (&info);
    /* draining: the worker stays while its result is not acknowledged */
    harness_signal_worker (h, 0, SIGTERM);
    for (int i = 0; i < 1500 && s_said (worker_log, again) < 2; i++)
        harness_sleep_ms (20);
    H_ASSERT (h, s_said (worker_log, again) == 2 && harness_worker_alive (h, 0),
              "the draining worker left with its result unacknowledged");
    /* room again: stored, acknowledged, and the drained worker leaves */
    cr_assert_eq (unlink (filler), 0);
    H_ASSERT (h, harness_wait_final (c, job, 60000, &info) == 0, "job did not end");
    H_ASSERT (h, info.state == SEGQ_JOB_SUCCEEDED, "job %s: %s", segq_job_state_name (info.state),
              info.reason ? info.reason : "");
    segq_job_info_clear (&info);
    for (int i = 0; i < 1000 && harness_worker_alive (h, 0); i++)
        harness_sleep_ms (20);
    H_ASSERT (h, !harness_worker_alive (h, 0), "the worker did not leave once drained");
    segq_client_destroy (&c);
    H_ASSERT_CLEAN_STOP (h);
    s_assert_database_intact ();
}
