#pragma once
// logsigmoid: y = log(1 / (1 + exp(-x))), as torch.nn.functional.logsigmoid (floating inputs only).

#include <ATen/core/Tensor.h>

namespace torch_ext {

at::Tensor logsigmoid(const at::Tensor& self);

// out= form: see out_overload.h.
at::Tensor& logsigmoid_out(at::Tensor& out, const at::Tensor& self);

// The backward op (and its out= form), which the autograd kernels call: not needed to use the op, so it lives in
// detail, as torchvision's do.
namespace detail {

// Consumes the forward's input (ATen's log_sigmoid_backward also takes a buffer; this one needs none).
at::Tensor logsigmoid_backward(const at::Tensor& grad_output, const at::Tensor& self);
at::Tensor& logsigmoid_backward_out(at::Tensor& grad_input, const at::Tensor& grad_output, const at::Tensor& self);

}  // namespace detail

}  // namespace torch_ext
