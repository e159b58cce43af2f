"""The loss table: one row per torch_ext loss, as torch_ext/testing/op_db.py is for the activations. A loss takes an
input and a target (and constants: weights, a reduction), and its output may be reduced to one element, so the
activations' sample and call conventions do not fit it; the checks every loss shares (tests/test_losses.py: parity
with torch and with float64, gradcheck, gradgradcheck and forward-mode AD, opcheck, Meta, thread counts, the layer
against torch.nn's, autocast, vmap, the error messages) run over this table.

Adding a loss: one row here. tests/test_ops.py::test_every_op_has_a_row fails until there is one.
"""

import dataclasses
import functools
import zlib
from typing import Callable, Dict, FrozenSet, List, Optional, Tuple

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

    @property
    def target_is_differentiable(self) -> bool:
        """A floating target (BCE's, cross_entropy's class probabilities) is differentiable; class indices (int64)
        are not."""
        return self.target.is_floating_point()

    def replace_tensors(self, fn: Callable[[torch.Tensor], torch.Tensor]) -> "LossSample":
        """The same sample with fn applied to the differentiable tensors: the input, and the target where it is
        floating (class indices are kept as they are)."""
        return LossSample(fn(self.input), fn(self.target) if self.target_is_differentiable else self.target,
                          dict(self.kwargs))

    def to(self, dtype: torch.dtype = None, device=None) -> "LossSample":
        """The sample with its floating tensors (input, a floating target, weights) in dtype on device; class
        indices stay int64."""
        def move(t):
            return t.to(device=device, dtype=dtype if t.is_floating_point() else None)
        return LossSample(move(self.input), move(self.target), optional_kwargs(self.kwargs, move))

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
    # The name of the sample, per reduction ("{reduction}" in it), that passes every constant (the constants,
    # grad-mode, autocast, compile, export and vmap tests).
    constants_sample: str
    # Large samples (several parallel chunks and a vector tail) by name: reduction -> LossSample, float32 on the CPU
    # (thread counts, the CPU ISA kernels, no ATen loss inside: the first one).
    large_samples: Dict[str, Callable[[str], LossSample]]
    # ATen ops the loss and its gradient must not call (the profiler's aten:: names): ATen's own loss and the math
    # the fused kernels replace.
    forbidden_aten_ops: FrozenSet[str]
    # The module tests' inputs: the layer's constructor kwargs -> [(input, target)] valid for them (3 classes or
    # features, as the constructor arguments' weights).
    module_inputs: Callable[[dict], List[Tuple[torch.Tensor, torch.Tensor]]]
    # vmap: a sample's target -> three targets stacked (a batch of them, each a valid target for the input).
    batched_targets: Callable[[torch.Tensor], torch.Tensor]
    # The mean's denominator of a float64 sample: (x64, t64, kwargs) -> float (the number of elements for BCE, the
    # sum of the target classes' weights for cross_entropy's class indices).
    mean_denominator: Callable
    # A tensor of the loss's unreduced shape broadcast against the input (cross_entropy: the class dim put back):
    # (per-loss tensor, x) -> tensor.
    along_input: Callable = lambda t, x: t
    # Registered ops that refuse inputs requiring grad (they compute another op's saved values): opcheck runs them
    # without.
    not_differentiable_ops: Tuple[str, ...] = ()
    # The benchmark's cases on logits [N, C]: variant name -> (shape, dtype, device, generator) -> (target, kwargs),
    # the first variant "" (the plain loss); and the largest magnitude of the mean's gradient per element (its
    # comparison's scale): [N, C] -> float.
    bench_variants: Dict[str, Callable] = dataclasses.field(default_factory=dict)
    bench_grad_scale: Callable[[Tuple[int, int]], float] = lambda shape: 1.0
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

def _bce_large_sample(reduction, weights="per class") -> LossSample:
    """[20011, 96] float32: weights per class (repeating along the rows), per row (a broadcast inside) or none."""
    n, c = 20_011, 96
    g = torch.Generator().manual_seed(11)
    x = torch.randn(n, c, generator=g) * 4
    t = torch.rand(n, c, generator=g)
    if weights == "per class":
        kw = dict(weight=torch.rand(c, generator=g) + 0.5, pos_weight=torch.rand(1, c, generator=g) * 2 + 0.5)
    elif weights == "per row":
        kw = dict(weight=torch.rand(n, 1, generator=g) + 0.5)
    else:
        kw = {}
    return LossSample(x, t, dict(kw, reduction=reduction))

