// cross_entropy on CUDA: a block per row (grid-stride over rows). The forward reads a row twice (its max; then the
// sum of exp(x - max) and, where the targets need it, sum_c B_c (x_c - max)) and writes the row's log-sum-exp, loss
// and weight; a reduced loss is the sum of the R row losses (each rounded to the dtype, as the unreduced loss) and
// of their weights, on the device (no host synchronisation). The backward reads the row once more (twice for
// probability targets, for A = sum_c B_c) and writes the gradient; a reduced loss's gradient and total weight are
// read from device memory by the kernel.

#include <ATen/Dispatch.h>
#include <ATen/OpMathType.h>
#include <ATen/TensorOperators.h>
#include <ATen/core/Tensor.h>
#include <ATen/cuda/CUDAContextLight.h>
#include <ATen/ops/empty.h>
#include <c10/cuda/CUDAException.h>
#include <c10/cuda/CUDAGuard.h>
#include <c10/cuda/CUDAStream.h>
#include <c10/macros/Macros.h>
#include <torch/library.h>

#include <algorithm>
#include <limits>

#include "ops/cuda/block_reduce.cuh"
#include "ops/internal/cross_entropy.h"
#include "ops/math/cross_entropy_math.h"
#include "ops/math/scalar_math.h"

namespace torch_ext::ops {
namespace {

using math::cross_entropy_grad;
using math::cross_entropy_grad_scale;
using math::cross_entropy_index_scale;
using math::cross_entropy_row_loss;
using math::cross_entropy_smoothed_target;
using math::ScalarMath;

template <typename acc_t>
struct CrossEntropyParams {
  int64_t rows, classes, ignore_index;
  acc_t eps, inv_classes, z;
  const acc_t* weight_sum;  // W = sum_c w_c on the device, or null: W = C (no weights)

