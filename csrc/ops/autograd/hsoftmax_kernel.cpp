// Autograd for hierarchical softmax. The forward Function saves the operands and the forward's scores along each
// row's path ([N, L], no N x L x D tensor), and its backward calls the fused backward op. Higher orders and tangents
// (forward-mode AD), and the log-probabilities' gradients, go through the composite form below (a gather of the
// path's weight rows, over torch_ext's own logsigmoid and sigmoid, differentiable in both modes). With s = 1 - 2 code
// and m the mask of the path's positions (0 past its length and for an ignored row):
//   loss_r = -sum_j m_rj log sigmoid(s_rj z_rj),   z_rj = w_{node_rj} . x_r + b_{node_rj}
//   d loss_r / d z_rj = -m_rj s_rj sigmoid(-s_rj z_rj)   (math/hsoftmax_math.h's hsoftmax_node_grad)
// and the inputs' gradients follow by the chain rule (index_add for the weight's and bias's rows).

#include <ATen/TensorOperators.h>
#include <ATen/ops/arange.h>
#include <ATen/ops/where.h>
#include <ATen/ops/zeros.h>
#include <ATen/ops/zeros_like.h>
#include <torch/autograd.h>
#include <torch/library.h>

#include "ops/autograd/record.h"
#include "ops/common/optional_tensor.h"
#include "ops/hsoftmax.h"
#include "ops/logsigmoid.h"
#include "ops/sigmoid.h"

namespace torch_ext::ops {
namespace {

using torch::autograd::AutogradContext;
using torch::autograd::variable_list;

constexpr const char* kForward = "hsoftmax_nll_forward";

// The tree's constants.
struct Tree {
  at::Tensor nodes, codes, len;  // [C, L] int32, [C, L] int8, [C] int32
};

// Each row's path: node ids (int64, 0 where masked), signs s and mask m ([N, L], x's dtype).
struct RowPaths {
  at::Tensor nodes, sign, mask;
};

RowPaths row_paths(const Tree& tree, const at::Tensor& target, int64_t ignore_index, const at::Tensor& x) {
  const at::Tensor kept = target != ignore_index;
  const at::Tensor safe = at::where(kept, target, at::zeros({}, target.options()));
  const at::Tensor len = tree.len.index_select(0, safe);
  const at::Tensor positions = at::arange(tree.nodes.size(1), target.options());
  const at::Tensor on_path = (positions.unsqueeze(0) < len.unsqueeze(1)).logical_and(kept.unsqueeze(1));
  const at::Tensor nodes = at::where(on_path, tree.nodes.index_select(0, safe).to(at::kLong),
                                     at::zeros({}, target.options()));
  const at::Tensor sign = 1 - 2 * tree.codes.index_select(0, safe).to(x.scalar_type());
  return {nodes, sign, on_path.to(x.scalar_type())};
}

// The path's weight rows [N, L, D] (N left symbolic: -1, for dynamic shapes).
at::Tensor path_weights(const at::Tensor& w, const at::Tensor& nodes) {
  return w.index_select(0, nodes.flatten()).view({-1, nodes.size(1), w.size(1)});
}

// z [N, L], differentiable.
at::Tensor path_scores(const at::Tensor& x, const at::Tensor& w, const at::Tensor& b, const at::Tensor& nodes) {
  const at::Tensor z = (path_weights(w, nodes) * x.unsqueeze(1)).sum(-1);
  return b.defined() ? z + b.index_select(0, nodes.flatten()).view_as(nodes) : z;
}

at::Tensor composite_nll(const at::Tensor& x, const at::Tensor& w, const at::Tensor& b, const Tree& tree,
                         const at::Tensor& target, int64_t ignore_index) {
  const RowPaths p = row_paths(tree, target, ignore_index, x);
  return -(torch_ext::logsigmoid(p.sign * path_scores(x, w, b, p.nodes)) * p.mask).sum(-1);
}

// (d x, d w, d b), differentiable.
std::tuple<at::Tensor, at::Tensor, at::Tensor> composite_grads(const at::Tensor& g, const at::Tensor& x,
                                                               const at::Tensor& w, const at::Tensor& b,
                                                               const Tree& tree, const at::Tensor& target,
                                                               int64_t ignore_index) {
  const RowPaths p = row_paths(tree, target, ignore_index, x);
  const at::Tensor z = path_scores(x, w, b, p.nodes);
  const at::Tensor dz = -g.unsqueeze(1) * p.mask * p.sign * torch_ext::sigmoid(-p.sign * z);
  const at::Tensor flat_nodes = p.nodes.flatten();
  const at::Tensor dx = (dz.unsqueeze(-1) * path_weights(w, p.nodes)).sum(1);
  const at::Tensor dw = at::zeros_like(w).index_add(0, flat_nodes, (dz.unsqueeze(-1) * x.unsqueeze(1)).flatten(0, 1));
  const at::Tensor db = at::zeros({w.size(0)}, w.options()).index_add(0, flat_nodes, dz.flatten());
  return {dx, dw, db};
}

// Every class's log-probability [N, C], differentiable: the classes' paths' scores for every row.
at::Tensor composite_log_prob(const at::Tensor& x, const at::Tensor& w, const at::Tensor& b, const Tree& tree) {
  const int64_t classes = tree.len.size(0), depth = tree.nodes.size(1);
  const at::Tensor positions = at::arange(depth, tree.len.options());
  const at::Tensor on_path = positions.unsqueeze(0) < tree.len.unsqueeze(1);  // [C, L]
  const at::Tensor nodes = at::where(on_path, tree.nodes.to(at::kLong), at::zeros({}, tree.nodes.options().dtype(at::kLong)));
  const at::Tensor sign = 1 - 2 * tree.codes.to(x.scalar_type());
  at::Tensor scores = at::matmul(x, w.t());  // [N, C - 1]
  if (b.defined()) {
    scores = scores + b;
  }
  const at::Tensor z = scores.index_select(1, nodes.flatten()).view({-1, classes, depth});
  return (torch_ext::logsigmoid(sign * z) * on_path.to(x.scalar_type())).sum(-1);
}

Tree saved_tree(const std::vector<at::Tensor>& v, size_t at) { return {v[at], v[at + 1], v[at + 2]}; }

struct PrimalOperands {
  at::Tensor x, w;
  std::optional<at::Tensor> b;
};

// The operands' primals, detached (for a call of the kernels that only checks).
PrimalOperands primal_operands(const at::Tensor& x, const at::Tensor& w, const std::optional<at::Tensor>& b) {
  return {primal(x).detach(), primal(w).detach(),
          b.has_value() && b->defined() ? std::optional<at::Tensor>(primal(*b).detach()) : std::nullopt};
}

class HsoftmaxNllFunction : public torch::autograd::Function<HsoftmaxNllFunction> {
 public:
  static at::Tensor forward(AutogradContext* ctx, const at::Tensor& x, const at::Tensor& w,
                            const std::optional<at::Tensor>& b, const at::Tensor& nodes, const at::Tensor& codes,
                            const at::Tensor& len, const at::Tensor& target, int64_t ignore_index) {
    at::AutoDispatchBelowADInplaceOrView guard;
    auto [output, logits] =
        torch_ext::detail::hsoftmax_nll_forward(x, w, b, nodes, codes, len, target, ignore_index);
    ctx->saved_data["ignore_index"] = ignore_index;
    ctx->saved_data["has_bias"] = b.has_value() && b->defined();
    ctx->save_for_backward({x, w, value_or_undefined(b), nodes, codes, len, target, logits});
    return output;
  }

