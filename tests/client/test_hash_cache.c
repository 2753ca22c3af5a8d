/*  test_hash_cache.c: the client's file of remembered sha256 (hash_cache.h):
    found only for the same stat, settled files only, garbage ignored,
    0600, and kept to its size. */
#include <criterion/criterion.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "hash_cache.h"

static char s_dir [256];
static char s_cache [300];
static const char *A = "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa";
static const char *B = "bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb";

static void
setup (void)
{
    snprintf (s_dir, sizeof s_dir, "/tmp/segq-hash-cache-XXXXXX");
    cr_assert_not_null (mkdtemp (s_dir));
    snprintf (s_cache, sizeof s_cache, "%s/sub/dir/hashes", s_dir);
}

static void
teardown (void)
{
    char cmd [300];
    snprintf (cmd, sizeof cmd, "rm -rf %s", s_dir);
    cr_assert_eq (system (cmd), 0);
}

TestSuite (hash_cache, .init = setup, .fini = teardown, .timeout = 30);

/* A stat as of a file last written long ago (fixed times: the same stat
   whenever it is made), or just now. */
static struct stat
s_stat (ino_t ino, off_t size, bool just_now)
{
    struct stat st;
    memset (&st, 0, sizeof st);
    st.st_dev = 7;
    st.st_ino = ino;
    st.st_size = size;
    st.st_mtim.tv_sec = 1700000000;
    st.st_mtim.tv_nsec = 123456789;
    if (just_now)
        clock_gettime (CLOCK_REALTIME, &st.st_mtim);
    st.st_ctim = st.st_mtim;
    return st;
}

Test (hash_cache, found_only_for_the_same_stat_and_across_opens)
{
    segq__hash_cache_t *c = segq__hash_cache_open (s_cache);
    cr_assert_not_null (c);
    struct stat st = s_stat (42, 1000, false);
    char hash [SEGQ_HASH_HEX_LEN + 1];
    cr_assert_not (segq__hash_cache_lookup (c, &st, hash), "an empty cache found something");
    segq__hash_cache_remember (c, &st, A);
    cr_assert (segq__hash_cache_lookup (c, &st, hash));
    cr_assert_str_eq (hash, A);
    segq__hash_cache_destroy (&c);
    cr_assert_null (c);

    c = segq__hash_cache_open (s_cache);
    cr_assert (segq__hash_cache_lookup (c, &st, hash), "not read back from the file");
    cr_assert_str_eq (hash, A);
    struct stat other = st;
    other.st_size++;
    cr_assert_not (segq__hash_cache_lookup (c, &other, hash), "another size matched");
    other = st;
    other.st_ino++;
    cr_assert_not (segq__hash_cache_lookup (c, &other, hash), "another inode matched");
    other = st;
    other.st_mtim.tv_nsec++;
    cr_assert_not (segq__hash_cache_lookup (c, &other, hash), "another mtime matched");
    other = st;
    other.st_ctim.tv_sec--;
    cr_assert_not (segq__hash_cache_lookup (c, &other, hash), "another ctime matched");
    /* the newest entry for a stat wins */
    segq__hash_cache_remember (c, &st, B);
    cr_assert (segq__hash_cache_lookup (c, &st, hash));
    cr_assert_str_eq (hash, B);
    segq__hash_cache_destroy (&c);

    struct stat fs;
    cr_assert_eq (stat (s_cache, &fs), 0);
    cr_assert_eq (fs.st_mode & 0777, 0600, "the cache file is %o", fs.st_mode & 0777);
    char parent [300];
    snprintf (parent, sizeof parent, "%s/sub/dir", s_dir);
    cr_assert_eq (stat (parent, &fs), 0);
    cr_assert_eq (fs.st_mode & 0777, 0700);
}

Test (hash_cache, fresh_files_and_bad_hashes_not_remembered)
{
    segq__hash_cache_t *c = segq__hash_cache_open (s_cache);
    char hash [SEGQ_HASH_HEX_LEN + 1];
    struct stat fresh = s_stat (1, 10, true);
    segq__hash_cache_remember (c, &fresh, A);
    cr_assert_not (segq__hash_cache_lookup (c, &fresh, hash),
                   "a file written just now was remembered");
    struct stat old = s_stat (2, 10, false);
    segq__hash_cache_remember (c, &old, "not-a-hash");
    segq__hash_cache_remember (c, &old,
                               "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA");
    cr_assert_not (segq__hash_cache_lookup (c, &old, hash));
    segq__hash_cache_destroy (&c);
    cr_assert_neq (access (s_cache, F_OK), 0, "nothing to remember, yet a file was written");
}

