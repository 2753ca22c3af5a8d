/*  queue_latency.c: submit -> running latency on an idle queue: one job at
    a time (each waits for the previous to end), from just before the
    client sends SUBMIT to the broker's `started` time of the job.

        bench_queue_latency [JOBS]     (default 2000)
*/
#include "queue_common.h"

#define USAGE "bench_queue_latency [JOBS]"

int
main (int argc, char **argv)
{
    size_t jobs = bench_count_arg (argc, argv, 1, 2000, USAGE);
    bench_machine ();
    harness_t *h = bench_start ("bench-latency", 1, 4);
    segq_client_t *c = harness_client (h, 30000);
    segq_job_spec_t *spec = segq_job_spec_new ("noop");
    double *running = calloc (jobs, sizeof *running);
    double *acked = calloc (jobs, sizeof *acked);
    int rc = 1;
    size_t n = 0;
    for (; n < jobs; n++) {
        char job [SEGQ_JOB_ID_MAX];
        double t0 = bench_now ();
        if (segq_client_submit (c, spec, job, sizeof job) < 0)
            break;
        acked [n] = bench_now () - t0;
        segq_job_info_t info;
        if (harness_wait_final (c, job, 30000, &info) < 0) {
            fprintf (stderr, "job %s did not end\n", job);
            break;
        }
        running [n] = info.started - t0;
        segq_job_info_clear (&info);
    }
    if (n == jobs) {
        qsort (running, n, sizeof *running, bench_cmp_double);
        qsort (acked, n, sizeof *acked, bench_cmp_double);
        printf ("submit -> running on an idle queue, %zu noop jobs, 1 worker\n", n);
        printf ("  submit -> running: p50 %.3f ms, p99 %.3f ms, max %.3f ms\n",
                bench_percentile (running, n, 50) * 1e3, bench_percentile (running, n, 99) * 1e3,
                running [n - 1] * 1e3);
        printf ("  submit -> acknowledged (committed): p50 %.3f ms, p99 %.3f ms\n",
                bench_percentile (acked, n, 50) * 1e3, bench_percentile (acked, n, 99) * 1e3);
        rc = 0;
    } else
        fprintf (stderr, "bench_queue_latency: %s\n", segq_client_error (c));
    free (running);
    free (acked);
    segq_job_spec_destroy (&spec);
    segq_client_destroy (&c);
    bench_stop (&h);
    return rc;
}
