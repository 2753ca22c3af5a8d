/* segq-run stylize: style transfer over a generate output, batched over
 * images of the same size. */
#include "stylize.h"

#include "contact_sheet.h"
#include "segq_error.h"
#include "segq_image.h"
#include "singan_internal.h"
#include "stylize_manifest.h"
#include "vgg19.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

segqt_tensor *segq__image_rgb_tensor(const char *path, int64_t h, int64_t w, segqt_device dev,
                                     char *err, size_t errlen)
{
    segq_image_t *img = NULL, *rgb = NULL;
    int rc = segq_image_read_file(path, NULL, &img, err, errlen);
    if (!rc)
        rc = segq_image_to_rgb(img, &rgb, err, errlen);
    segq_image_destroy(&img);
    if (rc)
        return NULL;
    size_t n = (size_t)rgb->width * rgb->height;
    float *buf = malloc(3 * n * sizeof(float));
    segqt_tensor *t = NULL;
    if (buf) {
        segq_image_to_float_chw(rgb, buf);
        int64_t shape[4] = {1, 3, rgb->height, rgb->width};
        t = segqt_to_device(segqt_from_floats(buf, shape, 4, SEGQT_CPU), dev);
        if (t && h > 0 && w > 0 && (h != rgb->height || w != rgb->width))
            t = segqt_clamp(segqt_interpolate(t, h, w, SEGQT_INTERP_BILINEAR, 0, 1), 0.0, 1.0);
        if (!t)
            segq__torch_fail(err, errlen, path);
    } else
        snprintf(err, errlen, "%s: out of memory", path);
    free(buf);
    segq_image_destroy(&rgb);
    return t;
}

int segq__write_rgb_png(segqt_tensor *chw, const char *path, char *err, size_t errlen)
{
    int64_t h = segqt_size(chw, 1), w = segqt_size(chw, 2);
    size_t n = (size_t)h * (size_t)w * 3;
    float *buf = h > 0 && w > 0 ? malloc(n * sizeof(float)) : NULL;
    if (!buf) {
        snprintf(err, errlen, "%s: out of memory or bad tensor", path);
        return SEGQ_ENOMEM;
    }
    int rc = segqt_to_floats(segqt_clamp(chw, 0.0, 1.0), buf, n)
                 ? segq__torch_fail(err, errlen, path)
                 : 0;
    segq_image_t *img = NULL;
    if (!rc)
        rc = segq_image_from_float_chw(buf, (uint32_t)w, (uint32_t)h, 3, &img, err, errlen);
    if (!rc)
        rc = segq_image_write_png(img, path, err, errlen);
    segq_image_destroy(&img);
    free(buf);
    return rc;
}

double segq__cpu_seconds(void)
{
    struct timespec ts;
    if (clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts) != 0)
        return 0;
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

