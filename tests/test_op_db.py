"""The reference checks every op shares, over the op table (torch_ext.testing.op_db): forward, backward and double
backward against torch (row.ref) and against torch in float64, special values, in place against out of place,
gradcheck with forward- and reverse-mode AD and gradgradcheck, torch.compile (fullgraph) of the op and of its layer,
dynamic shapes without recompiles, the CPU kernels of each compiled ISA, and CUDA graph capture. A new row gets all
of them (or answers a family with an OptOut and its reason); what is particular to an op stays in
tests/test_<family>.py. tests/test_ops.py holds the other shared checks (Meta, grad mode, opcheck, threads, ATen)."""

import textwrap

import pytest
import torch
import torch._dynamo
import torch._dynamo.testing
import torch.nn as nn

from torch_ext.testing import OptOut, op_db
from torch_ext.testing.op_db import SampleInput
from common_utils import (DEVICES, FLOAT_DTYPES, REDUCED_DTYPES, assert_bitwise_equal, assert_close, assert_same_zero_signs,
                          grad_output, make_input, requires_cuda, run_with_cpu_isa, same_layout_copy, ulp_tol)
from stack_utils import GraphRecorder, graph_ops


def _sample_params(attr: str, rows=op_db, keep=lambda row, name: True):
    """(row, sample name) of every row's samples in the field attr; a row that opts out is one skipped case."""
    params = []
    for row in rows:
        samples = getattr(row, attr)
        if isinstance(samples, OptOut):
            params.append(pytest.param(row, None, id=row.name, marks=pytest.mark.skip(reason=samples.reason)))
        else:
            params += [pytest.param(row, name, id=f"{row.name}-{name}") for name in samples if keep(row, name)]
    return params


def _row_params(rows=op_db):
    return [pytest.param(row, id=row.name) for row in rows]


def _writable(row, name) -> bool:
    """The sample has an in-place op to call on it: no two of its elements share memory."""
    s = row.parity_samples[name](torch.float32, "meta")
    return row.inplace is not None and torch._debug_has_internal_overlap(s.input) != 1


def _call(fn, s: SampleInput):
    return fn(s.input, *s.args, **s.kwargs)


def _with_tensors(s: SampleInput, tensors) -> SampleInput:
    """s with its tensors replaced, in order, by tensors."""
    it = iter(tensors)
    return s.replace_tensors(lambda t: next(it))


def _leafs(s: SampleInput) -> SampleInput:
    """s with each tensor a fresh leaf requiring grad, strides kept (for gradcheck: no expanded views)."""
    return s.replace_tensors(_strided_leaf)


def _strided_leaf(t: torch.Tensor) -> torch.Tensor:
    leaf = torch.empty_strided(t.size(), t.stride(), dtype=t.dtype, device=t.device)
    return leaf.copy_(t.detach()).requires_grad_()


def _views_of_leafs(s: SampleInput, dtype=None) -> SampleInput:
    """s with each tensor the same view (sizes, strides, offset) of a fresh leaf copy of its base, of dtype when given:
    the gradient is taken with respect to the view (an expanded leaf could not take one)."""
    def view(t):
        base = t._base if t._base is not None else t
        leaf = torch.empty_strided(base.size(), base.stride(), dtype=dtype or t.dtype, device=t.device)
        leaf = leaf.copy_(base.detach()).requires_grad_()
        return leaf.as_strided(t.size(), t.stride(), t.storage_offset())

    return s.replace_tensors(view)


def _float64(s: SampleInput) -> SampleInput:
    return s.replace_tensors(lambda t: t.detach().to(torch.float64))


def _assert_gradient_at_nan_inputs(row, grad: torch.Tensor, x: torch.Tensor, theirs: torch.Tensor, what: str):
    # NaN at a NaN input (ATen's depends on its kernel path there), or, for a row that follows ATen's rule
    # (nan_gradient_at_nan_input False: relu, leaky_relu), ATen's value.
    nan = torch.isnan(x.detach())
    if row.nan_gradient_at_nan_input:
        assert torch.isnan(grad[nan]).all(), f"{what}: not NaN at a NaN input"
    else:
        assert_close(grad[nan], theirs[nan], rtol=0, atol=0, msg=lambda m: f"{what} at NaN inputs vs torch: {m}")


