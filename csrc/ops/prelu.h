#pragma once
// PReLU: y = x > 0 ? x : weight[c] * x, c the channel (dim 1; one channel for 0-d and 1-D inputs).

#include <ATen/core/Tensor.h>

#include <tuple>

namespace torch_ext {

// weight: 1 or C elements, of self's dtype.
at::Tensor prelu(const at::Tensor& self, const at::Tensor& weight);

// out= forms: see out_overload.h.
at::Tensor& prelu_out(at::Tensor& out, const at::Tensor& self, const at::Tensor& weight);

// The backward ops (and their out= forms), which the autograd kernels call: not needed to use the
// ops, so they live in detail, as torchvision's do.
namespace detail {

// Returns (grad_self, grad_weight); grad_weight has weight's shape, reduced inside the kernel.
std::tuple<at::Tensor, at::Tensor> prelu_backward(const at::Tensor& grad_output, const at::Tensor& self,
                                                  const at::Tensor& weight);
std::tuple<at::Tensor&, at::Tensor&> prelu_backward_out(at::Tensor& grad_self, at::Tensor& grad_weight,
                                                        const at::Tensor& grad_output, const at::Tensor& self,
                                                        const at::Tensor& weight);

}  // namespace detail

}  // namespace torch_ext
