// segq_torch.cpp: errors, scopes, creation, queries and the tensor ops of
// the C shim (segq_torch.h). Every op is libtorch's; this file only
// converts arguments, catches exceptions and tracks handle ownership.
#include "segq_torch_internal.hpp"

#include <atomic>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <new>

using segqt::run_i;
using segqt::run_t;
using segqt::ten;

// ---------------------------------------------------------------------
// Errors

namespace
{
thread_local std::string t_msg;
thread_local int t_code = 0;

std::string trimmed(const char *s)
{
    std::string m(s ? s : "");
    while (!m.empty() && (m.back() == '\n' || m.back() == ' '))
        m.pop_back();
    return m;
}
} // namespace

void segqt::set_error(int code, const char *fn, const std::string &msg)
{
    t_code = code;
    t_msg = std::string(fn) + ": " + msg;
}

int segqt::record_exception(const char *fn)
{
    try {
        throw;
    } catch (const segqt::NullArg &) {
        // Sticky: a NULL input usually means an earlier op failed; keep
        // that op's message, which says what really went wrong.
        if (t_code == 0)
            set_error(SEGQ_EINVAL, fn,
                      "a tensor argument is NULL (no earlier error recorded: "
                      "pass a tensor)");
        return SEGQ_EINVAL;
    } catch (const segqt::Error &e) {
        set_error(e.code, fn, e.what());
        return e.code;
    } catch (const c10::Error &e) {
        // CUDA's caching allocator says "CUDA out of memory." in 1.13 (a
        // plain c10::Error) and 2.x (c10::OutOfMemoryError, which 1.13
        // lacks): the text is what both have. It also covers a process's
        // memory-fraction cap.
        std::string msg = trimmed(e.what_without_backtrace());
        int code = msg.find("CUDA out of memory") != std::string::npos ? SEGQ_EGPUMEM : SEGQ_ETORCH;
        set_error(code, fn, msg);
        return code;
    } catch (const std::bad_alloc &) {
        set_error(SEGQ_ENOMEM, fn, "out of memory");
        return SEGQ_ENOMEM;
    } catch (const std::exception &e) {
        set_error(SEGQ_ETORCH, fn, trimmed(e.what()));
        return SEGQ_ETORCH;
    } catch (...) {
        set_error(SEGQ_ETORCH, fn, "unknown C++ exception");
        return SEGQ_ETORCH;
    }
}

extern "C" const char *segqt_last_error(void)
{
    return t_msg.c_str();
}
extern "C" int segqt_last_code(void)
{
    return t_code;
}
extern "C" void segqt_clear_error(void)
{
    t_code = 0;
    t_msg.clear();
}

// ---------------------------------------------------------------------
// Scopes

struct segqt__scope {
    segqt_tensor *first = nullptr;
    int depth = 0; // 1 = outermost
};

namespace
{
std::atomic<int64_t> g_live{0};
thread_local std::vector<segqt__scope *> t_scopes;

void link(segqt__scope *s, segqt_tensor *h)
{
    h->owner = s;
    h->prev = nullptr;
    h->next = s->first;
    if (s->first)
        s->first->prev = h;
    s->first = h;
}

void unlink(segqt_tensor *h)
{
    segqt__scope *s = h->owner;
    if (!s)
        return;
    if (h->prev)
        h->prev->next = h->next;
    else
        s->first = h->next;
    if (h->next)
        h->next->prev = h->prev;
    h->prev = h->next = nullptr;
    h->owner = nullptr;
}

// Scope lists are thread-local and unlocked: moving a handle out of
// another thread's scope would race with that thread.
void need_own_thread(segqt_tensor *h)
{
    segqt__scope *s = h->owner;
    if (s && !((size_t)s->depth <= t_scopes.size() && t_scopes[(size_t)s->depth - 1] == s))
        throw segqt::Error(SEGQ_EINTERNAL, "tensor belongs to a scope of another thread");
}

void free_handle(segqt_tensor *h)
{
    unlink(h);
    delete h;
    g_live.fetch_sub(1, std::memory_order_relaxed);
}
} // namespace

void segqt::need_scope()
{
    if (t_scopes.empty())
        throw segqt::Error(SEGQ_EINTERNAL, "no open scope on this thread: call segqt_scope_begin() "
                                           "first (every tensor belongs to a scope)");
}

segqt_tensor *segqt::wrap(at::Tensor t)
{
    need_scope();
    auto *h = new segqt_tensor;
    h->t = std::move(t);
    link(t_scopes.back(), h);
    g_live.fetch_add(1, std::memory_order_relaxed);
    return h;
}

extern "C" int segqt_scope_begin(void)
{
    return run_i(__func__, [] {
        auto *s = new segqt__scope;
        s->depth = (int)t_scopes.size() + 1;
        t_scopes.push_back(s);
        return s->depth;
    });
}

extern "C" int segqt_scope_end(void)
{
    return run_i(__func__, [] {
        if (t_scopes.empty())
            throw segqt::Error(SEGQ_EINTERNAL,
                               "no open scope: segqt_scope_end without segqt_scope_begin");
        segqt__scope *s = t_scopes.back();
        t_scopes.pop_back();
        while (s->first)
            free_handle(s->first);
        delete s;
        return 0;
    });
}

