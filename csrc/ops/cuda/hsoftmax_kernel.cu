// Hierarchical softmax on CUDA. Forward: a block per row (grid-stride), a warp per node of the target's path (lanes
// over D, an xor butterfly), one thread summing the row's terms in path order. Backward: a block per row writes
// d loss / d z of its path and the input's gradient (threads over D); the weight's and bias's gradients are summed
// per node over the (node, row) pairs sorted by node (a stable sort keeps the rows' order), a block per node's run of
// pairs: no atomics, deterministic. Log-probabilities: the scores of every node by one GEMM (op-math dtype), then a
// thread per (row, class) sums its path's terms. Entries of the tree and targets out of range trip a device-side
// assert, as ATen's nll_loss does (checking them on the host would synchronise).

#include <ATen/Dispatch.h>
#include <ATen/OpMathType.h>
#include <ATen/TensorOperators.h>
#include <ATen/core/Tensor.h>
#include <ATen/cuda/CUDAContextLight.h>
#include <ATen/ops/arange.h>
#include <ATen/ops/empty.h>
#include <ATen/ops/full.h>
#include <ATen/ops/matmul.h>
#include <ATen/ops/sort.h>
#include <ATen/ops/where.h>
#include <ATen/ops/zeros.h>
#include <c10/cuda/CUDAException.h>
#include <c10/cuda/CUDAGuard.h>
#include <c10/cuda/CUDAStream.h>
#include <c10/macros/Macros.h>
#include <torch/library.h>

#include <algorithm>

#include "ops/common/integer_math.h"
#include "ops/cuda/block_reduce.cuh"
#include "ops/internal/hsoftmax.h"
#include "ops/math/hsoftmax_math.h"
#include "ops/math/scalar_math.h"

