// C++ tests of the ELU family (elu, elu_, elu_backward, celu, selu) through the public C++ API,
// against a closed form computed in double here and against ATen's ops (the reference).
// Grids, not copies: the suites are parametrized over (alpha, scale, input_scale) x dtype.

#include <gtest/gtest.h>

#include "tensor_assertions.h"
#include <torch/torch.h>
#include <torch/version.h>
#include <torch_ext/torch_ext.h>

#include <ATen/core/dispatch/Dispatcher.h>

#include <cfloat>
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

struct EluCase {
  const char* name;
  double alpha, scale, input_scale;
};

std::ostream& operator<<(std::ostream& os, const EluCase& c) {
  return os << c.name << "(alpha=" << c.alpha << ", scale=" << c.scale << ", input_scale=" << c.input_scale << ")";
}

const EluCase kEluCases[] = {
    {"Default", 1.0, 1.0, 1.0},
    {"Alpha0_5", 0.5, 1.0, 1.0},
    {"Alpha2Scale1_5Input0_7", 2.0, 1.5, 0.7},
    {"Selu", torch_ext::kSeluAlpha, torch_ext::kSeluScale, 1.0},
    {"Celu3", 3.0, 1.0, 1.0 / 3.0},
    // Out-of-place ELU accepts a negative alpha; the in-place (is_result) backward refuses it.
    {"NegAlpha", -0.5, 1.0, 1.0},
};

// Relative tolerances per dtype: a few ulps of the dtype (float/double: the brief's 1e-6/1e-12;
// half/bfloat16: one ulp, both sides compute in float and round once).
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

// Absolute floor, for values that underflow in the dtype (none in the float/double grids).
double atol_for(at::ScalarType t) {
  switch (t) {
    case at::kHalf:
      return 1e-5;
    case at::kBFloat16:
      return 1e-5;
    default:
      return 0.0;
  }
}

::testing::AssertionResult AllClose(const at::Tensor& actual, const at::Tensor& expected) {
  return AllClose(actual, expected, rtol_for(expected.scalar_type()), atol_for(expected.scalar_type()));
}

// The in-place (result-based) backward reads y: gx = g * (y + alpha * scale) * input_scale for x <= 0.
// Ours and ATen's y may differ by an ulp or two of expm1 (the CPU kernels' own expm1 is within 1.61 ulp),
// which the cancellation in y + alpha * scale turns into an absolute error of a few ulps of alpha * scale,
// times |g| (and |v| in the second order). Allowed on top of the dtype's tolerance.
double result_backward_atol(const EluCase& c, at::ScalarType dtype, double g_max, double v_max = 1.0) {
  const double eps = dtype == at::kDouble ? DBL_EPSILON : FLT_EPSILON;
  return 4 * eps * std::abs(c.alpha * c.scale) * std::max(1.0, c.input_scale) * g_max * std::max(1.0, v_max) +
         atol_for(dtype);
}

// The closed form, in double: x > 0 ? scale * x : scale * alpha * expm1(input_scale * x).
double elu_closed_form(double x, const EluCase& c) {
  return x > 0 ? c.scale * x : c.scale * c.alpha * std::expm1(c.input_scale * x);
}

at::Tensor elu_reference(const at::Tensor& x, const EluCase& c) {
  at::Tensor xd = x.detach().to(at::kCPU).to(at::kDouble).contiguous();
  at::Tensor out = at::empty_like(xd);
  const double* px = xd.data_ptr<double>();
  double* po = out.data_ptr<double>();
  for (int64_t i = 0; i < xd.numel(); ++i) po[i] = elu_closed_form(px[i], c);
  return out;
}

// The edge values, repeated past the vector width and a tail so that both the vector loop and
// the scalar remainder see each of them.
at::Tensor edge_values(at::ScalarType dtype, const at::Device& device = at::kCPU) {
  const double inf = std::numeric_limits<double>::infinity();
  const double nan = std::numeric_limits<double>::quiet_NaN();
  const std::vector<double> edges = {0.0, -0.0, nan, inf, -inf, 1e-3, -1e-3, 1.0, -1.0, 30.0, -30.0};
  std::vector<double> v;
  for (int rep = 0; rep < 9; ++rep) v.insert(v.end(), edges.begin(), edges.end());  // 99 elements
  return torch::tensor(v, torch::dtype(at::kDouble)).to(device, dtype);
}

