/* evaluate: training one UNet++ and measuring it. */
#include "evaluate_internal.h"

#include "segq_error.h"
#include "segq_unetpp_file.h"
#include "singan_internal.h"
#include "stylize.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void segq__eval_history_free(segq_eval_history_t *h)
{
    free(h->train_loss);
    free(h->val_iou);
    memset(h, 0, sizeof *h);
}

static double uniform(uint64_t *st, double lo, double hi)
{
    return lo + (hi - lo) * (double)(segq__eval_rand(st) >> 11) * 0x1.0p-53;
}

void segq__eval_augment(const float *img, const float *msk, int64_t s, uint64_t *rng, float *x,
                        float *t)
{
    size_t plane = (size_t)(s * s);
    int hflip = segq__eval_rand(rng) & 1, vflip = segq__eval_rand(rng) & 1;
    int64_t m = s / 16;
    double dx = m ? (double)(segq__eval_rand(rng) % (uint64_t)(2 * m + 1)) - (double)m : 0.0;
    double dy = m ? (double)(segq__eval_rand(rng) % (uint64_t)(2 * m + 1)) - (double)m : 0.0;
    double angle = uniform(rng, -SEGQ_EVAL_MAX_ROTATION, SEGQ_EVAL_MAX_ROTATION) * M_PI / 180.0;
    double bright = uniform(rng, 0.9, 1.1), contrast = uniform(rng, 0.9, 1.1);
    double co = cos(angle), si = sin(angle), mid = (double)(s - 1) / 2.0;
    /* Each output pixel looks up where it came from: undo the shift, then
     * the rotation about the centre, then the flips. The image is sampled
     * bilinearly, the mask at the nearest pixel so it stays 0/1; what
     * comes from outside is 0 in both. */
    for (int64_t y = 0; y < s; y++)
        for (int64_t xx = 0; xx < s; xx++) {
            double u = (double)xx - dx - mid, v = (double)y - dy - mid;
            double sx = co * u + si * v + mid, sy = -si * u + co * v + mid;
            if (hflip)
                sx = (double)(s - 1) - sx;
            if (vflip)
                sy = (double)(s - 1) - sy;
            size_t o = (size_t)(y * s + xx);
            int64_t nx = (int64_t)floor(sx + 0.5), ny = (int64_t)floor(sy + 0.5);
            t[o] = nx >= 0 && nx < s && ny >= 0 && ny < s ? msk[ny * s + nx] : 0.0f;
            int64_t x0 = (int64_t)floor(sx), y0 = (int64_t)floor(sy);
            double fx = sx - (double)x0, fy = sy - (double)y0;
            for (int c = 0; c < 3; c++) {
                const float *p = img + (size_t)c * plane;
                double val = 0;
                for (int k = 0; k < 4; k++) {
                    int64_t px = x0 + (k & 1), py = y0 + (k >> 1);
                    double wgt = ((k & 1) ? fx : 1 - fx) * ((k >> 1) ? fy : 1 - fy);
                    if (px >= 0 && px < s && py >= 0 && py < s && wgt > 0)
                        val += wgt * p[py * s + px];
                }
                val = ((val - 0.5) * contrast + 0.5) * bright;
                x[(size_t)c * plane + o] = (float)(val < 0 ? 0 : val > 1 ? 1 : val);
            }
        }
}

/* One pair into x (3 planes) and t (1 plane), augmented when rng is set. */
static void fill_one(const segq_eval_item_t *it, float *x, float *t, uint64_t *rng)
{
    int64_t s = it->d->size;
    size_t plane = (size_t)(s * s);
    const float *img = it->d->img + (size_t)it->i * 3 * plane;
    const float *msk = it->d->mask + (size_t)it->i * plane;
    if (!rng) {
        memcpy(x, img, 3 * plane * sizeof(float));
        memcpy(t, msk, plane * sizeof(float));
        return;
    }
    segq__eval_augment(img, msk, s, rng, x, t);
}