def _bce_bench_target(shape, dtype, device, g):
    return torch.rand(shape, generator=g, device=device).to(dtype)


# Per element, the mean's gradient is at most max(1, pos_weight) / (N C), pos_weight < 2.5 below.
_BCE_BENCH = {
    "": lambda shape, dtype, device, g: (_bce_bench_target(shape, dtype, device, g), {}),
    "pos_weight": lambda shape, dtype, device, g: (_bce_bench_target(shape, dtype, device, g), {
        "pos_weight": (torch.rand(shape[-1], generator=g, device=device) * 2 + 0.5).to(dtype)}),
}


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

# --------------------------------------------------------------------------------------------
# cross_entropy: class indices (int64, not differentiable) or class probabilities (differentiable) as the target
# --------------------------------------------------------------------------------------------

def _class_dim(x: torch.Tensor) -> int:
    return 0 if x.dim() == 1 else 1


def _ce_sample(shape, target="indices", weight=False, ignore=None, ignore_index=None, label_smoothing=0.0,
               lse_square_scale=0.0, reduction="mean", layout="contiguous", scale=4.0) -> LossSampleBuilder:
    """x ~ N(0, scale^2) logits of shape ([C], [N, C] or [N, C, d...]); target: class indices ~ U{0..C-1} with the
    rows `ignore` (a fraction, or "all") set to ignore_index (-100 unless given), or class probabilities (a softmax
    of N(0, 1)); weight ~ U[0.25, 2) per class."""

    def build(dtype, device):
        g = torch.Generator().manual_seed(zlib.crc32(repr((shape, target, weight, ignore, ignore_index,
                                                            label_smoothing, lse_square_scale, layout)).encode()))
        make_shape = tuple(shape[::-1]) if layout == "transposed" else tuple(shape)
        x = torch.randn(make_shape, generator=g, dtype=torch.float64) * scale
        if layout == "transposed":
            x = x.mT
        cd = 0 if len(shape) == 1 else 1
        classes = shape[cd]
        kwargs = {"reduction": reduction}
        if target == "indices":
            rows_shape = tuple(shape[:cd]) + tuple(shape[cd + 1:])
            t = torch.randint(0, classes, rows_shape, generator=g)
            skip = -100 if ignore_index is None else ignore_index
            if ignore == "all":
                t = torch.full_like(t, skip)
            elif ignore:
                t = torch.where(torch.rand(rows_shape, generator=g) < ignore, torch.full_like(t, skip), t)
            if ignore_index is not None:
                kwargs["ignore_index"] = ignore_index
        else:
            t = torch.softmax(torch.randn(shape, generator=g, dtype=torch.float64), cd)
        if weight:
            kwargs["weight"] = (torch.rand(classes, generator=g, dtype=torch.float64) * 1.75 + 0.25).to(
                device=device, dtype=dtype)
        if label_smoothing:
            kwargs["label_smoothing"] = label_smoothing
        if lse_square_scale:
            kwargs["lse_square_scale"] = lse_square_scale
        if layout == "transposed":  # the logits stay non-contiguous in every dtype and device
            x = x.mT.to(dtype).to(device).mT
        else:
            x = x.to(dtype).to(device)
        return LossSample(x, t.to(device=device, dtype=dtype if t.is_floating_point() else None), kwargs)

    return build


