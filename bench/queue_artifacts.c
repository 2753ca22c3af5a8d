/*  queue_artifacts.c: artifact upload and download through segqd, chunked
    with credit, sha256 computed at every hop: a client uploads a file, an
    `echo` job passes it through a worker (download + upload), the client
    fetches the job's output.

        bench_queue_artifacts [MIB]     (default 256)
*/
#include "queue_common.h"
#include "segq_memory.h"

#define USAGE "bench_queue_artifacts [MIB]"

static void
s_print (const char *what, double mb, bench_phase_t p)
{
    printf ("  %-50s %5.0f MB/s (%.2f s; CPU s: client %.2f, segqd %.2f, worker %.2f)\n", what,
            mb / p.wall, p.wall, p.client, p.broker, p.worker);
}

int
main (int argc, char **argv)
{
    size_t mib = bench_count_arg (argc, argv, 1, 256, USAGE);
    segq_malloc_for_chunks (); /* as the segq CLI does */
    bench_machine ();
    harness_t *h = bench_start ("bench-artifacts", 1, 1);
    segq_client_t *c = harness_client (h, 60000);
    char path [600], path2 [600], path3 [600], back [600], err [512];
    snprintf (path, sizeof path, "%s/data.bin", h->dir);
    snprintf (path2, sizeof path2, "%s/data2.bin", h->dir);
    snprintf (path3, sizeof path3, "%s/warm.bin", h->dir);
    snprintf (back, sizeof back, "%s/data.back", h->dir);
    int rc = 1;
    segq_job_spec_t *spec = NULL;
    if (harness_write_random_file (path, mib << 20, 1) != 0
        || harness_write_random_file (path2, mib << 20, 2) != 0
        || harness_write_random_file (path3, mib << 20, 3) != 0) {
        fprintf (stderr, "cannot write %s\n", path);
        goto done;
    }
    /* on disk before the clock starts, as a user's files would be: else the
       kernel writes them back during the measured transfers */
    sync ();
    double mb = (double) (mib << 20) / 1e6;
    char hash [SEGQ_HASH_HEX_LEN + 1], again [SEGQ_HASH_HEX_LEN + 1];
    uint64_t size;
    /* A fresh segqd's first upload costs more (its first 256 MiB of chunk
       buffers and page cache: 0.1 CPU-s more in segqd), which would favour
       whichever path is measured second: warm it up first. */
    bench_phase_t t0 = bench_mark (h);
    if (segq_client_upload (c, path3, "warm.bin", again, &size) < 0)
        goto fail;
    bench_phase_t warm = bench_since (h, t0);
    /* the default (segq submit's): hash while sending, named at the end */
    t0 = bench_mark (h);
    if (segq_client_upload (c, path, "data.bin", hash, &size) < 0)
        goto fail;
    bench_phase_t up = bench_since (h, t0);
    /* the alternative for a new file: hash first, then PUT names it */
    t0 = bench_mark (h);
    if (segq_client_upload_hash_first (c, path2, "data2.bin", again, &size) < 0)
        goto fail;
    bench_phase_t first = bench_since (h, t0);
    /* a file the broker has: hash first skips the transfer ... */
    t0 = bench_mark (h);
    if (segq_client_upload_hash_first (c, path, "data.bin", again, &size) < 0)
        goto fail;
    bench_phase_t have = bench_since (h, t0);
    /* ... hash at the end sends it all, and the broker drops its copy */
    t0 = bench_mark (h);
    if (segq_client_upload (c, path, "data.bin", again, &size) < 0)
        goto fail;
    bench_phase_t resend = bench_since (h, t0);
    spec = segq_job_spec_new ("echo");
    if (segq_job_spec_input_hash (spec, "files/data.bin", hash, size, err, sizeof err) < 0) {
        fprintf (stderr, "%s\n", err);
        goto done;
    }
    char job [SEGQ_JOB_ID_MAX];
    t0 = bench_mark (h);
    if (segq_client_submit (c, spec, job, sizeof job) < 0)
        goto fail;
    segq_job_info_t info;
    if (harness_wait_final (c, job, 600000, &info) < 0 || info.state != SEGQ_JOB_SUCCEEDED
        || info.n_outputs != 1) {
        fprintf (stderr, "echo job %s did not succeed with one output\n", job);
        segq_job_info_clear (&info);
        goto done;
    }
    bench_phase_t echo = bench_since (h, t0);
    char name [SEGQ_MAX_NAME];
    snprintf (name, sizeof name, "%s", info.outputs [0].name);
    segq_job_info_clear (&info);
    t0 = bench_mark (h);
    char got [SEGQ_HASH_HEX_LEN + 1];
    if (segq_client_fetch (c, job, name, back, got) < 0)
        goto fail;
    bench_phase_t down = bench_since (h, t0);
    if (strcmp (got, hash) != 0) {
        fprintf (stderr, "downloaded sha256 %s is not the uploaded %s\n", got, hash);
        goto done;
    }
    printf ("artifacts: %zu MiB file, chunked with credit, sha256 at every hop\n", mib);
    s_print ("first upload into a fresh segqd (warm-up):", mb, warm);
    s_print ("upload, hash at the end (default):", mb, up);
    s_print ("upload, hash first (new file):", mb, first);
    s_print ("re-upload, hash first (broker has it: hash only):", mb, have);
    s_print ("re-upload, hash at the end (sent, copy dropped):", mb, resend);
    s_print ("download (GET, client hash + fsync):", mb, down);
    printf ("  %-50s %5.0f MB/s\n", "upload + download:", 2 * mb / (up.wall + down.wall));
    s_print ("echo job through a worker (GET + PUT + copy):", mb, echo);
    rc = 0;
    goto done;
fail:
    fprintf (stderr, "bench_queue_artifacts: %s\n", segq_client_error (c));
done:
    segq_job_spec_destroy (&spec);
    segq_client_destroy (&c);
    bench_stop (&h);
    return rc;
}
