#include "nn/hierarchical_softmax.h"

#include <torch/nn/init.h>

#include <cmath>

#include "ops/common/optional_tensor.h"
#include "ops/hsoftmax.h"

namespace torch_ext::nn {

HierarchicalSoftmaxImpl::HierarchicalSoftmaxImpl(HierarchicalSoftmaxOptions options_)
    : options(std::move(options_)) {
  reset();
}

void HierarchicalSoftmaxImpl::reset() {
  TORCH_CHECK(options.in_features() > 0, "HierarchicalSoftmax: expected in_features > 0, got ",
              options.in_features());
  TORCH_CHECK(options.path_len().defined() && options.path_len().dim() == 1 && options.path_len().size(0) >= 2,
              "HierarchicalSoftmax: expected path_len to be [n_classes] with at least 2 classes");
  n_classes = options.path_len().size(0);
  path_nodes = register_buffer("path_nodes", options.path_nodes());
  path_codes = register_buffer("path_codes", options.path_codes());
  path_len = register_buffer("path_len", options.path_len());
  weight = register_parameter("weight", torch::empty({n_classes - 1, options.in_features()}));
  bias = register_parameter("bias", options.bias() ? torch::empty({n_classes - 1}) : at::Tensor(),
                            /*requires_grad=*/options.bias());
  reset_parameters();
}

void HierarchicalSoftmaxImpl::reset_parameters() {
  // nn.Linear's bounds, as Python's layer.
  const double bound = 1.0 / std::sqrt(static_cast<double>(options.in_features()));
  torch::nn::init::uniform_(weight, -bound, bound);
  if (bias.defined()) {
    torch::nn::init::uniform_(bias, -bound, bound);
  }
}

HierarchicalSoftmaxOutput HierarchicalSoftmaxImpl::forward(const at::Tensor& input, const at::Tensor& target) {
  const bool batched = input.dim() == 2;
  TORCH_CHECK(input.dim() == 1 || batched, "HierarchicalSoftmax: expected input to be [D] or [N, D], got shape ",
              input.sizes());
  TORCH_CHECK(target.dim() == (batched ? 1 : 0), "HierarchicalSoftmax: expected target to be ",
              batched ? "[N]" : "0-dim for a 1-D input", ", got shape ", target.sizes());
  const at::Tensor rows = batched ? input : input.unsqueeze(0);
  const at::Tensor targets = batched ? target : target.unsqueeze(0);
  const at::Tensor nll = torch_ext::hsoftmax_nll(rows, weight, optional_if_defined(bias), path_nodes, path_codes,
                                                 path_len, targets, options.ignore_index());
  at::Tensor loss;
  if (std::holds_alternative<torch::enumtype::kNone>(options.reduction())) {
    loss = batched ? nll : nll.squeeze(0);
  } else if (std::holds_alternative<torch::enumtype::kSum>(options.reduction())) {
    loss = nll.sum();
  } else {
    // 0 / 0 = NaN when every row is ignored, as cross_entropy's mean.
    loss = nll.sum() / (targets != options.ignore_index()).sum().to(nll.scalar_type());
  }
  const at::Tensor output = -nll;
  return {batched ? output : output.squeeze(0), loss};
}

at::Tensor HierarchicalSoftmaxImpl::log_prob(const at::Tensor& input) {
  TORCH_CHECK(input.dim() == 1 || input.dim() == 2,
              "HierarchicalSoftmax: expected input to be [D] or [N, D], got shape ", input.sizes());
  const at::Tensor rows = input.dim() == 2 ? input : input.unsqueeze(0);
  const at::Tensor out =
      torch_ext::hsoftmax_log_prob(rows, weight, optional_if_defined(bias), path_nodes, path_codes, path_len);
  return input.dim() == 2 ? out : out.squeeze(0);
}

at::Tensor HierarchicalSoftmaxImpl::predict(const at::Tensor& input) { return log_prob(input).argmax(-1); }

namespace {

void keep_dtype(at::Tensor& t, at::ScalarType dtype) {
  if (t.scalar_type() != dtype) {
    t.set_data(t.to(dtype));
  }
}

}  // namespace

void HierarchicalSoftmaxImpl::keep_tree_integer() {
  keep_dtype(path_nodes, at::kInt);
  keep_dtype(path_codes, at::kChar);
  keep_dtype(path_len, at::kInt);
}

void HierarchicalSoftmaxImpl::to(torch::Dtype dtype, bool non_blocking) {
  torch::nn::Module::to(dtype, non_blocking);
  keep_tree_integer();
}

void HierarchicalSoftmaxImpl::to(torch::Device device, torch::Dtype dtype, bool non_blocking) {
  torch::nn::Module::to(device, dtype, non_blocking);
  keep_tree_integer();
}

void HierarchicalSoftmaxImpl::pretty_print(std::ostream& stream) const {
  stream << "torch_ext::nn::HierarchicalSoftmax(in_features=" << options.in_features()
         << ", n_classes=" << n_classes << ", depth=" << path_nodes.size(1)
         << ", bias=" << (bias.defined() ? "true" : "false") << ")";
}

}  // namespace torch_ext::nn
