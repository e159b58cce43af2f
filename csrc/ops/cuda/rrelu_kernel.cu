// RReLU's CUDA kernels: training draws each slope in the kernel from Philox (math/rrelu_math.h) with the
// generator's philox_cuda_state, which is safe under CUDA graph capture (each replay draws new slopes);
// eval and the backward run the flat vectorized elementwise kernel of common/cuda_elementwise.cuh.

#include <ATen/Dispatch.h>
#include <ATen/OpMathType.h>
#include <ATen/core/Tensor.h>
#include <ATen/cuda/CUDAContext.h>
#include <ATen/cuda/CUDAGeneratorImpl.h>
#include <ATen/cuda/PhiloxUtils.cuh>
#include <ATen/ops/empty_like.h>
#include <c10/cuda/CUDAGuard.h>
#include <torch/library.h>

#include <algorithm>
#include <mutex>

#include "ops/common/checks.h"
#include "ops/common/cuda_elementwise.cuh"
#include "ops/math/rrelu_math.h"
#include "ops/internal/rrelu.h"

namespace torch_ext::ops {
namespace {

using math::RReluCoefs;
using math::ScalarMath;

// Each thread computes groups of four consecutive elements: the four lanes of one Philox block.
constexpr int kGroup = 4;
constexpr int kTrainThreads = 256;

// out[i] = x[i] <= 0 ? x[i] * r_i : x[i] and noise[i] = dy/dx over dense storage, r_i from Philox block
// i / 4 (subsequence) at the generator's offset. Aligned: every pointer holds whole aligned groups, so
// a full group is one vector access.
template <typename scalar_t, bool WithNoise, bool Aligned>
__global__ void __launch_bounds__(kTrainThreads)
    rrelu_train_kernel(scalar_t* out,                            // [n] dense storage (may be x)
                       scalar_t* noise,                          // [n] out's layout, or null
                       const scalar_t* x,                        // [n] out's layout
                       int64_t n,                                // number of elements
                       RReluCoefs<at::opmath_type<scalar_t>> c,  // bounds in op-math
                       at::PhiloxCudaState philox) {             // the generator's state
  using opmath_t = at::opmath_type<scalar_t>;
  using vec_t = cuda::AlignedVector<scalar_t, kGroup>;
  const auto [seed, offset] = at::cuda::philox::unpack(philox);
  const int64_t groups = ceil_div(n, kGroup);
  const int64_t stride = static_cast<int64_t>(blockDim.x) * gridDim.x;
  for (int64_t g = static_cast<int64_t>(blockIdx.x) * blockDim.x + threadIdx.x; g < groups; g += stride) {
    const math::Philox4x32 bits = math::rrelu_random_group(seed, offset, static_cast<uint64_t>(g));
    const int64_t i0 = g * kGroup;
    if (Aligned && i0 + kGroup <= n) {
      const vec_t xv = reinterpret_cast<const vec_t*>(x)[g];
      vec_t yv, nv;
#pragma unroll
      for (int k = 0; k < kGroup; ++k) {
        const opmath_t r = math::rrelu_slope(bits.v[k], c);
        const opmath_t xk = static_cast<opmath_t>(xv.val[k]);
        yv.val[k] = static_cast<scalar_t>(math::rrelu_train_forward<ScalarMath>(xk, r));
        nv.val[k] = static_cast<scalar_t>(math::rrelu_train_noise<ScalarMath>(xk, r));
      }
      reinterpret_cast<vec_t*>(out)[g] = yv;
      if constexpr (WithNoise) {
        reinterpret_cast<vec_t*>(noise)[g] = nv;
      }
    } else {
      const int count = static_cast<int>(std::min<int64_t>(kGroup, n - i0));
      for (int k = 0; k < count; ++k) {
        const opmath_t r = math::rrelu_slope(bits.v[k], c);
        const opmath_t xk = static_cast<opmath_t>(x[i0 + k]);
        out[i0 + k] = static_cast<scalar_t>(math::rrelu_train_forward<ScalarMath>(xk, r));
        if constexpr (WithNoise) {
          noise[i0 + k] = static_cast<scalar_t>(math::rrelu_train_noise<ScalarMath>(xk, r));
        }
      }
    }
  }
}

template <typename scalar_t, bool WithNoise, bool Aligned>
void launch_train_kernel(scalar_t* out, scalar_t* noise, const scalar_t* x, int64_t n,
                         const RReluCoefs<at::opmath_type<scalar_t>>& c, const at::PhiloxCudaState& philox) {
  // NB: one wave of resident blocks in a grid-stride loop, as the elementwise kernels; the slopes do not
  // depend on the grid (each group's Philox block is fixed by its index).
  const cudaDeviceProp* prop = at::cuda::getCurrentDeviceProperties();
  const int64_t blocks_per_sm = std::max(1, prop->maxThreadsPerMultiProcessor / kTrainThreads);
  const int64_t max_blocks = static_cast<int64_t>(prop->multiProcessorCount) * blocks_per_sm;
  const int64_t groups = ceil_div(n, kGroup);
  const int64_t blocks = std::max<int64_t>(1, std::min(ceil_div(groups, kTrainThreads), max_blocks));
  rrelu_train_kernel<scalar_t, WithNoise, Aligned>
      <<<static_cast<unsigned int>(blocks), kTrainThreads, 0, at::cuda::getCurrentCUDAStream()>>>(out, noise, x, n, c,
                                                                                                  philox);
  C10_CUDA_KERNEL_LAUNCH_CHECK();
}

bool is_group_aligned(const void* p, size_t elem_size) {
  return p == nullptr || reinterpret_cast<std::uintptr_t>(p) % (kGroup * elem_size) == 0;
}

// out, noise (or undefined) and x: one dense layout; x may be out (in place).
void rrelu_train_launch(const at::Tensor& out, const at::Tensor& noise, const at::Tensor& x, double lower, double upper,
                        const at::PhiloxCudaState& philox) {
  AT_DISPATCH_FLOATING_TYPES_AND2(at::ScalarType::Half, at::ScalarType::BFloat16, x.scalar_type(), "rrelu_cuda", [&] {
    using opmath_t = at::opmath_type<scalar_t>;
    const auto c = math::rrelu_coefs<opmath_t>(lower, upper);
    scalar_t* out_p = out.mutable_data_ptr<scalar_t>();
    scalar_t* noise_p = noise.defined() ? noise.mutable_data_ptr<scalar_t>() : nullptr;
    const scalar_t* x_p = x.const_data_ptr<scalar_t>();
    const int64_t n = out.numel();
    const bool aligned = is_group_aligned(out_p, sizeof(scalar_t)) && is_group_aligned(noise_p, sizeof(scalar_t)) &&
                         is_group_aligned(x_p, sizeof(scalar_t));
    if (noise_p != nullptr) {
      aligned ? launch_train_kernel<scalar_t, true, true>(out_p, noise_p, x_p, n, c, philox)
              : launch_train_kernel<scalar_t, true, false>(out_p, noise_p, x_p, n, c, philox);
    } else {
      aligned ? launch_train_kernel<scalar_t, false, true>(out_p, noise_p, x_p, n, c, philox)
              : launch_train_kernel<scalar_t, false, false>(out_p, noise_p, x_p, n, c, philox);
    }
  });
}

// Training into out (self, or at::empty_like(self)) and noise (undefined, or at::empty_like(self)), keyed
// by the element's position in out's memory, as on the CPU (cpu/rrelu_kernel.cpp): an out that is not
// dense (in place on a strided view) goes through a temporary laid out as at::empty_like(self).
void rrelu_train(const at::Tensor& out, const at::Tensor& noise, const at::Tensor& self, double lower, double upper,
                 const std::optional<at::Generator>& generator) {
  auto* gen = at::get_generator_or_default<at::CUDAGeneratorImpl>(
      generator, at::cuda::detail::getDefaultCUDAGenerator(self.device().index()));
  at::PhiloxCudaState philox;
  {
    std::lock_guard<std::mutex> lock(gen->mutex_);
    // One Philox block (four 32-bit draws) per subsequence, i.e. per group of four elements.
    philox = gen->philox_cuda_state(kGroup);
  }
  if (out.numel() == 0) {
    return;
  }
  if (out.is_non_overlapping_and_dense()) {
    at::Tensor x = self;
    if (!self.is_same(out) && self.strides() != out.strides()) {
      x = at::empty_like(out);
      x.copy_(self);
    }
    rrelu_train_launch(out, noise, x, lower, upper, philox);
    return;
  }
  TORCH_INTERNAL_ASSERT(self.is_same(out));
  at::Tensor tmp = at::empty_like(self);
  tmp.copy_(self);
  rrelu_train_launch(tmp, noise, tmp, lower, upper, philox);
  out.copy_(tmp);
}

// Eval: y = rrelu_eval_forward(x), noise = rrelu_eval_noise(x); T is the op-math type.
template <typename T>
struct RReluEvalForwardOp {
  T slope;
  __device__ __forceinline__ T operator()(T x) const { return math::rrelu_eval_forward<ScalarMath>(x, slope); }
};

template <typename T>
struct RReluEvalNoiseOp {
  T slope;
  __device__ __forceinline__ T operator()(T x) const { return math::rrelu_eval_noise<ScalarMath>(x, slope); }
};

template <typename T>
struct RReluEvalBackwardOp {
  T slope;
  __device__ __forceinline__ T operator()(T g, T b) const { return math::rrelu_eval_backward<ScalarMath>(g, b, slope); }
};

template <typename T>
struct RReluTrainBackwardOp {
  __device__ __forceinline__ T operator()(T g, T noise) const { return math::rrelu_train_backward(g, noise); }
};

// out (self, or empty_like(self)) and noise (undefined, or empty_like(self)); the noise first, as out may be self.
void rrelu_eval_launch(const at::Tensor& out, const at::Tensor& noise, const at::Tensor& self, double lower,
                       double upper) {
  AT_DISPATCH_FLOATING_TYPES_AND2(
      at::ScalarType::Half, at::ScalarType::BFloat16, self.scalar_type(), "rrelu_eval_cuda", [&] {
        using opmath_t = at::opmath_type<scalar_t>;
        const opmath_t slope = math::rrelu_coefs<opmath_t>(lower, upper).slope;
        if (noise.defined()) {
          cuda::launch_elementwise<scalar_t>(noise, {self}, RReluEvalNoiseOp<opmath_t>{slope});
        }
        cuda::launch_elementwise<scalar_t>(out, {self}, RReluEvalForwardOp<opmath_t>{slope});
      });
}

at::Tensor rrelu_forward_kernel(const at::Tensor& self, double lower, double upper, bool training,
                                std::optional<at::Generator> generator) {
  check_elementwise_input("rrelu", self);
  check_rrelu_bounds("rrelu", lower, upper);
  const c10::cuda::CUDAGuard device_guard(self.device());
  // NB: empty_like keeps a dense input's strides, as the Meta kernel does (ATen: LEGACY_CONTIGUOUS).
  at::Tensor out = at::empty_like(self);
  if (training) {
    rrelu_train(out, at::Tensor(), self, lower, upper, generator);
  } else {
    rrelu_eval_launch(out, at::Tensor(), self, lower, upper);
  }
  return out;
}

void rrelu_inplace_kernel(at::Tensor& self, double lower, double upper, bool training,
                          std::optional<at::Generator> generator) {
  check_elementwise_input("rrelu_", self);
  check_rrelu_bounds("rrelu_", lower, upper);
  check_no_internal_overlap("rrelu_", "self", self);
  const c10::cuda::CUDAGuard device_guard(self.device());
  if (training) {
    rrelu_train(self, at::Tensor(), self, lower, upper, generator);
  } else {
    rrelu_eval_launch(self, at::Tensor(), self, lower, upper);
  }
}

std::tuple<at::Tensor, at::Tensor> rrelu_with_noise_kernel(const at::Tensor& self, double lower, double upper,
                                                           bool training, std::optional<at::Generator> generator) {
  check_elementwise_input("rrelu_with_noise", self);
  check_rrelu_bounds("rrelu_with_noise", lower, upper);
  const c10::cuda::CUDAGuard device_guard(self.device());
  at::Tensor out = at::empty_like(self);
  at::Tensor noise = at::empty_like(self);
  if (training) {
    rrelu_train(out, noise, self, lower, upper, generator);
  } else {
    rrelu_eval_launch(out, noise, self, lower, upper);
  }
  return {out, noise};
}

at::Tensor rrelu_with_noise_inplace_kernel(at::Tensor& self, double lower, double upper, bool training,
                                           std::optional<at::Generator> generator) {
  check_elementwise_input("rrelu_with_noise_", self);
  check_rrelu_bounds("rrelu_with_noise_", lower, upper);
  check_no_internal_overlap("rrelu_with_noise_", "self", self);
  const c10::cuda::CUDAGuard device_guard(self.device());
  at::Tensor noise = at::empty_like(self);
  if (training) {
    rrelu_train(self, noise, self, lower, upper, generator);
  } else {
    rrelu_eval_launch(self, noise, self, lower, upper);
  }
  return noise;
}

at::Tensor rrelu_backward_kernel(const at::Tensor& grad_output, const std::optional<at::Tensor>& self_or_result,
                                 const std::optional<at::Tensor>& noise, double lower, double upper, bool training,
                                 bool is_result) {
  check_rrelu_backward(grad_output, self_or_result, noise, lower, upper, training, is_result);
  const c10::cuda::CUDAGuard device_guard(grad_output.device());
  at::Tensor grad_input = at::empty_like(grad_output);
  AT_DISPATCH_FLOATING_TYPES_AND2(
      at::ScalarType::Half, at::ScalarType::BFloat16, grad_output.scalar_type(), "rrelu_backward_cuda", [&] {
        using opmath_t = at::opmath_type<scalar_t>;
        if (training) {
          cuda::launch_elementwise<scalar_t>(grad_input, {grad_output, *noise}, RReluTrainBackwardOp<opmath_t>{});
        } else {
          const opmath_t slope = math::rrelu_coefs<opmath_t>(lower, upper).slope;
          cuda::launch_elementwise<scalar_t>(grad_input, {grad_output, *self_or_result},
                                             RReluEvalBackwardOp<opmath_t>{slope});
        }
      });
  return grad_input;
}

}  // namespace
}  // namespace torch_ext::ops

TORCH_LIBRARY_IMPL(torch_ext, CUDA, m) {
  m.impl("rrelu", TORCH_FN(torch_ext::ops::rrelu_forward_kernel));
  m.impl("rrelu_", TORCH_FN(torch_ext::ops::rrelu_inplace_kernel));
  m.impl("rrelu_with_noise", TORCH_FN(torch_ext::ops::rrelu_with_noise_kernel));
  m.impl("rrelu_with_noise_", TORCH_FN(torch_ext::ops::rrelu_with_noise_inplace_kernel));
  m.impl("rrelu_backward", TORCH_FN(torch_ext::ops::rrelu_backward_kernel));
}
