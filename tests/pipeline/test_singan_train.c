/* segq-run train / generate end to end on tiny configurations: a generated
 * fixture and a real Kvasir-SEG pair; reproducibility, --resume after a
 * kill, the checkpoint round trip, the progress channel. */
#include <criterion/criterion.h>

#include <jansson.h>
#include <math.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "pipeline_test_util.h"
#include "contact_sheet.h"
#include "segq_image.h"
#include "segq_sha256.h"
#include "singan_internal.h"
#include "stylize_manifest.h"

#define TINY "--max-size 32 --threads 1 --previews 1"

/* A 48x40 image (colour ramps) with a disc as the mask. */
static void write_fixture(const char *dir)
{
    segq_image_t *img = segq_image_new(48, 40, 3, 8), *mask = segq_image_new(48, 40, 1, 8);
    cr_assert(img && mask);
    uint8_t *p = img->data, *m = mask->data;
    for (int y = 0; y < 40; y++)
        for (int x = 0; x < 48; x++) {
            int i = y * 48 + x, in = (x - 20) * (x - 20) + (y - 22) * (y - 22) < 100;
            p[3 * i] = (uint8_t)(x * 5);
            p[3 * i + 1] = (uint8_t)(y * 6);
            p[3 * i + 2] = in ? 220 : 40;
            m[i] = in ? 255 : 0;
        }
    char path[600], err[SEGQ_IMAGE_ERRLEN];
    snprintf(path, sizeof path, "%s/fix.png", dir);
    cr_assert_eq(segq_image_write_png(img, path, err, sizeof err), 0, "%s", err);
    snprintf(path, sizeof path, "%s/fix-mask.png", dir);
    cr_assert_eq(segq_image_write_png(mask, path, err, sizeof err), 0, "%s", err);
    segq_image_destroy(&img);
    segq_image_destroy(&mask);
}

typedef struct {
    int rows, finite, scales;
    double first_rec, last_rec; /* finest scale: mean of the first / last 5 */
} losses_t;

static losses_t read_losses(const char *out)
{
    char path[700];
    snprintf(path, sizeof path, "%s/losses.csv", out);
    FILE *f = fopen(path, "r");
    cr_assert(f, "no %s", path);
    char line[512];
    cr_assert(fgets(line, sizeof line, f));
    losses_t L = {0, 1, 0, 0, 0};
    double rec[4096];
    int n = 0, top = -1;
    while (fgets(line, sizeof line, f)) {
        int scale;
        long it;
        double v[7];
        cr_assert_eq(sscanf(line, "%d,%ld,%lf,%lf,%lf,%lf,%lf,%lf,%lf", &scale, &it, &v[0], &v[1],
                            &v[2], &v[3], &v[4], &v[5], &v[6]),
                     9, "bad line %s", line);
        for (int k = 0; k < 7; k++)
            L.finite &= isfinite(v[k]);
        if (scale > top) {
            top = scale;
            n = 0;
        }
        if (n < 4096)
            rec[n++] = v[5];
        L.rows++;
    }
    fclose(f);
    L.scales = top + 1;
    cr_assert_geq(n, 10);
    for (int k = 0; k < 5; k++) {
        L.first_rec += rec[k] / 5;
        L.last_rec += rec[n - 1 - k] / 5;
    }
    return L;
}

static int train(const char *image, const char *mask, const char *out, const char *extra)
{
    return pt_sh("%s train --image %s --mask %s --out %s " TINY " %s >%s.log 2>&1", pt_segq_run(),
                 image, mask, out, extra, out);
}

/* A progress record's metric, -1 when it has none of that name. */
static double metric(json_t *record, const char *name)
{
    json_t *v = json_object_get(json_object_get(record, "metrics"), name);
    return json_is_number(v) ? json_number_value(v) : -1;
}

/* A generate output's manifest: a row per pair (fix_<model>_s<seed>_<k>,
 * k < rows), the model named by its catalogue id and name and its hash,
 * no file path of the machine (dir) anywhere, and the batch each pair was
 * made in. */
