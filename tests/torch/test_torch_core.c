/* The torch shim's contract: error boundary, scope lifetime, queries,
 * creation, grad-mode/autocast regions, devices, seeding. */
#include <criterion/criterion.h>
#include <math.h>
#include <pthread.h>
#include <string.h>

#include "segq_torch.h"
#include "torch_test_util.h"

static void setup(void) {
    cr_assert_eq(segq_set_num_threads(1), 0);
    segq_torch_clear_error();
}

TestSuite(torch_errors, .init = setup, .timeout = 60);
TestSuite(torch_scope, .init = setup, .timeout = 60);
TestSuite(torch_basic, .init = setup, .timeout = 60);

/* ---- errors ---------------------------------------------------------- */

Test(torch_errors, conv_shape_mismatch_returns_null_with_libtorch_message) {
    cr_assert_eq(segq_scope_begin(), 1);
    int64_t xs[] = {1, 3, 8, 8}, ws[] = {4, 5, 3, 3}; /* 3 input channels vs 5 */
    segq_tensor *x = tt_ok(segq_ones(xs, 4, SEGQ_F32, SEGQ_CPU), "x");
    segq_tensor *w = tt_ok(segq_ones(ws, 4, SEGQ_F32, SEGQ_CPU), "w");
    segq_tensor *y = segq_conv2d(x, w, NULL, 1, 0, 1, 1);
    cr_assert_null(y);
    cr_assert_eq(segq_torch_last_code(), SEGQ_TORCH_ETORCH);
    const char *msg = segq_torch_last_error();
    cr_assert(strncmp(msg, "segq_conv2d: ", 13) == 0, "message: %s", msg);
    /* libtorch's own words about the channel mismatch */
    cr_assert(strstr(msg, "expected input") && strstr(msg, "channels"), "message: %s", msg);
    cr_assert_null(strstr(msg, "Exception raised from"), "backtrace leaked: %s", msg);
    cr_assert_eq(segq_scope_end(), 0);
}

Test(torch_errors, null_propagates_and_keeps_first_error) {
    segq_scope_begin();
    int64_t xs[] = {2, 3}, ys[] = {4, 5};
    segq_tensor *x = segq_ones(xs, 2, SEGQ_F32, SEGQ_CPU);
    segq_tensor *y = segq_ones(ys, 2, SEGQ_F32, SEGQ_CPU);
    /* matmul fails; the chain after it sees NULL and keeps matmul's message */
    segq_tensor *z = segq_sum(segq_tanh(segq_mul_scalar(segq_matmul(x, y), 2.0)));
    cr_assert_null(z);
    cr_assert(strncmp(segq_torch_last_error(), "segq_matmul: ", 13) == 0, "%s",
              segq_torch_last_error());
    double v;
    cr_assert_eq(segq_item(z, &v), SEGQ_TORCH_EINVAL);
    cr_assert(strncmp(segq_torch_last_error(), "segq_matmul: ", 13) == 0);
    /* a new real failure replaces it */
    cr_assert_null(segq_reshape(x, (int64_t[]){7}, 1));
    cr_assert(strncmp(segq_torch_last_error(), "segq_reshape: ", 14) == 0, "%s",
              segq_torch_last_error());
    segq_torch_clear_error();
    cr_assert_eq(segq_torch_last_code(), 0);
    cr_assert_str_eq(segq_torch_last_error(), "");
    /* NULL with nothing recorded says so */
    cr_assert_null(segq_relu(NULL));
    cr_assert_eq(segq_torch_last_code(), SEGQ_TORCH_EINVAL);
    cr_assert(strstr(segq_torch_last_error(), "NULL"), "%s", segq_torch_last_error());
    segq_scope_end();
}

