// segq_torch_train.cpp: autograd, grad-mode and autocast regions, Adam,
// devices, threads and seeding for the C shim (segq_torch.h). Kept apart
// from the op wrappers so the two halves compile in parallel.
#include "segq_torch_internal.hpp"

#include <ATen/Parallel.h>
#include <ATen/Version.h>
#include <ATen/autocast_mode.h>
#include <torch/csrc/autograd/autograd.h>
#include <torch/cuda.h>
#include <torch/optim/adam.h>
#include <torch/version.h>

#include <sched.h>
#include <unistd.h>

#include <cmath>
#include <cstdio>
#include <cstring>
#include <memory>
#include <numeric>
#include <thread>

#ifdef SEGQ_TORCH_CUDA
#include <c10/cuda/CUDACachingAllocator.h>
#include <c10/cuda/CUDAGuard.h>
#include <cuda_runtime_api.h>
#endif

using segqt::run_i;
using segqt::run_t;
using segqt::ten;

// ---------------------------------------------------------------------
// Autograd

extern "C" int segqt_set_requires_grad(segqt_tensor *t, int flag)
{
    return run_i(__func__, [&] {
        ten(t).set_requires_grad(flag != 0);
        return 0;
    });
}

extern "C" int segqt_requires_grad(segqt_tensor *t)
{
    return run_i(__func__, [&] { return ten(t).requires_grad() ? 1 : 0; });
}

extern "C" int segqt_backward(segqt_tensor *loss, int retain_graph, int create_graph)
{
    return run_i(__func__, [&] {
        const at::Tensor &l = ten(loss);
        if (l.numel() != 1)
            throw segqt::Error(SEGQ_EINVAL, "backward needs a one-element loss, got "
                                                + std::to_string(l.numel()) + " elements");
        l.backward({}, retain_graph != 0, create_graph != 0);
        return 0;
    });
}

extern "C" int segqt_backward_from(segqt_tensor *const *outputs, segqt_tensor *const *grad_outputs,
                                   int n)
{
    return run_i(__func__, [&] {
        if (n <= 0 || !outputs || !grad_outputs)
            throw segqt::Error(SEGQ_EINVAL, "need n > 0 outputs and their gradients");
        std::vector<at::Tensor> outs, gouts;
        for (int i = 0; i < n; i++) {
            outs.push_back(ten(outputs[i]));
            gouts.push_back(ten(grad_outputs[i]));
            if (outs.back().sizes() != gouts.back().sizes())
                throw segqt::Error(SEGQ_EINVAL,
                                   "output " + std::to_string(i) + ": gradient of another shape");
        }
        torch::autograd::backward(outs, gouts);
        return 0;
    });
}

extern "C" segqt_tensor *segqt_grad(segqt_tensor *t)
{
    return run_t(__func__, [&] {
        const at::Tensor &g = ten(t).grad();
        if (!g.defined())
            throw segqt::Error(SEGQ_EINVAL,
                               "tensor has no gradient (not a leaf with requires_grad, "
                               "no backward yet, or zeroed)");
        return g;
    });
}

extern "C" int segqt_zero_grad(segqt_tensor *t)
{
    return run_i(__func__, [&] {
        ten(t).mutable_grad().reset();
        return 0;
    });
}

extern "C" int segqt_autograd_grad(segqt_tensor *const *outputs, int nout,
                                   segqt_tensor *const *inputs, int nin,
                                   segqt_tensor *const *grad_outputs, segqt_tensor **grads_out,
                                   int retain_graph, int create_graph)
{
    if (grads_out && nin > 0)
        for (int i = 0; i < nin; i++)
            grads_out[i] = nullptr;
    int rc = run_i(__func__, [&] {
        if (nout <= 0 || nin <= 0 || !outputs || !inputs || !grads_out)
            throw segqt::Error(SEGQ_EINVAL,
                               "need non-empty outputs and inputs and a grads_out array");
        segqt::need_scope(); // before the work, so no result is lost
        std::vector<at::Tensor> outs, ins, gouts;
        for (int i = 0; i < nout; i++)
            outs.push_back(ten(outputs[i]));
        for (int i = 0; i < nin; i++)
            ins.push_back(ten(inputs[i]));
        if (grad_outputs)
            for (int i = 0; i < nout; i++)
                gouts.push_back(ten(grad_outputs[i]));
        auto grads =
            torch::autograd::grad(outs, ins, gouts, retain_graph != 0, create_graph != 0, false);
        for (int i = 0; i < nin; i++)
            grads_out[i] = segqt::wrap(grads[(size_t)i]);
        return 0;
    });
    if (rc < 0 && grads_out && nin > 0)
        for (int i = 0; i < nin; i++)
            segqt_tensor_destroy(&grads_out[i]);
    return rc;
}

