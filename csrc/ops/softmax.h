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

// The backward ops consume the forward's output, as ATen's _softmax_backward_data:
//   softmax:     grad_input = y * (g - sum(g * y))
//   log_softmax: grad_input = g - exp(y) * sum(g)
// input_dtype is the forward input's dtype after the `dtype` cast is undone, i.e. the gradient's
// dtype: a half input run with dtype=float32 gets a half gradient computed from float g and y.
at::Tensor softmax_backward(const at::Tensor& grad_output, const at::Tensor& output, int64_t dim,
                            at::ScalarType input_dtype);
at::Tensor log_softmax_backward(const at::Tensor& grad_output, const at::Tensor& output, int64_t dim,
                                at::ScalarType input_dtype);

// out= forms (ATen's softmax_out, _softmax_backward_data_out, ...): see out_overload.h.
at::Tensor& softmax_out(at::Tensor& out, const at::Tensor& self, int64_t dim,
                        std::optional<at::ScalarType> dtype = std::nullopt);
at::Tensor& log_softmax_out(at::Tensor& out, const at::Tensor& self, int64_t dim,
                            std::optional<at::ScalarType> dtype = std::nullopt);
at::Tensor& softmax_backward_out(at::Tensor& grad_input, const at::Tensor& grad_output, const at::Tensor& output,
                                 int64_t dim, at::ScalarType input_dtype);
at::Tensor& log_softmax_backward_out(at::Tensor& grad_input, const at::Tensor& grad_output, const at::Tensor& output,
                                     int64_t dim, at::ScalarType input_dtype);

namespace ops {

// Argument checks shared by the Meta, CPU and CUDA kernels (defined in softmax.cpp). Each refuses
// with a message naming `op` and the argument, and returns the dim wrapped into [0, max(dim(), 1)).
// Forward: self floating, or integer with a floating `dtype`; dtype (if given) floating.
int64_t check_softmax_forward(const char* op, const at::Tensor& self, int64_t dim,
                              std::optional<at::ScalarType> dtype);
// Backward: grad_output and output floating, same shape, dtype and device; input_dtype floating.
int64_t check_softmax_backward(const char* op, const at::Tensor& grad_output, const at::Tensor& output,
                               int64_t dim, at::ScalarType input_dtype);

// The dtypes of the forward, decided once for the Meta, CPU and CUDA kernels. The output has `dtype` if given,
// else the input's. The kernel reads the input as it is when the dtypes agree, or when a half or bfloat16 input
// is written as float (ATen's half_to_float); any other dtype is a cast of the input first, as in ATen.
struct SoftmaxForwardDtypes {
  at::ScalarType output;
  bool reads_input_as_is;
};
SoftmaxForwardDtypes softmax_forward_dtypes(at::ScalarType input, std::optional<at::ScalarType> dtype);

// The backward writes input_dtype directly when it is the output's (grad_output's) dtype, or when a float
// gradient of a half or bfloat16 input is rounded once, in the kernel (ATen's half_to_float backward); any
// other pair computes in the output's dtype, then casts.
bool softmax_backward_writes_input_dtype(at::ScalarType output, at::ScalarType input_dtype);

}  // namespace ops
}  // namespace torch_ext