/* Batch tensors (scoped): x B x 3 x s x s, t B x 1 x s x s. */
static int make_batch(const segq_eval_item_t *items, size_t n, uint64_t *rng, segqt_device dev,
                      segqt_tensor **x, segqt_tensor **t)
{
    int64_t s = items[0].d->size;
    size_t plane = (size_t)(s * s);
    float *xb = malloc(n * 3 * plane * sizeof(float)), *tb = malloc(n * plane * sizeof(float));
    int rc = xb && tb ? 0 : SEGQ_ENOMEM;
    for (size_t k = 0; k < n && !rc; k++)
        fill_one(&items[k], xb + k * 3 * plane, tb + k * plane, rng);
    int64_t xs[4] = {(int64_t)n, 3, s, s}, ts[4] = {(int64_t)n, 1, s, s};
    *x = rc ? NULL : segqt_to_device(segqt_from_floats(xb, xs, 4, SEGQT_CPU), dev);
    *t = rc ? NULL : segqt_to_device(segqt_from_floats(tb, ts, 4, SEGQT_CPU), dev);
    free(xb);
    free(tb);
    return rc ? rc : (*x && *t) ? 0 : SEGQ_EINTERNAL;
}

/* segmentation_models_pytorch's DiceLoss over the batch (eps 1). */
static segqt_tensor *dice_loss(segqt_tensor *logits, segqt_tensor *t)
{
    segqt_tensor *p = segqt_sigmoid(logits);
    segqt_tensor *tp = segqt_sum(segqt_mul(p, t));
    segqt_tensor *den = segqt_add_scalar(segqt_add(segqt_sum(p), segqt_sum(t)), 1.0);
    return segqt_rsub_scalar(segqt_div(segqt_add_scalar(segqt_mul_scalar(tp, 2.0), 1.0), den), 1.0);
}

int segq__eval_predict(segq_unetpp_t *net, const segq_eval_item_t *items, size_t n, int64_t batch,
                       float *probs, char *err, size_t errlen)
{
    if (n == 0)
        return 0;
    size_t plane = (size_t)(items[0].d->size * items[0].d->size);
    int rc = 0;
    segqt_device dev = SEGQT_CPU;
    for (size_t at = 0; at < n && !rc; at += (size_t)batch) {
        size_t b = n - at < (size_t)batch ? n - at : (size_t)batch;
        segqt_scope_begin();
        segqt_no_grad_begin();
        segqt_tensor *x, *t;
        const char *names[SEGQ_UNETPP_MAX_TENSORS];
        segqt_tensor *ts[SEGQ_UNETPP_MAX_TENSORS];
        segq_unetpp_tensors(net, names, ts, 1, NULL);
        segqt_device_of(ts[0], &dev);
        rc = make_batch(items + at, b, NULL, dev, &x, &t);
        segqt_tensor *p = rc ? NULL : segqt_sigmoid(segq_unetpp_forward(net, x, 0));
        if (!p || segqt_to_floats(p, probs + at * plane, b * plane) != 0)
            rc = segq__torch_fail(err, errlen, "predicting");
        segqt_no_grad_end();
        segqt_scope_end();
    }
    return rc;
}

int segq__eval_measure(segq_unetpp_t *net, const segq_eval_item_t *items, size_t n, int64_t batch,
                       segq_seg_metrics_t *mean, segq_seg_metrics_t *each, char *err, size_t errlen)
{
    memset(mean, 0, sizeof *mean);
    if (n == 0) {
        for (int k = 0; k < SEGQ_N_METRICS; k++)
            segq_metric_set(mean, k, NAN);
        return 0;
    }
    size_t plane = (size_t)(items[0].d->size * items[0].d->size);
    float *probs = malloc(n * plane * sizeof(float));
    if (!probs) {
        snprintf(err, errlen, "out of memory");
        return SEGQ_ENOMEM;
    }
    int rc = segq__eval_predict(net, items, n, batch, probs, err, errlen);
    for (size_t k = 0; k < n && !rc; k++) {
        const float *truth = items[k].d->mask + (size_t)items[k].i * plane;
        segq_seg_metrics_t m = segq_image_metrics(probs + k * plane, truth, plane, 0.5);
        segq_metrics_add_share(mean, &m, n);
        if (each)
            each[k] = m;
    }
    free(probs);
    return rc;
}

