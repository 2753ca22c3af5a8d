/*  style_default.c: see style_default.h. */
#include "style_default.h"
#include <sqlite3.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* The training behind a generate job: its model input, named as a model
   of the catalogue or as the training job's output. NULL for a
   checkpoint file the user uploaded. */
static const char *s_training_sql = "SELECT COALESCE (model, ref_job) FROM inputs WHERE job = ?1"
                                    " AND (name = 'model' OR name LIKE 'model/%')";
/* A stylize job's content, when it is one job's output: restyled pairs
   keep the manifest of the generation they came from. */
static const char *s_content_sql = "SELECT ref_job FROM inputs WHERE job = ?1"
                                   " AND name = 'content' AND ref_job IS NOT NULL";
/* A training's image input: a file, or another job's output. */
static const char *s_image_sql = "SELECT name, hash, size, ref_job, ref_output FROM inputs"
                                 " WHERE job = ?1 AND (name = 'image' OR name LIKE 'image/%')";

/* Prepares sql, binds job to its one parameter and steps to its first
   row: 0 (a row), SEGQ_ENOENT (none) or SEGQ_EIO. The caller finalizes
   *stmt whatever this returns. */
static int
s_query_row (sqlite3 *db, const char *sql, uint64_t job, sqlite3_stmt **stmt)
{
    if (sqlite3_prepare_v2 (db, sql, -1, stmt, NULL) != SQLITE_OK)
        return SEGQ_EIO;
    sqlite3_bind_int64 (*stmt, 1, (sqlite3_int64) job);
    int step = sqlite3_step (*stmt);
    return step == SQLITE_ROW ? 0 : step == SQLITE_DONE ? SEGQ_ENOENT : SEGQ_EIO;
}

/* The generation behind a stylize job's pairs (its content's job, when
   that is one job of the same owner) into *job and brief; else both are
   left as they are, for the kind check to name. */
static void
s_follow_restyle (segq__job_store_t *store, uint64_t *job, segq__job_brief_t *brief)
{
    sqlite3_stmt *stmt = NULL;
    segq__job_brief_t content;
    if (strcmp (brief->kind, "stylize") == 0
        && s_query_row (segq__job_store_db (store), s_content_sql, *job, &stmt) == 0) {
        uint64_t from = (uint64_t) sqlite3_column_int64 (stmt, 0);
        bool one = sqlite3_step (stmt) == SQLITE_DONE;
        if (one && segq__job_store_brief (store, from, &content) == 0
            && strcmp (content.owner, brief->owner) == 0) {
            *job = from;
            *brief = content;
        }
    }
    sqlite3_finalize (stmt);
}

/* The content job of a submit that names no style; 0 when it names one,
   or when content is not one job's output (uploaded files: the worker
   finds their style beside them, as the CLI checks; an array or several
   jobs: the submit's checks refuse them, content being one job's). */
static uint64_t
s_content_job (const segq_submit_t *submit)
{
    uint64_t job = 0;
    size_t jobs = 0;
    for (size_t i = 0; i < submit->n_inputs; i++) {
        const segq_input_t *input = &submit->inputs [i];
        if (segq_input_under (input->name, "style"))
            return 0;
        if (segq_input_under (input->name, "content") && input->job) {
            job = segq__job_id_parse (input->job); /* 0 for an array */
            jobs++;
        }
    }
    return jobs == 1 ? job : 0;
}

/* How a message names the model behind generate job `job`. */
static void
s_model_words (segq__models_t *models, uint64_t job, uint64_t training, char *words, size_t len)
{
    char id [SEGQ__JOB_ID_MAX + 2], name [SEGQ_MAX_NAME], text [SEGQ__JOB_ID_MAX];
    segq__job_id_format (training, text);
    if (segq__models_of_input (models, job, "model", id, name, sizeof name) == 0)
        snprintf (words, len, "model %s (%s)", name, id);
    else
        snprintf (words, len, "training job %s", text);
}

/* The training job whose model generate job `job` ran, checked usable as
   caller's style source; 0 with *training set, or a refusal in err. */
