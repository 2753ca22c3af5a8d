/* segq-run's answers to bad input: a clear message and a non-zero exit,
 * never a crash; and its small commands (devices, --help). */
#include "image_fixtures.h" /* first: it sets the feature macros */

#include <criterion/criterion.h>
#include <time.h>

#include <jansson.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <signal.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "pipeline_test_util.h"
#include "segq_image.h"
#include "stylize_manifest.h"

static char dir[512];

static void setup(void)
{
    pt_tempdir(dir, sizeof dir);
    cr_assert(dir[0]);
    segq_image_t *img = segq_image_new(48, 40, 3, 8), *mask = segq_image_new(48, 40, 1, 8),
                 *other = segq_image_new(30, 40, 1, 8), *tiny = segq_image_new(12, 10, 3, 8);
    cr_assert(img && mask && other && tiny);
    memset(img->data, 90, segq_image_size(img));
    memset(mask->data, 0, segq_image_size(mask)); /* empty mask */
    char p[700], err[SEGQ_IMAGE_ERRLEN];
    snprintf(p, sizeof p, "%s/img.png", dir);
    cr_assert_eq(segq_image_write_png(img, p, err, sizeof err), 0, "%s", err);
    snprintf(p, sizeof p, "%s/empty-mask.png", dir);
    cr_assert_eq(segq_image_write_png(mask, p, err, sizeof err), 0, "%s", err);
    memset(mask->data, 1, segq_image_size(mask) / 2); /* a 0/1 label mask */
    snprintf(p, sizeof p, "%s/label-mask.png", dir);
    cr_assert_eq(segq_image_write_png(mask, p, err, sizeof err), 0, "%s", err);
    snprintf(p, sizeof p, "%s/narrow-mask.png", dir);
    cr_assert_eq(segq_image_write_png(other, p, err, sizeof err), 0, "%s", err);
    snprintf(p, sizeof p, "%s/tiny.png", dir);
    cr_assert_eq(segq_image_write_png(tiny, p, err, sizeof err), 0, "%s", err);
    segq_image_destroy(&img);
    segq_image_destroy(&mask);
    segq_image_destroy(&other);
    segq_image_destroy(&tiny);
    pt_sh("echo 'not an image' > %s/text.png", dir);
}

static void teardown(void)
{
    pt_sh("rm -rf %s", dir);
}

/* Runs segq-run ARGS (relative paths under dir), expects the exit status
 * and every needle in its output. */
static void expect_run(int status, const char *args, const char *needle, const char *needle2)
{
    char log[700];
    snprintf(log, sizeof log, "%s/out.log", dir);
    int st = pt_sh("cd %s && %s %s >%s 2>&1", dir, pt_segq_run(), args, log);
    char *out = pt_read_file(log, NULL);
    cr_assert(out);
    cr_expect_eq(st, status, "segq-run %s: exit %d, expected %d; output:\n%s", args, st, status,
                 out);
    cr_expect(strstr(out, needle), "segq-run %s: no '%s' in:\n%s", args, needle, out);
    if (needle2)
        cr_expect(strstr(out, needle2), "segq-run %s: no '%s' in:\n%s", args, needle2, out);
    free(out);
}

TestSuite(segq_run_errors, .init = setup, .fini = teardown, .timeout = 120);

Test(segq_run_errors, missing_image_file)
{
    expect_run(1, "train --image nope.jpg --mask img.png --out o --threads 1", "nope.jpg", NULL);
}

Test(segq_run_errors, not_an_image)
{
    expect_run(1, "train --image text.png --mask img.png --out o --threads 1", "text.png", NULL);
}

Test(segq_run_errors, image_mask_size_mismatch)
{
    expect_run(1, "train --image img.png --mask narrow-mask.png --out o --threads 1",
               "narrow-mask.png", "48");
}

Test(segq_run_errors, image_too_small_for_min_size)
{
    /* not resized: only a larger image helps, not --max-size */
    expect_run(1, "train --image tiny.png --mask tiny.png --out o --threads 1",
               "a 12x10 image is not larger than min_size 25", "give a larger image");
}

/* A network deeper than the coarsest scale is wide: the rule's words
 * (segq_param_rules.h), not the convolution's. */
Test(segq_run_errors, network_deeper_than_the_coarsest_scale)
{
    expect_run(1, "train --image img.png --mask img.png --out o --threads 1 --num-layer 20",
               "num_layer 20 of ker_size 3", "min_size to 41");
}

