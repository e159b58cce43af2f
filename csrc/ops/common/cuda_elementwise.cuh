#pragma once
// Elementwise CUDA kernels over tensors that share one dense layout:
//   out[i] = f(in_0[i], ..., in_{NIN-1}[i])
// The functor f takes and returns at::opmath_type<scalar_t> (float for half/bfloat16), so the
// formulas in math/<op>_math.h run in the same precision as on the CPU.
//
// Usage (inside AT_DISPATCH, with a functor whose operator() is __device__):
//   launch_elementwise<scalar_t>(out, {self}, MyOp<opmath_t>{...});
//   launch_elementwise<scalar_t>(out, {grad_output, self}, MyBackwardOp<opmath_t>{...});
// Functors are plain structs, not __device__ lambdas, so no --expt-extended-lambda is needed.

#include <ATen/MemoryOverlap.h>
#include <ATen/OpMathType.h>
#include <ATen/core/Tensor.h>
#include <ATen/cuda/CUDAContextLight.h>
#include <ATen/ops/empty.h>
#include <ATen/ops/empty_like.h>
#include <c10/cuda/CUDAException.h>
#include <c10/cuda/CUDAStream.h>
#include <c10/macros/Macros.h>
#include <c10/util/Exception.h>

#include <algorithm>
#include <cstdint>
#include <utility>

#include "ops/common/integer_math.h"

