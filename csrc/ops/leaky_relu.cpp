// leaky_relu's C++ API. The op's schemas and kernels are built by the generic elementwise op from its row
// (elementwise/leaky_relu.h).

#include "leaky_relu.h"

#include "common/elementwise_op.h"
#include "elementwise/leaky_relu.h"

namespace torch_ext {

using LeakyReluApi = ops::elementwise::ElementwiseApi<ops::LeakyReluOp>;

at::Tensor leaky_relu(const at::Tensor& self, double negative_slope) {
  return LeakyReluApi::forward(self, negative_slope);
}

at::Tensor& leaky_relu_(at::Tensor& self, double negative_slope) {
  return LeakyReluApi::inplace(self, negative_slope);
}

at::Tensor& leaky_relu_out(at::Tensor& out, const at::Tensor& self, double negative_slope) {
  return LeakyReluApi::forward_out(out, self, negative_slope);
}

at::Tensor detail::leaky_relu_backward(const at::Tensor& grad_output, const at::Tensor& self, double negative_slope,
                                       bool self_is_result) {
  return LeakyReluApi::backward(grad_output, self, self_is_result, negative_slope);
}

at::Tensor& detail::leaky_relu_backward_out(at::Tensor& grad_input, const at::Tensor& grad_output,
                                            const at::Tensor& self, double negative_slope, bool self_is_result) {
  return LeakyReluApi::backward_out(grad_input, grad_output, self, self_is_result, negative_slope);
}

}  // namespace torch_ext
