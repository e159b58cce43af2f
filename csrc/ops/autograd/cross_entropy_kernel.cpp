// Autograd for cross_entropy. The forward Function saves the logits, the target, and the forward's per-row
// log-sum-exp and total weight (no N x C tensor), and its backward calls the fused backward op. Higher orders and
// tangents (forward-mode AD) go through the loss's composite form over torch_ext's own softmax and log_softmax,
// which are differentiable in both modes. With ls = log_softmax(x), p = softmax(x), lse = x - ls (any class), G_r
// the incoming gradient times the reduction's scale (1 / total_weight for "mean"), B and A as in
// math/cross_entropy_math.h:
//   loss_r = -(1 - eps) w_y ls_y - (eps / C) sum_c w_c ls_c + z lse^2   class indices (0 for an ignored row)
//   loss_r = -sum_c B_c ls_c + z lse^2,  B_c = w_c ((1 - eps) t_c + eps / C)   class probabilities
//   d loss / d x_c = G_r ((A + 2 z lse) p_c - B_c)       (cross_entropy_backward)
//   d loss / d t_c = -G_r (1 - eps) w_c ls_c             (class probabilities)
// weight is not differentiable, as in ATen; total_weight depends on the target's class indices only.

#include <ATen/TensorOperators.h>
#include <ATen/ops/ones_like.h>
#include <ATen/ops/scalar_tensor.h>
#include <ATen/ops/scatter.h>
#include <ATen/ops/take.h>
#include <ATen/ops/where.h>
#include <ATen/ops/zeros.h>
#include <ATen/ops/zeros_like.h>
#include <torch/autograd.h>
#include <torch/library.h>

#include "ops/autograd/record.h"
#include "ops/common/optional_tensor.h"
#include "ops/cross_entropy.h"
#include "ops/softmax.h"

