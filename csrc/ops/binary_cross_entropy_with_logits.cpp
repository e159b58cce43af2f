// binary_cross_entropy_with_logits: schemas, the C++ API (typed dispatcher calls), the argument checks and the Meta
// kernels.

#include "internal/binary_cross_entropy_with_logits.h"

#include <ATen/core/dispatch/Dispatcher.h>
#include <ATen/ops/empty.h>
#include <ATen/OpMathType.h>
#include <ATen/TensorOperators.h>
#include <ATen/ops/empty_like.h>
#include <ATen/ops/sum.h>
#include <torch/library.h>

#include "common/checks.h"
#include "out_overload.h"

namespace torch_ext {

at::Tensor binary_cross_entropy_with_logits(const at::Tensor& self, const at::Tensor& target,
                                            const std::optional<at::Tensor>& weight,
                                            const std::optional<at::Tensor>& pos_weight, int64_t reduction) {
  static auto op = c10::Dispatcher::singleton()
                       .findSchemaOrThrow("torch_ext::binary_cross_entropy_with_logits", "")
                       .typed<decltype(binary_cross_entropy_with_logits)>();
  return op.call(self, target, weight, pos_weight, reduction);
}

at::Tensor detail::binary_cross_entropy_with_logits_backward(const at::Tensor& grad_output, const at::Tensor& self,
                                                             const at::Tensor& target,
                                                             const std::optional<at::Tensor>& weight,
                                                             const std::optional<at::Tensor>& pos_weight,
                                                             int64_t reduction) {
  static auto op = c10::Dispatcher::singleton()
                       .findSchemaOrThrow("torch_ext::binary_cross_entropy_with_logits_backward", "")
                       .typed<decltype(binary_cross_entropy_with_logits_backward)>();
  return op.call(grad_output, self, target, weight, pos_weight, reduction);
}

at::Tensor detail::binary_cross_entropy_with_logits_target_backward(const at::Tensor& grad_output,
                                                                    const at::Tensor& self, const at::Tensor& target,
                                                                    const std::optional<at::Tensor>& weight,
                                                                    const std::optional<at::Tensor>& pos_weight,
                                                                    int64_t reduction) {
  static auto op = c10::Dispatcher::singleton()
                       .findSchemaOrThrow("torch_ext::binary_cross_entropy_with_logits_target_backward", "")
                       .typed<decltype(binary_cross_entropy_with_logits_target_backward)>();
  return op.call(grad_output, self, target, weight, pos_weight, reduction);
}

namespace ops {
namespace {

// t's shape broadcasts to ref's (without growing it): right-aligned, each size 1 or ref's.
void check_broadcasts_to(const char* op, const char* arg, const at::Tensor& t, const at::Tensor& ref) {
  const auto sizes = t.sym_sizes();
  const auto ref_sizes = ref.sym_sizes();
  bool ok = sizes.size() <= ref_sizes.size();
  for (size_t i = 1; ok && i <= sizes.size(); ++i) {
    const c10::SymInt& s = sizes[sizes.size() - i];
    ok = s == 1 || s == ref_sizes[ref_sizes.size() - i];
  }
  TORCH_CHECK(ok, op, ": expected ", arg, " to be broadcastable to the shape of self ", ref_sizes, ", got ", sizes);
}

void check_optional_operand(const char* op, const char* arg, const std::optional<at::Tensor>& t,
                            const at::Tensor& self) {
  if (!t.has_value() || !t->defined()) {
    return;
  }
  check_floating(op, arg, *t);
  check_same_dtype(op, arg, *t, "self", self);
  check_same_device(op, arg, *t, "self", self);
  check_broadcasts_to(op, arg, *t, self);
}

}  // namespace

void check_bce_with_logits(const char* op, const at::Tensor& self, const at::Tensor& target,
                           const std::optional<at::Tensor>& weight, const std::optional<at::Tensor>& pos_weight,
                           int64_t reduction) {
  check_floating(op, "self", self);
  check_floating(op, "target", target);
  check_same_dtype(op, "target", target, "self", self);
  check_same_device(op, "target", target, "self", self);
  check_same_shape(op, "target", target, "self", self);
  check_optional_operand(op, "weight", weight, self);
  check_optional_operand(op, "pos_weight", pos_weight, self);
  TORCH_CHECK(reduction == at::Reduction::None || reduction == at::Reduction::Mean ||
                  reduction == at::Reduction::Sum,
              op, ": expected reduction to be 0 (none), 1 (mean) or 2 (sum), got ", reduction);
}

void check_bce_with_logits_backward(const char* op, const at::Tensor& grad_output, const at::Tensor& self,
                                    const at::Tensor& target, const std::optional<at::Tensor>& weight,
                                    const std::optional<at::Tensor>& pos_weight, int64_t reduction) {
  check_bce_with_logits(op, self, target, weight, pos_weight, reduction);
  check_floating(op, "grad_output", grad_output);
  check_same_dtype(op, "grad_output", grad_output, "self", self);
  check_same_device(op, "grad_output", grad_output, "self", self);
  if (reduction == at::Reduction::None) {
    check_same_shape(op, "grad_output", grad_output, "self", self);
  } else {
    TORCH_CHECK(grad_output.sym_numel() == 1, op,
                ": expected grad_output to have one element (the gradient of a reduced loss), got shape ",
                grad_output.sym_sizes());
  }
}

at::Tensor empty_bce_with_logits_output(const at::Tensor& self, int64_t reduction) {
  if (reduction == at::Reduction::None) {
    return at::empty_like(self);
  }
  return at::empty({}, self.options());
}

at::Tensor expand_bce_with_logits_operand(const std::optional<at::Tensor>& t, const at::Tensor& self) {
  return t.has_value() && t->defined() ? t->expand(self.sizes()) : at::Tensor();
}

namespace {

// The per-element loss reduced: itself for "none", its sum or mean (accumulated in the op-math type) otherwise.
at::Tensor reduce_bce_with_logits_loss(const at::Tensor& loss, int64_t reduction) {
  if (reduction == at::Reduction::None) {
    return loss;
  }
  const at::ScalarType opmath = at::toOpMathType(loss.scalar_type());
  at::Tensor total = loss.sum(opmath);
  if (reduction == at::Reduction::Mean) {
    // NB: 0 / 0 for an empty loss: NaN, as ATen's mean.
    total = total / static_cast<double>(loss.numel());
  }
  return total.to(loss.scalar_type());
}

}  // namespace

double bce_with_logits_grad_scale(const at::Tensor& self, int64_t reduction) {
  // NB: a 0-element self has no gradient elements to scale.
  return reduction == at::Reduction::Mean && self.numel() > 0 ? 1.0 / static_cast<double>(self.numel()) : 1.0;
}

at::Tensor bce_with_logits_through_buffer(const at::Tensor& self, const at::Tensor& target,
                                          const std::optional<at::Tensor>& weight,
                                          const std::optional<at::Tensor>& pos_weight, int64_t reduction,
                                          BceWithLogitsLossLoop loop) {
  at::Tensor loss = at::empty_like(self);
  loop(loss, self, target, expand_bce_with_logits_operand(weight, self),
       expand_bce_with_logits_operand(pos_weight, self));
  return reduce_bce_with_logits_loss(loss, reduction);
}

at::Tensor bce_with_logits_forward(const at::Tensor& self, const at::Tensor& target,
                                   const std::optional<at::Tensor>& weight,
                                   const std::optional<at::Tensor>& pos_weight, int64_t reduction,
                                   BceWithLogitsForward forward) {
  check_bce_with_logits("binary_cross_entropy_with_logits", self, target, weight, pos_weight, reduction);
  return forward(self, target, weight, pos_weight, reduction);
}

at::Tensor bce_with_logits_backward(const char* op, const at::Tensor& grad_output, const at::Tensor& self,
                                    const at::Tensor& target, const std::optional<at::Tensor>& weight,
                                    const std::optional<at::Tensor>& pos_weight, int64_t reduction, bool of_target,
                                    BceWithLogitsGradLauncher launch) {
  check_bce_with_logits_backward(op, grad_output, self, target, weight, pos_weight, reduction);
  at::Tensor grad = at::empty_like(of_target ? target : self);
  launch(grad, grad_output, bce_with_logits_grad_scale(self, reduction), self, target,
         expand_bce_with_logits_operand(weight, self), expand_bce_with_logits_operand(pos_weight, self), reduction,
         of_target);
  return grad;
}

namespace {

at::Tensor bce_with_logits_meta(const at::Tensor& self, const at::Tensor& target,
                                const std::optional<at::Tensor>& weight, const std::optional<at::Tensor>& pos_weight,
                                int64_t reduction) {
  check_bce_with_logits("binary_cross_entropy_with_logits", self, target, weight, pos_weight, reduction);
  return empty_bce_with_logits_output(self, reduction);
}

at::Tensor bce_with_logits_backward_meta(const at::Tensor& grad_output, const at::Tensor& self,
                                         const at::Tensor& target, const std::optional<at::Tensor>& weight,
                                         const std::optional<at::Tensor>& pos_weight, int64_t reduction) {
  check_bce_with_logits_backward("binary_cross_entropy_with_logits_backward", grad_output, self, target, weight,
                                 pos_weight, reduction);
  return at::empty_like(self);
}

at::Tensor bce_with_logits_target_backward_meta(const at::Tensor& grad_output, const at::Tensor& self,
                                                const at::Tensor& target, const std::optional<at::Tensor>& weight,
                                                const std::optional<at::Tensor>& pos_weight, int64_t reduction) {
  check_bce_with_logits_backward("binary_cross_entropy_with_logits_target_backward", grad_output, self, target,
                                 weight, pos_weight, reduction);
  return at::empty_like(target);
}

}  // namespace
}  // namespace ops
}  // namespace torch_ext

