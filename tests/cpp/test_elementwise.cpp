// The checks every elementwise op gets, over the rows of elementwise_cases.h: each test runs for every
// (op, parameter point, dtype), against the op's closed form computed in double and against ATen's ops (the
// reference). What is particular to one op is in its own file (test_elu.cpp, test_softplus.cpp).

#include <gtest/gtest.h>

#include <ATen/core/dispatch/Dispatcher.h>
#include <torch/torch.h>
#include <torch/version.h>
#include <torch_ext/torch_ext.h>

#include <cmath>
#include <string>
#include <tuple>
#include <vector>

#include "elementwise_cases.h"
#include "tensor_assertions.h"

namespace {

using torch_ext_test::AllClose;
using torch_ext_test::Backward;
using torch_ext_test::EdgeMatch;
using torch_ext_test::elementwise_ops;
using torch_ext_test::ElementwiseOp;
using torch_ext_test::ExpectC10ErrorContaining;
using torch_ext_test::Identical;
using torch_ext_test::map_double;
using torch_ext_test::OpParams;
using torch_ext_test::to_vector;
using torch_ext_test::Tolerance;

struct ElementwiseCase {
  const ElementwiseOp* op;
  const OpParams* params;
  at::ScalarType dtype;
};

std::ostream& operator<<(std::ostream& os, const ElementwiseCase& c) {
  return os << c.op->name << " " << *c.params << " " << c.dtype;
}

// Every (op, parameter point, dtype) for which keep(op, params) holds.
std::vector<ElementwiseCase> cases(std::vector<at::ScalarType> dtypes,
                                   bool (*keep)(const ElementwiseOp&, const OpParams&) = nullptr) {
  std::vector<ElementwiseCase> out;
  for (const auto& op : elementwise_ops()) {
    for (const auto& p : op.grid) {
      if (keep && !keep(op, p)) continue;
      for (const auto dtype : dtypes) out.push_back({&op, &p, dtype});
    }
  }
  return out;
}

std::string case_name(const ::testing::TestParamInfo<ElementwiseCase>& info) {
  const auto& c = info.param;
  return std::string(c.op->name) + "_" + c.params->name + "_" + torch_ext_test::dtype_name(c.dtype);
}

bool has_inplace(const ElementwiseOp& op, const OpParams&) { return op.inplace != nullptr; }

bool result_backward_defined(const ElementwiseOp& op, const OpParams& p) {
  return op.backward_from_result != nullptr && (!op.result_backward_defined || op.result_backward_defined(p));
}

bool inplace_backward_defined(const ElementwiseOp& op, const OpParams& p) {
  return has_inplace(op, p) && (!op.result_backward_defined || op.result_backward_defined(p));
}

// The forward's output y of x keeps x's dense layout; so does ATen's ref (on the CPU), except where the row says
// ATen's CPU forward is contiguous whatever the input.
void expect_aten_strides(const ElementwiseOp& op, const at::Tensor& x, const at::Tensor& y, const at::Tensor& ref) {
  EXPECT_EQ(y.strides(), at::empty_like(x).strides());
  if (op.aten_forward_contiguous_on_cpu) {
    EXPECT_TRUE(ref.is_contiguous()) << "ATen's " << op.name << " now keeps the layout: drop the row's flag";
  } else {
    EXPECT_EQ(y.strides(), ref.strides());
  }
}

class ElementwiseTest : public ::testing::TestWithParam<ElementwiseCase> {
 protected:
  void SetUp() override { torch::manual_seed(0); }
  const ElementwiseOp& op() const { return *GetParam().op; }
  const OpParams& p() const { return *GetParam().params; }
  at::ScalarType dtype() const { return GetParam().dtype; }
  Tolerance tol() const { return op().tolerance(dtype()); }

  at::Tensor random_input(const at::Device& device = at::kCPU) const { return op().random_input(p(), dtype(), device); }
  at::Tensor edge_values(const at::Device& device = at::kCPU) const {
    return torch_ext_test::repeated_edges(op().edges, dtype(), device);
  }
  at::Tensor forward(const at::Tensor& x) const { return op().forward(x, p()); }
  at::Tensor aten_forward(const at::Tensor& x) const { return op().aten_forward(x, p()); }

