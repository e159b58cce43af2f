// Autograd for binary_cross_entropy_with_logits. The forward Function saves its inputs (no N-element tensor of its
// own) and calls the backward ops; the backward ops have Functions of their own, so double backward works. Their
// gradients compose our backward ops with ATen's elementwise ops and sums, never ATen's loss. With G the incoming
// gradient broadcast to x, S the reduction's scale, W the weight (1 without), s = sigmoid(x), lw = 1 + (p - 1) t:
//   backward:        gx = G S W (lw s - p t)               (G S W (s - t) without pos_weight)
//     d/dx = gg G S W lw s (1 - s);  d/dt = gg G S W ((p - 1) s - p)  (-gg G S W without pos_weight)
//   target_backward: gt = G S W (logsigmoid(-x) - p logsigmoid(x))   (-G S W x without pos_weight)
//     d/dx = gg G S W (-1 + (1 - p)(1 - s))  (-gg G S W without pos_weight);  d/dt = 0
// Both are linear in G: d/dG is the op itself on gg, summed to G's shape for a reduced loss. weight and pos_weight
// are not differentiable, as in ATen.

#include <ATen/TensorOperators.h>
#include <ATen/ops/ones_like.h>
#include <ATen/ops/sigmoid.h>
#include <ATen/ops/zeros_like.h>
#include <torch/autograd.h>
#include <torch/library.h>

#include <array>

#include "ops/autograd/record.h"
#include "ops/common/optional_tensor.h"
#include "ops/internal/binary_cross_entropy_with_logits.h"