def _ce_samples() -> Dict[str, LossSampleBuilder]:
    samples = {}
    for r in REDUCTIONS:
        samples[f"indices-{r}"] = _ce_sample((6, 5), reduction=r)
        # The constants sample: a weight, and some rows ignored (the mean's denominator is their weights' sum).
        samples[f"weight-{r}"] = _ce_sample((6, 5), weight=True, ignore=0.3, reduction=r)
        samples[f"probabilities-{r}"] = _ce_sample((6, 5), target="probabilities", weight=True, reduction=r)
        samples[f"smoothing_weight-{r}"] = _ce_sample((6, 5), weight=True, ignore=0.3, label_smoothing=0.1,
                                                      reduction=r)
        samples[f"zloss-{r}"] = _ce_sample((6, 5), weight=True, ignore=0.3, lse_square_scale=0.01, reduction=r)
        samples[f"probabilities_zloss-{r}"] = _ce_sample((6, 5), target="probabilities", label_smoothing=0.2,
                                                         lse_square_scale=0.01, reduction=r)
    samples.update({
        "smoothing-mean": _ce_sample((6, 5), label_smoothing=0.3, reduction="mean"),
        "probabilities_smoothing_weight-sum": _ce_sample((6, 5), target="probabilities", weight=True,
                                                         label_smoothing=0.25, reduction="sum"),
        # An ignore_index that is a class: those rows are skipped all the same.
        "ignore_a_class-mean": _ce_sample((9, 4), weight=True, ignore=0.3, ignore_index=2, label_smoothing=0.1,
                                          reduction="mean"),
        "all_ignored-mean": _ce_sample((4, 5), weight=True, ignore="all", reduction="mean"),  # NaN (0 / 0), as ATen
        "all_ignored-sum": _ce_sample((4, 5), ignore="all", label_smoothing=0.1, reduction="sum"),
        "classes_only-mean": _ce_sample((7,), weight=True, reduction="mean"),  # [C] logits, a 0-dim target
        "classes_only_probabilities-none": _ce_sample((7,), target="probabilities", reduction="none"),
        "4d-mean": _ce_sample((2, 5, 3, 4), weight=True, ignore=0.2, label_smoothing=0.1, reduction="mean"),
        "4d-none": _ce_sample((2, 5, 3, 4), weight=True, ignore=0.2, lse_square_scale=0.01, reduction="none"),
        "4d_probabilities-sum": _ce_sample((2, 5, 3, 4), target="probabilities", weight=True, reduction="sum"),
        "empty-mean": _ce_sample((0, 5), reduction="mean"),
        "empty-none": _ce_sample((0, 5), weight=True, reduction="none"),
        "empty_probabilities-sum": _ce_sample((0, 5), target="probabilities", reduction="sum"),
        "transposed-none": _ce_sample((5, 6), weight=True, layout="transposed", reduction="none"),
        "transposed_probabilities-mean": _ce_sample((5, 6), target="probabilities", layout="transposed",
                                                    reduction="mean"),
        # Large logits: exp overflows without the max shift; the z-loss's lse^2 is large.
        "large_logits-none": _ce_sample((6, 5), weight=True, label_smoothing=0.1, reduction="none", scale=30.0),
        "large_logits_zloss-mean": _ce_sample((6, 5), lse_square_scale=1e-3, reduction="mean", scale=30.0),
        "many_classes-mean": _ce_sample((5, 300), weight=True, label_smoothing=0.1, reduction="mean"),
    })
    return samples


def _ce_reference(input, target, weight=None, size_average=None, ignore_index=-100, reduce=None, reduction="mean",
                  label_smoothing=0.0, lse_square_scale=0.0):
    """torch's cross_entropy plus the z-loss z * logsumexp(x)^2 per row, on the same rows as the loss: not for an
    ignored row, and divided by the same denominator for "mean" (the target classes' weights' sum, or the number of
    rows for probabilities)."""
    loss = F.cross_entropy(input, target, weight=weight, size_average=size_average, ignore_index=ignore_index,
                           reduce=reduce, reduction=reduction, label_smoothing=label_smoothing)
    if lse_square_scale == 0.0:
        return loss
    lse = torch.logsumexp(input, _class_dim(input))
    z = lse_square_scale * lse * lse
    if target.is_floating_point():
        denominator = lse.new_tensor(float(lse.numel()))
    else:
        kept = target != ignore_index
        z = z * kept
        w_y = weight[torch.where(kept, target, 0)] if weight is not None else torch.ones_like(lse)
        denominator = (w_y * kept).sum()
    if reduction == "none":
        return loss + z
    return loss + (z.sum() / denominator if reduction == "mean" else z.sum())


