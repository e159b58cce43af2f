#pragma once
// The elementwise ops that test_elementwise.cpp checks, one row per op in elementwise_ops() below.
// Adding an op (sigmoid, tanh, relu, leaky_relu, ...) to every generic check is one row there: its torch_ext
// functions, ATen's, a closed form, a parameter grid, tolerances and edge values. Its own test file then keeps
// only what is particular to it.

#include <ATen/ATen.h>
#include <gtest/gtest.h>
#include <torch/torch.h>
#include <torch_ext/torch_ext.h>

#include <algorithm>
#include <cfloat>
#include <cmath>
#include <limits>
#include <ostream>
#include <stdexcept>
#include <string>
#include <vector>

#include "tensor_assertions.h"

namespace torch_ext_test {

// One point of an op's parameter grid: its scalar arguments in schema order (as many as the op takes).
struct OpParams {
  const char* name;
  std::vector<double> args;
};

struct Tolerance {
  double rtol, atol;
};

// How torch_ext's forward at the edge values compares with ATen's.
enum class EdgeMatch {
  kClose,                  // AllClose with the op's tolerance
  kIdentical,              // bit for bit, signed zeros included
  kIdenticalUpToZeroSign,  // bit for bit, but a zero may carry the other sign
};

using Forward = at::Tensor (*)(const at::Tensor& self, const OpParams& p);
using Inplace = at::Tensor& (*)(at::Tensor& self, const OpParams& p);
// (grad_output, the saved tensor: self or the result, params).
using Backward = at::Tensor (*)(const at::Tensor& grad_output, const at::Tensor& saved, const OpParams& p);

struct ElementwiseOp {
  const char* name;       // the schema name: the ops are torch_ext::<name>, <name>_ and <name>_backward
  const char* saved_arg;  // the backward schema's name for its saved tensor, as its error messages say
  std::vector<OpParams> grid;
  Tolerance (*tolerance)(at::ScalarType dtype);
  // The input of most checks; odd sizes leave a scalar tail after the vector loop, values span every branch.
  at::Tensor (*random_input)(const OpParams& p, at::ScalarType dtype, const at::Device& device);
  // The large input is randn(100003) * this (above at::parallel_for's grain size), its first 1000 values
  // scaled by 1e-6 (tiny values, where a formula may cancel).
  double large_input_scale;
  // Repeated past the vector width and a tail, so that both the vector loop and the remainder see each.
  std::vector<double> edges;

  Forward forward, aten_forward;
  Inplace inplace, aten_inplace;                             // nullptr: the op has no in-place form
  Backward backward_from_input, aten_backward_from_input;    // nullptr: the backward does not read the input
  Backward backward_from_result, aten_backward_from_result;  // nullptr: the backward does not read the result
  bool (*result_backward_defined)(const OpParams& p);        // nullptr: for every p (e.g. ELU: not for alpha < 0)

  // In double, given the dtype so that a branch can be decided as the kernel decides it (in its op-math type).
  double (*closed_form)(double x, const OpParams& p, at::ScalarType dtype);
  double (*closed_form_backward)(double g, double x, const OpParams& p, at::ScalarType dtype);  // nullptr: none
  // d/dx <v, backward(g, x)>; nullptr: none.
  double (*closed_form_double_backward)(double g, double v, double x, const OpParams& p, at::ScalarType dtype);

