// logsigmoid's C++ API. The op's schemas and kernels are built by the generic elementwise op from its row
// (elementwise/logsigmoid.h).

#include "logsigmoid.h"

#include "common/elementwise_op.h"
#include "elementwise/logsigmoid.h"

namespace torch_ext {

using LogSigmoidApi = ops::elementwise::ElementwiseApi<ops::LogSigmoidOp>;

at::Tensor logsigmoid(const at::Tensor& self) {
  return LogSigmoidApi::forward(self);
}

at::Tensor& logsigmoid_out(at::Tensor& out, const at::Tensor& self) {
  return LogSigmoidApi::forward_out(out, self);
}

at::Tensor detail::logsigmoid_backward(const at::Tensor& grad_output, const at::Tensor& self) {
  return LogSigmoidApi::backward(grad_output, self, /*is_result=*/false);
}

at::Tensor& detail::logsigmoid_backward_out(at::Tensor& grad_input, const at::Tensor& grad_output,
                                            const at::Tensor& self) {
  return LogSigmoidApi::backward_out(grad_input, grad_output, self, /*is_result=*/false);
}

}  // namespace torch_ext