static void expect_manifest(const char *gen, const char *dir, const char *model, int seed, int rows,
                            const char *batch)
{
    char path[800], err[1024], hex[SEGQ_HASH_HEX_LEN + 1];
    snprintf(path, sizeof path, "%s/manifest.csv", gen);
    char *text = pt_read_file(path, NULL);
    cr_assert(text, "no %s", path);
    cr_expect_null(strstr(text, dir), "the manifest names a folder of the machine: %s", text);
    cr_expect_null(strstr(text, "safetensors"), "the manifest names the model's file: %s", text);
    free(text);
    cr_assert_eq(segq_sha256_file(model, hex), 0);
    segq_manifest_t *man = NULL;
    cr_assert_eq(segq_manifest_read(gen, &man, err, sizeof err), 0, "%s", err);
    cr_expect_eq(segq_manifest_rows(man), (size_t)rows);
    for (int k = 0; k < rows; k++) {
        char name[64];
        snprintf(name, sizeof name, "fix_%.8s_s%d_%05d", hex, seed, k);
        const char *src = segq_manifest_get(man, name, "source_image");
        cr_expect(src && strcmp(src, "fix.png") == 0, "%s: source_image %s", name, src);
        const char *id = segq_manifest_get(man, name, "model_id");
        cr_expect(id && strcmp(id, "m-000c") == 0, "%s: model_id %s", name, id);
        const char *mn = segq_manifest_get(man, name, "model_name");
        cr_expect(mn && strcmp(mn, "polyp \"one\", v2") == 0, "%s: model_name %s", name, mn);
        const char *sha = segq_manifest_get(man, name, "model_sha256");
        cr_expect(sha && strcmp(sha, hex) == 0, "%s: model_sha256 %s", name, sha);
        const char *b = segq_manifest_get(man, name, "batch");
        cr_expect(b && strcmp(b, batch) == 0, "%s: batch %s, expected %s", name, b, batch);
        cr_expect_null(segq_manifest_get(man, name, "model"), "a column 'model' is back");
    }
    segq_manifest_destroy(&man);
}

