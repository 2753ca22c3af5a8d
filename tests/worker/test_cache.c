/*  The artifact cache, input layout and output collection. */
#include <criterion/criterion.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include "segq_fs.h"
#include "worker_internal.h"

static char s_dir [256];

static void
s_setup (void)
{
    snprintf (s_dir, sizeof s_dir, "/tmp/segq-worker-cache-XXXXXX");
    cr_assert_not_null (mkdtemp (s_dir));
}

static void
s_teardown (void)
{
    segq__remove_tree (s_dir);
}

static void
s_write (const char *path, const char *text)
{
    FILE *f = fopen (path, "w");
    cr_assert_not_null (f, "%s", path);
    fputs (text, f);
    fclose (f);
}

static void
s_hash (const char *text, char hex [SEGQ_HASH_HEX_LEN + 1])
{
    segq_sha256_t sha;
    segq_sha256_init (&sha);
    segq_sha256_update (&sha, text, strlen (text));
    segq_sha256_final (&sha, hex);
}

TestSuite (cache, .init = s_setup, .fini = s_teardown, .timeout = 20);

Test (cache, names_outside_the_job_dir_are_refused)
{
    char err [400];
    cr_assert_eq (segq__name_check ("images/x.png", err, sizeof err), 0);
    cr_assert_eq (segq__name_check ("a.b..c", err, sizeof err), 0);
    const char *bad [] = { "", "/etc/passwd", "../x", "a/../../b", "a//b", "a/", "./a", ".." };
    for (size_t i = 0; i < sizeof bad / sizeof bad [0]; i++) {
        err [0] = 0;
        cr_assert_eq (segq__name_check (bad [i], err, sizeof err), SEGQ_EINVAL, "%s", bad [i]);
        cr_assert (strstr (err, bad [i]) && strstr (err, "relative"), "%s", err);
    }
}

Test (cache, download_verified_then_laid_out)
{
    char err [400], cache_dir [512], job [512], path [1024];
    snprintf (cache_dir, sizeof cache_dir, "%s/cache", s_dir);
    snprintf (job, sizeof job, "%s/job", s_dir);
    segq__cache_t *cache = segq__cache_new (cache_dir, 0, err, sizeof err);
    cr_assert_not_null (cache, "%s", err);
    const char *text = "hello, artifact\n";
    char hash [SEGQ_HASH_HEX_LEN + 1];
    s_hash (text, hash);
    cr_assert_not (segq__cache_has (cache, hash, strlen (text)));

    segq__cache_write_t *w = segq__cache_write_begin (cache, hash, strlen (text), err, sizeof err);
    cr_assert_not_null (w, "%s", err);
    cr_assert_eq (segq__cache_write_data (w, 0, text, 5, err, sizeof err), 0);
    /* a chunk that does not follow is refused */
    cr_assert_eq (segq__cache_write_data (w, 3, text, 2, err, sizeof err), SEGQ_EPROTO);
    cr_assert_eq (segq__cache_write_data (w, 5, text + 5, strlen (text) - 5, err, sizeof err), 0);
    cr_assert_eq (segq__cache_write_commit (&w, err, sizeof err), 0, "%s", err);
    cr_assert_null (w);
    cr_assert (segq__cache_has (cache, hash, strlen (text)));

    segq__layout_t layout;
    segq__cache_layout_begin (cache, hash, &layout);
    cr_assert_eq (segq__cache_layout (cache, &layout, job, "inputs/deep/a.txt", err, sizeof err), 0,
                  "%s", err);
    snprintf (path, sizeof path, "%s/inputs/deep/a.txt", job);
    char got [SEGQ_HASH_HEX_LEN + 1];
    cr_assert_eq (segq_sha256_file (path, got), 0);
    cr_assert_str_eq (got, hash);
    /* read-only, so a job cannot change the cached copy through its link */
    struct stat st;
    cr_assert_eq (stat (path, &st), 0);
    cr_assert_eq (st.st_mode & 0222, 0, "mode %o", st.st_mode);
    cr_assert_eq (segq__cache_layout (cache, &layout, job, "inputs/deep/a.txt", err, sizeof err),
                  SEGQ_EEXIST);
    cr_assert_eq (segq__cache_layout (cache, &layout, job, "../escape", err, sizeof err),
                  SEGQ_EINVAL);
    snprintf (path, sizeof path, "%s/escape", s_dir);
    cr_assert_neq (access (path, F_OK), 0);
    segq__cache_destroy (&cache);
}

