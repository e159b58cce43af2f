#pragma once
// softmax's and log_softmax's CUDA kernels and their launchers, forward and backward, over the formulas
// in math/softmax_math.h. Included by cuda/softmax_kernel.cu (the forward ops) and
// cuda/softmax_backward_kernel.cu (the backward ops): NB: two translation units, so that nvcc compiles
// the many instantiations in parallel; everything here is in an anonymous namespace (one copy per unit).
//
// A contiguous tensor is viewed as [outer, dim, inner]: element (o, d, i) sits at
// (o * dim + d) * inner + i. Each (o, i) is one row of `dim` elements to reduce, then to write.
// A policy (ForwardPolicy, BackwardPolicy) says what a row reduces to and how an element's
// output follows from it, so each kernel below serves all four ops:
//   forward:  (max, sum of exp(x - max)), then exp(x - max) / sum or (x - max) - log(sum);
//   backward: sum(g * y) (softmax) or sum(g) (log_softmax), then y * (g - dot) or g - exp(y) * sum.
//
// Paths, picked on the host by launch_softmax():
//   inner == 1 (the reduced dim is the last one), rows of `dim` contiguous elements:
//     dim <= 1024 (512 for the double backward)
//         softmax_warp_kernel: a group of 1..32 lanes of one warp per row, the row in registers
//         (next_pow2(dim) / 32 elements a lane, at most 32), shuffle reductions, no shared memory;
//     dim > kMinSplitChunk and fewer rows than one wave of 512-thread blocks
//         softmax_split_reduce_kernel + softmax_split_write_kernel: a row cut into
//         min(ceil(dim / kMinSplitChunk), ceil(wave / rows)) equal chunks, a block per chunk; each
//         chunk's partial state goes to a buffer; every block of the second kernel merges its
//         row's partials, then writes its chunk;
//     the row's inputs fit in kMaxSmemRowBytes of shared memory
//         softmax_block_smem_kernel: a block per row, the row read once into shared memory;
//     otherwise
//         softmax_block_loop_kernel: a block per row, reading the row twice (reduce, write).
//   inner > 1: softmax_column_kernel: a thread per (o, i) column (consecutive threads take
//     consecutive i, so loads coalesce), walking d; with too few columns to fill the GPU, the
//     dim is also split over threadIdx.y and the partial states are merged in shared memory.
// Row kernels use 128-bit loads and stores when every pointer is 16-byte aligned and dim is a
// multiple of the vector width (so every row starts aligned), else scalar ones. Every index that
// can exceed 2^31 is int64; loops over rows and columns are grid-stride, so any size launches.

#include <ATen/AccumulateType.h>
#include <ATen/Dispatch.h>
#include <ATen/core/Tensor.h>
#include <ATen/cuda/CUDAContextLight.h>
#include <ATen/ops/empty.h>
#include <c10/cuda/CUDAException.h>
#include <c10/cuda/CUDAGuard.h>
#include <c10/cuda/CUDAStream.h>

#include <algorithm>
#include <cstdint>
#include <optional>
#include <type_traits>

#include "ops/common/cuda_elementwise.cuh"
#include "ops/common/integer_math.h"
#include "ops/cuda/block_reduce.cuh"
#include "ops/math/softmax_math.h"
#include "ops/internal/softmax.h"

namespace torch_ext::math {

// A state's shuffle, found by warp_all_reduce through its argument's namespace.
template <typename T>
__device__ __forceinline__ SoftmaxState<T> shfl_xor(const SoftmaxState<T>& v, int mask, int width) {
  return {__shfl_xor_sync(0xffffffffu, v.max, mask, width), __shfl_xor_sync(0xffffffffu, v.sum, mask, width)};
}

}  // namespace torch_ext::math

