// ELU on the CPU. This file is compiled once per CPU capability (DEFAULT, AVX2, AVX512; see
// CMakeLists.txt): each build registers its vectorized loop in a DispatchStub, and the
// DEFAULT build also holds the op-facing kernels, which pick the loop for this machine.

#include <ATen/Dispatch.h>
#include <ATen/native/DispatchStub.h>
#include <ATen/ops/empty_like.h>
#include <torch/library.h>

#include "ops/common/checks.h"
#include "ops/cpu/elementwise.h"
#include "ops/elu.h"
#include "ops/math/elu_math.h"

namespace at::native {

// out: shape of self; self: any floating dtype
using torch_ext_elu_fn = void (*)(const at::Tensor& out, const at::Tensor& self, double alpha, double scale,
                                  double input_scale);
// grad_input, grad_output, self_or_result: one shape and dtype
using torch_ext_elu_backward_fn = void (*)(const at::Tensor& grad_input, const at::Tensor& grad_output,
                                           const at::Tensor& self_or_result, double alpha, double scale,
                                           double input_scale, bool is_result);
DECLARE_DISPATCH(torch_ext_elu_fn, torch_ext_elu_stub);
DECLARE_DISPATCH(torch_ext_elu_backward_fn, torch_ext_elu_backward_stub);

}  // namespace at::native

namespace torch_ext::ops::cpu {
inline namespace CPU_CAPABILITY {
namespace {

void elu_loop(const at::Tensor& out, const at::Tensor& self, double alpha, double scale, double input_scale) {
  AT_DISPATCH_FLOATING_TYPES_AND2(at::kHalf, at::kBFloat16, self.scalar_type(), "elu_cpu", [&] {
    using opmath_t = at::opmath_type<scalar_t>;
    const auto c = math::elu_coefs<opmath_t>(alpha, scale, input_scale);
    elementwise_kernel<scalar_t>(
        out,
        [c](auto x) {
          using T = decltype(x);
          // A vector with every lane on the positive side skips expm1 (same values: the
          // formula's positive branch).
          if (all_lanes(x > T(0))) {
            return T(x * T(c.poscoef));
          }
          return math::elu_forward<fast_math_for_t<T>>(x, T(c.negcoef), T(c.poscoef), T(c.negiptcoef));
        },
        self);
  });
}

void elu_backward_loop(const at::Tensor& grad_input, const at::Tensor& grad_output, const at::Tensor& self_or_result,
                       double alpha, double scale, double input_scale, bool is_result) {
  AT_DISPATCH_FLOATING_TYPES_AND2(at::kHalf, at::kBFloat16, grad_output.scalar_type(), "elu_backward_cpu", [&] {
    using opmath_t = at::opmath_type<scalar_t>;
    const auto c = math::elu_coefs<opmath_t>(alpha, scale, input_scale);
    elementwise_kernel<scalar_t>(
        grad_input,
        [c, is_result](auto g, auto b) {
          using T = decltype(g);
          if (all_lanes(b > T(0))) {
            return T(g * T(c.poscoef));  // the formula's b > 0 branch, without exp
          }
          return math::elu_backward<fast_math_for_t<T>>(g, b, T(c.negcoef), T(c.poscoef), T(c.negiptcoef),
                                                        is_result);
        },
        grad_output, self_or_result);
  });
}

}  // namespace
}  // namespace CPU_CAPABILITY
}  // namespace torch_ext::ops::cpu

namespace at::native {
ALSO_REGISTER_AVX512_DISPATCH(torch_ext_elu_stub, &torch_ext::ops::cpu::CPU_CAPABILITY::elu_loop)
ALSO_REGISTER_AVX512_DISPATCH(torch_ext_elu_backward_stub, &torch_ext::ops::cpu::CPU_CAPABILITY::elu_backward_loop)
}  // namespace at::native

#if defined(CPU_CAPABILITY_DEFAULT)

namespace at::native {
DEFINE_DISPATCH(torch_ext_elu_stub);
DEFINE_DISPATCH(torch_ext_elu_backward_stub);
}  // namespace at::native

namespace torch_ext::ops {
namespace {

at::Tensor elu_forward_kernel(const at::Tensor& self, double alpha, double scale, double input_scale) {
  check_elementwise_input("elu", self);
  at::Tensor out = at::empty_like(self);
  at::native::torch_ext_elu_stub(c10::DeviceType::CPU, out, self, alpha, scale, input_scale);
  return out;
}

void elu_inplace_kernel(at::Tensor& self, double alpha, double scale, double input_scale) {
  check_elementwise_input("elu_", self);
  check_no_internal_overlap("elu_", "self", self);
  at::native::torch_ext_elu_stub(c10::DeviceType::CPU, self, self, alpha, scale, input_scale);
}

at::Tensor elu_backward_kernel(const at::Tensor& grad_output, double alpha, double scale, double input_scale,
                               bool is_result, const at::Tensor& self_or_result) {
  check_elu_backward(grad_output, alpha, is_result, self_or_result);
  at::Tensor grad_input = at::empty_like(grad_output);
  at::native::torch_ext_elu_backward_stub(c10::DeviceType::CPU, grad_input, grad_output, self_or_result, alpha,
                                          scale, input_scale, is_result);
  return grad_input;
}

}  // namespace
}  // namespace torch_ext::ops

TORCH_LIBRARY_IMPL(torch_ext, CPU, m) {
  m.impl("elu", TORCH_FN(torch_ext::ops::elu_forward_kernel));
  m.impl("elu_", TORCH_FN(torch_ext::ops::elu_inplace_kernel));
  m.impl("elu_backward", TORCH_FN(torch_ext::ops::elu_backward_kernel));
}

#endif  // CPU_CAPABILITY_DEFAULT
