/*  cli_check.c: a job's local files checked at submit (cli_check.h). */
#include "cli_check.h"

#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "segq_ckpt.h"
#include "segq_image.h"
#include "segq_pyramid.h"
#include "segq_unetpp_file.h"
#include "segq_vgg19_file.h"
#include "stylize_manifest.h"

/* What input `name` was given as (a file, a folder, a reference for the
   broker), or NULL. */
static const char *
s_given (const cli_submit_args_t *s, const char *const *files, const char *name)
{
    const char *ref = NULL;
    for (size_t i = 0; i < s->n_inputs && !ref; i++)
        if (!s->inputs [i].spec->many && strcmp (s->inputs [i].spec->name, name) == 0)
            ref = files && files [i] ? files [i] : s->inputs [i].ref;
    size_t len = strlen (name);
    for (size_t i = 0; i < s->n_raw_inputs && !ref; i++)
        if (strncmp (s->raw_inputs [i], name, len) == 0 && s->raw_inputs [i][len] == '=')
            ref = s->raw_inputs [i] + len + 1;
    return ref;
}

/* The local regular file given for input `name`, or NULL (absent, a
   folder, or a reference for the broker). */
static const char *
s_local_file (const cli_submit_args_t *s, const char *const *files, const char *name)
{
    const char *ref = s_given (s, files, name);
    struct stat st;
    return ref && stat (ref, &st) == 0 && S_ISREG (st.st_mode) ? ref : NULL;
}

int
cli_check_params (const cli_submit_args_t *s, segq_params_t *out, char *err, size_t errlen)
{
    int rc = SEGQ_OK;
    for (size_t i = 0; i < s->n_params && rc == SEGQ_OK; i++) {
        const segq_param_spec_t *spec = segq_kind_param (s->kind, s->params [i].name);
        segq_value_t value = { 0 };
        if (!spec)
            continue; /* refused already by the spec's own validation */
        rc = segq_param_parse (spec, s->params [i].value, &value, err, errlen);
        if (rc == SEGQ_OK)
            rc = segq_params_set (out, spec->name, &value);
        segq_value_clear (&value);
    }
    return rc == SEGQ_OK ? segq_params_validate (s->kind, out, err, errlen) : rc;
}

int64_t
cli_check_param_int (const segq_params_t *p, const char *name)
{
    const segq_value_t *v = segq_params_get (p, name);
    return v ? v->i : 0;
}

static double
s_float (const segq_params_t *p, const char *name)
{
    const segq_value_t *v = segq_params_get (p, name);
    return v ? v->f : 0;
}

/* train: the image and its mask (or its alpha) decode, have the same
   size, and make a pyramid with these sizes. */
static int
s_check_train (const cli_submit_args_t *s, const char *const *files, const segq_params_t *p,
               char *err, size_t errlen)
{
    const char *image = s_local_file (s, files, "image");
    const char *mask = s_local_file (s, files, "mask");
    const segq_value_t *alpha = segq_params_get (p, "mask_from_alpha");
    bool from_alpha = alpha && alpha->b;
    if (!image || (!mask && !from_alpha))
        return SEGQ_OK; /* a reference: what it names is checked where it is made */
    segq_image_t *rgb = NULL, *m = NULL;
    int rc = segq_image_read_training (image, from_alpha ? NULL : mask,
                                       (uint32_t) cli_check_param_int (p, "max_size"), &rgb, &m,
                                       err, errlen);
    segq_pyramid_t pyr;
    char why [1024];
    if (rc == SEGQ_OK
        && (rc = segq_pyramid_plan ((int) rgb->height, (int) rgb->width,
                                    (int) cli_check_param_int (p, "min_size"),
                                    (int) cli_check_param_int (p, "max_size"),
                                    s_float (p, "scale_factor"), &pyr, why, sizeof why)))
        snprintf (err, errlen, "%s: %s", image, why);
    segq_image_destroy (&rgb);
    segq_image_destroy (&m);
    return rc;
}

/* generate: a local model file is a finished SinGAN-Seg checkpoint that
   can start at --gen-start-scale. */
