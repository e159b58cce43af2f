#pragma once
// ELU family: elu, elu_ and elu_backward are registered ops (the generic elementwise op's row
// ops/elementwise/elu.h); celu and selu are the parameter choices of ATen (CompositeImplicitAutograd ops over elu).

#include <ATen/core/Tensor.h>

namespace torch_ext {

// SELU's constants, as in ATen's Activation.cpp.
constexpr double kSeluAlpha = 1.6732632423543772848170429916717;
constexpr double kSeluScale = 1.0507009873554804934193349852946;

// y = x > 0 ? scale * x : scale * alpha * (exp(input_scale * x) - 1)
at::Tensor elu(const at::Tensor& self, double alpha = 1.0, double scale = 1.0, double input_scale = 1.0);
at::Tensor& elu_(at::Tensor& self, double alpha = 1.0, double scale = 1.0, double input_scale = 1.0);

// CELU = elu(alpha, 1, 1/alpha); alpha == 0 is refused.
at::Tensor celu(const at::Tensor& self, double alpha = 1.0);
at::Tensor& celu_(at::Tensor& self, double alpha = 1.0);

// SELU = elu(kSeluAlpha, kSeluScale, 1).
at::Tensor selu(const at::Tensor& self);
at::Tensor& selu_(at::Tensor& self);

// out= forms (ATen's elu_out, ...): the result written into out, resized as ATen resizes (see out_overload.h).
at::Tensor& elu_out(at::Tensor& out, const at::Tensor& self, double alpha = 1.0, double scale = 1.0,
                    double input_scale = 1.0);
at::Tensor& celu_out(at::Tensor& out, const at::Tensor& self, double alpha = 1.0);
at::Tensor& selu_out(at::Tensor& out, const at::Tensor& self);

// The backward ops (and their out= forms), which the autograd kernels call: not needed to use the
// ops, so they live in detail, as torchvision's do.
namespace detail {

// is_result=false: self_or_result is the forward input; true: it is the forward output
// (the in-place form, which refuses alpha < 0 as ATen does).
at::Tensor elu_backward(const at::Tensor& grad_output, double alpha, double scale, double input_scale,
                        bool is_result, const at::Tensor& self_or_result);
at::Tensor& elu_backward_out(at::Tensor& grad_input, const at::Tensor& grad_output, double alpha, double scale,
                             double input_scale, bool is_result, const at::Tensor& self_or_result);

}  // namespace detail

}  // namespace torch_ext
