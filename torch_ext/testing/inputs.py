"""Inputs and tolerances of the op table: float64 value generators, tensor layouts (shapes, strides,
memory formats, views), special values and per-dtype tolerances.

Everything here is a reference or a generator of inputs; nothing here calls a torch_ext op.
"""

import math
from typing import Callable, Optional

import torch

DTYPE_NAMES = {
    torch.float32: "float32",
    torch.float64: "float64",
    torch.float16: "float16",
    torch.bfloat16: "bfloat16",
}
FLOAT_DTYPES = tuple(DTYPE_NAMES)
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


# --------------------------------------------------------------------------------------------
# Values
# --------------------------------------------------------------------------------------------

def _generator(seed: int) -> torch.Generator:
    g = torch.Generator()
    g.manual_seed(seed)
    return g


def normal_values(shape, seed: int = 0, std: float = 3.0) -> torch.Tensor:
    """float64 values on the CPU, both signs, mostly within the curved part of ELU."""
    return torch.randn(shape, dtype=torch.float64, generator=_generator(seed)) * std


def grad_output(like: torch.Tensor, seed: int = 1) -> torch.Tensor:
    """A grad_output for ``like``: normal values of its shape, dtype and device (contiguous)."""
    return normal_values(like.shape, seed=seed).to(device=like.device, dtype=like.dtype)


def away_from_zero_values(shape, seed: int = 0, margin: float = 0.1, high: float = 3.0) -> torch.Tensor:
    """float64 values with margin <= |x| <= high: off ELU's kink at 0, for gradcheck."""
    g = _generator(seed)
    mag = torch.rand(shape, dtype=torch.float64, generator=g) * (high - margin) + margin
    sign = torch.where(torch.rand(shape, dtype=torch.float64, generator=g) < 0.5, -1.0, 1.0)
    return mag * sign


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


# --------------------------------------------------------------------------------------------
# Layouts: each builds a tensor of a given shape from a float64 CPU value generator; views are
# taken of a larger base, so the returned tensor has the named strides (and ``_base``).
# --------------------------------------------------------------------------------------------

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


# --------------------------------------------------------------------------------------------
# PReLU: each case builds self (of a float64 value generator, views of larger bases where the
# case is a view) and names its channel count, the size of dim 1 (1 for 0-d and 1-D inputs).
# The comments name the kernel path a case takes on the CPU (see cpu/prelu_kernel.cpp).
# --------------------------------------------------------------------------------------------

PRELU_CASES = {
    "NC": (lambda v: v((6, 5)), 5),
    "NCL": (lambda v: v((4, 3, 9)), 3),
    "NCHW": (lambda v: v((2, 5, 4, 3)), 5),
    "NCHW_channels_last": (lambda v: v((2, 5, 4, 3)).contiguous(memory_format=torch.channels_last), 5),
    "NCDHW": (lambda v: v((2, 3, 2, 4, 5)), 3),
    "NCDHW_channels_last_3d": (lambda v: v((2, 3, 2, 4, 5)).contiguous(memory_format=torch.channels_last_3d), 3),
    "1d": (lambda v: v((37,)), 1),
    "0d": (lambda v: v(()), 1),
    "C1": (lambda v: v((3, 1, 5, 2)), 1),
    "empty_batch": (lambda v: v((0, 4, 3)), 4),
    "empty_channels": (lambda v: v((2, 0, 3)), 0),
    "sliced": (lambda v: v((6, 10, 7))[:, ::2, 1:], 5),  # not dense: staged into a dense copy
    "transposed": (lambda v: v((7, 4, 6)).transpose(0, 2), 4),  # dense, dim-1 stride 6 (neither NC... nor NHWC)
    "permuted_nhwc": (lambda v: v((2, 4, 3, 5)).permute(0, 3, 1, 2), 5),  # channels_last strides, from a view
    "expanded": (lambda v: v((1, 5, 3)).expand(4, 5, 3), 5),  # stride 0: not dense
    "long_rows": (lambda v: v((2, 3, 1100)), 3),  # rows of >= 512 elements: register-reduced segments
    "long_rows_segments": (lambda v: v((2, 2, 40000)), 2),  # several segments per row
    "many_channels": (lambda v: v((3, 3000, 2)), 3000),  # channels * inner > 2048: several channel tiles
    "many_channels_last": (lambda v: v((2, 2500, 2, 3)).contiguous(memory_format=torch.channels_last), 2500),
    "large_NCL": (lambda v: v((64, 3, 400)), 3),  # one channel tile, several row groups
    "large_channels_last": (lambda v: v((4, 24, 20, 20)).contiguous(memory_format=torch.channels_last), 24),
}
# "single": one weight shared by every channel; "per_channel": one weight per channel.
PRELU_WEIGHTS = ["single", "per_channel"]


def weight_values(n: int, seed: int = 0) -> torch.Tensor:
    """n distinct float64 slopes in [-0.6, 1.4] (both signs, and never 0 or 1), shuffled."""
    g = torch.Generator()
    g.manual_seed(seed + 100)
    w = torch.linspace(-0.6, 1.4, n + 2, dtype=torch.float64)[1:-1] if n else torch.empty(0, dtype=torch.float64)
    return w[torch.randperm(n, generator=g)] + 0.013


def make_prelu_case(case, dtype, device, weights="per_channel", *, seed=0, values=None):
    """(self, weight) for a case of PRELU_CASES: weight has 1 element ("single") or one per channel."""
    values = values or (lambda shape: normal_values(shape, seed=seed))
    builder, channels = PRELU_CASES[case]
    x = builder(lambda shape: values(shape).to(device=device, dtype=dtype))
    n = 1 if weights == "single" else channels
    w = weight_values(n, seed).to(device=device, dtype=dtype)
    return x, w
