#pragma once
// softplus: y = beta * x > threshold ? x : log1p(exp(beta * x)) / beta.

#include <ATen/core/Tensor.h>

namespace torch_ext {

at::Tensor softplus(const at::Tensor& self, double beta = 1.0, double threshold = 20.0);

// Consumes the forward input, as ATen's softplus_backward.
at::Tensor softplus_backward(const at::Tensor& grad_output, const at::Tensor& self, double beta, double threshold);

}  // namespace torch_ext
