/*  generate_check.c: a generate's count and model file checked at submit. */
#include "generate_check.h"
#include "segq_ckpt.h"
#include "segq_generate_names.h"
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* A SinGAN-Seg checkpoint's header lists some 30 tensors a net, two nets a
   scale, at most 64 scales, and its parameters: well under this. The
   broker reads it in its one thread, so a bigger one is refused before it
   is parsed (SEGQ_ST_MAX_HEADER, 100 MB, would stall every client). */
#define S_MODEL_HEADER_MAX ((size_t) 4 << 20)

/* A number parameter as the job will have it: sent (as an integer or a
   number), or the kind's default. Checked against the kind's ranges later
   in the submit: here a value of the wrong type reads as its default. */
static double
s_param (const segq_kind_spec_t *kind, const segq_submit_t *submit, const char *name)
{
    const segq_value_t *value = segq_params_get (&submit->params, name);
    if (value && value->type == SEGQ_PARAM_INT)
        return (double) value->i;
    if (value && value->type == SEGQ_PARAM_FLOAT)
        return value->f;
    const segq_param_spec_t *spec = segq_kind_param (kind, name);
    return spec && spec->default_value ? strtod (spec->default_value, NULL) : 0;
}

/* An integer parameter; one out of int64's range reads as 0 (refused by
   its range later). */
static int64_t
s_int_param (const segq_kind_spec_t *kind, const segq_submit_t *submit, const char *name)
{
    const segq_value_t *value = segq_params_get (&submit->params, name);
    if (value && value->type == SEGQ_PARAM_INT)
        return value->i; /* exact, where a double rounds above 2^53 */
    double v = s_param (kind, submit, name);
    return v >= -9.2e18 && v <= 9.2e18 ? (int64_t) v : 0;
}

int
segq__generate_check_count (const segq_submit_t *submit, const char *image_name, uint32_t max_msg,
                            char *err, size_t errlen)
{
    const segq_kind_spec_t *kind = segq_kind_find (submit->kind);
    const segq_param_spec_t *spec = kind ? segq_kind_param (kind, "seed") : NULL;
    if (!spec)
        return 0;
    char stem [256];
    segq_generate_stem (image_name ? image_name : "", stem, sizeof stem);
    int64_t seed = s_int_param (kind, submit, "seed");
    if (kind->fresh_seed && !segq_params_get (&submit->params, "seed"))
        seed = (int64_t) spec->max;
    return segq_generate_check_count (strlen (stem), seed, s_int_param (kind, submit, "count"),
                                      max_msg, err, errlen);
}

/* The model input of a generate submit when it is an uploaded file (not
   a catalogue model, nor a job's output still to come); else NULL. */
static const segq_input_t *
s_model_file (const segq_submit_t *submit)
{
    if (!submit->kind || strcmp (submit->kind, "generate") != 0)
        return NULL;
    for (size_t i = 0; i < submit->n_inputs; i++) {
        const segq_input_t *input = &submit->inputs [i];
        /* laid out as `model` or, keeping its file's name, `model/FILE` */
        const char *name = input->name ? input->name : "";
        bool model = strcmp (name, "model") == 0
                     || (strncmp (name, "model/", 6) == 0 && !strchr (name + 6, '/'));
        if (model && !input->model && !input->job && segq_hash_valid (input->hash))
            return input;
    }
    return NULL;
}

int
segq__generate_check_model_file (segq__artifact_store_t *artifacts, const segq_submit_t *submit,
                                 uint32_t max_msg, char *err, size_t errlen)
{
    const segq_input_t *model = s_model_file (submit);
    if (!model || !segq__artifact_store_has (artifacts, model->hash, NULL))
        return 0; /* one not stored is refused by the submit, saying so */
    const segq_kind_spec_t *kind = segq_kind_find (submit->kind);
    char path [4200], what [96];
    segq__artifact_store_path (artifacts, model->hash, path, sizeof path);
    snprintf (what, sizeof what, "input 'model' (artifact %.12s)", model->hash);
    segq_st_t *st = NULL;
    segq_ckpt_header_t header;
    int rc = segq_st_open_header_as (path, what, S_MODEL_HEADER_MAX, &st, err, errlen);
    if (rc == 0)
        rc = segq_ckpt_header_read (st, what, &header, err, errlen);
    if (rc == 0)
        rc = segq_ckpt_check_generate (&header, what, s_int_param (kind, submit, "gen_start_scale"),
                                       s_param (kind, submit, "scale_h"),
                                       s_param (kind, submit, "scale_v"), err, errlen);
    if (rc == 0)
        rc = segq__generate_check_count (submit, segq_st_meta_get (st, "source_image"), max_msg,
                                         err, errlen);
    segq_st_destroy (&st);
    return rc;
}
