/* The C SinGAN-Seg against an independent Python reference
 * (singan_reference.py on Debian's python3-torch): pyramid sizes, G and D
 * forwards, the gradient penalty and its gradient, and the parameters
 * after one full training iteration from the same state and noise. */
#include <criterion/criterion.h>

#include <stdio.h>
#include <string.h>

#include "pipeline_test_util.h"
#include "segq_pyramid.h"
#include "segq_run_flags.h"
#include "segq_safetensors.h"
#include "singan_internal.h"

#define REFERENCE "/usr/bin/python3 " SEGQ_SOURCE_DIR "/tests/pipeline/singan_reference.py"

Test(pyramid, kvasir_622x529_has_nine_scales, .timeout = 10)
{
    segq_pyramid_t p;
    char err[256];
    cr_assert_eq(segq_pyramid_plan(529, 622, 25, 250, 0.75, &p, err, sizeof err), 0, "%s", err);
    cr_assert_eq(p.stop_scale + 1, 9);
    static const int h[9] = {25, 33, 43, 56, 73, 96, 125, 163, 213};
    static const int w[9] = {30, 39, 51, 66, 86, 112, 147, 192, 250};
    for (int n = 0; n < 9; n++) {
        cr_expect_eq(p.h[n], h[n], "scale %d height %d", n, p.h[n]);
        cr_expect_eq(p.w[n], w[n], "scale %d width %d", n, p.w[n]);
    }
    cr_expect(p.r > 0.764 && p.r < 0.766, "r %g", p.r);
}

Test(pyramid, too_small_input_is_an_error, .timeout = 10)
{
    segq_pyramid_t p;
    char err[512] = "";
    cr_expect_lt(segq_pyramid_plan(20, 30, 25, 250, 0.75, &p, err, sizeof err), 0);
    cr_expect(strstr(err, "min_size") != NULL, "%s", err);
    cr_expect_lt(segq_pyramid_plan(100, 100, 25, 250, 1.5, &p, err, sizeof err), 0);
}

Test(pyramid, sizes_match_the_authors_python, .timeout = 60)
{
    static const int shapes[][5] = {{529, 622, 25, 250, 75},   {256, 256, 25, 250, 75},
                                    {1070, 1348, 25, 250, 75}, {512, 320, 25, 250, 75},
                                    {90, 700, 25, 250, 75},    {300, 200, 10, 64, 60}};
    char dir[512], path[600];
    pt_tempdir(dir, sizeof dir);
    snprintf(path, sizeof path, "%s/pyramid.json", dir);
    FILE *f = fopen(path, "w");
    cr_assert(f);
    fputs("[", f);
    for (size_t i = 0; i < sizeof shapes / sizeof shapes[0]; i++) {
        segq_pyramid_t p;
        char err[256];
        double sf = shapes[i][4] / 100.0;
        cr_assert_eq(segq_pyramid_plan(shapes[i][0], shapes[i][1], shapes[i][2], shapes[i][3], sf,
                                       &p, err, sizeof err),
                     0, "%s", err);
        fprintf(f,
                "%s{\"h\":%d,\"w\":%d,\"min_size\":%d,\"max_size\":%d,\"scale_factor\":%.17g,"
                "\"stop_scale\":%d,\"r\":%.17g,\"sizes\":[",
                i ? "," : "", shapes[i][0], shapes[i][1], shapes[i][2], shapes[i][3], sf,
                p.stop_scale, p.r);
        for (int n = 0; n <= p.stop_scale; n++)
            fprintf(f, "%s[%d,%d]", n ? "," : "", p.h[n], p.w[n]);
        fputs("]}", f);
    }
    fputs("]\n", f);
    fclose(f);
    cr_expect_eq(pt_sh(REFERENCE " pyramid %s", path), 0);
    pt_sh("rm -rf %s", dir);
}

static void dump_net(segq_st_writer_t *w, const char *prefix, segq_net_t *net)
{
    const char *names[6 * SEGQ_NET_MAX_LAYERS];
    segqt_tensor *t[6 * SEGQ_NET_MAX_LAYERS];
    int n = segq__net_tensors(net, names, t, 6 * SEGQ_NET_MAX_LAYERS, NULL);
    char err[512], key[128];
    for (int i = 0; i < n; i++) {
        snprintf(key, sizeof key, "%s%s", prefix, names[i]);
        cr_assert_eq(segq__st_add_tensor(w, key, t[i], err, sizeof err), 0, "%s", err);
    }
}