Test(train, fixture_trains_and_reconstruction_falls, .timeout = 240)
{
    char dir[512], img[600], msk[600], out[600], prog[700];
    pt_tempdir(dir, sizeof dir);
    write_fixture(dir);
    snprintf(img, sizeof img, "%s/fix.png", dir);
    snprintf(msk, sizeof msk, "%s/fix-mask.png", dir);
    snprintf(out, sizeof out, "%s/run", dir);
    snprintf(prog, sizeof prog, "%s/progress.jsonl", dir);
    cr_assert_eq(pt_sh("SEGQ_PROGRESS_FD=7 %s train --image %s --mask %s --out %s " TINY
                       " --niter 40 7>%s >%s.log 2>&1",
                       pt_segq_run(), img, msk, out, prog, out),
                 0, "segq-run train failed: see %s.log", out);
    losses_t L = read_losses(out);
    cr_expect(L.finite, "non-finite losses");
    cr_expect_geq(L.scales, 2);
    cr_expect_lt(L.last_rec, L.first_rec,
                 "finest-scale reconstruction loss did not fall: "
                 "%g -> %g",
                 L.first_rec, L.last_rec);
    char path[800];
    snprintf(path, sizeof path, "%s/preview/scale%02d_rec_mask.png", out, L.scales - 1);
    cr_expect_eq(access(path, R_OK), 0, "no %s", path);

    /* the progress channel: JSON lines, fraction rising to 1 */
    FILE *f = fopen(prog, "r");
    cr_assert(f);
    char line[4096];
    int lines = 0, checkpoints = 0, saved = 0;
    double last = -1;
    json_t *final = NULL;
    while (fgets(line, sizeof line, f)) {
        json_error_t je;
        json_t *o = json_loads(line, 0, &je);
        cr_assert(o, "not JSON: %s", line);
        json_t *fr = json_object_get(o, "fraction");
        if (fr) {
            cr_expect_geq(json_number_value(fr), last - 1e-12);
            last = json_number_value(fr);
        }
        /* a record is progress (with a phase) or a saved scale's checkpoint
           announcement, numbered by the scales finished so far */
        json_t *checkpoint = json_object_get(o, "checkpoint");
        if (checkpoint) {
            cr_expect_str_eq(json_string_value(checkpoint), "model.safetensors");
            cr_expect_eq(json_integer_value(json_object_get(o, "step")), ++checkpoints);
        } else {
            cr_expect(json_is_string(json_object_get(o, "phase")), "no phase: %s", line);
        }
        /* each saved scale counts the scales so far */
        const char *msg = json_string_value(json_object_get(o, "message"));
        if (msg && strcmp(msg, "scale saved") == 0)
            cr_expect_eq(metric(o, "scales"), ++saved, "%s", line);
        json_decref(final);
        final = o;
        lines++;
    }
    fclose(f);
    cr_expect_geq(lines, 2);
    cr_expect_eq(checkpoints, L.scales, "one checkpoint announcement per scale");
    cr_expect_float_eq(last, 1.0, 1e-9);
    /* the last record: the trained model's shape, which the broker records */
    segq_pyramid_t pyr;
    char err[SEGQ_IMAGE_ERRLEN];
    cr_assert_eq(segq_pyramid_plan(40, 48, 25, 32, 0.75, &pyr, err, sizeof err), 0, "%s", err);
    cr_expect_eq(metric(final, "scales"), L.scales);
    cr_expect_eq(metric(final, "scales_total"), pyr.stop_scale + 1);
    cr_expect_eq(metric(final, "height"), pyr.h[pyr.stop_scale]);
    cr_expect_eq(metric(final, "width"), pyr.w[pyr.stop_scale]);
    json_decref(final);

    /* generate: pairs in the Kvasir-SEG layout, binary masks, manifest */
    char gen[700];
    snprintf(gen, sizeof gen, "%s/gen", dir);
    cr_assert_eq(pt_sh("%s generate --model %s/model.safetensors --out %s --count 5 --batch 2 "
                       "--threads 1 --seed 3 --model-id m-000c --model-name 'polyp \"one\", v2' "
                       ">%s.log 2>&1",
                       pt_segq_run(), out, gen, gen),
                 0);
    snprintf(path, sizeof path, "%s/model.safetensors", out);
    expect_manifest(gen, dir, path, 3, 5, "2");
    /* the batch, chosen from the CPU's memory, is said in the log */
    cr_expect_eq(pt_sh("grep -q '^batch 2: up to [0-9]* samples of .* fit in the .* available "
                       "(.*), less 1/8 kept spare$' %s.log",
                       gen),
                 0, "no batch line in %s.log", gen);
    /* fewer pairs than --batch: the batch is the count, in the log and
       the manifest */
    char gen3[720];
    snprintf(gen3, sizeof gen3, "%s/gen3", dir);
    cr_assert_eq(pt_sh("%s generate --model %s --out %s --count 3 --batch 16 --threads 1 --seed 4 "
                       "--model-id m-000c --model-name 'polyp \"one\", v2' >%s.log 2>&1",
                       pt_segq_run(), path, gen3, gen3),
                 0);
    expect_manifest(gen3, dir, path, 4, 3, "3");
    cr_expect_eq(pt_sh("grep -q '^batch 16 -> 3: 3 samples in all (up to ' %s.log", gen3), 0,
                 "no batch line in %s.log", gen3);
    for (int k = 0; k < 5; k++) {
        segq_image_t *m = NULL;
        snprintf(path, sizeof path, "%s/masks/fix_", gen);
        /* NAME = fix_<model hash>_s3_0000k */
        cr_assert_eq(pt_sh("test $(ls %s/masks | grep -c '^fix_.*_s3_0000%d.png$') = 1", gen, k),
                     0);
        cr_assert_eq(pt_sh("cp %s/masks/fix_*_s3_0000%d.png %s/m.png", gen, k, dir), 0);
        snprintf(path, sizeof path, "%s/m.png", dir);
        cr_assert_eq(segq_image_read_file(path, NULL, &m, err, sizeof err), 0, "%s", err);
        cr_expect_eq(m->channels, 1);
        const uint8_t *d = m->data;
        for (size_t i = 0; i < (size_t)m->width * m->height; i++)
            cr_assert(d[i] == 0 || d[i] == 255, "mask value %d", d[i]);
        segq_image_destroy(&m);
    }
    /* the contact sheet: 5 samples in 3 x 2 cells of the generated size */
    segq_image_t *one = NULL, *sheet = NULL;
    cr_assert_eq(pt_sh("cp %s/images/fix_*_s3_00000.png %s/i.png", gen, dir), 0);
    snprintf(path, sizeof path, "%s/i.png", dir);
    cr_assert_eq(segq_image_read_file(path, NULL, &one, err, sizeof err), 0, "%s", err);
    snprintf(path, sizeof path, "%s/" SEGQ_CONTACT_SHEET_FILE, gen);
    cr_assert_eq(segq_image_read_file(path, NULL, &sheet, err, sizeof err), 0, "%s", err);
    uint32_t g = SEGQ_CONTACT_SHEET_GAP;
    cr_expect(sheet->channels == 3 && sheet->width == 3 * (one->width + g) + g
                  && sheet->height == 2 * (one->height + g) + g,
              "sheet %ux%u for 5 samples of %ux%u", sheet->width, sheet->height, one->width,
              one->height);
    segq_image_destroy(&one);
    segq_image_destroy(&sheet);
    pt_sh("rm -rf %s", dir);
}

