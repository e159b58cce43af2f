// C++ tests of torch_ext::nn's modules: options and defaults as torch::nn's, parameters, pretty_print,
// clone, and outputs and gradients equal to torch::nn's modules on the same input.

#include <gtest/gtest.h>

#include "tensor_assertions.h"
#include <torch/torch.h>
#include <torch_ext/torch_ext.h>

#include <cmath>
#include <sstream>
#include <string>

namespace {

using torch_ext_test::AllClose;

std::string printed(const torch::nn::Module& m) {
  std::ostringstream os;
  m.pretty_print(os);
  return os.str();
}

at::Tensor input() {
  torch::manual_seed(0);
  return torch::randn({4, 3, 5}, torch::kDouble) * 3;
}

// Forward and backward of `ours` equal `theirs` on the same input (double, tight tolerance).
template <typename Ours, typename Theirs>
void expect_same_function(Ours& ours, Theirs& theirs) {
  const at::Tensor x = input().requires_grad_();
  const at::Tensor x_ref = input().requires_grad_();
  const at::Tensor y = ours->forward(x);
  const at::Tensor y_ref = theirs->forward(x_ref);
  EXPECT_TRUE(AllClose(y, y_ref, 1e-12, 1e-12));
  const at::Tensor g = torch::linspace(-1, 1, y.numel(), torch::kDouble).view(y.sizes());
  y.backward(g);
  y_ref.backward(g);
  EXPECT_TRUE(AllClose(x.grad(), x_ref.grad(), 1e-12, 1e-12));
}

TEST(NnModules, DefaultsMatchTorchNn) {
  EXPECT_EQ(torch_ext::nn::ELUOptions().alpha(), torch::nn::ELUOptions().alpha());
  EXPECT_EQ(torch_ext::nn::CELUOptions().alpha(), torch::nn::CELUOptions().alpha());
  EXPECT_EQ(torch_ext::nn::PReLUOptions().num_parameters(), torch::nn::PReLUOptions().num_parameters());
  EXPECT_EQ(torch_ext::nn::PReLUOptions().init(), torch::nn::PReLUOptions().init());
  EXPECT_EQ(torch_ext::nn::RReLUOptions().lower(), torch::nn::RReLUOptions().lower());
  EXPECT_EQ(torch_ext::nn::RReLUOptions().upper(), torch::nn::RReLUOptions().upper());
  EXPECT_EQ(torch_ext::nn::SoftplusOptions().beta(), torch::nn::SoftplusOptions().beta());
  EXPECT_EQ(torch_ext::nn::SoftplusOptions().threshold(), torch::nn::SoftplusOptions().threshold());
}

TEST(NnModules, ElementwiseModulesMatchTorchNn) {
  torch_ext::nn::ELU elu(torch_ext::nn::ELUOptions().alpha(0.7));
  torch::nn::ELU elu_ref(torch::nn::ELUOptions().alpha(0.7));
  expect_same_function(elu, elu_ref);
  // NB: an alpha exact in float: ATen's celu derivative takes 1 / alpha with alpha rounded to float
  // (derivatives.yaml: 1.0 / alpha.toFloat()), ours the exact 1 / alpha of the forward.
  torch_ext::nn::CELU celu(torch_ext::nn::CELUOptions().alpha(1.25));
  torch::nn::CELU celu_ref(torch::nn::CELUOptions().alpha(1.25));
  expect_same_function(celu, celu_ref);
  torch_ext::nn::SELU selu;
  torch::nn::SELU selu_ref;
  expect_same_function(selu, selu_ref);
  torch_ext::nn::Softplus softplus(torch_ext::nn::SoftplusOptions().beta(2).threshold(5));
  torch::nn::Softplus softplus_ref(torch::nn::SoftplusOptions().beta(2).threshold(5));
  expect_same_function(softplus, softplus_ref);
}

TEST(NnModules, SeedActivationsMatchTorchNn) {
  EXPECT_EQ(torch_ext::nn::ReLUOptions().inplace(), torch::nn::ReLUOptions().inplace());
  EXPECT_EQ(torch_ext::nn::LeakyReLUOptions().negative_slope(), torch::nn::LeakyReLUOptions().negative_slope());
  EXPECT_EQ(torch_ext::nn::LeakyReLUOptions().inplace(), torch::nn::LeakyReLUOptions().inplace());
  torch_ext::nn::Sigmoid sigmoid;
  torch::nn::Sigmoid sigmoid_ref;
  expect_same_function(sigmoid, sigmoid_ref);
  torch_ext::nn::Tanh tanh;
  torch::nn::Tanh tanh_ref;
  expect_same_function(tanh, tanh_ref);
  torch_ext::nn::LogSigmoid logsigmoid;
  torch::nn::LogSigmoid logsigmoid_ref;
  expect_same_function(logsigmoid, logsigmoid_ref);
  torch_ext::nn::ReLU relu;
  torch::nn::ReLU relu_ref;
  expect_same_function(relu, relu_ref);
  torch_ext::nn::LeakyReLU leaky(torch_ext::nn::LeakyReLUOptions().negative_slope(0.2));
  torch::nn::LeakyReLU leaky_ref(torch::nn::LeakyReLUOptions().negative_slope(0.2));
  expect_same_function(leaky, leaky_ref);
  // In place: the input is written (a non-leaf, as autograd requires), and the gradient is torch::nn's.
  torch_ext::nn::LeakyReLU leaky_inplace(torch_ext::nn::LeakyReLUOptions().negative_slope(0.2).inplace(true));
  torch::nn::LeakyReLU leaky_inplace_ref(torch::nn::LeakyReLUOptions().negative_slope(0.2).inplace(true));
  const at::Tensor leaf = input().requires_grad_();
  const at::Tensor leaf_ref = input().requires_grad_();
  const at::Tensor inner = leaf * 1;
  const at::Tensor y = leaky_inplace(inner);
  EXPECT_EQ(y.data_ptr(), inner.data_ptr());
  const at::Tensor y_ref = leaky_inplace_ref(leaf_ref * 1);
  EXPECT_TRUE(AllClose(y, y_ref, 1e-12, 1e-12));
  y.sum().backward();
  y_ref.sum().backward();
  EXPECT_TRUE(AllClose(leaf.grad(), leaf_ref.grad(), 1e-12, 1e-12));
  torch_ext::nn::ReLU relu_inplace(true);
  at::Tensor x = input();
  EXPECT_EQ(relu_inplace(x).data_ptr(), x.data_ptr());
  EXPECT_TRUE(torch::equal(x, torch::relu(input())));
}

TEST(NnModules, SoftmaxModulesMatchTorchNn) {
  for (int64_t dim : {0, 1, -1}) {
    torch_ext::nn::Softmax softmax(dim);
    torch::nn::Softmax softmax_ref(dim);
    expect_same_function(softmax, softmax_ref);
    torch_ext::nn::LogSoftmax log_softmax(dim);
    torch::nn::LogSoftmax log_softmax_ref(dim);
    expect_same_function(log_softmax, log_softmax_ref);
  }
}

TEST(NnModules, PReLUWeightIsAParameterNamedWeight) {
  torch_ext::nn::PReLU prelu(torch_ext::nn::PReLUOptions().num_parameters(3).init(0.1));
  const auto params = prelu->named_parameters();
  ASSERT_EQ(params.size(), 1u);
  ASSERT_TRUE(params.contains("weight"));
  EXPECT_TRUE(torch::equal(params["weight"], torch::full({3}, 0.1)));
  EXPECT_TRUE(params["weight"].requires_grad());

  torch::nn::PReLU prelu_ref(torch::nn::PReLUOptions().num_parameters(3).init(0.1));
  prelu->to(torch::kDouble);
  prelu_ref->to(torch::kDouble);
  expect_same_function(prelu, prelu_ref);
  // The weight gradient, reduced over batch and length, equals torch::nn's.
  EXPECT_TRUE(AllClose(prelu->weight.grad(), prelu_ref->weight.grad(), 1e-12, 1e-12));
}

TEST(NnModules, RReLUFollowsTrainingMode) {
  torch_ext::nn::RReLU rrelu(torch_ext::nn::RReLUOptions().lower(0.1).upper(0.3));
  const at::Tensor x = -torch::ones({1000}, torch::kDouble);
  rrelu->eval();
  EXPECT_TRUE(AllClose(rrelu->forward(x), x * 0.2, 0, 1e-15));
  rrelu->train();
  const at::Tensor slopes = rrelu->forward(x) / x;
  EXPECT_GE(slopes.min().item<double>(), 0.1);
  EXPECT_LE(slopes.max().item<double>(), 0.3);
  EXPECT_GT((slopes.max() - slopes.min()).item<double>(), 0.1);  // random, not the eval slope
}

TEST(NnModules, InplaceOptionWritesTheInput) {
  torch_ext::nn::ELU elu(torch_ext::nn::ELUOptions().inplace(true));
  at::Tensor x = input();
  const at::Tensor y = elu(x);
  EXPECT_EQ(y.data_ptr(), x.data_ptr());
}

TEST(NnModules, PrettyPrintAndClone) {
  EXPECT_EQ(printed(*torch_ext::nn::ELU(torch_ext::nn::ELUOptions().alpha(0.5).inplace(true))),
            "torch_ext::nn::ELU(alpha=0.5, inplace=true)");
  EXPECT_EQ(printed(*torch_ext::nn::PReLU(torch_ext::nn::PReLUOptions().num_parameters(4))),
            "torch_ext::nn::PReLU(num_parameters=4)");
  EXPECT_EQ(printed(*torch_ext::nn::Softmax(1)), "torch_ext::nn::Softmax(dim=1)");
  EXPECT_EQ(printed(*torch_ext::nn::Softplus()), "torch_ext::nn::Softplus(beta=1, threshold=20)");
  EXPECT_EQ(printed(*torch_ext::nn::Sigmoid()), "torch_ext::nn::Sigmoid()");
  EXPECT_EQ(printed(*torch_ext::nn::Tanh()), "torch_ext::nn::Tanh()");
  EXPECT_EQ(printed(*torch_ext::nn::LogSigmoid()), "torch_ext::nn::LogSigmoid()");
  EXPECT_EQ(printed(*torch_ext::nn::ReLU()), "torch_ext::nn::ReLU()");
  EXPECT_EQ(printed(*torch_ext::nn::ReLU(true)), "torch_ext::nn::ReLU(inplace=true)");
  EXPECT_EQ(printed(*torch_ext::nn::LeakyReLU(torch_ext::nn::LeakyReLUOptions().negative_slope(0.25))),
            "torch_ext::nn::LeakyReLU(negative_slope=0.25)");

  torch_ext::nn::PReLU prelu(torch_ext::nn::PReLUOptions().num_parameters(2));
  auto copy = std::dynamic_pointer_cast<torch_ext::nn::PReLUImpl>(prelu->clone());
  ASSERT_TRUE(copy);
  EXPECT_NE(copy->weight.data_ptr(), prelu->weight.data_ptr());
  EXPECT_TRUE(torch::equal(copy->weight, prelu->weight));
}

// The step units have no torch::nn twin: their forward, the surrogate gradient and the option errors.
TEST(NnModules, SignAndHeavisideModules) {
  const at::Tensor x = torch::tensor({-2.0, -0.5, -0.0, 0.0, 0.5, 2.0}, torch::kDouble).requires_grad_();
  torch_ext::nn::Sign sign(torch_ext::nn::SignOptions().grad("clipped"));
  const at::Tensor y = sign(x);
  EXPECT_TRUE(torch::equal(y.detach(), torch::tensor({-1.0, -1.0, 1.0, 1.0, 1.0, 1.0}, torch::kDouble)));
  y.sum().backward();
  // clipped: 1 where |x| <= 1.
  EXPECT_TRUE(torch::equal(x.grad(), torch::tensor({0.0, 1.0, 1.0, 1.0, 1.0, 0.0}, torch::kDouble)));

  torch_ext::nn::Heaviside heaviside;
  const at::Tensor h = heaviside(x.detach());
  EXPECT_TRUE(torch::equal(h, (torch_ext::sign(x.detach()) + 1) / 2));

  EXPECT_EQ(printed(*sign), "torch_ext::nn::Sign(grad='clipped', beta=5)");
  EXPECT_EQ(printed(*torch_ext::nn::Heaviside(torch_ext::nn::HeavisideOptions().grad("swish_sign").beta(2.5))),
            "torch_ext::nn::Heaviside(grad='swish_sign', beta=2.5)");
  torch_ext::nn::Sign unknown(torch_ext::nn::SignOptions().grad("ste"));
  torch_ext_test::ExpectC10ErrorContaining([&] { unknown(x.detach()); }, "sign: expected grad to be one of");
  torch_ext::nn::Sign bad_beta(torch_ext::nn::SignOptions().beta(std::nan("")));
  torch_ext_test::ExpectC10ErrorContaining([&] { bad_beta(x.detach()); },
                                           "sign: expected beta to be a finite positive number, got nan");
}

TEST(NnModules, InSequential) {
  torch::manual_seed(0);
  torch::nn::Sequential model(torch::nn::Linear(5, 8), torch_ext::nn::PReLU(torch_ext::nn::PReLUOptions().num_parameters(8)),
                              torch::nn::Linear(8, 3), torch_ext::nn::LogSoftmax(1));
  const at::Tensor y = model->forward(torch::randn({4, 5}));
  EXPECT_EQ(y.sizes(), (std::vector<int64_t>{4, 3}));
  EXPECT_TRUE(AllClose(y.exp().sum(1), torch::ones({4}), 1e-6, 1e-6));
  y.sum().backward();
  for (const auto& p : model->parameters()) {
    EXPECT_TRUE(p.grad().defined());
  }
}

}  // namespace

