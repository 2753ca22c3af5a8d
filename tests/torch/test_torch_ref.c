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

static void setup(void)
{
    cr_assert_eq(segqt_set_num_threads(1), 0);
    cr_assert_eq(segqt_scope_begin(), 1);
    dir = tt_tmpdir();
}

static void teardown(void)
{
    cr_assert_eq(segqt_scope_end(), 0);
    cr_assert_eq(segqt_live_tensors(), 0);
    char cmd[600];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    cr_assert_eq(system(cmd), 0);
    free(dir);
}

TestSuite(torch_ref, .init = setup, .fini = teardown, .timeout = 120);

static segqt_tensor *randn(const int64_t *shape, int ndim)
{
    return tt_ok(segqt_randn(shape, ndim, SEGQT_F32, SEGQT_CPU), "randn");
}

/* Writes a random input for the reference and returns it. */
static segqt_tensor *input(const char *name, const int64_t *shape, int ndim)
{
    segqt_tensor *t = randn(shape, ndim);
    tt_write(dir, name, t);
    return t;
}

Test(torch_ref, interpolate_incl_antialiased_bicubic)
{
    segqt_manual_seed(7);
    segqt_tensor *x = input("x", (int64_t[]){1, 4, 37, 41}, 4);
    tt_python("interp", dir);
    const double tol = 1e-5;
    tt_assert_ref(dir, "aa_bicubic_down", segqt_interpolate(x, 23, 29, SEGQT_INTERP_BICUBIC, 0, 1),
                  tol, tol);
    tt_assert_ref(dir, "aa_bilinear_down",
                  segqt_interpolate(x, 20, 17, SEGQT_INTERP_BILINEAR, 0, 1), tol, tol);
    tt_assert_ref(dir, "bicubic_up", segqt_interpolate(x, 50, 60, SEGQT_INTERP_BICUBIC, 0, 0), tol,
                  tol);
    tt_assert_ref(dir, "bicubic_up_ac", segqt_interpolate(x, 50, 60, SEGQT_INTERP_BICUBIC, 1, 0),
                  tol, tol);
    tt_assert_ref(dir, "bilinear_up", segqt_interpolate(x, 45, 52, SEGQT_INTERP_BILINEAR, 0, 0),
                  tol, tol);
    tt_assert_ref(dir, "nearest", segqt_interpolate(x, 50, 30, SEGQT_INTERP_NEAREST, 0, 0), 0, 0);
}