def _ce_terms(x, t, kwargs):
    """In float64: lse per row, -log_softmax (>= 0), the per-class weights B_c (the coefficient of -log_softmax_c in
    the row's loss), their sum A per row, the rows kept, and z."""
    cd = _class_dim(x)
    classes = x.shape[cd]
    eps = kwargs.get("label_smoothing", 0.0)
    z = kwargs.get("lse_square_scale", 0.0)
    w = kwargs.get("weight")
    shape = [1] * x.dim()
    shape[cd] = classes
    w_c = w.view(shape) if w is not None else torch.ones(shape, dtype=x.dtype)
    lse = torch.logsumexp(x, cd) if x.numel() else x.sum(cd)
    nls = lse.unsqueeze(cd) - x
    if t.is_floating_point():
        kept = torch.ones_like(lse)
        b = w_c * ((1 - eps) * t + eps / classes)
    else:
        ignore_index = kwargs.get("ignore_index", -100)
        kept = (t != ignore_index).to(x.dtype)
        one_hot = torch.zeros_like(x).scatter(cd, torch.where(t == ignore_index, 0, t).unsqueeze(cd), 1.0)
        b = w_c * ((1 - eps) * one_hot + eps / classes) * kept.unsqueeze(cd)
    return lse, nls, b, b.sum(cd), kept, z


def _ce_forward_scale(x, t, kwargs):
    # sum_c B_c (|lse - x_c| + 1): A log_sum - sum_c B_c (x_c - max), each term >= 0, where log_sum = log(s) of a
    # rounded s >= 1 has an absolute error of a few eps (not relative to log_sum, which may be ~0: the +1); and the
    # z-loss z lse^2, whose rounded lse enters twice.
    lse, nls, b, _, kept, z = _ce_terms(x, t, kwargs)
    return (b * (nls + 1)).sum(_class_dim(x)) + 2 * z * lse * lse * kept


def _ce_backward_scale(x, t, kwargs):
    # (A + 2 z |lse|) p_c + B_c, where p_c = exp(x_c - lse) takes the rounding of its argument as a relative
    # error: the factor 1 + |x_c - lse| (exp(x_c - max) / s, as ATen's softmax, rounds x_c - max <= 0 and s once).
    # NB: not |lse|: a p_c of exp(x_c - lse) with lse rounded is off by eps |lse| relative, worse than ATen's.
    lse, nls, b, a, kept, z = _ce_terms(x, t, kwargs)
    cd = _class_dim(x)
    p = torch.exp(-nls)
    coefficient = (a + 2 * z * lse.abs() * kept).unsqueeze(cd)
    return coefficient * p * (1 + nls) + b


def _ce_target_backward_scale(x, t, kwargs):
    # (1 - eps) w_c (|log_softmax_c| + 1) (probabilities only): log_softmax_c = (x_c - max) - log_sum, whose log_sum
    # has an absolute error of a few eps (see _ce_forward_scale).
    _, nls, _, _, _, _ = _ce_terms(x, t, kwargs)
    eps = kwargs.get("label_smoothing", 0.0)
    w = kwargs.get("weight")
    cd = _class_dim(x)
    if w is not None:
        shape = [1] * x.dim()
        shape[cd] = x.shape[cd]
        return (1 - eps) * (nls + 1) * w.view(shape)
    return (1 - eps) * (nls + 1)


def _ce_mean_denominator(x, t, kwargs):
    if t.is_floating_point():
        return x.numel() // max(x.shape[_class_dim(x)], 1) if x.dim() else 1
    _, _, _, _, kept, _ = _ce_terms(x, t, kwargs)
    w = kwargs.get("weight")
    w_y = w[torch.where(kept.bool(), t, 0)] if w is not None else torch.ones_like(kept)
    return (w_y * kept).sum().item()


def _ce_args(s: LossSample):
    kw = s.kwargs
    return (s.input, s.target, kw.get("weight"), _REDUCTION_ENUM[s.reduction], kw.get("ignore_index", -100),
            kw.get("label_smoothing", 0.0), kw.get("lse_square_scale", 0.0))


def _ce_raw_calls(s: LossSample, g: torch.Tensor):
    args = _ce_args(s)
    _, lse, total_weight = ops.cross_entropy_forward(*[a.detach() if isinstance(a, torch.Tensor) else a
                                                       for a in args])
    return [
        ("cross_entropy", ops.cross_entropy.default, args),
        ("cross_entropy_forward", ops.cross_entropy_forward.default, args),
        ("cross_entropy_backward", ops.cross_entropy_backward.default, (g,) + args + (lse, total_weight)),
    ]


