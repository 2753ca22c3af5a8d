/* The torch shim against an independent reference: Debian's python3-torch
 * (tests/torch/torch_ref.py) computes the same things from inputs this
 * test writes. */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "segq_torch.h"
#include "torch_test_util.h"

static char *dir;

static void setup(void) {
    cr_assert_eq(segq_set_num_threads(1), 0);
    cr_assert_eq(segq_scope_begin(), 1);
    dir = tt_tmpdir();
}

static void teardown(void) {
    cr_assert_eq(segq_scope_end(), 0);
    cr_assert_eq(segq_torch_live_tensors(), 0);
    char cmd[600];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    cr_assert_eq(system(cmd), 0);
    free(dir);
}

TestSuite(torch_ref, .init = setup, .fini = teardown, .timeout = 120);

static segq_tensor *randn(const int64_t *shape, int ndim) {
    return tt_ok(segq_randn(shape, ndim, SEGQ_F32, SEGQ_CPU), "randn");
}

/* Writes a random input for the reference and returns it. */
static segq_tensor *input(const char *name, const int64_t *shape, int ndim) {
    segq_tensor *t = randn(shape, ndim);
    tt_write(dir, name, t);
    return t;
}

Test(torch_ref, interpolate_incl_antialiased_bicubic) {
    segq_manual_seed(7);
    segq_tensor *x = input("x", (int64_t[]){1, 4, 37, 41}, 4);
    tt_python("interp", dir);
    const double tol = 1e-5;
    tt_assert_ref(dir, "aa_bicubic_down",
                  segq_interpolate(x, 23, 29, SEGQ_INTERP_BICUBIC, 0, 1), tol, tol);
    tt_assert_ref(dir, "aa_bilinear_down",
                  segq_interpolate(x, 20, 17, SEGQ_INTERP_BILINEAR, 0, 1), tol, tol);
    tt_assert_ref(dir, "bicubic_up", segq_interpolate(x, 50, 60, SEGQ_INTERP_BICUBIC, 0, 0),
                  tol, tol);
    tt_assert_ref(dir, "bicubic_up_ac",
                  segq_interpolate(x, 50, 60, SEGQ_INTERP_BICUBIC, 1, 0), tol, tol);
    tt_assert_ref(dir, "bilinear_up",
                  segq_interpolate(x, 45, 52, SEGQ_INTERP_BILINEAR, 0, 0), tol, tol);
    tt_assert_ref(dir, "nearest", segq_interpolate(x, 50, 30, SEGQ_INTERP_NEAREST, 0, 0),
                  0, 0);
    tt_assert_ref(dir, "bicubic_scale",
                  segq_interpolate_scale(x, 1 / 0.765, 1 / 0.765, SEGQ_INTERP_BICUBIC, 0, 0),
                  tol, tol);
    tt_assert_ref(dir, "aa_bicubic_scale",
                  segq_interpolate_scale(x, 0.765, 0.765, SEGQ_INTERP_BICUBIC, 0, 1), tol,
                  tol);
}

