/*  queue_common.h: what the queue benchmarks share: a broker and workers
    started by the integration-test harness, wall clocks, percentiles. */
#ifndef SEGQ_BENCH_QUEUE_COMMON_H
#define SEGQ_BENCH_QUEUE_COMMON_H

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "harness.h"

static inline double
bench_now (void)
{
    struct timespec ts;
    clock_gettime (CLOCK_REALTIME, &ts);
    return (double) ts.tv_sec + ts.tv_nsec / 1e9;
}

static inline int
bench_cmp_double (const void *a, const void *b)
{
    double x = *(const double *) a, y = *(const double *) b;
    return x < y ? -1 : x > y;
}

/* p in 0..100 of n sorted values. */
static inline double
bench_percentile (const double *sorted, size_t n, double p)
{
    size_t i = (size_t) (p / 100.0 * (double) (n - 1) + 0.5);
    return sorted [i < n ? i : n - 1];
}

/* A broker and `workers` workers of `slots` CPU slots, or exit(1). */
static inline harness_t *
bench_start (const char *name, int workers, int slots)
{
    harness_t *h = harness_new (name);
    if (!h || harness_start_broker (h, NULL) != 0) {
        fprintf (stderr, "%s: segqd did not start\n", name);
        exit (1);
    }
    for (int i = 0; i < workers; i++) {
        char node [32];
        snprintf (node, sizeof node, "bench%d", i + 1);
        if (harness_start_worker (h, node, slots, NULL) != i) {
            fprintf (stderr, "%s: worker %s did not start\n", name, node);
            harness_destroy (&h);
            exit (1);
        }
    }
    return h;
}

/* argv[i] as a positive count, def when absent; exit(2) with usage if bad. */
static inline size_t
bench_count_arg (int argc, char **argv, int i, size_t def, const char *usage)
{
    if (argc <= i)
        return def;
    char *end;
    unsigned long long v = strtoull (argv [i], &end, 10);
    if (*end || v == 0) {
        fprintf (stderr, "usage: %s\n", usage);
        exit (2);
    }
    return (size_t) v;
}

/* Stop the processes (saying so if one did not exit cleanly), clean up. */
static inline void
bench_stop (harness_t **h)
{
    char why [1024];
    if (harness_stop (*h, why, sizeof why) != 0)
        fprintf (stderr, "%s\n", why);
    harness_destroy (h);
}

/* CPU seconds (user + system, all threads) of process pid, 0 for this
   one; -1 if unknown. Wall clocks on a shared machine vary ~2x with the
   load; CPU time says what a transfer costs. */
static inline double
bench_cpu_seconds (pid_t pid)
{
    if (pid == 0) {
        struct rusage ru;
        if (getrusage (RUSAGE_SELF, &ru) != 0)
            return -1;
        return (double) (ru.ru_utime.tv_sec + ru.ru_stime.tv_sec)
               + (double) (ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) / 1e6;
    }
    char path [64];
    snprintf (path, sizeof path, "/proc/%d/stat", (int) pid);
    FILE *f = fopen (path, "r");
    if (!f)
        return -1;
    char line [1024];
    size_t n = fread (line, 1, sizeof line - 1, f);
    fclose (f);
    line [n] = 0;
    /* fields after the command name, which may hold spaces: ") S ppid ..." */
    char *p = strrchr (line, ')');
    unsigned long long utime, stime;
    if (!p
        || sscanf (p + 2, "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %llu %llu", &utime, &stime)
               != 2)
        return -1;
    return (double) (utime + stime) / (double) sysconf (_SC_CLK_TCK);
}

/* Wall clock and CPU seconds of the client (this process), the broker and
   the first worker over one phase of a benchmark. */
typedef struct {
    double wall, client, broker, worker;
} bench_phase_t;

static inline bench_phase_t
bench_mark (harness_t *h)
{
    return (bench_phase_t){ bench_now (), bench_cpu_seconds (0), bench_cpu_seconds (h->broker),
                            bench_cpu_seconds (h->workers [0].pid) };
}

static inline bench_phase_t
bench_since (harness_t *h, bench_phase_t start)
{
    bench_phase_t now = bench_mark (h);
    return (bench_phase_t){ now.wall - start.wall, now.client - start.client,
                            now.broker - start.broker, now.worker - start.worker };
}

/* files distinct files of `bytes` random bytes, dir/fNNNNNN.bin, seeded
   first_seed, first_seed + 1, ...; on disk before the clock starts, as a
   user's files would be. 0 or -1. */
static inline int
bench_write_files (const char *dir, size_t files, size_t bytes, unsigned first_seed)
{
    char path [700];
    if (mkdir (dir, 0700) != 0)
        return -1;
    for (size_t i = 0; i < files; i++) {
        snprintf (path, sizeof path, "%s/f%06zu.bin", dir, i);
        if (harness_write_random_file (path, bytes, first_seed + (unsigned) i) != 0)
            return -1;
    }
    sync ();
    return 0;
}

static inline void
bench_machine (void)
{
    long cpus = sysconf (_SC_NPROCESSORS_ONLN);
    double load [1] = { 0 };
    FILE *f = fopen ("/proc/loadavg", "r");
    if (f) {
        if (fscanf (f, "%lf", &load [0]) != 1)
            load [0] = -1;
        fclose (f);
    }
    printf ("machine: %ld CPUs, load average %.1f at start\n", cpus, load [0]);
}

#endif