Test(torch_errors, bad_arguments_are_clear_errors) {
    segq_scope_begin();
    int64_t neg[] = {2, -3};
    cr_assert_null(segq_zeros(neg, 2, SEGQ_F32, SEGQ_CPU));
    cr_assert(strstr(segq_torch_last_error(), "negative size"));
    cr_assert_null(segq_zeros(neg, -1, SEGQ_F32, SEGQ_CPU));
    cr_assert_null(segq_zeros(neg, 2, (segq_dtype)99, SEGQ_CPU));
    cr_assert(strstr(segq_torch_last_error(), "unknown segq_dtype"));
    float data[6] = {0};
    int64_t s23[] = {2, 3};
    cr_assert_null(segq_from_bytes(data, 20, SEGQ_F32, s23, 2, SEGQ_CPU));
    cr_assert(strstr(segq_torch_last_error(), "does not match"), "%s",
              segq_torch_last_error());
    segq_tensor *x = segq_from_floats(data, s23, 2, SEGQ_CPU);
    cr_assert_null(segq_interpolate(x, 4, 4, SEGQ_INTERP_BICUBIC, 0, 1));
    cr_assert(strstr(segq_torch_last_error(), "4-D"));
    int64_t s4[] = {1, 1, 2, 3};
    segq_tensor *x4 = segq_reshape(x, s4, 4);
    cr_assert_null(segq_interpolate(x4, 4, 4, SEGQ_INTERP_NEAREST, 1, 0));
    cr_assert_null(segq_interpolate(x4, 0, 4, SEGQ_INTERP_BILINEAR, 0, 0));
    cr_assert_null(segq_pad(x, (int64_t[]){1, 2, 3}, 3, 0));
    cr_assert_eq(segq_to_floats(x, data, 5), SEGQ_TORCH_EINVAL);
    cr_assert_null(segq_batch_norm(x4, NULL, NULL, NULL, NULL, 0, 0.1, 1e-5));
    cr_assert(strstr(segq_torch_last_error(), "running_mean"));
    cr_assert_eq(segq_backward(x, 0, 0), SEGQ_TORCH_EINVAL);
    cr_assert_null(segq_grad(x));
    segq_dtype dt;
    cr_assert_eq(segq_dtype_from_name("F33", &dt), SEGQ_TORCH_EINVAL);
    /* a non-contiguous view has no raw data */
    const void *p;
    size_t nb;
    cr_assert_eq(segq_data(segq_transpose(x, 0, 1), &p, &nb), SEGQ_TORCH_EINVAL);
    cr_assert(strstr(segq_torch_last_error(), "segq_cpu_contiguous"));
    segq_scope_end();
}

Test(torch_errors, devices) {
    segq_device d;
    cr_assert_eq(segq_device_parse("cpu", &d), 0);
    cr_assert_eq(d.type, SEGQ_DEVICE_CPU);
    cr_assert_eq(segq_device_parse("cuda", &d), 0);
    cr_assert(d.type == SEGQ_DEVICE_CUDA && d.index == -1);
    cr_assert_eq(segq_device_parse("cuda:3", &d), 0);
    cr_assert(d.type == SEGQ_DEVICE_CUDA && d.index == 3);
    char buf[16];
    cr_assert_eq(segq_device_format(d, buf, sizeof buf), 6);
    cr_assert_str_eq(buf, "cuda:3");
    const char *bad[] = {"", "CPU", "cuda:", "cuda:x", "cuda:1x", "cuda:-1", "cuda:128",
                         "gpu", "cuda:99999"};
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        cr_assert_eq(segq_device_parse(bad[i], &d), SEGQ_TORCH_EINVAL, "'%s'", bad[i]);
        cr_assert(strstr(segq_torch_last_error(), "cpu, cuda or cuda:N"));
    }
    cr_assert_eq(segq_device_check(SEGQ_CPU), 0);
    int n = segq_cuda_device_count();
    cr_assert(n >= 0);
    segq_device far = {SEGQ_DEVICE_CUDA, n};
    cr_assert_eq(segq_device_check(far), SEGQ_TORCH_ENODEV);
    cr_assert(segq_cpu_count() >= 1);
    cr_assert(strlen(segq_torch_version()) >= 3);
    segq_cuda_info info;
    if (!segq_torch_has_cuda_build()) {
        cr_assert_eq(n, 0);
        cr_assert_eq(segq_cuda_device_info(0, &info), SEGQ_TORCH_ENODEV);
        cr_assert(strstr(segq_torch_last_error(), "CPU-only"), "%s",
                  segq_torch_last_error());
        cr_assert_eq(segq_cuda_set_memory_fraction(0.5, 0), SEGQ_TORCH_ENODEV);
        segq_scope_begin();
        cr_assert_null(segq_zeros((int64_t[]){2}, 1, SEGQ_F32,
                                  (segq_device){SEGQ_DEVICE_CUDA, 0}));
        cr_assert_eq(segq_torch_last_code(), SEGQ_TORCH_ETORCH);
        segq_scope_end();
    } else {
        for (int i = 0; i < n; i++) {
            cr_assert_eq(segq_cuda_device_info(i, &info), 0, "%s", segq_torch_last_error());
            cr_assert(info.name[0] && info.total_bytes > 0 &&
                      info.free_bytes <= info.total_bytes);
        }
    }
    cr_assert_eq(segq_cuda_set_memory_fraction(1.5, 0), SEGQ_TORCH_EINVAL);
    cr_assert_eq(segq_cuda_synchronize(-1), 0);
}