Test(torch_ref, nn_ops_reductions_and_seeded_rng)
{
    segqt_manual_seed(11);
    segqt_tensor *x = input("x", (int64_t[]){2, 3, 8, 9}, 4);
    segqt_tensor *w = input("w", (int64_t[]){5, 3, 3, 3}, 4);
    segqt_tensor *b = input("b", (int64_t[]){5}, 1);
    segqt_tensor *wg = input("wg", (int64_t[]){3, 1, 3, 3}, 4);
    segqt_tensor *wt = input("wt", (int64_t[]){3, 4, 3, 3}, 4);
    segqt_tensor *bnw = input("bnw", (int64_t[]){5}, 1);
    segqt_tensor *bnb = input("bnb", (int64_t[]){5}, 1);
    segqt_tensor *rm = input("rm", (int64_t[]){5}, 1);
    segqt_tensor *rv = segqt_add_scalar(segqt_abs(randn((int64_t[]){5}, 1)), 0.5);
    tt_write(dir, "rv", rv);
    tt_python("ops", dir);

    const double tol = 1e-5;
    segqt_tensor *conv = segqt_conv2d(x, w, b, 2, 1, 1, 1);
    tt_assert_ref(dir, "conv", conv, tol, tol);
    tt_assert_ref(dir, "conv_dil", segqt_conv2d(x, w, NULL, 1, 2, 2, 1), tol, tol);
    tt_assert_ref(dir, "conv_grp", segqt_conv2d(x, wg, NULL, 1, 1, 1, 3), tol, tol);
    tt_assert_ref(dir, "convT", segqt_conv_transpose2d(x, wt, NULL, 2, 1, 1, 1, 1), tol, tol);
    tt_assert_ref(dir, "bn_train", segqt_batch_norm(conv, bnw, bnb, rm, rv, 1, 0.1, 1e-5), tol,
                  tol);
    tt_assert_ref(dir, "rm_after", rm, tol, tol); /* updated in place */
    tt_assert_ref(dir, "rv_after", rv, tol, tol);
    tt_assert_ref(dir, "bn_eval", segqt_batch_norm(conv, bnw, bnb, rm, rv, 0, 0.1, 1e-5), tol, tol);
    tt_assert_ref(dir, "lrelu", segqt_leaky_relu(x, 0.2), 0, 0);
    tt_assert_ref(dir, "pad", segqt_pad(x, (int64_t[]){1, 2, 3, 4}, 4, 0), 0, 0);
    tt_assert_ref(dir, "maxpool", segqt_max_pool2d(x, 2, 2, 0), 0, 0);
    tt_assert_ref(dir, "avgpool", segqt_avg_pool2d(x, 3, 1, 1), tol, tol);
    segqt_tensor *f = segqt_reshape(segqt_narrow(x, 0, 0, 1), (int64_t[]){3, -1}, 2);
    tt_assert_ref(dir, "gram", segqt_matmul(f, segqt_transpose(f, 0, 1)), tol, tol);
    segqt_tensor *fb = segqt_reshape(x, (int64_t[]){2, 3, -1}, 3);
    tt_assert_ref(dir, "gram_bmm", segqt_bmm(fb, segqt_transpose(fb, 1, 2)), tol, tol);
    tt_assert_ref(dir, "norm", segqt_norm_dim(x, 2, 1, 0), tol, tol);
    tt_assert_ref(dir, "mean_hw", segqt_mean_dims(x, (int64_t[]){2, 3}, 2, 1), tol, tol);
    tt_assert_ref(dir, "sum_c", segqt_sum_dims(x, (int64_t[]){1}, 1, 0), tol, tol);
    tt_assert_ref(dir, "mse", segqt_mse_loss(x, segqt_add_scalar(segqt_mul_scalar(x, 0.5), 0.1)),
                  tol, tol);
    tt_assert_ref(dir, "clamp", segqt_clamp(x, -0.5, 0.25), 0, 0);
    tt_assert_ref(dir, "gt", segqt_compare_scalar(x, SEGQT_GT, 0.3), 0, 0);
    /* same seed, same generator: bit-identical to Python's */
    segqt_manual_seed(1234);
    tt_assert_ref(dir, "randn", segqt_randn((int64_t[]){3, 50}, 2, SEGQT_F32, SEGQT_CPU), 0, 0);
    tt_assert_ref(dir, "rand", segqt_rand((int64_t[]){7}, 1, SEGQT_F32, SEGQT_CPU), 0, 0);
}

/* The tiny critic of torch_ref.py's disc(). */
static segqt_tensor *disc(segqt_tensor *x, segqt_tensor **p)
{
    segqt_tensor *h = segqt_conv2d(x, p[0], p[1], 1, 0, 1, 1);
    h = segqt_batch_norm(h, p[2], p[3], NULL, NULL, 1, 0.1, 1e-5);
    h = segqt_leaky_relu(h, 0.2);
    return segqt_conv2d(h, p[4], p[5], 1, 0, 1, 1);
}

