/* test_batch_fit.c: generate's and stylize's batch from the memory a job
 * may use (pipeline/batch_fit.h): the per-sample estimates, the choice and
 * its messages, and the CPU's available memory read from files of the
 * test's own (meminfo, cgroup v2). No torch: runs under ASan+UBSan. */
#define _GNU_SOURCE
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "batch_fit.h"
#include "segq_error.h"

#define MiB (1024ull * 1024)
#define GiB (1024 * MiB)

/* Each expected value is the estimate's sum done by hand, so a change of
 * the model shows up here as well as in the measurement it came from. */
Test(batch_fit, generate_sample_bytes)
{
    static const struct {
        segq_generate_shape_t shape;
        uint64_t bytes;
    } cases[] = {
        /* the finest scale of a 320x256 image at --max-size 250 (width
         * 128): padded 210x260; hidden layers 208x258, 206x256, 204x254,
         * 202x252 (209120 px, twice), 4 more of the widest; 16 images */
        {{200, 250, 128, 5, 3, 0}, (2 * 209120ull + 4 * 53664) * 128 * 4 + 16 * 4 * 210 * 260 * 4},
        /* the same in bf16: the activations at 2 bytes, the images not */
        {{200, 250, 128, 5, 3, 1}, (2 * 209120ull + 4 * 53664) * 128 * 2 + 16 * 4 * 210 * 260 * 4},
        /* the test fixture's finest scale (tests/pipeline/test_singan_train.c) */
        {{27, 32, 32, 5, 3, 0}, 2332160},
        /* 1x1 kernels: no padding, one 10x10 hidden layer */
        {{10, 10, 8, 2, 1, 0}, (2 * 100 + 4 * 100) * 8 * 4 + 16 * 4 * 100 * 4},
        /* 1x1 padded to 5x5, one 3x3 hidden layer */
        {{1, 1, 1, 2, 3, 0}, (2 * 9 + 4 * 9) * 4 + 16 * 4 * 25 * 4},
        /* not a shape */
        {{0, 250, 128, 5, 3, 0}, 0},
        {{200, 0, 128, 5, 3, 0}, 0},
        {{200, 250, 0, 5, 3, 0}, 0},
        {{200, 250, 128, 1, 3, 0}, 0},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++)
        cr_expect_eq(segq_generate_sample_bytes(&cases[i].shape), cases[i].bytes,
                     "case %zu: %llu bytes, expected %llu", i,
                     (unsigned long long)segq_generate_sample_bytes(&cases[i].shape),
                     (unsigned long long)cases[i].bytes);
}

Test(batch_fit, generate_grows_with_the_shape)
{
    segq_generate_shape_t base = {100, 120, 64, 5, 3, 0};
    uint64_t b = segq_generate_sample_bytes(&base);
    segq_generate_shape_t taller = base, wider = base, deeper = base, bf16 = base;
    taller.h *= 2;
    wider.nfc *= 2;
    deeper.layers += 2;
    bf16.bf16 = 1;
    cr_expect_gt(segq_generate_sample_bytes(&taller), b);
    cr_expect_gt(segq_generate_sample_bytes(&wider), b);
    cr_expect_gt(segq_generate_sample_bytes(&deeper), b);
    cr_expect_lt(segq_generate_sample_bytes(&bf16), b);
}

Test(batch_fit, stylize_sample_bytes)
{
    /* Per image: the 5 taps' Gram matrices (64^2 + 128^2 + 256^2 +
     * 2 * 512^2 = 610304 floats, 5 of each) whatever the size, then what
     * VGG19 holds at that size. */
    static const struct {
        int64_t h, w;
        uint64_t bytes;
    } cases[] = {
        /* conv1_1 and its ReLU (the tap), conv1_2, then pooled to 0x0:
         * (2 * 192 + 2 * 64 + 5 * 610304 + 12 * 3) * 4 */
        {1, 1, (2 * 192ull + 2 * 64 + 5 * 610304 + 12 * 3) * 4},
        {16, 16, 13619200},
        {36, 40, 20017664},
        /* measured on libtorch 1.13 CPU: 240 MiB per image (fp32 and bf16) */
        {200, 250, 287100160},
        {0, 40, 0},
        {36, 0, 0},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++)
        cr_expect_eq(segq_stylize_sample_bytes(cases[i].h, cases[i].w), cases[i].bytes,
                     "%lldx%lld: %llu bytes, expected %llu", (long long)cases[i].w,
                     (long long)cases[i].h,
                     (unsigned long long)segq_stylize_sample_bytes(cases[i].h, cases[i].w),
                     (unsigned long long)cases[i].bytes);
}

