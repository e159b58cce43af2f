// The generic elementwise activations on CUDA (common/elementwise_op.h), for every row of ElementwiseOps: the
// row's formulas run by the flat vectorized elementwise kernel of common/cuda_elementwise.cuh.

#include <ATen/Dispatch.h>
#include <ATen/OpMathType.h>
#include <ATen/core/Tensor.h>
#include <ATen/ops/empty_like.h>
#include <c10/cuda/CUDAGuard.h>
#include <torch/library.h>

#include <tuple>

#include "ops/common/checks.h"
#include "ops/common/cuda_elementwise.cuh"
#include "ops/common/elementwise_op.h"
#include "ops/elementwise/all.h"

namespace torch_ext::ops {
namespace {

using math::ScalarMath;

// y = op(x); T is the op-math type.
template <typename Op, typename T>
struct ForwardFunctor {
  elementwise::Coefs<Op, T> c;
  __device__ __forceinline__ T operator()(T x) const { return Op::template forward<ScalarMath>(x, c); }
};

// gx = op_backward(g, b). IsResult is a template argument so each instantiation keeps only its own branch.
template <typename Op, typename T, bool IsResult>
struct BackwardFunctor {
  elementwise::Coefs<Op, T> c;
  __device__ __forceinline__ T operator()(T g, T b) const {
    return Op::template backward<IsResult, ScalarMath>(g, b, c);
  }
};

// out and self have self's sizes; out may be self (in place: a dense self is updated in place, a strided view
// goes through a temporary and copy_, launch_elementwise's slow path).
template <typename Op>
void forward_launch(const at::Tensor& out, const at::Tensor& self, const typename Op::Params& params) {
  elementwise::dispatch_forward_dtypes<Op>(self.scalar_type(), [&]<typename scalar_t>() {
    using opmath_t = at::opmath_type<scalar_t>;
    cuda::launch_elementwise<scalar_t>(out, {self},
                                       ForwardFunctor<Op, opmath_t>{elementwise::make_coefs<Op, opmath_t>(params)});
  });
}

template <typename Op>
void backward_launch(const at::Tensor& grad_input, const at::Tensor& grad_output, const at::Tensor& saved,
                     bool is_result, const typename Op::Params& params) {
  AT_DISPATCH_FLOATING_TYPES_AND2(
      at::ScalarType::Half, at::ScalarType::BFloat16, grad_output.scalar_type(), Op::name, [&] {
        using opmath_t = at::opmath_type<scalar_t>;
        const auto c = elementwise::make_coefs<Op, opmath_t>(params);
        if (is_result) {
          if constexpr (Op::backward_from != elementwise::BackwardFrom::kInput) {
            cuda::launch_elementwise<scalar_t>(grad_input, {grad_output, saved},
                                               BackwardFunctor<Op, opmath_t, true>{c});
            return;
          }
        }
        if constexpr (Op::backward_from != elementwise::BackwardFrom::kResult) {
          cuda::launch_elementwise<scalar_t>(grad_input, {grad_output, saved}, BackwardFunctor<Op, opmath_t, false>{c});
        }
      });
}

template <typename Op, typename Params = typename Op::Params>
struct CudaKernels;

template <typename Op, typename... P>
struct CudaKernels<Op, std::tuple<P...>> {
  static at::Tensor forward(const at::Tensor& self, P... p) {
    elementwise::check_forward<Op>(self, p...);
    const c10::cuda::CUDAGuard device_guard(self.device());
    const at::Tensor x = elementwise::forward_input<Op>(self);
    // NB: empty_like keeps a dense input's strides, as the Meta kernel does.
    at::Tensor out = at::empty_like(x);
    forward_launch<Op>(out, x, typename Op::Params{p...});
    return out;
  }

  static void inplace(at::Tensor& self, P... p) {
    elementwise::check_inplace<Op>(self, p...);
    const c10::cuda::CUDAGuard device_guard(self.device());
    forward_launch<Op>(self, self, typename Op::Params{p...});
  }

  static at::Tensor backward(const at::Tensor& grad_output, const at::Tensor& saved, bool is_result, P... p) {
    elementwise::check_backward<Op>(grad_output, saved, is_result, p...);
    const c10::cuda::CUDAGuard device_guard(grad_output.device());
    at::Tensor grad_input = at::empty_like(grad_output);
    backward_launch<Op>(grad_input, grad_output, saved, is_result, typename Op::Params{p...});
    return grad_input;
  }
};

}  // namespace
}  // namespace torch_ext::ops

TORCH_LIBRARY_IMPL(torch_ext, CUDA, m) {
  torch_ext::ops::elementwise::impl_kernels<torch_ext::ops::CudaKernels>(m);
}