extern "C" int segqt_scope_depth(void)
{
    return (int)t_scopes.size();
}

extern "C" segqt_tensor *segqt_keep(segqt_tensor *t)
{
    try {
        ten(t);
        if (!t->owner)
            throw segqt::Error(SEGQ_EINVAL,
                               "tensor is persistent (not in a scope): nothing to keep");
        need_own_thread(t);
        int d = t->owner->depth;
        if (d < 2)
            throw segqt::Error(SEGQ_EINTERNAL,
                               "tensor is in the outermost scope: no parent to keep it "
                               "in; use segqt_persist to own it");
        segqt__scope *parent = t_scopes.at((size_t)d - 2);
        unlink(t);
        link(parent, t);
        return t;
    } catch (...) {
        segqt::record_exception(__func__);
        return nullptr;
    }
}

extern "C" segqt_tensor *segqt_persist(segqt_tensor *t)
{
    try {
        ten(t);
        need_own_thread(t);
        unlink(t);
        return t;
    } catch (...) {
        segqt::record_exception(__func__);
        return nullptr;
    }
}

extern "C" void segqt_tensor_destroy(segqt_tensor **t)
{
    if (!t || !*t)
        return;
    free_handle(*t);
    *t = nullptr;
}

extern "C" segqt_tensor *segqt_alias(segqt_tensor *t)
{
    return run_t(__func__, [&] { return ten(t); });
}

extern "C" int64_t segqt_live_tensors(void)
{
    return g_live.load(std::memory_order_relaxed);
}

// ---------------------------------------------------------------------
// Dtypes, devices, shapes

namespace
{
struct DtypeInfo {
    segqt_dtype dt;
    at::ScalarType st;
    const char *name;      // safetensors
    const char *torchname; // for messages
    size_t size;
};
const DtypeInfo k_dtypes[] = {
    {SEGQT_F32, at::kFloat, "F32", "float32", 4},
    {SEGQT_F16, at::kHalf, "F16", "float16", 2},
    {SEGQT_BF16, at::kBFloat16, "BF16", "bfloat16", 2},
    {SEGQT_F64, at::kDouble, "F64", "float64", 8},
    {SEGQT_I64, at::kLong, "I64", "int64", 8},
    {SEGQT_I32, at::kInt, "I32", "int32", 4},
    {SEGQT_I16, at::kShort, "I16", "int16", 2},
    {SEGQT_I8, at::kChar, "I8", "int8", 1},
    {SEGQT_U8, at::kByte, "U8", "uint8", 1},
    {SEGQT_BOOL, at::kBool, "BOOL", "bool", 1},
};

const DtypeInfo *dtype_info(segqt_dtype dt)
{
    for (const auto &d : k_dtypes)
        if (d.dt == dt)
            return &d;
    return nullptr;
}

const DtypeInfo *dtype_info_st(at::ScalarType st)
{
    for (const auto &d : k_dtypes)
        if (d.st == st)
            return &d;
    return nullptr;
}

at::TensorOptions opts(segqt_dtype dt, segqt_device dev)
{
    return at::TensorOptions().dtype(segqt::scalar_type(dt)).device(segqt::device(dev));
}

int64_t checked_numel(const std::vector<int64_t> &shape)
{
    int64_t n = 1;
    for (int64_t s : shape) {
        if (s != 0 && n > INT64_MAX / s)
            throw segqt::Error(SEGQ_EINVAL, "shape has more than 2^63 elements");
        n *= s;
    }
    return n;
}
} // namespace

at::ScalarType segqt::scalar_type(segqt_dtype dt)
{
    const DtypeInfo *d = dtype_info(dt);
    if (!d)
        throw segqt::Error(SEGQ_EINVAL, "unknown segqt_dtype " + std::to_string((int)dt));
    return d->st;
}

segqt_dtype segqt::from_scalar_type(at::ScalarType st)
{
    const DtypeInfo *d = dtype_info_st(st);
    if (!d)
        throw segqt::Error(SEGQ_EINVAL, std::string("tensor dtype ") + c10::toString(st)
                                            + " has no segqt_dtype");
    return d->dt;
}

at::Device segqt::device(segqt_device d)
{
    switch (d.type) {
    case SEGQT_DEVICE_CPU:
        return at::Device(at::kCPU);
    case SEGQT_DEVICE_CUDA:
        if (d.index < -1 || d.index > 127)
            throw segqt::Error(SEGQ_EINVAL,
                               "CUDA device index " + std::to_string(d.index) + " out of range");
        return at::Device(at::kCUDA, (c10::DeviceIndex)d.index);
    }
    throw segqt::Error(SEGQ_EINVAL, "unknown device type " + std::to_string((int)d.type));
}

std::vector<int64_t> segqt::shape_vec(const int64_t *shape, int ndim, const char *what)
{
    if (ndim < 0 || ndim > 64)
        throw segqt::Error(SEGQ_EINVAL, std::string(what) + ": length " + std::to_string(ndim)
                                            + " out of range 0..64");
    if (ndim > 0 && !shape)
        throw segqt::Error(SEGQ_EINVAL, std::string(what) + " is NULL");
    return std::vector<int64_t>(shape, shape + ndim);
}

