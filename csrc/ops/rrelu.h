#pragma once
// RReLU: y = x > 0 ? x : r * x. Training: r ~ U[lower, upper] per element, drawn in the kernel;
// eval: r = (lower + upper) / 2.
//
// rrelu and rrelu_ are the public ops. rrelu_with_noise, rrelu_with_noise_ and rrelu_backward are
// the internal ops autograd uses (ATen's rrelu_with_noise family): the noise is the slope each
// element took, dy/dx, so the backward of a training step is grad * noise.

#include <ATen/core/Generator.h>
#include <ATen/core/Tensor.h>

#include <optional>
#include <tuple>

namespace torch_ext {

at::Tensor rrelu(const at::Tensor& self, double lower = 0.125, double upper = 0.3333333333333333, bool training = false,
                 std::optional<at::Generator> generator = std::nullopt);
at::Tensor& rrelu_(at::Tensor& self, double lower = 0.125, double upper = 0.3333333333333333, bool training = false,
                   std::optional<at::Generator> generator = std::nullopt);

// out= forms: see out_overload.h.
at::Tensor& rrelu_out(at::Tensor& out, const at::Tensor& self, double lower = 0.125,
                      double upper = 0.3333333333333333, bool training = false,
                      std::optional<at::Generator> generator = std::nullopt);

// The backward ops (and their out= forms), which the autograd kernels call: not needed to use the
// ops, so they live in detail, as torchvision's do.
namespace detail {

// Returns (output, noise). noise has the output's shape and strides and holds each element's slope (dy/dx,
// rounded to the dtype):
// training: r for x <= 0, 1 otherwise (NaN included); eval: 1 for x > 0, (lower + upper) / 2 otherwise.
std::tuple<at::Tensor, at::Tensor> rrelu_with_noise(const at::Tensor& self, double lower, double upper, bool training,
                                                    std::optional<at::Generator> generator = std::nullopt);
// Writes the output into self and returns the noise (laid out like at::empty_like(self)).
at::Tensor rrelu_with_noise_(at::Tensor& self, double lower, double upper, bool training,
                             std::optional<at::Generator> generator = std::nullopt);
// training: grad_output * noise (noise required, self_or_result unused).
// eval: self_or_result > 0 ? grad_output : grad_output * (lower + upper) / 2 (self_or_result required,
// noise unused); is_result=true means self_or_result is the in-place forward's output, which ATen's
// leaky_relu_backward refuses for a negative slope.
at::Tensor rrelu_backward(const at::Tensor& grad_output, const std::optional<at::Tensor>& self_or_result,
                          const std::optional<at::Tensor>& noise, double lower, double upper, bool training,
                          bool is_result);
std::tuple<at::Tensor&, at::Tensor&> rrelu_with_noise_out(at::Tensor& output, at::Tensor& noise,
                                                          const at::Tensor& self, double lower, double upper,
                                                          bool training,
                                                          std::optional<at::Generator> generator = std::nullopt);
at::Tensor& rrelu_backward_out(at::Tensor& grad_input, const at::Tensor& grad_output,
                               const std::optional<at::Tensor>& self_or_result, const std::optional<at::Tensor>& noise,
                               double lower, double upper, bool training, bool is_result);

}  // namespace detail

}  // namespace torch_ext
