/* The torch shim's contract: error boundary, scope lifetime, queries,
 * creation, grad-mode/autocast regions, devices, seeding. */
#include <criterion/criterion.h>
#include <math.h>
#include <pthread.h>
#include <string.h>

#include "segq_torch.h"
#include "torch_test_util.h"

static void setup(void)
{
    cr_assert_eq(segqt_set_num_threads(1), 0);
    segqt_clear_error();
}

TestSuite(torch_errors, .init = setup, .timeout = 60);
TestSuite(torch_scope, .init = setup, .timeout = 60);
TestSuite(torch_basic, .init = setup, .timeout = 60);

/* ---- errors ---------------------------------------------------------- */

Test(torch_errors, conv_shape_mismatch_returns_null_with_libtorch_message)
{
    cr_assert_eq(segqt_scope_begin(), 1);
    int64_t xs[] = {1, 3, 8, 8}, ws[] = {4, 5, 3, 3}; /* 3 input channels vs 5 */
    segqt_tensor *x = tt_ok(segqt_ones(xs, 4, SEGQT_F32, SEGQT_CPU), "x");
    segqt_tensor *w = tt_ok(segqt_ones(ws, 4, SEGQT_F32, SEGQT_CPU), "w");
    segqt_tensor *y = segqt_conv2d(x, w, NULL, 1, 0, 1, 1);
    cr_assert_null(y);
    cr_assert_eq(segqt_last_code(), SEGQ_ETORCH);
    /* the project's code space: segq_strerror names the shim's codes */
    cr_assert_str_eq(segq_error_name(segqt_last_code()), "ETORCH");
    const char *msg = segqt_last_error();
    cr_assert(strncmp(msg, "segqt_conv2d: ", 14) == 0, "message: %s", msg);
    /* libtorch's own words about the channel mismatch */
    cr_assert(strstr(msg, "expected input") && strstr(msg, "channels"), "message: %s", msg);
    cr_assert_null(strstr(msg, "Exception raised from"), "backtrace leaked: %s", msg);
    cr_assert_eq(segqt_scope_end(), 0);
}

Test(torch_errors, null_propagates_and_keeps_first_error)
{
    segqt_scope_begin();
    int64_t xs[] = {2, 3}, ys[] = {4, 5};
    segqt_tensor *x = segqt_ones(xs, 2, SEGQT_F32, SEGQT_CPU);
    segqt_tensor *y = segqt_ones(ys, 2, SEGQT_F32, SEGQT_CPU);
    /* matmul fails; the chain after it sees NULL and keeps matmul's message */
    segqt_tensor *z = segqt_sum(segqt_tanh(segqt_mul_scalar(segqt_matmul(x, y), 2.0)));
    cr_assert_null(z);
    cr_assert(strncmp(segqt_last_error(), "segqt_matmul: ", 14) == 0, "%s", segqt_last_error());
    double v;
    cr_assert_eq(segqt_item(z, &v), SEGQ_EINVAL);
    cr_assert(strncmp(segqt_last_error(), "segqt_matmul: ", 14) == 0);
    /* a new real failure replaces it */
    cr_assert_null(segqt_reshape(x, (int64_t[]){7}, 1));
    cr_assert(strncmp(segqt_last_error(), "segqt_reshape: ", 15) == 0, "%s", segqt_last_error());
    segqt_clear_error();
    cr_assert_eq(segqt_last_code(), 0);
    cr_assert_str_eq(segqt_last_error(), "");
    /* NULL with nothing recorded says so */
    cr_assert_null(segqt_relu(NULL));
    cr_assert_eq(segqt_last_code(), SEGQ_EINVAL);
    cr_assert(strstr(segqt_last_error(), "NULL"), "%s", segqt_last_error());
    segqt_scope_end();
}

