/* GPU check of the torch shim (built by tests/torch/gpu/CMakeLists.txt
 * against a CUDA libtorch): devices, the WGAN-GP step and interpolation on
 * CUDA against the same on the CPU, Adam, autocast, scopes, CUDA graphs
 * (a captured critic update replayed against eager ones), and a timing
 * of SinGAN's finest-scale convolution. Exits 1 on any failure. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "segq_torch.h"

static int failures;

#define CHECK(cond, ...)                                                                           \
    do {                                                                                           \
        if (!(cond)) {                                                                             \
            failures++;                                                                            \
            printf("FAIL %s:%d: ", __FILE__, __LINE__);                                            \
            printf(__VA_ARGS__);                                                                   \
            printf(" [last error: %s]\n", segqt_last_error());                                     \
        }                                                                                          \
    } while (0)

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec + ts.tv_nsec * 1e-9;
}

/* Largest |a - b| / (1 + |b|) over all elements (each on any device). */
static double max_rel_diff(segqt_tensor *a, segqt_tensor *b)
{
    double v = INFINITY;
    b = segqt_to_device(b, SEGQT_CPU);
    segqt_tensor *d = segqt_max(segqt_div(segqt_abs(segqt_sub(segqt_to_device(a, SEGQT_CPU), b)),
                                          segqt_add_scalar(segqt_abs(b), 1.0)));
    if (segqt_item(d, &v) < 0)
        return INFINITY;
    return v;
}

/* The largest max_rel_diff of the critic's six parameter gradients. */
static double max_grads_diff(segqt_tensor *const *a, segqt_tensor *const *b)
{
    double worst = 0;
    for (int i = 0; i < 6; i++) {
        double e = max_rel_diff(a[i], b[i]);
        worst = e > worst ? e : worst;
    }
    return worst;
}

static segqt_tensor *disc(segqt_tensor *x, segqt_tensor **p)
{
    segqt_tensor *h = segqt_conv2d(x, p[0], p[1], 1, 0, 1, 1);
    h = segqt_batch_norm(h, p[2], p[3], NULL, NULL, 1, 0.1, 1e-5);
    h = segqt_leaky_relu(h, 0.2);
    return segqt_conv2d(h, p[4], p[5], 1, 0, 1, 1);
}

/* One critic update with its gradient penalty (a double backward), as
 * SinGAN's training step; reads nothing back, so a graph can capture it. */
static int critic_update(segqt_tensor **p, segqt_adam *opt, segqt_tensor *real, segqt_tensor *fake,
                         segqt_tensor *alpha)
{
    if (segqt_adam_zero_grad(opt) < 0 || segqt_scope_begin() < 0)
        return -1;
    segqt_tensor *interp =
        segqt_add(segqt_mul(alpha, real), segqt_mul(segqt_rsub_scalar(alpha, 1), fake));
    segqt_tensor *g = NULL, *out = NULL, *ones = NULL;
    int rc = segqt_set_requires_grad(interp, 1) < 0 || !(out = disc(interp, p))
             || !(ones = segqt_ones_like(out))
             || segqt_autograd_grad(&out, 1, &interp, 1, &ones, &g, 1, 1) < 0;
    segqt_tensor *gp =
        g ? segqt_mul_scalar(
            segqt_mean(segqt_pow_scalar(segqt_add_scalar(segqt_norm_dim(g, 2, 1, 0), -1), 2)), 0.1)
          : NULL;
    segqt_tensor *loss =
        segqt_add(segqt_add(segqt_neg(segqt_mean(disc(real, p))), segqt_mean(disc(fake, p))), gp);
    rc = rc || !loss || segqt_backward(loss, 0, 0) < 0 || segqt_adam_step(opt) < 0;
    segqt_scope_end();
    return rc ? -1 : 0;
}

/* A captured critic update (device-step Adam included) replayed on fresh
 * inputs gives the parameters the same updates run eagerly give; and
 * random numbers drawn inside a graph are fresh at each replay. */
