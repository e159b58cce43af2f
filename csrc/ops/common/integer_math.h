#pragma once
// Integer helpers shared by the CPU and CUDA kernels.

#include <c10/macros/Macros.h>

#include <cstdint>

namespace torch_ext {

// ceil(a / b), for a >= 0 and b > 0.
C10_HOST_DEVICE constexpr int64_t ceil_div(int64_t a, int64_t b) { return (a + b - 1) / b; }

}  // namespace torch_ext