Test(torch_ref, nn_ops_reductions_and_seeded_rng) {
    segq_manual_seed(11);
    segq_tensor *x = input("x", (int64_t[]){2, 3, 8, 9}, 4);
    segq_tensor *w = input("w", (int64_t[]){5, 3, 3, 3}, 4);
    segq_tensor *b = input("b", (int64_t[]){5}, 1);
    segq_tensor *wg = input("wg", (int64_t[]){3, 1, 3, 3}, 4);
    segq_tensor *wt = input("wt", (int64_t[]){3, 4, 3, 3}, 4);
    segq_tensor *bnw = input("bnw", (int64_t[]){5}, 1);
    segq_tensor *bnb = input("bnb", (int64_t[]){5}, 1);
    segq_tensor *rm = input("rm", (int64_t[]){5}, 1);
    segq_tensor *rv = segq_add_scalar(segq_abs(randn((int64_t[]){5}, 1)), 0.5);
    tt_write(dir, "rv", rv);
    tt_python("ops", dir);

    const double tol = 1e-5;
    segq_tensor *conv = segq_conv2d(x, w, b, 2, 1, 1, 1);
    tt_assert_ref(dir, "conv", conv, tol, tol);
    tt_assert_ref(dir, "conv_dil", segq_conv2d(x, w, NULL, 1, 2, 2, 1), tol, tol);
    tt_assert_ref(dir, "conv_grp", segq_conv2d(x, wg, NULL, 1, 1, 1, 3), tol, tol);
    tt_assert_ref(dir, "convT", segq_conv_transpose2d(x, wt, NULL, 2, 1, 1, 1, 1), tol, tol);
    tt_assert_ref(dir, "bn_train", segq_batch_norm(conv, bnw, bnb, rm, rv, 1, 0.1, 1e-5),
                  tol, tol);
    tt_assert_ref(dir, "rm_after", rm, tol, tol); /* updated in place */
    tt_assert_ref(dir, "rv_after", rv, tol, tol);
    tt_assert_ref(dir, "bn_eval", segq_batch_norm(conv, bnw, bnb, rm, rv, 0, 0.1, 1e-5),
                  tol, tol);
    tt_assert_ref(dir, "lrelu", segq_leaky_relu(x, 0.2), 0, 0);
    tt_assert_ref(dir, "pad", segq_pad(x, (int64_t[]){1, 2, 3, 4}, 4, 0), 0, 0);
    tt_assert_ref(dir, "maxpool", segq_max_pool2d(x, 2, 2, 0), 0, 0);
    tt_assert_ref(dir, "avgpool", segq_avg_pool2d(x, 3, 1, 1), tol, tol);
    segq_tensor *f = segq_reshape(segq_narrow(x, 0, 0, 1), (int64_t[]){3, -1}, 2);
    tt_assert_ref(dir, "gram", segq_matmul(f, segq_transpose(f, 0, 1)), tol, tol);
    segq_tensor *fb = segq_reshape(x, (int64_t[]){2, 3, -1}, 3);
    tt_assert_ref(dir, "gram_bmm", segq_bmm(fb, segq_transpose(fb, 1, 2)), tol, tol);
    tt_assert_ref(dir, "norm", segq_norm_dim(x, 2, 1, 0), tol, tol);
    tt_assert_ref(dir, "mean_hw", segq_mean_dims(x, (int64_t[]){2, 3}, 2, 1), tol, tol);
    tt_assert_ref(dir, "sum_c", segq_sum_dims(x, (int64_t[]){1}, 1, 0), tol, tol);
    tt_assert_ref(dir, "mse", segq_mse_loss(x, segq_add_scalar(segq_mul_scalar(x, 0.5), 0.1)),
                  tol, tol);
    tt_assert_ref(dir, "clamp", segq_clamp(x, -0.5, 0.25), 0, 0);
    tt_assert_ref(dir, "gt", segq_compare_scalar(x, SEGQ_GT, 0.3), 0, 0);
    /* same seed, same generator: bit-identical to Python's */
    segq_manual_seed(1234);
    tt_assert_ref(dir, "randn", segq_randn((int64_t[]){3, 50}, 2, SEGQ_F32, SEGQ_CPU), 0, 0);
    tt_assert_ref(dir, "rand", segq_rand((int64_t[]){7}, 1, SEGQ_F32, SEGQ_CPU), 0, 0);
}

/* The tiny critic of torch_ref.py's disc(). */
static segq_tensor *disc(segq_tensor *x, segq_tensor **p) {
    segq_tensor *h = segq_conv2d(x, p[0], p[1], 1, 0, 1, 1);
    h = segq_batch_norm(h, p[2], p[3], NULL, NULL, 1, 0.1, 1e-5);
    h = segq_leaky_relu(h, 0.2);
    return segq_conv2d(h, p[4], p[5], 1, 0, 1, 1);
}

Test(torch_ref, wgan_gp_double_backward) {
    static const char *names[6] = {"w1", "b1", "g1", "be1", "w2", "b2"};
    static const int64_t shapes[6][4] = {{8, 4, 3, 3}, {8}, {8}, {8}, {1, 8, 3, 3}, {1}};
    static const int ndims[6] = {4, 1, 1, 1, 4, 1};
    segq_manual_seed(3);
    segq_tensor *p[6];
    for (int i = 0; i < 6; i++) {
        p[i] = segq_persist(input(names[i], shapes[i], ndims[i]));
        segq_set_requires_grad(p[i], 1);
    }
    segq_tensor *real = input("real", (int64_t[]){1, 4, 12, 13}, 4);
    segq_tensor *fake = input("fake", (int64_t[]){1, 4, 12, 13}, 4);
    segq_tensor *alpha = segq_rand((int64_t[]){1}, 1, SEGQ_F32, SEGQ_CPU);
    tt_write(dir, "alpha", alpha);
    tt_python("gp", dir);

    /* The pattern SinGAN's D step uses, all inside a scope. */
    cr_assert_eq(segq_scope_begin(), 2);
    segq_tensor *interp =
        segq_add(segq_mul(alpha, real), segq_mul(segq_rsub_scalar(alpha, 1), fake));
    segq_set_requires_grad(interp, 1);
    segq_tensor *out = disc(interp, p);
    segq_tensor *g = NULL;
    int rc = segq_autograd_grad(&out, 1, &interp, 1, (segq_tensor *[]){segq_ones_like(out)},
                                &g, 1, 1);
    cr_assert_eq(rc, 0, "%s", segq_torch_last_error());
    segq_tensor *gp = segq_mul_scalar(
        segq_mean(segq_pow_scalar(segq_add_scalar(segq_norm_dim(g, 2, 1, 0), -1), 2)), 0.1);
    segq_tensor *loss = segq_add(
        segq_add(segq_neg(segq_mean(disc(real, p))), segq_mean(disc(fake, p))), gp);
    cr_assert_eq(segq_backward(loss, 0, 0), 0, "%s", segq_torch_last_error());
    const double tol = 1e-5;
    tt_assert_ref(dir, "out", out, tol, tol);
    tt_assert_ref(dir, "g", g, tol, tol);
    tt_assert_ref(dir, "gp", gp, tol, tol);
    tt_assert_ref(dir, "loss", loss, tol, tol);
    char gname[16];
    for (int i = 0; i < 6; i++) {
        snprintf(gname, sizeof gname, "grad_%s", names[i]);
        tt_assert_ref(dir, gname, segq_grad(p[i]), tol, tol);
    }
    cr_assert_eq(segq_scope_end(), 0);
    for (int i = 0; i < 6; i++)
        segq_tensor_destroy(&p[i]);
}

