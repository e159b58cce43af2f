// cross_entropy on the CPU: R rows of C logits, one row per task. The forward reads a row twice (its max; then the
// sum of exp(x - max) and, where the targets need it, sum_c B_c (x_c - max)) and keeps one log-sum-exp per row; the
// backward reads the row once more (twice for probability targets, whose A = sum_c B_c it recomputes) and writes
// the gradient. No R x C intermediate. This file is compiled once per ISA (see cpu/isa_dispatch.h); the DEFAULT
// build also holds the op-facing kernels.

#include <ATen/Dispatch.h>
#include <ATen/OpMathType.h>
#include <ATen/Parallel.h>
#include <ATen/ops/empty.h>
#include <torch/library.h>

#include <cmath>
#include <limits>
#include <type_traits>
#include <vector>

#include "ops/common/integer_math.h"
#include "ops/cpu/elementwise.h"
#include "ops/cpu/isa_dispatch.h"
#include "ops/cpu/opmath_vector.h"
#include "ops/cpu/vec_math.h"
#include "ops/internal/cross_entropy.h"
#include "ops/math/cross_entropy_math.h"

namespace torch_ext::ops::cpu {

struct CrossEntropyForwardLoop {
  // per_row ([R], op-math dtype, only for "none"): each row's loss; lse ([R, 2]): each row's max and log_sum. Returns
  // {sum of the rows' losses, each rounded to the logits' dtype, in double in a fixed order; total weight}.
  using Fn = std::pair<double, double> (*)(const CrossEntropyRows& rows, const at::Tensor& per_row,
                                           const at::Tensor& lse);
};
struct CrossEntropyBackwardLoop {
  // grad ([R, C]); grad_output: [R] for "none", else undefined with grad_value its one value times the reduction's
  // scale.
  using Fn = void (*)(const CrossEntropyRows& rows, const at::Tensor& grad, const at::Tensor& grad_output,
                      double grad_value, const at::Tensor& lse);
};

inline namespace CPU_CAPABILITY {
namespace {

using torch_ext::math::cross_entropy_grad;
using torch_ext::math::cross_entropy_grad_scale;
using torch_ext::math::cross_entropy_index_scale;
using torch_ext::math::cross_entropy_row_loss;
using torch_ext::math::cross_entropy_smoothed_target;

// Rows per block of the reduced loss's partial sums: the order of the sum depends on the shape alone.
constexpr int64_t kRowBlock = 16;

template <typename A>
C10_ALWAYS_INLINE at::vec::Vectorized<A> keep_lanes(const at::vec::Vectorized<A>& v, int64_t count, A pad) {
  using V = at::vec::Vectorized<A>;
  return count == V::size() ? v : V::set(V(pad), v, count);
}

// The weights' sum W in double (C without weights).
template <typename scalar_t>
double weight_sum(const CrossEntropyRows& rows) {
  const int64_t classes = rows.logits.size(1);
  if (!rows.weight.defined()) {
    return static_cast<double>(classes);
  }
  const scalar_t* w = rows.weight.const_data_ptr<scalar_t>();
  double total = 0.0;
  for (int64_t c = 0; c < classes; ++c) {
    total += static_cast<double>(w[c]);
  }
  return total;
}

// One row's reduction: m, log_sum and, for probabilities, A and sum_c B_c (x_c - m); for smoothed class indices,
// sum_c w_c (x_c - m) as `dot`.
template <typename A>
struct RowStats {
  A max, log_sum, a, dot;
};

template <typename scalar_t>
RowStats<at::opmath_type<scalar_t>> row_stats(const CrossEntropyRows& rows, int64_t r, bool need_dot) {
  using A = at::opmath_type<scalar_t>;
  using V = at::vec::Vectorized<A>;
  using M = FastVecMath;
  const int64_t classes = rows.logits.size(1);
  const scalar_t* x = rows.logits.const_data_ptr<scalar_t>() + r * classes;
  const scalar_t* w = rows.weight.defined() ? rows.weight.const_data_ptr<scalar_t>() : nullptr;
  const A neg_inf = -std::numeric_limits<A>::infinity();
  V vmax(neg_inf);
  for_each_vector<A>(classes, [&](int64_t i, int64_t n) {
    vmax = at::vec::maximum(vmax, keep_lanes(load_opmath(x + i, n), n, neg_inf));
  });
  const A m = at::vec::vec_reduce_all<A>([](const V& a, const V& b) { return at::vec::maximum(a, b); }, vmax);
  const V vm(m);
  V vdot(0), va(0);
  // NB: the exps are summed in double, lane by lane: a float sum over a long row loses about sqrt(C / lanes) eps,
  // and log_sum's absolute error is every probability's relative error in the backward.
  alignas(64) double lane_sums[V::size()] = {};
  const A eps = static_cast<A>(rows.label_smoothing), inv_classes = A(1) / static_cast<A>(classes);
  for_each_vector<A>(classes, [&](int64_t i, int64_t n) {
    const V shifted = load_opmath(x + i, n) - vm;
    alignas(64) A exps[V::size()];
    keep_lanes(M::exp(shifted), n, A(0)).store(exps);
    for (int k = 0; k < V::size(); ++k) {
      lane_sums[k] += static_cast<double>(exps[k]);
    }
    if (!need_dot) {
      return;
    }
    V b = w != nullptr ? load_opmath(w + i, n) : V(1);
    if (!rows.class_indices) {
      const scalar_t* t = rows.target.const_data_ptr<scalar_t>() + r * classes;
      b = b * cross_entropy_smoothed_target(load_opmath(t + i, n), V(eps), V(inv_classes));
      va = va + keep_lanes(b, n, A(0));
    }
    vdot = vdot + keep_lanes(b * shifted, n, A(0));
  });
  const auto sum = [](const V& v) {
    return at::vec::vec_reduce_all<A>([](const V& a, const V& b) { return a + b; }, v);
  };
  double total = 0.0;
  for (int k = 0; k < V::size(); ++k) {
    total += lane_sums[k];
  }
  return {m, static_cast<A>(std::log(total)), sum(va), sum(vdot)};
}

template <typename scalar_t>
std::pair<double, double> forward_loop(const CrossEntropyRows& rows, const at::Tensor& per_row,
                                       const at::Tensor& lse) {
  using A = at::opmath_type<scalar_t>;
  const int64_t n_rows = rows.logits.size(0), classes = rows.logits.size(1);
  const scalar_t* x = rows.logits.const_data_ptr<scalar_t>();
  const scalar_t* w = rows.weight.defined() ? rows.weight.const_data_ptr<scalar_t>() : nullptr;
  const int64_t* y = rows.class_indices ? rows.target.const_data_ptr<int64_t>() : nullptr;
  A* out = per_row.defined() ? per_row.mutable_data_ptr<A>() : nullptr;
  A* lse_out = lse.mutable_data_ptr<A>();
  const A eps = static_cast<A>(rows.label_smoothing), inv_classes = A(1) / static_cast<A>(classes);
  const A z = static_cast<A>(rows.lse_square_scale);
  const A w_sum = static_cast<A>(weight_sum<scalar_t>(rows));
  const bool need_dot = !rows.class_indices || rows.label_smoothing > 0.0;
  const int64_t blocks = ceil_div(n_rows, kRowBlock);
  std::vector<double> loss_sums(blocks), weight_sums(blocks);
  const int64_t grain = std::max<int64_t>(1, kGrainSize / std::max<int64_t>(1, kRowBlock * classes));
  at::parallel_for(0, blocks, grain, [&](int64_t first, int64_t last) {
    for (int64_t b = first; b < last; ++b) {
      double loss_sum = 0.0, total_weight = 0.0;
      for (int64_t r = b * kRowBlock; r < std::min(n_rows, (b + 1) * kRowBlock); ++r) {
        const RowStats<A> s = row_stats<scalar_t>(rows, r, need_dot);
        const A row_lse = s.max + s.log_sum;
        lse_out[2 * r] = s.max;
        lse_out[2 * r + 1] = s.log_sum;
        A loss = 0, row_weight = 1;
        if (y != nullptr) {
          const int64_t target = y[r];
          if (target == rows.ignore_index) {
            row_weight = 0;
          } else {
            TORCH_CHECK(target >= 0 && target < classes, "cross_entropy_forward: target ", target,
                        " is out of bounds (expected a class index in [0, ", classes, ") or ignore_index ",
                        rows.ignore_index, ")");
            row_weight = w != nullptr ? static_cast<A>(w[target]) : A(1);
            const A shifted_y = static_cast<A>(x[r * classes + target]) - s.max;
            const A a = cross_entropy_index_scale(row_weight, eps, inv_classes, w_sum);
            const A shifted_dot = (A(1) - eps) * row_weight * shifted_y + (need_dot ? eps * inv_classes * s.dot : A(0));
            loss = cross_entropy_row_loss(a, shifted_dot, s.log_sum, row_lse, z);
          }
        } else {
          loss = cross_entropy_row_loss(s.a, s.dot, s.log_sum, row_lse, z);
        }
        // NB: each row's loss is rounded to the dtype, as the unreduced loss is, before the sum.
        const scalar_t rounded = static_cast<scalar_t>(loss);
        if (out != nullptr) {
          out[r] = loss;
        }
        loss_sum += static_cast<double>(static_cast<A>(rounded));
        total_weight += static_cast<double>(row_weight);
      }
      loss_sums[b] = loss_sum;
      weight_sums[b] = total_weight;
    }
  });
  double loss_total = 0.0, weight_total = 0.0;
  for (int64_t b = 0; b < blocks; ++b) {
    loss_total += loss_sums[b];
    weight_total += weight_sums[b];
  }
  return {loss_total, weight_total};
}

template <typename scalar_t>
void backward_loop(const CrossEntropyRows& rows, const at::Tensor& grad, const at::Tensor& grad_output,
                   double grad_value, const at::Tensor& lse) {
  using A = at::opmath_type<scalar_t>;
  using V = at::vec::Vectorized<A>;
  using M = FastVecMath;
  const int64_t n_rows = rows.logits.size(0), classes = rows.logits.size(1);
  const scalar_t* x = rows.logits.const_data_ptr<scalar_t>();
  const scalar_t* w = rows.weight.defined() ? rows.weight.const_data_ptr<scalar_t>() : nullptr;
  const int64_t* y = rows.class_indices ? rows.target.const_data_ptr<int64_t>() : nullptr;
  const scalar_t* g_rows = grad_output.defined() ? grad_output.const_data_ptr<scalar_t>() : nullptr;
  const A* lse_in = lse.const_data_ptr<A>();
  scalar_t* out = grad.mutable_data_ptr<scalar_t>();
  const A eps = static_cast<A>(rows.label_smoothing), inv_classes = A(1) / static_cast<A>(classes);
  const A z = static_cast<A>(rows.lse_square_scale);
  const A w_sum = static_cast<A>(weight_sum<scalar_t>(rows));
  const int64_t grain = std::max<int64_t>(1, kGrainSize / std::max<int64_t>(1, classes));
  at::parallel_for(0, n_rows, grain, [&](int64_t first, int64_t last) {
    for (int64_t r = first; r < last; ++r) {
      const scalar_t* xr = x + r * classes;
      scalar_t* gr = out + r * classes;
      const A g = g_rows != nullptr ? static_cast<A>(g_rows[r]) : static_cast<A>(grad_value);
      // NB: exp((x - max) - log_sum): x - max is exact near the max, and log_sum is small, so p is as accurate as
      // a softmax's.
      const A row_max = lse_in[2 * r], log_sum = lse_in[2 * r + 1], row_lse = row_max + log_sum;
      const V v_max(row_max), v_log_sum(log_sum);
      if (y != nullptr) {
        const int64_t target = y[r];
        if (target == rows.ignore_index) {
          for_each_vector<A>(classes, [&](int64_t i, int64_t n) { store_opmath(gr + i, V(0), n); });
          continue;
        }
        TORCH_CHECK(target >= 0 && target < classes, "cross_entropy_backward: target ", target,
                    " is out of bounds (expected a class index in [0, ", classes, ") or ignore_index ",
                    rows.ignore_index, ")");
        const A w_y = w != nullptr ? static_cast<A>(w[target]) : A(1);
        const A a_z = cross_entropy_grad_scale(cross_entropy_index_scale(w_y, eps, inv_classes, w_sum), row_lse, z);
        const A smooth = eps * inv_classes;
        for_each_vector<A>(classes, [&](int64_t i, int64_t n) {
          const V p = M::exp((load_opmath(xr + i, n) - v_max) - v_log_sum);
          const V b = V(smooth) * (w != nullptr ? load_opmath(w + i, n) : V(1));
          store_opmath(gr + i, cross_entropy_grad(V(g), V(a_z), p, b), n);
        });
        const A p_y = std::exp((static_cast<A>(xr[target]) - row_max) - log_sum);
        gr[target] = static_cast<scalar_t>(cross_entropy_grad(g, a_z, p_y, smooth * w_y + (A(1) - eps) * w_y));
      } else {
        const scalar_t* tr = rows.target.const_data_ptr<scalar_t>() + r * classes;
        const auto b_of = [&](int64_t i, int64_t n) {
          const V t = cross_entropy_smoothed_target(load_opmath(tr + i, n), V(eps), V(inv_classes));
          return w != nullptr ? load_opmath(w + i, n) * t : t;
        };
        V va(0);
        for_each_vector<A>(classes, [&](int64_t i, int64_t n) { va = va + keep_lanes(b_of(i, n), n, A(0)); });
        const A a = at::vec::vec_reduce_all<A>([](const V& l, const V& h) { return l + h; }, va);
        const A a_z = cross_entropy_grad_scale(a, row_lse, z);
        for_each_vector<A>(classes, [&](int64_t i, int64_t n) {
          const V p = M::exp((load_opmath(xr + i, n) - v_max) - v_log_sum);
          store_opmath(gr + i, cross_entropy_grad(V(g), V(a_z), p, b_of(i, n)), n);
        });
      }
    }
  });
}

std::pair<double, double> cross_entropy_forward_loop(const CrossEntropyRows& rows, const at::Tensor& per_row,
                                                     const at::Tensor& lse) {
  std::pair<double, double> totals;
  AT_DISPATCH_FLOATING_TYPES_AND2(at::kHalf, at::kBFloat16, rows.logits.scalar_type(), "cross_entropy_cpu", [&] {
    totals = forward_loop<scalar_t>(rows, per_row, lse);
  });
  return totals;
}

void cross_entropy_backward_loop(const CrossEntropyRows& rows, const at::Tensor& grad, const at::Tensor& grad_output,
                                 double grad_value, const at::Tensor& lse) {
  AT_DISPATCH_FLOATING_TYPES_AND2(at::kHalf, at::kBFloat16, rows.logits.scalar_type(), "cross_entropy_backward_cpu",
                                  [&] { backward_loop<scalar_t>(rows, grad, grad_output, grad_value, lse); });
}

}  // namespace
}  // namespace CPU_CAPABILITY
}  // namespace torch_ext::ops::cpu

