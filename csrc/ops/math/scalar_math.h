#pragma once
// The math policy that lets one formula template serve every backend. Formulas in
// math/<op>_math.h are templates over a policy M and a value type T; they use only M's
// functions. ScalarMath (here) runs them on one value, on the host and on the device;
// cpu/vec_math.h's VecMath runs the same templates on at::vec::Vectorized lanes.

#include <c10/macros/Macros.h>

#include <cmath>
#include <type_traits>

namespace torch_ext::math {

// The scalar type of a formula's value type T: T itself, or a vector's value_type (at::vec::Vectorized<float>).
template <typename T, typename = void>
struct scalar_of {
  using type = T;
};
template <typename T>
struct scalar_of<T, std::void_t<typename T::value_type>> {
  using type = typename T::value_type;
};
template <typename T>
using scalar_of_t = typename scalar_of<T>::type;

struct ScalarMath {
  template <typename T>
  using Mask = bool;

  template <typename T>
  static C10_HOST_DEVICE T splat(double v) {
    return static_cast<T>(v);
  }
  template <typename T>
  static C10_HOST_DEVICE bool gt(T a, T b) {
    return a > b;
  }
  template <typename T>
  static C10_HOST_DEVICE bool le(T a, T b) {
    return a <= b;
  }
  template <typename T>
  static C10_HOST_DEVICE bool lt(T a, T b) {
    return a < b;
  }
  template <typename T>
  static C10_HOST_DEVICE bool eq(T a, T b) {
    return a == b;
  }
  // The larger of a and b, NaN if either is NaN (as torch.maximum and ATen's max reductions).
  template <typename T>
  static C10_HOST_DEVICE T maximum(T a, T b) {
    return (a != a || a > b) ? a : b;
  }
  // select(m, a, b) = m ? a : b
  template <typename T>
  static C10_HOST_DEVICE T select(bool m, T a, T b) {
    return m ? a : b;
  }
  template <typename T>
  static C10_HOST_DEVICE T exp(T x) {
    return std::exp(x);
  }
  template <typename T>
  static C10_HOST_DEVICE T expm1(T x) {
    return std::expm1(x);
  }
  template <typename T>
  static C10_HOST_DEVICE T log(T x) {
    return std::log(x);
  }
  template <typename T>
  static C10_HOST_DEVICE T log1p(T x) {
    return std::log1p(x);
  }
  template <typename T>
  static C10_HOST_DEVICE T abs(T x) {
    return std::fabs(x);
  }
  template <typename T>
  static C10_HOST_DEVICE T neg(T x) {
    return -x;
  }
};

// x > 0 ? positive : nonpositive, and x itself (NaN) where x is neither: the select of the piecewise-linear
// activations' derivatives, so that a NaN input gives a NaN derivative. Any policy M.
template <typename M, typename T>
C10_HOST_DEVICE inline T select_by_sign(T x, T positive, T nonpositive) {
  const T zero = M::template splat<T>(0);
  return M::select(M::gt(x, zero), positive, M::select(M::le(x, zero), nonpositive, x));
}

}  // namespace torch_ext::math
