// Autograd for the ELU family: EluFunction (saves the input), EluInplaceFunction (saves the
// result, as ATen's elu_), and EluBackwardFunction, which makes elu_backward differentiable
// again (double backward) with ATen's elu_double_backward formulas.

#include <ATen/TensorOperators.h>
#include <ATen/ops/where.h>
#include <ATen/ops/zeros_like.h>
#include <torch/autograd.h>
#include <torch/library.h>

#include "ops/common/checks.h"
#include "ops/autograd/record.h"
#include "ops/elu.h"

namespace torch_ext::ops {
namespace {

using torch::autograd::AutogradContext;
using torch::autograd::variable_list;

struct EluParams {
  double alpha, scale, input_scale;
};

void save_params(AutogradContext* ctx, const EluParams& p) {
  ctx->saved_data["alpha"] = p.alpha;
  ctx->saved_data["scale"] = p.scale;
  ctx->saved_data["input_scale"] = p.input_scale;
}

EluParams load_params(AutogradContext* ctx) {
  return {ctx->saved_data["alpha"].toDouble(), ctx->saved_data["scale"].toDouble(),
          ctx->saved_data["input_scale"].toDouble()};
}

// ATen's elu_double_backward: the gradient of <gg, elu_backward(grad_output, ..., b)> with respect to b. Its mask
// is b < 0 where the first order uses b <= 0, written as not b >= 0 so that a NaN b gives NaN. The op is
// elementwise in b, so this is also its tangent with respect to b, with gg the tangent of b.
at::Tensor elu_backward_d_b(const at::Tensor& gg, const at::Tensor& grad_output, const EluParams& p, bool is_result,
                            const at::Tensor& b) {
  const at::Tensor nonnegative = b >= 0;
  if (is_result) {
    return propagate_nan(b, at::where(nonnegative, at::zeros_like(b), gg * grad_output * p.input_scale));
  }
  return at::where(nonnegative, at::zeros_like(b),
                   torch_ext::elu_backward(gg * grad_output * p.input_scale, p.alpha, p.scale, p.input_scale,
                                           /*is_result=*/false, b));
}

class EluBackwardFunction : public torch::autograd::Function<EluBackwardFunction> {
 public:
  static at::Tensor forward(AutogradContext* ctx, const at::Tensor& grad_output, double alpha, double scale,
                            double input_scale, bool is_result, const at::Tensor& self_or_result) {
    at::AutoDispatchBelowADInplaceOrView guard;
    save_params(ctx, {alpha, scale, input_scale});
    ctx->saved_data["is_result"] = is_result;
    ctx->save_for_backward({grad_output, self_or_result});
    return torch_ext::elu_backward(grad_output, alpha, scale, input_scale, is_result, self_or_result);
  }

  static variable_list backward(AutogradContext* ctx, variable_list grad_outputs) {
    const auto p = load_params(ctx);
    const bool is_result = ctx->saved_data["is_result"].toBool();
    const auto saved = ctx->get_saved_variables();
    const at::Tensor& grad_output = saved[0];
    const at::Tensor& b = saved[1];
    const at::Tensor& gg = grad_outputs[0];

    at::Tensor d_grad_output, d_b;
    if (gg.defined()) {
      // elu_backward is linear in grad_output.
      d_grad_output = torch_ext::elu_backward(gg, p.alpha, p.scale, p.input_scale, is_result, b);
      d_b = elu_backward_d_b(gg, grad_output, p, is_result, b);
    }
    return {d_grad_output, at::Tensor(), at::Tensor(), at::Tensor(), at::Tensor(), d_b};
  }
};

class EluFunction : public torch::autograd::Function<EluFunction> {
 public:
  static at::Tensor forward(AutogradContext* ctx, const at::Tensor& self, double alpha, double scale,
                            double input_scale) {
    at::AutoDispatchBelowADInplaceOrView guard;
    save_params(ctx, {alpha, scale, input_scale});
    ctx->save_for_backward({self});
    return torch_ext::elu(self, alpha, scale, input_scale);
  }

