// RReLU: schemas, the C++ API (typed dispatcher calls), the argument checks and the Meta kernels.

#include "internal/rrelu.h"

#include <ATen/core/dispatch/Dispatcher.h>
#include <ATen/ops/empty_like.h>
#include <torch/library.h>

#include <cmath>

#include "common/checks.h"
#include "out_overload.h"

namespace torch_ext {

at::Tensor rrelu(const at::Tensor& self, double lower, double upper, bool training,
                 std::optional<at::Generator> generator) {
  static auto op = c10::Dispatcher::singleton().findSchemaOrThrow("torch_ext::rrelu", "").typed<decltype(rrelu)>();
  return op.call(self, lower, upper, training, std::move(generator));
}

at::Tensor& rrelu_(at::Tensor& self, double lower, double upper, bool training,
                   std::optional<at::Generator> generator) {
  static auto op = c10::Dispatcher::singleton()
                       .findSchemaOrThrow("torch_ext::rrelu_", "")
                       .typed<void(at::Tensor&, double, double, bool, std::optional<at::Generator>)>();
  op.call(self, lower, upper, training, std::move(generator));
  return self;
}

std::tuple<at::Tensor, at::Tensor> detail::rrelu_with_noise(const at::Tensor& self, double lower, double upper,
                                                            bool training, std::optional<at::Generator> generator) {
  static auto op = c10::Dispatcher::singleton()
                       .findSchemaOrThrow("torch_ext::rrelu_with_noise", "")
                       .typed<decltype(rrelu_with_noise)>();
  return op.call(self, lower, upper, training, std::move(generator));
}

at::Tensor detail::rrelu_with_noise_(at::Tensor& self, double lower, double upper, bool training,
                             std::optional<at::Generator> generator) {
  static auto op = c10::Dispatcher::singleton()
                       .findSchemaOrThrow("torch_ext::rrelu_with_noise_", "")
                       .typed<decltype(rrelu_with_noise_)>();
  return op.call(self, lower, upper, training, std::move(generator));
}

at::Tensor detail::rrelu_backward(const at::Tensor& grad_output, const std::optional<at::Tensor>& self_or_result,
                          const std::optional<at::Tensor>& noise, double lower, double upper, bool training,
                          bool is_result) {
  static auto op =
      c10::Dispatcher::singleton().findSchemaOrThrow("torch_ext::rrelu_backward", "").typed<decltype(rrelu_backward)>();
  return op.call(grad_output, self_or_result, noise, lower, upper, training, is_result);
}

at::Tensor& rrelu_out(at::Tensor& out, const at::Tensor& self, double lower, double upper, bool training,
                      std::optional<at::Generator> generator) {
  static auto op =
      c10::Dispatcher::singleton()
          .findSchemaOrThrow("torch_ext::rrelu", "out")
          .typed<void(const at::Tensor&, double, double, bool, std::optional<at::Generator>, at::Tensor&)>();
  op.call(self, lower, upper, training, std::move(generator), out);
  return out;
}

std::tuple<at::Tensor&, at::Tensor&> detail::rrelu_with_noise_out(at::Tensor& output, at::Tensor& noise,
                                                          const at::Tensor& self, double lower, double upper,
                                                          bool training, std::optional<at::Generator> generator) {
  static auto op = c10::Dispatcher::singleton()
                       .findSchemaOrThrow("torch_ext::rrelu_with_noise", "out")
                       .typed<void(const at::Tensor&, double, double, bool, std::optional<at::Generator>,
                                   at::Tensor&, at::Tensor&)>();
  op.call(self, lower, upper, training, std::move(generator), output, noise);
  return {output, noise};
}

at::Tensor& detail::rrelu_backward_out(at::Tensor& grad_input, const at::Tensor& grad_output,
                               const std::optional<at::Tensor>& self_or_result, const std::optional<at::Tensor>& noise,
                               double lower, double upper, bool training, bool is_result) {
  static auto op = c10::Dispatcher::singleton()
                       .findSchemaOrThrow("torch_ext::rrelu_backward", "grad_input")
                       .typed<void(const at::Tensor&, const std::optional<at::Tensor>&,
                                   const std::optional<at::Tensor>&, double, double, bool, bool, at::Tensor&)>();
  op.call(grad_output, self_or_result, noise, lower, upper, training, is_result, grad_input);
  return grad_input;
}

namespace ops {

void check_rrelu_bounds(const char* op, double lower, double upper) {
  TORCH_CHECK(std::isfinite(lower) && std::isfinite(upper), op,
              ": expected lower and upper (the bounds of the uniform slope) to be finite numbers, got lower = ", lower,
              " and upper = ", upper);
  TORCH_CHECK(lower <= upper, op, ": expected lower <= upper (the bounds of the uniform slope), got lower = ", lower,
              " and upper = ", upper);
}

void check_rrelu_backward(const at::Tensor& grad_output, const std::optional<at::Tensor>& self_or_result,
                          const std::optional<at::Tensor>& noise, double lower, double upper, bool training,
                          bool is_result) {
  check_floating("rrelu_backward", "grad_output", grad_output);
  if (training) {
    TORCH_CHECK(noise.has_value() && noise->defined(),
                "rrelu_backward: training mode needs the noise tensor (the slopes the forward drew), got None");
    check_elementwise_backward("rrelu_backward", grad_output, "noise", *noise);
    return;
  }
  TORCH_CHECK(self_or_result.has_value() && self_or_result->defined(),
              "rrelu_backward: eval mode needs self_or_result (the forward's input or in-place output), got None");
  check_elementwise_backward("rrelu_backward", grad_output, "self_or_result", *self_or_result);
  const double slope = (lower + upper) / 2;
  TORCH_CHECK(!is_result || slope >= 0.0,
              "rrelu_backward: in-place rrelu backward calculation (eval mode) is triggered with a negative slope "
              "((lower + upper) / 2 = ",
              slope,
              ") which is not supported. This is caused by calling the in-place forward function with a negative "
              "slope, please call the out-of-place version instead.");
}

namespace {

// Meta kernels: the outputs' sizes and strides equal the device kernels' (empty_like keeps a dense
// input's memory format; the noise is laid out like the output).
at::Tensor rrelu_forward_meta(const at::Tensor& self, double lower, double upper, bool, std::optional<at::Generator>) {
  check_elementwise_input("rrelu", self);
  check_rrelu_bounds("rrelu", lower, upper);
  return at::empty_like(self);
}

void rrelu_inplace_meta(at::Tensor& self, double lower, double upper, bool, std::optional<at::Generator>) {
  check_elementwise_input("rrelu_", self);
  check_no_internal_overlap("rrelu_", "self", self);
  check_rrelu_bounds("rrelu_", lower, upper);
}

std::tuple<at::Tensor, at::Tensor> rrelu_with_noise_meta(const at::Tensor& self, double lower, double upper, bool,
                                                         std::optional<at::Generator>) {
  check_elementwise_input("rrelu_with_noise", self);
  check_rrelu_bounds("rrelu_with_noise", lower, upper);
  return {at::empty_like(self), at::empty_like(self)};
}

at::Tensor rrelu_with_noise_inplace_meta(at::Tensor& self, double lower, double upper, bool,
                                         std::optional<at::Generator>) {
  check_elementwise_input("rrelu_with_noise_", self);
  check_no_internal_overlap("rrelu_with_noise_", "self", self);
  check_rrelu_bounds("rrelu_with_noise_", lower, upper);
  return at::empty_like(self);
}

at::Tensor rrelu_backward_meta(const at::Tensor& grad_output, const std::optional<at::Tensor>& self_or_result,
                               const std::optional<at::Tensor>& noise, double lower, double upper, bool training,
                               bool is_result) {
  check_rrelu_backward(grad_output, self_or_result, noise, lower, upper, training, is_result);
  return at::empty_like(grad_output);
}

}  // namespace
}  // namespace ops
}  // namespace torch_ext