def _check_forward(row, s: SampleInput, dtype):
    """Forward against ref and against ref in float64 rounded to dtype, at the row's tolerances; zero signs; the
    output's strides; the input left alone."""
    before = [t.clone() for t in s.tensors]
    x = s.input
    out = _call(row.op, s)
    expected = _call(row.ref, s)
    assert out.dtype == expected.dtype and out.device == x.device and out.shape == expected.shape
    tol = row.tolerances[dtype]
    assert_close(out, expected, **tol)
    # Where ours and ATen round differently in a low precision, the float64 truth decides too.
    assert_close(out, _call(row.ref, _float64(s)).to(out.dtype), **tol)
    if row.zero_signs_like_ref(*s.args):
        assert_same_zero_signs(out, expected)
    # The output is allocated like the input (empty_like): dense layouts keep their strides, as TensorIterator's
    # do; a view that is neither dense nor in decreasing-stride order TensorIterator permutes, empty_like does not.
    assert out.stride() == torch.empty_like(x).stride()
    strides = [st for st, size in zip(x.stride(), x.shape) if size > 1 and st != 0]
    if x.device.type == "cpu" and row.ref_contiguous_on_cpu:
        assert expected.is_contiguous()  # (still so: else the row's flag goes)
    elif torch.empty_like(x).stride() == x.stride() or strides == sorted(strides, reverse=True):
        assert out.stride() == expected.stride()
    for t, b in zip(s.tensors, before):
        assert_bitwise_equal(t, b, "out of place leaves its inputs alone")
    return out


def _gradient_truth(row, s: SampleInput, g: torch.Tensor, out: torch.Tensor) -> tuple:
    """The float64 gradients of every tensor input of the sample for grad_output g: of ref in float64, or, for a row
    whose backward reads its result (backward_of_rounded_result), torch's backward op at our result rounded to
    the dtype (out)."""
    if row.backward_of_rounded_result is not None:
        return (row.backward_of_rounded_result(g.double(), out.detach().double()),)
    leafs64 = _views_of_leafs(s, torch.float64)
    return torch.autograd.grad(_call(row.ref, leafs64), leafs64.tensors, g.double())


def _second_order_truth_from_rounded_result(row, out: torch.Tensor, g: torch.Tensor, grad: torch.Tensor) -> tuple:
    """For a row whose backward reads its result (backward_of_rounded_result B): in float64 with torch's B, at our
    result y rounded to the dtype (out), the gradient gx = B(g, y) and the derivatives of <v, gx> with respect to x
    (its derivative in y, carried to x by B as the first order carries y's gradient) and to g (B(v, y)); v is the
    second-order test's direction (grad_output of the first-order gradient, seed 3)."""
    y = out.detach().double().requires_grad_()
    g64 = g.detach().double().requires_grad_()
    v = grad_output(grad, seed=3).double()
    gx = row.backward_of_rounded_result(g64, y)
    d_y, d_g = torch.autograd.grad((gx * v).sum(), [y, g64])
    return gx.detach(), row.backward_of_rounded_result(d_y, y.detach()), d_g


def _check_backward(row, s: SampleInput, dtype):
    """The gradient of every tensor input against torch's and against torch's in float64, off NaN inputs (ATen's
    gradient there depends on its kernel path); at NaN inputs NaN, or ATen's value (nan_gradient_at_nan_input)."""
    leafs = _views_of_leafs(s)
    out = _call(row.op, leafs)
    assert out.requires_grad and out.grad_fn is not None
    g = grad_output(out)
    ours = torch.autograd.grad(out, leafs.tensors, g)
    ref_leafs = _views_of_leafs(s)
    theirs = torch.autograd.grad(_call(row.ref, ref_leafs), ref_leafs.tensors, g)
    truth = _gradient_truth(row, s, g, out)
    keep = ~torch.isnan(s.input.detach())
    tol = row.tolerances[dtype]
    for i, (a, b, t) in enumerate(zip(ours, theirs, truth)):
        assert a.dtype == b.dtype and a.shape == b.shape, i
        if i == 0:  # the input's gradient: element-wise in the input
            _assert_gradient_at_nan_inputs(row, a, s.input, b, "grad")
            a, b, t = a[keep], b[keep], t[keep]
        assert_close(a, b, **tol, msg=lambda m: f"grad {i} vs torch: {m}")
        assert_close(a, t.to(a.dtype), **tol, msg=lambda m: f"grad {i} vs float64: {m}")
    return ours


