// segq_torch_bn.cpp: BatchNorm in training mode, differentiable twice at a
// lower cost than libtorch's own.
//
// Why: the gradient penalty differentiates the critic's backward pass, so
// every critic step runs BatchNorm's double backward. libtorch's
// (batchnorm_double_backward) is a composite of ~40 full-size elementwise
// ops and reductions per layer: the largest cost of a critic step after
// the convolutions on the CPU, and hundreds of tiny kernels per iteration
// on a GPU. Its derivatives fold into per-channel coefficients instead:
// one of BatchNorm's own fused backward kernels, one product-sum and three
// fused multiply-adds over the full-size tensors (the statistics of dy
// are the first backward's weight and bias gradients). Forward and first
// backward are libtorch's (cuDNN where libtorch picks it); only the
// derivative of that backward is ours.
//
// The algebra, per channel over its n elements, with xhat = (x - mean) *
// invstd, s = w * invstd, m1 = mean(dy), m2 = mean(dy * xhat):
//   dx = s * (dy - m1 - xhat * m2),  dw = sum(dy * xhat),  db = sum(dy).
// Given the gradients u, uw, ub of some loss with respect to dx, dw, db
// (and with mu = mean(u), cu = mean(u * xhat), mud = mean(u * dy)):
//   d/d dy = s * (u - mu - xhat * cu) + uw * xhat + ub
//   d/d w  = invstd * n * (mud - m1 * mu - m2 * cu)
//   d/d x  = w * invstd^2 * (-cu * (dy - m1) - m2 * (u - mu)
//                            + xhat * (3 * cu * m2 + m1 * mu - mud))
//            + uw * invstd * (dy - m1 - xhat * m2)
// The first line's first term is BatchNorm's backward applied to u, whose
// weight and bias gradients are n * cu and n * mu. d/d x includes the
// dependence of mean and invstd on x. tests/torch checks all three
// against libtorch's composite in double precision.
#include "segq_torch_internal.hpp"

#include <torch/csrc/autograd/custom_function.h>

#include <atomic>
#include <tuple>