static void dump(segq_st_writer_t *w, const char *name, segqt_tensor *t)
{
    char err[512];
    cr_assert(t, "%s: %s", name, segqt_last_error());
    cr_assert_eq(segq__st_add_tensor(w, name, t, err, sizeof err), 0, "%s", err);
}

static void meta(segq_st_writer_t *w, const char *key, double v)
{
    char buf[64], err[256];
    snprintf(buf, sizeof buf, "%.17g", v);
    cr_assert_eq(segq_st_writer_set_meta(w, key, buf, err, sizeof err), 0);
}

static segqt_tensor *randn(int64_t h, int64_t w, double scale)
{
    int64_t shape[4] = {1, SEGQ_NC, h, w};
    return segqt_mul_scalar(segqt_randn(shape, 4, SEGQT_F32, SEGQT_CPU), scale);
}

Test(numerics, forwards_penalty_and_one_iteration_match_python, .timeout = 180)
{
    segqt_set_num_threads(1);
    segqt_manual_seed(7);
    const int nfc = 16, layers = 5, ker = 3, pad = 5;
    const int64_t h = 22, w = 26;
    segq_train_opts_t o = {0};
    char *argv[] = {"--image", "x.png", "--out", "o"};
    char err[512];
    const segq_command_t *cmd = segq_run_command_find("train");
    cr_assert_eq(segq_flags_parse(cmd, 4, argv, &o, err, sizeof err), 0, "%s", err);

    segq_scale_state_t s = {0};
    s.G = segq__net_new(1, nfc, layers, ker, SEGQT_CPU);
    s.D = segq__net_new(0, nfc, layers, ker, SEGQT_CPU);
    cr_assert(s.G && s.D, "%s", segqt_last_error());
    segq_st_writer_t *wr = segq_st_writer_new();
    cr_assert(wr);
    cr_assert_geq(segqt_scope_begin(), 1);
    dump_net(wr, "init.G.", s.G);
    dump_net(wr, "init.D.", s.D);

    segqt_tensor *real = segqt_clamp(randn(h, w, 0.5), -1, 1);
    segqt_tensor *x = randn(h + 2 * pad, w + 2 * pad, 1.0);
    segqt_tensor *prev = randn(h + 2 * pad, w + 2 * pad, 0.5);
    dump(wr, "real", real);
    dump(wr, "x", x);
    dump(wr, "prev", prev);
    segqt_no_grad_begin();
    dump(wr, "out.g_eval", segq__net_forward(s.G, x, prev, 0, 0));
    dump(wr, "out.g_train", segq__net_forward(s.G, x, prev, 1, 0));
    dump(wr, "out.d", segq__net_forward(s.D, real, NULL, 1, 0));
    segqt_no_grad_end();

    /* the gradient penalty and its gradient in D's parameters */
    int64_t one[2] = {1, 1};
    segqt_tensor *fake = randn(h, w, 0.7), *alpha = segqt_rand(one, 2, SEGQT_F32, SEGQT_CPU);
    dump(wr, "gp.fake", fake);
    dump(wr, "gp.alpha", alpha);
    segqt_tensor *gp = segq__gradient_penalty(s.D, real, fake, alpha, o.lambda_grad, 0);
    dump(wr, "out.gp", gp);
    cr_assert_eq(segqt_backward(gp, 0, 0), 0, "%s", segqt_last_error());
    const char *names[6 * SEGQ_NET_MAX_LAYERS];
    segqt_tensor *t[6 * SEGQ_NET_MAX_LAYERS];
    int ntrain = 0;
    segq__net_tensors(s.D, names, t, 6 * SEGQ_NET_MAX_LAYERS, &ntrain);
    for (int i = 0; i < ntrain; i++) {
        char key[128];
        snprintf(key, sizeof key, "gp.grad.%s", names[i]);
        /* D's last bias does not reach dD/dx: no gradient, as in torch */
        segqt_tensor *g = segqt_grad(t[i]);
        segqt_clear_error();
        dump(wr, key, g ? g : segqt_zeros_like(t[i]));
        segqt_zero_grad(t[i]);
    }

    /* one full iteration from explicit randomness */
    s.opt_d = segqt_adam_new(t, ntrain, o.lr_d, o.beta1, o.beta2, 1e-8, 0.0);
    segq__net_tensors(s.G, names, t, 6 * SEGQ_NET_MAX_LAYERS, &ntrain);
    s.opt_g = segqt_adam_new(t, ntrain, o.lr_g, o.beta1, o.beta2, 1e-8, 0.0);
    cr_assert(s.opt_d && s.opt_g);
    s.real = real;
    s.rec_prev = randn(h + 2 * pad, w + 2 * pad, 0.5);
    s.noise_amp = 0.3;
    s.pad = pad;
    segqt_tensor *noise = randn(h + 2 * pad, w + 2 * pad, 1.0);
    segqt_tensor *z_opt = randn(h + 2 * pad, w + 2 * pad, 1.0);
    segqt_tensor *prevs[3], *alphas[3];
    for (int j = 0; j < 3; j++) {
        char key[64];
        prevs[j] = randn(h + 2 * pad, w + 2 * pad, 0.5);
        alphas[j] = segqt_rand(one, 2, SEGQT_F32, SEGQT_CPU);
        snprintf(key, sizeof key, "it.prev.%d", j);
        dump(wr, key, prevs[j]);
        snprintf(key, sizeof key, "it.alpha.%d", j);
        dump(wr, key, alphas[j]);
    }
    dump(wr, "it.noise", noise);
    dump(wr, "it.z_opt", z_opt);
    dump(wr, "it.rec_prev", s.rec_prev);
    segq_iter_losses_t L;
    cr_assert_eq(segq__train_iteration(&s, &o, noise, z_opt, prevs, alphas, 0, &L), 0, "%s",
                 segqt_last_error());
    dump_net(wr, "after.G.", s.G);
    dump_net(wr, "after.D.", s.D);
    /* the frozen G (BatchNorm folded into its convolutions) against the
     * plain eval-mode network with the same weights and statistics */
    cr_assert_eq(segq__net_freeze(s.G), 0, "%s", segqt_last_error());
    segqt_no_grad_begin();
    dump(wr, "out.g_folded", segq__net_forward(s.G, x, prev, 0, 0));
    dump(wr, "out.g_folded_bf16", segqt_to_dtype(segq__net_forward(s.G, x, prev, 0, 1), SEGQT_F32));
    segqt_no_grad_end();
    double rec = L.loss_rec;
    float recf = (float)rec;
    int64_t scalar[1] = {1};
    cr_assert_eq(segq_st_writer_add(wr, "it.loss_rec", SEGQ_ST_F32, 1, scalar, &recf, sizeof recf,
                                    err, sizeof err),
                 0);
    meta(wr, "nfc", nfc);
    meta(wr, "num_layer", layers);
    meta(wr, "ker_size", ker);
    meta(wr, "lambda_grad", o.lambda_grad);
    meta(wr, "alpha", o.alpha);
    meta(wr, "lr_g", o.lr_g);
    meta(wr, "lr_d", o.lr_d);
    meta(wr, "beta1", o.beta1);
    meta(wr, "beta2", o.beta2);
    meta(wr, "d_steps", (double)o.d_steps);
    meta(wr, "g_steps", (double)o.g_steps);
    meta(wr, "noise_amp", s.noise_amp);
    char dir[512], path[600];
    pt_tempdir(dir, sizeof dir);
    snprintf(path, sizeof path, "%s/state.safetensors", dir);
    cr_assert_eq(segq_st_writer_save(wr, path, err, sizeof err), 0, "%s", err);
    segq_st_writer_destroy(&wr);
    segqt_scope_end();

    cr_expect_eq(pt_sh(REFERENCE " check %s", path), 0, "C and Python disagree (see above)");
    pt_sh("rm -rf %s", dir);
    segqt_adam_destroy(&s.opt_d);
    segqt_adam_destroy(&s.opt_g);
    segqt_tensor_destroy(&s.z_opt);
    segq__net_destroy(&s.G);
    segq__net_destroy(&s.D);
    cr_expect_eq(segqt_live_tensors(), 0, "%lld tensors outlive the test",
                 (long long)segqt_live_tensors());
}
