/*  segq_kinds.c: THE table of job kinds (see segq_schema.h).

    To add a kind, add its parameter and input arrays and one row to
    s_kinds. Every other part of segq (CLI parsing and help, the broker's
    validation, segq-run's flags, the docs) reads it from here. */
#include "segq_schema.h"

#include <string.h>

#define COUNT(a) (sizeof (a) / sizeof (a)[0])

/* ---- test kinds: exercise the queue without ML ---- */

static const segq_param_spec_t s_sleep_params[] = {
    { "seconds", SEGQ_PARAM_FLOAT, "1", 0, 86400, NULL,
      "how long to sleep, reporting progress as it goes" },
};

static const segq_input_spec_t s_echo_inputs[] = {
    { "files", false, true, "files copied unchanged to outputs of the same name" },
};

static const segq_param_spec_t s_fail_params[] = {
    { "mode", SEGQ_PARAM_CHOICE, "exit", 0, 0, "exit|signal|crash",
      "exit: exit with `code`; signal: kill itself with `signal`; crash: a segfault" },
    { "code", SEGQ_PARAM_INT, "1", 0, 255, NULL, "exit status for mode=exit" },
    { "signal", SEGQ_PARAM_INT, "9", 1, 64, NULL, "signal number for mode=signal" },
};

/* ---- ML kinds: run by `segq-run KIND`.

   These rows are segq-run's own flag rules: pipeline/run_flags.c takes
   each parameter's type, default, range, choices and help from here.
   Every segq-run flag of the command is a parameter (tests/e2e/test_schema.c
   checks it), except the flags the worker sets itself: the inputs (--image, --mask,
   --model: paths in the job directory), --out (SEGQ_OUTPUT_DIR), and
   --device/--threads (from the GPU or CPU slots the broker gave the job);
   --resume belongs to requeues, not to users. ---- */

#define SEGQ_KINDS_BIG 1e9
#define SEGQ_KINDS_COMPUTE_PARAMS                                                   \
    { "precision", SEGQ_PARAM_CHOICE, "fp32", 0, 0, "fp32|bf16",                    \
      "arithmetic of convolutions: fp32, or bf16 with fp32 weights and statistics" }, \
    { "seed", SEGQ_PARAM_INT, "0", 0, 9007199254740991.0, NULL,                     \
      "random seed; the same seed gives the same result on CPU" }

static const segq_param_spec_t s_train_params[] = {
    { "mask_from_alpha", SEGQ_PARAM_BOOL, "false", 0, 0, NULL,
      "take the mask from the image's alpha channel (RGBA input)" },
    { "min_size", SEGQ_PARAM_INT, "25", 3, 100000, NULL, "coarsest scale's shorter side" },
    { "max_size", SEGQ_PARAM_INT, "250", 3, 100000, NULL, "finest scale's longer side" },
    { "scale_factor", SEGQ_PARAM_FLOAT, "0.75", 0.05, 0.99, NULL,
      "nominal factor between scales (the working factor r is derived from it)" },
    { "niter", SEGQ_PARAM_INT, "2000", 1, SEGQ_KINDS_BIG, NULL, "iterations per scale" },
    { "lr_g", SEGQ_PARAM_FLOAT, "0.0005", 0, 1, NULL, "generator learning rate (Adam)" },
    { "lr_d", SEGQ_PARAM_FLOAT, "0.0005", 0, 1, NULL, "discriminator learning rate (Adam)" },
    { "beta1", SEGQ_PARAM_FLOAT, "0.5", 0, 0.999999, NULL, "Adam beta1" },
    { "beta2", SEGQ_PARAM_FLOAT, "0.999", 0, 0.999999, NULL, "Adam beta2" },
    { "lr_milestone", SEGQ_PARAM_INT, "1600", 0, SEGQ_KINDS_BIG, NULL,
      "iteration from which the learning rates are multiplied by gamma" },
    { "gamma", SEGQ_PARAM_FLOAT, "0.1", 0, 1, NULL, "learning-rate decay factor" },
    { "d_steps", SEGQ_PARAM_INT, "3", 1, 100, NULL, "discriminator steps per iteration" },
    { "g_steps", SEGQ_PARAM_INT, "3", 1, 100, NULL,
      "the authors' generator passes per iteration: the update is computed once, the "
      "other passes only move BatchNorm statistics" },
    { "lambda_grad", SEGQ_PARAM_FLOAT, "0.1", 0, SEGQ_KINDS_BIG, NULL,
      "WGAN-GP gradient penalty weight" },
    { "alpha", SEGQ_PARAM_FLOAT, "10", 0, SEGQ_KINDS_BIG, NULL, "reconstruction loss weight" },
    { "noise_amp_init", SEGQ_PARAM_FLOAT, "0.1", 0, SEGQ_KINDS_BIG, NULL,
      "noise amplitude = this x RMSE of the coarser reconstruction" },
    { "nfc", SEGQ_PARAM_INT, "32", 1, 4096, NULL, "width of scales 0-3, doubled every 4 scales" },
    { "nfc_max", SEGQ_PARAM_INT, "128", 1, 4096, NULL, "largest width" },
    { "num_layer", SEGQ_PARAM_INT, "5", 3, 64, NULL, "conv layers per network" },
    { "ker_size", SEGQ_PARAM_INT, "3", 1, 15, NULL, "kernel size (odd)" },
    { "previews", SEGQ_PARAM_INT, "3", 0, 100, NULL, "random preview samples per scale" },
    { "stop_after_scale", SEGQ_PARAM_INT, "-1", -1, 63, NULL,
      "stop once this scale is saved (-1: train every scale)" },
    SEGQ_KINDS_COMPUTE_PARAMS,
};

