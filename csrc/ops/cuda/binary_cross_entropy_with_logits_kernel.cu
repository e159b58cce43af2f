// binary_cross_entropy_with_logits on CUDA: the loss and both gradients in one elementwise pass each
// (common/cuda_elementwise.cuh). A reduced loss's gradient is read on the device, so no call synchronises.

#include <ATen/Dispatch.h>
#include <ATen/OpMathType.h>
#include <ATen/core/Tensor.h>
#include <ATen/ops/empty_like.h>
#include <c10/cuda/CUDAGuard.h>
#include <torch/library.h>

#include <cstddef>

#include "ops/common/cuda_elementwise.cuh"
#include "ops/internal/binary_cross_entropy_with_logits.h"
#include "ops/math/binary_cross_entropy_with_logits_math.h"

namespace torch_ext::ops {
namespace {

using math::ScalarMath;

template <typename scalar_t>
struct BceArgs {
  const scalar_t* grad_value;  // a reduced loss's one gradient (device memory); unused otherwise
  at::opmath_type<scalar_t> scale;
};

// v[I], or 1 for an operand not given (I < 0).
template <int I, typename T, std::size_t N>
__device__ __forceinline__ T value_or_one(const T (&v)[N]) {
  if constexpr (I < 0) {
    return T(1);
  } else {
    return v[I];
  }
}

// Each functor reads its values in launch order: [g,] x[, t][, w][, p]; g from grad_value when kReduced.
template <bool kW, bool kPos, bool kReduced, typename scalar_t>
struct BceForwardOp {
  using T = at::opmath_type<scalar_t>;
  BceArgs<scalar_t> args;
  template <typename... V>
  __device__ __forceinline__ T operator()(V... vs) const {
    const T v[] = {vs...};
    const T w = value_or_one<kW ? 2 : -1>(v);
    const T p = value_or_one<kPos ? 2 + int(kW) : -1>(v);
    return math::bce_with_logits_forward<kPos, ScalarMath>(v[0], v[1], w, p);
  }
};

template <bool kW, bool kPos, bool kReduced, typename scalar_t>
struct BceBackwardOp {
  using T = at::opmath_type<scalar_t>;
  BceArgs<scalar_t> args;
  template <typename... V>
  __device__ __forceinline__ T operator()(V... vs) const {
    const T v[] = {vs...};
    constexpr int i = kReduced ? 0 : 1;  // x's index
    T g;
    if constexpr (kReduced) {
      g = static_cast<T>(*args.grad_value);
    } else {
      g = v[0];
    }
    const T w = value_or_one<kW ? i + 2 : -1>(v);
    const T p = value_or_one<kPos ? i + 2 + int(kW) : -1>(v);
    return math::bce_with_logits_backward<kPos, ScalarMath>(g, v[i], v[i + 1], w, p, args.scale);
  }
};

template <bool kW, bool kPos, bool kReduced, typename scalar_t>
struct BceTargetBackwardOp {
  using T = at::opmath_type<scalar_t>;
  BceArgs<scalar_t> args;
  template <typename... V>
  __device__ __forceinline__ T operator()(V... vs) const {
    const T v[] = {vs...};
    constexpr int i = kReduced ? 0 : 1;  // x's index
    T g;
    if constexpr (kReduced) {
      g = static_cast<T>(*args.grad_value);
    } else {
      g = v[0];
    }
    const T w = value_or_one<kW ? i + 1 : -1>(v);
    const T p = value_or_one<kPos ? i + 1 + int(kW) : -1>(v);
    return math::bce_with_logits_target_backward<kPos, ScalarMath>(g, v[i], w, p, args.scale);
  }
};

template <bool kW, bool kPos, typename scalar_t, int NREQ, typename F>
void launch_with(const at::Tensor& out, const at::Tensor (&req)[NREQ], const at::Tensor& weight,
                 const at::Tensor& pos_weight, const F& f) {
  constexpr int N = NREQ + int(kW) + int(kPos);
  at::Tensor in[N];
  for (int i = 0; i < NREQ; ++i) {
    in[i] = req[i];
  }
  if constexpr (kW) {
    in[NREQ] = weight;
  }
  if constexpr (kPos) {
    in[N - 1] = pos_weight;
  }
  cuda::launch_elementwise<scalar_t, N>(out, in, f);
}

// out = Op(req..., weight?, pos_weight?), with the variant for the operands given.
template <typename scalar_t, template <bool, bool, bool, typename> class Op, bool kReduced, int NREQ>
void launch_bce(const at::Tensor& out, const at::Tensor (&req)[NREQ], const at::Tensor& weight,
                const at::Tensor& pos_weight, const BceArgs<scalar_t>& args) {
  if (weight.defined() && pos_weight.defined()) {
    launch_with<true, true, scalar_t>(out, req, weight, pos_weight, Op<true, true, kReduced, scalar_t>{args});
  } else if (weight.defined()) {
    launch_with<true, false, scalar_t>(out, req, weight, pos_weight, Op<true, false, kReduced, scalar_t>{args});
  } else if (pos_weight.defined()) {
    launch_with<false, true, scalar_t>(out, req, weight, pos_weight, Op<false, true, kReduced, scalar_t>{args});
  } else {
    launch_with<false, false, scalar_t>(out, req, weight, pos_weight, Op<false, false, kReduced, scalar_t>{args});
  }
}

void loss_loop(const at::Tensor& loss, const at::Tensor& self, const at::Tensor& target, const at::Tensor& weight,
               const at::Tensor& pos_weight) {
  const c10::cuda::CUDAGuard device_guard(self.device());
  AT_DISPATCH_FLOATING_TYPES_AND2(at::kHalf, at::kBFloat16, self.scalar_type(), "bce_with_logits_cuda", [&] {
    launch_bce<scalar_t, BceForwardOp, false>(loss, {self, target}, weight, pos_weight,
                                              BceArgs<scalar_t>{nullptr, 1});
  });
}

at::Tensor forward(const at::Tensor& self, const at::Tensor& target, const std::optional<at::Tensor>& weight,
                   const std::optional<at::Tensor>& pos_weight, int64_t reduction) {
  return bce_with_logits_through_buffer(self, target, weight, pos_weight, reduction, &loss_loop);
}

void grad_loop(const at::Tensor& grad, const at::Tensor& grad_output, double scale, const at::Tensor& self,
               const at::Tensor& target, const at::Tensor& w, const at::Tensor& p, int64_t reduction,
               bool of_target) {
  const c10::cuda::CUDAGuard device_guard(self.device());
  const bool reduced = reduction != at::Reduction::None;
  const at::Tensor g = reduced ? grad_output.contiguous() : grad_output;
  AT_DISPATCH_FLOATING_TYPES_AND2(at::kHalf, at::kBFloat16, self.scalar_type(), "bce_with_logits_backward_cuda", [&] {
    const BceArgs<scalar_t> args{reduced ? g.const_data_ptr<scalar_t>() : nullptr,
                                 static_cast<at::opmath_type<scalar_t>>(scale)};
    if (of_target && reduced) {
      launch_bce<scalar_t, BceTargetBackwardOp, true>(grad, {self}, w, p, args);
    } else if (of_target) {
      launch_bce<scalar_t, BceTargetBackwardOp, false>(grad, {grad_output, self}, w, p, args);
    } else if (reduced) {
      launch_bce<scalar_t, BceBackwardOp, true>(grad, {self, target}, w, p, args);
    } else {
      launch_bce<scalar_t, BceBackwardOp, false>(grad, {grad_output, self, target}, w, p, args);
    }
  });
}

}  // namespace
}  // namespace torch_ext::ops

TORCH_LIBRARY_IMPL(torch_ext, CUDA, m) {
  torch_ext::ops::register_bce_with_logits_kernels<&torch_ext::ops::forward, &torch_ext::ops::grad_loop>(m);
}