Test(torch_errors, bad_arguments_are_clear_errors)
{
    segqt_scope_begin();
    int64_t neg[] = {2, -3};
    cr_assert_null(segqt_zeros(neg, 2, SEGQT_F32, SEGQT_CPU));
    cr_assert(strstr(segqt_last_error(), "negative size"));
    cr_assert_null(segqt_zeros(neg, -1, SEGQT_F32, SEGQT_CPU));
    cr_assert_null(segqt_zeros(neg, 2, (segqt_dtype)99, SEGQT_CPU));
    cr_assert(strstr(segqt_last_error(), "unknown segqt_dtype"));
    float data[6] = {0};
    int64_t s23[] = {2, 3};
    cr_assert_null(segqt_from_bytes(data, 20, SEGQT_F32, s23, 2, SEGQT_CPU));
    cr_assert(strstr(segqt_last_error(), "does not match"), "%s", segqt_last_error());
    segqt_tensor *x = segqt_from_floats(data, s23, 2, SEGQT_CPU);
    cr_assert_null(segqt_interpolate(x, 4, 4, SEGQT_INTERP_BICUBIC, 0, 1));
    cr_assert(strstr(segqt_last_error(), "4-D"));
    int64_t s4[] = {1, 1, 2, 3};
    segqt_tensor *x4 = segqt_reshape(x, s4, 4);
    cr_assert_null(segqt_interpolate(x4, 4, 4, SEGQT_INTERP_NEAREST, 1, 0));
    cr_assert_null(segqt_interpolate(x4, 0, 4, SEGQT_INTERP_BILINEAR, 0, 0));
    cr_assert_null(segqt_pad(x, (int64_t[]){1, 2, 3}, 3, 0));
    cr_assert_eq(segqt_to_floats(x, data, 5), SEGQ_EINVAL);
    cr_assert_null(segqt_batch_norm(x4, NULL, NULL, NULL, NULL, 0, 0.1, 1e-5));
    cr_assert(strstr(segqt_last_error(), "running_mean"));
    cr_assert_eq(segqt_backward(x, 0, 0), SEGQ_EINVAL);
    cr_assert_null(segqt_grad(x));
    segqt_dtype dt;
    cr_assert_eq(segqt_dtype_from_name("F33", &dt), SEGQ_EINVAL);
    /* a non-contiguous view has no raw data */
    const void *p;
    size_t nb;
    cr_assert_eq(segqt_data(segqt_transpose(x, 0, 1), &p, &nb), SEGQ_EINVAL);
    cr_assert(strstr(segqt_last_error(), "segqt_cpu_contiguous"));
    segqt_scope_end();
}

Test(torch_errors, devices)
{
    segqt_device d;
    cr_assert_eq(segqt_device_parse("cpu", &d), 0);
    cr_assert_eq(d.type, SEGQT_DEVICE_CPU);
    cr_assert_eq(segqt_device_parse("cuda", &d), 0);
    cr_assert(d.type == SEGQT_DEVICE_CUDA && d.index == -1);
    cr_assert_eq(segqt_device_parse("cuda:3", &d), 0);
    cr_assert(d.type == SEGQT_DEVICE_CUDA && d.index == 3);
    char buf[16];
    cr_assert_eq(segqt_device_format(d, buf, sizeof buf), 6);
    cr_assert_str_eq(buf, "cuda:3");
    const char *bad[] = {"",        "CPU",      "cuda:", "cuda:x",    "cuda:1x",
                         "cuda:-1", "cuda:128", "gpu",   "cuda:99999"};
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        cr_assert_eq(segqt_device_parse(bad[i], &d), SEGQ_EINVAL, "'%s'", bad[i]);
        cr_assert(strstr(segqt_last_error(), "cpu, cuda or cuda:N"));
    }
    cr_assert_eq(segqt_device_check(SEGQT_CPU), 0);
    int n = segqt_cuda_device_count();
    cr_assert(n >= 0);
    segqt_device far = {SEGQT_DEVICE_CUDA, n};
    cr_assert_eq(segqt_device_check(far), SEGQ_ENODEV);
    cr_assert_str_eq(segq_strerror(SEGQ_ENODEV), "no such device");
    cr_assert(segqt_cpu_count() >= 1);
    cr_assert(strlen(segqt_version()) >= 3);
    segqt_cuda_info info;
    if (!segqt_has_cuda_build()) {
        cr_assert_eq(n, 0);
        cr_assert_eq(segqt_cuda_device_info(0, &info), SEGQ_ENODEV);
        cr_assert(strstr(segqt_last_error(), "CPU-only"), "%s", segqt_last_error());
        cr_assert_eq(segqt_cuda_set_memory_fraction(0.5, 0), SEGQ_ENODEV);
        segqt_scope_begin();
        cr_assert_null(
            segqt_zeros((int64_t[]){2}, 1, SEGQT_F32, (segqt_device){SEGQT_DEVICE_CUDA, 0}));
        cr_assert_eq(segqt_last_code(), SEGQ_ETORCH);
        segqt_scope_end();
    } else {
        for (int i = 0; i < n; i++) {
            cr_assert_eq(segqt_cuda_device_info(i, &info), 0, "%s", segqt_last_error());
            cr_assert(info.name[0] && info.total_bytes > 0 && info.free_bytes <= info.total_bytes);
        }
    }
    cr_assert_eq(segqt_cuda_set_memory_fraction(1.5, 0), SEGQ_EINVAL);
    cr_assert_eq(segqt_cuda_synchronize(-1), 0);
}

