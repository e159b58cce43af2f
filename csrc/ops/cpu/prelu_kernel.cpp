// PReLU on the CPU. This file is compiled once per CPU capability (DEFAULT, AVX2, AVX512; see
// CMakeLists.txt): each build registers its loops (cpu/isa_dispatch.h), and the
// DEFAULT build also holds the op-facing kernels, which pick the loops for this machine.
//
// Every kernel sees its tensors as one dense buffer [outer, channels, inner] (PreluLayout, in
// prelu.h): contiguous NC... has inner = prod(sizes[2:]), channels_last has inner = 1, one
// weight is {1, 1, numel}. The buffer is cut into work items by its layout alone (never by the
// thread count), so each weight-gradient term always lands in the same partial sum:
//  - long rows (inner >= kLongRow): an item is a segment of one (n, c) row of a single channel;
//    the weight is a splat, the weight-gradient terms are summed in vector registers, and each
//    item writes one partial;
//  - tiles (shorter rows, down to channels_last's inner = 1): an item is a group of rows times a
//    tile of channels; a weight pattern (the weight of each position of a tile's row) makes the
//    loop elementwise, and a same-length accumulator array sums the terms position by position
//    before they are folded into the item's [channels] partials.
// grad_weight[c] is then the sum of channel c's partials, in item order.

#include <ATen/Dispatch.h>
#include <ATen/OpMathType.h>
#include <ATen/Parallel.h>
#include <ATen/cpu/vec/functional.h>
#include <ATen/cpu/vec/vec.h>
#include <ATen/ops/empty.h>
#include <ATen/ops/empty_like.h>
#include <torch/library.h>

#include <algorithm>
#include <array>
#include <cstdint>
#include <type_traits>
#include <utility>
#include <vector>

#include "ops/common/checks.h"
#include "ops/common/integer_math.h"
#include "ops/cpu/elementwise.h"
#include "ops/cpu/isa_dispatch.h"
#include "ops/math/prelu_math.h"
#include "ops/internal/prelu.h"

namespace torch_ext::ops::cpu {

// out, self: one dense layout (layout); weight: contiguous, layout.channels elements
struct PreluKernel {
  using Fn = void (*)(const at::Tensor& out, const at::Tensor& self, const at::Tensor& weight,
                                    const torch_ext::ops::PreluLayout& layout);
};
// grad_self, grad_output, self: one dense layout (layout); weight: contiguous, layout.channels
// elements; grad_weight: contiguous, layout.channels elements
struct PreluBackwardKernel {
  using Fn = void (*)(const at::Tensor& grad_self, const at::Tensor& grad_weight,
                                             const at::Tensor& grad_output, const at::Tensor& self,
                                             const at::Tensor& weight, const torch_ext::ops::PreluLayout& layout);
};

}  // namespace torch_ext::ops::cpu