namespace torch_ext::ops {
namespace {

using math::ScalarMath;
using math::SoftmaxState;

// Warp kernel: 4 warps a block, as ATen's persistent softmax.
constexpr int kWarpBlockThreads = 128;
constexpr int kMaxWarpDim = 1024;
// Register budget of the warp kernel: at most 8 KiB of row data (inputs in acc_t) per warp,
// i.e. 64 registers a lane; the double backward (two double inputs) stops at dim 512.
constexpr int kMaxWarpRowBytes = 8192;
// Block-per-row kernels (smem, loop, split).
constexpr int kRowBlockThreads = 512;
constexpr int64_t kMaxSmemRowBytes = 64 * 1024;
// NB: a row splits into at most ceil(dim / kMinSplitChunk) chunks, so a chunk holds more than
// kMinSplitChunk / 2 elements (> 8 a thread), enough to amortize the extra kernel and merge.
constexpr int64_t kMinSplitChunk = 8192;
// Chunk lengths are multiples of this (>= any vector width), so every chunk starts aligned.
constexpr int64_t kChunkAlign = 16;
// Column kernel: at most kMaxColumnSplit threads share a column; blocks of >= kColumnThreads.
constexpr int kColumnThreads = 256;
// NB: blocks of at most 512 threads leave 128 registers a thread (the double forward needs > 64).
constexpr int kMaxColumnSplit = 16;
constexpr int kColumnMaxThreads = 512;
// Elements a column thread loads before folding them into its state (loads in flight).
constexpr int kColumnUnroll = 4;
// Grid-stride kernels launch at most this many blocks per SM (several waves).
constexpr int64_t kMaxBlocksPerSm = 32;
constexpr int64_t kMaxGridY = 65535;

template <typename T, int N>
using Pack = cuda::AlignedVector<T, N>;

// The widest pack of in_t and of out_t elements that a 128-bit access covers for both.
template <typename in_t, typename out_t>
constexpr int max_vec() {
  return cuda::kVectorBytes / static_cast<int>(sizeof(in_t) > sizeof(out_t) ? sizeof(in_t) : sizeof(out_t));
}

// The merge of two partial states, for warp_all_reduce and block_all_reduce (block_reduce.cuh).
template <typename P>
struct MergeOp {
  using State = typename P::State;
  __device__ __forceinline__ State operator()(const State& a, const State& b) const { return P::merge(a, b); }
};

// ---------------------------------------------------------------------------------------------
// Policies. a is the first input (x, or grad_output), b the second (the forward's output in the
// backward; 0 and unused in the forward). Every value is in acc_t.

template <typename acc_t_, bool kLog>
struct ForwardPolicy {
  using acc_t = acc_t_;
  using State = SoftmaxState<acc_t>;
  static constexpr int kInputs = 1;
  struct Final {
    acc_t max;
    acc_t norm;  // 1 / sum (softmax) or log(sum) (log_softmax)
  };

  __device__ static State init() { return math::softmax_init<acc_t>(); }

  // Folds N elements into s: one at a time with the online update, or, for a pack, as the
  // merge of s with the pack's own (max, sum), which takes N + 2 exps instead of 2 N.
  template <int N>
  __device__ static void update(State& s, const acc_t (&a)[N], const acc_t (&)[N]) {
    if constexpr (N == 1) {
      math::softmax_update<ScalarMath>(s.max, s.sum, a[0]);
    } else {
      acc_t m = a[0];
#pragma unroll
      for (int k = 1; k < N; ++k) {
        m = ScalarMath::maximum(m, a[k]);
      }
      acc_t sum = 0;
#pragma unroll
      for (int k = 0; k < N; ++k) {
        sum += math::softmax_shifted_exp<ScalarMath>(a[k], m);
      }
      math::softmax_merge<ScalarMath>(s.max, s.sum, m, sum);
    }
  }

  __device__ static State merge(State a, const State& b) {
    math::softmax_merge<ScalarMath>(a.max, a.sum, b.max, b.sum);
    return a;
  }

  // The row's state when its elements are resident (registers, shared memory): the max first,
  // then the sum of softmax_shifted_exp(x, max). for_each(f) calls f(a, b) on each of the
  // thread's elements; all_reduce(v, op) combines v over the row's threads.
  template <typename ForEach, typename AllReduce>
  __device__ static State reduce_resident(const ForEach& for_each, const AllReduce& all_reduce) {
    acc_t m = math::softmax_init<acc_t>().max;  // -inf
    for_each([&](acc_t a, acc_t) { m = ScalarMath::maximum(m, a); });
    m = all_reduce(m, MaxOp<acc_t>{});
    acc_t sum = 0;
    for_each([&](acc_t a, acc_t) { sum += math::softmax_shifted_exp<ScalarMath>(a, m); });
    sum = all_reduce(sum, SumOp<acc_t>{});
    return {m, sum};
  }

  __device__ static Final finalize(const State& s) {
    if constexpr (kLog) {
      return {s.max, ScalarMath::log(s.sum)};
    } else {
      return {s.max, acc_t(1) / s.sum};
    }
  }

  __device__ static acc_t output(const Final& f, acc_t a, acc_t) {
    if constexpr (kLog) {
      return math::log_softmax_output<ScalarMath>(a, f.max, f.norm);
    } else {
      return math::softmax_output<ScalarMath>(a, f.max, f.norm);
    }
  }
};

template <typename acc_t_, bool kLog>
struct BackwardPolicy {
  using acc_t = acc_t_;
  using State = acc_t;  // sum(g * y) (softmax) or sum(g) (log_softmax)
  static constexpr int kInputs = 2;
  using Final = acc_t;

  __device__ static State init() { return acc_t(0); }

  template <int N>
  __device__ static void update(State& s, const acc_t (&g)[N], const acc_t (&y)[N]) {
#pragma unroll
    for (int k = 0; k < N; ++k) {
      if constexpr (kLog) {
        s += g[k];
      } else {
        s += g[k] * y[k];
      }
    }
  }

  __device__ static State merge(State a, const State& b) { return a + b; }

