"""softplus (and softplus_backward) against PyTorch and float64 formulas.

Two ranges are checked. Where beta * x <= threshold stays below exp's overflow point (threshold <= 20, the
ATen-parity range), torch_ext must agree with F.softplus, branch decisions included. Above it (a large
threshold) ATen's log1p(exp(beta * x)) overflows to inf and its backward gives inf / inf = NaN, while
torch_ext stays finite: there the float64 closed form is the reference, and ATen only where it is finite.

The checks every op shares (parity over layouts x dtypes x the (beta, threshold) grid, special values, gradcheck with
forward-mode AD, compile, each CPU ISA in ATen's range, CUDA graphs) run over the softplus row of
torch_ext.testing.op_db in tests/test_op_db.py and tests/test_ops.py; this file keeps what is particular to softplus:
the branch point, the raw backward op, large beta and the large-threshold range.
"""

import inspect
import math
import re
import textwrap

import pytest
import torch
import torch._dynamo.testing
import torch.nn as nn
import torch.nn.functional as F
from hypothesis import given, strategies as st

import torch_ext
import torch_ext.functional as TF
import torch_ext.nn as TN
from common_utils import (
    grad_output,
    dtype_id,
    DEVICES,
    DTYPE_NAMES,
    FLOAT_DTYPES,
    REDUCED_DTYPES,
    assert_bitwise_equal,
    assert_close,
    make_input,
    normal_values,
    run_with_cpu_isa,
    requires_cuda,
    special_values,
    tol,
    ulp_tol,
    values_with_specials,
    draw_strided_layout,
    with_specials_every,
    MIXED_LAYOUT_PAIRS,
    mixed_layout_pair,
)
from torch_ext.testing import op_db_by_name
from torch_ext.testing.op_db import SOFTPLUS_ARGS_GRID

ops = torch.ops.torch_ext

# --------------------------------------------------------------------------------------------
# float64 references. The branch (beta * x > threshold) is decided as the kernels decide it: the
# product and threshold in the op-math type (float for float, half and bfloat16; double for double).
# --------------------------------------------------------------------------------------------


def _opmath(dtype: torch.dtype) -> torch.dtype:
    return torch.float64 if dtype == torch.float64 else torch.float32


def _beta_in_opmath(dtype: torch.dtype, beta: float) -> float:
    return float(torch.tensor(beta, dtype=_opmath(dtype)))


def _bx(x: torch.Tensor, beta: float) -> torch.Tensor:
    """beta * x in the op-math type, rounded as ATen's kernels round it."""
    om = _opmath(x.dtype)
    return x.detach().to(om) * torch.tensor(beta, dtype=om, device=x.device)


def linear_mask(x: torch.Tensor, beta: float, threshold: float) -> torch.Tensor:
    """Where ATen's softplus takes its linear branch: beta * x > threshold, both sides in the op-math type."""
    return _bx(x, beta) > torch.tensor(threshold, dtype=_opmath(x.dtype), device=x.device)


def softplus_reference(x: torch.Tensor, beta: float, threshold: float) -> torch.Tensor:
    """softplus in float64 from the op-math product bx = beta * x, rounded once to x's dtype: x on the linear
    branch, else log1p(exp(bx)) / beta, evaluated as x + log1p(exp(-bx)) / beta where bx > 0 (the same value,
    finite for any bx)."""
    xd = x.detach().to(torch.float64)
    b = _beta_in_opmath(x.dtype, beta)
    bx = _bx(x, beta).to(torch.float64)
    soft = torch.where(bx > 0, xd + torch.log1p(torch.exp(-bx)) / b, torch.log1p(torch.exp(bx)) / b)
    return torch.where(linear_mask(x, beta, threshold), xd, soft).to(x.dtype)


def _sigmoid64(bx: torch.Tensor) -> torch.Tensor:
    e = torch.exp(-bx.abs())
    return torch.where(bx > 0, 1 / (1 + e), e / (1 + e))


def _sigmoid_derivative64(bx: torch.Tensor) -> torch.Tensor:
    """s * (1 - s) as e / (1 + e)^2, e = exp(-|bx|): no 1 - s to cancel, even in float64."""
    e = torch.exp(-bx.abs())
    return e / (1 + e) ** 2


def softplus_backward_reference(g: torch.Tensor, x: torch.Tensor, beta: float, threshold: float) -> torch.Tensor:
    """ATen's softplus_backward in float64: g on the linear branch, else g * sigmoid(beta * x)."""
    gd = g.detach().to(torch.float64)
    bx = _bx(x, beta).to(torch.float64)
    return torch.where(linear_mask(x, beta, threshold), gd, gd * _sigmoid64(bx)).to(g.dtype)


def softplus_double_backward_reference(gg, g, x, beta, threshold):
    """ATen's softplus_double_backward in float64: d/dx of softplus_backward, gg * g * beta * s * (1 - s) where
    beta * x < threshold (note `<`: 0 at beta * x == threshold)."""
    bx = _bx(x, beta).to(torch.float64)
    d = gg.detach().double() * g.detach().double() * _beta_in_opmath(x.dtype, beta) * _sigmoid_derivative64(bx)
    below = bx < torch.tensor(threshold, dtype=_opmath(x.dtype)).double()
    return (d * below).to(x.dtype)  # the mask multiplies, as in ATen: NaN stays NaN


