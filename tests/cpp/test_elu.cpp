// C++ tests of what is particular to the ELU family: the result-based backward's refusal of a negative alpha,
// and CELU and SELU (compositions of elu) against ATen's. The checks every elementwise op gets (forward,
// backward, in place, double backward, reduced precision, CUDA, errors, registration, Meta) run over ELU's row
// in elementwise_cases.h, in test_elementwise.cpp.

#include <gtest/gtest.h>

#include <ATen/core/dispatch/Dispatcher.h>
#include <torch/torch.h>
#include <torch_ext/torch_ext.h>

#include <string>

#include "elementwise_cases.h"
#include "tensor_assertions.h"

namespace {

using torch_ext_test::AllClose;
using torch_ext_test::ExpectC10ErrorContaining;
using torch_ext_test::Identical;
using torch_ext_test::OpParams;
namespace elu_case = torch_ext_test::elu_case;

const torch_ext_test::ElementwiseOp& elu_row() { return torch_ext_test::elementwise_op("elu"); }

::testing::AssertionResult Close(const at::Tensor& actual, const at::Tensor& expected) {
  const auto tol = elu_case::tolerance(expected.scalar_type());
  return AllClose(actual, expected, tol.rtol, tol.atol);
}

// ---------------------------------------------------------------------------------------------
// A negative alpha: the result cannot be inverted for a negative slope, so the result-based backward (and
// with it the in-place form's backward) refuses it, as ATen's does.

class EluNegativeAlphaTest : public ::testing::TestWithParam<std::tuple<OpParams, at::ScalarType>> {
 protected:
  void SetUp() override { torch::manual_seed(0); }
  const OpParams& p() const { return std::get<0>(GetParam()); }
  at::ScalarType dtype() const { return std::get<1>(GetParam()); }
  double alpha() const { return elu_case::alpha(p()); }
  double scale() const { return elu_case::scale(p()); }
  double input_scale() const { return elu_case::input_scale(p()); }
};

std::vector<OpParams> negative_alpha_grid() {
  std::vector<OpParams> out;
  for (const auto& p : elu_row().grid) {
    if (elu_case::alpha(p) < 0) out.push_back(p);
  }
  return out;
}

TEST_P(EluNegativeAlphaTest, BackwardOpFromResultRefuses) {
  const at::Tensor x = elu_row().random_input(p(), dtype(), at::kCPU);
  const at::Tensor g = torch::randn_like(x);
  const at::Tensor y = at::elu(x, alpha(), scale(), input_scale());
  ExpectC10ErrorContaining(
      [&] { torch_ext::detail::elu_backward(g, alpha(), scale(), input_scale(), /*is_result=*/true, y); },
      "negative slope");
}

TEST_P(EluNegativeAlphaTest, InplaceBackwardRefuses) {
  const at::Tensor data = elu_row().random_input(p(), dtype(), at::kCPU);
  const at::Tensor g = torch::randn_like(data);
  const at::Tensor leaf = data.clone().requires_grad_();
  at::Tensor y = leaf.clone();
  torch_ext::elu_(y, alpha(), scale(), input_scale());
  EXPECT_THROW(y.backward(g), c10::Error);
}

INSTANTIATE_TEST_SUITE_P(Grid, EluNegativeAlphaTest,
                         ::testing::Combine(::testing::ValuesIn(negative_alpha_grid()),
                                            ::testing::Values(at::kFloat, at::kDouble)),
                         [](const ::testing::TestParamInfo<EluNegativeAlphaTest::ParamType>& info) {
                           return std::string(std::get<0>(info.param).name) + "_" +
                                  torch_ext_test::dtype_name(std::get<1>(info.param));
                         });

// ---------------------------------------------------------------------------------------------
// CELU and SELU against ATen's, per dtype.

class CeluSeluTest : public ::testing::TestWithParam<at::ScalarType> {
 protected:
  void SetUp() override { torch::manual_seed(0); }
  at::Tensor random_input() const { return elu_row().random_input(elu_row().grid.front(), GetParam(), at::kCPU); }
  at::Tensor edge_values() const { return torch_ext_test::repeated_edges(elu_row().edges, GetParam(), at::kCPU); }
};

TEST_P(CeluSeluTest, CeluMatchesATen) {
  const at::Tensor data = random_input();
  for (const double alpha : {1.0, 0.5, 2.0, 3.0, -1.5}) {
    SCOPED_TRACE("alpha = " + std::to_string(alpha));
    EXPECT_TRUE(Close(torch_ext::celu(data, alpha), at::celu(data, alpha)));
    at::Tensor inplace = data.clone();
    EXPECT_TRUE(torch_ext::celu_(inplace, alpha).is_same(inplace));
    EXPECT_TRUE(Close(inplace, at::celu(data, alpha)));

    const at::Tensor x = data.clone().requires_grad_();
    torch_ext::celu(x, alpha).sum().backward();
    const at::Tensor x_ref = data.clone().requires_grad_();
    at::celu(x_ref, alpha).sum().backward();
    EXPECT_TRUE(Close(x.grad(), x_ref.grad()));
  }
}

TEST_P(CeluSeluTest, SeluMatchesATen) {
  const at::Tensor data = random_input();
  EXPECT_TRUE(Close(torch_ext::selu(data), at::selu(data)));
  EXPECT_TRUE(Identical(torch_ext::selu(edge_values()), at::selu(edge_values())));
  at::Tensor inplace = data.clone();
  EXPECT_TRUE(torch_ext::selu_(inplace).is_same(inplace));
  EXPECT_TRUE(Close(inplace, at::selu(data)));

  const at::Tensor x = data.clone().requires_grad_();
  torch_ext::selu(x).sum().backward();
  const at::Tensor x_ref = data.clone().requires_grad_();
  at::selu(x_ref).sum().backward();
  EXPECT_TRUE(Close(x.grad(), x_ref.grad()));
}

TEST_P(CeluSeluTest, SeluIsEluWithSeluConstants) {
  const at::Tensor data = random_input();
  EXPECT_TRUE(
      Identical(torch_ext::selu(data), torch_ext::elu(data, torch_ext::kSeluAlpha, torch_ext::kSeluScale, 1.0)));
}

INSTANTIATE_TEST_SUITE_P(Dtypes, CeluSeluTest, ::testing::Values(at::kFloat, at::kDouble, at::kHalf, at::kBFloat16),
                         [](const ::testing::TestParamInfo<at::ScalarType>& info) {
                           return torch_ext_test::dtype_name(info.param);
                         });

// ---------------------------------------------------------------------------------------------
// CELU's and SELU's errors and registration (elu's own are in test_elementwise.cpp).

TEST(EluErrors, CeluAlphaZero) {
  const at::Tensor x = torch::randn({8});
  ExpectC10ErrorContaining([&] { torch_ext::celu(x, 0.0); }, "alpha cannot be 0");
  at::Tensor y = x.clone();
  ExpectC10ErrorContaining([&] { torch_ext::celu_(y, 0.0); }, "alpha cannot be 0");
  EXPECT_TRUE(Identical(y, x)) << "celu_ with alpha 0 must leave its input alone";
}

TEST(EluErrors, CeluSeluIntegerInputs) {
  for (const auto dtype : {at::kLong, at::kInt, at::kShort, at::kByte, at::kBool}) {
    SCOPED_TRACE(std::string("dtype ") + c10::toString(dtype));
    const at::Tensor x = torch::ones({5}, torch::dtype(dtype));
    ExpectC10ErrorContaining([&] { torch_ext::celu(x, 1.0); }, "floating-point");
    ExpectC10ErrorContaining([&] { torch_ext::selu(x); }, "floating-point");
  }
}

TEST(EluRegistration, CeluSeluAreInTheDispatcher) {
  auto& d = c10::Dispatcher::singleton();
  for (const char* name : {"torch_ext::celu", "torch_ext::celu_", "torch_ext::selu", "torch_ext::selu_"}) {
    EXPECT_TRUE(d.findSchema({name, ""}).has_value()) << name;
  }
}

}  // namespace
