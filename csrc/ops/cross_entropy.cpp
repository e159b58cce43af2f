// cross_entropy: schemas, the C++ API (typed dispatcher calls), the argument checks, the rows every device's kernels
// see, and the Meta kernels.

#include "internal/cross_entropy.h"

#include <ATen/OpMathType.h>
#include <ATen/core/dispatch/Dispatcher.h>
#include <ATen/ops/empty.h>
#include <torch/library.h>

#include "common/checks.h"
#include "common/optional_tensor.h"
#include "out_overload.h"

namespace torch_ext {

at::Tensor cross_entropy(const at::Tensor& self, const at::Tensor& target, const std::optional<at::Tensor>& weight,
                         int64_t reduction, int64_t ignore_index, double label_smoothing, double lse_square_scale) {
  static auto op = c10::Dispatcher::singleton()
                       .findSchemaOrThrow("torch_ext::cross_entropy", "")
                       .typed<decltype(cross_entropy)>();
  return op.call(self, target, weight, reduction, ignore_index, label_smoothing, lse_square_scale);
}

std::tuple<at::Tensor, at::Tensor, at::Tensor> detail::cross_entropy_forward(
    const at::Tensor& self, const at::Tensor& target, const std::optional<at::Tensor>& weight, int64_t reduction,
    int64_t ignore_index, double label_smoothing, double lse_square_scale) {
  static auto op = c10::Dispatcher::singleton()
                       .findSchemaOrThrow("torch_ext::cross_entropy_forward", "")
                       .typed<decltype(cross_entropy_forward)>();
  return op.call(self, target, weight, reduction, ignore_index, label_smoothing, lse_square_scale);
}

at::Tensor detail::cross_entropy_backward(const at::Tensor& grad_output, const at::Tensor& self,
                                          const at::Tensor& target, const std::optional<at::Tensor>& weight,
                                          int64_t reduction, int64_t ignore_index, double label_smoothing,
                                          double lse_square_scale, const at::Tensor& lse,
                                          const at::Tensor& total_weight) {
  static auto op = c10::Dispatcher::singleton()
                       .findSchemaOrThrow("torch_ext::cross_entropy_backward", "")
                       .typed<decltype(cross_entropy_backward)>();
  return op.call(grad_output, self, target, weight, reduction, ignore_index, label_smoothing, lse_square_scale, lse,
                 total_weight);
}

namespace ops {
namespace {

// The unreduced loss's shape: self's without the class dim (dim 0 for [C], dim 1 otherwise).
std::vector<int64_t> loss_shape(const at::Tensor& self) {
  std::vector<int64_t> shape(self.sizes().begin(), self.sizes().end());
  shape.erase(shape.begin() + (self.dim() == 1 ? 0 : 1));
  return shape;
}

int64_t class_count(const at::Tensor& self) { return self.size(self.dim() == 1 ? 0 : 1); }

// Whether target holds class probabilities (self's shape) rather than class indices; checks everything else.
bool check_cross_entropy(const char* op, const at::Tensor& self, const at::Tensor& target,
                         const std::optional<at::Tensor>& weight, int64_t reduction, int64_t ignore_index,
                         double label_smoothing, double lse_square_scale) {
  check_floating(op, "self", self);
  TORCH_CHECK(self.dim() >= 1, op, ": expected self to have 1 or more dimensions (the classes' dim 0 for [C], else "
              "dim 1), got ", self.dim());
  TORCH_CHECK(target.defined(), op, ": expected target to be a tensor, got an undefined tensor");
  check_same_device(op, "target", target, "self", self);
  const int64_t classes = class_count(self);
  TORCH_CHECK(classes > 0, op, ": expected self to have at least one class (a class dim of size > 0), got shape ",
              self.sizes());
  const bool probabilities = target.sizes() == self.sizes() && target.scalar_type() != at::kLong;
  if (probabilities) {
    check_floating(op, "target", target);
    check_same_dtype(op, "target", target, "self", self);
    TORCH_CHECK(ignore_index < 0, op, ": ignore_index is not supported for class-probability targets (target of "
                "self's shape), got ignore_index=", ignore_index);
  } else {
    TORCH_CHECK(target.scalar_type() == at::kLong, op, ": expected target to be class indices (int64, self's shape "
                "without the class dim, ", at::IntArrayRef(loss_shape(self)), ") or class probabilities (self's "
                "shape ", self.sizes(), " and dtype), got ", target.scalar_type(), " of shape ", target.sizes());
    if (self.dim() >= 2) {
      // NB: a ValueError, as ATen's.
      TORCH_CHECK_VALUE(target.dim() >= 1 && target.size(0) == self.size(0), op, ": expected input batch_size (",
                  self.size(0), ") to match target batch_size (", target.dim() >= 1 ? target.size(0) : 0, ")");
    }
    TORCH_CHECK(target.sizes() == at::IntArrayRef(loss_shape(self)), op, ": expected target of class indices to "
                "have the shape ", at::IntArrayRef(loss_shape(self)), " (self's without the class dim), got ",
                target.sizes());
  }
  if (weight.has_value() && weight->defined()) {
    check_floating(op, "weight", *weight);
    check_same_dtype(op, "weight", *weight, "self", self);
    check_same_device(op, "weight", *weight, "self", self);
    TORCH_CHECK(weight->dim() == 1 && weight->size(0) == classes, op, ": expected weight to have one element per "
                "class ([", classes, "]), got shape ", weight->sizes());
  }
  TORCH_CHECK(reduction == at::Reduction::None || reduction == at::Reduction::Mean ||
                  reduction == at::Reduction::Sum,
              op, ": expected reduction to be 0 (none), 1 (mean) or 2 (sum), got ", reduction);
  TORCH_CHECK(label_smoothing >= 0.0 && label_smoothing <= 1.0, op,
              ": expected label_smoothing to be between 0.0 and 1.0, got ", label_smoothing);
  TORCH_CHECK(lse_square_scale >= 0.0 && std::isfinite(lse_square_scale), op,
              ": expected lse_square_scale to be finite and >= 0, got ", lse_square_scale);
  return probabilities;
}

void check_cross_entropy_backward(const char* op, const at::Tensor& grad_output, const at::Tensor& self,
                                  const at::Tensor& lse, const at::Tensor& total_weight, int64_t reduction) {
  check_floating(op, "grad_output", grad_output);
  check_same_dtype(op, "grad_output", grad_output, "self", self);
  check_same_device(op, "grad_output", grad_output, "self", self);
  const std::vector<int64_t> shape = loss_shape(self);
  const at::IntArrayRef rows_shape(shape);
  if (reduction == at::Reduction::None) {
    TORCH_CHECK(grad_output.sizes() == rows_shape, op, ": expected grad_output to have the loss's shape ",
                rows_shape, ", got ", grad_output.sizes());
  } else {
    TORCH_CHECK(grad_output.numel() == 1, op, ": expected grad_output to have one element (the gradient of a "
                "reduced loss), got shape ", grad_output.sizes());
  }
  const at::ScalarType opmath = at::toOpMathType(self.scalar_type());
  std::vector<int64_t> parts_shape = shape;
  parts_shape.push_back(2);
  TORCH_CHECK(lse.defined() && lse.scalar_type() == opmath && lse.sizes() == at::IntArrayRef(parts_shape), op,
              ": expected lse (the forward's: max and log_sum per row) to be ", opmath, " of shape ",
              at::IntArrayRef(parts_shape), ", got ", lse.scalar_type(), " of shape ", lse.sizes());
  TORCH_CHECK(total_weight.defined() && total_weight.scalar_type() == opmath && total_weight.numel() == 1, op,
              ": expected total_weight (the forward's) to be one ", opmath, " value");
  check_same_device(op, "lse", lse, "self", self);
  check_same_device(op, "total_weight", total_weight, "self", self);
}

// t ([C], [N, C] or [N, C, d...], self's layout) as [R, C] rows, contiguous.
at::Tensor as_rows(const at::Tensor& t, int64_t rows, int64_t classes) {
  const at::Tensor moved = t.dim() >= 3 ? t.movedim(1, -1) : t;
  return moved.reshape({rows, classes}).contiguous();
}

CrossEntropyRows make_rows(const at::Tensor& self, const at::Tensor& target, const std::optional<at::Tensor>& weight,
                           bool probabilities, int64_t reduction, int64_t ignore_index, double label_smoothing,
                           double lse_square_scale) {
  const int64_t classes = class_count(self);
  int64_t rows = 1;
  for (const int64_t s : loss_shape(self)) {
    rows *= s;
  }
  return CrossEntropyRows{as_rows(self, rows, classes),
                          probabilities ? as_rows(target, rows, classes) : target.reshape({rows}).contiguous(),
                          weight.has_value() && weight->defined() ? weight->contiguous() : at::Tensor(),
                          !probabilities,
                          ignore_index,
                          label_smoothing,
                          lse_square_scale,
                          reduction};
}

// An empty gradient in self's layout whose [R, C] rows are contiguous (as the kernels write them).
at::Tensor empty_grad_rows(const at::Tensor& self) {
  if (self.dim() <= 2) {
    return at::empty(self.sizes(), self.options());
  }
  std::vector<int64_t> moved = loss_shape(self);
  moved.push_back(class_count(self));
  return at::empty(moved, self.options()).movedim(-1, 1);
}

std::tuple<at::Tensor, at::Tensor, at::Tensor> empty_forward_outputs(const at::Tensor& self, int64_t reduction) {
  const std::vector<int64_t> shape = loss_shape(self);
  const at::TensorOptions opmath = self.options().dtype(at::toOpMathType(self.scalar_type()));
  at::Tensor output = reduction == at::Reduction::None ? at::empty(shape, self.options())
                                                       : at::empty({}, self.options());
  std::vector<int64_t> parts_shape = shape;
  parts_shape.push_back(2);
  return {output, at::empty(parts_shape, opmath), at::empty({}, opmath)};
}

constexpr const char* kForward = "cross_entropy_forward";
constexpr const char* kBackward = "cross_entropy_backward";

std::tuple<at::Tensor, at::Tensor, at::Tensor> cross_entropy_forward_meta(
    const at::Tensor& self, const at::Tensor& target, const std::optional<at::Tensor>& weight, int64_t reduction,
    int64_t ignore_index, double label_smoothing, double lse_square_scale) {
  check_cross_entropy(kForward, self, target, weight, reduction, ignore_index, label_smoothing, lse_square_scale);
  return empty_forward_outputs(self, reduction);
}

at::Tensor cross_entropy_backward_meta(const at::Tensor& grad_output, const at::Tensor& self,
                                       const at::Tensor& target, const std::optional<at::Tensor>& weight,
                                       int64_t reduction, int64_t ignore_index, double label_smoothing,
                                       double lse_square_scale, const at::Tensor& lse,
                                       const at::Tensor& total_weight) {
  check_cross_entropy(kBackward, self, target, weight, reduction, ignore_index, label_smoothing, lse_square_scale);
  check_cross_entropy_backward(kBackward, grad_output, self, lse, total_weight, reduction);
  return empty_grad_rows(self);
}

// cross_entropy on any device: the forward op's loss (its Autograd kernel saves the other outputs).
at::Tensor cross_entropy_loss(const at::Tensor& self, const at::Tensor& target, const std::optional<at::Tensor>& weight,
                              int64_t reduction, int64_t ignore_index, double label_smoothing,
                              double lse_square_scale) {
  return std::get<0>(torch_ext::detail::cross_entropy_forward(self, target, weight, reduction, ignore_index,
                                                              label_smoothing, lse_square_scale));
}

}  // namespace

std::tuple<at::Tensor, at::Tensor, at::Tensor> cross_entropy_forward_kernel(
    const at::Tensor& self, const at::Tensor& target, const std::optional<at::Tensor>& weight, int64_t reduction,
    int64_t ignore_index, double label_smoothing, double lse_square_scale, CrossEntropyForward forward) {
  const bool probabilities = check_cross_entropy(kForward, self, target, weight, reduction, ignore_index,
                                                 label_smoothing, lse_square_scale);
  auto [output, lse, total_weight] = empty_forward_outputs(self, reduction);
  const CrossEntropyRows rows =
      make_rows(self, target, weight, probabilities, reduction, ignore_index, label_smoothing, lse_square_scale);
  forward(rows, output.view(reduction == at::Reduction::None ? rows.logits.size(0) : 1),
          lse.view({rows.logits.size(0), 2}), total_weight);
  return {output, lse, total_weight};
}

at::Tensor cross_entropy_backward_kernel(const at::Tensor& grad_output, const at::Tensor& self,
                                         const at::Tensor& target, const std::optional<at::Tensor>& weight,
                                         int64_t reduction, int64_t ignore_index, double label_smoothing,
                                         double lse_square_scale, const at::Tensor& lse,
                                         const at::Tensor& total_weight, CrossEntropyBackward backward) {
  const bool probabilities = check_cross_entropy(kBackward, self, target, weight, reduction, ignore_index,
                                                 label_smoothing, lse_square_scale);
  check_cross_entropy_backward(kBackward, grad_output, self, lse, total_weight, reduction);
  at::Tensor grad = empty_grad_rows(self);
  const CrossEntropyRows rows =
      make_rows(self, target, weight, probabilities, reduction, ignore_index, label_smoothing, lse_square_scale);
  const int64_t r = rows.logits.size(0), classes = rows.logits.size(1);
  backward(rows, grad.dim() >= 3 ? grad.movedim(1, -1).view({r, classes}) : grad.view({r, classes}),
           grad_output.reshape({reduction == at::Reduction::None ? r : 1}).contiguous(),
           lse.reshape({r, 2}).contiguous(), total_weight);
  return grad;
}

}  // namespace ops
}  // namespace torch_ext

