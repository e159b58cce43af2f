// RReLU on the CPU. This file is compiled once per CPU capability (DEFAULT, AVX2, AVX512; see
// CMakeLists.txt): each build registers its loops (cpu/isa_dispatch.h), and the DEFAULT build
// also holds the op-facing kernels, which take the random inputs from the generator and pick the loop
// for this machine.
//
// Training draws each slope from Philox keyed by the element's position in the output's memory
// (math/rrelu_math.h), computed lane by lane beside the vector formula: an element's slope, and so its
// output, is the same whatever the thread count, the chunk it falls in and the vector width (ISA).

#include <ATen/CPUGeneratorImpl.h>
#include <ATen/Dispatch.h>
#include <ATen/Parallel.h>
#include <ATen/ops/empty_like.h>
#include <torch/library.h>

#include <algorithm>
#include <cstdint>
#include <mutex>
#include <type_traits>
#include <utility>

#if defined(CPU_CAPABILITY_AVX2) || defined(CPU_CAPABILITY_AVX512)
#include <immintrin.h>
#endif

#include "ops/common/checks.h"
#include "ops/cpu/elementwise.h"
#include "ops/cpu/isa_dispatch.h"
#include "ops/math/rrelu_math.h"
#include "ops/internal/rrelu.h"

namespace torch_ext::ops::cpu {

// out: dense; noise: undefined or out's layout; self: out's layout (or out itself, in place)
struct RreluTrainKernel {
  using Fn = void (*)(const at::Tensor& out, const at::Tensor& noise, const at::Tensor& self,
                                          double lower, double upper, uint64_t seed, uint64_t offset);
};
// out (and noise, when defined): self's shape and dtype, any strides
struct RreluEvalKernel {
  using Fn = void (*)(const at::Tensor& out, const at::Tensor& noise, const at::Tensor& self,
                                         double lower, double upper);
};
// grad_input, grad_output, saved (the noise in training, self_or_result in eval): one shape and dtype
struct RreluBackwardKernel {
  using Fn = void (*)(const at::Tensor& grad_input, const at::Tensor& grad_output,
                                             const at::Tensor& saved, double lower, double upper, bool training);
};

}  // namespace torch_ext::ops::cpu

