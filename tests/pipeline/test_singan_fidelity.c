/* The C SinGAN-Seg against the authors' own code (authors_reference.py
 * runs ../shared/reference/singan-seg on Debian's python3-torch): every
 * resize of the method, by the factors the pyramid and the prev chains
 * use, against their imresize. */
#include <criterion/criterion.h>

#include <math.h>
#include <stdio.h>

#include "pipeline_test_util.h"
#include "segq_safetensors.h"
#include "singan_internal.h"

#define AUTHORS "/usr/bin/python3 " SEGQ_SOURCE_DIR "/tests/pipeline/authors_reference.py"

static void add(segq_st_writer_t *w, const char *name, segqt_tensor *t)
{
    char err[512];
    cr_assert(t, "%s: %s", name, segqt_last_error());
    cr_assert_eq(segq__st_add_tensor(w, name, t, err, sizeof err), 0, "%s", err);
}

Test(fidelity, imresize_matches_the_authors, .timeout = 120)
{
    segqt_set_num_threads(1);
    segqt_manual_seed(11);
    cr_assert_geq(segqt_scope_begin(), 1);
    /* detail at every scale, and values past [-1, 1] as a generator's
     * output plus prev reaches, so the clip and the truncation count */
    int64_t coarse[4] = {1, SEGQ_NC, 10, 11};
    segqt_tensor *x = segqt_clamp(segqt_interpolate(segqt_randn(coarse, 4, SEGQT_F32, SEGQT_CPU),
                                                    37, 41, SEGQT_INTERP_BICUBIC, 0, 0),
                                  -1.2, 1.2);
    const double r = 0.765059; /* Kvasir's, 9 scales */
    const double scales[] = {r, 1.0 / r, pow(r, 3), 0.4};
    segq_st_writer_t *w = segq_st_writer_new();
    cr_assert(w);
    add(w, "x", x);
    char key[32], val[32], err[512];
    for (int k = 0; k < 4; k++) {
        int64_t h = (int64_t)ceil(37 * scales[k]), wd = (int64_t)ceil(41 * scales[k]);
        snprintf(key, sizeof key, "y.%d", k);
        add(w, key, segq__imresize(x, h, wd, scales[k]));
        snprintf(key, sizeof key, "scale.%d", k);
        snprintf(val, sizeof val, "%.17g", scales[k]);
        cr_assert_eq(segq_st_writer_set_meta(w, key, val, err, sizeof err), 0);
    }
    cr_assert_eq(segq_st_writer_set_meta(w, "count", "4", err, sizeof err), 0);
    char dir[512], path[600];
    pt_tempdir(dir, sizeof dir);
    snprintf(path, sizeof path, "%s/imresize.safetensors", dir);
    cr_assert_eq(segq_st_writer_save(w, path, err, sizeof err), 0, "%s", err);
    segq_st_writer_destroy(&w);
    segqt_scope_end();
    cr_expect_eq(pt_sh(AUTHORS " imresize %s", path), 0, "differs from the authors' imresize");
    pt_sh("rm -rf %s", dir);
}