/* ---- scopes ---------------------------------------------------------- */

Test(torch_scope, no_scope_is_an_error)
{
    cr_assert_eq(segqt_scope_depth(), 0);
    cr_assert_null(segqt_zeros((int64_t[]){2}, 1, SEGQT_F32, SEGQT_CPU));
    cr_assert_eq(segqt_last_code(), SEGQ_EINTERNAL);
    cr_assert(strstr(segqt_last_error(), "segqt_scope_begin"));
    cr_assert_eq(segqt_scope_end(), SEGQ_EINTERNAL);
    cr_assert_eq(segqt_live_tensors(), 0);
}

Test(torch_scope, temporaries_die_with_their_scope)
{
    cr_assert_eq(segqt_live_tensors(), 0);
    cr_assert_eq(segqt_scope_begin(), 1);
    int64_t s[] = {3, 4};
    segqt_tensor *x = segqt_randn(s, 2, SEGQT_F32, SEGQT_CPU);
    for (int i = 0; i < 50; i++)
        x = segqt_tanh(segqt_add_scalar(x, 0.1));
    cr_assert_not_null(x);
    cr_assert_eq(segqt_live_tensors(), 101);
    cr_assert_eq(segqt_scope_end(), 0);
    cr_assert_eq(segqt_live_tensors(), 0);
    cr_assert_eq(segqt_scope_depth(), 0);
}

Test(torch_scope, keep_moves_to_parent_and_persist_outlives_all)
{
    int64_t s[] = {2, 2};
    cr_assert_eq(segqt_scope_begin(), 1);
    segqt_tensor *outer = segqt_ones(s, 2, SEGQT_F32, SEGQT_CPU);
    segqt_tensor *kept, *param;
    cr_assert_eq(segqt_scope_begin(), 2);
    {
        segqt_tensor *a = segqt_mul_scalar(outer, 3.0);
        segqt_tensor *b = segqt_add_scalar(a, 1.0);
        kept = segqt_keep(b);
        cr_assert_eq(kept, b);
        param = segqt_persist(segqt_zeros(s, 2, SEGQT_F32, SEGQT_CPU));
        cr_assert_eq(segqt_live_tensors(), 4);
    }
    cr_assert_eq(segqt_scope_end(), 0);
    /* a is gone; outer, kept, param live */
    cr_assert_eq(segqt_live_tensors(), 3);
    double v;
    cr_assert_eq(segqt_item(segqt_sum(kept), &v), 0);
    cr_assert_float_eq(v, 16.0, 1e-6);
    /* keep in the outermost scope has no parent */
    cr_assert_null(segqt_keep(kept));
    cr_assert_eq(segqt_last_code(), SEGQ_EINTERNAL);
    cr_assert_null(segqt_keep(param));
    cr_assert_eq(segqt_scope_end(), 0);
    cr_assert_eq(segqt_live_tensors(), 1);
    /* the persistent tensor is usable in a later scope */
    segqt_scope_begin();
    cr_assert_eq(segqt_item(segqt_sum(segqt_add_scalar(param, 0.5)), &v), 0);
    cr_assert_float_eq(v, 2.0, 1e-6);
    segqt_scope_end();
    cr_assert_eq(segqt_live_tensors(), 1);
    segqt_tensor_destroy(&param);
    cr_assert_null(param);
    segqt_tensor_destroy(&param); /* no-op */
    cr_assert_eq(segqt_live_tensors(), 0);
}