static const segq_input_spec_t s_train_inputs[] = {
    { "image", true, false, "training image (PNG or JPEG)" },
    { "mask", false, false,
      "its segmentation mask (PNG or JPEG, same size); required unless mask_from_alpha" },
};

static const segq_param_spec_t s_generate_params[] = {
    { "count", SEGQ_PARAM_INT, "50", 1, 10000000, NULL, "image/mask pairs to generate" },
    { "gen_start_scale", SEGQ_PARAM_INT, "0", 0, 63, NULL,
      "first scale with fresh noise (0 = fully random layout)" },
    { "scale_h", SEGQ_PARAM_FLOAT, "1", 0.1, 20, NULL, "output width factor" },
    { "scale_v", SEGQ_PARAM_FLOAT, "1", 0.1, 20, NULL, "output height factor" },
    { "batch", SEGQ_PARAM_INT, "16", 1, 4096, NULL, "samples per forward pass" },
    SEGQ_KINDS_COMPUTE_PARAMS,
};

static const segq_input_spec_t s_generate_inputs[] = {
    { "model", true, false, "a train job's checkpoint (model.safetensors)" },
};

static const segq_kind_spec_t s_kinds[] = {
    { "noop", "completed at once by the worker itself: measures the queue alone",
      NULL, 0, NULL, 0, "*", true, true },
    { "sleep", "sleeps, reporting progress",
      s_sleep_params, COUNT (s_sleep_params), NULL, 0, "*", false, true },
    { "echo", "copies each input to an output of the same name",
      NULL, 0, s_echo_inputs, COUNT (s_echo_inputs), "*", false, true },
    { "fail", "fails: exits non-zero, dies by a signal, or crashes",
      s_fail_params, COUNT (s_fail_params), NULL, 0, "*", false, true },
    { "train", "trains a 4-channel SinGAN on one image + mask (segq-run train)",
      s_train_params, COUNT (s_train_params), s_train_inputs, COUNT (s_train_inputs),
      "model.safetensors", false, false },
    { "generate", "samples image/mask pairs from a trained model (segq-run generate)",
      s_generate_params, COUNT (s_generate_params), s_generate_inputs, COUNT (s_generate_inputs),
      "*", false, false },
};

const segq_kind_spec_t *
segq_kinds (size_t *count)
{
    if (count)
        *count = COUNT (s_kinds);
    return s_kinds;
}

const segq_kind_spec_t *
segq_kind_find (const char *name)
{
    if (!name)
        return NULL;
    for (size_t i = 0; i < COUNT (s_kinds); i++)
        if (strcmp (s_kinds[i].name, name) == 0)
            return &s_kinds[i];
    return NULL;
}

const segq_param_spec_t *
segq_kind_param (const segq_kind_spec_t *kind, const char *name)
{
    if (!kind || !name)
        return NULL;
    for (size_t i = 0; i < kind->n_params; i++)
        if (strcmp (kind->params[i].name, name) == 0)
            return &kind->params[i];
    return NULL;
}
