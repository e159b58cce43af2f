// Autograd for RReLU. The backward of a step is grad * (the slope each element took):
//  - RReluWithNoiseFunction (rrelu in training, rrelu_with_noise) saves the noise tensor;
//  - RReluEvalFunction (rrelu in eval) saves the input, as ATen's leaky_relu;
//  - RReluWithNoiseInplaceFunction (rrelu_ in training, rrelu_with_noise_) saves the noise;
//  - RReluInplaceEvalFunction (rrelu_ in eval) saves the result, as ATen's leaky_relu_ (is_result);
//  - RReluBackwardFunction makes rrelu_backward differentiable again (double backward).
// NB: the noise is saved, not regenerated from (seed, offset): the same memory as ATen (one tensor of
// the input's size), no second Philox pass, and graph safe for free. A regenerating backward would need
// the (seed, offset) the forward used, which under CUDA graph capture lives in device memory that the
// next replay overwrites, and a Meta-traceable way to carry it through torch.compile.
// Calls that need no gradient (grad mode off, or self not requiring grad) skip the Functions and run the
// op below autograd, without allocating the noise.

#include <ATen/TensorOperators.h>
#include <ATen/ops/zeros_like.h>
#include <torch/autograd.h>
#include <torch/library.h>

#include "ops/common/checks.h"
#include "ops/autograd/record.h"
#include "ops/internal/rrelu.h"

namespace torch_ext::ops {
namespace {

using torch::autograd::AutogradContext;
using torch::autograd::variable_list;

void save_bounds(AutogradContext* ctx, double lower, double upper) {
  ctx->saved_data["lower"] = lower;
  ctx->saved_data["upper"] = upper;
}

std::pair<double, double> load_bounds(AutogradContext* ctx) {
  return {ctx->saved_data["lower"].toDouble(), ctx->saved_data["upper"].toDouble()};
}

// grad_input = rrelu_backward(grad_output, self_or_result, noise, ...): linear in grad_output.
// Training: grad_output * noise, so d/d(grad_output) = rrelu_backward(gg, ...) and d/d(noise) =
// gg * grad_output. Eval: piecewise constant in self_or_result, whose gradient is zero (ATen's).
class RReluBackwardFunction : public torch::autograd::Function<RReluBackwardFunction> {
 public:
  static at::Tensor forward(AutogradContext* ctx, const at::Tensor& grad_output,
                            const std::optional<at::Tensor>& self_or_result, const std::optional<at::Tensor>& noise,
                            double lower, double upper, bool training, bool is_result) {
    at::AutoDispatchBelowADInplaceOrView guard;
    save_bounds(ctx, lower, upper);
    ctx->saved_data["training"] = training;
    ctx->saved_data["is_result"] = is_result;
    const bool has_b = self_or_result.has_value() && self_or_result->defined();
    const bool has_noise = noise.has_value() && noise->defined();
    ctx->saved_data["has_b"] = has_b;
    ctx->saved_data["has_noise"] = has_noise;
    ctx->save_for_backward({grad_output, has_b ? *self_or_result : at::Tensor(), has_noise ? *noise : at::Tensor()});
    return torch_ext::detail::rrelu_backward(grad_output, self_or_result, noise, lower, upper, training, is_result);
  }