Test(torch_scope, early_destroy_unlinks_from_scope)
{
    segqt_scope_begin();
    segqt_tensor *t[5];
    for (int i = 0; i < 5; i++)
        t[i] = segqt_full((int64_t[]){1}, 1, i, SEGQT_F32, SEGQT_CPU);
    /* middle, head and tail of the scope's list */
    segqt_tensor_destroy(&t[2]);
    segqt_tensor_destroy(&t[4]);
    segqt_tensor_destroy(&t[0]);
    cr_assert_eq(segqt_live_tensors(), 2);
    double v;
    cr_assert_eq(segqt_item(t[3], &v), 0);
    cr_assert_float_eq(v, 3.0, 0);
    cr_assert_eq(segqt_scope_end(), 0);
    cr_assert_eq(segqt_live_tensors(), 0);
}

Test(torch_scope, autograd_state_outlives_scoped_handles)
{
    int64_t s[] = {3};
    segqt_scope_begin();
    segqt_tensor *w = segqt_persist(segqt_full(s, 1, 2.0, SEGQT_F32, SEGQT_CPU));
    segqt_scope_end();
    cr_assert_eq(segqt_set_requires_grad(w, 1), 0);
    for (int step = 0; step < 2; step++) {
        segqt_scope_begin();
        segqt_tensor *loss = segqt_sum(segqt_pow_scalar(w, 2.0)); /* d/dw = 2w */
        cr_assert_eq(segqt_backward(loss, 0, 0), 0, "%s", segqt_last_error());
        segqt_scope_end();
    }
    cr_assert_eq(segqt_live_tensors(), 1);
    segqt_scope_begin();
    float g[3];
    cr_assert_eq(segqt_to_floats(tt_ok(segqt_grad(w), "grad"), g, 3), 0);
    for (int i = 0; i < 3; i++)
        cr_assert_float_eq(g[i], 8.0f, 1e-6); /* accumulated twice */
    cr_assert_eq(segqt_zero_grad(w), 0);
    cr_assert_null(segqt_grad(w));
    segqt_scope_end();
    segqt_tensor_destroy(&w);
    cr_assert_eq(segqt_live_tensors(), 0);
}

struct thread_arg {
    segqt_tensor *main_tensor; /* in the main thread's scope */
    int ok;
};

static void *thread_body(void *arg)
{
    struct thread_arg *a = arg;
    /* the main thread's scope is not this thread's */
    a->ok = segqt_zeros((int64_t[]){1}, 1, SEGQT_F32, SEGQT_CPU) == NULL
            && segqt_last_code() == SEGQ_EINTERNAL && segqt_scope_depth() == 0
            && segqt_scope_begin() == 1
            && segqt_zeros((int64_t[]){4}, 1, SEGQT_F32, SEGQT_CPU) != NULL
            && segqt_persist(a->main_tensor) == NULL && segqt_last_code() == SEGQ_EINTERNAL &&
            /* reading another thread's tensor is fine */
            segqt_numel(segqt_alias(a->main_tensor)) == 1 && segqt_scope_end() == 0;
    return NULL;
}

Test(torch_scope, scopes_and_errors_are_per_thread)
{
    segqt_scope_begin();
    struct thread_arg a = {segqt_zeros((int64_t[]){1}, 1, SEGQT_F32, SEGQT_CPU), 0};
    cr_assert_not_null(a.main_tensor);
    cr_assert_null(segqt_relu(NULL)); /* error recorded on this thread */
    pthread_t th;
    cr_assert_eq(pthread_create(&th, NULL, thread_body, &a), 0);
    cr_assert_eq(pthread_join(th, NULL), 0);
    cr_assert(a.ok);
    cr_assert_eq(segqt_last_code(), SEGQ_EINVAL);
    cr_assert(strstr(segqt_last_error(), "segqt_relu"));
    segqt_scope_end();
    cr_assert_eq(segqt_live_tensors(), 0);
}

/* ---- basics ---------------------------------------------------------- */

