// binary_cross_entropy_with_logits on the CPU: the loss and both gradients in one elementwise pass each. This file
// is compiled once per ISA (see cpu/isa_dispatch.h); the DEFAULT build also holds the op-facing kernels.

#include <ATen/Dispatch.h>
#include <ATen/OpMathType.h>
#include <ATen/ops/empty_like.h>
#include <torch/library.h>

#include <type_traits>

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
struct BceWithLogitsBackwardLoop {
  // grad (self's shape) = d loss / d self, or d loss / d target when of_target
  using Fn = void (*)(const at::Tensor& grad, const at::Tensor& grad_output, double grad_value, double scale,
                      const at::Tensor& self, const at::Tensor& target, const at::Tensor& weight,
                      const at::Tensor& pos_weight, bool of_target);
};

inline namespace CPU_CAPABILITY {
namespace {

// out = f(kPos, w, p, inputs...) elementwise, where w and p are the elements of weight and pos_weight, or 1 where
// not given, and kPos (std::bool_constant) says whether pos_weight was given.
template <typename scalar_t, typename F, typename... Inputs>
void with_weights(const at::Tensor& out, const at::Tensor& weight, const at::Tensor& pos_weight, const F& f,
                  const Inputs&... inputs) {
  if (weight.defined() && pos_weight.defined()) {
    elementwise_kernel<scalar_t>(
        out, [&](auto w, auto p, auto... v) { return f(std::true_type{}, w, p, v...); }, weight, pos_weight,
        inputs...);
  } else if (weight.defined()) {
    elementwise_kernel<scalar_t>(
        out, [&](auto w, auto... v) { return f(std::false_type{}, w, decltype(w)(1), v...); }, weight, inputs...);
  } else if (pos_weight.defined()) {
    elementwise_kernel<scalar_t>(
        out, [&](auto p, auto... v) { return f(std::true_type{}, decltype(p)(1), p, v...); }, pos_weight,
        inputs...);
  } else {
    elementwise_kernel<scalar_t>(
        out, [&](auto x, auto... v) { return f(std::false_type{}, decltype(x)(1), decltype(x)(1), x, v...); },
        inputs...);
  }
}

void bce_with_logits_loop(const at::Tensor& loss, const at::Tensor& self, const at::Tensor& target,
                          const at::Tensor& weight, const at::Tensor& pos_weight) {
  AT_DISPATCH_FLOATING_TYPES_AND2(at::kHalf, at::kBFloat16, self.scalar_type(), "bce_with_logits_cpu", [&] {
    with_weights<scalar_t>(
        loss, weight, pos_weight,
        [](auto pos, auto w, auto p, auto x, auto t) {
          return math::bce_with_logits_forward<decltype(pos)::value, fast_math_for_t<decltype(x)>>(x, t, w, p);
        },
        self, target);
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
        with_weights<scalar_t>(grad, weight, pos_weight, of_target_, grad_output, self);
      } else {
        with_weights<scalar_t>(grad, weight, pos_weight, of_self, grad_output, self, target);
      }
    } else if (of_target) {
      with_weights<scalar_t>(
          grad, weight, pos_weight,
          [&](auto pos, auto w, auto p, auto x) { return of_target_(pos, w, p, decltype(x)(gv), x); }, self);
    } else {
      with_weights<scalar_t>(
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
TORCH_EXT_REGISTER_CPU_KERNEL(torch_ext::ops::cpu::BceWithLogitsBackwardLoop,
                              &torch_ext::ops::cpu::CPU_CAPABILITY::bce_with_logits_backward_loop);

#if defined(CPU_CAPABILITY_DEFAULT)

namespace torch_ext::ops {
namespace {

void loss_loop(const at::Tensor& loss, const at::Tensor& self, const at::Tensor& target, const at::Tensor& weight,
               const at::Tensor& pos_weight) {
  cpu::cpu_kernel<cpu::BceWithLogitsLoop>()(loss, self, target, weight, pos_weight);
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
  torch_ext::ops::register_bce_with_logits_kernels<&torch_ext::ops::loss_loop, &torch_ext::ops::grad_loop>(m);
}

#endif  // CPU_CAPABILITY_DEFAULT