namespace torch_ext::ops {
namespace {

using math::ScalarMath;

constexpr int kThreads = 128;
constexpr int kWarps = kThreads / kWarp;

struct TreeView {
  const int32_t* nodes;
  const int8_t* codes;
  const int32_t* len;
  int64_t classes, depth;
};

TreeView tree_view(const HsoftmaxOperands& ops) {
  return {ops.path_nodes.const_data_ptr<int32_t>(), ops.path_codes.const_data_ptr<int8_t>(),
          ops.path_len.const_data_ptr<int32_t>(), ops.path_len.size(0), ops.path_nodes.size(1)};
}

// The row's path length (0 for an ignored row), its class in *cls.
__device__ __forceinline__ int64_t row_path(const TreeView& tree, const int64_t* target, int64_t row,
                                            int64_t ignore_index, int64_t* cls) {
  const int64_t t = target[row];
  *cls = t;
  if (t == ignore_index) {
    return 0;
  }
  CUDA_KERNEL_ASSERT(t >= 0 && t < tree.classes && "hsoftmax_nll: target is out of bounds");
  const int64_t len = tree.len[t];
  CUDA_KERNEL_ASSERT(len >= 1 && len <= tree.depth && "hsoftmax: path_len is out of bounds");
  return len;
}

__device__ __forceinline__ int64_t path_node(const TreeView& tree, int64_t cls, int64_t j) {
  const int64_t node = tree.nodes[cls * tree.depth + j];
  CUDA_KERNEL_ASSERT(node >= 0 && node < tree.classes - 1 && "hsoftmax: path_nodes entry is out of bounds");
  return node;
}

__device__ __forceinline__ bool path_code(const TreeView& tree, int64_t cls, int64_t j) {
  const int8_t code = tree.codes[cls * tree.depth + j];
  CUDA_KERNEL_ASSERT((code == 0 || code == 1) && "hsoftmax: path_codes entry is not 0 or 1");
  return code == 1;
}

template <typename scalar_t, typename acc_t>
__global__ void forward_kernel(const scalar_t* x, const scalar_t* w, const scalar_t* b, TreeView tree,
                               const int64_t* target, int64_t ignore_index, int64_t rows, int64_t dim,
                               scalar_t* out, acc_t* z) {
  const int warp = threadIdx.x / kWarp, lane = threadIdx.x % kWarp;
  for (int64_t row = blockIdx.x; row < rows; row += gridDim.x) {
    int64_t cls;
    const int64_t len = row_path(tree, target, row, ignore_index, &cls);
    acc_t* zr = z + row * tree.depth;
    for (int64_t j = warp; j < tree.depth; j += kWarps) {
      if (j < len) {
        const int64_t node = path_node(tree, cls, j);
        acc_t acc = 0;
        for (int64_t d = lane; d < dim; d += kWarp) {
          acc += static_cast<acc_t>(x[row * dim + d]) * static_cast<acc_t>(w[node * dim + d]);
        }
        acc = warp_all_reduce<kWarp>(acc, SumOp<acc_t>());
        if (lane == 0) {
          zr[j] = acc + (b != nullptr ? static_cast<acc_t>(b[node]) : acc_t(0));
        }
      } else if (lane == 0) {
        zr[j] = 0;
      }
    }
    __syncthreads();
    if (threadIdx.x == 0) {
      acc_t loss = 0;
      for (int64_t j = 0; j < len; ++j) {
        loss -= math::hsoftmax_node_log_prob<ScalarMath>(zr[j], path_code(tree, cls, j));
      }
      out[row] = static_cast<scalar_t>(loss);
    }
    __syncthreads();
  }
}

// dz [N, L] and the input's gradient.
template <typename scalar_t, typename acc_t>
__global__ void grad_input_kernel(const scalar_t* w, TreeView tree, const int64_t* target, int64_t ignore_index,
                                  int64_t rows, int64_t dim, const scalar_t* g, const acc_t* z, acc_t* dz,
                                  scalar_t* gx) {
  for (int64_t row = blockIdx.x; row < rows; row += gridDim.x) {
    int64_t cls;
    const int64_t len = row_path(tree, target, row, ignore_index, &cls);
    const acc_t gr = static_cast<acc_t>(g[row]);
    for (int64_t j = threadIdx.x; j < tree.depth; j += blockDim.x) {
      dz[row * tree.depth + j] =
          j < len ? gr * math::hsoftmax_node_grad<ScalarMath>(z[row * tree.depth + j], path_code(tree, cls, j))
                  : acc_t(0);
    }
    __syncthreads();
    for (int64_t d = threadIdx.x; d < dim; d += blockDim.x) {
      acc_t acc = 0;
      for (int64_t j = 0; j < len; ++j) {
        acc += dz[row * tree.depth + j] * static_cast<acc_t>(w[path_node(tree, cls, j) * dim + d]);
      }
      gx[row * dim + d] = static_cast<scalar_t>(acc);
    }
    __syncthreads();
  }
}

// A block per run of equal nodes in sorted_nodes (a block starting elsewhere has nothing to do); entries whose node
// is the sentinel (nodes) are off every path.
template <typename scalar_t, typename acc_t>
__global__ void grad_weight_kernel(const scalar_t* x, const int64_t* sorted_nodes, const int64_t* order,
                                   int64_t entries, int64_t nodes, int64_t depth, int64_t dim, const acc_t* dz,
                                   scalar_t* gw, scalar_t* gb) {
  for (int64_t start = blockIdx.x; start < entries; start += gridDim.x) {
    const int64_t node = sorted_nodes[start];
    if (node >= nodes || (start > 0 && sorted_nodes[start - 1] == node)) {
      continue;
    }
    int64_t end = start;
    while (end < entries && sorted_nodes[end] == node) {
      ++end;
    }
    for (int64_t d = threadIdx.x; d < dim; d += blockDim.x) {
      acc_t acc = 0;
      for (int64_t e = start; e < end; ++e) {
        acc += dz[order[e]] * static_cast<acc_t>(x[(order[e] / depth) * dim + d]);
      }
      gw[node * dim + d] = static_cast<scalar_t>(acc);
    }
    if (threadIdx.x == 0) {
      acc_t sum = 0;
      for (int64_t e = start; e < end; ++e) {
        sum += dz[order[e]];
      }
      gb[node] = static_cast<scalar_t>(sum);
    }
  }
}

template <typename scalar_t, typename acc_t>
__global__ void log_prob_kernel(const acc_t* scores, TreeView tree, int64_t rows, scalar_t* out) {
  const int64_t total = rows * tree.classes;
  for (int64_t i = blockIdx.x * static_cast<int64_t>(blockDim.x) + threadIdx.x; i < total;
       i += static_cast<int64_t>(gridDim.x) * blockDim.x) {
    const int64_t row = i / tree.classes, cls = i % tree.classes;
    const int64_t len = tree.len[cls];
    CUDA_KERNEL_ASSERT(len >= 1 && len <= tree.depth && "hsoftmax: path_len is out of bounds");
    acc_t sum = 0;
    for (int64_t j = 0; j < len; ++j) {
      sum += math::hsoftmax_node_log_prob<ScalarMath>(scores[row * (tree.classes - 1) + path_node(tree, cls, j)],
                                                      path_code(tree, cls, j));
    }
    out[i] = static_cast<scalar_t>(sum);
  }
}

int64_t grid_for(int64_t work, int threads) {
  const int64_t resident = static_cast<int64_t>(at::cuda::getCurrentDeviceProperties()->multiProcessorCount) *
                           (2048 / threads);
  return std::max<int64_t>(1, std::min(work, resident));
}

void forward(const HsoftmaxOperands& ops, const at::Tensor& output, const at::Tensor& logits) {
  const c10::cuda::CUDAGuard guard(ops.input.device());
  const int64_t rows = ops.input.size(0), dim = ops.input.size(1);
  AT_DISPATCH_FLOATING_TYPES_AND2(at::kHalf, at::kBFloat16, ops.input.scalar_type(), "hsoftmax_nll_forward_cuda", [&] {
    using acc_t = at::opmath_type<scalar_t>;
    forward_kernel<scalar_t, acc_t><<<grid_for(rows, kThreads), kThreads, 0, c10::cuda::getCurrentCUDAStream()>>>(
        ops.input.const_data_ptr<scalar_t>(), ops.weight.const_data_ptr<scalar_t>(),
        ops.bias.defined() ? ops.bias.const_data_ptr<scalar_t>() : nullptr, tree_view(ops),
        ops.target.const_data_ptr<int64_t>(), ops.ignore_index, rows, dim, output.data_ptr<scalar_t>(),
        logits.data_ptr<acc_t>());
    C10_CUDA_KERNEL_LAUNCH_CHECK();
  });
}

void backward(const HsoftmaxOperands& ops, const at::Tensor& grad_output, const at::Tensor& logits,
              const at::Tensor& grad_input, const at::Tensor& grad_weight, const at::Tensor& grad_bias) {
  const c10::cuda::CUDAGuard guard(ops.input.device());
  const int64_t rows = ops.input.size(0), dim = ops.input.size(1), depth = ops.path_nodes.size(1);
  const int64_t nodes = ops.weight.size(0);
  grad_weight.zero_();
  grad_bias.zero_();
  if (rows == 0) {
    grad_input.zero_();
    return;
  }
  // Each (row, position)'s node, the sentinel `nodes` off the path; sorted (stable: rows stay in order).
  const at::Tensor kept = ops.target != ops.ignore_index;
  const at::Tensor safe = at::where(kept, ops.target, at::zeros({}, ops.target.options()));
  const at::Tensor on_path =
      (at::arange(depth, ops.target.options()).unsqueeze(0) < ops.path_len.index_select(0, safe).unsqueeze(1))
          .logical_and(kept.unsqueeze(1));
  const at::Tensor keys = at::where(on_path, ops.path_nodes.index_select(0, safe).to(at::kLong),
                                    at::full({}, nodes, ops.target.options()))
                              .flatten();
  const auto [sorted_nodes, order] = at::sort(keys, /*stable=*/true, /*dim=*/0, /*descending=*/false);
  const at::Tensor dz = at::empty({rows, depth}, logits.options());
  const auto stream = c10::cuda::getCurrentCUDAStream();
  AT_DISPATCH_FLOATING_TYPES_AND2(at::kHalf, at::kBFloat16, ops.input.scalar_type(), "hsoftmax_nll_backward_cuda", [&] {
    using acc_t = at::opmath_type<scalar_t>;
    grad_input_kernel<scalar_t, acc_t><<<grid_for(rows, kThreads), kThreads, 0, stream>>>(
        ops.weight.const_data_ptr<scalar_t>(), tree_view(ops), ops.target.const_data_ptr<int64_t>(),
        ops.ignore_index, rows, dim, grad_output.const_data_ptr<scalar_t>(), logits.const_data_ptr<acc_t>(),
        dz.data_ptr<acc_t>(), grad_input.data_ptr<scalar_t>());
    C10_CUDA_KERNEL_LAUNCH_CHECK();
    const int64_t entries = keys.numel();
    grad_weight_kernel<scalar_t, acc_t><<<grid_for(entries, kThreads), kThreads, 0, stream>>>(
        ops.input.const_data_ptr<scalar_t>(), sorted_nodes.const_data_ptr<int64_t>(),
        order.const_data_ptr<int64_t>(), entries, nodes, depth, dim, dz.const_data_ptr<acc_t>(),
        grad_weight.data_ptr<scalar_t>(), grad_bias.data_ptr<scalar_t>());
    C10_CUDA_KERNEL_LAUNCH_CHECK();
  });
}

void log_prob(const HsoftmaxOperands& ops, const at::Tensor& out) {
  const c10::cuda::CUDAGuard guard(ops.input.device());
  const at::ScalarType opmath = at::toOpMathType(ops.input.scalar_type());
  at::Tensor scores = at::matmul(ops.input.to(opmath), ops.weight.to(opmath).t());
  if (ops.bias.defined()) {
    scores = scores + ops.bias.to(opmath);
  }
  scores = scores.contiguous();
  const int64_t rows = ops.input.size(0), total = out.numel();
  AT_DISPATCH_FLOATING_TYPES_AND2(at::kHalf, at::kBFloat16, ops.input.scalar_type(), "hsoftmax_log_prob_cuda", [&] {
    using acc_t = at::opmath_type<scalar_t>;
    log_prob_kernel<scalar_t, acc_t>
        <<<grid_for(ceil_div(total, 256), 256), 256, 0, c10::cuda::getCurrentCUDAStream()>>>(
            scores.const_data_ptr<acc_t>(), tree_view(ops), rows, out.data_ptr<scalar_t>());
    C10_CUDA_KERNEL_LAUNCH_CHECK();
  });
}

}  // namespace
}  // namespace torch_ext::ops

TORCH_LIBRARY_IMPL(torch_ext, CUDA, m) {
  torch_ext::ops::register_hsoftmax_kernels<&torch_ext::ops::forward, &torch_ext::ops::backward,
                                            &torch_ext::ops::log_prob>(m);
}
