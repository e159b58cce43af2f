"""Batching rules (torch.vmap, and so jacfwd and batched gradients) for the elementwise ops, softmax, the losses and
their backward ops: one call of the op on the whole batch, instead of PyTorch's fallback, which loops over it.

In-place ops write through the batched view of self. Each rule moves every batched tensor's batch dimension to the
front and expands the unbatched ones over the batch (a stride-0 view: the kernels read any strides), so an elementwise
op runs once on [B, *shape]; softmax's dim counts in the logical rank and moves by one. PReLU's channel dimension
(dim 1) takes the batch: [B, N, C, *rest] runs as [N, B*C, *rest] with the weights of every sample side by side.
"""

from typing import Optional, Sequence

import torch
from torch._prims_common import canonicalize_dim

ops = torch.ops.torch_ext

# PyTorch's own message for a random op under vmap's default randomness="error".
_RANDOMNESS_ERROR = ("vmap: called random operation while in randomness error mode. Please either use the 'same' or "
                     "'different' randomness flags on vmap or perform the randomness operation out of vmap")


def _bind(op, args, kwargs, in_dims):
    """The call's arguments by name, and the batch dim of each positional one."""
    names = [a.name for a in op._schema.arguments]
    bound = dict(zip(names, args))
    bound.update(kwargs)
    return bound, dict(zip(names, in_dims))


def _batch_first(t, dim, batch_size):
    """t with its batch dim in front; an unbatched t (dim None) expanded over the batch (a stride-0 view)."""
    return t.expand(batch_size, *t.shape) if dim is None else t.movedim(dim, 0)


def batch_rule(op, tensors: Sequence[str], dim_arg: Optional[str] = None, random: bool = False):
    """The batching rule of `op`, elementwise over its tensor arguments `tensors`; `dim_arg` names a dim argument
    (softmax's); `random`: the op draws random numbers when its `training` argument is true."""

    def rule(info, in_dims, *args, **kwargs):
        bound, dims = _bind(op, args, kwargs, in_dims)
        if random and bound.get("training", False):
            if info.randomness == "error":
                raise RuntimeError(_RANDOMNESS_ERROR)
            if info.randomness == "same":
                raise RuntimeError(f"{op._schema.name} in training: vmap(randomness='same') is not supported (every "
                                   "element draws its own slope); use randomness='different'")
        logical_ndim = 0
        for name in tensors:
            t = bound.get(name)
            if t is None:
                continue
            d = dims.get(name)
            t = _batch_first(t, d, info.batch_size)
            logical_ndim = t.dim() - 1
            bound[name] = t
        scalar_slices = dim_arg is not None and logical_ndim == 0
        if dim_arg is not None:
            dim = canonicalize_dim(logical_ndim, bound[dim_arg])  # ATen's wrap, over the logical rank
            if scalar_slices:  # each slice is one element, its own softmax: [B] -> [B, 1] over dim 1
                for name in tensors:
                    bound[name] = bound[name].unsqueeze(1)
            bound[dim_arg] = dim + 1
        out = op(**bound)
        if out is None:  # an in-place op (-> ()): self's batched view was written
            return None, None
        if scalar_slices:
            out = out.squeeze(1)
        return (out, tuple(0 for _ in out)) if isinstance(out, tuple) else (out, 0)

    return rule


def _as_prelu_channels(tb):
    """[B, *logical] -> [N, B*C, *rest], channel dim 1 of size C (1 below two dims, as ATen's prelu), and the
    layout that undoes it."""
    b, logical = tb.shape[0], tuple(tb.shape[1:])
    n, c, rest = (*logical[:2], logical[2:]) if len(logical) >= 2 else (1, 1, logical)
    return tb.reshape(b, n, c, *rest).movedim(0, 1).reshape(n, b * c, *rest), (b, n, c, rest, logical)


