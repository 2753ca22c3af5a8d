/* GPU check of the torch shim (built by tests/torch/gpu/CMakeLists.txt
 * against a CUDA libtorch): devices, the WGAN-GP step and interpolation on
 * CUDA against the same on the CPU, Adam, autocast, scopes, and a timing
 * of SinGAN's finest-scale convolution. Exits 1 on any failure. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "segq_torch.h"

static int failures;

#define CHECK(cond, ...)                                                              \
    do {                                                                              \
        if (!(cond)) {                                                                \
            failures++;                                                               \
            printf("FAIL %s:%d: ", __FILE__, __LINE__);                               \
            printf(__VA_ARGS__);                                                      \
            printf(" [last error: %s]\n", segq_torch_last_error());                 \
        }                                                                             \
    } while (0)

static double now(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec + ts.tv_nsec * 1e-9;
}

/* Largest |a - b| / (1 + |b|) over all elements (a on any device). */
static double max_rel_diff(segq_tensor *a, segq_tensor *b) {
    double v = INFINITY;
    segq_tensor *d = segq_max(segq_div(segq_abs(segq_sub(segq_to_device(a, SEGQ_CPU), b)),
                                       segq_add_scalar(segq_abs(b), 1.0)));
    if (segq_item(d, &v) < 0)
        return INFINITY;
    return v;
}

static segq_tensor *disc(segq_tensor *x, segq_tensor **p) {
    segq_tensor *h = segq_conv2d(x, p[0], p[1], 1, 0, 1, 1);
    h = segq_batch_norm(h, p[2], p[3], NULL, NULL, 1, 0.1, 1e-5);
    h = segq_leaky_relu(h, 0.2);
    return segq_conv2d(h, p[4], p[5], 1, 0, 1, 1);
}

/* One critic loss with its gradient penalty; fills grads[6] (scoped). */
static segq_tensor *d_step(segq_tensor *real, segq_tensor *fake, segq_tensor *alpha,
                           segq_tensor **p, segq_tensor **grads) {
    segq_tensor *interp =
        segq_add(segq_mul(alpha, real), segq_mul(segq_rsub_scalar(alpha, 1), fake));
    if (segq_set_requires_grad(interp, 1) < 0)
        return NULL;
    segq_tensor *out = disc(interp, p);
    segq_tensor *g = NULL;
    segq_tensor *ones = segq_ones_like(out);
    if (segq_autograd_grad(&out, 1, &interp, 1, &ones, &g, 1, 1) < 0)
        return NULL;
    segq_tensor *gp = segq_mul_scalar(
        segq_mean(segq_pow_scalar(segq_add_scalar(segq_norm_dim(g, 2, 1, 0), -1), 2)), 0.1);
    segq_tensor *loss = segq_add(
        segq_add(segq_neg(segq_mean(disc(real, p))), segq_mean(disc(fake, p))), gp);
    if (segq_backward(loss, 0, 0) < 0)
        return NULL;
    for (int i = 0; i < 6; i++) {
        grads[i] = segq_clone(segq_grad(p[i]));
        segq_zero_grad(p[i]);
    }
    return loss;
}

static void check_gp(segq_device cuda) {
    static const int64_t shapes[6][4] = {{32, 4, 3, 3}, {32}, {32}, {32}, {1, 32, 3, 3}, {1}};
    static const int ndims[6] = {4, 1, 1, 1, 4, 1};
    segq_scope_begin();
    segq_manual_seed(3);
    segq_tensor *pc[6], *pg[6], *gc[6], *gg[6];
    for (int i = 0; i < 6; i++) {
        pc[i] = segq_mul_scalar(segq_randn(shapes[i], ndims[i], SEGQ_F32, SEGQ_CPU), 0.2);
        pg[i] = segq_to_device(pc[i], cuda);
        segq_set_requires_grad(pc[i], 1);
        segq_set_requires_grad(pg[i], 1);
    }
    int64_t is[] = {2, 4, 40, 47};
    segq_tensor *real = segq_randn(is, 4, SEGQ_F32, SEGQ_CPU);
    segq_tensor *fake = segq_randn(is, 4, SEGQ_F32, SEGQ_CPU);
    segq_tensor *alpha = segq_rand((int64_t[]){1}, 1, SEGQ_F32, SEGQ_CPU);
    segq_tensor *lc = d_step(real, fake, alpha, pc, gc);
    segq_tensor *lg = d_step(segq_to_device(real, cuda), segq_to_device(fake, cuda),
                             segq_to_device(alpha, cuda), pg, gg);
    CHECK(lc && lg, "WGAN-GP step ran on CPU and CUDA");
    if (lc && lg) {
        segq_device d;
        segq_device_of(lg, &d);
        CHECK(d.type == SEGQ_DEVICE_CUDA, "loss computed on CUDA");
        /* cuDNN may use TF32 for convolutions: about 1e-3 relative */
        double e = max_rel_diff(lg, lc);
        CHECK(e < 5e-3, "GP loss CUDA vs CPU rel diff %g", e);
        double worst = 0;
        for (int i = 0; i < 6; i++) {
            double ei = max_rel_diff(gg[i], gc[i]);
            worst = ei > worst ? ei : worst;
        }
        CHECK(worst < 5e-3, "GP parameter gradients CUDA vs CPU rel diff %g", worst);
        printf("ok   WGAN-GP double backward on CUDA: loss diff %.2g, grad diff %.2g\n", e,
               worst);
    }
    segq_scope_end();
}

