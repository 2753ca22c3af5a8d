/* test_pair_writer.c: generate's PNG pairs on a thread pool, double
 * buffered. No torch: runs under ASan+UBSan with leak detection. */
#define _GNU_SOURCE
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "pair_writer.h"
#include "segq_error.h"
#include "segq_image.h"

#define W 7
#define H 5
#define BATCH 3

static void make_dirs(char *dir, size_t len)
{
    const char *tmp = getenv("TMPDIR");
    snprintf(dir, len, "%s/pair_writer_XXXXXX", tmp ? tmp : "/tmp");
    cr_assert_not_null(mkdtemp(dir));
    char sub[600];
    snprintf(sub, sizeof sub, "%s/images", dir);
    cr_assert_eq(mkdir(sub, 0755), 0);
    snprintf(sub, sizeof sub, "%s/masks", dir);
    cr_assert_eq(mkdir(sub, 0755), 0);
}

/* Pair i's planes: a gradient per sample, the mask a column band. */
static void fill_pair(float *p, int i)
{
    for (int c = 0; c < 3; c++)
        for (int k = 0; k < W * H; k++)
            p[c * W * H + k] = (float)((k * 3 + c * 17 + i * 29) % 101) / 100.0f;
    for (int k = 0; k < W * H; k++)
        p[3 * W * H + k] = (k % W) >= i % W ? 1.0f : 0.0f;
}

static void fill_batch(segq_pair_writer_t *pw, int first, int n)
{
    float *buf = segq_pair_writer_buffer(pw);
    char name[32];
    for (int k = 0; k < n; k++) {
        fill_pair(buf + (size_t)k * 4 * W * H, first + k);
        snprintf(name, sizeof name, "p%d", first + k);
        cr_assert_eq(segq_pair_writer_name(pw, k, name), 0);
    }
}

static int files_equal(const char *a, const char *b)
{
    char cmd[1400];
    snprintf(cmd, sizeof cmd, "cmp -s '%s' '%s'", a, b);
    return system(cmd) == 0;
}

/* Pair i as written by the pool equals a serial segq_pair_write_png. */
static void expect_pair(const char *dir, int i)
{
    float p[4 * W * H];
    fill_pair(p, i);
    char img[600], msk[600], ref_img[600], ref_msk[600], err[1024];
    snprintf(img, sizeof img, "%s/images/p%d.png", dir, i);
    snprintf(msk, sizeof msk, "%s/masks/p%d.png", dir, i);
    snprintf(ref_img, sizeof ref_img, "%s/ref_img.png", dir);
    snprintf(ref_msk, sizeof ref_msk, "%s/ref_msk.png", dir);
    cr_assert_eq(segq_pair_write_png(p, W, H, ref_img, ref_msk, err, sizeof err), 0, "%s", err);
    cr_expect(files_equal(img, ref_img), "pair %d: image differs", i);
    cr_expect(files_equal(msk, ref_msk), "pair %d: mask differs", i);
    segq_image_t *m = NULL;
    cr_assert_eq(segq_image_read_file(msk, NULL, &m, err, sizeof err), 0, "%s", err);
    cr_expect(m->channels == 1 && m->width == W && m->height == H);
    segq_image_destroy(&m);
}

Test(pair_writer, batches_while_the_next_fills, .timeout = 30)
{
    char dir[512], err[1024];
    make_dirs(dir, sizeof dir);
    segq_pair_writer_t *pw = segq_pair_writer_new(dir, 2, BATCH, W, H, err, sizeof err);
    cr_assert_not_null(pw, "%s", err);
    int64_t written = -1;
    fill_batch(pw, 0, BATCH);
    cr_assert_eq(segq_pair_writer_submit(pw, BATCH), 0);
    /* the other slot fills while the first batch is written */
    fill_batch(pw, BATCH, 2);
    cr_expect_eq(segq_pair_writer_submit(pw, 2), SEGQ_EINTERNAL, "one batch in flight only");
    cr_assert_eq(segq_pair_writer_wait(pw, &written, err, sizeof err), 0, "%s", err);
    cr_expect_eq(written, BATCH);
    cr_assert_eq(segq_pair_writer_submit(pw, 2), 0);
    cr_assert_eq(segq_pair_writer_wait(pw, &written, err, sizeof err), 0, "%s", err);
    cr_expect_eq(written, 2);
    cr_expect_eq(segq_pair_writer_wait(pw, &written, err, sizeof err), 0, "nothing in flight");
    cr_expect_eq(written, 0);
    segq_pair_writer_destroy(&pw);
    cr_expect_null(pw);
    for (int i = 0; i < BATCH + 2; i++)
        expect_pair(dir, i);
    char cmd[600];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    cr_expect_eq(system(cmd), 0);
}