namespace torch_ext::ops {
namespace {

using torch::autograd::AutogradContext;
using torch::autograd::variable_list;

constexpr const char* kForward = "binary_cross_entropy_with_logits";
constexpr const char* kBackward = "binary_cross_entropy_with_logits_backward";
constexpr const char* kTargetBackward = "binary_cross_entropy_with_logits_target_backward";

// weight and pos_weight are constants of the loss, as in ATen (whose message this is).
void check_not_differentiable(const char* op, const char* arg, const std::optional<at::Tensor>& t) {
  TORCH_CHECK(!(at::GradMode::is_enabled() && input_requires_grad(t)), "The function '", op,
              "' is not differentiable with respect to argument '", arg,
              "'. This input cannot have requires_grad True.");
  TORCH_CHECK(!tangent(t).defined(), op, ": expected ", arg,
              " to carry no tangent (forward-mode AD): the loss is not differentiable with respect to it");
}

void check_constants(const char* op, const std::optional<at::Tensor>& weight,
                     const std::optional<at::Tensor>& pos_weight) {
  check_not_differentiable(op, "weight", weight);
  check_not_differentiable(op, "pos_weight", pos_weight);
}

// G: the incoming gradient broadcast against x (a reduced loss's one value as a 0-dim tensor).
at::Tensor broadcastable_grad(const at::Tensor& g, int64_t reduction) {
  return reduction == at::Reduction::None ? g : g.reshape({});
}

// gg G S W: the factor every second-order term shares.
at::Tensor common_factor(const at::Tensor& gg, const at::Tensor& g, const at::Tensor& x, const at::Tensor& w,
                         int64_t reduction) {
  at::Tensor f = gg * broadcastable_grad(g, reduction);
  if (reduction == at::Reduction::Mean) {
    // NB: sym_numel: under torch.compile's dynamic shapes the size is symbolic (an empty x makes f empty).
    f = f / c10::Scalar(x.sym_numel());
  }
  return w.defined() ? f * w : f;
}

// The gradient ops' derivatives along gg (their gradient for gg the incoming gradient, or their tangent for gg a
// tangent): of `backward` with respect to x and t, of `target_backward` with respect to x (none to t).
at::Tensor backward_d_self(const at::Tensor& gg, const at::Tensor& g, const at::Tensor& x, const at::Tensor& t,
                           const at::Tensor& w, const at::Tensor& p, int64_t reduction) {
  const at::Tensor s = at::sigmoid(x);
  at::Tensor d = common_factor(gg, g, x, w, reduction) * s * (1 - s);
  return p.defined() ? d * ((p - 1) * t + 1) : d;
}

at::Tensor backward_d_target(const at::Tensor& gg, const at::Tensor& g, const at::Tensor& x, const at::Tensor& w,
                             const at::Tensor& p, int64_t reduction) {
  const at::Tensor f = common_factor(gg, g, x, w, reduction);
  return p.defined() ? f * ((p - 1) * at::sigmoid(x) - p) : -f;
}

at::Tensor target_backward_d_self(const at::Tensor& gg, const at::Tensor& g, const at::Tensor& x,
                                  const at::Tensor& w, const at::Tensor& p, int64_t reduction) {
  const at::Tensor f = common_factor(gg, g, x, w, reduction);
  return p.defined() ? f * ((1 - p) * (1 - at::sigmoid(x)) - 1) : -f;
}

// A gradient op: d loss / d self (kOfTarget false, `backward`) or d loss / d target (`target_backward`).
template <bool kOfTarget>
at::Tensor grad_op(const at::Tensor& g, const at::Tensor& x, const at::Tensor& t, const at::Tensor& w,
                   const at::Tensor& p, int64_t reduction) {
  const std::optional<at::Tensor> weight = optional_if_defined(w), pos_weight = optional_if_defined(p);
  if constexpr (kOfTarget) {
    return torch_ext::detail::binary_cross_entropy_with_logits_target_backward(g, x, t, weight, pos_weight,
                                                                               reduction);
  } else {
    return torch_ext::detail::binary_cross_entropy_with_logits_backward(g, x, t, weight, pos_weight, reduction);
  }
}

// A gradient op's derivatives along gg: with respect to g (linear in it: op(gg) for an unreduced loss, else
// sum(gg * op(1)) in g's shape), x and t (undefined where it does not depend on t).
template <bool kOfTarget>
std::array<at::Tensor, 3> grad_op_derivatives(const at::Tensor& gg, const at::Tensor& g, const at::Tensor& x,
                                              const at::Tensor& t, const at::Tensor& w, const at::Tensor& p,
                                              int64_t reduction, std::array<bool, 3> needed) {
  std::array<at::Tensor, 3> d;
  if (needed[0]) {
    d[0] = reduction == at::Reduction::None
               ? grad_op<kOfTarget>(gg, x, t, w, p, reduction)
               : (gg * grad_op<kOfTarget>(at::ones_like(g), x, t, w, p, reduction)).sum().reshape(g.sizes());
  }
  if (needed[1]) {
    d[1] = kOfTarget ? target_backward_d_self(gg, g, x, w, p, reduction)
                     : backward_d_self(gg, g, x, t, w, p, reduction);
  }
  if (needed[2] && !kOfTarget) {
    d[2] = backward_d_target(gg, g, x, w, p, reduction);
  }
  return d;
}

// weight and pos_weight are saved as data, not variables: they are constants (check_constants), and a Function's
// variable arguments must be defined tensors.
void save_constants(AutogradContext* ctx, const at::Tensor& w, const at::Tensor& p, int64_t reduction) {
  ctx->saved_data["weight"] = optional_if_defined(w);
  ctx->saved_data["pos_weight"] = optional_if_defined(p);
  ctx->saved_data["reduction"] = reduction;
}

at::Tensor saved_constant(AutogradContext* ctx, const char* name) {
  const c10::IValue& v = ctx->saved_data[name];
  return v.isNone() ? at::Tensor() : v.toTensor();
}

struct Saved {
  at::Tensor g, x, t, w, p;
  int64_t reduction;
};

Saved saved_of(AutogradContext* ctx) {
  const auto v = ctx->get_saved_variables();
  return {v[0], v[1], v[2], saved_constant(ctx, "weight"), saved_constant(ctx, "pos_weight"),
          ctx->saved_data["reduction"].toInt()};
}

template <bool kOfTarget>
class BceWithLogitsGradFunction : public torch::autograd::Function<BceWithLogitsGradFunction<kOfTarget>> {
 public:
  static at::Tensor forward(AutogradContext* ctx, const at::Tensor& g, const at::Tensor& x, const at::Tensor& t,
                            const std::optional<at::Tensor>& weight, const std::optional<at::Tensor>& pos_weight,
                            int64_t reduction) {
    at::AutoDispatchBelowADInplaceOrView guard;
    const at::Tensor w = value_or_undefined(weight), p = value_or_undefined(pos_weight);
    save_constants(ctx, w, p, reduction);
    ctx->save_for_backward({g, x, t});
    return grad_op<kOfTarget>(g, x, t, w, p, reduction);
  }