namespace
{
// Shapes of new tensors: sizes must be >= 0 (torch would say so too, but
// less clearly for from_bytes).
std::vector<int64_t> new_shape(const int64_t *shape, int ndim)
{
    auto v = segqt::shape_vec(shape, ndim, "shape");
    for (int64_t s : v)
        if (s < 0)
            throw segqt::Error(SEGQ_EINVAL, "negative size " + std::to_string(s) + " in shape");
    return v;
}
} // namespace

extern "C" size_t segqt_dtype_size(segqt_dtype dt)
{
    const DtypeInfo *d = dtype_info(dt);
    return d ? d->size : 0;
}

extern "C" const char *segqt_dtype_name(segqt_dtype dt)
{
    const DtypeInfo *d = dtype_info(dt);
    return d ? d->name : nullptr;
}

extern "C" int segqt_dtype_from_name(const char *name, segqt_dtype *out)
{
    return run_i(__func__, [&] {
        if (!name || !out)
            throw segqt::Error(SEGQ_EINVAL, "name and out must not be NULL");
        for (const auto &d : k_dtypes)
            if (std::strcmp(d.name, name) == 0) {
                *out = d.dt;
                return 0;
            }
        throw segqt::Error(SEGQ_EINVAL,
                           std::string("unknown dtype name '") + name
                               + "' (expected F32, F16, BF16, F64, I64, I32, I16, I8, U8 "
                                 "or BOOL)");
    });
}

extern "C" int segqt_device_parse(const char *s, segqt_device *out)
{
    return run_i(__func__, [&] {
        if (!s || !out)
            throw segqt::Error(SEGQ_EINVAL, "string and out must not be NULL");
        if (std::strcmp(s, "cpu") == 0) {
            *out = segqt_device{SEGQT_DEVICE_CPU, -1};
            return 0;
        }
        if (std::strcmp(s, "cuda") == 0) {
            *out = segqt_device{SEGQT_DEVICE_CUDA, -1};
            return 0;
        }
        if (std::strncmp(s, "cuda:", 5) == 0) {
            const char *p = s + 5;
            long v = 0;
            int digits = 0;
            while (*p >= '0' && *p <= '9' && digits < 4) {
                v = v * 10 + (*p - '0');
                p++;
                digits++;
            }
            if (digits > 0 && *p == '\0' && v <= 127) {
                *out = segqt_device{SEGQT_DEVICE_CUDA, (int)v};
                return 0;
            }
        }
        throw segqt::Error(SEGQ_EINVAL, std::string("bad device '") + s
                                            + "': expected cpu, cuda or cuda:N (N from 0 to 127)");
    });
}

extern "C" int segqt_device_format(segqt_device d, char *buf, size_t n)
{
    return run_i(__func__, [&] {
        if (!buf || n == 0)
            throw segqt::Error(SEGQ_EINVAL, "buffer is NULL or empty");
        segqt::device(d); // validates
        int len = d.type == SEGQT_DEVICE_CPU ? std::snprintf(buf, n, "cpu")
                  : d.index < 0              ? std::snprintf(buf, n, "cuda")
                                             : std::snprintf(buf, n, "cuda:%d", d.index);
        if (len < 0 || (size_t)len >= n)
            throw segqt::Error(SEGQ_EINVAL, "buffer too small");
        return len;
    });
}

// ---------------------------------------------------------------------
// Creation

extern "C" segqt_tensor *segqt_zeros(const int64_t *shape, int ndim, segqt_dtype dt,
                                     segqt_device dev)
{
    return run_t(__func__, [&] { return at::zeros(new_shape(shape, ndim), opts(dt, dev)); });
}

extern "C" segqt_tensor *segqt_ones(const int64_t *shape, int ndim, segqt_dtype dt,
                                    segqt_device dev)
{
    return run_t(__func__, [&] { return at::ones(new_shape(shape, ndim), opts(dt, dev)); });
}

extern "C" segqt_tensor *segqt_full(const int64_t *shape, int ndim, double value, segqt_dtype dt,
                                    segqt_device dev)
{
    return run_t(__func__, [&] { return at::full(new_shape(shape, ndim), value, opts(dt, dev)); });
}

extern "C" segqt_tensor *segqt_scalar(double value, segqt_dtype dt, segqt_device dev)
{
    return run_t(__func__, [&] { return at::full({}, value, opts(dt, dev)); });
}

extern "C" segqt_tensor *segqt_randn(const int64_t *shape, int ndim, segqt_dtype dt,
                                     segqt_device dev)
{
    return run_t(__func__, [&] { return at::randn(new_shape(shape, ndim), opts(dt, dev)); });
}

extern "C" segqt_tensor *segqt_rand(const int64_t *shape, int ndim, segqt_dtype dt,
                                    segqt_device dev)
{
    return run_t(__func__, [&] { return at::rand(new_shape(shape, ndim), opts(dt, dev)); });
}