Test (hash_cache, garbage_lines_ignored)
{
    segq__hash_cache_t *c = segq__hash_cache_open (s_cache);
    struct stat st = s_stat (5, 77, false);
    segq__hash_cache_remember (c, &st, A);
    segq__hash_cache_destroy (&c);
    FILE *f = fopen (s_cache, "a");
    cr_assert_not_null (f);
    fputs ("garbage\n7 5 77 1 2\n\n7 5 77 1 2 3 4 zz\n", f);
    fputs ("7 6 77 1 2 3 4 aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa "
           "trailing\n",
           f);
    for (int i = 0; i < 700; i++)
        fputc ('x', f);    /* a line longer than a read */
    fputs ("\n7 5 77", f); /* cut short by a crash */
    fclose (f);
    c = segq__hash_cache_open (s_cache);
    cr_assert_not_null (c);
    char hash [SEGQ_HASH_HEX_LEN + 1];
    cr_assert (segq__hash_cache_lookup (c, &st, hash));
    cr_assert_str_eq (hash, A);
    struct stat six = s_stat (6, 77, false);
    six.st_mtim.tv_sec = 1;
    six.st_mtim.tv_nsec = 2;
    six.st_ctim.tv_sec = 3;
    six.st_ctim.tv_nsec = 4;
    cr_assert_not (segq__hash_cache_lookup (c, &six, hash), "a line with trailing text was taken");
    segq__hash_cache_destroy (&c);
}

Test (hash_cache, kept_to_its_size_newest_first)
{
    segq__hash_cache_t *c = segq__hash_cache_open (s_cache);
    for (int i = 0; i < SEGQ__HASH_CACHE_MAX_LINES + 10; i++) {
        struct stat st = s_stat ((ino_t) (1000 + i), 1, false);
        segq__hash_cache_remember (c, &st, i % 2 ? A : B);
    }
    segq__hash_cache_destroy (&c);
    c = segq__hash_cache_open (s_cache); /* over the bound: rewritten */
    segq__hash_cache_destroy (&c);
    FILE *f = fopen (s_cache, "r");
    cr_assert_not_null (f);
    int lines = 0, ch;
    while ((ch = fgetc (f)) != EOF)
        lines += ch == '\n';
    fclose (f);
    cr_assert_eq (lines, SEGQ__HASH_CACHE_MAX_LINES / 2);
    c = segq__hash_cache_open (s_cache);
    char hash [SEGQ_HASH_HEX_LEN + 1];
    struct stat newest = s_stat ((ino_t) (1000 + SEGQ__HASH_CACHE_MAX_LINES + 9), 1, false);
    struct stat oldest = s_stat (1000, 1, false);
    cr_assert (segq__hash_cache_lookup (c, &newest, hash), "the newest entry was dropped");
    cr_assert_not (segq__hash_cache_lookup (c, &oldest, hash), "the oldest entry was kept");
    segq__hash_cache_destroy (&c);
}

Test (hash_cache, default_path_from_the_environment)
{
    char p [512];
    setenv ("SEGQ_HASH_CACHE", "/x/h", 1);
    cr_assert_eq (segq__hash_cache_default_path (p, sizeof p), 0);
    cr_assert_str_eq (p, "/x/h");
    setenv ("SEGQ_HASH_CACHE", "off", 1);
    cr_assert_eq (segq__hash_cache_default_path (p, sizeof p), 0);
    cr_assert_str_eq (p, "");
    cr_assert_null (segq__hash_cache_open (p), "\"\" must mean no cache");
    unsetenv ("SEGQ_HASH_CACHE");
    setenv ("XDG_CACHE_HOME", "/c", 1);
    cr_assert_eq (segq__hash_cache_default_path (p, sizeof p), 0);
    cr_assert_str_eq (p, "/c/segq/hashes");
    unsetenv ("XDG_CACHE_HOME");
    setenv ("HOME", "/home/u", 1);
    cr_assert_eq (segq__hash_cache_default_path (p, sizeof p), 0);
    cr_assert_str_eq (p, "/home/u/.cache/segq/hashes");
}
