#pragma once
// softmax's declarations shared by its kernels (CPU, CUDA, Meta); not part of the public API.

#include <ATen/core/Tensor.h>

#include <optional>

#include "ops/softmax.h"

namespace torch_ext::ops {

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

}  // namespace torch_ext::ops
