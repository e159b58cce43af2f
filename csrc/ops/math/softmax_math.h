#pragma once
// softmax's and log_softmax's formulas, written once for the CPU (scalar and vector) and CUDA kernels.
// T is the accumulation type: float for float/half/bfloat16, double for double. M is the math
// policy (ScalarMath, or cpu/vec_math.h's VecMath lane by lane).
//
// A row is reduced to (m, s): m its max, s = sum exp(x - m). Kernels may reduce in one pass with the
// online update below (Milakov and Gimelshein, "Online normalizer calculation for softmax", 2018) and
// merge partial states (lanes, threads, blocks) with softmax_merge; a two-pass kernel takes the max
// first and then accumulates softmax_shifted_exp(x, m).
//
// Special values, as ATen's: the max propagates NaN, so a NaN anywhere makes the whole row NaN; +inf
// makes m = +inf and exp(inf - inf) = NaN in s, so the row is NaN; an all -inf row has m = -inf and
// its outputs exp(-inf - -inf) are NaN; -inf beside a finite m gives exp(-inf) = 0 exactly.

#include <limits>

#include "scalar_math.h"

namespace torch_ext::math {

template <typename T>
struct SoftmaxState {
  T max;  // the running max (NaN-propagating)
  T sum;  // sum of exp(x - max) over the elements seen
};

template <typename T>
C10_HOST_DEVICE inline SoftmaxState<T> softmax_init() {
  return {-std::numeric_limits<T>::infinity(), T(0)};
}

// exp(x - m) for the sum. NB: while the running max is still -inf (every element so far -inf) an
// element contributes 0 instead of exp(-inf - -inf) = NaN, so a later finite element starts a clean
// sum; if the row's max stays -inf the outputs are NaN anyway (from exp(x - m) in the output pass).
template <typename M, typename T>
C10_HOST_DEVICE inline T softmax_shifted_exp(T x, T m) {
  const T neg_inf = M::template splat<T>(-std::numeric_limits<double>::infinity());
  return M::select(M::eq(m, neg_inf), M::template splat<T>(0), M::exp(x - m));
}

// Online update with one element: m' = max(m, x), s' = s * exp(m - m') + exp(x - m').
template <typename M, typename T>
C10_HOST_DEVICE inline void softmax_update(T& max, T& sum, T x) {
  const T m = M::maximum(max, x);
  sum = sum * softmax_shifted_exp<M>(max, m) + softmax_shifted_exp<M>(x, m);
  max = m;
}

// Merge two partial states (the same rule as softmax_update, with a's and b's sums).
template <typename M, typename T>
C10_HOST_DEVICE inline void softmax_merge(T& max, T& sum, T other_max, T other_sum) {
  const T m = M::maximum(max, other_max);
  sum = sum * softmax_shifted_exp<M>(max, m) + other_sum * softmax_shifted_exp<M>(other_max, m);
  max = m;
}

// Outputs from the row's final (m, s). inv_sum = 1 / s, log_sum = log(s) are taken once per row.
template <typename M, typename T>
C10_HOST_DEVICE inline T softmax_output(T x, T max, T inv_sum) {
  return M::exp(x - max) * inv_sum;
}

template <typename M, typename T>
C10_HOST_DEVICE inline T log_softmax_output(T x, T max, T log_sum) {
  return (x - max) - log_sum;
}

// Backward, from the row's reduction: dot = sum(g * y) for softmax, gsum = sum(g) for log_softmax.
template <typename M, typename T>
C10_HOST_DEVICE inline T softmax_backward_output(T g, T y, T dot) {
  return y * (g - dot);
}

template <typename M, typename T>
C10_HOST_DEVICE inline T log_softmax_backward_output(T g, T y, T gsum) {
  return g - M::exp(y) * gsum;
}

}  // namespace torch_ext::math