  static variable_list backward(AutogradContext* ctx, variable_list grad_outputs) {
    const auto [lower, upper] = load_bounds(ctx);
    const bool training = ctx->saved_data["training"].toBool();
    const bool is_result = ctx->saved_data["is_result"].toBool();
    const auto saved = ctx->get_saved_variables();
    const at::Tensor& grad_output = saved[0];
    const std::optional<at::Tensor> b = ctx->saved_data["has_b"].toBool() ? std::optional(saved[1]) : std::nullopt;
    const std::optional<at::Tensor> noise =
        ctx->saved_data["has_noise"].toBool() ? std::optional(saved[2]) : std::nullopt;
    const at::Tensor& gg = grad_outputs[0];

    at::Tensor d_grad_output, d_b, d_noise;
    if (gg.defined()) {
      d_grad_output = torch_ext::detail::rrelu_backward(gg, b, noise, lower, upper, training, is_result);
      if (b.has_value()) {
        // Piecewise constant: zero, but NaN at a NaN b, as the first order.
        d_b = propagate_nan(*b, at::zeros_like(*b));
      }
      if (noise.has_value()) {
        d_noise = training ? gg * grad_output : at::zeros_like(*noise);
      }
    }
    return {d_grad_output, d_b, d_noise, at::Tensor(), at::Tensor(), at::Tensor(), at::Tensor()};
  }
};

// The tangent of y = x * noise (noise: each element's slope, or 1) for an input tangent t.
at::Tensor slope_tangent(const at::Tensor& t, const at::Tensor& noise, double lower, double upper) {
  return torch_ext::detail::rrelu_backward(t, std::nullopt, noise, lower, upper, /*training=*/true,
                                           /*is_result=*/false);
}

class RReluWithNoiseFunction : public torch::autograd::Function<RReluWithNoiseFunction> {
 public:
  static variable_list forward(AutogradContext* ctx, const at::Tensor& self, double lower, double upper, bool training,
                               std::optional<at::Generator> generator) {
    at::Tensor out, noise;
    {
      at::AutoDispatchBelowADInplaceOrView guard;
      std::tie(out, noise) = torch_ext::detail::rrelu_with_noise(self, lower, upper, training, std::move(generator));
    }
    ctx->mark_non_differentiable({noise});
    save_bounds(ctx, lower, upper);
    ctx->save_for_backward({noise});
    return {out, noise};
  }

  static variable_list backward(AutogradContext* ctx, variable_list grad_outputs) {
    const auto [lower, upper] = load_bounds(ctx);
    const at::Tensor noise = ctx->get_saved_variables()[0];
    // NB: the noise is dy/dx in eval mode too (1 or the slope), so grad * noise serves both modes.
    return {torch_ext::detail::rrelu_backward(grad_outputs[0], std::nullopt, noise, lower, upper, /*training=*/true,
                                      /*is_result=*/false),
            at::Tensor(), at::Tensor(), at::Tensor(), at::Tensor()};
  }
};

class RReluEvalFunction : public torch::autograd::Function<RReluEvalFunction> {
 public:
  static at::Tensor forward(AutogradContext* ctx, const at::Tensor& self, double lower, double upper) {
    at::AutoDispatchBelowADInplaceOrView guard;
    save_bounds(ctx, lower, upper);
    ctx->save_for_backward({self});
    return torch_ext::rrelu(self, lower, upper, /*training=*/false);
  }

  static variable_list backward(AutogradContext* ctx, variable_list grad_outputs) {
    const auto [lower, upper] = load_bounds(ctx);
    const at::Tensor self = ctx->get_saved_variables()[0];
    return {torch_ext::detail::rrelu_backward(grad_outputs[0], self, std::nullopt, lower, upper, /*training=*/false,
                                      /*is_result=*/false),
            at::Tensor(), at::Tensor()};
  }
};

// NB: returns self alone and hands the noise back through noise_out: autograd refuses a Function that
// modifies a view in place and returns more than one tensor. The noise is not differentiable, so it
// needs no place among the outputs.
class RReluWithNoiseInplaceFunction : public torch::autograd::Function<RReluWithNoiseInplaceFunction> {
 public:
  static at::Tensor forward(AutogradContext* ctx, at::Tensor self, double lower, double upper, bool training,
                            std::optional<at::Generator> generator, at::Tensor* noise_out) {
    at::Tensor noise;
    {
      at::AutoDispatchBelowADInplaceOrView guard;
      noise = torch_ext::detail::rrelu_with_noise_(self, lower, upper, training, std::move(generator));
    }
    ctx->mark_dirty({self});
    save_bounds(ctx, lower, upper);
    ctx->save_for_backward({noise});
    *noise_out = noise;
    return self;
  }