Test(batch_fit, vgg19_weight_bytes)
{
    /* 12944960 parameters up to conv5_1; bf16 adds a 2-byte copy */
    cr_expect_eq(segq_vgg19_weight_bytes(0), 12944960ull * 4);
    cr_expect_eq(segq_vgg19_weight_bytes(1), 12944960ull * 6);
}

static segq_batch_fit_t declared(int64_t requested, int64_t count, uint64_t per, uint64_t total,
                                 uint64_t reserved)
{
    segq_batch_fit_t f = {.what = "one 250x200 sample",
                          .unit = "sample",
                          .remedy = "declare more",
                          .requested = requested,
                          .count = count,
                          .per_sample = per,
                          .total = total,
                          .reserved = reserved,
                          .total_name = "declared (SEGQ_GPU_MEM)",
                          .fail_code = SEGQ_EGPUMEM};
    return f;
}

typedef struct {
    int64_t requested, count;
    uint64_t per, total, reserved;
    int64_t batch;
    const char *msg; /* the log line's start */
} choice_case_t;

static void check_choices(const choice_case_t *cases, size_t n, uint64_t cap_bytes)
{
    for (size_t i = 0; i < n; i++) {
        segq_batch_fit_t f = declared(cases[i].requested, cases[i].count, cases[i].per,
                                      cases[i].total, cases[i].reserved);
        f.cap_bytes = cap_bytes;
        int64_t batch = -1;
        char msg[512] = "", err[512] = "";
        cr_assert_eq(segq_batch_fit(&f, &batch, msg, sizeof msg, err, sizeof err), 0,
                     "case %zu: %s", i, err);
        cr_expect_eq(batch, cases[i].batch, "case %zu: batch %lld", i, (long long)batch);
        cr_expect_eq(strncmp(msg, cases[i].msg, strlen(cases[i].msg)), 0,
                     "case %zu: '%s' does not start with '%s'", i, msg, cases[i].msg);
    }
}

Test(batch_fit, choice_and_log_line)
{
    static const choice_case_t cases[] = {
        /* the 16 pairs in 2 GiB: (2048 - 14) MiB less 1/8 is
         * 1779.75 MiB, 5 samples of 300 MiB */
        {16, 16, 300 * MiB, 2 * GiB, 14 * MiB, 5,
         "batch 16 -> 5: 5 samples of 300 MiB fit in the 2.0 GiB declared (SEGQ_GPU_MEM), "
         "less 14 MiB of weights, 1/8 kept spare"},
        /* everything fits: --batch stays */
        {16, 100, 100 * MiB, 2 * GiB, 0, 16,
         "batch 16: up to 17 samples of 100 MiB fit in the 2.0 GiB declared (SEGQ_GPU_MEM), "
         "less 1/8 kept spare"},
        /* fewer to make than --batch */
        {16, 3, 100 * MiB, 2 * GiB, 0, 3,
         "batch 16 -> 3: 3 samples in all (up to 17 samples of 100 MiB fit in the 2.0 GiB "
         "declared"},
        /* fewer to make, and fewer still fit */
        {16, 10, 600 * MiB, 2 * GiB, 0, 2, "batch 16 -> 2: 2 samples of 600 MiB fit"},
        /* exactly one fits */
        {8, 8, 7 * 128 * MiB, GiB, 0, 1, "batch 8 -> 1: 1 sample of 896 MiB fit"},
        /* a budget too large to overflow anything */
        {4096, 10000000, 1, UINT64_MAX, 0, 4096, "batch 4096: up to "},
        /* a zero estimate is one byte, not a division by zero */
        {4, 4, 0, GiB, 0, 4, "batch 4: up to "},
    };
    check_choices(cases, sizeof cases / sizeof cases[0], 0);
}

/* On a CPU no batch plans more than SEGQ_BATCH_FIT_CPU_BYTES: the cap
 * comes after the count and the memory, and never below one sample. */
Test(batch_fit, cpu_cap)
{
    static const choice_case_t cases[] = {
        /* the default 16 at 213x250 on a CPU with plenty of memory */
        {16, 64, 343 * MiB, 23 * GiB, 0, 4,
         "batch 16 -> 4: 4 samples of 343 MiB, the most a batch on a CPU plans (1.5 GiB: "
         "larger ones are no faster there, only bigger)"},
        /* smaller samples, more of them */
        {16, 64, 91 * MiB, 23 * GiB, 0, 16, "batch 16: up to "},
        {32, 64, 91 * MiB, 23 * GiB, 0, 16, "batch 32 -> 16: 16 samples of 91 MiB, the most"},
        /* a sample above the cap still makes batches of one */
        {16, 64, 2 * GiB, 23 * GiB, 0, 1, "batch 16 -> 1: 1 sample of 2.0 GiB, the most"},
        /* fewer to make than the cap allows */
        {16, 3, 343 * MiB, 23 * GiB, 0, 3, "batch 16 -> 3: 3 samples in all"},
        /* less memory than the cap: what fits decides */
        {16, 64, 343 * MiB, GiB, 0, 2, "batch 16 -> 2: 2 samples of 343 MiB fit in"},
    };
    check_choices(cases, sizeof cases / sizeof cases[0], SEGQ_BATCH_FIT_CPU_BYTES);
}

