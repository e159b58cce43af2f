#pragma once
// tanh: y = tanh(x). An integer or bool input gives a result of the default float dtype, as torch.tanh.

#include <ATen/core/Tensor.h>

namespace torch_ext {

at::Tensor tanh(const at::Tensor& self);
at::Tensor& tanh_(at::Tensor& self);

// out= form (ATen's tanh_out): see out_overload.h.
at::Tensor& tanh_out(at::Tensor& out, const at::Tensor& self);

// The backward op (and its out= form), which the autograd kernels call: not needed to use the op, so it lives in
// detail, as torchvision's do.
namespace detail {

// Consumes the forward's result, as ATen's tanh_backward.
at::Tensor tanh_backward(const at::Tensor& grad_output, const at::Tensor& output);
at::Tensor& tanh_backward_out(at::Tensor& grad_input, const at::Tensor& grad_output, const at::Tensor& output);

}  // namespace detail

}  // namespace torch_ext
