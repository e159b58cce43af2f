// softplus's CUDA kernels: softplus and softplus_backward over the shared formulas in
// math/softplus_math.h, run by the flat vectorized elementwise kernel of common/cuda_elementwise.cuh.

#include <ATen/Dispatch.h>
#include <ATen/OpMathType.h>
#include <ATen/core/Tensor.h>
#include <ATen/ops/empty_like.h>
#include <c10/cuda/CUDAGuard.h>
#include <torch/library.h>

#include "ops/common/checks.h"
#include "ops/common/cuda_elementwise.cuh"
#include "ops/math/softplus_math.h"
#include "ops/softplus.h"

namespace torch_ext::ops {
namespace {

using math::ScalarMath;
using math::SoftplusCoefs;

// y = softplus(x); T is the op-math type.
template <typename T>
struct SoftplusForwardOp {
  SoftplusCoefs<T> c;
  __device__ __forceinline__ T operator()(T x) const {
    return math::softplus_forward<ScalarMath>(x, c.beta, c.threshold);
  }
};

// gx = softplus_backward(g, x).
template <typename T>
struct SoftplusBackwardOp {
  SoftplusCoefs<T> c;
  __device__ __forceinline__ T operator()(T g, T x) const {
    return math::softplus_backward<ScalarMath>(g, x, c.beta, c.threshold);
  }
};

at::Tensor softplus_forward_kernel(const at::Tensor& self, double beta, double threshold) {
  check_elementwise_input("softplus", self);
  const c10::cuda::CUDAGuard device_guard(self.device());
  // NB: empty_like keeps a dense input's strides, as the Meta kernel does.
  at::Tensor out = at::empty_like(self);
  AT_DISPATCH_FLOATING_TYPES_AND2(at::ScalarType::Half, at::ScalarType::BFloat16, self.scalar_type(),
                                  "softplus_cuda", [&] {
                                    using opmath_t = at::opmath_type<scalar_t>;
                                    const auto c = math::softplus_coefs<opmath_t>(beta, threshold);
                                    cuda::launch_elementwise<scalar_t>(out, {self}, SoftplusForwardOp<opmath_t>{c});
                                  });
  return out;
}

at::Tensor softplus_backward_kernel(const at::Tensor& grad_output, const at::Tensor& self, double beta,
                                    double threshold) {
  check_elementwise_backward("softplus_backward", grad_output, "self", self);
  const c10::cuda::CUDAGuard device_guard(grad_output.device());
  at::Tensor grad_input = at::empty_like(grad_output);
  AT_DISPATCH_FLOATING_TYPES_AND2(at::ScalarType::Half, at::ScalarType::BFloat16, grad_output.scalar_type(),
                                  "softplus_backward_cuda", [&] {
                                    using opmath_t = at::opmath_type<scalar_t>;
                                    const auto c = math::softplus_coefs<opmath_t>(beta, threshold);
                                    cuda::launch_elementwise<scalar_t>(grad_input, {grad_output, self},
                                                                       SoftplusBackwardOp<opmath_t>{c});
                                  });
  return grad_input;
}

}  // namespace
}  // namespace torch_ext::ops

TORCH_LIBRARY_IMPL(torch_ext, CUDA, m) {
  m.impl("softplus", TORCH_FN(torch_ext::ops::softplus_forward_kernel));
  m.impl("softplus_backward", TORCH_FN(torch_ext::ops::softplus_backward_kernel));
}