# --------------------------------------------------------------------------------------------
# The grid
# --------------------------------------------------------------------------------------------

# (beta, threshold) in ATen's range: the op table's grid (op_db.SOFTPLUS_ARGS_GRID), which the shared parity tests run
# too. Every beta of {0.5, 1, 2, 10} meets every threshold of {20, 1, 0, -1} somewhere; -1.5 is a negative beta.
PARAMS = [pytest.param((beta, threshold), id=f"b{beta:g}_t{threshold:g}") for beta, threshold in SOFTPLUS_ARGS_GRID]
PARAMS_SMALL = [p for p in PARAMS if p.id in ("b1_t20", "b2_t-1", "b10_t0", "b0.5_t20", "b-1.5_t20")]
# Grid points where every beta meets every threshold (the branch boundary tests).
BOUNDARY_PARAMS = [
    pytest.param((b, t), id=f"b{b:g}_t{t:g}") for b in (0.5, 1.0, 2.0, 10.0, -1.5) for t in (20.0, 1.0, 0.0, -1.0)
]
# Thresholds above exp's overflow point: ATen overflows, torch_ext must not.
LARGE_THRESHOLD_PARAMS = [
    pytest.param((1.0, 100.0), id="b1_t100"),
    pytest.param((1.0, 1e4), id="b1_t1e4"),
    pytest.param((10.0, 2000.0), id="b10_t2000"),
    pytest.param((0.5, float("inf")), id="b0.5_tinf"),
    pytest.param((-2.0, 1e3), id="b-2_t1e3"),
]


def _spread_values(beta, threshold, seed=0):
    """A value generator for make_input: normal values, half of them centred on the branch point threshold / beta
    (so that both branches are populated whatever beta and threshold are)."""

    def values(shape):
        v = normal_values(shape, seed=seed)
        flat = v.view(-1)
        flat[::2] = flat[::2] + threshold / beta
        return v

    return values


def _off_kink_values(beta, threshold, margin=0.05):
    """float64 values in both branches with |x - threshold / beta| >= margin (for gradcheck: the branch point is a
    jump in value unless threshold is large, and always one in the second derivative)."""

    def values(shape):
        v = _spread_values(beta, threshold)(shape)
        near = (v - threshold / beta).abs() < margin
        return torch.where(near, v + 2 * margin, v)

    return values


def _assert_close_where_finite(actual, aten, **kw):
    """Parity with ATen where ATen's result is finite."""
    keep = torch.isfinite(aten)
    assert_close(actual[keep], aten[keep], **kw)