at::Tensor random_input(at::ScalarType dtype, const at::Device& device = at::kCPU) {
  // Odd sizes leave a scalar tail after the vector loop; values span both branches.
  return (torch::randn({37, 129}, torch::dtype(at::kDouble)) * 4.0).to(device, dtype);
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
// ELU over (alpha, scale, input_scale) x {float, double}

class EluTest : public ::testing::TestWithParam<std::tuple<EluCase, at::ScalarType>> {
 protected:
  void SetUp() override { torch::manual_seed(0); }
  const EluCase& c() const { return std::get<0>(GetParam()); }
  at::ScalarType dtype() const { return std::get<1>(GetParam()); }
};

TEST_P(EluTest, ForwardMatchesClosedForm) {
  const at::Tensor x = random_input(dtype());
  const at::Tensor y = torch_ext::elu(x, c().alpha, c().scale, c().input_scale);
  EXPECT_EQ(y.scalar_type(), dtype());
  EXPECT_EQ(y.sizes(), x.sizes());
  EXPECT_TRUE(AllClose(y, elu_reference(x, c()), rtol_for(dtype()), 0.0));
}

TEST_P(EluTest, ForwardLargeParallelAndTiny) {
  // Above at::parallel_for's grain size, and tiny negatives where exp(x) - 1 would cancel.
  at::Tensor x = (torch::randn({100003}, torch::dtype(at::kDouble)) * 3.0).to(dtype());
  x.narrow(0, 0, 1000).mul_(1e-6);
  const at::Tensor y = torch_ext::elu(x, c().alpha, c().scale, c().input_scale);
  EXPECT_TRUE(AllClose(y, elu_reference(x, c()), rtol_for(dtype()), 0.0));
}

TEST_P(EluTest, ForwardNonContiguous) {
  const at::Tensor base = random_input(dtype());
  const at::Tensor x = base.t();  // strides (1, 129)
  const at::Tensor y = torch_ext::elu(x, c().alpha, c().scale, c().input_scale);
  const at::Tensor ref = at::elu(x, c().alpha, c().scale, c().input_scale);
  EXPECT_EQ(y.sizes(), ref.sizes());
  EXPECT_EQ(y.strides(), ref.strides());
  EXPECT_TRUE(AllClose(y, elu_reference(x, c()), rtol_for(dtype()), 0.0));

  const at::Tensor strided = base.slice(1, 0, 129, 2);  // every other column
  EXPECT_TRUE(AllClose(torch_ext::elu(strided, c().alpha, c().scale, c().input_scale),
                       elu_reference(strided, c()), rtol_for(dtype()), 0.0));
}

TEST_P(EluTest, ForwardEdgesExact) {
  const at::Tensor x = edge_values(dtype());
  const at::Tensor y = torch_ext::elu(x, c().alpha, c().scale, c().input_scale);
  const auto yv = to_vector(y);
  const auto xv = to_vector(x);
  for (size_t i = 0; i < xv.size(); ++i) {
    const double xi = xv[i];
    if (std::isnan(xi)) {
      EXPECT_TRUE(std::isnan(yv[i])) << "elu(NaN) at " << i << " = " << yv[i];
    } else if (xi == 0.0) {
      // elu(+0) = scale*alpha*expm1(+0) = +0; elu(-0) = scale*alpha*(-0): -0 for alpha > 0.
      const double expected = elu_closed_form(xi, c());
      EXPECT_EQ(yv[i], 0.0) << "x = " << xi << " at " << i;
      EXPECT_EQ(std::signbit(yv[i]), std::signbit(expected))
          << "elu(" << (std::signbit(xi) ? "-0" : "+0") << ") at " << i << " = " << yv[i] << ", expected "
          << expected;
    } else if (std::isinf(xi) && xi > 0) {
      EXPECT_EQ(yv[i], std::numeric_limits<double>::infinity()) << "elu(+inf) at " << i;
    } else if (std::isinf(xi)) {
      // elu(-inf) = -alpha*scale, the product taken in the dtype as ATen does.
      EXPECT_NEAR(yv[i], -c().alpha * c().scale, rtol_for(dtype()) * std::abs(c().alpha * c().scale))
          << "elu(-inf) at " << i;
    }
  }
  // And the whole edge tensor bit for bit as ATen's (NaN for NaN, signed zeros, -alpha*scale at -inf).
  // NB: for alpha < 0 the sign of a zero result differs between ATen's CPU kernel (x >= 0 takes
  // x * scale: +-0 -> +-0) and its CUDA kernel and the closed form (x > 0: +-0 -> -+0); the closed
  // form, checked above, decides, so ATen is matched there up to the sign of zero.
  EXPECT_TRUE(Identical(y, at::elu(x, c().alpha, c().scale, c().input_scale), /*zero_sign=*/c().alpha >= 0));
}

TEST_P(EluTest, BackwardSumMatchesATen) {
  const at::Tensor data = random_input(dtype());
  const at::Tensor x = data.clone().requires_grad_();
  torch_ext::elu(x, c().alpha, c().scale, c().input_scale).sum().backward();
  const at::Tensor x_ref = data.clone().requires_grad_();
  at::elu(x_ref, c().alpha, c().scale, c().input_scale).sum().backward();
  ASSERT_TRUE(x.grad().defined());
  EXPECT_TRUE(AllClose(x.grad(), x_ref.grad()));
}

TEST_P(EluTest, BackwardRandomGradMatchesATen) {
  const at::Tensor data = random_input(dtype());
  const at::Tensor g = torch::randn_like(data);
  const at::Tensor x = data.clone().requires_grad_();
  const at::Tensor y = torch_ext::elu(x, c().alpha, c().scale, c().input_scale);
  const at::Tensor gx = torch::autograd::grad({y}, {x}, {g})[0];
  const at::Tensor x_ref = data.clone().requires_grad_();
  const at::Tensor y_ref = at::elu(x_ref, c().alpha, c().scale, c().input_scale);
  const at::Tensor gx_ref = torch::autograd::grad({y_ref}, {x_ref}, {g})[0];
  EXPECT_TRUE(AllClose(gx, gx_ref));
}

TEST_P(EluTest, BackwardEdgesMatchATen) {
  const at::Tensor data = edge_values(dtype());
  const at::Tensor g = torch::full_like(data, 0.75);
  const at::Tensor gx = torch_ext::detail::elu_backward(g, c().alpha, c().scale, c().input_scale, false, data);
  // NB: at a NaN input ATen's vectorized CPU loop gives NaN (its blend) while its scalar tail and
  // its CUDA kernel give g * scale (b <= 0 is false); torch_ext gives NaN on every path.
  const at::Tensor nan = data.isnan();
  EXPECT_TRUE(AllClose(gx.masked_select(~nan),
                       at::elu_backward(g, c().alpha, c().scale, c().input_scale, false, data).masked_select(~nan)));
  const double rtol = rtol_for(dtype());
  const auto xv = to_vector(data);
  const auto gv = to_vector(gx);
  for (size_t i = 0; i < xv.size(); ++i) {
    if (std::isnan(xv[i])) {
      EXPECT_TRUE(std::isnan(gv[i])) << "d elu/dx at NaN, index " << i << " = " << gv[i];
    } else if (xv[i] == 0.0) {
      // The kink: x == +-0 takes the negative-side slope alpha * scale * input_scale (ATen's b <= 0).
      const double slope = 0.75 * c().alpha * c().scale * c().input_scale;
      EXPECT_NEAR(gv[i], slope, 4 * rtol * std::abs(slope)) << "d elu/dx at " << xv[i] << ", index " << i;
    }
  }
}

TEST_P(EluTest, ElUBackwardOpSelf) {
  const at::Tensor x = random_input(dtype());
  const at::Tensor g = torch::randn_like(x);
  const at::Tensor gx =
      torch_ext::detail::elu_backward(g, c().alpha, c().scale, c().input_scale, /*is_result=*/false, x);
  EXPECT_EQ(gx.scalar_type(), dtype());
  EXPECT_TRUE(AllClose(gx, at::elu_backward(g, c().alpha, c().scale, c().input_scale, false, x)));
}

TEST_P(EluTest, ElUBackwardOpResult) {
  const at::Tensor x = random_input(dtype());
  const at::Tensor g = torch::randn_like(x);
  const at::Tensor y = at::elu(x, c().alpha, c().scale, c().input_scale);
  if (c().alpha < 0) {
    // ATen refuses it too: the result cannot be inverted for a negative slope.
    try {
      torch_ext::detail::elu_backward(g, c().alpha, c().scale, c().input_scale, /*is_result=*/true, y);
      ADD_FAILURE() << "elu_backward(is_result=true) accepted alpha = " << c().alpha;
    } catch (const c10::Error& e) {
      EXPECT_NE(std::string(e.what()).find("negative slope"), std::string::npos) << e.what();
    }
    return;
  }
  const at::Tensor gx =
      torch_ext::detail::elu_backward(g, c().alpha, c().scale, c().input_scale, /*is_result=*/true, y);
  EXPECT_TRUE(AllClose(gx, at::elu_backward(g, c().alpha, c().scale, c().input_scale, true, y)));
}

TEST_P(EluTest, InplaceEqualsOutOfPlaceAndReturnsSelf) {
  const at::Tensor x = random_input(dtype());
  const at::Tensor expected = torch_ext::elu(x, c().alpha, c().scale, c().input_scale);
  at::Tensor inplace = x.clone();
  const void* storage = inplace.data_ptr();
  at::Tensor& ret = torch_ext::elu_(inplace, c().alpha, c().scale, c().input_scale);
  EXPECT_EQ(&ret, &inplace);
  EXPECT_TRUE(ret.is_same(inplace));
  EXPECT_EQ(inplace.data_ptr(), storage);
  EXPECT_TRUE(Identical(inplace, expected));
}

TEST_P(EluTest, InplaceOnView) {
  // A non-contiguous view: only its elements change, the rest of the base does not.
  const at::Tensor data = random_input(dtype());
  at::Tensor base = data.clone();
  at::Tensor view = base.slice(1, 0, 129, 2);
  torch_ext::elu_(view, c().alpha, c().scale, c().input_scale);
  at::Tensor expected = data.clone();
  expected.slice(1, 0, 129, 2).copy_(torch_ext::elu(data.slice(1, 0, 129, 2), c().alpha, c().scale, c().input_scale));
  EXPECT_TRUE(Identical(base, expected));
}

TEST_P(EluTest, InplaceBackwardMatchesATen) {
  const at::Tensor data = random_input(dtype());
  const at::Tensor g = torch::randn_like(data);
  const at::Tensor leaf = data.clone().requires_grad_();
  at::Tensor y = leaf.clone();
  torch_ext::elu_(y, c().alpha, c().scale, c().input_scale);
  if (c().alpha < 0) {
    // The in-place form saves the result; a negative slope cannot be inverted (ATen refuses too).
    EXPECT_THROW(y.backward(g), c10::Error);
    return;
  }
  y.backward(g);
  const at::Tensor leaf_ref = data.clone().requires_grad_();
  at::Tensor y_ref = leaf_ref.clone();
  at::elu_(y_ref, c().alpha, c().scale, c().input_scale);
  y_ref.backward(g);
  EXPECT_TRUE(AllClose(y, y_ref));
  EXPECT_TRUE(AllClose(leaf.grad(), leaf_ref.grad(), rtol_for(dtype()),
                       result_backward_atol(c(), dtype(), g.abs().max().item<double>())));
}

TEST_P(EluTest, DoubleBackwardMatchesATen) {
  const at::Tensor data = random_input(dtype());
  const at::Tensor g_data = torch::randn_like(data);
  const at::Tensor v = torch::randn_like(data);

  auto second_order = [&](bool ours) {
    const at::Tensor x = data.clone().requires_grad_();
    const at::Tensor g = g_data.clone().requires_grad_();
    const at::Tensor y = ours ? torch_ext::elu(x, c().alpha, c().scale, c().input_scale)
                              : at::elu(x, c().alpha, c().scale, c().input_scale);
    const at::Tensor gx = torch::autograd::grad({y}, {x}, {g}, /*retain_graph=*/true, /*create_graph=*/true)[0];
    EXPECT_TRUE(gx.requires_grad());
    return std::make_tuple(gx, torch::autograd::grad({(gx * v).sum()}, {x, g}));
  };
  const auto [gx, gg] = second_order(true);
  const auto [gx_ref, gg_ref] = second_order(false);
  EXPECT_TRUE(AllClose(gx, gx_ref));
  EXPECT_TRUE(AllClose(gg[0], gg_ref[0])) << "d/dx";
  EXPECT_TRUE(AllClose(gg[1], gg_ref[1])) << "d/dgrad_output";
}

TEST_P(EluTest, DoubleBackwardInplaceMatchesATen) {
  if (c().alpha < 0) GTEST_SKIP() << "in-place backward refuses a negative alpha";
  const at::Tensor data = random_input(dtype());
  const at::Tensor g_data = torch::randn_like(data);
  const at::Tensor v = torch::randn_like(data);

  auto second_order = [&](bool ours) {
    const at::Tensor x = data.clone().requires_grad_();
    const at::Tensor g = g_data.clone().requires_grad_();
    at::Tensor y = x.clone();
    if (ours) {
      torch_ext::elu_(y, c().alpha, c().scale, c().input_scale);
    } else {
      at::elu_(y, c().alpha, c().scale, c().input_scale);
    }
    const at::Tensor gx = torch::autograd::grad({y}, {x}, {g}, /*retain_graph=*/true, /*create_graph=*/true)[0];
    return std::make_tuple(gx, torch::autograd::grad({(gx * v).sum()}, {x, g}));
  };
  const auto [gx, gg] = second_order(true);
  const auto [gx_ref, gg_ref] = second_order(false);
  const double g_max = g_data.abs().max().item<double>();
  const double v_max = v.abs().max().item<double>();
  EXPECT_TRUE(AllClose(gx, gx_ref, rtol_for(dtype()), result_backward_atol(c(), dtype(), g_max)));
  EXPECT_TRUE(AllClose(gg[0], gg_ref[0], rtol_for(dtype()), result_backward_atol(c(), dtype(), g_max, v_max)))
      << "d/dx";
  EXPECT_TRUE(AllClose(gg[1], gg_ref[1], rtol_for(dtype()), result_backward_atol(c(), dtype(), 1.0, v_max)))
      << "d/dgrad_output";
}

TEST_P(EluTest, CudaMatchesATen) {
  if (!torch::cuda::is_available()) GTEST_SKIP() << "no CUDA device";
  const at::Device cuda(at::kCUDA, 0);
  const at::Tensor x = random_input(dtype(), cuda);
  const at::Tensor y = torch_ext::elu(x, c().alpha, c().scale, c().input_scale);
  EXPECT_TRUE(y.is_cuda());
  EXPECT_TRUE(AllClose(y, elu_reference(x, c()), rtol_for(dtype()), 0.0));
  EXPECT_TRUE(Identical(torch_ext::elu(edge_values(dtype(), cuda), c().alpha, c().scale, c().input_scale),
                        at::elu(edge_values(dtype(), cuda), c().alpha, c().scale, c().input_scale)));

  // Backward through autograd and the backward op directly, both forms.
  const at::Tensor g = torch::randn_like(x);
  const at::Tensor xg = x.clone().requires_grad_();
  torch_ext::elu(xg, c().alpha, c().scale, c().input_scale).backward(g);
  const at::Tensor xg_ref = x.clone().requires_grad_();
  at::elu(xg_ref, c().alpha, c().scale, c().input_scale).backward(g);
  EXPECT_TRUE(AllClose(xg.grad(), xg_ref.grad()));
  EXPECT_TRUE(AllClose(torch_ext::detail::elu_backward(g, c().alpha, c().scale, c().input_scale, false, x),
                       at::elu_backward(g, c().alpha, c().scale, c().input_scale, false, x)));
  if (c().alpha >= 0) {
    const at::Tensor y_ref = at::elu(x, c().alpha, c().scale, c().input_scale);
    EXPECT_TRUE(AllClose(torch_ext::detail::elu_backward(g, c().alpha, c().scale, c().input_scale, true, y_ref),
                         at::elu_backward(g, c().alpha, c().scale, c().input_scale, true, y_ref)));
  }

  // In place, on the same device, and a non-contiguous input.
  at::Tensor inplace = x.clone();
  EXPECT_TRUE(torch_ext::elu_(inplace, c().alpha, c().scale, c().input_scale).is_same(inplace));
  EXPECT_TRUE(Identical(inplace, y));
  EXPECT_TRUE(AllClose(torch_ext::elu(x.t(), c().alpha, c().scale, c().input_scale),
                       elu_reference(x.t(), c()), rtol_for(dtype()), 0.0));
}

TEST_P(EluTest, CudaDoubleBackwardMatchesATen) {
  if (!torch::cuda::is_available()) GTEST_SKIP() << "no CUDA device";
  const at::Device cuda(at::kCUDA, 0);
  const at::Tensor data = random_input(dtype(), cuda);
  const at::Tensor g_data = torch::randn_like(data);
  const at::Tensor v = torch::randn_like(data);
  auto second_order = [&](bool ours) {
    const at::Tensor x = data.clone().requires_grad_();
    const at::Tensor g = g_data.clone().requires_grad_();
    const at::Tensor y = ours ? torch_ext::elu(x, c().alpha, c().scale, c().input_scale)
                              : at::elu(x, c().alpha, c().scale, c().input_scale);
    const at::Tensor gx = torch::autograd::grad({y}, {x}, {g}, true, true)[0];
    return torch::autograd::grad({(gx * v).sum()}, {x, g});
  };
  const auto gg = second_order(true);
  const auto gg_ref = second_order(false);
  EXPECT_TRUE(AllClose(gg[0], gg_ref[0])) << "d/dx";
  EXPECT_TRUE(AllClose(gg[1], gg_ref[1])) << "d/dgrad_output";
}

INSTANTIATE_TEST_SUITE_P(Grid, EluTest,
                         ::testing::Combine(::testing::ValuesIn(kEluCases),
                                            ::testing::Values(at::kFloat, at::kDouble)),
                         [](const ::testing::TestParamInfo<EluTest::ParamType>& info) {
                           return std::string(std::get<0>(info.param).name) + "_" +
                                  dtype_name(std::get<1>(info.param));
                         });

// ---------------------------------------------------------------------------------------------
// Reduced precision: half and bfloat16 against ATen (both compute in float and round once).

class EluReducedTest : public ::testing::TestWithParam<std::tuple<EluCase, at::ScalarType>> {
 protected:
  void SetUp() override { torch::manual_seed(0); }
  const EluCase& c() const { return std::get<0>(GetParam()); }
  at::ScalarType dtype() const { return std::get<1>(GetParam()); }
};

TEST_P(EluReducedTest, ForwardMatchesATen) {
  const at::Tensor x = random_input(dtype());
  const at::Tensor y = torch_ext::elu(x, c().alpha, c().scale, c().input_scale);
  EXPECT_EQ(y.scalar_type(), dtype());
  EXPECT_TRUE(AllClose(y, at::elu(x, c().alpha, c().scale, c().input_scale)));
  // NB: for alpha < 0, ATen's CPU and CUDA kernels disagree on the sign of a zero result (see ForwardEdgesExact).
  EXPECT_TRUE(Identical(torch_ext::elu(edge_values(dtype()), c().alpha, c().scale, c().input_scale),
                        at::elu(edge_values(dtype()), c().alpha, c().scale, c().input_scale),
                        /*zero_sign=*/c().alpha >= 0));
}

TEST_P(EluReducedTest, BackwardMatchesATen) {
  const at::Tensor x = random_input(dtype());
  const at::Tensor g = torch::randn_like(x);
  EXPECT_TRUE(AllClose(torch_ext::detail::elu_backward(g, c().alpha, c().scale, c().input_scale, false, x),
                       at::elu_backward(g, c().alpha, c().scale, c().input_scale, false, x)));
  const at::Tensor xg = x.clone().requires_grad_();
  torch_ext::elu(xg, c().alpha, c().scale, c().input_scale).backward(g);
  const at::Tensor xg_ref = x.clone().requires_grad_();
  at::elu(xg_ref, c().alpha, c().scale, c().input_scale).backward(g);
  EXPECT_TRUE(AllClose(xg.grad(), xg_ref.grad()));
}

TEST_P(EluReducedTest, CudaForwardMatchesATen) {
  if (!torch::cuda::is_available()) GTEST_SKIP() << "no CUDA device";
  const at::Tensor x = random_input(dtype(), at::Device(at::kCUDA, 0));
  EXPECT_TRUE(AllClose(torch_ext::elu(x, c().alpha, c().scale, c().input_scale),
                       at::elu(x, c().alpha, c().scale, c().input_scale)));
  const at::Tensor g = torch::randn_like(x);
  EXPECT_TRUE(AllClose(torch_ext::detail::elu_backward(g, c().alpha, c().scale, c().input_scale, false, x),
                       at::elu_backward(g, c().alpha, c().scale, c().input_scale, false, x)));
}

INSTANTIATE_TEST_SUITE_P(Grid, EluReducedTest,
                         ::testing::Combine(::testing::ValuesIn(kEluCases),
                                            ::testing::Values(at::kHalf, at::kBFloat16)),
                         [](const ::testing::TestParamInfo<EluReducedTest::ParamType>& info) {
                           return std::string(std::get<0>(info.param).name) + "_" +
                                  dtype_name(std::get<1>(info.param));
                         });

// ---------------------------------------------------------------------------------------------
// CELU and SELU against ATen's, per dtype.

class CeluSeluTest : public ::testing::TestWithParam<at::ScalarType> {
 protected:
  void SetUp() override { torch::manual_seed(0); }
};

TEST_P(CeluSeluTest, CeluMatchesATen) {
  const at::Tensor data = random_input(GetParam());
  for (const double alpha : {1.0, 0.5, 2.0, 3.0, -1.5}) {
    SCOPED_TRACE("alpha = " + std::to_string(alpha));
    EXPECT_TRUE(AllClose(torch_ext::celu(data, alpha), at::celu(data, alpha)));
    at::Tensor inplace = data.clone();
    EXPECT_TRUE(torch_ext::celu_(inplace, alpha).is_same(inplace));
    EXPECT_TRUE(AllClose(inplace, at::celu(data, alpha)));

    const at::Tensor x = data.clone().requires_grad_();
    torch_ext::celu(x, alpha).sum().backward();
    const at::Tensor x_ref = data.clone().requires_grad_();
    at::celu(x_ref, alpha).sum().backward();
    EXPECT_TRUE(AllClose(x.grad(), x_ref.grad()));
  }
}

TEST_P(CeluSeluTest, SeluMatchesATen) {
  const at::Tensor data = random_input(GetParam());
  EXPECT_TRUE(AllClose(torch_ext::selu(data), at::selu(data)));
  EXPECT_TRUE(Identical(torch_ext::selu(edge_values(GetParam())), at::selu(edge_values(GetParam()))));
  at::Tensor inplace = data.clone();
  EXPECT_TRUE(torch_ext::selu_(inplace).is_same(inplace));
  EXPECT_TRUE(AllClose(inplace, at::selu(data)));

  const at::Tensor x = data.clone().requires_grad_();
  torch_ext::selu(x).sum().backward();
  const at::Tensor x_ref = data.clone().requires_grad_();
  at::selu(x_ref).sum().backward();
  EXPECT_TRUE(AllClose(x.grad(), x_ref.grad()));
}

TEST_P(CeluSeluTest, SeluIsEluWithSeluConstants) {
  const at::Tensor data = random_input(GetParam());
  EXPECT_TRUE(
      Identical(torch_ext::selu(data), torch_ext::elu(data, torch_ext::kSeluAlpha, torch_ext::kSeluScale, 1.0)));
}

INSTANTIATE_TEST_SUITE_P(Dtypes, CeluSeluTest, ::testing::Values(at::kFloat, at::kDouble, at::kHalf, at::kBFloat16),
                         [](const ::testing::TestParamInfo<at::ScalarType>& info) { return dtype_name(info.param); });

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

TEST(EluErrors, CeluAlphaZero) {
  const at::Tensor x = torch::randn({8});
  ExpectC10ErrorContaining([&] { torch_ext::celu(x, 0.0); }, "alpha cannot be 0");
  at::Tensor y = x.clone();
  ExpectC10ErrorContaining([&] { torch_ext::celu_(y, 0.0); }, "alpha cannot be 0");
  EXPECT_TRUE(Identical(y, x)) << "celu_ with alpha 0 must leave its input alone";
}

TEST(EluErrors, IntegerInputs) {
  for (const auto dtype : {at::kLong, at::kInt, at::kShort, at::kByte, at::kBool}) {
    SCOPED_TRACE(std::string("dtype ") + c10::toString(dtype));
    const at::Tensor x = torch::ones({5}, torch::dtype(dtype));
    ExpectC10ErrorContaining([&] { torch_ext::elu(x); }, "floating-point");
    at::Tensor y = x.clone();
    ExpectC10ErrorContaining([&] { torch_ext::elu_(y); }, "floating-point");
    ExpectC10ErrorContaining([&] { torch_ext::celu(x, 1.0); }, "floating-point");
    ExpectC10ErrorContaining([&] { torch_ext::selu(x); }, "floating-point");
    ExpectC10ErrorContaining([&] { torch_ext::detail::elu_backward(x, 1.0, 1.0, 1.0, false, x); }, "floating-point");
  }
}

TEST(EluErrors, BackwardMismatchedArguments) {
  const at::Tensor g = torch::randn({4, 5});
  ExpectC10ErrorContaining(
      [&] {
        torch_ext::detail::elu_backward(g, 1.0, 1.0, 1.0, false, torch::randn({5, 4}));
      },
      "shape");
  ExpectC10ErrorContaining(
      [&] { torch_ext::detail::elu_backward(g, 1.0, 1.0, 1.0, false, torch::randn({4, 5}, torch::kDouble)); }, "dtype");
}

TEST(EluErrors, InplaceOnExpandedView) {
  at::Tensor x = torch::randn({1, 4}).expand({3, 4});
  EXPECT_THROW(torch_ext::elu_(x), c10::Error);
}

// ---------------------------------------------------------------------------------------------
// Registration and build information.

TEST(Registration, OpsAreInTheDispatcher) {
  auto& d = c10::Dispatcher::singleton();
  for (const char* name : {"torch_ext::elu", "torch_ext::elu_", "torch_ext::elu_backward", "torch_ext::celu",
                           "torch_ext::celu_", "torch_ext::selu", "torch_ext::selu_"}) {
    EXPECT_TRUE(d.findSchema({name, ""}).has_value()) << name;
  }
  for (const char* name : {"torch_ext::elu", "torch_ext::elu_", "torch_ext::elu_backward"}) {
    const auto op = d.findSchema({name, ""});
    ASSERT_TRUE(op.has_value()) << name;
    EXPECT_TRUE(op->hasKernelForDispatchKey(c10::DispatchKey::CPU)) << name;
    EXPECT_TRUE(op->hasKernelForDispatchKey(c10::DispatchKey::Meta)) << name;
    // Registered for the Autograd alias key, which the dispatch table fills in for AutogradCPU.
    EXPECT_TRUE(op->hasKernelForDispatchKey(c10::DispatchKey::Autograd)) << name;
    EXPECT_TRUE(op->hasComputedKernelForDispatchKey(c10::DispatchKey::AutogradCPU)) << name;
  }
}

TEST(Registration, MetaKernelsGiveShapeAndStrides) {
  const at::Tensor x = torch::empty({6, 7}, torch::device(at::kMeta)).t();
  const at::Tensor y = torch_ext::elu(x, 1.0, 1.0, 1.0);
  EXPECT_TRUE(y.is_meta());
  EXPECT_EQ(y.sizes(), x.sizes());
  EXPECT_EQ(y.strides(), at::elu(torch::empty({6, 7}).t()).strides());
  EXPECT_EQ(torch_ext::detail::elu_backward(x, 1.0, 1.0, 1.0, false, x).sizes(), x.sizes());
}

TEST(BuildInfo, HasKeys) {
  const auto info = torch_ext::build_info();
  for (const char* key : {"version", "torch_version", "cuda", "cpu_capability"}) {
    ASSERT_EQ(info.count(key), 1u) << "build_info() lacks \"" << key << "\"";
    EXPECT_FALSE(info.at(key).empty()) << key;
  }
  EXPECT_EQ(info.at("torch_version"), TORCH_VERSION);
  EXPECT_TRUE(info.at("cuda") == "ON" || info.at("cuda") == "OFF") << info.at("cuda");
}

}  // namespace
