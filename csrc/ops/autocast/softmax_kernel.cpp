// Autocast for softmax and log_softmax: under CUDA autocast they run in float32, with ATen's own
// policy for them (CastPolicy::fp32_set_opt_dtype in ATen/autocast_mode.h): when the input is
// eligible (a CUDA floating tensor other than float64) and no dtype was given, dtype becomes
// float32, so a half or bfloat16 input is read as is and written as float32 (no cast copy); a dtype
// the caller gave is kept, and an ineligible input runs unchanged.
//
// NB: no AutocastCPU kernel: ATen registers none for aten::softmax.int or aten::log_softmax.int
// (torch 2.11; see torch._C._dispatch_dump("aten::softmax.int")), so under CPU autocast they run in
// their input's dtype, and the key falls through here too. tests/test_softmax.py compares both keys'
// registrations and the output dtypes with ATen's, so a torch that changes its policy fails those
// tests.

#include <ATen/autocast_mode.h>
#include <c10/core/impl/LocalDispatchKeySet.h>
#include <torch/library.h>

#include "ops/internal/softmax.h"

namespace torch_ext::ops {
namespace {

std::optional<at::ScalarType> autocast_dtype(const at::Tensor& self, std::optional<at::ScalarType> dtype) {
  if (at::autocast::is_eligible(self, c10::DeviceType::CUDA)) {
    return dtype.value_or(at::kFloat);
  }
  return dtype;
}

at::Tensor softmax_autocast_cuda(const at::Tensor& self, int64_t dim, std::optional<at::ScalarType> dtype) {
  c10::impl::ExcludeDispatchKeyGuard no_autocast(c10::DispatchKey::Autocast);
  return torch_ext::softmax(self, dim, autocast_dtype(self, dtype));
}

at::Tensor log_softmax_autocast_cuda(const at::Tensor& self, int64_t dim, std::optional<at::ScalarType> dtype) {
  c10::impl::ExcludeDispatchKeyGuard no_autocast(c10::DispatchKey::Autocast);
  return torch_ext::log_softmax(self, dim, autocast_dtype(self, dtype));
}

}  // namespace
}  // namespace torch_ext::ops

TORCH_LIBRARY_IMPL(torch_ext, Autocast, m) {
  m.impl("softmax", TORCH_FN(torch_ext::ops::softmax_autocast_cuda));
  m.impl("log_softmax", TORCH_FN(torch_ext::ops::log_softmax_autocast_cuda));
}
