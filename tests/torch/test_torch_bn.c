/* segqt_batch_norm's lean double backward (segq_torch_bn.cpp) against
 * libtorch's own composite: the first and second derivatives with respect
 * to the input, weight and bias, in double (the algebra), and in float and
 * bfloat16 (the precisions the critic trains in) against the truth in
 * double. */
#include <criterion/criterion.h>
#include <math.h>
#include <string.h>

#include "segq_torch.h"
#include "torch_test_util.h"

static void setup(void)
{
    cr_assert_eq(segqt_set_num_threads(1), 0);
    cr_assert_eq(segqt_scope_begin(), 1);
}

static void teardown(void)
{
    cr_assert_eq(segqt_set_lean_bn_double_backward(1), 1, "a test left the libtorch path on");
    cr_assert_eq(segqt_scope_end(), 0);
    cr_assert_eq(segqt_live_tensors(), 0);
}

TestSuite(torch_bn, .init = setup, .fini = teardown, .timeout = 60);

enum { RESULTS = 8 }; /* what layer_derivatives returns, named below */
static const char *const result_names[RESULTS] = {
    "dx",           "dw",         "db", "d(penalty)/dx", "d(penalty)/dw", "d(penalty)/db",
    "running mean", "running var"};

#define CHANNELS 5

/* One critic-like layer, y = leaky(batch_norm(x)) weighted, and a penalty
 * on its gradients (as WGAN-GP's, with random weights so that no term
 * cancels), differentiated again. With `all_inputs`, the penalty also
 * weighs the gradients of w and b, so the double backward sees upstream
 * gradients of all three of BatchNorm's backward outputs. Results in
 * double. The inputs are the same for every dtype: drawn in double with
 * a fixed seed, then cast. */
static void layer_derivatives(segqt_dtype dt, int lean, int all_inputs, segqt_tensor *out[RESULTS])
{
    const int64_t shape[4] = {2, CHANNELS, 6, 7}, cshape[1] = {CHANNELS};
    segqt_manual_seed(7);
    segqt_tensor *x =
        segqt_add_scalar(segqt_mul_scalar(segqt_randn(shape, 4, SEGQT_F64, SEGQT_CPU), 3.0), 1.5);
    segqt_tensor *w = segqt_add_scalar(segqt_rand(cshape, 1, SEGQT_F64, SEGQT_CPU), 0.5);
    segqt_tensor *b = segqt_randn(cshape, 1, SEGQT_F64, SEGQT_CPU);
    segqt_tensor *weights = segqt_randn(shape, 4, SEGQT_F64, SEGQT_CPU);
    segqt_tensor *r[3] = {segqt_randn(shape, 4, SEGQT_F64, SEGQT_CPU),
                          segqt_randn(cshape, 1, SEGQT_F64, SEGQT_CPU),
                          segqt_randn(cshape, 1, SEGQT_F64, SEGQT_CPU)};
    segqt_tensor *leaf[3] = {segqt_to_dtype(x, dt), segqt_to_dtype(w, dt), segqt_to_dtype(b, dt)};
    for (int i = 0; i < 3; i++)
        cr_assert_eq(segqt_set_requires_grad(tt_ok(leaf[i], "input"), 1), 0);
    segqt_tensor *rm = segqt_zeros(cshape, 1, dt, SEGQT_CPU);
    segqt_tensor *rv = segqt_ones(cshape, 1, dt, SEGQT_CPU);

    int was = segqt_set_lean_bn_double_backward(lean);
    segqt_tensor *y = segqt_batch_norm(leaf[0], leaf[1], leaf[2], rm, rv, 1, 0.1, 1e-5);
    segqt_tensor *loss =
        segqt_sum(segqt_mul(segqt_leaky_relu(y, 0.2), segqt_to_dtype(weights, dt)));
    int n = all_inputs ? 3 : 1;
    segqt_tensor *g[3] = {NULL, NULL, NULL};
    cr_assert_eq(segqt_autograd_grad(&loss, 1, leaf, n, NULL, g, 1, 1), 0, "%s",
                 segqt_last_error());
    segqt_tensor *penalty = segqt_zeros((int64_t[]){1}, 0, dt, SEGQT_CPU);
    for (int i = 0; i < n; i++)
        penalty = segqt_add(penalty, segqt_sum(segqt_mul(g[i], segqt_to_dtype(r[i], dt))));
    cr_assert_eq(segqt_backward(penalty, 0, 0), 0, "%s", segqt_last_error());
    segqt_set_lean_bn_double_backward(was);

    segqt_tensor *results[RESULTS] = {
        g[0], g[1], g[2], segqt_grad(leaf[0]), segqt_grad(leaf[1]), segqt_grad(leaf[2]), rm, rv};
    for (int i = 0; i < RESULTS; i++)
        out[i] = results[i] ? tt_ok(segqt_to_dtype(results[i], SEGQT_F64), result_names[i]) : NULL;
}

