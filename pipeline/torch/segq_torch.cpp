// segq_torch.cpp: errors, scopes, creation, queries and the tensor ops of
// the C shim (segq_torch.h). Every op is libtorch's; this file only
// converts arguments, catches exceptions and tracks handle ownership.
#include "segq_torch_internal.hpp"

#include <atomic>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <new>

using segq::run_i;
using segq::run_t;
using segq::ten;

// ---------------------------------------------------------------------
// Errors

namespace {
thread_local std::string t_msg;
thread_local int t_code = 0;

std::string trimmed(const char *s) {
    std::string m(s ? s : "");
    while (!m.empty() && (m.back() == '\n' || m.back() == ' '))
        m.pop_back();
    return m;
}
} // namespace

void segq::set_error(int code, const char *fn, const std::string &msg) {
    t_code = code;
    t_msg = std::string(fn) + ": " + msg;
}

int segq::record_exception(const char *fn) {
    try {
        throw;
    } catch (const segq::NullArg &) {
        // Sticky: a NULL input usually means an earlier op failed; keep
        // that op's message, which says what really went wrong.
        if (t_code == 0)
            set_error(SEGQ_TORCH_EINVAL, fn,
                      "a tensor argument is NULL (no earlier error recorded: "
                      "pass a tensor)");
        return SEGQ_TORCH_EINVAL;
    } catch (const segq::Error &e) {
        set_error(e.code, fn, e.what());
        return e.code;
    } catch (const c10::Error &e) {
        // CUDA's caching allocator says "CUDA out of memory." in 1.13 (a
        // plain c10::Error) and 2.x (c10::OutOfMemoryError, which 1.13
        // lacks): the text is what both have. It also covers a process's
        // memory-fraction cap.
        std::string msg = trimmed(e.what_without_backtrace());
        int code = msg.find("CUDA out of memory") != std::string::npos ? SEGQ_TORCH_EOOM
                                                                       : SEGQ_TORCH_ETORCH;
        set_error(code, fn, msg);
        return code;
    } catch (const std::bad_alloc &) {
        set_error(SEGQ_TORCH_ENOMEM, fn, "out of memory");
        return SEGQ_TORCH_ENOMEM;
    } catch (const std::exception &e) {
        set_error(SEGQ_TORCH_ETORCH, fn, trimmed(e.what()));
        return SEGQ_TORCH_ETORCH;
    } catch (...) {
        set_error(SEGQ_TORCH_ETORCH, fn, "unknown C++ exception");
        return SEGQ_TORCH_ETORCH;
    }
}

extern "C" const char *segq_torch_last_error(void) { return t_msg.c_str(); }
extern "C" int segq_torch_last_code(void) { return t_code; }
extern "C" void segq_torch_clear_error(void) {
    t_code = 0;
    t_msg.clear();
}

extern "C" const char *segq_torch_strerror(int code) {
    switch (code) {
    case 0: return "success";
    case SEGQ_TORCH_EINVAL: return "invalid argument";
    case SEGQ_TORCH_ENOMEM: return "out of memory";
    case SEGQ_TORCH_ENODEV: return "no such device";
    case SEGQ_TORCH_ETORCH: return "libtorch error";
    case SEGQ_TORCH_ESCOPE: return "scope misuse";
    case SEGQ_TORCH_EOOM: return "out of GPU memory";
    default: return "unknown error";
    }
}

// ---------------------------------------------------------------------
// Scopes

struct segq__scope {
    segq_tensor *first = nullptr;
    int depth = 0; // 1 = outermost
};

