/*
 * segq_torch.h: a thin C API over libtorch (the only C++ in segq lives
 * behind this header). Tensors are opaque handles; every op is libtorch's
 * own implementation.
 *
 * ERRORS
 *   Functions that return a tensor return NULL on failure; functions that
 *   do not return a tensor return an int, 0 on success or a negative
 *   SEGQ_TORCH_E* code. Either way a thread-local message is recorded:
 *   segq_torch_last_error() / segq_torch_last_code(). C++ exceptions never
 *   cross this header: the message is "segq_fn: <libtorch's message, without
 *   its C++ backtrace>".
 *   Sticky propagation: an op given a NULL tensor returns NULL (or an
 *   error code) WITHOUT replacing an error that is already recorded, so C
 *   code can chain several ops and check once, at the end:
 *       y = segq_tanh(segq_conv2d(x, w, b, 1, 0, 1, 1));
 *       if (!y) fprintf(stderr, "%s\n", segq_torch_last_error());
 *   A real failure (libtorch raised, bad argument) always replaces the
 *   recorded error. segq_torch_clear_error() forgets it.
 *
 * LIFETIME: scopes
 *   Every tensor handle an op returns is owned by the innermost open scope
 *   of the calling thread (segq_scope_begin / segq_scope_end, a
 *   thread-local stack) and freed when that scope ends. Creating a tensor
 *   with no open scope is an error (SEGQ_TORCH_ESCOPE), so nothing can
 *   leak silently.
 *     segq_keep(t)    moves t to the parent scope (return values).
 *     segq_persist(t) takes t out of every scope: the caller owns it and
 *                     frees it with segq_tensor_destroy(&t) (parameters,
 *                     running statistics, model state).
 *     segq_tensor_destroy(&t) frees any handle early (scoped or not).
 *   Freeing a handle drops only this handle's reference: the storage lives
 *   while libtorch still needs it (autograd graph, views, the optimiser).
 *   Handles of a scope belong to the thread that opened it: another
 *   thread may read them, but segq_keep/segq_persist from there fail
 *   (SEGQ_TORCH_ESCOPE) and segq_tensor_destroy must not be called there.
 *   segq_torch_live_tensors() counts all live handles (tests use it).
 *
 * GRAD MODE, AUTOCAST
 *   segq_no_grad_begin/end and segq_autocast_begin/end are thread-local
 *   stacks as well; "training vs eval" is only batch_norm's flag.
 *
 * Arguments: shapes are int64_t arrays with their length (ndim); dim
 * indices may be negative (counted from the end), as in torch.
 */
#ifndef SEGQ_TORCH_H
#define SEGQ_TORCH_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* ------------------------------------------------------------------ */
/* Types                                                               */

/* C++ (the shim) sees the enums with a fixed int type, so a value a C
 * caller passes outside the list is a checked error there, not undefined
 * behaviour; for C nothing changes (an enum is an int). */
#ifdef __cplusplus
#define SEGQ_TORCH_ENUM enum : int
#else
#define SEGQ_TORCH_ENUM enum
#endif

typedef struct segq_tensor segq_tensor; /* opaque handle */
typedef struct segq_adam segq_adam;     /* opaque Adam optimiser */

/* Error codes (negative, libuv style). */
enum {
    SEGQ_TORCH_EINVAL = -22,   /* bad argument: NULL, bad shape, bad enum   */
    SEGQ_TORCH_ENOMEM = -12,   /* allocation failed                         */
    SEGQ_TORCH_ENODEV = -19,   /* device absent, or CUDA not compiled in    */
    SEGQ_TORCH_ETORCH = -1001, /* libtorch raised: the message says why     */
    SEGQ_TORCH_ESCOPE = -1002, /* no open scope / scope or guard misuse     */
    SEGQ_TORCH_EOOM = -1003    /* the GPU's memory (or this process's
                                  share of it) is exhausted              */
};