namespace torch_ext::ops::cpu {
inline namespace CPU_CAPABILITY {
namespace {

// Slopes are drawn a tile of kSlopeTile elements at a time: 16 Philox blocks, computed in vector lanes
// where the ISA has 32-bit multiplies with high halves (AVX2, AVX512), one block at a time otherwise.
// Every path gives the same bits (the scalar formulas of math/rrelu_math.h, lane by lane).
constexpr int64_t kSlopeTile = 64;

#if defined(CPU_CAPABILITY_AVX512)
// The high 32 bits of each lane's 32 x 32-bit product.
inline __m512i mulhi_epu32(__m512i a, __m512i b) {
  const __m512i even = _mm512_mul_epu32(a, b);
  const __m512i odd = _mm512_mul_epu32(_mm512_srli_epi64(a, 32), _mm512_srli_epi64(b, 32));
  return _mm512_mask_blend_epi32(0xAAAA, _mm512_srli_epi64(even, 32), odd);
}

// Float slopes of 4 x 16 draws (lane l of v[j]: element 4 l + j), written in element order.
inline void store_slopes(float* r, const __m512i v[4], const math::RReluCoefs<float>& c) {
  __m512 s[4];
  for (int j = 0; j < 4; ++j) {
    // uniform_from_bits<float>, then rrelu_slope: fma(u, range, lower), clamped to upper.
    const __m512 u = _mm512_mul_ps(_mm512_cvtepi32_ps(_mm512_srli_epi32(v[j], 8)), _mm512_set1_ps(1.0f / 16777216.0f));
    s[j] = _mm512_min_ps(_mm512_fmadd_ps(u, _mm512_set1_ps(c.range), _mm512_set1_ps(c.lower)),
                         _mm512_set1_ps(c.upper));
  }
  // Transpose: block q (4 lanes) of u_k holds the 4 elements of group 4 q + k.
  const __m512 t0 = _mm512_unpacklo_ps(s[0], s[1]), t1 = _mm512_unpackhi_ps(s[0], s[1]);
  const __m512 t2 = _mm512_unpacklo_ps(s[2], s[3]), t3 = _mm512_unpackhi_ps(s[2], s[3]);
  const __m512 u0 = _mm512_castpd_ps(_mm512_unpacklo_pd(_mm512_castps_pd(t0), _mm512_castps_pd(t2)));
  const __m512 u1 = _mm512_castpd_ps(_mm512_unpackhi_pd(_mm512_castps_pd(t0), _mm512_castps_pd(t2)));
  const __m512 u2 = _mm512_castpd_ps(_mm512_unpacklo_pd(_mm512_castps_pd(t1), _mm512_castps_pd(t3)));
  const __m512 u3 = _mm512_castpd_ps(_mm512_unpackhi_pd(_mm512_castps_pd(t1), _mm512_castps_pd(t3)));
  const __m512 p0 = _mm512_shuffle_f32x4(u0, u1, 0x44), p1 = _mm512_shuffle_f32x4(u2, u3, 0x44);
  const __m512 p2 = _mm512_shuffle_f32x4(u0, u1, 0xEE), p3 = _mm512_shuffle_f32x4(u2, u3, 0xEE);
  _mm512_store_ps(r, _mm512_shuffle_f32x4(p0, p1, 0x88));
  _mm512_store_ps(r + 16, _mm512_shuffle_f32x4(p0, p1, 0xDD));
  _mm512_store_ps(r + 32, _mm512_shuffle_f32x4(p2, p3, 0x88));
  _mm512_store_ps(r + 48, _mm512_shuffle_f32x4(p2, p3, 0xDD));
}

// Philox4x32-10 (math::philox4x32_10) of groups first_group + 0 ... 15, one per lane.
inline void philox_16_groups(__m512i v[4], uint64_t seed, uint64_t offset, uint64_t first_group) {
  const uint64_t block = offset / 4;
  const __m512i lane = _mm512_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15);
  const __m512i g_lo = _mm512_set1_epi32(static_cast<int32_t>(static_cast<uint32_t>(first_group)));
  __m512i c0 = _mm512_set1_epi32(static_cast<int32_t>(static_cast<uint32_t>(block)));
  __m512i c1 = _mm512_set1_epi32(static_cast<int32_t>(static_cast<uint32_t>(block >> 32)));
  __m512i c2 = _mm512_add_epi32(g_lo, lane);
  // The group index's high half, plus the carry out of its low half.
  const __mmask16 carry = _mm512_cmplt_epu32_mask(c2, g_lo);
  const __m512i g_hi = _mm512_set1_epi32(static_cast<int32_t>(static_cast<uint32_t>(first_group >> 32)));
  __m512i c3 = _mm512_mask_add_epi32(g_hi, carry, g_hi, _mm512_set1_epi32(1));
  const __m512i mul_a = _mm512_set1_epi32(static_cast<int32_t>(0xD2511F53u));
  const __m512i mul_b = _mm512_set1_epi32(static_cast<int32_t>(0xCD9E8D57u));
  uint32_t k0 = static_cast<uint32_t>(seed), k1 = static_cast<uint32_t>(seed >> 32);
  for (int round = 0; round < 10; ++round) {
    const __m512i hi0 = mulhi_epu32(c0, mul_a), lo0 = _mm512_mullo_epi32(c0, mul_a);
    const __m512i hi1 = mulhi_epu32(c2, mul_b), lo1 = _mm512_mullo_epi32(c2, mul_b);
    c0 = _mm512_xor_si512(_mm512_xor_si512(hi1, c1), _mm512_set1_epi32(static_cast<int32_t>(k0)));
    c2 = _mm512_xor_si512(_mm512_xor_si512(hi0, c3), _mm512_set1_epi32(static_cast<int32_t>(k1)));
    c1 = lo1;
    c3 = lo0;
    k0 += 0x9E3779B9u;
    k1 += 0xBB67AE85u;
  }
  v[0] = c0;
  v[1] = c1;
  v[2] = c2;
  v[3] = c3;
}
#elif defined(CPU_CAPABILITY_AVX2)
inline __m256i mulhi_epu32(__m256i a, __m256i b) {
  const __m256i even = _mm256_mul_epu32(a, b);
  const __m256i odd = _mm256_mul_epu32(_mm256_srli_epi64(a, 32), _mm256_srli_epi64(b, 32));
  return _mm256_blend_epi32(_mm256_srli_epi64(even, 32), odd, 0xAA);
}

// Float slopes of 4 x 8 draws (lane l of v[j]: element 4 l + j), written in element order.
inline void store_slopes(float* r, const __m256i v[4], const math::RReluCoefs<float>& c) {
  __m256 s[4];
  for (int j = 0; j < 4; ++j) {
    const __m256 u = _mm256_mul_ps(_mm256_cvtepi32_ps(_mm256_srli_epi32(v[j], 8)), _mm256_set1_ps(1.0f / 16777216.0f));
    s[j] = _mm256_min_ps(_mm256_fmadd_ps(u, _mm256_set1_ps(c.range), _mm256_set1_ps(c.lower)),
                         _mm256_set1_ps(c.upper));
  }
  const __m256 t0 = _mm256_unpacklo_ps(s[0], s[1]), t1 = _mm256_unpackhi_ps(s[0], s[1]);
  const __m256 t2 = _mm256_unpacklo_ps(s[2], s[3]), t3 = _mm256_unpackhi_ps(s[2], s[3]);
  const __m256 u0 = _mm256_castpd_ps(_mm256_unpacklo_pd(_mm256_castps_pd(t0), _mm256_castps_pd(t2)));
  const __m256 u1 = _mm256_castpd_ps(_mm256_unpackhi_pd(_mm256_castps_pd(t0), _mm256_castps_pd(t2)));
  const __m256 u2 = _mm256_castpd_ps(_mm256_unpacklo_pd(_mm256_castps_pd(t1), _mm256_castps_pd(t3)));
  const __m256 u3 = _mm256_castpd_ps(_mm256_unpackhi_pd(_mm256_castps_pd(t1), _mm256_castps_pd(t3)));
  _mm256_store_ps(r, _mm256_permute2f128_ps(u0, u1, 0x20));
  _mm256_store_ps(r + 8, _mm256_permute2f128_ps(u2, u3, 0x20));
  _mm256_store_ps(r + 16, _mm256_permute2f128_ps(u0, u1, 0x31));
  _mm256_store_ps(r + 24, _mm256_permute2f128_ps(u2, u3, 0x31));
}

// Philox4x32-10 (math::philox4x32_10) of groups first_group + 0 ... 7, one per lane.
inline void philox_8_groups(__m256i v[4], uint64_t seed, uint64_t offset, uint64_t first_group) {
  const uint64_t block = offset / 4;
  const __m256i lane = _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7);
  const __m256i g_lo = _mm256_set1_epi32(static_cast<int32_t>(static_cast<uint32_t>(first_group)));
  __m256i c0 = _mm256_set1_epi32(static_cast<int32_t>(static_cast<uint32_t>(block)));
  __m256i c1 = _mm256_set1_epi32(static_cast<int32_t>(static_cast<uint32_t>(block >> 32)));
  __m256i c2 = _mm256_add_epi32(g_lo, lane);
  // Unsigned c2 < g_lo (a carry out of the low half), as a signed compare with the sign bits flipped.
  const __m256i sign = _mm256_set1_epi32(static_cast<int32_t>(0x80000000u));
  const __m256i carry = _mm256_cmpgt_epi32(_mm256_xor_si256(g_lo, sign), _mm256_xor_si256(c2, sign));
  __m256i c3 = _mm256_sub_epi32(_mm256_set1_epi32(static_cast<int32_t>(static_cast<uint32_t>(first_group >> 32))),
                                carry);
  const __m256i mul_a = _mm256_set1_epi32(static_cast<int32_t>(0xD2511F53u));
  const __m256i mul_b = _mm256_set1_epi32(static_cast<int32_t>(0xCD9E8D57u));
  uint32_t k0 = static_cast<uint32_t>(seed), k1 = static_cast<uint32_t>(seed >> 32);
  for (int round = 0; round < 10; ++round) {
    const __m256i hi0 = mulhi_epu32(c0, mul_a), lo0 = _mm256_mullo_epi32(c0, mul_a);
    const __m256i hi1 = mulhi_epu32(c2, mul_b), lo1 = _mm256_mullo_epi32(c2, mul_b);
    c0 = _mm256_xor_si256(_mm256_xor_si256(hi1, c1), _mm256_set1_epi32(static_cast<int32_t>(k0)));
    c2 = _mm256_xor_si256(_mm256_xor_si256(hi0, c3), _mm256_set1_epi32(static_cast<int32_t>(k1)));
    c1 = lo1;
    c3 = lo0;
    k0 += 0x9E3779B9u;
    k1 += 0xBB67AE85u;
  }
  v[0] = c0;
  v[1] = c1;
  v[2] = c2;
  v[3] = c3;
}
#endif

// r[j] = the slope of element first + j, j < kSlopeTile; first is a multiple of kSlopeTile.
template <typename opmath_t>
void fill_slopes(opmath_t* r, int64_t first, const math::RReluCoefs<opmath_t>& c, uint64_t seed, uint64_t offset) {
  const uint64_t first_group = static_cast<uint64_t>(first) >> 2;
#if defined(CPU_CAPABILITY_AVX512)
  if constexpr (std::is_same_v<opmath_t, float>) {
    __m512i v[4];
    philox_16_groups(v, seed, offset, first_group);
    store_slopes(r, v, c);
    return;
  }
#elif defined(CPU_CAPABILITY_AVX2)
  if constexpr (std::is_same_v<opmath_t, float>) {
    for (int half = 0; half < 2; ++half) {
      __m256i v[4];
      philox_8_groups(v, seed, offset, first_group + 8 * half);
      store_slopes(r + 32 * half, v, c);
    }
    return;
  }
#endif
  for (int64_t g = 0; g < kSlopeTile / 4; ++g) {
    const math::Philox4x32 block = math::rrelu_random_group(seed, offset, first_group + g);
    for (int j = 0; j < 4; ++j) {
      r[4 * g + j] = math::rrelu_slope(block.v[j], c);
    }
  }
}

// Stores a vector's count elements at p; a full vector at an aligned address with a streaming store
// when `stream` (see elementwise.h).
template <typename scalar_t>
inline void store_out(scalar_t* p, const at::vec::Vectorized<scalar_t>& v, int64_t count, bool stream) {
  using Vec = at::vec::Vectorized<scalar_t>;
  if (count != Vec::size()) {
    v.store(p, count);
  } else if (stream && reinterpret_cast<uintptr_t>(p) % sizeof(Vec) == 0) {
    stream_store(p, v);
  } else {
    v.store(p);
  }
}

// Elements [begin, end) of dense storage: out[i] = x[i] <= 0 ? x[i] * r_i : x[i], noise[i] = dy/dx.
// Every element, the tail included, goes through the vector formula (see elementwise.h); the
// slopes r_i come from one Philox block per four elements, a tile of kSlopeTile at a time.
template <typename scalar_t>
void rrelu_train_range(scalar_t* out, scalar_t* noise, const scalar_t* x, int64_t begin, int64_t end,
                       const math::RReluCoefs<at::opmath_type<scalar_t>>& c, uint64_t seed, uint64_t offset,
                       bool stream) {
  using Vec = at::vec::Vectorized<scalar_t>;
  using FVec = at::vec::Vectorized<float>;
  using opmath_t = at::opmath_type<scalar_t>;
  constexpr int64_t kLanes = Vec::size();
  static_assert(kSlopeTile % kLanes == 0);

  // + kLanes: a vector that starts inside the tile may read past its end (into lanes it does not store).
  alignas(64) opmath_t r[kSlopeTile + kLanes] = {};
  for (int64_t tile = begin / kSlopeTile * kSlopeTile; tile < end; tile += kSlopeTile) {
    fill_slopes(r, tile, c, seed, offset);
    const int64_t hi = std::min(end, tile + kSlopeTile);
    for (int64_t i = std::max(begin, tile); i < hi; i += kLanes) {
      const int64_t count = std::min(kLanes, hi - i);
      const opmath_t* ri = r + (i - tile);
      const Vec xv = Vec::loadu(x + i, count);
      if constexpr (std::is_same_v<opmath_t, scalar_t>) {
        const Vec rv = Vec::loadu(ri);
        store_out(out + i, math::rrelu_train_forward<VecMath>(xv, rv), count, stream);
        if (noise != nullptr) {
          store_out(noise + i, math::rrelu_train_noise<VecMath>(xv, rv), count, stream);
        }
      } else {
        // Half and bfloat16: widen to two float vectors, compute, narrow back.
        const auto [x_lo, x_hi] = at::vec::convert_to_float<scalar_t>(xv);
        const FVec r_lo = FVec::loadu(ri);
        const FVec r_hi = FVec::loadu(ri + FVec::size());
        store_out(out + i,
                  at::vec::convert_from_float<scalar_t>(math::rrelu_train_forward<VecMath>(x_lo, r_lo),
                                                        math::rrelu_train_forward<VecMath>(x_hi, r_hi)),
                  count, stream);
        if (noise != nullptr) {
          store_out(noise + i,
                    at::vec::convert_from_float<scalar_t>(math::rrelu_train_noise<VecMath>(x_lo, r_lo),
                                                          math::rrelu_train_noise<VecMath>(x_hi, r_hi)),
                    count, stream);
        }
      }
    }
  }
  if (stream) {
    stream_fence();
  }
}

void rrelu_train_loop(const at::Tensor& out, const at::Tensor& noise, const at::Tensor& self, double lower,
                      double upper, uint64_t seed, uint64_t offset) {
  TORCH_INTERNAL_ASSERT(out.is_non_overlapping_and_dense() && self.strides() == out.strides());
  TORCH_INTERNAL_ASSERT(!noise.defined() || noise.strides() == out.strides());
  AT_DISPATCH_FLOATING_TYPES_AND2(at::kHalf, at::kBFloat16, self.scalar_type(), "rrelu_cpu", [&] {
    using opmath_t = at::opmath_type<scalar_t>;
    const auto c = math::rrelu_coefs<opmath_t>(lower, upper);
    scalar_t* out_p = out.mutable_data_ptr<scalar_t>();
    scalar_t* noise_p = noise.defined() ? noise.mutable_data_ptr<scalar_t>() : nullptr;
    const scalar_t* x_p = self.const_data_ptr<scalar_t>();
    // NB: in place, out is self: its lines are read anyway, no streaming.
    const int64_t out_bytes = out.numel() * int64_t(sizeof(scalar_t));
    const bool stream =
        !self.is_same(out) && use_streaming_stores(out_bytes * (noise.defined() ? 3 : 2), out_p, out_bytes);
    at::parallel_for(0, out.numel(), kGrainSize, [&](int64_t begin, int64_t end) {
      rrelu_train_range<scalar_t>(out_p, noise_p, x_p, begin, end, c, seed, offset, stream);
    });
  });
}

void rrelu_eval_loop(const at::Tensor& out, const at::Tensor& noise, const at::Tensor& self, double lower,
                     double upper) {
  AT_DISPATCH_FLOATING_TYPES_AND2(at::kHalf, at::kBFloat16, self.scalar_type(), "rrelu_eval_cpu", [&] {
    using opmath_t = at::opmath_type<scalar_t>;
    const opmath_t slope = math::rrelu_coefs<opmath_t>(lower, upper).slope;
    // The noise first: in place, out is self.
    if (noise.defined()) {
      elementwise_kernel<scalar_t>(
          noise,
          [slope](auto x) {
            using T = decltype(x);
            return math::rrelu_eval_noise<math_for_t<T>>(x, T(slope));
          },
          self);
    }
    elementwise_kernel<scalar_t>(
        out,
        [slope](auto x) {
          using T = decltype(x);
          return math::rrelu_eval_forward<math_for_t<T>>(x, T(slope));
        },
        self);
  });
}

void rrelu_backward_loop(const at::Tensor& grad_input, const at::Tensor& grad_output, const at::Tensor& saved,
                         double lower, double upper, bool training) {
  AT_DISPATCH_FLOATING_TYPES_AND2(at::kHalf, at::kBFloat16, grad_output.scalar_type(), "rrelu_backward_cpu", [&] {
    using opmath_t = at::opmath_type<scalar_t>;
    if (training) {
      elementwise_kernel<scalar_t>(
          grad_input, [](auto g, auto noise) { return math::rrelu_train_backward(g, noise); }, grad_output, saved);
      return;
    }
    const opmath_t slope = math::rrelu_coefs<opmath_t>(lower, upper).slope;
    elementwise_kernel<scalar_t>(
        grad_input,
        [slope](auto g, auto b) {
          using T = decltype(g);
          return math::rrelu_eval_backward<math_for_t<T>>(g, b, T(slope));
        },
        grad_output, saved);
  });
}

}  // namespace
}  // namespace CPU_CAPABILITY
}  // namespace torch_ext::ops::cpu