Test(batch_fit, none_fits_fails_naming_needed_and_declared)
{
    static const struct {
        uint64_t per, total, reserved;
    } cases[] = {
        {3 * GiB, 2 * GiB, 0},         /* larger than the whole declaration */
        {2 * GiB, 2 * GiB, 0},         /* larger than what the margin leaves */
        {100 * MiB, 2 * GiB, 3 * GiB}, /* the weights took it all */
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        segq_batch_fit_t f = declared(16, 16, cases[i].per, cases[i].total, cases[i].reserved);
        int64_t batch = -1;
        char msg[512] = "", err[512] = "";
        cr_expect_eq(segq_batch_fit(&f, &batch, msg, sizeof msg, err, sizeof err), SEGQ_EGPUMEM,
                     "case %zu", i);
        cr_expect_eq(batch, -1, "case %zu: batch set on failure", i);
        cr_expect(strstr(err, "one 250x200 sample needs ")
                      && strstr(err, "the 2.0 GiB declared (SEGQ_GPU_MEM) leaves ")
                      && strstr(err, ": declare more"),
                  "case %zu: %s", i, err);
    }
    segq_batch_fit_t f = declared(16, 16, 3 * GiB, 2 * GiB, 0);
    f.fail_code = SEGQ_ENOMEM;
    int64_t batch;
    char msg[256], err[512];
    cr_expect_eq(segq_batch_fit(&f, &batch, msg, sizeof msg, err, sizeof err), SEGQ_ENOMEM);
    cr_expect(strstr(err, "needs 3.0 GiB"), "%s", err);
}

/* A folder of fixture files: meminfo, self_cgroup and a cgroup tree. */
typedef struct {
    char dir[512], meminfo[600], self_cgroup[600], root[600];
    segq_mem_files_t files;
} fixture_t;

static void fixture_new(fixture_t *fx)
{
    const char *tmp = getenv("TMPDIR");
    snprintf(fx->dir, sizeof fx->dir, "%s/batch_fit_XXXXXX", tmp ? tmp : "/tmp");
    cr_assert_not_null(mkdtemp(fx->dir));
    snprintf(fx->meminfo, sizeof fx->meminfo, "%s/meminfo", fx->dir);
    snprintf(fx->self_cgroup, sizeof fx->self_cgroup, "%s/cgroup", fx->dir);
    snprintf(fx->root, sizeof fx->root, "%s/sys", fx->dir);
    cr_assert_eq(mkdir(fx->root, 0755), 0);
    fx->files = (segq_mem_files_t){fx->meminfo, fx->self_cgroup, fx->root};
}

static void fixture_destroy(fixture_t *fx)
{
    char cmd[700];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", fx->dir);
    cr_expect_eq(system(cmd), 0);
}

/* Writes text to DIR/rel, making rel's folders. */
static void put(const char *dir, const char *rel, const char *text)
{
    char path[1200], cmd[1400];
    snprintf(path, sizeof path, "%s/%s", dir, rel);
    snprintf(cmd, sizeof cmd, "mkdir -p \"$(dirname '%s')\"", path);
    cr_assert_eq(system(cmd), 0);
    FILE *f = fopen(path, "w");
    cr_assert_not_null(f, "%s", path);
    cr_assert_geq(fputs(text, f), 0);
    cr_assert_eq(fclose(f), 0);
}

#define MEMINFO                                                                                    \
    "MemTotal:       16000000 kB\nMemFree:         1000000 kB\n"                                   \
    "MemAvailable:    4194304 kB\nBuffers:          100 kB\n"

static uint64_t available(fixture_t *fx, int *by_cgroup)
{
    uint64_t bytes = 0;
    char err[512] = "";
    cr_assert_eq(segq_cpu_memory_available(&fx->files, &bytes, by_cgroup, err, sizeof err), 0, "%s",
                 err);
    return bytes;
}

