"""Validation report: every torch_ext op and loss and its ATen twin against the same function in float64, and
torch_ext's gradients by numerical differentiation.

    python -m torch_ext.validate [--device cpu|cuda|all] [--size N] [--seed S]

For each op, device and dtype the inputs x and grad_output g are drawn in float64 and rounded to the
dtype. Truth is the function computed in float64 (on the CPU) from those rounded values, forward and
backward (autograd of the float64 function). The report prints the largest |error| against truth of
torch_ext and of ATen (torch.nn.functional in the same dtype), forward and backward, side by side, and
the fraction of the error bound torch_ext uses. The bound follows from the dtype and the computation (see
`elementwise_bounds` and `softmax_bounds`). A row fails when torch_ext's error exceeds the bound anywhere,
or when it is clearly worse than ATen's: more than WORSE_FACTOR times ATen's largest error while using
more than WORSE_MIN_USE of the bound. ATen's errors are shown, never judged. float64 has no wider type here: its
truth is ATen's float64 result, so ATen's float64 errors read 0. Then gradcheck and gradgradcheck in float64.
Exits 1 if any check fails.

The losses of the loss table (torch_ext/testing/loss_db.py) have a table of their own, a row per loss, reduction,
device and dtype: the loss, its input gradient and its target gradient (where the target is floating) over every
sample of the table with that reduction, against torch's loss computed in float64 on the CPU from the same rounded
inputs, within LOSS_ULPS eps of the dtype (twice that in float64, where the truth has rounding errors of the same
size) times the magnitudes of the loss's terms (loss_db.rounding_bounds). Their
inputs are the table's samples, so --size and --seed do not change them; grad_output is drawn from the seed.

Hierarchical softmax (torch_ext/testing/hsoftmax_db.py) has a third table, a row per tree, device and dtype: the loss
and its input and weight gradients against the plain-PyTorch version on the same tree (gather + logsigmoid) in
float64 from the same rounded operands; the plain version in the same dtype is shown beside torch_ext. The bound:
each path score's dot product in op-math (hsoftmax_score_ulps of its terms' magnitudes), then LOSS_ULPS eps of the
dtype per term, carried through the sigmoid's slope (at most 1/4) to the gradients.
"""

import argparse
import math
import sys
from dataclasses import dataclass
from typing import Callable, List, Optional, Tuple

import torch

import torch_ext
from torch_ext.testing import validation_cases
from torch_ext.testing.hsoftmax_db import HsoftmaxSample, make_sample
from torch_ext.testing.loss_db import LossInfo, LossSample, loss_db, rounding_bounds
from torch_ext.testing.reference import hsoftmax_nll_reference, hsoftmax_target_paths

DEFAULT_SIZE = 1 << 16  # elements per accuracy check, as make demo runs it
DTYPES = [torch.float32, torch.float64, torch.float16, torch.bfloat16]

# Op-math error of an elementwise formula (exp, expm1, log1p and a few products), in ulps of the op-math type
# (float, or double for float64): the tests measure at most 2-4; 8 leaves room for other ISAs and libms.
ELEMENTWISE_OPMATH_ULPS = 8
# A loss rounds each term once in op-math and the result once in the dtype: a few eps of the dtype times the terms'
# magnitudes, as tests/test_losses.py's accuracy test allows.
LOSS_ULPS = 4
WORSE_FACTOR = 4.0
WORSE_MIN_USE = 0.25

Bounds = Tuple[torch.Tensor, torch.Tensor]


def opmath_eps(dtype: torch.dtype) -> float:
    """The unit roundoff scale of the type the kernels compute in: double for float64, float otherwise."""
    return torch.finfo(torch.float64 if dtype == torch.float64 else torch.float32).eps


def _finish(bound: torch.Tensor, truth: torch.Tensor, dtype: torch.dtype) -> torch.Tensor:
    """Adds the final rounding to dtype (an ulp of the result) and a few subnormal steps."""
    fi = torch.finfo(dtype)
    return (bound + fi.eps * truth.abs()).nan_to_num(0.0, 0.0, 0.0) + 4 * fi.smallest_normal * fi.eps


