#pragma once
// The CPU elementwise loop shared by the activation kernels: out[i] = f(in_0[i], ..., in_k[i]).
// f is a generic callable that takes and returns op-math values (float for half/bfloat16) and
// is called both on scalars and on at::vec::Vectorized lanes (see vec_math.h).
//  - Tensors that share one dense layout (contiguous, channels_last, any dense permutation)
//    run as one flat vectorized loop split over threads with at::parallel_for.
//  - Any other strides go through TensorIterator, whose inner loop is vectorized when unit-strided.
// NB: compiled once per CPU capability; every name lives in the inline namespace CPU_CAPABILITY.

#include <ATen/Parallel.h>
#include <ATen/core/Tensor.h>
#include <ATen/TensorIterator.h>
#include <ATen/cpu/vec/functional.h>
#include <ATen/cpu/vec/vec.h>
#include <ATen/OpMathType.h>

#include <algorithm>
#include <array>
#include <cstdint>
#include <cstdio>
#include <initializer_list>
#include <tuple>
#include <type_traits>
#include <utility>

#if defined(CPU_CAPABILITY_AVX2) || defined(CPU_CAPABILITY_AVX512)
#include <immintrin.h>
#endif

#if defined(__linux__)
#include <sys/mman.h>
#include <unistd.h>
#endif

#include "vec_math.h"

