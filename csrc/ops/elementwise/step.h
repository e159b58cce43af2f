#pragma once
// sign and heaviside, the perceptron's step units with a surrogate gradient (math/step_math.h), described for the
// generic elementwise op (common/elementwise_op.h): one row template, two parameter choices.

#include <ATen/TensorOperators.h>
#include <ATen/ops/clamp.h>
#include <ATen/ops/full_like.h>
#include <ATen/ops/isnan.h>
#include <ATen/ops/exp.h>
#include <ATen/ops/where.h>
#include <ATen/ops/zeros_like.h>
#include <c10/util/Exception.h>
#include <c10/util/string_view.h>

#include <cmath>
#include <tuple>

#include "ops/common/elementwise_op.h"
#include "ops/math/step_math.h"

namespace torch_ext::ops {

// The surrogate named by the ops' grad argument.
inline math::StepGrad parse_step_grad(const char* op, c10::string_view grad) {
  if (grad == "identity") return math::StepGrad::kIdentity;
  if (grad == "clipped") return math::StepGrad::kClipped;
  if (grad == "approx_sign") return math::StepGrad::kApproxSign;
  if (grad == "swish_sign") return math::StepGrad::kSwishSign;
  TORCH_CHECK(false, op, ": expected grad to be one of \"identity\", \"clipped\", \"approx_sign\" or \"swish_sign\", "
              "got \"", std::string(grad), "\"");
}

// Past this |beta x| SwishSign's derivative and its own are 0 in every dtype; capping |beta x| there keeps an
// infinite x from giving 0 * inf.
inline constexpr double kSwishSignArgumentCap = 1e4;

template <typename T>
struct StepCoefs {
  math::StepGrad grad;
  T beta;
  T low;
  T high;
  T scale;  // (high - low) / 2
};

struct SignStep {
  static constexpr const char* name = "sign";
  static constexpr const char* schema = "sign(Tensor self, str grad=\"identity\", float beta=5.0) -> Tensor";
  static constexpr const char* backward_schema =
      "sign_backward(Tensor grad_output, Tensor self, str grad, float beta) -> Tensor";
  static constexpr double low = -1.0, high = 1.0;
};

struct HeavisideStep {
  static constexpr const char* name = "heaviside";
  static constexpr const char* schema = "heaviside(Tensor self, str grad=\"identity\", float beta=5.0) -> Tensor";
  static constexpr const char* backward_schema =
      "heaviside_backward(Tensor grad_output, Tensor self, str grad, float beta) -> Tensor";
  static constexpr double low = 0.0, high = 1.0;
};

template <typename Step>
struct StepOp {
  static constexpr const char* name = Step::name;
  static constexpr const char* schema = Step::schema;
  static constexpr const char* inplace_schema = nullptr;
  static constexpr const char* backward_schema = Step::backward_schema;
  static constexpr const char* saved_arg = "self";
  using Params = std::tuple<c10::string_view, double>;  // grad, beta
  static constexpr auto backward_from = elementwise::BackwardFrom::kInput;
  static constexpr auto backward_layout = elementwise::BackwardLayout::kSavedFirst;
  static constexpr auto autocast = elementwise::AutocastPolicy::kNone;
  static constexpr auto integer_inputs = elementwise::IntegerInputs::kReject;
  static constexpr double scale = (Step::high - Step::low) / 2;

  static void check_params(const char* op, c10::string_view grad, double beta) {
    parse_step_grad(op, grad);
    TORCH_CHECK(std::isfinite(beta) && beta > 0.0, op, ": expected beta to be a finite positive number, got ", beta);
  }

  template <typename T>
  static StepCoefs<T> coefs(c10::string_view grad, double beta) {
    return {parse_step_grad(name, grad), static_cast<T>(beta), static_cast<T>(Step::low), static_cast<T>(Step::high),
            static_cast<T>(scale)};
  }

  template <typename M, typename T, typename C>
  C10_HOST_DEVICE static T forward(T x, const C& c) {
    return math::step_forward<M>(x, T(c.low), T(c.high));
  }

  template <bool IsResult, typename M, typename T, typename C>
  C10_HOST_DEVICE static T backward(T g, T x, const C& c) {
    return math::step_backward<M>(g, x, c.grad, T(c.beta), T(c.scale), T(kSwishSignArgumentCap));
  }

  // scale * d'(x): 0 for the piecewise-constant surrogates, -2 sign(x) inside [-1, 1] for ApproxSign, and for
  // SwishSign beta^2 h'(u) at u = beta x, h'(u) = s/2 (u t^2 - 3t) - u s^2 / 4 with t = tanh(u/2) and s = 1 - t^2.
  // s and t come from e = exp(-|u|) (s = 4e / (1 + e)^2, |t| = (1 - e) / (1 + e)): 1 - t^2 would cancel to 0 long
  // before s does, and h' itself cancels near its zeros: it is computed in double, then rounded. NaN at a NaN x
  // where d reads x.
  static at::Tensor backward_d_saved(const at::Tensor& gg, const at::Tensor& grad_output, const at::Tensor& x,
                                     bool /*is_result*/, c10::string_view grad, double beta) {
    const at::Tensor zero = at::zeros_like(x);
    switch (parse_step_grad(Step::name, grad)) {
      case math::StepGrad::kIdentity:
      case math::StepGrad::kClipped:
        return zero;
      case math::StepGrad::kApproxSign: {
        const at::Tensor slope = at::where(x > 0, at::full_like(x, -2.0 * scale),
                                           at::where(x < 0, at::full_like(x, 2.0 * scale), zero));
        return at::where(at::isnan(x), x, at::where(x.abs() > 1, zero, gg * grad_output * slope));
      }
      case math::StepGrad::kSwishSign:
      default: {
        const at::Tensor u = at::clamp(x.to(at::kDouble) * beta, -kSwishSignArgumentCap, kSwishSignArgumentCap);
        const at::Tensor e = at::exp(-u.abs());
        const at::Tensor p = e + 1;
        const at::Tensor s = e * 4 / (p * p);
        const at::Tensor t = at::where(u < 0, e - 1, 1 - e) / p;
        const at::Tensor h = s * 0.5 * (u * t * t - t * 3) - u * s * s * 0.25;
        const at::Tensor d = h * (beta * beta * scale);
        return gg * grad_output * d.to(x.scalar_type());
      }
    }
  }
};

using SignOp = StepOp<SignStep>;
using HeavisideOp = StepOp<HeavisideStep>;

}  // namespace torch_ext::ops
