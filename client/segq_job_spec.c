/*  segq_job_spec.c: a job to submit, checked against the schema table
    before anything goes on the wire. */
#include "client_internal.h"
#include "segq_fs.h"

#include <dirent.h>
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

segq_job_spec_t *
segq_job_spec_new (const char *kind)
{
    segq_job_spec_t *self = calloc (1, sizeof *self);
    if (!self)
        return NULL;
    if (!(self->kind = strdup (kind))) {
        free (self);
        return NULL;
    }
    self->kind_spec = segq_kind_find (kind);
    return self;
}

static void
s_input_clear (segq__spec_input_t *in)
{
    free (in->name);
    free (in->path);
    free (in->job);
    free (in->output);
    free (in->model);
}

void
segq_job_spec_destroy (segq_job_spec_t **self_p)
{
    segq_job_spec_t *self = *self_p;
    if (!self)
        return;
    for (size_t i = 0; i < self->n_inputs; i++)
        s_input_clear (&self->inputs [i]);
    free (self->inputs);
    for (size_t i = 0; i < self->n_after; i++)
        free (self->after [i]);
    free (self->after);
    segq_params_clear (&self->params);
    free (self->kind);
    free (self->retry);
    free (self);
    *self_p = NULL;
}

/* "sleep, echo, fail, noop": the kinds the table knows, for messages. */
static void
s_kind_names (char *buf, size_t len)
{
    size_t n, used = 0;
    const segq_kind_spec_t *kinds = segq_kinds (&n);
    buf [0] = 0;
    for (size_t i = 0; i < n && used < len; i++)
        used += (size_t) snprintf (buf + used, len - used, "%s%s", i ? ", " : "", kinds [i].name);
}

static int
s_check_kind (const segq_job_spec_t *self, char *err, size_t errlen)
{
    if (self->kind_spec)
        return SEGQ_OK;
    char names [512];
    s_kind_names (names, sizeof names);
    snprintf (err, errlen, "unknown job kind '%s' (known kinds: %s)", self->kind, names);
    return SEGQ_EKIND;
}

int
segq_job_spec_param (segq_job_spec_t *self, const char *name, const char *text, char *err,
                     size_t errlen)
{
    int rc = s_check_kind (self, err, errlen);
    if (rc < 0)
        return rc;
    const segq_param_spec_t *spec = segq_kind_param (self->kind_spec, name);
    if (!spec) {
        char names [512] = "";
        size_t used = 0;
        for (size_t i = 0; i < self->kind_spec->n_params && used < sizeof names; i++)
            used += (size_t) snprintf (names + used, sizeof names - used, "%s%s", i ? ", " : "",
                                       self->kind_spec->params [i].name);
        snprintf (err, errlen, "kind '%s' has no parameter '%s' (%s%s)", self->kind, name,
                  self->kind_spec->n_params ? "its parameters: " : "it takes none", names);
        return SEGQ_EINVAL;
    }
    segq_value_t value = { 0 };
    rc = segq_param_parse (spec, text, &value, err, errlen);
    if (rc < 0)
        return rc;
    rc = segq_params_set (&self->params, name, &value);
    segq_value_clear (&value);
    if (rc < 0)
        snprintf (err, errlen, "out of memory setting parameter '%s'", name);
    return rc;
}

static const segq_input_spec_t *
s_input_spec (const segq_kind_spec_t *kind, const char *name)
{
    for (size_t i = 0; i < kind->n_inputs; i++)
        if (strcmp (kind->inputs [i].name, name) == 0)
            return &kind->inputs [i];
    return NULL;
}

/* The declared input an input name belongs to: "files" for "files/a.txt"
   when `files` takes many; "image" for "image/polyp.jpg" (one file under
   its own name). */
static const segq_input_spec_t *
s_input_owner (const segq_kind_spec_t *kind, const char *name)
{
    const segq_input_spec_t *in = s_input_spec (kind, name);
    if (in)
        return in;
    const char *slash = strchr (name, '/');
    if (!slash)
        return NULL;
    char head [SEGQ_MAX_NAME];
    snprintf (head, sizeof head, "%.*s", (int) (slash - name), name);
    in = s_input_spec (kind, head);
    return in && slash [1] && (in->many || !strchr (slash + 1, '/')) ? in : NULL;
}