class TestSoftplus:
    # ------------------------------------------------------------------------------------------
    # Forward and backward parity with torch.nn.functional, over device x dtype x params x layout
    # ------------------------------------------------------------------------------------------

    # (tests/test_op_db.py::test_forward_parity, test_backward_parity and test_double_backward_matches_torch, over the
    # softplus row's parity_samples: every layout under every (beta, threshold) of PARAMS, half the values on the
    # branch point's far side, special values mixed in, against torch and the float64 truth.)

    @pytest.mark.parametrize("dtype", FLOAT_DTYPES)
    @pytest.mark.parametrize("device", DEVICES)
    def test_linear_branch_is_the_input(self, device, dtype):
        # Where ATen takes the linear branch (beta * x > threshold in the op-math type), the output is x bit for bit:
        # on every parity sample of the row (both branches populated).
        linear = 0
        for name, make in op_db_by_name["softplus"].parity_samples.items():
            s = make(dtype, device)
            x, (beta, threshold) = s.input, s.args
            out = TF.softplus(x, beta, threshold)
            lin = linear_mask(x, beta, threshold)
            assert_bitwise_equal(out[lin], x[lin], f"{name}: linear branch")
            linear += int(lin.sum())
        assert linear > 1000, linear

    @pytest.mark.parametrize("device", DEVICES)
    def test_raw_op_and_defaults(self, device):
        x = make_input("contiguous", torch.float32, device, values=lambda s: normal_values(s) * 10)
        # Schema defaults: beta = 1, threshold = 20, as ATen's.
        assert_close(ops.softplus(x), F.softplus(x))
        assert_close(ops.softplus.default(x), torch.ops.aten.softplus(x))
        assert_close(ops.softplus(x, 2.0), F.softplus(x, 2.0))
        assert_close(TF.softplus(x), F.softplus(x))
        assert_close(TF.softplus(x, threshold=1.0), F.softplus(x, threshold=1.0))
        assert_close(TF.softplus(input=x, beta=2.0, threshold=3.0), F.softplus(input=x, beta=2.0, threshold=3.0))
        # Python ints for the float arguments, as F.softplus accepts them.
        assert_close(TF.softplus(x, 2, 1), F.softplus(x, 2, 1))

    def test_functional_signature(self):
        # F.softplus is a builtin with no inspectable signature; its docstring's first line states it:
        # "softplus(input, beta=1, threshold=20) -> Tensor".
        m = re.search(r"softplus\((.*?)\) -> Tensor", F.softplus.__doc__)
        ref = [a.strip().partition("=") for a in m.group(1).split(",")]
        ext = inspect.signature(TF.softplus).parameters.values()
        assert [p.name for p in ext] == [name for name, _, _ in ref]
        assert [p.default for p in ext][1:] == [float(default) for _, _, default in ref[1:]]
        assert "softplus" in TF.__all__ and "Softplus" in TN.__all__

    # ------------------------------------------------------------------------------------------
    # The backward op, against torch.ops.aten.softplus_backward
    # ------------------------------------------------------------------------------------------

    @pytest.mark.parametrize("layout", ["contiguous", "transposed", "channels_last", "expanded", "large"])
    @pytest.mark.parametrize("params", PARAMS)
    @pytest.mark.parametrize("dtype", FLOAT_DTYPES)
    @pytest.mark.parametrize("device", DEVICES)
    def test_backward_op_vs_aten(self, device, dtype, params, layout):
        beta, threshold = params
        x = make_input(layout, dtype, device, values=values_with_specials(dtype))
        g = grad_output(x)
        out = ops.softplus_backward(g, x, beta, threshold)
        expected = torch.ops.aten.softplus_backward(g, x, beta, threshold)
        assert out.dtype == dtype and out.shape == x.shape
        assert out.stride() == torch.empty_like(g).stride()
        assert_close(out, expected)
        assert_close(out, softplus_backward_reference(g, x, beta, threshold))

    @pytest.mark.parametrize("g_layout,x_layout", MIXED_LAYOUT_PAIRS)
    @pytest.mark.parametrize("dtype", FLOAT_DTYPES)
    @pytest.mark.parametrize("device", DEVICES)
    def test_backward_mixed_layouts(self, device, dtype, g_layout, x_layout):
        # grad_output and self of the same shape but different strides.
        g, x = mixed_layout_pair(g_layout, x_layout, dtype, device)
        for beta, threshold in ((1.0, 20.0), (2.0, 1.0), (0.5, -1.0)):
            out = ops.softplus_backward(g, x, beta, threshold)
            assert out.stride() == torch.empty_like(g).stride()
            assert_close(out, torch.ops.aten.softplus_backward(g, x, beta, threshold))
            assert_close(out, softplus_backward_reference(g, x, beta, threshold))

    # ------------------------------------------------------------------------------------------
    # The branch point: values at threshold / beta and an ulp or two either side
    # ------------------------------------------------------------------------------------------

    @staticmethod
    def _around(value: float, dtype: torch.dtype, device, steps: int = 3) -> torch.Tensor:
        """value rounded to dtype and its `steps` neighbours in the dtype on either side."""
        centre = torch.tensor([value], dtype=torch.float64).to(dtype)
        up, down = [centre], [centre]
        for _ in range(steps):
            up.append(torch.nextafter(up[-1], torch.full_like(centre, float("inf"))))
            down.append(torch.nextafter(down[-1], torch.full_like(centre, float("-inf"))))
        return torch.cat(list(reversed(down[1:])) + up).to(device)

    @pytest.mark.parametrize("params", BOUNDARY_PARAMS)
    @pytest.mark.parametrize("dtype", FLOAT_DTYPES)
    @pytest.mark.parametrize("device", DEVICES)
    def test_at_threshold(self, device, dtype, params):
        beta, threshold = params
        # The branch point, and its neighbours in the dtype; repeated past a vector width so that vector
        # bodies and tails both see each value.
        x = self._around(threshold / beta, dtype, device).repeat(11)
        lin = linear_mask(x, beta, threshold)
        assert lin.any() and (~lin).any(), "the values must straddle the branch point"

        out = TF.softplus(x, beta, threshold)
        assert_close(out, F.softplus(x, beta, threshold))
        torch.testing.assert_close(out, softplus_reference(x, beta, threshold), **ulp_tol(dtype))
        # The same branch as ATen at every element: the linear one gives x exactly.
        assert_bitwise_equal(out[lin], x[lin], "linear branch")

        xr = x.detach().requires_grad_()
        g = torch.full_like(x, 0.75)
        (gx,) = torch.autograd.grad(TF.softplus(xr, beta, threshold), xr, g)
        (gx_torch,) = torch.autograd.grad(F.softplus(xr, beta, threshold), xr, g)
        assert_close(gx, gx_torch)
        torch.testing.assert_close(gx, softplus_backward_reference(g, x, beta, threshold), **ulp_tol(dtype))
        assert_bitwise_equal(gx[lin], g[lin], "linear branch gradient")

    @pytest.mark.parametrize("params", BOUNDARY_PARAMS)
    @pytest.mark.parametrize("device", DEVICES)
    def test_at_threshold_double_backward(self, device, params):
        # At beta * x == threshold the first derivative takes the sigmoid branch (`>` is false) and the second
        # derivative is 0 (`<` is false), as in ATen.
        beta, threshold = params
        x = self._around(threshold / beta, torch.float64, device).requires_grad_()
        g = torch.full_like(x, 0.75).requires_grad_()
        v = torch.linspace(0.5, 1.5, x.numel(), dtype=torch.float64, device=device)

        def second_order(fn):
            gx = torch.autograd.grad(fn(x, beta, threshold), x, g, create_graph=True)[0]
            return torch.autograd.grad((gx * v).sum(), (x, g))

        dx, dg = second_order(TF.softplus)
        dx_ref, dg_ref = second_order(F.softplus)
        assert_close(dx, dx_ref)
        assert_close(dg, dg_ref)
        assert_close(dx, softplus_double_backward_reference(v, g, x, beta, threshold))

    # ------------------------------------------------------------------------------------------
    # Exact values: zeros, NaN, infinities, tiny and huge magnitudes, large beta
    # ------------------------------------------------------------------------------------------

    # (Special values under every (beta, threshold) of PARAMS: tests/test_op_db.py::test_special_values_*.)

    @pytest.mark.parametrize("beta", [30.0, 1e3, 1e5, 1e30], ids=lambda b: f"beta{b:g}")
    @pytest.mark.parametrize("dtype", FLOAT_DTYPES)
    @pytest.mark.parametrize("device", DEVICES)
    def test_large_beta(self, device, dtype, beta):
        # Large beta: softplus approaches relu; beta * x overflows to inf for beta = 1e30 and |x| large.
        x = torch.cat([special_values(dtype).double(), torch.linspace(-0.1, 0.1, 401, dtype=torch.float64)])
        x = x.to(device=device, dtype=dtype)
        for threshold in (20.0, 0.0):
            out = TF.softplus(x, beta, threshold)
            expected = F.softplus(x, beta, threshold)
            assert_close(out, expected)
            torch.testing.assert_close(out, softplus_reference(x, beta, threshold), equal_nan=True, **ulp_tol(dtype))
            xr = x.detach().requires_grad_()
            g = grad_output(x)
            (gx,) = torch.autograd.grad(TF.softplus(xr, beta, threshold), xr, g)
            (gx_torch,) = torch.autograd.grad(F.softplus(xr, beta, threshold), xr, g)
            assert_close(gx, gx_torch)
            assert_close(gx, softplus_backward_reference(g, x, beta, threshold))

    @pytest.mark.parametrize("params", PARAMS)
    @pytest.mark.parametrize("dtype", FLOAT_DTYPES)
    @pytest.mark.parametrize("device", DEVICES)
    def test_sweep_parity_range(self, device, dtype, params):
        # A dense sweep through both branches: from far into the flat tail (exp underflows) to past the
        # branch point, in ATen's range, where ATen never overflows.
        beta, threshold = params
        lo, hi = sorted(((threshold - 120.0) / beta, (threshold + 20.0) / beta))
        x = torch.linspace(lo, hi, 5003, dtype=torch.float64).to(device=device, dtype=dtype)
        out = TF.softplus(x, beta, threshold)
        expected = F.softplus(x, beta, threshold)
        assert torch.isfinite(expected).all()
        assert_close(out, expected)
        assert_close(out, softplus_reference(x, beta, threshold))
        g = grad_output(x)
        gx = ops.softplus_backward(g, x, beta, threshold)
        assert_close(gx, torch.ops.aten.softplus_backward(g, x, beta, threshold))
        assert_close(gx, softplus_backward_reference(g, x, beta, threshold))

    # ------------------------------------------------------------------------------------------
    # Stability above exp's overflow point (large threshold): finite where ATen overflows
    # ------------------------------------------------------------------------------------------

    @pytest.mark.parametrize("params", LARGE_THRESHOLD_PARAMS)
    @pytest.mark.parametrize("dtype", FLOAT_DTYPES)
    @pytest.mark.parametrize("device", DEVICES)
    def test_large_threshold_stable(self, device, dtype, params):
        beta, threshold = params
        fi = torch.finfo(dtype)
        # Up to beta * x = 1000 (dtype permitting): past float's exp overflow (88.7) and double's (709.8).
        top = min(1000.0 / abs(beta), fi.max / 2)
        x = torch.linspace(-top, top, 4001, dtype=torch.float64)
        x = torch.cat([x, torch.tensor([0.0, -0.0, float("inf"), float("-inf"), fi.max, -fi.max])])
        x = x.to(device=device, dtype=dtype)
        g = grad_output(x)

        out = TF.softplus(x, beta, threshold)
        ref = softplus_reference(x, beta, threshold)
        opts = ulp_tol(dtype)
        opts["atol"] *= 4  # exp() lands in the subnormal range in the flat tail, then / beta
        torch.testing.assert_close(out, ref, **opts)
        assert torch.isfinite(out[torch.isfinite(ref)]).all()
        gx = ops.softplus_backward(g, x, beta, threshold)
        gref = softplus_backward_reference(g, x, beta, threshold)
        torch.testing.assert_close(gx, gref, **tol(dtype))
        assert not torch.isnan(gx).any()

        # ATen overflows where threshold lets beta * x past log(max) of the op-math type (the reason for the
        # stable form), and agrees wherever it does not.
        aten = F.softplus(x, beta, threshold)
        aten_g = torch.ops.aten.softplus_backward(g, x, beta, threshold)
        if threshold > math.log(torch.finfo(_opmath(dtype)).max):
            assert not torch.isfinite(aten[torch.isfinite(ref)]).all()
            assert torch.isnan(aten_g).any()
        _assert_close_where_finite(out, aten)
        _assert_close_where_finite(gx, aten_g)

    @pytest.mark.parametrize("params", LARGE_THRESHOLD_PARAMS)
    @pytest.mark.parametrize("device", DEVICES)
    def test_large_threshold_autograd(self, device, params):
        # Autograd end to end in float32, and the second order (its sigmoid'(bx) term must not overflow either).
        beta, threshold = params
        x = (torch.linspace(-300.0, 300.0, 601) / abs(beta)).to(device).requires_grad_()
        g = grad_output(x).requires_grad_()
        gx = torch.autograd.grad(TF.softplus(x, beta, threshold), x, g, create_graph=True)[0]
        assert_close(gx, softplus_backward_reference(g, x, beta, threshold))
        v = grad_output(x, seed=4)
        dx, dg = torch.autograd.grad((gx * v).sum(), (x, g))
        assert torch.isfinite(dx).all() and torch.isfinite(dg).all()
        assert_close(dx, softplus_double_backward_reference(v, g, x, beta, threshold))
        assert_close(dg, softplus_backward_reference(v, x, beta, threshold))

    # ------------------------------------------------------------------------------------------
    # gradcheck / gradgradcheck in float64, off the branch point
    # ------------------------------------------------------------------------------------------

    # (Of the functional under every (beta, threshold) of PARAMS, with forward-mode AD: tests/test_op_db.py::
    # test_gradcheck. Here: softplus_backward's own autograd.)

    @pytest.mark.parametrize("params", PARAMS_SMALL + LARGE_THRESHOLD_PARAMS[:1])
    @pytest.mark.parametrize("device", DEVICES)
    def test_gradcheck_backward_op(self, device, params):
        # softplus_backward as a function of both of its tensors (its own Autograd kernel), to third order.
        beta, threshold = params
        x = _off_kink_values(beta, threshold)((3, 5)).to(device).requires_grad_()
        g = normal_values((3, 5), seed=7).to(device).requires_grad_()

        def bwd(g, x):
            return ops.softplus_backward(g, x, beta, threshold)

        assert torch.autograd.gradcheck(bwd, (g, x))
        assert torch.autograd.gradgradcheck(bwd, (g, x))

    # ------------------------------------------------------------------------------------------
    # torch.library.opcheck: schema, autograd registration, fake tensors, AOT dispatch
    # ------------------------------------------------------------------------------------------

    # (tests/test_ops.py::test_opcheck runs opcheck over the softplus row's OpcheckInfo.)

    # ------------------------------------------------------------------------------------------
    # torch.compile (fullgraph) and torch.export
    # ------------------------------------------------------------------------------------------

    # (Fullgraph of the op and of the layer, dynamic shapes: tests/test_op_db.py::test_compile_*.)

    @pytest.mark.parametrize("device", DEVICES)
    def test_compile_inductor(self, device):
        # One case through Inductor: the custom ops become extern kernels between fused pointwise kernels.
        torch._dynamo.reset()

        def fn(x, act):
            return act(x * 2.0 + 1.0, 2.0, 1.0) * act(x, 1.0, 20.0)

        compiled = torch.compile(lambda x: fn(x, TF.softplus), backend="inductor", fullgraph=True)
        leaf = make_input("channels_last", torch.float32, device).requires_grad_()
        out = compiled(leaf)
        (grad,) = torch.autograd.grad(out.sum(), leaf)
        ref_leaf = leaf.detach().clone().requires_grad_()
        ref = fn(ref_leaf, F.softplus)
        (ref_grad,) = torch.autograd.grad(ref.sum(), ref_leaf)
        torch.testing.assert_close(out, ref)
        torch.testing.assert_close(grad, ref_grad)
        torch._dynamo.reset()

    # (torch.export of the layer: tests/test_export.py::test_layer_op_kept, over every layer of the table.)

    # ------------------------------------------------------------------------------------------
    # Autocast: float32 under CUDA autocast (ATen's CUDA float32 list); input dtype under CPU autocast
    # (ATen's softplus is on no CPU list). Either way: the dtype torch gives.
    # ------------------------------------------------------------------------------------------

    @pytest.mark.parametrize("in_dtype", [torch.bfloat16, torch.float16, torch.float32, torch.float64], ids=dtype_id)
    @pytest.mark.parametrize("amp_dtype", [torch.bfloat16, torch.float16], ids=dtype_id)
    @pytest.mark.parametrize("device", DEVICES)
    def test_autocast_dtype_like_torch(self, device, amp_dtype, in_dtype):
        x = make_input("contiguous", in_dtype, device, values=lambda s: normal_values(s) * 5)
        leaf = x.detach().requires_grad_()
        ref_leaf = x.detach().requires_grad_()
        with torch.autocast(device_type=device, dtype=amp_dtype):
            out = TF.softplus(leaf, 2.0, 3.0)
            expected = F.softplus(ref_leaf, 2.0, 3.0)
        assert out.dtype == expected.dtype, (out.dtype, expected.dtype)
        if device == "cuda" and in_dtype in REDUCED_DTYPES:
            assert out.dtype == torch.float32  # ATen's CUDA policy: softplus runs in float32
        assert_close(out, expected)
        # The backward runs in the forward's dtype and flows back to the input's.
        g = torch.ones_like(out)
        (gx,) = torch.autograd.grad(out, leaf, g)
        (gx_ref,) = torch.autograd.grad(expected, ref_leaf, g)
        assert gx.dtype == gx_ref.dtype == in_dtype
        assert_close(gx, gx_ref)

    def test_kernels_registered(self):
        # CPU, Meta and Autograd kernels for both ops; CUDA ones whenever the library was built with CUDA.
        cuda = torch_ext.build_info()["cuda"] == "ON"
        for op in ("torch_ext::softplus", "torch_ext::softplus_backward"):
            for key in ("CPU", "Meta", "Autograd"):
                assert torch._C._dispatch_has_kernel_for_dispatch_key(op, key), (op, key)
            assert torch._C._dispatch_has_kernel_for_dispatch_key(op, "CUDA") == cuda, op

    # ------------------------------------------------------------------------------------------
    # Errors
    # ------------------------------------------------------------------------------------------

    NON_FLOATING = [torch.int32, torch.int64, torch.uint8, torch.bool, torch.complex64, torch.complex128]
    C10_NAMES = {
        torch.int32: "Int", torch.int64: "Long", torch.uint8: "Byte", torch.bool: "Bool",
        torch.complex64: "ComplexFloat", torch.complex128: "ComplexDouble",
    }
    # name -> (call with the bad tensor x and a good float tensor f, the start of the expected message)
    CALLS = {
        "softplus": (lambda x, f: ops.softplus(x), "softplus: expected self"),
        "softplus(beta, threshold)": (lambda x, f: ops.softplus(x, 2.0, 1.0), "softplus: expected self"),
        "functional.softplus": (lambda x, f: TF.softplus(x), "softplus: expected self"),
        "nn.Softplus": (lambda x, f: TN.Softplus()(x), "softplus: expected self"),
        "softplus_backward(grad_output)": (
            lambda x, f: ops.softplus_backward(x, f, 1.0, 20.0),
            "softplus_backward: expected grad_output",
        ),
        "softplus_backward(self)": (
            lambda x, f: ops.softplus_backward(f, x, 1.0, 20.0),
            "softplus_backward: expected self",
        ),
    }

    @pytest.mark.parametrize("call", list(CALLS))
    @pytest.mark.parametrize("dtype", NON_FLOATING, ids=dtype_id)
    @pytest.mark.parametrize("device", DEVICES)
    def test_rejects_non_floating(self, device, dtype, call):
        x = torch.ones(3, 4, device=device).to(dtype)
        f = torch.ones(3, 4, device=device)
        fn, message = self.CALLS[call]
        with pytest.raises(RuntimeError, match=re.escape(message) + " to be a floating-point tensor") as e:
            fn(x, f)
        assert str(e.value).splitlines()[0].endswith("got " + self.C10_NAMES[dtype]), str(e.value)

    @pytest.mark.parametrize("dtype", NON_FLOATING, ids=dtype_id)
    def test_rejects_non_floating_on_meta(self, dtype):
        x = torch.ones(3, 4, device="meta").to(dtype)
        f = torch.ones(3, 4, device="meta")
        with pytest.raises(RuntimeError, match="floating-point"):
            ops.softplus(x)
        with pytest.raises(RuntimeError, match="floating-point"):
            ops.softplus_backward(x, f, 1.0, 20.0)

    @pytest.mark.parametrize("device", DEVICES)
    def test_backward_mismatched_arguments(self, device):
        g = torch.ones(3, 4, device=device)
        for x in (torch.ones(4, 3, device=device), torch.ones(12, device=device), torch.ones(1, 4, device=device)):
            with pytest.raises(RuntimeError, match="softplus_backward: expected self to have the shape"):
                ops.softplus_backward(g, x, 1.0, 20.0)
        with pytest.raises(RuntimeError, match="softplus_backward: expected self to have the dtype"):
            ops.softplus_backward(g, torch.ones(3, 4, device=device, dtype=torch.float64), 1.0, 20.0)
        with pytest.raises(RuntimeError, match="softplus_backward: expected self to have the shape"):
            ops.softplus_backward(g.to("meta"), torch.ones(4, 3, device="meta"), 1.0, 20.0)

    @requires_cuda
    def test_backward_device_mismatch(self):
        g = torch.ones(3, 4, device="cuda")
        with pytest.raises(RuntimeError, match="device"):
            ops.softplus_backward(g, torch.ones(3, 4), 1.0, 20.0)
        with pytest.raises(RuntimeError, match="device"):
            ops.softplus_backward(g.cpu(), torch.ones(3, 4, device="cuda"), 1.0, 20.0)

    def test_no_beta_check_like_aten(self):
        # ATen checks neither beta nor threshold: beta = 0 gives log(2) / 0 = inf (NaN at +-inf).
        x = torch.tensor([-1.0, 0.0, 2.0, float("inf"), float("nan")])
        for beta, threshold in ((0.0, 20.0), (0.0, -1.0), (1.0, float("nan")), (float("nan"), 20.0)):
            assert_close(TF.softplus(x, beta, threshold), F.softplus(x, beta, threshold))
            g = torch.ones_like(x)
            # ATen's inf / inf = NaN at x = inf with a NaN threshold is the one place they differ (g here).
            _assert_close_where_finite(
                ops.softplus_backward(g, x, beta, threshold),
                torch.ops.aten.softplus_backward(g, x, beta, threshold),
            )

    # ------------------------------------------------------------------------------------------
    # Properties over random shapes, strides, dtypes, parameters and values
    # ------------------------------------------------------------------------------------------

    @pytest.mark.parametrize("device", DEVICES)
    @given(data=st.data())
    def test_property_random_layouts(self, device, data):
        layout = draw_strided_layout(data, max_size=5)
        dtype = data.draw(st.sampled_from(list(DTYPE_NAMES)), label="dtype")
        betas = st.sampled_from([1.0, 0.5, 2.0, 10.0, 100.0, -1.0]) | st.floats(0.0625, 50, width=32)
        beta = data.draw(betas, label="beta")
        thresholds = st.sampled_from([20.0, 1.0, 0.0, -1.0, 5.0, 500.0]) | st.floats(-30, 30, width=32)
        threshold = data.draw(thresholds, label="threshold")
        magnitude = data.draw(st.sampled_from([1e-6, 1e-2, 1.0, 3.0, 30.0, 1e3]), label="magnitude")
        special_every = data.draw(st.sampled_from([0, 2, 5]), label="special_every")
        seed = data.draw(st.integers(0, 2**16), label="seed")

        base = with_specials_every(normal_values(layout.base_shape, seed=seed) * magnitude, dtype, special_every)
        x = layout.view(base.to(device=device, dtype=dtype))

        out = TF.softplus(x, beta, threshold)
        assert out.shape == x.shape and out.dtype == dtype
        assert out.stride() == torch.empty_like(x).stride()
        ref = softplus_reference(x, beta, threshold)
        assert_close(out, ref)
        _assert_close_where_finite(out, F.softplus(x, beta, threshold))

        g = grad_output(x, seed=seed + 1)
        gx = ops.softplus_backward(g, x, beta, threshold)
        assert_close(gx, softplus_backward_reference(g, x, beta, threshold))
        _assert_close_where_finite(gx, torch.ops.aten.softplus_backward(g, x, beta, threshold))

    # ------------------------------------------------------------------------------------------
    # Determinism across thread counts, and the CPU kernels of each compiled ISA
    # ------------------------------------------------------------------------------------------

    # (Thread counts: tests/test_ops.py::test_thread_count_independent, over the softplus row's thread_samples.)

    @pytest.mark.parametrize("isa", ["default", "avx2", "avx512"])
    def test_cpu_isa_kernels_large_threshold(self, isa):
        """Each compiled CPU kernel (the ISA picked by ATEN_CPU_CAPABILITY) above exp's overflow point, in a
        subprocess."""
        run_with_cpu_isa(isa, _ISA_SCRIPT)

    # ------------------------------------------------------------------------------------------
    # CUDA specifics: streams, graphs
    # ------------------------------------------------------------------------------------------

    # (Graph capture: tests/test_op_db.py::test_cuda_graph_capture; side streams: tests/test_ops.py.)


