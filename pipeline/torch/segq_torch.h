/*
 * segq_torch.h: a thin C API over libtorch (the only C++ in segq lives
 * behind this header). Tensors are opaque handles; every op is libtorch's
 * own implementation (one derivative is ours: segqt_batch_norm's second,
 * see segqt_set_lean_bn_double_backward).
 *
 * PREFIX
 *   Every name here starts with segqt_ / SEGQT_ ("segq torch"), so the
 *   shim's names (segqt_add, segqt_tensor, SEGQT_F32, ...) stay apart from
 *   the segq_ names of the project's own libraries; its error codes are the
 *   project's (below).
 *
 * ERRORS
 *   Functions that return a tensor return NULL on failure; functions that
 *   do not return a tensor return an int, 0 on success or a negative
 *   SEGQ_E* code of segq_error.h (text: segq_strerror). The shim's own:
 *     SEGQ_EINVAL     bad argument: NULL, bad shape, bad enum value
 *     SEGQ_ENOMEM     host allocation failed
 *     SEGQ_ENODEV     device absent, or CUDA not compiled in
 *     SEGQ_ETORCH     libtorch raised: the message says why
 *     SEGQ_EGPUMEM    the GPU's memory (or this process's share) is exhausted
 *     SEGQ_EINTERNAL  a caller's bug: no open scope, scope or guard misuse
 *   Either way a thread-local message is recorded: segqt_last_error() /
 *   segqt_last_code(). C++ exceptions never cross this header: the message
 *   is "segqt_fn: <libtorch's message, without its C++ backtrace>".
 *   Sticky propagation: an op given a NULL tensor returns NULL (or an
 *   error code) WITHOUT replacing an error that is already recorded, so C
 *   code can chain several ops and check once, at the end:
 *       y = segqt_tanh(segqt_conv2d(x, w, b, 1, 0, 1, 1));
 *       if (!y) fprintf(stderr, "%s\n", segqt_last_error());
 *   A real failure (libtorch raised, bad argument) always replaces the
 *   recorded error. segqt_clear_error() forgets it.
 *
 * LIFETIME: scopes
 *   Every tensor handle an op returns is owned by the innermost open scope
 *   of the calling thread (segqt_scope_begin / segqt_scope_end, a
 *   thread-local stack) and freed when that scope ends. Creating a tensor
 *   with no open scope is an error (SEGQ_EINTERNAL), so nothing can
 *   leak silently.
 *     segqt_keep(t)    moves t to the parent scope (return values).
 *     segqt_persist(t) takes t out of every scope: the caller owns it and
 *                      frees it with segqt_tensor_destroy(&t) (parameters,
 *                      running statistics, model state).
 *     segqt_tensor_destroy(&t) frees any handle early (scoped or not).
 *   Freeing a handle drops only this handle's reference: the storage lives
 *   while libtorch still needs it (autograd graph, views, the optimiser).
 *   Handles of a scope belong to the thread that opened it: another
 *   thread may read them, but segqt_keep/segqt_persist from there fail
 *   (SEGQ_EINTERNAL) and segqt_tensor_destroy must not be called there.
 *   segqt_live_tensors() counts all live handles (tests use it).
 *
 * GRAD MODE, AUTOCAST
 *   segqt_no_grad_begin/end and segqt_autocast_begin/end are thread-local
 *   stacks as well; "training vs eval" is only batch_norm's flag.
 *
 * Arguments: shapes are int64_t arrays with their length (ndim); dim
 * indices may be negative (counted from the end), as in torch.
 */
#ifndef SEGQ_TORCH_H
#define SEGQ_TORCH_H

#include <stddef.h>
#include <stdint.h>

#include "segq_error.h"

