// C++ tests of softplus (softplus, softplus_backward) through the public C++ API, against a closed
// form computed in double here and against ATen's ops (the reference).
// Grids, not copies: the suites are parametrized over (beta, threshold) x dtype.

#include <gtest/gtest.h>

#include "tensor_assertions.h"
#include <torch/torch.h>
#include <torch_ext/ops/math/softplus_math.h>
#include <torch_ext/torch_ext.h>

#include <ATen/core/dispatch/Dispatcher.h>

#include <algorithm>
#include <cmath>
#include <iomanip>
#include <limits>
#include <sstream>
#include <string>
#include <tuple>
#include <vector>

namespace {

using torch_ext_test::AllClose;
using torch_ext_test::Identical;
using torch_ext_test::to_vector;

// ---------------------------------------------------------------------------------------------
// Helpers

struct SoftplusCase {
  const char* name;
  double beta, threshold;
};

std::ostream& operator<<(std::ostream& os, const SoftplusCase& c) {
  return os << c.name << "(beta=" << c.beta << ", threshold=" << c.threshold << ")";
}

const SoftplusCase kSoftplusCases[] = {
    {"Default", 1.0, 20.0},
    {"Beta0_5", 0.5, 20.0},
    {"Beta2Threshold1", 2.0, 1.0},
    {"Beta10Threshold0", 10.0, 0.0},
    {"Beta0_5ThresholdNeg1", 0.5, -1.0},
    {"Beta1ThresholdNeg1", 1.0, -1.0},
    // ATen accepts a negative beta: the output is then <= 0 and the linear branch is x < threshold / beta.
    {"NegBeta", -1.5, 20.0},
};

double rtol_for(at::ScalarType t) {
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

// Absolute floor: exp lands in the subnormal range in the flat tail, where a few subnormal steps
// are the whole value.
double atol_for(at::ScalarType t) {
  switch (t) {
    case at::kDouble:
      return 1e-300;
    case at::kFloat:
      return 1e-38;
    default:
      return 1e-5;
  }
}

// With the tolerance of actual's dtype (expected may be a float64 closed form).
::testing::AssertionResult AllClose(const at::Tensor& actual, const at::Tensor& expected) {
  return AllClose(actual, expected, rtol_for(actual.scalar_type()), atol_for(actual.scalar_type()));
}

// beta * x as the kernels compute it: in the op-math type (float for float, half and bfloat16).
double op_product(double x, double beta, at::ScalarType dtype) {
  if (dtype == at::kDouble) return x * beta;
  return static_cast<double>(static_cast<float>(x) * static_cast<float>(beta));
}

double op_value(double v, at::ScalarType dtype) {
  return dtype == at::kDouble ? v : static_cast<double>(static_cast<float>(v));
}

bool linear_branch(double x, const SoftplusCase& c, at::ScalarType dtype) {
  return op_product(x, c.beta, dtype) > op_value(c.threshold, dtype);
}

// The closed form, in double, from the op-math product bx: x on the linear branch, else
// log1p(exp(bx)) / beta, written x + log1p(exp(-bx)) / beta where bx > 0 (the same value, finite).
double softplus_closed_form(double x, const SoftplusCase& c, at::ScalarType dtype) {
  if (linear_branch(x, c, dtype)) return x;
  const double b = op_value(c.beta, dtype);
  const double bx = op_product(x, c.beta, dtype);
  return bx > 0 ? x + std::log1p(std::exp(-bx)) / b : std::log1p(std::exp(bx)) / b;
}

// d softplus / dx = sigmoid(beta * x) off the linear branch.
double sigmoid_closed_form(double bx) {
  const double e = std::exp(-std::abs(bx));
  return bx > 0 ? 1.0 / (1.0 + e) : e / (1.0 + e);
}

// sigmoid'(bx) = s * (1 - s) = e / (1 + e)^2, e = exp(-|bx|): no 1 - s to cancel.
double sigmoid_derivative_closed_form(double bx) {
  const double e = std::exp(-std::abs(bx));
  return e / ((1.0 + e) * (1.0 + e));
}

double softplus_backward_closed_form(double g, double x, const SoftplusCase& c, at::ScalarType dtype) {
  return linear_branch(x, c, dtype) ? g : g * sigmoid_closed_form(op_product(x, c.beta, dtype));
}

template <typename F>
at::Tensor map_double(const at::Tensor& x, F f) {
  at::Tensor xd = x.detach().to(at::kCPU).to(at::kDouble).contiguous();
  at::Tensor out = at::empty_like(xd);
  const double* px = xd.data_ptr<double>();
  double* po = out.data_ptr<double>();
  for (int64_t i = 0; i < xd.numel(); ++i) po[i] = f(px[i], i);
  return out;
}

at::Tensor softplus_reference(const at::Tensor& x, const SoftplusCase& c) {
  const auto dtype = x.scalar_type();
  return map_double(x, [&](double v, int64_t) { return softplus_closed_form(v, c, dtype); });
}

at::Tensor softplus_backward_reference(const at::Tensor& g, const at::Tensor& x, const SoftplusCase& c) {
  const auto dtype = x.scalar_type();
  const auto gv = to_vector(g);
  return map_double(x, [&](double v, int64_t i) { return softplus_backward_closed_form(gv[i], v, c, dtype); });
}

// Values spread around the branch point threshold / beta, so both branches are populated.
at::Tensor random_input(const SoftplusCase& c, at::ScalarType dtype, const at::Device& device = at::kCPU) {
  // Odd sizes leave a partial vector after the full ones.
  return (torch::randn({37, 129}, torch::dtype(at::kDouble)) * 4.0 + c.threshold / c.beta).to(device, dtype);
}

// The edge values, repeated past the vector width and a tail so that both full and partial vectors
// see each of them.
at::Tensor edge_values(at::ScalarType dtype, const at::Device& device = at::kCPU) {
  const double inf = std::numeric_limits<double>::infinity();
  const double nan = std::numeric_limits<double>::quiet_NaN();
  const std::vector<double> edges = {0.0, -0.0, nan, inf, -inf, 1e-3, -1e-3, 1.0, -1.0, 30.0, -30.0, 200.0, -200.0};
  std::vector<double> v;
  for (int rep = 0; rep < 9; ++rep) v.insert(v.end(), edges.begin(), edges.end());  // 117 elements
  return torch::tensor(v, torch::dtype(at::kDouble)).to(device, dtype);
}

std::string dtype_name(at::ScalarType t) {
  switch (t) {
    case at::kFloat:
      return "Float";
    case at::kDouble:
      return "Double";
    case at::kHalf:
      return "Half";
    case at::kBFloat16:
      return "BFloat16";
    default:
      return "Other";
  }
}

// ---------------------------------------------------------------------------------------------
// softplus over (beta, threshold) x {float, double}

class SoftplusTest : public ::testing::TestWithParam<std::tuple<SoftplusCase, at::ScalarType>> {
 protected:
  void SetUp() override { torch::manual_seed(0); }
  const SoftplusCase& c() const { return std::get<0>(GetParam()); }
  at::ScalarType dtype() const { return std::get<1>(GetParam()); }
};

TEST_P(SoftplusTest, ForwardMatchesClosedForm) {
  const at::Tensor x = random_input(c(), dtype());
  const at::Tensor y = torch_ext::softplus(x, c().beta, c().threshold);
  EXPECT_EQ(y.scalar_type(), dtype());
  EXPECT_EQ(y.sizes(), x.sizes());
  EXPECT_TRUE(AllClose(y, softplus_reference(x, c())));
  EXPECT_TRUE(AllClose(y, at::softplus(x, c().beta, c().threshold)));
}

TEST_P(SoftplusTest, ForwardLargeParallel) {
  // Above at::parallel_for's grain size.
  const at::Tensor x = (torch::randn({100003}, torch::dtype(at::kDouble)) * 8.0).to(dtype());
  const at::Tensor y = torch_ext::softplus(x, c().beta, c().threshold);
  EXPECT_TRUE(AllClose(y, softplus_reference(x, c())));
}

TEST_P(SoftplusTest, ForwardNonContiguous) {
  const at::Tensor base = random_input(c(), dtype());
  const at::Tensor x = base.t();  // strides (1, 129)
  const at::Tensor y = torch_ext::softplus(x, c().beta, c().threshold);
  const at::Tensor ref = at::softplus(x, c().beta, c().threshold);
  EXPECT_EQ(y.sizes(), ref.sizes());
  EXPECT_EQ(y.strides(), ref.strides());
  EXPECT_TRUE(AllClose(y, softplus_reference(x, c())));

  const at::Tensor strided = base.slice(1, 0, 129, 2);  // every other column
  EXPECT_TRUE(AllClose(torch_ext::softplus(strided, c().beta, c().threshold), softplus_reference(strided, c())));
}

TEST_P(SoftplusTest, ForwardEdges) {
  const at::Tensor x = edge_values(dtype());
  const at::Tensor y = torch_ext::softplus(x, c().beta, c().threshold);
  EXPECT_TRUE(AllClose(y, at::softplus(x, c().beta, c().threshold)));
  EXPECT_TRUE(AllClose(y, softplus_reference(x, c())));
  const auto xv = to_vector(x);
  const auto yv = to_vector(y);
  for (size_t i = 0; i < xv.size(); ++i) {
    const double xi = xv[i];
    if (std::isnan(xi)) {
      EXPECT_TRUE(std::isnan(yv[i])) << "softplus(NaN) at " << i << " = " << yv[i];
    } else if (std::isinf(xi) && (xi > 0) == (c().beta > 0)) {
      // The side where beta * x = +inf: the linear branch, x itself.
      EXPECT_EQ(yv[i], xi) << "softplus(" << xi << ") at " << i;
    } else if (std::isinf(xi)) {
      // beta * x = -inf: log1p(0) / beta, a zero with beta's sign.
      EXPECT_EQ(yv[i], 0.0) << "softplus(" << xi << ") at " << i;
      EXPECT_EQ(std::signbit(yv[i]), c().beta < 0) << "softplus(" << xi << ") at " << i;
    } else if (linear_branch(xi, c(), dtype())) {
      EXPECT_EQ(yv[i], xi) << "linear branch at " << i;
    }
  }
}

TEST_P(SoftplusTest, AtThresholdTakesATenBranch) {
  // threshold / beta and its neighbours in the dtype: the branch must be ATen's at each.
  std::vector<double> v;
  const double centre = c().threshold / c().beta;
  for (const double dir : {-1.0, 1.0}) {
    double x = dtype() == at::kDouble ? centre : static_cast<float>(centre);
    for (int k = 0; k < 4; ++k) {
      v.push_back(x);
      x = dtype() == at::kDouble ? std::nextafter(x, dir * INFINITY)
                                 : std::nextafter(static_cast<float>(x), static_cast<float>(dir * INFINITY));
    }
  }
  const at::Tensor x = torch::tensor(v, torch::dtype(at::kDouble)).to(dtype()).repeat({9});
  const at::Tensor y = torch_ext::softplus(x, c().beta, c().threshold);
  EXPECT_TRUE(AllClose(y, at::softplus(x, c().beta, c().threshold)));
  EXPECT_TRUE(AllClose(y, softplus_reference(x, c())));
  const auto xv = to_vector(x);
  const auto yv = to_vector(y);
  int linear = 0;
  for (size_t i = 0; i < xv.size(); ++i) {
    if (linear_branch(xv[i], c(), dtype())) {
      ++linear;
      EXPECT_EQ(yv[i], xv[i]) << "linear branch at x = " << xv[i];
    }
  }
  EXPECT_GT(linear, 0);
  EXPECT_LT(linear, static_cast<int>(xv.size()));

  const at::Tensor g = torch::full_like(x, 0.75);
  const at::Tensor gx = torch_ext::detail::softplus_backward(g, x, c().beta, c().threshold);
  EXPECT_TRUE(AllClose(gx, at::softplus_backward(g, x, c().beta, c().threshold)));
  EXPECT_TRUE(AllClose(gx, softplus_backward_reference(g, x, c())));
}

TEST_P(SoftplusTest, BackwardSumMatchesATen) {
  const at::Tensor data = random_input(c(), dtype());
  const at::Tensor x = data.clone().requires_grad_();
  torch_ext::softplus(x, c().beta, c().threshold).sum().backward();
  const at::Tensor x_ref = data.clone().requires_grad_();
  at::softplus(x_ref, c().beta, c().threshold).sum().backward();
  ASSERT_TRUE(x.grad().defined());
  EXPECT_TRUE(AllClose(x.grad(), x_ref.grad()));
}

TEST_P(SoftplusTest, BackwardRandomGradMatchesATen) {
  const at::Tensor data = random_input(c(), dtype());
  const at::Tensor g = torch::randn_like(data);
  const at::Tensor x = data.clone().requires_grad_();
  const at::Tensor y = torch_ext::softplus(x, c().beta, c().threshold);
  const at::Tensor gx = torch::autograd::grad({y}, {x}, {g})[0];
  const at::Tensor x_ref = data.clone().requires_grad_();
  const at::Tensor gx_ref = torch::autograd::grad({at::softplus(x_ref, c().beta, c().threshold)}, {x_ref}, {g})[0];
  EXPECT_TRUE(AllClose(gx, gx_ref));
  EXPECT_TRUE(AllClose(gx, softplus_backward_reference(g, data, c())));
}

TEST_P(SoftplusTest, BackwardOpMatchesATen) {
  for (const bool edges : {false, true}) {
    SCOPED_TRACE(edges ? "edge values" : "random values");
    const at::Tensor x = edges ? edge_values(dtype()) : random_input(c(), dtype());
    const at::Tensor g = torch::randn_like(x);
    const at::Tensor gx = torch_ext::detail::softplus_backward(g, x, c().beta, c().threshold);
    EXPECT_EQ(gx.scalar_type(), dtype());
    EXPECT_TRUE(AllClose(gx, at::softplus_backward(g, x, c().beta, c().threshold)));
    EXPECT_TRUE(AllClose(gx, softplus_backward_reference(g, x, c())));
  }
}

TEST_P(SoftplusTest, DoubleBackward) {
  const at::Tensor data = random_input(c(), dtype());
  const at::Tensor g_data = torch::randn_like(data);
  const at::Tensor v = torch::randn_like(data);

  auto second_order = [&](bool ours) {
    const at::Tensor x = data.clone().requires_grad_();
    const at::Tensor g = g_data.clone().requires_grad_();
    const at::Tensor y =
        ours ? torch_ext::softplus(x, c().beta, c().threshold) : at::softplus(x, c().beta, c().threshold);
    const at::Tensor gx = torch::autograd::grad({y}, {x}, {g}, /*retain_graph=*/true, /*create_graph=*/true)[0];
    EXPECT_TRUE(gx.requires_grad());
    return std::make_tuple(gx, torch::autograd::grad({(gx * v).sum()}, {x, g}));
  };
  const auto [gx, gg] = second_order(true);
  const auto [gx_ref, gg_ref] = second_order(false);
  EXPECT_TRUE(AllClose(gx, gx_ref));
  EXPECT_TRUE(AllClose(gg[1], gg_ref[1])) << "d/dgrad_output";
  // d/dx = v * g * beta * s * (1 - s) where beta * x < threshold, against the closed form. (ATen
  // computes 1 - s, which cancels in float as s nears 1: compared with an absolute margin.)
  const auto gv = to_vector(g_data);
  const auto vv = to_vector(v);
  const auto dtype_ = dtype();
  const at::Tensor expected = map_double(data, [&](double x, int64_t i) {
    const double bx = op_product(x, c().beta, dtype_);
    const double ds = sigmoid_derivative_closed_form(bx);
    return bx < op_value(c().threshold, dtype_) ? vv[i] * gv[i] * op_value(c().beta, dtype_) * ds : 0.0;
  });
  EXPECT_TRUE(AllClose(gg[0], expected)) << "d/dx";
  const double margin = (dtype() == at::kDouble ? 1e-14 : 1e-5) * std::abs(c().beta) * 40.0;
  EXPECT_TRUE(AllClose(gg[0], gg_ref[0], rtol_for(dtype()), margin)) << "d/dx vs ATen";
}

TEST_P(SoftplusTest, LargeThresholdStaysFinite) {
  // Threshold 1e4: ATen's log1p(exp(beta * x)) overflows past log(max); torch_ext does not.
  const SoftplusCase big{"Big", c().beta, 1e4};
  const at::Tensor x =
      (torch::linspace(-1000.0, 1000.0, 2001, torch::dtype(at::kDouble)) / std::abs(c().beta)).to(dtype());
  const at::Tensor y = torch_ext::softplus(x, big.beta, big.threshold);
  EXPECT_TRUE(y.isfinite().all().item<bool>());
  EXPECT_TRUE(AllClose(y, softplus_reference(x, big)));
  const at::Tensor g = torch::randn_like(x);
  const at::Tensor gx = torch_ext::detail::softplus_backward(g, x, big.beta, big.threshold);
  EXPECT_TRUE(gx.isfinite().all().item<bool>());
  EXPECT_TRUE(AllClose(gx, softplus_backward_reference(g, x, big)));
  // ATen overflows here (beta * x reaches 1000 > log(max) for float and double alike).
  EXPECT_FALSE(at::softplus(x, big.beta, big.threshold).isfinite().all().item<bool>());
  EXPECT_TRUE(at::softplus_backward(g, x, big.beta, big.threshold).isnan().any().item<bool>());
}

TEST_P(SoftplusTest, CudaMatchesClosedForm) {
  if (!torch::cuda::is_available()) GTEST_SKIP() << "no CUDA device";
  const at::Device cuda(at::kCUDA, 0);
  const at::Tensor x = random_input(c(), dtype(), cuda);
  const at::Tensor y = torch_ext::softplus(x, c().beta, c().threshold);
  EXPECT_TRUE(y.is_cuda());
  EXPECT_TRUE(AllClose(y, softplus_reference(x, c())));
  EXPECT_TRUE(AllClose(y, at::softplus(x, c().beta, c().threshold)));
  const at::Tensor edges = edge_values(dtype(), cuda);
  EXPECT_TRUE(AllClose(torch_ext::softplus(edges, c().beta, c().threshold),
                       at::softplus(edges, c().beta, c().threshold)));

  const at::Tensor g = torch::randn_like(x);
  EXPECT_TRUE(AllClose(torch_ext::detail::softplus_backward(g, x, c().beta, c().threshold),
                       at::softplus_backward(g, x, c().beta, c().threshold)));
  EXPECT_TRUE(AllClose(torch_ext::detail::softplus_backward(g, x, c().beta, c().threshold),
                       softplus_backward_reference(g, x, c())));
  const at::Tensor xg = x.clone().requires_grad_();
  torch_ext::softplus(xg, c().beta, c().threshold).backward(g);
  const at::Tensor xg_ref = x.clone().requires_grad_();
  at::softplus(xg_ref, c().beta, c().threshold).backward(g);
  EXPECT_TRUE(AllClose(xg.grad(), xg_ref.grad()));
  EXPECT_TRUE(AllClose(torch_ext::softplus(x.t(), c().beta, c().threshold), softplus_reference(x.t(), c())));
}

INSTANTIATE_TEST_SUITE_P(Grid, SoftplusTest,
                         ::testing::Combine(::testing::ValuesIn(kSoftplusCases),
                                            ::testing::Values(at::kFloat, at::kDouble)),
                         [](const ::testing::TestParamInfo<SoftplusTest::ParamType>& info) {
                           return std::string(std::get<0>(info.param).name) + "_" +
                                  dtype_name(std::get<1>(info.param));
                         });

// ---------------------------------------------------------------------------------------------
// Reduced precision: half and bfloat16 against ATen and the closed form (computed in float,
// rounded once).

class SoftplusReducedTest : public ::testing::TestWithParam<std::tuple<SoftplusCase, at::ScalarType>> {
 protected:
  void SetUp() override { torch::manual_seed(0); }
  const SoftplusCase& c() const { return std::get<0>(GetParam()); }
  at::ScalarType dtype() const { return std::get<1>(GetParam()); }
};

TEST_P(SoftplusReducedTest, ForwardMatchesATen) {
  const at::Tensor x = random_input(c(), dtype());
  const at::Tensor y = torch_ext::softplus(x, c().beta, c().threshold);
  EXPECT_EQ(y.scalar_type(), dtype());
  EXPECT_TRUE(AllClose(y, at::softplus(x, c().beta, c().threshold)));
  EXPECT_TRUE(AllClose(y, softplus_reference(x, c()).to(dtype())));
  const at::Tensor edges = edge_values(dtype());
  EXPECT_TRUE(AllClose(torch_ext::softplus(edges, c().beta, c().threshold),
                       at::softplus(edges, c().beta, c().threshold)));
}

TEST_P(SoftplusReducedTest, BackwardMatchesATen) {
  const at::Tensor x = random_input(c(), dtype());
  const at::Tensor g = torch::randn_like(x);
  EXPECT_TRUE(AllClose(torch_ext::detail::softplus_backward(g, x, c().beta, c().threshold),
                       at::softplus_backward(g, x, c().beta, c().threshold)));
  const at::Tensor xg = x.clone().requires_grad_();
  torch_ext::softplus(xg, c().beta, c().threshold).backward(g);
  const at::Tensor xg_ref = x.clone().requires_grad_();
  at::softplus(xg_ref, c().beta, c().threshold).backward(g);
  EXPECT_TRUE(AllClose(xg.grad(), xg_ref.grad()));
}

TEST_P(SoftplusReducedTest, CudaMatchesATen) {
  if (!torch::cuda::is_available()) GTEST_SKIP() << "no CUDA device";
  const at::Tensor x = random_input(c(), dtype(), at::Device(at::kCUDA, 0));
  EXPECT_TRUE(AllClose(torch_ext::softplus(x, c().beta, c().threshold), at::softplus(x, c().beta, c().threshold)));
  const at::Tensor g = torch::randn_like(x);
  EXPECT_TRUE(AllClose(torch_ext::detail::softplus_backward(g, x, c().beta, c().threshold),
                       at::softplus_backward(g, x, c().beta, c().threshold)));
}

INSTANTIATE_TEST_SUITE_P(Grid, SoftplusReducedTest,
                         ::testing::Combine(::testing::ValuesIn(kSoftplusCases),
                                            ::testing::Values(at::kHalf, at::kBFloat16)),
                         [](const ::testing::TestParamInfo<SoftplusReducedTest::ParamType>& info) {
                           return std::string(std::get<0>(info.param).name) + "_" +
                                  dtype_name(std::get<1>(info.param));
                         });

// ---------------------------------------------------------------------------------------------
// The formulas under ScalarMath, the policy the CUDA kernels run (the CPU loops run VecMath), on
// the host: every branch, against the closed form.

template <typename T>
void CheckScalarPolicy(at::ScalarType dtype) {
  using torch_ext::math::ScalarMath;
  const double inf = std::numeric_limits<double>::infinity();
  std::vector<double> xs = {0.0, -0.0, inf, -inf, 1e-30, -1e-30, 5e-3, -5e-3};
  for (int i = -400; i <= 400; ++i) xs.push_back(i * 0.37);
  for (const auto& c : kSoftplusCases) {
    for (const double threshold : {c.threshold, 1e4}) {  // 1e4: past exp's overflow point
      const SoftplusCase cc{c.name, c.beta, threshold};
      const auto k = torch_ext::math::softplus_coefs<T>(cc.beta, cc.threshold);
      for (const double xd : xs) {
        const T x = static_cast<T>(xd);
        const double y = torch_ext::math::softplus_forward<ScalarMath>(x, k.beta, k.threshold);
        const double expected = softplus_closed_form(x, cc, dtype);
        EXPECT_TRUE(y == expected ||
                    std::abs(y - expected) <= 4 * rtol_for(dtype) * std::abs(expected) + atol_for(dtype))
            << cc << " x = " << xd << ": " << std::setprecision(17) << y << " vs " << expected;
        const double gx = torch_ext::math::softplus_backward<ScalarMath>(T(0.75), x, k.beta, k.threshold);
        const double gexpected = softplus_backward_closed_form(0.75, x, cc, dtype);
        EXPECT_LE(std::abs(gx - gexpected), 4 * rtol_for(dtype) * std::abs(gexpected) + atol_for(dtype))
            << cc << " x = " << xd << ": " << std::setprecision(17) << gx << " vs " << gexpected;
      }
    }
  }
  // NaN in, NaN out, on both sides of every select.
  const T nan = std::numeric_limits<T>::quiet_NaN();
  EXPECT_TRUE(std::isnan(torch_ext::math::softplus_forward<ScalarMath>(nan, T(1), T(20))));
  EXPECT_TRUE(std::isnan(torch_ext::math::softplus_backward<ScalarMath>(T(1), nan, T(1), T(20))));
}

TEST(SoftplusMath, ScalarPolicyFloat) { CheckScalarPolicy<float>(at::kFloat); }
TEST(SoftplusMath, ScalarPolicyDouble) { CheckScalarPolicy<double>(at::kDouble); }

// ---------------------------------------------------------------------------------------------
// Errors: c10::Error with words that say what went wrong.

template <typename F>
void ExpectC10ErrorContaining(F&& f, const std::string& needle) {
  try {
    f();
    ADD_FAILURE() << "expected a c10::Error containing \"" << needle << "\", nothing was thrown";
  } catch (const c10::Error& e) {
    EXPECT_NE(std::string(e.what_without_backtrace()).find(needle), std::string::npos)
        << "message: " << e.what_without_backtrace();
  } catch (const std::exception& e) {
    ADD_FAILURE() << "expected a c10::Error, got another exception: " << e.what();
  }
}

TEST(SoftplusErrors, NonFloatingInputs) {
  for (const auto dtype : {at::kLong, at::kInt, at::kShort, at::kByte, at::kBool, at::kComplexFloat}) {
    SCOPED_TRACE(std::string("dtype ") + c10::toString(dtype));
    const at::Tensor x = torch::ones({5}, torch::dtype(dtype));
    const at::Tensor f = torch::ones({5});
    ExpectC10ErrorContaining([&] { torch_ext::softplus(x); }, "softplus: expected self to be a floating-point");
    ExpectC10ErrorContaining([&] { torch_ext::detail::softplus_backward(x, f, 1.0, 20.0); },
                             "softplus_backward: expected grad_output to be a floating-point");
    ExpectC10ErrorContaining([&] { torch_ext::detail::softplus_backward(f, x, 1.0, 20.0); },
                             "softplus_backward: expected self to be a floating-point");
  }
}

TEST(SoftplusErrors, BackwardMismatchedArguments) {
  const at::Tensor g = torch::randn({4, 5});
  ExpectC10ErrorContaining([&] { torch_ext::detail::softplus_backward(g, torch::randn({5, 4}), 1.0, 20.0); }, "shape");
  ExpectC10ErrorContaining(
      [&] {
        torch_ext::detail::softplus_backward(g, torch::randn({4, 5}, torch::kDouble), 1.0, 20.0);
      },
      "dtype");
}

// ---------------------------------------------------------------------------------------------
// Registration.

TEST(SoftplusRegistration, OpsAreInTheDispatcher) {
  auto& d = c10::Dispatcher::singleton();
  for (const char* name : {"torch_ext::softplus", "torch_ext::softplus_backward"}) {
    const auto op = d.findSchema({name, ""});
    ASSERT_TRUE(op.has_value()) << name;
    EXPECT_TRUE(op->hasKernelForDispatchKey(c10::DispatchKey::CPU)) << name;
    EXPECT_TRUE(op->hasKernelForDispatchKey(c10::DispatchKey::Meta)) << name;
    EXPECT_TRUE(op->hasKernelForDispatchKey(c10::DispatchKey::Autograd)) << name;
    EXPECT_TRUE(op->hasComputedKernelForDispatchKey(c10::DispatchKey::AutogradCPU)) << name;
  }
  // Autocast: float32 under CUDA autocast, as ATen's softplus; CPU autocast falls through, as ATen's.
  const auto op = d.findSchema({"torch_ext::softplus", ""});
  const auto aten = d.findSchema({"aten::softplus", ""});
  ASSERT_TRUE(aten.has_value());
  EXPECT_TRUE(op->hasKernelForDispatchKey(c10::DispatchKey::AutocastCUDA));
  EXPECT_EQ(op->hasKernelForDispatchKey(c10::DispatchKey::AutocastCPU),
            aten->hasKernelForDispatchKey(c10::DispatchKey::AutocastCPU));
}

TEST(SoftplusRegistration, MetaKernelsGiveShapeAndStrides) {
  const at::Tensor x = torch::empty({6, 7}, torch::device(at::kMeta)).t();
  const at::Tensor y = torch_ext::softplus(x, 2.0, 1.0);
  EXPECT_TRUE(y.is_meta());
  EXPECT_EQ(y.sizes(), x.sizes());
  EXPECT_EQ(y.strides(), at::softplus(torch::empty({6, 7}).t(), 2.0, 1.0).strides());
  EXPECT_EQ(torch_ext::detail::softplus_backward(x, x, 2.0, 1.0).strides(), y.strides());
}

}  // namespace