  __device__ __forceinline__ acc_t weights() const {
    return weight_sum != nullptr ? *weight_sum : static_cast<acc_t>(classes);
  }
};

// The threads of a row's block: a warp multiple, at most 512, no more than the row needs.
int threads_for(int64_t classes) {
  const int64_t warps = std::min<int64_t>(16, std::max<int64_t>(1, (classes + kWarp * 4 - 1) / (kWarp * 4)));
  return static_cast<int>(warps * kWarp);
}

int64_t blocks_for(int64_t rows, int threads) {
  const int64_t resident = static_cast<int64_t>(at::cuda::getCurrentDeviceProperties()->multiProcessorCount) *
                           (2048 / threads);
  return std::max<int64_t>(1, std::min(rows, resident));
}

// weight: [C] or null; target: class indices [R] (y) or probabilities [R, C] (t).
template <typename scalar_t, typename acc_t, bool kIndices>
__global__ void cross_entropy_forward_kernel(const scalar_t* __restrict__ x, const int64_t* __restrict__ y,
                                             const scalar_t* __restrict__ t, const scalar_t* __restrict__ w,
                                             CrossEntropyParams<acc_t> p, bool need_dot, acc_t* __restrict__ lse_out,
                                             acc_t* __restrict__ loss_out, acc_t* __restrict__ weight_out) {
  __shared__ ReduceScratch scratch;
  for (int64_t r = blockIdx.x; r < p.rows; r += gridDim.x) {
    const scalar_t* xr = x + r * p.classes;
    acc_t m = -std::numeric_limits<acc_t>::infinity();
    for (int64_t c = threadIdx.x; c < p.classes; c += blockDim.x) {
      m = ScalarMath::maximum(m, static_cast<acc_t>(xr[c]));
    }
    m = block_all_reduce(m, MaxOp<acc_t>{}, scratch);
    acc_t sum = 0, dot = 0, a = 0;
    for (int64_t c = threadIdx.x; c < p.classes; c += blockDim.x) {
      const acc_t shifted = static_cast<acc_t>(xr[c]) - m;
      sum += ScalarMath::exp(shifted);
      if (need_dot) {
        acc_t b = w != nullptr ? static_cast<acc_t>(w[c]) : acc_t(1);
        if constexpr (!kIndices) {
          b *= cross_entropy_smoothed_target(static_cast<acc_t>(t[r * p.classes + c]), p.eps, p.inv_classes);
          a += b;
        }
        dot += b * shifted;
      }
    }
    sum = block_all_reduce(sum, SumOp<acc_t>{}, scratch);
    if (need_dot) {
      dot = block_all_reduce(dot, SumOp<acc_t>{}, scratch);
      if constexpr (!kIndices) {
        a = block_all_reduce(a, SumOp<acc_t>{}, scratch);
      }
    }
    if (threadIdx.x == 0) {
      const acc_t log_sum = ScalarMath::log(sum), lse = m + log_sum;
      acc_t loss = 0, row_weight = 1;
      if constexpr (kIndices) {
        const int64_t target = y[r];
        if (target == p.ignore_index) {
          row_weight = 0;
        } else {
          CUDA_KERNEL_ASSERT(target >= 0 && target < p.classes && "cross_entropy: target is out of bounds");
          row_weight = w != nullptr ? static_cast<acc_t>(w[target]) : acc_t(1);
          const acc_t shifted_y = static_cast<acc_t>(xr[target]) - m;
          const acc_t shifted_dot =
              (acc_t(1) - p.eps) * row_weight * shifted_y + (need_dot ? p.eps * p.inv_classes * dot : acc_t(0));
          loss = cross_entropy_row_loss(cross_entropy_index_scale(row_weight, p.eps, p.inv_classes, p.weights()),
                                        shifted_dot, log_sum, lse, p.z);
        }
      } else {
        loss = cross_entropy_row_loss(a, dot, log_sum, lse, p.z);
      }
      lse_out[2 * r] = m;
      lse_out[2 * r + 1] = log_sum;
      // NB: rounded to the dtype, as the unreduced loss is, before any sum.
      loss_out[r] = static_cast<acc_t>(static_cast<scalar_t>(loss));
      weight_out[r] = row_weight;
    }
  }
}

// grad_rows: [R] incoming gradients, or null with grad_value (one value) and, for "mean", total_weight.
template <typename scalar_t, typename acc_t, bool kIndices>
__global__ void cross_entropy_backward_kernel(const scalar_t* __restrict__ x, const int64_t* __restrict__ y,
                                              const scalar_t* __restrict__ t, const scalar_t* __restrict__ w,
                                              CrossEntropyParams<acc_t> p, const scalar_t* __restrict__ grad_rows,
                                              const scalar_t* __restrict__ grad_value,
                                              const acc_t* __restrict__ total_weight, const acc_t* __restrict__ lse,
                                              scalar_t* __restrict__ grad) {
  __shared__ ReduceScratch scratch;
  for (int64_t r = blockIdx.x; r < p.rows; r += gridDim.x) {
    const scalar_t* xr = x + r * p.classes;
    scalar_t* gr = grad + r * p.classes;
    acc_t g = grad_rows != nullptr ? static_cast<acc_t>(grad_rows[r]) : static_cast<acc_t>(*grad_value);
    if (total_weight != nullptr) {
      g /= *total_weight;
    }
    // NB: exp((x - max) - log_sum), as accurate as a softmax (see the CPU kernel).
    const acc_t row_max = lse[2 * r], log_sum = lse[2 * r + 1], row_lse = row_max + log_sum;
    if constexpr (kIndices) {
      const int64_t target = y[r];
      if (target == p.ignore_index) {
        for (int64_t c = threadIdx.x; c < p.classes; c += blockDim.x) {
          gr[c] = scalar_t(0);
        }
        continue;
      }
      CUDA_KERNEL_ASSERT(target >= 0 && target < p.classes && "cross_entropy: target is out of bounds");
      const acc_t w_y = w != nullptr ? static_cast<acc_t>(w[target]) : acc_t(1);
      const acc_t a_z =
          cross_entropy_grad_scale(cross_entropy_index_scale(w_y, p.eps, p.inv_classes, p.weights()), row_lse, p.z);
      const acc_t smooth = p.eps * p.inv_classes;
      for (int64_t c = threadIdx.x; c < p.classes; c += blockDim.x) {
        const acc_t prob = ScalarMath::exp((static_cast<acc_t>(xr[c]) - row_max) - log_sum);
        const acc_t b = smooth * (w != nullptr ? static_cast<acc_t>(w[c]) : acc_t(1)) +
                        (c == target ? (acc_t(1) - p.eps) * w_y : acc_t(0));
        gr[c] = static_cast<scalar_t>(cross_entropy_grad(g, a_z, prob, b));
      }
    } else {
      const scalar_t* tr = t + r * p.classes;
      const auto b_of = [&](int64_t c) {
        const acc_t smoothed = cross_entropy_smoothed_target(static_cast<acc_t>(tr[c]), p.eps, p.inv_classes);
        return w != nullptr ? static_cast<acc_t>(w[c]) * smoothed : smoothed;
      };
      acc_t a = 0;
      for (int64_t c = threadIdx.x; c < p.classes; c += blockDim.x) {
        a += b_of(c);
      }
      const acc_t a_z = cross_entropy_grad_scale(block_all_reduce(a, SumOp<acc_t>{}, scratch), row_lse, p.z);
      for (int64_t c = threadIdx.x; c < p.classes; c += blockDim.x) {
        const acc_t prob = ScalarMath::exp((static_cast<acc_t>(xr[c]) - row_max) - log_sum);
        gr[c] = static_cast<scalar_t>(cross_entropy_grad(g, a_z, prob, b_of(c)));
      }
    }
  }
}

template <typename scalar_t>
CrossEntropyParams<at::opmath_type<scalar_t>> params_of(const CrossEntropyRows& rows, const at::Tensor& weight_sum) {
  using acc_t = at::opmath_type<scalar_t>;
  const int64_t classes = rows.logits.size(1);
  return {rows.logits.size(0),
          classes,
          rows.ignore_index,
          static_cast<acc_t>(rows.label_smoothing),
          acc_t(1) / static_cast<acc_t>(classes),
          static_cast<acc_t>(rows.lse_square_scale),
          weight_sum.defined() ? weight_sum.const_data_ptr<acc_t>() : nullptr};
}

// W = sum_c w_c in the op-math type, on the device (no host synchronisation); undefined without weights.
at::Tensor weight_sum_of(const CrossEntropyRows& rows) {
  return rows.weight.defined() ? rows.weight.sum(at::toOpMathType(rows.weight.scalar_type())) : at::Tensor();
}

void forward(const CrossEntropyRows& rows, const at::Tensor& output, const at::Tensor& lse,
             const at::Tensor& total_weight) {
  const c10::cuda::CUDAGuard device_guard(rows.logits.device());
  const int64_t n_rows = rows.logits.size(0);
  const at::Tensor loss = at::empty({n_rows}, lse.options()), weight = at::empty({n_rows}, lse.options());
  const at::Tensor weight_sum = weight_sum_of(rows);
  if (n_rows > 0) {
    const int threads = threads_for(rows.logits.size(1));
    const int64_t blocks = blocks_for(n_rows, threads);
    const bool need_dot = !rows.class_indices || rows.label_smoothing > 0.0;
    const auto stream = c10::cuda::getCurrentCUDAStream();
    AT_DISPATCH_FLOATING_TYPES_AND2(at::kHalf, at::kBFloat16, rows.logits.scalar_type(), "cross_entropy_cuda", [&] {
      using acc_t = at::opmath_type<scalar_t>;
      const auto params = params_of<scalar_t>(rows, weight_sum);
      const scalar_t* w = rows.weight.defined() ? rows.weight.const_data_ptr<scalar_t>() : nullptr;
      if (rows.class_indices) {
        cross_entropy_forward_kernel<scalar_t, acc_t, true><<<blocks, threads, 0, stream>>>(
            rows.logits.const_data_ptr<scalar_t>(), rows.target.const_data_ptr<int64_t>(), nullptr, w, params,
            need_dot, lse.mutable_data_ptr<acc_t>(), loss.mutable_data_ptr<acc_t>(), weight.mutable_data_ptr<acc_t>());
      } else {
        cross_entropy_forward_kernel<scalar_t, acc_t, false><<<blocks, threads, 0, stream>>>(
            rows.logits.const_data_ptr<scalar_t>(), nullptr, rows.target.const_data_ptr<scalar_t>(), w, params,
            need_dot, lse.mutable_data_ptr<acc_t>(), loss.mutable_data_ptr<acc_t>(), weight.mutable_data_ptr<acc_t>());
      }
      C10_CUDA_KERNEL_LAUNCH_CHECK();
    });
  }
  if (rows.class_indices) {
    total_weight.copy_(weight.sum());
  } else {
    total_weight.fill_(static_cast<double>(n_rows));
  }
  if (rows.reduction == at::Reduction::None) {
    output.copy_(loss);
  } else {
    const at::Tensor total = loss.sum();
    // NB: the mean over no weight is 0 / 0, NaN, as ATen's.
    output.copy_(rows.reduction == at::Reduction::Mean ? total / total_weight : total);
  }
}

void backward(const CrossEntropyRows& rows, const at::Tensor& grad, const at::Tensor& grad_output,
              const at::Tensor& lse, const at::Tensor& total_weight) {
  const c10::cuda::CUDAGuard device_guard(rows.logits.device());
  const int64_t n_rows = rows.logits.size(0);
  if (n_rows == 0) {
    return;
  }
  const at::Tensor weight_sum = weight_sum_of(rows);
  const bool reduced = rows.reduction != at::Reduction::None;
  const int threads = threads_for(rows.logits.size(1));
  const int64_t blocks = blocks_for(n_rows, threads);
  const auto stream = c10::cuda::getCurrentCUDAStream();
  AT_DISPATCH_FLOATING_TYPES_AND2(at::kHalf, at::kBFloat16, rows.logits.scalar_type(), "cross_entropy_backward_cuda",
                                  [&] {
    using acc_t = at::opmath_type<scalar_t>;
    const auto params = params_of<scalar_t>(rows, weight_sum);
    const scalar_t* w = rows.weight.defined() ? rows.weight.const_data_ptr<scalar_t>() : nullptr;
    const scalar_t* g = grad_output.const_data_ptr<scalar_t>();
    const acc_t* tw = rows.reduction == at::Reduction::Mean ? total_weight.const_data_ptr<acc_t>() : nullptr;
    if (rows.class_indices) {
      cross_entropy_backward_kernel<scalar_t, acc_t, true><<<blocks, threads, 0, stream>>>(
          rows.logits.const_data_ptr<scalar_t>(), rows.target.const_data_ptr<int64_t>(), nullptr, w, params,
          reduced ? nullptr : g, reduced ? g : nullptr, tw, lse.const_data_ptr<acc_t>(),
          grad.mutable_data_ptr<scalar_t>());
    } else {
      cross_entropy_backward_kernel<scalar_t, acc_t, false><<<blocks, threads, 0, stream>>>(
          rows.logits.const_data_ptr<scalar_t>(), nullptr, rows.target.const_data_ptr<scalar_t>(), w, params,
          reduced ? nullptr : g, reduced ? g : nullptr, tw, lse.const_data_ptr<acc_t>(),
          grad.mutable_data_ptr<scalar_t>());
    }
    C10_CUDA_KERNEL_LAUNCH_CHECK();
  });
}

}  // namespace
}  // namespace torch_ext::ops

TORCH_LIBRARY_IMPL(torch_ext, CUDA, m) {
  torch_ext::ops::register_cross_entropy_kernels<&torch_ext::ops::forward, &torch_ext::ops::backward>(m);
}
