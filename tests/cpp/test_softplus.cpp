// C++ tests of what is particular to softplus: its threshold branch (decided as ATen decides it, and finite
// past exp's overflow point where ATen's is not), the scalar math policy the CUDA kernels run, and its
// autocast registration. The checks every elementwise op gets (forward, backward, double backward, reduced
// precision, CUDA, errors, registration, Meta) run over softplus's row in elementwise_cases.h, in
// test_elementwise.cpp.

#include <gtest/gtest.h>

#include <ATen/core/dispatch/Dispatcher.h>
#include <torch/torch.h>
#include <torch_ext/ops/math/softplus_math.h>
#include <torch_ext/torch_ext.h>

#include <cmath>
#include <iomanip>
#include <limits>
#include <string>
#include <tuple>
#include <vector>

#include "elementwise_cases.h"
#include "tensor_assertions.h"

namespace {

using torch_ext_test::AllClose;
using torch_ext_test::map_double;
using torch_ext_test::OpParams;
using torch_ext_test::to_vector;
namespace softplus_case = torch_ext_test::softplus_case;

const torch_ext_test::ElementwiseOp& softplus_row() { return torch_ext_test::elementwise_op("softplus"); }

// With the tolerance of actual's dtype (expected may be a float64 closed form).
::testing::AssertionResult Close(const at::Tensor& actual, const at::Tensor& expected) {
  const auto tol = softplus_case::tolerance(actual.scalar_type());
  return AllClose(actual, expected, tol.rtol, tol.atol);
}

at::Tensor softplus_reference(const at::Tensor& x, const OpParams& p) {
  const auto dtype = x.scalar_type();
  return map_double(x, [&](double v, int64_t) { return softplus_case::closed_form(v, p, dtype); });
}

at::Tensor softplus_backward_reference(const at::Tensor& g, const at::Tensor& x, const OpParams& p) {
  const auto dtype = x.scalar_type();
  const auto gv = to_vector(g);
  return map_double(x, [&](double v, int64_t i) { return softplus_case::closed_form_backward(gv[i], v, p, dtype); });
}

// ---------------------------------------------------------------------------------------------
// The threshold branch, over (beta, threshold) x {float, double}

class SoftplusTest : public ::testing::TestWithParam<std::tuple<OpParams, at::ScalarType>> {
 protected:
  void SetUp() override { torch::manual_seed(0); }
  const OpParams& p() const { return std::get<0>(GetParam()); }
  double beta() const { return softplus_case::beta(p()); }
  double threshold() const { return softplus_case::threshold(p()); }
  at::ScalarType dtype() const { return std::get<1>(GetParam()); }
};

TEST_P(SoftplusTest, AtThresholdTakesATenBranch) {
  // threshold / beta and its neighbours in the dtype: the branch must be ATen's at each.
  std::vector<double> v;
  const double centre = threshold() / beta();
  for (const double dir : {-1.0, 1.0}) {
    double x = dtype() == at::kDouble ? centre : static_cast<float>(centre);
    for (int k = 0; k < 4; ++k) {
      v.push_back(x);
      x = dtype() == at::kDouble ? std::nextafter(x, dir * INFINITY)
                                 : std::nextafter(static_cast<float>(x), static_cast<float>(dir * INFINITY));
    }
  }
  const at::Tensor x = torch::tensor(v, torch::dtype(at::kDouble)).to(dtype()).repeat({9});
  const at::Tensor y = torch_ext::softplus(x, beta(), threshold());
  EXPECT_TRUE(Close(y, at::softplus(x, beta(), threshold())));
  EXPECT_TRUE(Close(y, softplus_reference(x, p())));
  const auto xv = to_vector(x);
  const auto yv = to_vector(y);
  int linear = 0;
  for (size_t i = 0; i < xv.size(); ++i) {
    if (softplus_case::linear_branch(xv[i], p(), dtype())) {
      ++linear;
      EXPECT_EQ(yv[i], xv[i]) << "linear branch at x = " << xv[i];
    }
  }
  EXPECT_GT(linear, 0);
  EXPECT_LT(linear, static_cast<int>(xv.size()));

  const at::Tensor g = torch::full_like(x, 0.75);
  const at::Tensor gx = torch_ext::detail::softplus_backward(g, x, beta(), threshold());
  EXPECT_TRUE(Close(gx, at::softplus_backward(g, x, beta(), threshold())));
  EXPECT_TRUE(Close(gx, softplus_backward_reference(g, x, p())));
}

TEST_P(SoftplusTest, LargeThresholdStaysFinite) {
  // Threshold 1e4: ATen's log1p(exp(beta * x)) overflows past log(max); torch_ext does not.
  const OpParams big{"Big", {beta(), 1e4}};
  const at::Tensor x =
      (torch::linspace(-1000.0, 1000.0, 2001, torch::dtype(at::kDouble)) / std::abs(beta())).to(dtype());
  const at::Tensor y = torch_ext::softplus(x, beta(), 1e4);
  EXPECT_TRUE(y.isfinite().all().item<bool>());
  EXPECT_TRUE(Close(y, softplus_reference(x, big)));
  const at::Tensor g = torch::randn_like(x);
  const at::Tensor gx = torch_ext::detail::softplus_backward(g, x, beta(), 1e4);
  EXPECT_TRUE(gx.isfinite().all().item<bool>());
  EXPECT_TRUE(Close(gx, softplus_backward_reference(g, x, big)));
  // ATen overflows here (beta * x reaches 1000 > log(max) for float and double alike).
  EXPECT_FALSE(at::softplus(x, beta(), 1e4).isfinite().all().item<bool>());
  EXPECT_TRUE(at::softplus_backward(g, x, beta(), 1e4).isnan().any().item<bool>());
}

INSTANTIATE_TEST_SUITE_P(Grid, SoftplusTest,
                         ::testing::Combine(::testing::ValuesIn(softplus_row().grid),
                                            ::testing::Values(at::kFloat, at::kDouble)),
                         [](const ::testing::TestParamInfo<SoftplusTest::ParamType>& info) {
                           return std::string(std::get<0>(info.param).name) + "_" +
                                  torch_ext_test::dtype_name(std::get<1>(info.param));
                         });

// ---------------------------------------------------------------------------------------------
// The formulas under ScalarMath, the policy the CUDA kernels run (the CPU loops run VecMath), on
// the host: every branch, against the closed form.

template <typename T>
void CheckScalarPolicy(at::ScalarType dtype) {
  using torch_ext::math::ScalarMath;
  const double inf = std::numeric_limits<double>::infinity();
  const auto tol = softplus_case::tolerance(dtype);
  std::vector<double> xs = {0.0, -0.0, inf, -inf, 1e-30, -1e-30, 5e-3, -5e-3};
  for (int i = -400; i <= 400; ++i) xs.push_back(i * 0.37);
  for (const auto& c : softplus_row().grid) {
    for (const double threshold : {softplus_case::threshold(c), 1e4}) {  // 1e4: past exp's overflow point
      const OpParams cc{c.name, {softplus_case::beta(c), threshold}};
      const auto k = torch_ext::math::softplus_coefs<T>(softplus_case::beta(cc), threshold);
      for (const double xd : xs) {
        const T x = static_cast<T>(xd);
        const double y = torch_ext::math::softplus_forward<ScalarMath>(x, k.beta, k.threshold);
        const double expected = softplus_case::closed_form(x, cc, dtype);
        EXPECT_TRUE(y == expected || std::abs(y - expected) <= 4 * tol.rtol * std::abs(expected) + tol.atol)
            << cc << " x = " << xd << ": " << std::setprecision(17) << y << " vs " << expected;
        const double gx = torch_ext::math::softplus_backward<ScalarMath>(T(0.75), x, k.beta, k.threshold);
        const double gexpected = softplus_case::closed_form_backward(0.75, x, cc, dtype);
        EXPECT_LE(std::abs(gx - gexpected), 4 * tol.rtol * std::abs(gexpected) + tol.atol)
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
// Autocast: float32 under CUDA autocast, as ATen's softplus; CPU autocast falls through, as ATen's.

TEST(SoftplusRegistration, AutocastAsATen) {
  auto& d = c10::Dispatcher::singleton();
  const auto op = d.findSchema({"torch_ext::softplus", ""});
  const auto aten = d.findSchema({"aten::softplus", ""});
  ASSERT_TRUE(op.has_value());
  ASSERT_TRUE(aten.has_value());
  EXPECT_TRUE(op->hasKernelForDispatchKey(c10::DispatchKey::AutocastCUDA));
  EXPECT_EQ(op->hasKernelForDispatchKey(c10::DispatchKey::AutocastCPU),
            aten->hasKernelForDispatchKey(c10::DispatchKey::AutocastCPU));
}

}  // namespace