namespace torch_ext::ops::cpu {
inline namespace CPU_CAPABILITY {

// Elements per parallel task; ATen's GRAIN_SIZE, so small tensors stay on one thread.
constexpr int64_t kGrainSize = at::internal::GRAIN_SIZE;

// The size of the last-level cache in bytes (Linux sysfs; 32 MiB where it cannot be read).
inline int64_t llc_bytes() {
  static const int64_t bytes = [] {
    int64_t best = 0;
    for (int index = 0; index < 8; ++index) {
      char path[96];
      std::snprintf(path, sizeof(path), "/sys/devices/system/cpu/cpu0/cache/index%d/size", index);
      std::FILE* f = std::fopen(path, "r");
      if (f == nullptr) {
        continue;
      }
      long long value = 0;
      char unit = 0;
      if (std::fscanf(f, "%lld%c", &value, &unit) >= 1) {
        const int64_t mult = unit == 'K' ? (1 << 10) : unit == 'M' ? (1 << 20) : unit == 'G' ? (1 << 30) : 1;
        best = std::max<int64_t>(best, value * mult);
      }
      std::fclose(f);
    }
    return best > 0 ? best : int64_t{32} << 20;
  }();
  return bytes;
}

// Whether the pages of [p, p + bytes) are mapped in (mincore, at the middle and the last page; the first
// may hold the allocator's header). A fresh allocation is not: glibc serves a large block with a new
// mmap, whose pages fault in at their first write.
inline bool pages_resident(const void* p, int64_t bytes) {
#if defined(__linux__)
  static const uintptr_t page = static_cast<uintptr_t>(sysconf(_SC_PAGESIZE));
  const uintptr_t begin = reinterpret_cast<uintptr_t>(p);
  for (const uintptr_t at : {begin + static_cast<uintptr_t>(bytes) / 2, begin + static_cast<uintptr_t>(bytes) - 1}) {
    unsigned char resident = 0;
    if (mincore(reinterpret_cast<void*>(at & ~(page - 1)), 1, &resident) == 0 && (resident & 1) == 0) {
      return false;
    }
  }
#endif
  return true;
}

// Whether a pass over `bytes` of inputs and outputs should write its output (out_bytes at out) with
// non-temporal (streaming) stores: when they cannot stay in the last-level cache anyway, and the
// output's pages are mapped in. A streaming store skips the read-for-ownership of each output line
// (a normal store reads the line before writing it), so the pass moves (inputs + outputs) instead
// of (inputs + 2 x outputs) bytes; below the LLC the output is better left in cache for its
// consumer. A page not yet mapped faults in at its first store, and the kernel zeroes it through
// the cache, where a normal store then hits; streaming stores were slower there (glibc's default
// allocator, whose large blocks are fresh mmaps; bench/NOTES.md row 25).
inline bool use_streaming_stores(int64_t bytes, const void* out, int64_t out_bytes) {
  return bytes >= llc_bytes() && pages_resident(out, out_bytes);
}

// Stores v at p, 64-byte aligned (AVX512) or 32-byte aligned (AVX2), bypassing the caches.
// The DEFAULT build has no streaming store: a plain store.
template <typename scalar_t>
inline void stream_store(scalar_t* p, const at::vec::Vectorized<scalar_t>& v) {
#if defined(CPU_CAPABILITY_AVX512)
  if constexpr (std::is_same_v<scalar_t, float>) {
    _mm512_stream_ps(reinterpret_cast<float*>(p), v);
  } else if constexpr (std::is_same_v<scalar_t, double>) {
    _mm512_stream_pd(reinterpret_cast<double*>(p), v);
  } else {
    _mm512_stream_si512(reinterpret_cast<__m512i*>(p), v);
  }
#elif defined(CPU_CAPABILITY_AVX2)
  if constexpr (std::is_same_v<scalar_t, float>) {
    _mm256_stream_ps(reinterpret_cast<float*>(p), v);
  } else if constexpr (std::is_same_v<scalar_t, double>) {
    _mm256_stream_pd(reinterpret_cast<double*>(p), v);
  } else {
    _mm256_stream_si256(reinterpret_cast<__m256i*>(p), v);
  }
#else
  v.store(p);
#endif
}

// Orders this thread's streaming stores before whatever it does next (the end of a parallel
// region hands the output to other threads).
inline void stream_fence() {
#if defined(CPU_CAPABILITY_AVX2) || defined(CPU_CAPABILITY_AVX512)
  _mm_sfence();
#endif
}

// Elements of scalar_t before p reaches the alignment of a full vector (0 if it never does).
template <typename scalar_t>
inline int64_t elements_to_alignment(const void* p) {
  constexpr int64_t kAlign = sizeof(at::vec::Vectorized<scalar_t>);
  const auto addr = reinterpret_cast<uintptr_t>(p);
  if (addr % sizeof(scalar_t) != 0) {
    return 0;
  }
  return static_cast<int64_t>((kAlign - addr % kAlign) % kAlign / sizeof(scalar_t));
}

// Whether every lane of a comparison's result is true (all bits set); a scalar comparison is its bool.
// The kernels use it to skip a transcendental when a whole vector is on the cheap side of a branch.
template <typename T>
inline bool all_lanes(const at::vec::Vectorized<T>& mask) {
  return mask.zero_mask() == 0;
}
inline bool all_lanes(bool b) { return b; }

// Computes n elements of unit-strided arrays. Every element, the tail included, goes through
// the vector formula.
// NB: a scalar tail would use libm where the body uses Sleef (they differ by an ulp), and then
// an element's result would depend on where a thread's chunk happens to end.
// With `stream`, full vectors are written with streaming stores once the output is aligned
// (a partial head reaches the alignment); each element's value is the same either way. The caller
// ends its run of streaming loops with stream_fence().
template <typename scalar_t, typename F, size_t... I>
inline void elementwise_vec_loop(char* out, const std::array<const char*, sizeof...(I)>& in, int64_t n,
                                 const F& f, std::index_sequence<I...>, bool stream = false) {
  using Vec = at::vec::Vectorized<scalar_t>;
  using opmath_t = at::opmath_type<scalar_t>;
  auto* out_p = reinterpret_cast<scalar_t*>(out);
  auto compute = [&](int64_t i, int64_t count) -> Vec {
    if constexpr (std::is_same_v<opmath_t, scalar_t>) {
      return f(Vec::loadu(reinterpret_cast<const scalar_t*>(in[I]) + i, count)...);
    } else {
      // Half and bfloat16: widen each vector to two float vectors, compute, narrow back.
      using FVec = at::vec::Vectorized<float>;
      std::array<std::tuple<FVec, FVec>, sizeof...(I)> wide{at::vec::convert_to_float<scalar_t>(
          Vec::loadu(reinterpret_cast<const scalar_t*>(in[I]) + i, count))...};
      FVec lo = f(std::get<0>(wide[I])...);
      FVec hi = f(std::get<1>(wide[I])...);
      return at::vec::convert_from_float<scalar_t>(lo, hi);
    }
  };
  // NB: one call site of f (the formula, often large once its math is inlined), so that the
  // compiler inlines it into this loop instead of calling it once per vector.
  const int64_t head = stream ? std::min(n, elements_to_alignment<scalar_t>(out_p)) : 0;
  for (int64_t i = 0; i < n;) {
    const int64_t count = i < head ? head : std::min<int64_t>(Vec::size(), n - i);
    const Vec r = compute(i, count);
    if (count != Vec::size()) {
      r.store(out_p + i, count);
    } else if (stream) {
      stream_store(out_p + i, r);
    } else {
      r.store(out_p + i);
    }
    i += count;
  }
}

// Computes n elements of arrays with any byte strides (strides[0] for out, then the inputs'):
// gathers a vector's worth of each input, computes as above, scatters the results.
template <typename scalar_t, typename F, size_t... I>
inline void elementwise_strided_loop(char** data, const int64_t* strides, int64_t n, const F& f,
                                     std::index_sequence<I...> seq) {
  constexpr int64_t kChunk = at::vec::Vectorized<scalar_t>::size();
  constexpr size_t kN = sizeof...(I);
  scalar_t in_buf[kN == 0 ? 1 : kN][kChunk];
  scalar_t out_buf[kChunk];
  for (int64_t begin = 0; begin < n; begin += kChunk) {
    const int64_t count = std::min(kChunk, n - begin);
    for (size_t k = 0; k < kN; ++k) {
      for (int64_t j = 0; j < count; ++j) {
        in_buf[k][j] = *reinterpret_cast<const scalar_t*>(data[k + 1] + (begin + j) * strides[k + 1]);
      }
    }
    const std::array<const char*, kN> in_p{reinterpret_cast<const char*>(in_buf[I])...};
    elementwise_vec_loop<scalar_t>(reinterpret_cast<char*>(out_buf), in_p, count, f, seq);
    for (int64_t j = 0; j < count; ++j) {
      *reinterpret_cast<scalar_t*>(data[0] + (begin + j) * strides[0]) = out_buf[j];
    }
  }
}

inline bool shares_dense_layout(const at::Tensor& out, std::initializer_list<at::Tensor> inputs) {
  if (!out.is_non_overlapping_and_dense()) {
    return false;
  }
  for (const auto& t : inputs) {
    if (!t.is_non_overlapping_and_dense() || t.strides() != out.strides()) {
      return false;
    }
  }
  return true;
}

// out = f(inputs...), elementwise; out and inputs have the same shape and dtype.
template <typename scalar_t, typename F, typename... Inputs>
void elementwise_kernel(const at::Tensor& out, const F& f, const Inputs&... inputs) {
  constexpr size_t kN = sizeof...(Inputs);
  using Seq = std::make_index_sequence<kN>;
  const int64_t numel = out.numel();
  if (numel == 0) {
    return;
  }
  if (shares_dense_layout(out, {inputs...})) {
    char* out_p = static_cast<char*>(out.data_ptr());
    const std::array<const char*, kN> in_p{static_cast<const char*>(inputs.const_data_ptr())...};
    // NB: in place (out is an input) the output lines are read anyway: no streaming.
    bool aliased = false;
    for (size_t k = 0; k < kN; ++k) {
      aliased = aliased || in_p[k] == out_p;
    }
    const int64_t out_bytes = numel * static_cast<int64_t>(sizeof(scalar_t));
    const bool stream = !aliased && use_streaming_stores(out_bytes * static_cast<int64_t>(kN + 1), out_p, out_bytes);
    at::parallel_for(0, numel, kGrainSize, [&](int64_t begin, int64_t end) {
      std::array<const char*, kN> in_b;
      for (size_t k = 0; k < kN; ++k) {
        in_b[k] = in_p[k] + begin * sizeof(scalar_t);
      }
      elementwise_vec_loop<scalar_t>(out_p + begin * sizeof(scalar_t), in_b, end - begin, f, Seq{}, stream);
      if (stream) {
        stream_fence();
      }
    });
    return;
  }
  at::TensorIteratorConfig config;
  config.add_output(out).check_all_same_dtype(true).resize_outputs(false);
  (config.add_const_input(inputs), ...);
  auto iter = config.build();
  iter.for_each(
      [&](char** data, const int64_t* strides, int64_t size0, int64_t size1) {
        std::array<char*, kN + 1> ptrs;
        for (size_t k = 0; k <= kN; ++k) {
          ptrs[k] = data[k];
        }
        bool unit = strides[0] == sizeof(scalar_t);
        for (size_t k = 1; k <= kN; ++k) {
          unit = unit && strides[k] == sizeof(scalar_t);
        }
        for (int64_t j = 0; j < size1; ++j) {
          if (unit) {
            std::array<const char*, kN> in_j;
            for (size_t k = 0; k < kN; ++k) {
              in_j[k] = ptrs[k + 1];
            }
            elementwise_vec_loop<scalar_t>(ptrs[0], in_j, size0, f, Seq{});
          } else {
            elementwise_strided_loop<scalar_t>(ptrs.data(), strides, size0, f, Seq{});
          }
          for (size_t k = 0; k <= kN; ++k) {
            ptrs[k] += strides[kN + 1 + k];  // the outer dimension's strides follow the inner ones
          }
        }
      },
      kGrainSize);
}

}  // namespace CPU_CAPABILITY
}  // namespace torch_ext::ops::cpu
