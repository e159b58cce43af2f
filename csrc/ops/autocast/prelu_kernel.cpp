// Autocast for prelu: ATen's prelu is on autocast's lower-precision lists of CPU and CUDA (torch 2.11
// registers AutocastCPU and AutocastCUDA kernels for aten::prelu; see
// torch._C._dispatch_dump("aten::prelu")), so under autocast the input and the weight are both cast to
// the autocast dtype (bfloat16 on CPU, float16 on CUDA by default) and the result has that dtype. Without
// this kernel a bfloat16 activation (e.g. a Linear's output under autocast) meets a float32 weight and
// the op refuses the mix. The casts are recorded by autograd, so a float32 weight gets a float32 gradient.
// tests/test_autocast.py compares the dtypes and values with torch.nn.PReLU's under autocast.

#include <ATen/autocast_mode.h>
#include <c10/core/impl/LocalDispatchKeySet.h>
#include <torch/library.h>

#include "ops/internal/prelu.h"

namespace torch_ext::ops {
namespace {

template <c10::DeviceType device, c10::DispatchKey autocast_key>
at::Tensor prelu_autocast(const at::Tensor& self, const at::Tensor& weight) {
  c10::impl::ExcludeDispatchKeyGuard no_autocast(autocast_key);
  const at::ScalarType dtype = at::autocast::get_lower_precision_fp_from_device_type(device);
  // NB: cached_cast casts only eligible tensors (floating, not float64, on `device`), as ATen does.
  return torch_ext::prelu(at::autocast::cached_cast(dtype, self, device),
                          at::autocast::cached_cast(dtype, weight, device));
}

}  // namespace
}  // namespace torch_ext::ops

TORCH_LIBRARY_IMPL(torch_ext, AutocastCPU, m) {
  m.impl("prelu", TORCH_FN((torch_ext::ops::prelu_autocast<c10::DeviceType::CPU, c10::DispatchKey::AutocastCPU>)));
}

TORCH_LIBRARY_IMPL(torch_ext, Autocast, m) {
  m.impl("prelu", TORCH_FN((torch_ext::ops::prelu_autocast<c10::DeviceType::CUDA, c10::DispatchKey::Autocast>)));
}
