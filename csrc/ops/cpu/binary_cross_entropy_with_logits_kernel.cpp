// binary_cross_entropy_with_logits on the CPU: the loss and both gradients in one elementwise pass each. This file
// is compiled once per ISA (see cpu/isa_dispatch.h); the DEFAULT build also holds the op-facing kernels.

#include <ATen/Dispatch.h>
#include <ATen/OpMathType.h>
#include <ATen/ops/empty.h>
#include <ATen/ops/scalar_tensor.h>
#include <torch/library.h>

#include <algorithm>
#include <array>
#include <type_traits>
#include <vector>

#include "ops/common/integer_math.h"
#include "ops/cpu/elementwise.h"
#include "ops/cpu/isa_dispatch.h"
#include "ops/cpu/vec_math.h"
#include "ops/internal/binary_cross_entropy_with_logits.h"
#include "ops/math/binary_cross_entropy_with_logits_math.h"

namespace torch_ext::ops::cpu {

// weight and pos_weight: undefined, or expanded to self's shape. grad_output: undefined for a reduced loss (its one
// value comes as grad_value), else self's shape.
struct BceWithLogitsLoop {
  // loss (self's shape) = the unreduced loss
  using Fn = void (*)(const at::Tensor& loss, const at::Tensor& self, const at::Tensor& target,
                      const at::Tensor& weight, const at::Tensor& pos_weight);
};
struct BceWithLogitsSumLoop {
  // the sum over self's elements of the loss (each rounded to the dtype, as the unreduced loss), accumulated in
  // double in a fixed order; self and target contiguous; weight and pos_weight undefined or contiguous, with a
  // period (0: self's shape; K: self's last dims, repeated every K elements)
  using Fn = double (*)(const at::Tensor& self, const at::Tensor& target, const at::Tensor& weight,
                        int64_t weight_period, const at::Tensor& pos_weight, int64_t pos_weight_period);
};
struct BceWithLogitsBufferSumLoop {
  // the sum of a contiguous buffer of losses, in double in the order of BceWithLogitsSumLoop
  using Fn = double (*)(const at::Tensor& loss);
};
struct BceWithLogitsBackwardLoop {
  // grad (self's shape) = d loss / d self, or d loss / d target when of_target
  using Fn = void (*)(const at::Tensor& grad, const at::Tensor& grad_output, double grad_value, double scale,
                      const at::Tensor& self, const at::Tensor& target, const at::Tensor& weight,
                      const at::Tensor& pos_weight, bool of_target);
};

inline namespace CPU_CAPABILITY {
namespace {

// run(g, [weight,] [pos_weight,] inputs...) with g(w, p, v...) = f(kPos, w, p, v...) for the tensors given, where w
// and p are the elements of weight and pos_weight, or 1 where not given, and kPos (std::bool_constant) says whether
// pos_weight was given.
template <typename F, typename Run, typename... Inputs>
void with_weights(const at::Tensor& weight, const at::Tensor& pos_weight, const F& f, const Run& run,
                  const Inputs&... inputs) {
  if (weight.defined() && pos_weight.defined()) {
    run([&](auto w, auto p, auto... v) { return f(std::true_type{}, w, p, v...); }, weight, pos_weight, inputs...);
  } else if (weight.defined()) {
    run([&](auto w, auto... v) { return f(std::false_type{}, w, decltype(w)(1), v...); }, weight, inputs...);
  } else if (pos_weight.defined()) {
    run([&](auto p, auto... v) { return f(std::true_type{}, decltype(p)(1), p, v...); }, pos_weight, inputs...);
  } else {
    run([&](auto x, auto... v) { return f(std::false_type{}, decltype(x)(1), decltype(x)(1), x, v...); },
        inputs...);
  }
}

// out = f(kPos, w, p, inputs...) elementwise (with_weights), any strides.
template <typename scalar_t, typename F, typename... Inputs>
void elementwise_with_weights(const at::Tensor& out, const at::Tensor& weight, const at::Tensor& pos_weight,
                              const F& f, const Inputs&... inputs) {
  with_weights(
      weight, pos_weight, f,
      [&](const auto& g, const auto&... tensors) { elementwise_kernel<scalar_t>(out, g, tensors...); }, inputs...);
}

// Elements per block of the fused sum: its partial sums are per block, so the order is the same on any thread
// count.
constexpr int64_t kSumBlock = 4096;

// The sum over [0, n) of f(inputs...) (each result rounded to scalar_t), accumulated in double; input k is dense
// (periods[k] == 0: element i) or periodic (element i % periods[k]).
template <typename scalar_t, typename F, typename... Inputs>
double periodic_sum(int64_t n, const int64_t* periods, const F& f, const Inputs&... inputs) {
  constexpr size_t kN = sizeof...(Inputs);
  using opmath_t = at::opmath_type<scalar_t>;
  const std::array<const scalar_t*, kN> base{inputs.template const_data_ptr<scalar_t>()...};
  std::vector<double> partial(ceil_div(n, kSumBlock));
  at::parallel_for(0, static_cast<int64_t>(partial.size()), std::max<int64_t>(1, kGrainSize / kSumBlock),
                   [&](int64_t first, int64_t last) {
    alignas(64) scalar_t buf[kSumBlock];
    for (int64_t b = first; b < last; ++b) {
      const int64_t begin = b * kSumBlock, end = std::min(n, begin + kSumBlock);
      // A chunk ends where a period does (the loop's values do not depend on where a chunk starts).
      for (int64_t i = begin; i < end;) {
        int64_t chunk = end - i;
        std::array<const char*, kN> in;
        for (size_t k = 0; k < kN; ++k) {
          const int64_t at = periods[k] > 0 ? i % periods[k] : i;
          if (periods[k] > 0) {
            chunk = std::min(chunk, periods[k] - at);
          }
          in[k] = reinterpret_cast<const char*>(base[k] + at);
        }
        elementwise_vec_loop<scalar_t>(reinterpret_cast<char*>(buf + (i - begin)), in, chunk, f,
                                       std::make_index_sequence<kN>{});
        i += chunk;
      }
      double acc[8] = {};
      const int64_t len = end - begin;
      int64_t i = 0;
      for (; i + 8 <= len; i += 8) {
        for (int k = 0; k < 8; ++k) {
          acc[k] += static_cast<double>(static_cast<opmath_t>(buf[i + k]));
        }
      }
      for (; i < len; ++i) {
        acc[i % 8] += static_cast<double>(static_cast<opmath_t>(buf[i]));
      }
      partial[b] = ((acc[0] + acc[1]) + (acc[2] + acc[3])) + ((acc[4] + acc[5]) + (acc[6] + acc[7]));
    }
  });
  double total = 0.0;
  for (const double v : partial) {
    total += v;
  }
  return total;
}

// The loss's formula for with_weights.
constexpr auto kLossFormula = [](auto pos, auto w, auto p, auto x, auto t) {
  return math::bce_with_logits_forward<decltype(pos)::value, fast_math_for_t<decltype(x)>>(x, t, w, p);
};

double bce_with_logits_sum_loop(const at::Tensor& self, const at::Tensor& target, const at::Tensor& weight,
                                int64_t weight_period, const at::Tensor& pos_weight, int64_t pos_weight_period) {
  double total = 0.0;
  AT_DISPATCH_FLOATING_TYPES_AND2(at::kHalf, at::kBFloat16, self.scalar_type(), "bce_with_logits_sum_cpu", [&] {
    // The periods in with_weights' order: weight, pos_weight (those given), self, target.
    std::vector<int64_t> periods;
    if (weight.defined()) {
      periods.push_back(weight_period);
    }
    if (pos_weight.defined()) {
      periods.push_back(pos_weight_period);
    }
    periods.insert(periods.end(), {0, 0});
    with_weights(
        weight, pos_weight, kLossFormula,
        [&](const auto& g, const auto&... tensors) {
          total = periodic_sum<scalar_t>(self.numel(), periods.data(), g, tensors...);
        },
        self, target);
  });
  return total;
}

double bce_with_logits_buffer_sum_loop(const at::Tensor& loss) {
  double total = 0.0;
  AT_DISPATCH_FLOATING_TYPES_AND2(at::kHalf, at::kBFloat16, loss.scalar_type(), "bce_with_logits_buffer_sum_cpu", [&] {
    const int64_t period = 0;
    total = periodic_sum<scalar_t>(loss.numel(), &period, [](auto v) { return v; }, loss);
  });
  return total;
}

void bce_with_logits_loop(const at::Tensor& loss, const at::Tensor& self, const at::Tensor& target,
                          const at::Tensor& weight, const at::Tensor& pos_weight) {
  AT_DISPATCH_FLOATING_TYPES_AND2(at::kHalf, at::kBFloat16, self.scalar_type(), "bce_with_logits_cpu", [&] {
    elementwise_with_weights<scalar_t>(loss, weight, pos_weight, kLossFormula, self, target);
  });
}

void bce_with_logits_backward_loop(const at::Tensor& grad, const at::Tensor& grad_output, double grad_value,
                                   double scale, const at::Tensor& self, const at::Tensor& target,
                                   const at::Tensor& weight, const at::Tensor& pos_weight, bool of_target) {
  AT_DISPATCH_FLOATING_TYPES_AND2(at::kHalf, at::kBFloat16, self.scalar_type(), "bce_with_logits_backward_cpu", [&] {
    using opmath_t = at::opmath_type<scalar_t>;
    const auto s = static_cast<opmath_t>(scale);
    const auto gv = static_cast<opmath_t>(grad_value);
    // Each formula with g read from grad_output, or the reduced loss's one gradient value.
    const auto of_self = [s](auto pos, auto w, auto p, auto g, auto x, auto t) {
      using T = decltype(x);
      return math::bce_with_logits_backward<decltype(pos)::value, fast_math_for_t<T>>(g, x, t, w, p, T(s));
    };
    const auto of_target_ = [s](auto pos, auto w, auto p, auto g, auto x) {
      using T = decltype(x);
      return math::bce_with_logits_target_backward<decltype(pos)::value, fast_math_for_t<T>>(g, x, w, p, T(s));
    };
    if (grad_output.defined()) {
      if (of_target) {
        elementwise_with_weights<scalar_t>(grad, weight, pos_weight, of_target_, grad_output, self);
      } else {
        elementwise_with_weights<scalar_t>(grad, weight, pos_weight, of_self, grad_output, self, target);
      }
    } else if (of_target) {
      elementwise_with_weights<scalar_t>(
          grad, weight, pos_weight,
          [&](auto pos, auto w, auto p, auto x) { return of_target_(pos, w, p, decltype(x)(gv), x); }, self);
    } else {
      elementwise_with_weights<scalar_t>(
          grad, weight, pos_weight,
          [&](auto pos, auto w, auto p, auto x, auto t) { return of_self(pos, w, p, decltype(x)(gv), x, t); }, self,
          target);
    }
  });
}

}  // namespace
}  // namespace CPU_CAPABILITY
}  // namespace torch_ext::ops::cpu

