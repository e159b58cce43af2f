#pragma once
// binary_cross_entropy_with_logits's declarations shared by its kernels (CPU, CUDA, Meta); not part of the public API.

#include <torch/library.h>

#include "ops/binary_cross_entropy_with_logits.h"

namespace torch_ext::ops {

// Argument checks shared by the CPU, CUDA and Meta kernels. The forward's: self floating, target of self's dtype,
// device and shape, weight and pos_weight of self's dtype and device and broadcastable to self's shape, a known
// reduction. The backward's add grad_output: self's dtype and device, and the loss's shape (self's for "none", one
// element otherwise).
void check_bce_with_logits(const char* op, const at::Tensor& self, const at::Tensor& target,
                           const std::optional<at::Tensor>& weight, const std::optional<at::Tensor>& pos_weight,
                           int64_t reduction);
void check_bce_with_logits_backward(const char* op, const at::Tensor& grad_output, const at::Tensor& self,
                                    const at::Tensor& target, const std::optional<at::Tensor>& weight,
                                    const std::optional<at::Tensor>& pos_weight, int64_t reduction);

// A device's kernels, after the checks. The forward: self, target, weight, pos_weight -> the (reduced) loss.
using BceWithLogitsForward = at::Tensor (*)(const at::Tensor& self, const at::Tensor& target,
                                            const std::optional<at::Tensor>& weight,
                                            const std::optional<at::Tensor>& pos_weight, int64_t reduction);
// An elementwise loop: loss (self's shape) = the unreduced loss; weight and pos_weight undefined or expanded to
// self's shape.
using BceWithLogitsLossLoop = void (*)(const at::Tensor& loss, const at::Tensor& self, const at::Tensor& target,
                                       const at::Tensor& weight, const at::Tensor& pos_weight);
// The gradients: grad (self's shape) = d loss / d self, or d loss / d target when of_target; grad_output: self's
// shape for "none", else the one gradient of the reduced loss; scale: bce_with_logits_grad_scale; weight and
// pos_weight undefined or expanded to self's shape.
using BceWithLogitsGradLauncher = void (*)(const at::Tensor& grad, const at::Tensor& grad_output, double scale,
                                           const at::Tensor& self, const at::Tensor& target,
                                           const at::Tensor& weight, const at::Tensor& pos_weight,
                                           int64_t reduction, bool of_target);

// The loss through an elementwise loop: the unreduced loss in a buffer of self's shape, then, for a reduced loss,
// its sum or mean accumulated in the op-math type by at::sum (CUDA's reduction; the CPU reduces its own way).
at::Tensor bce_with_logits_through_buffer(const at::Tensor& self, const at::Tensor& target,
                                          const std::optional<at::Tensor>& weight,
                                          const std::optional<at::Tensor>& pos_weight, int64_t reduction,
                                          BceWithLogitsLossLoop loop);

// The op-facing kernels of every device: the checks, the outputs, the device's kernels.
at::Tensor bce_with_logits_forward(const at::Tensor& self, const at::Tensor& target,
                                   const std::optional<at::Tensor>& weight,
                                   const std::optional<at::Tensor>& pos_weight, int64_t reduction,
                                   BceWithLogitsForward forward);
at::Tensor bce_with_logits_backward(const char* op, const at::Tensor& grad_output, const at::Tensor& self,
                                    const at::Tensor& target, const std::optional<at::Tensor>& weight,
                                    const std::optional<at::Tensor>& pos_weight, int64_t reduction, bool of_target,
                                    BceWithLogitsGradLauncher launch);

// Registers a device's op-facing kernels over its loops: TORCH_LIBRARY_IMPL(torch_ext, CPU, m) {
// register_bce_with_logits_kernels<&forward, &grad_loop>(m); }.
template <BceWithLogitsForward kForward, BceWithLogitsGradLauncher kGrad>
void register_bce_with_logits_kernels(torch::Library& m) {
  using OptionalTensor = const std::optional<at::Tensor>&;
  m.impl("binary_cross_entropy_with_logits",
         [](const at::Tensor& self, const at::Tensor& target, OptionalTensor weight, OptionalTensor pos_weight,
            int64_t reduction) { return bce_with_logits_forward(self, target, weight, pos_weight, reduction, kForward);
         });
  m.impl("binary_cross_entropy_with_logits_backward",
         [](const at::Tensor& grad_output, const at::Tensor& self, const at::Tensor& target, OptionalTensor weight,
            OptionalTensor pos_weight, int64_t reduction) {
           return bce_with_logits_backward("binary_cross_entropy_with_logits_backward", grad_output, self, target,
                                           weight, pos_weight, reduction, /*of_target=*/false, kGrad);
         });
  m.impl("binary_cross_entropy_with_logits_target_backward",
         [](const at::Tensor& grad_output, const at::Tensor& self, const at::Tensor& target, OptionalTensor weight,
            OptionalTensor pos_weight, int64_t reduction) {
           return bce_with_logits_backward("binary_cross_entropy_with_logits_target_backward", grad_output, self,
                                           target, weight, pos_weight, reduction, /*of_target=*/true, kGrad);
         });
}

// The loss's shape: self's for "none", a 0-dim tensor otherwise.
at::Tensor empty_bce_with_logits_output(const at::Tensor& self, int64_t reduction);

// weight or pos_weight as a view of self's shape (stride 0 where broadcast); undefined when not given.
at::Tensor expand_bce_with_logits_operand(const std::optional<at::Tensor>& t, const at::Tensor& self);

// The reduction's scale of each element's gradient: 1 / numel for "mean", 1 otherwise.
double bce_with_logits_grad_scale(const at::Tensor& self, int64_t reduction);

}  // namespace torch_ext::ops