static void check_graph(segqt_device cuda)
{
    static const int64_t shapes[6][4] = {{32, 4, 3, 3}, {32}, {32}, {32}, {1, 32, 3, 3}, {1}};
    static const int ndims[6] = {4, 1, 1, 1, 4, 1};
    CHECK(segqt_graph_supported(cuda) == 1, "graphs supported on cuda");
    segqt_scope_begin();
    segqt_manual_seed(7);
    segqt_tensor *pg[6], *pe[6], *p0[6];
    for (int i = 0; i < 6; i++) {
        p0[i] = segqt_mul_scalar(segqt_randn(shapes[i], ndims[i], SEGQT_F32, cuda), 0.2);
        pg[i] = segqt_clone(p0[i]);
        pe[i] = segqt_clone(p0[i]);
        segqt_set_requires_grad(pg[i], 1);
        segqt_set_requires_grad(pe[i], 1);
    }
    segqt_adam *og = segqt_adam_new_capturable(pg, 6, 5e-4, 0.5, 0.999, 1e-8);
    segqt_adam *oe = segqt_adam_new_capturable(pe, 6, 5e-4, 0.5, 0.999, 1e-8);
    int64_t img[4] = {1, 4, 40, 48}, one[2] = {1, 1};
    segqt_tensor *real = segqt_zeros(img, 4, SEGQT_F32, cuda);
    segqt_tensor *fake = segqt_zeros(img, 4, SEGQT_F32, cuda);
    segqt_tensor *alpha = segqt_zeros(one, 2, SEGQT_F32, cuda);
    segqt_graph *graph = segqt_graph_new(cuda);
    CHECK(graph != NULL, "a graph");
    int rc = graph ? 0 : -1;
    for (int k = 0; k < 6 && rc == 0; k++) {
        segqt_copy_(real, segqt_randn(img, 4, SEGQT_F32, cuda));
        segqt_copy_(fake, segqt_randn(img, 4, SEGQT_F32, cuda));
        segqt_copy_(alpha, segqt_rand(one, 2, SEGQT_F32, cuda));
        if (k == 4) /* the learning rate changes between replays */
            rc |= segqt_adam_set_lr(og, 5e-5) | segqt_adam_set_lr(oe, 5e-5);
        rc |= critic_update(pe, oe, real, fake, alpha);
        if (k == 0)
            rc |= critic_update(pg, og, real, fake, alpha);
        else if (k == 1)
            rc |= segqt_graph_capture_begin(graph) || critic_update(pg, og, real, fake, alpha)
                  || segqt_graph_capture_end(graph);
        if (k >= 1 && rc == 0)
            rc |= segqt_graph_replay(graph);
    }
    CHECK(rc == 0, "captured critic updates run");
    /* cuDNN's weight gradients sum with atomics, so the two runs differ by
     * rounding, which Adam's normalisation enlarges where a gradient is
     * near zero: compare the difference with the size of the updates
     * (a replay that ran nothing, or a stale step count, is off by ~100%) */
    double diff2 = 0, upd2 = 0;
    for (int i = 0; i < 6 && rc == 0; i++) {
        double d = 0, u = 0;
        segqt_item(segqt_sum(segqt_pow_scalar(segqt_sub(pg[i], pe[i]), 2)), &d);
        segqt_item(segqt_sum(segqt_pow_scalar(segqt_sub(pe[i], p0[i]), 2)), &u);
        diff2 += d;
        upd2 += u;
    }
    double ratio = upd2 > 0 ? sqrt(diff2 / upd2) : INFINITY;
    CHECK(rc == 0 && ratio < 0.02, "graph replays match eager updates (%.3g of their size)", ratio);
    printf("ok   6 critic updates, 5 of them replayed from a CUDA graph: they differ from eager "
           "ones by %.3g of the updates' size\n",
           ratio);
    segqt_graph_destroy(&graph);
    CHECK(graph == NULL, "graph destroyed");

    /* fresh random numbers at each replay */
    segqt_tensor *draws = segqt_zeros(img, 4, SEGQT_F32, cuda);
    graph = segqt_graph_new(cuda);
    CHECK(graph && segqt_graph_capture_begin(graph) == 0
              && segqt_copy_(draws, segqt_randn(img, 4, SEGQT_F32, cuda)) == 0
              && segqt_graph_capture_end(graph) == 0,
          "capturing randn");
    double first = 0, second = 0;
    segqt_graph_replay(graph);
    segqt_item(segqt_sum(draws), &first);
    segqt_graph_replay(graph);
    segqt_item(segqt_sum(draws), &second);
    CHECK(first != second && first != 0, "replays draw fresh numbers (%g, %g)", first, second);
    segqt_graph_destroy(&graph);
    segqt_adam_destroy(&og);
    segqt_adam_destroy(&oe);
    segqt_scope_end();
}