def _ce_large_sample(reduction, target="indices") -> LossSample:
    """[20011, 96] float32 logits: class indices with a weight, ignored rows and label smoothing (the z-loss on
    the sum), or class probabilities with a weight."""
    n, c = 20_011, 96
    g = torch.Generator().manual_seed(13)
    x = torch.randn(n, c, generator=g) * 4
    weight = torch.rand(c, generator=g) + 0.5
    if target == "probabilities":
        t = torch.softmax(torch.randn(n, c, generator=g), 1)
        kw = dict(weight=weight, label_smoothing=0.1)
    else:
        t = torch.randint(0, c, (n,), generator=g)
        t = torch.where(torch.rand(n, generator=g) < 0.1, torch.full_like(t, -100), t)
        kw = dict(weight=weight, label_smoothing=0.1, lse_square_scale=1e-3 if reduction == "sum" else 0.0)
    return LossSample(x, t, dict(kw, reduction=reduction))


def _ce_batched_targets(t: torch.Tensor, classes: int = 5) -> torch.Tensor:
    # The sample's targets, the next class of each (ignored rows stay ignored) and the rows reversed.
    if t.is_floating_point():
        return torch.stack([t, t.flip(0), torch.softmax(t, -1)])
    return torch.stack([t, torch.where(t < 0, t, (t + 1) % classes), t.flip(0)])


def _ce_module_inputs(kwargs: dict):
    # Class indices (class 2 repeats: ignore_index=2 skips rows), and class probabilities where the layer takes them
    # (torch refuses an ignore_index >= 0 with probabilities, as we do).
    inputs = [(torch.randn(4, 3), torch.tensor([0, 2, 1, 2]))]
    if kwargs.get("ignore_index", -100) < 0:
        inputs.append((torch.randn(4, 3), torch.softmax(torch.randn(4, 3), 1)))
    return inputs


