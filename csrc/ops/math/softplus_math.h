#pragma once
// softplus's formulas, written once for the CPU (scalar and vector) and CUDA kernels.
// T is the op-math type: float for float/half/bfloat16, double for double.
// Branch conditions are ATen's: the linear branch is taken where beta * x > threshold (the
// product rounded to T, as ATen's kernels round it), in the forward and in the backward alike.

#include "scalar_math.h"

namespace torch_ext::math {

template <typename T>
struct SoftplusCoefs {
  T beta;
  T threshold;
};

template <typename T>
C10_HOST_DEVICE inline SoftplusCoefs<T> softplus_coefs(double beta, double threshold) {
  // NB: rounded to T, as ATen's kernels do (opmath for half and bfloat16), so that beta * x and
  // its comparison with threshold pick the same branch as ATen's at every input.
  return {static_cast<T>(beta), static_cast<T>(threshold)};
}

// y = beta * x > threshold ? x : log1p(exp(beta * x)) / beta
//
// NB: ATen evaluates log1p(exp(beta * x)) as written, which overflows to inf once beta * x
// passes log(max) (88.7 in float) when threshold is set above it. Here it is split as
//   log1p(exp(bx)) = max(bx, 0) + log1p(exp(-|bx|)),   bx = beta * x,
// so exp only sees arguments <= 0. For bx <= 0 this is ATen's expression bit for bit
// (-|bx| == bx); for bx > 0 it is x + log1p(exp(-bx)) / beta, which stays finite (and exact to
// an ulp or two of ATen's value where that is finite). Taking x, not bx / beta, for the linear
// part also keeps it finite when beta * x itself overflows.
template <typename M, typename T>
C10_HOST_DEVICE inline T softplus_forward(T x, T beta, T threshold) {
  const T bx = x * beta;
  const T tail = M::log1p(M::exp(M::neg(M::abs(bx)))) / beta;
  const T soft = M::select(M::gt(bx, M::template splat<T>(0)), x + tail, tail);
  return M::select(M::gt(bx, threshold), x, soft);
}

// gx = beta * x > threshold ? g : g * z / (z + 1),  z = exp(beta * x)   (g * sigmoid(beta * x))
//
// NB: with e = exp(-|bx|) in (0, 1], the sigmoid branch is (g * e) / (e + 1) for bx <= 0 (ATen's
// expression bit for bit) and g / (e + 1) for bx > 0, where ATen's z / (z + 1) becomes
// inf / inf = NaN once exp(bx) overflows.
template <typename M, typename T>
C10_HOST_DEVICE inline T softplus_backward(T g, T x, T beta, T threshold) {
  const T bx = x * beta;
  const T e = M::exp(M::neg(M::abs(bx)));
  const T soft = M::select(M::gt(bx, M::template splat<T>(0)), g, g * e) / (e + M::template splat<T>(1));
  return M::select(M::gt(bx, threshold), g, soft);
}

}  // namespace torch_ext::math