def elementwise_bounds(saves_output: bool = False) -> Callable:
    """Bounds of an elementwise op computed in op-math and rounded once: ELEMENTWISE_OPMATH_ULPS ulps of op-math
    and one of the dtype, relative to the result, forward and backward. saves_output: the backward reads the
    saved output y (in-place forms), whose own error (the forward bound) reaches the gradient times |g| (here
    d(dx)/dy = g, input_scale being 1 in every case of the report)."""

    def bounds(x, g, y, dx, dim, dtype) -> Bounds:
        k = ELEMENTWISE_OPMATH_ULPS * opmath_eps(dtype)
        fwd = _finish(k * y.abs(), y, dtype)
        bwd = k * dx.abs()
        if saves_output:
            bwd = bwd + g.abs() * fwd
        return fwd, _finish(bwd, dx, dtype)

    return bounds


def surrogate_bounds(grad: str, beta: float) -> Callable:
    """A step's (sign, heaviside): the forward is exact; the surrogate gradient's formula is elementwise_bounds' times
    its condition number in x (torch_ext.testing.reference.step_surrogate_condition), SwishSign's cancelling near
    its zero. In float64 the truth is itself a float64 evaluation of the same ill-conditioned formula, whose error
    the bound adds (twice the op-math term)."""
    from torch_ext.testing.reference import step_surrogate_condition

    base = elementwise_bounds()

    def bounds(x, g, y, dx, dim, dtype) -> Bounds:
        fwd, _ = base(x, g, y, dx, dim, dtype)
        k = ELEMENTWISE_OPMATH_ULPS * opmath_eps(dtype) * (2 if dtype == torch.float64 else 1)
        return fwd, _finish(k * step_surrogate_condition(x, grad, beta) * dx.abs(), dx, dtype)

    return bounds


def softmax_forward_bound(log: bool, y: torch.Tensor, dtype: torch.dtype, n: int) -> torch.Tensor:
    """The error allowed per element of a softmax (log=False) or log_softmax output of `dtype` against the exact
    float64 y, from the error of the formula in op-math over slices of n elements, and one rounding to dtype.

    The sum s of n exps in op-math: a relative error of eps * 2 sqrt(n) (a rounded sum's error grows as sqrt(n); its
    worst case, n, is far out of reach of random data). softmax, exp(x - m) / s: x - m is rounded (a relative
    error of eps * |x - m| after exp, and |x - m| <= |log p|), exp and 1 / s take an ulp or two, and the sum:
    eps * (16 + 2 |log p| + 2 sqrt(n)) relative. log_softmax, (x - m) - log(s): ulps of |x - m| and log(s), both
    <= |y|, and the sum's relative error: eps * (8 + 4 |y| + 2 sqrt(n)) absolute (y near 0 is a cancellation, no
    relative bound). Then an ulp of dtype, and a few subnormal steps.
    """
    eps = opmath_eps(dtype)
    a = y.abs()
    sum_err = 2 * math.sqrt(max(n, 1))
    if log:
        bound = eps * (8 + 4 * a + sum_err)
    else:
        bound = a * eps * (16 + 2 * a.log().abs() + sum_err)
    return _finish(bound, y, dtype)


def softmax_bounds(log: bool) -> Callable:
    """Forward: softmax_forward_bound. Backward, from the saved output (its error E = the forward bound) and g:
    softmax dx = y (g - S), S = sum(g y): E_i |g_i - S| + |y_i| sum |g_j| E_j from y's error, and in op-math a few
    ulps of |y_i| (|g_i| + |S|) plus the sum's error, eps (4 + 2 sqrt(n)) |y_i| sum |g_j y_j|. log_softmax
    dx = g - p sum(g), p = exp(y): p_i E_i |sum g| from y's error, and in op-math 4 ulps of |g_i| and of
    p_i |sum g| plus the sum's error, eps 2 sqrt(n) p_i sum |g_j|. Then an ulp of dtype."""

    def bounds(x, g, y, dx, dim, dtype) -> Bounds:
        n = y.shape[dim] if y.dim() else 1
        eps = opmath_eps(dtype)
        sum_err = 4 + 2 * math.sqrt(max(n, 1))
        err_y = softmax_forward_bound(log, y, dtype, n)
        if log:
            p = y.exp()
            total = g.sum(dim, keepdim=True)
            sum_abs = g.abs().sum(dim, keepdim=True)
            bwd = p * err_y * total.abs() + eps * (4 * g.abs() + p * (4 * total.abs() + sum_err * sum_abs))
        else:
            s = (g * y).sum(dim, keepdim=True)
            bwd = (err_y * (g - s).abs() + y.abs() * (g.abs() * err_y).sum(dim, keepdim=True)
                   + eps * y.abs() * (4 * (g.abs() + s.abs()) + sum_err * (g * y).abs().sum(dim, keepdim=True)))
        return err_y, _finish(bwd, dx, dtype)

    return bounds


