// ELU family: schemas, the C++ API (typed dispatcher calls), Meta kernels, and CELU/SELU
// as CompositeImplicitAutograd ops over elu.

#include "elu.h"

#include <ATen/core/dispatch/Dispatcher.h>
#include <ATen/ops/empty_like.h>
#include <torch/library.h>

#include "common/checks.h"
#include "out_overload.h"

namespace torch_ext {

at::Tensor elu(const at::Tensor& self, double alpha, double scale, double input_scale) {
  static auto op = c10::Dispatcher::singleton().findSchemaOrThrow("torch_ext::elu", "").typed<decltype(elu)>();
  return op.call(self, alpha, scale, input_scale);
}

at::Tensor& elu_(at::Tensor& self, double alpha, double scale, double input_scale) {
  static auto op = c10::Dispatcher::singleton()
                       .findSchemaOrThrow("torch_ext::elu_", "")
                       .typed<void(at::Tensor&, double, double, double)>();
  op.call(self, alpha, scale, input_scale);
  return self;
}

at::Tensor elu_backward(const at::Tensor& grad_output, double alpha, double scale, double input_scale,
                        bool is_result, const at::Tensor& self_or_result) {
  static auto op = c10::Dispatcher::singleton()
                       .findSchemaOrThrow("torch_ext::elu_backward", "")
                       .typed<decltype(elu_backward)>();
  return op.call(grad_output, alpha, scale, input_scale, is_result, self_or_result);
}

at::Tensor celu(const at::Tensor& self, double alpha) {
  static auto op = c10::Dispatcher::singleton().findSchemaOrThrow("torch_ext::celu", "").typed<decltype(celu)>();
  return op.call(self, alpha);
}

at::Tensor& celu_(at::Tensor& self, double alpha) {
  static auto op =
      c10::Dispatcher::singleton().findSchemaOrThrow("torch_ext::celu_", "").typed<void(at::Tensor&, double)>();
  op.call(self, alpha);
  return self;
}

at::Tensor selu(const at::Tensor& self) {
  static auto op = c10::Dispatcher::singleton().findSchemaOrThrow("torch_ext::selu", "").typed<decltype(selu)>();
  return op.call(self);
}

at::Tensor& selu_(at::Tensor& self) {
  static auto op =
      c10::Dispatcher::singleton().findSchemaOrThrow("torch_ext::selu_", "").typed<void(at::Tensor&)>();
  op.call(self);
  return self;
}

at::Tensor& elu_out(at::Tensor& out, const at::Tensor& self, double alpha, double scale, double input_scale) {
  static auto op = c10::Dispatcher::singleton()
                       .findSchemaOrThrow("torch_ext::elu", "out")
                       .typed<void(const at::Tensor&, double, double, double, at::Tensor&)>();
  op.call(self, alpha, scale, input_scale, out);
  return out;
}

at::Tensor& elu_backward_out(at::Tensor& grad_input, const at::Tensor& grad_output, double alpha, double scale,
                             double input_scale, bool is_result, const at::Tensor& self_or_result) {
  static auto op =
      c10::Dispatcher::singleton()
          .findSchemaOrThrow("torch_ext::elu_backward", "grad_input")
          .typed<void(const at::Tensor&, double, double, double, bool, const at::Tensor&, at::Tensor&)>();
  op.call(grad_output, alpha, scale, input_scale, is_result, self_or_result, grad_input);
  return grad_input;
}

at::Tensor& celu_out(at::Tensor& out, const at::Tensor& self, double alpha) {
  static auto op = c10::Dispatcher::singleton()
                       .findSchemaOrThrow("torch_ext::celu", "out")
                       .typed<void(const at::Tensor&, double, at::Tensor&)>();
  op.call(self, alpha, out);
  return out;
}

at::Tensor& selu_out(at::Tensor& out, const at::Tensor& self) {
  static auto op = c10::Dispatcher::singleton()
                       .findSchemaOrThrow("torch_ext::selu", "out")
                       .typed<void(const at::Tensor&, at::Tensor&)>();
  op.call(self, out);
  return out;
}

namespace ops {

void check_elu_backward(const at::Tensor& grad_output, double alpha, bool is_result,
                        const at::Tensor& self_or_result) {
  check_elementwise_backward("elu_backward", grad_output, "self_or_result", self_or_result);
  TORCH_CHECK(!is_result || alpha >= 0.0,
              "elu_backward: in-place elu backward calculation is triggered with a negative slope (alpha = ", alpha,
              ") which is not supported. This is caused by calling the in-place forward function with a negative "
              "slope, please call the out-of-place version instead.");
}

namespace {

void check_celu_alpha(const char* op, double alpha) {
  TORCH_CHECK(alpha != 0.0, op, ": alpha cannot be 0 for CELU (it divides the input), got alpha = ", alpha);
}

// NB: celu and selu are elu with other parameters; their inputs are checked here, under their own
// names, before elu's checks would name elu.
void check_inplace_input(const char* op, const at::Tensor& self) {
  check_elementwise_input(op, self);
  check_no_internal_overlap(op, "self", self);
  check_inplace_not_leaf(op, self);
}

at::Tensor celu_composite(const at::Tensor& self, double alpha) {
  check_elementwise_input("celu", self);
  check_celu_alpha("celu", alpha);
  // NB: 1/alpha in double, as ATen's celu.
  return torch_ext::elu(self, alpha, 1.0, 1.0 / alpha);
}

void celu_inplace_composite(at::Tensor& self, double alpha) {
  check_inplace_input("celu_", self);
  check_celu_alpha("celu_", alpha);
  torch_ext::elu_(self, alpha, 1.0, 1.0 / alpha);
}

at::Tensor selu_composite(const at::Tensor& self) {
  check_elementwise_input("selu", self);
  return torch_ext::elu(self, kSeluAlpha, kSeluScale, 1.0);
}

void selu_inplace_composite(at::Tensor& self) {
  check_inplace_input("selu_", self);
  torch_ext::elu_(self, kSeluAlpha, kSeluScale, 1.0);
}

// Meta kernels: the outputs' sizes and strides equal the device kernels' (empty_like keeps
// the input's memory format).
at::Tensor elu_forward_meta(const at::Tensor& self, double, double, double) {
  check_elementwise_input("elu", self);
  return at::empty_like(self);
}

void elu_inplace_meta(at::Tensor& self, double, double, double) {
  check_elementwise_input("elu_", self);
  check_no_internal_overlap("elu_", "self", self);
}

at::Tensor elu_backward_meta(const at::Tensor& grad_output, double alpha, double, double, bool is_result,
                             const at::Tensor& self_or_result) {
  check_elu_backward(grad_output, alpha, is_result, self_or_result);
  return at::empty_like(grad_output);
}

}  // namespace
}  // namespace ops
}  // namespace torch_ext

