// Hierarchical softmax: schemas, the C++ API (typed dispatcher calls), the argument checks, the operands every
// device's kernels see, and the Meta kernels.

#include "internal/hsoftmax.h"

#include <ATen/OpMathType.h>
#include <ATen/core/dispatch/Dispatcher.h>
#include <ATen/ops/empty.h>
#include <torch/library.h>

#include "common/checks.h"
#include "common/optional_tensor.h"
#include "out_overload.h"

namespace torch_ext {

at::Tensor hsoftmax_nll(const at::Tensor& input, const at::Tensor& weight, const std::optional<at::Tensor>& bias,
                        const at::Tensor& path_nodes, const at::Tensor& path_codes, const at::Tensor& path_len,
                        const at::Tensor& target, int64_t ignore_index) {
  static auto op = c10::Dispatcher::singleton()
                       .findSchemaOrThrow("torch_ext::hsoftmax_nll", "")
                       .typed<decltype(hsoftmax_nll)>();
  return op.call(input, weight, bias, path_nodes, path_codes, path_len, target, ignore_index);
}

at::Tensor hsoftmax_log_prob(const at::Tensor& input, const at::Tensor& weight, const std::optional<at::Tensor>& bias,
                             const at::Tensor& path_nodes, const at::Tensor& path_codes, const at::Tensor& path_len) {
  static auto op = c10::Dispatcher::singleton()
                       .findSchemaOrThrow("torch_ext::hsoftmax_log_prob", "")
                       .typed<decltype(hsoftmax_log_prob)>();
  return op.call(input, weight, bias, path_nodes, path_codes, path_len);
}

std::tuple<at::Tensor, at::Tensor> detail::hsoftmax_nll_forward(const at::Tensor& input, const at::Tensor& weight,
                                                                const std::optional<at::Tensor>& bias,
                                                                const at::Tensor& path_nodes,
                                                                const at::Tensor& path_codes,
                                                                const at::Tensor& path_len, const at::Tensor& target,
                                                                int64_t ignore_index) {
  static auto op = c10::Dispatcher::singleton()
                       .findSchemaOrThrow("torch_ext::hsoftmax_nll_forward", "")
                       .typed<decltype(hsoftmax_nll_forward)>();
  return op.call(input, weight, bias, path_nodes, path_codes, path_len, target, ignore_index);
}

std::tuple<at::Tensor, at::Tensor, at::Tensor> detail::hsoftmax_nll_backward(
    const at::Tensor& grad_output, const at::Tensor& input, const at::Tensor& weight,
    const std::optional<at::Tensor>& bias, const at::Tensor& path_nodes, const at::Tensor& path_codes,
    const at::Tensor& path_len, const at::Tensor& target, int64_t ignore_index, const at::Tensor& logits) {
  static auto op = c10::Dispatcher::singleton()
                       .findSchemaOrThrow("torch_ext::hsoftmax_nll_backward", "")
                       .typed<decltype(hsoftmax_nll_backward)>();
  return op.call(grad_output, input, weight, bias, path_nodes, path_codes, path_len, target, ignore_index, logits);
}

namespace ops {
namespace {

constexpr const char* kForward = "hsoftmax_nll_forward";
constexpr const char* kBackward = "hsoftmax_nll_backward";
constexpr const char* kLogProb = "hsoftmax_log_prob";

void check_index_tensor(const char* op, const char* arg, const at::Tensor& t, at::ScalarType dtype,
                        const at::Tensor& input) {
  TORCH_CHECK(t.defined(), op, ": expected ", arg, " to be a tensor, got an undefined tensor");
  TORCH_CHECK(t.scalar_type() == dtype, op, ": expected ", arg, " to be ", dtype, ", got ", t.scalar_type());
  check_same_device(op, arg, t, "input", input);
}

// The checks every op shares: shapes, dtypes, devices of the operands and the tree.
void check_hsoftmax(const char* op, const at::Tensor& input, const at::Tensor& weight,
                    const std::optional<at::Tensor>& bias, const at::Tensor& path_nodes, const at::Tensor& path_codes,
                    const at::Tensor& path_len) {
  check_floating(op, "input", input);
  TORCH_CHECK(input.dim() == 2, op, ": expected input to be 2-D [N, in_features], got shape ", input.sizes());
  TORCH_CHECK(weight.defined(), op, ": expected weight to be a tensor, got an undefined tensor");
  check_same_dtype(op, "weight", weight, "input", input);
  check_same_device(op, "weight", weight, "input", input);
  // NB: SymInt sizes, so that the Meta kernels run under dynamic shapes (torch.compile, export).
  TORCH_CHECK(weight.dim() == 2 && weight.sym_size(0) >= 1 && weight.sym_size(1) == input.sym_size(1), op,
              ": expected weight to be [n_classes - 1, in_features] with in_features = ", input.sym_size(1),
              " (input's) and at least 2 classes, got shape ", weight.sizes());
  const c10::SymInt classes = weight.sym_size(0) + 1;
  if (bias.has_value() && bias->defined()) {
    check_same_dtype(op, "bias", *bias, "input", input);
    check_same_device(op, "bias", *bias, "input", input);
    TORCH_CHECK(bias->dim() == 1 && bias->sym_size(0) == classes - 1, op, ": expected bias to be [n_classes - 1] = [",
                classes - 1, "] (weight's rows), got shape ", bias->sizes());
  }
  check_index_tensor(op, "path_nodes", path_nodes, at::kInt, input);
  check_index_tensor(op, "path_codes", path_codes, at::kChar, input);
  check_index_tensor(op, "path_len", path_len, at::kInt, input);
  TORCH_CHECK(path_nodes.dim() == 2 && path_nodes.sym_size(0) == classes && path_nodes.sym_size(1) >= 1, op,
              ": expected path_nodes to be [n_classes, max_depth] with n_classes = ", classes,
              " (weight's rows + 1), got shape ", path_nodes.sizes());
  TORCH_CHECK(path_codes.sym_sizes() == path_nodes.sym_sizes(), op,
              ": expected path_codes to have path_nodes' shape ", path_nodes.sym_sizes(), ", got ",
              path_codes.sym_sizes());
  TORCH_CHECK(path_len.dim() == 1 && path_len.sym_size(0) == classes, op, ": expected path_len to be [n_classes] = [",
              classes, "], got shape ", path_len.sizes());
}

void check_target(const char* op, const at::Tensor& input, const at::Tensor& target) {
  check_index_tensor(op, "target", target, at::kLong, input);
  TORCH_CHECK(target.dim() == 1 && target.sym_size(0) == input.sym_size(0), op, ": expected target to be [N] = [",
              input.sym_size(0), "] (a class id per input row), got shape ", target.sizes());
}

void check_backward(const char* op, const at::Tensor& grad_output, const at::Tensor& input,
                    const at::Tensor& path_nodes, const at::Tensor& logits) {
  check_floating(op, "grad_output", grad_output);
  check_same_dtype(op, "grad_output", grad_output, "input", input);
  check_same_device(op, "grad_output", grad_output, "input", input);
  TORCH_CHECK(grad_output.dim() == 1 && grad_output.sym_size(0) == input.sym_size(0), op,
              ": expected grad_output to be [N] = [", input.sym_size(0), "] (the loss's shape), got shape ",
              grad_output.sizes());
  const at::ScalarType opmath = at::toOpMathType(input.scalar_type());
  TORCH_CHECK(logits.defined() && logits.scalar_type() == opmath && logits.dim() == 2 &&
                  logits.sym_size(0) == input.sym_size(0) && logits.sym_size(1) == path_nodes.sym_size(1),
              op, ": expected logits (the forward's) to be ", opmath, " of shape [", input.sym_size(0), ", ",
              path_nodes.sym_size(1), "], got ", logits.scalar_type(), " of shape ", logits.sym_sizes());
  check_same_device(op, "logits", logits, "input", input);
}

HsoftmaxOperands make_operands(const at::Tensor& input, const at::Tensor& weight,
                               const std::optional<at::Tensor>& bias, const at::Tensor& path_nodes,
                               const at::Tensor& path_codes, const at::Tensor& path_len, const at::Tensor& target,
                               int64_t ignore_index) {
  return {input.contiguous(),
          weight.contiguous(),
          bias.has_value() && bias->defined() ? bias->contiguous() : at::Tensor(),
          path_nodes.contiguous(),
          path_codes.contiguous(),
          path_len.contiguous(),
          target.defined() ? target.contiguous() : at::Tensor(),
          ignore_index};
}

std::tuple<at::Tensor, at::Tensor> empty_forward_outputs(const at::Tensor& input, const at::Tensor& path_nodes) {
  return {at::empty_symint({input.sym_size(0)}, input.options()),
          at::empty_symint({input.sym_size(0), path_nodes.sym_size(1)},
                           input.options().dtype(at::toOpMathType(input.scalar_type())))};
}

std::tuple<at::Tensor, at::Tensor, at::Tensor> empty_backward_outputs(const at::Tensor& input,
                                                                      const at::Tensor& weight) {
  return {at::empty_symint(input.sym_sizes(), input.options()),
          at::empty_symint(weight.sym_sizes(), weight.options()),
          at::empty_symint({weight.sym_size(0)}, weight.options())};
}

std::tuple<at::Tensor, at::Tensor> forward_meta(const at::Tensor& input, const at::Tensor& weight,
                                                const std::optional<at::Tensor>& bias, const at::Tensor& path_nodes,
                                                const at::Tensor& path_codes, const at::Tensor& path_len,
                                                const at::Tensor& target, int64_t ignore_index) {
  check_hsoftmax(kForward, input, weight, bias, path_nodes, path_codes, path_len);
  check_target(kForward, input, target);
  return empty_forward_outputs(input, path_nodes);
}

std::tuple<at::Tensor, at::Tensor, at::Tensor> backward_meta(
    const at::Tensor& grad_output, const at::Tensor& input, const at::Tensor& weight,
    const std::optional<at::Tensor>& bias, const at::Tensor& path_nodes, const at::Tensor& path_codes,
    const at::Tensor& path_len, const at::Tensor& target, int64_t ignore_index, const at::Tensor& logits) {
  check_hsoftmax(kBackward, input, weight, bias, path_nodes, path_codes, path_len);
  check_target(kBackward, input, target);
  check_backward(kBackward, grad_output, input, path_nodes, logits);
  return empty_backward_outputs(input, weight);
}

at::Tensor log_prob_meta(const at::Tensor& input, const at::Tensor& weight, const std::optional<at::Tensor>& bias,
                         const at::Tensor& path_nodes, const at::Tensor& path_codes, const at::Tensor& path_len) {
  check_hsoftmax(kLogProb, input, weight, bias, path_nodes, path_codes, path_len);
  return at::empty_symint({input.sym_size(0), weight.sym_size(0) + 1}, input.options());
}

// hsoftmax_nll on any device: the forward op's loss (its Autograd kernel saves the logits).
at::Tensor nll(const at::Tensor& input, const at::Tensor& weight, const std::optional<at::Tensor>& bias,
               const at::Tensor& path_nodes, const at::Tensor& path_codes, const at::Tensor& path_len,
               const at::Tensor& target, int64_t ignore_index) {
  return std::get<0>(torch_ext::detail::hsoftmax_nll_forward(input, weight, bias, path_nodes, path_codes, path_len,
                                                             target, ignore_index));
}

}  // namespace

std::tuple<at::Tensor, at::Tensor> hsoftmax_nll_forward_kernel(
    const at::Tensor& input, const at::Tensor& weight, const std::optional<at::Tensor>& bias,
    const at::Tensor& path_nodes, const at::Tensor& path_codes, const at::Tensor& path_len, const at::Tensor& target,
    int64_t ignore_index, HsoftmaxForward forward) {
  auto outputs = forward_meta(input, weight, bias, path_nodes, path_codes, path_len, target, ignore_index);
  if (input.sym_size(0) > 0) {
    forward(make_operands(input, weight, bias, path_nodes, path_codes, path_len, target, ignore_index),
            std::get<0>(outputs), std::get<1>(outputs));
  }
  return outputs;
}

std::tuple<at::Tensor, at::Tensor, at::Tensor> hsoftmax_nll_backward_kernel(
    const at::Tensor& grad_output, const at::Tensor& input, const at::Tensor& weight,
    const std::optional<at::Tensor>& bias, const at::Tensor& path_nodes, const at::Tensor& path_codes,
    const at::Tensor& path_len, const at::Tensor& target, int64_t ignore_index, const at::Tensor& logits,
    HsoftmaxBackward backward) {
  auto grads =
      backward_meta(grad_output, input, weight, bias, path_nodes, path_codes, path_len, target, ignore_index, logits);
  backward(make_operands(input, weight, bias, path_nodes, path_codes, path_len, target, ignore_index),
           grad_output.contiguous(), logits.contiguous(), std::get<0>(grads), std::get<1>(grads),
           std::get<2>(grads));
  return grads;
}

at::Tensor hsoftmax_log_prob_kernel(const at::Tensor& input, const at::Tensor& weight,
                                    const std::optional<at::Tensor>& bias, const at::Tensor& path_nodes,
                                    const at::Tensor& path_codes, const at::Tensor& path_len,
                                    HsoftmaxLogProb log_prob) {
  at::Tensor out = log_prob_meta(input, weight, bias, path_nodes, path_codes, path_len);
  // NB: also with no rows: the CPU kernel checks the tree's entries first (the autograd kernel's check).
  log_prob(make_operands(input, weight, bias, path_nodes, path_codes, path_len, at::Tensor(), -100), out);
  return out;
}

}  // namespace ops
}  // namespace torch_ext

