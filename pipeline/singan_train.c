/* segq-run train: the scale-by-scale SinGAN-Seg training driver. */
#include "segq_image.h"
#include "segq_mix.h"
#include "segq_param_rules.h"
#include "segq_run_flags.h"
#include "segq_sha256.h"
#include "singan_draws.h"
#include "singan_internal.h"
#include "stylize.h" /* segq__cpu_seconds */

#include <errno.h>
#include <jansson.h>
#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

/* Flags that do not change what is computed: left out of the stored
 * parameters, so --resume accepts a moved file, another thread count or
 * a renamed model. */
static const char *const volatile_flags[] = {
    "image",      "mask", "out", "resume", "device", "threads", "previews", "stop_after_scale",
    "cuda_graph", "name"};

/* Each scale draws from its own seed, so a resumed training makes the
 * same scales as one that ran through. */
static uint64_t scale_seed(int64_t seed, int n)
{
    return segq_mix64((uint64_t)seed + 0x9E3779B97F4A7C15ull * (uint64_t)(n + 1));
}

static const char *base_name(const char *path)
{
    const char *s = strrchr(path, '/');
    return s ? s + 1 : path;
}

static char *params_json(const segq_train_opts_t *o)
{
    const segq_command_t *cmd = segq_run_command_find("train");
    char *full = segq_flags_to_json(cmd, o);
    json_t *obj = full ? json_loads(full, 0, NULL) : NULL;
    free(full);
    if (!obj)
        return NULL;
    for (size_t i = 0; i < sizeof volatile_flags / sizeof volatile_flags[0]; i++)
        json_object_del(obj, volatile_flags[i]);
    char *text = json_dumps(obj, JSON_COMPACT | JSON_SORT_KEYS | JSON_REAL_PRECISION(17));
    json_decref(obj);
    return text;
}

/* ---- input ------------------------------------------------------------- */

typedef struct {
    segq_image_t *rgb, *mask;
} pair_t;

/* The image and mask (or the image's alpha as the mask) into p, as
 * `segq submit train` checked them (segq_image_read_training); the flags'
 * rules (one of the two) were segq_flags_parse's. */
static int decode_pair(const segq_train_opts_t *o, pair_t *p, char *err, size_t errlen)
{
    return segq_image_read_training(o->image, o->mask_from_alpha ? NULL : o->mask,
                                    (uint32_t)o->max_size, &p->rgb, &p->mask, err, errlen);
}

/* A mask with no foreground, or nothing else, trains but is worth a word,
 * naming the file that holds it. */
static void warn_mask(const segq_train_opts_t *o, const pair_t *p)
{
    double frac = segq_image_mask_fraction(p->mask);
    const char *what = o->mask_from_alpha ? "the alpha channel of" : "the mask";
    const char *file = o->mask_from_alpha ? o->image : o->mask;
    if (frac <= 0.0)
        fprintf(stderr,
                "segq-run train: warning: %s %s is empty (no foreground "
                "pixel): samples will have empty masks\n",
                what, file);
    else if (frac >= 1.0)
        fprintf(stderr,
                "segq-run train: warning: %s %s is full (every pixel "
                "foreground)\n",
                what, file);
}

/* The sources' names and sha256 into meta, the model's provenance. */
static int record_sources(const segq_train_opts_t *o, segq_ckpt_meta_t *meta, char *err,
                          size_t errlen)
{
    char hex[SEGQ_HASH_HEX_LEN + 1];
    if (segq_sha256_file(o->image, hex) != 0) {
        snprintf(err, errlen, "%s: cannot read it to hash it", o->image);
        return SEGQ_EINVAL;
    }
    meta->image_name = strdup(base_name(o->image));
    meta->image_sha256 = strdup(hex);
    if (o->mask_from_alpha) {
        meta->mask_name = strdup("alpha");
        meta->mask_sha256 = strdup(hex);
    } else {
        if (segq_sha256_file(o->mask, hex) != 0) {
            snprintf(err, errlen, "%s: cannot read it to hash it", o->mask);
            return SEGQ_EINVAL;
        }
        meta->mask_name = strdup(base_name(o->mask));
        meta->mask_sha256 = strdup(hex);
    }
    if (!meta->image_name || !meta->image_sha256 || !meta->mask_name || !meta->mask_sha256) {
        snprintf(err, errlen, "out of memory");
        return SEGQ_ENOMEM;
    }
    return 0;
}

static int load_pair(const segq_train_opts_t *o, pair_t *p, segq_ckpt_meta_t *meta, char *err,
                     size_t errlen)
{
    int rc = decode_pair(o, p, err, errlen);
    if (rc)
        return rc;
    warn_mask(o, p);
    /* the size the file declares, which the pyramid is planned on as in
     * the authors' code: the image is decoded at full size */
    meta->orig_h = p->rgb->height;
    meta->orig_w = p->rgb->width;
    return record_sources(o, meta, err, errlen);
}