def _check_inplace(row, s: SampleInput, module: bool):
    """The in-place call (functional, or the layer with inplace=True) gives the out-of-place result bit for bit, in
    its input's memory, and leaves the rest of the input's storage alone."""
    expected = _call(row.op, s)
    x, storage = same_layout_copy(s.input)
    want = torch.empty_strided(storage.size(), storage.stride(), dtype=storage.dtype, device=storage.device)
    want.copy_(storage)
    want.as_strided(x.size(), x.stride(), x.storage_offset()).copy_(expected)
    version, ptr, stride = x._version, x.data_ptr(), x.stride()
    if module:
        ret = row.module.cls(*s.args, inplace=True)(x)
    else:
        ret = row.inplace(x, *s.args, **s.kwargs)
    assert ret is x, "in place returns its input"
    assert x._version > version, "in place bumps the version counter"
    assert x.data_ptr() == ptr and x.stride() == stride
    assert_bitwise_equal(x, expected, "in place vs out of place")
    assert_bitwise_equal(storage, want, "the input's storage around the view")


# --------------------------------------------------------------------------------------------
# Parity with torch: forward, backward, double backward, over layouts x the argument grid x dtypes
# --------------------------------------------------------------------------------------------

@pytest.mark.parametrize("device", DEVICES)
@pytest.mark.parametrize("dtype", FLOAT_DTYPES)
@pytest.mark.parametrize("row,sample", _sample_params("parity_samples"))
def test_forward_parity(row, sample, dtype, device):
    _check_forward(row, row.parity_samples[sample](dtype, device), dtype)


@pytest.mark.parametrize("device", DEVICES)
@pytest.mark.parametrize("dtype", FLOAT_DTYPES)
@pytest.mark.parametrize("row,sample", _sample_params("parity_samples"))
def test_backward_parity(row, sample, dtype, device):
    _check_backward(row, row.parity_samples[sample](dtype, device), dtype)


# One layout for the second order: a vector body, a scalar tail and special values.
DOUBLE_BACKWARD_LAYOUT = "odd_1d"


@pytest.mark.parametrize("device", DEVICES)
@pytest.mark.parametrize("dtype", FLOAT_DTYPES)
@pytest.mark.parametrize("row,sample", _sample_params(
    "parity_samples", keep=lambda row, name: name.split("-")[0] == DOUBLE_BACKWARD_LAYOUT))
def test_double_backward_matches_torch(row, sample, dtype, device):
    s = row.parity_samples[sample](dtype, device)
    g_data = grad_output(_call(row.op, s))

    def second_order(fn, sample, g_data):
        leafs = _views_of_leafs(sample)
        g = g_data.detach().clone().requires_grad_()
        grads = torch.autograd.grad(_call(fn, leafs), leafs.tensors, g, create_graph=True)
        assert grads[0].requires_grad
        loss = sum((gi * grad_output(gi, seed=3 + i)).sum() for i, gi in enumerate(grads))
        # (allow_unused: a first-order gradient may not depend on the input, as a straight-through one's)
        return grads + torch.autograd.grad(loss, leafs.tensors + [g], allow_unused=True, materialize_grads=True)

    ours = second_order(row.op, s, g_data)
    theirs = second_order(row.ref, s, g_data)
    truth = second_order(row.ref, _float64(s), g_data.double())
    if row.backward_of_rounded_result is not None:
        truth = _second_order_truth_from_rounded_result(row, _call(row.op, s), g_data, ours[0])
    keep = ~torch.isnan(s.input.detach())
    n = len(s.tensors)
    tol = row.tolerances[dtype]
    # The second order in a reduced dtype is rounded twice, the first-order gradient it derives from and its own
    # result: two of the dtype's ulps from float64.
    tol2 = {k: 2 * v for k, v in tol.items()} if dtype in REDUCED_DTYPES else tol
    names = [f"grad {i}" for i in range(n)] + [f"d/d{i}" for i in range(n)] + ["d/dgrad_output"]
    elementwise = {0, n, 2 * n}  # of the input's shape: compared off NaN inputs
    for i, (name, a, b, t) in enumerate(zip(names, ours, theirs, truth)):
        if i in elementwise:
            a, b, t = a[keep], b[keep], t[keep]
        assert_close(a, t.to(a.dtype), **(tol if i < n else tol2), msg=lambda m: f"{name} vs float64: {m}")
        if i != n:
            assert_close(a, b, **tol, msg=lambda m: f"{name} vs torch: {m}")
    # d/dx against torch: ATen computes its derivative op by op in the input's dtype (softplus: sigmoid * (1 -
    # sigmoid), which cancels), a few of the dtype's eps of the largest term off; the float64 truth above holds ours
    # to the row's tolerance.
    dx, dx_torch = ours[n][keep], theirs[n][keep]
    atol = 8 * torch.finfo(dtype).eps * _largest(dx_torch, truth[n][keep])
    assert_close(dx, dx_torch, atol=atol, rtol=0, msg=lambda m: f"d/dx vs torch: {m}")


