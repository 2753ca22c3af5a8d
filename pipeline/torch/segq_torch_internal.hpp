// Shared by the shim's two translation units; never included from C.
#ifndef SEGQ_TORCH_INTERNAL_HPP
#define SEGQ_TORCH_INTERNAL_HPP

#include <ATen/ATen.h>
#include <c10/core/GradMode.h>

#include <stdexcept>
#include <string>
#include <vector>

#include "segq_torch.h"

struct segqt__scope;

// A handle: one at::Tensor reference, linked into the scope that owns it
// (owner NULL: persistent, owned by the caller).
struct segqt_tensor {
    at::Tensor t;
    segqt_tensor *prev = nullptr;
    segqt_tensor *next = nullptr;
    segqt__scope *owner = nullptr;
};

namespace segqt
{

// A caller mistake found by the shim itself (not by libtorch).
struct Error : std::runtime_error {
    int code;
    Error(int c, const std::string &m) : std::runtime_error(m), code(c)
    {
    }
};
// A NULL tensor argument: the sticky case (keeps an earlier error).
struct NullArg {
};

// Records the active exception (call only inside a catch block) for fn;
// returns the code recorded.
int record_exception(const char *fn);
void set_error(int code, const char *fn, const std::string &msg);

// The tensor behind a handle; throws NullArg for NULL.
inline at::Tensor &ten(segqt_tensor *p)
{
    if (!p)
        throw NullArg{};
    return p->t;
}
// Gives t a handle owned by the innermost scope; throws without a scope.
segqt_tensor *wrap(at::Tensor t);
// Throws unless a scope is open (check before doing work whose results
// would otherwise be lost half-way).
void need_scope();

at::ScalarType scalar_type(segqt_dtype dt);
segqt_dtype from_scalar_type(at::ScalarType st);
at::Device device(segqt_device d);
std::vector<int64_t> shape_vec(const int64_t *shape, int ndim, const char *what);

// Runs f (returning at::Tensor) and wraps its result; NULL on failure.
template <class F> segqt_tensor *run_t(const char *fn, F &&f)
{
    try {
        return wrap(f());
    } catch (...) {
        record_exception(fn);
        return nullptr;
    }
}
// Runs f (returning int); a negative code on failure.
template <class F> int run_i(const char *fn, F &&f)
{
    try {
        return f();
    } catch (...) {
        return record_exception(fn);
    }
}

// BatchNorm in training mode with the lean double backward of
// segq_torch_bn.cpp: whether it applies (switched on, grad mode on, an
// affine layer with something to differentiate), and the op itself.
// running_mean and running_var may be undefined.
bool lean_batch_norm(const at::Tensor &x, const at::Tensor &w, const at::Tensor &b);
at::Tensor batch_norm_train(const at::Tensor &x, const at::Tensor &w, const at::Tensor &b,
                            const at::Tensor &running_mean, const at::Tensor &running_var,
                            double momentum, double eps);

} // namespace segqt

#endif