/* One training run, from the model's creation to the model kept. */
typedef struct {
    const segq_eval_train_cfg_t *cfg;
    segq_unetpp_t *net;
    segq_unetpp_t *best; /* the best epoch's copy, with a validation set */
    segqt_adam *opt;
    segq_eval_item_t *order; /* the training pairs, reshuffled every epoch */
    size_t ntrain;
    uint64_t rng; /* the shuffles' and the augmentations' */
    double best_iou, t0, cpu0;
} trainer_t;

/* The model (with the encoder's weights when given), its Adam, the pairs'
 * order and the history's arrays. */
static int trainer_begin(trainer_t *tr, const segq_eval_item_t *train, size_t nval,
                         segq_eval_history_t *hist, char *err, size_t errlen)
{
    const segq_eval_train_cfg_t *cfg = tr->cfg;
    tr->net = segq_unetpp_new(cfg->depth, cfg->width, SEGQ_UNETPP_IN_CHANNELS, cfg->dev);
    tr->best =
        nval ? segq_unetpp_new(cfg->depth, cfg->width, SEGQ_UNETPP_IN_CHANNELS, cfg->dev) : NULL;
    tr->order = malloc(tr->ntrain * sizeof *tr->order);
    hist->train_loss = calloc((size_t)cfg->epochs, sizeof(double));
    hist->val_iou = calloc((size_t)cfg->epochs, sizeof(double));
    if (!tr->net || (nval && !tr->best) || !tr->order || !hist->train_loss || !hist->val_iou) {
        snprintf(err, errlen, "%s: cannot create the model: %s", cfg->label,
                 *segqt_last_error() ? segqt_last_error() : "out of memory");
        return SEGQ_ENOMEM;
    }
    memcpy(tr->order, train, tr->ntrain * sizeof *tr->order);
    if (cfg->encoder_weights && *cfg->encoder_weights) {
        int rc = segq_unetpp_load_encoder(tr->net, cfg->encoder_weights, "--encoder-weights", err,
                                          errlen);
        if (rc)
            return rc;
    }
    const char *names[SEGQ_UNETPP_MAX_TENSORS];
    segqt_tensor *t[SEGQ_UNETPP_MAX_TENSORS];
    int nt = 0;
    segq_unetpp_tensors(tr->net, names, t, SEGQ_UNETPP_MAX_TENSORS, &nt);
    if (!(tr->opt = segqt_adam_new(t, nt, cfg->lr, 0.9, 0.999, 1e-8, 0.0)))
        return segq__torch_fail(err, errlen, "Adam");
    return 0;
}

/* One epoch over the reshuffled pairs; its mean Dice loss into *loss (NaN
 * when no batch ran). */
static int train_epoch(trainer_t *tr, double *loss, char *err, size_t errlen)
{
    const segq_eval_train_cfg_t *cfg = tr->cfg;
    size_t batch = (size_t)cfg->batch, seen = 0;
    double sum = 0;
    int rc = 0;
    segq__eval_shuffle(tr->order, tr->ntrain, &tr->rng);
    for (size_t at = 0; at < tr->ntrain && !rc; at += batch) {
        size_t b = tr->ntrain - at < batch ? tr->ntrain - at : batch;
        /* BatchNorm cannot train on a lone sample at the deepest level:
         * a trailing batch of one sits this epoch out (reshuffled next) */
        if (b == 1 && tr->ntrain > 1)
            break;
        segqt_scope_begin();
        segqt_tensor *x, *t;
        rc = make_batch(tr->order + at, b, cfg->augment ? &tr->rng : NULL, cfg->dev, &x, &t);
        segqt_tensor *l = rc ? NULL : dice_loss(segq_unetpp_forward(tr->net, x, 1), t);
        double v = 0;
        if (!rc
            && (!l || segqt_adam_zero_grad(tr->opt) || segqt_backward(l, 0, 0)
                || segqt_adam_step(tr->opt) || segqt_item(l, &v)))
            rc = segq__torch_fail(err, errlen, cfg->label);
        segqt_scope_end();
        sum += v * (double)b;
        seen += b;
    }
    *loss = seen ? sum / (double)seen : NAN;
    return rc;
}

/* Epoch e's validation IoU, and a copy of the model if it is the best yet;
 * without a validation set every epoch is the best so far. */
