/* Internals of the SinGAN-Seg implementation, shared by its files and by
 * the numerical tests (tests/pipeline). Not a public API. */
#ifndef SEGQ_SINGAN_INTERNAL_H
#define SEGQ_SINGAN_INTERNAL_H

#include "batch_fit.h"
#include "segq_ckpt.h"
#include "segq_pyramid.h"
#include "segq_sha256.h"
#include "segq_singan.h"
#include "segq_torch.h"

#include <stddef.h>
#include <stdio.h>

#define SEGQ_NC 4 /* R, G, B, mask */
#define SEGQ_BN_MOMENTUM 0.1
#define SEGQ_BN_EPS 1e-5
#define SEGQ_LRELU_SLOPE 0.2
#define SEGQ_MAX_D_STEPS 100 /* the d_steps parameter's bound (proto/segq_kinds.c) */

/* ---- One network: head, body blocks, tail (conv -> BN -> LeakyReLU per
 * block; G's tail is conv -> tanh plus the centre crop of prev, D's tail a
 * 1-channel conv). Every tensor is persistent (owned here). */
typedef struct {
    int generator; /* 1: G, 0: D */
    int layers, ker, nfc;
    segqt_tensor *conv_w[SEGQ_NET_MAX_LAYERS], *conv_b[SEGQ_NET_MAX_LAYERS];
    /* BatchNorm of layers 0..layers-2 */
    segqt_tensor *bn_w[SEGQ_NET_MAX_LAYERS], *bn_b[SEGQ_NET_MAX_LAYERS];
    segqt_tensor *bn_mean[SEGQ_NET_MAX_LAYERS], *bn_var[SEGQ_NET_MAX_LAYERS];
    /* Set by segq__net_freeze: every layer's conv with its eval-mode
     * BatchNorm folded in, fp32 and bfloat16 (the frozen net's eval
     * forward is then conv -> LeakyReLU only). */
    segqt_tensor *eval_w[SEGQ_NET_MAX_LAYERS], *eval_b[SEGQ_NET_MAX_LAYERS];
    segqt_tensor *eval_w16[SEGQ_NET_MAX_LAYERS], *eval_b16[SEGQ_NET_MAX_LAYERS];
} segq_net_t;

/* Initialised as the authors' weights_init: conv weight N(0, 0.02), conv
 * bias torch's default U(-1/sqrt(fan_in), +), BN weight N(1, 0.02), BN bias
 * 0, running mean 0, running var 1. NULL with the torch error recorded. */
segq_net_t *segq__net_new(int generator, int nfc, int layers, int ker, segqt_device dev);
void segq__net_destroy(segq_net_t **self_p);
/* Bytes of every tensor the net holds (its frozen copies included). */
uint64_t segq__net_bytes(const segq_net_t *self);
/* Names ("conv0.weight", "bn0.running_mean", ...) and tensors of every
 * parameter and buffer; returns the count (<= max). Trainable ones
 * (weights and biases) come first: *n_trainable of them. */
int segq__net_tensors(segq_net_t *self, const char **names, segqt_tensor **tensors, int max,
                      int *n_trainable);
/* Copies every parameter and buffer of src (same widths) into self. */
int segq__net_copy(segq_net_t *self, segq_net_t *src);
int segq__net_set_requires_grad(segq_net_t *self, int flag);
/* Freezes a trained net: no gradients, and its eval-mode forward from now
 * on runs the folded convolutions (conv(x, w) * s + t = conv(x, w * s) +
 * t per output channel: the same function, one pass over the activations
 * fewer per layer, and in bf16 no casts between layers). Its parameters
 * must not change afterwards. */
int segq__net_freeze(segq_net_t *self);
/* Forward pass (scoped result). G: x is the padded noise input and prev
 * the padded previous image; D: prev is NULL. training: BN uses batch
 * statistics and updates the running ones. bf16: convolutions run in
 * bfloat16 (weights cast per call, fp32 kept as master copy); the
 * critic in training runs every layer in bfloat16, a frozen net's eval
 * forward its folded convs and LeakyReLUs. */
segqt_tensor *segq__net_forward(segq_net_t *self, segqt_tensor *x, segqt_tensor *prev, int training,
                                int bf16);
/* The same with BatchNorm's running-statistics momentum given (training). */
segqt_tensor *segq__net_forward_bn(segq_net_t *self, segqt_tensor *x, segqt_tensor *prev,
                                   int training, double momentum, int bf16);

/* ---- The model: every scale's frozen G (and D), z_opt and noise_amp. */
typedef struct {
    segq_pyramid_t pyr;
    int layers, ker, pad;
    int trained; /* scales 0..trained-1 are finished */
    segq_net_t *G[SEGQ_PYRAMID_MAX_SCALES], *D[SEGQ_PYRAMID_MAX_SCALES];
    segqt_tensor *z_opt[SEGQ_PYRAMID_MAX_SCALES]; /* padded, 1x4x(h+2p)x(w+2p) */
    double noise_amp[SEGQ_PYRAMID_MAX_SCALES];
    segqt_device dev;
    int bf16;
} segq_model_t;

