/* segq-run generate: sample image/mask pairs from a checkpoint, batched,
 * into a Kvasir-SEG layout dataset with a manifest.
 *
 * Per batch the device converts the samples to PNG planes and the host gets
 * them in one copy; a pair writer encodes the PNGs on `threads` workers
 * while the device makes the next batch. The manifest, written here on the
 * main thread, lists a batch's pairs once they are on disk, in sample
 * order. It is written whole to a temporary file (an earlier generate's
 * rows into the same folder first) and renamed into place at the end: a
 * generate killed midway leaves the earlier manifest, and its pairs on
 * disk unlisted, which a dataset reader trusts no further. */
#include "contact_sheet.h"
#include "pair_writer.h"
#include "segq_sha256.h"
#include "singan_draws.h"
#include "singan_internal.h"
#include "segq_generate_names.h"
#include "stylize.h" /* segq__copy_file */
#include "stylize_manifest.h"

#include <errno.h>
#include <jansson.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* What the steps of one generate run share. */
typedef struct {
    const segq_generate_opts_t *o;
    segq_model_t m;
    segq_ckpt_meta_t meta;
    int S;         /* scales; the last one is sampled */
    int64_t h, w;  /* sample size */
    int64_t batch; /* samples per forward pass: what fits of --batch (choose_batch) */
    char model_hex[SEGQ_HASH_HEX_LEN + 1];
    char stem[256];
    int extends;        /* OUT has a manifest from an earlier generate */
    char man_tmp[4200]; /* the new manifest until it is complete; "" when none */
    FILE *man;
    segq_progress_t *progress;
    double t0;
    /* where the time goes: the device making batches (and their copy to
     * the host), and the waits for the PNG writers to finish one */
    double secs_device, secs_waiting;
} gen_t;

/* Sample i's file name without folder and extension. */
static void pair_name(const gen_t *g, int64_t i, char *name, size_t len)
{
    segq_generate_pair_name(g->stem, g->model_hex, g->o->compute.seed, i, name, len);
}

/* Under a worker, the outputs' list must fit the job's RESULT message:
 * refused now, before hours of work that could not be reported. */
static int check_result_fits(const gen_t *g, char *err, size_t errlen)
{
    const char *max = getenv(SEGQ_RESULT_MAX_BYTES_ENV);
    if (!max || !*max)
        return 0;
    char inner[512];
    int rc = segq_generate_check_count(strlen(g->stem), g->o->compute.seed, g->o->count,
                                       strtoull(max, NULL, 10), inner, sizeof inner);
    if (rc)
        snprintf(err, errlen, "--%s", inner);
    return rc;
}

static void manifest_row(const gen_t *g, int64_t i)
{
    const segq_generate_opts_t *o = g->o;
    char name[SEGQ_PAIR_NAME_MAX], path[SEGQ_PAIR_NAME_MAX + 16];
    pair_name(g, i, name, sizeof name);
    segq__csv_field(g->man, name, ',');
    snprintf(path, sizeof path, "images/%s.png", name);
    segq__csv_field(g->man, path, ',');
    snprintf(path, sizeof path, "masks/%s.png", name);
    segq__csv_field(g->man, path, ',');
    segq__csv_field(g->man, g->meta.image_name, ',');
    segq__csv_field(g->man, g->meta.image_sha256, ',');
    segq__csv_field(g->man, g->meta.mask_name, ',');
    segq__csv_field(g->man, g->meta.mask_sha256, ',');
    /* the model by its catalogue id and name and its sha256, never by its
       file: where that lay (a worker's scratch folder) says nothing */
    segq__csv_field(g->man, o->model_id, ',');
    segq__csv_field(g->man, o->model_name, ',');
    segq__csv_field(g->man, g->model_hex, ',');
    fprintf(g->man, "%lld,%lld,%lld,%.17g,%.17g,%lld,", (long long)o->compute.seed, (long long)i,
            (long long)o->gen_start_scale, o->scale_h, o->scale_v, (long long)g->batch);
    segq__csv_field(g->man, o->compute.precision, '\n');
}

