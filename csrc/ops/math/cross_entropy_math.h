#pragma once
// cross_entropy's formulas, written once for the CPU and CUDA kernels (T: the op-math type).
//
// A row r of C logits x is reduced to m = max x, s = sum exp(x - m), log_sum = log s, lse = m + log_sum. With
// weights w (1 without) and the smoothing eps, every target kind is one form:
//   loss_r = A log_sum - sum_c B_c (x_c - m) + z lse^2
//   d loss_r / d x_c = (A + 2 z lse) p_c - B_c,      p_c = exp(x_c - lse)
// class index y:         A = (1 - eps) w_y + (eps / C) W,  B_c = (1 - eps) w_y [c = y] + (eps / C) w_c,  W = sum w
// class probabilities t: B_c = w_c ((1 - eps) t_c + eps / C),  A = sum_c B_c
// (ATen's -sum_c B_c log_softmax(x)_c, as -B_c (x_c - m - log_sum)). Written with x_c - m <= 0 and log_sum >= 0,
// both sums are of terms of one sign for non-negative weights and targets: no cancellation. z is the z-loss scale
// (lse_square_scale); an ignored row has loss 0 and gradient 0.

#include <c10/macros/Macros.h>

namespace torch_ext::math {

// The smoothed probability target: (1 - eps) t + eps / C.
template <typename T>
C10_HOST_DEVICE inline T cross_entropy_smoothed_target(T t, T eps, T inv_classes) {
  return (T(1) - eps) * t + eps * inv_classes;
}

// A for a class-index target: w_y's share and the smoothing's.
template <typename T>
C10_HOST_DEVICE inline T cross_entropy_index_scale(T w_y, T eps, T inv_classes, T weight_sum) {
  return (T(1) - eps) * w_y + eps * inv_classes * weight_sum;
}

// loss_r from the row's reduction: a = A, shifted_dot = sum_c B_c (x_c - m).
template <typename T>
C10_HOST_DEVICE inline T cross_entropy_row_loss(T a, T shifted_dot, T log_sum, T lse, T z) {
  return a * log_sum - shifted_dot + z * lse * lse;
}

// The coefficient of p_c in the gradient: A + 2 z lse.
template <typename T>
C10_HOST_DEVICE inline T cross_entropy_grad_scale(T a, T lse, T z) {
  return a + T(2) * z * lse;
}

// d loss / d x_c times g (the incoming gradient with the reduction's scale): g ((A + 2 z lse) p_c - B_c).
template <typename T>
C10_HOST_DEVICE inline T cross_entropy_grad(T g, T a_z, T p, T b) {
  return g * (a_z * p - b);
}

}  // namespace torch_ext::math