static int
s_check_input_name (const segq_job_spec_t *self, const char *name, char *err, size_t errlen)
{
    int rc = s_check_kind (self, err, errlen);
    if (rc < 0)
        return rc;
    if (!*name || strlen (name) >= SEGQ_MAX_NAME || strstr (name, "..") || name [0] == '/') {
        snprintf (err, errlen, "input name '%s' is not a valid relative name", name);
        return SEGQ_EINVAL;
    }
    if (s_input_owner (self->kind_spec, name))
        return SEGQ_OK;
    char names [512] = "";
    size_t used = 0;
    for (size_t i = 0; i < self->kind_spec->n_inputs && used < sizeof names; i++)
        used += (size_t) snprintf (names + used, sizeof names - used, "%s%s", i ? ", " : "",
                                   self->kind_spec->inputs [i].name);
    snprintf (err, errlen, "kind '%s' has no input '%s' (%s%s)", self->kind, name,
              self->kind_spec->n_inputs ? "its inputs: " : "it takes none", names);
    return SEGQ_EINVAL;
}

static segq__spec_input_t *
s_input_add (segq_job_spec_t *self, const char *name)
{
    segq__spec_input_t *inputs = realloc (self->inputs, (self->n_inputs + 1) * sizeof *inputs);
    if (!inputs)
        return NULL;
    self->inputs = inputs;
    segq__spec_input_t *in = &inputs [self->n_inputs];
    memset (in, 0, sizeof *in);
    if (!(in->name = strdup (name)))
        return NULL;
    self->n_inputs++;
    return in;
}

static const char *
s_basename (const char *path)
{
    const char *slash = strrchr (path, '/');
    return slash ? slash + 1 : path;
}

int
segq_job_spec_input_file (segq_job_spec_t *self, const char *name, const char *path, char *err,
                          size_t errlen)
{
    int rc = s_check_input_name (self, name, err, errlen);
    if (rc < 0)
        return rc;
    struct stat st;
    if (stat (path, &st) != 0 || !S_ISREG (st.st_mode) || access (path, R_OK) != 0) {
        snprintf (err, errlen, "input %s: cannot read file '%s' (does it exist?)", name, path);
        return SEGQ_ENOENT;
    }
    /* A file keeps its own name in the job directory: each file of a
       `many` input as name/FILE, a one-file input's as name/FILE too where
       the kind runs segq-run (which records the source's file name), so a
       model trained through the queue names polyp.jpg, not "image". */
    char full [2 * SEGQ_MAX_NAME];
    const segq_input_spec_t *spec = s_input_spec (self->kind_spec, name);
    snprintf (full, sizeof full, "%s/%s", name, s_basename (path));
    if (!spec
        || (!spec->many
            && (self->kind_spec->test_kind || strlen (full) >= SEGQ_MAX_NAME
                || !segq_name_valid (full))))
        snprintf (full, sizeof full, "%s", name);
    segq__spec_input_t *in = s_input_add (self, full);
    if (!in || !(in->path = strdup (path))) {
        snprintf (err, errlen, "out of memory");
        return SEGQ_ENOMEM;
    }
    return SEGQ_OK;
}

/* Adds every regular file under dir/rel (sorted, so the same folder makes
   the same job), each named name/rel/FILE. A symbolic link counts as the
   file it leads to when that lies inside the folder (root: its real path);
   any other link fails the walk (segq_fs_walk_entry). */