int segq__copy_file(const char *from, const char *to, char *err, size_t errlen)
{
    int in = open(from, O_RDONLY | O_CLOEXEC);
    if (in < 0) {
        snprintf(err, errlen, "cannot read %s: %s", from, strerror(errno));
        return SEGQ_EIO;
    }
    int out = open(to, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    if (out < 0) {
        snprintf(err, errlen, "cannot write %s: %s", to, strerror(errno));
        close(in);
        return SEGQ_EIO;
    }
    char buf[65536];
    ssize_t r;
    int rc = 0;
    while ((r = read(in, buf, sizeof buf)) > 0 && !rc)
        for (ssize_t off = 0; off < r && !rc;) {
            ssize_t wr = write(out, buf + off, (size_t)(r - off));
            if (wr <= 0) {
                snprintf(err, errlen, "cannot write %s: %s", to, strerror(errno));
                rc = SEGQ_EIO;
            } else
                off += wr;
        }
    if (r < 0 && !rc) {
        snprintf(err, errlen, "cannot read %s: %s", from, strerror(errno));
        rc = SEGQ_EIO;
    }
    close(in);
    if (close(out) != 0 && !rc) {
        snprintf(err, errlen, "cannot write %s: %s", to, strerror(errno));
        rc = SEGQ_EIO;
    }
    return rc;
}

typedef struct {
    const segq_dataset_pair_t *pair;
    uint32_t h, w;
    char *style;   /* resolved style image path */
    int64_t batch; /* images of its size optimised together (fit_batches) */
} item_t;

static int by_size(const void *a, const void *b)
{
    const item_t *x = a, *y = b;
    if (x->h != y->h)
        return x->h < y->h ? -1 : 1;
    if (x->w != y->w)
        return x->w < y->w ? -1 : 1;
    return strcmp(x->pair->name, y->pair->name);
}

/* End of the images of items[i]'s size, at most `max` of them. */
static size_t same_size_end(const item_t *items, size_t n, size_t i, size_t max)
{
    size_t j = i;
    while (j < n && j - i < max && items[j].h == items[i].h && items[j].w == items[i].w)
        j++;
    return j;
}

/* End of the batch starting at i: same size, at most its fitted batch. */
static size_t batch_end(const item_t *items, size_t n, size_t i)
{
    return same_size_end(items, n, i, (size_t)items[i].batch);
}

typedef struct {
    const segq_stylize_opts_t *o;
    segq_vgg19_t *vgg;
    segqt_device dev;
    int bf16;
    FILE *losses, *final;
    segq_progress_t *progress;
    int64_t steps_done, steps_total;
    int batch_no;
} run_t;

/* The batch of the n images of items' size: --batch, at most n, and no
 * more than fit `budget`, the memory the job may use (batch_fit.h). */
static int fit_size(const segq_batch_fit_t *budget, item_t *items, size_t n, char *err,
                    size_t errlen)
{
    char what[96], msg[512];
    snprintf(what, sizeof what, "one %ux%u image", items[0].w, items[0].h);
    segq_batch_fit_t f = *budget;
    f.what = what;
    f.count = (int64_t)n;
    f.per_sample = segq_stylize_sample_bytes(items[0].h, items[0].w);
    int64_t b;
    int rc = segq_batch_fit(&f, &b, msg, sizeof msg, err, errlen);
    if (rc)
        return rc;
    printf("%ux%u images: %s\n", items[0].w, items[0].h, msg);
    for (size_t k = 0; k < n; k++)
        items[k].batch = b;
    return 0;
}

/* Sorts the items by size and sets each size's batch. */
static int fit_batches(const run_t *r, item_t *items, size_t n, char *err, size_t errlen)
{
    segq_batch_fit_t budget = {.unit = "image",
                               .remedy = "give the job more memory (segq submit --gpu-mem on a "
                                         "GPU) or restyle smaller images",
                               .requested = r->o->batch};
    int rc = segq__memory_budget(r->dev, segq_vgg19_weight_bytes(r->bf16), &budget, err, errlen);
    qsort(items, n, sizeof *items, by_size);
    for (size_t i = 0, j; i < n && !rc; i = j) {
        j = same_size_end(items, n, i, n);
        rc = fit_size(&budget, items + i, j - i, err, errlen);
    }
    return rc;
}

/* The batch's content images and their style images (resized to them) on
 * the device, each set concatenated along the batch. */
static int load_batch(const run_t *r, const item_t *items, int n, segqt_tensor **c,
                      segqt_tensor **s, char *err, size_t errlen)
{
    segqt_tensor *content[4096], *style[4096];
    for (int i = 0; i < n; i++) {
        content[i] = segq__image_rgb_tensor(items[i].pair->image_path, 0, 0, r->dev, err, errlen);
        style[i] = content[i] ? segq__image_rgb_tensor(items[i].style, items[i].h, items[i].w,
                                                       r->dev, err, errlen)
                              : NULL;
        if (!content[i] || !style[i])
            return SEGQ_EINVAL;
    }
    *c = segqt_cat(content, n, 0);
    *s = segqt_cat(style, n, 0);
    return *c && *s ? 0 : segq__torch_fail(err, errlen, "stylize: batching");
}

/* SEGQ_PROFILE=FILE: an op-level profile of the steps after the first
 * (one-off costs) is appended to FILE; returns whether it began. */
static int profile_begin(const char *profile, int64_t step)
{
    return step == 2 && profile && *profile && segqt_profile_begin() == 0;
}

static void profile_end(const run_t *r, const item_t *items, int n, const char *profile)
{
    char title[128];
    snprintf(title, sizeof title, "stylize batch %d (%d x %ux%u), steps 2-%lld", r->batch_no, n,
             items[0].w, items[0].h, (long long)r->o->steps);
    if (segqt_profile_end(profile, title, 40) != 0)
        fprintf(stderr, "segq-run stylize: profile: %s\n", segqt_last_error());
}

/* One step's losses into losses.csv, on the terminal now and then, and as
 * progress. */
static void report_step(run_t *r, const item_t *items, int n, int64_t step, double vc, double vs,
                        double t0, double cpu0)
{
    const segq_stylize_opts_t *o = r->o;
    fprintf(r->losses, "%d,%lld,%d,%.9g,%.9g,%.9g\n", r->batch_no, (long long)step, n, vc, vs,
            o->content_weight * vc + o->style_weight * vs);
    if (step == 1 || step % o->log_every == 0 || step == o->steps)
        printf("batch %d (%d x %ux%u) step %lld/%lld: content %.6g style %.6g "
               "(%.3f s/step, %.3f CPU-s/step)\n",
               r->batch_no, n, items[0].w, items[0].h, (long long)step, (long long)o->steps, vc, vs,
               (segq__now() - t0) / (double)step, (segq__cpu_seconds() - cpu0) / (double)step);
    segq_metric_t met[] = {{"content_loss", vc}, {"style_loss", vs}, {"step", (double)step}};
    segq_progress_report(r->progress, "stylize", (double)r->steps_done / (double)r->steps_total,
                         met, 3, NULL, step == o->steps);
}

/* --steps Adam steps of the normalised image z towards the targets. */
static int optimise(run_t *r, const item_t *items, int n, segqt_tensor *z,
                    const segq_style_targets_t *tg, char *err, size_t errlen)
{
    const segq_stylize_opts_t *o = r->o;
    segqt_adam *opt = segqt_adam_new(&z, 1, o->lr, 0.9, 0.999, 1e-8, 0.0);
    if (!opt)
        return segq__torch_fail(err, errlen, "stylize: Adam");
    const char *profile = getenv("SEGQ_PROFILE");
    int profiling = 0, rc = 0;
    double t0 = segq__now(), cpu0 = segq__cpu_seconds();
    for (int64_t step = 1; step <= o->steps && !rc; step++) {
        profiling = profiling || profile_begin(profile, step);
        segqt_scope_begin();
        segqt_tensor *lc, *ls;
        double vc = 0, vs = 0;
        /* Each image of the batch gets its own gradient, so a batch of n
         * optimises exactly as n separate runs (Adam is elementwise). */
        if (segqt_adam_zero_grad(opt)
            || segq_style_backward(r->vgg, segq_vgg19_denormalise(r->vgg, z), tg, o->content_weight,
                                   o->style_weight, r->bf16, &lc, &ls)
            || segqt_adam_step(opt) || segqt_item(segqt_mean(lc), &vc)
            || segqt_item(segqt_mean(ls), &vs))
            rc = segq__torch_fail(err, errlen, "stylize: step");
        segqt_scope_end();
        if (!rc) {
            r->steps_done++;
            report_step(r, items, n, step, vc, vs, t0, cpu0);
        }
    }
    if (profiling)
        profile_end(r, items, n, profile);
    segqt_adam_destroy(&opt);
    return rc;
}

/* The result, clipped to [0, 1] only now: its final losses into
 * final_losses.csv, each image and a copy of its mask into --out. */
static int write_batch(run_t *r, const item_t *items, int n, segqt_tensor *z,
                       const segq_style_targets_t *tg, char *err, size_t errlen)
{
    const segq_stylize_opts_t *o = r->o;
    /* The result judged in float32 whatever the steps ran in: what
     * --precision bf16 is compared by (bench/pipeline_stylize.sh). */
    float fc[4096], fs[4096];
    segqt_tensor *x = segqt_clamp(segq_vgg19_denormalise(r->vgg, segqt_detach(z)), 0.0, 1.0);
    segqt_tensor *lc, *ls;
    if (!x || segq_style_losses(r->vgg, x, tg, 0, &lc, &ls) || segqt_to_floats(lc, fc, (size_t)n)
        || segqt_to_floats(ls, fs, (size_t)n))
        return segq__torch_fail(err, errlen, "stylize: final losses");
    int rc = 0;
    for (int i = 0; i < n && !rc; i++) {
        segq__csv_field(r->final, items[i].pair->name, ',');
        fprintf(r->final, "%.9g,%.9g,%.9g\n", fc[i], fs[i],
                o->content_weight * fc[i] + o->style_weight * fs[i]);
        char path[8400];
        snprintf(path, sizeof path, "%s/images/%s.png", o->out, items[i].pair->name);
        segqt_tensor *one = segqt_squeeze(segqt_narrow(x, 0, i, 1), 0);
        rc =
            one ? segq__write_rgb_png(one, path, err, errlen) : segq__torch_fail(err, errlen, path);
        const char *slash = strrchr(items[i].pair->mask_path, '/');
        snprintf(path, sizeof path, "%s/masks/%s", o->out,
                 slash ? slash + 1 : items[i].pair->mask_path);
        if (!rc)
            rc = segq__copy_file(items[i].pair->mask_path, path, err, errlen);
    }
    return rc;
}

/* Optimises items[0..n) (same size) and writes their images. */
static int stylize_batch(run_t *r, item_t *items, int n, char *err, size_t errlen)
{
    segq_style_targets_t tg = {0};
    segqt_tensor *c = NULL, *s = NULL, *z = NULL; /* z: the image being optimised, normalised */
    if (segqt_scope_begin() < 0)
        return segq__torch_fail(err, errlen, "stylize");
    int rc = load_batch(r, items, n, &c, &s, err, errlen);
    if (!rc && (rc = segq_style_targets_new(r->vgg, c, s, &tg)) != 0)
        segq__torch_fail(err, errlen, "stylize: targets");
    /* As the authors, Adam moves the ImageNet-normalised image z, not the
     * pixels, and nothing is clipped until the image is written: a step of
     * lr in z is a step of lr * std in [0, 1], about 4.4 times smaller. */
    if (!rc) {
        z = segqt_persist(segqt_clone(segq_vgg19_normalise(r->vgg, c)));
        if (!z || segqt_set_requires_grad(z, 1) != 0)
            rc = segq__torch_fail(err, errlen, "stylize: image");
    }
    if (!rc)
        rc = optimise(r, items, n, z, &tg, err, errlen);
    if (!rc)
        rc = write_batch(r, items, n, z, &tg, err, errlen);
    segqt_tensor_destroy(&z);
    segq_style_targets_free(&tg);
    segqt_scope_end();
    return rc;
}

/* The pairs to restyle: --content's dataset and manifest, an item per pair. */
typedef struct {
    segq_dataset_t *ds;
    segq_manifest_t *man; /* NULL: --content has none */
    item_t *items;        /* n of them; each owns its style path */
    size_t n;
} content_t;

static void content_free(content_t *ct)
{
    for (size_t i = 0; ct->items && i < ct->n; i++)
        free(ct->items[i].style);
    free(ct->items);
    segq_manifest_destroy(&ct->man);
    segq_dataset_destroy(&ct->ds);
}

/* Each pair's size and where its style is. */
static int read_items(const segq_stylize_opts_t *o, content_t *ct, char *err, size_t errlen)
{
    int rc = 0;
    for (size_t i = 0; i < ct->n && !rc; i++) {
        item_t *item = &ct->items[i];
        item->pair = segq_dataset_pair(ct->ds, i);
        segq_image_t *img = NULL;
        rc = segq_image_read_file(item->pair->image_path, NULL, &img, err, errlen);
        if (!rc) {
            item->h = img->height;
            item->w = img->width;
            rc = segq_stylize_style_path(o->style, o->content, true, ct->man, item->pair->name,
                                         &item->style, err, errlen);
        }
        segq_image_destroy(&img);
    }
    return rc;
}

static int open_content(const segq_stylize_opts_t *o, content_t *ct, char *err, size_t errlen)
{
    int rc = segq_content_open(o->content, &ct->ds, &ct->man, err, errlen);
    if (rc)
        return rc;
    ct->n = segq_dataset_count(ct->ds);
    if (!(ct->items = calloc(ct->n, sizeof *ct->items))) {
        snprintf(err, errlen, "out of memory");
        return SEGQ_ENOMEM;
    }
    return read_items(o, ct, err, errlen);
}

/* OUT/NAME, opened to write; NULL with err saying why. */
static FILE *open_out_file(const char *out, const char *name, char *err, size_t errlen)
{
    char path[4400];
    snprintf(path, sizeof path, "%s/%s", out, name);
    FILE *f = fopen(path, "w");
    if (!f)
        snprintf(err, errlen, "cannot write %s: %s", path, strerror(errno));
    return f;
}

/* Closes OUT/NAME if open; its failed write is the error when rc is none. */
static int close_out_file(FILE *f, const char *out, const char *name, int rc, char *err,
                          size_t errlen)
{
    if (f && fclose(f) != 0 && !rc) {
        snprintf(err, errlen, "%s/%s: write failed", out, name);
        return SEGQ_EIO;
    }
    return rc;
}

/* OUT/images, OUT/masks and the two loss tables, headed once both open. */
static int open_outputs(run_t *r, const item_t *items, size_t n, char *err, size_t errlen)
{
    const segq_stylize_opts_t *o = r->o;
    char path[4400];
    int rc = segq__make_dir(o->out, err, errlen);
    snprintf(path, sizeof path, "%s/images", o->out);
    if (!rc)
        rc = segq__make_dir(path, err, errlen);
    snprintf(path, sizeof path, "%s/masks", o->out);
    if (!rc)
        rc = segq__make_dir(path, err, errlen);
    if (!rc && !(r->losses = open_out_file(o->out, "losses.csv", err, errlen)))
        rc = SEGQ_EIO;
    if (!rc && !(r->final = open_out_file(o->out, "final_losses.csv", err, errlen)))
        rc = SEGQ_EIO;
    if (rc)
        return rc;
    fputs("batch,step,images,content_loss,style_loss,loss\n", r->losses);
    fputs("name,content_loss,style_loss,loss\n", r->final);
    for (size_t i = 0; i < n; i = batch_end(items, n, i))
        r->steps_total += o->steps;
    return 0;
}

/* OUT/stylize.json: the flags of the run. */
static int write_params(const segq_stylize_opts_t *o, char *err, size_t errlen)
{
    char *params = segq_flags_to_json(segq_run_command_find("stylize"), o);
    char path[4400];
    snprintf(path, sizeof path, "%s/stylize.json", o->out);
    FILE *f = params ? fopen(path, "w") : NULL;
    int bad = !f || fprintf(f, "%s\n", params) < 0;
    int rc = 0;
    if ((f && fclose(f) != 0) || bad) {
        snprintf(err, errlen, "cannot write %s", path);
        rc = SEGQ_EIO;
    }
    free(params);
    return rc;
}

/* What goes with the pairs: the manifest carried over, the flags, and a
 * preview. */
static int write_extras(const segq_stylize_opts_t *o, const segq_manifest_t *man, char *err,
                        size_t errlen)
{
    char src[4400], path[4400];
    snprintf(src, sizeof src, "%s/%s", o->content, SEGQ_MANIFEST_FILE);
    snprintf(path, sizeof path, "%s/%s", o->out, SEGQ_MANIFEST_FILE);
    int rc = man ? segq__copy_file(src, path, err, errlen) : 0;
    if (!rc)
        rc = write_params(o, err, errlen);
    /* a preview that `segq fetch` brings back with the pairs */
    snprintf(path, sizeof path, "%s/" SEGQ_CONTACT_SHEET_FILE, o->out);
    if (!rc)
        rc = segq_contact_sheet_write_dir(o->out, path, err, errlen);
    return rc;
}

int segq_stylize(const segq_stylize_opts_t *o, segq_progress_t *progress, char *err, size_t errlen)
{
    run_t r = {.o = o, .progress = progress};
    int threads;
    int rc = segq__compute_setup(&o->compute, &r.dev, &threads, err, errlen);
    if (rc)
        return rc;
    r.bf16 = strcmp(o->compute.precision, "bf16") == 0;
    rc = segq_vgg19_load(o->vgg19, "--vgg19", r.dev, &r.vgg, err, errlen);
    content_t ct = {0};
    if (!rc)
        rc = open_content(o, &ct, err, errlen);
    /* before any output: a batch that cannot fit leaves nothing behind */
    if (!rc)
        rc = fit_batches(&r, ct.items, ct.n, err, errlen);
    if (!rc)
        rc = open_outputs(&r, ct.items, ct.n, err, errlen);
    double t0 = segq__now();
    for (size_t i = 0, j; i < ct.n && !rc; i = j) {
        j = batch_end(ct.items, ct.n, i);
        rc = stylize_batch(&r, ct.items + i, (int)(j - i), err, errlen);
        r.batch_no++;
    }
    rc = close_out_file(r.losses, o->out, "losses.csv", rc, err, errlen);
    rc = close_out_file(r.final, o->out, "final_losses.csv", rc, err, errlen);
    if (!rc)
        rc = write_extras(o, ct.man, err, errlen);
    if (!rc)
        printf("stylized %zu images in %d batches, %lld steps each, in %.1f s\n", ct.n, r.batch_no,
               (long long)o->steps, segq__now() - t0);
    content_free(&ct);
    segq_vgg19_destroy(&r.vgg);
    return rc;
}