typedef SEGQ_TORCH_ENUM {
    SEGQ_F32 = 0,
    SEGQ_F16 = 1,
    SEGQ_BF16 = 2,
    SEGQ_F64 = 3,
    SEGQ_I64 = 4,
    SEGQ_I32 = 5,
    SEGQ_I16 = 6,
    SEGQ_I8 = 7,
    SEGQ_U8 = 8,
    SEGQ_BOOL = 9
} segq_dtype;

typedef SEGQ_TORCH_ENUM { SEGQ_DEVICE_CPU = 0, SEGQ_DEVICE_CUDA = 1 } segq_device_type;

/* index: CUDA ordinal (>= 0), or -1 for "the current one"; -1 for CPU. */
typedef struct {
    segq_device_type type;
    int index;
} segq_device;

#define SEGQ_CPU ((segq_device){SEGQ_DEVICE_CPU, -1})

typedef SEGQ_TORCH_ENUM {
    SEGQ_INTERP_NEAREST = 0,  /* torch 'nearest' (floor mapping)          */
    SEGQ_INTERP_BILINEAR = 1,
    SEGQ_INTERP_BICUBIC = 2
} segq_interp;

typedef SEGQ_TORCH_ENUM { SEGQ_GT = 0, SEGQ_GE, SEGQ_LT, SEGQ_LE, SEGQ_EQ, SEGQ_NE } segq_cmp;

/* ------------------------------------------------------------------ */
/* Errors                                                              */

/* Message of the recorded error ("" when none). Valid until the next
 * segq call on this thread that fails or clears. */
const char *segq_torch_last_error(void);
/* Code of the recorded error, 0 when none. */
int segq_torch_last_code(void);
void segq_torch_clear_error(void);
/* Text for a SEGQ_TORCH_E* code. */
const char *segq_torch_strerror(int code);

/* ------------------------------------------------------------------ */
/* Scopes and handle lifetime                                          */

/* Opens a scope; returns the new depth (>= 1) or a negative code. */
int segq_scope_begin(void);
/* Frees every handle the innermost scope owns; 0 or SEGQ_TORCH_ESCOPE. */
int segq_scope_end(void);
/* Number of open scopes on this thread. */
int segq_scope_depth(void);
/* Moves t to the parent scope; returns t, NULL if there is none. */
segq_tensor *segq_keep(segq_tensor *t);
/* Takes t out of its scope: the caller owns it. Returns t. */
segq_tensor *segq_persist(segq_tensor *t);
/* Frees the handle and sets *t to NULL; NULL or *t NULL is a no-op. */
void segq_tensor_destroy(segq_tensor **t);
/* New handle to the same tensor (shares storage and autograd identity),
 * owned by the current scope. */
segq_tensor *segq_alias(segq_tensor *t);
/* All live handles in the process (scoped and persistent). */
int64_t segq_torch_live_tensors(void);

/* ------------------------------------------------------------------ */
/* Dtypes and devices                                                  */

/* Bytes per element; 0 for an unknown value. */
size_t segq_dtype_size(segq_dtype dt);
/* safetensors spelling: "F32", "F16", "BF16", "F64", "I64", "I32", "I16",
 * "I8", "U8", "BOOL"; NULL for an unknown value. */
const char *segq_dtype_name(segq_dtype dt);
/* Inverse of segq_dtype_name; 0 or SEGQ_TORCH_EINVAL. */
int segq_dtype_from_name(const char *name, segq_dtype *out);

/* Parses "cpu", "cuda", "cuda:N". Syntax only; see segq_device_check. */
int segq_device_parse(const char *s, segq_device *out);
/* 0 if tensors can be made on d here, else SEGQ_TORCH_ENODEV with a
 * message (no CUDA in this build / ordinal out of range). */
int segq_device_check(segq_device d);
/* Writes "cpu" / "cuda" / "cuda:N"; returns the length or a negative code. */
int segq_device_format(segq_device d, char *buf, size_t n);