def _from_prelu_channels(t, layout):
    b, n, c, rest, logical = layout
    return t.reshape(n, b, c, *rest).movedim(1, 0).reshape(b, *logical)


def _prelu_batched_weight(wb, channels):
    """[B*C]: the weights of every sample (a weight of one element serves every channel)."""
    return wb.expand(wb.shape[0], channels).reshape(wb.shape[0] * channels)


def _prelu_rule(info, in_dims, x, weight):
    x_dim, w_dim = in_dims
    if w_dim is None and x_dim is not None and x.dim() >= 3:  # one weight for the batch: B joins N, no copy
        xb = x.movedim(x_dim, 0)
        return ops.prelu(xb.flatten(0, 1), weight).unflatten(0, xb.shape[:2]), 0
    b = info.batch_size
    xc, layout = _as_prelu_channels(_batch_first(x, x_dim, b))
    out = ops.prelu(xc, _prelu_batched_weight(_batch_first(weight, w_dim, b), layout[2]))
    return _from_prelu_channels(out, layout), 0


def _prelu_backward_rule(info, in_dims, grad_output, x, weight):
    g_dim, x_dim, w_dim = in_dims
    b = info.batch_size
    gc, layout = _as_prelu_channels(_batch_first(grad_output, g_dim, b))
    xc, _ = _as_prelu_channels(_batch_first(x, x_dim, b))
    wb = _batch_first(weight, w_dim, b)
    c = layout[2]
    grad_x, grad_w = ops.prelu_backward(gc, xc, _prelu_batched_weight(wb, c))
    grad_w = grad_w.reshape(b, c)
    if wb[0].numel() == 1 and c != 1:  # one weight for every channel: its gradient is the sum over them
        grad_w = grad_w.sum(1, keepdim=True)
    return (_from_prelu_channels(grad_x, layout), grad_w.reshape(wb.shape)), (0, 0)


def _bce_operands(info, bound, dims):
    """binary_cross_entropy_with_logits's batched self and target in front, and a batched weight or pos_weight as
    [B, 1, ..., *shape], so that it broadcasts to each sample's [*shape of self] as the unbatched one does."""
    b = info.batch_size
    for name in ("self", "target"):
        bound[name] = _batch_first(bound[name], dims[name], b)
    logical_ndim = bound["self"].dim() - 1
    for name in ("weight", "pos_weight"):
        w, d = bound.get(name), dims.get(name)
        if w is not None and d is not None:
            w = w.movedim(d, 0)
            bound[name] = w.reshape(b, *([1] * (logical_ndim - (w.dim() - 1))), *w.shape[1:])
    return bound


def _bce_rule(info, in_dims, *args, **kwargs):
    # Each sample's loss reduced over its own elements: the unreduced loss, then a sum or mean per sample.
    op = ops.binary_cross_entropy_with_logits.default
    bound = _bce_operands(info, *_bind(op, args, kwargs, in_dims))
    reduction = bound.pop("reduction", 1)
    loss = op(**bound, reduction=0)
    if reduction == 0:
        return loss, 0
    per_sample = loss.reshape(info.batch_size, -1)
    return (per_sample.sum(1) if reduction == 2 else per_sample.mean(1)), 0


def _bce_backward_rule(op):
    # Each sample's gradient of a reduced loss: its own grad_output (times 1/numel for a mean), element by element.
    def rule(info, in_dims, *args, **kwargs):
        bound = _bce_operands(info, *_bind(op, args, kwargs, in_dims))
        reduction = bound.pop("reduction")
        g = _batch_first(bound.pop("grad_output"), in_dims[0], info.batch_size)
        x = bound["self"]
        if reduction != 0:
            numel = x[0].numel()
            scale = 1.0 / numel if reduction == 1 and numel > 0 else 1.0
            g = (g.reshape(info.batch_size, *([1] * (x.dim() - 1))) * scale).expand(x.shape)
        return op(g, **bound, reduction=0), 0

    return rule