Test(torch_basic, creation_queries_and_raw_bytes)
{
    segqt_scope_begin();
    float v[6] = {1, -2, 3, -4, 5, -6};
    int64_t s[] = {2, 3};
    segqt_tensor *x = tt_ok(segqt_from_floats(v, s, 2, SEGQT_CPU), "from_floats");
    cr_assert_eq(segqt_dim(x), 2);
    cr_assert_eq(segqt_size(x, -1), 3);
    cr_assert_eq(segqt_numel(x), 6);
    segqt_dtype dt;
    cr_assert_eq(segqt_dtype_of(x, &dt), 0);
    cr_assert_eq(dt, SEGQT_F32);
    segqt_device dev;
    cr_assert_eq(segqt_device_of(x, &dev), 0);
    cr_assert_eq(dev.type, SEGQT_DEVICE_CPU);
    char buf[64];
    segqt_describe(x, buf, sizeof buf);
    cr_assert_str_eq(buf, "float32[2, 3] cpu");
    const void *p;
    size_t nb;
    cr_assert_eq(segqt_data(x, &p, &nb), 0);
    cr_assert_eq(nb, sizeof v);
    cr_assert_eq(memcmp(p, v, nb), 0);
    /* bf16 round trip through raw bytes: the safetensors path */
    segqt_tensor *h = segqt_to_dtype(x, SEGQT_BF16);
    cr_assert_eq(segqt_data(h, &p, &nb), 0);
    cr_assert_eq(nb, 12);
    segqt_tensor *h2 = tt_ok(segqt_from_bytes(p, nb, SEGQT_BF16, s, 2, SEGQT_CPU), "from_bytes");
    float back[6];
    cr_assert_eq(segqt_to_floats(h2, back, 6), 0);
    cr_assert_eq(memcmp(back, v, sizeof v), 0); /* small integers are exact in bf16 */
    cr_assert_str_eq(segqt_dtype_name(SEGQT_BF16), "BF16");
    cr_assert_eq(segqt_dtype_size(SEGQT_BF16), 2);
    cr_assert_eq(segqt_dtype_from_name("I64", &dt), 0);
    cr_assert_eq(dt, SEGQT_I64);
    /* transpose is a view: raw data after segqt_cpu_contiguous */
    segqt_tensor *tc = segqt_cpu_contiguous(segqt_transpose(x, 0, 1));
    cr_assert_eq(segqt_data(tc, &p, &nb), 0);
    const float want_t[6] = {1, -4, -2, 5, 3, -6};
    cr_assert_eq(memcmp(p, want_t, sizeof want_t), 0);
    /* scalar, arange, full */
    double d;
    cr_assert_eq(segqt_item(segqt_scalar(2.5, SEGQT_F64, SEGQT_CPU), &d), 0);
    cr_assert_float_eq(d, 2.5, 0);
    segqt_tensor *ar = segqt_arange(0, 5, 1, SEGQT_F32, SEGQT_CPU);
    cr_assert_eq(segqt_item(segqt_sum(ar), &d), 0);
    cr_assert_float_eq(d, 10.0, 0);
    cr_assert_eq(segqt_item(segqt_mean(segqt_full(s, 2, 7, SEGQT_F32, SEGQT_CPU)), &d), 0);
    cr_assert_float_eq(d, 7.0, 0);
    cr_assert_eq(segqt_item(x, &d), SEGQ_ETORCH); /* 6 elements */
    segqt_scope_end();
}

