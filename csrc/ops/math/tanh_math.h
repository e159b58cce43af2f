#pragma once
// tanh's formulas, written once for the CPU (scalar and vector) and CUDA kernels.
// T is the op-math type: float for float/half/bfloat16, double for double.
// The backward reads the result y, as ATen's tanh_backward does.

#include "scalar_math.h"

namespace torch_ext::math {

// y = tanh(x), from a = |x|: for a < 0.625 an odd polynomial (float) or rational function (double) in a^2, Cephes'
// tanhf and tanh coefficients; beyond, 1 - 2 / (exp(2a) + 1), which saturates to 1 where exp overflows. Then the
// sign of x; x == 0 returns x, so that tanh(-0) is -0 as in ATen. A NaN x gives NaN.
// NB: within ~1.3 ulp in float and 1 ulp in double of the exact value (tests/test_sigmoid_tanh.py measures it);
// -expm1(-2a) / (2 + expm1(-2a)) reached 2.5 ulp in float, its rounding of expm1 near -1 doubled by the division.
template <typename M, typename T>
C10_HOST_DEVICE inline T tanh_forward(T x) {
  const T zero = M::template splat<T>(0);
  const T one = M::template splat<T>(1);
  const T a = M::abs(x);
  const T z = a * a;
  T small;
  if constexpr (sizeof(scalar_of_t<T>) == sizeof(double)) {
    const T p = (M::template splat<T>(-9.64399179425052238628e-1) * z - M::template splat<T>(9.92877231001918586564e1)) *
                    z -
                M::template splat<T>(1.61468768441708447952e3);
    const T q = ((z + M::template splat<T>(1.12811678491632931402e2)) * z +
                 M::template splat<T>(2.23548839060100448583e3)) *
                    z +
                M::template splat<T>(4.84406305325125486048e3);
    small = a + a * (z * p / q);
  } else {
    const T p = (((M::template splat<T>(-5.70498872745e-3) * z + M::template splat<T>(2.06390887954e-2)) * z -
                  M::template splat<T>(5.37397155531e-2)) *
                     z +
                 M::template splat<T>(1.33314422036e-1)) *
                    z -
                M::template splat<T>(3.33332819422e-1);
    small = p * z * a + a;
  }
  const T large = one - M::template splat<T>(2) / (M::exp(a + a) + one);
  const T r = M::select(M::lt(a, M::template splat<T>(0.625)), small, large);
  return M::select(M::lt(x, zero), M::neg(r), M::select(M::eq(x, zero), x, r));
}

// gx = g * (1 - y * y), ATen's order of operations.
template <typename M, typename T>
C10_HOST_DEVICE inline T tanh_backward(T g, T y) {
  return g * (M::template splat<T>(1) - y * y);
}

}  // namespace torch_ext::math
