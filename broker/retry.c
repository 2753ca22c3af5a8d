/*  retry.c: a SUBMIT with `retry`, filled from the job it names (retry.h). */
#include "retry.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* The job a retry names may be submitted again by this caller. */
static int
s_check_job (const segq__caller_t *caller, const segq_submit_t *submit,
             const segq__job_brief_t *brief, char *err, size_t errlen)
{
    const char *id = submit->retry;
    if (!caller->user || strcmp (caller->user, brief->owner) != 0) {
        snprintf (err, errlen, "retry %s: the job is %s's: only its owner may submit it again", id,
                  brief->owner);
        return SEGQ_EPERM;
    }
    if (brief->state != SEGQ_JOB_FAILED && brief->state != SEGQ_JOB_CANCELLED) {
        bool done = brief->state == SEGQ_JOB_SUCCEEDED;
        snprintf (err, errlen,
                  "retry %s: the job %s%s: only a job that failed or was cancelled is submitted "
                  "again%s",
                  id, done ? "" : "is ", segq_job_state_name ((segq_job_state_t) brief->state),
                  done ? " (submit a new one for more)" : "");
        return SEGQ_ESTATE;
    }
    if (brief->purged) {
        snprintf (err, errlen, "retry %s: its files were purged: submit the job anew", id);
        return SEGQ_ENOENT;
    }
    if (!submit->kind || strcmp (submit->kind, brief->kind) != 0) {
        snprintf (err, errlen, "retry %s: the job is a %s, not a %s", id, brief->kind,
                  submit->kind ? submit->kind : "");
        return SEGQ_EINVAL;
    }
    if (submit->params.count || submit->n_inputs || submit->n_after) {
        snprintf (err, errlen,
                  "retry %s: a retry takes the job's parameters, inputs and --after as they were, "
                  "and gives none of its own",
                  id);
        return SEGQ_EINVAL;
    }
    return 0;
}

/* Job `number`'s newest retry (that one's newest, ...: one query), or
   `number` itself when it has none. */
static uint64_t
s_newest (segq__job_store_t *store, uint64_t number)
{
    uint64_t newer = segq__job_store_newest_retry (store, number);
    return newer ? newer : number;
}

/* A job the retried one named (an input's, an --after's), or its newest
   retry: a chain retried in order (a training, then the generation that
   read it) runs again as a chain. A copy, or NULL. */
static char *
s_current (segq__job_store_t *store, const char *id)
{
    uint64_t number = segq__job_id_parse (id);
    if (!number)
        return strdup (id); /* a job array: its jobs are the inputs' own */
    char now [SEGQ__JOB_ID_MAX];
    segq__job_id_format (s_newest (store, number), now);
    return strdup (now);
}

/* A job retried already stands for its newest retry: that one is retried
   if it failed or was cancelled too (submit->retry names it from now on);
   while it waits or runs, or once it succeeded, there is nothing to do. */
static int
s_take_newest (segq_submit_t *submit, uint64_t newest, const segq__job_brief_t *brief, char *err,
               size_t errlen)
{
    char id [SEGQ__JOB_ID_MAX];
    segq__job_id_format (newest, id);
    if (brief->state != SEGQ_JOB_FAILED && brief->state != SEGQ_JOB_CANCELLED) {
        snprintf (err, errlen, "retry %s: it was retried already as %s, which %s%s", submit->retry,
                  id, brief->state == SEGQ_JOB_SUCCEEDED ? "" : "is ",
                  segq_job_state_name ((segq_job_state_t) brief->state));
        return SEGQ_ESTATE;
    }
    char *named = strdup (id);
    if (!named)
        return SEGQ_ENOMEM;
    free (submit->retry);
    submit->retry = named;
    return 0;
}

/* One stored input in the form a client sends: an artifact by hash, a
   job's output by reference (resolved again, to a retry of that job if
   it has one), a model by id (checked again by the access rule). */
static int
s_copy_input (segq__job_store_t *store, const segq_input_t *from, segq_input_t *to)
{
    *to = (segq_input_t){ .name = strdup (from->name) };
    bool ok = to->name != NULL;
    if (from->model)
        ok = ok && (to->model = strdup (from->model));
    else if (from->job) {
        ok = ok && (to->job = s_current (store, from->job));
        ok = ok && (!from->output || (to->output = strdup (from->output)));
    } else {
        memcpy (to->hash, from->hash, sizeof to->hash);
        to->size = from->size;
    }
    return ok ? 0 : SEGQ_ENOMEM;
}

