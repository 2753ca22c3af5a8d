/*  queue_slow_disk.c: segqd on a slow disk (each fsync waits DELAY_US
    first: a busy array, a network file system; tests/broker/slow_disk.c).
    One client submits a job with FILES small inputs (uploaded several at
    a time, as `segq submit` does) while another asks for the queue's
    status again and again: how fast the files go in, and how long the
    other client waits for each answer meanwhile, against the same asked
    of an idle broker.

        bench_queue_slow_disk [FILES] [DELAY_US]   (default 400 files, 5000 us)
*/
#include <pthread.h>
#include <stdatomic.h>
#include "queue_common.h"

#define USAGE "bench_queue_slow_disk [FILES] [DELAY_US]"

typedef struct {
    harness_t *h;
    size_t files;
    double seconds;
    int rc;
    atomic_bool ended;
} submitter_t;

/* Submits an echo job whose inputs are the files under dir/in. */
static void *
s_submit (void *arg)
{
    submitter_t *s = arg;
    segq_client_t *c = harness_client (s->h, 600000);
    segq_job_spec_t *spec = segq_job_spec_new ("echo");
    char path [700], name [64], err [512], job [SEGQ_JOB_ID_MAX];
    s->rc = c && spec ? 0 : -1;
    for (size_t i = 0; i < s->files && s->rc == 0; i++) {
        snprintf (path, sizeof path, "%s/in/f%06zu.bin", s->h->dir, i);
        snprintf (name, sizeof name, "files/f%06zu.bin", i);
        s->rc = segq_job_spec_input_file (spec, name, path, err, sizeof err);
        if (s->rc)
            fprintf (stderr, "%s\n", err);
    }
    double t0 = bench_now ();
    if (s->rc == 0 && segq_client_submit (c, spec, job, sizeof job) < 0) {
        fprintf (stderr, "submit: %s\n", segq_client_error (c));
        s->rc = -1;
    }
    s->seconds = bench_now () - t0;
    segq_job_spec_destroy (&spec);
    segq_client_destroy (&c);
    atomic_store (&s->ended, true);
    return NULL;
}

/* Status round trips until *until_ended ends (or n of them, if NULL);
   their milliseconds into ms (up to cap); how many, or -1. */
static long
s_statuses (segq_client_t *c, atomic_bool *until_ended, size_t n, double *ms, size_t cap)
{
    size_t done = 0;
    while (done < cap && (until_ended ? !atomic_load (until_ended) : done < n)) {
        segq_job_list_t list = { 0 };
        segq_status_query_t all = { 0 };
        double t0 = bench_now ();
        if (segq_client_status (c, &all, NULL, &list) != 0) {
            fprintf (stderr, "status: %s\n", segq_client_error (c));
            return -1;
        }
        ms [done++] = 1e3 * (bench_now () - t0);
        segq_job_list_clear (&list);
    }
    return (long) done;
}

static void
s_print_latency (const char *what, double *ms, size_t n)
{
    qsort (ms, n, sizeof *ms, bench_cmp_double);
    printf ("  %-34s %5zu answers: median %7.2f ms, p99 %7.2f ms, max %7.2f ms\n", what, n,
            bench_percentile (ms, n, 50), bench_percentile (ms, n, 99), ms [n - 1]);
}

int
main (int argc, char **argv)
{
    enum { CAP = 1 << 20 };
    size_t files = bench_count_arg (argc, argv, 1, 400, USAGE);
    size_t delay_us = bench_count_arg (argc, argv, 2, 5000, USAGE);
    bench_machine ();
    harness_t *h = harness_new ("bench-slow-disk");
    double *idle = calloc (CAP, sizeof *idle), *busy = calloc (CAP, sizeof *busy);
    if (!h || !idle || !busy)
        return 1;
    harness_slow_disk (h, NULL, NULL, (unsigned) delay_us);
    char in [600];
    snprintf (in, sizeof in, "%s/in", h->dir);
    if (harness_start_broker (h, NULL) != 0 || bench_write_files (in, files, 1024, 1) != 0) {
        fprintf (stderr, "cannot start segqd or write %zu files under %s\n", files, h->dir);
        harness_destroy (&h);
        return 1;
    }
    segq_client_t *c = harness_client (h, 600000);
    submitter_t s = { .h = h, .files = files };
    pthread_t thread;
    long n_idle = s_statuses (c, NULL, 200, idle, CAP), n_busy = -1;
    if (n_idle > 0 && pthread_create (&thread, NULL, s_submit, &s) == 0) {
        n_busy = s_statuses (c, &s.ended, 0, busy, CAP);
        pthread_join (thread, NULL);
    }
    int rc = 1;
    if (n_idle > 0 && n_busy > 0 && s.rc == 0) {
        printf ("segqd on a slow disk (each fsync waits %zu us first), %s\n", delay_us, h->dir);
        printf ("  %zu files of 1024 bytes uploaded by a submit: %.3f ms a file, %.0f files/s\n",
                files, 1e3 * s.seconds / (double) files, (double) files / s.seconds);
        printf ("  another client's status meanwhile:\n");
        s_print_latency ("idle broker:", idle, (size_t) n_idle);
        s_print_latency ("while the files go in:", busy, (size_t) n_busy);
        rc = 0;
    }
    free (idle);
    free (busy);
    segq_client_destroy (&c);
    bench_stop (&h);
    return rc;
}
