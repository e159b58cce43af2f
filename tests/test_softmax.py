"""softmax and log_softmax (and their backward ops) against PyTorch and float64 references.

Every test runs both ops (``OPS``). torch.nn.functional is the reference for parity in the same dtype;
a float64 computation rounded once to the dtype is the reference for accuracy. The backward ops are
compared with ATen's ``_softmax_backward_data`` / ``_log_softmax_backward_data``.
"""

import copy
import inspect
import math
import pickle
import re
import textwrap
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import pytest
import torch
import torch._dynamo.testing
import torch.nn as nn
import torch.nn.functional as F
from hypothesis import given, strategies as st

import torch_ext
import torch_ext.functional as TF
import torch_ext.nn as TN
from torch_ext.validate import softmax_forward_bound
from common_utils import (
    grad_output,
    CUDA_AVAILABLE,
    DEVICES,
    DTYPE_NAMES,
    FLOAT_DTYPES,
    REDUCED_DTYPES,
    assert_bitwise_equal,
    assert_close,
    make_input,
    normal_values,
    requires_cuda,
    run_with_cpu_isa,
    tol,
    draw_strided_layout,
)
from stack_utils import GraphRecorder

ops = torch.ops.torch_ext


@dataclass(frozen=True)
class SoftmaxOp:
    name: str  # "softmax" or "log_softmax"
    ext_fn: Callable  # torch_ext.functional
    torch_fn: Callable  # torch.nn.functional
    ext_op: object  # torch.ops.torch_ext.<name>
    ext_backward: object  # torch.ops.torch_ext.<name>_backward
    aten_backward: object  # torch.ops.aten._<name>_backward_data
    ext_module: type
    torch_module: type

    @property
    def log(self) -> bool:
        return self.name == "log_softmax"

    def __repr__(self):
        return self.name


SOFTMAX = SoftmaxOp("softmax", TF.softmax, F.softmax, ops.softmax, ops.softmax_backward,
                    torch.ops.aten._softmax_backward_data, TN.Softmax, nn.Softmax)
LOG_SOFTMAX = SoftmaxOp("log_softmax", TF.log_softmax, F.log_softmax, ops.log_softmax, ops.log_softmax_backward,
                        torch.ops.aten._log_softmax_backward_data, TN.LogSoftmax, nn.LogSoftmax)
OPS = [pytest.param(SOFTMAX, id="softmax"), pytest.param(LOG_SOFTMAX, id="log_softmax")]


# --------------------------------------------------------------------------------------------
# References and tolerances
# --------------------------------------------------------------------------------------------


def reference(op: SoftmaxOp, x: torch.Tensor, dim: int, dtype=None) -> torch.Tensor:
    """The op in float64 from x's values (after the `dtype` cast, as the op casts first), not rounded."""
    out_dtype = dtype or x.dtype
    xd = x.detach().to(out_dtype).to(torch.float64)
    return torch.log_softmax(xd, dim) if op.log else torch.softmax(xd, dim)


def backward_reference(op: SoftmaxOp, g: torch.Tensor, y: torch.Tensor, dim: int, input_dtype) -> torch.Tensor:
    """ATen's backward formulas in float64 from the given g and y, rounded once to input_dtype."""
    gd, yd = g.detach().double(), y.detach().double()
    if op.log:
        r = gd - torch.exp(yd) * gd.sum(dim, keepdim=True)
    else:
        r = yd * (gd - (gd * yd).sum(dim, keepdim=True))
    return r.to(input_dtype)


def error_bound(op: SoftmaxOp, ref: torch.Tensor, dtype: torch.dtype, n: int) -> torch.Tensor:
    """The error allowed per element of an output of `dtype` against the exact (float64) `ref` over slices of n
    elements: the validation report's bound (its docstring derives it)."""
    return softmax_forward_bound(op.log, ref, dtype, n)


def assert_within(actual: torch.Tensor, expected: torch.Tensor, allowed: torch.Tensor, msg: str = ""):
    """|actual - expected| <= allowed elementwise; NaN meets NaN and an infinity the same infinity."""
    a, e = actual.detach().double().cpu(), expected.detach().double().cpu()
    allowed = allowed.detach().double().cpu()
    assert a.shape == e.shape, (a.shape, e.shape)
    special = ~torch.isfinite(a) | ~torch.isfinite(e)
    same_special = (torch.isnan(a) & torch.isnan(e)) | (a == e)
    bad = (special & ~same_special) | (~special & ((a - e).abs() > allowed))
    if bad.any():
        i = tuple(bad.nonzero()[0].tolist())
        raise AssertionError(f"{msg}{': ' if msg else ''}{int(bad.sum())} of {a.numel()} elements differ, first at {i}: "
                             f"{a[i].item()!r} vs {e[i].item()!r} (allowed {allowed[i].item():.3g})")


def assert_accurate(op: SoftmaxOp, out: torch.Tensor, ref: torch.Tensor, dim: int, msg: str = "vs float64"):
    """out against the exact float64 ref, within error_bound. Values past the dtype's range compare with their
    rounding (an infinity)."""
    fi = torch.finfo(out.dtype)
    ref = torch.where(ref.abs() > fi.max, ref.to(out.dtype).double(), ref)
    assert_within(out, ref, error_bound(op, ref, out.dtype, _slice_len(out, dim)), msg)


def _slice_len(t: torch.Tensor, dim: int) -> int:
    return t.shape[dim] if t.dim() else 1


def assert_parity(op: SoftmaxOp, out: torch.Tensor, expected: torch.Tensor, dim: int, msg: str = "vs torch"):
    """out against torch's output in the same dtype: assert_close's tolerance for the dtype, plus both sides' error
    bounds. ATen's half and bfloat16 log_softmax rounds log(s) to the dtype: an ulp of log(s) <= log(n) more."""
    e = expected.detach().double()
    t = tol(out.dtype)
    n = _slice_len(out, dim)
    allowed = t["atol"] + t["rtol"] * e.abs() + 2 * error_bound(op, e, out.dtype, n)
    if op.log and out.dtype in REDUCED_DTYPES:
        allowed = allowed + torch.finfo(out.dtype).eps * (e.abs() + math.log(max(n, 2)))
    assert_within(out, expected, allowed, msg)


def coarser(a: torch.dtype, b: torch.dtype) -> torch.dtype:
    """The less precise of two floating dtypes (its tolerance applies to a result that went through both)."""
    return a if torch.finfo(a).eps >= torch.finfo(b).eps else b


def _llc_bytes() -> int:
    """The largest CPU cache (what the kernels read to decide on streaming stores); 32 MiB if unknown."""
    sizes = []
    for f in Path("/sys/devices/system/cpu/cpu0/cache").glob("index*/size"):
        text = f.read_text().strip()
        mult = {"K": 1 << 10, "M": 1 << 20, "G": 1 << 30}.get(text[-1], 1)
        sizes.append(int(text.rstrip("KMG")) * mult)
    return max(sizes, default=32 << 20)


def _values(seed=0, std=3.0):
    return lambda shape: normal_values(shape, seed=seed, std=std)


def _dims(ndim: int):
    n = max(ndim, 1)
    return list(range(-n, n))


def backward_atol(op: SoftmaxOp, g: torch.Tensor, y: torch.Tensor, dim: int, y_differs: bool = False) -> torch.Tensor:
    """Per-element absolute error allowed in a backward result computed in g's op-math type: a few ulps of the
    terms it adds, |g_i| and p_i * sum_j |g_j| (p = y, or exp(y) for log_softmax), whatever the sum order. Where
    g_i and p_i * sum(g) cancel, this is what a float sum of a long row may differ by. y_differs: the two sides
    ran on outputs an ulp of y's dtype apart (torch's and ours), which moves every term by that ulp."""
    gd = g.detach().double().abs()
    p = y.detach().double()
    p = (p.exp() if op.log else p).nan_to_num(0.0, 0.0, 0.0)
    scale = gd + p * gd.sum(dim, keepdim=True)
    eps = torch.finfo(torch.float64 if g.dtype == torch.float64 else torch.float32).eps
    if y_differs:
        eps = max(eps, torch.finfo(y.dtype).eps)
        if op.log:  # an ulp of y is eps * |y| absolute: exp(y) moves by exp(y) * eps * |y|
            scale = gd + p * (y.detach().double().abs().nan_to_num(0.0, 0.0, 0.0) + 1) * gd.sum(dim, keepdim=True)
    return 4 * eps * scale


