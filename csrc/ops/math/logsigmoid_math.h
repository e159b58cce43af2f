#pragma once
// logsigmoid's formulas, written once for the CPU (scalar and vector) and CUDA kernels.
// T is the op-math type: float for float/half/bfloat16, double for double.
// The backward reads the input, as ATen's log_sigmoid_backward does (without its buffer).

#include "scalar_math.h"

namespace torch_ext::math {

// y = log(1 / (1 + exp(-x))) = min(x, 0) - log1p(exp(-|x|)), ATen's expression: exp only sees arguments <= 0, so
// nothing overflows, and for x > 0 the result keeps its digits down to -exp(-x) (ATen's log(sigmoid(x)) would round
// to 0 first). A NaN x gives NaN.
template <typename M, typename T>
C10_HOST_DEVICE inline T logsigmoid_forward(T x) {
  const T zero = M::template splat<T>(0);
  const T e = M::exp(M::neg(M::abs(x)));
  return M::select(M::lt(x, zero), x, zero) - M::log1p(e);
}

// gx = g * sigmoid(-x), with e = exp(-|x|) in (0, 1]: g * (1 / (1 + e)) for x < 0 and g * (e / (1 + e)) for x >= 0.
// NB: for x >= 0 this is ATen's g * (e / (1 + e)) bit for bit; for x < 0 ATen writes g * (1 - e / (1 + e)), which
// rounds 1 - ..., where 1 / (1 + e) is correctly rounded.
template <typename M, typename T>
C10_HOST_DEVICE inline T logsigmoid_backward(T g, T x) {
  const T one = M::template splat<T>(1);
  const T e = M::exp(M::neg(M::abs(x)));
  return g * (M::select(M::lt(x, M::template splat<T>(0)), one, e) / (one + e));
}

}  // namespace torch_ext::math
