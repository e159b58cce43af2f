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

// ---------------------------------------------------------------------------------------------
// FastVecMath: VecMath with its own float exp, expm1 and log1p, for the activation kernels (the ELU
// family and softplus). ATen's (Sleef's u10) expm1f and log1pf work in double-float arithmetic;
// these use one range reduction, a short polynomial and FMAs, and are inlined into the kernels' loops
// (Sleef's are calls into libtorch_cpu, which spill every vector register around them). Throughput on
// the Zen 4 build machine (AVX512, one core, data in L1), ns per element, ours vs Sleef's u10:
// exp 0.22 vs 0.31, expm1 0.27 vs 1.18, log1p 0.35 vs 0.79 (exp measured before its AVX512 build
// applied 2^k with vscalefps, which made softmax 12 % faster in L2).
//
// Error bounds over every float input, in ulps of the exact result (bench/vec_math_exhaustive.cpp
// measures every float; tests/test_vec_math.py checks a dense sample under each compiled ISA):
//            AVX2, AVX512 (FMA)   DEFAULT (no FMA: a * b + c rounds twice)
//   exp      1.05                 1.03
//   expm1    1.61                 1.73
//   log1p    0.82                 0.93
// (Sleef's u10 functions, ATen's, are within 1.0.) Special values as C's: exp(-inf) = 0,
// exp(x > 88.72...) = +inf, results below 2^-126 are subnormal; expm1(+-0) = +-0, expm1(-inf) = -1,
// expm1(x > 88.72...) = +inf; log1p(+-0) = +-0, log1p(-1) = -inf, log1p(x < -1) = NaN,
// log1p(+inf) = +inf; NaN gives NaN. double keeps VecMath's (Sleef's) functions.
// VecMath itself is unchanged: the softmax kernels use it.

#if defined(CPU_CAPABILITY_AVX2) || defined(CPU_CAPABILITY_AVX512)
#include <immintrin.h>
#endif

#include <limits>

