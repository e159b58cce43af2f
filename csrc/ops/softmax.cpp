// softmax and log_softmax: schemas, the C++ API (typed dispatcher calls), the argument checks
// shared with the CPU and CUDA kernels, and Meta kernels.

#include "internal/softmax.h"

#include <ATen/core/dispatch/Dispatcher.h>
#include <ATen/ops/empty.h>
#include <c10/core/ScalarType.h>
#include <torch/library.h>

#include <algorithm>

#include "common/checks.h"
#include "out_overload.h"

namespace torch_ext {

at::Tensor softmax(const at::Tensor& self, int64_t dim, std::optional<at::ScalarType> dtype) {
  static auto op =
      c10::Dispatcher::singleton().findSchemaOrThrow("torch_ext::softmax", "").typed<decltype(softmax)>();
  return op.call(self, dim, dtype);
}

at::Tensor log_softmax(const at::Tensor& self, int64_t dim, std::optional<at::ScalarType> dtype) {
  static auto op =
      c10::Dispatcher::singleton().findSchemaOrThrow("torch_ext::log_softmax", "").typed<decltype(log_softmax)>();
  return op.call(self, dim, dtype);
}

at::Tensor detail::softmax_backward(const at::Tensor& grad_output, const at::Tensor& output, int64_t dim,
                            at::ScalarType input_dtype) {
  static auto op = c10::Dispatcher::singleton()
                       .findSchemaOrThrow("torch_ext::softmax_backward", "")
                       .typed<decltype(softmax_backward)>();
  return op.call(grad_output, output, dim, input_dtype);
}

at::Tensor detail::log_softmax_backward(const at::Tensor& grad_output, const at::Tensor& output, int64_t dim,
                                at::ScalarType input_dtype) {
  static auto op = c10::Dispatcher::singleton()
                       .findSchemaOrThrow("torch_ext::log_softmax_backward", "")
                       .typed<decltype(log_softmax_backward)>();
  return op.call(grad_output, output, dim, input_dtype);
}

at::Tensor& softmax_out(at::Tensor& out, const at::Tensor& self, int64_t dim, std::optional<at::ScalarType> dtype) {
  static auto op = c10::Dispatcher::singleton()
                       .findSchemaOrThrow("torch_ext::softmax", "out")
                       .typed<void(const at::Tensor&, int64_t, std::optional<at::ScalarType>, at::Tensor&)>();
  op.call(self, dim, dtype, out);
  return out;
}

at::Tensor& log_softmax_out(at::Tensor& out, const at::Tensor& self, int64_t dim, std::optional<at::ScalarType> dtype) {
  static auto op = c10::Dispatcher::singleton()
                       .findSchemaOrThrow("torch_ext::log_softmax", "out")
                       .typed<void(const at::Tensor&, int64_t, std::optional<at::ScalarType>, at::Tensor&)>();
  op.call(self, dim, dtype, out);
  return out;
}

at::Tensor& detail::softmax_backward_out(at::Tensor& grad_input, const at::Tensor& grad_output,
                                         const at::Tensor& output, int64_t dim, at::ScalarType input_dtype) {
  static auto op =
      c10::Dispatcher::singleton()
          .findSchemaOrThrow("torch_ext::softmax_backward", "grad_input")
          .typed<void(const at::Tensor&, const at::Tensor&, int64_t, at::ScalarType, at::Tensor&)>();
  op.call(grad_output, output, dim, input_dtype, grad_input);
  return grad_input;
}

at::Tensor& detail::log_softmax_backward_out(at::Tensor& grad_input, const at::Tensor& grad_output,
                                             const at::Tensor& output, int64_t dim, at::ScalarType input_dtype) {
  static auto op =
      c10::Dispatcher::singleton()
          .findSchemaOrThrow("torch_ext::log_softmax_backward", "grad_input")
          .typed<void(const at::Tensor&, const at::Tensor&, int64_t, at::ScalarType, at::Tensor&)>();
  op.call(grad_output, output, dim, input_dtype, grad_input);
  return grad_input;
}

namespace ops {
namespace {

// ATen's maybe_wrap_dim with a 0-d tensor counted as one element (dims [-1, 0]); an IndexError in
// Python, as ATen's.
int64_t wrap_softmax_dim(const char* op, int64_t dim, int64_t ndim) {
  const int64_t n = std::max<int64_t>(ndim, 1);
  TORCH_CHECK_INDEX(dim >= -n && dim < n, op, ": Dimension out of range (expected to be in range of [", -n, ", ",
                    n - 1, "], but got ", dim, ")");
  return dim < 0 ? dim + n : dim;
}

}  // namespace

int64_t check_softmax_forward(const char* op, const at::Tensor& self, int64_t dim,
                              std::optional<at::ScalarType> dtype) {
  TORCH_CHECK(self.defined(), op, ": expected self to be a tensor, got an undefined tensor");
  const at::ScalarType t = self.scalar_type();
  if (dtype.has_value()) {
    TORCH_CHECK(is_supported_floating(*dtype), op,
                ": expected dtype to be a floating-point dtype (float32, float64, float16 or bfloat16), got ", *dtype);
    // NB: ATen would cast a complex self to dtype, dropping the imaginary part with a warning; the
    // contract (softmax.h) takes floating or integer inputs only.
    TORCH_CHECK(at::isFloatingType(t) || at::isIntegralType(t, /*includeBool=*/true), op,
                ": expected self to be a floating-point or integer tensor, got ", t);
  } else {
    TORCH_CHECK(is_supported_floating(t), op,
                ": expected self to be a floating-point tensor (float32, float64, float16 or bfloat16), got ", t,
                "; pass dtype to compute it in a floating-point dtype");
  }
  return wrap_softmax_dim(op, dim, self.dim());
}

int64_t check_softmax_backward(const char* op, const at::Tensor& grad_output, const at::Tensor& output,
                               int64_t dim, at::ScalarType input_dtype) {
  check_floating(op, "grad_output", grad_output);
  check_floating(op, "output", output);
  check_same_shape(op, "output", output, "grad_output", grad_output);
  check_same_dtype(op, "output", output, "grad_output", grad_output);
  check_same_device(op, "output", output, "grad_output", grad_output);
  TORCH_CHECK(is_supported_floating(input_dtype), op,
              ": expected input_dtype to be a floating-point dtype (float32, float64, float16 or bfloat16), got ",
              input_dtype);
  return wrap_softmax_dim(op, dim, grad_output.dim());
}

namespace {

bool is_reduced_float(at::ScalarType t) { return t == at::kHalf || t == at::kBFloat16; }

}  // namespace

SoftmaxForwardDtypes softmax_forward_dtypes(at::ScalarType input, std::optional<at::ScalarType> dtype) {
  const at::ScalarType output = dtype.value_or(input);
  return {output, output == input || (output == at::kFloat && is_reduced_float(input))};
}

bool softmax_backward_writes_input_dtype(at::ScalarType output, at::ScalarType input_dtype) {
  return input_dtype == output || (output == at::kFloat && is_reduced_float(input_dtype));
}

namespace {

// Meta kernels: contiguous outputs, as the device kernels' (and ATen's) at::empty(sizes).
// NB: SymInt sizes, so that they run under dynamic shapes (torch.compile, export).
at::Tensor softmax_meta(const at::Tensor& self, int64_t dim, std::optional<at::ScalarType> dtype) {
  check_softmax_forward("softmax", self, dim, dtype);
  const at::ScalarType output = softmax_forward_dtypes(self.scalar_type(), dtype).output;
  return at::empty_symint(self.sym_sizes(), self.options().dtype(output));
}

at::Tensor log_softmax_meta(const at::Tensor& self, int64_t dim, std::optional<at::ScalarType> dtype) {
  check_softmax_forward("log_softmax", self, dim, dtype);
  const at::ScalarType output = softmax_forward_dtypes(self.scalar_type(), dtype).output;
  return at::empty_symint(self.sym_sizes(), self.options().dtype(output));
}

at::Tensor softmax_backward_meta(const at::Tensor& grad_output, const at::Tensor& output, int64_t dim,
                                 at::ScalarType input_dtype) {
  check_softmax_backward("softmax_backward", grad_output, output, dim, input_dtype);
  return at::empty_symint(grad_output.sym_sizes(), grad_output.options().dtype(input_dtype));
}

at::Tensor log_softmax_backward_meta(const at::Tensor& grad_output, const at::Tensor& output, int64_t dim,
                                     at::ScalarType input_dtype) {
  check_softmax_backward("log_softmax_backward", grad_output, output, dim, input_dtype);
  return at::empty_symint(grad_output.sym_sizes(), grad_output.options().dtype(input_dtype));
}

}  // namespace
}  // namespace ops
}  // namespace torch_ext