static int
s_training (segq__job_store_t *store, segq__models_t *models, const segq__caller_t *caller,
            uint64_t job, const char *job_id, uint64_t *training, char *err, size_t errlen)
{
    sqlite3_stmt *stmt = NULL;
    int rc = s_query_row (segq__job_store_db (store), s_training_sql, job, &stmt);
    *training = rc == 0 ? (uint64_t) sqlite3_column_int64 (stmt, 0) : 0;
    sqlite3_finalize (stmt);
    segq__job_brief_t brief;
    if (rc == SEGQ_EIO)
        return SEGQ_EIO;
    if (!*training || segq__job_store_brief (store, *training, &brief) != 0
        || strcmp (brief.kind, "train") != 0) {
        snprintf (err, errlen,
                  "input 'style': not given, and job %s's model is a checkpoint file whose "
                  "training image the queue does not know: pass --style IMAGE",
                  job_id);
        return SEGQ_EINVAL;
    }
    char model [SEGQ_MAX_NAME + 64];
    s_model_words (models, job, *training, model, sizeof model);
    if (!segq__access_owner (caller, brief.owner)) {
        snprintf (err, errlen,
                  "input 'style': not given, and the default, the training image of %s "
                  "that made job %s's pairs, is %s's patient data: a shared model gives "
                  "its pairs, never its image. Pass --style IMAGE, a real image of yours",
                  model, job_id, brief.owner);
        return SEGQ_EPERM;
    }
    if (brief.purged) {
        snprintf (err, errlen,
                  "input 'style': not given, and the default, the training image of %s, was "
                  "purged: pass --style IMAGE",
                  model);
        return SEGQ_ENOENT;
    }
    return 0;
}

/* The style input: a copy of the training's image input, as the row of
   s_image_sql holds it (a file, or another job's output). */
static int
s_style_input (sqlite3_stmt *row, segq_input_t *style)
{
    const char *name = (const char *) sqlite3_column_text (row, 0);
    const char *hash = (const char *) sqlite3_column_text (row, 1);
    const char *slash = name ? strchr (name, '/') : NULL;
    *style = (segq_input_t){ .size = (uint64_t) sqlite3_column_int64 (row, 2) };
    if (hash) {
        snprintf (style->hash, sizeof style->hash, "%s", hash);
        const char *file = slash ? slash : "/image";
        size_t len = strlen ("style") + strlen (file) + 1;
        if (!(style->name = malloc (len)))
            return SEGQ_ENOMEM;
        snprintf (style->name, len, "style%s", file);
        return 0;
    }
    char job [SEGQ__JOB_ID_MAX];
    segq__job_id_format ((uint64_t) sqlite3_column_int64 (row, 3), job);
    const char *output = (const char *) sqlite3_column_text (row, 4);
    style->name = strdup ("style");
    style->job = strdup (job);
    style->output = output ? strdup (output) : NULL;
    bool ok = style->name && style->job && (!output || style->output);
    return ok ? 0 : SEGQ_ENOMEM;
}

/* Appends the training's image input to submit's inputs as `style`. */
static int
s_add_style (segq__job_store_t *store, segq_submit_t *submit, uint64_t training)
{
    sqlite3_stmt *row = NULL;
    int rc = s_query_row (segq__job_store_db (store), s_image_sql, training, &row);
    segq_input_t style = { 0 };
    if (rc == 0)
        rc = s_style_input (row, &style);
    sqlite3_finalize (row);
    segq_input_t *grown =
        rc == 0 ? realloc (submit->inputs, (submit->n_inputs + 1) * sizeof *grown) : NULL;
    if (rc == 0 && !grown)
        rc = SEGQ_ENOMEM;
    if (rc) {
        free (style.name);
        free (style.job);
        free (style.output);
        return rc == SEGQ_ENOENT ? SEGQ_EIO : rc; /* a training has an image */
    }
    submit->inputs = grown;
    submit->inputs [submit->n_inputs++] = style;
    return 0;
}

int
segq__style_default_resolve (segq__job_store_t *store, segq__models_t *models,
                             const segq__caller_t *caller, segq_submit_t *submit, char *err,
                             size_t errlen)
{
    uint64_t job = 0, training = 0;
    segq__job_brief_t brief;
    if (!submit->kind || strcmp (submit->kind, "stylize") != 0)
        return 0;
    /* unknown, or not the caller's to read: the submit's checks and the
       access rule say so, without this naming what the job holds */
    if (!(job = s_content_job (submit)) || segq__job_store_brief (store, job, &brief) != 0
        || !segq__access_owner (caller, brief.owner))
        return 0;
    s_follow_restyle (store, &job, &brief);
    char job_id [SEGQ__JOB_ID_MAX];
    segq__job_id_format (job, job_id);
    if (strcmp (brief.kind, "generate") != 0) {
        snprintf (err, errlen,
                  "input 'style': not given, and job %s is a %s job: the default style is "
                  "the training image of the model a generate job sampled: pass --style IMAGE",
                  job_id, brief.kind);
        return SEGQ_EINVAL;
    }
    int rc = s_training (store, models, caller, job, job_id, &training, err, errlen);
    if (rc == 0 && (rc = s_add_style (store, submit, training)) != 0)
        snprintf (err, errlen, "input 'style': cannot read job %s's training image: %s", job_id,
                  segq_strerror (rc));
    return rc;
}
