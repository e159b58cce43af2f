// PReLU's CUDA kernels: prelu and prelu_backward over the shared formulas in math/prelu_math.h.
//
// The tensors are one dense buffer [outer, channels, inner] (PreluLayout, in prelu.h), cut into
// work by the layout alone, as on the CPU:
//  - long rows (inner >= kLongRow; one weight is the single row {1, 1, numel}): a warp takes a
//    segment of one (n, c) row, with the weight in a register; in the backward its lanes'
//    weight-gradient terms are summed with warp shuffles into one partial per segment;
//  - tiles (shorter rows, down to channels_last's inner = 1): the buffer is a matrix of `width`
//    columns (a whole number of channels * inner periods when every channel fits one block, else
//    channels * inner, cut into tiles of channels); a thread owns a column vector, loads the
//    weights of its lanes once, and walks down a group of rows. In the backward the block's
//    column sums meet in shared memory and are folded into per-channel partials [groups, channels].
// A second kernel sums each channel's partials in a fixed order. No atomics: the same inputs
// give the same bits on every run, whatever the grid size.
// Loads and stores are 128-bit where the pointers and the layout allow it; indices are int64.

#include <ATen/Dispatch.h>
#include <ATen/OpMathType.h>
#include <ATen/core/Tensor.h>
#include <ATen/cuda/CUDAContextLight.h>
#include <ATen/ops/empty.h>
#include <ATen/ops/empty_like.h>
#include <c10/cuda/CUDAException.h>
#include <c10/cuda/CUDAGuard.h>
#include <c10/cuda/CUDAStream.h>
#include <torch/library.h>

#include <algorithm>
#include <numeric>

#include "ops/common/checks.h"
#include "ops/common/integer_math.h"
#include "ops/common/cuda_elementwise.cuh"
#include "ops/math/prelu_math.h"
#include "ops/internal/prelu.h"

