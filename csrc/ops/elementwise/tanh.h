#pragma once
// tanh, described for the generic elementwise op (common/elementwise_op.h).

#include <ATen/TensorOperators.h>

#include <tuple>

#include "ops/common/elementwise_op.h"
#include "ops/math/tanh_math.h"

namespace torch_ext::ops {

struct TanhOp {
  static constexpr const char* name = "tanh";
  static constexpr const char* schema = "tanh(Tensor self) -> Tensor";
  static constexpr const char* inplace_schema = "tanh_(Tensor(a!) self) -> ()";
  static constexpr const char* backward_schema = "tanh_backward(Tensor grad_output, Tensor output) -> Tensor";
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
    return math::tanh_forward<M>(x);
  }

  template <bool IsResult, typename M, typename T, typename C>
  C10_HOST_DEVICE static T backward(T g, T y, const C&) {
    return math::tanh_backward<M>(g, y);
  }

  // ATen's: d/dy [g * (1 - y * y)] = -2 * y * g.
  static at::Tensor backward_d_saved(const at::Tensor& gg, const at::Tensor& grad_output, const at::Tensor& y,
                                     bool /*is_result*/) {
    return y * -2 * gg * grad_output;
  }
};

}  // namespace torch_ext::ops
