#pragma once
// torch_ext's activation modules for C++ LibTorch, in the style of torch::nn's: options with TORCH_ARG,
// an <Name>Impl module (torch::nn::Cloneable) and its holder from TORCH_MODULE. Each forward calls the
// torch_ext op, so autograd works as in Python.
//
//   torch_ext::nn::PReLU prelu(torch_ext::nn::PReLUOptions().num_parameters(64));
//   auto y = prelu(x);

#include <torch/nn/cloneable.h>
#include <torch/nn/pimpl.h>
#include <torch/types.h>

#include <ostream>
#include <string>

namespace torch_ext::nn {

struct ELUOptions {
  TORCH_ARG(double, alpha) = 1.0;
  TORCH_ARG(bool, inplace) = false;
};

class ELUImpl : public torch::nn::Cloneable<ELUImpl> {
 public:
  explicit ELUImpl(const ELUOptions& options_ = {});
  at::Tensor forward(at::Tensor input);
  void reset() override {}
  void pretty_print(std::ostream& stream) const override;
  ELUOptions options;
};
TORCH_MODULE(ELU);

struct CELUOptions {
  TORCH_ARG(double, alpha) = 1.0;
  TORCH_ARG(bool, inplace) = false;
};

class CELUImpl : public torch::nn::Cloneable<CELUImpl> {
 public:
  explicit CELUImpl(const CELUOptions& options_ = {});
  at::Tensor forward(at::Tensor input);
  void reset() override {}
  void pretty_print(std::ostream& stream) const override;
  CELUOptions options;
};
TORCH_MODULE(CELU);

struct SELUOptions {
  /* implicit */ SELUOptions(bool inplace = false) : inplace_(inplace) {}
  TORCH_ARG(bool, inplace);
};

class SELUImpl : public torch::nn::Cloneable<SELUImpl> {
 public:
  explicit SELUImpl(const SELUOptions& options_ = {});
  at::Tensor forward(at::Tensor input);
  void reset() override {}
  void pretty_print(std::ostream& stream) const override;
  SELUOptions options;
};
TORCH_MODULE(SELU);

struct PReLUOptions {
  // 1, or the number of channels (dim 1) of the input.
  TORCH_ARG(int64_t, num_parameters) = 1;
  TORCH_ARG(double, init) = 0.25;
};

class PReLUImpl : public torch::nn::Cloneable<PReLUImpl> {
 public:
  explicit PReLUImpl(const PReLUOptions& options_ = {});
  at::Tensor forward(const at::Tensor& input);
  // Registers `weight` (num_parameters elements, filled with init), as torch::nn::PReLU.
  void reset() override;
  void pretty_print(std::ostream& stream) const override;
  PReLUOptions options;
  at::Tensor weight;
};
TORCH_MODULE(PReLU);

struct RReLUOptions {
  TORCH_ARG(double, lower) = 1.0 / 8.0;
  TORCH_ARG(double, upper) = 1.0 / 3.0;
  TORCH_ARG(bool, inplace) = false;
};

// Random slopes in training mode (is_training()), (lower + upper) / 2 in eval mode.
class RReLUImpl : public torch::nn::Cloneable<RReLUImpl> {
 public:
  explicit RReLUImpl(const RReLUOptions& options_ = {});
  at::Tensor forward(at::Tensor input);
  void reset() override {}
  void pretty_print(std::ostream& stream) const override;
  RReLUOptions options;
};
TORCH_MODULE(RReLU);

struct SoftplusOptions {
  TORCH_ARG(double, beta) = 1.0;
  TORCH_ARG(double, threshold) = 20.0;
};

class SoftplusImpl : public torch::nn::Cloneable<SoftplusImpl> {
 public:
  explicit SoftplusImpl(const SoftplusOptions& options_ = {});
  at::Tensor forward(const at::Tensor& input);
  void reset() override {}
  void pretty_print(std::ostream& stream) const override;
  SoftplusOptions options;
};
TORCH_MODULE(Softplus);

struct SoftmaxOptions {
  /* implicit */ SoftmaxOptions(int64_t dim) : dim_(dim) {}
  TORCH_ARG(int64_t, dim);
};

class SoftmaxImpl : public torch::nn::Cloneable<SoftmaxImpl> {
 public:
  explicit SoftmaxImpl(int64_t dim) : SoftmaxImpl(SoftmaxOptions(dim)) {}
  explicit SoftmaxImpl(const SoftmaxOptions& options_);
  at::Tensor forward(const at::Tensor& input);
  void reset() override {}
  void pretty_print(std::ostream& stream) const override;
  SoftmaxOptions options;
};
TORCH_MODULE(Softmax);

struct LogSoftmaxOptions {
  /* implicit */ LogSoftmaxOptions(int64_t dim) : dim_(dim) {}
  TORCH_ARG(int64_t, dim);
};

class LogSoftmaxImpl : public torch::nn::Cloneable<LogSoftmaxImpl> {
 public:
  explicit LogSoftmaxImpl(int64_t dim) : LogSoftmaxImpl(LogSoftmaxOptions(dim)) {}
  explicit LogSoftmaxImpl(const LogSoftmaxOptions& options_);
  at::Tensor forward(const at::Tensor& input);
  void reset() override {}
  void pretty_print(std::ostream& stream) const override;
  LogSoftmaxOptions options;
};
TORCH_MODULE(LogSoftmax);

class SigmoidImpl : public torch::nn::Cloneable<SigmoidImpl> {
 public:
  at::Tensor forward(const at::Tensor& input);
  void reset() override {}
  void pretty_print(std::ostream& stream) const override;
};
TORCH_MODULE(Sigmoid);

class TanhImpl : public torch::nn::Cloneable<TanhImpl> {
 public:
  at::Tensor forward(const at::Tensor& input);
  void reset() override {}
  void pretty_print(std::ostream& stream) const override;
};
TORCH_MODULE(Tanh);

class LogSigmoidImpl : public torch::nn::Cloneable<LogSigmoidImpl> {
 public:
  at::Tensor forward(const at::Tensor& input);
  void reset() override {}
  void pretty_print(std::ostream& stream) const override;
};
TORCH_MODULE(LogSigmoid);

struct ReLUOptions {
  /* implicit */ ReLUOptions(bool inplace = false) : inplace_(inplace) {}
  TORCH_ARG(bool, inplace);
};

class ReLUImpl : public torch::nn::Cloneable<ReLUImpl> {
 public:
  explicit ReLUImpl(const ReLUOptions& options_ = {});
  at::Tensor forward(at::Tensor input);
  void reset() override {}
  void pretty_print(std::ostream& stream) const override;
  ReLUOptions options;
};
TORCH_MODULE(ReLU);

struct LeakyReLUOptions {
  TORCH_ARG(double, negative_slope) = 1e-2;
  TORCH_ARG(bool, inplace) = false;
};

class LeakyReLUImpl : public torch::nn::Cloneable<LeakyReLUImpl> {
 public:
  explicit LeakyReLUImpl(const LeakyReLUOptions& options_ = {});
  at::Tensor forward(at::Tensor input);
  void reset() override {}
  void pretty_print(std::ostream& stream) const override;
  LeakyReLUOptions options;
};
TORCH_MODULE(LeakyReLU);

// The perceptron's step units (torch_ext::sign, torch_ext::heaviside): grad names the surrogate gradient.
struct StepOptions {
  TORCH_ARG(std::string, grad) = "identity";
  TORCH_ARG(double, beta) = 5.0;
};
using SignOptions = StepOptions;
using HeavisideOptions = StepOptions;

class SignImpl : public torch::nn::Cloneable<SignImpl> {
 public:
  explicit SignImpl(const SignOptions& options_ = {});
  at::Tensor forward(const at::Tensor& input);
  void reset() override {}
  void pretty_print(std::ostream& stream) const override;
  SignOptions options;
};
TORCH_MODULE(Sign);

class HeavisideImpl : public torch::nn::Cloneable<HeavisideImpl> {
 public:
  explicit HeavisideImpl(const HeavisideOptions& options_ = {});
  at::Tensor forward(const at::Tensor& input);
  void reset() override {}
  void pretty_print(std::ostream& stream) const override;
  HeavisideOptions options;
};
TORCH_MODULE(Heaviside);

}  // namespace torch_ext::nn