/* The real pyramid, persistent tensors 1x4xh_nxw_n in [-1, 1] on dev. */
static int make_reals(const pair_t *p, const segq_pyramid_t *pyr, segqt_device dev,
                      segqt_tensor **reals, char *err, size_t errlen)
{
    size_t n = (size_t)p->rgb->width * p->rgb->height;
    float *buf = malloc(sizeof(float) * 4 * n);
    if (!buf) {
        snprintf(err, errlen, "out of memory for a %ux%u image", p->rgb->width, p->rgb->height);
        return SEGQ_ENOMEM;
    }
    segq_image_to_float_chw(p->rgb, buf);
    segq_image_to_float_chw(p->mask, buf + 3 * n);
    /* each level v as the authors' np2torch makes it: v / 255 in double,
     * then float. v * (1.0f / 255) differs from it by an ulp for half the
     * levels, and their resizer's uint8 truncation then takes one level
     * off other levels than theirs (tests/pipeline/authors_train.py) */
    double top = p->rgb->depth == 16 ? 65535.0 : 255.0;
    for (size_t i = 0; i < 4 * n; i++)
        buf[i] = (float)(rint((double)buf[i] * top) / top);
    int rc = 0;
    segqt_scope_begin();
    int64_t shape[4] = {1, SEGQ_NC, p->rgb->height, p->rgb->width};
    segqt_tensor *x = segqt_to_device(segqt_from_floats(buf, shape, 4, SEGQT_CPU), dev);
    free(buf);
    /* as the authors' np2torch: (x - 0.5) * 2, then their pyramid: the
     * image resized by scale1, and each scale from that by r^(stop - n) */
    x = segqt_mul_scalar(segqt_sub_scalar(x, 0.5), 2.0);
    if (x)
        x = segq__imresize_exact(x, pyr->height, pyr->width, pyr->scale1);
    for (int s = 0; s <= pyr->stop_scale && rc == 0; s++) {
        double factor = pow(pyr->r, pyr->stop_scale - s);
        segqt_tensor *r = segqt_contiguous(segq__imresize_exact(x, pyr->h[s], pyr->w[s], factor));
        if (!r)
            rc = segq__torch_fail(err, errlen, "building the image pyramid");
        else
            reals[s] = segqt_persist(r);
    }
    segqt_scope_end();
    return rc;
}

/* ---- loss log ---------------------------------------------------------- */

static const char *loss_header = "scale,iter,loss_d,d_real,d_fake,gp,loss_g_adv,loss_rec,lr\n";

/* A write of OUT/losses.csv (an output the job declares) that failed:
 * the job must not end as if it were whole. */
static int loss_log_failed(const char *out, char *err, size_t errlen)
{
    snprintf(err, errlen, "cannot write %s/losses.csv: %s (free space in --out)", out,
             strerror(errno));
    return errno == ENOSPC ? SEGQ_ENOSPC : SEGQ_EIO;
}

/* Opens OUT/losses.csv: fresh, or on resume kept up to the finished
 * scales (a killed run's lines of its unfinished scale are dropped). */
static FILE *open_loss_log(const char *path, int keep_scales, char *err, size_t errlen)
{
    char *kept = NULL;
    size_t kept_len = 0;
    FILE *in = keep_scales > 0 ? fopen(path, "r") : NULL;
    if (in) {
        FILE *mem = open_memstream(&kept, &kept_len);
        char line[512];
        while (mem && fgets(line, sizeof line, in)) {
            int scale;
            if (sscanf(line, "%d,", &scale) == 1 && scale < keep_scales)
                fputs(line, mem);
        }
        if (mem)
            fclose(mem);
        fclose(in);
    }
    FILE *f = fopen(path, "w");
    if (!f) {
        snprintf(err, errlen, "cannot write %s: %s", path, strerror(errno));
        free(kept);
        return NULL;
    }
    fputs(loss_header, f);
    if (kept)
        fwrite(kept, 1, kept_len, f);
    free(kept);
    return f;
}

/* ---- previews ---------------------------------------------------------- */

static int write_previews(segq_model_t *m, segqt_tensor *real, int n, int64_t count,
                          const char *out, char *err, size_t errlen)
{
    char dir[4096], img[4200], msk[4200];
    snprintf(dir, sizeof dir, "%s/preview", out);
    int rc = segq__make_dir(dir, err, errlen);
    if (rc || segqt_scope_begin() < 0)
        return rc ? rc : segq__torch_fail(err, errlen, "previews");
    segqt_no_grad_begin();
    segqt_tensor *rec = segq__run_scale(m, n, segq__prev(m, n, 1, INT_MAX, 1, 1), 0, 1, 1);
    if (!rec)
        rc = segq__torch_fail(err, errlen, "preview reconstruction");
    snprintf(img, sizeof img, "%s/scale%02d_rec.png", dir, n);
    snprintf(msk, sizeof msk, "%s/scale%02d_rec_mask.png", dir, n);
    if (!rc)
        rc = segq__write_pair(rec, 0, img, msk, err, errlen);
    /* the real image at this scale, to compare the reconstruction with */
    snprintf(img, sizeof img, "%s/scale%02d_real.png", dir, n);
    snprintf(msk, sizeof msk, "%s/scale%02d_real_mask.png", dir, n);
    if (!rc)
        rc = segq__write_pair(real, 0, img, msk, err, errlen);
    if (!rc && count > 0) {
        segqt_tensor *s = segq__run_scale(m, n, segq__prev(m, n, count, 0, 1, 1), 1, 1, 1);
        if (!s)
            rc = segq__torch_fail(err, errlen, "preview samples");
        for (int64_t k = 0; k < count && !rc; k++) {
            snprintf(img, sizeof img, "%s/scale%02d_sample%02d.png", dir, n, (int)k);
            snprintf(msk, sizeof msk, "%s/scale%02d_sample%02d_mask.png", dir, n, (int)k);
            rc = segq__write_pair(s, k, img, msk, err, errlen);
        }
    }
    segqt_no_grad_end();
    segqt_scope_end();
    return rc;
}

