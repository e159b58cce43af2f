#pragma once
// sign and heaviside, the perceptron's step units, trainable through a surrogate gradient.
//   sign(x)      = -1 for x < 0, +1 for x >= 0 (-0 included; torch.sign(0) is 0), NaN for NaN (torch.sign's 0)
//   heaviside(x) = (sign(x) + 1) / 2
// The backward replaces the step's derivative (0 almost everywhere) by the surrogate d(x) that grad names, half of
// it for heaviside: "identity" 1, "clipped" 1 where |x| <= 1, "approx_sign" 2 - 2|x| where |x| <= 1,
// "swish_sign" beta (2 - beta x tanh(beta x / 2)) / (1 + cosh(beta x)); beta is read by swish_sign only.

#include <ATen/core/Tensor.h>
#include <c10/util/string_view.h>

namespace torch_ext {

at::Tensor sign(const at::Tensor& self, c10::string_view grad = "identity", double beta = 5.0);
at::Tensor heaviside(const at::Tensor& self, c10::string_view grad = "identity", double beta = 5.0);

// out= forms: see out_overload.h.
at::Tensor& sign_out(at::Tensor& out, const at::Tensor& self, c10::string_view grad = "identity", double beta = 5.0);
at::Tensor& heaviside_out(at::Tensor& out, const at::Tensor& self, c10::string_view grad = "identity",
                          double beta = 5.0);

// The backward ops (and their out= forms), which the autograd kernels call.
namespace detail {

at::Tensor sign_backward(const at::Tensor& grad_output, const at::Tensor& self, c10::string_view grad, double beta);
at::Tensor& sign_backward_out(at::Tensor& grad_input, const at::Tensor& grad_output, const at::Tensor& self,
                              c10::string_view grad, double beta);
at::Tensor heaviside_backward(const at::Tensor& grad_output, const at::Tensor& self, c10::string_view grad,
                              double beta);
at::Tensor& heaviside_backward_out(at::Tensor& grad_input, const at::Tensor& grad_output, const at::Tensor& self,
                                   c10::string_view grad, double beta);

}  // namespace detail

}  // namespace torch_ext
