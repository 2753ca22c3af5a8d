/* segq_ckpt.h: a checkpoint's header as segq-run's loader and `segq
 * submit` read it, without libtorch (so under ASan and UBSan): every
 * number refused when missing, malformed or out of range, naming it; the
 * pyramid's tensors checked; and what generate needs of a model. */
#include "segq_ckpt.h"

#include <criterion/criterion.h>
#include <stdlib.h>
#include <string.h>

/* The metadata of a finished two-scale model of a 30x40 image, with one
 * key replaced (value NULL: left out). */
static const char *const s_meta[][2] = {
    {"format", SEGQ_CKPT_FORMAT},
    {"scales_trained", "2"},
    {"num_layer", "5"},
    {"ker_size", "3"},
    {"pad", "5"},
    {"height", "30"},
    {"width", "40"},
    {"nfc", "32"},
    {"nfc_max", "32"},
    {"r", "0.8"},
    {"scale1", "1"},
};
#define N_META (sizeof s_meta / sizeof s_meta[0])

typedef struct {
    const char *key, *value; /* the metadata entry replaced, or NULL */
    int64_t scales;          /* rows of pyramid_sizes */
    int64_t amps;            /* entries of noise_amp */
    int64_t first_h;         /* scale 0's height */
} variant_t;

static const variant_t s_plain = {NULL, NULL, 2, 2, 24};

/* The header read from a checkpoint made as v says: its rc, err filled. */
static int read_variant(const variant_t *v, segq_ckpt_header_t *h, char *err, size_t errlen)
{
    segq_st_writer_t *w = segq_st_writer_new();
    cr_assert_not_null(w);
    char why[256];
    for (size_t i = 0; i < N_META; i++) {
        int replaced = v->key && strcmp(v->key, s_meta[i][0]) == 0;
        const char *value = replaced ? v->value : s_meta[i][1];
        if (value)
            cr_assert_eq(segq_st_writer_set_meta(w, s_meta[i][0], value, why, sizeof why), 0);
    }
    int64_t sizes[8] = {v->first_h, 32, 30, 40, 30, 40, 30, 40}, shape[2] = {v->scales, 2};
    double amps[4] = {1, 0.1, 0.1, 0.1};
    cr_assert_eq(segq_st_writer_add(w, "pyramid_sizes", SEGQ_ST_I64, 2, shape, sizes,
                                    sizeof(int64_t) * 2 * (size_t)v->scales, why, sizeof why),
                 0, "%s", why);
    cr_assert_eq(segq_st_writer_add(w, "noise_amp", SEGQ_ST_F64, 1, &v->amps, amps,
                                    sizeof(double) * (size_t)v->amps, why, sizeof why),
                 0, "%s", why);
    uint8_t *buf = NULL;
    size_t len = 0;
    cr_assert_eq(segq_st_writer_to_mem(w, &buf, &len, why, sizeof why), 0, "%s", why);
    segq_st_writer_destroy(&w);
    segq_st_t *st = NULL;
    cr_assert_eq(segq_st_open_mem(buf, len, "m.safetensors", &st, why, sizeof why), 0, "%s", why);
    int rc = segq_ckpt_header_read(st, "m.safetensors", h, err, errlen);
    segq_st_destroy(&st);
    free(buf);
    return rc;
}

Test(ckpt_header, a_finished_model_read_whole)
{
    segq_ckpt_header_t h;
    char err[512];
    cr_assert_eq(read_variant(&s_plain, &h, err, sizeof err), 0, "%s", err);
    cr_assert(h.trained == 2 && h.layers == 5 && h.ker == 3 && h.pad == 5);
    cr_assert(h.orig_h == 30 && h.orig_w == 40 && h.nfc == 32 && h.nfc_max == 32);
    cr_assert(h.pyr.stop_scale == 1 && h.pyr.h[0] == 24 && h.pyr.w[0] == 32);
    cr_assert(h.pyr.height == 30 && h.pyr.width == 40 && h.pyr.r == 0.8 && h.pyr.scale1 == 1);
    cr_assert(h.noise_amp[0] == 1 && h.noise_amp[1] == 0.1);
    cr_assert_eq(segq_ckpt_check_generate(&h, "--model m", 1, 1, 1, err, sizeof err), 0, "%s", err);
}