/* ---- scopes ---------------------------------------------------------- */

Test(torch_scope, no_scope_is_an_error) {
    cr_assert_eq(segq_scope_depth(), 0);
    cr_assert_null(segq_zeros((int64_t[]){2}, 1, SEGQ_F32, SEGQ_CPU));
    cr_assert_eq(segq_torch_last_code(), SEGQ_TORCH_ESCOPE);
    cr_assert(strstr(segq_torch_last_error(), "segq_scope_begin"));
    cr_assert_eq(segq_scope_end(), SEGQ_TORCH_ESCOPE);
    cr_assert_eq(segq_torch_live_tensors(), 0);
}

Test(torch_scope, temporaries_die_with_their_scope) {
    cr_assert_eq(segq_torch_live_tensors(), 0);
    cr_assert_eq(segq_scope_begin(), 1);
    int64_t s[] = {3, 4};
    segq_tensor *x = segq_randn(s, 2, SEGQ_F32, SEGQ_CPU);
    for (int i = 0; i < 50; i++)
        x = segq_tanh(segq_add_scalar(x, 0.1));
    cr_assert_not_null(x);
    cr_assert_eq(segq_torch_live_tensors(), 101);
    cr_assert_eq(segq_scope_end(), 0);
    cr_assert_eq(segq_torch_live_tensors(), 0);
    cr_assert_eq(segq_scope_depth(), 0);
}

Test(torch_scope, keep_moves_to_parent_and_persist_outlives_all) {
    int64_t s[] = {2, 2};
    cr_assert_eq(segq_scope_begin(), 1);
    segq_tensor *outer = segq_ones(s, 2, SEGQ_F32, SEGQ_CPU);
    segq_tensor *kept, *param;
    cr_assert_eq(segq_scope_begin(), 2);
    {
        segq_tensor *a = segq_mul_scalar(outer, 3.0);
        segq_tensor *b = segq_add_scalar(a, 1.0);
        kept = segq_keep(b);
        cr_assert_eq(kept, b);
        param = segq_persist(segq_zeros(s, 2, SEGQ_F32, SEGQ_CPU));
        cr_assert_eq(segq_torch_live_tensors(), 4);
    }
    cr_assert_eq(segq_scope_end(), 0);
    /* a is gone; outer, kept, param live */
    cr_assert_eq(segq_torch_live_tensors(), 3);
    double v;
    cr_assert_eq(segq_item(segq_sum(kept), &v), 0);
    cr_assert_float_eq(v, 16.0, 1e-6);
    /* keep in the outermost scope has no parent */
    cr_assert_null(segq_keep(kept));
    cr_assert_eq(segq_torch_last_code(), SEGQ_TORCH_ESCOPE);
    cr_assert_null(segq_keep(param));
    cr_assert_eq(segq_scope_end(), 0);
    cr_assert_eq(segq_torch_live_tensors(), 1);
    /* the persistent tensor is usable in a later scope */
    segq_scope_begin();
    cr_assert_eq(segq_item(segq_sum(segq_add_scalar(param, 0.5)), &v), 0);
    cr_assert_float_eq(v, 2.0, 1e-6);
    segq_scope_end();
    cr_assert_eq(segq_torch_live_tensors(), 1);
    segq_tensor_destroy(&param);
    cr_assert_null(param);
    segq_tensor_destroy(&param); /* no-op */
    cr_assert_eq(segq_torch_live_tensors(), 0);
}