extern "C" segqt_tensor *segqt_arange(double start, double end, double step, segqt_dtype dt,
                                      segqt_device dev)
{
    return run_t(__func__, [&] { return at::arange(start, end, step, opts(dt, dev)); });
}

extern "C" segqt_tensor *segqt_zeros_like(segqt_tensor *t)
{
    return run_t(__func__, [&] { return at::zeros_like(ten(t)); });
}
extern "C" segqt_tensor *segqt_ones_like(segqt_tensor *t)
{
    return run_t(__func__, [&] { return at::ones_like(ten(t)); });
}
extern "C" segqt_tensor *segqt_randn_like(segqt_tensor *t)
{
    return run_t(__func__, [&] { return at::randn_like(ten(t)); });
}
extern "C" segqt_tensor *segqt_rand_like(segqt_tensor *t)
{
    return run_t(__func__, [&] { return at::rand_like(ten(t)); });
}

extern "C" segqt_tensor *segqt_from_floats(const float *data, const int64_t *shape, int ndim,
                                           segqt_device dev)
{
    return run_t(__func__, [&] {
        auto s = new_shape(shape, ndim);
        int64_t n = checked_numel(s);
        if (!data && n > 0)
            throw segqt::Error(SEGQ_EINVAL, "data is NULL");
        at::Tensor cpu = at::empty(s, at::TensorOptions().dtype(at::kFloat));
        if (n > 0)
            std::memcpy(cpu.data_ptr(), data, (size_t)n * sizeof(float));
        return cpu.to(segqt::device(dev));
    });
}

extern "C" segqt_tensor *segqt_from_bytes(const void *data, size_t nbytes, segqt_dtype dt,
                                          const int64_t *shape, int ndim, segqt_device dev)
{
    return run_t(__func__, [&] {
        auto s = new_shape(shape, ndim);
        int64_t n = checked_numel(s);
        size_t es = segqt_dtype_size(dt);
        if (es == 0)
            throw segqt::Error(SEGQ_EINVAL, "unknown segqt_dtype " + std::to_string((int)dt));
        if ((uint64_t)n > SIZE_MAX / es || (size_t)n * es != nbytes)
            throw segqt::Error(SEGQ_EINVAL, "byte count " + std::to_string(nbytes)
                                                + " does not match the shape (" + std::to_string(n)
                                                + " elements of " + std::to_string(es) + " bytes)");
        if (!data && nbytes > 0)
            throw segqt::Error(SEGQ_EINVAL, "data is NULL");
        at::Tensor cpu = at::empty(s, at::TensorOptions().dtype(segqt::scalar_type(dt)));
        if (nbytes > 0)
            std::memcpy(cpu.data_ptr(), data, nbytes);
        return cpu.to(segqt::device(dev));
    });
}

// ---------------------------------------------------------------------
// Queries and copying out

extern "C" int segqt_dim(segqt_tensor *t)
{
    return run_i(__func__, [&] { return (int)ten(t).dim(); });
}

extern "C" int64_t segqt_size(segqt_tensor *t, int dim)
{
    try {
        return ten(t).size(dim);
    } catch (...) {
        return segqt::record_exception(__func__);
    }
}

extern "C" int segqt_shape(segqt_tensor *t, int64_t *out, int max)
{
    return run_i(__func__, [&] {
        const at::Tensor &x = ten(t);
        if (max > 0 && !out)
            throw segqt::Error(SEGQ_EINVAL, "out is NULL");
        for (int i = 0; i < (int)x.dim() && i < max; i++)
            out[i] = x.size(i);
        return (int)x.dim();
    });
}

extern "C" int64_t segqt_numel(segqt_tensor *t)
{
    try {
        return ten(t).numel();
    } catch (...) {
        return segqt::record_exception(__func__);
    }
}

extern "C" int segqt_dtype_of(segqt_tensor *t, segqt_dtype *out)
{
    return run_i(__func__, [&] {
        segqt_dtype d = segqt::from_scalar_type(ten(t).scalar_type());
        if (!out)
            throw segqt::Error(SEGQ_EINVAL, "out is NULL");
        *out = d;
        return 0;
    });
}

extern "C" int segqt_device_of(segqt_tensor *t, segqt_device *out)
{
    return run_i(__func__, [&] {
        at::Device d = ten(t).device();
        if (!out)
            throw segqt::Error(SEGQ_EINVAL, "out is NULL");
        if (d.is_cpu())
            *out = segqt_device{SEGQT_DEVICE_CPU, -1};
        else if (d.is_cuda())
            *out = segqt_device{SEGQT_DEVICE_CUDA, (int)d.index()};
        else
            throw segqt::Error(SEGQ_EINVAL,
                               "tensor is on device " + d.str() + ", which segq does not support");
        return 0;
    });
}

extern "C" int segqt_is_contiguous(segqt_tensor *t)
{
    return run_i(__func__, [&] { return ten(t).is_contiguous() ? 1 : 0; });
}