// ---------------------------------------------------------------------
// Grad mode and autocast regions

namespace
{
thread_local std::vector<bool> t_grad_stack;

struct AutocastFrame {
    segqt_device_type type;
    bool was_enabled;
    at::ScalarType was_dtype;
};
thread_local std::vector<AutocastFrame> t_autocast_stack;

// torch 2.4 replaced the per-device autocast setters with ones taking a
// device type (the old ones are deprecated, later removed).
#if TORCH_VERSION_MAJOR > 2 || (TORCH_VERSION_MAJOR == 2 && TORCH_VERSION_MINOR >= 4)
at::DeviceType autocast_dev(segqt_device_type t)
{
    return t == SEGQT_DEVICE_CUDA ? at::kCUDA : at::kCPU;
}
bool autocast_enabled(segqt_device_type t)
{
    return at::autocast::is_autocast_enabled(autocast_dev(t));
}
at::ScalarType autocast_dtype(segqt_device_type t)
{
    return at::autocast::get_autocast_dtype(autocast_dev(t));
}
void autocast_set(segqt_device_type t, bool on, at::ScalarType dt)
{
    at::autocast::set_autocast_enabled(autocast_dev(t), on);
    at::autocast::set_autocast_dtype(autocast_dev(t), dt);
}
#else
bool autocast_enabled(segqt_device_type t)
{
    return t == SEGQT_DEVICE_CUDA ? at::autocast::is_enabled() : at::autocast::is_cpu_enabled();
}
at::ScalarType autocast_dtype(segqt_device_type t)
{
    return t == SEGQT_DEVICE_CUDA ? at::autocast::get_autocast_gpu_dtype()
                                  : at::autocast::get_autocast_cpu_dtype();
}
void autocast_set(segqt_device_type t, bool on, at::ScalarType dt)
{
    if (t == SEGQT_DEVICE_CUDA) {
        at::autocast::set_enabled(on);
        at::autocast::set_autocast_gpu_dtype(dt);
    } else {
        at::autocast::set_cpu_enabled(on);
        at::autocast::set_autocast_cpu_dtype(dt);
    }
}
#endif
} // namespace

extern "C" int segqt_no_grad_begin(void)
{
    return run_i(__func__, [] {
        t_grad_stack.push_back(c10::GradMode::is_enabled());
        c10::GradMode::set_enabled(false);
        return 0;
    });
}

extern "C" int segqt_no_grad_end(void)
{
    return run_i(__func__, [] {
        if (t_grad_stack.empty())
            throw segqt::Error(SEGQ_EINTERNAL, "segqt_no_grad_end without segqt_no_grad_begin");
        c10::GradMode::set_enabled(t_grad_stack.back());
        t_grad_stack.pop_back();
        return 0;
    });
}

extern "C" int segqt_grad_enabled(void)
{
    return c10::GradMode::is_enabled() ? 1 : 0;
}

extern "C" int segqt_autocast_begin(segqt_device_type type, segqt_dtype dt)
{
    return run_i(__func__, [&] {
        if (type != SEGQT_DEVICE_CPU && type != SEGQT_DEVICE_CUDA)
            throw segqt::Error(SEGQ_EINVAL, "unknown device type " + std::to_string((int)type));
        if (dt != SEGQT_BF16 && dt != SEGQT_F16)
            throw segqt::Error(SEGQ_EINVAL, "autocast dtype must be BF16 or F16");
        t_autocast_stack.push_back({type, autocast_enabled(type), autocast_dtype(type)});
        autocast_set(type, true, segqt::scalar_type(dt));
        at::autocast::increment_nesting();
        return 0;
    });
}

