#pragma once
// sigmoid's formulas, written once for the CPU (scalar and vector) and CUDA kernels.
// T is the op-math type: float for float/half/bfloat16, double for double.
// The backward reads the result y, as ATen's sigmoid_backward does.

#include "scalar_math.h"

namespace torch_ext::math {

// y = 1 / (1 + exp(-x)), evaluated with e = exp(-|x|) in (0, 1]: 1 / (1 + e) for x >= 0 and e / (1 + e) for x < 0.
// NB: exp never overflows here, and for x < 0 the result keeps its digits down to the subnormals, where ATen's
// 1 / (1 + exp(-x)) becomes 0 once exp(-x) overflows (x < -88.7 in float). A NaN x gives NaN.
template <typename M, typename T>
C10_HOST_DEVICE inline T sigmoid_forward(T x) {
  const T one = M::template splat<T>(1);
  const T e = M::exp(M::neg(M::abs(x)));
  return M::select(M::lt(x, M::template splat<T>(0)), e, one) / (one + e);
}

// gx = g * (1 - y) * y, ATen's order of operations.
template <typename M, typename T>
C10_HOST_DEVICE inline T sigmoid_backward(T g, T y) {
  return g * (M::template splat<T>(1) - y) * y;
}

}  // namespace torch_ext::math
