#pragma once
// leaky_relu: y = x > 0 ? x : x * negative_slope.

#include <ATen/core/Tensor.h>

namespace torch_ext {

at::Tensor leaky_relu(const at::Tensor& self, double negative_slope = 0.01);
at::Tensor& leaky_relu_(at::Tensor& self, double negative_slope = 0.01);

// out= form (ATen's leaky_relu_out): see out_overload.h.
at::Tensor& leaky_relu_out(at::Tensor& out, const at::Tensor& self, double negative_slope = 0.01);

// The backward op (and its out= form), which the autograd kernels call: not needed to use the op, so it lives in
// detail, as torchvision's do.
namespace detail {

// Consumes the forward input, or its result (self_is_result, only for negative_slope >= 0), as ATen's
// leaky_relu_backward.
at::Tensor leaky_relu_backward(const at::Tensor& grad_output, const at::Tensor& self, double negative_slope,
                               bool self_is_result);
at::Tensor& leaky_relu_backward_out(at::Tensor& grad_input, const at::Tensor& grad_output, const at::Tensor& self,
                                    double negative_slope, bool self_is_result);

}  // namespace detail

}  // namespace torch_ext
