// torch_ext::nn's activation modules: each forward is one call of the op's C++ API.

#include "activation.h"

#include <ATen/ops/full.h>

#include "../ops/ops.h"
#include "../ops/softmax.h"

namespace torch_ext::nn {

ELUImpl::ELUImpl(const ELUOptions& options_) : options(options_) {}

at::Tensor ELUImpl::forward(at::Tensor input) {
  return options.inplace() ? torch_ext::elu_(input, options.alpha()) : torch_ext::elu(input, options.alpha());
}

void ELUImpl::pretty_print(std::ostream& stream) const {
  stream << "torch_ext::nn::ELU(alpha=" << options.alpha();
  if (options.inplace()) {
    stream << std::boolalpha << ", inplace=" << options.inplace();
  }
  stream << ")";
}

CELUImpl::CELUImpl(const CELUOptions& options_) : options(options_) {}

at::Tensor CELUImpl::forward(at::Tensor input) {
  return options.inplace() ? torch_ext::celu_(input, options.alpha()) : torch_ext::celu(input, options.alpha());
}

void CELUImpl::pretty_print(std::ostream& stream) const {
  stream << "torch_ext::nn::CELU(alpha=" << options.alpha();
  if (options.inplace()) {
    stream << std::boolalpha << ", inplace=" << options.inplace();
  }
  stream << ")";
}

SELUImpl::SELUImpl(const SELUOptions& options_) : options(options_) {}

at::Tensor SELUImpl::forward(at::Tensor input) {
  return options.inplace() ? torch_ext::selu_(input) : torch_ext::selu(input);
}

void SELUImpl::pretty_print(std::ostream& stream) const {
  stream << "torch_ext::nn::SELU(";
  if (options.inplace()) {
    stream << std::boolalpha << "inplace=" << options.inplace();
  }
  stream << ")";
}

PReLUImpl::PReLUImpl(const PReLUOptions& options_) : options(options_) {
  reset();
}

void PReLUImpl::reset() {
  TORCH_CHECK(options.num_parameters() >= 1, "torch_ext::nn::PReLU: expected num_parameters >= 1, got ",
              options.num_parameters());
  weight = register_parameter("weight", at::full({options.num_parameters()}, options.init()));
}

at::Tensor PReLUImpl::forward(const at::Tensor& input) {
  return torch_ext::prelu(input, weight);
}

void PReLUImpl::pretty_print(std::ostream& stream) const {
  stream << "torch_ext::nn::PReLU(num_parameters=" << options.num_parameters() << ")";
}

RReLUImpl::RReLUImpl(const RReLUOptions& options_) : options(options_) {}

at::Tensor RReLUImpl::forward(at::Tensor input) {
  return options.inplace() ? torch_ext::rrelu_(input, options.lower(), options.upper(), is_training())
                           : torch_ext::rrelu(input, options.lower(), options.upper(), is_training());
}

void RReLUImpl::pretty_print(std::ostream& stream) const {
  stream << "torch_ext::nn::RReLU(lower=" << options.lower() << ", upper=" << options.upper();
  if (options.inplace()) {
    stream << std::boolalpha << ", inplace=" << options.inplace();
  }
  stream << ")";
}

SoftplusImpl::SoftplusImpl(const SoftplusOptions& options_) : options(options_) {}

at::Tensor SoftplusImpl::forward(const at::Tensor& input) {
  return torch_ext::softplus(input, options.beta(), options.threshold());
}

void SoftplusImpl::pretty_print(std::ostream& stream) const {
  stream << "torch_ext::nn::Softplus(beta=" << options.beta() << ", threshold=" << options.threshold() << ")";
}

SoftmaxImpl::SoftmaxImpl(const SoftmaxOptions& options_) : options(options_) {}

at::Tensor SoftmaxImpl::forward(const at::Tensor& input) {
  return torch_ext::softmax(input, options.dim());
}

void SoftmaxImpl::pretty_print(std::ostream& stream) const {
  stream << "torch_ext::nn::Softmax(dim=" << options.dim() << ")";
}

LogSoftmaxImpl::LogSoftmaxImpl(const LogSoftmaxOptions& options_) : options(options_) {}

at::Tensor LogSoftmaxImpl::forward(const at::Tensor& input) {
  return torch_ext::log_softmax(input, options.dim());
}

void LogSoftmaxImpl::pretty_print(std::ostream& stream) const {
  stream << "torch_ext::nn::LogSoftmax(dim=" << options.dim() << ")";
}

at::Tensor SigmoidImpl::forward(const at::Tensor& input) {
  return torch_ext::sigmoid(input);
}

void SigmoidImpl::pretty_print(std::ostream& stream) const {
  stream << "torch_ext::nn::Sigmoid()";
}

at::Tensor TanhImpl::forward(const at::Tensor& input) {
  return torch_ext::tanh(input);
}

void TanhImpl::pretty_print(std::ostream& stream) const {
  stream << "torch_ext::nn::Tanh()";
}

at::Tensor LogSigmoidImpl::forward(const at::Tensor& input) {
  return torch_ext::logsigmoid(input);
}

void LogSigmoidImpl::pretty_print(std::ostream& stream) const {
  stream << "torch_ext::nn::LogSigmoid()";
}

ReLUImpl::ReLUImpl(const ReLUOptions& options_) : options(options_) {}

at::Tensor ReLUImpl::forward(at::Tensor input) {
  return options.inplace() ? torch_ext::relu_(input) : torch_ext::relu(input);
}

void ReLUImpl::pretty_print(std::ostream& stream) const {
  stream << "torch_ext::nn::ReLU(";
  if (options.inplace()) {
    stream << std::boolalpha << "inplace=" << options.inplace();
  }
  stream << ")";
}

LeakyReLUImpl::LeakyReLUImpl(const LeakyReLUOptions& options_) : options(options_) {}

at::Tensor LeakyReLUImpl::forward(at::Tensor input) {
  return options.inplace() ? torch_ext::leaky_relu_(input, options.negative_slope())
                           : torch_ext::leaky_relu(input, options.negative_slope());
}

void LeakyReLUImpl::pretty_print(std::ostream& stream) const {
  stream << "torch_ext::nn::LeakyReLU(negative_slope=" << options.negative_slope();
  if (options.inplace()) {
    stream << std::boolalpha << ", inplace=" << options.inplace();
  }
  stream << ")";
}

namespace {

// As Python's: Sign(grad='identity', beta=5.0).
void print_step(std::ostream& stream, const char* name, const StepOptions& options) {
  stream << "torch_ext::nn::" << name << "(grad='" << options.grad() << "', beta=" << options.beta() << ")";
}

}  // namespace

SignImpl::SignImpl(const SignOptions& options_) : options(options_) {}

at::Tensor SignImpl::forward(const at::Tensor& input) {
  return torch_ext::sign(input, options.grad(), options.beta());
}

void SignImpl::pretty_print(std::ostream& stream) const {
  print_step(stream, "Sign", options);
}

HeavisideImpl::HeavisideImpl(const HeavisideOptions& options_) : options(options_) {}

at::Tensor HeavisideImpl::forward(const at::Tensor& input) {
  return torch_ext::heaviside(input, options.grad(), options.beta());
}

void HeavisideImpl::pretty_print(std::ostream& stream) const {
  print_step(stream, "Heaviside", options);
}

}  // namespace torch_ext::nn