def _largest(*ts) -> float:
    """The largest finite magnitude in ts (at least 1)."""
    return max([float(t.detach().double().abs().nan_to_num(0, 0, 0).max()) if t.numel() else 0.0 for t in ts] + [1.0])


# --------------------------------------------------------------------------------------------
# Special values: zeros (and their sign), NaN, infinities, tiny and huge magnitudes, a few ulps from float64
# --------------------------------------------------------------------------------------------

@pytest.mark.parametrize("device", DEVICES)
@pytest.mark.parametrize("dtype", FLOAT_DTYPES)
@pytest.mark.parametrize("row,sample", _sample_params("special_samples"))
def test_special_values_forward(row, sample, dtype, device):
    s = row.special_samples[sample](dtype, device)
    out = _call(row.op, s)
    truth = _call(row.ref, _float64(s)).to(dtype)
    torch.testing.assert_close(out, truth, equal_nan=True, **ulp_tol(dtype))
    expected = _call(row.ref, s)
    assert_close(out, expected, **row.tolerances[dtype])
    if row.zero_signs_like_ref(*s.args):
        assert_same_zero_signs(out, truth)
        assert_same_zero_signs(out, expected)


@pytest.mark.parametrize("device", DEVICES)
@pytest.mark.parametrize("dtype", FLOAT_DTYPES)
@pytest.mark.parametrize("row,sample", _sample_params("special_samples"))
def test_special_values_backward(row, sample, dtype, device):
    s = row.special_samples[sample](dtype, device)
    x = s.input.detach().requires_grad_()
    g = torch.full_like(x, 0.75)
    (gx,) = torch.autograd.grad(_call(row.op, _with_tensors(s, [x] + s.tensors[1:])), x, g)
    x64 = s.input.detach().double().requires_grad_()
    (truth,) = torch.autograd.grad(_call(row.ref, _with_tensors(_float64(s), [x64] + _float64(s).tensors[1:])), x64,
                                   g.double())
    if row.backward_of_rounded_result is not None:
        (truth,) = _gradient_truth(row, s, g, _call(row.op, s))
    xr = s.input.detach().requires_grad_()
    (theirs,) = torch.autograd.grad(_call(row.ref, _with_tensors(s, [xr] + s.tensors[1:])), xr, g)
    _assert_gradient_at_nan_inputs(row, gx, x, theirs, "grad")
    keep = ~torch.isnan(x.detach())
    opts = ulp_tol(dtype)
    opts["atol"] *= 4  # exp() lands in the subnormal range near -88 (float32)
    if row.backward_condition is None:
        torch.testing.assert_close(gx[keep], truth.to(dtype)[keep], **opts)
    else:  # the ulp bound scaled by the formula's condition number at each input
        kappa = row.backward_condition(x.detach().double(), *s.args)[keep]
        err = (gx[keep].double() - truth.to(dtype)[keep].double()).abs()
        bound = opts["atol"] + opts["rtol"] * kappa * truth[keep].abs()
        assert bool((err <= bound).all()), (x[keep][err > bound], err[err > bound], bound[err > bound])
    assert_close(gx[keep], theirs[keep], **row.tolerances[dtype])


# --------------------------------------------------------------------------------------------
# In place: functional inplace=True and the layer's inplace=True against out of place
# --------------------------------------------------------------------------------------------