def _ce_rows(x, t):
    """Batched [B, *logical] logits and target as one unbatched call's: the batch joins the rows' first dim
    ([B, N, C, d...] -> [B*N, C, d...]; [B, C] logits of one row each stay [B, C]), and the per-sample shape of the
    loss (the logits' without the class dim)."""
    logical = x.shape[1:]
    if len(logical) == 1:
        return x, t, ()
    loss_shape = (logical[0],) + tuple(logical[2:])
    return x.flatten(0, 1), t.flatten(0, 1), loss_shape


def _ce_bound(op, info, args, kwargs, in_dims):
    bound, dims = _bind(op, args, kwargs, in_dims)
    for name in ("self", "target"):
        bound[name] = _batch_first(bound[name], dims[name], info.batch_size)
    return bound, dims


def _ce_denominators(x, t, weight, ignore_index, batch_size):
    """Each sample's mean denominator, as the forward's total_weight (op-math): the weights of its target classes,
    ignored rows excepted, or its number of rows for probabilities. x, t batched first, weight unbatched."""
    opmath = torch.float32 if x.dtype in (torch.float16, torch.bfloat16) else x.dtype
    if t.is_floating_point() and t.shape == x.shape:
        rows = x[0].numel() // x.shape[2 if x.dim() > 2 else 1]  # the class dim of each sample
        return torch.full((batch_size,), float(rows), dtype=opmath, device=x.device)
    kept = t != ignore_index
    safe = torch.where(kept, t, torch.zeros_like(t))
    w_y = weight.to(opmath)[safe] if weight is not None else torch.ones(t.shape, dtype=opmath, device=x.device)
    return (w_y * kept).reshape(batch_size, -1).sum(1)


def _per_sample(op, info, in_dims, args, kwargs, call):
    """The op once per sample, stacked (cross_entropy's batched weight is per class, not per row; hierarchical softmax's
    batched parameters or tree, and its backward, whose weight gradient is per sample)."""
    bound, dims = _bind(op, args, kwargs, in_dims)
    samples = []
    for b in range(info.batch_size):
        one = {k: (v.select(dims[k], b) if dims.get(k) is not None else v) for k, v in bound.items()}
        samples.append(call(**one))
    if isinstance(samples[0], tuple):
        return tuple(torch.stack(parts) for parts in zip(*samples)), tuple(0 for _ in samples[0])
    return torch.stack(samples), 0


def _ce_unreduced(op, info, in_dims, args, kwargs, always_denominator):
    """op (cross_entropy or its forward op) on every sample's rows at once, unreduced; also the requested reduction
    and each sample's mean denominator (None unless "mean" or always_denominator), or the per-sample fallback's
    result where the weight is batched."""
    if _bind(op, args, kwargs, in_dims)[1].get("weight") is not None:
        return None, _per_sample(op, info, in_dims, args, kwargs, op)
    bound, _ = _ce_bound(op, info, args, kwargs, in_dims)
    reduction = bound.pop("reduction", 1)
    x, t = bound.pop("self"), bound.pop("target")
    xr, tr, loss_shape = _ce_rows(x, t)
    result = op(xr, tr, reduction=0, **bound)
    denominator = None
    if always_denominator or reduction == 1:
        denominator = _ce_denominators(x, t, bound.get("weight"), bound.get("ignore_index", -100), info.batch_size)
    return (reduction, loss_shape, denominator), result


def _ce_reduce(loss, reduction, denominator, batch_size):
    # Each sample's loss reduced over its own rows: a sum per sample, over its own denominator for "mean".
    if reduction == 0:
        return loss
    total = loss.reshape(batch_size, -1).sum(1)
    return (total.to(denominator.dtype) / denominator).to(loss.dtype) if reduction == 1 else total