// The loss takes torch::nn's options: the same loss, gradients and buffers as torch::nn::BCEWithLogitsLoss.
TEST(NnModules, BCEWithLogitsLossMatchesTorchNn) {
  const auto opts = torch::TensorOptions().dtype(torch::kDouble);
  const at::Tensor pos_weight = torch::tensor({0.5, 1.0, 3.0}, opts);
  const at::Tensor weight = torch::tensor({{2.0}, {0.25}}, opts);
  const std::vector<torch::nn::BCEWithLogitsLossOptions> cases = {
      torch::nn::BCEWithLogitsLossOptions(),
      torch::nn::BCEWithLogitsLossOptions().pos_weight(pos_weight).reduction(torch::kSum),
      torch::nn::BCEWithLogitsLossOptions().weight(weight).pos_weight(pos_weight).reduction(torch::kNone),
  };
  for (const auto& options : cases) {
    torch_ext::nn::BCEWithLogitsLoss ours(options);
    torch::nn::BCEWithLogitsLoss theirs(options);
    const at::Tensor x = (torch::linspace(-6, 6, 6, opts).reshape({2, 3})).requires_grad_();
    const at::Tensor x_ref = x.detach().clone().requires_grad_();
    const at::Tensor t = torch::tensor({{0.0, 0.3, 1.0}, {1.0, 0.5, 0.0}}, opts);
    const at::Tensor y = ours(x, t);
    const at::Tensor y_ref = theirs(x_ref, t);
    EXPECT_TRUE(AllClose(y, y_ref, 1e-12, 1e-12));
    y.sum().backward();
    y_ref.sum().backward();
    EXPECT_TRUE(AllClose(x.grad(), x_ref.grad(), 1e-12, 1e-12));
    std::vector<std::string> names, names_ref;
    for (const auto& b : ours->named_buffers()) {
      names.push_back(b.key());
    }
    for (const auto& b : theirs->named_buffers()) {
      names_ref.push_back(b.key());
    }
    EXPECT_EQ(names, names_ref);
  }
  EXPECT_EQ(printed(*torch_ext::nn::BCEWithLogitsLoss()), "torch_ext::nn::BCEWithLogitsLoss()");
  torch_ext::nn::BCEWithLogitsLoss loss;
  EXPECT_THROW(loss(torch::zeros({2, 3}), torch::zeros({3, 2})), c10::Error);
}