void segq__model_free(segq_model_t *m);
/* Bytes the model holds on its device: every scale's nets and z_opt. */
uint64_t segq__model_bytes(const segq_model_t *m);
/* numel x element size; 0 for NULL. */
uint64_t segq__tensor_bytes(segqt_tensor *t);
/* Width of scale n: min(nfc * 2^floor(n/4), nfc_max). */
int segq__scale_width(int64_t nfc, int64_t nfc_max, int n);

/* N(0,1) noise of batch b and size h x w padded by pad; single: one
 * channel repeated over the 4 (scale 0's rule). kind: what it is for, as
 * SEGQ_RECORD_DRAWS records it (singan_draws.h). Scoped. */
segqt_tensor *segq__noise(int64_t b, int64_t h, int64_t w, int pad, int single, segqt_device dev,
                          const char *kind);
segqt_tensor *segq__pad(segqt_tensor *x, int pad);
/* SinGAN's imresize of a [-1, 1] image to h x w by the factor s (h =
 * ceil(in * s)), as the authors': through their uint8 round trip (values
 * clipped to [0, 255] and truncated), their cubic kernel (antialiased when
 * shrinking) sampling by s itself rather than h / in, their borders
 * (mirrored past the end, renormalised before the start), and back to
 * [-1, 1], clipped. Every resize of the method goes through it: the
 * pyramid and the prev chains of training and generation. */
segqt_tensor *segq__imresize(segqt_tensor *x, int64_t h, int64_t w, double s);
/* The same computed in double between the round trips, as their numpy
 * does: no uint8 level of a later resize flips on a float32 rounding. For
 * the pyramid, built once; training's and generation's chains run every
 * iteration and stay float32 (GPUs are slow in double). */
segqt_tensor *segq__imresize_exact(segqt_tensor *x, int64_t h, int64_t w, double s);
/* Frees segq__imresize's cached weight matrices (the GPU's are persistent
 * handles, which a captured CUDA graph may use: call it when none is
 * left, as train and generate do when they end, so no tensor outlives
 * them); it builds them again as needed. */
void segq__imresize_cache_clear(void);
/* segq__imresize by 1/r, cropped top-left to h x w; when the upsampled map
 * is smaller than h x w (output size factors), it is resized to it
 * bilinearly, as SinGAN's functions.upsampling. */
segqt_tensor *segq__upsample_to(segqt_tensor *x, double r, int64_t h, int64_t w);

/* The unpadded `prev` image of scale n (scales 0..n-1 run in eval mode
 * under no-grad), batch b, scales below `fresh_from` use z_opt and the
 * others fresh noise ("rec": fresh_from >= n; "rand": 0). sv, sh scale the
 * output sizes (1, 1 in training). Scoped. */
segqt_tensor *segq__prev(segq_model_t *m, int n, int64_t b, int fresh_from, double sv, double sh);
/* The "rand" prev of scale n (training sizes) from given noise: noise[k]
 * the padded noise of scale k < n, all of one batch b. Scoped. */
segqt_tensor *segq__prev_from_noise(segq_model_t *m, int n, segqt_tensor *const *noise);
/* One frozen scale: G_n(amp * z + pad(prev), pad(prev)) in eval mode. */
segqt_tensor *segq__run_scale(segq_model_t *m, int n, segqt_tensor *prev, int fresh, double sv,
                              double sh);
/* Output size of scale n at factors sv, sh (round, as the authors). */
void segq__scaled_size(segq_model_t *m, int n, double sv, double sh, int64_t *h, int64_t *w);

/* ---- One scale's training state. */
typedef struct {
    segq_net_t *G, *D;
    segqt_adam *opt_g, *opt_d;
    segqt_tensor *real;     /* 1x4xhxw */
    segqt_tensor *rec_prev; /* padded reconstruction from the coarser scales */
    segqt_tensor *z_opt;    /* padded */
    double noise_amp;
    int pad;
} segq_scale_state_t;

/* An iteration's losses, in this order on the device and in losses.csv. */
#define SEGQ_LOSSES 6
typedef struct {
    double loss_d, d_real, d_fake, gp, loss_g_adv, loss_rec;
} segq_iter_losses_t;

typedef struct {
    double secs_critic, secs_gen; /* host time of the critic steps, the G update */
} segq_iter_times_t;

/* One training iteration from explicit randomness, so tests can replay it
 * in Python: noise is the iteration's padded z, prev[j] the padded "rand"
 * prev of D step j, gp_alpha[j] its interpolation weight (1x1), z_opt the
 * padded reconstruction noise (NULL: keep state->z_opt). It reads nothing
 * back to the host, so a CUDA graph can capture it: the result is a
 * scoped tensor of the SEGQ_LOSSES losses, NULL on failure. times (may be
 * NULL) gets the host time spent issuing the work. */