@pytest.mark.parametrize("api", ["functional", "module"])
@pytest.mark.parametrize("device", DEVICES)
@pytest.mark.parametrize("dtype", FLOAT_DTYPES)
@pytest.mark.parametrize("row,sample", _sample_params("parity_samples", keep=_writable))
def test_inplace_matches_out_of_place(row, sample, dtype, device, api):
    if api == "module" and "inplace" not in row.module.constants:
        pytest.skip(f"{row.module.name} takes no inplace argument")
    _check_inplace(row, row.parity_samples[sample](dtype, device), api == "module")


# --------------------------------------------------------------------------------------------
# gradcheck (reverse and forward mode) and gradgradcheck in float64, off the op's kinks
# --------------------------------------------------------------------------------------------

@pytest.mark.parametrize("inplace", [False, True], ids=["out_of_place", "inplace"])
@pytest.mark.parametrize("device", DEVICES)
@pytest.mark.parametrize("row,sample", _sample_params("gradcheck_samples"))
def test_gradcheck(row, sample, device, inplace):
    if inplace and row.inplace is None:
        pytest.skip("the row has no in-place op")
    s = row.gradcheck_samples[sample](torch.float64, device)
    if inplace and not row.inplace_backward_allowed(*s.args):
        pytest.skip(f"the in-place backward refuses {s.args} (tests/test_{row.family}.py checks the error)")
    leafs = _leafs(s)

    def fn(*tensors):
        t = _with_tensors(s, tensors)
        if inplace:
            return row.inplace(t.input.clone(), *t.args, **t.kwargs)
        return _call(row.op, t)

    assert torch.autograd.gradcheck(fn, tuple(leafs.tensors), check_forward_ad=True, check_backward_ad=True)
    assert torch.autograd.gradgradcheck(fn, tuple(leafs.tensors))


# --------------------------------------------------------------------------------------------
# torch.compile: fullgraph of the op and of its layer, dynamic shapes
# --------------------------------------------------------------------------------------------

@pytest.fixture
def fresh_dynamo():
    torch._dynamo.reset()
    yield
    torch._dynamo.reset()


def _seeded(fn, seed=0):
    """fn's result after torch.manual_seed(seed): a random row draws the same numbers in every run."""
    torch.manual_seed(seed)
    return fn()


@pytest.mark.usefixtures("fresh_dynamo")
@pytest.mark.parametrize("inplace", [False, True], ids=["out_of_place", "inplace"])
@pytest.mark.parametrize("device", DEVICES)
@pytest.mark.parametrize("row", _row_params())
def test_compile_fullgraph(row, device, inplace):
    if inplace and row.inplace is None:
        pytest.skip("the row has no in-place op")
    s = row.samples[row.small_sample](torch.float32, device)
    if inplace and not row.inplace_backward_allowed(*s.args):
        pytest.skip(f"the in-place backward refuses {s.args}")

    def make_fn(call):
        def fn(*tensors):
            t = _with_tensors(s, tensors)
            y = t.input.clone()  # a non-leaf, so that the in-place op is allowed under autograd
            return call(y, *t.args, **t.kwargs)

        return fn

    rec = GraphRecorder()
    compiled = torch.compile(make_fn(row.inplace if inplace else row.op), backend=rec.backend, fullgraph=True)
    leafs = _leafs(s)
    out = _seeded(lambda: compiled(*leafs.tensors))
    g = grad_output(out, seed=5)
    grads = torch.autograd.grad(out, leafs.tensors, g)

    # The reference: torch's (eager), or for a random row its own eager call under the same seed.
    ref_leafs = _leafs(s)
    ref = _seeded(lambda: make_fn(row.op if row.random else row.ref)(*ref_leafs.tensors))
    ref_grads = torch.autograd.grad(ref, ref_leafs.tensors, g)
    assert_close(out, ref)
    for a, b in zip(grads, ref_grads):
        assert_close(a, b)

    # The ops stay torch_ext's own in the traced graphs, forward and backward, and no ATen twin creeps in.
    assert len(rec.forward) == 1 and len(rec.backward) == 1
    fw, bw = rec.forward[0], rec.backward[0]
    # (celu and selu are composites over elu: their graphs call elu's ops; an in-place op is auto_functionalized)
    # (RReLU's in-place op is rrelu_with_noise_ in the graph)
    forward_ops = set(row.ops) - {row.backward_op} | {row.decomposed_op, (row.decomposed_op or "") + "_"}
    assert any(f"torch.ops.torch_ext.{op}.default" in fw for op in forward_ops if op), fw
    assert f"torch.ops.torch_ext.{row.backward_op}.default" in bw, bw
    forbidden = {name.replace("::", ".") for name in row.forbidden_aten}
    aten = graph_ops(rec.forward_graphs[0], "aten") | graph_ops(rec.backward_graphs[0], "aten")
    assert not (aten & forbidden), sorted(aten & forbidden)