/* ---- one scale ----------------------------------------------------------- */

typedef struct {
    const segq_train_opts_t *o;
    segq_model_t *m;
    segqt_tensor **reals;
    segq_progress_t *progress;
    FILE *log;
    double *weight; /* share of the total work per scale, for the progress bar */
    double done;    /* sum of the finished scales' weights */
    int graphs;     /* capture iterations in CUDA graphs (-1: try, fall back) */
} trainer_t;

/* Creates the scale's networks (from the scale before when as wide), its
 * reconstruction state and its optimisers. */
static int scale_setup(trainer_t *t, int n, segq_scale_state_t *s, char *err, size_t errlen)
{
    const segq_train_opts_t *o = t->o;
    segq_model_t *m = t->m;
    int nfc = segq__scale_width(o->nfc, o->nfc_max, n);
    s->pad = m->pad;
    s->G = segq__net_new(1, nfc, m->layers, m->ker, m->dev);
    s->D = segq__net_new(0, nfc, m->layers, m->ker, m->dev);
    int rc = (!s->G || !s->D) ? segq__torch_fail(err, errlen, "creating the networks") : 0;
    /* a scale as wide as the one before starts from its trained weights */
    if (!rc && n > 0 && m->G[n - 1] && m->D[n - 1] && m->G[n - 1]->nfc == nfc)
        rc = (segq__net_copy(s->G, m->G[n - 1]) || segq__net_copy(s->D, m->D[n - 1]))
                 ? segq__torch_fail(err, errlen, "copying the previous scale's weights")
                 : 0;
    else if (!rc) {
        segq__draw_net("init_G", s->G);
        segq__draw_net("init_D", s->D);
    }
    if (!rc && (segq__net_set_requires_grad(s->G, 1) || segq__net_set_requires_grad(s->D, 1)))
        rc = segq__torch_fail(err, errlen, "requires_grad");
    int64_t h = m->pyr.h[n], w = m->pyr.w[n];
    s->real = t->reals[n];
    segqt_scope_begin();
    if (!rc) {
        int64_t zs[4] = {1, SEGQ_NC, h + 2 * m->pad, w + 2 * m->pad};
        s->z_opt = segqt_persist(segqt_zeros(zs, 4, SEGQT_F32, m->dev));
        if (n == 0) {
            s->noise_amp = 1.0;
            s->rec_prev = segqt_persist(segqt_zeros(zs, 4, SEGQT_F32, m->dev));
        } else {
            segqt_tensor *rec = segq__prev(m, n, 1, INT_MAX, 1, 1);
            double mse = NAN;
            if (!rec || segqt_item(segqt_mse_loss(s->real, rec), &mse) != 0)
                rc = segq__torch_fail(err, errlen, "reconstruction from the coarser scales");
            s->noise_amp = o->noise_amp_init * sqrt(mse);
            if (segq__draws_recording()) {
                char name[32];
                snprintf(name, sizeof name, "rec_prev.%d", n);
                segq__draws_add(name, rec);
            }
            s->rec_prev = segqt_persist(segqt_contiguous(segq__pad(rec, m->pad)));
        }
        if (!rc && (!s->z_opt || !s->rec_prev))
            rc = segq__torch_fail(err, errlen, "allocating the scale's state");
    }
    /* A graph replays the optimiser's step too: its step count must live
     * on the device (segqt_adam_new_capturable). */
    const char *names[6 * SEGQ_NET_MAX_LAYERS];
    segqt_tensor *params[6 * SEGQ_NET_MAX_LAYERS];
    int ntrain = 0;
    for (int g = 0; g < 2 && !rc; g++) {
        segq__net_tensors(g == 0 ? s->G : s->D, names, params, 6 * SEGQ_NET_MAX_LAYERS, &ntrain);
        double lr = g == 0 ? o->lr_g : o->lr_d;
        segqt_adam *a =
            t->graphs ? segqt_adam_new_capturable(params, ntrain, lr, o->beta1, o->beta2, 1e-8)
                      : segqt_adam_new(params, ntrain, lr, o->beta1, o->beta2, 1e-8, 0.0);
        *(g == 0 ? &s->opt_g : &s->opt_d) = a;
        if (!a)
            rc = segq__torch_fail(err, errlen, "creating the optimisers");
    }
    segqt_scope_end();
    return rc;
}

/* Frees what scale_setup made that the model does not take over. */
static void scale_state_free(segq_scale_state_t *s, int keep_nets)
{
    segqt_adam_destroy(&s->opt_g);
    segqt_adam_destroy(&s->opt_d);
    segqt_tensor_destroy(&s->rec_prev);
    if (!keep_nets) {
        segq__net_destroy(&s->G);
        segq__net_destroy(&s->D);
        segqt_tensor_destroy(&s->z_opt);
    }
}

/* Losses stay on the device until this many iterations are waiting (or a
 * progress report is due): reading them back waits for the GPU, which
 * would otherwise idle once per iteration. */
#define LOSS_ROWS 64

