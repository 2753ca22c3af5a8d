/* bench/paper.sh and bench/paper_kfold.sh, the scripts that reproduce the
 * paper's findings, in their smoke configuration on real Kvasir-SEG pairs
 * (../shared/data): they run for hours at real sizes, so a change that
 * breaks them would otherwise show only then. The k-fold run reuses the
 * SinGANs of a paper.sh run, and no synthetic pair of a test pair trains. */
#include <criterion/criterion.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "pipeline_test_util.h"

static char dir[512];

static void setup(void)
{
    pt_tempdir(dir, sizeof dir);
    cr_assert(dir[0]);
}

static void teardown(void)
{
    pt_sh("rm -rf %s", dir);
}

/* Runs bench/SCRIPT smoke with ENV into dir/OUT; its exit status, its
 * output in dir/LOG. */
static int bench(const char *env, const char *script, const char *out, const char *log)
{
    return pt_sh("cd %s && env DATA=%s/kvasir-seg-256 THREADS=1 %s bash bench/%s smoke %s %s/%s "
                 ">%s/%s 2>&1",
                 SEGQ_SOURCE_DIR, pt_data_dir(), env, script, SEGQ_BINARY_DIR, dir, out, dir, log);
}

static char *read_in_dir(const char *name)
{
    char path[700];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    char *text = pt_read_file(path, NULL);
    cr_assert(text, "no %s", path);
    return text;
}

static void expect_bench(int status, const char *env, const char *script, const char *out,
                         const char *needle)
{
    int st = bench(env, script, out, "bench.log");
    char *log = read_in_dir("bench.log");
    cr_expect_eq(st, status, "%s %s: exit %d, expected %d:\n%s", env, script, st, status, log);
    cr_expect(strstr(log, needle), "%s %s: no '%s' in:\n%s", env, script, needle, log);
    free(log);
}

static time_t modified(const char *name)
{
    char path[700];
    struct stat sb;
    snprintf(path, sizeof path, "%s/%s", dir, name);
    cr_assert_eq(stat(path, &sb), 0, "no %s", path);
    return sb.st_mtime;
}

/* Every test pair of the k-fold run once per training set, and each
 * singan fold trained on no synthetic pair of its test pairs: the smoke
 * configuration draws 4 per SinGAN, so of 20 pairs a fold of T test pairs
 * leaves out 4 T and trains on the rest (less its validation pairs). */
static void expect_folds(const char *metrics_csv, const char *per_image_csv)
{
    char *metrics = read_in_dir(metrics_csv), *per_image = read_in_dir(per_image_csv);
    int folds = 0, tested = 0;
    for (char *line = strtok(metrics, "\n"); line; line = strtok(NULL, "\n")) {
        char set[32];
        int fold, train, val, real, synthetic, excluded;
        if (sscanf(line, "%31[^,],%d,%d,%d,%d,%d,%d", set, &fold, &train, &val, &real, &synthetic,
                   &excluded)
                != 7
            || strcmp(set, "singan") != 0)
            continue;
        folds++;
        cr_expect_eq(real, 0, "singan fold %d trained on %d real pairs", fold, real);
        cr_expect_eq(synthetic + excluded, 20, "fold %d: %d + %d synthetic pairs, not 20", fold,
                     synthetic, excluded);
        cr_expect_eq(excluded % 4, 0, "fold %d left out %d synthetic pairs", fold, excluded);
        tested += excluded / 4;
    }
    cr_expect_eq(folds, 2, "%d singan folds, expected 2", folds);
    cr_expect_eq(tested, 5, "the folds left out the pairs of %d test pairs, not of all 5", tested);
    int rows = 0;
    for (char *line = strtok(per_image, "\n"); line; line = strtok(NULL, "\n"))
        rows += strncmp(line, "singan,", 7) == 0;
    cr_expect_eq(rows, 5, "%d singan test rows in per_image.csv, expected each of 5 pairs once",
                 rows);
    free(metrics);
    free(per_image);
}

Test(paper_bench, kfold_reuses_a_picks_singans_and_keeps_each_test_pairs_out, .init = setup,
     .fini = teardown, .timeout = 900)
{
    expect_bench(0, "SEED=0 UNETS=1", "paper.sh", "kfold/pick-0", "| real+singan |");
    char *table = read_in_dir("kfold/pick-0/paper.md");
    cr_expect(strstr(table, "| real 5x epochs |"), "no control row in:\n%s", table);
    free(table);
    time_t trained = modified("kfold/pick-0/models/0/model.safetensors");

    expect_bench(0, "PICKS=1 FOLDS=2 UNETS=1", "paper_kfold.sh", "kfold", "| singan |");
    cr_expect_eq(modified("kfold/pick-0/models/0/model.safetensors"), trained,
                 "the k-fold run trained pick 0's SinGAN again");
    expect_folds("kfold/evaluation/seed-0/metrics.csv", "kfold/evaluation/seed-0/per_image.csv");
    table = read_in_dir("kfold/paper.md");
    cr_expect(strstr(table, "on 2 folds") && strstr(table, "| real 5x epochs |"), "%s", table);
    free(table);
    /* the control trained on the folds the sets did */
    cr_expect_eq(pt_sh("cd %s/kfold/evaluation && for run in seed-0 longer-0; do grep '^real,' "
                       "$run/per_image.csv | cut -d, -f2,3 | sort >$run.folds; done && "
                       "cmp seed-0.folds longer-0.folds",
                       dir),
                 0, "the control's folds are not the training sets'");

    /* starting over keeps the pick's SinGANs: they are paper.sh's */
    expect_bench(0, "PICKS=1 FOLDS=3 UNETS=0 FRESH=1", "paper_kfold.sh", "kfold", "3 folds");
    cr_expect_eq(modified("kfold/pick-0/models/0/model.safetensors"), trained,
                 "a fresh k-fold run trained pick 0's SinGAN again");
    cr_expect_eq(pt_sh("test ! -e %s/kfold/evaluation", dir), 0, "a fresh run kept the evaluation");
}

Test(paper_bench, bad_settings_are_refused_before_any_work, .init = setup, .fini = teardown)
{
    expect_bench(2, "FOLDS=1", "paper_kfold.sh", "kfold", "FOLDS=1: 2 to 15 folds");
    expect_bench(2, "UNETS=-1", "paper.sh", "pick", "UNETS=-1: a number of UNet++ seeds");
    pt_sh("mkdir -p %s/pick && echo 'config=smoke seed=9' >%s/pick/setting", dir, dir);
    expect_bench(2, "SEED=0", "paper.sh", "pick", "holds another run (config=smoke seed=9)");
    char *setting = read_in_dir("pick/setting");
    cr_expect_str_eq(setting, "config=smoke seed=9\n", "the refused run changed the folder");
    free(setting);
    pt_sh("mkdir -p %s/mine && touch %s/mine/notes.txt", dir, dir);
    expect_bench(2, "PICKS=1", "paper_kfold.sh", "mine", "not a run of paper_kfold.sh");
    cr_expect_eq(pt_sh("test \"$(ls %s/mine)\" = notes.txt", dir), 0,
                 "the refused run wrote there");
}