extern "C" int segqt_describe(segqt_tensor *t, char *buf, size_t n)
{
    return run_i(__func__, [&] {
        const at::Tensor &x = ten(t);
        if (!buf || n == 0)
            throw segqt::Error(SEGQ_EINVAL, "buffer is NULL or empty");
        const DtypeInfo *d = dtype_info_st(x.scalar_type());
        std::string s = d ? d->torchname : c10::toString(x.scalar_type());
        s += "[";
        for (int64_t i = 0; i < x.dim(); i++)
            s += (i ? ", " : "") + std::to_string(x.size(i));
        s += "] " + x.device().str();
        if (x.requires_grad())
            s += " requires_grad";
        std::snprintf(buf, n, "%s", s.c_str());
        return (int)s.size();
    });
}

extern "C" int segqt_item(segqt_tensor *t, double *out)
{
    return run_i(__func__, [&] {
        double v = ten(t).item<double>();
        if (!out)
            throw segqt::Error(SEGQ_EINVAL, "out is NULL");
        *out = v;
        return 0;
    });
}

extern "C" int segqt_to_floats(segqt_tensor *t, float *out, size_t count)
{
    return run_i(__func__, [&] {
        at::Tensor x = ten(t).detach().to(at::kCPU, at::kFloat).contiguous();
        if ((uint64_t)x.numel() != (uint64_t)count)
            throw segqt::Error(SEGQ_EINVAL, "count " + std::to_string(count)
                                                + " differs from the tensor's "
                                                + std::to_string(x.numel()) + " elements");
        if (count > 0 && !out)
            throw segqt::Error(SEGQ_EINVAL, "out is NULL");
        if (count > 0)
            std::memcpy(out, x.data_ptr<float>(), count * sizeof(float));
        return 0;
    });
}

extern "C" int segqt_data(segqt_tensor *t, const void **data, size_t *nbytes)
{
    return run_i(__func__, [&] {
        const at::Tensor &x = ten(t);
        if (!data || !nbytes)
            throw segqt::Error(SEGQ_EINVAL, "data and nbytes must not be NULL");
        if (!x.device().is_cpu() || !x.is_contiguous())
            throw segqt::Error(SEGQ_EINVAL, "raw data needs a contiguous CPU tensor: call "
                                            "segqt_cpu_contiguous first");
        *data = x.data_ptr();
        *nbytes = x.nbytes();
        return 0;
    });
}

// ---------------------------------------------------------------------
// Conversion, copying, in-place

extern "C" segqt_tensor *segqt_to_dtype(segqt_tensor *t, segqt_dtype dt)
{
    return run_t(__func__, [&] { return ten(t).to(segqt::scalar_type(dt)); });
}

extern "C" segqt_tensor *segqt_to_device(segqt_tensor *t, segqt_device dev)
{
    return run_t(__func__, [&] { return ten(t).to(segqt::device(dev)); });
}

extern "C" segqt_tensor *segqt_cpu_contiguous(segqt_tensor *t)
{
    return run_t(__func__, [&] { return ten(t).to(at::kCPU).contiguous(); });
}

extern "C" segqt_tensor *segqt_contiguous(segqt_tensor *t)
{
    return run_t(__func__, [&] { return ten(t).contiguous(); });
}

extern "C" segqt_tensor *segqt_channels_last(segqt_tensor *t)
{
    return run_t(__func__, [&] {
        const at::Tensor &x = ten(t);
        if (x.dim() != 4)
            throw segqt::Error(SEGQ_EINVAL, "channels_last needs a 4-d tensor, got "
                                                + std::to_string(x.dim()) + " dims");
        return x.contiguous(at::MemoryFormat::ChannelsLast);
    });
}

extern "C" segqt_tensor *segqt_clone(segqt_tensor *t)
{
    return run_t(__func__, [&] { return ten(t).clone(); });
}

extern "C" segqt_tensor *segqt_detach(segqt_tensor *t)
{
    return run_t(__func__, [&] { return ten(t).detach(); });
}

// In-place state changes are loading/initialisation, never part of a
// graph: run them without autograd so parameters (leaves) accept them.
extern "C" int segqt_copy_(segqt_tensor *dst, segqt_tensor *src)
{
    return run_i(__func__, [&] {
        c10::NoGradGuard ng;
        ten(dst).copy_(ten(src));
        return 0;
    });
}

extern "C" int segqt_fill_(segqt_tensor *t, double value)
{
    return run_i(__func__, [&] {
        c10::NoGradGuard ng;
        ten(t).fill_(value);
        return 0;
    });
}

extern "C" int segqt_zero_(segqt_tensor *t)
{
    return run_i(__func__, [&] {
        c10::NoGradGuard ng;
        ten(t).zero_();
        return 0;
    });
}

extern "C" int segqt_normal_(segqt_tensor *t, double mean, double std)
{
    return run_i(__func__, [&] {
        c10::NoGradGuard ng;
        ten(t).normal_(mean, std);
        return 0;
    });
}

// ---------------------------------------------------------------------
// Shape ops

namespace
{
std::vector<at::Tensor> tensor_list(segqt_tensor *const *ts, int n)
{
    if (n <= 0 || !ts)
        throw segqt::Error(SEGQ_EINVAL, "need a non-empty tensor array");
    std::vector<at::Tensor> v;
    v.reserve((size_t)n);
    for (int i = 0; i < n; i++)
        v.push_back(ten(ts[i]));
    return v;
}
} // namespace