Test(torch_scope, early_destroy_unlinks_from_scope) {
    segq_scope_begin();
    segq_tensor *t[5];
    for (int i = 0; i < 5; i++)
        t[i] = segq_full((int64_t[]){1}, 1, i, SEGQ_F32, SEGQ_CPU);
    /* middle, head and tail of the scope's list */
    segq_tensor_destroy(&t[2]);
    segq_tensor_destroy(&t[4]);
    segq_tensor_destroy(&t[0]);
    cr_assert_eq(segq_torch_live_tensors(), 2);
    double v;
    cr_assert_eq(segq_item(t[3], &v), 0);
    cr_assert_float_eq(v, 3.0, 0);
    cr_assert_eq(segq_scope_end(), 0);
    cr_assert_eq(segq_torch_live_tensors(), 0);
}

Test(torch_scope, autograd_state_outlives_scoped_handles) {
    int64_t s[] = {3};
    segq_scope_begin();
    segq_tensor *w = segq_persist(segq_full(s, 1, 2.0, SEGQ_F32, SEGQ_CPU));
    segq_scope_end();
    cr_assert_eq(segq_set_requires_grad(w, 1), 0);
    for (int step = 0; step < 2; step++) {
        segq_scope_begin();
        segq_tensor *loss = segq_sum(segq_pow_scalar(w, 2.0)); /* d/dw = 2w */
        cr_assert_eq(segq_backward(loss, 0, 0), 0, "%s", segq_torch_last_error());
        segq_scope_end();
    }
    cr_assert_eq(segq_torch_live_tensors(), 1);
    segq_scope_begin();
    float g[3];
    cr_assert_eq(segq_to_floats(tt_ok(segq_grad(w), "grad"), g, 3), 0);
    for (int i = 0; i < 3; i++)
        cr_assert_float_eq(g[i], 8.0f, 1e-6); /* accumulated twice */
    cr_assert_eq(segq_zero_grad(w), 0);
    cr_assert_null(segq_grad(w));
    segq_scope_end();
    segq_tensor_destroy(&w);
    cr_assert_eq(segq_torch_live_tensors(), 0);
}

struct thread_arg {
    segq_tensor *main_tensor; /* in the main thread's scope */
    int ok;
};

static void *thread_body(void *arg) {
    struct thread_arg *a = arg;
    /* the main thread's scope is not this thread's */
    a->ok = segq_zeros((int64_t[]){1}, 1, SEGQ_F32, SEGQ_CPU) == NULL &&
            segq_torch_last_code() == SEGQ_TORCH_ESCOPE && segq_scope_depth() == 0 &&
            segq_scope_begin() == 1 &&
            segq_zeros((int64_t[]){4}, 1, SEGQ_F32, SEGQ_CPU) != NULL &&
            segq_persist(a->main_tensor) == NULL &&
            segq_torch_last_code() == SEGQ_TORCH_ESCOPE &&
            /* reading another thread's tensor is fine */
            segq_numel(segq_alias(a->main_tensor)) == 1 && segq_scope_end() == 0;
    return NULL;
}

Test(torch_scope, scopes_and_errors_are_per_thread) {
    segq_scope_begin();
    struct thread_arg a = {segq_zeros((int64_t[]){1}, 1, SEGQ_F32, SEGQ_CPU), 0};
    cr_assert_not_null(a.main_tensor);
    cr_assert_null(segq_relu(NULL)); /* error recorded on this thread */
    pthread_t th;
    cr_assert_eq(pthread_create(&th, NULL, thread_body, &a), 0);
    cr_assert_eq(pthread_join(th, NULL), 0);
    cr_assert(a.ok);
    cr_assert_eq(segq_torch_last_code(), SEGQ_TORCH_EINVAL);
    cr_assert(strstr(segq_torch_last_error(), "segq_relu"));
    segq_scope_end();
    cr_assert_eq(segq_torch_live_tensors(), 0);
}

/* ---- basics ---------------------------------------------------------- */

