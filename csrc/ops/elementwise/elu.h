#pragma once
// ELU, described for the generic elementwise op (common/elementwise_op.h). CELU and SELU are its parameter
// choices (CompositeImplicitAutograd ops in ops/elu.cpp).

#include <ATen/TensorOperators.h>
#include <ATen/ops/isnan.h>
#include <ATen/ops/where.h>
#include <ATen/ops/zeros_like.h>
#include <c10/util/Exception.h>

#include <tuple>

#include "ops/common/elementwise_op.h"
#include "ops/math/elu_math.h"

namespace torch_ext::ops {

struct EluOp {
  static constexpr const char* name = "elu";
  static constexpr const char* schema =
      "elu(Tensor self, float alpha=1.0, float scale=1.0, float input_scale=1.0) -> Tensor";
  // NB: the in-place ops return nothing: torch.compile functionalizes a mutating custom op only when it does not
  // return an alias of its input.
  static constexpr const char* inplace_schema =
      "elu_(Tensor(a!) self, float alpha=1.0, float scale=1.0, float input_scale=1.0) -> ()";
  static constexpr const char* backward_schema =
      "elu_backward(Tensor grad_output, float alpha, float scale, float input_scale, bool is_result, "
      "Tensor self_or_result) -> Tensor";
  static constexpr const char* saved_arg = "self_or_result";
  using Params = std::tuple<double, double, double>;  // alpha, scale, input_scale
  static constexpr auto backward_from = elementwise::BackwardFrom::kInputOrResult;
  static constexpr auto backward_layout = elementwise::BackwardLayout::kSavedLast;
  static constexpr auto autocast = elementwise::AutocastPolicy::kNone;
  static constexpr auto integer_inputs = elementwise::IntegerInputs::kReject;

  template <typename T>
  static math::EluCoefs<T> coefs(double alpha, double scale, double input_scale) {
    return math::elu_coefs<T>(alpha, scale, input_scale);
  }

  template <typename M, typename T, typename C>
  C10_HOST_DEVICE static T forward(T x, const C& c) {
    return math::elu_forward<M>(x, T(c.negcoef), T(c.poscoef), T(c.negiptcoef));
  }

  template <bool IsResult, typename M, typename T, typename C>
  C10_HOST_DEVICE static T backward(T g, T b, const C& c) {
    return math::elu_backward<M>(g, b, T(c.negcoef), T(c.poscoef), T(c.negiptcoef), IsResult);
  }

  // The positive branch: y = x * scale, gx = g * scale.
  template <typename T, typename C>
  static auto linear(T x, const C&) {
    return x > T(0);
  }
  template <typename T, typename C>
  static T linear_forward(T x, const C& c) {
    return x * T(c.poscoef);
  }
  template <typename T, typename C>
  static T linear_backward(T g, const C& c) {
    return g * T(c.poscoef);
  }

  static void check_backward(bool is_result, double alpha, double /*scale*/, double /*input_scale*/) {
    TORCH_CHECK(!is_result || alpha >= 0.0,
                "elu_backward: in-place elu backward calculation is triggered with a negative slope (alpha = ", alpha,
                ") which is not supported. This is caused by calling the in-place forward function with a negative "
                "slope, please call the out-of-place version instead.");
  }

  // ATen's elu_double_backward. Its mask is b < 0 where the first order uses b <= 0, written as not b >= 0 so that
  // a NaN b gives NaN.
  static at::Tensor backward_d_saved(const at::Tensor& gg, const at::Tensor& grad_output, const at::Tensor& b,
                                     bool is_result, double alpha, double scale, double input_scale) {
    const at::Tensor nonnegative = b >= 0;
    if (is_result) {
      // NaN where b is NaN, as the first order.
      return at::where(at::isnan(b), b, at::where(nonnegative, at::zeros_like(b), gg * grad_output * input_scale));
    }
    return at::where(nonnegative, at::zeros_like(b),
                     elementwise::ElementwiseApi<EluOp>::backward(gg * grad_output * input_scale, b,
                                                                  /*is_result=*/false, alpha, scale, input_scale));
  }
};

}  // namespace torch_ext::ops
