#pragma once
// torch_ext's hierarchical softmax layer for C++ LibTorch, the counterpart of Python's
// torch_ext.nn.HierarchicalSoftmax: the same parameters and buffers (weight [C - 1, D], bias [C - 1], path_nodes,
// path_codes, path_len), so a state_dict saved from Python loads here; forward(input, target) returns
// (output, loss): the target's log-probability per row and the reduced loss, as Python's AdaptiveLogSoftmaxWithLoss
// does (torch::nn::ASMoutput holds its loss as a double, which cannot carry a gradient).
// The tree is built in Python (torch_ext.hsoftmax_tree: huffman, balanced, from_paths) or given as tensors.
//
//   torch_ext::nn::HierarchicalSoftmax head(
//       torch_ext::nn::HierarchicalSoftmaxOptions(256, path_nodes, path_codes, path_len).reduction(torch::kSum));
//   auto [output, loss] = head(hidden, target);

#include <torch/arg.h>
#include <torch/enum.h>
#include <torch/nn/cloneable.h>
#include <torch/nn/pimpl.h>
#include <torch/types.h>

#include <optional>
#include <ostream>
#include <variant>

namespace torch_ext::nn {

struct HierarchicalSoftmaxOptions {
  using reduction_t = std::variant<torch::enumtype::kNone, torch::enumtype::kMean, torch::enumtype::kSum>;

  // The tree: path_nodes [C, L] int32, path_codes [C, L] int8, path_len [C] int32 (see ops/hsoftmax.h).
  HierarchicalSoftmaxOptions(int64_t in_features, at::Tensor path_nodes, at::Tensor path_codes, at::Tensor path_len)
      : in_features_(in_features),
        path_nodes_(std::move(path_nodes)),
        path_codes_(std::move(path_codes)),
        path_len_(std::move(path_len)) {}

  TORCH_ARG(int64_t, in_features);
  TORCH_ARG(at::Tensor, path_nodes);
  TORCH_ARG(at::Tensor, path_codes);
  TORCH_ARG(at::Tensor, path_len);
  TORCH_ARG(bool, bias) = true;
  TORCH_ARG(reduction_t, reduction) = torch::kMean;
  TORCH_ARG(int64_t, ignore_index) = -100;
};

struct HierarchicalSoftmaxOutput {
  at::Tensor output;  // [N] (or 0-dim): each row's log-probability of its target, 0 for an ignored row
  at::Tensor loss;    // reduced by the options' reduction
};

class HierarchicalSoftmaxImpl : public torch::nn::Cloneable<HierarchicalSoftmaxImpl> {
 public:
  explicit HierarchicalSoftmaxImpl(HierarchicalSoftmaxOptions options_);
  // input [N, D] (or [D] with a 0-dim target), target [N] int64.
  HierarchicalSoftmaxOutput forward(const at::Tensor& input, const at::Tensor& target);
  // Every class's log-probability: [N, C] (or [C]).
  at::Tensor log_prob(const at::Tensor& input);
  // The most likely class per row: [N] (or 0-dim), int64.
  at::Tensor predict(const at::Tensor& input);
  void reset() override;
  void reset_parameters();
  void pretty_print(std::ostream& stream) const override;
  // A dtype cast converts the parameters only: the tree's buffers stay integer (as Python's Module.to, which casts
  // floating tensors only; torch::nn::Module::to would cast every buffer).
  void to(torch::Dtype dtype, bool non_blocking = false) override;
  void to(torch::Device device, torch::Dtype dtype, bool non_blocking = false) override;
  using torch::nn::Module::to;

  HierarchicalSoftmaxOptions options;
  at::Tensor weight;  // [C - 1, in_features]
  at::Tensor bias;    // [C - 1], undefined without bias
  at::Tensor path_nodes, path_codes, path_len;
  int64_t n_classes = 0;

 private:
  void keep_tree_integer();  // the tree's buffers back to int32/int8/int32 after a dtype cast
};
TORCH_MODULE(HierarchicalSoftmax);

}  // namespace torch_ext::nn