/* One critic loss with its gradient penalty; fills grads[6] (scoped). */
static segqt_tensor *d_step(segqt_tensor *real, segqt_tensor *fake, segqt_tensor *alpha,
                            segqt_tensor **p, segqt_tensor **grads)
{
    segqt_tensor *interp =
        segqt_add(segqt_mul(alpha, real), segqt_mul(segqt_rsub_scalar(alpha, 1), fake));
    if (segqt_set_requires_grad(interp, 1) < 0)
        return NULL;
    segqt_tensor *out = disc(interp, p);
    segqt_tensor *g = NULL;
    segqt_tensor *ones = segqt_ones_like(out);
    if (segqt_autograd_grad(&out, 1, &interp, 1, &ones, &g, 1, 1) < 0)
        return NULL;
    segqt_tensor *gp = segqt_mul_scalar(
        segqt_mean(segqt_pow_scalar(segqt_add_scalar(segqt_norm_dim(g, 2, 1, 0), -1), 2)), 0.1);
    segqt_tensor *loss =
        segqt_add(segqt_add(segqt_neg(segqt_mean(disc(real, p))), segqt_mean(disc(fake, p))), gp);
    if (segqt_backward(loss, 0, 0) < 0)
        return NULL;
    for (int i = 0; i < 6; i++) {
        grads[i] = segqt_clone(segqt_grad(p[i]));
        segqt_zero_grad(p[i]);
    }
    return loss;
}

static void check_gp(segqt_device cuda)
{
    static const int64_t shapes[6][4] = {{32, 4, 3, 3}, {32}, {32}, {32}, {1, 32, 3, 3}, {1}};
    static const int ndims[6] = {4, 1, 1, 1, 4, 1};
    segqt_scope_begin();
    segqt_manual_seed(3);
    segqt_tensor *pc[6], *pg[6], *gc[6], *gg[6];
    for (int i = 0; i < 6; i++) {
        pc[i] = segqt_mul_scalar(segqt_randn(shapes[i], ndims[i], SEGQT_F32, SEGQT_CPU), 0.2);
        pg[i] = segqt_to_device(pc[i], cuda);
        segqt_set_requires_grad(pc[i], 1);
        segqt_set_requires_grad(pg[i], 1);
    }
    int64_t is[] = {2, 4, 40, 47};
    segqt_tensor *real = segqt_randn(is, 4, SEGQT_F32, SEGQT_CPU);
    segqt_tensor *fake = segqt_randn(is, 4, SEGQT_F32, SEGQT_CPU);
    segqt_tensor *alpha = segqt_rand((int64_t[]){1}, 1, SEGQT_F32, SEGQT_CPU);
    segqt_tensor *lc = d_step(real, fake, alpha, pc, gc);
    segqt_tensor *lg = d_step(segqt_to_device(real, cuda), segqt_to_device(fake, cuda),
                              segqt_to_device(alpha, cuda), pg, gg);
    CHECK(lc && lg, "WGAN-GP step ran on CPU and CUDA");
    if (lc && lg) {
        segqt_device d;
        segqt_device_of(lg, &d);
        CHECK(d.type == SEGQT_DEVICE_CUDA, "loss computed on CUDA");
        /* cuDNN may use TF32 for convolutions: about 1e-3 relative */
        double e = max_rel_diff(lg, lc);
        CHECK(e < 5e-3, "GP loss CUDA vs CPU rel diff %g", e);
        double worst = max_grads_diff(gg, gc);
        CHECK(worst < 5e-3, "GP parameter gradients CUDA vs CPU rel diff %g", worst);
        printf("ok   WGAN-GP double backward on CUDA: loss diff %.2g, grad diff %.2g\n", e, worst);
    }
    /* the same on CUDA through libtorch's own BatchNorm double backward:
     * the lean one must agree on the GPU too (cuDNN's saved statistics) */
    segqt_tensor *gl[6];
    int was = segqt_set_lean_bn_double_backward(0);
    segqt_tensor *ll = d_step(segqt_to_device(real, cuda), segqt_to_device(fake, cuda),
                              segqt_to_device(alpha, cuda), pg, gl);
    segqt_set_lean_bn_double_backward(was);
    CHECK(ll && lg, "WGAN-GP step on CUDA with libtorch's BatchNorm double backward");
    if (ll && lg) {
        double worst = max_rel_diff(lg, ll), grads = max_grads_diff(gg, gl);
        worst = grads > worst ? grads : worst;
        CHECK(worst < 5e-3, "lean vs libtorch BatchNorm double backward on CUDA rel diff %g",
              worst);
        printf("ok   lean BatchNorm double backward on CUDA vs libtorch's: diff %.2g\n", worst);
    }
    segqt_scope_end();
}

