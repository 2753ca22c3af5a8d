/*  queue_files.c: many small files through segqd, as a generation's pairs
    go: a client uploads them one at a time, and another set of them
    several at a time (as `segq submit` uploads a folder), an `echo` job
    passes the second set through a worker (a GET of each input, a copy,
    and the upload of each output, several at a time), and the client
    fetches every output one at a time, then all of them again several at
    a time (as `segq fetch` does).
    What bounds each is the round trips and the broker's syncs per file,
    not bytes: the figures are milliseconds a file.

        bench_queue_files [FILES] [BYTES]     (default 4000 files of 1024 bytes)
*/
#define _GNU_SOURCE /* asprintf */
#include <sys/stat.h>
#include "queue_common.h"

#define USAGE "bench_queue_files [FILES] [BYTES]"

static void
s_print (const char *what, size_t files, bench_phase_t p)
{
    printf ("  %-46s %6.3f ms a file, %6.0f files/s (%.2f s; CPU s: client %.2f, segqd %.2f, "
            "worker %.2f)\n",
            what, 1e3 * p.wall / (double) files, (double) files / p.wall, p.wall, p.client,
            p.broker, p.worker);
}

/* The files under dir/in1 uploaded one at a time (segq_client_upload);
   0 or -1. */
static int
s_upload_all (harness_t *h, segq_client_t *c, size_t files)
{
    char path [700], hash [SEGQ_HASH_HEX_LEN + 1];
    for (size_t i = 0; i < files; i++) {
        snprintf (path, sizeof path, "%s/in1/f%06zu.bin", h->dir, i);
        if (segq_client_upload (c, path, NULL, hash, NULL) < 0) {
            fprintf (stderr, "upload of %s: %s\n", path, segq_client_error (c));
            return -1;
        }
    }
    return 0;
}

/* The files under dir/in8 as echo's inputs files/NAME, uploaded by the
   submit (several at a time, as `segq submit` does); 0 or -1. */
static int
s_add_inputs (harness_t *h, segq_job_spec_t *spec, size_t files)
{
    char path [700], name [64], err [512];
    for (size_t i = 0; i < files; i++) {
        snprintf (path, sizeof path, "%s/in8/f%06zu.bin", h->dir, i);
        snprintf (name, sizeof name, "files/f%06zu.bin", i);
        if (segq_job_spec_input_file (spec, name, path, err, sizeof err) < 0) {
            fprintf (stderr, "%s\n", err);
            return -1;
        }
    }
    return 0;
}

/* Every output of job fetched into dir/out1 one at a time, or into
   dir/out8 several at a time; 0 or -1. */
static int
s_fetch_all (harness_t *h, segq_client_t *c, const char *job, const segq_job_info_t *info,
             bool at_once)
{
    size_t n = info->n_outputs;
    const segq_artifact_t **outputs = calloc (n, sizeof *outputs);
    char **paths = calloc (n, sizeof *paths);
    int rc = outputs && paths ? 0 : -1;
    for (size_t i = 0; i < n && rc == 0; i++) {
        outputs [i] = &info->outputs [i];
        rc = asprintf (&paths [i], "%s/out%d/%s", h->dir, at_once ? 8 : 1, outputs [i]->name) < 0;
    }
    for (size_t i = 0; i < n && rc == 0 && !at_once; i++)
        rc = segq_client_fetch (c, job, outputs [i]->name, paths [i], NULL);
    if (rc == 0 && at_once)
        rc = segq_client_fetch_outputs (c, job, outputs, (const char *const *) paths, n, NULL);
    if (rc)
        fprintf (stderr, "fetch: %s\n", segq_client_error (c));
    for (size_t i = 0; paths && i < n; i++)
        free (paths [i]);
    free (paths);
    free (outputs);
    return rc ? -1 : 0;
}

/* Two sets of input files, in1 and in8: distinct contents (else the
   broker stores one, and the second upload of each is not stored again);
   and the folders out1 and out8 for the fetches. */
static int
s_write_inputs (harness_t *h, size_t files, size_t bytes)
{
    char in1 [600], in8 [600], out1 [600], out8 [600];
    snprintf (in1, sizeof in1, "%s/in1", h->dir);
    snprintf (in8, sizeof in8, "%s/in8", h->dir);
    snprintf (out1, sizeof out1, "%s/out1", h->dir);
    snprintf (out8, sizeof out8, "%s/out8", h->dir);
    if (bench_write_files (in1, files, bytes, 1) != 0
        || bench_write_files (in8, files, bytes, 1 + (unsigned) files) != 0)
        return -1;
    return mkdir (out1, 0700) == 0 && mkdir (out8, 0700) == 0 ? 0 : -1;
}

int
main (int argc, char **argv)
{
    size_t files = bench_count_arg (argc, argv, 1, 4000, USAGE);
    size_t bytes = bench_count_arg (argc, argv, 2, 1024, USAGE);
    bench_machine ();
    harness_t *h = bench_start ("bench-files", 1, 1);
    segq_client_t *c = harness_client (h, 60000);
    segq_job_spec_t *spec = segq_job_spec_new ("echo");
    segq_job_info_t info = { 0 };
    char job [SEGQ_JOB_ID_MAX];
    int rc = 1;
    if (!spec || s_write_inputs (h, files, bytes) != 0) {
        fprintf (stderr, "cannot write %zu input files under %s\n", files, h->dir);
        goto done;
    }
    bench_phase_t t0 = bench_mark (h);
    if (s_upload_all (h, c, files) != 0)
        goto done;
    bench_phase_t up = bench_since (h, t0);
    t0 = bench_mark (h);
    if (s_add_inputs (h, spec, files) != 0 || segq_client_submit (c, spec, job, sizeof job) < 0) {
        fprintf (stderr, "submit: %s\n", segq_client_error (c));
        goto done;
    }
    bench_phase_t up8 = bench_since (h, t0);
    t0 = bench_mark (h);
    if (harness_wait_final (c, job, 1800000, &info) < 0 || info.state != SEGQ_JOB_SUCCEEDED
        || info.n_outputs != files) {
        fprintf (stderr, "echo job %s did not succeed with %zu outputs\n", job, files);
        goto done;
    }
    bench_phase_t echo = bench_since (h, t0);
    t0 = bench_mark (h);
    if (s_fetch_all (h, c, job, &info, false) != 0)
        goto done;
    bench_phase_t down = bench_since (h, t0);
    t0 = bench_mark (h);
    if (s_fetch_all (h, c, job, &info, true) != 0)
        goto done;
    bench_phase_t down8 = bench_since (h, t0);
    printf ("many small files: %zu of %zu bytes, one segqd, one worker, %s\n", files, bytes,
            h->dir);
    s_print ("client upload, one at a time:", files, up);
    s_print ("client upload by the submit, several at a time:", files, up8);
    s_print ("echo job (worker: GET, copy, upload each):", files, echo);
    s_print ("client fetch, one at a time:", files, down);
    s_print ("client fetch, several at a time:", files, down8);
    rc = 0;
done:
    segq_job_info_clear (&info);
    segq_job_spec_destroy (&spec);
    segq_client_destroy (&c);
    bench_stop (&h);
    return rc;
}
