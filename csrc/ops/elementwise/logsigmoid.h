#pragma once
// logsigmoid, described for the generic elementwise op (common/elementwise_op.h).

#include <ATen/OpMathType.h>
#include <ATen/TensorOperators.h>
#include <ATen/ops/abs.h>
#include <ATen/ops/exp.h>

#include <tuple>

#include "ops/common/elementwise_op.h"
#include "ops/math/logsigmoid_math.h"

namespace torch_ext::ops {

struct LogSigmoidOp {
  static constexpr const char* name = "logsigmoid";
  static constexpr const char* schema = "logsigmoid(Tensor self) -> Tensor";
  static constexpr const char* inplace_schema = nullptr;
  static constexpr const char* backward_schema = "logsigmoid_backward(Tensor grad_output, Tensor self) -> Tensor";
  static constexpr const char* saved_arg = "self";
  using Params = std::tuple<>;
  static constexpr auto backward_from = elementwise::BackwardFrom::kInput;
  static constexpr auto backward_layout = elementwise::BackwardLayout::kSavedFirst;
  static constexpr auto autocast = elementwise::AutocastPolicy::kNone;
  static constexpr auto integer_inputs = elementwise::IntegerInputs::kReject;

  template <typename T>
  static elementwise::NoCoefs coefs() {
    return {};
  }

  template <typename M, typename T, typename C>
  C10_HOST_DEVICE static T forward(T x, const C&) {
    return math::logsigmoid_forward<M>(x);
  }

  template <bool IsResult, typename M, typename T, typename C>
  C10_HOST_DEVICE static T backward(T g, T x, const C&) {
    return math::logsigmoid_backward<M>(g, x);
  }

  // d/dx [g * sigmoid(-x)] = -g * sigmoid(x) * sigmoid(-x) (ATen's log_sigmoid_double_backward: g * (s - 1) * s).
  // NB: s * (1 - s) is written e / (1 + e)^2 with e = exp(-|x|) <= 1, which never overflows and has no 1 - s to
  // cancel. Computed in the op-math type (float for half and bfloat16) and rounded once.
  static at::Tensor backward_d_saved(const at::Tensor& gg, const at::Tensor& grad_output, const at::Tensor& self,
                                     bool /*is_result*/) {
    const at::ScalarType opmath = at::toOpMathType(self.scalar_type());
    const at::Tensor e = at::exp(-at::abs(self.to(opmath)));
    const at::Tensor one_plus_e = e + 1;
    return (gg.to(opmath) * grad_output.to(opmath) * (-e / (one_plus_e * one_plus_e))).to(self.scalar_type());
  }
};

}  // namespace torch_ext::ops
