// The generic elementwise activations (common/elementwise_op.h): for every row of ElementwiseOps, its schemas
// and out= overloads, its Meta kernels and its CUDA autocast kernel.

#include <ATen/autocast_mode.h>
#include <ATen/ops/empty_like.h>
#include <c10/core/impl/LocalDispatchKeySet.h>
#include <torch/library.h>

#include <string>

#include "common/checks.h"
#include "common/elementwise_op.h"
#include "elementwise/all.h"
#include "out_overload.h"

namespace torch_ext::ops::elementwise {
namespace {

// "name(args) -> Tensor" as its out= overload "name.<overload>(args, *, Tensor(a!) <overload>) -> ()".
std::string out_schema(const char* functional, const char* overload) {
  const std::string s(functional);
  const size_t open = s.find('('), close = s.rfind(") -> ");
  TORCH_INTERNAL_ASSERT(open != std::string::npos && close != std::string::npos, "bad schema: ", s);
  return s.substr(0, open) + "." + overload + s.substr(open, close - open) + ", *, Tensor(a!) " + overload +
         ") -> ()";
}

template <typename Op, typename Params = typename Op::Params>
struct MetaKernels;

// The outputs' sizes and strides equal the device kernels' (empty_like keeps the input's memory format).
template <typename Op, typename... P>
struct MetaKernels<Op, std::tuple<P...>> {
  static at::Tensor forward(const at::Tensor& self, P... p) {
    check_forward<Op>(self, p...);
    return at::empty_like(self, self.options().dtype(result_dtype<Op>(self.scalar_type())));
  }

  static void inplace(at::Tensor& self, P... p) { check_inplace<Op>(self, p...); }

  static at::Tensor backward(const at::Tensor& grad_output, const at::Tensor& saved, bool is_result, P... p) {
    check_backward<Op>(grad_output, saved, is_result, p...);
    return at::empty_like(grad_output);
  }
};

template <typename Op, typename Params = typename Op::Params>
struct AutocastKernels;

// Under CUDA autocast the op runs in float32 (ATen's float32 list) and returns the float32 result.
template <typename Op, typename... P>
struct AutocastKernels<Op, std::tuple<P...>> {
  static at::Tensor cuda_float32(const at::Tensor& self, P... p) {
    c10::impl::ExcludeDispatchKeyGuard no_autocast(c10::DispatchKey::Autocast);
    return ElementwiseApi<Op>::forward(at::autocast::cached_cast(at::kFloat, self, c10::DeviceType::CUDA), p...);
  }
};

}  // namespace
}  // namespace torch_ext::ops::elementwise

TORCH_LIBRARY_FRAGMENT(torch_ext, m) {
  using namespace torch_ext::ops::elementwise;
  ElementwiseOps::for_each([&]<typename Op>() {
    m.def(Op::schema);
    if constexpr (has_inplace<Op>()) {
      m.def(Op::inplace_schema);
    }
    m.def(Op::backward_schema);
    torch_ext::ops::define_out_overload(m, out_schema(Op::schema, "out").c_str());
    torch_ext::ops::define_out_overload(m, out_schema(Op::backward_schema, "grad_input").c_str());
  });
}

TORCH_LIBRARY_IMPL(torch_ext, Meta, m) {
  torch_ext::ops::elementwise::impl_kernels<torch_ext::ops::elementwise::MetaKernels>(m);
}

// NB: only ops on CUDA autocast's float32 list get a kernel; under CPU autocast (ATen's softplus and elu are on no
// CPU list) and for the other ops the key falls through, so they run in their input's dtype. The tests compare the
// registrations and the output dtypes with ATen's, so a torch that changes its policy fails them.
TORCH_LIBRARY_IMPL(torch_ext, Autocast, m) {
  using namespace torch_ext::ops::elementwise;
  ElementwiseOps::for_each([&]<typename Op>() {
    if constexpr (Op::autocast == AutocastPolicy::kCudaFloat32) {
      m.impl(Op::name, TORCH_FN(AutocastKernels<Op>::cuda_float32));
    }
  });
}