  static variable_list backward(AutogradContext* ctx, variable_list grad_outputs) {
    const auto p = load_params(ctx);
    const auto self = ctx->get_saved_variables()[0];
    return {torch_ext::elu_backward(grad_outputs[0], p.alpha, p.scale, p.input_scale, /*is_result=*/false, self),
            at::Tensor(), at::Tensor(), at::Tensor()};
  }
};

class EluInplaceFunction : public torch::autograd::Function<EluInplaceFunction> {
 public:
  static at::Tensor forward(AutogradContext* ctx, at::Tensor self, double alpha, double scale,
                            double input_scale) {
    {
      at::AutoDispatchBelowADInplaceOrView guard;
      torch_ext::elu_(self, alpha, scale, input_scale);
    }
    ctx->mark_dirty({self});
    save_params(ctx, {alpha, scale, input_scale});
    ctx->save_for_backward({self});  // the result: x is gone
    return self;
  }

  static variable_list backward(AutogradContext* ctx, variable_list grad_outputs) {
    const auto p = load_params(ctx);
    const auto result = ctx->get_saved_variables()[0];
    return {torch_ext::elu_backward(grad_outputs[0], p.alpha, p.scale, p.input_scale, /*is_result=*/true, result),
            at::Tensor(), at::Tensor(), at::Tensor()};
  }
};

at::Tensor elu_autograd(const at::Tensor& self, double alpha, double scale, double input_scale) {
  if (has_tangent(self)) {
    const at::Tensor x = primal(self);
    return with_tangent(elu_autograd(guarded_primal("elu", self), alpha, scale, input_scale),
                        torch_ext::elu_backward(tangent(self), alpha, scale, input_scale, /*is_result=*/false, x));
  }
  if (!records_grad(self)) {
    at::AutoDispatchBelowADInplaceOrView guard;
    return torch_ext::elu(self, alpha, scale, input_scale);
  }
  return EluFunction::apply(self, alpha, scale, input_scale);
}

void elu_inplace_autograd(at::Tensor& self, double alpha, double scale, double input_scale) {
  check_inplace_not_leaf("elu_", self);
  if (has_tangent(self)) {
    check_tangent_without_graph("elu_", self);
    // As ATen's elu_: the tangent from the result (is_result), after the primal is modified.
    at::Tensor x = primal(self);
    elu_inplace_autograd(x, alpha, scale, input_scale);
    set_inplace_tangent(self, torch_ext::elu_backward(tangent(self), alpha, scale, input_scale, /*is_result=*/true, x));
    return;
  }
  if (!records_grad(self)) {
    {
      at::AutoDispatchBelowADInplaceOrView guard;
      torch_ext::elu_(self, alpha, scale, input_scale);
    }
    // NB: the Function's mark_dirty bumps the version counter; below autograd nothing does.
    torch::autograd::impl::bump_version(self);
    return;
  }
  EluInplaceFunction::apply(self, alpha, scale, input_scale);
}

at::Tensor elu_backward_autograd(const at::Tensor& grad_output, double alpha, double scale, double input_scale,
                                 bool is_result, const at::Tensor& self_or_result) {
  if (has_tangent(grad_output, self_or_result)) {
    const at::Tensor g = primal(grad_output), b = primal(self_or_result);
    const at::Tensor t_g = tangent(grad_output), t_b = tangent(self_or_result);
    const EluParams p{alpha, scale, input_scale};
    return with_tangent(
        elu_backward_autograd(guarded_primal("elu_backward", grad_output), alpha, scale, input_scale, is_result,
                              guarded_primal("elu_backward", self_or_result)),
        add_terms(t_g.defined() ? torch_ext::elu_backward(t_g, alpha, scale, input_scale, is_result, b) : at::Tensor(),
                  t_b.defined() ? elu_backward_d_b(t_b, g, p, is_result, b) : at::Tensor()));
  }
  if (!records_grad(grad_output, self_or_result)) {
    at::AutoDispatchBelowADInplaceOrView guard;
    return torch_ext::elu_backward(grad_output, alpha, scale, input_scale, is_result, self_or_result);
  }
  return EluBackwardFunction::apply(grad_output, alpha, scale, input_scale, is_result, self_or_result);
}

}  // namespace
}  // namespace torch_ext::ops

TORCH_LIBRARY_IMPL(torch_ext, Autograd, m) {
  m.impl("elu", TORCH_FN(torch_ext::ops::elu_autograd));
  m.impl("elu_", TORCH_FN(torch_ext::ops::elu_inplace_autograd));
  m.impl("elu_backward", TORCH_FN(torch_ext::ops::elu_backward_autograd));
}
