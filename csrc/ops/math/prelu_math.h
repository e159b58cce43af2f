#pragma once
// PReLU's formulas, written once for the CPU (scalar and vector) and CUDA kernels.
// T is the op-math type: float for float/half/bfloat16, double for double.
// Branch condition is ATen's x > 0 for the forward and both gradients: x == 0 (either sign)
// takes the negative side. A NaN x gives a NaN gradient (ATen's grad_self is w * g there).
// NB: ATen computes in scalar_t, not in op-math. For half and bfloat16 the two agree bitwise:
// the product of two 11-bit (half) or 8-bit (bfloat16) significands is exact in float, so
// rounding the float product once gives the correctly rounded scalar_t product, as c10::Half's
// and c10::BFloat16's operator* do.

#include "scalar_math.h"

namespace torch_ext::math {

// y = x > 0 ? x : w * x
template <typename M, typename T>
C10_HOST_DEVICE inline T prelu_forward(T x, T w) {
  return M::select(M::gt(x, M::template splat<T>(0)), x, w * x);
}

// grad_self = x > 0 ? g : w * g, and x (NaN) where x is NaN.
template <typename M, typename T>
C10_HOST_DEVICE inline T prelu_backward_self(T g, T x, T w) {
  return select_by_sign<M>(x, g, w * g);
}

// One element's term of grad_weight[c] = sum over the channel's positions of
// (x > 0 ? 0 : x * g). A NaN x or g gives a NaN term (on the negative side), as in ATen.
template <typename M, typename T>
C10_HOST_DEVICE inline T prelu_backward_weight_term(T g, T x) {
  return M::select(M::gt(x, M::template splat<T>(0)), M::template splat<T>(0), x * g);
}

}  // namespace torch_ext::math