TORCH_LIBRARY_FRAGMENT(torch_ext, m) {
  // NB: nondeterministic_seeded (as ATen's rrelu): it makes the op impure to the compilers, which then
  // neither merge two calls (CSE), drop an unused one, constant-fold one, nor recompute one in the backward
  // (which would draw other slopes).
  const std::vector<at::Tag> seeded{at::Tag::nondeterministic_seeded};
  m.def(
      "rrelu(Tensor self, float lower=0.125, float upper=0.3333333333333333, bool training=False, "
      "Generator? generator=None) -> Tensor",
      seeded);
  // NB: the in-place ops return nothing (or a new tensor): torch.compile functionalizes a mutating
  // custom op only when it does not return an alias of its input.
  m.def(
      "rrelu_(Tensor(a!) self, float lower=0.125, float upper=0.3333333333333333, bool training=False, "
      "Generator? generator=None) -> ()",
      seeded);
  m.def(
      "rrelu_with_noise(Tensor self, float lower=0.125, float upper=0.3333333333333333, bool training=False, "
      "Generator? generator=None) -> (Tensor output, Tensor noise)",
      seeded);
  m.def(
      "rrelu_with_noise_(Tensor(a!) self, float lower=0.125, float upper=0.3333333333333333, bool training=False, "
      "Generator? generator=None) -> Tensor noise",
      seeded);
  m.def(
      "rrelu_backward(Tensor grad_output, Tensor? self_or_result, Tensor? noise, float lower, float upper, "
      "bool training, bool is_result) -> Tensor");
  using torch_ext::ops::define_out_overload;
  define_out_overload(m,
                      "rrelu.out(Tensor self, float lower=0.125, float upper=0.3333333333333333, "
                      "bool training=False, Generator? generator=None, *, Tensor(a!) out) -> ()",
                      seeded);
  define_out_overload(m,
                      "rrelu_with_noise.out(Tensor self, float lower=0.125, float upper=0.3333333333333333, "
                      "bool training=False, Generator? generator=None, *, Tensor(a!) output, Tensor(b!) noise) -> ()",
                      seeded);
  define_out_overload(m,
                      "rrelu_backward.grad_input(Tensor grad_output, Tensor? self_or_result, Tensor? noise, "
                      "float lower, float upper, bool training, bool is_result, *, Tensor(a!) grad_input) -> ()");
}

TORCH_LIBRARY_IMPL(torch_ext, Meta, m) {
  m.impl("rrelu", TORCH_FN(torch_ext::ops::rrelu_forward_meta));
  m.impl("rrelu_", TORCH_FN(torch_ext::ops::rrelu_inplace_meta));
  m.impl("rrelu_with_noise", TORCH_FN(torch_ext::ops::rrelu_with_noise_meta));
  m.impl("rrelu_with_noise_", TORCH_FN(torch_ext::ops::rrelu_with_noise_inplace_meta));
  m.impl("rrelu_backward", TORCH_FN(torch_ext::ops::rrelu_backward_meta));
}