// The loss takes torch::nn's options: the same loss, gradient and buffer as torch::nn::CrossEntropyLoss, for class
// indices (with ignore_index, weights, label smoothing) and class probabilities.
TEST(NnModules, CrossEntropyLossMatchesTorchNn) {
  const auto opts = torch::TensorOptions().dtype(torch::kDouble);
  const at::Tensor weight = torch::tensor({0.5, 1.0, 3.0, 2.0}, opts);
  const at::Tensor indices = torch::tensor({0, 3, 1, 3, 2}, torch::kLong);
  const at::Tensor probabilities = torch::softmax(torch::linspace(-2, 2, 20, opts).reshape({5, 4}).cos(), 1);
  const std::vector<std::pair<torch::nn::CrossEntropyLossOptions, at::Tensor>> cases = {
      {torch::nn::CrossEntropyLossOptions(), indices},
      {torch::nn::CrossEntropyLossOptions().weight(weight).ignore_index(3), indices},
      {torch::nn::CrossEntropyLossOptions().weight(weight).label_smoothing(0.2).reduction(torch::kSum), indices},
      {torch::nn::CrossEntropyLossOptions().reduction(torch::kNone).label_smoothing(0.1), probabilities},
  };
  for (const auto& [options, target] : cases) {
    torch_ext::nn::CrossEntropyLoss ours(options);
    torch::nn::CrossEntropyLoss theirs(options);
    const at::Tensor x = (torch::linspace(-6, 6, 20, opts).reshape({5, 4}).sin() * 4).requires_grad_();
    const at::Tensor x_ref = x.detach().clone().requires_grad_();
    const at::Tensor y = ours(x, target);
    const at::Tensor y_ref = theirs(x_ref, target);
    EXPECT_TRUE(AllClose(y, y_ref, 1e-12, 1e-12));
    y.sum().backward();
    y_ref.sum().backward();
    EXPECT_TRUE(AllClose(x.grad(), x_ref.grad(), 1e-12, 1e-12));
    EXPECT_EQ(ours->named_buffers().keys(), theirs->named_buffers().keys());
  }
  EXPECT_EQ(printed(*torch_ext::nn::CrossEntropyLoss()), "torch_ext::nn::CrossEntropyLoss()");
  torch_ext::nn::CrossEntropyLoss loss;
  EXPECT_THROW(loss(torch::zeros({2, 3}), torch::zeros({3}, torch::kLong)), c10::Error);
  // The z-loss term: lse_square_scale * logsumexp^2, averaged as the loss is.
  torch_ext::nn::CrossEntropyLoss z_loss(torch::nn::CrossEntropyLossOptions(), 0.01);
  const at::Tensor x = torch::linspace(-3, 3, 20, opts).reshape({5, 4});
  const at::Tensor expected = torch::nn::functional::cross_entropy(x, indices) +
                              0.01 * torch::logsumexp(x, 1).square().mean();
  EXPECT_TRUE(AllClose(z_loss(x, indices), expected, 1e-12, 1e-12));
}