Test (cache, corrupt_or_short_download_never_stored)
{
    char err [400], cache_dir [512];
    snprintf (cache_dir, sizeof cache_dir, "%s/cache", s_dir);
    segq__cache_t *cache = segq__cache_new (cache_dir, 0, err, sizeof err);
    const char *text = "the real content";
    char hash [SEGQ_HASH_HEX_LEN + 1];
    s_hash (text, hash);

    segq__cache_write_t *w = segq__cache_write_begin (cache, hash, strlen (text), err, sizeof err);
    cr_assert_eq (segq__cache_write_data (w, 0, "the fake content", 16, err, sizeof err), 0);
    cr_assert_eq (segq__cache_write_commit (&w, err, sizeof err), SEGQ_EHASH);
    cr_assert (strstr (err, "sha256"), "%s", err);
    cr_assert_not (segq__cache_has (cache, hash, strlen (text)));

    w = segq__cache_write_begin (cache, hash, strlen (text), err, sizeof err);
    cr_assert_eq (segq__cache_write_data (w, 0, text, 4, err, sizeof err), 0);
    cr_assert_eq (segq__cache_write_commit (&w, err, sizeof err), SEGQ_EPROTO);
    cr_assert_not (segq__cache_has (cache, hash, strlen (text)));

    /* more than announced */
    w = segq__cache_write_begin (cache, hash, 3, err, sizeof err);
    cr_assert_eq (segq__cache_write_data (w, 0, text, 4, err, sizeof err), SEGQ_EPROTO);
    segq__cache_write_abort (&w);
    cr_assert_null (segq__cache_write_begin (cache, "nothex", 3, err, sizeof err));

    /* no temp files left behind */
    char tmp [600];
    snprintf (tmp, sizeof tmp, "%s/tmp", cache_dir);
    DIR *d = opendir (tmp);
    int entries = 0;
    for (struct dirent *e; (e = readdir (d));)
        entries += e->d_name [0] != '.';
    closedir (d);
    cr_assert_eq (entries, 0);
    segq__cache_destroy (&cache);
}

typedef struct {
    int count;
    char last [256];
} skipped_t;

static void
s_skipped (void *arg, const char *name, const char *why)
{
    skipped_t *s = arg;
    s->count++;
    snprintf (s->last, sizeof s->last, "%s: %s", name, why);
}

Test (cache, outputs_are_every_regular_file_in_name_order)
{
    char out [512], path [1024], err [400];
    snprintf (out, sizeof out, "%s/out", s_dir);
    snprintf (path, sizeof path, "%s/out/b/c", s_dir);
    cr_assert_eq (segq_mkdirs (path, err, sizeof err), 0);
    snprintf (path, sizeof path, "%s/out/z.txt", s_dir);
    s_write (path, "zed");
    snprintf (path, sizeof path, "%s/out/b/c/deep.bin", s_dir);
    s_write (path, "deep");
    snprintf (path, sizeof path, "%s/out/a.txt", s_dir);
    s_write (path, "");
    snprintf (path, sizeof path, "%s/out/link", s_dir);
    cr_assert_eq (symlink ("/etc/passwd", path), 0);

    segq_artifact_t *outputs = NULL;
    size_t n = 0;
    skipped_t skipped = { 0 };
    cr_assert_eq (segq__collect_outputs (out, &outputs, &n, s_skipped, &skipped, err, sizeof err),
                  0, "%s", err);
    cr_assert_eq (n, 3);
    cr_assert_str_eq (outputs [0].name, "a.txt");
    cr_assert_str_eq (outputs [1].name, "b/c/deep.bin");
    cr_assert_str_eq (outputs [2].name, "z.txt");
    cr_assert_eq (outputs [0].size, 0);
    cr_assert_eq (outputs [1].size, 4);
    cr_assert_str_eq (outputs [1].hash, ""); /* hashed by the worker, in slices */
    cr_assert_eq (skipped.count, 1);
    cr_assert (strstr (skipped.last, "link: a symbolic link"), "%s", skipped.last);
    segq__artifacts_free (&outputs, n);

    /* no out/ at all: no outputs, no error */
    snprintf (path, sizeof path, "%s/none", s_dir);
    cr_assert_eq (segq__collect_outputs (path, &outputs, &n, NULL, NULL, err, sizeof err), 0);
    cr_assert_eq (n, 0);
}

