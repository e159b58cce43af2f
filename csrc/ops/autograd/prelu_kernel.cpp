// Autograd for PReLU: PreluFunction (saves self and weight) and PreluBackwardFunction, which
// makes prelu_backward differentiable again (double backward) with ATen's formulas for
// _prelu_kernel_backward, adapted to a grad_weight that is already reduced to weight's shape.

#include <ATen/TensorOperators.h>
#include <ATen/ops/sum.h>
#include <ATen/ops/where.h>
#include <ATen/ops/zeros_like.h>
#include <torch/autograd.h>
#include <torch/library.h>

#include <vector>

#include "ops/internal/prelu.h"
#include "ops/autograd/record.h"

namespace torch_ext::ops {
namespace {

using torch::autograd::AutogradContext;
using torch::autograd::variable_list;

// A weight-shaped tensor (1 or C elements) viewed so that it broadcasts against self:
// [1, C, 1, ..., 1] for per-channel weights, a scalar for a single weight.
at::Tensor broadcast_weight(const at::Tensor& w, const at::Tensor& self) {
  // NB: SymInt sizes: the backward is traced with symbolic shapes by torch.compile.
  if (w.sym_numel() == 1) {
    return w.reshape({});
  }
  std::vector<c10::SymInt> shape(self.dim(), 1);
  shape[1] = w.sym_numel();
  return w.reshape_symint(shape);
}

// The sum of a self-shaped tensor over every position of each channel, in weight's shape.
at::Tensor reduce_to_weight(const at::Tensor& t, const at::Tensor& weight) {
  if (weight.sym_numel() == 1) {
    return t.sum().reshape_symint(weight.sym_sizes());
  }
  std::vector<int64_t> dims;
  for (int64_t d = 0; d < t.dim(); ++d) {
    if (d != 1) {
      dims.push_back(d);
    }
  }
  return t.sum(dims).reshape_symint(weight.sym_sizes());
}

class PreluBackwardFunction : public torch::autograd::Function<PreluBackwardFunction> {
 public:
  static variable_list forward(AutogradContext* ctx, const at::Tensor& grad_output, const at::Tensor& self,
                               const at::Tensor& weight) {
    at::AutoDispatchBelowADInplaceOrView guard;
    ctx->save_for_backward({grad_output, self, weight});
    auto [grad_self, grad_weight] = torch_ext::detail::prelu_backward(grad_output, self, weight);
    return {grad_self, grad_weight};
  }

  // With gx = x > 0 ? g : w*g and gw[c] = sum over c's positions of (x > 0 ? 0 : x*g), and the
  // incoming gradients ggx (self's shape) and ggw (weight's shape):
  //   d/dg = x >= 0 ? ggx : w*ggx + x*ggw[c]
  //   d/dx = x >= 0 ? 0   : g*ggw[c]
  //   d/dw[c] = sum over c's positions of (x >= 0 ? 0 : g*ggx)
  // NB: the mask is ATen's (derivatives.yaml, _prelu_kernel_backward: self >= 0), which differs
  // from the first order's x > 0 only at x == 0.
  static variable_list backward(AutogradContext* ctx, variable_list grad_outputs) {
    const auto saved = ctx->get_saved_variables();
    const at::Tensor& g = saved[0];
    const at::Tensor& x = saved[1];
    const at::Tensor& w = saved[2];
    const at::Tensor& ggx = grad_outputs[0];
    const at::Tensor& ggw = grad_outputs[1];
    if (!ggx.defined() && !ggw.defined()) {
      return {at::Tensor(), at::Tensor(), at::Tensor()};
    }
    const at::Tensor nonnegative = x >= 0;
    const at::Tensor zero = at::zeros_like(x);

    at::Tensor d_g, d_x, d_w;
    if (ggx.defined()) {
      d_g = propagate_nan(x, at::where(nonnegative, ggx, ggx * broadcast_weight(w, x)));
      d_w = reduce_to_weight(propagate_nan(x, at::where(nonnegative, zero, g * ggx)), w);
    }
    if (ggw.defined()) {
      const at::Tensor ggw_b = broadcast_weight(ggw, x);
      const at::Tensor from_w = at::where(nonnegative, zero, x * ggw_b);
      d_g = d_g.defined() ? d_g + from_w : from_w;
      d_x = propagate_nan(x, at::where(nonnegative, zero, g * ggw_b));
    }
    return {d_g, d_x, d_w};
  }
};

class PreluFunction : public torch::autograd::Function<PreluFunction> {
 public:
  static at::Tensor forward(AutogradContext* ctx, const at::Tensor& self, const at::Tensor& weight) {
    at::AutoDispatchBelowADInplaceOrView guard;
    ctx->save_for_backward({self, weight});
    return torch_ext::prelu(self, weight);
  }

