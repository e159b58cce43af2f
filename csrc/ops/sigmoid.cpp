// sigmoid's C++ API. The op's schemas and kernels are built by the generic elementwise op from its row
// (elementwise/sigmoid.h).

#include "sigmoid.h"

#include "common/elementwise_op.h"
#include "elementwise/sigmoid.h"

namespace torch_ext {

using SigmoidApi = ops::elementwise::ElementwiseApi<ops::SigmoidOp>;

at::Tensor sigmoid(const at::Tensor& self) {
  return SigmoidApi::forward(self);
}

at::Tensor& sigmoid_(at::Tensor& self) {
  return SigmoidApi::inplace(self);
}

at::Tensor& sigmoid_out(at::Tensor& out, const at::Tensor& self) {
  return SigmoidApi::forward_out(out, self);
}

at::Tensor detail::sigmoid_backward(const at::Tensor& grad_output, const at::Tensor& output) {
  return SigmoidApi::backward(grad_output, output, /*is_result=*/true);
}

at::Tensor& detail::sigmoid_backward_out(at::Tensor& grad_input, const at::Tensor& grad_output, const at::Tensor& output) {
  return SigmoidApi::backward_out(grad_input, grad_output, output, /*is_result=*/true);
}

}  // namespace torch_ext