/* A 1 MB PNG pair declaring 16384x16384 (768 MiB decoded, gigabytes once
 * in floats) for a run that needs 32 pixels a side: refused from the
 * headers at once, naming the file, its size and the limit. */
Test(segq_run_errors, huge_declared_png_refused_up_front)
{
    char p[700];
    snprintf(p, sizeof p, "%s/huge.png", dir);
    fx_solid_png(p, 16384);
    time_t started = time(NULL);
    expect_run(1, "train --image huge.png --mask huge.png --out o --max-size 32 --threads 1",
               "huge.png: declared size 16384x16384", "16777216 pixels");
    cr_expect_lt(time(NULL) - started, 10, "refused after %lld s",
                 (long long)(time(NULL) - started));
}

/* Rules between flags are the command line's: exit 2, as segq-run(1) says. */
Test(segq_run_errors, no_mask_given)
{
    expect_run(2, "train --image img.png --out o --threads 1", "--mask is required", NULL);
}

Test(segq_run_errors, mask_from_alpha_without_alpha)
{
    expect_run(1, "train --image img.png --mask-from-alpha --out o --threads 1", "img.png", NULL);
    /* both: said once, under the command's name only */
    expect_run(2,
               "train --image img.png --mask empty-mask.png --mask-from-alpha --out o --threads 1",
               "segq-run train: give either --mask or --mask-from-alpha, not both", NULL);
}

Test(segq_run_errors, empty_mask_warns_and_trains)
{
    expect_run(0,
               "train --image img.png --mask empty-mask.png --out o --threads 1 "
               "--max-size 32 --niter 2 --previews 0",
               "the mask empty-mask.png is empty", NULL);
}

/* A 0/1 label mask binarised at > 127 would be all background: refused,
 * naming the mask, its largest value, the rule and the fix, in train and
 * in each pair of an evaluate set. */
Test(segq_run_errors, label_mask_of_zeros_and_ones_is_refused)
{
    expect_run(1,
               "train --image img.png --mask label-mask.png --out o --threads 1 "
               "--max-size 32 --niter 1 --previews 0",
               "label-mask.png: the mask's largest value is 1",
               "binarised at > 127; scale it to 0/255 (a 0/1 mask times 255)");
    cr_expect_eq(pt_sh("test ! -e %s/o", dir), 0, "train wrote before the refusal");
    pt_sh("cd %s && mkdir -p ds/images ds/masks && cp img.png ds/images/a.png && "
          "cp img.png ds/images/b.png && cp empty-mask.png ds/masks/a.png && "
          "cp label-mask.png ds/masks/b.png",
          dir);
    expect_run(1,
               "evaluate --real ds --out e --folds 2 --epochs 1 --size 32 --depth 2 --width 4 "
               "--threads 1",
               "ds/masks/b.png: the mask's largest value is 1", "binarised at > 127");
}

Test(segq_run_errors, unknown_flag_and_bad_values)
{
    expect_run(2, "train --image img.png --mask img.png --out o --nitre 5", "unknown flag",
               "--nitre");
    expect_run(2, "train --image img.png --mask img.png --out o --niter abc", "--niter", "'abc'");
    expect_run(2, "train --image img.png --mask img.png --out o --scale-factor 1.5",
               "--scale-factor", NULL);
    expect_run(2, "train --image img.png --mask img.png --out o --precision fp8", "fp32|bf16",
               NULL);
    expect_run(2, "train --image img.png --mask img.png", "--out is required", NULL);
    expect_run(2, "frobnicate", "unknown command", NULL);
}

/* A device this machine lacks is the run's failure (1); one misspelt is the
 * command line's (2), in every command that computes. */
Test(segq_run_errors, device_not_available)
{
    expect_run(1, "train --image img.png --mask img.png --out o --device cuda:7", "cuda:7", NULL);
    expect_run(2, "train --image img.png --mask img.png --out o --device tpu", "--device tpu",
               "expected cpu, cuda or cuda:N");
    expect_run(2, "generate --model m.safetensors --out g --device gpu", "--device gpu", NULL);
    expect_run(2, "stylize --content c --vgg19 v --out s --device gpu", "--device gpu", NULL);
    expect_run(2, "evaluate --real r --out e --device gpu", "--device gpu", NULL);
}

