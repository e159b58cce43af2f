"""PReLU (prelu and prelu_backward) against PyTorch and float64 formulas."""

import copy
import inspect
import pickle
import textwrap

import pytest
import torch
import torch.nn.functional as F
from hypothesis import given, strategies as st

import torch_ext
import torch_ext.functional as TF
import torch_ext.nn as TN
from torch_ext.testing.inputs import PRELU_CASES, PRELU_WEIGHTS, weight_values
from torch_ext.testing.inputs import make_prelu_case as make_case
from common_utils import (
    grad_output,
    nan_at_nan_inputs,
    CUDA_AVAILABLE,
    DEVICES,
    DTYPE_NAMES,
    FLOAT_DTYPES,
    REDUCED_DTYPES,
    assert_bitwise_equal,
    assert_close,
    assert_same_zero_signs,
    away_from_zero_values,
    normal_values,
    run_with_cpu_isa,
    requires_cuda,
    special_values,
    draw_strided_layout,
)

ops = torch.ops.torch_ext

# Inputs: the op table's PReLU cases (each names its channel count, the size of dim 1) and weights.
CASES = PRELU_CASES
CASE_PARAMS = [pytest.param(name, id=name) for name in CASES]
SMALL_CASES = ["NC", "NCL", "NCHW", "NCHW_channels_last", "NCDHW_channels_last_3d", "1d", "0d", "transposed",
               "sliced", "expanded"]

WEIGHTS = PRELU_WEIGHTS


def _weights_apply(case, weights):
    """Skip per-channel runs that repeat the single-weight run (cases with one channel)."""
    if weights == "per_channel" and CASES[case][1] == 1:
        pytest.skip("one channel: per_channel is the single-weight case")


