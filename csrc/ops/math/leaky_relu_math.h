#pragma once
// Leaky ReLU's formulas, written once for the CPU (scalar and vector) and CUDA kernels.
// T is the op-math type: float for float/half/bfloat16, double for double.
// The branches are ATen's: the forward takes x where x > 0, else x * negative_slope; the backward g where the input
// (or the result) is > 0, else g * negative_slope (a NaN input too).

#include "scalar_math.h"

namespace torch_ext::math {

template <typename M, typename T>
C10_HOST_DEVICE inline T leaky_relu_forward(T x, T negative_slope) {
  return M::select(M::gt(x, M::template splat<T>(0)), x, x * negative_slope);
}

// b is the input, or the result where negative_slope >= 0 (then b > 0 exactly where x > 0).
template <typename M, typename T>
C10_HOST_DEVICE inline T leaky_relu_backward(T g, T b, T negative_slope) {
  return M::select(M::gt(b, M::template splat<T>(0)), g, g * negative_slope);
}

}  // namespace torch_ext::math