# ------------------------------------------------------------------------------------------------
# nn.Softplus: a drop-in torch.nn.Softplus
# ------------------------------------------------------------------------------------------------

# The module tests every layer shares (signature, repr, state_dict, copies) are tests/test_nn.py's, over the row's
# constructor calls; the parity here runs over the same calls.
SOFTPLUS_CTOR_ARGS = op_db_by_name["softplus"].module.ctor_args


def _ctor_id(args, kwargs):
    return "Softplus(" + ", ".join([repr(a) for a in args] + [f"{k}={v!r}" for k, v in kwargs.items()]) + ")"


CTOR_PARAMS = [pytest.param(a, k, id=_ctor_id(a, k)) for a, k in SOFTPLUS_CTOR_ARGS]


class TestSoftplusModule:
    @pytest.mark.parametrize("args,kwargs", CTOR_PARAMS)
    @pytest.mark.parametrize("dtype", FLOAT_DTYPES)
    @pytest.mark.parametrize("device", DEVICES)
    def test_forward_backward_parity(self, device, dtype, args, kwargs):
        ext, ref = TN.Softplus(*args, **kwargs), nn.Softplus(*args, **kwargs)
        leaf = make_input("channels_last", dtype, device, values=_spread_values(ref.beta, ref.threshold))
        leaf = leaf.requires_grad_()
        g = make_input("channels_last", dtype, device, seed=9)

        def run(module):
            y = module(leaf)
            (gx,) = torch.autograd.grad(y, leaf, g)
            return y.detach(), gx

        y, gx = run(ext)
        y_ref, gx_ref = run(ref)
        assert y.dtype == dtype and y.stride() == y_ref.stride()
        assert_close(y, y_ref)
        assert_close(gx, gx_ref)

    def test_model_swap(self):
        torch.manual_seed(0)
        ref = nn.Sequential(nn.Linear(12, 32), nn.Softplus(2.0, 1.0), nn.Linear(32, 5), nn.Softplus())
        ext = nn.Sequential(nn.Linear(12, 32), TN.Softplus(2.0, 1.0), nn.Linear(32, 5), TN.Softplus())
        ext.load_state_dict(ref.state_dict(), strict=True)
        x = torch.randn(16, 12) * 3
        out, out_ref = ext(x), ref(x)
        torch.testing.assert_close(out, out_ref)
        out.square().sum().backward()
        out_ref.square().sum().backward()
        for (name, p), (_, p_ref) in zip(ext.named_parameters(), ref.named_parameters()):
            torch.testing.assert_close(p.grad, p_ref.grad, msg=lambda m: f"{name}: {m}")


