"""Shared test grid: devices, dtypes, tolerances, input layouts, special values and the ELU-family
variants, with float64 reference formulas.

Everything here is a reference or a generator of inputs; nothing here calls a torch_ext op.
"""

import contextlib
import dataclasses
import math
import os
import pathlib
import re
import subprocess
import sys
from typing import Callable, Optional

import numpy as np
import pytest
import torch
import torch.nn.functional as F

# The inputs, layouts and tolerances are the op table's (torch_ext.testing); re-exported for the tests.
from torch_ext.testing.inputs import (  # noqa: F401
    ALL_LAYOUTS,
    DTYPE_NAMES,
    LARGE_LAYOUTS,
    LAYOUT_BUILDERS,
    REDUCED_DTYPES,
    SMALL_LAYOUTS,
    TOLERANCES,
    WRITABLE_LAYOUTS,
    away_from_zero_values,
    grad_output,
    make_input,
    normal_values,
    same_layout_copy,
    special_values,
    tol,
    ulp_tol,
    values_with_specials,
)

CUDA_AVAILABLE = torch.cuda.is_available()

requires_cuda = pytest.mark.skipif(not CUDA_AVAILABLE, reason="CUDA is not available on this machine")

# cpu always; cuda is collected everywhere (so the grid is visible) and skipped where no GPU is present.
DEVICES = [
    pytest.param("cpu", id="cpu"),
    pytest.param("cuda", id="cuda", marks=requires_cuda),
]

FLOAT_DTYPES = [pytest.param(dt, id=name) for dt, name in DTYPE_NAMES.items()]


@contextlib.contextmanager
def compiling_with_decompositions(decomposed: bool):
    """Inductor compiles inside the block with every torch_ext.inductor decomposition, or with none, and
    without its caches (they do not key on the choice)."""
    from torch_ext import inductor

    with inductor.decomposing(inductor.DECOMPOSABLE if decomposed else ()), \
            torch.compiler.config.patch(force_disable_caches=True):
        yield


def dtype_id(dt) -> str:
    return str(dt).replace("torch.", "")


# Small layouts for gradcheck (its cost grows with the element count).
GRADCHECK_LAYOUTS = {
    "contiguous": lambda values: values((3, 4)),
    "transposed": lambda values: values((4, 3)).t(),
    "sliced_step2": lambda values: values((3, 8))[:, ::2],
    "channels_last": lambda values: values((1, 3, 2, 2)).contiguous(memory_format=torch.channels_last),
}
GRADCHECK_LAYOUT_PARAMS = [pytest.param(fn, id=name) for name, fn in GRADCHECK_LAYOUTS.items()]


def nonleaf_input(layout, dtype, device, seed=3):
    """(leaf, x): x has the layout and is computed from the leaf (a view of, or a copy of, ``leaf * 1``)."""
    leaves = []

    def values(shape):
        leaf = normal_values(shape, seed=seed).to(device=device, dtype=dtype).requires_grad_()
        leaves.append(leaf)
        return leaf * 1

    x = make_input(layout, dtype, device, values=values)
    return leaves[0], x


def assert_close(actual, expected, *, dtype=None, **kw):
    """assert_close with the per-dtype tolerance, NaN == NaN, and exact dtype/device checks."""
    dtype = dtype or expected.dtype
    opts = tol(dtype)
    opts.update(kw)
    opts.setdefault("equal_nan", True)
    torch.testing.assert_close(actual, expected, **opts)


def assert_close_off_nan(actual, expected, saved, **kw):
    """Backward parity with PyTorch where the saved tensor (input or result) is not NaN.

    At a NaN, PyTorch's vectorized CPU elu_backward gives NaN (its blend sends NaN to the negative branch)
    while its scalar loop and its CUDA kernel give grad * scale (``b <= 0`` is false); the float64 reference,
    which follows ATen's formula, decides those positions instead.
    """
    keep = ~torch.isnan(saved)
    assert_close(actual[keep], expected[keep], **kw)


