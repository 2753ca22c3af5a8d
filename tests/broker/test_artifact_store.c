/*  Artifact store: verified uploads land under their hash with private
    modes; a wrong hash, a short or misplaced chunk, or a failing disk
    leaves nothing stored; crash leftovers are cleaned at start. */
#include <pthread.h>
#include <signal.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <dirent.h>
#include "broker_test_util.h"
#include "artifact_store.h"

static char dir [256];

static void
setup (void)
{
    test_tmpdir (dir, sizeof dir);
}
static void
teardown (void)
{
    test_rmdir (dir);
}

static void
s_hash (const void *data, size_t size, char hash [SEGQ_HASH_HEX_LEN + 1])
{
    segq_sha256_t sha;
    segq_sha256_init (&sha);
    segq_sha256_update (&sha, data, size);
    segq_sha256_final (&sha, hash);
}

static size_t
s_tmp_files (void)
{
    char path [300];
    snprintf (path, sizeof path, "%s/artifacts/tmp", dir);
    return test_count_entries (path);
}

static segq__artifact_store_t *
s_store (void)
{
    char err [512] = "";
    segq__artifact_store_t *store = segq__artifact_store_new (dir, err, sizeof err);
    cr_assert_not_null (store, "%s", err);
    return store;
}

Test (artifact_store, verified_upload_is_stored_privately_under_its_hash, .init = setup,
      .fini = teardown, .timeout = 10)
{
    segq__artifact_store_t *store = s_store ();
    static char data [300000];
    for (size_t i = 0; i < sizeof data; i++)
        data [i] = (char) (i * 31);
    char hash [SEGQ_HASH_HEX_LEN + 1], err [512];
    s_hash (data, sizeof data, hash);
    cr_assert_not (segq__artifact_store_has (store, hash, NULL));
    segq__upload_t *up = segq__artifact_store_upload (store, hash, sizeof data, err, sizeof err);
    cr_assert_not_null (up, "%s", err);
    for (size_t off = 0; off < sizeof data; off += 100000)
        cr_assert_eq (segq__upload_write (up, off, data + off, 100000, err, sizeof err), 0, "%s",
                      err);
    cr_assert_not (segq__artifact_store_has (store, hash, NULL), "not there before finish");
    cr_assert_eq (segq__upload_finish (up, NULL, NULL, err, sizeof err), 0, "%s", err);
    segq__upload_destroy (&up);
    uint64_t size;
    cr_assert (segq__artifact_store_has (store, hash, &size));
    cr_assert_eq (size, sizeof data);
    char path [400];
    snprintf (path, sizeof path, "%s/artifacts/%.2s/%s", dir, hash, hash);
    struct stat st;
    cr_assert_eq (stat (path, &st), 0, "stored at artifacts/aa/<hash>");
    cr_assert_eq (st.st_mode & 0777, 0600);
    snprintf (path, sizeof path, "%s/artifacts/%.2s", dir, hash);
    cr_assert_eq (stat (path, &st), 0);
    cr_assert_eq (st.st_mode & 0777, 0700);
    cr_assert_eq (s_tmp_files (), 0);
    /* read it back */
    segq__download_t *down = segq__artifact_store_download (store, hash, err, sizeof err);
    cr_assert_not_null (down, "%s", err);
    cr_assert_eq (segq__download_size (down), sizeof data);
    static char back [sizeof data];
    cr_assert_eq (segq__download_read (down, 0, back, sizeof back), (int64_t) sizeof back);
    cr_assert_eq (memcmp (back, data, sizeof data), 0);
    cr_assert_eq (segq__download_read (down, sizeof data - 5, back, 100), 5,
                  "short read at the end");
    segq__download_destroy (&down);
    segq__artifact_store_destroy (&store);
}

Test (artifact_store, wrong_hash_or_bad_chunks_store_nothing, .init = setup, .fini = teardown,
      .timeout = 10)
{
    segq__artifact_store_t *store = s_store ();
    char hash [SEGQ_HASH_HEX_LEN + 1], err [512];
    s_hash ("hello", 5, hash);
    /* different bytes of the same size */
    segq__upload_t *up = segq__artifact_store_upload (store, hash, 5, err, sizeof err);
    cr_assert_eq (segq__upload_write (up, 0, "hellO", 5, err, sizeof err), 0);
    cr_assert_eq (segq__upload_finish (up, NULL, NULL, err, sizeof err), SEGQ_EHASH);
    cr_assert (strstr (err, hash), "%s", err);
    segq__upload_destroy (&up);
    cr_assert_not (segq__artifact_store_has (store, hash, NULL));
    /* a chunk at the wrong offset, past the size, a short upload */
    up = segq__artifact_store_upload (store, hash, 5, err, sizeof err);
    cr_assert_eq (segq__upload_write (up, 2, "llo", 3, err, sizeof err), SEGQ_EINVAL);
    cr_assert_eq (segq__upload_write (up, 0, "hello!", 6, err, sizeof err), SEGQ_EINVAL);
    cr_assert_eq (segq__upload_write (up, 0, "hel", 3, err, sizeof err), 0);
    cr_assert_eq (segq__upload_received (up), 3);
    cr_assert_eq (segq__upload_finish (up, NULL, NULL, err, sizeof err), SEGQ_EINVAL);
    cr_assert (strstr (err, "3 of 5"), "%s", err);
    segq__upload_destroy (&up);
    cr_assert_not (segq__artifact_store_has (store, hash, NULL));
    cr_assert_eq (s_tmp_files (), 0, "temporary files are removed");
    cr_assert_null (segq__artifact_store_upload (store, "not-a-hash", 5, err, sizeof err));
    cr_assert_null (segq__artifact_store_download (store, hash, err, sizeof err));
    cr_assert (strstr (err, "not stored"), "%s", err);
    segq__artifact_store_destroy (&store);
}