/* Pair 1's image path is a folder: the error names it, pair 0 is listed
 * as written, and nothing leaks (ASan). */
Test(pair_writer, failing_pair_is_named, .timeout = 30)
{
    char dir[512], bad[600], err[1024] = "";
    make_dirs(dir, sizeof dir);
    snprintf(bad, sizeof bad, "%s/images/p1.png", dir);
    cr_assert_eq(mkdir(bad, 0755), 0);
    segq_pair_writer_t *pw = segq_pair_writer_new(dir, 1, BATCH, W, H, err, sizeof err);
    cr_assert_not_null(pw, "%s", err);
    fill_batch(pw, 0, BATCH);
    cr_assert_eq(segq_pair_writer_submit(pw, BATCH), 0);
    int64_t written = -1;
    int rc = segq_pair_writer_wait(pw, &written, err, sizeof err);
    cr_expect_neq(rc, 0);
    cr_expect_eq(written, 1);
    cr_expect_not_null(strstr(err, bad), "%s", err);
    segq_pair_writer_destroy(&pw);
    char cmd[600];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    cr_expect_eq(system(cmd), 0);
}

/* A folder without images/: every pair fails, the first is reported. */
Test(pair_writer, missing_folder_is_named, .timeout = 30)
{
    char dir[512], err[1024] = "";
    const char *tmp = getenv("TMPDIR");
    snprintf(dir, sizeof dir, "%s/pair_writer_XXXXXX", tmp ? tmp : "/tmp");
    cr_assert_not_null(mkdtemp(dir));
    segq_pair_writer_t *pw = segq_pair_writer_new(dir, 3, BATCH, W, H, err, sizeof err);
    cr_assert_not_null(pw, "%s", err);
    fill_batch(pw, 0, BATCH);
    cr_assert_eq(segq_pair_writer_submit(pw, BATCH), 0);
    int64_t written = -1;
    cr_expect_neq(segq_pair_writer_wait(pw, &written, err, sizeof err), 0);
    cr_expect_eq(written, 0);
    char want[600];
    snprintf(want, sizeof want, "%s/images/p0.png", dir);
    cr_expect_not_null(strstr(err, want), "%s", err);
    segq_pair_writer_destroy(&pw);
    cr_expect_eq(rmdir(dir), 0);
}

/* Destroy with a batch in flight waits for it: the files are there. */
Test(pair_writer, destroy_waits_for_the_batch, .timeout = 30)
{
    char dir[512], err[1024];
    make_dirs(dir, sizeof dir);
    segq_pair_writer_t *pw = segq_pair_writer_new(dir, 8, BATCH, W, H, err, sizeof err);
    cr_assert_not_null(pw, "%s", err);
    fill_batch(pw, 0, BATCH);
    cr_assert_eq(segq_pair_writer_submit(pw, BATCH), 0);
    segq_pair_writer_destroy(&pw);
    segq_pair_writer_destroy(&pw); /* NULL: a no-op */
    for (int i = 0; i < BATCH; i++)
        expect_pair(dir, i);
    char cmd[600];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    cr_expect_eq(system(cmd), 0);
}

Test(pair_writer, bad_arguments, .timeout = 10)
{
    char err[1024] = "";
    cr_expect_null(segq_pair_writer_new("/tmp", 2, 0, W, H, err, sizeof err));
    cr_expect_not_null(strstr(err, "size"), "%s", err);
    cr_expect_null(segq_pair_writer_new("/tmp", 2, INT64_MAX, 65535, 65535, err, sizeof err));
    segq_pair_writer_t *pw = segq_pair_writer_new("/tmp", 0, 2, W, H, err, sizeof err);
    cr_assert_not_null(pw, "%s", err);
    char longname[SEGQ_PAIR_NAME_MAX + 1];
    memset(longname, 'a', sizeof longname - 1);
    longname[sizeof longname - 1] = '\0';
    cr_expect_eq(segq_pair_writer_name(pw, 0, longname), SEGQ_EINTERNAL);
    cr_expect_eq(segq_pair_writer_name(pw, 2, "x"), SEGQ_EINTERNAL);
    cr_expect_eq(segq_pair_writer_submit(pw, 3), SEGQ_EINTERNAL);
    cr_expect_eq(segq_pair_writer_submit(pw, 0), SEGQ_EINTERNAL);
    segq_pair_writer_destroy(&pw);
}