static int
s_input_tree (segq_job_spec_t *self, const char *name, const char *dir, const char *root,
              const char *rel, size_t *added, char *err, size_t errlen)
{
    char path [4096];
    snprintf (path, sizeof path, "%s%s%s", dir, *rel ? "/" : "", rel);
    struct dirent **entries = NULL;
    int n = scandir (path, &entries, NULL, alphasort);
    if (n < 0) {
        snprintf (err, errlen, "input %s: cannot read folder '%s' (%s)", name, path,
                  strerror (errno));
        return SEGQ_ENOENT;
    }
    int rc = SEGQ_OK;
    for (int i = 0; i < n; i++) {
        const char *entry = entries [i]->d_name;
        char sub [SEGQ_MAX_NAME], full [4096], real [4096], why [1024];
        struct stat st;
        if (rc || entry [0] == '.')
            goto next; /* ., .. and hidden files are no data */
        snprintf (sub, sizeof sub, "%s%s%s", rel, *rel ? "/" : "", entry);
        snprintf (full, sizeof full, "%s/%s", dir, sub);
        int walk = segq_fs_walk_entry (root, full, &st, real, sizeof real, why, sizeof why);
        if (walk == SEGQ_ENOENT)
            goto next; /* gone while the folder was read */
        if (walk) {
            snprintf (err, errlen, "input %s: %s", name, why);
            rc = walk;
            goto next;
        }
        if (S_ISDIR (st.st_mode))
            rc = s_input_tree (self, name, dir, root, sub, added, err, errlen);
        else if (S_ISREG (st.st_mode)) {
            char laid [SEGQ_MAX_NAME];
            if ((size_t) snprintf (laid, sizeof laid, "%s/%s", name, sub) >= sizeof laid
                || !segq_name_valid (laid)) {
                snprintf (err, errlen,
                          "input %s: '%s' cannot be an artifact name (too long, or "
                          "odd characters)",
                          name, full);
                rc = SEGQ_EINVAL;
            } else {
                rc = segq_job_spec_input_file (self, laid, real, err, errlen);
                (*added)++;
            }
        }
    next:
        free (entries [i]);
    }
    free (entries);
    return rc;
}

int
segq_job_spec_input_dir (segq_job_spec_t *self, const char *name, const char *dir, char *err,
                         size_t errlen)
{
    int rc = s_check_input_name (self, name, err, errlen);
    if (rc < 0)
        return rc;
    const char *top = strchr (name, '/');
    char head [SEGQ_MAX_NAME];
    snprintf (head, sizeof head, "%.*s", top ? (int) (top - name) : (int) strlen (name), name);
    const segq_input_spec_t *spec = s_input_spec (self->kind_spec, head);
    if (!spec || !spec->many) {
        snprintf (err, errlen, "input %s takes one file, not a folder", name);
        return SEGQ_EINVAL;
    }
    char root [PATH_MAX];
    if (!realpath (dir, root)) {
        snprintf (err, errlen, "input %s: cannot read folder '%s' (%s)", name, dir,
                  strerror (errno));
        return SEGQ_ENOENT;
    }
    size_t added = 0;
    rc = s_input_tree (self, name, dir, root, "", &added, err, errlen);
    if (rc == SEGQ_OK && added == 0) {
        snprintf (err, errlen, "input %s: folder '%s' has no files", name, dir);
        rc = SEGQ_EINVAL;
    }
    return rc;
}

int
segq_job_spec_input_hash (segq_job_spec_t *self, const char *name, const char *hash, uint64_t size,
                          char *err, size_t errlen)
{
    int rc = s_check_input_name (self, name, err, errlen);
    if (rc < 0)
        return rc;
    if (!segq_hash_valid (hash)) {
        snprintf (err, errlen, "input %s: '%s' is not a sha256 (64 lowercase hex digits)", name,
                  hash);
        return SEGQ_EINVAL;
    }
    segq__spec_input_t *in = s_input_add (self, name);
    if (!in) {
        snprintf (err, errlen, "out of memory");
        return SEGQ_ENOMEM;
    }
    memcpy (in->hash, hash, sizeof in->hash);
    in->size = size;
    return SEGQ_OK;
}

int
segq_job_spec_input_job (segq_job_spec_t *self, const char *name, const char *job,
                         const char *output, char *err, size_t errlen)
{
    int rc = s_check_input_name (self, name, err, errlen);
    if (rc < 0)
        return rc;
    if (!*job || strlen (job) >= SEGQ_JOB_ID_MAX) {
        snprintf (err, errlen, "input %s: '%s' is not a job id", name, job);
        return SEGQ_EINVAL;
    }
    /* One output into an input of many files goes beside them, as
       NAME/its file name: laid out as NAME itself it would be a file where
       the job's other inputs make NAME a folder. */
    const segq_input_spec_t *spec = s_input_owner (self->kind_spec, name);
    char laid [SEGQ_MAX_NAME];
    if (spec && spec->many && output && *output && strcmp (output, "*") != 0) {
        if ((size_t) snprintf (laid, sizeof laid, "%s/%s", name, s_basename (output))
            >= sizeof laid) {
            snprintf (err, errlen, "input %s: the name of output '%s' is too long", name, output);
            return SEGQ_EINVAL;
        }
        name = laid;
    }
    segq__spec_input_t *in = s_input_add (self, name);
    if (!in || !(in->job = strdup (job))
        || (output && *output && !(in->output = strdup (output)))) {
        snprintf (err, errlen, "out of memory");
        return SEGQ_ENOMEM;
    }
    return SEGQ_OK;
}

