#pragma once
// Hierarchical softmax (word2vec's): a class's probability is the product of binary decisions along its path from
// the root of a binary tree of C - 1 inner nodes, each decision a sigmoid of the node's score w_node . x + b_node.
// The tree is given as padded paths: path_nodes [C, L] (int32, inner-node ids in [0, C - 1)), path_codes [C, L]
// (int8: 0 takes sigmoid(z), 1 takes sigmoid(-z), word2vec's convention, whose label is 1 - code) and path_len [C]
// (int32, in [1, L]); entries past a class's length are not read. input [N, D], weight [C - 1, D] and bias [C - 1]
// share one floating dtype; target [N] holds class ids (int64), ignore_index marks rows without a loss.

#include <ATen/core/Tensor.h>

#include <optional>
#include <tuple>

namespace torch_ext {

// Per row: -sum_j log sigmoid((1 - 2 code_j) (w_{node_j} . x + b_{node_j})) along the target's path ([N], input's
// dtype; 0 for an ignored row). Differentiable with respect to input, weight and bias.
at::Tensor hsoftmax_nll(const at::Tensor& input, const at::Tensor& weight, const std::optional<at::Tensor>& bias,
                        const at::Tensor& path_nodes, const at::Tensor& path_codes, const at::Tensor& path_len,
                        const at::Tensor& target, int64_t ignore_index = -100);

// Every class's log-probability ([N, C], input's dtype), for evaluation.
at::Tensor hsoftmax_log_prob(const at::Tensor& input, const at::Tensor& weight, const std::optional<at::Tensor>& bias,
                             const at::Tensor& path_nodes, const at::Tensor& path_codes, const at::Tensor& path_len);

// The forward and backward ops, which the autograd kernels call.
namespace detail {

// (output, logits): the loss per row and the scores z along each row's target path ([N, L], the op-math dtype; 0
// past the path and for ignored rows), saved for the backward.
std::tuple<at::Tensor, at::Tensor> hsoftmax_nll_forward(const at::Tensor& input, const at::Tensor& weight,
                                                        const std::optional<at::Tensor>& bias,
                                                        const at::Tensor& path_nodes, const at::Tensor& path_codes,
                                                        const at::Tensor& path_len, const at::Tensor& target,
                                                        int64_t ignore_index);

// (grad_input [N, D], grad_weight [C - 1, D], grad_bias [C - 1]) from grad_output [N] and the forward's logits. The
// weight's and bias's gradients are summed per inner node in a fixed order (deterministic on every device).
std::tuple<at::Tensor, at::Tensor, at::Tensor> hsoftmax_nll_backward(
    const at::Tensor& grad_output, const at::Tensor& input, const at::Tensor& weight,
    const std::optional<at::Tensor>& bias, const at::Tensor& path_nodes, const at::Tensor& path_codes,
    const at::Tensor& path_len, const at::Tensor& target, int64_t ignore_index, const at::Tensor& logits);

}  // namespace detail

}  // namespace torch_ext