static int
s_check_generate (const cli_submit_args_t *s, const char *const *files, const segq_params_t *p,
                  char *err, size_t errlen)
{
    const char *model = s_local_file (s, files, "model");
    if (!model)
        return SEGQ_OK;
    segq_ckpt_header_t h;
    int rc = segq_ckpt_header_read_file (model, &h, err, errlen);
    char what [4096];
    snprintf (what, sizeof what, "--model %s", model);
    return rc ? rc
              : segq_ckpt_check_generate (&h, what, cli_check_param_int (p, "gen_start_scale"),
                                          s_float (p, "scale_h"), s_float (p, "scale_v"), err,
                                          errlen);
}

typedef int (*s_header_check_fn) (const segq_st_t *st, const char *path, const segq_params_t *p,
                                  char *err, size_t errlen);

/* The header of a local safetensors file (its bytes are not read: weights
   files are large and the hash cache spares them a second read), checked
   by `check` for a job with parameters p; no file: nothing to check. */
static int
s_check_header (const char *path, s_header_check_fn check, const segq_params_t *p, char *err,
                size_t errlen)
{
    segq_st_t *st = NULL;
    int rc = path ? segq_st_open_header (path, &st, err, errlen) : SEGQ_OK;
    if (rc == SEGQ_OK && st)
        rc = check (st, path, p, err, errlen);
    segq_st_destroy (&st);
    return rc;
}

/* stylize's --vgg19: every tensor stylize reads, in its shape. */
static int
s_vgg19 (const segq_st_t *st, const char *path, const segq_params_t *p, char *err, size_t errlen)
{
    (void) p;
    return segq_vgg19_file_check (st, path, "--vgg19", err, errlen);
}

/* evaluate's --encoder-weights: the encoder of a UNet++ of the job's
   --depth and --width. */
static int
s_encoder (const segq_st_t *st, const char *path, const segq_params_t *p, char *err, size_t errlen)
{
    return segq_unetpp_file_check_encoder (
        st, path, "--encoder-weights", (int) cli_check_param_int (p, "depth"),
        (int) cli_check_param_int (p, "width"), SEGQ_UNETPP_IN_CHANNELS, err, errlen);
}

/* Input i's folder, when it is a many-file input given as a local folder;
   else NULL. */
static const char *
s_local_dir (const cli_submit_args_t *s, size_t i)
{
    struct stat st;
    const cli_typed_input_t *in = &s->inputs [i];
    return in->spec->many && stat (in->ref, &st) == 0 && S_ISDIR (st.st_mode) ? in->ref : NULL;
}

/* A local --content folder as stylize opens it: pairs, a manifest that
   parses if there is one, every image decoding; without --style, each
   pair's source image in the folder (the job holds nothing else of it). */
static int
s_check_content (const char *dir, bool style_given, char *err, size_t errlen)
{
    segq_dataset_t *ds = NULL;
    segq_manifest_t *man = NULL;
    int rc = segq_content_open (dir, &ds, &man, err, errlen);
    for (size_t i = 0; rc == SEGQ_OK && i < segq_dataset_count (ds); i++) {
        const segq_dataset_pair_t *pair = segq_dataset_pair (ds, i);
        segq_image_t *img = NULL;
        char *style = NULL;
        rc = segq_image_read_file (pair->image_path, NULL, &img, err, errlen);
        if (rc == SEGQ_OK && !style_given)
            rc = segq_stylize_style_path (NULL, dir, false, man, pair->name, &style, err, errlen);
        segq_image_destroy (&img);
        free (style);
    }
    segq_manifest_destroy (&man);
    segq_dataset_destroy (&ds);
    return rc;
}

/* stylize: its local content folder and style image decode; a local VGG19
   file has every tensor stylize reads, in its shape. */
