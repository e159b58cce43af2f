#pragma once
// Argument checks shared by every op. Each message names the op, the argument, what was
// expected and what was given.

#include <ATen/MemoryOverlap.h>
#include <ATen/core/grad_mode.h>
#include <ATen/core/Tensor.h>
#include <c10/util/Exception.h>

namespace torch_ext::ops {

// The four floating dtypes every kernel supports.
inline bool is_supported_floating(at::ScalarType t) {
  return t == at::kFloat || t == at::kDouble || t == at::kHalf || t == at::kBFloat16;
}

inline void check_floating(const char* op, const char* arg, const at::Tensor& t) {
  TORCH_CHECK(t.defined(), op, ": expected ", arg, " to be a tensor, got an undefined tensor");
  TORCH_CHECK(is_supported_floating(t.scalar_type()), op, ": expected ", arg,
              " to be a floating-point tensor (float32, float64, float16 or bfloat16), got ", t.scalar_type());
}

inline void check_same_dtype(const char* op, const char* arg, const at::Tensor& t, const char* ref_arg,
                             const at::Tensor& ref) {
  TORCH_CHECK(t.scalar_type() == ref.scalar_type(), op, ": expected ", arg, " to have the dtype of ", ref_arg,
              " (", ref.scalar_type(), "), got ", t.scalar_type());
}

inline void check_same_device(const char* op, const char* arg, const at::Tensor& t, const char* ref_arg,
                              const at::Tensor& ref) {
  TORCH_CHECK(t.device() == ref.device(), op, ": expected ", arg, " to be on the device of ", ref_arg, " (",
              ref.device(), "), got ", t.device());
}

inline void check_same_shape(const char* op, const char* arg, const at::Tensor& t, const char* ref_arg,
                             const at::Tensor& ref) {
  TORCH_CHECK(t.sym_sizes() == ref.sym_sizes(), op, ": expected ", arg, " to have the shape of ", ref_arg, " ",
              ref.sym_sizes(), ", got ", t.sym_sizes());
}

// In-place ops write each element once from the same element: refuse outputs where several
// indices share memory (an expanded view), as ATen does.
inline void check_no_internal_overlap(const char* op, const char* arg, const at::Tensor& t) {
  TORCH_CHECK(at::has_internal_overlap(t) != at::MemOverlap::Yes, op, ": ", arg,
              " has elements that share memory (an expanded view); an in-place op cannot write it. "
              "Call .clone() first, or use the out-of-place op");
}

// In-place ops on a leaf that requires grad, or on a view of one, are refused before self is written
// (autograd's own check runs after the forward, when self is already overwritten).
inline void check_inplace_not_leaf(const char* op, const at::Tensor& self) {
  if (!at::GradMode::is_enabled() || !self.requires_grad()) {
    return;
  }
  const bool leaf = self.is_leaf();
  TORCH_CHECK(!leaf && !(self.is_view() && self._base().is_leaf()), op,
              ": expected self not to be a leaf tensor that requires grad (or a view of one), got ",
              leaf ? "a leaf" : "a view of a leaf", " with requires_grad=True: an in-place op would overwrite the "
              "value autograd needs. Use the out-of-place op, or clone() first");
}

// Checks of a unary elementwise op's input.
inline void check_elementwise_input(const char* op, const at::Tensor& self) {
  check_floating(op, "self", self);
}

// Checks of an elementwise backward op: grad_output and the saved tensor agree in shape, dtype and device.
inline void check_elementwise_backward(const char* op, const at::Tensor& grad_output, const char* saved_arg,
                                       const at::Tensor& saved) {
  check_floating(op, "grad_output", grad_output);
  check_floating(op, saved_arg, saved);
  check_same_shape(op, saved_arg, saved, "grad_output", grad_output);
  check_same_dtype(op, saved_arg, saved, "grad_output", grad_output);
  check_same_device(op, saved_arg, saved, "grad_output", grad_output);
}

}  // namespace torch_ext::ops