Test(torch_basic, creation_queries_and_raw_bytes) {
    segq_scope_begin();
    float v[6] = {1, -2, 3, -4, 5, -6};
    int64_t s[] = {2, 3};
    segq_tensor *x = tt_ok(segq_from_floats(v, s, 2, SEGQ_CPU), "from_floats");
    cr_assert_eq(segq_dim(x), 2);
    cr_assert_eq(segq_size(x, -1), 3);
    cr_assert_eq(segq_numel(x), 6);
    segq_dtype dt;
    cr_assert_eq(segq_dtype_of(x, &dt), 0);
    cr_assert_eq(dt, SEGQ_F32);
    segq_device dev;
    cr_assert_eq(segq_device_of(x, &dev), 0);
    cr_assert_eq(dev.type, SEGQ_DEVICE_CPU);
    char buf[64];
    segq_describe(x, buf, sizeof buf);
    cr_assert_str_eq(buf, "float32[2, 3] cpu");
    const void *p;
    size_t nb;
    cr_assert_eq(segq_data(x, &p, &nb), 0);
    cr_assert_eq(nb, sizeof v);
    cr_assert_eq(memcmp(p, v, nb), 0);
    /* bf16 round trip through raw bytes: the safetensors path */
    segq_tensor *h = segq_to_dtype(x, SEGQ_BF16);
    cr_assert_eq(segq_data(h, &p, &nb), 0);
    cr_assert_eq(nb, 12);
    segq_tensor *h2 = tt_ok(segq_from_bytes(p, nb, SEGQ_BF16, s, 2, SEGQ_CPU), "from_bytes");
    float back[6];
    cr_assert_eq(segq_to_floats(h2, back, 6), 0);
    cr_assert_eq(memcmp(back, v, sizeof v), 0); /* small integers are exact in bf16 */
    cr_assert_str_eq(segq_dtype_name(SEGQ_BF16), "BF16");
    cr_assert_eq(segq_dtype_size(SEGQ_BF16), 2);
    cr_assert_eq(segq_dtype_from_name("I64", &dt), 0);
    cr_assert_eq(dt, SEGQ_I64);
    /* transpose is a view: raw data after segq_cpu_contiguous */
    segq_tensor *tc = segq_cpu_contiguous(segq_transpose(x, 0, 1));
    cr_assert_eq(segq_data(tc, &p, &nb), 0);
    const float want_t[6] = {1, -4, -2, 5, 3, -6};
    cr_assert_eq(memcmp(p, want_t, sizeof want_t), 0);
    /* scalar, arange, full */
    double d;
    cr_assert_eq(segq_item(segq_scalar(2.5, SEGQ_F64, SEGQ_CPU), &d), 0);
    cr_assert_float_eq(d, 2.5, 0);
    segq_tensor *ar = segq_arange(0, 5, 1, SEGQ_F32, SEGQ_CPU);
    cr_assert_eq(segq_item(segq_sum(ar), &d), 0);
    cr_assert_float_eq(d, 10.0, 0);
    cr_assert_eq(segq_item(segq_mean(segq_full(s, 2, 7, SEGQ_F32, SEGQ_CPU)), &d), 0);
    cr_assert_float_eq(d, 7.0, 0);
    cr_assert_eq(segq_item(x, &d), SEGQ_TORCH_ETORCH); /* 6 elements */
    segq_scope_end();
}

