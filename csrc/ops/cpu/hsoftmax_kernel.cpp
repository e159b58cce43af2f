// Hierarchical softmax on the CPU. The forward takes a row per task: one dot product per node on the target's path
// (the weight rows are read where the path goes, nothing of size N x D x L is gathered) and keeps the scores. The
// backward computes each node's d loss / d z once; the input's gradient is a row per task again; the weight's and
// bias's gradients are summed per node over the rows that reach it, in the order of the rows, after a sort of the
// (node, row) pairs: no atomics, the same bits for any number of threads, extra memory O(N L). Weight rows that no
// target's path reaches are zeroed. This file is compiled once per ISA (see cpu/isa_dispatch.h); the DEFAULT build
// also holds the op-facing kernels.

#include <ATen/Dispatch.h>
#include <ATen/OpMathType.h>
#include <ATen/Parallel.h>
#include <ATen/ops/matmul.h>
#include <torch/library.h>

#include <algorithm>
#include <cstdint>
#include <limits>
#include <vector>

#include "ops/cpu/isa_dispatch.h"
#include "ops/cpu/opmath_vector.h"
#include "ops/cpu/vec_math.h"
#include "ops/internal/hsoftmax.h"
#include "ops/math/hsoftmax_math.h"
#include "ops/math/logsigmoid_math.h"
#include "ops/math/scalar_math.h"

