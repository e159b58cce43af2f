#pragma once
// leaky_relu, described for the generic elementwise op (common/elementwise_op.h).

#include <ATen/ops/zeros_like.h>
#include <c10/util/Exception.h>

#include <tuple>

#include "ops/common/elementwise_op.h"
#include "ops/math/leaky_relu_math.h"

namespace torch_ext::ops {

template <typename T>
struct LeakyReluCoefs {
  T negative_slope;
};

struct LeakyReluOp {
  static constexpr const char* name = "leaky_relu";
  static constexpr const char* schema = "leaky_relu(Tensor self, float negative_slope=0.01) -> Tensor";
  static constexpr const char* inplace_schema = "leaky_relu_(Tensor(a!) self, float negative_slope=0.01) -> ()";
  static constexpr const char* backward_schema =
      "leaky_relu_backward(Tensor grad_output, Tensor self, float negative_slope, bool self_is_result) -> Tensor";
  static constexpr const char* saved_arg = "self";
  using Params = std::tuple<double>;  // negative_slope
  static constexpr auto backward_from = elementwise::BackwardFrom::kInputOrResult;
  static constexpr auto backward_layout = elementwise::BackwardLayout::kSavedFirst;
  static constexpr auto autocast = elementwise::AutocastPolicy::kNone;
  static constexpr auto integer_inputs = elementwise::IntegerInputs::kReject;

  // NB: rounded to T (opmath for half and bfloat16), as ATen's kernels do.
  template <typename T>
  static LeakyReluCoefs<T> coefs(double negative_slope) {
    return {static_cast<T>(negative_slope)};
  }

  template <typename M, typename T, typename C>
  C10_HOST_DEVICE static T forward(T x, const C& c) {
    return math::leaky_relu_forward<M>(x, T(c.negative_slope));
  }

  template <bool IsResult, typename M, typename T, typename C>
  C10_HOST_DEVICE static T backward(T g, T b, const C& c) {
    return math::leaky_relu_backward<M>(g, b, T(c.negative_slope));
  }

  // The result tells the input's side only for a slope >= 0 (ATen's check; a zero slope maps x <= 0 to 0, whose
  // gradient is 0 either way).
  static void check_backward(bool is_result, double negative_slope) {
    TORCH_CHECK(!is_result || negative_slope >= 0.0,
                "leaky_relu_backward: in-place leaky_relu backward calculation is triggered with a negative slope "
                "(negative_slope = ", negative_slope, ") which is not supported. This is caused by calling the "
                "in-place forward function with a negative slope, please call the out-of-place version instead.");
  }

  // Piecewise constant in the saved tensor: zero, as ATen's leaky_relu_backward's derivative.
  static at::Tensor backward_d_saved(const at::Tensor& /*gg*/, const at::Tensor& /*grad_output*/, const at::Tensor& b,
                                     bool /*is_result*/, double /*negative_slope*/) {
    return at::zeros_like(b);
  }
};

}  // namespace torch_ext::ops