  static variable_list backward(AutogradContext* ctx, variable_list grad_outputs) {
    const Saved s = saved_of(ctx);
    if (!grad_outputs[0].defined()) {
      return {at::Tensor(), at::Tensor(), at::Tensor(), at::Tensor(), at::Tensor(), at::Tensor()};
    }
    const auto d = grad_op_derivatives<kOfTarget>(
        grad_outputs[0], s.g, s.x, s.t, s.w, s.p, s.reduction,
        {ctx->needs_input_grad(0), ctx->needs_input_grad(1), ctx->needs_input_grad(2)});
    return {d[0], d[1], d[2], at::Tensor(), at::Tensor(), at::Tensor()};
  }
};

template <bool kOfTarget>
at::Tensor grad_autograd(const at::Tensor& g, const at::Tensor& x, const at::Tensor& t, const at::Tensor& w,
                         const at::Tensor& p, int64_t reduction);

class BceWithLogitsFunction : public torch::autograd::Function<BceWithLogitsFunction> {
 public:
  static at::Tensor forward(AutogradContext* ctx, const at::Tensor& x, const at::Tensor& t,
                            const std::optional<at::Tensor>& weight, const std::optional<at::Tensor>& pos_weight,
                            int64_t reduction) {
    at::AutoDispatchBelowADInplaceOrView guard;
    save_constants(ctx, value_or_undefined(weight), value_or_undefined(pos_weight), reduction);
    ctx->save_for_backward({x, t});
    return torch_ext::binary_cross_entropy_with_logits(x, t, weight, pos_weight, reduction);
  }