Test(batch_fit, cpu_memory_is_memavailable_without_a_cgroup_limit)
{
    fixture_t fx;
    fixture_new(&fx);
    put(fx.dir, "meminfo", MEMINFO);
    int by_cgroup = -1;
    /* no /proc/self/cgroup */
    cr_expect_eq(available(&fx, &by_cgroup), 4 * GiB);
    cr_expect_eq(by_cgroup, 0);
    /* cgroup v1 only */
    put(fx.dir, "cgroup", "4:memory:/job\n1:cpu:/\n");
    cr_expect_eq(available(&fx, &by_cgroup), 4 * GiB);
    /* v2, no limit on the way up */
    put(fx.dir, "cgroup", "0::/a/b\n");
    put(fx.root, "a/b/memory.max", "max\n");
    put(fx.root, "a/b/memory.current", "1000\n");
    cr_expect_eq(available(&fx, &by_cgroup), 4 * GiB);
    cr_expect_eq(by_cgroup, 0);
    /* a limit above MemAvailable changes nothing */
    put(fx.root, "a/memory.max", "17179869184\n");
    put(fx.root, "a/memory.current", "1073741824\n");
    cr_expect_eq(available(&fx, &by_cgroup), 4 * GiB);
    cr_expect_eq(by_cgroup, 0);
    fixture_destroy(&fx);
}

Test(batch_fit, cpu_memory_under_a_cgroup_limit)
{
    static const struct {
        const char *self, *max_at, *max, *current, *stat;
        uint64_t bytes;
    } cases[] = {
        /* max - (current - inactive_file): page cache the kernel drops
         * is not in use */
        {"0::/job\n", "job", "1073741824\n", "536870912\n", "anon 1\ninactive_file 268435456\n",
         768 * MiB},
        /* no memory.stat: current counts whole */
        {"0::/job\n", "job", "1073741824\n", "536870912\n", NULL, 512 * MiB},
        /* the limit of an ancestor holds too */
        {"1:cpu:/\n0::/a/b/c\n", "a", "2147483648\n", "1073741824\n", NULL, GiB},
        /* the namespace's root itself (a container's own limit) */
        {"0::/\n", "", "1073741824\n", "0\n", NULL, GiB},
        /* over the limit: nothing left */
        {"0::/job\n", "job", "1073741824\n", "2147483648\n", "inactive_file 4096\n", 0},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        fixture_t fx;
        fixture_new(&fx);
        put(fx.dir, "meminfo", MEMINFO);
        put(fx.dir, "cgroup", cases[i].self);
        char rel[128];
        snprintf(rel, sizeof rel, "%s%smemory.max", cases[i].max_at, *cases[i].max_at ? "/" : "");
        put(fx.root, rel, cases[i].max);
        snprintf(rel, sizeof rel, "%s%smemory.current", cases[i].max_at,
                 *cases[i].max_at ? "/" : "");
        put(fx.root, rel, cases[i].current);
        if (cases[i].stat) {
            snprintf(rel, sizeof rel, "%s%smemory.stat", cases[i].max_at,
                     *cases[i].max_at ? "/" : "");
            put(fx.root, rel, cases[i].stat);
        }
        int by_cgroup = -1;
        uint64_t bytes = available(&fx, &by_cgroup);
        cr_expect_eq(bytes, cases[i].bytes, "case %zu: %llu bytes", i, (unsigned long long)bytes);
        cr_expect_eq(by_cgroup, 1, "case %zu", i);
        fixture_destroy(&fx);
    }
}

Test(batch_fit, cpu_memory_errors_name_the_file)
{
    fixture_t fx;
    fixture_new(&fx);
    uint64_t bytes = 0;
    int by_cgroup;
    char err[512] = "";
    /* no meminfo at all */
    cr_expect_eq(segq_cpu_memory_available(&fx.files, &bytes, &by_cgroup, err, sizeof err),
                 SEGQ_EIO);
    cr_expect(strstr(err, fx.meminfo) && strstr(err, "MemAvailable"), "%s", err);
    /* a kernel without MemAvailable */
    put(fx.dir, "meminfo", "MemTotal: 1000 kB\nMemFree: 10 kB\n");
    cr_expect_eq(segq_cpu_memory_available(&fx.files, &bytes, &by_cgroup, err, sizeof err),
                 SEGQ_EUNSUPPORTED);
    cr_expect(strstr(err, "no MemAvailable line"), "%s", err);
    /* MemAvailableX is another key */
    put(fx.dir, "meminfo", "MemAvailableX: 1 kB\n");
    cr_expect_eq(segq_cpu_memory_available(&fx.files, &bytes, &by_cgroup, err, sizeof err),
                 SEGQ_EUNSUPPORTED);
    fixture_destroy(&fx);
}

Test(batch_fit, this_machine_has_some_memory)
{
    const segq_mem_files_t files = SEGQ_MEM_FILES_SYSTEM;
    uint64_t bytes = 0;
    int by_cgroup;
    char err[512] = "";
    cr_assert_eq(segq_cpu_memory_available(&files, &bytes, &by_cgroup, err, sizeof err), 0, "%s",
                 err);
    cr_expect_gt(bytes, 16 * MiB);
}
