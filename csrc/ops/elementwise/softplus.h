#pragma once
// softplus, described for the generic elementwise op (common/elementwise_op.h).
// NB: no check on beta or threshold, as in ATen: beta == 0 gives log(2) / 0 = inf (NaN at x = +-inf), and a
// threshold above exp's overflow point is allowed (and finite here).

#include <ATen/OpMathType.h>
#include <ATen/TensorOperators.h>
#include <ATen/ops/abs.h>
#include <ATen/ops/exp.h>

#include <tuple>

#include "ops/common/elementwise_op.h"
#include "ops/math/softplus_math.h"

namespace torch_ext::ops {

struct SoftplusOp {
  static constexpr const char* name = "softplus";
  static constexpr const char* schema = "softplus(Tensor self, float beta=1.0, float threshold=20.0) -> Tensor";
  static constexpr const char* inplace_schema = nullptr;
  static constexpr const char* backward_schema =
      "softplus_backward(Tensor grad_output, Tensor self, float beta, float threshold) -> Tensor";
  static constexpr const char* saved_arg = "self";
  using Params = std::tuple<double, double>;  // beta, threshold
  static constexpr auto backward_from = elementwise::BackwardFrom::kInput;
  static constexpr auto backward_layout = elementwise::BackwardLayout::kSavedFirst;
  static constexpr auto autocast = elementwise::AutocastPolicy::kCudaFloat32;
  static constexpr auto integer_inputs = elementwise::IntegerInputs::kReject;

  template <typename T>
  static math::SoftplusCoefs<T> coefs(double beta, double threshold) {
    return math::softplus_coefs<T>(beta, threshold);
  }

  template <typename M, typename T, typename C>
  C10_HOST_DEVICE static T forward(T x, const C& c) {
    return math::softplus_forward<M>(x, T(c.beta), T(c.threshold));
  }

  template <bool IsResult, typename M, typename T, typename C>
  C10_HOST_DEVICE static T backward(T g, T x, const C& c) {
    return math::softplus_backward<M>(g, x, T(c.beta), T(c.threshold));
  }

  // The linear branch: y = x, gx = g.
  template <typename T, typename C>
  static auto linear(T x, const C& c) {
    return x * T(c.beta) > T(c.threshold);
  }
  template <typename T, typename C>
  static T linear_forward(T x, const C&) {
    return x;
  }
  template <typename T, typename C>
  static T linear_backward(T g, const C&) {
    return g;
  }

  // ATen's softplus_double_backward: gg * g * beta * s * (1 - s) * [beta * x < threshold], s = sigmoid(beta * x).
  // Its mask is `<` where the first order's is `>`: at beta * x == threshold the first derivative takes the sigmoid
  // branch and the second is 0.
  // NB: s * (1 - s) is written e / (1 + e)^2 with e = exp(-|beta * x|) <= 1, which never overflows and has no
  // 1 - s to cancel (ATen's 1 - s loses its digits as s nears 1). The mask multiplies, as in ATen, so a NaN input
  // gives NaN. Computed in the op-math type (float for half and bfloat16) and rounded once, so beta * x is the
  // first order's product.
  static at::Tensor backward_d_saved(const at::Tensor& gg, const at::Tensor& grad_output, const at::Tensor& self,
                                     bool /*is_result*/, double beta, double threshold) {
    const at::ScalarType opmath = at::toOpMathType(self.scalar_type());
    const at::Tensor bx = self.to(opmath) * beta;
    const at::Tensor e = at::exp(-at::abs(bx));
    const at::Tensor one_plus_e = e + 1;
    return (gg.to(opmath) * grad_output.to(opmath) * (e / (one_plus_e * one_plus_e)) * (bx < threshold).to(opmath) *
            beta)
        .to(self.scalar_type());
  }
};

}  // namespace torch_ext::ops