#ifdef __cplusplus
extern "C" {
#endif

/* ------------------------------------------------------------------ */
/* Types                                                               */

/* C++ (the shim) sees the enums with a fixed int type, so a value a C
 * caller passes outside the list is a checked error there, not undefined
 * behaviour; for C nothing changes (an enum is an int). */
#ifdef __cplusplus
#define SEGQT_ENUM enum : int
#else
#define SEGQT_ENUM enum
#endif

typedef struct segqt_tensor segqt_tensor; /* opaque handle */
typedef struct segqt_adam segqt_adam;     /* opaque Adam optimiser */
typedef struct segqt_graph segqt_graph;   /* opaque captured CUDA graph */

typedef SEGQT_ENUM{SEGQT_F32 = 0, SEGQT_F16 = 1, SEGQT_BF16 = 2, SEGQT_F64 = 3,
                   SEGQT_I64 = 4, SEGQT_I32 = 5, SEGQT_I16 = 6,  SEGQT_I8 = 7,
                   SEGQT_U8 = 8,  SEGQT_BOOL = 9} segqt_dtype;

typedef SEGQT_ENUM{SEGQT_DEVICE_CPU = 0, SEGQT_DEVICE_CUDA = 1} segqt_device_type;

/* index: CUDA ordinal (>= 0), or -1 for "the current one"; -1 for CPU. */
typedef struct {
    segqt_device_type type;
    int index;
} segqt_device;

#define SEGQT_CPU ((segqt_device){SEGQT_DEVICE_CPU, -1})

typedef SEGQT_ENUM{SEGQT_INTERP_NEAREST = 0, /* torch 'nearest' (floor mapping)          */
                   SEGQT_INTERP_BILINEAR = 1, SEGQT_INTERP_BICUBIC = 2} segqt_interp;

typedef SEGQT_ENUM{SEGQT_GT = 0, SEGQT_GE, SEGQT_LT, SEGQT_LE, SEGQT_EQ, SEGQT_NE} segqt_cmp;

/* ------------------------------------------------------------------ */
/* Errors                                                              */

/* Message of the recorded error ("" when none). Valid until the next
 * segqt call on this thread that fails or clears. */
const char *segqt_last_error(void);
/* Code of the recorded error, 0 when none. */
int segqt_last_code(void);
void segqt_clear_error(void);

/* ------------------------------------------------------------------ */
/* Scopes and handle lifetime                                          */

/* Opens a scope; returns the new depth (>= 1) or a negative code. */
int segqt_scope_begin(void);
/* Frees every handle the innermost scope owns; 0 or SEGQ_EINTERNAL. */
int segqt_scope_end(void);
/* Number of open scopes on this thread. */
int segqt_scope_depth(void);
/* Moves t to the parent scope; returns t, NULL if there is none. */
segqt_tensor *segqt_keep(segqt_tensor *t);
/* Takes t out of its scope: the caller owns it. Returns t. */
segqt_tensor *segqt_persist(segqt_tensor *t);
/* Frees the handle and sets *t to NULL; NULL or *t NULL is a no-op. */
void segqt_tensor_destroy(segqt_tensor **t);
/* New handle to the same tensor (shares storage and autograd identity),
 * owned by the current scope. */
segqt_tensor *segqt_alias(segqt_tensor *t);
/* All live handles in the process (scoped and persistent). */
int64_t segqt_live_tensors(void);

/* ------------------------------------------------------------------ */
/* Dtypes and devices                                                  */

/* Bytes per element; 0 for an unknown value. */
size_t segqt_dtype_size(segqt_dtype dt);
/* safetensors spelling: "F32", "F16", "BF16", "F64", "I64", "I32", "I16",
 * "I8", "U8", "BOOL"; NULL for an unknown value. */
const char *segqt_dtype_name(segqt_dtype dt);
/* Inverse of segqt_dtype_name; 0 or SEGQ_EINVAL. */
int segqt_dtype_from_name(const char *name, segqt_dtype *out);

/* Parses "cpu", "cuda", "cuda:N". Syntax only; see segqt_device_check. */
int segqt_device_parse(const char *s, segqt_device *out);
/* 0 if tensors can be made on d here, else SEGQ_ENODEV with a
 * message (no CUDA in this build / ordinal out of range). */
int segqt_device_check(segqt_device d);
/* Writes "cpu" / "cuda" / "cuda:N"; returns the length or a negative code. */
int segqt_device_format(segqt_device d, char *buf, size_t n);

/* 1 if this build of the shim was compiled against a CUDA libtorch. */
int segqt_has_cuda_build(void);
/* Number of usable CUDA devices (0 on a CPU build or without a GPU). */
int segqt_cuda_device_count(void);
typedef struct {
    int index;
    char name[256];
    uint64_t total_bytes;
    uint64_t free_bytes;
    int major, minor; /* compute capability */
} segqt_cuda_info;
int segqt_cuda_device_info(int index, segqt_cuda_info *out);
/* Caps this process's CUDA caching allocator on device at fraction
 * (0, 1] of its memory: an allocation beyond it fails with
 * SEGQ_EGPUMEM, as a real out-of-memory does. */
int segqt_cuda_set_memory_fraction(double fraction, int device);
/* The most memory the caching allocator has reserved on `device` since the
   process began or segqt_cuda_reset_peak (what nvidia-smi would have shown
   at the peak), in *out; SEGQ_ENODEV without CUDA. */
int segqt_cuda_peak_reserved(int device, uint64_t *out);
/* Starts the peak of segqt_cuda_peak_reserved again from what is reserved
   now (a long-lived process measures each job); SEGQ_ENODEV without CUDA. */
int segqt_cuda_reset_peak(int device);
/* Waits for all work on the device (-1: current). 0 on CPU builds. */
int segqt_cuda_synchronize(int device);
/* CPUs this process may run on (affinity mask). */
int segqt_cpu_count(void);
/* libtorch's version, e.g. "1.13.1". */
const char *segqt_version(void);
/* The instruction set of libtorch's own CPU kernels ("AVX2", "AVX512",
 * ...), as its build summary names it. 0 or an error code. */
int segqt_cpu_kernels(char *out, size_t outlen);

/* Intra-op threads (at::set_num_threads). */
int segqt_set_num_threads(int n);
int segqt_get_num_threads(void);
/* Inter-op threads: only before any parallel work, once per process. */
int segqt_set_num_interop_threads(int n);
/* Seeds CPU and CUDA generators (at::manual_seed). */
int segqt_manual_seed(uint64_t seed);

/* ------------------------------------------------------------------ */
/* Creation (result owned by the current scope)                        */

segqt_tensor *segqt_zeros(const int64_t *shape, int ndim, segqt_dtype dt, segqt_device dev);
segqt_tensor *segqt_ones(const int64_t *shape, int ndim, segqt_dtype dt, segqt_device dev);
segqt_tensor *segqt_full(const int64_t *shape, int ndim, double value, segqt_dtype dt,
                         segqt_device dev);
/* 0-dimensional tensor holding value. */
segqt_tensor *segqt_scalar(double value, segqt_dtype dt, segqt_device dev);
/* N(0,1) and U[0,1) from the global generator (see segqt_manual_seed). */
segqt_tensor *segqt_randn(const int64_t *shape, int ndim, segqt_dtype dt, segqt_device dev);
segqt_tensor *segqt_rand(const int64_t *shape, int ndim, segqt_dtype dt, segqt_device dev);
segqt_tensor *segqt_arange(double start, double end, double step, segqt_dtype dt, segqt_device dev);
/* Same shape, dtype and device as t. */
segqt_tensor *segqt_zeros_like(segqt_tensor *t);
segqt_tensor *segqt_ones_like(segqt_tensor *t);
segqt_tensor *segqt_randn_like(segqt_tensor *t);
segqt_tensor *segqt_rand_like(segqt_tensor *t);
/* Copies count = prod(shape) floats into a new float32 tensor on dev. */
segqt_tensor *segqt_from_floats(const float *data, const int64_t *shape, int ndim,
                                segqt_device dev);
/* Copies nbytes of raw little-endian elements of type dt; nbytes must be
 * exactly prod(shape) * segqt_dtype_size(dt). For loading safetensors. */
segqt_tensor *segqt_from_bytes(const void *data, size_t nbytes, segqt_dtype dt,
                               const int64_t *shape, int ndim, segqt_device dev);

/* ------------------------------------------------------------------ */
/* Queries and copying out                                             */

int segqt_dim(segqt_tensor *t);               /* ndim, or negative code */
int64_t segqt_size(segqt_tensor *t, int dim); /* negative code on error */
/* Writes min(ndim, max) sizes to out; returns ndim or a negative code. */
int segqt_shape(segqt_tensor *t, int64_t *out, int max);
int64_t segqt_numel(segqt_tensor *t);
/* 0 and *out set, or a negative code. */
int segqt_dtype_of(segqt_tensor *t, segqt_dtype *out);
int segqt_device_of(segqt_tensor *t, segqt_device *out);
int segqt_is_contiguous(segqt_tensor *t); /* 1, 0 or negative code */
/* Writes e.g. "float32[1, 4, 25, 30] cpu requires_grad" into buf. */
int segqt_describe(segqt_tensor *t, char *buf, size_t n);
/* Value of a one-element tensor, as double. */
int segqt_item(segqt_tensor *t, double *out);
/* Converts to float32 on the CPU and copies; count must equal numel. */
int segqt_to_floats(segqt_tensor *t, float *out, size_t count);
/* Raw view of a contiguous CPU tensor (for the safetensors writer). The
 * pointer is valid while the handle lives. Use segqt_cpu_contiguous first. */
int segqt_data(segqt_tensor *t, const void **data, size_t *nbytes);

/* ------------------------------------------------------------------ */
/* Conversion, copying, in-place state changes                         */

segqt_tensor *segqt_to_dtype(segqt_tensor *t, segqt_dtype dt);
segqt_tensor *segqt_to_device(segqt_tensor *t, segqt_device dev);
/* t on the CPU, contiguous (a no-op alias when it already is). */
segqt_tensor *segqt_cpu_contiguous(segqt_tensor *t);
segqt_tensor *segqt_contiguous(segqt_tensor *t);
/* The same values in NHWC memory (torch.channels_last) for a 4-d t: the
 * layout oneDNN's convolutions take without reordering; ops keep it. */
segqt_tensor *segqt_channels_last(segqt_tensor *t);
segqt_tensor *segqt_clone(segqt_tensor *t);
segqt_tensor *segqt_detach(segqt_tensor *t);
/* In-place, outside autograd (loading, init, weight transfer): */
int segqt_copy_(segqt_tensor *dst, segqt_tensor *src); /* broadcasts, casts */
int segqt_fill_(segqt_tensor *t, double value);
int segqt_zero_(segqt_tensor *t);
int segqt_normal_(segqt_tensor *t, double mean, double std);

/* ------------------------------------------------------------------ */
/* Shape ops                                                           */

segqt_tensor *segqt_reshape(segqt_tensor *t, const int64_t *shape, int ndim);
segqt_tensor *segqt_view(segqt_tensor *t, const int64_t *shape, int ndim);
segqt_tensor *segqt_permute(segqt_tensor *t, const int64_t *dims, int ndim);
segqt_tensor *segqt_transpose(segqt_tensor *t, int dim0, int dim1);
segqt_tensor *segqt_unsqueeze(segqt_tensor *t, int dim);
segqt_tensor *segqt_squeeze(segqt_tensor *t, int dim);
/* length elements of dim from start (a view). */
segqt_tensor *segqt_narrow(segqt_tensor *t, int dim, int64_t start, int64_t length);
/* [start, end) by step along dim (a view); end is clamped like Python. */
segqt_tensor *segqt_slice(segqt_tensor *t, int dim, int64_t start, int64_t end, int64_t step);
segqt_tensor *segqt_cat(segqt_tensor *const *ts, int n, int dim);
segqt_tensor *segqt_stack(segqt_tensor *const *ts, int n, int dim);
segqt_tensor *segqt_repeat(segqt_tensor *t, const int64_t *reps, int n);
/* Broadcast view; -1 keeps a size. */
segqt_tensor *segqt_expand(segqt_tensor *t, const int64_t *shape, int ndim);
segqt_tensor *segqt_flip(segqt_tensor *t, const int64_t *dims, int n);
/* Constant pad, pads in F.pad order (last dim first: left, right, top,
 * bottom, ...); npad even. */
segqt_tensor *segqt_pad(segqt_tensor *t, const int64_t *pads, int npad, double value);

/* ------------------------------------------------------------------ */
/* Elementwise                                                         */

segqt_tensor *segqt_add(segqt_tensor *a, segqt_tensor *b);
segqt_tensor *segqt_sub(segqt_tensor *a, segqt_tensor *b);
segqt_tensor *segqt_mul(segqt_tensor *a, segqt_tensor *b);
segqt_tensor *segqt_div(segqt_tensor *a, segqt_tensor *b);
/* a + alpha * b */
segqt_tensor *segqt_add_scaled(segqt_tensor *a, segqt_tensor *b, double alpha);
segqt_tensor *segqt_add_scalar(segqt_tensor *a, double s);
segqt_tensor *segqt_sub_scalar(segqt_tensor *a, double s);
/* s - a */
segqt_tensor *segqt_rsub_scalar(segqt_tensor *a, double s);
segqt_tensor *segqt_mul_scalar(segqt_tensor *a, double s);
segqt_tensor *segqt_div_scalar(segqt_tensor *a, double s);
segqt_tensor *segqt_pow(segqt_tensor *a, segqt_tensor *exponent);
segqt_tensor *segqt_pow_scalar(segqt_tensor *a, double exponent);
segqt_tensor *segqt_neg(segqt_tensor *a);
segqt_tensor *segqt_sqrt(segqt_tensor *a);
segqt_tensor *segqt_abs(segqt_tensor *a);
segqt_tensor *segqt_exp(segqt_tensor *a);
segqt_tensor *segqt_log(segqt_tensor *a);
/* Pass -INFINITY / INFINITY for an open bound. */
segqt_tensor *segqt_clamp(segqt_tensor *a, double lo, double hi);
segqt_tensor *segqt_maximum(segqt_tensor *a, segqt_tensor *b);
segqt_tensor *segqt_minimum(segqt_tensor *a, segqt_tensor *b);
/* Comparison as 0/1 in a's dtype (float for float inputs). */
segqt_tensor *segqt_compare_scalar(segqt_tensor *a, segqt_cmp op, double s);
segqt_tensor *segqt_compare(segqt_tensor *a, segqt_cmp op, segqt_tensor *b);
segqt_tensor *segqt_where(segqt_tensor *cond, segqt_tensor *a, segqt_tensor *b);

/* Activations */
segqt_tensor *segqt_relu(segqt_tensor *a);
segqt_tensor *segqt_leaky_relu(segqt_tensor *a, double negative_slope);
segqt_tensor *segqt_tanh(segqt_tensor *a);
segqt_tensor *segqt_sigmoid(segqt_tensor *a);

/* ------------------------------------------------------------------ */
/* Reductions, losses, products                                        */

segqt_tensor *segqt_sum(segqt_tensor *a); /* over all elements: 0-dim */
segqt_tensor *segqt_mean(segqt_tensor *a);
segqt_tensor *segqt_max(segqt_tensor *a);
segqt_tensor *segqt_min(segqt_tensor *a);
segqt_tensor *segqt_sum_dims(segqt_tensor *a, const int64_t *dims, int n, int keepdim);
segqt_tensor *segqt_mean_dims(segqt_tensor *a, const int64_t *dims, int n, int keepdim);
/* p-norm over one dim (p = 2: Euclidean). */
segqt_tensor *segqt_norm_dim(segqt_tensor *a, double p, int dim, int keepdim);
/* Mean squared error, reduction 'mean'. */
segqt_tensor *segqt_mse_loss(segqt_tensor *input, segqt_tensor *target);
segqt_tensor *segqt_matmul(segqt_tensor *a, segqt_tensor *b);
segqt_tensor *segqt_bmm(segqt_tensor *a, segqt_tensor *b);

/* ------------------------------------------------------------------ */
/* Neural network ops (NCHW)                                           */

/* bias may be NULL. Square stride/padding/dilation. */
segqt_tensor *segqt_conv2d(segqt_tensor *x, segqt_tensor *w, segqt_tensor *bias, int stride,
                           int padding, int dilation, int groups);
segqt_tensor *segqt_conv_transpose2d(segqt_tensor *x, segqt_tensor *w, segqt_tensor *bias,
                                     int stride, int padding, int output_padding, int groups,
                                     int dilation);
/* weight, bias, running_mean, running_var may each be NULL. With
 * training != 0, batch statistics are used and the running statistics
 * (when given) are updated in place with momentum. */
segqt_tensor *segqt_batch_norm(segqt_tensor *x, segqt_tensor *weight, segqt_tensor *bias,
                               segqt_tensor *running_mean, segqt_tensor *running_var, int training,
                               double momentum, double eps);
/* How batch_norm in training mode is differentiated a second time (the
 * gradient penalty): lean (the default) folds its double backward into
 * per-channel coefficients and a few fused passes (segq_torch_bn.cpp), far
 * cheaper than libtorch's composite, which !lean selects, for tests and
 * benchmarks to compare against. Forward and first backward are
 * libtorch's either way. Process-wide; returns the previous setting. */
int segqt_set_lean_bn_double_backward(int lean);
/* To an explicit output size. align_corners only for bilinear/bicubic;
 * antialias (for downscaling) only for bilinear/bicubic, as
 * F.interpolate(..., antialias=True). */
segqt_tensor *segqt_interpolate(segqt_tensor *x, int64_t out_h, int64_t out_w, segqt_interp mode,
                                int align_corners, int antialias);
segqt_tensor *segqt_max_pool2d(segqt_tensor *x, int kernel, int stride, int padding);
/* count_include_pad as torch's default (true). */
segqt_tensor *segqt_avg_pool2d(segqt_tensor *x, int kernel, int stride, int padding);

/* ------------------------------------------------------------------ */
/* Autograd                                                            */

int segqt_set_requires_grad(segqt_tensor *t, int flag);
int segqt_requires_grad(segqt_tensor *t); /* 1, 0 or negative code */
/* loss.backward(); a non-scalar loss is an error. */
int segqt_backward(segqt_tensor *loss, int retain_graph, int create_graph);
/* torch.autograd.backward(outputs, grad_outputs): accumulates into the
 * leaves' .grad the gradient of sum_i <outputs[i], grad_outputs[i]>, i.e.
 * backpropagates gradients the caller computed for n intermediate
 * tensors in one pass (shapes must match pairwise). */
int segqt_backward_from(segqt_tensor *const *outputs, segqt_tensor *const *grad_outputs, int n);
/* Handle to t.grad (scoped); NULL with an error if it has none. */
segqt_tensor *segqt_grad(segqt_tensor *t);
/* Drops t.grad (set to none, as optimizer.zero_grad(set_to_none=True)). */
int segqt_zero_grad(segqt_tensor *t);
/* torch.autograd.grad(outputs, inputs, grad_outputs, retain_graph,
 * create_graph): grad_outputs may be NULL (outputs must then be scalars)
 * or an array of nout tensors. Writes nin scoped handles to grads_out
 * (all NULL on failure). An input that does not reach the outputs is an
 * error. create_graph != 0 makes the gradients differentiable (double
 * backward, e.g. the WGAN-GP penalty). */
int segqt_autograd_grad(segqt_tensor *const *outputs, int nout, segqt_tensor *const *inputs,
                        int nin, segqt_tensor *const *grad_outputs, segqt_tensor **grads_out,
                        int retain_graph, int create_graph);

/* No-grad regions: a thread-local stack. */
int segqt_no_grad_begin(void);
int segqt_no_grad_end(void);
int segqt_grad_enabled(void); /* 1 or 0 */

/* Autocast (mixed precision) regions: a thread-local stack. dt is
 * SEGQT_BF16 or SEGQT_F16. Ops on the device type inside run in dt where
 * torch's autocast policy says so (convolutions, matmuls). */
int segqt_autocast_begin(segqt_device_type type, segqt_dtype dt);
int segqt_autocast_end(void);

/* ------------------------------------------------------------------ */
/* Adam (torch::optim::Adam)                                           */

/* params: n tensors (normally persistent, requires_grad set); the
 * optimiser keeps its own references. eps 1e-8 and weight_decay 0 are
 * torch's defaults. */
segqt_adam *segqt_adam_new(segqt_tensor *const *params, int n, double lr, double beta1,
                           double beta2, double eps, double weight_decay);
void segqt_adam_destroy(segqt_adam **opt);
/* The same update, with the step count, bias corrections and learning
 * rate held as tensors on the parameters' device, so that its step can be
 * captured in a CUDA graph and replayed (weight decay 0). Every parameter
 * must have a gradient at each step. */
segqt_adam *segqt_adam_new_capturable(segqt_tensor *const *params, int n, double lr, double beta1,
                                      double beta2, double eps);
int segqt_adam_step(segqt_adam *opt);
/* Drops the gradients of all params (set to none). */
int segqt_adam_zero_grad(segqt_adam *opt);
int segqt_adam_set_lr(segqt_adam *opt, double lr);
double segqt_adam_get_lr(segqt_adam *opt); /* NaN on error */

/* ------------------------------------------------------------------ */
/* CUDA graphs                                                         */

/* 1 if d is a CUDA device this build can capture graphs on, else 0. */
int segqt_graph_supported(segqt_device d);
/* A graph to capture once and replay. From here until segqt_graph_destroy
 * this thread's CUDA work on d runs on the graph's own stream (after
 * waiting for the device): run the work once or twice eagerly there
 * first (cuDNN's choices, lazily made state), then capture it. Destroy
 * graphs on the thread that made them, the newest first. NULL with
 * SEGQ_EINVAL for a CPU device, SEGQ_ENODEV without CUDA. */
segqt_graph *segqt_graph_new(segqt_device d);
/* Between these two, work is recorded, not run. Each replay then runs
 * the recorded kernels again on the same memory, with fresh random
 * numbers from the CUDA generator. So the captured work must not read
 * values on the host (segqt_item, segqt_to_floats) or decide anything
 * from them, and what it reads and writes must stay allocated while the
 * graph lives (tensors made during the capture keep their memory in the
 * graph's own pool). capture_end fails (SEGQ_ETORCH) when something in
 * the capture could not be recorded; nothing captured has run then. */
int segqt_graph_capture_begin(segqt_graph *g);
int segqt_graph_capture_end(segqt_graph *g);
/* Runs the captured work on the graph's stream (asynchronously). */
int segqt_graph_replay(segqt_graph *g);
/* Waits for the graph's stream, gives the thread its stream back, and
 * frees the graph; *g set to NULL. */
void segqt_graph_destroy(segqt_graph **g);
/* cuDNN tries its convolution algorithms on the first call of each shape
 * and keeps the fastest (torch.backends.cudnn.benchmark). */
int segqt_cudnn_benchmark(int on);

/* ------------------------------------------------------------------ */
/* Profiling (libtorch's autograd profiler, CPU times per op)          */

/* Records every op this thread runs until segqt_profile_end, which
 * appends a table (self and total milliseconds and calls per op, the
 * max_rows largest by self time; 0: all) titled `title` to the file at
 * path (NULL: drop the records). */
int segqt_profile_begin(void);
int segqt_profile_end(const char *path, const char *title, int max_rows);

#ifdef __cplusplus
}
#endif

#endif /* SEGQ_TORCH_H */