TORCH_LIBRARY_FRAGMENT(torch_ext, m) {
  m.def("elu(Tensor self, float alpha=1.0, float scale=1.0, float input_scale=1.0) -> Tensor");
  // NB: the in-place ops return nothing: torch.compile functionalizes a mutating custom op
  // only when it does not return an alias of its input.
  m.def("elu_(Tensor(a!) self, float alpha=1.0, float scale=1.0, float input_scale=1.0) -> ()");
  m.def(
      "elu_backward(Tensor grad_output, float alpha, float scale, float input_scale, bool is_result, "
      "Tensor self_or_result) -> Tensor");
  m.def("celu(Tensor self, float alpha=1.0) -> Tensor",
        torch::dispatch(c10::DispatchKey::CompositeImplicitAutograd, TORCH_FN(torch_ext::ops::celu_composite)));
  m.def("celu_(Tensor(a!) self, float alpha=1.0) -> ()",
        torch::dispatch(c10::DispatchKey::CompositeImplicitAutograd,
                        TORCH_FN(torch_ext::ops::celu_inplace_composite)));
  m.def("selu(Tensor self) -> Tensor",
        torch::dispatch(c10::DispatchKey::CompositeImplicitAutograd, TORCH_FN(torch_ext::ops::selu_composite)));
  m.def("selu_(Tensor(a!) self) -> ()",
        torch::dispatch(c10::DispatchKey::CompositeImplicitAutograd,
                        TORCH_FN(torch_ext::ops::selu_inplace_composite)));
  using torch_ext::ops::define_out_overload;
  define_out_overload(
      m, "elu.out(Tensor self, float alpha=1.0, float scale=1.0, float input_scale=1.0, *, Tensor(a!) out) -> ()");
  define_out_overload(m,
                      "elu_backward.grad_input(Tensor grad_output, float alpha, float scale, float input_scale, "
                      "bool is_result, Tensor self_or_result, *, Tensor(a!) grad_input) -> ()");
  define_out_overload(m, "celu.out(Tensor self, float alpha=1.0, *, Tensor(a!) out) -> ()");
  define_out_overload(m, "selu.out(Tensor self, *, Tensor(a!) out) -> ()");
}

TORCH_LIBRARY_IMPL(torch_ext, Meta, m) {
  m.impl("elu", TORCH_FN(torch_ext::ops::elu_forward_meta));
  m.impl("elu_", TORCH_FN(torch_ext::ops::elu_inplace_meta));
  m.impl("elu_backward", TORCH_FN(torch_ext::ops::elu_backward_meta));
}
