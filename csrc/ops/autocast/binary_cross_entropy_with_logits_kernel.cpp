// Autocast for binary_cross_entropy_with_logits: ATen's is on autocast's float32 lists of CPU and CUDA (torch 2.11
// registers AutocastCPU and AutocastCUDA kernels for aten::binary_cross_entropy_with_logits; see
// torch._C._dispatch_dump), so under autocast the input, target, weight and pos_weight are cast to float32 and the
// loss is float32: a half or bfloat16 logit from a Linear under autocast gets a float32 loss. tests/test_losses.py
// compares the keys and the dtypes with ATen's.

#include <ATen/autocast_mode.h>
#include <c10/core/impl/LocalDispatchKeySet.h>
#include <torch/library.h>

#include "ops/internal/binary_cross_entropy_with_logits.h"

namespace torch_ext::ops {
namespace {

template <c10::DeviceType device, c10::DispatchKey autocast_key>
at::Tensor bce_with_logits_autocast(const at::Tensor& self, const at::Tensor& target,
                                    const std::optional<at::Tensor>& weight,
                                    const std::optional<at::Tensor>& pos_weight, int64_t reduction) {
  c10::impl::ExcludeDispatchKeyGuard no_autocast(autocast_key);
  // NB: cached_cast casts only eligible tensors (floating, not float64, on `device`), as ATen does.
  return torch_ext::binary_cross_entropy_with_logits(
      at::autocast::cached_cast(at::kFloat, self, device), at::autocast::cached_cast(at::kFloat, target, device),
      at::autocast::cached_cast(at::kFloat, weight, device), at::autocast::cached_cast(at::kFloat, pos_weight, device),
      reduction);
}

}  // namespace
}  // namespace torch_ext::ops

TORCH_LIBRARY_IMPL(torch_ext, AutocastCPU, m) {
  m.impl("binary_cross_entropy_with_logits",
         TORCH_FN((torch_ext::ops::bce_with_logits_autocast<c10::DeviceType::CPU, c10::DispatchKey::AutocastCPU>)));
}

TORCH_LIBRARY_IMPL(torch_ext, Autocast, m) {
  m.impl("binary_cross_entropy_with_logits",
         TORCH_FN((torch_ext::ops::bce_with_logits_autocast<c10::DeviceType::CUDA, c10::DispatchKey::Autocast>)));
}