namespace torch_ext::ops::cpu {
inline namespace CPU_CAPABILITY {

namespace fast_math {

using FVec = at::vec::Vectorized<float>;
using IVec = at::vec::Vectorized<int32_t>;

// The bits of a float vector as int32 lanes and back.
inline IVec as_int(const FVec& v) {
#if defined(CPU_CAPABILITY_AVX512)
  return _mm512_castps_si512(v);
#elif defined(CPU_CAPABILITY_AVX2)
  return _mm256_castps_si256(v);
#else
  return at::vec::cast<int32_t>(v);
#endif
}

inline FVec as_float(const IVec& v) {
#if defined(CPU_CAPABILITY_AVX512)
  return _mm512_castsi512_ps(v);
#elif defined(CPU_CAPABILITY_AVX2)
  return _mm256_castsi256_ps(v);
#else
  return at::vec::cast<float>(v);
#endif
}

// Whether every lane of a comparison's result is set.
inline bool all_lanes_true(const FVec& mask) { return mask.zero_mask() == 0; }

// 2^k for integer-valued k in [-126, 127].
inline FVec pow2i(const FVec& k) {
  return as_float((at::vec::convert_to_int_of_same_size(k) + IVec(127)) << IVec(23));
}

// expm1(x) = 2^k (1 + p) - 1 with x = k ln2 + r, |r| <= ln2 / 2 (Cody-Waite: ln2 in two parts,
// the first with trailing zero bits so that k * kLn2Hi is exact), p = expm1(r) = r + r^2 Q(r),
// Q a degree-4 minimax fit (relative error of p 1.3e-8, 0.2 ulp). The last step is one FMA,
// fma(2^k, p, 2^k - 1), where 2^k - 1 is exact for -24 <= k <= 24.
inline FVec expm1(const FVec& x) {
  const FVec zero(0.f);
  // NB: clamp keeps NaN. Below -20 the result rounds to -1; above 88.8 it overflows to +inf.
  const FVec xc = at::vec::clamp(x, FVec(-20.f), FVec(88.8f));
  const FVec k = (xc * FVec(1.44269504088896341f)).round();
  FVec r = at::vec::fmadd(k, FVec(-0.693145751953125f), xc);
  r = at::vec::fmadd(k, FVec(-1.428606765330187045e-06f), r);
  FVec q = at::vec::fmadd(FVec(1.38825166e-3f), r, FVec(8.36654752e-3f));
  q = at::vec::fmadd(q, r, FVec(4.16672006e-2f));
  q = at::vec::fmadd(q, r, FVec(1.66665435e-1f));
  q = at::vec::fmadd(q, r, FVec(4.99999970e-1f));
  const FVec p = at::vec::fmadd(r * r, q, r);
  // NB: k reaches 128 just below expm1's overflow (x > 127.5 ln2): scale by 2^127, then by 2.
  const FVec k_hi(127.f);
  const FVec s = pow2i(at::vec::clamp_max(k, k_hi));
  const FVec t = at::vec::fmadd(s, p, s - FVec(1.f));
  const FVec y = FVec::blendv(t, t * FVec(2.f), k > k_hi);
  // expm1(+-0) = +-0 (p's sum would give +0 for -0).
  return FVec::blendv(y, x, x == zero);
}

// exp(x) = 2^k (1 + p), with k, r and p = expm1(r) as in expm1 above; 2^k is applied in two
// factors (2^(k >> 1) 2^(k - (k >> 1)), both normal) so that results in the subnormal range
// (x < -87.3) round once more instead of flushing to 0.
inline FVec exp(const FVec& x) {
  // NB: clamp keeps NaN. Below -104 the result rounds to 0; above 88.8 it overflows to +inf.
  const FVec xc = at::vec::clamp(x, FVec(-104.f), FVec(88.8f));
  const FVec k = (xc * FVec(1.44269504088896341f)).round();
  FVec r = at::vec::fmadd(k, FVec(-0.693145751953125f), xc);
  r = at::vec::fmadd(k, FVec(-1.428606765330187045e-06f), r);
  FVec q = at::vec::fmadd(FVec(1.38825166e-3f), r, FVec(8.36654752e-3f));
  q = at::vec::fmadd(q, r, FVec(4.16672006e-2f));
  q = at::vec::fmadd(q, r, FVec(1.66665435e-1f));
  q = at::vec::fmadd(q, r, FVec(4.99999970e-1f));
  const FVec p = at::vec::fmadd(r * r, q, r);
#if defined(CPU_CAPABILITY_AVX512)
  // (1 + p) 2^k by vscalefps, one instruction for the integer exponent arithmetic below. In the
  // normal range this is the same number (a power-of-2 scaling is exact, so rounding 1 + p first
  // changes nothing); 2^128 (1 + p) stays finite for 1 + p < 1; a subnormal result rounds twice,
  // which the exhaustive check (bench/vec_math_exhaustive.cpp) finds within the stated bound.
  return _mm512_scalef_ps(p + FVec(1.f), k);
#else
  const IVec ki = at::vec::convert_to_int_of_same_size(k);
  const IVec k1 = ki >> IVec(1);
  const FVec s1 = as_float((k1 + IVec(127)) << IVec(23));
  const FVec s2 = as_float((ki - k1 + IVec(127)) << IVec(23));
  return at::vec::fmadd(s1, p, s1) * s2;
#endif
}

// log(1 + f) for f in [-0.2929, 0.5), as fdlibm's log1p: with s = f / (2 + f),
// log(1 + f) = f - (f^2/2 - s (f^2/2 + R(s^2))), R a degree-2 minimax fit of 2 atanh(s)/s - 2 on
// s^2 <= 0.04 (relative error 2.8e-9); plus the low part of e ln2 (the caller adds the high part).
inline FVec log1p_reduced(const FVec& f, const FVec& ln2_lo) {
  const FVec hfsq = FVec(0.5f) * f * f;
  const FVec s = f / (FVec(2.f) + f);
  const FVec z = s * s;
  FVec R = at::vec::fmadd(FVec(0.30362436f), z, FVec(0.39957738f));
  R = at::vec::fmadd(R, z, FVec(0.6666695f)) * z;
  const FVec lo = at::vec::fmadd(s, hfsq + R, ln2_lo);
  return f - (hfsq - lo);
}

// log1p(x) = e ln2 + log(1 + f), 1 + x = (1 + f) 2^e.
//  - x in [-0.2929, 1.8284]: e is 0 or 1 and f = x or (x - 1) / 2, both exact, so there is no
//    rounding of 1 + x to correct for. A vector with every lane there (softplus's log1p(exp(-|x|))
//    always is) takes this path alone.
//  - otherwise: e from the exponent bits of u = 1 + x so that 1 + f lands in [sqrt(2)/2, sqrt(2));
//    f = m - 1 is exact, and the rounding error of u is folded back into f. Lanes in the range above
//    still take the first reduction, so that a lane's result never depends on its neighbours (nor,
//    through them, on where a thread's chunk starts).
inline FVec log1p(const FVec& x) {
  const FVec one(1.f);
  const FVec zero(0.f);
  const FVec ln2_hi(6.93138123e-01f);
  const FVec ln2_lo(9.05800061e-06f);
  const FVec in_range = (x >= FVec(-0.29289321f)) & (x <= FVec(1.82842712f));
  const FVec c = x >= FVec(0.5f);
  const FVec f_near = FVec::blendv(x, (x - one) * FVec(0.5f), c);
  if (all_lanes_true(in_range)) {
    const FVec y = log1p_reduced(f_near, FVec::blendv(zero, ln2_lo, c));
    // NB: ln2's high part added only where e = 1 keeps log1p(-0) = -0.
    return FVec::blendv(y, y + ln2_hi, c);
  }
  const FVec u = x + one;
  const IVec e = (as_int(u) - IVec(0x3f3504f3)) >> IVec(23);
  const FVec m = as_float(as_int(u) - (e << IVec(23)));
  // The rounding error of u = 1 + x, scaled by 2^-e like m.
  // NB: 2^-e is a normal float for e <= 126; beyond (x > 8e37) the error is 0 and any finite
  // scale does.
  const FVec scale = as_float((IVec(127) - at::vec::minimum(e, IVec(126))) << IVec(23));
  const FVec f_far = at::vec::fmadd(x - (u - one), scale, m - one);
  // e as a float: 0 or 1 in the range above, as there.
  const FVec ef = FVec::blendv(at::vec::convert_to_fp_of_same_size<float>(e), c & one, in_range);
  const FVec f = FVec::blendv(f_far, f_near, in_range);
  FVec y = log1p_reduced(f, ef * ln2_lo);
  y = FVec::blendv(y, y + ef * ln2_hi, ef != zero);
  // Special values: log1p(+inf) = +inf, log1p(-1) = -inf, log1p(x < -1) = NaN.
  const FVec inf(std::numeric_limits<float>::infinity());
  y = FVec::blendv(y, inf, x == inf);
  y = FVec::blendv(y, -inf, u == zero);
  return FVec::blendv(y, FVec(std::numeric_limits<float>::quiet_NaN()), u < zero);
}

}  // namespace fast_math

struct FastVecMath : VecMath {
  template <typename V>
  static V exp(const V& x) {
    if constexpr (std::is_same_v<V, at::vec::Vectorized<float>>) {
      return fast_math::exp(x);
    } else {
      return x.exp();
    }
  }
  template <typename V>
  static V expm1(const V& x) {
    if constexpr (std::is_same_v<V, at::vec::Vectorized<float>>) {
      return fast_math::expm1(x);
    } else {
      return x.expm1();
    }
  }
  template <typename V>
  static V log1p(const V& x) {
    if constexpr (std::is_same_v<V, at::vec::Vectorized<float>>) {
      return fast_math::log1p(x);
    } else {
      return x.log1p();
    }
  }
};

// The fast policy for a value type: ScalarMath for float/double, FastVecMath for Vectorized.
template <typename T>
struct fast_math_for {
  using type = torch_ext::math::ScalarMath;
};
template <typename T>
struct fast_math_for<at::vec::Vectorized<T>> {
  using type = FastVecMath;
};
template <typename T>
using fast_math_for_t = typename fast_math_for<std::decay_t<T>>::type;

}  // namespace CPU_CAPABILITY
}  // namespace torch_ext::ops::cpu
