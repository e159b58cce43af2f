"""Autograd contracts every op keeps, over the op table's rows (torch_ext.testing.op_db, each row's AutogradInfo: CASES
and BACKWARD_OPS):
- forward-mode AD (and of the backward ops): torch.func.jvp, jacfwd and torch.autograd.forward_ad against torch's on
  the same inputs, in every dtype and device; numerical checks of the tangents in float64; and the clear refusal of
  the one combination not supported (a tangent on an input that also records a reverse-mode graph, as
  forward-over-reverse needs);
- a NaN input gives a NaN gradient, first and second order, in the vectorized body and the scalar tail;
- torch.vmap runs the ops' batching rules (torch_ext/_vmap.py), never PyTorch's looping fallback (disabled here):
  vmap, and jacfwd, which vmaps the tangents through the backward ops."""

import contextlib
import math
from dataclasses import dataclass
from typing import Callable

import pytest
import torch
import torch.autograd.forward_ad as fwAD
import torch.nn.functional as F

import torch_ext.functional as TF
from torch_ext._vmap import BATCHED_OPS
from torch_ext.testing import OptOut, op_db
from torch_ext.testing.op_db import OpInfo, SampleInput
from common_utils import DEVICES, FLOAT_DTYPES, REDUCED_DTYPES, assert_close, away_from_zero_values, normal_values

SHAPE = (4, 3, 5)
PRELU_WEIGHT = torch.tensor([0.25, -0.5, 0.125], dtype=torch.float64)


@dataclass
class Case:
    """A call of a row's op (in place: of its in-place op) as f(x), the twin as ref(x), and `name`, the op a
    refusal names."""

    id: str
    row: OpInfo
    name: str
    ours: Callable
    ref: Callable
    inplace: bool = False


def _weight(x):
    return PRELU_WEIGHT.to(device=x.device, dtype=x.dtype)


def _cases(row) -> list:
    """The row's cases (its AutogradInfo): one per entry of args, and the in-place op on the first one's."""
    info = row.autograd
    twin = info.twin or row.ref
    name = info.refused_as or row.decomposed_op or row.forward_op
    cases = []
    for key, args in info.args.items():
        case_id = row.name + (f"_{key}" if key else "")
        cases.append(Case(case_id, row, name, lambda x, args=args: row.op(x, *args(x)),
                          lambda x, args=args: twin(x, *args(x))))
    if row.inplace is not None:
        args = next(iter(info.args.values()))
        # (a composite's in-place op, celu_ and selu_, is its decomposed op's)
        inplace_name = name + "_" if info.refused_as or row.decomposed_op else row.inplace_op
        cases.append(Case(row.name + "_", row, inplace_name, lambda x: row.inplace(x.clone(), *args(x)),
                          lambda x: twin(x.clone(), *args(x)), inplace=True))
    return cases


# Every row's cases; a row that opts out (OptOut: tests/test_ops.py::test_every_row_fills_the_table_fields holds it
# to a reason) is one skipped case.
CASES = [c for row in op_db if not isinstance(row.autograd, OptOut) for c in _cases(row)]
CASE_PARAMS = [pytest.param(c, id=c.id) for c in CASES] + [
    pytest.param(None, id=row.name, marks=pytest.mark.skip(reason=row.autograd.reason))
    for row in op_db if isinstance(row.autograd, OptOut)]


def _inputs(device, dtype, seed=0):
    x = normal_values(SHAPE, seed=seed).to(device=device, dtype=dtype)
    t = normal_values(SHAPE, seed=seed + 1, std=1.0).to(device=device, dtype=dtype)
    return x, t


def _tangent_tol(dtype):
    # The tangent multiplies t by the op's derivative: a rounding of each, in the reduced types one ulp more
    # where torch rounds an intermediate (the derivative) to the dtype and we do not.
    return dict(rtol=2 * torch.finfo(dtype).eps, atol=2 * torch.finfo(dtype).eps) if dtype in REDUCED_DTYPES else {}


@contextlib.contextmanager
def vmap_fallback(enabled: bool):
    """PyTorch's vmap fallback (a loop over the batch) on or off: off, an op without a batching rule raises."""
    torch._C._functorch._set_vmap_fallback_enabled(enabled)
    try:
        yield
    finally:
        torch._C._functorch._set_vmap_fallback_enabled(True)