namespace torch_ext::ops::cpu {

struct HsoftmaxForwardLoop {
  using Fn = void (*)(const HsoftmaxOperands& ops, const at::Tensor& output, const at::Tensor& logits);
};
struct HsoftmaxBackwardLoop {
  using Fn = void (*)(const HsoftmaxOperands& ops, const at::Tensor& grad_output, const at::Tensor& logits,
                      const at::Tensor& grad_input, const at::Tensor& grad_weight, const at::Tensor& grad_bias);
};
struct HsoftmaxLogProbLoop {
  // scores: [N, C - 1], op-math, contiguous.
  using Fn = void (*)(const HsoftmaxOperands& ops, const at::Tensor& scores, const at::Tensor& out);
};

inline namespace CPU_CAPABILITY {
namespace {

using math::ScalarMath;

// Multiply-adds per parallel task (ATen's grain size counts elements; a row here costs about L x D of them).
constexpr int64_t kGrainWork = 32768;

int64_t rows_per_task(int64_t work_per_row) { return std::max<int64_t>(1, kGrainWork / std::max<int64_t>(1, work_per_row)); }

// a . b over n elements, in op-math lanes (two accumulators, then the lanes' sum).
template <typename scalar_t>
at::opmath_type<scalar_t> dot(const scalar_t* a, const scalar_t* b, int64_t n) {
  using A = at::opmath_type<scalar_t>;
  using V = at::vec::Vectorized<A>;
  constexpr int64_t kLanes = V::size();
  V acc0(A(0)), acc1(A(0));
  int64_t i = 0;
  for (; i + 2 * kLanes <= n; i += 2 * kLanes) {
    acc0 = at::vec::fmadd(load_opmath(a + i, kLanes), load_opmath(b + i, kLanes), acc0);
    acc1 = at::vec::fmadd(load_opmath(a + i + kLanes, kLanes), load_opmath(b + i + kLanes, kLanes), acc1);
  }
  for (; i < n; i += kLanes) {
    const int64_t count = std::min(kLanes, n - i);
    acc0 = at::vec::fmadd(load_opmath(a + i, count), load_opmath(b + i, count), acc0);
  }
  return at::vec::vec_reduce_all<A>([](V x, V y) { return x + y; }, acc0 + acc1);
}

// acc[0, n) += s * b[0, n) (acc in op-math).
template <typename scalar_t>
void axpy(at::opmath_type<scalar_t>* acc, at::opmath_type<scalar_t> s, const scalar_t* b, int64_t n) {
  using A = at::opmath_type<scalar_t>;
  const at::vec::Vectorized<A> sv(s);
  for_each_vector<A>(n, [&](int64_t i, int64_t count) {
    at::vec::fmadd(sv, load_opmath(b + i, count), at::vec::Vectorized<A>::loadu(acc + i, count)).store(acc + i, count);
  });
}

template <typename scalar_t>
void store_row(scalar_t* out, const at::opmath_type<scalar_t>* acc, int64_t n) {
  using A = at::opmath_type<scalar_t>;
  for_each_vector<A>(n, [&](int64_t i, int64_t count) {
    store_opmath(out + i, at::vec::Vectorized<A>::loadu(acc + i, count), count);
  });
}

// The tree's view for the kernels, with the checks of what a kernel reads.
struct Paths {
  const int32_t* nodes;
  const int8_t* codes;
  const int32_t* len;
  int64_t classes, depth;

  explicit Paths(const HsoftmaxOperands& ops)
      : nodes(ops.path_nodes.data_ptr<int32_t>()),
        codes(ops.path_codes.data_ptr<int8_t>()),
        len(ops.path_len.data_ptr<int32_t>()),
        classes(ops.path_len.size(0)),
        depth(ops.path_nodes.size(1)) {}

  int64_t length(int64_t c) const {
    const int64_t l = len[c];
    TORCH_CHECK(l >= 1 && l <= depth, "hsoftmax: expected path_len[", c, "] to be in [1, ", depth,
                "] (path_nodes' columns), got ", l);
    return l;
  }
  int64_t node(int64_t c, int64_t j) const {
    const int64_t n = nodes[c * depth + j];
    TORCH_CHECK(n >= 0 && n < classes - 1, "hsoftmax: expected path_nodes[", c, ", ", j,
                "] to be an inner node in [0, ", classes - 1, "), got ", n);
    return n;
  }
  bool code(int64_t c, int64_t j) const {
    const int8_t v = codes[c * depth + j];
    TORCH_CHECK(v == 0 || v == 1, "hsoftmax: expected path_codes[", c, ", ", j, "] to be 0 or 1, got ",
                static_cast<int>(v));
    return v == 1;
  }
};

// The row's class, or -1 for an ignored row.
int64_t row_class(const int64_t* target, int64_t r, int64_t classes, int64_t ignore_index) {
  const int64_t t = target[r];
  if (t == ignore_index) {
    return -1;
  }
  TORCH_CHECK(t >= 0 && t < classes, "hsoftmax_nll: expected target[", r, "] to be a class id in [0, ", classes,
              ") or ignore_index (", ignore_index, "), got ", t);
  return t;
}

template <typename scalar_t>
void forward_loop(const HsoftmaxOperands& ops, const at::Tensor& output, const at::Tensor& logits) {
  using A = at::opmath_type<scalar_t>;
  const Paths paths(ops);
  const int64_t dim = ops.input.size(1), depth = paths.depth;
  const scalar_t* x = ops.input.const_data_ptr<scalar_t>();
  const scalar_t* w = ops.weight.const_data_ptr<scalar_t>();
  const scalar_t* b = ops.bias.defined() ? ops.bias.const_data_ptr<scalar_t>() : nullptr;
  const int64_t* target = ops.target.const_data_ptr<int64_t>();
  scalar_t* out = output.data_ptr<scalar_t>();
  A* z = logits.data_ptr<A>();
  at::parallel_for(0, ops.input.size(0), rows_per_task(depth * dim), [&](int64_t begin, int64_t end) {
    for (int64_t r = begin; r < end; ++r) {
      const int64_t c = row_class(target, r, paths.classes, ops.ignore_index);
      const int64_t len = c < 0 ? 0 : paths.length(c);
      A loss = A(0);
      for (int64_t j = 0; j < len; ++j) {
        const int64_t node = paths.node(c, j);
        const A score = dot(x + r * dim, w + node * dim, dim) + (b != nullptr ? static_cast<A>(b[node]) : A(0));
        z[r * depth + j] = score;
        loss -= math::hsoftmax_node_log_prob<ScalarMath>(score, paths.code(c, j));
      }
      std::fill(z + r * depth + len, z + (r + 1) * depth, A(0));
      out[r] = static_cast<scalar_t>(loss);
    }
  });
}

template <typename scalar_t>
void backward_loop(const HsoftmaxOperands& ops, const at::Tensor& grad_output, const at::Tensor& logits,
                   const at::Tensor& grad_input, const at::Tensor& grad_weight, const at::Tensor& grad_bias) {
  using A = at::opmath_type<scalar_t>;
  const Paths paths(ops);
  const int64_t rows = ops.input.size(0), dim = ops.input.size(1), depth = paths.depth;
  const int64_t nodes = paths.classes - 1;
  const scalar_t* x = ops.input.const_data_ptr<scalar_t>();
  const scalar_t* w = ops.weight.const_data_ptr<scalar_t>();
  const int64_t* target = ops.target.const_data_ptr<int64_t>();
  const scalar_t* g = grad_output.const_data_ptr<scalar_t>();
  const A* z = logits.const_data_ptr<A>();
  scalar_t* gx = grad_input.data_ptr<scalar_t>();
  scalar_t* gw = grad_weight.data_ptr<scalar_t>();
  scalar_t* gb = grad_bias.data_ptr<scalar_t>();

  // d loss / d z of every (row, path position), and the input's gradient.
  std::vector<A> dz(static_cast<size_t>(rows * depth), A(0));
  std::vector<int32_t> lengths(static_cast<size_t>(rows), 0);
  at::parallel_for(0, rows, rows_per_task(depth * dim), [&](int64_t begin, int64_t end) {
    std::vector<A> acc(static_cast<size_t>(dim));
    for (int64_t r = begin; r < end; ++r) {
      const int64_t c = row_class(target, r, paths.classes, ops.ignore_index);
      const int64_t len = c < 0 ? 0 : paths.length(c);
      lengths[r] = static_cast<int32_t>(len);
      std::fill(acc.begin(), acc.end(), A(0));
      const A gr = static_cast<A>(g[r]);
      for (int64_t j = 0; j < len; ++j) {
        const A d = gr * math::hsoftmax_node_grad<ScalarMath>(z[r * depth + j], paths.code(c, j));
        dz[r * depth + j] = d;
        axpy(acc.data(), d, w + paths.node(c, j) * dim, dim);
      }
      store_row(gx + r * dim, acc.data(), dim);
    }
  });

  // The (node, row * L + j) pairs sorted by node, then by row: each node's terms in the order of the rows.
  std::vector<std::pair<int32_t, int64_t>> entries;
  entries.reserve(static_cast<size_t>(rows * std::min<int64_t>(depth, 64)));
  for (int64_t r = 0; r < rows; ++r) {
    if (lengths[r] == 0) {
      continue;
    }
    const int64_t c = target[r];
    for (int64_t j = 0; j < lengths[r]; ++j) {
      entries.emplace_back(paths.nodes[c * depth + j], r * depth + j);
    }
  }
  std::sort(entries.begin(), entries.end());
  std::vector<int64_t> group_starts;  // the first entry of each node's group, and entries.size() last
  for (size_t e = 0; e < entries.size(); ++e) {
    if (e == 0 || entries[e].first != entries[e - 1].first) {
      group_starts.push_back(static_cast<int64_t>(e));
    }
  }
  const int64_t groups = static_cast<int64_t>(group_starts.size());
  group_starts.push_back(static_cast<int64_t>(entries.size()));

  // The nodes' gradients, a group per task unit; the rows of nodes no path reaches, zeroed.
  const int64_t average_group = groups > 0 ? static_cast<int64_t>(entries.size()) / groups : 1;
  at::parallel_for(0, groups, rows_per_task(average_group * dim), [&](int64_t begin, int64_t end) {
    std::vector<A> acc(static_cast<size_t>(dim));
    for (int64_t q = begin; q < end; ++q) {
      std::fill(acc.begin(), acc.end(), A(0));
      A bias_sum = A(0);
      for (int64_t e = group_starts[q]; e < group_starts[q + 1]; ++e) {
        const A d = dz[entries[e].second];
        axpy(acc.data(), d, x + (entries[e].second / depth) * dim, dim);
        bias_sum += d;
      }
      const int64_t node = entries[group_starts[q]].first;
      store_row(gw + node * dim, acc.data(), dim);
      gb[node] = static_cast<scalar_t>(bias_sum);
    }
  });
  // The gaps between the reached nodes (groups + 1 of them, some empty).
  at::parallel_for(0, groups + 1, rows_per_task(std::max<int64_t>(1, nodes / (groups + 1)) * dim),
                   [&](int64_t begin, int64_t end) {
    for (int64_t q = begin; q < end; ++q) {
      const int64_t first = q == 0 ? 0 : entries[group_starts[q - 1]].first + 1;
      const int64_t last = q == groups ? nodes : entries[group_starts[q]].first;
      if (first < last) {
        std::fill(gw + first * dim, gw + last * dim, scalar_t(0));
        std::fill(gb + first, gb + last, scalar_t(0));
      }
    }
  });
}

// The tree as parent links, for the log-probabilities of every class: each inner node's parent and the code of the
// edge to it (-1 at the root), the reached inner nodes in order of depth (parents first), and each class's last
// (node, code). Checks each read entry and that the paths form a tree (an inner node has one parent).
struct ParentLinks {
  std::vector<int32_t> parent;
  std::vector<int8_t> parent_code;
  std::vector<int32_t> order;
  std::vector<int32_t> leaf_node;
  std::vector<int8_t> leaf_code;
};

ParentLinks parent_links(const Paths& paths) {
  const int64_t nodes = paths.classes - 1;
  constexpr int32_t kUnseen = -2;
  ParentLinks links{std::vector<int32_t>(nodes, kUnseen), std::vector<int8_t>(nodes, 0), {},
                    std::vector<int32_t>(paths.classes), std::vector<int8_t>(paths.classes)};
  std::vector<int32_t> depth_of(nodes, -1);
  int64_t max_depth = 0;
  for (int64_t c = 0; c < paths.classes; ++c) {
    const int64_t len = paths.length(c);
    int32_t parent = -1;
    int8_t parent_code = 0;
    for (int64_t j = 0; j < len; ++j) {
      const int32_t node = static_cast<int32_t>(paths.node(c, j));
      const int8_t code = paths.code(c, j) ? 1 : 0;
      if (links.parent[node] == kUnseen) {
        links.parent[node] = parent;
        links.parent_code[node] = parent_code;
        depth_of[node] = static_cast<int32_t>(j);
        max_depth = std::max<int64_t>(max_depth, j);
      } else {
        TORCH_CHECK(links.parent[node] == parent && links.parent_code[node] == parent_code,
                    "hsoftmax_log_prob: expected the paths (path_nodes, path_codes) to form a tree: inner node ",
                    node, " is reached by two different paths (class ", c, "'s and an earlier class's)");
      }
      parent = node;
      parent_code = code;
    }
    links.leaf_node[c] = parent;
    links.leaf_code[c] = parent_code;
  }
  // Counting sort of the reached nodes by depth.
  std::vector<int64_t> start(max_depth + 2, 0);
  for (int64_t n = 0; n < nodes; ++n) {
    if (depth_of[n] >= 0) {
      ++start[depth_of[n] + 1];
    }
  }
  for (int64_t d = 1; d <= max_depth + 1; ++d) {
    start[d] += start[d - 1];
  }
  links.order.resize(start[max_depth + 1]);
  for (int64_t n = 0; n < nodes; ++n) {
    if (depth_of[n] >= 0) {
      links.order[start[depth_of[n]]++] = static_cast<int32_t>(n);
    }
  }
  return links;
}

// Every class's log-probability from the nodes' scores ([N, C - 1], op-math, one GEMM): per row, each node's two
// terms log sigmoid(+-z) (vectorized), each reached node's path sum from its parent's (root to leaf, the order of a
// per-class sum), then each class's from its last node: O(C) per row.
template <typename scalar_t>
void log_prob_loop(const HsoftmaxOperands& ops, const at::Tensor& scores, const at::Tensor& out) {
  using A = at::opmath_type<scalar_t>;
  using V = at::vec::Vectorized<A>;
  const Paths paths(ops);
  const ParentLinks links = parent_links(paths);
  const int64_t nodes = paths.classes - 1, classes = paths.classes;
  const A* z = scores.const_data_ptr<A>();
  scalar_t* o = out.data_ptr<scalar_t>();
  at::parallel_for(0, ops.input.size(0), rows_per_task(8 * classes), [&](int64_t begin, int64_t end) {
    std::vector<A> pos(static_cast<size_t>(nodes)), neg(static_cast<size_t>(nodes)), acc(static_cast<size_t>(nodes));
    for (int64_t r = begin; r < end; ++r) {
      const A* zr = z + r * nodes;
      for_each_vector<A>(nodes, [&](int64_t i, int64_t count) {
        const V v = V::loadu(zr + i, count);
        math::logsigmoid_forward<VecMath>(v).store(pos.data() + i, count);
        math::logsigmoid_forward<VecMath>(VecMath::neg(v)).store(neg.data() + i, count);
      });
      for (const int32_t n : links.order) {
        const int32_t p = links.parent[n];
        acc[n] = p < 0 ? A(0) : acc[p] + (links.parent_code[n] ? neg[p] : pos[p]);
      }
      for (int64_t c = 0; c < classes; ++c) {
        const int32_t n = links.leaf_node[c];
        o[r * classes + c] = static_cast<scalar_t>(acc[n] + (links.leaf_code[c] ? neg[n] : pos[n]));
      }
    }
  });
}

void hsoftmax_forward_loop(const HsoftmaxOperands& ops, const at::Tensor& output, const at::Tensor& logits) {
  AT_DISPATCH_FLOATING_TYPES_AND2(at::kHalf, at::kBFloat16, ops.input.scalar_type(), "hsoftmax_nll_forward_cpu",
                                  [&] { forward_loop<scalar_t>(ops, output, logits); });
}

void hsoftmax_backward_loop(const HsoftmaxOperands& ops, const at::Tensor& grad_output, const at::Tensor& logits,
                            const at::Tensor& grad_input, const at::Tensor& grad_weight,
                            const at::Tensor& grad_bias) {
  AT_DISPATCH_FLOATING_TYPES_AND2(at::kHalf, at::kBFloat16, ops.input.scalar_type(), "hsoftmax_nll_backward_cpu", [&] {
    backward_loop<scalar_t>(ops, grad_output, logits, grad_input, grad_weight, grad_bias);
  });
}

void hsoftmax_log_prob_loop(const HsoftmaxOperands& ops, const at::Tensor& scores, const at::Tensor& out) {
  AT_DISPATCH_FLOATING_TYPES_AND2(at::kHalf, at::kBFloat16, ops.input.scalar_type(), "hsoftmax_log_prob_cpu",
                                  [&] { log_prob_loop<scalar_t>(ops, scores, out); });
}

}  // namespace
}  // namespace CPU_CAPABILITY
}  // namespace torch_ext::ops::cpu