namespace {
std::atomic<int64_t> g_live{0};
thread_local std::vector<segq__scope *> t_scopes;

void link(segq__scope *s, segq_tensor *h) {
    h->owner = s;
    h->prev = nullptr;
    h->next = s->first;
    if (s->first)
        s->first->prev = h;
    s->first = h;
}

void unlink(segq_tensor *h) {
    segq__scope *s = h->owner;
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
void need_own_thread(segq_tensor *h) {
    segq__scope *s = h->owner;
    if (s && !((size_t)s->depth <= t_scopes.size() && t_scopes[(size_t)s->depth - 1] == s))
        throw segq::Error(SEGQ_TORCH_ESCOPE,
                          "tensor belongs to a scope of another thread");
}

void free_handle(segq_tensor *h) {
    unlink(h);
    delete h;
    g_live.fetch_sub(1, std::memory_order_relaxed);
}
} // namespace

void segq::need_scope() {
    if (t_scopes.empty())
        throw segq::Error(SEGQ_TORCH_ESCOPE,
                          "no open scope on this thread: call segq_scope_begin() "
                          "first (every tensor belongs to a scope)");
}

segq_tensor *segq::wrap(at::Tensor t) {
    need_scope();
    auto *h = new segq_tensor;
    h->t = std::move(t);
    link(t_scopes.back(), h);
    g_live.fetch_add(1, std::memory_order_relaxed);
    return h;
}

extern "C" int segq_scope_begin(void) {
    return run_i(__func__, [] {
        auto *s = new segq__scope;
        s->depth = (int)t_scopes.size() + 1;
        t_scopes.push_back(s);
        return s->depth;
    });
}

extern "C" int segq_scope_end(void) {
    return run_i(__func__, [] {
        if (t_scopes.empty())
            throw segq::Error(SEGQ_TORCH_ESCOPE,
                              "no open scope: segq_scope_end without segq_scope_begin");
        segq__scope *s = t_scopes.back();
        t_scopes.pop_back();
        while (s->first)
            free_handle(s->first);
        delete s;
        return 0;
    });
}

extern "C" int segq_scope_depth(void) { return (int)t_scopes.size(); }

extern "C" segq_tensor *segq_keep(segq_tensor *t) {
    try {
        ten(t);
        if (!t->owner)
            throw segq::Error(SEGQ_TORCH_EINVAL,
                              "tensor is persistent (not in a scope): nothing to keep");
        need_own_thread(t);
        int d = t->owner->depth;
        if (d < 2)
            throw segq::Error(SEGQ_TORCH_ESCOPE,
                              "tensor is in the outermost scope: no parent to keep it "
                              "in; use segq_persist to own it");
        segq__scope *parent = t_scopes.at((size_t)d - 2);
        unlink(t);
        link(parent, t);
        return t;
    } catch (...) {
        segq::record_exception(__func__);
        return nullptr;
    }
}

extern "C" segq_tensor *segq_persist(segq_tensor *t) {
    try {
        ten(t);
        need_own_thread(t);
        unlink(t);
        return t;
    } catch (...) {
        segq::record_exception(__func__);
        return nullptr;
    }
}

extern "C" void segq_tensor_destroy(segq_tensor **t) {
    if (!t || !*t)
        return;
    free_handle(*t);
    *t = nullptr;
}

extern "C" segq_tensor *segq_alias(segq_tensor *t) {
    return run_t(__func__, [&] { return ten(t); });
}

extern "C" int64_t segq_torch_live_tensors(void) {
    return g_live.load(std::memory_order_relaxed);
}

// ---------------------------------------------------------------------
// Dtypes, devices, shapes

namespace {
struct DtypeInfo {
    segq_dtype dt;
    at::ScalarType st;
    const char *name;      // safetensors
    const char *torchname; // for messages
    size_t size;
};
const DtypeInfo k_dtypes[] = {
    {SEGQ_F32, at::kFloat, "F32", "float32", 4},
    {SEGQ_F16, at::kHalf, "F16", "float16", 2},
    {SEGQ_BF16, at::kBFloat16, "BF16", "bfloat16", 2},
    {SEGQ_F64, at::kDouble, "F64", "float64", 8},
    {SEGQ_I64, at::kLong, "I64", "int64", 8},
    {SEGQ_I32, at::kInt, "I32", "int32", 4},
    {SEGQ_I16, at::kShort, "I16", "int16", 2},
    {SEGQ_I8, at::kChar, "I8", "int8", 1},
    {SEGQ_U8, at::kByte, "U8", "uint8", 1},
    {SEGQ_BOOL, at::kBool, "BOOL", "bool", 1},
};

const DtypeInfo *dtype_info(segq_dtype dt) {
    for (const auto &d : k_dtypes)
        if (d.dt == dt)
            return &d;
    return nullptr;
}

const DtypeInfo *dtype_info_st(at::ScalarType st) {
    for (const auto &d : k_dtypes)
        if (d.st == st)
            return &d;
    return nullptr;
}

at::TensorOptions opts(segq_dtype dt, segq_device dev) {
    return at::TensorOptions().dtype(segq::scalar_type(dt)).device(segq::device(dev));
}

int64_t checked_numel(const std::vector<int64_t> &shape) {
    int64_t n = 1;
    for (int64_t s : shape) {
        if (s != 0 && n > INT64_MAX / s)
            throw segq::Error(SEGQ_TORCH_EINVAL, "shape has more than 2^63 elements");
        n *= s;
    }
    return n;
}
} // namespace

at::ScalarType segq::scalar_type(segq_dtype dt) {
    const DtypeInfo *d = dtype_info(dt);
    if (!d)
        throw segq::Error(SEGQ_TORCH_EINVAL,
                          "unknown segq_dtype " + std::to_string((int)dt));
    return d->st;
}

segq_dtype segq::from_scalar_type(at::ScalarType st) {
    const DtypeInfo *d = dtype_info_st(st);
    if (!d)
        throw segq::Error(SEGQ_TORCH_EINVAL, std::string("tensor dtype ") +
                                                 c10::toString(st) +
                                                 " has no segq_dtype");
    return d->dt;
}

at::Device segq::device(segq_device d) {
    switch (d.type) {
    case SEGQ_DEVICE_CPU: return at::Device(at::kCPU);
    case SEGQ_DEVICE_CUDA:
        if (d.index < -1 || d.index > 127)
            throw segq::Error(SEGQ_TORCH_EINVAL,
                              "CUDA device index " + std::to_string(d.index) +
                                  " out of range");
        return at::Device(at::kCUDA, (c10::DeviceIndex)d.index);
    }
    throw segq::Error(SEGQ_TORCH_EINVAL,
                      "unknown device type " + std::to_string((int)d.type));
}

std::vector<int64_t> segq::shape_vec(const int64_t *shape, int ndim, const char *what) {
    if (ndim < 0 || ndim > 64)
        throw segq::Error(SEGQ_TORCH_EINVAL, std::string(what) + ": length " +
                                                 std::to_string(ndim) +
                                                 " out of range 0..64");
    if (ndim > 0 && !shape)
        throw segq::Error(SEGQ_TORCH_EINVAL, std::string(what) + " is NULL");
    return std::vector<int64_t>(shape, shape + ndim);
}

namespace {
// Shapes of new tensors: sizes must be >= 0 (torch would say so too, but
// less clearly for from_bytes).
std::vector<int64_t> new_shape(const int64_t *shape, int ndim) {
    auto v = segq::shape_vec(shape, ndim, "shape");
    for (int64_t s : v)
        if (s < 0)
            throw segq::Error(SEGQ_TORCH_EINVAL,
                              "negative size " + std::to_string(s) + " in shape");
    return v;
}
} // namespace

extern "C" size_t segq_dtype_size(segq_dtype dt) {
    const DtypeInfo *d = dtype_info(dt);
    return d ? d->size : 0;
}

extern "C" const char *segq_dtype_name(segq_dtype dt) {
    const DtypeInfo *d = dtype_info(dt);
    return d ? d->name : nullptr;
}

extern "C" int segq_dtype_from_name(const char *name, segq_dtype *out) {
    return run_i(__func__, [&] {
        if (!name || !out)
            throw segq::Error(SEGQ_TORCH_EINVAL, "name and out must not be NULL");
        for (const auto &d : k_dtypes)
            if (std::strcmp(d.name, name) == 0) {
                *out = d.dt;
                return 0;
            }
        throw segq::Error(SEGQ_TORCH_EINVAL,
                          std::string("unknown dtype name '") + name +
                              "' (expected F32, F16, BF16, F64, I64, I32, I16, I8, U8 "
                              "or BOOL)");
    });
}

extern "C" int segq_device_parse(const char *s, segq_device *out) {
    return run_i(__func__, [&] {
        if (!s || !out)
            throw segq::Error(SEGQ_TORCH_EINVAL, "string and out must not be NULL");
        if (std::strcmp(s, "cpu") == 0) {
            *out = segq_device{SEGQ_DEVICE_CPU, -1};
            return 0;
        }
        if (std::strcmp(s, "cuda") == 0) {
            *out = segq_device{SEGQ_DEVICE_CUDA, -1};
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
                *out = segq_device{SEGQ_DEVICE_CUDA, (int)v};
                return 0;
            }
        }
        throw segq::Error(SEGQ_TORCH_EINVAL,
                          std::string("bad device '") + s +
                              "': expected cpu, cuda or cuda:N (N from 0 to 127)");
    });
}