def aten_cuda_backward_atol(op: SoftmaxOp, g, y, dim):
    """What ATen's CUDA backward may be off by in half/bfloat16. On an H200 it differed from the exactly rounded
    result by up to ~8 ulps of a small softmax gradient where g_i and sum(g * y) cancel (ours matched the float64
    reference there): as if the terms g_i * y_i and y_i * sum were rounded to the dtype. Allowed: two such
    roundings of those terms."""
    eps = torch.finfo(y.dtype).eps
    gd = g.detach().double()
    p = y.detach().double().nan_to_num(0.0, 0.0, 0.0)
    if op.log:
        scale = gd.abs() + p.exp() * gd.abs().sum(dim, keepdim=True)
    else:
        scale = (gd * p).abs() + p.abs() * (gd * p).abs().sum(dim, keepdim=True)
    return 2 * eps * scale


def assert_backward_close(op: SoftmaxOp, actual, expected, g, y, dim, msg="", y_differs=False, aten_cuda=False):
    """|actual - expected| <= atol + backward_atol + rtol * |expected| elementwise (NaN meets NaN), with the
    tolerance of the coarser of the result's and g's dtypes. aten_cuda: expected is ATen's CUDA backward in a
    reduced dtype, which gets aten_cuda_backward_atol on top."""
    t = tol(coarser(actual.dtype, g.dtype))
    a, e = actual.detach().double().cpu(), expected.detach().double().cpu()
    allowed = t["atol"] + backward_atol(op, g, y, dim, y_differs).cpu() + t["rtol"] * e.abs()
    if aten_cuda:
        allowed = allowed + aten_cuda_backward_atol(op, g, y, dim).cpu()
    assert a.shape == e.shape and actual.dtype == expected.dtype, (a.shape, e.shape, actual.dtype, expected.dtype)
    nan = torch.isnan(a) | torch.isnan(e)
    bad = (nan & (torch.isnan(a) != torch.isnan(e))) | (~nan & ((a - e).abs() > allowed))
    if bad.any():
        i = tuple(bad.nonzero()[0].tolist())
        raise AssertionError(f"{msg}{': ' if msg else ''}{int(bad.sum())} of {a.numel()} elements differ, first at {i}: "
                             f"{a[i].item()!r} vs {e[i].item()!r} (allowed {allowed[i].item():.3g})")


def check_forward_backward(op: SoftmaxOp, x: torch.Tensor, dim: int, dtype=None, seed: int = 1):
    """Forward through torch_ext.functional against torch and float64; backward through autograd against the
    backward op, float64 (from our output) and ATen's backward (from ATen's output)."""
    leaf = x.detach().requires_grad_(x.is_floating_point())
    out = op.ext_fn(leaf, dim, dtype=dtype)
    expected = op.torch_fn(x.detach(), dim, dtype=dtype)
    assert out.dtype == expected.dtype and out.shape == x.shape and out.device == x.device
    assert out.is_contiguous(), out.stride()
    assert_parity(op, out, expected, dim)
    assert_accurate(op, out, reference(op, x, dim, dtype), dim)
    if not leaf.requires_grad:
        return out
    g = grad_output(out, seed=seed)
    (gx,) = torch.autograd.grad(out, leaf, g)
    assert gx.dtype == x.dtype and gx.shape == x.shape
    # Autograd runs the backward op on the saved output.
    assert_bitwise_equal(gx, op.ext_backward(g, out.detach(), dim, x.dtype), "autograd vs the backward op")
    assert_backward_close(op, gx, backward_reference(op, g, out, dim, x.dtype), g, out, dim, "vs float64")
    # The backward op against ATen's, from the same output (ATen's backward computes in the output's dtype; the
    # dtype cast's backward then casts to the input's).
    ours = op.ext_backward(g, expected, dim, x.dtype)
    aten = op.aten_backward(g, expected, dim, expected.dtype).to(x.dtype)
    aten_cuda = x.device.type == "cuda" and expected.dtype in REDUCED_DTYPES
    assert_backward_close(op, ours, aten, g, expected, dim, "vs ATen", aten_cuda=aten_cuda)
    return out


# --------------------------------------------------------------------------------------------
# Shapes
# --------------------------------------------------------------------------------------------

# 0-d to 5-D; every dim of each is checked, negative ones too.
SHAPES = [(), (1,), (7,), (1031,), (3, 5), (4, 1), (1, 4), (0, 4), (3, 0), (2, 3, 4), (3, 1, 17), (2, 3, 4, 5),
          (2, 1, 3, 2, 33)]
SHAPE_PARAMS = [pytest.param(s, id="x".join(map(str, s)) or "0d") for s in SHAPES]

# Row lengths around the vector widths (8/16 floats, 16/32 halves, 4/8 doubles), the online blocks (4 vectors), the
# long-row segment (8192) and beyond; few rows (the segmented path for rows longer than 8192) and many.
ROW_LENGTHS = [1, 2, 3, 7, 8, 9, 15, 16, 17, 31, 32, 33, 63, 64, 65, 127, 128, 129, 255, 257, 1000, 1024, 4097,
               8191, 8192, 8193, 16384, 20000]