Test(torch_basic, elementwise_and_shape_ops_known_values) {
    segq_scope_begin();
    float v[4] = {-2, -0.5, 0.5, 4};
    int64_t s[] = {4};
    segq_tensor *x = segq_from_floats(v, s, 1, SEGQ_CPU);
    struct {
        segq_tensor *t;
        float want[4];
        const char *name;
    } cases[] = {
        {segq_leaky_relu(x, 0.2), {-0.4f, -0.1f, 0.5f, 4}, "leaky_relu"},
        {segq_relu(x), {0, 0, 0.5f, 4}, "relu"},
        {segq_abs(x), {2, 0.5f, 0.5f, 4}, "abs"},
        {segq_clamp(x, -1, INFINITY), {-1, -0.5f, 0.5f, 4}, "clamp_min"},
        {segq_clamp(x, -INFINITY, 1), {-2, -0.5f, 0.5f, 1}, "clamp_max"},
        {segq_compare_scalar(x, SEGQ_GT, 0.5), {0, 0, 0, 1}, "gt"},
        {segq_compare_scalar(x, SEGQ_GE, 0.5), {0, 0, 1, 1}, "ge"},
        {segq_rsub_scalar(x, 1), {3, 1.5f, 0.5f, -3}, "rsub"},
        {segq_add_scaled(x, x, -2), {2, 0.5f, -0.5f, -4}, "add_scaled"},
        {segq_div(x, segq_pow_scalar(x, 2)), {-0.5f, -2, 2, 0.25f}, "div_pow"},
        {segq_sqrt(segq_abs(x)), {sqrtf(2), sqrtf(0.5f), sqrtf(0.5f), 2}, "sqrt"},
        {segq_log(segq_exp(x)), {-2, -0.5f, 0.5f, 4}, "log_exp"},
        {segq_where(segq_compare_scalar(x, SEGQ_LT, 0), segq_neg(x), x),
         {2, 0.5f, 0.5f, 4}, "where"},
        {segq_maximum(x, segq_zeros_like(x)), {0, 0, 0.5f, 4}, "maximum"},
        {segq_flip(x, (int64_t[]){0}, 1), {4, 0.5f, -0.5f, -2}, "flip"},
        {segq_narrow(segq_cat((segq_tensor *[]){x, x}, 2, 0), 0, 3, 4),
         {4, -2, -0.5f, 0.5f}, "cat_narrow"},
        {segq_slice(segq_repeat(x, (int64_t[]){2}, 1), 0, 1, 100, 2),
         {-0.5f, 4, -0.5f, 4}, "repeat_slice"},
        {segq_sub(segq_tanh(x), segq_rsub_scalar(segq_mul_scalar(segq_sigmoid(
                                                  segq_mul_scalar(x, -2)), 2), 1)),
         {0, 0, 0, 0}, "tanh_sigmoid_identity"},
    };
    for (size_t c = 0; c < sizeof cases / sizeof *cases; c++) {
        float got[4];
        tt_ok(cases[c].t, cases[c].name);
        cr_assert_eq(segq_to_floats(cases[c].t, got, 4), 0);
        for (int i = 0; i < 4; i++)
            cr_assert_float_eq(got[i], cases[c].want[i], 1e-6, "%s[%d] = %g", cases[c].name,
                               i, got[i]);
    }
    /* reshape / permute / expand / stack / squeeze shapes */
    int64_t sh[4];
    segq_tensor *m = segq_reshape(x, (int64_t[]){2, 2}, 2);
    cr_assert_eq(segq_shape(segq_permute(segq_unsqueeze(m, 0), (int64_t[]){2, 0, 1}, 3),
                            sh, 4), 3);
    cr_assert(sh[0] == 2 && sh[1] == 1 && sh[2] == 2);
    cr_assert_eq(segq_shape(segq_expand(segq_reshape(x, (int64_t[]){4, 1}, 2),
                                        (int64_t[]){-1, 3}, 2), sh, 4), 2);
    cr_assert(sh[0] == 4 && sh[1] == 3);
    cr_assert_eq(segq_shape(segq_stack((segq_tensor *[]){m, m, m}, 3, 0), sh, 4), 3);
    cr_assert(sh[0] == 3 && sh[1] == 2);
    cr_assert_eq(segq_dim(segq_squeeze(segq_view(x, (int64_t[]){1, 4}, 2), 0)), 1);
    double d;
    cr_assert_eq(segq_item(segq_max(x), &d), 0);
    cr_assert_float_eq(d, 4, 0);
    cr_assert_eq(segq_item(segq_min(x), &d), 0);
    cr_assert_float_eq(d, -2, 0);
    segq_scope_end();
}

