#pragma once
// relu: y = max(x, 0), NaN kept, relu(-0) = -0. An integer input keeps its dtype, as torch.relu.

#include <ATen/core/Tensor.h>

namespace torch_ext {

at::Tensor relu(const at::Tensor& self);
at::Tensor& relu_(at::Tensor& self);

// out= form (ATen's relu_out): see out_overload.h.
at::Tensor& relu_out(at::Tensor& out, const at::Tensor& self);

// The backward op (and its out= form), which the autograd kernels call: not needed to use the op, so it lives in
// detail, as torchvision's do.
namespace detail {

// Consumes the forward's result, as ATen's threshold_backward(grad, result, 0).
at::Tensor relu_backward(const at::Tensor& grad_output, const at::Tensor& output);
at::Tensor& relu_backward_out(at::Tensor& grad_input, const at::Tensor& grad_output, const at::Tensor& output);

}  // namespace detail

}  // namespace torch_ext
