// softmax and log_softmax on CUDA: the forward ops over the kernels of softmax_kernels.cuh.

#include "ops/cuda/softmax_kernels.cuh"

#include <torch/library.h>

namespace torch_ext::ops {
namespace {

template <bool kLog>
at::Tensor softmax_forward_cuda(const char* op, const at::Tensor& self, int64_t dim,
                                std::optional<at::ScalarType> dtype) {
  const int64_t d = check_softmax_forward(op, self, dim, dtype);
  const c10::cuda::CUDAGuard device_guard(self.device());
  const SoftmaxForwardDtypes types = softmax_forward_dtypes(self.scalar_type(), dtype);
  at::Tensor out = at::empty(self.sizes(), self.options().dtype(types.output));
  if (out.numel() == 0) {
    return out;
  }
  // Half or bfloat16 written as float: one kernel reads one dtype and writes the other.
  const bool to_float = types.reads_input_as_is && types.output != self.scalar_type();
  const at::Tensor input = (types.reads_input_as_is ? self : self.to(types.output)).contiguous();
  const Layout l = layout_of(input, d);
  AT_DISPATCH_FLOATING_TYPES_AND2(at::kHalf, at::kBFloat16, input.scalar_type(), "softmax_cuda", [&] {
    using P = ForwardPolicy<at::acc_type<scalar_t, true>, kLog>;
    const scalar_t* x = input.const_data_ptr<scalar_t>();
    if constexpr (is_reduced_float<scalar_t>()) {
      if (to_float) {
        launch_softmax<P>(Args<scalar_t, float>{out.mutable_data_ptr<float>(), x, nullptr}, l, out.options());
        return;
      }
    }
    launch_softmax<P>(Args<scalar_t, scalar_t>{out.mutable_data_ptr<scalar_t>(), x, nullptr}, l, out.options());
  });
  return out;
}

at::Tensor softmax_forward_kernel(const at::Tensor& self, int64_t dim, std::optional<at::ScalarType> dtype) {
  return softmax_forward_cuda<false>("softmax", self, dim, dtype);
}

at::Tensor log_softmax_forward_kernel(const at::Tensor& self, int64_t dim, std::optional<at::ScalarType> dtype) {
  return softmax_forward_cuda<true>("log_softmax", self, dim, dtype);
}

}  // namespace
}  // namespace torch_ext::ops

TORCH_LIBRARY_IMPL(torch_ext, CUDA, m) {
  m.impl("softmax", TORCH_FN(torch_ext::ops::softmax_forward_kernel));
  m.impl("log_softmax", TORCH_FN(torch_ext::ops::log_softmax_forward_kernel));
}
