#pragma once
// RReLU's formulas and its random slopes, written once for the CPU (scalar and vector) and CUDA kernels.
// T is the op-math type: float for float/half/bfloat16, double for double.
// Branch conditions are ATen's: training sends x <= 0 to the random slope (x == 0 included); eval and
// its backward use x > 0 (leaky_relu's). A NaN x gives y = NaN and a NaN noise (dy/dx) and gradient,
// where ATen's noise is 1 (training) or the slope (eval).
//
// Random numbers: a counter-based Philox4x32-10 keyed by the element's index, so an element's slope
// depends only on (seed, offset, index), never on the thread count or the launch geometry, and the
// CPU and CUDA kernels draw the same slopes from the same (seed, offset). Element i reads lane i % 4
// of the 128-bit block at counter (offset / 4, i / 4): the layout of curand_init(seed, i / 4, offset)
// and of at::philox_engine(seed, i / 4, offset / 4), whose outputs these are bit for bit.
// The index is the element's position in the output's memory (see the kernels).

#include <c10/macros/Macros.h>

#include <cmath>
#include <cstdint>

#include "scalar_math.h"

namespace torch_ext::math {

// Philox4x32-10 (Salmon et al., SC'11), the rounds of ATen/core/PhiloxRNGEngine.h.
// NB: written here over plain integers, not at::philox_engine, whose std::array members would need
// --expt-relaxed-constexpr in device code.
struct Philox4x32 {
  uint32_t v[4];
};

C10_HOST_DEVICE inline uint32_t philox_mulhilo(uint32_t a, uint32_t b, uint32_t* hi) {
#if defined(__CUDA_ARCH__)
  *hi = __umulhi(a, b);
  return a * b;
#else
  const uint64_t product = static_cast<uint64_t>(a) * b;
  *hi = static_cast<uint32_t>(product >> 32);
  return static_cast<uint32_t>(product);
#endif
}

// The four 32-bit outputs of block `block` (the counter's low 64 bits) of subsequence `subsequence`
// (its high 64 bits) under key `seed`.
C10_HOST_DEVICE inline Philox4x32 philox4x32_10(uint64_t seed, uint64_t subsequence, uint64_t block) {
  constexpr uint32_t kMulA = 0xD2511F53;
  constexpr uint32_t kMulB = 0xCD9E8D57;
  constexpr uint32_t kKeyA = 0x9E3779B9;
  constexpr uint32_t kKeyB = 0xBB67AE85;
  uint32_t c0 = static_cast<uint32_t>(block);
  uint32_t c1 = static_cast<uint32_t>(block >> 32);
  uint32_t c2 = static_cast<uint32_t>(subsequence);
  uint32_t c3 = static_cast<uint32_t>(subsequence >> 32);
  uint32_t k0 = static_cast<uint32_t>(seed);
  uint32_t k1 = static_cast<uint32_t>(seed >> 32);
#if defined(__CUDA_ARCH__)
#pragma unroll
#endif
  for (int round = 0; round < 10; ++round) {
    uint32_t hi0, hi1;
    const uint32_t lo0 = philox_mulhilo(kMulA, c0, &hi0);
    const uint32_t lo1 = philox_mulhilo(kMulB, c2, &hi1);
    const uint32_t n0 = hi1 ^ c1 ^ k0;
    const uint32_t n2 = hi0 ^ c3 ^ k1;
    c0 = n0;
    c1 = lo1;
    c2 = n2;
    c3 = lo0;
    k0 += kKeyA;
    k1 += kKeyB;
  }
  return {{c0, c1, c2, c3}};
}

// The Philox block that holds the draws of elements [4 * group, 4 * group + 4). offset counts 32-bit
// draws per subsequence, as ATen's philox offsets do (a multiple of 4).
C10_HOST_DEVICE inline Philox4x32 rrelu_random_group(uint64_t seed, uint64_t offset, uint64_t group) {
  return philox4x32_10(seed, group, offset / 4);
}

// A 32-bit draw mapped to [0, 1) exactly in T: float keeps the top 24 bits, double all 32
// (so a double's u is the float's u plus its low 8 bits).
template <typename T>
C10_HOST_DEVICE inline T uniform_from_bits(uint32_t bits);

template <>
C10_HOST_DEVICE inline float uniform_from_bits<float>(uint32_t bits) {
  return static_cast<float>(bits >> 8) * (1.0f / 16777216.0f);  // 2^-24
}

template <>
C10_HOST_DEVICE inline double uniform_from_bits<double>(uint32_t bits) {
  return static_cast<double>(bits) * (1.0 / 4294967296.0);  // 2^-32
}

// a * b + c rounded once, on every backend.
// NB: explicit, because compilers contract a * b + c into an fma or not depending on the target
// (nvcc by default, GCC with -mfma): the slopes would differ between the DEFAULT and AVX2 builds and CUDA.
C10_HOST_DEVICE inline float fused_mul_add(float a, float b, float c) {
#if defined(__CUDA_ARCH__)
  return __fmaf_rn(a, b, c);
#else
  return std::fma(a, b, c);
#endif
}

C10_HOST_DEVICE inline double fused_mul_add(double a, double b, double c) {
#if defined(__CUDA_ARCH__)
  return __fma_rn(a, b, c);
#else
  return std::fma(a, b, c);
#endif
}

template <typename T>
struct RReluCoefs {
  T lower;
  T upper;
  T range;  // upper - lower
  T slope;  // eval's (lower + upper) / 2
};

template <typename T>
C10_HOST_DEVICE inline RReluCoefs<T> rrelu_coefs(double lower, double upper) {
  // NB: the eval slope is taken in double and then cast, as ATen's leaky_relu receives it.
  return {static_cast<T>(lower), static_cast<T>(upper), static_cast<T>(upper) - static_cast<T>(lower),
          static_cast<T>((lower + upper) / 2)};
}

// The slope of one element from its 32-bit draw: lower + u * (upper - lower) in op-math, u in [0, 1),
// one fma. NB: the sum can round past upper; the clamp keeps every slope in [lower, upper] (lower == upper
// gives exactly lower, so the output is leaky_relu's bit for bit in every dtype).
// The output multiplies by this op-math slope and the noise stores it rounded to the tensor's dtype, as
// ATen's CPU kernel does: for float and double the gradient (grad * noise) is the forward's slope exactly;
// for half and bfloat16 it is that slope rounded to the dtype.
template <typename T>
C10_HOST_DEVICE inline T rrelu_slope(uint32_t bits, const RReluCoefs<T>& c) {
  const T r = fused_mul_add(uniform_from_bits<T>(bits), c.range, c.lower);
  return r > c.upper ? c.upper : r;
}

// Training: y = x <= 0 ? x * r : x; the noise (dy/dx) is r there and 1 elsewhere.
template <typename M, typename T>
C10_HOST_DEVICE inline T rrelu_train_forward(T x, T r) {
  return M::select(M::le(x, M::template splat<T>(0)), x * r, x);
}

// The noise is dy/dx: the slope, 1, or NaN for a NaN x (so that its gradient, grad * noise, is NaN; ATen's is 1).
template <typename M, typename T>
C10_HOST_DEVICE inline T rrelu_train_noise(T x, T r) {
  return select_by_sign<M>(x, M::template splat<T>(1), r);
}

// Eval (leaky_relu with slope (lower + upper) / 2): y = x > 0 ? x : x * slope; noise 1 or slope.
template <typename M, typename T>
C10_HOST_DEVICE inline T rrelu_eval_forward(T x, T slope) {
  return M::select(M::gt(x, M::template splat<T>(0)), x, x * slope);
}

template <typename M, typename T>
C10_HOST_DEVICE inline T rrelu_eval_noise(T x, T slope) {
  return select_by_sign<M>(x, M::template splat<T>(1), slope);
}

// Eval backward (leaky_relu_backward): gx = b > 0 ? g : g * slope, b the input or the in-place output;
// NaN for a NaN b (ATen's is g * slope).
template <typename M, typename T>
C10_HOST_DEVICE inline T rrelu_eval_backward(T g, T b, T slope) {
  return select_by_sign<M>(b, g, g * slope);
}

// Training backward: gx = g * noise.
template <typename T>
C10_HOST_DEVICE inline T rrelu_train_backward(T g, T noise) {
  return g * noise;
}

}  // namespace torch_ext::math