Test(ckpt_header, each_number_refused_by_name)
{
    static const struct {
        variant_t v;
        const char *says;
    } bad[] = {
        {{"format", NULL, 2, 2, 24}, "not a SinGAN-Seg checkpoint (metadata format is 'missing'"},
        {{"format", "safetensors", 2, 2, 24}, "format is 'safetensors'"},
        {{"scales_trained", NULL, 2, 2, 24}, "'scales_trained' is missing"},
        {{"scales_trained", "65", 2, 2, 24}, "'scales_trained' is malformed"},
        {{"num_layer", "1", 2, 2, 24}, "'num_layer' is malformed (expected an integer in 2..64)"},
        {{"ker_size", "3x", 2, 2, 24}, "'ker_size' is malformed"},
        {{"pad", "-1", 2, 2, 24}, "'pad'"},
        {{"height", "0", 2, 2, 24}, "'height'"},
        {{"width", "99999999999999999999", 2, 2, 24}, "'width'"},
        {{"nfc", "", 2, 2, 24}, "'nfc' is malformed"},
        {{"nfc_max", NULL, 2, 2, 24}, "'nfc_max' is missing"},
        {{"r", NULL, 2, 2, 24}, "r, scale1, pyramid_sizes or noise_amp"},
        {{"scale1", NULL, 2, 2, 24}, "r, scale1, pyramid_sizes or noise_amp"},
        {{"r", "1.5", 2, 2, 24}, "metadata r is not in (0, 1)"},
        {{NULL, NULL, 1, 2, 24}, "pyramid_sizes"},     /* fewer scales than trained */
        {{NULL, NULL, 2, 1, 24}, "noise_amp"},         /* an amplitude short */
        {{NULL, NULL, 2, 2, 0}, "an impossible size"}, /* a scale 0 pixels high */
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        segq_ckpt_header_t h;
        char err[512] = "";
        cr_assert_eq(read_variant(&bad[i].v, &h, err, sizeof err), SEGQ_EINVAL, "case %zu", i);
        cr_assert(strstr(err, "m.safetensors") && strstr(err, bad[i].says),
                  "case %zu: expected '%s' in: %s", i, bad[i].says, err);
    }
}

Test(ckpt_header, what_generate_needs)
{
    segq_ckpt_header_t h;
    char err[512];
    variant_t unfinished = s_plain;
    unfinished.key = "scales_trained";
    unfinished.value = "1";
    unfinished.amps = 1;
    cr_assert_eq(read_variant(&unfinished, &h, err, sizeof err), 0, "%s", err);
    cr_assert_eq(segq_ckpt_check_generate(&h, "--model m", 0, 1, 1, err, sizeof err), SEGQ_EINVAL);
    cr_assert(strstr(err, "--model m: only 1 of its 2 scales are trained"), "%s", err);
    cr_assert_eq(read_variant(&s_plain, &h, err, sizeof err), 0, "%s", err);
    cr_assert_eq(segq_ckpt_check_generate(&h, "--model m", 2, 1, 1, err, sizeof err), SEGQ_EINVAL);
    cr_assert(strstr(err, "--gen-start-scale 2: the model has scales 0..1"), "%s", err);
    cr_assert_eq(segq_ckpt_check_generate(&h, "--model m", 1, 2, 1, err, sizeof err), SEGQ_EINVAL);
    cr_assert(strstr(err, "use it with scale_h 1 and scale_v 1"), "%s", err);
    cr_assert_eq(segq_ckpt_check_generate(&h, "--model m", 0, 2, 0.5, err, sizeof err), 0, "%s",
                 err);
}