Test (artifact_store, failing_disk_is_refused_cleanly, .init = setup, .fini = teardown,
      .timeout = 10)
{
    segq__artifact_store_t *store = s_store ();
    static char data [1 << 16];
    char hash [SEGQ_HASH_HEX_LEN + 1], err [512];
    s_hash (data, sizeof data, hash);
    segq__upload_t *up = segq__artifact_store_upload (store, hash, sizeof data, err, sizeof err);
    cr_assert_not_null (up);
    /* the file size limit makes write() fail as a full disk would */
    signal (SIGXFSZ, SIG_IGN);
    struct rlimit limit = { 4096, 4096 };
    cr_assert_eq (setrlimit (RLIMIT_FSIZE, &limit), 0);
    int rc = segq__upload_write (up, 0, data, sizeof data, err, sizeof err);
    cr_assert (rc == SEGQ_EIO || rc == SEGQ_ENOSPC, "rc %d", rc);
    cr_assert (strstr (err, "cannot write artifact"), "%s", err);
    segq__upload_destroy (&up);
    cr_assert_not (segq__artifact_store_has (store, hash, NULL));
    cr_assert_eq (s_tmp_files (), 0);
    segq__artifact_store_destroy (&store);
}

Test (artifact_store, leftovers_of_a_crash_are_removed_at_start, .init = setup, .fini = teardown,
      .timeout = 10)
{
    segq__artifact_store_t *store = s_store ();
    char hash [SEGQ_HASH_HEX_LEN + 1], err [512];
    s_hash ("x", 1, hash);
    segq__upload_t *up = segq__artifact_store_upload (store, hash, 1, err, sizeof err);
    cr_assert_not_null (up);
    cr_assert_eq (s_tmp_files (), 1);
    /* the process dies here: the upload object is never destroyed */
    segq__artifact_store_t *again = s_store ();
    cr_assert_eq (s_tmp_files (), 0);
    segq__upload_destroy (&up);
    segq__artifact_store_destroy (&again);
    segq__artifact_store_destroy (&store);
}

/* Hash at the end (SPEC 10.1): the upload starts with no hash; the one named
   at the end must match the data and any named at the start; a copy of an
   artifact the store holds already is dropped, the store keeps one file. */