Test(train, same_seed_same_checkpoint_bytes, .timeout = 240)
{
    char dir[512], img[600], msk[600], a[600], b[600], c[600];
    pt_tempdir(dir, sizeof dir);
    write_fixture(dir);
    snprintf(img, sizeof img, "%s/fix.png", dir);
    snprintf(msk, sizeof msk, "%s/fix-mask.png", dir);
    snprintf(a, sizeof a, "%s/a", dir);
    snprintf(b, sizeof b, "%s/b", dir);
    snprintf(c, sizeof c, "%s/c", dir);
    cr_assert_eq(train(img, msk, a, "--niter 8 --seed 5"), 0);
    cr_assert_eq(train(img, msk, b, "--niter 8 --seed 5"), 0);
    cr_assert_eq(train(img, msk, c, "--niter 8 --seed 6"), 0);
    char pa[700], pb[700], pc[700];
    snprintf(pa, sizeof pa, "%s/model.safetensors", a);
    snprintf(pb, sizeof pb, "%s/model.safetensors", b);
    snprintf(pc, sizeof pc, "%s/model.safetensors", c);
    cr_expect(pt_files_equal(pa, pb), "same seed, different checkpoints");
    cr_expect(!pt_files_equal(pa, pc), "different seeds, same checkpoint");
    pt_sh("rm -rf %s", dir);
}

Test(train, resume_after_kill_matches_an_uninterrupted_run, .timeout = 300)
{
    char dir[512], img[600], msk[600], full[600], cut[600], ck[700];
    pt_tempdir(dir, sizeof dir);
    write_fixture(dir);
    snprintf(img, sizeof img, "%s/fix.png", dir);
    snprintf(msk, sizeof msk, "%s/fix-mask.png", dir);
    snprintf(full, sizeof full, "%s/full", dir);
    snprintf(cut, sizeof cut, "%s/cut", dir);
    const char *args = "--niter 20 --seed 9 --max-size 40";
    cr_assert_eq(train(img, msk, full, args), 0);

    /* start the same training, kill it once the first scale is saved */
    snprintf(ck, sizeof ck, "%s/model.safetensors", cut);
    pid_t pid = fork();
    cr_assert_geq(pid, 0);
    if (pid == 0) {
        char cmd[4096];
        snprintf(cmd, sizeof cmd,
                 "exec %s train --image %s --mask %s --out %s " TINY " %s "
                 ">%s.log 2>&1",
                 pt_segq_run(), img, msk, cut, args, cut);
        execl("/bin/sh", "sh", "-c", cmd, (char *)NULL);
        _exit(127);
    }
    int waited = 0;
    struct stat sb;
    while (stat(ck, &sb) != 0 && waited < 2400) {
        usleep(50000);
        waited++;
    }
    kill(pid, SIGKILL);
    int st;
    waitpid(pid, &st, 0);
    cr_assert_eq(stat(ck, &sb), 0, "no checkpoint appeared before the kill");
    cr_expect(WIFSIGNALED(st), "training finished before it could be killed");

    char resumed[700];
    snprintf(resumed, sizeof resumed, "%s --resume", args);
    cr_assert_eq(train(img, msk, cut, resumed), 0, "resume failed: see %s.log", cut);
    char pf[700];
    snprintf(pf, sizeof pf, "%s/model.safetensors", full);
    cr_expect(pt_files_equal(pf, ck), "the resumed model differs from the uninterrupted one");
    /* the loss log holds every iteration of every scale exactly once */
    losses_t a = read_losses(full), b = read_losses(cut);
    cr_expect_eq(a.rows, b.rows);
    pt_sh("rm -rf %s", dir);
}

