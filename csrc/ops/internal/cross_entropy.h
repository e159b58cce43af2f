#pragma once
// cross_entropy's declarations shared by its kernels (CPU, CUDA, Meta); not part of the public API.

#include <torch/library.h>

#include "ops/cross_entropy.h"

namespace torch_ext::ops {

// The operands as the device kernels see them: R rows of C logits.
struct CrossEntropyRows {
  at::Tensor logits;  // [R, C], contiguous
  at::Tensor target;  // class indices [R] (int64) or probabilities [R, C] (logits' dtype), contiguous
  at::Tensor weight;  // [C], contiguous, or undefined
  bool class_indices;
  int64_t ignore_index;
  double label_smoothing;
  double lse_square_scale;
  int64_t reduction;
};

// A device's forward: writes output (R losses for "none", else the reduced loss, 0-dim), lse ([R, 2]: each row's
// max and log_sum, op-math dtype) and total_weight (0-dim, op-math dtype). Targets out of [0, C) other than ignore_index are an error.
using CrossEntropyForward = void (*)(const CrossEntropyRows& rows, const at::Tensor& output, const at::Tensor& lse,
                                     const at::Tensor& total_weight);
// A device's backward: grad ([R, C], contiguous) from grad_output ([R], or 0-dim for a reduced loss), the
// forward's lse ([R, 2]) and total_weight.
using CrossEntropyBackward = void (*)(const CrossEntropyRows& rows, const at::Tensor& grad,
                                      const at::Tensor& grad_output, const at::Tensor& lse,
                                      const at::Tensor& total_weight);

// The op-facing kernels of every device: the checks, the rows, the outputs in the op's shapes.
std::tuple<at::Tensor, at::Tensor, at::Tensor> cross_entropy_forward_kernel(
    const at::Tensor& self, const at::Tensor& target, const std::optional<at::Tensor>& weight, int64_t reduction,
    int64_t ignore_index, double label_smoothing, double lse_square_scale, CrossEntropyForward forward);
at::Tensor cross_entropy_backward_kernel(const at::Tensor& grad_output, const at::Tensor& self,
                                         const at::Tensor& target, const std::optional<at::Tensor>& weight,
                                         int64_t reduction, int64_t ignore_index, double label_smoothing,
                                         double lse_square_scale, const at::Tensor& lse,
                                         const at::Tensor& total_weight, CrossEntropyBackward backward);

// Registers a device's op-facing kernels: TORCH_LIBRARY_IMPL(torch_ext, CPU, m) {
// register_cross_entropy_kernels<&forward, &backward>(m); }.
template <CrossEntropyForward kForward, CrossEntropyBackward kBackward>
void register_cross_entropy_kernels(torch::Library& m) {
  m.impl("cross_entropy_forward",
         [](const at::Tensor& self, const at::Tensor& target, const std::optional<at::Tensor>& weight,
            int64_t reduction, int64_t ignore_index, double label_smoothing, double lse_square_scale) {
           return cross_entropy_forward_kernel(self, target, weight, reduction, ignore_index, label_smoothing,
                                               lse_square_scale, kForward);
         });
  m.impl("cross_entropy_backward",
         [](const at::Tensor& grad_output, const at::Tensor& self, const at::Tensor& target,
            const std::optional<at::Tensor>& weight, int64_t reduction, int64_t ignore_index,
            double label_smoothing, double lse_square_scale, const at::Tensor& lse, const at::Tensor& total_weight) {
           return cross_entropy_backward_kernel(grad_output, self, target, weight, reduction, ignore_index,
                                                label_smoothing, lse_square_scale, lse, total_weight, kBackward);
         });
}

}  // namespace torch_ext::ops