Test(segq_run_errors, generate_from_bad_checkpoints)
{
    expect_run(1, "generate --model missing.safetensors --out g", "missing.safetensors", NULL);
    expect_run(1, "generate --model img.png --out g", "img.png", NULL);
    /* a real checkpoint, then cut short */
    expect_run(0,
               "train --image img.png --mask empty-mask.png --out o --threads 1 "
               "--max-size 32 --niter 1 --previews 0",
               "scale", NULL);
    pt_sh("head -c 3000 %s/o/model.safetensors > %s/cut.safetensors", dir, dir);
    expect_run(1, "generate --model cut.safetensors --out g", "cut.safetensors", NULL);
    expect_run(1, "generate --model o/model.safetensors --out g --gen-start-scale 9",
               "--gen-start-scale", NULL);
    /* appending to a manifest of other columns (an older generate's) */
    pt_sh("mkdir -p %s/old && printf 'name,image,mask,model\\n' > %s/old/manifest.csv", dir, dir);
    expect_run(1, "generate --model o/model.safetensors --out old --count 1 --threads 1",
               "old/manifest.csv has other columns", "another --out");
    /* SEGQ_GPU_MEM declares a GPU's memory: on the CPU the batch fits the
       CPU's own */
    cr_expect_eq(pt_sh("cd %s && SEGQ_GPU_MEM=1000 %s generate --model o/model.safetensors "
                       "--out g2 --count 2 --threads 1 >g2.log 2>&1 && grep -q '^batch 16 -> 2: "
                       "2 samples in all (up to [0-9]* samples of .* fit in the .* available (' g2.log",
                       dir, pt_segq_run()),
                 0);
    /* resuming with another image is refused */
    pt_sh("cp %s/img.png %s/img2.png && printf x >> %s/img2.png", dir, dir, dir);
    expect_run(1,
               "train --image img2.png --mask empty-mask.png --out o --threads 1 "
               "--max-size 32 --niter 1 --resume",
               "another image", NULL);
    /* ... and with other parameters, naming the one that differs */
    expect_run(1,
               "train --image img.png --mask empty-mask.png --out o --threads 1 "
               "--max-size 32 --niter 2 --resume",
               "was trained with other parameters (niter 1, not 2)", NULL);
    /* a damaged checkpoint to resume from: refused, as generate refuses it */
    pt_sh("mkdir -p %s/d && printf garbage > %s/d/model.safetensors", dir, dir);
    expect_run(1,
               "train --image img.png --mask empty-mask.png --out d --threads 1 "
               "--max-size 32 --niter 1 --resume",
               "d/model.safetensors", NULL);
    pt_sh("cp %s/cut.safetensors %s/d/model.safetensors", dir, dir);
    expect_run(1,
               "train --image img.png --mask empty-mask.png --out d --threads 1 "
               "--max-size 32 --niter 1 --resume",
               "d/model.safetensors", NULL);
    /* graphs are for GPUs: asked for on the CPU, the same plain training */
    expect_run(0,
               "train --image img.png --mask empty-mask.png --out q --threads 1 "
               "--max-size 32 --niter 1 --previews 0 --cuda-graph on",
               "--cuda-graph on: no CUDA device", "scale 1/");
    expect_run(2, "train --image img.png --mask empty-mask.png --out q --cuda-graph maybe",
               "--cuda-graph", "auto|on|off");
    /* an unfinished training cannot be sampled */
    expect_run(0,
               "train --image img.png --mask empty-mask.png --out p --threads 1 "
               "--max-size 32 --niter 1 --previews 0 --stop-after-scale 0",
               "scale 1/", NULL);
    expect_run(1, "generate --model p/model.safetensors --out g", "--resume", NULL);
    /* under a worker, a count whose outputs' list would not fit the job's
     * RESULT message is refused before anything is made; the most that
     * fit is made, and its list fits as the worker counts it */
    setenv("SEGQ_RESULT_MAX_BYTES", "65536", 1);
    expect_run(1, "generate --model o/model.safetensors --out big --count 1000 --seed 7",
               "--count 1000: the list of its 2002 outputs would take", "at most 220 pairs");
    cr_expect_eq(pt_sh("test ! -e %s/big/images", dir), 0, "pairs made before the refusal");
    expect_run(0, "generate --model o/model.safetensors --out big --count 220 --seed 7 --threads 1",
               "220", NULL);
    unsetenv("SEGQ_RESULT_MAX_BYTES");
    cr_expect_eq(pt_sh("cd %s/big && find . -type f | cut -c3- | awk '{ s += length($0) + 96 } "
                       "END { exit !(NR == 442 && s + 8192 <= 65536) }'",
                       dir),
                 0, "the outputs' list does not fit as the worker counts it");
}

/* Whether DIR/a and DIR/b hold the same bytes. */
static int same_files(const char *a, const char *b)
{
    char pa[700], pb[700];
    snprintf(pa, sizeof pa, "%s/%s", dir, a);
    snprintf(pb, sizeof pb, "%s/%s", dir, b);
    return pt_files_equal(pa, pb);
}

