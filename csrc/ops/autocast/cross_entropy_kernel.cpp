// Autocast for cross_entropy: ATen's runs in float32 under autocast on CPU (aten::cross_entropy_loss has an
// AutocastCPU kernel) and on CUDA (it decomposes into log_softmax and nll_loss, both on CUDA's float32 list), so the
// logits, a probability target and the weight are cast to float32 and the loss is float32 on both.

#include <ATen/autocast_mode.h>
#include <c10/core/impl/LocalDispatchKeySet.h>
#include <torch/library.h>

#include "ops/internal/cross_entropy.h"

namespace torch_ext::ops {
namespace {

template <c10::DeviceType device, c10::DispatchKey autocast_key>
at::Tensor cross_entropy_autocast(const at::Tensor& self, const at::Tensor& target,
                                  const std::optional<at::Tensor>& weight, int64_t reduction, int64_t ignore_index,
                                  double label_smoothing, double lse_square_scale) {
  c10::impl::ExcludeDispatchKeyGuard no_autocast(autocast_key);
  // NB: cached_cast casts only eligible tensors (floating, not float64, on `device`): class indices stay int64.
  return torch_ext::cross_entropy(at::autocast::cached_cast(at::kFloat, self, device),
                                  at::autocast::cached_cast(at::kFloat, target, device),
                                  at::autocast::cached_cast(at::kFloat, weight, device), reduction, ignore_index,
                                  label_smoothing, lse_square_scale);
}

}  // namespace
}  // namespace torch_ext::ops

TORCH_LIBRARY_IMPL(torch_ext, AutocastCPU, m) {
  m.impl("cross_entropy",
         TORCH_FN((torch_ext::ops::cross_entropy_autocast<c10::DeviceType::CPU, c10::DispatchKey::AutocastCPU>)));
}

TORCH_LIBRARY_IMPL(torch_ext, Autocast, m) {
  m.impl("cross_entropy",
         TORCH_FN((torch_ext::ops::cross_entropy_autocast<c10::DeviceType::CUDA, c10::DispatchKey::Autocast>)));
}