Test (cache, remove_tree_does_not_follow_links)
{
    char keep [512], tree [512], path [1024], err [400];
    snprintf (keep, sizeof keep, "%s/keep", s_dir);
    snprintf (tree, sizeof tree, "%s/tree/x", s_dir);
    cr_assert_eq (segq_mkdirs (keep, err, sizeof err), 0);
    cr_assert_eq (segq_mkdirs (tree, err, sizeof err), 0);
    snprintf (path, sizeof path, "%s/keep/precious", s_dir);
    s_write (path, "data");
    snprintf (path, sizeof path, "%s/tree/x/link", s_dir);
    cr_assert_eq (symlink (keep, path), 0);
    snprintf (path, sizeof path, "%s/tree/x", s_dir);
    chmod (path, 0500); /* as a job might leave it */
    snprintf (tree, sizeof tree, "%s/tree", s_dir);
    cr_assert_eq (segq__remove_tree (tree), 0);
    cr_assert_neq (access (tree, F_OK), 0);
    snprintf (path, sizeof path, "%s/keep/precious", s_dir);
    cr_assert_eq (access (path, F_OK), 0);
}

/* Put text into the cache as a finished download. */
static void
s_cache_put (segq__cache_t *cache, const char *text, char hash [SEGQ_HASH_HEX_LEN + 1])
{
    char err [400];
    s_hash (text, hash);
    segq__cache_write_t *w = segq__cache_write_begin (cache, hash, strlen (text), err, sizeof err);
    cr_assert_not_null (w, "%s", err);
    cr_assert_eq (segq__cache_write_data (w, 0, text, strlen (text), err, sizeof err), 0);
    cr_assert_eq (segq__cache_write_commit (&w, err, sizeof err), 0, "%s", err);
}

Test (cache, least_recently_used_inputs_go_first_over_the_limit)
{
    char err [400], cache_dir [512], job [512], path [1024];
    snprintf (cache_dir, sizeof cache_dir, "%s/cache", s_dir);
    snprintf (job, sizeof job, "%s/job", s_dir);
    segq__cache_t *cache = segq__cache_new (cache_dir, 250, err, sizeof err);
    cr_assert_not_null (cache, "%s", err);
    char a [101], b [101], c [101], ha [65], hb [65], hc [65];
    memset (a, 'a', 100);
    a [100] = 0;
    memset (b, 'b', 100);
    b [100] = 0;
    memset (c, 'c', 100);
    c [100] = 0;
    s_cache_put (cache, a, ha);
    usleep (20000);
    s_cache_put (cache, b, hb);
    usleep (20000);
    /* a is used again (and laid out for a job): b is now the oldest */
    cr_assert (segq__cache_has (cache, ha, 100));
    segq__layout_t layout;
    segq__cache_layout_begin (cache, hb, &layout);
    cr_assert_eq (segq__cache_layout (cache, &layout, job, "b.txt", err, sizeof err), 0, "%s", err);
    usleep (20000);
    s_cache_put (cache, c, hc); /* 300 bytes > 250: one must go */
    cr_assert (segq__cache_has (cache, ha, 100));
    cr_assert (segq__cache_has (cache, hc, 100));
    cr_assert_not (segq__cache_has (cache, hb, 100));
    /* the job that holds b keeps it */
    snprintf (path, sizeof path, "%s/b.txt", job);
    char got [65];
    cr_assert_eq (segq_sha256_file (path, got), 0);
    cr_assert_str_eq (got, hb);
    segq__cache_destroy (&cache);

    /* a smaller limit at start trims what an earlier run left */
    cache = segq__cache_new (cache_dir, 150, err, sizeof err);
    cr_assert_not_null (cache, "%s", err);
    cr_assert_not (segq__cache_has (cache, ha, 100) && segq__cache_has (cache, hc, 100));
    segq__cache_destroy (&cache);
}

/* link(2) on a filesystem whose files take at most S_MAX_LINKS links, as
   ext4's take 65,000: a layout meets EMLINK without making 65,000. */
#define S_MAX_LINKS 4

static int
s_link_few (const char *from, const char *to)
{
    struct stat st;
    if (stat (from, &st) != 0)
        return -1;
    if (st.st_nlink >= S_MAX_LINKS) {
        errno = EMLINK;
        return -1;
    }
    return link (from, to);
}

