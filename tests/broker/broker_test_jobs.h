/*  The job machine over a real store, scheduler and artifact store in a
    temporary folder: the fixture of the tests of jobs.c and of what builds
    on it (accounting). Times are given, never read from a clock. */
#ifndef BROKER_TEST_JOBS_H
#define BROKER_TEST_JOBS_H

#include "broker_test_store.h"
#include "broker_test_util.h"
#include "jobs.h"

static char dir [256];
static segq__job_store_t *store;
static segq__sched_t *sched;
static segq__artifact_store_t *artifacts;
static segq__jobs_t *jobs;
static segq__sched_node_t *node;
static segq_config_t *limits; /* per-user limits of the next s_open; NULL: none */

static inline void
s_open (void)
{
    char path [300], err [512] = "";
    snprintf (path, sizeof path, "%s/segq.db", dir);
    store = segq__job_store_open (path, err, sizeof err);
    cr_assert_not_null (store, "%s", err);
    artifacts = segq__artifact_store_new (dir, err, sizeof err);
    cr_assert_not_null (artifacts, "%s", err);
    sched = segq__sched_new ();
    segq__jobs_config_t config = {
        .max_attempts = 2, .time_limit_s = 0, .orphan_grace_s = 5, .limits = limits
    };
    jobs = segq__jobs_new (store, sched, artifacts, &config);
    cr_assert_not_null (jobs);
    cr_assert_eq (segq__jobs_load (jobs, 1000.0, err, sizeof err), 0, "%s", err);
    node = segq__sched_node_new (sched, "node", 4, NULL, 0, ~0ULL, 16);
    cr_assert_not_null (node);
}

static inline void
s_close (void)
{
    segq__jobs_destroy (&jobs);
    segq__sched_destroy (&sched);
    segq__artifact_store_destroy (&artifacts);
    segq__job_store_destroy (&store);
}

static inline void
setup (void)
{
    test_tmpdir (dir, sizeof dir);
    s_open ();
}

static inline void
teardown (void)
{
    s_close ();
    test_rmdir (dir);
    segq_config_destroy (&limits);
}

static inline void
s_commit (void)
{
    char err [512];
    cr_assert_eq (segq__job_store_commit (store, err, sizeof err), 0, "%s", err);
}

static inline int
s_submit (const char *kind, const char *param, const char *value, char id [SEGQ__JOB_ID_MAX],
          char *err, size_t errlen)
{
    segq_submit_t submit = { .user = "alice", .kind = (char *) kind };
    if (param) {
        segq_value_t v = { .type = SEGQ_PARAM_STRING, .s = (char *) value };
        cr_assert_eq (segq_params_set (&submit.params, param, &v), 0);
    }
    int rc = segq__jobs_submit (jobs, &submit, 1000.0, id, err, errlen);
    segq_params_clear (&submit.params);
    return rc;
}

static inline segq__job_t *
s_job (const char *id)
{
    return segq__jobs_find (jobs, segq__job_id_parse (id));
}

static inline int
s_state (const char *id)
{
    segq__job_brief_t brief;
    cr_assert_eq (segq__job_store_brief (store, segq__job_id_parse (id), &brief), 0, "job %s", id);
    return brief.state;
}

/* Dispatch everything that fits and start it, as the broker does. */
static inline void
s_start (void *arg, segq__sched_job_t *sj, segq__sched_node_t *n, int32_t gpu)
{
    cr_assert_eq (segq__jobs_start (jobs, (segq__job_t *) sj, "node", gpu, 1001.0), 0);
}

#endif