/* How a scale's iterations run, and the losses they left on the device. */
typedef struct {
    segqt_graph *graph;    /* where graphs are on: the scale runs on its stream */
    int captured;          /* graph holds the iteration: replay it */
    segqt_tensor *losses;  /* SEGQ_LOSSES floats each iteration writes */
    segqt_tensor *pending; /* LOSS_ROWS x SEGQ_LOSSES not yet in the log */
    int64_t first;         /* iteration of pending's row 0 */
    int rows;
    segq_iter_losses_t last;
    double secs_prev, secs_critic, secs_gen; /* eager iterations: where the time goes */
} iterations_t;

/* Draws one iteration's randomness and runs it into it->losses, drawing
 * in the authors' order (training.py), so SEGQ_RECORD_DRAWS can feed
 * their code the same values: scale 0's z_opt, the iteration's noise,
 * then per critic step its "rand" prev chain (a map per coarser scale,
 * coarsest first) and the penalty's alpha. Reads nothing back to the
 * host: a CUDA graph can capture it. */
static int draw_and_step(trainer_t *t, segq_scale_state_t *s, int n, int64_t i, iterations_t *it)
{
    const segq_train_opts_t *o = t->o;
    segq_model_t *m = t->m;
    int64_t h = m->pyr.h[n], w = m->pyr.w[n], one[2] = {1, 1}, steps = o->d_steps;
    double t0 = segq__now();
    if (segqt_scope_begin() < 0)
        return SEGQ_EINTERNAL;
    segqt_tensor *zo = NULL, *noise, *prev[SEGQ_MAX_D_STEPS], *alpha[SEGQ_MAX_D_STEPS];
    /* chain[k * steps + j]: critic step j's noise of scale k */
    segqt_tensor **chain = n > 0 ? calloc((size_t)(n * steps), sizeof *chain) : NULL;
    if (n > 0 && !chain) {
        segqt_scope_end();
        return SEGQ_ENOMEM;
    }
    /* scale 0: z_opt redrawn every iteration (the last one is kept), one
     * channel repeated over the four, as its noise */
    if (n == 0)
        zo = segq__noise(1, h, w, m->pad, 1, m->dev, "z_opt");
    noise = segq__noise(1, h, w, m->pad, n == 0, m->dev, "noise");
    for (int j = 0; j < steps; j++) {
        for (int k = 0; k < n; k++)
            chain[k * steps + j] =
                segq__noise(1, m->pyr.h[k], m->pyr.w[k], m->pad, k == 0, m->dev, "prev_noise");
        alpha[j] = segq__draw("gp_alpha", segqt_rand(one, 2, SEGQT_F32, m->dev));
    }
    segqt_tensor *prevs = NULL;
    if (n > 0) {
        /* the critic steps' prev chains run as one batch: the frozen
         * scales are batch-independent (eval-mode BatchNorm), so this is
         * d_steps independent chains for a third of the kernels */
        segqt_tensor *z[SEGQ_PYRAMID_MAX_SCALES];
        for (int k = 0; k < n; k++)
            z[k] = segqt_cat(chain + k * steps, (int)steps, 0);
        prevs = segq__prev_from_noise(m, n, z);
        if (segq__draws_recording()) {
            char name[48];
            snprintf(name, sizeof name, "rand_prev.%d.%06lld", n, (long long)i);
            segq__draws_add(name, prevs);
        }
        prevs = segq__pad(prevs, m->pad);
    }
    free(chain);
    for (int j = 0; j < steps; j++)
        prev[j] = n == 0 ? s->rec_prev : segqt_narrow(prevs, 0, j, 1);
    segq_iter_times_t times = {0};
    double t1 = segq__now();
    segqt_tensor *losses = segq__train_step(s, o, noise, zo, prev, alpha, m->bf16, &times);
    int rc = losses && segqt_copy_(it->losses, losses) == 0 ? 0 : segq__torch_code();
    segqt_scope_end();
    it->secs_prev += t1 - t0;
    it->secs_critic += times.secs_critic;
    it->secs_gen += times.secs_gen;
    return rc;
}

/* Iteration i: eagerly, or, from the second one on where graphs are on,
 * by replaying the graph captured from it. The first runs eagerly on the
 * graph's stream, so cuDNN has chosen its algorithms and the weights'
 * gradients exist before the capture. */
static int run_iteration(trainer_t *t, segq_scale_state_t *s, int n, int64_t i, iterations_t *it)
{
    if (it->captured)
        return segqt_graph_replay(it->graph);
    if (!t->graphs || i == 0)
        return draw_and_step(t, s, n, i, it);
    int rc = segqt_graph_capture_begin(it->graph);
    if (rc == 0) {
        rc = draw_and_step(t, s, n, i, it);
        if (segqt_graph_capture_end(it->graph) != 0 && rc == 0)
            rc = segqt_last_code();
    }
    if (rc == 0) {
        it->captured = 1;
        return segqt_graph_replay(it->graph);
    }
    if (t->graphs > 0)
        return rc;
    /* auto: nothing captured has run, so the iteration runs again, eagerly */
    fprintf(stderr,
            "segq-run train: scale %d: the CUDA graph capture failed (%s); training "
            "on without graphs (--cuda-graph off skips the attempt)\n",
            n + 1, segqt_last_error());
    segqt_clear_error();
    t->graphs = 0;
    return draw_and_step(t, s, n, i, it);
}

/* Appends the pending iterations' losses to the log, checks they are
 * finite, and keeps the last in it->last. */
