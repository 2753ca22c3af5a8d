/* The multi-scale model: sampling through the frozen scales, noise,
 * resizing between scales. */
#include "singan_draws.h"
#include "singan_internal.h"

#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <errno.h>
#include <sys/stat.h>
#include <time.h>

int segq__torch_code(void)
{
    int code = segqt_last_code();
    return code < 0 ? code : SEGQ_ETORCH;
}

int segq__torch_fail(char *err, size_t errlen, const char *what)
{
    snprintf(err, errlen, "%s: %s", what,
             *segqt_last_error() ? segqt_last_error() : "torch operation failed");
    return segq__torch_code();
}

/* SEGQ_GPU_MEM: the GPU memory (bytes) segq-worker gave a job as it
 * declared it; 0 when unset (not run by a worker, or a CPU job). */
static int declared_gpu_memory(uint64_t *bytes, char *err, size_t errlen)
{
    const char *text = getenv("SEGQ_GPU_MEM");
    *bytes = 0;
    if (!text || !*text)
        return 0;
    char *end = NULL;
    errno = 0;
    unsigned long long declared = strtoull(text, &end, 10);
    if (errno || *end || declared == 0) {
        snprintf(err, errlen, "SEGQ_GPU_MEM='%s': not a number of bytes", text);
        return SEGQ_EINVAL;
    }
    *bytes = declared;
    return 0;
}

/* A GPU job is held to the memory it declared: the caching allocator is
 * capped at that share of the device, so jobs sharing a GPU cannot push
 * each other out of memory; going over fails this job alone, with
 * SEGQ_EGPUMEM. */
static int hold_to_declared_memory(segqt_device dev, char *err, size_t errlen)
{
    uint64_t declared;
    if (dev.type != SEGQT_DEVICE_CUDA)
        return 0;
    int rc = declared_gpu_memory(&declared, err, errlen);
    if (rc || !declared)
        return rc;
    segqt_cuda_info info;
    if (segqt_cuda_device_info(dev.index, &info) != 0)
        return segq__torch_fail(err, errlen, "SEGQ_GPU_MEM");
    double fraction = (double)declared / (double)info.total_bytes;
    if (fraction > 1.0)
        fraction = 1.0;
    if (segqt_cuda_set_memory_fraction(fraction, dev.index) != 0)
        return segq__torch_fail(err, errlen, "SEGQ_GPU_MEM");
    printf("GPU memory: held to %.2f GiB of %.2f GiB on cuda:%d (fraction %.4f)\n",
           declared / 1073741824.0, info.total_bytes / 1073741824.0, dev.index, fraction);
    return 0;
}

int segq__memory_budget(segqt_device dev, uint64_t weights, segq_batch_fit_t *f, char *err,
                        size_t errlen)
{
    f->reserved = 0;
    if (dev.type != SEGQT_DEVICE_CUDA) {
        const segq_mem_files_t files = SEGQ_MEM_FILES_SYSTEM;
        int by_cgroup = 0;
        f->fail_code = SEGQ_ENOMEM;
        int rc = segq_cpu_memory_available(&files, &f->total, &by_cgroup, err, errlen);
        snprintf(f->total_name, sizeof f->total_name, "available (%s)",
                 by_cgroup ? "cgroup memory.max" : "MemAvailable");
        return rc;
    }
    f->fail_code = SEGQ_EGPUMEM;
    int rc = declared_gpu_memory(&f->total, err, errlen);
    if (rc)
        return rc;
    if (f->total) {
        /* the cap counts the weights the job already holds */
        f->reserved = weights;
        snprintf(f->total_name, sizeof f->total_name, "declared (SEGQ_GPU_MEM)");
        return 0;
    }
    segqt_cuda_info info;
    if (segqt_cuda_device_info(dev.index, &info) != 0)
        return segq__torch_fail(err, errlen, "free GPU memory");
    f->total = info.free_bytes;
    snprintf(f->total_name, sizeof f->total_name, "free on cuda:%d", dev.index);
    return 0;
}

uint64_t segq__tensor_bytes(segqt_tensor *t)
{
    segqt_dtype dt;
    int64_t n = t ? segqt_numel(t) : 0;
    if (n <= 0 || segqt_dtype_of(t, &dt) != 0)
        return 0;
    return (uint64_t)n * segqt_dtype_size(dt);
}

uint64_t segq__model_bytes(const segq_model_t *m)
{
    uint64_t sum = 0;
    for (int n = 0; n < SEGQ_PYRAMID_MAX_SCALES; n++)
        sum +=
            segq__net_bytes(m->G[n]) + segq__net_bytes(m->D[n]) + segq__tensor_bytes(m->z_opt[n]);
    return sum;
}