TORCH_EXT_REGISTER_CPU_KERNEL(torch_ext::ops::cpu::BceWithLogitsLoop,
                              &torch_ext::ops::cpu::CPU_CAPABILITY::bce_with_logits_loop);
TORCH_EXT_REGISTER_CPU_KERNEL(torch_ext::ops::cpu::BceWithLogitsSumLoop,
                              &torch_ext::ops::cpu::CPU_CAPABILITY::bce_with_logits_sum_loop);
TORCH_EXT_REGISTER_CPU_KERNEL(torch_ext::ops::cpu::BceWithLogitsBufferSumLoop,
                              &torch_ext::ops::cpu::CPU_CAPABILITY::bce_with_logits_buffer_sum_loop);
TORCH_EXT_REGISTER_CPU_KERNEL(torch_ext::ops::cpu::BceWithLogitsBackwardLoop,
                              &torch_ext::ops::cpu::CPU_CAPABILITY::bce_with_logits_backward_loop);

#if defined(CPU_CAPABILITY_DEFAULT)

namespace torch_ext::ops {
namespace {

void loss_loop(const at::Tensor& loss, const at::Tensor& self, const at::Tensor& target, const at::Tensor& weight,
               const at::Tensor& pos_weight) {
  cpu::cpu_kernel<cpu::BceWithLogitsLoop>()(loss, self, target, weight, pos_weight);
}

// Shorter periods take the buffer path: a chunk per period would be too short to vectorize.
constexpr int64_t kMinPeriod = 64;

// weight's or pos_weight's period in self's (contiguous) elements: 0 where it has self's shape, K where, contiguous
// without its leading size-1 dims, it is self's last dims (K elements, repeated along the leading dims); -1
// otherwise (a broadcast inside, a non-contiguous operand, or a period shorter than kMinPeriod).
int64_t period_of(const std::optional<at::Tensor>& operand, const at::Tensor& self) {
  if (!operand.has_value() || !operand->defined()) {
    return 0;
  }
  at::IntArrayRef sizes = operand->sizes();
  while (!sizes.empty() && sizes.front() == 1) {
    sizes = sizes.slice(1);
  }
  const at::IntArrayRef self_sizes = self.sizes();
  if (!operand->is_contiguous() || sizes.size() > self_sizes.size() ||
      sizes != self_sizes.slice(self_sizes.size() - sizes.size())) {
    return -1;
  }
  const int64_t numel = operand->numel();
  if (numel == self.numel()) {
    return 0;
  }
  return numel >= kMinPeriod ? numel : -1;
}

at::Tensor forward(const at::Tensor& self, const at::Tensor& target, const std::optional<at::Tensor>& weight,
                   const std::optional<at::Tensor>& pos_weight, int64_t reduction) {
  if (reduction == at::Reduction::None) {
    return bce_with_logits_through_buffer(self, target, weight, pos_weight, reduction, &loss_loop);
  }
  // A reduced loss is the sum of the rounded per-element losses in double, in self's element order and fixed
  // blocks, whichever way it is computed: in the forward's own pass (no buffer) where the operands allow it, else
  // through a contiguous buffer of losses.
  const int64_t weight_period = period_of(weight, self), pos_weight_period = period_of(pos_weight, self);
  double total = 0.0;
  if (self.is_contiguous() && target.is_contiguous() && weight_period >= 0 && pos_weight_period >= 0) {
    const auto contiguous = [](const std::optional<at::Tensor>& t) {
      return t.has_value() && t->defined() ? t->contiguous() : at::Tensor();
    };
    total = cpu::cpu_kernel<cpu::BceWithLogitsSumLoop>()(self, target, contiguous(weight), weight_period,
                                                         contiguous(pos_weight), pos_weight_period);
  } else {
    const at::Tensor loss = at::empty(self.sizes(), self.options());
    loss_loop(loss, self, target, expand_bce_with_logits_operand(weight, self),
              expand_bce_with_logits_operand(pos_weight, self));
    total = cpu::cpu_kernel<cpu::BceWithLogitsBufferSumLoop>()(loss);
  }
  // NB: the mean of no elements is 0 / 0, NaN, as ATen's.
  const double value = reduction == at::Reduction::Mean ? total / static_cast<double>(self.numel()) : total;
  return at::scalar_tensor(value, self.options());
}

void grad_loop(const at::Tensor& grad, const at::Tensor& grad_output, double scale, const at::Tensor& self,
               const at::Tensor& target, const at::Tensor& weight, const at::Tensor& pos_weight, int64_t reduction,
               bool of_target) {
  const bool reduced = reduction != at::Reduction::None;
  // NB: a reduced loss's gradient is one value, read once here (a CPU tensor: no device synchronisation).
  cpu::cpu_kernel<cpu::BceWithLogitsBackwardLoop>()(grad, reduced ? at::Tensor() : grad_output,
                                                    reduced ? grad_output.item<double>() : 0.0, scale, self, target,
                                                    weight, pos_weight, of_target);
}

}  // namespace
}  // namespace torch_ext::ops

TORCH_LIBRARY_IMPL(torch_ext, CPU, m) {
  torch_ext::ops::register_bce_with_logits_kernels<&torch_ext::ops::forward, &torch_ext::ops::grad_loop>(m);
}

#endif  // CPU_CAPABILITY_DEFAULT