static int validate(trainer_t *tr, const segq_eval_item_t *val, size_t nval, int64_t e,
                    segq_eval_history_t *hist, char *err, size_t errlen)
{
    hist->val_iou[e] = NAN;
    if (!nval) {
        hist->best_epoch = e + 1;
        return 0;
    }
    segq_seg_metrics_t m;
    int rc = segq__eval_measure(tr->net, val, nval, tr->cfg->batch, &m, NULL, err, errlen);
    hist->val_iou[e] = m.iou;
    if (!rc && m.iou > tr->best_iou) {
        tr->best_iou = m.iou;
        hist->best_epoch = e + 1;
        if (segq_unetpp_copy(tr->best, tr->net) != 0)
            rc = segq__torch_fail(err, errlen, "keeping the best epoch");
    }
    return rc;
}

/* Epoch e done: the progress record, and a log line every tenth epoch. */
static void report_epoch(trainer_t *tr, int64_t e, const segq_eval_history_t *hist)
{
    const segq_eval_train_cfg_t *cfg = tr->cfg;
    if (cfg->epochs_done)
        (*cfg->epochs_done)++;
    double frac = cfg->epochs_done && cfg->epochs_total
                      ? (double)*cfg->epochs_done / (double)cfg->epochs_total
                      : -1;
    segq_metric_t met[] = {{"train_loss", hist->train_loss[e]},
                           {"val_iou", hist->val_iou[e]},
                           {"epoch", (double)(e + 1)}};
    segq_progress_report(cfg->progress, "evaluate", frac, met, 3, cfg->label, e + 1 == cfg->epochs);
    if (e == 0 || (e + 1) % 10 == 0 || e + 1 == cfg->epochs)
        printf("%s: epoch %lld/%lld train dice loss %.4f val IoU %.4f (%.2f s/epoch, "
               "%.2f CPU-s/epoch)\n",
               cfg->label, (long long)(e + 1), (long long)cfg->epochs, hist->train_loss[e],
               hist->val_iou[e], (segq__now() - tr->t0) / (double)(e + 1),
               (segq__cpu_seconds() - tr->cpu0) / (double)(e + 1));
}

/* The model kept (the best epoch's with a validation set, else the
 * last), or NULL after a failure; everything else freed. */
static segq_unetpp_t *trainer_end(trainer_t *tr, int rc, segq_eval_history_t *hist)
{
    segqt_adam_destroy(&tr->opt);
    free(tr->order);
    if (rc) {
        segq_unetpp_destroy(&tr->net);
        segq_unetpp_destroy(&tr->best);
        segq__eval_history_free(hist);
        return NULL;
    }
    if (!tr->best)
        return tr->net;
    segq_unetpp_destroy(&tr->net);
    return tr->best;
}

segq_unetpp_t *segq__eval_train(const segq_eval_train_cfg_t *cfg, const segq_eval_item_t *train,
                                size_t ntrain, const segq_eval_item_t *val, size_t nval,
                                segq_eval_history_t *hist, char *err, size_t errlen)
{
    memset(hist, 0, sizeof *hist);
    if (ntrain == 0) {
        snprintf(err, errlen, "%s: no training pairs", cfg->label);
        return NULL;
    }
    if (segqt_manual_seed(cfg->seed) != 0) {
        segq__torch_fail(err, errlen, "seed");
        return NULL;
    }
    trainer_t tr = {
        .cfg = cfg, .ntrain = ntrain, .rng = cfg->seed ^ 0x5eed5eed5eedull, .best_iou = -1};
    int rc = trainer_begin(&tr, train, nval, hist, err, errlen);
    tr.t0 = segq__now();
    tr.cpu0 = segq__cpu_seconds();
    for (int64_t e = 0; e < cfg->epochs && !rc; e++) {
        if (e == cfg->lr_drop_epoch && segqt_adam_set_lr(tr.opt, cfg->lr_after) != 0)
            rc = segq__torch_fail(err, errlen, "learning rate");
        if (!rc)
            rc = train_epoch(&tr, &hist->train_loss[e], err, errlen);
        if (!rc)
            rc = validate(&tr, val, nval, e, hist, err, errlen);
        if (!rc)
            report_epoch(&tr, e, hist);
    }
    return trainer_end(&tr, rc, hist);
}
