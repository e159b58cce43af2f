#pragma once
// VecMath: the math policy of math/scalar_math.h over at::vec::Vectorized lanes, so the CPU
// vector loops run the very formula templates that the scalar and CUDA paths run.
// NB: included only by files compiled once per CPU capability, so every name here lives in
// the inline namespace CPU_CAPABILITY (one definition per ISA, no ODR clash).

#include <ATen/cpu/vec/vec.h>

#include <type_traits>

#include "../math/scalar_math.h"

namespace torch_ext::ops::cpu {
inline namespace CPU_CAPABILITY {

struct VecMath {
  template <typename V>
  static V splat(double v) {
    return V(static_cast<typename V::value_type>(v));
  }
  // Comparisons give all-ones lane masks, which blendv reads.
  template <typename V>
  static V gt(const V& a, const V& b) {
    return a > b;
  }
  template <typename V>
  static V le(const V& a, const V& b) {
    return a <= b;
  }
  template <typename V>
  static V lt(const V& a, const V& b) {
    return a < b;
  }
  template <typename V>
  static V eq(const V& a, const V& b) {
    return a == b;
  }
  // NaN-propagating, as ScalarMath::maximum.
  template <typename V>
  static V maximum(const V& a, const V& b) {
    return at::vec::maximum(a, b);
  }
  // select(m, a, b) = m ? a : b, lane by lane
  template <typename V>
  static V select(const V& m, const V& a, const V& b) {
    return V::blendv(b, a, m);
  }
  template <typename V>
  static V exp(const V& x) {
    return x.exp();
  }
  template <typename V>
  static V expm1(const V& x) {
    return x.expm1();
  }
  template <typename V>
  static V log(const V& x) {
    return x.log();
  }
  template <typename V>
  static V log1p(const V& x) {
    return x.log1p();
  }
  template <typename V>
  static V abs(const V& x) {
    return x.abs();
  }
  template <typename V>
  static V neg(const V& x) {
    return x.neg();
  }
};

// The policy for a value type: ScalarMath for float/double, VecMath for Vectorized.
template <typename T>
struct math_for {
  using type = torch_ext::math::ScalarMath;
};
template <typename T>
struct math_for<at::vec::Vectorized<T>> {
  using type = VecMath;
};
template <typename T>
using math_for_t = typename math_for<std::decay_t<T>>::type;

}  // namespace CPU_CAPABILITY
}  // namespace torch_ext::ops::cpu