@pytest.mark.usefixtures("fresh_dynamo")
@pytest.mark.parametrize("inplace", [False, True], ids=["out_of_place", "inplace"])
@pytest.mark.parametrize("device", DEVICES)
@pytest.mark.parametrize("row", _row_params())
def test_compile_module_fullgraph(row, device, inplace):
    if inplace and "inplace" not in row.module.constants:
        pytest.skip(f"{row.module.name} takes no inplace argument")
    kwargs = dict(row.module.ctor_kwargs, **({"inplace": True} if inplace else {}))

    def model(layer_cls):
        torch.manual_seed(0)
        # Two of the layer: the second call of each compiled graph reuses it.
        layers = [nn.Linear(8, 16), layer_cls(**kwargs), nn.Linear(16, 16), layer_cls(**kwargs), nn.Linear(16, 3)]
        m = nn.Sequential(*layers).to(device)
        return m.train(row.random)  # RReLU: training draws slopes, eval is the row's eval mode

    ext = model(row.module.cls)
    # The reference: torch's layer, or for a random row the same layer uncompiled under the same seed.
    ref = model(row.module.cls if row.random else row.module.torch_cls)
    compiled = torch.compile(ext, backend="aot_eager", fullgraph=True)
    x = make_input(lambda v: v((10, *row.module.inner_dims, 8)), torch.float32, device)
    for step in range(2):  # the second call reuses the compiled graph; gradients accumulate
        out = _seeded(lambda: compiled(x), step)
        out.square().sum().backward()
        ref_out = _seeded(lambda: ref(x), step)
        ref_out.square().sum().backward()
    torch.testing.assert_close(out, ref_out)
    for (name, p), (_, p_ref) in zip(ext.named_parameters(), ref.named_parameters()):
        torch.testing.assert_close(p.grad, p_ref.grad, msg=lambda m: f"{name}: {m}")


def _resized(shape, n: int, m: int) -> tuple:
    """shape with its first dim n and (from 2-D up) its last dim m: the dims the dynamic-shape test varies."""
    shape = list(shape)
    if shape:
        shape[0] = n
    if len(shape) >= 2:
        shape[-1] = m
    return tuple(shape)


@pytest.mark.usefixtures("fresh_dynamo")
@pytest.mark.parametrize("device", DEVICES)
@pytest.mark.parametrize("row", _row_params())
def test_compile_dynamic_shapes_no_recompile(row, device):
    s = row.samples[row.small_sample](torch.float32, device)
    counter = torch._dynamo.testing.CompileCounterWithBackend("aot_eager")

    def fn(x):
        return row.op(x, *s.args, **s.kwargs)

    compiled = torch.compile(fn, backend=counter, fullgraph=True, dynamic=True)
    shapes = [_resized(s.input.shape, n, m) for n, m in ((6, 7), (10, 11), (2, 17))]
    assert len(set(shapes)) > 1, s.input.shape
    frames = []
    for shape in shapes:
        x = make_input(lambda v: v(shape), torch.float32, device).requires_grad_()
        out = _seeded(lambda: compiled(x))
        frames.append(counter.frame_count)
        (grad,) = torch.autograd.grad(out.sum(), x)
        xr = x.detach().requires_grad_()
        ref = _seeded(lambda: (row.op if row.random else row.ref)(xr, *s.args, **s.kwargs))
        (ref_grad,) = torch.autograd.grad(ref.sum(), xr)
        assert_close(out, ref)
        assert_close(grad, ref_grad)
    # Compiled on the first shape, and not again (the first call may also compile an empty frame on its way in).
    assert frames[0] >= 1 and frames == [frames[0]] * len(shapes), frames


# --------------------------------------------------------------------------------------------
# The CPU kernels of each compiled ISA (ATEN_CPU_CAPABILITY), in a subprocess
# --------------------------------------------------------------------------------------------

