#pragma once
// Autograd kernels: whether a call must record a graph node, and forward-mode AD (tangents).

#include <ATen/TensorOperators.h>
#include <ATen/core/Tensor.h>
#include <ATen/core/grad_mode.h>

#include <optional>

namespace torch_ext::ops {

// NB: a node costs about 7 us a call (Function::apply builds it and fills saved_data even when nothing
// requires grad): more than the op itself on small tensors. Calls that record nothing (grad mode off, as
// in inference and in a backward pass without create_graph, or no input that requires grad) run the op
// below autograd instead.
inline bool input_requires_grad(const at::Tensor& t) { return t.defined() && t.requires_grad(); }

inline bool input_requires_grad(const std::optional<at::Tensor>& t) {
  return t.has_value() && input_requires_grad(*t);
}

template <typename... Tensors>
inline bool records_grad(const Tensors&... tensors) {
  return at::GradMode::is_enabled() && (input_requires_grad(tensors) || ...);
}

// Forward-mode AD (dual tensors, torch.func.jvp/jacfwd). A C++ custom Function has no jvp, and a dual
// tensor need not require grad, so neither path of an autograd kernel would carry a tangent: each kernel
// runs itself on the inputs' primals (no tangent) and sets the output's tangent from the op's own formula,
// computed through the dispatcher (so reverse mode over it works, as for ATen's ops). Level 0, as ATen's
// generated kernels: functorch's nested levels arrive here as level 0 of their wrappers.

inline at::Tensor tangent(const at::Tensor& t) { return t.defined() ? t._fw_grad(/*level=*/0) : at::Tensor(); }

inline at::Tensor tangent(const std::optional<at::Tensor>& t) {
  return t.has_value() ? tangent(*t) : at::Tensor();
}

template <typename... Tensors>
inline bool has_tangent(const Tensors&... tensors) {
  return (tangent(tensors).defined() || ...);
}

// Refuses a tangent on a call that also records a reverse-mode graph (an input requires grad, grad mode on): the
// graph's Functions save the primals, without their tangents, so a gradient computed from it inside the dual
// level (forward-over-reverse) would silently miss terms.
template <typename... Tensors>
inline void check_tangent_without_graph(const char* op, const Tensors&... inputs) {
  TORCH_CHECK(!records_grad(inputs...), op,
              ": forward-mode AD (a tangent, from torch.func.jvp/jacfwd or torch.autograd.forward_ad) on an input that "
              "also requires grad is not supported: the reverse-mode graph would lose the tangent. Make the dual "
              "tensors from inputs that do not require grad (detach them), or differentiate twice in reverse mode");
}

// t without its tangent (a view of the same data, still differentiable in reverse mode).
inline at::Tensor primal(const at::Tensor& t) { return tangent(t).defined() ? t._fw_primal(/*level=*/0) : t; }

inline std::optional<at::Tensor> primal(const std::optional<at::Tensor>& t) {
  return t.has_value() ? std::optional<at::Tensor>(primal(*t)) : std::nullopt;
}

// The sum of the defined terms of a tangent (a term is undefined where its input has no tangent).
inline at::Tensor add_terms(const at::Tensor& a, const at::Tensor& b) {
  return !a.defined() ? b : (!b.defined() ? a : a + b);
}

// out with `t` as its tangent; an undefined t (no input had one) leaves out as it is.
inline at::Tensor with_tangent(const at::Tensor& out, const at::Tensor& t) {
  if (t.defined()) {
    out._set_fw_grad(t, /*level=*/0, /*is_inplace_op=*/false);
  }
  return out;
}

// self, modified in place, gets the tangent t: written into its tangent where it has one (as ATen's in-place
// kernels do), attached otherwise.
inline void set_inplace_tangent(const at::Tensor& self, const at::Tensor& t) {
  const at::Tensor current = tangent(self);
  if (current.defined()) {
    current.copy_(t);
  } else if (t.defined()) {
    self._set_fw_grad(t, /*level=*/0, /*is_inplace_op=*/true);
  }
}

}  // namespace torch_ext::ops
