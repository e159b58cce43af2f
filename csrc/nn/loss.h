#pragma once
// torch_ext's classification losses for C++ LibTorch, drop-ins for torch::nn's: the same options type, buffers and
// forward(input, target); each forward calls the torch_ext op, so autograd works as in Python.
//
//   torch_ext::nn::BCEWithLogitsLoss loss(torch::nn::BCEWithLogitsLossOptions().pos_weight(pos_weight));
//   auto l = loss(logits, target);

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

}  // namespace torch_ext::nn
