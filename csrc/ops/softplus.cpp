// softplus's C++ API. The op's schemas and kernels are built by the generic elementwise op from its row
// (elementwise/softplus.h).

#include "softplus.h"

#include "common/elementwise_op.h"
#include "elementwise/softplus.h"

namespace torch_ext {

using SoftplusApi = ops::elementwise::ElementwiseApi<ops::SoftplusOp>;

at::Tensor softplus(const at::Tensor& self, double beta, double threshold) {
  return SoftplusApi::forward(self, beta, threshold);
}

at::Tensor detail::softplus_backward(const at::Tensor& grad_output, const at::Tensor& self, double beta,
                                     double threshold) {
  return SoftplusApi::backward(grad_output, self, /*is_result=*/false, beta, threshold);
}

at::Tensor& softplus_out(at::Tensor& out, const at::Tensor& self, double beta, double threshold) {
  return SoftplusApi::forward_out(out, self, beta, threshold);
}

at::Tensor& detail::softplus_backward_out(at::Tensor& grad_input, const at::Tensor& grad_output, const at::Tensor& self,
                                  double beta, double threshold) {
  return SoftplusApi::backward_out(grad_input, grad_output, self, /*is_result=*/false, beta, threshold);
}

}  // namespace torch_ext