namespace
{
using torch::autograd::AutogradContext;
using torch::autograd::Function;
using torch::autograd::variable_list;

std::atomic<int> lean_double_backward{1};

// c (one value per channel) shaped to broadcast against x (N, C, ...) in
// x's dtype.
at::Tensor per_channel(const at::Tensor &c, const at::Tensor &x)
{
    std::vector<int64_t> shape(x.dim(), 1);
    shape[1] = x.size(1);
    return c.reshape(shape).to(x.scalar_type());
}

// What the double backward needs of the first: its inputs and the
// per-channel statistics, the *_acc ones in the accumulation type (float,
// double for double inputs).
struct FirstBackward {
    at::Tensor x, dy, w, mean, invstd; // as the forward saved them
    double eps, n;                     // n: elements per channel
    at::Tensor w_acc, mean_acc, invstd_acc;
    at::Tensor m1, m2; // mean(dy), mean(dy * xhat)
};

// Per-channel coefficients of the results (undefined: a zero term):
//   gx = ax * x + a0 + ady * dy + au * u
//   gdy = gdy_u + bx * x + b0,  gdy_u: BatchNorm's backward applied to u
struct Coefficients {
    at::Tensor ax, a0, ady, au, bx, b0, gw, gdy_u;
};

void add_to(at::Tensor &a, const at::Tensor &v)
{
    a = a.defined() ? a + v : v;
}

FirstBackward first_backward(AutogradContext *ctx)
{
    variable_list saved = ctx->get_saved_variables();
    FirstBackward f;
    f.x = saved[0];
    f.dy = saved[1];
    f.w = saved[2];
    f.mean = saved[3];
    f.invstd = saved[4];
    f.eps = ctx->saved_data["eps"].toDouble();
    f.n = static_cast<double>(f.x.numel() / f.x.size(1));
    const at::ScalarType acc = f.x.scalar_type() == at::kDouble ? at::kDouble : at::kFloat;
    f.w_acc = f.w.to(acc);
    f.mean_acc = f.mean.to(acc);
    f.invstd_acc = f.invstd.to(acc);
    // the first backward's weight and bias gradients: sum(dy * xhat), sum(dy)
    f.m1 = saved[6].to(acc) / f.n;
    f.m2 = saved[5].to(acc) / f.n;
    return f;
}

// The terms of u, the gradient with respect to dx (the penalty's).
void terms_of_dx(const FirstBackward &f, const at::Tensor &u, Coefficients &c)
{
    at::Tensor s_u_xhat, s_u;
    std::tie(c.gdy_u, s_u_xhat, s_u) = at::native_batch_norm_backward(
        u, f.x, f.w, {}, {}, f.mean, f.invstd, true, f.eps, {true, true, true});
    std::vector<int64_t> dims;
    for (int64_t d = 0; d < f.x.dim(); d++)
        if (d != 1)
            dims.push_back(d);
    const at::ScalarType acc = f.m1.scalar_type();
    const at::Tensor mu = s_u.to(acc) / f.n, cu = s_u_xhat.to(acc) / f.n;
    const at::Tensor mud = at::sum(u * f.dy, dims, false, acc) / f.n;
    const at::Tensor &m1 = f.m1, &m2 = f.m2, &invstd = f.invstd_acc;
    const at::Tensor k = f.w_acc * invstd * invstd;
    const at::Tensor c_xhat = k * (3 * cu * m2 + m1 * mu - mud);
    c.ady = -k * cu;
    c.au = -k * m2;
    c.ax = c_xhat * invstd;
    c.a0 = k * (cu * m1 + m2 * mu) - c_xhat * invstd * f.mean_acc;
    c.gw = invstd * f.n * (mud - m1 * mu - m2 * cu);
}

// The terms of uw, the gradient with respect to dw = sum(dy * xhat).
void terms_of_dw(const FirstBackward &f, const at::Tensor &uw, Coefficients &c)
{
    const at::Tensor &invstd = f.invstd_acc;
    const at::Tensor v = uw.to(invstd.scalar_type()) * invstd;
    add_to(c.ady, v);
    add_to(c.ax, -v * invstd * f.m2);
    add_to(c.a0, -v * f.m1 + v * invstd * f.m2 * f.mean_acc);
    c.bx = v;
    c.b0 = -v * f.mean_acc;
}

// base + coef * t over the full-size tensors (one fused pass), coef per
// channel; undefined tensors are zero terms.
at::Tensor multiply_add(const at::Tensor &base, const at::Tensor &t, const at::Tensor &coef)
{
    if (!coef.defined())
        return base;
    if (!base.defined())
        return t * per_channel(coef, t);
    return at::addcmul(base, t, per_channel(coef, t));
}

// t + c, c per channel, shaped like `like`.
at::Tensor plus_per_channel(const at::Tensor &t, const at::Tensor &c, const at::Tensor &like)
{
    if (!c.defined())
        return t;
    return t.defined() ? t + per_channel(c, like)
                       : per_channel(c, like).expand_as(like).contiguous();
}

// BatchNorm's backward as a function of its own, so that autograd
// differentiates it with the formulas above.
struct BatchNormBackward : Function<BatchNormBackward> {
    static variable_list forward(AutogradContext *ctx, const at::Tensor &x, const at::Tensor &dy,
                                 const at::Tensor &w, const at::Tensor &mean,
                                 const at::Tensor &invstd, const at::Tensor &reserve,
                                 int64_t impl_index, double eps)
    {
        ctx->set_materialize_grads(false);
        at::Tensor gx, gw, gb;
        std::tie(gx, gw, gb) = at::_batch_norm_impl_index_backward(
            impl_index, x, dy, w, {}, {}, mean, invstd, true, eps, {true, true, true}, reserve);
        ctx->save_for_backward({x, dy, w, mean, invstd, gw, gb});
        ctx->saved_data["eps"] = eps;
        return {gx, gw, gb};
    }