@dataclass
class OpCase:
    name: str
    ours: Callable[[torch.Tensor], torch.Tensor]
    aten: Callable[[torch.Tensor], torch.Tensor]  # in the input's dtype; on float64 copies, the truth
    # (x, g, y, dx, dim, dtype) of the float64 truth -> per-element (forward, backward) bounds for dtype.
    bounds: Callable[..., Bounds]
    dim: Optional[int] = None  # the reduced dim of the rows of 8 softmax runs over
    gradcheck: Optional[Callable[[torch.Tensor], torch.Tensor]] = None  # what gradcheck checks (None: ours)


# The bounds a validation case of the op table names.
BOUNDS = {
    "elementwise": elementwise_bounds(),
    "elementwise_saves_output": elementwise_bounds(saves_output=True),
    "softmax": softmax_bounds(log=False),
    "log_softmax": softmax_bounds(log=True),
    "swish_sign": surrogate_bounds("swish_sign", 5.0),
}

# The report's rows: the op table's validation cases (torch_ext/testing/op_db.py), in the report's order.
CASES: List[OpCase] = [OpCase(c.name, c.ours, c.aten, BOUNDS[c.bounds], c.dim, c.gradcheck)
                        for c in validation_cases()]


def forward_backward(fn: Callable, x: torch.Tensor, g: torch.Tensor) -> Tuple[torch.Tensor, torch.Tensor]:
    """fn(x) and the gradient of <fn(x), g> with respect to x, as float64 on the CPU."""
    leaf = x.detach().clone().requires_grad_()
    y = fn(leaf)
    (dx,) = torch.autograd.grad(y, leaf, g)
    return y.detach().double().cpu(), dx.double().cpu()


def max_error(actual: torch.Tensor, truth: torch.Tensor, bound: torch.Tensor) -> Tuple[float, float]:
    """Largest |actual - truth| and largest |actual - truth| / bound (inf where a NaN or infinity differs)."""
    diff = (actual - truth).abs()
    same_special = (actual == truth) | (actual.isnan() & truth.isnan())
    diff = torch.where(same_special, torch.zeros_like(diff), diff.nan_to_num(math.inf, math.inf))
    return diff.max().item(), (diff / bound).max().item()


@dataclass
class Row:
    """One row of a table: per output (an op's forward and backward; a loss's loss, input and target gradients), the
    largest error of torch_ext and of ATen, and the fraction of the bound each uses; None where there is no such
    output (a loss whose target is not differentiable)."""
    case: str
    device: str
    dtype: torch.dtype
    ours: Tuple[Optional[float], ...]
    aten: Tuple[Optional[float], ...]
    use: Tuple[Optional[float], ...]  # torch_ext's largest error / bound
    aten_use: Tuple[Optional[float], ...]
    # Whether "clearly worse than ATen" is judged. Not for a loss in float64: the truth is ATen's own float64 sum,
    # so its error reads 0 and the comparison would judge the order of summation, not an error.
    judge_against_aten: bool = True

    @property
    def max_use(self) -> float:
        return max(u for u in self.use if u is not None)

    @property
    def clearly_worse(self) -> bool:
        return self.judge_against_aten and any(o is not None and o > WORSE_FACTOR * a and u > WORSE_MIN_USE
                   for o, a, u in zip(self.ours, self.aten, self.use))

    @property
    def ok(self) -> bool:
        return self.max_use <= 1 and not self.clearly_worse

    def cells(self) -> List[str]:
        verdict = "ok" if self.ok else ("FAIL (worse than ATen)" if self.max_use <= 1 else "FAIL (over bound)")
        errors = [f"{e:.2e}" if e is not None else "-" for pair in zip(self.ours, self.aten) for e in pair]
        return ([self.case, self.device, str(self.dtype).replace("torch.", "")] + errors
                + [f"{self.max_use:.2f}", f"{max(u for u in self.aten_use if u is not None):.2f}", verdict])