segqt_tensor *segq__train_step(segq_scale_state_t *s, const segq_train_opts_t *o,
                               segqt_tensor *noise, segqt_tensor *z_opt, segqt_tensor *const *prev,
                               segqt_tensor *const *gp_alpha, int bf16, segq_iter_times_t *times);
/* The authors save a preview G(Z_opt) every SEGQ_PREVIEW_EVERY iterations
 * and after the last; it runs in training mode, so it moves G's
 * BatchNorm running statistics (which generation uses) once more: this is
 * that forward, without the image. */
#define SEGQ_PREVIEW_EVERY 500
int segq__preview_forward(segq_scale_state_t *s, const segq_train_opts_t *o, int bf16);
/* Copies a step's losses (any device) into out. */
int segq__read_losses(segqt_tensor *losses, segq_iter_losses_t *out);
/* segq__train_step with its losses read into out. */
int segq__train_iteration(segq_scale_state_t *s, const segq_train_opts_t *o, segqt_tensor *noise,
                          segqt_tensor *z_opt, segqt_tensor *const *prev,
                          segqt_tensor *const *gp_alpha, int bf16, segq_iter_losses_t *out);

/* WGAN-GP: lambda * mean((||dD/dx||_2 over channels - 1)^2) at x = alpha *
 * real + (1 - alpha) * fake; differentiable in D's parameters. */
segqt_tensor *segq__gradient_penalty(segq_net_t *D, segqt_tensor *real, segqt_tensor *fake,
                                     segqt_tensor *alpha, double lambda, int bf16);

/* ---- Checkpoint (CHECKPOINT.md). */
typedef struct {
    char *params_json; /* training flags */
    char *image_name, *image_sha256, *mask_name, *mask_sha256;
    int64_t orig_h, orig_w;
    char *precision;
    int64_t nfc, nfc_max;
} segq_ckpt_meta_t;

/* Adds a copy of t (any device) to a safetensors writer under name. */
struct segq_st_writer_t;
int segq__st_add_tensor(struct segq_st_writer_t *w, const char *name, segqt_tensor *t, char *err,
                        size_t errlen);
void segq__ckpt_meta_free(segq_ckpt_meta_t *meta);
int segq__ckpt_save(segq_model_t *m, const segq_ckpt_meta_t *meta, int with_d, const char *path,
                    char *err, size_t errlen);
/* Loads the model onto dev (every finished scale's G, and D when
 * present and want_d) and its metadata. On failure both are left empty:
 * freeing them is harmless. */
int segq__ckpt_load(const char *path, segqt_device dev, int want_d, segq_model_t *m,
                    segq_ckpt_meta_t *meta, char *err, size_t errlen);

/* The model in `path` (sha256 `hex`, or NULL: read the file) on dev, from
 * the cache or loaded into it: *m and *meta stay the cache's (never freed
 * by the caller); hex_out its sha256, *hit whether it was there. */
int segq__model_cache_get(segq_model_cache_t *self, const char *path, const char *hex,
                          segqt_device dev, segq_model_t *m, segq_ckpt_meta_t *meta,
                          char hex_out[SEGQ_HASH_HEX_LEN + 1], int *hit, char *err, size_t errlen);

/* A [-1, 1] batch (bx4xhxw) as the planes PNGs are made of: RGB in [0, 1]
 * and the mask thresholded at 0.5 there (0 or 1), same shape and device,
 * so a batch needs one conversion and one copy to the host. Scoped. */
segqt_tensor *segq__pair_planes(segqt_tensor *x);
/* Sample `index` of a [-1, 1] 4-channel batch -> RGB PNG + mask PNG (the
 * planes of segq__pair_planes). */
int segq__write_pair(segqt_tensor *x, int64_t index, const char *image_path, const char *mask_path,
                     char *err, size_t errlen);

/* Parses and checks --device, sets the thread count (0: all cores). */
int segq__compute_setup(const segq_compute_opts_t *c, segqt_device *dev, int *threads, char *err,
                        size_t errlen);
/* The memory a batch of samples may use on dev, into f's total,
 * reserved, total_name and fail_code (batch_fit.h): on a GPU what the job
 * declared (SEGQ_GPU_MEM), of which `weights` (bytes the job already holds
 * there) are taken, else what the device has free; on the CPU what
 * segq_cpu_memory_available finds (the weights are already out of it). */
int segq__memory_budget(segqt_device dev, uint64_t weights, segq_batch_fit_t *f, char *err,
                        size_t errlen);
/* mkdir that accepts an existing directory. */
int segq__make_dir(const char *path, char *err, size_t errlen);
/* A CSV field, quoted with inner quotes doubled (names come from users),
 * then `after` (',' or '\n'; 0: nothing). */
void segq__csv_field(FILE *f, const char *s, char after);
/* Monotonic seconds. */
double segq__now(void);

/* The recorded torch error's code, SEGQ_ETORCH when none is recorded (a
 * failed op always makes its caller fail, never return 0). */
int segq__torch_code(void);
/* Error text helper: "what: <torch message>". */
int segq__torch_fail(char *err, size_t errlen, const char *what);

#endif