_CE_ERRORS = (
    ("TF.cross_entropy(x, t.double())", RuntimeError,
     r"cross_entropy_forward: expected target to have the dtype of self \(Float\), got Double"),
    ("TF.cross_entropy(x, i[:, 0].int())", RuntimeError,
     r"cross_entropy_forward: expected target to be class indices \(int64, self's shape without the class dim, "
     r"\[4\]\) or class probabilities \(self's shape \[4, 3\] and dtype\), got Int of shape \[4\]"),
    ("TF.cross_entropy(x, i[:2, 0])", ValueError, r"expected input batch_size \(4\) to match target batch_size \(2\)"),
    ("TF.cross_entropy(x, i[:, :2])", RuntimeError,
     r"cross_entropy_forward: expected target of class indices to have the shape \[4\] \(self's without the class "
     r"dim\), got \[4, 2\]"),
    ("TF.cross_entropy(x, i[:, 0], weight=torch.ones(4))", RuntimeError,
     r"cross_entropy_forward: expected weight to have one element per class \(\[3\]\), got shape \[4\]"),
    ("TF.cross_entropy(x, i[:, 0], weight=torch.ones(3, dtype=torch.float64))", RuntimeError,
     r"cross_entropy_forward: expected weight to have the dtype of self \(Float\), got Double"),
    ("TF.cross_entropy(x, i[:, 0], label_smoothing=1.5)", RuntimeError,
     r"cross_entropy_forward: expected label_smoothing to be between 0.0 and 1.0, got 1.5"),
    ("TF.cross_entropy(x, i[:, 0], label_smoothing=-0.1)", RuntimeError,
     r"cross_entropy_forward: expected label_smoothing to be between 0.0 and 1.0, got -0.1"),
    ("TF.cross_entropy(x, i[:, 0], lse_square_scale=-1.0)", RuntimeError,
     r"cross_entropy_forward: expected lse_square_scale to be finite and >= 0, got -1"),
    ("TF.cross_entropy(x, t, ignore_index=0)", RuntimeError,
     r"cross_entropy_forward: ignore_index is not supported for class-probability targets \(target of self's "
     r"shape\), got ignore_index=0"),
    ("TF.cross_entropy(x, i[:, 0], weight=torch.ones(3, requires_grad=True))", RuntimeError,
     r"The function 'cross_entropy' is not differentiable with respect to argument 'weight'"),
    ("TF.cross_entropy(x, i[:, 0] * 7)", RuntimeError, r"cross_entropy_forward: target 7 is out of bounds"),
    ("TF.cross_entropy(i, i[:, 0])", RuntimeError,
     r"cross_entropy_forward: expected self to be a floating-point tensor \(float32, float64, float16 or "
     r"bfloat16\), got Long"),
    ("TF.cross_entropy(x[:, :0], i[:, 0])", RuntimeError,
     r"cross_entropy_forward: expected self to have at least one class \(a class dim of size > 0\), got shape "
     r"\[4, 0\]"),
    ("TF.cross_entropy(x, i[:, 0], reduction='average')", ValueError, r"average is not a valid value"),
    ("ops.cross_entropy(x, i[:, 0], None, 3)", RuntimeError,
     r"cross_entropy_forward: expected reduction to be 0 \(none\), 1 \(mean\) or 2 \(sum\), got 3"),
    ("ops.cross_entropy_forward(x.requires_grad_(), i[:, 0])", RuntimeError,
     r"cross_entropy_forward: not differentiable \(it computes cross_entropy's saved values\)"),
    ("ops.cross_entropy_backward(torch.ones(2), x, i[:, 0], None, 1, -100, 0.0, 0.0, torch.zeros(4), "
     "torch.ones(()))", RuntimeError,
     r"cross_entropy_backward: expected grad_output to have one element \(the gradient of a reduced loss\), got "
     r"shape \[2\]"),
    ("ops.cross_entropy_backward(torch.ones(()), x, i[:, 0], None, 1, -100, 0.0, 0.0, torch.zeros(3), "
     "torch.ones(()))", RuntimeError,
     r"cross_entropy_backward: expected lse \(the forward's: max and log_sum per row\) to be Float of shape "
     r"\[4, 2\], got Float of shape \[3\]"),
)

def _ce_bench_indices(shape, dtype, device, g):
    return torch.randint(0, shape[-1], shape[:1], generator=g, device=device)


# Class indices (a language model's next token), and with label smoothing (every class in the loss); per element,
# the mean's gradient is at most 1 / N.
_CE_BENCH = {
    "": lambda shape, dtype, device, g: (_ce_bench_indices(shape, dtype, device, g), {}),
    "label_smoothing": lambda shape, dtype, device, g: (_ce_bench_indices(shape, dtype, device, g),
                                                        {"label_smoothing": 0.1}),
}