  static variable_list backward(AutogradContext* ctx, variable_list grad_outputs) {
    const auto [lower, upper] = load_bounds(ctx);
    const at::Tensor noise = ctx->get_saved_variables()[0];
    return {torch_ext::detail::rrelu_backward(grad_outputs[0], std::nullopt, noise, lower, upper, /*training=*/true,
                                      /*is_result=*/false),
            at::Tensor(),
            at::Tensor(),
            at::Tensor(),
            at::Tensor(),
            at::Tensor()};
  }
};

class RReluInplaceEvalFunction : public torch::autograd::Function<RReluInplaceEvalFunction> {
 public:
  static at::Tensor forward(AutogradContext* ctx, at::Tensor self, double lower, double upper) {
    {
      at::AutoDispatchBelowADInplaceOrView guard;
      torch_ext::rrelu_(self, lower, upper, /*training=*/false);
    }
    ctx->mark_dirty({self});
    save_bounds(ctx, lower, upper);
    ctx->save_for_backward({self});  // the result: x is gone
    return self;
  }

  static variable_list backward(AutogradContext* ctx, variable_list grad_outputs) {
    const auto [lower, upper] = load_bounds(ctx);
    const at::Tensor result = ctx->get_saved_variables()[0];
    return {torch_ext::detail::rrelu_backward(grad_outputs[0], result, std::nullopt, lower, upper, /*training=*/false,
                                      /*is_result=*/true),
            at::Tensor(), at::Tensor()};
  }
};

at::Tensor rrelu_autograd(const at::Tensor& self, double lower, double upper, bool training,
                          std::optional<at::Generator> generator) {
  // NB: checked here under rrelu's name: with grad, the call goes on as rrelu_with_noise.
  check_elementwise_input("rrelu", self);
  check_rrelu_bounds("rrelu", lower, upper);
  if (has_tangent(self)) {
    // The tangent is t * (the slope each element took): the noise, which training draws and eval fixes.
    const at::Tensor x = primal(self), guarded = guarded_primal("rrelu", self);
    if (training) {
      auto [out, noise] = torch_ext::detail::rrelu_with_noise(guarded, lower, upper, training, std::move(generator));
      return with_tangent(out, slope_tangent(tangent(self), noise, lower, upper));
    }
    return with_tangent(
        rrelu_autograd(guarded, lower, upper, training, std::move(generator)),
        torch_ext::detail::rrelu_backward(tangent(self), x, std::nullopt, lower, upper, /*training=*/false,
                                          /*is_result=*/false));
  }
  if (!records_grad(self)) {
    at::AutoDispatchBelowADInplaceOrView guard;
    return torch_ext::rrelu(self, lower, upper, training, std::move(generator));
  }
  if (training) {
    return RReluWithNoiseFunction::apply(self, lower, upper, training, std::move(generator))[0];
  }
  return RReluEvalFunction::apply(self, lower, upper);
}

void rrelu_inplace_autograd(at::Tensor& self, double lower, double upper, bool training,
                            std::optional<at::Generator> generator) {
  check_elementwise_input("rrelu_", self);
  check_no_internal_overlap("rrelu_", "self", self);
  check_rrelu_bounds("rrelu_", lower, upper);
  check_inplace_not_leaf("rrelu_", self);
  if (has_tangent(self)) {
    check_tangent_without_graph("rrelu_", self);
    at::Tensor x = primal(self);
    if (training) {
      const at::Tensor noise = torch_ext::detail::rrelu_with_noise_(x, lower, upper, training, std::move(generator));
      set_inplace_tangent(self, slope_tangent(tangent(self), noise, lower, upper));
    } else {
      torch_ext::rrelu_(x, lower, upper, training, std::move(generator));
      set_inplace_tangent(self, torch_ext::detail::rrelu_backward(tangent(self), x, std::nullopt, lower, upper,
                                                          /*training=*/false, /*is_result=*/true));
    }
    return;
  }
  if (!records_grad(self)) {
    {
      at::AutoDispatchBelowADInplaceOrView guard;
      torch_ext::rrelu_(self, lower, upper, training, std::move(generator));
    }
    // NB: the Functions' mark_dirty bumps the version counter; below autograd nothing does.
    torch::autograd::impl::bump_version(self);
    return;
  }
  if (training) {
    at::Tensor noise;
    RReluWithNoiseInplaceFunction::apply(self, lower, upper, training, std::move(generator), &noise);
  } else {
    RReluInplaceEvalFunction::apply(self, lower, upper);
  }
}

std::tuple<at::Tensor, at::Tensor> rrelu_with_noise_autograd(const at::Tensor& self, double lower, double upper,
                                                             bool training, std::optional<at::Generator> generator) {
  if (has_tangent(self)) {
    auto [out, noise] = rrelu_with_noise_autograd(guarded_primal("rrelu_with_noise", self), lower, upper, training,
                                                  std::move(generator));
    return {with_tangent(out, slope_tangent(tangent(self), noise, lower, upper)), noise};
  }
  if (!records_grad(self)) {
    at::AutoDispatchBelowADInplaceOrView guard;
    return torch_ext::detail::rrelu_with_noise(self, lower, upper, training, std::move(generator));
  }
  auto outs = RReluWithNoiseFunction::apply(self, lower, upper, training, std::move(generator));
  return {outs[0], outs[1]};
}

at::Tensor rrelu_with_noise_inplace_autograd(at::Tensor& self, double lower, double upper, bool training,
                                             std::optional<at::Generator> generator) {
  check_inplace_not_leaf("rrelu_with_noise_", self);
  if (has_tangent(self)) {
    check_tangent_without_graph("rrelu_with_noise_", self);
    at::Tensor x = primal(self);
    const at::Tensor noise = rrelu_with_noise_inplace_autograd(x, lower, upper, training, std::move(generator));
    set_inplace_tangent(self, slope_tangent(tangent(self), noise, lower, upper));
    return noise;
  }
  if (!records_grad(self)) {
    at::Tensor noise;
    {
      at::AutoDispatchBelowADInplaceOrView guard;
      noise = torch_ext::detail::rrelu_with_noise_(self, lower, upper, training, std::move(generator));
    }
    torch::autograd::impl::bump_version(self);
    return noise;
  }
  at::Tensor noise;
  RReluWithNoiseInplaceFunction::apply(self, lower, upper, training, std::move(generator), &noise);
  return noise;
}

at::Tensor rrelu_backward_autograd(const at::Tensor& grad_output, const std::optional<at::Tensor>& self_or_result,
                                   const std::optional<at::Tensor>& noise, double lower, double upper, bool training,
                                   bool is_result) {
  if (has_tangent(grad_output, self_or_result, noise)) {
    // Linear in grad_output, grad_output * noise in training (so t_noise * grad_output more), piecewise constant
    // in self_or_result.
    const at::Tensor g = primal(grad_output), t_g = tangent(grad_output), t_noise = tangent(noise);
    const std::optional<at::Tensor> b = primal(self_or_result), n = primal(noise);
    return with_tangent(
        rrelu_backward_autograd(guarded_primal("rrelu_backward", grad_output),
                                guarded_primal("rrelu_backward", self_or_result),
                                guarded_primal("rrelu_backward", noise), lower, upper, training, is_result),
        add_terms(t_g.defined() ? torch_ext::detail::rrelu_backward(t_g, b, n, lower, upper, training, is_result)
                                : at::Tensor(),
                  training && t_noise.defined() ? t_noise * g : at::Tensor()));
  }
  if (!records_grad(grad_output, self_or_result, noise)) {
    at::AutoDispatchBelowADInplaceOrView guard;
    return torch_ext::detail::rrelu_backward(grad_output, self_or_result, noise, lower, upper, training, is_result);
  }
  return RReluBackwardFunction::apply(grad_output, self_or_result, noise, lower, upper, training, is_result);
}

}  // namespace
}  // namespace torch_ext::ops

TORCH_LIBRARY_IMPL(torch_ext, Autograd, m) {
  m.impl("rrelu", TORCH_FN(torch_ext::ops::rrelu_autograd));
  m.impl("rrelu_", TORCH_FN(torch_ext::ops::rrelu_inplace_autograd));
  m.impl("rrelu_with_noise", TORCH_FN(torch_ext::ops::rrelu_with_noise_autograd));
  m.impl("rrelu_with_noise_", TORCH_FN(torch_ext::ops::rrelu_with_noise_inplace_autograd));
  m.impl("rrelu_backward", TORCH_FN(torch_ext::ops::rrelu_backward_autograd));
}