# Run in a subprocess with ATEN_CPU_CAPABILITY set: above exp's overflow point (a large threshold, outside ATen's range),
# each ISA's kernel against the float64 closed form. (ATen's range, against PyTorch's kernel of the same ISA:
# tests/test_op_db.py::test_cpu_isa_kernels, over the softplus row's parity samples.)
_ISA_SCRIPT = textwrap.dedent(
    """
    import sys
    import torch
    import torch_ext
    from common_utils import DTYPE_NAMES, assert_close, make_input, normal_values, ulp_tol
    from test_softplus import softplus_backward_reference, softplus_reference

    want = sys.argv[1]
    assert torch.backends.cpu.get_cpu_capability() == want, torch.backends.cpu.get_cpu_capability()
    info = torch_ext.build_info()
    assert info["cpu_capability"] == want, (info["cpu_capability"], want)
    layouts = {
        "contiguous": lambda v: v((3, 1031)),
        "transposed": lambda v: v((1031, 3)).t(),
        "sliced": lambda v: v((6, 1031))[::2, 1:],
        "channels_last": lambda v: v((2, 19, 6, 7)).contiguous(memory_format=torch.channels_last),
        "expanded": lambda v: v((1, 1031)).expand(2, 1031),
    }
    checked = 0
    for dtype in DTYPE_NAMES:
        for name, layout in layouts.items():
            x = make_input(layout, dtype, "cpu", values=lambda s: normal_values(s) * 200)
            g = normal_values(x.shape, seed=2).to(dtype)
            for beta, threshold in ((1.0, 1e4), (3.0, float("inf"))):
                out = torch_ext.functional.softplus(x, beta, threshold)
                torch.testing.assert_close(out, softplus_reference(x, beta, threshold), **ulp_tol(dtype))
                gx = torch.ops.torch_ext.softplus_backward(g, x, beta, threshold)
                assert_close(gx, softplus_backward_reference(g, x, beta, threshold))
                checked += 1
    print(f"checked {checked} cases")
    print("OK")
    """
)


