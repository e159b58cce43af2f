// C++ tests of softmax and log_softmax (and their backward ops) through the public C++ API, against
// ATen's at::softmax / at::log_softmax and _softmax_backward_data (the references), and against the
// shared formulas of math/softmax_math.h under ScalarMath (the policy the CUDA kernels run).
// Grids, not copies: the suites are parametrized over op x dtype.

#include <gtest/gtest.h>

#include "tensor_assertions.h"
#include <torch/torch.h>
#include <torch_ext/ops/math/softmax_math.h>
#include <torch_ext/torch_ext.h>

#include <ATen/core/dispatch/Dispatcher.h>

#include <cmath>
#include <iomanip>
#include <limits>
#include <optional>
#include <sstream>
#include <string>
#include <tuple>
#include <vector>

namespace {

using torch_ext_test::AllClose;
using torch_ext_test::Identical;
using torch_ext_test::to_vector;

constexpr double kInf = std::numeric_limits<double>::infinity();
constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();

// torch.testing.assert_close's defaults per dtype (float64 far tighter).
double rtol_for(at::ScalarType t) {
  switch (t) {
    case at::kDouble:
      return 1e-12;
    case at::kFloat:
      return 1.3e-6;
    case at::kHalf:
      return 1e-3;
    default:
      return 1.6e-2;
  }
}

double atol_for(at::ScalarType t) {
  switch (t) {
    case at::kDouble:
      return 1e-13;
    case at::kFloat:
      return 1e-5;
    case at::kHalf:
      return 1e-3;
    default:
      return 1e-5;
  }
}

::testing::AssertionResult AllClose(const at::Tensor& actual, const at::Tensor& expected) {
  return AllClose(actual, expected, rtol_for(actual.scalar_type()), atol_for(actual.scalar_type()));
}

double eps_of(at::ScalarType t) {
  switch (t) {
    case at::kDouble:
      return std::numeric_limits<double>::epsilon();
    case at::kFloat:
      return std::numeric_limits<float>::epsilon();
    case at::kHalf:
      return 0.0009765625;  // 2^-10
    default:
      return 0.0078125;  // bfloat16: 2^-7
  }
}

// The smallest normal value: outputs below it are subnormal, rounded to absolute steps.
double min_normal_of(at::ScalarType t) {
  switch (t) {
    case at::kDouble:
      return std::numeric_limits<double>::min();
    case at::kHalf:
      return 6.103515625e-05;  // 2^-14
    default:
      return std::numeric_limits<float>::min();  // float and bfloat16
  }
}

// The op-math epsilon: float's, or double's for double.
double op_eps(at::ScalarType t) { return t == at::kDouble ? eps_of(at::kDouble) : eps_of(at::kFloat); }

int64_t slice_len(const at::Tensor& t, int64_t dim) { return t.dim() == 0 ? 1 : t.size(dim); }

struct Op {
  const char* name;
  bool log;
  at::Tensor ours(const at::Tensor& x, int64_t dim, std::optional<at::ScalarType> dtype = std::nullopt) const {
    return log ? torch_ext::log_softmax(x, dim, dtype) : torch_ext::softmax(x, dim, dtype);
  }
  at::Tensor aten(const at::Tensor& x, int64_t dim, std::optional<at::ScalarType> dtype = std::nullopt) const {
    return log ? at::log_softmax(x, dim, dtype) : at::softmax(x, dim, dtype);
  }
  at::Tensor ours_backward(const at::Tensor& g, const at::Tensor& y, int64_t dim, at::ScalarType t) const {
    return log ? torch_ext::detail::log_softmax_backward(g, y, dim, t)
               : torch_ext::detail::softmax_backward(g, y, dim, t);
  }
  at::Tensor aten_backward(const at::Tensor& g, const at::Tensor& y, int64_t dim, at::ScalarType t) const {
    return log ? at::_log_softmax_backward_data(g, y, dim, t) : at::_softmax_backward_data(g, y, dim, t);
  }
  // In double from x's values, not rounded.
  at::Tensor reference(const at::Tensor& x, int64_t dim) const { return aten(x.to(at::kDouble), dim); }
};

// |actual - ref| within the error of the formula in op-math over slices of n elements and one
// rounding to actual's dtype (tests/test_softmax.py's error_bound): softmax, relative
// eps * (16 + 2 |log p| + 2 sqrt(n)); log_softmax, absolute eps * (8 + 4 |y| + 2 sqrt(n)); plus an ulp
// of the dtype and a few subnormal steps. ref: exact (double); values past the dtype's range compare with their
// rounding.
::testing::AssertionResult Accurate(const Op& op, const at::Tensor& actual, const at::Tensor& ref, int64_t n) {
  const at::ScalarType t = actual.scalar_type();
  const auto a = to_vector(actual);
  const auto e = to_vector(ref);
  const auto e_rounded = to_vector(ref.to(t));
  const double eps = op_eps(t);
  const double sum_err = 2.0 * std::sqrt(static_cast<double>(n));
  int64_t bad = 0;
  std::ostringstream msg;
  for (size_t i = 0; i < a.size(); ++i) {
    const double ei = std::isinf(e_rounded[i]) ? e_rounded[i] : e[i];
    bool ok;
    if (!std::isfinite(a[i]) || !std::isfinite(ei)) {
      ok = (std::isnan(a[i]) && std::isnan(ei)) || a[i] == ei;
    } else {
      const double ae = std::abs(ei);
      double bound = op.log ? eps * (8 + 4 * ae + sum_err)
                            : (ae > 0 ? ae * eps * (16 + 2 * std::abs(std::log(ae)) + sum_err) : 0.0);
      bound += eps_of(t) * ae + 4 * min_normal_of(t) * eps_of(t);
      ok = std::abs(a[i] - ei) <= bound;
    }
    if (!ok && bad++ < 5) {
      msg << "\n  [" << i << "] actual " << std::setprecision(17) << a[i] << " exact " << ei;
    }
  }
  if (bad) {
    return ::testing::AssertionFailure() << bad << " of " << a.size() << " elements off:" << msg.str();
  }
  return ::testing::AssertionSuccess();
}

// Parity with ATen's forward: the dtype's tolerance; ATen's half and bfloat16 log_softmax rounds
// log(sum) to the dtype, an ulp of log(sum) and of |y| more.
::testing::AssertionResult MatchesATenForward(const Op& op, const at::Tensor& y, const at::Tensor& expected,
                                              int64_t n) {
  const at::ScalarType t = y.scalar_type();
  double atol = atol_for(t);
  if (op.log && (t == at::kHalf || t == at::kBFloat16)) {
    const double max_abs = at::nan_to_num(expected.to(at::kDouble), 0.0, 0.0, 0.0).abs().max().item<double>();
    atol += eps_of(t) * (max_abs + std::log(std::max<int64_t>(n, 2)) + 1);
  }
  return AllClose(y, expected, rtol_for(t), atol);
}

// The largest term of a backward result, |g_i| + p_i * sum |g| (p = y, or exp(y) for log_softmax),
// times 4 ulps: what two backward results may differ by when computed from outputs y an ulp of y's
// dtype apart (ours and ATen's), whatever their sum orders. For log_softmax an ulp of y moves
// exp(y) by exp(y) * eps * |y|.
double backward_margin(const Op& op, const at::Tensor& g, const at::Tensor& y, int64_t dim) {
  const at::Tensor gd = g.to(at::kDouble).abs();
  at::Tensor p = y.to(at::kDouble);
  at::Tensor w = op.log ? p.exp() * (p.abs() + 1) : p;
  w = at::nan_to_num(w, 0.0, 0.0, 0.0);
  const double scale = (gd + w * gd.sum({dim}, /*keepdim=*/true)).max().item<double>();
  return 4 * std::max(eps_of(y.scalar_type()), op_eps(g.scalar_type())) * scale;
}

std::ostream& operator<<(std::ostream& os, const Op& op) { return os << op.name; }

const Op kOps[] = {{"Softmax", false}, {"LogSoftmax", true}};

// Shapes and dims covering both kernels (last dim, and [outer, dim, inner]), long rows and 0-d.
struct Case {
  std::vector<int64_t> shape;
  int64_t dim;
};

const std::vector<Case> kCases = {
    {{37, 129}, 1}, {{37, 129}, 0},  {{37, 129}, -1}, {{2, 3, 4, 5}, 2}, {{2, 3, 4, 5}, -4}, {{3, 20000}, 1},
    {{5, 7, 33}, 1}, {{1031}, 0},    {{}, 0},         {{}, -1},          {{6, 1}, 1},        {{1, 6}, 0},
};

std::string shape_str(const Case& c) {
  std::string s = "[";
  for (size_t i = 0; i < c.shape.size(); ++i) s += (i ? "," : "") + std::to_string(c.shape[i]);
  return s + "] dim " + std::to_string(c.dim);
}

class SoftmaxTest : public ::testing::TestWithParam<std::tuple<Op, at::ScalarType>> {
 protected:
  void SetUp() override { torch::manual_seed(0); }
  const Op& op() const { return std::get<0>(GetParam()); }
  at::ScalarType dtype() const { return std::get<1>(GetParam()); }
  at::Tensor input(const std::vector<int64_t>& shape) const {
    return (torch::randn(shape, torch::dtype(at::kDouble)) * 4.0).to(dtype());
  }
};

TEST_P(SoftmaxTest, ForwardMatchesATen) {
  for (const auto& c : kCases) {
    SCOPED_TRACE(shape_str(c));
    const at::Tensor x = input(c.shape);
    const at::Tensor y = op().ours(x, c.dim);
    EXPECT_EQ(y.scalar_type(), dtype());
    EXPECT_EQ(y.sizes(), x.sizes());
    EXPECT_TRUE(y.is_contiguous());
    EXPECT_TRUE(MatchesATenForward(op(), y, op().aten(x, c.dim), slice_len(x, c.dim)));
    EXPECT_TRUE(Accurate(op(), y, op().reference(x, c.dim), slice_len(x, c.dim)));
  }
}

TEST_P(SoftmaxTest, ForwardNonContiguous) {
  const at::Tensor x = input({40, 30}).t();
  for (const int64_t dim : {0, 1}) {
    const at::Tensor y = op().ours(x, dim);
    EXPECT_TRUE(y.is_contiguous());
    EXPECT_TRUE(MatchesATenForward(op(), y, op().aten(x, dim), x.size(dim))) << "dim " << dim;
    EXPECT_TRUE(Accurate(op(), y, op().reference(x, dim), x.size(dim))) << "dim " << dim;
  }
}

TEST_P(SoftmaxTest, DtypeArgument) {
  const at::Tensor x = input({9, 70});
  for (const auto out : {at::kFloat, at::kDouble, at::kHalf, at::kBFloat16}) {
    SCOPED_TRACE(c10::toString(out));
    for (const int64_t dim : {0, 1}) {
      const at::Tensor y = op().ours(x, dim, out);
      EXPECT_EQ(y.scalar_type(), out);
      EXPECT_TRUE(MatchesATenForward(op(), y, op().aten(x, dim, out), x.size(dim)));
      EXPECT_TRUE(Accurate(op(), y, op().reference(x.to(out), dim), x.size(dim)));
    }
  }
}

TEST_P(SoftmaxTest, SpecialRows) {
  // A NaN row, a +inf row and an all -inf row are NaN; -inf beside a finite max gives 0 (-inf).
  const at::Tensor x = torch::tensor({1.0, 2.0, kNaN, 0.0,       //
                                      1.0, kInf, 2.0, 3.0,       //
                                      -kInf, -kInf, -kInf, -kInf,  //
                                      -kInf, 1.0, -kInf, 2.0},
                                     torch::dtype(at::kDouble))
                           .view({4, 4})
                           .to(dtype());
  for (const auto& [t, dim] : {std::make_tuple(x, int64_t{1}), std::make_tuple(x.t().contiguous(), int64_t{0})}) {
    const at::Tensor y = op().ours(t, dim);
    EXPECT_TRUE(MatchesATenForward(op(), y, op().aten(t, dim), 4));
    const auto rows = to_vector(dim == 1 ? y : y.t());
    for (int i = 0; i < 12; ++i) EXPECT_TRUE(std::isnan(rows[i])) << i;
    EXPECT_EQ(rows[12], op().log ? -kInf : 0.0);
    EXPECT_EQ(rows[14], op().log ? -kInf : 0.0);
    EXPECT_FALSE(std::isnan(rows[13]) || std::isnan(rows[15]));
  }
}

TEST_P(SoftmaxTest, BackwardOpMatchesATen) {
  for (const auto& c : kCases) {
    SCOPED_TRACE(shape_str(c));
    const at::Tensor y = op().aten(input(c.shape), c.dim);
    const at::Tensor g = torch::randn_like(y);
    const at::Tensor gx = op().ours_backward(g, y, c.dim, dtype());
    EXPECT_EQ(gx.scalar_type(), dtype());
    EXPECT_TRUE(AllClose(gx, op().aten_backward(g, y, c.dim, dtype())));
  }
}

TEST_P(SoftmaxTest, AutogradMatchesATen) {
  for (const auto& c : kCases) {
    SCOPED_TRACE(shape_str(c));
    const at::Tensor data = input(c.shape);
    const at::Tensor g = torch::randn_like(data);
    const at::Tensor x = data.clone().requires_grad_();
    const at::Tensor x_ref = data.clone().requires_grad_();
    const at::Tensor y = op().ours(x, c.dim);
    ASSERT_TRUE(y.requires_grad());
    y.backward(g);
    op().aten(x_ref, c.dim).backward(g);
    // Autograd runs our backward op on our output; ATen's on its own output.
    EXPECT_TRUE(Identical(x.grad(), op().ours_backward(g, y.detach(), c.dim, dtype())));
    EXPECT_TRUE(AllClose(x.grad(), x_ref.grad(), rtol_for(dtype()),
                         atol_for(dtype()) + backward_margin(op(), g, y.detach(), c.dim)));
  }
}

TEST_P(SoftmaxTest, DoubleBackwardMatchesATen) {
  const at::Tensor data = input({5, 33});
  const at::Tensor g_data = torch::randn_like(data);
  const at::Tensor v = torch::randn_like(data);
  for (const int64_t dim : {0, 1}) {
    auto second_order = [&](bool ours) {
      const at::Tensor x = data.clone().requires_grad_();
      const at::Tensor g = g_data.clone().requires_grad_();
      const at::Tensor y = ours ? op().ours(x, dim) : op().aten(x, dim);
      const at::Tensor gx = torch::autograd::grad({y}, {x}, {g}, /*retain_graph=*/true, /*create_graph=*/true)[0];
      EXPECT_TRUE(gx.requires_grad());
      return std::make_tuple(gx, torch::autograd::grad({(gx * v).sum()}, {x, g}));
    };
    const auto [gx, gg] = second_order(true);
    const auto [gx_ref, gg_ref] = second_order(false);
    // Second-order terms are sums of products of g, y and v: an absolute margin of a few ulps of
    // their scale.
    const double margin = backward_margin(op(), g_data, op().aten(data, dim), dim);
    const double scale = 4 * eps_of(dtype()) * (g_data.abs().max().item<double>() + 1) *
                         (v.abs().max().item<double>() + 1) * 4;
    EXPECT_TRUE(AllClose(gx, gx_ref, rtol_for(dtype()), atol_for(dtype()) + margin)) << "dim " << dim;
    EXPECT_TRUE(AllClose(gg[0], gg_ref[0], rtol_for(dtype()), atol_for(dtype()) + scale)) << "d/dx, dim " << dim;
    EXPECT_TRUE(AllClose(gg[1], gg_ref[1], rtol_for(dtype()), atol_for(dtype()) + scale))
        << "d/dgrad_output, dim " << dim;
  }
}

TEST_P(SoftmaxTest, ThreadCountIndependent) {
  const at::Tensor x = input({3, 30000});
  const at::Tensor x2 = input({4, 300, 70});
  const int threads = at::get_num_threads();
  std::vector<at::Tensor> first;
  for (const int n : {1, 2, 3}) {
    at::set_num_threads(n);
    std::vector<at::Tensor> outs = {op().ours(x, 1), op().ours(x2, 1), op().ours(x, 0)};
    if (first.empty()) {
      first = outs;
    } else {
      for (size_t i = 0; i < outs.size(); ++i) EXPECT_TRUE(Identical(outs[i], first[i])) << n << " threads, " << i;
    }
  }
  at::set_num_threads(threads);
}

TEST_P(SoftmaxTest, CudaMatchesATen) {
  if (!torch::cuda::is_available()) GTEST_SKIP() << "no CUDA device";
  for (const auto& c : kCases) {
    SCOPED_TRACE(shape_str(c));
    const at::Tensor x = input(c.shape).cuda();
    EXPECT_TRUE(AllClose(op().ours(x, c.dim), op().aten(x, c.dim)));
  }
}

INSTANTIATE_TEST_SUITE_P(Grid, SoftmaxTest,
                         ::testing::Combine(::testing::ValuesIn(kOps),
                                            ::testing::Values(at::kFloat, at::kDouble, at::kHalf, at::kBFloat16)),
                         [](const auto& info) {
                           return std::string(std::get<0>(info.param).name) + "_" +
                                  c10::toString(std::get<1>(info.param));
                         });

// ---------------------------------------------------------------------------------------------
// The formulas under ScalarMath, on the host: an online pass and merges of partial states in any
// split give the two-pass (max, sum); the outputs and backward formulas against double.

template <typename T>
void CheckScalarPolicy() {
  using torch_ext::math::ScalarMath;
  const std::vector<double> xs = {0.5, -3.0, 7.25, 7.25, -1e4, 1e-3, 2.0, -40.0, 6.0, 0.0, -kInf, 3.5};
  double m = -kInf;
  for (const double x : xs) m = std::max(m, x);
  double s = 0.0;
  for (const double x : xs) s += std::exp(x - m);
  for (size_t split = 0; split <= xs.size(); ++split) {
    auto a = torch_ext::math::softmax_init<T>();
    auto b = torch_ext::math::softmax_init<T>();
    for (size_t i = 0; i < xs.size(); ++i) {
      auto& st = i < split ? a : b;
      torch_ext::math::softmax_update<ScalarMath>(st.max, st.sum, static_cast<T>(xs[i]));
    }
    torch_ext::math::softmax_merge<ScalarMath>(a.max, a.sum, b.max, b.sum);
    EXPECT_EQ(static_cast<double>(a.max), m) << "split " << split;
    EXPECT_NEAR(static_cast<double>(a.sum), s, 8 * std::numeric_limits<T>::epsilon() * s) << "split " << split;
  }
  const T inv = T(1) / static_cast<T>(s);
  const T log_sum = std::log(static_cast<T>(s));
  for (const double x : xs) {
    const double p = std::exp(x - m) / s;
    EXPECT_NEAR(torch_ext::math::softmax_output<ScalarMath>(static_cast<T>(x), static_cast<T>(m), inv), p,
                4 * std::numeric_limits<T>::epsilon() * p);
    const double lp = (x - m) - std::log(s);
    const double lo = torch_ext::math::log_softmax_output<ScalarMath>(static_cast<T>(x), static_cast<T>(m), log_sum);
    if (std::isinf(lp)) {
      EXPECT_EQ(lo, lp);
    } else {
      EXPECT_NEAR(lo, lp, 4 * std::numeric_limits<T>::epsilon() * (std::abs(lp) + 1));
    }
  }
  // Special states: all -inf stays (-inf, 0) and its outputs are NaN; a NaN or +inf makes the sum NaN.
  auto st = torch_ext::math::softmax_init<T>();
  for (int i = 0; i < 3; ++i) torch_ext::math::softmax_update<ScalarMath>(st.max, st.sum, -std::numeric_limits<T>::infinity());
  EXPECT_EQ(st.sum, T(0));
  EXPECT_TRUE(std::isnan(torch_ext::math::softmax_output<ScalarMath>(st.max, st.max, T(1) / st.sum)));
  for (const T bad : {std::numeric_limits<T>::quiet_NaN(), std::numeric_limits<T>::infinity()}) {
    auto sb = torch_ext::math::softmax_init<T>();
    torch_ext::math::softmax_update<ScalarMath>(sb.max, sb.sum, T(1));
    torch_ext::math::softmax_update<ScalarMath>(sb.max, sb.sum, bad);
    torch_ext::math::softmax_update<ScalarMath>(sb.max, sb.sum, T(2));
    EXPECT_TRUE(std::isnan(sb.sum));
  }
  // Backward formulas.
  EXPECT_EQ(torch_ext::math::softmax_backward_output<ScalarMath>(T(2), T(0.25), T(0.5)), T(0.375));
  EXPECT_NEAR(torch_ext::math::log_softmax_backward_output<ScalarMath>(T(2), T(std::log(0.25)), T(4)), 1.0,
              4 * std::numeric_limits<T>::epsilon());
}

TEST(SoftmaxMath, ScalarPolicyFloat) { CheckScalarPolicy<float>(); }
TEST(SoftmaxMath, ScalarPolicyDouble) { CheckScalarPolicy<double>(); }

// ---------------------------------------------------------------------------------------------
// Errors: c10::Error with words that say what went wrong.

template <typename E = c10::Error, typename F>
void ExpectErrorContaining(F&& f, const std::string& needle) {
  try {
    f();
    ADD_FAILURE() << "expected an error containing \"" << needle << "\", nothing was thrown";
  } catch (const E& e) {
    EXPECT_NE(std::string(e.what_without_backtrace()).find(needle), std::string::npos)
        << "message: " << e.what_without_backtrace();
  } catch (const std::exception& e) {
    ADD_FAILURE() << "expected another exception type, got: " << e.what();
  }
}

TEST(SoftmaxErrors, Dims) {
  const at::Tensor x = torch::randn({3, 4});
  ExpectErrorContaining<c10::IndexError>([&] { torch_ext::softmax(x, 2); },
                                         "softmax: Dimension out of range (expected to be in range of [-2, 1], but "
                                         "got 2)");
  ExpectErrorContaining<c10::IndexError>([&] { torch_ext::log_softmax(torch::tensor(1.0), -2); },
                                         "log_softmax: Dimension out of range (expected to be in range of [-1, 0]");
  ExpectErrorContaining<c10::IndexError>([&] { torch_ext::detail::softmax_backward(x, x, -3, at::kFloat); },
                                         "softmax_backward: Dimension out of range");
}

TEST(SoftmaxErrors, Dtypes) {
  const at::Tensor i = torch::ones({5}, torch::kLong);
  ExpectErrorContaining([&] { torch_ext::softmax(i, 0); },
                        "softmax: expected self to be a floating-point tensor (float32, float64, float16 or "
                        "bfloat16), got Long");
  EXPECT_TRUE(AllClose(torch_ext::softmax(i, 0, at::kFloat), at::softmax(i, 0, at::kFloat)));
  ExpectErrorContaining([&] { torch_ext::log_softmax(torch::ones({5}), 0, at::kInt); },
                        "log_softmax: expected dtype to be a floating-point dtype");
  const at::Tensor f = torch::ones({4, 5});
  ExpectErrorContaining([&] { torch_ext::detail::softmax_backward(f, torch::ones({5, 4}), 1, at::kFloat); },
                        "softmax_backward: expected output to have the shape");
  ExpectErrorContaining([&] { torch_ext::detail::log_softmax_backward(f, f.to(at::kDouble), 1, at::kFloat); },
                        "log_softmax_backward: expected output to have the dtype");
  ExpectErrorContaining([&] { torch_ext::detail::softmax_backward(f, f, 1, at::kLong); },
                        "softmax_backward: expected input_dtype to be a floating-point dtype");
}

// ---------------------------------------------------------------------------------------------
// Registration.

TEST(SoftmaxRegistration, OpsAreInTheDispatcher) {
  auto& d = c10::Dispatcher::singleton();
  for (const char* name : {"torch_ext::softmax", "torch_ext::log_softmax", "torch_ext::softmax_backward",
                           "torch_ext::log_softmax_backward"}) {
    const auto op = d.findSchema({name, ""});
    ASSERT_TRUE(op.has_value()) << name;
    EXPECT_TRUE(op->hasKernelForDispatchKey(c10::DispatchKey::CPU)) << name;
    EXPECT_TRUE(op->hasKernelForDispatchKey(c10::DispatchKey::Meta)) << name;
    EXPECT_TRUE(op->hasKernelForDispatchKey(c10::DispatchKey::Autograd)) << name;
  }
  // Autocast: float32 under CUDA autocast, as ATen's softmax.int; CPU autocast falls through, as ATen's.
  for (const char* name : {"softmax", "log_softmax"}) {
    const auto op = d.findSchema({std::string("torch_ext::") + name, ""});
    const auto aten = d.findSchema({std::string("aten::") + name, "int"});
    ASSERT_TRUE(aten.has_value());
    EXPECT_TRUE(op->hasKernelForDispatchKey(c10::DispatchKey::AutocastCUDA)) << name;
    EXPECT_EQ(op->hasKernelForDispatchKey(c10::DispatchKey::AutocastCPU),
              aten->hasKernelForDispatchKey(c10::DispatchKey::AutocastCPU))
        << name;
  }
}

TEST(SoftmaxRegistration, MetaKernelsGiveContiguousOutputs) {
  const at::Tensor x = torch::empty({6, 7}, torch::device(at::kMeta).dtype(at::kHalf)).t();
  const at::Tensor y = torch_ext::softmax(x, 1, at::kFloat);
  EXPECT_TRUE(y.is_meta());
  EXPECT_EQ(y.sizes(), x.sizes());
  EXPECT_TRUE(y.is_contiguous());
  EXPECT_EQ(y.scalar_type(), at::kFloat);
  EXPECT_EQ(y.strides(), at::softmax(torch::empty({6, 7}).t(), 1).strides());
  const at::Tensor gx = torch_ext::detail::log_softmax_backward(y, y, 0, at::kHalf);
  EXPECT_TRUE(gx.is_meta() && gx.is_contiguous());
  EXPECT_EQ(gx.scalar_type(), at::kHalf);
}

}  // namespace
