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

#include "ops/softmax.h"
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

class SoftmaxBackwardFunction : public torch::autograd::Function<SoftmaxBackwardFunction> {
 public:
  static at::Tensor forward(AutogradContext* ctx, const at::Tensor& grad_output, const at::Tensor& output,
                            int64_t dim, at::ScalarType input_dtype) {
    at::AutoDispatchBelowADInplaceOrView guard;
    save_params(ctx, dim, input_dtype);
    ctx->save_for_backward({grad_output, output});
    return torch_ext::softmax_backward(grad_output, output, dim, input_dtype);
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
        d_grad_output = torch_ext::softmax_backward(gg, y, dim, t);
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
    return torch_ext::log_softmax_backward(grad_output, output, dim, input_dtype);
  }

  static variable_list backward(AutogradContext* ctx, variable_list grad_outputs) {
    const int64_t dim = saved_dim(ctx);
    const auto saved = ctx->get_saved_variables();
    const at::Tensor& g = saved[0];
    const at::Tensor& y = saved[1];
    at::Tensor d_grad_output, d_output;
    if (grad_outputs[0].defined()) {
      const at::ScalarType t = y.scalar_type();
      const at::ScalarType opmath = at::toOpMathType(t);
      const at::Tensor ggo = grad_outputs[0].to(opmath);
      const at::Tensor ey = at::exp(y.to(opmath));
      if (ctx->needs_input_grad(0)) {
        d_grad_output = (ggo - sum_dim(ggo * ey, dim)).to(t);
      }
      if (ctx->needs_input_grad(1)) {
        d_output = (-ggo * ey * sum_dim(g.to(opmath), dim)).to(t);
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
    return {SoftmaxBackwardFunction::apply(grad_outputs[0], output, saved_dim(ctx), saved_input_dtype(ctx)),
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
    return {LogSoftmaxBackwardFunction::apply(grad_outputs[0], output, saved_dim(ctx), saved_input_dtype(ctx)),
            at::Tensor(), at::Tensor()};
  }
};

at::Tensor softmax_autograd(const at::Tensor& self, int64_t dim, std::optional<at::ScalarType> dtype) {
  if (!records_grad(self)) {
    at::AutoDispatchBelowADInplaceOrView guard;
    return torch_ext::softmax(self, dim, dtype);
  }
  return SoftmaxFunction::apply(self, dim, dtype);
}

at::Tensor log_softmax_autograd(const at::Tensor& self, int64_t dim, std::optional<at::ScalarType> dtype) {
  if (!records_grad(self)) {
    at::AutoDispatchBelowADInplaceOrView guard;
    return torch_ext::log_softmax(self, dim, dtype);
  }
  return LogSoftmaxFunction::apply(self, dim, dtype);
}

at::Tensor softmax_backward_autograd(const at::Tensor& grad_output, const at::Tensor& output, int64_t dim,
                                     at::ScalarType input_dtype) {
  if (!records_grad(grad_output, output)) {
    at::AutoDispatchBelowADInplaceOrView guard;
    return torch_ext::softmax_backward(grad_output, output, dim, input_dtype);
  }
  return SoftmaxBackwardFunction::apply(grad_output, output, dim, input_dtype);
}

at::Tensor log_softmax_backward_autograd(const at::Tensor& grad_output, const at::Tensor& output, int64_t dim,
                                         at::ScalarType input_dtype) {
  if (!records_grad(grad_output, output)) {
    at::AutoDispatchBelowADInplaceOrView guard;
    return torch_ext::log_softmax_backward(grad_output, output, dim, input_dtype);
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