/* 1 if this build of the shim was compiled against a CUDA libtorch. */
int segq_torch_has_cuda_build(void);
/* Number of usable CUDA devices (0 on a CPU build or without a GPU). */
int segq_cuda_device_count(void);
typedef struct {
    int index;
    char name[256];
    uint64_t total_bytes;
    uint64_t free_bytes;
    int major, minor; /* compute capability */
} segq_cuda_info;
int segq_cuda_device_info(int index, segq_cuda_info *out);
/* Caps this process's CUDA caching allocator on device at fraction
 * (0, 1] of its memory: an allocation beyond it fails with
 * SEGQ_TORCH_EOOM, as a real out-of-memory does. */
int segq_cuda_set_memory_fraction(double fraction, int device);
/* Waits for all work on the device (-1: current). 0 on CPU builds. */
int segq_cuda_synchronize(int device);
/* CPUs this process may run on (affinity mask). */
int segq_cpu_count(void);
/* libtorch's version, e.g. "1.13.1". */
const char *segq_torch_version(void);
/* The instruction set of libtorch's own CPU kernels ("AVX2", "AVX512",
 * ...), as its build summary names it. 0 or an error code. */
int segq_torch_cpu_kernels(char *out, size_t outlen);

/* Intra-op threads (at::set_num_threads). */
int segq_set_num_threads(int n);
int segq_get_num_threads(void);
/* Inter-op threads: only before any parallel work, once per process. */
int segq_set_num_interop_threads(int n);
/* Seeds CPU and CUDA generators (at::manual_seed). */
int segq_manual_seed(uint64_t seed);

/* ------------------------------------------------------------------ */
/* Creation (result owned by the current scope)                        */

segq_tensor *segq_zeros(const int64_t *shape, int ndim, segq_dtype dt, segq_device dev);
segq_tensor *segq_ones(const int64_t *shape, int ndim, segq_dtype dt, segq_device dev);
segq_tensor *segq_full(const int64_t *shape, int ndim, double value, segq_dtype dt,
                       segq_device dev);
/* 0-dimensional tensor holding value. */
segq_tensor *segq_scalar(double value, segq_dtype dt, segq_device dev);
/* N(0,1) and U[0,1) from the global generator (see segq_manual_seed). */
segq_tensor *segq_randn(const int64_t *shape, int ndim, segq_dtype dt, segq_device dev);
segq_tensor *segq_rand(const int64_t *shape, int ndim, segq_dtype dt, segq_device dev);
segq_tensor *segq_arange(double start, double end, double step, segq_dtype dt,
                         segq_device dev);
/* Same shape, dtype and device as t. */
segq_tensor *segq_zeros_like(segq_tensor *t);
segq_tensor *segq_ones_like(segq_tensor *t);
segq_tensor *segq_randn_like(segq_tensor *t);
segq_tensor *segq_rand_like(segq_tensor *t);
/* Copies count = prod(shape) floats into a new float32 tensor on dev. */
segq_tensor *segq_from_floats(const float *data, const int64_t *shape, int ndim,
                              segq_device dev);
/* Copies nbytes of raw little-endian elements of type dt; nbytes must be
 * exactly prod(shape) * segq_dtype_size(dt). For loading safetensors. */
segq_tensor *segq_from_bytes(const void *data, size_t nbytes, segq_dtype dt,
                             const int64_t *shape, int ndim, segq_device dev);

/* ------------------------------------------------------------------ */
/* Queries and copying out                                             */

int segq_dim(segq_tensor *t);                   /* ndim, or negative code */
int64_t segq_size(segq_tensor *t, int dim);     /* negative code on error */
/* Writes min(ndim, max) sizes to out; returns ndim or a negative code. */
int segq_shape(segq_tensor *t, int64_t *out, int max);
int64_t segq_numel(segq_tensor *t);
/* 0 and *out set, or a negative code. */
int segq_dtype_of(segq_tensor *t, segq_dtype *out);
int segq_device_of(segq_tensor *t, segq_device *out);
int segq_is_contiguous(segq_tensor *t);         /* 1, 0 or negative code */
/* Writes e.g. "float32[1, 4, 25, 30] cpu requires_grad" into buf. */
int segq_describe(segq_tensor *t, char *buf, size_t n);
/* Value of a one-element tensor, as double. */
int segq_item(segq_tensor *t, double *out);
/* Converts to float32 on the CPU and copies; count must equal numel. */
int segq_to_floats(segq_tensor *t, float *out, size_t count);
/* Raw view of a contiguous CPU tensor (for the safetensors writer). The
 * pointer is valid while the handle lives. Use segq_cpu_contiguous first. */
