// Autocast for softplus: under CUDA autocast the op runs in float32, as ATen's softplus does
// (it is on autocast's CUDA float32 list), and the float32 result is returned.
//
// NB: no AutocastCPU kernel: ATen's softplus is on no CPU autocast list (torch 2.11 registers
// no AutocastCPU kernel for aten::softplus; see torch._C._dispatch_dump("aten::softplus")), so
// under CPU autocast it runs in its input's dtype, and the key falls through here too.
// tests/test_softplus.py compares both keys' registrations and the output dtypes with ATen's,
// so a torch that changes its policy fails those tests.

#include <ATen/autocast_mode.h>
#include <c10/core/impl/LocalDispatchKeySet.h>
#include <torch/library.h>

#include "ops/softplus.h"

namespace torch_ext::ops {
namespace {

at::Tensor softplus_autocast_cuda(const at::Tensor& self, double beta, double threshold) {
  c10::impl::ExcludeDispatchKeyGuard no_autocast(c10::DispatchKey::Autocast);
  return torch_ext::softplus(at::autocast::cached_cast(at::kFloat, self, c10::DeviceType::CUDA), beta, threshold);
}

}  // namespace
}  // namespace torch_ext::ops

TORCH_LIBRARY_IMPL(torch_ext, Autocast, m) {
  m.impl("softplus", TORCH_FN(torch_ext::ops::softplus_autocast_cuda));
}