    static variable_list backward(AutogradContext *ctx, variable_list grads)
    {
        if (at::GradMode::is_enabled())
            throw segqt::Error(SEGQ_EINVAL, "batch_norm: no third derivative (a backward with "
                                            "create_graph through the gradient penalty)");
        const FirstBackward f = first_backward(ctx);
        const at::Tensor &u = grads[0], &uw = grads[1], &ub = grads[2];
        Coefficients c;
        if (u.defined())
            terms_of_dx(f, u, c);
        if (uw.defined())
            terms_of_dw(f, uw, c);
        if (ub.defined())
            add_to(c.b0, ub.to(f.m1.scalar_type()));
        at::Tensor gx; // ax and a0 come together
        if (c.ax.defined())
            gx = at::addcmul(per_channel(c.a0, f.x), f.x, per_channel(c.ax, f.x));
        gx = multiply_add(multiply_add(gx, f.dy, c.ady), u, c.au);
        at::Tensor gdy = plus_per_channel(multiply_add(c.gdy_u, f.x, c.bx), c.b0, f.x);
        at::Tensor gw = c.gw.defined() ? c.gw.to(f.w.scalar_type()) : at::Tensor();
        return {gx, gdy, gw, {}, {}, {}, {}, {}};
    }
};

struct BatchNormTrain : Function<BatchNormTrain> {
    static at::Tensor forward(AutogradContext *ctx, const at::Tensor &x, const at::Tensor &w,
                              const at::Tensor &b, const c10::optional<at::Tensor> &running_mean,
                              const c10::optional<at::Tensor> &running_var, double momentum,
                              double eps)
    {
        ctx->set_materialize_grads(false);
        at::Tensor y, mean, invstd, reserve;
        int64_t impl_index;
        std::tie(y, mean, invstd, reserve, impl_index) =
            at::_batch_norm_impl_index(x, w, b, running_mean, running_var, true, momentum, eps,
                                       at::globalContext().userEnabledCuDNN());
        ctx->save_for_backward({x, w, mean, invstd, reserve});
        ctx->saved_data["impl_index"] = impl_index;
        ctx->saved_data["eps"] = eps;
        return y;
    }

    static variable_list backward(AutogradContext *ctx, variable_list grads)
    {
        if (!grads[0].defined())
            return {{}, {}, {}, {}, {}, {}, {}};
        variable_list s = ctx->get_saved_variables();
        variable_list g = BatchNormBackward::apply(s[0], grads[0], s[1], s[2], s[3], s[4],
                                                   ctx->saved_data["impl_index"].toInt(),
                                                   ctx->saved_data["eps"].toDouble());
        return {g[0], g[1], g[2], {}, {}, {}, {}};
    }
};
} // namespace

namespace segqt
{
bool lean_batch_norm(const at::Tensor &x, const at::Tensor &w, const at::Tensor &b)
{
    return lean_double_backward.load() && at::GradMode::is_enabled() && w.defined() && b.defined()
           && (x.requires_grad() || w.requires_grad() || b.requires_grad());
}

at::Tensor batch_norm_train(const at::Tensor &x, const at::Tensor &w, const at::Tensor &b,
                            const at::Tensor &running_mean, const at::Tensor &running_var,
                            double momentum, double eps)
{
    // optionals: Function::apply takes every Tensor argument for an input
    // of the graph, and an undefined one is none
    auto optional = [](const at::Tensor &t) {
        return t.defined() ? c10::optional<at::Tensor>(t) : c10::nullopt;
    };
    return BatchNormTrain::apply(x, w, b, optional(running_mean), optional(running_var), momentum,
                                 eps);
}
} // namespace segqt

extern "C" int segqt_set_lean_bn_double_backward(int lean)
{
    return lean_double_backward.exchange(lean != 0);
}