TORCH_EXT_REGISTER_CPU_KERNEL(torch_ext::ops::cpu::CrossEntropyForwardLoop,
                              &torch_ext::ops::cpu::CPU_CAPABILITY::cross_entropy_forward_loop);
TORCH_EXT_REGISTER_CPU_KERNEL(torch_ext::ops::cpu::CrossEntropyBackwardLoop,
                              &torch_ext::ops::cpu::CPU_CAPABILITY::cross_entropy_backward_loop);

#if defined(CPU_CAPABILITY_DEFAULT)

namespace torch_ext::ops {
namespace {

void forward(const CrossEntropyRows& rows, const at::Tensor& output, const at::Tensor& lse,
             const at::Tensor& total_weight) {
  const bool unreduced = rows.reduction == at::Reduction::None;
  const at::Tensor per_row = unreduced ? at::empty({rows.logits.size(0)}, lse.options()) : at::Tensor();
  const auto [loss_sum, weight_sum] = cpu::cpu_kernel<cpu::CrossEntropyForwardLoop>()(rows, per_row, lse);
  const double denominator = rows.class_indices ? weight_sum : static_cast<double>(rows.logits.size(0));
  total_weight.fill_(denominator);
  if (unreduced) {
    output.copy_(per_row);
  } else {
    // NB: the mean over no weight is 0 / 0, NaN, as ATen's.
    output.fill_(rows.reduction == at::Reduction::Mean ? loss_sum / denominator : loss_sum);
  }
}

void backward(const CrossEntropyRows& rows, const at::Tensor& grad, const at::Tensor& grad_output,
              const at::Tensor& lse, const at::Tensor& total_weight) {
  const bool reduced = rows.reduction != at::Reduction::None;
  double grad_value = 0.0;
  if (reduced) {
    // NB: CPU tensors: reading the one value synchronises nothing.
    grad_value = grad_output.item<double>();
    if (rows.reduction == at::Reduction::Mean) {
      grad_value /= total_weight.item<double>();
    }
  }
  cpu::cpu_kernel<cpu::CrossEntropyBackwardLoop>()(rows, grad, reduced ? at::Tensor() : grad_output, grad_value,
                                                   lse);
}

}  // namespace
}  // namespace torch_ext::ops

TORCH_LIBRARY_IMPL(torch_ext, CPU, m) {
  torch_ext::ops::register_cross_entropy_kernels<&torch_ext::ops::forward, &torch_ext::ops::backward>(m);
}

#endif  // CPU_CAPABILITY_DEFAULT