Test(torch_basic, elementwise_and_shape_ops_known_values)
{
    segqt_scope_begin();
    float v[4] = {-2, -0.5, 0.5, 4};
    int64_t s[] = {4};
    segqt_tensor *x = segqt_from_floats(v, s, 1, SEGQT_CPU);
    struct {
        segqt_tensor *t;
        float want[4];
        const char *name;
    } cases[] = {
        {segqt_leaky_relu(x, 0.2), {-0.4f, -0.1f, 0.5f, 4}, "leaky_relu"},
        {segqt_relu(x), {0, 0, 0.5f, 4}, "relu"},
        {segqt_abs(x), {2, 0.5f, 0.5f, 4}, "abs"},
        {segqt_clamp(x, -1, INFINITY), {-1, -0.5f, 0.5f, 4}, "clamp_min"},
        {segqt_clamp(x, -INFINITY, 1), {-2, -0.5f, 0.5f, 1}, "clamp_max"},
        {segqt_compare_scalar(x, SEGQT_GT, 0.5), {0, 0, 0, 1}, "gt"},
        {segqt_compare_scalar(x, SEGQT_GE, 0.5), {0, 0, 1, 1}, "ge"},
        {segqt_rsub_scalar(x, 1), {3, 1.5f, 0.5f, -3}, "rsub"},
        {segqt_add_scaled(x, x, -2), {2, 0.5f, -0.5f, -4}, "add_scaled"},
        {segqt_div(x, segqt_pow_scalar(x, 2)), {-0.5f, -2, 2, 0.25f}, "div_pow"},
        {segqt_sqrt(segqt_abs(x)), {sqrtf(2), sqrtf(0.5f), sqrtf(0.5f), 2}, "sqrt"},
        {segqt_log(segqt_exp(x)), {-2, -0.5f, 0.5f, 4}, "log_exp"},
        {segqt_where(segqt_compare_scalar(x, SEGQT_LT, 0), segqt_neg(x), x),
         {2, 0.5f, 0.5f, 4},
         "where"},
        {segqt_maximum(x, segqt_zeros_like(x)), {0, 0, 0.5f, 4}, "maximum"},
        {segqt_flip(x, (int64_t[]){0}, 1), {4, 0.5f, -0.5f, -2}, "flip"},
        {segqt_narrow(segqt_cat((segqt_tensor *[]){x, x}, 2, 0), 0, 3, 4),
         {4, -2, -0.5f, 0.5f},
         "cat_narrow"},
        {segqt_slice(segqt_repeat(x, (int64_t[]){2}, 1), 0, 1, 100, 2),
         {-0.5f, 4, -0.5f, 4},
         "repeat_slice"},
        {segqt_sub(
             segqt_tanh(x),
             segqt_rsub_scalar(segqt_mul_scalar(segqt_sigmoid(segqt_mul_scalar(x, -2)), 2), 1)),
         {0, 0, 0, 0},
         "tanh_sigmoid_identity"},
    };
    for (size_t c = 0; c < sizeof cases / sizeof *cases; c++) {
        float got[4];
        tt_ok(cases[c].t, cases[c].name);
        cr_assert_eq(segqt_to_floats(cases[c].t, got, 4), 0);
        for (int i = 0; i < 4; i++)
            cr_assert_float_eq(got[i], cases[c].want[i], 1e-6, "%s[%d] = %g", cases[c].name, i,
                               got[i]);
    }
    /* reshape / permute / expand / stack / squeeze shapes */
    int64_t sh[4];
    segqt_tensor *m = segqt_reshape(x, (int64_t[]){2, 2}, 2);
    cr_assert_eq(segqt_shape(segqt_permute(segqt_unsqueeze(m, 0), (int64_t[]){2, 0, 1}, 3), sh, 4),
                 3);
    cr_assert(sh[0] == 2 && sh[1] == 1 && sh[2] == 2);
    cr_assert_eq(
        segqt_shape(segqt_expand(segqt_reshape(x, (int64_t[]){4, 1}, 2), (int64_t[]){-1, 3}, 2), sh,
                    4),
        2);
    cr_assert(sh[0] == 4 && sh[1] == 3);
    cr_assert_eq(segqt_shape(segqt_stack((segqt_tensor *[]){m, m, m}, 3, 0), sh, 4), 3);
    cr_assert(sh[0] == 3 && sh[1] == 2);
    cr_assert_eq(segqt_dim(segqt_squeeze(segqt_view(x, (int64_t[]){1, 4}, 2), 0)), 1);
    double d;
    cr_assert_eq(segqt_item(segqt_max(x), &d), 0);
    cr_assert_float_eq(d, 4, 0);
    cr_assert_eq(segqt_item(segqt_min(x), &d), 0);
    cr_assert_float_eq(d, -2, 0);
    segqt_scope_end();
}

