#pragma once
// sigmoid, described for the generic elementwise op (common/elementwise_op.h).

#include <ATen/TensorOperators.h>

#include <tuple>

#include "ops/common/elementwise_op.h"
#include "ops/math/sigmoid_math.h"

namespace torch_ext::ops {

struct SigmoidOp {
  static constexpr const char* name = "sigmoid";
  static constexpr const char* schema = "sigmoid(Tensor self) -> Tensor";
  static constexpr const char* inplace_schema = "sigmoid_(Tensor(a!) self) -> ()";
  static constexpr const char* backward_schema = "sigmoid_backward(Tensor grad_output, Tensor output) -> Tensor";
  static constexpr const char* saved_arg = "output";
  using Params = std::tuple<>;
  static constexpr auto backward_from = elementwise::BackwardFrom::kResult;
  static constexpr auto backward_layout = elementwise::BackwardLayout::kSavedFirst;
  static constexpr auto autocast = elementwise::AutocastPolicy::kNone;
  static constexpr auto integer_inputs = elementwise::IntegerInputs::kToFloat;

  template <typename T>
  static elementwise::NoCoefs coefs() {
    return {};
  }

  template <typename M, typename T, typename C>
  C10_HOST_DEVICE static T forward(T x, const C&) {
    return math::sigmoid_forward<M>(x);
  }

  template <bool IsResult, typename M, typename T, typename C>
  C10_HOST_DEVICE static T backward(T g, T y, const C&) {
    return math::sigmoid_backward<M>(g, y);
  }

  // ATen's: d/dy [g * (1 - y) * y] = g * (1 - 2y).
  static at::Tensor backward_d_saved(const at::Tensor& gg, const at::Tensor& grad_output, const at::Tensor& y,
                                     bool /*is_result*/) {
    return gg * grad_output * (y * -2 + 1);
  }
};

}  // namespace torch_ext::ops
