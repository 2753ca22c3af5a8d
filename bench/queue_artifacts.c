/*  queue_artifacts.c: artifact upload and download through segqd, chunked
    with credit, sha256 computed at every hop: a client uploads a file, an
    `echo` job passes it through a worker (download + upload), the client
    fetches the job's output.

        bench_queue_artifacts [MIB]     (default 256)
*/
#include "queue_common.h"

#define USAGE "bench_queue_artifacts [MIB]"

int
main (int argc, char **argv)
{
    size_t mib = bench_count_arg (argc, argv, 1, 256, USAGE);
    segq_malloc_for_chunks ();      /* as the segq CLI does */
    bench_machine ();
    harness_t *h = bench_start ("bench-artifacts", 1, 1);
    segq_client_t *c = harness_client (h, 60000);
    char path[600], back[600], err[512];
    snprintf (path, sizeof path, "%s/data.bin", h->dir);
    snprintf (back, sizeof back, "%s/data.back", h->dir);
    int rc = 1;
    segq_job_spec_t *spec = NULL;
    if (harness_write_random_file (path, mib << 20, 1) != 0) {
        fprintf (stderr, "cannot write %s\n", path);
        goto done;
    }
    double mb = (double) (mib << 20) / 1e6;
    char hash[SEGQ_HASH_HEX_LEN + 1], again[SEGQ_HASH_HEX_LEN + 1];
    uint64_t size;
    double t0 = bench_now ();
    if (segq_client_upload (c, path, "data.bin", hash, &size) < 0)
        goto fail;
    double t_up = bench_now () - t0;
    t0 = bench_now ();
    if (segq_client_upload (c, path, "data.bin", again, &size) < 0)
        goto fail;
    double t_have = bench_now () - t0;
    spec = segq_job_spec_new ("echo");
    if (segq_job_spec_input_hash (spec, "files/data.bin", hash, size, err, sizeof err) < 0) {
        fprintf (stderr, "%s\n", err);
        goto done;
    }
    char job[SEGQ_JOB_ID_MAX];
    t0 = bench_now ();
    if (segq_client_submit (c, spec, job, sizeof job) < 0)
        goto fail;
    segq_job_info_t info;
    if (harness_wait_final (c, job, 600000, &info) < 0 || info.state != SEGQ_JOB_SUCCEEDED
        || info.n_outputs != 1) {
        fprintf (stderr, "echo job %s did not succeed with one output\n", job);
        segq_job_info_clear (&info);
        goto done;
    }
    double t_echo = bench_now () - t0;
    char name[SEGQ_MAX_NAME];
    snprintf (name, sizeof name, "%s", info.outputs[0].name);
    segq_job_info_clear (&info);
    t0 = bench_now ();
    char got[SEGQ_HASH_HEX_LEN + 1];
    if (segq_client_fetch (c, job, name, back, got) < 0)
        goto fail;
    double t_down = bench_now () - t0;
    if (strcmp (got, hash) != 0) {
        fprintf (stderr, "downloaded sha256 %s is not the uploaded %s\n", got, hash);
        goto done;
    }
    printf ("artifacts: %zu MiB file, chunked with credit, sha256 at every hop\n", mib);
    printf ("  upload (client hash + PUT, broker hash + fsync): %.0f MB/s (%.2f s)\n", mb / t_up, t_up);
    printf ("  upload of a file the broker has (hash only):     %.0f MB/s (%.2f s)\n", mb / t_have, t_have);
    printf ("  download (GET, client hash + fsync):             %.0f MB/s (%.2f s)\n", mb / t_down, t_down);
    printf ("  upload + download:                               %.0f MB/s\n", 2 * mb / (t_up + t_down));
    printf ("  echo job through a worker (GET + PUT + copy):    %.2f s\n", t_echo);
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
