#pragma once
// torch_ext's classification losses for C++ LibTorch, drop-ins for torch::nn's: the same options type, buffers and
// forward(input, target); each forward calls the torch_ext op, so autograd works as in Python.
//
//   torch_ext::nn::BCEWithLogitsLoss loss(torch::nn::BCEWithLogitsLossOptions().pos_weight(pos_weight));
//   auto l = loss(logits, target);
//   torch_ext::nn::CrossEntropyLoss ce(torch::nn::CrossEntropyLossOptions().label_smoothing(0.1));

#include <torch/nn/cloneable.h>
#include <torch/nn/options/loss.h>
#include <torch/nn/pimpl.h>
#include <torch/types.h>

#include <ostream>

namespace torch_ext::nn {

// torch::nn's options: weight, pos_weight (broadcast to the input's shape) and the reduction.
using BCEWithLogitsLossOptions = torch::nn::BCEWithLogitsLossOptions;

class BCEWithLogitsLossImpl : public torch::nn::Cloneable<BCEWithLogitsLossImpl> {
 public:
  explicit BCEWithLogitsLossImpl(BCEWithLogitsLossOptions options_ = {});
  at::Tensor forward(const at::Tensor& input, const at::Tensor& target);
  void reset() override;
  void pretty_print(std::ostream& stream) const override;
  BCEWithLogitsLossOptions options;
  at::Tensor weight;      // a buffer, as torch::nn's (undefined when not given)
  at::Tensor pos_weight;  // a buffer, as torch::nn's (undefined when not given)
};
TORCH_MODULE(BCEWithLogitsLoss);

// torch::nn's options: weight (per class), ignore_index, reduction, label_smoothing.
using CrossEntropyLossOptions = torch::nn::CrossEntropyLossOptions;

class CrossEntropyLossImpl : public torch::nn::Cloneable<CrossEntropyLossImpl> {
 public:
  // lse_square_scale: the z-loss term lse_square_scale * logsumexp(input)^2 per row (not in torch::nn's options).
  explicit CrossEntropyLossImpl(CrossEntropyLossOptions options_ = {}, double lse_square_scale = 0.0);
  at::Tensor forward(const at::Tensor& input, const at::Tensor& target);
  void reset() override;
  void pretty_print(std::ostream& stream) const override;
  CrossEntropyLossOptions options;
  double lse_square_scale;
  at::Tensor weight;  // a buffer, as torch::nn's (undefined when not given)
};
TORCH_MODULE(CrossEntropyLoss);

}  // namespace torch_ext::nn
