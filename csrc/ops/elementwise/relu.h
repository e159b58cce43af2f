#pragma once
// relu, described for the generic elementwise op (common/elementwise_op.h). Its backward reads the result, as
// ATen's (threshold_backward(grad, result, 0)), so relu_ needs no other backward.

#include <ATen/ops/zeros_like.h>

#include <tuple>

#include "ops/common/elementwise_op.h"
#include "ops/math/relu_math.h"

namespace torch_ext::ops {

struct ReluOp {
  static constexpr const char* name = "relu";
  static constexpr const char* schema = "relu(Tensor self) -> Tensor";
  static constexpr const char* inplace_schema = "relu_(Tensor(a!) self) -> ()";
  static constexpr const char* backward_schema = "relu_backward(Tensor grad_output, Tensor output) -> Tensor";
  static constexpr const char* saved_arg = "output";
  using Params = std::tuple<>;
  static constexpr auto backward_from = elementwise::BackwardFrom::kResult;
  static constexpr auto backward_layout = elementwise::BackwardLayout::kSavedFirst;
  static constexpr auto autocast = elementwise::AutocastPolicy::kNone;
  static constexpr auto integer_inputs = elementwise::IntegerInputs::kKeep;

  template <typename T>
  static elementwise::NoCoefs coefs() {
    return {};
  }

  template <typename M, typename T, typename C>
  C10_HOST_DEVICE static T forward(T x, const C&) {
    return math::relu_forward<M>(x);
  }

  template <bool IsResult, typename M, typename T, typename C>
  C10_HOST_DEVICE static T backward(T g, T y, const C&) {
    return math::relu_backward<M>(g, y);
  }

  // Piecewise constant in y: zero, as ATen's threshold_backward's derivative.
  static at::Tensor backward_d_saved(const at::Tensor& /*gg*/, const at::Tensor& /*grad_output*/, const at::Tensor& y,
                                     bool /*is_result*/) {
    return at::zeros_like(y);
  }
};

}  // namespace torch_ext::ops