Test(torch_ref, autograd_grad_reports_unreached_input) {
    segq_tensor *a = segq_ones((int64_t[]){2}, 1, SEGQ_F32, SEGQ_CPU);
    segq_tensor *b = segq_ones((int64_t[]){2}, 1, SEGQ_F32, SEGQ_CPU);
    segq_set_requires_grad(a, 1);
    segq_set_requires_grad(b, 1);
    segq_tensor *y = segq_sum(segq_mul_scalar(a, 3));
    segq_tensor *g[2] = {(segq_tensor *)1, (segq_tensor *)1};
    int64_t before = segq_torch_live_tensors();
    cr_assert_eq(segq_autograd_grad(&y, 1, (segq_tensor *[]){a, b}, 2, NULL, g, 1, 0),
                 SEGQ_TORCH_ETORCH);
    cr_assert(g[0] == NULL && g[1] == NULL);
    cr_assert_eq(segq_torch_live_tensors(), before);
    /* without the unreached input it works; y is a scalar, so no grad_outputs */
    cr_assert_eq(segq_autograd_grad(&y, 1, &a, 1, NULL, g, 0, 0), 0);
    double v;
    segq_item(segq_sum(g[0]), &v);
    cr_assert_float_eq(v, 6.0, 1e-6);
}

Test(torch_ref, adam_matches_python_with_lr_step) {
    segq_manual_seed(5);
    segq_tensor *p1 = segq_persist(input("p1", (int64_t[]){3, 4}, 2));
    segq_tensor *p2 = segq_persist(input("p2", (int64_t[]){5}, 1));
    segq_tensor *x = input("x", (int64_t[]){4, 2}, 2);
    segq_tensor *y = input("y", (int64_t[]){3, 2}, 2);
    tt_python("adam", dir);
    segq_set_requires_grad(p1, 1);
    segq_set_requires_grad(p2, 1);
    segq_adam *opt = segq_adam_new((segq_tensor *[]){p1, p2}, 2, 0.05, 0.5, 0.999, 1e-8, 0);
    cr_assert_not_null(opt, "%s", segq_torch_last_error());
    for (int it = 0; it < 5; it++) {
        if (it == 3)
            cr_assert_eq(segq_adam_set_lr(opt, segq_adam_get_lr(opt) * 0.1), 0);
        segq_scope_begin();
        cr_assert_eq(segq_adam_zero_grad(opt), 0);
        segq_tensor *l = segq_add(
            segq_add(segq_mse_loss(segq_matmul(p1, x), y),
                     segq_mul_scalar(segq_sum(segq_pow_scalar(p2, 2)), 0.5)),
            segq_mean(segq_tanh(segq_mul(p2, segq_sum(p2)))));
        cr_assert_eq(segq_backward(l, 0, 0), 0, "%s", segq_torch_last_error());
        cr_assert_eq(segq_adam_step(opt), 0, "%s", segq_torch_last_error());
        segq_scope_end();
    }
    cr_assert_float_eq(segq_adam_get_lr(opt), 0.005, 1e-12);
    tt_assert_ref(dir, "p1_after", p1, 1e-6, 1e-5);
    tt_assert_ref(dir, "p2_after", p2, 1e-6, 1e-5);
    segq_adam_destroy(&opt);
    cr_assert_null(opt);
    /* a non-leaf or grad-less parameter is refused */
    cr_assert_null(segq_adam_new((segq_tensor *[]){x}, 1, 0.1, 0.9, 0.999, 1e-8, 0));
    cr_assert(strstr(segq_torch_last_error(), "requires_grad"));
    cr_assert_eq(segq_adam_step(NULL), SEGQ_TORCH_EINVAL);
    segq_tensor_destroy(&p1);
    segq_tensor_destroy(&p2);
}