extern "C" segqt_tensor *segqt_reshape(segqt_tensor *t, const int64_t *shape, int ndim)
{
    return run_t(__func__, [&] { return ten(t).reshape(segqt::shape_vec(shape, ndim, "shape")); });
}

extern "C" segqt_tensor *segqt_view(segqt_tensor *t, const int64_t *shape, int ndim)
{
    return run_t(__func__, [&] { return ten(t).view(segqt::shape_vec(shape, ndim, "shape")); });
}

extern "C" segqt_tensor *segqt_permute(segqt_tensor *t, const int64_t *dims, int ndim)
{
    return run_t(__func__, [&] { return ten(t).permute(segqt::shape_vec(dims, ndim, "dims")); });
}

extern "C" segqt_tensor *segqt_transpose(segqt_tensor *t, int dim0, int dim1)
{
    return run_t(__func__, [&] { return ten(t).transpose(dim0, dim1); });
}

extern "C" segqt_tensor *segqt_unsqueeze(segqt_tensor *t, int dim)
{
    return run_t(__func__, [&] { return ten(t).unsqueeze(dim); });
}

extern "C" segqt_tensor *segqt_squeeze(segqt_tensor *t, int dim)
{
    return run_t(__func__, [&] { return ten(t).squeeze(dim); });
}

extern "C" segqt_tensor *segqt_narrow(segqt_tensor *t, int dim, int64_t start, int64_t length)
{
    return run_t(__func__, [&] { return ten(t).narrow(dim, start, length); });
}

extern "C" segqt_tensor *segqt_slice(segqt_tensor *t, int dim, int64_t start, int64_t end,
                                     int64_t step)
{
    return run_t(__func__, [&] { return ten(t).slice(dim, start, end, step); });
}

extern "C" segqt_tensor *segqt_cat(segqt_tensor *const *ts, int n, int dim)
{
    return run_t(__func__, [&] { return at::cat(tensor_list(ts, n), dim); });
}

extern "C" segqt_tensor *segqt_stack(segqt_tensor *const *ts, int n, int dim)
{
    return run_t(__func__, [&] { return at::stack(tensor_list(ts, n), dim); });
}

extern "C" segqt_tensor *segqt_repeat(segqt_tensor *t, const int64_t *reps, int n)
{
    return run_t(__func__, [&] { return ten(t).repeat(segqt::shape_vec(reps, n, "reps")); });
}

extern "C" segqt_tensor *segqt_expand(segqt_tensor *t, const int64_t *shape, int ndim)
{
    return run_t(__func__, [&] { return ten(t).expand(segqt::shape_vec(shape, ndim, "shape")); });
}

extern "C" segqt_tensor *segqt_flip(segqt_tensor *t, const int64_t *dims, int n)
{
    return run_t(__func__, [&] { return ten(t).flip(segqt::shape_vec(dims, n, "dims")); });
}

extern "C" segqt_tensor *segqt_pad(segqt_tensor *t, const int64_t *pads, int npad, double value)
{
    return run_t(__func__, [&] {
        auto p = segqt::shape_vec(pads, npad, "pads");
        if (npad % 2)
            throw segqt::Error(SEGQ_EINVAL,
                               "pads needs an even length (a before/after pair per dim)");
        return at::constant_pad_nd(ten(t), p, value);
    });
}

// ---------------------------------------------------------------------
// Elementwise

#define SEGQT_BINARY(name, expr)                                                                   \
    extern "C" segqt_tensor *name(segqt_tensor *a, segqt_tensor *b)                                \
    {                                                                                              \
        return run_t(__func__, [&] {                                                               \
            const at::Tensor &x = ten(a);                                                          \
            const at::Tensor &y = ten(b);                                                          \
            return expr;                                                                           \
        });                                                                                        \
    }
#define SEGQT_UNARY(name, expr)                                                                    \
    extern "C" segqt_tensor *name(segqt_tensor *a)                                                 \
    {                                                                                              \
        return run_t(__func__, [&] {                                                               \
            const at::Tensor &x = ten(a);                                                          \
            return expr;                                                                           \
        });                                                                                        \
    }
#define SEGQT_SCALAR(name, expr)                                                                   \
    extern "C" segqt_tensor *name(segqt_tensor *a, double s)                                       \
    {                                                                                              \
        return run_t(__func__, [&] {                                                               \
            const at::Tensor &x = ten(a);                                                          \
            return expr;                                                                           \
        });                                                                                        \
    }

SEGQT_BINARY(segqt_add, x + y)
SEGQT_BINARY(segqt_sub, x - y)
SEGQT_BINARY(segqt_mul, x *y)
SEGQT_BINARY(segqt_div, x / y)
SEGQT_BINARY(segqt_pow, at::pow(x, y))
SEGQT_BINARY(segqt_maximum, at::maximum(x, y))
SEGQT_BINARY(segqt_minimum, at::minimum(x, y))
SEGQT_BINARY(segqt_matmul, at::matmul(x, y))
SEGQT_BINARY(segqt_bmm, at::bmm(x, y))
SEGQT_BINARY(segqt_mse_loss, at::mse_loss(x, y, at::Reduction::Mean))

