#pragma once
// Autograd kernels: whether a call must record a graph node.

#include <ATen/core/Tensor.h>
#include <ATen/core/grad_mode.h>

namespace torch_ext::ops {

// NB: a node costs about 7 us a call (Function::apply builds it and fills saved_data even when nothing
// requires grad): more than the op itself on small tensors. Calls that record nothing (grad mode off, as
// in inference and in a backward pass without create_graph, or no input that requires grad) run the op
// below autograd instead.
template <typename... Tensors>
inline bool records_grad(const Tensors&... tensors) {
  return at::GradMode::is_enabled() && ((tensors.defined() && tensors.requires_grad()) || ...);
}

}  // namespace torch_ext::ops