static void check_ops(segqt_device cuda)
{
    segqt_scope_begin();
    segqt_tensor *x = segqt_randn((int64_t[]){1, 4, 250, 213}, 4, SEGQT_F32, SEGQT_CPU);
    segqt_tensor *xg = segqt_to_device(x, cuda);
    double e1 = max_rel_diff(segqt_interpolate(xg, 191, 163, SEGQT_INTERP_BICUBIC, 0, 1),
                             segqt_interpolate(x, 191, 163, SEGQT_INTERP_BICUBIC, 0, 1));
    double e2 = max_rel_diff(segqt_interpolate(xg, 300, 260, SEGQT_INTERP_BICUBIC, 0, 0),
                             segqt_interpolate(x, 300, 260, SEGQT_INTERP_BICUBIC, 0, 0));
    CHECK(e1 < 1e-4 && e2 < 1e-4, "interpolate CUDA vs CPU: aa %g, up %g", e1, e2);
    printf("ok   antialiased bicubic on CUDA vs CPU: %.2g, bicubic up: %.2g\n", e1, e2);

    /* Adam moves a CUDA parameter like a CPU one */
    segqt_tensor *pc = segqt_persist(segqt_randn((int64_t[]){64}, 1, SEGQT_F32, SEGQT_CPU));
    segqt_tensor *pg = segqt_persist(segqt_to_device(pc, cuda));
    segqt_set_requires_grad(pc, 1);
    segqt_set_requires_grad(pg, 1);
    segqt_adam *oc = segqt_adam_new(&pc, 1, 5e-4, 0.5, 0.999, 1e-8, 0);
    segqt_adam *og = segqt_adam_new(&pg, 1, 5e-4, 0.5, 0.999, 1e-8, 0);
    for (int i = 0; i < 3; i++) {
        segqt_backward(segqt_sum(segqt_pow_scalar(pc, 3)), 0, 0);
        segqt_backward(segqt_sum(segqt_pow_scalar(pg, 3)), 0, 0);
        CHECK(segqt_adam_step(oc) == 0 && segqt_adam_step(og) == 0, "adam step");
        segqt_adam_zero_grad(oc);
        segqt_adam_zero_grad(og);
    }
    double e3 = max_rel_diff(pg, pc);
    CHECK(e3 < 1e-5, "Adam CUDA vs CPU %g", e3);
    printf("ok   Adam on CUDA vs CPU: %.2g\n", e3);
    segqt_adam_destroy(&oc);
    segqt_adam_destroy(&og);
    segqt_tensor_destroy(&pc);
    segqt_tensor_destroy(&pg);

    /* autocast on CUDA */
    segqt_tensor *w = segqt_randn((int64_t[]){8, 4, 3, 3}, 4, SEGQT_F32, cuda);
    CHECK(segqt_autocast_begin(SEGQT_DEVICE_CUDA, SEGQT_BF16) == 0, "autocast begin");
    segqt_tensor *y = segqt_conv2d(xg, w, NULL, 1, 0, 1, 1);
    CHECK(segqt_autocast_end() == 0, "autocast end");
    segqt_dtype dt = SEGQT_F32;
    segqt_dtype_of(y, &dt);
    CHECK(dt == SEGQT_BF16, "conv under CUDA autocast is bf16 (got %d)", (int)dt);
    segqt_dtype_of(segqt_conv2d(xg, w, NULL, 1, 0, 1, 1), &dt);
    CHECK(dt == SEGQT_F32, "autocast region ended");
    printf("ok   CUDA bf16 autocast region\n");
    segqt_scope_end();
}

/* SinGAN's finest scale: 128-channel 3x3 convolution at 223x260 (213x250
 * padded by 5), forward + backward; GFLOP/s in fp32 and bf16 autocast. */
