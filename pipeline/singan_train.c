/* segq-run train: the scale-by-scale SinGAN-Seg training driver. */
#include "segq_image.h"
#include "segq_run_flags.h"
#include "segq_sha256.h"
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
 * parameters, so --resume accepts a moved file or another thread count. */
static const char *const volatile_flags[] = {"image",   "mask",     "out",      "resume",
                                             "device",  "threads",  "previews",
                                             "stop_after_scale"};

/* Each scale draws from its own seed, so a resumed training makes the
 * same scales as one that ran through. */
static uint64_t scale_seed(int64_t seed, int n)
{
    uint64_t z = (uint64_t)seed + 0x9E3779B97F4A7C15ull * (uint64_t)(n + 1);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
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

/* Pixels an input may decode to: make_reals holds them as floats several
 * times over (about 80 bytes a pixel), so 16M (4096x4096) at most, or the
 * finest scale itself if that is more. */
#define TRAIN_MAX_PIXELS ((uint64_t)1 << 24)

static int load_pair(const segq_train_opts_t *o, pair_t *p, segq_ckpt_meta_t *meta, char *err,
                     size_t errlen)
{
    segq_image_t *img = NULL, *mimg = NULL;
    /* no larger than the finest scale needs: a JPEG at a reduced scale,
     * and a larger declared size refused from the file's header */
    uint64_t finest = (uint64_t)o->max_size * (uint64_t)o->max_size;
    segq_image_limits_t limits = {.max_pixels = finest > TRAIN_MAX_PIXELS ? finest
                                                                          : TRAIN_MAX_PIXELS,
                                  .fit_side = (uint32_t)o->max_size};
    int rc;
    if (o->mask_from_alpha) {
        if (o->mask && *o->mask) {
            snprintf(err, errlen, "train: give either --mask or --mask-from-alpha, not both");
            return SEGQ_EINVAL;
        }
        rc = segq_image_read_file(o->image, &limits, &img, err, errlen);
        if (!rc)
            rc = segq_image_split_alpha(img, &p->rgb, &p->mask, err, errlen);
        if (rc && !strstr(err, o->image)) {
            char why[1024];
            snprintf(why, sizeof why, "%s", err);
            snprintf(err, errlen, "%s: %s", o->image, why);
        }
    } else if (!o->mask || !*o->mask) {
        snprintf(err, errlen, "train: --mask is required (or --mask-from-alpha for an RGBA "
                 "image whose alpha is the mask)");
        rc = SEGQ_EINVAL;
    } else {
        rc = segq_image_read_pair(o->image, o->mask, &limits, &img, &mimg, err, errlen);
        if (!rc)
            rc = segq_image_to_rgb(img, &p->rgb, err, errlen);
        if (!rc)
            rc = segq_image_to_mask(mimg, &p->mask, err, errlen);
    }
    /* the pyramid is planned on the size the file declares, as the
     * authors' code does, whatever size it was decoded at */
    uint32_t full_h = img ? img->full_height : 0, full_w = img ? img->full_width : 0;
    segq_image_destroy(&img);
    segq_image_destroy(&mimg);
    if (rc)
        return rc;
    double frac = segq_image_mask_fraction(p->mask);
    if (frac <= 0.0)
        fprintf(stderr, "segq-run train: warning: the mask of %s is empty (no foreground "
                "pixel): samples will have empty masks\n", o->image);
    else if (frac >= 1.0)
        fprintf(stderr, "segq-run train: warning: the mask of %s is full (every pixel "
                "foreground)\n", o->image);
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
    meta->orig_h = full_h;
    meta->orig_w = full_w;
    if (!meta->image_name || !meta->image_sha256 || !meta->mask_name || !meta->mask_sha256) {
        snprintf(err, errlen, "out of memory");
        return SEGQ_ENOMEM;
    }
    return 0;
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
    int rc = 0;
    segqt_scope_begin();
    int64_t shape[4] = {1, SEGQ_NC, p->rgb->height, p->rgb->width};
    segqt_tensor *x = segqt_to_device(segqt_from_floats(buf, shape, 4, SEGQT_CPU), dev);
    free(buf);
    x = segqt_sub_scalar(segqt_mul_scalar(x, 2.0), 1.0);
    if (x && (pyr->height != shape[2] || pyr->width != shape[3]))
        x = segqt_interpolate(x, pyr->height, pyr->width, SEGQT_INTERP_BICUBIC, 0, 1);
    for (int s = 0; s <= pyr->stop_scale && rc == 0; s++) {
        segqt_tensor *r = x;
        if (x && (pyr->h[s] != pyr->height || pyr->w[s] != pyr->width))
            r = segqt_interpolate(x, pyr->h[s], pyr->w[s], SEGQT_INTERP_BICUBIC, 0, 1);
        /* bicubic overshoots; the authors' uint8 round trip clips it */
        r = segqt_contiguous(segqt_clamp(r, -1.0, 1.0));
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
} trainer_t;

static int train_scale(trainer_t *t, int n, char *err, size_t errlen)
{
    const segq_train_opts_t *o = t->o;
    segq_model_t *m = t->m;
    int nfc = segq__scale_width(o->nfc, o->nfc_max, n);
    if (segqt_manual_seed(scale_seed(o->compute.seed, n)) != 0)
        return segq__torch_fail(err, errlen, "seeding");
    segq_scale_state_t s = {0};
    s.pad = m->pad;
    s.G = segq__net_new(1, nfc, m->layers, m->ker, m->dev);
    s.D = segq__net_new(0, nfc, m->layers, m->ker, m->dev);
    int rc = (!s.G || !s.D) ? segq__torch_fail(err, errlen, "creating the networks") : 0;
    /* a scale as wide as the one before starts from its trained weights */
    if (!rc && n > 0 && m->G[n - 1] && m->D[n - 1] && m->G[n - 1]->nfc == nfc)
        rc = (segq__net_copy(s.G, m->G[n - 1]) || segq__net_copy(s.D, m->D[n - 1]))
                 ? segq__torch_fail(err, errlen, "copying the previous scale's weights")
                 : 0;
    if (!rc && (segq__net_set_requires_grad(s.G, 1) || segq__net_set_requires_grad(s.D, 1)))
        rc = segq__torch_fail(err, errlen, "requires_grad");
    int64_t h = m->pyr.h[n], w = m->pyr.w[n];
    s.real = t->reals[n];
    segqt_scope_begin();
    if (!rc) {
        int64_t zs[4] = {1, SEGQ_NC, h + 2 * m->pad, w + 2 * m->pad};
        s.z_opt = segqt_persist(segqt_zeros(zs, 4, SEGQT_F32, m->dev));
        if (n == 0) {
            s.noise_amp = 1.0;
            s.rec_prev = segqt_persist(segqt_zeros(zs, 4, SEGQT_F32, m->dev));
        } else {
            segqt_tensor *rec = segq__prev(m, n, 1, INT_MAX, 1, 1);
            double mse = NAN;
            if (!rec || segqt_item(segqt_mse_loss(s.real, rec), &mse) != 0)
                rc = segq__torch_fail(err, errlen, "reconstruction from the coarser scales");
            s.noise_amp = o->noise_amp_init * sqrt(mse);
            s.rec_prev = segqt_persist(segqt_contiguous(segq__pad(rec, m->pad)));
        }
        if (!rc && (!s.z_opt || !s.rec_prev))
            rc = segq__torch_fail(err, errlen, "allocating the scale's state");
    }
    const char *names[6 * SEGQ_NET_MAX_LAYERS];
    segqt_tensor *params[6 * SEGQ_NET_MAX_LAYERS];
    int ntrain = 0;
    if (!rc) {
        segq__net_tensors(s.G, names, params, 6 * SEGQ_NET_MAX_LAYERS, &ntrain);
        s.opt_g = segqt_adam_new(params, ntrain, o->lr_g, o->beta1, o->beta2, 1e-8, 0.0);
        segq__net_tensors(s.D, names, params, 6 * SEGQ_NET_MAX_LAYERS, &ntrain);
        s.opt_d = segqt_adam_new(params, ntrain, o->lr_d, o->beta1, o->beta2, 1e-8, 0.0);
        if (!s.opt_g || !s.opt_d)
            rc = segq__torch_fail(err, errlen, "creating the optimisers");
    }
    segqt_scope_end();

    int S = m->pyr.stop_scale + 1;
    /* SEGQ_PROFILE=FILE: an op-level profile of each scale's iterations
     * after the first (one-off costs) is appended to FILE */
    const char *profile = getenv("SEGQ_PROFILE");
    int profiling = 0;
    double t0 = segq__now(), t_first = t0, last_report = 0.0;
    double cpu_first = segq__cpu_seconds();
    double secs_prev = 0, secs_critic = 0, secs_gen = 0; /* where the time goes */
    segq_iter_losses_t L = {0};
    for (int64_t i = 0; i < o->niter && !rc; i++) {
        double decay = i >= o->lr_milestone ? o->gamma : 1.0;
        if (i == 0 || i == o->lr_milestone) {
            segqt_adam_set_lr(s.opt_g, o->lr_g * decay);
            segqt_adam_set_lr(s.opt_d, o->lr_d * decay);
        }
        double t_iter = segq__now();
        segqt_scope_begin();
        segqt_tensor *zo = NULL, *noise;
        segqt_tensor *prev[100], *alpha[100];
        int64_t one[2] = {1, 1};
        if (n == 0) {
            /* scale 0: z_opt redrawn every iteration (the last one is
             * kept), one channel repeated over the four */
            zo = segq__noise(1, h, w, m->pad, 1, m->dev);
            noise = segq__noise(1, h, w, m->pad, 1, m->dev);
        } else
            noise = segq__noise(1, h, w, m->pad, 0, m->dev);
        for (int j = 0; j < o->d_steps; j++) {
            prev[j] = n == 0 ? s.rec_prev : segq__pad(segq__prev(m, n, 1, 0, 1, 1), m->pad);
            alpha[j] = segqt_rand(one, 2, SEGQT_F32, m->dev);
        }
        double t_draw = segq__now();
        rc = segq__train_iteration(&s, o, noise, zo, prev, alpha, m->bf16, &L);
        secs_prev += t_draw - t_iter;
        secs_critic += L.secs_critic;
        secs_gen += L.secs_gen;
        segqt_scope_end();
        if (rc) {
            segq__torch_fail(err, errlen, "training iteration");
            break;
        }
        fprintf(t->log, "%d,%lld,%.9g,%.9g,%.9g,%.9g,%.9g,%.9g,%.9g\n", n, (long long)i,
                L.loss_d, L.d_real, L.d_fake, L.gp, L.loss_g_adv, L.loss_rec,
                o->lr_g * decay);
        if (!isfinite(L.loss_d) || !isfinite(L.loss_g_adv) || !isfinite(L.loss_rec)) {
            snprintf(err, errlen, "scale %d iteration %lld: losses are not finite (D %g, G %g, "
                     "rec %g); try a lower learning rate", n, (long long)i, L.loss_d,
                     L.loss_g_adv, L.loss_rec);
            rc = SEGQ_ETORCH;
            break;
        }
        double tn = segq__now();
        if (i == 0) {
            t_first = tn;
            cpu_first = segq__cpu_seconds();
            if (profile && *profile && o->niter > 1 && segqt_profile_begin() == 0)
                profiling = 1;
        }
        if (tn - last_report >= 1.0 || i + 1 == o->niter) {
            last_report = tn;
            segq_metric_t met[] = {{"scale", n},
                                   {"iter", (double)i + 1},
                                   {"loss_d", L.loss_d},
                                   {"loss_g", L.loss_g_adv},
                                   {"loss_rec", L.loss_rec},
                                   {"s_per_iter", (tn - t0) / (double)(i + 1)}};
            char msg[64];
            snprintf(msg, sizeof msg, "scale %d/%d iter %lld/%lld", n + 1, S,
                     (long long)i + 1, (long long)o->niter);
            segq_progress_report(t->progress, "train",
                                 t->done + t->weight[n] * (double)(i + 1) / (double)o->niter,
                                 met, sizeof met / sizeof met[0], msg, 0);
        }
    }
    fflush(t->log);
    double cpu_steady = o->niter > 1 ? (segq__cpu_seconds() - cpu_first) / (double)(o->niter - 1)
                                     : 0.0;
    if (profiling) {
        char title[128];
        snprintf(title, sizeof title, "scale %d/%d (%lldx%lld, width %d), %s, %lld iterations",
                 n + 1, S, (long long)h, (long long)w, nfc, m->bf16 ? "bf16" : "fp32",
                 (long long)o->niter - 1);
        if (segqt_profile_end(profile, title, 40) != 0)
            fprintf(stderr, "segq-run train: profile: %s\n", segqt_last_error());
    }
    segqt_adam_destroy(&s.opt_g);
    segqt_adam_destroy(&s.opt_d);
    segqt_tensor_destroy(&s.rec_prev);
    if (!rc && (segq__net_freeze(s.G) || segq__net_freeze(s.D)))
        rc = segq__torch_fail(err, errlen, "freezing the scale");
    if (rc) {
        segq__net_destroy(&s.G);
        segq__net_destroy(&s.D);
        segqt_tensor_destroy(&s.z_opt);
        return rc;
    }
    m->G[n] = s.G;
    m->D[n] = s.D;
    m->z_opt[n] = s.z_opt;
    m->noise_amp[n] = s.noise_amp;
    m->trained = n + 1;
    double t_end = segq__now(), secs = t_end - t0;
    /* the first iteration pays one-off costs (allocator, kernel choice) */
    double steady = o->niter > 1 ? (t_end - t_first) / (double)(o->niter - 1) : secs;
    printf("scale %d/%d (%lldx%lld, width %d): %lld iterations in %.1f s (%.4f s/iter, "
           "%.4f s/iter after the first, CPU %.4f s/iter), noise_amp %.6g, last losses D %.5g G %.5g "
           "rec %.5g\n",
           n + 1, S, (long long)h, (long long)w, nfc, (long long)o->niter, secs,
           secs / (double)o->niter, steady, cpu_steady, s.noise_amp, L.loss_d, L.loss_g_adv, L.loss_rec);
    printf("  time: noise and rand prevs %.0f%%, %lld critic steps %.0f%%, G update %.0f%%, "
           "other %.0f%%\n",
           100 * secs_prev / secs, (long long)o->d_steps, 100 * secs_critic / secs,
           100 * secs_gen / secs, 100 * (secs - secs_prev - secs_critic - secs_gen) / secs);
    fflush(stdout);
    return 0;
}

int segq_singan_train(const segq_train_opts_t *o, segq_progress_t *progress, char *err,
                      size_t errlen)
{
    segqt_device dev;
    int threads;
    int rc = segq__compute_setup(&o->compute, &dev, &threads, err, errlen);
    if (rc)
        return rc;
    if (o->ker_size % 2 == 0) {
        snprintf(err, errlen, "--ker-size %lld: must be odd", (long long)o->ker_size);
        return SEGQ_EINVAL;
    }
    pair_t p = {0};
    segq_ckpt_meta_t meta = {0};
    segq_model_t m = {0};
    segqt_tensor *reals[SEGQ_PYRAMID_MAX_SCALES] = {0};
    FILE *log = NULL;
    double weight[SEGQ_PYRAMID_MAX_SCALES] = {0};
    char path[4096];
    rc = load_pair(o, &p, &meta, err, errlen);
    if (!rc)
        rc = segq_pyramid_plan((int)meta.orig_h, (int)meta.orig_w, (int)o->min_size,
                               (int)o->max_size, o->scale_factor, &m.pyr, err, errlen);
    meta.params_json = params_json(o);
    meta.precision = strdup(o->compute.precision);
    meta.nfc = o->nfc;
    meta.nfc_max = o->nfc_max;
    if (!rc && (!meta.params_json || !meta.precision)) {
        snprintf(err, errlen, "out of memory");
        rc = SEGQ_ENOMEM;
    }
    m.layers = (int)o->num_layer;
    m.ker = (int)o->ker_size;
    m.pad = (int)((o->ker_size - 1) * o->num_layer / 2);
    m.dev = dev;
    m.bf16 = strcmp(o->compute.precision, "bf16") == 0;
    if (!rc)
        rc = segq__make_dir(o->out, err, errlen);
    snprintf(path, sizeof path, "%s/model.safetensors", o->out);
    struct stat sb;
    if (!rc && o->resume && stat(path, &sb) == 0) {
        segq_model_t old;
        segq_ckpt_meta_t om;
        rc = segq__ckpt_load(path, dev, 1, &old, &om, err, errlen);
        if (!rc && (strcmp(om.image_sha256, meta.image_sha256) != 0
                    || strcmp(om.mask_sha256, meta.mask_sha256) != 0)) {
            snprintf(err, errlen, "--resume: %s was trained on another image or mask (%s); "
                     "use another --out or drop --resume", path, om.image_name);
            rc = SEGQ_EINVAL;
        } else if (!rc && strcmp(om.params_json, meta.params_json) != 0) {
            snprintf(err, errlen, "--resume: %s was trained with other parameters (%s); "
                     "give the same ones or drop --resume", path, om.params_json);
            rc = SEGQ_EINVAL;
        }
        if (!rc) {
            for (int n = 0; n < old.trained; n++) {
                m.G[n] = old.G[n];
                m.D[n] = old.D[n];
                m.z_opt[n] = old.z_opt[n];
                m.noise_amp[n] = old.noise_amp[n];
                old.G[n] = old.D[n] = NULL;
                old.z_opt[n] = NULL;
            }
            m.trained = old.trained;
            printf("resuming %s after %d finished scale(s)\n", path, m.trained);
        }
        segq__model_free(&old);
        segq__ckpt_meta_free(&om);
    } else if (!rc && o->resume)
        printf("--resume: no %s yet, starting from scale 1\n", path);
    if (!rc)
        rc = make_reals(&p, &m.pyr, dev, reals, err, errlen);
    snprintf(path, sizeof path, "%s/losses.csv", o->out);
    if (!rc && !(log = open_loss_log(path, m.trained, err, errlen)))
        rc = SEGQ_EINVAL;

    int S = m.pyr.stop_scale + 1;
    double total = 0.0, done = 0.0;
    for (int n = 0; n < S && !rc; n++) {
        double nfc = segq__scale_width(o->nfc, o->nfc_max, n);
        weight[n] = (double)m.pyr.h[n] * m.pyr.w[n] * nfc * nfc;
        total += weight[n];
    }
    for (int n = 0; n < S && !rc; n++) {
        weight[n] /= total;
        if (n < m.trained)
            done += weight[n];
    }
    if (!rc)
        printf("training %s: %dx%d -> %d scales from %dx%d to %dx%d, r %.6f, %s on %s, "
               "%d threads\n",
               meta.image_name, (int)meta.orig_h, (int)meta.orig_w, S, m.pyr.h[0], m.pyr.w[0],
               m.pyr.h[S - 1], m.pyr.w[S - 1], m.pyr.r, o->compute.precision,
               o->compute.device, threads);
    trainer_t t = {o, &m, reals, progress, log, weight, done};
    for (int n = m.trained; n < S && !rc; n++) {
        rc = train_scale(&t, n, err, errlen);
        snprintf(path, sizeof path, "%s/model.safetensors", o->out);
        if (!rc)
            rc = segq__ckpt_save(&m, &meta, 1, path, err, errlen);
        if (!rc)
            segq_progress_checkpoint(progress, "model.safetensors", n + 1);
        if (!rc)
            rc = write_previews(&m, reals[n], n, o->previews, o->out, err, errlen);
        t.done += weight[n];
        if (!rc)
            segq_progress_report(progress, "train", t.done, NULL, 0, "scale saved", 1);
        if (o->stop_after_scale >= 0 && n >= o->stop_after_scale)
            break;
    }
    if (log)
        fclose(log);
    for (int n = 0; n < SEGQ_PYRAMID_MAX_SCALES; n++)
        segqt_tensor_destroy(&reals[n]);
    segq__model_free(&m);
    segq__ckpt_meta_free(&meta);
    segq_image_destroy(&p.rgb);
    segq_image_destroy(&p.mask);
    return rc;
}
