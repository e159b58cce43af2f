"""Shared test grid: devices, dtypes, tolerances, input layouts, special values and the ELU-family
variants, with float64 reference formulas.

Everything here is a reference or a generator of inputs; nothing here calls ``torch_ext``.
"""

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

CUDA_AVAILABLE = torch.cuda.is_available()

requires_cuda = pytest.mark.skipif(not CUDA_AVAILABLE, reason="CUDA is not available on this machine")

# cpu always; cuda is collected everywhere (so the grid is visible) and skipped where no GPU is present.
DEVICES = [
    pytest.param("cpu", id="cpu"),
    pytest.param("cuda", id="cuda", marks=requires_cuda),
]

DTYPE_NAMES = {
    torch.float32: "float32",
    torch.float64: "float64",
    torch.float16: "float16",
    torch.bfloat16: "bfloat16",
}
FLOAT_DTYPES = [pytest.param(dt, id=name) for dt, name in DTYPE_NAMES.items()]
REDUCED_DTYPES = (torch.float16, torch.bfloat16)

# Parity with PyTorch and with the float64 formula (same formula, same op-math type; they differ only in
# the last bits of expm1/exp: measured at most 2 ulps in float32 and float64). float32, float16 and
# bfloat16 use assert_close's defaults (the reduced types are rounded from float, so one ulp of the dtype
# covers a one-float-ulp difference before rounding; the float32 atol covers the cancellation in the
# in-place backward, g * input_scale * (y + alpha * scale), when y differs by an ulp). float64 is held far
# tighter than assert_close's 1e-7: 1e-13 is ~450 ulps, which still fails any real formula difference.
TOLERANCES = {
    torch.float32: dict(rtol=1.3e-6, atol=1e-5),
    torch.float64: dict(rtol=1e-13, atol=1e-13),
    torch.float16: dict(rtol=1e-3, atol=1e-3),
    torch.bfloat16: dict(rtol=1.6e-2, atol=1e-5),
}


def tol(dtype: torch.dtype) -> dict:
    return dict(TOLERANCES[dtype])


def ulp_tol(dtype: torch.dtype) -> dict:
    """Tolerance against a float64 reference rounded to ``dtype``: a few ulps, relative only (plus two
    subnormal steps, so outputs in the subnormal range are judged by their absolute error)."""
    fi = torch.finfo(dtype)
    ulps = 1 if dtype in REDUCED_DTYPES else 4  # reduced types: computed in float, rounded once
    return dict(rtol=ulps * fi.eps, atol=2 * fi.smallest_normal * fi.eps)


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
# Inputs
# --------------------------------------------------------------------------------------------

def _generator(seed: int) -> torch.Generator:
    g = torch.Generator()
    g.manual_seed(seed)
    return g


def normal_values(shape, seed: int = 0, std: float = 3.0) -> torch.Tensor:
    """float64 values on the CPU, both signs, mostly within the curved part of ELU."""
    return torch.randn(shape, dtype=torch.float64, generator=_generator(seed)) * std


def away_from_zero_values(shape, seed: int = 0, margin: float = 0.1, high: float = 3.0) -> torch.Tensor:
    """float64 values with margin <= |x| <= high: off ELU's kink at 0, for gradcheck."""
    g = _generator(seed)
    mag = torch.rand(shape, dtype=torch.float64, generator=g) * (high - margin) + margin
    sign = torch.where(torch.rand(shape, dtype=torch.float64, generator=g) < 0.5, -1.0, 1.0)
    return mag * sign


# Each layout builds a tensor of a given shape from a float64 CPU value generator; views are
# taken of a larger base, so the returned tensor has the named strides (and ``_base``).
def _contiguous(shape):
    return lambda values: values(shape)


def _transposed(values):
    return values((13, 10)).t()  # (10, 13), strides (1, 10)


def _sliced_step2(values):
    return values((6, 34))[:, ::2]  # (6, 17), strides (34, 2)


def _offset_slice(values):
    return values((7, 40))[2:, 3:]  # (5, 37), storage offset 83, rows not dense


def _permuted_sliced(values):
    return values((9, 8, 20)).permute(2, 0, 1)[::2]  # (10, 9, 8): permuted and not dense


def _channels_last(values):
    return values((2, 5, 4, 3)).contiguous(memory_format=torch.channels_last)


def _channels_last_3d(values):
    return values((2, 3, 2, 4, 5)).contiguous(memory_format=torch.channels_last_3d)