namespace torch_ext::ops::cuda {

// 128-bit accesses: the widest load/store one thread can issue.
constexpr int kVectorBytes = 16;
constexpr int kElementwiseThreads = 256;

template <typename scalar_t>
constexpr int max_vec_size() {
  return kVectorBytes / static_cast<int>(sizeof(scalar_t));
}

template <typename T, int N>
struct alignas(sizeof(T) * N) AlignedVector {
  T val[N];
};

// Kernel arguments: a plain aggregate (not std::array) so device code needs no relaxed constexpr.
template <typename T, int N>
struct PointerArray {
  T* ptr[N];
};

namespace detail {

template <typename opmath_t, typename F, typename Vals, std::size_t... I>
__device__ __forceinline__ opmath_t apply(const F& f, const Vals& v, std::index_sequence<I...>) {
  return f(static_cast<opmath_t>(v[I])...);
}

// One output element from element i of each input.
template <typename scalar_t, int NIN, typename F>
__device__ __forceinline__ void scalar_step(scalar_t* out, const PointerArray<const scalar_t, NIN>& in, int64_t i,
                                            const F& f) {
  using opmath_t = at::opmath_type<scalar_t>;
  scalar_t v[NIN];
#pragma unroll
  for (int j = 0; j < NIN; ++j) {
    v[j] = in.ptr[j][i];
  }
  out[i] = static_cast<scalar_t>(apply<opmath_t>(f, v, std::make_index_sequence<NIN>{}));
}

}  // namespace detail

// NB: no __restrict__: the in-place ops pass out == in[0]. Each element is read and written by
// the same thread at the same index, so the aliasing is harmless, but restrict would be a lie.
// VEC > 1 requires every pointer to be 16-byte aligned (checked by the launcher).
template <typename scalar_t, int NIN, int VEC, typename F>
__global__ void __launch_bounds__(kElementwiseThreads)
    elementwise_kernel(scalar_t* out,                         // [n] dense storage
                       PointerArray<const scalar_t, NIN> in,  // NIN x [n], in out's layout
                       int64_t n,                             // number of elements
                       F f) {                                 // opmath_t(opmath_t x NIN), __device__
  using opmath_t = at::opmath_type<scalar_t>;
  using vec_t = AlignedVector<scalar_t, VEC>;
  const int64_t stride = static_cast<int64_t>(blockDim.x) * gridDim.x;
  const int64_t tid = static_cast<int64_t>(blockIdx.x) * blockDim.x + threadIdx.x;

  int64_t tail_begin = 0;
  if constexpr (VEC > 1) {
    const int64_t nvec = n / VEC;
    for (int64_t v = tid; v < nvec; v += stride) {
      vec_t x[NIN];
#pragma unroll
      for (int j = 0; j < NIN; ++j) {
        x[j] = reinterpret_cast<const vec_t*>(in.ptr[j])[v];
      }
      vec_t y;
#pragma unroll
      for (int k = 0; k < VEC; ++k) {
        scalar_t lane[NIN];
#pragma unroll
        for (int j = 0; j < NIN; ++j) {
          lane[j] = x[j].val[k];
        }
        y.val[k] = static_cast<scalar_t>(detail::apply<opmath_t>(f, lane, std::make_index_sequence<NIN>{}));
      }
      reinterpret_cast<vec_t*>(out)[v] = y;
    }
    tail_begin = nvec * VEC;
  }
  // The scalar path: every element when unaligned (VEC == 1), else the last n % VEC.
  for (int64_t i = tail_begin + tid; i < n; i += stride) {
    detail::scalar_step<scalar_t, NIN>(out, in, i, f);
  }
}

inline bool is_vector_aligned(const void* p) { return reinterpret_cast<std::uintptr_t>(p) % kVectorBytes == 0; }

// a and b (same sizes, both non-overlapping and dense) put every index at the same storage
// offset. Strides of size-1 dims are ignored: they never contribute to an offset.
inline bool same_dense_layout(const at::Tensor& a, const at::Tensor& b) {
  if (a.sizes() != b.sizes() || !a.is_non_overlapping_and_dense() || !b.is_non_overlapping_and_dense()) {
    return false;
  }
  for (int64_t d = 0; d < a.dim(); ++d) {
    if (a.size(d) > 1 && a.stride(d) != b.stride(d)) {
      return false;
    }
  }
  return true;
}

// Runs the flat kernel over n elements of dense storage; every tensor shares one layout.
template <typename scalar_t, int NIN, typename F>
void launch_flat(scalar_t* out, const PointerArray<const scalar_t, NIN>& in, int64_t n, const F& f) {
  constexpr int kVec = max_vec_size<scalar_t>();
  bool aligned = is_vector_aligned(out);
  for (int j = 0; j < NIN; ++j) {
    aligned = aligned && is_vector_aligned(in.ptr[j]);
  }
  const int vec = aligned ? kVec : 1;

  // NB: a grid-stride loop with one full wave of resident blocks: enough 16-byte loads in
  // flight to saturate HBM, without paying for blocks that do a handful of elements each.
  const cudaDeviceProp* prop = at::cuda::getCurrentDeviceProperties();
  const int64_t blocks_per_sm = std::max(1, prop->maxThreadsPerMultiProcessor / kElementwiseThreads);
  const int64_t max_blocks = static_cast<int64_t>(prop->multiProcessorCount) * blocks_per_sm;
  const int64_t per_block = static_cast<int64_t>(kElementwiseThreads) * vec;
  const int64_t blocks = std::max<int64_t>(1, std::min(ceil_div(n, per_block), max_blocks));

  const cudaStream_t stream = at::cuda::getCurrentCUDAStream();
  if (aligned) {
    elementwise_kernel<scalar_t, NIN, kVec, F>
        <<<static_cast<unsigned int>(blocks), kElementwiseThreads, 0, stream>>>(out, in, n, f);
  } else {
    elementwise_kernel<scalar_t, NIN, 1, F>
        <<<static_cast<unsigned int>(blocks), kElementwiseThreads, 0, stream>>>(out, in, n, f);
  }
  C10_CUDA_KERNEL_LAUNCH_CHECK();
}

// out[i] = f(inputs[0][i], ...), any strides. Preconditions (the caller's checks): every tensor
// has out's sizes, dtype scalar_t and device (the current one, under a CUDAGuard); out is
// either one of the inputs (in place) or shares no memory with them.
template <typename scalar_t, int NIN, typename F>
void launch_elementwise(const at::Tensor& out, const at::Tensor (&inputs)[NIN], const F& f) {
  static_assert(NIN >= 1, "launch_elementwise needs at least one input");
  for (int j = 0; j < NIN; ++j) {
    TORCH_INTERNAL_ASSERT(inputs[j].sizes() == out.sizes() && inputs[j].scalar_type() == out.scalar_type() &&
                          inputs[j].device() == out.device());
    at::assert_no_partial_overlap(out, inputs[j]);
  }
  const int64_t n = out.numel();
  if (n == 0) {
    return;
  }

  PointerArray<const scalar_t, NIN> in;
  if (out.is_non_overlapping_and_dense()) {
    // The common case: out and every input share one dense layout (contiguous, channels_last,
    // or any permutation), so element i of each storage belongs to the same index: run flat.
    // An input in another layout is first copied into out's layout (empty_like keeps a dense
    // tensor's strides), one extra pass instead of a strided kernel.
    at::Tensor staged[NIN];
    for (int j = 0; j < NIN; ++j) {
      if (same_dense_layout(inputs[j], out)) {
        staged[j] = inputs[j];
      } else {
        staged[j] = at::empty_like(out);
        staged[j].copy_(inputs[j]);
      }
      in.ptr[j] = staged[j].template const_data_ptr<scalar_t>();
    }
    launch_flat<scalar_t, NIN>(out.mutable_data_ptr<scalar_t>(), in, n, f);
    return;
  }

  // NB: out has gaps or overlaps (only possible for an in-place op on a strided view, e.g. a
  // slice). Its storage is not a flat array of its elements, so compute into a contiguous
  // temporary from contiguous inputs and let copy_ scatter the result through out's strides.
  // In place, out's own contiguous copy is that temporary.
  at::Tensor contig[NIN];
  at::Tensor tmp;
  for (int j = 0; j < NIN; ++j) {
    contig[j] = inputs[j].contiguous();
    in.ptr[j] = contig[j].template const_data_ptr<scalar_t>();
    if (inputs[j].is_same(out)) {
      tmp = contig[j];
    }
  }
  if (!tmp.defined()) {
    tmp = at::empty(out.sizes(), out.options().memory_format(at::MemoryFormat::Contiguous));
  }
  launch_flat<scalar_t, NIN>(tmp.mutable_data_ptr<scalar_t>(), in, n, f);
  out.copy_(tmp);
}

}  // namespace torch_ext::ops::cuda