/* The checkpoint fits the request: trained, and the flags within it. */
static int check_model(const gen_t *g, char *err, size_t errlen)
{
    const segq_generate_opts_t *o = g->o;
    char what[4096];
    snprintf(what, sizeof what, "--model %s", o->model);
    segq_ckpt_header_t h = {.trained = g->m.trained, .pyr = g->m.pyr};
    return segq_ckpt_check_generate(&h, what, o->gen_start_scale, o->scale_h, o->scale_v, err,
                                    errlen);
}

static const char manifest_header[] =
    "name,image,mask,source_image,source_image_sha256,source_mask,source_mask_sha256,model_id,"
    "model_name,model_sha256,seed,sample,gen_start_scale,scale_h,scale_v,batch,precision\n";

static void manifest_path(const gen_t *g, char *path, size_t len)
{
    snprintf(path, len, "%s/" SEGQ_MANIFEST_FILE, g->o->out);
}

/* Whether the earlier manifest f (read from its start) lists none of the
 * pairs this run would write: the same model and --seed make the same
 * names, and a pair listed twice makes stylize and evaluate refuse the
 * folder. */
static int check_new_names(const gen_t *g, FILE *f, const char *path, char *err, size_t errlen)
{
    segq_manifest_t *man = NULL;
    char inner[1024], name[SEGQ_PAIR_NAME_MAX];
    int rc = segq_manifest_parse(f, path, &man, inner, sizeof inner);
    if (rc)
        snprintf(err, errlen, "%s (generate adds its rows to it: give another --out)", inner);
    for (int64_t i = 0; !rc && i < g->o->count; i++) {
        pair_name(g, i, name, sizeof name);
        if (segq_manifest_get(man, name, "name")) {
            snprintf(err, errlen,
                     "%s lists pair %s already (an earlier generate from this model with "
                     "--seed %lld): give another --seed, or another --out",
                     path, name, (long long)g->o->compute.seed);
            rc = SEGQ_EINVAL;
        }
    }
    segq_manifest_destroy(&man);
    return rc;
}

/* OUT/manifest.csv of an earlier generate into OUT, which this one
 * extends (g->extends): refused, before anything is written, when it has
 * other columns (one file, one layout) or lists a pair this run writes. */
static int check_earlier_manifest(gen_t *g, char *err, size_t errlen)
{
    char path[4096], first[sizeof manifest_header + 1];
    manifest_path(g, path, sizeof path);
    FILE *f = fopen(path, "rb");
    if (!f && errno == ENOENT)
        return 0;
    if (!f) {
        snprintf(err, errlen, "cannot read %s: %s", path, strerror(errno));
        return SEGQ_EIO;
    }
    g->extends = 1;
    int rc = 0;
    if (!fgets(first, sizeof first, f)) {
        if (ferror(f)) { /* else empty: it lists nothing */
            snprintf(err, errlen, "cannot read %s: %s", path, strerror(errno));
            rc = SEGQ_EIO;
        }
    } else if (strcmp(first, manifest_header) != 0) {
        snprintf(err, errlen,
                 "%s has other columns than this generate writes (an older segq-run's?): "
                 "generate into another --out",
                 path);
        rc = SEGQ_EINVAL;
    } else {
        rewind(f);
        rc = check_new_names(g, f, path, err, errlen);
    }
    fclose(f);
    return rc;
}

/* The new manifest, in a temporary file next to OUT/manifest.csv (0600
 * as every output: mkstemp): the earlier one's rows, or the header. */
