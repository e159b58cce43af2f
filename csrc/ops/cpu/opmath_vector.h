#pragma once
// Loads and stores of op-math vectors (float lanes for half/bfloat16) for the CPU kernels that walk rows of
// values by hand (cross_entropy, hsoftmax). Compiled once per CPU capability, as the kernels that include it.

#include <ATen/OpMathType.h>
#include <ATen/cpu/vec/functional.h>
#include <ATen/cpu/vec/vec.h>
#include <c10/macros/Macros.h>

#include <algorithm>
#include <type_traits>

namespace torch_ext::ops::cpu {
inline namespace CPU_CAPABILITY {

// count (1..V::size()) elements at p as op-math lanes; the other lanes 0.
template <typename scalar_t>
C10_ALWAYS_INLINE at::vec::Vectorized<at::opmath_type<scalar_t>> load_opmath(const scalar_t* p, int64_t count) {
  using A = at::opmath_type<scalar_t>;
  if constexpr (std::is_same_v<A, scalar_t>) {
    return at::vec::Vectorized<A>::loadu(p, count);
  } else {
    return std::get<0>(at::vec::convert_to_float<scalar_t>(at::vec::Vectorized<scalar_t>::loadu(p, count)));
  }
}

template <typename scalar_t>
C10_ALWAYS_INLINE void store_opmath(scalar_t* p, const at::vec::Vectorized<at::opmath_type<scalar_t>>& v,
                                    int64_t count) {
  using A = at::opmath_type<scalar_t>;
  if constexpr (std::is_same_v<A, scalar_t>) {
    v.store(p, count);
  } else {
    at::vec::convert_from_float<scalar_t>(v, v).store(p, count);
  }
}

// Calls f(i, count) for each op-math vector's worth of [0, n).
template <typename A, typename F>
C10_ALWAYS_INLINE void for_each_vector(int64_t n, const F& f) {
  constexpr int64_t kLanes = at::vec::Vectorized<A>::size();
  for (int64_t i = 0; i < n; i += kLanes) {
    f(i, std::min(kLanes, n - i));
  }
}

}  // namespace CPU_CAPABILITY
}  // namespace torch_ext::ops::cpu
