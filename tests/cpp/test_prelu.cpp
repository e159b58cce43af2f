// C++ tests of PReLU (prelu, prelu_backward) through the public C++ API, against ATen's prelu
// (forward, and both gradients through ATen's autograd) and a float64 formula computed here.
// Grids, not copies: the suites are parametrized over layout x weights (one, or one per channel)
// x dtype.

#include <gtest/gtest.h>

#include "tensor_assertions.h"
#include <torch/torch.h>
#include <torch_ext/torch_ext.h>

#include <ATen/core/dispatch/Dispatcher.h>

#include <cmath>
#include <functional>
#include <iomanip>
#include <limits>
#include <sstream>
#include <string>
#include <tuple>
#include <vector>

namespace {

using torch_ext_test::AllClose;
using torch_ext_test::dtype_name;
using torch_ext_test::ExpectC10ErrorContaining;
using torch_ext_test::Identical;
using torch_ext_test::to_vector;

// ---------------------------------------------------------------------------------------------
// Helpers

double eps_of(at::ScalarType t) {
  switch (t) {
    case at::kDouble:
      return std::numeric_limits<double>::epsilon();
    case at::kFloat:
      return std::numeric_limits<float>::epsilon();
    case at::kHalf:
      return 1.0 / 1024;
    case at::kBFloat16:
      return 1.0 / 128;
    default:
      return 0.0;
  }
}

// Accumulation error allowed relative to the sum of |terms|: float accumulation (double for double).
double acc_eps_of(at::ScalarType t) { return t == at::kDouble ? 1e-13 : 1e-5; }

// |actual - expected| <= rel_eps * |expected| + abs_eps * abs_sum, elementwise; NaN meets NaN.
::testing::AssertionResult SumClose(const at::Tensor& actual, const at::Tensor& expected, const at::Tensor& abs_sum,
                                    double rel_eps, double abs_eps) {
  if (actual.sizes() != expected.sizes()) {
    return ::testing::AssertionFailure() << "shape " << actual.sizes() << " != expected " << expected.sizes();
  }
  const auto a = to_vector(actual);
  const auto e = to_vector(expected);
  const auto s = to_vector(abs_sum);
  int64_t bad = 0;
  std::ostringstream msg;
  for (size_t i = 0; i < a.size(); ++i) {
    const bool ok = (std::isnan(a[i]) && std::isnan(e[i])) ||
                    std::abs(a[i] - e[i]) <= rel_eps * std::abs(e[i]) + abs_eps * s[i] + 1e-300;
    if (!ok && bad++ < 5) {
      msg << "\n  [" << i << "] actual " << std::setprecision(17) << a[i] << " expected " << e[i] << " (sum |terms| "
          << s[i] << ")";
    }
  }
  if (bad) {
    return ::testing::AssertionFailure() << bad << " of " << a.size() << " elements differ:" << msg.str();
  }
  return ::testing::AssertionSuccess();
}

// A weight-shaped tensor viewed to broadcast against x: [1, C, 1, ...] or a scalar.
at::Tensor broadcast_weight(const at::Tensor& w, const at::Tensor& x) {
  if (w.numel() == 1) return w.reshape({});
  std::vector<int64_t> shape(x.dim(), 1);
  shape[1] = w.numel();
  return w.reshape(shape);
}

at::Tensor reduce_to_weight(const at::Tensor& t, const at::Tensor& w) {
  if (w.numel() == 1) return t.sum().reshape(w.sizes());
  std::vector<int64_t> dims;
  for (int64_t d = 0; d < t.dim(); ++d) {
    if (d != 1) dims.push_back(d);
  }
  return t.sum(dims).reshape(w.sizes());
}

struct Reference {
  at::Tensor grad_self;    // rounded to the dtype (exact: one rounding of an exact product)
  at::Tensor grad_weight;  // float64, unrounded
  at::Tensor abs_sum;      // float64: the sum of |terms| per weight
};

Reference backward_reference(const at::Tensor& g, const at::Tensor& x, const at::Tensor& w) {
  const at::Tensor gd = g.detach().to(at::kCPU).to(at::kDouble);
  const at::Tensor xd = x.detach().to(at::kCPU).to(at::kDouble);
  const at::Tensor wd = w.detach().to(at::kCPU).to(at::kDouble);
  const at::Tensor positive = xd > 0;
  const at::Tensor term = at::where(positive, at::zeros_like(xd), xd * gd);
  return {at::where(positive, gd, broadcast_weight(wd, xd) * gd).to(g.scalar_type()), reduce_to_weight(term, wd),
          reduce_to_weight(term.abs(), wd)};
}


// ---------------------------------------------------------------------------------------------
// The grid: layouts (each names the kernel path it takes on the CPU) x weights x dtype

struct PreluCase {
  const char* name;
  std::function<at::Tensor(const at::TensorOptions&)> make;  // self, from torch::randn
  int64_t channels;                                          // the size of dim 1 (1 for 1-D)
};

const std::vector<PreluCase>& cases() {
  static const std::vector<PreluCase> all = {
      {"NC", [](const at::TensorOptions& o) { return torch::randn({8, 5}, o); }, 5},
      {"NCL_long_rows", [](const at::TensorOptions& o) { return torch::randn({4, 3, 600}, o); }, 3},
      {"NCHW", [](const at::TensorOptions& o) { return torch::randn({2, 6, 5, 7}, o); }, 6},
      {"NHWC",
       [](const at::TensorOptions& o) {
         return torch::randn({2, 6, 5, 7}, o).contiguous(at::MemoryFormat::ChannelsLast);
       },
       6},
      {"NCDHW", [](const at::TensorOptions& o) { return torch::randn({2, 3, 2, 4, 5}, o); }, 3},
      {"NDHWC",
       [](const at::TensorOptions& o) {
         return torch::randn({2, 3, 2, 4, 5}, o).contiguous(at::MemoryFormat::ChannelsLast3d);
       },
       3},
      {"OneD", [](const at::TensorOptions& o) { return torch::randn({257}, o); }, 1},
      {"ManyChannels", [](const at::TensorOptions& o) { return torch::randn({3, 3000, 2}, o); }, 3000},
      {"Transposed", [](const at::TensorOptions& o) { return torch::randn({7, 4, 6}, o).transpose(0, 2); }, 4},
      {"Sliced", [](const at::TensorOptions& o) { return torch::randn({4, 10, 9}, o).slice(1, 0, 10, 2); }, 5},
  };
  return all;
}

// (case, per_channel): every case with one weight, and with one per channel where it has several.
std::vector<std::tuple<size_t, bool>> case_weights() {
  std::vector<std::tuple<size_t, bool>> out;
  for (size_t i = 0; i < cases().size(); ++i) {
    out.emplace_back(i, false);
    if (cases()[i].channels > 1) out.emplace_back(i, true);
  }
  return out;
}

class PreluTest : public ::testing::TestWithParam<std::tuple<std::tuple<size_t, bool>, at::ScalarType>> {
 protected:
  void SetUp() override { torch::manual_seed(0); }
  const PreluCase& c() const { return cases()[std::get<0>(std::get<0>(GetParam()))]; }
  bool per_channel() const { return std::get<1>(std::get<0>(GetParam())); }
  at::ScalarType dtype() const { return std::get<1>(GetParam()); }

