// softmax_backward and log_softmax_backward on CUDA, over the kernels of softmax_kernels.cuh.

#include "ops/cuda/softmax_kernels.cuh"

#include <torch/library.h>

namespace torch_ext::ops {
namespace {

template <bool kLog>
at::Tensor softmax_backward_cuda(const char* op, const at::Tensor& grad_output, const at::Tensor& output,
                                 int64_t dim, at::ScalarType input_dtype) {
  const int64_t d = check_softmax_backward(op, grad_output, output, dim, input_dtype);
  const c10::cuda::CUDAGuard device_guard(output.device());
  at::Tensor grad_input = at::empty(output.sizes(), output.options().dtype(input_dtype));
  if (grad_input.numel() == 0) {
    return grad_input;
  }
  const at::ScalarType t = output.scalar_type();
  const bool direct = softmax_backward_writes_input_dtype(t, input_dtype);
  // Float g and y writing a half or bfloat16 gradient: one kernel reads one dtype and writes the other.
  const bool from_float = direct && input_dtype != t;
  const at::Tensor result = direct ? grad_input : at::empty(output.sizes(), output.options());
  const at::Tensor g = grad_output.contiguous();
  const at::Tensor y = output.contiguous();
  const Layout l = layout_of(y, d);
  AT_DISPATCH_FLOATING_TYPES_AND2(at::kHalf, at::kBFloat16, t, "softmax_backward_cuda", [&] {
    using P = BackwardPolicy<at::acc_type<scalar_t, true>, kLog>;
    const scalar_t* gp = g.const_data_ptr<scalar_t>();
    const scalar_t* yp = y.const_data_ptr<scalar_t>();
    if constexpr (std::is_same_v<scalar_t, float>) {
      if (from_float) {
        if (input_dtype == at::kHalf) {
          launch_softmax<P>(Args<float, at::Half>{result.mutable_data_ptr<at::Half>(), gp, yp}, l, y.options());
        } else {
          launch_softmax<P>(Args<float, at::BFloat16>{result.mutable_data_ptr<at::BFloat16>(), gp, yp}, l,
                            y.options());
        }
        return;
      }
    }
    launch_softmax<P>(Args<scalar_t, scalar_t>{result.mutable_data_ptr<scalar_t>(), gp, yp}, l, y.options());
  });
  if (!direct) {
    grad_input.copy_(result);
  }
  return grad_input;
}

at::Tensor softmax_backward_kernel(const at::Tensor& grad_output, const at::Tensor& output, int64_t dim,
                                   at::ScalarType input_dtype) {
  return softmax_backward_cuda<false>("softmax_backward", grad_output, output, dim, input_dtype);
}

at::Tensor log_softmax_backward_kernel(const at::Tensor& grad_output, const at::Tensor& output, int64_t dim,
                                       at::ScalarType input_dtype) {
  return softmax_backward_cuda<true>("log_softmax_backward", grad_output, output, dim, input_dtype);
}

}  // namespace
}  // namespace torch_ext::ops

TORCH_LIBRARY_IMPL(torch_ext, CUDA, m) {
  m.impl("softmax_backward", TORCH_FN(torch_ext::ops::softmax_backward_kernel));
  m.impl("log_softmax_backward", TORCH_FN(torch_ext::ops::log_softmax_backward_kernel));
}
