// C++ tests of the out= functions (torch_ext::elu_out, ...): over one list of calls, each writes into the caller's
// tensor what its functional twin returns, returns that tensor, and keeps ATen's out= rules. The rules themselves
// are tested per op from Python (tests/test_out.py); here, that the typed C++ API reaches them.

#include <gtest/gtest.h>

#include "tensor_assertions.h"
#include <ATen/CPUGeneratorImpl.h>
#include <torch/torch.h>
#include <torch_ext/torch_ext.h>

#include <functional>
#include <string>
#include <vector>

namespace {

using torch_ext_test::Identical;

struct OutCall {
  std::string name;
  // Writes into outs (which it may resize) and returns the functional results.
  std::function<std::vector<at::Tensor>(std::vector<at::Tensor>& outs, const at::Tensor& x, const at::Tensor& g)>
      run;
  int n_outs = 1;
};

at::Tensor prelu_weight(const at::Tensor& x) { return torch::tensor({0.25, -0.5, 0.125}, x.options()); }

at::Generator seeded() {
  auto gen = at::make_generator<at::CPUGeneratorImpl>();
  gen.set_current_seed(7);
  return gen;
}

// The out= call, and its functional twin on the same arguments.
std::vector<OutCall> out_calls() {
  using V = std::vector<at::Tensor>;
  return {
      {"elu",
       [](V& o, auto& x, auto&) {
         EXPECT_TRUE(torch_ext::elu_out(o[0], x, 0.7).is_same(o[0]));
         return V{torch_ext::elu(x, 0.7)};
       }},
      {"elu_backward",
       [](V& o, auto& x, auto& g) {
         EXPECT_TRUE(torch_ext::detail::elu_backward_out(o[0], g, 0.7, 1.0, 1.0, false, x).is_same(o[0]));
         return V{torch_ext::detail::elu_backward(g, 0.7, 1.0, 1.0, false, x)};
       }},
      {"celu",
       [](V& o, auto& x, auto&) {
         EXPECT_TRUE(torch_ext::celu_out(o[0], x, 2.0).is_same(o[0]));
         return V{torch_ext::celu(x, 2.0)};
       }},
      {"selu",
       [](V& o, auto& x, auto&) {
         EXPECT_TRUE(torch_ext::selu_out(o[0], x).is_same(o[0]));
         return V{torch_ext::selu(x)};
       }},
      {"softplus",
       [](V& o, auto& x, auto&) {
         EXPECT_TRUE(torch_ext::softplus_out(o[0], x, 2.0, 5.0).is_same(o[0]));
         return V{torch_ext::softplus(x, 2.0, 5.0)};
       }},
      {"softplus_backward",
       [](V& o, auto& x, auto& g) {
         EXPECT_TRUE(torch_ext::detail::softplus_backward_out(o[0], g, x, 2.0, 5.0).is_same(o[0]));
         return V{torch_ext::detail::softplus_backward(g, x, 2.0, 5.0)};
       }},
      {"prelu",
       [](V& o, auto& x, auto&) {
         EXPECT_TRUE(torch_ext::prelu_out(o[0], x, prelu_weight(x)).is_same(o[0]));
         return V{torch_ext::prelu(x, prelu_weight(x))};
       }},
      {"prelu_backward",
       [](V& o, auto& x, auto& g) {
         auto [gs, gw] = torch_ext::detail::prelu_backward_out(o[0], o[1], g, x, prelu_weight(x));
         EXPECT_TRUE(gs.is_same(o[0]) && gw.is_same(o[1]));
         auto [es, ew] = torch_ext::detail::prelu_backward(g, x, prelu_weight(x));
         return V{es, ew};
       },
       2},
      {"rrelu_train",
       [](V& o, auto& x, auto&) {
         EXPECT_TRUE(torch_ext::rrelu_out(o[0], x, 0.1, 0.3, true, seeded()).is_same(o[0]));
         return V{torch_ext::rrelu(x, 0.1, 0.3, true, seeded())};
       }},
      {"rrelu_with_noise",
       [](V& o, auto& x, auto&) {
         auto [out, noise] = torch_ext::detail::rrelu_with_noise_out(o[0], o[1], x, 0.1, 0.3, true, seeded());
         EXPECT_TRUE(out.is_same(o[0]) && noise.is_same(o[1]));
         auto [eo, en] = torch_ext::detail::rrelu_with_noise(x, 0.1, 0.3, true, seeded());
         return V{eo, en};
       },
       2},
      {"rrelu_backward",
       [](V& o, auto& x, auto& g) {
         EXPECT_TRUE(
             torch_ext::detail::rrelu_backward_out(o[0], g, x, std::nullopt, 0.1, 0.3, false, false).is_same(o[0]));
         return V{torch_ext::detail::rrelu_backward(g, x, std::nullopt, 0.1, 0.3, false, false)};
       }},
      {"softmax",
       [](V& o, auto& x, auto&) {
         EXPECT_TRUE(torch_ext::softmax_out(o[0], x, 1).is_same(o[0]));
         return V{torch_ext::softmax(x, 1)};
       }},
      {"log_softmax",
       [](V& o, auto& x, auto&) {
         EXPECT_TRUE(torch_ext::log_softmax_out(o[0], x, -1).is_same(o[0]));
         return V{torch_ext::log_softmax(x, -1)};
       }},
      {"softmax_backward",
       [](V& o, auto& x, auto& g) {
         const auto y = torch_ext::softmax(x, 1);
         EXPECT_TRUE(torch_ext::detail::softmax_backward_out(o[0], g, y, 1, x.scalar_type()).is_same(o[0]));
         return V{torch_ext::detail::softmax_backward(g, y, 1, x.scalar_type())};
       }},
      {"log_softmax_backward",
       [](V& o, auto& x, auto& g) {
         const auto y = torch_ext::log_softmax(x, 1);
         EXPECT_TRUE(torch_ext::detail::log_softmax_backward_out(o[0], g, y, 1, x.scalar_type()).is_same(o[0]));
         return V{torch_ext::detail::log_softmax_backward(g, y, 1, x.scalar_type())};
       }},
  };
}

class OutFunctions : public ::testing::TestWithParam<OutCall> {};

TEST_P(OutFunctions, WriteTheFunctionalResultIntoEmptyAndSizedOuts) {
  const auto x = torch::randn({4, 3, 5}, torch::kFloat) * 3;
  const auto g = torch::randn({4, 3, 5}, torch::kFloat);
  std::vector<at::Tensor> empty;
  for (int i = 0; i < GetParam().n_outs; ++i) {
    empty.push_back(torch::empty({0}));
  }
  const auto want = GetParam().run(empty, x, g);
  ASSERT_EQ(want.size(), empty.size());
  for (size_t i = 0; i < want.size(); ++i) {
    EXPECT_TRUE(Identical(empty[i], want[i])) << "out " << i;
  }
  std::vector<at::Tensor> sized;
  for (const auto& w : want) {
    sized.push_back(torch::full_like(w, std::nan("")));
  }
  const auto* data = sized[0].data_ptr();
  GetParam().run(sized, x, g);
  EXPECT_EQ(sized[0].data_ptr(), data) << "a sized out is written in place";
  for (size_t i = 0; i < want.size(); ++i) {
    EXPECT_TRUE(Identical(sized[i], want[i])) << "out " << i;
  }
}

TEST_P(OutFunctions, RefuseAnOutOfAnotherDtype) {
  const auto x = torch::randn({4, 3, 5}, torch::kFloat);
  std::vector<at::Tensor> outs;
  for (int i = 0; i < GetParam().n_outs; ++i) {
    outs.push_back(torch::empty({0}, torch::kDouble));
  }
  try {
    GetParam().run(outs, x, x);
    FAIL() << "expected an error";
  } catch (const c10::Error& e) {
    EXPECT_NE(std::string(e.what_without_backtrace()).find("to have the dtype of the result (Float), got Double"),
              std::string::npos)
        << e.what_without_backtrace();
  }
}

INSTANTIATE_TEST_SUITE_P(Ops, OutFunctions, ::testing::ValuesIn(out_calls()),
                         [](const ::testing::TestParamInfo<OutCall>& info) { return info.param.name; });

}  // namespace