int segq_data(segq_tensor *t, const void **data, size_t *nbytes);

/* ------------------------------------------------------------------ */
/* Conversion, copying, in-place state changes                         */

segq_tensor *segq_to_dtype(segq_tensor *t, segq_dtype dt);
segq_tensor *segq_to_device(segq_tensor *t, segq_device dev);
/* t on the CPU, contiguous (a no-op alias when it already is). */
segq_tensor *segq_cpu_contiguous(segq_tensor *t);
segq_tensor *segq_contiguous(segq_tensor *t);
/* The same values in NHWC memory (torch.channels_last) for a 4-d t: the
 * layout oneDNN's convolutions take without reordering; ops keep it. */
segq_tensor *segq_channels_last(segq_tensor *t);
segq_tensor *segq_clone(segq_tensor *t);
segq_tensor *segq_detach(segq_tensor *t);
/* In-place, outside autograd (loading, init, weight transfer): */
int segq_copy_(segq_tensor *dst, segq_tensor *src); /* broadcasts, casts */
int segq_fill_(segq_tensor *t, double value);
int segq_zero_(segq_tensor *t);
int segq_normal_(segq_tensor *t, double mean, double std);

/* ------------------------------------------------------------------ */
/* Shape ops                                                           */

segq_tensor *segq_reshape(segq_tensor *t, const int64_t *shape, int ndim);
segq_tensor *segq_view(segq_tensor *t, const int64_t *shape, int ndim);
segq_tensor *segq_permute(segq_tensor *t, const int64_t *dims, int ndim);
segq_tensor *segq_transpose(segq_tensor *t, int dim0, int dim1);
segq_tensor *segq_unsqueeze(segq_tensor *t, int dim);
segq_tensor *segq_squeeze(segq_tensor *t, int dim);
/* length elements of dim from start (a view). */
segq_tensor *segq_narrow(segq_tensor *t, int dim, int64_t start, int64_t length);
/* [start, end) by step along dim (a view); end is clamped like Python. */
segq_tensor *segq_slice(segq_tensor *t, int dim, int64_t start, int64_t end, int64_t step);
segq_tensor *segq_cat(segq_tensor *const *ts, int n, int dim);
segq_tensor *segq_stack(segq_tensor *const *ts, int n, int dim);
segq_tensor *segq_repeat(segq_tensor *t, const int64_t *reps, int n);
/* Broadcast view; -1 keeps a size. */
segq_tensor *segq_expand(segq_tensor *t, const int64_t *shape, int ndim);
segq_tensor *segq_flip(segq_tensor *t, const int64_t *dims, int n);
/* Constant pad, pads in F.pad order (last dim first: left, right, top,
 * bottom, ...); npad even. */
segq_tensor *segq_pad(segq_tensor *t, const int64_t *pads, int npad, double value);

/* ------------------------------------------------------------------ */
/* Elementwise                                                         */

