#pragma once
// rrelu's declarations shared by its kernels (CPU, CUDA, Meta); not part of the public API.

#include "ops/rrelu.h"

namespace torch_ext::ops {

// Argument checks shared by the CPU, CUDA and Meta kernels.
void check_rrelu_bounds(const char* op, double lower, double upper);
void check_rrelu_backward(const at::Tensor& grad_output, const std::optional<at::Tensor>& self_or_result,
                          const std::optional<at::Tensor>& noise, double lower, double upper, bool training,
                          bool is_result);

}  // namespace torch_ext::ops
