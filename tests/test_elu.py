"""ELU family (elu, celu, selu and their in-place and backward ops) against PyTorch and float64 formulas."""

import textwrap

import pytest
import torch
import torch.nn.functional as F
from hypothesis import given, strategies as st

import torch_ext
import torch_ext.functional as TF
from common_utils import (
    grad_output,
    GRADCHECK_LAYOUT_PARAMS,
    nonleaf_input,
    dtype_id,
    ALL_LAYOUTS,
    CUDA_AVAILABLE,
    DEVICES,
    DTYPE_NAMES,
    ELU_VARIANTS,
    FLOAT_DTYPES,
    INPLACE_VARIANTS,
    NEGATIVE_ALPHA_VARIANTS,
    WRITABLE_LAYOUTS,
    EluVariant,
    assert_bitwise_equal,
    assert_close,
    assert_close_off_nan,
    assert_same_zero_signs,
    away_from_zero_values,
    elu_backward_reference,
    elu_reference,
    make_input,
    normal_values,
    run_with_cpu_isa,
    requires_cuda,
    same_layout_copy,
    special_values,
    tol,
    ulp_tol,
    values_with_specials,
    variant_params,
    draw_strided_layout,
    with_specials_every,
    MIXED_LAYOUT_PAIRS,
    mixed_layout_pair,
)

ops = torch.ops.torch_ext

VARIANTS = variant_params(ELU_VARIANTS)
POSITIVE_VARIANTS = variant_params(INPLACE_VARIANTS)  # alpha >= 0: the in-place path is allowed
NEGATIVE_VARIANTS = variant_params(NEGATIVE_ALPHA_VARIANTS)

# (alpha, scale, input_scale) for the raw op: ELU, CELU- and SELU-like points, zero and negative values.
RAW_PARAMS = [
    pytest.param((1.0, 1.0, 1.0), id="a1_s1_i1"),
    pytest.param((0.5, 2.0, 1.5), id="a0.5_s2_i1.5"),
    pytest.param((2.0, 0.5, 0.25), id="a2_s0.5_i0.25"),
    pytest.param((-0.7, 1.3, 0.8), id="a-0.7_s1.3_i0.8"),
    pytest.param((0.0, 1.0, 1.0), id="a0_s1_i1"),
    pytest.param((1.5, -0.5, 1.0), id="a1.5_s-0.5_i1"),
    pytest.param((1.0, 1.0, 0.0), id="a1_s1_i0"),
    pytest.param((1.6732632423543772, 1.0507009873554805, 1.0), id="selu_consts"),
]


def _run_inplace(variant: EluVariant, api: str, x: torch.Tensor):
    if api == "functional":
        return variant.ext_fn(x, inplace=True)
    return variant.ext_module(inplace=True)(x)


def _torch_inplace(variant: EluVariant, api: str, x: torch.Tensor):
    if api == "functional":
        return variant.torch_fn(x, inplace=True)
    return variant.torch_module(inplace=True)(x)


APIS = ["functional", "module"]