def _ce_rule(info, in_dims, *args, **kwargs):
    how, loss = _ce_unreduced(ops.cross_entropy.default, info, in_dims, args, kwargs, always_denominator=False)
    if how is None:
        return loss
    reduction, loss_shape, denominator = how
    return _ce_reduce(loss.reshape(info.batch_size, *loss_shape), reduction, denominator, info.batch_size), 0


def _ce_forward_rule(info, in_dims, *args, **kwargs):
    # (output, lse, total_weight) per sample.
    # total_weight is one of the outputs whatever the reduction.
    how, result = _ce_unreduced(ops.cross_entropy_forward.default, info, in_dims, args, kwargs,
                                always_denominator=True)
    if how is None:
        return result
    reduction, loss_shape, denominator = how
    loss, lse, _ = result
    loss = _ce_reduce(loss.reshape(info.batch_size, *loss_shape), reduction, denominator, info.batch_size)
    lse = lse.reshape(info.batch_size, *loss_shape, 2)  # (max, log_sum) per row
    return (loss, lse, denominator), (0, 0, 0)


def _ce_backward_rule(info, in_dims, *args, **kwargs):
    # Each sample's gradient: its own grad_output (over its own total_weight for "mean") on each of its rows, as
    # the gradient of the unreduced loss of all rows at once.
    op = ops.cross_entropy_backward.default
    _, dims = _bind(op, args, kwargs, in_dims)
    if dims.get("weight") is not None:
        return _per_sample(op, info, in_dims, args, kwargs, op)
    bound, _ = _ce_bound(op, info, args, kwargs, in_dims)
    b = info.batch_size
    reduction = bound.pop("reduction")
    g = _batch_first(bound.pop("grad_output"), dims["grad_output"], b)
    lse = _batch_first(bound.pop("lse"), dims["lse"], b)
    total_weight = _batch_first(bound.pop("total_weight"), dims["total_weight"], b).reshape(b)
    x, t = bound.pop("self"), bound.pop("target")
    xr, tr, loss_shape = _ce_rows(x, t)
    if reduction != 0:
        g = g.reshape(b, *([1] * len(loss_shape)))
        if reduction == 1:
            g = (g.to(total_weight.dtype) / total_weight.reshape(g.shape)).to(g.dtype)
        g = g.expand(b, *loss_shape)
    rows = (b * loss_shape[0],) + tuple(loss_shape[1:]) if loss_shape else (b,)
    grad = op(g.reshape(rows), xr, tr, reduction=0, lse=lse.reshape(*rows, 2),
              total_weight=total_weight[:1].reshape(()), **bound)
    return grad.reshape(x.shape), 0


