/* segq_singan: SinGAN-Seg training and generation (SINGAN-SEG.md sections
 * 1 and 2) over the torch shim. The options structs are filled from the
 * flag table (segq_run_flags.h), whose defaults are the published ones. */
#ifndef SEGQ_SINGAN_H
#define SEGQ_SINGAN_H

#include <stddef.h>
#include <stdint.h>

#include "segq_progress.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Where to run and how: shared by train and generate. */
typedef struct {
    char *device;    /* "cpu", "cuda", "cuda:N" */
    int64_t threads; /* CPU threads for libtorch; 0 = all cores */
    char *precision; /* "fp32" or "bf16" */
    int64_t seed;
} segq_compute_opts_t;

typedef struct {
    char *image, *mask, *out;
    /* the model's catalogue name: the broker reads it; segq-run accepts
     * it, as every parameter of the kind, and computes nothing from it */
    char *name;
    int mask_from_alpha, resume;
    int64_t min_size, max_size;
    double scale_factor;
    int64_t niter;
    double lr_g, lr_d, beta1, beta2;
    int64_t lr_milestone; /* lr x gamma from this iteration on */
    double gamma;
    int64_t d_steps, g_steps; /* g_steps: the authors' G passes (see singan.c) */
    double lambda_grad, alpha, noise_amp_init;
    int64_t nfc, nfc_max, num_layer, ker_size;
    int64_t previews;         /* random preview samples per scale */
    int64_t stop_after_scale; /* -1: all; else stop once this scale is saved */
    char *cuda_graph;         /* "auto", "on" or "off" */
    segq_compute_opts_t compute;
} segq_train_opts_t;

typedef struct {
    char *model, *out;
    /* the catalogue's id and name of the model (the broker's; "" when run
     * by hand), for manifest.csv, which names no file path */
    char *model_id, *model_name;
    int64_t count, gen_start_scale, batch;
    double scale_h, scale_v;
    segq_compute_opts_t compute;
} segq_generate_opts_t;

/* Train (or resume) and write OUT/model.safetensors, OUT/losses.csv and
 * OUT/preview/. 0 or a negative SEGQ_E* code with a message in err;
 * SEGQ_EINVAL, before anything is written, when OUT holds a model and
 * opts->resume is not set. */
int segq_singan_train(const segq_train_opts_t *opts, segq_progress_t *progress, char *err,
                      size_t errlen);

/* Generate opts->count pairs into OUT/images, OUT/masks + OUT/manifest.csv,
 * in batches of at most opts->batch that fit the memory the job may use
 * (batch_fit.h). An earlier generate's manifest in OUT keeps its rows;
 * SEGQ_EINVAL, before anything is written, when it lists a pair this run
 * would write. */
int segq_singan_generate(const segq_generate_opts_t *opts, segq_progress_t *progress, char *err,
                         size_t errlen);

/* Checkpoints kept loaded between generate jobs (a worker's generation
 * server, serve.c), by sha256 and device, the least recently used dropped
 * once their files add up to more than max_bytes. */
typedef struct segq_model_cache segq_model_cache_t;
segq_model_cache_t *segq_model_cache_new(uint64_t max_bytes);
void segq_model_cache_destroy(segq_model_cache_t **self_p);
/* The sha256 of the checkpoints it holds (pointers into the cache). */
size_t segq_model_cache_hot(segq_model_cache_t *self, const char **hashes, size_t max);

/* segq_singan_generate with the model taken from the cache (loaded into
 * it if it is not there; the environment's SEGQ_MODEL_SHA256, when set,
 * names the checkpoint without reading it). cache NULL: as
 * segq_singan_generate. */
int segq_singan_generate_cached(const segq_generate_opts_t *opts, segq_model_cache_t *cache,
                                segq_progress_t *progress, char *err, size_t errlen);

/* JSON of the compute devices (CPU cores; CUDA devices with name, total and
 * free memory), malloc'd; NULL with err set on failure. */
char *segq_devices_json(char *err, size_t errlen);

#ifdef __cplusplus
}
#endif
#endif