extern "C" int segqt_autocast_end(void)
{
    return run_i(__func__, [] {
        if (t_autocast_stack.empty())
            throw segqt::Error(SEGQ_EINTERNAL, "segqt_autocast_end without segqt_autocast_begin");
        AutocastFrame f = t_autocast_stack.back();
        t_autocast_stack.pop_back();
        autocast_set(f.type, f.was_enabled, f.was_dtype);
        // As torch.autocast's __exit__: the cast-weight cache lives for the
        // outermost region only.
        if (at::autocast::decrement_nesting() == 0)
            at::autocast::clear_cache();
        return 0;
    });
}

// ---------------------------------------------------------------------
// Adam

namespace
{
// Adam whose step count, bias corrections and learning rate are tensors on
// the parameters' device. torch::optim::Adam keeps them on the host and
// passes them to its kernels as arguments, so a CUDA graph that captured
// its step would replay the captured count forever; here each replay reads
// and advances the count on the device. The update is torch.optim.Adam's
// (weight decay 0, no amsgrad); rounding differs only in the order of the
// last multiply. Its moments are two flat buffers over all parameters and
// the gradients are gathered into one: an update is a dozen kernels
// whatever the number of parameters (a SinGAN scale's G and D have 18
// each), where per-parameter ops were five kernels a parameter, hundreds
// per iteration on a GPU whose small scales are bound by kernel count.
struct DeviceAdam {
    std::vector<at::Tensor> params;
    std::vector<int64_t> numels;
    at::Tensor exp_avg, exp_avg_sq; // flat, the parameters in order
    at::Tensor step, lr;            // 0-dim float64 on the device
    double beta1, beta2, eps;

    DeviceAdam(std::vector<at::Tensor> ps, double lr_, double b1, double b2, double e)
        : params(std::move(ps)), beta1(b1), beta2(b2), eps(e)
    {
        at::NoGradGuard no_grad;
        const at::TensorOptions like = params.at(0).options();
        for (const auto &p : params) {
            if (p.scalar_type() != params[0].scalar_type() || p.device() != like.device())
                throw segqt::Error(SEGQ_EINVAL, "the device-step Adam needs all parameters of "
                                                "one dtype on one device");
            numels.push_back(p.numel());
        }
        const int64_t total = std::accumulate(numels.begin(), numels.end(), int64_t{0});
        exp_avg = at::zeros({total}, like);
        exp_avg_sq = at::zeros({total}, like);
        auto on = at::TensorOptions().dtype(at::kDouble).device(like.device());
        step = at::zeros({}, on);
        lr = at::full({}, lr_, on);
    }

    // Every gradient, flat and in order.
    at::Tensor gathered_grads() const
    {
        std::vector<at::Tensor> grads;
        for (const auto &p : params) {
            // a capture needs every gradient present: the same kernels each replay
            if (!p.grad().defined())
                throw segqt::Error(SEGQ_EINVAL,
                                   "a parameter has no gradient (the device-step Adam needs "
                                   "all of them)");
            grads.push_back(p.grad().reshape({-1}));
        }
        return at::cat(grads);
    }

    void update()
    {
        at::NoGradGuard no_grad;
        const at::Tensor g = gathered_grads();
        step.add_(1);
        at::Tensor step_size = (lr / (1 - at::pow(beta1, step))).to(at::kFloat);
        at::Tensor bc2_sqrt = (1 - at::pow(beta2, step)).sqrt().to(at::kFloat);
        exp_avg.mul_(beta1).add_(g, 1 - beta1);
        exp_avg_sq.mul_(beta2).addcmul_(g, g, 1 - beta2);
        at::Tensor denom = exp_avg_sq.sqrt().div_(bc2_sqrt).add_(eps);
        at::Tensor delta = exp_avg.div(denom).mul_(step_size);
        std::vector<at::Tensor> parts = delta.split_with_sizes(numels);
        for (size_t i = 0; i < params.size(); i++)
            parts[i] = parts[i].view(params[i].sizes());
        at::_foreach_sub_(params, parts);
    }
};
} // namespace