class TestSoftmax:
    # ------------------------------------------------------------------------------------------
    # Parity: every dim of 0-d to 5-D inputs, row lengths, row counts, inner sizes
    # ------------------------------------------------------------------------------------------

    @pytest.mark.parametrize("shape", SHAPE_PARAMS)
    @pytest.mark.parametrize("dtype", FLOAT_DTYPES)
    @pytest.mark.parametrize("op", OPS)
    @pytest.mark.parametrize("device", DEVICES)
    def test_every_dim(self, device, op, dtype, shape):
        x = make_input(lambda v: v(shape), dtype, device)
        for dim in _dims(len(shape)):
            check_forward_backward(op, x, dim)

    @pytest.mark.parametrize("dtype", FLOAT_DTYPES)
    @pytest.mark.parametrize("op", OPS)
    @pytest.mark.parametrize("device", DEVICES)
    def test_row_lengths(self, device, op, dtype):
        for n in ROW_LENGTHS:
            for rows in (1, 3):
                x = make_input(lambda v: v((rows, n)), dtype, device, seed=n)
                check_forward_backward(op, x, -1)

    @pytest.mark.parametrize("shape", [(1, 131072), (3, 65537), (70, 9000)], ids=str)
    @pytest.mark.parametrize("dtype", FLOAT_DTYPES)
    @pytest.mark.parametrize("op", OPS)
    @pytest.mark.parametrize("device", DEVICES)
    def test_long_rows(self, device, op, dtype, shape):
        # Few long rows are cut into segments on the CPU; 70 rows are not.
        x = make_input(lambda v: v(shape), dtype, device, values=_values(std=5.0))
        check_forward_backward(op, x, 1)

    @pytest.mark.parametrize("rows", [1, 2, 5, 63, 64, 65, 1000, 4099])
    @pytest.mark.parametrize("dtype", FLOAT_DTYPES)
    @pytest.mark.parametrize("op", OPS)
    @pytest.mark.parametrize("device", DEVICES)
    def test_row_counts(self, device, op, dtype, rows):
        for cols in (3, 33, 257):
            x = make_input(lambda v: v((rows, cols)), dtype, device, seed=cols)
            check_forward_backward(op, x, 1)
            check_forward_backward(op, x, 0)  # softmax over the rows: inner = cols

    @pytest.mark.parametrize("inner", [2, 3, 4, 7, 8, 15, 16, 17, 31, 32, 33, 63, 64, 65, 127, 128, 129, 300])
    @pytest.mark.parametrize("dtype", FLOAT_DTYPES)
    @pytest.mark.parametrize("op", OPS)
    @pytest.mark.parametrize("device", DEVICES)
    def test_inner_sizes(self, device, op, dtype, inner):
        # [outer, dim_size, inner]: inner slabs of whole vectors and ragged ones; dim_size short, and around the
        # 64-row blocks of the CPU kernels' column sums.
        for dim_size in (1, 3, 4, 5, 9, 63, 64, 65, 100):
            x = make_input(lambda v: v((2, dim_size, inner)), dtype, device, seed=dim_size)
            check_forward_backward(op, x, 1)

    @pytest.mark.parametrize("op", OPS)
    @pytest.mark.parametrize("device", DEVICES)
    def test_large_non_last_dim(self, device, op):
        shapes = [((4, 2000, 70), 1), ((3000, 40), 0), ((2, 3, 64, 64), 1)]
        if device == "cuda":
            # The benchmark's non-last-dim shape: 32768 columns of 1024, each split over threads.
            shapes.append(((32, 1024, 1024), 1))
        for shape, dim in shapes:
            x = make_input(lambda v: v(shape), torch.float32, device)
            check_forward_backward(op, x, dim)

    # ------------------------------------------------------------------------------------------
    # The dtype argument
    # ------------------------------------------------------------------------------------------

    @pytest.mark.parametrize("out_dtype", FLOAT_DTYPES)
    @pytest.mark.parametrize("in_dtype", FLOAT_DTYPES)
    @pytest.mark.parametrize("op", OPS)
    @pytest.mark.parametrize("device", DEVICES)
    def test_dtype_argument(self, device, op, in_dtype, out_dtype):
        for shape, dim in (((5, 37), 1), ((5, 37), 0), ((3, 9000), 1), ((2, 3, 4), 1)):
            x = make_input(lambda v: v(shape), in_dtype, device)
            out = check_forward_backward(op, x, dim, dtype=out_dtype)
            assert out.dtype == out_dtype
            # The dtype cast comes first: the same as the op on x.to(dtype).
            assert_close(out, op.ext_fn(x.to(out_dtype), dim))

    @pytest.mark.parametrize("in_dtype", REDUCED_DTYPES, ids=["float16", "bfloat16"])
    @pytest.mark.parametrize("op", OPS)
    @pytest.mark.parametrize("device", DEVICES)
    def test_reduced_to_float_in_one_kernel(self, device, op, in_dtype):
        # half/bfloat16 with dtype=float32: read as is, written as float, no cast copy; the gradient is rounded
        # once from float to the input's dtype.
        x = make_input(lambda v: v((6, 300)), in_dtype, device).requires_grad_()
        g = grad_output(x).float()
        with torch.profiler.profile(activities=[torch.profiler.ProfilerActivity.CPU]) as prof:
            out = op.ext_fn(x, 1, dtype=torch.float32)
            (gx,) = torch.autograd.grad(out, x, g)
        names = {e.name for e in prof.events()}
        assert not names & {"aten::to", "aten::_to_copy", "aten::copy_"}, sorted(names)
        assert out.dtype == torch.float32 and gx.dtype == in_dtype
        assert_accurate(op, out, reference(op, x, 1, torch.float32), 1)
        assert_backward_close(op, gx, backward_reference(op, g, out, 1, in_dtype), g, out, 1)

    @pytest.mark.parametrize("in_dtype", [torch.int64, torch.int32, torch.uint8, torch.bool], ids=str)
    @pytest.mark.parametrize("op", OPS)
    @pytest.mark.parametrize("device", DEVICES)
    def test_integer_input_with_dtype(self, device, op, in_dtype):
        x = torch.arange(-6, 18, device=device).view(4, 6).to(in_dtype)
        for out_dtype in DTYPE_NAMES:
            for dim in (0, 1, -1):
                out = op.ext_fn(x, dim, dtype=out_dtype)
                assert out.dtype == out_dtype
                assert_parity(op, out, op.torch_fn(x, dim, dtype=out_dtype), dim)

    @pytest.mark.parametrize("op", OPS)
    @pytest.mark.parametrize("device", DEVICES)
    def test_backward_op_dtypes(self, device, op):
        # The result has input_dtype whatever grad_output's dtype is (ATen's _softmax_backward_data convention).
        y = op.ext_fn(make_input(lambda v: v((4, 33)), torch.float32, device), 1)
        g = grad_output(y)
        for t in DTYPE_NAMES:
            for input_dtype in DTYPE_NAMES:
                gt, yt = g.to(t), y.to(t)
                r = op.ext_backward(gt, yt, 1, input_dtype)
                assert r.dtype == input_dtype and r.is_contiguous()
                assert_backward_close(op, r, backward_reference(op, gt, yt, 1, input_dtype), gt, yt, 1)

    # ------------------------------------------------------------------------------------------
    # Non-contiguous inputs: made contiguous; the output is contiguous, as ATen's
    # ------------------------------------------------------------------------------------------

    @pytest.mark.parametrize(
        "layout",
        ["transposed", "sliced_step2", "offset_slice", "permuted_sliced", "channels_last", "channels_last_3d",
         "expanded", "expanded_scalar", "large_transposed"],
    )
    @pytest.mark.parametrize("dtype", FLOAT_DTYPES)
    @pytest.mark.parametrize("op", OPS)
    @pytest.mark.parametrize("device", DEVICES)
    def test_non_contiguous(self, device, op, dtype, layout):
        x = make_input(layout, dtype, device)
        x_before = x.clone()
        for dim in _dims(x.dim()):
            out = check_forward_backward(op, x, dim)
            assert out.stride() == op.torch_fn(x, dim).stride()
        assert_bitwise_equal(x, x_before)

    @pytest.mark.parametrize("op", OPS)
    @pytest.mark.parametrize("device", DEVICES)
    def test_non_contiguous_backward_op(self, device, op):
        x = make_input("channels_last", torch.float32, device)
        for dim in range(4):
            y = op.ext_fn(x, dim)
            g = grad_output(y).contiguous(memory_format=torch.channels_last)
            yt = y.contiguous(memory_format=torch.channels_last)
            r = op.ext_backward(g, yt, dim, torch.float32)
            assert r.is_contiguous()
            assert_backward_close(op, r, op.aten_backward(g, yt, dim, torch.float32), g, yt, dim)

    # ------------------------------------------------------------------------------------------
    # Special values: NaN and +inf rows, all -inf rows, -inf beside a finite max, huge logits
    # ------------------------------------------------------------------------------------------

    @staticmethod
    def _special_rows(n: int) -> torch.Tensor:
        """Rows of n values (float64): finite; with a NaN; with +inf; all -inf; -inf beside finite values; -inf and
        +inf; all equal; one finite among -inf."""
        base = normal_values((8, n), seed=3)
        inf, nan = math.inf, math.nan
        base[1, n // 2] = nan
        base[2, n // 3] = inf
        base[3] = -inf
        base[4, ::3] = -inf
        base[5, 0], base[5, -1] = -inf, inf
        base[6] = 0.5
        base[7] = -inf
        base[7, n - 1] = 1.0
        return base

    @pytest.mark.parametrize("n", [5, 16, 67, 9000], ids=lambda n: f"n{n}")
    @pytest.mark.parametrize("dtype", FLOAT_DTYPES)
    @pytest.mark.parametrize("op", OPS)
    @pytest.mark.parametrize("device", DEVICES)
    def test_special_rows(self, device, op, dtype, n):
        rows = self._special_rows(n).to(device=device, dtype=dtype)
        # As the last dim (rows) and as dim 0 of the transpose (columns of the contiguous copy).
        for x, dim in ((rows, 1), (rows.t().contiguous(), 0), (rows.t().contiguous().view(n, 2, 4), 0)):
            out = op.ext_fn(x, dim)
            expected = op.torch_fn(x, dim)
            assert_parity(op, out, expected, dim)
            assert torch.equal(torch.isnan(out), torch.isnan(expected))
            y = out if dim == 1 else out.reshape(n, 8).t()
            ynan = torch.isnan(y)
            # A NaN or +inf in a row, or an all -inf row, makes the whole row NaN.
            for r in (1, 2, 3, 5):
                assert ynan[r].all(), (r, y[r])
            assert not ynan[[0, 4, 6, 7]].any()
            # -inf beside a finite max: exactly 0 (log_softmax: -inf).
            zero = -math.inf if op.log else 0.0
            assert (y[4, ::3] == zero).all() and (y[7, : n - 1] == zero).all()
            assert y[7, n - 1].item() == (0.0 if op.log else 1.0)
            assert_close(y[6], torch.full_like(y[6], -math.log(n) if op.log else 1.0 / n))

    @pytest.mark.parametrize("dtype", FLOAT_DTYPES)
    @pytest.mark.parametrize("op", OPS)
    @pytest.mark.parametrize("device", DEVICES)
    def test_special_rows_backward(self, device, op, dtype):
        # The backward of rows with -inf beside a finite max: finite, as ATen's.
        rows = self._special_rows(40)[[0, 4, 6, 7]].to(device=device, dtype=dtype)
        for x, dim in ((rows, 1), (rows.t().contiguous(), 0)):
            check_forward_backward(op, x, dim)
            leaf = x.detach().requires_grad_()
            out = op.ext_fn(leaf, dim)
            (gx,) = torch.autograd.grad(out, leaf, grad_output(out))
            assert torch.isfinite(gx).all()

    @pytest.mark.parametrize("dtype", FLOAT_DTYPES)
    @pytest.mark.parametrize("op", OPS)
    @pytest.mark.parametrize("device", DEVICES)
    def test_huge_logits_do_not_overflow(self, device, op, dtype):
        # Logits of +-1e4 (exp overflows float at 88.7): the max subtraction keeps every exp <= 1.
        v = torch.tensor([1e4, -1e4, 9990.0, 0.0, 1e4 - 1, -9999.0, 5000.0], dtype=torch.float64)
        for x0 in (v, v.repeat(40), -v):
            x = x0.to(device=device, dtype=dtype).view(1, -1).repeat(3, 1)
            for xx, dim in ((x, 1), (x.t().contiguous(), 0)):
                out = check_forward_backward(op, xx, dim)
                assert torch.isfinite(out).all()

    @pytest.mark.parametrize("dtype", FLOAT_DTYPES)
    @pytest.mark.parametrize("op", OPS)
    @pytest.mark.parametrize("device", DEVICES)
    def test_extreme_finite_values(self, device, op, dtype):
        # dtype max and min, tiny values, and one dominant value among many.
        fi = torch.finfo(dtype)
        x = torch.tensor([[fi.max, -fi.max, 0.0, fi.tiny, 1.0], [fi.max, fi.max, fi.max, fi.max, fi.max],
                          [-fi.max, -fi.max, -fi.max, -fi.max, 0.0], [1e-30, -1e-30, 0.0, -0.0, 1e-20]],
                         dtype=torch.float64).to(device=device, dtype=dtype)
        for dim in (0, 1):
            out = op.ext_fn(x, dim)
            assert_parity(op, out, op.torch_fn(x, dim), dim)
            assert_accurate(op, out, reference(op, x, dim), dim)

    @pytest.mark.parametrize("op", OPS)
    @pytest.mark.parametrize("device", DEVICES)
    def test_zero_d_and_single_element(self, device, op):
        for v in (3.0, -2.5, math.inf, -math.inf, math.nan, 0.0):
            for dtype in DTYPE_NAMES:
                x = torch.tensor(v, dtype=dtype, device=device)
                for dim in (0, -1):
                    out = op.ext_fn(x, dim)
                    expected = op.torch_fn(x, dim)
                    assert out.shape == () and out.dtype == dtype
                    assert_close(out, expected)
                    if math.isfinite(v):
                        assert out.item() == (0.0 if op.log else 1.0)
                    x1 = x.view(1, 1, 1)
                    assert_close(op.ext_fn(x1, 1), op.torch_fn(x1, 1))

    @pytest.mark.parametrize("op", OPS)
    @pytest.mark.parametrize("device", DEVICES)
    def test_empty(self, device, op):
        for shape in ((0,), (0, 4), (4, 0), (2, 0, 3), (3, 4, 0)):
            x = torch.empty(shape, device=device)
            for dim in _dims(len(shape)):
                out = op.ext_fn(x, dim)
                assert out.shape == x.shape and out.is_contiguous()
                leaf = x.clone().requires_grad_()
                (gx,) = torch.autograd.grad(op.ext_fn(leaf, dim), leaf, torch.empty_like(x))
                assert gx.shape == x.shape
                assert op.ext_backward(x, x, dim, torch.float16).dtype == torch.float16
                assert op.ext_fn(x.half(), dim, dtype=torch.float64).dtype == torch.float64

    # ------------------------------------------------------------------------------------------
    # Properties
    # ------------------------------------------------------------------------------------------

    @given(z0=st.floats(-80, 80), z1=st.floats(-80, 80), dtype=st.sampled_from([torch.float32, torch.float64]))
    def test_two_logits_are_a_sigmoid(self, z0, z1, dtype):
        # softmax([z0, z1]) = [sigmoid(z0 - z1), sigmoid(z1 - z0)], log_softmax the logsigmoids.
        x = torch.tensor([z0, z1], dtype=dtype)
        # The logits are rounded to dtype first; their difference is then exact in float64.
        d = torch.tensor([float(x[0]) - float(x[1]), float(x[1]) - float(x[0])], dtype=torch.float64)
        assert_accurate(SOFTMAX, TF.softmax(x, 0), torch.sigmoid(d), 0)
        assert_accurate(LOG_SOFTMAX, TF.log_softmax(x, 0), F.logsigmoid(d), 0)
        # The same along a non-last dim (the other kernel).
        x5 = x.view(2, 1).expand(2, 5)
        assert_accurate(SOFTMAX, TF.softmax(x5, 0), torch.sigmoid(d).view(2, 1).expand(2, 5), 0)
        assert_accurate(LOG_SOFTMAX, TF.log_softmax(x5, 0), F.logsigmoid(d).view(2, 1).expand(2, 5), 0)

    @pytest.mark.parametrize("device", DEVICES)
    @given(data=st.data())
    def test_property_random_layouts(self, device, data):
        layout = draw_strided_layout(data, min_size=1, max_size=9, offsets=False)
        ndim = len(layout.shape)
        dtype = data.draw(st.sampled_from(list(DTYPE_NAMES)), label="dtype")
        op = data.draw(st.sampled_from([SOFTMAX, LOG_SOFTMAX]), label="op")
        dim = data.draw(st.integers(-max(ndim, 1), max(ndim, 1) - 1), label="dim")
        magnitude = data.draw(st.sampled_from([1e-3, 1.0, 10.0, 100.0]), label="magnitude")
        seed = data.draw(st.integers(0, 2**16), label="seed")

        x = layout.view((normal_values(layout.base_shape, seed=seed) * magnitude).to(device=device, dtype=dtype))
        check_forward_backward(op, x, dim, seed=seed + 1)

    # ------------------------------------------------------------------------------------------
    # gradcheck / gradgradcheck in float64
    # ------------------------------------------------------------------------------------------

    @pytest.mark.parametrize(
        "shape,dim",
        [((), 0), ((5,), 0), ((3, 4), 1), ((3, 4), 0), ((3, 4), -2), ((2, 3, 4), 1), ((2, 3, 2, 3), -1),
         ((2, 3, 2, 3), 2)],
        ids=str,
    )
    @pytest.mark.parametrize("op", OPS)
    @pytest.mark.parametrize("device", DEVICES)
    def test_gradcheck(self, device, op, shape, dim):
        x = normal_values(shape, seed=5).to(device).requires_grad_()

        def fn(t):
            return op.ext_fn(t, dim)

        assert torch.autograd.gradcheck(fn, (x,))
        assert torch.autograd.gradgradcheck(fn, (x,))

    @pytest.mark.parametrize("op", OPS)
    @pytest.mark.parametrize("device", DEVICES)
    def test_gradcheck_non_contiguous_and_dtype(self, device, op):
        x = normal_values((4, 3), seed=6).to(device).t().requires_grad_()
        assert torch.autograd.gradcheck(lambda t: op.ext_fn(t, 0), (x,))
        assert torch.autograd.gradgradcheck(lambda t: op.ext_fn(t, 1), (x,))
        xe = normal_values((6, 4), seed=7).to(device)[::2].requires_grad_()
        assert torch.autograd.gradcheck(lambda t: op.ext_fn(t, 0, dtype=torch.float64), (xe,))
        assert torch.autograd.gradgradcheck(lambda t: op.ext_fn(t, 0), (xe,))

    @pytest.mark.parametrize("shape,dim", [((3, 5), 1), ((3, 5), 0), ((2, 3, 4), 1), ((), 0)], ids=str)
    @pytest.mark.parametrize("op", OPS)
    @pytest.mark.parametrize("device", DEVICES)
    def test_gradcheck_backward_op(self, device, op, shape, dim):
        # The backward op as a function of both of its tensors (its own Autograd kernel), to third order.
        y = op.ext_fn(normal_values(shape, seed=8).to(device), dim).requires_grad_()
        g = normal_values(shape, seed=9).to(device).requires_grad_()

        def bwd(g, y):
            return op.ext_backward(g, y, dim, torch.float64)

        assert torch.autograd.gradcheck(bwd, (g, y))
        assert torch.autograd.gradgradcheck(bwd, (g, y))

    @pytest.mark.parametrize("dtype", FLOAT_DTYPES)
    @pytest.mark.parametrize("op", OPS)
    @pytest.mark.parametrize("device", DEVICES)
    def test_double_backward_matches_torch(self, device, op, dtype):
        for shape, dim in (((4, 37), 1), ((4, 37), 0), ((2, 3, 5), 1)):
            data = make_input(lambda v: v(shape), dtype, device)
            g_data = grad_output(data)
            v = grad_output(data, seed=3)

            def second_order(fn):
                x = data.clone().requires_grad_()
                g = g_data.clone().requires_grad_()
                gx = torch.autograd.grad(fn(x, dim), x, g, create_graph=True)[0]
                assert gx.requires_grad
                return (gx,) + torch.autograd.grad((gx * v).sum(), (x, g))

            ours, theirs = second_order(op.ext_fn), second_order(op.torch_fn)
            for name, a, b in zip(("gx", "d/dx", "d/dgrad_output"), ours, theirs):
                # The second-order terms are sums of products (cancellations): absolute error to the scale.
                scale = b.detach().double().abs().max().item()
                assert_close(a, b, atol=4 * torch.finfo(dtype).eps * max(scale, 1.0) + tol(dtype)["atol"],
                             msg=lambda m: f"{name}: {m}")

    # ------------------------------------------------------------------------------------------
    # torch.library.opcheck, Meta kernels
    # ------------------------------------------------------------------------------------------

    # (tests/test_ops.py::test_opcheck runs opcheck over the softmax rows' OpcheckInfo.)

    # ------------------------------------------------------------------------------------------
    # torch.compile (fullgraph) and torch.export
    # ------------------------------------------------------------------------------------------

    @pytest.mark.parametrize("op", OPS)
    @pytest.mark.parametrize("device", DEVICES)
    def test_compile_fullgraph(self, device, op):
        torch._dynamo.reset()
        rec = GraphRecorder()

        def make_fn(fn):
            def f(x):
                return fn(x * 1.5 - 0.25, 1) * 2.0 + fn(x, -1, dtype=torch.float64).float()

            return f

        compiled = torch.compile(make_fn(op.ext_fn), backend=rec.backend, fullgraph=True)
        leaf = make_input("channels_last", torch.float32, device).requires_grad_()
        g = make_input("channels_last", torch.float32, device, seed=5)
        out = compiled(leaf)
        (grad,) = torch.autograd.grad(out, leaf, g)
        ref_leaf = leaf.detach().clone().requires_grad_()
        ref = make_fn(op.torch_fn)(ref_leaf)
        (ref_grad,) = torch.autograd.grad(ref, ref_leaf, g)
        assert_close(out, ref)
        assert_close(grad, ref_grad)
        assert len(rec.forward) == 1 and len(rec.backward) == 1
        fw, bw = rec.forward[0], rec.backward[0]
        assert f"torch_ext.{op.name}.default" in fw, fw
        assert f"torch_ext.{op.name}_backward.default" in bw, bw
        assert "aten._softmax" not in fw + bw and "aten._log_softmax" not in fw + bw
        torch._dynamo.reset()

    @pytest.mark.parametrize("op", OPS)
    @pytest.mark.parametrize("device", DEVICES)
    def test_compile_dynamic_and_inductor(self, device, op):
        torch._dynamo.reset()
        counter = torch._dynamo.testing.CompileCounterWithBackend("aot_eager")

        def f(x):
            return op.ext_fn(x, -1) * op.ext_fn(x * 2, 0)

        compiled = torch.compile(f, backend=counter, fullgraph=True, dynamic=True)
        for shape in ((5, 7), (9, 3), (2, 11)):
            x = make_input(lambda v: v(shape), torch.float32, device).requires_grad_()
            out = compiled(x)
            (grad,) = torch.autograd.grad(out.sum(), x)
            xr = x.detach().requires_grad_()
            ref = op.torch_fn(xr, -1) * op.torch_fn(xr * 2, 0)
            (ref_grad,) = torch.autograd.grad(ref.sum(), xr)
            assert_close(out, ref)
            assert_close(grad, ref_grad)
        assert counter.frame_count == 1
        torch._dynamo.reset()
        inductor = torch.compile(f, backend="inductor", fullgraph=True)
        x = make_input(lambda v: v((6, 10)), torch.float32, device).requires_grad_()
        out = inductor(x)
        (grad,) = torch.autograd.grad(out.sum(), x)
        xr = x.detach().requires_grad_()
        ref = op.torch_fn(xr, -1) * op.torch_fn(xr * 2, 0)
        (ref_grad,) = torch.autograd.grad(ref.sum(), xr)
        assert_close(out, ref)
        assert_close(grad, ref_grad)
        torch._dynamo.reset()

    # (torch.export of the layers: tests/test_export.py::test_layer_op_kept, over every layer of the table.)

    # ------------------------------------------------------------------------------------------
    # Autocast: ATen's policy (fp32_set_opt_dtype under CUDA autocast; nothing under CPU autocast)
    # ------------------------------------------------------------------------------------------

    @pytest.mark.parametrize("in_dtype", list(DTYPE_NAMES), ids=list(DTYPE_NAMES.values()))
    @pytest.mark.parametrize("amp_dtype", REDUCED_DTYPES, ids=["float16", "bfloat16"])
    @pytest.mark.parametrize("op", OPS)
    @pytest.mark.parametrize("device", DEVICES)
    def test_autocast_dtype_like_torch(self, device, op, amp_dtype, in_dtype):
        x = make_input("contiguous", in_dtype, device)
        for dtype in (None, torch.float16, torch.float64):
            leaf = x.detach().requires_grad_()
            ref_leaf = x.detach().requires_grad_()
            with torch.autocast(device_type=device, dtype=amp_dtype):
                out = op.ext_fn(leaf, 1, dtype=dtype)
                expected = op.torch_fn(ref_leaf, 1, dtype=dtype)
            assert out.dtype == expected.dtype, (dtype, out.dtype, expected.dtype)
            if device == "cuda" and dtype is None and in_dtype != torch.float64:
                assert out.dtype == torch.float32  # ATen's CUDA policy: softmax runs in float32
            assert_parity(op, out, expected, 1)
            g = grad_output(out)
            (gx,) = torch.autograd.grad(out, leaf, g)
            (gx_ref,) = torch.autograd.grad(expected, ref_leaf, g)
            assert gx.dtype == gx_ref.dtype == in_dtype
            assert_backward_close(op, gx, gx_ref, g, out, 1, y_differs=True)

    def test_kernels_registered(self):
        cuda = torch_ext.build_info()["cuda"] == "ON"
        for name in ("softmax", "log_softmax", "softmax_backward", "log_softmax_backward"):
            op = f"torch_ext::{name}"
            for key in ("CPU", "Meta", "Autograd"):
                assert torch._C._dispatch_has_kernel_for_dispatch_key(op, key), (op, key)
            assert torch._C._dispatch_has_kernel_for_dispatch_key(op, "CUDA") == cuda, op

    def test_schemas(self):
        assert str(ops.softmax.default._schema) == (
            "torch_ext::softmax(Tensor self, int dim, ScalarType? dtype=None) -> Tensor")
        assert str(ops.log_softmax.default._schema) == (
            "torch_ext::log_softmax(Tensor self, int dim, ScalarType? dtype=None) -> Tensor")
        assert str(ops.softmax_backward.default._schema) == (
            "torch_ext::softmax_backward(Tensor grad_output, Tensor output, int dim, ScalarType input_dtype) -> Tensor")
        assert str(ops.log_softmax_backward.default._schema) == (
            "torch_ext::log_softmax_backward(Tensor grad_output, Tensor output, int dim, ScalarType input_dtype)"
            " -> Tensor")

    # ------------------------------------------------------------------------------------------
    # Errors
    # ------------------------------------------------------------------------------------------

    @pytest.mark.parametrize("op", OPS)
    @pytest.mark.parametrize("device", DEVICES + [pytest.param("meta", id="meta")])
    def test_bad_dims(self, device, op):
        for shape, dim in (((), 1), ((), -2), ((3,), 1), ((3,), -2), ((2, 3), 2), ((2, 3), -3), ((0, 3), 5)):
            x = torch.ones(shape, device=device)
            lo, hi = -max(len(shape), 1), max(len(shape), 1) - 1
            message = f"{op.name}: Dimension out of range (expected to be in range of [{lo}, {hi}], but got {dim})"
            with pytest.raises(IndexError, match=re.escape(message)):
                op.ext_op(x, dim)
            with pytest.raises(IndexError, match=re.escape(message[len(op.name) + 2:])):
                op.torch_fn(torch.ones(shape), dim)  # the same words as ATen's
            with pytest.raises(IndexError, match=re.escape(f"{op.name}_backward: Dimension out of range")):
                op.ext_backward(x, x, dim, torch.float32)

    NON_FLOATING = [torch.int32, torch.int64, torch.uint8, torch.bool]

    @pytest.mark.parametrize("in_dtype", NON_FLOATING, ids=str)
    @pytest.mark.parametrize("op", OPS)
    @pytest.mark.parametrize("device", DEVICES + [pytest.param("meta", id="meta")])
    def test_integer_input_needs_dtype(self, device, op, in_dtype):
        x = torch.ones(3, 4, device=device).to(in_dtype)
        names = {torch.int32: "Int", torch.int64: "Long", torch.uint8: "Byte", torch.bool: "Bool"}
        message = (f"{op.name}: expected self to be a floating-point tensor (float32, float64, float16 or bfloat16), "
                   f"got {names[in_dtype]}; pass dtype")
        for call in (lambda: op.ext_op(x, 1), lambda: op.ext_fn(x, 1), lambda: op.ext_module(1)(x)):
            with pytest.raises(RuntimeError, match=re.escape(message)):
                call()
        with pytest.raises(RuntimeError, match=re.escape(f"{op.name}_backward: expected grad_output to be a floating")):
            op.ext_backward(x, x, 1, torch.float32)

    @pytest.mark.parametrize("op", OPS)
    @pytest.mark.parametrize("device", DEVICES + [pytest.param("meta", id="meta")])
    def test_bad_dtype_arguments(self, device, op):
        x = torch.ones(3, 4, device=device)
        for dtype, name in ((torch.int64, "Long"), (torch.bool, "Bool"), (torch.complex64, "ComplexFloat")):
            with pytest.raises(RuntimeError, match=re.escape(
                    f"{op.name}: expected dtype to be a floating-point dtype (float32, float64, float16 or bfloat16), "
                    f"got {name}")):
                op.ext_op(x, 1, dtype)
            with pytest.raises(RuntimeError, match=re.escape(f"{op.name}_backward: expected input_dtype to be a "
                                                             f"floating-point dtype")):
                op.ext_backward(x, x, 1, dtype)
        # A complex input is refused even with a dtype (ATen would drop the imaginary part with a warning).
        xc = torch.ones(3, 4, device=device, dtype=torch.complex64)
        with pytest.raises(RuntimeError, match=re.escape(f"{op.name}: expected self to be a floating-point or "
                                                         f"integer tensor, got ComplexFloat")):
            op.ext_op(xc, 1, torch.float32)

    @pytest.mark.parametrize("op", OPS)
    @pytest.mark.parametrize("device", DEVICES + [pytest.param("meta", id="meta")])
    def test_backward_mismatched_arguments(self, device, op):
        g = torch.ones(3, 4, device=device)
        name = f"{op.name}_backward"
        for y in (torch.ones(4, 3, device=device), torch.ones(12, device=device)):
            with pytest.raises(RuntimeError, match=re.escape(f"{name}: expected output to have the shape")):
                op.ext_backward(g, y, 1, torch.float32)
        with pytest.raises(RuntimeError, match=re.escape(f"{name}: expected output to have the dtype")):
            op.ext_backward(g, g.double(), 1, torch.float32)

    @requires_cuda
    @pytest.mark.parametrize("op", OPS)
    def test_backward_device_mismatch(self, op):
        g = torch.ones(3, 4, device="cuda")
        with pytest.raises(RuntimeError, match="device"):
            op.ext_backward(g, g.cpu(), 1, torch.float32)

    # ------------------------------------------------------------------------------------------
    # Determinism across thread counts, and the CPU kernels of each compiled ISA
    # ------------------------------------------------------------------------------------------

    @pytest.mark.parametrize(
        "shape,dim",
        # (1, 700, 300) and (2, 300, 257) over dim 1: fewer outer indices than threads, so the CPU kernels split
        # the rows (in 64-row blocks, the last one partial) at 2 or 3 threads and not at 1.
        [((300, 1000), 1), ((3, 50000), 1), ((2, 300, 257), 1), ((1, 700, 300), 1), ((64, 5000), 0), ((7, 11, 130), 2)],
        ids=str,
    )
    @pytest.mark.parametrize("dtype", FLOAT_DTYPES)
    def test_thread_count_independent(self, dtype, shape, dim):
        x = make_input(lambda v: v(shape), dtype, "cpu", values=_values(std=4.0))
        g = grad_output(x)
        results = []
        for threads in (1, 2, 3):
            torch.set_num_threads(threads)
            outs = []
            for op in (SOFTMAX, LOG_SOFTMAX):
                xi = x.detach().requires_grad_()
                y = op.ext_fn(xi, dim)
                (gx,) = torch.autograd.grad(y, xi, g)
                outs += [y.detach(), gx]
                if dtype in REDUCED_DTYPES:
                    outs.append(op.ext_fn(x, dim, dtype=torch.float32))
            results.append(outs)
        for other in results[1:]:
            for i, (a, b) in enumerate(zip(results[0], other)):
                assert_bitwise_equal(b, a, f"output {i}")

    @pytest.mark.parametrize("op", OPS)
    @pytest.mark.parametrize("threads", [2, 3])
    def test_row_split_vs_float64(self, op, threads):
        """One outer index on several threads: the CPU kernels split the rows across the threads (64-row blocks,
        the last one partial); forward and backward against the float64 formulas, not only against 1 thread."""
        torch.set_num_threads(threads)
        gen = torch.Generator().manual_seed(11)
        shape, dim = (1, 700, 300), 1
        x = 4.0 * torch.randn(shape, generator=gen)
        g = torch.randn(shape, generator=gen)
        y = op.ext_op(x, dim, None)
        gx = op.ext_backward(g, y, dim, torch.float32)
        assert_accurate(op, y, reference(op, x, dim), dim)
        assert_backward_close(op, gx, backward_reference(op, g, y, dim, torch.float32), g, y, dim, "vs float64")

    @pytest.mark.parametrize("op", OPS)
    @pytest.mark.parametrize("dtype", [torch.float32, torch.bfloat16], ids=["float32", "bfloat16"])
    @pytest.mark.parametrize("layout", ["last_dim", "dim1"])
    def test_beyond_llc_equals_slices(self, op, dtype, layout):
        """Past the last-level cache the CPU kernels write with streaming stores; the values must be those of
        the same rows computed in slices that stay in cache (plain stores), bit for bit."""
        llc = _llc_bytes()
        elem = torch.tensor([], dtype=dtype).element_size()
        numel = 2 * llc // elem + 4096  # input alone 2x the LLC: every pass streams
        if layout == "last_dim":
            shape, dim, step = (numel // 1024, 1024), 1, 64  # 64 rows a slice
        else:
            shape, dim, step = (numel // (64 * 1024), 64, 1024), 1, 1  # one outer index a slice
        gen = torch.Generator().manual_seed(3)
        x = (4.0 * torch.randn(shape, generator=gen)).to(dtype)
        g = torch.randn(shape, generator=gen).to(dtype)
        y = op.ext_op(x, dim, None)
        gx = op.ext_backward(g, y, dim, dtype)
        for i in (0, (shape[0] // 2) // step * step, (shape[0] - 1) // step * step):  # first, middle, last
            ys = op.ext_op(x[i:i + step], dim, None)
            assert_bitwise_equal(y[i:i + step], ys, f"forward, slice {i}")
            assert_bitwise_equal(gx[i:i + step], op.ext_backward(g[i:i + step], ys, dim, dtype), f"backward, slice {i}")
        assert_accurate(op, y[:step], reference(op, x[:step], dim), dim)

    @pytest.mark.parametrize("op", OPS)
    @pytest.mark.parametrize("dtype", [torch.float32, torch.bfloat16], ids=["float32", "bfloat16"])
    def test_slab_width_does_not_change_values(self, op, dtype):
        """Over a non-last dim the CPU kernels cut [outer, dim, inner] into slabs: whole rows while an outer
        index's inputs fit in half the LLC, narrower past that (here), and narrower again to share few slabs
        between threads (the column slices below: one outer index). Each inner position's values must be
        the same whatever slab it was in, bit for bit."""
        elem = torch.tensor([], dtype=dtype).element_size()
        inner = 1000  # not a whole number of vectors: ragged slabs
        dim_size = _llc_bytes() // (inner * elem) + 7  # one outer index's input alone is more than the LLC
        shape, dim = (2, dim_size, inner), 1
        gen = torch.Generator().manual_seed(5)
        x = (4.0 * torch.randn(shape, generator=gen)).to(dtype)
        g = torch.randn(shape, generator=gen).to(dtype)
        y = op.ext_op(x, dim, None)
        gx = op.ext_backward(g, y, dim, dtype)
        for a, b in ((0, 2), (333, 350), (960, 1000)):  # inner > 1: the same kernels
            xs, gs = x[:, :, a:b].contiguous(), g[:, :, a:b].contiguous()
            ys = op.ext_op(xs, dim, None)
            gxs = op.ext_backward(gs, ys, dim, dtype)
            assert_bitwise_equal(y[:, :, a:b], ys, f"forward, columns {a}:{b}")
            assert_bitwise_equal(gx[:, :, a:b], gxs, f"backward, columns {a}:{b}")
            assert_accurate(op, ys, reference(op, xs, dim), dim)
            assert_backward_close(op, gxs, backward_reference(op, gs, ys, dim, dtype), gs, ys, dim, "vs float64")

    @pytest.mark.parametrize("isa", ["default", "avx2", "avx512"])
    def test_cpu_isa_kernels(self, isa):
        """Each compiled CPU kernel (the ISA picked by ATEN_CPU_CAPABILITY) against PyTorch's, in a subprocess."""
        run_with_cpu_isa(isa, _ISA_SCRIPT)

    def test_functional_signature(self):
        for ext, ref in ((TF.softmax, F.softmax), (TF.log_softmax, F.log_softmax)):
            ext_params = inspect.signature(ext).parameters.values()
            ref_params = inspect.signature(ref).parameters.values()
            assert [(p.name, p.default, p.kind) for p in ext_params] == [(p.name, p.default, p.kind)
                                                                         for p in ref_params]
        assert {"softmax", "log_softmax"} <= set(TF.__all__)
        assert {"Softmax", "LogSoftmax"} <= set(TN.__all__)

    @pytest.mark.parametrize("op", OPS)
    def test_functional_keywords(self, op):
        x = make_input("contiguous", torch.float32, "cpu")
        assert_close(op.ext_fn(input=x, dim=1), op.torch_fn(input=x, dim=1))
        assert_close(op.ext_fn(x, dim=0, dtype=torch.float64), op.torch_fn(x, dim=0, dtype=torch.float64))
        assert_close(op.ext_fn(x, 2, 3, torch.float16), op.torch_fn(x, 2, 3, torch.float16))

    @pytest.mark.parametrize("op", OPS)
    def test_implicit_dim_like_torch(self, op):
        # dim=None: torch's legacy choice (0 for 0-, 1- and 3-D inputs, else 1) and its deprecation warning, which
        # points at the caller (this file) as torch's does.
        for shape in ((), (5,), (3, 4), (2, 3, 4), (2, 3, 4, 5), (1, 2, 3, 4, 2)):
            x = make_input(lambda v: v(shape), torch.float32, "cpu")
            with warnings.catch_warnings(record=True) as ours:
                warnings.simplefilter("always")
                out = op.ext_fn(x)
                out_module = op.ext_module()(x)
            with warnings.catch_warnings(record=True) as theirs:
                warnings.simplefilter("always")
                expected = op.torch_fn(x)
                op.torch_module()(x)
            assert_close(out, expected)
            assert_close(out_module, expected)
            assert [str(w.message) for w in ours] == [str(w.message) for w in theirs]
            assert len(ours) == 2 and "Implicit dimension choice for " + op.name in str(ours[0].message)
            assert [(w.category, Path(w.filename).name) for w in ours] == [
                (w.category, Path(w.filename).name) for w in theirs]
            assert Path(ours[0].filename).name == Path(__file__).name
        with warnings.catch_warnings():
            warnings.simplefilter("error")
            op.ext_fn(x, 1)
            op.ext_module(1)(x)

    # ------------------------------------------------------------------------------------------
    # CUDA specifics: streams, graphs
    # ------------------------------------------------------------------------------------------

    # (Graph capture: tests/test_op_db.py::test_cuda_graph_capture, over the softmax and log_softmax rows.)


# ------------------------------------------------------------------------------------------------
# nn.Softmax / nn.LogSoftmax: drop-ins for torch.nn's
# ------------------------------------------------------------------------------------------------

class TestSoftmaxModules:
    @pytest.mark.parametrize("op", OPS)
    def test_copy_pickle_and_setstate(self, op):
        ext = op.ext_module(dim=2)
        for clone in (copy.deepcopy(ext), pickle.loads(pickle.dumps(ext))):
            assert type(clone) is op.ext_module and clone.dim == 2
        # A module pickled before `dim` existed gets dim = None, as torch.nn's.
        old = op.ext_module(dim=1)
        state = old.__dict__.copy()
        del state["dim"]
        fresh = op.ext_module.__new__(op.ext_module)
        fresh.__setstate__(state)
        assert fresh.dim is None
        ref = op.torch_module.__new__(op.torch_module)
        ref.__setstate__(state)
        assert ref.dim is None

    @pytest.mark.parametrize("dim", [0, 1, 2, -1])
    @pytest.mark.parametrize("dtype", FLOAT_DTYPES)
    @pytest.mark.parametrize("op", OPS)
    @pytest.mark.parametrize("device", DEVICES)
    def test_forward_backward_parity(self, device, op, dtype, dim):
        ext, ref = op.ext_module(dim), op.torch_module(dim)
        leaf = make_input(lambda v: v((3, 5, 7)), dtype, device).requires_grad_()
        g = make_input(lambda v: v((3, 5, 7)), dtype, device, seed=9)

        def run(module):
            y = module(leaf)
            (gx,) = torch.autograd.grad(y, leaf, g)
            return y.detach(), gx

        (y, gx), (y_ref, gx_ref) = run(ext), run(ref)
        assert y.dtype == dtype and y.stride() == y_ref.stride()
        assert_parity(op, y, y_ref, dim)
        assert_backward_close(op, gx, gx_ref, g, y, dim, y_differs=True)

    @pytest.mark.parametrize("op", OPS)
    def test_model_swap(self, op):
        torch.manual_seed(0)
        ref = nn.Sequential(nn.Linear(12, 32), nn.Tanh(), nn.Linear(32, 5), op.torch_module(dim=1))
        ext = nn.Sequential(nn.Linear(12, 32), nn.Tanh(), nn.Linear(32, 5), op.ext_module(dim=1))
        ext.load_state_dict(ref.state_dict(), strict=True)
        x = torch.randn(16, 12) * 3
        out, out_ref = ext(x), ref(x)
        torch.testing.assert_close(out, out_ref)
        target = torch.randint(0, 5, (16,))
        loss = F.nll_loss(out if op.log else out.log(), target)
        loss_ref = F.nll_loss(out_ref if op.log else out_ref.log(), target)
        loss.backward()
        loss_ref.backward()
        for (name, p), (_, p_ref) in zip(ext.named_parameters(), ref.named_parameters()):
            torch.testing.assert_close(p.grad, p_ref.grad, msg=lambda m: f"{name}: {m}")


# Run in a subprocess with ATEN_CPU_CAPABILITY set: torch_ext picked that ISA's kernels, and they agree with
# PyTorch's and with float64, forward and backward, over both layouts, the dtype argument and special rows.
_ISA_SCRIPT = textwrap.dedent(
    """
    import sys
    import torch
    import torch_ext
    from common_utils import DTYPE_NAMES, make_input, normal_values
    from test_softmax import LOG_SOFTMAX, SOFTMAX, TestSoftmax, assert_parity, check_forward_backward

    want = sys.argv[1]
    assert torch.backends.cpu.get_cpu_capability() == want, torch.backends.cpu.get_cpu_capability()
    assert torch_ext.build_info()["cpu_capability"] == want, (torch_ext.build_info()["cpu_capability"], want)
    checked = 0
    for dtype in DTYPE_NAMES:
        for op in (SOFTMAX, LOG_SOFTMAX):
            for shape, dim in (((3, 1031), 1), ((2, 20000), 1), ((70, 33), 1), ((5, 7), 1), ((4, 9, 37), 1),
                               ((4, 6, 130), 1), ((3, 5, 2), 1), ((300, 3), 0), ((1,), 0), ((), 0)):
                x = make_input(lambda v: v(shape), dtype, "cpu", values=lambda s: normal_values(s, std=4.0))
                check_forward_backward(op, x, dim)
                checked += 1
                if dtype in (torch.float16, torch.bfloat16):
                    check_forward_backward(op, x, dim, dtype=torch.float32)
                    checked += 1
            rows = TestSoftmax._special_rows(37).to(dtype)
            for x, dim in ((rows, 1), (rows.t().contiguous(), 0)):
                assert_parity(op, op.ext_fn(x, dim), op.torch_fn(x, dim), dim)
                checked += 1
    print(f"checked {checked} cases")
    print("OK")
    """
)


# ------------------------------------------------------------------------------------------------
# softmin and nn.Softmin, nn.Softmax2d: compositions of torch_ext's softmax (softmax of -input; softmax over dim -3).
# Their op-table rows (torch_ext/testing/op_db.py) run the shared checks: the ops called and no ATen twin, grad mode,
# gradcheck and gradgradcheck in float64, torch.compile of the functional and of the layers, export, TorchScript, the
# layers' repr, state_dict and copies, convert and revert. Here: parity and accuracy, the dtype argument, the
# implicit dim, Softmax2d's rank check.
# ------------------------------------------------------------------------------------------------

def check_softmin(x: torch.Tensor, dim: int, dtype=None, seed: int = 1):
    """softmin forward against torch and float64 (softmax of -x: the negation is exact), its gradient against
    torch's and against float64's from our output (the softmax backward, negated)."""
    leaf = x.detach().requires_grad_()
    out = TF.softmin(leaf, dim, dtype=dtype)
    ref_leaf = x.detach().requires_grad_()
    expected = F.softmin(ref_leaf, dim, dtype=dtype)
    assert out.dtype == expected.dtype and out.shape == x.shape and out.device == x.device
    assert_parity(SOFTMAX, out, expected, dim)
    assert_accurate(SOFTMAX, out, reference(SOFTMAX, -x, dim, dtype), dim)
    # torch_ext's softmax op on -x, not another path.
    assert_bitwise_equal(out, ops.softmax(-x.detach(), dim, dtype), "softmin vs torch_ext's softmax of -x")
    g = grad_output(out, seed=seed)
    (gx,) = torch.autograd.grad(out, leaf, g)
    (gx_ref,) = torch.autograd.grad(expected, ref_leaf, g)
    assert gx.dtype == x.dtype == gx_ref.dtype
    assert_backward_close(SOFTMAX, gx, -backward_reference(SOFTMAX, g, out, dim, x.dtype), g, out, dim, "vs float64")
    aten_cuda = x.device.type == "cuda" and out.dtype in REDUCED_DTYPES
    assert_backward_close(SOFTMAX, gx, gx_ref, g, out, dim, "vs torch", y_differs=True, aten_cuda=aten_cuda)


# The dtype argument: none, the input's op-math (float32 for a half or bfloat16 input) and float64.
SOFTMIN_DTYPE_ARGS = [pytest.param(None, id="no_dtype_arg"), pytest.param(torch.float32, id="dtype_arg_float32"),
                      pytest.param(torch.float64, id="dtype_arg_float64")]


class TestSoftmin:
    @pytest.mark.parametrize("dtype_arg", SOFTMIN_DTYPE_ARGS)
    @pytest.mark.parametrize("shape,dim", [((3, 5, 7), 0), ((3, 5, 7), 1), ((3, 5, 7), -1), ((2, 1031), 1), ((), 0),
                                           ((0, 4), 1)], ids=str)
    @pytest.mark.parametrize("dtype", FLOAT_DTYPES)
    @pytest.mark.parametrize("device", DEVICES)
    def test_matches_torch(self, device, dtype, shape, dim, dtype_arg):
        x = make_input(lambda v: v(shape), dtype, device, values=_values(seed=3))
        check_softmin(x, dim, dtype_arg)

    @pytest.mark.parametrize("dtype", FLOAT_DTYPES)
    @pytest.mark.parametrize("device", DEVICES)
    def test_strided_inputs(self, device, dtype):
        for layout in ("transposed", "channels_last", "expanded", "permuted_sliced"):
            x = make_input(layout, dtype, device, values=_values(seed=4))
            for dim in _dims(x.dim()):
                check_softmin(x, dim)

    def test_special_rows(self):
        # softmin(x) = softmax(-x): -inf where softmax has +inf, and NaN and huge logits as softmax's rows have them.
        rows = TestSoftmax._special_rows(37)
        for x, dim in ((rows, 1), (rows.t().contiguous(), 0)):
            assert_parity(SOFTMAX, TF.softmin(x, dim), F.softmin(x, dim), dim)
            assert_accurate(SOFTMAX, TF.softmin(x, dim), reference(SOFTMAX, -x, dim), dim)

    def test_functional_signature_and_keywords(self):
        ext, ref = inspect.signature(TF.softmin).parameters.values(), inspect.signature(F.softmin).parameters.values()
        assert [(p.name, p.default, p.kind) for p in ext] == [(p.name, p.default, p.kind) for p in ref]
        x = make_input("contiguous", torch.float32, "cpu")
        assert_close(TF.softmin(input=x, dim=1), F.softmin(input=x, dim=1))
        assert_close(TF.softmin(x, dim=0, dtype=torch.float64), F.softmin(x, dim=0, dtype=torch.float64))
        assert_close(TF.softmin(x, 2, 3, torch.float16), F.softmin(x, 2, 3, torch.float16))

    def test_implicit_dim_like_torch(self):
        # dim=None: torch's legacy choice and its deprecation warning (naming softmin), pointed at the caller.
        for shape in ((), (5,), (3, 4), (2, 3, 4), (2, 3, 4, 5)):
            x = make_input(lambda v: v(shape), torch.float32, "cpu")
            with warnings.catch_warnings(record=True) as ours:
                warnings.simplefilter("always")
                out = TF.softmin(x)
                out_module = TN.Softmin()(x)
            with warnings.catch_warnings(record=True) as theirs:
                warnings.simplefilter("always")
                expected = F.softmin(x)
                nn.Softmin()(x)
            assert_close(out, expected)
            assert_close(out_module, expected)
            assert [str(w.message) for w in ours] == [str(w.message) for w in theirs]
            assert len(ours) == 2 and "Implicit dimension choice for softmin" in str(ours[0].message)
            assert [(w.category, Path(w.filename).name) for w in ours] == [
                (w.category, Path(w.filename).name) for w in theirs]
            assert Path(ours[0].filename).name == Path(__file__).name
        with warnings.catch_warnings():
            warnings.simplefilter("error")
            TF.softmin(x, 1)
            TN.Softmin(1)(x)

    def test_setstate_without_dim(self):
        # A module pickled before `dim` existed gets dim = None, as torch.nn's.
        state = TN.Softmin(dim=1).__dict__.copy()
        del state["dim"]
        for cls in (TN.Softmin, nn.Softmin):
            fresh = cls.__new__(cls)
            fresh.__setstate__(state)
            assert fresh.dim is None, cls


class TestSoftmax2d:
    @pytest.mark.parametrize("layout", ["CHW", "NCHW", "NCHW_channels_last", "NCHW_sliced"])
    @pytest.mark.parametrize("dtype", FLOAT_DTYPES)
    @pytest.mark.parametrize("device", DEVICES)
    def test_matches_torch(self, device, dtype, layout):
        builders = {"CHW": lambda v: v((5, 4, 3)), "NCHW": lambda v: v((2, 7, 4, 3)),
                    "NCHW_channels_last": "channels_last", "NCHW_sliced": lambda v: v((2, 6, 4, 6))[:, ::2, :, 1:]}
        x = make_input(builders[layout], dtype, device, values=_values(seed=5))
        leaf, ref_leaf = x.detach().requires_grad_(), x.detach().requires_grad_()
        out, expected = TN.Softmax2d()(leaf), nn.Softmax2d()(ref_leaf)
        assert out.dtype == expected.dtype and out.shape == x.shape
        # Softmax over the channels, dim -3.
        assert_parity(SOFTMAX, out, expected, -3)
        assert_accurate(SOFTMAX, out, reference(SOFTMAX, x, -3), -3)
        g = grad_output(out, seed=2)
        (gx,), (gx_ref,) = torch.autograd.grad(out, leaf, g), torch.autograd.grad(expected, ref_leaf, g)
        assert_backward_close(SOFTMAX, gx, backward_reference(SOFTMAX, g, out, -3, dtype), g, out, -3, "vs float64")
        aten_cuda = device == "cuda" and dtype in REDUCED_DTYPES
        assert_backward_close(SOFTMAX, gx, gx_ref, g, out, -3, "vs torch", y_differs=True, aten_cuda=aten_cuda)

    @pytest.mark.parametrize("shape", [(), (5,), (3, 4), (2, 3, 4, 5, 6)], ids=str)
    def test_rank_error_like_torch(self, shape):
        # Only (C, H, W) and (N, C, H, W): torch's ValueError and message for any other rank.
        x = torch.randn(shape)
        with pytest.raises(ValueError) as theirs:
            nn.Softmax2d()(x)
        with pytest.raises(ValueError, match=f"^{re.escape(str(theirs.value))}$"):
            TN.Softmax2d()(x)
        assert f"got {len(shape)}D instead" in str(theirs.value)