int segq__compute_setup(const segq_compute_opts_t *c, segqt_device *dev, int *threads, char *err,
                        size_t errlen)
{
    if (segqt_device_parse(c->device, dev) != 0 || segqt_device_check(*dev) != 0) {
        snprintf(err, errlen, "--device %s: %s", c->device, segqt_last_error());
        return SEGQ_ENODEV;
    }
    /* libtorch starts with one thread here: always set the count. 0 means
     * the CPU slots segq-worker gave the job, else every core. */
    *threads = (int)c->threads;
    const char *slots = getenv("SEGQ_CPU_SLOTS");
    if (*threads <= 0 && slots && atoi(slots) > 0)
        *threads = atoi(slots);
    if (*threads <= 0)
        *threads = segqt_cpu_count();
    if (segqt_set_num_threads(*threads) != 0)
        return segq__torch_fail(err, errlen, "--threads");
    return hold_to_declared_memory(*dev, err, errlen);
}

int segq__make_dir(const char *path, char *err, size_t errlen)
{
    if (mkdir(path, 0755) == 0 || errno == EEXIST)
        return 0;
    snprintf(err, errlen, "cannot create directory %s: %s", path, strerror(errno));
    return SEGQ_EINVAL;
}

void segq__csv_field(FILE *f, const char *s, char after)
{
    fputc('"', f);
    for (; *s; s++) {
        if (*s == '"')
            fputc('"', f);
        fputc(*s, f);
    }
    fputc('"', f);
    if (after)
        fputc(after, f);
}

double segq__now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + ts.tv_nsec * 1e-9;
}

int segq__scale_width(int64_t nfc, int64_t nfc_max, int n)
{
    int64_t w = nfc << (n / 4);
    if (n / 4 >= 40 || w > nfc_max)
        w = nfc_max;
    return (int)w;
}

void segq__model_free(segq_model_t *m)
{
    for (int n = 0; n < SEGQ_PYRAMID_MAX_SCALES; n++) {
        segq__net_destroy(&m->G[n]);
        segq__net_destroy(&m->D[n]);
        segqt_tensor_destroy(&m->z_opt[n]);
    }
}

segqt_tensor *segq__pad(segqt_tensor *x, int pad)
{
    int64_t pads[4] = {pad, pad, pad, pad};
    return segqt_pad(x, pads, 4, 0.0);
}

segqt_tensor *segq__noise(int64_t b, int64_t h, int64_t w, int pad, int single, segqt_device dev,
                          const char *kind)
{
    int64_t shape[4] = {b, single ? 1 : SEGQ_NC, h, w};
    segqt_tensor *z = segq__draw(kind, segqt_randn(shape, 4, SEGQT_F32, dev));
    if (single) {
        int64_t full[4] = {b, SEGQ_NC, h, w};
        z = segqt_expand(z, full, 4);
    }
    return segq__pad(z, pad);
}

/* The authors' cubic kernel (a = -0.5). */
static double authors_cubic(double x)
{
    double a = fabs(x), a2 = a * a, a3 = a2 * a;
    if (a <= 1.0)
        return 1.5 * a3 - 2.5 * a2 + 1.0;
    if (a <= 2.0)
        return -0.5 * a3 + 2.5 * a2 - 4.0 * a + 2.0;
    return 0.0;
}

/* The authors' resize of one dimension, in to out by the factor s, as an
 * out x in matrix (row-major, zeroed by the caller) computed in double as
 * their contributions() does: output pixel o (1-based o + 1) sits at
 * (o + 1) / s + (1 - 1 / s) / 2 on the input's 1-based grid; their cubic,
 * widened by 1 / s (and scaled by s) when shrinking, over ceil(width) + 2
 * taps, normalised to sum 1. Taps past the end are mirrored (in-1, in-2,
 * ...); taps before the start get weight 0 before the normalisation, as
 * their code does (its unsigned cast wraps a negative index to a huge
 * one, out of the kernel's reach). */
static void authors_weights(int64_t in, int64_t out, double s, double *m)
{
    int aa = s < 1.0;
    double kw = aa ? 4.0 * (1.0 / s) : 4.0;
    int64_t taps = (int64_t)ceil(kw) + 2;
    for (int64_t o = 0; o < out; o++) {
        double c = (double)(o + 1) / s + 0.5 * (1.0 - 1.0 / s);
        double left = floor(c - kw / 2.0), sum = 0.0;
        for (int64_t j = 0; j < taps; j++) {
            double f = left + (double)j - 1.0, d = c - f - 1.0;
            if (f >= 0.0)
                sum += aa ? s * authors_cubic(s * d) : authors_cubic(d);
        }
        if (sum == 0.0)
            sum = 1.0;
        for (int64_t j = 0; j < taps; j++) {
            double f = left + (double)j - 1.0, d = c - f - 1.0;
            if (f < 0.0)
                continue;
            int64_t k = (int64_t)f % (2 * in);
            if (k >= in)
                k = 2 * in - 1 - k;
            m[o * in + k] += (aa ? s * authors_cubic(s * d) : authors_cubic(d)) / sum;
        }
    }
}