int
segq_job_spec_input_model (segq_job_spec_t *self, const char *name, const char *model, char *err,
                           size_t errlen)
{
    int rc = s_check_input_name (self, name, err, errlen);
    if (rc < 0)
        return rc;
    const segq_input_spec_t *spec = s_input_spec (self->kind_spec, name);
    if (!spec || !spec->catalogue) {
        snprintf (err, errlen, "input %s takes a file or a job's output, not a model ('%s')", name,
                  model);
        return SEGQ_EINVAL;
    }
    if (!*model || strlen (model) > 64 + 256) {
        snprintf (err, errlen, "input %s: '%s' is not a model name or id", name, model);
        return SEGQ_EINVAL;
    }
    segq__spec_input_t *in = s_input_add (self, name);
    if (!in || !(in->model = strdup (model))) {
        snprintf (err, errlen, "out of memory");
        return SEGQ_ENOMEM;
    }
    return SEGQ_OK;
}

int
segq_job_spec_input_arg (segq_job_spec_t *self, const char *arg, char *err, size_t errlen)
{
    const char *eq = strchr (arg, '=');
    if (!eq || eq == arg || !eq [1]) {
        snprintf (err, errlen, "--input '%s': expected name=FILE, name=JOB or name=JOB:output",
                  arg);
        return SEGQ_EINVAL;
    }
    char name [SEGQ_MAX_NAME];
    snprintf (name, sizeof name, "%.*s", (int) (eq - arg), arg);
    const char *ref = eq + 1;
    struct stat st;
    if (stat (ref, &st) == 0)
        return segq_job_spec_input_file (self, name, ref, err, errlen);
    return segq_job_spec_input_ref (self, name, ref, err, errlen);
}

int
segq_job_spec_input_ref (segq_job_spec_t *self, const char *name, const char *ref, char *err,
                         size_t errlen)
{
    const char *colon = strchr (ref, ':');
    const char *slash = strchr (ref, '/');
    size_t job_len = colon ? (size_t) (colon - ref) : strlen (ref);
    /* JOB:OUTPUT: an output may sit in a folder (JOB:images/1.png) */
    bool job_slash = memchr (ref, '/', job_len) != NULL;
    const segq_input_spec_t *spec = s_input_spec (self->kind_spec, name);
    /* a model: NAME, OWNER/NAME or m-ID, where the input takes one (the
       broker takes one spelt like a job id that names no model as the job) */
    bool model_like = !colon && !strchr (ref, '.') && (!slash || !strchr (slash + 1, '/'));
    if (spec && spec->catalogue && model_like)
        return segq_job_spec_input_model (self, name, ref, err, errlen);
    if (segq_hash_valid (ref))
        return segq_job_spec_input_hash (self, name, ref, 0, err, errlen);
    if (strncmp (ref, "m-", 2) == 0) {
        snprintf (err, errlen,
                  "input %s: '%s' names a trained model, and %s takes a file or a job's output "
                  "(a model goes to `segq submit generate --model`)",
                  name, ref, name);
        return SEGQ_EINVAL;
    }
    /* Job ids have neither '/' nor '.', so such a name was meant as a file
       that is missing. */
    if (job_slash || memchr (ref, '.', job_len) || job_len == 0 || job_len >= SEGQ_JOB_ID_MAX) {
        snprintf (err, errlen, "input %s: cannot read '%s' (no such file or folder%s)", name, ref,
                  spec && spec->catalogue ? ", model" : ", and not a job id");
        return SEGQ_ENOENT;
    }
    char job [SEGQ_JOB_ID_MAX];
    snprintf (job, sizeof job, "%.*s", (int) job_len, ref);
    return segq_job_spec_input_job (self, name, job, colon ? colon + 1 : NULL, err, errlen);
}