  at::Tensor closed_form(const at::Tensor& x) const {
    return map_double(x, [&](double v, int64_t) { return op().closed_form(v, p(), dtype()); });
  }
  at::Tensor closed_form_backward(const at::Tensor& g, const at::Tensor& x) const {
    const auto gv = to_vector(g);
    return map_double(x, [&](double v, int64_t i) { return op().closed_form_backward(gv[i], v, p(), dtype()); });
  }

  ::testing::AssertionResult Close(const at::Tensor& actual, const at::Tensor& expected) const {
    return AllClose(actual, expected, tol().rtol, tol().atol);
  }
  ::testing::AssertionResult Close(const at::Tensor& actual, const at::Tensor& expected, double extra_atol) const {
    return AllClose(actual, expected, tol().rtol, tol().atol + extra_atol);
  }

  // The forward at the edge values against ATen's, as the row says they compare on this device.
  ::testing::AssertionResult EdgesMatchATen(const at::Tensor& y, const at::Tensor& x) const {
    switch (op().forward_edges_vs_aten(p(), x.device())) {
      case EdgeMatch::kIdentical:
        return Identical(y, aten_forward(x));
      case EdgeMatch::kIdenticalUpToZeroSign:
        return Identical(y, aten_forward(x), /*zero_sign=*/false);
      case EdgeMatch::kClose:
      default:
        return Close(y, aten_forward(x));
    }
  }

