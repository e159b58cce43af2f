#include "nn/loss.h"

#include <torch/enum.h>

#include "ops/binary_cross_entropy_with_logits.h"
#include "ops/common/optional_tensor.h"
#include "ops/cross_entropy.h"

namespace torch_ext::nn {

BCEWithLogitsLossImpl::BCEWithLogitsLossImpl(BCEWithLogitsLossOptions options_) : options(std::move(options_)) {
  reset();
}

void BCEWithLogitsLossImpl::reset() {
  weight = register_buffer("weight", options.weight());
  pos_weight = register_buffer("pos_weight", options.pos_weight());
}

at::Tensor BCEWithLogitsLossImpl::forward(const at::Tensor& input, const at::Tensor& target) {
  // NB: the op checks that target has input's shape (torch::nn's module checks it too).
  return torch_ext::binary_cross_entropy_with_logits(input, target, optional_if_defined(weight),
                                                     optional_if_defined(pos_weight),
                                                     torch::enumtype::reduction_get_enum(options.reduction()));
}

void BCEWithLogitsLossImpl::pretty_print(std::ostream& stream) const {
  stream << "torch_ext::nn::BCEWithLogitsLoss()";
}

CrossEntropyLossImpl::CrossEntropyLossImpl(CrossEntropyLossOptions options_, double lse_square_scale_)
    : options(std::move(options_)), lse_square_scale(lse_square_scale_) {
  reset();
}

void CrossEntropyLossImpl::reset() { weight = register_buffer("weight", options.weight()); }

at::Tensor CrossEntropyLossImpl::forward(const at::Tensor& input, const at::Tensor& target) {
  return torch_ext::cross_entropy(input, target, optional_if_defined(weight),
                                  torch::enumtype::reduction_get_enum(options.reduction()), options.ignore_index(),
                                  options.label_smoothing(), lse_square_scale);
}

void CrossEntropyLossImpl::pretty_print(std::ostream& stream) const {
  stream << "torch_ext::nn::CrossEntropyLoss()";
}

}  // namespace torch_ext::nn