Test(torch_basic, conv2d_known_values)
{
    segqt_scope_begin();
    /* ones(1,1,4,4) * 3x3 ones kernel, padding 1: corner 4, edge 6, inside 9 */
    segqt_tensor *x = segqt_ones((int64_t[]){1, 1, 4, 4}, 4, SEGQT_F32, SEGQT_CPU);
    segqt_tensor *w = segqt_ones((int64_t[]){1, 1, 3, 3}, 4, SEGQT_F32, SEGQT_CPU);
    segqt_tensor *b = segqt_full((int64_t[]){1}, 1, 0.5, SEGQT_F32, SEGQT_CPU);
    float got[16];
    cr_assert_eq(segqt_to_floats(tt_ok(segqt_conv2d(x, w, b, 1, 1, 1, 1), "conv"), got, 16), 0);
    const float want[16] = {4, 6, 6, 4, 6, 9, 9, 6, 6, 9, 9, 6, 4, 6, 6, 4};
    for (int i = 0; i < 16; i++)
        cr_assert_float_eq(got[i], want[i] + 0.5f, 1e-6);
    /* zero padding by 5, as SinGAN pads its inputs */
    segqt_tensor *p = segqt_pad(x, (int64_t[]){5, 5, 5, 5}, 4, 0);
    int64_t sh[4];
    segqt_shape(p, sh, 4);
    cr_assert(sh[2] == 14 && sh[3] == 14);
    double d;
    segqt_item(segqt_sum(p), &d);
    cr_assert_float_eq(d, 16, 0);
    segqt_scope_end();
}

Test(torch_basic, in_place_state_changes)
{
    segqt_scope_begin();
    segqt_tensor *w = segqt_persist(segqt_zeros((int64_t[]){1000}, 1, SEGQT_F32, SEGQT_CPU));
    segqt_set_requires_grad(w, 1);
    cr_assert_eq(segqt_normal_(w, 1.0, 0.02), 0, "%s", segqt_last_error());
    double m, sd;
    segqt_no_grad_begin();
    segqt_item(segqt_mean(w), &m);
    segqt_item(segqt_sqrt(segqt_mean(segqt_pow_scalar(segqt_add_scalar(w, -m), 2))), &sd);
    segqt_no_grad_end();
    cr_assert(fabs(m - 1.0) < 0.005 && fabs(sd - 0.02) < 0.004, "mean %g std %g", m, sd);
    cr_assert_eq(segqt_fill_(w, 3), 0);
    segqt_tensor *src = segqt_full((int64_t[]){1}, 1, 2, SEGQT_F32, SEGQT_CPU);
    cr_assert_eq(segqt_copy_(w, src), 0); /* broadcasts */
    segqt_item(segqt_sum(w), &m);
    cr_assert_float_eq(m, 2000, 0);
    cr_assert_eq(segqt_zero_(w), 0);
    cr_assert_eq(segqt_requires_grad(w), 1);
    cr_assert_eq(segqt_copy_(w, segqt_zeros((int64_t[]){3}, 1, SEGQT_F32, SEGQT_CPU)), SEGQ_ETORCH);
    segqt_scope_end();
    segqt_tensor_destroy(&w);
}

Test(torch_basic, no_grad_regions_nest)
{
    segqt_scope_begin();
    segqt_tensor *w = segqt_ones((int64_t[]){2}, 1, SEGQT_F32, SEGQT_CPU);
    segqt_set_requires_grad(w, 1);
    cr_assert_eq(segqt_grad_enabled(), 1);
    cr_assert_eq(segqt_no_grad_begin(), 0);
    cr_assert_eq(segqt_no_grad_begin(), 0);
    cr_assert_eq(segqt_requires_grad(segqt_mul_scalar(w, 2)), 0);
    cr_assert_eq(segqt_no_grad_end(), 0);
    cr_assert_eq(segqt_grad_enabled(), 0);
    cr_assert_eq(segqt_no_grad_end(), 0);
    cr_assert_eq(segqt_grad_enabled(), 1);
    cr_assert_eq(segqt_requires_grad(segqt_mul_scalar(w, 2)), 1);
    cr_assert_eq(segqt_no_grad_end(), SEGQ_EINTERNAL);
    segqt_tensor *d = segqt_detach(segqt_mul_scalar(w, 2));
    cr_assert_eq(segqt_requires_grad(d), 0);
    segqt_scope_end();
}

