// Autograd for softmax and log_softmax. The forward Functions save the output only (as ATen's
// _softmax and _log_softmax) and call the backward ops; the backward ops have Functions of their
// own, so double backward works. Their gradients (ATen's softmax_double_backward and
// log_softmax's, torch/csrc/autograd/FunctionsManual.cpp) compose our backward op with ATen's
// elementwise ops and sums, never ATen's softmax:
//   softmax_backward:     gx = y * (g - sum(g * y))
//     d/dg = y * (gg - sum(gg * y))               = softmax_backward(gg, y)  (self-adjoint)
//     d/dy = g * gg - gg * sum(g * y) - g * sum(gg * y)
//   log_softmax_backward: gx = g - exp(y) * sum(g)
//     d/dg = gg - sum(gg * exp(y))
//     d/dy = -gg * exp(y) * sum(g)
// gg, the gradient of gx, has the forward input's dtype; it is cast to the output's dtype (that of
// g and y), and the d/dy terms are computed in its op-math type (float for half and bfloat16).

#include <ATen/OpMathType.h>
#include <ATen/TensorOperators.h>
#include <ATen/ops/exp.h>
#include <ATen/ops/sum.h>
#include <torch/autograd.h>
#include <torch/library.h>

#include "ops/internal/softmax.h"
#include "ops/autograd/record.h"

namespace torch_ext::ops {
namespace {

using torch::autograd::AutogradContext;
using torch::autograd::variable_list;

void save_params(AutogradContext* ctx, int64_t dim, at::ScalarType input_dtype) {
  ctx->saved_data["dim"] = dim;
  ctx->saved_data["input_dtype"] = static_cast<int64_t>(input_dtype);
}

int64_t saved_dim(AutogradContext* ctx) { return ctx->saved_data["dim"].toInt(); }

at::ScalarType saved_input_dtype(AutogradContext* ctx) {
  return static_cast<at::ScalarType>(ctx->saved_data["input_dtype"].toInt());
}

at::Tensor sum_dim(const at::Tensor& t, int64_t dim) { return at::sum(t, {dim}, /*keepdim=*/true); }

// log_softmax_backward's gradient with respect to grad_output, gg - sum(gg * exp(y)), computed in the op-math
// type. It is also log_softmax's tangent for an input tangent gg (the Jacobian's transpose, twice).
at::Tensor log_softmax_jvp(const at::Tensor& gg, const at::Tensor& y, int64_t dim) {
  const at::ScalarType t = y.scalar_type();
  const at::ScalarType opmath = at::toOpMathType(t);
  const at::Tensor ggo = gg.to(opmath);
  return (ggo - sum_dim(ggo * at::exp(y.to(opmath)), dim)).to(t);
}

class SoftmaxBackwardFunction : public torch::autograd::Function<SoftmaxBackwardFunction> {
 public:
  static at::Tensor forward(AutogradContext* ctx, const at::Tensor& grad_output, const at::Tensor& output,
                            int64_t dim, at::ScalarType input_dtype) {
    at::AutoDispatchBelowADInplaceOrView guard;
    save_params(ctx, dim, input_dtype);
    ctx->save_for_backward({grad_output, output});
    return torch_ext::detail::softmax_backward(grad_output, output, dim, input_dtype);
  }

  static variable_list backward(AutogradContext* ctx, variable_list grad_outputs) {
    const int64_t dim = saved_dim(ctx);
    const auto saved = ctx->get_saved_variables();
    const at::Tensor& g = saved[0];
    const at::Tensor& y = saved[1];
    at::Tensor d_grad_output, d_output;
    if (grad_outputs[0].defined()) {
      const at::ScalarType t = y.scalar_type();
      const at::Tensor gg = grad_outputs[0].to(t);
      if (ctx->needs_input_grad(0)) {
        d_grad_output = torch_ext::detail::softmax_backward(gg, y, dim, t);
      }
      if (ctx->needs_input_grad(1)) {
        const at::ScalarType opmath = at::toOpMathType(t);
        const at::Tensor go = g.to(opmath), yo = y.to(opmath), ggo = gg.to(opmath);
        d_output = (go * ggo - ggo * sum_dim(go * yo, dim) - go * sum_dim(ggo * yo, dim)).to(t);
      }
    }
    return {d_grad_output, d_output, at::Tensor(), at::Tensor()};
  }
};

class LogSoftmaxBackwardFunction : public torch::autograd::Function<LogSoftmaxBackwardFunction> {
 public:
  static at::Tensor forward(AutogradContext* ctx, const at::Tensor& grad_output, const at::Tensor& output,
                            int64_t dim, at::ScalarType input_dtype) {
    at::AutoDispatchBelowADInplaceOrView guard;
    save_params(ctx, dim, input_dtype);
    ctx->save_for_backward({grad_output, output});
    return torch_ext::detail::log_softmax_backward(grad_output, output, dim, input_dtype);
  }