class TestElu:
    # ------------------------------------------------------------------------------------------
    # Forward and backward parity with torch.nn.functional, over device x dtype x op x layout
    # ------------------------------------------------------------------------------------------

    @pytest.mark.parametrize("layout", ALL_LAYOUTS)
    @pytest.mark.parametrize("variant", VARIANTS)
    @pytest.mark.parametrize("dtype", FLOAT_DTYPES)
    @pytest.mark.parametrize("device", DEVICES)
    def test_forward_parity(self, device, dtype, variant, layout):
        x = make_input(layout, dtype, device)
        x_before = x.clone()
        out = variant.ext_fn(x)
        expected = variant.torch_fn(x)

        assert out.dtype == dtype and out.device == x.device and out.shape == x.shape
        assert_close(out, expected)
        assert_close(out, variant.reference(x))
        if variant.inplace_ok:
            assert_same_zero_signs(out, expected)
        # The output is allocated like the input (empty_like): dense layouts keep their strides,
        # which is also what PyTorch's TensorIterator gives for them.
        assert out.stride() == torch.empty_like(x).stride()
        if layout != "permuted_sliced":  # not dense: TensorIterator permutes, empty_like goes contiguous
            assert out.stride() == expected.stride()
        if layout.startswith("channels_last"):
            fmt = torch.channels_last if layout == "channels_last" else torch.channels_last_3d
            assert out.is_contiguous(memory_format=fmt)
        assert_bitwise_equal(x, x_before)  # out-of-place leaves its input alone

    @pytest.mark.parametrize("layout", ALL_LAYOUTS)
    @pytest.mark.parametrize("variant", VARIANTS)
    @pytest.mark.parametrize("dtype", FLOAT_DTYPES)
    @pytest.mark.parametrize("device", DEVICES)
    def test_backward_parity(self, device, dtype, variant, layout):
        x = make_input(layout, dtype, device, requires_grad=True)
        g = grad_output(x)
        out = variant.ext_fn(x)
        assert out.requires_grad and out.grad_fn is not None
        (gx,) = torch.autograd.grad(out, x, g)
        (expected,) = torch.autograd.grad(variant.torch_fn(x), x, g)
        assert gx.dtype == dtype and gx.shape == x.shape
        assert_close(gx, expected)
        assert_close(gx, variant.backward_reference(g, x))

    @pytest.mark.parametrize("variant", VARIANTS)
    @pytest.mark.parametrize("device", DEVICES)
    def test_raw_op_and_defaults(self, device, variant):
        x = make_input("contiguous", torch.float32, device)
        assert_close(variant.ext_op(x), variant.torch_fn(x))
        # Schema defaults: alpha = scale = input_scale = 1, celu alpha = 1.
        assert_close(ops.elu(x), F.elu(x))
        assert_close(ops.celu(x), F.celu(x))
        assert_close(ops.elu.default(x), torch.ops.aten.elu(x))
        assert_close(TF.elu(x), F.elu(x))
        assert_close(TF.celu(x), F.celu(x))

    # ------------------------------------------------------------------------------------------
    # The raw op with scale and input_scale, against torch.ops.aten
    # ------------------------------------------------------------------------------------------

    @pytest.mark.parametrize("layout", ["contiguous", "transposed", "channels_last", "expanded", "large"])
    @pytest.mark.parametrize("params", RAW_PARAMS)
    @pytest.mark.parametrize("dtype", FLOAT_DTYPES)
    @pytest.mark.parametrize("device", DEVICES)
    def test_raw_forward_vs_aten(self, device, dtype, params, layout):
        x = make_input(layout, dtype, device)
        out = ops.elu(x, *params)
        assert_close(out, torch.ops.aten.elu(x, *params))
        assert_close(out, elu_reference(x, *params))
        assert out.stride() == torch.ops.aten.elu(x, *params).stride()

    @pytest.mark.parametrize("params", RAW_PARAMS)
    @pytest.mark.parametrize("dtype", FLOAT_DTYPES)
    @pytest.mark.parametrize("device", DEVICES)
    def test_raw_autograd_vs_aten(self, device, dtype, params):
        x = make_input("contiguous", dtype, device, requires_grad=True)
        g = grad_output(x)
        (gx,) = torch.autograd.grad(ops.elu(x, *params), x, g)
        (expected,) = torch.autograd.grad(torch.ops.aten.elu(x, *params), x, g)
        assert_close(gx, expected)
        assert_close(gx, elu_backward_reference(g, *params, False, x))

    @pytest.mark.parametrize("is_result", [False, True], ids=["is_result=False", "is_result=True"])
    @pytest.mark.parametrize("params", RAW_PARAMS)
    @pytest.mark.parametrize("dtype", FLOAT_DTYPES)
    @pytest.mark.parametrize("device", DEVICES)
    def test_raw_backward_vs_aten(self, device, dtype, params, is_result):
        if is_result and params[0] < 0:
            pytest.skip("is_result with alpha < 0 is an error (test_elu_backward_negative_slope_error)")
        x = make_input("large", dtype, device, values=values_with_specials(dtype))
        g = grad_output(x)
        b = torch.ops.aten.elu(x, *params) if is_result else x
        out = ops.elu_backward(g, *params, is_result, b)
        expected = torch.ops.aten.elu_backward(g, *params, is_result, b)
        assert out.dtype == dtype and out.shape == x.shape
        assert_close_off_nan(out, expected, b)
        assert_close(out, elu_backward_reference(g, *params, is_result, b))

    @pytest.mark.parametrize("g_layout,b_layout", MIXED_LAYOUT_PAIRS)
    @pytest.mark.parametrize("dtype", FLOAT_DTYPES)
    @pytest.mark.parametrize("device", DEVICES)
    def test_backward_mixed_layouts(self, device, dtype, g_layout, b_layout):
        # grad_output and self_or_result of the same shape but different strides.
        g, b = mixed_layout_pair(g_layout, b_layout, dtype, device)
        for params, is_result in [((1.0, 1.0, 1.0), False), ((0.5, 2.0, 1.5), False), ((0.5, 2.0, 1.5), True)]:
            bb = torch.ops.aten.elu(b, *params) if is_result else b
            out = ops.elu_backward(g, *params, is_result, bb)
            assert_close(out, torch.ops.aten.elu_backward(g, *params, is_result, bb))

    # ------------------------------------------------------------------------------------------
    # Exact values: zeros (and their sign), NaN, infinities, tiny and huge magnitudes
    # ------------------------------------------------------------------------------------------

    @pytest.mark.parametrize("variant", VARIANTS)
    @pytest.mark.parametrize("dtype", FLOAT_DTYPES)
    @pytest.mark.parametrize("device", DEVICES)
    def test_special_values_forward(self, device, dtype, variant):
        x = special_values(dtype).to(device)
        out = variant.ext_fn(x)
        expected = variant.reference(x)
        torch.testing.assert_close(out, expected, equal_nan=True, **ulp_tol(dtype))
        assert_close(out, variant.torch_fn(x))
        if variant.inplace_ok:
            # alpha >= 0: 0 -> +0 and -0 -> -0, as in PyTorch on every device.
            assert_same_zero_signs(out, expected)
            assert_same_zero_signs(out, variant.torch_fn(x))
        alpha, scale, _ = variant.params
        assert torch.isnan(out[2]) and out[3].item() == float("inf")
        if variant.params[2] > 0:
            # -inf saturates to -alpha * scale exactly (in the dtype).
            torch.testing.assert_close(
                out[4].cpu(), torch.tensor(-alpha * scale, dtype=torch.float64).to(dtype), **ulp_tol(dtype)
            )

    @pytest.mark.parametrize("variant", VARIANTS)
    @pytest.mark.parametrize("dtype", FLOAT_DTYPES)
    @pytest.mark.parametrize("device", DEVICES)
    def test_special_values_backward(self, device, dtype, variant):
        x = special_values(dtype).to(device).requires_grad_()
        g = torch.full_like(x, 0.75)
        (gx,) = torch.autograd.grad(variant.ext_fn(x), x, g)
        expected = variant.backward_reference(g, x)
        opts = ulp_tol(dtype)
        opts["atol"] *= 4  # exp() lands in the subnormal range for x near -88 (float32)
        torch.testing.assert_close(gx, expected, equal_nan=True, **opts)
        (gx_torch,) = torch.autograd.grad(variant.torch_fn(x), x, g)
        assert_close_off_nan(gx, gx_torch, x)
        alpha, scale, input_scale = variant.params
        # x == +-0 takes the negative-side slope alpha * scale * input_scale (ATen's `<= 0`); NaN gives NaN.
        slope_at_zero = torch.tensor(0.75 * alpha * scale * input_scale, dtype=torch.float64).to(dtype)
        for i in (0, 1):
            torch.testing.assert_close(gx[i].cpu().double(), slope_at_zero.double(), **ulp_tol(dtype))

    @pytest.mark.parametrize(
        "variant", variant_params([EluVariant("elu", 1.0), EluVariant("celu", 0.5), EluVariant("selu")])
    )
    @pytest.mark.parametrize("dtype", FLOAT_DTYPES)
    @pytest.mark.parametrize("device", DEVICES)
    def test_expm1_precision_tiny_negatives(self, device, dtype, variant):
        # exp(x) - 1 cancels for |x| below ~1e-7 (float32); expm1 keeps every digit.
        lowest = -7 if dtype == torch.float16 else -30
        x = -torch.logspace(lowest, 0, 2000, dtype=torch.float64).to(device=device, dtype=dtype)
        out = variant.ext_fn(x)
        torch.testing.assert_close(out, variant.reference(x), **ulp_tol(dtype))
        x = x.detach().requires_grad_()
        (gx,) = torch.autograd.grad(variant.ext_fn(x), x, torch.ones_like(x))
        torch.testing.assert_close(gx, variant.backward_reference(torch.ones_like(x), x), **ulp_tol(dtype))

    @pytest.mark.parametrize("dtype", FLOAT_DTYPES)
    @pytest.mark.parametrize("device", DEVICES)
    def test_large_negatives_saturate(self, device, dtype):
        fi = torch.finfo(dtype)
        x = torch.tensor([-60.0, -100.0, -1e4, -1e30, -fi.max], dtype=torch.float64).to(device=device, dtype=dtype)
        for alpha in (1.0, 0.5, 2.0):
            out = TF.elu(x, alpha)
            assert torch.equal(out, torch.full_like(x, -alpha)), (alpha, out)
        out = TF.selu(x)
        expected = torch.full_like(x, -1.6732632423543772 * 1.0507009873554805)
        torch.testing.assert_close(out, expected, rtol=torch.finfo(dtype).eps, atol=0)

    @pytest.mark.parametrize("dtype", FLOAT_DTYPES)
    @pytest.mark.parametrize("device", DEVICES)
    def test_celu_inexact_reciprocal_is_accurate(self, device, dtype):
        # alpha = 0.3: 1/alpha is not a float. CELU's forward and backward must use input_scale = 1/alpha in
        # the op-math type, so they match the float64 formula (PyTorch's celu backward rounds 1/alpha to
        # float even for double inputs; a float64 formula is the reference here, not PyTorch).
        alpha = 0.3
        x = make_input("contiguous", dtype, device, requires_grad=True)
        out = TF.celu(x, alpha)
        opts = tol(dtype)
        torch.testing.assert_close(out, elu_reference(x, alpha, 1.0, 1.0 / alpha), **opts)
        g = grad_output(x)
        (gx,) = torch.autograd.grad(out, x, g)
        torch.testing.assert_close(gx, elu_backward_reference(g, alpha, 1.0, 1.0 / alpha, False, x), **opts)

    # ------------------------------------------------------------------------------------------
    # In-place: functional inplace=True and module inplace=True
    # ------------------------------------------------------------------------------------------

    @pytest.mark.parametrize("api", APIS)
    @pytest.mark.parametrize("layout", WRITABLE_LAYOUTS)
    @pytest.mark.parametrize("variant", VARIANTS)
    @pytest.mark.parametrize("dtype", FLOAT_DTYPES)
    @pytest.mark.parametrize("device", DEVICES)
    def test_inplace_matches_out_of_place(self, device, dtype, variant, layout, api):
        x = make_input(layout, dtype, device, values=values_with_specials(dtype))
        out_of_place = variant.ext_fn(x)
        torch_x, torch_storage = same_layout_copy(x)
        _torch_inplace(variant, api, torch_x)
        base = x._base if x._base is not None else x

        version, ptr, stride = x._version, x.data_ptr(), x.stride()
        ret = _run_inplace(variant, api, x)
        assert ret is x, "in-place must return its input"
        assert x._version > version, "in-place must bump the version counter"
        assert x.data_ptr() == ptr and x.stride() == stride
        assert_bitwise_equal(x, out_of_place)
        # The whole storage, including elements outside a view, equals PyTorch's in-place result.
        assert_close(base, torch_storage if x._base is not None else torch_x)

    @pytest.mark.parametrize("api", APIS)
    @pytest.mark.parametrize("variant", POSITIVE_VARIANTS)
    @pytest.mark.parametrize("device", DEVICES)
    def test_inplace_under_no_grad_on_leaf(self, device, variant, api):
        leaf = make_input("contiguous", torch.float32, device).requires_grad_()
        expected = variant.torch_fn(leaf.detach())
        with torch.no_grad():
            version = leaf._version
            ret = _run_inplace(variant, api, leaf)
        assert ret is leaf and leaf._version > version
        assert_close(leaf.detach(), expected)

    @pytest.mark.parametrize("api", APIS)
    @pytest.mark.parametrize("layout", ["expanded", "expanded_scalar"])
    @pytest.mark.parametrize("device", DEVICES)
    def test_inplace_on_expanded_view_errors(self, device, layout, api):
        for variant in (EluVariant("elu", 1.0), EluVariant("celu", 0.5), EluVariant("selu")):
            x = make_input(layout, torch.float32, device)
            with pytest.raises(RuntimeError):  # PyTorch refuses it too
                _torch_inplace(variant, api, make_input(layout, torch.float32, device))
            with pytest.raises(RuntimeError, match="memory"):
                _run_inplace(variant, api, x)

    @pytest.mark.parametrize("api", APIS)
    @pytest.mark.parametrize("variant", VARIANTS)
    @pytest.mark.parametrize("device", DEVICES)
    def test_inplace_on_leaf_requiring_grad_errors(self, device, variant, api):
        leaf = make_input("contiguous", torch.float32, device).requires_grad_()
        before = leaf.detach().clone()
        with pytest.raises(RuntimeError, match="leaf"):
            _torch_inplace(variant, api, leaf)
        with pytest.raises(RuntimeError, match="expected self not to be a leaf tensor that requires grad .or a view of one., got a leaf "):
            _run_inplace(variant, api, leaf)
        # As in PyTorch, the refused call does not write the leaf.
        assert_bitwise_equal(leaf.detach(), before)

    @pytest.mark.parametrize("api", APIS)
    @pytest.mark.parametrize(
        "layout", ["contiguous", "scalar_0d", "empty", "transposed", "sliced_step2", "offset_slice",
                   "permuted_sliced", "channels_last"]
    )
    @pytest.mark.parametrize("variant", POSITIVE_VARIANTS)
    @pytest.mark.parametrize("dtype", FLOAT_DTYPES)
    @pytest.mark.parametrize("device", DEVICES)
    def test_inplace_nonleaf_backward_matches_torch(self, device, dtype, variant, layout, api):
        def run(apply):
            leaf, x = nonleaf_input(layout, dtype, device)
            root = x._base if x._base is not None else x
            out = apply(variant, api, x)
            assert out is x
            w = grad_output(x, seed=4)
            w_root = grad_output(root, seed=5)
            # A loss over the view and over the whole base: the base's gradient must flow through the
            # in-place op only where the view wrote.
            loss = (x * w).sum() + (root * w_root).sum()
            (grad,) = torch.autograd.grad(loss, leaf)
            return x.detach(), grad

        y, grad = run(_run_inplace)
        y_ref, grad_ref = run(_torch_inplace)
        assert_close(y, y_ref)
        assert_close(grad, grad_ref)

    @pytest.mark.parametrize("api", APIS)
    @pytest.mark.parametrize("variant", NEGATIVE_VARIANTS)
    @pytest.mark.parametrize("device", DEVICES)
    def test_inplace_negative_alpha_backward_errors(self, device, variant, api):
        for run in (_torch_inplace, _run_inplace):  # PyTorch first: the test asserts PyTorch's behaviour
            leaf = make_input("contiguous", torch.float32, device).requires_grad_()
            out = run(variant, api, leaf * 1)  # the forward is allowed
            with pytest.raises(RuntimeError, match="negative slope"):
                out.sum().backward()

    # ------------------------------------------------------------------------------------------
    # gradcheck / gradgradcheck in float64, off the kink at 0
    # ------------------------------------------------------------------------------------------

    @pytest.mark.parametrize("inplace", [False, True], ids=["out_of_place", "inplace"])
    @pytest.mark.parametrize("layout", GRADCHECK_LAYOUT_PARAMS)
    @pytest.mark.parametrize("variant", VARIANTS)
    @pytest.mark.parametrize("device", DEVICES)
    def test_gradcheck(self, device, variant, layout, inplace):
        if inplace and not variant.inplace_ok:
            pytest.skip("in-place backward refuses alpha < 0 (test_inplace_negative_alpha_backward_errors)")
        x = make_input(layout, torch.float64, device, values=away_from_zero_values, requires_grad=True)
        x = x.detach().requires_grad_()  # a leaf with the layout's strides

        def fn(t):
            return variant.ext_fn(t.clone(), inplace=True) if inplace else variant.ext_fn(t)

        assert torch.autograd.gradcheck(fn, (x,))
        assert torch.autograd.gradgradcheck(fn, (x,))

    @pytest.mark.parametrize("is_result", [False, True], ids=["is_result=False", "is_result=True"])
    @pytest.mark.parametrize(
        "params", [p for p in RAW_PARAMS if p.id in ("a1_s1_i1", "a0.5_s2_i1.5", "selu_consts", "a1.5_s-0.5_i1")]
    )
    @pytest.mark.parametrize("device", DEVICES)
    def test_gradcheck_raw_ops(self, device, params, is_result):
        x = away_from_zero_values((3, 5)).to(device).requires_grad_()
        assert torch.autograd.gradcheck(lambda t: ops.elu(t, *params), (x,))
        assert torch.autograd.gradgradcheck(lambda t: ops.elu(t, *params), (x,))
        # elu_backward as a function of both of its tensors (its own Autograd kernel).
        b = (torch.ops.aten.elu(x.detach(), *params) if is_result else x.detach()).requires_grad_()
        if is_result:
            # keep b off 0 so that finite differences do not cross the branch
            b = torch.where(b.abs() < 0.05, b + 0.1, b).detach().requires_grad_()
        g = normal_values((3, 5), seed=7).to(device).requires_grad_()

        def bwd(g, b):
            return ops.elu_backward(g, *params, is_result, b)

        assert torch.autograd.gradcheck(bwd, (g, b))
        assert torch.autograd.gradgradcheck(bwd, (g, b))

    # ------------------------------------------------------------------------------------------
    # torch.library.opcheck: schema, autograd registration, fake tensors, AOT dispatch
    # ------------------------------------------------------------------------------------------

    # (tests/test_ops.py::test_opcheck runs opcheck over the elu, celu and selu rows' OpcheckInfo.)

    # ------------------------------------------------------------------------------------------
    # Errors
    # ------------------------------------------------------------------------------------------

    NON_FLOATING = [torch.int32, torch.int64, torch.uint8, torch.bool, torch.complex64, torch.complex128]
    CALLS = {
        "elu": lambda x, f: ops.elu(x, 1.0),
        "elu_": lambda x, f: ops.elu_(x, 1.0),
        "celu": lambda x, f: ops.celu(x, 1.0),
        "celu_": lambda x, f: ops.celu_(x, 1.0),
        "selu": lambda x, f: ops.selu(x),
        "selu_": lambda x, f: ops.selu_(x),
        "functional.elu": lambda x, f: TF.elu(x),
        "elu_backward(grad_output)": lambda x, f: ops.elu_backward(x, 1.0, 1.0, 1.0, False, f),
        "elu_backward(self_or_result)": lambda x, f: ops.elu_backward(f, 1.0, 1.0, 1.0, False, x),
    }

    @pytest.mark.parametrize("call", list(CALLS))
    @pytest.mark.parametrize("dtype", NON_FLOATING, ids=dtype_id)
    @pytest.mark.parametrize("device", DEVICES)
    def test_rejects_non_floating(self, device, dtype, call):
        x = torch.ones(3, 4, device=device).to(dtype)
        f = torch.ones(3, 4, device=device)
        with pytest.raises(RuntimeError, match="floating-point"):
            self.CALLS[call](x, f)

    @pytest.mark.parametrize("device", DEVICES)
    def test_celu_alpha_zero(self, device):
        x = make_input("contiguous", torch.float32, device)
        with pytest.raises(RuntimeError, match="alpha cannot be 0"):
            F.celu(x, 0.0)  # PyTorch's behaviour, which torch_ext mirrors
        for call in (
            lambda: ops.celu(x, 0.0),
            lambda: ops.celu_(x.clone(), 0.0),
            lambda: TF.celu(x, 0.0),
            lambda: TF.celu(x.clone(), 0.0, inplace=True),
            lambda: torch_ext.nn.CELU(0.0)(x),
            lambda: torch_ext.nn.CELU(0.0, inplace=True)(x.clone()),
            lambda: TF.celu(x.clone().requires_grad_(), 0.0),
        ):
            with pytest.raises(RuntimeError, match="alpha cannot be 0"):
                call()

    @pytest.mark.parametrize("device", DEVICES)
    def test_elu_backward_shape_mismatch(self, device):
        g = torch.ones(3, 4, device=device)
        for b in (torch.ones(4, 3, device=device), torch.ones(12, device=device), torch.ones(1, 4, device=device)):
            for is_result in (False, True):
                with pytest.raises(RuntimeError, match="shape"):
                    ops.elu_backward(g, 1.0, 1.0, 1.0, is_result, b)

    @pytest.mark.parametrize("device", DEVICES)
    def test_elu_backward_negative_slope_error(self, device):
        x = make_input("contiguous", torch.float32, device)
        g = grad_output(x)
        with pytest.raises(RuntimeError, match="negative slope"):
            torch.ops.aten.elu_backward(g, -0.5, 1.0, 1.0, True, x)
        with pytest.raises(RuntimeError, match="negative slope"):
            ops.elu_backward(g, -0.5, 1.0, 1.0, True, x)
        with pytest.raises(RuntimeError, match="negative slope"):
            ops.elu_backward(g.to("meta"), -0.5, 1.0, 1.0, True, x.to("meta"))
        # alpha == 0 is allowed on the in-place path; alpha < 0 is fine out of place.
        for alpha, is_result in ((0.0, True), (-0.5, False)):
            assert_close(
                ops.elu_backward(g, alpha, 1.0, 1.0, is_result, x),
                torch.ops.aten.elu_backward(g, alpha, 1.0, 1.0, is_result, x),
            )

    @requires_cuda
    def test_elu_backward_device_mismatch(self):
        g = torch.ones(3, 4, device="cuda")
        with pytest.raises(RuntimeError, match="device"):
            ops.elu_backward(g, 1.0, 1.0, 1.0, False, torch.ones(3, 4))
        with pytest.raises(RuntimeError, match="device"):
            ops.elu_backward(g.cpu(), 1.0, 1.0, 1.0, False, torch.ones(3, 4, device="cuda"))

    # ------------------------------------------------------------------------------------------
    # Autograd plumbing
    # ------------------------------------------------------------------------------------------

    @pytest.mark.parametrize("device", DEVICES)
    def test_autocast_keeps_dtype(self, device):
        # ELU is on no autocast list: under autocast it runs in the input's dtype, as in PyTorch.
        x = make_input("contiguous", torch.float32, device)
        low = torch.bfloat16 if device == "cpu" else torch.float16
        with torch.autocast(device_type=device, dtype=low):
            out = TF.elu(x, 0.5)
            expected = F.elu(x, 0.5)
            half_in = TF.selu(x.to(low))
        assert out.dtype == expected.dtype == torch.float32
        assert half_in.dtype == low
        assert_close(out, expected)

    # ------------------------------------------------------------------------------------------
    # Properties over random shapes, strides, dtypes and values
    # ------------------------------------------------------------------------------------------

    @pytest.mark.parametrize("device", DEVICES)
    @given(data=st.data())
    def test_property_random_layouts(self, device, data):
        layout = draw_strided_layout(data, max_size=5)
        dtype = data.draw(st.sampled_from(list(DTYPE_NAMES)), label="dtype")
        alphas = st.sampled_from([1.0, 0.5, 2.0, 0.0, -0.5, 1.7]) | st.floats(-3, 3, width=32).map(lambda a: a + 0.0)
        alpha = data.draw(alphas, label="alpha")  # + 0.0: no -0.0 (the sign of zero outputs would be ambiguous)
        magnitude = data.draw(st.sampled_from([1e-12, 1e-3, 1.0, 3.0, 30.0, 1e4]), label="magnitude")
        special_every = data.draw(st.sampled_from([0, 2, 5]), label="special_every")
        seed = data.draw(st.integers(0, 2**16), label="seed")

        base = with_specials_every(normal_values(layout.base_shape, seed=seed) * magnitude, dtype, special_every)
        x = layout.view(base.to(device=device, dtype=dtype))

        out = TF.elu(x, alpha)
        expected = F.elu(x, alpha)
        assert out.shape == x.shape and out.dtype == dtype
        assert out.stride() == torch.empty_like(x).stride()
        assert_close(out, expected)
        if alpha >= 0:
            assert_same_zero_signs(out, expected)

        g = grad_output(x, seed=seed + 1)
        gx = ops.elu_backward(g, alpha, 1.0, 1.0, False, x)
        assert_close_off_nan(gx, torch.ops.aten.elu_backward(g, alpha, 1.0, 1.0, False, x), x)
        assert_close(gx, elu_backward_reference(g, alpha, 1.0, 1.0, False, x))
        if alpha >= 0:
            y = x.clone()
            TF.elu(y, alpha, inplace=True)
            assert_bitwise_equal(y, out)

    # ------------------------------------------------------------------------------------------
    # Determinism across thread counts, and the CPU kernels of each compiled ISA
    # ------------------------------------------------------------------------------------------

    # (Thread counts: tests/test_ops.py::test_thread_count_independent, over the elu, celu and selu rows.)

    @pytest.mark.parametrize("isa", ["default", "avx2", "avx512"])
    def test_cpu_isa_kernels(self, isa):
        """Each compiled CPU kernel (the ISA picked by ATEN_CPU_CAPABILITY) against PyTorch's, in a subprocess."""
        run_with_cpu_isa(isa, _ISA_SCRIPT)

    # ------------------------------------------------------------------------------------------
    # CUDA specifics: streams, graphs, 64-bit indexing, device guard
    # ------------------------------------------------------------------------------------------

    @requires_cuda
    def test_cuda_graph_capture(self):
        # Kernels must run on the current stream; a launch on the legacy default stream fails under capture.
        static_x = make_input("large", torch.float32, "cuda", requires_grad=True).detach().requires_grad_()
        static_g = torch.ones_like(static_x)
        s = torch.cuda.Stream()
        s.wait_stream(torch.cuda.current_stream())
        with torch.cuda.stream(s):
            for _ in range(2):  # warm up
                y = TF.elu(static_x, 0.5)
                (gx,) = torch.autograd.grad(y, static_x, static_g)
        torch.cuda.current_stream().wait_stream(s)
        graph = torch.cuda.CUDAGraph()
        with torch.cuda.graph(graph):
            static_y = TF.elu(static_x, 0.5)
            (static_gx,) = torch.autograd.grad(static_y, static_x, static_g)
            static_z = static_x.detach().clone()
            TF.celu(static_z, 2.0, inplace=True)
        for seed in (11, 12):
            new = make_input("large", torch.float32, "cuda", seed=seed)
            with torch.no_grad():
                static_x.copy_(new)
            graph.replay()
            torch.cuda.synchronize()
            assert_close(static_y, F.elu(new, 0.5))
            assert_close(static_z, F.celu(new, 2.0))
            xr = new.clone().requires_grad_()
            (ref_g,) = torch.autograd.grad(F.elu(xr, 0.5), xr, static_g)
            assert_close(static_gx, ref_g)

    @requires_cuda
    def test_cuda_64bit_indexing(self):
        free, total = torch.cuda.mem_get_info()
        if free < 24 * 2**30:
            pytest.skip("needs ~24 GiB of free GPU memory")
        n = 2**31 + 77
        # Contiguous: the last elements sit past 2**31.
        x = torch.empty(n, dtype=torch.float16, device="cuda")
        x.uniform_(-4, 4)
        out = TF.elu(x, 0.5)
        for sl in (slice(0, 4096), slice(2**31 - 100, 2**31 + 77)):
            assert_close(out[sl], F.elu(x[sl], 0.5))
        del out
        xr = x.detach().requires_grad_()
        g = torch.ones_like(x)
        (gx,) = torch.autograd.grad(TF.elu(xr, 0.5), xr, g)
        sl = slice(2**31 - 100, 2**31 + 77)
        assert_close(gx[sl], torch.ops.aten.elu_backward(g[sl], 0.5, 1.0, 1.0, False, x[sl]))
        del gx, g, xr
        # Strided: element offsets past 2**32 in a view of 2**31 + 77 elements.
        big = torch.empty(2 * n, dtype=torch.float16, device="cuda")
        big.uniform_(-4, 4)
        view = big[::2]
        out = TF.elu(view)
        sl = slice(n - 200, n)
        assert_close(out[sl], F.elu(view[sl]))
        TF.elu(view, inplace=True)
        assert_close(view[sl], out[sl])

    @pytest.mark.skipif(not CUDA_AVAILABLE or torch.cuda.device_count() < 2, reason="needs two GPUs")
    def test_cuda_second_device(self):
        x = make_input("large", torch.float32, "cuda:1", requires_grad=True)
        out = TF.elu(x, 0.5)
        assert out.device == x.device
        (gx,) = torch.autograd.grad(out, x, torch.ones_like(out))
        (ref,) = torch.autograd.grad(F.elu(x, 0.5), x, torch.ones_like(out))
        assert_close(out, F.elu(x, 0.5))
        assert_close(gx, ref)