HEADER = ["op", "device", "dtype", "fwd ours", "fwd ATen", "bwd ours", "bwd ATen", "ours/bound", "ATen/bound", "result"]
LOSS_HEADER = ["loss", "device", "dtype", "loss ours", "loss ATen", "d input ours", "d input ATen", "d target ours",
               "d target ATen", "ours/bound", "ATen/bound", "result"]


def check_case(case: OpCase, device: str, dtype: torch.dtype, size: int, gen: torch.Generator) -> Row:
    x64 = torch.randn(size, generator=gen, dtype=torch.float64).mul_(3).to(dtype).double()
    g64 = torch.randn(size, generator=gen, dtype=torch.float64).to(dtype).double()
    y_true, dx_true = forward_backward(case.aten, x64, g64)
    fwd_bound, bwd_bound = case.bounds(x64, g64, y_true, dx_true, case.dim, dtype)
    x, g = x64.to(device=device, dtype=dtype), g64.to(device=device, dtype=dtype)
    errors = {}
    for side, fn in (("ours", case.ours), ("aten", case.aten)):
        y, dx = forward_backward(fn, x, g)
        errors[side] = (max_error(y, y_true, fwd_bound), max_error(dx, dx_true, bwd_bound))
    (of, ou), (ob, ov) = errors["ours"]
    (af, au), (ab, av) = errors["aten"]
    return Row(case.name, device, dtype, (of, ob), (af, ab), (ou, ov), (au, av))


@dataclass
class LossCase:
    """A loss of the loss table at one reduction: its samples with that reduction."""
    name: str  # "<loss>(reduction=<r>)"
    row: LossInfo  # the samples, their term magnitudes (the bounds) and torch's loss (the truth)
    samples: Tuple[str, ...]
    ours: Callable[..., torch.Tensor]  # (input, target, **kwargs), in the input's dtype
    aten: Callable[..., torch.Tensor]  # the same in torch; on float64 CPU copies, the truth


def loss_cases(rows: List[LossInfo]) -> List[LossCase]:
    """A case per loss of rows and reduction its samples have, in the table's order."""
    cases = []
    for row in rows:
        by_reduction = {}
        for name, build in row.samples.items():
            by_reduction.setdefault(build(torch.float64, "cpu").reduction, []).append(name)
        cases += [LossCase(f"{row.name}(reduction={r})", row, tuple(names), row.op, row.ref)
                  for r, names in by_reduction.items()]
    return cases


LOSS_CASES: List[LossCase] = loss_cases(loss_db)


def loss_forward_backward(fn: Callable, s: LossSample, g: torch.Tensor) -> List[Optional[torch.Tensor]]:
    """fn's loss on s and the gradients of <loss, g> with respect to the input and the target (None where the
    target is not floating), as float64 on the CPU."""
    x = s.input.detach().clone().requires_grad_()
    t = s.target.detach().clone().requires_grad_(s.target.is_floating_point())
    y = fn(x, t, **s.kwargs)
    wrt = (x, t) if t.requires_grad else (x,)
    grads = list(torch.autograd.grad(y, wrt, g)) + [None] * (2 - len(wrt))
    return [v if v is None else v.detach().double().cpu() for v in [y] + grads]


def check_loss_case(case: LossCase, device: str, dtype: torch.dtype, gen: torch.Generator) -> Row:
    """The largest errors of each output over the case's samples in dtype, against torch's loss in float64."""
    n_out = 3
    worst = {side: [[None, None] for _ in range(n_out)] for side in ("ours", "aten")}  # [max error, max use]
    for name in case.samples:
        s = case.row.samples[name](dtype, device)
        s64 = s.to(torch.float64, "cpu")  # class indices stay int64
        y_shape = case.aten(s64.input, s64.target, **s64.kwargs).shape
        g64 = torch.randn(y_shape, generator=gen, dtype=torch.float64).to(dtype).double()
        truth = loss_forward_backward(case.aten, s64, g64)
        # In float64 the truth is itself a float64 evaluation (by another formula), whose rounding the bound adds.
        bounds = rounding_bounds(case.row, s, g64, LOSS_ULPS * (2 if dtype == torch.float64 else 1))
        for side, fn in (("ours", case.ours), ("aten", case.aten)):
            for i, (actual, want, bound) in enumerate(zip(loss_forward_backward(fn, s, g64.to(device, dtype)),
                                                          truth, bounds)):
                if actual is None:
                    continue
                err, use = max_error(actual, want, bound) if actual.numel() else (0.0, 0.0)
                use = 0.0 if err == 0 else use  # the mean of no elements: NaN in both, and a NaN bound
                best = worst[side][i]
                worst[side][i] = [max(err, best[0] or 0.0), max(use, best[1] or 0.0)]
    ours, aten = worst["ours"], worst["aten"]
    return Row(case.name, device, dtype, tuple(e for e, _ in ours), tuple(e for e, _ in aten),
               tuple(u for _, u in ours), tuple(u for _, u in aten), judge_against_aten=dtype != torch.float64)