// One of the two: the host-step optimiser everywhere by default, the
// device-step one where a CUDA graph captures the training step.
struct segqt_adam {
    std::unique_ptr<torch::optim::Adam> host;
    std::unique_ptr<DeviceAdam> device;
};

namespace
{
std::vector<at::Tensor> adam_params(segqt_tensor *const *params, int n)
{
    if (n <= 0 || !params)
        throw segqt::Error(SEGQ_EINVAL, "need a non-empty parameter array");
    std::vector<at::Tensor> ps;
    for (int i = 0; i < n; i++) {
        const at::Tensor &p = ten(params[i]);
        if (!p.is_leaf() || !p.requires_grad())
            throw segqt::Error(SEGQ_EINVAL, "parameter " + std::to_string(i)
                                                + " is not a leaf tensor with requires_grad set");
        ps.push_back(p);
    }
    return ps;
}

segqt_adam *need(segqt_adam *o)
{
    if (!o)
        throw segqt::NullArg{};
    return o;
}

std::vector<at::Tensor> params_of(segqt_adam *opt)
{
    if (need(opt)->device)
        return opt->device->params;
    std::vector<at::Tensor> ps;
    for (auto &g : opt->host->param_groups())
        for (auto &p : g.params())
            ps.push_back(p);
    return ps;
}
} // namespace

extern "C" segqt_adam *segqt_adam_new(segqt_tensor *const *params, int n, double lr, double beta1,
                                      double beta2, double eps, double weight_decay)
{
    try {
        auto o = torch::optim::AdamOptions(lr)
                     .betas(std::make_tuple(beta1, beta2))
                     .eps(eps)
                     .weight_decay(weight_decay);
        auto *a = new segqt_adam;
        a->host = std::make_unique<torch::optim::Adam>(adam_params(params, n), o);
        return a;
    } catch (...) {
        segqt::record_exception(__func__);
        return nullptr;
    }
}

extern "C" segqt_adam *segqt_adam_new_capturable(segqt_tensor *const *params, int n, double lr,
                                                 double beta1, double beta2, double eps)
{
    try {
        auto *a = new segqt_adam;
        a->device = std::make_unique<DeviceAdam>(adam_params(params, n), lr, beta1, beta2, eps);
        return a;
    } catch (...) {
        segqt::record_exception(__func__);
        return nullptr;
    }
}

extern "C" void segqt_adam_destroy(segqt_adam **opt)
{
    if (!opt || !*opt)
        return;
    delete *opt;
    *opt = nullptr;
}

extern "C" int segqt_adam_step(segqt_adam *opt)
{
    return run_i(__func__, [&] {
        if (need(opt)->device)
            opt->device->update();
        else
            opt->host->step();
        return 0;
    });
}

extern "C" int segqt_adam_zero_grad(segqt_adam *opt)
{
    return run_i(__func__, [&] {
        // Set to none by hand: 1.13's zero_grad() zeroes, 2.x's sets to none.
        for (auto &p : params_of(opt))
            p.mutable_grad().reset();
        return 0;
    });
}

extern "C" int segqt_adam_set_lr(segqt_adam *opt, double lr)
{
    return run_i(__func__, [&] {
        if (!(lr >= 0) || std::isinf(lr))
            throw segqt::Error(SEGQ_EINVAL, "learning rate must be finite and >= 0");
        if (need(opt)->device) {
            at::NoGradGuard no_grad;
            opt->device->lr.fill_(lr); // on the device: a graph's replays see it
            return 0;
        }
        for (auto &g : opt->host->param_groups())
            static_cast<torch::optim::AdamOptions &>(g.options()).lr(lr);
        return 0;
    });
}