# Run in a subprocess with ATEN_CPU_CAPABILITY set: checks that torch_ext picked that ISA's kernel and that
# it agrees with PyTorch's kernel for the same ISA (and with float64), forward, backward and in-place.
_ISA_SCRIPT = textwrap.dedent(
    """
    import sys
    import torch
    import torch_ext
    import torch_ext.functional as TF
    from common_utils import (DTYPE_NAMES, ELU_VARIANTS, assert_bitwise_equal, assert_close,
                              assert_close_off_nan, same_layout_copy,
                              assert_same_zero_signs, make_input, normal_values, values_with_specials)

    want = sys.argv[1]
    assert torch.backends.cpu.get_cpu_capability() == want, torch.backends.cpu.get_cpu_capability()
    info = torch_ext.build_info()
    assert info["cpu_capability"] == want, (info["cpu_capability"], want)
    # Small enough for PyTorch's scalar DEFAULT kernels, large enough for vector bodies and tails.
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
            x = make_input(layout, dtype, "cpu", values=values_with_specials(dtype))
            g = normal_values(x.shape, seed=1).to(dtype)
            for v in ELU_VARIANTS:
                where = f"{want} {dtype} {name} {v.id}"
                xr = x.detach().requires_grad_()
                out = v.ext_fn(xr)
                expected = v.torch_fn(x)
                assert_close(out, expected, msg=lambda m: where + ": " + m)
                assert_close(out, v.reference(x), msg=lambda m: where + " (float64): " + m)
                if v.inplace_ok:
                    assert_same_zero_signs(out, expected)
                (gx,) = torch.autograd.grad(out, xr, g)
                xt = x.detach().requires_grad_()
                (gt,) = torch.autograd.grad(v.torch_fn(xt), xt, g)
                assert_close_off_nan(gx, gt, x, msg=lambda m: where + " backward: " + m)
                assert_close(gx, v.backward_reference(g, x), msg=lambda m: where + " backward (float64): " + m)
                if name != "expanded":
                    y, _ = same_layout_copy(x)
                    v.ext_fn(y, inplace=True)
                    assert_bitwise_equal(y, out, where + " in-place vs out-of-place")
                checked += 1
    print(f"checked {checked} cases")
    print("OK")
    """
)
