#pragma once
// Cross-entropy on logits, fused (log_softmax and the negative log-likelihood in one pass, no N x C tensor):
// torch.nn.functional.cross_entropy's semantics. self: [C], [N, C] or [N, C, d1, ...] logits; target: class indices
// (int64, self's shape without the class dim) or class probabilities (self's shape and dtype); weight: [C];
// reduction: 0 none, 1 mean, 2 sum (at::Reduction's values); ignore_index: a class-index target to skip;
// label_smoothing in [0, 1]; lse_square_scale: the z-loss term lse_square_scale * logsumexp(x)^2 per row.

#include <ATen/core/Reduction.h>
#include <ATen/core/Tensor.h>

#include <optional>
#include <tuple>

namespace torch_ext {

at::Tensor cross_entropy(const at::Tensor& self, const at::Tensor& target,
                         const std::optional<at::Tensor>& weight = std::nullopt,
                         int64_t reduction = at::Reduction::Mean, int64_t ignore_index = -100,
                         double label_smoothing = 0.0, double lse_square_scale = 0.0);

// The forward and backward ops, which the autograd kernels call.
namespace detail {

// (output, lse, total_weight): the loss; each row's log-sum-exp in two parts, (max, log(sum exp(x - max))) along a
// last dim of 2 (the loss's unreduced shape + [2], the op-math dtype), saved for the backward, whose
// exp(x - max - log_sum) is then as accurate as a softmax (exp(x - lse) from a rounded lse would lose eps |lse|
// relative); the mean's denominator (a 0-dim op-math tensor: the sum of the weights of the rows not
// ignored, or the number of rows for probabilities).
std::tuple<at::Tensor, at::Tensor, at::Tensor> cross_entropy_forward(
    const at::Tensor& self, const at::Tensor& target, const std::optional<at::Tensor>& weight, int64_t reduction,
    int64_t ignore_index, double label_smoothing, double lse_square_scale);

// d loss / d self, from the forward's lse and total_weight.
at::Tensor cross_entropy_backward(const at::Tensor& grad_output, const at::Tensor& self, const at::Tensor& target,
                                  const std::optional<at::Tensor>& weight, int64_t reduction, int64_t ignore_index,
                                  double label_smoothing, double lse_square_scale, const at::Tensor& lse,
                                  const at::Tensor& total_weight);

}  // namespace detail

}  // namespace torch_ext