def check_loss_gradients(case: LossCase, device: str) -> List[str]:
    """gradcheck and gradgradcheck in float64, in the input and a floating target, on the case's first sample with
    elements."""
    name = next(n for n in case.samples if case.row.samples[n](torch.float64, "cpu").input.numel())
    s = case.row.samples[name](torch.float64, device)
    x = s.input.detach().requires_grad_()
    t = s.target.detach().requires_grad_(s.target.is_floating_point())
    inputs = (x, t) if t.requires_grad else (x,)

    def fn(*args):
        return case.ours(args[0], args[1] if len(args) > 1 else t, **s.kwargs)

    grad = torch.autograd.gradcheck(fn, inputs, raise_exception=False)
    gradgrad = torch.autograd.gradgradcheck(fn, inputs, raise_exception=False)
    return [case.name, device, "pass" if grad else "FAIL", "pass" if gradgrad else "FAIL"]


def check_gradients(case: OpCase, device: str, gen: torch.Generator) -> List[str]:
    x = torch.randn(32, generator=gen, dtype=torch.float64).mul_(2)
    x = torch.where(x.abs() < 0.1, x.sign() * 0.1 + x, x).to(device).requires_grad_()  # off the kink at 0
    fn = case.gradcheck or case.ours
    grad = torch.autograd.gradcheck(fn, (x,), raise_exception=False)
    gradgrad = torch.autograd.gradgradcheck(fn, (x,), raise_exception=False)
    return [case.name, device, "pass" if grad else "FAIL", "pass" if gradgrad else "FAIL"]


def hsoftmax_score_ulps(dim: int) -> float:
    """A path score is a dot product over D features summed in op-math lanes (two vectors of accumulators, then
    their lanes): its error is at most about D / 16 + log2(lanes) op-math eps of its terms' magnitudes."""
    return dim / 16 + 8


HSOFTMAX_HEADER = ["op", "device", "dtype", "loss ours", "loss plain", "d input ours", "d input plain",
                   "d weight ours", "d weight plain", "ours/bound", "plain/bound", "result"]


@dataclass
class HsoftmaxCase:
    """Hierarchical softmax on one tree: its sample (dtype, device) -> HsoftmaxSample, torch_ext's loss and the plain
    version (the truth in float64)."""
    name: str
    sample: Callable[[torch.dtype, str], HsoftmaxSample]
    ours: Callable[..., torch.Tensor] = torch.ops.torch_ext.hsoftmax_nll
    plain: Callable[..., torch.Tensor] = hsoftmax_nll_reference


HSOFTMAX_CASES: List[HsoftmaxCase] = [
    HsoftmaxCase(f"hsoftmax_nll({tree})",
                 lambda dtype, device, tree=tree: make_sample(rows=64, dim=48, classes=300, tree=tree, ignored=3,
                                                              dtype=dtype, device=device, scale=4.0))
    for tree in ("huffman", "balanced")]


def hsoftmax_forward_backward(fn: Callable, s: HsoftmaxSample, g: torch.Tensor) -> List[torch.Tensor]:
    """fn's loss on s and the gradients of <loss, g> with respect to the input and the weight, float64 on the CPU."""
    leaves = s.map(lambda t: t.detach().clone().requires_grad_())
    y = fn(*leaves.nll_args())
    dx, dw = torch.autograd.grad(y, (leaves.input, leaves.weight), g)
    return [v.detach().double().cpu() for v in (y, dx, dw)]


