"""The loss table: one row per torch_ext loss, as torch_ext/testing/op_db.py is for the activations. A loss takes an
input and a target (and constants: weights, a reduction), and its output may be reduced to one element, so the
activations' sample and call conventions do not fit it; the checks every loss shares (tests/test_losses.py: parity
with torch and with float64, gradcheck, gradgradcheck and forward-mode AD, opcheck, Meta, thread counts, the layer
against torch.nn's, autocast, vmap, the error messages) run over this table.

Adding a loss: one row here. tests/test_ops.py::test_every_op_has_a_row fails until there is one.
"""

import dataclasses
import zlib
from typing import Callable, Dict, List, Tuple

import torch
import torch.nn.functional as F

import torch_ext.functional as TF
from torch_ext.testing.inputs import FLOAT_DTYPES, TOLERANCES
from torch_ext.testing.op_db import AutocastPolicy, ModuleInfo

ops = torch.ops.torch_ext

REDUCTIONS = ("none", "mean", "sum")
_REDUCTION_ENUM = {"none": 0, "mean": 1, "sum": 2}

@dataclasses.dataclass
class LossSample:
    """One call's arguments: the input (logits), the target and the keyword arguments (weights, reduction)."""

    input: torch.Tensor
    target: torch.Tensor
    kwargs: dict = dataclasses.field(default_factory=dict)

    @property
    def reduction(self) -> str:
        return self.kwargs.get("reduction", "mean")

    def replace_tensors(self, fn: Callable[[torch.Tensor], torch.Tensor]) -> "LossSample":
        """The same sample with fn applied to the input and target (the differentiable tensors)."""
        return LossSample(fn(self.input), fn(self.target), dict(self.kwargs))

LossSampleBuilder = Callable[[torch.dtype, str], LossSample]

@dataclasses.dataclass(frozen=True)
class LossInfo:
    name: str  # the row's name: torch_ext.functional's (and torch.nn.functional's) function
    op: Callable  # op(input, target, **kwargs)
    ref: Callable  # torch's call with the same arguments
    forward_op: str  # the registered op `op` dispatches to
    ops: Tuple[str, ...]  # every registered op the row covers
    # The registered ops' calls on a sample, for opcheck and the Meta kernels: sample, g (the loss's gradient) ->
    # [(op name, overload, args)].
    raw_calls: Callable[[LossSample, torch.Tensor], List[Tuple[str, object, tuple]]]
    autograd_function: str  # the C++ autograd Function's name, as grad_fn.name() shows it
    module: ModuleInfo
    samples: Dict[str, LossSampleBuilder]
    # (x64, t64, kwargs) -> per element, the sum of the magnitudes of the loss's terms in float64 (its rounding
    # errors are a few ulps of it), and of the input's and the target's gradients' terms (at g = 1).
    forward_scale: Callable
    backward_scale: Callable
    target_backward_scale: Callable
    # The constants that are not differentiable (a kwarg requiring grad is refused, as in ATen).
    constants: Tuple[str, ...]
    autocast: AutocastPolicy
    # (statement, exception type, message regex): bad calls with ``torch``, ``torch_ext``, ``ops``, ``TF`` in scope
    # and x (float32 [4, 3]), t (x's target), i (an int64 [4, 3]).
    errors: Tuple[Tuple[str, type, str], ...]
    dtypes: Tuple[torch.dtype, ...] = FLOAT_DTYPES
    tolerances: Dict[torch.dtype, dict] = dataclasses.field(default_factory=lambda: dict(TOLERANCES))

def _bce_sample(shape, weight=None, pos_weight=None, reduction="mean", layout="contiguous", hard=False,
                scale=4.0) -> LossSampleBuilder:
    """x ~ N(0, scale^2) (both sides of the sigmoid's bend, into its saturation), t ~ U[0, 1) (or {0, 1}), weights
    ~ U[0.25, 2) of the given shapes (pos_weight up to 3: both sides of 1)."""

    def build(dtype, device):
        g = torch.Generator().manual_seed(zlib.crc32(repr((shape, weight, pos_weight, layout)).encode()))
        make_shape = shape[::-1] if layout == "transposed" else shape
        x = torch.randn(make_shape, generator=g, dtype=torch.float64) * scale
        t = torch.rand(make_shape, generator=g, dtype=torch.float64)
        if hard:
            t = t.round()
        if layout == "transposed":
            x, t = x.mT, t.mT
        kwargs = {"reduction": reduction}
        if weight is not None:
            kwargs["weight"] = (torch.rand(weight, generator=g, dtype=torch.float64) * 1.75 + 0.25).to(device=device, dtype=dtype)
        if pos_weight is not None:
            kwargs["pos_weight"] = (torch.rand(pos_weight, generator=g, dtype=torch.float64) * 2.75 + 0.25).to(
                device=device, dtype=dtype)
        convert = (lambda v: v.to(dtype).to(device)) if layout != "transposed" else (
            lambda v: v.mT.to(dtype).to(device).mT)
        return LossSample(convert(x), convert(t), kwargs)

    return build