namespace torch_ext::ops::cpu {
inline namespace CPU_CAPABILITY {
namespace {

// Rows at least this long are reduced in registers, one item per row segment.
constexpr int64_t kLongRow = 512;
// Segment of a long row: one item, one partial.
constexpr int64_t kSegment = 16384;
// Longest weight pattern (and accumulator array) of a tile: 8 KiB of floats, L1-resident.
constexpr int64_t kPatternMax = 2048;
// Shortest pattern: when channels * inner is tiny (channels_last with few channels), the
// pattern holds several periods so that the vector loop runs over more than a handful of lanes.
constexpr int64_t kPatternMin = 64;

// The work decomposition: a function of the layout only.
struct Plan {
  PreluLayout l;
  bool long_rows;
  // long rows: items = outer * channels * segments, item = (row, segment)
  int64_t segments = 0;
  // tiles: items = groups * tiles, item = (group of group_rows rows, tile of tile_channels channels)
  int64_t tile_channels = 0, tiles = 0, group_rows = 0, groups = 0;
  // pattern length: tile_channels * inner, or (one tile) a whole number of periods channels * inner
  int64_t pattern = 0;

  int64_t items() const { return long_rows ? l.outer * l.channels * segments : groups * tiles; }
  // Partial sums of the weight gradient: one per item (long rows), or [groups, channels] (tiles).
  int64_t partials() const { return long_rows ? items() : groups * l.channels; }
  // Items per parallel task (how items are shared between threads; results do not depend on it).
  // NB: a tile item holds min(group_rows, outer) rows: with the nominal group_rows, a small tensor of
  // several tiles (e.g. [1, 64, 8, 8]) was split over threads, and paid a thread wake-up per call.
  int64_t grain() const {
    const int64_t per_item =
        long_rows ? std::min(l.inner, kSegment) : std::min(group_rows, l.outer) * tile_channels * l.inner;
    return std::max<int64_t>(1, kGrainSize / std::max<int64_t>(1, per_item));
  }
};

Plan make_plan(const PreluLayout& l) {
  Plan p{l, l.inner >= kLongRow};
  if (p.long_rows) {
    p.segments = ceil_div(l.inner, kSegment);
    return p;
  }
  const int64_t period = l.channels * l.inner;
  if (period <= kPatternMax) {
    p.tile_channels = l.channels;
    p.pattern = period >= kPatternMin ? period : period * ceil_div(kPatternMin, period);
  } else {
    p.tile_channels = std::max<int64_t>(1, kPatternMax / l.inner);
    p.pattern = p.tile_channels * l.inner;
  }
  p.tiles = ceil_div(l.channels, p.tile_channels);
  // NB: >= kGrainSize / kPatternMax = 16 rows per group bounds the partials at numel / 16 values.
  p.group_rows = std::max<int64_t>(1, kGrainSize / (p.tile_channels * l.inner));
  p.groups = ceil_div(l.outer, p.group_rows);
  return p;
}

// One tile item's extent: channels [c0, c1), rows [o0, o1).
struct TileItem {
  int64_t c0, c1, o0, o1;
};

TileItem tile_item(const Plan& p, int64_t item) {
  const int64_t g = item / p.tiles;
  const int64_t t = item % p.tiles;
  const int64_t c0 = t * p.tile_channels;
  const int64_t o0 = g * p.group_rows;
  return {c0, std::min(p.l.channels, c0 + p.tile_channels), o0, std::min(p.l.outer, o0 + p.group_rows)};
}

// Calls run(offset, length) for each contiguous run of a tile item. Every run starts at
// position 0 of the item's pattern.
template <typename F>
void for_each_tile_run(const Plan& p, const TileItem& it, const F& run) {
  const int64_t inner = p.l.inner;
  if (p.tiles == 1) {
    // The item's rows are one contiguous range; the pattern is a whole number of periods.
    const int64_t period = p.l.channels * inner;
    const int64_t begin = it.o0 * period;
    const int64_t total = (it.o1 - it.o0) * period;
    for (int64_t off = 0; off < total; off += p.pattern) {
      run(begin + off, std::min(p.pattern, total - off));
    }
  } else {
    const int64_t len = (it.c1 - it.c0) * inner;
    for (int64_t o = it.o0; o < it.o1; ++o) {
      run((o * p.l.channels + it.c0) * inner, len);
    }
  }
}

// Calls run(j, n, c) for the positions [j, j + n) of a tile item's pattern, j < len, that belong to
// channel c, in position order: position j is channel c0 + (j / inner) % (c1 - c0), walked as runs of
// inner positions (a division per position cost more than the data for small tensors).
template <typename F>
void for_each_channel_run(const Plan& p, const TileItem& it, int64_t len, const F& run) {
  const int64_t inner = p.l.inner;
  for (int64_t j = 0; j < len;) {
    for (int64_t c = it.c0; c < it.c1 && j < len; ++c) {
      const int64_t n = std::min(inner, len - j);
      run(j, n, c);
      j += n;
    }
  }
}

// pattern[j] = weight[channel of position j], for j < len.
template <typename scalar_t>
void fill_pattern(scalar_t* pattern, const scalar_t* weight, const Plan& p, const TileItem& it, int64_t len) {
  for_each_channel_run(p, it, len, [&](int64_t j, int64_t n, int64_t c) { std::fill_n(pattern + j, n, weight[c]); });
}

// A vector of scalar_t widened to op-math vectors: one for float/double, two for half/bfloat16.
template <typename scalar_t>
struct Wide {
  using Vec = at::vec::Vectorized<scalar_t>;
  using opmath_t = at::opmath_type<scalar_t>;
  using OVec = at::vec::Vectorized<opmath_t>;
  static constexpr bool kReduced = !std::is_same_v<opmath_t, scalar_t>;
  static constexpr int kParts = kReduced ? 2 : 1;
  static constexpr int64_t kSize = Vec::size();
  static constexpr int64_t kPartSize = OVec::size();
  using Parts = std::array<OVec, kParts>;

  static Parts load(const scalar_t* p, int64_t n) {
    const Vec v = n == kSize ? Vec::loadu(p) : Vec::loadu(p, n);
    if constexpr (kReduced) {
      auto [lo, hi] = at::vec::convert_to_float<scalar_t>(v);
      return {lo, hi};
    } else {
      return {v};
    }
  }
  // With `stream`, a full vector at an aligned address is written with a streaming store.
  static void store(scalar_t* p, int64_t n, const Parts& v, bool stream = false) {
    Vec out;
    if constexpr (kReduced) {
      out = at::vec::convert_from_float<scalar_t>(v[0], v[1]);
    } else {
      out = v[0];
    }
    if (n == kSize) {
      if (stream && reinterpret_cast<uintptr_t>(p) % sizeof(Vec) == 0) {
        stream_store(p, out);
      } else {
        out.store(p);
      }
    } else {
      out.store(p, n);
    }
  }
  // Lanes of part k that hold one of the first n elements.
  static int64_t part_count(int k, int64_t n) { return std::clamp<int64_t>(n - k * kPartSize, 0, kPartSize); }
};

// ---------------------------------------------------------------------------------------------
// Forward

template <typename scalar_t>
void prelu_forward_loop(scalar_t* out, const scalar_t* x, const scalar_t* weight, const Plan& p) {
  using opmath_t = at::opmath_type<scalar_t>;
  auto out_c = [out](int64_t i) { return reinterpret_cast<char*>(out + i); };
  auto in_c = [](const scalar_t* q, int64_t i) { return reinterpret_cast<const char*>(q + i); };
  std::vector<scalar_t> shared_pattern;
  if (!p.long_rows && p.tiles == 1) {
    // One tile: every item has the same pattern.
    shared_pattern.resize(p.pattern);
    fill_pattern(shared_pattern.data(), weight, p, tile_item(p, 0), p.pattern);
  }
  // Streaming stores for outputs past the last-level cache (see elementwise.h).
  const int64_t out_bytes = p.l.outer * p.l.channels * p.l.inner * int64_t(sizeof(scalar_t));
  const bool stream = use_streaming_stores(2 * out_bytes, out, out_bytes);
  at::parallel_for(0, p.items(), p.grain(), [&](int64_t begin, int64_t end) {
    std::vector<scalar_t> own_pattern;
    for (int64_t item = begin; item < end; ++item) {
      if (p.long_rows) {
        const int64_t row = item / p.segments;
        const int64_t s0 = (item % p.segments) * kSegment;
        const int64_t off = row * p.l.inner + s0;
        const opmath_t w = static_cast<opmath_t>(weight[row % p.l.channels]);
        elementwise_vec_loop<scalar_t>(
            out_c(off), std::array<const char*, 1>{in_c(x, off)}, std::min(kSegment, p.l.inner - s0),
            [w](auto xv) {
              using T = decltype(xv);
              return math::prelu_forward<math_for_t<T>>(xv, T(w));
            },
            std::make_index_sequence<1>{}, stream);
        continue;
      }
      const TileItem it = tile_item(p, item);
      const scalar_t* pattern = shared_pattern.data();
      if (p.tiles > 1) {
        own_pattern.resize(p.pattern);
        fill_pattern(own_pattern.data(), weight, p, it, (it.c1 - it.c0) * p.l.inner);
        pattern = own_pattern.data();
      }
      for_each_tile_run(p, it, [&](int64_t off, int64_t len) {
        elementwise_vec_loop<scalar_t>(
            out_c(off), std::array<const char*, 2>{in_c(x, off), in_c(pattern, 0)}, len,
            [](auto xv, auto wv) { return math::prelu_forward<math_for_t<decltype(xv)>>(xv, wv); },
            std::make_index_sequence<2>{}, stream);
      });
    }
    if (stream) {
      stream_fence();
    }
  });
}

// ---------------------------------------------------------------------------------------------
// Backward: grad_self and the weight-gradient terms in one pass over grad_output and self

// A long-row segment: writes gx[0, n) and returns the sum of its weight-gradient terms. The
// vector accumulators are reduced in a fixed order.
template <typename scalar_t>
at::opmath_type<scalar_t> backward_row(scalar_t* gx, const scalar_t* g, const scalar_t* x,
                                       at::opmath_type<scalar_t> w, int64_t n, bool stream) {
  using W = Wide<scalar_t>;
  using OVec = typename W::OVec;
  using M = VecMath;
  const OVec wv(w);
  const OVec zero(0);
  std::array<OVec, W::kParts> acc;
  acc.fill(zero);
  for (int64_t i = 0; i < n; i += W::kSize) {
    const int64_t cnt = std::min(W::kSize, n - i);
    const auto gv = W::load(g + i, cnt);
    const auto xv = W::load(x + i, cnt);
    typename W::Parts out;
    for (int k = 0; k < W::kParts; ++k) {
      out[k] = math::prelu_backward_self<M>(gv[k], xv[k], wv);
      OVec term = math::prelu_backward_weight_term<M>(gv[k], xv[k]);
      // NB: the lanes past n hold whatever a partial load left there; keep them out of the sum.
      const int64_t lanes = W::part_count(k, cnt);
      if (lanes < W::kPartSize) {
        term = OVec::set(zero, term, lanes);
      }
      acc[k] = acc[k] + term;
    }
    W::store(gx + i, cnt, out, stream);
  }
  OVec total = acc[0];
  for (int k = 1; k < W::kParts; ++k) {
    total = total + acc[k];
  }
  return at::vec::vec_reduce_all<at::opmath_type<scalar_t>>(
      [](const OVec& a, const OVec& b) { return a + b; }, total);
}

// A tile run (starting at pattern position 0): writes gx[0, n) and adds each position's
// weight-gradient term to acc[j].
template <typename scalar_t>
void backward_tile_run(scalar_t* gx, const scalar_t* g, const scalar_t* x, const scalar_t* pattern,
                       at::opmath_type<scalar_t>* acc, int64_t n, bool stream) {
  using W = Wide<scalar_t>;
  using OVec = typename W::OVec;
  using M = VecMath;
  for (int64_t i = 0; i < n; i += W::kSize) {
    const int64_t cnt = std::min(W::kSize, n - i);
    const auto gv = W::load(g + i, cnt);
    const auto xv = W::load(x + i, cnt);
    const auto wv = W::load(pattern + i, cnt);
    typename W::Parts out;
    for (int k = 0; k < W::kParts; ++k) {
      out[k] = math::prelu_backward_self<M>(gv[k], xv[k], wv[k]);
      const int64_t lanes = W::part_count(k, cnt);
      if (lanes == 0) {
        continue;
      }
      at::opmath_type<scalar_t>* a = acc + i + k * W::kPartSize;
      const OVec term = math::prelu_backward_weight_term<M>(gv[k], xv[k]);
      if (lanes == W::kPartSize) {
        (OVec::loadu(a) + term).store(a);
      } else {
        (OVec::loadu(a, lanes) + term).store(a, lanes);
      }
    }
    W::store(gx + i, cnt, out, stream);
  }
}

template <typename scalar_t>
void prelu_backward_loop(scalar_t* gx, scalar_t* grad_weight, const scalar_t* g, const scalar_t* x,
                         const scalar_t* weight, const Plan& p) {
  using opmath_t = at::opmath_type<scalar_t>;
  const int64_t channels = p.l.channels;
  std::vector<opmath_t> partials(p.partials(), opmath_t(0));
  std::vector<scalar_t> shared_pattern;
  if (!p.long_rows && p.tiles == 1) {
    shared_pattern.resize(p.pattern);
    fill_pattern(shared_pattern.data(), weight, p, tile_item(p, 0), p.pattern);
  }
  // Streaming stores for grad_self past the last-level cache (see elementwise.h); they change no
  // value and no summation order.
  const int64_t gx_bytes = p.l.outer * channels * p.l.inner * int64_t(sizeof(scalar_t));
  const bool stream = use_streaming_stores(3 * gx_bytes, gx, gx_bytes);
  at::parallel_for(0, p.items(), p.grain(), [&](int64_t begin, int64_t end) {
    std::vector<scalar_t> own_pattern;
    std::vector<opmath_t> acc;
    for (int64_t item = begin; item < end; ++item) {
      if (p.long_rows) {
        const int64_t row = item / p.segments;
        const int64_t s0 = (item % p.segments) * kSegment;
        const int64_t off = row * p.l.inner + s0;
        const opmath_t w = static_cast<opmath_t>(weight[row % channels]);
        partials[item] =
            backward_row<scalar_t>(gx + off, g + off, x + off, w, std::min(kSegment, p.l.inner - s0), stream);
        continue;
      }
      const TileItem it = tile_item(p, item);
      const int64_t len = p.tiles == 1 ? p.pattern : (it.c1 - it.c0) * p.l.inner;
      const scalar_t* pattern = shared_pattern.data();
      if (p.tiles > 1) {
        own_pattern.resize(p.pattern);
        fill_pattern(own_pattern.data(), weight, p, it, len);
        pattern = own_pattern.data();
      }
      acc.assign(len, opmath_t(0));
      for_each_tile_run(p, it, [&](int64_t off, int64_t n) {
        backward_tile_run<scalar_t>(gx + off, g + off, x + off, pattern, acc.data(), n, stream);
      });
      // Fold the positions into the item's channels, in position order.
      opmath_t* part = partials.data() + (item / p.tiles) * channels;
      for_each_channel_run(p, it, len, [&](int64_t j, int64_t n, int64_t c) {
        for (int64_t k = 0; k < n; ++k) {
          part[c] += acc[j + k];
        }
      });
    }
    if (stream) {
      stream_fence();
    }
  });
  // grad_weight[c]: channel c's partials in item order. Each channel is summed by one thread.
  at::parallel_for(0, channels, std::max<int64_t>(1, kGrainSize / std::max<int64_t>(1, p.partials() / channels)),
                   [&](int64_t begin, int64_t end) {
                     for (int64_t c = begin; c < end; ++c) {
                       opmath_t sum = 0;
                       if (p.long_rows) {
                         for (int64_t o = 0; o < p.l.outer; ++o) {
                           const opmath_t* part = partials.data() + (o * channels + c) * p.segments;
                           for (int64_t s = 0; s < p.segments; ++s) {
                             sum += part[s];
                           }
                         }
                       } else {
                         for (int64_t grp = 0; grp < p.groups; ++grp) {
                           sum += partials[grp * channels + c];
                         }
                       }
                       grad_weight[c] = static_cast<scalar_t>(sum);
                     }
                   });
}

void prelu_kernel_impl(const at::Tensor& out, const at::Tensor& self, const at::Tensor& weight,
                       const PreluLayout& layout) {
  AT_DISPATCH_FLOATING_TYPES_AND2(at::kHalf, at::kBFloat16, self.scalar_type(), "prelu_cpu", [&] {
    prelu_forward_loop<scalar_t>(out.mutable_data_ptr<scalar_t>(), self.const_data_ptr<scalar_t>(),
                                 weight.const_data_ptr<scalar_t>(), make_plan(layout));
  });
}

void prelu_backward_kernel_impl(const at::Tensor& grad_self, const at::Tensor& grad_weight,
                                const at::Tensor& grad_output, const at::Tensor& self, const at::Tensor& weight,
                                const PreluLayout& layout) {
  AT_DISPATCH_FLOATING_TYPES_AND2(at::kHalf, at::kBFloat16, self.scalar_type(), "prelu_backward_cpu", [&] {
    prelu_backward_loop<scalar_t>(grad_self.mutable_data_ptr<scalar_t>(), grad_weight.mutable_data_ptr<scalar_t>(),
                                  grad_output.const_data_ptr<scalar_t>(), self.const_data_ptr<scalar_t>(),
                                  weight.const_data_ptr<scalar_t>(), make_plan(layout));
  });
}

}  // namespace
}  // namespace CPU_CAPABILITY
}  // namespace torch_ext::ops::cpu