extern "C" int segq_device_format(segq_device d, char *buf, size_t n) {
    return run_i(__func__, [&] {
        if (!buf || n == 0)
            throw segq::Error(SEGQ_TORCH_EINVAL, "buffer is NULL or empty");
        segq::device(d); // validates
        int len = d.type == SEGQ_DEVICE_CPU ? std::snprintf(buf, n, "cpu")
                  : d.index < 0             ? std::snprintf(buf, n, "cuda")
                                            : std::snprintf(buf, n, "cuda:%d", d.index);
        if (len < 0 || (size_t)len >= n)
            throw segq::Error(SEGQ_TORCH_EINVAL, "buffer too small");
        return len;
    });
}

// ---------------------------------------------------------------------
// Creation

extern "C" segq_tensor *segq_zeros(const int64_t *shape, int ndim, segq_dtype dt,
                                   segq_device dev) {
    return run_t(__func__, [&] { return at::zeros(new_shape(shape, ndim), opts(dt, dev)); });
}

extern "C" segq_tensor *segq_ones(const int64_t *shape, int ndim, segq_dtype dt,
                                  segq_device dev) {
    return run_t(__func__, [&] { return at::ones(new_shape(shape, ndim), opts(dt, dev)); });
}

extern "C" segq_tensor *segq_full(const int64_t *shape, int ndim, double value,
                                  segq_dtype dt, segq_device dev) {
    return run_t(__func__,
                 [&] { return at::full(new_shape(shape, ndim), value, opts(dt, dev)); });
}

extern "C" segq_tensor *segq_scalar(double value, segq_dtype dt, segq_device dev) {
    return run_t(__func__, [&] { return at::full({}, value, opts(dt, dev)); });
}

extern "C" segq_tensor *segq_randn(const int64_t *shape, int ndim, segq_dtype dt,
                                   segq_device dev) {
    return run_t(__func__, [&] { return at::randn(new_shape(shape, ndim), opts(dt, dev)); });
}