/* The weight matrices, per (in, out, s, device): authors_weights; on a
 * GPU also the float32 device tensor (persistent: a CUDA graph's capture
 * can use it but not copy it there). Least recently used entries go
 * first. */
#define RESIZE_CACHE 64
typedef struct {
    int64_t in, out;
    double s;
    segqt_device dev;
    double *host;
    segqt_tensor *t;
    uint64_t used;
} resize_entry_t;
static resize_entry_t resize_cache[RESIZE_CACHE];
static uint64_t resize_clock;
static pthread_mutex_t resize_lock = PTHREAD_MUTEX_INITIALIZER;

void segq__imresize_cache_clear(void)
{
    pthread_mutex_lock(&resize_lock);
    for (int i = 0; i < RESIZE_CACHE; i++) {
        free(resize_cache[i].host);
        segqt_tensor_destroy(&resize_cache[i].t);
        memset(&resize_cache[i], 0, sizeof resize_cache[i]);
    }
    pthread_mutex_unlock(&resize_lock);
}

/* The host's out x in matrix as a tensor of type dt on dev. */
static segqt_tensor *matrix_tensor(const double *host, int64_t in, int64_t out, segqt_dtype dt,
                                   segqt_device dev)
{
    int64_t shape[2] = {out, in};
    segqt_tensor *m =
        segqt_from_bytes(host, (size_t)(in * out) * sizeof *host, SEGQT_F64, shape, 2, SEGQT_CPU);
    return segqt_to_device(dt == SEGQT_F64 ? m : segqt_to_dtype(m, dt), dev);
}

/* The out x in matrix of type dt (float32 or float64) on dev, owned by the
 * current scope. */
static segqt_tensor *resize_matrix(int64_t in, int64_t out, double s, segqt_dtype dt,
                                   segqt_device dev)
{
    int gpu = dev.type != SEGQT_DEVICE_CPU;
    segqt_tensor *r = NULL;
    pthread_mutex_lock(&resize_lock);
    resize_entry_t *e = NULL, *old = &resize_cache[0];
    for (int i = 0; i < RESIZE_CACHE; i++) {
        resize_entry_t *c = &resize_cache[i];
        if (c->host && c->in == in && c->out == out && c->s == s
            && (!gpu || (c->dev.type == dev.type && c->dev.index == dev.index))) {
            e = c;
            break;
        }
        if (c->used < old->used)
            old = c;
    }
    if (!e) {
        double *host = calloc((size_t)(in * out), sizeof *host);
        if (!host) {
            pthread_mutex_unlock(&resize_lock);
            return NULL;
        }
        authors_weights(in, out, s, host);
        /* safe under a captured graph: a scale's graph is captured after
         * its eager first iteration made every entry it uses, and a
         * training's few dozen sizes fit, so none of them goes */
        free(old->host);
        segqt_tensor_destroy(&old->t);
        *old = (resize_entry_t){in, out, s, dev, host, NULL, 0};
        e = old;
    }
    e->used = ++resize_clock;
    if (!gpu || dt != SEGQT_F32)
        r = matrix_tensor(e->host, in, out, dt, dev);
    else {
        if (!e->t) {
            segqt_tensor *t = matrix_tensor(e->host, in, out, dt, dev);
            e->t = t ? segqt_persist(t) : NULL;
        }
        r = e->t ? segqt_alias(e->t) : NULL;
    }
    pthread_mutex_unlock(&resize_lock);
    return r;
}

/* segq__imresize computing in dt between the uint8 round trip and the
 * float32 result. */
static segqt_tensor *imresize_in(segqt_tensor *x, int64_t h, int64_t w, double s, segqt_dtype dt)
{
    /* the authors' torch2uint8: 255 * clamp((x + 1) / 2, 0, 1), truncated */
    segqt_tensor *u = segqt_mul_scalar(
        segqt_clamp(segqt_mul_scalar(segqt_add_scalar(x, 1.0), 0.5), 0.0, 1.0), 255.0);
    segqt_tensor *q = segqt_to_dtype(segqt_to_dtype(u, SEGQT_U8), dt);
    /* imresize_in skips a factor of 1; otherwise rows, then columns, as
     * they do */
    if (q && s != 1.0) {
        segqt_device dev;
        if (segqt_device_of(q, &dev) != 0)
            return NULL;
        segqt_tensor *mh = resize_matrix(segqt_size(q, 2), h, s, dt, dev);
        segqt_tensor *mw = resize_matrix(segqt_size(q, 3), w, s, dt, dev);
        if (!mh || !mw)
            return NULL;
        q = segqt_matmul(segqt_matmul(mh, q), segqt_transpose(mw, 0, 1));
    }
    /* np2torch: / 255 (in double there), to float, then norm:
     * (x - 0.5) * 2, clamped */
    q = segqt_div_scalar(q, 255.0);
    if (dt != SEGQT_F32)
        q = segqt_to_dtype(q, SEGQT_F32);
    return segqt_clamp(segqt_mul_scalar(segqt_sub_scalar(q, 0.5), 2.0), -1.0, 1.0);
}