TORCH_LIBRARY_FRAGMENT(torch_ext, m) {
  m.def(
      "hsoftmax_nll(Tensor input, Tensor weight, Tensor? bias, Tensor path_nodes, Tensor path_codes, "
      "Tensor path_len, Tensor target, int ignore_index=-100) -> Tensor");
  m.def(
      "hsoftmax_nll_forward(Tensor input, Tensor weight, Tensor? bias, Tensor path_nodes, Tensor path_codes, "
      "Tensor path_len, Tensor target, int ignore_index=-100) -> (Tensor output, Tensor logits)");
  m.def(
      "hsoftmax_nll_backward(Tensor grad_output, Tensor input, Tensor weight, Tensor? bias, Tensor path_nodes, "
      "Tensor path_codes, Tensor path_len, Tensor target, int ignore_index, Tensor logits) -> "
      "(Tensor grad_input, Tensor grad_weight, Tensor grad_bias)");
  m.def(
      "hsoftmax_log_prob(Tensor input, Tensor weight, Tensor? bias, Tensor path_nodes, Tensor path_codes, "
      "Tensor path_len) -> Tensor");
  using torch_ext::ops::define_out_overload;
  define_out_overload(m,
                      "hsoftmax_nll.out(Tensor input, Tensor weight, Tensor? bias, Tensor path_nodes, "
                      "Tensor path_codes, Tensor path_len, Tensor target, int ignore_index=-100, *, "
                      "Tensor(a!) out) -> ()");
  define_out_overload(m,
                      "hsoftmax_nll_forward.out(Tensor input, Tensor weight, Tensor? bias, Tensor path_nodes, "
                      "Tensor path_codes, Tensor path_len, Tensor target, int ignore_index=-100, *, "
                      "Tensor(a!) output, Tensor(b!) logits) -> ()");
  define_out_overload(m,
                      "hsoftmax_nll_backward.grad_input(Tensor grad_output, Tensor input, Tensor weight, "
                      "Tensor? bias, Tensor path_nodes, Tensor path_codes, Tensor path_len, Tensor target, "
                      "int ignore_index, Tensor logits, *, Tensor(a!) grad_input, Tensor(b!) grad_weight, "
                      "Tensor(c!) grad_bias) -> ()");
  define_out_overload(m,
                      "hsoftmax_log_prob.out(Tensor input, Tensor weight, Tensor? bias, Tensor path_nodes, "
                      "Tensor path_codes, Tensor path_len, *, Tensor(a!) out) -> ()");
}

TORCH_LIBRARY_IMPL(torch_ext, CompositeExplicitAutograd, m) {
  m.impl("hsoftmax_nll", TORCH_FN(torch_ext::ops::nll));
}

TORCH_LIBRARY_IMPL(torch_ext, Meta, m) {
  m.impl("hsoftmax_nll_forward", TORCH_FN(torch_ext::ops::forward_meta));
  m.impl("hsoftmax_nll_backward", TORCH_FN(torch_ext::ops::backward_meta));
  m.impl("hsoftmax_log_prob", TORCH_FN(torch_ext::ops::log_prob_meta));
}