static void check_ops(segq_device cuda) {
    segq_scope_begin();
    segq_tensor *x = segq_randn((int64_t[]){1, 4, 250, 213}, 4, SEGQ_F32, SEGQ_CPU);
    segq_tensor *xg = segq_to_device(x, cuda);
    double e1 = max_rel_diff(segq_interpolate(xg, 191, 163, SEGQ_INTERP_BICUBIC, 0, 1),
                             segq_interpolate(x, 191, 163, SEGQ_INTERP_BICUBIC, 0, 1));
    double e2 = max_rel_diff(segq_interpolate(xg, 300, 260, SEGQ_INTERP_BICUBIC, 0, 0),
                             segq_interpolate(x, 300, 260, SEGQ_INTERP_BICUBIC, 0, 0));
    CHECK(e1 < 1e-4 && e2 < 1e-4, "interpolate CUDA vs CPU: aa %g, up %g", e1, e2);
    printf("ok   antialiased bicubic on CUDA vs CPU: %.2g, bicubic up: %.2g\n", e1, e2);

    /* Adam moves a CUDA parameter like a CPU one */
    segq_tensor *pc = segq_persist(segq_randn((int64_t[]){64}, 1, SEGQ_F32, SEGQ_CPU));
    segq_tensor *pg = segq_persist(segq_to_device(pc, cuda));
    segq_set_requires_grad(pc, 1);
    segq_set_requires_grad(pg, 1);
    segq_adam *oc = segq_adam_new(&pc, 1, 5e-4, 0.5, 0.999, 1e-8, 0);
    segq_adam *og = segq_adam_new(&pg, 1, 5e-4, 0.5, 0.999, 1e-8, 0);
    for (int i = 0; i < 3; i++) {
        segq_backward(segq_sum(segq_pow_scalar(pc, 3)), 0, 0);
        segq_backward(segq_sum(segq_pow_scalar(pg, 3)), 0, 0);
        CHECK(segq_adam_step(oc) == 0 && segq_adam_step(og) == 0, "adam step");
        segq_adam_zero_grad(oc);
        segq_adam_zero_grad(og);
    }
    double e3 = max_rel_diff(pg, pc);
    CHECK(e3 < 1e-5, "Adam CUDA vs CPU %g", e3);
    printf("ok   Adam on CUDA vs CPU: %.2g\n", e3);
    segq_adam_destroy(&oc);
    segq_adam_destroy(&og);
    segq_tensor_destroy(&pc);
    segq_tensor_destroy(&pg);

    /* autocast on CUDA */
    segq_tensor *w = segq_randn((int64_t[]){8, 4, 3, 3}, 4, SEGQ_F32, cuda);
    CHECK(segq_autocast_begin(SEGQ_DEVICE_CUDA, SEGQ_BF16) == 0, "autocast begin");
    segq_tensor *y = segq_conv2d(xg, w, NULL, 1, 0, 1, 1);
    CHECK(segq_autocast_end() == 0, "autocast end");
    segq_dtype dt = SEGQ_F32;
    segq_dtype_of(y, &dt);
    CHECK(dt == SEGQ_BF16, "conv under CUDA autocast is bf16 (got %d)", (int)dt);
    segq_dtype_of(segq_conv2d(xg, w, NULL, 1, 0, 1, 1), &dt);
    CHECK(dt == SEGQ_F32, "autocast region ended");
    printf("ok   CUDA bf16 autocast region\n");
    segq_scope_end();
}

/* SinGAN's finest scale: 128-channel 3x3 convolution at 223x260 (213x250
 * padded by 5), forward + backward; GFLOP/s in fp32 and bf16 autocast. */