/* A job the copy reads (or waits for) that failed, or was cancelled, and
   has no retry: said the way out, which a submit's own refusal ("will
   never produce anything") does not. */
static int
s_check_read (segq__job_store_t *store, const segq_submit_t *submit, const char *job, char *err,
              size_t errlen)
{
    segq__job_brief_t brief;
    uint64_t number = segq__job_id_parse (job);
    if (!number || segq__job_store_brief (store, number, &brief) != 0
        || (brief.state != SEGQ_JOB_FAILED && brief.state != SEGQ_JOB_CANCELLED))
        return 0;
    snprintf (err, errlen,
              "retry %s: it needs job %s, which %s: retry the two together (segq retry %s %s)",
              submit->retry, job, segq_job_state_name ((segq_job_state_t) brief.state), job,
              submit->retry);
    return SEGQ_EINVAL;
}

/* The job's params, inputs and after, copied into the submit. */
static int
s_copy_job (segq__job_store_t *store, const segq_job_info_t *info, segq_submit_t *submit, char *err,
            size_t errlen)
{
    int rc = segq_params_copy (&submit->params, &info->params);
    if (rc == 0 && info->n_inputs
        && !(submit->inputs = calloc (info->n_inputs, sizeof *submit->inputs)))
        rc = SEGQ_ENOMEM;
    for (size_t i = 0; rc == 0 && i < info->n_inputs; i++) {
        rc = s_copy_input (store, &info->inputs [i], &submit->inputs [i]);
        submit->n_inputs = i + 1;
        if (rc == 0 && submit->inputs [i].job)
            rc = s_check_read (store, submit, submit->inputs [i].job, err, errlen);
    }
    if (rc == 0 && info->n_after && !(submit->after = calloc (info->n_after, sizeof (char *))))
        rc = SEGQ_ENOMEM;
    for (size_t i = 0; rc == 0 && i < info->n_after; i++) {
        submit->after [i] = s_current (store, info->after [i]);
        submit->n_after = i + 1;
        rc = submit->after [i] ? s_check_read (store, submit, submit->after [i], err, errlen)
                               : SEGQ_ENOMEM;
    }
    return rc;
}

int
segq__retry_fill (segq__job_store_t *store, const segq__caller_t *caller, segq_submit_t *submit,
                  char *err, size_t errlen)
{
    if (!submit->retry)
        return 0;
    uint64_t named = segq__job_id_parse (submit->retry);
    uint64_t number = named ? s_newest (store, named) : 0;
    segq__job_brief_t brief;
    int rc = number ? segq__job_store_brief (store, number, &brief) : SEGQ_ENOENT;
    if (rc == SEGQ_ENOENT) {
        char unknown [SEGQ_MAX_NAME + 128];
        segq__job_unknown (submit->retry, unknown, sizeof unknown);
        snprintf (err, errlen, "retry: %s", unknown);
    }
    if (rc == 0 && number != named && segq__access_owner (caller, brief.owner))
        rc = s_take_newest (submit, number, &brief, err, errlen);
    if (rc == 0)
        rc = s_check_job (caller, submit, &brief, err, errlen);
    segq_job_info_t info = { 0 };
    if (rc == 0)
        rc = segq__job_store_info (store, number, false, &info);
    if (rc == 0)
        rc = s_copy_job (store, &info, submit, err, errlen);
    if (rc == 0 && !submit->gpu_mem && !submit->cpu_slots) {
        submit->gpu_mem = info.gpu_mem;
        submit->cpu_slots = info.cpu_slots;
    }
    if (rc == 0 && !submit->time_limit_s)
        submit->time_limit_s = info.time_limit_s;
    if (rc == 0 && !submit->max_attempts)
        submit->max_attempts = info.max_attempts;
    segq_job_info_clear (&info);
    return rc;
}

int
segq__retry_record (segq__job_store_t *store, const segq_submit_t *submit, const char *id,
                    double now)
{
    if (!submit->retry)
        return 0;
    uint64_t of = segq__job_id_parse (submit->retry), job = segq__job_id_parse (id);
    segq_artifact_t checkpoint = { 0 };
    uint32_t step = 0;
    int rc = segq__job_store_insert_retry (store, job, of);
    if (rc == 0)
        rc = segq__job_store_checkpoint (store, of, &checkpoint, &step);
    if (rc == 0)
        rc = segq__job_store_set_checkpoint (store, job, 0, &checkpoint, step, now);
    segq_artifact_clear (&checkpoint);
    return rc == SEGQ_ENOENT ? 0 : rc;
}