_CE_NAME = "cross_entropy"
_CE_ROW = LossInfo(
    name=_CE_NAME, op=TF.cross_entropy, ref=_ce_reference, forward_op=_CE_NAME,
    ops=(_CE_NAME, _CE_NAME + "_forward", _CE_NAME + "_backward"),
    raw_calls=_ce_raw_calls, autograd_function="CrossEntropyFunction",
    module=ModuleInfo("CrossEntropyLoss", dict(reduction="sum", ignore_index=1, label_smoothing=0.1),
                      ("reduction", "ignore_index", "label_smoothing"),
                      (((), {}), ((), dict(reduction="none")), ((torch.tensor([0.5, 2.0, 1.0]),), {}),
                       ((), dict(weight=torch.tensor([3.0, 1.0, 0.5]), ignore_index=2, reduction="sum")),
                       ((), dict(label_smoothing=0.2, reduction="mean")))),
    samples=_ce_samples(), forward_scale=_ce_forward_scale, backward_scale=_ce_backward_scale,
    target_backward_scale=_ce_target_backward_scale,
    constants=("weight",),
    autocast=AutocastPolicy("nll_loss", frozenset({"AutocastCPU", "AutocastCUDA"})),
    errors=_CE_ERRORS,
    constants_sample="weight-{reduction}",
    large_samples={"indices": _ce_large_sample,
                   "probabilities": functools.partial(_ce_large_sample, target="probabilities")},
    forbidden_aten_ops=frozenset({"aten::cross_entropy_loss", "aten::log_softmax", "aten::_log_softmax",
                                  "aten::_log_softmax_backward_data", "aten::softmax", "aten::_softmax",
                                  "aten::nll_loss", "aten::nll_loss_nd", "aten::nll_loss_forward",
                                  "aten::nll_loss_backward", "aten::nll_loss2d_forward", "aten::logsumexp",
                                  "aten::exp", "aten::log", "aten::sub", "aten::rsub"}),
    module_inputs=_ce_module_inputs,
    batched_targets=_ce_batched_targets,
    mean_denominator=_ce_mean_denominator,
    along_input=lambda rows, x: rows.unsqueeze(_class_dim(x)) if rows.dim() else rows,
    not_differentiable_ops=("cross_entropy_forward",),
    bench_variants=_CE_BENCH,
    bench_grad_scale=lambda shape: 1.0 / shape[0],
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
        constants_sample="both-{reduction}",
        large_samples={name: functools.partial(_bce_large_sample, weights=name)
                       for name in ("per class", "per row", "none")},
        forbidden_aten_ops=frozenset({f"aten::{_BCE_NAME}", "aten::log_sigmoid_forward", "aten::sigmoid",
                                      "aten::log_sigmoid", "aten::sub", "aten::rsub", "aten::exp", "aten::log1p"}),
        module_inputs=lambda kwargs: [(torch.randn(4, 3), torch.rand(4, 3))],
        batched_targets=lambda t: torch.stack([t, 1 - t, t.round()]),
        mean_denominator=lambda x, t, kwargs: x.numel(),
        bench_variants=_BCE_BENCH,
        bench_grad_scale=lambda shape: 2.5 / (shape[0] * shape[1]),
    ),
    _CE_ROW,
]

loss_db_by_name: Dict[str, LossInfo] = {row.name: row for row in loss_db}

def reduce_like(loss: torch.Tensor, reduction: str) -> torch.Tensor:
    """A per-element tensor reduced as the loss is."""
    return loss.sum() if reduction == "sum" else loss.mean() if reduction == "mean" else loss

def optional_kwargs(kwargs: dict, fn: Callable[[torch.Tensor], torch.Tensor]) -> dict:
    """kwargs with fn applied to each tensor."""
    return {k: fn(v) if isinstance(v, torch.Tensor) else v for k, v in kwargs.items()}

def rounding_bounds(row: LossInfo, s: LossSample, g: torch.Tensor, ulps: float) -> List[Optional[torch.Tensor]]:
    """Per output (loss, input gradient, target gradient) of row on s with grad_output g: ulps * eps of s's dtype times
    the magnitudes of its terms in float64 (their sum, for a reduced loss), as a float64 CPU tensor of the output's
    shape; None for the target gradient of a target that is not differentiable (class indices). A fused pass rounds
    each term once in the op-math type and the result once in the dtype, so a few ulps of the terms bound its error
    against float64 truth (tests/test_losses.py's accuracy test, the validation report)."""
    dtype = s.input.dtype
    s64 = s.to(torch.float64, "cpu")
    x64, t64, kw = s64.input, s64.target, s64.kwargs
    eps, tiny = torch.finfo(dtype).eps, torch.finfo(dtype).tiny
    loss_scale = row.forward_scale(x64, t64, kw)
    per_element = 1.0
    if s.reduction != "none":
        loss_scale = loss_scale.sum()
    if s.reduction == "mean":
        denominator = float(row.mean_denominator(x64, t64, kw))
        loss_scale = loss_scale / denominator  # NaN for the mean of nothing, as the loss
        # Nothing weighs in when the denominator is 0 (the loss is NaN, the gradient 0): any finite factor.
        per_element = 1.0 / denominator if denominator > 0 else 1.0
    g64 = (g.double().cpu() if s.reduction == "none" else g.double().cpu().reshape(())).abs() * per_element
    g64 = row.along_input(g64, x64) if s.reduction == "none" else g64
    bounds = [loss_scale, row.backward_scale(x64, t64, kw) * g64]
    bounds.append(row.target_backward_scale(x64, t64, kw) * g64 if s.target_is_differentiable else None)
    return [None if b is None else ulps * eps * (b + tiny) for b in bounds]
