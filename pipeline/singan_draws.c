/* The SEGQ_RECORD_DRAWS hook (singan_draws.h). One recording per process:
 * segq-run runs one command. */
#include "singan_draws.h"

#include "segq_safetensors.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static struct {
    segq_st_writer_t *w; /* NULL: not recording */
    char path[4096];
    int paused;
    long count;      /* draws so far */
    char fail[1024]; /* the first recording failure */
} rec;

int segq__draws_open(const char *what, char *err, size_t errlen)
{
    const char *path = getenv(SEGQ_DRAWS_ENV);
    if (!path || !*path)
        return 0;
    memset(&rec, 0, sizeof rec);
    snprintf(rec.path, sizeof rec.path, "%s", path);
    if (!(rec.w = segq_st_writer_new())) {
        snprintf(err, errlen, "%s: out of memory", SEGQ_DRAWS_ENV);
        return SEGQ_ENOMEM;
    }
    int rc = segq_st_writer_set_meta(rec.w, "command", what, err, errlen);
    if (rc)
        segq_st_writer_destroy(&rec.w);
    else
        printf("%s: recording every random draw into %s\n", SEGQ_DRAWS_ENV, rec.path);
    return rc;
}

int segq__draws_recording(void)
{
    return rec.w && !rec.paused;
}

void segq__draws_pause(int paused)
{
    rec.paused = paused;
}

static void add(const char *name, segqt_tensor *t)
{
    if (rec.fail[0])
        return;
    char err[512];
    if (segqt_scope_begin() < 0) {
        snprintf(rec.fail, sizeof rec.fail, "%s: no scope", name);
        return;
    }
    if (segq__st_add_tensor(rec.w, name, t, err, sizeof err) != 0)
        snprintf(rec.fail, sizeof rec.fail, "%s", err);
    segqt_scope_end();
}

segqt_tensor *segq__draw(const char *kind, segqt_tensor *t)
{
    if (!rec.w || rec.paused || !t)
        return t;
    char name[128];
    snprintf(name, sizeof name, "draw.%06ld.%s", rec.count++, kind);
    add(name, t);
    return t;
}

void segq__draw_net(const char *kind, segq_net_t *net)
{
    if (!rec.w || rec.paused || !net)
        return;
    const char *names[6 * SEGQ_NET_MAX_LAYERS];
    segqt_tensor *t[6 * SEGQ_NET_MAX_LAYERS];
    int n = segq__net_tensors(net, names, t, 6 * SEGQ_NET_MAX_LAYERS, NULL);
    char name[160];
    for (int i = 0; i < n; i++) {
        snprintf(name, sizeof name, "draw.%06ld.%s.%s", rec.count, kind, names[i]);
        add(name, t[i]);
    }
    rec.count++;
}

void segq__draws_add(const char *name, segqt_tensor *t)
{
    if (rec.w && !rec.paused && t)
        add(name, t);
}

int segq__draws_close(int ok, char *err, size_t errlen)
{
    if (!rec.w)
        return 0;
    char why[1024] = "", count[32];
    snprintf(count, sizeof count, "%ld", rec.count);
    int rc = segq_st_writer_set_meta(rec.w, "draws", count, why, sizeof why);
    if (!rc)
        rc = segq_st_writer_save(rec.w, rec.path, why, sizeof why);
    segq_st_writer_destroy(&rec.w);
    if (!rc && rec.fail[0]) {
        snprintf(why, sizeof why, "%s", rec.fail);
        rc = SEGQ_EIO;
    }
    if (!rc)
        printf("%s: %ld draws written to %s\n", SEGQ_DRAWS_ENV, rec.count, rec.path);
    else if (ok)
        snprintf(err, errlen, "%s=%s: %s", SEGQ_DRAWS_ENV, rec.path, why);
    else
        fprintf(stderr, "segq-run: %s=%s: %s\n", SEGQ_DRAWS_ENV, rec.path, why);
    return ok ? rc : 0;
}