Test(torch_basic, conv2d_known_values) {
    segq_scope_begin();
    /* ones(1,1,4,4) * 3x3 ones kernel, padding 1: corner 4, edge 6, inside 9 */
    segq_tensor *x = segq_ones((int64_t[]){1, 1, 4, 4}, 4, SEGQ_F32, SEGQ_CPU);
    segq_tensor *w = segq_ones((int64_t[]){1, 1, 3, 3}, 4, SEGQ_F32, SEGQ_CPU);
    segq_tensor *b = segq_full((int64_t[]){1}, 1, 0.5, SEGQ_F32, SEGQ_CPU);
    float got[16];
    cr_assert_eq(segq_to_floats(tt_ok(segq_conv2d(x, w, b, 1, 1, 1, 1), "conv"), got, 16), 0);
    const float want[16] = {4, 6, 6, 4, 6, 9, 9, 6, 6, 9, 9, 6, 4, 6, 6, 4};
    for (int i = 0; i < 16; i++)
        cr_assert_float_eq(got[i], want[i] + 0.5f, 1e-6);
    /* zero padding by 5, as SinGAN pads its inputs */
    segq_tensor *p = segq_pad(x, (int64_t[]){5, 5, 5, 5}, 4, 0);
    int64_t sh[4];
    segq_shape(p, sh, 4);
    cr_assert(sh[2] == 14 && sh[3] == 14);
    double d;
    segq_item(segq_sum(p), &d);
    cr_assert_float_eq(d, 16, 0);
    segq_scope_end();
}

Test(torch_basic, in_place_state_changes) {
    segq_scope_begin();
    segq_tensor *w = segq_persist(segq_zeros((int64_t[]){1000}, 1, SEGQ_F32, SEGQ_CPU));
    segq_set_requires_grad(w, 1);
    cr_assert_eq(segq_normal_(w, 1.0, 0.02), 0, "%s", segq_torch_last_error());
    double m, sd;
    segq_no_grad_begin();
    segq_item(segq_mean(w), &m);
    segq_item(segq_sqrt(segq_mean(segq_pow_scalar(segq_add_scalar(w, -m), 2))), &sd);
    segq_no_grad_end();
    cr_assert(fabs(m - 1.0) < 0.005 && fabs(sd - 0.02) < 0.004, "mean %g std %g", m, sd);
    cr_assert_eq(segq_fill_(w, 3), 0);
    segq_tensor *src = segq_full((int64_t[]){1}, 1, 2, SEGQ_F32, SEGQ_CPU);
    cr_assert_eq(segq_copy_(w, src), 0); /* broadcasts */
    segq_item(segq_sum(w), &m);
    cr_assert_float_eq(m, 2000, 0);
    cr_assert_eq(segq_zero_(w), 0);
    cr_assert_eq(segq_requires_grad(w), 1);
    cr_assert_eq(segq_copy_(w, segq_zeros((int64_t[]){3}, 1, SEGQ_F32, SEGQ_CPU)),
                 SEGQ_TORCH_ETORCH);
    segq_scope_end();
    segq_tensor_destroy(&w);
}

Test(torch_basic, no_grad_regions_nest) {
    segq_scope_begin();
    segq_tensor *w = segq_ones((int64_t[]){2}, 1, SEGQ_F32, SEGQ_CPU);
    segq_set_requires_grad(w, 1);
    cr_assert_eq(segq_grad_enabled(), 1);
    cr_assert_eq(segq_no_grad_begin(), 0);
    cr_assert_eq(segq_no_grad_begin(), 0);
    cr_assert_eq(segq_requires_grad(segq_mul_scalar(w, 2)), 0);
    cr_assert_eq(segq_no_grad_end(), 0);
    cr_assert_eq(segq_grad_enabled(), 0);
    cr_assert_eq(segq_no_grad_end(), 0);
    cr_assert_eq(segq_grad_enabled(), 1);
    cr_assert_eq(segq_requires_grad(segq_mul_scalar(w, 2)), 1);
    cr_assert_eq(segq_no_grad_end(), SEGQ_TORCH_ESCOPE);
    segq_tensor *d = segq_detach(segq_mul_scalar(w, 2));
    cr_assert_eq(segq_requires_grad(d), 0);
    segq_scope_end();
}