# ------------------------------------------------------------------------------------------------
# The seed's identity: softplus'(x) = sigmoid(x), and d/dx softplus_beta(x) = sigmoid(beta * x)
# ------------------------------------------------------------------------------------------------

# Powers of two: beta * x is exact in every dtype (no overflow over the inputs below), so sigmoid gets the product
# the softplus kernel forms.
IDENTITY_BETAS = [1.0, 0.5, 2.0, 4.0]


@pytest.mark.parametrize("beta", IDENTITY_BETAS, ids=lambda b: f"beta={b}")
@pytest.mark.parametrize("dtype", FLOAT_DTYPES)
@pytest.mark.parametrize("device", DEVICES)
def test_gradient_is_sigmoid(device, dtype, beta):
    threshold = 20.0  # the default
    # Both tails of sigmoid (underflow to 0, saturation at 1), the bend, and |x| up to 3e4 (within float16's range).
    grid = torch.linspace(-100.0, 100.0, 4001, dtype=torch.float64) / beta
    big = torch.tensor([-3e4, -1e3, -200.0, 200.0, 1e3, 3e4], dtype=torch.float64)
    x = torch.cat([grid, big]).to(dtype=dtype, device=device).requires_grad_()
    (gx,) = torch.autograd.grad(TF.softplus(x, beta, threshold), x, torch.ones_like(x))
    s = TF.sigmoid(beta * x.detach())
    linear = beta * x.detach().double() > threshold  # exact: where the kernel takes its linear branch
    assert linear.any() and (~linear).any()
    # Off the linear branch the gradient is sigmoid(beta * x) itself: each side is a few op-math roundings from the
    # exact value, rounded once to the dtype, so they differ by at most twice ulp_tol (4 ulps in float32 and float64,
    # 1 in float16 and bfloat16, where both compute in float and round once). Measured on the CPU: equal bit for bit.
    opts = {k: 2 * v for k, v in ulp_tol(dtype).items()}
    torch.testing.assert_close(gx[~linear], s[~linear], **opts)
    # On it the gradient is exactly 1, where sigmoid(beta * x) = 1 - sigmoid(-beta * x) is short of 1 by less than
    # exp(-threshold) ~ 2e-9 (the threshold's truncation: below float32's ulp of 1, tens of millions of float64's).
    assert (gx[linear] == 1).all()
    assert ((1 - s[linear].double()) <= math.exp(-threshold)).all()