@pytest.mark.parametrize("device", DEVICES)
@pytest.mark.parametrize("dtype", FLOAT_DTYPES)
@pytest.mark.parametrize("case", CASE_PARAMS)
class TestTangents:
    def test_func_jvp(self, case, device, dtype):
        x, t = _inputs(device, dtype)
        out, tangent = torch.func.jvp(case.ours, (x,), (t,))
        ref_out, ref_tangent = torch.func.jvp(case.ref, (x,), (t,))
        assert_close(out, ref_out)
        assert tangent.abs().sum() > 0  # not the silent zeros of before
        assert_close(tangent, ref_tangent, **_tangent_tol(dtype))

    def test_forward_ad_dual_tensors(self, case, device, dtype):
        x, t = _inputs(device, dtype)
        with fwAD.dual_level():
            out = fwAD.unpack_dual(case.ours(fwAD.make_dual(x, t)))
            ref = fwAD.unpack_dual(case.ref(fwAD.make_dual(x, t)))
        assert out.tangent is not None and out.tangent.dtype == ref.tangent.dtype
        assert_close(out.primal, ref.primal)
        assert_close(out.tangent, ref.tangent, **_tangent_tol(dtype))

    def test_jacfwd(self, case, device, dtype):
        if dtype in REDUCED_DTYPES:
            pytest.skip("jacfwd in float32 and float64 (the tangents above cover the reduced types)")
        x, _ = _inputs(device, dtype)
        x = x[:2, :, :3]
        with vmap_fallback(False):
            assert_close(torch.func.jacfwd(case.ours, randomness="different")(x), torch.func.jacfwd(case.ref)(x))

    @pytest.mark.parametrize("in_dim", [0, 2])
    def test_vmap(self, case, device, dtype, in_dim):
        x = normal_values((2,) + SHAPE, seed=3).movedim(0, in_dim).to(device=device, dtype=dtype)
        with vmap_fallback(False):
            out = torch.vmap(case.ours, in_dims=in_dim, randomness="different")(x)
        assert_close(out, torch.vmap(case.ref, in_dims=in_dim)(x))


@pytest.mark.parametrize("device", DEVICES)
@pytest.mark.parametrize("case", CASE_PARAMS)
def test_gradcheck_forward_ad(case, device):
    if isinstance(case.row.gradcheck_samples, OptOut):  # gradcheck does not apply to the row (a surrogate gradient)
        pytest.skip(case.row.gradcheck_samples.reason)
    x = away_from_zero_values((2, 3, 4)).to(device).requires_grad_()
    assert torch.autograd.gradcheck(case.ours, (x,), check_forward_ad=True, check_batched_forward_grad=False)


@pytest.mark.parametrize("device", DEVICES)
def test_prelu_weight_tangent(device):
    x, t = _inputs(device, torch.float64)
    w, tw = _weight(x), torch.tensor([1.0, -2.0, 0.5], dtype=torch.float64, device=device)
    out, tangent = torch.func.jvp(TF.prelu, (x, w), (t, tw))
    ref_out, ref_tangent = torch.func.jvp(F.prelu, (x, w), (t, tw))
    assert_close(out, ref_out)
    assert_close(tangent, ref_tangent)
    xw = (x.detach().requires_grad_(), w.detach().requires_grad_())
    assert torch.autograd.gradcheck(TF.prelu, xw, check_forward_ad=True, check_batched_forward_grad=False)


def _backward_calls(row) -> dict:
    """{id: f(grad_output, b)}: every call of the row's backward op in its op_calls (the table's calls of every
    registered op), on a sample of input b with the row's autograd arguments; b is the forward input, or the input of a
    forward whose output the backward op reads (op_calls computes it)."""
    args = next(iter(row.autograd.args.values()))

    def call(i):
        def f(g, b):
            return row.op_calls(SampleInput(b, args(b)), g, lambda t: t.clone())[i][1]()

        return f

    probe = torch.zeros(2, 3, 4)
    names = [name for name, _ in row.op_calls(SampleInput(probe, args(probe)), probe, lambda t: t.clone())]
    indices = [i for i, name in enumerate(names) if name == row.backward_op]
    return {f"{row.name}-{row.backward_op}" + (f"-{k}" if len(indices) > 1 else ""): call(i)
            for k, i in enumerate(indices)}


# The backward ops (what a forward-over-reverse or a jacfwd of a gradient reaches), each as f(grad_output, b), from
# every row with its own kernels (a row of another's kernels, kernels_of, calls that row's backward op).
BACKWARD_OPS = {k: f for row in op_db if not isinstance(row.autograd, OptOut) and row.kernels_of is None
                for k, f in _backward_calls(row).items()}