extern "C" segq_tensor *segq_rand(const int64_t *shape, int ndim, segq_dtype dt,
                                  segq_device dev) {
    return run_t(__func__, [&] { return at::rand(new_shape(shape, ndim), opts(dt, dev)); });
}

extern "C" segq_tensor *segq_arange(double start, double end, double step, segq_dtype dt,
                                    segq_device dev) {
    return run_t(__func__, [&] { return at::arange(start, end, step, opts(dt, dev)); });
}

extern "C" segq_tensor *segq_zeros_like(segq_tensor *t) {
    return run_t(__func__, [&] { return at::zeros_like(ten(t)); });
}
extern "C" segq_tensor *segq_ones_like(segq_tensor *t) {
    return run_t(__func__, [&] { return at::ones_like(ten(t)); });
}
extern "C" segq_tensor *segq_randn_like(segq_tensor *t) {
    return run_t(__func__, [&] { return at::randn_like(ten(t)); });
}
extern "C" segq_tensor *segq_rand_like(segq_tensor *t) {
    return run_t(__func__, [&] { return at::rand_like(ten(t)); });
}

extern "C" segq_tensor *segq_from_floats(const float *data, const int64_t *shape, int ndim,
                                         segq_device dev) {
    return run_t(__func__, [&] {
        auto s = new_shape(shape, ndim);
        int64_t n = checked_numel(s);
        if (!data && n > 0)
            throw segq::Error(SEGQ_TORCH_EINVAL, "data is NULL");
        at::Tensor cpu = at::empty(s, at::TensorOptions().dtype(at::kFloat));
        if (n > 0)
            std::memcpy(cpu.data_ptr(), data, (size_t)n * sizeof(float));
        return cpu.to(segq::device(dev));
    });
}

extern "C" segq_tensor *segq_from_bytes(const void *data, size_t nbytes, segq_dtype dt,
                                        const int64_t *shape, int ndim, segq_device dev) {
    return run_t(__func__, [&] {
        auto s = new_shape(shape, ndim);
        int64_t n = checked_numel(s);
        size_t es = segq_dtype_size(dt);
        if (es == 0)
            throw segq::Error(SEGQ_TORCH_EINVAL,
                              "unknown segq_dtype " + std::to_string((int)dt));
        if ((uint64_t)n > SIZE_MAX / es || (size_t)n * es != nbytes)
            throw segq::Error(SEGQ_TORCH_EINVAL,
                              "byte count " + std::to_string(nbytes) +
                                  " does not match the shape (" + std::to_string(n) +
                                  " elements of " + std::to_string(es) + " bytes)");
        if (!data && nbytes > 0)
            throw segq::Error(SEGQ_TORCH_EINVAL, "data is NULL");
        at::Tensor cpu = at::empty(s, at::TensorOptions().dtype(segq::scalar_type(dt)));
        if (nbytes > 0)
            std::memcpy(cpu.data_ptr(), data, nbytes);
        return cpu.to(segq::device(dev));
    });
}

// ---------------------------------------------------------------------
// Queries and copying out

extern "C" int segq_dim(segq_tensor *t) {
    return run_i(__func__, [&] { return (int)ten(t).dim(); });
}

extern "C" int64_t segq_size(segq_tensor *t, int dim) {
    try {
        return ten(t).size(dim);
    } catch (...) {
        return segq::record_exception(__func__);
    }
}

extern "C" int segq_shape(segq_tensor *t, int64_t *out, int max) {
    return run_i(__func__, [&] {
        const at::Tensor &x = ten(t);
        if (max > 0 && !out)
            throw segq::Error(SEGQ_TORCH_EINVAL, "out is NULL");
        for (int i = 0; i < (int)x.dim() && i < max; i++)
            out[i] = x.size(i);
        return (int)x.dim();
    });
}

extern "C" int64_t segq_numel(segq_tensor *t) {
    try {
        return ten(t).numel();
    } catch (...) {
        return segq::record_exception(__func__);
    }
}

extern "C" int segq_dtype_of(segq_tensor *t, segq_dtype *out) {
    return run_i(__func__, [&] {
        segq_dtype d = segq::from_scalar_type(ten(t).scalar_type());
        if (!out)
            throw segq::Error(SEGQ_TORCH_EINVAL, "out is NULL");
        *out = d;
        return 0;
    });
}

extern "C" int segq_device_of(segq_tensor *t, segq_device *out) {
    return run_i(__func__, [&] {
        at::Device d = ten(t).device();
        if (!out)
            throw segq::Error(SEGQ_TORCH_EINVAL, "out is NULL");
        if (d.is_cpu())
            *out = segq_device{SEGQ_DEVICE_CPU, -1};
        else if (d.is_cuda())
            *out = segq_device{SEGQ_DEVICE_CUDA, (int)d.index()};
        else
            throw segq::Error(SEGQ_TORCH_EINVAL, "tensor is on device " + d.str() +
                                                     ", which segq does not support");
        return 0;
    });
}

extern "C" int segq_is_contiguous(segq_tensor *t) {
    return run_i(__func__, [&] { return ten(t).is_contiguous() ? 1 : 0; });
}