  template <typename ForEach, typename AllReduce>
  __device__ static State reduce_resident(const ForEach& for_each, const AllReduce& all_reduce) {
    acc_t s = 0;
    for_each([&](acc_t g, acc_t y) {
      const acc_t gk[1] = {g};
      const acc_t yk[1] = {y};
      update(s, gk, yk);
    });
    return all_reduce(s, SumOp<acc_t>{});
  }

  __device__ static Final finalize(const State& s) { return s; }

  __device__ static acc_t output(const Final& f, acc_t g, acc_t y) {
    if constexpr (kLog) {
      return math::log_softmax_backward_output<ScalarMath>(g, y, f);
    } else {
      return math::softmax_backward_output<ScalarMath>(g, y, f);
    }
  }
};

// ---------------------------------------------------------------------------------------------
// Element access. A pack of kVec consecutive elements at p: one 128-bit-or-less access; with
// kVec > 1 the host has checked that p is kVec-aligned (kVec == 1 is a plain scalar access).

template <int kVec, typename T>
__device__ __forceinline__ Pack<T, kVec> load_pack(const T* p) {
  return *reinterpret_cast<const Pack<T, kVec>*>(p);
}

template <int kVec, typename T>
__device__ __forceinline__ void store_pack(T* p, const Pack<T, kVec>& v) {
  *reinterpret_cast<Pack<T, kVec>*>(p) = v;
}

// The pack of a (and of b in the backward) at element offset p, in acc_t; vb is 0 in the forward.
template <typename P, int kVec, typename in_t>
__device__ __forceinline__ void load_acc(const in_t* __restrict__ a, const in_t* __restrict__ b, int64_t p,
                                         typename P::acc_t (&va)[kVec], typename P::acc_t (&vb)[kVec]) {
  using acc_t = typename P::acc_t;
  const Pack<in_t, kVec> pa = load_pack<kVec>(a + p);
#pragma unroll
  for (int k = 0; k < kVec; ++k) {
    va[k] = static_cast<acc_t>(pa.val[k]);
    vb[k] = acc_t(0);
  }
  if constexpr (P::kInputs == 2) {
    const Pack<in_t, kVec> pb = load_pack<kVec>(b + p);
#pragma unroll
    for (int k = 0; k < kVec; ++k) {
      vb[k] = static_cast<acc_t>(pb.val[k]);
    }
  }
}

// Outputs of the pack at p (inputs already in va, vb), stored as one pack.
template <typename P, int kVec, typename out_t>
__device__ __forceinline__ void store_output(out_t* __restrict__ out, int64_t p, const typename P::Final& fin,
                                             const typename P::acc_t (&va)[kVec],
                                             const typename P::acc_t (&vb)[kVec]) {
  Pack<out_t, kVec> o;
#pragma unroll
  for (int k = 0; k < kVec; ++k) {
    o.val[k] = static_cast<out_t>(P::output(fin, va[k], vb[k]));
  }
  store_pack<kVec>(out + p, o);
}

// This thread's share (packs threadIdx.x, + blockDim.x, ...) of the npacks packs from element
// offset base: the reduce pass and the write pass of the block-per-row kernels.
template <typename P, int kVec, typename in_t>
__device__ __forceinline__ typename P::State reduce_range(const in_t* __restrict__ a, const in_t* __restrict__ b,
                                                          int64_t base, int64_t npacks) {
  using acc_t = typename P::acc_t;
  typename P::State s = P::init();
  for (int64_t v = threadIdx.x; v < npacks; v += blockDim.x) {
    acc_t va[kVec];
    acc_t vb[kVec];
    load_acc<P, kVec>(a, b, base + v * kVec, va, vb);
    P::update(s, va, vb);
  }
  return s;
}

template <typename P, int kVec, typename in_t, typename out_t>
__device__ __forceinline__ void write_range(out_t* __restrict__ out, const in_t* __restrict__ a,
                                            const in_t* __restrict__ b, int64_t base, int64_t npacks,
                                            const typename P::Final& fin) {
  using acc_t = typename P::acc_t;
  for (int64_t v = threadIdx.x; v < npacks; v += blockDim.x) {
    const int64_t p = base + v * kVec;
    acc_t va[kVec];
    acc_t vb[kVec];
    load_acc<P, kVec>(a, b, p, va, vb);
    store_output<P, kVec>(out, p, fin, va, vb);
  }
}

// ---------------------------------------------------------------------------------------------
// Kernels

// Rows of dim <= kLanes * kElems elements, a group of kLanes lanes per row, 32 / kLanes rows per
// warp. Lane `lane` of a group holds the row's elements (pk * kLanes + lane) * kVec + k for
// pk < kElems / kVec, k < kVec, in registers va[pk * kVec + k] (and vb): each element once, and
// each pack of kVec elements contiguous.
// kVec > 1: 128-bit accesses; the host checked the pointers' alignment and dim % kVec == 0, so
// a pack lies wholly inside the row or wholly past its end.
template <typename P, typename in_t, typename out_t, int kLanes, int kElems, int kVec>
__global__ void __launch_bounds__(kWarpBlockThreads)
    softmax_warp_kernel(out_t* __restrict__ out,       // [rows, dim]
                        const in_t* __restrict__ a,    // [rows, dim] x, or grad_output
                        const in_t* __restrict__ b,    // [rows, dim] output (backward); unused in the forward
                        int64_t rows,
                        int dim) {                     // 1 <= dim <= kLanes * kElems
  using acc_t = typename P::acc_t;
  static_assert(kWarp % kLanes == 0 && kElems % kVec == 0, "bad warp bucket");
  constexpr int kPacks = kElems / kVec;
  constexpr int kRowsPerWarp = kWarp / kLanes;
  const int lane = static_cast<int>(threadIdx.x % kLanes);
  const int group = static_cast<int>(threadIdx.x % kWarp) / kLanes;
  const int64_t warp = (static_cast<int64_t>(blockIdx.x) * blockDim.x + threadIdx.x) / kWarp;
  const int64_t warps = static_cast<int64_t>(gridDim.x) * blockDim.x / kWarp;

  // NB: the loop condition is the warp's, not the group's, so all 32 lanes take part in every
  // shuffle; a group past the last row runs with no elements (rem <= 0) and writes nothing.
  for (int64_t first = warp * kRowsPerWarp; first < rows; first += warps * kRowsPerWarp) {
    const int64_t row = first + group;
    // This lane's elements: lane * kVec + kStride * pk + k for pk < kPacks, k < kVec. `rem` counts
    // the row's elements from the lane's first one, so pack pk is in the row iff kStride * pk < rem
    // (a compile-time constant against one register); a group past the last row has rem <= 0.
    constexpr int kStride = kLanes * kVec;
    const int rem = (row < rows ? dim : 0) - lane * kVec;
    const int64_t start = row * dim + lane * kVec;  // used only when rem > 0

    acc_t va[kElems];
    acc_t vb[kElems];
#pragma unroll
    for (int pk = 0; pk < kPacks; ++pk) {
      acc_t pa[kVec];
      acc_t pb[kVec];
      if (kStride * pk < rem) {
        load_acc<P, kVec>(a, b, start + kStride * pk, pa, pb);
      } else {
#pragma unroll
        for (int k = 0; k < kVec; ++k) {
          pa[k] = acc_t(0);
          pb[k] = acc_t(0);
        }
      }
#pragma unroll
      for (int k = 0; k < kVec; ++k) {
        va[pk * kVec + k] = pa[k];
        vb[pk * kVec + k] = pb[k];
      }
    }

    const auto for_each = [&](const auto& f) {
#pragma unroll
      for (int pk = 0; pk < kPacks; ++pk) {
        if (kStride * pk < rem) {
#pragma unroll
          for (int k = 0; k < kVec; ++k) {
            f(va[pk * kVec + k], vb[pk * kVec + k]);
          }
        }
      }
    };
    const auto all_reduce = [](auto v, const auto& op) { return warp_all_reduce<kLanes>(v, op); };
    const typename P::Final fin = P::finalize(P::reduce_resident(for_each, all_reduce));

#pragma unroll
    for (int pk = 0; pk < kPacks; ++pk) {
      if (kStride * pk < rem) {
        acc_t pa[kVec];
        acc_t pb[kVec];
#pragma unroll
        for (int k = 0; k < kVec; ++k) {
          pa[k] = va[pk * kVec + k];
          pb[k] = vb[pk * kVec + k];
        }
        store_output<P, kVec>(out, start + kStride * pk, fin, pa, pb);
      }
    }
  }
}

// A block per row (grid-stride over rows), the row's inputs staged in shared memory as in_t:
// sa = a's row, sb = b's row (backward). Each thread stages and later reads back only its own
// packs (threadIdx.x, + blockDim.x, ...), so the staging needs no barrier; the reductions have
// their own. kVec > 1: the host checked the pointers' alignment and dim % kVec == 0.
template <typename P, typename in_t, typename out_t, int kVec>
__global__ void __launch_bounds__(kRowBlockThreads)
    softmax_block_smem_kernel(out_t* __restrict__ out,     // [rows, dim]
                              const in_t* __restrict__ a,  // [rows, dim] x, or grad_output
                              const in_t* __restrict__ b,  // [rows, dim] output (backward); unused in the forward
                              int64_t rows,
                              int64_t dim,                 // a multiple of kVec
                              int64_t smem_stride) {       // elements from sa to sb: dim rounded up to 16 bytes
  using acc_t = typename P::acc_t;
  using in_pack = Pack<in_t, kVec>;
  extern __shared__ __align__(16) unsigned char smem_row[];  // kInputs * smem_stride in_t
  __shared__ ReduceScratch scratch;
  in_t* sa = reinterpret_cast<in_t*>(smem_row);
  in_t* sb = sa + smem_stride;
  const int64_t npacks = dim / kVec;

  for (int64_t row = blockIdx.x; row < rows; row += gridDim.x) {
    const int64_t base = row * dim;
    for (int64_t v = threadIdx.x; v < npacks; v += blockDim.x) {
      store_pack<kVec>(sa + v * kVec, load_pack<kVec>(a + base + v * kVec));
      if constexpr (P::kInputs == 2) {
        store_pack<kVec>(sb + v * kVec, load_pack<kVec>(b + base + v * kVec));
      }
    }

    // The thread's packs from shared memory, in acc_t.
    const auto load_smem = [&](int64_t v, acc_t(&va)[kVec], acc_t(&vb)[kVec]) {
      const in_pack pa = load_pack<kVec>(sa + v * kVec);
#pragma unroll
      for (int k = 0; k < kVec; ++k) {
        va[k] = static_cast<acc_t>(pa.val[k]);
        vb[k] = acc_t(0);
      }
      if constexpr (P::kInputs == 2) {
        const in_pack pb = load_pack<kVec>(sb + v * kVec);
#pragma unroll
        for (int k = 0; k < kVec; ++k) {
          vb[k] = static_cast<acc_t>(pb.val[k]);
        }
      }
    };
    const auto for_each = [&](const auto& f) {
      for (int64_t v = threadIdx.x; v < npacks; v += blockDim.x) {
        acc_t va[kVec];
        acc_t vb[kVec];
        load_smem(v, va, vb);
#pragma unroll
        for (int k = 0; k < kVec; ++k) {
          f(va[k], vb[k]);
        }
      }
    };
    // NB: scratch is __shared__ (static storage): used, not captured.
    const auto all_reduce = [](auto v, const auto& op) { return block_all_reduce(v, op, scratch); };
    const typename P::Final fin = P::finalize(P::reduce_resident(for_each, all_reduce));

    for (int64_t v = threadIdx.x; v < npacks; v += blockDim.x) {
      acc_t va[kVec];
      acc_t vb[kVec];
      load_smem(v, va, vb);
      store_output<P, kVec>(out, base + v * kVec, fin, va, vb);
    }
  }
}

// A block per row (grid-stride over rows): an online reduction over the row, then a second pass
// over it (from L2 when it stays there) for the outputs.
template <typename P, typename in_t, typename out_t, int kVec>
__global__ void __launch_bounds__(kRowBlockThreads)
    softmax_block_loop_kernel(out_t* __restrict__ out,     // [rows, dim]
                              const in_t* __restrict__ a,  // [rows, dim] x, or grad_output
                              const in_t* __restrict__ b,  // [rows, dim] output (backward); unused in the forward
                              int64_t rows,
                              int64_t dim) {               // a multiple of kVec
  __shared__ ReduceScratch scratch;
  const int64_t npacks = dim / kVec;
  for (int64_t row = blockIdx.x; row < rows; row += gridDim.x) {
    const int64_t base = row * dim;
    const typename P::State s = block_all_reduce(reduce_range<P, kVec>(a, b, base, npacks), MergeOp<P>{}, scratch);
    write_range<P, kVec>(out, a, b, base, npacks, P::finalize(s));
  }
}

// Split rows, pass 1. Block (chunk, row) = (blockIdx.x, blockIdx.y) reduces elements
// [chunk * chunk_len, min(dim, (chunk + 1) * chunk_len)) of its row into partials[row, chunk].
template <typename P, typename in_t, int kVec>
__global__ void __launch_bounds__(kRowBlockThreads)
    softmax_split_reduce_kernel(typename P::State* __restrict__ partials,  // [rows, gridDim.x]
                                const in_t* __restrict__ a,   // [rows, dim] x, or grad_output
                                const in_t* __restrict__ b,   // [rows, dim] output (backward); unused in the forward
                                int64_t dim,                  // a multiple of kVec
                                int64_t chunk_len) {          // a multiple of kChunkAlign; gridDim.x = ceil(dim / chunk_len)
  __shared__ ReduceScratch scratch;
  const int64_t row = blockIdx.y;
  const int64_t chunk = blockIdx.x;
  const int64_t begin = chunk * chunk_len;
  const int64_t len = std::min(chunk_len, dim - begin);  // > 0, a multiple of kVec
  const typename P::State s =
      block_all_reduce(reduce_range<P, kVec>(a, b, row * dim + begin, len / kVec), MergeOp<P>{}, scratch);
  if (threadIdx.x == 0) {
    partials[row * gridDim.x + chunk] = s;
  }
}

// Split rows, pass 2: every block merges its row's partials (in the same order, so the blocks of
// a row agree to the bit), then writes its chunk.
template <typename P, typename in_t, typename out_t, int kVec>
__global__ void __launch_bounds__(kRowBlockThreads)
    softmax_split_write_kernel(out_t* __restrict__ out,                          // [rows, dim]
                               const typename P::State* __restrict__ partials,   // [rows, gridDim.x]
                               const in_t* __restrict__ a,   // [rows, dim] x, or grad_output
                               const in_t* __restrict__ b,   // [rows, dim] output (backward); unused in the forward
                               int64_t dim,                  // a multiple of kVec
                               int64_t chunk_len) {          // as in pass 1
  __shared__ ReduceScratch scratch;
  const int64_t row = blockIdx.y;
  const int64_t chunk = blockIdx.x;
  const int64_t chunks = gridDim.x;
  typename P::State s = P::init();
  for (int64_t c = threadIdx.x; c < chunks; c += blockDim.x) {
    s = P::merge(s, partials[row * chunks + c]);
  }
  s = block_all_reduce(s, MergeOp<P>{}, scratch);
  const int64_t begin = chunk * chunk_len;
  const int64_t len = std::min(chunk_len, dim - begin);
  write_range<P, kVec>(out, a, b, row * dim + begin, len / kVec, P::finalize(s));
}

// inner > 1. Columns c = o * inner + i, column c's element d at (o * dim + d) * inner + i. A block
// takes blockDim.x consecutive columns (grid-stride); thread (x, y) takes column c0 + x and the
// d = y, y + blockDim.y, ... of it. With blockDim.y > 1 (a power of 2) the threads' states are
// merged by a tree in shared memory, [blockDim.y, blockDim.x] states.
template <typename P, typename in_t, typename out_t>
__global__ void __launch_bounds__(kColumnMaxThreads)
    softmax_column_kernel(out_t* __restrict__ out,     // [outer, dim, inner]
                          const in_t* __restrict__ a,  // [outer, dim, inner] x, or grad_output
                          const in_t* __restrict__ b,  // [outer, dim, inner] output (backward); unused in the forward
                          int64_t outer,
                          int64_t dim,
                          int64_t inner) {
  using acc_t = typename P::acc_t;
  using State = typename P::State;
  extern __shared__ __align__(16) unsigned char smem_states[];  // [blockDim.y, blockDim.x] State when blockDim.y > 1
  State* states = reinterpret_cast<State*>(smem_states);
  const int64_t columns = outer * inner;
  const int x = static_cast<int>(threadIdx.x);
  const int y = static_cast<int>(threadIdx.y);
  const int sx = static_cast<int>(blockDim.x);
  const int sy = static_cast<int>(blockDim.y);

  for (int64_t c0 = static_cast<int64_t>(blockIdx.x) * sx; c0 < columns; c0 += static_cast<int64_t>(gridDim.x) * sx) {
    const int64_t c = c0 + x;
    const bool valid = c < columns;
    const int64_t o = valid ? c / inner : 0;
    const int64_t i = valid ? c % inner : 0;
    const int64_t base = o * dim * inner + i;  // element d at base + d * inner

    State s = P::init();
    if (valid) {
      // kColumnUnroll elements' loads in flight, then folded in together; then the tail.
      int64_t d = y;
      for (; d + static_cast<int64_t>(kColumnUnroll - 1) * sy < dim; d += static_cast<int64_t>(kColumnUnroll) * sy) {
        acc_t va[kColumnUnroll];
        acc_t vb[kColumnUnroll];
#pragma unroll
        for (int k = 0; k < kColumnUnroll; ++k) {
          acc_t pa[1];
          acc_t pb[1];
          load_acc<P, 1>(a, b, base + (d + static_cast<int64_t>(k) * sy) * inner, pa, pb);
          va[k] = pa[0];
          vb[k] = pb[0];
        }
        P::update(s, va, vb);
      }
      for (; d < dim; d += sy) {
        acc_t va[1];
        acc_t vb[1];
        load_acc<P, 1>(a, b, base + d * inner, va, vb);
        P::update(s, va, vb);
      }
    }

    if (sy > 1) {
      __syncthreads();  // NB: the previous tile's readers of states[x] are done
      states[y * sx + x] = s;
      for (int h = sy / 2; h > 0; h /= 2) {
        __syncthreads();
        if (y < h) {
          states[y * sx + x] = P::merge(states[y * sx + x], states[(y + h) * sx + x]);
        }
      }
      __syncthreads();
      s = states[x];
    }

    if (valid) {
      const typename P::Final fin = P::finalize(s);
      for (int64_t d = y; d < dim; d += sy) {
        acc_t va[1];
        acc_t vb[1];
        const int64_t p = base + d * inner;
        load_acc<P, 1>(a, b, p, va, vb);
        store_output<P, 1>(out, p, fin, va, vb);
      }
    }
  }
}

// ---------------------------------------------------------------------------------------------
// Host side

struct Layout {
  int64_t outer;
  int64_t dim;
  int64_t inner;
};

// t contiguous; dim already wrapped. A 0-d tensor is one row of one element.
Layout layout_of(const at::Tensor& t, int64_t dim) {
  Layout l{1, 1, 1};
  if (t.dim() == 0) {
    return l;
  }
  for (int64_t d = 0; d < dim; ++d) {
    l.outer *= t.size(d);
  }
  l.dim = t.size(dim);
  for (int64_t d = dim + 1; d < t.dim(); ++d) {
    l.inner *= t.size(d);
  }
  return l;
}

int64_t grid_cap() {
  return static_cast<int64_t>(at::cuda::getCurrentDeviceProperties()->multiProcessorCount) * kMaxBlocksPerSm;
}

unsigned int grid_size(int64_t blocks) {
  return static_cast<unsigned int>(std::max<int64_t>(1, std::min(blocks, grid_cap())));
}

template <typename P>
constexpr int warp_max_dim() {
  constexpr int by_registers = kMaxWarpRowBytes / (P::kInputs * static_cast<int>(sizeof(typename P::acc_t)));
  return by_registers < kMaxWarpDim ? by_registers : kMaxWarpDim;
}

// The pointers of one launch: a and b (b null in the forward).
template <typename in_t, typename out_t>
struct Args {
  out_t* out;
  const in_t* a;
  const in_t* b;
  bool aligned() const {
    return cuda::is_vector_aligned(out) && cuda::is_vector_aligned(a) && (b == nullptr || cuda::is_vector_aligned(b));
  }
};

// The warp kernel for the smallest bucket 2^kLog2 >= dim (dim <= warp_max_dim<P>()).
template <typename P, typename in_t, typename out_t, int kLog2 = 0>
void launch_warp(const Args<in_t, out_t>& args, int64_t rows, int dim) {
  constexpr int kSize = 1 << kLog2;
  if constexpr (kSize > warp_max_dim<P>()) {
    TORCH_INTERNAL_ASSERT(false, "softmax: no warp bucket for dim ", dim);
  } else {
    if (dim > kSize) {
      launch_warp<P, in_t, out_t, kLog2 + 1>(args, rows, dim);
      return;
    }
    constexpr int kLanes = kSize < kWarp ? kSize : kWarp;
    constexpr int kElems = kSize / kLanes;
    constexpr int kVec = std::min(kElems, max_vec<in_t, out_t>());
    const int64_t rows_per_block = (kWarpBlockThreads / kWarp) * (kWarp / kLanes);
    const unsigned int grid = grid_size(ceil_div(rows, rows_per_block));
    const cudaStream_t stream = at::cuda::getCurrentCUDAStream();
    if (kVec > 1 && args.aligned() && dim % kVec == 0) {
      softmax_warp_kernel<P, in_t, out_t, kLanes, kElems, kVec>
          <<<grid, kWarpBlockThreads, 0, stream>>>(args.out, args.a, args.b, rows, dim);
    } else {
      softmax_warp_kernel<P, in_t, out_t, kLanes, kElems, 1>
          <<<grid, kWarpBlockThreads, 0, stream>>>(args.out, args.a, args.b, rows, dim);
    }
    C10_CUDA_KERNEL_LAUNCH_CHECK();
  }
}

// Rows longer than the warp kernel's: split, shared-memory or loop kernel, with kVec-wide accesses.
template <typename P, typename in_t, typename out_t, int kVec>
void launch_rows(const Args<in_t, out_t>& args, int64_t rows, int64_t dim, const at::TensorOptions& options) {
  using State = typename P::State;
  const cudaDeviceProp* prop = at::cuda::getCurrentDeviceProperties();
  const cudaStream_t stream = at::cuda::getCurrentCUDAStream();

  // Split: fewer rows than one wave of row blocks, and rows long enough for two chunks.
  const int64_t wave =
      static_cast<int64_t>(prop->multiProcessorCount) * std::max(1, prop->maxThreadsPerMultiProcessor / kRowBlockThreads);
  int64_t chunks = std::min(ceil_div(dim, kMinSplitChunk), ceil_div(wave, rows));
  if (chunks >= 2) {
    const int64_t chunk_len = ceil_div(ceil_div(dim, chunks), kChunkAlign) * kChunkAlign;
    chunks = ceil_div(dim, chunk_len);
    TORCH_INTERNAL_ASSERT(chunks >= 2 && rows <= kMaxGridY);
    const at::Tensor partials =
        at::empty({rows * chunks * static_cast<int64_t>(sizeof(State))}, options.dtype(at::kByte));
    State* part = reinterpret_cast<State*>(partials.mutable_data_ptr<uint8_t>());
    const dim3 grid(static_cast<unsigned int>(chunks), static_cast<unsigned int>(rows));
    softmax_split_reduce_kernel<P, in_t, kVec>
        <<<grid, kRowBlockThreads, 0, stream>>>(part, args.a, args.b, dim, chunk_len);
    C10_CUDA_KERNEL_LAUNCH_CHECK();
    // NB: partials is freed after this launch is queued; the caching allocator reuses its memory
    // only for work queued later on this stream.
    softmax_split_write_kernel<P, in_t, out_t, kVec>
        <<<grid, kRowBlockThreads, 0, stream>>>(args.out, part, args.a, args.b, dim, chunk_len);
    C10_CUDA_KERNEL_LAUNCH_CHECK();
    return;
  }

  // Shared memory: the row's inputs, each padded to a multiple of 16 bytes.
  constexpr int64_t kInBytes = sizeof(in_t);
  const int64_t smem_stride = ceil_div(dim * kInBytes, 16) * 16 / kInBytes;
  const int64_t smem_bytes = P::kInputs * smem_stride * kInBytes;
  const int64_t smem_limit = std::min<int64_t>(
      kMaxSmemRowBytes, static_cast<int64_t>(prop->sharedMemPerBlockOptin) - static_cast<int64_t>(sizeof(ReduceScratch)));
  const unsigned int grid = grid_size(rows);
  if (smem_bytes <= smem_limit) {
    const auto kernel = softmax_block_smem_kernel<P, in_t, out_t, kVec>;
    if (smem_bytes > 48 * 1024) {
      C10_CUDA_CHECK(
          cudaFuncSetAttribute(kernel, cudaFuncAttributeMaxDynamicSharedMemorySize, static_cast<int>(smem_bytes)));
    }
    // As many threads as packs, in whole warps, up to kRowBlockThreads.
    const int64_t threads = std::min<int64_t>(kRowBlockThreads, ceil_div(dim / kVec, kWarp) * kWarp);
    kernel<<<grid, static_cast<unsigned int>(threads), static_cast<size_t>(smem_bytes), stream>>>(
        args.out, args.a, args.b, rows, dim, smem_stride);
    C10_CUDA_KERNEL_LAUNCH_CHECK();
    return;
  }

  softmax_block_loop_kernel<P, in_t, out_t, kVec>
      <<<grid, kRowBlockThreads, 0, stream>>>(args.out, args.a, args.b, rows, dim);
  C10_CUDA_KERNEL_LAUNCH_CHECK();
}

template <typename P, typename in_t, typename out_t>
void launch_columns(const Args<in_t, out_t>& args, const Layout& l) {
  const cudaDeviceProp* prop = at::cuda::getCurrentDeviceProperties();
  const int64_t columns = l.outer * l.inner;
  // Threads per column: 1 when the columns alone fill the GPU, else enough to fill it, a power
  // of 2, at most kMaxColumnSplit and leaving each thread >= 4 elements.
  const int64_t fill = static_cast<int64_t>(prop->multiProcessorCount) * prop->maxThreadsPerMultiProcessor;
  int64_t sy = 1;
  if (2 * columns < fill) {
    const int64_t want = ceil_div(fill, columns);
    const int64_t cap = std::min<int64_t>(kMaxColumnSplit, std::max<int64_t>(1, l.dim / 4));
    while (sy * 2 <= cap && sy < want) {
      sy *= 2;
    }
  }
  const int64_t sx = std::max<int64_t>(kWarp, kColumnThreads / sy);
  TORCH_INTERNAL_ASSERT(sx * sy <= kColumnMaxThreads);
  const size_t smem = sy > 1 ? static_cast<size_t>(sx * sy) * sizeof(typename P::State) : 0;
  const dim3 block(static_cast<unsigned int>(sx), static_cast<unsigned int>(sy));
  softmax_column_kernel<P, in_t, out_t><<<grid_size(ceil_div(columns, sx)), block, smem,
                                          at::cuda::getCurrentCUDAStream()>>>(args.out, args.a, args.b, l.outer,
                                                                              l.dim, l.inner);
  C10_CUDA_KERNEL_LAUNCH_CHECK();
}

// out = the op over a (and b) laid out as l, all contiguous, numel > 0.
template <typename P, typename in_t, typename out_t>
void launch_softmax(const Args<in_t, out_t>& args, const Layout& l, const at::TensorOptions& options) {
  if (l.inner > 1) {
    launch_columns<P>(args, l);
    return;
  }
  const int64_t rows = l.outer;
  if (l.dim <= warp_max_dim<P>()) {
    launch_warp<P>(args, rows, static_cast<int>(l.dim));
    return;
  }
  constexpr int kVec = max_vec<in_t, out_t>();
  if (args.aligned() && l.dim % kVec == 0) {
    launch_rows<P, in_t, out_t, kVec>(args, rows, l.dim, options);
  } else {
    launch_rows<P, in_t, out_t, 1>(args, rows, l.dim, options);
  }
}

template <typename T>
constexpr bool is_reduced_float() {
  return std::is_same_v<T, at::Half> || std::is_same_v<T, at::BFloat16>;
}

}  // namespace
}  // namespace torch_ext::ops