# RReLU in training: the noise as a differentiable argument too (op_calls draws it, with no gradient).
BACKWARD_OPS["rrelu_backward-noise"] = lambda g, b: torch.ops.torch_ext.rrelu_backward(g, None, b.abs() * 0.5, 0.1,
                                                                                      0.3, True, False)


@pytest.mark.parametrize("device", DEVICES)
@pytest.mark.parametrize("name", list(BACKWARD_OPS))
def test_backward_op_gradcheck_forward_ad(name, device):
    g = normal_values((2, 3, 4), seed=2).to(device).requires_grad_()
    b = away_from_zero_values((2, 3, 4)).to(device).requires_grad_()
    assert torch.autograd.gradcheck(BACKWARD_OPS[name], (g, b), check_forward_ad=True, check_batched_forward_grad=False)


@pytest.mark.parametrize("device", DEVICES)
@pytest.mark.parametrize("case", CASE_PARAMS)
def test_tangent_on_an_input_that_requires_grad(case, device):
    # Dual tensors whose primals require grad (a model's activations under forward_ad, its parameters requiring
    # grad): the tangent and, once the dual level is closed, the gradient are torch's. A gradient computed inside
    # the level (forward-over-reverse would read the tangents the saved inputs lost) is refused, naming the op; so
    # is such a tangent on an in-place op's input.
    x, t = _inputs(device, torch.float64)
    g = normal_values(SHAPE, seed=5).to(device=device, dtype=torch.float64)
    leaf, ref_leaf = x.clone().requires_grad_(), x.clone().requires_grad_()
    with fwAD.dual_level():
        if case.inplace:
            with pytest.raises(RuntimeError, match=rf"^{case.name}: forward-mode AD .* not supported in place"):
                case.ours(fwAD.make_dual(leaf * 1, t))
            return
        out = fwAD.unpack_dual(case.ours(fwAD.make_dual(leaf * 1, t)))
        ref = fwAD.unpack_dual(case.ref(fwAD.make_dual(ref_leaf * 1, t)))
        assert_close(out.tangent, ref.tangent)
        with pytest.raises(RuntimeError, match=rf"^{case.name}: a gradient computed inside the forward-AD level"):
            torch.autograd.grad(case.ours(fwAD.make_dual(leaf * 1, t)), leaf, g)
    assert_close(torch.autograd.grad(out.primal, leaf, g)[0], torch.autograd.grad(ref.primal, ref_leaf, g)[0])
    with pytest.raises(RuntimeError, match="not supported"):
        torch.autograd.gradgradcheck(case.ours, (x.requires_grad_(),), check_fwd_over_rev=True)


def test_issue_example():
    # The report's own case: the tangent of ELU at x in direction 1 is ELU's derivative, not zeros.
    x, t = torch.randn(5, dtype=torch.double), torch.ones(5, dtype=torch.double)
    assert_close(torch.func.jvp(TF.elu, (x,), (t,))[1], torch.func.jvp(F.elu, (x,), (t,))[1])


# Sizes: the scalar tail alone, and vector bodies with a tail (NaN at the start, in the middle and at the end).
NAN_SIZES = [5, 67, 1031]


