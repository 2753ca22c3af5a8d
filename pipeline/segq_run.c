/* segq-run: runs one pipeline job locally, with no broker.
 *   segq-run train --image x.jpg --mask m.jpg --out DIR [flags]
 *   segq-run generate --model DIR/model.safetensors --out DIR [flags]
 *   segq-run stylize --content DIR --vgg19 W.safetensors --out DIR [flags]
 *   segq-run evaluate --real DIR --out DIR [--synthetic NAME=DIR ...] [flags]
 *   segq-run sample --out DIR [--seed N] [--size WxH] [--count N]
 *   segq-run devices
 *   segq-run serve --model-cache=BYTES --idle-s=N   (a worker's generation server)
 * stdout/stderr are the job's log; progress goes to SEGQ_PROGRESS_FD. */
#include "segq_run_flags.h"
#include "segq_schema.h"
#include "segq_singan.h"
#include "segq_torch.h"
#include "evaluate.h"
#include "sample.h"
#include "serve.h"
#include "stylize.h"

#include <limits.h>
#include <malloc.h>
#include <signal.h>
#include <sys/prctl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* The commands that run something, each with its options struct and run
 * function. The job kinds' flags are in run_flags.c's table; a command that
 * is no job kind (sample) brings its own flag table. */
typedef int (*run_fn)(const void *opts, segq_progress_t *progress, char *err, size_t errlen);
static int run_train(const void *o, segq_progress_t *p, char *err, size_t errlen)
{
    return segq_singan_train(o, p, err, errlen);
}
static int run_generate(const void *o, segq_progress_t *p, char *err, size_t errlen)
{
    return segq_singan_generate(o, p, err, errlen);
}
static int run_stylize(const void *o, segq_progress_t *p, char *err, size_t errlen)
{
    return segq_stylize(o, p, err, errlen);
}
static int run_evaluate(const void *o, segq_progress_t *p, char *err, size_t errlen)
{
    return segq_evaluate(o, p, err, errlen);
}
static int run_sample(const void *o, segq_progress_t *p, char *err, size_t errlen)
{
    (void)p; /* drawing takes well under a second */
    return segq_sample_run(o, err, errlen);
}
/* --synthetic NAME=DIR repeats: taken out of argv before the flag table. */
static int pre_evaluate(int *argc, char **argv, void *o, char *err, size_t errlen)
{
    return segq_evaluate_take_synthetic(argc, argv, o, err, errlen);
}
static void fini_evaluate(void *o)
{
    segq_evaluate_opts_free(o);
}
static const struct {
    const char *name;
    const segq_command_t *own; /* NULL: the job kind's, from run_flags.c */
    run_fn run;
    size_t opts_size;
    int (*pre)(int *argc, char **argv, void *opts, char *err, size_t errlen);
    void (*fini)(void *opts);
} run_commands[] = {
    {"train", NULL, run_train, sizeof(segq_train_opts_t), NULL, NULL},
    {"generate", NULL, run_generate, sizeof(segq_generate_opts_t), NULL, NULL},
    {"stylize", NULL, run_stylize, sizeof(segq_stylize_opts_t), NULL, NULL},
    {"evaluate", NULL, run_evaluate, sizeof(segq_evaluate_opts_t), pre_evaluate, fini_evaluate},
    {"sample", &segq_sample_command, run_sample, sizeof(segq_sample_opts_t), NULL, NULL},
};

/* The flags, the run, and a failure as the last progress line and on
 * stderr; 2 for bad flags. */