Test(torch_basic, autocast_bf16_cpu_region) {
    segq_scope_begin();
    segq_tensor *x = segq_randn((int64_t[]){1, 4, 9, 9}, 4, SEGQ_F32, SEGQ_CPU);
    segq_tensor *w = segq_randn((int64_t[]){8, 4, 3, 3}, 4, SEGQ_F32, SEGQ_CPU);
    segq_tensor *ref = segq_conv2d(x, w, NULL, 1, 0, 1, 1);
    cr_assert_eq(segq_autocast_begin(SEGQ_DEVICE_CPU, SEGQ_BF16), 0, "%s",
                 segq_torch_last_error());
    segq_tensor *y = tt_ok(segq_conv2d(x, w, NULL, 1, 0, 1, 1), "conv in autocast");
    cr_assert_eq(segq_autocast_end(), 0);
    segq_dtype dt;
    segq_dtype_of(y, &dt);
    cr_assert_eq(dt, SEGQ_BF16);
    segq_dtype_of(segq_conv2d(x, w, NULL, 1, 0, 1, 1), &dt);
    cr_assert_eq(dt, SEGQ_F32); /* restored */
    /* bf16 keeps ~3 significant digits */
    tt_assert_close(segq_to_dtype(y, SEGQ_F32), ref, 0.1, 0.02, "bf16 conv");
    cr_assert_eq(segq_autocast_end(), SEGQ_TORCH_ESCOPE);
    cr_assert_eq(segq_autocast_begin(SEGQ_DEVICE_CPU, SEGQ_F32), SEGQ_TORCH_EINVAL);

    /* a SinGAN block in bf16: fp32 parameters and running statistics keep
     * their dtype, and the backward pass reaches them */
    segq_set_requires_grad(w, 1);
    segq_tensor *g = segq_ones((int64_t[]){8}, 1, SEGQ_F32, SEGQ_CPU);
    segq_tensor *rm = segq_zeros((int64_t[]){8}, 1, SEGQ_F32, SEGQ_CPU);
    segq_tensor *rv = segq_ones((int64_t[]){8}, 1, SEGQ_F32, SEGQ_CPU);
    segq_set_requires_grad(g, 1);
    cr_assert_eq(segq_autocast_begin(SEGQ_DEVICE_CPU, SEGQ_BF16), 0);
    segq_tensor *h = segq_batch_norm(segq_conv2d(x, w, NULL, 1, 0, 1, 1), g, NULL, rm, rv, 1,
                                     0.1, 1e-5);
    segq_tensor *l = segq_mean(segq_to_dtype(segq_leaky_relu(h, 0.2), SEGQ_F32));
    cr_assert_eq(segq_autocast_end(), 0);
    cr_assert_eq(segq_backward(tt_ok(l, "bf16 block"), 0, 0), 0, "%s",
                 segq_torch_last_error());
    segq_dtype_of(segq_grad(w), &dt);
    cr_assert_eq(dt, SEGQ_F32);
    segq_dtype_of(rm, &dt);
    cr_assert_eq(dt, SEGQ_F32);
    double moved;
    segq_item(segq_sum(segq_abs(rm)), &moved);
    cr_assert(moved > 0, "running mean updated");
    segq_scope_end();
}

Test(torch_basic, seed_reproducibility_and_threads) {
    int64_t s[] = {64};
    float a[64], b[64], c[64];
    segq_scope_begin();
    cr_assert_eq(segq_manual_seed(42), 0);
    segq_to_floats(segq_randn(s, 1, SEGQ_F32, SEGQ_CPU), a, 64);
    segq_to_floats(segq_randn(s, 1, SEGQ_F32, SEGQ_CPU), c, 64);
    cr_assert_eq(segq_manual_seed(42), 0);
    segq_to_floats(segq_randn(s, 1, SEGQ_F32, SEGQ_CPU), b, 64);
    cr_assert_eq(memcmp(a, b, sizeof a), 0);
    cr_assert_neq(memcmp(a, c, sizeof a), 0);
    segq_scope_end();
    cr_assert_eq(segq_set_num_threads(2), 0);
    cr_assert_eq(segq_get_num_threads(), 2);
    cr_assert_eq(segq_set_num_threads(0), SEGQ_TORCH_EINVAL);
    cr_assert_eq(segq_set_num_interop_threads(1), 0, "%s", segq_torch_last_error());
}
