// softplus on the CPU. This file is compiled once per CPU capability (DEFAULT, AVX2, AVX512; see
// CMakeLists.txt): each build registers its vectorized loop in a DispatchStub, and the
// DEFAULT build also holds the op-facing kernels, which pick the loop for this machine.

#include <ATen/Dispatch.h>
#include <ATen/native/DispatchStub.h>
#include <ATen/ops/empty_like.h>
#include <torch/library.h>

#include "ops/common/checks.h"
#include "ops/cpu/elementwise.h"
#include "ops/math/softplus_math.h"
#include "ops/softplus.h"

namespace at::native {

// out: shape of self; self: any floating dtype
using torch_ext_softplus_fn = void (*)(const at::Tensor& out, const at::Tensor& self, double beta, double threshold);
// grad_input, grad_output, self: one shape and dtype
using torch_ext_softplus_backward_fn = void (*)(const at::Tensor& grad_input, const at::Tensor& grad_output,
                                                const at::Tensor& self, double beta, double threshold);
DECLARE_DISPATCH(torch_ext_softplus_fn, torch_ext_softplus_stub);
DECLARE_DISPATCH(torch_ext_softplus_backward_fn, torch_ext_softplus_backward_stub);

}  // namespace at::native

namespace torch_ext::ops::cpu {
inline namespace CPU_CAPABILITY {
namespace {

void softplus_loop(const at::Tensor& out, const at::Tensor& self, double beta, double threshold) {
  AT_DISPATCH_FLOATING_TYPES_AND2(at::kHalf, at::kBFloat16, self.scalar_type(), "softplus_cpu", [&] {
    using opmath_t = at::opmath_type<scalar_t>;
    const auto c = math::softplus_coefs<opmath_t>(beta, threshold);
    elementwise_kernel<scalar_t>(
        out,
        [c](auto x) {
          using T = decltype(x);
          // A vector with every lane on the linear side skips exp and log1p (same values).
          if (all_lanes(x * T(c.beta) > T(c.threshold))) {
            return x;
          }
          return math::softplus_forward<fast_math_for_t<T>>(x, T(c.beta), T(c.threshold));
        },
        self);
  });
}

void softplus_backward_loop(const at::Tensor& grad_input, const at::Tensor& grad_output, const at::Tensor& self,
                            double beta, double threshold) {
  AT_DISPATCH_FLOATING_TYPES_AND2(at::kHalf, at::kBFloat16, grad_output.scalar_type(), "softplus_backward_cpu", [&] {
    using opmath_t = at::opmath_type<scalar_t>;
    const auto c = math::softplus_coefs<opmath_t>(beta, threshold);
    elementwise_kernel<scalar_t>(
        grad_input,
        [c](auto g, auto x) {
          using T = decltype(g);
          if (all_lanes(x * T(c.beta) > T(c.threshold))) {
            return g;
          }
          return math::softplus_backward<fast_math_for_t<T>>(g, x, T(c.beta), T(c.threshold));
        },
        grad_output, self);
  });
}

}  // namespace
}  // namespace CPU_CAPABILITY
}  // namespace torch_ext::ops::cpu

namespace at::native {
ALSO_REGISTER_AVX512_DISPATCH(torch_ext_softplus_stub, &torch_ext::ops::cpu::CPU_CAPABILITY::softplus_loop)
ALSO_REGISTER_AVX512_DISPATCH(torch_ext_softplus_backward_stub,
                              &torch_ext::ops::cpu::CPU_CAPABILITY::softplus_backward_loop)
}  // namespace at::native

#if defined(CPU_CAPABILITY_DEFAULT)

namespace at::native {
DEFINE_DISPATCH(torch_ext_softplus_stub);
DEFINE_DISPATCH(torch_ext_softplus_backward_stub);
}  // namespace at::native

namespace torch_ext::ops {
namespace {

at::Tensor softplus_forward_kernel(const at::Tensor& self, double beta, double threshold) {
  check_elementwise_input("softplus", self);
  at::Tensor out = at::empty_like(self);
  at::native::torch_ext_softplus_stub(c10::DeviceType::CPU, out, self, beta, threshold);
  return out;
}

at::Tensor softplus_backward_kernel(const at::Tensor& grad_output, const at::Tensor& self, double beta,
                                    double threshold) {
  check_elementwise_backward("softplus_backward", grad_output, "self", self);
  at::Tensor grad_input = at::empty_like(grad_output);
  at::native::torch_ext_softplus_backward_stub(c10::DeviceType::CPU, grad_input, grad_output, self, beta, threshold);
  return grad_input;
}

}  // namespace
}  // namespace torch_ext::ops

TORCH_LIBRARY_IMPL(torch_ext, CPU, m) {
  m.impl("softplus", TORCH_FN(torch_ext::ops::softplus_forward_kernel));
  m.impl("softplus_backward", TORCH_FN(torch_ext::ops::softplus_backward_kernel));
}

#endif  // CPU_CAPABILITY_DEFAULT