int
segq_job_spec_after (segq_job_spec_t *self, const char *job)
{
    char **after = realloc (self->after, (self->n_after + 1) * sizeof *after);
    if (!after)
        return SEGQ_ENOMEM;
    self->after = after;
    if (!(after [self->n_after] = strdup (job)))
        return SEGQ_ENOMEM;
    self->n_after++;
    return SEGQ_OK;
}

void
segq_job_spec_set_priority (segq_job_spec_t *self, int32_t priority)
{
    self->priority = priority;
}
void
segq_job_spec_set_gpu_mem (segq_job_spec_t *self, uint64_t bytes)
{
    self->gpu_mem = bytes;
}
void
segq_job_spec_set_cpu_slots (segq_job_spec_t *self, uint32_t slots)
{
    self->cpu_slots = slots;
}
void
segq_job_spec_set_time_limit (segq_job_spec_t *self, uint32_t seconds)
{
    self->time_limit_s = seconds;
}
void
segq_job_spec_set_max_attempts (segq_job_spec_t *self, uint32_t n)
{
    self->max_attempts = n;
}

int
segq_job_spec_set_retry (segq_job_spec_t *self, const char *job)
{
    free (self->retry);
    self->retry = strdup (job);
    return self->retry ? SEGQ_OK : SEGQ_ENOMEM;
}

/* Every input the kind needs with these parameters is given. */
static int
s_check_needed_inputs (const segq_job_spec_t *self, const segq_params_t *params, char *err,
                       size_t errlen)
{
    for (size_t i = 0; i < self->kind_spec->n_inputs; i++) {
        const segq_input_spec_t *spec = &self->kind_spec->inputs [i];
        bool found = false;
        for (size_t j = 0; j < self->n_inputs && !found; j++)
            found = s_input_owner (self->kind_spec, self->inputs [j].name) == spec;
        if (found && segq_kind_input_excluded (spec, params)) {
            snprintf (err, errlen, "kind '%s' takes input '%s' or parameter %s, not both",
                      self->kind, spec->name, spec->unless);
            return SEGQ_EINVAL;
        }
        if (!found && segq_kind_input_needed (spec, params)) {
            char flag [64];
            segq_flag_name (spec->name, flag, sizeof flag);
            snprintf (err, errlen,
                      "kind '%s' needs input '%s' (--%s FILE|JOB[:OUTPUT], or "
                      "--input %s=...)%s%s%s",
                      self->kind, spec->name, flag, spec->name,
                      spec->unless ? ", unless parameter " : "", spec->unless ? spec->unless : "",
                      spec->unless ? " is true" : "");
            return SEGQ_EINVAL;
        }
    }
    return SEGQ_OK;
}

int
segq_job_spec_validate (segq_job_spec_t *self, char *err, size_t errlen)
{
    int rc = s_check_kind (self, err, errlen);
    if (rc < 0)
        return rc;
    if (self->retry) {
        if (!self->params.count && !self->n_inputs && !self->n_after)
            return SEGQ_OK; /* the broker takes the job's own */
        snprintf (err, errlen,
                  "retry %s: the job's parameters, inputs and after are taken as "
                  "they were, and the spec gives none",
                  self->retry);
        return SEGQ_EINVAL;
    }
    /* checked with the defaults filled in, but sent as the user gave them:
       the broker fills the defaults (and draws a fresh seed where the kind
       wants one) */
    segq_params_t checked = { 0 };
    rc = segq_params_copy (&checked, &self->params);
    if (rc == 0)
        rc = segq_params_validate (self->kind_spec, &checked, err, errlen);
    if (rc == 0)
        rc = s_check_needed_inputs (self, &checked, err, errlen);
    segq_params_clear (&checked);
    if (rc < 0)
        return rc;
    for (size_t i = 0; i < self->n_inputs; i++) {
        const segq__spec_input_t *in = &self->inputs [i];
        const segq_input_spec_t *owner = s_input_owner (self->kind_spec, in->name);
        for (size_t j = 0; j < i; j++)
            if (strcmp (self->inputs [j].name, in->name) == 0
                || (owner && !owner->many
                    && s_input_owner (self->kind_spec, self->inputs [j].name) == owner)) {
                snprintf (err, errlen, "input '%s' is given twice",
                          owner && !owner->many ? owner->name : in->name);
                return SEGQ_EINVAL;
            }
        if (in->path && access (in->path, R_OK) != 0) {
            snprintf (err, errlen, "input %s: cannot read file '%s' (does it exist?)", in->name,
                      in->path);
            return SEGQ_ENOENT;
        }
    }
    return SEGQ_OK;
}