TORCH_LIBRARY_FRAGMENT(torch_ext, m) {
  m.def("softmax(Tensor self, int dim, ScalarType? dtype=None) -> Tensor");
  m.def("log_softmax(Tensor self, int dim, ScalarType? dtype=None) -> Tensor");
  // The backward ops consume the forward's output (ATen's _softmax_backward_data); the result has
  // input_dtype.
  m.def("softmax_backward(Tensor grad_output, Tensor output, int dim, ScalarType input_dtype) -> Tensor");
  m.def("log_softmax_backward(Tensor grad_output, Tensor output, int dim, ScalarType input_dtype) -> Tensor");
  using torch_ext::ops::define_out_overload;
  define_out_overload(m, "softmax.out(Tensor self, int dim, ScalarType? dtype=None, *, Tensor(a!) out) -> ()");
  define_out_overload(m, "log_softmax.out(Tensor self, int dim, ScalarType? dtype=None, *, Tensor(a!) out) -> ()");
  define_out_overload(m,
                      "softmax_backward.grad_input(Tensor grad_output, Tensor output, int dim, "
                      "ScalarType input_dtype, *, Tensor(a!) grad_input) -> ()");
  define_out_overload(m,
                      "log_softmax_backward.grad_input(Tensor grad_output, Tensor output, int dim, "
                      "ScalarType input_dtype, *, Tensor(a!) grad_input) -> ()");
}

TORCH_LIBRARY_IMPL(torch_ext, Meta, m) {
  m.impl("softmax", TORCH_FN(torch_ext::ops::softmax_meta));
  m.impl("log_softmax", TORCH_FN(torch_ext::ops::log_softmax_meta));
  m.impl("softmax_backward", TORCH_FN(torch_ext::ops::softmax_backward_meta));
  m.impl("log_softmax_backward", TORCH_FN(torch_ext::ops::log_softmax_backward_meta));
}