TORCH_EXT_REGISTER_CPU_KERNEL(torch_ext::ops::cpu::RreluTrainKernel,
                              &torch_ext::ops::cpu::CPU_CAPABILITY::rrelu_train_loop);
TORCH_EXT_REGISTER_CPU_KERNEL(torch_ext::ops::cpu::RreluEvalKernel,
                              &torch_ext::ops::cpu::CPU_CAPABILITY::rrelu_eval_loop);
TORCH_EXT_REGISTER_CPU_KERNEL(torch_ext::ops::cpu::RreluBackwardKernel,
                              &torch_ext::ops::cpu::CPU_CAPABILITY::rrelu_backward_loop);

#if defined(CPU_CAPABILITY_DEFAULT)

namespace torch_ext::ops {
namespace {

// (seed, offset) of one training call: a fresh 64-bit Philox key from the CPU generator (the default
// one, or the one given), taken under its mutex. torch.manual_seed (or generator.manual_seed) thus
// reproduces a call, and successive calls draw different slopes. The offset is 0: each call has its
// own key.
std::pair<uint64_t, uint64_t> cpu_philox_inputs(const std::optional<at::Generator>& generator) {
  auto* gen = at::get_generator_or_default<at::CPUGeneratorImpl>(generator, at::detail::getDefaultCPUGenerator());
  std::lock_guard<std::mutex> lock(gen->mutex_);
  return {gen->random64(), 0};
}

// Training into out (self, or at::empty_like(self)) and noise (undefined, or at::empty_like(self)).
// The flat loop keys each slope by the element's position in out's memory; an out that is not dense
// (in place on a strided view) is computed in a temporary laid out as at::empty_like(self), which
// is how the out-of-place op lays out its output, so in place and out of place draw the same slopes.
void rrelu_train(const at::Tensor& out, const at::Tensor& noise, const at::Tensor& self, double lower, double upper,
                 const std::optional<at::Generator>& generator) {
  const auto [seed, offset] = cpu_philox_inputs(generator);
  if (out.numel() == 0) {
    return;
  }
  if (out.is_non_overlapping_and_dense()) {
    at::Tensor x = self;
    if (!self.is_same(out) && self.strides() != out.strides()) {
      x = at::empty_like(out);
      x.copy_(self);
    }
    cpu::cpu_kernel<cpu::RreluTrainKernel>()(out, noise, x, lower, upper, seed, offset);
    return;
  }
  TORCH_INTERNAL_ASSERT(self.is_same(out));
  at::Tensor tmp = at::empty_like(self);
  tmp.copy_(self);
  cpu::cpu_kernel<cpu::RreluTrainKernel>()(tmp, noise, tmp, lower, upper, seed, offset);
  out.copy_(tmp);
}

at::Tensor rrelu_forward_kernel(const at::Tensor& self, double lower, double upper, bool training,
                                std::optional<at::Generator> generator) {
  check_elementwise_input("rrelu", self);
  check_rrelu_bounds("rrelu", lower, upper);
  // NB: ATen allocates rrelu's output LEGACY_CONTIGUOUS (strides not propagated, pytorch#60028);
  // empty_like keeps a dense input's strides, as every torch_ext op and the Meta kernel do.
  at::Tensor out = at::empty_like(self);
  if (training) {
    rrelu_train(out, at::Tensor(), self, lower, upper, generator);
  } else {
    cpu::cpu_kernel<cpu::RreluEvalKernel>()(out, at::Tensor(), self, lower, upper);
  }
  return out;
}

void rrelu_inplace_kernel(at::Tensor& self, double lower, double upper, bool training,
                          std::optional<at::Generator> generator) {
  check_elementwise_input("rrelu_", self);
  check_rrelu_bounds("rrelu_", lower, upper);
  check_no_internal_overlap("rrelu_", "self", self);
  if (training) {
    rrelu_train(self, at::Tensor(), self, lower, upper, generator);
  } else {
    cpu::cpu_kernel<cpu::RreluEvalKernel>()(self, at::Tensor(), self, lower, upper);
  }
}

std::tuple<at::Tensor, at::Tensor> rrelu_with_noise_kernel(const at::Tensor& self, double lower, double upper,
                                                           bool training, std::optional<at::Generator> generator) {
  check_elementwise_input("rrelu_with_noise", self);
  check_rrelu_bounds("rrelu_with_noise", lower, upper);
  at::Tensor out = at::empty_like(self);
  at::Tensor noise = at::empty_like(self);
  if (training) {
    rrelu_train(out, noise, self, lower, upper, generator);
  } else {
    cpu::cpu_kernel<cpu::RreluEvalKernel>()(out, noise, self, lower, upper);
  }
  return {out, noise};
}

at::Tensor rrelu_with_noise_inplace_kernel(at::Tensor& self, double lower, double upper, bool training,
                                           std::optional<at::Generator> generator) {
  check_elementwise_input("rrelu_with_noise_", self);
  check_rrelu_bounds("rrelu_with_noise_", lower, upper);
  check_no_internal_overlap("rrelu_with_noise_", "self", self);
  at::Tensor noise = at::empty_like(self);
  if (training) {
    rrelu_train(self, noise, self, lower, upper, generator);
  } else {
    cpu::cpu_kernel<cpu::RreluEvalKernel>()(self, noise, self, lower, upper);
  }
  return noise;
}

at::Tensor rrelu_backward_kernel(const at::Tensor& grad_output, const std::optional<at::Tensor>& self_or_result,
                                 const std::optional<at::Tensor>& noise, double lower, double upper, bool training,
                                 bool is_result) {
  check_rrelu_backward(grad_output, self_or_result, noise, lower, upper, training, is_result);
  at::Tensor grad_input = at::empty_like(grad_output);
  cpu::cpu_kernel<cpu::RreluBackwardKernel>()(grad_input, grad_output,
                                            training ? *noise : *self_or_result, lower, upper, training);
  return grad_input;
}

}  // namespace
}  // namespace torch_ext::ops

TORCH_LIBRARY_IMPL(torch_ext, CPU, m) {
  m.impl("rrelu", TORCH_FN(torch_ext::ops::rrelu_forward_kernel));
  m.impl("rrelu_", TORCH_FN(torch_ext::ops::rrelu_inplace_kernel));
  m.impl("rrelu_with_noise", TORCH_FN(torch_ext::ops::rrelu_with_noise_kernel));
  m.impl("rrelu_with_noise_", TORCH_FN(torch_ext::ops::rrelu_with_noise_inplace_kernel));
  m.impl("rrelu_backward", TORCH_FN(torch_ext::ops::rrelu_backward_kernel));
}

#endif  // CPU_CAPABILITY_DEFAULT