extern "C" double segqt_adam_get_lr(segqt_adam *opt)
{
    try {
        if (need(opt)->device)
            return opt->device->lr.item<double>();
        auto &g = opt->host->param_groups().at(0);
        return static_cast<torch::optim::AdamOptions &>(g.options()).lr();
    } catch (...) {
        segqt::record_exception(__func__);
        return NAN;
    }
}

// ---------------------------------------------------------------------
// Devices, threads, seeding

extern "C" int segqt_has_cuda_build(void)
{
#ifdef SEGQ_TORCH_CUDA
    return 1;
#else
    return 0;
#endif
}

extern "C" int segqt_cuda_device_count(void)
{
    try {
        return (int)torch::cuda::device_count();
    } catch (...) {
        segqt::record_exception(__func__);
        return 0;
    }
}

extern "C" int segqt_device_check(segqt_device d)
{
    return run_i(__func__, [&] {
        segqt::device(d); // validates type and index
        if (d.type == SEGQT_DEVICE_CPU)
            return 0;
        if (!segqt_has_cuda_build())
            throw segqt::Error(SEGQ_ENODEV,
                               "CUDA requested but this build uses a CPU-only libtorch "
                               "(rebuild with -DTorch_DIR=<a CUDA libtorch>)");
        int n = segqt_cuda_device_count();
        if (n == 0)
            throw segqt::Error(SEGQ_ENODEV, "CUDA requested but no CUDA device found");
        if (d.index >= n)
            throw segqt::Error(SEGQ_ENODEV, "CUDA device " + std::to_string(d.index)
                                                + " requested but only " + std::to_string(n)
                                                + " present (cuda:0..cuda:" + std::to_string(n - 1)
                                                + ")");
        return 0;
    });
}

extern "C" int segqt_cuda_device_info(int index, segqt_cuda_info *out)
{
    return run_i(__func__, [&] {
        if (!out)
            throw segqt::Error(SEGQ_EINVAL, "out is NULL");
        if (index < 0)
            throw segqt::Error(SEGQ_EINVAL, "CUDA device index must be >= 0");
        int rc = segqt_device_check(segqt_device{SEGQT_DEVICE_CUDA, index});
        if (rc < 0)
            return rc; // its message is recorded
#ifdef SEGQ_TORCH_CUDA
        c10::cuda::CUDAGuard guard((c10::DeviceIndex)index);
        cudaDeviceProp prop;
        cudaError_t e = cudaGetDeviceProperties(&prop, index);
        if (e != cudaSuccess)
            throw segqt::Error(SEGQ_ENODEV,
                               std::string("cudaGetDeviceProperties: ") + cudaGetErrorString(e));
        size_t free_b = 0, total_b = 0;
        e = cudaMemGetInfo(&free_b, &total_b);
        if (e != cudaSuccess)
            throw segqt::Error(SEGQ_ENODEV,
                               std::string("cudaMemGetInfo: ") + cudaGetErrorString(e));
        std::memset(out, 0, sizeof *out);
        out->index = index;
        std::snprintf(out->name, sizeof out->name, "%s", prop.name);
        out->total_bytes = total_b;
        out->free_bytes = free_b;
        out->major = prop.major;
        out->minor = prop.minor;
        return 0;
#else
        throw segqt::Error(SEGQ_ENODEV, "CUDA not compiled in");
#endif
    });
}

extern "C" int segqt_cuda_set_memory_fraction(double fraction, int device)
{
    return run_i(__func__, [&] {
        if (!(fraction > 0 && fraction <= 1))
            throw segqt::Error(SEGQ_EINVAL, "memory fraction must be in (0, 1]");
        if (device < 0)
            throw segqt::Error(SEGQ_EINVAL, "CUDA device index must be >= 0");
        int rc = segqt_device_check(segqt_device{SEGQT_DEVICE_CUDA, device});
        if (rc < 0)
            return rc; // its message is recorded
#ifdef SEGQ_TORCH_CUDA
        // The caching allocator initialises lazily, at the first CUDA
        // tensor; before that it refuses the setting ("Allocator not
        // initialized"). A one-element tensor initialises it in 1.13 and 2.x
        // alike (the lazy-init entry point itself was renamed).
        at::empty({1}, at::TensorOptions().device(at::kCUDA, (c10::DeviceIndex)device));
        c10::cuda::CUDACachingAllocator::setMemoryFraction(fraction, (c10::DeviceIndex)device);
        return 0;
#else
        throw segqt::Error(SEGQ_ENODEV, "CUDA not compiled in");
#endif
    });
}

