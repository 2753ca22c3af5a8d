/*  queue_throughput.c: `noop` jobs through segqd and 2 workers, submitted
    by one libsegq client with pipelining; from the first submit to the
    last completion (the broker's `finished` times), with the broker's
    durable store at synchronous=FULL.

        bench_queue_throughput [JOBS] [WINDOW]     (default 20000 2000)
*/
#include "queue_common.h"

#define USAGE "bench_queue_throughput [JOBS] [WINDOW]"

/* Jobs not yet final: waiting, queued or running (one page of 1 each). */
static int
s_unfinished (segq_client_t *c)
{
    static const segq_job_state_t states [] = { SEGQ_JOB_WAITING, SEGQ_JOB_QUEUED,
                                                SEGQ_JOB_RUNNING };
    for (size_t i = 0; i < 3; i++) {
        segq_status_query_t q = { .state = states [i], .limit = 1 };
        segq_job_list_t list;
        if (segq_client_status (c, &q, NULL, &list) < 0)
            return -1;
        size_t n = list.n_jobs;
        segq_job_list_clear (&list);
        if (n)
            return 1;
    }
    return 0;
}

int
main (int argc, char **argv)
{
    size_t jobs = bench_count_arg (argc, argv, 1, 20000, USAGE);
    size_t window = bench_count_arg (argc, argv, 2, 2000, USAGE);
    bench_machine ();
    harness_t *h = bench_start ("bench-throughput", 2, 64);
    segq_client_t *c = harness_client (h, 30000);
    segq_job_spec_t *spec = segq_job_spec_new ("noop");
    int rc = 1;
    size_t sent = 0, acked = 0;
    double t0 = bench_now ();
    while (acked < jobs) {
        while (sent < jobs && sent - acked < window) {
            uint64_t req;
            if (segq_client_submit_send (c, spec, &req) < 0)
                goto fail;
            sent++;
        }
        segq_submit_reply_t r;
        if (segq_client_submit_recv (c, -1, &r) < 0)
            goto fail;
        if (r.code != 0) {
            fprintf (stderr, "submit refused: %s\n", r.message);
            goto done;
        }
        acked++;
    }
    double t_acked = bench_now ();
    int left;
    while ((left = s_unfinished (c)) > 0)
        usleep (20 * 1000);
    if (left < 0)
        goto fail;
    /* The last completion, in the broker's own clock (same machine). */
    double last = 0;
    size_t succeeded = 0, listed = 0;
    char *cursor = NULL;
    do {
        segq_job_list_t page;
        if (segq_client_status (c, NULL, cursor, &page) < 0) {
            free (cursor);
            goto fail;
        }
        free (cursor);
        cursor = page.cursor;
        page.cursor = NULL;
        for (size_t i = 0; i < page.n_jobs; i++) {
            succeeded += page.jobs [i].state == SEGQ_JOB_SUCCEEDED;
            if (page.jobs [i].finished > last)
                last = page.jobs [i].finished;
        }
        listed += page.n_jobs;
        segq_job_list_clear (&page);
    } while (cursor);
    printf ("noop throughput: %zu jobs, 2 workers, 1 client pipelining %zu submits\n", jobs,
            window);
    printf ("  submits acknowledged (durable): %.0f jobs/s (%.2f s)\n",
            (double) jobs / (t_acked - t0), t_acked - t0);
    printf ("  first submit -> last completion: %.0f jobs/s (%.2f s)\n",
            (double) jobs / (last - t0), last - t0);
    printf ("  %zu of %zu listed jobs succeeded\n", succeeded, listed);
    rc = succeeded == jobs ? 0 : 1;
    goto done;
fail:
    fprintf (stderr, "bench_queue_throughput: %s\n", segq_client_error (c));
done:
    segq_job_spec_destroy (&spec);
    segq_client_destroy (&c);
    bench_stop (&h);
    return rc;
}