  static variable_list backward(AutogradContext* ctx, variable_list grad_outputs) {
    const auto v = ctx->get_saved_variables();
    const at::Tensor w = saved_constant(ctx, "weight"), p = saved_constant(ctx, "pos_weight");
    const int64_t reduction = ctx->saved_data["reduction"].toInt();
    const at::Tensor& g = grad_outputs[0];
    at::Tensor d_x, d_t;
    if (ctx->needs_input_grad(0)) {
      d_x = grad_autograd<false>(g, v[0], v[1], w, p, reduction);
    }
    if (ctx->needs_input_grad(1)) {
      d_t = grad_autograd<true>(g, v[0], v[1], w, p, reduction);
    }
    return {d_x, d_t, at::Tensor(), at::Tensor(), at::Tensor()};
  }
};

// Tangents (forward-mode AD): the loss's is reduce(backward(t_x, reduction=none) + target_backward(t_t, none)); the
// backward ops', the derivatives above along the tangents.
at::Tensor bce_autograd(const at::Tensor& self, const at::Tensor& target, const std::optional<at::Tensor>& weight,
                        const std::optional<at::Tensor>& pos_weight, int64_t reduction) {
  check_constants(kForward, weight, pos_weight);
  const at::Tensor w = value_or_undefined(weight), p = value_or_undefined(pos_weight);
  if (has_tangent(self, target)) {
    const at::Tensor x = primal(self), t = primal(target), t_x = tangent(self), t_t = tangent(target);
    at::Tensor t_out = add_terms(t_x.defined() ? grad_op<false>(t_x, x, t, w, p, at::Reduction::None) : at::Tensor(),
                                 t_t.defined() ? grad_op<true>(t_t, x, t, w, p, at::Reduction::None) : at::Tensor());
    if (reduction == at::Reduction::Sum) {
      t_out = t_out.sum();
    } else if (reduction == at::Reduction::Mean) {
      t_out = t_out.mean();
    }
    return with_tangent(bce_autograd(guarded_primal(kForward, self), guarded_primal(kForward, target), weight,
                                     pos_weight, reduction),
                        t_out);
  }
  if (!records_grad(self, target)) {
    at::AutoDispatchBelowADInplaceOrView guard;
    return torch_ext::binary_cross_entropy_with_logits(self, target, weight, pos_weight, reduction);
  }
  return BceWithLogitsFunction::apply(self, target, weight, pos_weight, reduction);
}

template <bool kOfTarget>
at::Tensor grad_autograd(const at::Tensor& g, const at::Tensor& x, const at::Tensor& t, const at::Tensor& w,
                         const at::Tensor& p, int64_t reduction) {
  const char* op = kOfTarget ? kTargetBackward : kBackward;
  if (has_tangent(g, x, t)) {
    const at::Tensor gp = primal(g), xp = primal(x), tp = primal(t);
    const at::Tensor t_g = tangent(g), t_x = tangent(x), t_t = tangent(t);
    at::Tensor t_out = t_g.defined() ? grad_op<kOfTarget>(t_g, xp, tp, w, p, reduction) : at::Tensor();
    const auto d_x = grad_op_derivatives<kOfTarget>(t_x, gp, xp, tp, w, p, reduction, {false, t_x.defined(), false});
    const auto d_t = grad_op_derivatives<kOfTarget>(t_t, gp, xp, tp, w, p, reduction, {false, false, t_t.defined()});
    t_out = add_terms(add_terms(t_out, d_x[1]), d_t[2]);
    if (!t_out.defined()) {
      t_out = at::zeros_like(xp);  // a tangent on target only, which target_backward does not depend on
    }
    return with_tangent(grad_autograd<kOfTarget>(guarded_primal(op, g), guarded_primal(op, x),
                                                 guarded_primal(op, t), w, p, reduction),
                        t_out);
  }
  if (!records_grad(g, x, t)) {
    at::AutoDispatchBelowADInplaceOrView guard;
    return grad_op<kOfTarget>(g, x, t, w, p, reduction);
  }
  return BceWithLogitsGradFunction<kOfTarget>::apply(g, x, t, optional_if_defined(w), optional_if_defined(p),
                                                      reduction);
}

template <bool kOfTarget>
at::Tensor grad_kernel(const at::Tensor& g, const at::Tensor& x, const at::Tensor& t,
                       const std::optional<at::Tensor>& weight, const std::optional<at::Tensor>& pos_weight,
                       int64_t reduction) {
  check_constants(kOfTarget ? kTargetBackward : kBackward, weight, pos_weight);
  return grad_autograd<kOfTarget>(g, x, t, value_or_undefined(weight), value_or_undefined(pos_weight), reduction);
}

}  // namespace
}  // namespace torch_ext::ops

TORCH_LIBRARY_IMPL(torch_ext, Autograd, m) {
  m.impl("binary_cross_entropy_with_logits", TORCH_FN(torch_ext::ops::bce_autograd));
  m.impl("binary_cross_entropy_with_logits_backward", TORCH_FN(torch_ext::ops::grad_kernel<false>));
  m.impl("binary_cross_entropy_with_logits_target_backward", TORCH_FN(torch_ext::ops::grad_kernel<true>));
}