@pytest.mark.parametrize("device", DEVICES)
@pytest.mark.parametrize("dtype", FLOAT_DTYPES)
@pytest.mark.parametrize("n", NAN_SIZES)
@pytest.mark.parametrize("case", CASE_PARAMS)
def test_nan_input_gives_nan_gradient(case, n, dtype, device):
    if not case.row.nan_gradient_at_nan_input:
        pytest.skip("ATen's (or the reference's) gradient at NaN (tests/test_op_db.py::test_backward_parity)")
    # Shape [n, 3] (PReLU's 3 channels; a layer that takes only some ranks gets its inner dims after n): 3n
    # elements in memory (times the inner dims), NaN in rows 0, n // 2 and n - 1.
    shape = (n, *case.row.module.inner_dims, 3)
    x = normal_values(shape, seed=n).to(device=device, dtype=dtype)
    nan_at = ([0, n // 2, n - 1], [1, 2, 0])
    x[nan_at] = math.nan
    x.requires_grad_()
    g = normal_values(shape, seed=n + 1, std=1.0).to(device=device, dtype=dtype)
    (gx,) = torch.autograd.grad(case.ours(x), x, g, create_graph=True)
    assert bool(torch.isnan(gx[nan_at]).all()), gx[nan_at]
    if case.row.autograd.elementwise:  # the other gradients stay finite
        assert bool(torch.isfinite(gx[~torch.isnan(x.detach())]).all())
    if case.row.random:
        return  # the gradient, g * noise, reads x only through the (non-differentiable) noise: no second order
    (ggx,) = torch.autograd.grad(gx, x, torch.ones_like(gx), allow_unused=True, materialize_grads=True)
    assert bool(torch.isnan(ggx[nan_at]).all()), ggx[nan_at]


def test_every_op_has_a_batching_rule():
    # The out= overloads are not vmapped (nor are ATen's): the default overloads, functional and in place, are.
    ops = {name for name in torch._C._dispatch_get_all_op_names() if name.startswith("torch_ext::") and "." not in name}
    assert ops == BATCHED_OPS


PRELU_VMAP_CASES = [  # (x shape, weight shape, x's batch dim, weight's batch dim)
    pytest.param((2, 4, 3, 5), (3,), 0, None, id="x"),
    pytest.param((4, 2, 3, 5), (3,), 1, None, id="x_dim1"),
    pytest.param((2, 4, 3, 5), (2, 3), 0, 0, id="x_and_weight"),
    pytest.param((4, 3, 5), (2, 3), None, 0, id="weight"),
    pytest.param((4, 3, 2), (3, 2), None, 1, id="weight_dim1"),
    pytest.param((2, 4, 3), (1,), 0, None, id="x_one_weight"),
    pytest.param((2, 4, 3), (2, 1), 0, 0, id="x_and_one_weight"),
    pytest.param((2, 5), (2, 1), 0, 0, id="1d_slices"),
    pytest.param((2,), (2, 1), 0, 0, id="0d_slices"),
]


@pytest.mark.parametrize("device", DEVICES)
@pytest.mark.parametrize("x_shape, w_shape, x_dim, w_dim", PRELU_VMAP_CASES)
def test_vmap_prelu_and_its_backward(x_shape, w_shape, x_dim, w_dim, device):
    # The channel dim takes the batch (see torch_ext/_vmap.py); against torch's prelu under vmap, and the backward op
    # against itself under PyTorch's loop (each sample's weight gradient summed over that sample alone).
    x = normal_values(x_shape, seed=5).to(device)
    w = normal_values(w_shape, seed=6).to(device)
    ref = torch.vmap(F.prelu, in_dims=(x_dim, w_dim))(x, w)
    g = normal_values(ref.shape, seed=7).to(device)
    backward = torch.ops.torch_ext.prelu_backward
    looped = torch.vmap(backward, in_dims=(0, x_dim, w_dim))(g, x, w)
    with vmap_fallback(False):
        out = torch.vmap(TF.prelu, in_dims=(x_dim, w_dim))(x, w)
        grads = torch.vmap(backward, in_dims=(0, x_dim, w_dim))(g, x, w)
    assert_close(out, ref, rtol=0, atol=0)
    assert_close(grads[0], looped[0], rtol=0, atol=0)
    assert grads[1].shape == looped[1].shape
    assert_close(grads[1], looped[1])


def test_vmap_random_ops_follow_the_randomness_flag():
    x = torch.randn(3, 8)
    for fn in (lambda t: TF.rrelu(t, training=True), lambda t: TF.rrelu(t.clone(), training=True, inplace=True)):
        with pytest.raises(RuntimeError, match="randomness error mode"):
            torch.vmap(fn)(x)
        with pytest.raises(RuntimeError, match="randomness='same'"):
            torch.vmap(fn, randomness="same")(x)
        out = torch.vmap(fn, randomness="different")(-x.abs() - 1)
        slopes = out / (-x.abs() - 1)
        assert not torch.equal(slopes[0], slopes[1])  # each slice draws its own
        assert bool(((slopes >= 1 / 8) & (slopes <= 1 / 3)).all())
    assert torch.equal(torch.vmap(TF.rrelu)(x), F.rrelu(x))  # eval draws nothing


def test_vmap_softmax_dims_are_the_slices():
    x = torch.randn(3, 4, 5)
    with vmap_fallback(False):
        for dim in (-2, -1, 0, 1):
            assert_close(torch.vmap(lambda t: TF.softmax(t, dim))(x), torch.vmap(lambda t: F.softmax(t, dim))(x))
        # A slice of one element (logical 0-d): its own softmax, 1 (log_softmax 0).
        assert_close(torch.vmap(lambda t: TF.softmax(t, 0))(x[:, 0, 0]), torch.ones(3))
        assert_close(torch.vmap(lambda t: TF.log_softmax(t, -1))(x[:, 0, 0]), torch.zeros(3))
        with pytest.raises(IndexError, match=r"range of \[-2, 1\], but got 2"):
            torch.vmap(lambda t: TF.softmax(t, 2))(x)