def _bce_samples() -> Dict[str, LossSampleBuilder]:
    samples = {}
    for reduction in REDUCTIONS:
        samples[f"plain-{reduction}"] = _bce_sample((6, 5), reduction=reduction)
        samples[f"weight-{reduction}"] = _bce_sample((6, 5), weight=(5,), reduction=reduction)
        samples[f"pos_weight-{reduction}"] = _bce_sample((6, 5), pos_weight=(5,), reduction=reduction)
        samples[f"both-{reduction}"] = _bce_sample((6, 5), weight=(6, 1), pos_weight=(5,), reduction=reduction)
    samples.update({
        "full_weights": _bce_sample((6, 5), weight=(6, 5), pos_weight=(6, 5), reduction="none"),
        # Reduced losses whose weights repeat along the rows (the CPU's one-pass sum) and do not.
        "full_weights-sum": _bce_sample((6, 5), weight=(6, 5), pos_weight=(6, 5), reduction="sum"),
        "class_weights-mean": _bce_sample((7, 96), weight=(96,), pos_weight=(1, 96), reduction="mean"),
        "row_weights-mean": _bce_sample((7, 96), weight=(7, 1), reduction="mean"),
        "transposed": _bce_sample((5, 6), weight=(6,), pos_weight=(6,), reduction="none", layout="transposed"),
        "4d": _bce_sample((2, 3, 4, 5), weight=(3, 1, 5), pos_weight=(4, 1), reduction="sum"),
        "hard_targets": _bce_sample((7, 3), pos_weight=(3,), reduction="none", hard=True),
        "saturated": _bce_sample((6, 5), pos_weight=(5,), reduction="none", scale=30.0),
        "scalar_0d": _bce_sample((), weight=(), pos_weight=(), reduction="mean"),
        "empty-mean": _bce_sample((0, 5), reduction="mean"),
        "empty-none": _bce_sample((0, 5), pos_weight=(5,), reduction="none"),
        "1d": _bce_sample((9,), weight=(1,), reduction="sum"),
    })
    return samples

def _bce_terms(x, t, kwargs):
    w = kwargs.get("weight")
    p = kwargs.get("pos_weight")
    lw = 1 + (p - 1) * t if p is not None else torch.ones_like(t)
    w = w if w is not None else torch.ones_like(x)
    return w.to(x), (p if p is not None else torch.ones_like(t)).to(x), lw.to(x)

def _bce_forward_scale(x, t, kwargs):
    w, _, lw = _bce_terms(x, t, kwargs)
    return (w.abs() * ((1 - t).abs() * x.abs() + lw.abs() * F.logsigmoid(x).abs())).expand(x.shape)

def _bce_backward_scale(x, t, kwargs):
    w, p, lw = _bce_terms(x, t, kwargs)
    return (w.abs() * (lw.abs() * torch.sigmoid(x) + (p * t).abs())).expand(x.shape)

def _bce_target_backward_scale(x, t, kwargs):
    w, p, _ = _bce_terms(x, t, kwargs)
    return (w.abs() * (F.logsigmoid(-x).abs() + p.abs() * F.logsigmoid(x).abs())).expand(x.shape)


def _bce_raw_calls(s: LossSample, g: torch.Tensor):
    kw = s.kwargs
    args = (s.input, s.target, kw.get("weight"), kw.get("pos_weight"), _REDUCTION_ENUM[s.reduction])
    return [
        ("binary_cross_entropy_with_logits", ops.binary_cross_entropy_with_logits.default, args),
        ("binary_cross_entropy_with_logits_backward", ops.binary_cross_entropy_with_logits_backward.default,
         (g,) + args),
        ("binary_cross_entropy_with_logits_target_backward",
         ops.binary_cross_entropy_with_logits_target_backward.default, (g,) + args),
    ]

