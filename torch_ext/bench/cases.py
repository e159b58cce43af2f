"""The benchmark's cases: for each op and pass, a pair of callables (torch_ext's and ATen's) over the
same tensors, and the minimum number of bytes the op must move.

A case is described without tensors (``Case``); ``Case.build()`` allocates them and returns a
``Built`` with the two calls, their comparison and the copy that serves as the bandwidth roof.

What is compared with what:
  fwd: the functional call, ``torch_ext.functional`` (or the raw op) against ``torch.nn.functional``,
       both on inputs that do not require grad.
  bwd: the backward op alone, on the same saved tensors: ``torch.ops.torch_ext.<op>_backward``
       against the ATen op autograd calls (``aten.elu_backward``, ``aten.softplus_backward``, ...).
       PReLU's ATen backward returns a full-size weight gradient that autograd then sums to the
       weight's shape (``sum_to_size``); that sum is part of ATen's side, as it is part of its step.
  losses (fwd, fwd+bwd): the functional call on logits [N, C] against torch.nn.functional's, the loss reduced to
       its mean; fwd+bwd is a training step's share, the forward and the backward through autograd to the
       logits' gradient. Their minimum bytes: fwd reads the logits and the target (2 N C), fwd+bwd reads them
       twice and writes the gradient (5 N C).
  rrelu_train fwd: the forward a training step runs, which keeps the slopes for the backward:
       ``torch.ops.torch_ext.rrelu_with_noise`` against ``F.rrelu(training=True)`` (ATen's
       ``rrelu_with_noise``, which writes a noise tensor too). Both write out and noise: 3N bytes.
  hsoftmax (issue #20; shape [N, D, C], the variant names the baseline): torch_ext's hierarchical softmax
       (``torch_ext.nn.HierarchicalSoftmax`` over a Huffman tree of Zipf counts, counts ~ 1 / rank, targets drawn
       from the same counts) against one baseline per variant, on the same N, D, C and targets:
       "cross_entropy" (``F.linear`` + ``F.cross_entropy``, weight [C, D] and bias [C]), "adaptive"
       (``nn.AdaptiveLogSoftmaxWithLoss``, cutoffs [C/100, C/10], div_value 4) and "reference" (the plain-PyTorch
       hierarchical softmax over the same tree and parameters, ``hsoftmax_nll_reference``: gather + logsigmoid).
       fwd+bwd: a training step, the mean loss and ``autograd.grad`` of the input and of each method's parameters.
       log_prob: every class's log-probability, [N, C], at N = 256 rows. The check compares ours against the
       plain reference on the same operands, whatever the baseline (bfloat16 operands: the reference in float32 on
       their values); a baseline that would allocate more than a third of the memory is skipped, and says so.
"""

import dataclasses
import functools
import math
import os
from typing import Callable, List, Optional, Sequence, Tuple

import torch
import torch.nn.functional as F

from torch_ext.testing import op_db, op_db_by_name
from torch_ext.testing.loss_db import loss_db, loss_db_by_name

# One benchmark op per row of the op table, in its order, then one per loss of the loss table.
# (A row that only composes another row's kernels, softmin's and Softmax2d's, is timed as that row.)
LOSS_OPS = tuple(row.name for row in loss_db)
# hsoftmax (issue #20): hierarchical softmax against three baselines, a variant each (_build_hsoftmax).
HSOFTMAX = "hsoftmax"
HSOFTMAX_BASELINES = ("cross_entropy", "adaptive", "reference")
HSOFTMAX_PASSES = ("fwd+bwd", "log_prob")
HSOFTMAX_LOG_PROB_ROWS = 256
ALL_OPS = [row.name for row in op_db if row.kernels_of is None] + list(LOSS_OPS) + [HSOFTMAX]
SOFTMAX_OPS = tuple(name for name in ALL_OPS if name in op_db_by_name and op_db_by_name[name].family == "softmax")


@dataclasses.dataclass
class Built:
    ours: Callable[[], object]
    torch: Callable[[], object]
    # Compares one result of each (raises AssertionError with a message); None: not comparable
    # (random slopes), the check is done inside.
    check: Callable[[], None]
    copy_src: torch.Tensor  # clone() of it moves the op's minimum bytes


