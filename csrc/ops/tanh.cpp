// tanh's C++ API. The op's schemas and kernels are built by the generic elementwise op from its row
// (elementwise/tanh.h).

#include "tanh.h"

#include "common/elementwise_op.h"
#include "elementwise/tanh.h"

namespace torch_ext {

using TanhApi = ops::elementwise::ElementwiseApi<ops::TanhOp>;

at::Tensor tanh(const at::Tensor& self) {
  return TanhApi::forward(self);
}

at::Tensor& tanh_(at::Tensor& self) {
  return TanhApi::inplace(self);
}

at::Tensor& tanh_out(at::Tensor& out, const at::Tensor& self) {
  return TanhApi::forward_out(out, self);
}

at::Tensor detail::tanh_backward(const at::Tensor& grad_output, const at::Tensor& output) {
  return TanhApi::backward(grad_output, output, /*is_result=*/true);
}

at::Tensor& detail::tanh_backward_out(at::Tensor& grad_input, const at::Tensor& grad_output, const at::Tensor& output) {
  return TanhApi::backward_out(grad_input, grad_output, output, /*is_result=*/true);
}

}  // namespace torch_ext