Test(train, real_kvasir_pair, .timeout = 240)
{
    char dir[512], img[700], msk[700], out[600];
    pt_tempdir(dir, sizeof dir);
    snprintf(img, sizeof img, "%s/kvasir-seg-orig/images/cju0qkwl35piu0993l0dewei2.jpg",
             pt_data_dir());
    snprintf(msk, sizeof msk, "%s/kvasir-seg-orig/masks/cju0qkwl35piu0993l0dewei2.jpg",
             pt_data_dir());
    cr_assert_eq(access(img, R_OK), 0, "shared data missing: %s (set SEGQ_DATA_DIR)", img);
    snprintf(out, sizeof out, "%s/run", dir);
    cr_assert_eq(train(img, msk, out, "--niter 40"), 0, "see %s.log", out);
    losses_t L = read_losses(out);
    cr_expect(L.finite);
    cr_expect_lt(L.last_rec, L.first_rec, "%g -> %g", L.first_rec, L.last_rec);
    pt_sh("rm -rf %s", dir);
}

/* A random model in memory, sampled, saved, loaded, sampled again with
 * the same seed: bit-identical. */
Test(checkpoint, generate_from_file_equals_in_memory, .timeout = 120)
{
    segqt_set_num_threads(1);
    segqt_manual_seed(11);
    segq_model_t m = {0};
    char err[1024];
    cr_assert_eq(segq_pyramid_plan(40, 48, 25, 32, 0.75, &m.pyr, err, sizeof err), 0, "%s", err);
    m.layers = 5;
    m.ker = 3;
    m.pad = 5;
    m.dev = SEGQT_CPU;
    int S = m.pyr.stop_scale + 1;
    cr_assert_geq(segqt_scope_begin(), 1);
    for (int n = 0; n < S; n++) {
        m.G[n] = segq__net_new(1, 8, 5, 3, SEGQT_CPU);
        m.D[n] = segq__net_new(0, 8, 5, 3, SEGQT_CPU);
        int64_t zs[4] = {1, 4, m.pyr.h[n] + 10, m.pyr.w[n] + 10};
        m.z_opt[n] = segqt_persist(segqt_randn(zs, 4, SEGQT_F32, SEGQT_CPU));
        m.noise_amp[n] = n == 0 ? 1.0 : 0.05 + 0.01 * n;
        cr_assert(m.G[n] && m.D[n] && m.z_opt[n]);
        /* as training leaves a finished scale (and loading makes it) */
        cr_assert_eq(segq__net_freeze(m.G[n]), 0, "%s", segqt_last_error());
        cr_assert_eq(segq__net_freeze(m.D[n]), 0, "%s", segqt_last_error());
    }
    m.trained = S;
    segq_ckpt_meta_t meta = {0};
    meta.params_json = strdup("{}");
    meta.image_name = strdup("x.png");
    meta.image_sha256 = strdup("00");
    meta.mask_name = strdup("m.png");
    meta.mask_sha256 = strdup("11");
    meta.precision = strdup("fp32");
    meta.orig_h = 40;
    meta.orig_w = 48;
    meta.nfc = 8;
    meta.nfc_max = 8;
    char dir[512], path[600];
    pt_tempdir(dir, sizeof dir);
    snprintf(path, sizeof path, "%s/model.safetensors", dir);
    cr_assert_eq(segq__ckpt_save(&m, &meta, 1, path, err, sizeof err), 0, "%s", err);

    float a[3][4 * 40 * 48], b[3][4 * 40 * 48];
    segq_model_t l;
    segq_ckpt_meta_t lm;
    cr_assert_eq(segq__ckpt_load(path, SEGQT_CPU, 0, &l, &lm, err, sizeof err), 0, "%s", err);
    cr_expect_eq(l.trained, S);
    cr_expect_str_eq(lm.image_name, "x.png");
    for (int pass = 0; pass < 2; pass++) {
        segq_model_t *mm = pass ? &l : &m;
        for (int start = 0; start < 3; start++) {
            segqt_manual_seed(99);
            segqt_tensor *prev = segq__prev(mm, S - 1, 2, start, 1, 1);
            segqt_tensor *x = segq__run_scale(mm, S - 1, prev, S - 1 >= start, 1, 1);
            cr_assert(x, "%s", segqt_last_error());
            size_t n = (size_t)segqt_numel(x);
            cr_assert_leq(n, sizeof a[0] / sizeof(float));
            cr_assert_eq(segqt_to_floats(x, pass ? b[start] : a[start], n), 0);
            if (pass)
                cr_expect_eq(memcmp(a[start], b[start], n * sizeof(float)), 0,
                             "gen_start_scale %d: file and memory differ", start);
        }
    }
    /* fresh noise differs from the reconstruction path */
    cr_expect_neq(memcmp(a[0], a[2], sizeof(float) * 16), 0);
    segqt_scope_end();
    segq__model_free(&m);
    segq__model_free(&l);
    segq__ckpt_meta_free(&meta);
    segq__ckpt_meta_free(&lm);
    pt_sh("rm -rf %s", dir);
    cr_expect_eq(segqt_live_tensors(), 0);
}