def _channels_last_large(values):
    return values((4, 32, 24, 24)).contiguous(memory_format=torch.channels_last)


def _expanded(values):
    return values((1, 17)).expand(5, 17)  # stride 0 along dim 0


def _expanded_scalar(values):
    return values(()).expand(4, 6)  # all strides 0


LAYOUT_BUILDERS: dict = {
    "contiguous": _contiguous((4, 5, 13)),
    "scalar_0d": _contiguous(()),
    "single": _contiguous((1,)),
    "empty": _contiguous((0, 4)),
    "empty_middle": _contiguous((3, 0, 5)),
    "odd_1d": _contiguous((1031,)),  # vector body plus a scalar tail
    "large": _contiguous((3, 40009)),  # several parallel chunks (GRAIN_SIZE 32768)
    "transposed": _transposed,
    "sliced_step2": _sliced_step2,
    "offset_slice": _offset_slice,
    "permuted_sliced": _permuted_sliced,
    "channels_last": _channels_last,
    "channels_last_3d": _channels_last_3d,
    "expanded": _expanded,
    "expanded_scalar": _expanded_scalar,
}
ALL_LAYOUTS = list(LAYOUT_BUILDERS)
# Layouts an in-place op may write (no two elements share memory).
WRITABLE_LAYOUTS = [name for name in ALL_LAYOUTS if not name.startswith("expanded")]
SMALL_LAYOUTS = ["contiguous", "scalar_0d", "transposed", "sliced_step2", "channels_last", "expanded"]
LARGE_LAYOUTS = {
    "large": _contiguous((3, 40009)),
    "large_transposed": lambda values: values((40009, 3)).t(),
    "large_sliced": lambda values: values((6, 40009))[::2],
    "large_channels_last": _channels_last_large,
}


def make_input(layout, dtype, device, *, seed=0, values: Optional[Callable] = None, requires_grad=False):
    """A tensor with the given layout (a key of LAYOUT_BUILDERS or LARGE_LAYOUTS, or a builder).

    With requires_grad the *base* is a leaf and the returned tensor is its view (so views keep
    their strides); use ``torch.autograd.grad(out, x)`` to get the gradient with respect to it.
    """
    values = values or (lambda shape: normal_values(shape, seed=seed))
    builder = layout if callable(layout) else {**LAYOUT_BUILDERS, **LARGE_LAYOUTS}[layout]

    def make_base(shape):
        base = values(shape).to(device=device, dtype=dtype)
        return base.requires_grad_(True) if requires_grad else base

    return builder(make_base)


def same_layout_copy(x: torch.Tensor) -> torch.Tensor:
    """A copy of ``x`` with the same sizes, strides and storage offset in a fresh copy of its storage."""
    base = x._base if x._base is not None else x
    storage_copy = torch.empty_strided(base.size(), base.stride(), dtype=x.dtype, device=x.device)
    storage_copy.copy_(base)
    # The view's offset and strides are relative to the same storage as the base.
    return storage_copy.as_strided(x.size(), x.stride(), x.storage_offset()), storage_copy


def values_with_specials(dtype: torch.dtype, seed: int = 0, every: int = 7) -> Callable:
    """A value generator for make_input: normal values with special_values(dtype) at every ``every``-th
    element of the base (cycling through them)."""

    def values(shape):
        v = normal_values(shape, seed=seed)
        flat = v.view(-1)
        n = flat[::every].numel()
        if n:
            sp = special_values(dtype).to(torch.float64)
            flat[::every] = sp.repeat(n // sp.numel() + 1)[:n]
        return v

    return values


def special_values(dtype: torch.dtype) -> torch.Tensor:
    """Edge values, rounded to ``dtype`` (some become 0, -0 or inf in half precision)."""
    fi = torch.finfo(dtype)
    vals = [
        0.0, -0.0, math.nan, math.inf, -math.inf,
        -1e-10, 1e-10, -1e-30, -1e-20, -1e-7, -1e-6, -1e-4, -1e-3, -0.5, -1.0, 1.0, 0.5,
        -5.0, -15.0, -20.0, -30.0, -88.0, -90.0, -100.0, -1000.0, -1e4, 1e4, -1e30, 1e30,
        fi.max, -fi.max, fi.tiny, -fi.tiny, fi.smallest_normal * 0.25, -fi.smallest_normal * 0.25,
        -fi.eps, fi.eps, -fi.eps / 2,
    ]
    return torch.tensor(vals, dtype=torch.float64).to(dtype)


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