static int flush_losses(trainer_t *t, int n, iterations_t *it, char *err, size_t errlen)
{
    const segq_train_opts_t *o = t->o;
    float v[LOSS_ROWS * SEGQ_LOSSES];
    if (it->rows == 0)
        return 0;
    segqt_scope_begin();
    int rc = segqt_to_floats(segqt_narrow(it->pending, 0, 0, it->rows), v,
                             (size_t)it->rows * SEGQ_LOSSES);
    segqt_scope_end();
    if (rc)
        return segq__torch_fail(err, errlen, "reading the losses");
    for (int r = 0; r < it->rows; r++) {
        int64_t i = it->first + r;
        const float *l = v + r * SEGQ_LOSSES;
        double decay = i >= o->lr_milestone ? o->gamma : 1.0;
        fprintf(t->log, "%d,%lld,%.9g,%.9g,%.9g,%.9g,%.9g,%.9g,%.9g\n", n, (long long)i, l[0], l[1],
                l[2], l[3], l[4], l[5], o->lr_g * decay);
        it->last = (segq_iter_losses_t){l[0], l[1], l[2], l[3], l[4], l[5]};
        if (!isfinite(l[0]) || !isfinite(l[4]) || !isfinite(l[5])) {
            snprintf(err, errlen,
                     "scale %d iteration %lld: losses are not finite (D %g, G %g, "
                     "rec %g); try a lower learning rate",
                     n, (long long)i, l[0], l[4], l[5]);
            return SEGQ_ETORCH;
        }
    }
    it->first += it->rows;
    it->rows = 0;
    return 0;
}

/* Moves the iteration's losses to the pending rows (on the device). */
static int record_losses(iterations_t *it)
{
    segqt_scope_begin();
    int64_t shape[2] = {1, SEGQ_LOSSES};
    int rc =
        segqt_copy_(segqt_narrow(it->pending, 0, it->rows, 1), segqt_view(it->losses, shape, 2));
    segqt_scope_end();
    it->rows++;
    return rc;
}

static void report_progress(trainer_t *t, int n, int64_t i, double s_per_iter,
                            const segq_iter_losses_t *L)
{
    int S = t->m->pyr.stop_scale + 1;
    segq_metric_t met[] = {{"scale", n},
                           {"iter", (double)i + 1},
                           {"loss_d", L->loss_d},
                           {"loss_g", L->loss_g_adv},
                           {"loss_rec", L->loss_rec},
                           {"s_per_iter", s_per_iter}};
    char msg[64];
    snprintf(msg, sizeof msg, "scale %d/%d iter %lld/%lld", n + 1, S, (long long)i + 1,
             (long long)t->o->niter);
    segq_progress_report(t->progress, "train",
                         t->done + t->weight[n] * (double)(i + 1) / (double)t->o->niter, met,
                         sizeof met / sizeof met[0], msg, 0);
}

/* A saved scale, with the model's shape so far: the broker records a
 * trained model's shape from the last of these. */
static void report_scale_saved(const trainer_t *t, int n)
{
    int S = t->m->pyr.stop_scale + 1;
    segq_metric_t met[] = {{"scales", n + 1},
                           {"scales_total", S},
                           {"height", t->m->pyr.h[S - 1]},
                           {"width", t->m->pyr.w[S - 1]}};
    segq_progress_report(t->progress, "train", t->done, met, sizeof met / sizeof met[0],
                         "scale saved", 1);
}

static void print_scale_summary(trainer_t *t, int n, const segq_scale_state_t *s,
                                const iterations_t *it, double secs, double steady,
                                double cpu_steady)
{
    const segq_train_opts_t *o = t->o;
    const segq_iter_losses_t *L = &it->last;
    printf("scale %d/%d (%dx%d, width %d): %lld iterations in %.1f s (%.4f s/iter, "
           "%.4f s/iter after the first, CPU %.4f s/iter), noise_amp %.6g, last losses D %.5g G "
           "%.5g rec %.5g\n",
           n + 1, t->m->pyr.stop_scale + 1, t->m->pyr.w[n], t->m->pyr.h[n],
           segq__scale_width(o->nfc, o->nfc_max, n), (long long)o->niter, secs,
           secs / (double)o->niter, steady, cpu_steady, s->noise_amp, L->loss_d, L->loss_g_adv,
           L->loss_rec);
    if (it->captured)
        printf("  time: iterations after the first replayed as one CUDA graph\n");
    else
        printf("  time: noise and rand prevs %.0f%%, %lld critic steps %.0f%%, G update %.0f%%, "
               "other %.0f%%\n",
               100 * it->secs_prev / secs, (long long)o->d_steps, 100 * it->secs_critic / secs,
               100 * it->secs_gen / secs,
               100 * (secs - it->secs_prev - it->secs_critic - it->secs_gen) / secs);
    fflush(stdout);
}