static int open_manifest(gen_t *g, char *err, size_t errlen)
{
    char path[4096];
    manifest_path(g, path, sizeof path);
    snprintf(g->man_tmp, sizeof g->man_tmp, "%s.tmp.XXXXXX", path);
    int fd = mkstemp(g->man_tmp);
    if (fd < 0)
        g->man_tmp[0] = '\0';
    int rc = fd < 0 || close(fd) != 0 ? SEGQ_EIO : 0;
    if (rc)
        snprintf(err, errlen, "cannot write %s: %s", path, strerror(errno));
    if (!rc && g->extends)
        rc = segq__copy_file(path, g->man_tmp, err, errlen);
    if (!rc && !(g->man = fopen(g->man_tmp, "a+"))) {
        snprintf(err, errlen, "cannot write %s: %s", g->man_tmp, strerror(errno));
        rc = SEGQ_EIO;
    }
    if (rc)
        return rc;
    /* the header in a new file; a last row without its newline (a file
     * edited by hand) ended */
    int last = fseek(g->man, -1, SEEK_END) == 0 ? fgetc(g->man) : EOF;
    /* from reading to appending: a seek between them (C11 7.21.5.3) */
    int bad = fseek(g->man, 0, SEEK_END) != 0
              || (last == EOF ? fputs(manifest_header, g->man) < 0
                              : last != '\n' && fputc('\n', g->man) == EOF);
    if (bad) {
        snprintf(err, errlen, "cannot write %s: %s", g->man_tmp, strerror(errno));
        fclose(g->man); /* not whole: close_manifest removes it */
        g->man = NULL;
        return SEGQ_EIO;
    }
    return 0;
}

/* The new manifest, fsynced, renamed into place: every pair written is
 * listed, those before a failure too. Not written whole, it is removed
 * and OUT keeps the earlier one. */
static int close_manifest(gen_t *g, int rc, char *err, size_t errlen)
{
    if (!g->man_tmp[0])
        return rc;
    char path[4096];
    manifest_path(g, path, sizeof path);
    int bad = !g->man || ferror(g->man) || fflush(g->man) != 0 || fsync(fileno(g->man)) != 0;
    if (g->man && fclose(g->man) != 0)
        bad = 1;
    g->man = NULL;
    if (!bad && rename(g->man_tmp, path) != 0)
        bad = 1;
    if (bad && !rc) {
        snprintf(err, errlen, "%s: write failed: %s", path, strerror(errno));
        rc = SEGQ_EIO;
    }
    if (bad)
        unlink(g->man_tmp);
    g->man_tmp[0] = '\0';
    return rc;
}

/* OUT/images, OUT/masks and OUT/manifest.csv. */
static int open_outputs(gen_t *g, char *err, size_t errlen)
{
    char path[4096];
    int rc = segq__make_dir(g->o->out, err, errlen);
    snprintf(path, sizeof path, "%s/images", g->o->out);
    if (!rc)
        rc = segq__make_dir(path, err, errlen);
    snprintf(path, sizeof path, "%s/masks", g->o->out);
    if (!rc)
        rc = segq__make_dir(path, err, errlen);
    return rc ? rc : open_manifest(g, err, errlen);
}

/* Samples first..first+b-1 on the device, into the writer's free slot:
 * one conversion and one host copy per batch (per-sample ops and copies
 * cost more than the network on a GPU). Runs while the workers encode the
 * previous batch. */
static int fill_batch(gen_t *g, segq_pair_writer_t *pw, int64_t first, int64_t b, char *err,
                      size_t errlen)
{
    const segq_generate_opts_t *o = g->o;
    segqt_scope_begin();
    segqt_no_grad_begin();
    segqt_tensor *prev =
        segq__prev(&g->m, g->S - 1, b, (int)o->gen_start_scale, o->scale_v, o->scale_h);
    segqt_tensor *x = segq__run_scale(&g->m, g->S - 1, prev, g->S - 1 >= o->gen_start_scale,
                                      o->scale_v, o->scale_h);
    if (segq__draws_recording()) {
        char name[32];
        snprintf(name, sizeof name, "sample.%06lld", (long long)first);
        segq__draws_add(name, x);
    }
    /* to_floats checks the count: a batch of another size fails here */
    int rc = segqt_to_floats(segq__pair_planes(x), segq_pair_writer_buffer(pw),
                             (size_t)b * 4 * (size_t)g->h * (size_t)g->w);
    if (rc)
        rc = segq__torch_fail(err, errlen, "generating");
    segqt_no_grad_end();
    segqt_scope_end();
    char name[SEGQ_PAIR_NAME_MAX];
    for (int64_t k = 0; k < b && !rc; k++) {
        pair_name(g, first + k, name, sizeof name);
        if ((rc = segq_pair_writer_name(pw, k, name)) != 0)
            snprintf(err, errlen, "internal: pair name %s refused", name);
    }
    return rc;
}