static int run_command(int k, int argc, char **argv)
{
    const segq_command_t *cmd =
        run_commands[k].own ? run_commands[k].own : segq_run_command_find(run_commands[k].name);
    char err[2048] = "";
    void *opts = calloc(1, run_commands[k].opts_size);
    if (!opts) {
        fprintf(stderr, "segq-run %s: out of memory\n", cmd->name);
        return 1;
    }
    int rc = run_commands[k].pre ? run_commands[k].pre(&argc, argv, opts, err, sizeof err) : 0;
    if (rc == 0)
        rc = segq_flags_parse(cmd, argc, argv, opts, err, sizeof err);
    if (rc == 0)
        rc = segq_flags_check(cmd, opts, err, sizeof err);
    if (rc == 0) {
        segq_progress_t *progress = segq_progress_new();
        rc = run_commands[k].run(opts, progress, err, sizeof err);
        segq_run_report_gpu_peak(progress);
        if (rc)
            segq_progress_report(progress, "failed", -1, NULL, 0, err, 1);
        segq_progress_destroy(&progress);
        if (rc)
            fprintf(stderr, "segq-run %s: %s\n", cmd->name, err);
        rc = segq_run_exit_status(rc);
    } else if (rc == 1)
        rc = 0;
    else {
        fprintf(stderr, "segq-run %s\n", err);
        rc = 2;
    }
    segq_flags_free(cmd, opts);
    if (run_commands[k].fini)
        run_commands[k].fini(opts);
    free(opts);
    return rc;
}

/* `segq-run serve --model-cache=BYTES --idle-s=N`: only segq-worker
 * starts it (worker/gen_server.h). */
static int serve(int argc, char **argv)
{
    unsigned long long cache = 1ULL << 30, idle = 600;
    for (int i = 0; i < argc; i++) {
        char *end = NULL;
        unsigned long long *value = strncmp(argv[i], "--model-cache=", 14) == 0 ? &cache
                                    : strncmp(argv[i], "--idle-s=", 9) == 0     ? &idle
                                                                                : NULL;
        if (value)
            *value = strtoull(strchr(argv[i], '=') + 1, &end, 10);
        if (!value || !end || *end || idle > UINT32_MAX) {
            fprintf(stderr,
                    "segq-run serve: unexpected '%s' (segq-worker starts it with "
                    "--model-cache=BYTES --idle-s=N)\n",
                    argv[i]);
            return 2;
        }
    }
    return segq_run_serve(cache, (uint32_t)idle);
}

static void usage(FILE *out)
{
    size_t n;
    const segq_command_t *cmds = segq_run_commands(&n);
    fprintf(out, "usage: segq-run COMMAND [flags]   (segq-run COMMAND --help for its flags)\n"
                 "commands:\n");
    for (size_t i = 0; i < n; i++)
        fprintf(out, "  %-10s %s\n", cmds[i].name, cmds[i].help);
    for (size_t i = 0; i < sizeof run_commands / sizeof run_commands[0]; i++)
        if (run_commands[i].own)
            fprintf(out, "  %-10s %s\n", run_commands[i].own->name, run_commands[i].own->help);
}

/* libgomp reads its wait policy once, when it is loaded (before main), so
 * it is set by re-executing once. By default a libgomp worker spins ~3 ms
 * after each parallel region before it sleeps: on a shared, busy machine
 * that made iterations up to 100x slower (7.8 s against 0.05 s at 25x30,
 * 2 threads, load 10). Sleeping at once (PASSIVE) costs a futex wake-up
 * per region instead, and the small scales run hundreds of regions per
 * iteration: idle, bf16 at 33x39 took 0.089 s/iter passive against 0.050
 * with a 20,000-spin bound (~0.2 ms), 10-15% more at the middle scales.
 * Under 6 busy loops on the 2 cores both took about the same wall time,
 * the bounded spin ~1.7x the CPU time. So: spin briefly, then sleep. A
 * policy the user set is kept. */
static void omp_short_spin(char **argv)
{
    if (getenv("OMP_WAIT_POLICY") || getenv("GOMP_SPINCOUNT")
        || setenv("GOMP_SPINCOUNT", "20000", 1) != 0)
        return;
    execv("/proc/self/exe", argv);
    /* exec failed: carry on with the default policy */
}

/* glibc hands every block above 128 KiB back to the kernel when freed, so
 * each iteration's activations (tens of MB) were page-faulted in afresh:
 * half the CPU time of generate went to the kernel, and a stylize step
 * doubled. Keep them in the heap: no mmap at all (raising the threshold is
 * not enough, glibc caps it at 32 MB and a batch's activations are larger;
 * generate at batch 10 went from 1.3 to 3.2 samples/s), and no trimming. */
