#include "nn/loss.h"

#include <torch/enum.h>

#include "ops/binary_cross_entropy_with_logits.h"

namespace torch_ext::nn {

namespace {

std::optional<at::Tensor> given(const at::Tensor& t) {
  return t.defined() ? std::optional<at::Tensor>(t) : std::nullopt;
}

}  // namespace

BCEWithLogitsLossImpl::BCEWithLogitsLossImpl(BCEWithLogitsLossOptions options_) : options(std::move(options_)) {
  reset();
}

void BCEWithLogitsLossImpl::reset() {
  weight = register_buffer("weight", options.weight());
  pos_weight = register_buffer("pos_weight", options.pos_weight());
}

at::Tensor BCEWithLogitsLossImpl::forward(const at::Tensor& input, const at::Tensor& target) {
  TORCH_CHECK(target.sizes() == input.sizes(), "BCEWithLogitsLoss: expected target to have the shape of input ",
              input.sizes(), ", got ", target.sizes());
  return torch_ext::binary_cross_entropy_with_logits(input, target, given(weight), given(pos_weight),
                                                     torch::enumtype::reduction_get_enum(options.reduction()));
}

void BCEWithLogitsLossImpl::pretty_print(std::ostream& stream) const {
  stream << "torch_ext::nn::BCEWithLogitsLoss()";
}

}  // namespace torch_ext::nn
