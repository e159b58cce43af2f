#pragma once
// Hierarchical softmax's declarations shared by its kernels (CPU, CUDA, Meta); not part of the public API.

#include <torch/library.h>

#include "ops/hsoftmax.h"

namespace torch_ext::ops {

// The operands as the device kernels see them, contiguous. Entries of the tree and the targets are checked where a
// kernel reads them (targets in [0, C) or ignore_index, path lengths in [1, L], nodes in [0, C - 1), codes 0 or 1).
struct HsoftmaxOperands {
  at::Tensor input;       // [N, D]
  at::Tensor weight;      // [C - 1, D]
  at::Tensor bias;        // [C - 1] or undefined
  at::Tensor path_nodes;  // [C, L] int32
  at::Tensor path_codes;  // [C, L] int8
  at::Tensor path_len;    // [C] int32
  at::Tensor target;      // [N] int64 (undefined for the log-probabilities)
  int64_t ignore_index;
};

// A device's forward: output [N] (input's dtype), logits [N, L] (op-math dtype).
using HsoftmaxForward = void (*)(const HsoftmaxOperands& ops, const at::Tensor& output, const at::Tensor& logits);
// A device's backward: grad_output [N] and the forward's logits [N, L] (contiguous) -> grad_input [N, D],
// grad_weight [C - 1, D], grad_bias [C - 1] (contiguous, every element written).
using HsoftmaxBackward = void (*)(const HsoftmaxOperands& ops, const at::Tensor& grad_output,
                                  const at::Tensor& logits, const at::Tensor& grad_input,
                                  const at::Tensor& grad_weight, const at::Tensor& grad_bias);
// A device's log-probabilities: out [N, C] (input's dtype, contiguous).
using HsoftmaxLogProb = void (*)(const HsoftmaxOperands& ops, const at::Tensor& out);

std::tuple<at::Tensor, at::Tensor> hsoftmax_nll_forward_kernel(
    const at::Tensor& input, const at::Tensor& weight, const std::optional<at::Tensor>& bias,
    const at::Tensor& path_nodes, const at::Tensor& path_codes, const at::Tensor& path_len, const at::Tensor& target,
    int64_t ignore_index, HsoftmaxForward forward);
std::tuple<at::Tensor, at::Tensor, at::Tensor> hsoftmax_nll_backward_kernel(
    const at::Tensor& grad_output, const at::Tensor& input, const at::Tensor& weight,
    const std::optional<at::Tensor>& bias, const at::Tensor& path_nodes, const at::Tensor& path_codes,
    const at::Tensor& path_len, const at::Tensor& target, int64_t ignore_index, const at::Tensor& logits,
    HsoftmaxBackward backward);
at::Tensor hsoftmax_log_prob_kernel(const at::Tensor& input, const at::Tensor& weight,
                                    const std::optional<at::Tensor>& bias, const at::Tensor& path_nodes,
                                    const at::Tensor& path_codes, const at::Tensor& path_len,
                                    HsoftmaxLogProb log_prob);

// Registers a device's op-facing kernels: TORCH_LIBRARY_IMPL(torch_ext, CPU, m) {
// register_hsoftmax_kernels<&forward, &backward, &log_prob>(m); }.
template <HsoftmaxForward kForward, HsoftmaxBackward kBackward, HsoftmaxLogProb kLogProb>
void register_hsoftmax_kernels(torch::Library& m) {
  m.impl("hsoftmax_nll_forward",
         [](const at::Tensor& input, const at::Tensor& weight, const std::optional<at::Tensor>& bias,
            const at::Tensor& path_nodes, const at::Tensor& path_codes, const at::Tensor& path_len,
            const at::Tensor& target, int64_t ignore_index) {
           return hsoftmax_nll_forward_kernel(input, weight, bias, path_nodes, path_codes, path_len, target,
                                              ignore_index, kForward);
         });
  m.impl("hsoftmax_nll_backward",
         [](const at::Tensor& grad_output, const at::Tensor& input, const at::Tensor& weight,
            const std::optional<at::Tensor>& bias, const at::Tensor& path_nodes, const at::Tensor& path_codes,
            const at::Tensor& path_len, const at::Tensor& target, int64_t ignore_index, const at::Tensor& logits) {
           return hsoftmax_nll_backward_kernel(grad_output, input, weight, bias, path_nodes, path_codes, path_len,
                                               target, ignore_index, logits, kBackward);
         });
  m.impl("hsoftmax_log_prob",
         [](const at::Tensor& input, const at::Tensor& weight, const std::optional<at::Tensor>& bias,
            const at::Tensor& path_nodes, const at::Tensor& path_codes, const at::Tensor& path_len) {
           return hsoftmax_log_prob_kernel(input, weight, bias, path_nodes, path_codes, path_len, kLogProb);
         });
}

}  // namespace torch_ext::ops