Test(torch_basic, autocast_bf16_cpu_region)
{
    segqt_scope_begin();
    segqt_tensor *x = segqt_randn((int64_t[]){1, 4, 9, 9}, 4, SEGQT_F32, SEGQT_CPU);
    segqt_tensor *w = segqt_randn((int64_t[]){8, 4, 3, 3}, 4, SEGQT_F32, SEGQT_CPU);
    segqt_tensor *ref = segqt_conv2d(x, w, NULL, 1, 0, 1, 1);
    cr_assert_eq(segqt_autocast_begin(SEGQT_DEVICE_CPU, SEGQT_BF16), 0, "%s", segqt_last_error());
    segqt_tensor *y = tt_ok(segqt_conv2d(x, w, NULL, 1, 0, 1, 1), "conv in autocast");
    cr_assert_eq(segqt_autocast_end(), 0);
    segqt_dtype dt;
    segqt_dtype_of(y, &dt);
    cr_assert_eq(dt, SEGQT_BF16);
    segqt_dtype_of(segqt_conv2d(x, w, NULL, 1, 0, 1, 1), &dt);
    cr_assert_eq(dt, SEGQT_F32); /* restored */
    /* bf16 keeps ~3 significant digits */
    tt_assert_close(segqt_to_dtype(y, SEGQT_F32), ref, 0.1, 0.02, "bf16 conv");
    cr_assert_eq(segqt_autocast_end(), SEGQ_EINTERNAL);
    cr_assert_eq(segqt_autocast_begin(SEGQT_DEVICE_CPU, SEGQT_F32), SEGQ_EINVAL);

    /* a SinGAN block in bf16: fp32 parameters and running statistics keep
     * their dtype, and the backward pass reaches them */
    segqt_set_requires_grad(w, 1);
    segqt_tensor *g = segqt_ones((int64_t[]){8}, 1, SEGQT_F32, SEGQT_CPU);
    segqt_tensor *rm = segqt_zeros((int64_t[]){8}, 1, SEGQT_F32, SEGQT_CPU);
    segqt_tensor *rv = segqt_ones((int64_t[]){8}, 1, SEGQT_F32, SEGQT_CPU);
    segqt_set_requires_grad(g, 1);
    cr_assert_eq(segqt_autocast_begin(SEGQT_DEVICE_CPU, SEGQT_BF16), 0);
    segqt_tensor *h =
        segqt_batch_norm(segqt_conv2d(x, w, NULL, 1, 0, 1, 1), g, NULL, rm, rv, 1, 0.1, 1e-5);
    segqt_tensor *l = segqt_mean(segqt_to_dtype(segqt_leaky_relu(h, 0.2), SEGQT_F32));
    cr_assert_eq(segqt_autocast_end(), 0);
    cr_assert_eq(segqt_backward(tt_ok(l, "bf16 block"), 0, 0), 0, "%s", segqt_last_error());
    segqt_dtype_of(segqt_grad(w), &dt);
    cr_assert_eq(dt, SEGQT_F32);
    segqt_dtype_of(rm, &dt);
    cr_assert_eq(dt, SEGQT_F32);
    double moved;
    segqt_item(segqt_sum(segqt_abs(rm)), &moved);
    cr_assert(moved > 0, "running mean updated");
    segqt_scope_end();
}

Test(torch_basic, seed_reproducibility_and_threads)
{
    int64_t s[] = {64};
    float a[64], b[64], c[64];
    segqt_scope_begin();
    cr_assert_eq(segqt_manual_seed(42), 0);
    segqt_to_floats(segqt_randn(s, 1, SEGQT_F32, SEGQT_CPU), a, 64);
    segqt_to_floats(segqt_randn(s, 1, SEGQT_F32, SEGQT_CPU), c, 64);
    cr_assert_eq(segqt_manual_seed(42), 0);
    segqt_to_floats(segqt_randn(s, 1, SEGQT_F32, SEGQT_CPU), b, 64);
    cr_assert_eq(memcmp(a, b, sizeof a), 0);
    cr_assert_neq(memcmp(a, c, sizeof a), 0);
    segqt_scope_end();
    cr_assert_eq(segqt_set_num_threads(2), 0);
    cr_assert_eq(segqt_get_num_threads(), 2);
    cr_assert_eq(segqt_set_num_threads(0), SEGQ_EINVAL);
    cr_assert_eq(segqt_set_num_interop_threads(1), 0, "%s", segqt_last_error());
}
