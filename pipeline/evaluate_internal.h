/* Internals of evaluate, shared by its files and its tests. */
#ifndef SEGQ_EVALUATE_INTERNAL_H
#define SEGQ_EVALUATE_INTERNAL_H

#include "evaluate.h"
#include "metrics.h"
#include "segq_torch.h"
#include "unetpp.h"

#include <stddef.h>
#include <stdint.h>

/* A dataset in memory at size x size, padded to a square and resized. */
typedef struct {
    int64_t n, size;
    float *img;                 /* n x 3 x size x size, [0, 1] */
    float *mask;                /* n x size x size, 0 or 1 */
    char **name, **sha;         /* pair name, sha256 of the image file */
    char **src_name, **src_sha; /* manifest source (NULL without one) */
} segq_eval_data_t;

/* Loads every pair of dir (Kvasir-SEG or flat layout; or, when dir has
 * no images/ but folders that do, each such part in name order: the
 * outputs of a job array as the queue lays them out); with
 * want_manifest the manifest's source_image / source_image_sha256 of each
 * pair are kept (a pair the manifest lacks is an error). `what` names the
 * option in messages. */
int segq__eval_data_load(const char *dir, const char *what, int64_t size, int want_manifest,
                         segq_eval_data_t *out, char *err, size_t errlen);
void segq__eval_data_free(segq_eval_data_t *d);

typedef struct {
    const segq_eval_data_t *d;
    int64_t i;
} segq_eval_item_t;

/* splitmix64: the one random stream of data order and augmentation. */
uint64_t segq__eval_rand(uint64_t *state);
/* Fisher-Yates shuffle of n items. */
void segq__eval_shuffle(segq_eval_item_t *items, size_t n, uint64_t *state);

/* Largest rotation of the augmentation, in degrees either way. */
#define SEGQ_EVAL_MAX_ROTATION 15.0

/* The light augmentation of one s x s pair (img 3 planes, msk 1 plane)
 * into x and t: horizontal and vertical flips (each with probability
 * 1/2), a rotation about the centre of up to SEGQ_EVAL_MAX_ROTATION
 * degrees, a shift of up to s/16 pixels, brightness and contrast +-10%.
 * Pixels from outside the image are 0 (image) and background (mask); the
 * mask is sampled at the nearest pixel, so it stays 0/1. */
void segq__eval_augment(const float *img, const float *msk, int64_t s, uint64_t *rng, float *x,
                        float *t);

typedef struct {
    int64_t epochs, batch, lr_drop_epoch;
    double lr, lr_after;
    int augment, depth, width;
    uint64_t seed;
    const char *encoder_weights; /* "" or NULL: from scratch */
    segqt_device dev;
    segq_progress_t *progress;          /* may be NULL */
    const char *label;                  /* "real, fold 1" for logs */
    int64_t *epochs_done, epochs_total; /* shared progress counter */
} segq_eval_train_cfg_t;

typedef struct {
    double *train_loss; /* per epoch, malloc'd by train */
    double *val_iou;    /* per epoch (NaN without validation) */
    int64_t best_epoch; /* 1-based */
} segq_eval_history_t;

void segq__eval_history_free(segq_eval_history_t *h);

/* Trains a UNet++ (seeded with cfg->seed) on train[0..ntrain), keeps the
 * epoch with the best mean IoU on val[0..nval) (the last epoch when nval
 * is 0). NULL with err set. */
segq_unetpp_t *segq__eval_train(const segq_eval_train_cfg_t *cfg, const segq_eval_item_t *train,
                                size_t ntrain, const segq_eval_item_t *val, size_t nval,
                                segq_eval_history_t *hist, char *err, size_t errlen);

/* Foreground probabilities of items (eval mode): n x size x size floats. */
int segq__eval_predict(segq_unetpp_t *net, const segq_eval_item_t *items, size_t n, int64_t batch,
                       float *probs, char *err, size_t errlen);

/* Mean per-image metrics of the predictions of items, and each image's
 * (each[0..n), when each is not NULL). */
int segq__eval_measure(segq_unetpp_t *net, const segq_eval_item_t *items, size_t n, int64_t batch,
                       segq_seg_metrics_t *mean, segq_seg_metrics_t *each, char *err,
                       size_t errlen);

#endif