@dataclasses.dataclass
class Case:
    op: str
    pass_: str  # "fwd" | "bwd"
    dtype: torch.dtype
    shape: Tuple[int, ...]
    device: str
    layout: str = "contiguous"  # "contiguous" | "channels_last"
    dim: Optional[int] = None
    variant: str = ""  # e.g. "C=64" for PReLU, "last dim" for softmax

    @property
    def numel(self) -> int:
        return math.prod(self.shape)

    @property
    def itemsize(self) -> int:
        return torch.empty((), dtype=self.dtype).element_size()

    @property
    def bytes(self) -> int:
        """The minimum bytes the op must move: each input read once, each output written once."""
        if self.op == HSOFTMAX:
            # input [N, D] and the inner nodes' weight [C - 1, D] and bias [C - 1]: read, and their gradients
            # written (fwd+bwd), or read and the [N, C] log-probabilities written (log_prob).
            n, d, c = self.shape
            operands = n * d + (c - 1) * (d + 1)
            return (2 * operands if self.pass_ == "fwd+bwd" else operands + n * c) * self.itemsize
        if self.op in LOSS_OPS:
            tensors = 2 if self.pass_ == "fwd" else 5
        elif self.pass_ == "fwd":
            tensors = 3 if self.op == "rrelu_train" else 2  # x, out (and rrelu's noise)
        else:
            tensors = 3  # grad_output, the saved tensor, grad_input
        return tensors * self.numel * self.itemsize

    @property
    def label(self) -> str:
        return self.op + (f"[{self.variant}]" if self.variant else "")

    def build(self) -> Built:
        if self.op == HSOFTMAX:
            return _build_hsoftmax(self)
        if self.op in LOSS_OPS:
            return _build_loss(self)
        row = op_db_by_name[self.op]
        if isinstance(row.bench_backward, tuple):
            return _build_elementwise(self)
        return _BUILDERS[row.family](self)


# ---------------------------------------------------------------------------------------------
# Inputs


def _input(case: Case, seed: int = 0, scale: float = 1.0) -> torch.Tensor:
    # NB: drawn on the case's device (a GPU draws 64M values in microseconds; the host takes seconds).
    g = torch.Generator(device=case.device).manual_seed(seed)
    x = torch.randn(case.shape, generator=g, dtype=torch.float32, device=case.device) * scale
    x = x.to(dtype=case.dtype)
    if case.layout == "channels_last":
        x = x.contiguous(memory_format=torch.channels_last)
    return x


