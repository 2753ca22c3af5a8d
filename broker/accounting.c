/*  accounting.c: see accounting.h. Statements are prepared per call: runs
    end a few times a second at most, and queries are people's. */
#include "accounting.h"
#include "segq_error.h"

#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int
segq__accounting_record (segq__job_store_t *store, const segq__run_usage_t *run)
{
    sqlite3 *db = segq__job_store_db (store);
    sqlite3_stmt *stmt;
    if (sqlite3_prepare_v2 (db,
                            "INSERT OR REPLACE INTO usage (job, attempt, owner, kind, outcome,"
                            " started, ended, cpu_slots, gpu_mem, cpu_seconds, max_rss, gpu_peak)"
                            " VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12)",
                            -1, &stmt, NULL)
        != SQLITE_OK)
        return SEGQ_EIO;
    sqlite3_bind_int64 (stmt, 1, (sqlite3_int64) run->job);
    sqlite3_bind_int64 (stmt, 2, run->attempt);
    sqlite3_bind_text (stmt, 3, run->owner, -1, SQLITE_STATIC);
    sqlite3_bind_text (stmt, 4, run->kind, -1, SQLITE_STATIC);
    sqlite3_bind_int (stmt, 5, run->outcome);
    sqlite3_bind_double (stmt, 6, run->started);
    sqlite3_bind_double (stmt, 7, run->ended > run->started ? run->ended : run->started);
    sqlite3_bind_int64 (stmt, 8, run->cpu_slots);
    sqlite3_bind_int64 (stmt, 9, (sqlite3_int64) run->gpu_mem);
    /* unknown measurements stay NULL, so sums and maxima skip them */
    if (run->cpu_seconds > 0)
        sqlite3_bind_double (stmt, 10, run->cpu_seconds);
    if (run->max_rss)
        sqlite3_bind_int64 (stmt, 11, (sqlite3_int64) run->max_rss);
    if (run->gpu_peak)
        sqlite3_bind_int64 (stmt, 12, (sqlite3_int64) run->gpu_peak);
    int rc = sqlite3_step (stmt) == SQLITE_DONE ? 0 : SEGQ_EIO;
    sqlite3_finalize (stmt);
    return rc;
}

/* The SQL of a grouped query: one statement per grouping, so the key is
   never spliced in from outside. */
static const char *
s_query_sql (segq_usage_by_t by)
{
#define S_USAGE_SQL(key)                                                                           \
    "SELECT " key ", count(*), count(DISTINCT job), sum(ended - started),"                         \
    " sum(cpu_slots * (ended - started)), sum(gpu_mem * (ended - started)),"                       \
    " coalesce(sum(cpu_seconds), 0), coalesce(max(max_rss), 0), coalesce(max(gpu_peak), 0)"        \
    " FROM usage WHERE (?1 IS NULL OR owner = ?1) AND ended >= ?2 AND (?3 = 0 OR ended < ?3)"      \
    " GROUP BY 1 ORDER BY 1 LIMIT ?4"
    switch (by) {
    case SEGQ_USAGE_BY_KIND:
        return S_USAGE_SQL ("kind");
    case SEGQ_USAGE_BY_DAY:
        return S_USAGE_SQL ("date(ended, 'unixepoch')");
    default:
        return S_USAGE_SQL ("owner");
    }
#undef S_USAGE_SQL
}

static int
s_row_read (sqlite3_stmt *stmt, segq_usage_row_t *row)
{
    const char *key = (const char *) sqlite3_column_text (stmt, 0);
    *row = (segq_usage_row_t){
        .key = strdup (key ? key : ""),
        .runs = (uint64_t) sqlite3_column_int64 (stmt, 1),
        .jobs = (uint64_t) sqlite3_column_int64 (stmt, 2),
        .run_seconds = sqlite3_column_double (stmt, 3),
        .cpu_slot_seconds = sqlite3_column_double (stmt, 4),
        .gpu_mem_seconds = sqlite3_column_double (stmt, 5),
        .cpu_seconds = sqlite3_column_double (stmt, 6),
        .max_rss = (uint64_t) sqlite3_column_int64 (stmt, 7),
        .gpu_peak = (uint64_t) sqlite3_column_int64 (stmt, 8),
    };
    return row->key ? 0 : SEGQ_ENOMEM;
}