/* link(2) where the job's directory takes no hard links at all. */
static int
s_link_never (const char *from, const char *to)
{
    errno = EPERM;
    return -1;
}

/* A new cache holding text; its hash into hash. */
static segq__cache_t *
s_cache_with (const char *text, char hash [SEGQ_HASH_HEX_LEN + 1])
{
    char err [400], cache_dir [512];
    snprintf (cache_dir, sizeof cache_dir, "%s/cache", s_dir);
    segq__cache_t *cache = segq__cache_new (cache_dir, 0, err, sizeof err);
    cr_assert_not_null (cache, "%s", err);
    s_cache_put (cache, text, hash);
    return cache;
}

/* One content under many names, at its filesystem's most links: a copy
   when a link fails, and the names after it link to that copy (one copy
   per S_MAX_LINKS names, never one per name). */
Test (cache, names_past_the_most_links_link_to_one_copy)
{
    char err [400], job [512], hash [SEGQ_HASH_HEX_LEN + 1];
    const char *text = "one content, many names\n";
    segq__cache_t *cache = s_cache_with (text, hash);
    segq__cache_set_link (cache, s_link_few);
    snprintf (job, sizeof job, "%s/job", s_dir);
    enum { N = 40 };
    segq__layout_t layout;
    segq__cache_layout_begin (cache, hash, &layout);
    ino_t inodes [N];
    size_t n_inodes = 0;
    for (int i = 0; i < N; i++) {
        char name [32], path [1024], got [SEGQ_HASH_HEX_LEN + 1];
        snprintf (name, sizeof name, "files/n%02d", i);
        cr_assert_eq (segq__cache_layout (cache, &layout, job, name, err, sizeof err), 0, "%s: %s",
                      name, err);
        snprintf (path, sizeof path, "%s/%s", job, name);
        cr_assert_eq (segq_sha256_file (path, got), 0);
        cr_assert_str_eq (got, hash, "%s", name);
        struct stat st;
        cr_assert_eq (stat (path, &st), 0);
        bool seen = false;
        for (size_t k = 0; k < n_inodes && !seen; k++)
            seen = inodes [k] == st.st_ino;
        if (!seen)
            inodes [n_inodes++] = st.st_ino;
    }
    /* the cached file takes 3 names (its own link is the 4th), each copy 4 */
    unsigned copies = (N - (S_MAX_LINKS - 1) + S_MAX_LINKS - 1) / S_MAX_LINKS;
    cr_assert_eq (layout.copies, copies, "%u copies for %d names", layout.copies, N);
    cr_assert_eq (n_inodes, copies + 1, "%zu files for %d names", n_inodes, N);
    segq__cache_destroy (&cache);
}

/* Where no name can be linked, each is a copy, and a content named more
   often than the most copies is refused, saying why and what to do. */
Test (cache, copies_of_one_content_are_bounded)
{
    char err [400], job [512], hash [SEGQ_HASH_HEX_LEN + 1];
    segq__cache_t *cache = s_cache_with ("copied\n", hash);
    segq__cache_set_link (cache, s_link_never);
    snprintf (job, sizeof job, "%s/job", s_dir);
    segq__layout_t layout;
    segq__cache_layout_begin (cache, hash, &layout);
    char name [32];
    for (int i = 0; i < SEGQ__LAYOUT_MAX_COPIES; i++) {
        snprintf (name, sizeof name, "files/n%02d", i);
        cr_assert_eq (segq__cache_layout (cache, &layout, job, name, err, sizeof err), 0, "%s",
                      err);
    }
    snprintf (name, sizeof name, "files/n%02d", SEGQ__LAYOUT_MAX_COPIES);
    cr_assert_eq (segq__cache_layout (cache, &layout, job, name, err, sizeof err), SEGQ_ETOOBIG);
    cr_assert (strstr (err, name) && strstr (err, "copies") && strstr (err, "--work-dir"), "%s",
               err);
    char path [1024];
    snprintf (path, sizeof path, "%s/%s", job, name);
    cr_assert_neq (access (path, F_OK), 0, "a refused name was laid out");
    /* the next content starts afresh */
    segq__cache_layout_begin (cache, hash, &layout);
    cr_assert_eq (segq__cache_layout (cache, &layout, job, "again", err, sizeof err), 0, "%s", err);
    segq__cache_destroy (&cache);
}