segq_tensor *segq_add(segq_tensor *a, segq_tensor *b);
segq_tensor *segq_sub(segq_tensor *a, segq_tensor *b);
segq_tensor *segq_mul(segq_tensor *a, segq_tensor *b);
segq_tensor *segq_div(segq_tensor *a, segq_tensor *b);
/* a + alpha * b */
segq_tensor *segq_add_scaled(segq_tensor *a, segq_tensor *b, double alpha);
segq_tensor *segq_add_scalar(segq_tensor *a, double s);
segq_tensor *segq_sub_scalar(segq_tensor *a, double s);
/* s - a */
segq_tensor *segq_rsub_scalar(segq_tensor *a, double s);
segq_tensor *segq_mul_scalar(segq_tensor *a, double s);
segq_tensor *segq_div_scalar(segq_tensor *a, double s);
segq_tensor *segq_pow(segq_tensor *a, segq_tensor *exponent);
segq_tensor *segq_pow_scalar(segq_tensor *a, double exponent);
segq_tensor *segq_neg(segq_tensor *a);
segq_tensor *segq_sqrt(segq_tensor *a);
segq_tensor *segq_abs(segq_tensor *a);
segq_tensor *segq_exp(segq_tensor *a);
segq_tensor *segq_log(segq_tensor *a);
/* Pass -INFINITY / INFINITY for an open bound. */
segq_tensor *segq_clamp(segq_tensor *a, double lo, double hi);
segq_tensor *segq_maximum(segq_tensor *a, segq_tensor *b);
segq_tensor *segq_minimum(segq_tensor *a, segq_tensor *b);
/* Comparison as 0/1 in a's dtype (float for float inputs). */
segq_tensor *segq_compare_scalar(segq_tensor *a, segq_cmp op, double s);
segq_tensor *segq_compare(segq_tensor *a, segq_cmp op, segq_tensor *b);
segq_tensor *segq_where(segq_tensor *cond, segq_tensor *a, segq_tensor *b);

/* Activations */
segq_tensor *segq_relu(segq_tensor *a);
segq_tensor *segq_leaky_relu(segq_tensor *a, double negative_slope);
segq_tensor *segq_tanh(segq_tensor *a);
segq_tensor *segq_sigmoid(segq_tensor *a);

/* ------------------------------------------------------------------ */
/* Reductions, losses, products                                        */

segq_tensor *segq_sum(segq_tensor *a);  /* over all elements: 0-dim */
segq_tensor *segq_mean(segq_tensor *a);
segq_tensor *segq_max(segq_tensor *a);
segq_tensor *segq_min(segq_tensor *a);
segq_tensor *segq_sum_dims(segq_tensor *a, const int64_t *dims, int n, int keepdim);
segq_tensor *segq_mean_dims(segq_tensor *a, const int64_t *dims, int n, int keepdim);
/* p-norm over one dim (p = 2: Euclidean). */
segq_tensor *segq_norm_dim(segq_tensor *a, double p, int dim, int keepdim);
/* Mean squared error, reduction 'mean'. */
segq_tensor *segq_mse_loss(segq_tensor *input, segq_tensor *target);
segq_tensor *segq_matmul(segq_tensor *a, segq_tensor *b);
segq_tensor *segq_bmm(segq_tensor *a, segq_tensor *b);

/* ------------------------------------------------------------------ */
/* Neural network ops (NCHW)                                           */

/* bias may be NULL. Square stride/padding/dilation. */
segq_tensor *segq_conv2d(segq_tensor *x, segq_tensor *w, segq_tensor *bias, int stride,
                         int padding, int dilation, int groups);
segq_tensor *segq_conv_transpose2d(segq_tensor *x, segq_tensor *w, segq_tensor *bias,
                                   int stride, int padding, int output_padding,
                                   int groups, int dilation);
/* weight, bias, running_mean, running_var may each be NULL. With
 * training != 0, batch statistics are used and the running statistics
 * (when given) are updated in place with momentum. */
segq_tensor *segq_batch_norm(segq_tensor *x, segq_tensor *weight, segq_tensor *bias,
                             segq_tensor *running_mean, segq_tensor *running_var,
                             int training, double momentum, double eps);
/* To an explicit output size. align_corners only for bilinear/bicubic;
 * antialias (for downscaling) only for bilinear/bicubic, as
 * F.interpolate(..., antialias=True). */
segq_tensor *segq_interpolate(segq_tensor *x, int64_t out_h, int64_t out_w,
                              segq_interp mode, int align_corners, int antialias);
