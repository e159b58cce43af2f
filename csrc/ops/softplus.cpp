// softplus: schemas, the C++ API (typed dispatcher calls) and Meta kernels.

#include "softplus.h"

#include <ATen/core/dispatch/Dispatcher.h>
#include <ATen/ops/empty_like.h>
#include <torch/library.h>

#include "common/checks.h"
#include "out_overload.h"

namespace torch_ext {

at::Tensor softplus(const at::Tensor& self, double beta, double threshold) {
  static auto op =
      c10::Dispatcher::singleton().findSchemaOrThrow("torch_ext::softplus", "").typed<decltype(softplus)>();
  return op.call(self, beta, threshold);
}

at::Tensor softplus_backward(const at::Tensor& grad_output, const at::Tensor& self, double beta, double threshold) {
  static auto op = c10::Dispatcher::singleton()
                       .findSchemaOrThrow("torch_ext::softplus_backward", "")
                       .typed<decltype(softplus_backward)>();
  return op.call(grad_output, self, beta, threshold);
}

at::Tensor& softplus_out(at::Tensor& out, const at::Tensor& self, double beta, double threshold) {
  static auto op = c10::Dispatcher::singleton()
                       .findSchemaOrThrow("torch_ext::softplus", "out")
                       .typed<void(const at::Tensor&, double, double, at::Tensor&)>();
  op.call(self, beta, threshold, out);
  return out;
}

at::Tensor& softplus_backward_out(at::Tensor& grad_input, const at::Tensor& grad_output, const at::Tensor& self,
                                  double beta, double threshold) {
  static auto op = c10::Dispatcher::singleton()
                       .findSchemaOrThrow("torch_ext::softplus_backward", "grad_input")
                       .typed<void(const at::Tensor&, const at::Tensor&, double, double, at::Tensor&)>();
  op.call(grad_output, self, beta, threshold, grad_input);
  return grad_input;
}

namespace ops {
namespace {

// Meta kernels: the outputs' sizes and strides equal the device kernels' (empty_like keeps
// the input's memory format).
at::Tensor softplus_forward_meta(const at::Tensor& self, double, double) {
  check_elementwise_input("softplus", self);
  return at::empty_like(self);
}

at::Tensor softplus_backward_meta(const at::Tensor& grad_output, const at::Tensor& self, double, double) {
  check_elementwise_backward("softplus_backward", grad_output, "self", self);
  return at::empty_like(grad_output);
}

}  // namespace
}  // namespace ops
}  // namespace torch_ext

TORCH_LIBRARY_FRAGMENT(torch_ext, m) {
  // NB: no check on beta or threshold, as in ATen: beta == 0 gives log(2) / 0 = inf (NaN at
  // x = +-inf), and a threshold above exp's overflow point is allowed (and finite here).
  m.def("softplus(Tensor self, float beta=1.0, float threshold=20.0) -> Tensor");
  m.def("softplus_backward(Tensor grad_output, Tensor self, float beta, float threshold) -> Tensor");
  torch_ext::ops::define_out_overload(
      m, "softplus.out(Tensor self, float beta=1.0, float threshold=20.0, *, Tensor(a!) out) -> ()");
  torch_ext::ops::define_out_overload(m,
                                      "softplus_backward.grad_input(Tensor grad_output, Tensor self, float beta, "
                                      "float threshold, *, Tensor(a!) grad_input) -> ()");
}

TORCH_LIBRARY_IMPL(torch_ext, Meta, m) {
  m.impl("softplus", TORCH_FN(torch_ext::ops::softplus_forward_meta));
  m.impl("softplus_backward", TORCH_FN(torch_ext::ops::softplus_backward_meta));
}
