#pragma once
// ReLU's formulas, written once for the CPU (scalar and vector) and CUDA kernels.
// T is the op-math type (float for half/bfloat16; an integer type is its own).
// The branches are ATen's: relu keeps x unless x < 0 (so relu(-0) = -0 and relu(NaN) = NaN), and its backward is
// threshold_backward's, zero where the result is <= 0 (x == 0 included; a NaN result passes g).

#include "scalar_math.h"

namespace torch_ext::math {

template <typename M, typename T>
C10_HOST_DEVICE inline T relu_forward(T x) {
  const T zero = M::template splat<T>(0);
  return M::select(M::lt(x, zero), zero, x);
}

template <typename M, typename T>
C10_HOST_DEVICE inline T relu_backward(T g, T y) {
  const T zero = M::template splat<T>(0);
  return M::select(M::le(y, zero), zero, g);
}

}  // namespace torch_ext::math