TORCH_LIBRARY_FRAGMENT(torch_ext, m) {
  m.def(
      "cross_entropy(Tensor self, Tensor target, Tensor? weight=None, int reduction=1, int ignore_index=-100, "
      "float label_smoothing=0.0, float lse_square_scale=0.0) -> Tensor");
  m.def(
      "cross_entropy_forward(Tensor self, Tensor target, Tensor? weight=None, int reduction=1, int ignore_index=-100, "
      "float label_smoothing=0.0, float lse_square_scale=0.0) -> (Tensor output, Tensor lse, Tensor total_weight)");
  m.def(
      "cross_entropy_backward(Tensor grad_output, Tensor self, Tensor target, Tensor? weight, int reduction, "
      "int ignore_index, float label_smoothing, float lse_square_scale, Tensor lse, Tensor total_weight) -> Tensor");
  using torch_ext::ops::define_out_overload;
  define_out_overload(m,
                      "cross_entropy.out(Tensor self, Tensor target, Tensor? weight=None, int reduction=1, "
                      "int ignore_index=-100, float label_smoothing=0.0, float lse_square_scale=0.0, *, "
                      "Tensor(a!) out) -> ()");
  define_out_overload(m,
                      "cross_entropy_forward.out(Tensor self, Tensor target, Tensor? weight=None, int reduction=1, "
                      "int ignore_index=-100, float label_smoothing=0.0, float lse_square_scale=0.0, *, "
                      "Tensor(a!) output, Tensor(b!) lse, Tensor(c!) total_weight) -> ()");
  define_out_overload(m,
                      "cross_entropy_backward.grad_input(Tensor grad_output, Tensor self, Tensor target, "
                      "Tensor? weight, int reduction, int ignore_index, float label_smoothing, "
                      "float lse_square_scale, Tensor lse, Tensor total_weight, *, Tensor(a!) grad_input) -> ()");
}

TORCH_LIBRARY_IMPL(torch_ext, CompositeExplicitAutograd, m) {
  m.impl("cross_entropy", TORCH_FN(torch_ext::ops::cross_entropy_loss));
}

TORCH_LIBRARY_IMPL(torch_ext, Meta, m) {
  m.impl("cross_entropy_forward", TORCH_FN(torch_ext::ops::cross_entropy_forward_meta));
  m.impl("cross_entropy_backward", TORCH_FN(torch_ext::ops::cross_entropy_backward_meta));
}
