#pragma once
// RReLU: y = x > 0 ? x : r * x. Training: r ~ U[lower, upper] per element, drawn in the kernel;
// eval: r = (lower + upper) / 2.

#include <ATen/core/Generator.h>
#include <ATen/core/Tensor.h>

#include <optional>

namespace torch_ext {

at::Tensor rrelu(const at::Tensor& self, double lower = 0.125, double upper = 0.3333333333333333,
                 bool training = false, std::optional<at::Generator> generator = std::nullopt);
at::Tensor& rrelu_(at::Tensor& self, double lower = 0.125, double upper = 0.3333333333333333,
                   bool training = false, std::optional<at::Generator> generator = std::nullopt);

}  // namespace torch_ext