namespace {

// A 3-class tree by hand: class 0 = (root, code 0); class 1 = (root, 1), (node 1, 0); class 2 = (root, 1), (node 1, 1).
std::tuple<at::Tensor, at::Tensor, at::Tensor> three_class_tree() {
  return {torch::tensor({0, 0, 0, 1, 0, 1}, torch::kInt).view({3, 2}),
          torch::tensor({0, 0, 1, 0, 1, 1}, torch::kChar).view({3, 2}), torch::tensor({1, 2, 2}, torch::kInt)};
}

// -log p(t | x) from the definition: the sigmoid decisions along t's path, by ATen ops (differentiable).
at::Tensor nll_by_definition(const at::Tensor& x, const at::Tensor& w, const at::Tensor& b, int64_t t) {
  const std::vector<std::vector<std::pair<int64_t, int64_t>>> paths = {{{0, 0}}, {{0, 1}, {1, 0}}, {{0, 1}, {1, 1}}};
  at::Tensor loss = torch::zeros({}, x.options());
  for (const auto& [node, code] : paths[t]) {
    const at::Tensor z = (x * w[node]).sum() + b[node];
    loss = loss - torch::log_sigmoid(code == 0 ? z : -z);
  }
  return loss;
}

}  // namespace

// The layer's loss, output and gradients equal the tree's definition; ignore_index, reductions, log_prob and
// predict agree; the parameter and buffer names are Python's (a state_dict saved there loads here).
TEST(NnModules, HierarchicalSoftmaxFollowsTheTree) {
  const auto [nodes, codes, len] = three_class_tree();
  torch::manual_seed(0);
  torch_ext::nn::HierarchicalSoftmax head(torch_ext::nn::HierarchicalSoftmaxOptions(4, nodes, codes, len));
  head->to(torch::kDouble);
  const at::Tensor x = torch::randn({5, 4}, torch::kDouble).requires_grad_();
  const at::Tensor target = torch::tensor({0, 2, -100, 1, 2}, torch::kLong);
  const auto out = head(x, target);
  const at::Tensor w = head->weight.detach().clone().requires_grad_();
  const at::Tensor b = head->bias.detach().clone().requires_grad_();
  const at::Tensor x_ref = x.detach().clone().requires_grad_();
  std::vector<at::Tensor> rows;
  for (int64_t r = 0; r < 5; ++r) {
    const int64_t t = target[r].item<int64_t>();
    rows.push_back(t < 0 ? torch::zeros({}, x.options()) : nll_by_definition(x_ref[r], w, b, t));
  }
  const at::Tensor nll_ref = torch::stack(rows);
  EXPECT_TRUE(AllClose(out.output, -nll_ref, 1e-12, 1e-12));
  EXPECT_TRUE(AllClose(out.loss, nll_ref.sum() / 4, 1e-12, 1e-12));  // the mean over the 4 rows not ignored
  out.loss.backward();
  (nll_ref.sum() / 4).backward();
  EXPECT_TRUE(AllClose(x.grad(), x_ref.grad(), 1e-12, 1e-12));
  EXPECT_TRUE(AllClose(head->weight.grad(), w.grad(), 1e-12, 1e-12));
  EXPECT_TRUE(AllClose(head->bias.grad(), b.grad(), 1e-12, 1e-12));

  const at::Tensor log_prob = head->log_prob(x.detach());
  EXPECT_TRUE(AllClose(log_prob.exp().sum(1), torch::ones({5}, torch::kDouble), 1e-12, 1e-12));
  EXPECT_TRUE(torch::equal(head->predict(x.detach()), log_prob.argmax(1)));
  EXPECT_EQ(head->named_parameters().keys(), (std::vector<std::string>{"weight", "bias"}));
  EXPECT_EQ(head->named_buffers().keys(), (std::vector<std::string>{"path_nodes", "path_codes", "path_len"}));
  EXPECT_EQ(printed(*head), "torch_ext::nn::HierarchicalSoftmax(in_features=4, n_classes=3, depth=2, bias=true)");
  // A 1-D input with a 0-dim target; a target out of range is the op's error.
  EXPECT_TRUE(AllClose(head(x.detach()[1], target[1]).output, out.output.detach()[1], 1e-12, 1e-12));
  EXPECT_THROW(head(x.detach(), torch::tensor({0, 1, 3, 0, 0}, torch::kLong)), c10::Error);

  torch_ext::nn::HierarchicalSoftmax summed(
      torch_ext::nn::HierarchicalSoftmaxOptions(4, nodes, codes, len).bias(false).reduction(torch::kSum));
  EXPECT_FALSE(summed->bias.defined());
  EXPECT_EQ(summed->named_parameters().keys(), (std::vector<std::string>{"weight"}));
  const auto sum_out = summed(x.detach().to(torch::kFloat), target);
  EXPECT_TRUE(AllClose(sum_out.loss, -sum_out.output.sum(), 1e-6, 1e-6));
}