namespace torch_ext::ops {
namespace {

using math::ScalarMath;

constexpr int kThreads = 256;
constexpr int kWarp = 32;
// Rows at least this long are walked by warps, one segment each.
constexpr int64_t kLongRow = 256;
// Segment of a long row: one warp's item, one partial.
constexpr int64_t kSegment = 4096;
// Tiles: rows per block at least kMinRows (backward: bounds the partials at numel / 16 values)
// and about kBlockElements elements per block.
constexpr int64_t kForwardMinRows = 1;
constexpr int64_t kBackwardMinRows = 16;
constexpr int64_t kForwardBlockElements = 8192;
constexpr int64_t kBackwardBlockElements = 16384;
constexpr int64_t kMaxGridY = 65535;

C10_HOST_DEVICE inline int64_t min64(int64_t a, int64_t b) { return a < b ? a : b; }

// ---------------------------------------------------------------------------------------------
// Device code

template <typename scalar_t, int VEC>
using Pack = cuda::AlignedVector<scalar_t, VEC>;

// VEC consecutive elements: one 128-bit access when kAligned, else VEC scalar ones. The work
// (and so every sum's order) is the same either way; only the memory accesses differ.
template <int VEC, bool kAligned, typename scalar_t>
__device__ __forceinline__ Pack<scalar_t, VEC> load_pack(const scalar_t* p) {
  if constexpr (kAligned) {
    return *reinterpret_cast<const Pack<scalar_t, VEC>*>(p);
  } else {
    Pack<scalar_t, VEC> v;
#pragma unroll
    for (int k = 0; k < VEC; ++k) {
      v.val[k] = p[k];
    }
    return v;
  }
}

template <int VEC, bool kAligned, typename scalar_t>
__device__ __forceinline__ void store_pack(scalar_t* p, const Pack<scalar_t, VEC>& v) {
  if constexpr (kAligned) {
    *reinterpret_cast<Pack<scalar_t, VEC>*>(p) = v;
  } else {
#pragma unroll
    for (int k = 0; k < VEC; ++k) {
      p[k] = v.val[k];
    }
  }
}

// One element: out = forward(x), or out = grad_self(g, x) and acc += its weight-gradient term.
template <bool kBackward, typename scalar_t, typename opmath_t>
__device__ __forceinline__ scalar_t prelu_element(scalar_t g, scalar_t x, opmath_t w, opmath_t& acc) {
  const opmath_t xo = static_cast<opmath_t>(x);
  if constexpr (kBackward) {
    const opmath_t go = static_cast<opmath_t>(g);
    acc += math::prelu_backward_weight_term<ScalarMath>(go, xo);
    return static_cast<scalar_t>(math::prelu_backward_self<ScalarMath>(go, xo, w));
  } else {
    return static_cast<scalar_t>(math::prelu_forward<ScalarMath>(xo, w));
  }
}

// Long rows. A warp per item (row, segment); item order: row-major, so partials is
// [outer, channels, segments].
template <typename scalar_t, int VEC, bool kAligned, bool kBackward>
__global__ void __launch_bounds__(kThreads)
    prelu_rows_kernel(scalar_t* __restrict__ out,            // [numel] y, or grad_self (backward)
                      const scalar_t* __restrict__ grad,     // [numel] grad_output (backward), out's layout
                      const scalar_t* __restrict__ x,        // [numel] self, out's layout
                      const scalar_t* __restrict__ weight,   // [channels]
                      at::opmath_type<scalar_t>* __restrict__ partials,  // [rows * segments] (backward)
                      int64_t rows,                          // outer * channels
                      int64_t channels,
                      int64_t inner,                         // row length; a multiple of VEC
                      int64_t segments) {                    // ceil(inner / kSegment)
  using opmath_t = at::opmath_type<scalar_t>;
  using pack_t = Pack<scalar_t, VEC>;
  const int lane = threadIdx.x % kWarp;
  const int64_t warp = (static_cast<int64_t>(blockIdx.x) * blockDim.x + threadIdx.x) / kWarp;
  const int64_t warps = static_cast<int64_t>(gridDim.x) * blockDim.x / kWarp;
  const int64_t items = rows * segments;
  for (int64_t item = warp; item < items; item += warps) {
    const int64_t row = item / segments;
    const int64_t s0 = (item % segments) * kSegment;
    const int64_t begin = row * inner + s0;
    const int64_t n = min64(kSegment, inner - s0);
    const opmath_t w = static_cast<opmath_t>(weight[row % channels]);
    opmath_t acc = 0;
    const int64_t nvec = n / VEC;
    for (int64_t v = lane; v < nvec; v += kWarp) {
      const int64_t p = begin + v * VEC;
      const pack_t xv = load_pack<VEC, kAligned>(x + p);
      pack_t gv;
      if constexpr (kBackward) {
        gv = load_pack<VEC, kAligned>(grad + p);
      }
      pack_t y;
#pragma unroll
      for (int k = 0; k < VEC; ++k) {
        y.val[k] = prelu_element<kBackward>(kBackward ? gv.val[k] : scalar_t(0), xv.val[k], w, acc);
      }
      store_pack<VEC, kAligned>(out + p, y);
    }
    for (int64_t i = nvec * VEC + lane; i < n; i += kWarp) {
      const int64_t p = begin + i;
      out[p] = prelu_element<kBackward>(kBackward ? grad[p] : scalar_t(0), x[p], w, acc);
    }
    if constexpr (kBackward) {
      // NB: a fixed shuffle tree: the same sum on every run.
#pragma unroll
      for (int offset = kWarp / 2; offset > 0; offset /= 2) {
        acc += __shfl_down_sync(0xffffffffu, acc, offset);
      }
      if (lane == 0) {
        partials[item] = acc;
      }
    }
  }
}

// Tiles. Block (tile, group): the tile's columns [jb, je) of rows [group * group_rows, ...) of
// the [rows, width] matrix over the buffer (position r * width + j; the last row may be short).
template <typename scalar_t, int VEC, bool kAligned, bool kBackward>
__global__ void __launch_bounds__(kThreads)
    prelu_tile_kernel(scalar_t* __restrict__ out,            // [numel] y, or grad_self (backward)
                      const scalar_t* __restrict__ grad,     // [numel] grad_output (backward), out's layout
                      const scalar_t* __restrict__ x,        // [numel] self, out's layout
                      const scalar_t* __restrict__ weight,   // [channels]
                      at::opmath_type<scalar_t>* __restrict__ partials,  // [gridDim.y, channels] (backward)
                      int64_t numel,
                      int64_t channels,
                      int64_t inner,
                      int64_t width,          // a multiple of channels * inner (one tile) or equal to it, and of VEC
                      int64_t rows,           // ceil(numel / width)
                      int64_t tile_channels,  // channels per tile; tile_channels * inner <= kThreads * VEC
                      int64_t group_rows) {   // rows per block
  using opmath_t = at::opmath_type<scalar_t>;
  using pack_t = Pack<scalar_t, VEC>;
  const bool one_tile = tile_channels >= channels;
  const int64_t c0 = static_cast<int64_t>(blockIdx.x) * tile_channels;
  const int64_t c1 = min64(channels, c0 + tile_channels);
  const int64_t jb = one_tile ? 0 : c0 * inner;
  const int64_t je = one_tile ? width : c1 * inner;
  const int64_t j = jb + static_cast<int64_t>(threadIdx.x) * VEC;
  const bool active = j < je;  // je - jb is a multiple of VEC: a thread's lanes are all in or all out

  opmath_t w[VEC];
  opmath_t acc[VEC];
#pragma unroll
  for (int k = 0; k < VEC; ++k) {
    acc[k] = 0;
    w[k] = active ? static_cast<opmath_t>(weight[((j + k) / inner) % channels]) : opmath_t(0);
  }
  if (active) {
    const int64_t r0 = static_cast<int64_t>(blockIdx.y) * group_rows;
    const int64_t r1 = min64(rows, r0 + group_rows);
    for (int64_t r = r0; r < r1; ++r) {
      const int64_t p = r * width + j;
      if (p + VEC <= numel) {
        const pack_t xv = load_pack<VEC, kAligned>(x + p);
        pack_t gv;
        if constexpr (kBackward) {
          gv = load_pack<VEC, kAligned>(grad + p);
        }
        pack_t y;
#pragma unroll
        for (int k = 0; k < VEC; ++k) {
          y.val[k] = prelu_element<kBackward>(kBackward ? gv.val[k] : scalar_t(0), xv.val[k], w[k], acc[k]);
        }
        store_pack<VEC, kAligned>(out + p, y);
      } else {
        // The short last row.
#pragma unroll
        for (int k = 0; k < VEC; ++k) {
          if (p + k < numel) {
            out[p + k] = prelu_element<kBackward>(kBackward ? grad[p + k] : scalar_t(0), x[p + k], w[k], acc[k]);
          }
        }
      }
    }
  }

  if constexpr (kBackward) {
    // Column sums -> per-channel partials. Channel cl's columns are k = q * inner + i (position i
    // of period q), at column (k / inner) * period + cl * inner + k % inner; each step of a
    // pairwise tree adds the upper half of every channel's columns onto the lower half: a fixed
    // order, and log2(width) steps of all threads rather than one thread's walk per channel.
    // NB: 32-bit index math: columns are < kThreads * VEC, and period is used only when every
    // channel fits one block (one_tile).
    __shared__ opmath_t column[kThreads * VEC];
#pragma unroll
    for (int k = 0; k < VEC; ++k) {
      column[threadIdx.x * VEC + k] = acc[k];
    }
    __syncthreads();
    const int in = static_cast<int>(inner);
    const int period = one_tile ? static_cast<int>(channels * inner) : 0;
    const int nch = static_cast<int>(c1 - c0);
    auto col = [in, period](int cl, int k) { return (k / in) * period + cl * in + k % in; };
    for (int n = (one_tile ? static_cast<int>(width) / period : 1) * in; n > 1;) {
      const int h = (n + 1) / 2;
      const int pairs = n - h;
      for (int idx = threadIdx.x; idx < nch * pairs; idx += kThreads) {
        const int cl = idx / pairs;
        const int k = idx % pairs;
        column[col(cl, k)] += column[col(cl, k + h)];
      }
      __syncthreads();
      n = h;
    }
    for (int cl = threadIdx.x; cl < nch; cl += kThreads) {
      partials[static_cast<int64_t>(blockIdx.y) * channels + c0 + cl] = column[col(cl, 0)];
    }
  }
}

// grad_weight[c] = the sum of channel c's partials ([count, channels, segments]), one block per
// channel: each thread sums a fixed strided subset in order, then a fixed tree.
template <typename scalar_t>
__global__ void __launch_bounds__(kThreads)
    prelu_weight_grad_kernel(scalar_t* __restrict__ grad_weight,                    // [channels]
                             const at::opmath_type<scalar_t>* __restrict__ partials,  // [count, channels, segments]
                             int64_t count, int64_t channels, int64_t segments) {
  using opmath_t = at::opmath_type<scalar_t>;
  const int64_t c = blockIdx.x;
  const int64_t n = count * segments;
  opmath_t sum = 0;
  for (int64_t k = threadIdx.x; k < n; k += kThreads) {
    const int64_t a = k / segments;
    const int64_t s = k % segments;
    sum += partials[(a * channels + c) * segments + s];
  }
#pragma unroll
  for (int offset = kWarp / 2; offset > 0; offset /= 2) {
    sum += __shfl_down_sync(0xffffffffu, sum, offset);
  }
  __shared__ opmath_t warp_sums[kThreads / kWarp];
  const int lane = threadIdx.x % kWarp;
  const int warp = threadIdx.x / kWarp;
  if (lane == 0) {
    warp_sums[warp] = sum;
  }
  __syncthreads();
  if (warp == 0) {
    sum = lane < kThreads / kWarp ? warp_sums[lane] : opmath_t(0);
#pragma unroll
    for (int offset = kWarp / 2; offset > 0; offset /= 2) {
      sum += __shfl_down_sync(0xffffffffu, sum, offset);
    }
    if (lane == 0) {
      grad_weight[c] = static_cast<scalar_t>(sum);
    }
  }
}

// ---------------------------------------------------------------------------------------------
// Host side: the work decomposition, a function of the layout only (the pointers' alignment
// picks 128-bit or scalar accesses, not the work), so every sum has the same terms in the same
// order on every run.

struct TilePlan {
  int vec;  // columns per thread
  int64_t width, rows, tile_channels, tiles, group_rows, groups;
};

// The tile decomposition with vec columns per thread, or false when the layout does not allow it.
bool make_tile_plan(const PreluLayout& l, int64_t numel, int vec, int64_t min_rows, int64_t block_elements,
                    TilePlan* plan) {
  const int64_t span = static_cast<int64_t>(kThreads) * vec;  // columns one block covers
  const int64_t period = l.channels * l.inner;
  TilePlan p{};
  p.vec = vec;
  int64_t cols = 0;  // columns of one block
  if (period <= span) {
    // Every channel in one tile; the width is the most whole periods that fit, a multiple of vec.
    const int64_t q = vec / std::gcd(period, static_cast<int64_t>(vec));
    const int64_t m = span / period / q * q;
    if (m == 0) {
      return false;
    }
    p.width = m * period;
    p.tile_channels = l.channels;
    cols = p.width;
  } else {
    if (period % vec != 0) {
      return false;  // rows would start off the vector grid
    }
    const int64_t q = vec / std::gcd(l.inner, static_cast<int64_t>(vec));
    p.tile_channels = span / l.inner / q * q;
    if (p.tile_channels == 0) {
      return false;
    }
    p.width = period;
    cols = p.tile_channels * l.inner;
  }
  p.rows = ceil_div(numel, p.width);
  p.tiles = ceil_div(l.channels, p.tile_channels);
  p.group_rows = std::max({min_rows, ceil_div(block_elements, cols), ceil_div(p.rows, kMaxGridY)});
  p.groups = ceil_div(p.rows, p.group_rows);
  *plan = p;
  return true;
}

bool all_aligned(std::initializer_list<const void*> ptrs) {
  for (const void* p : ptrs) {
    if (p != nullptr && !cuda::is_vector_aligned(p)) {
      return false;
    }
  }
  return true;
}

unsigned int rows_grid(int64_t items) {
  const cudaDeviceProp* prop = at::cuda::getCurrentDeviceProperties();
  const int64_t resident =
      static_cast<int64_t>(prop->multiProcessorCount) * std::max(1, prop->maxThreadsPerMultiProcessor / kThreads);
  const int64_t needed = ceil_div(items, kThreads / kWarp);
  return static_cast<unsigned int>(std::max<int64_t>(1, std::min(needed, 4 * resident)));
}

template <typename scalar_t, int VEC, bool kAligned, bool kBackward>
void launch_rows(scalar_t* out, const scalar_t* grad, const scalar_t* x, const scalar_t* weight,
                 at::opmath_type<scalar_t>* partials, const PreluLayout& l, int64_t segments) {
  const int64_t rows = l.outer * l.channels;
  prelu_rows_kernel<scalar_t, VEC, kAligned, kBackward>
      <<<rows_grid(rows * segments), kThreads, 0, at::cuda::getCurrentCUDAStream()>>>(
          out, grad, x, weight, partials, rows, l.channels, l.inner, segments);
  C10_CUDA_KERNEL_LAUNCH_CHECK();
}

template <typename scalar_t, int VEC, bool kAligned, bool kBackward>
void launch_tiles(scalar_t* out, const scalar_t* grad, const scalar_t* x, const scalar_t* weight,
                  at::opmath_type<scalar_t>* partials, const PreluLayout& l, int64_t numel, const TilePlan& p) {
  const dim3 grid(static_cast<unsigned int>(p.tiles), static_cast<unsigned int>(p.groups));
  prelu_tile_kernel<scalar_t, VEC, kAligned, kBackward><<<grid, kThreads, 0, at::cuda::getCurrentCUDAStream()>>>(
      out, grad, x, weight, partials, numel, l.channels, l.inner, p.width, p.rows, p.tile_channels, p.group_rows);
  C10_CUDA_KERNEL_LAUNCH_CHECK();
}

// Forward (grad == nullptr): out = prelu(x). Backward: out = grad_self, and the returned
// partials of grad_weight, of shape [count, channels, segments].
template <typename scalar_t, bool kBackward>
at::Tensor prelu_cuda_launch(scalar_t* out, const scalar_t* grad, const scalar_t* x, const scalar_t* weight,
                             const PreluLayout& l, int64_t numel, const at::TensorOptions& acc_options,
                             int64_t* count, int64_t* segments) {
  using opmath_t = at::opmath_type<scalar_t>;
  constexpr int kVec = cuda::max_vec_size<scalar_t>();
  const bool aligned = all_aligned({out, grad, x});
  at::Tensor partials;
  opmath_t* part = nullptr;

  if (l.inner >= kLongRow) {
    const int64_t segs = ceil_div(l.inner, kSegment);
    if constexpr (kBackward) {
      partials = at::empty({l.outer * l.channels * segs}, acc_options);
      part = partials.mutable_data_ptr<opmath_t>();
      *count = l.outer;
      *segments = segs;
    }
    if (l.inner % kVec != 0) {
      launch_rows<scalar_t, 1, false, kBackward>(out, grad, x, weight, part, l, segs);
    } else if (aligned) {
      launch_rows<scalar_t, kVec, true, kBackward>(out, grad, x, weight, part, l, segs);
    } else {
      launch_rows<scalar_t, kVec, false, kBackward>(out, grad, x, weight, part, l, segs);
    }
    return partials;
  }

  const int64_t min_rows = kBackward ? kBackwardMinRows : kForwardMinRows;
  const int64_t block_elements = kBackward ? kBackwardBlockElements : kForwardBlockElements;
  TilePlan p;
  if (!make_tile_plan(l, numel, kVec, min_rows, block_elements, &p)) {
    TORCH_INTERNAL_ASSERT(make_tile_plan(l, numel, 1, min_rows, block_elements, &p));
  }
  if constexpr (kBackward) {
    partials = at::empty({p.groups * l.channels}, acc_options);
    part = partials.mutable_data_ptr<opmath_t>();
    *count = p.groups;
    *segments = 1;
  }
  if (p.vec == 1) {
    launch_tiles<scalar_t, 1, false, kBackward>(out, grad, x, weight, part, l, numel, p);
  } else if (aligned) {
    launch_tiles<scalar_t, kVec, true, kBackward>(out, grad, x, weight, part, l, numel, p);
  } else {
    launch_tiles<scalar_t, kVec, false, kBackward>(out, grad, x, weight, part, l, numel, p);
  }
  return partials;
}

at::TensorOptions acc_options(const at::Tensor& t) {
  return t.options().dtype(at::toOpMathType(t.scalar_type()));
}

at::Tensor prelu_forward_kernel(const at::Tensor& self, const at::Tensor& weight) {
  check_prelu(self, weight);
  const c10::cuda::CUDAGuard device_guard(self.device());
  // NB: empty_like keeps a dense input's strides (channels_last stays channels_last), as the
  // Meta kernel does; it is dense for any input.
  at::Tensor out = at::empty_like(self);
  const int64_t numel = out.numel();
  if (numel == 0) {
    return out;
  }
  const at::Tensor x = prelu_dense_like(self, out);
  const at::Tensor w = weight.contiguous();
  const PreluLayout l = prelu_layout(out, w.numel());
  AT_DISPATCH_FLOATING_TYPES_AND2(at::kHalf, at::kBFloat16, self.scalar_type(), "prelu_cuda", [&] {
    prelu_cuda_launch<scalar_t, false>(out.mutable_data_ptr<scalar_t>(), nullptr, x.const_data_ptr<scalar_t>(),
                                       w.const_data_ptr<scalar_t>(), l, numel, acc_options(self), nullptr, nullptr);
  });
  return out;
}

std::tuple<at::Tensor, at::Tensor> prelu_backward_kernel(const at::Tensor& grad_output, const at::Tensor& self,
                                                         const at::Tensor& weight) {
  check_prelu_backward(grad_output, self, weight);
  const c10::cuda::CUDAGuard device_guard(self.device());
  at::Tensor grad_self = at::empty_like(self);
  at::Tensor grad_weight = at::empty(weight.sizes(), weight.options());
  const int64_t numel = grad_self.numel();
  if (numel == 0) {
    grad_weight.zero_();  // a sum over no elements
    return {grad_self, grad_weight};
  }
  const at::Tensor g = prelu_dense_like(grad_output, grad_self);
  const at::Tensor x = prelu_dense_like(self, grad_self);
  const at::Tensor w = weight.contiguous();
  const PreluLayout l = prelu_layout(grad_self, w.numel());
  AT_DISPATCH_FLOATING_TYPES_AND2(at::kHalf, at::kBFloat16, self.scalar_type(), "prelu_backward_cuda", [&] {
    int64_t count = 0;
    int64_t segments = 0;
    // partials stays alive until the second kernel has been queued on the same stream.
    const at::Tensor partials = prelu_cuda_launch<scalar_t, true>(
        grad_self.mutable_data_ptr<scalar_t>(), g.const_data_ptr<scalar_t>(), x.const_data_ptr<scalar_t>(),
        w.const_data_ptr<scalar_t>(), l, numel, acc_options(self), &count, &segments);
    prelu_weight_grad_kernel<scalar_t><<<static_cast<unsigned int>(l.channels), kThreads, 0,
                                         at::cuda::getCurrentCUDAStream()>>>(
        grad_weight.mutable_data_ptr<scalar_t>(), partials.const_data_ptr<at::opmath_type<scalar_t>>(), count,
        l.channels, segments);
    C10_CUDA_KERNEL_LAUNCH_CHECK();
  });
  return {grad_self, grad_weight};
}

}  // namespace
}  // namespace torch_ext::ops

TORCH_LIBRARY_IMPL(torch_ext, CUDA, m) {
  m.impl("prelu", TORCH_FN(torch_ext::ops::prelu_forward_kernel));
  m.impl("prelu_backward", TORCH_FN(torch_ext::ops::prelu_backward_kernel));
}
