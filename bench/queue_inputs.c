/*  queue_inputs.c: one job with many large inputs through a worker, as an
    evaluate or stylize job takes a generation's files: the client uploads
    them, then an `echo` job's worker fetches every one (GET), copies it
    and uploads it back. The figure beside the job's time is what segqd
    holds meanwhile: its peak resident memory over the job (VmHWM, reset
    just before the submit), which the chunks it has read ahead for the
    worker's open fetches make up.

        bench_queue_inputs [FILES] [MIB]     (default 64 files of 4 MiB)
*/
#include "queue_common.h"

#define USAGE "bench_queue_inputs [FILES] [MIB]"

/* segqd's resident memory now and at its peak since the last reset, MiB;
   -1 where unknown. */
static void
s_rss (pid_t pid, double *now, double *peak)
{
    char path [64], line [256];
    snprintf (path, sizeof path, "/proc/%d/status", (int) pid);
    *now = *peak = -1;
    FILE *f = fopen (path, "r");
    while (f && fgets (line, sizeof line, f)) {
        unsigned long kib;
        if (sscanf (line, "VmHWM: %lu kB", &kib) == 1)
            *peak = (double) kib / 1024;
        else if (sscanf (line, "VmRSS: %lu kB", &kib) == 1)
            *now = (double) kib / 1024;
    }
    if (f)
        fclose (f);
}

/* Resets pid's peak resident memory to what it holds now (Linux 4.0+). */
static int
s_reset_peak (pid_t pid)
{
    char path [64];
    snprintf (path, sizeof path, "/proc/%d/clear_refs", (int) pid);
    FILE *f = fopen (path, "w");
    int rc = f && fputs ("5", f) >= 0 ? 0 : -1;
    if (f && fclose (f) != 0)
        rc = -1;
    return rc;
}

/* The n files under dir uploaded one by one, each an input files/fNNNNNN
   of spec. 0, or -1 with why on stderr. */
static int
s_inputs (segq_client_t *c, segq_job_spec_t *spec, const char *dir, size_t n)
{
    char path [700], name [64], hash [SEGQ_HASH_HEX_LEN + 1], err [512];
    for (size_t i = 0; i < n; i++) {
        snprintf (path, sizeof path, "%s/f%06zu.bin", dir, i);
        snprintf (name, sizeof name, "files/f%06zu", i);
        uint64_t size;
        if (segq_client_upload (c, path, NULL, hash, &size) < 0) {
            fprintf (stderr, "upload of %s: %s\n", path, segq_client_error (c));
            return -1;
        }
        if (segq_job_spec_input_hash (spec, name, hash, size, err, sizeof err) < 0) {
            fprintf (stderr, "%s\n", err);
            return -1;
        }
    }
    return 0;
}

int
main (int argc, char **argv)
{
    size_t files = bench_count_arg (argc, argv, 1, 64, USAGE);
    size_t mib = bench_count_arg (argc, argv, 2, 4, USAGE);
    bench_machine ();
    harness_t *h = bench_start ("bench-inputs", 1, 1);
    segq_client_t *c = harness_client (h, 60000);
    segq_job_spec_t *spec = segq_job_spec_new ("echo");
    char dir [600], job [SEGQ_JOB_ID_MAX];
    snprintf (dir, sizeof dir, "%s/in", h->dir);
    int rc = 1;
    if (!spec || bench_write_files (dir, files, mib << 20, 1) != 0) {
        fprintf (stderr, "cannot write %zu files under %s\n", files, dir);
        goto done;
    }
    double before, peak;
    if (s_inputs (c, spec, dir, files) != 0 || s_reset_peak (h->broker) != 0)
        goto done;
    s_rss (h->broker, &before, &peak);
    bench_phase_t t0 = bench_mark (h);
    if (segq_client_submit (c, spec, job, sizeof job) < 0) {
        fprintf (stderr, "submit: %s\n", segq_client_error (c));
        goto done;
    }
    segq_job_info_t info;
    if (harness_wait_final (c, job, 600000, &info) < 0 || info.state != SEGQ_JOB_SUCCEEDED
        || info.n_outputs != files) {
        fprintf (stderr, "echo job %s did not succeed with %zu outputs\n", job, files);
        segq_job_info_clear (&info);
        goto done;
    }
    segq_job_info_clear (&info);
    bench_phase_t echo = bench_since (h, t0);
    double after;
    s_rss (h->broker, &after, &peak);
    double mb = (double) files * (double) (mib << 20) / 1e6;
    printf ("inputs: one echo job of %zu inputs of %zu MiB through a worker (GET, copy, PUT "
            "each)\n",
            files, mib);
    printf ("  %-34s %6.2f s, %5.0f MB/s each way (CPU s: segqd %.2f, worker %.2f)\n",
            "the job:", echo.wall, mb / echo.wall, echo.broker, echo.worker);
    printf ("  %-34s %6.0f MiB at its peak (%.0f MiB before, %.0f after)\n",
            "segqd's resident memory meanwhile:", peak, before, after);
    rc = 0;
done:
    segq_job_spec_destroy (&spec);
    segq_client_destroy (&c);
    bench_stop (&h);
    return rc;
}
