// RReLU on the CPU. This file is compiled once per CPU capability (DEFAULT, AVX2, AVX512; see
// CMakeLists.txt): each build registers its vectorized loops in DispatchStubs, and the DEFAULT build
// also holds the op-facing kernels, which take the random inputs from the generator and pick the loop
// for this machine.
//
// Training draws each slope from Philox keyed by the element's position in the output's memory
// (math/rrelu_math.h), computed lane by lane beside the vector formula: an element's slope, and so its
// output, is the same whatever the thread count, the chunk it falls in and the vector width (ISA).

#include <ATen/CPUGeneratorImpl.h>
#include <ATen/Dispatch.h>
#include <ATen/Parallel.h>
#include <ATen/native/DispatchStub.h>
#include <ATen/ops/empty_like.h>
#include <torch/library.h>

#include <algorithm>
#include <cstdint>
#include <mutex>
#include <utility>

#include "ops/common/checks.h"
#include "ops/cpu/elementwise.h"
#include "ops/math/rrelu_math.h"
#include "ops/rrelu.h"

namespace at::native {

// out: dense; noise: undefined or out's layout; self: out's layout (or out itself, in place)
using torch_ext_rrelu_train_fn = void (*)(const at::Tensor& out, const at::Tensor& noise, const at::Tensor& self,
                                          double lower, double upper, uint64_t seed, uint64_t offset);
// out (and noise, when defined): self's shape and dtype, any strides
using torch_ext_rrelu_eval_fn = void (*)(const at::Tensor& out, const at::Tensor& noise, const at::Tensor& self,
                                         double lower, double upper);
// grad_input, grad_output, saved (the noise in training, self_or_result in eval): one shape and dtype
using torch_ext_rrelu_backward_fn = void (*)(const at::Tensor& grad_input, const at::Tensor& grad_output,
                                             const at::Tensor& saved, double lower, double upper, bool training);
DECLARE_DISPATCH(torch_ext_rrelu_train_fn, torch_ext_rrelu_train_stub);
DECLARE_DISPATCH(torch_ext_rrelu_eval_fn, torch_ext_rrelu_eval_stub);
DECLARE_DISPATCH(torch_ext_rrelu_backward_fn, torch_ext_rrelu_backward_stub);

}  // namespace at::native

