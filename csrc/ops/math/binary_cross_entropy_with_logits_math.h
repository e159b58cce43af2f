#pragma once
// binary_cross_entropy_with_logits's formulas, written once for the CPU (scalar and vector) and CUDA kernels.
// T is the op-math type: float for float/half/bfloat16, double for double.
// x: the logit, t: the target, w: the weight (1 without one), p: the positive-class weight (pos_weight), s: the
// reduction's scale (1 / numel for "mean", else 1), g: the incoming gradient. kPos: a pos_weight was given.
//
// ATen's expressions (aten/src/ATen/native/Loss.cpp), fused into one pass each:
//   loss        = w * ((1 - t) * x - lw * logsigmoid(x)),  lw = 1 + (p - 1) * t
//   d loss / dx = w * (lw * sigmoid(x) - p * t)            (sigmoid(x) - t without pos_weight)
//   d loss / dt = w * (logsigmoid(-x) - p * logsigmoid(x)) (-x without pos_weight)

#include "logsigmoid_math.h"

namespace torch_ext::math {

// sigmoid(x) from e = exp(-|x|): 1 / (1 + e) for x >= 0, e / (1 + e) for x < 0; exp never overflows.
template <typename M, typename T>
C10_HOST_DEVICE inline T sigmoid_from_exp(T x, T e) {
  const T one = M::template splat<T>(1);
  return M::select(M::lt(x, M::template splat<T>(0)), e, one) / (one + e);
}

template <bool kPos, typename M, typename T>
C10_HOST_DEVICE inline T bce_with_logits_forward(T x, T t, T w, T p) {
  const T one = M::template splat<T>(1);
  const T log_sig = logsigmoid_forward<M>(x);
  if constexpr (kPos) {
    const T lw = (p - one) * t + one;
    return ((one - t) * x - lw * log_sig) * w;
  } else {
    return ((one - t) * x - log_sig) * w;
  }
}

// The gradient with respect to x, times g * s.
template <bool kPos, typename M, typename T>
C10_HOST_DEVICE inline T bce_with_logits_backward(T g, T x, T t, T w, T p, T s) {
  const T one = M::template splat<T>(1);
  const T sig = sigmoid_from_exp<M>(x, M::exp(M::neg(M::abs(x))));
  if constexpr (kPos) {
    const T pt = p * t;
    return ((pt + one - t) * sig - pt) * (g * s) * w;
  } else {
    return (sig - t) * (g * s) * w;
  }
}

// The gradient with respect to t, times g * s.
template <bool kPos, typename M, typename T>
C10_HOST_DEVICE inline T bce_with_logits_target_backward(T g, T x, T w, T p, T s) {
  if constexpr (kPos) {
    // logsigmoid(-x) - p * logsigmoid(x), both without cancellation.
    return (logsigmoid_forward<M>(M::neg(x)) - p * logsigmoid_forward<M>(x)) * (g * s) * w;
  } else {
    return M::neg(x) * (g * s) * w;
  }
}

}  // namespace torch_ext::math