Test(torch_ref, wgan_gp_double_backward)
{
    static const char *names[6] = {"w1", "b1", "g1", "be1", "w2", "b2"};
    static const int64_t shapes[6][4] = {{8, 4, 3, 3}, {8}, {8}, {8}, {1, 8, 3, 3}, {1}};
    static const int ndims[6] = {4, 1, 1, 1, 4, 1};
    segqt_manual_seed(3);
    segqt_tensor *p[6];
    for (int i = 0; i < 6; i++) {
        p[i] = segqt_persist(input(names[i], shapes[i], ndims[i]));
        segqt_set_requires_grad(p[i], 1);
    }
    segqt_tensor *real = input("real", (int64_t[]){1, 4, 12, 13}, 4);
    segqt_tensor *fake = input("fake", (int64_t[]){1, 4, 12, 13}, 4);
    segqt_tensor *alpha = segqt_rand((int64_t[]){1}, 1, SEGQT_F32, SEGQT_CPU);
    tt_write(dir, "alpha", alpha);
    tt_python("gp", dir);

    /* The pattern SinGAN's D step uses, all inside a scope. */
    cr_assert_eq(segqt_scope_begin(), 2);
    segqt_tensor *interp =
        segqt_add(segqt_mul(alpha, real), segqt_mul(segqt_rsub_scalar(alpha, 1), fake));
    segqt_set_requires_grad(interp, 1);
    segqt_tensor *out = disc(interp, p);
    segqt_tensor *g = NULL;
    int rc = segqt_autograd_grad(&out, 1, &interp, 1, (segqt_tensor *[]){segqt_ones_like(out)}, &g,
                                 1, 1);
    cr_assert_eq(rc, 0, "%s", segqt_last_error());
    segqt_tensor *gp = segqt_mul_scalar(
        segqt_mean(segqt_pow_scalar(segqt_add_scalar(segqt_norm_dim(g, 2, 1, 0), -1), 2)), 0.1);
    segqt_tensor *loss =
        segqt_add(segqt_add(segqt_neg(segqt_mean(disc(real, p))), segqt_mean(disc(fake, p))), gp);
    cr_assert_eq(segqt_backward(loss, 0, 0), 0, "%s", segqt_last_error());
    const double tol = 1e-5;
    tt_assert_ref(dir, "out", out, tol, tol);
    tt_assert_ref(dir, "g", g, tol, tol);
    tt_assert_ref(dir, "gp", gp, tol, tol);
    tt_assert_ref(dir, "loss", loss, tol, tol);
    char gname[16];
    for (int i = 0; i < 6; i++) {
        snprintf(gname, sizeof gname, "grad_%s", names[i]);
        tt_assert_ref(dir, gname, segqt_grad(p[i]), tol, tol);
    }
    cr_assert_eq(segqt_scope_end(), 0);
    for (int i = 0; i < 6; i++)
        segqt_tensor_destroy(&p[i]);
}

Test(torch_ref, autograd_grad_reports_unreached_input)
{
    segqt_tensor *a = segqt_ones((int64_t[]){2}, 1, SEGQT_F32, SEGQT_CPU);
    segqt_tensor *b = segqt_ones((int64_t[]){2}, 1, SEGQT_F32, SEGQT_CPU);
    segqt_set_requires_grad(a, 1);
    segqt_set_requires_grad(b, 1);
    segqt_tensor *y = segqt_sum(segqt_mul_scalar(a, 3));
    segqt_tensor *g[2] = {(segqt_tensor *)1, (segqt_tensor *)1};
    int64_t before = segqt_live_tensors();
    cr_assert_eq(segqt_autograd_grad(&y, 1, (segqt_tensor *[]){a, b}, 2, NULL, g, 1, 0),
                 SEGQ_ETORCH);
    cr_assert(g[0] == NULL && g[1] == NULL);
    cr_assert_eq(segqt_live_tensors(), before);
    /* without the unreached input it works; y is a scalar, so no grad_outputs */
    cr_assert_eq(segqt_autograd_grad(&y, 1, &a, 1, NULL, g, 0, 0), 0);
    double v;
    segqt_item(segqt_sum(g[0]), &v);
    cr_assert_float_eq(v, 6.0, 1e-6);
}

/* Five steps with a learning-rate change after three, against
 * torch.optim.Adam; capturable: the device-step optimiser. */
