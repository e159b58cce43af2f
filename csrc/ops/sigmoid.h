#pragma once
// sigmoid: y = 1 / (1 + exp(-x)). An integer or bool input gives a result of the default float dtype, as
// torch.sigmoid.

#include <ATen/core/Tensor.h>

namespace torch_ext {

at::Tensor sigmoid(const at::Tensor& self);
at::Tensor& sigmoid_(at::Tensor& self);

// out= form (ATen's sigmoid_out): see out_overload.h.
at::Tensor& sigmoid_out(at::Tensor& out, const at::Tensor& self);

// The backward op (and its out= form), which the autograd kernels call: not needed to use the op, so it lives in
// detail, as torchvision's do.
namespace detail {

// Consumes the forward's result, as ATen's sigmoid_backward.
at::Tensor sigmoid_backward(const at::Tensor& grad_output, const at::Tensor& output);
at::Tensor& sigmoid_backward_out(at::Tensor& grad_input, const at::Tensor& grad_output, const at::Tensor& output);

}  // namespace detail

}  // namespace torch_ext