/* max |got - want| / max |want|, or the absolute error where want is 0
 * (the penalty does not depend on the bias: its gradient is 0) */
static double relative_error(segqt_tensor *got, segqt_tensor *want)
{
    double diff = NAN, scale = NAN;
    cr_assert_eq(segqt_item(segqt_max(segqt_abs(segqt_sub(got, want))), &diff), 0);
    cr_assert_eq(segqt_item(segqt_max(segqt_abs(want)), &scale), 0);
    return scale > 0 ? diff / scale : diff;
}

Test(torch_bn, double_backward_equals_libtorchs_in_double)
{
    for (int all_inputs = 0; all_inputs <= 1; all_inputs++) {
        segqt_tensor *lean[RESULTS], *libtorch[RESULTS];
        layer_derivatives(SEGQT_F64, 1, all_inputs, lean);
        layer_derivatives(SEGQT_F64, 0, all_inputs, libtorch);
        for (int i = 0; i < RESULTS; i++) {
            if (!libtorch[i]) {
                cr_assert_null(lean[i], "%s", result_names[i]);
                continue;
            }
            double err = relative_error(lean[i], libtorch[i]);
            cr_assert_leq(err, 1e-12, "%s (all inputs %d): relative error %g", result_names[i],
                          all_inputs, err);
        }
    }
}

/* Each precision's error against the truth (libtorch in double): the lean
 * path's within the bound, and not far above libtorch's own in that
 * precision. */
static void check_precision(segqt_dtype dt, double bound)
{
    segqt_tensor *truth[RESULTS], *lean[RESULTS], *libtorch[RESULTS];
    layer_derivatives(SEGQT_F64, 0, 1, truth);
    layer_derivatives(dt, 1, 1, lean);
    layer_derivatives(dt, 0, 1, libtorch);
    for (int i = 0; i < RESULTS; i++) {
        double err = relative_error(lean[i], truth[i]);
        double theirs = relative_error(libtorch[i], truth[i]);
        cr_log_info("%s: lean %.3g, libtorch %.3g", result_names[i], err, theirs);
        cr_assert_leq(err, bound, "%s: relative error %g (libtorch's %g)", result_names[i], err,
                      theirs);
        cr_assert_leq(err, 2 * theirs + bound / 10, "%s: relative error %g, libtorch's %g",
                      result_names[i], err, theirs);
    }
}

Test(torch_bn, float_as_close_to_the_truth_as_libtorch)
{
    check_precision(SEGQT_F32, 1e-5);
}

Test(torch_bn, bfloat16_as_close_to_the_truth_as_libtorch)
{
    check_precision(SEGQT_BF16, 5e-2);
}

/* The lean double backward treats the batch statistics as constants in
 * its own derivative: a third derivative would be wrong, so it is
 * refused, with a message that says so. */
Test(torch_bn, refuses_a_third_derivative)
{
    const int64_t shape[4] = {2, 3, 4, 4}, cshape[1] = {3};
    segqt_tensor *x = segqt_randn(shape, 4, SEGQT_F32, SEGQT_CPU);
    segqt_tensor *w = segqt_ones(cshape, 1, SEGQT_F32, SEGQT_CPU);
    segqt_tensor *b = segqt_zeros(cshape, 1, SEGQT_F32, SEGQT_CPU);
    cr_assert_eq(segqt_set_requires_grad(x, 1) | segqt_set_requires_grad(w, 1), 0);
    segqt_tensor *loss =
        segqt_sum(segqt_pow_scalar(segqt_batch_norm(x, w, b, NULL, NULL, 1, 0.1, 1e-5), 3.0));
    segqt_tensor *g = NULL, *gg = NULL;
    cr_assert_eq(segqt_autograd_grad(&loss, 1, &x, 1, NULL, &g, 1, 1), 0);
    segqt_tensor *second = segqt_sum(segqt_mul(g, g));
    int rc = segqt_autograd_grad(&second, 1, &x, 1, NULL, &gg, 1, 1);
    cr_assert_lt(rc, 0);
    cr_assert(strstr(segqt_last_error(), "no third derivative"), "%s", segqt_last_error());
}