  static variable_list backward(AutogradContext* ctx, variable_list grad_outputs) {
    const int64_t dim = saved_dim(ctx);
    const auto saved = ctx->get_saved_variables();
    const at::Tensor& g = saved[0];
    const at::Tensor& y = saved[1];
    at::Tensor d_grad_output, d_output;
    if (grad_outputs[0].defined()) {
      const at::ScalarType t = y.scalar_type();
      if (ctx->needs_input_grad(0)) {
        d_grad_output = log_softmax_jvp(grad_outputs[0], y, dim);
      }
      if (ctx->needs_input_grad(1)) {
        const at::ScalarType opmath = at::toOpMathType(t);
        d_output = (-grad_outputs[0].to(opmath) * at::exp(y.to(opmath)) * sum_dim(g.to(opmath), dim)).to(t);
      }
    }
    return {d_grad_output, d_output, at::Tensor(), at::Tensor()};
  }
};

class SoftmaxFunction : public torch::autograd::Function<SoftmaxFunction> {
 public:
  static at::Tensor forward(AutogradContext* ctx, const at::Tensor& self, int64_t dim,
                            std::optional<at::ScalarType> dtype) {
    at::AutoDispatchBelowADInplaceOrView guard;
    at::Tensor output = torch_ext::softmax(self, dim, dtype);
    save_params(ctx, dim, self.scalar_type());
    ctx->save_for_backward({output});
    return output;
  }

  static variable_list backward(AutogradContext* ctx, variable_list grad_outputs) {
    const auto output = ctx->get_saved_variables()[0];
    return {torch_ext::detail::softmax_backward(grad_outputs[0], output, saved_dim(ctx), saved_input_dtype(ctx)),
            at::Tensor(), at::Tensor()};
  }
};

class LogSoftmaxFunction : public torch::autograd::Function<LogSoftmaxFunction> {
 public:
  static at::Tensor forward(AutogradContext* ctx, const at::Tensor& self, int64_t dim,
                            std::optional<at::ScalarType> dtype) {
    at::AutoDispatchBelowADInplaceOrView guard;
    at::Tensor output = torch_ext::log_softmax(self, dim, dtype);
    save_params(ctx, dim, self.scalar_type());
    ctx->save_for_backward({output});
    return output;
  }

