/*  libsegq_program.c: a program built against an installed libsegq, as a
    lab's own tool would be: only <segq_client.h> and `pkg-config segq`.
    Against the broker at argv[1] it lists the job kinds, submits a noop
    job (no worker: it stays queued), reads it back and cancels it.
    Prints "libsegq ok: ..." and exits 0, or says what failed and exits 1. */
#include <segq_client.h>
#include <stdio.h>
#include <string.h>

int
main (int argc, char **argv)
{
    if (argc != 2) {
        fprintf (stderr, "usage: libsegq_program BROKER_URL\n");
        return 2;
    }
    segq_client_options_t options = { .broker = argv [1],
                                      .user = "installcheck",
                                      .broker_key = "" };
    segq_client_t *client = NULL;
    char err [1024] = "";
    int rc = segq_client_connect (&options, &client, err, sizeof err);
    if (rc) {
        fprintf (stderr, "connect: %s (%s)\n", err, segq_strerror (rc));
        return 1;
    }
    segq_kind_info_t *kinds = NULL;
    size_t n_kinds = 0;
    bool train = false;
    rc = segq_client_kinds (client, &kinds, &n_kinds);
    for (size_t i = 0; rc == 0 && i < n_kinds; i++)
        train = train || strcmp (kinds [i].name, "train") == 0;
    segq_kinds_free (&kinds, n_kinds);
    if (rc || !train) {
        fprintf (stderr, "kinds: %s\n", rc ? segq_client_error (client) : "no train kind");
        segq_client_destroy (&client);
        return 1;
    }
    segq_job_spec_t *spec = segq_job_spec_new ("noop");
    char job [SEGQ_JOB_ID_MAX] = "";
    rc = spec ? segq_client_submit (client, spec, job, sizeof job) : SEGQ_ENOMEM;
    segq_job_spec_destroy (&spec);
    segq_job_info_t info = { 0 };
    if (rc == 0)
        rc = segq_client_job (client, job, false, &info);
    bool queued = rc == 0 && info.state == SEGQ_JOB_QUEUED;
    segq_job_info_clear (&info);
    const char *jobs [] = { job };
    segq_cancel_outcome_t *outcomes = NULL;
    size_t n_outcomes = 0;
    if (rc == 0)
        rc = segq_client_cancel (client, jobs, 1, &outcomes, &n_outcomes);
    segq_cancel_outcomes_free (&outcomes, n_outcomes);
    if (rc || !queued) {
        fprintf (stderr, "submit, status, cancel: %s\n",
                 rc ? segq_client_error (client) : "the job is not queued");
        segq_client_destroy (&client);
        return 1;
    }
    printf ("libsegq ok: %zu kinds, job %s submitted, queued and cancelled\n", n_kinds, job);
    segq_client_destroy (&client);
    return 0;
}
