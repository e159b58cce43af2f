// ELU family: the C++ API, and CELU/SELU as CompositeImplicitAutograd ops over elu (whose schemas and kernels
// the generic elementwise op builds from its row, elementwise/elu.h).

#include "elu.h"

#include <ATen/core/dispatch/Dispatcher.h>
#include <torch/library.h>

#include "common/checks.h"
#include "common/elementwise_op.h"
#include "elementwise/elu.h"
#include "out_overload.h"

namespace torch_ext {

using EluApi = ops::elementwise::ElementwiseApi<ops::EluOp>;

at::Tensor elu(const at::Tensor& self, double alpha, double scale, double input_scale) {
  return EluApi::forward(self, alpha, scale, input_scale);
}

at::Tensor& elu_(at::Tensor& self, double alpha, double scale, double input_scale) {
  return EluApi::inplace(self, alpha, scale, input_scale);
}

at::Tensor detail::elu_backward(const at::Tensor& grad_output, double alpha, double scale, double input_scale,
                        bool is_result, const at::Tensor& self_or_result) {
  return EluApi::backward(grad_output, self_or_result, is_result, alpha, scale, input_scale);
}

at::Tensor& elu_out(at::Tensor& out, const at::Tensor& self, double alpha, double scale, double input_scale) {
  return EluApi::forward_out(out, self, alpha, scale, input_scale);
}

at::Tensor& detail::elu_backward_out(at::Tensor& grad_input, const at::Tensor& grad_output, double alpha, double scale,
                             double input_scale, bool is_result, const at::Tensor& self_or_result) {
  return EluApi::backward_out(grad_input, grad_output, self_or_result, is_result, alpha, scale, input_scale);
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

}  // namespace
}  // namespace ops
}  // namespace torch_ext

TORCH_LIBRARY_FRAGMENT(torch_ext, m) {
  // NB: the in-place ops return nothing: torch.compile functionalizes a mutating custom op
  // only when it does not return an alias of its input.
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
  define_out_overload(m, "celu.out(Tensor self, float alpha=1.0, *, Tensor(a!) out) -> ()");
  define_out_overload(m, "selu.out(Tensor self, *, Tensor(a!) out) -> ()");
}