def _copy_src(case: Case) -> torch.Tensor:
    # clone() reads and writes it: 2 * numel * itemsize bytes, the op's minimum.
    n = max(1, case.bytes // (2 * case.itemsize))
    return torch.randn(n, device=case.device).to(case.dtype)


def _tol(dtype: torch.dtype) -> dict:
    # Loose: this is a guard against timing two different computations, not a parity test.
    return dict(rtol=1e-4, atol=1e-5) if dtype in (torch.float32, torch.float64) else dict(rtol=2e-2, atol=2e-2)


def _close(a: torch.Tensor, b: torch.Tensor, dtype: torch.dtype, what: str = "", **kw) -> None:
    opts = _tol(dtype)
    opts.update(kw)
    try:
        torch.testing.assert_close(a.reshape(b.shape), b, equal_nan=True, check_stride=False, **opts)
    except AssertionError as e:
        # "Mismatched elements: ...", "Greatest absolute difference: ...", "... relative ...".
        detail = "; ".join(line.strip() for line in str(e).splitlines()[1:4] if line.strip())
        raise AssertionError(f"{what}: {detail}") from None


def _compare(ours: Callable, theirs: Callable, dtype: torch.dtype, **tol) -> Callable[[], None]:
    def check():
        a, b = ours(), theirs()
        a = a if isinstance(a, (tuple, list)) else (a,)
        b = b if isinstance(b, (tuple, list)) else (b,)
        for i, (u, v) in enumerate(zip(a, b)):
            _close(u, v, dtype, f"output {i}", **tol)

    return check


# ---------------------------------------------------------------------------------------------
# Builders, one per op


def _build_elementwise(case: Case) -> Built:
    """A row with bench_backward: its op against its torch reference, and its raw backward op against ATen's."""
    x = _input(case, scale=op_db_by_name[case.op].bench_input_scale)
    row = op_db_by_name[case.op]
    args = row.bench_args
    if case.pass_ == "fwd":
        ours = lambda: row.op(x, *args)  # noqa: E731
        theirs = lambda: row.ref(x, *args)  # noqa: E731
    else:
        g = _input(case, seed=1)
        y = row.ref(x, *args)
        ours_backward, aten_backward = row.bench_backward
        ours = lambda: ours_backward(g, x, y, *args)  # noqa: E731
        theirs = lambda: aten_backward(g, x, y, *args)  # noqa: E731
    return Built(ours, theirs, _compare(ours, theirs, case.dtype), _copy_src(case))


def _prelu_channels(case: Case) -> int:
    return int(case.variant.split("=")[1])


def _build_prelu(case: Case) -> Built:
    ext = torch.ops.torch_ext
    x = _input(case)
    c = _prelu_channels(case)
    w = (torch.rand(c, generator=torch.Generator().manual_seed(2)) * 0.5).to(device=case.device, dtype=case.dtype)
    if case.pass_ == "fwd":
        ours = lambda: ext.prelu(x, w)  # noqa: E731
        theirs = lambda: F.prelu(x, w)  # noqa: E731
        return Built(ours, theirs, _compare(ours, theirs, case.dtype), _copy_src(case))
    g = _input(case, seed=1)
    # ATen's backward kernel sees the weight as F.prelu hands it over: broadcastable over self
    # ([1, C, 1, 1]); it returns a full-size weight gradient that autograd sums to that shape.
    w_b = w.reshape([1, c] + [1] * (x.dim() - 2))

    def theirs():
        gx, gw_full = torch.ops.aten._prelu_kernel_backward(g, x, w_b)
        return gx, gw_full.sum_to_size(w_b.shape)

    ours = lambda: ext.prelu_backward(g, x, w)  # noqa: E731

    def check():
        (gx, gw), (tgx, tgw) = ours(), theirs()
        _close(gx, tgx, case.dtype, "grad_self")
        # A sum over numel / C terms: compare it against its own scale.
        ref = tgw.double().reshape(-1)
        bound = (g.double().abs() * x.double().abs()).sum() / c
        tol = (1e-5 if case.dtype == torch.float32 else 2e-2) * float(bound) + 1e-6
        err = float((gw.double().reshape(-1) - ref).abs().max())
        assert err <= tol, f"grad_weight differs by {err:.3g} (allowed {tol:.3g})"

    return Built(ours, theirs, check, _copy_src(case))


def _build_rrelu(case: Case) -> Built:
    ext = torch.ops.torch_ext
    import torch_ext.functional as TF

    x = _input(case)
    training = case.op == "rrelu_train"
    lower, upper = op_db_by_name[case.op].bench_args
    slope = (lower + upper) / 2
    if case.pass_ == "fwd":
        if not training:
            ours = lambda: TF.rrelu(x, lower, upper, False)  # noqa: E731
            theirs = lambda: F.rrelu(x, lower, upper, False)  # noqa: E731
            return Built(ours, theirs, _compare(ours, theirs, case.dtype), _copy_src(case))
        ours = lambda: ext.rrelu_with_noise(x, lower, upper, True)  # noqa: E731
        theirs = lambda: F.rrelu(x, lower, upper, True)  # noqa: E731

        def check():
            # Random slopes: the positive side is x, the negative side x * r with r in [lower, upper].
            out, noise = ours()
            ref = theirs()
            pos = x > 0
            assert torch.equal(out[pos], x[pos]) and torch.equal(ref[pos], x[pos]), "positive side"
            r = noise[~pos].float()
            assert bool(((r >= lower - 1e-2) & (r <= upper + 1e-2)).all()), "slopes out of range"

        return Built(ours, theirs, check, _copy_src(case))
    g = _input(case, seed=1)
    if training:
        _, noise = ext.rrelu_with_noise(x, lower, upper, True)
        ours = lambda: ext.rrelu_backward(g, None, noise, lower, upper, True, False)  # noqa: E731
        theirs = lambda: torch.ops.aten.rrelu_with_noise_backward(  # noqa: E731
            g, x, noise, lower, upper, True, False)
    else:
        ours = lambda: ext.rrelu_backward(g, x, None, lower, upper, False, False)  # noqa: E731
        theirs = lambda: torch.ops.aten.leaky_relu_backward(g, x, slope, False)  # noqa: E731
    return Built(ours, theirs, _compare(ours, theirs, case.dtype), _copy_src(case))


def _build_softmax(case: Case) -> Built:
    ext = torch.ops.torch_ext
    log = case.op == "log_softmax"
    x = _input(case, scale=3.0)
    dim = case.dim
    if case.pass_ == "fwd":
        if log:
            ours = lambda: ext.log_softmax(x, dim, None)  # noqa: E731
            theirs = lambda: F.log_softmax(x, dim)  # noqa: E731
        else:
            ours = lambda: ext.softmax(x, dim, None)  # noqa: E731
            theirs = lambda: F.softmax(x, dim)  # noqa: E731
        return Built(ours, theirs, _compare(ours, theirs, case.dtype), _copy_src(case))
    y = F.log_softmax(x, dim) if log else F.softmax(x, dim)
    g = _input(case, seed=1)
    # NB: the backward subtracts a sum over the dim (sum(g), sum(g * y)) whose float32 rounding depends on
    # the summation order: ~sqrt(n) eps |sum|, up to ~1e-4 where exp(y) ~ 1 multiplies it (n = 1024).
    tol = dict(atol=1e-3) if case.dtype in (torch.float32, torch.float64) else {}
    if log:
        ours = lambda: ext.log_softmax_backward(g, y, dim, case.dtype)  # noqa: E731
        theirs = lambda: torch.ops.aten._log_softmax_backward_data(g, y, dim, case.dtype)  # noqa: E731
    else:
        ours = lambda: ext.softmax_backward(g, y, dim, case.dtype)  # noqa: E731
        theirs = lambda: torch.ops.aten._softmax_backward_data(g, y, dim, case.dtype)  # noqa: E731
    return Built(ours, theirs, _compare(ours, theirs, case.dtype, **tol), _copy_src(case))


def _build_loss(case: Case) -> Built:
    row = loss_db_by_name[case.op]
    x = _input(case, scale=4.0)
    g = torch.Generator(device=case.device).manual_seed(1)
    target, kwargs = row.bench_variants[case.variant](case.shape, case.dtype, case.device, g)
    if case.pass_ == "fwd":
        ours = lambda: row.op(x, target, **kwargs)  # noqa: E731
        theirs = lambda: row.ref(x, target, **kwargs)  # noqa: E731
        return Built(ours, theirs, _compare(ours, theirs, case.dtype), _copy_src(case))
    leaf = x.detach().requires_grad_()

    def step(fn):
        # NB: the gradient is returned, not kept in leaf.grad: a call then frees nothing that it did not allocate, so
        # its peak memory (timing.peak_extra_bytes) is the same on the CPU (whose profiler misses such frees) and CUDA.
        return torch.autograd.grad(fn(leaf, target, **kwargs), leaf)[0]

    # NB: the mean's gradient is compared relative to its largest element's magnitude (the row's bench_grad_scale).
    atol = _tol(case.dtype)["atol"] * row.bench_grad_scale(case.shape)
    return Built(lambda: step(row.op), lambda: step(row.ref),
                 _compare(lambda: step(row.op), lambda: step(row.ref), case.dtype, atol=atol), _copy_src(case))


class TooLarge(RuntimeError):
    """A baseline the benchmark does not run at this size: it would not fit in memory (run() reports it skipped)."""


@functools.lru_cache(maxsize=4)
def _zipf_tree(classes: int):
    """Zipf counts (counts ~ 1 / rank: class 0 the most frequent, as AdaptiveLogSoftmaxWithLoss expects) and their
    Huffman tree; cached, as building it takes seconds at C = 1M."""
    from torch_ext import hsoftmax_tree

    counts = 1.0 / torch.arange(1, classes + 1, dtype=torch.float64)
    return counts, hsoftmax_tree.huffman(counts)


def _memory_bytes(device: str) -> int:
    if device == "cuda":
        return torch.cuda.get_device_properties(torch.cuda.current_device()).total_memory
    try:
        return os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    except (ValueError, OSError, AttributeError):
        return 16 << 30


def _hsoftmax_skip(case: Case, depth: int) -> Optional[str]:
    """Why the baseline of this case is not run, or None. A baseline is not run where its intermediates, estimated,
    would exceed a third of the memory: the full softmax's N x C logits (a training step keeps about four such
    tensors: logits, log-probabilities, their gradients; log_prob two), the plain reference's log_prob its
    [N, C, L] path logits (about four: gathered, signed, logsigmoid, masked)."""
    n, _, c = case.shape
    limit = _memory_bytes(case.device) // 3
    if case.variant == "cross_entropy":
        count, what = (4 if case.pass_ == "fwd+bwd" else 2), f"N x C = {n} x {c} logits"
        one = n * c * case.itemsize
    elif case.variant == "reference" and case.pass_ == "log_prob":
        count, what = 4, f"N x C x L = {n} x {c} x {depth} path logits"
        one = n * c * depth * case.itemsize
    else:
        return None
    if count * one <= limit:
        return None
    return (f"{case.variant} {case.pass_} not run: ~{count} tensors of {what} ({one / 1e9:.1f} GB each) exceed a third "
            f"of the memory ({limit / 1e9:.1f} GB)")


def _build_hsoftmax(case: Case) -> Built:
    """torch_ext.nn.HierarchicalSoftmax against the case's baseline (the variant); see the module's docstring."""
    import torch_ext
    from torch_ext.testing.reference import hsoftmax_log_prob_reference, hsoftmax_nll_reference

    torch.ops.torch_ext.hsoftmax_nll  # noqa: B018  (AttributeError, reported as skipped, where it is not built)
    n, d, c = case.shape
    dev, dt = case.device, case.dtype
    counts, tree = _zipf_tree(c)
    why = _hsoftmax_skip(case, tree.depth)
    if why is not None:
        raise TooLarge(why)
    g = torch.Generator().manual_seed(20)
    target = torch.multinomial(counts, n, replacement=True, generator=g).to(dev)
    x = torch.randn(n, d, generator=g).to(device=dev, dtype=dt)
    # Our parameters: scores w . x + b of order 1.
    ours_m = torch_ext.nn.HierarchicalSoftmax(d, c, tree=tree, device=dev, dtype=dt)
    with torch.no_grad():
        ours_m.weight.copy_(torch.randn(c - 1, d, generator=g) / d ** 0.5)
        ours_m.bias.copy_(torch.randn(c - 1, generator=g) * 0.5)
    ours_params = (ours_m.weight, ours_m.bias)
    tree_args = (ours_m.path_nodes, ours_m.path_codes, ours_m.path_len)
    train = case.pass_ == "fwd+bwd"
    leaf = x.detach().requires_grad_(train)

    def step(loss_fn, params):
        # NB: the gradients are returned, not kept in .grad (as _build_loss does: the CPU peak memory then counts
        # only what a call allocates).
        loss = loss_fn()
        return (loss.detach(), *torch.autograd.grad(loss, (leaf, *params)))

    if case.variant == "cross_entropy":
        weight = (torch.randn(c, d, generator=g) / d ** 0.5).to(device=dev, dtype=dt).requires_grad_(train)
        bias = torch.zeros(c, device=dev, dtype=dt, requires_grad=train)
        theirs_params = (weight, bias)
        theirs_loss = lambda: F.cross_entropy(F.linear(leaf, weight, bias), target)  # noqa: E731
        theirs_log_prob = lambda: F.log_softmax(F.linear(leaf, weight, bias), -1)  # noqa: E731
    elif case.variant == "adaptive":
        adaptive = torch.nn.AdaptiveLogSoftmaxWithLoss(d, c, cutoffs=[max(1, c // 100), max(2, c // 10)],
                                                       div_value=4.0, device=dev, dtype=dt)
        adaptive.requires_grad_(train)
        theirs_params = tuple(adaptive.parameters())
        theirs_loss = lambda: adaptive(leaf, target).loss  # noqa: E731
        theirs_log_prob = lambda: adaptive.log_prob(leaf)  # noqa: E731
    elif case.variant == "reference":
        theirs_params = ours_params
        theirs_loss = lambda: hsoftmax_nll_reference(leaf, *ours_params, *tree_args, target).mean()  # noqa: E731
        theirs_log_prob = lambda: hsoftmax_log_prob_reference(leaf, *ours_params, *tree_args)  # noqa: E731
    else:
        raise ValueError(f"unknown hsoftmax baseline {case.variant!r}")

    # The reference on the same values, in float32 for bfloat16 operands (its bfloat16 sums would be the error).
    wide = torch.float32 if dt in (torch.bfloat16, torch.float16) else dt
    ref_x, ref_w, ref_b = (t.detach().to(wide).requires_grad_(train) for t in (x, *ours_params))
    tol = _tol(dt)

    if train:
        ours_m.requires_grad_(True)
        ours = lambda: step(lambda: ours_m(leaf, target).loss, ours_params)  # noqa: E731
        theirs = lambda: step(theirs_loss, theirs_params)  # noqa: E731

        def check():
            got = ours()
            loss = hsoftmax_nll_reference(ref_x, ref_w, ref_b, *tree_args, target).mean()
            want = (loss.detach(), *torch.autograd.grad(loss, (ref_x, ref_w, ref_b)))
            for what, u, v in zip(("loss", "grad input", "grad weight", "grad bias"), got, want):
                # Each compared relative to its largest element (a mean's gradients are of order 1 / N).
                _close(u.float(), v.float(), dt, f"{what} vs the reference",
                       atol=tol["atol"] * max(1e-30, float(v.abs().max())))
            base = theirs()
            assert all(bool(torch.isfinite(t).all()) for t in base), f"{case.variant}: a non-finite loss or gradient"
    else:
        ours_m.requires_grad_(False)

        def ours():
            with torch.no_grad():
                return ours_m.log_prob(leaf)

        def theirs():
            with torch.no_grad():
                return theirs_log_prob()

        def check():
            got = ours()
            # The reference's [rows, C, L] path logits on a few rows (all of them where they take under 256 MB).
            rows = max(1, min(n, (64 << 20) // (c * tree.depth)))
            with torch.no_grad():
                want = hsoftmax_log_prob_reference(ref_x[:rows], ref_w, ref_b, *tree_args)
            _close(got[:rows].float(), want.float(), dt, "log_prob vs the reference", atol=tol["atol"] * 10)
            # Both sides' probabilities sum to 1 over the classes.
            for who, lp in (("ours", got), (case.variant, theirs())):
                assert tuple(lp.shape) == (n, c), f"{who}: log_prob of shape {tuple(lp.shape)}"
                total = torch.logsumexp(lp.float(), -1)
                err = float(total.abs().max())
                assert err <= (1e-3 if wide == dt else 5e-2), f"{who}: probabilities sum to exp({err:.3g})"

    # The copy moves the case's minimum bytes (the parameters, the input, their gradients or the log-probs).
    return Built(ours, theirs, check, _copy_src(case))


# The builders of the families whose rows opt out of bench_backward (the elementwise rows share _build_elementwise).
_BUILDERS = {
    "prelu": _build_prelu,
    "rrelu": _build_rrelu,
    "softmax": _build_softmax,
}


# ---------------------------------------------------------------------------------------------
# The grid


def nchw(numel: int, channels: int = 64) -> Tuple[int, ...]:
    """An activation-like NCHW shape of numel elements: 64 channels, square planes up to 64 x 64."""
    hw = numel // channels
    side = min(64, 1 << (int(math.log2(hw)) // 2))
    return (max(1, numel // (channels * side * side)), channels, side, side)


def sizes(device: str, dtype: torch.dtype, quick: bool) -> List[int]:
    """Element counts from latency-bound to bandwidth-bound. The largest moves at least 64 MB (CPU)
    or 256 MB (GPU) in a forward pass (2 * numel * itemsize bytes), whatever the dtype."""
    itemsize = torch.empty((), dtype=dtype).element_size()
    floor = (64 << 20) if device == "cpu" else (256 << 20)
    largest = 1 << math.ceil(math.log2(floor / (2 * itemsize)))
    if device == "cpu":
        small = [1 << 12, 1 << 18] if quick else [1 << 12, 1 << 15, 1 << 18, 1 << 21]
    else:
        small = [1 << 16, 1 << 20] if quick else [1 << 12, 1 << 16, 1 << 20, 1 << 23]
    return small + [largest]


def _softmax_shapes(device: str, numel: int) -> List[Tuple[Tuple[int, ...], int, str]]:
    """(shape, dim, variant) of the softmax cases at one size: rows of 1024 over the last dim, and
    dim 1 of [B, 256, L] (a non-last dim with a long inner stride)."""
    row = min(1024, numel)
    inner = max(1, min(1024, numel // 256))
    return [
        ((numel // row, row), 1, "last dim"),
        ((max(1, numel // (256 * inner)), 256, inner), 1, "dim=1"),
    ]


def _softmax_gpu_grid() -> List[Tuple[Tuple[int, ...], int, str]]:
    """The GPU grid: M = 4096 rows x N = 256 ... 16384, few long rows (up to 262144), a non-last dim."""
    grid = [((4096, n), 1, "M=4096") for n in (256, 512, 1024, 2048, 4096, 8192, 16384)]
    grid += [((32, 65536), 1, "long rows"), ((8, 131072), 1, "long rows"), ((4, 262144), 1, "long rows")]
    grid += [((32, 1024, 1024), 1, "dim=1")]
    return grid


def loss_shapes(device: str, quick: bool) -> List[Tuple[int, int]]:
    """[N, C] of the loss cases: N = 4096 rows (and 8192 on a GPU), C from 1k classes up to what the memory holds
    with ATen's intermediates (32k on the CPU, 256k on a GPU)."""
    if device == "cpu":
        return [(4096, 1024), (4096, 32768)] if quick else [(4096, 1024), (4096, 8192), (4096, 32768)]
    classes = (1024, 32768, 262144) if quick else (1024, 8192, 32768, 131072, 262144)
    return [(n, c) for n in (4096, 8192) for c in classes]


def hsoftmax_shapes(quick: bool) -> List[Tuple[int, int, int]]:
    """[N, D, C] of the hsoftmax cases (issue #20): N = 4096 rows, C = 10k, 100k and 1M classes at D = 256, and
    D = 128 and 512 at C = 100k; --quick: C = 10k and 100k at D = 256 (the goals' C = 100k, D = 256 among them).
    Their log_prob pass runs the same D and C at HSOFTMAX_LOG_PROB_ROWS rows (its output is N x C)."""
    if quick:
        return [(4096, 256, 10_000), (4096, 256, 100_000)]
    return [(4096, 256, 10_000), (4096, 128, 100_000), (4096, 256, 100_000), (4096, 512, 100_000),
            (4096, 256, 1_000_000)]


def hsoftmax_cases(shapes: Sequence[Tuple[int, int, int]], dtype: torch.dtype, device: str) -> List[Case]:
    """Each shape's training step and log_prob, against each baseline (the variant)."""
    out = []
    for n, d, c in shapes:
        for pass_ in HSOFTMAX_PASSES:
            rows = n if pass_ == "fwd+bwd" else min(n, HSOFTMAX_LOG_PROB_ROWS)
            for baseline in HSOFTMAX_BASELINES:
                out.append(Case(HSOFTMAX, pass_, dtype, (rows, d, c), device, "contiguous", None, baseline))
    return out


def make_cases(device: str, ops: Sequence[str], dtypes: Sequence[torch.dtype], quick: bool) -> List[Case]:
    cases: List[Case] = []
    loss_ops = [op for op in ops if op in LOSS_OPS]
    hsoftmax = HSOFTMAX in ops
    ops = [op for op in ops if op not in LOSS_OPS and op != HSOFTMAX]
    for dtype in dtypes:
        for numel in sizes(device, dtype, quick):
            for op in ops:
                for pass_ in ("fwd", "bwd"):
                    if op in SOFTMAX_OPS:
                        continue  # below
                    if op == "prelu":
                        for variant, layout in (("C=1", "contiguous"), ("C=64", "contiguous"),
                                                ("C=64", "channels_last")):
                            cases.append(Case(op, pass_, dtype, nchw(numel), device, layout, None, variant))
                    else:
                        cases.append(Case(op, pass_, dtype, nchw(numel), device))
            for op in ops:
                if op not in SOFTMAX_OPS:
                    continue
                shapes = _softmax_shapes(device, numel)
                if device != "cpu":
                    shapes = shapes[1:] if numel >= (1 << 20) else shapes  # the grid has the last dim
                for pass_ in ("fwd", "bwd"):
                    for shape, dim, variant in shapes:
                        cases.append(Case(op, pass_, dtype, shape, device, "contiguous", dim, variant))
        if device != "cpu":
            for op in ops:
                if op not in SOFTMAX_OPS:
                    continue
                grid = _softmax_gpu_grid()
                if quick:
                    grid = [g for g in grid if g[0][-1] in (1024, 8192, 262144) or g[2] == "dim=1"]
                for pass_ in ("fwd", "bwd"):
                    for shape, dim, variant in grid:
                        cases.append(Case(op, pass_, dtype, shape, device, "contiguous", dim, variant))
        for op in loss_ops:
            for shape in loss_shapes(device, quick):
                for pass_ in ("fwd", "fwd+bwd"):
                    for variant in loss_db_by_name[op].bench_variants:
                        cases.append(Case(op, pass_, dtype, shape, device, "contiguous", None, variant))
        if hsoftmax:
            cases += hsoftmax_cases(hsoftmax_shapes(quick), dtype, device)
    return cases