/* By scale factors, as F.interpolate(scale_factor=(sh, sw)) with
 * recompute_scale_factor unset: size floor(in * s), and the kernel maps
 * coordinates with the given factors. */
segq_tensor *segq_interpolate_scale(segq_tensor *x, double scale_h, double scale_w,
                                    segq_interp mode, int align_corners, int antialias);
segq_tensor *segq_max_pool2d(segq_tensor *x, int kernel, int stride, int padding);
/* count_include_pad as torch's default (true). */
segq_tensor *segq_avg_pool2d(segq_tensor *x, int kernel, int stride, int padding);

/* ------------------------------------------------------------------ */
/* Autograd                                                            */

int segq_set_requires_grad(segq_tensor *t, int flag);
int segq_requires_grad(segq_tensor *t); /* 1, 0 or negative code */
/* loss.backward(); a non-scalar loss is an error. */
int segq_backward(segq_tensor *loss, int retain_graph, int create_graph);
/* torch.autograd.backward(outputs, grad_outputs): accumulates into the
 * leaves' .grad the gradient of sum_i <outputs[i], grad_outputs[i]>, i.e.
 * backpropagates gradients the caller computed for n intermediate
 * tensors in one pass (shapes must match pairwise). */
int segq_backward_from(segq_tensor *const *outputs, segq_tensor *const *grad_outputs, int n);
/* Handle to t.grad (scoped); NULL with an error if it has none. */
segq_tensor *segq_grad(segq_tensor *t);
/* Drops t.grad (set to none, as optimizer.zero_grad(set_to_none=True)). */
int segq_zero_grad(segq_tensor *t);
/* torch.autograd.grad(outputs, inputs, grad_outputs, retain_graph,
 * create_graph): grad_outputs may be NULL (outputs must then be scalars)
 * or an array of nout tensors. Writes nin scoped handles to grads_out
 * (all NULL on failure). An input that does not reach the outputs is an
 * error. create_graph != 0 makes the gradients differentiable (double
 * backward, e.g. the WGAN-GP penalty). */
int segq_autograd_grad(segq_tensor *const *outputs, int nout, segq_tensor *const *inputs,
                       int nin, segq_tensor *const *grad_outputs, segq_tensor **grads_out,
                       int retain_graph, int create_graph);

/* No-grad regions: a thread-local stack. */
int segq_no_grad_begin(void);
int segq_no_grad_end(void);
int segq_grad_enabled(void); /* 1 or 0 */

/* Autocast (mixed precision) regions: a thread-local stack. dt is
 * SEGQ_BF16 or SEGQ_F16. Ops on the device type inside run in dt where
 * torch's autocast policy says so (convolutions, matmuls). */
int segq_autocast_begin(segq_device_type type, segq_dtype dt);
int segq_autocast_end(void);

/* ------------------------------------------------------------------ */
/* Adam (torch::optim::Adam)                                           */

/* params: n tensors (normally persistent, requires_grad set); the
 * optimiser keeps its own references. eps 1e-8 and weight_decay 0 are
 * torch's defaults. */
segq_adam *segq_adam_new(segq_tensor *const *params, int n, double lr, double beta1,
                         double beta2, double eps, double weight_decay);
void segq_adam_destroy(segq_adam **opt);
int segq_adam_step(segq_adam *opt);
/* Drops the gradients of all params (set to none). */
int segq_adam_zero_grad(segq_adam *opt);
int segq_adam_set_lr(segq_adam *opt, double lr);
double segq_adam_get_lr(segq_adam *opt); /* NaN on error */

/* ------------------------------------------------------------------ */
/* Profiling (libtorch's autograd profiler, CPU times per op)          */

/* Records every op this thread runs until segq_profile_end, which
 * appends a table (self and total milliseconds and calls per op, the
 * max_rows largest by self time; 0: all) titled `title` to the file at
 * path (NULL: drop the records). */
int segq_profile_begin(void);
int segq_profile_end(const char *path, const char *title, int max_rows);

#ifdef __cplusplus
}
#endif

#endif /* SEGQ_TORCH_H */