def _broadcast(w: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
    if w.numel() == 1:
        return w.reshape(())
    return w.reshape([1, w.numel()] + [1] * (x.dim() - 2))


def prelu_reference(x, w):
    """PReLU in float64, rounded once to x's dtype (exact: the product of two values of x's dtype is
    exact in float64, so this is the correctly rounded product that ATen computes)."""
    xd, wd = x.detach().double(), w.detach().double()
    return torch.where(xd > 0, xd, _broadcast(wd, xd) * xd).to(x.dtype)


def prelu_backward_reference(g, x, w):
    """(grad_self rounded to the dtype, grad_weight in float64 unrounded, sum of |terms| per weight)."""
    gd, xd, wd = g.detach().double(), x.detach().double(), w.detach().double()
    gx = torch.where(xd > 0, gd, _broadcast(wd, xd) * gd).to(g.dtype)
    term = torch.where(xd > 0, torch.zeros_like(xd), xd * gd)

    def reduce(t):
        if w.numel() == 1:
            return t.sum().reshape(w.shape)
        return t.sum(dim=[d for d in range(t.dim()) if d != 1]).reshape(w.shape)

    return gx, reduce(term), reduce(term.abs())


# Float accumulation (double for float64): an error bound relative to the sum of |terms|, far below one
# ulp of a half or bfloat16 result.
ACC_EPS = {torch.float32: 1e-5, torch.float64: 1e-13, torch.float16: 1e-5, torch.bfloat16: 1e-5}


def assert_grad_weight_close(actual, expected64, abs_sum, dtype, msg=""):
    """actual (in dtype) is the float64 sum rounded once, up to the accumulation error."""
    eps = torch.finfo(dtype).eps
    a = actual.detach().cpu().double()
    e = expected64.detach().cpu()
    bound = eps * e.abs() + ACC_EPS[dtype] * abs_sum.detach().cpu() + torch.finfo(dtype).tiny
    finite = torch.isfinite(e)
    bad = ((a - e).abs() > bound) & finite
    assert not bool(bad.any()), (
        f"{msg} grad_weight differs from the float64 sum at {bad.nonzero().flatten().tolist()[:8]}: "
        f"{a[bad][:4].tolist()} vs {e[bad][:4].tolist()} (bound {bound[bad][:4].tolist()})"
    )
    assert torch.equal(torch.isnan(a), torch.isnan(e)), f"{msg} NaN positions differ"


def _torch_grads(x, w, g):
    xr = x.detach().requires_grad_()
    wr = w.detach().requires_grad_()
    return torch.autograd.grad(F.prelu(xr, wr), (xr, wr), g)


def _ext_grads(x, w, g):
    xr = x.detach().requires_grad_()
    wr = w.detach().requires_grad_()
    out = TF.prelu(xr, wr)
    assert out.requires_grad and out.grad_fn is not None
    return torch.autograd.grad(out, (xr, wr), g)


class TestPrelu:
    # ------------------------------------------------------------------------------------------
    # Forward and backward parity with torch.nn.functional.prelu, over device x dtype x case x weights
    # ------------------------------------------------------------------------------------------

    @pytest.mark.parametrize("weights", WEIGHTS)
    @pytest.mark.parametrize("case", CASE_PARAMS)
    @pytest.mark.parametrize("dtype", FLOAT_DTYPES)
    @pytest.mark.parametrize("device", DEVICES)
    def test_forward_parity(self, device, dtype, case, weights):
        _weights_apply(case, weights)
        x, w = make_case(case, dtype, device, weights)
        x_before = x.clone()
        out = TF.prelu(x, w)
        expected = F.prelu(x, w)
        assert out.dtype == dtype and out.device == x.device and out.shape == x.shape
        # Exact: w * x rounded once, as ATen (see math/prelu_math.h).
        assert_close(out, expected, rtol=0, atol=0)
        assert_close(out, prelu_reference(x, w), rtol=0, atol=0)
        assert_same_zero_signs(out, expected)
        # The output is allocated like the input (empty_like): dense layouts keep their strides.
        assert out.stride() == torch.empty_like(x).stride()
        if case.endswith("channels_last"):
            assert out.is_contiguous(memory_format=torch.channels_last)
        if case.endswith("channels_last_3d"):
            assert out.is_contiguous(memory_format=torch.channels_last_3d)
        assert_bitwise_equal(x, x_before)  # out-of-place leaves its input alone

    @pytest.mark.parametrize("weights", WEIGHTS)
    @pytest.mark.parametrize("case", CASE_PARAMS)
    @pytest.mark.parametrize("dtype", FLOAT_DTYPES)
    @pytest.mark.parametrize("device", DEVICES)
    def test_backward_parity(self, device, dtype, case, weights):
        _weights_apply(case, weights)
        x, w = make_case(case, dtype, device, weights)
        g = grad_output(x)
        gx, gw = _ext_grads(x, w, g)
        gx_torch, gw_torch = _torch_grads(x, w, g)
        gx_ref, gw_ref, abs_sum = prelu_backward_reference(g, x, w)
        assert gx.shape == x.shape and gx.dtype == dtype
        assert gw.shape == w.shape and gw.dtype == dtype
        assert_close(gx, gx_torch, rtol=0, atol=0)
        assert_close(gx, gx_ref, rtol=0, atol=0)
        assert_grad_weight_close(gw, gw_ref, abs_sum, dtype)
        # PyTorch rounds each term to the dtype before its (float) sum: within eps * sum|terms| of ours.
        eps = torch.finfo(dtype).eps
        torch.testing.assert_close(gw.double(), gw_torch.double(), rtol=2 * eps,
                                   atol=float((2 * eps * abs_sum).max()) if abs_sum.numel() else 0.0)

    @pytest.mark.parametrize("weights", WEIGHTS)
    @pytest.mark.parametrize("case", CASE_PARAMS)
    @pytest.mark.parametrize("dtype", FLOAT_DTYPES)
    @pytest.mark.parametrize("device", DEVICES)
    def test_backward_op(self, device, dtype, case, weights):
        # The registered backward op, called directly.
        _weights_apply(case, weights)
        x, w = make_case(case, dtype, device, weights)
        g = grad_output(x)
        gx, gw = ops.prelu_backward(g, x, w)
        gx_ref, gw_ref, abs_sum = prelu_backward_reference(g, x, w)
        assert_close(gx, gx_ref, rtol=0, atol=0)
        assert gx.stride() == torch.empty_like(x).stride()
        assert gw.shape == w.shape and gw.is_contiguous()
        assert_grad_weight_close(gw, gw_ref, abs_sum, dtype)

    @pytest.mark.parametrize(
        "g_layout,x_layout",
        [
            ("contiguous", "channels_last"),
            ("channels_last", "contiguous"),
            ("transposed", "contiguous"),
            ("contiguous", "sliced"),
            ("expanded", "channels_last"),
        ],
    )
    @pytest.mark.parametrize("dtype", FLOAT_DTYPES)
    @pytest.mark.parametrize("device", DEVICES)
    def test_backward_mixed_layouts(self, device, dtype, g_layout, x_layout):
        # grad_output and self with the same shape (2, 6, 5, 4) but different strides.
        make = {
            "contiguous": lambda v: v((2, 6, 5, 4)),
            "channels_last": lambda v: v((2, 6, 5, 4)).contiguous(memory_format=torch.channels_last),
            "transposed": lambda v: v((4, 6, 5, 2)).transpose(0, 3),
            "sliced": lambda v: v((2, 12, 5, 4))[:, ::2],
            "expanded": lambda v: v((1, 6, 5, 4)).expand(2, 6, 5, 4),
        }
        g = make[g_layout](lambda s: normal_values(s, seed=1).to(device=device, dtype=dtype))
        x = make[x_layout](lambda s: normal_values(s, seed=2).to(device=device, dtype=dtype))
        w = weight_values(6).to(device=device, dtype=dtype)
        gx, gw = ops.prelu_backward(g, x, w)
        gx_ref, gw_ref, abs_sum = prelu_backward_reference(g, x, w)
        assert_close(gx, gx_ref, rtol=0, atol=0)
        assert gx.stride() == torch.empty_like(x).stride()
        assert_grad_weight_close(gw, gw_ref, abs_sum, dtype)

    @pytest.mark.parametrize("dtype", FLOAT_DTYPES)
    @pytest.mark.parametrize("device", DEVICES)
    def test_weight_views(self, device, dtype):
        # A strided weight (a view) and a 0-d weight.
        x = normal_values((3, 4, 5)).to(device=device, dtype=dtype)
        base = weight_values(8).to(device=device, dtype=dtype)
        w = base[::2]
        assert not w.is_contiguous()
        assert_close(TF.prelu(x, w), F.prelu(x, w), rtol=0, atol=0)
        g = grad_output(x)
        gx, gw = ops.prelu_backward(g, x, w)
        gx_ref, gw_ref, abs_sum = prelu_backward_reference(g, x, w)
        assert_close(gx, gx_ref, rtol=0, atol=0)
        assert_grad_weight_close(gw, gw_ref, abs_sum, dtype)
        w0 = base[3].clone()
        assert w0.dim() == 0
        assert_close(TF.prelu(x, w0), F.prelu(x, w0), rtol=0, atol=0)
        gx, gw = _ext_grads(x, w0, g)
        gx_t, gw_t = _torch_grads(x, w0, g)
        assert gw.shape == () and gw_t.shape == ()
        assert_close(gx, gx_t, rtol=0, atol=0)
        _, gw_ref, abs_sum = prelu_backward_reference(g, x, w0)
        assert_grad_weight_close(gw, gw_ref, abs_sum, dtype)

    # ------------------------------------------------------------------------------------------
    # Exact values: zeros (and their sign), NaN, infinities
    # ------------------------------------------------------------------------------------------

    @pytest.mark.parametrize("slope", [0.25, -0.5, 0.0, 1.0], ids=lambda s: f"w={s}")
    @pytest.mark.parametrize("dtype", FLOAT_DTYPES)
    @pytest.mark.parametrize("device", DEVICES)
    def test_special_values(self, device, dtype, slope):
        x = special_values(dtype).to(device)
        w = torch.tensor([slope], dtype=dtype, device=device)
        out = TF.prelu(x, w)
        expected = F.prelu(x, w)
        assert_close(out, expected, rtol=0, atol=0)
        assert_same_zero_signs(out, expected)
        # x == +-0 takes the slope (ATen's x > 0): 0 * w keeps or flips the zero's sign.
        assert torch.isnan(out[2]) and out[3].item() == float("inf")
        if slope == 0.0:
            assert torch.isnan(out[4])  # -inf * 0
        g = torch.full_like(x, 0.75)
        gx, gw = ops.prelu_backward(g, x, w)
        gx_t, gw_t = _torch_grads(x, w, g)
        # A NaN input's gradient is NaN (ATen's is w * g).
        gx_t = nan_at_nan_inputs(gx_t, x)
        assert_close(gx, gx_t, rtol=0, atol=0)
        assert_same_zero_signs(gx, gx_t)
        assert torch.isnan(gw).all() and torch.isnan(gw_t).all()  # NaN input on the negative side
        # Without the NaN, the weight gradient is -inf (from -inf * 0.75) on both sides.
        keep = ~torch.isnan(x)
        gx, gw = ops.prelu_backward(g[keep], x[keep], w)
        _, gw_t = _torch_grads(x[keep], w, g[keep])
        assert gw.item() == gw_t.item() == float("-inf")

    @pytest.mark.parametrize("dtype", FLOAT_DTYPES)
    @pytest.mark.parametrize("device", DEVICES)
    def test_zero_input_branch(self, device, dtype):
        # x == 0 is on the negative side in the forward and both gradients: grad_self = w * g, and its
        # grad_weight term is 0 * g.
        x = torch.tensor([[0.0, -0.0, 2.0, -2.0]], dtype=dtype, device=device).reshape(1, 1, 4)
        w = torch.tensor([0.5], dtype=dtype, device=device)
        g = torch.tensor([[3.0, 5.0, 7.0, 11.0]], dtype=dtype, device=device).reshape(1, 1, 4)
        gx, gw = ops.prelu_backward(g, x, w)
        assert gx.flatten().tolist() == [1.5, 2.5, 7.0, 5.5]
        assert gw.item() == -22.0

    # ------------------------------------------------------------------------------------------
    # The weight-gradient reduction: float accumulation, determinism, thread-count independence
    # ------------------------------------------------------------------------------------------

    @pytest.mark.parametrize(
        "shape,memory_format,weights",
        [
            pytest.param((64, 2, 32768), torch.contiguous_format, "per_channel", id="NCL_rows"),
            pytest.param((32, 3, 128, 128), torch.channels_last, "per_channel", id="NHWC_tiles"),
            pytest.param((512, 8, 1024), torch.contiguous_format, "single", id="single_weight"),
        ],
    )
    @pytest.mark.parametrize("dtype", [torch.bfloat16, torch.float16], ids=["bfloat16", "float16"])
    def test_large_reduction_float_accumulation(self, dtype, shape, memory_format, weights):
        # Millions of same-signed terms per weight: a bfloat16 (or half) running sum stalls once it is
        # 2**9 (2**12) times a term, and even a pairwise half-precision sum loses ~log2(n) ulps. With
        # float accumulation the result is the float64 sum rounded once: within half an ulp, up to
        # the float accumulation error (ACC_EPS of the sum).
        gen = torch.Generator().manual_seed(0)
        x = -(torch.rand(shape, generator=gen) + 0.5)  # every x on the negative side
        g = torch.rand(shape, generator=gen) * 0.01 + 0.001  # positive: the terms x * g share a sign
        x = x.to(dtype).contiguous(memory_format=memory_format)
        g = g.to(dtype).contiguous(memory_format=memory_format)
        w = torch.full((1 if weights == "single" else shape[1],), 0.25, dtype=dtype)
        gx, gw = ops.prelu_backward(g, x, w)
        _, gw_ref, abs_sum = prelu_backward_reference(g, x, w)
        assert torch.equal(abs_sum, gw_ref.abs())
        err = (gw.double() - gw_ref).abs() / gw_ref.abs()
        half_ulp = torch.finfo(dtype).eps / 2
        assert bool((err <= half_ulp * (1 + 1e-3) + ACC_EPS[dtype]).all()), (err, half_ulp)
        assert x.numel() // w.numel() >= 2**19
        # What a running sum in the dtype gives on the first 32768 of these terms: it stalls far from
        # the true sum, where ours is within half an ulp over 2**19 terms and more.
        terms = (x.flatten()[:32768].double() * g.flatten()[:32768].double()).to(dtype).tolist()
        running = torch.tensor(0.0, dtype=dtype)
        for t in terms:
            running = running + t
        true = sum(terms)
        assert abs(float(running) - true) > 0.5 * abs(true), (float(running), true)
        # ...and PyTorch's (terms rounded to the dtype, summed in float) is no closer than ours.
        _, gw_t = _torch_grads(x, w, g)
        err_t = (gw_t.double() - gw_ref).abs() / gw_ref.abs()
        assert bool((err <= err_t + half_ulp).all())

    # Work splits with several items (and several threads' worth of them) on every CPU path.
    DETERMINISM_CASES = {
        "rows_single_weight": (lambda v: v((3, 1, 70000)), "single"),
        "rows_NCL": (lambda v: v((4, 3, 20000)), "per_channel"),
        "tiles_NCHW": (lambda v: v((256, 8, 7, 7)), "per_channel"),
        "tiles_channels_last": (lambda v: v((8, 16, 32, 32)).contiguous(memory_format=torch.channels_last),
                                "per_channel"),
        "tiles_many_channels": (lambda v: v((40, 3000, 3)), "per_channel"),
    }

    def _determinism_inputs(self, case, dtype, device):
        builder, weights = self.DETERMINISM_CASES[case]
        x = builder(lambda s: normal_values(s, seed=3).to(device=device, dtype=dtype))
        g = builder(lambda s: normal_values(s, seed=4).to(device=device, dtype=dtype))
        n = 1 if weights == "single" else x.shape[1]
        return g, x, weight_values(n).to(device=device, dtype=dtype)

    @pytest.mark.parametrize("case", list(DETERMINISM_CASES))
    @pytest.mark.parametrize("dtype", FLOAT_DTYPES)
    @pytest.mark.parametrize("device", DEVICES)
    def test_run_to_run_determinism(self, device, dtype, case):
        g, x, w = self._determinism_inputs(case, dtype, device)
        first_gx, first_gw = ops.prelu_backward(g, x, w)
        _, gw_ref, abs_sum = prelu_backward_reference(g, x, w)
        assert_grad_weight_close(first_gw, gw_ref, abs_sum, dtype)
        for run in range(3):
            gx, gw = ops.prelu_backward(g, x, w)
            assert_bitwise_equal(gw, first_gw, f"grad_weight, run {run}")
            assert_bitwise_equal(gx, first_gx, f"grad_self, run {run}")
        # Through autograd too.
        _, gw_a = _ext_grads(x, w, g)
        assert_bitwise_equal(gw_a, first_gw, "grad_weight through autograd")

    @pytest.mark.parametrize("case", list(DETERMINISM_CASES))
    @pytest.mark.parametrize("dtype", FLOAT_DTYPES)
    def test_thread_count_independent(self, dtype, case):
        g, x, w = self._determinism_inputs(case, dtype, "cpu")
        results = []
        for threads in (1, 2, 3):
            torch.set_num_threads(threads)
            y = ops.prelu(x, w)
            gx, gw = ops.prelu_backward(g, x, w)
            results.append((y, gx, gw))
        for threads, other in zip((2, 3), results[1:]):
            for name, a, b in zip(("forward", "grad_self", "grad_weight"), results[0], other):
                assert_bitwise_equal(b, a, f"{name} with {threads} threads vs 1")

    # ------------------------------------------------------------------------------------------
    # gradcheck / gradgradcheck in float64, off the kink at 0, for both inputs
    # ------------------------------------------------------------------------------------------

    GRADCHECK_CASES = {
        "NC": lambda v: v((3, 4)),
        "NCHW": lambda v: v((2, 3, 2, 2)),
        "channels_last": lambda v: v((2, 3, 2, 2)).contiguous(memory_format=torch.channels_last),
        "NCDHW": lambda v: v((1, 2, 2, 1, 3)),
        "1d": lambda v: v((5,)),
        "0d": lambda v: v(()),
        "transposed": lambda v: v((3, 4, 2)).transpose(0, 2),
    }

    @pytest.mark.parametrize("weights", WEIGHTS)
    @pytest.mark.parametrize("case", list(GRADCHECK_CASES))
    @pytest.mark.parametrize("device", DEVICES)
    def test_gradcheck(self, device, case, weights):
        x = self.GRADCHECK_CASES[case](lambda s: away_from_zero_values(s).to(device))
        if weights == "per_channel" and x.dim() < 2:
            pytest.skip("0-d and 1-D inputs take one weight")
        x = x.detach().requires_grad_()
        n = 1 if weights == "single" else x.shape[1]
        w = weight_values(n).to(device).requires_grad_()
        assert torch.autograd.gradcheck(TF.prelu, (x, w))
        assert torch.autograd.gradgradcheck(TF.prelu, (x, w))

    @pytest.mark.parametrize("weights", WEIGHTS)
    @pytest.mark.parametrize("device", DEVICES)
    def test_gradcheck_backward_op(self, device, weights):
        # prelu_backward as a function of its three tensors (its own Autograd kernel), both outputs.
        x = away_from_zero_values((2, 3, 4)).to(device).requires_grad_()
        g = normal_values((2, 3, 4), seed=7).to(device).requires_grad_()
        w = weight_values(1 if weights == "single" else 3).to(device).requires_grad_()
        assert torch.autograd.gradcheck(ops.prelu_backward, (g, x, w))
        assert torch.autograd.gradgradcheck(ops.prelu_backward, (g, x, w))

    @pytest.mark.parametrize("weights", WEIGHTS)
    @pytest.mark.parametrize("dtype", [torch.float32, torch.float64], ids=["float32", "float64"])
    @pytest.mark.parametrize("device", DEVICES)
    def test_double_backward_matches_torch(self, device, dtype, weights):
        # Second-order gradients against PyTorch's, including exact zeros in x (ATen's double backward
        # masks with x >= 0 where the first order uses x > 0).
        data = normal_values((3, 4, 5)).to(device=device, dtype=dtype)
        data.view(-1)[::7] = 0.0
        g_data = grad_output(data)
        w_data = weight_values(1 if weights == "single" else 4).to(device=device, dtype=dtype)
        v = normal_values((3, 4, 5), seed=9).to(device=device, dtype=dtype)
        vw = normal_values(w_data.shape, seed=10).to(device=device, dtype=dtype)

        def second_order(fn):
            x = data.clone().requires_grad_()
            g = g_data.clone().requires_grad_()
            w = w_data.clone().requires_grad_()
            gx, gw = torch.autograd.grad(fn(x, w), (x, w), g, create_graph=True)
            loss = (gx * v).sum() + (gw * vw).sum()
            return (gx, gw) + torch.autograd.grad(loss, (x, g, w))

        ours = second_order(TF.prelu)
        ref = second_order(F.prelu)
        for name, a, b in zip(("gx", "gw", "d/dx", "d/dgrad_output", "d/dweight"), ours, ref):
            assert_close(a, b, msg=lambda m: f"{name}: {m}")

    # ------------------------------------------------------------------------------------------
    # torch.library.opcheck: schema, autograd registration, fake tensors, AOT dispatch
    # ------------------------------------------------------------------------------------------

    # (tests/test_ops.py::test_opcheck runs opcheck over the prelu row's OpcheckInfo.)

    # ------------------------------------------------------------------------------------------
    # torch.compile
    # ------------------------------------------------------------------------------------------

    # (Fullgraph of the op and of the layer, dynamic shapes: tests/test_op_db.py::test_compile_*, over the prelu row.)

    # ------------------------------------------------------------------------------------------
    # Errors
    # ------------------------------------------------------------------------------------------

    @pytest.mark.parametrize("device", DEVICES)
    def test_wrong_weight_size(self, device):
        x = torch.ones(2, 3, 4, device=device)
        for n in (4, 2, 0):
            w = torch.ones(n, device=device)
            with pytest.raises(RuntimeError):
                F.prelu(x, w)  # PyTorch refuses it too
            msg = rf"prelu: weight must have 1 or 3 elements \(the size of dim 1 of self\), got {n}$"
            with pytest.raises(RuntimeError, match=msg):
                TF.prelu(x, w)
            with pytest.raises(RuntimeError, match=msg.replace("prelu:", "prelu_backward:")):
                ops.prelu_backward(x, x, w)
            with pytest.raises(RuntimeError, match=msg):
                ops.prelu(x.to("meta"), w.to("meta"))
        # A 1-D input is one channel; a 0-d input takes one weight.
        with pytest.raises(RuntimeError, match="weight must have 1 element for a 1-D self.*got 5"):
            TF.prelu(torch.ones(5, device=device), torch.ones(5, device=device))
        with pytest.raises(RuntimeError, match="weight must have 1 element for a 0-d self, got 3"):
            TF.prelu(torch.ones((), device=device), torch.ones(3, device=device))

    @pytest.mark.parametrize("device", DEVICES)
    def test_weight_rank(self, device):
        x = torch.ones(2, 3, device=device)
        for w in (torch.ones(1, 3, device=device), torch.ones(3, 1, device=device), torch.ones(1, 1, device=device)):
            with pytest.raises(RuntimeError):
                F.prelu(x, w)
            with pytest.raises(RuntimeError, match=r"prelu: expected weight to be 0-d or 1-D .*got a 2-D weight"):
                TF.prelu(x, w)
            with pytest.raises(RuntimeError, match="2-D weight"):
                ops.prelu_backward(x, x, w)

    @pytest.mark.parametrize("device", DEVICES)
    def test_dtype_mismatch(self, device):
        for xt, wt in ((torch.float32, torch.float64), (torch.float64, torch.float32), (torch.float16, torch.bfloat16),
                       (torch.float32, torch.int64)):
            x = torch.ones(2, 3, device=device, dtype=xt)
            w = torch.ones(3, device=device, dtype=wt)
            with pytest.raises(RuntimeError):
                F.prelu(x, w)
            with pytest.raises(RuntimeError, match=r"prelu: expected weight to have the dtype of self"):
                TF.prelu(x, w)
            with pytest.raises(RuntimeError, match=r"prelu_backward: expected weight to have the dtype of self"):
                ops.prelu_backward(x, x, w)
        x = torch.ones(2, 3, device=device)
        with pytest.raises(RuntimeError, match=r"prelu_backward: expected self to have the dtype of grad_output"):
            ops.prelu_backward(x.double(), x, torch.ones(3, device=device))

    NON_FLOATING = [torch.int32, torch.int64, torch.uint8, torch.bool, torch.complex64, torch.complex128]

    @pytest.mark.parametrize("dtype", NON_FLOATING, ids=lambda d: str(d).replace("torch.", ""))
    @pytest.mark.parametrize("device", DEVICES)
    def test_rejects_non_floating(self, device, dtype):
        x = torch.ones(2, 3, device=device).to(dtype)
        w = torch.ones(3, device=device).to(dtype)
        f = torch.ones(2, 3, device=device)
        with pytest.raises(RuntimeError):
            F.prelu(x, w)
        with pytest.raises(RuntimeError, match="floating-point"):
            TF.prelu(x, w)
        with pytest.raises(RuntimeError, match="floating-point"):
            ops.prelu_backward(f, x, w)
        with pytest.raises(RuntimeError, match="floating-point"):
            ops.prelu_backward(x, f, torch.ones(3, device=device))

    @pytest.mark.parametrize("device", DEVICES)
    def test_backward_shape_mismatch(self, device):
        x = torch.ones(2, 3, 4, device=device)
        w = torch.ones(3, device=device)
        for g in (torch.ones(2, 4, 3, device=device), torch.ones(24, device=device)):
            with pytest.raises(RuntimeError, match="prelu_backward: expected self to have the shape of grad_output"):
                ops.prelu_backward(g, x, w)

    @requires_cuda
    def test_device_mismatch(self):
        x = torch.ones(2, 3, device="cuda")
        with pytest.raises(RuntimeError, match="prelu: expected weight to be on the device of self"):
            TF.prelu(x, torch.ones(3))
        with pytest.raises(RuntimeError, match="device"):
            ops.prelu_backward(x.cpu(), x, torch.ones(3, device="cuda"))

    # ------------------------------------------------------------------------------------------
    # Properties over random shapes, strides, channel counts and values
    # ------------------------------------------------------------------------------------------

    @pytest.mark.parametrize("device", DEVICES)
    @given(data=st.data())
    def test_property_random_layouts(self, device, data):
        layout = draw_strided_layout(data, max_size=6, offsets=False)
        ndim, shape = len(layout.shape), layout.shape
        dtype = data.draw(st.sampled_from(list(DTYPE_NAMES)), label="dtype")
        single = ndim < 2 or data.draw(st.booleans(), label="single")
        seed = data.draw(st.integers(0, 2**16), label="seed")

        x = layout.view(normal_values(layout.base_shape, seed=seed).to(device=device, dtype=dtype))
        w = weight_values(1 if single else shape[1], seed).to(device=device, dtype=dtype)

        out = TF.prelu(x, w)
        assert out.stride() == torch.empty_like(x).stride()
        assert_close(out, F.prelu(x, w), rtol=0, atol=0)
        g = grad_output(x, seed=seed + 1)
        gx, gw = ops.prelu_backward(g, x, w)
        gx_ref, gw_ref, abs_sum = prelu_backward_reference(g, x, w)
        assert_close(gx, gx_ref, rtol=0, atol=0)
        assert_grad_weight_close(gw, gw_ref, abs_sum, dtype)

    # ------------------------------------------------------------------------------------------
    # The CPU kernels of each compiled ISA
    # ------------------------------------------------------------------------------------------

    @pytest.mark.parametrize("isa", ["default", "avx2", "avx512"])
    def test_cpu_isa_kernels(self, isa):
        """Each compiled CPU kernel (the ISA picked by ATEN_CPU_CAPABILITY) against PyTorch, in a subprocess."""
        run_with_cpu_isa(isa, _ISA_SCRIPT)

    # ------------------------------------------------------------------------------------------
    # CUDA specifics: alignment, streams, graphs
    # ------------------------------------------------------------------------------------------

    @requires_cuda
    @pytest.mark.parametrize("case", ["long_rows", "large_NCL", "large_channels_last", "many_channels_last"])
    @pytest.mark.parametrize("dtype", FLOAT_DTYPES)
    def test_cuda_unaligned_matches_aligned(self, dtype, case):
        # A storage offset of one element takes the scalar-access kernels; the work split (and so
        # every bit of the result) is the same as with 128-bit accesses.
        x, w = make_case(case, dtype, "cuda")
        g = grad_output(x)

        def shifted(t):
            buf = torch.empty(t.numel() + 1, dtype=t.dtype, device=t.device)
            view = buf[1:].as_strided(t.size(), torch.empty_like(t).stride())
            view.copy_(t)
            return view

        xs, gs = shifted(x), shifted(g)
        assert xs.data_ptr() % 16 != 0
        assert_bitwise_equal(ops.prelu(xs, w), ops.prelu(x, w))
        for a, b in zip(ops.prelu_backward(gs, xs, w), ops.prelu_backward(g, x, w)):
            assert_bitwise_equal(a, b)

    @requires_cuda
    def test_cuda_side_stream_and_graph(self):
        x, w = make_case("large_channels_last", torch.float32, "cuda")
        g = grad_output(x)
        s = torch.cuda.Stream()
        s.wait_stream(torch.cuda.current_stream())
        with torch.cuda.stream(s):
            for _ in range(2):
                out = ops.prelu(x, w)
                gx, gw = ops.prelu_backward(g, x, w)
        torch.cuda.current_stream().wait_stream(s)
        assert_close(out, F.prelu(x, w), rtol=0, atol=0)
        graph = torch.cuda.CUDAGraph()
        with torch.cuda.graph(graph):
            static_out = ops.prelu(x, w)
            static_gx, static_gw = ops.prelu_backward(g, x, w)
        new_x, _ = make_case("large_channels_last", torch.float32, "cuda", seed=11)
        x.copy_(new_x)
        graph.replay()
        torch.cuda.synchronize()
        assert_close(static_out, F.prelu(new_x, w), rtol=0, atol=0)
        gx_ref, gw_ref, abs_sum = prelu_backward_reference(g, new_x, w)
        assert_close(static_gx, gx_ref, rtol=0, atol=0)
        assert_grad_weight_close(static_gw, gw_ref, abs_sum, torch.float32)


class TestPreluModule:
    """torch_ext.nn.PReLU against torch.nn.PReLU."""

    @pytest.mark.parametrize("args", [(), (3,), (5, 0.1)], ids=["default", "num_parameters=3", "init=0.1"])
    def test_repr_state_dict_reset(self, args):
        ext, ref = TN.PReLU(*args), torch.nn.PReLU(*args)
        assert repr(ext) == repr(ref)
        assert ext.extra_repr() == ref.extra_repr()
        assert ext.num_parameters == ref.num_parameters and ext.init == ref.init
        assert list(ext.state_dict()) == list(ref.state_dict()) == ["weight"]
        assert_bitwise_equal(ext.weight.detach(), ref.weight.detach())
        assert isinstance(ext.weight, torch.nn.Parameter)
        with torch.no_grad():
            ext.weight.fill_(3.0)
        ext.reset_parameters()
        assert_bitwise_equal(ext.weight.detach(), ref.weight.detach())
        # state_dicts load across.
        with torch.no_grad():
            ref.weight.copy_(torch.linspace(-1, 1, ref.weight.numel()))
        ext.load_state_dict(ref.state_dict())
        assert_bitwise_equal(ext.weight.detach(), ref.weight.detach())
        ref.load_state_dict(TN.PReLU(*args).state_dict())
        assert TN.PReLU.__constants__ == torch.nn.PReLU.__constants__

    def test_functional_signature(self):
        # (The layer's signature and docstring: tests/test_nn.py::TestModules, as every layer's.)
        # F.prelu is a builtin without a signature; its documented one is prelu(input, weight).
        assert list(inspect.signature(TF.prelu).parameters) == ["input", "weight"]

    def test_copy_and_pickle(self):
        m = TN.PReLU(3, init=0.1)
        x = normal_values((2, 3, 4)).float()
        for other in (copy.deepcopy(m), pickle.loads(pickle.dumps(m))):
            assert type(other) is TN.PReLU and repr(other) == repr(m)
            assert_bitwise_equal(other(x).detach(), m(x).detach())

    @pytest.mark.parametrize("device", DEVICES)
    def test_export(self, device):
        model = torch.nn.Sequential(torch.nn.Conv2d(3, 4, 1), TN.PReLU(4), TN.PReLU()).to(device).eval()
        x = normal_values((4, 3, 5, 5)).float().to(device)
        batch = torch.export.Dim("batch", min=2, max=64)
        ep = torch.export.export(model, (x,), dynamic_shapes=({0: batch},))
        code = ep.graph_module.code
        assert code.count("torch_ext.prelu.default") == 2, code
        assert "aten.prelu" not in code and "aten._prelu_kernel" not in code
        x2 = normal_values((7, 3, 5, 5), seed=3).float().to(device)
        with torch.no_grad():
            assert_close(ep.module()(x2), model(x2), rtol=0, atol=0)

    @pytest.mark.parametrize("dtype", FLOAT_DTYPES)
    @pytest.mark.parametrize("device", [*DEVICES, pytest.param("meta", id="meta")])
    def test_factory_kwargs(self, device, dtype):
        ext = TN.PReLU(4, init=0.5, device=device, dtype=dtype)
        ref = torch.nn.PReLU(4, init=0.5, device=device, dtype=dtype)
        for m in (ext, ref):
            assert m.weight.device.type == device and m.weight.dtype == dtype and m.weight.shape == (4,)
        if device != "meta":
            assert_bitwise_equal(ext.weight.detach(), ref.weight.detach())
        x = torch.empty(2, 4, 3, device=device, dtype=dtype)
        assert ext(x).shape == x.shape

    @pytest.mark.parametrize("num_parameters", [1, 6], ids=["shared", "per_channel"])
    @pytest.mark.parametrize("memory_format", [torch.contiguous_format, torch.channels_last],
                             ids=["contiguous", "channels_last"])
    @pytest.mark.parametrize("dtype", FLOAT_DTYPES)
    @pytest.mark.parametrize("device", DEVICES)
    def test_forward_backward_parity(self, device, dtype, memory_format, num_parameters):
        ext = TN.PReLU(num_parameters, device=device, dtype=dtype)
        ref = torch.nn.PReLU(num_parameters, device=device, dtype=dtype)
        with torch.no_grad():
            w = weight_values(num_parameters).to(device=device, dtype=dtype)
            ext.weight.copy_(w)
            ref.weight.copy_(w)
        x = normal_values((3, 6, 5, 4)).to(device=device, dtype=dtype).contiguous(memory_format=memory_format)
        g = grad_output(x)
        xe, xr = x.clone().requires_grad_(), x.clone().requires_grad_()
        ye, yr = ext(xe), ref(xr)
        assert_close(ye, yr, rtol=0, atol=0)
        assert ye.stride() == yr.stride()
        ye.backward(g)
        yr.backward(g)
        assert_close(xe.grad, xr.grad, rtol=0, atol=0)
        _, gw_ref, abs_sum = prelu_backward_reference(g, x, w)
        assert_grad_weight_close(ext.weight.grad, gw_ref, abs_sum, dtype)
        eps = torch.finfo(dtype).eps
        torch.testing.assert_close(ext.weight.grad.double(), ref.weight.grad.double(), rtol=2 * eps,
                                   atol=float(2 * eps * abs_sum.max()))


# Run in a subprocess with ATEN_CPU_CAPABILITY set: checks that torch_ext picked that ISA's kernel and
# that its PReLU agrees with PyTorch's (forward, exactly) and with float64 (both gradients).
_ISA_SCRIPT = textwrap.dedent(
    """
    import sys
    import torch
    import torch.nn.functional as F
    import torch_ext
    from common_utils import DTYPE_NAMES, assert_close
    from test_prelu import (CASES, WEIGHTS, assert_grad_weight_close, make_case, prelu_backward_reference)

    want = sys.argv[1]
    assert torch.backends.cpu.get_cpu_capability() == want, torch.backends.cpu.get_cpu_capability()
    info = torch_ext.build_info()
    assert info["cpu_capability"] == want, (info["cpu_capability"], want)
    checked = 0
    for dtype in DTYPE_NAMES:
        for case in ("NCL", "NCHW_channels_last", "1d", "transposed", "long_rows", "many_channels",
                     "many_channels_last", "large_NCL"):
            for weights in WEIGHTS:
                where = f"{want} {dtype} {case} {weights}"
                x, w = make_case(case, dtype, "cpu", weights)
                if weights == "per_channel" and w.numel() == 1:
                    continue
                assert_close(torch.ops.torch_ext.prelu(x, w), F.prelu(x, w), rtol=0, atol=0,
                             msg=lambda m: where + ": " + m)
                g = torch.randn(x.shape, dtype=torch.float64).to(dtype)
                gx, gw = torch.ops.torch_ext.prelu_backward(g, x, w)
                gx_ref, gw_ref, abs_sum = prelu_backward_reference(g, x, w)
                assert_close(gx, gx_ref, rtol=0, atol=0, msg=lambda m: where + " grad_self: " + m)
                assert_grad_weight_close(gw, gw_ref, abs_sum, dtype, where)
                checked += 1
    print(f"checked {checked} cases")
    print("OK")
    """
)
