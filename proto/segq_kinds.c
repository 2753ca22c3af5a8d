/*  segq_kinds.c: THE table of job kinds (see segq_schema.h).

    To add a kind, add its parameter and input arrays and one row to
    s_kinds. Every other part of segq (CLI parsing and help, the broker's
    validation, segq-run's flags, the docs) reads it from here. */
#include "segq_param_rules.h"
#include "segq_schema.h"

#include <fnmatch.h>
#include <stdio.h>
#include <string.h>

#define COUNT(a) (sizeof (a) / sizeof (a) [0])

/* ---- test kinds: exercise the queue without ML ---- */

static const segq_param_spec_t s_sleep_params [] = {
    { "seconds", SEGQ_PARAM_FLOAT, "1", 0, 86400, NULL,
      "how long to sleep, reporting progress as it goes" },
    { "busy", SEGQ_PARAM_BOOL, "false", 0, 0, NULL,
      "spin on a CPU instead of sleeping (its CPU time shows in `segq usage`)" },
};

static const segq_input_spec_t s_echo_inputs [] = {
    { "files", false, true, "files copied unchanged to outputs of the same name", false, NULL,
      false, false, SEGQ_DATA_ANY },
};

static const segq_param_spec_t s_fail_params [] = {
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
#define SEGQ_KINDS_COMPUTE_PARAMS                                                                  \
    { "precision",                                                                                 \
      SEGQ_PARAM_CHOICE,                                                                           \
      "fp32",                                                                                      \
      0,                                                                                           \
      0,                                                                                           \
      "fp32|bf16",                                                                                 \
      "arithmetic of convolutions: fp32, or bf16 with fp32 weights and statistics" },              \
    {                                                                                              \
        "seed", SEGQ_PARAM_INT, "0", 0, 9007199254740991.0, NULL,                                  \
            "random seed; the same seed gives the same result on CPU"                              \
    }

static const segq_param_spec_t s_train_params [] = {
    { "name", SEGQ_PARAM_STRING, "", 0, 0, NULL,
      "the model's name in the catalogue (`segq models`; default: the image's file name "
      "without extension)" },
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
    { "cuda_graph", SEGQ_PARAM_CHOICE, "auto", 0, 0, "auto|on|off",
      "on a GPU, replay each scale's iteration as a CUDA graph (auto: where the build can, "
      "else plain steps)" },
    SEGQ_KINDS_COMPUTE_PARAMS,
};

static const segq_input_spec_t s_train_inputs [] = {
    { "image", true, false, "training image (PNG or JPEG)", false, NULL, false, false,
      SEGQ_DATA_IMAGE },
    { "mask", false, false, "its segmentation mask (PNG or JPEG, same size)", false,
      "mask_from_alpha", false, false, SEGQ_DATA_IMAGE },
};

static const segq_output_spec_t s_train_outputs [] = {
    { "model.safetensors", SEGQ_DATA_CHECKPOINT },
    { "preview/*.png", SEGQ_DATA_IMAGE },
    { "losses.csv", SEGQ_DATA_REPORT },
};

static const segq_param_spec_t s_generate_params [] = {
    { "count", SEGQ_PARAM_INT, "50", 1, 10000000, NULL, "image/mask pairs to generate" },
    { "gen_start_scale", SEGQ_PARAM_INT, "0", 0, 63, NULL,
      "first scale with fresh noise (0 = fully random layout)" },
    { "scale_h", SEGQ_PARAM_FLOAT, "1", 0.1, 20, NULL, "output width factor" },
    { "scale_v", SEGQ_PARAM_FLOAT, "1", 0.1, 20, NULL, "output height factor" },
    { "batch", SEGQ_PARAM_INT, "16", 1, 4096, NULL, "samples per forward pass" },
    { "model_id", SEGQ_PARAM_STRING, "", 0, 0, NULL,
      "the model's catalogue id, for manifest.csv (the broker sets it when --model names a "
      "catalogue model or a train job)" },
    { "model_name", SEGQ_PARAM_STRING, "", 0, 0, NULL,
      "the model's catalogue name, for manifest.csv (set by the broker, as the id is)" },
    SEGQ_KINDS_COMPUTE_PARAMS,
};

static const segq_input_spec_t s_generate_inputs [] = {
    { "model", true, false,
      "a catalogue model (NAME, m-ID or OWNER/NAME: `segq models`), a train job (JOB), or a "
      "checkpoint file (model.safetensors)",
      false, NULL, true, false, SEGQ_DATA_CHECKPOINT },
};

/* generate's and stylize's: one generation (stylize keeps its layout) */
static const segq_output_spec_t s_generation_outputs [] = {
    { "images/*.png", SEGQ_DATA_IMAGE },      { "masks/*.png", SEGQ_DATA_IMAGE },
    { "contact_sheet.png", SEGQ_DATA_IMAGE }, { "manifest.csv", SEGQ_DATA_REPORT },
    { "losses.csv", SEGQ_DATA_REPORT },       { "final_losses.csv", SEGQ_DATA_REPORT },
    { "stylize.json", SEGQ_DATA_REPORT },
};

static const segq_param_spec_t s_stylize_params [] = {
    { "content_weight", SEGQ_PARAM_FLOAT, "1", 0, 1e12, NULL, "weight of the content loss" },
    { "style_weight", SEGQ_PARAM_FLOAT, "1000", 0, 1e12, NULL, "weight of the style loss" },
    { "steps", SEGQ_PARAM_INT, "1000", 1, SEGQ_KINDS_BIG, NULL, "Adam steps per image" },
    { "lr", SEGQ_PARAM_FLOAT, "0.01", 0, 10, NULL,
      "Adam learning rate (on the ImageNet-normalised image)" },
    { "batch", SEGQ_PARAM_INT, "8", 1, 4096, NULL, "images of the same size optimised together" },
    { "log_every", SEGQ_PARAM_INT, "100", 1, SEGQ_KINDS_BIG, NULL,
      "print the losses every N steps" },
    { "precision", SEGQ_PARAM_CHOICE, "fp32", 0, 0, "fp32|bf16",
      "arithmetic of the VGG convolutions: fp32, or bf16 (losses and image in fp32)" },
    { "seed", SEGQ_PARAM_INT, "0", 0, 9007199254740991.0, NULL,
      "random seed (stylize itself draws no random numbers)" },
};

static const segq_input_spec_t s_stylize_inputs [] = {
    { "content", true, true,
      "dataset to restyle: a generate output (images/, masks/, manifest.csv); a job array: one "
      "stylize per member",
      false, NULL, false, true, SEGQ_DATA_GENERATION },
    { "style", false, false,
      "style image for every pair (segq-run: or a folder of them, by name); default: each "
      "pair's source image (manifest.csv): a generate job's training image (its owner's only), "
      "or the file of that name in the --content folder",
      false, NULL, false, false, SEGQ_DATA_IMAGE },
    { "vgg19", true, false,
      "VGG19 ImageNet weights as safetensors with torchvision's names (features.N.weight/bias; "
      "deploy/convert_vgg19.py converts torchvision's .pth)",
      false, NULL, false, false, SEGQ_DATA_VGG19 },
};

static const segq_param_spec_t s_evaluate_params [] = {
    { "folds", SEGQ_PARAM_INT, "3", 2, 100, NULL, "k of the k-fold cross-validation" },
    { "epochs", SEGQ_PARAM_INT, "300", 1, 1e6, NULL, "training epochs per model" },
    { "size", SEGQ_PARAM_INT, "128", 8, 4096, NULL,
      "side of the square the pairs are padded and resized to (divisible by 2^depth)" },
    { "batch", SEGQ_PARAM_INT, "8", 1, 4096, NULL, "batch size" },
    { "lr", SEGQ_PARAM_FLOAT, "0.0001", 0, 1, NULL, "Adam learning rate" },
    { "lr_after", SEGQ_PARAM_FLOAT, "0.00001", 0, 1, NULL,
      "learning rate from --lr-drop-epoch on" },
    { "lr_drop_epoch", SEGQ_PARAM_INT, "50", 0, 1e6, NULL,
      "epoch (0-based) from which --lr-after applies" },
    { "val_fraction", SEGQ_PARAM_FLOAT, "0.1", 0, 0.9, NULL,
      "share of each training set held out to pick the best-IoU epoch (at least one pair)" },
    { "real_limit", SEGQ_PARAM_INT, "0", 0, SEGQ_KINDS_BIG, NULL,
      "train with only N real pairs per fold, and only synthetic pairs derived from them (0: "
      "all)" },
    { "depth", SEGQ_PARAM_INT, "4", 1, 6, NULL, "UNet++ depth (poolings)" },
    { "width", SEGQ_PARAM_INT, "32", 1, 1024, NULL, "UNet++ width of the first level" },
    { "augment", SEGQ_PARAM_BOOL, "true", 0, 0, NULL,
      "light augmentation (flips, rotations, shifts, brightness/contrast)" },
    { "examples", SEGQ_PARAM_INT, "4", 0, 64, NULL, "test images in examples.png" },
    { "save_models", SEGQ_PARAM_BOOL, "false", 0, 0, NULL,
      "write each best model to OUT/models/SET_foldK.safetensors" },
    { "precision", SEGQ_PARAM_CHOICE, "fp32", 0, 0, "fp32",
      "arithmetic (fp32 only: UNet++ training is not validated in bf16)" },
    { "seed", SEGQ_PARAM_INT, "0", 0, 9007199254740991.0, NULL,
      "seed of folds, splits, data order, augmentation and initialisation" },
};

static const segq_input_spec_t s_evaluate_inputs [] = {
    { "real", true, true, "real image/mask pairs (images/NAME + masks/NAME)", false, NULL, false,
      false, SEGQ_DATA_PAIRS },
    { "synthetic", false, true,
      "NAME=DIR: a synthetic training set (generate or stylize output with its manifest); "
      "repeat for several. Trains NAME and real+NAME",
      true, NULL, false, false, SEGQ_DATA_GENERATION },
    { "test", false, true, "fixed real test set instead of k folds (then every --real pair trains)",
      false, NULL, false, false, SEGQ_DATA_PAIRS },
    { "encoder_weights", false, false,
      "safetensors with the encoder nodes x{i}_0.* (e.g. a model saved by --save-models); "
      "default: from scratch",
      false, NULL, false, false, SEGQ_DATA_UNETPP },
};

static const segq_output_spec_t s_evaluate_outputs [] = {
    { "models/*.safetensors", SEGQ_DATA_UNETPP }, { "chart.png", SEGQ_DATA_IMAGE },
    { "examples.png", SEGQ_DATA_IMAGE },          { "metrics.csv", SEGQ_DATA_REPORT },
    { "metrics.json", SEGQ_DATA_REPORT },         { "per_image.csv", SEGQ_DATA_REPORT },
};

static int64_t
s_int (const segq_params_t *params, const char *name)
{
    const segq_value_t *v = segq_params_get (params, name);
    return v && v->type == SEGQ_PARAM_INT ? v->i : 0;
}

static double
s_float (const segq_params_t *params, const char *name)
{
    const segq_value_t *v = segq_params_get (params, name);
    return v && v->type == SEGQ_PARAM_FLOAT ? v->f : 0;
}

static int
s_train_check (const segq_params_t *params, char *err, size_t errlen)
{
    return segq_rule_train_network (s_int (params, "ker_size"), s_int (params, "num_layer"),
                                    s_int (params, "min_size"), err, errlen);
}

static int
s_generate_check (const segq_params_t *params, char *err, size_t errlen)
{
    return segq_rule_generate_scales (s_int (params, "gen_start_scale"),
                                      s_float (params, "scale_h"), s_float (params, "scale_v"), err,
                                      errlen);
}

static int
s_evaluate_check (const segq_params_t *params, char *err, size_t errlen)
{
    return segq_rule_evaluate_size (s_int (params, "size"), s_int (params, "depth"), err, errlen);
}

static const segq_kind_spec_t s_kinds [] = {
    { "noop", "completed at once by the worker itself: measures the queue alone", NULL, 0, NULL, 0,
      "*", true, true, false, NULL, SEGQ_DATA_ANY, NULL, 0 },
    { "sleep", "sleeps, reporting progress", s_sleep_params, COUNT (s_sleep_params), NULL, 0, "*",
      false, true, false, NULL, SEGQ_DATA_ANY, NULL, 0 },
    { "echo", "copies each input to an output of the same name", NULL, 0, s_echo_inputs,
      COUNT (s_echo_inputs), "*", false, true, false, NULL, SEGQ_DATA_ANY, NULL, 0 },
    { "fail", "fails: exits non-zero, dies by a signal, or crashes", s_fail_params,
      COUNT (s_fail_params), NULL, 0, "*", false, true, false, NULL, SEGQ_DATA_ANY, NULL, 0 },
    { "train", "trains a 4-channel SinGAN on one image + mask (segq-run train)", s_train_params,
      COUNT (s_train_params), s_train_inputs, COUNT (s_train_inputs), "model.safetensors", false,
      false, false, s_train_check, SEGQ_DATA_REPORT, s_train_outputs, COUNT (s_train_outputs) },
    { "generate", "samples image/mask pairs from a trained model (segq-run generate)",
      s_generate_params, COUNT (s_generate_params), s_generate_inputs, COUNT (s_generate_inputs),
      "*", false, false, true, s_generate_check, SEGQ_DATA_GENERATION, s_generation_outputs,
      COUNT (s_generation_outputs) },
    { "stylize",
      "transfers a real image's style onto generated images, masks kept "
      "(segq-run stylize)",
      s_stylize_params, COUNT (s_stylize_params), s_stylize_inputs, COUNT (s_stylize_inputs), "*",
      false, false, false, NULL, SEGQ_DATA_GENERATION, s_generation_outputs,
      COUNT (s_generation_outputs) },
    { "evaluate",
      "trains UNet++ on real and synthetic sets, measured on real data, k-fold "
      "(segq-run evaluate)",
      s_evaluate_params, COUNT (s_evaluate_params), s_evaluate_inputs, COUNT (s_evaluate_inputs),
      "*", false, false, false, s_evaluate_check, SEGQ_DATA_REPORT, s_evaluate_outputs,
      COUNT (s_evaluate_outputs) },
};

const segq_kind_spec_t *
segq_kinds (size_t *count)
{
    if (count)
        *count = COUNT (s_kinds);
    return s_kinds;
}

const char *
segq_kind_name_suggest (const char *word)
{
    const char *names [COUNT (s_kinds)];
    for (size_t i = 0; i < COUNT (s_kinds); i++)
        names [i] = s_kinds [i].name;
    return segq_suggest (word, names, COUNT (s_kinds));
}

const segq_kind_spec_t *
segq_kind_find (const char *name)
{
    if (!name)
        return NULL;
    for (size_t i = 0; i < COUNT (s_kinds); i++)
        if (strcmp (s_kinds [i].name, name) == 0)
            return &s_kinds [i];
    return NULL;
}

void
segq_flag_name (const char *name, char *out, size_t len)
{
    size_t i = 0;
    for (; name [i] && i + 1 < len; i++)
        out [i] = name [i] == '_' ? '-' : name [i];
    if (len)
        out [i] = 0;
}

const segq_input_spec_t *
segq_kind_input (const segq_kind_spec_t *kind, const char *name)
{
    if (!kind || !name)
        return NULL;
    for (size_t i = 0; i < kind->n_inputs; i++)
        if (strcmp (kind->inputs [i].name, name) == 0)
            return &kind->inputs [i];
    return NULL;
}

bool
segq_kind_input_excluded (const segq_input_spec_t *in, const segq_params_t *params)
{
    const segq_value_t *unless = in->unless ? segq_params_get (params, in->unless) : NULL;
    return unless && unless->type == SEGQ_PARAM_BOOL && unless->b;
}

segq_data_t
segq_kind_output_data (const segq_kind_spec_t *kind, const char *output)
{
    if (!kind->outputs)
        return SEGQ_DATA_ANY;
    if (strcmp (output, "*") == 0)
        return kind->all_outputs;
    for (size_t i = 0; i < kind->n_outputs; i++)
        if (fnmatch (kind->outputs [i].pattern, output, FNM_PATHNAME) == 0)
            return kind->outputs [i].data;
    return SEGQ_DATA_REPORT;
}

/* What an input takes, or an output is, in words; with where such data
   comes from when `whence`. */
static void
s_data_words (segq_data_t data, bool whence, char *buf, size_t len)
{
    static const struct {
        const char *what, *whence;
    } words [] = {
        [SEGQ_DATA_IMAGE] = { "one PNG or JPEG image", NULL },
        [SEGQ_DATA_CHECKPOINT] = { "a SinGAN-Seg checkpoint", "a train job's model.safetensors" },
        [SEGQ_DATA_UNETPP] = { "UNet++ weights", "an evaluate job's models/SET_foldK.safetensors, "
                                                 "with --save-models" },
        [SEGQ_DATA_VGG19] = { "VGG19 weights", "a file of yours: no job makes them" },
        [SEGQ_DATA_PAIRS] = { "a folder of image/mask pairs",
                              "images/NAME + masks/NAME: a folder of yours, or a generate or "
                              "stylize job" },
        [SEGQ_DATA_GENERATION] = { "a generation", "image/mask pairs with their manifest.csv: a "
                                                   "generate or stylize job" },
        [SEGQ_DATA_REPORT] = { "a report that no job reads", NULL },
    };
    const char *what = words [data].what ? words [data].what : words [SEGQ_DATA_REPORT].what;
    if (whence && words [data].whence)
        snprintf (buf, len, "%s (%s)", what, words [data].whence);
    else
        snprintf (buf, len, "%s", what);
}

int
segq_kind_check_source (const segq_input_spec_t *in, const segq_kind_spec_t *from, const char *job,
                        const char *output, char *err, size_t errlen)
{
    segq_data_t is = segq_kind_output_data (from, output);
    if (in->takes == SEGQ_DATA_ANY || is == SEGQ_DATA_ANY || is == in->takes
        || (in->takes == SEGQ_DATA_PAIRS && is == SEGQ_DATA_GENERATION))
        return SEGQ_OK;
    char takes [160], given [160];
    s_data_words (in->takes, true, takes, sizeof takes);
    s_data_words (is, false, given, sizeof given);
    if (strcmp (output, "*") == 0)
        snprintf (err, errlen, "input '%s' takes %s, and job %s (%s) gives %s", in->name, takes,
                  job, from->name, given);
    else
        snprintf (err, errlen, "input '%s' takes %s, and output '%s' of job %s (%s) is %s",
                  in->name, takes, output, job, from->name, given);
    return SEGQ_EINVAL;
}

bool
segq_input_under (const char *name, const char *input)
{
    size_t len = strlen (input);
    return name && strncmp (name, input, len) == 0 && (name [len] == 0 || name [len] == '/');
}

bool
segq_kind_input_needed (const segq_input_spec_t *in, const segq_params_t *params)
{
    if (in->required || !in->unless)
        return in->required;
    return !segq_kind_input_excluded (in, params);
}

/* Edit distance with '-' equal to '_', over at most 63 characters. */
static size_t
s_distance (const char *a, const char *b)
{
    size_t la = strnlen (a, 63), lb = strnlen (b, 63);
    size_t row [64];
    for (size_t j = 0; j <= lb; j++)
        row [j] = j;
    for (size_t i = 1; i <= la; i++) {
        size_t diag = row [0];
        row [0] = i;
        for (size_t j = 1; j <= lb; j++) {
            char x = a [i - 1] == '-' ? '_' : a [i - 1], y = b [j - 1] == '-' ? '_' : b [j - 1];
            size_t best = diag + (x != y);
            if (row [j] + 1 < best)
                best = row [j] + 1;
            if (row [j - 1] + 1 < best)
                best = row [j - 1] + 1;
            diag = row [j];
            row [j] = best;
        }
    }
    return row [lb];
}

const char *
segq_suggest (const char *word, const char *const *candidates, size_t n)
{
    if (!word || !*word)
        return NULL;
    /* a third of the word may be wrong; two characters (a swap) from 4 on */
    size_t len = strlen (word);
    size_t limit = len < 4 ? 1 : len / 3 > 2 ? len / 3 : 2;
    const char *best = NULL;
    size_t best_d = limit + 1;
    for (size_t i = 0; i < n; i++) {
        size_t d = s_distance (word, candidates [i]);
        if (d < best_d) {
            best_d = d;
            best = candidates [i];
        }
    }
    return best;
}

const char *
segq_kind_suggest (const segq_kind_spec_t *kind, const char *word)
{
    if (!kind)
        return NULL;
    const char *names [SEGQ_MAX_PARAMS + 64];
    size_t n = 0;
    for (size_t i = 0; i < kind->n_params && n < SEGQ_MAX_PARAMS; i++)
        names [n++] = kind->params [i].name;
    for (size_t i = 0; i < kind->n_inputs && n < SEGQ_MAX_PARAMS + 64; i++)
        names [n++] = kind->inputs [i].name;
    return segq_suggest (word, names, n);
}

const segq_param_spec_t *
segq_kind_param (const segq_kind_spec_t *kind, const char *name)
{
    if (!kind || !name)
        return NULL;
    for (size_t i = 0; i < kind->n_params; i++)
        if (strcmp (kind->params [i].name, name) == 0)
            return &kind->params [i];
    return NULL;
}