extern "C" int segqt_cuda_peak_reserved(int device, uint64_t *out)
{
    return run_i(__func__, [&]() -> int {
        *out = 0;
#ifdef SEGQ_TORCH_CUDA
        if (device < 0 || device >= (int)torch::cuda::device_count())
            throw segqt::Error(SEGQ_EINVAL, "no CUDA device " + std::to_string(device));
        // index 0 of each stat array is the aggregate over pool kinds (its
        // enum moved namespaces between 1.13 and 2.x; the index did not)
        auto stats = c10::cuda::CUDACachingAllocator::getDeviceStats((c10::DeviceIndex)device);
        int64_t peak = stats.reserved_bytes[0].peak;
        *out = peak > 0 ? (uint64_t)peak : 0;
        return 0;
#else
        (void)device;
        throw segqt::Error(SEGQ_ENODEV, "CUDA not compiled in");
#endif
    });
}

extern "C" int segqt_cuda_reset_peak(int device)
{
    return run_i(__func__, [&]() -> int {
#ifdef SEGQ_TORCH_CUDA
        if (device < 0 || device >= (int)torch::cuda::device_count())
            throw segqt::Error(SEGQ_EINVAL, "no CUDA device " + std::to_string(device));
        c10::cuda::CUDACachingAllocator::resetPeakStats((c10::DeviceIndex)device);
        return 0;
#else
        (void)device;
        throw segqt::Error(SEGQ_ENODEV, "CUDA not compiled in");
#endif
    });
}

extern "C" int segqt_cuda_synchronize(int device)
{
    return run_i(__func__, [&] {
#ifdef SEGQ_TORCH_CUDA
        if (torch::cuda::device_count() > 0)
            torch::cuda::synchronize(device);
#endif
        return 0;
    });
}

extern "C" int segqt_cpu_count(void)
{
    cpu_set_t set;
    CPU_ZERO(&set);
    if (sched_getaffinity(0, sizeof set, &set) == 0) {
        int n = CPU_COUNT(&set);
        if (n > 0)
            return n;
    }
    long n = sysconf(_SC_NPROCESSORS_ONLN);
    return n > 0 ? (int)n : 1;
}

extern "C" const char *segqt_version(void)
{
    return TORCH_VERSION;
}

/* libtorch exports no getter for its CPU kernel level, but its build
 * summary (torch.__config__.show()) names it on one line. */
extern "C" int segqt_cpu_kernels(char *out, size_t outlen)
{
    return run_i(__func__, [&] {
        static const std::string key = "CPU capability usage: ";
        std::string config = at::show_config();
        size_t at = config.find(key);
        if (at == std::string::npos)
            throw segqt::Error(SEGQ_EINVAL, "libtorch's build summary names no CPU capability");
        size_t start = at + key.size();
        std::string level = config.substr(start, config.find('\n', start) - start);
        snprintf(out, outlen, "%s", level.c_str());
        return 0;
    });
}

extern "C" int segqt_set_num_threads(int n)
{
    return run_i(__func__, [&] {
        if (n < 1)
            throw segqt::Error(SEGQ_EINVAL, "thread count must be >= 1");
        at::set_num_threads(n);
        return 0;
    });
}

extern "C" int segqt_get_num_threads(void)
{
    return at::get_num_threads();
}

extern "C" int segqt_set_num_interop_threads(int n)
{
    return run_i(__func__, [&] {
        if (n < 1)
            throw segqt::Error(SEGQ_EINVAL, "thread count must be >= 1");
        at::set_num_interop_threads(n);
        return 0;
    });
}

extern "C" int segqt_manual_seed(uint64_t seed)
{
    return run_i(__func__, [&] {
        at::manual_seed(seed);
        return 0;
    });
}
