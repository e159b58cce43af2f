// The generic elementwise activations on the CPU (common/elementwise_op.h), for every row of ElementwiseOps. This
// file is compiled once per ISA (see cpu/isa_dispatch.h): each build registers its vectorized loops, and the
// DEFAULT build also holds the op-facing kernels, which pick the loops for this machine.

#include <ATen/Dispatch.h>
#include <ATen/OpMathType.h>
#include <ATen/ops/empty_like.h>
#include <torch/library.h>

#include <tuple>

#include "ops/common/checks.h"
#include "ops/common/elementwise_op.h"
#include "ops/cpu/elementwise.h"
#include "ops/cpu/isa_dispatch.h"
#include "ops/elementwise/all.h"

namespace torch_ext::ops::cpu {

// The kernels' keys in the ISA table: one forward and one backward loop per row.
template <typename Op>
struct ForwardLoop {
  // out (self's shape; may be self) = op(self)
  using Fn = void (*)(const at::Tensor& out, const at::Tensor& self, const typename Op::Params& params);
};

template <typename Op>
struct BackwardLoop {
  // grad_input, grad_output and saved: one shape and dtype
  using Fn = void (*)(const at::Tensor& grad_input, const at::Tensor& grad_output, const at::Tensor& saved,
                      bool is_result, const typename Op::Params& params);
};

inline namespace CPU_CAPABILITY {
namespace {

template <typename Op>
constexpr bool has_linear_branch() {
  return requires(float x, const elementwise::Coefs<Op, float>& c) { Op::linear(x, c); };
}

template <typename Op>
void forward_loop(const at::Tensor& out, const at::Tensor& self, const typename Op::Params& params) {
  elementwise::dispatch_forward_dtypes<Op>(self.scalar_type(), [&]<typename scalar_t>() {
    using opmath_t = at::opmath_type<scalar_t>;
    const auto c = elementwise::make_coefs<Op, opmath_t>(params);
    elementwise_kernel<scalar_t>(
        out,
        [c](auto x) {
          using T = decltype(x);
          if constexpr (has_linear_branch<Op>()) {
            // A vector with every lane on the linear branch skips the transcendental functions (same values).
            if (all_lanes(Op::linear(x, c))) {
              return Op::linear_forward(x, c);
            }
          }
          return Op::template forward<fast_math_for_t<T>>(x, c);
        },
        self);
  });
}

template <typename Op, bool IsResult>
void backward_loop_as(const at::Tensor& grad_input, const at::Tensor& grad_output, const at::Tensor& saved,
                      const typename Op::Params& params) {
  AT_DISPATCH_FLOATING_TYPES_AND2(at::kHalf, at::kBFloat16, grad_output.scalar_type(), Op::name, [&] {
    using opmath_t = at::opmath_type<scalar_t>;
    const auto c = elementwise::make_coefs<Op, opmath_t>(params);
    elementwise_kernel<scalar_t>(
        grad_input,
        [c](auto g, auto b) {
          using T = decltype(g);
          if constexpr (has_linear_branch<Op>()) {
            if (all_lanes(Op::linear(b, c))) {
              return Op::linear_backward(g, c);
            }
          }
          return Op::template backward<IsResult, fast_math_for_t<T>>(g, b, c);
        },
        grad_output, saved);
  });
}

template <typename Op>
void backward_loop(const at::Tensor& grad_input, const at::Tensor& grad_output, const at::Tensor& saved,
                   bool is_result, const typename Op::Params& params) {
  // Only the instantiations a row's backward can take (is_result is true for a kResult row).
  if constexpr (Op::backward_from != elementwise::BackwardFrom::kInput) {
    if (is_result) {
      backward_loop_as<Op, true>(grad_input, grad_output, saved, params);
      return;
    }
  }
  if constexpr (Op::backward_from != elementwise::BackwardFrom::kResult) {
    backward_loop_as<Op, false>(grad_input, grad_output, saved, params);
  }
}

template <typename... Ops>
struct RegisterLoops;

template <typename... Ops>
struct RegisterLoops<elementwise::OpList<Ops...>> {
  RegisterLoops() {
    ((RegisterIsaKernel<ForwardLoop<Ops>>(kThisIsa, &forward_loop<Ops>),
      RegisterIsaKernel<BackwardLoop<Ops>>(kThisIsa, &backward_loop<Ops>)),
     ...);
  }
};

const RegisterLoops<elementwise::ElementwiseOps> register_loops;

}  // namespace
}  // namespace CPU_CAPABILITY

#if defined(CPU_CAPABILITY_DEFAULT)
namespace {

template <typename Op, typename Params = typename Op::Params>
struct CpuKernels;

template <typename Op, typename... P>
struct CpuKernels<Op, std::tuple<P...>> {
  static at::Tensor forward(const at::Tensor& self, P... p) {
    elementwise::check_forward<Op>(self, p...);
    const at::Tensor x = elementwise::forward_input<Op>(self);
    at::Tensor out = at::empty_like(x);
    cpu_kernel<ForwardLoop<Op>>()(out, x, typename Op::Params{p...});
    return out;
  }

  static void inplace(at::Tensor& self, P... p) {
    elementwise::check_inplace<Op>(self, p...);
    cpu_kernel<ForwardLoop<Op>>()(self, self, typename Op::Params{p...});
  }

  static at::Tensor backward(const at::Tensor& grad_output, const at::Tensor& saved, bool is_result, P... p) {
    elementwise::check_backward<Op>(grad_output, saved, is_result, p...);
    at::Tensor grad_input = at::empty_like(grad_output);
    cpu_kernel<BackwardLoop<Op>>()(grad_input, grad_output, saved, is_result, typename Op::Params{p...});
    return grad_input;
  }
};

}  // namespace
#endif  // CPU_CAPABILITY_DEFAULT

}  // namespace torch_ext::ops::cpu

#if defined(CPU_CAPABILITY_DEFAULT)
TORCH_LIBRARY_IMPL(torch_ext, CPU, m) {
  torch_ext::ops::elementwise::impl_kernels<torch_ext::ops::cpu::CpuKernels>(m);
}
#endif  // CPU_CAPABILITY_DEFAULT
