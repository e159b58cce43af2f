#pragma once
// Warp and block reductions shared by the CUDA kernels: xor butterflies within a warp, and a block's value folded
// in one fixed order, so every thread gets the same bits (results do not depend on timing).

#include <cuda_runtime.h>

#include "ops/math/scalar_math.h"

namespace torch_ext::ops {
namespace {

constexpr int kWarp = 32;
constexpr unsigned int kFullMask = 0xffffffffu;

template <typename T>
struct MaxOp {
  __device__ __forceinline__ T operator()(T a, T b) const { return math::ScalarMath::maximum(a, b); }
};

template <typename T>
struct SumOp {
  __device__ __forceinline__ T operator()(T a, T b) const { return a + b; }
};

template <typename T>
__device__ __forceinline__ T shfl_xor(T v, int mask, int width) {
  return __shfl_xor_sync(kFullMask, v, mask, width);
}

// op over the values of each aligned group of kWidth lanes, returned to every lane of the group
// (an xor butterfly). All 32 lanes of the warp must call it.
template <int kWidth, typename T, typename Op>
__device__ __forceinline__ T warp_all_reduce(T v, const Op& op) {
  static_assert(kWidth >= 1 && kWidth <= kWarp && (kWidth & (kWidth - 1)) == 0, "kWidth: a power of 2 <= 32");
#pragma unroll
  for (int offset = kWidth / 2; offset > 0; offset /= 2) {
    v = op(v, shfl_xor(v, offset, kWidth));
  }
  return v;
}

// Shared memory for one block_all_reduce of a value of up to 16 bytes (a double SoftmaxState).
constexpr int kScratchSlotBytes = 16;
struct alignas(16) ReduceScratch {
  unsigned char bytes[kWarp * kScratchSlotBytes];
};

// op over the values of every thread of a 1-D block (blockDim.x a multiple of 32), returned to
// every thread: warp butterflies, one value a warp in shared memory, then each thread folds the
// warps' values in the same order, so all threads get the same bits. Every thread must call it.
template <typename T, typename Op>
__device__ __forceinline__ T block_all_reduce(T v, const Op& op, ReduceScratch& scratch) {
  static_assert(sizeof(T) <= kScratchSlotBytes, "ReduceScratch slots hold 16 bytes");
  T* slots = reinterpret_cast<T*>(scratch.bytes);
  v = warp_all_reduce<kWarp>(v, op);
  __syncthreads();  // NB: the previous call's readers are done with the slots
  if (threadIdx.x % kWarp == 0) {
    slots[threadIdx.x / kWarp] = v;
  }
  __syncthreads();
  T r = slots[0];
  const int warps = static_cast<int>(blockDim.x) / kWarp;
  for (int w = 1; w < warps; ++w) {
    r = op(r, slots[w]);
  }
  return r;
}

}  // namespace
}  // namespace torch_ext::ops