def hsoftmax_bounds(s64: HsoftmaxSample, g64: torch.Tensor, loss64: torch.Tensor, dtype: torch.dtype,
                    scale: int) -> List[torch.Tensor]:
    """Per element of the loss, d input and d weight: each path score's error (hsoftmax_score_ulps op-math eps of
    sum_d |x_d w_d| + |b|), LOSS_ULPS eps of the dtype per term and of the result, and through the slope of a sigmoid
    (at most 1/4) into d loss / d z, times the magnitudes the gradients sum; plus the dtype's spacing at 0 (a
    subnormal result's rounding). scale: 2 where the truth has rounding errors of its own (float64)."""
    eps, opmath_eps_ = scale * torch.finfo(dtype).eps, scale * opmath_eps(dtype)
    path, _, on_path = hsoftmax_target_paths(*s64.tree_args, s64.target, s64.ignore_index)
    abs_x, abs_w = s64.input.abs(), s64.weight.abs()
    score_terms = (abs_w[path] * abs_x.unsqueeze(1)).sum(-1) + (s64.bias.abs()[path] if s64.bias is not None else 0)
    score_error = hsoftmax_score_ulps(abs_x.shape[1]) * opmath_eps_ * score_terms * on_path  # [N, L]
    tiny = torch.finfo(dtype).smallest_normal * torch.finfo(dtype).eps
    loss_bound = score_error.sum(-1) + LOSS_ULPS * eps * (loss64.abs() + on_path.sum(-1)) + tiny
    dz_bound = g64.abs().unsqueeze(1) * (score_error / 4 + LOSS_ULPS * eps) * on_path  # [N, L]
    dx_bound = (dz_bound.unsqueeze(-1) * abs_w[path]).sum(1) + tiny
    dw_bound = torch.zeros_like(abs_w).index_add(
        0, path.flatten(), (dz_bound.unsqueeze(-1) * abs_x.unsqueeze(1)).flatten(0, 1)) + tiny
    return [loss_bound, dx_bound, dw_bound]


def check_hsoftmax_case(case: HsoftmaxCase, device: str, dtype: torch.dtype, gen: torch.Generator) -> Row:
    s = case.sample(dtype, device)
    s64 = s.to(torch.float64, "cpu")
    g64 = torch.randn(s.input.shape[0], generator=gen, dtype=torch.float64).to(dtype).double()
    truth = hsoftmax_forward_backward(case.plain, s64, g64)
    # In float64 the truth is itself a float64 evaluation (by another order of sums), whose rounding the bound adds.
    bounds = hsoftmax_bounds(s64, g64, truth[0], dtype, 2 if dtype == torch.float64 else 1)
    errors = {}
    for side, fn in (("ours", case.ours), ("plain", case.plain)):
        got = hsoftmax_forward_backward(fn, s, g64.to(device, dtype))
        errors[side] = [max_error(a, t, b) for a, t, b in zip(got, truth, bounds)]
    return Row(case.name, device, dtype, tuple(e for e, _ in errors["ours"]), tuple(e for e, _ in errors["plain"]),
               tuple(u for _, u in errors["ours"]), tuple(u for _, u in errors["plain"]),
               judge_against_aten=dtype != torch.float64)


def check_hsoftmax_gradients(case: HsoftmaxCase, device: str) -> List[str]:
    """gradcheck and gradgradcheck in float64 in the input, the weight and the bias, on a small sample."""
    s = make_sample(rows=5, dim=4, classes=7, ignored=1, device=device, scale=2.0)
    tree_args, target = s.tree_args, s.target
    leaves = s.map(lambda t: t.detach().requires_grad_())

    def fn(x, w, b):
        return case.ours(x, w, b, *tree_args, target)

    inputs = (leaves.input, leaves.weight, leaves.bias)
    grad = torch.autograd.gradcheck(fn, inputs, raise_exception=False)
    gradgrad = torch.autograd.gradgradcheck(fn, inputs, raise_exception=False)
    return [case.name, device, "pass" if grad else "FAIL", "pass" if gradgrad else "FAIL"]


def print_table(header: List[str], rows: List[List[str]]) -> None:
    widths = [max(len(str(r[i])) for r in [header] + rows) for i in range(len(header))]
    line = "  ".join(h.ljust(w) for h, w in zip(header, widths))
    print(line)
    print("-" * len(line))
    for r in rows:
        print("  ".join(str(c).ljust(w) for c, w in zip(r, widths)))