segqt_tensor *segq__imresize(segqt_tensor *x, int64_t h, int64_t w, double s)
{
    return imresize_in(x, h, w, s, SEGQT_F32);
}

segqt_tensor *segq__imresize_exact(segqt_tensor *x, int64_t h, int64_t w, double s)
{
    return imresize_in(x, h, w, s, SEGQT_F64);
}

segqt_tensor *segq__upsample_to(segqt_tensor *x, double r, int64_t h, int64_t w)
{
    int64_t uh = segq_pyramid_upsized((int)segqt_size(x, 2), r);
    int64_t uw = segq_pyramid_upsized((int)segqt_size(x, 3), r);
    segqt_tensor *u = segq__imresize(x, uh, uw, 1.0 / r);
    u = segqt_slice(segqt_slice(u, 2, 0, h, 1), 3, 0, w, 1);
    if (u && (uh < h || uw < w))
        u = segqt_interpolate(u, h, w, SEGQT_INTERP_BILINEAR, 1, 0);
    return u;
}

void segq__scaled_size(segq_model_t *m, int n, double sv, double sh, int64_t *h, int64_t *w)
{
    *h = (int64_t)llround(m->pyr.h[n] * sv);
    *w = (int64_t)llround(m->pyr.w[n] * sh);
    if (*h < 1)
        *h = 1;
    if (*w < 1)
        *w = 1;
}

/* G_n(amp * z + pad(prev), pad(prev)) in eval mode, z the padded noise. */
static segqt_tensor *run_scale_z(segq_model_t *m, int n, segqt_tensor *prev, segqt_tensor *z)
{
    segqt_tensor *pp = segq__pad(prev, m->pad);
    segqt_tensor *in = segqt_add(segqt_mul_scalar(z, m->noise_amp[n]), pp);
    return segq__net_forward(m->G[n], in, pp, 0, m->bf16);
}

segqt_tensor *segq__run_scale(segq_model_t *m, int n, segqt_tensor *prev, int fresh, double sv,
                              double sh)
{
    int64_t b = segqt_size(prev, 0), h, w;
    segq__scaled_size(m, n, sv, sh, &h, &w);
    segqt_tensor *z;
    if (fresh)
        z = segq__noise(b, h, w, m->pad, n == 0, m->dev, "noise");
    else {
        int64_t shape[4] = {b, -1, -1, -1};
        z = segqt_expand(m->z_opt[n], shape, 4);
    }
    return run_scale_z(m, n, prev, z);
}

/* segq__prev, with noise[k] (padded, batch b) as scale k's noise when
 * given, else drawn or z_opt as fresh_from says. */
static segqt_tensor *prev_chain(segq_model_t *m, int n, int64_t b, int fresh_from, double sv,
                                double sh, segqt_tensor *const *noise)
{
    int64_t h, w;
    segq__scaled_size(m, 0, sv, sh, &h, &w);
    int64_t shape[4] = {b, SEGQ_NC, h, w};
    segqt_tensor *prev = segqt_zeros(shape, 4, SEGQT_F32, m->dev);
    if (n == 0 || !prev)
        return prev;
    if (segqt_no_grad_begin() != 0)
        return NULL;
    for (int k = 0; k < n && prev; k++) {
        /* Each step's temporaries die with its scope; only prev moves up. */
        segqt_scope_begin();
        segqt_tensor *out = noise ? run_scale_z(m, k, prev, noise[k])
                                  : segq__run_scale(m, k, prev, k >= fresh_from, sv, sh);
        segq__scaled_size(m, k + 1, sv, sh, &h, &w);
        segqt_tensor *next = segq__upsample_to(out, m->pyr.r, h, w);
        next = next ? segqt_keep(segqt_contiguous(next)) : NULL;
        segqt_scope_end();
        prev = next;
    }
    segqt_no_grad_end();
    return prev;
}

segqt_tensor *segq__prev(segq_model_t *m, int n, int64_t b, int fresh_from, double sv, double sh)
{
    return prev_chain(m, n, b, fresh_from, sv, sh, NULL);
}

segqt_tensor *segq__prev_from_noise(segq_model_t *m, int n, segqt_tensor *const *noise)
{
    return prev_chain(m, n, n > 0 ? segqt_size(noise[0], 0) : 1, 0, 1, 1, noise);
}