static int
s_check_stylize (const cli_submit_args_t *s, const char *const *files, const segq_params_t *p,
                 char *err, size_t errlen)
{
    int rc = SEGQ_OK;
    for (size_t i = 0; i < s->n_inputs && rc == SEGQ_OK; i++)
        if (strcmp (s->inputs [i].spec->name, "content") == 0 && s_local_dir (s, i))
            rc = s_check_content (s->inputs [i].ref, s_given (s, files, "style") != NULL, err,
                                  errlen);
    const char *style = s_local_file (s, files, "style");
    segq_image_t *img = NULL;
    if (rc == SEGQ_OK && style)
        rc = segq_image_read_file (style, NULL, &img, err, errlen);
    segq_image_destroy (&img);
    if (rc == SEGQ_OK)
        rc = s_check_header (s_local_file (s, files, "vgg19"), s_vgg19, p, err, errlen);
    return rc;
}

/* One dataset folder of an evaluate set: every pair decodes, image and
   mask the same size; a synthetic one has its manifest. */
static int
s_check_part (const char *dir, const char *what, bool synthetic, char *err, size_t errlen)
{
    segq_dataset_t *ds = NULL;
    int rc = segq_dataset_open (dir, &ds, err, errlen);
    for (size_t i = 0; rc == SEGQ_OK && i < segq_dataset_count (ds); i++) {
        const segq_dataset_pair_t *pair = segq_dataset_pair (ds, i);
        segq_image_t *rgb = NULL, *mask = NULL;
        rc = segq_image_read_labelled (pair->image_path, pair->mask_path, NULL, &rgb, &mask, err,
                                       errlen);
        segq_image_destroy (&rgb);
        segq_image_destroy (&mask);
    }
    segq_dataset_destroy (&ds);
    segq_manifest_t *man = NULL;
    if (rc == SEGQ_OK && synthetic)
        rc = segq_manifest_read_set (dir, what, &man, err, errlen);
    segq_manifest_destroy (&man);
    return rc;
}

/* A local evaluate set as segq-run evaluate reads it (segq_dataset_parts:
   the folder, or each part of a job array's outputs). */
static int
s_check_set (const char *dir, const char *what, bool synthetic, char *err, size_t errlen)
{
    char **parts = NULL;
    size_t n = 0;
    int rc = segq_dataset_parts (dir, &parts, &n, err, errlen);
    for (size_t k = 0; k < n && rc == SEGQ_OK; k++)
        rc = s_check_part (parts [k], what, synthetic, err, errlen);
    segq_dataset_parts_free (&parts, n);
    return rc;
}

/* evaluate: local data sets (--real, --test, --synthetic NAME=DIR), and
   local encoder weights holding the encoder of a UNet++ of the job's
   --depth and --width. Its folds are checked once the broker can say
   what sets by reference hold (cli_folds.h). */
static int
s_check_evaluate (const cli_submit_args_t *s, const char *const *files, const segq_params_t *p,
                  char *err, size_t errlen)
{
    int rc = SEGQ_OK;
    for (size_t i = 0; i < s->n_inputs && rc == SEGQ_OK; i++) {
        if (!s_local_dir (s, i))
            continue;
        char what [96];
        snprintf (what, sizeof what, "--%s", s->inputs [i].spec->name);
        rc = s_check_set (s->inputs [i].ref, what, s->inputs [i].spec->sets, err, errlen);
    }
    return rc ? rc
              : s_check_header (s_local_file (s, files, "encoder_weights"), s_encoder, p, err,
                                errlen);
}

typedef int (*s_check_fn) (const cli_submit_args_t *, const char *const *, const segq_params_t *,
                           char *, size_t);

static const struct {
    const char *kind;
    s_check_fn check;
} s_checks [] = {
    { "train", s_check_train },
    { "generate", s_check_generate },
    { "stylize", s_check_stylize },
    { "evaluate", s_check_evaluate },
};

int
cli_check_files (const cli_submit_args_t *s, const char *const *files, char *err, size_t errlen)
{
    s_check_fn check = NULL;
    for (size_t i = 0; i < sizeof s_checks / sizeof s_checks [0] && !check; i++)
        if (strcmp (s->kind->name, s_checks [i].kind) == 0)
            check = s_checks [i].check;
    if (!check)
        return SEGQ_OK;
    segq_params_t params = { 0 };
    int rc = cli_check_params (s, &params, err, errlen);
    if (rc == SEGQ_OK)
        rc = check (s, files, &params, err, errlen);
    segq_params_clear (&params);
    return rc;
}