  // The input-based backward op against ATen's, also at a NaN input where the row says ATen agrees with itself.
  ::testing::AssertionResult BackwardMatchesATen(const at::Tensor& gx, const at::Tensor& g, const at::Tensor& x) const {
    const at::Tensor ref = op().aten_backward_from_input(g, x, p());
    if (op().aten_backward_propagates_nan) return Close(gx, ref);
    const at::Tensor nan = x.isnan();
    return Close(gx.masked_select(~nan), ref.masked_select(~nan));
  }
};

// Full precision: float and double, against the closed form and ATen.
class ElementwiseFullTest : public ElementwiseTest {};
// Ops with an in-place form.
class ElementwiseInplaceTest : public ElementwiseTest {};
// Ops with an in-place form whose backward (from the result) is defined at the parameter point.
class ElementwiseInplaceBackwardTest : public ElementwiseTest {};
// Ops with a result-based backward op, where it is defined.
class ElementwiseResultBackwardTest : public ElementwiseTest {};
// Half and bfloat16 against ATen (both compute in float and round once) and the closed form.
class ElementwiseReducedTest : public ElementwiseTest {};

// ---------------------------------------------------------------------------------------------
// Forward

TEST_P(ElementwiseFullTest, ForwardMatchesClosedForm) {
  const at::Tensor x = random_input();
  const at::Tensor y = forward(x);
  EXPECT_EQ(y.scalar_type(), dtype());
  EXPECT_EQ(y.sizes(), x.sizes());
  EXPECT_TRUE(Close(y, closed_form(x)));
  EXPECT_TRUE(Close(y, aten_forward(x)));
}

TEST_P(ElementwiseFullTest, ForwardLargeParallelAndTiny) {
  at::Tensor x = (torch::randn({100003}, torch::dtype(at::kDouble)) * op().large_input_scale).to(dtype());
  x.narrow(0, 0, 1000).mul_(1e-6);
  EXPECT_TRUE(Close(forward(x), closed_form(x)));
}

TEST_P(ElementwiseFullTest, ForwardNonContiguous) {
  const at::Tensor base = random_input();
  const at::Tensor x = base.t();  // strides (1, 129)
  const at::Tensor y = forward(x);
  const at::Tensor ref = aten_forward(x);
  EXPECT_EQ(y.sizes(), ref.sizes());
  expect_aten_strides(op(), x, y, ref);
  EXPECT_TRUE(Close(y, closed_form(x)));

  const at::Tensor strided = base.slice(1, 0, 129, 2);  // every other column
  EXPECT_TRUE(Close(forward(strided), closed_form(strided)));
}

TEST_P(ElementwiseFullTest, ForwardEdges) {
  const at::Tensor x = edge_values();
  const at::Tensor y = forward(x);
  EXPECT_TRUE(Close(y, closed_form(x)));  // NaN for NaN, infinities equal
  EXPECT_TRUE(EdgesMatchATen(y, x));
  if (op().check_forward_edges) op().check_forward_edges(p(), dtype(), x, y);
}

// ---------------------------------------------------------------------------------------------
// Backward through autograd and the backward ops

TEST_P(ElementwiseFullTest, BackwardSumMatchesATen) {
  const at::Tensor data = random_input();
  const at::Tensor x = data.clone().requires_grad_();
  forward(x).sum().backward();
  const at::Tensor x_ref = data.clone().requires_grad_();
  aten_forward(x_ref).sum().backward();
  ASSERT_TRUE(x.grad().defined());
  EXPECT_TRUE(Close(x.grad(), x_ref.grad()));
}

TEST_P(ElementwiseFullTest, BackwardRandomGradMatchesATen) {
  const at::Tensor data = random_input();
  const at::Tensor g = torch::randn_like(data);
  const at::Tensor x = data.clone().requires_grad_();
  const at::Tensor gx = torch::autograd::grad({forward(x)}, {x}, {g})[0];
  const at::Tensor x_ref = data.clone().requires_grad_();
  const at::Tensor gx_ref = torch::autograd::grad({aten_forward(x_ref)}, {x_ref}, {g})[0];
  EXPECT_TRUE(Close(gx, gx_ref));
  if (op().closed_form_backward) {
    EXPECT_TRUE(Close(gx, closed_form_backward(g, data)));
  }
}

TEST_P(ElementwiseFullTest, BackwardOpFromInputMatchesATen) {
  if (!op().backward_from_input) GTEST_SKIP() << op().name << "_backward does not read the input";
  const at::Tensor x = random_input();
  const at::Tensor g = torch::randn_like(x);
  const at::Tensor gx = op().backward_from_input(g, x, p());
  EXPECT_EQ(gx.scalar_type(), dtype());
  EXPECT_TRUE(Close(gx, op().aten_backward_from_input(g, x, p())));
  if (op().closed_form_backward) {
    EXPECT_TRUE(Close(gx, closed_form_backward(g, x)));
  }
}

TEST_P(ElementwiseFullTest, BackwardOpFromInputEdges) {
  if (!op().backward_from_input) GTEST_SKIP() << op().name << "_backward does not read the input";
  const at::Tensor x = edge_values();
  for (const bool random_grad : {false, true}) {
    SCOPED_TRACE(random_grad ? "random grad_output" : "grad_output 0.75");
    const at::Tensor g = random_grad ? torch::randn_like(x) : torch::full_like(x, 0.75);
    const at::Tensor gx = op().backward_from_input(g, x, p());
    EXPECT_EQ(gx.scalar_type(), dtype());
    EXPECT_TRUE(BackwardMatchesATen(gx, g, x));
    if (op().closed_form_backward) {
      EXPECT_TRUE(Close(gx, closed_form_backward(g, x)));
    }
    const auto xv = to_vector(x);
    const auto gv = to_vector(gx);
    for (size_t i = 0; i < xv.size(); ++i) {
      if (std::isnan(xv[i]) && op().nan_gradient_at_nan_input) {
        EXPECT_TRUE(std::isnan(gv[i])) << "gradient at NaN, index " << i << " = " << gv[i];
      }
    }
    if (!random_grad && op().check_backward_edges) op().check_backward_edges(p(), dtype(), x, 0.75, gx);
  }
}

TEST_P(ElementwiseResultBackwardTest, BackwardOpFromResultMatchesATen) {
  const at::Tensor x = random_input();
  const at::Tensor g = torch::randn_like(x);
  const at::Tensor y = aten_forward(x);
  const at::Tensor gx = op().backward_from_result(g, y, p());
  EXPECT_EQ(gx.scalar_type(), dtype());
  EXPECT_TRUE(Close(gx, op().aten_backward_from_result(g, y, p())));
}

TEST_P(ElementwiseFullTest, DoubleBackwardMatchesATen) {
  const at::Tensor data = random_input();
  const at::Tensor g_data = torch::randn_like(data);
  const at::Tensor v = torch::randn_like(data);

  auto second_order = [&](bool ours) {
    const at::Tensor x = data.clone().requires_grad_();
    const at::Tensor g = g_data.clone().requires_grad_();
    const at::Tensor y = ours ? forward(x) : aten_forward(x);
    const at::Tensor gx = torch::autograd::grad({y}, {x}, {g}, /*retain_graph=*/true, /*create_graph=*/true)[0];
    EXPECT_TRUE(gx.requires_grad());
    return std::make_tuple(gx, torch::autograd::grad({(gx * v).sum()}, {x, g}));
  };
  const auto [gx, gg] = second_order(true);
  const auto [gx_ref, gg_ref] = second_order(false);
  EXPECT_TRUE(Close(gx, gx_ref));
  const double dx_atol = op().double_backward_input_atol ? op().double_backward_input_atol(p(), dtype()) : 0.0;
  EXPECT_TRUE(dx_atol ? AllClose(gg[0], gg_ref[0], tol().rtol, dx_atol) : Close(gg[0], gg_ref[0])) << "d/dx vs ATen";
  EXPECT_TRUE(Close(gg[1], gg_ref[1])) << "d/dgrad_output";
  if (op().closed_form_double_backward) {
    const auto gv = to_vector(g_data);
    const auto vv = to_vector(v);
    const at::Tensor expected = map_double(
        data, [&](double x, int64_t i) { return op().closed_form_double_backward(gv[i], vv[i], x, p(), dtype()); });
    EXPECT_TRUE(Close(gg[0], expected)) << "d/dx vs the closed form";
  }
}

// ---------------------------------------------------------------------------------------------
// In place

TEST_P(ElementwiseInplaceTest, InplaceEqualsOutOfPlaceAndReturnsSelf) {
  const at::Tensor x = random_input();
  const at::Tensor expected = forward(x);
  at::Tensor inplace = x.clone();
  const void* storage = inplace.data_ptr();
  at::Tensor& ret = op().inplace(inplace, p());
  EXPECT_EQ(&ret, &inplace);
  EXPECT_TRUE(ret.is_same(inplace));
  EXPECT_EQ(inplace.data_ptr(), storage);
  EXPECT_TRUE(Identical(inplace, expected));
}

TEST_P(ElementwiseInplaceTest, InplaceOnView) {
  // A non-contiguous view: only its elements change, the rest of the base does not.
  const at::Tensor data = random_input();
  at::Tensor base = data.clone();
  at::Tensor view = base.slice(1, 0, 129, 2);
  op().inplace(view, p());
  at::Tensor expected = data.clone();
  expected.slice(1, 0, 129, 2).copy_(forward(data.slice(1, 0, 129, 2)));
  EXPECT_TRUE(Identical(base, expected));
}

// The in-place form saves the result: its backward is the result-based one.
double result_backward_atol(const ElementwiseOp& op, const OpParams& p, at::ScalarType dtype, double g_max,
                            double v_max = 1.0) {
  return op.result_backward_atol ? op.result_backward_atol(p, dtype, g_max, v_max) : 0.0;
}

TEST_P(ElementwiseInplaceBackwardTest, InplaceBackwardMatchesATen) {
  const at::Tensor data = random_input();
  const at::Tensor g = torch::randn_like(data);
  const at::Tensor leaf = data.clone().requires_grad_();
  at::Tensor y = leaf.clone();
  op().inplace(y, p());
  y.backward(g);
  const at::Tensor leaf_ref = data.clone().requires_grad_();
  at::Tensor y_ref = leaf_ref.clone();
  op().aten_inplace(y_ref, p());
  y_ref.backward(g);
  EXPECT_TRUE(Close(y, y_ref));
  EXPECT_TRUE(
      Close(leaf.grad(), leaf_ref.grad(), result_backward_atol(op(), p(), dtype(), g.abs().max().item<double>())));
}

TEST_P(ElementwiseInplaceBackwardTest, DoubleBackwardInplaceMatchesATen) {
  const at::Tensor data = random_input();
  const at::Tensor g_data = torch::randn_like(data);
  const at::Tensor v = torch::randn_like(data);

  auto second_order = [&](bool ours) {
    const at::Tensor x = data.clone().requires_grad_();
    const at::Tensor g = g_data.clone().requires_grad_();
    at::Tensor y = x.clone();
    if (ours) {
      op().inplace(y, p());
    } else {
      op().aten_inplace(y, p());
    }
    const at::Tensor gx = torch::autograd::grad({y}, {x}, {g}, /*retain_graph=*/true, /*create_graph=*/true)[0];
    return std::make_tuple(gx, torch::autograd::grad({(gx * v).sum()}, {x, g}));
  };
  const auto [gx, gg] = second_order(true);
  const auto [gx_ref, gg_ref] = second_order(false);
  const double g_max = g_data.abs().max().item<double>();
  const double v_max = v.abs().max().item<double>();
  EXPECT_TRUE(Close(gx, gx_ref, result_backward_atol(op(), p(), dtype(), g_max)));
  EXPECT_TRUE(Close(gg[0], gg_ref[0], result_backward_atol(op(), p(), dtype(), g_max, v_max))) << "d/dx";
  EXPECT_TRUE(Close(gg[1], gg_ref[1], result_backward_atol(op(), p(), dtype(), 1.0, v_max))) << "d/dgrad_output";
}

// ---------------------------------------------------------------------------------------------
// CUDA (skipped without a device)

TEST_P(ElementwiseFullTest, CudaMatchesATen) {
  if (!torch::cuda::is_available()) GTEST_SKIP() << "no CUDA device";
  const at::Device cuda(at::kCUDA, 0);
  const at::Tensor x = random_input(cuda);
  const at::Tensor y = forward(x);
  EXPECT_TRUE(y.is_cuda());
  EXPECT_TRUE(Close(y, closed_form(x)));
  EXPECT_TRUE(Close(y, aten_forward(x)));
  const at::Tensor edges = edge_values(cuda);
  EXPECT_TRUE(EdgesMatchATen(forward(edges), edges));

  // Backward through autograd and the backward ops directly.
  const at::Tensor g = torch::randn_like(x);
  const at::Tensor xg = x.clone().requires_grad_();
  forward(xg).backward(g);
  const at::Tensor xg_ref = x.clone().requires_grad_();
  aten_forward(xg_ref).backward(g);
  EXPECT_TRUE(Close(xg.grad(), xg_ref.grad()));
  if (op().backward_from_input) {
    const at::Tensor gx = op().backward_from_input(g, x, p());
    EXPECT_TRUE(Close(gx, op().aten_backward_from_input(g, x, p())));
    if (op().closed_form_backward) {
      EXPECT_TRUE(Close(gx, closed_form_backward(g, x)));
    }
  }
  if (result_backward_defined(op(), p())) {
    const at::Tensor y_ref = aten_forward(x);
    EXPECT_TRUE(Close(op().backward_from_result(g, y_ref, p()), op().aten_backward_from_result(g, y_ref, p())));
  }

  // In place, on the same device, and a non-contiguous input.
  if (op().inplace) {
    at::Tensor inplace = x.clone();
    EXPECT_TRUE(op().inplace(inplace, p()).is_same(inplace));
    EXPECT_TRUE(Identical(inplace, y));
  }
  EXPECT_TRUE(Close(forward(x.t()), closed_form(x.t())));
}

TEST_P(ElementwiseFullTest, CudaDoubleBackwardMatchesATen) {
  if (!torch::cuda::is_available()) GTEST_SKIP() << "no CUDA device";
  const at::Device cuda(at::kCUDA, 0);
  const at::Tensor data = random_input(cuda);
  const at::Tensor g_data = torch::randn_like(data);
  const at::Tensor v = torch::randn_like(data);
  auto second_order = [&](bool ours) {
    const at::Tensor x = data.clone().requires_grad_();
    const at::Tensor g = g_data.clone().requires_grad_();
    const at::Tensor y = ours ? forward(x) : aten_forward(x);
    const at::Tensor gx = torch::autograd::grad({y}, {x}, {g}, true, true)[0];
    return torch::autograd::grad({(gx * v).sum()}, {x, g});
  };
  const auto gg = second_order(true);
  const auto gg_ref = second_order(false);
  const double dx_atol = op().double_backward_input_atol ? op().double_backward_input_atol(p(), dtype()) : 0.0;
  EXPECT_TRUE(dx_atol ? AllClose(gg[0], gg_ref[0], tol().rtol, dx_atol) : Close(gg[0], gg_ref[0])) << "d/dx";
  EXPECT_TRUE(Close(gg[1], gg_ref[1])) << "d/dgrad_output";
}

// ---------------------------------------------------------------------------------------------
// Reduced precision

TEST_P(ElementwiseReducedTest, ForwardMatchesATen) {
  const at::Tensor x = random_input();
  const at::Tensor y = forward(x);
  EXPECT_EQ(y.scalar_type(), dtype());
  EXPECT_TRUE(Close(y, aten_forward(x)));
  EXPECT_TRUE(Close(y, closed_form(x).to(dtype())));
  const at::Tensor edges = edge_values();
  EXPECT_TRUE(EdgesMatchATen(forward(edges), edges));
}

TEST_P(ElementwiseReducedTest, BackwardMatchesATen) {
  const at::Tensor x = random_input();
  const at::Tensor g = torch::randn_like(x);
  if (op().backward_from_input) {
    EXPECT_TRUE(Close(op().backward_from_input(g, x, p()), op().aten_backward_from_input(g, x, p())));
  }
  const at::Tensor xg = x.clone().requires_grad_();
  forward(xg).backward(g);
  const at::Tensor xg_ref = x.clone().requires_grad_();
  aten_forward(xg_ref).backward(g);
  EXPECT_TRUE(Close(xg.grad(), xg_ref.grad()));
}

TEST_P(ElementwiseReducedTest, CudaMatchesATen) {
  if (!torch::cuda::is_available()) GTEST_SKIP() << "no CUDA device";
  const at::Tensor x = random_input(at::Device(at::kCUDA, 0));
  EXPECT_TRUE(Close(forward(x), aten_forward(x)));
  const at::Tensor g = torch::randn_like(x);
  if (op().backward_from_input) {
    EXPECT_TRUE(Close(op().backward_from_input(g, x, p()), op().aten_backward_from_input(g, x, p())));
  }
}

INSTANTIATE_TEST_SUITE_P(Grid, ElementwiseFullTest, ::testing::ValuesIn(cases({at::kFloat, at::kDouble})), case_name);
INSTANTIATE_TEST_SUITE_P(Grid, ElementwiseInplaceTest,
                         ::testing::ValuesIn(cases({at::kFloat, at::kDouble}, has_inplace)), case_name);
INSTANTIATE_TEST_SUITE_P(Grid, ElementwiseInplaceBackwardTest,
                         ::testing::ValuesIn(cases({at::kFloat, at::kDouble}, inplace_backward_defined)), case_name);
INSTANTIATE_TEST_SUITE_P(Grid, ElementwiseResultBackwardTest,
                         ::testing::ValuesIn(cases({at::kFloat, at::kDouble}, result_backward_defined)), case_name);
INSTANTIATE_TEST_SUITE_P(Grid, ElementwiseReducedTest, ::testing::ValuesIn(cases({at::kHalf, at::kBFloat16})),
                         case_name);

// ---------------------------------------------------------------------------------------------
// Errors, registration and Meta kernels: once per op.

class ElementwiseOpTest : public ::testing::TestWithParam<const ElementwiseOp*> {
 protected:
  const ElementwiseOp& op() const { return *GetParam(); }
  const OpParams& p() const { return op().grid.front(); }
  std::string backward_name() const { return std::string(op().name) + "_backward"; }
};

std::vector<const ElementwiseOp*> op_pointers() {
  std::vector<const ElementwiseOp*> out;
  for (const auto& op : elementwise_ops()) out.push_back(&op);
  return out;
}

TEST_P(ElementwiseOpTest, NonFloatingInputs) {
  const std::string name = op().name;
  for (const auto dtype : {at::kLong, at::kInt, at::kShort, at::kByte, at::kBool, at::kComplexFloat}) {
    SCOPED_TRACE(std::string("dtype ") + c10::toString(dtype));
    const at::Tensor x = torch::arange(-2, 3).to(dtype);
    const at::Tensor f = torch::ones({5});
    if (op().forward_accepts && op().forward_accepts(dtype)) {
      // As ATen's: the same dtype (relu) or the default float dtype (sigmoid), and the same values.
      const at::Tensor y = op().forward(x, p());
      const at::Tensor ref = op().aten_forward(x, p());
      EXPECT_EQ(y.scalar_type(), ref.scalar_type());
      EXPECT_TRUE(AllClose(y, ref, 1e-6, 0.0));
    } else {
      ExpectC10ErrorContaining([&] { op().forward(x, p()); }, name + ": expected self to be a floating-point");
    }
    if (op().inplace && op().inplace_accepts && op().inplace_accepts(dtype)) {
      at::Tensor y = x.clone();
      at::Tensor ref = x.clone();
      op().inplace(y, p());
      op().aten_inplace(ref, p());
      EXPECT_TRUE(at::equal(y, ref));
    } else if (op().inplace) {
      at::Tensor y = x.clone();
      ExpectC10ErrorContaining([&] { op().inplace(y, p()); }, name + "_: expected self to be a floating-point");
    }
    for (const Backward backward : {op().backward_from_input, op().backward_from_result}) {
      if (!backward) continue;
      ExpectC10ErrorContaining([&] { backward(x, f, p()); },
                               backward_name() + ": expected grad_output to be a floating-point");
      ExpectC10ErrorContaining([&] { backward(f, x, p()); },
                               backward_name() + ": expected " + op().saved_arg + " to be a floating-point");
    }
  }
}

TEST_P(ElementwiseOpTest, BackwardMismatchedArguments) {
  const at::Tensor g = torch::randn({4, 5});
  for (const Backward backward : {op().backward_from_input, op().backward_from_result}) {
    if (!backward) continue;
    ExpectC10ErrorContaining([&] { backward(g, torch::randn({5, 4}), p()); }, "shape");
    ExpectC10ErrorContaining([&] { backward(g, torch::randn({4, 5}, torch::kDouble), p()); }, "dtype");
  }
}

TEST_P(ElementwiseOpTest, InplaceOnExpandedView) {
  if (!op().inplace) GTEST_SKIP() << op().name << " has no in-place form";
  at::Tensor x = torch::randn({1, 4}).expand({3, 4});
  EXPECT_THROW(op().inplace(x, p()), c10::Error);
}

TEST_P(ElementwiseOpTest, OpsAreInTheDispatcher) {
  auto& d = c10::Dispatcher::singleton();
  std::vector<std::string> names = {std::string("torch_ext::") + op().name, "torch_ext::" + backward_name()};
  if (op().inplace) names.push_back(std::string("torch_ext::") + op().name + "_");
  for (const auto& name : names) {
    const auto schema = d.findSchema({name, ""});
    ASSERT_TRUE(schema.has_value()) << name;
    EXPECT_TRUE(schema->hasKernelForDispatchKey(c10::DispatchKey::CPU)) << name;
    EXPECT_TRUE(schema->hasKernelForDispatchKey(c10::DispatchKey::Meta)) << name;
    // Registered for the Autograd alias key, which the dispatch table fills in for AutogradCPU.
    EXPECT_TRUE(schema->hasKernelForDispatchKey(c10::DispatchKey::Autograd)) << name;
    EXPECT_TRUE(schema->hasComputedKernelForDispatchKey(c10::DispatchKey::AutogradCPU)) << name;
  }
}

TEST_P(ElementwiseOpTest, MetaKernelsGiveShapeAndStrides) {
  const at::Tensor x = torch::empty({6, 7}, torch::device(at::kMeta)).t();
  for (const auto& params : op().grid) {
    SCOPED_TRACE(::testing::PrintToString(params));
    const at::Tensor y = op().forward(x, params);
    EXPECT_TRUE(y.is_meta());
    EXPECT_EQ(y.sizes(), x.sizes());
    expect_aten_strides(op(), x, y, op().aten_forward(torch::empty({6, 7}).t(), params));
    if (op().backward_from_input) {
      const at::Tensor gx = op().backward_from_input(x, x, params);
      EXPECT_TRUE(gx.is_meta());
      EXPECT_EQ(gx.sizes(), x.sizes());
      EXPECT_EQ(gx.strides(), y.strides());
    }
  }
}

INSTANTIATE_TEST_SUITE_P(Ops, ElementwiseOpTest, ::testing::ValuesIn(op_pointers()),
                         [](const ::testing::TestParamInfo<const ElementwiseOp*>& info) {
                           return std::string(info.param->name);
                         });

// ---------------------------------------------------------------------------------------------
// Build information (not an op's; kept with the op suites it came with).

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