namespace torch_ext::ops::cpu {
inline namespace CPU_CAPABILITY {
namespace {

// Elements [begin, end) of dense storage: out[i] = x[i] <= 0 ? x[i] * r_i : x[i], noise[i] = dy/dx.
// Every element, the tail included, goes through the vector formula (see elementwise.h); the
// slopes r_i come from one Philox block per four elements.
template <typename scalar_t>
void rrelu_train_range(scalar_t* out, scalar_t* noise, const scalar_t* x, int64_t begin, int64_t end,
                       const math::RReluCoefs<at::opmath_type<scalar_t>>& c, uint64_t seed, uint64_t offset) {
  using Vec = at::vec::Vectorized<scalar_t>;
  using FVec = at::vec::Vectorized<float>;
  using opmath_t = at::opmath_type<scalar_t>;
  constexpr int64_t kLanes = Vec::size();

  uint64_t group = UINT64_MAX;
  math::Philox4x32 block{};
  auto bits_of = [&](int64_t i) {
    const uint64_t g = static_cast<uint64_t>(i) >> 2;
    if (g != group) {
      block = math::rrelu_random_group(seed, offset, g);
      group = g;
    }
    return block.v[i & 3];
  };

  for (int64_t i = begin; i < end; i += kLanes) {
    const int64_t count = std::min(kLanes, end - i);
    alignas(64) opmath_t r[kLanes] = {};
    for (int64_t j = 0; j < count; ++j) {
      r[j] = math::rrelu_slope(bits_of(i + j), c);
    }
    const Vec xv = Vec::loadu(x + i, count);
    if constexpr (std::is_same_v<opmath_t, scalar_t>) {
      const Vec rv = Vec::loadu(r);
      math::rrelu_train_forward<VecMath>(xv, rv).store(out + i, count);
      if (noise != nullptr) {
        math::rrelu_train_noise<VecMath>(xv, rv).store(noise + i, count);
      }
    } else {
      // Half and bfloat16: widen to two float vectors, compute, narrow back.
      const auto [x_lo, x_hi] = at::vec::convert_to_float<scalar_t>(xv);
      const FVec r_lo = FVec::loadu(r);
      const FVec r_hi = FVec::loadu(r + FVec::size());
      at::vec::convert_from_float<scalar_t>(math::rrelu_train_forward<VecMath>(x_lo, r_lo),
                                            math::rrelu_train_forward<VecMath>(x_hi, r_hi))
          .store(out + i, count);
      if (noise != nullptr) {
        at::vec::convert_from_float<scalar_t>(math::rrelu_train_noise<VecMath>(x_lo, r_lo),
                                              math::rrelu_train_noise<VecMath>(x_hi, r_hi))
            .store(noise + i, count);
      }
    }
  }
}

void rrelu_train_loop(const at::Tensor& out, const at::Tensor& noise, const at::Tensor& self, double lower,
                      double upper, uint64_t seed, uint64_t offset) {
  TORCH_INTERNAL_ASSERT(out.is_non_overlapping_and_dense() && self.strides() == out.strides());
  TORCH_INTERNAL_ASSERT(!noise.defined() || noise.strides() == out.strides());
  AT_DISPATCH_FLOATING_TYPES_AND2(at::kHalf, at::kBFloat16, self.scalar_type(), "rrelu_cpu", [&] {
    using opmath_t = at::opmath_type<scalar_t>;
    const auto c = math::rrelu_coefs<opmath_t>(lower, upper);
    scalar_t* out_p = out.mutable_data_ptr<scalar_t>();
    scalar_t* noise_p = noise.defined() ? noise.mutable_data_ptr<scalar_t>() : nullptr;
    const scalar_t* x_p = self.const_data_ptr<scalar_t>();
    at::parallel_for(0, out.numel(), kGrainSize, [&](int64_t begin, int64_t end) {
      rrelu_train_range<scalar_t>(out_p, noise_p, x_p, begin, end, c, seed, offset);
    });
  });
}

void rrelu_eval_loop(const at::Tensor& out, const at::Tensor& noise, const at::Tensor& self, double lower,
                     double upper) {
  AT_DISPATCH_FLOATING_TYPES_AND2(at::kHalf, at::kBFloat16, self.scalar_type(), "rrelu_eval_cpu", [&] {
    using opmath_t = at::opmath_type<scalar_t>;
    const opmath_t slope = math::rrelu_coefs<opmath_t>(lower, upper).slope;
    // The noise first: in place, out is self.
    if (noise.defined()) {
      elementwise_kernel<scalar_t>(
          noise,
          [slope](auto x) {
            using T = decltype(x);
            return math::rrelu_eval_noise<math_for_t<T>>(x, T(slope));
          },
          self);
    }
    elementwise_kernel<scalar_t>(
        out,
        [slope](auto x) {
          using T = decltype(x);
          return math::rrelu_eval_forward<math_for_t<T>>(x, T(slope));
        },
        self);
  });
}

void rrelu_backward_loop(const at::Tensor& grad_input, const at::Tensor& grad_output, const at::Tensor& saved,
                         double lower, double upper, bool training) {
  AT_DISPATCH_FLOATING_TYPES_AND2(at::kHalf, at::kBFloat16, grad_output.scalar_type(), "rrelu_backward_cpu", [&] {
    using opmath_t = at::opmath_type<scalar_t>;
    if (training) {
      elementwise_kernel<scalar_t>(
          grad_input, [](auto g, auto noise) { return math::rrelu_train_backward(g, noise); }, grad_output, saved);
      return;
    }
    const opmath_t slope = math::rrelu_coefs<opmath_t>(lower, upper).slope;
    elementwise_kernel<scalar_t>(
        grad_input,
        [slope](auto g, auto b) {
          using T = decltype(g);
          return math::rrelu_eval_backward<math_for_t<T>>(g, b, T(slope));
        },
        grad_output, saved);
  });
}

}  // namespace
}  // namespace CPU_CAPABILITY
}  // namespace torch_ext::ops::cpu

namespace at::native {
ALSO_REGISTER_AVX512_DISPATCH(torch_ext_rrelu_train_stub, &torch_ext::ops::cpu::CPU_CAPABILITY::rrelu_train_loop)
ALSO_REGISTER_AVX512_DISPATCH(torch_ext_rrelu_eval_stub, &torch_ext::ops::cpu::CPU_CAPABILITY::rrelu_eval_loop)
ALSO_REGISTER_AVX512_DISPATCH(torch_ext_rrelu_backward_stub, &torch_ext::ops::cpu::CPU_CAPABILITY::rrelu_backward_loop)
}  // namespace at::native

#if defined(CPU_CAPABILITY_DEFAULT)

namespace at::native {
DEFINE_DISPATCH(torch_ext_rrelu_train_stub);
DEFINE_DISPATCH(torch_ext_rrelu_eval_stub);
DEFINE_DISPATCH(torch_ext_rrelu_backward_stub);
}  // namespace at::native