namespace torch_ext::ops {
namespace {

using torch::autograd::AutogradContext;
using torch::autograd::variable_list;

constexpr const char* kLoss = "cross_entropy";
constexpr const char* kForward = "cross_entropy_forward";
constexpr const char* kBackward = "cross_entropy_backward";

// The loss's constants.
struct Constants {
  at::Tensor weight;  // [C] or undefined
  int64_t reduction;
  int64_t ignore_index;
  double label_smoothing;
  double lse_square_scale;
};

void check_weight_constant(const char* op, const std::optional<at::Tensor>& weight) {
  TORCH_CHECK(!(at::GradMode::is_enabled() && input_requires_grad(weight)), "The function '", op,
              "' is not differentiable with respect to argument 'weight'. This input cannot have requires_grad "
              "True.");
  TORCH_CHECK(!tangent(weight).defined(), op, ": expected weight to carry no tangent (forward-mode AD): the loss "
              "is not differentiable with respect to it");
}

int64_t class_dim(const at::Tensor& x) { return x.dim() == 1 ? 0 : 1; }

bool class_indices(const at::Tensor& x, const at::Tensor& t) {
  return !(t.sizes() == x.sizes() && t.scalar_type() != at::kLong);
}

// A row tensor (the loss's unreduced shape) broadcast along x's class dim.
at::Tensor along_classes(const at::Tensor& row, const at::Tensor& x) { return row.unsqueeze(class_dim(x)); }

// weight [C] broadcast against x.
at::Tensor per_class(const at::Tensor& w, const at::Tensor& x) {
  std::vector<int64_t> shape(x.dim(), 1);
  shape[class_dim(x)] = w.size(0);
  return w.view(shape);
}

// Each row's log-sum-exp, x - ls at any class (differentiable through ls).
at::Tensor row_lse(const at::Tensor& x, const at::Tensor& ls) {
  return (x - ls).select(class_dim(x), 0);
}

// The rows not ignored (class indices), as x's dtype.
at::Tensor kept_rows(const at::Tensor& x, const at::Tensor& y, const Constants& c) {
  return (y != c.ignore_index).to(x.scalar_type());
}

// y with the ignored rows sent to class 0 (for gathers; their terms are masked).
at::Tensor safe_index(const at::Tensor& y, const Constants& c) {
  return at::where(y == c.ignore_index, at::zeros({}, y.options()), y);
}

// w_y per row (1 without weight), 0 for an ignored row.
at::Tensor target_weight(const at::Tensor& x, const at::Tensor& y, const Constants& c) {
  const at::Tensor kept = kept_rows(x, y, c);
  return c.weight.defined() ? at::take(c.weight, safe_index(y, c)) * kept : kept;
}

// B_c for class probabilities: w_c ((1 - eps) t_c + eps / C).
at::Tensor probability_terms(const at::Tensor& x, const at::Tensor& t, const Constants& c) {
  const double classes = static_cast<double>(x.size(class_dim(x)));
  const at::Tensor smoothed = t * (1.0 - c.label_smoothing) + c.label_smoothing / classes;
  return c.weight.defined() ? smoothed * per_class(c.weight, x) : smoothed;
}

// G_r: the incoming gradient per row (the loss's unreduced shape), times the reduction's scale, 0 for ignored rows.
at::Tensor row_grad(const at::Tensor& g, const at::Tensor& x, const at::Tensor& t, const Constants& c,
                    const at::Tensor& total_weight) {
  at::Tensor rows;
  if (c.reduction == at::Reduction::None) {
    rows = g;
  } else {
    at::Tensor scalar = g.reshape({});
    if (c.reduction == at::Reduction::Mean) {
      scalar = scalar / total_weight.to(g.scalar_type());
    }
    rows = scalar.expand(x.select(class_dim(x), 0).sizes());
  }
  return class_indices(x, t) ? rows * kept_rows(x, t, c) : rows;
}

at::Tensor reduce(const at::Tensor& loss, const Constants& c, const at::Tensor& total_weight) {
  if (c.reduction == at::Reduction::None) {
    return loss;
  }
  const at::Tensor total = loss.sum();
  return c.reduction == at::Reduction::Mean ? total / total_weight.to(loss.scalar_type()) : total;
}

// The loss, differentiable (for tangents).
at::Tensor composite_loss(const at::Tensor& x, const at::Tensor& t, const Constants& c,
                          const at::Tensor& total_weight) {
  const int64_t cd = class_dim(x);
  const at::Tensor ls = torch_ext::log_softmax(x, cd);
  const at::Tensor lse = row_lse(x, ls);
  const double eps = c.label_smoothing, inv_classes = 1.0 / static_cast<double>(x.size(cd));
  at::Tensor loss;
  if (class_indices(x, t)) {
    const at::Tensor kept = kept_rows(x, t, c);
    const at::Tensor ls_y = ls.gather(cd, safe_index(t, c).unsqueeze(cd)).squeeze(cd);
    const at::Tensor smooth = (c.weight.defined() ? ls * per_class(c.weight, x) : ls).sum(cd);
    loss = -(1.0 - eps) * target_weight(x, t, c) * ls_y - (eps * inv_classes) * smooth * kept +
           c.lse_square_scale * lse * lse * kept;
  } else {
    loss = -(probability_terms(x, t, c) * ls).sum(cd) + c.lse_square_scale * lse * lse;
  }
  return reduce(loss, c, total_weight).to(x.scalar_type());
}

// d loss / d x, differentiable (for double backward and tangents).
at::Tensor composite_grad(const at::Tensor& g, const at::Tensor& x, const at::Tensor& t, const Constants& c,
                          const at::Tensor& total_weight) {
  const int64_t cd = class_dim(x);
  const at::Tensor p = torch_ext::softmax(x, cd);
  const at::Tensor lse = row_lse(x, torch_ext::log_softmax(x, cd));
  const at::Tensor grad_rows = along_classes(row_grad(g, x, t, c, total_weight), x);
  const double eps = c.label_smoothing, inv_classes = 1.0 / static_cast<double>(x.size(cd));
  at::Tensor grad;
  if (class_indices(x, t)) {
    const at::Tensor w_y = target_weight(x, t, c);
    // (eps / C) W: the weights' sum as a tensor (no host synchronisation); C (1 each) without weights.
    const at::Tensor smoothing_share = c.weight.defined() ? c.weight.sum() * (eps * inv_classes)
                                                          : at::scalar_tensor(eps, x.options());
    const at::Tensor a = (1.0 - eps) * w_y + smoothing_share + 2.0 * c.lse_square_scale * lse;
    const at::Tensor smooth = c.weight.defined() ? per_class(c.weight, x) * (eps * inv_classes)
                                                 : at::ones_like(x) * (eps * inv_classes);
    const at::Tensor one_hot = at::zeros_like(x).scatter(cd, safe_index(t, c).unsqueeze(cd), 1.0);
    grad = grad_rows * (along_classes(a, x) * p - smooth - along_classes((1.0 - eps) * w_y, x) * one_hot);
  } else {
    const at::Tensor b = probability_terms(x, t, c);
    const at::Tensor a = b.sum(cd) + 2.0 * c.lse_square_scale * lse;
    grad = grad_rows * (along_classes(a, x) * p - b);
  }
  return grad.to(x.scalar_type());
}

// d loss / d target for class probabilities, differentiable.
at::Tensor composite_target_grad(const at::Tensor& g, const at::Tensor& x, const at::Tensor& t, const Constants& c,
                                 const at::Tensor& total_weight) {
  const at::Tensor ls = torch_ext::log_softmax(x, class_dim(x));
  at::Tensor d = along_classes(row_grad(g, x, t, c, total_weight), x) * ls * -(1.0 - c.label_smoothing);
  return (c.weight.defined() ? d * per_class(c.weight, x) : d).to(t.scalar_type());
}

void save_constants(AutogradContext* ctx, const Constants& c) {
  ctx->saved_data["weight"] = optional_if_defined(c.weight);
  ctx->saved_data["reduction"] = c.reduction;
  ctx->saved_data["ignore_index"] = c.ignore_index;
  ctx->saved_data["label_smoothing"] = c.label_smoothing;
  ctx->saved_data["lse_square_scale"] = c.lse_square_scale;
}

Constants saved_constants(AutogradContext* ctx) {
  const c10::IValue& w = ctx->saved_data["weight"];
  return {w.isNone() ? at::Tensor() : w.toTensor(), ctx->saved_data["reduction"].toInt(),
          ctx->saved_data["ignore_index"].toInt(), ctx->saved_data["label_smoothing"].toDouble(),
          ctx->saved_data["lse_square_scale"].toDouble()};
}

at::Tensor backward_op(const at::Tensor& g, const at::Tensor& x, const at::Tensor& t, const Constants& c,
                       const at::Tensor& lse, const at::Tensor& total_weight) {
  return torch_ext::detail::cross_entropy_backward(g, x, t, optional_if_defined(c.weight), c.reduction,
                                                   c.ignore_index, c.label_smoothing, c.lse_square_scale, lse,
                                                   total_weight);
}

// The backward op through autograd: the fused op where no graph or tangent is needed, else the composite gradient.
at::Tensor backward_autograd(const at::Tensor& g, const at::Tensor& x, const at::Tensor& t, const Constants& c,
                             const at::Tensor& lse, const at::Tensor& total_weight) {
  if (has_tangent(g, x, t) || records_grad(g, x, t)) {
    return composite_grad(g, x, t, c, total_weight);
  }
  at::AutoDispatchBelowADInplaceOrView guard;
  return backward_op(g, x, t, c, lse, total_weight);
}

class CrossEntropyFunction : public torch::autograd::Function<CrossEntropyFunction> {
 public:
  static at::Tensor forward(AutogradContext* ctx, const at::Tensor& x, const at::Tensor& t,
                            const std::optional<at::Tensor>& weight, int64_t reduction, int64_t ignore_index,
                            double label_smoothing, double lse_square_scale) {
    at::AutoDispatchBelowADInplaceOrView guard;
    auto [output, lse, total_weight] = torch_ext::detail::cross_entropy_forward(
        x, t, weight, reduction, ignore_index, label_smoothing, lse_square_scale);
    save_constants(ctx, {value_or_undefined(weight), reduction, ignore_index, label_smoothing, lse_square_scale});
    ctx->save_for_backward({x, t, lse, total_weight});
    return output;
  }