static void adam_against_python(int capturable)
{
    segqt_manual_seed(5);
    segqt_tensor *p1 = segqt_persist(input("p1", (int64_t[]){3, 4}, 2));
    segqt_tensor *p2 = segqt_persist(input("p2", (int64_t[]){5}, 1));
    segqt_tensor *x = input("x", (int64_t[]){4, 2}, 2);
    segqt_tensor *y = input("y", (int64_t[]){3, 2}, 2);
    tt_python("adam", dir);
    segqt_set_requires_grad(p1, 1);
    segqt_set_requires_grad(p2, 1);
    segqt_tensor *ps[2] = {p1, p2};
    segqt_adam *opt = capturable ? segqt_adam_new_capturable(ps, 2, 0.05, 0.5, 0.999, 1e-8)
                                 : segqt_adam_new(ps, 2, 0.05, 0.5, 0.999, 1e-8, 0);
    cr_assert_not_null(opt, "%s", segqt_last_error());
    for (int it = 0; it < 5; it++) {
        if (it == 3)
            cr_assert_eq(segqt_adam_set_lr(opt, segqt_adam_get_lr(opt) * 0.1), 0);
        segqt_scope_begin();
        cr_assert_eq(segqt_adam_zero_grad(opt), 0);
        segqt_tensor *l =
            segqt_add(segqt_add(segqt_mse_loss(segqt_matmul(p1, x), y),
                                segqt_mul_scalar(segqt_sum(segqt_pow_scalar(p2, 2)), 0.5)),
                      segqt_mean(segqt_tanh(segqt_mul(p2, segqt_sum(p2)))));
        cr_assert_eq(segqt_backward(l, 0, 0), 0, "%s", segqt_last_error());
        cr_assert_eq(segqt_adam_step(opt), 0, "%s", segqt_last_error());
        segqt_scope_end();
    }
    cr_assert_float_eq(segqt_adam_get_lr(opt), 0.005, 1e-12);
    tt_assert_ref(dir, "p1_after", p1, 1e-6, 1e-5);
    tt_assert_ref(dir, "p2_after", p2, 1e-6, 1e-5);
    segqt_adam_destroy(&opt);
    cr_assert_null(opt);
    /* the device-step one needs every gradient: a step without is refused */
    if (capturable) {
        opt = segqt_adam_new_capturable(ps, 2, 0.05, 0.5, 0.999, 1e-8);
        cr_assert_eq(segqt_adam_zero_grad(opt), 0);
        cr_assert_eq(segqt_adam_step(opt), SEGQ_EINVAL);
        cr_assert(strstr(segqt_last_error(), "no gradient"), "%s", segqt_last_error());
        segqt_adam_destroy(&opt);
    }
    segqt_tensor_destroy(&p1);
    segqt_tensor_destroy(&p2);
}

Test(torch_ref, adam_matches_python_with_lr_step)
{
    adam_against_python(0);
}

Test(torch_ref, capturable_adam_matches_python_with_lr_step)
{
    adam_against_python(1);
}

Test(torch_ref, adam_refuses_bad_parameters)
{
    segqt_tensor *x = segqt_ones((int64_t[]){2}, 1, SEGQT_F32, SEGQT_CPU);
    /* a non-leaf or grad-less parameter is refused */
    cr_assert_null(segqt_adam_new((segqt_tensor *[]){x}, 1, 0.1, 0.9, 0.999, 1e-8, 0));
    cr_assert(strstr(segqt_last_error(), "requires_grad"));
    cr_assert_null(segqt_adam_new_capturable((segqt_tensor *[]){x}, 1, 0.1, 0.9, 0.999, 1e-8));
    cr_assert(strstr(segqt_last_error(), "requires_grad"));
    cr_assert_eq(segqt_adam_step(NULL), SEGQ_EINVAL);
    /* the device-step one keeps its moments flat: one dtype for all */
    segqt_tensor *mixed[2] = {segqt_ones((int64_t[]){2}, 1, SEGQT_F32, SEGQT_CPU),
                              segqt_ones((int64_t[]){3}, 1, SEGQT_F64, SEGQT_CPU)};
    cr_assert_eq(segqt_set_requires_grad(mixed[0], 1) | segqt_set_requires_grad(mixed[1], 1), 0);
    cr_assert_null(segqt_adam_new_capturable(mixed, 2, 0.1, 0.9, 0.999, 1e-8));
    cr_assert(strstr(segqt_last_error(), "one dtype"), "%s", segqt_last_error());
}

/* A CPU build has no graphs: each call says so, none crashes. */
Test(torch_ref, graphs_are_refused_without_cuda)
{
    cr_assert_eq(segqt_graph_supported(SEGQT_CPU), 0);
    cr_assert_null(segqt_graph_new(SEGQT_CPU));
    cr_assert_eq(segqt_last_code(), SEGQ_EINVAL);
    if (!segqt_has_cuda_build()) {
        cr_assert_null(segqt_graph_new((segqt_device){SEGQT_DEVICE_CUDA, 0}));
        cr_assert_eq(segqt_last_code(), SEGQ_ENODEV);
    }
    cr_assert_eq(segqt_graph_replay(NULL), SEGQ_EINTERNAL);
    cr_assert_eq(segqt_graph_capture_begin(NULL), SEGQ_EINTERNAL);
    cr_assert_eq(segqt_graph_capture_end(NULL), SEGQ_EINTERNAL);
    segqt_graph *g = NULL;
    segqt_graph_destroy(&g);
}