def nan_at_nan_inputs(expected: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
    """expected (ATen's gradient or noise), NaN where x is NaN: torch_ext's gradient of a NaN input is NaN in every op
    (ATen's PReLU and RReLU gradients are finite there, its ELU gradient depends on the kernel path)."""
    return torch.where(torch.isnan(x.detach()), torch.full_like(expected, math.nan), expected)


def assert_same_zero_signs(actual: torch.Tensor, expected: torch.Tensor):
    """Where ``expected`` is a (signed) zero, ``actual`` must be the same zero."""
    zero = expected == 0
    if not bool(zero.any()):
        return
    a = torch.signbit(actual[zero].float().cpu())
    e = torch.signbit(expected[zero].float().cpu())
    bad = (a != e).nonzero().flatten().tolist()
    assert not bad, f"signs of zero differ at {len(bad)} positions (of zero outputs): first {bad[:8]}"


_INT_VIEW = {
    torch.float64: torch.int64,
    torch.float32: torch.int32,
    torch.float16: torch.int16,
    torch.bfloat16: torch.int16,
}


def assert_bitwise_equal(actual: torch.Tensor, expected: torch.Tensor, msg: str = ""):
    assert actual.shape == expected.shape and actual.dtype == expected.dtype, msg
    a = actual.detach().contiguous().view(_INT_VIEW[actual.dtype])
    e = expected.detach().contiguous().view(_INT_VIEW[expected.dtype])
    diff = (a != e).nonzero()
    if diff.numel():
        i = tuple(diff[0].tolist())
        raise AssertionError(
            f"{msg}{': ' if msg else ''}{diff.shape[0]} of {a.numel()} elements differ bitwise, first at {i}: "
            f"{actual[i].item()!r} vs {expected[i].item()!r}"
        )


# --------------------------------------------------------------------------------------------
# ELU family: variants and float64 references
# --------------------------------------------------------------------------------------------

SELU_ALPHA = 1.6732632423543772848170429916717
SELU_SCALE = 1.0507009873554804934193349852946


def elu_reference(x: torch.Tensor, alpha: float, scale: float, input_scale: float) -> torch.Tensor:
    """ELU in float64, rounded once to x's dtype: x > 0 ? scale*x : alpha*scale*expm1(input_scale*x)."""
    xd = x.detach().to(torch.float64)
    y = torch.where(xd > 0, xd * scale, torch.expm1(xd * input_scale) * (alpha * scale))
    return y.to(x.dtype)


def elu_backward_reference(grad, alpha, scale, input_scale, is_result, self_or_result) -> torch.Tensor:
    """ATen's elu_backward in float64: b <= 0 takes the negative branch, and a NaN b gives NaN (ATen's scalar and
    CUDA kernels take the positive branch there, its vectorized CPU kernel gives NaN: torch_ext always NaN)."""
    g = grad.detach().to(torch.float64)
    b = self_or_result.detach().to(torch.float64)
    negcoef = alpha * scale
    if is_result:
        neg = g * input_scale * (b + negcoef)
    else:
        neg = g * input_scale * negcoef * torch.exp(b * input_scale)
    return torch.where(b > 0, g * scale, neg).to(grad.dtype)


@dataclasses.dataclass(frozen=True)
class EluVariant:
    """One point of the ELU family: elu(alpha), celu(alpha) or selu, with its torch counterpart."""

    op: str  # "elu", "celu" or "selu"
    alpha: Optional[float] = None

    @property
    def id(self) -> str:
        return self.op if self.alpha is None else f"{self.op}(alpha={self.alpha:g})"

    @property
    def params(self):
        """(alpha, scale, input_scale) of the underlying elu."""
        if self.op == "elu":
            return (self.alpha, 1.0, 1.0)
        if self.op == "celu":
            return (self.alpha, 1.0, 1.0 / self.alpha)
        return (SELU_ALPHA, SELU_SCALE, 1.0)

    @property
    def inplace_ok(self) -> bool:
        """In-place backward needs alpha >= 0 (it recovers the gradient from the output)."""
        return self.params[0] >= 0

    def torch_fn(self, x, inplace=False):
        if self.op == "elu":
            return F.elu(x, self.alpha, inplace)
        if self.op == "celu":
            return F.celu(x, self.alpha, inplace)
        return F.selu(x, inplace)

    def ext_fn(self, x, inplace=False):
        import torch_ext.functional as TF

        if self.op == "elu":
            return TF.elu(x, self.alpha, inplace)
        if self.op == "celu":
            return TF.celu(x, self.alpha, inplace)
        return TF.selu(x, inplace)

    def ext_op(self, x):
        """The registered out-of-place op, called directly."""
        if self.op == "elu":
            return torch.ops.torch_ext.elu(x, self.alpha)
        if self.op == "celu":
            return torch.ops.torch_ext.celu(x, self.alpha)
        return torch.ops.torch_ext.selu(x)

    def torch_module(self, inplace=False):
        if self.op == "elu":
            return torch.nn.ELU(self.alpha, inplace)
        if self.op == "celu":
            return torch.nn.CELU(self.alpha, inplace)
        return torch.nn.SELU(inplace)

    def ext_module(self, inplace=False):
        import torch_ext.nn as TN

        if self.op == "elu":
            return TN.ELU(self.alpha, inplace)
        if self.op == "celu":
            return TN.CELU(self.alpha, inplace)
        return TN.SELU(inplace)

    def reference(self, x):
        return elu_reference(x, *self.params)

    def backward_reference(self, grad, x):
        return elu_backward_reference(grad, *self.params, False, x)


def variant_params(variants):
    return [pytest.param(v, id=v.id) for v in variants]


ELU_VARIANTS = [
    EluVariant("elu", 1.0),
    EluVariant("elu", 0.5),
    EluVariant("elu", 2.0),
    EluVariant("elu", -0.5),
    # 1/alpha exact in float: PyTorch's celu backward rounds 1/alpha to float, torch_ext need not.
    EluVariant("celu", 1.0),
    EluVariant("celu", 0.5),
    EluVariant("celu", 2.0),
    EluVariant("celu", -2.0),
    EluVariant("selu"),
]
INPLACE_VARIANTS = [v for v in ELU_VARIANTS if v.inplace_ok]
NEGATIVE_ALPHA_VARIANTS = [v for v in ELU_VARIANTS if not v.inplace_ok]


def parse_capabilities(text: str) -> list:
    return [t.upper() for t in re.split(r"[\s,;]+", text.strip()) if t]


def run_with_cpu_isa(isa: str, script: str, *args: str) -> None:
    """Runs `script` (Python source; argv[1] is the ISA name in capitals, then `args`) in a subprocess whose
    DispatchStubs pick the `isa` CPU kernels (ATEN_CPU_CAPABILITY), and asserts it ends by printing OK.
    Skips when that kernel was not compiled, when this CPU cannot run it, or when it is this process's own
    ISA (every other test runs that one)."""
    import torch_ext

    compiled = parse_capabilities(torch_ext.build_info()["cpu_capabilities_compiled"])
    assert "DEFAULT" in compiled, compiled
    if isa.upper() not in compiled:
        pytest.skip(f"torch_ext was built without the {isa} kernel (compiled: {compiled})")
    rank = {"DEFAULT": 0, "AVX2": 1, "AVX512": 2}
    here = torch.backends.cpu.get_cpu_capability()
    if rank.get(here, -1) < rank[isa.upper()]:
        pytest.skip(f"this CPU runs {here}, not {isa}")
    if here == isa.upper():
        pytest.skip(f"{isa} is this process's ISA: every other test runs its kernel")
    tests_dir = pathlib.Path(__file__).resolve().parent
    root = tests_dir.parent
    env = dict(os.environ, ATEN_CPU_CAPABILITY=isa, PYTHONPATH=os.pathsep.join([str(root), str(tests_dir)]))
    proc = subprocess.run(
        [sys.executable, "-c", script, isa.upper(), *args],
        env=env, cwd=root, capture_output=True, text=True, timeout=300,
    )
    assert proc.returncode == 0, f"stdout:\n{proc.stdout}\nstderr:\n{proc.stderr}"
    assert proc.stdout.strip().endswith("OK"), proc.stdout


# A NumPy Philox4x32-10 (Salmon et al.), independent of the C++ one, for RReLU's slopes: element i takes lane
# i % 4 of block (counter low = offset / 4, counter high = i / 4) under key `seed`.
_M32 = np.uint64(0xFFFFFFFF)


def philox_blocks(seed: int, offset: int, groups: np.ndarray) -> np.ndarray:
    """The four 32-bit lanes, shape [len(groups), 4], of the Philox blocks with counter high = groups."""
    groups = np.asarray(groups, dtype=np.uint64)
    block = offset // 4
    c0 = np.full_like(groups, block & 0xFFFFFFFF)
    c1 = np.full_like(groups, block >> 32)
    c2, c3 = groups & _M32, groups >> np.uint64(32)
    k0, k1 = np.uint64(seed & 0xFFFFFFFF), np.uint64(seed >> 32)
    mul_a, mul_b = np.uint64(0xD2511F53), np.uint64(0xCD9E8D57)
    for _ in range(10):
        p0, p1 = mul_a * c0, mul_b * c2
        c0, c1, c2, c3 = (p1 >> np.uint64(32)) ^ c1 ^ k0, p1 & _M32, (p0 >> np.uint64(32)) ^ c3 ^ k1, p0 & _M32
        k0 = (k0 + np.uint64(0x9E3779B9)) & _M32
        k1 = (k1 + np.uint64(0xBB67AE85)) & _M32
    return np.stack([c0, c1, c2, c3], axis=-1)


def philox_slopes_float32(bits: np.ndarray, lower: float, upper: float) -> np.ndarray:
    """float32 slopes: fma((bits >> 8) * 2^-24, upper - lower, lower), clamped to upper. The product and sum are
    exact in float64 for these bounds, so one rounding to float32 is the fma's."""
    lo, hi = np.float32(lower), np.float32(upper)
    u = (bits >> np.uint64(8)).astype(np.float64) * 2.0**-24
    r = (u * np.float64(np.float32(hi - lo)) + np.float64(lo)).astype(np.float32)
    return np.minimum(r, hi)


# --------------------------------------------------------------------------------------------
# Property tests: random shapes, strides and offsets (hypothesis)
# --------------------------------------------------------------------------------------------

@dataclasses.dataclass(frozen=True)
class StridedLayout:
    """A view's recipe: a base of ``base_shape`` in the permuted order ``perm``, permuted back and sliced with
    ``steps`` from ``offsets``, which gives any strides and any storage offset."""

    shape: list
    steps: list
    offsets: list
    perm: list

    @property
    def base_shape(self) -> list:
        full = [o + max(s, 1) * st_ for s, st_, o in zip(self.shape, self.steps, self.offsets)]
        return [full[p] for p in self.perm]

    def view(self, base: torch.Tensor) -> torch.Tensor:
        """The view of ``base`` (of base_shape) with this layout's shape."""
        x = base.permute([self.perm.index(i) for i in range(len(self.perm))])
        x = x[tuple(slice(o, o + s * st_, st_) for s, st_, o in zip(self.shape, self.steps, self.offsets))]
        assert list(x.shape) == list(self.shape)
        return x


def draw_strided_layout(data, min_size: int = 0, max_size: int = 5, offsets: bool = True) -> StridedLayout:
    """Draws up to 4 dims of min_size..max_size elements, steps 1..3, offsets 0..1 (or none) and a permutation."""
    from hypothesis import strategies as st

    ndim = data.draw(st.integers(0, 4), label="ndim")
    shape = data.draw(st.lists(st.integers(min_size, max_size), min_size=ndim, max_size=ndim), label="shape")
    steps = data.draw(st.lists(st.integers(1, 3), min_size=ndim, max_size=ndim), label="steps")
    offs = data.draw(st.lists(st.integers(0, 1), min_size=ndim, max_size=ndim), label="offsets") if offsets \
        else [0] * ndim
    perm = data.draw(st.permutations(range(ndim)), label="perm")
    return StridedLayout(shape, steps, offs, perm)


def with_specials_every(base: torch.Tensor, dtype: torch.dtype, every: int) -> torch.Tensor:
    """base (float64) with every ``every``-th element (in memory order) replaced by the dtype's special values."""
    if every:
        flat = base.view(-1)
        n = flat[::every].numel()
        sp = special_values(dtype).double()
        flat[::every] = sp.repeat(n // sp.numel() + 1)[:n]
    return base


# grad_output and a saved tensor of the same shape in different layouts: the backward ops' mixed-layout tests.
MIXED_LAYOUT_PAIRS = [
    ("contiguous", "transposed"),
    ("transposed", "contiguous"),
    ("channels_last", "contiguous"),
    ("contiguous", "channels_last"),
    ("sliced_step2", "transposed"),
    ("expanded", "contiguous"),
    ("contiguous", "expanded"),
]


def mixed_layout_pair(g_layout: str, other_layout: str, dtype, device):
    """(grad_output, the other tensor) of one shape in the given layouts (a pair of MIXED_LAYOUT_PAIRS)."""
    if "channels_last" in (g_layout, other_layout):
        mk = {
            "channels_last": lambda v: v((2, 5, 4, 3)).contiguous(memory_format=torch.channels_last),
            "contiguous": lambda v: v((2, 5, 4, 3)),
        }
    else:
        mk = {
            "contiguous": lambda v: v((6, 17)),
            "transposed": lambda v: v((17, 6)).t(),
            "sliced_step2": lambda v: v((6, 34))[:, ::2],
            "expanded": lambda v: v((1, 17)).expand(6, 17),
        }
    return make_input(mk[g_layout], dtype, device, seed=1), make_input(mk[other_layout], dtype, device, seed=2)