SEGQT_SCALAR(segqt_add_scalar, x + s)
SEGQT_SCALAR(segqt_sub_scalar, x - s)
SEGQT_SCALAR(segqt_rsub_scalar, at::rsub(x, s))
SEGQT_SCALAR(segqt_mul_scalar, x *s)
SEGQT_SCALAR(segqt_div_scalar, x / s)
SEGQT_SCALAR(segqt_pow_scalar, at::pow(x, s))
SEGQT_SCALAR(segqt_leaky_relu, at::leaky_relu(x, s))

SEGQT_UNARY(segqt_neg, at::neg(x))
SEGQT_UNARY(segqt_sqrt, at::sqrt(x))
SEGQT_UNARY(segqt_abs, at::abs(x))
SEGQT_UNARY(segqt_exp, at::exp(x))
SEGQT_UNARY(segqt_log, at::log(x))
SEGQT_UNARY(segqt_relu, at::relu(x))
SEGQT_UNARY(segqt_tanh, at::tanh(x))
SEGQT_UNARY(segqt_sigmoid, at::sigmoid(x))
SEGQT_UNARY(segqt_sum, x.sum())
SEGQT_UNARY(segqt_mean, x.mean())
SEGQT_UNARY(segqt_max, x.max())
SEGQT_UNARY(segqt_min, x.min())

extern "C" segqt_tensor *segqt_add_scaled(segqt_tensor *a, segqt_tensor *b, double alpha)
{
    return run_t(__func__, [&] { return at::add(ten(a), ten(b), alpha); });
}

extern "C" segqt_tensor *segqt_clamp(segqt_tensor *a, double lo, double hi)
{
    return run_t(__func__, [&] {
        const at::Tensor &x = ten(a);
        c10::optional<at::Scalar> l, h;
        if (!std::isinf(lo) || lo > 0)
            l = lo;
        if (!std::isinf(hi) || hi < 0)
            h = hi;
        if (!l && !h)
            return x.clone(); // both bounds open: clamp is the identity
        return at::clamp(x, l, h);
    });
}

namespace
{
at::Tensor compare(const at::Tensor &x, segqt_cmp op, const at::Tensor &y)
{
    switch (op) {
    case SEGQT_GT:
        return at::gt(x, y);
    case SEGQT_GE:
        return at::ge(x, y);
    case SEGQT_LT:
        return at::lt(x, y);
    case SEGQT_LE:
        return at::le(x, y);
    case SEGQT_EQ:
        return at::eq(x, y);
    case SEGQT_NE:
        return at::ne(x, y);
    }
    throw segqt::Error(SEGQ_EINVAL, "unknown segqt_cmp " + std::to_string((int)op));
}
} // namespace

extern "C" segqt_tensor *segqt_compare_scalar(segqt_tensor *a, segqt_cmp op, double s)
{
    return run_t(__func__, [&] {
        const at::Tensor &x = ten(a);
        at::Tensor y = at::scalar_tensor(s, x.options().requires_grad(false));
        return compare(x, op, y).to(x.scalar_type());
    });
}

extern "C" segqt_tensor *segqt_compare(segqt_tensor *a, segqt_cmp op, segqt_tensor *b)
{
    return run_t(__func__, [&] {
        const at::Tensor &x = ten(a);
        return compare(x, op, ten(b)).to(x.scalar_type());
    });
}

extern "C" segqt_tensor *segqt_where(segqt_tensor *cond, segqt_tensor *a, segqt_tensor *b)
{
    return run_t(__func__, [&] {
        const at::Tensor &c = ten(cond);
        at::Tensor mask = c.scalar_type() == at::kBool ? c : c.ne(0);
        return at::where(mask, ten(a), ten(b));
    });
}

// ---------------------------------------------------------------------
// Reductions

extern "C" segqt_tensor *segqt_sum_dims(segqt_tensor *a, const int64_t *dims, int n, int keepdim)
{
    return run_t(__func__, [&] {
        auto d = segqt::shape_vec(dims, n, "dims");
        return at::sum(ten(a), at::IntArrayRef(d), keepdim != 0);
    });
}

extern "C" segqt_tensor *segqt_mean_dims(segqt_tensor *a, const int64_t *dims, int n, int keepdim)
{
    return run_t(__func__, [&] {
        auto d = segqt::shape_vec(dims, n, "dims");
        return at::mean(ten(a), at::IntArrayRef(d), keepdim != 0);
    });
}

extern "C" segqt_tensor *segqt_norm_dim(segqt_tensor *a, double p, int dim, int keepdim)
{
    return run_t(__func__, [&] {
        int64_t d = dim;
        return at::linalg_vector_norm(ten(a), p, at::IntArrayRef(&d, 1), keepdim != 0);
    });
}

// ---------------------------------------------------------------------
// NN ops

namespace
{
at::Tensor opt_t(segqt_tensor *p)
{
    return p ? p->t : at::Tensor();
}

void need_4d(const at::Tensor &x, const char *what)
{
    if (x.dim() != 4)
        throw segqt::Error(SEGQ_EINVAL, std::string(what) + " needs a 4-D NCHW tensor, got "
                                            + std::to_string(x.dim()) + " dims");
}
} // namespace