# The parity layouts the ISA check runs (the vector body and tail, strided and broadcast views, channels_last).
ISA_LAYOUTS = ("odd_1d", "transposed", "sliced_step2", "channels_last", "expanded", "permuted_sliced")


def check_rows_under_this_isa() -> int:
    """Forward, backward and in place of every row with parity samples on the ISA_LAYOUTS samples, in every dtype
    (the checks of the parity tests); returns the number of samples checked."""
    checked = 0
    for row in op_db:
        if isinstance(row.parity_samples, OptOut):
            continue
        for name, make in row.parity_samples.items():
            if name.split("-")[0] not in ISA_LAYOUTS:
                continue
            for dtype in (p.values[0] for p in FLOAT_DTYPES):
                s = make(dtype, "cpu")
                out = _check_forward(row, s, dtype)
                _check_backward(row, s, dtype)
                if row.inplace is not None and torch._debug_has_internal_overlap(s.input) != 1:
                    _check_inplace(row, s, module=False)
                del out
                checked += 1
    return checked


_ISA_SCRIPT = textwrap.dedent(
    """
    import sys
    import torch
    import torch_ext
    from test_op_db import check_rows_under_this_isa

    want = sys.argv[1]
    assert torch.backends.cpu.get_cpu_capability() == want, torch.backends.cpu.get_cpu_capability()
    info = torch_ext.build_info()
    assert info["cpu_capability"] == want, (info["cpu_capability"], want)
    checked = check_rows_under_this_isa()
    assert checked > 0
    print(f"checked {checked} samples")
    print("OK")
    """
)


@pytest.mark.parametrize("isa", ["default", "avx2", "avx512"])
def test_cpu_isa_kernels(isa):
    """Each compiled CPU kernel (the ISA picked by ATEN_CPU_CAPABILITY) against PyTorch's, in a subprocess."""
    run_with_cpu_isa(isa, _ISA_SCRIPT)


# --------------------------------------------------------------------------------------------
# CUDA graph capture: the kernels run on the current stream (a launch on the legacy default stream fails)
# --------------------------------------------------------------------------------------------

@requires_cuda
@pytest.mark.parametrize("row", _row_params())
def test_cuda_graph_capture(row):
    if row.random:
        pytest.skip("random: tests/test_rrelu.py::test_cuda_graph_capture_new_slopes_each_replay")
    make = next(iter(row.large_samples.values()))
    s = make(torch.float32, "cuda")
    static = _leafs(s)
    static_g = torch.ones_like(_call(row.op, s))
    side = torch.cuda.Stream()
    side.wait_stream(torch.cuda.current_stream())
    with torch.cuda.stream(side):
        for _ in range(2):  # warm up
            torch.autograd.grad(_call(row.op, static), static.tensors, static_g)
    torch.cuda.current_stream().wait_stream(side)
    graph = torch.cuda.CUDAGraph()
    with torch.cuda.graph(graph):
        static_y = _call(row.op, static)
        static_grads = torch.autograd.grad(static_y, static.tensors, static_g)
        if row.inplace is not None:
            static_z = static.input.detach().clone()
            row.inplace(static_z, *static.args, **static.kwargs)
    for seed in (11, 12):
        new = make_input(lambda v: v(s.input.shape), torch.float32, "cuda", seed=seed)
        with torch.no_grad():
            static.input.copy_(new)
        graph.replay()
        torch.cuda.synchronize()
        fresh = _with_tensors(static, [new] + static.tensors[1:])
        # The replay gives what an eager call gives, bit for bit, and torch's result (as the eager tests hold it).
        eager = _leafs(fresh)
        eager_y = _call(row.op, eager)
        assert_bitwise_equal(static_y, eager_y, "replay vs eager")
        for a, b in zip(static_grads, torch.autograd.grad(eager_y, eager.tensors, static_g)):
            assert_bitwise_equal(a, b, "replay vs eager, gradient")
        ref = _leafs(fresh)
        ref_y = _call(row.ref, ref)
        assert_close(static_y, ref_y)
        for a, b in zip(static_grads, torch.autograd.grad(ref_y, ref.tensors, static_g)):
            assert_close(a, b)
        if row.inplace is not None:
            assert_bitwise_equal(static_z, eager_y, "in-place replay vs eager out of place")