  static variable_list backward(AutogradContext* ctx, variable_list grad_outputs) {
    const auto v = ctx->get_saved_variables();
    const Constants c = saved_constants(ctx);
    const at::Tensor& g = grad_outputs[0];
    at::Tensor d_x, d_t;
    if (g.defined() && ctx->needs_input_grad(0)) {
      d_x = backward_autograd(g, v[0], v[1], c, v[2], v[3]);
    }
    if (g.defined() && ctx->needs_input_grad(1)) {
      d_t = composite_target_grad(g, v[0], v[1], c, v[3]);
    }
    return {d_x, d_t, at::Tensor(), at::Tensor(), at::Tensor(), at::Tensor(), at::Tensor()};
  }
};

at::Tensor loss_autograd(const at::Tensor& self, const at::Tensor& target, const std::optional<at::Tensor>& weight,
                         int64_t reduction, int64_t ignore_index, double label_smoothing, double lse_square_scale) {
  check_weight_constant(kLoss, weight);
  if (has_tangent(self, target)) {
    const Constants c{value_or_undefined(weight), reduction, ignore_index, label_smoothing, lse_square_scale};
    // NB: the primals are taken above autograd (_fw_primal is an autograd-level method).
    const at::Tensor self_primal = primal(self).detach(), target_primal = primal(target).detach();
    at::Tensor total_weight;
    {
      at::AutoDispatchBelowADInplaceOrView guard;
      total_weight = std::get<2>(torch_ext::detail::cross_entropy_forward(
          self_primal, target_primal, weight, reduction, ignore_index, label_smoothing, lse_square_scale));
    }
    return composite_loss(self, target, c, total_weight);
  }
  if (!records_grad(self, target)) {
    at::AutoDispatchBelowADInplaceOrView guard;
    return std::get<0>(torch_ext::detail::cross_entropy_forward(self, target, weight, reduction, ignore_index,
                                                                label_smoothing, lse_square_scale));
  }
  return CrossEntropyFunction::apply(self, target, weight, reduction, ignore_index, label_smoothing,
                                     lse_square_scale);
}

// The forward op itself is not differentiable (its lse and total_weight are the backward's inputs): cross_entropy
// is.
std::tuple<at::Tensor, at::Tensor, at::Tensor> forward_autograd(const at::Tensor& self, const at::Tensor& target,
                                                                const std::optional<at::Tensor>& weight,
                                                                int64_t reduction, int64_t ignore_index,
                                                                double label_smoothing, double lse_square_scale) {
  TORCH_CHECK(!records_grad(self, target, weight) && !has_tangent(self, target, weight), kForward,
              ": not differentiable (it computes cross_entropy's saved values); call torch_ext cross_entropy for "
              "a differentiable loss");
  at::AutoDispatchBelowADInplaceOrView guard;
  return torch_ext::detail::cross_entropy_forward(self, target, weight, reduction, ignore_index, label_smoothing,
                                                  lse_square_scale);
}

at::Tensor backward_kernel(const at::Tensor& grad_output, const at::Tensor& self, const at::Tensor& target,
                           const std::optional<at::Tensor>& weight, int64_t reduction, int64_t ignore_index,
                           double label_smoothing, double lse_square_scale, const at::Tensor& lse,
                           const at::Tensor& total_weight) {
  check_weight_constant(kBackward, weight);
  return backward_autograd(grad_output, self, target,
                           {value_or_undefined(weight), reduction, ignore_index, label_smoothing, lse_square_scale},
                           lse, total_weight);
}

}  // namespace
}  // namespace torch_ext::ops

TORCH_LIBRARY_IMPL(torch_ext, Autograd, m) {
  m.impl("cross_entropy", TORCH_FN(torch_ext::ops::loss_autograd));
  m.impl("cross_entropy_forward", TORCH_FN(torch_ext::ops::forward_autograd));
  m.impl("cross_entropy_backward", TORCH_FN(torch_ext::ops::backward_kernel));
}