namespace torch_ext::ops {
namespace {

// (seed, offset) of one training call: a fresh 64-bit Philox key from the CPU generator (the default
// one, or the one given), taken under its mutex. torch.manual_seed (or generator.manual_seed) thus
// reproduces a call, and successive calls draw different slopes. The offset is 0: each call has its
// own key.
std::pair<uint64_t, uint64_t> cpu_philox_inputs(const std::optional<at::Generator>& generator) {
  auto* gen = at::get_generator_or_default<at::CPUGeneratorImpl>(generator, at::detail::getDefaultCPUGenerator());
  std::lock_guard<std::mutex> lock(gen->mutex_);
  return {gen->random64(), 0};
}

// Training into out (self, or at::empty_like(self)) and noise (undefined, or at::empty_like(self)).
// The flat loop keys each slope by the element's position in out's memory; an out that is not dense
// (in place on a strided view) is computed in a temporary laid out as at::empty_like(self), which
// is how the out-of-place op lays out its output, so in place and out of place draw the same slopes.
void rrelu_train(const at::Tensor& out, const at::Tensor& noise, const at::Tensor& self, double lower, double upper,
                 const std::optional<at::Generator>& generator) {
  const auto [seed, offset] = cpu_philox_inputs(generator);
  if (out.numel() == 0) {
    return;
  }
  if (out.is_non_overlapping_and_dense()) {
    at::Tensor x = self;
    if (!self.is_same(out) && self.strides() != out.strides()) {
      x = at::empty_like(out);
      x.copy_(self);
    }
    at::native::torch_ext_rrelu_train_stub(c10::DeviceType::CPU, out, noise, x, lower, upper, seed, offset);
    return;
  }
  TORCH_INTERNAL_ASSERT(self.is_same(out));
  at::Tensor tmp = at::empty_like(self);
  tmp.copy_(self);
  at::native::torch_ext_rrelu_train_stub(c10::DeviceType::CPU, tmp, noise, tmp, lower, upper, seed, offset);
  out.copy_(tmp);
}

at::Tensor rrelu_forward_kernel(const at::Tensor& self, double lower, double upper, bool training,
                                std::optional<at::Generator> generator) {
  check_elementwise_input("rrelu", self);
  check_rrelu_bounds("rrelu", lower, upper);
  // NB: ATen allocates rrelu's output LEGACY_CONTIGUOUS (strides not propagated, pytorch#60028);
  // empty_like keeps a dense input's strides, as every torch_ext op and the Meta kernel do.
  at::Tensor out = at::empty_like(self);
  if (training) {
    rrelu_train(out, at::Tensor(), self, lower, upper, generator);
  } else {
    at::native::torch_ext_rrelu_eval_stub(c10::DeviceType::CPU, out, at::Tensor(), self, lower, upper);
  }
  return out;
}

void rrelu_inplace_kernel(at::Tensor& self, double lower, double upper, bool training,
                          std::optional<at::Generator> generator) {
  check_elementwise_input("rrelu_", self);
  check_rrelu_bounds("rrelu_", lower, upper);
  check_no_internal_overlap("rrelu_", "self", self);
  if (training) {
    rrelu_train(self, at::Tensor(), self, lower, upper, generator);
  } else {
    at::native::torch_ext_rrelu_eval_stub(c10::DeviceType::CPU, self, at::Tensor(), self, lower, upper);
  }
}

std::tuple<at::Tensor, at::Tensor> rrelu_with_noise_kernel(const at::Tensor& self, double lower, double upper,
                                                           bool training, std::optional<at::Generator> generator) {
  check_elementwise_input("rrelu_with_noise", self);
  check_rrelu_bounds("rrelu_with_noise", lower, upper);
  at::Tensor out = at::empty_like(self);
  at::Tensor noise = at::empty_like(self);
  if (training) {
    rrelu_train(out, noise, self, lower, upper, generator);
  } else {
    at::native::torch_ext_rrelu_eval_stub(c10::DeviceType::CPU, out, noise, self, lower, upper);
  }
  return {out, noise};
}

at::Tensor rrelu_with_noise_inplace_kernel(at::Tensor& self, double lower, double upper, bool training,
                                           std::optional<at::Generator> generator) {
  check_elementwise_input("rrelu_with_noise_", self);
  check_rrelu_bounds("rrelu_with_noise_", lower, upper);
  check_no_internal_overlap("rrelu_with_noise_", "self", self);
  at::Tensor noise = at::empty_like(self);
  if (training) {
    rrelu_train(self, noise, self, lower, upper, generator);
  } else {
    at::native::torch_ext_rrelu_eval_stub(c10::DeviceType::CPU, self, noise, self, lower, upper);
  }
  return noise;
}

at::Tensor rrelu_backward_kernel(const at::Tensor& grad_output, const std::optional<at::Tensor>& self_or_result,
                                 const std::optional<at::Tensor>& noise, double lower, double upper, bool training,
                                 bool is_result) {
  check_rrelu_backward(grad_output, self_or_result, noise, lower, upper, training, is_result);
  at::Tensor grad_input = at::empty_like(grad_output);
  at::native::torch_ext_rrelu_backward_stub(c10::DeviceType::CPU, grad_input, grad_output,
                                            training ? *noise : *self_or_result, lower, upper, training);
  return grad_input;
}

}  // namespace
}  // namespace torch_ext::ops

TORCH_LIBRARY_IMPL(torch_ext, CPU, m) {
  m.impl("rrelu", TORCH_FN(torch_ext::ops::rrelu_forward_kernel));
  m.impl("rrelu_", TORCH_FN(torch_ext::ops::rrelu_inplace_kernel));
  m.impl("rrelu_with_noise", TORCH_FN(torch_ext::ops::rrelu_with_noise_kernel));
  m.impl("rrelu_with_noise_", TORCH_FN(torch_ext::ops::rrelu_with_noise_inplace_kernel));
  m.impl("rrelu_backward", TORCH_FN(torch_ext::ops::rrelu_backward_kernel));
}

#endif  // CPU_CAPABILITY_DEFAULT