  static variable_list backward(AutogradContext* ctx, variable_list grad_outputs) {
    const auto saved = ctx->get_saved_variables();
    // Both gradients from one pass: grad_weight is reduced inside prelu_backward's kernels.
    auto [grad_self, grad_weight] = torch_ext::detail::prelu_backward(grad_outputs[0], saved[0], saved[1]);
    return {grad_self, grad_weight};
  }
};

// Tangents: y = x > 0 ? x : w*x gives t_y = prelu_backward(t_x, x, w)'s grad_input (x > 0 ? t_x : w*t_x) plus
// (x > 0 ? 0 : x*t_w[c]). prelu_backward's (gx, gw) are linear in g and piecewise constant in x (zero derivative
// but at 0): t_gx = prelu_backward(t_g, x, w)'s gx + (x > 0 ? 0 : g*t_w[c]), t_gw = its gw + the sum over c's
// positions of (x > 0 ? 0 : g*t_x). The masks of the added terms are x >= 0, as in ATen's double backward.
at::Tensor prelu_weight_term(const at::Tensor& x, const at::Tensor& factor, const at::Tensor& t_w) {
  return propagate_nan(x, at::where(x >= 0, at::zeros_like(x), factor * broadcast_weight(t_w, x)));
}

at::Tensor prelu_autograd(const at::Tensor& self, const at::Tensor& weight) {
  if (has_tangent(self, weight)) {
    const at::Tensor x = primal(self), w = primal(weight);
    const at::Tensor t_x = tangent(self), t_w = tangent(weight);
    return with_tangent(
        prelu_autograd(guarded_primal("prelu", self), guarded_primal("prelu", weight)),
        add_terms(t_x.defined() ? std::get<0>(torch_ext::detail::prelu_backward(t_x, x, w)) : at::Tensor(),
                  t_w.defined() ? prelu_weight_term(x, x, t_w) : at::Tensor()));
  }
  if (!records_grad(self, weight)) {
    at::AutoDispatchBelowADInplaceOrView guard;
    return torch_ext::prelu(self, weight);
  }
  return PreluFunction::apply(self, weight);
}

std::tuple<at::Tensor, at::Tensor> prelu_backward_autograd(const at::Tensor& grad_output, const at::Tensor& self,
                                                           const at::Tensor& weight) {
  if (has_tangent(grad_output, self, weight)) {
    const at::Tensor g = primal(grad_output), x = primal(self), w = primal(weight);
    const at::Tensor t_g = tangent(grad_output), t_x = tangent(self), t_w = tangent(weight);
    auto [gx, gw] = prelu_backward_autograd(guarded_primal("prelu_backward", grad_output),
                                            guarded_primal("prelu_backward", self),
                                            guarded_primal("prelu_backward", weight));
    at::Tensor t_gx, t_gw;
    if (t_g.defined()) {
      std::tie(t_gx, t_gw) = torch_ext::detail::prelu_backward(t_g, x, w);
    }
    if (t_w.defined()) {
      t_gx = add_terms(t_gx, prelu_weight_term(x, g, t_w));
    }
    if (t_x.defined()) {
      t_gw = add_terms(t_gw, reduce_to_weight(propagate_nan(x, at::where(x >= 0, at::zeros_like(x), g * t_x)), w));
    }
    return {with_tangent(gx, t_gx), with_tangent(gw, t_gw)};
  }
  if (!records_grad(grad_output, self, weight)) {
    at::AutoDispatchBelowADInplaceOrView guard;
    return torch_ext::detail::prelu_backward(grad_output, self, weight);
  }
  auto out = PreluBackwardFunction::apply(grad_output, self, weight);
  return {out[0], out[1]};
}

}  // namespace
}  // namespace torch_ext::ops

TORCH_LIBRARY_IMPL(torch_ext, Autograd, m) {
  m.impl("prelu", TORCH_FN(torch_ext::ops::prelu_autograd));
  m.impl("prelu_backward", TORCH_FN(torch_ext::ops::prelu_backward_autograd));
}
