// softmax and log_softmax on the CPU. This file is compiled once per CPU capability (DEFAULT, AVX2,
// AVX512; see CMakeLists.txt): each build registers its loops (cpu/isa_dispatch.h), and the
// DEFAULT build also holds the op-facing kernels, which pick the loops for this machine.
//
// Every kernel sees its (contiguous) tensors as [outer, dim_size, inner]:
//  - inner == 1 (the softmax dim is the last one): rows of dim_size elements, vectorized along the
//    row, rows shared between threads, three passes over a row with one exp per element: the max;
//    the sum of e = exp(x - max) (softmax keeps e: in the output, or in a float row buffer for
//    half/bfloat16 outputs); the output pass (softmax: e / sum; log_softmax: (x - max) - log(sum)).
//    Few long rows (fewer than kFewRows rows longer than kSegment): each row is cut into segments of
//    kSegment elements, each reduced to (max, sum) in one read with the online update of
//    math/softmax_math.h lane by lane (a block of kRowBlock vectors shares one rescale of the sum;
//    lanes merged with one vector exp), in parallel; the segments' states are merged in segment
//    order, then the segments are written in parallel.
//  - inner > 1: vectorized along inner (contiguous), each lane one inner position with its own max
//    and sum over dim_size, kept in a per-thread array. Work items are slabs (an outer index and a
//    chunk of inner positions over all dim_size rows; whole rows where they fit, one contiguous
//    block), in the same three passes as a row, the exps kept in the output or a per-thread buffer.
//    No transpose, no copy.
// Results do not depend on the thread count: along the last dim the work is cut by the shape alone
// and every reduction runs in one fixed order (horizontal reductions in vec_reduce_all's fixed
// shuffle tree); over other dims a lane reduces its position's column in order, whatever slab it is
// in. Long columns are summed in blocks of kSumRows rows. The backward kernels have the same two
// layouts, fused: a reduction pass (sum(g * y) for softmax, sum(g) for log_softmax), then the write
// pass.
//
// Types: In -> Out with op-math A = float (double for double). The forward runs (T -> T) or, for a
// half/bfloat16 input with dtype=float32, (T -> float) in one pass; the backward runs (T -> T) or
// (float -> T) for a float gradient of a half/bfloat16 input.

// NB: GCC 12 reports its own AVX512 intrinsics (avx512fintrin.h's deliberately undefined `__Y = __Y`
// vectors, in _mm512_max_ps and the bfloat16 widening) as uninitialized once they are inlined here.
#if defined(CPU_CAPABILITY_AVX512) && defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic ignored "-Wuninitialized"
#endif

#include <ATen/Dispatch.h>
#include <ATen/OpMathType.h>
#include <ATen/Parallel.h>
#include <ATen/cpu/vec/functional.h>
#include <ATen/cpu/vec/vec.h>
#include <ATen/ops/empty.h>
#include <torch/library.h>

#include <algorithm>
#include <array>
#include <cmath>
#include <limits>
#include <memory>
#include <optional>
#include <tuple>
#include <type_traits>
#include <vector>

#include "ops/common/integer_math.h"
#include "ops/cpu/elementwise.h"
#include "ops/cpu/isa_dispatch.h"
#include "ops/cpu/vec_math.h"
#include "ops/math/softmax_math.h"
#include "ops/internal/softmax.h"

namespace torch_ext::ops::cpu {

// out: contiguous, self's sizes; self: contiguous; dim: wrapped. (self, out) dtypes: (T, T) or
// (half/bfloat16, float).
struct SoftmaxKernel {
  using Fn = void (*)(const at::Tensor& out, const at::Tensor& self, int64_t dim, bool log);
};
// grad_input: contiguous, grad_output's sizes; grad_output, output: contiguous, one dtype; dim:
// wrapped. (grad_output, grad_input) dtypes: (T, T) or (float, half/bfloat16).
struct SoftmaxBackwardKernel {
  using Fn = void (*)(const at::Tensor& grad_input, const at::Tensor& grad_output,
                                               const at::Tensor& output, int64_t dim, bool log);
};

}  // namespace torch_ext::ops::cpu