  // self (scaled so both branches are well populated) and the weight: one, or one per channel.
  std::tuple<at::Tensor, at::Tensor> inputs(const at::Device& device = at::kCPU) const {
    const auto o = torch::dtype(at::kDouble);
    const at::Tensor x = (c().make(o) * 3.0).to(device, dtype());
    const int64_t n = per_channel() ? c().channels : 1;
    const at::Tensor w = (torch::rand({n}, o) * 2.0 - 0.6).to(device, dtype());
    return {x, w};
  }
};

std::string param_name(const ::testing::TestParamInfo<PreluTest::ParamType>& info) {
  const auto [index, per_channel] = std::get<0>(info.param);
  return std::string(cases()[index].name) + (per_channel ? "_PerChannel_" : "_Single_") +
         dtype_name(std::get<1>(info.param));
}

TEST_P(PreluTest, MatchesATen) {
  const auto [x, w] = inputs();
  const at::Tensor y = torch_ext::prelu(x, w);
  EXPECT_EQ(y.scalar_type(), dtype());
  // Exact: w * x rounded once, as ATen computes it.
  EXPECT_TRUE(Identical(y, at::prelu(x, w))) << "forward";
  EXPECT_EQ(y.strides(), at::empty_like(x).strides()) << "the output keeps the input's dense layout";

  const at::Tensor g = torch::randn(x.sizes(), torch::dtype(at::kDouble)).to(dtype());

  const at::Tensor xe = x.clone().requires_grad_();
  const at::Tensor we = w.clone().requires_grad_();
  torch_ext::prelu(xe, we).backward(g);
  const at::Tensor xa = x.clone().requires_grad_();
  const at::Tensor wa = w.clone().requires_grad_();
  at::prelu(xa, wa).backward(g);

  const Reference ref = backward_reference(g, x, w);
  EXPECT_TRUE(Identical(xe.grad(), xa.grad())) << "grad_self";
  EXPECT_TRUE(Identical(xe.grad(), ref.grad_self)) << "grad_self vs float64";
  EXPECT_EQ(we.grad().sizes(), w.sizes());
  EXPECT_TRUE(SumClose(we.grad(), ref.grad_weight, ref.abs_sum, eps_of(dtype()), acc_eps_of(dtype())))
      << "grad_weight vs float64";
  // ATen rounds each term to the dtype before its sum: within eps * sum|terms| of ours.
  EXPECT_TRUE(SumClose(we.grad(), wa.grad(), ref.abs_sum, 2 * eps_of(dtype()), 2 * eps_of(dtype())))
      << "grad_weight vs ATen";
}

TEST_P(PreluTest, BackwardOpIsDeterministic) {
  const auto [x, w] = inputs();
  const at::Tensor g = torch::randn(x.sizes(), torch::dtype(at::kDouble)).to(dtype());
  const auto [gx, gw] = torch_ext::detail::prelu_backward(g, x, w);
  const Reference ref = backward_reference(g, x, w);
  EXPECT_TRUE(Identical(gx, ref.grad_self));
  EXPECT_TRUE(gw.is_contiguous());
  EXPECT_TRUE(SumClose(gw, ref.grad_weight, ref.abs_sum, eps_of(dtype()), acc_eps_of(dtype())));
  const int threads = at::get_num_threads();
  for (const int t : {1, 2, 3}) {
    at::set_num_threads(t);
    const auto [gx2, gw2] = torch_ext::detail::prelu_backward(g, x, w);
    EXPECT_TRUE(Identical(gw2, gw)) << t << " threads";
    EXPECT_TRUE(Identical(gx2, gx)) << t << " threads";
  }
  at::set_num_threads(threads);
}

// Second order in float and double.
class PreluSecondOrderTest : public PreluTest {};

TEST_P(PreluSecondOrderTest, DoubleBackwardMatchesATen) {
  const auto [data, w_data] = inputs();
  const at::Tensor g_data = torch::randn(data.sizes(), torch::dtype(dtype()));
  const at::Tensor v = torch::randn(data.sizes(), torch::dtype(dtype()));
  const at::Tensor vw = torch::randn(w_data.sizes(), torch::dtype(dtype()));

  auto second_order = [&](bool ours) {
    const at::Tensor x = data.clone().requires_grad_();
    const at::Tensor w = w_data.clone().requires_grad_();
    const at::Tensor g = g_data.clone().requires_grad_();
    const at::Tensor y = ours ? torch_ext::prelu(x, w) : at::prelu(x, w);
    const auto first = torch::autograd::grad({y}, {x, w}, {g}, /*retain_graph=*/true, /*create_graph=*/true);
    EXPECT_TRUE(first[0].requires_grad() && first[1].requires_grad());
    return torch::autograd::grad({(first[0] * v).sum() + (first[1] * vw).sum()}, {x, g, w});
  };
  const auto ours = second_order(true);
  const auto ref = second_order(false);
  const double tol = dtype() == at::kDouble ? 1e-12 : 1e-4;
  for (size_t i = 0; i < 3; ++i) {
    EXPECT_TRUE(torch::allclose(ours[i], ref[i], tol, tol)) << "input " << i << "\n" << ours[i] << "\n" << ref[i];
  }
}

TEST_P(PreluTest, CudaMatchesCpu) {
  if (!torch::cuda::is_available()) GTEST_SKIP() << "no CUDA device";
  const at::Device cuda(at::kCUDA, 0);
  const auto [x, w] = inputs();
  const at::Tensor xc = x.to(cuda);
  const at::Tensor wc = w.to(cuda);
  const at::Tensor y = torch_ext::prelu(xc, wc);
  EXPECT_TRUE(y.is_cuda());
  EXPECT_TRUE(Identical(y, at::prelu(x, w)));
  EXPECT_EQ(y.strides(), at::empty_like(xc).strides());
  const at::Tensor g = torch::randn(x.sizes(), torch::dtype(at::kDouble)).to(dtype());
  const auto [gx, gw] = torch_ext::detail::prelu_backward(g.to(cuda), xc, wc);
  const Reference ref = backward_reference(g, x, w);
  EXPECT_TRUE(Identical(gx, ref.grad_self));
  EXPECT_TRUE(SumClose(gw, ref.grad_weight, ref.abs_sum, eps_of(dtype()), acc_eps_of(dtype())));
  const auto [gx2, gw2] = torch_ext::detail::prelu_backward(g.to(cuda), xc, wc);
  EXPECT_TRUE(Identical(gw2, gw)) << "run-to-run";
}

INSTANTIATE_TEST_SUITE_P(Grid, PreluTest,
                         ::testing::Combine(::testing::ValuesIn(case_weights()),
                                            ::testing::Values(at::kFloat, at::kDouble, at::kHalf, at::kBFloat16)),
                         param_name);

INSTANTIATE_TEST_SUITE_P(Grid, PreluSecondOrderTest,
                         ::testing::Combine(::testing::ValuesIn(case_weights()),
                                            ::testing::Values(at::kFloat, at::kDouble)),
                         param_name);

// ---------------------------------------------------------------------------------------------
// Edges: empty inputs, 0-d inputs, special values

TEST(PreluEdges, EmptyAndZeroDim) {
  const at::Tensor empty = torch::randn({0, 4, 3});
  const at::Tensor w4 = torch::rand({4});
  EXPECT_EQ(torch_ext::prelu(empty, w4).sizes(), empty.sizes());
  const auto [gx, gw] = torch_ext::detail::prelu_backward(empty, empty, w4);
  EXPECT_EQ(gx.sizes(), empty.sizes());
  EXPECT_TRUE(Identical(gw, torch::zeros({4}))) << "a sum over no elements";

  const at::Tensor x0 = torch::tensor(-2.0);
  const at::Tensor w1 = torch::tensor({0.25});
  EXPECT_TRUE(Identical(torch_ext::prelu(x0, w1), at::prelu(x0, w1)));
  const auto [gx0, gw0] = torch_ext::detail::prelu_backward(torch::tensor(3.0), x0, w1);
  EXPECT_EQ(gx0.dim(), 0);
  EXPECT_DOUBLE_EQ(gx0.item<double>(), 0.75);
  EXPECT_DOUBLE_EQ(gw0.item<double>(), -6.0);
}

TEST(PreluEdges, SpecialValuesMatchATen) {
  const double inf = std::numeric_limits<double>::infinity();
  const double nan = std::numeric_limits<double>::quiet_NaN();
  for (const auto dtype : {at::kFloat, at::kDouble, at::kHalf, at::kBFloat16}) {
    for (const double slope : {0.25, -0.5, 0.0}) {
      SCOPED_TRACE(dtype_name(dtype) + " slope " + std::to_string(slope));
      const at::Tensor x = torch::tensor({0.0, -0.0, nan, inf, -inf, 1.0, -1.0}, torch::dtype(at::kDouble)).to(dtype);
      const at::Tensor w = torch::tensor({slope}, torch::dtype(at::kDouble)).to(dtype);
      EXPECT_TRUE(Identical(torch_ext::prelu(x, w), at::prelu(x, w)));
      const at::Tensor g = torch::full_like(x, 0.75);
      const auto [gx, gw] = torch_ext::detail::prelu_backward(g, x, w);
      const auto [gx_ref, gw_full] = at::_prelu_kernel_backward(g, x, w);
      // ATen's gradient but at the NaN input, where torch_ext's is NaN (ATen's w * g).
      EXPECT_TRUE(Identical(gx, at::where(x.isnan(), x, gx_ref)));
      EXPECT_TRUE(std::isnan(gw.item<double>())) << "a NaN input on the negative side";
    }
  }
}

// ---------------------------------------------------------------------------------------------
// Errors: c10::Error with words that say what went wrong.

TEST(PreluErrors, WeightSize) {
  const at::Tensor x = torch::randn({2, 3, 4});
  ExpectC10ErrorContaining([&] { torch_ext::prelu(x, torch::rand({4})); },
                           "prelu: weight must have 1 or 3 elements (the size of dim 1 of self), got 4");
  ExpectC10ErrorContaining([&] { torch_ext::detail::prelu_backward(x, x, torch::rand({2})); },
                           "prelu_backward: weight must have 1 or 3 elements (the size of dim 1 of self), got 2");
  ExpectC10ErrorContaining([&] { torch_ext::prelu(torch::randn({5}), torch::rand({5})); },
                           "weight must have 1 element for a 1-D self");
  ExpectC10ErrorContaining([&] { torch_ext::prelu(torch::randn({}), torch::rand({3})); },
                           "weight must have 1 element for a 0-d self, got 3");
}

TEST(PreluErrors, WeightRankAndDtype) {
  const at::Tensor x = torch::randn({2, 3});
  ExpectC10ErrorContaining([&] { torch_ext::prelu(x, torch::rand({1, 3})); }, "got a 2-D weight");
  ExpectC10ErrorContaining([&] { torch_ext::prelu(x, torch::rand({3}, torch::kDouble)); },
                           "expected weight to have the dtype of self");
  ExpectC10ErrorContaining([&] { torch_ext::detail::prelu_backward(x.to(at::kDouble), x, torch::rand({3})); },
                           "expected self to have the dtype of grad_output");
  ExpectC10ErrorContaining([&] { torch_ext::detail::prelu_backward(torch::randn({3, 2}), x, torch::rand({3})); },
                           "expected self to have the shape of grad_output");
  for (const auto dtype : {at::kLong, at::kInt, at::kBool}) {
    SCOPED_TRACE(std::string("dtype ") + c10::toString(dtype));
    ExpectC10ErrorContaining([&] { torch_ext::prelu(torch::ones({2, 3}, dtype), torch::ones({3}, dtype)); },
                             "floating-point");
  }
}

// ---------------------------------------------------------------------------------------------
// Registration and Meta kernels

TEST(PreluRegistration, OpsAreInTheDispatcher) {
  auto& d = c10::Dispatcher::singleton();
  for (const char* name : {"torch_ext::prelu", "torch_ext::prelu_backward"}) {
    const auto op = d.findSchema({name, ""});
    ASSERT_TRUE(op.has_value()) << name;
    EXPECT_TRUE(op->hasKernelForDispatchKey(c10::DispatchKey::CPU)) << name;
    EXPECT_TRUE(op->hasKernelForDispatchKey(c10::DispatchKey::Meta)) << name;
    EXPECT_TRUE(op->hasKernelForDispatchKey(c10::DispatchKey::Autograd)) << name;
    EXPECT_EQ(op->hasKernelForDispatchKey(c10::DispatchKey::CUDA), torch_ext::build_info().at("cuda") == "ON")
        << name;
  }
}

TEST(PreluRegistration, MetaKernelsGiveShapeAndStrides) {
  const at::Tensor real = torch::randn({2, 3, 4, 5}).contiguous(at::MemoryFormat::ChannelsLast);
  const at::Tensor x = at::empty_strided(real.sizes(), real.strides(), torch::device(at::kMeta));
  const at::Tensor w = torch::empty({3}, torch::device(at::kMeta));
  const at::Tensor y = torch_ext::prelu(x, w);
  EXPECT_TRUE(y.is_meta());
  EXPECT_EQ(y.strides(), real.strides());
  const auto [gx, gw] = torch_ext::detail::prelu_backward(x, x, w);
  EXPECT_EQ(gx.strides(), real.strides());
  EXPECT_EQ(gw.sizes(), w.sizes());
  ExpectC10ErrorContaining([&] { torch_ext::prelu(x, torch::empty({4}, torch::device(at::kMeta))); },
                           "got 4");
}

}  // namespace