static void time_conv(segqt_device dev, const char *name, int autocast, int iters)
{
    segqt_scope_begin();
    int64_t n = 1, c = 128, h = 223, wd = 260;
    segqt_tensor *x = segqt_randn((int64_t[]){n, c, h, wd}, 4, SEGQT_F32, dev);
    segqt_tensor *w = segqt_persist(
        segqt_mul_scalar(segqt_randn((int64_t[]){c, c, 3, 3}, 4, SEGQT_F32, dev), 0.02));
    segqt_set_requires_grad(w, 1);
    double t0 = 0;
    for (int i = -2; i < iters; i++) { /* two warm-up passes */
        if (i == 0) {
            segqt_cuda_synchronize(-1);
            t0 = now();
        }
        segqt_scope_begin();
        if (autocast)
            segqt_autocast_begin(dev.type, SEGQT_BF16);
        segqt_tensor *y = segqt_conv2d(x, w, NULL, 1, 0, 1, 1);
        segqt_tensor *l = segqt_mean(segqt_to_dtype(y, SEGQT_F32));
        if (autocast)
            segqt_autocast_end();
        CHECK(segqt_backward(l, 0, 0) == 0, "conv backward");
        segqt_zero_grad(w);
        segqt_scope_end();
    }
    segqt_cuda_synchronize(-1);
    double dt = (now() - t0) / iters;
    /* forward + grad wrt weight (x needs none): 2 convolutions' worth */
    double flop = 2.0 * 2.0 * n * c * c * 9 * (h - 2) * (wd - 2);
    printf("time %-5s %-4s conv 128ch 3x3 223x260 fwd+bwd: %8.3f ms  %8.1f GFLOP/s\n", name,
           autocast ? "bf16" : "fp32", dt * 1e3, flop / dt * 1e-9);
    segqt_tensor_destroy(&w);
    segqt_scope_end();
}

int main(void)
{
    segqt_set_num_threads(2);
    printf("libtorch %s, CUDA build %d, %d CUDA device(s), %d CPUs\n", segqt_version(),
           segqt_has_cuda_build(), segqt_cuda_device_count(), segqt_cpu_count());
    CHECK(segqt_has_cuda_build() == 1, "built against a CUDA libtorch");
    int n = segqt_cuda_device_count();
    CHECK(n >= 1, "a CUDA device is visible");
    if (failures)
        return 1;
    for (int i = 0; i < n; i++) {
        segqt_cuda_info info;
        CHECK(segqt_cuda_device_info(i, &info) == 0, "device info %d", i);
        printf("{\"index\": %d, \"name\": \"%s\", \"total_bytes\": %llu, \"free_bytes\": %llu, "
               "\"capability\": \"%d.%d\"}\n",
               info.index, info.name, (unsigned long long)info.total_bytes,
               (unsigned long long)info.free_bytes, info.major, info.minor);
        CHECK(info.total_bytes > ((uint64_t)1 << 30) && info.free_bytes <= info.total_bytes,
              "memory figures");
    }
    segqt_device cuda;
    CHECK(segqt_device_parse("cuda:0", &cuda) == 0 && segqt_device_check(cuda) == 0,
          "cuda:0 usable");
    segqt_device far = {SEGQT_DEVICE_CUDA, n};
    CHECK(segqt_device_check(far) == SEGQ_ENODEV, "cuda:%d refused", n);
    printf("ok   cuda:%d refused: %s\n", n, segqt_last_error());
    CHECK(segqt_cuda_set_memory_fraction(0.5, 0) == 0, "memory fraction");

    check_gp(cuda);
    check_ops(cuda);
    check_graph(cuda);
    CHECK(segqt_live_tensors() == 0, "live tensors after all scopes: %lld",
          (long long)segqt_live_tensors());

    /* the fraction caps what the caching allocator may take */
    segqt_scope_begin();
    segqt_cuda_info info;
    segqt_cuda_device_info(0, &info);
    int64_t too_big = (int64_t)(info.total_bytes / 4 * 3 / 4); /* 75% of memory, floats */
    segqt_clear_error();
    segqt_tensor *big = segqt_zeros(&too_big, 1, SEGQT_F32, cuda);
    CHECK(big == NULL, "a 75%% allocation under a 50%% fraction is refused");
    printf("ok   over the memory fraction: %.120s\n", segqt_last_error());
    segqt_scope_end();

    time_conv(cuda, "cuda", 0, 20);
    time_conv(cuda, "cuda", 1, 20);
    time_conv(SEGQT_CPU, "cpu", 0, 2);
    printf("%s (%d failure(s))\n", failures ? "FAILED" : "PASSED", failures);
    return failures ? 1 : 0;
}