def devices_for(choice: str) -> List[str]:
    """The devices a --device choice names that this machine has ("all": the CPU, and CUDA when present)."""
    wanted = ["cpu", "cuda"] if choice == "all" else [choice]
    return [d for d in wanted if d != "cuda" or torch.cuda.is_available()]


def run(devices: List[str], size: int, seed: int, cases: Optional[List[OpCase]] = None,
        loss_cases: Optional[List[LossCase]] = None, hsoftmax_cases: Optional[List[HsoftmaxCase]] = None
        ) -> Tuple[List[Row], List[Row], List[Row], List[List[str]]]:
    """The ops', the losses' and hierarchical softmax's accuracy rows, and the gradient checks of all."""
    cases = CASES if cases is None else cases
    loss_cases = LOSS_CASES if loss_cases is None else loss_cases
    hsoftmax_cases = HSOFTMAX_CASES if hsoftmax_cases is None else hsoftmax_cases
    gen = torch.Generator().manual_seed(seed)
    parity = [check_case(c, d, t, size, gen) for c in cases for d in devices for t in DTYPES]
    loss_parity = [check_loss_case(c, d, t, gen) for c in loss_cases for d in devices for t in DTYPES]
    hsoftmax_parity = [check_hsoftmax_case(c, d, t, gen) for c in hsoftmax_cases for d in devices for t in DTYPES]
    grads = [check_gradients(c, d, gen) for c in cases for d in devices]
    grads += [check_loss_gradients(c, d) for c in loss_cases for d in devices]
    grads += [check_hsoftmax_gradients(c, d) for c in hsoftmax_cases[:1] for d in devices]
    return parity, loss_parity, hsoftmax_parity, grads


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--device", default="all", choices=["cpu", "cuda", "all"])
    parser.add_argument("--size", type=int, default=DEFAULT_SIZE, help="elements per accuracy check")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    devices = devices_for(args.device)
    if not devices:
        print("validate: no CUDA device", file=sys.stderr)
        return 1

    info = torch_ext.build_info()
    print(f"torch_ext {info['version']} on torch {info['torch_version']}: CPU kernels {info['cpu_capability']}, "
          f"CUDA {info['cuda']} (archs {info['cuda_archs'] or '-'}); devices: {', '.join(devices)}\n")

    parity, loss_parity, hsoftmax_parity, grads = run(devices, args.size, args.seed)
    print(f"Accuracy against float64 truth ({args.size} elements, seed {args.seed}): max |error| of torch_ext and of "
          f"ATen, forward and backward;\nthe largest fraction of the per-element error bound each uses (a row fails "
          f"over 1, or at {WORSE_FACTOR:g}x ATen's error above {WORSE_MIN_USE:g} of the bound):")
    print_table(HEADER, [r.cells() for r in parity])
    print(f"\nLosses against torch's loss in float64 (the loss table's samples of each reduction): max |error| of the "
          f"loss and its\ngradients; the bound is {LOSS_ULPS} eps of the dtype times the magnitudes of the terms "
          f"(same verdicts as above, but in float64 by\nthe bound alone; '-': no target gradient):")
    print_table(LOSS_HEADER, [r.cells() for r in loss_parity])
    print("\nHierarchical softmax against the plain-PyTorch version on the same tree (gather + logsigmoid) in float64: "
          "max |error| of the loss\nand its input and weight gradients, torch_ext's and the plain version's in the same "
          "dtype (same verdicts):")
    print_table(HSOFTMAX_HEADER, [r.cells() for r in hsoftmax_parity])

    print("\nNumerical gradients (float64):")
    print_table(["op", "device", "gradcheck", "gradgradcheck"], grads)
    substituted = [c.name for c in CASES if c.gradcheck is not None]
    if substituted:
        print(f"({', '.join(substituted)}: of the backward op; a step's surrogate gradient is not its derivative)")

    failed = sum(not r.ok for r in parity + loss_parity + hsoftmax_parity) + sum(r.count("FAIL") for r in grads)
    total = len(parity) + len(loss_parity) + len(hsoftmax_parity) + 2 * len(grads)
    print(f"\n{total - failed} passed, {failed} failed")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
