// relu's C++ API. The op's schemas and kernels are built by the generic elementwise op from its row
// (elementwise/relu.h).

#include "relu.h"

#include "common/elementwise_op.h"
#include "elementwise/relu.h"

namespace torch_ext {

using ReluApi = ops::elementwise::ElementwiseApi<ops::ReluOp>;

at::Tensor relu(const at::Tensor& self) {
  return ReluApi::forward(self);
}

at::Tensor& relu_(at::Tensor& self) {
  return ReluApi::inplace(self);
}

at::Tensor& relu_out(at::Tensor& out, const at::Tensor& self) {
  return ReluApi::forward_out(out, self);
}

at::Tensor detail::relu_backward(const at::Tensor& grad_output, const at::Tensor& output) {
  return ReluApi::backward(grad_output, output, /*is_result=*/true);
}

at::Tensor& detail::relu_backward_out(at::Tensor& grad_input, const at::Tensor& grad_output, const at::Tensor& output) {
  return ReluApi::backward_out(grad_input, grad_output, output, /*is_result=*/true);
}

}  // namespace torch_ext
