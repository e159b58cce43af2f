// sign's and heaviside's C++ API. The ops' schemas and kernels are built by the generic elementwise op from their
// rows (elementwise/step.h).

#include "step.h"

#include "common/elementwise_op.h"
#include "elementwise/step.h"

namespace torch_ext {

using SignApi = ops::elementwise::ElementwiseApi<ops::SignOp>;
using HeavisideApi = ops::elementwise::ElementwiseApi<ops::HeavisideOp>;

at::Tensor sign(const at::Tensor& self, c10::string_view grad, double beta) {
  return SignApi::forward(self, grad, beta);
}

at::Tensor heaviside(const at::Tensor& self, c10::string_view grad, double beta) {
  return HeavisideApi::forward(self, grad, beta);
}

at::Tensor& sign_out(at::Tensor& out, const at::Tensor& self, c10::string_view grad, double beta) {
  return SignApi::forward_out(out, self, grad, beta);
}

at::Tensor& heaviside_out(at::Tensor& out, const at::Tensor& self, c10::string_view grad, double beta) {
  return HeavisideApi::forward_out(out, self, grad, beta);
}

at::Tensor detail::sign_backward(const at::Tensor& grad_output, const at::Tensor& self, c10::string_view grad,
                                 double beta) {
  return SignApi::backward(grad_output, self, /*is_result=*/false, grad, beta);
}

at::Tensor& detail::sign_backward_out(at::Tensor& grad_input, const at::Tensor& grad_output, const at::Tensor& self,
                                      c10::string_view grad, double beta) {
  return SignApi::backward_out(grad_input, grad_output, self, /*is_result=*/false, grad, beta);
}

at::Tensor detail::heaviside_backward(const at::Tensor& grad_output, const at::Tensor& self, c10::string_view grad,
                                      double beta) {
  return HeavisideApi::backward(grad_output, self, /*is_result=*/false, grad, beta);
}

at::Tensor& detail::heaviside_backward_out(at::Tensor& grad_input, const at::Tensor& grad_output,
                                           const at::Tensor& self, c10::string_view grad, double beta) {
  return HeavisideApi::backward_out(grad_input, grad_output, self, /*is_result=*/false, grad, beta);
}

}  // namespace torch_ext
