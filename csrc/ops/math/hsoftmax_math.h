#pragma once
// Hierarchical softmax's per-node formulas, written once for the CPU and CUDA kernels. T is the op-math type.
// A node on a class's path with score z and code c contributes log sigmoid(s z), s = 1 - 2c, to the class's
// log-probability.

#include "logsigmoid_math.h"
#include "scalar_math.h"

namespace torch_ext::math {

// log sigmoid(s z): the node's term of the log-probability (<= 0).
template <typename M, typename T>
C10_HOST_DEVICE inline T hsoftmax_node_log_prob(T z, bool code) {
  return logsigmoid_forward<M>(code ? M::neg(z) : z);
}

// d(-log sigmoid(s z)) / dz = -s sigmoid(-s z): sigmoid(z) for code 1, -sigmoid(-z) for code 0 (word2vec's
// f - (1 - code), each side from its own sigmoid so that neither rounds 1 - sigmoid).
template <typename M, typename T>
C10_HOST_DEVICE inline T hsoftmax_node_grad(T z, bool code) {
  const T one = M::template splat<T>(1);
  const T sz = code ? z : M::neg(z);  // the sigmoid's argument: z for code 1, -z for code 0
  const T e = M::exp(M::neg(M::abs(sz)));
  const T sigmoid = M::select(M::lt(sz, M::template splat<T>(0)), e, one) / (one + e);
  return code ? sigmoid : M::neg(sigmoid);
}

}  // namespace torch_ext::math