namespace torch_ext::ops::cpu {
inline namespace CPU_CAPABILITY {
namespace {

using math::ScalarMath;
// NB: the float exp is vec_math.h's (inlined, <= 1.05 ulp measured over every float) rather than Sleef's call,
// which spilled every vector register in the row loops; log (once per row) stays Sleef's.
using M = FastVecMath;

// Op-math vectors per online-update block along a row: one rescale of the running sum (one exp)
// per block and lane.
constexpr int kRowBlock = 8;
// Last dim: a row is cut into segments of kSegment elements when there are fewer than kFewRows
// rows (so that a few long rows still spread over the threads). A multiple of any block's length.
constexpr int64_t kSegment = 8192;
constexpr int64_t kFewRows = 64;
// Other dims: a slab's inputs may span at least kSlabBytes, or half the last-level cache.
constexpr int64_t kSlabBytes = int64_t{2} << 20;
// Other dims: slabs are narrowed until the threads share them evenly or have this many each.
constexpr int64_t kSlabsPerThread = 4;
// Other dims: a slab's rows shorter than this are prefetched in its first pass.
constexpr int64_t kRunBytes = 4096;
// Other dims: rows per block of a per-lane sum (fold_block).
constexpr int64_t kSumRows = 64;

// Other dims: the first pass over a slab of short rows prefetches the row kPrefetchRows ahead. The
// rows are short runs (w elements) at a stride of inner elements, too short for the hardware
// prefetcher to follow. Measured with 256-byte runs at a 4 KiB stride (float32, 2 threads): 10-25 %
// faster with 8 rows ahead than with none; 16 rows were no better.
constexpr int64_t kPrefetchRows = 8;
template <typename T>
inline void prefetch_row(const T* row, int64_t d, int64_t dim_size, int64_t inner, int64_t w) {
  if (d + kPrefetchRows < dim_size) {
    const char* p = reinterpret_cast<const char*>(row + (d + kPrefetchRows) * inner);
    for (int64_t b = 0; b < w * static_cast<int64_t>(sizeof(T)); b += 64) {
      __builtin_prefetch(p + b);
    }
  }
}

template <typename A>
using AVec = at::vec::Vectorized<A>;

// The vector unit of a kernel reading In and writing Out in op-math A: one Vectorized<A>, or two
// when either side is half/bfloat16 (one Vectorized<half> holds two float vectors' elements).
template <typename In, typename Out>
struct Unit {
  using A = at::opmath_type<In>;
  static_assert(std::is_same_v<A, at::opmath_type<Out>>, "In and Out share an op-math type");
  static constexpr int kParts = (std::is_same_v<In, A> && std::is_same_v<Out, A>) ? 1 : 2;
  static constexpr int64_t kPartSize = AVec<A>::size();
  static constexpr int64_t kSize = kParts * kPartSize;
  using Parts = std::array<AVec<A>, kParts>;
};

// Lanes of part k that hold one of the first n elements of a unit.
template <typename A>
C10_ALWAYS_INLINE int64_t part_count(int k, int64_t n) {
  return std::clamp<int64_t>(n - k * AVec<A>::size(), 0, AVec<A>::size());
}

// The first n (1..kParts * size) elements at p as op-math vectors; the lanes past n hold `pad`.
template <int kParts, typename T, typename A>
C10_ALWAYS_INLINE std::array<AVec<A>, kParts> load_parts(const T* p, int64_t n, A pad) {
  constexpr int64_t F = AVec<A>::size();
  std::array<AVec<A>, kParts> v;
  if constexpr (!std::is_same_v<T, A>) {
    static_assert(kParts == 2 && at::vec::Vectorized<T>::size() == 2 * F, "a reduced vector is two float vectors");
    const auto raw = n == 2 * F ? at::vec::Vectorized<T>::loadu(p) : at::vec::Vectorized<T>::loadu(p, n);
    std::tie(v[0], v[1]) = at::vec::convert_to_float<T>(raw);
  } else {
    for (int k = 0; k < kParts; ++k) {
      const int64_t c = part_count<A>(k, n);
      v[k] = c == F ? AVec<A>::loadu(p + k * F) : (c > 0 ? AVec<A>::loadu(p + k * F, c) : AVec<A>(pad));
    }
  }
  if (n < kParts * F) {
    for (int k = 0; k < kParts; ++k) {
      const int64_t c = part_count<A>(k, n);
      if (c < F) {
        v[k] = AVec<A>::set(AVec<A>(pad), v[k], c);
      }
    }
  }
  return v;
}

template <typename T>
C10_ALWAYS_INLINE bool vector_aligned(const T* p) {
  return reinterpret_cast<uintptr_t>(p) % sizeof(at::vec::Vectorized<T>) == 0;
}

// Stores the first n elements of v at p, rounded to T. With `stream` (the output does not fit in the
// last-level cache), a full vector at an aligned address bypasses the caches: no read of the line
// before it is written (elementwise.h). The caller fences before its parallel region ends.
template <int kParts, typename T, typename A>
C10_ALWAYS_INLINE void store_parts(T* p, const std::array<AVec<A>, kParts>& v, int64_t n, bool stream = false) {
  constexpr int64_t F = AVec<A>::size();
  if constexpr (!std::is_same_v<T, A>) {
    static_assert(kParts == 2, "a reduced vector is two float vectors");
    const auto raw = at::vec::convert_from_float<T>(v[0], v[1]);
    if (n == 2 * F) {
      if (stream && vector_aligned(p)) {
        stream_store(p, raw);
      } else {
        raw.store(p);
      }
    } else {
      raw.store(p, n);
    }
  } else {
    for (int k = 0; k < kParts; ++k) {
      const int64_t c = part_count<A>(k, n);
      if (c == F) {
        if (stream && vector_aligned(p + k * F)) {
          stream_store(p + k * F, v[k]);
        } else {
          v[k].store(p + k * F);
        }
      } else if (c > 0) {
        v[k].store(p + k * F, c);
      }
    }
  }
}

// Calls f(u, n) for each unit u of a row (or of a slab's row) of w elements, n its element count: the
// full units with n a compile-time kSize (so that load_parts/store_parts drop their masks and
// branches), then the partial unit, if any, with a run-time n.
template <int64_t kSize, typename F>
C10_ALWAYS_INLINE void for_each_unit(int64_t w, const F& f) {
  const int64_t full = w / kSize;
  for (int64_t u = 0; u < full; ++u) {
    f(u, std::integral_constant<int64_t, kSize>());
  }
  if (full * kSize < w) {
    f(full, w - full * kSize);
  }
}

// The element count of unit u of a slab row of w elements, for the slab kernels' first pass, which
// reads the slab from DRAM (or the LLC): there, a loop over units with this run-time count was faster
// than for_each_unit's compile-time one. [32, 256, 1024] over dim 1, one thread, three runs each,
// alternating builds: log_softmax bwd 3.8-4.5 against 5.5-6.3 ms, softmax bwd 4.7-5.3 against
// 5.5-5.9 ms, log_softmax fwd 4.4-4.5 against 4.8-5.0 ms. Why is not understood (the compile-time
// loop is the shorter one); the later passes, rereading from cache, are faster with for_each_unit.
template <int64_t kSize>
C10_ALWAYS_INLINE int64_t first_pass_count(int64_t u, int64_t w) {
  return std::min(kSize, w - u * kSize);
}

// The per-lane online update with a block of vectors: one new max, one rescale of the sum.
// With one vector this is math::softmax_update.
template <typename V, size_t N>
C10_ALWAYS_INLINE void update_block(V& max, V& sum, const std::array<V, N>& x) {
  V block_max = x[0];
  for (size_t j = 1; j < N; ++j) {
    block_max = M::maximum(block_max, x[j]);
  }
  const V m = M::maximum(max, block_max);
  V s = sum * math::softmax_shifted_exp<M>(max, m);
  for (size_t j = 0; j < N; ++j) {
    s = s + math::softmax_shifted_exp<M>(x[j], m);
  }
  max = m;
  sum = s;
}

template <typename V>
typename V::value_type reduce_max(const V& v) {
  return at::vec::vec_reduce_all<typename V::value_type>([](const V& a, const V& b) { return M::maximum(a, b); }, v);
}

template <typename V>
typename V::value_type reduce_sum(const V& v) {
  return at::vec::vec_reduce_all<typename V::value_type>([](const V& a, const V& b) { return a + b; }, v);
}

// The row's (max, sum) from per-lane states: the lanes' sums rescaled to the row's max (one vector
// exp), then added by vec_reduce_all's fixed shuffle tree.
template <typename A>
math::SoftmaxState<A> merge_lanes(const AVec<A>& max, const AVec<A>& sum) {
  const A m = reduce_max(max);
  return {m, reduce_sum(sum * math::softmax_shifted_exp<M>(max, AVec<A>(m)))};
}

// Merges states in order.
template <typename A>
math::SoftmaxState<A> merge_states(const math::SoftmaxState<A>* st, int64_t n) {
  math::SoftmaxState<A> r = st[0];
  for (int64_t i = 1; i < n; ++i) {
    math::softmax_merge<ScalarMath>(r.max, r.sum, st[i].max, st[i].sum);
  }
  return r;
}

// ---------------------------------------------------------------------------------------------
// Forward, last dim

// (max, sum) of n contiguous elements, in one read.
template <typename In, typename Out>
math::SoftmaxState<typename Unit<In, Out>::A> reduce_row(const In* x, int64_t n) {
  using U = Unit<In, Out>;
  using A = typename U::A;
  using V = AVec<A>;
  constexpr A kNegInf = -std::numeric_limits<A>::infinity();
  constexpr int kUnits = kRowBlock / U::kParts;
  V max(kNegInf), sum(A(0));
  int64_t i = 0;
  constexpr int64_t kStep = kUnits * U::kSize;
  for (; i + kStep <= n; i += kStep) {
    std::array<V, kRowBlock> v;
    for (int b = 0; b < kUnits; ++b) {
      const auto parts = load_parts<U::kParts>(x + i + b * U::kSize, U::kSize, kNegInf);
      for (int k = 0; k < U::kParts; ++k) {
        v[b * U::kParts + k] = parts[k];
      }
    }
    update_block(max, sum, v);
  }
  // NB: the tail runs through the same vector formulas (lanes past n read as -inf, which leave a
  // lane's state unchanged), never a scalar loop: Sleef and libm differ in the last bit.
  for (; i < n; i += U::kSize) {
    const auto parts = load_parts<U::kParts>(x + i, std::min(U::kSize, n - i), kNegInf);
    for (int k = 0; k < U::kParts; ++k) {
      math::softmax_update<M>(max, sum, parts[k]);
    }
  }
  return merge_lanes(max, sum);
}

// y[0, n) from x[0, n) and the row's (max, sum).
template <bool kLog, typename In, typename Out>
void write_row(Out* y, const In* x, int64_t n, math::SoftmaxState<typename Unit<In, Out>::A> st, bool stream = false) {
  using U = Unit<In, Out>;
  using A = typename U::A;
  using V = AVec<A>;
  const V max(st.max);
  // inv_sum = 1 / s, log_sum = log(s): once per row.
  const V c(kLog ? ScalarMath::log(st.sum) : A(1) / st.sum);
  for_each_unit<U::kSize>(n, [&](int64_t u, auto cnt) {
    const int64_t i = u * U::kSize;
    auto parts = load_parts<U::kParts>(x + i, cnt, A(0));
    for (int k = 0; k < U::kParts; ++k) {
      if constexpr (kLog) {
        parts[k] = math::log_softmax_output<M>(parts[k], max, c);
      } else {
        parts[k] = math::softmax_output<M>(parts[k], max, c);
      }
    }
    store_parts<U::kParts>(y + i, parts, cnt, stream);
  });
}

// softmax of one row in three passes with one exp per element: the max; e = exp(x - max) (the
// numerator of math::softmax_output), stored in e (y itself when Out is the op-math type) and summed
// in kParts vector accumulators; then y = e * (1 / sum).
template <typename In, typename Out>
void softmax_row(Out* y, const In* x, int64_t n, typename Unit<In, Out>::A* e, bool stream = false) {
  using U = Unit<In, Out>;
  using A = typename U::A;
  using V = AVec<A>;
  constexpr int kParts = U::kParts;
  constexpr A kNegInf = -std::numeric_limits<A>::infinity();
  V vmax(kNegInf);
  for_each_unit<U::kSize>(n, [&](int64_t u, auto cnt) {
    const auto parts = load_parts<kParts>(x + u * U::kSize, cnt, kNegInf);
    for (int k = 0; k < kParts; ++k) {
      vmax = M::maximum(vmax, parts[k]);
    }
  });
  const V max(reduce_max(vmax));
  // NB: lanes past n read as -inf add exp(-inf - max) = 0 to the sum (or NaN where max is -inf or
  // NaN, whose rows are NaN anyway).
  V acc(A(0));
  for_each_unit<U::kSize>(n, [&](int64_t u, auto cnt) {
    const int64_t i = u * U::kSize;
    auto parts = load_parts<kParts>(x + i, cnt, kNegInf);
    for (int k = 0; k < kParts; ++k) {
      parts[k] = M::exp(parts[k] - max);
      acc = acc + parts[k];
    }
    store_parts<kParts>(e + i, parts, cnt);
  });
  const V inv(A(1) / reduce_sum(acc));
  for_each_unit<U::kSize>(n, [&](int64_t u, auto cnt) {
    const int64_t i = u * U::kSize;
    auto parts = load_parts<kParts>(e + i, cnt, A(0));
    for (int k = 0; k < kParts; ++k) {
      parts[k] = parts[k] * inv;
    }
    store_parts<kParts>(y + i, parts, cnt, stream);
  });
}

// log_softmax of one row in three passes with one exp per element: the max; sum = sum exp(x - max);
// then y = (x - max) - log(sum).
template <typename In, typename Out>
void log_softmax_row(Out* y, const In* x, int64_t n, bool stream = false) {
  using U = Unit<In, Out>;
  using A = typename U::A;
  using V = AVec<A>;
  constexpr int kParts = U::kParts;
  constexpr A kNegInf = -std::numeric_limits<A>::infinity();
  V vmax(kNegInf);
  for_each_unit<U::kSize>(n, [&](int64_t u, auto cnt) {
    const auto parts = load_parts<kParts>(x + u * U::kSize, cnt, kNegInf);
    for (int k = 0; k < kParts; ++k) {
      vmax = M::maximum(vmax, parts[k]);
    }
  });
  const A m = reduce_max(vmax);
  const V max(m);
  V acc(A(0));
  for_each_unit<U::kSize>(n, [&](int64_t u, auto cnt) {
    const auto parts = load_parts<kParts>(x + u * U::kSize, cnt, kNegInf);
    for (int k = 0; k < kParts; ++k) {
      acc = acc + M::exp(parts[k] - max);
    }
  });
  write_row<true>(y, x, n, math::SoftmaxState<A>{m, reduce_sum(acc)}, stream);
}

template <bool kLog, typename In, typename Out>
void softmax_lastdim(Out* y, const In* x, int64_t rows, int64_t n) {
  using A = typename Unit<In, Out>::A;
  // Past the last-level cache the output pass writes with streaming stores.
  const bool stream = use_streaming_stores(rows * n * static_cast<int64_t>(sizeof(In) + sizeof(Out)), y,
                                           rows * n * static_cast<int64_t>(sizeof(Out)));
  if (rows >= kFewRows || n <= kSegment) {
    at::parallel_for(0, rows, std::max<int64_t>(1, kGrainSize / n), [&](int64_t begin, int64_t end) {
      // softmax's exps: in the output when it holds op-math values and stays in cache, else in a row
      // buffer (L1 or L2) that the output pass reads.
      const bool in_output = std::is_same_v<Out, A> && !stream;
      std::vector<A> buffer(kLog || in_output ? 0 : n);
      for (int64_t r = begin; r < end; ++r) {
        const In* xr = x + r * n;
        Out* yr = y + r * n;
        if constexpr (kLog) {
          log_softmax_row(yr, xr, n, stream);
        } else if constexpr (std::is_same_v<Out, A>) {
          softmax_row(yr, xr, n, in_output ? reinterpret_cast<A*>(yr) : buffer.data(), stream);
        } else {
          softmax_row(yr, xr, n, buffer.data(), stream);
        }
      }
      if (stream) {
        stream_fence();
      }
    });
    return;
  }
  // Few long rows: (row, segment) items, reduced online in parallel, then written in parallel.
  const int64_t segments = ceil_div(n, kSegment);
  const int64_t items = rows * segments;
  const int64_t grain = std::max<int64_t>(1, kGrainSize / kSegment);
  std::vector<math::SoftmaxState<A>> states(items);
  at::parallel_for(0, items, grain, [&](int64_t begin, int64_t end) {
    for (int64_t it = begin; it < end; ++it) {
      const int64_t off = (it / segments) * n + (it % segments) * kSegment;
      states[it] = reduce_row<In, Out>(x + off, std::min(kSegment, n - (it % segments) * kSegment));
    }
  });
  at::parallel_for(0, items, grain, [&](int64_t begin, int64_t end) {
    for (int64_t it = begin; it < end; ++it) {
      const int64_t row = it / segments;
      const int64_t s0 = (it % segments) * kSegment;
      const int64_t off = row * n + s0;
      write_row<kLog>(y + off, x + off, std::min(kSegment, n - s0),
                      merge_states(states.data() + row * segments, segments), stream);
    }
    if (stream) {
      stream_fence();
    }
  });
}

// ---------------------------------------------------------------------------------------------
// Other dims: [outer, dim_size, inner], vectorized along inner

// A work item is a slab: one outer index, dim_size rows of w inner positions (a stride of inner
// apart). Each lane is one inner position with its own reductions over the dim, kept in a per-thread
// array of op-math values (not in registers), so that a slab can be whole rows: one contiguous
// block, which the hardware prefetcher follows. A lane's result does not depend on w (the same
// operations in the same order), so w may depend on the thread count.
struct Slabs {
  int64_t width;   // w: inner positions per slab (the last slab of a row may be narrower)
  int64_t chunks;  // slabs per outer index
  int64_t state;   // op-math values per per-lane quantity: w rounded up to whole units
  bool prefetch;   // the rows are short runs apart: prefetched in the slab's first pass
  int64_t parts;   // row parts per slab, one task each (for_each_slab_split); 1: a slab is one task
};

// Whole rows while what a thread rereads (reread_bytes per element: every input, and buffer, of
// every slab in flight) fits in half the last-level cache, so that the later passes find it in
// cache; else as wide as fits, never narrower than one unit. Then narrowed while the threads cannot
// share the slabs evenly (fewer than kSlabsPerThread per thread and not a multiple of the thread
// count). Rows are prefetched where they are runs shorter than kRunBytes of elem_bytes elements.
// Measured at [32, 256, 1024] over dim 1, float32, 2 threads: whole rows (4 KiB runs, one
// contiguous MiB per input) against 256-byte runs, the width before, are 1.2-1.6x faster;
// 1 and 2 KiB runs are slower than either.
// With fewer slabs than threads (a few outer indices), and where the caller allows it (split), the
// slabs' rows are cut into parts instead, at kSumRows blocks, each part at least kGrainSize elements:
// threads that share a slab's columns share its pages too. A C++ loop of softmax's backward over
// [256, 1024], 2 threads, warm cache: row halves 31-38 us, column halves 43-162 us (one thread: 56 us).
Slabs slab_shape(int64_t outer, int64_t dim_size, int64_t inner, int64_t unit, int64_t elem_bytes,
                 int64_t reread_bytes, bool split) {
  const auto round_to_units = [&](int64_t w) { return std::max(unit, w / unit * unit); };
  const int64_t fit = std::max(kSlabBytes, llc_bytes() / 2) / (dim_size * reread_bytes);
  int64_t w = fit >= inner ? inner : round_to_units(fit);
  const int64_t threads = at::get_num_threads();
  const auto shape = [&](int64_t parts) {
    return Slabs{w, ceil_div(inner, w), ceil_div(w, unit) * unit, w < inner && w * elem_bytes < kRunBytes, parts};
  };
  const int64_t slabs = outer * ceil_div(inner, w);
  const int64_t parts = std::min({ceil_div(threads, slabs), ceil_div(dim_size, kSumRows), dim_size * w / kGrainSize});
  if (split && slabs < threads && parts > 1) {
    return shape(parts);
  }
  const auto uneven = [&](int64_t n) { return n < kSlabsPerThread * threads && n % threads != 0; };
  while (w > unit && uneven(outer * ceil_div(inner, w))) {
    w = round_to_units(ceil_div(w, 2));
  }
  return shape(1);
}

// The slabs a thread works on at once with kernel K (for_each_slab).
template <typename K>
constexpr int slabs_in_flight() {
  return K::kPipelined ? K::kPasses : 1;
}

// The kernel of slab k (outer index k / sl.chunks, columns from (k % sl.chunks) * sl.width), built by
// make(scratch, offset, w) on `scratch`.
template <typename A, typename Make>
auto make_slab(const Make& make, const Slabs& sl, int64_t k, int64_t dim_size, int64_t inner, A* scratch) {
  const int64_t i0 = (k % sl.chunks) * sl.width;
  return make(scratch, (k / sl.chunks) * dim_size * inner + i0, std::min(sl.width, inner - i0));
}

template <typename A, typename Make>
void for_each_slab_split(const Slabs& sl, int64_t outer, int64_t dim_size, int64_t inner, int64_t slot_values,
                         bool stream, const Make& make);

// Runs every slab through a kernel of K::kPasses passes over its rows, in parallel, and fences
// streaming stores before the parallel region ends. make(scratch, offset, w) builds a slab's kernel
// on a scratch slot of slot_values op-math values. A kernel with K::kPipelined runs software-pipelined
// within a thread: step t runs row d of pass p of slab t - p, for every d and p, so that one slab's
// first pass (reading from DRAM) runs beside the later passes of the slabs before it (rereading
// them from cache, streaming out); each pass of a slab still follows its previous pass over all rows.
// Slabs cut into row parts (sl.parts > 1) go to for_each_slab_split.
template <typename A, typename Make>
void for_each_slab(const Slabs& sl, int64_t outer, int64_t dim_size, int64_t inner, int64_t slot_values, bool stream,
                   const Make& make) {
  if (sl.parts > 1) {
    for_each_slab_split<A>(sl, outer, dim_size, inner, slot_values, stream, make);
    return;
  }
  using K = decltype(make(static_cast<A*>(nullptr), int64_t{0}, int64_t{0}));
  constexpr int P = slabs_in_flight<K>();
  const int64_t grain = std::max<int64_t>(1, kGrainSize / (dim_size * sl.width));
  at::parallel_for(0, outer * sl.chunks, grain, [&](int64_t begin, int64_t end) {
    // NB: not zeroed (a std::vector would write it all first); each kernel sets its state.
    const std::unique_ptr<A[]> scratch(new A[P * slot_values]);
    std::array<std::optional<K>, P> ring;
    const auto start = [&](int64_t k) {
      ring[k % P].emplace(make_slab(make, sl, k, dim_size, inner, scratch.get() + (k % P) * slot_values));
    };
    if constexpr (!K::kPipelined) {
      for (int64_t k = begin; k < end; ++k) {
        start(k);
        for (int p = 0; p < K::kPasses; ++p) {
          for (int64_t d = 0; d < dim_size; ++d) {
            ring[k % P]->row(p, d);
          }
          ring[k % P]->end_pass(p);
        }
      }
    } else {
      for (int64_t t = begin; t < end + P - 1; ++t) {
        if (t < end) {
          start(t);
        }
        const int64_t first = std::max(begin, t - P + 1), last = std::min(end - 1, t);  // the slabs in flight
        for (int64_t d = 0; d < dim_size; ++d) {
          for (int64_t k = first; k <= last; ++k) {
            ring[k % P]->row(static_cast<int>(t - k), d);
          }
        }
        for (int64_t k = first; k <= last; ++k) {
          ring[k % P]->end_pass(static_cast<int>(t - k));
        }
      }
    }
    if (stream) {
      stream_fence();
    }
  });
}

// Vector j of a per-lane state array.
template <typename A>
C10_ALWAYS_INLINE AVec<A> load_state(const A* state, int64_t j) {
  return AVec<A>::loadu(state + j * AVec<A>::size());
}

template <typename A>
C10_ALWAYS_INLINE void store_state(A* state, int64_t j, const AVec<A>& v) {
  v.store(state + j * AVec<A>::size());
}

// Per-lane sums over the dim add a block of kSumRows rows on its own, then the block's sum to the
// total (and zero the block), at the end of every block and of the dim: the rounding error of a
// long column grows with kSumRows + dim_size / kSumRows, not with dim_size.
template <typename A>
C10_ALWAYS_INLINE void fold_block(A* total, A* block, int64_t vectors, int64_t d, int64_t dim_size) {
  if ((d + 1) % kSumRows == 0 || d + 1 == dim_size) {
    for (int64_t j = 0; j < vectors; ++j) {
      store_state(total, j, load_state(total, j) + load_state(block, j));
      store_state(block, j, AVec<A>(A(0)));
    }
  }
}

// for_each_slab with sl.parts > 1: the rows of each slab are cut into sl.parts parts at kSumRows
// blocks, one task each. Every pass but the last is a reduction into the kernel's reduced(pass)
// array and runs as its own parallel region; its partials are merged in order, per slab: the parts'
// maxima (K::reduces_by_max), or the sums of the 64-row blocks, added as fold_block adds them. So
// each lane's value is the unsplit slab's, bit for bit. A kernel built for a later pass gets the
// merged arrays (and end_pass) of the passes before it. The last pass writes each part's rows.
// NB: a kernel must keep nothing else between passes (softmax's exps in a scratch buffer: no split).
template <typename A, typename Make>
void for_each_slab_split(const Slabs& sl, int64_t outer, int64_t dim_size, int64_t inner, int64_t slot_values,
                         bool stream, const Make& make) {
  using K = decltype(make(static_cast<A*>(nullptr), int64_t{0}, int64_t{0}));
  using V = AVec<A>;
  const int64_t items = outer * sl.chunks, parts = sl.parts, blocks = ceil_div(dim_size, kSumRows);
  const int64_t vectors = sl.state / V::size();
  const auto first_block = [&](int64_t p) { return p * blocks / parts; };
  std::vector<A> merged((K::kPasses - 1) * items * sl.state);
  std::vector<A> partial(items * std::max(parts, blocks) * sl.state);
  const auto state_of = [&](std::vector<A>& v, int64_t i) { return v.data() + i * sl.state; };
  // Runs pass `pass` of every part: f(kernel, item, part, first row, end row).
  const auto run_pass = [&](int pass, const auto& f) {
    at::parallel_for(0, items * parts, 1, [&](int64_t begin, int64_t end) {
      const std::unique_ptr<A[]> scratch(new A[slot_values]);
      for (int64_t t = begin; t < end; ++t) {
        const int64_t item = t / parts, p = t % parts;
        K k = make_slab(make, sl, item, dim_size, inner, scratch.get());
        for (int q = 0; q < pass; ++q) {
          std::copy_n(state_of(merged, q * items + item), sl.state, k.reduced(q));
          k.end_pass(q);
        }
        f(k, item, p, first_block(p) * kSumRows, std::min(dim_size, first_block(p + 1) * kSumRows));
      }
      if (stream) {
        stream_fence();
      }
    });
  };
  for (int q = 0; q < K::kPasses - 1; ++q) {
    run_pass(q, [&](K& k, int64_t item, int64_t p, int64_t d0, int64_t d1) {
      if (K::reduces_by_max(q)) {
        for (int64_t d = d0; d < d1; ++d) {
          k.row(q, d);
        }
        std::copy_n(k.reduced(q), sl.state, state_of(partial, item * parts + p));
        return;
      }
      // One block at a time from a zero total: the kernel's fold leaves 0 + (the block's sum).
      for (int64_t b = first_block(p); b < first_block(p + 1); ++b) {
        std::fill_n(k.reduced(q), sl.state, A(0));
        for (int64_t d = b * kSumRows; d < std::min(dim_size, (b + 1) * kSumRows); ++d) {
          k.row(q, d);
        }
        std::copy_n(k.reduced(q), sl.state, state_of(partial, item * blocks + b));
      }
    });
    // NB: a sum starts from the first block's partial, not from 0: that partial is 0 + a sum, never
    // -0, so 0 + it is itself.
    const bool by_max = K::reduces_by_max(q);
    const int64_t n = by_max ? parts : blocks;
    at::parallel_for(0, items, 1, [&](int64_t begin, int64_t end) {
      for (int64_t item = begin; item < end; ++item) {
        for (int64_t j = 0; j < vectors; ++j) {
          V acc = load_state(state_of(partial, item * n), j);
          for (int64_t i = 1; i < n; ++i) {
            const V v = load_state(state_of(partial, item * n + i), j);
            acc = by_max ? M::maximum(acc, v) : acc + v;
          }
          store_state(state_of(merged, q * items + item), j, acc);
        }
      }
    });
  }
  run_pass(K::kPasses - 1, [&](K& k, int64_t, int64_t, int64_t d0, int64_t d1) {
    for (int64_t d = d0; d < d1; ++d) {
      k.row(K::kPasses - 1, d);
    }
  });
}

// One slab in three passes with one exp per element, as a row of the last dim: the per-lane max
// over dim_size; the per-lane sum of e = exp(x - max); the output pass (softmax: e / sum, with e
// kept from the second pass in `e`, dim_size rows of w, or in y itself where y is the op-math type
// and does not stream; log_softmax: (x - max) - log(sum)). Its scratch holds the per-lane max, sum
// and block sum (state values each), then e.
template <bool kLog, typename In, typename Out>
struct SoftmaxSlab {
  using U = Unit<In, Out>;
  using A = typename U::A;
  using V = AVec<A>;
  static constexpr int kParts = U::kParts;
  static constexpr int kPasses = 3;
  // NB: not pipelined: measured 0-5 % slower (log_softmax up to 50 % in some runs) at [32, 256, 1024]
  // over dim 1, float32, 2 threads; its second pass is exp-bound, not waiting on memory.
  static constexpr bool kPipelined = false;

  Out* y;
  const In* x;
  int64_t dim_size, inner, w, units;
  A *max, *sum, *block, *e;
  bool prefetch, stream;

  SoftmaxSlab(Out* y, const In* x, int64_t dim_size, int64_t inner, int64_t w, const Slabs& sl, A* scratch,
              bool buffered, bool stream)
      : y(y), x(x), dim_size(dim_size), inner(inner), w(w), units(ceil_div(w, U::kSize)), max(scratch),
        sum(scratch + sl.state), block(scratch + 2 * sl.state), e(buffered ? scratch + 3 * sl.state : nullptr),
        prefetch(sl.prefetch), stream(stream) {
    for (int64_t j = 0; j < units * kParts; ++j) {
      store_state(max, j, V(-std::numeric_limits<A>::infinity()));
      store_state(sum, j, V(A(0)));
      store_state(block, j, V(A(0)));
    }
  }

  // Where softmax keeps the exps of unit u of row d.
  A* exps(int64_t d, int64_t u) const {
    if constexpr (std::is_same_v<Out, A>) {
      if (e == nullptr) {
        return y + d * inner + u * U::kSize;
      }
    }
    return e + d * w + u * U::kSize;
  }

  void row(int pass, int64_t d) {
    // NB: members read into locals once per row. The vector stores below may alias anything (the
    // intrinsics' vector types are may_alias), so the compiler reloaded the members after each one.
    const In* xr = x + d * inner;
    A *const mx = max, *const sm = sum, *const bl = block;
    if (pass == 0) {
      if (prefetch) {
        prefetch_row(x, d, dim_size, inner, w);
      }
      // NB: a run-time count here, not for_each_unit: see first_pass_count.
      for (int64_t u = 0; u < units; ++u) {
        const int64_t n = first_pass_count<U::kSize>(u, w);
        const auto parts = load_parts<kParts>(xr + u * U::kSize, n, -std::numeric_limits<A>::infinity());
        for (int k = 0; k < kParts; ++k) {
          const int64_t j = u * kParts + k;
          store_state(mx, j, M::maximum(load_state(mx, j), parts[k]));
        }
      }
    } else if (pass == 1) {
      for_each_unit<U::kSize>(w, [&](int64_t u, auto n) {
        auto parts = load_parts<kParts>(xr + u * U::kSize, n, A(0));
        for (int k = 0; k < kParts; ++k) {
          const int64_t j = u * kParts + k;
          parts[k] = M::exp(parts[k] - load_state(mx, j));
          store_state(bl, j, load_state(bl, j) + parts[k]);
        }
        if constexpr (!kLog) {
          store_parts<kParts>(exps(d, u), parts, n);
        }
      });
      fold_block(sm, bl, units * kParts, d, dim_size);
    } else {
      Out* const yr = y + d * inner;
      const bool st = stream;
      for_each_unit<U::kSize>(w, [&](int64_t u, auto n) {
        typename U::Parts parts;
        if constexpr (kLog) {
          parts = load_parts<kParts>(xr + u * U::kSize, n, A(0));
        } else {
          parts = load_parts<kParts>(exps(d, u), n, A(0));
        }
        for (int k = 0; k < kParts; ++k) {
          const int64_t j = u * kParts + k;
          if constexpr (kLog) {
            parts[k] = math::log_softmax_output<M>(parts[k], load_state(mx, j), load_state(sm, j));
          } else {
            parts[k] = parts[k] * load_state(sm, j);
          }
        }
        store_parts<kParts>(yr + u * U::kSize, parts, n, st);
      });
    }
  }

  // The array pass `pass` reduces into, and whether by max (for_each_slab_split merges the parts').
  A* reduced(int pass) const { return pass == 0 ? max : sum; }
  static constexpr bool reduces_by_max(int pass) { return pass == 0; }

  // After the sums: sum becomes 1 / sum (softmax) or log(sum) (log_softmax), per lane.
  void end_pass(int pass) {
    if (pass == 1) {
      for (int64_t j = 0; j < units * kParts; ++j) {
        store_state(sum, j, kLog ? M::log(load_state(sum, j)) : V(A(1)) / load_state(sum, j));
      }
    }
  }
};

template <bool kLog, typename In, typename Out>
void softmax_inner(Out* y, const In* x, int64_t outer, int64_t dim_size, int64_t inner) {
  using A = typename Unit<In, Out>::A;
  // Past the last-level cache the output pass streams. softmax keeps its exps in the output only
  // where that is the op-math type and stays in cache; else in a per-thread buffer, counted in the
  // slab's inputs.
  const bool stream = use_streaming_stores(outer * dim_size * inner * static_cast<int64_t>(sizeof(In) + sizeof(Out)),
                                           y, outer * dim_size * inner * static_cast<int64_t>(sizeof(Out)));
  const bool buffered = !kLog && (stream || !std::is_same_v<Out, A>);
  const Slabs sl = slab_shape(outer, dim_size, inner, Unit<In, Out>::kSize, sizeof(In),
                              sizeof(In) + (buffered ? sizeof(A) : 0), /*split=*/!buffered);
  for_each_slab<A>(sl, outer, dim_size, inner, 3 * sl.state + (buffered ? dim_size * sl.width : 0), stream,
                   [&](A* scratch, int64_t off, int64_t w) {
                     return SoftmaxSlab<kLog, In, Out>(y + off, x + off, dim_size, inner, w, sl, scratch, buffered,
                                                       stream);
                   });
}

// ---------------------------------------------------------------------------------------------
// Backward: grad_input from (grad_output g, output y); softmax needs sum(g * y), log_softmax sum(g)

// acc plus the reduction's term: acc + g * y (softmax) or acc + g (log_softmax). NB: the softmax term is
// one explicit FMA, so that its rounding does not depend on whether the compiler contracts a * b + c
// in a given loop (it did in some and not in others).
template <bool kLog, typename V>
C10_ALWAYS_INLINE V add_backward_term(const V& acc, const V& g, const V& y) {
  if constexpr (kLog) {
    return acc + g;
  } else {
    return at::vec::fmadd(g, y, acc);
  }
}

template <bool kLog, typename V>
C10_ALWAYS_INLINE V backward_output(const V& g, const V& y, const V& red) {
  if constexpr (kLog) {
    return math::log_softmax_backward_output<M>(g, y, red);
  } else {
    return math::softmax_backward_output<M>(g, y, red);
  }
}

// sum(g * y) or sum(g) over n contiguous elements: kRowBlock accumulators over whole blocks, folded
// in order, then the rest; a fixed order for a given n.
template <bool kLog, typename In, typename Out>
typename Unit<In, Out>::A reduce_backward_row(const In* g, const In* y, int64_t n) {
  using U = Unit<In, Out>;
  using A = typename U::A;
  using V = AVec<A>;
  constexpr int kUnits = kRowBlock / U::kParts;
  constexpr int64_t kStep = kUnits * U::kSize;
  V total(A(0));
  int64_t i = 0;
  if (n >= kStep) {
    std::array<V, kRowBlock> acc;
    acc.fill(V(A(0)));
    for (; i + kStep <= n; i += kStep) {
      for (int b = 0; b < kUnits; ++b) {
        const auto gv = load_parts<U::kParts>(g + i + b * U::kSize, U::kSize, A(0));
        const auto yv = load_parts<U::kParts>(y + i + b * U::kSize, U::kSize, A(0));
        for (int k = 0; k < U::kParts; ++k) {
          acc[b * U::kParts + k] = add_backward_term<kLog>(acc[b * U::kParts + k], gv[k], yv[k]);
        }
      }
    }
    total = acc[0];
    for (int j = 1; j < kRowBlock; ++j) {
      total = total + acc[j];
    }
  }
  for (; i < n; i += U::kSize) {
    const int64_t cnt = std::min(U::kSize, n - i);
    const auto gv = load_parts<U::kParts>(g + i, cnt, A(0));
    const auto yv = load_parts<U::kParts>(y + i, cnt, A(0));
    for (int k = 0; k < U::kParts; ++k) {
      total = add_backward_term<kLog>(total, gv[k], yv[k]);
    }
  }
  return reduce_sum(total);
}

template <bool kLog, typename In, typename Out>
void write_backward_row(Out* gx, const In* g, const In* y, int64_t n, typename Unit<In, Out>::A red,
                        bool stream = false) {
  using U = Unit<In, Out>;
  using A = typename U::A;
  using V = AVec<A>;
  const V r(red);
  for_each_unit<U::kSize>(n, [&](int64_t u, auto cnt) {
    const int64_t i = u * U::kSize;
    const auto gv = load_parts<U::kParts>(g + i, cnt, A(0));
    const auto yv = load_parts<U::kParts>(y + i, cnt, A(0));
    typename U::Parts out;
    for (int k = 0; k < U::kParts; ++k) {
      out[k] = backward_output<kLog>(gv[k], yv[k], r);
    }
    store_parts<U::kParts>(gx + i, out, cnt, stream);
  });
}

template <bool kLog, typename In, typename Out>
void softmax_backward_lastdim(Out* gx, const In* g, const In* y, int64_t rows, int64_t n) {
  using A = typename Unit<In, Out>::A;
  // NB: not in place (grad_input is a new tensor), so streaming stores never meet a line read later.
  const bool stream = use_streaming_stores(rows * n * static_cast<int64_t>(2 * sizeof(In) + sizeof(Out)), gx,
                                           rows * n * static_cast<int64_t>(sizeof(Out)));
  if (rows >= kFewRows || n <= kSegment) {
    at::parallel_for(0, rows, std::max<int64_t>(1, kGrainSize / n), [&](int64_t begin, int64_t end) {
      for (int64_t r = begin; r < end; ++r) {
        const int64_t off = r * n;
        write_backward_row<kLog>(gx + off, g + off, y + off, n, reduce_backward_row<kLog, In, Out>(g + off, y + off, n),
                                 stream);
      }
      if (stream) {
        stream_fence();
      }
    });
    return;
  }
  const int64_t segments = ceil_div(n, kSegment);
  const int64_t items = rows * segments;
  const int64_t grain = std::max<int64_t>(1, kGrainSize / kSegment);
  std::vector<A> partials(items);
  at::parallel_for(0, items, grain, [&](int64_t begin, int64_t end) {
    for (int64_t it = begin; it < end; ++it) {
      const int64_t s0 = (it % segments) * kSegment;
      const int64_t off = (it / segments) * n + s0;
      partials[it] = reduce_backward_row<kLog, In, Out>(g + off, y + off, std::min(kSegment, n - s0));
    }
  });
  at::parallel_for(0, items, grain, [&](int64_t begin, int64_t end) {
    for (int64_t it = begin; it < end; ++it) {
      const int64_t row = it / segments;
      const int64_t s0 = (it % segments) * kSegment;
      const int64_t off = row * n + s0;
      A red = partials[row * segments];
      for (int64_t s = 1; s < segments; ++s) {
        red += partials[row * segments + s];
      }
      write_backward_row<kLog>(gx + off, g + off, y + off, std::min(kSegment, n - s0), red, stream);
    }
    if (stream) {
      stream_fence();
    }
  });
}

// One slab in two passes: red = sum(g * y) (softmax) or sum(g) (log_softmax) per lane, then the
// write pass. Its scratch holds red and its block sum (state values each).
template <bool kLog, typename In, typename Out>
struct SoftmaxBackwardSlab {
  using U = Unit<In, Out>;
  using A = typename U::A;
  using V = AVec<A>;
  static constexpr int kParts = U::kParts;
  static constexpr int kPasses = 2;
  // Pipelined: the reduction pass of one slab (two reads from DRAM) beside the write pass of the one
  // before (rereads from cache, streaming stores). Measured at [32, 256, 1024] over dim 1, float32,
  // 2 threads: softmax 10-15 % faster, log_softmax 0-6 %.
  static constexpr bool kPipelined = true;

  Out* gx;
  const In *g, *y;
  int64_t dim_size, inner, w, units;
  A *red, *block;
  bool prefetch, stream;

  SoftmaxBackwardSlab(Out* gx, const In* g, const In* y, int64_t dim_size, int64_t inner, int64_t w, const Slabs& sl,
                      A* scratch, bool stream)
      : gx(gx), g(g), y(y), dim_size(dim_size), inner(inner), w(w), units(ceil_div(w, U::kSize)), red(scratch),
        block(scratch + sl.state), prefetch(sl.prefetch), stream(stream) {
    for (int64_t j = 0; j < units * kParts; ++j) {
      store_state(red, j, V(A(0)));
      store_state(block, j, V(A(0)));
    }
  }

  void row(int pass, int64_t d) {
    // NB: members read into locals once per row, as in SoftmaxSlab::row.
    const In* gr = g + d * inner;
    const In* yr = y + d * inner;
    A *const rd = red, *const bl = block;
    if (pass == 0) {
      if (prefetch) {
        prefetch_row(g, d, dim_size, inner, w);
        prefetch_row(y, d, dim_size, inner, w);
      }
      // NB: a run-time count here, not for_each_unit: see first_pass_count.
      for (int64_t u = 0; u < units; ++u) {
        const int64_t n = first_pass_count<U::kSize>(u, w);
        const auto gv = load_parts<kParts>(gr + u * U::kSize, n, A(0));
        const auto yv = load_parts<kParts>(yr + u * U::kSize, n, A(0));  // NB: unused, so not read, for log_softmax
        for (int k = 0; k < kParts; ++k) {
          const int64_t j = u * kParts + k;
          store_state(bl, j, add_backward_term<kLog>(load_state(bl, j), gv[k], yv[k]));
        }
      }
      fold_block(rd, bl, units * kParts, d, dim_size);
    } else {
      Out* const gxr = gx + d * inner;
      const bool st = stream;
      for_each_unit<U::kSize>(w, [&](int64_t u, auto n) {
        const auto gv = load_parts<kParts>(gr + u * U::kSize, n, A(0));
        const auto yv = load_parts<kParts>(yr + u * U::kSize, n, A(0));
        typename U::Parts out;
        for (int k = 0; k < kParts; ++k) {
          out[k] = backward_output<kLog>(gv[k], yv[k], load_state(rd, u * kParts + k));
        }
        store_parts<kParts>(gxr + u * U::kSize, out, n, st);
      });
    }
  }

  A* reduced(int) const { return red; }
  static constexpr bool reduces_by_max(int) { return false; }

  void end_pass(int) {}
};

template <bool kLog, typename In, typename Out>
void softmax_backward_inner(Out* gx, const In* g, const In* y, int64_t outer, int64_t dim_size, int64_t inner) {
  using A = typename Unit<In, Out>::A;
  const bool stream =
      use_streaming_stores(outer * dim_size * inner * static_cast<int64_t>(2 * sizeof(In) + sizeof(Out)), gx,
                           outer * dim_size * inner * static_cast<int64_t>(sizeof(Out)));
  using K = SoftmaxBackwardSlab<kLog, In, Out>;
  const Slabs sl =
      slab_shape(outer, dim_size, inner, Unit<In, Out>::kSize, sizeof(In), 2 * sizeof(In) * slabs_in_flight<K>(),
                 /*split=*/true);
  for_each_slab<A>(sl, outer, dim_size, inner, 2 * sl.state, stream, [&](A* scratch, int64_t off, int64_t w) {
    return K(gx + off, g + off, y + off, dim_size, inner, w, sl, scratch, stream);
  });
}

// ---------------------------------------------------------------------------------------------
// Stub entries

struct Shape {
  int64_t outer, dim_size, inner;
};

// A 0-d tensor is one element: [1, 1, 1].
Shape softmax_shape(const at::Tensor& t, int64_t dim) {
  Shape s{1, 1, 1};
  if (t.dim() == 0) {
    return s;
  }
  for (int64_t i = 0; i < dim; ++i) {
    s.outer *= t.size(i);
  }
  s.dim_size = t.size(dim);
  for (int64_t i = dim + 1; i < t.dim(); ++i) {
    s.inner *= t.size(i);
  }
  return s;
}

template <typename In, typename Out>
void run_forward(const at::Tensor& out, const at::Tensor& self, const Shape& s, bool log) {
  Out* y = out.mutable_data_ptr<Out>();
  const In* x = self.const_data_ptr<In>();
  if (s.inner == 1) {
    log ? softmax_lastdim<true>(y, x, s.outer, s.dim_size) : softmax_lastdim<false>(y, x, s.outer, s.dim_size);
  } else {
    log ? softmax_inner<true>(y, x, s.outer, s.dim_size, s.inner)
        : softmax_inner<false>(y, x, s.outer, s.dim_size, s.inner);
  }
}

template <typename In, typename Out>
void run_backward(const at::Tensor& grad_input, const at::Tensor& grad_output, const at::Tensor& output,
                  const Shape& s, bool log) {
  Out* gx = grad_input.mutable_data_ptr<Out>();
  const In* g = grad_output.const_data_ptr<In>();
  const In* y = output.const_data_ptr<In>();
  if (s.inner == 1) {
    log ? softmax_backward_lastdim<true>(gx, g, y, s.outer, s.dim_size)
        : softmax_backward_lastdim<false>(gx, g, y, s.outer, s.dim_size);
  } else {
    log ? softmax_backward_inner<true>(gx, g, y, s.outer, s.dim_size, s.inner)
        : softmax_backward_inner<false>(gx, g, y, s.outer, s.dim_size, s.inner);
  }
}

void softmax_kernel_impl(const at::Tensor& out, const at::Tensor& self, int64_t dim, bool log) {
  const Shape s = softmax_shape(self, dim);
  AT_DISPATCH_FLOATING_TYPES_AND2(at::kHalf, at::kBFloat16, self.scalar_type(), "softmax_cpu", [&] {
    if (out.scalar_type() == self.scalar_type()) {
      run_forward<scalar_t, scalar_t>(out, self, s, log);
    } else if constexpr (at::is_reduced_floating_point_v<scalar_t>) {
      TORCH_INTERNAL_ASSERT(out.scalar_type() == at::kFloat, "softmax_cpu: unexpected output dtype ",
                            out.scalar_type(), " for input ", self.scalar_type());
      run_forward<scalar_t, float>(out, self, s, log);
    } else {
      TORCH_INTERNAL_ASSERT(false, "softmax_cpu: unexpected output dtype ", out.scalar_type(), " for input ",
                            self.scalar_type());
    }
  });
}

void softmax_backward_kernel_impl(const at::Tensor& grad_input, const at::Tensor& grad_output,
                                  const at::Tensor& output, int64_t dim, bool log) {
  const Shape s = softmax_shape(grad_output, dim);
  const at::ScalarType r = grad_input.scalar_type();
  AT_DISPATCH_FLOATING_TYPES_AND2(at::kHalf, at::kBFloat16, grad_output.scalar_type(), "softmax_backward_cpu", [&] {
    if (r == grad_output.scalar_type()) {
      run_backward<scalar_t, scalar_t>(grad_input, grad_output, output, s, log);
    } else if constexpr (std::is_same_v<scalar_t, float>) {
      if (r == at::kHalf) {
        run_backward<float, at::Half>(grad_input, grad_output, output, s, log);
      } else {
        TORCH_INTERNAL_ASSERT(r == at::kBFloat16, "softmax_backward_cpu: unexpected grad_input dtype ", r);
        run_backward<float, at::BFloat16>(grad_input, grad_output, output, s, log);
      }
    } else {
      TORCH_INTERNAL_ASSERT(false, "softmax_backward_cpu: unexpected grad_input dtype ", r, " for grad_output ",
                            grad_output.scalar_type());
    }
  });
}

}  // namespace
}  // namespace CPU_CAPABILITY
}  // namespace torch_ext::ops::cpu