extern "C" segqt_tensor *segqt_conv2d(segqt_tensor *x, segqt_tensor *w, segqt_tensor *bias,
                                      int stride, int padding, int dilation, int groups)
{
    return run_t(__func__, [&] {
        const int64_t st[2] = {stride, stride}, pa[2] = {padding, padding},
                      di[2] = {dilation, dilation};
        return at::conv2d(ten(x), ten(w), opt_t(bias), at::IntArrayRef(st), at::IntArrayRef(pa),
                          at::IntArrayRef(di), groups);
    });
}

extern "C" segqt_tensor *segqt_conv_transpose2d(segqt_tensor *x, segqt_tensor *w,
                                                segqt_tensor *bias, int stride, int padding,
                                                int output_padding, int groups, int dilation)
{
    return run_t(__func__, [&] {
        const int64_t st[2] = {stride, stride}, pa[2] = {padding, padding},
                      op[2] = {output_padding, output_padding}, di[2] = {dilation, dilation};
        return at::conv_transpose2d(ten(x), ten(w), opt_t(bias), at::IntArrayRef(st),
                                    at::IntArrayRef(pa), at::IntArrayRef(op), groups,
                                    at::IntArrayRef(di));
    });
}

extern "C" segqt_tensor *segqt_batch_norm(segqt_tensor *x, segqt_tensor *weight, segqt_tensor *bias,
                                          segqt_tensor *running_mean, segqt_tensor *running_var,
                                          int training, double momentum, double eps)
{
    return run_t(__func__, [&] {
        const at::Tensor &in = ten(x);
        if (!training && (!running_mean || !running_var))
            throw segqt::Error(SEGQ_EINVAL, "eval mode (training = 0) needs running_mean and "
                                            "running_var");
        const at::Tensor w = opt_t(weight), b = opt_t(bias);
        if (training && segqt::lean_batch_norm(in, w, b))
            return segqt::batch_norm_train(in, w, b, opt_t(running_mean), opt_t(running_var),
                                           momentum, eps);
        return at::batch_norm(in, w, b, opt_t(running_mean), opt_t(running_var), training != 0,
                              momentum, eps, at::globalContext().userEnabledCuDNN());
    });
}

namespace
{
at::Tensor resize(const at::Tensor &x, int64_t oh, int64_t ow, segqt_interp mode, int align_corners,
                  int antialias)
{
    const c10::optional<double> sh, sw; // no factors: coordinates map by out / in
    need_4d(x, "interpolate");
    if (oh <= 0 || ow <= 0)
        throw segqt::Error(SEGQ_EINVAL, "output size " + std::to_string(oh) + "x"
                                            + std::to_string(ow) + " is not positive");
    const int64_t sz[2] = {oh, ow};
    at::IntArrayRef out(sz);
    bool ac = align_corners != 0;
    switch (mode) {
    case SEGQT_INTERP_NEAREST:
        if (ac || antialias)
            throw segqt::Error(SEGQ_EINVAL,
                               "align_corners and antialias only apply to bilinear and "
                               "bicubic");
        return at::upsample_nearest2d(x, out, sh, sw);
    case SEGQT_INTERP_BILINEAR:
        return antialias ? at::_upsample_bilinear2d_aa(x, out, ac, sh, sw)
                         : at::upsample_bilinear2d(x, out, ac, sh, sw);
    case SEGQT_INTERP_BICUBIC:
        return antialias ? at::_upsample_bicubic2d_aa(x, out, ac, sh, sw)
                         : at::upsample_bicubic2d(x, out, ac, sh, sw);
    }
    throw segqt::Error(SEGQ_EINVAL, "unknown segqt_interp " + std::to_string((int)mode));
}
} // namespace

extern "C" segqt_tensor *segqt_interpolate(segqt_tensor *x, int64_t out_h, int64_t out_w,
                                           segqt_interp mode, int align_corners, int antialias)
{
    return run_t(__func__,
                 [&] { return resize(ten(x), out_h, out_w, mode, align_corners, antialias); });
}

extern "C" segqt_tensor *segqt_max_pool2d(segqt_tensor *x, int kernel, int stride, int padding)
{
    return run_t(__func__, [&] {
        const int64_t k[2] = {kernel, kernel}, s[2] = {stride, stride}, p[2] = {padding, padding},
                      d[2] = {1, 1};
        return at::max_pool2d(ten(x), at::IntArrayRef(k), at::IntArrayRef(s), at::IntArrayRef(p),
                              at::IntArrayRef(d), false);
    });
}

extern "C" segqt_tensor *segqt_avg_pool2d(segqt_tensor *x, int kernel, int stride, int padding)
{
    return run_t(__func__, [&] {
        const int64_t k[2] = {kernel, kernel}, s[2] = {stride, stride}, p[2] = {padding, padding};
        return at::avg_pool2d(ten(x), at::IntArrayRef(k), at::IntArrayRef(s), at::IntArrayRef(p),
                              false, true, c10::nullopt);
    });
}
