#pragma once
// Autograd kernels: whether a call must record a graph node, NaN in second-order terms, and forward-mode AD
// (tangents).

#include <ATen/TensorOperators.h>
#include <ATen/core/Tensor.h>
#include <ATen/core/grad_mode.h>
#include <ATen/ops/isnan.h>
#include <ATen/ops/where.h>
#include <torch/autograd.h>
#include <torch/csrc/autograd/forward_grad.h>

#include <optional>
#include <string>

namespace torch_ext::ops {

inline bool input_requires_grad(const at::Tensor& t) { return t.defined() && t.requires_grad(); }

inline bool input_requires_grad(const std::optional<at::Tensor>& t) {
  return t.has_value() && input_requires_grad(*t);
}

// NB: a node costs about 7 us a call (Function::apply builds it and fills saved_data even when nothing
// requires grad): more than the op itself on small tensors. Calls that record nothing (grad mode off, as
// in inference and in a backward pass without create_graph, or no input that requires grad) run the op
// below autograd instead.
template <typename... Tensors>
inline bool records_grad(const Tensors&... tensors) {
  return at::GradMode::is_enabled() && (input_requires_grad(tensors) || ...);
}

// t, with x's NaN where x (of t's shape) is NaN: the double-backward and tangent terms of the piecewise-linear
// activations are zero or constant on each side, and NaN at a NaN input, as its first-order gradient is.
inline at::Tensor propagate_nan(const at::Tensor& x, const at::Tensor& t) { return at::where(at::isnan(x), x, t); }

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

// Refuses a tangent on an in-place call that also records a reverse-mode graph (self requires grad, grad mode on):
// the graph's Functions save the primals, without their tangents, so a gradient computed from it inside the dual
// level (forward-over-reverse) would silently miss terms (out-of-place ops guard their inputs instead, below).
template <typename... Tensors>
inline void check_tangent_without_graph(const char* op, const Tensors&... inputs) {
  TORCH_CHECK(!records_grad(inputs...), op,
              ": forward-mode AD (a tangent, from torch.func.jvp/jacfwd or torch.autograd.forward_ad) on an input that "
              "also requires grad is not supported in place: the reverse-mode graph would lose the tangent. Use the "
              "out-of-place op, make the dual tensors from inputs that do not require grad (detach them), or "
              "differentiate twice in reverse mode");
}

// Between a primal that requires grad and an op that records a graph while its inputs carry tangents: the op's
// Function saves the primal, without its tangent, so a gradient through it computed while the forward-AD level is
// still open (forward-over-reverse, which would read that tangent) is refused, naming the op. After the level
// closes, gradients pass unchanged.
class DroppedTangentGuard : public torch::autograd::Function<DroppedTangentGuard> {
 public:
  static at::Tensor forward(torch::autograd::AutogradContext* ctx, const at::Tensor& primal, const char* op) {
    ctx->saved_data["op"] = std::string(op);
    return primal;
  }

  static torch::autograd::variable_list backward(torch::autograd::AutogradContext* ctx,
                                                 torch::autograd::variable_list grad_outputs) {
    TORCH_CHECK(torch::autograd::ForwardADLevel::try_get_by_idx(0) == nullptr, ctx->saved_data["op"].toStringRef(),
                ": a gradient computed inside the forward-AD level whose tangents went into this op "
                "(forward-over-reverse) is not supported: the saved inputs lost their tangents. Call backward after "
                "leaving the dual level, or differentiate twice in reverse mode");
    return {grad_outputs[0], at::Tensor()};
  }
};

// t without its tangent (a view of the same data, still differentiable in reverse mode).
inline at::Tensor primal(const at::Tensor& t) { return tangent(t).defined() ? t._fw_primal(/*level=*/0) : t; }

// primal(t) for an out-of-place op's call on primals: behind a DroppedTangentGuard where the call will record a graph
// through it.
inline at::Tensor guarded_primal(const char* op, const at::Tensor& t) {
  const at::Tensor p = primal(t);
  return records_grad(p) ? DroppedTangentGuard::apply(p, op) : p;
}

inline std::optional<at::Tensor> primal(const std::optional<at::Tensor>& t) {
  return t.has_value() ? std::optional<at::Tensor>(primal(*t)) : std::nullopt;
}

inline std::optional<at::Tensor> guarded_primal(const char* op, const std::optional<at::Tensor>& t) {
  return t.has_value() ? std::optional<at::Tensor>(guarded_primal(op, *t)) : std::nullopt;
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