/* Trains a tiny model into DIR/OUT, as a test's starting point. */
static void train_tiny(const char *out)
{
    char args[256];
    snprintf(args, sizeof args,
             "train --image img.png --mask empty-mask.png --out %s --threads 1 --max-size 32 "
             "--niter 1 --previews 0",
             out);
    expect_run(0, args, "scale", NULL);
}

/* Without --resume a second training into a folder that holds a model
 * would overwrite it once its first scale is saved: refused before
 * anything is written; --resume goes on as before. */
Test(segq_run_errors, train_into_a_folder_with_a_model_needs_resume)
{
    train_tiny("o");
    pt_sh("cp %s/o/model.safetensors %s/first.safetensors", dir, dir);
    pt_sh("cp %s/o/losses.csv %s/first.csv", dir, dir);
    expect_run(1,
               "train --image img.png --mask empty-mask.png --out o --threads 1 --max-size 32 "
               "--niter 2 --previews 0",
               "o/model.safetensors exists already",
               "--resume continues the training that wrote it, or give another --out");
    cr_expect(same_files("o/model.safetensors", "first.safetensors"),
              "the first model was changed");
    cr_expect(same_files("o/losses.csv", "first.csv"), "the first training's losses were changed");
    expect_run(0,
               "train --image img.png --mask empty-mask.png --out o --threads 1 --max-size 32 "
               "--niter 1 --previews 0 --resume",
               "resuming", NULL);
}

/* losses.csv is an output the job declares: a training that cannot write
 * it (a full disk) fails, naming it, rather than end with it cut short. */
Test(segq_run_errors, a_loss_log_that_cannot_be_written_fails_the_training)
{
    pt_sh("mkdir %s/full && ln -s /dev/full %s/full/losses.csv", dir, dir);
    expect_run(1,
               "train --image img.png --mask empty-mask.png --out full --threads 1 --max-size 32 "
               "--niter 2 --previews 0",
               "cannot write full/losses.csv: No space left on device", "(free space in --out)");
}

/* The rows of DIR/G/manifest.csv, as stylize and evaluate read it (the
 * test fails if it does not parse). */
static size_t manifest_rows(const char *g)
{
    char path[700], err[1024];
    snprintf(path, sizeof path, "%s/%s", dir, g);
    segq_manifest_t *man = NULL;
    cr_assert_eq(segq_manifest_read(path, &man, err, sizeof err), 0, "%s", err);
    size_t n = segq_manifest_rows(man);
    segq_manifest_destroy(&man);
    return n;
}

/* generate adds to a folder's manifest, but a pair it would write that
 * the manifest lists already (the same model and --seed) is refused
 * before anything is written: listed twice, stylize and evaluate would
 * refuse the folder. */
Test(segq_run_errors, generate_again_with_the_same_seed_is_refused)
{
    train_tiny("o");
    const char *gen = "generate --model o/model.safetensors --out g --count 2 --threads 1";
    char args[256];
    snprintf(args, sizeof args, "%s --seed 1", gen);
    expect_run(0, args, "generated 2 pairs", NULL);
    pt_sh("cp %s/g/manifest.csv %s/first.csv", dir, dir);
    expect_run(1, args, "g/manifest.csv lists pair", "give another --seed, or another --out");
    cr_expect(same_files("g/manifest.csv", "first.csv"), "the manifest was changed");
    snprintf(args, sizeof args, "%s --seed 2", gen);
    expect_run(0, args, "generated 2 pairs", NULL);
    cr_expect_eq(manifest_rows("g"), 4);
    cr_expect_eq(pt_sh("test $(ls %s/g/images | wc -l) = 4", dir), 0);
}

/* A generate killed midway leaves the folder's manifest as it was, whole
 * (its new pairs on disk unlisted), never a manifest cut in a row. */