/* The scale's iterations; the losses go to the log as they are read back. */
static int iterate(trainer_t *t, int n, segq_scale_state_t *s, iterations_t *it, char *err,
                   size_t errlen)
{
    const segq_train_opts_t *o = t->o;
    /* SEGQ_PROFILE=FILE: an op-level profile of each scale's iterations
     * after the first (one-off costs) is appended to FILE */
    const char *profile = getenv("SEGQ_PROFILE");
    int profiling = 0, rc = 0;
    double t0 = segq__now(), t_first = t0, last_report = 0.0, cpu_first = segq__cpu_seconds();
    for (int64_t i = 0; i < o->niter && !rc; i++) {
        if (i == 0 || i == o->lr_milestone) {
            double decay = i >= o->lr_milestone ? o->gamma : 1.0;
            segqt_adam_set_lr(s->opt_g, o->lr_g * decay);
            segqt_adam_set_lr(s->opt_d, o->lr_d * decay);
        }
        int preview = i % SEGQ_PREVIEW_EVERY == 0 || i + 1 == o->niter;
        if (run_iteration(t, s, n, i, it) != 0 || record_losses(it) != 0
            || (preview && segq__preview_forward(s, o, t->m->bf16) != 0)) {
            rc = segq__torch_fail(err, errlen, "training iteration");
            break;
        }
        double tn = segq__now();
        int report = tn - last_report >= 1.0 || i + 1 == o->niter;
        if (it->rows == LOSS_ROWS || report || i == 0)
            rc = flush_losses(t, n, it, err, errlen);
        if (i == 0) {
            /* the first iteration pays one-off costs (allocator, kernel
             * choice); the flush above waited for it */
            t_first = tn = segq__now();
            cpu_first = segq__cpu_seconds();
            if (profile && *profile && o->niter > 1 && segqt_profile_begin() == 0)
                profiling = 1;
        }
        if (report && !rc) {
            last_report = tn = segq__now();
            report_progress(t, n, i, (tn - t0) / (double)(i + 1), &it->last);
        }
    }
    if (fflush(t->log) != 0 && !rc)
        rc = loss_log_failed(o->out, err, errlen);
    double t_end = segq__now(), secs = t_end - t0;
    double steady = o->niter > 1 ? (t_end - t_first) / (double)(o->niter - 1) : secs;
    double cpu_steady =
        o->niter > 1 ? (segq__cpu_seconds() - cpu_first) / (double)(o->niter - 1) : 0.0;
    if (profiling) {
        char title[128];
        snprintf(title, sizeof title, "scale %d/%d (%dx%d, width %d), %s, %lld iterations", n + 1,
                 t->m->pyr.stop_scale + 1, t->m->pyr.w[n], t->m->pyr.h[n],
                 segq__scale_width(o->nfc, o->nfc_max, n), t->m->bf16 ? "bf16" : "fp32",
                 (long long)o->niter - 1);
        if (segqt_profile_end(profile, title, 40) != 0)
            fprintf(stderr, "segq-run train: profile: %s\n", segqt_last_error());
    }
    if (!rc)
        print_scale_summary(t, n, s, it, secs, steady, cpu_steady);
    return rc;
}

static int train_scale(trainer_t *t, int n, char *err, size_t errlen)
{
    segq_model_t *m = t->m;
    if (segqt_manual_seed(scale_seed(t->o->compute.seed, n)) != 0)
        return segq__torch_fail(err, errlen, "seeding");
    segq_scale_state_t s = {0};
    iterations_t it = {0};
    int rc = scale_setup(t, n, &s, err, errlen);
    int64_t pending[2] = {LOSS_ROWS, SEGQ_LOSSES}, one[1] = {SEGQ_LOSSES};
    segqt_scope_begin();
    it.losses = segqt_persist(segqt_zeros(one, 1, SEGQT_F32, m->dev));
    it.pending = segqt_persist(segqt_zeros(pending, 2, SEGQT_F32, m->dev));
    segqt_scope_end();
    if (!rc && (!it.losses || !it.pending))
        rc = segq__torch_fail(err, errlen, "allocating the loss buffers");
    if (!rc && t->graphs && !(it.graph = segqt_graph_new(m->dev)))
        rc = segq__torch_fail(err, errlen, "a CUDA graph");
    if (!rc)
        rc = iterate(t, n, &s, &it, err, errlen);
    /* z_opt of scale 0 may live in the graph's memory pool: the model
     * keeps a copy of its own */
    if (!rc && it.captured) {
        segqt_scope_begin();
        segqt_tensor *z = segqt_persist(segqt_clone(s.z_opt));
        segqt_scope_end();
        segqt_tensor_destroy(&s.z_opt);
        if (!(s.z_opt = z))
            rc = segq__torch_fail(err, errlen, "keeping z_opt");
    }
    segqt_graph_destroy(&it.graph);
    segqt_tensor_destroy(&it.losses);
    segqt_tensor_destroy(&it.pending);
    if (!rc && (segq__net_freeze(s.G) || segq__net_freeze(s.D)))
        rc = segq__torch_fail(err, errlen, "freezing the scale");
    scale_state_free(&s, rc == 0);
    if (rc)
        return rc;
    m->G[n] = s.G;
    m->D[n] = s.D;
    m->z_opt[n] = s.z_opt;
    m->noise_amp[n] = s.noise_amp;
    m->trained = n + 1;
    return 0;
}

/* --cuda-graph: 1 on (a failed capture fails the job), -1 auto (a failed
 * capture falls back to plain steps), 0 off. Graphs are a GPU thing: on
 * the CPU every setting trains the same plain way, so a job the queue
 * placed on a CPU never fails for asking for them. */
