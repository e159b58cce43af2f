#pragma once
// softplus: y = beta * x > threshold ? x : log1p(exp(beta * x)) / beta.

#include <ATen/core/Tensor.h>

namespace torch_ext {

at::Tensor softplus(const at::Tensor& self, double beta = 1.0, double threshold = 20.0);

// out= forms (ATen's softplus_out, ...): see out_overload.h.
at::Tensor& softplus_out(at::Tensor& out, const at::Tensor& self, double beta = 1.0, double threshold = 20.0);

// The backward ops (and their out= forms), which the autograd kernels call: not needed to use the
// ops, so they live in detail, as torchvision's do.
namespace detail {

// Consumes the forward input, as ATen's softplus_backward.
at::Tensor softplus_backward(const at::Tensor& grad_output, const at::Tensor& self, double beta, double threshold);
at::Tensor& softplus_backward_out(at::Tensor& grad_input, const at::Tensor& grad_output, const at::Tensor& self,
                                  double beta, double threshold);

}  // namespace detail

}  // namespace torch_ext
