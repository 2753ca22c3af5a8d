/*  e2e_queue.c: see e2e_queue.h. */
#define _GNU_SOURCE
#include "e2e_queue.h"
#include <criterion/criterion.h>
#include <dirent.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

void
e2e_sleep_ms (long ms)
{
    struct timespec ts = { ms / 1000, (ms % 1000) * 1000000L };
    nanosleep (&ts, NULL);
}

double
e2e_now (void)
{
    struct timespec ts;
    clock_gettime (CLOCK_MONOTONIC, &ts);
    return (double) ts.tv_sec + ts.tv_nsec * 1e-9;
}

void
e2e_submit (harness_t *h, const char *const *argv, char *id, size_t len)
{
    char err [4096];
    H_ASSERT (h, harness_submit (h, argv, id, len, err, sizeof err) == 0, "segq submit %s: %s",
              argv [1], err);
}

void
e2e_logs (harness_t *h, const char *job, char *out, size_t len)
{
    char err [4096];
    const char *argv [] = { "logs", job, NULL };
    H_ASSERT (h, harness_cli (h, out, len, err, sizeof err, argv) == 0, "logs %s: %s", job, err);
}

int
e2e_last_recorded (const char *log)
{
    int last = 0;
    for (const char *p = log; (p = strstr (p, "checkpoint of step ")); p++) {
        int n;
        char word [16];
        if (sscanf (p, "checkpoint of step %d %15s", &n, word) == 2
            && strcmp (word, "recorded") == 0 && n > last)
            last = n;
    }
    return last;
}

int
e2e_job_processes (harness_t *h, const char *job, unsigned attempt, int *gpu)
{
    char want_id [96], want_att [64], want_dir [600];
    snprintf (want_dir, sizeof want_dir, "SEGQ_OUTPUT_DIR=%s/", h->dir);
    snprintf (want_id, sizeof want_id, "SEGQ_JOB_ID=%s", job);
    snprintf (want_att, sizeof want_att, "SEGQ_JOB_ATTEMPT=%u", attempt);
    DIR *proc = opendir ("/proc");
    cr_assert_not_null (proc);
    int count = 0;
    struct dirent *e;
    while ((e = readdir (proc))) {
        if (e->d_name [0] < '0' || e->d_name [0] > '9')
            continue;
        char path [300];
        snprintf (path, sizeof path, "/proc/%s/environ", e->d_name);
        FILE *f = fopen (path, "r");
        if (!f)
            continue;
        static char env [65536];
        size_t n = fread (env, 1, sizeof env - 1, f);
        fclose (f);
        env [n] = 0;
        bool id = false, att = attempt == 0, ours = false;
        int visible = -1;
        for (size_t i = 0; i < n; i += strlen (env + i) + 1) {
            id = id || strcmp (env + i, want_id) == 0;
            att = att || strcmp (env + i, want_att) == 0;
            ours = ours || strncmp (env + i, want_dir, strlen (want_dir)) == 0;
            if (strncmp (env + i, "CUDA_VISIBLE_DEVICES=", 21) == 0)
                visible = atoi (env + i + 21);
        }
        if (id && att && ours) {
            count++;
            if (gpu)
                *gpu = visible;
        }
    }
    closedir (proc);
    return count;
}
