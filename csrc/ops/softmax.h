#pragma once
// softmax and log_softmax over one dimension:
//   softmax(x)_i     = exp(x_i - m) / s,          m = max_j x_j,  s = sum_j exp(x_j - m)
//   log_softmax(x)_i = (x_i - m) - log(s)
// Semantics are ATen's: `dtype` casts the input first, the output is contiguous, half and bfloat16
// accumulate in float (double in double), a NaN or +inf in a row makes the row NaN, an all -inf
// row is NaN, and -inf beside a finite max gives exactly 0 (log_softmax: -inf).

#include <ATen/core/Tensor.h>

#include <optional>

namespace torch_ext {

at::Tensor softmax(const at::Tensor& self, int64_t dim, std::optional<at::ScalarType> dtype = std::nullopt);
at::Tensor log_softmax(const at::Tensor& self, int64_t dim, std::optional<at::ScalarType> dtype = std::nullopt);

// out= forms (ATen's softmax_out, _softmax_backward_data_out, ...): see out_overload.h.
at::Tensor& softmax_out(at::Tensor& out, const at::Tensor& self, int64_t dim,
                        std::optional<at::ScalarType> dtype = std::nullopt);
at::Tensor& log_softmax_out(at::Tensor& out, const at::Tensor& self, int64_t dim,
                            std::optional<at::ScalarType> dtype = std::nullopt);

// The backward ops (and their out= forms), which the autograd kernels call: not needed to use the
// ops, so they live in detail, as torchvision's do.
namespace detail {

// The backward ops consume the forward's output, as ATen's _softmax_backward_data:
//   softmax:     grad_input = y * (g - sum(g * y))
//   log_softmax: grad_input = g - exp(y) * sum(g)
// input_dtype is the forward input's dtype after the `dtype` cast is undone, i.e. the gradient's
// dtype: a half input run with dtype=float32 gets a half gradient computed from float g and y.
at::Tensor softmax_backward(const at::Tensor& grad_output, const at::Tensor& output, int64_t dim,
                            at::ScalarType input_dtype);
at::Tensor log_softmax_backward(const at::Tensor& grad_output, const at::Tensor& output, int64_t dim,
                                at::ScalarType input_dtype);
at::Tensor& softmax_backward_out(at::Tensor& grad_input, const at::Tensor& grad_output, const at::Tensor& output,
                                 int64_t dim, at::ScalarType input_dtype);
at::Tensor& log_softmax_backward_out(at::Tensor& grad_input, const at::Tensor& grad_output, const at::Tensor& output,
                                     int64_t dim, at::ScalarType input_dtype);

}  // namespace detail

}  // namespace torch_ext