Test(segq_run_errors, killed_generate_leaves_the_manifest_whole)
{
    train_tiny("o");
    expect_run(0, "generate --model o/model.safetensors --out g --count 2 --threads 1 --seed 1",
               "generated 2 pairs", NULL);
    pt_sh("cp %s/g/manifest.csv %s/first.csv", dir, dir);
    pid_t pid = fork();
    cr_assert_geq(pid, 0);
    if (pid == 0) {
        char cmd[2048];
        snprintf(cmd, sizeof cmd,
                 "cd %s && exec %s generate --model o/model.safetensors --out g --count 100000 "
                 "--threads 1 --seed 2 >kill.log 2>&1",
                 dir, pt_segq_run());
        execl("/bin/sh", "sh", "-c", cmd, (char *)NULL);
        _exit(127);
    }
    /* some hundred pairs written: many rows, had they gone to the manifest */
    for (int waited = 0; waited < 1200; waited++) {
        if (pt_sh("test $(ls %s/g/images | wc -l) -ge 300", dir) == 0)
            break;
        nanosleep(&(struct timespec){.tv_nsec = 50000000}, NULL);
    }
    kill(pid, SIGKILL);
    int st;
    waitpid(pid, &st, 0);
    cr_assert(WIFSIGNALED(st), "generate ended before it was killed");
    cr_expect_eq(pt_sh("test $(ls %s/g/images | wc -l) -ge 300", dir), 0, "too few pairs made");
    cr_expect(same_files("g/manifest.csv", "first.csv"),
              "the manifest was changed by the killed run");
    cr_expect_eq(manifest_rows("g"), 2);
}

Test(segq_run_errors, rgba_with_mask_from_alpha_is_accepted)
{
    char arg[1200];
    snprintf(arg, sizeof arg,
             "train --image %s/kvasir-seg-orig/polyp_with_4_channels.png "
             "--mask-from-alpha --out a --threads 1 --max-size 32 --niter 1 --previews 0",
             pt_data_dir());
    expect_run(0, arg, "polyp_with_4_channels.png", NULL);
}

/* `ENV segq-run devices`, parsed (the caller owns it). */
static json_t *devices_json(const char *env)
{
    char log[700];
    snprintf(log, sizeof log, "%s/dev.json", dir);
    cr_assert_eq(pt_sh("%s %s devices > %s", env, pt_segq_run(), log), 0);
    json_error_t je;
    json_t *o = json_load_file(log, 0, &je);
    cr_assert(o, "%s", je.text);
    return o;
}

Test(segq_run_errors, devices_prints_json)
{
    json_t *o = devices_json("");
    cr_expect_geq(json_integer_value(json_object_get(json_object_get(o, "cpu"), "cores")), 1);
    cr_expect(json_is_array(json_object_get(o, "cuda")));
    json_decref(o);
    expect_run(0, "devices --help", "usage: segq-run devices", NULL);
    expect_run(2, "devices --bogus", "segq-run devices: unexpected '--bogus'", NULL);
    expect_run(0, "train --help", "--lambda-grad", "default 0.1)");
}

static const char *devices_cpu_field(const char *env, const char *field, char *buf, size_t n)
{
    json_t *o = devices_json(env);
    const char *k = json_string_value(json_object_get(json_object_get(o, "cpu"), field));
    snprintf(buf, n, "%s", k ? k : "(none)");
    json_decref(o);
    return buf;
}

/* segq-run opts libtorch 1.13 into its AVX-512 kernels where the CPU has
   them (faster on the dev machine; libtorch keeps them opt-in), and keeps
   a level the user chose. */
Test(segq_run_errors, cpu_kernels_avx512_where_the_cpu_has_it_unless_the_user_chose)
{
    char got[64];
    bool avx512 = __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw")
                  && __builtin_cpu_supports("avx512vl") && __builtin_cpu_supports("avx512dq");
    cr_expect_str_eq(devices_cpu_field("env -u ATEN_CPU_CAPABILITY", "kernels", got, sizeof got),
                     avx512 ? "AVX512" : "AVX2");
    cr_expect_str_eq(devices_cpu_field("ATEN_CPU_CAPABILITY=avx2", "kernels", got, sizeof got),
                     "AVX2");
}

/* OpenMP workers spin ~0.2 ms, then sleep (segq-run re-executes itself
   with GOMP_SPINCOUNT set before libgomp loads); a policy the user chose
   is kept. */
Test(segq_run_errors, openmp_short_spin_unless_the_user_chose)
{
    char got[64];
    cr_expect_str_eq(devices_cpu_field("env -u OMP_WAIT_POLICY -u GOMP_SPINCOUNT", "openmp_wait",
                                       got, sizeof got),
                     "spin 20000");
    cr_expect_str_eq(devices_cpu_field("env -u GOMP_SPINCOUNT OMP_WAIT_POLICY=PASSIVE",
                                       "openmp_wait", got, sizeof got),
                     "PASSIVE");
    cr_expect_str_eq(devices_cpu_field("env -u OMP_WAIT_POLICY GOMP_SPINCOUNT=5", "openmp_wait",
                                       got, sizeof got),
                     "spin 5");
}