static int graphs_wanted(const segq_train_opts_t *o, segqt_device dev)
{
    int graphs = strcmp(o->cuda_graph, "off") == 0 ? 0 : strcmp(o->cuda_graph, "on") == 0 ? 1 : -1;
    if (!segqt_graph_supported(dev)) {
        if (graphs == 1)
            printf("--cuda-graph on: no CUDA device here (--device %s), plain steps\n",
                   o->compute.device);
        graphs = 0;
    }
    /* the SEGQ_RECORD_DRAWS hook: a replayed graph draws out of its sight */
    if (segq__draws_recording() && graphs) {
        printf("%s: CUDA graphs off\n", SEGQ_DRAWS_ENV);
        graphs = 0;
    }
    return graphs;
}

/* The image pair, the pyramid and what the checkpoint says of them. */
static int setup_model(const segq_train_opts_t *o, segqt_device dev, pair_t *p,
                       segq_ckpt_meta_t *meta, segq_model_t *m, char *err, size_t errlen)
{
    int rc = load_pair(o, p, meta, err, errlen);
    if (!rc)
        rc = segq_pyramid_plan((int)meta->orig_h, (int)meta->orig_w, (int)o->min_size,
                               (int)o->max_size, o->scale_factor, &m->pyr, err, errlen);
    meta->params_json = params_json(o);
    meta->precision = strdup(o->compute.precision);
    meta->nfc = o->nfc;
    meta->nfc_max = o->nfc_max;
    if (!rc && (!meta->params_json || !meta->precision)) {
        snprintf(err, errlen, "out of memory");
        rc = SEGQ_ENOMEM;
    }
    m->layers = (int)o->num_layer;
    m->ker = (int)o->ker_size;
    m->pad = (int)((o->ker_size - 1) * o->num_layer / 2);
    m->dev = dev;
    m->bf16 = strcmp(o->compute.precision, "bf16") == 0;
    return rc ? rc : segq__make_dir(o->out, err, errlen);
}

/* The first parameter the checkpoint's JSON (was) and this run's (now)
 * set apart, as "NAME WAS, not NOW" into out; the whole texts if they do
 * not parse. */
static void params_differ(const char *was, const char *now, char *out, size_t len)
{
    json_t *a = json_loads(was, 0, NULL), *b = json_loads(now, 0, NULL);
    const char *key;
    json_t *value;
    snprintf(out, len, "%s, not %s", was, now);
    json_object_foreach(a, key, value)
    {
        json_t *other = json_object_get(b, key);
        if (other && json_equal(value, other))
            continue;
        char *x = json_dumps(value, JSON_ENCODE_ANY | JSON_REAL_PRECISION(17));
        char *y = other ? json_dumps(other, JSON_ENCODE_ANY | JSON_REAL_PRECISION(17)) : NULL;
        snprintf(out, len, "%s %s, not %s", key, x ? x : "?", y ? y : "unset");
        free(x);
        free(y);
        break;
    }
    json_decref(a);
    json_decref(b);
}

/* --resume: the finished scales of the checkpoint at path, which must
 * have been trained on the same pair with the same parameters. */
static int resume_from(const char *path, const segq_ckpt_meta_t *meta, segq_model_t *m, char *err,
                       size_t errlen)
{
    segq_model_t old;
    segq_ckpt_meta_t om;
    int rc = segq__ckpt_load(path, m->dev, 1, &old, &om, err, errlen);
    if (!rc
        && (strcmp(om.image_sha256, meta->image_sha256) != 0
            || strcmp(om.mask_sha256, meta->mask_sha256) != 0)) {
        snprintf(err, errlen,
                 "--resume: %s was trained on another image or mask (%s); "
                 "use another --out or drop --resume",
                 path, om.image_name);
        rc = SEGQ_EINVAL;
    } else if (!rc && strcmp(om.params_json, meta->params_json) != 0) {
        char differ[1024];
        params_differ(om.params_json, meta->params_json, differ, sizeof differ);
        snprintf(err, errlen,
                 "--resume: %s was trained with other parameters (%s); "
                 "give the same ones or drop --resume",
                 path, differ);
        rc = SEGQ_EINVAL;
    }
    if (!rc) {
        for (int n = 0; n < old.trained; n++) {
            m->G[n] = old.G[n];
            m->D[n] = old.D[n];
            m->z_opt[n] = old.z_opt[n];
            m->noise_amp[n] = old.noise_amp[n];
            old.G[n] = old.D[n] = NULL;
            old.z_opt[n] = NULL;
        }
        m->trained = old.trained;
        printf("resuming %s after %d finished scale(s)\n", path, m->trained);
    }
    segq__model_free(&old);
    segq__ckpt_meta_free(&om);
    return rc;
}

/* Each scale's share of the work (pixels x width^2), and the share the
 * scales already trained have done. */
static double scale_weights(const segq_train_opts_t *o, const segq_model_t *m,
                            double weight[SEGQ_PYRAMID_MAX_SCALES])
{
    int S = m->pyr.stop_scale + 1;
    double total = 0.0, done = 0.0;
    for (int n = 0; n < S; n++) {
        double nfc = segq__scale_width(o->nfc, o->nfc_max, n);
        weight[n] = (double)m->pyr.h[n] * m->pyr.w[n] * nfc * nfc;
        total += weight[n];
    }
    for (int n = 0; n < S; n++) {
        weight[n] /= total;
        if (n < m->trained)
            done += weight[n];
    }
    return done;
}