static void
s_rows_free (segq_usage_row_t *rows, size_t n)
{
    for (size_t i = 0; i < n; i++)
        free (rows [i].key);
    free (rows);
}

int
segq__accounting_query (segq__job_store_t *store, const segq_usage_t *request,
                        segq_usage_row_t **rows_out, size_t *n_out, char *err, size_t errlen)
{
    *rows_out = NULL;
    *n_out = 0;
    sqlite3_stmt *stmt;
    if (sqlite3_prepare_v2 (segq__job_store_db (store), s_query_sql (request->by), -1, &stmt, NULL)
        != SQLITE_OK) {
        snprintf (err, errlen, "cannot read the accounting: %s",
                  sqlite3_errmsg (segq__job_store_db (store)));
        return SEGQ_EIO;
    }
    if (request->of_user)
        sqlite3_bind_text (stmt, 1, request->of_user, -1, SQLITE_STATIC);
    sqlite3_bind_double (stmt, 2, request->since);
    sqlite3_bind_double (stmt, 3, request->until);
    sqlite3_bind_int (stmt, 4, SEGQ_USAGE_MAX_ROWS + 1);
    segq_usage_row_t *rows = NULL;
    size_t n = 0, cap = 0;
    int rc = 0, step;
    while (rc == 0 && (step = sqlite3_step (stmt)) == SQLITE_ROW) {
        if (n == SEGQ_USAGE_MAX_ROWS) {
            snprintf (err, errlen, "more than %d groups: narrow it with --since or --user",
                      SEGQ_USAGE_MAX_ROWS);
            rc = SEGQ_ETOOBIG;
            break;
        }
        if (n == cap) {
            size_t grown_cap = cap ? cap * 2 : 16;
            segq_usage_row_t *grown = realloc (rows, grown_cap * sizeof *grown);
            if (!grown) {
                rc = SEGQ_ENOMEM;
                break;
            }
            rows = grown;
            cap = grown_cap;
        }
        if ((rc = s_row_read (stmt, &rows [n])) == 0)
            n++;
    }
    if (rc == 0 && step != SQLITE_DONE)
        rc = SEGQ_EIO;
    sqlite3_finalize (stmt);
    if (rc) {
        if (!*err)
            snprintf (err, errlen, "cannot read the accounting: %s", segq_strerror (rc));
        s_rows_free (rows, n);
        return rc;
    }
    *rows_out = rows;
    *n_out = n;
    return 0;
}

int
segq__accounting_charge_past (segq__job_store_t *store, segq__sched_t *sched, double half_life_s)
{
    if (half_life_s <= 0)
        return 0;
    sqlite3_stmt *stmt;
    if (sqlite3_prepare_v2 (segq__job_store_db (store),
                            "SELECT owner, ended - started, ended, cpu_slots, gpu_mem FROM usage"
                            " WHERE ended >= ?1",
                            -1, &stmt, NULL)
        != SQLITE_OK)
        return SEGQ_EIO;
    sqlite3_bind_double (stmt, 1, segq__sched_now (sched) - 32 * half_life_s);
    int rc = 0, step;
    while (rc == 0 && (step = sqlite3_step (stmt)) == SQLITE_ROW) {
        const char *owner = (const char *) sqlite3_column_text (stmt, 0);
        segq__sched_user_t *user = owner ? segq__sched_user (sched, owner) : NULL;
        if (!user) {
            rc = SEGQ_ENOMEM;
            break;
        }
        segq__sched_job_t run = { .cpu_slots = (uint32_t) sqlite3_column_int64 (stmt, 3),
                                  .gpu_mem = (uint64_t) sqlite3_column_int64 (stmt, 4) };
        segq__sched_user_charge (sched, user,
                                 segq__sched_job_weight (&run) * sqlite3_column_double (stmt, 1),
                                 sqlite3_column_double (stmt, 2));
    }
    if (rc == 0 && step != SQLITE_DONE)
        rc = SEGQ_EIO;
    sqlite3_finalize (stmt);
    return rc;
}