/* Waits for the batch in flight (*pending pairs after the *done listed
 * ones) and lists the pairs it wrote: all, or those before a failure. */
static int finish_batch(gen_t *g, segq_pair_writer_t *pw, int64_t *done, int64_t *pending,
                        char *err, size_t errlen)
{
    if (!*pending)
        return 0;
    int64_t written = 0;
    double t = segq__now();
    int rc = segq_pair_writer_wait(pw, &written, err, errlen);
    g->secs_waiting += segq__now() - t;
    for (int64_t k = 0; k < written; k++)
        manifest_row(g, *done + k);
    *done += written;
    *pending = 0;
    if (rc)
        return rc;
    double el = segq__now() - g->t0;
    segq_metric_t met[] = {{"samples", (double)*done}, {"samples_per_s", *done / el}};
    segq_progress_report(g->progress, "generate", (double)*done / (double)g->o->count, met, 2, NULL,
                         *done == g->o->count);
    return 0;
}

/* Double buffered: the device fills one slot while the workers write the
 * other; the writer's slot is reused only after waiting for it. A failed
 * pair is reported before a later batch's failure, as it came first. */
static int run_batches(gen_t *g, segq_pair_writer_t *pw, char *err, size_t errlen)
{
    const segq_generate_opts_t *o = g->o;
    int64_t done = 0, pending = 0;
    int rc = 0;
    while (!rc && done + pending < o->count) {
        int64_t first = done + pending;
        int64_t b = o->count - first < g->batch ? o->count - first : g->batch;
        double t = segq__now();
        rc = fill_batch(g, pw, first, b, err, errlen);
        g->secs_device += segq__now() - t;
        int wrc = finish_batch(g, pw, &done, &pending, err, errlen);
        rc = wrc ? wrc : rc;
        if (!rc && (rc = segq_pair_writer_submit(pw, b)) == 0)
            pending = b;
    }
    int wrc = finish_batch(g, pw, &done, &pending, err, errlen);
    return rc ? rc : wrc;
}

/* The batches through a pair writer of `threads` workers, and the
 * manifest closed. */
static int write_pairs(gen_t *g, int threads, char *err, size_t errlen)
{
    segq_pair_writer_t *pw = segq_pair_writer_new(g->o->out, threads, g->batch, (uint32_t)g->w,
                                                  (uint32_t)g->h, err, errlen);
    int rc = pw ? run_batches(g, pw, err, errlen) : SEGQ_ENOMEM;
    segq_pair_writer_destroy(&pw);
    return rc;
}

/* --batch, at most the count, and no more samples than fit the memory the
 * job may use (batch_fit.h): a modest declaration serves any count. On a
 * CPU no more than SEGQ_BATCH_FIT_CPU_BYTES either. */
static int choose_batch(gen_t *g, char *err, size_t errlen)
{
    const segq_generate_opts_t *o = g->o;
    segq_generate_shape_t shape = {.h = g->h,
                                   .w = g->w,
                                   .nfc = g->m.G[g->S - 1]->nfc,
                                   .layers = g->m.layers,
                                   .ker = g->m.ker,
                                   .bf16 = g->m.bf16};
    char what[96], msg[512];
    snprintf(what, sizeof what, "one %lldx%lld sample", (long long)g->w, (long long)g->h);
    segq_batch_fit_t f = {.what = what,
                          .unit = "sample",
                          .remedy = "give the job more memory (segq submit --gpu-mem on a GPU) or "
                                    "make smaller samples (--scale-h, --scale-v)",
                          .requested = o->batch,
                          .count = o->count,
                          .per_sample = segq_generate_sample_bytes(&shape),
                          .cap_bytes =
                              g->m.dev.type == SEGQT_DEVICE_CPU ? SEGQ_BATCH_FIT_CPU_BYTES : 0};
    int rc = segq__memory_budget(g->m.dev, segq__model_bytes(&g->m), &f, err, errlen);
    if (!rc)
        rc = segq_batch_fit(&f, &g->batch, msg, sizeof msg, err, errlen);
    if (!rc)
        printf("%s\n", msg);
    return rc;
}