static void keep_freed_memory(void)
{
#ifdef __GLIBC__
    mallopt(M_MMAP_MAX, 0);
    mallopt(M_TRIM_THRESHOLD, INT_MAX);
#endif
}

/* libtorch 1.13 runs its own elementwise and reduction kernels with AVX2
 * even on an AVX-512 CPU (AVX-512 is opt-in there: it was slower on some
 * Intel parts). On the dev machine's AMD EPYC it is faster: bf16 training
 * 5.7-5.8 s against 6.4-6.8 s per finest-scale iteration, 10-20% at the
 * middle scales (BatchNorm's double backward, LeakyReLU, casts). Opt in
 * only where the CPU has every AVX-512 part those kernels use (libtorch
 * does not check a capability it is told to use); a setting the user made
 * is kept. libtorch reads it at its first op, so main sets it first. */
static void aten_avx512_where_supported(void)
{
#if defined(__x86_64__) && defined(__GNUC__)
    __builtin_cpu_init();
    if (!getenv("ATEN_CPU_CAPABILITY") && __builtin_cpu_supports("avx512f")
        && __builtin_cpu_supports("avx512bw") && __builtin_cpu_supports("avx512vl")
        && __builtin_cpu_supports("avx512dq") && __builtin_cpu_supports("fma"))
        setenv("ATEN_CPU_CAPABILITY", "avx512", 1);
#endif
}

/* Under segq-worker (SEGQ_JOB_ID set, or its generation server) a job
 * must not outlive its worker: if the worker is killed, the broker
 * requeues the job elsewhere, and an orphan would go on holding GPU memory
 * the broker counts as free. */
static void die_with_worker(int argc, char **argv)
{
    if (!getenv("SEGQ_JOB_ID") && !(argc > 1 && strcmp(argv[1], "serve") == 0))
        return;
    pid_t parent = getppid();
    if (prctl(PR_SET_PDEATHSIG, SIGKILL) != 0)
        perror("segq-run: prctl(PR_SET_PDEATHSIG)");
    else if (getppid() != parent)
        raise(SIGKILL); /* it died before the setting took */
}

/* `segq-run devices` takes no flag but --help. */
static int run_devices(int argc, char **argv)
{
    static const char help[] =
        "usage: segq-run devices\n"
        "Print the CPU and CUDA devices as JSON (segq-worker reads it at start).\n";
    if (argc == 1 && (strcmp(argv[0], "--help") == 0 || strcmp(argv[0], "-h") == 0)) {
        fputs(help, stdout);
        return 0;
    }
    if (argc > 0) {
        fprintf(stderr, "segq-run devices: unexpected '%s'\n%s", argv[0], help);
        return 2;
    }
    char err[2048] = "";
    char *json = segq_devices_json(err, sizeof err);
    if (!json) {
        fprintf(stderr, "segq-run devices: %s\n", err);
        return 1;
    }
    printf("%s\n", json);
    free(json);
    return 0;
}

int main(int argc, char **argv)
{
    /* A job's log is stdout and stderr in the order written, and a
     * failure's reason is its last line: a buffered progress line must not
     * land after the error (the generation server prints one per job). */
    setvbuf(stdout, NULL, _IOLBF, 0);
    omp_short_spin(argv);
    die_with_worker(argc, argv);
    keep_freed_memory();
    aten_avx512_where_supported();
    if (argc < 2) {
        usage(stderr);
        return 2;
    }
    if (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0) {
        usage(stdout);
        return 0;
    }
    for (size_t k = 0; k < sizeof run_commands / sizeof run_commands[0]; k++)
        if (strcmp(argv[1], run_commands[k].name) == 0)
            return run_command((int)k, argc - 2, argv + 2);
    if (strcmp(argv[1], "serve") == 0)
        return serve(argc - 2, argv + 2);
    if (strcmp(argv[1], "devices") == 0)
        return run_devices(argc - 2, argv + 2);
    fprintf(stderr, "segq-run: unknown command '%s'\n", argv[1]);
    usage(stderr);
    return 2;
}