TORCH_LIBRARY_FRAGMENT(torch_ext, m) {
  m.def(
      "binary_cross_entropy_with_logits(Tensor self, Tensor target, Tensor? weight=None, Tensor? pos_weight=None, "
      "int reduction=1) -> Tensor");
  m.def(
      "binary_cross_entropy_with_logits_backward(Tensor grad_output, Tensor self, Tensor target, Tensor? weight, "
      "Tensor? pos_weight, int reduction) -> Tensor");
  m.def(
      "binary_cross_entropy_with_logits_target_backward(Tensor grad_output, Tensor self, Tensor target, "
      "Tensor? weight, Tensor? pos_weight, int reduction) -> Tensor");
  using torch_ext::ops::define_out_overload;
  define_out_overload(m,
                      "binary_cross_entropy_with_logits.out(Tensor self, Tensor target, Tensor? weight=None, "
                      "Tensor? pos_weight=None, int reduction=1, *, Tensor(a!) out) -> ()");
  define_out_overload(m,
                      "binary_cross_entropy_with_logits_backward.grad_input(Tensor grad_output, Tensor self, "
                      "Tensor target, Tensor? weight, Tensor? pos_weight, int reduction, *, Tensor(a!) grad_input) "
                      "-> ()");
  define_out_overload(m,
                      "binary_cross_entropy_with_logits_target_backward.grad_input(Tensor grad_output, Tensor self, "
                      "Tensor target, Tensor? weight, Tensor? pos_weight, int reduction, *, Tensor(a!) grad_input) "
                      "-> ()");
}

TORCH_LIBRARY_IMPL(torch_ext, Meta, m) {
  m.impl("binary_cross_entropy_with_logits", TORCH_FN(torch_ext::ops::bce_with_logits_meta));
  m.impl("binary_cross_entropy_with_logits_backward", TORCH_FN(torch_ext::ops::bce_with_logits_backward_meta));
  m.impl("binary_cross_entropy_with_logits_target_backward",
         TORCH_FN(torch_ext::ops::bce_with_logits_target_backward_meta));
}