  static variable_list backward(AutogradContext* ctx, variable_list grad_outputs) {
    const auto v = ctx->get_saved_variables();
    const int64_t ignore_index = ctx->saved_data["ignore_index"].toInt();
    const bool has_bias = ctx->saved_data["has_bias"].toBool();
    const at::Tensor& g = grad_outputs[0];
    variable_list grads(8);
    if (!g.defined()) {
      return grads;
    }
    const at::Tensor &x = v[0], &w = v[1], &b = v[2], &target = v[6], &logits = v[7];
    const Tree tree = saved_tree(v, 3);
    at::Tensor dx, dw, db;
    if (has_tangent(g, x, w, b) || records_grad(g, x, w, b)) {
      std::tie(dx, dw, db) = composite_grads(g, x, w, b, tree, target, ignore_index);
    } else {
      at::AutoDispatchBelowADInplaceOrView guard;
      std::tie(dx, dw, db) = torch_ext::detail::hsoftmax_nll_backward(
          g, x, w, optional_if_defined(b), tree.nodes, tree.codes, tree.len, target, ignore_index, logits);
    }
    grads[0] = ctx->needs_input_grad(0) ? dx : at::Tensor();
    grads[1] = ctx->needs_input_grad(1) ? dw : at::Tensor();
    grads[2] = has_bias && ctx->needs_input_grad(2) ? db : at::Tensor();
    return grads;
  }
};

void check_tree_constant(const char* op, const Tree& tree, const at::Tensor& target) {
  for (const at::Tensor* t : {&tree.nodes, &tree.codes, &tree.len, &target}) {
    TORCH_CHECK(!tangent(*t).defined(), op, ": expected the tree and the target to carry no tangent");
  }
}

at::Tensor nll_autograd(const at::Tensor& x, const at::Tensor& w, const std::optional<at::Tensor>& b,
                        const at::Tensor& nodes, const at::Tensor& codes, const at::Tensor& len,
                        const at::Tensor& target, int64_t ignore_index) {
  const Tree tree{nodes, codes, len};
  check_tree_constant("hsoftmax_nll", tree, target);
  if (has_tangent(x, w, b)) {
    // The kernel's checks (targets, the tree's entries) first, on the primals (taken above autograd:
    // _fw_primal is an autograd-level method).
    const auto primals = primal_operands(x, w, b);
    {
      at::AutoDispatchBelowADInplaceOrView guard;
      torch_ext::detail::hsoftmax_nll_forward(primals.x, primals.w, primals.b, nodes, codes, len, target,
                                              ignore_index);
    }
    return composite_nll(x, w, value_or_undefined(b), tree, target, ignore_index);
  }
  if (!records_grad(x, w, b)) {
    at::AutoDispatchBelowADInplaceOrView guard;
    return std::get<0>(torch_ext::detail::hsoftmax_nll_forward(x, w, b, nodes, codes, len, target, ignore_index));
  }
  return HsoftmaxNllFunction::apply(x, w, b, nodes, codes, len, target, ignore_index);
}

// The forward op computes hsoftmax_nll's saved values: not differentiable itself (hsoftmax_nll is).
std::tuple<at::Tensor, at::Tensor> forward_autograd(const at::Tensor& x, const at::Tensor& w,
                                                    const std::optional<at::Tensor>& b, const at::Tensor& nodes,
                                                    const at::Tensor& codes, const at::Tensor& len,
                                                    const at::Tensor& target, int64_t ignore_index) {
  TORCH_CHECK(!records_grad(x, w, b) && !has_tangent(x, w, b), kForward,
              ": not differentiable (it computes hsoftmax_nll's saved values); call torch_ext hsoftmax_nll for a "
              "differentiable loss");
  at::AutoDispatchBelowADInplaceOrView guard;
  return torch_ext::detail::hsoftmax_nll_forward(x, w, b, nodes, codes, len, target, ignore_index);
}

// The backward op through autograd: the fused op where no graph or tangent is needed, else the composite gradients.
std::tuple<at::Tensor, at::Tensor, at::Tensor> backward_autograd(
    const at::Tensor& g, const at::Tensor& x, const at::Tensor& w, const std::optional<at::Tensor>& b,
    const at::Tensor& nodes, const at::Tensor& codes, const at::Tensor& len, const at::Tensor& target,
    int64_t ignore_index, const at::Tensor& logits) {
  const Tree tree{nodes, codes, len};
  check_tree_constant("hsoftmax_nll_backward", tree, target);
  if (has_tangent(g, x, w, b) || records_grad(g, x, w, b)) {
    return composite_grads(g, x, w, value_or_undefined(b), tree, target, ignore_index);
  }
  at::AutoDispatchBelowADInplaceOrView guard;
  return torch_ext::detail::hsoftmax_nll_backward(g, x, w, b, nodes, codes, len, target, ignore_index, logits);
}

at::Tensor log_prob_autograd(const at::Tensor& x, const at::Tensor& w, const std::optional<at::Tensor>& b,
                             const at::Tensor& nodes, const at::Tensor& codes, const at::Tensor& len) {
  const Tree tree{nodes, codes, len};
  if (has_tangent(x, w, b) || records_grad(x, w, b)) {
    // The kernel's checks first (the composite would index with unchecked entries), on no rows.
    const auto primals = primal_operands(x, w, b);
    {
      at::AutoDispatchBelowADInplaceOrView guard;
      torch_ext::hsoftmax_log_prob(primals.x.narrow(0, 0, 0), primals.w, primals.b, nodes, codes, len);
    }
    return composite_log_prob(x, w, value_or_undefined(b), tree);
  }
  at::AutoDispatchBelowADInplaceOrView guard;
  return torch_ext::hsoftmax_log_prob(x, w, b, nodes, codes, len);
}

}  // namespace
}  // namespace torch_ext::ops

TORCH_LIBRARY_IMPL(torch_ext, Autograd, m) {
  m.impl("hsoftmax_nll", TORCH_FN(torch_ext::ops::nll_autograd));
  m.impl("hsoftmax_nll_forward", TORCH_FN(torch_ext::ops::forward_autograd));
  m.impl("hsoftmax_nll_backward", TORCH_FN(torch_ext::ops::backward_autograd));
  m.impl("hsoftmax_log_prob", TORCH_FN(torch_ext::ops::log_prob_autograd));
}