_BCE_NAME = "binary_cross_entropy_with_logits"
_BCE_ERRORS = (
    ("TF.binary_cross_entropy_with_logits(x, t[:2])", ValueError,
     r"Target size \(torch.Size\(\[2, 3\]\)\) must be the same as input size \(torch.Size\(\[4, 3\]\)\)"),
    ("ops.binary_cross_entropy_with_logits(x, t[:2])", RuntimeError,
     r"binary_cross_entropy_with_logits: expected target to have the shape of self \[4, 3\], got \[2, 3\]"),
    ("TF.binary_cross_entropy_with_logits(i, t)", RuntimeError,
     r"binary_cross_entropy_with_logits: expected self to be a floating-point tensor \(float32, float64, float16 or "
     r"bfloat16\), got Long"),
    ("TF.binary_cross_entropy_with_logits(x, t.double())", RuntimeError,
     r"expected target to have the dtype of self \(Float\), got Double"),
    ("TF.binary_cross_entropy_with_logits(x, t, weight=torch.ones(4))", RuntimeError,
     r"expected weight to be broadcastable to the shape of self \[4, 3\], got \[4\]"),
    ("TF.binary_cross_entropy_with_logits(x, t, pos_weight=torch.ones(2, 4, 3))", RuntimeError,
     r"expected pos_weight to be broadcastable to the shape of self \[4, 3\], got \[2, 4, 3\]"),
    ("TF.binary_cross_entropy_with_logits(x, t, pos_weight=torch.ones(3, dtype=torch.float64))", RuntimeError,
     r"expected pos_weight to have the dtype of self \(Float\), got Double"),
    ("TF.binary_cross_entropy_with_logits(x, t, reduction='average')", ValueError, r"average is not a valid value"),
    ("ops.binary_cross_entropy_with_logits(x, t, None, None, 3)", RuntimeError,
     r"expected reduction to be 0 \(none\), 1 \(mean\) or 2 \(sum\), got 3"),
    ("TF.binary_cross_entropy_with_logits(x, t, weight=torch.ones(3, requires_grad=True))", RuntimeError,
     r"not differentiable with respect to argument 'weight'"),
    ("TF.binary_cross_entropy_with_logits(x, t, pos_weight=torch.ones(3, requires_grad=True))", RuntimeError,
     r"not differentiable with respect to argument 'pos_weight'"),
    ("ops.binary_cross_entropy_with_logits_backward(torch.ones(2), x, t, None, None, 1)", RuntimeError,
     r"binary_cross_entropy_with_logits_backward: expected grad_output to have one element \(the gradient of a "
     r"reduced loss\), got shape \[2\]"),
    ("ops.binary_cross_entropy_with_logits_target_backward(torch.ones(4), x, t, None, None, 0)", RuntimeError,
     r"binary_cross_entropy_with_logits_target_backward: expected grad_output to have the shape of self \[4, 3\], "
     r"got \[4\]"),
)

loss_db: List[LossInfo] = [
    LossInfo(
        name=_BCE_NAME, op=TF.binary_cross_entropy_with_logits, ref=F.binary_cross_entropy_with_logits,
        forward_op=_BCE_NAME, ops=(_BCE_NAME, _BCE_NAME + "_backward", _BCE_NAME + "_target_backward"),
        raw_calls=_bce_raw_calls, autograd_function="BceWithLogitsFunction",
        module=ModuleInfo("BCEWithLogitsLoss", dict(reduction="sum"), ("reduction",),
                          (((), {}), ((), dict(reduction="none")), ((), dict(weight=torch.tensor([0.5, 2.0, 1.0]))),
                           ((), dict(pos_weight=torch.tensor([3.0, 1.0, 0.5]), reduction="sum")))),
        samples=_bce_samples(), forward_scale=_bce_forward_scale, backward_scale=_bce_backward_scale,
        target_backward_scale=_bce_target_backward_scale,
        constants=("weight", "pos_weight"),
        autocast=AutocastPolicy(_BCE_NAME, frozenset({"AutocastCPU", "AutocastCUDA"})),
        errors=_BCE_ERRORS,
    ),
]

loss_db_by_name: Dict[str, LossInfo] = {row.name: row for row in loss_db}

def reduce_like(loss: torch.Tensor, reduction: str) -> torch.Tensor:
    """A per-element tensor reduced as the loss is."""
    return loss.sum() if reduction == "sum" else loss.mean() if reduction == "mean" else loss

def optional_kwargs(kwargs: dict, fn: Callable[[torch.Tensor], torch.Tensor]) -> dict:
    """kwargs with fn applied to each tensor."""
    return {k: fn(v) if isinstance(v, torch.Tensor) else v for k, v in kwargs.items()}

def rounding_bounds(row: LossInfo, s: LossSample, g: torch.Tensor, ulps: float) -> List[torch.Tensor]:
    """Per output (loss, input gradient, target gradient) of row on s with grad_output g: ulps * eps of s's dtype times
    the magnitudes of its terms in float64 (their sum, for a reduced loss), as a float64 CPU tensor of the output's
    shape. A fused pass rounds each term once in the op-math type and the result once in the dtype, so a few ulps of
    the terms bound its error against float64 truth (tests/test_losses.py's accuracy test, the validation report)."""
    dtype = s.input.dtype
    x64, t64 = s.input.double().cpu(), s.target.double().cpu()
    kw = optional_kwargs(s.kwargs, lambda v: v.double().cpu())
    eps, tiny = torch.finfo(dtype).eps, torch.finfo(dtype).tiny
    per_element = 1.0 / max(x64.numel(), 1) if s.reduction == "mean" else 1.0
    g64 = (g.double().cpu() if s.reduction == "none" else g.double().cpu().reshape(())).abs() * per_element
    loss_scale = reduce_like(row.forward_scale(x64, t64, kw), s.reduction)
    return [ulps * eps * (scale + tiny) for scale in (
        loss_scale, row.backward_scale(x64, t64, kw) * g64, row.target_backward_scale(x64, t64, kw) * g64)]