/* OUT/model.safetensors, where every finished scale is saved. */
static void model_path(const segq_train_opts_t *o, char *path, size_t len)
{
    snprintf(path, len, "%s/model.safetensors", o->out);
}

/* Without --resume a model already in OUT (a finished training, or
 * another one) would be overwritten by the first scale saved: refused
 * before anything is written. */
static int check_no_earlier_model(const segq_train_opts_t *o, char *err, size_t errlen)
{
    char path[4096];
    struct stat sb;
    model_path(o, path, sizeof path);
    if (o->resume || stat(path, &sb) != 0)
        return 0;
    snprintf(err, errlen,
             "%s exists already, and training would overwrite it: --resume continues the "
             "training that wrote it, or give another --out",
             path);
    return SEGQ_EINVAL;
}

/* The scales not yet trained, each saved (checkpoint, previews) as it
 * ends. */
static int train_scales(trainer_t *t, const segq_ckpt_meta_t *meta, char *err, size_t errlen)
{
    const segq_train_opts_t *o = t->o;
    char path[4096];
    model_path(o, path, sizeof path);
    int rc = 0;
    for (int n = t->m->trained; n <= t->m->pyr.stop_scale && !rc; n++) {
        rc = train_scale(t, n, err, errlen);
        if (!rc)
            rc = segq__ckpt_save(t->m, meta, 1, path, err, errlen);
        if (!rc)
            segq_progress_checkpoint(t->progress, "model.safetensors", n + 1);
        segq__draws_pause(1); /* previews change nothing: not recorded */
        if (!rc)
            rc = write_previews(t->m, t->reals[n], n, o->previews, o->out, err, errlen);
        segq__draws_pause(0);
        t->done += t->weight[n];
        if (!rc)
            report_scale_saved(t, n);
        if (o->stop_after_scale >= 0 && n >= o->stop_after_scale)
            break;
    }
    return rc;
}

int segq_singan_train(const segq_train_opts_t *o, segq_progress_t *progress, char *err,
                      size_t errlen)
{
    segqt_device dev;
    int threads;
    int rc = check_no_earlier_model(o, err, errlen);
    if (!rc)
        rc = segq__compute_setup(&o->compute, &dev, &threads, err, errlen);
    if (rc)
        return rc;
    rc = segq_rule_train_network(o->ker_size, o->num_layer, o->min_size, err, errlen);
    if (rc)
        return rc;
    /* training runs each scale's few convolution shapes thousands of
     * times: cuDNN's fastest algorithm for each is worth its one-off trial
     * (generate is not: a shape or two, a batch or two each) */
    if (dev.type == SEGQT_DEVICE_CUDA && segqt_cudnn_benchmark(1) != 0)
        return segq__torch_fail(err, errlen, "cuDNN benchmark mode");
    if ((rc = segq__draws_open("train", err, errlen)) != 0)
        return rc;
    int graphs = graphs_wanted(o, dev);
    pair_t p = {0};
    segq_ckpt_meta_t meta = {0};
    segq_model_t m = {0};
    segqt_tensor *reals[SEGQ_PYRAMID_MAX_SCALES] = {0};
    FILE *log = NULL;
    double weight[SEGQ_PYRAMID_MAX_SCALES] = {0};
    char path[4096];
    rc = setup_model(o, dev, &p, &meta, &m, err, errlen);
    model_path(o, path, sizeof path);
    struct stat sb;
    if (!rc && o->resume && stat(path, &sb) == 0)
        rc = resume_from(path, &meta, &m, err, errlen);
    else if (!rc && o->resume)
        printf("--resume: no %s yet, starting from scale 1\n", path);
    if (!rc)
        rc = make_reals(&p, &m.pyr, dev, reals, err, errlen);
    for (int n = 0; n <= m.pyr.stop_scale && !rc; n++) {
        char name[32];
        snprintf(name, sizeof name, "real.%d", n);
        segq__draws_add(name, reals[n]);
    }
    snprintf(path, sizeof path, "%s/losses.csv", o->out);
    if (!rc && !(log = open_loss_log(path, m.trained, err, errlen)))
        rc = SEGQ_EINVAL;
    double done = rc ? 0.0 : scale_weights(o, &m, weight);
    int S = m.pyr.stop_scale + 1;
    if (!rc)
        printf("training %s: %dx%d -> %d scales from %dx%d to %dx%d (width x height), r %.6f, "
               "%s on %s, %d threads\n",
               meta.image_name, (int)meta.orig_w, (int)meta.orig_h, S, m.pyr.w[0], m.pyr.h[0],
               m.pyr.w[S - 1], m.pyr.h[S - 1], m.pyr.r, o->compute.precision, o->compute.device,
               threads);
    trainer_t t = {o, &m, reals, progress, log, weight, done, graphs};
    if (!rc)
        rc = train_scales(&t, &meta, err, errlen);
    if (log && fclose(log) != 0 && !rc)
        rc = loss_log_failed(o->out, err, errlen);
    int drc = segq__draws_close(rc == 0, err, errlen);
    rc = rc ? rc : drc;
    for (int n = 0; n < SEGQ_PYRAMID_MAX_SCALES; n++)
        segqt_tensor_destroy(&reals[n]);
    segq__model_free(&m);
    segq__imresize_cache_clear();
    segq__ckpt_meta_free(&meta);
    segq_image_destroy(&p.rgb);
    segq_image_destroy(&p.mask);
    return rc;
}
