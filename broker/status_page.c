/*  status_page.c: see status_page.h.

    Each answer is what a client asking the same of the broker would get
    for the same user: the jobs through segq__broker_job_view (STATUS's
    view), the workers through segq__broker_worker_info (WORKERS'), the
    models through segq__models_request (MODEL's), and a thumbnail only
    as GET would give that output to that user, written to the audit log
    as a fetch like any other. */
#include "broker_internal.h"
#include "status_page.h"
#include "segq_records_json.h"
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define JOBS_DEFAULT 100
/* What `segq-run generate` writes beside the pairs (pipeline/contact_sheet.h). */
#define CONTACT_SHEET "contact_sheet.png"

/* broker/www/index.html, compiled in by cmake/embed.cmake. */
extern const unsigned char segq__www_index [];
extern const size_t segq__www_index_size;

void
segq__status_page_index (segq_broker_t *self, const segq__http_request_t *req,
                         segq__http_response_t *res)
{
    char *page = malloc (segq__www_index_size);
    if (!page) {
        segq__http_text (res, 500, "out of memory");
        return;
    }
    memcpy (page, segq__www_index, segq__www_index_size);
    res->status = 200;
    res->type = "text/html; charset=utf-8";
    res->body = page;
    res->size = segq__www_index_size;
    res->cache = true;
}

/* ?limit=, ?state= of /api/jobs; false after answering 400. */
static bool
s_jobs_query (const segq__http_request_t *req, uint32_t *limit, segq_job_state_t *state,
              segq__http_response_t *res)
{
    const char *limit_arg = segq__http_arg (req, "limit");
    const char *state_arg = segq__http_arg (req, "state");
    char *end = NULL;
    long n = limit_arg ? strtol (limit_arg, &end, 10) : JOBS_DEFAULT;
    if (limit_arg && (*end || n < 1 || n > SEGQ_STATUS_MAX)) {
        segq__http_text (res, 400, "limit=%s: expected 1 to %d", limit_arg, SEGQ_STATUS_MAX);
        return false;
    }
    *limit = (uint32_t) n;
    *state = 0;
    if (state_arg && segq_job_state_parse (state_arg, state) < 0) {
        segq__http_text (res, 400,
                         "state=%s: expected waiting, queued, running, succeeded, failed or "
                         "cancelled",
                         state_arg);
        return false;
    }
    return true;
}

void
segq__status_page_jobs (segq_broker_t *self, const segq__http_request_t *req,
                        segq__http_response_t *res)
{
    uint32_t limit;
    segq_job_state_t state;
    if (!s_jobs_query (req, &limit, &state, res))
        return;
    uint64_t ids [SEGQ_STATUS_MAX];
    size_t count = 0;
    int rc = segq__job_store_list_newest (self->store, 0, segq__http_arg (req, "user"), (int) state,
                                          limit, ids, &count);
    json_t *jobs = rc == 0 ? json_array () : NULL;
    /* the newest, shown oldest first as `segq status --limit N` shows them */
    for (size_t i = count; jobs && rc == 0 && i-- > 0;) {
        segq_job_info_t info = { 0 };
        rc = segq__broker_job_view (self, &req->viewer, ids [i], false, &info);
        if (rc == 0 && json_array_append_new (jobs, segq_job_info_json (&info)) != 0)
            rc = SEGQ_ENOMEM;
        segq_job_info_clear (&info);
    }
    if (rc) {
        json_decref (jobs);
        segq__http_text (res, 500, "cannot read the jobs: %s", segq_strerror (rc));
        return;
    }
    segq__http_json (res, jobs);
}

void
segq__status_page_workers (segq_broker_t *self, const segq__http_request_t *req,
                           segq__http_response_t *res)
{
    json_t *workers = json_array ();
    int rc = workers ? 0 : SEGQ_ENOMEM;
    for (worker_t *w = zhashx_first (self->by_node); w && rc == 0;
         w = zhashx_next (self->by_node)) {
        segq_worker_info_t info = { 0 };
        rc = segq__broker_worker_info (self, w, &info);
        if (rc == 0 && json_array_append_new (workers, segq_worker_info_json (&info)) != 0)
            rc = SEGQ_ENOMEM;
        segq_worker_info_clear (&info);
    }
    if (rc) {
        json_decref (workers);
        segq__http_text (res, 500, "out of memory listing the workers");
        return;
    }
    segq__http_json (res, workers);
}

/* MODEL for the viewer: op on ref (LIST: ref NULL). 0 with reply filled,
   or a code with err. Nobody (no token) may use no model. */
static int
s_models (segq_broker_t *self, const segq__http_request_t *req, segq_model_op_t op, const char *ref,
          segq_model_reply_t *reply, char *err, size_t errlen)
{
    if (!req->viewer.user)
        return segq_fail (err, errlen, SEGQ_ENOENT, "no model %s you may see", ref ? ref : "");
    segq_model_t request = { .op = op, .user = (char *) req->viewer.user, .model = (char *) ref };
    return segq__models_request (self->models, &req->viewer, &request, reply, err, errlen);
}

static void
s_model_reply_clear (segq_model_reply_t *reply)
{
    segq_models_free (&reply->models, reply->n_models);
    free (reply->next);
}