TORCH_EXT_REGISTER_CPU_KERNEL(torch_ext::ops::cpu::HsoftmaxForwardLoop,
                              &torch_ext::ops::cpu::CPU_CAPABILITY::hsoftmax_forward_loop);
TORCH_EXT_REGISTER_CPU_KERNEL(torch_ext::ops::cpu::HsoftmaxBackwardLoop,
                              &torch_ext::ops::cpu::CPU_CAPABILITY::hsoftmax_backward_loop);
TORCH_EXT_REGISTER_CPU_KERNEL(torch_ext::ops::cpu::HsoftmaxLogProbLoop,
                              &torch_ext::ops::cpu::CPU_CAPABILITY::hsoftmax_log_prob_loop);

#if defined(CPU_CAPABILITY_DEFAULT)

namespace torch_ext::ops {
namespace {

void forward(const HsoftmaxOperands& ops, const at::Tensor& output, const at::Tensor& logits) {
  cpu::cpu_kernel<cpu::HsoftmaxForwardLoop>()(ops, output, logits);
}

void backward(const HsoftmaxOperands& ops, const at::Tensor& grad_output, const at::Tensor& logits,
              const at::Tensor& grad_input, const at::Tensor& grad_weight, const at::Tensor& grad_bias) {
  cpu::cpu_kernel<cpu::HsoftmaxBackwardLoop>()(ops, grad_output, logits, grad_input, grad_weight, grad_bias);
}

void log_prob(const HsoftmaxOperands& ops, const at::Tensor& out) {
  // Every node's score by one GEMM in op-math (ATen's matmul: a GEMM, not the op this library implements).
  const at::ScalarType opmath = at::toOpMathType(ops.input.scalar_type());
  at::Tensor scores = at::matmul(ops.input.to(opmath), ops.weight.to(opmath).t());
  if (ops.bias.defined()) {
    scores.add_(ops.bias.to(opmath));
  }
  cpu::cpu_kernel<cpu::HsoftmaxLogProbLoop>()(ops, scores.contiguous(), out);
}

}  // namespace
}  // namespace torch_ext::ops

TORCH_LIBRARY_IMPL(torch_ext, CPU, m) {
  torch_ext::ops::register_hsoftmax_kernels<&torch_ext::ops::forward, &torch_ext::ops::backward,
                                            &torch_ext::ops::log_prob>(m);
}

#endif  // CPU_CAPABILITY_DEFAULT
