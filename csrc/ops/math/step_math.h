#pragma once
// The perceptron's step units made trainable: sign and heaviside with a straight-through surrogate gradient,
// written once for the CPU (scalar and vector) and CUDA kernels. T is the op-math type.
//
// Forward: low for x < 0, high for x >= 0 (-0 included), NaN for NaN. sign is (low, high) = (-1, 1), heaviside
// (0, 1) = (sign + 1) / 2. The step's derivative is 0 almost everywhere, so the backward uses a surrogate d(x) in
// its place, scaled by (high - low) / 2: 1 for sign, 1/2 for heaviside.

#include "scalar_math.h"

namespace torch_ext::math {

// The surrogate derivative of sign, d(x):
enum class StepGrad : int {
  kIdentity,    // 1 (the straight-through estimator)
  kClipped,     // 1 where |x| <= 1, else 0: hardtanh's derivative
  kApproxSign,  // 2 - 2|x| where |x| <= 1, else 0: ApproxSign's (Bi-Real Net)
  kSwishSign,   // beta (2 - beta x tanh(beta x / 2)) / (1 + cosh(beta x)): SwishSign's (BNN+)
};

template <typename M, typename T>
C10_HOST_DEVICE inline T step_forward(T x, T low, T high) {
  const T zero = M::template splat<T>(0);
  return M::select(M::lt(x, zero), low, M::select(M::le(zero, x), high, x));
}

// g * scale * d(x). The surrogates that read x give NaN at a NaN x; the identity's is g * scale there too.
// swish_cap: a |beta x| past which SwishSign's d is 0 in T (so that an infinite x gives 0, not 0 * inf).
template <typename M, typename T>
C10_HOST_DEVICE inline T step_backward(T g, T x, StepGrad grad, T beta, T scale, T swish_cap) {
  const T zero = M::template splat<T>(0);
  const T one = M::template splat<T>(1);
  const T two = M::template splat<T>(2);
  const T a = M::abs(x);
  switch (grad) {
    case StepGrad::kIdentity:
      return g * scale;
    case StepGrad::kClipped:
      return g * (scale * M::select(M::le(a, one), one, M::select(M::gt(a, one), zero, x)));
    case StepGrad::kApproxSign:
      return g * (scale * M::select(M::le(a, one), two - two * a, M::select(M::gt(a, one), zero, x)));
    case StepGrad::kSwishSign:
    default: {
      // With u = beta |x| and e = exp(-u) in (0, 1]: 1 + cosh(u) = (1 + e)^2 / (2e) and tanh(u / 2) =
      // (1 - e) / (1 + e), so d = 2 beta e (2 - u (1 - e) / (1 + e)) / (1 + e)^2: no overflow, 0 for large u.
      // e is applied as two factors h = exp(-u / 2), the last multiplication alone rounding into the subnormals.
      const T u = M::select(M::gt(beta * a, swish_cap), swish_cap, beta * a);
      const T h = M::exp(M::neg(u) * M::template splat<T>(0.5));
      const T e = h * h;
      const T p = one + e;
      return g * (scale * ((two * beta * h) * ((two - u * (one - e) / p) / (p * p)) * h));
    }
  }
}

}  // namespace torch_ext::math
