// PReLU: schemas, the C++ API (typed dispatcher calls), the argument checks shared by every
// kernel, and Meta kernels.

#include "internal/prelu.h"

#include <ATen/core/dispatch/Dispatcher.h>
#include <ATen/ops/empty.h>
#include <ATen/ops/empty_like.h>
#include <torch/library.h>

#include "common/checks.h"
#include "out_overload.h"

namespace torch_ext {

at::Tensor prelu(const at::Tensor& self, const at::Tensor& weight) {
  static auto op =
      c10::Dispatcher::singleton().findSchemaOrThrow("torch_ext::prelu", "").typed<decltype(prelu)>();
  return op.call(self, weight);
}

std::tuple<at::Tensor, at::Tensor> detail::prelu_backward(const at::Tensor& grad_output, const at::Tensor& self,
                                                  const at::Tensor& weight) {
  static auto op = c10::Dispatcher::singleton()
                       .findSchemaOrThrow("torch_ext::prelu_backward", "")
                       .typed<decltype(prelu_backward)>();
  return op.call(grad_output, self, weight);
}

at::Tensor& prelu_out(at::Tensor& out, const at::Tensor& self, const at::Tensor& weight) {
  static auto op = c10::Dispatcher::singleton()
                       .findSchemaOrThrow("torch_ext::prelu", "out")
                       .typed<void(const at::Tensor&, const at::Tensor&, at::Tensor&)>();
  op.call(self, weight, out);
  return out;
}

std::tuple<at::Tensor&, at::Tensor&> detail::prelu_backward_out(at::Tensor& grad_self, at::Tensor& grad_weight,
                                                        const at::Tensor& grad_output, const at::Tensor& self,
                                                        const at::Tensor& weight) {
  static auto op =
      c10::Dispatcher::singleton()
          .findSchemaOrThrow("torch_ext::prelu_backward", "out")
          .typed<void(const at::Tensor&, const at::Tensor&, const at::Tensor&, at::Tensor&, at::Tensor&)>();
  op.call(grad_output, self, weight, grad_self, grad_weight);
  return {grad_self, grad_weight};
}

namespace ops {
namespace {

void check_prelu_arguments(const char* op, const at::Tensor& self, const at::Tensor& weight) {
  check_floating(op, "self", self);
  TORCH_CHECK(weight.defined(), op, ": expected weight to be a tensor, got an undefined tensor");
  // NB: no type promotion, as ATen ("prelu: Type promoting not supported").
  check_same_dtype(op, "weight", weight, "self", self);
  check_same_device(op, "weight", weight, "self", self);
  TORCH_CHECK(weight.dim() <= 1, op, ": expected weight to be 0-d or 1-D (one weight, or one per channel), got a ",
              weight.dim(), "-D weight of shape ", weight.sizes());
  // NB: SymInt sizes, so that the Meta kernel runs under dynamic shapes (torch.compile, export).
  const c10::SymInt n = weight.sym_numel();
  if (n == 1) {
    return;
  }
  if (self.dim() == 0) {
    TORCH_CHECK(false, op, ": weight must have 1 element for a 0-d self, got ", n);
  }
  if (self.dim() == 1) {
    TORCH_CHECK(false, op, ": weight must have 1 element for a 1-D self (a 1-D input is one channel), got ", n);
  }
  const c10::SymInt channels = self.sym_size(1);
  TORCH_CHECK(n == channels, op, ": weight must have 1 or ", channels, " elements (the size of dim 1 of self), got ",
              n);
}

}  // namespace

void check_prelu(const at::Tensor& self, const at::Tensor& weight) {
  check_prelu_arguments("prelu", self, weight);
}

void check_prelu_backward(const at::Tensor& grad_output, const at::Tensor& self, const at::Tensor& weight) {
  check_floating("prelu_backward", "grad_output", grad_output);
  check_prelu_arguments("prelu_backward", self, weight);
  check_same_shape("prelu_backward", "self", self, "grad_output", grad_output);
  check_same_dtype("prelu_backward", "self", self, "grad_output", grad_output);
  check_same_device("prelu_backward", "self", self, "grad_output", grad_output);
}

PreluLayout prelu_layout(const at::Tensor& dense, int64_t weight_numel) {
  TORCH_INTERNAL_ASSERT(dense.is_non_overlapping_and_dense());
  const int64_t numel = dense.numel();
  if (weight_numel == 1 || dense.dim() < 2 || dense.size(1) == 1) {
    return {1, 1, numel};
  }
  const int64_t channels = dense.size(1);
  // NB: in a dense layout the dims with strides below dim 1's cover exactly stride(1) elements
  // and the others step in multiples of stride(1) * channels, so the channel of storage offset p
  // is (p / stride(1)) % channels whatever the order of the other dims.
  const int64_t inner = dense.stride(1);
  TORCH_INTERNAL_ASSERT(channels > 0 && inner > 0 && numel % (channels * inner) == 0);
  return {numel / (channels * inner), channels, inner};
}

at::Tensor prelu_dense_like(const at::Tensor& t, const at::Tensor& out) {
  TORCH_INTERNAL_ASSERT(t.sizes() == out.sizes() && out.is_non_overlapping_and_dense());
  bool same = t.is_non_overlapping_and_dense();
  for (int64_t d = 0; same && d < t.dim(); ++d) {
    // Strides of size-1 dims never contribute to an offset.
    same = t.size(d) == 1 || t.stride(d) == out.stride(d);
  }
  if (same) {
    return t;
  }
  at::Tensor staged = at::empty_like(out);
  staged.copy_(t);
  return staged;
}

namespace {

// Meta kernels: the outputs' sizes and strides equal the device kernels' (empty_like keeps a
// dense input's strides; grad_weight is a fresh tensor of weight's sizes).
at::Tensor prelu_forward_meta(const at::Tensor& self, const at::Tensor& weight) {
  check_prelu(self, weight);
  return at::empty_like(self);
}

std::tuple<at::Tensor, at::Tensor> prelu_backward_meta(const at::Tensor& grad_output, const at::Tensor& self,
                                                       const at::Tensor& weight) {
  check_prelu_backward(grad_output, self, weight);
  return {at::empty_like(self), at::empty_symint(weight.sym_sizes(), weight.options())};
}

}  // namespace
}  // namespace ops
}  // namespace torch_ext

TORCH_LIBRARY_FRAGMENT(torch_ext, m) {
  m.def("prelu(Tensor self, Tensor weight) -> Tensor");
  // grad_weight has weight's shape: the per-channel sums are taken inside the kernels.
  m.def("prelu_backward(Tensor grad_output, Tensor self, Tensor weight) -> (Tensor, Tensor)");
  torch_ext::ops::define_out_overload(m, "prelu.out(Tensor self, Tensor weight, *, Tensor(a!) out) -> ()");
  torch_ext::ops::define_out_overload(m,
                                      "prelu_backward.out(Tensor grad_output, Tensor self, Tensor weight, *, "
                                      "Tensor(a!) grad_self, Tensor(b!) grad_weight) -> ()");
}

TORCH_LIBRARY_IMPL(torch_ext, Meta, m) {
  m.impl("prelu", TORCH_FN(torch_ext::ops::prelu_forward_meta));
  m.impl("prelu_backward", TORCH_FN(torch_ext::ops::prelu_backward_meta));
}
