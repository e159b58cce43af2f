#pragma once
// ELU's formulas, written once for the CPU (scalar and vector) and CUDA kernels.
// T is the op-math type: float for float/half/bfloat16, double for double.
// Branch conditions are ATen's: forward x > 0, backward b <= 0 (so x == 0 takes the
// negative-side gradient, alpha * scale * input_scale). The backward selects on b > 0, so that a NaN
// b takes the negative side and its gradient is NaN (ATen's scalar and CUDA kernels give g * scale
// there, its vectorized CPU kernel NaN).

#include "scalar_math.h"

namespace torch_ext::math {

template <typename T>
struct EluCoefs {
  T negcoef;     // alpha * scale
  T poscoef;     // scale
  T negiptcoef;  // input_scale
};

template <typename T>
C10_HOST_DEVICE inline EluCoefs<T> elu_coefs(double alpha, double scale, double input_scale) {
  // NB: the products are taken in T, as ATen's kernels do (opmath for half and bfloat16).
  return {static_cast<T>(alpha) * static_cast<T>(scale), static_cast<T>(scale), static_cast<T>(input_scale)};
}

// y = x > 0 ? x * poscoef : expm1(x * negiptcoef) * negcoef
// NB: expm1, not exp - 1, keeps tiny negative inputs exact (exp - 1 cancels below ~1e-7).
template <typename M, typename T>
C10_HOST_DEVICE inline T elu_forward(T x, T negcoef, T poscoef, T negiptcoef) {
  return M::select(M::gt(x, M::template splat<T>(0)), x * poscoef, M::expm1(x * negiptcoef) * negcoef);
}

// is_result = false: b is the input x, gx = b <= 0 ? g * negiptcoef * negcoef * exp(b * negiptcoef) : g * poscoef
// is_result = true:  b is the output y, gx = b <= 0 ? g * negiptcoef * (b + negcoef)                : g * poscoef
template <typename M, typename T>
C10_HOST_DEVICE inline T elu_backward(T g, T b, T negcoef, T poscoef, T negiptcoef, bool is_result) {
  const T neg = is_result ? g * negiptcoef * (b + negcoef) : g * negiptcoef * negcoef * M::exp(b * negiptcoef);
  return M::select(M::gt(b, M::template splat<T>(0)), g * poscoef, neg);
}

}  // namespace torch_ext::math
