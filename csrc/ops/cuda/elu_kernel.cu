// ELU's CUDA kernels: elu, elu_ and elu_backward over the shared formulas in math/elu_math.h,
// run by the flat vectorized elementwise kernel of common/cuda_elementwise.cuh.

#include <ATen/Dispatch.h>
#include <ATen/OpMathType.h>
#include <ATen/core/Tensor.h>
#include <ATen/ops/empty_like.h>
#include <c10/cuda/CUDAGuard.h>
#include <torch/library.h>

#include "ops/common/checks.h"
#include "ops/common/cuda_elementwise.cuh"
#include "ops/elu.h"
#include "ops/math/elu_math.h"

namespace torch_ext::ops {
namespace {

using math::EluCoefs;
using math::ScalarMath;

// y = elu(x); T is the op-math type.
template <typename T>
struct EluForwardOp {
  EluCoefs<T> c;
  __device__ __forceinline__ T operator()(T x) const {
    return math::elu_forward<ScalarMath>(x, c.negcoef, c.poscoef, c.negiptcoef);
  }
};

// gx = elu_backward(g, b). IsResult is a template argument so each instantiation keeps only
// its own branch (and the exp only where it is needed).
template <typename T, bool IsResult>
struct EluBackwardOp {
  EluCoefs<T> c;
  __device__ __forceinline__ T operator()(T g, T b) const {
    return math::elu_backward<ScalarMath>(g, b, c.negcoef, c.poscoef, c.negiptcoef, IsResult);
  }
};

// out and self have self's sizes; out may be self (in place).
void elu_launch(const at::Tensor& out, const at::Tensor& self, double alpha, double scale, double input_scale) {
  AT_DISPATCH_FLOATING_TYPES_AND2(at::ScalarType::Half, at::ScalarType::BFloat16, self.scalar_type(), "elu_cuda", [&] {
    using opmath_t = at::opmath_type<scalar_t>;
    const auto c = math::elu_coefs<opmath_t>(alpha, scale, input_scale);
    cuda::launch_elementwise<scalar_t>(out, {self}, EluForwardOp<opmath_t>{c});
  });
}

at::Tensor elu_forward_kernel(const at::Tensor& self, double alpha, double scale, double input_scale) {
  check_elementwise_input("elu", self);
  const c10::cuda::CUDAGuard device_guard(self.device());
  // NB: empty_like keeps a dense input's strides, as the Meta kernel does.
  at::Tensor out = at::empty_like(self);
  elu_launch(out, self, alpha, scale, input_scale);
  return out;
}

void elu_inplace_kernel(at::Tensor& self, double alpha, double scale, double input_scale) {
  check_elementwise_input("elu_", self);
  check_no_internal_overlap("elu_", "self", self);
  const c10::cuda::CUDAGuard device_guard(self.device());
  // A dense self is updated in place; a strided view goes through a temporary and copy_
  // (launch_elementwise's slow path).
  elu_launch(self, self, alpha, scale, input_scale);
}

at::Tensor elu_backward_kernel(const at::Tensor& grad_output, double alpha, double scale, double input_scale,
                               bool is_result, const at::Tensor& self_or_result) {
  check_elu_backward(grad_output, alpha, is_result, self_or_result);
  const c10::cuda::CUDAGuard device_guard(grad_output.device());
  at::Tensor grad_input = at::empty_like(grad_output);
  AT_DISPATCH_FLOATING_TYPES_AND2(at::ScalarType::Half, at::ScalarType::BFloat16, grad_output.scalar_type(),
                                  "elu_backward_cuda", [&] {
                                    using opmath_t = at::opmath_type<scalar_t>;
                                    const auto c = math::elu_coefs<opmath_t>(alpha, scale, input_scale);
                                    if (is_result) {
                                      cuda::launch_elementwise<scalar_t>(grad_input, {grad_output, self_or_result},
                                                                         EluBackwardOp<opmath_t, true>{c});
                                    } else {
                                      cuda::launch_elementwise<scalar_t>(grad_input, {grad_output, self_or_result},
                                                                         EluBackwardOp<opmath_t, false>{c});
                                    }
                                  });
  return grad_input;
}

}  // namespace
}  // namespace torch_ext::ops

TORCH_LIBRARY_IMPL(torch_ext, CUDA, m) {
  m.impl("elu", TORCH_FN(torch_ext::ops::elu_forward_kernel));
  m.impl("elu_", TORCH_FN(torch_ext::ops::elu_inplace_kernel));
  m.impl("elu_backward", TORCH_FN(torch_ext::ops::elu_backward_kernel));
}