extern "C" int segq_describe(segq_tensor *t, char *buf, size_t n) {
    return run_i(__func__, [&] {
        const at::Tensor &x = ten(t);
        if (!buf || n == 0)
            throw segq::Error(SEGQ_TORCH_EINVAL, "buffer is NULL or empty");
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

extern "C" int segq_item(segq_tensor *t, double *out) {
    return run_i(__func__, [&] {
        double v = ten(t).item<double>();
        if (!out)
            throw segq::Error(SEGQ_TORCH_EINVAL, "out is NULL");
        *out = v;
        return 0;
    });
}

extern "C" int segq_to_floats(segq_tensor *t, float *out, size_t count) {
    return run_i(__func__, [&] {
        at::Tensor x = ten(t).detach().to(at::kCPU, at::kFloat).contiguous();
        if ((uint64_t)x.numel() != (uint64_t)count)
            throw segq::Error(SEGQ_TORCH_EINVAL,
                              "count " + std::to_string(count) +
                                  " differs from the tensor's " +
                                  std::to_string(x.numel()) + " elements");
        if (count > 0 && !out)
            throw segq::Error(SEGQ_TORCH_EINVAL, "out is NULL");
        if (count > 0)
            std::memcpy(out, x.data_ptr<float>(), count * sizeof(float));
        return 0;
    });
}

extern "C" int segq_data(segq_tensor *t, const void **data, size_t *nbytes) {
    return run_i(__func__, [&] {
        const at::Tensor &x = ten(t);
        if (!data || !nbytes)
            throw segq::Error(SEGQ_TORCH_EINVAL, "data and nbytes must not be NULL");
        if (!x.device().is_cpu() || !x.is_contiguous())
            throw segq::Error(SEGQ_TORCH_EINVAL,
                              "raw data needs a contiguous CPU tensor: call "
                              "segq_cpu_contiguous first");
        *data = x.data_ptr();
        *nbytes = x.nbytes();
        return 0;
    });
}

// ---------------------------------------------------------------------
// Conversion, copying, in-place

extern "C" segq_tensor *segq_to_dtype(segq_tensor *t, segq_dtype dt) {
    return run_t(__func__, [&] { return ten(t).to(segq::scalar_type(dt)); });
}

extern "C" segq_tensor *segq_to_device(segq_tensor *t, segq_device dev) {
    return run_t(__func__, [&] { return ten(t).to(segq::device(dev)); });
}

extern "C" segq_tensor *segq_cpu_contiguous(segq_tensor *t) {
    return run_t(__func__, [&] { return ten(t).to(at::kCPU).contiguous(); });
}

extern "C" segq_tensor *segq_contiguous(segq_tensor *t) {
    return run_t(__func__, [&] { return ten(t).contiguous(); });
}

extern "C" segq_tensor *segq_channels_last(segq_tensor *t) {
    return run_t(__func__, [&] {
        const at::Tensor &x = ten(t);
        if (x.dim() != 4)
            throw segq::Error(SEGQ_TORCH_EINVAL, "channels_last needs a 4-d tensor, got " +
                                                     std::to_string(x.dim()) + " dims");
        return x.contiguous(at::MemoryFormat::ChannelsLast);
    });
}

extern "C" segq_tensor *segq_clone(segq_tensor *t) {
    return run_t(__func__, [&] { return ten(t).clone(); });
}

extern "C" segq_tensor *segq_detach(segq_tensor *t) {
    return run_t(__func__, [&] { return ten(t).detach(); });
}

// In-place state changes are loading/initialisation, never part of a
// graph: run them without autograd so parameters (leaves) accept them.
extern "C" int segq_copy_(segq_tensor *dst, segq_tensor *src) {
    return run_i(__func__, [&] {
        c10::NoGradGuard ng;
        ten(dst).copy_(ten(src));
        return 0;
    });
}

extern "C" int segq_fill_(segq_tensor *t, double value) {
    return run_i(__func__, [&] {
        c10::NoGradGuard ng;
        ten(t).fill_(value);
        return 0;
    });
}

extern "C" int segq_zero_(segq_tensor *t) {
    return run_i(__func__, [&] {
        c10::NoGradGuard ng;
        ten(t).zero_();
        return 0;
    });
}

extern "C" int segq_normal_(segq_tensor *t, double mean, double std) {
    return run_i(__func__, [&] {
        c10::NoGradGuard ng;
        ten(t).normal_(mean, std);
        return 0;
    });
}

// ---------------------------------------------------------------------
// Shape ops

namespace {
std::vector<at::Tensor> tensor_list(segq_tensor *const *ts, int n) {
    if (n <= 0 || !ts)
        throw segq::Error(SEGQ_TORCH_EINVAL, "need a non-empty tensor array");
    std::vector<at::Tensor> v;
    v.reserve((size_t)n);
    for (int i = 0; i < n; i++)
        v.push_back(ten(ts[i]));
    return v;
}
} // namespace

extern "C" segq_tensor *segq_reshape(segq_tensor *t, const int64_t *shape, int ndim) {
    return run_t(__func__,
                 [&] { return ten(t).reshape(segq::shape_vec(shape, ndim, "shape")); });
}

extern "C" segq_tensor *segq_view(segq_tensor *t, const int64_t *shape, int ndim) {
    return run_t(__func__,
                 [&] { return ten(t).view(segq::shape_vec(shape, ndim, "shape")); });
}

extern "C" segq_tensor *segq_permute(segq_tensor *t, const int64_t *dims, int ndim) {
    return run_t(__func__,
                 [&] { return ten(t).permute(segq::shape_vec(dims, ndim, "dims")); });
}

extern "C" segq_tensor *segq_transpose(segq_tensor *t, int dim0, int dim1) {
    return run_t(__func__, [&] { return ten(t).transpose(dim0, dim1); });
}

extern "C" segq_tensor *segq_unsqueeze(segq_tensor *t, int dim) {
    return run_t(__func__, [&] { return ten(t).unsqueeze(dim); });
}

extern "C" segq_tensor *segq_squeeze(segq_tensor *t, int dim) {
    return run_t(__func__, [&] { return ten(t).squeeze(dim); });
}

extern "C" segq_tensor *segq_narrow(segq_tensor *t, int dim, int64_t start, int64_t length) {
    return run_t(__func__, [&] { return ten(t).narrow(dim, start, length); });
}

extern "C" segq_tensor *segq_slice(segq_tensor *t, int dim, int64_t start, int64_t end,
                                   int64_t step) {
    return run_t(__func__, [&] { return ten(t).slice(dim, start, end, step); });
}

extern "C" segq_tensor *segq_cat(segq_tensor *const *ts, int n, int dim) {
    return run_t(__func__, [&] { return at::cat(tensor_list(ts, n), dim); });
}

extern "C" segq_tensor *segq_stack(segq_tensor *const *ts, int n, int dim) {
    return run_t(__func__, [&] { return at::stack(tensor_list(ts, n), dim); });
}

extern "C" segq_tensor *segq_repeat(segq_tensor *t, const int64_t *reps, int n) {
    return run_t(__func__, [&] { return ten(t).repeat(segq::shape_vec(reps, n, "reps")); });
}

extern "C" segq_tensor *segq_expand(segq_tensor *t, const int64_t *shape, int ndim) {
    return run_t(__func__,
                 [&] { return ten(t).expand(segq::shape_vec(shape, ndim, "shape")); });
}

extern "C" segq_tensor *segq_flip(segq_tensor *t, const int64_t *dims, int n) {
    return run_t(__func__, [&] { return ten(t).flip(segq::shape_vec(dims, n, "dims")); });
}

extern "C" segq_tensor *segq_pad(segq_tensor *t, const int64_t *pads, int npad,
                                 double value) {
    return run_t(__func__, [&] {
        auto p = segq::shape_vec(pads, npad, "pads");
        if (npad % 2)
            throw segq::Error(SEGQ_TORCH_EINVAL,
                              "pads needs an even length (a before/after pair per dim)");
        return at::constant_pad_nd(ten(t), p, value);
    });
}

// ---------------------------------------------------------------------
// Elementwise

#define SEGQ_BINARY(name, expr)                                                      \
    extern "C" segq_tensor *name(segq_tensor *a, segq_tensor *b) {                   \
        return run_t(__func__, [&] {                                                 \
            const at::Tensor &x = ten(a);                                            \
            const at::Tensor &y = ten(b);                                            \
            return expr;                                                             \
        });                                                                          \
    }
#define SEGQ_UNARY(name, expr)                                                       \
    extern "C" segq_tensor *name(segq_tensor *a) {                                   \
        return run_t(__func__, [&] {                                                 \
            const at::Tensor &x = ten(a);                                            \
            return expr;                                                             \
        });                                                                          \
    }
#define SEGQ_SCALAR(name, expr)                                                      \
    extern "C" segq_tensor *name(segq_tensor *a, double s) {                         \
        return run_t(__func__, [&] {                                                 \
            const at::Tensor &x = ten(a);                                            \
            return expr;                                                             \
        });                                                                          \
    }

SEGQ_BINARY(segq_add, x + y)
SEGQ_BINARY(segq_sub, x - y)
SEGQ_BINARY(segq_mul, x * y)
SEGQ_BINARY(segq_div, x / y)
SEGQ_BINARY(segq_pow, at::pow(x, y))
SEGQ_BINARY(segq_maximum, at::maximum(x, y))
SEGQ_BINARY(segq_minimum, at::minimum(x, y))
SEGQ_BINARY(segq_matmul, at::matmul(x, y))
SEGQ_BINARY(segq_bmm, at::bmm(x, y))
SEGQ_BINARY(segq_mse_loss, at::mse_loss(x, y, at::Reduction::Mean))

SEGQ_SCALAR(segq_add_scalar, x + s)
SEGQ_SCALAR(segq_sub_scalar, x - s)
SEGQ_SCALAR(segq_rsub_scalar, at::rsub(x, s))
SEGQ_SCALAR(segq_mul_scalar, x * s)
SEGQ_SCALAR(segq_div_scalar, x / s)
SEGQ_SCALAR(segq_pow_scalar, at::pow(x, s))
SEGQ_SCALAR(segq_leaky_relu, at::leaky_relu(x, s))

SEGQ_UNARY(segq_neg, at::neg(x))
SEGQ_UNARY(segq_sqrt, at::sqrt(x))
SEGQ_UNARY(segq_abs, at::abs(x))
SEGQ_UNARY(segq_exp, at::exp(x))
SEGQ_UNARY(segq_log, at::log(x))
SEGQ_UNARY(segq_relu, at::relu(x))
SEGQ_UNARY(segq_tanh, at::tanh(x))
SEGQ_UNARY(segq_sigmoid, at::sigmoid(x))
SEGQ_UNARY(segq_sum, x.sum())
SEGQ_UNARY(segq_mean, x.mean())
SEGQ_UNARY(segq_max, x.max())
SEGQ_UNARY(segq_min, x.min())

extern "C" segq_tensor *segq_add_scaled(segq_tensor *a, segq_tensor *b, double alpha) {
    return run_t(__func__, [&] { return at::add(ten(a), ten(b), alpha); });
}

extern "C" segq_tensor *segq_clamp(segq_tensor *a, double lo, double hi) {
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

namespace {
at::Tensor compare(const at::Tensor &x, segq_cmp op, const at::Tensor &y) {
    switch (op) {
    case SEGQ_GT: return at::gt(x, y);
    case SEGQ_GE: return at::ge(x, y);
    case SEGQ_LT: return at::lt(x, y);
    case SEGQ_LE: return at::le(x, y);
    case SEGQ_EQ: return at::eq(x, y);
    case SEGQ_NE: return at::ne(x, y);
    }
    throw segq::Error(SEGQ_TORCH_EINVAL, "unknown segq_cmp " + std::to_string((int)op));
}
} // namespace

extern "C" segq_tensor *segq_compare_scalar(segq_tensor *a, segq_cmp op, double s) {
    return run_t(__func__, [&] {
        const at::Tensor &x = ten(a);
        at::Tensor y = at::scalar_tensor(s, x.options().requires_grad(false));
        return compare(x, op, y).to(x.scalar_type());
    });
}

extern "C" segq_tensor *segq_compare(segq_tensor *a, segq_cmp op, segq_tensor *b) {
    return run_t(__func__, [&] {
        const at::Tensor &x = ten(a);
        return compare(x, op, ten(b)).to(x.scalar_type());
    });
}

extern "C" segq_tensor *segq_where(segq_tensor *cond, segq_tensor *a, segq_tensor *b) {
    return run_t(__func__, [&] {
        const at::Tensor &c = ten(cond);
        at::Tensor mask = c.scalar_type() == at::kBool ? c : c.ne(0);
        return at::where(mask, ten(a), ten(b));
    });
}

// ---------------------------------------------------------------------
// Reductions

extern "C" segq_tensor *segq_sum_dims(segq_tensor *a, const int64_t *dims, int n,
                                      int keepdim) {
    return run_t(__func__, [&] {
        auto d = segq::shape_vec(dims, n, "dims");
        return at::sum(ten(a), at::IntArrayRef(d), keepdim != 0);
    });
}

extern "C" segq_tensor *segq_mean_dims(segq_tensor *a, const int64_t *dims, int n,
                                       int keepdim) {
    return run_t(__func__, [&] {
        auto d = segq::shape_vec(dims, n, "dims");
        return at::mean(ten(a), at::IntArrayRef(d), keepdim != 0);
    });
}

extern "C" segq_tensor *segq_norm_dim(segq_tensor *a, double p, int dim, int keepdim) {
    return run_t(__func__, [&] {
        int64_t d = dim;
        return at::linalg_vector_norm(ten(a), p, at::IntArrayRef(&d, 1), keepdim != 0);
    });
}

// ---------------------------------------------------------------------
// NN ops

namespace {
at::Tensor opt_t(segq_tensor *p) { return p ? p->t : at::Tensor(); }

void need_4d(const at::Tensor &x, const char *what) {
    if (x.dim() != 4)
        throw segq::Error(SEGQ_TORCH_EINVAL, std::string(what) +
                                                 " needs a 4-D NCHW tensor, got " +
                                                 std::to_string(x.dim()) + " dims");
}
} // namespace

extern "C" segq_tensor *segq_conv2d(segq_tensor *x, segq_tensor *w, segq_tensor *bias,
                                    int stride, int padding, int dilation, int groups) {
    return run_t(__func__, [&] {
        const int64_t st[2] = {stride, stride}, pa[2] = {padding, padding},
                      di[2] = {dilation, dilation};
        return at::conv2d(ten(x), ten(w), opt_t(bias), at::IntArrayRef(st),
                          at::IntArrayRef(pa), at::IntArrayRef(di), groups);
    });
}

extern "C" segq_tensor *segq_conv_transpose2d(segq_tensor *x, segq_tensor *w,
                                              segq_tensor *bias, int stride, int padding,
                                              int output_padding, int groups,
                                              int dilation) {
    return run_t(__func__, [&] {
        const int64_t st[2] = {stride, stride}, pa[2] = {padding, padding},
                      op[2] = {output_padding, output_padding},
                      di[2] = {dilation, dilation};
        return at::conv_transpose2d(ten(x), ten(w), opt_t(bias), at::IntArrayRef(st),
                                    at::IntArrayRef(pa), at::IntArrayRef(op), groups,
                                    at::IntArrayRef(di));
    });
}

extern "C" segq_tensor *segq_batch_norm(segq_tensor *x, segq_tensor *weight,
                                        segq_tensor *bias, segq_tensor *running_mean,
                                        segq_tensor *running_var, int training,
                                        double momentum, double eps) {
    return run_t(__func__, [&] {
        const at::Tensor &in = ten(x);
        if (!training && (!running_mean || !running_var))
            throw segq::Error(SEGQ_TORCH_EINVAL,
                              "eval mode (training = 0) needs running_mean and "
                              "running_var");
        return at::batch_norm(in, opt_t(weight), opt_t(bias), opt_t(running_mean),
                              opt_t(running_var), training != 0, momentum, eps,
                              at::globalContext().userEnabledCuDNN());
    });
}

namespace {
at::Tensor resize(const at::Tensor &x, int64_t oh, int64_t ow, segq_interp mode,
                  int align_corners, int antialias, c10::optional<double> sh,
                  c10::optional<double> sw) {
    need_4d(x, "interpolate");
    if (oh <= 0 || ow <= 0)
        throw segq::Error(SEGQ_TORCH_EINVAL, "output size " + std::to_string(oh) + "x" +
                                                 std::to_string(ow) + " is not positive");
    const int64_t sz[2] = {oh, ow};
    at::IntArrayRef out(sz);
    bool ac = align_corners != 0;
    switch (mode) {
    case SEGQ_INTERP_NEAREST:
        if (ac || antialias)
            throw segq::Error(SEGQ_TORCH_EINVAL,
                              "align_corners and antialias only apply to bilinear and "
                              "bicubic");
        return at::upsample_nearest2d(x, out, sh, sw);
    case SEGQ_INTERP_BILINEAR:
        return antialias ? at::_upsample_bilinear2d_aa(x, out, ac, sh, sw)
                         : at::upsample_bilinear2d(x, out, ac, sh, sw);
    case SEGQ_INTERP_BICUBIC:
        return antialias ? at::_upsample_bicubic2d_aa(x, out, ac, sh, sw)
                         : at::upsample_bicubic2d(x, out, ac, sh, sw);
    }
    throw segq::Error(SEGQ_TORCH_EINVAL, "unknown segq_interp " + std::to_string((int)mode));
}
} // namespace

extern "C" segq_tensor *segq_interpolate(segq_tensor *x, int64_t out_h, int64_t out_w,
                                         segq_interp mode, int align_corners,
                                         int antialias) {
    return run_t(__func__, [&] {
        return resize(ten(x), out_h, out_w, mode, align_corners, antialias, c10::nullopt,
                      c10::nullopt);
    });
}

extern "C" segq_tensor *segq_interpolate_scale(segq_tensor *x, double scale_h,
                                               double scale_w, segq_interp mode,
                                               int align_corners, int antialias) {
    return run_t(__func__, [&] {
        const at::Tensor &in = ten(x);
        need_4d(in, "interpolate");
        if (!(scale_h > 0) || !(scale_w > 0) || std::isinf(scale_h) || std::isinf(scale_w))
            throw segq::Error(SEGQ_TORCH_EINVAL, "scale factors must be positive and finite");
        // As torch's upsample compute_output_size: truncation of in * s.
        int64_t oh = (int64_t)((double)in.size(2) * scale_h);
        int64_t ow = (int64_t)((double)in.size(3) * scale_w);
        return resize(in, oh, ow, mode, align_corners, antialias, scale_h, scale_w);
    });
}

extern "C" segq_tensor *segq_max_pool2d(segq_tensor *x, int kernel, int stride,
                                        int padding) {
    return run_t(__func__, [&] {
        const int64_t k[2] = {kernel, kernel}, s[2] = {stride, stride},
                      p[2] = {padding, padding}, d[2] = {1, 1};
        return at::max_pool2d(ten(x), at::IntArrayRef(k), at::IntArrayRef(s),
                              at::IntArrayRef(p), at::IntArrayRef(d), false);
    });
}

extern "C" segq_tensor *segq_avg_pool2d(segq_tensor *x, int kernel, int stride,
                                        int padding) {
    return run_t(__func__, [&] {
        const int64_t k[2] = {kernel, kernel}, s[2] = {stride, stride},
                      p[2] = {padding, padding};
        return at::avg_pool2d(ten(x), at::IntArrayRef(k), at::IntArrayRef(s),
                              at::IntArrayRef(p), false, true, c10::nullopt);
    });
}