Test (artifact_store, hash_named_at_the_end, .init = setup, .fini = teardown, .timeout = 10)
{
    segq__artifact_store_t *store = s_store ();
    char hash [SEGQ_HASH_HEX_LEN + 1], other [SEGQ_HASH_HEX_LEN + 1], got [SEGQ_HASH_HEX_LEN + 1];
    char err [512];
    s_hash ("hello", 5, hash);
    s_hash ("hellO", 5, other);
    /* mismatch at the end: EHASH, nothing stored */
    segq__upload_t *up = segq__artifact_store_upload (store, NULL, 5, err, sizeof err);
    cr_assert_not_null (up, "%s", err);
    cr_assert_eq (segq__upload_write (up, 0, "hellO", 5, err, sizeof err), 0);
    cr_assert_eq (segq__upload_finish (up, hash, got, err, sizeof err), SEGQ_EHASH);
    cr_assert (strstr (err, "not stored"), "%s", err);
    segq__upload_destroy (&up);
    cr_assert_not (segq__artifact_store_has (store, hash, NULL));
    cr_assert_not (segq__artifact_store_has (store, other, NULL));
    /* no hash named anywhere: refused */
    up = segq__artifact_store_upload (store, "", 5, err, sizeof err);
    cr_assert_eq (segq__upload_write (up, 0, "hello", 5, err, sizeof err), 0);
    cr_assert_eq (segq__upload_finish (up, NULL, got, err, sizeof err), SEGQ_EINVAL);
    cr_assert (strstr (err, "no sha256 named"), "%s", err);
    segq__upload_destroy (&up);
    /* start and end disagree: EHASH even though the data matches the end */
    up = segq__artifact_store_upload (store, other, 5, err, sizeof err);
    cr_assert_eq (segq__upload_write (up, 0, "hello", 5, err, sizeof err), 0);
    cr_assert_eq (segq__upload_finish (up, hash, got, err, sizeof err), SEGQ_EHASH);
    cr_assert (strstr (err, "announced"), "%s", err);
    segq__upload_destroy (&up);
    /* a garbled end hash */
    up = segq__artifact_store_upload (store, NULL, 5, err, sizeof err);
    cr_assert_eq (segq__upload_write (up, 0, "hello", 5, err, sizeof err), 0);
    cr_assert_eq (segq__upload_finish (up, "HELLO", got, err, sizeof err), SEGQ_EINVAL);
    segq__upload_destroy (&up);
    cr_assert_not (segq__artifact_store_has (store, hash, NULL));
    cr_assert_eq (s_tmp_files (), 0);
    /* a good one is stored under the hash named at the end */
    up = segq__artifact_store_upload (store, NULL, 5, err, sizeof err);
    cr_assert_eq (segq__upload_write (up, 0, "hello", 5, err, sizeof err), 0);
    cr_assert_eq (segq__upload_finish (up, hash, got, err, sizeof err), 0, "%s", err);
    cr_assert_str_eq (got, hash);
    segq__upload_destroy (&up);
    cr_assert (segq__artifact_store_has (store, hash, NULL));
    char path [400];
    snprintf (path, sizeof path, "%s/artifacts/%.2s/%s", dir, hash, hash);
    struct stat first;
    cr_assert_eq (stat (path, &first), 0);
    /* the same content again: accepted, the copy dropped, the stored file kept */
    up = segq__artifact_store_upload (store, NULL, 5, err, sizeof err);
    cr_assert_eq (segq__upload_write (up, 0, "hello", 5, err, sizeof err), 0);
    cr_assert_eq (segq__upload_finish (up, hash, got, err, sizeof err), 0, "%s", err);
    segq__upload_destroy (&up);
    struct stat again;
    cr_assert_eq (stat (path, &again), 0);
    cr_assert_eq (again.st_ino, first.st_ino, "the stored copy was replaced");
    cr_assert_eq (s_tmp_files (), 0, "the duplicate's temporary file is gone");
    snprintf (path, sizeof path, "%s/artifacts/%.2s", dir, hash);
    DIR *d = opendir (path);
    cr_assert_not_null (d);
    size_t n = 0;
    for (struct dirent *e; (e = readdir (d));)
        n += e->d_name [0] != '.';
    closedir (d);
    cr_assert_eq (n, 1, "one copy per hash");
    segq__artifact_store_destroy (&store);
}

/* The broker finishes uploads on threads of their own (offload.h): uploads
   of the same content finishing at once store one file, counted once. */
typedef struct {
    segq__upload_t *upload;
    const char *hash;
    int rc;
    char err [512];
} finishing_t;

static void *
s_finish_thread (void *arg)
{
    finishing_t *f = arg;
    char got [SEGQ_HASH_HEX_LEN + 1];
    f->rc = segq__upload_finish (f->upload, f->hash, got, f->err, sizeof f->err);
    return NULL;
}

Test (artifact_store, uploads_finishing_at_once_are_stored_and_counted_once, .init = setup,
      .fini = teardown, .timeout = 30)
{
    enum { SAME = 8, OTHERS = 24, ALL = SAME + OTHERS };
    segq__artifact_store_t *store = s_store ();
    static char data [ALL][64];
    static char hashes [ALL][SEGQ_HASH_HEX_LEN + 1];
    finishing_t finishing [ALL];
    pthread_t threads [ALL];
    char err [512];
    for (size_t i = 0; i < ALL; i++) {
        /* the first SAME uploads carry one content, the others one each */
        snprintf (data [i], sizeof data [i], "content %zu", i < SAME ? 0 : i);
        size_t size = strlen (data [i]);
        s_hash (data [i], size, hashes [i]);
        finishing [i] = (finishing_t){ .hash = hashes [i] };
        finishing [i].upload = segq__artifact_store_upload (store, NULL, size, err, sizeof err);
        cr_assert_not_null (finishing [i].upload, "%s", err);
        cr_assert_eq (segq__upload_write (finishing [i].upload, 0, data [i], size, err, sizeof err),
                      0);
    }
    uint64_t files, bytes;
    segq__artifact_store_totals (store, &files, &bytes); /* counted from here on, not walked */
    cr_assert_eq (files, 0);
    for (size_t i = 0; i < ALL; i++)
        cr_assert_eq (pthread_create (&threads [i], NULL, s_finish_thread, &finishing [i]), 0);
    for (size_t i = 0; i < ALL; i++) {
        pthread_join (threads [i], NULL);
        cr_assert_eq (finishing [i].rc, 0, "upload %zu: %s", i, finishing [i].err);
        segq__upload_destroy (&finishing [i].upload);
        cr_assert (segq__artifact_store_has (store, hashes [i], NULL));
    }
    uint64_t want_bytes = strlen (data [0]);
    for (size_t i = SAME; i < ALL; i++)
        want_bytes += strlen (data [i]);
    segq__artifact_store_totals (store, &files, &bytes);
    cr_assert_eq (files, 1 + OTHERS, "each content counted once");
    cr_assert_eq (bytes, want_bytes);
    cr_assert_eq (s_tmp_files (), 0, "the copies' temporary files are gone");
    segq__artifact_store_destroy (&store);
}