int
segq__spec_upload_inputs (segq_client_t *client, segq_job_spec_t *self)
{
    const char **paths = calloc (self->n_inputs + 1, sizeof *paths);
    const char **names = calloc (self->n_inputs + 1, sizeof *names);
    char (*hashes) [SEGQ_HASH_HEX_LEN + 1] = calloc (self->n_inputs + 1, sizeof *hashes);
    uint64_t *sizes = calloc (self->n_inputs + 1, sizeof *sizes);
    size_t *which = calloc (self->n_inputs + 1, sizeof *which);
    int rc = paths && names && hashes && sizes && which ? SEGQ_OK : segq__client_oom (client);
    size_t n = 0;
    for (size_t i = 0; i < self->n_inputs && rc == SEGQ_OK; i++) {
        const segq__spec_input_t *in = &self->inputs [i];
        if (in->path && !in->hash [0]) {
            paths [n] = in->path;
            names [n] = s_basename (in->path);
            which [n++] = i;
        }
    }
    if (rc == SEGQ_OK && n)
        rc = segq__client_upload_cached (client, paths, names, n, hashes, sizes);
    for (size_t k = 0; k < n && rc == SEGQ_OK; k++) {
        memcpy (self->inputs [which [k]].hash, hashes [k], sizeof hashes [k]);
        self->inputs [which [k]].size = sizes [k];
    }
    free (paths);
    free (names);
    free (hashes);
    free (sizes);
    free (which);
    return rc < 0 ? rc : SEGQ_OK;
}

int
segq__spec_to_submit (const segq_job_spec_t *self, const char *user, uint64_t req_id,
                      segq_msg_t **out)
{
    *out = NULL;
    segq_msg_t *msg = segq_msg_new (SEGQ_MSG_SUBMIT);
    if (!msg)
        return SEGQ_ENOMEM;
    segq_submit_t *s = &msg->u.submit;
    s->req_id = req_id;
    s->priority = self->priority;
    s->gpu_mem = self->gpu_mem;
    s->cpu_slots = self->cpu_slots;
    s->time_limit_s = self->time_limit_s;
    s->max_attempts = self->max_attempts;
    bool ok = (s->user = strdup (user)) && (s->kind = strdup (self->kind))
              && (!self->retry || (s->retry = strdup (self->retry)))
              && segq_params_copy (&s->params, &self->params) == SEGQ_OK;
    if (ok && self->n_inputs) {
        ok = (s->inputs = calloc (self->n_inputs, sizeof *s->inputs)) != NULL;
        for (size_t i = 0; ok && i < self->n_inputs; i++) {
            const segq__spec_input_t *in = &self->inputs [i];
            segq_input_t *dst = &s->inputs [i];
            s->n_inputs = i + 1;
            memcpy (dst->hash, in->hash, sizeof dst->hash);
            dst->size = in->size;
            ok = (dst->name = strdup (in->name)) && (!in->job || (dst->job = strdup (in->job)))
                 && (!in->output || (dst->output = strdup (in->output)))
                 && (!in->model || (dst->model = strdup (in->model)));
        }
    }
    if (ok && self->n_after) {
        ok = (s->after = calloc (self->n_after, sizeof *s->after)) != NULL;
        for (size_t i = 0; ok && i < self->n_after; i++) {
            s->n_after = i + 1;
            ok = (s->after [i] = strdup (self->after [i])) != NULL;
        }
    }
    if (!ok) {
        segq_msg_destroy (&msg);
        return SEGQ_ENOMEM;
    }
    *out = msg;
    return SEGQ_OK;
}
