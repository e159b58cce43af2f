#pragma once
// Binary cross-entropy on logits, fused: loss = w * ((1 - t) * x - (1 + (p - 1) * t) * logsigmoid(x)) per element,
// then reduced (reduction: 0 none, 1 mean, 2 sum, at::Reduction's values). weight (w) and pos_weight (p) broadcast to
// the input's shape; target has the input's shape. torch.nn.functional.binary_cross_entropy_with_logits's semantics.

#include <ATen/core/Reduction.h>
#include <ATen/core/Tensor.h>

#include <optional>

namespace torch_ext {

at::Tensor binary_cross_entropy_with_logits(const at::Tensor& self, const at::Tensor& target,
                                            const std::optional<at::Tensor>& weight = std::nullopt,
                                            const std::optional<at::Tensor>& pos_weight = std::nullopt,
                                            int64_t reduction = at::Reduction::Mean);

// The backward ops, which the autograd kernels call (grad_output: the loss's shape, broadcast to the input's).
namespace detail {

// d loss / d self.
at::Tensor binary_cross_entropy_with_logits_backward(const at::Tensor& grad_output, const at::Tensor& self,
                                                     const at::Tensor& target, const std::optional<at::Tensor>& weight,
                                                     const std::optional<at::Tensor>& pos_weight, int64_t reduction);
// d loss / d target.
at::Tensor binary_cross_entropy_with_logits_target_backward(const at::Tensor& grad_output, const at::Tensor& self,
                                                            const at::Tensor& target,
                                                            const std::optional<at::Tensor>& weight,
                                                            const std::optional<at::Tensor>& pos_weight,
                                                            int64_t reduction);

}  // namespace detail

}  // namespace torch_ext
