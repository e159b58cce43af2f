#pragma once
// The CPU elementwise loop shared by the activation kernels: out[i] = f(in_0[i], ..., in_k[i]).
// f is a generic callable that takes and returns op-math values (float for half/bfloat16) and
// is called both on scalars and on at::vec::Vectorized lanes (see vec_math.h).
//  - Tensors that share one dense layout (contiguous, channels_last, any dense permutation)
//    run as one flat vectorized loop split over threads with at::parallel_for.
//  - Any other strides go through TensorIterator, whose inner loop is vectorized when unit-strided.
// NB: compiled once per CPU capability; every name lives in the inline namespace CPU_CAPABILITY.

#include <ATen/Parallel.h>
#include <ATen/TensorIterator.h>
#include <ATen/cpu/vec/functional.h>
#include <ATen/cpu/vec/vec.h>
#include <ATen/OpMathType.h>

#include <algorithm>
#include <array>
#include <tuple>
#include <utility>

#include "vec_math.h"

namespace torch_ext::ops::cpu {
inline namespace CPU_CAPABILITY {

// Elements per parallel task; ATen's GRAIN_SIZE, so small tensors stay on one thread.
constexpr int64_t kGrainSize = at::internal::GRAIN_SIZE;

// Computes n elements of unit-strided arrays. Every element, the tail included, goes through
// the vector formula.
// NB: a scalar tail would use libm where the body uses Sleef (they differ by an ulp), and then
// an element's result would depend on where a thread's chunk happens to end.
template <typename scalar_t, typename F, size_t... I>
inline void elementwise_vec_loop(char* out, const std::array<const char*, sizeof...(I)>& in, int64_t n,
                                 const F& f, std::index_sequence<I...>) {
  using Vec = at::vec::Vectorized<scalar_t>;
  using opmath_t = at::opmath_type<scalar_t>;
  auto* out_p = reinterpret_cast<scalar_t*>(out);
  auto step = [&](int64_t i, int64_t count) {
    if constexpr (std::is_same_v<opmath_t, scalar_t>) {
      Vec r = f(Vec::loadu(reinterpret_cast<const scalar_t*>(in[I]) + i, count)...);
      r.store(out_p + i, count);
    } else {
      // Half and bfloat16: widen each vector to two float vectors, compute, narrow back.
      using FVec = at::vec::Vectorized<float>;
      std::array<std::tuple<FVec, FVec>, sizeof...(I)> wide{at::vec::convert_to_float<scalar_t>(
          Vec::loadu(reinterpret_cast<const scalar_t*>(in[I]) + i, count))...};
      FVec lo = f(std::get<0>(wide[I])...);
      FVec hi = f(std::get<1>(wide[I])...);
      at::vec::convert_from_float<scalar_t>(lo, hi).store(out_p + i, count);
    }
  };
  int64_t i = 0;
  for (; i + Vec::size() <= n; i += Vec::size()) {
    step(i, Vec::size());
  }
  if (i < n) {
    step(i, n - i);
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
    at::parallel_for(0, numel, kGrainSize, [&](int64_t begin, int64_t end) {
      std::array<const char*, kN> in_b;
      for (size_t k = 0; k < kN; ++k) {
        in_b[k] = in_p[k] + begin * sizeof(scalar_t);
      }
      elementwise_vec_loop<scalar_t>(out_p + begin * sizeof(scalar_t), in_b, end - begin, f, Seq{});
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