/* A checkpoint's errors are the project's codes, whichever library failed
 * (the safetensors reader and writer once had a space of their own, whose
 * -1 read as EPROTO). */
Test(checkpoint, errors_are_segq_codes, .timeout = 60)
{
    char dir[512], path[600], err[1024];
    pt_tempdir(dir, sizeof dir);
    segq_model_t m = {0}, l;
    segq_ckpt_meta_t meta = {0}, lm;
    snprintf(path, sizeof path, "%s/none.safetensors", dir);
    int rc = segq__ckpt_load(path, SEGQT_CPU, 0, &l, &lm, err, sizeof err);
    cr_assert_eq(rc, SEGQ_EIO, "%s: %s", segq_error_name(rc), err);

    snprintf(path, sizeof path, "%s/short.safetensors", dir);
    FILE *f = fopen(path, "wb");
    cr_assert(f && fwrite("\x40\0\0\0\0\0\0\0{", 1, 9, f) == 9 && fclose(f) == 0);
    rc = segq__ckpt_load(path, SEGQT_CPU, 0, &l, &lm, err, sizeof err);
    cr_assert_eq(rc, SEGQ_ECORRUPT, "%s: %s", segq_error_name(rc), err);

    cr_assert_eq(segq_pyramid_plan(40, 48, 25, 32, 0.75, &m.pyr, err, sizeof err), 0, "%s", err);
    snprintf(path, sizeof path, "%s/no-such-dir/model.safetensors", dir);
    rc = segq__ckpt_save(&m, &meta, 0, path, err, sizeof err);
    cr_assert_eq(rc, SEGQ_EIO, "%s: %s", segq_error_name(rc), err);
    cr_assert(strstr(err, "no-such-dir"), "%s", err);
    pt_sh("rm -rf %s", dir);
    cr_expect_eq(segqt_live_tensors(), 0);
}
