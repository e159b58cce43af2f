"""ELU family (elu, celu, selu and their in-place and backward ops): what is particular to it (the raw op with scale
and input_scale, expm1 precision, celu's reciprocal, the negative-alpha in-place error, ...). The checks every op
shares (parity, special values, in place, gradcheck, compile, ISA kernels, CUDA graphs) run over the elu, celu and selu
rows of torch_ext.testing.op_db in tests/test_op_db.py and tests/test_ops.py."""

import pytest
import torch
import torch.nn.functional as F
from hypothesis import given, strategies as st

import torch_ext
import torch_ext.functional as TF
from common_utils import (
    grad_output,
    nonleaf_input,
    dtype_id,
    CUDA_AVAILABLE,
    DEVICES,
    DTYPE_NAMES,
    ELU_VARIANTS,
    FLOAT_DTYPES,
    INPLACE_VARIANTS,
    NEGATIVE_ALPHA_VARIANTS,
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
    requires_cuda,
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

    # (tests/test_op_db.py::test_forward_parity, test_backward_parity and test_double_backward_matches_torch, over
    # the elu, celu and selu rows' parity_samples: every layout, alphas of op_db.ELU_ARGS_GRID, special values
    # mixed in, against torch and the float64 truth.)

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

    # (Special values forward and backward: tests/test_op_db.py::test_special_values_*, over the rows'
    # special_samples.)

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

    # (In place against out of place, bit for bit, storage around views included:
    # tests/test_op_db.py::test_inplace_matches_out_of_place.)

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

    # (Of the functional and in-place calls, with forward-mode AD: tests/test_op_db.py::test_gradcheck. Here: the raw
    # ops with scale and input_scale, and elu_backward's own autograd.)

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

    # (Thread counts: tests/test_ops.py::test_thread_count_independent, over the elu, celu and selu rows; each CPU ISA:
    # tests/test_op_db.py::test_cpu_isa_kernels, over their parity samples.)

    # ------------------------------------------------------------------------------------------
    # CUDA specifics: streams, graphs, 64-bit indexing, device guard
    # ------------------------------------------------------------------------------------------

    # (Graph capture: tests/test_op_db.py::test_cuda_graph_capture.)

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