TORCH_EXT_REGISTER_CPU_KERNEL(torch_ext::ops::cpu::PreluKernel,
                              &torch_ext::ops::cpu::CPU_CAPABILITY::prelu_kernel_impl);
TORCH_EXT_REGISTER_CPU_KERNEL(torch_ext::ops::cpu::PreluBackwardKernel,
                              &torch_ext::ops::cpu::CPU_CAPABILITY::prelu_backward_kernel_impl);

#if defined(CPU_CAPABILITY_DEFAULT)

namespace torch_ext::ops {
namespace {

at::Tensor prelu_forward_kernel(const at::Tensor& self, const at::Tensor& weight) {
  check_prelu(self, weight);
  // NB: empty_like keeps a dense input's strides (channels_last stays channels_last), as the
  // Meta kernel does; it is dense for any input.
  at::Tensor out = at::empty_like(self);
  if (out.numel() == 0) {
    return out;
  }
  const at::Tensor w = weight.contiguous();
  cpu::cpu_kernel<cpu::PreluKernel>()(out, prelu_dense_like(self, out), w,
                                   prelu_layout(out, w.numel()));
  return out;
}

std::tuple<at::Tensor, at::Tensor> prelu_backward_kernel(const at::Tensor& grad_output, const at::Tensor& self,
                                                         const at::Tensor& weight) {
  check_prelu_backward(grad_output, self, weight);
  at::Tensor grad_self = at::empty_like(self);
  at::Tensor grad_weight = at::empty(weight.sizes(), weight.options());
  if (grad_self.numel() == 0) {
    grad_weight.zero_();  // a sum over no elements
    return {grad_self, grad_weight};
  }
  const at::Tensor w = weight.contiguous();
  cpu::cpu_kernel<cpu::PreluBackwardKernel>()(grad_self, grad_weight,
                                            prelu_dense_like(grad_output, grad_self),
                                            prelu_dense_like(self, grad_self), w,
                                            prelu_layout(grad_self, w.numel()));
  return {grad_self, grad_weight};
}

}  // namespace
}  // namespace torch_ext::ops

TORCH_LIBRARY_IMPL(torch_ext, CPU, m) {
  m.impl("prelu", TORCH_FN(torch_ext::ops::prelu_forward_kernel));
  m.impl("prelu_backward", TORCH_FN(torch_ext::ops::prelu_backward_kernel));
}

#endif  // CPU_CAPABILITY_DEFAULT