static int generate(gen_t *g, int threads, char *err, size_t errlen)
{
    int rc = check_model(g, err, errlen);
    segq_generate_stem(g->meta.image_name, g->stem, sizeof g->stem);
    segq__scaled_size(&g->m, g->S - 1, g->o->scale_v, g->o->scale_h, &g->h, &g->w);
    /* before any output: a batch that cannot fit leaves nothing behind */
    if (!rc)
        rc = check_result_fits(g, err, errlen);
    if (!rc)
        rc = choose_batch(g, err, errlen);
    if (!rc)
        rc = check_earlier_manifest(g, err, errlen);
    if (!rc)
        rc = open_outputs(g, err, errlen);
    g->t0 = segq__now();
    if (!rc)
        rc = write_pairs(g, threads, err, errlen);
    rc = close_manifest(g, rc, err, errlen);
    /* a preview that `segq fetch` brings back with the pairs; of the whole
     * folder, as the manifest, when generate appends to an earlier run */
    char path[4096];
    snprintf(path, sizeof path, "%s/" SEGQ_CONTACT_SHEET_FILE, g->o->out);
    if (!rc)
        rc = segq_contact_sheet_write_dir(g->o->out, path, err, errlen);
    if (!rc) {
        double el = segq__now() - g->t0;
        printf("time: batches made on the device and copied out %.2f s, waiting for the PNG "
               "writers %.2f s, the rest (manifest, contact sheet) %.2f s\n",
               g->secs_device, g->secs_waiting, el - g->secs_device - g->secs_waiting);
        printf("generated %lld pairs of %dx%d from %s in %.2f s (%.2f samples/s)\n",
               (long long)g->o->count, (int)(g->m.pyr.w[g->S - 1] * g->o->scale_h + 0.5),
               (int)(g->m.pyr.h[g->S - 1] * g->o->scale_v + 0.5), g->meta.image_name, el,
               g->o->count / el);
    }
    return rc;
}

/* The model from the file, or from the cache (which keeps it). */
static int load_model(gen_t *g, segq_model_cache_t *cache, segqt_device dev, char *err,
                      size_t errlen)
{
    const segq_generate_opts_t *o = g->o;
    int hit = 0;
    if (cache) {
        int rc = segq__model_cache_get(cache, o->model, getenv("SEGQ_MODEL_SHA256"), dev, &g->m,
                                       &g->meta, g->model_hex, &hit, err, errlen);
        if (!rc)
            printf("model %.12s: %s\n", g->model_hex,
                   hit ? "loaded already (the generation server's cache)" : "loaded, and kept");
        return rc;
    }
    if (segq_sha256_file(o->model, g->model_hex) != 0) {
        snprintf(err, errlen, "--model %s: cannot read the file (%s)", o->model, strerror(errno));
        return SEGQ_EINVAL;
    }
    return segq__ckpt_load(o->model, dev, 0, &g->m, &g->meta, err, errlen);
}

int segq_singan_generate_cached(const segq_generate_opts_t *o, segq_model_cache_t *cache,
                                segq_progress_t *progress, char *err, size_t errlen)
{
    segqt_device dev;
    int threads;
    int rc = segq__compute_setup(&o->compute, &dev, &threads, err, errlen);
    if (rc)
        return rc;
    if (segqt_manual_seed((uint64_t)o->compute.seed) != 0)
        return segq__torch_fail(err, errlen, "--seed");
    gen_t g = {.o = o, .progress = progress};
    rc = load_model(&g, cache, dev, err, errlen);
    if (rc)
        return rc;
    g.S = g.m.pyr.stop_scale + 1;
    g.m.bf16 = strcmp(o->compute.precision, "bf16") == 0;
    rc = generate(&g, threads, err, errlen);
    if (!cache) {
        segq__model_free(&g.m);
        segq__ckpt_meta_free(&g.meta);
    }
    segq__imresize_cache_clear();
    return rc;
}

int segq_singan_generate(const segq_generate_opts_t *o, segq_progress_t *progress, char *err,
                         size_t errlen)
{
    int rc = segq__draws_open("generate", err, errlen);
    if (!rc)
        rc = segq_singan_generate_cached(o, NULL, progress, err, errlen);
    int drc = segq__draws_close(rc == 0, err, errlen);
    return rc ? rc : drc;
}
