// Autograd for softplus: SoftplusFunction (saves the input, as ATen's softplus) and
// SoftplusBackwardFunction, which makes softplus_backward differentiable again (double backward)
// with ATen's softplus_double_backward formula.

#include <ATen/OpMathType.h>
#include <ATen/TensorOperators.h>
#include <ATen/ops/abs.h>
#include <ATen/ops/exp.h>
#include <torch/autograd.h>
#include <torch/library.h>

#include "ops/softplus.h"
#include "ops/autograd/record.h"

namespace torch_ext::ops {
namespace {

using torch::autograd::AutogradContext;
using torch::autograd::variable_list;

void save_params(AutogradContext* ctx, double beta, double threshold) {
  ctx->saved_data["beta"] = beta;
  ctx->saved_data["threshold"] = threshold;
}

// ATen's softplus_double_backward: the gradient of <gg, softplus_backward(grad_output, self)> with respect to self:
// gg * g * beta * s * (1 - s) * [beta * x < threshold], s = sigmoid(beta * x). Its mask is `<` where the first
// order's is `>`: at beta * x == threshold the first derivative takes the sigmoid branch and the second is 0.
// NB: s * (1 - s) is written e / (1 + e)^2 with e = exp(-|beta * x|) <= 1, which never overflows and has no
// 1 - s to cancel (ATen's 1 - s loses its digits as s nears 1). The mask multiplies, as in ATen, so a NaN input
// gives NaN. Computed in the op-math type (float for half and bfloat16) and rounded once, so beta * x is the
// first order's product. The op is elementwise in self, so this is also its tangent with respect to self, with
// gg the tangent of self.
at::Tensor softplus_backward_d_self(const at::Tensor& gg, const at::Tensor& grad_output, const at::Tensor& self,
                                    double beta, double threshold) {
  const at::ScalarType opmath = at::toOpMathType(self.scalar_type());
  const at::Tensor bx = self.to(opmath) * beta;
  const at::Tensor e = at::exp(-at::abs(bx));
  const at::Tensor one_plus_e = e + 1;
  return (gg.to(opmath) * grad_output.to(opmath) * (e / (one_plus_e * one_plus_e)) * (bx < threshold).to(opmath) *
          beta)
      .to(self.scalar_type());
}

class SoftplusBackwardFunction : public torch::autograd::Function<SoftplusBackwardFunction> {
 public:
  static at::Tensor forward(AutogradContext* ctx, const at::Tensor& grad_output, const at::Tensor& self, double beta,
                            double threshold) {
    at::AutoDispatchBelowADInplaceOrView guard;
    save_params(ctx, beta, threshold);
    ctx->save_for_backward({grad_output, self});
    return torch_ext::softplus_backward(grad_output, self, beta, threshold);
  }

  static variable_list backward(AutogradContext* ctx, variable_list grad_outputs) {
    const double beta = ctx->saved_data["beta"].toDouble();
    const double threshold = ctx->saved_data["threshold"].toDouble();
    const auto saved = ctx->get_saved_variables();
    const at::Tensor& grad_output = saved[0];
    const at::Tensor& self = saved[1];
    const at::Tensor& gg = grad_outputs[0];

    at::Tensor d_grad_output, d_self;
    if (gg.defined()) {
      // softplus_backward is linear in grad_output.
      d_grad_output = torch_ext::softplus_backward(gg, self, beta, threshold);
      d_self = softplus_backward_d_self(gg, grad_output, self, beta, threshold);
    }
    return {d_grad_output, d_self, at::Tensor(), at::Tensor()};
  }
};

class SoftplusFunction : public torch::autograd::Function<SoftplusFunction> {
 public:
  static at::Tensor forward(AutogradContext* ctx, const at::Tensor& self, double beta, double threshold) {
    at::AutoDispatchBelowADInplaceOrView guard;
    save_params(ctx, beta, threshold);
    ctx->save_for_backward({self});
    return torch_ext::softplus(self, beta, threshold);
  }

  static variable_list backward(AutogradContext* ctx, variable_list grad_outputs) {
    const double beta = ctx->saved_data["beta"].toDouble();
    const double threshold = ctx->saved_data["threshold"].toDouble();
    const auto self = ctx->get_saved_variables()[0];
    return {torch_ext::softplus_backward(grad_outputs[0], self, beta, threshold), at::Tensor(), at::Tensor()};
  }
};

at::Tensor softplus_autograd(const at::Tensor& self, double beta, double threshold) {
  if (has_tangent(self)) {
    const at::Tensor x = primal(self);
    return with_tangent(softplus_autograd(guarded_primal("softplus", self), beta, threshold),
                        torch_ext::softplus_backward(tangent(self), x, beta, threshold));
  }
  if (!records_grad(self)) {
    at::AutoDispatchBelowADInplaceOrView guard;
    return torch_ext::softplus(self, beta, threshold);
  }
  return SoftplusFunction::apply(self, beta, threshold);
}

at::Tensor softplus_backward_autograd(const at::Tensor& grad_output, const at::Tensor& self, double beta,
                                      double threshold) {
  if (has_tangent(grad_output, self)) {
    const at::Tensor g = primal(grad_output), x = primal(self);
    const at::Tensor t_g = tangent(grad_output), t_x = tangent(self);
    return with_tangent(
        softplus_backward_autograd(guarded_primal("softplus_backward", grad_output),
                                   guarded_primal("softplus_backward", self), beta, threshold),
        add_terms(t_g.defined() ? torch_ext::softplus_backward(t_g, x, beta, threshold) : at::Tensor(),
                  t_x.defined() ? softplus_backward_d_self(t_x, g, x, beta, threshold) : at::Tensor()));
  }
  if (!records_grad(grad_output, self)) {
    at::AutoDispatchBelowADInplaceOrView guard;
    return torch_ext::softplus_backward(grad_output, self, beta, threshold);
  }
  return SoftplusBackwardFunction::apply(grad_output, self, beta, threshold);
}

}  // namespace
}  // namespace torch_ext::ops

TORCH_LIBRARY_IMPL(torch_ext, Autograd, m) {
  m.impl("softplus", TORCH_FN(torch_ext::ops::softplus_autograd));
  m.impl("softplus_backward", TORCH_FN(torch_ext::ops::softplus_backward_autograd));
}