  EdgeMatch (*forward_edges_vs_aten)(const OpParams& p, const at::Device& device);
  // False where ATen's backward at a NaN input depends on the code path (vector loop or tail, CPU or CUDA):
  // ATen is then matched away from NaN inputs only (torch_ext must give NaN there on every path).
  bool aten_backward_propagates_nan;
  // Op-specific assertions on the edge values (nullptr: none): the forward, and the backward with g == 0.75.
  void (*check_forward_edges)(const OpParams& p, at::ScalarType dtype, const at::Tensor& x, const at::Tensor& y);
  void (*check_backward_edges)(const OpParams& p, at::ScalarType dtype, const at::Tensor& x, double g,
                               const at::Tensor& gx);
  // Absolute tolerances beyond tolerance(dtype).atol (nullptr: none). For the result-based backward against
  // ATen's (g_max, v_max: the largest |grad_output| and |v|, the second-order direction), and for the
  // double backward's d/dx against ATen's.
  double (*result_backward_atol)(const OpParams& p, at::ScalarType dtype, double g_max, double v_max);
  double (*double_backward_input_atol)(const OpParams& p, at::ScalarType dtype);
  // The integer, bool or complex dtypes the forward and the in-place form take, as ATen's do (nullptr: none;
  // sigmoid takes integers and bool, relu and relu_ integers).
  bool (*forward_accepts)(at::ScalarType dtype) = nullptr;
  bool (*inplace_accepts)(at::ScalarType dtype) = nullptr;
  // Whether a NaN input gets a NaN gradient (the first ops' rule); false: ATen's value, which its kernels agree on
  // (leaky_relu's g * negative_slope), checked by BackwardMatchesATen.
  bool nan_gradient_at_nan_input = true;
  // Whether ATen's CPU forward allocates a contiguous output whatever the input's layout (log_sigmoid_forward);
  // torch_ext's keeps a dense input's layout, as ATen's CUDA kernel does.
  bool aten_forward_contiguous_on_cpu = false;
};


// f(x, i) over x's elements, in double.
template <typename F>
at::Tensor map_double(const at::Tensor& x, F f) {
  at::Tensor xd = x.detach().to(at::kCPU).to(at::kDouble).contiguous();
  at::Tensor out = at::empty_like(xd);
  const double* px = xd.data_ptr<double>();
  double* po = out.data_ptr<double>();
  for (int64_t i = 0; i < xd.numel(); ++i) po[i] = f(px[i], i);
  return out;
}

inline at::Tensor repeated_edges(const std::vector<double>& edges, at::ScalarType dtype, const at::Device& device) {
  std::vector<double> v;
  for (int rep = 0; rep < 9; ++rep) v.insert(v.end(), edges.begin(), edges.end());
  return torch::tensor(v, torch::dtype(at::kDouble)).to(device, dtype);
}

// Relative tolerances per dtype: a few ulps of the dtype (float/double: 1e-6/1e-12; half/bfloat16: one ulp,
// both torch_ext and ATen compute in float and round once).
inline double rtol_for(at::ScalarType t) {
  switch (t) {
    case at::kDouble:
      return 1e-12;
    case at::kFloat:
      return 1e-6;
    case at::kHalf:
      return 1e-3;
    case at::kBFloat16:
      return 8e-3;
    default:
      return 0.0;
  }
}

constexpr double kInf = std::numeric_limits<double>::infinity();
constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();

// ---------------------------------------------------------------------------------------------
// ELU: args = (alpha, scale, input_scale).

namespace elu_case {

inline double alpha(const OpParams& p) { return p.args[0]; }
inline double scale(const OpParams& p) { return p.args[1]; }
inline double input_scale(const OpParams& p) { return p.args[2]; }

// Absolute floor, for values that underflow in the dtype (none in the float/double grids).
inline Tolerance tolerance(at::ScalarType t) {
  return {rtol_for(t), (t == at::kHalf || t == at::kBFloat16) ? 1e-5 : 0.0};
}

// x > 0 ? scale * x : scale * alpha * expm1(input_scale * x).
inline double closed_form(double x, const OpParams& p, at::ScalarType) {
  return x > 0 ? scale(p) * x : scale(p) * alpha(p) * std::expm1(input_scale(p) * x);
}

// The result-based backward reads y: gx = g * (y + alpha * scale) * input_scale for x <= 0. Ours and ATen's y
// may differ by an ulp or two of expm1 (the CPU kernels' own expm1 is within 1.61 ulp), which the cancellation
// in y + alpha * scale turns into an absolute error of a few ulps of alpha * scale, times |g| (and |v| in the
// second order).
inline double result_backward_atol(const OpParams& p, at::ScalarType dtype, double g_max, double v_max) {
  const double eps = dtype == at::kDouble ? DBL_EPSILON : FLT_EPSILON;
  return 4 * eps * std::abs(alpha(p) * scale(p)) * std::max(1.0, input_scale(p)) * g_max * std::max(1.0, v_max);
}

// elu(+0) = scale*alpha*expm1(+0) = +0; elu(-0) = scale*alpha*(-0): -0 for alpha > 0. (The values themselves,
// NaN and the infinities are checked against the closed form.)
inline void check_forward_edges(const OpParams& p, at::ScalarType dtype, const at::Tensor& x, const at::Tensor& y) {
  const auto xv = to_vector(x);
  const auto yv = to_vector(y);
  for (size_t i = 0; i < xv.size(); ++i) {
    if (xv[i] != 0.0) continue;
    const double expected = closed_form(xv[i], p, dtype);
    EXPECT_EQ(yv[i], 0.0) << "x = " << xv[i] << " at " << i;
    EXPECT_EQ(std::signbit(yv[i]), std::signbit(expected))
        << "elu(" << (std::signbit(xv[i]) ? "-0" : "+0") << ") at " << i << " = " << yv[i] << ", expected " << expected;
  }
}

// The kink: x == +-0 takes the negative-side slope alpha * scale * input_scale (ATen's b <= 0).
inline void check_backward_edges(const OpParams& p, at::ScalarType dtype, const at::Tensor& x, double g,
                                 const at::Tensor& gx) {
  const auto xv = to_vector(x);
  const auto gv = to_vector(gx);
  const double slope = g * alpha(p) * scale(p) * input_scale(p);
  for (size_t i = 0; i < xv.size(); ++i) {
    if (xv[i] == 0.0) {
      EXPECT_NEAR(gv[i], slope, 4 * rtol_for(dtype) * std::abs(slope)) << "d elu/dx at " << xv[i] << ", index " << i;
    }
  }
}

inline ElementwiseOp row() {
  return {
      .name = "elu",
      .saved_arg = "self_or_result",
      .grid =
          {
              {"Default", {1.0, 1.0, 1.0}},
              {"Alpha0_5", {0.5, 1.0, 1.0}},
              {"Alpha2Scale1_5Input0_7", {2.0, 1.5, 0.7}},
              {"Selu", {torch_ext::kSeluAlpha, torch_ext::kSeluScale, 1.0}},
              {"Celu3", {3.0, 1.0, 1.0 / 3.0}},
              // Out-of-place ELU accepts a negative alpha; the result-based (in-place) backward refuses it.
              {"NegAlpha", {-0.5, 1.0, 1.0}},
          },
      .tolerance = tolerance,
      .random_input =
          [](const OpParams&, at::ScalarType dtype, const at::Device& device) {
            return (torch::randn({37, 129}, at::kDouble) * 4.0).to(device, dtype);
          },
      .large_input_scale = 3.0,
      .edges = {0.0, -0.0, kNaN, kInf, -kInf, 1e-3, -1e-3, 1.0, -1.0, 30.0, -30.0},
      .forward = [](const at::Tensor& x,
                    const OpParams& p) { return torch_ext::elu(x, alpha(p), scale(p), input_scale(p)); },
      .aten_forward = [](const at::Tensor& x,
                         const OpParams& p) { return at::elu(x, alpha(p), scale(p), input_scale(p)); },
      .inplace = [](at::Tensor& x, const OpParams& p) -> at::Tensor& {
        return torch_ext::elu_(x, alpha(p), scale(p), input_scale(p));
      },
      .aten_inplace = [](at::Tensor& x, const OpParams& p) -> at::Tensor& {
        return at::elu_(x, alpha(p), scale(p), input_scale(p));
      },
      .backward_from_input =
          [](const at::Tensor& g, const at::Tensor& x, const OpParams& p) {
            return torch_ext::detail::elu_backward(g, alpha(p), scale(p), input_scale(p), /*is_result=*/false, x);
          },
      .aten_backward_from_input =
          [](const at::Tensor& g, const at::Tensor& x, const OpParams& p) {
            return at::elu_backward(g, alpha(p), scale(p), input_scale(p), /*is_result=*/false, x);
          },
      .backward_from_result =
          [](const at::Tensor& g, const at::Tensor& y, const OpParams& p) {
            return torch_ext::detail::elu_backward(g, alpha(p), scale(p), input_scale(p), /*is_result=*/true, y);
          },
      .aten_backward_from_result =
          [](const at::Tensor& g, const at::Tensor& y, const OpParams& p) {
            return at::elu_backward(g, alpha(p), scale(p), input_scale(p), /*is_result=*/true, y);
          },
      // The result cannot be inverted for a negative slope (ATen refuses too; test_elu.cpp checks the refusal).
      .result_backward_defined = [](const OpParams& p) { return alpha(p) >= 0; },
      .closed_form = closed_form,
      .closed_form_backward = nullptr,
      .closed_form_double_backward = nullptr,
      // NB: for alpha < 0 the sign of a zero result differs between ATen's CPU kernel (x >= 0 takes x * scale:
      // +-0 -> +-0) and its CUDA kernel and the closed form (x > 0: +-0 -> -+0); the closed form decides
      // (check_forward_edges), so ATen's CPU kernel is matched there up to the sign of zero.
      .forward_edges_vs_aten =
          [](const OpParams& p, const at::Device& device) {
            return alpha(p) >= 0 || device.is_cuda() ? EdgeMatch::kIdentical : EdgeMatch::kIdenticalUpToZeroSign;
          },
      // NB: at a NaN input ATen's vectorized CPU loop gives NaN (its blend) while its scalar tail and its CUDA
      // kernel give g * scale (b <= 0 is false); torch_ext gives NaN on every path.
      .aten_backward_propagates_nan = false,
      .check_forward_edges = check_forward_edges,
      .check_backward_edges = check_backward_edges,
      .result_backward_atol = result_backward_atol,
      .double_backward_input_atol = nullptr,
  };
}

}  // namespace elu_case

// ---------------------------------------------------------------------------------------------
// softplus: args = (beta, threshold).

namespace softplus_case {

inline double beta(const OpParams& p) { return p.args[0]; }
inline double threshold(const OpParams& p) { return p.args[1]; }

// Absolute floor: exp lands in the subnormal range in the flat tail, where a few subnormal steps are the whole
// value.
inline Tolerance tolerance(at::ScalarType t) {
  switch (t) {
    case at::kDouble:
      return {rtol_for(t), 1e-300};
    case at::kFloat:
      return {rtol_for(t), 1e-38};
    default:
      return {rtol_for(t), 1e-5};
  }
}

// beta * x as the kernels compute it: in the op-math type (float for float, half and bfloat16).
inline double op_product(double x, double beta, at::ScalarType dtype) {
  if (dtype == at::kDouble) return x * beta;
  return static_cast<double>(static_cast<float>(x) * static_cast<float>(beta));
}

inline double op_value(double v, at::ScalarType dtype) {
  return dtype == at::kDouble ? v : static_cast<double>(static_cast<float>(v));
}

inline bool linear_branch(double x, const OpParams& p, at::ScalarType dtype) {
  return op_product(x, beta(p), dtype) > op_value(threshold(p), dtype);
}

// From the op-math product bx: x on the linear branch, else log1p(exp(bx)) / beta, written
// x + log1p(exp(-bx)) / beta where bx > 0 (the same value, finite).
inline double closed_form(double x, const OpParams& p, at::ScalarType dtype) {
  if (linear_branch(x, p, dtype)) return x;
  const double b = op_value(beta(p), dtype);
  const double bx = op_product(x, beta(p), dtype);
  return bx > 0 ? x + std::log1p(std::exp(-bx)) / b : std::log1p(std::exp(bx)) / b;
}

// d softplus / dx = sigmoid(beta * x) off the linear branch.
inline double sigmoid_closed_form(double bx) {
  const double e = std::exp(-std::abs(bx));
  return bx > 0 ? 1.0 / (1.0 + e) : e / (1.0 + e);
}

// sigmoid'(bx) = s * (1 - s) = e / (1 + e)^2, e = exp(-|bx|): no 1 - s to cancel.
inline double sigmoid_derivative_closed_form(double bx) {
  const double e = std::exp(-std::abs(bx));
  return e / ((1.0 + e) * (1.0 + e));
}

inline double closed_form_backward(double g, double x, const OpParams& p, at::ScalarType dtype) {
  return linear_branch(x, p, dtype) ? g : g * sigmoid_closed_form(op_product(x, beta(p), dtype));
}

// d/dx = v * g * beta * s * (1 - s) where beta * x < threshold.
inline double closed_form_double_backward(double g, double v, double x, const OpParams& p, at::ScalarType dtype) {
  const double bx = op_product(x, beta(p), dtype);
  return bx < op_value(threshold(p), dtype) ? v * g * op_value(beta(p), dtype) * sigmoid_derivative_closed_form(bx)
                                            : 0.0;
}

// The infinities and the linear branch exactly: x itself where beta * x = +inf or is past the threshold, a zero
// with beta's sign (log1p(0) / beta) where beta * x = -inf.
inline void check_forward_edges(const OpParams& p, at::ScalarType dtype, const at::Tensor& x, const at::Tensor& y) {
  const auto xv = to_vector(x);
  const auto yv = to_vector(y);
  for (size_t i = 0; i < xv.size(); ++i) {
    const double xi = xv[i];
    if (std::isnan(xi)) continue;
    if (std::isinf(xi) && (xi > 0) == (beta(p) > 0)) {
      EXPECT_EQ(yv[i], xi) << "softplus(" << xi << ") at " << i;
    } else if (std::isinf(xi)) {
      EXPECT_EQ(yv[i], 0.0) << "softplus(" << xi << ") at " << i;
      EXPECT_EQ(std::signbit(yv[i]), beta(p) < 0) << "softplus(" << xi << ") at " << i;
    } else if (linear_branch(xi, p, dtype)) {
      EXPECT_EQ(yv[i], xi) << "linear branch at " << i;
    }
  }
}

inline ElementwiseOp row() {
  return {
      .name = "softplus",
      .saved_arg = "self",
      .grid =
          {
              {"Default", {1.0, 20.0}},
              {"Beta0_5", {0.5, 20.0}},
              {"Beta2Threshold1", {2.0, 1.0}},
              {"Beta10Threshold0", {10.0, 0.0}},
              {"Beta0_5ThresholdNeg1", {0.5, -1.0}},
              {"Beta1ThresholdNeg1", {1.0, -1.0}},
              // ATen accepts a negative beta: the output is then <= 0 and the linear branch is x < threshold / beta.
              {"NegBeta", {-1.5, 20.0}},
          },
      .tolerance = tolerance,
      // Spread around the branch point threshold / beta, so both branches are populated.
      .random_input =
          [](const OpParams& p, at::ScalarType dtype, const at::Device& device) {
            return (torch::randn({37, 129}, at::kDouble) * 4.0 + threshold(p) / beta(p)).to(device, dtype);
          },
      .large_input_scale = 8.0,
      .edges = {0.0, -0.0, kNaN, kInf, -kInf, 1e-3, -1e-3, 1.0, -1.0, 30.0, -30.0, 200.0, -200.0},
      .forward = [](const at::Tensor& x, const OpParams& p) { return torch_ext::softplus(x, beta(p), threshold(p)); },
      .aten_forward = [](const at::Tensor& x, const OpParams& p) { return at::softplus(x, beta(p), threshold(p)); },
      .inplace = nullptr,
      .aten_inplace = nullptr,
      .backward_from_input =
          [](const at::Tensor& g, const at::Tensor& x, const OpParams& p) {
            return torch_ext::detail::softplus_backward(g, x, beta(p), threshold(p));
          },
      .aten_backward_from_input = [](const at::Tensor& g, const at::Tensor& x,
                                     const OpParams& p) { return at::softplus_backward(g, x, beta(p), threshold(p)); },
      .backward_from_result = nullptr,
      .aten_backward_from_result = nullptr,
      .result_backward_defined = nullptr,
      .closed_form = closed_form,
      .closed_form_backward = closed_form_backward,
      .closed_form_double_backward = closed_form_double_backward,
      .forward_edges_vs_aten = [](const OpParams&, const at::Device&) { return EdgeMatch::kClose; },
      .aten_backward_propagates_nan = true,
      .check_forward_edges = check_forward_edges,
      .check_backward_edges = nullptr,
      .result_backward_atol = nullptr,
      // ATen computes 1 - s, which cancels in float as s nears 1.
      .double_backward_input_atol =
          [](const OpParams& p, at::ScalarType dtype) {
            return (dtype == at::kDouble ? 1e-14 : 1e-5) * std::abs(beta(p)) * 40.0;
          },
  };
}

}  // namespace softplus_case

// ---------------------------------------------------------------------------------------------
// sigmoid and tanh: no args; the backward reads the result.

namespace saturating_case {

// The result-based backward g * (1 - y) * y (sigmoid) or g * (1 - y * y) (tanh) cancels where y nears +-1: an
// ulp of y between ours and ATen's (or the closed form) is an absolute error of a few eps times |g|. Half: ATen's
// CPU sigmoid_backward computes in half (three roundings), ours in float (one).
inline Tolerance tolerance(at::ScalarType t) {
  switch (t) {
    case at::kDouble:
      return {rtol_for(t), 16 * DBL_EPSILON};
    case at::kFloat:
      return {rtol_for(t), 16 * FLT_EPSILON};
    case at::kHalf:
      return {2 * rtol_for(t), 1e-3};
    default:
      return {rtol_for(t), 1e-5};
  }
}

inline bool takes_integers_and_bool(at::ScalarType t) {
  return t == at::kLong || t == at::kInt || t == at::kShort || t == at::kByte || t == at::kBool;
}

inline double sigmoid(double x) {
  const double e = std::exp(-std::abs(x));
  return x < 0 ? e / (1.0 + e) : 1.0 / (1.0 + e);
}

template <bool IsTanh>
ElementwiseOp row() {
  using Fn = double (*)(double);
  static constexpr Fn f = IsTanh ? static_cast<Fn>([](double x) { return std::tanh(x); }) : sigmoid;
  // d/dy of the backward's factor: sigmoid (1 - y) y -> 1 - 2y; tanh 1 - y^2 -> -2y.
  return {
      .name = IsTanh ? "tanh" : "sigmoid",
      .saved_arg = "output",
      .grid = {{"Default", {}}},
      .tolerance = tolerance,
      .random_input = [](const OpParams&, at::ScalarType dtype,
                         const at::Device& device) { return (torch::randn({37, 129}, at::kDouble) * 4.0).to(device, dtype); },
      .large_input_scale = 6.0,
      .edges = {0.0, -0.0, kNaN, kInf, -kInf, 1e-3, -1e-3, 0.6, -0.6, 1.0, -1.0, 30.0, -30.0, 100.0, -100.0},
      .forward = [](const at::Tensor& x, const OpParams&) { return IsTanh ? torch_ext::tanh(x) : torch_ext::sigmoid(x); },
      .aten_forward = [](const at::Tensor& x, const OpParams&) { return IsTanh ? at::tanh(x) : at::sigmoid(x); },
      .inplace = [](at::Tensor& x, const OpParams&) -> at::Tensor& {
        return IsTanh ? torch_ext::tanh_(x) : torch_ext::sigmoid_(x);
      },
      .aten_inplace = [](at::Tensor& x, const OpParams&) -> at::Tensor& { return IsTanh ? at::tanh_(x) : at::sigmoid_(x); },
      .backward_from_input = nullptr,
      .aten_backward_from_input = nullptr,
      .backward_from_result =
          [](const at::Tensor& g, const at::Tensor& y, const OpParams&) {
            return IsTanh ? torch_ext::detail::tanh_backward(g, y) : torch_ext::detail::sigmoid_backward(g, y);
          },
      .aten_backward_from_result =
          [](const at::Tensor& g, const at::Tensor& y, const OpParams&) {
            return IsTanh ? at::tanh_backward(g, y) : at::sigmoid_backward(g, y);
          },
      .result_backward_defined = nullptr,
      .closed_form = [](double x, const OpParams&, at::ScalarType) { return f(x); },
      .closed_form_backward =
          [](double g, double x, const OpParams&, at::ScalarType) {
            const double y = f(x);
            return IsTanh ? g * (1.0 - y * y) : g * (1.0 - y) * y;
          },
      .closed_form_double_backward =
          [](double g, double v, double x, const OpParams&, at::ScalarType) {
            const double y = f(x);
            const double dy = IsTanh ? 1.0 - y * y : (1.0 - y) * y;
            return v * g * dy * (IsTanh ? -2.0 * y : 1.0 - 2.0 * y);
          },
      // Ours keeps sigmoid's far negative side (subnormals) where ATen's float result is 0: close, not identical.
      .forward_edges_vs_aten = [](const OpParams&, const at::Device&) { return EdgeMatch::kClose; },
      .aten_backward_propagates_nan = true,
      .check_forward_edges =
          [](const OpParams&, at::ScalarType, const at::Tensor& x, const at::Tensor& y) {
            // tanh(-0) = -0; sigmoid(+-0) = 0.5.
            const auto xv = to_vector(x);
            const auto yv = to_vector(y);
            for (size_t i = 0; i < xv.size(); ++i) {
              if (xv[i] != 0.0) continue;
              if (IsTanh) {
                EXPECT_EQ(std::signbit(yv[i]), std::signbit(xv[i])) << "tanh(" << xv[i] << ") = " << yv[i];
              } else {
                EXPECT_EQ(yv[i], 0.5);
              }
            }
          },
      .check_backward_edges = nullptr,
      .result_backward_atol = nullptr,
      .double_backward_input_atol = nullptr,
      .forward_accepts = takes_integers_and_bool,
      .inplace_accepts = nullptr,
  };
}

}  // namespace saturating_case

// ---------------------------------------------------------------------------------------------
// logsigmoid: no args; the backward reads the input.

namespace logsigmoid_case {

// min(x, 0) - log1p(exp(-|x|)).
inline double closed_form(double x, const OpParams&, at::ScalarType) {
  return std::min(x, 0.0) - std::log1p(std::exp(-std::abs(x)));
}

// g * sigmoid(-x).
inline double closed_form_backward(double g, double x, const OpParams&, at::ScalarType) {
  return g * softplus_case::sigmoid_closed_form(-x);
}

// d/dx = -v * g * s * (1 - s), s = sigmoid(x).
inline double closed_form_double_backward(double g, double v, double x, const OpParams&, at::ScalarType) {
  return -v * g * softplus_case::sigmoid_derivative_closed_form(x);
}

// logsigmoid(-inf) = -inf, logsigmoid(+inf) = -0 (0 - log1p(0)), logsigmoid(+-0) = -log(2).
inline void check_forward_edges(const OpParams&, at::ScalarType dtype, const at::Tensor& x, const at::Tensor& y) {
  const auto xv = to_vector(x);
  const auto yv = to_vector(y);
  for (size_t i = 0; i < xv.size(); ++i) {
    if (std::isinf(xv[i])) {
      EXPECT_EQ(yv[i], xv[i] < 0 ? -kInf : 0.0) << "logsigmoid(" << xv[i] << ") at " << i;
    } else if (xv[i] == 0.0) {
      EXPECT_EQ(yv[i], to_vector(at::full({1}, -std::log(2.0), at::TensorOptions().dtype(dtype)))[0])
          << "logsigmoid(" << xv[i] << ") at " << i;
    }
  }
}

inline ElementwiseOp row() {
  return {
      .name = "logsigmoid",
      .saved_arg = "self",
      .grid = {{"Default", {}}},
      // exp(-x) reaches the subnormals on the flat side: softplus's absolute floors.
      .tolerance = softplus_case::tolerance,
      .random_input = [](const OpParams&, at::ScalarType dtype,
                         const at::Device& device) { return (torch::randn({37, 129}, at::kDouble) * 4.0).to(device, dtype); },
      .large_input_scale = 8.0,
      .edges = {0.0, -0.0, kNaN, kInf, -kInf, 1e-3, -1e-3, 1.0, -1.0, 30.0, -30.0, 200.0, -200.0},
      .forward = [](const at::Tensor& x, const OpParams&) { return torch_ext::logsigmoid(x); },
      .aten_forward = [](const at::Tensor& x, const OpParams&) { return at::log_sigmoid(x); },
      .inplace = nullptr,
      .aten_inplace = nullptr,
      .backward_from_input =
          [](const at::Tensor& g, const at::Tensor& x, const OpParams&) {
            return torch_ext::detail::logsigmoid_backward(g, x);
          },
      .aten_backward_from_input =
          [](const at::Tensor& g, const at::Tensor& x, const OpParams&) {
            return at::log_sigmoid_backward(g, x, std::get<1>(at::log_sigmoid_forward(x)));
          },
      .backward_from_result = nullptr,
      .aten_backward_from_result = nullptr,
      .result_backward_defined = nullptr,
      .closed_form = closed_form,
      .closed_form_backward = closed_form_backward,
      .closed_form_double_backward = closed_form_double_backward,
      .forward_edges_vs_aten = [](const OpParams&, const at::Device&) { return EdgeMatch::kClose; },
      .aten_backward_propagates_nan = true,
      .check_forward_edges = check_forward_edges,
      .check_backward_edges = nullptr,
      .result_backward_atol = nullptr,
      // ATen computes (s - 1) * s, which cancels in float as s nears 1.
      .double_backward_input_atol =
          [](const OpParams&, at::ScalarType dtype) { return (dtype == at::kDouble ? 1e-14 : 1e-5) * 40.0; },
      .aten_forward_contiguous_on_cpu = true,
  };
}

}  // namespace logsigmoid_case

// ---------------------------------------------------------------------------------------------
// relu (no args; the backward reads the result) and leaky_relu: args = (negative_slope).

namespace relu_case {

inline bool takes_integers(at::ScalarType t) {
  return t == at::kLong || t == at::kInt || t == at::kShort || t == at::kByte;
}

inline Tolerance tolerance(at::ScalarType t) {
  return {rtol_for(t), (t == at::kHalf || t == at::kBFloat16) ? 1e-5 : 0.0};
}

inline const std::vector<double> kEdges = {0.0, -0.0, kNaN, kInf, -kInf, 1e-3, -1e-3, 1.0, -1.0, 30.0, -30.0};

inline ElementwiseOp relu_row() {
  return {
      .name = "relu",
      .saved_arg = "output",
      .grid = {{"Default", {}}},
      .tolerance = tolerance,
      .random_input = [](const OpParams&, at::ScalarType dtype,
                         const at::Device& device) { return (torch::randn({37, 129}, at::kDouble) * 4.0).to(device, dtype); },
      .large_input_scale = 3.0,
      .edges = kEdges,
      .forward = [](const at::Tensor& x, const OpParams&) { return torch_ext::relu(x); },
      .aten_forward = [](const at::Tensor& x, const OpParams&) { return at::relu(x); },
      .inplace = [](at::Tensor& x, const OpParams&) -> at::Tensor& { return torch_ext::relu_(x); },
      .aten_inplace = [](at::Tensor& x, const OpParams&) -> at::Tensor& { return at::relu_(x); },
      .backward_from_input = nullptr,
      .aten_backward_from_input = nullptr,
      .backward_from_result = [](const at::Tensor& g, const at::Tensor& y,
                                 const OpParams&) { return torch_ext::detail::relu_backward(g, y); },
      .aten_backward_from_result = [](const at::Tensor& g, const at::Tensor& y,
                                      const OpParams&) { return at::threshold_backward(g, y, 0); },
      .result_backward_defined = nullptr,
      // x < 0 ? 0 : x: -0 and NaN are kept.
      .closed_form = [](double x, const OpParams&, at::ScalarType) { return x < 0 ? 0.0 : x; },
      // threshold_backward: zero where the result is <= 0 (x == 0 included), g elsewhere (a NaN result too).
      .closed_form_backward = [](double g, double x, const OpParams&, at::ScalarType) { return x <= 0 ? 0.0 : g; },
      .closed_form_double_backward = [](double, double, double, const OpParams&, at::ScalarType) { return 0.0; },
      .forward_edges_vs_aten = [](const OpParams&, const at::Device&) { return EdgeMatch::kIdentical; },
      .aten_backward_propagates_nan = true,
      .check_forward_edges = nullptr,
      .check_backward_edges = nullptr,
      .result_backward_atol = nullptr,
      .double_backward_input_atol = nullptr,
      .forward_accepts = takes_integers,
      .inplace_accepts = takes_integers,
  };
}

inline double slope(const OpParams& p) { return p.args[0]; }

// The slope as the kernels round it: to the op-math type (float for float, half and bfloat16).
inline double op_slope(const OpParams& p, at::ScalarType dtype) {
  return dtype == at::kDouble ? slope(p) : static_cast<double>(static_cast<float>(slope(p)));
}

inline ElementwiseOp leaky_relu_row() {
  return {
      .name = "leaky_relu",
      .saved_arg = "self",
      .grid = {{"Default", {0.01}}, {"Slope0_2", {0.2}}, {"NegSlope", {-0.5}}, {"Slope0", {0.0}}},
      .tolerance = tolerance,
      .random_input = [](const OpParams&, at::ScalarType dtype,
                         const at::Device& device) { return (torch::randn({37, 129}, at::kDouble) * 4.0).to(device, dtype); },
      .large_input_scale = 3.0,
      .edges = kEdges,
      .forward = [](const at::Tensor& x, const OpParams& p) { return torch_ext::leaky_relu(x, slope(p)); },
      .aten_forward = [](const at::Tensor& x, const OpParams& p) { return at::leaky_relu(x, slope(p)); },
      .inplace = [](at::Tensor& x, const OpParams& p) -> at::Tensor& { return torch_ext::leaky_relu_(x, slope(p)); },
      .aten_inplace = [](at::Tensor& x, const OpParams& p) -> at::Tensor& { return at::leaky_relu_(x, slope(p)); },
      .backward_from_input =
          [](const at::Tensor& g, const at::Tensor& x, const OpParams& p) {
            return torch_ext::detail::leaky_relu_backward(g, x, slope(p), /*self_is_result=*/false);
          },
      .aten_backward_from_input =
          [](const at::Tensor& g, const at::Tensor& x, const OpParams& p) {
            return at::leaky_relu_backward(g, x, slope(p), /*self_is_result=*/false);
          },
      .backward_from_result =
          [](const at::Tensor& g, const at::Tensor& y, const OpParams& p) {
            return torch_ext::detail::leaky_relu_backward(g, y, slope(p), /*self_is_result=*/true);
          },
      .aten_backward_from_result =
          [](const at::Tensor& g, const at::Tensor& y, const OpParams& p) {
            return at::leaky_relu_backward(g, y, slope(p), /*self_is_result=*/true);
          },
      // The result tells the input's side only for a slope >= 0 (ATen refuses the others; test_relu.py checks it).
      .result_backward_defined = [](const OpParams& p) { return slope(p) >= 0; },
      .closed_form = [](double x, const OpParams& p, at::ScalarType dtype) { return x > 0 ? x : x * op_slope(p, dtype); },
      .closed_form_backward = [](double g, double x, const OpParams& p,
                                 at::ScalarType dtype) { return x > 0 ? g : g * op_slope(p, dtype); },
      .closed_form_double_backward = [](double, double, double, const OpParams&, at::ScalarType) { return 0.0; },
      .forward_edges_vs_aten = [](const OpParams&, const at::Device&) { return EdgeMatch::kIdentical; },
      // ATen's backward at a NaN input is g * negative_slope on every path, as ours.
      .aten_backward_propagates_nan = true,
      .check_forward_edges = nullptr,
      // The kink: x == +-0 takes the slope (x > 0 is false).
      .check_backward_edges =
          [](const OpParams& p, at::ScalarType dtype, const at::Tensor& x, double g, const at::Tensor& gx) {
            const auto xv = to_vector(x);
            const auto gv = to_vector(gx);
            for (size_t i = 0; i < xv.size(); ++i) {
              if (xv[i] != 0.0) continue;
              const double expected = g * op_slope(p, dtype);
              EXPECT_NEAR(gv[i], expected, rtol_for(dtype) * std::abs(expected)) << "at " << xv[i] << ", index " << i;
            }
          },
      .result_backward_atol = nullptr,
      .double_backward_input_atol = nullptr,
      .nan_gradient_at_nan_input = false,
  };
}

}  // namespace relu_case

// ---------------------------------------------------------------------------------------------
// The list.

inline const std::vector<ElementwiseOp>& elementwise_ops() {
  static const std::vector<ElementwiseOp> ops = {
      elu_case::row(),
      softplus_case::row(),
      saturating_case::row<false>(),
      saturating_case::row<true>(),
      relu_case::relu_row(),
      relu_case::leaky_relu_row(),
      logsigmoid_case::row(),
  };
  return ops;
}

inline const ElementwiseOp& elementwise_op(const std::string& name) {
  for (const auto& op : elementwise_ops()) {
    if (name == op.name) return op;
  }
  throw std::invalid_argument("no elementwise op row named " + name);
}

inline std::ostream& operator<<(std::ostream& os, const OpParams& p) {
  os << p.name << "(";
  for (size_t i = 0; i < p.args.size(); ++i) os << (i ? ", " : "") << p.args[i];
  return os << ")";
}

}  // namespace torch_ext_test