static void time_conv(segq_device dev, const char *name, int autocast, int iters) {
    segq_scope_begin();
    int64_t n = 1, c = 128, h = 223, wd = 260;
    segq_tensor *x = segq_randn((int64_t[]){n, c, h, wd}, 4, SEGQ_F32, dev);
    segq_tensor *w = segq_persist(segq_mul_scalar(
        segq_randn((int64_t[]){c, c, 3, 3}, 4, SEGQ_F32, dev), 0.02));
    segq_set_requires_grad(w, 1);
    double t0 = 0;
    for (int i = -2; i < iters; i++) { /* two warm-up passes */
        if (i == 0) {
            segq_cuda_synchronize(-1);
            t0 = now();
        }
        segq_scope_begin();
        if (autocast)
            segq_autocast_begin(dev.type, SEGQ_BF16);
        segq_tensor *y = segq_conv2d(x, w, NULL, 1, 0, 1, 1);
        segq_tensor *l = segq_mean(segq_to_dtype(y, SEGQ_F32));
        if (autocast)
            segq_autocast_end();
        CHECK(segq_backward(l, 0, 0) == 0, "conv backward");
        segq_zero_grad(w);
        segq_scope_end();
    }
    segq_cuda_synchronize(-1);
    double dt = (now() - t0) / iters;
    /* forward + grad wrt weight (x needs none): 2 convolutions' worth */
    double flop = 2.0 * 2.0 * n * c * c * 9 * (h - 2) * (wd - 2);
    printf("time %-5s %-4s conv 128ch 3x3 223x260 fwd+bwd: %8.3f ms  %8.1f GFLOP/s\n", name,
           autocast ? "bf16" : "fp32", dt * 1e3, flop / dt * 1e-9);
    segq_tensor_destroy(&w);
    segq_scope_end();
}

int main(void) {
    segq_set_num_threads(2);
    printf("libtorch %s, CUDA build %d, %d CUDA device(s), %d CPUs\n", segq_torch_version(),
           segq_torch_has_cuda_build(), segq_cuda_device_count(), segq_cpu_count());
    CHECK(segq_torch_has_cuda_build() == 1, "built against a CUDA libtorch");
    int n = segq_cuda_device_count();
    CHECK(n >= 1, "a CUDA device is visible");
    if (failures)
        return 1;
    for (int i = 0; i < n; i++) {
        segq_cuda_info info;
        CHECK(segq_cuda_device_info(i, &info) == 0, "device info %d", i);
        printf("{\"index\": %d, \"name\": \"%s\", \"total_bytes\": %llu, \"free_bytes\": %llu, "
               "\"capability\": \"%d.%d\"}\n",
               info.index, info.name, (unsigned long long)info.total_bytes,
               (unsigned long long)info.free_bytes, info.major, info.minor);
        CHECK(info.total_bytes > ((uint64_t)1 << 30) && info.free_bytes <= info.total_bytes,
              "memory figures");
    }
    segq_device cuda;
    CHECK(segq_device_parse("cuda:0", &cuda) == 0 && segq_device_check(cuda) == 0,
          "cuda:0 usable");
    segq_device far = {SEGQ_DEVICE_CUDA, n};
    CHECK(segq_device_check(far) == SEGQ_TORCH_ENODEV, "cuda:%d refused", n);
    printf("ok   cuda:%d refused: %s\n", n, segq_torch_last_error());
    CHECK(segq_cuda_set_memory_fraction(0.5, 0) == 0, "memory fraction");

    check_gp(cuda);
    check_ops(cuda);
    CHECK(segq_torch_live_tensors() == 0, "live tensors after all scopes: %lld",
          (long long)segq_torch_live_tensors());

    /* the fraction caps what the caching allocator may take */
    segq_scope_begin();
    segq_cuda_info info;
    segq_cuda_device_info(0, &info);
    int64_t too_big = (int64_t)(info.total_bytes / 4 * 3 / 4); /* 75% of memory, floats */
    segq_torch_clear_error();
    segq_tensor *big = segq_zeros(&too_big, 1, SEGQ_F32, cuda);
    CHECK(big == NULL, "a 75%% allocation under a 50%% fraction is refused");
    printf("ok   over the memory fraction: %.120s\n", segq_torch_last_error());
    segq_scope_end();

    time_conv(cuda, "cuda", 0, 20);
    time_conv(cuda, "cuda", 1, 20);
    time_conv(SEGQ_CPU, "cpu", 0, 2);
    printf("%s (%d failure(s))\n", failures ? "FAILED" : "PASSED", failures);
    return failures ? 1 : 0;
}