  static variable_list backward(AutogradContext* ctx, variable_list grad_outputs) {
    const auto output = ctx->get_saved_variables()[0];
    return {torch_ext::detail::log_softmax_backward(grad_outputs[0], output, saved_dim(ctx), saved_input_dtype(ctx)),
            at::Tensor(), at::Tensor()};
  }
};

// Tangents, from the output y (in the output's dtype; the input's tangent is cast to it, as the dtype argument
// casts the input): softmax's is softmax_backward(t, y) = y * (t - sum(t * y)); log_softmax's
// t - sum(t * exp(y)) (log_softmax_jvp). The backward ops: softmax_backward(g, y) = y * (g - sum(g * y)) has
// softmax_backward(t_g, y) + t_y * (g - sum(g * y)) - y * sum(g * t_y); log_softmax_backward(g, y) =
// g - exp(y) * sum(g) has log_softmax_backward(t_g, y) - exp(y) * t_y * sum(g); both then cast to input_dtype.
at::Tensor softmax_autograd(const at::Tensor& self, int64_t dim, std::optional<at::ScalarType> dtype) {
  if (has_tangent(self)) {
    const at::Tensor y = softmax_autograd(guarded_primal("softmax", self), dim, dtype);
    const at::ScalarType t = y.scalar_type();
    return with_tangent(y, torch_ext::detail::softmax_backward(tangent(self).to(t), y, dim, t));
  }
  if (!records_grad(self)) {
    at::AutoDispatchBelowADInplaceOrView guard;
    return torch_ext::softmax(self, dim, dtype);
  }
  return SoftmaxFunction::apply(self, dim, dtype);
}

at::Tensor log_softmax_autograd(const at::Tensor& self, int64_t dim, std::optional<at::ScalarType> dtype) {
  if (has_tangent(self)) {
    const at::Tensor y = log_softmax_autograd(guarded_primal("log_softmax", self), dim, dtype);
    return with_tangent(y, log_softmax_jvp(tangent(self), y, dim));
  }
  if (!records_grad(self)) {
    at::AutoDispatchBelowADInplaceOrView guard;
    return torch_ext::log_softmax(self, dim, dtype);
  }
  return LogSoftmaxFunction::apply(self, dim, dtype);
}

at::Tensor softmax_backward_autograd(const at::Tensor& grad_output, const at::Tensor& output, int64_t dim,
                                     at::ScalarType input_dtype) {
  if (has_tangent(grad_output, output)) {
    const at::Tensor g = primal(grad_output), y = primal(output), t_g = tangent(grad_output), t_y = tangent(output);
    at::Tensor t_out = t_g.defined() ? torch_ext::detail::softmax_backward(t_g, y, dim, input_dtype) : at::Tensor();
    if (t_y.defined()) {
      const at::ScalarType opmath = at::toOpMathType(y.scalar_type());
      const at::Tensor go = g.to(opmath), yo = y.to(opmath), tyo = t_y.to(opmath);
      t_out = add_terms(t_out, (tyo * (go - sum_dim(go * yo, dim)) - yo * sum_dim(go * tyo, dim)).to(input_dtype));
    }
    return with_tangent(softmax_backward_autograd(guarded_primal("softmax_backward", grad_output),
                                                  guarded_primal("softmax_backward", output), dim, input_dtype),
                        t_out);
  }
  if (!records_grad(grad_output, output)) {
    at::AutoDispatchBelowADInplaceOrView guard;
    return torch_ext::detail::softmax_backward(grad_output, output, dim, input_dtype);
  }
  return SoftmaxBackwardFunction::apply(grad_output, output, dim, input_dtype);
}

at::Tensor log_softmax_backward_autograd(const at::Tensor& grad_output, const at::Tensor& output, int64_t dim,
                                         at::ScalarType input_dtype) {
  if (has_tangent(grad_output, output)) {
    const at::Tensor g = primal(grad_output), y = primal(output), t_g = tangent(grad_output), t_y = tangent(output);
    at::Tensor t_out = t_g.defined() ? torch_ext::detail::log_softmax_backward(t_g, y, dim, input_dtype) : at::Tensor();
    if (t_y.defined()) {
      const at::ScalarType opmath = at::toOpMathType(y.scalar_type());
      t_out = add_terms(
          t_out, (-at::exp(y.to(opmath)) * t_y.to(opmath) * sum_dim(g.to(opmath), dim)).to(input_dtype));
    }
    return with_tangent(log_softmax_backward_autograd(guarded_primal("log_softmax_backward", grad_output),
                                                      guarded_primal("log_softmax_backward", output), dim,
                                                      input_dtype),
                        t_out);
  }
  if (!records_grad(grad_output, output)) {
    at::AutoDispatchBelowADInplaceOrView guard;
    return torch_ext::detail::log_softmax_backward(grad_output, output, dim, input_dtype);
  }
  return LogSoftmaxBackwardFunction::apply(grad_output, output, dim, input_dtype);
}

}  // namespace
}  // namespace torch_ext::ops

TORCH_LIBRARY_IMPL(torch_ext, Autograd, m) {
  m.impl("softmax", TORCH_FN(torch_ext::ops::softmax_autograd));
  m.impl("log_softmax", TORCH_FN(torch_ext::ops::log_softmax_autograd));
  m.impl("softmax_backward", TORCH_FN(torch_ext::ops::softmax_backward_autograd));
  m.impl("log_softmax_backward", TORCH_FN(torch_ext::ops::log_softmax_backward_autograd));
}