_RULES = {
    ops.cross_entropy.default: _ce_rule,
    ops.cross_entropy_forward.default: _ce_forward_rule,
    ops.cross_entropy_backward.default: _ce_backward_rule,
    ops.binary_cross_entropy_with_logits.default: _bce_rule,
    ops.binary_cross_entropy_with_logits_backward.default: _bce_backward_rule(
        ops.binary_cross_entropy_with_logits_backward.default),
    ops.binary_cross_entropy_with_logits_target_backward.default: _bce_backward_rule(
        ops.binary_cross_entropy_with_logits_target_backward.default),
    ops.prelu.default: _prelu_rule,
    ops.prelu_backward.default: _prelu_backward_rule,
    ops.elu.default: batch_rule(ops.elu.default, ["self"]),
    ops.elu_.default: batch_rule(ops.elu_.default, ["self"]),
    ops.celu_.default: batch_rule(ops.celu_.default, ["self"]),
    ops.selu_.default: batch_rule(ops.selu_.default, ["self"]),
    ops.rrelu_.default: batch_rule(ops.rrelu_.default, ["self"], random=True),
    ops.rrelu_with_noise_.default: batch_rule(ops.rrelu_with_noise_.default, ["self"], random=True),
    ops.celu.default: batch_rule(ops.celu.default, ["self"]),
    ops.selu.default: batch_rule(ops.selu.default, ["self"]),
    ops.elu_backward.default: batch_rule(ops.elu_backward.default, ["grad_output", "self_or_result"]),
    ops.softplus.default: batch_rule(ops.softplus.default, ["self"]),
    ops.softplus_backward.default: batch_rule(ops.softplus_backward.default, ["grad_output", "self"]),
    ops.rrelu.default: batch_rule(ops.rrelu.default, ["self"], random=True),
    ops.rrelu_with_noise.default: batch_rule(ops.rrelu_with_noise.default, ["self"], random=True),
    ops.rrelu_backward.default: batch_rule(ops.rrelu_backward.default, ["grad_output", "self_or_result", "noise"]),
    ops.softmax.default: batch_rule(ops.softmax.default, ["self"], dim_arg="dim"),
    ops.log_softmax.default: batch_rule(ops.log_softmax.default, ["self"], dim_arg="dim"),
    ops.softmax_backward.default: batch_rule(ops.softmax_backward.default, ["grad_output", "output"], dim_arg="dim"),
    ops.log_softmax_backward.default: batch_rule(ops.log_softmax_backward.default, ["grad_output", "output"],
                                                 dim_arg="dim"),
}
# The generic elementwise rows without an own rule above: the forward, in-place and backward ops, batched over
# their tensor arguments.
for _name, _saved in (("sigmoid", "output"), ("tanh", "output"), ("relu", "output"), ("leaky_relu", "self"),
                      ("logsigmoid", "self"), ("sign", "self"), ("heaviside", "self")):
    for _op in [getattr(ops, _name).default] + ([getattr(ops, _name + "_").default] if hasattr(ops, _name + "_")
                                                else []):
        _RULES[_op] = batch_rule(_op, ["self"])
    _backward = getattr(ops, _name + "_backward").default
    _RULES[_backward] = batch_rule(_backward, ["grad_output", _saved])

def _hsoftmax_rows_rule(op, rows: Sequence[str]):
    """Hierarchical softmax's forward ops: a batch over the rows' tensors (`rows`: input, target) alone folds into the
    rows, [B, N, ...] -> [B * N, ...] (rows are independent); a batched weight, bias or tree runs per sample."""

    def rule(info, in_dims, *args, **kwargs):
        bound, dims = _bind(op, args, kwargs, in_dims)
        if any(d is not None for name, d in dims.items() if name not in rows):
            return _per_sample(op, info, in_dims, args, kwargs, op)
        n = None
        for name in rows:
            if name in bound:
                t = _batch_first(bound[name], dims.get(name), info.batch_size)
                n = t.shape[1]
                bound[name] = t.reshape(-1, *t.shape[2:])
        out = op(**bound)
        if isinstance(out, tuple):
            return tuple(o.reshape(info.batch_size, n, *o.shape[1:]) for o in out), tuple(0 for _ in out)
        return out.reshape(info.batch_size, n, *out.shape[1:]), 0

    return rule


def _hsoftmax_backward_rule(info, in_dims, *args, **kwargs):
    # The weight's and bias's gradients are per sample: one call each.
    return _per_sample(ops.hsoftmax_nll_backward.default, info, in_dims, args, kwargs,
                       ops.hsoftmax_nll_backward.default)


_RULES[ops.hsoftmax_nll.default] = _hsoftmax_rows_rule(ops.hsoftmax_nll.default, ("input", "target"))
_RULES[ops.hsoftmax_nll_forward.default] = _hsoftmax_rows_rule(ops.hsoftmax_nll_forward.default, ("input", "target"))
_RULES[ops.hsoftmax_log_prob.default] = _hsoftmax_rows_rule(ops.hsoftmax_log_prob.default, ("input",))
_RULES[ops.hsoftmax_nll_backward.default] = _hsoftmax_backward_rule

for _op, _rule in _RULES.items():
    torch.library.register_vmap(_op, _rule)

BATCHED_OPS = frozenset(op._schema.name for op in _RULES)