void
segq__status_page_models (segq_broker_t *self, const segq__http_request_t *req,
                          segq__http_response_t *res)
{
    segq_model_reply_t reply = { 0 };
    char err [1024] = "";
    json_t *models = json_array ();
    int rc =
        req->viewer.user ? s_models (self, req, SEGQ_MODEL_LIST, NULL, &reply, err, sizeof err) : 0;
    for (size_t i = 0; models && rc == 0 && i < reply.n_models; i++)
        if (json_array_append_new (models, segq_model_info_json (&reply.models [i], false)) != 0)
            rc = SEGQ_ENOMEM;
    s_model_reply_clear (&reply);
    if (rc || !models) {
        json_decref (models);
        segq__http_text (res, 500, "cannot list the models: %s", *err ? err : "out of memory");
        return;
    }
    segq__http_json (res, models);
}

/* Whether the viewer may have output `name` of job: GET's checks (the
   access rule, the outputs not purged, the output there). 0 with output
   filled, else a code with why. */
static int
s_may_fetch (segq_broker_t *self, const segq__http_request_t *req, const char *job,
             const char *name, segq_artifact_t *output, char *why, size_t len)
{
    uint64_t number = segq__job_id_parse (job);
    char purged [256];
    int rc = segq__access_job (self->access, &req->viewer, number, job, why, len);
    if (rc == 0 && segq__retention_purged (self->retention, number, purged, sizeof purged))
        rc = segq_fail (why, len, SEGQ_ENOENT, "the outputs of job %s were %s", job, purged);
    if (rc == 0 && segq__job_store_output (self->store, number, name, output) != 0)
        rc = segq_fail (why, len, SEGQ_ENOENT, "job %s has no output %s", job, name);
    return rc;
}

/* Output `name` of job `job` as the answer, if the viewer may have it,
   written to the audit log either way. 0, or the HTTP status with why. */
static unsigned
s_send_output (segq_broker_t *self, const segq__http_request_t *req, const char *job,
               const char *name, segq__http_response_t *res, char *why, size_t len)
{
    segq_artifact_t output = { 0 };
    int rc = s_may_fetch (self, req, job, name, &output, why, len);
    segq__download_t *download =
        rc ? NULL : segq__artifact_store_download (self->artifacts, output.hash, why, len);
    if (download) {
        res->fd_size = segq__download_size (download);
        res->fd = segq__download_take_fd (&download);
        res->status = 200;
        res->type = "image/png";
        res->cache = true;
    } else if (!rc)
        rc = SEGQ_ENOENT;
    json_t *event = segq__audit_event ("fetch", req->viewer.user, NULL, req->peer, NULL);
    segq__broker_audit_set (event, "job", job);
    segq__broker_audit_set (event, "name", name);
    segq__broker_audit_set (event, "hash", rc ? NULL : output.hash);
    segq__broker_audit_end (self, &event, rc ? why : NULL, false);
    segq_artifact_clear (&output);
    return rc == 0 ? 0 : rc == SEGQ_EPERM ? 403 : 404;
}

void
segq__status_page_thumbnail (segq_broker_t *self, const segq__http_request_t *req,
                             segq__http_response_t *res)
{
    char ref [128], why [1024] = "";
    const char *slash = strchr (req->rest, '/');
    size_t n = slash ? (size_t) (slash - req->rest) : 0;
    if (!slash || n >= sizeof ref || strcmp (slash, "/thumbnail.png") != 0) {
        segq__http_text (res, 404, "no page %s: a model's image is /api/models/ID/thumbnail.png",
                         req->path);
        return;
    }
    snprintf (ref, sizeof ref, "%.*s", (int) n, req->rest);
    segq_model_reply_t reply = { 0 };
    int rc = s_models (self, req, SEGQ_MODEL_SHOW, ref, &reply, why, sizeof why);
    const char *samples = rc == 0 && reply.n_models ? reply.models [0].samples : NULL;
    unsigned status = 404;
    if (rc == 0 && !samples)
        snprintf (why, sizeof why, "model %s has no generation you may read yet", ref);
    if (samples)
        status = s_send_output (self, req, samples, CONTACT_SHEET, res, why, sizeof why);
    if (status)
        segq__http_text (res, status, "%s", why);
    s_model_reply_clear (&reply);
}

/* ?by=user|kind|day (default user), as `segq usage --by`; false after
   answering 400. */
static bool
s_usage_by (const segq__http_request_t *req, segq_usage_by_t *by, segq__http_response_t *res)
{
    static const char *const names [] = { "user", "kind", "day" };
    const char *arg = segq__http_arg (req, "by");
    for (size_t i = 0; i < 3; i++)
        if (!arg || strcmp (arg, names [i]) == 0) {
            *by = arg ? (segq_usage_by_t) (i + 1) : SEGQ_USAGE_BY_USER;
            return true;
        }
    segq__http_text (res, 400, "by=%s: give user, kind or day", arg);
    return false;
}

void
segq__status_page_usage (segq_broker_t *self, const segq__http_request_t *req,
                         segq__http_response_t *res)
{
    segq_usage_t request = { .of_user = (char *) segq__http_arg (req, "user") };
    if (!s_usage_by (req, &request.by, res))
        return;
    segq_usage_row_t *rows = NULL;
    size_t n = 0;
    char err [512] = "";
    int rc = segq__broker_usage (self, &request, &rows, &n, err, sizeof err);
    json_t *answer =
        rc ? NULL : segq_usage_json (rows, n, request.by, segq__broker_half_life (self));
    for (size_t i = 0; i < n; i++)
        free (rows [i].key);
    free (rows);
    if (!answer) {
        segq__http_text (res, 500, "cannot read the accounting: %s", *err ? err : "out of memory");
        return;
    }
    segq__http_json (res, answer);
}