TORCH_EXT_REGISTER_CPU_KERNEL(torch_ext::ops::cpu::SoftmaxKernel,
                              &torch_ext::ops::cpu::CPU_CAPABILITY::softmax_kernel_impl);
TORCH_EXT_REGISTER_CPU_KERNEL(torch_ext::ops::cpu::SoftmaxBackwardKernel,
                              &torch_ext::ops::cpu::CPU_CAPABILITY::softmax_backward_kernel_impl);

#if defined(CPU_CAPABILITY_DEFAULT)

namespace torch_ext::ops {
namespace {

at::Tensor softmax_forward(const char* op, const at::Tensor& self, int64_t dim, std::optional<at::ScalarType> dtype,
                           bool log) {
  const int64_t d = check_softmax_forward(op, self, dim, dtype);
  const SoftmaxForwardDtypes types = softmax_forward_dtypes(self.scalar_type(), dtype);
  // NB: the output is contiguous whatever the input's strides, as ATen's.
  at::Tensor out = at::empty(self.sizes(), self.options().dtype(types.output));
  if (out.numel() == 0) {
    return out;
  }
  const at::Tensor input = (types.reads_input_as_is ? self : self.to(types.output)).contiguous();
  cpu::cpu_kernel<cpu::SoftmaxKernel>()(out, input, d, log);
  return out;
}

at::Tensor softmax_backward(const char* op, const at::Tensor& grad_output, const at::Tensor& output, int64_t dim,
                            at::ScalarType input_dtype, bool log) {
  const int64_t d = check_softmax_backward(op, grad_output, output, dim, input_dtype);
  const at::ScalarType t = grad_output.scalar_type();
  const bool fused = softmax_backward_writes_input_dtype(t, input_dtype);
  at::Tensor grad_input = at::empty(grad_output.sizes(), grad_output.options().dtype(fused ? input_dtype : t));
  if (grad_input.numel() > 0) {
    cpu::cpu_kernel<cpu::SoftmaxBackwardKernel>()(grad_input, grad_output.contiguous(),
                                                output.contiguous(), d, log);
  }
  return fused ? grad_input : grad_input.to(input_dtype);
}

at::Tensor softmax_forward_kernel(const at::Tensor& self, int64_t dim, std::optional<at::ScalarType> dtype) {
  return softmax_forward("softmax", self, dim, dtype, /*log=*/false);
}

at::Tensor log_softmax_forward_kernel(const at::Tensor& self, int64_t dim, std::optional<at::ScalarType> dtype) {
  return softmax_forward("log_softmax", self, dim, dtype, /*log=*/true);
}

at::Tensor softmax_backward_kernel(const at::Tensor& grad_output, const at::Tensor& output, int64_t dim,
                                   at::ScalarType input_dtype) {
  return softmax_backward("softmax_backward", grad_output, output, dim, input_dtype, /*log=*/false);
}

at::Tensor log_softmax_backward_kernel(const at::Tensor& grad_output, const at::Tensor& output, int64_t dim,
                                       at::ScalarType input_dtype) {
  return softmax_backward("log_softmax_backward", grad_output, output, dim, input_dtype, /*log=*/true);
}

}  // namespace
}  // namespace torch_ext::ops

TORCH_LIBRARY_IMPL(torch_ext, CPU, m) {
  m.impl("softmax", TORCH_FN(torch_ext::ops::softmax_forward_kernel));
  m.impl("log_softmax", TORCH_FN(torch_ext::ops::log_softmax_forward_kernel));
  m.impl("softmax_backward", TORCH_FN(torch_ext::ops::softmax_backward_kernel));
  m.impl("log_softmax_backward", TORCH_FN(torch_ext::ops::log_softmax_backward_kernel));
}

#endif  // CPU_CAPABILITY_DEFAULT
